/* test-validate.c -- unit tests of the request validation step
 * (engine/validate.c): the strict UTF-8 check on its edge cases, the walk
 * over a packed request's string fields (nested, repeated, embedded NUL
 * bytes that protobuf-c would hide), and the attribute quotas. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "validate.h"

#define BODY(x) CCROUTE__V1__ENVELOPE__BODY_##x

/* Whether the bytes (len given: they may hold NUL) are all valid UTF-8. */
static bool utf8_ok(const char *s, size_t len)
{
    return validate_utf8_prefix((const uint8_t *)s, len) == len;
}

#define OK(lit) assert_true(utf8_ok(lit, sizeof(lit) - 1))
#define BAD(lit, at)                                                        \
    assert_int_equal(validate_utf8_prefix((const uint8_t *)(lit),           \
                                          sizeof(lit) - 1), (at))

static void test_utf8_valid(void **state)
{
    OK("");
    OK("plain ascii, long enough for the eight-byte path");
    OK("Gr\xc3\xbc\xc3\x9f" "e");                   /* Grüße */
    OK("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");     /* 日本語 */
    OK("\xd8\xa7\xd9\x84\xd8\xb9\xd8\xb1\xd8\xa8\xd9\x8a\xd8\xa9"); /* Arabic */
    OK("\xf0\x9f\x98\x80");                         /* U+1F600 */
    OK("\xc2\x80");                                 /* U+0080, smallest 2 */
    OK("\xdf\xbf");                                 /* U+07FF */
    OK("\xe0\xa0\x80");                             /* U+0800, smallest 3 */
    OK("\xed\x9f\xbf");                             /* U+D7FF, below surr. */
    OK("\xee\x80\x80");                             /* U+E000, above surr. */
    OK("\xef\xbf\xbf");                             /* U+FFFF */
    OK("\xf0\x90\x80\x80");                         /* U+10000 */
    OK("\xf4\x8f\xbf\xbf");                         /* U+10FFFF, the last */
    /* U+0000 is valid UTF-8; validate_strings refuses it separately */
    assert_true(utf8_ok("a\0b", 3));
}

static void test_utf8_invalid(void **state)
{
    BAD("\x80", 0);                     /* stray continuation */
    BAD("abc\xbf", 3);
    BAD("\xc0\x80", 0);                 /* overlong NUL */
    BAD("\xc1\xbf", 0);                 /* overlong 2-byte */
    BAD("\xe0\x80\x80", 0);             /* overlong 3-byte */
    BAD("\xe0\x9f\xbf", 0);
    BAD("\xf0\x80\x80\x80", 0);         /* overlong 4-byte */
    BAD("\xf0\x8f\xbf\xbf", 0);
    BAD("\xed\xa0\x80", 0);             /* U+D800, a surrogate */
    BAD("\xed\xbf\xbf", 0);             /* U+DFFF */
    BAD("\xf4\x90\x80\x80", 0);         /* U+110000, past the last */
    BAD("\xf5\x80\x80\x80", 0);
    BAD("\xff", 0);
    BAD("\xfe", 0);
    BAD("ok\xc3", 2);                   /* truncated at the end */
    BAD("ok\xe6\x97", 2);
    BAD("ok\xf0\x9f\x98", 2);
    BAD("\xc3" "a", 0);                 /* continuation missing */
    BAD("\xe6\x97" "a", 0);
    BAD("\xf0\x9f\x98" "a", 0);
    /* the first bad byte after a long valid run */
    BAD("0123456789abcdef\xc3\xbc" "0123456789\x80", 28);
}

/* Packs env into a malloc'd buffer; *len receives its size. */
static uint8_t *pack(const Ccroute__V1__Envelope *env, size_t *len)
{
    *len = ccroute__v1__envelope__get_packed_size(env);
    uint8_t *buf = malloc(*len ? *len : 1);
    assert_non_null(buf);
    ccroute__v1__envelope__pack(env, buf);
    return buf;
}

/* Packs env, replaces the first occurrence of `mark` in the bytes by
 * `with` (same length: a NUL or an invalid byte protobuf-c's pack would
 * never produce from a C string), unpacks it and validates it. */
static int run(const Ccroute__V1__Envelope *env, const char *mark,
               const char *with, const struct validate_limits *lim,
               char *msg, size_t msglen)
{
    size_t len;
    uint8_t *buf = pack(env, &len);
    if (mark) {
        size_t ml = strlen(mark);
        uint8_t *p = memmem(buf, len, mark, ml);
        assert_non_null(p);
        memcpy(p, with, ml);
    }
    Ccroute__V1__Envelope *u = ccroute__v1__envelope__unpack(NULL, len, buf);
    assert_non_null(u);             /* protobuf-c takes it as it is */
    msg[0] = 0;
    int rc = validate_request(u, buf, len, lim, msg, msglen);
    ccroute__v1__envelope__free_unpacked(u, NULL);
    free(buf);
    return rc;
}

/* A ContactArrived with three attributes and a skill. */
struct ca {
    Ccroute__V1__Envelope env;
    Ccroute__V1__ContactArrived m;
    Ccroute__V1__SkillRequirement sk;
    Ccroute__V1__SkillRequirement *skp[1];
    Ccroute__V1__Attribute a[3];
    Ccroute__V1__Attribute *ap[3];
};

static void ca_init(struct ca *c)
{
    ccroute__v1__envelope__init(&c->env);
    ccroute__v1__contact_arrived__init(&c->m);
    ccroute__v1__skill_requirement__init(&c->sk);
    c->env.request_id = 7;
    c->env.body_case = BODY(CONTACT_ARRIVED);
    c->env.contact_arrived = &c->m;
    c->m.contact_id = "call-1";
    c->m.queue = "sales";
    c->m.language = "es";
    c->sk.skill = "skillQQ";
    c->sk.min_level = 2;
    c->skp[0] = &c->sk;
    c->m.skills = c->skp;
    c->m.n_skills = 1;
    static const char *const kv[3][2] = {
        {"case", "1"},
        {"nombre", "Jos\xc3\xa9 Mu\xc3\xb1oz"},
        {"note", "XXXX"},
    };
    for (int i = 0; i < 3; i++) {
        ccroute__v1__attribute__init(&c->a[i]);
        c->a[i].key = (char *)kv[i][0];
        c->a[i].value = (char *)kv[i][1];
        c->ap[i] = &c->a[i];
    }
    c->m.attributes = c->ap;
    c->m.n_attributes = 3;
}

static const struct validate_limits lim_default = {32, 4096};

static void test_request_valid(void **state)
{
    struct ca c;
    char msg[256];
    ca_init(&c);
    assert_int_equal(run(&c.env, NULL, NULL, &lim_default, msg, sizeof(msg)),
                     0);
}

/* Each bad string is named by its path, repeated fields by index. */
static void test_request_invalid_paths(void **state)
{
    struct ca c;
    char msg[256];
    ca_init(&c);
    assert_int_equal(run(&c.env, "XXXX", "XX\xc3X", &lim_default, msg,
                         sizeof(msg)), CCR_EINVAL);
    assert_string_equal(msg, "ContactArrived.attributes[2].value is not "
                             "valid UTF-8 (byte 2)");
    assert_int_equal(run(&c.env, "XXXX", "X\0XX", &lim_default, msg,
                         sizeof(msg)), CCR_EINVAL);
    assert_string_equal(msg, "ContactArrived.attributes[2].value contains "
                             "a NUL byte (byte 1)");
    assert_int_equal(run(&c.env, "nombre", "nom\xedre", &lim_default, msg,
                         sizeof(msg)), CCR_EINVAL);
    assert_string_equal(msg, "ContactArrived.attributes[1].key is not valid "
                             "UTF-8 (byte 3)");
    assert_int_equal(run(&c.env, "QQ", "\xed\xa0", &lim_default, msg,
                         sizeof(msg)), CCR_EINVAL);
    assert_string_equal(msg, "ContactArrived.skills[0].skill is not valid "
                             "UTF-8 (byte 5)");
    /* an id cut short by protobuf-c at its NUL would pass as "ca": the
     * raw check sees the NUL */
    assert_int_equal(run(&c.env, "call-1", "ca\0l-1", &lim_default, msg,
                         sizeof(msg)), CCR_EINVAL);
    assert_string_equal(msg, "ContactArrived.contact_id contains a NUL byte "
                             "(byte 2)");
}

/* Hello, AgentLogin (repeated strings) and AgentState (a reason). */
static void test_request_other_messages(void **state)
{
    char msg[256];
    Ccroute__V1__Envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Hello h = CCROUTE__V1__HELLO__INIT;
    h.client_name = "switch-A";
    h.role = CCROUTE__V1__ROLE__ROLE_SWITCH;
    h.protocol_version = 1;
    env.body_case = BODY(HELLO);
    env.hello = &h;
    assert_int_equal(run(&env, "-A", "\xc0\xaf", NULL, msg, sizeof(msg)),
                     CCR_EINVAL);
    assert_string_equal(msg, "Hello.client_name is not valid UTF-8 (byte 6)");

    Ccroute__V1__AgentLogin l = CCROUTE__V1__AGENT_LOGIN__INIT;
    char *queues[2] = {"sales", "suppo"};
    l.agent_id = "a7";
    l.queues = queues;
    l.n_queues = 2;
    env.body_case = BODY(AGENT_LOGIN);
    env.agent_login = &l;
    assert_int_equal(run(&env, NULL, NULL, NULL, msg, sizeof(msg)), 0);
    assert_int_equal(run(&env, "suppo", "sup\xff" "o", NULL, msg,
                         sizeof(msg)), CCR_EINVAL);
    assert_string_equal(msg, "AgentLogin.queues[1] is not valid UTF-8 "
                             "(byte 3)");

    Ccroute__V1__AgentState st = CCROUTE__V1__AGENT_STATE__INIT;
    st.agent_id = "a7";
    st.status = CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AWAY;
    st.reason = "lunch";
    env.body_case = BODY(AGENT_STATE);
    env.agent_state = &st;
    assert_int_equal(run(&env, "lunch", "lu\0ch", NULL, msg, sizeof(msg)),
                     CCR_EINVAL);
    assert_string_equal(msg, "AgentState.reason contains a NUL byte "
                             "(byte 2)");
}

static void test_request_quotas(void **state)
{
    struct ca c;
    char msg[256];
    ca_init(&c);
    struct validate_limits two = {2, 4096};
    assert_int_equal(run(&c.env, NULL, NULL, &two, msg, sizeof(msg)),
                     CCR_EINVAL);
    assert_string_equal(msg, "ContactArrived.attributes: 3 attributes, at "
                             "most 2 are allowed");
    /* keys + values in bytes: 4+1 + 6+12 (two 2-byte letters) + 4+4 */
    struct validate_limits b31 = {32, 31}, b30 = {32, 30};
    assert_int_equal(run(&c.env, NULL, NULL, &b31, msg, sizeof(msg)), 0);
    assert_int_equal(run(&c.env, NULL, NULL, &b30, msg, sizeof(msg)),
                     CCR_EINVAL);
    assert_string_equal(msg, "ContactArrived.attributes: 31 bytes of keys "
                             "and values, at most 30 are allowed");
    /* 0 is no limit */
    struct validate_limits none = {0, 0};
    assert_int_equal(run(&c.env, NULL, NULL, &none, msg, sizeof(msg)), 0);
    /* customer_id is stored with the contact too: an id, < 64 bytes */
    char cust[65];
    memset(cust, 'c', 63);
    cust[63] = 0;
    c.m.customer_id = cust;
    assert_int_equal(run(&c.env, NULL, NULL, &none, msg, sizeof(msg)), 0);
    cust[63] = 'c';
    cust[64] = 0;
    assert_int_equal(run(&c.env, NULL, NULL, &none, msg, sizeof(msg)),
                     CCR_EINVAL);
    assert_string_equal(msg, "ContactArrived.customer_id is longer than 63 "
                             "bytes");
}

/* Unknown fields of a ContactArrived (and of its attributes) are dropped,
 * so the packed copy the engine keeps holds only what the quotas bound. */
static void test_unknown_fields_dropped(void **state)
{
    struct ca c;
    char msg[256];
    static uint8_t junk[3000];
    memset(junk, 'j', sizeof(junk));
    junk[0] = 0xb6;             /* protobuf-c packs `data` as it is: the */
    junk[1] = 0x17;             /* length prefix first, 2998 as a varint */
    ca_init(&c);
    size_t clean = ccroute__v1__contact_arrived__get_packed_size(&c.m);
    ProtobufCMessageUnknownField uf = {
        .tag = 99, .wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED,
        .len = sizeof(junk), .data = junk,
    };
    c.m.base.n_unknown_fields = 1;
    c.m.base.unknown_fields = &uf;
    c.a[0].base.n_unknown_fields = 1;
    c.a[0].base.unknown_fields = &uf;
    size_t len;
    uint8_t *buf = pack(&c.env, &len);
    Ccroute__V1__Envelope *u = ccroute__v1__envelope__unpack(NULL, len, buf);
    assert_non_null(u);
    assert_true(ccroute__v1__contact_arrived__get_packed_size(
                    u->contact_arrived) > clean + 2 * sizeof(junk));
    assert_int_equal(validate_request(u, buf, len, &lim_default, msg,
                                      sizeof(msg)), 0);
    assert_int_equal(ccroute__v1__contact_arrived__get_packed_size(
                         u->contact_arrived), clean);
    /* free_unpacked frees the unknown fields it made: hand them back */
    u->contact_arrived->base.n_unknown_fields = 1;
    u->contact_arrived->attributes[0]->base.n_unknown_fields = 1;
    ccroute__v1__envelope__free_unpacked(u, NULL);
    free(buf);
}

/* An unknown field 0 in an overlong tag (82 00: accepted by libprotobuf-c's
 * unpack, packed back as a one-byte tag its unpack refuses) inside an
 * AgentLogin: after validation the copy the engine packs and stores
 * decodes again. Found by tests/fuzz (fuzz-envelope). */
static void test_field0_survives_store(void **state)
{
    static const uint8_t wire[] = {
        0x08, 0x01,                     /* request_id 1 */
        0x8a, 0x01, 0x07,               /* agent_login, 7 bytes */
        0x0a, 0x02, 'a', '1',           /*   agent_id "a1" */
        0x82, 0x00, 0x00,               /*   field 0, overlong tag, empty */
    };
    char msg[256];
    uint8_t out[64];
    Ccroute__V1__Envelope *u =
        ccroute__v1__envelope__unpack(NULL, sizeof(wire), wire);
    assert_non_null(u);
    assert_int_equal(u->body_case, CCROUTE__V1__ENVELOPE__BODY_AGENT_LOGIN);
    /* the bug itself: without stripping, the stored copy does not decode */
    size_t n = ccroute__v1__agent_login__pack(u->agent_login, out);
    Ccroute__V1__AgentLogin *bad =
        ccroute__v1__agent_login__unpack(NULL, n, out);
    if (bad)
        ccroute__v1__agent_login__free_unpacked(bad, NULL);
    size_t nuf = u->agent_login->base.n_unknown_fields;
    assert_int_equal(validate_request(u, wire, sizeof(wire), &lim_default,
                                      msg, sizeof(msg)), 0);
    assert_int_equal(u->agent_login->base.n_unknown_fields, 0);
    n = ccroute__v1__agent_login__pack(u->agent_login, out);
    Ccroute__V1__AgentLogin *ok = ccroute__v1__agent_login__unpack(NULL, n, out);
    assert_non_null(ok);
    assert_string_equal(ok->agent_id, "a1");
    ccroute__v1__agent_login__free_unpacked(ok, NULL);
    u->agent_login->base.n_unknown_fields = nuf;  /* free what unpack made */
    ccroute__v1__envelope__free_unpacked(u, NULL);
}

/* A malformed encoding is reported, never read past. */
static void test_strings_malformed(void **state)
{
    char msg[256];
    /* field 11 (ContactArrived), length 5, but only 2 bytes follow */
    static const uint8_t trunc[] = {0x5a, 0x05, 0x0a, 0x01};
    assert_int_equal(validate_strings(&ccroute__v1__envelope__descriptor,
                                      trunc, sizeof(trunc), NULL, msg,
                                      sizeof(msg)), CCR_EINVAL);
    assert_non_null(strstr(msg, "malformed"));
    /* a group (wire type 3) */
    static const uint8_t group[] = {0x0b};
    assert_int_equal(validate_strings(&ccroute__v1__envelope__descriptor,
                                      group, sizeof(group), NULL, msg,
                                      sizeof(msg)), CCR_EINVAL);
    /* unknown fields and bytes are skipped: field 99, "\xff" */
    static const uint8_t unknown[] = {0x9a, 0x06, 0x01, 0xff};
    assert_int_equal(validate_strings(&ccroute__v1__envelope__descriptor,
                                      unknown, sizeof(unknown), NULL, msg,
                                      sizeof(msg)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_utf8_invalid),
        cmocka_unit_test(test_request_valid),
        cmocka_unit_test(test_request_invalid_paths),
        cmocka_unit_test(test_request_other_messages),
        cmocka_unit_test(test_request_quotas),
        cmocka_unit_test(test_strings_malformed),
        cmocka_unit_test(test_unknown_fields_dropped),
        cmocka_unit_test(test_field0_survives_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
