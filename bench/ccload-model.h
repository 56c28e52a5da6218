/* ccload-model.h -- ccload's traffic model: types, YAML loader, sampling.
 *
 * A model file (see bench/scenarios/ and bench/CCLOAD.md) says how
 * contacts arrive (a Poisson rate or a piecewise-linear rate curve), what
 * they are (a mix of classes with shares: queue or skills, channel,
 * language, product, priority, customer value, patience) and who answers
 * them (agent groups: count, skills, queues, capacity, think time, reject
 * probability, handle time, wrap-up). It is read with engine/yamlwalk.h,
 * the walker of the daemon's configuration: one YAML document, unknown
 * keys are errors, and every error names the file, the line and the field.
 *
 * Durations have the syntax of every ccroute file: a number and a unit,
 * "250us", "500ms", "2s", "1.5m", "1h"; a bare number is an error except
 * 0. Distributions are a duration (fixed) or a mapping
 *   {dist: fixed|exponential|lognormal|uniform, mean: D, sigma: S,
 *    min: D, max: D}
 * and are sampled in milliseconds with the model's own seeded generator,
 * so a run is reproducible given the seed (up to the engine's timing).
 */
#ifndef CCROUTE_CCLOAD_MODEL_H
#define CCROUTE_CCLOAD_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MODEL_NAME_MAX 64
#define MODEL_MAX_CLASSES 64
#define MODEL_MAX_GROUPS 64
#define MODEL_MAX_CURVE 64
#define MODEL_MAX_REQ 8
#define MODEL_MAX_SKILLS 32
#define MODEL_MAX_QUEUES 16
#define MODEL_MAX_SHIFTS 8
#define MODEL_MAX_BREAKS 8

enum dist_kind {
    DIST_NONE = 0,      /* never (patience: the customer waits forever) */
    DIST_FIXED,
    DIST_EXPONENTIAL,
    DIST_LOGNORMAL,
    DIST_UNIFORM,
};

struct dist {
    enum dist_kind kind;
    double mean_ms;     /* FIXED, EXPONENTIAL, LOGNORMAL */
    double sigma;       /* LOGNORMAL: sd of the underlying normal */
    double min_ms, max_ms;  /* UNIFORM */
};

struct model_skill {
    char name[MODEL_NAME_MAX];
    unsigned level;
};

struct model_class {
    char name[MODEL_NAME_MAX];
    double share;
    char queue[MODEL_NAME_MAX];          /* "" when routed by skills */
    struct model_skill skills[MODEL_MAX_REQ];
    unsigned nskills;
    int channel;                         /* Ccroute__V1__Channel */
    char language[MODEL_NAME_MAX];
    char product[MODEL_NAME_MAX];
    unsigned priority_lo, priority_hi;   /* uniform integer range */
    unsigned value_lo, value_hi;
    struct dist patience;
    unsigned long line;                  /* of the class in the file */
};

/* Agent schedules (ccsim only; ccload logs every agent in for the whole
 * run). Times are from the start of the run. Agents first..first+count-1
 * of the group (numbered from 1) work the shift / take the break. */
struct model_shift {
    double login_s, logout_s;
    unsigned first, count;
};

struct model_break {
    double at_s, for_s;
    unsigned first, count;
    char reason[32];
};

struct model_group {
    char name[MODEL_NAME_MAX];           /* agent id prefix */
    unsigned count;
    struct model_skill skills[MODEL_MAX_SKILLS];
    unsigned nskills;
    char queues[MODEL_MAX_QUEUES][MODEL_NAME_MAX];
    unsigned nqueues;
    unsigned capacity[5];                /* by Ccroute__V1__Channel; 0: unset */
    struct dist think, handle, wrapup;   /* wrapup NONE: engine's timer */
    double reject;                       /* probability 0..1 */
    unsigned long line;                  /* of the group in the file */
    struct model_shift shifts[MODEL_MAX_SHIFTS];  /* in order of login */
    unsigned nshifts;                    /* 0: logged in all the run */
    struct model_break breaks[MODEL_MAX_BREAKS];
    unsigned nbreaks;
};

/* Outbound (optional `outbound:` section): ccload creates a campaign of
 * `leads` leads in the engine (as an admin), plays its dialer (answers
 * each DialRequest after a ring time with an outcome drawn from the
 * weights) and lets its agents talk with the customers who answer. */
enum { OB_HUMAN, OB_MACHINE, OB_BUSY, OB_NO_ANSWER, OB_FAILED, OB_NOUT };

struct model_outbound {
    bool on;
    char campaign[MODEL_NAME_MAX];       /* + "-<run id>" in the engine */
    char queue[MODEL_NAME_MAX];
    int mode;                            /* Ccroute__V1__DialMode */
    unsigned leads;
    char zone[MODEL_NAME_MAX];           /* every lead's time zone */
    char blend[MODEL_MAX_QUEUES][MODEL_NAME_MAX];
    unsigned nblend;
    unsigned abandon_cap_bp, max_attempts;
    double retry_ms;                     /* every outcome's retry delay */
    double outcome[OB_NOUT];             /* weights */
    struct dist ring, talk;
    unsigned long line;
};

struct model_point {
    double at_s, rate;
};

struct model {
    char name[MODEL_NAME_MAX];
    uint64_t seed;
    double rate;                         /* contacts per second */
    struct model_point curve[MODEL_MAX_CURVE];
    unsigned ncurve;                     /* 0: constant `rate` */
    double duration_s;                   /* 0: not set */
    uint64_t contacts;                   /* 0: not set */
    unsigned connections;
    unsigned window;                     /* max-rate mode window */
    double drain_s;
    double sl_threshold_ms;
    struct model_class classes[MODEL_MAX_CLASSES];
    unsigned nclasses;
    double share_total;
    struct model_group groups[MODEL_MAX_GROUPS];
    unsigned ngroups;
    struct model_outbound ob;
};

/* Loads the model at `path` (defaults first). Returns 0, or -1 with a
 * message "file:line: field: problem" in err. */
int model_load(struct model *m, const char *path, char *err, size_t errlen);
/* Same from a string (tests); `name` appears in messages. */
int model_load_string(struct model *m, const char *name, const char *text,
                      size_t len, char *err, size_t errlen);

/* The arrival rate (per second) at `t_s` seconds into the run: the curve
 * interpolated linearly (held flat after its last point), or the constant
 * rate. */
double model_rate_at(const struct model *m, double t_s);

/* ---- random numbers (xoshiro256**) ---- */

struct rng {
    uint64_t s[4];
};

void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
/* Uniform in [0, 1). */
double rng_unit(struct rng *r);
/* Exponential with the given mean. */
double rng_exp(struct rng *r, double mean);
/* A sample of d in milliseconds (>= 0); -1 for DIST_NONE. */
double dist_sample(const struct dist *d, struct rng *r);
/* Picks a class by share. */
unsigned model_pick_class(const struct model *m, struct rng *r);

#endif
