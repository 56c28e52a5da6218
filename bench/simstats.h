/* simstats.h -- figures of several ccsim runs: means and 95% confidence
 * intervals (ccsim --runs, ccsim --compare; docs/ccsim.md).
 *
 * A run's figures are the array sim_report_values() returns: one value
 * per row, interval and figure. sim_stats takes one such array per run
 * (or, for --compare, one array of differences per pair of runs) and
 * keeps, for every entry, the number of runs in which it was defined
 * (ratios with nothing to divide are NAN and left out), their mean and
 * the sum of squared deviations (Welford's update: no cancellation).
 *
 * The confidence interval is Student's: the mean +- t(0.975, n - 1) x
 * s / sqrt(n), s the sample standard deviation over the n runs. The runs
 * are independent replications (different seeds), so their values are
 * independent and identically distributed; the interval assumes their
 * mean is close to normal, which holds well for counts and ratios summed
 * over many contacts. With common random numbers (--compare), a pair's
 * difference is one sample: the paired interval.
 */
#ifndef CCROUTE_SIMSTATS_H
#define CCROUTE_SIMSTATS_H

#include <stddef.h>
#include <stdint.h>

#include "sim.h"

struct sim_stats {
    size_t n;               /* entries */
    unsigned runs;          /* arrays added */
    uint32_t *cnt;          /* runs in which an entry was defined */
    double *mean, *m2;
};

/* n entries. Returns 0 or -1 out of memory. */
int sim_stats_init(struct sim_stats *st, size_t n);
void sim_stats_fini(struct sim_stats *st);
/* Adds one run's values (n of them; NAN: undefined in that run). */
void sim_stats_add(struct sim_stats *st, const double *v);
/* Mean of entry i over the runs where it was defined; NAN if none. */
double sim_stats_mean(const struct sim_stats *st, size_t i);
/* 95% half-width of that mean; NAN with fewer than two values. */
double sim_stats_hw(const struct sim_stats *st, size_t i);
/* Student's t quantile at 0.975 for df >= 1 degrees of freedom. */
double sim_t975(unsigned df);

/* The differences b - a, entry by entry, laid out as b's values: a row of
 * b is matched to a's row of the same name (NAN where a has none, or
 * where either value is undefined). The two reports must have the same
 * number of intervals. Returns a new array (free()) or NULL when out of
 * memory. */
double *sim_values_diff(const struct sim_report *a, const double *va,
                        const struct sim_report *b, const double *vb);

#endif
