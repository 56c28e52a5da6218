/* fuzz-journal.c -- libFuzzer harness for engine/journal.c's reader: the
 * decoder of the entry format (journal_next(), which recovery and
 * tools/ccjournal use), the replay of entries and snapshot chunks into
 * final states (journal_replay_apply()) and the hand-over in load order
 * (journal_replay_each()). What Redis holds may be damaged (a truncated
 * entry, a partial write, an operator's mistake); none of it may crash,
 * read out of bounds, loop or allocate beyond the input's size.
 *
 * Input layout: a journal, entries back to back, each a length (varint,
 * the entry format's) and that many bytes; a length that is malformed or
 * runs past the end gives the rest of the input to the last entry. Every
 * entry lies in an allocation of exactly its length, so a read past it is
 * a sanitizer report. The seeds (tests/fuzz/seeds.c) are real batches and
 * snapshot chunks packed by journal_pack().
 *
 * Checked for every entry:
 *   - journal_next() agrees with a slow reference decoder of the format
 *     (below): the same verdict, the same ops, every field inside the
 *     entry, the cursor moving forward;
 *   - round trip: the ops of a well-formed entry, put into a storebatch
 *     and packed by journal_pack(), decode to the same ops, in at most as
 *     many bytes (the packer writes canonical varints);
 *   - journal_replay_apply() says -1 exactly when the entry is malformed
 *     (the reference's verdict, or a known op with too few fields), and a
 *     malformed entry changes nothing: the journal replayed with every
 *     entry visits exactly what the journal without the malformed ones
 *     visits (the same objects, fields, order);
 *   - journal_replay_each() visits outbound objects, then agents, then
 *     contacts, twice the same; every string it hands over is readable
 *     to its NUL, every blob to its length; after a reset nothing.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-check.h"
#include "journal.h"
#include "storebatch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- the reference decoder: the format as docs/redis.md states it ---- */

/* A varint of at most 10 bytes whose value fits 64 bits. 0 or -1. */
static int ref_varint(const uint8_t *p, size_t len, size_t *at, uint64_t *v)
{
    uint64_t x = 0;
    for (size_t i = 0; i < 10; i++) {
        if (*at >= len)
            return -1;
        uint8_t c = p[(*at)++];
        if (i == 9 && (c & 0x7f) > 1)
            return -1;                      /* past 64 bits */
        x |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

struct rop {
    uint8_t code;
    size_t nf;
    size_t at[JOURNAL_MAX_FIELDS], fl[JOURNAL_MAX_FIELDS];
};

/* Every op of the entry into ops (at most cap). The number of ops, or -1
 * when the entry is malformed. */
static long ref_decode(const uint8_t *p, size_t len, struct rop *ops,
                       size_t cap)
{
    size_t at = 0;
    long n = 0;
    while (at < len) {
        struct rop o;
        uint64_t nf, l;
        o.code = p[at++];
        if (ref_varint(p, len, &at, &nf) < 0 || nf > JOURNAL_MAX_FIELDS)
            return -1;
        o.nf = (size_t)nf;
        for (size_t i = 0; i < o.nf; i++) {
            if (ref_varint(p, len, &at, &l) < 0 || l > len - at)
                return -1;
            o.at[i] = at;
            o.fl[i] = (size_t)l;
            at += (size_t)l;
        }
        if ((size_t)n < cap)
            ops[n] = o;
        n++;
    }
    return n;
}

/* Fields a known op needs (storebatch.h); 0: any count; -1: unknown. */
static int need(uint8_t code)
{
    switch (code) {
    case 'Z': case 'e': case 'E': case 'q': case 'V': return 0;
    case 'N': return 10;
    case 'G': return 7;
    case 'A': return 6;
    case 'c': return 5;
    case 'a': case 'L': return 4;
    case 'B': return 3;
    case 'x': case 'o': case 'b': return 1;
    default: return -1;
    }
}

/* ---- journal_next() against the reference, and the round trip ---- */

#define MAX_OPS 4096

static struct rop rops[MAX_OPS];

/* Checks one entry; returns whether it is well formed. */
static bool check_decode(const uint8_t *e, size_t len)
{
    long n = ref_decode(e, len, rops, MAX_OPS);
    const uint8_t *p = e, *end = e + len;
    struct journal_op op;
    long k = 0;
    int rc;
    while ((rc = journal_next(&p, end, &op)) == 1) {
        FUZZ_CHECK(p > e && p <= end, "cursor at %td of %zu", p - e, len);
        FUZZ_CHECK(op.nf <= JOURNAL_MAX_FIELDS, "%zu fields", op.nf);
        for (size_t i = 0; i < op.nf; i++)
            FUZZ_CHECK(op.f[i] >= e && op.fl[i] <= (size_t)(end - op.f[i]),
                       "op %ld field %zu outside the entry", k, i);
        if (n >= 0 && k < n && k < MAX_OPS) {
            const struct rop *r = &rops[k];
            FUZZ_CHECK(op.code == r->code && op.nf == r->nf,
                       "op %ld: %c/%zu, reference %c/%zu", k, op.code, op.nf,
                       r->code, r->nf);
            for (size_t i = 0; i < op.nf; i++)
                FUZZ_CHECK(op.f[i] == e + r->at[i] && op.fl[i] == r->fl[i],
                           "op %ld field %zu differs from the reference", k,
                           i);
        }
        k++;
    }
    FUZZ_CHECK(rc == 0 || rc == -1, "journal_next() returned %d", rc);
    FUZZ_CHECK((rc == 0) == (n >= 0), "journal_next() %s, reference %s",
               rc == 0 ? "reads it" : "refuses it",
               n >= 0 ? "reads it" : "refuses it");
    if (rc < 0)
        return false;
    FUZZ_CHECK(k == n, "%ld ops, reference %ld", k, n);
    FUZZ_CHECK(p == end, "stopped %td bytes before the end", end - p);

    /* pack(unpack(x)): the same ops again */
    struct storebatch b;
    storebatch_init(&b);
    p = e;
    while (journal_next(&p, end, &op) == 1) {
        size_t bytes = 1;
        for (size_t i = 0; i < op.nf; i++)
            bytes += op.fl[i];
        FUZZ_CHECK(storebatch_reserve(&b, bytes, 1 + op.nf) == 0, "oom");
        b.off[b.nargs] = b.len;
        b.alen[b.nargs++] = 1;
        b.buf[b.len++] = (char)op.code;
        for (size_t i = 0; i < op.nf; i++) {
            b.off[b.nargs] = b.len;
            b.alen[b.nargs++] = op.fl[i];
            if (op.fl[i])
                memcpy(b.buf + b.len, op.f[i], op.fl[i]);
            b.len += op.fl[i];
        }
        b.nops++;
    }
    struct journal_buf out = { 0 };
    FUZZ_CHECK(journal_pack(&b, &out) == 0, "journal_pack() failed");
    FUZZ_CHECK(out.len <= len, "packed %zu bytes from %zu", out.len, len);
    static const uint8_t none[1];
    const uint8_t *q = out.p ? out.p : none, *qend = q + out.len;
    struct journal_op op2;
    p = e;
    k = 0;
    while (journal_next(&p, end, &op) == 1) {
        FUZZ_CHECK(journal_next(&q, qend, &op2) == 1,
                   "op %ld lost in the round trip", k);
        FUZZ_CHECK(op.code == op2.code && op.nf == op2.nf,
                   "op %ld changed in the round trip", k);
        for (size_t i = 0; i < op.nf; i++)
            FUZZ_CHECK(op.fl[i] == op2.fl[i] &&
                       !memcmp(op.f[i], op2.f[i], op.fl[i]),
                       "op %ld field %zu changed in the round trip", k, i);
        k++;
    }
    FUZZ_CHECK(journal_next(&q, qend, &op2) == 0,
               "the round trip added an op");
    journal_buf_free(&out);
    storebatch_free(&b);

    /* a known op with too few fields is malformed for the replay */
    p = e;
    while (journal_next(&p, end, &op) == 1)
        if (need(op.code) > 0 && op.nf < (size_t)need(op.code))
            return false;
    return true;
}

/* ---- what journal_replay_each() visits, serialized for comparison ---- */

struct trace {
    uint8_t *p;
    size_t len, cap;
    int last_kind;                  /* 0 none, 1 outbound, 2 agent, 3 contact */
};

static void tput(struct trace *t, const void *p, size_t n)
{
    if (t->len + n + sizeof(size_t) > t->cap) {
        size_t c = t->cap ? t->cap : 1024;
        while (c < t->len + n + sizeof(size_t))
            c *= 2;
        uint8_t *q = realloc(t->p, c);
        FUZZ_CHECK(q, "oom");
        t->p = q;
        t->cap = c;
    }
    memcpy(t->p + t->len, &n, sizeof(n));
    t->len += sizeof(n);
    if (n)
        memcpy(t->p + t->len, p, n);
    t->len += n;
}

static void tstr(struct trace *t, const char *s)
{
    FUZZ_CHECK(s, "a NULL string handed over");
    tput(t, s, strlen(s));
}

static void kind(struct trace *t, int k)
{
    FUZZ_CHECK(k >= t->last_kind, "kind %d visited after kind %d", k,
               t->last_kind);
    t->last_kind = k;
    uint8_t b = (uint8_t)k;
    tput(t, &b, 1);
}

static void v_outbound(void *arg, const char *member, size_t mlen,
                       const uint8_t *d, size_t len)
{
    struct trace *t = arg;
    kind(t, 1);
    FUZZ_CHECK(member[mlen] == '\0', "member not terminated");
    tput(t, member, mlen);
    tput(t, d, len);
}

static void v_agent(void *arg, const uint8_t *login, size_t len, int state,
                    const char *reason, const char *owner,
                    const char *principal)
{
    struct trace *t = arg;
    kind(t, 2);
    FUZZ_CHECK(len > 0, "an agent without its login handed over");
    tput(t, login, len);
    tput(t, &state, sizeof(state));
    tstr(t, reason);
    tstr(t, owner);
    tstr(t, principal);
}

static void v_contact(void *arg, const struct journal_contact *c)
{
    struct trace *t = arg;
    kind(t, 3);
    FUZZ_CHECK(c->len > 0, "a contact without its arrival handed over");
    tput(t, c->arrived, c->len);
    tput(t, &c->arrived_us, sizeof(c->arrived_us));
    tput(t, &c->seq, sizeof(c->seq));
    tput(t, &c->state, sizeof(c->state));
    tstr(t, c->queue);
    tstr(t, c->agent);
    tstr(t, c->owner);
    tstr(t, c->principal);
}

static bool same(const struct trace *a, const struct trace *b)
{
    return a->len == b->len && (!a->len || !memcmp(a->p, b->p, a->len));
}

static const struct journal_visit visit = { v_outbound, v_agent, v_contact };

static void each(struct journal_replay *j, struct trace *t, size_t *skipped)
{
    *skipped = 0;
    FUZZ_CHECK(journal_replay_each(j, &visit, t, skipped) == 0,
               "journal_replay_each() failed");
}

/* ---- the harness ---- */

#define MAX_ENTRIES 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *ent[MAX_ENTRIES];
    size_t elen[MAX_ENTRIES];
    bool good[MAX_ENTRIES];
    size_t n = 0, at = 0;

    while (at < size && n < MAX_ENTRIES) {
        uint64_t l;
        size_t start = at;
        if (ref_varint(data, size, &at, &l) < 0 || l > size - at) {
            at = start;
            l = size - at;
        }
        elen[n] = (size_t)l;
        ent[n] = malloc(l ? l : 1);
        FUZZ_CHECK(ent[n], "oom");
        if (l)
            memcpy(ent[n], data + at, l);
        at += (size_t)l;
        n++;
    }

    struct journal_replay *all = journal_replay_new();
    struct journal_replay *ok = journal_replay_new();
    FUZZ_CHECK(all && ok, "oom");
    for (size_t i = 0; i < n; i++) {
        good[i] = check_decode(ent[i], elen[i]);
        int rc = journal_replay_apply(all, ent[i], elen[i]);
        FUZZ_CHECK(rc == (good[i] ? 0 : -1),
                   "entry %zu: journal_replay_apply() %d, expected %d", i,
                   rc, good[i] ? 0 : -1);
        if (good[i])
            FUZZ_CHECK(journal_replay_apply(ok, ent[i], elen[i]) == 0,
                       "entry %zu refused the second time", i);
    }

    struct trace ta = { 0 }, tb = { 0 };
    size_t sa, sb;
    each(all, &ta, &sa);
    each(ok, &tb, &sb);
    FUZZ_CHECK(sa == sb && same(&ta, &tb),
               "a malformed entry changed the replayed state");
    FUZZ_CHECK(journal_replay_unknown(all) == journal_replay_unknown(ok),
               "a malformed entry's unknown ops were counted");

    /* visiting twice gives the same (each() does not consume the table) */
    struct trace tc = { 0 };
    size_t sc;
    each(all, &tc, &sc);
    FUZZ_CHECK(sc == sa && same(&tc, &ta),
               "a second journal_replay_each() differs");

    /* a reset forgets every object (op Z) */
    journal_replay_reset(all);
    struct trace td = { 0 };
    size_t sd;
    each(all, &td, &sd);
    FUZZ_CHECK(td.len == 0 && sd == 0, "objects left after a reset");

    free(ta.p);
    free(tb.p);
    free(tc.p);
    free(td.p);
    journal_replay_free(all);
    journal_replay_free(ok);
    for (size_t i = 0; i < n; i++)
        free(ent[i]);
    return 0;
}
