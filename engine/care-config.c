/* care-config.c -- the `care:` section; see care-config.h.
 *
 *   care:
 *     interval: 15m
 *     max_tags: 8
 *     top_tags: 10
 *     difficult_sentiment: -50
 *     dispositions:
 *       - queue: support            # or "*": every queue without a list
 *         codes: [resolved, escalated, refund, complaint]
 *         difficult: [complaint]    # a subset of codes
 *         required: false
 *         followup:                 # optional
 *           codes: [escalated]      # a subset of codes
 *           due_after: 24h
 *           queue: backoffice       # tasks without a number; default:
 *                                   # the completed contact's queue
 *           overdue_after: 1h       # 0 or absent: never overdue
 *           overdue_priority: 90
 *     agent_groups:
 *       - name: tier1
 *         agents: [alice, "t1-*"]
 *         recovery: {after: 3, within: 1h, pause: 5m}
 *         occupancy: {cap: 85, window: 1h, extend: 2m}
 *         spread: {weight: 30s, within: 1h}
 *         routine: {after: 2, within: 30m, for: 20m}
 *         yield_margin: 10          # points below the SL target
 *
 * Codes are gathered into one table for the whole configuration (at most
 * CARE_CODES_MAX distinct), so that counts of every scope are arrays
 * indexed by code.
 */
#include "care-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "care.h"

struct list_ctx {
    struct care_config *cfg;
    struct care_list *l;
    yaml_node_t *difficult;       /* read after codes */
    char dpath[96];
    yaml_node_t *followup;        /* read after codes */
    char fpath[96];
    bool has_queue, has_codes;
};

static int word(struct yamlwalk *w, yaml_node_t *v, const char *path,
                char *buf)
{
    if (yamlwalk_str(w, v, path, buf, CARE_WORD_MAX, false) < 0)
        return -1;
    for (const char *p = buf; *p; p++)
        if (*p == ',' || *p == ' ' || *p == '"' || *p == '\\')
            return yamlwalk_fail(w, yamlwalk_line(v), path, "\"%s\": a code "
                                 "may not hold a comma, a space, a quote or "
                                 "a backslash", buf);
    return 0;
}

static int code_item(struct yamlwalk *w, void *ctx, size_t i,
                     yaml_node_t *v, const char *path)
{
    struct list_ctx *lc = ctx;
    struct care_config *cfg = lc->cfg;
    char code[CARE_WORD_MAX] = {0};   /* copied whole: no stack bytes */
    int g;
    if (word(w, v, path, code) < 0)
        return -1;
    g = care_config_code(cfg, code);
    if (g < 0) {
        if (cfg->ncodes == CARE_CODES_MAX)
            return yamlwalk_fail(w, yamlwalk_line(v), path, "at most %d "
                                 "distinct codes in care.dispositions",
                                 CARE_CODES_MAX);
        memcpy(cfg->codes[cfg->ncodes], code, CARE_WORD_MAX);
        g = (int)cfg->ncodes++;
    }
    for (unsigned k = 0; k < lc->l->ncodes; k++)
        if (lc->l->code[k] == g)
            return yamlwalk_fail(w, yamlwalk_line(v), path, "\"%s\" is "
                                 "listed twice", code);
    lc->l->code[lc->l->ncodes++] = (uint8_t)g;
    return 0;
}

/* Sets, in `mask`, the bit of the list's code named by item v (a code
 * the list must hold). */
static int mark_code(struct yamlwalk *w, struct list_ctx *lc, yaml_node_t *v,
                     const char *path, uint64_t *mask)
{
    char code[CARE_WORD_MAX];
    int g;
    if (word(w, v, path, code) < 0)
        return -1;
    g = care_config_code(lc->cfg, code);
    for (unsigned k = 0; g >= 0 && k < lc->l->ncodes; k++)
        if (lc->l->code[k] == g) {
            *mask |= 1ull << k;
            return 0;
        }
    return yamlwalk_fail(w, yamlwalk_line(v), path, "\"%s\" is not one of "
                         "this list's codes", code);
}

static int difficult_item(struct yamlwalk *w, void *ctx, size_t i,
                          yaml_node_t *v, const char *path)
{
    struct list_ctx *lc = ctx;
    return mark_code(w, lc, v, path, &lc->l->difficult);
}

static int followup_item(struct yamlwalk *w, void *ctx, size_t i,
                         yaml_node_t *v, const char *path)
{
    struct list_ctx *lc = ctx;
    return mark_code(w, lc, v, path, &lc->l->followup);
}

enum { FK_CODES, FK_DUE, FK_QUEUE, FK_OVERDUE, FK_PRIORITY };
static const char *const followup_keys[] = {
    "codes", "due_after", "queue", "overdue_after", "overdue_priority", NULL,
};

static int followup_field(struct yamlwalk *w, void *ctx, int key,
                          yaml_node_t *v, const char *path)
{
    struct list_ctx *lc = ctx;
    switch (key) {
    case FK_CODES:
        return yamlwalk_list(w, v, path, CARE_LIST_CODES, "codes",
                             followup_item, lc);
    case FK_DUE:
        return yamlwalk_duration_ms(w, v, path, &lc->l->followup_after_ms);
    case FK_QUEUE:
        return yamlwalk_str(w, v, path, lc->l->followup_queue,
                            sizeof(lc->l->followup_queue), false);
    case FK_OVERDUE:
        return yamlwalk_duration_ms(w, v, path, &lc->l->followup_overdue_ms);
    case FK_PRIORITY:
        return yamlwalk_u32(w, v, path, 0, 100, &lc->l->followup_priority);
    }
    return -1;
}

enum { LK_QUEUE, LK_CODES, LK_DIFFICULT, LK_REQUIRED, LK_FOLLOWUP };
static const char *const list_keys[] = {
    "queue", "codes", "difficult", "required", "followup", NULL,
};

static int list_field(struct yamlwalk *w, void *ctx, int key, yaml_node_t *v,
                      const char *path)
{
    struct list_ctx *lc = ctx;
    switch (key) {
    case LK_QUEUE:
        lc->has_queue = true;
        return yamlwalk_str(w, v, path, lc->l->queue, sizeof(lc->l->queue),
                            false);
    case LK_CODES:
        lc->has_codes = true;
        return yamlwalk_list(w, v, path, CARE_LIST_CODES, "codes", code_item,
                             lc);
    case LK_DIFFICULT:
        lc->difficult = v;
        snprintf(lc->dpath, sizeof(lc->dpath), "%s", path);
        return 0;
    case LK_REQUIRED:
        return yamlwalk_bool(w, v, path, &lc->l->required);
    case LK_FOLLOWUP:
        lc->followup = v;
        snprintf(lc->fpath, sizeof(lc->fpath), "%s", path);
        return 0;
    }
    return -1;
}

static int list_item(struct yamlwalk *w, void *ctx, size_t i, yaml_node_t *v,
                     const char *path)
{
    struct care_config *cfg = ctx;
    struct list_ctx lc = { .cfg = cfg, .l = &cfg->lists[cfg->nlists] };
    memset(lc.l, 0, sizeof(*lc.l));
    lc.l->line = yamlwalk_line(v);
    if (yamlwalk_map(w, v, path, list_keys, list_field, &lc) < 0)
        return -1;
    if (!lc.has_queue)
        return yamlwalk_fail(w, lc.l->line, path, "missing \"queue\"");
    if (!lc.has_codes || !lc.l->ncodes)
        return yamlwalk_fail(w, lc.l->line, path, "missing \"codes\"");
    if (lc.difficult && yamlwalk_list(w, lc.difficult, lc.dpath,
                                      CARE_LIST_CODES, "difficult",
                                      difficult_item, &lc) < 0)
        return -1;
    if (lc.followup) {
        if (yamlwalk_map(w, lc.followup, lc.fpath, followup_keys,
                         followup_field, &lc) < 0)
            return -1;
        if (!lc.l->followup || !lc.l->followup_after_ms)
            return yamlwalk_fail(w, yamlwalk_line(lc.followup), lc.fpath,
                                 "needs codes and due_after (not 0)");
    }
    cfg->nlists++;
    return 0;
}

static int pattern_item(struct yamlwalk *w, void *ctx, size_t i,
                        yaml_node_t *v, const char *path)
{
    struct care_group *g = ctx;
    return yamlwalk_str(w, v, path, g->agents[g->nagents++],
                        ROUTER_ID_MAX, false);
}

enum { RK_AFTER, RK_WITHIN, RK_PAUSE };
static const char *const recovery_keys[] = { "after", "within", "pause",
                                             NULL };

static int recovery_field(struct yamlwalk *w, void *ctx, int key,
                          yaml_node_t *v, const char *path)
{
    struct care_group *g = ctx;
    switch (key) {
    case RK_AFTER:
        return yamlwalk_u32(w, v, path, 1, CARE_RING, &g->recovery_after);
    case RK_WITHIN:
        return yamlwalk_duration_ms(w, v, path, &g->recovery_within_ms);
    case RK_PAUSE:
        return yamlwalk_duration_ms(w, v, path, &g->recovery_pause_ms);
    }
    return -1;
}

enum { OK_CAP, OK_WINDOW, OK_EXTEND };
static const char *const occupancy_keys[] = { "cap", "window", "extend",
                                              NULL };

static int occupancy_field(struct yamlwalk *w, void *ctx, int key,
                           yaml_node_t *v, const char *path)
{
    struct care_group *g = ctx;
    switch (key) {
    case OK_CAP:
        return yamlwalk_u32(w, v, path, 1, 100, &g->occupancy_cap);
    case OK_WINDOW:
        return yamlwalk_duration_ms(w, v, path, &g->occupancy_window_ms);
    case OK_EXTEND:
        return yamlwalk_duration_ms(w, v, path, &g->wrapup_extend_ms);
    }
    return -1;
}

enum { SK_WEIGHT, SK_WITHIN };
static const char *const spread_keys[] = { "weight", "within", NULL };

static int spread_field(struct yamlwalk *w, void *ctx, int key,
                        yaml_node_t *v, const char *path)
{
    struct care_group *g = ctx;
    if (key == SK_WEIGHT) {
        if (yamlwalk_duration_ms(w, v, path, &g->spread_weight_ms) < 0)
            return -1;
        /* CARE_RING contacts of this weight fit the router's cap */
        if (g->spread_weight_ms > ROUTER_IDLE_SHIFT_MAX_MS / CARE_RING)
            return yamlwalk_fail(w, yamlwalk_line(v), path, "at most %u "
                                 "ms", ROUTER_IDLE_SHIFT_MAX_MS / CARE_RING);
        return 0;
    }
    return yamlwalk_duration_ms(w, v, path, &g->spread_within_ms);
}

enum { TK_AFTER, TK_WITHIN, TK_FOR };
static const char *const routine_keys[] = { "after", "within", "for", NULL };

static int routine_field(struct yamlwalk *w, void *ctx, int key,
                         yaml_node_t *v, const char *path)
{
    struct care_group *g = ctx;
    switch (key) {
    case TK_AFTER:
        return yamlwalk_u32(w, v, path, 1, CARE_RING, &g->routine_after);
    case TK_WITHIN:
        return yamlwalk_duration_ms(w, v, path, &g->routine_within_ms);
    case TK_FOR:
        return yamlwalk_duration_ms(w, v, path, &g->routine_for_ms);
    }
    return -1;
}

enum { GK_NAME, GK_AGENTS, GK_RECOVERY, GK_OCCUPANCY, GK_YIELD, GK_SPREAD,
       GK_ROUTINE };
static const char *const group_keys[] = {
    "name", "agents", "recovery", "occupancy", "yield_margin", "spread",
    "routine", NULL,
};

static int group_field(struct yamlwalk *w, void *ctx, int key, yaml_node_t *v,
                       const char *path)
{
    struct care_group *g = ctx;
    switch (key) {
    case GK_NAME:
        return yamlwalk_str(w, v, path, g->name, sizeof(g->name), false);
    case GK_AGENTS:
        return yamlwalk_list(w, v, path, CARE_PATTERNS_MAX, "agents",
                             pattern_item, g);
    case GK_RECOVERY:
        if (yamlwalk_map(w, v, path, recovery_keys, recovery_field, g) < 0)
            return -1;
        if (!g->recovery_after || !g->recovery_within_ms ||
            !g->recovery_pause_ms)
            return yamlwalk_fail(w, yamlwalk_line(v), path, "needs after, "
                                 "within and pause (none of them 0)");
        return 0;
    case GK_OCCUPANCY:
        if (yamlwalk_map(w, v, path, occupancy_keys, occupancy_field, g) < 0)
            return -1;
        if (!g->occupancy_cap || !g->occupancy_window_ms ||
            !g->wrapup_extend_ms)
            return yamlwalk_fail(w, yamlwalk_line(v), path, "needs cap, "
                                 "window and extend (none of them 0)");
        return 0;
    case GK_YIELD:
        g->sl_yield = true;
        return yamlwalk_u32(w, v, path, 0, 100, &g->sl_margin);
    case GK_SPREAD:
        if (yamlwalk_map(w, v, path, spread_keys, spread_field, g) < 0)
            return -1;
        if (!g->spread_weight_ms || !g->spread_within_ms)
            return yamlwalk_fail(w, yamlwalk_line(v), path, "needs weight "
                                 "and within (neither of them 0)");
        return 0;
    case GK_ROUTINE:
        if (yamlwalk_map(w, v, path, routine_keys, routine_field, g) < 0)
            return -1;
        if (!g->routine_after || !g->routine_within_ms ||
            !g->routine_for_ms)
            return yamlwalk_fail(w, yamlwalk_line(v), path, "needs after, "
                                 "within and for (none of them 0)");
        return 0;
    }
    return -1;
}

static int group_item(struct yamlwalk *w, void *ctx, size_t i, yaml_node_t *v,
                      const char *path)
{
    struct care_config *cfg = ctx;
    struct care_group *g = &cfg->groups[cfg->ngroups];
    memset(g, 0, sizeof(*g));
    g->line = yamlwalk_line(v);
    if (yamlwalk_map(w, v, path, group_keys, group_field, g) < 0)
        return -1;
    if (!g->name[0])
        return yamlwalk_fail(w, g->line, path, "missing \"name\"");
    if (!g->nagents)
        return yamlwalk_fail(w, g->line, path, "missing \"agents\" (agent "
                             "ids, or prefixes ending in *)");
    for (unsigned k = 0; k < cfg->ngroups; k++)
        if (!strcmp(cfg->groups[k].name, g->name))
            return yamlwalk_fail(w, g->line, path, "a second group named "
                                 "\"%s\"", g->name);
    cfg->ngroups++;
    return 0;
}

enum { CK_INTERVAL, CK_MAX_TAGS, CK_TOP_TAGS, CK_SENTIMENT, CK_DISPOSITIONS,
       CK_GROUPS };
static const char *const care_keys[] = {
    "interval", "max_tags", "top_tags", "difficult_sentiment",
    "dispositions", "agent_groups", NULL,
};

static int care_field(struct yamlwalk *w, void *ctx, int key, yaml_node_t *v,
                      const char *path)
{
    struct care_config *cfg = ctx;
    const char *s;
    char *end;
    long n;
    switch (key) {
    case CK_INTERVAL:
        if (yamlwalk_duration_ms(w, v, path, &cfg->interval_ms) < 0)
            return -1;
        if (cfg->interval_ms < 60000 || 86400000 % cfg->interval_ms)
            return yamlwalk_fail(w, yamlwalk_line(v), path, "must be at "
                                 "least 1m and divide a day (e.g. 15m, "
                                 "30m, 1h)");
        return 0;
    case CK_MAX_TAGS:
        return yamlwalk_u32(w, v, path, 0, CARE_TAGS_CAP, &cfg->max_tags);
    case CK_TOP_TAGS:
        return yamlwalk_u32(w, v, path, 1, CARE_TOP_MAX, &cfg->top_tags);
    case CK_SENTIMENT:
        if (yamlwalk_scalar(w, v, path, &s) < 0)
            return -1;
        n = strtol(s, &end, 10);
        if (end == s || *end || n < -100 || n > -1)
            return yamlwalk_fail(w, yamlwalk_line(v), path, "\"%s\" is not "
                                 "a whole number from -100 to -1", s);
        cfg->difficult_sentiment = (int32_t)n;
        return 0;
    case CK_DISPOSITIONS:
        return yamlwalk_list(w, v, path, CARE_LISTS_MAX, "dispositions",
                             list_item, cfg);
    case CK_GROUPS:
        return yamlwalk_list(w, v, path, CARE_GROUPS_MAX, "agent_groups",
                             group_item, cfg);
    }
    return -1;
}

int care_config_walk(struct yamlwalk *w, yaml_node_t *v, const char *path,
                     struct care_config *cfg)
{
    return yamlwalk_map(w, v, path, care_keys, care_field, cfg);
}

int care_config_check(struct yamlwalk *w, const struct care_config *cfg,
                      const struct router_config *rc)
{
    for (unsigned l = 0; l < cfg->nlists; l++) {
        const char *q = cfg->lists[l].queue;
        bool found = !strcmp(q, "*");
        for (unsigned i = 0; !found && i < rc->nqueues; i++)
            found = !strcmp(rc->queues[i].name, q);
        if (!found)
            return yamlwalk_fail(w, cfg->lists[l].line, "care.dispositions",
                                 "queue \"%s\" is not configured (queues)",
                                 q);
        found = !cfg->lists[l].followup_queue[0];
        for (unsigned i = 0; !found && i < rc->nqueues; i++)
            found = !strcmp(rc->queues[i].name, cfg->lists[l].followup_queue);
        if (!found)
            return yamlwalk_fail(w, cfg->lists[l].line, "care.dispositions",
                                 "followup.queue \"%s\" is not configured "
                                 "(queues)", cfg->lists[l].followup_queue);
        for (unsigned k = 0; k < l; k++)
            if (!strcmp(cfg->lists[k].queue, q))
                return yamlwalk_fail(w, cfg->lists[l].line,
                                     "care.dispositions", "a second list "
                                     "for queue \"%s\"", q);
    }
    return 0;
}
