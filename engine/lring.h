/* lring.h -- longest idle rings: the available agents of one pool in the
 * order they became idle.
 *
 * A ring holds records (agent handle, epoch). The owner (the router)
 * decides what a record means: a record is *valid* while the agent's
 * current epoch for the ring's channel equals the record's, so the owner
 * makes every record of an agent stale at once by moving its epoch on,
 * without touching a ring. Valid records are kept in key order (the
 * agent's idle_since, then idle_seq): an agent joins at the back when it
 * becomes idle, which is the newest key, so an append is O(1); stale
 * records are dropped when met at the front (by the owner's scan) or by a
 * compaction when the ring is full. Capacity is kept at >= 2 x members +
 * 16 (lring_reserve(), at login or pool creation, never on the decision
 * path), so that at least members + 16 appends separate two compactions:
 * compaction is amortized O(1) an append. A key older than the last one
 * appended (a caller whose clock stepped back) takes an ordered insertion,
 * O(len), so that the documented order still holds.
 *
 * The ring knows nothing of agents: it asks its owner, through the
 * callbacks in struct lring_ops, whether a record is valid and whether one
 * agent became idle before another. They are called only by the rare
 * paths (compaction, out-of-order insertion) and by checks, never by an
 * in-order append.
 */
#ifndef CCROUTE_LRING_H
#define CCROUTE_LRING_H

#include <stdbool.h>
#include <stdint.h>

struct lrec {
    uint32_t agent;
    uint32_t ep;
};

/* Whether record x of a ring on channel ch is valid now. */
typedef bool (*lring_valid_cb)(const void *ctx, unsigned ch,
                               const struct lrec *x);
/* Whether agent a became idle before agent b (key order). */
typedef bool (*lring_before_cb)(const void *ctx, uint32_t a, uint32_t b);

struct lring_ops {
    const void *ctx;
    lring_valid_cb valid;
    lring_before_cb before;
};

struct lring {
    struct lrec *rec;           /* owned, cap entries */
    uint32_t head, len, cap;    /* cap a power of two (or 0) */
    uint32_t members;           /* agents with a place, valid or not */
    uint64_t last_since, last_seq;  /* greatest key appended */
};

/* The i-th record from the front, i < len. Borrowed. */
static inline struct lrec *lring_at(const struct lring *p, uint32_t i)
{
    return &p->rec[(p->head + i) & (p->cap - 1)];
}

/* Drops the front record (the owner met it stale). */
static inline void lring_pop_front(struct lring *p)
{
    p->head = (p->head + 1) & (p->cap - 1);
    p->len--;
}

/* Makes room for one more member. Returns 0 or -ENOMEM (nothing changed
 * then). */
int lring_reserve(struct lring *p);
/* One member fewer (its records go stale through its epoch). */
static inline void lring_unreserve(struct lring *p)
{
    p->members--;
}
/* Frees the records. */
void lring_free(struct lring *p);

void lring__compact(struct lring *p, const struct lring_ops *o, unsigned ch);
void lring__insert(struct lring *p, const struct lring_ops *o, unsigned ch,
                   struct lrec x);

/* Appends the valid record x of an agent whose key is (since, seq). O(1)
 * amortized when the key is the newest, as it is when clocks do not go
 * back. */
static inline void lring_append(struct lring *p, const struct lring_ops *o,
                                unsigned ch, struct lrec x, uint64_t since,
                                uint64_t seq)
{
    if (__builtin_expect(p->len == p->cap, 0))
        lring__compact(p, o, ch);
    if (__builtin_expect(since < p->last_since ||
                         (since == p->last_since && seq < p->last_seq), 0)) {
        lring__insert(p, o, ch, x);
        return;
    }
    p->last_since = since;
    p->last_seq = seq;
    p->rec[(p->head + p->len++) & (p->cap - 1)] = x;
}

/* For invariant checks: sizes consistent (capacity a power of two, at
 * least 2 x members + 16 when there are members, len <= cap). */
bool lring_sizes_ok(const struct lring *p);

#endif
