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
};

/* Simulates `count`; fills s->sl. Returns 1 when every servable row with
 * traffic meets the target, 0 when not, -1 on error. */
static int evaluate(struct search *s, const unsigned *count, char *err,
                    size_t errlen)
{
    struct sim_opts so;
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
            while (d >= 1) {
                if (count[g] < d) {
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
    res->sl = calloc(ni * nr, sizeof(*res->sl));
    res->unmet = calloc(ni * nr, sizeof(*res->unmet));
    res->row_name = calloc(nr, sizeof(*res->row_name));
    s.servable = calloc(nr, sizeof(*s.servable));
    s.sl = calloc(nr, sizeof(*s.sl));
    if (!res->rate || !res->start || !res->count || !res->sl ||
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
    *out = res;
    res = NULL;
    ret = 0;
    goto done;
oom:
    snprintf(err, errlen, "out of memory");
done:
    sim_staffing_free(res);
    free(s.sub);
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
    free(st->sl);
    free(st->unmet);
    free(st->row_name);
    free(st);
}
