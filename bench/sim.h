/* sim.h -- ccsim's discrete-event simulation of a contact centre around
 * the real routing core (engine/router.h), driven by ccload's traffic
 * model (ccload-model.h). See docs/ccsim.md.
 *
 * One run: the router built from a routing configuration's router
 * section, every agent of the model logged in at time 0 and available,
 * contacts arriving over `hours` of simulated time, then a drain until
 * every contact has ended. The router's clock is the simulated clock,
 * moved from event to event; nothing reads the wall clock, so the same
 * inputs and seed give the same report, bit for bit.
 *
 * Report rows: one per configured queue (configuration order), then one
 * per skills-only class of the model ("~" + the class name). A contact
 * counts in the row and the interval of its arrival (offered, waited,
 * answered, abandoned, refused, waits), whatever queue it moves to later;
 * agent time holding a row's contacts (accept to completion) counts in
 * the interval it is spent in.
 */
#ifndef CCROUTE_SIM_H
#define CCROUTE_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "ccload-model.h"
#include "router-t.h"

struct sim_opts {
    uint64_t seed;          /* the run's random numbers and the router's */
    double hours;           /* simulated arrivals, > 0 */
    double interval_s;      /* report interval, > 0 (ccsim: 1800) */
};

struct sim_cell {
    uint64_t offered;       /* arrivals the router took */
    uint64_t refused;       /* arrivals refused (queue full, no overflow) */
    uint64_t waited;        /* not offered to an agent on arrival */
    uint64_t answered;
    uint64_t answered_in_sl;  /* answered within the row's threshold */
    uint64_t abandoned;     /* customer hung up, or the router gave up */
    uint64_t cut;           /* still waiting when the drain ended */
    double wait_s;          /* sum over the answered of arrival->accept */
    double busy_s;          /* agent time with the row's contacts */
};

struct sim_row {
    char name[ROUTER_ID_MAX + 1];
    uint32_t sl_threshold_ms;
    unsigned agents;        /* agents who could take its contacts at its
                               first level (docs/ccsim.md) */
};

struct sim_report {
    unsigned nrows, nintervals;
    struct sim_row *rows;
    struct sim_cell *cells;     /* [row * nintervals + interval] */
    double interval_s, hours;
    unsigned agents;            /* logged in, all day */
    uint64_t contacts;          /* arrivals generated */
    uint64_t events;            /* simulator events handled */
    uint64_t router_calls;      /* calls into the routing core */
    double end_s;               /* simulated time when the drain ended */
};

/* Runs one simulation. `rc` is a validated router configuration
 * (config_load); `config_name` and `model_name` name the files in
 * messages. Returns 0 and a new report in *out (sim_report_free), or -1
 * with "file:line: field: problem" in err (a model that names a queue
 * the configuration lacks, an agent the router refuses...). */
int sim_run(const struct router_config *rc, const char *config_name,
            const struct model *m, const char *model_name,
            const struct sim_opts *o, struct sim_report **out, char *err,
            size_t errlen);
void sim_report_free(struct sim_report *rep);

/* Sums of a row's cells over intervals [from, to) (to <= nintervals). */
void sim_report_sum(const struct sim_report *rep, unsigned row,
                    unsigned from, unsigned to, struct sim_cell *sum);

#endif
