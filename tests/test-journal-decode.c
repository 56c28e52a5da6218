/* test-journal-decode.c -- engine/journal.c's reader on damaged entries,
 * in process: the inputs tests/fuzz/fuzz-journal.c found, each with the
 * behaviour it broke. What Redis holds may be damaged (a truncated entry,
 * a partial write); recovery refuses such an entry whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "journal.h"
#include "storebatch.h"

struct seen {
    char line[1024];
    size_t at;
};

static void v_ob(void *arg, const char *m, size_t ml, const uint8_t *d,
                 size_t dl)
{
    struct seen *s = arg;
    (void)d;
    (void)dl;
    s->at += (size_t)snprintf(s->line + s->at, sizeof(s->line) - s->at,
                              "%.*s;", (int)ml, m);
}

static void v_agent(void *arg, const uint8_t *login, size_t len, int state,
                    const char *reason, const char *owner,
                    const char *principal)
{
    struct seen *s = arg;
    s->at += (size_t)snprintf(s->line + s->at, sizeof(s->line) - s->at,
                              "agent %.*s %d %s;", (int)len,
                              (const char *)login, state, reason);
}

static void v_contact(void *arg, const struct journal_contact *c)
{
    struct seen *s = arg;
    s->at += (size_t)snprintf(s->line + s->at, sizeof(s->line) - s->at,
                              "contact %.*s %d %s;", (int)c->len,
                              (const char *)c->arrived, c->state, c->queue);
}

static const char *visit(struct journal_replay *j, struct seen *s,
                         size_t *skipped)
{
    static const struct journal_visit v = { v_ob, v_agent, v_contact };
    memset(s, 0, sizeof(*s));
    *skipped = 0;
    assert_int_equal(journal_replay_each(j, &v, s, skipped), 0);
    return s->line;
}

/* Found by fuzz-journal (input a7 01 00 74): an entry whose first op is
 * whole and whose second is cut short was applied up to the bad op, so a
 * damaged batch left half of itself in the recovered state (here: an
 * unknown op counted). A malformed entry now changes nothing. */
static void test_damaged_entry_applies_nothing(void **state)
{
    (void)state;
    static const uint8_t found[] = { 0xa7, 0x01, 0x00, 0x74 };
    struct journal_replay *j = journal_replay_new();
    assert_non_null(j);
    assert_int_equal(journal_replay_apply(j, found, sizeof(found)), -1);
    assert_int_equal(journal_replay_unknown(j), 0);

    /* a real batch, then the same batch cut short in its last op: the
     * agent of the first is there, nothing of the second */
    struct storebatch b;
    storebatch_init(&b);
    struct journal_buf o = { 0 };
    assert_int_equal(storebatch_agent_new(&b, "a1", (const uint8_t *)"A1", 2,
                                          "d", "", 1, "", 5), 0);
    assert_int_equal(journal_pack(&b, &o), 0);
    assert_int_equal(journal_replay_apply(j, o.p, o.len), 0);
    journal_buf_free(&o);
    storebatch_reset(&b);
    assert_int_equal(storebatch_agent_state(&b, "a1", 2, "lunch", 6), 0);
    assert_int_equal(journal_pack(&b, &o), 0);
    size_t first = o.len;              /* the entry's first op alone */
    journal_buf_free(&o);
    assert_int_equal(storebatch_contact_new(&b, "c1", (const uint8_t *)"C1",
                                            2, 1, 1, "s", "", 1, "q", "",
                                            0), 0);
    assert_int_equal(journal_pack(&b, &o), 0);
    for (size_t cut = 1; cut < o.len; cut++) {
        struct journal_replay *k = journal_replay_new();
        assert_non_null(k);
        /* cut at the op boundary it is a whole entry of one op (whose
         * agent has no login here: skipped); anywhere else malformed */
        assert_int_equal(journal_replay_apply(k, o.p, o.len - cut),
                         o.len - cut == first ? 0 : -1);
        size_t sk;
        struct seen s;
        assert_string_equal(visit(k, &s, &sk), "");
        journal_replay_free(k);
    }
    assert_int_equal(journal_replay_apply(j, o.p, o.len - 1), -1);
    size_t skipped;
    struct seen s;
    assert_string_equal(visit(j, &s, &skipped), "agent A1 1 ;");
    assert_int_equal(skipped, 0);
    /* the whole entry applies */
    assert_int_equal(journal_replay_apply(j, o.p, o.len), 0);
    assert_string_equal(visit(j, &s, &skipped),
                        "agent A1 2 lunch;contact C1 1 q;");
    journal_buf_free(&o);
    storebatch_free(&b);
    journal_replay_free(j);
}

/* A known op with fewer fields than it needs makes its entry malformed,
 * and the ops before it in that entry are not applied either. */
static void test_short_op_applies_nothing(void **state)
{
    (void)state;
    /* L a1 "L1" "" "" (a whole login), then G with one field */
    static const uint8_t e[] = { 'L', 4, 2, 'a', '1', 2, 'L', '1', 0, 0,
                                 'G', 1, 2, 'a', '2' };
    struct journal_replay *j = journal_replay_new();
    assert_non_null(j);
    assert_int_equal(journal_replay_apply(j, e, sizeof(e)), -1);
    size_t skipped;
    struct seen s;
    assert_string_equal(visit(j, &s, &skipped), "");
    /* without the short op the same entry applies */
    assert_int_equal(journal_replay_apply(j, e, 10), 0);
    assert_string_equal(visit(j, &s, &skipped), "agent L1 0 ;");
    journal_replay_free(j);
}

/* Found by fuzz-journal: a varint whose tenth byte carries bits past 64
 * (here a field count of 9 x 0x80 then 0x24) was read as the value that
 * wraps around (0 fields), so a damaged op was taken for a valid one. It
 * is malformed now; bit 63 alone is still a value (then too large). */
static void test_varint_past_64_bits(void **state)
{
    (void)state;
    static const uint8_t found[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                     0x80, 0x80, 0x80, 0x80, 0x24, 0x56,
                                     0x00, 0x01, 0x00 };
    const uint8_t *p = found, *end = found + sizeof(found);
    struct journal_op op;
    assert_int_equal(journal_next(&p, end, &op), -1);
    assert_ptr_equal(p, found);
    struct journal_replay *j = journal_replay_new();
    assert_non_null(j);
    assert_int_equal(journal_replay_apply(j, found, sizeof(found)), -1);
    assert_int_equal(journal_replay_unknown(j), 0);
    journal_replay_free(j);

    /* 'q' with one field of length 2^64 - 1 (ten bytes, within 64
     * bits) runs past the entry: refused as well */
    static const uint8_t big[] = { 'q', 1, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0x01 };
    p = big;
    assert_int_equal(journal_next(&p, big + sizeof(big), &op), -1);
    /* an overlong but in-range count (0x81 0x00: 1) still reads */
    static const uint8_t ok[] = { 'q', 0x81, 0x00, 0x00 };
    p = ok;
    assert_int_equal(journal_next(&p, ok + sizeof(ok), &op), 1);
    assert_int_equal(op.nf, 1);
}

/* A damaged score ("nan", which Redis refuses in ZADD, so the per-key
 * layout never holds one) made the load order's comparison inconsistent
 * (qsort's behaviour is then undefined). It counts as 0 now: such
 * objects come first, by member. */
static void test_nan_score(void **state)
{
    (void)state;
    struct storebatch b;
    storebatch_init(&b);
    for (int i = 0; i < 16; i++) {
        char m[16], sc[8];
        snprintf(m, sizeof(m), "m%02d", i);
        snprintf(sc, sizeof(sc), "%s", i % 2 ? "nan" : "5");
        /* B member score data, written as the store's ops are */
        assert_int_equal(storebatch_reserve(&b, 16, 4), 0);
        const char *arg[4] = { "B", m, sc, "" };
        for (int k = 0; k < 4; k++) {
            size_t l = strlen(arg[k]);
            b.off[b.nargs] = b.len;
            b.alen[b.nargs++] = l;
            memcpy(b.buf + b.len, arg[k], l);
            b.len += l;
        }
        b.nops++;
    }
    struct journal_buf o = { 0 };
    assert_int_equal(journal_pack(&b, &o), 0);
    struct journal_replay *j = journal_replay_new();
    assert_non_null(j);
    assert_int_equal(journal_replay_apply(j, o.p, o.len), 0);
    size_t skipped;
    struct seen s;
    assert_string_equal(visit(j, &s, &skipped),
                        "m01;m03;m05;m07;m09;m11;m13;m15;"
                        "m00;m02;m04;m06;m08;m10;m12;m14;");
    journal_replay_free(j);
    journal_buf_free(&o);
    storebatch_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_damaged_entry_applies_nothing),
        cmocka_unit_test(test_short_op_applies_nothing),
        cmocka_unit_test(test_varint_past_64_bits),
        cmocka_unit_test(test_nan_score),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
