/* wpool.c -- weighted random pools; see wpool.h. */
#include "wpool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The number of block and superblock sums for cap slots. */
static uint32_t nblk(uint32_t cap)
{
    return (cap + (1U << WPOOL_BLK_SHIFT) - 1) >> WPOOL_BLK_SHIFT;
}

static uint32_t nsup(uint32_t cap)
{
    return (cap + (1U << WPOOL_SUP_SHIFT) - 1) >> WPOOL_SUP_SHIFT;
}

/* Recomputes the sums from the weights, O(cap). */
static void rebuild(struct wpool *p)
{
    memset(p->blk, 0, sizeof(*p->blk) * nblk(p->cap));
    memset(p->sup, 0, sizeof(*p->sup) * nsup(p->cap));
    for (uint32_t i = 0; i < p->len; i++) {
        p->blk[i >> WPOOL_BLK_SHIFT] += p->w[i];
        p->sup[i >> WPOOL_SUP_SHIFT] += p->w[i];
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

void wpool_clear(struct wpool *p)
{
    if (!p->cap)
        return;
    memset(p->w, 0, sizeof(*p->w) * p->len);
    memset(p->blk, 0, sizeof(*p->blk) * nblk(p->cap));
    memset(p->sup, 0, sizeof(*p->sup) * nsup(p->cap));
    p->total = 0;
}

static int grow(struct wpool *p, uint32_t cap)
{
    uint32_t *agent = malloc(sizeof(*agent) * cap);
    uint32_t *w = malloc(sizeof(*w) * cap);
    uint64_t *blk = malloc(sizeof(*blk) * nblk(cap));
    uint64_t *sup = malloc(sizeof(*sup) * nsup(cap));
    if (!agent || !w || !blk || !sup) {
        free(agent);
        free(w);
        free(blk);
        free(sup);
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
    free(p->blk);
    free(p->sup);
    p->agent = agent;
    p->w = w;
    p->blk = blk;
    p->sup = sup;
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
    free(p->blk);
    free(p->sup);
    memset(p, 0, sizeof(*p));
}

uint32_t wpool_pick(const struct wpool *p, uint64_t x)
{
    uint32_t i = 0, ns = nsup(p->cap);
    while (i + 1 < ns && x >= p->sup[i])
        x -= p->sup[i++];
    uint32_t b = i << (WPOOL_SUP_SHIFT - WPOOL_BLK_SHIFT);
    uint32_t nb = nblk(p->cap);
    while (b + 1 < nb && x >= p->blk[b])
        x -= p->blk[b++];
    uint32_t s = b << WPOOL_BLK_SHIFT;
    while (s + 1 < p->cap && x >= p->w[s])
        x -= p->w[s++];
    return s;
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
    /* each block and superblock sum is the sum of its slots' weights */
    for (uint32_t b = 0; b < nblk(p->cap); b++) {
        uint64_t sum = 0;
        for (uint32_t i = b << WPOOL_BLK_SHIFT;
             i < p->cap && i < (b + 1) << WPOOL_BLK_SHIFT; i++)
            sum += p->w[i];
        if (sum != p->blk[b])
            return false;
    }
    for (uint32_t b = 0; b < nsup(p->cap); b++) {
        uint64_t sum = 0;
        for (uint32_t i = b << WPOOL_SUP_SHIFT;
             i < p->cap && i < (b + 1) << WPOOL_SUP_SHIFT; i++)
            sum += p->w[i];
        if (sum != p->sup[b])
            return false;
    }
    return true;
}
