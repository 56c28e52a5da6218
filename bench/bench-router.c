/* bench-router.c -- the routing core alone, in process, no sockets.
 *
 * What it measures, per scenario (agents x queues x skills x mode):
 *
 *   decisions/s   OFFER events divided by the wall time of a pass that feeds
 *                 the router the whole event stream of a contact centre in
 *                 steady state: arrivals, offers accepted, completions,
 *                 wrap-up ends, abandons, timers (router_tick). Every router
 *                 call is inside the measured time, the driver's own
 *                 bookkeeping too (it is a few array operations per call).
 *   decision      the latency of one router call that produced an offer
 *   latency       (contact arrival -> offer when agents wait; wrap-up done or
 *                 completion -> offer when contacts wait), measured in a
 *                 second pass with a timer around every call, into a
 *                 log-linear histogram (bench/hist.h): p50, p99, p99.9, max.
 *   harness       the latency pass split per decision: time inside router
 *                 calls (the timer's own overhead subtracted) and the rest,
 *                 the driver's (output lists, its own state, timer calls).
 *   memory        per agent and per waiting contact, for every row at its
 *                 own configuration and size, from jemalloc's own
 *                 statistics (stats.allocated after an epoch refresh and a
 *                 tcache flush), as the slope between n/10 and n, so it
 *                 includes preallocated slots and indexes, not just what a
 *                 login allocates. Per agent, with every created queue
 *                 the scenario's arrivals use made after the logins (the
 *                 skills-only virtual queues and their skill groups: an
 *                 agent's entries in their pools), as in steady state;
 *                 the figure before they are made is kept apart.
 *   baselines     two, measured in the same process run, since the
 *                 machines are shared and noisy: the bare loop (first
 *                 available agent with the skill, from an array: a floor,
 *                 not comparable work) and, per row on that row's world,
 *                 the textbook router (run_textbook: string ids hashed, a
 *                 longest idle heap per queue, an idle agent pushed into
 *                 the heap of every queue it serves).
 *
 * Modes. "contacts wait" (contact surplus): a backlog of waiting contacts
 * about as large as the agent population, every agent busy; a completion
 * frees an agent, which is offered the best waiting contact; a new contact
 * arrives for each one that leaves. "agents wait" (agent surplus): about
 * half the agents idle; every arrival is offered at once.
 *
 * Every feature of the routing core is on: multi-channel capacity (voice 1,
 * chat 3, email 2 for most agents; voice blocks the others), expansion steps
 * (lower a level, drop a skill, add a queue), overflow on maximum wait,
 * the five strategies spread over the queues, priorities and customer
 * value, preferred agents, skills-only contacts, wrap-up, abandons.
 *
 * The workload is generated from a seed before anything is timed: contact
 * ids, queues, channels, priorities, patience. The simulated clock moves by
 * a fixed step per arrival (realistic handle times: a few minutes).
 *
 * Output: a human table on stderr, JSON on stdout or --json FILE.
 * Targets are reported (with the miss as a factor), never asserted.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hist.h"
#include "router.h"

#if defined(CCROUTE_JEMALLOC) && CCROUTE_JEMALLOC
#include <jemalloc/jemalloc.h>
#define HAVE_JEMALLOC 1
#else
#define HAVE_JEMALLOC 0
#endif

/* ---- targets (reported, never asserted) ---- */

#define TARGET_DECISIONS_PER_S 5000000.0   /* one core, 10,000 agents */
#define TARGET_P99_NS 1000.0
#define TARGET_AGENT_BYTES 1024.0
#define TARGET_CONTACT_BYTES 512.0

/* ---- timing: rdtsc where the TSC is invariant, else clock_gettime ---- */

static int use_tsc;
static double tsc_per_ns = 1.0;

static inline uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#if defined(__x86_64__)
static inline uint64_t tsc_begin(void)
{
    uint32_t lo, hi;
    __asm__ __volatile__("lfence\n\trdtsc" : "=a"(lo), "=d"(hi)::"memory");
    return ((uint64_t)hi << 32) | lo;
}
static inline uint64_t tsc_end(void)
{
    uint32_t lo, hi, aux;
    __asm__ __volatile__("rdtscp\n\tlfence"
                         : "=a"(lo), "=d"(hi), "=c"(aux)::"memory");
    return ((uint64_t)hi << 32) | lo;
}
#else
static inline uint64_t tsc_begin(void) { return mono_ns(); }
static inline uint64_t tsc_end(void) { return mono_ns(); }
#endif

static inline uint64_t t_begin(void) { return use_tsc ? tsc_begin() : mono_ns(); }
static inline uint64_t t_end(void) { return use_tsc ? tsc_end() : mono_ns(); }
static inline uint64_t t_ns(uint64_t ticks)
{
    return use_tsc ? (uint64_t)((double)ticks / tsc_per_ns + 0.5) : ticks;
}

static void timer_init(void)
{
    use_tsc = 0;
#if defined(__x86_64__)
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[4096];
    int ok = 0;
    if (f) {
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "flags", 5) == 0) {
                ok = strstr(line, " constant_tsc") && strstr(line, " nonstop_tsc")
                     && strstr(line, " rdtscp");
                break;
            }
        }
        fclose(f);
    }
    if (getenv("BENCH_NO_TSC"))
        ok = 0;
    if (ok) {
        uint64_t n0 = mono_ns(), c0 = tsc_begin();
        while (mono_ns() - n0 < 50000000u)
            ;
        uint64_t n1 = mono_ns(), c1 = tsc_end();
        tsc_per_ns = (double)(c1 - c0) / (double)(n1 - n0);
        use_tsc = tsc_per_ns > 0.1;
    }
#endif
}

/* Median cost of an empty timed region, in ns (reported, not subtracted). */
static double timer_overhead_ns(void)
{
    struct hist *h = hist_new(1000000, 3);
    for (int i = 0; i < 100000; i++) {
        uint64_t a = t_begin();
        uint64_t b = t_end();
        hist_record(h, t_ns(b - a));
    }
    double v = (double)hist_percentile(h, 50);
    hist_free(h);
    return v;
}

/* ---- deterministic random numbers (splitmix64) ---- */

static inline uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static inline uint32_t rnd_below(uint64_t *s, uint32_t n)
{
    return n ? (uint32_t)(((rnd(s) >> 32) * (uint64_t)n) >> 32) : 0;
}

/* ---- memory from jemalloc ---- */

static int64_t jem_allocated(void)
{
#if HAVE_JEMALLOC
    uint64_t epoch = 1;
    size_t sz = sizeof epoch;
    size_t allocated = 0;
    mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
    if (mallctl("epoch", &epoch, &sz, &epoch, sz) != 0)
        return -1;
    sz = sizeof allocated;
    if (mallctl("stats.allocated", &allocated, &sz, NULL, 0) != 0)
        return -1;
    return (int64_t)allocated;
#else
    return -1;
#endif
}

/* ---- scenario ---- */

enum mode { MODE_CONTACTS_WAIT = 0, MODE_AGENTS_WAIT = 1 };
static const char *mode_name[] = {"contacts_wait", "agents_wait"};

struct scenario {
    unsigned agents, queues, skills;
    enum mode mode;
};

#define ID_LEN 16
#define NTEMPLATES 64

enum cst { C_NONE = 0, C_WAITING, C_OFFERED, C_ASSIGNED, C_GONE };

/* Everything pre-generated for one scenario, plus the driver's state. */
struct world {
    struct scenario sc;
    uint64_t seed;
    struct router_config cfg;
    struct router_queue_config *qcfg;
    char (*skill_names)[ID_LEN];
    const char **skill_ptrs;

    /* agents */
    char (*agent_id)[ID_LEN];
    struct router_agent_spec *agent_spec;   /* queues point into aq_ptrs */
    const char **aq_ptrs;                   /* 3 per agent */

    /* contacts, pre-generated */
    uint32_t ncontacts;
    char (*contact_id)[ID_LEN];
    uint16_t *c_queue;                      /* queue index, or 0xffff: skills */
    uint8_t *c_channel;
    uint8_t *c_priority;
    uint16_t *c_value;
    uint32_t *c_pref;                       /* agent index + 1, or 0 */
    uint8_t *c_tmpl;                        /* skills-only template */
    uint32_t *c_patience_ms;                /* 0 = never abandons */
    struct router_contact_spec tmpl[NTEMPLATES];

    /* driver state */
    struct router *r;
    uint64_t now;                           /* simulated, us */
    uint64_t step_us;                       /* simulated time per arrival */
    uint32_t next_contact;
    uint8_t *cst;
    uint32_t *c_agent;                      /* agent index while offered/assigned */
    uint64_t *c_arrived;
    /* in-service FIFO (contact indexes), abandon FIFO */
    uint32_t *svc; size_t svc_head, svc_tail, svc_cap;
    uint32_t *wq; size_t wq_head, wq_tail, wq_cap;
    /* work produced by the output list, done before the next input */
    uint32_t *acc; size_t nacc, acc_cap;    /* offers to accept: contact idx */
    uint32_t *wrap; size_t nwrap, wrap_cap; /* agents in wrap-up */
    size_t target_busy;

    /* counters */
    uint64_t offers, calls, errors, ticks, abandons, completes, arrivals;
    uint64_t dup_offer_calls;               /* calls that made > 1 offer */
    int last_err;
    /* latency (set during the latency pass) */
    struct hist *h_decision, *h_other, *h_tick;
    int timed, in_tick;
    uint64_t router_ticks;                  /* timer ticks inside router calls */
};

static void die(const char *msg)
{
    fprintf(stderr, "bench-router: %s\n", msg);
    exit(2);
}

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz);
    if (!p)
        die("out of memory");
    return p;
}

static enum router_channel queue_channel(unsigned q)
{
    unsigned k = q % 10;
    return k < 5 ? ROUTER_CH_VOICE : k < 8 ? ROUTER_CH_CHAT : ROUTER_CH_EMAIL;
}

/* Builds the configuration: queue q requires skill q % S (level 3..7) and,
 * for half the queues, a second skill; strategies rotate; three expansion
 * steps each; every tenth queue overflows to the next after two minutes. */
static void build_config(struct world *w, uint32_t max_contacts)
{
    const struct scenario *sc = &w->sc;
    uint64_t s = w->seed ^ 0xC0FFEEull;
    w->skill_names = xcalloc(sc->skills, sizeof *w->skill_names);
    w->skill_ptrs = xcalloc(sc->skills, sizeof *w->skill_ptrs);
    for (unsigned i = 0; i < sc->skills; i++) {
        snprintf(w->skill_names[i], ID_LEN, "sk%02u", i);
        w->skill_ptrs[i] = w->skill_names[i];
    }
    w->qcfg = xcalloc(sc->queues, sizeof *w->qcfg);
    for (unsigned q = 0; q < sc->queues; q++) {
        struct router_queue_config *qc = &w->qcfg[q];
        snprintf(qc->name, sizeof qc->name, "q%03u", q);
        unsigned s1 = q % sc->skills;
        snprintf(qc->req[0].skill, ROUTER_ID_MAX, "%s", w->skill_names[s1]);
        qc->req[0].min_level = (uint8_t)(3 + rnd_below(&s, 5));
        qc->nreq = 1;
        if (q % 2 == 1) {
            unsigned s2 = (s1 + 1 + rnd_below(&s, sc->skills - 1)) % sc->skills;
            snprintf(qc->req[1].skill, ROUTER_ID_MAX, "%s", w->skill_names[s2]);
            qc->req[1].min_level = (uint8_t)(2 + rnd_below(&s, 4));
            qc->nreq = 2;
        }
        qc->channel_mask = 1u << queue_channel(q);
        qc->strategy = (enum router_strategy)(q % 5);
        qc->sl_percent = 80;
        qc->sl_threshold_ms = 20000;
        qc->offer_timeout_ms = 15000;
        qc->wrapup_ms = 5000;
        qc->max_len = 0;
        if (q % 10 == 0 && sc->queues > 1) {
            qc->max_wait_ms = 120000;
            snprintf(qc->overflow, sizeof qc->overflow, "q%03u",
                     (q + 1) % sc->queues);
        }
        unsigned n = 0;
        qc->steps[n].after_ms = 10000;
        qc->steps[n].kind = ROUTER_STEP_LOWER_LEVEL;
        snprintf(qc->steps[n].skill, ROUTER_ID_MAX, "%s", qc->req[0].skill);
        qc->steps[n].level = 1;
        n++;
        if (qc->nreq == 2) {
            qc->steps[n].after_ms = 30000;
            qc->steps[n].kind = ROUTER_STEP_DROP_SKILL;
            snprintf(qc->steps[n].skill, ROUTER_ID_MAX, "%s", qc->req[1].skill);
            n++;
        }
        if (sc->queues > 1) {
            qc->steps[n].after_ms = 60000;
            qc->steps[n].kind = ROUTER_STEP_ADD_QUEUE;
            snprintf(qc->steps[n].queue, ROUTER_ID_MAX, "q%03u",
                     (q + sc->queues / 2) % sc->queues);
            n++;
        }
        qc->nsteps = n;
    }
    memset(&w->cfg, 0, sizeof w->cfg);
    w->cfg.queues = w->qcfg;
    w->cfg.nqueues = sc->queues;
    w->cfg.skills = w->skill_ptrs;
    w->cfg.nskills = sc->skills;
    w->cfg.max_agents = sc->agents + 16;
    w->cfg.max_contacts = max_contacts;
    w->cfg.priority_weight_ms = 1000;
    w->cfg.value_weight_ms = 10;
    w->cfg.preferred_wait_ms = 2000;
    w->cfg.max_no_answer = 3;
    w->cfg.voice_blocks_others = true;
    w->cfg.default_offer_timeout_ms = 15000;
}

/* Agents: each is trained for 1-3 "home" queues (their skills at the
 * queue's level or better) plus 1-4 other skills at random levels; half
 * list their queues, half serve every queue they qualify for; 60% are
 * multi-channel. */
static void build_agents(struct world *w)
{
    const struct scenario *sc = &w->sc;
    uint64_t s = w->seed ^ 0xA6E7ull;
    w->agent_id = xcalloc(sc->agents, sizeof *w->agent_id);
    w->agent_spec = xcalloc(sc->agents, sizeof *w->agent_spec);
    w->aq_ptrs = xcalloc((size_t)sc->agents * 3, sizeof *w->aq_ptrs);
    uint8_t *lvl = xcalloc(sc->skills, 1);
    for (unsigned a = 0; a < sc->agents; a++) {
        struct router_agent_spec *sp = &w->agent_spec[a];
        snprintf(w->agent_id[a], ID_LEN, "a%06u", a);
        sp->id = w->agent_id[a];
        memset(lvl, 0, sc->skills);
        unsigned nhome = 1 + rnd_below(&s, 3);
        for (unsigned k = 0; k < nhome; k++) {
            unsigned q = rnd_below(&s, sc->queues);
            const struct router_queue_config *qc = &w->qcfg[q];
            for (unsigned j = 0; j < qc->nreq; j++) {
                unsigned sk = (unsigned)atoi(qc->req[j].skill + 2);
                unsigned l = qc->req[j].min_level
                             + rnd_below(&s, 11 - qc->req[j].min_level);
                if (l > lvl[sk])
                    lvl[sk] = (uint8_t)l;
            }
            w->aq_ptrs[a * 3 + k] = qc->name;
        }
        unsigned nextra = 1 + rnd_below(&s, 4);
        for (unsigned k = 0; k < nextra; k++) {
            unsigned sk = rnd_below(&s, sc->skills);
            if (!lvl[sk])
                lvl[sk] = (uint8_t)(1 + rnd_below(&s, 10));
        }
        for (unsigned sk = 0; sk < sc->skills && sp->nskills < ROUTER_MAX_SKILLS; sk++) {
            if (!lvl[sk])
                continue;
            snprintf(sp->skills[sp->nskills].skill, ROUTER_ID_MAX, "%s",
                     w->skill_names[sk]);
            sp->skills[sp->nskills].level = lvl[sk];
            sp->nskills++;
        }
        if (rnd_below(&s, 10) < 6) {
            sp->capacity[ROUTER_CH_VOICE] = 1;
            sp->capacity[ROUTER_CH_CHAT] = 3;
            sp->capacity[ROUTER_CH_EMAIL] = 2;
        } else {
            sp->capacity[ROUTER_CH_VOICE] = 1;
        }
        if (a % 2 == 0) {
            sp->queues = &w->aq_ptrs[a * 3];
            sp->nqueues = nhome;
        }
    }
    free(lvl);
}

/* Contacts: queue by a skewed distribution (a few busy queues, a long
 * tail), channel of the queue, 10% with priority, customer value, 1% with
 * a preferred agent, 5% skills-only; patience: in contact surplus 3%
 * abandon after 20-80 s, in agent surplus every contact gives up after
 * 30-90 s if still waiting. */
static void build_contacts(struct world *w, uint32_t n)
{
    const struct scenario *sc = &w->sc;
    uint64_t s = w->seed ^ 0xC047ull;
    w->ncontacts = n;
    w->contact_id = xcalloc(n, sizeof *w->contact_id);
    w->c_queue = xcalloc(n, sizeof *w->c_queue);
    w->c_channel = xcalloc(n, 1);
    w->c_priority = xcalloc(n, 1);
    w->c_value = xcalloc(n, sizeof *w->c_value);
    w->c_pref = xcalloc(n, sizeof *w->c_pref);
    w->c_tmpl = xcalloc(n, 1);
    w->c_patience_ms = xcalloc(n, sizeof *w->c_patience_ms);
    for (unsigned t = 0; t < NTEMPLATES; t++) {
        struct router_contact_spec *sp = &w->tmpl[t];
        memset(sp, 0, sizeof *sp);
        sp->queue = NULL;
        unsigned sk = rnd_below(&s, sc->skills);
        snprintf(sp->skills[0].skill, ROUTER_ID_MAX, "%s", w->skill_names[sk]);
        sp->skills[0].min_level = (uint8_t)(1 + rnd_below(&s, 5));
        sp->nskills = 1;
        sp->channel = (enum router_channel)rnd_below(&s, 3);
    }
    for (uint32_t i = 0; i < n; i++) {
        snprintf(w->contact_id[i], ID_LEN, "c%08" PRIu32, i);
        uint32_t u = rnd_below(&s, 100);
        if (u < 5) {
            w->c_queue[i] = 0xffff;
            w->c_tmpl[i] = (uint8_t)rnd_below(&s, NTEMPLATES);
            w->c_channel[i] = (uint8_t)w->tmpl[w->c_tmpl[i]].channel;
        } else {
            /* half the traffic on the first fifth of the queues */
            unsigned q = rnd_below(&s, 2) ? rnd_below(&s, (sc->queues + 4) / 5)
                                          : rnd_below(&s, sc->queues);
            w->c_queue[i] = (uint16_t)q;
            w->c_channel[i] = (uint8_t)queue_channel(q);
        }
        w->c_priority[i] = rnd_below(&s, 10) == 0 ? (uint8_t)(1 + rnd_below(&s, 10)) : 0;
        w->c_value[i] = (uint16_t)rnd_below(&s, 1001);
        w->c_pref[i] = rnd_below(&s, 100) == 0 ? 1 + rnd_below(&s, sc->agents) : 0;
        if (sc->mode == MODE_CONTACTS_WAIT)
            w->c_patience_ms[i] = rnd_below(&s, 100) < 3 ? 20000 + rnd_below(&s, 60000) : 0;
        else
            w->c_patience_ms[i] = 30000 + rnd_below(&s, 60000);
    }
}

/* ---- the driver ---- */

static void push_u32(uint32_t **v, size_t *n, size_t *cap, uint32_t x)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 1024;
        *v = realloc(*v, *cap * sizeof **v);
        if (!*v)
            die("out of memory");
    }
    (*v)[(*n)++] = x;
}

static void ring_push(uint32_t **v, size_t *head, size_t *tail, size_t *cap,
                      uint32_t x)
{
    if (*tail - *head == *cap) {
        size_t ncap = *cap ? *cap * 2 : 1024;
        uint32_t *nv = xcalloc(ncap, sizeof *nv);
        for (size_t i = *head; i < *tail; i++)
            nv[i - *head] = (*v)[i % *cap];
        free(*v);
        *v = nv;
        *tail -= *head;
        *head = 0;
        *cap = ncap;
    }
    (*v)[(*tail)++ % *cap] = x;
}

/* Reads the output list of the last call: offers are accepted next, agents
 * in wrap-up end it next, contact states are tracked. Returns offers. */
static unsigned drain(struct world *w)
{
    struct router *r = w->r;
    size_t n = router_out_count(r);
    unsigned offers = 0;
    for (size_t i = 0; i < n; i++) {
        const struct router_event *ev = router_out_get(r, i);
        uint32_t c = ev->contact != UINT32_MAX ? router_contact_tag(r, ev->contact)
                                               : UINT32_MAX;
        switch (ev->type) {
        case ROUTER_EV_OFFER:
            offers++;
            if (c < w->ncontacts) {
                w->cst[c] = C_OFFERED;
                w->c_agent[c] = router_agent_tag(r, ev->agent);
                push_u32(&w->acc, &w->nacc, &w->acc_cap, c);
            }
            break;
        case ROUTER_EV_QUEUED:
        case ROUTER_EV_REJECTED:
        case ROUTER_EV_REVOKED:
            if (c < w->ncontacts && w->cst[c] != C_GONE)
                w->cst[c] = C_WAITING;
            break;
        case ROUTER_EV_ASSIGNED:
            if (c < w->ncontacts) {
                w->cst[c] = C_ASSIGNED;
                ring_push(&w->svc, &w->svc_head, &w->svc_tail, &w->svc_cap, c);
            }
            break;
        case ROUTER_EV_CONTACT_GONE:
            if (c < w->ncontacts)
                w->cst[c] = C_GONE;
            break;
        case ROUTER_EV_AGENT_STATE:
            if (ev->u.agent_state == ROUTER_AGENT_STATE_WRAPUP
                && ev->agent != UINT32_MAX)
                push_u32(&w->wrap, &w->nwrap, &w->wrap_cap,
                         router_agent_tag(r, ev->agent));
            break;
        default:
            break;
        }
    }
    router_out_clear(r);
    w->offers += offers;
    return offers;
}

/* Every router call goes through CALL(): timed in the latency pass, its
 * output drained, its latency filed under "decision" when it made an offer. */
#define CALL(w, expr)                                                       \
    do {                                                                    \
        int rc_;                                                            \
        if ((w)->timed) {                                                   \
            uint64_t t0_ = t_begin();                                       \
            rc_ = (expr);                                                   \
            uint64_t t1_ = t_end();                                         \
            (w)->router_ticks += t1_ - t0_;                                 \
            unsigned o_ = drain(w);                                         \
            hist_record((w)->in_tick ? (w)->h_tick                          \
                        : o_ ? (w)->h_decision : (w)->h_other,              \
                        t_ns(t1_ - t0_));                                   \
            if (o_ > 1 && !(w)->in_tick)                                    \
                (w)->dup_offer_calls++;                                     \
        } else {                                                            \
            rc_ = (expr);                                                   \
            drain(w);                                                       \
        }                                                                   \
        (w)->calls++;                                                       \
        if (rc_ < 0) {                                                      \
            (w)->errors++;                                                  \
            (w)->last_err = rc_;                                            \
        }                                                                   \
    } while (0)

#define TICK(w)                                                             \
    do {                                                                    \
        if ((w)->now >= router_next_deadline((w)->r)) {                     \
            (w)->in_tick = 1;                                               \
            CALL(w, (router_tick((w)->r, (w)->now), 0));                    \
            (w)->in_tick = 0;                                               \
            (w)->ticks++;                                                   \
        }                                                                   \
    } while (0)

/* Accepts pending offers and ends pending wrap-ups until no work is left. */
static void settle(struct world *w)
{
    while (w->nacc || w->nwrap) {
        while (w->nacc) {
            uint32_t c = w->acc[--w->nacc];
            if (w->cst[c] != C_OFFERED)
                continue;
            CALL(w, router_offer_accept(w->r, w->now, w->contact_id[c],
                                        w->agent_id[w->c_agent[c]]));
        }
        while (w->nwrap && !w->nacc) {
            uint32_t a = w->wrap[--w->nwrap];
            CALL(w, router_agent_set_state(w->r, w->now, w->agent_id[a],
                                           ROUTER_AGENT_WRAPUP_DONE, NULL));
        }
    }
}

static void arrive(struct world *w)
{
    if (w->next_contact >= w->ncontacts)
        return;
    uint32_t c = w->next_contact++;
    struct router_contact_spec sp;
    if (w->c_queue[c] == 0xffff) {
        sp = w->tmpl[w->c_tmpl[c]];
    } else {
        sp.queue = w->qcfg[w->c_queue[c]].name;
        sp.nskills = 0;
        sp.channel = (enum router_channel)w->c_channel[c];
    }
    sp.id = w->contact_id[c];
    sp.priority = w->c_priority[c];
    sp.value = w->c_value[c];
    sp.preferred_agent = w->c_pref[c] ? w->agent_id[w->c_pref[c] - 1] : NULL;
    w->cst[c] = C_WAITING;
    w->c_arrived[c] = w->now;
    uint32_t h;
    CALL(w, router_contact_arrive(w->r, w->now, &sp, c, &h));
    w->arrivals++;
    if (w->c_patience_ms[c])
        ring_push(&w->wq, &w->wq_head, &w->wq_tail, &w->wq_cap, c);
    w->now += w->step_us;
}

/* Completes the oldest contact in service, if any. */
static int complete_oldest(struct world *w)
{
    while (w->svc_tail > w->svc_head) {
        uint32_t c = w->svc[w->svc_head++ % w->svc_cap];
        if (w->cst[c] != C_ASSIGNED)
            continue;
        CALL(w, router_contact_complete(w->r, w->now, w->contact_id[c]));
        w->completes++;
        return 1;
    }
    return 0;
}

/* Abandons contacts whose patience ran out while still waiting. */
static void abandons(struct world *w)
{
    while (w->wq_tail > w->wq_head) {
        uint32_t c = w->wq[w->wq_head % w->wq_cap];
        if (w->cst[c] != C_WAITING && w->cst[c] != C_OFFERED) {
            w->wq_head++;
            continue;
        }
        if (w->c_arrived[c] + (uint64_t)w->c_patience_ms[c] * 1000 > w->now)
            break;
        w->wq_head++;
        CALL(w, router_contact_abandon(w->r, w->now, w->contact_id[c]));
        w->abandons++;
        settle(w);
    }
}

/* One step of the steady state. */
static void step(struct world *w)
{
    if (w->sc.mode == MODE_CONTACTS_WAIT) {
        /* an agent finishes a contact; wrap-up ends; the freed agent takes
         * the best waiting contact (the decision); a new contact arrives */
        complete_oldest(w);
        settle(w);
        arrive(w);
        settle(w);
    } else {
        arrive(w);              /* the decision */
        settle(w);
        while ((size_t)(w->svc_tail - w->svc_head) > w->target_busy) {
            complete_oldest(w);
            settle(w);
        }
    }
    abandons(w);
    TICK(w);
    settle(w);
}

static _Atomic unsigned rc_login_errors;

/* Time limits (mono_ns() instants; 0 = none): the suite must finish even
 * when the router is slow, so setup and passes stop at a deadline and the
 * scenario says so. */
static uint64_t g_setup_deadline;
static uint64_t g_setup_ns = 30000000000ull;   /* per scenario setup */
static uint64_t g_pass_ns = 1000000000ull;     /* per measured pass */

static int past(uint64_t deadline, unsigned i)
{
    return deadline && (i & 63) == 0 && mono_ns() > deadline;
}

/* Returns 0, -1 (router_new failed) or -2 (setup deadline passed); `why`
 * receives the reason. */
static int world_setup(struct world *w, const struct scenario *sc,
                       uint64_t seed, uint32_t measured_steps,
                       char *why, size_t whylen)
{
    uint64_t t0 = mono_ns();
    memset(w, 0, sizeof *w);
    w->sc = *sc;
    w->seed = seed;
    uint32_t backlog = sc->mode == MODE_CONTACTS_WAIT ? sc->agents : 0;
    /* contacts in service: about one per agent (some agents hold chats) */
    uint32_t ncontacts = backlog + sc->agents * 2 + measured_steps + 1024;
    uint32_t max_contacts = backlog + sc->agents * 4 + 4096;
    build_config(w, max_contacts);
    build_agents(w);
    build_contacts(w, ncontacts);
    w->cst = xcalloc(ncontacts, 1);
    w->c_agent = xcalloc(ncontacts, sizeof *w->c_agent);
    w->c_arrived = xcalloc(ncontacts, sizeof *w->c_arrived);
    /* handle time ~ 300 s spread over the agents: one arrival per step */
    w->step_us = 300000000ull / sc->agents;
    if (w->step_us == 0)
        w->step_us = 1;
    w->target_busy = sc->agents / 2;
    const char *err = NULL;
    w->r = router_new(&w->cfg, seed, &err);
    if (!w->r) {
        snprintf(why, whylen, "router_new: %s", err ? err : "?");
        return -1;
    }
    w->now = 1000000;
    for (unsigned a = 0; a < sc->agents; a++) {
        uint32_t h;
        if (past(g_setup_deadline, a)) {
            snprintf(why, whylen, "setup too slow: %u of %u agents logged in "
                     "after %.1f s (%.1f us per login)", a, sc->agents,
                     (double)(mono_ns() - t0) / 1e9,
                     (double)(mono_ns() - t0) / 1e3 / (a ? a : 1));
            return -2;
        }
        int rc = router_agent_login(w->r, w->now, &w->agent_spec[a], a, &h);
        drain(w);
        if (rc < 0) {
            rc_login_errors++;
            continue;
        }
        rc = router_agent_set_state(w->r, w->now, w->agent_id[a],
                                    ROUTER_AGENT_AVAILABLE, NULL);
        drain(w);
        settle(w);
    }
    w->offers = 0;
    /* fill: in contact surplus, arrivals until every agent is busy and the
     * backlog stands; in agent surplus, until half the agents are busy */
    if (sc->mode == MODE_CONTACTS_WAIT) {
        uint32_t target = backlog + sc->agents;
        while (w->next_contact < target && w->next_contact < ncontacts) {
            if (past(g_setup_deadline, w->next_contact))
                goto slow;
            arrive(w);
            settle(w);
        }
    } else {
        while ((size_t)(w->svc_tail - w->svc_head) < w->target_busy
               && w->next_contact < ncontacts / 2) {
            if (past(g_setup_deadline, w->next_contact))
                goto slow;
            arrive(w);
            settle(w);
        }
    }
    return 0;
slow:
    snprintf(why, whylen, "setup too slow: %u contacts queued after %.1f s",
             w->next_contact, (double)(mono_ns() - t0) / 1e9);
    return -2;
}

static void world_free(struct world *w)
{
    if (w->r)
        router_free(w->r);
    free(w->qcfg);
    free(w->skill_names);
    free(w->skill_ptrs);
    free(w->agent_id);
    free(w->agent_spec);
    free(w->aq_ptrs);
    free(w->contact_id);
    free(w->c_queue);
    free(w->c_channel);
    free(w->c_priority);
    free(w->c_value);
    free(w->c_pref);
    free(w->c_tmpl);
    free(w->c_patience_ms);
    free(w->cst);
    free(w->c_agent);
    free(w->c_arrived);
    free(w->svc);
    free(w->wq);
    free(w->acc);
    free(w->wrap);
    memset(w, 0, sizeof *w);
}

/* ---- results ---- */

struct result {
    struct scenario sc;
    int ok;
    char skip[160];
    double setup_s;
    uint64_t offers, calls, errors, ticks, abandons, arrivals, completes;
    int last_err;
    double seconds, decisions_per_s, calls_per_s;
    double decision_only_per_s;          /* offers / time inside decision calls */
    uint64_t lat_n, other_n, multi_offer_calls;
    double p50, p99, p999, pmax, mean;   /* ns, decision calls */
    double other_p50, other_p99;
    uint64_t tick_n;                     /* router_tick() calls, apart */
    double tick_p50, tick_p99, tick_max;
    unsigned waiting_end, agents_end;
    uint32_t tp_steps, lat_steps;        /* steps run (passes are time-capped) */
    /* the latency pass split: time inside router calls (timer overhead
     * subtracted) and the rest (the driver: output lists, its own state,
     * the timer calls), per decision */
    double router_ns_per_decision, harness_ns_per_decision;
    double calls_per_decision;
    /* memory at this row's configuration and size (see run_memory) */
    int mem_ok;
    double bytes_per_agent, bytes_per_contact;
    double bytes_per_agent_no_virtual;
    int created_queues;
    char mem_skip[120];
    /* the textbook router on this row's world (see run_textbook) */
    double textbook_ns_per_decision;
};

static double g_tover;                   /* timer overhead, ns */

/* Runs a scenario: setup, warm-up, throughput pass, latency pass. */
static void run_scenario(const struct scenario *sc, uint64_t seed,
                         uint32_t steps, struct result *res)
{
    struct world w;
    memset(res, 0, sizeof *res);
    res->sc = *sc;
    uint64_t t0 = mono_ns();
    uint32_t warm = steps / 10 + 1000;
    g_setup_deadline = g_setup_ns ? t0 + g_setup_ns : 0;
    if (world_setup(&w, sc, seed, warm + 2 * steps, res->skip,
                    sizeof res->skip) < 0) {
        world_free(&w);
        return;
    }
    res->setup_s = (double)(mono_ns() - t0) / 1e9;
    uint64_t dl = g_pass_ns ? mono_ns() + g_pass_ns / 4 : 0;
    for (uint32_t i = 0; i < warm && !past(dl, i); i++)
        step(&w);

    /* throughput: `steps` steps or g_pass_ns, whichever comes first */
    w.offers = w.calls = w.errors = w.ticks = w.abandons = 0;
    w.arrivals = w.completes = 0;
    uint64_t a = mono_ns();
    dl = g_pass_ns ? a + g_pass_ns : 0;
    uint32_t i;
    for (i = 0; i < steps && !past(dl, i); i++)
        step(&w);
    uint64_t b = mono_ns();
    res->tp_steps = i;
    res->offers = w.offers;
    res->calls = w.calls;
    res->errors = w.errors;
    res->last_err = w.last_err;
    res->ticks = w.ticks;
    res->abandons = w.abandons;
    res->arrivals = w.arrivals;
    res->completes = w.completes;
    res->seconds = (double)(b - a) / 1e9;
    res->decisions_per_s = (double)w.offers / res->seconds;
    res->calls_per_s = (double)w.calls / res->seconds;

    /* latency */
    w.h_decision = hist_new(10000000000ull, 3);
    w.h_other = hist_new(10000000000ull, 3);
    w.h_tick = hist_new(10000000000ull, 3);
    w.timed = 1;
    w.router_ticks = 0;
    uint64_t lat_offers = w.offers, lat_calls = w.calls;
    uint64_t la = mono_ns();
    dl = g_pass_ns ? la + g_pass_ns : 0;
    for (i = 0; i < steps && !past(dl, i); i++)
        step(&w);
    uint64_t lb = mono_ns();
    w.timed = 0;
    lat_offers = w.offers - lat_offers;
    lat_calls = w.calls - lat_calls;
    if (lat_offers) {
        double rns = (double)t_ns(w.router_ticks) - g_tover * (double)lat_calls;
        if (rns < 0)
            rns = 0;
        res->router_ns_per_decision = rns / (double)lat_offers;
        res->harness_ns_per_decision =
            ((double)(lb - la) - rns) / (double)lat_offers;
        res->calls_per_decision = (double)lat_calls / (double)lat_offers;
    }
    res->lat_steps = i;
    res->lat_n = hist_count(w.h_decision);
    res->other_n = hist_count(w.h_other);
    res->multi_offer_calls = w.dup_offer_calls;
    res->p50 = (double)hist_percentile(w.h_decision, 50);
    res->p99 = (double)hist_percentile(w.h_decision, 99);
    res->p999 = (double)hist_percentile(w.h_decision, 99.9);
    res->pmax = (double)hist_max(w.h_decision);
    res->mean = hist_mean(w.h_decision);
    res->decision_only_per_s = res->mean > 0 ? 1e9 / res->mean : 0;
    res->other_p50 = (double)hist_percentile(w.h_other, 50);
    res->other_p99 = (double)hist_percentile(w.h_other, 99);
    res->tick_n = hist_count(w.h_tick);
    res->tick_p50 = (double)hist_percentile(w.h_tick, 50);
    res->tick_p99 = (double)hist_percentile(w.h_tick, 99);
    res->tick_max = (double)hist_max(w.h_tick);
    hist_free(w.h_tick);
    res->waiting_end = router_contact_count(w.r);
    res->agents_end = router_agent_count(w.r);
    hist_free(w.h_decision);
    hist_free(w.h_other);
    res->ok = res->offers > 0;
    if (!res->ok)
        snprintf(res->skip, sizeof res->skip, "no offers made (errors %" PRIu64
                 ", last %s)", w.errors, ccr_strerror(w.last_err));
    world_free(&w);
}

/* ---- baseline: the simplest in-memory routing loop ---- */

struct baseline_result {
    double ns_per_decision, decisions_per_s, p50, p99, p999;
};

/* Agents in an array with a level per skill; a contact needs one skill at
 * a level; the decision is "the first available agent with the skill at
 * that level", found by a scan of the array from where the last scan
 * stopped (next fit, so that busy agents do not pile up in front of it);
 * the agent becomes busy and the oldest busy agent is freed, so half the
 * agents are busy. No queues, no strategies, no timers, no ids: the
 * floor of what any router has to do per decision. */
static void run_baseline(unsigned nagents, unsigned nskills, uint64_t seed,
                         uint32_t steps, struct baseline_result *out)
{
    uint64_t s = seed ^ 0xBA5Eull;
    uint8_t *lv = xcalloc((size_t)nagents * nskills, 1);
    uint8_t *busy = xcalloc(nagents, 1);
    uint32_t *fifo = xcalloc(nagents, sizeof *fifo);
    size_t fh = 0, ft = 0;
    unsigned cur = 0;
    for (unsigned a = 0; a < nagents; a++)
        for (unsigned k = 0; k < 4; k++)
            lv[(size_t)a * nskills + rnd_below(&s, nskills)] = (uint8_t)(1 + rnd_below(&s, 10));
    uint32_t *need = xcalloc(steps, sizeof *need);
    for (uint32_t i = 0; i < steps; i++)
        need[i] = rnd_below(&s, nskills) << 8 | (1 + rnd_below(&s, 5));
    struct hist *h = hist_new(10000000000ull, 3);
    uint64_t found = 0;
    for (int pass = 0; pass < 2; pass++) {
        uint64_t a0 = mono_ns();
        for (uint32_t i = 0; i < steps; i++) {
            uint64_t t0 = pass ? t_begin() : 0;
            unsigned sk = need[i] >> 8, ml = need[i] & 0xff;
            unsigned a = cur, n;
            for (n = 0; n < nagents; n++) {
                if (!busy[a] && lv[(size_t)a * nskills + sk] >= ml)
                    break;
                if (++a == nagents)
                    a = 0;
            }
            if (n < nagents) {
                busy[a] = 1;
                fifo[ft++ % nagents] = a;
                cur = a + 1 == nagents ? 0 : a + 1;
                found++;
            }
            if (pass)
                hist_record(h, t_ns(t_end() - t0));
            if (ft - fh > nagents / 2)
                busy[fifo[fh++ % nagents]] = 0;
        }
        uint64_t a1 = mono_ns();
        if (!pass) {
            out->ns_per_decision = (double)(a1 - a0) / steps;
            out->decisions_per_s = 1e9 / out->ns_per_decision;
        }
    }
    out->p50 = (double)hist_percentile(h, 50);
    out->p99 = (double)hist_percentile(h, 99);
    out->p999 = (double)hist_percentile(h, 99.9);
    if (found == 0)
        fprintf(stderr, "bench-router: baseline found no agent\n");
    hist_free(h);
    free(lv);
    free(busy);
    free(fifo);
    free(need);
}

/* ---- the textbook router: a comparable baseline ---- */

/* What a straightforward router does for the same world, in the same
 * agent-surplus loop for both modes: contact ids hashed into an open
 * addressing table on arrival and looked up on completion; one binary
 * heap of idle agents per queue (longest idle first, lazy deletion by an
 * agent epoch); an agent that becomes idle is pushed into the heap of
 * every queue it serves (its tier-0 queues by skills and its list), as
 * the engine appends it to every pool it has. No levels, channels,
 * capacity, strategies, timers, events or statistics: the work any
 * router with per-queue pools does per decision, and no more. */
struct tb_rec {
    uint64_t key;
    uint32_t agent, ep;
};

struct tb_heap {
    struct tb_rec *v;
    uint32_t len, cap;
};

static inline int tb_less(const struct tb_rec *a, const struct tb_rec *b)
{
    return a->key < b->key;
}

static void tb_sift_down(struct tb_heap *h, uint32_t i)
{
    struct tb_rec x = h->v[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= h->len)
            break;
        if (c + 1 < h->len && tb_less(&h->v[c + 1], &h->v[c]))
            c++;
        if (!tb_less(&h->v[c], &x))
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    h->v[i] = x;
}

static void tb_push(struct tb_heap *h, struct tb_rec x, const uint32_t *ep)
{
    if (h->len == h->cap) {         /* drop stale records, heapify */
        uint32_t n = 0;
        for (uint32_t i = 0; i < h->len; i++)
            if (h->v[i].ep == ep[h->v[i].agent])
                h->v[n++] = h->v[i];
        h->len = n;
        for (uint32_t i = n / 2; i-- > 0;)
            tb_sift_down(h, i);
    }
    uint32_t i = h->len++;
    while (i > 0 && tb_less(&x, &h->v[(i - 1) / 2])) {
        h->v[i] = h->v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->v[i] = x;
}

static void tb_pop(struct tb_heap *h)
{
    h->v[0] = h->v[--h->len];
    if (h->len)
        tb_sift_down(h, 0);
}

static uint64_t tb_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    while (*s)
        h = (h ^ (uint8_t)*s++) * 1099511628211ull;
    return h;
}

/* Open addressing with linear probing and backward-shift deletion; slots
 * hold contact indexes + 1 (0: empty). */
struct tb_map {
    uint32_t *slot;
    uint32_t mask;
    char (*ids)[ID_LEN];
};

static void tb_map_put(struct tb_map *m, uint32_t c)
{
    uint32_t i = (uint32_t)tb_hash(m->ids[c]) & m->mask;
    while (m->slot[i])
        i = (i + 1) & m->mask;
    m->slot[i] = c + 1;
}

static uint32_t tb_map_take(struct tb_map *m, const char *id)
{
    uint32_t i = (uint32_t)tb_hash(id) & m->mask;
    while (m->slot[i] && strcmp(m->ids[m->slot[i] - 1], id))
        i = (i + 1) & m->mask;
    uint32_t c = m->slot[i] ? m->slot[i] - 1 : UINT32_MAX;
    if (c == UINT32_MAX)
        return c;
    m->slot[i] = 0;
    for (uint32_t j = (i + 1) & m->mask; m->slot[j]; j = (j + 1) & m->mask) {
        uint32_t k = (uint32_t)tb_hash(m->ids[m->slot[j] - 1]) & m->mask;
        /* move j back to the hole at i unless its home lies in (i, j] */
        if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
            m->slot[i] = m->slot[j];
            m->slot[j] = 0;
            i = j;
        }
    }
    return c;
}

/* ns per decision of the textbook router on the world of scenario sc. */
static double run_textbook(const struct scenario *sc, uint64_t seed,
                           uint32_t steps)
{
    struct world w;
    memset(&w, 0, sizeof w);
    w.sc = *sc;
    w.seed = seed;
    uint32_t nc = steps + sc->agents + 1024;
    build_config(&w, 1024);
    build_agents(&w);
    build_contacts(&w, nc);
    unsigned na = sc->agents, nq = sc->queues;
    /* skill levels by index, queues each agent serves */
    uint8_t *lvl = xcalloc((size_t)na * sc->skills, 1);
    for (unsigned a = 0; a < na; a++)
        for (unsigned k = 0; k < w.agent_spec[a].nskills; k++)
            lvl[(size_t)a * sc->skills
                + (unsigned)atoi(w.agent_spec[a].skills[k].skill + 2)] =
                w.agent_spec[a].skills[k].level;
    uint32_t *qoff = xcalloc(na + 1, sizeof *qoff);
    uint32_t *qlist = NULL;
    size_t nql = 0, qcap = 0;
    uint32_t *members = xcalloc(nq, sizeof *members);
    for (unsigned a = 0; a < na; a++) {
        qoff[a] = (uint32_t)nql;
        const struct router_agent_spec *sp = &w.agent_spec[a];
        for (unsigned q = 0; q < nq; q++) {
            const struct router_queue_config *qc = &w.qcfg[q];
            int ok = 1;
            for (unsigned j = 0; j < qc->nreq && ok; j++)
                ok = lvl[(size_t)a * sc->skills
                         + (unsigned)atoi(qc->req[j].skill + 2)]
                     >= qc->req[j].min_level;
            if (ok && sp->nqueues) {
                ok = 0;
                for (unsigned k = 0; k < sp->nqueues; k++)
                    ok |= !strcmp(sp->queues[k], qc->name);
            }
            if (ok) {
                push_u32(&qlist, &nql, &qcap, q);
                members[q]++;
            }
        }
    }
    qoff[na] = (uint32_t)nql;
    struct tb_heap *heap = xcalloc(nq, sizeof *heap);
    for (unsigned q = 0; q < nq; q++) {
        heap[q].cap = 2 * members[q] + 16;
        heap[q].v = xcalloc(heap[q].cap, sizeof *heap[q].v);
    }
    uint32_t *ep = xcalloc(na, sizeof *ep);
    uint32_t *c_agent = xcalloc(nc, sizeof *c_agent);
    uint32_t *fifo = xcalloc(na + 1, sizeof *fifo);
    size_t fh = 0, ft = 0;
    struct tb_map m = {NULL, 0, w.contact_id};
    uint32_t mcap = 1024;
    while (mcap < 2 * (na + 1))
        mcap *= 2;
    m.slot = xcalloc(mcap, sizeof *m.slot);
    m.mask = mcap - 1;
    uint64_t seq = 0;
    for (unsigned a = 0; a < na; a++) {
        ep[a]++;
        for (uint32_t k = qoff[a]; k < qoff[a + 1]; k++)
            tb_push(&heap[qlist[k]], (struct tb_rec){++seq, a, ep[a]}, ep);
    }
    uint64_t decisions = 0;
    uint32_t warm = steps / 10, c = 0;
    uint64_t t0 = 0;
    for (uint32_t i = 0; i < warm + steps && c < nc; i++, c++) {
        if (i == warm) {
            t0 = mono_ns();
            decisions = 0;
        }
        unsigned q = w.c_queue[c] == 0xffff ? c % nq : w.c_queue[c];
        tb_map_put(&m, c);
        struct tb_heap *h = &heap[q];
        while (h->len && h->v[0].ep != ep[h->v[0].agent])
            tb_pop(h);
        if (!h->len) {
            tb_map_take(&m, w.contact_id[c]);   /* nobody: it leaves */
            continue;
        }
        uint32_t a = h->v[0].agent;
        tb_pop(h);
        ep[a]++;                                /* busy: stale everywhere */
        c_agent[c] = a;
        fifo[ft++ % (na + 1)] = c;
        decisions++;
        while (ft - fh > na / 2) {              /* the oldest completes */
            uint32_t done = fifo[fh++ % (na + 1)];
            uint32_t cc = tb_map_take(&m, w.contact_id[done]);
            uint32_t b = c_agent[cc];
            ep[b]++;
            seq++;
            for (uint32_t k = qoff[b]; k < qoff[b + 1]; k++)
                tb_push(&heap[qlist[k]], (struct tb_rec){seq, b, ep[b]}, ep);
        }
    }
    double ns = decisions ? (double)(mono_ns() - t0) / (double)decisions : 0;
    for (unsigned q = 0; q < nq; q++)
        free(heap[q].v);
    free(heap);
    free(ep);
    free(c_agent);
    free(fifo);
    free(m.slot);
    free(lvl);
    free(qoff);
    free(qlist);
    free(members);
    world_free(&w);
    return ns;
}

/* ---- memory ---- */

struct mem_result {
    int ok;
    unsigned agents_n, contacts_n;
    double agent_bytes;            /* slope between n/10 and n agents,
                                    * every created queue made */
    double agent_bytes_no_virtual; /* the same slope before any is made */
    double agent_bytes_login;      /* allocated by the logins alone / n */
    int created_queues;            /* virtual + derived queues in the n run */
    double contact_bytes;          /* slope between n/10 and n contacts */
    double contact_bytes_arrive;   /* allocated by the arrivals alone / n */
    char skip[120];
};

/* Makes every created queue the scenario's arrivals use: one waiting
 * contact of each skills-only template (the generator draws them
 * uniformly, and a row's stream has hundreds of skills-only contacts, so
 * its steady state holds every template's virtual queue and skill group).
 * The generator names no extra skills with a queue, so no derived queue
 * exists in its steady state; a contact that did would be fed here too.
 * The contacts stay: taken away, all but ROUTER_QUEUES_KEPT of their
 * queues would be freed with their pool entries, and their own bytes are
 * the same at n/10 and n agents, so the slope leaves them out. Returns
 * router_queue_created(), or -1 if an arrival failed. */
static int make_created_queues(struct world *w)
{
    for (unsigned t = 0; t < NTEMPLATES; t++) {
        char id[ID_LEN];
        snprintf(id, sizeof id, "m%02u", t);
        struct router_contact_spec sp = w->tmpl[t];
        sp.id = id;
        sp.priority = 0;
        sp.value = 0;
        sp.preferred_agent = NULL;
        uint32_t h;
        int rc = router_contact_arrive(w->r, 2000 + t, &sp, NTEMPLATES, &h);
        router_out_clear(w->r);
        if (rc < 0)
            return -1;
    }
    return router_queue_created(w->r);
}

/* Bytes for a router with n agents logged in (all away: nothing routes)
 * and then every created queue of the scenario made (make_created_queues),
 * from before router_new(); *no_virtual gets the bytes before those
 * queues were made, *login_only the logins' share, *created the created
 * queues' count. */
static int64_t mem_agents(const struct scenario *sc, unsigned n, uint64_t seed,
                          int64_t *no_virtual, int64_t *login_only,
                          int *created)
{
    struct scenario s2 = *sc;
    s2.agents = n;
    struct world w;
    memset(&w, 0, sizeof w);
    w.sc = s2;
    w.seed = seed;
    build_config(&w, 1024);
    build_agents(&w);
    build_contacts(&w, 0);          /* the skills-only templates */
    w.cfg.max_agents = n;
    int64_t m0 = jem_allocated();
    const char *err = NULL;
    w.r = router_new(&w.cfg, seed, &err);
    if (!w.r) {
        world_free(&w);
        return -1;
    }
    int64_t m1 = jem_allocated();
    for (unsigned a = 0; a < n; a++) {
        uint32_t h;
        if (past(g_setup_deadline, a)) {
            world_free(&w);
            return -2;
        }
        router_agent_login(w.r, 1000, &w.agent_spec[a], a, &h);
        router_out_clear(w.r);
    }
    int64_t m2 = jem_allocated();
    *created = make_created_queues(&w);
    int64_t m3 = jem_allocated();
    *no_virtual = m2 - m0;
    *login_only = m2 - m1;
    world_free(&w);
    return *created < 0 ? -3 : m3 - m0;
}

/* Bytes for a router with n contacts waiting (no agents), from before
 * router_new(). */
static int64_t mem_contacts(const struct scenario *sc, unsigned n, uint64_t seed,
                            int64_t *arrive_only)
{
    struct world w;
    memset(&w, 0, sizeof w);
    w.sc = *sc;
    w.sc.agents = 16;
    w.seed = seed;
    build_config(&w, n);
    build_agents(&w);
    build_contacts(&w, n);
    int64_t m0 = jem_allocated();
    const char *err = NULL;
    w.r = router_new(&w.cfg, seed, &err);
    if (!w.r) {
        world_free(&w);
        return -1;
    }
    int64_t m1 = jem_allocated();
    for (unsigned c = 0; c < n; c++) {
        struct router_contact_spec sp;
        if (past(g_setup_deadline, c)) {
            world_free(&w);
            return -2;
        }
        if (w.c_queue[c] == 0xffff) {
            sp = w.tmpl[w.c_tmpl[c]];
        } else {
            sp.queue = w.qcfg[w.c_queue[c]].name;
            sp.nskills = 0;
            sp.channel = (enum router_channel)w.c_channel[c];
        }
        sp.id = w.contact_id[c];
        sp.priority = w.c_priority[c];
        sp.value = w.c_value[c];
        sp.preferred_agent = NULL;
        uint32_t h;
        router_contact_arrive(w.r, 1000 + c, &sp, c, &h);
        router_out_clear(w.r);
    }
    int64_t m2 = jem_allocated();
    *arrive_only = m2 - m1;
    world_free(&w);
    return m2 - m0;
}

static void run_memory(const struct scenario *sc, unsigned n, uint64_t seed,
                       struct mem_result *out)
{
    memset(out, 0, sizeof *out);
    out->agents_n = out->contacts_n = n;
    if (jem_allocated() < 0) {
        snprintf(out->skip, sizeof out->skip, "no jemalloc statistics in this build");
        return;
    }
    int64_t lo1 = 0, lo2 = 0, ao1 = 0, ao2 = 0, nv1 = 0, nv2 = 0;
    int cq1 = 0, cq2 = 0;
    unsigned n1 = n / 10;
    g_setup_deadline = g_setup_ns ? mono_ns() + g_setup_ns : 0;
    int64_t a1 = mem_agents(sc, n1, seed, &nv1, &lo1, &cq1);
    int64_t a2 = a1 < 0 ? a1 : mem_agents(sc, n, seed, &nv2, &lo2, &cq2);
    int64_t c1 = a2 < 0 ? a2 : mem_contacts(sc, n1, seed, &ao1);
    int64_t c2 = c1 < 0 ? c1 : mem_contacts(sc, n, seed, &ao2);
    if (a1 < 0 || a2 < 0 || c1 < 0 || c2 < 0) {
        snprintf(out->skip, sizeof out->skip, "%s",
                 (a1 == -2 || a2 == -2 || c1 == -2 || c2 == -2)
                     ? "setup time limit passed (router too slow at this size)"
                 : (a1 == -3 || a2 == -3)
                     ? "a skills-only template's arrival failed"
                     : "router_new failed");
        return;
    }
    out->ok = 1;
    out->agents_n = n;
    out->contacts_n = n;
    out->agent_bytes = (double)(a2 - a1) / (double)(n - n1);
    out->agent_bytes_no_virtual = (double)(nv2 - nv1) / (double)(n - n1);
    out->created_queues = cq2;
    out->agent_bytes_login = (double)lo2 / n;
    out->contact_bytes = (double)(c2 - c1) / (double)(n - n1);
    out->contact_bytes_arrive = (double)ao2 / n;
}

/* ---- threads: N independent routers, one per thread ---- */

struct thr {
    pthread_t t;
    struct scenario sc;
    uint64_t seed;
    uint32_t steps;
    pthread_barrier_t *bar;
    double seconds;
    uint64_t offers;
    int ok;
};

static void *thr_main(void *arg)
{
    struct thr *t = arg;
    struct world w;
    char why[160];
    if (world_setup(&w, &t->sc, t->seed, t->steps + t->steps / 10 + 1000,
                    why, sizeof why) < 0) {
        fprintf(stderr, "bench-router: thread: %s\n", why);
        world_free(&w);
        pthread_barrier_wait(t->bar);
        return NULL;
    }
    for (uint32_t i = 0; i < t->steps / 10 + 1000; i++)
        step(&w);
    w.offers = 0;
    pthread_barrier_wait(t->bar);
    uint64_t a = mono_ns();
    uint64_t dl = g_pass_ns ? a + g_pass_ns : 0;
    for (uint32_t i = 0; i < t->steps && !past(dl, i); i++)
        step(&w);
    t->seconds = (double)(mono_ns() - a) / 1e9;
    t->offers = w.offers;
    t->ok = 1;
    world_free(&w);
    return NULL;
}

struct thr_result {
    unsigned threads;
    double decisions_per_s;        /* sum over threads */
    double per_thread_min, per_thread_max;
    int ok;
};

static void run_threads(const struct scenario *sc, unsigned n, uint64_t seed,
                        uint32_t steps, struct thr_result *out)
{
    memset(out, 0, sizeof *out);
    out->threads = n;
    struct thr *t = xcalloc(n, sizeof *t);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, n);
    g_setup_deadline = g_setup_ns ? mono_ns() + g_setup_ns : 0;
    for (unsigned i = 0; i < n; i++) {
        t[i].sc = *sc;
        t[i].seed = seed + i;
        t[i].steps = steps;
        t[i].bar = &bar;
        if (pthread_create(&t[i].t, NULL, thr_main, &t[i]) != 0)
            die("pthread_create");
    }
    out->ok = 1;
    for (unsigned i = 0; i < n; i++) {
        pthread_join(t[i].t, NULL);
        if (!t[i].ok) {
            out->ok = 0;
            continue;
        }
        double r = t[i].offers / t[i].seconds;
        out->decisions_per_s += r;
        if (i == 0 || r < out->per_thread_min)
            out->per_thread_min = r;
        if (r > out->per_thread_max)
            out->per_thread_max = r;
    }
    pthread_barrier_destroy(&bar);
    free(t);
}

/* ---- main ---- */

static void usage(void)
{
    fprintf(stderr,
            "usage: bench-router [--quick] [--json FILE] [--md FILE] [--seed N] [--steps N]\n"
            "                    [--agents N] [--queues N] [--skills N]\n"
            "                    [--mode contacts_wait|agents_wait] [--threads N]\n"
            "  Without --agents/--queues/--skills/--mode: the full matrix\n"
            "  (1k/10k/100k agents x 20/200 queues x 10/50 skills x both modes;\n"
            "  --quick: 1k and 10k agents, fewer steps).\n"
            "  --threads N: also run N independent routers (10k agents) on N\n"
            "  threads and report the aggregate decisions/s.\n"
            "  Time limits: --budget S (whole run, default 200, quick 40),\n"
            "  --setup-limit S (per scenario, 30 / 8), --pass-limit S (per\n"
            "  measured pass, 1 / 0.5). What is cut short says so in the JSON.\n");
    exit(2);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", (unsigned char)*s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

int main(int argc, char **argv)
{
    int quick = getenv("BENCH_QUICK") && atoi(getenv("BENCH_QUICK")) > 0;
    const char *json_path = NULL, *md_path = NULL;
    uint64_t seed = 42;
    uint32_t steps = 0;
    unsigned only_agents = 0, only_queues = 0, only_skills = 0, threads = 0;
    int only_mode = -1;
    double budget_s = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick"))
            quick = 1;
        else if (!strcmp(a, "--json") && v)
            json_path = argv[++i];
        else if (!strcmp(a, "--md") && v)
            md_path = argv[++i];
        else if (!strcmp(a, "--seed") && v)
            seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "--steps") && v)
            steps = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(a, "--agents") && v)
            only_agents = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(a, "--queues") && v)
            only_queues = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(a, "--skills") && v)
            only_skills = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(a, "--budget") && v)
            budget_s = strtod(argv[++i], NULL);
        else if (!strcmp(a, "--setup-limit") && v)
            g_setup_ns = (uint64_t)(strtod(argv[++i], NULL) * 1e9);
        else if (!strcmp(a, "--pass-limit") && v)
            g_pass_ns = (uint64_t)(strtod(argv[++i], NULL) * 1e9);
        else if (!strcmp(a, "--threads") && v)
            threads = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(a, "--mode") && v) {
            i++;
            only_mode = !strcmp(v, "agents_wait") ? MODE_AGENTS_WAIT
                      : !strcmp(v, "contacts_wait") ? MODE_CONTACTS_WAIT : -2;
            if (only_mode == -2)
                usage();
        } else
            usage();
    }
    if (!steps)
        steps = quick ? 50000 : 200000;
    if (quick) {
        g_pass_ns = g_pass_ns < 500000000ull ? g_pass_ns : 500000000ull;
        g_setup_ns = g_setup_ns < 8000000000ull ? g_setup_ns : 8000000000ull;
    }
    if (budget_s <= 0)
        budget_s = quick ? 40 : 200;
    uint64_t start_ns = mono_ns();
    uint64_t end_ns = start_ns + (uint64_t)(budget_s * 1e9);

    timer_init();
    double tover = timer_overhead_ns();
    g_tover = tover;

    static const unsigned agent_set[] = {1000, 10000, 100000};
    static const unsigned queue_set[] = {20, 200};
    static const unsigned skill_set[] = {10, 50};
    struct scenario scs[64];
    unsigned nsc = 0;
    for (unsigned ai = 0; ai < 3; ai++)
        for (unsigned qi = 0; qi < 2; qi++)
            for (unsigned si = 0; si < 2; si++)
                for (int m = 0; m < 2; m++) {
                    struct scenario s = {agent_set[ai], queue_set[qi],
                                         skill_set[si], (enum mode)m};
                    if (only_agents) s.agents = only_agents;
                    if (only_queues) s.queues = only_queues;
                    if (only_skills) s.skills = only_skills;
                    if (only_mode >= 0) s.mode = (enum mode)only_mode;
                    if (quick && !only_agents && s.agents > 10000)
                        continue;
                    if (quick && !only_queues && !only_skills
                        && !((s.queues == 20 && s.skills == 10)
                             || (s.queues == 200 && s.skills == 50)))
                        continue;
                    int dup = 0;
                    for (unsigned k = 0; k < nsc; k++)
                        if (!memcmp(&scs[k], &s, sizeof s))
                            dup = 1;
                    if (!dup)
                        scs[nsc++] = s;
                }

    /* Corners first (20 queues/10 skills, 200/50) at each size, so that a
     * run cut short by its budget still covers both ends at 100,000. */
    for (unsigned i = 0; i < nsc; i++)
        for (unsigned j = i + 1; j < nsc; j++) {
            int ci = (scs[i].queues == 20) == (scs[i].skills == 10);
            int cj = (scs[j].queues == 20) == (scs[j].skills == 10);
            if (scs[j].agents < scs[i].agents
                || (scs[j].agents == scs[i].agents && cj && !ci)) {
                struct scenario t = scs[i];
                scs[i] = scs[j];
                scs[j] = t;
            }
        }

    /* the baseline first and once more at the end: the machine is noisy */
    struct baseline_result base[2];
    run_baseline(10000, 10, seed, 2000000, &base[0]);

    struct result *res = xcalloc(nsc, sizeof *res);
    fprintf(stderr, "%-7s %-6s %-6s %-13s %12s %9s %8s %8s %8s %8s"
            " %7s %7s %7s %6s %6s %7s\n",
            "agents", "queues", "skills", "mode", "decisions/s", "x base",
            "p50 ns", "p99 ns", "p99.9 ns", "max ns", "rtr ns", "hrn ns",
            "tb ns", "B/agt", "B/ctc", "tb/rtr");
    for (unsigned i = 0; i < nsc; i++) {
        uint32_t st = steps;
        if (scs[i].agents >= 100000)
            st = steps / 2;
        /* 100,000 agents only if the same scenario at 10,000 set up in
         * less than a tenth of the setup limit (a slow router would spend
         * the whole budget on logins) */
        int skip = 0;
        if (mono_ns() > end_ns) {
            snprintf(res[i].skip, sizeof res[i].skip,
                     "run budget of %.0f s used up (--budget)", budget_s);
            skip = 1;
        } else if (scs[i].agents >= 100000) {
            for (unsigned k = 0; k < i; k++)
                if (res[k].sc.agents == 10000 && res[k].sc.queues == scs[i].queues
                    && res[k].sc.skills == scs[i].skills
                    && res[k].sc.mode == scs[i].mode
                    && (!res[k].ok || res[k].setup_s * 10 * 1e9 > (double)g_setup_ns)) {
                    snprintf(res[i].skip, sizeof res[i].skip,
                             "not run: setup at 10,000 agents took %.1f s, at "
                             "100,000 it would pass the setup limit of %.0f s",
                             res[k].setup_s, (double)g_setup_ns / 1e9);
                    skip = 1;
                }
        }
        if (skip)
            res[i].sc = scs[i];
        else
            run_scenario(&scs[i], seed, st, &res[i]);
        struct result *r = &res[i];
        if (!r->ok) {
            fprintf(stderr, "%-7u %-6u %-6u %-13s skipped: %s\n", r->sc.agents,
                    r->sc.queues, r->sc.skills, mode_name[r->sc.mode], r->skip);
            continue;
        }
        /* memory at this row's configuration and size; the textbook
         * router on the same world */
        struct mem_result mr;
        run_memory(&scs[i], scs[i].agents, seed, &mr);
        r->mem_ok = mr.ok;
        r->bytes_per_agent = mr.agent_bytes;
        r->bytes_per_contact = mr.contact_bytes;
        r->bytes_per_agent_no_virtual = mr.agent_bytes_no_virtual;
        r->created_queues = mr.created_queues;
        snprintf(r->mem_skip, sizeof r->mem_skip, "%s", mr.skip);
        /* a fixed length, apart from --steps, so that runs of two lengths
         * difference it away with the setup */
        r->textbook_ns_per_decision =
            run_textbook(&scs[i], seed, quick ? 50000 : 200000);
        fprintf(stderr, "%-7u %-6u %-6u %-13s %12.0f %9.3f %8.0f %8.0f %8.0f %8.0f"
                " %7.0f %7.0f %7.0f %6.0f %6.0f %7.3f\n",
                r->sc.agents, r->sc.queues, r->sc.skills, mode_name[r->sc.mode],
                r->decisions_per_s, r->decisions_per_s / base[0].decisions_per_s,
                r->p50, r->p99, r->p999, r->pmax, r->router_ns_per_decision,
                r->harness_ns_per_decision, r->textbook_ns_per_decision,
                r->mem_ok ? r->bytes_per_agent : -1,
                r->mem_ok ? r->bytes_per_contact : -1,
                r->textbook_ns_per_decision > 0
                    ? 1e9 / r->textbook_ns_per_decision / r->decisions_per_s : 0);
    }
    run_baseline(10000, 10, seed, 2000000, &base[1]);
    double base_dps = (base[0].decisions_per_s + base[1].decisions_per_s) / 2;
    double base_ns = (base[0].ns_per_decision + base[1].ns_per_decision) / 2;
    fprintf(stderr, "baseline (first available agent in an array, 10k agents): "
            "%.1f ns/decision (%.1f, %.1f), p50 %.0f ns p99 %.0f ns\n",
            base_ns, base[0].ns_per_decision, base[1].ns_per_decision,
            base[0].p50, base[0].p99);


    struct thr_result tr[2];
    unsigned ntr = 0;
    if (threads > 0) {
        struct scenario tsc = {10000, 20, 10, MODE_CONTACTS_WAIT};
        uint32_t tst = steps;
        run_threads(&tsc, 1, seed, tst, &tr[ntr++]);
        if (threads > 1)
            run_threads(&tsc, threads, seed, tst, &tr[ntr++]);
        for (unsigned i = 0; i < ntr; i++)
            fprintf(stderr, "threads %u: %.0f decisions/s aggregate "
                    "(per thread %.0f..%.0f)\n", tr[i].threads,
                    tr[i].decisions_per_s, tr[i].per_thread_min,
                    tr[i].per_thread_max);
    }

    /* the headline: 10,000 agents, worst of the scenarios at that size */
    const struct result *worst_rate = NULL, *worst_p99 = NULL;
    const struct result *worst_agent_b = NULL, *worst_contact_b = NULL;
    for (unsigned i = 0; i < nsc; i++) {
        if (!res[i].ok || res[i].sc.agents != 10000)
            continue;
        if (!worst_rate || res[i].decisions_per_s < worst_rate->decisions_per_s)
            worst_rate = &res[i];
        if (!worst_p99 || res[i].p99 > worst_p99->p99)
            worst_p99 = &res[i];
        if (!res[i].mem_ok)
            continue;
        if (!worst_agent_b || res[i].bytes_per_agent > worst_agent_b->bytes_per_agent)
            worst_agent_b = &res[i];
        if (!worst_contact_b
            || res[i].bytes_per_contact > worst_contact_b->bytes_per_contact)
            worst_contact_b = &res[i];
    }

    FILE *f = stdout;
    if (json_path && !(f = fopen(json_path, "w"))) {
        fprintf(stderr, "bench-router: %s: %s\n", json_path, strerror(errno));
        return 1;
    }
    fprintf(f, "{\n  \"seed\": %" PRIu64 ", \"quick\": %s, \"steps\": %" PRIu32 ", "
            "\"pass_limit_s\": %.2f, \"setup_limit_s\": %.1f, \"budget_s\": %.0f, "
            "\"wall_s\": %.1f,\n",
            seed, quick ? "true" : "false", steps, (double)g_pass_ns / 1e9,
            (double)g_setup_ns / 1e9, budget_s, (double)(mono_ns() - start_ns) / 1e9);
    fprintf(f, "  \"timer\": {\"source\": \"%s\", \"ticks_per_ns\": %.4f, "
            "\"overhead_ns\": %.1f, \"note\": \"latencies include the timer overhead\"},\n",
            use_tsc ? "rdtsc" : "clock_gettime", use_tsc ? tsc_per_ns : 1.0, tover);
    fprintf(f, "  \"baseline\": {\"what\": \"first available agent with the skill, "
            "next-fit scan of an array, 10000 agents, 10 skills, half busy\", "
            "\"ns_per_decision\": %.2f, \"decisions_per_s\": %.0f, "
            "\"runs_ns\": [%.2f, %.2f], \"p50_ns\": %.0f, \"p99_ns\": %.0f, "
            "\"p999_ns\": %.0f},\n",
            base_ns, base_dps, base[0].ns_per_decision, base[1].ns_per_decision,
            base[0].p50, base[0].p99, base[0].p999);
    fprintf(f, "  \"scenarios\": [\n");
    for (unsigned i = 0; i < nsc; i++) {
        const struct result *r = &res[i];
        fprintf(f, "    {\"agents\": %u, \"queues\": %u, \"skills\": %u, \"mode\": \"%s\", ",
                r->sc.agents, r->sc.queues, r->sc.skills, mode_name[r->sc.mode]);
        if (!r->ok) {
            fprintf(f, "\"skipped\": ");
            json_str(f, r->skip);
            fprintf(f, "}%s\n", i + 1 < nsc ? "," : "");
            continue;
        }
        fprintf(f, "\"decisions_per_s\": %.0f, \"vs_baseline\": %.4f, "
                "\"router_calls_per_s\": %.0f, \"decision_calls_only_per_s\": %.0f, "
                "\"offers\": %" PRIu64 ", \"calls\": %" PRIu64 ", \"errors\": %" PRIu64 ", "
                "\"arrivals\": %" PRIu64 ", \"completes\": %" PRIu64 ", "
                "\"abandons\": %" PRIu64 ", \"ticks\": %" PRIu64 ", \"seconds\": %.3f, "
                "\"setup_s\": %.2f, \"steps_throughput\": %" PRIu32 ", "
                "\"steps_latency\": %" PRIu32 ", "
                "\"latency_ns\": {\"n\": %" PRIu64 ", \"p50\": %.0f, \"p99\": %.0f, "
                "\"p999\": %.0f, \"max\": %.0f, \"mean\": %.1f, "
                "\"multi_offer_calls\": %" PRIu64 "}, "
                "\"other_calls_ns\": {\"n\": %" PRIu64 ", \"p50\": %.0f, \"p99\": %.0f}, "
                "\"tick_calls_ns\": {\"n\": %" PRIu64 ", \"p50\": %.0f, \"p99\": %.0f, "
                "\"max\": %.0f}, "
                "\"p50_vs_baseline\": %.2f, \"contacts_at_end\": %u, "
                "\"router_ns_per_decision\": %.1f, \"harness_ns_per_decision\": %.1f, "
                "\"calls_per_decision\": %.2f, \"textbook_ns_per_decision\": %.1f, "
                "\"vs_textbook\": %.4f, ",
                r->decisions_per_s, r->decisions_per_s / base_dps, r->calls_per_s,
                r->decision_only_per_s, r->offers, r->calls, r->errors, r->arrivals,
                r->completes, r->abandons, r->ticks, r->seconds, r->setup_s,
                r->tp_steps, r->lat_steps,
                r->lat_n, r->p50, r->p99, r->p999, r->pmax, r->mean,
                r->multi_offer_calls, r->other_n, r->other_p50, r->other_p99,
                r->tick_n, r->tick_p50, r->tick_p99, r->tick_max,
                r->p50 / base_ns, r->waiting_end, r->router_ns_per_decision,
                r->harness_ns_per_decision, r->calls_per_decision,
                r->textbook_ns_per_decision,
                r->textbook_ns_per_decision > 0
                    ? r->decisions_per_s * r->textbook_ns_per_decision / 1e9 : 0);
        if (r->mem_ok) {
            fprintf(f, "\"memory\": {\"source\": \"jemalloc stats.allocated, "
                    "slope n/10 -> n\", \"bytes_per_agent\": %.1f, "
                    "\"bytes_per_agent_no_virtual\": %.1f, "
                    "\"created_queues\": %d, "
                    "\"bytes_per_waiting_contact\": %.1f}}%s\n",
                    r->bytes_per_agent, r->bytes_per_agent_no_virtual,
                    r->created_queues, r->bytes_per_contact,
                    i + 1 < nsc ? "," : "");
        } else {
            fprintf(f, "\"memory\": {\"skipped\": ");
            json_str(f, r->mem_skip);
            fprintf(f, "}}%s\n", i + 1 < nsc ? "," : "");
        }
    }
    fprintf(f, "  ],\n  \"threads\": [");
    for (unsigned i = 0; i < ntr; i++)
        fprintf(f, "%s{\"threads\": %u, \"ok\": %s, \"decisions_per_s\": %.0f, "
                "\"per_thread_min\": %.0f, \"per_thread_max\": %.0f, "
                "\"scenario\": \"10000 agents, 20 queues, 10 skills, contacts_wait\"}",
                i ? ", " : "", tr[i].threads, tr[i].ok ? "true" : "false",
                tr[i].decisions_per_s, tr[i].per_thread_min, tr[i].per_thread_max);
    fprintf(f, "],\n");

    /* targets: ratio = measured / target (rate, >= 1 is met) or
     * target / measured (latency, memory: >= 1 is met) */
    fprintf(f, "  \"targets\": {\n");
    if (worst_rate) {
        double r = worst_rate->decisions_per_s / TARGET_DECISIONS_PER_S;
        fprintf(f, "    \"decisions_per_s_10k\": {\"target\": %.0f, \"measured_worst\": %.0f, "
                "\"scenario\": \"%u queues, %u skills, %s\", \"met\": %s, "
                "\"factor\": %.3f},\n", TARGET_DECISIONS_PER_S,
                worst_rate->decisions_per_s, worst_rate->sc.queues,
                worst_rate->sc.skills, mode_name[worst_rate->sc.mode],
                r >= 1 ? "true" : "false", r);
    }
    if (worst_p99) {
        double r = TARGET_P99_NS / worst_p99->p99;
        fprintf(f, "    \"p99_ns_10k\": {\"target\": %.0f, \"measured_worst\": %.0f, "
                "\"scenario\": \"%u queues, %u skills, %s\", \"met\": %s, "
                "\"factor\": %.3f},\n", TARGET_P99_NS, worst_p99->p99,
                worst_p99->sc.queues, worst_p99->sc.skills,
                mode_name[worst_p99->sc.mode], r >= 1 ? "true" : "false", r);
    }
    if (worst_agent_b) {
        const struct result *m = worst_agent_b;
        fprintf(f, "    \"bytes_per_agent\": {\"target\": %.0f, \"measured_worst\": %.1f, "
                "\"scenario\": \"%u queues, %u skills, %s\", "
                "\"met\": %s, \"factor\": %.3f},\n", TARGET_AGENT_BYTES,
                m->bytes_per_agent, m->sc.queues, m->sc.skills, mode_name[m->sc.mode],
                m->bytes_per_agent <= TARGET_AGENT_BYTES ? "true" : "false",
                TARGET_AGENT_BYTES / m->bytes_per_agent);
    }
    if (worst_contact_b) {
        const struct result *m = worst_contact_b;
        fprintf(f, "    \"bytes_per_waiting_contact\": {\"target\": %.0f, "
                "\"measured_worst\": %.1f, \"scenario\": \"%u queues, %u skills, %s\", "
                "\"met\": %s, \"factor\": %.3f},\n",
                TARGET_CONTACT_BYTES, m->bytes_per_contact, m->sc.queues,
                m->sc.skills, mode_name[m->sc.mode],
                m->bytes_per_contact <= TARGET_CONTACT_BYTES ? "true" : "false",
                TARGET_CONTACT_BYTES / m->bytes_per_contact);
    }
    fprintf(f, "    \"note\": \"factor = measured/target for rates, target/measured "
            "for latency and memory: below 1 means missed by that factor\"\n  }\n}\n");
    if (f != stdout)
        fclose(f);
    if (md_path && (f = fopen(md_path, "w"))) {
        fprintf(f, "In process, one core, seed %" PRIu64 ". Baselines of the same "
                "run: the bare loop (next-fit scan of an array, no queues or ids): "
                "%.1f ns/decision = %.1f M decisions/s; the textbook router "
                "(string ids hashed, a longest idle heap per queue, an idle agent "
                "pushed into every queue it serves) on each row's own world: "
                "`vs textbook` = engine decisions/s / textbook decisions/s. "
                "Latency: one router call that made an offer (%s timer, "
                "about %.0f ns of it is the timer). `router ns` and `harness ns`: "
                "the latency pass per decision, inside router calls (timer "
                "overhead subtracted) and in the driver. Memory: jemalloc "
                "stats.allocated, slope between n/10 and n of that row's "
                "configuration.\n\n", seed, base_ns,
                base_dps / 1e6, use_tsc ? "rdtsc" : "clock_gettime", tover);
        fprintf(f, "| agents | queues | skills | mode | decisions/s | vs target 5 M/s "
                "| vs textbook | vs bare loop | p50 ns | p99 ns | p99.9 ns | max ns "
                "| router ns | harness ns | B/agent | B/waiting contact |\n"
                "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:"
                "|---:|---:|---:|---:|\n");
        for (unsigned i = 0; i < nsc; i++) {
            const struct result *r = &res[i];
            if (!r->ok) {
                fprintf(f, "| %u | %u | %u | %s | skipped: %s | | | | | | | | | | | |\n",
                        r->sc.agents, r->sc.queues, r->sc.skills,
                        mode_name[r->sc.mode], r->skip);
                continue;
            }
            char ba[32] = "-", bc[32] = "-";
            if (r->mem_ok) {
                snprintf(ba, sizeof ba, "%.0f", r->bytes_per_agent);
                snprintf(bc, sizeof bc, "%.0f", r->bytes_per_contact);
            }
            fprintf(f, "| %u | %u | %u | %s | %.0f | %.4f | %.3f | %.4f | %.0f | %.0f "
                    "| %.0f | %.0f | %.0f | %.0f | %s | %s |\n", r->sc.agents,
                    r->sc.queues, r->sc.skills, mode_name[r->sc.mode],
                    r->decisions_per_s,
                    r->decisions_per_s / TARGET_DECISIONS_PER_S,
                    r->textbook_ns_per_decision > 0
                        ? r->decisions_per_s * r->textbook_ns_per_decision / 1e9 : 0,
                    r->decisions_per_s / base_dps, r->p50, r->p99,
                    r->p999, r->pmax, r->router_ns_per_decision,
                    r->harness_ns_per_decision, ba, bc);
        }
        for (unsigned i = 0; i < ntr; i++)
            fprintf(f, "%s%u thread(s), 10,000 agents each: %.0f decisions/s in "
                    "all (per thread %.0f..%.0f)\n", i ? "" : "\n", tr[i].threads,
                    tr[i].decisions_per_s, tr[i].per_thread_min,
                    tr[i].per_thread_max);
        fclose(f);
    }
    if (rc_login_errors)
        fprintf(stderr, "bench-router: %u agent logins failed\n", rc_login_errors);
    return 0;
}
