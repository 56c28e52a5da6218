/* wpool.h -- weighted random pools: the members of one pool in a fixed
 * order, each with a weight that is non-zero while it can be chosen, and
 * a Fenwick tree (binary indexed tree) of the weights for the draw.
 *
 * Members have slots in the order they joined (the router appends agents
 * in login order, its uid order, and sorts them so when it fills a new
 * pool); a member that leaves leaves a hole (no agent, weight 0). The
 * draw wpool_pick(x), x < total, returns the slot whose cumulative weight
 * range in slot order holds x: what a search tree in the same order with
 * subtree weight sums returns, without nodes or rotations.
 *
 * Complexity (n = slots): set a weight O(log n) on contiguous arrays;
 * pick O(log n); reserve amortized O(1), but when the slots are full it
 * either compacts the holes away (the owner is told the new slot of each
 * member that moved) or doubles the arrays, O(n) either way, at login or
 * pool creation, never on the decision path. Capacity is kept at >= 2 x
 * members + 16 so that at least members + 16 joins separate two such
 * rebuilds.
 */
#ifndef CCROUTE_WPOOL_H
#define CCROUTE_WPOOL_H

#include <stdbool.h>
#include <stdint.h>

#define WPOOL_HOLE UINT32_MAX

/* Member `agent` now has slot `slot` (after a compaction). */
typedef void (*wpool_moved_cb)(void *ctx, uint32_t agent, uint32_t slot);

struct wpool {
    uint32_t *agent;            /* owned: slot -> member, or WPOOL_HOLE */
    uint32_t *w;                /* owned: slot -> weight now */
    uint32_t *bit;              /* owned: Fenwick tree, cap + 1 words */
    uint32_t len, cap;          /* slots used (members and holes); cap a
                                   power of two (or 0) */
    uint32_t members;
    uint64_t total;             /* sum of the weights */
};

/* Gives `agent` the next slot (weight 0), compacting or growing first if
 * the slots are full; `moved` is told of every member that a compaction
 * moved. Returns the slot, or -ENOMEM (nothing changed then). */
int wpool_add(struct wpool *p, uint32_t agent, wpool_moved_cb moved,
              void *ctx);
/* Leaves a hole at `slot` (its weight must be 0). */
void wpool_remove(struct wpool *p, uint32_t slot);
/* Frees the arrays. */
void wpool_free(struct wpool *p);

/* Sets the weight of `slot`. O(log cap). */
static inline void wpool_set(struct wpool *p, uint32_t slot, uint32_t w)
{
    uint32_t old = p->w[slot];
    if (old == w)
        return;
    p->w[slot] = w;
    p->total += (uint64_t)w - old;
    uint32_t d = w - old;       /* modular: adds or subtracts */
    for (uint32_t i = slot + 1; i <= p->cap; i += i & -i)
        p->bit[i] += d;
}

/* The slot whose cumulative weight range holds x, for x < total. */
uint32_t wpool_pick(const struct wpool *p, uint64_t x);

/* For invariant checks: the tree agrees with the weights, holes weigh
 * nothing, the counts and sizes are consistent. */
bool wpool_check(const struct wpool *p);

#endif
