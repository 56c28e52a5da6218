/* test-storebatch.c -- what the Redis batch of a loop turn contains
 * (engine/storebatch.c), promise by promise of storebatch.h.
 *
 *  - Each op is its opcode and a fixed number of binary-safe arguments,
 *    in the documented order; NULL strings go as empty ones.
 *  - reset forgets the ops and keeps the memory; append moves every op of
 *    one batch to the end of another (the group commit of several turns)
 *    and leaves the source empty; the command is EVALSHA, the script's
 *    keys, the header, then the ops.
 *  - storestate records the final state of every key touched since the
 *    batch began and emits at most one op per key, in first-touch order:
 *    arrival + state fold into N, login + state into G, a key created and
 *    removed within the batch costs nothing, the last state wins. Ids and
 *    strings are copied (they survive the caller's buffers), ids of up to
 *    ROUTER_ID_MAX - 1 bytes are kept whole, the table is reset by emit and
 *    does not allocate again once grown.
 *
 * A random test checks the emitted ops against a model of the same rules
 * over many keys and several turns.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "rng.h"
#include "storebatch.h"

/* Argument i equals the string s (binary compare, lengths too). */
static void arg_eq(const struct storebatch *b, size_t i, const char *s)
{
    size_t len = 0;
    const char *a = storebatch_arg(b, i, &len);
    assert_non_null(a);
    if (len != strlen(s) || memcmp(a, s, len) != 0)
        fail_msg("argument %zu: \"%.*s\", want \"%s\"", i, (int)len, a, s);
}

static void arg_bytes(const struct storebatch *b, size_t i, const void *p,
                      size_t n)
{
    size_t len = 0;
    const char *a = storebatch_arg(b, i, &len);
    assert_int_equal(len, n);
    assert_memory_equal(a, p, n);
}

/* The op at argument *pos is `want` (opcode first); advances *pos. */
static void op_eq(const struct storebatch *b, size_t *pos,
                  const char *const *want)
{
    size_t i = 0;
    for (; want[i]; i++)
        arg_eq(b, *pos + i, want[i]);
    *pos += i;
}

#define OP(b, pos, ...) op_eq((b), (pos), (const char *const[]){ __VA_ARGS__, NULL })

static const uint8_t blob[] = { 0x0a, 0x00, 0xff, 0x00, 0x7f };   /* NULs */

static void test_op_encoding(void **state)
{
    struct storebatch b;
    size_t pos = 0;
    storebatch_init(&b);
    assert_int_equal(b.nops, 0);
    assert_int_equal(b.nargs, 0);

    assert_int_equal(storebatch_contact_arrived(&b, "c1", blob, sizeof(blob),
                                                1700000000123ULL, 42, "sw1",
                                                "acme"),
                     0);
    assert_int_equal(b.nargs, 7);
    assert_int_equal(b.nops, 1);
    arg_eq(&b, 0, "A");
    arg_eq(&b, 1, "c1");
    arg_bytes(&b, 2, blob, sizeof(blob));
    arg_eq(&b, 3, "1700000000123");
    arg_eq(&b, 4, "42");
    arg_eq(&b, 5, "sw1");
    arg_eq(&b, 6, "acme");
    pos = 7;

    assert_int_equal(storebatch_contact_state(&b, "c1", 2, "q1", "a1", 99),
                     0);
    OP(&b, &pos, "c", "c1", "2", "q1", "a1", "99");
    assert_int_equal(storebatch_contact_gone(&b, "c1", 4), 0);
    OP(&b, &pos, "x", "c1", "4");
    assert_int_equal(storebatch_agent_login(&b, "a1", blob, sizeof(blob),
                                            "desk", NULL), 0);
    arg_eq(&b, pos, "L");
    arg_eq(&b, pos + 1, "a1");
    arg_bytes(&b, pos + 2, blob, sizeof(blob));
    arg_eq(&b, pos + 3, "desk");
    arg_eq(&b, pos + 4, "");                /* NULL principal: sent empty */
    pos += 5;
    assert_int_equal(storebatch_agent_state(&b, "a1", 1, "lunch", 5), 0);
    OP(&b, &pos, "a", "a1", "1", "lunch", "5");
    assert_int_equal(storebatch_agent_logout(&b, "a1"), 0);
    OP(&b, &pos, "o", "a1");
    assert_int_equal(storebatch_event(&b, "offer", "c1", "a1", "q1", 77,
                                      "detail"), 0);
    OP(&b, &pos, "e", "offer", "c1", "a1", "q1", "77", "detail");
    assert_int_equal(storebatch_queue(&b, "q1", 3), 0);
    OP(&b, &pos, "q", "q1", "3");
    assert_int_equal(storebatch_contact_new(&b, "c2", blob, 2, 10, 11, "o", "p",
                                            1, "q2", "a2", 12), 0);
    arg_eq(&b, pos, "N");
    arg_eq(&b, pos + 1, "c2");
    arg_bytes(&b, pos + 2, blob, 2);
    pos += 3;
    OP(&b, &pos, "10", "11", "o", "p", "1", "q2", "a2", "12");
    assert_int_equal(storebatch_agent_new(&b, "a2", blob, 1, "d2", "pd", 2, "r",
                                          13), 0);
    arg_eq(&b, pos, "G");
    arg_eq(&b, pos + 1, "a2");
    arg_bytes(&b, pos + 2, blob, 1);
    pos += 3;
    OP(&b, &pos, "d2", "pd", "2", "r", "13");
    /* op E: an event with a disposition (docs/care.md) */
    assert_int_equal(storebatch_event_disposition(&b, "gone", "c1", "a1",
                                                  "q1", 78, "completed",
                                                  "resolved", "x,y", "",
                                                  true, "widget"), 0);
    OP(&b, &pos, "E", "gone", "c1", "a1", "q1", "78", "completed",
       "resolved", "x,y", "", "1", "widget");
    /* op V: a lead's stream entry (docs/redis.md) */
    assert_int_equal(storebatch_lead_event(&b, "lead_dial", "c1", "L1",
                                           "ob-1-2", "active", 2, NULL, 79),
                     0);
    OP(&b, &pos, "V", "lead_dial", "c1", "L1", "ob-1-2", "active", "2", "",
       "79");

    assert_int_equal(b.nops, 12);
    assert_int_equal(b.nargs, pos);
    /* Past the end: NULL, length 0. */
    size_t len = 7;
    assert_null(storebatch_arg(&b, pos, &len));
    assert_int_equal(len, 0);
    storebatch_free(&b);
}

/* NULL strings are sent empty; negative states and indexes as 0. */
static void test_null_and_negative(void **state)
{
    struct storebatch b;
    size_t pos = 0;
    storebatch_init(&b);
    assert_int_equal(storebatch_contact_arrived(&b, "c", NULL, 0, 0, 0,
                                                NULL, NULL), 0);
    OP(&b, &pos, "A", "c", "", "0", "0", "", "");
    assert_int_equal(storebatch_contact_state(&b, "c", -3, NULL, NULL, 0), 0);
    OP(&b, &pos, "c", "c", "0", "", "", "0");
    assert_int_equal(storebatch_contact_gone(&b, "c", -1), 0);
    OP(&b, &pos, "x", "c", "0");
    assert_int_equal(storebatch_agent_state(&b, "a", -1, NULL, 0), 0);
    OP(&b, &pos, "a", "a", "0", "", "0");
    assert_int_equal(storebatch_event(&b, "t", NULL, NULL, NULL, 0, NULL),
                     0);
    OP(&b, &pos, "e", "t", "", "", "", "0", "");
    assert_int_equal(storebatch_queue(&b, NULL, -5), 0);
    OP(&b, &pos, "q", "", "0");
    assert_int_equal(b.nargs, pos);
    storebatch_free(&b);
}

static void test_u64(void **state)
{
    static const struct {
        uint64_t v;
        const char *s;
    } cases[] = {
        { 0, "0" }, { 7, "7" }, { 10, "10" }, { 1234567890, "1234567890" },
        { UINT64_MAX, "18446744073709551615" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[32];
        memset(buf, '#', sizeof(buf));
        size_t n = storebatch_u64(buf, cases[i].v);
        assert_int_equal(n, strlen(cases[i].s));
        assert_memory_equal(buf, cases[i].s, n);
        assert_int_equal(buf[n], '#');          /* no NUL written */
    }
}

static void test_reset_keeps_memory(void **state)
{
    struct storebatch b;
    storebatch_init(&b);
    for (int i = 0; i < 500; i++)
        assert_int_equal(storebatch_event(&b, "queued", "c", "", "q", 1,
                                          ""), 0);
    char *buf = b.buf;
    size_t *off = b.off, cap = b.cap, capargs = b.capargs;
    storebatch_reset(&b);
    assert_int_equal(b.nops, 0);
    assert_int_equal(b.nargs, 0);
    assert_int_equal(b.len, 0);
    assert_null(storebatch_arg(&b, 0, NULL));
    for (int i = 0; i < 500; i++)
        assert_int_equal(storebatch_event(&b, "queued", "c", "", "q", 1,
                                          ""), 0);
    assert_ptr_equal(b.buf, buf);
    assert_ptr_equal(b.off, off);
    assert_int_equal(b.cap, cap);
    assert_int_equal(b.capargs, capargs);
    assert_int_equal(b.nops, 500);
    storebatch_free(&b);
    assert_null(b.buf);
}

/* Group commit: the batches of several turns go out as one, in order. */
static void test_append_and_swap(void **state)
{
    struct storebatch a, b, c;
    size_t pos = 0;
    storebatch_init(&a);
    storebatch_init(&b);
    storebatch_init(&c);

    /* Into an empty batch. */
    assert_int_equal(storebatch_queue(&b, "q1", 1), 0);
    assert_int_equal(storebatch_append(&a, &b), 0);
    assert_int_equal(a.nops, 1);
    assert_int_equal(b.nops, 0);
    assert_int_equal(b.nargs, 0);
    OP(&a, &pos, "q", "q1", "1");

    /* Onto a non-empty one, large enough that dst grows: every argument
     * of src keeps its bytes after the move. */
    char id[32];
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof(id), "contact-%d", i);
        assert_int_equal(storebatch_contact_gone(&b, id, i), 0);
    }
    assert_int_equal(storebatch_append(&a, &b), 0);
    assert_int_equal(a.nops, 301);
    assert_int_equal(b.nops, 0);
    assert_int_equal(b.nargs, 0);
    for (int i = 0; i < 300; i++) {
        char st[16];
        snprintf(id, sizeof(id), "contact-%d", i);
        snprintf(st, sizeof(st), "%d", i);
        OP(&a, &pos, "x", id, st);
    }
    assert_int_equal(a.nargs, pos);

    /* An empty source changes nothing; the emptied one is reusable. */
    assert_int_equal(storebatch_append(&a, &c), 0);
    assert_int_equal(a.nops, 301);
    assert_int_equal(storebatch_agent_logout(&b, "a9"), 0);
    assert_int_equal(storebatch_append(&a, &b), 0);
    OP(&a, &pos, "o", "a9");
    assert_int_equal(a.nops, 302);

    /* Swap exchanges contents. */
    assert_int_equal(storebatch_queue(&c, "only", 0), 0);
    storebatch_swap(&a, &c);
    assert_int_equal(a.nops, 1);
    assert_int_equal(c.nops, 302);
    pos = 0;
    OP(&a, &pos, "q", "only", "0");
    storebatch_free(&a);
    storebatch_free(&b);
    storebatch_free(&c);
}

static void test_command_layout(void **state)
{
    struct storebatch b;
    const char *argv[32];
    size_t argvlen[32];
    const char *keys[3] = { "K1", "K2", "K3" };
    storebatch_init(&b);
    assert_int_equal(storebatch_contact_arrived(&b, "c1", blob, sizeof(blob),
                                                1, 2, "o", NULL), 0);
    assert_int_equal(storebatch_agent_logout(&b, "a1"), 0);
    size_t argc = storebatch_argc(&b);
    assert_int_equal(argc, 6 + STOREBATCH_HDR_ARGS + 9);
    storebatch_command(&b, "SHA", keys, "ccr:{t}:", "7", "12", "1000", argv,
                       argvlen);
    static const char *const head[] = { "EVALSHA", "SHA", "3", "K1", "K2",
                                        "K3", "ccr:{t}:", "7", "12", "1000" };
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(argvlen[i], strlen(head[i]));
        assert_memory_equal(argv[i], head[i], argvlen[i]);
    }
    assert_int_equal(argvlen[10], 1);
    assert_memory_equal(argv[10], "A", 1);
    assert_int_equal(argvlen[12], sizeof(blob));       /* binary-safe */
    assert_memory_equal(argv[12], blob, sizeof(blob));
    assert_int_equal(argvlen[17], 1);
    assert_memory_equal(argv[17], "o", 1);
    assert_int_equal(argvlen[18], 2);
    assert_memory_equal(argv[18], "a1", 2);
    storebatch_free(&b);
}

static void test_key_names(void **state)
{
    char buf[64];
    assert_int_equal(storebatch_key(buf, sizeof(buf), "acme", "lease"),
                     strlen("ccr:{acme}:lease"));
    assert_string_equal(buf, "ccr:{acme}:lease");
    assert_int_equal(storebatch_key(buf, sizeof(buf), "t", ""), 8);
    assert_string_equal(buf, "ccr:{t}:");
    /* Truncated, NUL-terminated, and the length it needed. */
    char small[8];
    assert_int_equal(storebatch_key(small, sizeof(small), "tenant", "events"),
                     strlen("ccr:{tenant}:events"));
    assert_string_equal(small, "ccr:{te");
}

/* ---- final state per key ---- */

static long emit(struct storestate *t, struct storebatch *b)
{
    storebatch_reset(b);
    return storestate_emit(t, b);
}

static void test_state_contact_folds(void **state)
{
    struct storestate t;
    struct storebatch b;
    size_t pos = 0;
    storestate_init(&t);
    storebatch_init(&b);

    /* Arrival and three states within the batch: one N op, last state. */
    assert_int_equal(storestate_contact_arrived(&t, "c1", blob, sizeof(blob),
                                                1000, 5, "sw1", "acme"), 0);
    assert_int_equal(storestate_contact_state(&t, "c1", 1, "q1", "", 0), 0);
    assert_int_equal(storestate_contact_state(&t, "c1", 2, "q1", "a1", 800),
                     0);
    assert_int_equal(storestate_contact_state(&t, "c1", 3, "q2", "a2", 900),
                     0);
    assert_int_equal(emit(&t, &b), 1);
    assert_int_equal(b.nops, 1);
    arg_eq(&b, 0, "N");
    arg_eq(&b, 1, "c1");
    arg_bytes(&b, 2, blob, sizeof(blob));
    pos = 3;
    OP(&b, &pos, "1000", "5", "sw1", "acme", "3", "q2", "a2", "900");
    assert_int_equal(b.nargs, pos);

    /* The table was reset: the next batch starts afresh, and c1 (stored
     * now) gets a state op, not an arrival. */
    assert_int_equal(emit(&t, &b), 0);
    assert_int_equal(b.nops, 0);
    assert_int_equal(storestate_contact_state(&t, "c1", 2, "q2", "a3", 1),
                     0);
    assert_int_equal(storestate_contact_state(&t, "c1", 1, "q2", NULL, 0),
                     0);
    assert_int_equal(emit(&t, &b), 1);
    pos = 0;
    OP(&b, &pos, "c", "c1", "1", "q2", "", "0");

    /* Arrival alone: A. */
    assert_int_equal(storestate_contact_arrived(&t, "c2", blob, 1, 7, 8,
                                                NULL, NULL), 0);
    assert_int_equal(emit(&t, &b), 1);
    pos = 0;
    arg_eq(&b, 0, "A");
    arg_eq(&b, 1, "c2");
    arg_bytes(&b, 2, blob, 1);
    pos = 3;
    OP(&b, &pos, "7", "8", "", "");

    /* Created and removed within the batch: no key write at all. */
    assert_int_equal(storestate_contact_arrived(&t, "c3", blob, 1, 1, 1,
                                                "sw", NULL), 0);
    assert_int_equal(storestate_contact_state(&t, "c3", 2, "q", "a", 1), 0);
    assert_int_equal(storestate_contact_gone(&t, "c3"), 0);
    assert_int_equal(emit(&t, &b), 0);
    assert_int_equal(b.nargs, 0);

    /* A stored contact that leaves: x, whatever came before. */
    assert_int_equal(storestate_contact_state(&t, "c1", 3, "q", "a", 1), 0);
    assert_int_equal(storestate_contact_gone(&t, "c1"), 0);
    assert_int_equal(emit(&t, &b), 1);
    pos = 0;
    OP(&b, &pos, "x", "c1", "0");
    assert_int_equal(storestate_contact_gone(&t, "c2"), 0);
    assert_int_equal(emit(&t, &b), 1);
    pos = 0;
    OP(&b, &pos, "x", "c2", "0");

    storestate_free(&t);
    storebatch_free(&b);
}

static void test_state_agent_folds(void **state)
{
    struct storestate t;
    struct storebatch b;
    size_t pos;
    storestate_init(&t);
    storebatch_init(&b);

    assert_int_equal(storestate_agent_login(&t, "a1", blob, 3, "desk-1",
                                            "desks"), 0);
    assert_int_equal(storestate_agent_state(&t, "a1", 0, "", 10), 0);
    assert_int_equal(storestate_agent_state(&t, "a1", 1, "lunch", 20), 0);
    assert_int_equal(emit(&t, &b), 1);
    arg_eq(&b, 0, "G");
    arg_eq(&b, 1, "a1");
    arg_bytes(&b, 2, blob, 3);
    pos = 3;
    OP(&b, &pos, "desk-1", "desks", "1", "lunch", "20");
    assert_int_equal(b.nargs, pos);

    /* Login alone: L. */
    assert_int_equal(storestate_agent_login(&t, "a2", blob, 2, "desk-2",
                                            "desks"), 0);
    assert_int_equal(emit(&t, &b), 1);
    arg_eq(&b, 0, "L");
    arg_eq(&b, 1, "a2");
    arg_bytes(&b, 2, blob, 2);
    arg_eq(&b, 3, "desk-2");
    arg_eq(&b, 4, "desks");
    assert_int_equal(b.nargs, 5);

    /* State flips several times: one a op with the last state. */
    for (int i = 0; i < 5; i++)
        assert_int_equal(storestate_agent_state(&t, "a1", i % 2,
                                                i % 2 ? "break" : "", 100 + i),
                         0);
    assert_int_equal(emit(&t, &b), 1);
    pos = 0;
    OP(&b, &pos, "a", "a1", "0", "", "104");

    /* Login and logout within one batch: nothing. A stored agent that
     * logs out: o. */
    assert_int_equal(storestate_agent_login(&t, "a3", blob, 1, "d", NULL), 0);
    assert_int_equal(storestate_agent_state(&t, "a3", 0, "", 1), 0);
    assert_int_equal(storestate_agent_logout(&t, "a3"), 0);
    assert_int_equal(storestate_agent_state(&t, "a2", 1, "x", 5), 0);
    assert_int_equal(storestate_agent_logout(&t, "a2"), 0);
    assert_int_equal(emit(&t, &b), 1);
    pos = 0;
    OP(&b, &pos, "o", "a2");
    assert_int_equal(b.nargs, pos);

    storestate_free(&t);
    storebatch_free(&b);
}

/* A contact and an agent with the same id are two keys; ops come out in
 * the order keys were first touched; strings are copies. */
static void test_state_keys_order_copies(void **state)
{
    struct storestate t;
    struct storebatch b;
    size_t pos = 0;
    char id[64], q[64], who[64];
    uint8_t data[4] = { 1, 2, 3, 4 };
    storestate_init(&t);
    storebatch_init(&b);

    assert_int_equal(storestate_agent_state(&t, "x", 1, "r", 1), 0);
    snprintf(id, sizeof(id), "x");
    snprintf(q, sizeof(q), "queue-1");
    snprintf(who, sizeof(who), "owner-1");
    assert_int_equal(storestate_contact_arrived(&t, id, data, sizeof(data), 2,
                                                3, who, NULL), 0);
    assert_int_equal(storestate_contact_state(&t, id, 1, q, "", 4), 0);
    assert_int_equal(storestate_contact_state(&t, "later", 2, "q", "a", 5),
                     0);
    /* the caller's buffers change before the batch is emitted */
    memset(id, 'Z', sizeof(id) - 1);
    memset(q, 'Z', sizeof(q) - 1);
    memset(who, 'Z', sizeof(who) - 1);
    memset(data, 0, sizeof(data));
    /* touching the agent again does not move it */
    assert_int_equal(storestate_agent_state(&t, "x", 0, "", 6), 0);

    assert_int_equal(emit(&t, &b), 3);
    OP(&b, &pos, "a", "x", "0", "", "6");
    arg_eq(&b, pos, "N");
    arg_eq(&b, pos + 1, "x");
    arg_bytes(&b, pos + 2, (uint8_t[]){ 1, 2, 3, 4 }, 4);
    pos += 3;
    OP(&b, &pos, "2", "3", "owner-1", "", "1", "queue-1", "", "4");
    OP(&b, &pos, "c", "later", "2", "q", "a", "5");
    assert_int_equal(b.nargs, pos);
    storestate_free(&t);
    storebatch_free(&b);
}

/* Ids, queue and agent names and reasons of ROUTER_ID_MAX - 1 (63) bytes
 * are kept whole; ids that differ only in their last byte are two keys. */
static void test_state_longest_ids(void **state)
{
    struct storestate t;
    struct storebatch b;
    size_t pos = 0;
    char c1[64], c2[64], q[64], a[64], r[64];
    storestate_init(&t);
    storebatch_init(&b);
    memset(c1, 'c', 63);
    memset(q, 'q', 63);
    memset(a, 'a', 63);
    memset(r, 'r', 63);
    c1[63] = q[63] = a[63] = r[63] = '\0';
    memcpy(c2, c1, sizeof(c2));
    c2[62] = 'd';
    assert_int_equal(storestate_contact_state(&t, c1, 2, q, a, 1), 0);
    assert_int_equal(storestate_contact_state(&t, c2, 3, q, a, 2), 0);
    assert_int_equal(storestate_agent_state(&t, a, 1, r, 3), 0);
    assert_int_equal(emit(&t, &b), 3);
    OP(&b, &pos, "c", c1, "2", q, a, "1");
    OP(&b, &pos, "c", c2, "3", q, a, "2");
    OP(&b, &pos, "a", a, "1", r, "3");
    storestate_free(&t);
    storebatch_free(&b);
}

/* ---- many keys, several turns, against a model ---- */

#define MK 1500

/* One key of the model. The random ops follow the router's rules: an
 * arrival (login) only for a key that does not exist, a state or a
 * removal only for one that does. */
struct mkey {
    int live;           /* exists now */
    int before;         /* existed (in Redis) when the batch began */
    int touched;        /* order of first touch in this batch, 0: none */
    int arrived;        /* arrived (logged in) in this batch, still live */
    int has_state;      /* a state since the arrival or the batch start */
    int st;
    uint64_t t;
    char s1[16], s2[16];
};

static struct mkey mk[2][MK];    /* [agent][i] */

static void model_reset(void)
{
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < MK; i++) {
            mk[k][i].before = mk[k][i].live;
            mk[k][i].touched = 0;
            mk[k][i].arrived = mk[k][i].has_state = 0;
        }
}

static void id_of(char *buf, size_t len, int agent, int i)
{
    snprintf(buf, len, "%s%d", agent ? "agent-" : "contact-", i);
}

/* One random op on the table and the model. */
static void random_op(struct storestate *t, struct rng *g, int *order)
{
    uint64_t r = rng_next(g);
    int agent = (int)(r & 1), i = (int)((r >> 8) % MK);
    struct mkey *m = &mk[agent][i];
    char id[32], s1[16], s2[16];
    id_of(id, sizeof(id), agent, i);
    snprintf(s1, sizeof(s1), "s%u", (unsigned)(r >> 40) % 100);
    snprintf(s2, sizeof(s2), "t%u", (unsigned)(r >> 48) % 100);
    if (!m->touched)
        m->touched = ++*order;
    if (!m->live) {                     /* arrival / login */
        if (agent)
            assert_int_equal(storestate_agent_login(t, id, (uint8_t *)id,
                                                    strlen(id), "own", "prin"), 0);
        else
            assert_int_equal(storestate_contact_arrived(t, id, (uint8_t *)id,
                                                        strlen(id), 1, 2,
                                                        "own", "prin"), 0);
        m->live = 1;
        m->arrived = 1;
        m->has_state = 0;
    } else if ((r >> 32) % 4 == 0) {    /* gone / logout */
        if (agent)
            assert_int_equal(storestate_agent_logout(t, id), 0);
        else
            assert_int_equal(storestate_contact_gone(t, id), 0);
        m->live = 0;
        m->arrived = 0;
        m->has_state = 0;
    } else {                            /* a new state */
        m->st = (int)((r >> 16) % 5);
        m->t = r >> 50;
        snprintf(m->s1, sizeof(m->s1), "%s", s1);
        if (agent) {
            assert_int_equal(storestate_agent_state(t, id, m->st, s1, m->t),
                             0);
        } else {
            snprintf(m->s2, sizeof(m->s2), "%s", s2);
            assert_int_equal(storestate_contact_state(t, id, m->st, s1, s2,
                                                      m->t), 0);
        }
        m->has_state = 1;
    }
}

/* The ops the model expects, in first-touch order, against b: for a key
 * gone at the end, x / o when it existed before the batch and nothing
 * otherwise; for a key that arrived in the batch, N / G with its last
 * state or A / L without one; for any other, c / a with its last state. */
static void model_check_emit(const struct storebatch *b, int norder)
{
    struct mkey *by_order[2 * MK + 1] = { 0 };
    int kind_of[2 * MK + 1], idx_of[2 * MK + 1];
    size_t pos = 0;
    long ops = 0;
    char num[24], t[24], id[32];
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < MK; i++)
            if (mk[k][i].touched) {
                by_order[mk[k][i].touched] = &mk[k][i];
                kind_of[mk[k][i].touched] = k;
                idx_of[mk[k][i].touched] = i;
            }
    for (int o = 1; o <= norder; o++) {
        struct mkey *m = by_order[o];
        int k = kind_of[o];
        assert_non_null(m);
        id_of(id, sizeof(id), k, idx_of[o]);
        snprintf(num, sizeof(num), "%d", m->st);
        snprintf(t, sizeof(t), "%llu", (unsigned long long)m->t);
        if (!m->live) {
            if (!m->before)
                continue;               /* created and removed here */
            if (k)
                OP(b, &pos, "o", id);
            else
                OP(b, &pos, "x", id, "0");
        } else if (m->arrived) {
            arg_eq(b, pos, m->has_state ? (k ? "G" : "N") : (k ? "L" : "A"));
            arg_eq(b, pos + 1, id);
            arg_eq(b, pos + 2, id);     /* the packed request */
            pos += 3;
            if (!k)
                OP(b, &pos, "1", "2");
            OP(b, &pos, "own", "prin");
            if (m->has_state && k)
                OP(b, &pos, num, m->s1, t);
            else if (m->has_state)
                OP(b, &pos, num, m->s1, m->s2, t);
        } else {
            assert_true(m->has_state);
            if (k)
                OP(b, &pos, "a", id, num, m->s1, t);
            else
                OP(b, &pos, "c", id, num, m->s1, m->s2, t);
        }
        ops++;
    }
    assert_int_equal(b->nops, ops);
    assert_int_equal(b->nargs, pos);
}

/* Several turns gather in one table (the group commit: the batch grows
 * while earlier ones are in flight), then one emit; over many batches. */
static void test_state_random_against_model(void **state)
{
    struct storestate t;
    struct storebatch b;
    struct rng g;
    storestate_init(&t);
    storebatch_init(&b);
    rng_seed(&g, 2024);
    memset(mk, 0, sizeof(mk));
    for (int batch = 0; batch < 40; batch++) {
        int order = 0;
        int turns = 1 + (int)(rng_next(&g) % 4);
        model_reset();
        for (int turn = 0; turn < turns; turn++) {
            int n = (int)(rng_next(&g) % 800);
            for (int k = 0; k < n; k++)
                random_op(&t, &g, &order);
        }
        long ops = emit(&t, &b);
        assert_true(ops >= 0);
        assert_int_equal((size_t)ops, b.nops);
        assert_true((size_t)ops <= (size_t)order);   /* <= one per key */
        model_check_emit(&b, order);
    }
    storestate_free(&t);
    storebatch_free(&b);
}

/* Once grown, the table and its arena serve batches of the same size
 * without allocating: the pointers and capacities stay. */
static void test_state_no_allocation_once_grown(void **state)
{
    struct storestate t;
    struct storebatch b;
    char id[32];
    storestate_init(&t);
    storebatch_init(&b);
    for (int round = 0; round < 3; round++) {
        struct storestate_ent *ent = t.ent;
        uint32_t *slot = t.slot, *gen = t.gen;
        char *arena = t.arena;
        size_t cap = t.cap, nslots = t.nslots, acap = t.acap;
        for (int i = 0; i < 1000; i++) {
            snprintf(id, sizeof(id), "r%d-c%d", round, i);
            assert_int_equal(storestate_contact_arrived(&t, id, blob,
                                                        sizeof(blob), 1, 2,
                                                        "owner", NULL), 0);
            assert_int_equal(storestate_contact_state(&t, id, 1, "q", "", 0),
                             0);
        }
        assert_int_equal(t.n, 1000);
        assert_int_equal(emit(&t, &b), 1000);
        assert_int_equal(t.n, 0);
        if (round > 0) {
            assert_ptr_equal(t.ent, ent);
            assert_ptr_equal(t.slot, slot);
            assert_ptr_equal(t.gen, gen);
            assert_ptr_equal(t.arena, arena);
            assert_int_equal(t.cap, cap);
            assert_int_equal(t.nslots, nslots);
            assert_int_equal(t.acap, acap);
        }
    }
    storestate_free(&t);
    storebatch_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_op_encoding),
        cmocka_unit_test(test_null_and_negative),
        cmocka_unit_test(test_u64),
        cmocka_unit_test(test_reset_keeps_memory),
        cmocka_unit_test(test_append_and_swap),
        cmocka_unit_test(test_command_layout),
        cmocka_unit_test(test_key_names),
        cmocka_unit_test(test_state_contact_folds),
        cmocka_unit_test(test_state_agent_folds),
        cmocka_unit_test(test_state_keys_order_copies),
        cmocka_unit_test(test_state_longest_ids),
        cmocka_unit_test(test_state_random_against_model),
        cmocka_unit_test(test_state_no_allocation_once_grown),
    };
    return cmocka_run_group_tests_name("storebatch", tests, NULL, NULL);
}
