/* treap.h -- intrusive order-statistic treap with subtree weights.
 *
 * The router keeps its contact indexes in these: waiting contacts per
 * (queue, expansion level, channel) ordered by score, and each agent's
 * preferred contacts; of the agent pools, only round robin ones (the
 * others are rings, heaps and weighted pools, see router.c). The
 * node is embedded in the indexed object (no allocation); ordering is by
 * the pair (k1, k2), both unsigned, lower first; k2 is a unique sequence
 * number so no two nodes compare equal.
 *
 * Each node carries its subtree size (for positions: treap_count_less) and
 * subtree weight (for weighted random choice: treap_pick). Priorities come
 * from the caller (a hash), which keeps the expected depth O(log n).
 *
 * Complexity (n nodes): insert, remove, rank, count_less, pick O(log n)
 * expected; first O(1) (cached); next O(1) amortized over an in-order
 * walk.
 */
#ifndef CCROUTE_TREAP_H
#define CCROUTE_TREAP_H

#include <stddef.h>
#include <stdint.h>

struct tnode {
    struct tnode *l, *r, *p;
    uint64_t k1, k2;
    uint64_t wsum;          /* weight of the subtree */
    uint32_t w;             /* own weight */
    uint32_t size;          /* nodes in the subtree */
    uint32_t prio;          /* heap priority, higher nearer the root */
};

struct treap {
    struct tnode *root;
    struct tnode *first;    /* leftmost node, kept by insert and remove */
};

static inline int tnode_less(const struct tnode *a, const struct tnode *b)
{
    return a->k1 < b->k1 || (a->k1 == b->k1 && a->k2 < b->k2);
}

static inline uint32_t treap_size(const struct treap *t)
{
    return t->root ? t->root->size : 0;
}

static inline uint64_t treap_weight(const struct treap *t)
{
    return t->root ? t->root->wsum : 0;
}

/* Inserts `n`, whose k1, k2, w and prio the caller has set. */
void treap_insert(struct treap *t, struct tnode *n);
/* Removes `n`, which must be in `t`. */
void treap_remove(struct treap *t, struct tnode *n);
/* The smallest node, O(1). */
static inline struct tnode *treap_first(const struct treap *t)
{
    return t->first;
}
/* The smallest node found by walking, for checks. */
struct tnode *treap_leftmost(const struct treap *t);
struct tnode *treap_next(const struct tnode *n);
/* Number of nodes ordered before (k1, k2). */
uint32_t treap_count_less(const struct treap *t, uint64_t k1, uint64_t k2);
/* The node whose cumulative weight range (in order) holds x, for
 * x < treap_weight(t). */
struct tnode *treap_pick(const struct treap *t, uint64_t x);
/* The root of the tree holding `n` (for invariant checks). */
struct tnode *treap_root_of(struct tnode *n);

#endif
