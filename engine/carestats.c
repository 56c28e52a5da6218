/* carestats.c -- see carestats.h. Codes are listed in configuration
 * order (for a queue: those of its list, even at 0, so that a reader sees
 * every code it may expect); tags as care_top_tags() ranks them. */
#include "carestats.h"

#include <string.h>

#include "arena.h"
#include "care.h"

static int codes(const struct care *c, struct arena *a, int scope,
                 uint64_t wall_ms, Ccroute__V1__DispositionCount ***out,
                 size_t *n)
{
    unsigned nc = care_code_count(c);
    *n = 0;
    *out = NULL;
    if (!nc)
        return 0;
    Ccroute__V1__DispositionCount **v = arena_alloc(a, nc * sizeof(*v));
    if (!v)
        return -1;
    for (unsigned k = 0; k < nc; k++) {
        uint64_t iv, td;
        if (!care_scope_code(c, scope, k, wall_ms, &iv, &td))
            continue;
        Ccroute__V1__DispositionCount *d = arena_alloc(a, sizeof(*d));
        if (!d)
            return -1;
        ccroute__v1__disposition_count__init(d);
        d->code = (char *)care_code_name(c, k);
        d->interval = iv;
        d->today = td;
        v[(*n)++] = d;
    }
    *out = v;
    return 0;
}

static int tags(const struct care *c, struct arena *a, int scope,
                uint64_t wall_ms, Ccroute__V1__TagCount ***out, size_t *n)
{
    struct care_tag_count top[CARE_TOP_MAX];
    size_t nt = care_top_tags(c, scope, wall_ms, top, CARE_TOP_MAX);
    *n = 0;
    *out = NULL;
    if (!nt)
        return 0;
    Ccroute__V1__TagCount **v = arena_alloc(a, nt * sizeof(*v));
    if (!v)
        return -1;
    for (size_t i = 0; i < nt; i++) {
        Ccroute__V1__TagCount *t = arena_alloc(a, sizeof(*t));
        char *s = arena_alloc(a, strlen(top[i].tag) + 1);
        if (!t || !s)
            return -1;
        strcpy(s, top[i].tag);
        ccroute__v1__tag_count__init(t);
        t->tag = s;
        t->interval = top[i].interval;
        t->today = top[i].today;
        t->yesterday = top[i].yesterday;
        t->rising = top[i].rising;
        v[i] = t;
    }
    *out = v;
    *n = nt;
    return 0;
}

int carestats_queue(const struct care *c, struct arena *a, int queue,
                    uint64_t wall_ms, Ccroute__V1__QueueStats *o)
{
    int scope = care_scope_queue(c, queue);
    struct care_scope_view v;
    if (scope < 0)
        return 0;               /* a virtual queue: no care figures */
    care_scope_view(c, scope, wall_ms, &v);
    o->difficult_today = v.difficult_today;
    o->completed_today = v.completed_today;
    o->care_yields_today = v.yields_today;
    if (codes(c, a, scope, wall_ms, &o->dispositions, &o->n_dispositions) < 0)
        return -1;
    return tags(c, a, scope, wall_ms, &o->top_tags, &o->n_top_tags);
}

int carestats_agent(const struct care *c, struct arena *a, uint32_t agent,
                    const char *id, uint64_t now_us,
                    Ccroute__V1__AgentStats *o)
{
    struct care_agent_view v;
    care_agent_view(c, agent, id, now_us, &v);
    o->difficult_recent = v.difficult_recent;
    o->care_pause_left_ms = v.pause_left_ms;
    o->care_routine_left_ms = v.routine_left_ms;
    o->rolling_occupancy = v.occupancy;
    o->care_group = v.group >= 0 ? (char *)care_group_name(c, (unsigned)v.group)
                                 : (char *)"";
    return 0;
}

/* Stats.care_products and products_untracked. */
static int products(const struct care *c, struct arena *a, uint64_t wall_ms,
                    Ccroute__V1__Stats *o)
{
    unsigned np = care_product_count(c);
    o->products_untracked = care_products_untracked(c);
    if (!np)
        return 0;
    o->care_products = arena_alloc(a, np * sizeof(*o->care_products));
    if (!o->care_products)
        return -1;
    for (unsigned p = 0; p < np; p++) {
        int scope = care_scope_product(c, p);
        struct care_scope_view v;
        Ccroute__V1__CareProductStats *x = arena_alloc(a, sizeof(*x));
        if (!x)
            return -1;
        ccroute__v1__care_product_stats__init(x);
        x->product = (char *)care_product_name(c, p);
        care_scope_view(c, scope, wall_ms, &v);
        x->difficult_today = v.difficult_today;
        x->completed_today = v.completed_today;
        if (codes(c, a, scope, wall_ms, &x->dispositions,
                  &x->n_dispositions) < 0 ||
            tags(c, a, scope, wall_ms, &x->top_tags, &x->n_top_tags) < 0)
            return -1;
        o->care_products[o->n_care_products++] = x;
    }
    return 0;
}

int carestats_stats(const struct care *c, struct arena *a, uint64_t wall_ms,
                    Ccroute__V1__Stats *o)
{
    unsigned ng = care_group_count(c);
    o->care_interval_start_ms = care_interval_start_ms(c, wall_ms);
    o->tags_untracked = care_tags_untracked(c);
    if (tags(c, a, 0, wall_ms, &o->top_tags, &o->n_top_tags) < 0)
        return -1;
    if (products(c, a, wall_ms, o) < 0)
        return -1;
    if (!ng)
        return 0;
    o->care_groups = arena_alloc(a, ng * sizeof(*o->care_groups));
    if (!o->care_groups)
        return -1;
    for (unsigned g = 0; g < ng; g++) {
        int scope = care_scope_group(c, g);
        struct care_scope_view v;
        Ccroute__V1__CareGroupStats *x = arena_alloc(a, sizeof(*x));
        if (!x)
            return -1;
        ccroute__v1__care_group_stats__init(x);
        x->group = (char *)care_group_name(c, g);
        care_scope_view(c, scope, wall_ms, &v);
        x->difficult_today = v.difficult_today;
        x->recovery_pauses_today = v.pauses_today;
        x->wrapups_extended_today = v.extended_today;
        x->care_yields_today = v.yields_today;
        x->routine_today = v.routine_today;
        if (codes(c, a, scope, wall_ms, &x->dispositions,
                  &x->n_dispositions) < 0 ||
            tags(c, a, scope, wall_ms, &x->top_tags, &x->n_top_tags) < 0)
            return -1;
        o->care_groups[o->n_care_groups++] = x;
    }
    return 0;
}
