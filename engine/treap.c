/* treap.c -- intrusive order-statistic treap; see treap.h. */
#include "treap.h"

static inline uint32_t sz(const struct tnode *n)
{
    return n ? n->size : 0;
}

static inline uint64_t ws(const struct tnode *n)
{
    return n ? n->wsum : 0;
}

static inline void pull(struct tnode *n)
{
    n->size = 1 + sz(n->l) + sz(n->r);
    n->wsum = n->w + ws(n->l) + ws(n->r);
}

/* Rotates x above its parent, keeping the order and the aggregates. */
static void rotate_up(struct treap *t, struct tnode *x)
{
    struct tnode *p = x->p, *g = p->p;
    if (p->l == x) {
        p->l = x->r;
        if (x->r)
            x->r->p = p;
        x->r = p;
    } else {
        p->r = x->l;
        if (x->l)
            x->l->p = p;
        x->l = p;
    }
    p->p = x;
    x->p = g;
    if (!g)
        t->root = x;
    else if (g->l == p)
        g->l = x;
    else
        g->r = x;
    pull(p);
    pull(x);
}

void treap_insert(struct treap *t, struct tnode *n)
{
    n->l = n->r = NULL;
    n->size = 1;
    n->wsum = n->w;
    if (!t->first || tnode_less(n, t->first))
        t->first = n;
    if (!t->root) {
        n->p = NULL;
        t->root = n;
        return;
    }
    struct tnode *cur = t->root;
    for (;;) {
        cur->size++;
        cur->wsum += n->w;
        if (tnode_less(n, cur)) {
            if (!cur->l) {
                cur->l = n;
                break;
            }
            cur = cur->l;
        } else {
            if (!cur->r) {
                cur->r = n;
                break;
            }
            cur = cur->r;
        }
    }
    n->p = cur;
    while (n->p && n->p->prio < n->prio)
        rotate_up(t, n);
}

void treap_remove(struct treap *t, struct tnode *n)
{
    if (t->first == n)
        t->first = treap_next(n);
    while (n->l || n->r) {
        struct tnode *c;
        if (!n->l)
            c = n->r;
        else if (!n->r)
            c = n->l;
        else
            c = n->l->prio > n->r->prio ? n->l : n->r;
        rotate_up(t, c);
    }
    struct tnode *p = n->p;
    if (!p) {
        t->root = NULL;
    } else {
        if (p->l == n)
            p->l = NULL;
        else
            p->r = NULL;
        for (struct tnode *a = p; a; a = a->p) {
            a->size--;
            a->wsum -= n->w;
        }
    }
    n->p = n->l = n->r = NULL;
}

struct tnode *treap_leftmost(const struct treap *t)
{
    struct tnode *n = t->root;
    if (n)
        while (n->l)
            n = n->l;
    return n;
}

struct tnode *treap_next(const struct tnode *n)
{
    if (n->r) {
        n = n->r;
        while (n->l)
            n = n->l;
        return (struct tnode *)n;
    }
    while (n->p && n->p->r == n)
        n = n->p;
    return n->p;
}

uint32_t treap_count_less(const struct treap *t, uint64_t k1, uint64_t k2)
{
    uint32_t c = 0;
    for (const struct tnode *n = t->root; n;) {
        if (n->k1 < k1 || (n->k1 == k1 && n->k2 < k2)) {
            c += 1 + sz(n->l);
            n = n->r;
        } else {
            n = n->l;
        }
    }
    return c;
}

struct tnode *treap_pick(const struct treap *t, uint64_t x)
{
    struct tnode *n = t->root;
    while (n) {
        uint64_t lw = ws(n->l);
        if (x < lw) {
            n = n->l;
        } else if (x < lw + n->w) {
            return n;
        } else {
            x -= lw + n->w;
            n = n->r;
        }
    }
    return NULL;
}

struct tnode *treap_root_of(struct tnode *n)
{
    while (n->p)
        n = n->p;
    return n;
}
