/* oring.c -- the out-of-line paths of the least occupied rings; see
 * oring.h. */
#include "oring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The rings a member of busy counts 0..top has a place in. */
static unsigned rings_of(unsigned top)
{
    return top < ORING_RINGS ? top + 1 : ORING_RINGS;
}

int oring_reserve(struct oring *p, unsigned top)
{
    unsigned n = rings_of(top);
    if (n > p->nr) {
        struct lring *v = realloc(p->ring, sizeof(*v) * n);
        if (!v)
            return -ENOMEM;
        memset(v + p->nr, 0, sizeof(*v) * (n - p->nr));
        p->ring = v;
        p->nr = n;
    }
    /* the heap first: it may fail, and the rings' places are then not
     * taken yet */
    if (top && aheap_reserve(&p->h) < 0)
        return -ENOMEM;
    for (unsigned b = 0; b < n; b++)
        if (lring_reserve(&p->ring[b]) < 0) {
            while (b-- > 0)
                lring_unreserve(&p->ring[b]);
            if (top)
                aheap_unreserve(&p->h);
            return -ENOMEM;
        }
    p->members++;
    return 0;
}

void oring_unreserve(struct oring *p, unsigned top)
{
    for (unsigned b = 0; b < rings_of(top); b++)
        lring_unreserve(&p->ring[b]);
    if (top)
        aheap_unreserve(&p->h);
    p->members--;
}

void oring_free(struct oring *p)
{
    for (uint32_t b = 0; b < p->nr; b++)
        lring_free(&p->ring[b]);
    free(p->ring);
    aheap_free(&p->h);
    memset(p, 0, sizeof(*p));
}

void oring_clear(struct oring *p)
{
    for (uint32_t b = 0; b < p->nr; b++) {
        struct lring *g = &p->ring[b];
        g->head = g->len = 0;
        g->last_since = g->last_seq = 0;
    }
    p->h.len = 0;
    p->nonempty = 0;
}

bool oring_check(const struct oring *p)
{
    if (p->nr > ORING_RINGS || !aheap_check(&p->h) ||
        p->h.members > p->members)
        return false;
    if (p->nonempty >> p->nr)
        return false;
    for (uint32_t b = 0; b < p->nr; b++) {
        const struct lring *g = &p->ring[b];
        if (!lring_sizes_ok(g))
            return false;
        if (g->len && !((p->nonempty >> b) & 1))
            return false;
        if (g->members > (b ? p->ring[b - 1].members : p->members))
            return false;
    }
    return p->nr ? p->ring[0].members == p->members : !p->members;
}
