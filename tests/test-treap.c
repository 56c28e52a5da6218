/* test-treap.c -- engine/treap.c against a sorted array.
 *
 * The model is the simplest thing that is obviously right: an array of
 * the nodes in the tree, kept sorted by (k1, k2). After every operation of
 * a long random sequence the treap must agree with it on everything the
 * header promises: the minimum (treap_first, O(1) cache) and the walk
 * (treap_leftmost, treap_next), the size and the weight, ranks
 * (treap_count_less) and weighted choice (treap_pick); and the structure
 * must hold its own invariants (search order, heap order of priorities,
 * subtree sizes and weights, parent links).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "treap.h"

#define NMAX 600

/* An object that embeds its node, as the router's contacts do. */
struct item {
    struct tnode node;
    int in;                 /* in the tree */
};

static struct item items[NMAX];
static struct item *model[NMAX];   /* the members, sorted by (k1, k2) */
static size_t nmodel;

static void model_insert(struct item *it)
{
    size_t i = nmodel;
    while (i > 0 && tnode_less(&it->node, &model[i - 1]->node)) {
        model[i] = model[i - 1];
        i--;
    }
    model[i] = it;
    nmodel++;
}

static void model_remove(struct item *it)
{
    size_t i = 0;
    while (model[i] != it)
        i++;
    memmove(&model[i], &model[i + 1], (nmodel - i - 1) * sizeof(model[0]));
    nmodel--;
}

/* Checks the subtree under n; returns its size and adds its weight. */
static uint32_t check_subtree(const struct tnode *n, const struct tnode *p,
                              uint64_t *wsum)
{
    if (!n)
        return 0;
    assert_ptr_equal(n->p, p);
    if (p)
        assert_true(n->prio <= p->prio);   /* heap order */
    if (n->l)
        assert_true(tnode_less(n->l, n));
    if (n->r)
        assert_true(tnode_less(n, n->r));
    uint64_t wl = 0, wr = 0;
    uint32_t size = 1 + check_subtree(n->l, n, &wl) +
                    check_subtree(n->r, n, &wr);
    assert_int_equal(n->size, size);
    assert_int_equal(n->wsum, n->w + wl + wr);
    *wsum += n->wsum;
    return size;
}

/* The whole comparison with the model. */
static void check(const struct treap *t, struct rng *g)
{
    uint64_t w = 0, total = 0;
    assert_int_equal(check_subtree(t->root, NULL, &w), nmodel);
    assert_int_equal(treap_size(t), nmodel);
    for (size_t i = 0; i < nmodel; i++)
        total += model[i]->node.w;
    assert_int_equal(treap_weight(t), total);
    if (nmodel == 0) {
        assert_null(t->root);
        assert_null(treap_first(t));
        assert_null(treap_leftmost(t));
        return;
    }
    assert_ptr_equal(treap_first(t), &model[0]->node);
    assert_ptr_equal(treap_leftmost(t), &model[0]->node);
    const struct tnode *n = treap_first(t);
    for (size_t i = 0; i < nmodel; i++) {
        assert_ptr_equal(n, &model[i]->node);
        assert_ptr_equal(treap_root_of((struct tnode *)n), t->root);
        n = treap_next(n);
    }
    assert_null(n);

    /* Ranks: of members (the ends and a sample: the rank of each is
     * O(depth), and the degenerate tests make the depth O(n)), and of
     * keys between members. */
    for (int k = 0; k < 24; k++) {
        size_t i = k == 0 ? 0 : k == 1 ? nmodel - 1 : rng_next(g) % nmodel;
        const struct tnode *m = &model[i]->node;
        assert_int_equal(treap_count_less(t, m->k1, m->k2), i);
        assert_int_equal(treap_count_less(t, m->k1, m->k2 + 1), i + 1);
    }
    for (int k = 0; k < 8; k++) {
        uint64_t k1 = rng_next(g) % 64, k2 = rng_next(g) % 2048;
        struct tnode probe = { .k1 = k1, .k2 = k2 };
        uint32_t less = 0;
        while (less < nmodel && tnode_less(&model[less]->node, &probe))
            less++;
        assert_int_equal(treap_count_less(t, k1, k2), less);
    }

    /* Weighted choice: x falls in the range of exactly one member, in
     * order; both ends of the ranges of a sample of members, and random
     * points. */
    uint64_t lo = 0;
    for (size_t i = 0; i < nmodel; i++) {
        uint32_t wi = model[i]->node.w;
        if (wi && (i < 2 || rng_next(g) % 16 == 0)) {
            assert_ptr_equal(treap_pick(t, lo), &model[i]->node);
            assert_ptr_equal(treap_pick(t, lo + wi - 1), &model[i]->node);
        }
        lo += wi;
    }
    if (total) {
        for (int k = 0; k < 8; k++) {
            uint64_t x = rng_next(g) % total, acc = 0;
            size_t i = 0;
            while (acc + model[i]->node.w <= x)
                acc += model[i++]->node.w;
            assert_ptr_equal(treap_pick(t, x), &model[i]->node);
        }
    }
}

static void item_init(struct item *it, uint64_t k1, uint64_t k2, uint32_t w,
                      uint32_t prio)
{
    memset(it, 0, sizeof(*it));
    it->node.k1 = k1;
    it->node.k2 = k2;
    it->node.w = w;
    it->node.prio = prio;
}

static void reset_model(void)
{
    memset(items, 0, sizeof(items));
    nmodel = 0;
}

/* Random inserts and removes (removes of the minimum, as the router pops
 * the best contact, and of arbitrary members, as contacts leave), many
 * equal k1 values so that k2 decides, some zero weights. */
static void random_ops(uint64_t seed, int nops, int keyspace,
                       int prio_mode)
{
    struct treap t = { 0 };
    struct rng g;
    uint64_t seq = 0;
    rng_seed(&g, seed);
    reset_model();
    for (int op = 0; op < nops; op++) {
        uint64_t r = rng_next(&g);
        struct item *it = &items[r % NMAX];
        if (!it->in && (r >> 20) % 3 != 0) {
            uint32_t prio;
            if (prio_mode == 0)
                prio = (uint32_t)rng_mix(seq + 1);   /* a hash, as the router */
            else if (prio_mode == 1)
                prio = 7;                            /* all equal */
            else
                prio = (uint32_t)seq;                /* increasing */
            item_init(it, (r >> 32) % (uint64_t)keyspace, ++seq,
                      (uint32_t)((r >> 40) % 5), prio);
            treap_insert(&t, &it->node);
            it->in = 1;
            model_insert(it);
        } else if (nmodel && (r >> 24) % 4 == 0) {
            struct item *min = model[0];
            assert_ptr_equal(treap_first(&t), &min->node);
            treap_remove(&t, &min->node);
            min->in = 0;
            model_remove(min);
        } else if (it->in) {
            treap_remove(&t, &it->node);
            assert_null(it->node.p);
            assert_null(it->node.l);
            assert_null(it->node.r);
            it->in = 0;
            model_remove(it);
        }
        check(&t, &g);
    }
    /* Drain in random order. */
    while (nmodel) {
        struct item *it = model[rng_next(&g) % nmodel];
        treap_remove(&t, &it->node);
        it->in = 0;
        model_remove(it);
        check(&t, &g);
    }
    assert_int_equal(treap_size(&t), 0);
}

static void test_random_against_model(void **state)
{
    for (uint64_t seed = 1; seed <= 6; seed++)
        random_ops(seed, 2500, 40, 0);
}

/* Few distinct k1: order rests on k2 (the sequence number). */
static void test_random_equal_keys(void **state)
{
    random_ops(77, 3000, 2, 0);
}

/* Priorities that do not balance anything (all equal; increasing, which
 * makes a path): slower, but every answer stays right. */
static void test_degenerate_priorities(void **state)
{
    random_ops(5, 1500, 1000, 1);
    random_ops(6, 1500, 1000, 2);
}

static void test_first_follows_min(void **state)
{
    struct treap t = { 0 };
    struct item a, b, c, d;
    item_init(&a, 5, 1, 1, 100);
    item_init(&b, 3, 2, 1, 200);
    item_init(&c, 3, 3, 1, 50);
    item_init(&d, 9, 4, 1, 300);
    treap_insert(&t, &a.node);
    assert_ptr_equal(treap_first(&t), &a.node);
    treap_insert(&t, &d.node);                 /* larger: first stays */
    assert_ptr_equal(treap_first(&t), &a.node);
    treap_insert(&t, &c.node);                 /* smaller: new first */
    assert_ptr_equal(treap_first(&t), &c.node);
    treap_insert(&t, &b.node);                 /* same k1, lower k2 */
    assert_ptr_equal(treap_first(&t), &b.node);
    assert_int_equal(treap_size(&t), 4);
    assert_int_equal(treap_count_less(&t, 3, 3), 1);
    assert_int_equal(treap_count_less(&t, 4, 0), 2);
    treap_remove(&t, &a.node);                 /* not the min */
    assert_ptr_equal(treap_first(&t), &b.node);
    treap_remove(&t, &b.node);                 /* the min: next one */
    assert_ptr_equal(treap_first(&t), &c.node);
    treap_remove(&t, &c.node);
    assert_ptr_equal(treap_first(&t), &d.node);
    assert_ptr_equal(t.root, &d.node);
    treap_remove(&t, &d.node);
    assert_null(treap_first(&t));
    assert_null(t.root);
    assert_int_equal(treap_size(&t), 0);
    assert_int_equal(treap_weight(&t), 0);
    /* Reinserting a removed node works (nodes are reused by the router). */
    treap_insert(&t, &c.node);
    assert_ptr_equal(treap_first(&t), &c.node);
    assert_int_equal(treap_size(&t), 1);
    uint64_t w = 0;
    assert_int_equal(check_subtree(t.root, NULL, &w), 1);
    assert_int_equal(w, 1);
}

/* Zero-weight members are never picked; the weights are proportional
 * ranges in order. */
static void test_pick_ranges(void **state)
{
    struct treap t = { 0 };
    struct item it[4];
    item_init(&it[0], 1, 1, 3, 10);
    item_init(&it[1], 2, 2, 0, 40);
    item_init(&it[2], 3, 3, 2, 30);
    item_init(&it[3], 4, 4, 0, 20);
    for (int i = 0; i < 4; i++)
        treap_insert(&t, &it[i].node);
    assert_int_equal(treap_weight(&t), 5);
    for (uint64_t x = 0; x < 3; x++)
        assert_ptr_equal(treap_pick(&t, x), &it[0].node);
    for (uint64_t x = 3; x < 5; x++)
        assert_ptr_equal(treap_pick(&t, x), &it[2].node);
    /* Removing a weighted node moves the ranges after it. */
    treap_remove(&t, &it[0].node);
    assert_int_equal(treap_weight(&t), 2);
    assert_ptr_equal(treap_pick(&t, 0), &it[2].node);
    assert_ptr_equal(treap_pick(&t, 1), &it[2].node);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_follows_min),
        cmocka_unit_test(test_pick_ranges),
        cmocka_unit_test(test_random_against_model),
        cmocka_unit_test(test_random_equal_keys),
        cmocka_unit_test(test_degenerate_priorities),
    };
    return cmocka_run_group_tests_name("treap", tests, NULL, NULL);
}
