/* simstaff.c -- ccsim staff; see simstaff.h. */
#include "simstaff.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "erlang.h"

/* a search that needs more agents than this in one group gives up */
#define STAFF_MAX_AGENTS 5000u
#define STAFF_MAX_STEPS 2000u
/* the carry pass simulates this many half hours before the one it sizes:
 * a backlog older than that is not carried */
#define CARRY_HISTORY 2u
#define CARRY_MAX_REPS 30u

double sim_dist_mean_s(const struct dist *d)
{
    switch (d->kind) {
    case DIST_NONE: return 0;
    case DIST_UNIFORM: return (d->min_ms + d->max_ms) / 2000.0;
    default: return d->mean_ms / 1000.0;
    }
}

struct search {
    const struct router_config *rc;
    const char *config_name, *model_name;
    struct model *sub;          /* the model at one half hour's rate */
    const struct sim_staff_opts *o;
    struct sim_staffing *res;
    double hours;               /* of one evaluation, warm-up included */
    bool *servable;             /* [row] */
    double *sl;                 /* [row] of the last evaluation */
    /* the carry pass: half hour `civ` with its history from `cfrom`, in
     * the model `cm` (its curve from cfrom's start); counts of every
     * half hour simulated in civ_count */
    bool carrying;
    unsigned civ, cfrom, creps;
    struct model *cm;
    const struct model *sub_day;    /* the model as given */
    unsigned *civ_count;
};

/* Simulates `count`; fills s->sl. Returns 1 when every servable row with
 * traffic meets the target, 0 when not, -1 on error. */
static int evaluate_carried(struct search *s, const unsigned *count,
                            char *err, size_t errlen);
static int search_counts(struct search *s, unsigned *count,
                         const unsigned *floor, double *sl, bool *unmet,
                         char *err, size_t errlen);

static int evaluate(struct search *s, const unsigned *count, char *err,
                    size_t errlen)
{
    struct sim_opts so;
    if (s->carrying)
        return evaluate_carried(s, count, err, errlen);
    struct sim_report *rep;
    memset(&so, 0, sizeof(so));
    so.seed = s->o->seed;
    so.hours = s->hours;
    so.interval_s = 1800;
    so.group_count = count;
    so.no_outbound = true;      /* inbound is sized; outbound takes what
                                   is left (docs/ccsim.md, "Staffing") */
    so.sl_threshold_ms = s->o->target_ms;
    if (sim_run(s->rc, s->config_name, s->sub, s->model_name, &so, &rep,
                err, errlen) < 0)
        return -1;
    s->res->evaluations++;
    s->res->contacts += rep->contacts;
    int ok = 1;
    for (unsigned r = 0; r < rep->nrows; r++) {
        struct sim_cell x;
        sim_report_sum(rep, r, 1, rep->nintervals, &x);
        uint64_t den = x.answered + x.abandoned + x.cut;
        s->sl[r] = den ? (double)x.answered_in_sl / (double)den : NAN;
        if (s->servable[r] && den && s->sl[r] < s->o->target)
            ok = 0;
    }
    sim_report_free(rep);
    return ok;
}

/* The carry pass's evaluation: half hours cfrom..civ of the real day,
 * the earlier ones with their answers, civ with `count`; the service
 * level of each row's contacts arriving in civ, over s->creps runs. */
static int evaluate_carried(struct search *s, const unsigned *count,
                            char *err, size_t errlen)
{
    unsigned ng = s->cm->ngroups, nr = s->res->nrows;
    unsigned span = s->civ - s->cfrom, ok = 1;
    uint64_t in_sl[MODEL_MAX_CLASSES + 64], den[MODEL_MAX_CLASSES + 64];
    struct sim_opts so;
    if (nr > sizeof(in_sl) / sizeof(in_sl[0])) {
        snprintf(err, errlen, "too many rows to staff");
        return -1;
    }
    memset(in_sl, 0, sizeof(in_sl));
    memset(den, 0, sizeof(den));
    memcpy(&s->civ_count[(size_t)span * ng], count, ng * sizeof(*count));
    memset(&so, 0, sizeof(so));
    so.hours = (span + 1) * s->o->interval_s / 3600;
    so.interval_s = s->o->interval_s;
    so.count_iv = s->civ_count;
    so.sl_threshold_ms = s->o->target_ms;
    so.no_outbound = true;
    for (unsigned k = 0; k < s->creps; k++) {
        struct sim_report *rep;
        so.seed = s->o->seed + k;
        if (sim_run(s->rc, s->config_name, s->cm, s->model_name, &so, &rep,
                    err, errlen) < 0)
            return -1;
        s->res->evaluations++;
        s->res->contacts += rep->contacts;
        for (unsigned r = 0; r < nr && r < rep->nrows; r++) {
            struct sim_cell x;
            sim_report_sum(rep, r, span, span + 1, &x);
            in_sl[r] += x.answered_in_sl;
            den[r] += x.answered + x.abandoned + x.cut;
        }
        sim_report_free(rep);
    }
    for (unsigned r = 0; r < nr; r++) {
        s->sl[r] = den[r] ? (double)in_sl[r] / (double)den[r] : NAN;
        if (s->servable[r] && den[r] && s->sl[r] < s->o->target)
            ok = 0;
    }
    return (int)ok;
}

/* The model's day from `t0_s` on: its curve shifted to start there. */
static void shift_curve(const struct model *m, double t0_s, struct model *out)
{
    *out = *m;
    out->contacts = 0;
    if (!m->ncurve || t0_s <= 0 || m->curve[0].at_s >= t0_s) {
        for (unsigned i = 0; i < out->ncurve; i++)
            out->curve[i].at_s -= t0_s;
        return;
    }
    /* a point at or before t0 goes: there is room for the one at 0 */
    out->ncurve = 0;
    out->curve[out->ncurve++] = (struct model_point){ 0,
                                                      model_rate_at(m, t0_s) };
    for (unsigned i = 0; i < m->ncurve; i++)
        if (m->curve[i].at_s > t0_s)
            out->curve[out->ncurve++] = (struct model_point){
                m->curve[i].at_s - t0_s, m->curve[i].rate };
}

/* The carry pass over half hour iv (see simstaff.h). */
static int carry_interval(struct search *s, unsigned iv, char *err,
                          size_t errlen)
{
    struct sim_staffing *res = s->res;
    unsigned ng = res->ngroups, nr = res->nrows;
    double expect = res->rate[iv] * s->o->interval_s;
    if (!(res->rate[iv] > 0))
        return 0;
    s->cfrom = iv > CARRY_HISTORY ? iv - CARRY_HISTORY : 0;
    s->civ = iv;
    s->creps = (unsigned)ceil(s->o->contacts / expect);
    if (s->creps < 2)
        s->creps = 2;
    if (s->creps > CARRY_MAX_REPS)
        s->creps = CARRY_MAX_REPS;
    shift_curve(s->sub_day, s->cfrom * s->o->interval_s, s->cm);
    memcpy(s->civ_count, &res->count[(size_t)s->cfrom * ng],
           (size_t)(iv - s->cfrom) * ng * sizeof(*s->civ_count));
    s->carrying = true;
    int rc = search_counts(s, &res->count[(size_t)iv * ng],
                           &res->alone[(size_t)iv * ng],
                           &res->sl[(size_t)iv * nr],
                           &res->unmet[(size_t)iv * nr], err, errlen);
    s->carrying = false;
    return rc;
}

/* Erlang C's agents for one row: the fewest meeting the target. */
static unsigned erlang_agents(double rate, double aht, double target,
                              double t_s)
{
    struct erlang_result er;
    if (!(rate > 0) || !(aht > 0))
        return 0;
    for (unsigned c = (unsigned)floor(rate * aht) + 1;
         c < STAFF_MAX_AGENTS; c++)
        if (erlang_c(rate, aht, c, t_s, &er) == 0 &&
            er.service_level >= target)
            return c;
    return STAFF_MAX_AGENTS;
}

static int staff_interval(struct search *s, unsigned iv, char *err,
                          size_t errlen)
{
    const struct model *m = s->sub;
    const struct router_config *rc = s->rc;
    struct sim_staffing *res = s->res;
    unsigned ng = m->ngroups, nr = res->nrows;
    unsigned *start = &res->start[(size_t)iv * ng];
    unsigned *count = &res->count[(size_t)iv * ng];
    double *sl = &res->sl[(size_t)iv * nr];
    bool *unmet = &res->unmet[(size_t)iv * nr];
    double rate = res->rate[iv];
    double t_s = s->o->target_ms / 1000.0;

    if (!(rate > 0)) {
        for (unsigned r = 0; r < nr; r++)
            sl[r] = NAN;
        return 0;
    }
    s->hours = 0.5 + s->o->contacts / (rate * 3600);
    if (s->hours > 500)
        s->hours = 500;
    s->sub->rate = rate;

    /* the start: Erlang C per row, shared over the groups serving it */
    double share[MODEL_MAX_GROUPS];
    memset(share, 0, sizeof(share));
    for (unsigned r = 0; r < nr; r++) {
        double lam = 0;
        for (unsigned k = 0; k < m->nclasses; k++)
            if (sim_class_row(rc, m, k) == r)
                lam += rate * m->classes[k].share / m->share_total;
        unsigned nserve = 0, first = ng;
        for (unsigned g = 0; g < ng; g++)
            if (sim_group_serves(rc, m, g, r)) {
                nserve++;
                if (first == ng)
                    first = g;
            }
        s->servable[r] = nserve > 0;
        if (!nserve || !(lam > 0))
            continue;
        double aht = sim_dist_mean_s(&m->groups[first].handle) +
                     sim_dist_mean_s(&m->groups[first].think);
        if (r < rc->nqueues)
            aht += rc->queues[r].wrapup_ms / 1000.0;
        unsigned c = erlang_agents(lam, aht, s->o->target, t_s);
        for (unsigned g = 0; g < ng; g++)
            if (sim_group_serves(rc, m, g, r))
                share[g] += (double)c / nserve;
    }
    for (unsigned g = 0; g < ng; g++)
        start[g] = count[g] = (unsigned)ceil(share[g] - 1e-9);
    return search_counts(s, count, NULL, sl, unmet, err, errlen);
}

/* From `count` up until every row meets the target, then down, never
 * below `floor` (NULL: 0); the answer's figures into sl and unmet. */
static int search_counts(struct search *s, unsigned *count,
                         const unsigned *floor, double *sl, bool *unmet,
                         char *err, size_t errlen)
{
    const struct model *m = s->sub;
    const struct router_config *rc = s->rc;
    unsigned ng = m->ngroups, nr = s->res->nrows;

    /* up: agents for the worst row, until every row meets the target;
     * while the same group is chosen again the step doubles (the start
     * may be far off: priorities, multi-skill sharing, think times), and
     * the way down takes back what overshoots */
    int ok;
    unsigned steps = 0, last = ng, step = 1;
    for (;;) {
        ok = evaluate(s, count, err, errlen);
        if (ok < 0)
            return -1;
        if (ok || ++steps > STAFF_MAX_STEPS)
            break;
        unsigned worst = nr;
        for (unsigned r = 0; r < nr; r++)
            if (s->servable[r] && !isnan(s->sl[r]) &&
                s->sl[r] < s->o->target &&
                (worst == nr || s->sl[r] < s->sl[worst]))
                worst = r;
        unsigned best = ng, best_rows = 0;
        for (unsigned g = 0; g < ng; g++) {
            if (!sim_group_serves(rc, m, g, worst) ||
                count[g] >= STAFF_MAX_AGENTS)
                continue;
            unsigned rows = 0;
            for (unsigned r = 0; r < nr; r++)
                rows += sim_group_serves(rc, m, g, r);
            if (best == ng || rows < best_rows)
                best = g, best_rows = rows;
        }
        if (best == ng)
            break;
        step = best == last && step < 64 ? step * 2 : 1;
        last = best;
        count[best] += step;
        if (count[best] > STAFF_MAX_AGENTS)
            count[best] = STAFF_MAX_AGENTS;
    }
    /* down, group by group: fewer agents while the target holds, in
     * steps that halve down to one (the last step tried is one agent, so
     * one fewer than the answer misses the target on this traffic) */
    if (ok)
        for (unsigned g = 0; g < ng; g++) {
            unsigned d = count[g] / 8 ? count[g] / 8 : 1;
            unsigned lo = floor ? floor[g] : 0;
            while (d >= 1) {
                if (count[g] < lo + d) {
                    d /= 2;
                    continue;
                }
                count[g] -= d;
                int k = evaluate(s, count, err, errlen);
                if (k < 0)
                    return -1;
                if (!k) {
                    count[g] += d;
                    d /= 2;
                }
            }
        }
    /* the figures of the answer */
    if (evaluate(s, count, err, errlen) < 0)
        return -1;
    for (unsigned r = 0; r < nr; r++) {
        sl[r] = s->sl[r];
        unmet[r] = !s->servable[r] ||
                   (!isnan(sl[r]) && sl[r] < s->o->target);
    }
    return 0;
}

int sim_staff(const struct router_config *rc, const char *config_name,
              const struct model *m, const char *model_name,
              const struct sim_staff_opts *o, struct sim_staffing **out,
              char *err, size_t errlen)
{
    struct search s;
    struct sim_staffing *res = calloc(1, sizeof(*res));
    int ret = -1;

    memset(&s, 0, sizeof(s));
    *out = NULL;
    s.sub = malloc(sizeof(*s.sub));
    if (!res || !s.sub)
        goto oom;
    *s.sub = *m;
    s.sub->ncurve = 0;
    s.sub->contacts = 0;
    s.rc = rc;
    s.config_name = config_name;
    s.model_name = model_name;
    s.o = o;
    s.res = res;
    res->ngroups = m->ngroups;
    res->nrows = sim_nrows(rc, m);
    res->interval_s = o->interval_s;
    res->nintervals = (unsigned)ceil(o->hours * 3600 / o->interval_s);
    size_t ng = m->ngroups ? m->ngroups : 1, nr = res->nrows ? res->nrows : 1;
    size_t ni = res->nintervals ? res->nintervals : 1;
    res->rate = calloc(ni, sizeof(*res->rate));
    res->start = calloc(ni * ng, sizeof(*res->start));
    res->count = calloc(ni * ng, sizeof(*res->count));
    res->alone = calloc(ni * ng, sizeof(*res->alone));
    s.cm = malloc(sizeof(*s.cm));
    s.civ_count = calloc((CARRY_HISTORY + 1) * ng, sizeof(*s.civ_count));
    s.sub_day = m;
    res->sl = calloc(ni * nr, sizeof(*res->sl));
    res->unmet = calloc(ni * nr, sizeof(*res->unmet));
    res->row_name = calloc(nr, sizeof(*res->row_name));
    s.servable = calloc(nr, sizeof(*s.servable));
    s.sl = calloc(nr, sizeof(*s.sl));
    if (!res->rate || !res->start || !res->count || !res->sl ||
        !res->alone || !s.cm || !s.civ_count ||
        !res->unmet || !res->row_name || !s.servable || !s.sl)
        goto oom;
    for (unsigned r = 0; r < res->nrows; r++) {
        if (r < rc->nqueues) {
            snprintf(res->row_name[r], sizeof(res->row_name[r]), "%s",
                     rc->queues[r].name);
            continue;
        }
        for (unsigned k = 0; k < m->nclasses; k++)
            if (!m->classes[k].queue[0] && sim_class_row(rc, m, k) == r)
                snprintf(res->row_name[r], sizeof(res->row_name[r]), "~%s",
                         m->classes[k].name);
    }
    for (unsigned iv = 0; iv < res->nintervals; iv++) {
        /* the mean rate over the half hour (the curve is piecewise
         * linear: 60 midpoints are exact to well under a percent) */
        double t0 = iv * o->interval_s, sum = 0;
        for (unsigned j = 0; j < 60; j++)
            sum += model_rate_at(m, t0 + (j + 0.5) * o->interval_s / 60);
        res->rate[iv] = m->ncurve ? sum / 60 : m->rate;
        unsigned same = iv;
        for (unsigned j = 0; j < iv; j++)
            if (res->rate[j] == res->rate[iv]) {
                same = j;
                break;
            }
        if (same < iv) {
            memcpy(&res->start[iv * ng], &res->start[same * ng],
                   ng * sizeof(*res->start));
            memcpy(&res->count[iv * ng], &res->count[same * ng],
                   ng * sizeof(*res->count));
            memcpy(&res->sl[iv * nr], &res->sl[same * nr],
                   nr * sizeof(*res->sl));
            memcpy(&res->unmet[iv * nr], &res->unmet[same * nr],
                   nr * sizeof(*res->unmet));
            continue;
        }
        if (staff_interval(&s, iv, err, errlen) < 0)
            goto done;
    }
    memcpy(res->alone, res->count, ni * ng * sizeof(*res->alone));
    for (unsigned iv = 1; o->carry && iv < res->nintervals; iv++)
        if (carry_interval(&s, iv, err, errlen) < 0)
            goto done;
    *out = res;
    res = NULL;
    ret = 0;
    goto done;
oom:
    snprintf(err, errlen, "out of memory");
done:
    sim_staffing_free(res);
    free(s.sub);
    free(s.cm);
    free(s.civ_count);
    free(s.servable);
    free(s.sl);
    return ret;
}

void sim_staffing_free(struct sim_staffing *st)
{
    if (!st)
        return;
    free(st->rate);
    free(st->start);
    free(st->count);
    free(st->alone);
    free(st->sl);
    free(st->unmet);
    free(st->row_name);
    free(st);
}
