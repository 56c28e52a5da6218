/* simstaff.h -- ccsim staff: the fewest agents per skill group and half
 * hour that meet a service-level target, found with the real router
 * (docs/ccsim.md, "Staffing").
 *
 * First each half hour is staffed on its own, as workforce-management
 * tools do (then, with opts.carry, the second pass below): the model's traffic at that half hour's mean arrival rate, held
 * stationary, is simulated (the real routing core, every group logged
 * in with the counts tried) for a warm-up half hour and then long enough
 * for about `contacts` arrivals. A count vector meets the target when
 * every row with traffic that some group can serve has a service level
 * (answered within `target_ms` / answered + abandoned, after the
 * warm-up) of at least `target`.
 *
 * The search: Erlang C gives the start, per row (its arrival rate, the
 * handle + think + queue wrap-up time of the first group serving it; the
 * fewest agents whose Erlang C service level meets the target), shared
 * out over the groups that serve the row. Then simulation: while a row
 * misses the target, agents more in the group serving the worst row that
 * serves the fewest rows (the most specialised): one, and twice as many
 * each time the same group is chosen again; then, group by group, fewer
 * agents while every row still meets the target, in steps of an eighth
 * of the group halving down to one agent. Every
 * evaluation of a half hour uses the same seed (common random numbers:
 * the same arrivals and handle times), so two count vectors are compared
 * on the same traffic. Half hours with the same rate share one search.
 *
 * Carrying the backlog (opts.carry): a half hour sized alone starts in
 * its own steady state, but on the day it starts with what the half hour
 * before left waiting. A second pass goes through the half hours in
 * order; for half hour i (from the second) it simulates the model's real
 * day -- its rate curve, not a stationary mean -- over the CARRY_HISTORY
 * half hours before i, staffed with the answers already found for them,
 * and i itself, staffed with the count tried, so the contacts still
 * waiting at each boundary are served in the next half hour's time, in
 * the router's order. Replicated with seeds seed, seed + 1, ... until
 * about `contacts` arrivals have fallen into half hour i (2 to
 * CARRY_MAX_REPS replications). Where the half
 * hour alone's count misses the target so, agents more as in the first
 * search, and then fewer in halving steps, never below the count alone.
 */
#ifndef CCROUTE_SIMSTAFF_H
#define CCROUTE_SIMSTAFF_H

#include <stddef.h>
#include <stdint.h>

#include "sim.h"

struct sim_staff_opts {
    uint64_t seed;
    double hours;           /* half hours to staff: ceil(hours x 2) */
    double interval_s;      /* 1800 */
    double target;          /* service level, 0..1 (0.8) */
    uint32_t target_ms;     /* threshold (20000) */
    double contacts;        /* arrivals per evaluation (ccsim: 40000) */
    bool carry;             /* the second pass: backlog carried */
};

struct sim_staffing {
    unsigned ngroups, nrows, nintervals;
    double interval_s;
    double *rate;           /* [iv]: mean arrivals per second */
    unsigned *start;        /* [iv * ngroups + g]: Erlang C start */
    unsigned *count;        /* [iv * ngroups + g]: the answer */
    unsigned *alone;        /* [iv * ngroups + g]: each half hour sized
                               on its own (the answer without carry) */
    double *sl;             /* [iv * nrows + r]: service level reached;
                               NAN: no traffic */
    bool *unmet;            /* [iv * nrows + r]: no group serves it, or
                               the search gave up (MAX agents) */
    char (*row_name)[ROUTER_ID_MAX + 1];
    uint64_t evaluations;   /* simulations run */
    uint64_t contacts;      /* arrivals simulated in all */
};

/* Returns 0 and a new result in *out (sim_staffing_free), or -1 with a
 * message in err (as sim_run). */
int sim_staff(const struct router_config *rc, const char *config_name,
              const struct model *m, const char *model_name,
              const struct sim_staff_opts *o, struct sim_staffing **out,
              char *err, size_t errlen);
void sim_staffing_free(struct sim_staffing *st);

/* The mean of a distribution in seconds (0 for none). */
double sim_dist_mean_s(const struct dist *d);

#endif
