/* oring.h -- least occupied pools as one longest idle ring per busy
 * count, and a heap for the keys no ring can take in order.
 *
 * A least occupied pool orders its available agents by (busy slots,
 * idle_since, idle_seq). Within one busy count that is longest idle
 * order, and most keys are made the way a longest idle ring wants them:
 * an agent becomes idle, or frees a slot, with a new idle_since, the
 * newest key (router.c). Such a record is appended to the ring of its
 * busy count in O(1) (lring.h) and dropped at the ring's front in O(1)
 * when stale -- no sift on a push, no O(log n) pop of a stale top.
 *
 * One change of key makes no new idle_since: an agent offered a contact
 * that can still take the channel (capacity left on it) keeps its
 * idle_since and moves to the next busy count, where agents idle since
 * later may already be. Offers go to whichever agent a queue picks, in
 * any order, so no ring can take those keys in order: a record whose key
 * is older than the last one appended to its ring goes to the pool's
 * heap of records (aheap.h) instead, as does one of a busy count >=
 * ORING_RINGS. The best record is the smaller of the first valid record
 * of the lowest busy count whose ring holds one and the heap's top, so
 * the order is exactly the heap's order over all records.
 *
 * Room. A member reserves a place (2 records + 16 per ring, as
 * lring_reserve does) in the rings of the busy counts at which it can
 * take the channel (0..top, at most ORING_RINGS of them), and one in the
 * heap when top >= 1: an agent that can take the channel only while it
 * has nothing else (one slot in all, or voice when voice blocks the
 * others) never moves up while it can take the channel, so its records
 * always go to ring 0 -- through the ring's ordered insertion in the
 * rare case that its key is not the newest there (a clock that stepped
 * back, a care load in idle_seq's high bits). So every valid record has
 * a reserved place where it is, and each ring and the heap compact on
 * their own. Validity of records is the owner's, through the callbacks
 * of lring.h and aheap.h; the owner passes each record's key, the ring's
 * records carry none (the owner reads it from the agent).
 */
#ifndef CCROUTE_ORING_H
#define CCROUTE_ORING_H

#include <stdbool.h>
#include <stdint.h>

#include "aheap.h"
#include "lring.h"

#define ORING_RINGS 4

struct oring {
    struct lring *ring;         /* owned: nr rings, ring[b] for busy b */
    struct aheap h;             /* the records no ring takes in order */
    uint32_t nr;
    uint32_t members;
    uint32_t nonempty;          /* bit b: ring b may hold records */
};

/* Makes room for one more member that can take the channel at busy
 * counts 0..top. Returns 0 or -ENOMEM (nothing changed then). */
int oring_reserve(struct oring *p, unsigned top);
/* One member of busy counts 0..top fewer. */
void oring_unreserve(struct oring *p, unsigned top);
/* Frees the rings and the heap. */
void oring_free(struct oring *p);
/* Drops every record (the members keep their places). O(rings). */
void oring_clear(struct oring *p);

/* Whether the ring of busy count `busy` takes key (since, seq) at its
 * back: there is one for that busy count and the key is the newest it
 * took. */
static inline bool oring_fits(const struct oring *p, unsigned busy,
                              uint64_t since, uint64_t seq)
{
    if (busy >= ORING_RINGS)
        return false;
    const struct lring *g = &p->ring[busy];
    return since > g->last_since ||
           (since == g->last_since && seq >= g->last_seq);
}

/* Appends the valid record x of a member at busy count `busy` whose key
 * is (since, seq) to the ring of that busy count: O(1) amortized when
 * oring_fits(), else the ring's ordered insertion, O(len), which only a
 * member that cannot move up (top 0) may take. */
static inline void oring_add_ring(struct oring *p, const struct lring_ops *o,
                                  unsigned ch, unsigned busy, struct lrec x,
                                  uint64_t since, uint64_t seq)
{
    p->nonempty |= 1u << busy;
    lring_append(&p->ring[busy], o, ch, x, since, seq);
}

/* Pushes the valid record x (its key in k1, k2: the busy count in k1's
 * high bits, as router-int.h's hrec_key makes it) of a member that can
 * move up (top >= 1) to the heap: a key no ring takes in order. */
static inline void oring_add_heap(struct oring *p, const struct aheap_ops *o,
                                  unsigned ch, struct hrec x)
{
    aheap_push(&p->h, o, ch, x);
}

/* The lowest busy count >= from whose ring may hold records, or -1. */
static inline int oring_next(const struct oring *p, unsigned from)
{
    uint32_t m = from < 32 ? p->nonempty >> from << from : 0;
    return m ? __builtin_ctz(m) : -1;
}

/* For invariant checks: the sizes of every ring and of the heap
 * consistent, the heap in heap order, a ring not marked non-empty empty,
 * ring 0 reserved by every member and each ring by no more members than
 * the one below. */
bool oring_check(const struct oring *p);

#endif
