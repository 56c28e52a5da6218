/* erlang.h -- queueing formulas: Erlang C (M/M/c) and Erlang A (M/M/c+M).
 *
 * Pure functions of the traffic (arrival rate, mean handle time), the
 * number of agents, the service-level threshold and, for Erlang A, the
 * customers' mean patience. They are what a planner computes by hand and
 * what ccsim's simulated queues are checked against (docs/ccsim.md).
 *
 * Both are computed by recursions, never factorials or powers, so that
 * hundreds (and thousands) of agents neither overflow nor lose precision:
 * Erlang C from the Erlang B recursion, Erlang A from the birth-death
 * chain of the number in system, truncated where its tail is below double
 * precision (see erlang.c).
 *
 * Errors: 0, or CCR_EINVAL (proto/error.h) for an argument out of range
 * (a rate, handle time or patience not finite and positive, no agents, a
 * negative threshold) and, for Erlang C only, for an offered load at or
 * above the agents (occupancy >= 1: the queue grows without bound).
 */
#ifndef CCROUTE_ERLANG_H
#define CCROUTE_ERLANG_H

struct erlang_result {
    double load;          /* offered load in Erlangs: rate x handle time */
    double occupancy;     /* carried load / agents (Erlang A: served only) */
    double p_wait;        /* probability that an arrival finds every agent
                             busy and waits */
    double service_level; /* probability of being answered within the
                             threshold, over every arrival (abandoned ones
                             count as not answered in time) */
    double asa_s;         /* average speed of answer: mean wait of the
                             answered, seconds */
    double mean_wait_s;   /* mean time in queue of every arrival, seconds */
    double p_abandon;     /* fraction of arrivals who abandon (Erlang C: 0) */
};

/* M/M/c with infinite patience. rate_per_s > 0, aht_s > 0, agents >= 1,
 * target_s >= 0, rate_per_s * aht_s < agents. */
int erlang_c(double rate_per_s, double aht_s, unsigned agents,
             double target_s, struct erlang_result *out);

/* M/M/c+M: exponential patience of mean patience_s > 0 (Palm's model,
 * as in Garnett, Mandelbaum and Reiman 2002). Any load, past the agents
 * too: abandonment keeps the queue finite. */
int erlang_a(double rate_per_s, double aht_s, unsigned agents,
             double target_s, double patience_s, struct erlang_result *out);

#endif
