/* timerheap.c -- see timerheap.h. Sift-up and sift-down on an array of
 * node pointers; each move writes the node's new index back into it. */
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

static inline void put(struct timerheap *h, uint32_t i,
                       struct timerheap_node *n)
{
    h->v[i] = n;
    n->index = i;
}

static void sift_up(struct timerheap *h, uint32_t i)
{
    struct timerheap_node *t = h->v[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!timerheap_less(t, h->v[p]))
            break;
        put(h, i, h->v[p]);
        i = p;
    }
    put(h, i, t);
}

static void sift_down(struct timerheap *h, uint32_t i)
{
    struct timerheap_node *t = h->v[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && timerheap_less(h->v[c + 1], h->v[c]))
            c++;
        if (!timerheap_less(h->v[c], t))
            break;
        put(h, i, h->v[c]);
        i = c;
    }
    put(h, i, t);
}

void timerheap_set(struct timerheap *h, struct timerheap_node *n,
                   uint64_t due, uint32_t seq)
{
    if (n->index == TIMERHEAP_NONE) {
        n->due = due;
        n->seq = seq;
        put(h, h->n++, n);
        sift_up(h, n->index);
        return;
    }
    n->due = due;
    sift_up(h, n->index);
    sift_down(h, n->index);
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
    put(h, i, h->v[h->n]);
    if (i > 0 && timerheap_less(h->v[i], h->v[(i - 1) / 2]))
        sift_up(h, i);
    else
        sift_down(h, i);
}

bool timerheap_check(const struct timerheap *h)
{
    for (uint32_t i = 0; i < h->n; i++) {
        if (h->v[i]->index != i)
            return false;
        if (i > 0 && timerheap_less(h->v[i], h->v[(i - 1) / 2]))
            return false;
    }
    return true;
}
