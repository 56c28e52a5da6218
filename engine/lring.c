/* lring.c -- the out-of-line paths of the longest idle rings; see
 * lring.h. */
#include "lring.h"

#include <errno.h>
#include <stdlib.h>

int lring_reserve(struct lring *p)
{
    uint32_t need = 2 * (p->members + 1) + 16;
    if (p->cap < need) {
        uint32_t cap = p->cap ? p->cap : 32;
        while (cap < need)
            cap *= 2;
        struct lrec *v = malloc(sizeof(*v) * cap);
        if (!v)
            return -ENOMEM;
        for (uint32_t i = 0; i < p->len; i++)
            v[i] = *lring_at(p, i);
        free(p->rec);
        p->rec = v;
        p->cap = cap;
        p->head = 0;
    }
    p->members++;
    return 0;
}

void lring_free(struct lring *p)
{
    free(p->rec);
    p->rec = NULL;
    p->head = p->len = p->cap = p->members = 0;
}

/* Drops every stale record, keeping the order. O(len). */
void lring__compact(struct lring *p, const struct lring_ops *o, unsigned ch)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < p->len; i++) {
        struct lrec x = *lring_at(p, i);
        if (o->valid(o->ctx, ch, &x))
            *lring_at(p, n++) = x;
    }
    p->len = n;
}

/* Puts x, whose key is older than one appended already, after the last
 * valid record with a smaller key. O(len). */
void __attribute__((noinline))
lring__insert(struct lring *p, const struct lring_ops *o, unsigned ch,
              struct lrec x)
{
    uint32_t i = p->len++;
    while (i > 0) {
        const struct lrec *y = lring_at(p, i - 1);
        if (o->valid(o->ctx, ch, y) && o->before(o->ctx, y->agent, x.agent))
            break;
        *lring_at(p, i) = *y;
        i--;
    }
    *lring_at(p, i) = x;
}

bool lring_sizes_ok(const struct lring *p)
{
    return p->len <= p->cap && !(p->cap & (p->cap - 1)) &&
           (!p->members || p->cap >= 2 * p->members + 16);
}
