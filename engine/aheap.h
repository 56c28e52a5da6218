/* aheap.h -- agent heaps: the available agents of one pool whose order is
 * not the order in which they become available (most skilled, least
 * occupied), as a binary min-heap of records in one array.
 *
 * A record carries its key (k1, k2) and (agent handle, epoch). As in the
 * longest idle rings (lring.h), the owner decides what a record means: a
 * record is *valid* while the agent's epoch for the heap's channel equals
 * the record's, so the owner makes every record of an agent stale at once
 * by moving its epoch on, without touching a heap; an agent whose key
 * changes gets a new epoch and a new record. Stale records are dropped
 * when they reach the top (aheap_pop by the owner) or by a compaction
 * when the array is full.
 *
 * Why a heap and not a search tree: a pick only needs the minimum, and a
 * key change is a push of a new record, so nothing is ever unlinked from
 * the middle. A push sifts up from the last slot of a contiguous array
 * (expected O(1) moves for a key that is not the smallest), a pop sifts
 * down, O(log n) on contiguous memory; no node, no pointer, no rotation.
 * The next valid record after an excluded minimum is found by a walk
 * that descends only into subtrees whose root orders before the best
 * candidate so far (aheap order), O(records ahead of the answer).
 *
 * Capacity is kept at >= 2 x members + 16 (aheap_reserve(), at login or
 * pool creation, never on the decision path). An agent has at most one
 * valid record, so a compaction (drop the stale records, heapify: O(len))
 * leaves at least members + 16 free slots: amortized O(1) a push.
 */
#ifndef CCROUTE_AHEAP_H
#define CCROUTE_AHEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hrec {
    uint64_t k1, k2;            /* the key, lower first; k2 unique */
    uint32_t agent;
    uint32_t ep;
};

/* Whether record x of a heap on channel ch is valid now. */
typedef bool (*aheap_valid_cb)(const void *ctx, unsigned ch,
                               const struct hrec *x);

struct aheap_ops {
    const void *ctx;
    aheap_valid_cb valid;
};

struct aheap {
    struct hrec *v;             /* owned, cap records, heap-ordered */
    uint32_t len, cap;
    uint32_t members;           /* agents with a place, valid or not */
};

static inline bool hrec_less(const struct hrec *a, const struct hrec *b)
{
    return a->k1 < b->k1 || (a->k1 == b->k1 && a->k2 < b->k2);
}

/* Makes room for one more member. Returns 0 or -ENOMEM (nothing changed
 * then). */
int aheap_reserve(struct aheap *h);
/* One member fewer (its records go stale through its epoch). */
static inline void aheap_unreserve(struct aheap *h)
{
    h->members--;
}
/* Frees the records. */
void aheap_free(struct aheap *h);

void aheap__compact(struct aheap *h, const struct aheap_ops *o, unsigned ch);

/* Pushes valid record x. Amortized O(1) moves when x is not among the
 * smallest; O(log len) at worst. */
static inline void aheap_push(struct aheap *h, const struct aheap_ops *o,
                              unsigned ch, struct hrec x)
{
    if (__builtin_expect(h->len == h->cap, 0))
        aheap__compact(h, o, ch);
    uint32_t i = h->len++;
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!hrec_less(&x, &h->v[p]))
            break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = x;
}

/* The minimum record, or NULL when empty. Borrowed until the next change. */
static inline const struct hrec *aheap_top(const struct aheap *h)
{
    return h->len ? &h->v[0] : NULL;
}

/* Drops the minimum record (the owner met it stale). O(log len). */
void aheap_pop(struct aheap *h);

/* For invariant checks: heap order holds and the sizes are consistent
 * (len <= cap, cap >= 2 x members + 16 when there are members). */
bool aheap_check(const struct aheap *h);

#endif
