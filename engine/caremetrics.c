/* caremetrics.c -- see caremetrics.h.
 *
 * Counts over the interval and the day restart at 0 when a new one
 * begins, so they are gauges with a `period` label ("interval", "today",
 * and for tags "yesterday"), not counters. Tags appear only for each
 * scope's top list (care.top_tags), which bounds the series. Agents
 * appear only when they belong to an agent group: the load rules are
 * configured per group, and an engine of many agents outside any group
 * pays nothing here. With more than one tenant every sample carries a
 * `tenant` label first, as in metrics.c.
 */
#include "caremetrics.h"

#include <inttypes.h>

#include "care.h"
#include "config.h"
#include "promtext.h"
#include "router.h"
#include "server-t.h"
#include "tenant-t.h"

/* `name{` with the tenant label and a comma when there are several, then
 * `key="value"`. */
static void open1(FILE *f, const char *name, const struct tenant *t,
                  const char *key, const char *value)
{
    fprintf(f, "%s{", name);
    if (t->set->n > 1) {
        fputs("tenant=\"", f);
        promtext_label(f, t->name);
        fputs("\",", f);
    }
    fprintf(f, "%s=\"", key);
    promtext_label(f, value);
    fputc('"', f);
}

static void label(FILE *f, const char *key, const char *value)
{
    fprintf(f, ",%s=\"", key);
    promtext_label(f, value);
    fputc('"', f);
}

/* A scope's label: "queue", "group" or "product" (the tenant-wide scope
 * has none; its families are separate). */
struct scope_ref {
    const char *key, *name;
    int scope;
};

enum { K_QUEUE, K_GROUP, K_PRODUCT };
/* room for every scope of one kind: queues, groups, products */
#define REFS_MAX (CONFIG_MAX_QUEUES > CARE_PRODUCTS_MAX ? CONFIG_MAX_QUEUES \
                                                        : CARE_PRODUCTS_MAX)

static unsigned scopes(const struct tenant *t, int kind,
                       struct scope_ref *out, unsigned max)
{
    unsigned n = 0;
    if (kind == K_GROUP) {
        for (unsigned g = 0; g < care_group_count(t->care) && n < max; g++)
            out[n++] = (struct scope_ref){ "group",
                                           care_group_name(t->care, g),
                                           care_scope_group(t->care, g) };
    } else if (kind == K_PRODUCT) {
        for (unsigned p = 0; p < care_product_count(t->care) && n < max;
             p++)
            out[n++] = (struct scope_ref){ "product",
                                           care_product_name(t->care, p),
                                           care_scope_product(t->care, p) };
    } else {
        int nq = router_queue_count(t->router);
        for (int q = 0; q < nq && n < max; q++)
            out[n++] = (struct scope_ref){ "queue",
                                           router_queue_name(t->router, q),
                                           care_scope_queue(t->care, q) };
    }
    return n;
}

static void dispositions(FILE *f, const struct server *s, int kind,
                         uint64_t wall_ms)
{
    static const char *const names[] = {
        "ccroute_care_dispositions", "ccroute_care_group_dispositions",
        "ccroute_care_product_dispositions",
    };
    static const char *const helps[] = {
        "Completions by disposition code and queue, in the current "
        "interval or today (UTC)",
        "Completions by disposition code and agent group, in the current "
        "interval or today (UTC)",
        "Completions by disposition code and product (ContactArrived."
        "product), in the current interval or today (UTC)",
    };
    const char *name = names[kind];
    struct scope_ref ref[REFS_MAX];
    promtext_family(f, name, "gauge", helps[kind]);
    for (unsigned ti = 0; ti < s->tenants.n; ti++) {
        const struct tenant *t = s->tenants.t[ti];
        unsigned n = scopes(t, kind, ref, REFS_MAX);
        for (unsigned i = 0; i < n; i++)
            for (unsigned k = 0; k < care_code_count(t->care); k++) {
                uint64_t iv, td;
                if (!care_scope_code(t->care, ref[i].scope, k, wall_ms, &iv,
                                     &td))
                    continue;
                for (int p = 0; p < 2; p++) {
                    open1(f, name, t, ref[i].key, ref[i].name);
                    label(f, "code", care_code_name(t->care, k));
                    fprintf(f, ",period=\"%s\"} %" PRIu64 "\n",
                            p ? "today" : "interval", p ? td : iv);
                }
            }
    }
}

static void tag_samples(FILE *f, const char *name, const struct tenant *t,
                        const char *key, const char *value, int scope,
                        uint64_t wall_ms)
{
    struct care_tag_count top[CARE_TOP_MAX];
    size_t n = care_top_tags(t->care, scope, wall_ms, top, CARE_TOP_MAX);
    static const char *const per[] = { "interval", "today", "yesterday" };
    for (size_t i = 0; i < n; i++)
        for (int p = 0; p < 3; p++) {
            uint64_t v = p == 0 ? top[i].interval
                         : p == 1 ? top[i].today : top[i].yesterday;
            if (key) {
                open1(f, name, t, key, value);
                label(f, "tag", top[i].tag);
            } else {
                open1(f, name, t, "tag", top[i].tag);
            }
            fprintf(f, ",period=\"%s\"} %" PRIu64 "\n", per[p], v);
        }
}

static void tags(FILE *f, const struct server *s, uint64_t wall_ms)
{
    struct scope_ref ref[REFS_MAX];
    promtext_family(f, "ccroute_care_tag_contacts", "gauge", "Completions "
                    "by tag, every queue together (the top care.top_tags "
                    "tags of today or yesterday)");
    for (unsigned ti = 0; ti < s->tenants.n; ti++)
        tag_samples(f, "ccroute_care_tag_contacts", s->tenants.t[ti], NULL,
                    NULL, 0, wall_ms);
    promtext_family(f, "ccroute_care_tag_rising", "gauge", "1 when a top "
                    "tag has at least 3 completions today and more than in "
                    "the whole previous day");
    for (unsigned ti = 0; ti < s->tenants.n; ti++) {
        const struct tenant *t = s->tenants.t[ti];
        struct care_tag_count top[CARE_TOP_MAX];
        size_t n = care_top_tags(t->care, 0, wall_ms, top, CARE_TOP_MAX);
        for (size_t i = 0; i < n; i++) {
            open1(f, "ccroute_care_tag_rising", t, "tag", top[i].tag);
            fprintf(f, "} %d\n", top[i].rising ? 1 : 0);
        }
    }
    for (int g = K_QUEUE; g <= K_PRODUCT; g++) {
        static const char *const names[] = {
            "ccroute_care_queue_tag_contacts",
            "ccroute_care_group_tag_contacts",
            "ccroute_care_product_tag_contacts",
        };
        static const char *const helps[] = {
            "Completions by tag and queue (each queue's top tags)",
            "Completions by tag and agent group (each group's top tags)",
            "Completions by tag and product (each product's top tags)",
        };
        const char *name = names[g];
        promtext_family(f, name, "gauge", helps[g]);
        for (unsigned ti = 0; ti < s->tenants.n; ti++) {
            const struct tenant *t = s->tenants.t[ti];
            unsigned n = scopes(t, g, ref, REFS_MAX);
            for (unsigned i = 0; i < n; i++)
                tag_samples(f, name, t, ref[i].key, ref[i].name,
                            ref[i].scope, wall_ms);
        }
    }
}

static void scope_figures(FILE *f, const struct server *s, uint64_t wall_ms)
{
    static const struct {
        const char *name, *help;
        int kind;
        int field;
    } fams[] = {
        { "ccroute_care_completed_today", "Completions counted today in "
          "the queue (with or without a disposition)", K_QUEUE, 0 },
        { "ccroute_care_difficult_today", "Completions today in the queue "
          "that were difficult (complaint, low sentiment, difficult code "
          "or marked by the agent)", K_QUEUE, 1 },
        { "ccroute_care_group_difficult_today", "Difficult completions "
          "today by agents of the group", K_GROUP, 1 },
        { "ccroute_care_group_recovery_pauses_today", "Recovery pauses "
          "started today for agents of the group", K_GROUP, 2 },
        { "ccroute_care_group_wrapups_extended_today", "Wrap-ups extended "
          "today for agents of the group (occupancy cap)", K_GROUP, 3 },
        { "ccroute_care_yields_today", "Care rules that yielded today to "
          "the queue's service level", K_QUEUE, 4 },
        { "ccroute_care_group_yields_today", "Care rules of the group that "
          "yielded today to a queue's service level", K_GROUP, 4 },
        { "ccroute_care_group_routine_today", "Routine-only modes begun "
          "today for agents of the group", K_GROUP, 5 },
        { "ccroute_care_product_completed_today", "Completions counted "
          "today of the product (ContactArrived.product)", K_PRODUCT, 0 },
        { "ccroute_care_product_difficult_today", "Completions today of "
          "the product that were difficult", K_PRODUCT, 1 },
    };
    struct scope_ref ref[REFS_MAX];
    for (size_t k = 0; k < sizeof(fams) / sizeof(fams[0]); k++) {
        promtext_family(f, fams[k].name, "gauge", fams[k].help);
        for (unsigned ti = 0; ti < s->tenants.n; ti++) {
            const struct tenant *t = s->tenants.t[ti];
            unsigned n = scopes(t, fams[k].kind, ref, REFS_MAX);
            for (unsigned i = 0; i < n; i++) {
                struct care_scope_view v;
                care_scope_view(t->care, ref[i].scope, wall_ms, &v);
                uint64_t x = fams[k].field == 0 ? v.completed_today
                             : fams[k].field == 1 ? v.difficult_today
                             : fams[k].field == 2 ? v.pauses_today
                             : fams[k].field == 3 ? v.extended_today
                             : fams[k].field == 4 ? v.yields_today
                                                  : v.routine_today;
                open1(f, fams[k].name, t, ref[i].key, ref[i].name);
                fprintf(f, "} %" PRIu64 "\n", x);
            }
        }
    }
    promtext_family(f, "ccroute_care_tags_untracked_total", "counter",
                    "Tag counts dropped because a bounded tag table was "
                    "full");
    for (unsigned ti = 0; ti < s->tenants.n; ti++) {
        const struct tenant *t = s->tenants.t[ti];
        fputs("ccroute_care_tags_untracked_total", f);
        if (s->tenants.n > 1) {
            fputs("{tenant=\"", f);
            promtext_label(f, t->name);
            fputs("\"}", f);
        }
        fprintf(f, " %" PRIu64 "\n", care_tags_untracked(t->care));
    }
    promtext_family(f, "ccroute_care_products_untracked_total", "counter",
                    "Completions of a product beyond the first 32 seen, "
                    "not counted per product");
    for (unsigned ti = 0; ti < s->tenants.n; ti++) {
        const struct tenant *t = s->tenants.t[ti];
        fputs("ccroute_care_products_untracked_total", f);
        if (s->tenants.n > 1) {
            fputs("{tenant=\"", f);
            promtext_label(f, t->name);
            fputs("\"}", f);
        }
        fprintf(f, " %" PRIu64 "\n", care_products_untracked(t->care));
    }
}

static void agents(FILE *f, const struct server *s, uint64_t now_us)
{
    static const char *const names[4] = {
        "ccroute_care_agent_difficult_recent",
        "ccroute_care_agent_pause_seconds_left",
        "ccroute_care_agent_rolling_occupancy_ratio",
        "ccroute_care_agent_routine_seconds_left",
    };
    static const char *const helps[4] = {
        "Difficult contacts the agent completed within its group's "
        "recovery window (for the supervisor, not a score)",
        "Time left in the agent's automatic pause (recovery or extended "
        "wrap-up)",
        "Handle time the agent completed within its group's occupancy "
        "window / the window",
        "Time left in the agent's routine-only mode (no contact marked "
        "difficult offered)",
    };
    for (int k = 0; k < 4; k++) {
        promtext_family(f, names[k], "gauge", helps[k]);
        for (unsigned ti = 0; ti < s->tenants.n; ti++) {
            const struct tenant *t = s->tenants.t[ti];
            const struct router *r = t->router;
            unsigned want = router_agent_count(r), seen = 0;
            if (!care_group_count(t->care))
                continue;
            for (uint32_t h = 0; seen < want && h < s->cfg->router.max_agents;
                 h++) {
                struct care_agent_view v;
                const char *id = router_agent_id(r, h);
                if (!id)
                    continue;
                seen++;
                care_agent_view(t->care, h, id, now_us, &v);
                if (v.group < 0)
                    continue;
                open1(f, names[k], t, "agent", id);
                label(f, "group", care_group_name(t->care,
                                                  (unsigned)v.group));
                if (k == 0)
                    fprintf(f, "} %" PRIu32 "\n", v.difficult_recent);
                else if (k == 1 || k == 3) {
                    uint32_t ms = k == 1 ? v.pause_left_ms
                                         : v.routine_left_ms;
                    fprintf(f, "} %" PRIu32 ".%03" PRIu32 "\n", ms / 1000,
                            ms % 1000);
                } else {
                    fprintf(f, "} %.17g\n", v.occupancy);
                }
            }
        }
    }
}

void caremetrics_write(FILE *f, const struct server *s, uint64_t now_us,
                       uint64_t wall_ms)
{
    dispositions(f, s, K_QUEUE, wall_ms);
    dispositions(f, s, K_GROUP, wall_ms);
    dispositions(f, s, K_PRODUCT, wall_ms);
    tags(f, s, wall_ms);
    scope_figures(f, s, wall_ms);
    agents(f, s, now_us);
}
