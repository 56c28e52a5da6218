/* test-encode.c -- the hand-written encoders (proto/encode.c) against
 * protobuf-c: for many random field values (empty and long strings,
 * zeros, the largest integers, negative enums), each encoder's frame must
 * be byte for byte protobuf-c's frame of the same message; the Offer's
 * attributes copied from a packed ContactArrived must equal protobuf-c's
 * packing of those attributes; encode_canonical() must accept what
 * protobuf-c packs and refuse what it would not pack so (unknown fields,
 * duplicates, order, defaults, long varints). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ccroute.pb-c.h"
#include "encode.h"
#include "frame.h"

#define ITER 20000
#define BUF 8192

static uint64_t rs = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

/* A value with every varint size equally likely, and 0 often. */
static uint64_t rnd_num(void)
{
    unsigned bits = (unsigned)(rnd() % 66);
    if (bits == 0)
        return 0;
    if (bits >= 64)
        return UINT64_MAX - (rnd() & 3);
    return rnd() & ((1ull << bits) - 1);
}

/* NULL, "", or 1..maxlen printable or UTF-8 bytes, into buf. */
static char *rnd_str(char *buf, size_t maxlen)
{
    unsigned k = (unsigned)(rnd() % 8);
    if (k == 0)
        return NULL;
    if (k == 1) {
        buf[0] = '\0';
        return buf;
    }
    size_t n = 1 + (size_t)(rnd() % maxlen);
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)(0x20 + rnd() % 0x5f);
    if (n >= 2 && rnd() % 4 == 0) {     /* a two-byte UTF-8 sequence */
        buf[n - 2] = (char)0xc3;
        buf[n - 1] = (char)0xa9;
    }
    buf[n] = '\0';
    return buf;
}

static int rnd_enum(int max)
{
    if (rnd() % 16 == 0)
        return -(int)(rnd() % 3) - 1;   /* negative: ten bytes on the wire */
    return (int)(rnd() % (unsigned)(max + 1));
}

/* protobuf-c's frame of env into out. */
static size_t pb_frame(const Ccroute__V1__Envelope *env, uint8_t *out)
{
    size_t n = ccroute__v1__envelope__get_packed_size(env);
    assert_true(n + FRAME_VARINT_MAX <= BUF);
    size_t h = frame_varint_put(n, out);
    assert_int_equal(ccroute__v1__envelope__pack(env, out + h), n);
    return h + n;
}

static void same(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    assert_int_equal(alen, blen);
    assert_memory_equal(a, b, alen);
}

static void test_ack(void **state)
{
    uint8_t want[BUF], got[BUF];
    for (int i = 0; i < ITER; i++) {
        Ccroute__V1__Envelope env = CCROUTE__V1__ENVELOPE__INIT;
        Ccroute__V1__Ack ack = CCROUTE__V1__ACK__INIT;
        env.request_id = rnd_num();
        env.body_case = CCROUTE__V1__ENVELOPE__BODY_ACK;
        env.ack = &ack;
        size_t w = pb_frame(&env, want);
        size_t g = encode_ack(got, env.request_id);
        assert_true(g <= ENCODE_ACK_MAX);
        same(got, g, want, w);
    }
}

static void test_queued(void **state)
{
    uint8_t want[BUF], got[BUF];
    char s1[300], s2[300];
    for (int i = 0; i < ITER; i++) {
        Ccroute__V1__Envelope env = CCROUTE__V1__ENVELOPE__INIT;
        Ccroute__V1__ContactQueued m = CCROUTE__V1__CONTACT_QUEUED__INIT;
        struct encode_queued e = {0};
        e.request_id = env.request_id = rnd_num();
        e.contact_id = m.contact_id = rnd_str(s1, 200);
        e.queue = m.queue = rnd_str(s2, 200);
        e.position = m.position = (uint32_t)rnd_num();
        e.estimated_wait_ms = m.estimated_wait_ms = (uint32_t)rnd_num();
        e.status = rnd_enum(5);
        m.status = (Ccroute__V1__ContactStatus)e.status;
        m.unservable = (rnd() & 1) != 0;
        e.unservable = m.unservable != 0;
        if (!m.contact_id)
            m.contact_id = (char *)protobuf_c_empty_string;
        if (!m.queue)
            m.queue = (char *)protobuf_c_empty_string;
        env.body_case = CCROUTE__V1__ENVELOPE__BODY_CONTACT_QUEUED;
        env.contact_queued = &m;
        size_t w = pb_frame(&env, want);
        size_t g = encode_queued_size(&e);
        memset(got, 0xee, sizeof(got));
        encode_queued(got, &e);
        assert_int_equal(got[g], 0xee);     /* not a byte more */
        same(got, g, want, w);
    }
}

static void test_assigned(void **state)
{
    uint8_t want[BUF], got[BUF];
    char s1[300], s2[300], s3[300];
    for (int i = 0; i < ITER; i++) {
        Ccroute__V1__Envelope env = CCROUTE__V1__ENVELOPE__INIT;
        Ccroute__V1__ContactAssigned m = CCROUTE__V1__CONTACT_ASSIGNED__INIT;
        struct encode_assigned e = {0};
        e.request_id = env.request_id = rnd_num();
        e.contact_id = m.contact_id = rnd_str(s1, 200);
        e.agent_id = m.agent_id = rnd_str(s2, 200);
        e.queue = m.queue = rnd_str(s3, 200);
        if (!m.contact_id)
            m.contact_id = (char *)protobuf_c_empty_string;
        if (!m.agent_id)
            m.agent_id = (char *)protobuf_c_empty_string;
        if (!m.queue)
            m.queue = (char *)protobuf_c_empty_string;
        env.body_case = CCROUTE__V1__ENVELOPE__BODY_CONTACT_ASSIGNED;
        env.contact_assigned = &m;
        size_t w = pb_frame(&env, want);
        size_t g = encode_assigned_size(&e);
        memset(got, 0xee, sizeof(got));
        encode_assigned(got, &e);
        assert_int_equal(got[g], 0xee);
        same(got, g, want, w);
    }
}

/* Random attributes, packed inside a ContactArrived with random other
 * fields; the Offer made from those bytes must equal protobuf-c's Offer
 * with the same attributes. */
static void test_offer(void **state)
{
    uint8_t want[BUF], got[BUF], ca_buf[BUF];
    char s1[300], s2[300], s3[300], ks[8][80], vs[8][80], cs[80], qs[80];
    for (int i = 0; i < ITER; i++) {
        Ccroute__V1__Attribute attr[8], *ap[8];
        Ccroute__V1__ContactArrived ca = CCROUTE__V1__CONTACT_ARRIVED__INIT;
        size_t na = (size_t)(rnd() % 9);
        for (size_t k = 0; k < na; k++) {
            ccroute__v1__attribute__init(&attr[k]);
            char *key = rnd_str(ks[k], 60), *val = rnd_str(vs[k], 60);
            attr[k].key = key ? key : (char *)protobuf_c_empty_string;
            attr[k].value = val ? val : (char *)protobuf_c_empty_string;
            ap[k] = &attr[k];
        }
        char *cid = rnd_str(cs, 60), *q = rnd_str(qs, 60);
        ca.contact_id = cid ? cid : (char *)protobuf_c_empty_string;
        ca.queue = q ? q : (char *)protobuf_c_empty_string;
        ca.priority = (uint32_t)rnd_num();
        ca.channel = (Ccroute__V1__Channel)rnd_enum(4);
        ca.n_attributes = na;
        ca.attributes = na ? ap : NULL;
        size_t calen = ccroute__v1__contact_arrived__pack(&ca, ca_buf);
        size_t off = 12345;
        assert_int_equal(encode_attr_offset(ca_buf, calen, 11, &off), 0);
        assert_true(off <= calen);
        assert_true(na > 0 || off == calen);

        Ccroute__V1__Envelope env = CCROUTE__V1__ENVELOPE__INIT;
        Ccroute__V1__Offer m = CCROUTE__V1__OFFER__INIT;
        struct encode_offer e = {0};
        e.request_id = env.request_id = rnd() % 4 ? 0 : rnd_num();
        e.contact_id = m.contact_id = rnd_str(s1, 200);
        e.agent_id = m.agent_id = rnd_str(s2, 200);
        e.queue = m.queue = rnd_str(s3, 200);
        e.deadline_ms = m.deadline_ms = rnd_num();
        e.channel = rnd_enum(4);
        m.channel = (Ccroute__V1__Channel)e.channel;
        m.n_attributes = na;
        m.attributes = na ? ap : NULL;
        e.attrs = ca_buf + off;
        e.attrs_len = calen - off;
        if (!m.contact_id)
            m.contact_id = (char *)protobuf_c_empty_string;
        if (!m.agent_id)
            m.agent_id = (char *)protobuf_c_empty_string;
        if (!m.queue)
            m.queue = (char *)protobuf_c_empty_string;
        env.body_case = CCROUTE__V1__ENVELOPE__BODY_OFFER;
        env.offer = &m;
        size_t w = pb_frame(&env, want);
        size_t g = encode_offer_size(&e);
        memset(got, 0xee, sizeof(got));
        encode_offer(got, &e);
        assert_int_equal(got[g], 0xee);
        same(got, g, want, w);
    }
}

/* A random ContactArrived as protobuf-c packs it (channel and enums in
 * range, as the engine accepts them). */
static size_t rnd_arrived(uint8_t *out, char bufs[][80],
                          Ccroute__V1__Attribute *attr,
                          Ccroute__V1__Attribute **ap,
                          Ccroute__V1__SkillRequirement *sk,
                          Ccroute__V1__SkillRequirement **sp)
{
    Ccroute__V1__ContactArrived ca = CCROUTE__V1__CONTACT_ARRIVED__INIT;
    char *s;
#define STR(field, i) \
    s = rnd_str(bufs[i], 60); \
    ca.field = s ? s : (char *)protobuf_c_empty_string
    STR(contact_id, 0);
    STR(queue, 1);
    STR(language, 2);
    STR(product, 3);
    STR(customer_id, 4);
    STR(preferred_agent, 5);
#undef STR
    ca.channel = (Ccroute__V1__Channel)(rnd() % 5);
    ca.priority = (uint32_t)(rnd() % 3 ? rnd() % 101 : 0);
    ca.customer_value = (uint32_t)rnd_num();
    ca.complaint = rnd() % 4 == 0;
    ca.sentiment = rnd() % 3 ? (int32_t)(rnd() % 201) - 100 : 0;
    size_t ns = (size_t)(rnd() % 4), na = (size_t)(rnd() % 5);
    for (size_t k = 0; k < ns; k++) {
        ccroute__v1__skill_requirement__init(&sk[k]);
        s = rnd_str(bufs[6 + k], 40);
        sk[k].skill = s ? s : (char *)protobuf_c_empty_string;
        sk[k].min_level = (uint32_t)(rnd() % 11);
        sp[k] = &sk[k];
    }
    for (size_t k = 0; k < na; k++) {
        ccroute__v1__attribute__init(&attr[k]);
        s = rnd_str(bufs[10 + 2 * k], 40);
        attr[k].key = s ? s : (char *)protobuf_c_empty_string;
        s = rnd_str(bufs[11 + 2 * k], 40);
        attr[k].value = s ? s : (char *)protobuf_c_empty_string;
        ap[k] = &attr[k];
    }
    ca.n_skills = ns;
    ca.skills = ns ? sp : NULL;
    ca.n_attributes = na;
    ca.attributes = na ? ap : NULL;
    return ccroute__v1__contact_arrived__pack(&ca, out);
}

static const ProtobufCMessageDescriptor *const CA =
    &ccroute__v1__contact_arrived__descriptor;

static void test_canonical(void **state)
{
    uint8_t buf[BUF], mod[BUF + 32];
    char bufs[20][80];
    Ccroute__V1__Attribute attr[4], *ap[4];
    Ccroute__V1__SkillRequirement sk[4], *sp[4];
    for (int i = 0; i < ITER; i++) {
        size_t n = rnd_arrived(buf, bufs, attr, ap, sk, sp);
        assert_true(encode_canonical(CA, buf, n));
        /* an unknown field at the end: number 20..23 (12..19 are
         * ContactArrived's own or reserved by other branches), varint
         * 1, its tag two bytes long */
        memcpy(mod, buf, n);
        {
            unsigned tag = (unsigned)(20 + rnd() % 4) << 3;
            mod[n] = (uint8_t)(0x80 | (tag & 0x7f));
            mod[n + 1] = (uint8_t)(tag >> 7);
            mod[n + 2] = 1;
        }
        assert_false(encode_canonical(CA, mod, n + 3));
        /* a field written again: contact_id at the end */
        mod[n] = 0x0a;
        mod[n + 1] = 1;
        mod[n + 2] = 'x';
        assert_false(encode_canonical(CA, mod, n + 3));
        /* a default written out: priority 0 in front */
        mod[0] = 0x38;
        mod[1] = 0;
        memcpy(mod + 2, buf, n);
        assert_false(encode_canonical(CA, mod, n + 2));
        /* an overlong varint: channel 1 as two bytes in front */
        mod[0] = 0x10;
        mod[1] = 0x81;
        mod[2] = 0x00;
        memcpy(mod + 3, buf, n);
        assert_false(encode_canonical(CA, mod, n + 3));
    }
}

/* Fixed cases: out of order, an unknown field inside an attribute, a NUL
 * in a string, a priority above 32 bits. */
static void test_canonical_fixed(void **state)
{
    /* contact_id "a", queue "q" */
    const uint8_t ok[] = { 0x0a, 1, 'a', 0x1a, 1, 'q' };
    const uint8_t order[] = { 0x1a, 1, 'q', 0x0a, 1, 'a' };
    /* attributes [ {key "k", field 3 = 1} ] */
    const uint8_t attr_unknown[] = { 0x5a, 5, 0x0a, 1, 'k', 0x18, 1 };
    const uint8_t attr_ok[] = { 0x5a, 3, 0x0a, 1, 'k', 0x5a, 0 };
    const uint8_t nul[] = { 0x0a, 2, 'a', 0 };
    const uint8_t big[] = { 0x38, 0x80, 0x80, 0x80, 0x80, 0x10 };
    const uint8_t trunc[] = { 0x0a, 5, 'a' };
    assert_true(encode_canonical(CA, ok, sizeof(ok)));
    assert_true(encode_canonical(CA, attr_ok, sizeof(attr_ok)));
    assert_true(encode_canonical(CA, NULL, 0));
    assert_false(encode_canonical(CA, order, sizeof(order)));
    assert_false(encode_canonical(CA, attr_unknown, sizeof(attr_unknown)));
    assert_false(encode_canonical(CA, nul, sizeof(nul)));
    assert_false(encode_canonical(CA, big, sizeof(big)));
    assert_false(encode_canonical(CA, trunc, sizeof(trunc)));
}

static void test_attr_offset(void **state)
{
    /* contact_id "a", then two attribute entries */
    const uint8_t two[] = { 0x0a, 1, 'a', 0x5a, 0, 0x5a, 3, 0x0a, 1, 'k' };
    /* an attribute entry, then contact_id: not a suffix */
    const uint8_t mixed[] = { 0x5a, 0, 0x0a, 1, 'a' };
    const uint8_t none[] = { 0x0a, 1, 'a' };
    const uint8_t bad[] = { 0x0a, 9, 'a' };
    size_t off = 0;
    assert_int_equal(encode_attr_offset(two, sizeof(two), 11, &off), 0);
    assert_int_equal(off, 3);
    assert_int_equal(encode_attr_offset(none, sizeof(none), 11, &off), 0);
    assert_int_equal(off, sizeof(none));
    assert_int_equal(encode_attr_offset(mixed, sizeof(mixed), 11, &off), -1);
    assert_int_equal(encode_attr_offset(bad, sizeof(bad), 11, &off), -1);
}

static void test_field_once(void **state)
{
    /* request_id 7, contact_arrived {"a"} (field 11) */
    const uint8_t one[] = { 0x08, 7, 0x5a, 3, 0x0a, 1, 'a' };
    const uint8_t twice[] = { 0x5a, 0, 0x08, 7, 0x5a, 3, 0x0a, 1, 'a' };
    const uint8_t varint[] = { 0x58, 1 };
    const uint8_t *v = NULL;
    size_t vl = 0;
    assert_int_equal(encode_field_once(one, sizeof(one), 11, &v, &vl), 0);
    assert_ptr_equal(v, one + 4);
    assert_int_equal(vl, 3);
    assert_int_equal(encode_field_once(twice, sizeof(twice), 11, &v, &vl), -1);
    assert_int_equal(encode_field_once(varint, sizeof(varint), 11, &v, &vl),
                     -1);
    assert_int_equal(encode_field_once(one, 2, 11, &v, &vl), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ack),
        cmocka_unit_test(test_queued),
        cmocka_unit_test(test_assigned),
        cmocka_unit_test(test_offer),
        cmocka_unit_test(test_canonical),
        cmocka_unit_test(test_canonical_fixed),
        cmocka_unit_test(test_attr_offset),
        cmocka_unit_test(test_field_once),
    };
    return cmocka_run_group_tests_name("encode", tests, NULL, NULL);
}
