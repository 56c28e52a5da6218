/* bench-care.c -- what the care rules (docs/care.md) do over a simulated
 * day: the real router (engine/router.c) and the real care module
 * (engine/care.c) in simulated time, driven as dispatch.c drives them.
 *
 * One queue, `agents` agents who answer every offer at once, Poisson
 * arrivals for an offered occupancy `occ` (work = handle + wrap-up),
 * exponential handle times of AHT_S, a wrap-up of WRAPUP_S, exponential
 * patience of PATIENCE_S, service level = answered within TARGET_S /
 * (answered + abandoned), target 80%. A share `complaints` of the
 * contacts arrive marked as complaints (difficult).
 *
 * Five runs on the same arrivals (same seed):
 *   none      the router alone: no care module
 *   tie-break the tie-break by recent difficult load only
 *   weight    the weight: each difficult contact within 1 h orders the
 *             agent as idle --weight seconds less (spread: {weight, within})
 *   routine   routine only: 2 difficult within 30 min -> no difficult
 *             contact offered for 20 min (routine: {after, within, for}),
 *             yielding to the service level (yield_margin 10)
 *   rules     the tie-break, a recovery pause (3 difficult within 1 h ->
 *             5 min away), an occupancy cap (85% over 1 h -> wrap-up
 *             + 1 min), and the rules yield to the service level
 *             (yield_margin 10)
 * For each: difficult contacts per agent (min, max, spread = max - min,
 * standard deviation), service level, ASA, abandoned share, pauses,
 * extended wrap-ups, yields. A figure, never a verdict: bench/README.md
 * keeps the table; no test asserts these numbers.
 *
 * With --days N each figure is the mean over N days (seeds S..S+N-1).
 *
 * usage: bench-care [--agents N] [--occ X] [--hours H] [--complaints P]
 *                   [--seed S] [--days N] [--weight SECONDS]
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "care.h"
#include "config.h"
#include "router.h"

#define AHT_S 240.0
#define WRAPUP_S 30.0
#define PATIENCE_S 180.0
#define TARGET_S 20
#define US 1000000.0

enum mode { M_NONE, M_TIE, M_WEIGHT, M_ROUTINE, M_RULES };
static const char *const mode_name[] = { "none", "tie-break", "weight",
                                         "routine", "rules" };

enum { EV_ARRIVAL, EV_COMPLETE, EV_ABANDON };

struct ev {
    uint64_t t;
    int kind;
    uint32_t x;
};

struct heap {
    struct ev *v;
    size_t n, cap;
};

struct contact {
    char id[16];
    uint32_t h;                   /* router handle */
    bool difficult, assigned, gone;
    uint64_t handle_us, patience_us;
};

struct sim {
    enum mode mode;
    struct router *r;
    struct care *care;
    const struct config *cfg;
    struct heap q;
    struct contact *c;
    uint32_t nc, maxc;
    uint32_t nagents;
    uint32_t *agent_of;           /* router agent handle -> index */
    uint32_t *difficult_done;     /* per agent */
    uint32_t *pend;               /* offers to accept: contact index */
    uint32_t npend;
    uint64_t rng;
};

static double urand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return ((double)(*s >> 11) + 0.5) / 9007199254740992.0;
}

static double expo(uint64_t *s, double mean)
{
    return -mean * log(urand(s));
}

static void push(struct heap *h, uint64_t t, int kind, uint32_t x)
{
    size_t i;
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 1024;
        if (!(h->v = realloc(h->v, h->cap * sizeof(*h->v)))) {
            fprintf(stderr, "bench-care: out of memory\n");
            exit(1);
        }
    }
    i = h->n++;
    while (i && h->v[(i - 1) / 2].t > t) {
        h->v[i] = h->v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->v[i] = (struct ev){ t, kind, x };
}

static struct ev pop(struct heap *h)
{
    struct ev top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t k = 2 * i + 1;
        if (k >= h->n)
            break;
        if (k + 1 < h->n && h->v[k + 1].t < h->v[k].t)
            k++;
        if (h->v[k].t >= last.t)
            break;
        h->v[i] = h->v[k];
        i = k;
    }
    if (h->n)
        h->v[i] = last;
    return top;
}

/* The router's output: offers are accepted at once (after the list is
 * cleared: an accept makes output too), an assignment starts the
 * handling. */
static void drain(struct sim *s, uint64_t now)
{
    for (;;) {
        size_t n = router_out_count(s->r);
        for (size_t i = 0; i < n; i++) {
            const struct router_event *e = router_out_get(s->r, i);
            uint32_t ci = e->contact != UINT32_MAX
                              ? router_contact_tag(s->r, e->contact)
                              : UINT32_MAX;
            if (e->type == ROUTER_EV_OFFER) {
                s->pend[s->npend++] = ci;
            } else if (e->type == ROUTER_EV_ASSIGNED) {
                s->c[ci].assigned = true;
                if (s->care)
                    care_contact_assigned(s->care, e->contact, now);
                push(&s->q, now + s->c[ci].handle_us, EV_COMPLETE, ci);
            }
        }
        router_out_clear(s->r);
        if (!s->npend)
            return;
        for (uint32_t i = 0; i < s->npend; i++) {
            struct router_contact_info in;
            struct contact *c = &s->c[s->pend[i]];
            if (router_contact_find(s->r, c->id, &c->h) < 0)
                continue;
            router_contact_info(s->r, c->h, &in);
            if (in.state == ROUTER_CONTACT_OFFERED)
                router_offer_accept(s->r, now, c->id,
                                    router_agent_id(s->r, in.agent));
        }
        s->npend = 0;
    }
}

/* A completion as dispatch.c's h_contact_completed makes it. */
static void complete(struct sim *s, uint32_t ci, uint64_t now)
{
    struct contact *c = &s->c[ci];
    struct router_contact_info in;
    struct care_completion e = { .contact = c->h, .queue = 0,
                                 .agent = UINT32_MAX, .code = -1 };
    struct router_queue_stats qs;
    enum care_action act = CARE_NONE;
    uint32_t pause_ms = 0;
    char agent[ROUTER_ID_MAX];

    router_contact_info(s->r, c->h, &in);
    snprintf(agent, sizeof(agent), "%s", router_agent_id(s->r, in.agent));
    s->difficult_done[router_agent_tag(s->r, in.agent)] += c->difficult;
    if (s->care) {
        struct care_agent_view v;
        e.agent = in.agent;
        e.agent_id = agent;
        e.wrapup_ms = s->cfg->router.queues[0].wrapup_ms;
        router_queue_stats(s->r, 0, now, &qs);
        e.sl_target = s->cfg->router.queues[0].sl_percent;
        e.sl_level = qs.service_level;
        e.waiting = qs.waiting;
        bool dif = care_completion_difficult(s->care, &e);
        care_agent_view(s->care, e.agent, agent, now, &v);
        router_agent_set_load(s->r, agent, v.difficult_recent + dif);
        router_agent_set_idle_shift(s->r, agent,
                                    care_agent_shift_ms(s->care, e.agent,
                                                        agent, now, dif));
        if (care_routine_begin(s->care, &e, now, 0) &&
            router_agent_set_routine(s->r, now, agent, true) < 0)
            care_routine_cancel(s->care, e.agent);
    }
    router_contact_complete(s->r, now, c->id);
    c->gone = true;
    if (s->care)
        act = care_contact_completed(s->care, &e, now, 0, &pause_ms);
    if (act != CARE_NONE &&
        router_agent_set_state(s->r, now, agent, ROUTER_AGENT_AWAY,
                               act == CARE_RECOVERY ? CARE_REASON_RECOVERY
                                                    : CARE_REASON_WRAPUP) < 0)
        care_pause_cancel(s->care, e.agent);
    drain(s, now);
}

static void pauses_due(struct sim *s, uint64_t now)
{
    const char *reason;
    uint32_t h;
    while ((h = care_routine_pop(s->care, now)) != UINT32_MAX)
        router_agent_set_routine(s->r, now, router_agent_id(s->r, h), false);
    while ((h = care_pause_pop(s->care, now, &reason)) != UINT32_MAX) {
        struct router_agent_info in;
        router_agent_info(s->r, h, now, &in);
        if (in.state == ROUTER_AGENT_STATE_AWAY && !strcmp(in.reason, reason))
            router_agent_set_state(s->r, now, router_agent_id(s->r, h),
                                   ROUTER_AGENT_AVAILABLE, NULL);
    }
    drain(s, now);
}

struct result {
    double sl, asa_s, abandoned;
    uint32_t dmin, dmax;
    double dsd, dmean;
    uint64_t pauses, extended, yields, routine;
};

static int run(enum mode mode, const struct config *cfg, unsigned agents,
               double occ, double hours, double complaints, uint64_t seed,
               struct result *out)
{
    struct sim s = { .mode = mode, .cfg = cfg, .nagents = agents };
    const char *err = NULL;
    double lambda = agents * occ / (AHT_S + WRAPUP_S);
    uint64_t end = (uint64_t)(hours * 3600 * US), now = 0;
    uint64_t arng = seed, crng = seed * 7 + 1;
    struct router_queue_stats qs;

    s.maxc = (uint32_t)(lambda * hours * 3600 * 1.5 + 1000);
    s.r = router_new(&cfg->router, seed, &err);
    s.c = calloc(s.maxc, sizeof(*s.c));
    s.difficult_done = calloc(agents, sizeof(*s.difficult_done));
    s.pend = calloc(s.maxc, sizeof(*s.pend));
    if (!s.r || !s.c || !s.difficult_done || !s.pend) {
        fprintf(stderr, "bench-care: %s\n", err ? err : "out of memory");
        return -1;
    }
    if (mode != M_NONE &&
        !(s.care = care_new(&cfg->care, &cfg->router))) {
        fprintf(stderr, "bench-care: out of memory\n");
        return -1;
    }
    for (unsigned i = 0; i < agents; i++) {
        struct router_agent_spec sp = { 0 };
        char id[16];
        uint32_t h;
        snprintf(id, sizeof(id), "a%u", i);
        sp.id = id;
        snprintf(sp.skills[0].skill, sizeof(sp.skills[0].skill), "support");
        sp.skills[0].level = 1;
        sp.nskills = 1;
        if (router_agent_login(s.r, 0, &sp, i, &h) < 0 ||
            router_agent_set_state(s.r, 0, id, ROUTER_AGENT_AVAILABLE,
                                   NULL) < 0) {
            fprintf(stderr, "bench-care: agent login refused\n");
            return -1;
        }
    }
    drain(&s, 0);
    push(&s.q, (uint64_t)(expo(&arng, 1.0 / lambda) * US), EV_ARRIVAL, 0);
    while (s.q.n) {
        uint64_t rt = router_next_deadline(s.r);
        uint64_t ct = s.care ? care_next_deadline(s.care) : UINT64_MAX;
        uint64_t et = s.q.v[0].t;
        if (rt <= et && rt <= ct) {
            now = rt;
            router_tick(s.r, now);
            drain(&s, now);
            continue;
        }
        if (ct <= et) {
            now = ct;
            pauses_due(&s, now);
            continue;
        }
        struct ev e = pop(&s.q);
        now = e.t;
        if (e.kind == EV_ARRIVAL) {
            struct router_contact_spec sp = { 0 };
            struct contact *c;
            if (now >= end || s.nc == s.maxc)
                continue;
            c = &s.c[s.nc];
            snprintf(c->id, sizeof(c->id), "c%u", s.nc);
            c->difficult = urand(&crng) < complaints;
            c->handle_us = (uint64_t)(expo(&crng, AHT_S) * US);
            c->patience_us = (uint64_t)(expo(&crng, PATIENCE_S) * US);
            sp.id = c->id;
            sp.channel = ROUTER_CH_VOICE;
            sp.queue = "support";
            sp.difficult = s.care && c->difficult;
            if (router_contact_arrive(s.r, now, &sp, s.nc, &c->h) == 0) {
                if (s.care)
                    care_contact_arrived(s.care, c->h, 0, c->difficult);
                push(&s.q, now + c->patience_us, EV_ABANDON, s.nc);
            }
            s.nc++;
            drain(&s, now);
            push(&s.q, now + (uint64_t)(expo(&arng, 1.0 / lambda) * US),
                 EV_ARRIVAL, 0);
        } else if (e.kind == EV_COMPLETE) {
            complete(&s, e.x, now);
        } else if (!s.c[e.x].assigned && !s.c[e.x].gone) {
            router_contact_abandon(s.r, now, s.c[e.x].id);
            s.c[e.x].gone = true;
            drain(&s, now);
        }
    }
    router_queue_stats(s.r, 0, now, &qs);
    memset(out, 0, sizeof(*out));
    out->sl = qs.service_level * 100;
    out->asa_s = qs.asa_ms / 1000.0;
    out->abandoned = qs.answered + qs.abandoned
                         ? 100.0 * qs.abandoned / (qs.answered + qs.abandoned)
                         : 0;
    out->dmin = UINT32_MAX;
    for (unsigned i = 0; i < agents; i++) {
        uint32_t d = s.difficult_done[i];
        out->dmin = d < out->dmin ? d : out->dmin;
        out->dmax = d > out->dmax ? d : out->dmax;
        out->dmean += d;
    }
    out->dmean /= agents;
    for (unsigned i = 0; i < agents; i++)
        out->dsd += (s.difficult_done[i] - out->dmean) *
                    (s.difficult_done[i] - out->dmean);
    out->dsd = sqrt(out->dsd / agents);
    if (s.care) {
        struct care_scope_view v;
        care_scope_view(s.care, care_scope_group(s.care, 0), 0, &v);
        out->pauses = v.pauses_today;
        out->extended = v.extended_today;
        out->yields = v.yields_today;
        out->routine = v.routine_today;
        care_free(s.care);
    }
    router_free(s.r);
    free(s.c);
    free(s.difficult_done);
    free(s.pend);
    free(s.q.v);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned agents = 20;
    double occ = 0.85, hours = 8, complaints = 0.10;
    uint64_t seed = 1;
    unsigned days = 1, weight_s = 60;
    static struct config cfg;
    char yaml[1024], err[512];

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--agents") && i + 1 < argc)
            agents = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--occ") && i + 1 < argc)
            occ = atof(argv[++i]);
        else if (!strcmp(argv[i], "--hours") && i + 1 < argc)
            hours = atof(argv[++i]);
        else if (!strcmp(argv[i], "--complaints") && i + 1 < argc)
            complaints = atof(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--days") && i + 1 < argc)
            days = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--weight") && i + 1 < argc)
            weight_s = (unsigned)atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench-care [--agents N] [--occ X] "
                    "[--hours H] [--complaints P] [--seed S] [--days N] "
                    "[--weight SECONDS]\n");
            return 2;
        }
    }
    if (!agents || agents > 1000 || occ <= 0 || occ >= 1.5 || hours <= 0 ||
        hours > 48 || complaints < 0 || complaints > 1 || !seed || !days ||
        days > 1000 || !weight_s || weight_s > 3600) {
        fprintf(stderr, "bench-care: an argument is out of range\n");
        return 2;
    }
    snprintf(yaml, sizeof(yaml),
             "routing: {offer_timeout: 15s}\n"
             "skills: [support]\n"
             "queues:\n"
             "  - name: support\n"
             "    skills: {support: 1}\n"
             "    wrapup: %ds\n"
             "    service_level: {percent: 80, seconds: %d}\n"
             "care:\n"
             "  agent_groups:\n"
             "    - name: all\n"
             "      agents: [\"a*\"]\n"
             "      recovery: {after: 3, within: 1h, pause: 5m}\n"
             "      occupancy: {cap: 85, window: 1h, extend: 1m}\n"
             "      yield_margin: 10\n",
             (int)WRAPUP_S, TARGET_S);
    config_defaults(&cfg);
    if (config_load_string(&cfg, "bench-care", yaml, strlen(yaml), err,
                           sizeof(err)) < 0) {
        fprintf(stderr, "bench-care: %s\n", err);
        return 1;
    }
    cfg.router.max_agents = agents;
    cfg.router.max_contacts = (uint32_t)(agents * 4 + 1000);
    printf("%u agents, offered occupancy %.0f%%, %.0f h, %.0f%% complaints, "
           "AHT %.0f s, wrap-up %.0f s, patience %.0f s, weight %u s, "
           "seeds %llu..%llu (mean of %u days)\n\n",
           agents, occ * 100, hours, complaints * 100, AHT_S, WRAPUP_S,
           PATIENCE_S, weight_s, (unsigned long long)seed,
           (unsigned long long)(seed + days - 1), days);
    printf("| run | difficult/agent min | max | spread | sd | SL %% (%ds) "
           "| ASA s | abandoned %% | pauses | extended | routine | yields "
           "|\n|---|---|---|---|---|---|---|---|---|---|---|---|\n",
           TARGET_S);
    for (int m = M_NONE; m <= M_RULES; m++) {
        struct care_group save = cfg.care.groups[0];
        struct result res, sum = { 0 };
        if (m != M_RULES) {
            /* the tie-break reads the recovery window; no pause: a
             * trigger no agent can reach */
            cfg.care.groups[0].recovery_after = CARE_RING;
            cfg.care.groups[0].recovery_within_ms = 3600000;
            cfg.care.groups[0].recovery_pause_ms = 1;
            cfg.care.groups[0].occupancy_cap = 0;
        }
        if (m == M_WEIGHT) {
            cfg.care.groups[0].spread_weight_ms = weight_s * 1000;
            cfg.care.groups[0].spread_within_ms = 3600000;
        }
        if (m == M_ROUTINE) {
            cfg.care.groups[0].routine_after = 2;
            cfg.care.groups[0].routine_within_ms = 30 * 60000;
            cfg.care.groups[0].routine_for_ms = 20 * 60000;
        }
        double dmin = 0, dmax = 0;
        for (unsigned d = 0; d < days; d++) {
            if (run((enum mode)m, &cfg, agents, occ, hours, complaints,
                    seed + d, &res) < 0)
                return 1;
            dmin += res.dmin;
            dmax += res.dmax;
            sum.dsd += res.dsd;
            sum.sl += res.sl;
            sum.asa_s += res.asa_s;
            sum.abandoned += res.abandoned;
            sum.pauses += res.pauses;
            sum.extended += res.extended;
            sum.yields += res.yields;
            sum.routine += res.routine;
        }
        cfg.care.groups[0] = save;
        printf("| %s | %.1f | %.1f | %.1f | %.2f | %.1f | %.1f | %.1f | %.1f "
               "| %.1f | %.1f | %.1f |\n", mode_name[m], dmin / days,
               dmax / days, (dmax - dmin) / days, sum.dsd / days,
               sum.sl / days, sum.asa_s / days, sum.abandoned / days,
               (double)sum.pauses / days, (double)sum.extended / days,
               (double)sum.routine / days, (double)sum.yields / days);
    }
    config_fini(&cfg);
    return 0;
}
