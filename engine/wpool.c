/* wpool.c -- weighted random pools; see wpool.h. */
#include "wpool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Rebuilds the Fenwick tree of the first len weights (the rest are 0),
 * O(cap). */
static void rebuild(struct wpool *p)
{
    memset(p->bit, 0, sizeof(*p->bit) * (p->cap + 1));
    for (uint32_t i = 1; i <= p->cap; i++) {
        p->bit[i] += i <= p->len ? p->w[i - 1] : 0;
        uint32_t j = i + (i & -i);
        if (j <= p->cap)
            p->bit[j] += p->bit[i];
    }
}

/* Drops the holes, keeping the order of the members. */
static void compact(struct wpool *p, wpool_moved_cb moved, void *ctx)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < p->len; i++) {
        if (p->agent[i] == WPOOL_HOLE)
            continue;
        if (n != i) {
            p->agent[n] = p->agent[i];
            p->w[n] = p->w[i];
            moved(ctx, p->agent[n], n);
        }
        n++;
    }
    for (uint32_t i = n; i < p->len; i++) {
        p->agent[i] = WPOOL_HOLE;
        p->w[i] = 0;
    }
    p->len = n;
    rebuild(p);
}

static int grow(struct wpool *p, uint32_t cap)
{
    uint32_t *agent = malloc(sizeof(*agent) * cap);
    uint32_t *w = malloc(sizeof(*w) * cap);
    uint32_t *bit = malloc(sizeof(*bit) * (cap + 1));
    if (!agent || !w || !bit) {
        free(agent);
        free(w);
        free(bit);
        return -ENOMEM;
    }
    if (p->len) {
        memcpy(agent, p->agent, sizeof(*agent) * p->len);
        memcpy(w, p->w, sizeof(*w) * p->len);
    }
    for (uint32_t i = p->len; i < cap; i++) {
        agent[i] = WPOOL_HOLE;
        w[i] = 0;
    }
    free(p->agent);
    free(p->w);
    free(p->bit);
    p->agent = agent;
    p->w = w;
    p->bit = bit;
    p->cap = cap;
    rebuild(p);
    return 0;
}

int wpool_add(struct wpool *p, uint32_t agent, wpool_moved_cb moved,
              void *ctx)
{
    uint32_t need = 2 * (p->members + 1) + 16;
    if (p->cap < need) {
        uint32_t cap = p->cap ? p->cap : 32;
        while (cap < need)
            cap *= 2;
        if (grow(p, cap) < 0)
            return -ENOMEM;
    }
    if (p->len == p->cap)
        compact(p, moved, ctx);     /* >= members + 16 holes */
    uint32_t s = p->len++;
    p->agent[s] = agent;
    p->w[s] = 0;
    p->members++;
    return (int)s;
}

void wpool_remove(struct wpool *p, uint32_t slot)
{
    p->agent[slot] = WPOOL_HOLE;
    p->members--;
}

void wpool_free(struct wpool *p)
{
    free(p->agent);
    free(p->w);
    free(p->bit);
    memset(p, 0, sizeof(*p));
}

uint32_t wpool_pick(const struct wpool *p, uint64_t x)
{
    uint32_t pos = 0;
    for (uint32_t step = p->cap; step; step >>= 1) {
        uint32_t nx = pos + step;
        if (nx <= p->cap && p->bit[nx] <= x) {
            pos = nx;
            x -= p->bit[nx];
        }
    }
    return pos;
}

bool wpool_check(const struct wpool *p)
{
    if (p->len > p->cap || (p->cap & (p->cap - 1)) ||
        (p->members && p->cap < 2 * p->members + 16))
        return false;
    uint32_t members = 0;
    uint64_t total = 0;
    for (uint32_t i = 0; i < p->cap; i++) {
        if (i >= p->len && (p->agent[i] != WPOOL_HOLE || p->w[i]))
            return false;
        if (p->agent[i] == WPOOL_HOLE && p->w[i])
            return false;
        members += p->agent[i] != WPOOL_HOLE;
        total += p->w[i];
    }
    if (members != p->members || total != p->total)
        return false;
    /* bit[i] sums the weights of slots (i - lowbit(i), i] */
    for (uint32_t i = 1; i <= p->cap; i++) {
        uint64_t s = 0;
        for (uint32_t j = i - (i & -i); j < i; j++)
            s += p->w[j];
        if (s != p->bit[i])
            return false;
    }
    return true;
}
