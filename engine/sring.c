/* sring.c -- the out-of-line paths of the most skilled score rings; see
 * sring.h. */
#include "sring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int sring_reserve(struct sring *p, unsigned s)
{
    if (s >= SRING_SCORES)
        return -EINVAL;
    if (s >= p->nr) {
        struct lring *v = realloc(p->ring, sizeof(*v) * (s + 1));
        if (!v)
            return -ENOMEM;
        memset(v + p->nr, 0, sizeof(*v) * (s + 1 - p->nr));
        p->ring = v;
        p->nr = s + 1;
    }
    if (lring_reserve(&p->ring[s]) < 0)
        return -ENOMEM;
    p->members++;
    return 0;
}

void sring_free(struct sring *p)
{
    for (uint32_t s = 0; s < p->nr; s++)
        lring_free(&p->ring[s]);
    free(p->ring);
    memset(p, 0, sizeof(*p));
}

void sring_clear(struct sring *p)
{
    for (uint32_t s = 0; s < p->nr; s++) {
        struct lring *r = &p->ring[s];
        r->head = r->len = 0;
        r->last_since = r->last_seq = 0;
    }
    memset(p->nonempty, 0, sizeof(p->nonempty));
}

bool sring_check(const struct sring *p)
{
    uint32_t members = 0;
    if (p->nr > SRING_SCORES)
        return false;
    for (uint32_t s = 0; s < p->nr; s++) {
        const struct lring *r = &p->ring[s];
        if (!lring_sizes_ok(r))
            return false;
        if (r->len && !((p->nonempty[s >> 6] >> (s & 63)) & 1))
            return false;
        members += r->members;
    }
    for (uint32_t s = p->nr; s < SRING_WORDS * 64; s++)
        if ((p->nonempty[s >> 6] >> (s & 63)) & 1)
            return false;
    return members == p->members;
}
