/* test-router-diff.c -- differential test of engine/router.c against the
 * reference router (tests/router-ref.c).
 *
 * For each seed: a random configuration (queues, skills, strategies,
 * steps, limits, overflow) and a random sequence of events (arrivals with
 * priorities, values, skills, preferred agents; logins, logouts, state
 * changes; accepts, rejects, completes, abandons, transfers; restores;
 * clock advances with ticks). Both routers take every event; after each,
 * router_check() must pass and the return codes and output lists must be
 * identical (what is compared: router-ref.h). A failing seed is shrunk by
 * removing events while it still fails, and the shortest sequence found is
 * printed.
 *
 * CCROUTE_DIFF_SEEDS sets the number of seeds (default 3000),
 * CCROUTE_DIFF_SEED0 the first seed, CCROUTE_DIFF_EVENTS the events per
 * seed (default 250).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "router-ref.h"
#include "router.h"

#define NSKILL 5
#define NAGENT 8
#define MAXQ 4

enum op_kind {
    OP_ARRIVE, OP_ABANDON, OP_COMPLETE, OP_TRANSFER_Q, OP_TRANSFER_A,
    OP_ACCEPT, OP_REJECT, OP_LOGIN, OP_LOGOUT, OP_AVAIL, OP_AWAY,
    OP_WRAPDONE, OP_TICK, OP_RESTORE, OP_RESTORE_ASSIGNED, OP_COUNT
};

static const char *op_names[OP_COUNT] = {
    "arrive", "abandon", "complete", "transfer-queue", "transfer-agent",
    "accept", "reject", "login", "logout", "available", "away",
    "wrapup-done", "tick", "restore", "restore-assigned",
};

struct op {
    enum op_kind kind;
    uint64_t now;
    char cid[16], aid[16], pref[16];
    int queue;                  /* arrive/transfer: queue index, -1 skills */
    uint8_t ch, nsk;
    uint8_t extra;              /* queue contact: skills are extra skills */
    uint8_t sk[3], lv[3];       /* contact skills or agent skills */
    uint32_t prio, value;
    uint8_t cap[ROUTER_CH_COUNT];
    uint8_t served;             /* agent: bitmask of queues, 0 = all */
    uint64_t arrived_at;
    uint8_t load;               /* complete: the agent's care load first */
};

/* The care weight that goes with a load (router_agent_set_idle_shift):
 * load 2 shifts by up to seven times the gap between two ops, so that
 * shifted keys pass plain ones; loads 0 and 1 keep the tie-break alone.
 * Derived from the load so that the op stream of a seed stays. */
#define SHIFT_MS(load) ((load) == 2 ? 20000u : 0u)

/* Care's routine-only mode (router_agent_set_routine): a completion of
 * load 1 turns it on for the agent, an AVAILABLE with reason "r1" (which
 * the op does not use otherwise) off; every fourth contact id is
 * difficult. Derived, like SHIFT_MS, so that a seed's ops stay. */
#define ROUTINE_OFF(o) (!strcmp((o)->pref, "r1"))
#define DIFFICULT(cid) (atoi((cid) + 1) % 4 == 0)

struct world {
    struct router_queue_config q[MAXQ];
    struct router_config cfg;
    uint64_t seed;
};

static const char *skill_name[NSKILL] = {"s0", "s1", "s2", "s3", "s4"};
/* extra skills of queue contacts: the agents' skills and "lx", a language
 * no agent speaks (the contact must wait, not fail) */
#define NXSKILL (NSKILL + 1)
static const char *xskill_name[NXSKILL] = {"s0", "s1", "s2", "s3", "s4", "lx"};

/* Extra skills (1 or 2, low levels) for a queue contact. */
static void gen_extras(struct rng *g, struct op *o);
static const char *queue_name[MAXQ] = {"q0", "q1", "q2", "q3"};

static unsigned pick(struct rng *g, unsigned n)
{
    return (unsigned)(rng_next(g) % n);
}

static void make_world(struct world *w, uint64_t seed)
{
    struct rng g;
    rng_seed(&g, seed * 7919 + 1);
    memset(w, 0, sizeof(*w));
    w->seed = seed;
    unsigned nq = 1 + pick(&g, MAXQ);
    for (unsigned i = 0; i < nq; i++) {
        struct router_queue_config *q = &w->q[i];
        snprintf(q->name, ROUTER_ID_MAX, "%s", queue_name[i]);
        q->nreq = 1 + pick(&g, 2);
        unsigned first = pick(&g, NSKILL);
        for (unsigned k = 0; k < q->nreq; k++) {
            snprintf(q->req[k].skill, ROUTER_ID_MAX, "%s",
                     skill_name[(first + k) % NSKILL]);
            q->req[k].min_level = (uint8_t)(1 + pick(&g, 6));
        }
        q->strategy = (enum router_strategy)pick(&g, 5);
        q->channel_mask = pick(&g, 3) == 0 ? 1 + pick(&g, 15) : 0;
        q->sl_threshold_ms = 5000;
        q->offer_timeout_ms = 1000 * (1 + pick(&g, 5));
        q->wrapup_ms = pick(&g, 2) ? 1000 * pick(&g, 4) : 0;
        q->max_len = pick(&g, 3) == 0 ? 1 + pick(&g, 4) : 0;
        if (pick(&g, 3) == 0) {
            q->max_wait_ms = 1000 * (3 + pick(&g, 25));
            if (pick(&g, 2))
                snprintf(q->overflow, ROUTER_ID_MAX, "%s",
                         queue_name[pick(&g, nq)]);
        } else if (pick(&g, 3) == 0) {
            snprintf(q->overflow, ROUTER_ID_MAX, "%s", queue_name[pick(&g, nq)]);
        }
        q->nsteps = pick(&g, 4);
        for (unsigned s = 0; s < q->nsteps; s++) {
            struct router_step *st = &q->steps[s];
            st->after_ms = 1000 * pick(&g, 20);
            unsigned kind = pick(&g, 3);
            unsigned k = pick(&g, q->nreq);
            if (kind == 0) {
                st->kind = ROUTER_STEP_LOWER_LEVEL;
                memcpy(st->skill, q->req[k].skill, ROUTER_ID_MAX);
                st->level = (uint8_t)(1 + pick(&g, 6));
            } else if (kind == 1) {
                st->kind = ROUTER_STEP_DROP_SKILL;
                memcpy(st->skill, q->req[k].skill, ROUTER_ID_MAX);
            } else {
                st->kind = ROUTER_STEP_ADD_QUEUE;
                snprintf(st->queue, ROUTER_ID_MAX, "%s",
                         queue_name[pick(&g, nq)]);
            }
        }
    }
    struct router_config *c = &w->cfg;
    c->queues = w->q;
    c->nqueues = nq;
    c->max_agents = 16;
    c->max_contacts = 512;
    c->priority_weight_ms = 1000;
    c->value_weight_ms = 10;
    c->preferred_wait_ms = pick(&g, 2) ? 1000 * (1 + pick(&g, 8)) : 0;
    c->max_no_answer = 1 + pick(&g, 3);
    c->voice_blocks_others = pick(&g, 4) != 0;
    c->default_offer_timeout_ms = 3000;
}

/* Generates ops against the reference, which it also drives, so that the
 * ids it picks exist (accept what is offered, complete what is assigned). */
static int diff_apply_ref(struct ref *r, const struct world *w,
                          const struct op *o);

static unsigned make_ops(const struct world *w, struct op *ops, unsigned n)
{
    struct rng g;
    rng_seed(&g, w->seed * 104729 + 3);
    struct ref *ref = ref_new(&w->cfg, w->seed);
    uint64_t now = 1000000;
    unsigned nc = 0;
    for (unsigned i = 0; i < n; i++) {
        struct op *o = &ops[i];
        memset(o, 0, sizeof(*o));
        unsigned roll = pick(&g, 100);
        /* every third seed: agents in surplus (few arrivals, many state
         * changes), so that the pools of later levels fill with no contact
         * waiting at those levels and go to sleep, and wake when one
         * reaches them (router.c, "Sleeping pools") */
        if (w->seed % 3 == 0 && roll < 22 && pick(&g, 4) != 0)
            roll = 36 + pick(&g, 8);
        enum router_contact_state cst;
        enum router_agent_state ast;
        const char *agent;
        unsigned ncont = 0, nag = 0;
        while (ref_contact_at(ref, ncont, &cst, &agent))
            ncont++;
        while (ref_agent_at(ref, nag, &ast))
            nag++;
        if (pick(&g, 3) == 0)
            now += 1000 * (uint64_t)pick(&g, 3000);
        o->now = now;
        if (roll < 22) {
            o->kind = OP_ARRIVE;
            if (nc > 0 && pick(&g, 30) == 0)
                snprintf(o->cid, sizeof(o->cid), "c%u", pick(&g, nc));
            else
                snprintf(o->cid, sizeof(o->cid), "c%u", nc++);
            o->queue = pick(&g, 4) == 0 ? -1 : (int)pick(&g, w->cfg.nqueues);
            o->nsk = (uint8_t)(1 + pick(&g, 2));
            for (unsigned k = 0; k < o->nsk; k++) {
                o->sk[k] = (uint8_t)((k == 0 ? pick(&g, NSKILL) : (o->sk[0] + 1 + pick(&g, NSKILL - 1)) % NSKILL));
                o->lv[k] = (uint8_t)(1 + pick(&g, 6));
            }
            if (o->queue >= 0 && pick(&g, 3) == 0)
                gen_extras(&g, o);
            o->ch = (uint8_t)(pick(&g, 2) ? 0 : pick(&g, ROUTER_CH_COUNT));
            o->prio = pick(&g, 3) == 0 ? pick(&g, 10) : 0;
            o->value = pick(&g, 3) == 0 ? pick(&g, 1001) : 0;
            if (pick(&g, 4) == 0)
                snprintf(o->pref, sizeof(o->pref), "a%u", pick(&g, NAGENT));
        } else if (roll < 32) {
            o->kind = OP_LOGIN;
            snprintf(o->aid, sizeof(o->aid), "a%u", pick(&g, NAGENT));
            o->nsk = (uint8_t)(1 + pick(&g, 3));
            for (unsigned k = 0; k < o->nsk; k++) {
                o->sk[k] = (uint8_t)pick(&g, NSKILL);
                o->lv[k] = (uint8_t)(1 + pick(&g, 10));
            }
            if (pick(&g, 2))
                for (unsigned ch = 0; ch < ROUTER_CH_COUNT; ch++)
                    o->cap[ch] = (uint8_t)(pick(&g, 2) ? pick(&g, 4) : 0);
            o->served = pick(&g, 2) ? (uint8_t)pick(&g, 1U << w->cfg.nqueues) : 0;
        } else if (roll < 36 && nag) {
            o->kind = OP_LOGOUT;
            snprintf(o->aid, sizeof(o->aid), "%s",
                     ref_agent_at(ref, pick(&g, nag), &ast));
        } else if (roll < 44 && nag) {
            static const enum op_kind k[3] = {OP_AVAIL, OP_AWAY, OP_WRAPDONE};
            o->kind = k[pick(&g, 3)];
            snprintf(o->aid, sizeof(o->aid), "%s",
                     ref_agent_at(ref, pick(&g, nag), &ast));
            snprintf(o->pref, sizeof(o->pref), "r%u", pick(&g, 2));
        } else if (roll < 80 && ncont) {
            const char *id = ref_contact_at(ref, pick(&g, ncont), &cst, &agent);
            snprintf(o->cid, sizeof(o->cid), "%s", id);
            snprintf(o->aid, sizeof(o->aid), "%s", agent);
            unsigned r2 = pick(&g, 100);
            if (cst == ROUTER_CONTACT_OFFERED)
                o->kind = r2 < 55 ? OP_ACCEPT : r2 < 85 ? OP_REJECT : OP_ABANDON;
            else if (cst == ROUTER_CONTACT_ASSIGNED)
                o->kind = r2 < 80 ? OP_COMPLETE
                        : r2 < 90 ? OP_TRANSFER_Q : OP_TRANSFER_A;
            if (o->kind == OP_COMPLETE)
                o->load = (uint8_t)pick(&g, 3);
            else
                o->kind = r2 < 50 ? OP_ABANDON
                        : r2 < 70 ? OP_TRANSFER_Q
                        : r2 < 80 ? OP_TRANSFER_A : OP_ACCEPT;
            o->queue = (int)pick(&g, w->cfg.nqueues);
            if (o->kind == OP_TRANSFER_A)
                snprintf(o->aid, sizeof(o->aid), "a%u", pick(&g, NAGENT));
        } else if (roll < 84) {
            o->kind = pick(&g, 3) ? OP_RESTORE : OP_RESTORE_ASSIGNED;
            snprintf(o->cid, sizeof(o->cid), "c%u", nc++);
            o->queue = (int)pick(&g, w->cfg.nqueues);
            o->ch = (uint8_t)(pick(&g, 2) ? 0 : pick(&g, ROUTER_CH_COUNT));
            o->arrived_at = now - 1000 * (uint64_t)pick(&g, 40000);
            if (pick(&g, 4) == 0)
                gen_extras(&g, o);
            snprintf(o->aid, sizeof(o->aid), "a%u", pick(&g, NAGENT));
            o->prio = pick(&g, 10);
        } else {
            o->kind = OP_TICK;
            now += 1000 * (uint64_t)pick(&g, 8000);
            o->now = now;
        }
        /* drive the reference so the next pick sees the new state */
        diff_apply_ref(ref, w, o);
        ref_out_clear(ref);
    }
    ref_free(ref);
    return n;
}

static void gen_extras(struct rng *g, struct op *o)
{
    o->extra = 1;
    o->nsk = (uint8_t)(1 + pick(g, 2));
    o->sk[0] = (uint8_t)pick(g, NXSKILL);
    o->sk[1] = (uint8_t)((o->sk[0] + 1 + pick(g, NXSKILL - 1)) % NXSKILL);
    for (unsigned k = 0; k < o->nsk; k++)
        o->lv[k] = (uint8_t)(1 + pick(g, 4));
}

static void contact_spec(const struct op *o, struct router_contact_spec *s)
{
    memset(s, 0, sizeof(*s));
    s->id = o->cid;
    s->channel = (enum router_channel)o->ch;
    s->queue = o->queue >= 0 ? queue_name[o->queue] : NULL;
    s->nskills = o->queue < 0 || o->extra ? o->nsk : 0;
    for (unsigned k = 0; k < s->nskills; k++) {
        snprintf(s->skills[k].skill, ROUTER_ID_MAX, "%s",
                 o->extra ? xskill_name[o->sk[k]] : skill_name[o->sk[k]]);
        s->skills[k].min_level = o->lv[k];
    }
    s->priority = o->prio;
    s->value = o->value;
    s->preferred_agent = o->pref[0] ? o->pref : NULL;
    s->difficult = DIFFICULT(o->cid);
}

static void agent_spec(const struct op *o, struct router_agent_spec *s,
                       const char **served)
{
    memset(s, 0, sizeof(*s));
    s->id = o->aid;
    s->nskills = o->nsk;
    for (unsigned k = 0; k < o->nsk; k++) {
        snprintf(s->skills[k].skill, ROUTER_ID_MAX, "%s", skill_name[o->sk[k]]);
        s->skills[k].level = o->lv[k];
    }
    memcpy(s->capacity, o->cap, sizeof(s->capacity));
    unsigned n = 0;
    for (unsigned i = 0; i < MAXQ; i++)
        if (o->served & (1U << i))
            served[n++] = queue_name[i];
    s->queues = served;
    s->nqueues = n;
}

static int diff_apply_ref(struct ref *r, const struct world *w, const struct op *o)
{
    struct router_contact_spec cs;
    struct router_agent_spec as;
    const char *served[MAXQ];
    (void)w;
    switch (o->kind) {
    case OP_ARRIVE:
        contact_spec(o, &cs);
        return ref_contact_arrive(r, o->now, &cs);
    case OP_ABANDON: return ref_contact_abandon(r, o->now, o->cid);
    case OP_COMPLETE:
        ref_agent_set_load(r, o->aid, o->load);
        ref_agent_set_idle_shift(r, o->aid, SHIFT_MS(o->load));
        if (o->load == 1)
            ref_agent_set_routine(r, o->now, o->aid, true);
        return ref_contact_complete(r, o->now, o->cid);
    case OP_TRANSFER_Q:
        return ref_contact_transfer(r, o->now, o->cid, o->queue, NULL);
    case OP_TRANSFER_A:
        return ref_contact_transfer(r, o->now, o->cid, -1, o->aid);
    case OP_ACCEPT: return ref_offer_accept(r, o->now, o->cid, o->aid);
    case OP_REJECT: return ref_offer_reject(r, o->now, o->cid, o->aid);
    case OP_LOGIN:
        agent_spec(o, &as, served);
        return ref_agent_login(r, o->now, &as);
    case OP_LOGOUT: return ref_agent_logout(r, o->now, o->aid);
    case OP_AVAIL:
        if (ROUTINE_OFF(o))
            ref_agent_set_routine(r, o->now, o->aid, false);
        return ref_agent_set_state(r, o->now, o->aid, ROUTER_AGENT_AVAILABLE,
                                   NULL);
    case OP_AWAY:
        return ref_agent_set_state(r, o->now, o->aid, ROUTER_AGENT_AWAY,
                                   o->pref);
    case OP_WRAPDONE:
        return ref_agent_set_state(r, o->now, o->aid, ROUTER_AGENT_WRAPUP_DONE,
                                   NULL);
    case OP_TICK:
        ref_tick(r, o->now);
        return 0;
    case OP_RESTORE:
        contact_spec(o, &cs);
        return ref_contact_restore(r, o->now, &cs, o->arrived_at, o->aid);
    case OP_RESTORE_ASSIGNED:
        contact_spec(o, &cs);
        return ref_contact_restore_assigned(r, o->now, &cs, o->arrived_at,
                                            o->aid);
    default:
        return 0;
    }
}

static int apply_router(struct router *r, const struct op *o)
{
    struct router_contact_spec cs;
    struct router_agent_spec as;
    const char *served[MAXQ];
    uint32_t h;
    switch (o->kind) {
    case OP_ARRIVE:
        contact_spec(o, &cs);
        return router_contact_arrive(r, o->now, &cs, 1, &h);
    case OP_ABANDON: return router_contact_abandon(r, o->now, o->cid);
    case OP_COMPLETE:
        router_agent_set_load(r, o->aid, o->load);
        router_agent_set_idle_shift(r, o->aid, SHIFT_MS(o->load));
        if (o->load == 1)
            router_agent_set_routine(r, o->now, o->aid, true);
        return router_contact_complete(r, o->now, o->cid);
    case OP_TRANSFER_Q:
        return router_contact_transfer(r, o->now, o->cid, o->queue, NULL);
    case OP_TRANSFER_A:
        return router_contact_transfer(r, o->now, o->cid, -1, o->aid);
    case OP_ACCEPT: return router_offer_accept(r, o->now, o->cid, o->aid);
    case OP_REJECT: return router_offer_reject(r, o->now, o->cid, o->aid);
    case OP_LOGIN:
        agent_spec(o, &as, served);
        return router_agent_login(r, o->now, &as, 2, &h);
    case OP_LOGOUT: return router_agent_logout(r, o->now, o->aid);
    case OP_AVAIL:
        if (ROUTINE_OFF(o))
            router_agent_set_routine(r, o->now, o->aid, false);
        return router_agent_set_state(r, o->now, o->aid,
                                      ROUTER_AGENT_AVAILABLE, NULL);
    case OP_AWAY:
        return router_agent_set_state(r, o->now, o->aid, ROUTER_AGENT_AWAY,
                                      o->pref);
    case OP_WRAPDONE:
        return router_agent_set_state(r, o->now, o->aid,
                                      ROUTER_AGENT_WRAPUP_DONE, NULL);
    case OP_TICK:
        router_tick(r, o->now);
        return 0;
    case OP_RESTORE:
        contact_spec(o, &cs);
        return router_contact_restore(r, o->now, &cs, o->arrived_at, o->aid,
                                      1, &h);
    case OP_RESTORE_ASSIGNED:
        contact_spec(o, &cs);
        return router_contact_restore_assigned(r, o->now, &cs, o->arrived_at,
                                               o->aid, 1, &h);
    default:
        return 0;
    }
}

static int detail_of(const struct router_event *e)
{
    switch (e->type) {
    case ROUTER_EV_REVOKED: return (int)e->u.revoke;
    case ROUTER_EV_CONTACT_GONE: return (int)e->u.gone;
    case ROUTER_EV_AGENT_STATE: return (int)e->u.agent_state;
    default: return 0;
    }
}

static uint64_t ev_seen[9];
static uint64_t unservable_seen;    /* QUEUED events saying unservable */
static uint64_t sleeps_seen, wakes_seen;    /* router_pool_sleeps() */
static uint64_t rc_seen[16];

static const char *ev_names[] = {"?", "QUEUED", "OFFER", "REVOKED",
                                  "REJECTED", "ASSIGNED", "CONTACT_GONE",
                                  "AGENT_STATE", "MOVED"};

static void print_ref_event(FILE *f, const struct ref_event *e)
{
    fprintf(f, "      %s contact=%s agent=%s queue=%d deadline=%" PRIu64
               " detail=%d position=%u unservable=%d\n",
            ev_names[e->type], e->contact, e->agent, e->queue, e->deadline,
            e->detail, e->type == ROUTER_EV_QUEUED ? e->position : 0,
            e->type == ROUTER_EV_QUEUED && e->unservable);
}

/* Replays ops[0..n) on both routers; returns the index of the first op after
 * which they disagree (or the checker fails), or -1. With `f`, describes
 * the difference. */
static int replay(const struct world *w, const struct op *ops, unsigned n,
                  FILE *f)
{
    const char *err = NULL;
    struct router *r = router_new(&w->cfg, w->seed, &err);
    if (!r) {
        if (f)
            fprintf(f, "router_new: %s\n", err);
        return 0;
    }
    struct ref *ref = ref_new(&w->cfg, w->seed);
    int bad = -1;
    char buf[256];
    for (unsigned i = 0; i < n && bad < 0; i++) {
        int rc1 = apply_router(r, &ops[i]);
        int rc2 = diff_apply_ref(ref, w, &ops[i]);
        if (router_check(r, buf, sizeof(buf)) != 0) {
            if (f)
                fprintf(f, "    router_check after event %u: %s\n", i, buf);
            bad = (int)i;
            break;
        }
        if (rc1 != rc2) {
            if (f)
                fprintf(f, "    event %u: router returned %d, reference %d\n",
                        i, rc1, rc2);
            bad = (int)i;
        }
        size_t n1 = router_out_count(r), n2 = ref_out_count(ref);
        rc_seen[-rc1 & 15]++;
        for (size_t k = 0; k < n1; k++)
        {
            const struct router_event *x = router_out_get(r, k);
            ev_seen[x->type % 9]++;
            unservable_seen += x->type == ROUTER_EV_QUEUED && x->unservable;
        }
        size_t m = n1 > n2 ? n1 : n2;
        for (size_t k = 0; k < m && bad < 0; k++) {
            const struct ref_event *b = ref_out_get(ref, k);
            const struct router_event *e = router_out_get(r, k);
            struct ref_event a;
            memset(&a, 0, sizeof(a));
            if (e) {
                a.type = e->type;
                if (e->contact != UINT32_MAX)
                    snprintf(a.contact, ROUTER_ID_MAX, "%s",
                             router_contact_id(r, e->contact));
                if (e->agent != UINT32_MAX)
                    snprintf(a.agent, ROUTER_ID_MAX, "%s",
                             router_agent_id(r, e->agent));
                a.queue = e->queue;
                a.deadline = e->type == ROUTER_EV_OFFER ? e->deadline : 0;
                a.detail = detail_of(e);
                a.position = e->type == ROUTER_EV_QUEUED ? e->position : 0;
                a.unservable = e->type == ROUTER_EV_QUEUED && e->unservable;
            }
            struct ref_event bb;
            if (b) {
                bb = *b;
                if (bb.type != ROUTER_EV_QUEUED) {
                    bb.position = 0;
                    bb.unservable = false;
                }
            }
            if (!e || !b || a.type != bb.type || strcmp(a.contact, bb.contact) ||
                strcmp(a.agent, bb.agent) || a.queue != bb.queue ||
                a.deadline != bb.deadline || a.detail != bb.detail ||
                a.position != bb.position || a.unservable != bb.unservable) {
                bad = (int)i;
                if (f) {
                    fprintf(f, "    event %u: output differs at item %zu\n", i,
                            k);
                    fprintf(f, "    router:\n");
                    for (size_t j = 0; j < n1; j++) {
                        const struct router_event *x = router_out_get(r, j);
                        struct ref_event y = {0};
                        y.type = x->type;
                        if (x->contact != UINT32_MAX)
                            snprintf(y.contact, ROUTER_ID_MAX, "%s",
                                     router_contact_id(r, x->contact));
                        if (x->agent != UINT32_MAX)
                            snprintf(y.agent, ROUTER_ID_MAX, "%s",
                                     router_agent_id(r, x->agent));
                        y.queue = x->queue;
                        y.deadline = x->type == ROUTER_EV_OFFER ? x->deadline : 0;
                        y.detail = detail_of(x);
                        y.position = x->position;
                        y.unservable = x->unservable;
                        print_ref_event(f, &y);
                    }
                    fprintf(f, "    reference:\n");
                    for (size_t j = 0; j < n2; j++)
                        print_ref_event(f, ref_out_get(ref, j));
                }
            }
        }
        router_out_clear(r);
        ref_out_clear(ref);
    }
    if (!f) {
        uint64_t sl, wk;
        router_pool_sleeps(r, &sl, &wk);
        sleeps_seen += sl;
        wakes_seen += wk;
    }
    router_free(r);
    ref_free(ref);
    return bad;
}

/* Removes chunks of events while the sequence still fails (a simple
 * delta debugging); returns the new length. */
static unsigned shrink(const struct world *w, struct op *ops, unsigned n)
{
    struct op *tmp = malloc(sizeof(*ops) * n);
    int bad = replay(w, ops, n, NULL);
    if (bad >= 0)
        n = (unsigned)bad + 1;
    for (unsigned chunk = n / 2; chunk >= 1; chunk /= 2) {
        for (unsigned start = 0; start + chunk <= n;) {
            unsigned m = 0;
            for (unsigned i = 0; i < n; i++)
                if (i < start || i >= start + chunk)
                    tmp[m++] = ops[i];
            int b = replay(w, tmp, m, NULL);
            if (b >= 0) {
                n = (unsigned)b + 1;
                memcpy(ops, tmp, sizeof(*ops) * n);
            } else {
                start += chunk;
            }
        }
        if (chunk == 1)
            break;
    }
    free(tmp);
    return n;
}

static void print_world(FILE *f, const struct world *w)
{
    const struct router_config *c = &w->cfg;
    fprintf(f, "  config: pref_wait=%u max_no_answer=%u voice_blocks=%d\n",
            c->preferred_wait_ms, c->max_no_answer, c->voice_blocks_others);
    for (unsigned i = 0; i < c->nqueues; i++) {
        const struct router_queue_config *q = &w->q[i];
        fprintf(f, "  queue %s: strategy=%d mask=%u timeout=%u wrapup=%u "
                   "max_len=%u max_wait=%u overflow=%s req=",
                q->name, q->strategy, q->channel_mask, q->offer_timeout_ms,
                q->wrapup_ms, q->max_len, q->max_wait_ms, q->overflow);
        for (unsigned k = 0; k < q->nreq; k++)
            fprintf(f, "%s:%u ", q->req[k].skill, q->req[k].min_level);
        for (unsigned s = 0; s < q->nsteps; s++)
            fprintf(f, "step(%ums kind=%d %s %u %s) ", q->steps[s].after_ms,
                    q->steps[s].kind, q->steps[s].skill, q->steps[s].level,
                    q->steps[s].queue);
        fprintf(f, "\n");
    }
}

static void print_op(FILE *f, unsigned i, const struct op *o)
{
    fprintf(f, "  %3u t=%" PRIu64 "ms %s", i, o->now / 1000, op_names[o->kind]);
    switch (o->kind) {
    case OP_ARRIVE:
    case OP_RESTORE:
    case OP_RESTORE_ASSIGNED:
        fprintf(f, " %s queue=%d ch=%u prio=%u value=%u pref=%s", o->cid,
                o->queue, o->ch, o->prio, o->value, o->pref);
        if (o->queue < 0 || o->extra)
            for (unsigned k = 0; k < o->nsk; k++)
                fprintf(f, " %s%s:%u", o->extra ? "+" : "",
                        o->extra ? xskill_name[o->sk[k]] : skill_name[o->sk[k]],
                        o->lv[k]);
        if (o->kind != OP_ARRIVE)
            fprintf(f, " arrived=%" PRIu64 "ms agent=%s", o->arrived_at / 1000,
                    o->aid);
        break;
    case OP_LOGIN:
        fprintf(f, " %s cap=%u/%u/%u/%u served=%#x", o->aid, o->cap[0],
                o->cap[1], o->cap[2], o->cap[3], o->served);
        for (unsigned k = 0; k < o->nsk; k++)
            fprintf(f, " %s:%u", skill_name[o->sk[k]], o->lv[k]);
        break;
    case OP_TICK:
        break;
    case OP_TRANSFER_Q:
        fprintf(f, " %s to queue %d", o->cid, o->queue);
        break;
    default:
        fprintf(f, " contact=%s agent=%s", o->cid, o->aid);
        break;
    }
    fprintf(f, "\n");
}

static unsigned env_u(const char *name, unsigned def)
{
    const char *s = getenv(name);
    return s && *s ? (unsigned)strtoul(s, NULL, 10) : def;
}

static void test_diff(void **state)
{
    unsigned seeds = env_u("CCROUTE_DIFF_SEEDS", 3000);
    unsigned seed0 = env_u("CCROUTE_DIFF_SEED0", 1);
    unsigned nev = env_u("CCROUTE_DIFF_EVENTS", 250);
    struct op *ops = calloc(nev, sizeof(*ops));
    unsigned failures = 0;
    for (unsigned s = seed0; s < seed0 + seeds && failures < 3; s++) {
        struct world w;
        make_world(&w, s);
        make_ops(&w, ops, nev);
        if (replay(&w, ops, nev, NULL) < 0)
            continue;
        failures++;
        unsigned n = shrink(&w, ops, nev);
        fprintf(stderr, "seed %u fails; shortest sequence found (%u events):\n",
                s, n);
        print_world(stderr, &w);
        for (unsigned i = 0; i < n; i++)
            print_op(stderr, i, &ops[i]);
        replay(&w, ops, n, stderr);
    }
    free(ops);
    printf("%u seeds x %u events; return codes:", seeds, nev);
    for (unsigned i = 0; i < 11; i++)
        printf(" %d:%" PRIu64, -(int)i, rc_seen[i]);
    printf("\nevents:");
    for (unsigned i = 1; i < 9; i++)
        printf(" %s:%" PRIu64, ev_names[i], ev_seen[i]);
    printf(" (QUEUED unservable:%" PRIu64 ")\n", unservable_seen);
    printf("pools put to sleep %" PRIu64 ", woken %" PRIu64 "\n",
           sleeps_seen, wakes_seen);
    if (failures)
        fail_msg("%u seed(s) differ (see above)", failures);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
