/* ccload.c -- the ccroute load generator.
 *
 * Plays a traffic model (ccload-model.h) against a running ccrouted (or
 * any server speaking the protocol: limit-server, lua-server):
 *
 *   - contacts arrive as an open-loop Poisson process at the model's rate
 *     (or rate curve): each contact has an *intended* send time fixed by
 *     the schedule, and every latency is measured from it, so a stalled
 *     engine cannot hide its stall by slowing ccload down (coordinated
 *     omission). In --max-rate mode it is closed-loop instead: a window of
 *     W contacts is kept outstanding, to find the highest sustained rate.
 *   - simulated agents log in with skill profiles on the same connections
 *     (ROLE_SWITCH acting as CTI), take each Offer after a think time
 *     (accept, or reject with a probability), handle the contact for a
 *     sampled time, send ContactCompleted, and optionally end wrap-up.
 *   - simulated customers abandon (ContactAbandoned) when their sampled
 *     patience runs out before an agent accepted.
 *   - outbound (a model's `outbound:` section): on two more connections
 *     ccload creates a campaign with its leads (role ADMIN) and plays its
 *     dialer (role DIALER): each DialRequest is answered after a sampled
 *     ring time with an outcome drawn from the model's weights; a call a
 *     person answers becomes the engine's contact, offered to ccload's
 *     agents like any other, and the customer talks for a sampled time
 *     before the dialer ends it (ContactCompleted).
 *
 * One libuv loop. Frames are cut and written by bconn (once per loop turn).
 * Every timed action (arrivals, think, handle, patience, wrap-up) goes into
 * one binary heap driven by a timerfd armed with absolute nanosecond
 * deadlines (libuv's timers have millisecond granularity, too coarse for
 * sub-millisecond latencies); actions due "now" run in the flush hook of
 * the same loop turn.
 *
 * Measurements (bench/hist.h, microseconds): routing latency = intended
 * arrival -> first Offer received; ack latency = intended arrival -> Ack of
 * the ContactArrived; answer time = intended arrival -> Ack of the
 * OfferAccepted (the speed of answer, for service level and ASA). A
 * per-second timeline (interval percentiles, queue depth, service level)
 * feeds the status line, --json and --plot.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "bconn.h"
#include "ccload-model.h"
#include "client.h"
#include "hist.h"

extern char **environ;

#define LAT_MAX_US (3600ull * 1000000)   /* histogram range: one hour */
#define MAX_CONNS 256

/* ---- small open-addressing map u64 -> u64 (key 0 is empty) ---- */

struct u64map {
    uint64_t *keys, *vals;
    size_t cap, len;              /* cap is a power of two */
};

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static int map_grow(struct u64map *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 1024;
    uint64_t *nk = calloc(ncap, sizeof(*nk)), *nv = calloc(ncap, sizeof(*nv));
    if (!nk || !nv) {
        free(nk);
        free(nv);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i])
            continue;
        size_t j = mix64(m->keys[i]) & (ncap - 1);
        while (nk[j])
            j = (j + 1) & (ncap - 1);
        nk[j] = m->keys[i];
        nv[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = nk;
    m->vals = nv;
    m->cap = ncap;
    return 0;
}

static int map_put(struct u64map *m, uint64_t k, uint64_t v)
{
    if ((m->len + 1) * 2 > m->cap && map_grow(m) < 0)
        return -1;
    size_t i = mix64(k) & (m->cap - 1);
    while (m->keys[i] && m->keys[i] != k)
        i = (i + 1) & (m->cap - 1);
    if (!m->keys[i])
        m->len++;
    m->keys[i] = k;
    m->vals[i] = v;
    return 0;
}

static int map_get(const struct u64map *m, uint64_t k, uint64_t *v)
{
    if (!m->cap)
        return -1;
    size_t i = mix64(k) & (m->cap - 1);
    while (m->keys[i]) {
        if (m->keys[i] == k) {
            *v = m->vals[i];
            return 0;
        }
        i = (i + 1) & (m->cap - 1);
    }
    return -1;
}

/* Deletes with backward shift (no tombstones). */
static void map_del(struct u64map *m, uint64_t k)
{
    if (!m->cap)
        return;
    size_t mask = m->cap - 1, i = mix64(k) & mask;
    while (m->keys[i] && m->keys[i] != k)
        i = (i + 1) & mask;
    if (!m->keys[i])
        return;
    m->keys[i] = 0;
    m->len--;
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!m->keys[j])
            break;
        size_t home = mix64(m->keys[j]) & mask;
        /* Move j back to i unless its home lies cyclically in (i, j]. */
        if ((j > i && (home <= i || home > j)) ||
            (j < i && (home <= i && home > j))) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            m->keys[j] = 0;
            i = j;
        }
    }
}

/* ---- state ---- */

enum cstate {
    C_FREE = 0,
    C_WAITING,        /* sent; no offer, or offer rejected/revoked */
    C_OFFERED,        /* offer received; agent thinking */
    C_ACCEPTING,      /* OfferAccepted sent, no answer yet */
    C_TALKING,        /* accepted: agent handling */
    C_COMPLETING,     /* ContactCompleted sent */
    C_ABANDONING,     /* ContactAbandoned sent */
};

struct contact {
    uint64_t seq;
    uint64_t intended;            /* ns, monotonic */
    uint64_t answered;
    uint32_t epoch;               /* bumped on every state change */
    uint32_t slot_gen;            /* bumped when the slot is freed */
    int32_t agent;                /* agent index, -1 */
    uint16_t cls;
    uint8_t state;
    uint8_t conn;
    bool offered, cancel;         /* had an offer; abandoned at end of run */
};

struct agent {
    char id[MODEL_NAME_MAX + 16];
    unsigned group;
    unsigned conn;
    unsigned active;
    uint64_t busy_since, busy_ns;
    bool logged_in;
};

enum req_kind {
    R_HELLO = 1, R_LOGIN, R_STATE, R_ARRIVE, R_ACCEPT, R_REJECT,
    R_COMPLETE, R_ABANDON, R_LOGOUT, R_WRAPUP, R_CAMPAIGN, R_DIAL,
    R_OB_ACCEPT, R_OB_COMPLETE, R_CAMPAIGN_STOP,
};

static const char *const req_names[] = {
    "", "Hello", "AgentLogin", "AgentState", "ContactArrived",
    "OfferAccepted", "OfferRejected", "ContactCompleted", "ContactAbandoned",
    "AgentLogout", "AgentState(wrapup)", "campaign set-up", "DialResult",
    "OfferAccepted(outbound)", "ContactCompleted(outbound)", "CampaignStop",
};

enum tev_kind { T_PATIENCE = 1, T_THINK, T_HANDLE, T_WRAPUP, T_DIAL,
                T_OB_THINK, T_OB_TALK };

/* An answered outbound call: the engine's contact (its id), offered to
 * one of ccload's agents. */
enum obstate { OB_FREE = 0, OB_OFFERED, OB_ACCEPTING, OB_TALKING,
               OB_COMPLETING };

struct obcall {
    char id[64];
    int32_t agent;
    uint32_t epoch;
    uint8_t state;
};

/* A DialRequest ringing at the simulated switch. */
struct pdial {
    uint64_t dial;
    uint32_t gen;
    bool used;
};

struct tev {
    uint64_t at;
    uint32_t ref, gen;
    uint8_t kind;
};

struct lconn {
    struct bconn bc;
    unsigned idx;
    bool up;
    bool hello_again;             /* "not serving yet": Hello once more */
    char name[64];                /* its Hello's client name and role */
    Ccroute__V1__Role role;
};

struct class_stats {
    uint64_t sent, acked, refused, offered, answered, answered_in_sl;
    uint64_t abandoned, cancelled, completed;
    double answer_ms_sum;
};

struct sample {
    double t;
    uint64_t sent, offers, completed;
    uint64_t p50, p90, p99, max;  /* interval routing latency, us */
    uint64_t depth;
    double sl, occupancy;
};

#define NCODES 32
#define CPU_MAX_PIDS 4

/* --cpu NAME=PID: a process whose CPU time is read at the start and at the
 * end of the arrivals; "ccload" itself is always read. */
struct cpu_watch {
    char name[32];
    int pid;                    /* 0: ccload itself */
    uint64_t ns0, ns1;          /* CPU time at the two reads */
    bool ok0, ok1;
};

static struct {
    /* options */
    const char *host;
    int port;
    const char *model_path, *json_path, *plot_dir;
    double rate_override, duration_s;
    uint64_t contacts_max;
    unsigned connections, window;
    bool max_rate, quiet, allow_remote, tty;

    struct model m;
    struct rng rng;
    uv_loop_t *loop;
    struct bconn_loop bl;
    struct lconn conns[MAX_CONNS + 2];
    unsigned nconns, rr;
    unsigned nall;                /* nconns, + dialer and admin (outbound) */
    unsigned dialer, admin;       /* their indexes in conns[] */
    char campaign[MODEL_NAME_MAX], dialer_name[64];

    /* outbound: answered calls (by id hash) and ringing dials */
    struct obcall *obc;
    uint32_t nobc, capobc;
    struct u64map ob_by_id;       /* hash of the contact id -> index + 1 */
    struct pdial *pd;
    uint32_t npd, cappd;
    uint64_t ob_dials, ob_out[OB_NOUT], ob_offers, ob_connected;
    uint64_t ob_completed, ob_dropped;
    char run_id[16];

    struct contact *contacts;
    uint32_t ncontacts, capcontacts;
    uint32_t *free_slots;
    uint32_t nfree;
    struct u64map by_seq;         /* seq -> slot */
    struct u64map reqs;           /* request id -> kind << 32 | ref */
    uint64_t next_rid, next_seq;

    struct agent *agents;
    unsigned nagents;

    struct tev *heap;
    size_t nheap, capheap;
    int tfd;
    uv_poll_t tpoll;
    uv_timer_t tick;
    uv_signal_t sigint, sigterm;

    /* phases */
    uint64_t t0, t_end_arrivals, t_stop, t_drain_end;
    uint64_t next_arrival;
    bool arriving, draining, finishing, stopping, fatal;
    unsigned pending_setup;
    int exit_code;

    /* counters */
    uint64_t sent, acked, refused, offers, first_offers, reoffers, revoked;
    uint64_t answered, answered_in_sl, abandoned, cancelled, completed;
    uint64_t stale_offers, foreign_offers, queued_events, rejects;
    uint64_t live;                /* contacts not free */
    uint64_t waiting;             /* WAITING or OFFERED */
    double answer_ms_sum;
    uint64_t err_by_code[NCODES];
    uint64_t errors, unexpected;
    uint64_t behind_max_ns;       /* worst lateness of a send vs intended */
    struct class_stats *cstats;

    struct hist *h_offer, *h_ack, *h_answer, *h_interval;
    struct sample *samples;
    size_t nsamples, capsamples;
    uint64_t last_sample_at;
    uint64_t t_last_event;
    char token[4097];           /* --token-file / CCROUTE_TOKEN, or "" */
    uv_timer_t hello_timer;     /* Hellos answered "not serving yet" */

    /* CPU per contact (--cpu): the watched processes' CPU time over the
     * arrival window, and the contacts sent in it */
    struct cpu_watch cpu[CPU_MAX_PIDS + 1];
    unsigned ncpu;
    uint64_t cpu_wall0, cpu_wall1, cpu_sent1;
    bool cpu_done;
} L;

static uint64_t now_ns(void)
{
    return uv_hrtime();
}

/* ---- CPU time of other processes (--cpu) ---- */

/* The CPU time (user + system, ns) of every thread of process `pid` (0:
 * this one): the first field of /proc/PID/task/TID/schedstat, which the
 * scheduler keeps in nanoseconds; where the kernel has no schedstat,
 * utime + stime of /proc/PID/stat in clock ticks. -1 when the process is
 * not there. */
static int cpu_read(int pid, uint64_t *ns)
{
    char path[64], buf[512];
    DIR *d;
    struct dirent *de;
    uint64_t sum = 0;
    bool any = false;
    FILE *f;

    if (pid)
        snprintf(path, sizeof(path), "/proc/%d/task", pid);
    else
        snprintf(path, sizeof(path), "/proc/self/task");
    if ((d = opendir(path))) {
        while ((de = readdir(d))) {
            unsigned long long v;
            char p2[128];
            if (de->d_name[0] == '.')
                continue;
            snprintf(p2, sizeof(p2), "%s/%.32s/schedstat", path, de->d_name);
            if (!(f = fopen(p2, "r")))
                continue;
            if (fscanf(f, "%llu", &v) == 1) {
                sum += v;
                any = true;
            }
            fclose(f);
        }
        closedir(d);
    }
    if (any) {
        *ns = sum;
        return 0;
    }
    if (pid)
        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    else
        snprintf(path, sizeof(path), "/proc/self/stat");
    if (!(f = fopen(path, "r")))
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* fields after the command name, which may hold spaces: ") S ppid..."
     * with utime and stime the 12th and 13th after it */
    char *p = strrchr(buf, ')');
    unsigned long long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                     "%llu %llu", &ut, &st) != 2)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    *ns = (ut + st) * (1000000000ull / (uint64_t)(hz > 0 ? hz : 100));
    return 0;
}

static void cpu_mark(bool end)
{
    for (unsigned i = 0; i < L.ncpu; i++) {
        struct cpu_watch *w = &L.cpu[i];
        if (end)
            w->ok1 = cpu_read(w->pid, &w->ns1) == 0;
        else
            w->ok0 = cpu_read(w->pid, &w->ns0) == 0;
    }
    if (end) {
        L.cpu_wall1 = now_ns();
        L.cpu_sent1 = L.sent;
        L.cpu_done = true;
    } else {
        L.cpu_wall0 = now_ns();
    }
}

static double secs(uint64_t ns)
{
    return (double)ns / 1e9;
}

/* ---- growing tables ---- */

/* The table p of `cap` elements of `size` bytes, grown to `ncap` with
 * the new part zeroed. Out of memory ends ccload: without the slot it is
 * growing for it cannot go on (its counts would be wrong). */
static void *grow(void *p, size_t size, size_t cap, size_t ncap)
{
    char *n = realloc(p, ncap * size);
    if (!n) {
        fprintf(stderr, "ccload: out of memory\n");
        exit(1);
    }
    memset(n + cap * size, 0, (ncap - cap) * size);
    return n;
}

/* ---- heap of timed events ---- */

static void heap_push(uint64_t at, uint8_t kind, uint32_t ref, uint32_t gen)
{
    if (L.nheap == L.capheap) {
        size_t ncap = L.capheap ? L.capheap * 2 : 4096;
        L.heap = grow(L.heap, sizeof(*L.heap), L.capheap, ncap);
        L.capheap = ncap;
    }
    size_t i = L.nheap++;
    struct tev e = {at, ref, gen, kind};
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (L.heap[parent].at <= at)
            break;
        L.heap[i] = L.heap[parent];
        i = parent;
    }
    L.heap[i] = e;
}

static struct tev heap_pop(void)
{
    struct tev top = L.heap[0], last = L.heap[--L.nheap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= L.nheap)
            break;
        if (c + 1 < L.nheap && L.heap[c + 1].at < L.heap[c].at)
            c++;
        if (L.heap[c].at >= last.at)
            break;
        L.heap[i] = L.heap[c];
        i = c;
    }
    if (L.nheap)
        L.heap[i] = last;
    return top;
}

/* ---- sending ---- */

static struct lconn *conn_for_contact(void)
{
    struct lconn *c = &L.conns[L.rr++ % L.nconns];
    return c;
}

static void send_req(struct lconn *c, Ccroute__V1__Envelope *env,
                     enum req_kind kind, uint32_t ref)
{
    env->request_id = ++L.next_rid;
    map_put(&L.reqs, env->request_id, ((uint64_t)kind << 32) | ref);
    if (bconn_send(&c->bc, env) < 0 && !L.fatal) {
        fprintf(stderr, "ccload: connection %u: output overflow\n", c->idx);
        L.fatal = true;
    }
}

static void contact_id(const struct contact *ct, char *buf, size_t len)
{
    snprintf(buf, len, "L%s-%llu", L.run_id, (unsigned long long)ct->seq);
}

static uint32_t contact_alloc(void)
{
    if (L.nfree)
        return L.free_slots[--L.nfree];
    if (L.ncontacts == L.capcontacts) {
        uint32_t ncap = L.capcontacts ? L.capcontacts * 2 : 4096;
        L.contacts = grow(L.contacts, sizeof(*L.contacts), L.capcontacts,
                          ncap);
        L.free_slots = grow(L.free_slots, sizeof(*L.free_slots),
                            L.capcontacts, ncap);
        L.capcontacts = ncap;
    }
    return L.ncontacts++;
}

static void set_state(struct contact *ct, enum cstate s)
{
    bool was_waiting = ct->state == C_WAITING || ct->state == C_OFFERED;
    bool is_waiting = s == C_WAITING || s == C_OFFERED;
    if (was_waiting && !is_waiting)
        L.waiting--;
    else if (!was_waiting && is_waiting)
        L.waiting++;
    ct->state = (uint8_t)s;
    ct->epoch++;
}

static void send_arrival(uint64_t intended);

static void contact_free(uint32_t slot)
{
    struct contact *ct = &L.contacts[slot];
    set_state(ct, C_FREE);
    map_del(&L.by_seq, ct->seq);
    ct->slot_gen++;
    L.free_slots[L.nfree++] = slot;
    L.live--;
    /* Closed loop: a finished contact makes room for the next one. */
    if (L.max_rate && L.arriving)
        send_arrival(now_ns());
}

static void agent_busy(struct agent *a, int delta, uint64_t now)
{
    if (delta > 0) {
        if (a->active++ == 0)
            a->busy_since = now;
    } else if (a->active > 0) {
        if (--a->active == 0)
            a->busy_ns += now - a->busy_since;
    }
}

static void finish_arrivals(uint64_t now);

static void send_arrival(uint64_t intended)
{
    if (L.contacts_max && L.sent >= L.contacts_max) {
        finish_arrivals(now_ns());
        return;
    }
    uint32_t slot = contact_alloc();
    struct contact *ct = &L.contacts[slot];
    uint32_t gen = ct->slot_gen, epoch = ct->epoch;
    memset(ct, 0, sizeof(*ct));
    ct->slot_gen = gen;
    ct->epoch = epoch;
    ct->seq = ++L.next_seq;
    ct->intended = intended;
    ct->agent = -1;
    ct->cls = (uint16_t)model_pick_class(&L.m, &L.rng);
    struct lconn *c = conn_for_contact();
    ct->conn = (uint8_t)c->idx;
    set_state(ct, C_WAITING);
    map_put(&L.by_seq, ct->seq, slot);
    L.live++;
    L.sent++;
    L.cstats[ct->cls].sent++;

    const struct model_class *mc = &L.m.classes[ct->cls];
    char id[64];
    contact_id(ct, id, sizeof(id));
    Ccroute__V1__Envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactArrived ca = CCROUTE__V1__CONTACT_ARRIVED__INIT;
    Ccroute__V1__SkillRequirement req[MODEL_MAX_REQ], *preq[MODEL_MAX_REQ];
    ca.contact_id = id;
    ca.channel = (Ccroute__V1__Channel)mc->channel;
    ca.queue = (char *)mc->queue;
    for (unsigned i = 0; i < mc->nskills; i++) {
        ccroute__v1__skill_requirement__init(&req[i]);
        req[i].skill = (char *)mc->skills[i].name;
        req[i].min_level = mc->skills[i].level;
        preq[i] = &req[i];
    }
    ca.n_skills = mc->nskills;
    ca.skills = preq;
    ca.language = (char *)mc->language;
    ca.product = (char *)mc->product;
    ca.priority = mc->priority_lo +
                  (uint32_t)(rng_unit(&L.rng) *
                             (mc->priority_hi - mc->priority_lo + 1));
    ca.customer_value = mc->value_lo +
                        (uint32_t)(rng_unit(&L.rng) *
                                   (mc->value_hi - mc->value_lo + 1));
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_CONTACT_ARRIVED;
    env.contact_arrived = &ca;
    send_req(c, &env, R_ARRIVE, slot);

    double pat = dist_sample(&mc->patience, &L.rng);
    if (pat >= 0)
        heap_push(intended + (uint64_t)(pat * 1e6), T_PATIENCE, slot,
                  ct->slot_gen);
    uint64_t now = now_ns();
    uint64_t late = now > intended ? now - intended : 0;
    if (late > L.behind_max_ns)
        L.behind_max_ns = late;
    if (L.contacts_max && L.sent >= L.contacts_max)
        finish_arrivals(now);
}

static void send_simple(struct contact *ct, enum req_kind kind, uint32_t slot)
{
    char id[64];
    contact_id(ct, id, sizeof(id));
    Ccroute__V1__Envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactAbandoned ab = CCROUTE__V1__CONTACT_ABANDONED__INIT;
    Ccroute__V1__ContactCompleted co = CCROUTE__V1__CONTACT_COMPLETED__INIT;
    if (kind == R_ABANDON) {
        ab.contact_id = id;
        env.body_case = CCROUTE__V1__ENVELOPE__BODY_CONTACT_ABANDONED;
        env.contact_abandoned = &ab;
    } else {
        co.contact_id = id;
        env.body_case = CCROUTE__V1__ENVELOPE__BODY_CONTACT_COMPLETED;
        env.contact_completed = &co;
    }
    send_req(&L.conns[ct->conn], &env, kind, slot);
}

static const char *agent_id_of(const struct contact *ct)
{
    return ct->agent >= 0 ? L.agents[ct->agent].id : "limit-agent";
}

static void send_answer(struct contact *ct, uint32_t slot, bool accept,
                        const char *agent_id)
{
    char id[64];
    contact_id(ct, id, sizeof(id));
    Ccroute__V1__Envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__OfferAccepted acc = CCROUTE__V1__OFFER_ACCEPTED__INIT;
    Ccroute__V1__OfferRejected rej = CCROUTE__V1__OFFER_REJECTED__INIT;
    struct lconn *c = ct->agent >= 0 ? &L.conns[L.agents[ct->agent].conn]
                                     : &L.conns[ct->conn];
    if (accept) {
        acc.contact_id = id;
        acc.agent_id = (char *)agent_id;
        env.body_case = CCROUTE__V1__ENVELOPE__BODY_OFFER_ACCEPTED;
        env.offer_accepted = &acc;
        send_req(c, &env, R_ACCEPT, slot);
    } else {
        rej.contact_id = id;
        rej.agent_id = (char *)agent_id;
        rej.reason = "ccload";
        env.body_case = CCROUTE__V1__ENVELOPE__BODY_OFFER_REJECTED;
        env.offer_rejected = &rej;
        send_req(c, &env, R_REJECT, slot);
    }
}

static void send_agent_state(struct agent *a, unsigned idx,
                             Ccroute__V1__AgentStatus st, enum req_kind kind)
{
    Ccroute__V1__Envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__AgentState as = CCROUTE__V1__AGENT_STATE__INIT;
    as.agent_id = a->id;
    as.status = st;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_AGENT_STATE;
    env.agent_state = &as;
    send_req(&L.conns[a->conn], &env, kind, idx);
}

/* ---- outbound: the simulated dialer and the answered calls ---- */

static int parse_agent(const char *id);

static uint64_t id_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h ? h : 1;
}

/* The answered call `id`: its index, or -1. */
static int ob_find(const char *id)
{
    uint64_t v;
    if (map_get(&L.ob_by_id, id_hash(id), &v) < 0 ||
        strcmp(L.obc[v - 1].id, id))
        return -1;
    return (int)(v - 1);
}

static int ob_new(const char *id)
{
    uint32_t i;
    for (i = 0; i < L.nobc && L.obc[i].state != OB_FREE; i++)
        ;
    if (i == L.nobc) {
        if (L.nobc == L.capobc) {
            uint32_t ncap = L.capobc ? L.capobc * 2 : 256;
            L.obc = grow(L.obc, sizeof(*L.obc), L.capobc, ncap);
            L.capobc = ncap;
        }
        memset(&L.obc[L.nobc], 0, sizeof(L.obc[0]));
        L.nobc++;
    }
    struct obcall *o = &L.obc[i];
    snprintf(o->id, sizeof(o->id), "%s", id);
    o->agent = -1;
    o->epoch++;
    map_put(&L.ob_by_id, id_hash(id), i + 1);
    return (int)i;
}

static void ob_free(int i)
{
    struct obcall *o = &L.obc[i];
    uint64_t v;
    if (map_get(&L.ob_by_id, id_hash(o->id), &v) == 0 && v == (uint64_t)i + 1)
        map_del(&L.ob_by_id, id_hash(o->id));
    o->state = OB_FREE;
    o->epoch++;
}

static void ob_send_simple(int i, enum req_kind kind, unsigned conn)
{
    struct obcall *o = &L.obc[i];
    Ccroute__V1__Envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__OfferAccepted acc = CCROUTE__V1__OFFER_ACCEPTED__INIT;
    Ccroute__V1__ContactCompleted co = CCROUTE__V1__CONTACT_COMPLETED__INIT;
    if (kind == R_OB_ACCEPT) {
        acc.contact_id = o->id;
        acc.agent_id = L.agents[o->agent].id;
        env.body_case = CCROUTE__V1__ENVELOPE__BODY_OFFER_ACCEPTED;
        env.offer_accepted = &acc;
    } else {
        co.contact_id = o->id;
        env.body_case = CCROUTE__V1__ENVELOPE__BODY_CONTACT_COMPLETED;
        env.contact_completed = &co;
    }
    send_req(&L.conns[conn], &env, kind, (uint32_t)i);
}

/* A DialRequest: the switch rings for a sampled time. */
static void on_dial_request(const Ccroute__V1__DialRequest *dr)
{
    uint32_t i;
    if (!dr || !L.m.ob.on)
        return;
    for (i = 0; i < L.npd && L.pd[i].used; i++)
        ;
    if (i == L.npd) {
        if (L.npd == L.cappd) {
            uint32_t ncap = L.cappd ? L.cappd * 2 : 256;
            L.pd = grow(L.pd, sizeof(*L.pd), L.cappd, ncap);
            L.cappd = ncap;
        }
        memset(&L.pd[L.npd], 0, sizeof(L.pd[0]));
        L.npd++;
    }
    L.pd[i].used = true;
    L.pd[i].dial = dr->dial_id;
    L.pd[i].gen++;
    L.ob_dials++;
    double ring = dist_sample(&L.m.ob.ring, &L.rng);
    heap_push(now_ns() + (uint64_t)((ring > 0 ? ring : 0) * 1e6), T_DIAL, i,
              L.pd[i].gen);
}

/* The ring time is over: the outcome, drawn from the model's weights. */
static void dial_outcome(uint32_t i)
{
    static const Ccroute__V1__DialOutcome wire[OB_NOUT] = {
        CCROUTE__V1__DIAL_OUTCOME__DIAL_OUTCOME_HUMAN,
        CCROUTE__V1__DIAL_OUTCOME__DIAL_OUTCOME_MACHINE,
        CCROUTE__V1__DIAL_OUTCOME__DIAL_OUTCOME_BUSY,
        CCROUTE__V1__DIAL_OUTCOME__DIAL_OUTCOME_NO_ANSWER,
        CCROUTE__V1__DIAL_OUTCOME__DIAL_OUTCOME_FAILED,
    };
    double sum = 0, x;
    int k;
    L.pd[i].used = false;
    if (L.finishing)
        return;                 /* the end: the engine times it out */
    for (k = 0; k < OB_NOUT; k++)
        sum += L.m.ob.outcome[k];
    x = rng_unit(&L.rng) * sum;
    for (k = 0; k < OB_NOUT - 1 && x >= L.m.ob.outcome[k]; k++)
        x -= L.m.ob.outcome[k];
    L.ob_out[k]++;
    Ccroute__V1__Envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__DialResult r = CCROUTE__V1__DIAL_RESULT__INIT;
    r.dial_id = L.pd[i].dial;
    r.outcome = wire[k];
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_DIAL_RESULT;
    env.dial_result = &r;
    send_req(&L.conns[L.dialer], &env, R_DIAL, i);
}

/* An Offer of an answered outbound call to one of the agents. */
static void on_ob_offer(const Ccroute__V1__Offer *o)
{
    int a = parse_agent(o->agent_id), i = ob_find(o->contact_id);
    L.ob_offers++;
    if (a < 0 || L.finishing) {
        L.foreign_offers += a < 0;
        return;
    }
    if (i < 0)
        i = ob_new(o->contact_id);
    struct obcall *c = &L.obc[i];
    c->agent = a;
    c->state = OB_OFFERED;
    c->epoch++;
    double think = dist_sample(&L.m.groups[L.agents[a].group].think, &L.rng);
    heap_push(now_ns() + (uint64_t)((think > 0 ? think : 0) * 1e6),
              T_OB_THINK, (uint32_t)i, c->epoch);
}

static void ob_event(const struct tev *e, uint64_t now)
{
    if (e->kind == T_DIAL) {
        if (e->ref < L.npd && L.pd[e->ref].used && L.pd[e->ref].gen == e->gen)
            dial_outcome(e->ref);
        return;
    }
    struct obcall *c = &L.obc[e->ref];
    if (c->epoch != e->gen)
        return;
    if (e->kind == T_OB_THINK && c->state == OB_OFFERED) {
        c->state = OB_ACCEPTING;
        c->epoch++;
        ob_send_simple((int)e->ref, R_OB_ACCEPT, L.agents[c->agent].conn);
    } else if (e->kind == T_OB_TALK && c->state == OB_TALKING) {
        /* the customer hangs up: the dialer, who owns the call, ends it */
        c->state = OB_COMPLETING;
        c->epoch++;
        agent_busy(&L.agents[c->agent], -1, now);
        ob_send_simple((int)e->ref, R_OB_COMPLETE, L.dialer);
    }
}

/* Replies to the outbound requests. */
static void ob_reply(enum req_kind kind, uint32_t ref, bool ok, uint64_t now)
{
    struct obcall *c;
    switch (kind) {
    case R_CAMPAIGN:
        if (!ok)
            L.fatal = true;
        if (L.pending_setup)
            L.pending_setup--;
        return;
    case R_DIAL:
    case R_CAMPAIGN_STOP:
        return;
    case R_OB_ACCEPT:
        c = &L.obc[ref];
        if (c->state != OB_ACCEPTING)
            return;
        if (!ok) {
            ob_free((int)ref);
            return;
        }
        c->state = OB_TALKING;
        c->epoch++;
        L.ob_connected++;
        agent_busy(&L.agents[c->agent], +1, now);
        {
            double t = L.finishing ? 0 : dist_sample(&L.m.ob.talk, &L.rng);
            heap_push(now + (uint64_t)((t > 0 ? t : 0) * 1e6), T_OB_TALK, ref,
                      c->epoch);
        }
        return;
    case R_OB_COMPLETE:
        c = &L.obc[ref];
        if (ok)
            L.ob_completed++;
        if (c->agent >= 0 && ok) {
            const struct model_group *g =
                &L.m.groups[L.agents[c->agent].group];
            double w = dist_sample(&g->wrapup, &L.rng);
            if (w >= 0 && !L.finishing)
                heap_push(now + (uint64_t)(w * 1e6), T_WRAPUP,
                          (uint32_t)c->agent, 0);
        }
        if (c->state == OB_COMPLETING)
            ob_free((int)ref);
        return;
    default:
        return;
    }
}

/* The end: the campaign stops; calls still talking end now. */
static void ob_finish(uint64_t now)
{
    if (!L.m.ob.on)
        return;
    Ccroute__V1__Envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__CampaignStop st = CCROUTE__V1__CAMPAIGN_STOP__INIT;
    st.campaign = L.campaign;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_CAMPAIGN_STOP;
    env.campaign_stop = &st;
    send_req(&L.conns[L.admin], &env, R_CAMPAIGN_STOP, 0);
    for (uint32_t i = 0; i < L.nobc; i++) {
        struct obcall *c = &L.obc[i];
        if (c->state != OB_TALKING)
            continue;
        c->state = OB_COMPLETING;
        c->epoch++;
        agent_busy(&L.agents[c->agent], -1, now);
        ob_send_simple((int)i, R_OB_COMPLETE, L.dialer);
    }
}

/* ---- timed actions ---- */

static void run_event(const struct tev *e, uint64_t now)
{
    if (e->kind == T_DIAL || e->kind == T_OB_THINK || e->kind == T_OB_TALK) {
        ob_event(e, now);
        return;
    }
    if (e->kind == T_WRAPUP) {
        struct agent *a = &L.agents[e->ref];
        if (a->logged_in && !L.stopping)
            send_agent_state(a, e->ref,
                             CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_WRAPUP_DONE,
                             R_WRAPUP);
        return;
    }
    struct contact *ct = &L.contacts[e->ref];
    switch (e->kind) {
    case T_PATIENCE:
        if (ct->slot_gen != e->gen ||
            (ct->state != C_WAITING && ct->state != C_OFFERED))
            return;
        set_state(ct, C_ABANDONING);
        send_simple(ct, R_ABANDON, e->ref);
        return;
    case T_THINK: {
        if (ct->epoch != e->gen || ct->state != C_OFFERED)
            return;
        const struct model_group *g =
            ct->agent >= 0 ? &L.m.groups[L.agents[ct->agent].group] : NULL;
        bool reject = g && g->reject > 0 && rng_unit(&L.rng) < g->reject;
        const char *aid = agent_id_of(ct);
        if (reject) {
            L.rejects++;
            set_state(ct, C_WAITING);
            send_answer(ct, e->ref, false, aid);
        } else {
            set_state(ct, C_ACCEPTING);
            send_answer(ct, e->ref, true, aid);
        }
        return;
    }
    case T_HANDLE:
        if (ct->epoch != e->gen || ct->state != C_TALKING)
            return;
        set_state(ct, C_COMPLETING);
        if (ct->agent >= 0)
            agent_busy(&L.agents[ct->agent], -1, now);
        send_simple(ct, R_COMPLETE, e->ref);
        return;
    }
}

static void arm_timer(void);

static void run_due(void)
{
    uint64_t now = now_ns();
    /* Open-loop arrivals: every contact whose intended time has come, in
     * a burst if we are behind (the lateness counts in the latencies). */
    while (L.arriving && !L.max_rate && L.next_arrival <= now) {
        uint64_t at = L.next_arrival;
        if (at >= L.t_end_arrivals) {
            finish_arrivals(now);
            break;
        }
        double t = secs(at - L.t0);
        double rate = L.rate_override > 0 ? L.rate_override
                                          : model_rate_at(&L.m, t);
        if (rate <= 0) {
            /* Rate zero for now: look again in 10 ms. */
            L.next_arrival = at + 10000000;
            continue;
        }
        L.next_arrival = at + (uint64_t)(rng_exp(&L.rng, 1.0 / rate) * 1e9);
        send_arrival(at);
        if (!L.arriving)
            break;
    }
    if (L.arriving && L.max_rate && now >= L.t_end_arrivals)
        finish_arrivals(now);
    while (L.nheap && L.heap[0].at <= now) {
        struct tev e = heap_pop();
        run_event(&e, now);
    }
}

static void arm_timer(void)
{
    uint64_t at = UINT64_MAX;
    if (L.arriving && !L.max_rate)
        at = L.next_arrival < L.t_end_arrivals ? L.next_arrival
                                               : L.t_end_arrivals;
    if (L.arriving && L.max_rate)
        at = L.t_end_arrivals;
    if (L.nheap && L.heap[0].at < at)
        at = L.heap[0].at;
    struct itimerspec its = {{0, 0}, {0, 0}};
    if (at != UINT64_MAX) {
        if (at == 0)
            at = 1;
        its.it_value.tv_sec = (time_t)(at / 1000000000ull);
        its.it_value.tv_nsec = (long)(at % 1000000000ull);
    }
    timerfd_settime(L.tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void timer_poll_cb(uv_poll_t *p, int status, int events)
{
    uint64_t n;
    if (read(L.tfd, &n, sizeof(n)) < 0) {
        /* EAGAIN: spurious wakeup, nothing to do. */
    }
    run_due();
}

/* Once per loop turn, before the writes: run what is due now (zero think
 * or handle times go out in the same turn) and re-arm the timer. */
static void before_flush(struct bconn_loop *bl)
{
    if (L.t0)
        run_due();
    arm_timer();
}

/* ---- receiving ---- */

static bool parse_contact(const char *id, uint32_t *slot)
{
    if (!id || id[0] != 'L')
        return false;
    const char *dash = strchr(id, '-');
    if (!dash || (size_t)(dash - id - 1) != strlen(L.run_id) ||
        strncmp(id + 1, L.run_id, strlen(L.run_id)))
        return false;
    uint64_t seq = strtoull(dash + 1, NULL, 10), v;
    if (map_get(&L.by_seq, seq, &v) < 0)
        return false;
    *slot = (uint32_t)v;
    return true;
}

static int parse_agent(const char *id)
{
    if (!id)
        return -1;
    const char *dash = strrchr(id, '-');
    if (!dash)
        return -1;
    char *end;
    unsigned long k = strtoul(dash + 1, &end, 10);
    if (*end || k >= L.nagents || strcmp(L.agents[k].id, id))
        return -1;
    return (int)k;
}

static bool error_expected(enum req_kind kind, int code)
{
    switch (kind) {
    case R_ARRIVE:
        /* The engine shedding load: a full queue, its slots exhausted, or
         * its Redis write-behind past the bound. Counted as refused. */
        return code == CCROUTE__V1__ERROR_CODE__ERROR_CODE_QUEUE_FULL ||
               code == CCROUTE__V1__ERROR_CODE__ERROR_CODE_RESOURCE_EXHAUSTED ||
               code == CCROUTE__V1__ERROR_CODE__ERROR_CODE_STATE_UNAVAILABLE;
    case R_ACCEPT:
    case R_REJECT:
    case R_COMPLETE:
    case R_ABANDON:
    case R_STATE:
    case R_WRAPUP:
    case R_OB_ACCEPT:
    case R_OB_COMPLETE:
        /* Races between the simulated parties and the engine's timers
         * (an answered call dropped at the compliance time). */
        return code == CCROUTE__V1__ERROR_CODE__ERROR_CODE_INVALID_STATE ||
               code == CCROUTE__V1__ERROR_CODE__ERROR_CODE_UNKNOWN_CONTACT;
    case R_DIAL:
        /* the engine gave up on the dial (its timeout), or ended */
        return code == CCROUTE__V1__ERROR_CODE__ERROR_CODE_UNKNOWN_DIAL;
    default:
        return false;
    }
}

static const char *code_name(int code)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
        &ccroute__v1__error_code__descriptor, code);
    if (!v)
        return "UNKNOWN";
    return v->name + (strncmp(v->name, "ERROR_CODE_", 11) ? 0 : 11);
}

static void hello_timer_cb(uv_timer_t *t);

static void on_reply(struct lconn *c, Ccroute__V1__Envelope *env, bool ok)
{
    uint64_t info;
    if (map_get(&L.reqs, env->request_id, &info) < 0) {
        L.unexpected++;
        fprintf(stderr, "ccload: reply to unknown request %llu\n",
                (unsigned long long)env->request_id);
        return;
    }
    map_del(&L.reqs, env->request_id);
    enum req_kind kind = (enum req_kind)(info >> 32);
    uint32_t ref = (uint32_t)info;
    uint64_t now = now_ns();
    int code = 0;
    if (!ok && kind == R_HELLO && env->error &&
        env->error->code == CCROUTE__V1__ERROR_CODE__ERROR_CODE_STATE_UNAVAILABLE) {
        c->hello_again = true;          /* still pending_setup */
        if (!uv_is_active((uv_handle_t *)&L.hello_timer))
            uv_timer_start(&L.hello_timer, hello_timer_cb, 100, 0);
        return;
    }
    if (!ok) {
        code = env->error ? (int)env->error->code : 0;
        L.errors++;
        L.err_by_code[code < NCODES && code >= 0 ? code : 0]++;
        if (!error_expected(kind, code)) {
            L.unexpected++;
            if (L.unexpected <= 10)
                fprintf(stderr, "%sccload: %s: error %s: %s\n",
                        L.tty && !L.quiet ? "\n" : "", req_names[kind],
                        code_name(code),
                        env->error && env->error->message ?
                        env->error->message : "");
        }
    }
    switch (kind) {
    case R_HELLO:
    case R_LOGIN:
    case R_STATE:
        if (!ok && !error_expected(kind, code))
            L.fatal = true;
        if (L.pending_setup)
            L.pending_setup--;
        if (kind == R_LOGIN && ok) {
            /* Make sure the agent is available (the engine may log agents
             * in as away); an INVALID_STATE answer is fine. */
            L.agents[ref].logged_in = true;
            send_agent_state(&L.agents[ref], ref,
                             CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AVAILABLE,
                             R_STATE);
            L.pending_setup++;
        }
        return;
    case R_LOGOUT:
        L.agents[ref].logged_in = false;
        return;
    case R_WRAPUP:
        return;
    case R_CAMPAIGN:
    case R_DIAL:
    case R_OB_ACCEPT:
    case R_OB_COMPLETE:
    case R_CAMPAIGN_STOP:
        ob_reply(kind, ref, ok, now);
        return;
    default:
        break;
    }
    struct contact *ct = &L.contacts[ref];
    switch (kind) {
    case R_ARRIVE:
        if (ok) {
            L.acked++;
            L.cstats[ct->cls].acked++;
            hist_record(L.h_ack, (now - ct->intended) / 1000);
        } else {
            L.refused++;
            L.cstats[ct->cls].refused++;
            if (ct->state != C_FREE)
                contact_free(ref);
        }
        return;
    case R_ACCEPT:
        if (ct->state != C_ACCEPTING)
            return;
        if (!ok) {
            /* The offer was withdrawn meanwhile: the contact waits again. */
            set_state(ct, C_WAITING);
            return;
        }
        set_state(ct, C_TALKING);
        ct->answered = now;
        {
            double ms = (double)(now - ct->intended) / 1e6;
            struct class_stats *cs = &L.cstats[ct->cls];
            L.answered++;
            cs->answered++;
            L.answer_ms_sum += ms;
            cs->answer_ms_sum += ms;
            if (ms <= L.m.sl_threshold_ms) {
                L.answered_in_sl++;
                cs->answered_in_sl++;
            }
            hist_record(L.h_answer, (now - ct->intended) / 1000);
        }
        if (ct->agent >= 0)
            agent_busy(&L.agents[ct->agent], +1, now);
        {
            double h = 0;
            if (ct->agent >= 0 && !L.finishing)
                h = dist_sample(&L.m.groups[L.agents[ct->agent].group].handle,
                                &L.rng);
            heap_push(now + (uint64_t)(h * 1e6), T_HANDLE, ref, ct->epoch);
        }
        return;
    case R_REJECT:
        return;
    case R_COMPLETE:
        if (ok) {
            L.completed++;
            L.cstats[ct->cls].completed++;
        }
        if (ct->agent >= 0) {
            struct agent *a = &L.agents[ct->agent];
            const struct model_group *g = &L.m.groups[a->group];
            double w = dist_sample(&g->wrapup, &L.rng);
            if (w >= 0 && !L.finishing)
                heap_push(now + (uint64_t)(w * 1e6), T_WRAPUP,
                          (uint32_t)ct->agent, 0);
        }
        if (ct->state != C_FREE)
            contact_free(ref);
        return;
    case R_ABANDON:
        if (ok) {
            if (ct->cancel) {
                L.cancelled++;
                L.cstats[ct->cls].cancelled++;
            } else {
                L.abandoned++;
                L.cstats[ct->cls].abandoned++;
            }
        }
        if (ct->state != C_FREE)
            contact_free(ref);
        return;
    default:
        return;
    }
}

static void on_offer(Ccroute__V1__Offer *o)
{
    uint32_t slot;
    uint64_t now = now_ns();
    if (o && o->campaign && *o->campaign && L.m.ob.on) {
        on_ob_offer(o);
        return;
    }
    L.offers++;
    if (!o || !parse_contact(o->contact_id, &slot)) {
        L.stale_offers++;
        return;
    }
    struct contact *ct = &L.contacts[slot];
    if (ct->state != C_WAITING) {
        L.stale_offers++;
        return;
    }
    if (!ct->offered) {
        ct->offered = true;
        L.first_offers++;
        L.cstats[ct->cls].offered++;
        uint64_t us = (now - ct->intended) / 1000;
        hist_record(L.h_offer, us);
        hist_record(L.h_interval, us);
    } else {
        L.reoffers++;
    }
    int a = parse_agent(o->agent_id);
    ct->agent = a;
    if (a < 0)
        L.foreign_offers++;
    set_state(ct, C_OFFERED);
    double think = 0;
    if (a >= 0 && !L.finishing)
        think = dist_sample(&L.m.groups[L.agents[a].group].think, &L.rng);
    heap_push(now + (uint64_t)(think * 1e6), T_THINK, slot, ct->epoch);
}

static void on_revoked(Ccroute__V1__OfferRevoked *r)
{
    uint32_t slot;
    if (r && L.m.ob.on) {
        int i = ob_find(r->contact_id);
        if (i >= 0) {
            /* dropped (no agent in time) while offered, or the offer
             * timed out: the engine decides what comes next */
            if (L.obc[i].state == OB_OFFERED ||
                L.obc[i].state == OB_ACCEPTING)
                ob_free(i);
            return;
        }
    }
    L.revoked++;
    if (!r || !parse_contact(r->contact_id, &slot))
        return;
    struct contact *ct = &L.contacts[slot];
    if (ct->state == C_OFFERED)
        set_state(ct, C_WAITING);
}

static void on_frame(struct bconn *bc, Ccroute__V1__Envelope *env)
{
    struct lconn *c = bc->data;
    if (!env) {
        fprintf(stderr, "ccload: connection %u: undecodable frame\n", c->idx);
        L.unexpected++;
        L.fatal = true;
        return;
    }
    L.t_last_event = now_ns();
    switch (env->body_case) {
    case CCROUTE__V1__ENVELOPE__BODY_ACK:
        on_reply(c, env, true);
        break;
    case CCROUTE__V1__ENVELOPE__BODY_ERROR:
        if (env->request_id == 0) {
            L.errors++;
            L.unexpected++;
            fprintf(stderr, "ccload: connection %u: error %s: %s\n", c->idx,
                    env->error ? code_name(env->error->code) : "?",
                    env->error && env->error->message ? env->error->message
                                                      : "");
            break;
        }
        on_reply(c, env, false);
        break;
    case CCROUTE__V1__ENVELOPE__BODY_OFFER:
        on_offer(env->offer);
        break;
    case CCROUTE__V1__ENVELOPE__BODY_OFFER_REVOKED:
        on_revoked(env->offer_revoked);
        break;
    case CCROUTE__V1__ENVELOPE__BODY_CONTACT_QUEUED:
        L.queued_events++;
        break;
    case CCROUTE__V1__ENVELOPE__BODY_DIAL_REQUEST:
        on_dial_request(env->dial_request);
        break;
    case CCROUTE__V1__ENVELOPE__BODY_CALL_DROPPED:
        if (env->call_dropped) {
            int i = ob_find(env->call_dropped->contact_id);
            L.ob_dropped++;
            if (i >= 0 && L.obc[i].state != OB_TALKING &&
                L.obc[i].state != OB_COMPLETING)
                ob_free(i);
        }
        break;
    default:
        /* ContactAssigned, Stats, unknown cases: nothing to do. */
        break;
    }
}

static void on_close(struct bconn *bc, int err)
{
    struct lconn *c = bc->data;
    c->up = false;
    if (!L.stopping) {
        fprintf(stderr, "%sccload: connection %u closed by the server%s%s\n",
                L.tty && !L.quiet ? "\n" : "", c->idx, err ? ": " : "",
                err ? uv_strerror(err) : "");
        L.fatal = true;
        L.unexpected++;
    }
}

/* ---- status, timeline ---- */

static double occupancy_now(uint64_t now)
{
    if (!L.nagents || !L.t0 || now <= L.t0)
        return 0;
    uint64_t busy = 0;
    for (unsigned i = 0; i < L.nagents; i++) {
        busy += L.agents[i].busy_ns;
        if (L.agents[i].active)
            busy += now - L.agents[i].busy_since;
    }
    return (double)busy / ((double)(now - L.t0) * L.nagents);
}

static double service_level(void)
{
    uint64_t d = L.answered + L.abandoned;
    return d ? (double)L.answered_in_sl / (double)d : 1.0;
}

static void take_sample(uint64_t now)
{
    if (L.nsamples == L.capsamples) {
        size_t ncap = L.capsamples ? L.capsamples * 2 : 256;
        struct sample *ns = realloc(L.samples, ncap * sizeof(*ns));
        if (!ns)
            return;
        L.samples = ns;
        L.capsamples = ncap;
    }
    struct sample *s = &L.samples[L.nsamples++];
    s->t = secs(now - L.t0);
    s->sent = L.sent;
    s->offers = L.first_offers;
    s->completed = L.completed;
    s->p50 = hist_percentile(L.h_interval, 50);
    s->p90 = hist_percentile(L.h_interval, 90);
    s->p99 = hist_percentile(L.h_interval, 99);
    s->max = hist_max(L.h_interval);
    s->depth = L.waiting;
    s->sl = service_level();
    s->occupancy = occupancy_now(now);
    hist_reset(L.h_interval);
}

static void fmt_us(uint64_t us, char *buf, size_t len)
{
    if (us < 10000)
        snprintf(buf, len, "%lluus", (unsigned long long)us);
    else if (us < 10000000)
        snprintf(buf, len, "%.1fms", us / 1000.0);
    else
        snprintf(buf, len, "%.1fs", us / 1e6);
}

static void status_line(const struct sample *s)
{
    if (L.quiet)
        return;
    char p99[32];
    fmt_us(s->p99, p99, sizeof(p99));
    fprintf(stderr, "%s[%6.1fs] sent %llu  offers %llu  p99 %s  depth %llu"
            "  answered %llu  abandoned %llu  errors %llu%s",
            L.tty ? "\r" : "", s->t, (unsigned long long)s->sent,
            (unsigned long long)s->offers, p99,
            (unsigned long long)s->depth, (unsigned long long)L.answered,
            (unsigned long long)L.abandoned, (unsigned long long)L.errors,
            L.tty ? "   " : "\n");
    fflush(stderr);
}

static void stop_loop(void);

static void finish_run(uint64_t now);

static void tick_cb(uv_timer_t *t)
{
    uint64_t now = now_ns();
    if (!L.t0)
        return;
    if (now - L.last_sample_at >= 1000000000ull) {
        L.last_sample_at += 1000000000ull;
        if (now - L.last_sample_at > 1000000000ull)
            L.last_sample_at = now;
        take_sample(now);
        status_line(&L.samples[L.nsamples - 1]);
    }
    if (L.fatal && !L.stopping) {
        stop_loop();
        return;
    }
    if (L.draining && (L.live == 0 || now >= L.t_drain_end))
        finish_run(now);
    if (L.finishing && !L.stopping &&
        ((L.live == 0 && L.reqs.len == 0) || now >= L.t_stop))
        stop_loop();
}

/* ---- phases ---- */

static void finish_arrivals(uint64_t now)
{
    if (!L.arriving)
        return;
    L.arriving = false;
    L.draining = true;
    L.t_end_arrivals = now;
    cpu_mark(true);
    L.t_drain_end = now + (uint64_t)(L.m.drain_s * 1e9);
}

/* End of the drain: cut what is left (customers hang up, agents finish
 * now), so the engine's counters and ours end on the same totals. */
static void finish_run(uint64_t now)
{
    if (L.finishing)
        return;
    L.draining = false;
    L.finishing = true;
    L.t_stop = now + 5000000000ull;
    ob_finish(now);
    for (uint32_t i = 0; i < L.ncontacts; i++) {
        struct contact *ct = &L.contacts[i];
        if (ct->state == C_WAITING || ct->state == C_OFFERED) {
            ct->cancel = true;
            set_state(ct, C_ABANDONING);
            send_simple(ct, R_ABANDON, i);
        } else if (ct->state == C_TALKING) {
            set_state(ct, C_COMPLETING);
            if (ct->agent >= 0)
                agent_busy(&L.agents[ct->agent], -1, now);
            send_simple(ct, R_COMPLETE, i);
        }
    }
}

static void close_walk_cb(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h) && h->type != UV_PREPARE && h->type != UV_TCP)
        uv_close(h, NULL);
}

static void stop_loop(void)
{
    if (L.stopping)
        return;
    L.stopping = true;
    uint64_t now = now_ns();
    for (unsigned i = 0; i < L.nagents; i++)
        if (L.agents[i].active) {
            L.agents[i].busy_ns += now - L.agents[i].busy_since;
            L.agents[i].active = 0;
        }
    /* Log the agents out (best effort, not waited for), then close. */
    for (unsigned i = 0; i < L.nagents; i++) {
        struct agent *a = &L.agents[i];
        if (!a->logged_in || !L.conns[a->conn].up)
            continue;
        Ccroute__V1__Envelope env = CCROUTE__V1__ENVELOPE__INIT;
        Ccroute__V1__AgentLogout lo = CCROUTE__V1__AGENT_LOGOUT__INIT;
        lo.agent_id = a->id;
        env.body_case = CCROUTE__V1__ENVELOPE__BODY_AGENT_LOGOUT;
        env.agent_logout = &lo;
        send_req(&L.conns[a->conn], &env, R_LOGOUT, i);
    }
    bconn_flush_all(&L.bl);
    uv_stop(L.loop);
}

static void on_signal(uv_signal_t *s, int signum)
{
    uint64_t now = now_ns();
    if (L.arriving) {
        finish_arrivals(now);
        finish_run(now);
    } else {
        stop_loop();
    }
}

/* ---- reporting ---- */

struct qagg {
    const char *name;
    struct class_stats s;
};

static unsigned aggregate_queues(struct qagg *out)
{
    unsigned n = 0;
    for (unsigned i = 0; i < L.m.nclasses; i++) {
        const char *q = L.m.classes[i].queue[0] ? L.m.classes[i].queue
                                                : "(skills)";
        unsigned j;
        for (j = 0; j < n; j++)
            if (!strcmp(out[j].name, q))
                break;
        if (j == n) {
            memset(&out[n], 0, sizeof(out[n]));
            out[n++].name = q;
        }
        struct class_stats *d = &out[j].s, *s = &L.cstats[i];
        d->sent += s->sent;
        d->acked += s->acked;
        d->refused += s->refused;
        d->offered += s->offered;
        d->answered += s->answered;
        d->answered_in_sl += s->answered_in_sl;
        d->abandoned += s->abandoned;
        d->cancelled += s->cancelled;
        d->completed += s->completed;
        d->answer_ms_sum += s->answer_ms_sum;
    }
    return n;
}

static void print_hist_row(FILE *f, const char *name, const struct hist *h)
{
    char b[7][32];
    fmt_us(hist_percentile(h, 50), b[0], 32);
    fmt_us(hist_percentile(h, 90), b[1], 32);
    fmt_us(hist_percentile(h, 99), b[2], 32);
    fmt_us(hist_percentile(h, 99.9), b[3], 32);
    fmt_us(hist_max(h), b[4], 32);
    fmt_us((uint64_t)hist_mean(h), b[5], 32);
    fprintf(f, "  %-16s %9llu %9s %9s %9s %9s %9s %9s\n", name,
            (unsigned long long)hist_count(h), b[5], b[0], b[1], b[2], b[3],
            b[4]);
}

static void print_summary(FILE *f, double elapsed, double active)
{
    fprintf(f, "\nccload: %s against %s:%d, %s, %.1f s (arrivals %.1f s)\n",
            L.m.name, L.host, L.port,
            L.max_rate ? "max-rate (closed loop)" : "open loop", elapsed,
            active);
    fprintf(f, "  contacts  sent %llu  acked %llu  refused %llu  offered %llu"
            "  answered %llu  abandoned %llu  cut at end %llu  completed %llu\n",
            (unsigned long long)L.sent, (unsigned long long)L.acked,
            (unsigned long long)L.refused,
            (unsigned long long)L.first_offers,
            (unsigned long long)L.answered, (unsigned long long)L.abandoned,
            (unsigned long long)L.cancelled, (unsigned long long)L.completed);
    fprintf(f, "  throughput  %.1f contacts/s sent  %.1f offers/s  %.1f "
            "completed/s\n", active > 0 ? L.sent / active : 0,
            active > 0 ? L.first_offers / active : 0,
            elapsed > 0 ? L.completed / elapsed : 0);
    if (L.max_rate)
        fprintf(f, "  max sustained rate  %.1f contacts/s (window %u)\n",
                active > 0 ? L.completed / active : 0, L.window);
    fprintf(f, "\n  %-16s %9s %9s %9s %9s %9s %9s %9s\n", "latency", "count",
            "mean", "p50", "p90", "p99", "p99.9", "max");
    print_hist_row(f, "routing (offer)", L.h_offer);
    print_hist_row(f, "ack", L.h_ack);
    print_hist_row(f, "answer", L.h_answer);
    uint64_t d = L.answered + L.abandoned;
    fprintf(f, "\n  service level %.1f%% within %.0f s   ASA %.2f s   "
            "abandon rate %.1f%%   occupancy %.1f%%\n",
            service_level() * 100, L.m.sl_threshold_ms / 1000,
            L.answered ? L.answer_ms_sum / L.answered / 1000 : 0,
            d ? 100.0 * L.abandoned / d : 0, occupancy_now(now_ns()) * 100);
    fprintf(f, "  offers %llu (re-offers %llu, rejected by agents %llu, "
            "revoked %llu, stale %llu)\n", (unsigned long long)L.offers,
            (unsigned long long)L.reoffers, (unsigned long long)L.rejects,
            (unsigned long long)L.revoked, (unsigned long long)L.stale_offers);
    if (L.m.ob.on)
        fprintf(f, "  outbound %s (%s): dials %llu (human %llu, machine "
                "%llu, busy %llu, no answer %llu, failed %llu); offers %llu, "
                "connected %llu, completed %llu, dropped %llu\n", L.campaign,
                L.m.ob.mode == CCROUTE__V1__DIAL_MODE__DIAL_MODE_PREDICTIVE
                    ? "predictive" : "progressive",
                (unsigned long long)L.ob_dials,
                (unsigned long long)L.ob_out[OB_HUMAN],
                (unsigned long long)L.ob_out[OB_MACHINE],
                (unsigned long long)L.ob_out[OB_BUSY],
                (unsigned long long)L.ob_out[OB_NO_ANSWER],
                (unsigned long long)L.ob_out[OB_FAILED],
                (unsigned long long)L.ob_offers,
                (unsigned long long)L.ob_connected,
                (unsigned long long)L.ob_completed,
                (unsigned long long)L.ob_dropped);
    fprintf(f, "  errors %llu (unexpected %llu)", (unsigned long long)L.errors,
            (unsigned long long)L.unexpected);
    for (int i = 0; i < NCODES; i++)
        if (L.err_by_code[i])
            fprintf(f, "  %s=%llu", code_name(i),
                    (unsigned long long)L.err_by_code[i]);
    fprintf(f, "\n");
    if (L.behind_max_ns > 50000000)
        fprintf(f, "  note: ccload itself fell behind its schedule by up to "
                "%.1f ms\n", L.behind_max_ns / 1e6);

    struct qagg q[MODEL_MAX_CLASSES];
    unsigned nq = aggregate_queues(q);
    fprintf(f, "\n  %-16s %8s %8s %8s %8s %8s %7s %8s\n", "queue", "offered",
            "answered", "abandon", "cut", "refused", "SL", "ASA");
    for (unsigned i = 0; i < nq; i++) {
        struct class_stats *s = &q[i].s;
        uint64_t dd = s->answered + s->abandoned;
        fprintf(f, "  %-16s %8llu %8llu %8llu %8llu %8llu %6.1f%% %7.2fs\n",
                q[i].name, (unsigned long long)s->acked,
                (unsigned long long)s->answered,
                (unsigned long long)s->abandoned,
                (unsigned long long)s->cancelled,
                (unsigned long long)s->refused,
                dd ? 100.0 * s->answered_in_sl / dd : 100.0,
                s->answered ? s->answer_ms_sum / s->answered / 1000 : 0);
    }
}

static void json_hist(FILE *f, const char *name, const struct hist *h,
                      bool comma)
{
    fprintf(f, "    \"%s\": {\"count\": %llu, \"min\": %llu, \"mean\": %.1f, "
            "\"p50\": %llu, \"p90\": %llu, \"p99\": %llu, \"p999\": %llu, "
            "\"max\": %llu}%s\n", name,
            (unsigned long long)hist_count(h), (unsigned long long)hist_min(h),
            hist_mean(h), (unsigned long long)hist_percentile(h, 50),
            (unsigned long long)hist_percentile(h, 90),
            (unsigned long long)hist_percentile(h, 99),
            (unsigned long long)hist_percentile(h, 99.9),
            (unsigned long long)hist_max(h), comma ? "," : "");
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static void write_json(FILE *f, double elapsed, double active)
{
    uint64_t d = L.answered + L.abandoned;
    fprintf(f, "{\n  \"tool\": \"ccload\",\n  \"version\": 1,\n"
            "  \"scenario\": ");
    json_str(f, L.m.name);
    fprintf(f, ",\n  \"target\": ");
    json_str(f, L.host);
    fprintf(f, ",\n  \"port\": %d,\n  \"mode\": \"%s\",\n", L.port,
            L.max_rate ? "max-rate" : "open-loop");
    fprintf(f, "  \"elapsed_s\": %.3f,\n  \"arrivals_s\": %.3f,\n", elapsed,
            active);
    fprintf(f, "  \"rate_target\": %.3f,\n", L.rate_override > 0 ?
            L.rate_override : L.m.rate);
    fprintf(f, "  \"agents\": %u,\n  \"connections\": %u,\n", L.nagents,
            L.nconns);
    fprintf(f, "  \"contacts\": {\"sent\": %llu, \"acked\": %llu, "
            "\"refused\": %llu, \"offered\": %llu, \"answered\": %llu, "
            "\"abandoned\": %llu, \"cancelled\": %llu, \"completed\": %llu, "
            "\"left\": %llu},\n",
            (unsigned long long)L.sent, (unsigned long long)L.acked,
            (unsigned long long)L.refused,
            (unsigned long long)L.first_offers,
            (unsigned long long)L.answered, (unsigned long long)L.abandoned,
            (unsigned long long)L.cancelled, (unsigned long long)L.completed,
            (unsigned long long)L.live);
    fprintf(f, "  \"offers\": {\"total\": %llu, \"reoffers\": %llu, "
            "\"rejected\": %llu, \"revoked\": %llu, \"stale\": %llu, "
            "\"foreign_agent\": %llu},\n", (unsigned long long)L.offers,
            (unsigned long long)L.reoffers, (unsigned long long)L.rejects,
            (unsigned long long)L.revoked, (unsigned long long)L.stale_offers,
            (unsigned long long)L.foreign_offers);
    fprintf(f, "  \"throughput\": {\"sent_per_s\": %.2f, \"offers_per_s\": "
            "%.2f, \"completed_per_s\": %.2f},\n",
            active > 0 ? L.sent / active : 0,
            active > 0 ? L.first_offers / active : 0,
            elapsed > 0 ? L.completed / elapsed : 0);
    if (L.max_rate)
        fprintf(f, "  \"max_rate\": {\"window\": %u, \"rate\": %.2f},\n",
                L.window, active > 0 ? L.completed / active : 0);
    if (L.cpu_done) {
        double win = secs(L.cpu_wall1 - L.cpu_wall0);
        fprintf(f, "  \"cpu\": {\"window_s\": %.3f, \"contacts\": %llu, "
                "\"source\": \"/proc/PID/task/*/schedstat\"", win,
                (unsigned long long)L.cpu_sent1);
        for (unsigned i = 0; i < L.ncpu; i++) {
            const struct cpu_watch *w = &L.cpu[i];
            fprintf(f, ", ");
            json_str(f, w->name);
            if (!w->ok0 || !w->ok1) {
                fprintf(f, ": null");
                continue;
            }
            double us = (double)(w->ns1 - w->ns0) / 1e3;
            fprintf(f, ": {\"pid\": %d, \"cpu_us\": %.0f, "
                    "\"us_per_contact\": %.3f, \"cpu_share\": %.4f}",
                    w->pid, us, L.cpu_sent1 ? us / (double)L.cpu_sent1 : 0,
                    win > 0 ? us / 1e6 / win : 0);
        }
        fprintf(f, "},\n");
    }
    fprintf(f, "  \"latency_us\": {\n");
    json_hist(f, "routing", L.h_offer, true);
    json_hist(f, "ack", L.h_ack, true);
    json_hist(f, "answer", L.h_answer, false);
    fprintf(f, "  },\n");
    if (L.m.ob.on) {
        fprintf(f, "  \"outbound\": {\"campaign\": ");
        json_str(f, L.campaign);
        fprintf(f, ", \"dials\": %llu, \"human\": %llu, \"machine\": %llu, "
                "\"busy\": %llu, \"no_answer\": %llu, \"failed\": %llu, "
                "\"offers\": %llu, \"connected\": %llu, \"completed\": %llu, "
                "\"dropped\": %llu},\n", (unsigned long long)L.ob_dials,
                (unsigned long long)L.ob_out[OB_HUMAN],
                (unsigned long long)L.ob_out[OB_MACHINE],
                (unsigned long long)L.ob_out[OB_BUSY],
                (unsigned long long)L.ob_out[OB_NO_ANSWER],
                (unsigned long long)L.ob_out[OB_FAILED],
                (unsigned long long)L.ob_offers,
                (unsigned long long)L.ob_connected,
                (unsigned long long)L.ob_completed,
                (unsigned long long)L.ob_dropped);
    }
    fprintf(f, "  \"errors\": {\"total\": %llu, \"unexpected\": %llu, "
            "\"by_code\": {", (unsigned long long)L.errors,
            (unsigned long long)L.unexpected);
    bool first = true;
    for (int i = 0; i < NCODES; i++)
        if (L.err_by_code[i]) {
            fprintf(f, "%s\"%s\": %llu", first ? "" : ", ", code_name(i),
                    (unsigned long long)L.err_by_code[i]);
            first = false;
        }
    fprintf(f, "}},\n");
    fprintf(f, "  \"service_level\": %.4f,\n  \"sl_threshold_ms\": %.0f,\n",
            service_level(), L.m.sl_threshold_ms);
    fprintf(f, "  \"asa_ms\": %.1f,\n  \"abandon_rate\": %.4f,\n"
            "  \"occupancy\": %.4f,\n  \"behind_schedule_max_ms\": %.3f,\n",
            L.answered ? L.answer_ms_sum / L.answered : 0,
            d ? (double)L.abandoned / d : 0, occupancy_now(now_ns()),
            L.behind_max_ns / 1e6);
    struct qagg q[MODEL_MAX_CLASSES];
    unsigned nq = aggregate_queues(q);
    fprintf(f, "  \"queues\": [\n");
    for (unsigned i = 0; i < nq; i++) {
        struct class_stats *s = &q[i].s;
        uint64_t dd = s->answered + s->abandoned;
        fprintf(f, "    {\"queue\": ");
        json_str(f, q[i].name);
        fprintf(f, ", \"sent\": %llu, \"offered\": %llu, \"refused\": %llu, "
                "\"routed\": %llu, \"answered\": %llu, \"abandoned\": %llu, "
                "\"cancelled\": %llu, \"completed\": %llu, "
                "\"service_level\": %.4f, \"asa_ms\": %.1f}%s\n",
                (unsigned long long)s->sent, (unsigned long long)s->acked,
                (unsigned long long)s->refused,
                (unsigned long long)s->offered,
                (unsigned long long)s->answered,
                (unsigned long long)s->abandoned,
                (unsigned long long)s->cancelled,
                (unsigned long long)s->completed,
                dd ? (double)s->answered_in_sl / dd : 1.0,
                s->answered ? s->answer_ms_sum / s->answered : 0,
                i + 1 < nq ? "," : "");
    }
    fprintf(f, "  ],\n  \"timeline\": [\n");
    for (size_t i = 0; i < L.nsamples; i++) {
        struct sample *s = &L.samples[i];
        fprintf(f, "    {\"t\": %.2f, \"sent\": %llu, \"offers\": %llu, "
                "\"completed\": %llu, \"p50_us\": %llu, \"p90_us\": %llu, "
                "\"p99_us\": %llu, \"max_us\": %llu, \"depth\": %llu, "
                "\"service_level\": %.4f, \"occupancy\": %.4f}%s\n",
                s->t, (unsigned long long)s->sent,
                (unsigned long long)s->offers,
                (unsigned long long)s->completed, (unsigned long long)s->p50,
                (unsigned long long)s->p90, (unsigned long long)s->p99,
                (unsigned long long)s->max, (unsigned long long)s->depth,
                s->sl, s->occupancy, i + 1 < L.nsamples ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
}

static int write_plots(const char *dir)
{
    char path[4096];
    if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
        fprintf(stderr, "ccload: --plot %s: %s\n", dir, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof(path), "%s/timeline.dat", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "ccload: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f, "# t_s sent_per_s p50_ms p90_ms p99_ms max_ms depth "
            "service_level_pct occupancy_pct\n");
    uint64_t prev = 0;
    double prev_t = 0;
    for (size_t i = 0; i < L.nsamples; i++) {
        struct sample *s = &L.samples[i];
        double dt = s->t - prev_t;
        fprintf(f, "%.2f %.1f %.3f %.3f %.3f %.3f %llu %.2f %.2f\n", s->t,
                dt > 0 ? (s->sent - prev) / dt : 0, s->p50 / 1000.0,
                s->p90 / 1000.0, s->p99 / 1000.0, s->max / 1000.0,
                (unsigned long long)s->depth, s->sl * 100, s->occupancy * 100);
        prev = s->sent;
        prev_t = s->t;
    }
    fclose(f);
    snprintf(path, sizeof(path), "%s/plot.gp", dir);
    f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "ccload: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f,
            "set terminal pngcairo size 1000,500 noenhanced\n"
            "set datafile commentschars '#'\n"
            "set grid\nset key top left\nset xlabel 'time (s)'\n"
            "set output '%s/latency.png'\n"
            "set title 'ccload %s: routing latency per second (intended "
            "arrival -> offer)'\n"
            "set ylabel 'ms'\nset logscale y\n"
            "plot '%s/timeline.dat' using 1:($3>0?$3:1/0) with lines "
            "title 'p50', '' using 1:($4>0?$4:1/0) with lines title 'p90', "
            "'' using 1:($5>0?$5:1/0) with lines title 'p99', "
            "'' using 1:($6>0?$6:1/0) with lines title 'max'\n"
            "unset logscale y\n"
            "set output '%s/queue.png'\n"
            "set title 'ccload %s: queue depth and service level'\n"
            "set ylabel 'contacts waiting'\nset y2label 'percent'\n"
            "set yrange [0:*]\nset offsets graph 0, graph 0, graph 0.1, 0\n"
            "set y2range [0:105]\nset ytics nomirror\nset y2tics\n"
            "plot '%s/timeline.dat' using 1:7 with lines title 'queue depth',"
            " '' using 1:8 axes x1y2 with lines title 'service level %%',"
            " '' using 1:9 axes x1y2 with lines title 'occupancy %%'\n"
            "set output '%s/rate.png'\n"
            "set title 'ccload %s: arrivals per second'\n"
            "unset y2label\nunset y2tics\nset ylabel 'contacts/s'\n"
            "plot '%s/timeline.dat' using 1:2 with lines title 'sent/s'\n",
            dir, L.m.name, dir, dir, L.m.name, dir, dir, L.m.name, dir);
    fclose(f);
    pid_t pid;
    char *argv[] = {"gnuplot", path, NULL};
    int rc = posix_spawnp(&pid, "gnuplot", NULL, NULL, argv, environ);
    if (rc != 0) {
        fprintf(stderr, "ccload: cannot run gnuplot: %s (data and script "
                "are in %s)\n", strerror(rc), dir);
        return -1;
    }
    int st;
    if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
        fprintf(stderr, "ccload: gnuplot failed (script %s)\n", path);
        return -1;
    }
    if (!L.quiet)
        fprintf(stderr, "ccload: charts in %s/latency.png, queue.png, "
                "rate.png\n", dir);
    return 0;
}

/* ---- set-up ---- */

static bool is_loopback(const char *h)
{
    return !strcmp(h, "localhost") || !strncmp(h, "127.", 4) ||
           !strcmp(h, "::1");
}

static void usage(FILE *f)
{
    fprintf(f,
"usage: ccload [options] [HOST[:PORT]]\n"
"Plays a traffic model against ccrouted (default 127.0.0.1:7400).\n"
"  -m, --model FILE      traffic model (YAML; default bench/scenarios/demo.yaml)\n"
"  -r, --rate N          arrival rate, contacts/s (overrides the model)\n"
"  -d, --duration S      seconds of arrivals (default: model, else 10)\n"
"  -n, --contacts N      stop arrivals after N contacts\n"
"  -c, --connections N   connections to spread contacts and agents over\n"
"      --max-rate        closed loop: keep a window of W contacts\n"
"                        outstanding and report the highest sustained rate\n"
"  -w, --window W        window for --max-rate (default: model, else 64)\n"
"      --drain S         wait S seconds after the last arrival (default 5)\n"
"      --json FILE|-     write the results as JSON (- : stdout)\n"
"      --plot DIR        write timeline.dat and PNG charts (gnuplot)\n"
"  -q, --quiet           no status line, no summary table\n"
"      --allow-remote    allow a target other than loopback\n"
"      --token-file FILE the credential of every connection (first line of\n"
"                        FILE; default: CCROUTE_TOKEN, else none); the\n"
"                        principal needs role switch, clients ccload-*\n"
"                        and the agents of the model (with an outbound\n"
"                        section also roles dialer and admin)\n"
"      --cpu NAME=PID    report the CPU time of process PID over the\n"
"                        arrivals, per contact sent (repeatable, up to %d)\n"
"  -h, --help\n"
"Exit status: 0 done, 1 unexpected protocol error or lost connection,\n"
"2 bad arguments or model.\n", CPU_MAX_PIDS);
}

static int parse_args(int argc, char **argv)
{
    enum { O_MAXRATE = 256, O_JSON, O_PLOT, O_REMOTE, O_DRAIN, O_TOKEN,
           O_CPU };
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"rate", required_argument, NULL, 'r'},
        {"duration", required_argument, NULL, 'd'},
        {"contacts", required_argument, NULL, 'n'},
        {"connections", required_argument, NULL, 'c'},
        {"window", required_argument, NULL, 'w'},
        {"max-rate", no_argument, NULL, O_MAXRATE},
        {"drain", required_argument, NULL, O_DRAIN},
        {"json", required_argument, NULL, O_JSON},
        {"plot", required_argument, NULL, O_PLOT},
        {"quiet", no_argument, NULL, 'q'},
        {"allow-remote", no_argument, NULL, O_REMOTE},
        {"token-file", required_argument, NULL, O_TOKEN},
        {"cpu", required_argument, NULL, O_CPU},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    double drain = -1;
    const char *token_file = NULL;
    L.host = "127.0.0.1";
    L.port = 7400;
    L.model_path = "bench/scenarios/demo.yaml";
    int o;
    char *end;
    while ((o = getopt_long(argc, argv, "m:r:d:n:c:w:qh", opts, NULL)) != -1) {
        switch (o) {
        case 'm': L.model_path = optarg; break;
        case 'r':
            L.rate_override = strtod(optarg, &end);
            if (*end || L.rate_override <= 0)
                goto bad;
            break;
        case 'd':
            L.duration_s = strtod(optarg, &end);
            if (*end || L.duration_s <= 0)
                goto bad;
            break;
        case 'n':
            L.contacts_max = strtoull(optarg, &end, 10);
            if (*end || !L.contacts_max)
                goto bad;
            break;
        case 'c':
            L.connections = (unsigned)strtoul(optarg, &end, 10);
            if (*end || L.connections < 1 || L.connections > MAX_CONNS)
                goto bad;
            break;
        case 'w':
            L.window = (unsigned)strtoul(optarg, &end, 10);
            if (*end || L.window < 1)
                goto bad;
            break;
        case O_MAXRATE: L.max_rate = true; break;
        case O_DRAIN:
            drain = strtod(optarg, &end);
            if (*end || drain < 0)
                goto bad;
            break;
        case O_JSON: L.json_path = optarg; break;
        case O_PLOT: L.plot_dir = optarg; break;
        case 'q': L.quiet = true; break;
        case O_REMOTE: L.allow_remote = true; break;
        case O_TOKEN: token_file = optarg; break;
        case O_CPU: {
            const char *eq = strchr(optarg, '=');
            long pid;
            if (!eq || eq == optarg || (size_t)(eq - optarg) >= 32 ||
                L.ncpu == CPU_MAX_PIDS)
                goto bad;
            pid = strtol(eq + 1, &end, 10);
            if (*end || pid <= 0 || pid > 0x3fffffff)
                goto bad;
            memcpy(L.cpu[L.ncpu].name, optarg, (size_t)(eq - optarg));
            L.cpu[L.ncpu].name[eq - optarg] = '\0';
            L.cpu[L.ncpu++].pid = (int)pid;
            break;
        }
        case 'h': usage(stdout); exit(0);
        default: goto bad;
        }
    }
    if (optind + 1 < argc)
        goto bad;
    snprintf(L.cpu[L.ncpu].name, sizeof(L.cpu[L.ncpu].name), "ccload");
    L.cpu[L.ncpu++].pid = 0;
    int trc = ccr_token_load(token_file, L.token, sizeof(L.token));
    if (trc < 0) {
        fprintf(stderr, "ccload: --token-file %s: %s\n",
                token_file ? token_file : "(CCROUTE_TOKEN)", strerror(-trc));
        return 2;
    }
    if (optind < argc) {
        static char host[256];
        const char *a = argv[optind];
        int port;
        if (bconn_parse_hostport(a, host, sizeof(host), &port) == 0) {
            L.host = host;
            L.port = port;
        } else if (strlen(a) < sizeof(host)) {
            strcpy(host, a);
            L.host = host;
        } else {
            goto bad;
        }
    }
    if (L.port <= 0 || L.port > 65535)
        goto bad;
    char err[1024];
    if (model_load(&L.m, L.model_path, err, sizeof(err)) < 0) {
        fprintf(stderr, "ccload: %s\n", err);
        return 2;
    }
    if (drain >= 0)
        L.m.drain_s = drain;
    if (!L.duration_s)
        L.duration_s = L.m.duration_s;
    if (!L.contacts_max)
        L.contacts_max = L.m.contacts;
    if (!L.duration_s && !L.contacts_max)
        L.duration_s = 10;
    if (!L.connections)
        L.connections = L.m.connections;
    if (!L.window)
        L.window = L.m.window;
    if (!L.allow_remote && !is_loopback(L.host)) {
        fprintf(stderr, "ccload: %s is not a loopback address; pass "
                "--allow-remote to load a remote engine\n", L.host);
        return 2;
    }
    if (!strcmp(L.host, "localhost"))
        L.host = "127.0.0.1";
    return 0;
bad:
    usage(stderr);
    return 2;
}

static int setup_agents(void)
{
    unsigned total = 0;
    for (unsigned g = 0; g < L.m.ngroups; g++)
        total += L.m.groups[g].count;
    L.agents = calloc(total ? total : 1, sizeof(*L.agents));
    if (!L.agents)
        return -1;
    unsigned k = 0;
    for (unsigned g = 0; g < L.m.ngroups; g++) {
        const struct model_group *mg = &L.m.groups[g];
        for (unsigned i = 0; i < mg->count; i++, k++) {
            struct agent *a = &L.agents[k];
            snprintf(a->id, sizeof(a->id), "%s-%s-%u", L.run_id, mg->name, k);
            a->group = g;
            a->conn = k % L.nconns;
        }
    }
    L.nagents = total;
    return 0;
}

static void send_login(unsigned k)
{
    struct agent *a = &L.agents[k];
    const struct model_group *g = &L.m.groups[a->group];
    Ccroute__V1__Envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__AgentLogin lg = CCROUTE__V1__AGENT_LOGIN__INIT;
    Ccroute__V1__AgentSkill sk[MODEL_MAX_SKILLS], *psk[MODEL_MAX_SKILLS];
    Ccroute__V1__ChannelCapacity cap[5], *pcap[5];
    char *queues[MODEL_MAX_QUEUES];
    lg.agent_id = a->id;
    for (unsigned i = 0; i < g->nskills; i++) {
        ccroute__v1__agent_skill__init(&sk[i]);
        sk[i].skill = (char *)g->skills[i].name;
        sk[i].level = g->skills[i].level;
        psk[i] = &sk[i];
    }
    lg.n_skills = g->nskills;
    lg.skills = psk;
    size_t nc = 0;
    for (int ch = 1; ch < 5; ch++)
        if (g->capacity[ch]) {
            ccroute__v1__channel_capacity__init(&cap[nc]);
            cap[nc].channel = (Ccroute__V1__Channel)ch;
            cap[nc].capacity = g->capacity[ch];
            pcap[nc] = &cap[nc];
            nc++;
        }
    lg.n_capacity = nc;
    lg.capacity = pcap;
    for (unsigned i = 0; i < g->nqueues; i++)
        queues[i] = (char *)g->queues[i];
    lg.n_queues = g->nqueues;
    lg.queues = queues;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_AGENT_LOGIN;
    env.agent_login = &lg;
    send_req(&L.conns[a->conn], &env, R_LOGIN, k);
}

/* Runs the loop until every set-up request is answered (or 10 s). */
static int wait_setup(const char *what)
{
    uint64_t deadline = now_ns() + 10000000000ull;
    while (L.pending_setup && !L.fatal && now_ns() < deadline) {
        bconn_flush_all(&L.bl);
        uv_run(L.loop, UV_RUN_ONCE);
    }
    if (L.fatal || L.pending_setup) {
        fprintf(stderr, "ccload: %s failed%s\n", what,
                L.pending_setup ? " (timed out)" : "");
        return -1;
    }
    return 0;
}

/* Says Hello on c as its name and role (answered later: on_reply). */
static void send_hello(struct lconn *c)
{
    Ccroute__V1__Envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Hello h = CCROUTE__V1__HELLO__INIT;
    h.client_name = c->name;
    h.role = c->role;
    if (L.token[0])
        h.credential = L.token;
    h.protocol_version = CCROUTE__V1__PROTOCOL_VERSION__PROTOCOL_VERSION_1;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    send_req(c, &env, R_HELLO, c->idx);
}

/* An engine that is starting or loading its tenant answers Hello with
 * STATE_UNAVAILABLE "not serving yet ...; retry" (proto/README.md): the
 * Hello goes again on the same connection, within wait_setup()'s bound. */
static void hello_timer_cb(uv_timer_t *t)
{
    (void)t;
    for (unsigned i = 0; i < L.nall; i++)
        if (L.conns[i].hello_again && L.conns[i].up) {
            L.conns[i].hello_again = false;
            send_hello(&L.conns[i]);
        }
    bconn_flush_all(&L.bl);
}

/* Connects conns[i] and says Hello as `name` in `role` (answered later:
 * pending_setup). 0 or -1. */
static int conn_open(unsigned i, const char *name, Ccroute__V1__Role role)
{
    struct lconn *c = &L.conns[i];
    c->idx = i;
    c->bc.data = c;
    snprintf(c->name, sizeof c->name, "%s", name);
    c->role = role;
    bconn_init(&L.bl, &c->bc, on_frame, on_close);
    int rc = bconn_connect(&c->bc, L.host, L.port);
    if (rc < 0) {
        fprintf(stderr, "ccload: connect %s:%d: %s\n", L.host, L.port,
                uv_strerror(rc));
        return -1;
    }
    c->up = true;
    send_hello(c);
    L.pending_setup++;
    return 0;
}

static int connect_all(void)
{
    for (unsigned i = 0; i < L.nconns; i++) {
        char name[64];
        snprintf(name, sizeof(name), "ccload-%s-%u", L.run_id, i);
        if (conn_open(i, name, CCROUTE__V1__ROLE__ROLE_SWITCH) < 0)
            return -1;
    }
    L.nall = L.nconns;
    if (L.m.ob.on) {
        char name[64];
        L.dialer = L.nall++;
        L.admin = L.nall++;
        snprintf(L.dialer_name, sizeof(L.dialer_name), "ccload-%s-dialer",
                 L.run_id);
        snprintf(name, sizeof(name), "ccload-%s-admin", L.run_id);
        if (conn_open(L.dialer, L.dialer_name,
                      CCROUTE__V1__ROLE__ROLE_DIALER) < 0 ||
            conn_open(L.admin, name, CCROUTE__V1__ROLE__ROLE_ADMIN) < 0)
            return -1;
    }
    return wait_setup("hello");
}

/* The model's campaign, named <campaign>-<run id> (reruns against one
 * engine never clash), with its leads, started: every request answered
 * before the traffic begins. */
static int setup_campaign(void)
{
    const struct model_outbound *o = &L.m.ob;
    Ccroute__V1__Envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__CampaignUpsert cu = CCROUTE__V1__CAMPAIGN_UPSERT__INIT;
    Ccroute__V1__CampaignStart cs = CCROUTE__V1__CAMPAIGN_START__INIT;
    char *blend[MODEL_MAX_QUEUES];
    enum { BATCH = 200 };

    snprintf(L.campaign, sizeof(L.campaign), "%.40s-%.15s", o->campaign,
             L.run_id);
    cu.name = L.campaign;
    cu.queue = (char *)o->queue;
    cu.mode = (Ccroute__V1__DialMode)o->mode;
    cu.window_start_hour = 0;
    cu.window_end_hour = 24;
    cu.max_attempts = o->max_attempts;
    cu.retry_busy_ms = cu.retry_no_answer_ms = cu.retry_machine_ms =
        cu.retry_failed_ms = cu.retry_dropped_ms = (uint32_t)o->retry_ms;
    cu.caller_id = "+15550000000";
    cu.dialer = L.dialer_name;
    cu.abandon_cap_bp = o->abandon_cap_bp;
    for (unsigned i = 0; i < o->nblend; i++)
        blend[i] = (char *)o->blend[i];
    cu.n_blend_queues = o->nblend;
    cu.blend_queues = blend;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_CAMPAIGN_UPSERT;
    env.campaign_upsert = &cu;
    send_req(&L.conns[L.admin], &env, R_CAMPAIGN, 0);
    L.pending_setup++;
    if (wait_setup("outbound campaign") < 0)
        return -1;
    for (unsigned first = 0; first < o->leads; first += BATCH) {
        Ccroute__V1__LeadsAdd la = CCROUTE__V1__LEADS_ADD__INIT;
        Ccroute__V1__Lead ls[BATCH], *lp[BATCH];
        char ids[BATCH][16], nums[BATCH][24];
        unsigned n = o->leads - first < BATCH ? o->leads - first : BATCH;
        for (unsigned k = 0; k < n; k++) {
            ccroute__v1__lead__init(&ls[k]);
            snprintf(ids[k], sizeof(ids[k]), "%u", first + k);
            snprintf(nums[k], sizeof(nums[k]), "+1999%07u", first + k);
            ls[k].lead_id = ids[k];
            ls[k].number = nums[k];
            ls[k].time_zone = (char *)o->zone;
            lp[k] = &ls[k];
        }
        la.campaign = L.campaign;
        la.leads = lp;
        la.n_leads = n;
        env.body_case = CCROUTE__V1__ENVELOPE__BODY_LEADS_ADD;
        env.leads_add = &la;
        send_req(&L.conns[L.admin], &env, R_CAMPAIGN, 0);
        L.pending_setup++;
        if (wait_setup("outbound leads") < 0)
            return -1;
    }
    cs.campaign = L.campaign;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_CAMPAIGN_START;
    env.campaign_start = &cs;
    send_req(&L.conns[L.admin], &env, R_CAMPAIGN, 0);
    L.pending_setup++;
    return wait_setup("outbound start");
}

int main(int argc, char **argv)
{
    int rc = parse_args(argc, argv);
    if (rc)
        return rc;
    signal(SIGPIPE, SIG_IGN);
    L.tty = isatty(STDERR_FILENO);
    rng_seed(&L.rng, L.m.seed);
    {
        /* Ids unique per run, so reruns against one engine never clash. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
                     ((uint64_t)getpid() << 40);
        snprintf(L.run_id, sizeof(L.run_id), "%06llx",
                 (unsigned long long)(mix64(x) & 0xffffff));
    }
    L.h_offer = hist_new(LAT_MAX_US, 3);
    L.h_ack = hist_new(LAT_MAX_US, 3);
    L.h_answer = hist_new(LAT_MAX_US, 3);
    L.h_interval = hist_new(LAT_MAX_US, 3);
    L.cstats = calloc(L.m.nclasses, sizeof(*L.cstats));
    if (!L.h_offer || !L.h_ack || !L.h_answer || !L.h_interval || !L.cstats)
        return 1;

    L.loop = uv_default_loop();
    if (bconn_loop_init(&L.bl, L.loop) < 0)
        return 1;
    uv_timer_init(L.loop, &L.hello_timer);
    L.nconns = L.connections;
    if (connect_all() < 0)
        return 1;
    if (setup_agents() < 0)
        return 1;
    for (unsigned k = 0; k < L.nagents; k++) {
        send_login(k);
        L.pending_setup++;
    }
    if (wait_setup("agent login") < 0)
        return 1;
    if (L.m.ob.on && setup_campaign() < 0)
        return 1;

    L.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (L.tfd < 0) {
        perror("ccload: timerfd_create");
        return 1;
    }
    uv_poll_init(L.loop, &L.tpoll, L.tfd);
    uv_poll_start(&L.tpoll, UV_READABLE, timer_poll_cb);
    uv_timer_init(L.loop, &L.tick);
    uv_timer_start(&L.tick, tick_cb, 100, 100);
    uv_signal_init(L.loop, &L.sigint);
    uv_signal_init(L.loop, &L.sigterm);
    uv_signal_start(&L.sigint, on_signal, SIGINT);
    uv_signal_start(&L.sigterm, on_signal, SIGTERM);
    L.bl.before_flush = before_flush;

    if (!L.quiet)
        fprintf(stderr, "ccload: %s -> %s:%d, %u agents on %u connection%s, "
                "%s\n", L.m.name, L.host, L.port, L.nagents, L.nconns,
                L.nconns > 1 ? "s" : "",
                L.max_rate ? "max-rate" : "open loop");
    cpu_mark(false);
    L.t0 = now_ns();
    L.last_sample_at = L.t0;
    L.arriving = true;
    L.t_end_arrivals = L.duration_s > 0 ?
        L.t0 + (uint64_t)(L.duration_s * 1e9) : UINT64_MAX;
    L.next_arrival = L.t0;
    if (L.max_rate) {
        for (unsigned i = 0; i < L.window && L.arriving; i++)
            send_arrival(now_ns());
    }
    uv_run(L.loop, UV_RUN_DEFAULT);

    uint64_t t_done = now_ns();
    double elapsed = secs(t_done - L.t0);
    double active = secs((L.arriving ? t_done : L.t_end_arrivals) - L.t0);
    if (L.tty && !L.quiet)
        fputc('\n', stderr);
    FILE *summary = L.json_path && !strcmp(L.json_path, "-") ? stderr
                                                             : stdout;
    if (!L.quiet)
        print_summary(summary, elapsed, active);
    if (L.json_path) {
        FILE *f = strcmp(L.json_path, "-") ? fopen(L.json_path, "w") : stdout;
        if (!f) {
            fprintf(stderr, "ccload: %s: %s\n", L.json_path, strerror(errno));
            L.exit_code = 1;
        } else {
            write_json(f, elapsed, active);
            if (f != stdout)
                fclose(f);
            else
                fflush(f);
        }
    }
    if (L.plot_dir && write_plots(L.plot_dir) < 0)
        L.exit_code = 1;

    /* Let the logouts reach the engine, then close everything. */
    for (int spin = 0; spin < 200; spin++) {
        bool busy = false;
        for (unsigned i = 0; i < L.nall; i++)
            busy |= L.conns[i].up && L.conns[i].bc.writing;
        if (!busy)
            break;
        uv_run(L.loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    for (unsigned i = 0; i < L.nall; i++)
        if (L.conns[i].up)
            bconn_close(&L.conns[i].bc, 0);
    uv_walk(L.loop, close_walk_cb, NULL);
    bconn_loop_close(&L.bl);
    uv_run(L.loop, UV_RUN_DEFAULT);
    close(L.tfd);
    if (L.unexpected || L.fatal)
        return 1;
    return L.exit_code;
}
