/* router-int.h -- the routing core's internal structures, shared by
 * engine/router.c (the decisions) and engine/router-check.c (the
 * invariant checker). Not part of the interface: everything else uses
 * router.h. The design of these structures is the essay at the top of
 * router.c.
 */
#ifndef CCROUTE_ROUTER_INT_H
#define CCROUTE_ROUTER_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "aheap.h"
#include "idmap.h"
#include "lring.h"
#include "oring.h"
#include "rng.h"
#include "sring.h"
#include "router-t.h"
#include "timerheap.h"
#include "slwin.h"
#include "waitest.h"
#include "treap.h"
#include "wpool.h"

#define NLEV (ROUTER_MAX_STEPS + 1)
#define NCH ROUTER_CH_COUNT
#define EXCL_MAX 8
#define QUEUE_MAX 1024
#define WR_TRIES 16
#define NONE UINT32_MAX
#define NEVER UINT64_MAX
#define AENT_CHUNK 1024
#define DEFAULT_AHT_MS 60000

/* A round robin pool entry. */
struct aent {
    struct tnode node;          /* in queues[queue].apool[tier][ch]; node.p
                                   links the free list */
    uint32_t agent;
    uint16_t queue;
    uint8_t tier, ch;
    uint8_t inpool;             /* linked in its pool, valid or stale */
    uint32_t ep;                /* the agent's epoch on `ch` when linked */
    uint64_t rr;                /* sequence of its last offer from queue */
};

/* An agent's reference to one of its entries, with what a walk over them
 * needs (pool, strategy) so that the walk does not touch the entry. */
struct aref {
    union {
        struct aent *e;         /* round robin: the treap entry */
        uint32_t slot;          /* weighted random: the slot in the wpool */
    };
    uint16_t queue;
    uint16_t score;             /* on the queue's base skills */
    uint8_t tier;
    uint8_t strat;
    uint8_t first;              /* first tier-0 entry of its queue */
    uint8_t grp;                /* in a skill group's pools (never sleep) */
};

/* Available agents of one (queue, tier, channel), n of them (valid).
 * Longest idle keeps a ring of records (lring.h) valid iff a record's
 * epoch is its agent's lep for the pool's channel; most skilled one such
 * ring per score value (sring.h), valid by lep too; least occupied one
 * ring per busy count and a heap for the rest (oring.h), valid by oep;
 * weighted random a pool of weighted slots (wpool.h), the weight non-zero
 * iff the agent can take the channel; round robin a treap of entries. */
struct apool {
    uint32_t n;
    uint32_t sets;              /* weighted random above tier 0: weights
                                   set non-zero since it last woke or
                                   slept (router.c, "Sleeping pools") */
    union {                     /* by the queue's strategy */
        struct lring li;
        struct oring o;
        struct sring s;
        struct wpool w;
        struct treap t;
    };
} __attribute__((aligned(64)));   /* one cache line a pool */

struct queue {
    char name[ROUTER_ID_MAX];
    bool virt;
    int base;                               /* own index, or derived's base */
    int derived;                            /* base: first derived queue */
    int derived_next;                       /* derived: next of same base */
    unsigned nextra;                        /* derived: extra skills */
    uint16_t xskill[ROUTER_MAX_REQ];
    uint8_t xlvl[ROUTER_MAX_REQ];
    unsigned nreq;
    uint16_t req_skill[ROUTER_MAX_REQ];
    uint8_t lvl_min[NLEV][ROUTER_MAX_REQ];  /* 0: not required */
    int addq[ROUTER_MAX_STEPS];             /* ADD_QUEUE target or -1 */
    uint32_t step_ms[ROUTER_MAX_STEPS];
    unsigned nsteps;
    uint32_t channel_mask;
    enum router_strategy strategy;
    uint32_t sl_threshold_ms, offer_timeout_ms, wrapup_ms;
    uint32_t max_len, max_wait_ms;
    int overflow;
    struct treap cpool[NLEV][NCH];
    uint16_t cmask[NCH];                    /* levels with waiting contacts */
    struct apool apool[NLEV][NCH];
    /* waiting, in the order they entered the queue; arrivals come in
     * arrival order, contacts moved in (steps, overflow, transfers) keep
     * their earlier arrival and may be out of it. fifo_max is the latest
     * arrival appended since the fifo was last empty; nfifo_early counts
     * the waiting contacts that arrived before it when appended. While
     * it is 0 the fifo is in arrival order and its head is the oldest. */
    uint32_t fifo_head, fifo_tail;
    uint32_t nfifo_early;
    uint64_t fifo_max;
    uint32_t waiting;
    uint32_t staffed;
    /* logged-in agents with an entry here (any tier) per channel: those
     * that could ever serve a contact of this queue; 0 = unservable */
    uint32_t nserv[NCH];
    uint64_t offered, answered, in_sl, abandoned, handled;
    uint64_t asa_sum, aht_sum;
    struct waitest west;                    /* estimated wait (waitest.h) */
    struct slwin slw;                       /* recent service level (slwin.h) */
    /* member lists of the pools that may sleep, [tier * NCH + ch]; NULL
     * until an agent joins one (router.c, "Sleeping pools") */
    struct pmembers *pmem;
    /* Lifetime of a derived or virtual queue (see router.c, "Freeing
     * queues"): the live contacts whose queue this is, in any state */
    uint32_t nref;
    /* Skill groups (router.c, "Skill groups"). A group (isgrp) is a slot
     * of agent pools only, tier t for the agents holding its skill at
     * level NLEV - t (level NLEV and up at tier 0), tiers 0..nsteps (the
     * highest a queue of it has read); gvq[t] - 1 is the virtual queue
     * that reads tiers 0..t (gvq[t] 0: none), gref how many,
     * gmask the t whose queue has contacts waiting, gtier[t] its members
     * of tier t. A virtual queue in a group (grouped) has no pools of its
     * own: it reads tiers 0..gtop of group grp. */
    bool isgrp, grouped;
    uint8_t gtop;
    uint16_t grp, gref, gmask;
    uint16_t gvq[NLEV];
    uint32_t gtier[NLEV];
    bool dead;                              /* freed slot, on the free list */
    bool doomed;                            /* on the list to free */
    int qnext;                              /* free list / doomed list */
};

/* The epochs of an agent's ring and heap records, by channel: lep for
 * longest idle and most skilled rings, oep for least occupied rings and
 * heaps (see "Lazy
 * pool membership" in router.c). Apart from struct agent, in one dense
 * array: a compaction checks every record's epoch, and this array stays
 * in cache where the agents do not. They outlive the agent slot, whose
 * stale records may still sit in rings and heaps. */
struct aepoch {
    uint32_t lep[NCH];
    uint32_t oep[NCH];
};

/* The members of one pool that may sleep (see "Sleeping pools" in
 * router.c): the agent handles, in no order; an aref of such a pool keeps
 * its index here in `slot`. */
struct pmembers {
    uint32_t *a;                /* owned */
    uint32_t n, cap;
};

struct agent {
    char id[ROUTER_ID_MAX];
    uint64_t idh;
    uint32_t tag, uid;
    uint8_t live, gone;
    enum router_agent_state state;
    char reason[ROUTER_ID_MAX];
    uint64_t state_since, idle_since, login_at, busy_since, busy_acc;
    uint64_t idle_seq;          /* ties of idle_since: the care load (bits
                                   48..63, see router_agent_set_load), then
                                   the order of becoming idle */
    uint16_t load;              /* router_agent_set_load(): the load the
                                   next idle_seq carries */
    uint32_t idle_shift_ms;     /* router_agent_set_idle_shift(): added to
                                   idle_since when a difficult contact
                                   chooses (the care weight) */
    uint8_t routine;            /* router_agent_set_routine(): difficult
                                   contacts treat it as excluded */
    uint64_t wrap_until;
    uint8_t cap[NCH], busy[NCH];
    uint16_t busy_total;
    uint16_t nskills;
    uint16_t skill[ROUTER_MAX_SKILLS];
    uint8_t level[ROUTER_MAX_SKILLS];
    uint16_t *served;                       /* queues listed at login */
    uint16_t nserved;                       /* 0: every queue */
    uint32_t no_answer;
    /* pool entries by channel, with their pools: most walks over them
     * read this array only */
    struct aref *ev[NCH];
    uint16_t nev[NCH], cev[NCH];
    uint8_t pooled;                         /* channels with valid entries */
    uint16_t pbusy;                         /* busy_total, idle_seq when */
    uint64_t pidle;                         /* the entries were last keyed */
    uint32_t ep[NCH];                       /* availability epochs */
    uint32_t work_head, work_tail;          /* offered + assigned */
    struct treap pref;
    struct timerheap_node timer;            /* wrap-up end */
    uint32_t next;                          /* free / gone list */
};

struct contact {
    struct tnode node;          /* in a cpool or an agent's pref */
    char id[ROUTER_ID_MAX];
    uint64_t idh;
    uint32_t tag, seq;
    uint8_t live, gone, inpref, kick, nexcl, level;
    uint8_t channel;
    uint8_t difficult;          /* router_contact_spec.difficult */
    enum router_contact_state state;
    int queue;
    uint32_t priority, value;
    uint64_t arrived_at, queued_at, deadline, assigned_at, pref_until;
    uint64_t kick_at;
    uint32_t agent;             /* offered / assigned / preferred agent */
    uint32_t wprev, wnext;      /* agent's work list */
    uint32_t qprev, qnext;      /* queue's waiting fifo */
    bool infifo;
    bool fifo_early;            /* arrived before the queue's fifo_max */
    uint32_t rnext;             /* temporary list while re-routing */
    uint64_t excl[EXCL_MAX];
    struct timerheap_node timer;            /* see router__contact_due() */
    uint32_t tf;                /* timer fifo holding it, or NONE */
    uint32_t tprev, tnext;      /* in that fifo */
    uint32_t next;
};

/* A timer fifo (router.c, "Timers"): contacts whose timers share one
 * offset from the event that armed them, in (due, seq) order; its node
 * sits in the router's timer heap, keyed like its head. */
struct tfifo {
    uint32_t head, tail;
    struct timerheap_node hn;
};

/* Timer fifos: per queue, one per expansion level then offer deadlines
 * and maximum waits; then preferred waits, restore kicks and maximum
 * contact ages for the whole router. */
#define TF_OFFER ROUTER_MAX_STEPS
#define TF_MAXWAIT (ROUTER_MAX_STEPS + 1)
#define TF_PERQ (ROUTER_MAX_STEPS + 2)
#define TF_PREF (QUEUE_MAX * TF_PERQ)
#define TF_KICK (TF_PREF + 1)
#define TF_AGE (TF_PREF + 2)
#define TF_N (TF_PREF + 3)

struct router {
    struct router_config cfg;
    struct queue *queues;
    unsigned nconf, nq;         /* configured; high-water mark */
    int queue_free;             /* freed slots below nq (qnext), or -1 */
    int queue_doomed;           /* unused created queues, oldest first */
    int queue_doomed_tail;
    unsigned nunused;           /* created queues with nref 0 */
    char (*skills)[ROUTER_ID_MAX];
    unsigned nskills, skills_cap;
    struct idmap skill_map, queue_map, agent_map, contact_map;
    struct agent *agents;
    struct aepoch *aep;         /* max_agents, by agent handle */
    struct contact *contacts;
    uint32_t max_agents, max_contacts;
    uint32_t agent_free, contact_free;
    uint32_t agent_gone, contact_gone;
    unsigned nagents, ncontacts;
    struct aent *aent_free;
    void **chunks;
    unsigned nchunks;
    struct timerheap timers;    /* agents' timers, timer fifos' heads and
                                 * contacts' timers out of fifo order */
    struct tfifo *tfifo;        /* TF_N */
    uint64_t tf_appends, tf_strays;     /* counts, for tests */
    struct lring_ops lops;      /* what the rings ask of agents */
    struct lring_ops lops_lo;   /* least occupied: its rings (by oep) */
    struct aheap_ops hops_lo;   /* least occupied: its heaps */
    uint32_t *scratch;          /* max_agents, for virtual queue creation */
    struct router_event *out;
    size_t nout, out_cap;
    struct rng rng;
    uint32_t npooled[NCH];      /* contacts in queue pools, per channel */
    uint32_t nwaiting;          /* contacts in every waiting fifo */
    uint64_t *asleep;           /* bitmap by pool_id(): pools asleep */
    uint64_t pool_sleeps, pool_wakes;   /* counts, for tests */
    uint64_t prio_ctr;
    uint64_t idle_ctr;          /* agents' idle_seq */
    uint32_t seq;
};

/* ---- helpers both files need ---- */

static inline bool can_take(const struct router *r, const struct agent *a,
                            unsigned ch)
{
    if (a->state != ROUTER_AGENT_STATE_AVAILABLE || a->busy[ch] >= a->cap[ch])
        return false;
    if (r->cfg.voice_blocks_others) {
        if (ch == ROUTER_CH_VOICE)
            return a->busy_total == 0;
        return a->busy[ROUTER_CH_VOICE] == 0;
    }
    return true;
}

#define IDLE_MASK ((1ULL << 52) - 1)

/* The pool key of round robin entry e of agent a: the sequence of its
 * last offer from the queue, then the agent's uid. */
static inline void aent_key(const struct router *r, const struct agent *a,
                            const struct aent *e, uint64_t *k1, uint64_t *k2)
{
    (void)r;
    *k1 = e->rr;
    *k2 = a->uid;
}

static inline bool pool_is_ring(const struct queue *q)
{
    return q->strategy == ROUTER_STRATEGY_LONGEST_IDLE;
}

/* Rings by busy count and a heap (oring.h): least occupied. */
static inline bool pool_is_oring(const struct queue *q)
{
    return q->strategy == ROUTER_STRATEGY_LEAST_OCCUPIED;
}

/* Rings by score (sring.h): most skilled. */
static inline bool pool_is_sring(const struct queue *q)
{
    return q->strategy == ROUTER_STRATEGY_MOST_SKILLED;
}

/* Pools of treap entries (struct aent): round robin only. */
static inline bool pool_is_treap(const struct queue *q)
{
    return q->strategy == ROUTER_STRATEGY_ROUND_ROBIN;
}

static inline bool pool_is_wpool(const struct queue *q)
{
    return q->strategy == ROUTER_STRATEGY_WEIGHTED_RANDOM;
}

/* The weight of an available agent of score s in a weighted random pool. */
static inline uint32_t wr_weight(unsigned s)
{
    return s ? s : 1;
}

/* The heap key of agent a in a pool of strategy strat (most skilled or
 * least occupied), score its score there (see "Indexes" in router.c). */
static inline void hrec_key(const struct agent *a, unsigned strat,
                            unsigned score, uint64_t *k1, uint64_t *k2)
{
    uint64_t hi = strat == ROUTER_STRATEGY_MOST_SKILLED ? 4095u - score
                                                         : a->busy_total;
    *k1 = (hi << 52) | (a->idle_since & IDLE_MASK);
    *k2 = a->idle_seq;
}

/* The epoch that keeps the agent's heap records of strategy strat valid
 * on channel ch: a most skilled key changes when idle_since does, like a
 * longest idle one (lep); a least occupied key also with the busy slots
 * (oep). */
static inline uint32_t hrec_epoch(const struct router *r, uint32_t agent,
                                  unsigned strat, unsigned ch)
{
    return strat == ROUTER_STRATEGY_MOST_SKILLED ? r->aep[agent].lep[ch]
                                                 : r->aep[agent].oep[ch];
}

static inline bool hrec_valid(const struct router *r, const struct hrec *x,
                              unsigned strat, unsigned ch)
{
    return hrec_epoch(r, x->agent, strat, ch) == x->ep;
}

/* Whether ring record x of a least occupied pool (oring.h) is valid on
 * channel ch: its keys change with the busy slots too, like the heap's
 * records (oep). */
static inline bool lrec_valid_lo(const struct router *r,
                                 const struct lrec *x, unsigned ch)
{
    return r->aep[x->agent].oep[ch] == x->ep;
}

/* The highest busy count (slots of every channel) at which agent a can
 * take channel ch, on which it has capacity: the busy counts of its
 * places in a least occupied pool (oring.h). Capacity changes only at
 * login and voice_blocks_others not at all, so it is the same from an
 * entry's creation to its drop. */
static inline unsigned lo_top(const struct router *r, const struct agent *a,
                              unsigned ch)
{
    bool vb = r->cfg.voice_blocks_others;
    if (vb && ch == ROUTER_CH_VOICE)
        return 0;               /* voice only with nothing else */
    unsigned t = 0;
    for (unsigned c = 0; c < NCH; c++)
        if (!vb || c != ROUTER_CH_VOICE)
            t += a->cap[c];
    return t - 1;               /* one slot of ch left at least */
}

/* Agent a became idle before agent b: longest idle order, and the tie
 * break of most skilled and least occupied. */
static inline bool li_less(const struct agent *a, const struct agent *b)
{
    return a->idle_since < b->idle_since ||
           (a->idle_since == b->idle_since && a->idle_seq < b->idle_seq);
}

static inline bool lrec_valid(const struct router *r, const struct lrec *x,
                              unsigned ch)
{
    return r->aep[x->agent].lep[ch] == x->ep;
}

/* Whether entry e is valid: linked, and linked since the agent last
 * became able to take its channel (see "Lazy pool membership"). */
static inline bool aent_valid(const struct router *r, const struct aent *e)
{
    return e->inpool && e->ep == r->agents[e->agent].ep[e->ch];
}

/* Sleeping pools (router.c, "Sleeping pools"): the index of pool
 * (queue qi, tier, channel ch) in r->asleep. */
static inline uint32_t pool_id(unsigned qi, unsigned tier, unsigned ch)
{
    return ((uint32_t)qi * NLEV + tier) * NCH + ch;
}

#define POOL_IDS (QUEUE_MAX * NLEV * NCH)

/* The member list of pool (qi, tier, ch), or NULL if it never had one. */
static inline struct pmembers *pool_members(const struct router *r,
                                            unsigned qi, unsigned tier,
                                            unsigned ch)
{
    struct pmembers *m = r->queues[qi].pmem;
    return m ? &m[tier * NCH + ch] : NULL;
}

/* Whether the pool that reference f names on its channel may sleep: a
 * longest idle ring, a heap or a weighted pool above tier 0. Tier 0 pools
 * and round robin treaps are always kept up to date. */
static inline bool aref_may_sleep(const struct aref *f)
{
    return f->tier && !f->grp && f->strat != ROUTER_STRATEGY_ROUND_ROBIN;
}

/* Whether that pool keeps a member list (q->pmem) to wake from: rings
 * and heaps, whose records go when they sleep. A weighted pool keeps its
 * members in its slots, and f->slot is its slot there. */
static inline bool aref_has_pmem(const struct aref *f)
{
    return aref_may_sleep(f) && f->strat != ROUTER_STRATEGY_WEIGHTED_RANDOM;
}

static inline bool pool_asleep(const struct router *r, uint32_t id)
{
    return (r->asleep[id >> 6] >> (id & 63)) & 1;
}

/* Whether f's pool on channel ch is asleep (its records, count and the
 * validity invariant then mean nothing until it wakes). */
static inline bool aref_asleep(const struct router *r, const struct aref *f,
                               unsigned ch)
{
    return aref_may_sleep(f) && pool_asleep(r, pool_id(f->queue, f->tier, ch));
}

/* A grouped virtual queue's logged-in agents (any state) that hold its
 * skill at its level: its group's members of tiers 0..gtop. */
static inline uint32_t group_members(const struct router *r,
                                     const struct queue *q)
{
    const struct queue *g = &r->queues[q->grp];
    uint32_t n = 0;
    for (unsigned t = 0; t <= q->gtop; t++)
        n += g->gtier[t];
    return n;
}

/* Logged-in agents of queue q at tier 0 (a grouped virtual queue: its
 * group's members it reads). */
static inline uint32_t queue_staffed_n(const struct router *r,
                                       const struct queue *q)
{
    return q->grouped ? group_members(r, q) : q->staffed;
}

/* Logged-in agents with an entry for queue q on channel ch, any tier. */
static inline uint32_t queue_nserv(const struct router *r,
                                   const struct queue *q, unsigned ch)
{
    if (!q->grouped)
        return q->nserv[ch];
    return (q->channel_mask >> ch) & 1 ? group_members(r, q) : 0;
}

/* Agents that can take a contact of queue q and channel ch now at its
 * first level: its tier-0 pool's count, or its group's pools it reads. */
static inline uint32_t queue_free_n(const struct router *r,
                                    const struct queue *q, unsigned ch)
{
    if (!q->grouped)
        return q->apool[0][ch].n;
    if (!((q->channel_mask >> ch) & 1))
        return 0;
    const struct queue *g = &r->queues[q->grp];
    uint32_t n = 0;
    for (unsigned t = 0; t <= q->gtop; t++)
        n += g->apool[t][ch].n;
    return n;
}

/* When the contact's timer must fire (NEVER: no timer): the earliest of
 * its offer deadline, next expansion step, maximum wait, preferred wait
 * and restore kick. */
uint64_t router__contact_due(const struct router *r, const struct contact *c);

/* Whether contact c has a timer (in a fifo or in the heap). */
static inline bool contact_timer_active(const struct contact *c)
{
    return c->tf != NONE || timerheap_node_active(&c->timer);
}

#endif
