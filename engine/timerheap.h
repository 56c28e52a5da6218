/* timerheap.h -- an intrusive binary min-heap of timers ordered by
 * (due, seq).
 *
 * Like libuv's heap-inl.h, the heap allocates no nodes: a struct that
 * needs a timer embeds a struct timerheap_node and finds itself again from
 * the node with container_of-style arithmetic. Unlike libuv's pointer tree
 * it keeps an array of entries sized once at timerheap_init(), so a
 * push never allocates and the minimum is one load; every node remembers
 * its index in that array, so that moving or removing an arbitrary timer
 * is O(log n) without a search. Each entry carries a copy of its node's
 * (due, seq) beside the node pointer, so that sifting compares entries
 * of the array itself and dereferences a node only to write its new
 * index: the nodes live in large arrays of contacts and agents, and
 * reading them at every level cost a cache miss a level.
 *
 * Order: by `due`, then by `seq`, a number the embedding struct chooses
 * (the router uses creation sequence numbers, unique across contacts and
 * agents, so the order of timers due at the same time is total and
 * reproducible).
 *
 * Complexity: push, move, remove O(log n); minimum O(1).
 */
#ifndef CCROUTE_TIMERHEAP_H
#define CCROUTE_TIMERHEAP_H

#include <stdbool.h>
#include <stdint.h>

#define TIMERHEAP_NONE UINT32_MAX

/* Embedded in the struct that owns the timer. `index` is TIMERHEAP_NONE
 * while the node is not in a heap (set it with timerheap_node_init()). */
struct timerheap_node {
    uint64_t due;
    uint32_t seq;
    uint32_t index;             /* private: slot in the heap array */
};

/* One place of the heap: a borrowed node and a copy of its key. */
struct timerheap_ent {
    uint64_t due;
    uint32_t seq;
    struct timerheap_node *node;
};

struct timerheap {
    struct timerheap_ent *v;    /* heap-ordered */
    uint32_t n, cap;
};

/* Allocates room for `cap` timers. Returns 0 or -ENOMEM. */
int timerheap_init(struct timerheap *h, uint32_t cap);
/* Frees the array; the nodes belong to their owners. */
void timerheap_free(struct timerheap *h);

static inline void timerheap_node_init(struct timerheap_node *n)
{
    n->due = UINT64_MAX;
    n->seq = 0;
    n->index = TIMERHEAP_NONE;
}

static inline bool timerheap_node_active(const struct timerheap_node *n)
{
    return n->index != TIMERHEAP_NONE;
}

static inline bool timerheap_less(const struct timerheap_node *a,
                                  const struct timerheap_node *b)
{
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

/* Sets node n to fire at `due` with tie-break `seq`: inserts it, or moves
 * it when it is already in the heap (the router's timer fifos re-key
 * their node with their new head's seq). The heap
 * borrows n until timerheap_remove(). The caller never pushes more than
 * `cap` nodes. */
void timerheap_set(struct timerheap *h, struct timerheap_node *n,
                   uint64_t due, uint32_t seq);
/* Takes n out of the heap; nothing when it is not in it. */
void timerheap_remove(struct timerheap *h, struct timerheap_node *n);

/* The node due first, or NULL. Borrowed. */
static inline struct timerheap_node *timerheap_min(const struct timerheap *h)
{
    return h->n ? h->v[0].node : (struct timerheap_node *)0;
}

static inline uint32_t timerheap_count(const struct timerheap *h)
{
    return h->n;
}

/* For invariant checks: whether every node is in heap order, knows its
 * index and has the key its entry copies. O(n). */
bool timerheap_check(const struct timerheap *h);

#endif
