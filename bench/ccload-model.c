/* ccload-model.c -- model file loader and sampling; see ccload-model.h.
 *
 * The loader walks the document with engine/yamlwalk.h, the walker the
 * daemon's configuration uses: each mapping is checked against the keys
 * it may hold (unknown keys are errors: a misspelt "handel" must not
 * silently become the default), each leaf goes through one typed helper
 * that reports "file:line: path: problem", and durations have the one
 * syntax of every ccroute file (a unit is required; see yamlwalk.h).
 */
#include "ccload-model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ccroute.pb-c.h"
#include "yamlwalk.h"

/* Channel names by Ccroute__V1__Channel (0 is unspecified); from index 1
 * on, also the NULL-terminated key list of `capacity:`. */
static const char *const channel_names[] = {
    NULL, "voice", "chat", "email", "social", NULL,
};

/* A duration in milliseconds (ccload samples in ms, with fractions). */
static int get_ms(struct yamlwalk *w, yaml_node_t *n, const char *path,
                  double *ms)
{
    uint64_t us;
    if (yamlwalk_duration_us(w, n, path, &us) < 0)
        return -1;
    *ms = (double)us / 1000.0;
    return 0;
}

static int get_uint(struct yamlwalk *w, yaml_node_t *n, const char *path,
                    unsigned lo, unsigned hi, unsigned *out)
{
    uint32_t v;
    if (yamlwalk_u32(w, n, path, lo, hi, &v) < 0)
        return -1;
    *out = v;
    return 0;
}

/* ---- distributions ---- */

enum { DK_DIST, DK_MEAN, DK_SIGMA, DK_MIN, DK_MAX };
static const char *const dist_keys[] = {
    "dist", "mean", "sigma", "min", "max", NULL,
};

static int dist_field(struct yamlwalk *w, void *ctx, int key, yaml_node_t *v,
                      const char *path)
{
    /* Indexed by enum dist_kind; "exp" is accepted for exponential. */
    static const char *const names[] = {
        "none", "fixed", "exponential", "lognormal", "uniform", "exp",
    };
    struct dist *d = ctx;
    int e;
    switch (key) {
    case DK_DIST:
        if (yamlwalk_enum(w, v, path, "distribution", names, 6, &e) < 0)
            return -1;
        d->kind = e == 5 ? DIST_EXPONENTIAL : (enum dist_kind)e;
        return 0;
    case DK_MEAN: return get_ms(w, v, path, &d->mean_ms);
    case DK_SIGMA: return yamlwalk_double(w, v, path, 0, 10, &d->sigma);
    case DK_MIN: return get_ms(w, v, path, &d->min_ms);
    case DK_MAX: return get_ms(w, v, path, &d->max_ms);
    }
    return -1;
}

/* A duration (fixed), "none"/"never", or {dist, mean, sigma, min, max}. */
static int get_dist(struct yamlwalk *w, yaml_node_t *n, const char *path,
                    struct dist *d)
{
    memset(d, 0, sizeof(*d));
    if (n->type == YAML_SCALAR_NODE) {
        const char *s = (const char *)n->data.scalar.value;
        if (!strcmp(s, "none") || !strcmp(s, "never")) {
            d->kind = DIST_NONE;
            return 0;
        }
        d->kind = DIST_FIXED;
        return get_ms(w, n, path, &d->mean_ms);
    }
    d->kind = DIST_EXPONENTIAL;
    d->sigma = 0.5;
    if (yamlwalk_map(w, n, path, dist_keys, dist_field, d) < 0)
        return -1;
    if (d->kind == DIST_UNIFORM && d->max_ms < d->min_ms)
        return yamlwalk_fail(w, yamlwalk_line(n), path, "max below min");
    return 0;
}

/* skills: {name: level, ...} */
struct skills_ctx {
    struct model_skill *out;
    unsigned max, *count;
};

static int skill_pair(struct yamlwalk *w, void *ctx, const char *name,
                      yaml_node_t *k, yaml_node_t *v, const char *path)
{
    struct skills_ctx *sc = ctx;
    if (*sc->count == sc->max)
        return yamlwalk_fail(w, yamlwalk_line(k), path, "at most %u skills",
                             sc->max);
    struct model_skill *sk = &sc->out[*sc->count];
    if (yamlwalk_str(w, k, path, sk->name, sizeof(sk->name), false) < 0 ||
        get_uint(w, v, path, 1, 10, &sk->level) < 0)
        return -1;
    (*sc->count)++;
    return 0;
}

static int get_skills(struct yamlwalk *w, yaml_node_t *n, const char *path,
                      struct model_skill *out, unsigned max, unsigned *count)
{
    struct skills_ctx sc = { out, max, count };
    *count = 0;
    return yamlwalk_pairs(w, n, path, "skill: level", skill_pair, &sc);
}

/* A fixed integer or [lo, hi]. */
static int get_range(struct yamlwalk *w, yaml_node_t *n, const char *path,
                     unsigned max, unsigned *lo, unsigned *hi)
{
    if (n->type == YAML_SEQUENCE_NODE) {
        yaml_node_item_t *it = n->data.sequence.items.start;
        char sub[YAMLWALK_PATH_MAX];
        if (n->data.sequence.items.top - it != 2)
            return yamlwalk_fail(w, yamlwalk_line(n), path, "expected "
                                 "[min, max]");
        snprintf(sub, sizeof(sub), "%s[0]", path);
        if (get_uint(w, yaml_document_get_node(&w->doc, it[0]), sub, 0, max,
                     lo) < 0)
            return -1;
        snprintf(sub, sizeof(sub), "%s[1]", path);
        if (get_uint(w, yaml_document_get_node(&w->doc, it[1]), sub, 0, max,
                     hi) < 0)
            return -1;
        if (*hi < *lo)
            return yamlwalk_fail(w, yamlwalk_line(n), path, "max below min");
        return 0;
    }
    if (get_uint(w, n, path, 0, max, lo) < 0)
        return -1;
    *hi = *lo;
    return 0;
}

/* ---- mix (contact classes) ---- */

enum {
    CK_NAME, CK_SHARE, CK_QUEUE, CK_SKILLS, CK_CHANNEL, CK_LANGUAGE,
    CK_PRODUCT, CK_PRIORITY, CK_VALUE, CK_PATIENCE,
};
static const char *const class_keys[] = {
    "name", "share", "queue", "skills", "channel", "language", "product",
    "priority", "value", "patience", NULL,
};

struct class_ctx {
    struct model_class *c;
    bool has_patience;
};

static int class_field(struct yamlwalk *w, void *ctx, int key,
                       yaml_node_t *v, const char *path)
{
    struct class_ctx *cc = ctx;
    struct model_class *c = cc->c;
    switch (key) {
    case CK_NAME:
        return yamlwalk_str(w, v, path, c->name, sizeof(c->name), true);
    case CK_SHARE: return yamlwalk_double(w, v, path, 0, 1e9, &c->share);
    case CK_QUEUE:
        return yamlwalk_str(w, v, path, c->queue, sizeof(c->queue), true);
    case CK_SKILLS:
        return get_skills(w, v, path, c->skills, MODEL_MAX_REQ, &c->nskills);
    case CK_CHANNEL:
        return yamlwalk_enum(w, v, path, "channel", channel_names, 5,
                             &c->channel);
    case CK_LANGUAGE:
        return yamlwalk_str(w, v, path, c->language, sizeof(c->language),
                            true);
    case CK_PRODUCT:
        return yamlwalk_str(w, v, path, c->product, sizeof(c->product), true);
    case CK_PRIORITY:
        return get_range(w, v, path, 100, &c->priority_lo, &c->priority_hi);
    case CK_VALUE:
        return get_range(w, v, path, 1000, &c->value_lo, &c->value_hi);
    case CK_PATIENCE:
        cc->has_patience = true;
        return get_dist(w, v, path, &c->patience);
    }
    return -1;
}

static int class_item(struct yamlwalk *w, void *ctx, size_t i,
                      yaml_node_t *n, const char *path)
{
    struct model *m = ctx;
    struct model_class *c = &m->classes[m->nclasses];
    struct class_ctx cc = { c, false };
    memset(c, 0, sizeof(*c));
    c->share = 1;
    c->line = yamlwalk_line(n);
    c->channel = CCROUTE__V1__CHANNEL__CHANNEL_VOICE;
    if (yamlwalk_map(w, n, path, class_keys, class_field, &cc) < 0)
        return -1;
    if (!c->queue[0] && !c->nskills)
        return yamlwalk_fail(w, yamlwalk_line(n), path, "needs a queue or "
                             "skills");
    if (!cc.has_patience)
        c->patience.kind = (enum dist_kind)-1;   /* the model's default */
    if (!c->name[0])
        snprintf(c->name, sizeof(c->name), "%s",
                 c->queue[0] ? c->queue : "skills");
    m->nclasses++;
    return 0;
}

/* ---- agent schedules (ccsim; ccload ignores them) ----
 *
 * shifts: [{login: D, logout: D, first: K, count: N}]: agents K..K+N-1 of
 * the group (default: from 1, to the last) are logged in from `login` to
 * `logout`, times from the start of the run; shifts in order, one's login
 * not before the previous one's logout. breaks: [{at: D, for: D, reason:
 * S, first: K, count: N}]: those agents who are logged in at `at` go away
 * with the reason for `for`. Agent numbers are checked against the
 * group's count once the whole group is read (its keys come in any
 * order). */

enum { SK_LOGIN, SK_LOGOUT, SK_FIRST, SK_COUNT };
static const char *const shift_keys[] = {
    "login", "logout", "first", "count", NULL,
};

static int shift_field(struct yamlwalk *w, void *ctx, int key,
                       yaml_node_t *v, const char *path)
{
    struct model_shift *sh = ctx;
    double ms;
    if (key == SK_FIRST)
        return get_uint(w, v, path, 1, 100000, &sh->first);
    if (key == SK_COUNT)
        return get_uint(w, v, path, 0, 100000, &sh->count);
    if (get_ms(w, v, path, &ms) < 0)
        return -1;
    *(key == SK_LOGIN ? &sh->login_s : &sh->logout_s) = ms / 1000.0;
    return 0;
}

static int shift_item(struct yamlwalk *w, void *ctx, size_t i,
                      yaml_node_t *n, const char *path)
{
    struct model_group *g = ctx;
    struct model_shift *sh = &g->shifts[i];
    memset(sh, 0, sizeof(*sh));
    sh->first = 1;
    sh->count = UINT32_MAX;             /* to the last, once known */
    sh->logout_s = -1;
    if (yamlwalk_map(w, n, path, shift_keys, shift_field, sh) < 0)
        return -1;
    if (!(sh->logout_s > sh->login_s))
        return yamlwalk_fail(w, yamlwalk_line(n), path, "needs a logout "
                             "after its login");
    if (i > 0 && sh->login_s < g->shifts[i - 1].logout_s)
        return yamlwalk_fail(w, yamlwalk_line(n), path, "shifts must be in "
                             "order, each login not before the previous "
                             "logout");
    g->nshifts = (unsigned)i + 1;
    return 0;
}

enum { BK_AT, BK_FOR, BK_REASON, BK_FIRST, BK_COUNT };
static const char *const break_keys[] = {
    "at", "for", "reason", "first", "count", NULL,
};

static int break_field(struct yamlwalk *w, void *ctx, int key,
                       yaml_node_t *v, const char *path)
{
    struct model_break *b = ctx;
    double ms;
    if (key == BK_FIRST)
        return get_uint(w, v, path, 1, 100000, &b->first);
    if (key == BK_COUNT)
        return get_uint(w, v, path, 0, 100000, &b->count);
    if (key == BK_REASON)
        return yamlwalk_str(w, v, path, b->reason, sizeof(b->reason), false);
    if (get_ms(w, v, path, &ms) < 0)
        return -1;
    *(key == BK_AT ? &b->at_s : &b->for_s) = ms / 1000.0;
    return 0;
}

static int break_item(struct yamlwalk *w, void *ctx, size_t i,
                      yaml_node_t *n, const char *path)
{
    struct model_group *g = ctx;
    struct model_break *b = &g->breaks[i];
    memset(b, 0, sizeof(*b));
    b->first = 1;
    b->count = UINT32_MAX;
    snprintf(b->reason, sizeof(b->reason), "break");
    if (yamlwalk_map(w, n, path, break_keys, break_field, b) < 0)
        return -1;
    if (!(b->for_s > 0))
        return yamlwalk_fail(w, yamlwalk_line(n), path, "needs a duration "
                             "\"for\" above 0");
    g->nbreaks = (unsigned)i + 1;
    return 0;
}

static int get_shifts(struct yamlwalk *w, yaml_node_t *v, const char *path,
                      struct model_group *g)
{
    g->nshifts = 0;
    return yamlwalk_list(w, v, path, MODEL_MAX_SHIFTS, "shifts", shift_item,
                         g);
}

static int get_breaks(struct yamlwalk *w, yaml_node_t *v, const char *path,
                      struct model_group *g)
{
    g->nbreaks = 0;
    return yamlwalk_list(w, v, path, MODEL_MAX_BREAKS, "breaks", break_item,
                         g);
}

/* Agents first..first+count-1 within the group's count; count left
 * unset: to the group's last agent. */
static int schedule_range(struct yamlwalk *w, yaml_node_t *n,
                          const char *path, const struct model_group *g,
                          const char *what, unsigned i, unsigned first,
                          unsigned *count)
{
    if (first > g->count + 1)
        return yamlwalk_fail(w, yamlwalk_line(n), path, "%s[%u].first %u "
                             "is past the group's count %u", what, i, first,
                             g->count);
    if (*count == UINT32_MAX)
        *count = g->count + 1 - first;
    if ((uint64_t)first - 1 + *count > g->count)
        return yamlwalk_fail(w, yamlwalk_line(n), path, "%s[%u].count %u "
                             "from agent %u is past the group's count %u",
                             what, i, *count, first, g->count);
    return 0;
}

static int schedule_check(struct yamlwalk *w, yaml_node_t *n,
                          const char *path, struct model_group *g)
{
    for (unsigned i = 0; i < g->nshifts; i++)
        if (schedule_range(w, n, path, g, "shifts", i, g->shifts[i].first,
                           &g->shifts[i].count) < 0)
            return -1;
    for (unsigned i = 0; i < g->nbreaks; i++)
        if (schedule_range(w, n, path, g, "breaks", i, g->breaks[i].first,
                           &g->breaks[i].count) < 0)
            return -1;
    return 0;
}

/* ---- agent groups ---- */

static int capacity_field(struct yamlwalk *w, void *ctx, int key,
                          yaml_node_t *v, const char *path)
{
    struct model_group *g = ctx;
    /* keys are channel_names[1..4]: the channel is key + 1 */
    return get_uint(w, v, path, 0, 255, &g->capacity[key + 1]);
}

enum {
    GK_GROUP, GK_NAME, GK_COUNT, GK_SKILLS, GK_QUEUES, GK_CAPACITY,
    GK_THINK, GK_HANDLE, GK_WRAPUP, GK_REJECT,
    GK_SHIFTS, GK_BREAKS,
};
static const char *const group_keys[] = {
    "group", "name", "count", "skills", "queues", "capacity", "think",
    "handle", "wrapup", "reject",
    "shifts", "breaks", NULL,
};

static int group_queue_item(struct yamlwalk *w, void *ctx, size_t i,
                            yaml_node_t *n, const char *path)
{
    struct model_group *g = ctx;
    if (yamlwalk_str(w, n, path, g->queues[i], MODEL_NAME_MAX, false) < 0)
        return -1;
    g->nqueues = (unsigned)i + 1;
    return 0;
}

static int group_field(struct yamlwalk *w, void *ctx, int key,
                       yaml_node_t *v, const char *path)
{
    struct model_group *g = ctx;
    switch (key) {
    case GK_GROUP:
    case GK_NAME:
        /* room for "-<run>-<n>" after it in agent ids */
        return yamlwalk_str(w, v, path, g->name, sizeof(g->name) - 12, true);
    case GK_COUNT: return get_uint(w, v, path, 0, 100000, &g->count);
    case GK_SKILLS:
        return get_skills(w, v, path, g->skills, MODEL_MAX_SKILLS,
                          &g->nskills);
    case GK_QUEUES:
        g->nqueues = 0;
        return yamlwalk_list(w, v, path, MODEL_MAX_QUEUES, "queues",
                             group_queue_item, g);
    case GK_CAPACITY:
        return yamlwalk_map(w, v, path, channel_names + 1, capacity_field,
                            g);
    case GK_THINK: return get_dist(w, v, path, &g->think);
    case GK_HANDLE: return get_dist(w, v, path, &g->handle);
    case GK_WRAPUP: return get_dist(w, v, path, &g->wrapup);
    case GK_REJECT: return yamlwalk_double(w, v, path, 0, 1, &g->reject);
    case GK_SHIFTS: return get_shifts(w, v, path, g);
    case GK_BREAKS: return get_breaks(w, v, path, g);
    }
    return -1;
}

static int group_item(struct yamlwalk *w, void *ctx, size_t i,
                      yaml_node_t *n, const char *path)
{
    struct model *m = ctx;
    struct model_group *g = &m->groups[m->ngroups];
    memset(g, 0, sizeof(*g));
    g->count = 1;
    g->line = yamlwalk_line(n);
    g->think.kind = DIST_FIXED;          /* 0 ms */
    g->handle.kind = DIST_FIXED;
    g->wrapup.kind = DIST_NONE;
    if (yamlwalk_map(w, n, path, group_keys, group_field, g) < 0)
        return -1;
    if (!g->name[0])
        snprintf(g->name, sizeof(g->name), "g%u", m->ngroups);
    if (!g->nskills)
        return yamlwalk_fail(w, yamlwalk_line(n), path, "needs skills");
    if (schedule_check(w, n, path, g) < 0)
        return -1;
    m->ngroups++;
    return 0;
}

/* ---- arrivals ---- */

static const char *const point_keys[] = { "at", "rate", NULL };

static int point_field(struct yamlwalk *w, void *ctx, int key,
                       yaml_node_t *v, const char *path)
{
    struct model_point *pt = ctx;
    double ms;
    if (key == 1)
        return yamlwalk_double(w, v, path, 0, 1e7, &pt->rate);
    if (get_ms(w, v, path, &ms) < 0)
        return -1;
    pt->at_s = ms / 1000.0;
    return 0;
}

static int point_item(struct yamlwalk *w, void *ctx, size_t i,
                      yaml_node_t *n, const char *path)
{
    struct model *m = ctx;
    struct model_point *pt = &m->curve[m->ncurve];
    if (yamlwalk_map(w, n, path, point_keys, point_field, pt) < 0)
        return -1;
    if (m->ncurve > 0 && pt->at_s < m->curve[m->ncurve - 1].at_s)
        return yamlwalk_fail(w, yamlwalk_line(n), path, "points must be in "
                             "order of \"at\"");
    m->ncurve++;
    return 0;
}

static const char *const arrivals_keys[] = { "rate", "curve", NULL };

static int arrivals_field(struct yamlwalk *w, void *ctx, int key,
                          yaml_node_t *v, const char *path)
{
    struct model *m = ctx;
    if (key == 0)
        return yamlwalk_double(w, v, path, 0, 1e7, &m->rate);
    m->ncurve = 0;
    return yamlwalk_list(w, v, path, MODEL_MAX_CURVE, "points", point_item,
                         m);
}

/* ---- outbound ---- */

enum {
    OK_CAMPAIGN, OK_QUEUE, OK_MODE, OK_LEADS, OK_ZONE, OK_BLEND, OK_CAP,
    OK_ATTEMPTS, OK_RETRY, OK_OUTCOMES, OK_RING, OK_TALK,
};
static const char *const ob_keys[] = {
    "campaign", "queue", "mode", "leads", "time_zone", "blend",
    "abandon_cap", "max_attempts", "retry", "outcomes", "ring", "talk", NULL,
};
static const char *const outcome_keys[] = {
    "human", "machine", "busy", "no_answer", "failed", NULL,
};

static int outcome_field(struct yamlwalk *w, void *ctx, int key,
                         yaml_node_t *v, const char *path)
{
    struct model_outbound *o = ctx;
    return yamlwalk_double(w, v, path, 0, 1e6, &o->outcome[key]);
}

static int blend_item(struct yamlwalk *w, void *ctx, size_t i,
                      yaml_node_t *item, const char *path)
{
    struct model_outbound *o = ctx;
    o->nblend = (unsigned)i + 1;
    return yamlwalk_str(w, item, path, o->blend[i], sizeof(o->blend[i]),
                        false);
}

static int ob_field(struct yamlwalk *w, void *ctx, int key, yaml_node_t *v,
                    const char *path)
{
    /* by Ccroute__V1__DialMode; preview needs a person at the desk */
    static const char *const modes[] = {
        NULL, NULL, "progressive", "predictive",
    };
    struct model_outbound *o = ctx;
    double pct;
    int e;
    switch (key) {
    case OK_CAMPAIGN:
        return yamlwalk_str(w, v, path, o->campaign, 40, false);
    case OK_QUEUE:
        return yamlwalk_str(w, v, path, o->queue, sizeof(o->queue), false);
    case OK_MODE:
        if (yamlwalk_enum(w, v, path, "dialing mode", modes, 4, &e) < 0)
            return -1;
        o->mode = e;
        return 0;
    case OK_LEADS: return get_uint(w, v, path, 1, 1000000, &o->leads);
    case OK_ZONE:
        return yamlwalk_str(w, v, path, o->zone, sizeof(o->zone), false);
    case OK_BLEND:
        o->nblend = 0;
        return yamlwalk_list(w, v, path, 8, "blend queues", blend_item, o);
    case OK_CAP:
        if (yamlwalk_double(w, v, path, 0.01, 100, &pct) < 0)
            return -1;
        o->abandon_cap_bp = (unsigned)(pct * 100 + 0.5);
        return 0;
    case OK_ATTEMPTS: return get_uint(w, v, path, 1, 100, &o->max_attempts);
    case OK_RETRY: return get_ms(w, v, path, &o->retry_ms);
    case OK_OUTCOMES:
        memset(o->outcome, 0, sizeof(o->outcome));
        return yamlwalk_map(w, v, path, outcome_keys, outcome_field, o);
    case OK_RING: return get_dist(w, v, path, &o->ring);
    case OK_TALK: return get_dist(w, v, path, &o->talk);
    }
    return -1;
}

static int get_outbound(struct yamlwalk *w, yaml_node_t *v, const char *path,
                        struct model_outbound *o)
{
    double sum = 0;
    o->on = true;
    o->line = yamlwalk_line(v);
    if (yamlwalk_map(w, v, path, ob_keys, ob_field, o) < 0)
        return -1;
    if (!o->campaign[0] || !o->queue[0])
        return yamlwalk_fail(w, o->line, path, "campaign and queue are "
                             "required");
    for (int i = 0; i < OB_NOUT; i++)
        sum += o->outcome[i];
    if (sum <= 0)
        return yamlwalk_fail(w, o->line, path, "outcomes add up to zero");
    return 0;
}

/* ---- top level ---- */

enum {
    TK_NAME, TK_SEED, TK_DURATION, TK_CONTACTS, TK_CONNECTIONS, TK_WINDOW,
    TK_DRAIN, TK_SERVICE_LEVEL, TK_ARRIVALS, TK_PATIENCE, TK_MIX, TK_AGENTS,
    TK_OUTBOUND,
};
static const char *const top_keys[] = {
    "name", "seed", "duration", "contacts", "connections", "window", "drain",
    "service_level", "arrivals", "patience", "mix", "agents", "outbound",
    NULL,
};

struct top_ctx {
    struct model *m;
    struct dist patience;
};

static int top_field(struct yamlwalk *w, void *ctx, int key, yaml_node_t *v,
                     const char *path)
{
    struct top_ctx *t = ctx;
    struct model *m = t->m;
    double ms;

    switch (key) {
    case TK_NAME:
        return yamlwalk_str(w, v, path, m->name, sizeof(m->name), false);
    case TK_SEED: return yamlwalk_u64(w, v, path, 0, UINT64_MAX, &m->seed);
    case TK_DURATION:
        if (get_ms(w, v, path, &ms) < 0)
            return -1;
        m->duration_s = ms / 1000.0;
        return 0;
    case TK_CONTACTS:
        return yamlwalk_u64(w, v, path, 0, 1000000000000ull, &m->contacts);
    case TK_CONNECTIONS:
        return get_uint(w, v, path, 1, 256, &m->connections);
    case TK_WINDOW: return get_uint(w, v, path, 1, 1000000, &m->window);
    case TK_DRAIN:
        if (get_ms(w, v, path, &ms) < 0)
            return -1;
        m->drain_s = ms / 1000.0;
        return 0;
    case TK_SERVICE_LEVEL: return get_ms(w, v, path, &m->sl_threshold_ms);
    case TK_ARRIVALS:
        return yamlwalk_map(w, v, path, arrivals_keys, arrivals_field, m);
    case TK_PATIENCE: return get_dist(w, v, path, &t->patience);
    case TK_MIX:
        return yamlwalk_list(w, v, path, MODEL_MAX_CLASSES, "contact classes",
                             class_item, m);
    case TK_AGENTS:
        return yamlwalk_list(w, v, path, MODEL_MAX_GROUPS, "agent groups",
                             group_item, m);
    case TK_OUTBOUND: return get_outbound(w, v, path, &m->ob);
    }
    return -1;
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
    /* outbound, when a model has the section */
    m->ob.mode = CCROUTE__V1__DIAL_MODE__DIAL_MODE_PREDICTIVE;
    m->ob.leads = 1000;
    snprintf(m->ob.zone, sizeof(m->ob.zone), "UTC");
    m->ob.abandon_cap_bp = 300;
    m->ob.max_attempts = 3;
    m->ob.retry_ms = 30000;
    m->ob.outcome[OB_HUMAN] = 0.35;
    m->ob.outcome[OB_MACHINE] = 0.1;
    m->ob.outcome[OB_BUSY] = 0.1;
    m->ob.outcome[OB_NO_ANSWER] = 0.4;
    m->ob.outcome[OB_FAILED] = 0.05;
    m->ob.ring = (struct dist){ DIST_UNIFORM, 0, 0, 2000, 10000 };
    m->ob.talk = (struct dist){ DIST_LOGNORMAL, 15000, 0.5, 0, 0 };
}

static int model_walk(struct yamlwalk *w, struct model *m)
{
    yaml_node_t *root = yamlwalk_root(w);
    struct top_ctx t = { m, { DIST_NONE, 0, 0, 0, 0 } };

    if (!root)
        return yamlwalk_fail(w, 1, "", "the model is empty");
    if (yamlwalk_map(w, root, "", top_keys, top_field, &t) < 0)
        return -1;
    if (m->nclasses == 0)
        return yamlwalk_fail(w, yamlwalk_line(root), "mix", "at least one "
                             "contact class is needed");
    m->share_total = 0;
    for (unsigned i = 0; i < m->nclasses; i++) {
        if ((int)m->classes[i].patience.kind == -1)
            m->classes[i].patience = t.patience;
        m->share_total += m->classes[i].share;
    }
    if (m->share_total <= 0)
        return yamlwalk_fail(w, yamlwalk_line(root), "mix", "shares add up "
                             "to zero");
    return 0;
}

int model_load_string(struct model *m, const char *name, const char *text,
                      size_t len, char *err, size_t errlen)
{
    struct yamlwalk w;
    int rc;
    model_defaults(m);
    rc = yamlwalk_load(&w, name, text, len, err, errlen);
    if (rc == 0)
        rc = model_walk(&w, m);
    yamlwalk_fini(&w);
    return rc;
}

int model_load(struct model *m, const char *path, char *err, size_t errlen)
{
    struct yamlwalk w;
    int rc;
    model_defaults(m);
    rc = yamlwalk_load_file(&w, path, err, errlen);
    if (rc == 0)
        rc = model_walk(&w, m);
    yamlwalk_fini(&w);
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
