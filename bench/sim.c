/* sim.c -- the discrete-event simulation behind ccsim; see sim.h.
 *
 * Two clocks of work. The simulator's own events (the next arrival, a
 * customer's patience running out, an agent answering an offer after its
 * think time, the end of a handle time, the end of a model wrap-up) sit
 * in a binary min-heap ordered by (time, sequence), so that events at the
 * same microsecond run in the order they were scheduled and a run is
 * reproducible. The router's own timers (offer deadlines, wrap-up ends,
 * expansion steps, maximum wait, maximum age) stay inside the router:
 * router_next_deadline() says when the next is due and router_tick() runs
 * it. The loop takes whichever comes first, sets `now` to it and calls
 * the router; the router's output (offers, assignments, revokes, gone
 * contacts, agent states) is read after every call, as the daemon's
 * dispatch reads it, and turned into more events.
 *
 * The contact a simulated switch sends is built as engine/dispatch.c
 * builds one from ContactArrived: the class's queue, its skills, and its
 * language and product as the extra skills "lang:<x>" and
 * "product:<x>" at level 1; channel, priority and customer value.
 *
 * Random numbers (common random numbers: a routing change, or other
 * agent counts, must not shift them): one stream for the arrivals (gaps,
 * class, priority, value, patience, and a seed for the contact: all
 * drawn when the contact arrives); each contact's own stream, from that
 * seed, for what happens to it at an agent (think time, reject, handle
 * time), so that the same contact handled by an agent of the same group
 * takes the same time whichever agent it is and whenever; each agent's
 * own stream, from the run's seed and its group and number, for its
 * model wrap-ups. Arrivals under
 * a rate curve are a non-homogeneous Poisson process by thinning: gaps at
 * the curve's highest rate, each candidate kept with probability
 * rate(t) / highest.
 *
 * Times are whole microseconds (the router's unit); samples are rounded.
 * Memory: one slot per live contact (a free list), one per agent, the
 * heap, and the report's cells (rows x intervals).
 */
#include "sim.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blend.h"
#include "campaign.h"
#include "error.h"
#include "router.h"

#define US_PER_S 1000000.0
#define NO_ANSWER_BACK_US 30000000ull
#define NONE32 UINT32_MAX

enum ev_kind {
    EV_ARRIVAL = 1,
    EV_ABANDON,     /* a: contact, gen: contact gen */
    EV_ANSWER,      /* a: contact, gen: offer gen */
    EV_COMPLETE,    /* a: contact, gen: contact gen */
    EV_WRAPUP_DONE, /* a: agent, gen: wrap-up gen */
    /* agent schedules: a: group, gen: index of the shift or break */
    EV_SHIFT_START,
    EV_SHIFT_END,
    EV_BREAK_START,
    EV_BREAK_END,
    EV_LOGOUT,      /* a: agent, gen: logout gen (after its last contact) */
    EV_BACK,        /* a: agent, gen: its no-answer gen: available again */
    EV_STAFF,       /* a: interval: sim_opts.count_iv's agents */
    /* outbound */
    EV_PACE,        /* the campaign core's pacing turn */
    EV_DIAL_RESULT, /* a: dial slot, gen: its gen (the switch's outcome) */
};

struct ev {
    uint64_t t, seq;
    uint32_t kind, a, gen, pad;
};

enum cstate { C_FREE = 0, C_WAITING, C_OFFERED, C_ASSIGNED };

struct scontact {
    char id[24];
    uint64_t arrived, answered;
    uint32_t gen, offer_gen;
    uint32_t agent;
    uint32_t row, interval;
    uint32_t next_free;
    uint32_t est_ms;    /* the router's estimated wait on arrival */
    double handle_ms;   /* replayed handle time; < 0: the group's draw */
    uint8_t state;
    bool offered_now;   /* an offer came in the arrival call itself */
    bool est_set;
    uint32_t dial;      /* an outbound call's dial slot; NONE32 inbound */
    struct rng rng;     /* think, reject, handle (see the top) */
};

/* A dial of the campaign, from the core's DIAL until the switch's
 * outcome (not answered) or until its contact has left the router and
 * the core is done with it (answered). */
struct sdial {
    uint64_t id;        /* the core's dial id */
    uint64_t cseed;     /* its contact's stream (talk time) */
    uint32_t gen, next_free;
    uint32_t iv;        /* interval it was placed in */
    uint32_t contact;   /* its router contact; NONE32: none (yet) */
    uint8_t outcome;    /* drawn when placed (OB_*) */
    bool live, ringing;
    bool arriving;      /* its contact is being made */
    bool reached;       /* ... and was offered in that very call */
    uint32_t reached_agent;
};

struct sagent {
    char id[ROUTER_ID_MAX];
    unsigned group;
    uint32_t wrap_gen;
    bool in_wrapup;
    /* schedules */
    bool logged_in;
    bool pending_logout;  /* shift over: away until its contacts end */
    bool on_break;
    uint32_t nassigned;   /* contacts accepted and not yet completed */
    uint32_t logout_gen;
    uint32_t back_gen;    /* set away by the router (no-answer) */
    uint64_t login_at;
    struct rng rng;     /* model wrap-ups */
};

struct sim {
    const struct model *m;
    const struct router_config *rc;
    const char *config_name;
    const struct sim_opts *o;
    struct router *r;
    uint64_t now, horizon, seq;
    struct rng arr_rng;
    struct ev *heap;
    size_t nheap, cap_heap;
    struct scontact *c;
    uint32_t nc, cap_c, free_c, live;
    struct sagent *a;
    unsigned na;
    unsigned *class_row;      /* row of each class */
    unsigned gbase[MODEL_MAX_GROUPS];  /* first agent of each group */
    bool scheduled;           /* staffed time is time logged in */
    bool follow;              /* follow the groups' shifts and breaks */
    /* per group: whether it serves row r at its first level
     * [gi * nrows + r]; its tier in configured queue q [gi * nq + q]
     * (-1: never); its mean level in the required skills of queue q
     * [gi * nq + q] and of a skills-only row r [gi * nrows + r] (-1: none
     * required) */
    bool *serves;
    int8_t *tier;
    double *qprof, *rprof;
    double max_rate;
    uint64_t next_id;
    size_t next_replay;
    bool arrivals_done;
    struct sim_report *rep;
    uint64_t interval_us;
    /* outbound (NULL cc: none) */
    struct campaign_core *cc;
    int camp, ob_queue;
    unsigned ob_row;
    struct rng ob_rng;      /* outcomes, ring times, contact seeds */
    struct sdial *d;
    uint32_t nd, cap_d, free_d;
    uint32_t ob_pending;    /* dials whose outcome is still to come */
    bool pacing, ob_stopped;
    uint64_t next_ob_id;
};

/* ---- event heap ---- */

static bool ev_before(const struct ev *x, const struct ev *y)
{
    return x->t < y->t || (x->t == y->t && x->seq < y->seq);
}

static int push(struct sim *s, uint64_t t, enum ev_kind k, uint32_t a,
                uint32_t gen)
{
    if (s->nheap == s->cap_heap) {
        size_t cap = s->cap_heap ? s->cap_heap * 2 : 1024;
        struct ev *h = realloc(s->heap, cap * sizeof(*h));
        if (!h)
            return CCR_ENOMEM;
        s->heap = h;
        s->cap_heap = cap;
    }
    struct ev e = { t, s->seq++, (uint32_t)k, a, gen, 0 };
    size_t i = s->nheap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ev_before(&e, &s->heap[p]))
            break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = e;
    return 0;
}

static struct ev pop(struct sim *s)
{
    struct ev top = s->heap[0], last = s->heap[--s->nheap];
    size_t i = 0, n = s->nheap;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        const struct ev *best = &last;
        if (l < n && ev_before(&s->heap[l], best))
            m = l, best = &s->heap[l];
        if (l + 1 < n && ev_before(&s->heap[l + 1], best))
            m = l + 1;
        if (m == i)
            break;
        s->heap[i] = s->heap[m];
        i = m;
    }
    if (n)
        s->heap[i] = last;
    return top;
}

/* ---- helpers ---- */

static uint64_t to_us(double ms)
{
    return ms <= 0 ? 0 : (uint64_t)llround(ms * 1000.0);
}

static struct sim_cell *cell(struct sim *s, uint32_t row, uint32_t iv)
{
    return &s->rep->cells[(size_t)row * s->rep->nintervals + iv];
}

/* Agent time [t0, t1) with a contact of `row`, split over intervals;
 * what falls after the last interval (the drain) is not reported. */
static void add_busy(struct sim *s, uint32_t row, uint64_t t0, uint64_t t1)
{
    while (t0 < t1) {
        uint64_t iv = t0 / s->interval_us;
        if (iv >= s->rep->nintervals)
            return;
        uint64_t end = (iv + 1) * s->interval_us;
        uint64_t e = t1 < end ? t1 : end;
        cell(s, row, (uint32_t)iv)->busy_s += (double)(e - t0) / US_PER_S;
        t0 = e;
    }
}

static void contact_free(struct sim *s, uint32_t i)
{
    struct scontact *c = &s->c[i];
    c->state = C_FREE;
    c->gen++;
    c->next_free = s->free_c;
    s->free_c = i;
    s->live--;
}

/* Agent time logged in [t0, t1) of group gi, split over intervals, to
 * every row the group serves and to "all"; what falls after the arrivals
 * is not reported (the staffed time of a run without schedules covers
 * the arrivals too: sim_report_values). */
static void add_staffed(struct sim *s, unsigned gi, uint64_t t0, uint64_t t1)
{
    unsigned nrows = s->rep->nrows;
    if (t1 > s->horizon)
        t1 = s->horizon;
    while (t0 < t1) {
        uint64_t iv = t0 / s->interval_us;
        if (iv >= s->rep->nintervals)
            return;
        uint64_t end = (iv + 1) * s->interval_us;
        uint64_t e = t1 < end ? t1 : end;
        double d = (double)(e - t0) / US_PER_S;
        for (unsigned r = 0; r < nrows; r++)
            if (s->serves[(size_t)gi * nrows + r])
                cell(s, r, (uint32_t)iv)->staffed_s += d;
        s->rep->staffed_all_s[iv] += d;
        t0 = e;
    }
}

/* ---- routing quality ----
 *
 * What the router reports of an answer (ROUTER_EV_ASSIGNED: the contact,
 * the agent, the queue it was answered from) and the configuration say
 * how good it was: the agent's tier in that queue (the first expansion
 * level at which the router lets it take the queue's contacts, computed
 * from the group's skills and queues by the router's rules: router.c,
 * "Levels and tiers"), whether the queue is another than the one the
 * contact arrived in (overflow), and the agent's mean level in the
 * queue's required skills. */

static int group_level(const struct model_group *g, const char *skill)
{
    for (unsigned j = 0; j < g->nskills; j++)
        if (!strcmp(g->skills[j].name, skill))
            return (int)g->skills[j].level;
    return 0;
}

static bool group_lists(const struct model_group *g, const char *queue)
{
    if (!g->nqueues)
        return true;
    for (unsigned i = 0; i < g->nqueues; i++)
        if (!strcmp(g->queues[i], queue))
            return true;
    return false;
}

static bool group_meets(const struct model_group *g,
                        const struct router_queue_config *qc,
                        const uint8_t *min)
{
    for (unsigned i = 0; i < qc->nreq; i++)
        if (min[i] && group_level(g, qc->req[i].skill) < min[i])
            return false;
    return true;
}

/* The tier of group g in configured queue q: router.c's agent_tier() on
 * the configuration (steps in order of after_ms, stable), or -1. */
static int group_tier(const struct router_config *rc,
                      const struct model_group *g, unsigned q)
{
    const struct router_queue_config *qc = &rc->queues[q];
    unsigned ord[ROUTER_MAX_STEPS];
    uint8_t min[ROUTER_MAX_REQ];
    bool member = group_lists(g, qc->name);
    for (unsigned i = 0; i < qc->nsteps; i++) {
        unsigned j = i;
        while (j > 0 && qc->steps[ord[j - 1]].after_ms >
                            qc->steps[i].after_ms) {
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = i;
    }
    for (unsigned i = 0; i < qc->nreq; i++)
        min[i] = qc->req[i].min_level;
    for (unsigned l = 0; l <= qc->nsteps; l++) {
        const struct router_step *st = l ? &qc->steps[ord[l - 1]] : NULL;
        if (st && st->kind != ROUTER_STEP_ADD_QUEUE)
            for (unsigned i = 0; i < qc->nreq; i++) {
                if (strcmp(qc->req[i].skill, st->skill))
                    continue;
                if (st->kind == ROUTER_STEP_DROP_SKILL)
                    min[i] = 0;
                else if (min[i] > st->level)
                    min[i] = st->level;
            }
        if (member && group_meets(g, qc, min))
            return (int)l;
        if (st && st->kind == ROUTER_STEP_ADD_QUEUE)
            for (unsigned q2 = 0; q2 < rc->nqueues; q2++) {
                const struct router_queue_config *q2c = &rc->queues[q2];
                uint8_t m2[ROUTER_MAX_REQ];
                if (strcmp(q2c->name, st->queue))
                    continue;
                for (unsigned i = 0; i < q2c->nreq; i++)
                    m2[i] = q2c->req[i].min_level;
                if (group_lists(g, q2c->name) && group_meets(g, q2c, m2))
                    return (int)l;
            }
    }
    return -1;
}

static double mean_level(const struct model_group *g,
                         const struct router_skill_req *req, unsigned nreq)
{
    double sum = 0;
    if (!nreq)
        return -1;
    for (unsigned i = 0; i < nreq; i++)
        sum += group_level(g, req[i].skill);
    return sum / nreq;
}

/* An answer of contact c by an agent of group gi from queue q (-1: the
 * contact's virtual queue). */
static void quality(struct sim *s, struct sim_cell *x,
                    const struct scontact *c, int q, unsigned gi)
{
    unsigned nq = s->rc->nqueues, nrows = s->rep->nrows;
    int tier = q >= 0 ? s->tier[(size_t)gi * nq + (unsigned)q] : 0;
    double p = q >= 0 ? s->qprof[(size_t)gi * nq + (unsigned)q]
                      : s->rprof[(size_t)gi * nrows + c->row];
    x->by_tier[tier < 0 ? 0 : tier > 3 ? 3 : tier]++;
    if (q >= 0 && (unsigned)q != c->row)
        x->overflowed++;
    if (p >= 0) {
        x->prof_sum += p;
        x->prof_n++;
    }
}

static int quality_setup(struct sim *s)
{
    const struct model *m = s->m;
    const struct router_config *rc = s->rc;
    unsigned nq = rc->nqueues, nrows = s->rep->nrows, ng = m->ngroups;
    s->serves = calloc((size_t)ng * nrows + 1, sizeof(*s->serves));
    s->tier = calloc((size_t)ng * nq + 1, sizeof(*s->tier));
    s->qprof = calloc((size_t)ng * nq + 1, sizeof(*s->qprof));
    s->rprof = calloc((size_t)ng * nrows + 1, sizeof(*s->rprof));
    if (!s->serves || !s->tier || !s->qprof || !s->rprof)
        return -1;
    for (unsigned gi = 0; gi < ng; gi++) {
        const struct model_group *g = &m->groups[gi];
        for (unsigned r = 0; r < nrows; r++) {
            s->serves[(size_t)gi * nrows + r] = sim_group_serves(rc, m, gi,
                                                                 r);
            s->rprof[(size_t)gi * nrows + r] = -1;
        }
        for (unsigned q = 0; q < nq; q++) {
            s->tier[(size_t)gi * nq + q] = (int8_t)group_tier(rc, g, q);
            s->qprof[(size_t)gi * nq + q] =
                mean_level(g, rc->queues[q].req, rc->queues[q].nreq);
        }
        for (unsigned k = 0; k < m->nclasses; k++) {
            const struct model_class *mc = &m->classes[k];
            struct router_skill_req req[MODEL_MAX_REQ];
            if (mc->queue[0])
                continue;
            for (unsigned i = 0; i < mc->nskills; i++)
                snprintf(req[i].skill, sizeof(req[i].skill), "%s",
                         mc->skills[i].name);
            s->rprof[(size_t)gi * nrows + s->class_row[k]] =
                mean_level(g, req, mc->nskills);
        }
    }
    return 0;
}

/* ---- the router's output ---- */

static void ob_reached(struct sim *s, uint32_t ci, uint32_t ai);
static void ob_gone(struct sim *s, uint32_t ci, bool completed);

static int drain(struct sim *s, uint32_t arriving)
{
    size_t n = router_out_count(s->r);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct router_event *e = router_out_get(s->r, i);
        uint32_t ci = e->contact != NONE32
                          ? router_contact_tag(s->r, e->contact) : NONE32;
        uint32_t ai = e->agent != NONE32
                          ? router_agent_tag(s->r, e->agent) : NONE32;
        struct scontact *c = ci != NONE32 ? &s->c[ci] : NULL;
        switch (e->type) {
        case ROUTER_EV_OFFER: {
            const struct model_group *g = &s->m->groups[s->a[ai].group];
            c->state = C_OFFERED;
            c->agent = ai;
            c->offer_gen++;
            if (ci == arriving)
                c->offered_now = true;
            double think = dist_sample(&g->think, &c->rng);
            rc = push(s, s->now + to_us(think), EV_ANSWER, ci, c->offer_gen);
            if (c->dial != NONE32)
                ob_reached(s, ci, ai);
            break;
        }
        case ROUTER_EV_REVOKED:
        case ROUTER_EV_REJECTED:
            c->state = C_WAITING;
            c->offer_gen++;
            break;
        case ROUTER_EV_ASSIGNED: {
            const struct model_group *g = &s->m->groups[s->a[ai].group];
            struct sim_cell *x = cell(s, c->row, c->interval);
            uint64_t wait = s->now - c->arrived;
            c->state = C_ASSIGNED;
            c->answered = s->now;
            s->a[ai].nassigned++;
            if (c->dial != NONE32) {
                /* an outbound call: the customer talks for the model's
                 * talk time; not counted in the queue's row */
                double talk = dist_sample(&s->m->ob.talk, &c->rng);
                rc = push(s, s->now + to_us(talk), EV_COMPLETE, ci, c->gen);
                break;
            }
            quality(s, x, c, e->queue, s->a[ai].group);
            x->answered++;
            x->wait_s += (double)wait / US_PER_S;
            x->est_wait_s += c->est_ms / 1000.0;
            if (wait <= (uint64_t)s->rep->rows[c->row].sl_threshold_ms * 1000)
                x->answered_in_sl++;
            double handle = c->handle_ms >= 0
                                ? c->handle_ms
                                : dist_sample(&g->handle, &c->rng);
            rc = push(s, s->now + to_us(handle), EV_COMPLETE, ci, c->gen);
            break;
        }
        case ROUTER_EV_CONTACT_GONE:
            if (e->u.gone == ROUTER_CONTACT_ABANDONED) {
                if (c->dial == NONE32)
                    cell(s, c->row, c->interval)->abandoned++;
            } else {
                struct sagent *a = &s->a[c->agent];
                add_busy(s, c->row, c->answered, s->now);
                /* its shift is over: it logs out now (an event, as the
                 * router's output is being read) */
                if (c->state == C_ASSIGNED && --a->nassigned == 0 &&
                    a->pending_logout)
                    rc = push(s, s->now, EV_LOGOUT, c->agent,
                              ++a->logout_gen);
            }
            if (c->dial != NONE32)
                ob_gone(s, ci, e->u.gone != ROUTER_CONTACT_ABANDONED);
            contact_free(s, ci);
            break;
        case ROUTER_EV_AGENT_STATE: {
            struct sagent *a = &s->a[ai];
            const struct model_group *g = &s->m->groups[a->group];
            /* away, and not by the simulator (a break, a shift's end):
             * the router's no-answer (max_no_answer offer timeouts in a
             * row); the agent's desktop makes it available again after
             * NO_ANSWER_BACK_US, as a person noticing would -- else the
             * agent would be lost for the rest of the day */
            if (e->u.agent_state == ROUTER_AGENT_STATE_AWAY &&
                a->logged_in && !a->on_break && !a->pending_logout)
                rc = push(s, s->now + NO_ANSWER_BACK_US, EV_BACK, ai,
                          ++a->back_gen);
            a->in_wrapup = e->u.agent_state == ROUTER_AGENT_STATE_WRAPUP;
            if (a->in_wrapup && g->wrapup.kind != DIST_NONE) {
                double w = dist_sample(&g->wrapup, &a->rng);
                rc = push(s, s->now + to_us(w), EV_WRAPUP_DONE, ai,
                          ++a->wrap_gen);
            }
            break;
        }
        case ROUTER_EV_QUEUED:
            if (ci == arriving && !c->est_set) {
                c->est_ms = e->est_wait_ms;
                c->est_set = true;
            }
            break;
        case ROUTER_EV_MOVED:
            break;
        }
    }
    router_out_clear(s->r);
    return rc;
}

/* ---- arrivals ---- */

static int next_arrival(struct sim *s, uint64_t from)
{
    const struct model *m = s->m;
    if (s->o->replay) {
        if (s->next_replay >= s->o->nreplay) {
            s->arrivals_done = true;
            return 0;
        }
        uint64_t t = s->o->replay[s->next_replay].t_us;
        if (t >= s->horizon) {
            s->arrivals_done = true;
            return 0;
        }
        return push(s, t > from ? t : from, EV_ARRIVAL, 0, 0);
    }
    if (s->max_rate <= 0 || (m->contacts && s->next_id >= m->contacts)) {
        s->arrivals_done = true;
        return 0;
    }
    double t = (double)from / US_PER_S;
    for (;;) {
        t += rng_exp(&s->arr_rng, 1.0 / s->max_rate);
        if (t * US_PER_S >= (double)s->horizon) {
            s->arrivals_done = true;
            return 0;
        }
        if (!m->ncurve ||
            rng_unit(&s->arr_rng) * s->max_rate < model_rate_at(m, t))
            break;
    }
    return push(s, (uint64_t)llround(t * US_PER_S), EV_ARRIVAL, 0, 0);
}

static unsigned pick(struct rng *r, unsigned lo, unsigned hi)
{
    return lo + (unsigned)(rng_unit(r) * (double)(hi - lo + 1));
}

static int add_extra(struct router_contact_spec *sp, const char *prefix,
                     const char *name)
{
    if (!name[0])
        return 0;
    if (sp->nskills == ROUTER_MAX_REQ)
        return -1;
    struct router_skill_req *k = &sp->skills[sp->nskills++];
    int n = snprintf(k->skill, sizeof(k->skill), "%s%s", prefix, name);
    k->min_level = 1;
    return n < 0 || (size_t)n >= sizeof(k->skill) ? -1 : 0;
}

/* The channel of a replayed contact of configured queue q: the queue's,
 * when its configuration names exactly one; else that of the model's
 * first class for the queue; else voice (simreplay.h). */
static enum router_channel replay_channel(const struct sim *s, unsigned q)
{
    uint32_t mask = s->rc->queues[q].channel_mask;
    if (mask && !(mask & (mask - 1)))
        for (unsigned ch = 0; ch < ROUTER_CH_COUNT; ch++)
            if (mask == 1u << ch)
                return (enum router_channel)ch;
    for (unsigned k = 0; k < s->m->nclasses; k++)
        if (!strcmp(s->m->classes[k].queue, s->rc->queues[q].name))
            return s->m->classes[k].channel <= 0
                       ? ROUTER_CH_VOICE
                       : (enum router_channel)(s->m->classes[k].channel - 1);
    return ROUTER_CH_VOICE;
}

/* The next replayed arrival's contact: 0, or -1 with a message. */
static int replay_spec(struct sim *s, struct router_contact_spec *sp,
                       double *patience, double *handle, unsigned *row,
                       char *err, size_t errlen)
{
    const struct sim_arrival *ra = &s->o->replay[s->next_replay++];
    unsigned q;
    for (q = 0; q < s->rc->nqueues; q++)
        if (!strcmp(s->rc->queues[q].name, ra->queue))
            break;
    if (q == s->rc->nqueues) {
        snprintf(err, errlen, "--replay: a contact arrived in queue \"%s\" "
                 "(%.3f s into the stream), which is not in %s", ra->queue,
                 (double)ra->t_us / US_PER_S, s->config_name);
        return -1;
    }
    sp->queue = s->rc->queues[q].name;
    sp->channel = replay_channel(s, q);
    *patience = ra->patience_ms;
    *handle = ra->handle_ms;
    *row = q;
    return 0;
}

/* A contact slot, waiting, arrived now, its stream seeded: its index,
 * or NONE32 out of memory. */
static uint32_t contact_alloc(struct sim *s, uint64_t cseed)
{
    if (s->free_c == NONE32) {
        if (s->nc == s->cap_c) {
            uint32_t cap = s->cap_c ? s->cap_c * 2 : 1024;
            struct scontact *c = realloc(s->c, cap * sizeof(*c));
            if (!c)
                return NONE32;
            s->c = c;
            s->cap_c = cap;
        }
        memset(&s->c[s->nc], 0, sizeof(s->c[0]));
        s->c[s->nc].next_free = NONE32;
        s->free_c = s->nc++;
    }
    uint32_t ci = s->free_c;
    struct scontact *c = &s->c[ci];
    s->free_c = c->next_free;
    s->live++;
    c->arrived = s->now;
    c->state = C_WAITING;
    c->offered_now = false;
    c->est_set = false;
    c->est_ms = 0;
    c->dial = NONE32;
    rng_seed(&c->rng, cseed);
    return ci;
}

static int arrive(struct sim *s, char *err, size_t errlen,
                  const char *model_name)
{
    const struct model *m = s->m;
    struct router_contact_spec sp;
    double patience, handle_ms = -1;
    unsigned row, k = 0;
    const struct model_class *mc = NULL;
    uint32_t ci, h;
    int rc;

    memset(&sp, 0, sizeof(sp));
    if (s->o->replay) {
        if (replay_spec(s, &sp, &patience, &handle_ms, &row, err,
                        errlen) < 0)
            return -1;
        goto admit;
    }
    k = model_pick_class(m, &s->arr_rng);
    mc = &m->classes[k];
    sp.queue = mc->queue[0] ? mc->queue : NULL;
    sp.channel = mc->channel <= 0 ? ROUTER_CH_VOICE
                                  : (enum router_channel)(mc->channel - 1);
    for (unsigned i = 0; i < mc->nskills; i++) {
        snprintf(sp.skills[i].skill, sizeof(sp.skills[i].skill), "%s",
                 mc->skills[i].name);
        sp.skills[i].min_level = (uint8_t)mc->skills[i].level;
    }
    sp.nskills = mc->nskills;
    if (add_extra(&sp, "lang:", mc->language) < 0 ||
        add_extra(&sp, "product:", mc->product) < 0) {
        snprintf(err, errlen, "%s:%lu: mix[%u]: more than %d skills with "
                 "language and product, or a name too long", model_name,
                 mc->line, k, ROUTER_MAX_REQ);
        return -1;
    }
    sp.priority = pick(&s->arr_rng, mc->priority_lo, mc->priority_hi);
    sp.value = pick(&s->arr_rng, mc->value_lo, mc->value_hi);
    patience = dist_sample(&mc->patience, &s->arr_rng);
    row = s->class_row[k];
admit:;
    uint64_t cseed = rng_next(&s->arr_rng);

    if ((ci = contact_alloc(s, cseed)) == NONE32)
        goto oom;
    struct scontact *c = &s->c[ci];
    snprintf(c->id, sizeof(c->id), "c%" PRIu64, ++s->next_id);
    c->row = row;
    c->handle_ms = handle_ms;
    c->interval = (uint32_t)(s->now / s->interval_us);
    sp.id = c->id;
    s->rep->contacts++;
    s->rep->router_calls++;
    rc = router_contact_arrive(s->r, s->now, &sp, ci, &h);
    if (rc == ROUTER_EFULL) {
        cell(s, c->row, c->interval)->refused++;
        router_out_clear(s->r);
        contact_free(s, ci);
        return next_arrival(s, s->now);
    }
    if (rc < 0 && mc) {
        snprintf(err, errlen, "%s:%lu: mix[%u] (%s): the router refused the "
                 "contact: %s", model_name, mc->line, k, mc->name,
                 ccr_strerror(rc));
        return -1;
    }
    if (rc < 0) {
        snprintf(err, errlen, "--replay: the router refused a contact of "
                 "queue \"%s\": %s", sp.queue, ccr_strerror(rc));
        return -1;
    }
    cell(s, c->row, c->interval)->offered++;
    if (drain(s, ci) < 0)
        goto oom;
    /* the slot may have gone already (refused to a full overflow) */
    if (c->state != C_FREE && !c->offered_now)
        cell(s, c->row, c->interval)->waited++;
    if (c->state != C_FREE && patience >= 0 &&
        push(s, s->now + to_us(patience), EV_ABANDON, ci, c->gen) < 0)
        goto oom;
    if (next_arrival(s, s->now) < 0)
        goto oom;
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

/* ---- setup ---- */

static bool agent_serves(const struct model_group *g,
                         const struct router_skill_req *req, unsigned nreq,
                         const char *queue)
{
    if (queue && g->nqueues) {
        bool listed = false;
        for (unsigned i = 0; i < g->nqueues; i++)
            listed |= !strcmp(g->queues[i], queue);
        if (!listed)
            return false;
    }
    for (unsigned i = 0; i < nreq; i++) {
        bool has = false;
        for (unsigned j = 0; j < g->nskills; j++)
            has |= !strcmp(g->skills[j].name, req[i].skill) &&
                   g->skills[j].level >= req[i].min_level;
        if (!has)
            return false;
    }
    return true;
}

unsigned sim_nrows(const struct router_config *rc, const struct model *m)
{
    unsigned n = rc->nqueues;
    for (unsigned k = 0; k < m->nclasses; k++)
        n += !m->classes[k].queue[0];
    return n;
}

unsigned sim_class_row(const struct router_config *rc, const struct model *m,
                       unsigned k)
{
    const struct model_class *mc = &m->classes[k];
    if (mc->queue[0]) {
        for (unsigned q = 0; q < rc->nqueues; q++)
            if (!strcmp(rc->queues[q].name, mc->queue))
                return q;
        return UINT32_MAX;
    }
    unsigned row = rc->nqueues;
    for (unsigned j = 0; j < k; j++)
        row += !m->classes[j].queue[0];
    return row;
}

bool sim_group_serves(const struct router_config *rc, const struct model *m,
                      unsigned gi, unsigned row)
{
    const struct model_group *g = &m->groups[gi];
    if (row < rc->nqueues) {
        const struct router_queue_config *qc = &rc->queues[row];
        return agent_serves(g, qc->req, qc->nreq, qc->name);
    }
    for (unsigned k = 0; k < m->nclasses; k++) {
        const struct model_class *mc = &m->classes[k];
        if (mc->queue[0] || sim_class_row(rc, m, k) != row)
            continue;
        struct router_skill_req req[MODEL_MAX_REQ];
        for (unsigned i = 0; i < mc->nskills; i++) {
            snprintf(req[i].skill, sizeof(req[i].skill), "%s",
                     mc->skills[i].name);
            req[i].min_level = (uint8_t)mc->skills[i].level;
        }
        return agent_serves(g, req, mc->nskills, NULL);
    }
    return false;
}

static unsigned group_count(const struct sim *s, unsigned gi)
{
    if (s->o->count_iv) {
        /* the most any interval wants */
        unsigned n = 0, ng = s->m->ngroups;
        for (unsigned i = 0; i < s->rep->nintervals; i++)
            if (s->o->count_iv[(size_t)i * ng + gi] > n)
                n = s->o->count_iv[(size_t)i * ng + gi];
        return n;
    }
    return s->o->group_count ? s->o->group_count[gi] : s->m->groups[gi].count;
}

static int setup_rows(struct sim *s, const struct router_config *rc,
                      const char *config_name, const char *model_name,
                      char *err, size_t errlen)
{
    const struct model *m = s->m;
    struct sim_report *rep = s->rep;
    unsigned nskill_rows = 0;
    for (unsigned k = 0; k < m->nclasses; k++)
        nskill_rows += !m->classes[k].queue[0];
    rep->nrows = rc->nqueues + nskill_rows;
    rep->rows = calloc(rep->nrows ? rep->nrows : 1, sizeof(*rep->rows));
    s->class_row = calloc(m->nclasses, sizeof(*s->class_row));
    if (!rep->rows || !s->class_row)
        goto oom;
    for (unsigned q = 0; q < rc->nqueues; q++) {
        const struct router_queue_config *qc = &rc->queues[q];
        struct sim_row *row = &rep->rows[q];
        snprintf(row->name, sizeof(row->name), "%s", qc->name);
        row->sl_threshold_ms = s->o->sl_threshold_ms ? s->o->sl_threshold_ms
                               : qc->sl_threshold_ms ? qc->sl_threshold_ms
                               : (uint32_t)m->sl_threshold_ms;
        for (unsigned gi = 0; gi < m->ngroups; gi++)
            if (agent_serves(&m->groups[gi], qc->req, qc->nreq, qc->name))
                row->agents += group_count(s, gi);
    }
    unsigned next = rc->nqueues;
    for (unsigned k = 0; k < m->nclasses; k++) {
        const struct model_class *mc = &m->classes[k];
        if (mc->queue[0]) {
            unsigned q;
            for (q = 0; q < rc->nqueues; q++)
                if (!strcmp(rc->queues[q].name, mc->queue))
                    break;
            if (q == rc->nqueues) {
                snprintf(err, errlen, "%s:%lu: mix[%u].queue: queue \"%s\" "
                         "is not in %s", model_name, mc->line, k, mc->queue,
                         config_name);
                return -1;
            }
            s->class_row[k] = q;
            continue;
        }
        struct sim_row *row = &rep->rows[next];
        struct router_skill_req req[MODEL_MAX_REQ];
        snprintf(row->name, sizeof(row->name), "~%s", mc->name);
        row->sl_threshold_ms = s->o->sl_threshold_ms
                                   ? s->o->sl_threshold_ms
                                   : (uint32_t)m->sl_threshold_ms;
        for (unsigned i = 0; i < mc->nskills; i++) {
            snprintf(req[i].skill, sizeof(req[i].skill), "%s",
                     mc->skills[i].name);
            req[i].min_level = (uint8_t)mc->skills[i].level;
        }
        for (unsigned gi = 0; gi < m->ngroups; gi++)
            if (agent_serves(&m->groups[gi], req, mc->nskills, NULL))
                row->agents += group_count(s, gi);
        s->class_row[k] = next++;
    }
    for (unsigned gi = 0; gi < m->ngroups; gi++) {
        const struct model_group *g = &m->groups[gi];
        for (unsigned i = 0; i < g->nqueues; i++) {
            unsigned q;
            for (q = 0; q < rc->nqueues; q++)
                if (!strcmp(rc->queues[q].name, g->queues[i]))
                    break;
            if (q == rc->nqueues) {
                snprintf(err, errlen, "%s:%lu: agents[%u].queues[%u]: queue "
                         "\"%s\" is not in %s", model_name, g->line, gi, i,
                         g->queues[i], config_name);
                return -1;
            }
        }
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

/* The router's spec of an agent of group g (ids set by the caller);
 * `queues` receives the pointers that sp->queues borrows. */
static void agent_spec(const struct model_group *g,
                       struct router_agent_spec *sp,
                       const char *queues[MODEL_MAX_QUEUES])
{
    memset(sp, 0, sizeof(*sp));
    for (unsigned i = 0; i < g->nskills; i++) {
        snprintf(sp->skills[i].skill, sizeof(sp->skills[i].skill), "%s",
                 g->skills[i].name);
        sp->skills[i].level = (uint8_t)g->skills[i].level;
    }
    sp->nskills = g->nskills;
    for (unsigned ch = 1; ch <= ROUTER_CH_COUNT; ch++)
        sp->capacity[ch - 1] = (uint8_t)g->capacity[ch];
    for (unsigned i = 0; i < g->nqueues; i++)
        queues[i] = g->queues[i];
    sp->queues = queues;
    sp->nqueues = g->nqueues;
}

/* Logs agent ai in now: 0, or the router's code. */
static int agent_login(struct sim *s, uint32_t ai)
{
    struct sagent *a = &s->a[ai];
    const char *queues[MODEL_MAX_QUEUES];
    struct router_agent_spec sp;
    uint32_t h;
    agent_spec(&s->m->groups[a->group], &sp, queues);
    sp.id = a->id;
    s->rep->router_calls++;
    int rc = router_agent_login(s->r, s->now, &sp, ai, &h);
    if (rc < 0)
        return rc;
    a->logged_in = true;
    a->pending_logout = false;
    a->on_break = false;
    a->login_at = s->now;
    return drain(s, NONE32) < 0 ? CCR_ENOMEM : 0;
}

static int agent_call(struct sim *s, uint32_t ai, enum router_agent_cmd cmd,
                      const char *reason)
{
    s->rep->router_calls++;
    int rc = router_agent_set_state(s->r, s->now, s->a[ai].id, cmd, reason);
    if (rc < 0)
        return rc;
    return drain(s, NONE32) < 0 ? CCR_ENOMEM : 0;
}

static int agent_logout(struct sim *s, uint32_t ai)
{
    struct sagent *a = &s->a[ai];
    s->rep->router_calls++;
    int rc = router_agent_logout(s->r, s->now, a->id);
    if (rc < 0)
        return rc;
    a->logged_in = false;
    a->pending_logout = false;
    add_staffed(s, a->group, a->login_at, s->now);
    return drain(s, NONE32) < 0 ? CCR_ENOMEM : 0;
}

static int login_agents(struct sim *s, const char *model_name, char *err,
                        size_t errlen)
{
    const struct model *m = s->m;
    unsigned total = 0;
    for (unsigned gi = 0; gi < m->ngroups; gi++)
        total += group_count(s, gi);
    s->a = calloc(total ? total : 1, sizeof(*s->a));
    if (!s->a) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (unsigned gi = 0; gi < m->ngroups; gi++) {
        const struct model_group *g = &m->groups[gi];
        s->gbase[gi] = s->na;
        for (unsigned n = 0; n < group_count(s, gi); n++) {
            struct sagent *a = &s->a[s->na];
            a->group = gi;
            rng_seed(&a->rng, s->o->seed ^ (0x9e3779b97f4a7c15ull *
                                            (((uint64_t)gi << 32) + n + 1)));
            snprintf(a->id, sizeof(a->id), "%s-%u", g->name, n + 1);
            s->na++;
            /* a group with shifts logs in by its EV_SHIFT_START events,
             * and with counts per interval only the first interval's */
            if ((s->follow && g->nshifts) ||
                (s->o->count_iv &&
                 n >= s->o->count_iv[gi]))
                continue;
            int rc = agent_login(s, s->na - 1);
            if (rc < 0) {
                snprintf(err, errlen, "%s:%lu: agents[%u] (%s): the router "
                         "refused agent %s: %s", model_name, g->line, gi,
                         g->name, a->id, ccr_strerror(rc));
                return -1;
            }
        }
    }
    s->rep->agents = s->na;
    return 0;
}

/* ---- agent schedules ----
 *
 * Every shift and break of the model is an event of its group, pushed at
 * the start: at its time it goes through the group's agents first..first+
 * count-1 in order and makes the router calls the agents' desktops would make.
 *  - shift start: AgentLogin (an agent still finishing the contacts of
 *    the previous shift stays logged in and becomes available again);
 *  - shift end: AgentLogout at once for an agent holding no accepted
 *    contact (offers out are revoked by the router and the contact
 *    waits again; a wrap-up ends); one that holds contacts goes away
 *    with the reason "logout" (no more offers) and logs out when its
 *    last contact completes, without wrap-up;
 *  - break start: agents logged in (and not leaving) go away with the
 *    break's reason; contacts they hold go on;
 *  - break end: those agents become available again.
 * A row's staffed time is the logged-in time of its agents, breaks and
 * the time finishing contacts after the shift included. */

static int schedule_push(struct sim *s)
{
    for (unsigned gi = 0; gi < s->m->ngroups; gi++) {
        const struct model_group *g = &s->m->groups[gi];
        for (unsigned i = 0; i < g->nshifts; i++) {
            uint64_t t0 = to_us(g->shifts[i].login_s * 1000);
            uint64_t t1 = to_us(g->shifts[i].logout_s * 1000);
            if (push(s, t0, EV_SHIFT_START, gi, i) < 0 ||
                push(s, t1, EV_SHIFT_END, gi, i) < 0)
                return -1;
        }
        for (unsigned i = 0; i < g->nbreaks; i++) {
            uint64_t t0 = to_us(g->breaks[i].at_s * 1000);
            uint64_t t1 = to_us((g->breaks[i].at_s + g->breaks[i].for_s)
                                * 1000);
            if (push(s, t0, EV_BREAK_START, gi, i) < 0 ||
                push(s, t1, EV_BREAK_END, gi, i) < 0)
                return -1;
        }
    }
    return 0;
}

/* Agent ai's shift starts: it logs in (an agent still finishing the
 * contacts of its last shift stays and is available again). */
static int agent_on(struct sim *s, uint32_t ai)
{
    struct sagent *a = &s->a[ai];
    if (!a->logged_in)
        return agent_login(s, ai);
    if (!a->pending_logout)
        return 0;
    a->pending_logout = false;
    a->logout_gen++;
    return a->on_break ? 0 : agent_call(s, ai, ROUTER_AGENT_AVAILABLE, NULL);
}

/* Agent ai's shift ends: it logs out now, or, holding contacts, goes
 * away until the last one completes. */
static int agent_off(struct sim *s, uint32_t ai)
{
    struct sagent *a = &s->a[ai];
    if (!a->logged_in || a->pending_logout)
        return 0;
    a->back_gen++;      /* its desktop's return is off */
    if (a->nassigned == 0)
        return agent_logout(s, ai);
    a->pending_logout = true;
    return agent_call(s, ai, ROUTER_AGENT_AWAY, "logout");
}

/* The counts of interval iv (sim_opts.count_iv). */
static int staff_event(struct sim *s, unsigned iv)
{
    unsigned ng = s->m->ngroups;
    int rc = 0;
    for (unsigned gi = 0; gi < ng && rc == 0; gi++) {
        unsigned want = s->o->count_iv[(size_t)iv * ng + gi];
        unsigned have = group_count(s, gi);
        for (unsigned n = 0; n < have && rc == 0; n++)
            rc = n < want ? agent_on(s, s->gbase[gi] + n)
                          : agent_off(s, s->gbase[gi] + n);
    }
    return rc;
}

/* A schedule event of group e->a: 0, or the router's code. */
static int schedule_event(struct sim *s, const struct ev *e)
{
    const struct model_group *g = &s->m->groups[e->a];
    bool shift = e->kind == EV_SHIFT_START || e->kind == EV_SHIFT_END;
    unsigned first = shift ? g->shifts[e->gen].first : g->breaks[e->gen].first;
    unsigned count = shift ? g->shifts[e->gen].count : g->breaks[e->gen].count;
    unsigned end = first - 1 + count;
    const char *reason = g->breaks[e->gen].reason;
    int rc = 0;
    if (end > group_count(s, e->a))
        end = group_count(s, e->a);
    for (unsigned n = first - 1; n < end && rc == 0; n++) {
        uint32_t ai = s->gbase[e->a] + n;
        struct sagent *a = &s->a[ai];
        switch ((enum ev_kind)e->kind) {
        case EV_SHIFT_START:
            rc = agent_on(s, ai);
            break;
        case EV_SHIFT_END:
            rc = agent_off(s, ai);
            break;
        case EV_BREAK_START:
            if (!a->logged_in || a->pending_logout)
                break;
            a->back_gen++;      /* the break's end makes it available */
            a->on_break = true;
            rc = agent_call(s, ai, ROUTER_AGENT_AWAY, reason);
            break;
        case EV_BREAK_END:
            if (!a->on_break)
                break;
            a->on_break = false;
            if (a->logged_in && !a->pending_logout)
                rc = agent_call(s, ai, ROUTER_AGENT_AVAILABLE, NULL);
            break;
        default:
            break;
        }
    }
    return rc;
}

/* ---- outbound ----
 *
 * engine/outbound.c's part, in simulated time: the campaign core paces
 * every PACE_US (as the daemon's pacing timer) while the campaign runs or
 * a dial is in flight; DIAL is a simulated switch's call that ends, after
 * a ring time, in an outcome drawn from the model (both drawn when the
 * dial is placed, from the campaign's own stream); an answer becomes a
 * router contact of the campaign's queue (made first, then
 * campaign_dial_result, as outbound.c does), connected when its first
 * Offer goes out; DROP abandons its contact. The core's clock is the
 * simulated clock plus OB_EPOCH_US (it wants wall-clock time: calling
 * windows are local hours; the simulated campaign calls all day). */

#define PACE_US 100000ull
#define OB_EPOCH_US 1767225600000000ull     /* 2026-01-01T00:00:00Z */

static uint64_t ob_now(const struct sim *s)
{
    return OB_EPOCH_US + s->now;
}

static uint32_t ob_interval(const struct sim *s)
{
    uint64_t iv = s->now / s->interval_us;
    return iv < s->rep->nintervals ? (uint32_t)iv
                                   : s->rep->nintervals - 1;
}

static uint32_t dial_alloc(struct sim *s)
{
    if (s->free_d == NONE32) {
        if (s->nd == s->cap_d) {
            uint32_t cap = s->cap_d ? s->cap_d * 2 : 256;
            struct sdial *d = realloc(s->d, cap * sizeof(*d));
            if (!d)
                return NONE32;
            s->d = d;
            s->cap_d = cap;
        }
        memset(&s->d[s->nd], 0, sizeof(s->d[0]));
        s->d[s->nd].next_free = NONE32;
        s->free_d = s->nd++;
    }
    uint32_t i = s->free_d;
    s->free_d = s->d[i].next_free;
    return i;
}

static void dial_free(struct sim *s, uint32_t i)
{
    struct sdial *d = &s->d[i];
    d->live = false;
    d->gen++;
    d->next_free = s->free_d;
    s->free_d = i;
}

/* The campaign's capacity, as engine/outbound.c's capacity_cb: the free
 * agents of its queue; blending (engine/blend.h, the engine's own check)
 * holds it back while a blend queue has a contact waiting or a recent
 * service level below its target plus the margin. */
static void ob_capacity(void *ctx, int ci, struct campaign_capacity *out)
{
    struct sim *s = ctx;
    memset(out, 0, sizeof(*out));
    out->free = router_queue_free(s->r, s->ob_queue, ROUTER_CH_VOICE);
    out->dialer_ok = true;
    blend_check(s->r, s->rc, campaign_config_get(s->cc, ci), s->now, out);
}

/* The core's DIAL: the switch's outcome and ring time are drawn now. */
static int ob_dial(struct sim *s, const struct campaign_event *e)
{
    const struct model_outbound *ob = &s->m->ob;
    uint32_t di = dial_alloc(s);
    if (di == NONE32)
        return CCR_ENOMEM;
    struct sdial *d = &s->d[di];
    double tot = 0, u;
    unsigned o, last = 0;
    for (o = 0; o < OB_NOUT; o++) {
        tot += ob->outcome[o];
        if (ob->outcome[o] > 0)
            last = o;
    }
    u = rng_unit(&s->ob_rng) * tot;
    for (o = 0; o < last && u >= ob->outcome[o]; o++)
        u -= ob->outcome[o];
    double ring = dist_sample(&ob->ring, &s->ob_rng);
    d->id = e->dial;
    d->cseed = rng_next(&s->ob_rng);
    d->iv = ob_interval(s);
    d->contact = NONE32;
    d->outcome = (uint8_t)o;
    d->live = d->ringing = true;
    d->arriving = d->reached = false;
    s->rep->ob_cells[d->iv].dials++;
    s->ob_pending++;
    return push(s, s->now + to_us(ring), EV_DIAL_RESULT, di, d->gen);
}

/* The core's DROP: the answered call's contact leaves (abandoned). */
static int ob_drop(struct sim *s, const struct campaign_event *e)
{
    for (uint32_t i = 0; i < s->nd; i++) {
        struct sdial *d = &s->d[i];
        if (!d->live || d->id != e->dial)
            continue;
        s->rep->ob_cells[d->iv].drops++;
        if (d->contact == NONE32) {
            dial_free(s, i);
            return 0;
        }
        s->rep->router_calls++;
        int rc = router_contact_abandon(s->r, s->now, s->c[d->contact].id);
        if (rc < 0)
            return rc;
        /* the contact's end frees the dial (ob_gone) */
        return drain(s, NONE32) < 0 ? CCR_ENOMEM : 0;
    }
    return 0;
}

/* Carries out the core's output (LEAD changes need nothing here). */
static int ob_out(struct sim *s)
{
    int rc = 0;
    for (size_t i = 0; i < campaign_out_count(s->cc) && rc == 0; i++) {
        struct campaign_event e = *campaign_out_get(s->cc, i);
        if (e.type == CAMPAIGN_EV_DIAL)
            rc = ob_dial(s, &e);
        else if (e.type == CAMPAIGN_EV_DROP)
            rc = ob_drop(s, &e);
    }
    campaign_out_clear(s->cc);
    return rc;
}

/* A pacing turn; the next one while anything can still happen: leads
 * waiting (before the end of the arrivals, when the campaign stops),
 * or dials in flight. */
static int ob_pace(struct sim *s)
{
    struct campaign_stats st;
    uint64_t now = ob_now(s);
    if (!s->ob_stopped && s->now >= s->horizon) {
        campaign_set_run(s->cc, now, s->camp, CAMPAIGN_STOPPED);
        s->ob_stopped = true;
    }
    campaign_pace(s->cc, now, ob_capacity, s);
    int rc = ob_out(s);
    if (rc < 0)
        return rc;
    campaign_stats(s->cc, s->camp, now, &st);
    if (st.ringing || st.answered_waiting || s->ob_pending ||
        (!s->ob_stopped && st.in_state[CAMPAIGN_LEAD_WAITING]))
        return push(s, s->now + PACE_US, EV_PACE, 0, 0);
    s->pacing = false;
    return 0;
}

/* Dial di's answer as a router contact of the campaign's queue: 0, 1
 * when the router refused it (queue full), or a negative code. */
static int ob_contact(struct sim *s, uint32_t di)
{
    struct sdial *d = &s->d[di];
    struct router_contact_spec sp;
    uint32_t h, ci = contact_alloc(s, d->cseed);
    if (ci == NONE32)
        return CCR_ENOMEM;
    struct scontact *c = &s->c[ci];
    snprintf(c->id, sizeof(c->id), "o%" PRIu64, ++s->next_ob_id);
    c->row = s->ob_row;
    c->interval = ob_interval(s);
    c->handle_ms = -1;
    c->dial = di;
    memset(&sp, 0, sizeof(sp));
    sp.id = c->id;
    sp.queue = s->m->ob.queue;
    sp.channel = ROUTER_CH_VOICE;
    sp.priority = campaign_config_get(s->cc, s->camp)->priority;
    d->contact = ci;
    d->arriving = true;
    s->rep->router_calls++;
    int rc = router_contact_arrive(s->r, s->now, &sp, ci, &h);
    if (rc < 0) {
        router_out_clear(s->r);
        d->contact = NONE32;
        d->arriving = false;
        contact_free(s, ci);
        return rc == ROUTER_EFULL ? 1 : rc;
    }
    rc = drain(s, ci);
    d->arriving = false;
    return rc < 0 ? CCR_ENOMEM : 0;
}

/* The switch's outcome of dial e->a. */
static int ob_result(struct sim *s, const struct ev *e)
{
    struct sdial *d = &s->d[e->a];
    if (!d->live || d->gen != e->gen || !d->ringing)
        return 0;
    struct sim_ob_cell *x = &s->rep->ob_cells[d->iv];
    uint64_t now = ob_now(s);
    unsigned o = d->outcome;
    int rc;
    d->ringing = false;
    s->ob_pending--;
    if (campaign_dial_get(s->cc, d->id, NULL, NULL, NULL) < 0) {
        /* the core gave up first (dial timeout): failed */
        x->outcome[OB_FAILED]++;
        dial_free(s, e->a);
        return 0;
    }
    if (o == OB_HUMAN && (rc = ob_contact(s, e->a)) != 0) {
        if (rc < 0)
            return rc;
        o = OB_FAILED;      /* no contact could be made of it */
    }
    x->outcome[o]++;
    /* the outcome numbers of the model and of the core: OB_* + 1 */
    rc = campaign_dial_result(s->cc, now, d->id,
                              (enum campaign_outcome)(o + 1));
    if (rc < 0)
        return rc;
    /* an answered call whose contact left in the very call that made
     * it is dropped by the core at the compliance time (ob_drop frees
     * the dial) */
    if (o != OB_HUMAN) {
        dial_free(s, e->a);
    } else if (d->reached) {
        d->reached = false;
        if (campaign_call_connected(s->cc, now, d->id,
                                    s->a[d->reached_agent].id) == 0)
            x->connected++;
    }
    return ob_out(s);
}

/* An outbound contact was offered to agent ai: connected (engine/
 * outbound.c: when its Offer goes out), unless its dial's answer is
 * still being handled (then ob_result connects it). */
static void ob_reached(struct sim *s, uint32_t ci, uint32_t ai)
{
    struct sdial *d = &s->d[s->c[ci].dial];
    if (d->arriving) {
        d->reached = true;
        d->reached_agent = ai;
        return;
    }
    if (campaign_call_connected(s->cc, ob_now(s), d->id, s->a[ai].id) == 0)
        s->rep->ob_cells[d->iv].connected++;
}

/* An outbound contact left the router: its call ended (completed) or it
 * was abandoned (dropped, or the router gave up on it). */
static void ob_gone(struct sim *s, uint32_t ci, bool completed)
{
    struct scontact *c = &s->c[ci];
    uint32_t di = c->dial;
    struct sdial *d = &s->d[di];
    if (completed)
        s->rep->ob_cells[d->iv].talk_s +=
            (double)(s->now - c->answered) / US_PER_S;
    campaign_call_ended(s->cc, ob_now(s), d->id);
    d->contact = NONE32;
    if (!d->arriving &&
        campaign_dial_get(s->cc, d->id, NULL, NULL, NULL) < 0)
        dial_free(s, di);
}

/* The model's campaign, its leads, started at time 0. */
static int ob_setup(struct sim *s, const char *config_name,
                    const char *model_name, char *err, size_t errlen)
{
    const struct model_outbound *ob = &s->m->ob;
    struct campaign_config cfg;
    const char *why = "";
    uint64_t now = ob_now(s);
    int rc;
    if (!ob->on || s->o->no_outbound)
        return 0;
    s->ob_queue = router_queue_find(s->r, ob->queue);
    for (s->ob_row = 0; s->ob_row < s->rc->nqueues; s->ob_row++)
        if (!strcmp(s->rc->queues[s->ob_row].name, ob->queue))
            break;
    if (s->ob_queue < 0 || s->ob_row == s->rc->nqueues) {
        snprintf(err, errlen, "%s:%lu: outbound.queue: queue \"%s\" is not "
                 "in %s", model_name, ob->line, ob->queue, config_name);
        return -1;
    }
    memset(&cfg, 0, sizeof(cfg));
    for (unsigned b = 0; b < ob->nblend; b++) {
        int bq = router_queue_find(s->r, ob->blend[b]);
        if (bq < 0 || bq >= (int)s->rc->nqueues) {
            snprintf(err, errlen, "%s:%lu: outbound.blend[%u]: queue \"%s\" "
                     "is not in %s", model_name, ob->line, b, ob->blend[b],
                     config_name);
            return -1;
        }
        snprintf(cfg.blend[b], sizeof(cfg.blend[b]), "%s", ob->blend[b]);
    }
    cfg.nblend = ob->nblend;
    snprintf(cfg.name, sizeof(cfg.name), "%s", ob->campaign);
    snprintf(cfg.queue, sizeof(cfg.queue), "%s", ob->queue);
    snprintf(cfg.dialer, sizeof(cfg.dialer), "ccsim");
    /* the model's modes are the wire's numbers, which are the core's */
    cfg.mode = (enum campaign_mode)ob->mode;
    cfg.max_attempts = ob->max_attempts;
    for (int o = CAMPAIGN_OUT_MACHINE; o <= CAMPAIGN_OUT_DROPPED; o++)
        cfg.retry_ms[o] = (uint32_t)ob->retry_ms;
    cfg.abandon_cap_bp = ob->abandon_cap_bp;
    campaign_config_defaults(&cfg);
    cfg.window_start_h = 0;         /* as ccload: the whole day */
    cfg.window_end_h = 24;
    s->cc = campaign_core_new(ob->leads, 0);
    if (!s->cc)
        goto oom;
    if (campaign_config_check(&cfg, &why) < 0 ||
        (rc = campaign_upsert(s->cc, now, &cfg, s->ob_queue)) < 0) {
        snprintf(err, errlen, "%s:%lu: outbound: the campaign core refused "
                 "the campaign: %s", model_name, ob->line, why);
        return -1;
    }
    s->camp = rc;
    for (unsigned first = 0; first < ob->leads; first += 256) {
        struct campaign_lead_spec sp[256];
        char ids[256][12], nums[256][24];
        unsigned n = ob->leads - first < 256 ? ob->leads - first : 256;
        size_t bad;
        for (unsigned k = 0; k < n; k++) {
            snprintf(ids[k], sizeof(ids[k]), "%u", first + k);
            snprintf(nums[k], sizeof(nums[k]), "+1999%07u", first + k);
            sp[k] = (struct campaign_lead_spec){ ids[k], nums[k], ob->zone,
                                                 NULL, 0 };
        }
        rc = campaign_leads_add(s->cc, now, s->camp, sp, n, &bad, &why);
        if (rc == CCR_ENOMEM)
            goto oom;
        if (rc < 0) {
            snprintf(err, errlen, "%s:%lu: outbound: leads refused: %s "
                     "(time_zone \"%s\")", model_name, ob->line, why,
                     ob->zone);
            return -1;
        }
    }
    campaign_set_run(s->cc, now, s->camp, CAMPAIGN_RUNNING);
    campaign_out_clear(s->cc);
    rng_seed(&s->ob_rng, s->o->seed ^ 0x6f7574626f756e64ull);
    s->rep->ob_cells = calloc(s->rep->nintervals + 1,
                              sizeof(*s->rep->ob_cells));
    if (!s->rep->ob_cells)
        goto oom;
    s->rep->ncampaigns = 1;
    snprintf(s->rep->campaign.name, sizeof(s->rep->campaign.name), "%s",
             ob->campaign);
    snprintf(s->rep->campaign.queue, sizeof(s->rep->campaign.queue), "%s",
             ob->queue);
    s->rep->campaign.mode = cfg.mode == CAMPAIGN_MODE_PREDICTIVE
                                ? "predictive" : "progressive";
    s->rep->campaign.leads = ob->leads;
    s->pacing = true;
    return push(s, 0, EV_PACE, 0, 0) < 0 ? (snprintf(err, errlen, "out of "
                "memory"), -1) : 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

/* ---- the loop ---- */

static int handle(struct sim *s, const struct ev *e, char *err,
                  size_t errlen, const char *model_name)
{
    bool on_contact = e->kind == EV_ABANDON || e->kind == EV_ANSWER ||
                      e->kind == EV_COMPLETE;
    struct scontact *c = on_contact ? &s->c[e->a] : NULL;
    int rc = 0;
    switch ((enum ev_kind)e->kind) {
    case EV_ARRIVAL:
        return arrive(s, err, errlen, model_name);
    case EV_SHIFT_START:
    case EV_SHIFT_END:
    case EV_BREAK_START:
    case EV_BREAK_END:
        rc = schedule_event(s, e);
        goto checked;
    case EV_STAFF:
        rc = staff_event(s, e->a);
        goto checked;
    case EV_BACK: {
        struct sagent *a = &s->a[e->a];
        if (a->back_gen != e->gen || !a->logged_in || a->on_break ||
            a->pending_logout)
            return 0;
        rc = agent_call(s, e->a, ROUTER_AGENT_AVAILABLE, NULL);
        goto checked;
    }
    case EV_PACE:
        rc = ob_pace(s);
        goto checked;
    case EV_DIAL_RESULT:
        rc = ob_result(s, e);
        goto checked;
    case EV_LOGOUT: {
        struct sagent *a = &s->a[e->a];
        if (a->logout_gen != e->gen || !a->pending_logout ||
            a->nassigned || !a->logged_in)
            return 0;
        rc = agent_logout(s, e->a);
        goto checked;
    }
    case EV_ABANDON:
        if (c->gen != e->gen ||
            (c->state != C_WAITING && c->state != C_OFFERED))
            return 0;
        rc = router_contact_abandon(s->r, s->now, c->id);
        break;
    case EV_ANSWER: {
        if (c->state != C_OFFERED || c->offer_gen != e->gen)
            return 0;
        const struct model_group *g = &s->m->groups[s->a[c->agent].group];
        if (g->reject > 0 && rng_unit(&c->rng) < g->reject)
            rc = router_offer_reject(s->r, s->now, c->id, s->a[c->agent].id);
        else
            rc = router_offer_accept(s->r, s->now, c->id, s->a[c->agent].id);
        break;
    }
    case EV_COMPLETE:
        if (c->gen != e->gen || c->state != C_ASSIGNED)
            return 0;
        rc = router_contact_complete(s->r, s->now, c->id);
        break;
    case EV_WRAPUP_DONE: {
        struct sagent *a = &s->a[e->a];
        if (a->wrap_gen != e->gen || !a->in_wrapup)
            return 0;
        rc = router_agent_set_state(s->r, s->now, a->id,
                                    ROUTER_AGENT_WRAPUP_DONE, NULL);
        break;
    }
    }
    s->rep->router_calls++;
    if (rc == 0 && drain(s, NONE32) < 0)
        rc = CCR_ENOMEM;
checked:
    if (rc == CCR_ENOMEM) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (rc < 0) {
        /* every call above is made in a state the router allows: a
         * refusal is a bug in the simulator or the router */
        snprintf(err, errlen, "internal: router call (event %u) at %.6f s "
                 "refused: %s", e->kind, (double)s->now / US_PER_S,
                 ccr_strerror(rc));
        return -1;
    }
    return 0;
}

static int run_loop(struct sim *s, const char *model_name, char *err,
                    size_t errlen)
{
    /* the drain ends one day after the arrivals at the latest: a contact
     * nobody can serve and nothing ends (no patience, no maximum age)
     * must not keep the run going */
    uint64_t stop = s->horizon + 24ull * 3600 * 1000000;
    for (;;) {
        uint64_t tr = router_next_deadline(s->r);
        uint64_t te = s->nheap ? s->heap[0].t : UINT64_MAX;
        if (s->arrivals_done && s->live == 0 && !s->pacing &&
            !s->ob_pending)
            break;
        if (tr == UINT64_MAX && te == UINT64_MAX)
            break;
        uint64_t t = tr <= te ? tr : te;
        if (t > stop)
            break;
        if (t > s->now)
            s->now = t;
        s->rep->events++;
        if (tr <= te) {
            s->rep->router_calls++;
            router_tick(s->r, s->now);
            if (drain(s, NONE32) < 0) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            continue;
        }
        struct ev e = pop(s);
        if (handle(s, &e, err, errlen, model_name) < 0)
            return -1;
    }
    for (uint32_t i = 0; i < s->nc; i++)
        if ((s->c[i].state == C_WAITING || s->c[i].state == C_OFFERED) &&
            s->c[i].dial == NONE32)
            cell(s, s->c[i].row, s->c[i].interval)->cut++;
    if (s->scheduled)
        for (unsigned i = 0; i < s->na; i++)
            if (s->a[i].logged_in)
                add_staffed(s, s->a[i].group, s->a[i].login_at, s->horizon);
    s->rep->end_s = (double)s->now / US_PER_S;
    return 0;
}

int sim_run(const struct router_config *rc, const char *config_name,
            const struct model *m, const char *model_name,
            const struct sim_opts *o, struct sim_report **out, char *err,
            size_t errlen)
{
    struct sim s;
    const char *rerr = NULL;
    int ret = -1;

    memset(&s, 0, sizeof(s));
    *out = NULL;
    if (!(o->hours > 0) || !(o->interval_s > 0) ||
        o->hours * 3600 / o->interval_s > 1e6) {
        snprintf(err, errlen, "hours and interval must be positive (and "
                 "at most a million intervals)");
        return -1;
    }
    s.m = m;
    s.o = o;
    s.rc = rc;
    s.config_name = config_name;
    s.free_c = NONE32;
    s.free_d = NONE32;
    s.horizon = (uint64_t)llround(o->hours * 3600 * US_PER_S);
    s.interval_us = (uint64_t)llround(o->interval_s * US_PER_S);
    rng_seed(&s.arr_rng, o->seed);
    s.max_rate = m->rate;
    if (m->ncurve) {
        s.max_rate = 0;
        for (unsigned i = 0; i < m->ncurve; i++)
            if (m->curve[i].rate > s.max_rate)
                s.max_rate = m->curve[i].rate;
    }
    s.rep = calloc(1, sizeof(*s.rep));
    if (!s.rep)
        goto oom;
    s.rep->hours = o->hours;
    s.rep->interval_s = o->interval_s;
    s.rep->nintervals = (unsigned)ceil(o->hours * 3600 / o->interval_s);
    if (setup_rows(&s, rc, config_name, model_name, err, errlen) < 0)
        goto done;
    s.rep->cells = calloc((size_t)s.rep->nrows * s.rep->nintervals + 1,
                          sizeof(*s.rep->cells));
    s.rep->staffed_all_s = calloc(s.rep->nintervals + 1,
                                  sizeof(*s.rep->staffed_all_s));
    if (!s.rep->cells || !s.rep->staffed_all_s)
        goto oom;
    /* ccsim staff tries its own counts: schedules are not followed
     * then */
    for (unsigned gi = 0; gi < m->ngroups && !o->group_count && !o->count_iv;
         gi++)
        s.follow |= m->groups[gi].nshifts || m->groups[gi].nbreaks;
    s.scheduled = s.follow || o->count_iv;
    s.rep->scheduled = s.scheduled;
    s.r = router_new(rc, o->seed, &rerr);
    if (!s.r) {
        snprintf(err, errlen, "%s: routing: %s", config_name,
                 rerr ? rerr : "invalid configuration or out of memory");
        goto done;
    }
    if (quality_setup(&s) < 0)
        goto oom;
    if (login_agents(&s, model_name, err, errlen) < 0)
        goto done;
    if (s.follow && schedule_push(&s) < 0)
        goto oom;
    for (unsigned i = 1; o->count_iv && i < s.rep->nintervals; i++)
        if (push(&s, i * s.interval_us, EV_STAFF, i, 0) < 0)
            goto oom;
    if (ob_setup(&s, config_name, model_name, err, errlen) < 0)
        goto done;
    if (next_arrival(&s, 0) < 0)
        goto oom;
    if (run_loop(&s, model_name, err, errlen) < 0)
        goto done;
    *out = s.rep;
    s.rep = NULL;
    ret = 0;
    goto done;
oom:
    snprintf(err, errlen, "out of memory");
done:
    if (s.r)
        router_free(s.r);
    if (s.cc)
        campaign_core_free(s.cc);
    free(s.d);
    sim_report_free(s.rep);
    free(s.heap);
    free(s.c);
    free(s.a);
    free(s.class_row);
    free(s.serves);
    free(s.tier);
    free(s.qprof);
    free(s.rprof);
    return ret;
}

void sim_report_free(struct sim_report *rep)
{
    if (!rep)
        return;
    free(rep->rows);
    free(rep->cells);
    free(rep->staffed_all_s);
    free(rep->ob_cells);
    free(rep);
}

static void cell_add(struct sim_cell *sum, const struct sim_cell *x)
{
    sum->offered += x->offered;
    sum->refused += x->refused;
    sum->waited += x->waited;
    sum->answered += x->answered;
    sum->answered_in_sl += x->answered_in_sl;
    sum->abandoned += x->abandoned;
    sum->cut += x->cut;
    sum->wait_s += x->wait_s;
    sum->busy_s += x->busy_s;
    sum->est_wait_s += x->est_wait_s;
    sum->staffed_s += x->staffed_s;
    for (unsigned t = 0; t < 4; t++)
        sum->by_tier[t] += x->by_tier[t];
    sum->overflowed += x->overflowed;
    sum->prof_sum += x->prof_sum;
    sum->prof_n += x->prof_n;
}

void sim_report_sum(const struct sim_report *rep, unsigned row,
                    unsigned from, unsigned to, struct sim_cell *sum)
{
    memset(sum, 0, sizeof(*sum));
    for (unsigned i = from; i < to && i < rep->nintervals; i++)
        cell_add(sum, &rep->cells[(size_t)row * rep->nintervals + i]);
}

const char *const sim_fig_name[SIM_F_COUNT] = {
    "offered", "answered", "answered_in_sl", "abandoned", "refused",
    "waited", "cut", "service_level", "asa_s", "occupancy", "abandon_rate",
    "staffed", "first_level", "step1", "step2", "step3", "overflowed",
    "proficiency",
};

/* The figures of cell x, whose agents were logged in staffed_s in all
 * over covered_s seconds of arrivals. */
static void cell_values(const struct sim_cell *x, double staffed_s,
                        double covered_s, double *v)
{
    uint64_t den = x->answered + x->abandoned;
    double ans = (double)x->answered;
    v[SIM_F_OFFERED] = (double)x->offered;
    v[SIM_F_ANSWERED] = (double)x->answered;
    v[SIM_F_IN_SL] = (double)x->answered_in_sl;
    v[SIM_F_ABANDONED] = (double)x->abandoned;
    v[SIM_F_REFUSED] = (double)x->refused;
    v[SIM_F_WAITED] = (double)x->waited;
    v[SIM_F_CUT] = (double)x->cut;
    v[SIM_F_SL] = den ? (double)x->answered_in_sl / (double)den : NAN;
    v[SIM_F_ASA] = x->answered ? x->wait_s / (double)x->answered : NAN;
    v[SIM_F_OCC] = staffed_s > 0 ? x->busy_s / staffed_s : NAN;
    v[SIM_F_ABANDON_RATE] = x->offered ? (double)x->abandoned /
                                         (double)x->offered : NAN;
    v[SIM_F_STAFFED] = covered_s > 0 ? staffed_s / covered_s : NAN;
    v[SIM_F_FIRST_LEVEL] = ans > 0 ? (double)x->by_tier[0] / ans : NAN;
    v[SIM_F_STEP1] = ans > 0 ? (double)x->by_tier[1] / ans : NAN;
    v[SIM_F_STEP2] = ans > 0 ? (double)x->by_tier[2] / ans : NAN;
    v[SIM_F_STEP3] = ans > 0 ? (double)x->by_tier[3] / ans : NAN;
    v[SIM_F_OVERFLOWED] = ans > 0 ? (double)x->overflowed / ans : NAN;
    v[SIM_F_PROFICIENCY] = x->prof_n ? x->prof_sum / (double)x->prof_n
                                     : NAN;
}

/* Length of interval i inside the arrivals (the last may be short). */
static double covered(const struct sim_report *rep, unsigned i)
{
    double start = i * rep->interval_s, end = start + rep->interval_s;
    double h = rep->hours * 3600;
    return (end < h ? end : h) - start;
}

const char *const sim_ob_fig_name[SIM_OB_COUNT] = {
    "dials", "answered", "machine", "busy", "no_answer", "failed",
    "connected", "drops", "abandon_rate",
};

static void ob_values(const struct sim_ob_cell *x, double *v)
{
    v[SIM_OB_DIALS] = (double)x->dials;
    v[SIM_OB_ANSWERED] = (double)x->outcome[OB_HUMAN];
    v[SIM_OB_MACHINE] = (double)x->outcome[OB_MACHINE];
    v[SIM_OB_BUSY] = (double)x->outcome[OB_BUSY];
    v[SIM_OB_NO_ANSWER] = (double)x->outcome[OB_NO_ANSWER];
    v[SIM_OB_FAILED] = (double)x->outcome[OB_FAILED];
    v[SIM_OB_CONNECTED] = (double)x->connected;
    v[SIM_OB_DROPS] = (double)x->drops;
    v[SIM_OB_ABANDON_RATE] = x->outcome[OB_HUMAN]
                                 ? (double)x->drops /
                                   (double)x->outcome[OB_HUMAN] : NAN;
}

double *sim_report_values(const struct sim_report *rep)
{
    size_t n = sim_report_nvalues(rep);
    double *v = calloc(n, sizeof(*v));
    struct sim_cell all, sum;
    if (!v)
        return NULL;
    memset(&all, 0, sizeof(all));
    for (unsigned q = 0; q <= rep->nrows; q++) {
        unsigned agents = q < rep->nrows ? rep->rows[q].agents : rep->agents;
        double staffed_total = 0;
        for (unsigned i = 0; i < rep->nintervals; i++) {
            struct sim_cell x;
            if (q < rep->nrows) {
                x = rep->cells[(size_t)q * rep->nintervals + i];
            } else {
                memset(&x, 0, sizeof(x));
                for (unsigned r = 0; r < rep->nrows; r++)
                    cell_add(&x, &rep->cells[(size_t)r * rep->nintervals
                                             + i]);
            }
            /* with schedules, the time logged in; else every agent all
             * the interval */
            double staffed = !rep->scheduled ? agents * covered(rep, i)
                             : q < rep->nrows ? x.staffed_s
                             : rep->staffed_all_s[i];
            staffed_total += staffed;
            cell_values(&x, staffed, covered(rep, i),
                        &v[sim_value_index(rep, q, i, 0)]);
        }
        if (q < rep->nrows) {
            sim_report_sum(rep, q, 0, rep->nintervals, &sum);
            cell_add(&all, &sum);
        } else {
            sum = all;
        }
        cell_values(&sum, rep->scheduled ? staffed_total
                                         : agents * rep->hours * 3600,
                    rep->hours * 3600,
                    &v[sim_value_index(rep, q, rep->nintervals, 0)]);
    }
    for (unsigned k = 0; k < rep->ncampaigns; k++) {
        struct sim_ob_cell tot;
        memset(&tot, 0, sizeof(tot));
        for (unsigned i = 0; i < rep->nintervals; i++) {
            const struct sim_ob_cell *x = &rep->ob_cells[i];
            ob_values(x, &v[sim_ob_value_index(rep, k, i, 0)]);
            tot.dials += x->dials;
            for (unsigned o = 0; o < OB_NOUT; o++)
                tot.outcome[o] += x->outcome[o];
            tot.connected += x->connected;
            tot.drops += x->drops;
            tot.talk_s += x->talk_s;
        }
        ob_values(&tot, &v[sim_ob_value_index(rep, k, rep->nintervals, 0)]);
    }
    return v;
}

/* ---- a schedule's staffing (ccsim staff) ---- */

static double overlap(double a0, double a1, double b0, double b1)
{
    double lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;
    return hi > lo ? hi - lo : 0;
}

double sim_scheduled_agents(const struct model *m, unsigned gi, double t0_s,
                            double t1_s)
{
    const struct model_group *g = &m->groups[gi];
    double sum = 0;
    if (!(t1_s > t0_s))
        return NAN;
    for (unsigned n = 1; n <= g->count; n++) {
        /* the agent's shift windows (all the run without shifts) */
        double w0[MODEL_MAX_SHIFTS + 1], w1[MODEL_MAX_SHIFTS + 1];
        unsigned nw = 0;
        if (!g->nshifts) {
            w0[0] = 0;
            w1[0] = INFINITY;
            nw = 1;
        }
        for (unsigned i = 0; i < g->nshifts; i++) {
            const struct model_shift *sh = &g->shifts[i];
            if (n >= sh->first && n - sh->first < sh->count) {
                w0[nw] = sh->login_s;
                w1[nw++] = sh->logout_s;
            }
        }
        for (unsigned w = 0; w < nw; w++) {
            /* its breaks in this window, merged (they may overlap) */
            double b0[MODEL_MAX_BREAKS], b1[MODEL_MAX_BREAKS];
            unsigned nb = 0;
            sum += overlap(w0[w], w1[w], t0_s, t1_s);
            for (unsigned i = 0; i < g->nbreaks; i++) {
                const struct model_break *b = &g->breaks[i];
                if (n < b->first || n - b->first >= b->count ||
                    b->at_s < w0[w] || b->at_s >= w1[w])
                    continue;
                unsigned j = nb++;
                while (j > 0 && b0[j - 1] > b->at_s) {
                    b0[j] = b0[j - 1];
                    b1[j] = b1[j - 1];
                    j--;
                }
                b0[j] = b->at_s;
                b1[j] = b->at_s + b->for_s;
            }
            double end = -1;
            for (unsigned j = 0; j < nb; j++) {
                double lo = b0[j] > end ? b0[j] : end;
                if (b1[j] > lo)
                    sum -= overlap(lo, b1[j] < w1[w] ? b1[j] : w1[w], t0_s,
                                   t1_s);
                if (b1[j] > end)
                    end = b1[j];
            }
        }
    }
    return sum / (t1_s - t0_s);
}
