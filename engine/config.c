/* config.c -- YAML configuration loader; see config.h.
 *
 * The file is loaded as one libyaml document (a node graph with line
 * marks), then walked top-down. Each mapping is checked against the list of
 * keys it may hold (struct cfg_key), so unknown keys are reported with
 * their line; each leaf is converted by one typed helper (string, number,
 * duration, size, boolean, enum) that reports its own errors. The path of
 * the field ("queues[2].steps[0].after") is built as the walk descends and
 * goes into every message.
 *
 * Cross references (overflow and widen queues, step skills, skills list)
 * are checked after every queue is read, with the lines saved on the way.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

struct cfgp {
    const char *file;
    yaml_document_t *doc;
    struct config *c;
    char *err;
    size_t errlen;
};

struct cfg_key {
    const char *name;
    int is_duration;      /* also accepted with an "_ms" suffix */
};

static const char *const strategy_names[] = {
    [ROUTER_STRATEGY_LONGEST_IDLE] = "longest_idle",
    [ROUTER_STRATEGY_MOST_SKILLED] = "most_skilled",
    [ROUTER_STRATEGY_LEAST_OCCUPIED] = "least_occupied",
    [ROUTER_STRATEGY_ROUND_ROBIN] = "round_robin",
    [ROUTER_STRATEGY_WEIGHTED_RANDOM] = "weighted_random",
};

static const char *const channel_names[] = {
    [ROUTER_CH_VOICE] = "voice",
    [ROUTER_CH_CHAT] = "chat",
    [ROUTER_CH_EMAIL] = "email",
    [ROUTER_CH_SOCIAL] = "social",
};

static unsigned long node_line(const yaml_node_t *n)
{
    return (unsigned long)n->start_mark.line + 1;
}

static int cfg_fail(struct cfgp *p, unsigned long line, const char *path,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int cfg_fail(struct cfgp *p, unsigned long line, const char *path,
                    const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (path && *path)
        snprintf(p->err, p->errlen, "%s:%lu: %s: %s", p->file, line, path, msg);
    else
        snprintf(p->err, p->errlen, "%s:%lu: %s", p->file, line, msg);
    return -1;
}

static void path_join(char *out, size_t len, const char *base,
                      const char *key)
{
    if (base && *base)
        snprintf(out, len, "%s.%s", base, key);
    else
        snprintf(out, len, "%s", key);
}

static yaml_node_t *cfg_node(struct cfgp *p, int idx)
{
    return yaml_document_get_node(p->doc, idx);
}

/* ---- value syntax (public helpers) ---- */

static int parse_u64_prefix(const char *s, uint64_t *v, const char **rest)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno)
        return -1;
    *v = x;
    *rest = end;
    return 0;
}

int config_parse_duration(const char *s, uint64_t unit_ms, uint64_t *ms)
{
    uint64_t v, mult;
    const char *unit;
    if (parse_u64_prefix(s, &v, &unit) < 0)
        return -1;
    while (*unit == ' ')
        unit++;
    if (!*unit)
        mult = unit_ms;
    else if (!strcmp(unit, "ms"))
        mult = 1;
    else if (!strcmp(unit, "s"))
        mult = 1000;
    else if (!strcmp(unit, "m") || !strcmp(unit, "min"))
        mult = 60000;
    else if (!strcmp(unit, "h"))
        mult = 3600000;
    else
        return -1;
    if (v > UINT64_MAX / mult)
        return -1;
    *ms = v * mult;
    return 0;
}

int config_parse_size(const char *s, uint64_t *bytes)
{
    uint64_t v, mult;
    const char *unit;
    if (parse_u64_prefix(s, &v, &unit) < 0)
        return -1;
    while (*unit == ' ')
        unit++;
    if (!*unit || !strcasecmp(unit, "b"))
        mult = 1;
    else if (!strcasecmp(unit, "k") || !strcasecmp(unit, "kb") ||
             !strcasecmp(unit, "kib"))
        mult = 1024;
    else if (!strcasecmp(unit, "m") || !strcasecmp(unit, "mb") ||
             !strcasecmp(unit, "mib"))
        mult = 1024 * 1024;
    else if (!strcasecmp(unit, "g") || !strcasecmp(unit, "gb") ||
             !strcasecmp(unit, "gib"))
        mult = 1024ull * 1024 * 1024;
    else
        return -1;
    if (v > UINT64_MAX / mult)
        return -1;
    *bytes = v * mult;
    return 0;
}

int config_parse_listen(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon, *h = s;
    size_t hl;
    uint64_t v;
    const char *rest;

    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return -1;
        h = s + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return -1;
        hl = (size_t)(colon - s);
    }
    if (parse_u64_prefix(colon + 1, &v, &rest) < 0 || *rest || v > 65535)
        return -1;
    if (hl == 0) {
        h = CONFIG_DEFAULT_HOST;
        hl = strlen(h);
    }
    if (hl >= hostlen)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)v;
    return 0;
}

/* ---- typed leaves ---- */

static int get_scalar(struct cfgp *p, yaml_node_t *n, const char *path,
                      const char **out)
{
    if (n->type != YAML_SCALAR_NODE)
        return cfg_fail(p, node_line(n), path, "expected a single value, "
                        "not a %s", n->type == YAML_MAPPING_NODE ?
                        "mapping" : "list");
    *out = (const char *)n->data.scalar.value;
    return 0;
}

static int get_str(struct cfgp *p, yaml_node_t *n, const char *path,
                   char *buf, size_t cap, int allow_empty)
{
    const char *s = NULL;
    if (get_scalar(p, n, path, &s) < 0)
        return -1;
    if (!allow_empty && !*s)
        return cfg_fail(p, node_line(n), path, "must not be empty");
    if (strlen(s) >= cap)
        return cfg_fail(p, node_line(n), path, "\"%s\" is too long "
                        "(at most %zu bytes)", s, cap - 1);
    strcpy(buf, s);
    return 0;
}

static int get_u64(struct cfgp *p, yaml_node_t *n, const char *path,
                   uint64_t min, uint64_t max, uint64_t *out)
{
    const char *s = NULL, *rest;
    uint64_t v;
    if (get_scalar(p, n, path, &s) < 0)
        return -1;
    if (parse_u64_prefix(s, &v, &rest) < 0 || *rest)
        return cfg_fail(p, node_line(n), path, "\"%s\" is not a "
                        "non-negative integer", s);
    if (v < min || v > max)
        return cfg_fail(p, node_line(n), path, "%llu is out of range "
                        "(%llu..%llu)", (unsigned long long)v,
                        (unsigned long long)min, (unsigned long long)max);
    *out = v;
    return 0;
}

static int get_u32(struct cfgp *p, yaml_node_t *n, const char *path,
                   uint32_t min, uint32_t max, uint32_t *out)
{
    uint64_t v;
    if (get_u64(p, n, path, min, max, &v) < 0)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int get_duration(struct cfgp *p, yaml_node_t *n, const char *path,
                        uint64_t unit_ms, uint32_t *out_ms)
{
    const char *s = NULL;
    uint64_t v;
    if (get_scalar(p, n, path, &s) < 0)
        return -1;
    if (config_parse_duration(s, unit_ms, &v) < 0)
        return cfg_fail(p, node_line(n), path, "\"%s\" is not a duration "
                        "(e.g. 30s, 500ms, 2m, or a number of %s)", s,
                        unit_ms == 1000 ? "seconds" : "milliseconds");
    if (v > UINT32_MAX)
        return cfg_fail(p, node_line(n), path, "\"%s\" is too long", s);
    *out_ms = (uint32_t)v;
    return 0;
}

static int get_size(struct cfgp *p, yaml_node_t *n, const char *path,
                    uint64_t min, uint64_t max, size_t *out)
{
    const char *s = NULL;
    uint64_t v;
    if (get_scalar(p, n, path, &s) < 0)
        return -1;
    if (config_parse_size(s, &v) < 0)
        return cfg_fail(p, node_line(n), path, "\"%s\" is not a size "
                        "(e.g. 65536, 64KiB, 4MiB)", s);
    if (v < min || v > max)
        return cfg_fail(p, node_line(n), path, "%s is out of range "
                        "(%llu..%llu bytes)", s, (unsigned long long)min,
                        (unsigned long long)max);
    *out = (size_t)v;
    return 0;
}

static int get_bool(struct cfgp *p, yaml_node_t *n, const char *path,
                    bool *out)
{
    const char *s = NULL;
    if (get_scalar(p, n, path, &s) < 0)
        return -1;
    if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") ||
        !strcasecmp(s, "on"))
        *out = true;
    else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") ||
             !strcasecmp(s, "off"))
        *out = false;
    else
        return cfg_fail(p, node_line(n), path, "\"%s\" is not a boolean "
                        "(expected true or false)", s);
    return 0;
}

static int get_enum(struct cfgp *p, yaml_node_t *n, const char *path,
                    const char *what, const char *const *names, int count,
                    int *out)
{
    const char *s = NULL;
    char expected[256] = "";
    size_t el = 0;
    if (get_scalar(p, n, path, &s) < 0)
        return -1;
    for (int i = 0; i < count; i++) {
        if (names[i] && !strcmp(s, names[i])) {
            *out = i;
            return 0;
        }
    }
    for (int i = 0; i < count; i++) {
        if (!names[i])
            continue;
        int w = snprintf(expected + el, sizeof(expected) - el, "%s%s",
                         el ? ", " : "", names[i]);
        if (w > 0 && (size_t)w < sizeof(expected) - el)
            el += (size_t)w;
    }
    return cfg_fail(p, node_line(n), path, "unknown %s \"%s\" (expected %s)",
                    what, s, expected);
}

/* ---- mappings ---- */

/* Matches `key` against `keys`; returns the index or -1. */
static int key_find(const struct cfg_key *keys, const char *key)
{
    size_t kl = strlen(key);
    for (int i = 0; keys[i].name; i++) {
        size_t nl = strlen(keys[i].name);
        if (!strcmp(keys[i].name, key))
            return i;
        if (keys[i].is_duration && kl == nl + 3 &&
            !strncmp(key, keys[i].name, nl) && !strcmp(key + nl, "_ms"))
            return i;
    }
    return -1;
}

typedef int (*cfg_field_fn)(struct cfgp *p, void *ctx, int key,
                            yaml_node_t *val, const char *path);

/* Walks mapping `n`, calling fn for each known key; unknown and repeated
 * keys are errors. */
static int cfg_map(struct cfgp *p, yaml_node_t *n, const char *path,
                   const struct cfg_key *keys, cfg_field_fn fn, void *ctx)
{
    uint64_t seen = 0;
    if (n->type != YAML_MAPPING_NODE)
        return cfg_fail(p, node_line(n), path, "expected a mapping "
                        "(key: value lines)");
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start;
         pr < n->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = cfg_node(p, pr->key), *v = cfg_node(p, pr->value);
        char sub[256];
        const char *ks;
        if (k->type != YAML_SCALAR_NODE)
            return cfg_fail(p, node_line(k), path, "keys must be plain "
                            "names");
        ks = (const char *)k->data.scalar.value;
        path_join(sub, sizeof(sub), path, ks);
        int i = key_find(keys, ks);
        if (i < 0) {
            char expected[512] = "";
            size_t el = 0;
            for (int j = 0; keys[j].name; j++) {
                int w = snprintf(expected + el, sizeof(expected) - el, "%s%s",
                                 el ? ", " : "", keys[j].name);
                if (w > 0 && (size_t)w < sizeof(expected) - el)
                    el += (size_t)w;
            }
            return cfg_fail(p, node_line(k), sub, "unknown key (expected "
                            "one of: %s)", expected);
        }
        if (seen & (1ull << i))
            return cfg_fail(p, node_line(k), sub, "given twice");
        seen |= 1ull << i;
        if (fn(p, ctx, i, v, sub) < 0)
            return -1;
    }
    return 0;
}

static int cfg_seq(struct cfgp *p, yaml_node_t *n, const char *path)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return cfg_fail(p, node_line(n), path, "expected a list");
    return 0;
}

#define SEQ_LEN(n) ((size_t)((n)->data.sequence.items.top - \
                             (n)->data.sequence.items.start))

/* ---- listen ---- */

static const struct cfg_key listen_keys[] = {
    { "address", 0 }, { "port", 0 }, { NULL, 0 },
};

static int listen_field(struct cfgp *p, void *ctx, int key, yaml_node_t *v,
                        const char *path)
{
    struct config *c = p->c;
    uint32_t port;
    switch (key) {
    case 0:
        return get_str(p, v, path, c->listen_host, sizeof(c->listen_host), 0);
    case 1:
        if (get_u32(p, v, path, 0, 65535, &port) < 0)
            return -1;
        c->listen_port = (int)port;
        return 0;
    }
    return -1;
}

static int cfg_listen(struct cfgp *p, yaml_node_t *v, const char *path)
{
    const char *s = NULL;
    if (v->type == YAML_MAPPING_NODE)
        return cfg_map(p, v, path, listen_keys, listen_field, NULL);
    if (get_scalar(p, v, path, &s) < 0)
        return -1;
    if (config_parse_listen(s, p->c->listen_host, sizeof(p->c->listen_host),
                            &p->c->listen_port) < 0)
        return cfg_fail(p, node_line(v), path, "\"%s\" is not HOST:PORT", s);
    return 0;
}

/* ---- redis ---- */

static const struct cfg_key redis_keys[] = {
    { "enabled", 0 }, { "durability", 0 }, { "host", 0 }, { "port", 0 },
    { "db", 0 }, { "password", 0 }, { "tenant", 0 },
    { "connect_timeout", 1 }, { "command_timeout", 1 }, { "lease", 1 },
    { "renew", 1 }, { "reconnect_min", 1 }, { "reconnect_max", 1 },
    { "max_pending", 0 }, { "stream_maxlen", 0 }, { "advertise", 0 },
    { NULL, 0 },
};

static int redis_field(struct cfgp *p, void *ctx, int key, yaml_node_t *v,
                       const char *path)
{
    struct store_config *s = &p->c->store;
    static const char *const dur[] = { "redis", "memory" };
    uint32_t u;
    uint64_t u64;
    int e;
    switch (key) {
    case 0: return get_bool(p, v, path, &s->enabled);
    case 1:
        if (get_enum(p, v, path, "durability", dur, 2, &e) < 0)
            return -1;
        s->durability = e == 0 ? STORE_DURABILITY_REDIS
                               : STORE_DURABILITY_MEMORY;
        return 0;
    case 2: return get_str(p, v, path, s->host, sizeof(s->host), 0);
    case 3:
        if (get_u32(p, v, path, 1, 65535, &u) < 0)
            return -1;
        s->port = (int)u;
        return 0;
    case 4:
        if (get_u32(p, v, path, 0, 1000, &u) < 0)
            return -1;
        s->db = (int)u;
        return 0;
    case 5: return get_str(p, v, path, s->password, sizeof(s->password), 1);
    case 6: return get_str(p, v, path, s->tenant, sizeof(s->tenant), 0);
    case 7: return get_duration(p, v, path, 1, &s->connect_timeout_ms);
    case 8: return get_duration(p, v, path, 1, &s->command_timeout_ms);
    case 9: return get_duration(p, v, path, 1, &s->lease_ms);
    case 10: return get_duration(p, v, path, 1, &s->renew_ms);
    case 11: return get_duration(p, v, path, 1, &s->reconnect_min_ms);
    case 12: return get_duration(p, v, path, 1, &s->reconnect_max_ms);
    case 13:
        if (get_u64(p, v, path, 1, 100000000, &u64) < 0)
            return -1;
        s->max_pending = (size_t)u64;
        return 0;
    case 14: return get_u32(p, v, path, 0, UINT32_MAX, &s->stream_maxlen);
    case 15: return get_str(p, v, path, s->advertise, sizeof(s->advertise), 1);
    }
    return -1;
}

/* ---- routing ---- */

static const struct cfg_key routing_keys[] = {
    { "priority_weight", 1 }, { "value_weight", 1 }, { "preferred_wait", 1 },
    { "max_no_answer", 0 }, { "voice_blocks_others", 0 },
    { "offer_timeout", 1 }, { "max_agents", 0 }, { "max_contacts", 0 },
    { NULL, 0 },
};

static int routing_field(struct cfgp *p, void *ctx, int key, yaml_node_t *v,
                         const char *path)
{
    struct router_config *r = &p->c->router;
    switch (key) {
    case 0: return get_duration(p, v, path, 1, &r->priority_weight_ms);
    case 1: return get_duration(p, v, path, 1, &r->value_weight_ms);
    case 2: return get_duration(p, v, path, 1, &r->preferred_wait_ms);
    case 3: return get_u32(p, v, path, 0, 1000, &r->max_no_answer);
    case 4: return get_bool(p, v, path, &r->voice_blocks_others);
    case 5: return get_duration(p, v, path, 1, &r->default_offer_timeout_ms);
    case 6: return get_u32(p, v, path, 1, 10000000, &r->max_agents);
    case 7: return get_u32(p, v, path, 1, 100000000, &r->max_contacts);
    }
    return -1;
}

/* ---- queues ---- */

/* Lines kept for the cross-reference checks after every queue is read. */
struct queue_lines {
    unsigned long queue, name, overflow;
    unsigned long skill[ROUTER_MAX_REQ];
    unsigned long step[ROUTER_MAX_STEPS];
};

struct queue_ctx {
    struct router_queue_config *q;
    struct queue_lines *lines;
    struct router_step *step;     /* the step being read */
    int step_kind_seen;
    int step_after_seen;
};

static const struct cfg_key queue_keys[] = {
    { "name", 0 }, { "skills", 0 }, { "channels", 0 }, { "strategy", 0 },
    { "service_level", 0 }, { "offer_timeout", 1 }, { "wrapup", 1 },
    { "max_length", 0 }, { "max_wait", 1 }, { "overflow", 0 },
    { "steps", 0 }, { NULL, 0 },
};

static const struct cfg_key sl_keys[] = {
    { "percent", 0 }, { "seconds", 0 }, { NULL, 0 },
};

static const struct cfg_key step_keys[] = {
    { "after", 1 }, { "lower", 0 }, { "drop", 0 }, { "widen", 0 },
    { NULL, 0 },
};

static const struct cfg_key lower_keys[] = {
    { "skill", 0 }, { "level", 0 }, { NULL, 0 },
};

static int sl_field(struct cfgp *p, void *ctx, int key, yaml_node_t *v,
                    const char *path)
{
    struct router_queue_config *q = ctx;
    if (key == 0)
        return get_u32(p, v, path, 1, 100, &q->sl_percent);
    return get_duration(p, v, path, 1000, &q->sl_threshold_ms);
}

static int lower_field(struct cfgp *p, void *ctx, int key, yaml_node_t *v,
                       const char *path)
{
    struct router_step *st = ctx;
    uint32_t level;
    if (key == 0)
        return get_str(p, v, path, st->skill, sizeof(st->skill), 0);
    if (get_u32(p, v, path, 1, ROUTER_LEVEL_MAX, &level) < 0)
        return -1;
    st->level = (uint8_t)level;
    return 0;
}

static int step_field(struct cfgp *p, void *ctx, int key, yaml_node_t *v,
                      const char *path)
{
    struct queue_ctx *qc = ctx;
    struct router_step *st = qc->step;
    if (key == 0) {
        qc->step_after_seen = 1;
        return get_duration(p, v, path, 1, &st->after_ms);
    }
    if (qc->step_kind_seen)
        return cfg_fail(p, node_line(v), path, "a step does exactly one "
                        "thing: lower, drop or widen");
    qc->step_kind_seen = 1;
    switch (key) {
    case 1:
        st->kind = ROUTER_STEP_LOWER_LEVEL;
        if (cfg_map(p, v, path, lower_keys, lower_field, st) < 0)
            return -1;
        if (!st->skill[0] || !st->level)
            return cfg_fail(p, node_line(v), path, "needs skill and level");
        return 0;
    case 2:
        st->kind = ROUTER_STEP_DROP_SKILL;
        return get_str(p, v, path, st->skill, sizeof(st->skill), 0);
    case 3:
        st->kind = ROUTER_STEP_ADD_QUEUE;
        return get_str(p, v, path, st->queue, sizeof(st->queue), 0);
    }
    return -1;
}

static int queue_field(struct cfgp *p, void *ctx, int key, yaml_node_t *v,
                       const char *path)
{
    struct queue_ctx *qc = ctx;
    struct router_queue_config *q = qc->q;
    int e;
    char sub[256];

    switch (key) {
    case 0:
        qc->lines->name = node_line(v);
        return get_str(p, v, path, q->name, sizeof(q->name), 0);
    case 1:
        if (v->type != YAML_MAPPING_NODE)
            return cfg_fail(p, node_line(v), path, "expected a mapping of "
                            "skill: min_level");
        for (yaml_node_pair_t *pr = v->data.mapping.pairs.start;
             pr < v->data.mapping.pairs.top; pr++) {
            yaml_node_t *k = cfg_node(p, pr->key), *lv = cfg_node(p, pr->value);
            uint32_t level;
            if (q->nreq == ROUTER_MAX_REQ)
                return cfg_fail(p, node_line(k), path, "at most %d skills "
                                "per queue", ROUTER_MAX_REQ);
            struct router_skill_req *rq = &q->req[q->nreq];
            if (get_str(p, k, path, rq->skill, sizeof(rq->skill), 0) < 0)
                return -1;
            path_join(sub, sizeof(sub), path, rq->skill);
            if (get_u32(p, lv, sub, 1, ROUTER_LEVEL_MAX, &level) < 0)
                return -1;
            rq->min_level = (uint8_t)level;
            qc->lines->skill[q->nreq] = node_line(k);
            q->nreq++;
        }
        return 0;
    case 2:
        if (cfg_seq(p, v, path) < 0)
            return -1;
        for (size_t i = 0; i < SEQ_LEN(v); i++) {
            yaml_node_t *it = cfg_node(p, v->data.sequence.items.start[i]);
            snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
            if (get_enum(p, it, sub, "channel", channel_names,
                         ROUTER_CH_COUNT, &e) < 0)
                return -1;
            q->channel_mask |= 1u << e;
        }
        return 0;
    case 3:
        if (get_enum(p, v, path, "strategy", strategy_names,
                     (int)(sizeof(strategy_names) / sizeof(*strategy_names)),
                     &e) < 0)
            return -1;
        q->strategy = (enum router_strategy)e;
        return 0;
    case 4: return cfg_map(p, v, path, sl_keys, sl_field, q);
    case 5: return get_duration(p, v, path, 1, &q->offer_timeout_ms);
    case 6: return get_duration(p, v, path, 1, &q->wrapup_ms);
    case 7: return get_u32(p, v, path, 0, UINT32_MAX, &q->max_len);
    case 8: return get_duration(p, v, path, 1, &q->max_wait_ms);
    case 9:
        qc->lines->overflow = node_line(v);
        return get_str(p, v, path, q->overflow, sizeof(q->overflow), 0);
    case 10:
        if (cfg_seq(p, v, path) < 0)
            return -1;
        for (size_t i = 0; i < SEQ_LEN(v); i++) {
            yaml_node_t *it = cfg_node(p, v->data.sequence.items.start[i]);
            snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
            if (q->nsteps == ROUTER_MAX_STEPS)
                return cfg_fail(p, node_line(it), sub, "at most %d steps "
                                "per queue", ROUTER_MAX_STEPS);
            qc->step = &q->steps[q->nsteps];
            qc->step_kind_seen = qc->step_after_seen = 0;
            qc->lines->step[q->nsteps] = node_line(it);
            if (cfg_map(p, it, sub, step_keys, step_field, qc) < 0)
                return -1;
            if (!qc->step_after_seen)
                return cfg_fail(p, node_line(it), sub, "missing \"after\"");
            if (!qc->step_kind_seen)
                return cfg_fail(p, node_line(it), sub, "needs one of lower, "
                                "drop or widen");
            if (q->nsteps > 0 && qc->step->after_ms < q->steps[q->nsteps - 1].after_ms)
                return cfg_fail(p, node_line(it), sub, "steps must be in "
                                "order of \"after\"");
            q->nsteps++;
        }
        return 0;
    }
    return -1;
}

static int skill_known(const struct config *c, const char *name)
{
    if (c->router.nskills == 0)
        return 1;   /* no list: any skill */
    for (unsigned i = 0; i < c->router.nskills; i++)
        if (!strcmp(c->router.skills[i], name))
            return 1;
    return 0;
}

static int queue_index(const struct config *c, const char *name)
{
    for (unsigned i = 0; i < c->router.nqueues; i++)
        if (!strcmp(c->router.queues[i].name, name))
            return (int)i;
    return -1;
}

static int cfg_queues(struct cfgp *p, yaml_node_t *v, const char *path)
{
    struct config *c = p->c;
    struct queue_lines *lines;
    size_t n;
    char sub[256];
    int rc = -1;

    if (cfg_seq(p, v, path) < 0)
        return -1;
    n = SEQ_LEN(v);
    if (n == 0)
        return 0;
    c->router.queues = calloc(n, sizeof(*c->router.queues));
    lines = calloc(n, sizeof(*lines));
    if (!c->router.queues || !lines) {
        free(lines);
        return cfg_fail(p, node_line(v), path, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *it = cfg_node(p, v->data.sequence.items.start[i]);
        struct queue_ctx qc = { &c->router.queues[i], &lines[i], NULL, 0, 0 };
        snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
        lines[i].queue = node_line(it);
        c->router.nqueues = (unsigned)i + 1;
        if (cfg_map(p, it, sub, queue_keys, queue_field, &qc) < 0)
            goto out;
        if (!qc.q->name[0]) {
            cfg_fail(p, lines[i].queue, sub, "missing \"name\"");
            goto out;
        }
    }
    /* Cross references, now that every queue is known. */
    for (size_t i = 0; i < n; i++) {
        struct router_queue_config *q = &c->router.queues[i];
        int other = queue_index(c, q->name);
        if (other != (int)i) {
            snprintf(sub, sizeof(sub), "%s[%zu].name", path, i);
            cfg_fail(p, lines[i].name, sub, "queue \"%s\" defined twice "
                     "(first at line %lu)", q->name, lines[other].name);
            goto out;
        }
        for (unsigned s = 0; s < q->nreq; s++) {
            if (!skill_known(c, q->req[s].skill)) {
                snprintf(sub, sizeof(sub), "%s[%zu].skills", path, i);
                cfg_fail(p, lines[i].skill[s], sub, "unknown skill \"%s\" "
                         "(not in the skills list)", q->req[s].skill);
                goto out;
            }
        }
        if (q->overflow[0] && queue_index(c, q->overflow) < 0) {
            snprintf(sub, sizeof(sub), "%s[%zu].overflow", path, i);
            cfg_fail(p, lines[i].overflow, sub, "unknown queue \"%s\"",
                     q->overflow);
            goto out;
        }
        if (q->overflow[0] && !strcmp(q->overflow, q->name)) {
            snprintf(sub, sizeof(sub), "%s[%zu].overflow", path, i);
            cfg_fail(p, lines[i].overflow, sub, "a queue cannot overflow "
                     "into itself");
            goto out;
        }
        for (unsigned s = 0; s < q->nsteps; s++) {
            struct router_step *st = &q->steps[s];
            int found = 0;
            snprintf(sub, sizeof(sub), "%s[%zu].steps[%u]", path, i, s);
            if (st->kind == ROUTER_STEP_ADD_QUEUE) {
                if (queue_index(c, st->queue) < 0) {
                    cfg_fail(p, lines[i].step[s], sub, "widen: unknown queue "
                             "\"%s\"", st->queue);
                    goto out;
                }
                continue;
            }
            for (unsigned r = 0; r < q->nreq; r++)
                found |= !strcmp(q->req[r].skill, st->skill);
            if (!found) {
                cfg_fail(p, lines[i].step[s], sub, "%s: skill \"%s\" is not "
                         "one of the queue's skills",
                         st->kind == ROUTER_STEP_DROP_SKILL ? "drop" : "lower",
                         st->skill);
                goto out;
            }
        }
    }
    rc = 0;
out:
    free(lines);
    return rc;
}

static int cfg_skills(struct cfgp *p, yaml_node_t *v, const char *path)
{
    struct config *c = p->c;
    size_t n;
    char sub[256];
    if (cfg_seq(p, v, path) < 0)
        return -1;
    n = SEQ_LEN(v);
    if (n == 0)
        return 0;
    c->router.skills = calloc(n, sizeof(char *));
    if (!c->router.skills)
        return cfg_fail(p, node_line(v), path, "out of memory");
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *it = cfg_node(p, v->data.sequence.items.start[i]);
        const char *s = NULL;
        snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
        if (get_scalar(p, it, sub, &s) < 0)
            return -1;
        if (!*s || strlen(s) >= ROUTER_ID_MAX)
            return cfg_fail(p, node_line(it), sub, "skill names are 1..%d "
                            "bytes", ROUTER_ID_MAX - 1);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->router.skills[j], s))
                return cfg_fail(p, node_line(it), sub, "skill \"%s\" listed "
                                "twice", s);
        c->router.skills[i] = strdup(s);
        if (!c->router.skills[i])
            return cfg_fail(p, node_line(it), sub, "out of memory");
        c->router.nskills = (unsigned)i + 1;
    }
    return 0;
}

/* ---- top level ---- */

static const struct cfg_key top_keys[] = {
    { "listen", 0 }, { "max_frame", 0 }, { "max_output", 0 },
    { "grace", 1 }, { "log_level", 0 }, { "redis", 0 }, { "routing", 0 },
    { "skills", 0 }, { "queues", 0 }, { NULL, 0 },
};

struct top_ctx {
    yaml_node_t *queues;
    char queues_path[32];
    int redis_enabled_given;
};

static const struct cfg_key *redis_enabled_key = &redis_keys[0];

static int top_field(struct cfgp *p, void *ctx, int key, yaml_node_t *v,
                     const char *path)
{
    struct top_ctx *t = ctx;
    struct config *c = p->c;
    const char *s = NULL;
    int lvl;
    switch (key) {
    case 0: return cfg_listen(p, v, path);
    case 1: return get_size(p, v, path, 64, 64u * 1024 * 1024, &c->max_frame);
    case 2: return get_size(p, v, path, 1024, 1ull << 32, &c->max_output);
    case 3: return get_duration(p, v, path, 1, &c->grace_ms);
    case 4:
        if (get_scalar(p, v, path, &s) < 0)
            return -1;
        lvl = log_level_parse(s);
        if (lvl < 0)
            return cfg_fail(p, node_line(v), path, "unknown log level \"%s\" "
                            "(expected debug, info, warn, error)", s);
        c->log_level = (enum log_level)lvl;
        return 0;
    case 5:
        /* A redis: section means Redis is wanted unless it says otherwise. */
        c->store.enabled = true;
        if (v->type == YAML_MAPPING_NODE)
            for (yaml_node_pair_t *pr = v->data.mapping.pairs.start;
                 pr < v->data.mapping.pairs.top; pr++) {
                yaml_node_t *k = cfg_node(p, pr->key);
                if (k->type == YAML_SCALAR_NODE &&
                    !strcmp((const char *)k->data.scalar.value,
                            redis_enabled_key->name))
                    t->redis_enabled_given = 1;
            }
        return cfg_map(p, v, path, redis_keys, redis_field, NULL);
    case 6: return cfg_map(p, v, path, routing_keys, routing_field, NULL);
    case 7: return cfg_skills(p, v, path);
    case 8:
        /* After skills (which may come later in the file). */
        t->queues = v;
        snprintf(t->queues_path, sizeof(t->queues_path), "%s", path);
        return 0;
    }
    return -1;
}

void config_defaults(struct config *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->listen_host, sizeof(c->listen_host), "%s", CONFIG_DEFAULT_HOST);
    c->listen_port = CONFIG_DEFAULT_PORT;
    c->max_frame = CONFIG_DEFAULT_MAX_FRAME;
    c->max_output = CONFIG_DEFAULT_MAX_OUTPUT;
    c->grace_ms = CONFIG_DEFAULT_GRACE_MS;
    c->log_level = LOG_INFO;

    c->store.enabled = false;
    c->store.durability = STORE_DURABILITY_REDIS;
    snprintf(c->store.host, sizeof(c->store.host), "127.0.0.1");
    c->store.port = 6379;
    snprintf(c->store.tenant, sizeof(c->store.tenant), "default");
    c->store.connect_timeout_ms = 1000;
    c->store.command_timeout_ms = 2000;
    c->store.lease_ms = 2000;
    c->store.renew_ms = 0;               /* lease_ms / 4 after loading */
    c->store.reconnect_min_ms = 100;
    c->store.reconnect_max_ms = 2000;
    c->store.max_pending = 100000;
    c->store.stream_maxlen = 1000000;

    c->router.max_agents = 10000;
    c->router.max_contacts = 100000;
    c->router.priority_weight_ms = 1000;
    c->router.value_weight_ms = 10;
    c->router.preferred_wait_ms = 0;
    c->router.max_no_answer = 3;
    c->router.voice_blocks_others = true;
    c->router.default_offer_timeout_ms = 15000;
}

int config_load_string(struct config *c, const char *name, const char *text,
                       size_t len, char *err, size_t errlen)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    struct cfgp p = { name, &doc, c, err, errlen };
    struct top_ctx t = { NULL, "", 0 };
    yaml_node_t *root;
    int rc = -1;

    err[0] = '\0';
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "%s: cannot initialise the YAML parser", name);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "%s:%lu: YAML syntax error: %s%s%s", name,
                 (unsigned long)parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "unknown",
                 parser.context ? " " : "",
                 parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return -1;
    }
    root = yaml_document_get_root_node(&doc);
    if (!root) {
        rc = 0;   /* empty file: every default */
        goto out;
    }
    if (cfg_map(&p, root, "", top_keys, top_field, &t) < 0)
        goto out;
    if (t.queues && cfg_queues(&p, t.queues, t.queues_path) < 0)
        goto out;
    if (c->store.renew_ms == 0)
        c->store.renew_ms = c->store.lease_ms / 4 ? c->store.lease_ms / 4 : 1;
    if (c->store.enabled && c->store.renew_ms >= c->store.lease_ms) {
        snprintf(err, errlen, "%s: redis.renew (%u ms) must be shorter than "
                 "redis.lease (%u ms)", name, c->store.renew_ms,
                 c->store.lease_ms);
        goto out;
    }
    rc = 0;
out:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

int config_load(struct config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    size_t len = 0, cap = 0;
    int rc;

    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    for (;;) {
        if (cap - len < 4096) {
            size_t ncap = cap ? cap * 2 : 16384;
            char *nt = realloc(text, ncap);
            if (!nt) {
                free(text);
                fclose(f);
                snprintf(err, errlen, "%s: out of memory", path);
                return -1;
            }
            text = nt;
            cap = ncap;
        }
        size_t n = fread(text + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        free(text);
        fclose(f);
        return -1;
    }
    fclose(f);
    rc = config_load_string(c, path, text, len, err, errlen);
    free(text);
    return rc;
}

void config_fini(struct config *c)
{
    for (unsigned i = 0; i < c->router.nskills; i++)
        free((char *)c->router.skills[i]);
    free(c->router.skills);
    free(c->router.queues);
    c->router.skills = NULL;
    c->router.queues = NULL;
    c->router.nskills = c->router.nqueues = 0;
}
