/* sim.h -- ccsim's discrete-event simulation of a contact centre around
 * the real routing core (engine/router.h), driven by ccload's traffic
 * model (ccload-model.h). See docs/ccsim.md.
 *
 * One run: the router built from a routing configuration's router
 * section, every agent of the model logged in at time 0 and available
 * (or, for groups with shifts, logged in and out at their times, and away
 * during their breaks: docs/ccsim.md, "Agent schedules"), contacts
 * arriving over `hours` of simulated time, then a drain until every
 * contact has ended. The router's clock is the simulated clock,
 * moved from event to event; nothing reads the wall clock, so the same
 * inputs and seed give the same report, bit for bit.
 *
 * Random numbers are drawn so that two runs with the same seed see the
 * same traffic whatever the routing (common random numbers, for
 * ccsim --compare and ccsim staff): the arrivals (time, class, priority,
 * value, patience) from one stream, and each contact's think times,
 * rejections and handle times from a stream of its own, seeded from the
 * arrivals' stream; each agent's wrap-up times from a stream of its own.
 *
 * With a replay (sim_opts.replay, simreplay.h) the arrivals come from a
 * live engine's event stream instead of the model: each at its time, in
 * its queue, with its recorded handle time and, if it abandoned, its
 * recorded patience.
 *
 * With the model's `outbound:` section (and not sim_opts.no_outbound) the
 * engine's campaign core (engine/campaign.h) runs next to the router on
 * the same simulated clock, as engine/outbound.c connects them: it paces
 * dials every 100 ms, the simulated switch answers each after a ring
 * time with an outcome drawn from the model, an answered call becomes a
 * contact of the campaign's queue, and the core drops it when no agent
 * is offered it within the compliance time. Its calls are not counted in
 * the queue rows (those stay the inbound contacts); their agent time is
 * counted in the campaign queue's row (busy time, occupancy). The
 * campaign starts at time 0 and stops when the arrivals end.
 *
 * Report rows: one per configured queue (configuration order), then one
 * per skills-only class of the model ("~" + the class name). A contact
 * counts in the row and the interval of its arrival (offered, waited,
 * answered, abandoned, refused, waits), whatever queue it moves to later;
 * agent time holding a row's contacts (accept to completion) counts in
 * the interval it is spent in. Each answer is graded (routing quality:
 * the answering agent's tier in the queue, overflow, proficiency).
 */
#ifndef CCROUTE_SIM_H
#define CCROUTE_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ccload-model.h"
#include "router-t.h"
#include "simreplay.h"

struct sim_opts {
    uint64_t seed;          /* the run's random numbers and the router's */
    double hours;           /* simulated arrivals, > 0 */
    double interval_s;      /* report interval, > 0 (ccsim: 1800) */
    /* agents per model group (ngroups entries); NULL: the model's counts
     * (ccsim staff tries other counts on the same traffic) */
    const unsigned *group_count;
    /* agents per model group and interval ([iv * ngroups + g]); NULL: as
     * above. At the start of each interval a group's agents 1..count are
     * logged in and the others log out (after the contacts they hold),
     * so a backlog carries from one interval into the next (ccsim
     * staff's second pass). The model's schedules are not followed. */
    const unsigned *count_iv;
    /* service-level threshold of every row; 0: each row's own */
    uint32_t sl_threshold_ms;
    /* arrivals replayed (simreplay.h) instead of the model's: n of them,
     * in order of t_us; the model still gives the agents, and the
     * channel of a queue whose configuration does not name one */
    const struct sim_arrival *replay;
    size_t nreplay;
    /* leave out the model's outbound campaign (ccsim --no-outbound, and
     * ccsim staff, which sizes inbound) */
    bool no_outbound;
};

/* The model's outbound campaign (docs/ccsim.md, "Outbound"): what became
 * of the dials placed in one interval, whenever it became of them. */
struct sim_ob_cell {
    uint64_t dials;
    uint64_t outcome[OB_NOUT];  /* human (answered), machine, busy, no
                                   answer, failed (a dial the core timed
                                   out counts failed) */
    uint64_t connected;         /* answered and offered to an agent in
                                   time */
    uint64_t drops;             /* answered, no agent within the
                                   compliance time */
    double talk_s;              /* agent time on its calls */
};

struct sim_campaign {
    char name[MODEL_NAME_MAX];
    char queue[MODEL_NAME_MAX];
    const char *mode;           /* "progressive", "predictive" */
    unsigned leads;
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
    double est_wait_s;      /* sum over the answered of the wait the
                               router estimated on arrival (ContactQueued's
                               est_wait_ms; 0 when offered at once) */
    /* agent time logged in (any state), by the row's agents; only with
     * schedules (sim_report.scheduled), else agents x interval */
    double staffed_s;
    /* routing quality of the answered (docs/ccsim.md): by the answering
     * agent's tier in the queue it was answered from: 0, the queue's
     * first level; k, an agent the queue takes only from expansion step
     * k on (index 3: step 3 or later) */
    uint64_t by_tier[4];
    uint64_t overflowed;    /* answered from another queue than its row's */
    double prof_sum;        /* sum of the answering agent's mean level in
                               the required skills ... */
    uint64_t prof_n;        /* ... over this many answered */
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
    unsigned agents;            /* of the model (all day without schedules) */
    uint64_t contacts;          /* arrivals generated */
    uint64_t events;            /* simulator events handled */
    uint64_t router_calls;      /* calls into the routing core */
    double end_s;               /* simulated time when the drain ended */
    /* agent schedules were followed (the model has shifts, and no
     * group_count override): staffed time is the cells' staffed_s and,
     * for "all", staffed_all_s[interval] (every agent once) */
    bool scheduled;
    double *staffed_all_s;
    /* the outbound campaign: 0 or 1 of them; ob_cells[interval] */
    unsigned ncampaigns;
    struct sim_campaign campaign;
    struct sim_ob_cell *ob_cells;
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

/* The rows a run would report (sim_run: configured queues, then the
 * skills-only classes): how many, the row of class k, and whether an
 * agent of model group gi could take the row's contacts at its first
 * level (the queue's or class's skills; a group's `queues` list, when
 * set, must name the queue). For ccsim staff's starting point. */
unsigned sim_nrows(const struct router_config *rc, const struct model *m);
unsigned sim_class_row(const struct router_config *rc, const struct model *m,
                       unsigned k);
bool sim_group_serves(const struct router_config *rc, const struct model *m,
                      unsigned gi, unsigned row);

/* The mean number of agents of model group gi that its schedule has
 * logged in and not on a break over [t0_s, t1_s) (seconds from the start
 * of the run; the group's count without shifts), as the simulation
 * follows it, leaving out the time agents finish contacts after their
 * shift. NAN for an empty span. For ccsim staff's comparison with the
 * agents it finds. */
double sim_scheduled_agents(const struct model *m, unsigned gi, double t0_s,
                            double t1_s);

/* Sums of a row's cells over intervals [from, to) (to <= nintervals). */
void sim_report_sum(const struct sim_report *rep, unsigned row,
                    unsigned from, unsigned to, struct sim_cell *sum);

/* The figures of one cell, as reported (docs/ccsim.md, "Output"). */
enum sim_fig {
    SIM_F_OFFERED, SIM_F_ANSWERED, SIM_F_IN_SL, SIM_F_ABANDONED,
    SIM_F_REFUSED, SIM_F_WAITED, SIM_F_CUT,
    SIM_F_SL,               /* answered in SL / (answered + abandoned) */
    SIM_F_ASA,              /* mean wait of the answered, seconds */
    SIM_F_OCC,              /* busy / staffed time */
    SIM_F_ABANDON_RATE,     /* abandoned / offered */
    SIM_F_STAFFED,          /* mean agents logged in (of the row's) */
    SIM_F_FIRST_LEVEL,      /* answered by a tier-0 agent / answered */
    SIM_F_STEP1,            /* answered by a tier-1 agent / answered */
    SIM_F_STEP2,            /* tier 2 */
    SIM_F_STEP3,            /* tier 3 or more */
    SIM_F_OVERFLOWED,       /* answered from another queue / answered */
    SIM_F_PROFICIENCY,      /* mean level of the answering agent */
    SIM_F_COUNT
};
extern const char *const sim_fig_name[SIM_F_COUNT];

/* The figures of a campaign's cell, as reported. */
enum sim_ob_fig {
    SIM_OB_DIALS, SIM_OB_ANSWERED, SIM_OB_MACHINE, SIM_OB_BUSY,
    SIM_OB_NO_ANSWER, SIM_OB_FAILED, SIM_OB_CONNECTED, SIM_OB_DROPS,
    SIM_OB_ABANDON_RATE,    /* drops / answered */
    SIM_OB_COUNT
};
extern const char *const sim_ob_fig_name[SIM_OB_COUNT];

/* The figures of every row and interval, and the totals, in one array of
 * (nrows + 1) x (nintervals + 1) x SIM_F_COUNT doubles: row nrows is
 * "all" (every row, every agent once), interval nintervals the total of
 * the row; then, per campaign, (nintervals + 1) x SIM_OB_COUNT. A ratio
 * with nothing to divide is NAN. Returns a new array of
 * sim_report_nvalues() doubles (free()) or NULL when out of memory. */
double *sim_report_values(const struct sim_report *rep);
/* Index of (row, interval, figure) in that array. */
static inline size_t sim_value_index(const struct sim_report *rep,
                                     unsigned row, unsigned iv,
                                     enum sim_fig f)
{
    return ((size_t)row * (rep->nintervals + 1) + iv) * SIM_F_COUNT + f;
}
/* Index of campaign k's (interval, figure) in that array. */
static inline size_t sim_ob_value_index(const struct sim_report *rep,
                                        unsigned k, unsigned iv,
                                        enum sim_ob_fig f)
{
    return (size_t)(rep->nrows + 1) * (rep->nintervals + 1) * SIM_F_COUNT +
           ((size_t)k * (rep->nintervals + 1) + iv) * SIM_OB_COUNT + f;
}
/* The length of that array. */
static inline size_t sim_report_nvalues(const struct sim_report *rep)
{
    return sim_ob_value_index(rep, rep->ncampaigns, 0, (enum sim_ob_fig)0);
}

#endif
