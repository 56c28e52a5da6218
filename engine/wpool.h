/* wpool.h -- weighted random pools: the members of one pool in a fixed
 * order, each with a weight that is non-zero while it can be chosen, and
 * the sums of the weights by blocks of 64 slots and by superblocks of
 * 4096 slots, for the draw.
 *
 * Members have slots in the order they joined (the router appends agents
 * in login order, its uid order, and sorts them so when it fills a new
 * pool); a member that leaves leaves a hole (no agent, weight 0). The
 * draw wpool_pick(x), x < total, returns the slot whose cumulative weight
 * range in slot order holds x: what a search tree in the same order with
 * subtree weight sums returns, without nodes or rotations.
 *
 * Why blocks and not a Fenwick tree: a weight changes twice for every
 * availability cycle of every member (the router's hot path), a draw
 * happens once per routed contact of a weighted queue. A Fenwick update
 * writes log n words spread over the tree, most of them cache misses;
 * a block update writes the weight and two sums, whose arrays (n / 64
 * and n / 4096 words) stay in cache. The draw scans superblock sums,
 * then one superblock's block sums, then one block's weights: at most
 * n / 4096 + 64 + 64 additions over contiguous words.
 *
 * Complexity (n = slots): set a weight O(1); pick O(n / 4096 + 128);
 * reserve amortized O(1), but when the slots are full it either compacts
 * the holes away (the owner is told the new slot of each member that
 * moved) or doubles the arrays, O(n) either way, at login or pool
 * creation, never on the decision path. Capacity is kept at >= 2 x
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

#define WPOOL_BLK_SHIFT 6      /* 64 slots a block */
#define WPOOL_SUP_SHIFT 12     /* 4096 slots a superblock */

struct wpool {
    uint32_t *agent;            /* owned: slot -> member, or WPOOL_HOLE */
    uint32_t *w;                /* owned: slot -> weight now */
    uint64_t *blk;              /* owned: sum of each block's weights */
    uint64_t *sup;              /* owned: sum of each superblock's */
    uint32_t len, cap;          /* slots used (members and holes); cap a
                                   power of two >= 32 (or 0) */
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
/* Sets every weight to 0 (the members keep their slots). O(len). */
void wpool_clear(struct wpool *p);

/* Sets the weight of `slot`. O(1). */
static inline void wpool_set(struct wpool *p, uint32_t slot, uint32_t w)
{
    uint32_t old = p->w[slot];
    if (old == w)
        return;
    p->w[slot] = w;
    uint64_t d = (uint64_t)w - old;     /* modular: adds or subtracts */
    p->total += d;
    p->blk[slot >> WPOOL_BLK_SHIFT] += d;
    p->sup[slot >> WPOOL_SUP_SHIFT] += d;
}

/* The slot whose cumulative weight range holds x, for x < total. */
uint32_t wpool_pick(const struct wpool *p, uint64_t x);

/* For invariant checks: the sums agree with the weights, holes weigh
 * nothing, the counts and sizes are consistent. */
bool wpool_check(const struct wpool *p);

#endif
