/* test-wpool.c -- engine/wpool.c (weighted random pools) and engine/aheap.c
 * (agent heaps) against plain arrays.
 *
 * wpool: a random sequence of joins, leaves and weight changes, long
 * enough for many compactions and growths; after each operation the pool
 * must agree with the model (members in join order with their weights)
 * on the total, on every slot the owner was told of (the moved callback),
 * and on wpool_pick for every x < total (the slot whose cumulative range
 * holds x, in member order); wpool_check must hold.
 *
 * aheap: random pushes of records with random keys and epochs, pops and
 * compactions; the top must be the smallest valid-or-stale record the
 * model holds, and compaction must keep exactly the valid ones.
 *
 * oring: random agents of random tops (the highest busy count at which
 * each can take the channel) that become idle at some busy count (the
 * newest key), move up a busy count keeping their key, or go busy (their
 * records stale); each ring must hold its valid records in key order and
 * of its busy count, and the first valid record of the lowest ring or
 * the heap's smallest valid record must be the model's least key.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aheap.h"
#include "oring.h"
#include "rng.h"
#include "sring.h"
#include "wpool.h"

#define NAG 300

struct wmodel {
    uint32_t slot[NAG];         /* the pool's slot of each agent */
    int in[NAG];
    uint32_t weight[NAG];
    uint64_t order[NAG];        /* join sequence */
    uint64_t seq;
};

static void moved(void *ctx, uint32_t agent, uint32_t slot)
{
    struct wmodel *m = ctx;
    assert_true(agent < NAG && m->in[agent]);
    m->slot[agent] = slot;
}

/* Members sorted by join order (insertion sort into out). */
static unsigned members_in_order(const struct wmodel *m, uint32_t *out)
{
    unsigned n = 0;
    for (uint32_t a = 0; a < NAG; a++) {
        if (!m->in[a])
            continue;
        unsigned i = n++;
        while (i > 0 && m->order[out[i - 1]] > m->order[a]) {
            out[i] = out[i - 1];
            i--;
        }
        out[i] = a;
    }
    return n;
}

static void wagree(const struct wpool *p, const struct wmodel *m)
{
    assert_true(wpool_check(p));
    uint32_t ord[NAG];
    unsigned n = members_in_order(m, ord);
    assert_int_equal(p->members, n);
    uint64_t total = 0;
    uint32_t prev = 0;
    for (unsigned i = 0; i < n; i++) {
        uint32_t a = ord[i];
        assert_int_equal(p->agent[m->slot[a]], a);
        assert_int_equal(p->w[m->slot[a]], m->weight[a]);
        if (i)
            assert_true(m->slot[a] > prev);     /* slot order = join order */
        prev = m->slot[a];
        total += m->weight[a];
    }
    assert_int_equal(p->total, total);
    /* every x: the member whose range holds it */
    uint64_t lo = 0;
    for (unsigned i = 0; i < n; i++) {
        uint32_t a = ord[i];
        for (uint64_t x = lo; x < lo + m->weight[a]; x++)
            assert_int_equal(p->agent[wpool_pick(p, x)], a);
        lo += m->weight[a];
    }
}

static void test_wpool_random(void **state)
{
    (void)state;
    struct rng g;
    rng_seed(&g, 7);
    struct wpool p;
    memset(&p, 0, sizeof(p));
    static struct wmodel m;
    memset(&m, 0, sizeof(m));
    unsigned compactions = 0;
    for (unsigned step = 0; step < 6000; step++) {
        uint32_t a = (uint32_t)(rng_next(&g) % NAG);
        unsigned op = (unsigned)(rng_next(&g) % 3);
        if (!m.in[a]) {
            uint32_t len_before = p.len, cap_before = p.cap;
            m.in[a] = 1;
            m.order[a] = ++m.seq;
            int s = wpool_add(&p, a, moved, &m);
            assert_true(s >= 0);
            m.slot[a] = (uint32_t)s;
            m.weight[a] = 0;
            if (len_before == cap_before && cap_before == p.cap)
                compactions++;
        } else if (op == 0) {
            wpool_set(&p, m.slot[a], 0);
            wpool_remove(&p, m.slot[a]);
            m.in[a] = 0;
        } else {
            uint32_t w = (uint32_t)(rng_next(&g) % 4) * 7;
            wpool_set(&p, m.slot[a], w);
            m.weight[a] = w;
        }
        if (step % 7 == 0)
            wagree(&p, &m);
    }
    wagree(&p, &m);
    assert_true(compactions > 0);
    wpool_free(&p);
}

static void never_moved(void *ctx, uint32_t agent, uint32_t slot)
{
    (void)ctx;
    fail_msg("agent %u moved to slot %u without a hole", agent, slot);
}

/* A pool past one superblock of sums (4096 slots), weights changed at
 * random: the draw still finds, for the first and last x of every
 * member's range, that member. */
static void test_wpool_large(void **state)
{
    (void)state;
    enum { N = 9000 };
    struct rng g;
    rng_seed(&g, 13);
    struct wpool p;
    memset(&p, 0, sizeof(p));
    static uint32_t slot[N], weight[N];
    for (uint32_t a = 0; a < N; a++) {
        int s = wpool_add(&p, a, never_moved, NULL);
        assert_true(s >= 0);
        slot[a] = (uint32_t)s;
        weight[a] = 0;
    }
    assert_true(p.cap > 2 * 4096);
    for (unsigned round = 0; round < 3; round++) {
        for (unsigned k = 0; k < 20000; k++) {
            uint32_t a = (uint32_t)(rng_next(&g) % N);
            uint32_t w = (uint32_t)(rng_next(&g) % 3 == 0
                                        ? 0 : 1 + rng_next(&g) % 4095);
            wpool_set(&p, slot[a], w);
            weight[a] = w;
        }
        assert_true(wpool_check(&p));
        uint64_t lo = 0;
        for (uint32_t a = 0; a < N; a++) {
            if (!weight[a])
                continue;
            assert_int_equal(p.agent[wpool_pick(&p, lo)], a);
            assert_int_equal(p.agent[wpool_pick(&p, lo + weight[a] - 1)], a);
            lo += weight[a];
        }
        assert_int_equal(p.total, lo);
    }
    wpool_free(&p);
}

/* ---- aheap ---- */

static uint32_t cur_ep[NAG];

static bool hvalid(const void *ctx, unsigned ch, const struct hrec *x)
{
    (void)ctx;
    (void)ch;
    return cur_ep[x->agent] == x->ep;
}

static void test_aheap_random(void **state)
{
    (void)state;
    struct rng g;
    rng_seed(&g, 11);
    struct aheap h;
    memset(&h, 0, sizeof(h));
    const struct aheap_ops o = {NULL, hvalid};
    static int member[NAG];
    memset(member, 0, sizeof(member));
    memset(cur_ep, 0, sizeof(cur_ep));
    uint64_t seq = 0;
    for (unsigned step = 0; step < 20000; step++) {
        uint32_t a = (uint32_t)(rng_next(&g) % NAG);
        unsigned op = (unsigned)(rng_next(&g) % 4);
        if (!member[a]) {
            assert_int_equal(aheap_reserve(&h), 0);
            member[a] = 1;
        } else if (op == 0) {
            cur_ep[a]++;            /* its records go stale */
        } else if (op == 1 && h.len) {
            aheap_pop(&h);
        } else {
            cur_ep[a]++;            /* a new key: a new record */
            struct hrec x = {rng_next(&g) % 50, ++seq, a, cur_ep[a]};
            aheap_push(&h, &o, 0, x);
        }
        assert_true(aheap_check(&h));
        /* the top is the smallest record held */
        for (uint32_t i = 0; i < h.len; i++)
            assert_false(hrec_less(&h.v[i], &h.v[0]));
        /* at most one valid record per agent */
        uint32_t nvalid = 0;
        for (uint32_t i = 0; i < h.len; i++)
            nvalid += hvalid(NULL, 0, &h.v[i]);
        assert_true(nvalid <= h.members);
    }
    aheap__compact(&h, &o, 0);
    assert_true(aheap_check(&h));
    for (uint32_t i = 0; i < h.len; i++)
        assert_true(hvalid(NULL, 0, &h.v[i]));
    aheap_free(&h);
}

/* ---- wpool_clear, sring ---- */

static void nomove(void *ctx, uint32_t agent, uint32_t slot)
{
    (void)ctx;
    (void)agent;
    (void)slot;
}

/* wpool_clear: every weight 0, the sums too, the members keep their
 * slots and can be weighted again. */
static void test_wpool_clear(void **state)
{
    struct wpool p;
    memset(&p, 0, sizeof(p));
    for (uint32_t a = 0; a < 5000; a++) {
        int s = wpool_add(&p, a, nomove, NULL);
        assert_int_equal(s, (int)a);
        wpool_set(&p, (uint32_t)s, 1 + a % 7);
    }
    assert_true(p.total > 0);
    wpool_clear(&p);
    assert_int_equal(p.total, 0);
    assert_true(wpool_check(&p));
    for (uint32_t i = 0; i < p.len; i++)
        assert_int_equal(p.w[i], 0);
    assert_int_equal(p.members, 5000);
    wpool_set(&p, 4097, 3);
    assert_int_equal(wpool_pick(&p, 2), 4097);
    assert_true(wpool_check(&p));
    wpool_free(&p);
    (void)state;
}

static bool lvalid(const void *ctx, unsigned ch, const struct lrec *x)
{
    (void)ctx;
    (void)ch;
    return x->ep != 0;
}

/* sring_next walks the marked scores from the highest down across the
 * words of the bitmap; reserve, append, clear and unreserve keep
 * sring_check's sizes and marks. */
static void test_sring(void **state)
{
    struct sring p;
    memset(&p, 0, sizeof(p));
    const struct lring_ops o = {NULL, lvalid, NULL};
    assert_int_equal(sring_next(&p, SRING_SCORES), -1);
    static const unsigned sc[] = {0, 5, 63, 64, 70, SRING_SCORES - 1};
    for (unsigned i = 0; i < sizeof(sc) / sizeof(sc[0]); i++)
        assert_int_equal(sring_reserve(&p, sc[i]), 0);
    assert_true(sring_check(&p));
    assert_int_equal(sring_reserve(&p, SRING_SCORES), -EINVAL);
    for (unsigned i = 0; i < sizeof(sc) / sizeof(sc[0]); i++)
        sring_append(&p, &o, 0, sc[i], (struct lrec){i, 1}, 10 + i, i);
    assert_true(sring_check(&p));
    int want[] = {SRING_SCORES - 1, 70, 64, 63, 5, 0, -1};
    int s = SRING_SCORES;
    for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        s = sring_next(&p, s);
        assert_int_equal(s, want[i]);
        if (s < 0)
            break;
        assert_int_equal(p.ring[s].len, 1);
    }
    assert_int_equal(sring_next(&p, 64), 63);
    assert_int_equal(sring_next(&p, 65), 64);
    assert_int_equal(sring_next(&p, 1), 0);
    assert_int_equal(sring_next(&p, 0), -1);
    sring_clear(&p);
    assert_int_equal(sring_next(&p, SRING_SCORES), -1);
    assert_true(sring_check(&p));
    for (unsigned i = 0; i < sizeof(sc) / sizeof(sc[0]); i++)
        sring_unreserve(&p, sc[i]);
    assert_int_equal(p.members, 0);
    assert_true(sring_check(&p));
    sring_free(&p);
    (void)state;
}

/* ---- oring ---- */

struct omodel {
    unsigned top, busy;
    uint64_t since, seq;
    int has;                    /* a valid record */
};

static struct omodel om[NAG];

static bool ovalid_l(const void *ctx, unsigned ch, const struct lrec *x)
{
    (void)ctx;
    (void)ch;
    return cur_ep[x->agent] == x->ep;
}

static bool obefore(const void *ctx, uint32_t a, uint32_t b)
{
    (void)ctx;
    return om[a].since < om[b].since ||
           (om[a].since == om[b].since && om[a].seq < om[b].seq);
}

static uint64_t okey1(uint32_t a)
{
    return (uint64_t)om[a].busy << 52 | om[a].since;
}

static void test_oring_random(void **state)
{
    (void)state;
    struct rng g;
    rng_seed(&g, 12);
    struct oring p;
    memset(&p, 0, sizeof(p));
    const struct lring_ops lo = {NULL, ovalid_l, obefore};
    const struct aheap_ops ho = {NULL, hvalid};
    static int member[NAG];
    memset(member, 0, sizeof(member));
    memset(cur_ep, 0, sizeof(cur_ep));
    memset(om, 0, sizeof(om));
    uint64_t clock = 1000, seq = 0;
    unsigned to_heap = 0, inserted = 0;
    for (unsigned step = 0; step < 30000; step++) {
        uint32_t a = (uint32_t)(rng_next(&g) % NAG);
        unsigned op = (unsigned)(rng_next(&g) % 8);
        struct omodel *m = &om[a];
        if (!member[a]) {
            m->top = (unsigned)(rng_next(&g) % 7);  /* some above rings */
            assert_int_equal(oring_reserve(&p, m->top), 0);
            member[a] = 1;
            continue;
        }
        if (op == 0) {
            cur_ep[a]++;            /* cannot take it: records stale */
            m->has = 0;
            continue;
        }
        if (op <= 2 && m->has && m->busy < m->top) {
            m->busy++;              /* an offer: up, the key kept */
        } else {
            /* idle or a slot freed: a new key, now or (rarely) from a
             * clock that went back */
            m->busy = (unsigned)(rng_next(&g) % (m->top + 1));
            m->since = op == 7 && step % 5 == 0 ? clock - 40 : ++clock;
            m->seq = ++seq;
        }
        cur_ep[a]++;
        m->has = 1;
        uint32_t hl = p.h.len;
        if (oring_fits(&p, m->busy, m->since, m->seq) || m->top == 0)
            oring_add_ring(&p, &lo, 0, m->busy, (struct lrec){a, cur_ep[a]},
                           m->since, m->seq);
        else
            oring_add_heap(&p, &ho, 0,
                           (struct hrec){okey1(a), m->seq, a, cur_ep[a]});
        to_heap += p.h.len > hl;
        if (m->top == 0) {          /* ring 0 always; in order? */
            const struct lrec *back = lring_at(&p.ring[0],
                                               p.ring[0].len - 1);
            inserted += back->agent != a || back->ep != cur_ep[a];
        }
        assert_true(oring_check(&p));
        /* rings: valid records in key order, of their busy count */
        uint32_t nvalid = 0;
        int best = -1;
        for (uint32_t b = 0; b < p.nr; b++) {
            const struct lring *r = &p.ring[b];
            int prev = -1;
            for (uint32_t i = 0; i < r->len; i++) {
                const struct lrec *x = lring_at(r, i);
                if (!ovalid_l(NULL, 0, x))
                    continue;
                assert_int_equal(om[x->agent].busy, b);
                if (prev >= 0)
                    assert_true(obefore(NULL, (uint32_t)prev, x->agent));
                if (best < 0)
                    best = (int)x->agent;
                prev = (int)x->agent;
                nvalid++;
            }
        }
        for (uint32_t i = 0; i < p.h.len; i++) {
            const struct hrec *x = &p.h.v[i];
            if (!hvalid(NULL, 0, x))
                continue;
            assert_true(x->k1 == okey1(x->agent) && x->k2 == om[x->agent].seq);
            if (best < 0 || x->k1 < okey1((uint32_t)best) ||
                (x->k1 == okey1((uint32_t)best) &&
                 x->k2 < om[best].seq))
                best = (int)x->agent;
            nvalid++;
        }
        /* one valid record for each agent that has one; the least */
        uint32_t want = 0;
        int least = -1;
        for (uint32_t k = 0; k < NAG; k++) {
            if (!member[k] || !om[k].has)
                continue;
            want++;
            if (least < 0 || okey1(k) < okey1((uint32_t)least) ||
                (okey1(k) == okey1((uint32_t)least) &&
                 om[k].seq < om[least].seq))
                least = (int)k;
        }
        assert_int_equal(nvalid, want);
        assert_int_equal(best, least);
    }
    /* the paths this test is for were taken */
    assert_true(to_heap > 100);
    assert_true(inserted > 0);
    oring_clear(&p);
    assert_true(oring_check(&p));
    for (uint32_t k = 0; k < NAG; k++)
        if (member[k])
            oring_unreserve(&p, om[k].top);
    assert_int_equal(p.members, 0);
    assert_true(oring_check(&p));
    oring_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wpool_random),
        cmocka_unit_test(test_wpool_large),
        cmocka_unit_test(test_aheap_random),
        cmocka_unit_test(test_wpool_clear),
        cmocka_unit_test(test_sring),
        cmocka_unit_test(test_oring_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
