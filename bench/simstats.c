/* simstats.c -- means and 95% confidence intervals over ccsim runs; see
 * simstats.h. */
#include "simstats.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int sim_stats_init(struct sim_stats *st, size_t n)
{
    memset(st, 0, sizeof(*st));
    st->n = n;
    st->cnt = calloc(n ? n : 1, sizeof(*st->cnt));
    st->mean = calloc(n ? n : 1, sizeof(*st->mean));
    st->m2 = calloc(n ? n : 1, sizeof(*st->m2));
    if (!st->cnt || !st->mean || !st->m2) {
        sim_stats_fini(st);
        return -1;
    }
    return 0;
}

void sim_stats_fini(struct sim_stats *st)
{
    free(st->cnt);
    free(st->mean);
    free(st->m2);
    memset(st, 0, sizeof(*st));
}

void sim_stats_add(struct sim_stats *st, const double *v)
{
    st->runs++;
    for (size_t i = 0; i < st->n; i++) {
        if (isnan(v[i]))
            continue;
        double d = v[i] - st->mean[i];
        st->cnt[i]++;
        st->mean[i] += d / st->cnt[i];
        st->m2[i] += d * (v[i] - st->mean[i]);
    }
}

double sim_stats_mean(const struct sim_stats *st, size_t i)
{
    return st->cnt[i] ? st->mean[i] : NAN;
}

double sim_stats_hw(const struct sim_stats *st, size_t i)
{
    uint32_t n = st->cnt[i];
    if (n < 2)
        return NAN;
    double var = st->m2[i] / (n - 1);
    return sim_t975(n - 1) * sqrt(var > 0 ? var : 0) / sqrt((double)n);
}

double sim_t975(unsigned df)
{
    /* exact to four decimals up to 30 degrees of freedom; beyond, the
     * Cornish-Fisher expansion around the normal quantile, within 1e-4 */
    static const double t[31] = {
        NAN, 12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646,
        2.3060, 2.2622, 2.2281, 2.2010, 2.1788, 2.1604, 2.1448, 2.1314,
        2.1199, 2.1098, 2.1009, 2.0930, 2.0860, 2.0796, 2.0739, 2.0687,
        2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
    };
    if (df == 0)
        return NAN;
    if (df <= 30)
        return t[df];
    double z = 1.959963985, n = df;
    return z + (z * z * z + z) / (4 * n) +
           (5 * pow(z, 5) + 16 * z * z * z + 3 * z) / (96 * n * n);
}

double *sim_values_diff(const struct sim_report *a, const double *va,
                        const struct sim_report *b, const double *vb)
{
    size_t n = sim_report_nvalues(b);
    double *d = malloc((n ? n : 1) * sizeof(*d));
    if (!d)
        return NULL;
    for (unsigned rb = 0; rb <= b->nrows; rb++) {
        unsigned ra = a->nrows;     /* "all" matches "all" */
        if (rb < b->nrows)
            for (ra = 0; ra < a->nrows; ra++)
                if (!strcmp(a->rows[ra].name, b->rows[rb].name))
                    break;
        bool have = ra <= a->nrows && (rb == b->nrows || ra < a->nrows) &&
                    a->nintervals == b->nintervals;
        for (unsigned i = 0; i <= b->nintervals; i++)
            for (unsigned f = 0; f < SIM_F_COUNT; f++) {
                size_t ib = sim_value_index(b, rb, i, (enum sim_fig)f);
                d[ib] = have ? vb[ib] - va[sim_value_index(a, ra, i,
                                                           (enum sim_fig)f)]
                             : NAN;
            }
    }
    /* the campaign: the model's, so the same in both, if in both */
    for (unsigned k = 0; k < b->ncampaigns; k++) {
        bool have = k < a->ncampaigns && a->nintervals == b->nintervals &&
                    !strcmp(a->campaign.name, b->campaign.name);
        for (unsigned i = 0; i <= b->nintervals; i++)
            for (unsigned f = 0; f < SIM_OB_COUNT; f++) {
                size_t ib = sim_ob_value_index(b, k, i, (enum sim_ob_fig)f);
                d[ib] = have ? vb[ib] - va[sim_ob_value_index(
                                   a, k, i, (enum sim_ob_fig)f)] : NAN;
            }
    }
    return d;
}
