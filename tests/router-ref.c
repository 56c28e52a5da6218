/* router-ref.c -- the reference router; see router-ref.h. Every choice is
 * a linear scan written to read like the rule it implements. */
#include "router-ref.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

#define RQ_MAX 256
#define NEVER UINT64_MAX
#define NOBODY (-1)
#define EXCL 8

struct rqueue {
    char name[ROUTER_ID_MAX];
    bool virt;
    int base;                     /* derived queue: its configured queue */
    unsigned nextra;              /* derived: extra skills, every level */
    char xreq[ROUTER_MAX_REQ][ROUTER_ID_MAX];
    int xmin[ROUTER_MAX_REQ];
    unsigned nreq;
    char req[ROUTER_MAX_REQ][ROUTER_ID_MAX];
    int min[ROUTER_MAX_STEPS + 1][ROUTER_MAX_REQ];    /* 0: dropped */
    int addq[ROUTER_MAX_STEPS];
    uint64_t step_ms[ROUTER_MAX_STEPS];
    unsigned nsteps;
    uint32_t mask;
    enum router_strategy strategy;
    uint64_t timeout_ms, wrapup_ms, max_len, max_wait_ms;
    int overflow;
};

struct ragent {
    bool used;
    char id[ROUTER_ID_MAX];
    uint32_t uid;
    enum router_agent_state state;
    char reason[ROUTER_ID_MAX];
    unsigned nskills;
    char skill[ROUTER_MAX_SKILLS][ROUTER_ID_MAX];
    int level[ROUTER_MAX_SKILLS];
    int cap[ROUTER_CH_COUNT], busy[ROUTER_CH_COUNT];
    unsigned nserved;
    int served[64];
    /* idle since: becoming available, or a slot freed; idle_seq orders
     * those moments (the tie-break of agents idle since the same time:
     * who became idle first) */
    uint64_t idle_since, idle_seq, wrap_until;
    uint64_t load;                /* ref_agent_set_load() */
    bool routine;                 /* ref_agent_set_routine() */
    uint64_t shift_us;            /* ref_agent_set_idle_shift(): a difficult
                                     contact sees idle_since this later */
    uint64_t idle_load;           /* the load when it became idle: ties of
                                     idle_since go to the lower one first */
    uint64_t rr[RQ_MAX];
    unsigned no_answer;
};

struct rcontact {
    bool used;
    char id[ROUTER_ID_MAX];
    uint32_t seq;
    enum router_contact_state state;
    int channel, queue, level;
    bool inpref, kick, infifo;
    int agent;
    int64_t key;
    uint64_t arrived_at, queued_at, deadline, pref_until, kick_at;
    uint64_t wseq;                /* order in the agent's work list */
    unsigned nexcl;
    char excl[EXCL][ROUTER_ID_MAX];
    bool difficult;               /* router_contact_spec.difficult */
};

struct ref {
    struct router_config cfg;
    struct rqueue q[RQ_MAX];
    unsigned nconf, nq;
    char (*skills)[ROUTER_ID_MAX];
    unsigned nskills;
    struct ragent *a;
    struct rcontact *c;
    unsigned na, nc;
    struct ref_event *out;
    size_t nout, outcap;
    struct rng rng;
    uint32_t seq;
    uint64_t wseq;
    uint64_t idle_ctr;
};

/* ---- basics ---- */

static bool ok_id(const char *s)
{
    return s && s[0] && strnlen(s, ROUTER_ID_MAX) < ROUTER_ID_MAX;
}

static int find_queue(const struct ref *r, const char *name)
{
    for (unsigned i = 0; i < r->nq; i++)
        if (strcmp(r->q[i].name, name) == 0)
            return (int)i;
    return -1;
}

static bool skill_known(const struct ref *r, const char *s)
{
    for (unsigned i = 0; i < r->nskills; i++)
        if (strcmp(r->skills[i], s) == 0)
            return true;
    return false;
}

static void skill_add(struct ref *r, const char *s)
{
    if (!skill_known(r, s))
        snprintf(r->skills[r->nskills++], ROUTER_ID_MAX, "%s", s);
}

static int skill_index(const struct ref *r, const char *s)
{
    for (unsigned i = 0; i < r->nskills; i++)
        if (strcmp(r->skills[i], s) == 0)
            return (int)i;
    return -1;
}

static struct ragent *agent_by_id(struct ref *r, const char *id)
{
    for (unsigned i = 0; i < r->na; i++)
        if (r->a[i].used && strcmp(r->a[i].id, id) == 0)
            return &r->a[i];
    return NULL;
}

static struct rcontact *contact_by_id(struct ref *r, const char *id)
{
    for (unsigned i = 0; i < r->nc; i++)
        if (r->c[i].used && strcmp(r->c[i].id, id) == 0)
            return &r->c[i];
    return NULL;
}

static struct ref_event *out(struct ref *r, enum router_event_type t,
                             const struct rcontact *c, const struct ragent *a)
{
    if (r->nout == r->outcap) {
        r->outcap = r->outcap ? r->outcap * 2 : 64;
        r->out = realloc(r->out, r->outcap * sizeof(*r->out));
    }
    struct ref_event *e = &r->out[r->nout++];
    memset(e, 0, sizeof(*e));
    e->type = t;
    if (c)
        snprintf(e->contact, ROUTER_ID_MAX, "%s", c->id);
    if (a)
        snprintf(e->agent, ROUTER_ID_MAX, "%s", a->id);
    e->queue = c && r->q[c->queue].base < (int)r->nconf ? r->q[c->queue].base
                                                        : -1;
    return e;
}

/* ---- construction ---- */

struct ref *ref_new(const struct router_config *cfg, uint64_t seed)
{
    struct ref *r = calloc(1, sizeof(*r));
    r->cfg = *cfg;
    if (!r->cfg.max_agents)
        r->cfg.max_agents = 10000;
    if (!r->cfg.max_contacts)
        r->cfg.max_contacts = 100000;
    if (!r->cfg.max_no_answer)
        r->cfg.max_no_answer = 3;
    if (!r->cfg.default_offer_timeout_ms)
        r->cfg.default_offer_timeout_ms = 15000;
    r->na = r->cfg.max_agents;
    r->nc = r->cfg.max_contacts;
    r->a = calloc(r->na, sizeof(*r->a));
    r->c = calloc(r->nc, sizeof(*r->c));
    r->skills = calloc(4096, ROUTER_ID_MAX);
    rng_seed(&r->rng, seed);
    for (unsigned i = 0; i < cfg->nskills; i++)
        skill_add(r, cfg->skills[i]);
    r->nq = r->nconf = cfg->nqueues;
    for (unsigned i = 0; i < cfg->nqueues; i++)
        snprintf(r->q[i].name, ROUTER_ID_MAX, "%s", cfg->queues[i].name);
    for (unsigned i = 0; i < cfg->nqueues; i++) {
        const struct router_queue_config *qc = &cfg->queues[i];
        struct rqueue *q = &r->q[i];
        q->base = (int)i;
        q->nreq = qc->nreq;
        for (unsigned k = 0; k < qc->nreq; k++) {
            skill_add(r, qc->req[k].skill);
            snprintf(q->req[k], ROUTER_ID_MAX, "%s", qc->req[k].skill);
            q->min[0][k] = qc->req[k].min_level;
        }
        /* steps by after_ms, stable (selection of the earliest remaining) */
        bool used[ROUTER_MAX_STEPS] = {false};
        q->nsteps = qc->nsteps;
        for (unsigned l = 0; l < qc->nsteps; l++) {
            int best = -1;
            for (unsigned s = 0; s < qc->nsteps; s++)
                if (!used[s] && (best < 0 || qc->steps[s].after_ms <
                                                 qc->steps[best].after_ms))
                    best = (int)s;
            used[best] = true;
            const struct router_step *st = &qc->steps[best];
            memcpy(q->min[l + 1], q->min[l], sizeof(q->min[l]));
            q->step_ms[l] = st->after_ms;
            q->addq[l] = -1;
            if (st->kind == ROUTER_STEP_ADD_QUEUE) {
                q->addq[l] = find_queue(r, st->queue);
                continue;
            }
            for (unsigned k = 0; k < q->nreq; k++) {
                if (strcmp(q->req[k], st->skill) != 0)
                    continue;
                if (st->kind == ROUTER_STEP_DROP_SKILL)
                    q->min[l + 1][k] = 0;
                else if (q->min[l + 1][k] > st->level)
                    q->min[l + 1][k] = st->level;
            }
        }
        q->mask = qc->channel_mask;
        q->strategy = qc->strategy;
        q->timeout_ms = qc->offer_timeout_ms ? qc->offer_timeout_ms
                                             : r->cfg.default_offer_timeout_ms;
        q->wrapup_ms = qc->wrapup_ms;
        q->max_len = qc->max_len;
        q->max_wait_ms = qc->max_wait_ms;
        q->overflow = qc->overflow[0] ? find_queue(r, qc->overflow) : -1;
    }
    r->cfg.queues = NULL;
    r->cfg.skills = NULL;
    return r;
}

void ref_free(struct ref *r)
{
    if (!r)
        return;
    free(r->a);
    free(r->c);
    free(r->skills);
    free(r->out);
    free(r);
}

/* ---- rules ---- */

static int agent_level(const struct ragent *a, const char *skill)
{
    for (unsigned i = 0; i < a->nskills; i++)
        if (strcmp(a->skill[i], skill) == 0)
            return a->level[i];
    return 0;
}

static bool has_extras(const struct ragent *a, const struct rqueue *q)
{
    for (unsigned k = 0; k < q->nextra; k++)
        if (agent_level(a, q->xreq[k]) < q->xmin[k])
            return false;
    return true;
}

static bool has_skills(const struct ragent *a, const struct rqueue *q,
                       unsigned lvl)
{
    for (unsigned k = 0; k < q->nreq; k++)
        if (q->min[lvl][k] && agent_level(a, q->req[k]) < q->min[lvl][k])
            return false;
    return has_extras(a, q);
}

/* A derived queue's members are its base queue's. */
static bool member(const struct ref *r, const struct ragent *a, int qi)
{
    if (r->q[qi].virt || a->nserved == 0)
        return true;
    for (unsigned i = 0; i < a->nserved; i++)
        if (a->served[i] == r->q[qi].base)
            return true;
    return false;
}

/* Lowest level of queue qi at which agent a is eligible, or -1. */
static int tier(const struct ref *r, const struct ragent *a, int qi)
{
    const struct rqueue *q = &r->q[qi];
    for (unsigned l = 0; l <= q->nsteps; l++) {
        if (member(r, a, qi) && has_skills(a, q, l))
            return (int)l;
        for (unsigned s = 0; s < l; s++) {
            int q2 = q->addq[s];
            if (q2 >= 0 && member(r, a, q2) && has_skills(a, &r->q[q2], 0) &&
                has_extras(a, q))
                return (int)l;
        }
    }
    return -1;
}

static unsigned score(const struct ragent *a, const struct rqueue *q)
{
    unsigned s = 0;
    for (unsigned k = 0; k < q->nreq; k++)
        s += (unsigned)agent_level(a, q->req[k]);
    return s;
}

static int busy_total(const struct ragent *a)
{
    int t = 0;
    for (int ch = 0; ch < ROUTER_CH_COUNT; ch++)
        t += a->busy[ch];
    return t;
}

static bool can_take(const struct ref *r, const struct ragent *a, int ch)
{
    if (a->state != ROUTER_AGENT_STATE_AVAILABLE || a->busy[ch] >= a->cap[ch])
        return false;
    if (r->cfg.voice_blocks_others) {
        if (ch == ROUTER_CH_VOICE)
            return busy_total(a) == 0;
        return a->busy[ROUTER_CH_VOICE] == 0;
    }
    return true;
}

static bool channel_ok(const struct rqueue *q, int ch)
{
    return q->mask == 0 || (q->mask & (1U << ch));
}

/* Excluded by id, or difficult while the agent is in routine-only mode
 * (router_agent_set_routine). */
static bool excludes(const struct rcontact *c, const struct ragent *a)
{
    if (c->difficult && a->routine)
        return true;
    for (unsigned i = 0; i < c->nexcl; i++)
        if (strcmp(c->excl[i], a->id) == 0)
            return true;
    return false;
}

static void exclude(struct rcontact *c, const char *id)
{
    for (unsigned i = 0; i < c->nexcl; i++)
        if (strcmp(c->excl[i], id) == 0)
            return;
    if (c->nexcl == EXCL) {
        for (unsigned i = 1; i < EXCL; i++)
            memcpy(c->excl[i - 1], c->excl[i], ROUTER_ID_MAX);
        c->nexcl--;
    }
    snprintf(c->excl[c->nexcl++], ROUTER_ID_MAX, "%s", id);
}

static void unexclude(struct rcontact *c, const char *id)
{
    for (unsigned i = 0; i < c->nexcl; i++)
        if (strcmp(c->excl[i], id) == 0) {
            for (unsigned j = i + 1; j < c->nexcl; j++)
                memcpy(c->excl[j - 1], c->excl[j], ROUTER_ID_MAX);
            c->nexcl--;
            return;
        }
}

/* a is better than b for queue q (strategies other than weighted) and a
 * contact that is difficult or not: a difficult one sees each agent idle
 * since its idle_since + its shift (the care weight). */
static bool agent_better(const struct ref *r, const struct rqueue *q, int qi,
                         const struct ragent *a, const struct ragent *b,
                         bool difficult)
{
    uint64_t sa = a->idle_since + (difficult ? a->shift_us : 0);
    uint64_t sb = b->idle_since + (difficult ? b->shift_us : 0);
    uint64_t ka, kb;
    switch (q->strategy) {
    case ROUTER_STRATEGY_MOST_SKILLED:
        ka = score(a, q);
        kb = score(b, q);
        if (ka != kb)
            return ka > kb;
        break;
    case ROUTER_STRATEGY_LEAST_OCCUPIED:
        ka = (uint64_t)busy_total(a);
        kb = (uint64_t)busy_total(b);
        if (ka != kb)
            return ka < kb;
        break;
    case ROUTER_STRATEGY_ROUND_ROBIN:
        if (a->rr[qi] != b->rr[qi])
            return a->rr[qi] < b->rr[qi];
        return a->uid < b->uid;
    default:
        break;
    }
    if (sa != sb)
        return sa < sb;
    if (a->idle_load != b->idle_load)
        return a->idle_load < b->idle_load;
    return a->idle_seq < b->idle_seq;
}

static bool contact_before(const struct rcontact *a, const struct rcontact *b)
{
    return a->key < b->key || (a->key == b->key && a->seq < b->seq);
}

static unsigned level_at(const struct rqueue *q, uint64_t queued_at,
                         uint64_t now)
{
    unsigned l = 0;
    while (l < q->nsteps && queued_at + q->step_ms[l] * 1000 <= now)
        l++;
    return l;
}

static bool agent_eligible(const struct ref *r, const struct ragent *a,
                           const struct rcontact *c)
{
    if (!a->used || !can_take(r, a, c->channel) ||
        !channel_ok(&r->q[c->queue], c->channel))
        return false;
    int t = tier(r, a, c->queue);
    return t >= 0 && t <= c->level;
}

static struct ragent *best_agent(struct ref *r, struct rcontact *c)
{
    if (c->inpref) {
        struct ragent *p = &r->a[c->agent];
        return can_take(r, p, c->channel) ? p : NULL;
    }
    struct rqueue *q = &r->q[c->queue];
    if (q->strategy == ROUTER_STRATEGY_WEIGHTED_RANDOM) {
        /* candidates in (tier, uid) order */
        struct ragent *cand[1024];
        unsigned n = 0;
        uint64_t total = 0;
        for (int t = 0; t <= c->level; t++) {
            unsigned start = n;
            for (unsigned i = 0; i < r->na; i++) {
                struct ragent *a = &r->a[i];
                if (agent_eligible(r, a, c) && tier(r, a, c->queue) == t) {
                    unsigned j = n++;
                    while (j > start && cand[j - 1]->uid > a->uid) {
                        cand[j] = cand[j - 1];
                        j--;
                    }
                    cand[j] = a;
                }
            }
        }
        for (unsigned i = 0; i < n; i++) {
            unsigned s = score(cand[i], q);
            total += s ? s : 1;
        }
        if (total == 0)
            return NULL;
        for (int t = 0; t < 16; t++) {
            uint64_t x = rng_next(&r->rng) % total;
            for (unsigned i = 0; i < n; i++) {
                unsigned s = score(cand[i], q);
                uint64_t w = s ? s : 1;
                if (x < w) {
                    if (!excludes(c, cand[i]))
                        return cand[i];
                    break;
                }
                x -= w;
            }
        }
        for (unsigned i = 0; i < n; i++)
            if (!excludes(c, cand[i]))
                return cand[i];
        return NULL;
    }
    struct ragent *best = NULL;
    for (unsigned i = 0; i < r->na; i++) {
        struct ragent *a = &r->a[i];
        if (!agent_eligible(r, a, c) || excludes(c, a))
            continue;
        if (!best || agent_better(r, q, c->queue, a, best, c->difficult))
            best = a;
    }
    return best;
}

static struct rcontact *best_contact(struct ref *r, struct ragent *a)
{
    struct rcontact *best = NULL;
    int ai = (int)(a - r->a);
    for (unsigned i = 0; i < r->nc; i++) {
        struct rcontact *c = &r->c[i];
        if (!c->used || c->state != ROUTER_CONTACT_QUEUED)
            continue;
        bool ok;
        if (c->inpref)
            ok = c->agent == ai && can_take(r, a, c->channel);
        else
            ok = agent_eligible(r, a, c) && !excludes(c, a);
        if (ok && (!best || contact_before(c, best)))
            best = c;
    }
    return best;
}

static uint64_t contact_due(const struct ref *r, const struct rcontact *c)
{
    uint64_t d = NEVER;
    if (c->state == ROUTER_CONTACT_OFFERED) {
        d = c->deadline;
    } else if (c->state == ROUTER_CONTACT_QUEUED) {
        if (c->inpref) {
            d = c->pref_until;
        } else {
            const struct rqueue *q = &r->q[c->queue];
            if ((unsigned)c->level < q->nsteps)
                d = c->queued_at + q->step_ms[c->level] * 1000;
            if (q->max_wait_ms && q->overflow >= 0 &&
                c->queued_at + q->max_wait_ms * 1000 < d)
                d = c->queued_at + q->max_wait_ms * 1000;
        }
        if (c->kick && c->kick_at < d)
            d = c->kick_at;
    }
    return d;
}

static void set_state(struct ref *r, struct ragent *a, uint64_t now,
                      enum router_agent_state st, const char *reason)
{
    if (st != ROUTER_AGENT_STATE_WRAPUP)
        a->wrap_until = NEVER;
    a->state = st;
    snprintf(a->reason, ROUTER_ID_MAX, "%s", reason ? reason : "");
    if (st == ROUTER_AGENT_STATE_AVAILABLE)
    {
        a->idle_since = now;
        a->idle_seq = ++r->idle_ctr;
        a->idle_load = a->load;
    }
    out(r, ROUTER_EV_AGENT_STATE, NULL, a)->detail = (int)st;
}

static void to_pool(struct ref *r, struct rcontact *c, uint64_t now)
{
    c->inpref = false;
    c->agent = NOBODY;
    c->state = ROUTER_CONTACT_QUEUED;
    c->level = (int)level_at(&r->q[c->queue], c->queued_at, now);
}

static uint32_t position(const struct ref *r, const struct rcontact *c)
{
    uint32_t p = 1;
    for (unsigned i = 0; i < r->nc; i++) {
        const struct rcontact *o = &r->c[i];
        if (o != c && o->used && o->state == ROUTER_CONTACT_QUEUED &&
            !o->inpref && r->q[o->queue].base == r->q[c->queue].base &&
            contact_before(o, c))
            p++;
    }
    return p;
}

/* No logged-in agent could serve c at any level of its queue: none
 * holds the skills (tier) with capacity on its channel. Contacts waiting
 * for a named agent are never unservable. */
static bool unservable(const struct ref *r, const struct rcontact *c)
{
    if (c->state != ROUTER_CONTACT_QUEUED || c->inpref)
        return false;
    for (unsigned i = 0; i < r->na; i++) {
        const struct ragent *a = &r->a[i];
        if (a->used && a->state != ROUTER_AGENT_STATE_LOGGED_OUT &&
            a->cap[c->channel] > 0 && channel_ok(&r->q[c->queue], c->channel) &&
            tier(r, a, c->queue) >= 0)
            return false;
    }
    return true;
}

/* The contact waits (again): one QUEUED event. */
static void queued(struct ref *r, struct rcontact *c)
{
    struct ref_event *e = out(r, ROUTER_EV_QUEUED, c, NULL);
    e->position = position(r, c);
    e->unservable = unservable(r, c);
}

static void offer(struct ref *r, uint64_t now, struct rcontact *c,
                  struct ragent *a)
{
    struct rqueue *q = &r->q[c->queue];
    c->inpref = false;
    c->kick = false;
    c->state = ROUTER_CONTACT_OFFERED;
    c->agent = (int)(a - r->a);
    c->deadline = now + q->timeout_ms * 1000;
    c->wseq = ++r->wseq;
    a->busy[c->channel]++;
    if (q->strategy == ROUTER_STRATEGY_ROUND_ROBIN)
        a->rr[c->queue] = ++r->seq;
    out(r, ROUTER_EV_OFFER, c, a)->deadline = c->deadline;
}

static void route(struct ref *r, uint64_t now, struct rcontact *c)
{
    if (c->state != ROUTER_CONTACT_QUEUED)
        return;
    struct ragent *a = best_agent(r, c);
    if (a)
        offer(r, now, c, a);
}

static void fill(struct ref *r, uint64_t now, struct ragent *a)
{
    while (a->state == ROUTER_AGENT_STATE_AVAILABLE) {
        struct rcontact *c = best_contact(r, a);
        if (!c)
            return;
        offer(r, now, c, a);
    }
}

static void free_slot(struct ref *r, struct ragent *a, struct rcontact *c,
                      uint64_t now)
{
    a->busy[c->channel]--;
    a->idle_since = now;
    a->idle_seq = ++r->idle_ctr;
    a->idle_load = a->load;
}

static bool has_work(const struct ref *r, const struct ragent *a)
{
    int ai = (int)(a - r->a);
    for (unsigned i = 0; i < r->nc; i++)
        if (r->c[i].used && r->c[i].agent == ai &&
            (r->c[i].state == ROUTER_CONTACT_OFFERED ||
             r->c[i].state == ROUTER_CONTACT_ASSIGNED))
            return true;
    return false;
}

static void after_work(struct ref *r, struct ragent *a, struct rcontact *c,
                       uint64_t now, uint64_t wrapup_ms)
{
    free_slot(r, a, c, now);
    c->agent = NOBODY;
    if (a->state == ROUTER_AGENT_STATE_LOGGED_OUT) {
        if (!has_work(r, a))
            a->used = false;
        return;
    }
    if (a->state == ROUTER_AGENT_STATE_AVAILABLE && busy_total(a) == 0 &&
        wrapup_ms > 0) {
        set_state(r, a, now, ROUTER_AGENT_STATE_WRAPUP, NULL);
        a->wrap_until = now + wrapup_ms * 1000;
    }
}

static void enter_queue(struct ref *r, struct rcontact *c, int qi,
                        uint64_t now)
{
    (void)r;
    c->queue = qi;
    c->queued_at = now;
    c->infifo = true;
}

static unsigned waiting(const struct ref *r, int qi)
{
    unsigned n = 0;
    for (unsigned i = 0; i < r->nc; i++)
        n += r->c[i].used && r->c[i].infifo && r->q[r->c[i].queue].base == qi;
    return n;
}

/* The queue derived from configured queue `base` for contacts of channel
 * ch that also need skills (x, xl) at every level: found by its base,
 * channel and skill set, or created with the base's configuration. */
static int derive(struct ref *r, int base, int ch, unsigned n,
                  char (*x)[ROUTER_ID_MAX], const int *xl)
{
    for (unsigned qi = r->nconf; qi < r->nq; qi++) {
        const struct rqueue *q = &r->q[qi];
        if (q->virt || q->base != base || q->mask != 1U << ch ||
            q->nextra != n)
            continue;
        unsigned same = 0;
        for (unsigned i = 0; i < n; i++)
            for (unsigned j = 0; j < n; j++)
                same += strcmp(q->xreq[j], x[i]) == 0 && q->xmin[j] == xl[i];
        if (same == n)
            return (int)qi;
    }
    int qi = (int)r->nq++;
    struct rqueue *q = &r->q[qi];
    *q = r->q[base];
    q->mask = 1U << ch;
    q->nextra = n;
    for (unsigned i = 0; i < n; i++) {
        memcpy(q->xreq[i], x[i], ROUTER_ID_MAX);
        q->xmin[i] = xl[i];
    }
    for (unsigned i = 0; i < r->na; i++)
        r->a[i].rr[qi] = r->a[i].uid;
    return qi;
}

/* Where a contact of queue qi goes when moved to configured queue `to`:
 * its extra skills come along. */
static int carry(struct ref *r, int qi, int to, int ch)
{
    struct rqueue *q = &r->q[qi];
    if (!q->nextra)
        return to;
    char x[ROUTER_MAX_REQ][ROUTER_ID_MAX];
    int xl[ROUTER_MAX_REQ];
    memcpy(x, q->xreq, sizeof(x));
    memcpy(xl, q->xmin, sizeof(xl));
    return derive(r, to, ch, q->nextra, x, xl);
}

static int resolve_queue(struct ref *r, const struct router_contact_spec *s)
{
    if (!s || !ok_id(s->id) || (unsigned)s->channel >= ROUTER_CH_COUNT ||
        s->priority > 100 || s->value > 1000)
        return ROUTER_EINVAL;
    int qi;
    if (s->queue && s->queue[0]) {
        qi = find_queue(r, s->queue);
        if (qi < 0 || (unsigned)qi >= r->nconf)
            return ROUTER_ENOQUEUE;
        if (!channel_ok(&r->q[qi], s->channel))
            return ROUTER_EINVAL;
        if (s->nskills == 0)
            return qi;
        /* extra skills (language, product): never ROUTER_ENOSKILL */
        if (s->nskills > ROUTER_MAX_REQ)
            return ROUTER_EINVAL;
        char x[ROUTER_MAX_REQ][ROUTER_ID_MAX];
        int xl[ROUTER_MAX_REQ];
        for (unsigned i = 0; i < s->nskills; i++) {
            if (!ok_id(s->skills[i].skill))
                return ROUTER_EINVAL;
            if (s->skills[i].min_level < 1 || s->skills[i].min_level > 10)
                return ROUTER_EINVAL;
            for (unsigned j = 0; j < i; j++)
                if (strcmp(s->skills[j].skill, s->skills[i].skill) == 0)
                    return ROUTER_EINVAL;
            snprintf(x[i], ROUTER_ID_MAX, "%s", s->skills[i].skill);
            xl[i] = s->skills[i].min_level;
        }
        for (unsigned i = 0; i < s->nskills; i++)
            skill_add(r, x[i]);
        return derive(r, qi, (int)s->channel, s->nskills, x, xl);
    } else {
        if (s->nskills == 0 || s->nskills > ROUTER_MAX_REQ)
            return ROUTER_EINVAL;
        for (unsigned i = 0; i < s->nskills; i++) {
            if (!ok_id(s->skills[i].skill))
                return ROUTER_EINVAL;
            if (!skill_known(r, s->skills[i].skill))
                return ROUTER_ENOSKILL;
            if (s->skills[i].min_level < 1 || s->skills[i].min_level > 10)
                return ROUTER_EINVAL;
            for (unsigned j = 0; j < i; j++)
                if (strcmp(s->skills[j].skill, s->skills[i].skill) == 0)
                    return ROUTER_EINVAL;
        }
        /* the virtual queue's name: skills in interning order */
        int idx[ROUTER_MAX_REQ];
        unsigned ord[ROUTER_MAX_REQ];
        for (unsigned i = 0; i < s->nskills; i++) {
            idx[i] = skill_index(r, s->skills[i].skill);
            ord[i] = i;
        }
        for (unsigned i = 1; i < s->nskills; i++)
            for (unsigned j = i; j > 0 && idx[ord[j - 1]] > idx[ord[j]]; j--) {
                unsigned t = ord[j];
                ord[j] = ord[j - 1];
                ord[j - 1] = t;
            }
        char name[ROUTER_ID_MAX];
        size_t off = (size_t)snprintf(name, sizeof(name), "~%u",
                                      (unsigned)s->channel);
        for (unsigned i = 0; i < s->nskills; i++)
            off += (size_t)snprintf(name + off, sizeof(name) - off, "%04x%x",
                                    idx[ord[i]],
                                    s->skills[ord[i]].min_level);
        qi = find_queue(r, name);
        if (qi < 0) {
            qi = (int)r->nq++;
            struct rqueue *q = &r->q[qi];
            memset(q, 0, sizeof(*q));
            snprintf(q->name, ROUTER_ID_MAX, "%s", name);
            q->virt = true;
            q->base = qi;
            q->nreq = s->nskills;
            for (unsigned i = 0; i < s->nskills; i++) {
                snprintf(q->req[i], ROUTER_ID_MAX, "%s",
                         s->skills[ord[i]].skill);
                q->min[0][i] = s->skills[ord[i]].min_level;
            }
            q->timeout_ms = r->cfg.default_offer_timeout_ms;
            q->overflow = -1;
            q->mask = 1U << s->channel;
            for (unsigned i = 0; i < r->na; i++)
                r->a[i].rr[qi] = r->a[i].uid;
        }
    }
    if (!channel_ok(&r->q[qi], s->channel))
        return ROUTER_EINVAL;
    return qi;
}

static struct rcontact *new_contact(struct ref *r,
                                    const struct router_contact_spec *s,
                                    uint64_t arrived_at)
{
    struct rcontact *c = NULL;
    for (unsigned i = 0; i < r->nc && !c; i++)
        if (!r->c[i].used)
            c = &r->c[i];
    if (!c)
        return NULL;
    memset(c, 0, sizeof(*c));
    c->used = true;
    snprintf(c->id, ROUTER_ID_MAX, "%s", s->id);
    c->seq = ++r->seq;
    c->channel = s->channel;
    c->difficult = s->difficult;
    c->arrived_at = arrived_at;
    c->agent = NOBODY;
    c->state = ROUTER_CONTACT_QUEUED;
    c->key = (int64_t)arrived_at
           - (int64_t)s->priority * r->cfg.priority_weight_ms * 1000
           - (int64_t)s->value * r->cfg.value_weight_ms * 1000;
    return c;
}

static void place(struct ref *r, struct rcontact *c, uint64_t now,
                  const char *preferred)
{
    struct ragent *p = ok_id(preferred) ? agent_by_id(r, preferred) : NULL;
    if (p && p->state != ROUTER_AGENT_STATE_LOGGED_OUT && !excludes(c, p) &&
        (r->cfg.preferred_wait_ms > 0 || can_take(r, p, c->channel))) {
        c->inpref = true;
        c->agent = (int)(p - r->a);
        c->state = ROUTER_CONTACT_QUEUED;
        c->pref_until = c->queued_at + (uint64_t)r->cfg.preferred_wait_ms * 1000;
        return;
    }
    to_pool(r, c, now);
}

/* ---- events in ---- */

int ref_contact_arrive(struct ref *r, uint64_t now,
                       const struct router_contact_spec *s)
{
    if (s && ok_id(s->id) && contact_by_id(r, s->id))
        return ROUTER_EDUPLICATE;
    int qi = resolve_queue(r, s);
    if (qi < 0)
        return qi;
    int from = qi;
    qi = r->q[qi].base;     /* limits and overflow are the base queue's */
    for (unsigned hops = 0;
         r->q[qi].max_len && waiting(r, qi) >= r->q[qi].max_len; hops++) {
        if (r->q[qi].overflow < 0 || hops >= r->nconf)
            return ROUTER_EFULL;
        qi = r->q[qi].overflow;
    }
    qi = qi == r->q[from].base ? from : carry(r, from, qi, s->channel);
    struct rcontact *c = new_contact(r, s, now);
    if (!c)
        return ROUTER_ENOMEM;
    enter_queue(r, c, qi, now);
    place(r, c, now, s->preferred_agent);
    queued(r, c);
    route(r, now, c);
    return 0;
}

int ref_contact_abandon(struct ref *r, uint64_t now, const char *id)
{
    if (!ok_id(id))
        return ROUTER_EINVAL;
    struct rcontact *c = contact_by_id(r, id);
    if (!c)
        return ROUTER_ENOCONTACT;
    if (c->state == ROUTER_CONTACT_ASSIGNED)
        return ROUTER_ESTATE;
    struct ragent *a = NULL;
    if (c->state == ROUTER_CONTACT_OFFERED) {
        a = &r->a[c->agent];
        out(r, ROUTER_EV_REVOKED, c, a)->detail = ROUTER_REVOKE_ABANDONED;
        free_slot(r, a, c, now);
    }
    out(r, ROUTER_EV_CONTACT_GONE, c, NULL)->detail = ROUTER_CONTACT_ABANDONED;
    c->used = false;
    if (a)
        fill(r, now, a);
    return 0;
}

int ref_contact_complete(struct ref *r, uint64_t now, const char *id)
{
    if (!ok_id(id))
        return ROUTER_EINVAL;
    struct rcontact *c = contact_by_id(r, id);
    if (!c)
        return ROUTER_ENOCONTACT;
    if (c->state != ROUTER_CONTACT_ASSIGNED)
        return ROUTER_ESTATE;
    struct ragent *a = &r->a[c->agent];
    out(r, ROUTER_EV_CONTACT_GONE, c, a)->detail = ROUTER_CONTACT_COMPLETED;
    c->used = false;
    after_work(r, a, c, now, r->q[c->queue].wrapup_ms);
    fill(r, now, a);
    return 0;
}

int ref_contact_transfer(struct ref *r, uint64_t now, const char *id,
                         int to_queue, const char *to_agent)
{
    if (!ok_id(id))
        return ROUTER_EINVAL;
    struct rcontact *c = contact_by_id(r, id);
    struct ragent *x = NULL;
    if (!c)
        return ROUTER_ENOCONTACT;
    if ((to_queue >= 0) == (to_agent != NULL))
        return ROUTER_EINVAL;
    if (to_queue >= 0) {
        if ((unsigned)to_queue >= r->nconf)
            return ROUTER_ENOQUEUE;
        if (!channel_ok(&r->q[to_queue], c->channel))
            return ROUTER_EINVAL;
    } else {
        if (!ok_id(to_agent))
            return ROUTER_EINVAL;
        x = agent_by_id(r, to_agent);
        if (!x || x->state == ROUTER_AGENT_STATE_LOGGED_OUT)
            return ROUTER_ENOAGENT;
    }
    if (c->state == ROUTER_CONTACT_OFFERED)
        return ROUTER_ESTATE;
    struct ragent *from = NULL;
    if (c->state == ROUTER_CONTACT_ASSIGNED) {
        from = &r->a[c->agent];
        after_work(r, from, c, now, r->q[c->queue].wrapup_ms);
        c->state = ROUTER_CONTACT_QUEUED;
    }
    c->inpref = false;
    c->agent = NOBODY;
    if (to_queue >= 0) {
        enter_queue(r, c, carry(r, c->queue, to_queue, c->channel), now);
        to_pool(r, c, now);
    } else {
        if (!c->infifo) {
            c->queued_at = now;
            c->infifo = true;
        }
        unexclude(c, x->id);
        c->inpref = true;
        c->agent = (int)(x - r->a);
        c->pref_until = NEVER;
    }
    out(r, ROUTER_EV_MOVED, c, x);
    queued(r, c);
    route(r, now, c);
    if (from && from->used)
        fill(r, now, from);
    return 0;
}

static int offer_lookup(struct ref *r, const char *cid, const char *aid,
                        struct rcontact **c, struct ragent **a)
{
    if (!ok_id(cid))
        return ROUTER_EINVAL;
    if (!(*c = contact_by_id(r, cid)))
        return ROUTER_ENOCONTACT;
    if (!ok_id(aid))
        return ROUTER_EINVAL;
    if (!(*a = agent_by_id(r, aid)))
        return ROUTER_ENOAGENT;
    if ((*c)->state != ROUTER_CONTACT_OFFERED || (*c)->agent != *a - r->a)
        return ROUTER_ESTATE;
    return 0;
}

int ref_offer_accept(struct ref *r, uint64_t now, const char *cid,
                     const char *aid)
{
    struct rcontact *c;
    struct ragent *a;
    int rc = offer_lookup(r, cid, aid, &c, &a);
    if (rc < 0)
        return rc;
    (void)now;
    c->state = ROUTER_CONTACT_ASSIGNED;
    c->infifo = false;
    a->no_answer = 0;
    out(r, ROUTER_EV_ASSIGNED, c, a);
    return 0;
}

int ref_offer_reject(struct ref *r, uint64_t now, const char *cid,
                     const char *aid)
{
    struct rcontact *c;
    struct ragent *a;
    int rc = offer_lookup(r, cid, aid, &c, &a);
    if (rc < 0)
        return rc;
    out(r, ROUTER_EV_REJECTED, c, a);
    exclude(c, a->id);
    free_slot(r, a, c, now);
    to_pool(r, c, now);
    a->no_answer = 0;           /* a reject is an answer */
    queued(r, c);
    route(r, now, c);
    fill(r, now, a);
    return 0;
}

int ref_agent_login(struct ref *r, uint64_t now,
                    const struct router_agent_spec *s)
{
    if (!s || !ok_id(s->id) || s->nskills > ROUTER_MAX_SKILLS ||
        (s->nqueues && !s->queues) || s->nqueues > 64)
        return ROUTER_EINVAL;
    int served[64];
    for (unsigned i = 0; i < s->nqueues; i++) {
        served[i] = ok_id(s->queues[i]) ? find_queue(r, s->queues[i]) : -1;
        if (served[i] < 0 || (unsigned)served[i] >= r->nconf)
            return ROUTER_ENOQUEUE;
    }
    for (unsigned i = 0; i < s->nskills; i++)
        if (!ok_id(s->skills[i].skill) || s->skills[i].level < 1 ||
            s->skills[i].level > 10)
            return ROUTER_EINVAL;
    struct ragent *a = agent_by_id(r, s->id);
    if (a && a->state != ROUTER_AGENT_STATE_LOGGED_OUT)
        return ROUTER_EEXIST;
    if (!a) {
        for (unsigned i = 0; i < r->na && !a; i++)
            if (!r->a[i].used)
                a = &r->a[i];
        if (!a)
            return ROUTER_ENOMEM;
        memset(a, 0, sizeof(*a));
        a->used = true;
        snprintf(a->id, ROUTER_ID_MAX, "%s", s->id);
    }
    for (unsigned i = 0; i < s->nskills; i++)
        skill_add(r, s->skills[i].skill);
    a->uid = ++r->seq;
    a->nskills = 0;
    for (unsigned i = 0; i < s->nskills; i++) {
        unsigned j = 0;
        while (j < a->nskills && strcmp(a->skill[j], s->skills[i].skill) != 0)
            j++;
        snprintf(a->skill[j], ROUTER_ID_MAX, "%s", s->skills[i].skill);
        a->level[j] = s->skills[i].level;
        if (j == a->nskills)
            a->nskills++;
    }
    bool any = false;
    for (int ch = 0; ch < ROUTER_CH_COUNT; ch++) {
        a->cap[ch] = s->capacity[ch];
        any |= a->cap[ch] != 0;
    }
    if (!any)
        a->cap[ROUTER_CH_VOICE] = 1;
    for (int ch = 0; ch < ROUTER_CH_COUNT; ch++)
        if (a->cap[ch] < a->busy[ch])
            a->cap[ch] = a->busy[ch];
    a->nserved = s->nqueues;
    memcpy(a->served, served, sizeof(int) * s->nqueues);
    for (unsigned i = 0; i < RQ_MAX; i++)
        a->rr[i] = a->uid;
    a->no_answer = 0;
    set_state(r, a, now, ROUTER_AGENT_STATE_AVAILABLE, NULL);
    fill(r, now, a);
    return 0;
}

int ref_agent_logout(struct ref *r, uint64_t now, const char *id)
{
    if (!ok_id(id))
        return ROUTER_EINVAL;
    struct ragent *a = agent_by_id(r, id);
    if (!a || a->state == ROUTER_AGENT_STATE_LOGGED_OUT)
        return ROUTER_ENOAGENT;
    int ai = (int)(a - r->a);
    struct rcontact *again[1024];
    unsigned n = 0, nrevoked;
    /* offers in the order they were made */
    for (;;) {
        struct rcontact *first = NULL;
        for (unsigned i = 0; i < r->nc; i++) {
            struct rcontact *c = &r->c[i];
            if (c->used && c->state == ROUTER_CONTACT_OFFERED &&
                c->agent == ai && (!first || c->wseq < first->wseq))
                first = c;
        }
        if (!first)
            break;
        out(r, ROUTER_EV_REVOKED, first, a)->detail = ROUTER_REVOKE_AGENT_LOGOUT;
        free_slot(r, a, first, now);
        to_pool(r, first, now);
        again[n++] = first;
    }
    nrevoked = n;
    /* then the contacts waiting for this agent, best key first */
    for (;;) {
        struct rcontact *first = NULL;
        for (unsigned i = 0; i < r->nc; i++) {
            struct rcontact *c = &r->c[i];
            if (c->used && c->state == ROUTER_CONTACT_QUEUED && c->inpref &&
                c->agent == ai && (!first || contact_before(c, first)))
                first = c;
        }
        if (!first)
            break;
        to_pool(r, first, now);
        again[n++] = first;
    }
    set_state(r, a, now, ROUTER_AGENT_STATE_LOGGED_OUT, NULL);
    if (!has_work(r, a))
        a->used = false;
    /* the revoked contacts wait again, told once the agent has gone */
    for (unsigned i = 0; i < nrevoked; i++)
        queued(r, again[i]);
    for (unsigned i = 0; i < n; i++)
        route(r, now, again[i]);
    return 0;
}

int ref_agent_set_load(struct ref *r, const char *id, uint32_t load)
{
    struct ragent *a = ok_id(id) ? agent_by_id(r, id) : NULL;
    if (!ok_id(id))
        return ROUTER_EINVAL;
    if (!a || a->state == ROUTER_AGENT_STATE_LOGGED_OUT)
        return ROUTER_ENOAGENT;
    a->load = load > 65535 ? 65535 : load;
    return 0;
}

int ref_agent_set_routine(struct ref *r, uint64_t now, const char *id,
                          bool on)
{
    struct ragent *a = ok_id(id) ? agent_by_id(r, id) : NULL;
    if (!ok_id(id))
        return ROUTER_EINVAL;
    if (!a || a->state == ROUTER_AGENT_STATE_LOGGED_OUT)
        return ROUTER_ENOAGENT;
    if (a->routine != on) {
        a->routine = on;
        if (!on)
            fill(r, now, a);
    }
    return 0;
}

int ref_agent_set_idle_shift(struct ref *r, const char *id, uint32_t shift_ms)
{
    struct ragent *a = ok_id(id) ? agent_by_id(r, id) : NULL;
    if (!ok_id(id))
        return ROUTER_EINVAL;
    if (!a || a->state == ROUTER_AGENT_STATE_LOGGED_OUT)
        return ROUTER_ENOAGENT;
    if (shift_ms > ROUTER_IDLE_SHIFT_MAX_MS)
        shift_ms = ROUTER_IDLE_SHIFT_MAX_MS;
    a->shift_us = (uint64_t)shift_ms * 1000;
    return 0;
}

int ref_agent_set_state(struct ref *r, uint64_t now, const char *id,
                        enum router_agent_cmd cmd, const char *reason)
{
    if (!ok_id(id))
        return ROUTER_EINVAL;
    struct ragent *a = agent_by_id(r, id);
    if (!a || a->state == ROUTER_AGENT_STATE_LOGGED_OUT)
        return ROUTER_ENOAGENT;
    if (reason && strnlen(reason, ROUTER_ID_MAX) >= ROUTER_ID_MAX)
        return ROUTER_EINVAL;
    if (cmd == ROUTER_AGENT_WRAPUP_DONE &&
        a->state != ROUTER_AGENT_STATE_WRAPUP)
        return ROUTER_ESTATE;
    if (cmd == ROUTER_AGENT_WRAPUP_DONE || cmd == ROUTER_AGENT_AVAILABLE) {
        if (a->state == ROUTER_AGENT_STATE_AVAILABLE)
            return 0;
        set_state(r, a, now, ROUTER_AGENT_STATE_AVAILABLE, NULL);
        fill(r, now, a);
        return 0;
    }
    if (cmd == ROUTER_AGENT_AWAY) {
        if (a->state == ROUTER_AGENT_STATE_AWAY &&
            strcmp(a->reason, reason ? reason : "") == 0)
            return 0;
        set_state(r, a, now, ROUTER_AGENT_STATE_AWAY, reason);
        return 0;
    }
    return ROUTER_EINVAL;
}

/* ---- timers ---- */

static void contact_timer(struct ref *r, uint64_t now, struct rcontact *c)
{
    c->kick = false;
    if (c->state == ROUTER_CONTACT_OFFERED) {
        if (c->deadline > now)
            return;
        struct ragent *a = &r->a[c->agent];
        out(r, ROUTER_EV_REVOKED, c, a)->detail = ROUTER_REVOKE_TIMEOUT;
        exclude(c, a->id);
        free_slot(r, a, c, now);
        to_pool(r, c, now);
        queued(r, c);
        if (++a->no_answer >= r->cfg.max_no_answer) {
            a->no_answer = 0;
            set_state(r, a, now, ROUTER_AGENT_STATE_AWAY, "no-answer");
        }
        route(r, now, c);
        fill(r, now, a);
        return;
    }
    if (c->inpref && c->pref_until <= now)
        to_pool(r, c, now);
    if (!c->inpref) {
        struct rqueue *q = &r->q[c->queue];
        if (q->max_wait_ms && q->overflow >= 0 &&
            now >= c->queued_at + q->max_wait_ms * 1000) {
            enter_queue(r, c, carry(r, c->queue, q->overflow, c->channel),
                        now);
            to_pool(r, c, now);
            out(r, ROUTER_EV_MOVED, c, NULL);
            queued(r, c);
            route(r, now, c);
            return;
        }
        int l = (int)level_at(q, c->queued_at, now);
        if (l != c->level) {
            c->level = l;
            queued(r, c);       /* an expansion step */
        }
    }
    route(r, now, c);
}

void ref_tick(struct ref *r, uint64_t now)
{
    for (;;) {
        uint64_t best_due = NEVER;
        uint32_t best_seq = UINT32_MAX;
        struct rcontact *bc = NULL;
        struct ragent *ba = NULL;
        for (unsigned i = 0; i < r->nc; i++) {
            struct rcontact *c = &r->c[i];
            if (!c->used)
                continue;
            uint64_t d = contact_due(r, c);
            if (d <= now && (d < best_due || (d == best_due && c->seq < best_seq))) {
                best_due = d;
                best_seq = c->seq;
                bc = c;
                ba = NULL;
            }
        }
        for (unsigned i = 0; i < r->na; i++) {
            struct ragent *a = &r->a[i];
            if (!a->used || a->state != ROUTER_AGENT_STATE_WRAPUP)
                continue;
            uint64_t d = a->wrap_until;
            if (d <= now && (d < best_due || (d == best_due && a->uid < best_seq))) {
                best_due = d;
                best_seq = a->uid;
                ba = a;
                bc = NULL;
            }
        }
        if (bc) {
            contact_timer(r, now, bc);
        } else if (ba) {
            set_state(r, ba, now, ROUTER_AGENT_STATE_AVAILABLE, NULL);
            fill(r, now, ba);
        } else {
            return;
        }
    }
}

/* ---- recovery ---- */

int ref_contact_restore(struct ref *r, uint64_t now,
                        const struct router_contact_spec *s,
                        uint64_t arrived_at, const char *excluded_agent)
{
    if (s && ok_id(s->id) && contact_by_id(r, s->id))
        return ROUTER_EDUPLICATE;
    int qi = resolve_queue(r, s);
    if (qi < 0)
        return qi;
    if (excluded_agent && excluded_agent[0] && !ok_id(excluded_agent))
        return ROUTER_EINVAL;
    if (arrived_at > now)
        return ROUTER_EINVAL;
    struct rcontact *c = new_contact(r, s, arrived_at);
    if (!c)
        return ROUTER_ENOMEM;
    if (excluded_agent && excluded_agent[0])
        exclude(c, excluded_agent);
    c->queue = qi;
    c->queued_at = arrived_at;
    c->infifo = true;
    c->kick = true;
    c->kick_at = now;
    place(r, c, now, s->preferred_agent);
    return 0;
}

int ref_contact_restore_assigned(struct ref *r, uint64_t now,
                                 const struct router_contact_spec *s,
                                 uint64_t arrived_at, const char *agent_id)
{
    if (s && ok_id(s->id) && contact_by_id(r, s->id))
        return ROUTER_EDUPLICATE;
    int qi = resolve_queue(r, s);
    if (qi < 0)
        return qi;
    if (!ok_id(agent_id))
        return ROUTER_EINVAL;
    struct ragent *a = agent_by_id(r, agent_id);
    if (!a || a->state == ROUTER_AGENT_STATE_LOGGED_OUT)
        return ROUTER_ENOAGENT;
    if (a->busy[s->channel] >= a->cap[s->channel])
        return ROUTER_ESTATE;
    struct rcontact *c = new_contact(r, s, arrived_at);
    if (!c)
        return ROUTER_ENOMEM;
    (void)now;
    c->queue = qi;
    c->queued_at = arrived_at;
    c->state = ROUTER_CONTACT_ASSIGNED;
    c->agent = (int)(a - r->a);
    c->wseq = ++r->wseq;
    a->busy[s->channel]++;
    return 0;
}

/* ---- output and introspection ---- */

size_t ref_out_count(const struct ref *r)
{
    return r->nout;
}

const struct ref_event *ref_out_get(const struct ref *r, size_t i)
{
    return i < r->nout ? &r->out[i] : NULL;
}

void ref_out_clear(struct ref *r)
{
    r->nout = 0;
}

const char *ref_contact_at(const struct ref *r, unsigned i,
                           enum router_contact_state *st, const char **agent)
{
    for (unsigned k = 0; k < r->nc; k++) {
        if (!r->c[k].used || i-- > 0)
            continue;
        *st = r->c[k].state;
        *agent = r->c[k].agent >= 0 ? r->a[r->c[k].agent].id : "";
        return r->c[k].id;
    }
    return NULL;
}

const char *ref_agent_at(const struct ref *r, unsigned i,
                         enum router_agent_state *st)
{
    for (unsigned k = 0; k < r->na; k++) {
        if (!r->a[k].used || i-- > 0)
            continue;
        *st = r->a[k].state;
        return r->a[k].id;
    }
    return NULL;
}
