/* timerheap.c -- see timerheap.h. Sift-up and sift-down on an array of
 * entries (a key copy and a node pointer); each move writes the node's
 * new index back into it. */
#include "timerheap.h"

#include <errno.h>
#include <stdlib.h>

int timerheap_init(struct timerheap *h, uint32_t cap)
{
    h->n = 0;
    h->cap = cap;
    h->v = malloc(sizeof(*h->v) * (cap ? cap : 1));
    return h->v ? 0 : -ENOMEM;
}

void timerheap_free(struct timerheap *h)
{
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}

static inline bool ent_less(const struct timerheap_ent *a,
                            const struct timerheap_ent *b)
{
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static inline void put(struct timerheap *h, uint32_t i,
                       const struct timerheap_ent *e)
{
    h->v[i] = *e;
    e->node->index = i;
}

static void sift_up(struct timerheap *h, uint32_t i)
{
    struct timerheap_ent t = h->v[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!ent_less(&t, &h->v[p]))
            break;
        put(h, i, &h->v[p]);
        i = p;
    }
    put(h, i, &t);
}

static void sift_down(struct timerheap *h, uint32_t i)
{
    struct timerheap_ent t = h->v[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && ent_less(&h->v[c + 1], &h->v[c]))
            c++;
        if (!ent_less(&h->v[c], &t))
            break;
        put(h, i, &h->v[c]);
        i = c;
    }
    put(h, i, &t);
}

void timerheap_set(struct timerheap *h, struct timerheap_node *n,
                   uint64_t due, uint32_t seq)
{
    if (n->index == TIMERHEAP_NONE) {
        n->due = due;
        n->seq = seq;
        uint32_t i = h->n++;
        put(h, i, &(struct timerheap_ent){due, seq, n});
        sift_up(h, i);
        return;
    }
    n->due = due;
    n->seq = seq;
    uint32_t i = n->index;
    h->v[i].due = due;
    h->v[i].seq = seq;
    if (i > 0 && ent_less(&h->v[i], &h->v[(i - 1) / 2]))
        sift_up(h, i);
    else
        sift_down(h, i);
}

void timerheap_remove(struct timerheap *h, struct timerheap_node *n)
{
    uint32_t i = n->index;
    if (i == TIMERHEAP_NONE)
        return;
    n->index = TIMERHEAP_NONE;
    h->n--;
    if (i == h->n)
        return;
    put(h, i, &h->v[h->n]);
    if (i > 0 && ent_less(&h->v[i], &h->v[(i - 1) / 2]))
        sift_up(h, i);
    else
        sift_down(h, i);
}

bool timerheap_check(const struct timerheap *h)
{
    for (uint32_t i = 0; i < h->n; i++) {
        const struct timerheap_ent *e = &h->v[i];
        if (e->node->index != i || e->node->due != e->due ||
            e->node->seq != e->seq)
            return false;
        if (i > 0 && ent_less(e, &h->v[(i - 1) / 2]))
            return false;
    }
    return true;
}
