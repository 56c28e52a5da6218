/* ccload-model.c -- model file loader and sampling; see ccload-model.h.
 *
 * The loader walks the libyaml node graph: each mapping is checked against
 * the keys it may hold (unknown keys are errors: a misspelt "handel" must
 * not silently become the default), each leaf goes through one typed
 * helper that reports "file:line: path: problem".
 */
#include "ccload-model.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "ccroute.pb-c.h"

struct mp {
    const char *file;
    yaml_document_t *doc;
    char *err;
    size_t errlen;
};

static int mp_fail(struct mp *p, const yaml_node_t *n, const char *path,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int mp_fail(struct mp *p, const yaml_node_t *n, const char *path,
                   const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errlen, "%s:%lu: %s%s%s", p->file,
             n ? (unsigned long)n->start_mark.line + 1 : 0ul, path,
             *path ? ": " : "", msg);
    return -1;
}

static yaml_node_t *mp_node(struct mp *p, int i)
{
    return yaml_document_get_node(p->doc, i);
}

static const char *scalar(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value
                                       : NULL;
}

static int get_str(struct mp *p, yaml_node_t *n, const char *path, char *out,
                   size_t len)
{
    const char *s = scalar(n);
    if (!s)
        return mp_fail(p, n, path, "expected a string");
    if (strlen(s) >= len)
        return mp_fail(p, n, path, "longer than %zu bytes", len - 1);
    strcpy(out, s);
    return 0;
}

static int get_num(struct mp *p, yaml_node_t *n, const char *path, double lo,
                   double hi, double *out)
{
    const char *s = scalar(n);
    char *end;
    if (!s || !*s)
        return mp_fail(p, n, path, "expected a number");
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return mp_fail(p, n, path, "expected a number, got \"%s\"", s);
    if (v < lo || v > hi)
        return mp_fail(p, n, path, "%g out of range [%g, %g]", v, lo, hi);
    *out = v;
    return 0;
}

static int get_uint(struct mp *p, yaml_node_t *n, const char *path,
                    double lo, double hi, unsigned *out)
{
    double v;
    if (get_num(p, n, path, lo, hi, &v) < 0)
        return -1;
    if (v != floor(v))
        return mp_fail(p, n, path, "expected an integer");
    *out = (unsigned)v;
    return 0;
}

int model_parse_duration(const char *s, double *ms)
{
    char *end;
    if (!s || !*s)
        return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !isfinite(v) || v < 0)
        return -1;
    while (*end == ' ')
        end++;
    double mult;
    if (!*end || !strcmp(end, "s"))
        mult = 1000;
    else if (!strcmp(end, "ms"))
        mult = 1;
    else if (!strcmp(end, "us"))
        mult = 0.001;
    else if (!strcmp(end, "m") || !strcmp(end, "min"))
        mult = 60000;
    else if (!strcmp(end, "h"))
        mult = 3600000;
    else
        return -1;
    *ms = v * mult;
    return 0;
}

static int get_duration(struct mp *p, yaml_node_t *n, const char *path,
                        double *ms)
{
    const char *s = scalar(n);
    if (!s || model_parse_duration(s, ms) < 0)
        return mp_fail(p, n, path, "expected a duration (\"500ms\", \"2s\", "
                       "\"1.5m\", \"1h\" or seconds)");
    return 0;
}

/* Checks that every key of mapping n is in keys[]; calls fn per pair. */
typedef int (*field_fn)(struct mp *p, void *ctx, const char *key,
                        yaml_node_t *v, const char *path);

static int walk_map(struct mp *p, yaml_node_t *n, const char *path,
                    const char *const *keys, field_fn fn, void *ctx)
{
    if (n->type != YAML_MAPPING_NODE)
        return mp_fail(p, n, path, "expected a mapping");
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start;
         pr < n->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = mp_node(p, pr->key), *v = mp_node(p, pr->value);
        const char *ks = scalar(k);
        if (!ks)
            return mp_fail(p, k, path, "keys must be strings");
        size_t i;
        for (i = 0; keys[i]; i++)
            if (!strcmp(keys[i], ks))
                break;
        if (!keys[i]) {
            char exp[512] = "";
            size_t el = 0;
            for (size_t j = 0; keys[j] && el < sizeof(exp); j++)
                el += (size_t)snprintf(exp + el, sizeof(exp) - el, "%s%s",
                                       j ? ", " : "", keys[j]);
            return mp_fail(p, k, path, "unknown key \"%s\" (expected %s)", ks,
                           exp);
        }
        char sub[256];
        snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", ks);
        if (fn(p, ctx, ks, v, sub) < 0)
            return -1;
    }
    return 0;
}

static int get_channel(struct mp *p, yaml_node_t *n, const char *path,
                       int *out)
{
    static const char *const names[] = {"", "voice", "chat", "email",
                                        "social"};
    const char *s = scalar(n);
    for (int i = 1; s && i < 5; i++)
        if (!strcasecmp(s, names[i])) {
            *out = i;
            return 0;
        }
    return mp_fail(p, n, path, "unknown channel (expected voice, chat, "
                   "email, social)");
}

/* ---- distributions ---- */

static int dist_field(struct mp *p, void *ctx, const char *key,
                      yaml_node_t *v, const char *path)
{
    struct dist *d = ctx;
    if (!strcmp(key, "dist")) {
        const char *s = scalar(v);
        static const char *const names[] = {"none", "fixed", "exponential",
                                            "lognormal", "uniform"};
        for (int i = 0; s && i < 5; i++)
            if (!strcmp(s, names[i])) {
                d->kind = (enum dist_kind)i;
                return 0;
            }
        if (s && !strcmp(s, "exp")) {
            d->kind = DIST_EXPONENTIAL;
            return 0;
        }
        return mp_fail(p, v, path, "unknown distribution (expected none, "
                       "fixed, exponential, lognormal, uniform)");
    }
    if (!strcmp(key, "mean"))
        return get_duration(p, v, path, &d->mean_ms);
    if (!strcmp(key, "sigma"))
        return get_num(p, v, path, 0, 10, &d->sigma);
    if (!strcmp(key, "min"))
        return get_duration(p, v, path, &d->min_ms);
    return get_duration(p, v, path, &d->max_ms);
}

static int get_dist(struct mp *p, yaml_node_t *n, const char *path,
                    struct dist *d)
{
    static const char *const keys[] = {"dist", "mean", "sigma", "min", "max",
                                       NULL};
    memset(d, 0, sizeof(*d));
    const char *s = scalar(n);
    if (s) {
        if (!strcmp(s, "none") || !strcmp(s, "never")) {
            d->kind = DIST_NONE;
            return 0;
        }
        d->kind = DIST_FIXED;
        return get_duration(p, n, path, &d->mean_ms);
    }
    d->kind = DIST_EXPONENTIAL;
    d->sigma = 0.5;
    if (walk_map(p, n, path, keys, dist_field, d) < 0)
        return -1;
    if (d->kind == DIST_UNIFORM && d->max_ms < d->min_ms)
        return mp_fail(p, n, path, "max below min");
    return 0;
}

/* skills: {name: level, ...} */
static int get_skills(struct mp *p, yaml_node_t *n, const char *path,
                      struct model_skill *out, unsigned max, unsigned *count)
{
    if (n->type != YAML_MAPPING_NODE)
        return mp_fail(p, n, path, "expected a mapping of skill: level");
    *count = 0;
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start;
         pr < n->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = mp_node(p, pr->key), *v = mp_node(p, pr->value);
        if (*count == max)
            return mp_fail(p, k, path, "at most %u skills", max);
        struct model_skill *sk = &out[*count];
        if (get_str(p, k, path, sk->name, sizeof(sk->name)) < 0)
            return -1;
        char sub[256];
        snprintf(sub, sizeof(sub), "%s.%s", path, sk->name);
        if (get_uint(p, v, sub, 1, 10, &sk->level) < 0)
            return -1;
        (*count)++;
    }
    return 0;
}

/* A fixed integer or [lo, hi]. */
static int get_range(struct mp *p, yaml_node_t *n, const char *path,
                     unsigned max, unsigned *lo, unsigned *hi)
{
    if (n->type == YAML_SEQUENCE_NODE) {
        yaml_node_item_t *it = n->data.sequence.items.start;
        if (n->data.sequence.items.top - it != 2)
            return mp_fail(p, n, path, "expected [min, max]");
        if (get_uint(p, mp_node(p, it[0]), path, 0, max, lo) < 0 ||
            get_uint(p, mp_node(p, it[1]), path, 0, max, hi) < 0)
            return -1;
        if (*hi < *lo)
            return mp_fail(p, n, path, "max below min");
        return 0;
    }
    if (get_uint(p, n, path, 0, max, lo) < 0)
        return -1;
    *hi = *lo;
    return 0;
}

/* ---- mix (contact classes) ---- */

struct class_ctx {
    struct model_class *c;
    bool has_patience;
};

static int class_field(struct mp *p, void *ctx, const char *key,
                       yaml_node_t *v, const char *path)
{
    struct class_ctx *cc = ctx;
    struct model_class *c = cc->c;
    if (!strcmp(key, "name"))
        return get_str(p, v, path, c->name, sizeof(c->name));
    if (!strcmp(key, "share"))
        return get_num(p, v, path, 0, 1e9, &c->share);
    if (!strcmp(key, "queue"))
        return get_str(p, v, path, c->queue, sizeof(c->queue));
    if (!strcmp(key, "skills"))
        return get_skills(p, v, path, c->skills, MODEL_MAX_REQ, &c->nskills);
    if (!strcmp(key, "channel"))
        return get_channel(p, v, path, &c->channel);
    if (!strcmp(key, "language"))
        return get_str(p, v, path, c->language, sizeof(c->language));
    if (!strcmp(key, "product"))
        return get_str(p, v, path, c->product, sizeof(c->product));
    if (!strcmp(key, "priority"))
        return get_range(p, v, path, 100, &c->priority_lo, &c->priority_hi);
    if (!strcmp(key, "value"))
        return get_range(p, v, path, 1000, &c->value_lo, &c->value_hi);
    cc->has_patience = true;
    return get_dist(p, v, path, &c->patience);
}

/* ---- agent groups ---- */

static int capacity_field(struct mp *p, void *ctx, const char *key,
                          yaml_node_t *v, const char *path)
{
    struct model_group *g = ctx;
    int ch = 0;
    for (int i = 1; i < 5; i++) {
        static const char *const names[] = {"", "voice", "chat", "email",
                                            "social"};
        if (!strcmp(key, names[i]))
            ch = i;
    }
    return get_uint(p, v, path, 0, 255, &g->capacity[ch]);
}

static int group_field(struct mp *p, void *ctx, const char *key,
                       yaml_node_t *v, const char *path)
{
    struct model_group *g = ctx;
    if (!strcmp(key, "group") || !strcmp(key, "name"))
        return get_str(p, v, path, g->name, sizeof(g->name) - 12);
    if (!strcmp(key, "count"))
        return get_uint(p, v, path, 0, 100000, &g->count);
    if (!strcmp(key, "skills"))
        return get_skills(p, v, path, g->skills, MODEL_MAX_SKILLS,
                          &g->nskills);
    if (!strcmp(key, "queues")) {
        if (v->type != YAML_SEQUENCE_NODE)
            return mp_fail(p, v, path, "expected a list of queue names");
        for (yaml_node_item_t *it = v->data.sequence.items.start;
             it < v->data.sequence.items.top; it++) {
            if (g->nqueues == MODEL_MAX_QUEUES)
                return mp_fail(p, v, path, "at most %d queues",
                               MODEL_MAX_QUEUES);
            if (get_str(p, mp_node(p, *it), path, g->queues[g->nqueues],
                        MODEL_NAME_MAX) < 0)
                return -1;
            g->nqueues++;
        }
        return 0;
    }
    if (!strcmp(key, "capacity")) {
        static const char *const keys[] = {"voice", "chat", "email", "social",
                                           NULL};
        return walk_map(p, v, path, keys, capacity_field, g);
    }
    if (!strcmp(key, "think"))
        return get_dist(p, v, path, &g->think);
    if (!strcmp(key, "handle"))
        return get_dist(p, v, path, &g->handle);
    if (!strcmp(key, "wrapup"))
        return get_dist(p, v, path, &g->wrapup);
    return get_num(p, v, path, 0, 1, &g->reject);
}

/* ---- top level ---- */

struct top_ctx {
    struct model *m;
    struct dist patience;
    bool has_patience;
};

static int point_field(struct mp *p, void *ctx, const char *key,
                       yaml_node_t *v, const char *path)
{
    struct model_point *pt = ctx;
    if (!strcmp(key, "at")) {
        double ms;
        if (get_duration(p, v, path, &ms) < 0)
            return -1;
        pt->at_s = ms / 1000.0;
        return 0;
    }
    return get_num(p, v, path, 0, 1e7, &pt->rate);
}

static int arrivals_field(struct mp *p, void *ctx, const char *key,
                          yaml_node_t *v, const char *path)
{
    struct model *m = ctx;
    if (!strcmp(key, "rate"))
        return get_num(p, v, path, 0, 1e7, &m->rate);
    if (v->type != YAML_SEQUENCE_NODE)
        return mp_fail(p, v, path, "expected a list of {at, rate}");
    static const char *const keys[] = {"at", "rate", NULL};
    m->ncurve = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start;
         it < v->data.sequence.items.top; it++) {
        char sub[256];
        snprintf(sub, sizeof(sub), "%s[%u]", path, m->ncurve);
        if (m->ncurve == MODEL_MAX_CURVE)
            return mp_fail(p, v, sub, "at most %d points", MODEL_MAX_CURVE);
        struct model_point *pt = &m->curve[m->ncurve];
        if (walk_map(p, mp_node(p, *it), sub, keys, point_field, pt) < 0)
            return -1;
        if (m->ncurve > 0 && pt->at_s < m->curve[m->ncurve - 1].at_s)
            return mp_fail(p, mp_node(p, *it), sub, "points must be in order "
                           "of \"at\"");
        m->ncurve++;
    }
    return 0;
}

static int top_field(struct mp *p, void *ctx, const char *key, yaml_node_t *v,
                     const char *path)
{
    struct top_ctx *t = ctx;
    struct model *m = t->m;
    double ms;
    unsigned u;

    if (!strcmp(key, "name"))
        return get_str(p, v, path, m->name, sizeof(m->name));
    if (!strcmp(key, "seed")) {
        double s;
        if (get_num(p, v, path, 0, 9007199254740992.0, &s) < 0)
            return -1;
        m->seed = (uint64_t)s;
        return 0;
    }
    if (!strcmp(key, "duration")) {
        if (get_duration(p, v, path, &ms) < 0)
            return -1;
        m->duration_s = ms / 1000.0;
        return 0;
    }
    if (!strcmp(key, "drain")) {
        if (get_duration(p, v, path, &ms) < 0)
            return -1;
        m->drain_s = ms / 1000.0;
        return 0;
    }
    if (!strcmp(key, "service_level"))
        return get_duration(p, v, path, &m->sl_threshold_ms);
    if (!strcmp(key, "contacts")) {
        double n;
        if (get_num(p, v, path, 0, 1e12, &n) < 0)
            return -1;
        m->contacts = (uint64_t)n;
        return 0;
    }
    if (!strcmp(key, "connections")) {
        if (get_uint(p, v, path, 1, 256, &u) < 0)
            return -1;
        m->connections = u;
        return 0;
    }
    if (!strcmp(key, "window")) {
        if (get_uint(p, v, path, 1, 1000000, &u) < 0)
            return -1;
        m->window = u;
        return 0;
    }
    if (!strcmp(key, "arrivals")) {
        static const char *const keys[] = {"rate", "curve", NULL};
        return walk_map(p, v, path, keys, arrivals_field, m);
    }
    if (!strcmp(key, "patience")) {
        t->has_patience = true;
        return get_dist(p, v, path, &t->patience);
    }
    if (!strcmp(key, "mix")) {
        static const char *const keys[] = {
            "name", "share", "queue", "skills", "channel", "language",
            "product", "priority", "value", "patience", NULL};
        if (v->type != YAML_SEQUENCE_NODE)
            return mp_fail(p, v, path, "expected a list of contact classes");
        for (yaml_node_item_t *it = v->data.sequence.items.start;
             it < v->data.sequence.items.top; it++) {
            char sub[256];
            snprintf(sub, sizeof(sub), "%s[%u]", path, m->nclasses);
            if (m->nclasses == MODEL_MAX_CLASSES)
                return mp_fail(p, v, sub, "at most %d classes",
                               MODEL_MAX_CLASSES);
            struct model_class *c = &m->classes[m->nclasses];
            memset(c, 0, sizeof(*c));
            c->share = 1;
            c->channel = CCROUTE__V1__CHANNEL__CHANNEL_VOICE;
            struct class_ctx cc = {c, false};
            yaml_node_t *cn = mp_node(p, *it);
            if (walk_map(p, cn, sub, keys, class_field, &cc) < 0)
                return -1;
            if (!c->queue[0] && !c->nskills)
                return mp_fail(p, cn, sub, "needs a queue or skills");
            if (!cc.has_patience)
                c->patience.kind = (enum dist_kind)-1;   /* model default */
            if (!c->name[0])
                snprintf(c->name, sizeof(c->name), "%s",
                         c->queue[0] ? c->queue : "skills");
            m->nclasses++;
        }
        return 0;
    }
    /* agents */
    static const char *const keys[] = {
        "group", "name", "count", "skills", "queues", "capacity", "think",
        "handle", "wrapup", "reject", NULL};
    if (v->type != YAML_SEQUENCE_NODE)
        return mp_fail(p, v, path, "expected a list of agent groups");
    for (yaml_node_item_t *it = v->data.sequence.items.start;
         it < v->data.sequence.items.top; it++) {
        char sub[256];
        snprintf(sub, sizeof(sub), "%s[%u]", path, m->ngroups);
        if (m->ngroups == MODEL_MAX_GROUPS)
            return mp_fail(p, v, sub, "at most %d groups", MODEL_MAX_GROUPS);
        struct model_group *g = &m->groups[m->ngroups];
        memset(g, 0, sizeof(*g));
        g->count = 1;
        g->think.kind = DIST_FIXED;          /* 0 ms */
        g->handle.kind = DIST_FIXED;
        g->wrapup.kind = DIST_NONE;
        yaml_node_t *gn = mp_node(p, *it);
        if (walk_map(p, gn, sub, keys, group_field, g) < 0)
            return -1;
        if (!g->name[0])
            snprintf(g->name, sizeof(g->name), "g%u", m->ngroups);
        if (!g->nskills)
            return mp_fail(p, gn, sub, "needs skills");
        m->ngroups++;
    }
    return 0;
}

static void model_defaults(struct model *m)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->name, sizeof(m->name), "unnamed");
    m->seed = 1;
    m->rate = 10;
    m->connections = 1;
    m->window = 64;
    m->drain_s = 5;
    m->sl_threshold_ms = 20000;
}

int model_load_string(struct model *m, const char *name, const char *text,
                      size_t len, char *err, size_t errlen)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    struct mp p = {name, &doc, err, errlen};
    int rc = -1;

    model_defaults(m);
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "%s: out of memory", name);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "%s:%lu: YAML: %s", name,
                 (unsigned long)parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "parse error");
        yaml_parser_delete(&parser);
        return -1;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        snprintf(err, errlen, "%s: empty model", name);
        goto out;
    }
    static const char *const keys[] = {
        "name", "seed", "duration", "contacts", "connections", "window",
        "drain", "service_level", "arrivals", "patience", "mix", "agents",
        NULL};
    struct top_ctx t = {m, {DIST_NONE, 0, 0, 0, 0}, false};
    if (walk_map(&p, root, "", keys, top_field, &t) < 0)
        goto out;
    if (m->nclasses == 0) {
        mp_fail(&p, root, "mix", "at least one contact class is needed");
        goto out;
    }
    m->share_total = 0;
    for (unsigned i = 0; i < m->nclasses; i++) {
        if ((int)m->classes[i].patience.kind == -1)
            m->classes[i].patience = t.patience;
        m->share_total += m->classes[i].share;
    }
    if (m->share_total <= 0) {
        mp_fail(&p, root, "mix", "shares add up to zero");
        goto out;
    }
    rc = 0;
out:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

int model_load(struct model *m, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 16384;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                snprintf(err, errlen, "%s: out of memory", path);
                return -1;
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        if (n == 0)
            break;
        len += n;
    }
    fclose(f);
    int rc = model_load_string(m, path, buf, len, err, errlen);
    free(buf);
    return rc;
}

double model_rate_at(const struct model *m, double t)
{
    if (m->ncurve == 0)
        return m->rate;
    if (t <= m->curve[0].at_s)
        return m->curve[0].rate;
    for (unsigned i = 1; i < m->ncurve; i++) {
        const struct model_point *a = &m->curve[i - 1], *b = &m->curve[i];
        if (t <= b->at_s) {
            double span = b->at_s - a->at_s;
            if (span <= 0)
                return b->rate;
            return a->rate + (b->rate - a->rate) * (t - a->at_s) / span;
        }
    }
    return m->curve[m->ncurve - 1].rate;
}

/* ---- random numbers ---- */

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void rng_seed(struct rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double rng_unit(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

double rng_exp(struct rng *r, double mean)
{
    return -mean * log(1.0 - rng_unit(r));
}

static double rng_normal(struct rng *r)
{
    double u1 = rng_unit(r), u2 = rng_unit(r);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
}

double dist_sample(const struct dist *d, struct rng *r)
{
    switch (d->kind) {
    case DIST_NONE:
        return -1;
    case DIST_FIXED:
        return d->mean_ms;
    case DIST_EXPONENTIAL:
        return rng_exp(r, d->mean_ms);
    case DIST_LOGNORMAL: {
        if (d->mean_ms <= 0)
            return 0;
        /* mean of exp(N(mu, s^2)) is exp(mu + s^2/2). */
        double mu = log(d->mean_ms) - d->sigma * d->sigma / 2.0;
        return exp(mu + d->sigma * rng_normal(r));
    }
    case DIST_UNIFORM:
        return d->min_ms + (d->max_ms - d->min_ms) * rng_unit(r);
    }
    return 0;
}

double dist_mean(const struct dist *d)
{
    switch (d->kind) {
    case DIST_NONE: return -1;
    case DIST_UNIFORM: return (d->min_ms + d->max_ms) / 2;
    default: return d->mean_ms;
    }
}

unsigned model_pick_class(const struct model *m, struct rng *r)
{
    double x = rng_unit(r) * m->share_total;
    for (unsigned i = 0; i < m->nclasses; i++) {
        if (x < m->classes[i].share)
            return i;
        x -= m->classes[i].share;
    }
    return m->nclasses - 1;
}
