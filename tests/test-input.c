/* test-input.c -- end-to-end tests of the input bounds (docs/security.md,
 * "Input bounds") against the real ccrouted: strings that are not UTF-8
 * or hide a NUL byte are refused with INVALID_FIELD naming the field and
 * the connection stays usable; a multilingual contact is routed and its
 * attributes reach the agent intact; the attribute quotas; a Stats reply
 * that a strict decoder can read; the maximum contact age.
 *
 * A strict decoder: protobuf-c (our client library) does not check UTF-8,
 * so "decodable by a standard client" is asserted by running every string
 * of what the engine sent through the engine's own strict check
 * (validate_strings) on the re-packed bytes -- the check other protobuf
 * runtimes (Python, Java, Go) make when they decode a `string`.
 *
 * Synchronisation is always "wait for this message, with a timeout".
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "e2e-util.h"
#include "error.h"
#include "frame.h"
#include "validate.h"

#define T_MS E2E_T_MS
#define BODY(x) E2E_BODY(x)
#define EC(x) E2E_EC(x)
#define ROLE(x) E2E_ROLE(x)

static const char *config_text_base =
    "log_level: info\n"
    "redis: {enabled: false}\n"
    "routing: {offer_timeout: 20s, max_agents: 100, max_contacts: 1000,\n"
    "          max_attributes: 4, max_attribute_bytes: 256,\n"
    "          max_contact_age: %s}\n"
    "skills: [sales]\n"
    "queues:\n"
    "  - name: sales\n"
    "    skills: {sales: 1}\n"
    "    channels: [voice, chat]\n";

typedef struct e2e_env fx_t;

static void config_text(char *buf, size_t len, int redis_port,
                        const void *age)
{
    snprintf(buf, len, config_text_base, (const char *)age);
}

static int setup(void **state)
{
    return e2e_env_start(state, false, config_text, "4h");
}

static int setup_short_age(void **state)
{
    return e2e_env_start(state, false, config_text, "500ms");
}

/* Sends env and expects an Error with `code`; returns its message (the
 * caller frees the envelope through *keep). */
static const char *expect_error(struct e2e_client *c, ccr_envelope *env,
                                int code, ccr_envelope **keep)
{
    env->request_id = 0;
    assert_int_equal(ccr_client_send(c->c, env), 0);
    ccr_envelope *e = e2e_wait(c, BODY(ERROR), env->request_id, T_MS);
    if (!e)
        fail_msg("no Error for request %llu",
                 (unsigned long long)env->request_id);
    assert_int_equal(e->error->code, code);
    *keep = e;
    return e->error->message;
}

/* Asserts that every string in env is valid UTF-8 without NUL: what a
 * strict protobuf runtime needs to decode it. */
static void assert_strict_decodable(const ccr_envelope *env)
{
    size_t len = ccroute__v1__envelope__get_packed_size(env);
    uint8_t *buf = malloc(len ? len : 1);
    char msg[256] = "";
    assert_non_null(buf);
    ccroute__v1__envelope__pack(env, buf);
    if (validate_strings(&ccroute__v1__envelope__descriptor, buf, len, NULL,
                         msg, sizeof(msg)) < 0)
        fail_msg("the engine sent a string a strict decoder refuses: %s",
                 msg);
    free(buf);
}

static Ccroute__V1__ContactArrived contact_msg(const char *id,
                                               Ccroute__V1__Attribute **ap,
                                               size_t n)
{
    Ccroute__V1__ContactArrived m = CCROUTE__V1__CONTACT_ARRIVED__INIT;
    m.contact_id = (char *)id;
    m.queue = "sales";
    m.channel = E2E_VOICE;
    m.attributes = ap;
    m.n_attributes = n;
    return m;
}

/* ---- tests ---- */

/* Invalid UTF-8 in an attribute value, an agent id and a skill is refused
 * with INVALID_FIELD naming the field; nothing is created, and the same
 * connection goes on working. */
static void test_invalid_utf8_refused(void **state)
{
    fx_t *f = *state;
    struct e2e_client *sw = e2e_env_dial_hello(f, "switch-1", ROLE(SWITCH));
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT, *err;
    Ccroute__V1__Attribute a = CCROUTE__V1__ATTRIBUTE__INIT;
    Ccroute__V1__Attribute *ap[1] = {&a};
    a.key = "note";
    a.value = "caf\xe9";                        /* Latin-1, not UTF-8 */
    Ccroute__V1__ContactArrived m = contact_msg("c1", ap, 1);
    env.body_case = BODY(CONTACT_ARRIVED);
    env.contact_arrived = &m;
    assert_string_equal(expect_error(sw, &env, EC(INVALID_FIELD), &err),
                        "ContactArrived.attributes[0].value is not valid "
                        "UTF-8 (byte 3)");
    ccr_free(err);

    /* an agent id with an overlong '/' */
    Ccroute__V1__AgentLogin l = CCROUTE__V1__AGENT_LOGIN__INIT;
    l.agent_id = "a\xc0\xaf" "7";
    env.body_case = BODY(AGENT_LOGIN);
    env.agent_login = &l;
    assert_string_equal(expect_error(sw, &env, EC(INVALID_FIELD), &err),
                        "AgentLogin.agent_id is not valid UTF-8 (byte 1)");
    ccr_free(err);

    /* nothing was made of them; the connection still works */
    ccr_envelope *st = e2e_stats(sw);
    assert_int_equal(st->stats->agents_logged_in, 0);
    assert_int_equal(st->stats->contacts_waiting, 0);
    assert_strict_decodable(st);
    ccr_free(st);
    a.value = "caf\xc3\xa9";
    env.body_case = BODY(CONTACT_ARRIVED);
    env.contact_arrived = &m;
    assert_int_equal(e2e_call(sw, &env, T_MS), 0);
    assert_int_equal(e2e_agent_login(sw, "a7", "sales", 1, 1, 0), 0);
    e2e_hang_up(sw);
}

/* Hello with a client name that is not UTF-8: INVALID_FIELD, and a valid
 * Hello on the same connection is accepted. */
static void test_invalid_client_name(void **state)
{
    fx_t *f = *state;
    struct e2e_client c = {0};
    char msg[256];
    assert_int_equal(e2e_open(&c, f->d.port), 0);
    assert_int_equal(e2e_hello(&c, "desk\xed\xa0\x80", ROLE(AGENT), false,
                               msg, sizeof(msg), T_MS), EC(INVALID_FIELD));
    assert_string_equal(msg, "Hello.client_name is not valid UTF-8 "
                             "(byte 4)");
    assert_int_equal(e2e_hello(&c, "desk-\xe6\x97\xa5", ROLE(AGENT), false,
                               msg, sizeof(msg), T_MS), 0);
    assert_int_equal(e2e_agent_login(&c, "a1", "sales", 1, 1, 0), 0);
    e2e_close(&c);
}

/* An id with a NUL byte inside: protobuf-c would hand "ab" to the engine;
 * the frame is refused instead, and nothing named "ab" exists. */
static void test_nul_in_id_refused(void **state)
{
    fx_t *f = *state;
    struct e2e_client *ag = e2e_env_dial_hello(f, "desk-1", ROLE(AGENT));
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__AgentLogin l = CCROUTE__V1__AGENT_LOGIN__INIT;
    l.agent_id = "abZcd";
    env.request_id = 900001;
    env.body_case = BODY(AGENT_LOGIN);
    env.agent_login = &l;
    size_t plen = ccroute__v1__envelope__get_packed_size(&env);
    uint8_t frame[256];
    size_t hl = frame_varint_put(plen, frame);
    ccroute__v1__envelope__pack(&env, frame + hl);
    uint8_t *z = memchr(frame + hl, 'Z', plen);
    assert_non_null(z);
    *z = 0;
    assert_int_equal(ccr_client_send_raw(ag->c, frame, hl + plen), 0);
    ccr_envelope *e = e2e_wait(ag, BODY(ERROR), 900001, T_MS);
    assert_non_null(e);
    assert_int_equal(e->error->code, EC(INVALID_FIELD));
    assert_string_equal(e->error->message, "AgentLogin.agent_id contains a "
                                           "NUL byte (byte 2)");
    ccr_free(e);
    ccr_envelope *st = e2e_stats(ag);
    assert_int_equal(st->stats->agents_logged_in, 0);
    ccr_free(st);
    assert_int_equal(e2e_agent_login(ag, "ab", "sales", 1, 1, 0), 0);
    e2e_hang_up(ag);
}

/* A contact in several scripts is routed, and its Offer carries the
 * attributes byte for byte; the Stats reply with multilingual ids is
 * readable by a strict decoder. */
static void test_multilingual_contact(void **state)
{
    fx_t *f = *state;
    struct e2e_client *sw =
        e2e_env_dial_hello(f, "switch-\xc3\xa9", ROLE(SWITCH));
    struct e2e_client *ag = e2e_env_dial_hello(f, "desk-1", ROLE(AGENT));
    static const char *const kv[4][2] = {
        {"nombre", "Jos\xc3\xa9 Mu\xc3\xb1oz"},
        {"\xe5\x90\x8d\xe5\x89\x8d", "\xe5\xb1\xb1\xe7\x94\xb0"},  /* 名前 山田 */
        {"\xd8\xa7\xd8\xb3\xd9\x85", "\xd8\xb9\xd9\x84\xd9\x8a"},  /* Arabic */
        {"mood", "\xf0\x9f\x98\x80 U+10FFFF:\xf4\x8f\xbf\xbf"},
    };
    Ccroute__V1__Attribute a[4];
    Ccroute__V1__Attribute *ap[4];
    for (int i = 0; i < 4; i++) {
        ccroute__v1__attribute__init(&a[i]);
        a[i].key = (char *)kv[i][0];
        a[i].value = (char *)kv[i][1];
        ap[i] = &a[i];
    }
    const char *aid = "agent-\xe5\xb1\xb1\xe7\x94\xb0";
    assert_int_equal(e2e_agent_login(ag, aid, "sales", 1, 1, 0), 0);
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactArrived m = contact_msg("llamada-\xc3\xb1", ap, 4);
    env.body_case = BODY(CONTACT_ARRIVED);
    env.contact_arrived = &m;
    assert_int_equal(e2e_call(sw, &env, T_MS), 0);
    ccr_envelope *o = e2e_wait_offer(ag, "llamada-\xc3\xb1", T_MS);
    assert_non_null(o);
    assert_string_equal(o->offer->agent_id, aid);
    assert_int_equal(o->offer->n_attributes, 4);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(o->offer->attributes[i]->key, kv[i][0]);
        assert_string_equal(o->offer->attributes[i]->value, kv[i][1]);
    }
    assert_strict_decodable(o);
    ccr_free(o);
    ccr_envelope *st = e2e_stats(sw);
    assert_non_null(e2e_stats_agent(st, aid));
    assert_strict_decodable(st);
    ccr_free(st);
    e2e_hang_up(ag);
    e2e_hang_up(sw);
}

/* A ContactArrived carrying unknown fields (one at its top level, one
 * inside an attribute) is routed, and the Offer's attributes carry none
 * of them: the engine keeps the request as it arrived only when it is
 * already what protobuf-c packs, else its decoding with the unknown
 * fields stripped (encode_canonical, validate_strip_unknown). */
static void test_unknown_fields_not_passed_on(void **state)
{
    fx_t *f = *state;
    struct e2e_client *sw = e2e_env_dial_hello(f, "switch-1", ROLE(SWITCH));
    struct e2e_client *ag = e2e_env_dial_hello(f, "desk-1", ROLE(AGENT));
    static const uint8_t body[] = {
        0x0a, 2, 'u', '1',                          /* contact_id "u1" */
        0x1a, 5, 's', 'a', 'l', 'e', 's',           /* queue "sales" */
        0x5a, 8, 0x0a, 1, 'k', 0x12, 1, 'v',        /* attribute k=v ... */
        0x18, 7,                                    /* ... field 3 = 7 */
        0x78, 1,                                    /* field 15 = 1 */
    };
    uint8_t frame[64];
    size_t n = 0;
    frame[n++] = (uint8_t)(2 + 2 + sizeof(body));   /* Envelope length */
    frame[n++] = 0x08;                              /* request_id 77 */
    frame[n++] = 77;
    frame[n++] = 0x5a;                              /* contact_arrived */
    frame[n++] = (uint8_t)sizeof(body);
    memcpy(frame + n, body, sizeof(body));
    n += sizeof(body);

    assert_int_equal(e2e_agent_login(ag, "a1", "sales", 1, 1, 0), 0);
    assert_int_equal(ccr_client_send_raw(sw->c, frame, n), 0);
    ccr_envelope *ack = e2e_wait(sw, BODY(ACK), 77, T_MS);
    assert_non_null(ack);
    ccr_free(ack);
    ccr_envelope *o = e2e_wait_offer(ag, "u1", T_MS);
    assert_non_null(o);
    assert_int_equal(o->offer->base.n_unknown_fields, 0);
    assert_int_equal(o->offer->n_attributes, 1);
    assert_string_equal(o->offer->attributes[0]->key, "k");
    assert_string_equal(o->offer->attributes[0]->value, "v");
    assert_int_equal(o->offer->attributes[0]->base.n_unknown_fields, 0);
    ccr_free(o);
    e2e_hang_up(ag);
    e2e_hang_up(sw);
}

/* The configured quotas: at most 4 attributes, 256 bytes of keys and
 * values; at the bounds accepted, one past refused with INVALID_FIELD. */
static void test_attribute_quota(void **state)
{
    fx_t *f = *state;
    struct e2e_client *sw = e2e_env_dial_hello(f, "switch-1", ROLE(SWITCH));
    char big[200];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    Ccroute__V1__Attribute a[5];
    Ccroute__V1__Attribute *ap[5];
    for (int i = 0; i < 5; i++) {
        ccroute__v1__attribute__init(&a[i]);
        a[i].key = "k";
        a[i].value = "v";
        ap[i] = &a[i];
    }
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT, *err;
    Ccroute__V1__ContactArrived m = contact_msg("q1", ap, 5);
    env.body_case = BODY(CONTACT_ARRIVED);
    env.contact_arrived = &m;
    assert_string_equal(expect_error(sw, &env, EC(INVALID_FIELD), &err),
                        "ContactArrived.attributes: 5 attributes, at most 4 "
                        "are allowed");
    ccr_free(err);
    m.n_attributes = 4;
    assert_int_equal(e2e_call(sw, &env, T_MS), 0);
    /* 1 + 199 + 3 x 2 = 206 bytes; then 256 exactly (51 + 1 for the
     * second); then 257 */
    m.contact_id = "q2";
    a[0].value = big;
    assert_int_equal(e2e_call(sw, &env, T_MS), 0);
    m.contact_id = "q3";
    a[1].value = "x";
    a[1].key = "k01234567890123456789012345678901234567890123456789";
    assert_int_equal(e2e_call(sw, &env, T_MS), 0);      /* 256 */
    m.contact_id = "q4";
    a[2].value = "vv";
    assert_string_equal(expect_error(sw, &env, EC(INVALID_FIELD), &err),
                        "ContactArrived.attributes: 257 bytes of keys and "
                        "values, at most 256 are allowed");
    ccr_free(err);
    ccr_envelope *st = e2e_stats(sw);
    assert_int_equal(st->stats->contacts_waiting, 3);
    ccr_free(st);
    e2e_hang_up(sw);
}

/* With max_contact_age 500ms a contact that no agent serves ends as
 * ABANDONED, and its owner hears it as ContactQueued{ABANDONED}. */
static void test_max_contact_age(void **state)
{
    fx_t *f = *state;
    struct e2e_client *sw = e2e_env_dial_hello(f, "switch-1", ROLE(SWITCH));
    assert_int_equal(e2e_contact(sw, "old", "sales", E2E_VOICE), 0);
    for (;;) {
        ccr_envelope *e = e2e_wait(sw, BODY(CONTACT_QUEUED), 0, T_MS);
        if (!e)
            fail_msg("no ContactQueued{ABANDONED} for the old contact");
        int st = e->contact_queued->status;
        assert_string_equal(e->contact_queued->contact_id, "old");
        ccr_free(e);
        if (st == E2E_CST(ABANDONED))
            break;
        assert_int_equal(st, E2E_CST(QUEUED));
    }
    ccr_envelope *st = e2e_stats(sw);
    assert_int_equal(st->stats->contacts_waiting, 0);
    assert_int_equal(st->stats->queues[0]->abandoned, 1);
    ccr_free(st);
    e2e_hang_up(sw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_invalid_utf8_refused, setup,
                                        e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_client_name, setup,
                                        e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_nul_in_id_refused, setup,
                                        e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_multilingual_contact, setup,
                                        e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_fields_not_passed_on,
                                        setup, e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_attribute_quota, setup,
                                        e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_max_contact_age,
                                        setup_short_age, e2e_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
