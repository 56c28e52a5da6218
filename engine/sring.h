/* sring.h -- most skilled pools as one longest idle ring per score value.
 *
 * A most skilled pool orders its available agents by (score descending,
 * idle_since, idle_seq), and an agent's score in one queue does not change
 * while it is logged in (router.c: the sum of its levels in the queue's
 * base skills). So the records of one score sort by idle order alone,
 * which is the order agents become idle in: each score has a ring of
 * (agent, epoch) records (lring.h), appended to in O(1), and the best
 * record is the first valid one of the highest score whose ring is not
 * empty -- no heap, no sift on a push, no O(log n) pop of a stale top.
 *
 * Rings are indexed by the score itself (at most SRING_SCORES values:
 * ROUTER_MAX_REQ skills at level ROUTER_LEVEL_MAX at most), allocated up
 * to the highest score of a member at login; `nonempty` has bit s set
 * when ring s may hold records: set by every append, cleared by the owner
 * when it finds the ring empty. A member reserves its place in the ring
 * of its score (2 x members + 16 records, as lring_reserve does), so each
 * ring compacts on its own. Validity of records is the owner's, through
 * the same callbacks as longest idle rings.
 */
#ifndef CCROUTE_SRING_H
#define CCROUTE_SRING_H

#include <stdbool.h>
#include <stdint.h>

#include "lring.h"
#include "router-t.h"

#define SRING_SCORES (ROUTER_MAX_REQ * ROUTER_LEVEL_MAX + 1)
#define SRING_WORDS ((SRING_SCORES + 63) / 64)

struct sring {
    struct lring *ring;         /* owned: nr rings, ring[s] for score s */
    uint64_t nonempty[SRING_WORDS];
    uint32_t nr;
    uint32_t members;
};

/* Makes room for one more member of score s (< SRING_SCORES). Returns 0
 * or -ENOMEM (nothing changed then). */
int sring_reserve(struct sring *p, unsigned s);
/* One member of score s fewer. */
static inline void sring_unreserve(struct sring *p, unsigned s)
{
    lring_unreserve(&p->ring[s]);
    p->members--;
}
/* Frees the rings. */
void sring_free(struct sring *p);
/* Drops every record (the members keep their places). O(rings). */
void sring_clear(struct sring *p);

/* Appends the valid record x of a member of score s whose key is (since,
 * seq); see lring_append. */
static inline void sring_append(struct sring *p, const struct lring_ops *o,
                                unsigned ch, unsigned s, struct lrec x,
                                uint64_t since, uint64_t seq)
{
    p->nonempty[s >> 6] |= 1ULL << (s & 63);
    lring_append(&p->ring[s], o, ch, x, since, seq);
}

/* The highest score below `below` (SRING_SCORES to start) whose ring may
 * hold records, or -1. */
static inline int sring_next(const struct sring *p, int below)
{
    for (int s = below - 1; s >= 0;) {
        unsigned w = (unsigned)s >> 6;
        uint64_t m = p->nonempty[w] & (~0ULL >> (63 - (s & 63)));
        if (m)
            return (int)(w * 64 + 63 - (unsigned)__builtin_clzll(m));
        s = (int)(w * 64) - 1;
    }
    return -1;
}

/* For invariant checks: every ring's sizes consistent, a ring not marked
 * non-empty empty, members the sum of the rings'. */
bool sring_check(const struct sring *p);

#endif
