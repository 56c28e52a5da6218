/* aheap.c -- the out-of-line paths of the agent heaps; see aheap.h. */
#include "aheap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int aheap_reserve(struct aheap *h)
{
    uint32_t need = 2 * (h->members + 1) + 16;
    if (h->cap < need) {
        uint32_t cap = h->cap ? h->cap : 32;
        while (cap < need)
            cap *= 2;
        struct hrec *v = realloc(h->v, sizeof(*v) * cap);
        if (!v)
            return -ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    h->members++;
    return 0;
}

void aheap_free(struct aheap *h)
{
    free(h->v);
    memset(h, 0, sizeof(*h));
}

static void sift_down(struct aheap *h, uint32_t i)
{
    struct hrec x = h->v[i];
    uint32_t n = h->len;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && hrec_less(&h->v[c + 1], &h->v[c]))
            c++;
        if (!hrec_less(&h->v[c], &x))
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    h->v[i] = x;
}

void aheap_pop(struct aheap *h)
{
    if (!h->len)
        return;
    h->v[0] = h->v[--h->len];
    if (h->len)
        sift_down(h, 0);
}

/* Drops every stale record and restores the heap order. O(len). */
void __attribute__((noinline))
aheap__compact(struct aheap *h, const struct aheap_ops *o, unsigned ch)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < h->len; i++)
        if (o->valid(o->ctx, ch, &h->v[i]))
            h->v[n++] = h->v[i];
    h->len = n;
    for (uint32_t i = n / 2; i-- > 0;)
        sift_down(h, i);
}

bool aheap_check(const struct aheap *h)
{
    if (h->len > h->cap || (h->members && h->cap < 2 * h->members + 16))
        return false;
    for (uint32_t i = 1; i < h->len; i++)
        if (hrec_less(&h->v[i], &h->v[(i - 1) / 2]))
            return false;
    return true;
}
