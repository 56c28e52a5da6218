/* test-callback.c -- end to end: callbacks on the real ccrouted and a real
 * redis-server (tests/e2e-util.h). The test plays the switch (contacts,
 * CallbackRequest, and the dialing of DialRequests over the real
 * protocol) and an agent desk.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "client.h"
#include "e2e-util.h"
#include "harness.h"
#include "outbound-fx.h"
#include "store-peek.h"

#define EC(x) E2E_EC(x)
#define BODY(x) E2E_BODY(x)
#define OUT(x) OBFX_OUT(x)
#define VOICE CCROUTE__V1__CHANNEL__CHANNEL_VOICE

static void config_text(char *buf, size_t len, int redis_port,
                        const void *arg)
{
    (void)arg;
    obfx_config_text(buf, len, redis_port, "cb",
                     "routing: {offer_timeout: 60s, max_no_answer: 100}\n"
                     "skills: [sales]\n"
                     "queues:\n"
                     "  - name: sales\n"
                     "    skills: {sales: 1}\n"
                     "    callback_attempts: 2\n"
                     "    callback_retry: 1s\n");
}

static int setup(void **state)
{
    return e2e_env_start(state, true, config_text, NULL);
}

static int teardown(void **state)
{
    return e2e_env_teardown(state);
}

static int callback(struct e2e_client *e, const char *cid, const char *number,
                    uint64_t start_at_ms, char *msg, size_t mlen)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__CallbackRequest m = CCROUTE__V1__CALLBACK_REQUEST__INIT;
    m.contact_id = (char *)cid;
    m.number = (char *)number;
    m.start_at_ms = start_at_ms;
    env.body_case = BODY(CALLBACK_REQUEST);
    env.callback_request = &m;
    env.request_id = 0;
    if (ccr_client_send(e->c, &env) < 0)
        return -EPIPE;
    return e2e_reply_msg(e, env.request_id, E2E_T_MS, msg, mlen);
}

/* The next DialRequest to the switch: a callback's (no campaign), for
 * contact `cid` and `number`. Its dial id. */
static uint64_t expect_dial(struct e2e_client *sw, const char *cid,
                            const char *number)
{
    ccr_envelope *env = e2e_expect(sw, BODY(DIAL_REQUEST), E2E_T_MS);
    uint64_t id = env->dial_request->dial_id;
    assert_string_equal(env->dial_request->contact_id, cid);
    assert_string_equal(env->dial_request->number, number);
    assert_string_equal(env->dial_request->campaign, "");
    assert_true(env->dial_request->dial_timeout_ms > 0);
    ccr_free(env);
    return id;
}

struct callbacks_want {
    uint32_t waiting, held;
};

static bool callbacks_are(const ccr_envelope *st, const void *arg)
{
    const struct callbacks_want *w = arg;
    return st->stats->callbacks_waiting == w->waiting &&
           st->stats->callbacks_held == w->held;
}

/* Waits until Stats says `waiting` callbacks wait in their queue and
 * `held` are held; fails the test after the default timeout. */
static void wait_callbacks(struct e2e_client *adm, uint32_t waiting,
                           uint32_t held)
{
    const struct callbacks_want w = { waiting, held };
    obfx_wait_stats(adm, callbacks_are, &w, E2E_T_MS);
}

/* A waiting customer asks for a callback: the contact keeps its place;
 * the agent who accepts it has the switch dial the number; unanswered,
 * it is held for the queue's retry delay and comes back before a contact
 * that arrived after it; answered, the agent has the customer. */
static void test_callback_keeps_place(void **state)
{
    struct e2e_env *f = *state;
    struct harness_daemon *d = &f->d;
    struct e2e_client adm, sw, desk;
    char msg[384];
    ccr_envelope *st;
    uint64_t dial;

    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    e2e_open_hello(&sw, d->port, "sw", E2E_ROLE(SWITCH), false);
    e2e_open_hello(&desk, d->port, "desk1", E2E_ROLE(AGENT), false);

    /* no agent yet: both wait, k1 first */
    assert_int_equal(e2e_contact(&sw, "k1", "sales", VOICE), 0);
    assert_int_equal(e2e_contact(&sw, "k2", "sales", VOICE), 0);
    assert_int_equal(callback(&sw, "k1", "+15551001", 0, msg, sizeof(msg)),
                     0);
    /* Ack is a promise: the callback is in Redis */
    assert_int_equal(peek_has(f->r, "cb", 'o', "c|k1"), 1);
    wait_callbacks(&adm, 1, 0);

    /* the agent comes: k1 is still first; accepted, the switch dials */
    assert_int_equal(e2e_agent_login(&desk, "a1", "sales", 1, 1, 0), 0);
    obfx_accept(&desk, "k1", "a1");
    dial = expect_dial(&sw, "k1", "+15551001");
    /* a result from another client than the switch is refused */
    {
        struct e2e_client other;
        e2e_open_hello(&other, d->port, "sw2", E2E_ROLE(SWITCH), false);
        assert_int_equal(obfx_result(&other, dial, OUT(BUSY), NULL, 0),
                         EC(NOT_DIALER));
        e2e_close(&other);
    }
    /* no answer: k1 leaves its queue for the retry delay, the agent is
     * free and takes k2 */
    assert_int_equal(obfx_result(&sw, dial, OUT(NO_ANSWER), NULL, 0), 0);
    assert_int_equal(obfx_result(&sw, dial, OUT(NO_ANSWER), NULL, 0),
                     EC(UNKNOWN_DIAL));
    obfx_accept(&desk, "k2", "a1");
    /* k3 arrives after k1 */
    assert_int_equal(e2e_contact(&sw, "k3", "sales", VOICE), 0);
    /* after the delay k1 is back in its queue, and the agent, free again,
     * is offered k1 before k3: k1 kept its place */
    wait_callbacks(&adm, 1, 0);
    assert_int_equal(e2e_simple(&desk, BODY(CONTACT_COMPLETED), "k2", NULL),
                     0);
    obfx_accept(&desk, "k1", "a1");
    dial = expect_dial(&sw, "k1", "+15551001");
    assert_int_equal(obfx_result(&sw, dial, OUT(HUMAN), NULL, 0), 0);
    /* answered: over; the agent is on k1 */
    st = e2e_stats(&adm);
    assert_int_equal(st->stats->callbacks_waiting, 0);
    assert_int_equal(st->stats->callbacks_held, 0);
    assert_int_equal(st->stats->callback_dials, 2);
    assert_int_equal(st->stats->callbacks_connected, 1);
    ccr_free(st);
    assert_int_equal(peek_has(f->r, "cb", 'o', "c|k1"), 0);
    assert_int_equal(e2e_simple(&desk, BODY(CONTACT_COMPLETED), "k1", NULL),
                     0);
    obfx_accept(&desk, "k3", "a1");

    e2e_close(&adm);
    e2e_close(&sw);
    e2e_close(&desk);
}

/* The last attempt unanswered: the contact ends as abandoned. */
static void test_callback_gives_up(void **state)
{
    struct e2e_env *f = *state;
    struct harness_daemon *d = &f->d;
    struct e2e_client adm, sw, desk;
    char msg[384];
    uint64_t dial;
    ccr_envelope *q;

    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    e2e_open_hello(&sw, d->port, "sw", E2E_ROLE(SWITCH), false);
    e2e_open_hello(&desk, d->port, "desk1", E2E_ROLE(AGENT), false);
    assert_int_equal(e2e_contact(&sw, "g1", "sales", VOICE), 0);
    assert_int_equal(callback(&sw, "g1", "+15551002", 0, msg, sizeof(msg)),
                     0);
    assert_int_equal(e2e_agent_login(&desk, "a1", "sales", 1, 1, 0), 0);
    for (int attempt = 0; attempt < 2; attempt++) {
        obfx_accept(&desk, "g1", "a1");
        dial = expect_dial(&sw, "g1", "+15551002");
        assert_int_equal(obfx_result(&sw, dial, OUT(BUSY), NULL, 0), 0);
    }
    /* two attempts (callback_attempts: 2): given up, the switch hears it */
    for (;;) {
        q = e2e_expect(&sw, BODY(CONTACT_QUEUED), E2E_T_MS);
        if (!strcmp(q->contact_queued->contact_id, "g1") &&
            q->contact_queued->status ==
                CCROUTE__V1__CONTACT_STATUS__CONTACT_STATUS_ABANDONED)
            break;
        ccr_free(q);
    }
    ccr_free(q);
    wait_callbacks(&adm, 0, 0);
    assert_int_equal(peek_has(f->r, "cb", 'o', "c|g1"), 0);

    e2e_close(&adm);
    e2e_close(&sw);
    e2e_close(&desk);
}

/* A scheduled callback is not offered before its time, and callbacks
 * (held and waiting) survive kill -9 of the engine. */
static void test_callback_scheduled_survives_kill(void **state)
{
    struct e2e_env *f = *state;
    struct harness_daemon *d = &f->d;
    struct e2e_client adm, sw, desk;
    char msg[384];
    uint64_t dial, start;
    ccr_envelope *o;

    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    e2e_open_hello(&sw, d->port, "sw", E2E_ROLE(SWITCH), false);
    assert_int_equal(e2e_contact(&sw, "s1", "sales", VOICE), 0);
    assert_int_equal(e2e_contact(&sw, "s2", "sales", VOICE), 0);
    start = obfx_wall_ms() + 8000;
    assert_int_equal(callback(&sw, "s1", "+15552001", start, msg,
                              sizeof(msg)), 0);
    assert_int_equal(callback(&sw, "s2", "+15552002", 0, msg, sizeof(msg)),
                     0);
    wait_callbacks(&adm, 1, 1);

    harness_daemon_kill(d);
    e2e_close(&adm);
    e2e_close(&sw);
    assert_int_equal(harness_daemon_restart(d, NULL), 0);
    assert_true(harness_daemon_log_contains(d, "serving clients", 5000));
    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    e2e_open_hello_retry(&sw, d->port, "sw", E2E_ROLE(SWITCH), true);
    wait_callbacks(&adm, 1, 1);

    /* the agent: s2 first (s1 is not eligible before its time) */
    e2e_open_hello(&desk, d->port, "desk1", E2E_ROLE(AGENT), false);
    assert_int_equal(e2e_agent_login(&desk, "a1", "sales", 1, 1, 0), 0);
    obfx_accept(&desk, "s2", "a1");
    dial = expect_dial(&sw, "s2", "+15552002");
    assert_int_equal(obfx_result(&sw, dial, OUT(HUMAN), NULL, 0), 0);
    assert_int_equal(e2e_simple(&sw, BODY(CONTACT_COMPLETED), "s2", NULL), 0);
    /* then s1, not before the time the customer chose */
    o = e2e_wait_offer(&desk, "s1", E2E_T_MS + 10000);
    assert_non_null(o);
    assert_true(obfx_wall_ms() >= start);
    ccr_free(o);
    assert_int_equal(e2e_simple(&desk, BODY(OFFER_ACCEPTED), "s1", "a1"), 0);
    dial = expect_dial(&sw, "s1", "+15552001");
    assert_int_equal(obfx_result(&sw, dial, OUT(HUMAN), NULL, 0), 0);
    wait_callbacks(&adm, 0, 0);

    e2e_close(&adm);
    e2e_close(&sw);
    e2e_close(&desk);
}

/* Bad input: each refused with a clear Error, nothing else touched. */
static void test_callback_bad_input(void **state)
{
    struct e2e_env *f = *state;
    struct harness_daemon *d = &f->d;
    struct e2e_client adm, sw, desk;
    char msg[384];
    ccr_envelope *o;

    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    e2e_open_hello(&sw, d->port, "sw", E2E_ROLE(SWITCH), false);
    e2e_open_hello(&desk, d->port, "desk1", E2E_ROLE(AGENT), false);
    assert_int_equal(e2e_contact(&sw, "b1", "sales", VOICE), 0);

    assert_int_equal(callback(&sw, "nope", "+1555", 0, msg, sizeof(msg)),
                     EC(UNKNOWN_CONTACT));
    /* another principal's contact is as if unknown: the role matrix of
     * test-auth.c (this engine runs open) */
    /* an agent desk may not ask */
    assert_int_equal(callback(&desk, "b1", "+1555", 0, msg, sizeof(msg)),
                     EC(FORBIDDEN));
    assert_int_equal(callback(&sw, "b1", "", 0, msg, sizeof(msg)),
                     EC(MISSING_FIELD));
    assert_int_equal(callback(&sw, "b1", "+1555", obfx_wall_ms() - 60000, msg,
                              sizeof(msg)), EC(CALLBACK_TIME));
    assert_non_null(strstr(msg, "past"));
    /* beyond the arrival plus max_contact_age (default 4h) */
    assert_int_equal(callback(&sw, "b1", "+1555",
                              obfx_wall_ms() + 30ull * 24 * 3600 * 1000, msg,
                              sizeof(msg)), EC(CALLBACK_TIME));
    assert_non_null(strstr(msg, "too far"));
    /* nothing of those: no callback */
    assert_int_equal(peek_n(f->r, "cb", 'o'), 0);

    assert_int_equal(callback(&sw, "b1", "+1555", 0, msg, sizeof(msg)), 0);
    assert_int_equal(callback(&sw, "b1", "+1555", 0, msg, sizeof(msg)),
                     EC(CALLBACK_STATE));
    /* a contact offered to an agent cannot become a callback */
    assert_int_equal(e2e_contact(&sw, "b2", "sales", VOICE), 0);
    assert_int_equal(e2e_agent_login(&desk, "a1", "sales", 1, 1, 0), 0);
    o = e2e_wait_offer(&desk, NULL, E2E_T_MS);
    assert_non_null(o);
    assert_string_equal(o->offer->contact_id, "b1");
    ccr_free(o);
    /* b1 is offered now; b2 waits: a callback of b2 is taken, of b1 not */
    assert_int_equal(callback(&sw, "b1", "+1555", 0, msg, sizeof(msg)),
                     EC(CALLBACK_STATE));
    {
        /* an offered contact that is not a callback yet */
        ccr_envelope *st;
        assert_int_equal(e2e_contact(&sw, "b3", "sales", VOICE), 0);
        st = e2e_stats(&adm);
        assert_int_equal(st->stats->callbacks_waiting, 1);
        ccr_free(st);
    }
    assert_int_equal(e2e_simple(&desk, BODY(OFFER_REJECTED), "b1", "a1"), 0);
    o = e2e_wait_offer(&desk, "b2", E2E_T_MS);
    assert_non_null(o);
    ccr_free(o);
    assert_int_equal(callback(&sw, "b2", "+1555", 0, msg, sizeof(msg)),
                     EC(CALLBACK_STATE));
    assert_non_null(strstr(msg, "offered"));

    e2e_close(&adm);
    e2e_close(&sw);
    e2e_close(&desk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_callback_keeps_place, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_callback_gives_up, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_callback_scheduled_survives_kill,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_callback_bad_input, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
