/* careapi.c -- see careapi.h. Built like api.c's views: a jansson tree,
 * failures remembered and checked once. */
#include "careapi.h"

#include <string.h>

#include "care.h"
#include "config.h"
#include "router.h"
#include "tenant-t.h"

static void put(json_t *o, const char *k, json_t *v, int *bad)
{
    if (!v || json_object_set_new(o, k, v) < 0)
        *bad = 1;
}

static void add(json_t *a, json_t *v, int *bad)
{
    if (!v || json_array_append_new(a, v) < 0)
        *bad = 1;
}

static json_t *codes_json(const struct care *c, int scope, uint64_t wall_ms,
                          int *bad)
{
    json_t *a = json_array();
    for (unsigned k = 0; a && k < care_code_count(c); k++) {
        uint64_t iv, td;
        if (care_scope_code(c, scope, k, wall_ms, &iv, &td))
            add(a, json_pack("{s:s,s:I,s:I}", "code", care_code_name(c, k),
                             "interval", (json_int_t)iv, "today",
                             (json_int_t)td), bad);
    }
    return a;
}

static json_t *tags_json(const struct care *c, int scope, uint64_t wall_ms,
                         int *bad)
{
    struct care_tag_count top[CARE_TOP_MAX];
    size_t n = care_top_tags(c, scope, wall_ms, top, CARE_TOP_MAX);
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        add(a, json_pack("{s:s,s:I,s:I,s:I,s:b}", "tag", top[i].tag,
                         "interval", (json_int_t)top[i].interval, "today",
                         (json_int_t)top[i].today, "yesterday",
                         (json_int_t)top[i].yesterday, "rising",
                         top[i].rising), bad);
    return a;
}

static json_t *scope_json(const struct care *c, const char *key,
                          const char *name, int scope, uint64_t wall_ms,
                          int *bad)
{
    struct care_scope_view v;
    json_t *o = json_object();
    if (!o)
        return NULL;
    care_scope_view(c, scope, wall_ms, &v);
    put(o, key, json_string(name), bad);
    put(o, "completed_today", json_integer((json_int_t)v.completed_today),
        bad);
    put(o, "difficult_today", json_integer((json_int_t)v.difficult_today),
        bad);
    if (strcmp(key, "product") != 0)    /* no rule yields per product */
        put(o, "care_yields_today",
            json_integer((json_int_t)v.yields_today), bad);
    if (!strcmp(key, "group")) {
        put(o, "recovery_pauses_today",
            json_integer((json_int_t)v.pauses_today), bad);
        put(o, "wrapups_extended_today",
            json_integer((json_int_t)v.extended_today), bad);
        put(o, "routine_today", json_integer((json_int_t)v.routine_today),
            bad);
    }
    put(o, "dispositions", codes_json(c, scope, wall_ms, bad), bad);
    put(o, "top_tags", tags_json(c, scope, wall_ms, bad), bad);
    return o;
}

json_t *careapi_json(const struct tenant *s, uint64_t now_us,
                     uint64_t wall_ms)
{
    const struct care *c = s->care;
    const struct router *r = s->router;
    json_t *o = json_object(), *qs = json_array(), *gs = json_array(),
           *as = json_array(), *ps = json_array();
    int bad = !o || !qs || !gs || !as || !ps;
    unsigned want = router_agent_count(r), seen = 0;

    for (int q = 0; !bad && q < router_queue_count(r); q++)
        add(qs, scope_json(c, "queue", router_queue_name(r, q),
                           care_scope_queue(c, q), wall_ms, &bad), &bad);
    for (unsigned g = 0; !bad && g < care_group_count(c); g++)
        add(gs, scope_json(c, "group", care_group_name(c, g),
                           care_scope_group(c, g), wall_ms, &bad), &bad);
    for (unsigned p = 0; !bad && p < care_product_count(c); p++)
        add(ps, scope_json(c, "product", care_product_name(c, p),
                           care_scope_product(c, p), wall_ms, &bad), &bad);
    for (uint32_t h = 0; !bad && care_group_count(c) && seen < want &&
                         h < s->cfg->router.max_agents; h++) {
        struct care_agent_view v;
        const char *id = router_agent_id(r, h);
        if (!id)
            continue;
        seen++;
        care_agent_view(c, h, id, now_us, &v);
        if (v.group < 0)
            continue;
        add(as, json_pack("{s:s,s:s,s:i,s:I,s:I,s:f}", "agent", id,
                          "group", care_group_name(c, (unsigned)v.group),
                          "difficult_recent", (int)v.difficult_recent,
                          "pause_left_ms", (json_int_t)v.pause_left_ms,
                          "routine_left_ms", (json_int_t)v.routine_left_ms,
                          "rolling_occupancy", v.occupancy), &bad);
    }
    if (o) {
        put(o, "interval_start_ms",
            json_integer((json_int_t)care_interval_start_ms(c, wall_ms)),
            &bad);
        put(o, "tags_untracked",
            json_integer((json_int_t)care_tags_untracked(c)), &bad);
        put(o, "top_tags", tags_json(c, 0, wall_ms, &bad), &bad);
        put(o, "queues", qs, &bad);
        put(o, "groups", gs, &bad);
        put(o, "agents", as, &bad);
        put(o, "products", ps, &bad);
        put(o, "products_untracked",
            json_integer((json_int_t)care_products_untracked(c)), &bad);
        put(o, "tenant", json_string(s->name), &bad);
        qs = gs = as = ps = NULL;
    }
    json_decref(qs);
    json_decref(gs);
    json_decref(as);
    json_decref(ps);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}
