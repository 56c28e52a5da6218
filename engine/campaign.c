/* campaign.c -- the outbound campaign core; see campaign.h.
 *
 * What it does
 * ------------
 * Holds campaigns, their leads and the do-not-call set, and decides which
 * lead to call when, in three dialing modes, within each lead's local
 * calling window, under an abandon cap, without taking agents from inbound
 * work. Pure and deterministic like the router: time comes in as `now`
 * (wall clock: windows are local hours), decisions go out as events.
 *
 * How it meets the router (the design of issue 11's first slice)
 * ---------------------------------------------------------------
 * Outbound reuses the agents, skill queues, offers and statistics that
 * inbound has: a campaign names a configured router queue, and its caller
 * turns the core's decisions into router contacts of that queue. Nothing
 * in the router knows about campaigns. The callers are engine/outbound.c
 * (the daemon's side, with the protocol messages) and the pacing
 * simulations of tests/test-campaign.c; the design of the glue
 * (docs/outbound.md) is this:
 *  - Preview: PREVIEW becomes a contact whose Offer carries the lead and
 *    its attributes; the agent who accepts it is assigned and so
 *    reserved; then campaign_preview_accept() and the DIAL follow. A
 *    rejected preview is offered to the next agent, as any offer is;
 *    when none takes it, engine/outbound.c skips it
 *    (campaign_preview_cancel).
 *  - Progressive and predictive: DIAL only; an outcome "answered by a
 *    person" becomes a contact in the campaign's queue, routed at once to
 *    a free agent. An inbound contact that waited longer is served first
 *    (its score is older), so inbound wins a tie.
 *  - The caller tells the core what the router did: a preview offered or
 *    accepted, an answered call offered to an agent
 *    (campaign_call_connected), a call ended.
 *  - Capacity comes from the router (free agents of the queue, O(1):
 *    router_queue_free()) through the caller's callback, which applies
 *    blending: no capacity while an inbound queue of the campaign's
 *    `blend` list has a contact waiting or a service level below its
 *    target plus the margin; agents above their outbound share
 *    (campaign_agents_over) left out. The core itself keeps back agents
 *    for the inbound contacts expected while a dial rings: the blend
 *    queues' arrival rate (from their `offered` count, weighted over 5
 *    minutes) times the time to an answer plus the compliance time. And
 *    for BLEND_HOLD_US after inbound last held it back, a predictive
 *    campaign dials no more than progressive would. A predictive
 *    campaign without blend queues keeps back what it sees taken instead
 *    ("Pacing" below).
 *
 * Leads and the heap of heaps
 * ---------------------------
 * Picking the next lead never scans leads. Each campaign keeps one bucket
 * per time zone its leads live in, each bucket a binary min-heap of
 * (next eligible time, sequence) -> lead, and an outer heap of buckets
 * keyed by the first time the bucket's top lead may be called: its next
 * eligible time moved into its zone's window (campaign-zone.h caches each
 * zone's UTC offset between DST transitions). Picking: look at the outer
 * top; if its key has not come, nothing is due; if its zone's window is
 * closed now (the key was computed earlier), re-key the bucket to the
 * window's next opening and sift, else pop its top lead and re-key the
 * bucket. A bucket is re-keyed for a closed window once per closing, so a
 * window that closes on a million leads costs O(log zones), not a million
 * heap moves. Costs: pick O(log n + log zones), retry O(log n + log
 * zones); add O(log n) amortized. A retried lead goes back into the
 * bucket it came out of, whose array has room for it: no allocation after
 * LeadsAdd.
 *
 * Lead ids are unique per campaign (one hash over (campaign, id)); a lead
 * keeps its strings and attributes in one allocation.
 *
 * Dials
 * -----
 * A fixed table of max_dials records (preview, ringing, answered,
 * talking), ids (generation << 24 | slot) so that a stale or invented id
 * is recognized (CAMPAIGN_ENOENT). Ringing dials and answered calls are in
 * per-campaign FIFOs in start order, whose deadlines (dial timeout plus
 * 10 s, compliance time) are per-campaign constants: expiry is O(1) at the
 * head. A dial the switch never answers counts as FAILED.
 *
 * Pacing (campaign_pace)
 * ----------------------
 * Campaigns in priority order (then index); each gets the free agents of
 * its queue less those that campaigns before it in this call have claimed
 * (a claim is the agent-equivalents of its ringing and answered calls and
 * unoffered previews). No dial without a connected dialer or while
 * blending holds outbound back.
 *  - preview: one PREVIEW per free agent not already covered by a preview
 *    waiting in the queue;
 *  - progressive: dials so that ringing + answered-waiting = free agents;
 *  - predictive: agents expected free within a ring time, E = talking x
 *    min(1, ring time / handle time), plus the free ones, less the
 *    answered calls waiting, is the need; ringing dials are brought to
 *    gain x need / answer rate. The answer rate is measured over the last
 *    256 outcomes (smoothed toward 0.3 while few), ring and handle times
 *    are moving averages. The gain is a stochastic approximation of the
 *    abandon target: each connected call raises it by s x c / (2 (1 - c)),
 *    each drop lowers it by s (s = 0.08, c the cap), so it settles where
 *    drops are about half the cap; it is kept in [0.3, 1.5]. A guard falls
 *    back to progressive while the abandon rate of the rolling window
 *    (CAMPAIGN_WINDOW_MIN one-minute buckets) or of the campaign's life is
 *    at or above 80% of the cap.
 *  - predictive without blend queues, on agents that something else takes
 *    too (inbound of any queue they serve): falling back to progressive
 *    does not keep the cap, an answered call still finds its agent taken.
 *    So the free agents, and those its own calls will free, are counted
 *    less a keep: the rate at which free agents are taken (their fall
 *    between two turns beyond its own calls connected, per second while
 *    one is free, over 5 minutes) times the time to an answer plus the
 *    compliance time -- or times how long a taken agent stays away, if
 *    shorter -- plus z standard deviations of that count; z moves like
 *    the gain (up 1 per drop, down so that drops settle near half the
 *    cap; starts at 1, kept in [0, 3]). It dials no more than progressive
 *    for its first ramp_up_ms (default 2 minutes), and again after a
 *    pause of 5 minutes.
 * An answered call that has not reached an agent compliance_ms after the
 * answer is dropped (DROP): it counts as abandoned and the lead is retried
 * after the `dropped` delay.
 *
 * Do-not-call: an open-addressing set of exact number strings (linear
 * probing, backward-shift delete), checked when a lead is picked and again
 * when a preview is accepted, just before its dial.
 */
#include "campaign.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campaign-zone.h"

#define NONE UINT32_MAX
#define SLOT_BITS 24
#define SLOT_MASK ((1u << SLOT_BITS) - 1)
#define HIST 256
#define RING_GRACE_US 10000000ull   /* a dial unanswered this long after
                                       its timeout counts as FAILED */
#define GAIN_STEP 0.08
#define GAIN_TARGET 0.5              /* drops settle near half the cap */
#define GUARD 0.8                    /* of the cap: fall back to progressive */
#define BLEND_HOLD_US 120000000ull   /* no dialing ahead this long after
                                        inbound last held outbound back */
#define TAKEN_TAU_US 300000000ull    /* taken agents: weighted over 5 min */
#define MARGIN_STEP 1.0
#define MARGIN_MAX 3.0
#define MARGIN_START 1.0
#define TAKEN_Q 256                  /* taken agents followed until back */
#define SHARE_TAU_US 3600e6          /* an hour */

enum dial_state {
    D_FREE = 0,
    D_PREVIEW_Q,        /* preview contact waiting for an agent */
    D_PREVIEW_O,        /* offered to an agent */
    D_RINGING,
    D_ANSWERED,         /* a person answered; waiting for an agent */
    D_TALKING,
};

struct lead {
    char *s;            /* id NUL number NUL attrs (one malloc) */
    uint64_t next_at;
    uint32_t attrs_len;
    uint16_t campaign, zone;
    uint8_t state, attempts, last, idlen;
};

struct hent {
    uint64_t key;
    uint32_t lead, seq;
};

struct bucket {
    struct hent *a;
    uint32_t n, cap;
    uint32_t opos;      /* position in the outer heap, NONE if empty */
    int zone;
    uint64_t key;       /* outer key: first time its top may be called */
};

struct dial {
    uint64_t id;
    uint64_t started, answered, connected;
    uint32_t lead, tag, agent;
    uint32_t prev, next;        /* ringing / answered FIFO */
    int16_t campaign;
    uint8_t state;
};

struct wbucket {
    uint64_t minute;
    uint32_t ans, drop;
};

struct fifo {
    uint32_t head, tail;
};

/* What takes a campaign's free agents (campaign_pace, taken_rate). */
struct taken {
    uint64_t at;                /* the last turn; 0: none yet */
    uint64_t conn, drop;        /* the campaign's connected, dropped then */
    uint32_t free_, talking;    /* the free agents, c's calls talking then */
    uint32_t mine;              /* agents of c's ended calls not yet back */
    double n, s;                /* agents taken, seconds with one free,
                                   weighted over TAKEN_TAU_US */
    double away_s;              /* how long a taken agent stays away */
    uint32_t away_n;            /* returns measured */
    double z;                   /* the margin, in standard deviations */
    uint64_t q[TAKEN_Q];        /* when the agents still away were taken */
    uint32_t qh, qn;
};

struct campaign {
    bool used;
    enum campaign_run run;
    int queue_ref;
    struct campaign_config cfg;
    struct bucket *b;
    uint32_t nb, cb;
    uint32_t *zb;               /* zone -> bucket + 1 */
    uint32_t nzb;
    uint32_t *outer;            /* bucket indexes, heap on key */
    uint32_t nouter;
    struct fifo ringq, ansq;
    uint32_t ringing, answered, talking, prev_q, prev_o;
    struct campaign_stats st;   /* counters only; the rest at read */
    uint8_t hist[HIST];
    uint32_t hpos, hn, hhuman;
    double ring_s, handle_s, gain;
    struct wbucket win[CAMPAIGN_WINDOW_MIN];
    uint64_t life_ans, life_drop;
    uint64_t held_until;        /* blending: no dialing ahead before */
    uint64_t in_at, in_offered; /* blending: last inbound count seen */
    double in_rate;             /* inbound arrivals per second */
    struct taken tk;            /* what takes its free agents */
};

struct agent_share {
    char id[CAMPAIGN_ID_MAX];
    double s, t;
    uint64_t at;
    uint32_t on;
};

struct campaign_core {
    struct campaign camp[CAMPAIGN_MAX];
    int ncamp;
    struct czones *zones;
    struct lead *leads;
    uint32_t nleads, capleads, max_leads;
    uint32_t *lhash;            /* lead + 1; key (campaign, id) */
    uint32_t lhcap;
    uint32_t seq;
    struct dial *dials;
    uint32_t max_dials, free_dial, gen;
    char **dnc;                 /* open addressing, NULL empty */
    uint32_t ndnc, dnccap;
    struct agent_share *ag;
    uint32_t nag, agcap;
    struct campaign_event *out;
    size_t nout, capout;
};

/* ---- small helpers ---- */

static uint64_t fnv64(const char *s, uint64_t h)
{
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static bool str_ok(const char *s)
{
    return s && *s && strnlen(s, CAMPAIGN_ID_MAX) < CAMPAIGN_ID_MAX;
}

static const char *lead_number(const struct lead *l)
{
    return l->s + l->idlen + 1;
}

static void emit(struct campaign_core *cc, enum campaign_event_type t,
                 int campaign, uint32_t lead, uint64_t dial,
                 enum campaign_outcome o)
{
    if (cc->nout == cc->capout) {
        /* doubles like the router's output list: a decision that cannot
         * be reported is not kept */
        size_t ncap = cc->capout * 2;
        struct campaign_event *n = realloc(cc->out, ncap * sizeof(*n));
        if (!n)
            abort();
        cc->out = n;
        cc->capout = ncap;
    }
    cc->out[cc->nout++] = (struct campaign_event){ t, campaign, lead, dial, o };
}

static void lead_state(struct campaign_core *cc, uint32_t li,
                       enum campaign_lead_state s)
{
    struct lead *l = &cc->leads[li];
    struct campaign *c = &cc->camp[l->campaign];
    if (l->state)
        c->st.in_state[l->state]--;
    l->state = (uint8_t)s;
    c->st.in_state[s]++;
    emit(cc, CAMPAIGN_EV_LEAD, l->campaign, li, 0,
         (enum campaign_outcome)l->last);
}

/* ---- bucket heaps ---- */

static bool hless(const struct hent *x, const struct hent *y)
{
    return x->key < y->key || (x->key == y->key && x->seq < y->seq);
}

static void hup(struct hent *a, uint32_t i)
{
    struct hent e = a[i];
    while (i) {
        uint32_t p = (i - 1) / 2;
        if (!hless(&e, &a[p]))
            break;
        a[i] = a[p];
        i = p;
    }
    a[i] = e;
}

static void hdown(struct hent *a, uint32_t n, uint32_t i)
{
    struct hent e = a[i];
    for (;;) {
        uint32_t k = 2 * i + 1;
        if (k >= n)
            break;
        if (k + 1 < n && hless(&a[k + 1], &a[k]))
            k++;
        if (!hless(&a[k], &e))
            break;
        a[i] = a[k];
        i = k;
    }
    a[i] = e;
}

/* ---- the outer heap of buckets ---- */

static void oset(struct campaign *c, uint32_t pos, uint32_t bi)
{
    c->outer[pos] = bi;
    c->b[bi].opos = pos;
}

static void oup(struct campaign *c, uint32_t i)
{
    uint32_t bi = c->outer[i];
    uint64_t k = c->b[bi].key;
    while (i) {
        uint32_t p = (i - 1) / 2;
        if (c->b[c->outer[p]].key <= k)
            break;
        oset(c, i, c->outer[p]);
        i = p;
    }
    oset(c, i, bi);
}

static void odown(struct campaign *c, uint32_t i)
{
    uint32_t bi = c->outer[i];
    uint64_t k = c->b[bi].key;
    for (;;) {
        uint32_t j = 2 * i + 1;
        if (j >= c->nouter)
            break;
        if (j + 1 < c->nouter && c->b[c->outer[j + 1]].key < c->b[c->outer[j]].key)
            j++;
        if (c->b[c->outer[j]].key >= k)
            break;
        oset(c, i, c->outer[j]);
        i = j;
    }
    oset(c, i, bi);
}

static void ofix(struct campaign *c, uint32_t bi)
{
    oup(c, c->b[bi].opos);
    odown(c, c->b[bi].opos);
}

static void oremove(struct campaign *c, uint32_t bi)
{
    uint32_t pos = c->b[bi].opos;
    c->b[bi].opos = NONE;
    if (--c->nouter == pos)
        return;
    oset(c, pos, c->outer[c->nouter]);
    ofix(c, c->outer[pos]);
}

/* The outer key of bucket b: its top lead's next eligible time moved into
 * the zone's window. */
static uint64_t bucket_key(struct campaign_core *cc, const struct campaign *c,
                           const struct bucket *b)
{
    uint64_t t = b->a[0].key / 1000;
    uint64_t w = czones_window_next(cc->zones, b->zone, t,
                                    c->cfg.window_start_h, c->cfg.window_end_h);
    return w == t ? b->a[0].key : w * 1000;
}

/* Bucket bi of c changed at its top: re-key it, join or leave the outer
 * heap. */
static void bucket_rekey(struct campaign_core *cc, struct campaign *c,
                         uint32_t bi)
{
    struct bucket *b = &c->b[bi];
    if (b->n == 0) {
        if (b->opos != NONE)
            oremove(c, bi);
        return;
    }
    b->key = bucket_key(cc, c, b);
    if (b->opos == NONE) {
        oset(c, c->nouter++, bi);
        oup(c, b->opos);
    } else {
        ofix(c, bi);
    }
}

/* Puts lead li (WAITING, next_at set) into its bucket; the bucket has room
 * (bucket_reserve or the lead came out of it). */
static void lead_push(struct campaign_core *cc, uint32_t li)
{
    struct lead *l = &cc->leads[li];
    struct campaign *c = &cc->camp[l->campaign];
    uint32_t bi = c->zb[l->zone] - 1;
    struct bucket *b = &c->b[bi];
    bool top_changed;
    b->a[b->n] = (struct hent){ l->next_at, li, cc->seq++ };
    hup(b->a, b->n++);
    top_changed = b->a[0].lead == li;
    if (top_changed || b->opos == NONE)
        bucket_rekey(cc, c, bi);
}

/* Room for `more` leads in campaign c's bucket of `zone`, making the
 * bucket if needed. -1 out of memory (nothing else changed). */
static int bucket_reserve(struct campaign *c, int zone, uint32_t more)
{
    if ((uint32_t)zone >= c->nzb) {
        uint32_t nz = (uint32_t)zone + 16;
        uint32_t *n = realloc(c->zb, nz * sizeof(*n));
        if (!n)
            return -1;
        memset(n + c->nzb, 0, (nz - c->nzb) * sizeof(*n));
        c->zb = n;
        c->nzb = nz;
    }
    if (!c->zb[zone]) {
        if (c->nb == c->cb) {
            uint32_t ncb = c->cb ? c->cb * 2 : 4;
            struct bucket *nb = realloc(c->b, ncb * sizeof(*nb));
            uint32_t *no = nb ? realloc(c->outer, ncb * sizeof(*no)) : NULL;
            if (nb)
                c->b = nb;
            if (!no)
                return -1;
            c->outer = no;
            c->cb = ncb;
        }
        c->b[c->nb] = (struct bucket){ NULL, 0, 0, NONE, zone, 0 };
        c->zb[zone] = ++c->nb;
    }
    struct bucket *b = &c->b[c->zb[zone] - 1];
    if (b->n + more > b->cap) {
        uint32_t ncap = b->cap ? b->cap : 16;
        while (ncap < b->n + more)
            ncap *= 2;
        struct hent *na = realloc(b->a, (size_t)ncap * sizeof(*na));
        if (!na)
            return -1;
        b->a = na;
        b->cap = ncap;
    }
    return 0;
}

/* ---- do-not-call ---- */

static uint32_t dnc_slot(const struct campaign_core *cc, const char *num,
                         bool *found)
{
    uint32_t m = cc->dnccap - 1;
    for (uint32_t i = (uint32_t)fnv64(num, 1469598103934665603ull) & m;;
         i = (i + 1) & m) {
        if (!cc->dnc[i]) {
            *found = false;
            return i;
        }
        if (strcmp(cc->dnc[i], num) == 0) {
            *found = true;
            return i;
        }
    }
}

bool campaign_dnc_has(const struct campaign_core *cc, const char *number)
{
    bool found;
    if (!number)
        return false;
    dnc_slot(cc, number, &found);
    return found;
}

uint32_t campaign_dnc_count(const struct campaign_core *cc)
{
    return cc->ndnc;
}

void campaign_dnc_each(const struct campaign_core *cc,
                       void (*fn)(void *ctx, const char *number), void *ctx)
{
    for (uint32_t i = 0; i < cc->dnccap; i++)
        if (cc->dnc[i])
            fn(ctx, cc->dnc[i]);
}

uint32_t campaign_lead_count(const struct campaign_core *cc)
{
    return cc->nleads;
}

int campaign_dnc_add(struct campaign_core *cc, const char *number)
{
    bool found;
    if (!str_ok(number))
        return CCR_EINVAL;
    dnc_slot(cc, number, &found);
    if (found)
        return 0;
    if ((cc->ndnc + 1) * 2 > cc->dnccap) {
        uint32_t ncap = cc->dnccap * 2;
        char **nt = calloc(ncap, sizeof(*nt)), **old = cc->dnc;
        if (!nt)
            return CCR_ENOMEM;
        uint32_t ocap = cc->dnccap;
        cc->dnc = nt;
        cc->dnccap = ncap;
        for (uint32_t i = 0; i < ocap; i++)
            if (old[i])
                cc->dnc[dnc_slot(cc, old[i], &found)] = old[i];
        free(old);
    }
    char *s = strdup(number);
    if (!s)
        return CCR_ENOMEM;
    cc->dnc[dnc_slot(cc, number, &found)] = s;
    cc->ndnc++;
    return 0;
}

int campaign_dnc_remove(struct campaign_core *cc, const char *number,
                        bool *was_there)
{
    bool found;
    uint32_t m = cc->dnccap - 1, i, j;
    if (!str_ok(number))
        return CCR_EINVAL;
    i = dnc_slot(cc, number, &found);
    if (was_there)
        *was_there = found;
    if (!found)
        return 0;
    free(cc->dnc[i]);
    cc->dnc[i] = NULL;
    cc->ndnc--;
    /* backward shift: move later entries of the run into the hole when
     * their home does not lie cyclically in (i, j] */
    for (j = (i + 1) & m; cc->dnc[j]; j = (j + 1) & m) {
        uint32_t home = (uint32_t)fnv64(cc->dnc[j], 1469598103934665603ull) & m;
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            cc->dnc[i] = cc->dnc[j];
            cc->dnc[j] = NULL;
            i = j;
        }
    }
    return 0;
}

/* ---- life cycle ---- */

struct campaign_core *campaign_core_new(uint32_t max_leads, uint32_t max_dials)
{
    struct campaign_core *cc = calloc(1, sizeof(*cc));
    if (!cc)
        return NULL;
    cc->max_leads = max_leads ? max_leads : 5000000;
    cc->max_dials = max_dials ? max_dials : 4096;
    if (cc->max_dials > SLOT_MASK)
        cc->max_dials = SLOT_MASK;
    cc->zones = czones_new();
    cc->dials = calloc(cc->max_dials, sizeof(*cc->dials));
    cc->dnccap = 1024;
    cc->dnc = calloc(cc->dnccap, sizeof(*cc->dnc));
    cc->agcap = 1024;
    cc->ag = calloc(cc->agcap, sizeof(*cc->ag));
    cc->capout = 256;
    cc->out = malloc(cc->capout * sizeof(*cc->out));
    cc->lhcap = 1024;
    cc->lhash = calloc(cc->lhcap, sizeof(*cc->lhash));
    if (!cc->zones || !cc->dials || !cc->dnc || !cc->ag || !cc->out ||
        !cc->lhash) {
        campaign_core_free(cc);
        return NULL;
    }
    for (uint32_t i = 0; i < cc->max_dials; i++)
        cc->dials[i].next = i + 1 < cc->max_dials ? i + 1 : NONE;
    cc->free_dial = 0;
    return cc;
}

void campaign_core_free(struct campaign_core *cc)
{
    if (!cc)
        return;
    for (int i = 0; i < cc->ncamp; i++) {
        struct campaign *c = &cc->camp[i];
        for (uint32_t k = 0; k < c->nb; k++)
            free(c->b[k].a);
        free(c->b);
        free(c->outer);
        free(c->zb);
    }
    for (uint32_t i = 0; i < cc->nleads; i++)
        free(cc->leads[i].s);
    free(cc->leads);
    free(cc->lhash);
    if (cc->dnc)
        for (uint32_t i = 0; i < cc->dnccap; i++)
            free(cc->dnc[i]);
    free(cc->dnc);
    free(cc->dials);
    free(cc->ag);
    free(cc->out);
    czones_free(cc->zones);
    free(cc);
}

/* ---- campaigns ---- */

void campaign_config_defaults(struct campaign_config *c)
{
    if (!c->mode)
        c->mode = CAMPAIGN_MODE_PROGRESSIVE;
    if (!c->window_start_h && !c->window_end_h) {
        c->window_start_h = 9;
        c->window_end_h = 21;
    }
    if (!c->max_attempts)
        c->max_attempts = 3;
    static const uint32_t retry[CAMPAIGN_OUT_COUNT] = {
        [CAMPAIGN_OUT_BUSY] = 300000, [CAMPAIGN_OUT_NO_ANSWER] = 3600000,
        [CAMPAIGN_OUT_MACHINE] = 14400000, [CAMPAIGN_OUT_FAILED] = 1800000,
        [CAMPAIGN_OUT_DROPPED] = 3600000,
    };
    for (int i = 0; i < CAMPAIGN_OUT_COUNT; i++)
        if (!c->retry_ms[i])
            c->retry_ms[i] = retry[i];
    if (!c->abandon_cap_bp)
        c->abandon_cap_bp = 300;
    if (!c->compliance_ms)
        c->compliance_ms = 2000;
    if (!c->dial_timeout_ms)
        c->dial_timeout_ms = 30000;
    if (!c->blend_margin_pct)
        c->blend_margin_pct = 5;
    if (!c->agent_share_pct)
        c->agent_share_pct = 100;
    if (!c->ramp_up_ms)
        c->ramp_up_ms = 120000;
}

int campaign_config_check(const struct campaign_config *c, const char **why)
{
    const char *w = NULL;
    if (!str_ok(c->name))
        w = "name is empty or too long";
    else if (!str_ok(c->queue))
        w = "queue is empty or too long";
    else if (c->mode < CAMPAIGN_MODE_PREVIEW || c->mode > CAMPAIGN_MODE_PREDICTIVE)
        w = "mode is not preview, progressive or predictive";
    else if (c->window_end_h > 24 || c->window_start_h >= c->window_end_h)
        w = "calling window must be 0 <= start < end <= 24 hours";
    else if (c->max_attempts < 1 || c->max_attempts > 100)
        w = "max_attempts must be 1..100";
    else if (c->priority > 100)
        w = "priority must be 0..100";
    else if (c->abandon_cap_bp > 10000)
        w = "abandon cap above 100%";
    else if (c->compliance_ms > 60000)
        w = "compliance time above 60 s";
    else if (c->dial_timeout_ms < 1000 || c->dial_timeout_ms > 300000)
        w = "dial timeout must be 1..300 s";
    else if (!str_ok(c->dialer))
        w = "dialer (client name) is empty or too long";
    else if (c->nblend > CAMPAIGN_BLEND_MAX)
        w = "too many blend queues";
    else if (c->blend_margin_pct > 100 || c->agent_share_pct > 100 ||
             c->agent_share_pct == 0)
        w = "blend margin must be 0..100%, agent share 1..100%";
    else if (c->ramp_up_ms < 100 || c->ramp_up_ms > 3600000)
        w = "ramp-up must be 0.1..3600 s";
    else if (strnlen(c->caller_id, CAMPAIGN_ID_MAX) >= CAMPAIGN_ID_MAX)
        w = "caller id too long";
    if (why)
        *why = w ? w : "";
    return w ? CCR_EINVAL : 0;
}

int campaign_find(const struct campaign_core *cc, const char *name)
{
    if (!name)
        return CAMPAIGN_ENOENT;
    for (int i = 0; i < cc->ncamp; i++)
        if (strcmp(cc->camp[i].cfg.name, name) == 0)
            return i;
    return CAMPAIGN_ENOENT;
}

int campaign_count(const struct campaign_core *cc)
{
    return cc->ncamp;
}

const struct campaign_config *campaign_config_get(const struct campaign_core *cc,
                                                  int i)
{
    return i >= 0 && i < cc->ncamp ? &cc->camp[i].cfg : NULL;
}

int campaign_queue_ref(const struct campaign_core *cc, int i)
{
    return i >= 0 && i < cc->ncamp ? cc->camp[i].queue_ref : -1;
}

void campaign_set_queue_ref(struct campaign_core *cc, int i, int queue_ref)
{
    if (i >= 0 && i < cc->ncamp)
        cc->camp[i].queue_ref = queue_ref;
}

int campaign_upsert(struct campaign_core *cc, uint64_t now,
                    const struct campaign_config *cfg, int queue_ref)
{
    const char *why;
    int i;
    if (campaign_config_check(cfg, &why) < 0)
        return CCR_EINVAL;
    i = campaign_find(cc, cfg->name);
    if (i < 0) {
        if (cc->ncamp == CAMPAIGN_MAX)
            return CCR_ENOMEM;
        i = cc->ncamp++;
        struct campaign *c = &cc->camp[i];
        memset(c, 0, sizeof(*c));
        c->used = true;
        c->run = CAMPAIGN_STOPPED;
        c->ringq = c->ansq = (struct fifo){ NONE, NONE };
        c->ring_s = 20.0;
        c->handle_s = 120.0;
        c->gain = 0.7;
    }
    struct campaign *c = &cc->camp[i];
    bool rewin = c->cfg.window_start_h != cfg->window_start_h ||
                 c->cfg.window_end_h != cfg->window_end_h;
    c->cfg = *cfg;
    c->queue_ref = queue_ref;
    if (rewin)      /* keys depend on the window: O(zones log zones) */
        for (uint32_t k = 0; k < c->nb; k++)
            if (c->b[k].n)
                bucket_rekey(cc, c, k);
    (void)now;
    return i;
}

int campaign_set_run(struct campaign_core *cc, uint64_t now, int i,
                     enum campaign_run run)
{
    if (i < 0 || i >= cc->ncamp || run > CAMPAIGN_PAUSED)
        return CCR_EINVAL;
    cc->camp[i].run = run;
    return 0;
}

enum campaign_run campaign_run_get(const struct campaign_core *cc, int i)
{
    return i >= 0 && i < cc->ncamp ? cc->camp[i].run : CAMPAIGN_STOPPED;
}

bool campaign_zone_valid(struct campaign_core *cc, const char *zone)
{
    return czones_intern(cc->zones, zone) >= 0;
}

/* ---- leads ---- */

static uint64_t lkey(int campaign, const char *id)
{
    return fnv64(id, 1469598103934665603ull ^ (uint64_t)(campaign + 1) * 0x9e3779b97f4a7c15ull);
}

static uint32_t lfind(const struct campaign_core *cc, int campaign,
                      const char *id, uint64_t h)
{
    uint32_t m = cc->lhcap - 1;
    for (uint32_t i = (uint32_t)h & m;; i = (i + 1) & m) {
        uint32_t v = cc->lhash[i];
        if (!v)
            return NONE;
        const struct lead *l = &cc->leads[v - 1];
        if (l->campaign == campaign && strcmp(l->s, id) == 0)
            return v - 1;
    }
}

static void lhash_put(struct campaign_core *cc, uint32_t li)
{
    const struct lead *l = &cc->leads[li];
    uint32_t m = cc->lhcap - 1;
    uint32_t i = (uint32_t)lkey(l->campaign, l->s) & m;
    while (cc->lhash[i])
        i = (i + 1) & m;
    cc->lhash[i] = li + 1;
}

int campaign_lead_find(const struct campaign_core *cc, int campaign,
                       const char *id, uint32_t *lead)
{
    if (campaign < 0 || campaign >= cc->ncamp || !id)
        return CAMPAIGN_ENOENT;
    uint32_t li = lfind(cc, campaign, id, lkey(campaign, id));
    if (li == NONE)
        return CAMPAIGN_ENOENT;
    if (lead)
        *lead = li;
    return 0;
}

/* Room for `more` leads in the lead array and the id hash. */
static int leads_reserve(struct campaign_core *cc, uint32_t more)
{
    if (cc->nleads + more > cc->capleads) {
        uint32_t ncap = cc->capleads ? cc->capleads : 1024;
        while (ncap < cc->nleads + more)
            ncap *= 2;
        struct lead *nl = realloc(cc->leads, (size_t)ncap * sizeof(*nl));
        if (!nl)
            return -1;
        cc->leads = nl;
        cc->capleads = ncap;
    }
    if ((uint64_t)(cc->nleads + more) * 2 > cc->lhcap) {
        uint32_t ncap = cc->lhcap;
        while ((uint64_t)(cc->nleads + more) * 2 > ncap)
            ncap *= 2;
        uint32_t *nh = calloc(ncap, sizeof(*nh));
        if (!nh)
            return -1;
        free(cc->lhash);
        cc->lhash = nh;
        cc->lhcap = ncap;
        for (uint32_t i = 0; i < cc->nleads; i++)
            lhash_put(cc, i);
    }
    return 0;
}

static int leads_add(struct campaign_core *cc, uint64_t now, int campaign,
                     const struct campaign_lead_spec *ls,
                     const struct campaign_lead_saved *sv, size_t n,
                     size_t *bad, const char **why);

int campaign_leads_add(struct campaign_core *cc, uint64_t now, int campaign,
                       const struct campaign_lead_spec *ls, size_t n,
                       size_t *bad, const char **why)
{
    return leads_add(cc, now, campaign, ls, NULL, n, bad, why);
}

/* Recovery: a saved lead keeps its attempts, last outcome and state; a
 * WAITING one its next eligible time. A lead that was ACTIVE (a dial in
 * flight when the engine stopped) comes back WAITING with the FAILED
 * outcome and its delay from `now`: its attempt was counted when it was
 * dialed, and whether a person answered is not known. */
int campaign_leads_restore(struct campaign_core *cc, uint64_t now,
                           int campaign, const struct campaign_lead_spec *ls,
                           const struct campaign_lead_saved *saved, size_t n,
                           size_t *bad, const char **why)
{
    return leads_add(cc, now, campaign, ls, saved, n, bad, why);
}

static int leads_add(struct campaign_core *cc, uint64_t now, int campaign,
                     const struct campaign_lead_spec *ls,
                     const struct campaign_lead_saved *sv, size_t n,
                     size_t *bad, const char **why)
{
    struct campaign *c;
    size_t i;
    const char *w = NULL;
    int rc = CCR_EINVAL;

    if (campaign < 0 || campaign >= cc->ncamp) {
        if (why)
            *why = "unknown campaign";
        return CAMPAIGN_ENOENT;
    }
    c = &cc->camp[campaign];
    if (n > cc->max_leads - cc->nleads) {
        if (bad)
            *bad = 0;
        if (why)
            *why = "the engine's lead limit would be passed";
        return CCR_ENOMEM;
    }
    /* check everything first: all or none; ids of the batch in a scratch
     * hash (index + 1) to find one given twice */
    uint32_t bcap = 16;
    while (bcap < 2 * n)
        bcap *= 2;
    uint32_t *seen = calloc(bcap, sizeof(*seen));
    if (!seen)
        goto nomem;
    for (i = 0; i < n; i++) {
        const char *id = ls[i].id && *ls[i].id ? ls[i].id : ls[i].number;
        if (!ls[i].number || !*ls[i].number) {
            w = "lead has no number";
            break;
        }
        if (!str_ok(ls[i].number) || !str_ok(id)) {
            w = "lead number or id longer than 63 bytes";
            break;
        }
        if (czones_intern(cc->zones, ls[i].zone) < 0) {
            w = "time zone is not an IANA zone this system knows";
            break;
        }
        if (campaign_lead_find(cc, campaign, id, NULL) == 0) {
            w = "lead id already in the campaign";
            rc = CCR_EDUPLICATE;
            break;
        }
        for (uint32_t k = (uint32_t)fnv64(id, 5) & (bcap - 1);;
             k = (k + 1) & (bcap - 1)) {
            if (!seen[k]) {
                seen[k] = (uint32_t)i + 1;
                break;
            }
            const struct campaign_lead_spec *o = &ls[seen[k] - 1];
            if (strcmp(id, o->id && *o->id ? o->id : o->number) == 0) {
                w = "lead id twice in the batch";
                rc = CCR_EDUPLICATE;
                break;
            }
        }
        if (w)
            break;
    }
    free(seen);
    if (w) {
        if (bad)
            *bad = i;
        if (why)
            *why = w;
        return rc;
    }
    /* then room for everything */
    if (leads_reserve(cc, (uint32_t)n) < 0)
        goto nomem;
    {
        /* room in each zone's bucket for all of the batch's leads there */
        unsigned nz = czones_count(cc->zones);
        uint32_t *need = calloc(nz ? nz : 1, sizeof(*need));
        if (!need)
            goto nomem;
        for (i = 0; i < n; i++)
            need[czones_intern(cc->zones, ls[i].zone)]++;
        for (unsigned zi = 0; zi < nz; zi++)
            if (need[zi] && bucket_reserve(c, (int)zi, need[zi]) < 0) {
                free(need);
                goto nomem;
            }
        free(need);
    }
    /* the strings of every lead before any is linked */
    uint32_t base = cc->nleads;
    for (i = 0; i < n; i++) {
        const char *id = ls[i].id && *ls[i].id ? ls[i].id : ls[i].number;
        size_t il = strlen(id), nl = strlen(ls[i].number);
        char *s = malloc(il + nl + 2 + ls[i].attrs_len);
        if (!s) {
            while (i--)
                free(cc->leads[base + i].s);
            goto nomem;
        }
        memcpy(s, id, il + 1);
        memcpy(s + il + 1, ls[i].number, nl + 1);
        if (ls[i].attrs_len)
            memcpy(s + il + nl + 2, ls[i].attrs, ls[i].attrs_len);
        cc->leads[base + i] = (struct lead){
            .s = s, .next_at = now, .attrs_len = ls[i].attrs_len,
            .campaign = (uint16_t)campaign,
            .zone = (uint16_t)czones_intern(cc->zones, ls[i].zone),
            .idlen = (uint8_t)il,
        };
    }
    for (i = 0; i < n; i++) {
        uint32_t li = base + (uint32_t)i;
        struct lead *l = &cc->leads[li];
        enum campaign_lead_state st = CAMPAIGN_LEAD_WAITING;
        cc->nleads++;
        lhash_put(cc, li);
        c->st.leads++;
        if (sv) {
            st = sv[i].state;
            l->attempts = sv[i].attempts;
            l->last = (uint8_t)sv[i].last;
            l->next_at = sv[i].next_at;
            if (st == CAMPAIGN_LEAD_ACTIVE || st < CAMPAIGN_LEAD_WAITING ||
                st >= CAMPAIGN_LEAD_STATES) {
                st = CAMPAIGN_LEAD_WAITING;
                l->last = CAMPAIGN_OUT_FAILED;
                l->next_at = now +
                             (uint64_t)c->cfg.retry_ms[CAMPAIGN_OUT_FAILED] *
                                 1000;
            }
        }
        c->st.in_state[st]++;
        l->state = (uint8_t)st;
        if (st == CAMPAIGN_LEAD_WAITING)
            lead_push(cc, li);
    }
    return 0;
nomem:
    if (bad)
        *bad = 0;
    if (why)
        *why = "out of memory";
    return CCR_ENOMEM;
}

int campaign_lead_mark_done(struct campaign_core *cc, uint32_t li)
{
    if (li >= cc->nleads)
        return CAMPAIGN_ENOENT;
    if (cc->leads[li].state == CAMPAIGN_LEAD_WAITING) {
        cc->leads[li].last = CAMPAIGN_OUT_HUMAN;
        lead_state(cc, li, CAMPAIGN_LEAD_DONE);
    }
    return 0;
}

const char *campaign_lead_id(const struct campaign_core *cc, uint32_t li)
{
    return li < cc->nleads ? cc->leads[li].s : "";
}

const char *campaign_lead_number(const struct campaign_core *cc, uint32_t li)
{
    return li < cc->nleads ? lead_number(&cc->leads[li]) : "";
}

const char *campaign_lead_zone(const struct campaign_core *cc, uint32_t li)
{
    return li < cc->nleads ? czones_name(cc->zones, cc->leads[li].zone) : "";
}

const void *campaign_lead_attrs(const struct campaign_core *cc, uint32_t li,
                                uint32_t *len)
{
    if (li >= cc->nleads) {
        *len = 0;
        return NULL;
    }
    const struct lead *l = &cc->leads[li];
    *len = l->attrs_len;
    return l->s + l->idlen + 1 + strlen(lead_number(l)) + 1;
}

void campaign_lead_info(const struct campaign_core *cc, uint32_t li,
                        struct campaign_lead_info *out)
{
    memset(out, 0, sizeof(*out));
    if (li >= cc->nleads)
        return;
    const struct lead *l = &cc->leads[li];
    out->state = (enum campaign_lead_state)l->state;
    out->attempts = l->attempts;
    out->next_at = l->next_at;
    out->last = (enum campaign_outcome)l->last;
    out->campaign = l->campaign;
}

/* The next due lead of c at `now` whose number is not on the do-not-call
 * set (those met on the way become DNC), taken out of its bucket; NONE if
 * none is due. */
static uint32_t lead_pop_due(struct campaign_core *cc, struct campaign *c,
                             uint64_t now)
{
    while (c->nouter) {
        uint32_t bi = c->outer[0];
        struct bucket *b = &c->b[bi];
        if (b->key > now)
            return NONE;
        uint64_t t = now / 1000;
        uint64_t open = czones_window_next(cc->zones, b->zone, t,
                                           c->cfg.window_start_h,
                                           c->cfg.window_end_h);
        if (open != t) {        /* the window closed since b was keyed */
            b->key = open * 1000;
            odown(c, 0);
            continue;
        }
        uint32_t li = b->a[0].lead;
        b->a[0] = b->a[--b->n];
        if (b->n)
            hdown(b->a, b->n, 0);
        bucket_rekey(cc, c, bi);
        /* marked DONE while in its heap (campaign_lead_mark_done): the
         * entry is stale, dropped here rather than searched for there */
        if (cc->leads[li].state != CAMPAIGN_LEAD_WAITING)
            continue;
        if (campaign_dnc_has(cc, lead_number(&cc->leads[li]))) {
            lead_state(cc, li, CAMPAIGN_LEAD_DNC);
            continue;
        }
        return li;
    }
    return NONE;
}

/* ---- dials ---- */

static struct dial *dial_get(const struct campaign_core *cc, uint64_t id)
{
    uint32_t slot = (uint32_t)(id & SLOT_MASK);
    if (!id || slot >= cc->max_dials)
        return NULL;
    struct dial *d = &cc->dials[slot];
    return d->id == id && d->state != D_FREE ? d : NULL;
}

static uint32_t dslot(const struct campaign_core *cc, const struct dial *d)
{
    return (uint32_t)(d - cc->dials);
}

static void fifo_push(struct campaign_core *cc, struct fifo *f, struct dial *d)
{
    uint32_t s = dslot(cc, d);
    d->next = NONE;
    d->prev = f->tail;
    if (f->tail != NONE)
        cc->dials[f->tail].next = s;
    else
        f->head = s;
    f->tail = s;
}

static void fifo_del(struct campaign_core *cc, struct fifo *f, struct dial *d)
{
    if (d->prev != NONE)
        cc->dials[d->prev].next = d->next;
    else
        f->head = d->next;
    if (d->next != NONE)
        cc->dials[d->next].prev = d->prev;
    else
        f->tail = d->prev;
    d->prev = d->next = NONE;
}

static struct dial *dial_new(struct campaign_core *cc, int campaign,
                             uint32_t lead, uint64_t now)
{
    if (cc->free_dial == NONE)
        return NULL;
    struct dial *d = &cc->dials[cc->free_dial];
    cc->free_dial = d->next;
    if (++cc->gen == 0)
        cc->gen = 1;
    *d = (struct dial){
        .id = ((uint64_t)cc->gen << SLOT_BITS) | dslot(cc, d),
        .started = now, .lead = lead, .tag = 0, .agent = NONE,
        .prev = NONE, .next = NONE, .campaign = (int16_t)campaign,
    };
    return d;
}

static void dial_free(struct campaign_core *cc, struct dial *d)
{
    d->state = D_FREE;
    d->id = 0;
    d->next = cc->free_dial;
    cc->free_dial = dslot(cc, d);
}

/* The dial's record leaves its current state's counter and list. */
static void dial_leave(struct campaign_core *cc, struct campaign *c,
                       struct dial *d)
{
    switch (d->state) {
    case D_PREVIEW_Q: c->prev_q--; break;
    case D_PREVIEW_O: c->prev_o--; break;
    case D_RINGING: c->ringing--; fifo_del(cc, &c->ringq, d); break;
    case D_ANSWERED: c->answered--; fifo_del(cc, &c->ansq, d); break;
    case D_TALKING: c->talking--; break;
    }
}

/* Lead li's attempt ended with outcome o: retried after o's delay, or
 * exhausted. */
static void lead_retry(struct campaign_core *cc, uint64_t now, uint32_t li,
                       enum campaign_outcome o)
{
    struct lead *l = &cc->leads[li];
    struct campaign *c = &cc->camp[l->campaign];
    l->last = (uint8_t)o;
    if (l->attempts >= c->cfg.max_attempts) {
        lead_state(cc, li, CAMPAIGN_LEAD_EXHAUSTED);
        return;
    }
    l->next_at = now + (uint64_t)c->cfg.retry_ms[o] * 1000;
    lead_state(cc, li, CAMPAIGN_LEAD_WAITING);
    lead_push(cc, li);
}

static struct wbucket *win_at(struct campaign *c, uint64_t now)
{
    uint64_t minute = now / 60000000ull;
    struct wbucket *w = &c->win[minute % CAMPAIGN_WINDOW_MIN];
    if (w->minute != minute)
        *w = (struct wbucket){ minute, 0, 0 };
    return w;
}

static double win_rate(const struct campaign *c, uint64_t now)
{
    uint64_t minute = now / 60000000ull, ans = 0, drop = 0;
    for (int i = 0; i < CAMPAIGN_WINDOW_MIN; i++)
        if (c->win[i].minute + CAMPAIGN_WINDOW_MIN > minute &&
            c->win[i].minute <= minute) {
            ans += c->win[i].ans;
            drop += c->win[i].drop;
        }
    return ans ? (double)drop / (double)ans : 0.0;
}

static void ewma(double *v, double sample)
{
    *v += 0.05 * (sample - *v);
}

/* ---- agents' outbound share ---- */

static void share_update(struct agent_share *a, uint64_t now)
{
    if (now <= a->at)
        return;
    double decay = exp(-(double)(now - a->at) / SHARE_TAU_US);
    double add = SHARE_TAU_US * (1.0 - decay);
    a->s = a->s * decay + (a->on ? add : 0.0);
    a->t = a->t * decay + add;
    a->at = now;
}

static uint32_t share_find(const struct campaign_core *cc, const char *id)
{
    uint32_t m = cc->agcap - 1;
    for (uint32_t i = (uint32_t)fnv64(id, 7) & m;; i = (i + 1) & m) {
        if (!cc->ag[i].id[0] || strcmp(cc->ag[i].id, id) == 0)
            return i;
    }
}

/* The share record of agent `id`, made on first use (as if its previous
 * hour had no outbound call). NONE when the table cannot grow. */
static uint32_t share_get(struct campaign_core *cc, const char *id,
                          uint64_t now)
{
    uint32_t i = share_find(cc, id);
    if (cc->ag[i].id[0])
        return i;
    if ((cc->nag + 1) * 2 > cc->agcap) {
        struct agent_share *old = cc->ag;
        uint32_t ocap = cc->agcap;
        struct agent_share *na = calloc(ocap * 2, sizeof(*na));
        if (!na)
            return NONE;
        cc->ag = na;
        cc->agcap = ocap * 2;
        for (uint32_t k = 0; k < ocap; k++)
            if (old[k].id[0])
                cc->ag[share_find(cc, old[k].id)] = old[k];
        free(old);
        i = share_find(cc, id);
    }
    snprintf(cc->ag[i].id, sizeof(cc->ag[i].id), "%s", id);
    cc->ag[i].s = 0;
    cc->ag[i].t = SHARE_TAU_US;
    cc->ag[i].at = now;
    cc->ag[i].on = 0;
    cc->nag++;
    return i;
}

const char *campaign_agent_pick(struct campaign_core *cc, uint64_t now,
                                int campaign,
                                bool (*next)(void *ctx, const char **id,
                                             uint64_t *since),
                                void *ctx)
{
    const char *best = NULL, *id;
    uint64_t best_since = 0, since;
    bool capped = false;
    double cap;
    if (campaign < 0 || campaign >= cc->ncamp ||
        cc->camp[campaign].cfg.agent_share_pct >= 100)
        return NULL;
    cap = cc->camp[campaign].cfg.agent_share_pct / 100.0;
    while (next(ctx, &id, &since)) {
        if (campaign_agent_share(cc, now, id) >= cap)
            capped = true;
        else if (!best || since < best_since) {
            best = id;
            best_since = since;
        }
    }
    /* nobody free is capped: the router's own order (skills, load,
     * idle time) stands */
    return capped ? best : NULL;
}

double campaign_agent_share(struct campaign_core *cc, uint64_t now,
                            const char *agent)
{
    if (!str_ok(agent))
        return 0;
    uint32_t i = share_find(cc, agent);
    if (!cc->ag[i].id[0])
        return 0;
    share_update(&cc->ag[i], now);
    return cc->ag[i].t > 0 ? cc->ag[i].s / cc->ag[i].t : 0;
}

void campaign_agents_over(struct campaign_core *cc, uint64_t now, uint32_t pct,
                          void (*fn)(void *ctx, const char *agent), void *ctx)
{
    if (pct >= 100)
        return;
    for (uint32_t i = 0; i < cc->agcap; i++) {
        struct agent_share *a = &cc->ag[i];
        if (!a->id[0])
            continue;
        share_update(a, now);
        if (a->t > 0 && a->s / a->t * 100.0 >= (double)pct)
            fn(ctx, a->id);
    }
}

struct capped {
    bool (*is_free)(void *ctx, const char *agent);
    void *ctx;
    uint32_t over;
};

static void capped_one(void *ctx, const char *agent)
{
    struct capped *k = ctx;
    if (k->is_free(k->ctx, agent))
        k->over++;
}

uint32_t campaign_free_capped(struct campaign_core *cc, uint64_t now,
                              int campaign, uint32_t free,
                              bool (*is_free)(void *ctx, const char *agent),
                              void *ctx)
{
    struct capped k = { is_free, ctx, 0 };
    if (campaign < 0 || campaign >= cc->ncamp)
        return free;
    campaign_agents_over(cc, now, cc->camp[campaign].cfg.agent_share_pct,
                         capped_one, &k);
    return free > k.over ? free - k.over : 0;
}

/* ---- dial events in ---- */

int campaign_dial_tag(struct campaign_core *cc, uint64_t id, uint32_t tag)
{
    struct dial *d = dial_get(cc, id);
    if (!d)
        return CAMPAIGN_ENOENT;
    d->tag = tag;
    return 0;
}

int campaign_dial_get(const struct campaign_core *cc, uint64_t id,
                      uint32_t *tag, int *campaign, uint32_t *lead)
{
    const struct dial *d = dial_get(cc, id);
    if (!d)
        return CAMPAIGN_ENOENT;
    if (tag)
        *tag = d->tag;
    if (campaign)
        *campaign = d->campaign;
    if (lead)
        *lead = d->lead;
    return 0;
}

/* Starts dial d ringing (DIAL out), or ends it when the number is on the
 * do-not-call set by now. */
static void dial_ring(struct campaign_core *cc, uint64_t now,
                      struct campaign *c, struct dial *d)
{
    struct lead *l = &cc->leads[d->lead];
    if (campaign_dnc_has(cc, lead_number(l))) {
        lead_state(cc, d->lead, CAMPAIGN_LEAD_DNC);
        dial_free(cc, d);
        return;
    }
    d->state = D_RINGING;
    d->started = now;
    c->ringing++;
    fifo_push(cc, &c->ringq, d);
    l->attempts++;
    c->st.dials++;
    emit(cc, CAMPAIGN_EV_DIAL, d->campaign, d->lead, d->id, CAMPAIGN_OUT_NONE);
}

int campaign_preview_offered(struct campaign_core *cc, uint64_t id)
{
    struct dial *d = dial_get(cc, id);
    if (!d || d->state != D_PREVIEW_Q)
        return CAMPAIGN_ENOENT;
    struct campaign *c = &cc->camp[d->campaign];
    c->prev_q--;
    c->prev_o++;
    d->state = D_PREVIEW_O;
    return 0;
}

int campaign_preview_accept(struct campaign_core *cc, uint64_t now,
                            uint64_t id)
{
    struct dial *d = dial_get(cc, id);
    if (!d || (d->state != D_PREVIEW_Q && d->state != D_PREVIEW_O))
        return CAMPAIGN_ENOENT;
    struct campaign *c = &cc->camp[d->campaign];
    dial_leave(cc, c, d);
    dial_ring(cc, now, c, d);
    return 0;
}

int campaign_preview_cancel(struct campaign_core *cc, uint64_t now,
                            uint64_t id, bool skipped)
{
    struct dial *d = dial_get(cc, id);
    if (!d || (d->state != D_PREVIEW_Q && d->state != D_PREVIEW_O))
        return CAMPAIGN_ENOENT;
    struct campaign *c = &cc->camp[d->campaign];
    uint32_t li = d->lead;
    dial_leave(cc, c, d);
    dial_free(cc, d);
    if (skipped)
        c->st.skipped++;
    cc->leads[li].next_at = now;
    lead_state(cc, li, CAMPAIGN_LEAD_WAITING);
    lead_push(cc, li);
    return 0;
}

int campaign_dial_result(struct campaign_core *cc, uint64_t now, uint64_t id,
                         enum campaign_outcome o)
{
    struct dial *d = dial_get(cc, id);
    if (!d || d->state != D_RINGING)
        return CAMPAIGN_ENOENT;
    if (o < CAMPAIGN_OUT_HUMAN || o > CAMPAIGN_OUT_FAILED)
        return CCR_EINVAL;
    struct campaign *c = &cc->camp[d->campaign];
    dial_leave(cc, c, d);
    c->st.outcomes[o]++;
    if (o == CAMPAIGN_OUT_HUMAN)    /* how long until a person answers */
        ewma(&c->ring_s,
             (double)(now > d->started ? now - d->started : 0) / 1e6);
    if (c->hn == HIST)
        c->hhuman -= c->hist[c->hpos];
    else
        c->hn++;
    c->hist[c->hpos] = o == CAMPAIGN_OUT_HUMAN;
    c->hhuman += o == CAMPAIGN_OUT_HUMAN;
    c->hpos = (c->hpos + 1) % HIST;
    if (o != CAMPAIGN_OUT_HUMAN) {
        uint32_t li = d->lead;
        dial_free(cc, d);
        lead_retry(cc, now, li, o);
        return 0;
    }
    cc->leads[d->lead].last = CAMPAIGN_OUT_HUMAN;
    d->answered = now;
    win_at(c, now)->ans++;
    c->life_ans++;
    if (c->cfg.mode == CAMPAIGN_MODE_PREVIEW) {
        /* its agent is reserved: talking at once */
        d->state = D_TALKING;
        d->connected = now;
        c->talking++;
        c->st.connected++;
        return 0;
    }
    d->state = D_ANSWERED;
    c->answered++;
    fifo_push(cc, &c->ansq, d);
    return 0;
}

int campaign_call_connected(struct campaign_core *cc, uint64_t now,
                            uint64_t id, const char *agent)
{
    struct dial *d = dial_get(cc, id);
    if (!d || d->state != D_ANSWERED)
        return CAMPAIGN_ENOENT;
    struct campaign *c = &cc->camp[d->campaign];
    dial_leave(cc, c, d);
    d->state = D_TALKING;
    d->connected = now;
    c->talking++;
    c->st.connected++;
    c->gain += GAIN_STEP * GAIN_TARGET *
               ((double)c->cfg.abandon_cap_bp / 10000.0) /
               (1.0 - (double)c->cfg.abandon_cap_bp / 10000.0 + 1e-9);
    if (c->gain > 1.5)
        c->gain = 1.5;
    if (str_ok(agent)) {
        uint32_t a = share_get(cc, agent, now);
        if (a != NONE) {
            share_update(&cc->ag[a], now);
            cc->ag[a].on++;
            d->agent = a;
        }
    }
    return 0;
}

int campaign_call_ended(struct campaign_core *cc, uint64_t now, uint64_t id)
{
    struct dial *d = dial_get(cc, id);
    if (!d || d->state != D_TALKING)
        return CAMPAIGN_ENOENT;
    struct campaign *c = &cc->camp[d->campaign];
    dial_leave(cc, c, d);
    c->st.talk_us += now > d->connected ? now - d->connected : 0;
    ewma(&c->handle_s,
         (double)(now > d->connected ? now - d->connected : 0) / 1e6);
    if (d->agent != NONE && d->agent < cc->agcap && cc->ag[d->agent].on) {
        share_update(&cc->ag[d->agent], now);
        cc->ag[d->agent].on--;
    }
    uint32_t li = d->lead;
    dial_free(cc, d);
    lead_state(cc, li, CAMPAIGN_LEAD_DONE);
    return 0;
}

/* ---- pacing ---- */

static double answer_rate(const struct campaign *c)
{
    /* smoothed toward 0.3 with the weight of 10 outcomes */
    return ((double)c->hhuman + 3.0) / ((double)c->hn + 10.0);
}

/* Expires c's answered calls past the compliance time (DROP) and dials
 * the switch never answered (FAILED). */
static void expire(struct campaign_core *cc, struct campaign *c, int ci,
                   uint64_t now)
{
    uint64_t comp = (uint64_t)c->cfg.compliance_ms * 1000;
    uint64_t ring = (uint64_t)c->cfg.dial_timeout_ms * 1000 + RING_GRACE_US;
    while (c->ansq.head != NONE) {
        struct dial *d = &cc->dials[c->ansq.head];
        if (d->answered + comp > now)
            break;
        dial_leave(cc, c, d);
        c->st.outcomes[CAMPAIGN_OUT_DROPPED]++;
        win_at(c, now)->drop++;
        c->life_drop++;
        c->gain -= GAIN_STEP;
        if (c->gain < 0.3)
            c->gain = 0.3;
        uint32_t li = d->lead;
        uint64_t id = d->id;
        emit(cc, CAMPAIGN_EV_DROP, ci, li, id, CAMPAIGN_OUT_DROPPED);
        dial_free(cc, d);
        lead_retry(cc, now, li, CAMPAIGN_OUT_DROPPED);
    }
    while (c->ringq.head != NONE) {
        struct dial *d = &cc->dials[c->ringq.head];
        if (d->started + ring > now)
            break;
        campaign_dial_result(cc, now, d->id, CAMPAIGN_OUT_FAILED);
    }
}

static int prio_cmp_ctx_less(const struct campaign_core *cc, int a, int b)
{
    const struct campaign *x = &cc->camp[a], *y = &cc->camp[b];
    if (x->cfg.priority != y->cfg.priority)
        return x->cfg.priority > y->cfg.priority;
    return a < b;
}

/* The rate at which something else takes c's free agents, per second
 * while one is free: inbound of any queue the agents serve, an agent
 * going away. Read from the free count between two turns with c's own
 * calls connected meanwhile taken out: a fall is agents taken, a rise
 * agents back (first those of c's own calls that ended). Both counts are
 * weighted over the last 5 minutes. Each taken agent's time is queued
 * (up to TAKEN_Q); each one back ends the oldest, which measures how
 * long a taken agent stays away (the mean is the same whichever is
 * matched with which: Little's law). Also moves
 * the margin z: up by MARGIN_STEP per drop, down by MARGIN_STEP x g /
 * (1 - g) per call connected, so that drops settle near g, half the
 * cap. */
static double taken_rate(struct campaign *c, uint64_t now, uint32_t free_)
{
    struct taken *t = &c->tk;
    if (!t->at) {
        t->z = MARGIN_START;
    } else if (now > t->at) {
        double dt = (double)(now - t->at) / 1e6;
        double k = exp(-dt / (TAKEN_TAU_US / 1e6));
        uint64_t conn = c->st.connected - t->conn;
        int64_t x = (int64_t)free_ - (int64_t)t->free_ + (int64_t)conn;
        int64_t ended = (int64_t)t->talking + (int64_t)conn -
                        (int64_t)c->talking;
        if (ended > 0)
            t->mine += (uint32_t)ended;
        t->n = t->n * k + (x < 0 ? (double)-x : 0.0);
        t->s = t->s * k + (t->free_ ? dt : 0.0);
        for (; x < 0 && t->qn < TAKEN_Q; x++)
            t->q[(t->qh + t->qn++) % TAKEN_Q] = now;
        for (; x > 0 && t->mine; x--)
            t->mine--;          /* c's own agent back, not a taken one */
        for (; x > 0 && t->qn; x--, t->qn--, t->qh = (t->qh + 1) % TAKEN_Q) {
            double away = (double)(now - t->q[t->qh]) / 1e6;
            t->away_n += t->away_n < 20;
            t->away_s += (away - t->away_s) / (double)t->away_n;
        }
        double g = GAIN_TARGET * (double)c->cfg.abandon_cap_bp / 10000.0;
        t->z += MARGIN_STEP * ((double)(c->life_drop - t->drop) -
                               (double)conn * g / (1.0 - g + 1e-9));
        t->z = fmin(fmax(t->z, 0.0), MARGIN_MAX);
    }
    t->at = now;
    t->free_ = free_;
    t->talking = c->talking;
    t->conn = c->st.connected;
    t->drop = c->life_drop;
    return t->s > 1.0 ? t->n / t->s : 0.0;
}

void campaign_pace(struct campaign_core *cc, uint64_t now,
                   campaign_capacity_cb capfn, void *ctx)
{
    int order[CAMPAIGN_MAX], n = 0;
    struct { int ref; double claimed; } claims[CAMPAIGN_MAX];
    int nclaims = 0;

    for (int i = 0; i < cc->ncamp; i++) {
        expire(cc, &cc->camp[i], i, now);
        if (cc->camp[i].run == CAMPAIGN_RUNNING) {
            /* insertion sort: at most CAMPAIGN_MAX */
            int k = n++;
            while (k > 0 && prio_cmp_ctx_less(cc, i, order[k - 1])) {
                order[k] = order[k - 1];
                k--;
            }
            order[k] = i;
        }
    }
    for (int oi = 0; oi < n; oi++) {
        int ci = order[oi];
        struct campaign *c = &cc->camp[ci];
        struct campaign_capacity cap = { 0, false, false, 0 };
        int cl;
        capfn(ctx, ci, &cap);
        for (cl = 0; cl < nclaims; cl++)
            if (claims[cl].ref == c->queue_ref)
                break;
        if (cl == nclaims) {
            claims[nclaims].ref = c->queue_ref;
            claims[nclaims++].claimed = 0;
        }
        double free_ = (double)cap.free - claims[cl].claimed;
        if (free_ < 0)
            free_ = 0;
        double p = answer_rate(c);
        double want = 0, have = 0;
        bool guard = false;
        double capr = (double)c->cfg.abandon_cap_bp / 10000.0;
        double taken = 0;
        if (c->cfg.mode == CAMPAIGN_MODE_PREDICTIVE && !c->cfg.nblend) {
            /* started, or running again after a pause: nothing known
             * yet of what takes its agents, so no dialing ahead */
            if (!c->tk.at || now > c->tk.at + TAKEN_TAU_US)
                c->held_until = now + (uint64_t)c->cfg.ramp_up_ms * 1000;
            taken = taken_rate(c, now, cap.free);
        }
        if (c->cfg.mode == CAMPAIGN_MODE_PREDICTIVE) {
            double life = c->life_ans
                              ? (double)c->life_drop / (double)c->life_ans
                              : 0.0;
            guard = win_rate(c, now) >= GUARD * capr || life >= GUARD * capr ||
                    now < c->held_until;
        }
        if (!cap.inbound_ok)
            c->held_until = now + BLEND_HOLD_US;
        /* inbound expected while a dial rings keeps its agents: the
         * blended queues' arrival rate, exponentially weighted over 5
         * minutes, times the time to an answer and the compliance time */
        double ahead = c->ring_s + c->cfg.compliance_ms / 1000.0;
        double keep = 0;
        if (c->cfg.nblend) {
            if (c->in_at && now > c->in_at) {
                double dt = (double)(now - c->in_at) / 1e6;
                double k = exp(-dt / 300.0);
                double arrived = cap.inbound_offered > c->in_offered
                                     ? (double)(cap.inbound_offered -
                                                c->in_offered) : 0.0;
                c->in_rate = c->in_rate * k + arrived / 300.0;
            }
            c->in_at = now;
            c->in_offered = cap.inbound_offered;
            keep = c->in_rate * ahead;
        } else if (taken > 0) {
            /* without blend queues, what took its free agents lately
             * (inbound of any queue they serve, agents going away) takes
             * them in that time too: the rate times that time, or times
             * how long a taken agent stays away if shorter (no more are
             * away at once), and z standard deviations of that count */
            double x = taken * (c->tk.away_n ? fmin(ahead, c->tk.away_s)
                                             : ahead);
            keep = x + c->tk.z * sqrt(x);
        }
        double avail = free_;
        free_ -= keep;
        if (free_ < 0)
            free_ = 0;
        if (c->cfg.mode == CAMPAIGN_MODE_PREVIEW) {
            have = c->prev_q;
            want = free_;
        } else if (c->cfg.mode == CAMPAIGN_MODE_PROGRESSIVE || guard) {
            have = c->ringing + c->answered;
            want = free_;
        } else {
            double e = c->talking *
                       (c->handle_s > 0 ? fmin(1.0, c->ring_s / c->handle_s) : 1.0);
            /* without blend queues, the agents its own calls free are
             * taken as the free ones are: keep applies to both (with
             * them, blending holds it back while inbound waits) */
            double need = c->cfg.nblend
                              ? free_ + e - c->answered
                              : fmax(avail + e - keep, 0.0) - c->answered;
            have = c->ringing;
            want = need > 0 ? floor(c->gain * need / p) : 0;
        }
        if (cap.dialer_ok && cap.inbound_ok) {
            int todo = (int)(want - have);
            while (todo-- > 0) {
                uint32_t li = lead_pop_due(cc, c, now);
                if (li == NONE)
                    break;
                struct dial *d = dial_new(cc, ci, li, now);
                if (!d) {       /* table full: the lead goes back */
                    lead_push(cc, li);
                    break;
                }
                lead_state(cc, li, CAMPAIGN_LEAD_ACTIVE);
                if (c->cfg.mode == CAMPAIGN_MODE_PREVIEW) {
                    d->state = D_PREVIEW_Q;
                    c->prev_q++;
                    c->st.previews++;
                    emit(cc, CAMPAIGN_EV_PREVIEW, ci, li, d->id,
                         CAMPAIGN_OUT_NONE);
                } else {
                    dial_ring(cc, now, c, d);
                }
            }
        }
        if (c->cfg.mode == CAMPAIGN_MODE_PREDICTIVE && !guard)
            claims[cl].claimed += c->ringing * p + c->answered;
        else if (c->cfg.mode == CAMPAIGN_MODE_PREVIEW)
            claims[cl].claimed += c->prev_q;
        else
            claims[cl].claimed += c->ringing + c->answered;
    }
}

uint64_t campaign_next_deadline(const struct campaign_core *cc)
{
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < cc->ncamp; i++) {
        const struct campaign *c = &cc->camp[i];
        if (c->ansq.head != NONE) {
            uint64_t t = cc->dials[c->ansq.head].answered +
                         (uint64_t)c->cfg.compliance_ms * 1000;
            if (t < best)
                best = t;
        }
        if (c->ringq.head != NONE) {
            uint64_t t = cc->dials[c->ringq.head].started +
                         (uint64_t)c->cfg.dial_timeout_ms * 1000 + RING_GRACE_US;
            if (t < best)
                best = t;
        }
        if (c->run == CAMPAIGN_RUNNING && c->nouter &&
            c->b[c->outer[0]].key < best)
            best = c->b[c->outer[0]].key;
    }
    return best;
}

/* ---- output, statistics ---- */

size_t campaign_out_count(const struct campaign_core *cc)
{
    return cc->nout;
}

const struct campaign_event *campaign_out_get(const struct campaign_core *cc,
                                              size_t i)
{
    return i < cc->nout ? &cc->out[i] : NULL;
}

void campaign_out_clear(struct campaign_core *cc)
{
    cc->nout = 0;
}

void campaign_stats(const struct campaign_core *cc, int i, uint64_t now,
                    struct campaign_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (i < 0 || i >= cc->ncamp)
        return;
    const struct campaign *c = &cc->camp[i];
    *out = c->st;
    out->abandon_life = c->life_ans ? (double)c->life_drop / (double)c->life_ans
                                    : 0.0;
    out->abandon_window = win_rate(c, now);
    out->ringing = c->ringing;
    out->answered_waiting = c->answered;
    out->talking = c->talking;
    out->previewing = c->prev_q + c->prev_o;
    out->answer_rate = answer_rate(c);
    out->handle_s = c->handle_s;
    out->ring_s = c->ring_s;
    out->gain = c->gain;
}
