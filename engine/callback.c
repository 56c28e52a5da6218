/* callback.c -- callbacks: waiting customers called back when their turn
 * comes; see callback.h.
 *
 * A customer waiting in a queue may ask to be called back instead of
 * holding: the switch that owns the contact sends CallbackRequest (the
 * number, and optionally a start time the customer chose) and hangs up.
 * The contact is not ended and not re-made: it stays the same router
 * contact with the same arrival time, so it keeps its place.
 *
 * States of a callback (one record per contact):
 *  - WAITING: the contact is in its queue as any other. When the router
 *    has offered it and an agent has ACCEPTED the Offer (the contact is
 *    ASSIGNED: the agent is reserved and committed), the next pacing turn
 *    (100 ms, outbound.c) sends the contact's owner connection -- the
 *    switch that asked -- a DialRequest (campaign empty, contact_id the
 *    contact, the callback's number): DIALING. The moment is the accept,
 *    not the offer, because an offer may still be rejected or time out
 *    and go to the next agent; the customer is dialed only once an agent
 *    is there to talk.
 *  - DIALING: DialResult HUMAN -> the callback is over, the agent has the
 *    customer (the contact is assigned already; the switch bridges the
 *    call). Any other outcome, or no result within the dial timeout plus
 *    10 s -> one attempt spent; below the queue's `callback_attempts`
 *    (default 3) the contact is taken out of the router (the agent is
 *    freed, no wrap-up) and HELD for the queue's `callback_retry`
 *    (default 5 min); at the last attempt it ends as abandoned.
 *  - HELD: out of the router until `next_at` (a retry's delay, or a
 *    scheduled callback's start time: a CallbackRequest with a start time
 *    in the future holds the contact at once). The router keeps no
 *    timers for it: this module puts it back (contact_back) with its
 *    original arrival time, so it takes its old place -- before every
 *    contact that arrived after it.
 *
 * A held contact is not a router contact: the router's CONTACT_GONE
 * (u.gone QUEUED) deletes its contact record from Redis, and this
 * module's record keeps the packed ContactArrived, the owner and
 * principal names and the arrival time to make it again. A waiting or
 * dialing callback's contact is in Redis as every contact is; its record
 * here holds the number, the attempts and the state.
 *
 * Store layout: member `c|<contact>` of the outbound set (score 3: after
 * campaigns, numbers and leads; before agents and contacts), data
 *   "state attempts next_at_ms arrived_wall_ms\n" number NUL owner NUL
 *   principal NUL [packed ContactArrived, HELD only]
 * A request is admitted first (store_outbound_reserve) and Acked after
 * the store barrier (OUTBOUND_DURABLE), like every outbound request.
 *
 * Recovery: WAITING records wait for their contact to come back with the
 * contacts; a callback whose contact did not come back is dropped at the
 * first turn. HELD records are put back when due. A DIALING record's dial
 * is lost with the engine that made it: it is dialed again (a new dial
 * id) once the owner is connected, to the agent its contact came back
 * assigned to.
 *
 * Follow-ups (docs/care.md): a ContactCompleted whose disposition
 * requires one makes a record here (callback_followup_add) that starts
 * HELD with the new contact's packed ContactArrived, its due time as both
 * next_at and arrival: the scheduled-callback path puts it in its queue
 * when due, and the router's preferred-agent wait does the "original
 * agent first". With a number it then goes on as any callback; without
 * one (a task) the record ends when an agent has the contact. A WAITING
 * follow-up still QUEUED at overdue_at is escalated once (escalate()):
 * out of the router and back at once with the higher priority -- the
 * router has no call to change a waiting contact's priority, and this
 * reuses the hold and put-back paths recovery already trusts -- and a
 * FollowupOverdue goes to the tenant's admin and monitor connections.
 * Its record carries the extra fields that make it a follow-up (see
 * docs/redis.md).
 *
 * Costs: the records are a fixed table (callbacks_max, allocated once);
 * a lookup by contact id and each pacing turn are O(callbacks). The
 * turn's router lookups are O(1) each.
 */
#include "callback.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "conn.h"
#include "log.h"
#include "reqerr.h"
#include "router.h"
#include "store.h"
#include "tenant-t.h"

#define EC(x) CCROUTE__V1__ERROR_CODE__ERROR_CODE_##x
#define BODY(x) CCROUTE__V1__ENVELOPE__BODY_##x
#define CB_MAX 4096
#define NUMBER_MAX 64
#define DIAL_TIMEOUT_MS 30000u
#define DIAL_GRACE_MS 10000u
#define HORIZON_MS (7ull * 24 * 3600 * 1000)   /* no max_contact_age */
#define DEF_ATTEMPTS 3u
#define DEF_RETRY_MS 300000u

enum cb_state { CB_WAITING = 0, CB_HELD = 1, CB_DIALING = 2 };

struct cbrec {
    char contact[ROUTER_ID_MAX];
    char number[NUMBER_MAX];
    uint8_t state, attempts;
    bool dial_sent;               /* DIALING: the DialRequest went out */
    uint64_t next_at_ms;          /* HELD: when it goes back; DIALING:
                                     when its dial times out */
    uint64_t dial;                /* DIALING */
    uint32_t dial_owner;          /* DIALING: the owner record dialed */
    int queue;                    /* its queue when it left the router */
    struct callback_saved sv;     /* HELD: what makes the contact again */
    /* a follow-up (docs/care.md): sv.arrived_wall_ms is its due time */
    bool followup, escalated;
    uint64_t overdue_at_ms;       /* 0: never overdue */
    uint32_t priority;            /* once overdue */
    char of[ROUTER_ID_MAX];       /* the contact it follows up */
    char agent[ROUTER_ID_MAX];    /* that contact's agent; "": none */
};

struct callback_set {
    struct tenant *s;
    struct callback_hooks h;
    struct cbrec *rec;
    uint32_t n;
    uint64_t dial_seq;
    uint64_t dials, connected;
    uint64_t fu_created, fu_overdue;
};

static struct cbrec *find(struct callback_set *cb, const char *contact)
{
    for (uint32_t i = 0; i < cb->n; i++)
        if (!strcmp(cb->rec[i].contact, contact))
            return &cb->rec[i];
    return NULL;
}

static struct cbrec *find_dial(struct callback_set *cb, uint64_t dial)
{
    for (uint32_t i = 0; i < cb->n; i++)
        if (cb->rec[i].state == CB_DIALING && cb->rec[i].dial == dial)
            return &cb->rec[i];
    return NULL;
}

static void member(char *buf, size_t len, const char *contact)
{
    snprintf(buf, len, "c|%s", contact);
}

/* The record's bytes in Redis (callback.c's essay, "Store layout"). */
static int rec_write(struct callback_set *cb, const struct cbrec *r)
{
    char m[ROUTER_ID_MAX + 4], head[160];
    size_t hl, nl = strlen(r->number) + 1, ol = strlen(r->sv.owner) + 1,
           pl = strlen(r->sv.principal) + 1,
           fl = r->followup ? strlen(r->of) + strlen(r->agent) + 2 : 0,
           kl = r->state == CB_HELD ? r->sv.len : 0, at;
    uint8_t *buf;
    int rc;
    hl = (size_t)snprintf(head, sizeof(head), "%d %u %" PRIu64 " %" PRIu64,
                          (int)r->state, (unsigned)r->attempts,
                          r->state == CB_HELD ? r->next_at_ms : 0,
                          r->sv.arrived_wall_ms);
    if (r->followup)
        hl += (size_t)snprintf(head + hl, sizeof(head) - hl, " %d %" PRIu64
                               " %u", r->escalated ? 2 : 1, r->overdue_at_ms,
                               (unsigned)r->priority);
    head[hl++] = '\n';
    if (!(buf = malloc(hl + nl + ol + pl + fl + kl)))
        return CCR_ENOMEM;
    memcpy(buf, head, hl);
    memcpy(buf + hl, r->number, nl);
    memcpy(buf + hl + nl, r->sv.owner, ol);
    memcpy(buf + hl + nl + ol, r->sv.principal, pl);
    at = hl + nl + ol + pl;
    if (fl) {
        memcpy(buf + at, r->of, strlen(r->of) + 1);
        memcpy(buf + at + strlen(r->of) + 1, r->agent, strlen(r->agent) + 1);
        at += fl;
    }
    if (kl)
        memcpy(buf + at, r->sv.packed, kl);
    member(m, sizeof(m), r->contact);
    rc = store_outbound_put(cb->s->store, m, 3, buf, at + kl);
    free(buf);
    return rc;
}

static void rec_drop(struct callback_set *cb, struct cbrec *r, bool store)
{
    char m[ROUTER_ID_MAX + 4];
    if (store) {
        member(m, sizeof(m), r->contact);
        if (store_outbound_del(cb->s->store, m) < 0)
            log_error("callback %s: its end could not be recorded (out of "
                      "memory)", r->contact);
    }
    free(r->sv.packed);
    *r = cb->rec[--cb->n];
    memset(&cb->rec[cb->n], 0, sizeof(cb->rec[cb->n]));
}

/* The callback rules of queue qi (a configured queue, or defaults). */
static void rules(const struct callback_set *cb, int qi, uint32_t *attempts,
                  uint32_t *retry_ms)
{
    const struct router_config *rc = &cb->s->cfg->router;
    *attempts = DEF_ATTEMPTS;
    *retry_ms = DEF_RETRY_MS;
    if (qi >= 0 && (unsigned)qi < rc->nqueues) {
        if (rc->queues[qi].callback_attempts)
            *attempts = rc->queues[qi].callback_attempts;
        if (rc->queues[qi].callback_retry_ms)
            *retry_ms = rc->queues[qi].callback_retry_ms;
    }
}

/* ---- requests ---- */

int callback_request(struct callback_set *cb, struct conn *c,
                     const Ccroute__V1__CallbackRequest *m, int *code,
                     char *msg, size_t len)
{
    struct router *r = cb->s->router;
    struct router_contact_info ci;
    struct cbrec *rec;
    uint32_t h;
    uint64_t now_ms = clock_turn_wall_ms(), arrived_ms, horizon;
    uint64_t max_age = cb->s->cfg->router.max_contact_age_ms;
    int rc;

    if (!m->number || !*m->number)
        return reqerr(code, msg, len, EC(MISSING_FIELD), "CallbackRequest."
                      "number is empty");
    if (strlen(m->number) >= NUMBER_MAX)
        return reqerr(code, msg, len, EC(INVALID_FIELD), "CallbackRequest."
                      "number is longer than %d bytes", NUMBER_MAX - 1);
    if (router_contact_find(r, m->contact_id, &h) < 0)
        return reqerr(code, msg, len, EC(UNKNOWN_CONTACT), "%s: %s",
                      m->contact_id, ccr_strerror(CCR_ENOCONTACT));
    if (find(cb, m->contact_id))
        return reqerr(code, msg, len, EC(CALLBACK_STATE), "contact \"%.64s\" "
                      "is a callback already", m->contact_id);
    router_contact_info(r, h, &ci);
    if (ci.state != ROUTER_CONTACT_QUEUED)
        return reqerr(code, msg, len, EC(CALLBACK_STATE), "contact \"%.64s\" "
                      "is %s, not waiting in a queue: only a waiting contact "
                      "can be called back", m->contact_id,
                      ci.state == ROUTER_CONTACT_OFFERED
                          ? "offered to an agent" : "with an agent");
    arrived_ms = clock_mono_to_wall_ms(ci.arrived_at);
    horizon = max_age ? arrived_ms + max_age : now_ms + HORIZON_MS;
    if (m->start_at_ms && m->start_at_ms < now_ms)
        return reqerr(code, msg, len, EC(CALLBACK_TIME), "CallbackRequest."
                      "start_at_ms %" PRIu64 " is in the past (now %" PRIu64
                      ")", m->start_at_ms, now_ms);
    if (m->start_at_ms && m->start_at_ms >= horizon)
        return reqerr(code, msg, len, EC(CALLBACK_TIME), "CallbackRequest."
                      "start_at_ms %" PRIu64 " is too far ahead: the contact "
                      "must be called back before %" PRIu64 " (%s)",
                      m->start_at_ms, horizon, max_age
                        ? "its arrival plus router.max_contact_age"
                        : "7 days from now");
    if (cb->n == CB_MAX)
        return reqerr(code, msg, len, EC(RESOURCE_EXHAUSTED), "at most %d "
                      "callbacks at once", CB_MAX);
    if ((rc = store_outbound_reserve(cb->s->store, 1, 8192)) < 0)
        return reqerr(code, msg, len, EC(STATE_UNAVAILABLE), "the callback "
                      "cannot be recorded now (%s); nothing was changed, "
                      "retry later", ccr_strerror(rc));
    rec = &cb->rec[cb->n];
    memset(rec, 0, sizeof(*rec));
    snprintf(rec->contact, sizeof(rec->contact), "%s", m->contact_id);
    snprintf(rec->number, sizeof(rec->number), "%s", m->number);
    rec->queue = ci.queue;
    rec->sv.arrived_wall_ms = arrived_ms;
    if (m->start_at_ms > now_ms) {
        if (cb->h.contact_hold(cb->h.arg, m->contact_id, false, &rec->sv,
                               code, msg, len) < 0)
            return -1;
        rec->state = CB_HELD;
        rec->next_at_ms = m->start_at_ms;
    } else {
        rec->state = CB_WAITING;
    }
    cb->n++;
    if (rec_write(cb, rec) < 0)
        return reqerr(code, msg, len, EC(STATE_UNAVAILABLE), "the callback "
                      "was taken but could not be recorded (out of memory)");
    log_info("callback: contact %s will be called back%s", rec->contact,
             rec->state == CB_HELD ? " at its scheduled time" : "");
    return CALLBACK_DURABLE;
}

/* ---- follow-ups (docs/care.md, "Follow-ups") ---- */

int callback_followup_check(struct callback_set *cb, const char *contact,
                            const char *number, int *code, char *msg,
                            size_t len)
{
    int rc;
    if (number && strlen(number) >= NUMBER_MAX)
        return reqerr(code, msg, len, EC(INVALID_FIELD), "ContactCompleted."
                      "followup_number is longer than %d bytes",
                      NUMBER_MAX - 1);
    if (find(cb, contact))
        return reqerr(code, msg, len, EC(CALLBACK_STATE), "follow-up "
                      "\"%.64s\" is pending already", contact);
    if (cb->n == CB_MAX)
        return reqerr(code, msg, len, EC(RESOURCE_EXHAUSTED), "at most %d "
                      "callbacks and follow-ups at once", CB_MAX);
    if ((rc = store_outbound_reserve(cb->s->store, 1, 8192)) < 0)
        return reqerr(code, msg, len, EC(STATE_UNAVAILABLE), "the follow-up "
                      "cannot be recorded now (%s); nothing was changed, "
                      "retry later", ccr_strerror(rc));
    return 0;
}

void callback_followup_add(struct callback_set *cb,
                           const struct callback_followup *f)
{
    struct cbrec *r = &cb->rec[cb->n++];
    memset(r, 0, sizeof(*r));
    snprintf(r->contact, sizeof(r->contact), "%s", f->contact);
    snprintf(r->number, sizeof(r->number), "%s", f->number ? f->number : "");
    snprintf(r->of, sizeof(r->of), "%s", f->of);
    snprintf(r->agent, sizeof(r->agent), "%s", f->agent ? f->agent : "");
    r->followup = true;
    r->overdue_at_ms = f->overdue_at_ms;
    r->priority = f->priority;
    r->queue = -1;
    r->sv = f->sv;
    /* held until due, then made in its queue with its due time as its
     * arrival: a follow-up due earlier goes first */
    r->state = CB_HELD;
    r->next_at_ms = f->sv.arrived_wall_ms;
    cb->fu_created++;
    if (rec_write(cb, r) < 0)
        log_error("follow-up %s: could not be recorded (out of memory)",
                  r->contact);
    log_info("follow-up %s of contact %s: due at %" PRIu64 " ms%s%s",
             r->contact, r->of, r->next_at_ms,
             r->agent[0] ? ", preferring agent " : "", r->agent);
}

/* Tells every admin and monitor connection of the tenant. */
static void overdue_event(struct callback_set *cb, const struct cbrec *r,
                          const char *queue)
{
    Ccroute__V1__Envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__FollowupOverdue ev = CCROUTE__V1__FOLLOWUP_OVERDUE__INIT;
    uint32_t cursor = 0;
    struct conn *c;
    ev.contact_id = (char *)r->contact;
    ev.followup_of = (char *)r->of;
    ev.agent_id = (char *)r->agent;
    ev.queue = (char *)(queue ? queue : "");
    ev.due_ms = r->sv.arrived_wall_ms;
    ev.priority = r->priority;
    env.body_case = BODY(FOLLOWUP_OVERDUE);
    env.followup_overdue = &ev;
    while ((c = conn_set_next(cb->s->conns, &cursor)))
        if (c->hello && c->tenant == cb->s->index &&
            (c->role == CCROUTE__V1__ROLE__ROLE_ADMIN ||
             c->role == CCROUTE__V1__ROLE__ROLE_MONITOR))
            conn_send(c, &env);
}

/* A follow-up still queued past its overdue time: its priority rises --
 * it leaves its queue and comes back at once with the new priority and
 * its due time as its arrival, so its place among equals is kept -- and
 * the supervisors hear of it. Once. */
static void escalate(struct callback_set *cb, struct cbrec *r,
                     const struct router_contact_info *ci)
{
    Ccroute__V1__ContactArrived *m;
    struct callback_saved sv;
    int code;
    char msg[256];
    uint64_t due = r->sv.arrived_wall_ms;

    if (ci->priority < r->priority) {
        if (cb->h.contact_hold(cb->h.arg, r->contact, false, &sv, &code, msg,
                               sizeof(msg)) < 0) {
            log_warn("follow-up %s: overdue, its priority cannot rise now: "
                     "%s; tried again", r->contact, msg);
            return;
        }
        m = ccroute__v1__contact_arrived__unpack(NULL, sv.len, sv.packed);
        if (m) {
            size_t n;
            uint8_t *p;
            m->priority = r->priority;
            n = ccroute__v1__contact_arrived__get_packed_size(m);
            if ((p = malloc(n ? n : 1))) {
                ccroute__v1__contact_arrived__pack(m, p);
                free(sv.packed);
                sv.packed = p;
                sv.len = n;
            }
            ccroute__v1__contact_arrived__free_unpacked(m, NULL);
        }
        sv.arrived_wall_ms = due;
        if (cb->h.contact_back(cb->h.arg, &sv, &code, msg, sizeof(msg)) < 0) {
            /* out of the router now: held, put back by the next turns */
            log_warn("follow-up %s: overdue, not back in its queue yet: %s",
                     r->contact, msg);
            r->sv = sv;
            r->state = CB_HELD;
            r->next_at_ms = clock_turn_wall_ms();
        } else {
            free(sv.packed);
        }
    }
    r->escalated = true;
    cb->fu_overdue++;
    log_warn("follow-up %s of contact %s: overdue (due at %" PRIu64 " ms), "
             "priority %u", r->contact, r->of, due, (unsigned)r->priority);
    overdue_event(cb, r, router_queue_name(cb->s->router, ci->queue));
    if (rec_write(cb, r) < 0)
        log_error("follow-up %s: its escalation could not be recorded (out "
                  "of memory)", r->contact);
}

/* An attempt is spent: held for the retry, or given up. */
static int attempt_spent(struct callback_set *cb, struct cbrec *r,
                         const char *why, int *code, char *msg, size_t len)
{
    uint32_t attempts, retry_ms;
    struct router_contact_info ci;
    uint32_t h;
    int qi = r->queue;

    if (router_contact_find(cb->s->router, r->contact, &h) == 0) {
        router_contact_info(cb->s->router, h, &ci);
        qi = ci.queue;
    }
    rules(cb, qi, &attempts, &retry_ms);
    r->attempts++;
    if (r->attempts >= attempts) {
        if (cb->h.contact_hold(cb->h.arg, r->contact, true, NULL, code, msg,
                               len) < 0)
            return -1;
        log_info("callback: contact %s %s; %u attempts spent: given up",
                 r->contact, why, (unsigned)r->attempts);
        rec_drop(cb, r, true);
        return 0;
    }
    free(r->sv.packed);
    r->sv.packed = NULL;
    if (cb->h.contact_hold(cb->h.arg, r->contact, false, &r->sv, code, msg,
                           len) < 0) {
        r->attempts--;
        return -1;
    }
    r->queue = qi;
    r->state = CB_HELD;
    r->dial_sent = false;
    r->next_at_ms = clock_turn_wall_ms() + retry_ms;
    log_info("callback: contact %s %s; attempt %u of %u, dialed again in "
             "%u ms", r->contact, why, (unsigned)r->attempts, attempts,
             retry_ms);
    if (rec_write(cb, r) < 0)
        log_error("callback %s: its retry could not be recorded (out of "
                  "memory)", r->contact);
    return 0;
}

int callback_result(struct callback_set *cb, struct conn *c,
                    const Ccroute__V1__DialResult *m, int *code, char *msg,
                    size_t len)
{
    struct cbrec *r = find_dial(cb, m->dial_id);
    if (!r || !r->dial_sent)
        return reqerr(code, msg, len, EC(UNKNOWN_DIAL), "dial %" PRIu64 " is "
                      "not ringing: never requested, or over", m->dial_id);
    if (r->dial_owner != c->owner)
        return reqerr(code, msg, len, EC(NOT_DIALER), "dial %" PRIu64 " was "
                      "sent to another client than this one", m->dial_id);
    if (store_outbound_reserve(cb->s->store, 1, 8192) < 0)
        return reqerr(code, msg, len, EC(STATE_UNAVAILABLE), "the result "
                      "cannot be recorded now; nothing was changed, retry");
    if (m->outcome == CCROUTE__V1__DIAL_OUTCOME__DIAL_OUTCOME_HUMAN) {
        cb->connected++;
        log_info("callback: contact %s answered; its agent has it",
                 r->contact);
        rec_drop(cb, r, true);
        return CALLBACK_DURABLE;
    }
    if (attempt_spent(cb, r, "not answered", code, msg, len) < 0)
        return -1;
    return CALLBACK_DURABLE;
}

/* ---- the turn ---- */

static void dial(struct callback_set *cb, struct cbrec *r)
{
    Ccroute__V1__Envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__DialRequest dr = CCROUTE__V1__DIAL_REQUEST__INIT;
    struct conn *c = cb->h.conn_of_owner(cb->h.arg, r->dial_owner);
    if (!c)
        return;                 /* the owner is away: the next turn */
    r->dial = CALLBACK_DIAL_BIT | ++cb->dial_seq;
    r->dial_sent = true;
    r->next_at_ms = clock_turn_wall_ms() + DIAL_TIMEOUT_MS + DIAL_GRACE_MS;
    dr.dial_id = r->dial;
    dr.number = r->number;
    dr.contact_id = r->contact;
    dr.dial_timeout_ms = DIAL_TIMEOUT_MS;
    env.body_case = BODY(DIAL_REQUEST);
    env.dial_request = &dr;
    conn_send(c, &env);
    cb->dials++;
}

void callback_pace(struct callback_set *cb)
{
    struct router *r = cb->s->router;
    uint64_t now_ms = clock_turn_wall_ms();
    int code;
    char msg[256];

    for (uint32_t i = 0; i < cb->n;) {
        struct cbrec *x = &cb->rec[i];
        uint32_t before = cb->n;
        struct router_contact_info ci = { 0 };
        uint32_t h;
        bool there = x->state != CB_HELD &&
                     router_contact_find(r, x->contact, &h) == 0;
        if (there)
            router_contact_info(r, h, &ci);
        if (x->state != CB_HELD &&
            (!there || ci.state == ROUTER_CONTACT_COMPLETED ||
             ci.state == ROUTER_CONTACT_ABANDONED)) {
            /* ended by its owner (or its owner's grace ran out) */
            log_info("callback: contact %s ended before it was called back",
                     x->contact);
            rec_drop(cb, x, true);
            continue;
        }
        switch (x->state) {
        case CB_WAITING:
            if (x->followup && !x->number[0] &&
                ci.state == ROUTER_CONTACT_ASSIGNED) {
                /* a task: an agent has it, it is an ordinary contact now */
                log_info("follow-up %s: assigned", x->contact);
                rec_drop(cb, x, true);
                continue;
            }
            if (x->followup && !x->escalated && x->overdue_at_ms &&
                now_ms >= x->overdue_at_ms &&
                ci.state == ROUTER_CONTACT_QUEUED) {
                escalate(cb, x, &ci);
                break;
            }
            if (ci.state == ROUTER_CONTACT_ASSIGNED) {
                x->state = CB_DIALING;
                x->dial_owner = ci.tag;
                x->dial_sent = false;
                x->queue = ci.queue;
                if (rec_write(cb, x) < 0)
                    log_error("callback %s: its dial could not be recorded "
                              "(out of memory)", x->contact);
                dial(cb, x);
            }
            break;
        case CB_DIALING:
            if (ci.state != ROUTER_CONTACT_ASSIGNED) {
                /* recovered without its agent: waits for one again */
                x->state = CB_WAITING;
                x->dial_sent = false;
            } else if (!x->dial_sent) {
                x->dial_owner = ci.tag;
                dial(cb, x);
            } else if (now_ms >= x->next_at_ms &&
                       attempt_spent(cb, x, "had no DialResult in time", &code,
                                     msg, sizeof(msg)) < 0) {
                log_warn("callback %s: %s; tried again", x->contact, msg);
            }
            break;
        case CB_HELD:
            if (now_ms < x->next_at_ms)
                break;
            if (cb->h.contact_back(cb->h.arg, &x->sv, &code, msg,
                                   sizeof(msg)) < 0) {
                if (code == EC(STATE_UNAVAILABLE)) {
                    log_warn("callback %s: cannot go back to its queue "
                             "now: %s; tried again", x->contact, msg);
                    break;
                }
                /* for good (its id taken by a new contact meanwhile, its
                 * queue gone from the configuration...): given up */
                log_error("callback %s: cannot go back to its queue: %s; "
                          "the callback is given up", x->contact, msg);
                rec_drop(cb, x, true);
                continue;
            }
            free(x->sv.packed);
            x->sv.packed = NULL;
            x->sv.len = 0;
            x->state = CB_WAITING;
            if (rec_write(cb, x) < 0)
                log_error("callback %s: its return could not be recorded "
                          "(out of memory)", x->contact);
            break;
        }
        /* a dropped record's place holds the last one, not yet seen */
        if (cb->n == before)
            i++;
    }
}

bool callback_busy(const struct callback_set *cb)
{
    return cb->n > 0;
}

void callback_followup_fig(const struct callback_set *cb,
                           struct callback_fu_fig *out)
{
    memset(out, 0, sizeof(*out));
    for (uint32_t i = 0; i < cb->n; i++) {
        if (!cb->rec[i].followup)
            continue;
        if (cb->rec[i].state == CB_HELD && !cb->rec[i].escalated)
            out->scheduled++;
        else
            out->waiting++;
    }
    out->created = cb->fu_created;
    out->overdue = cb->fu_overdue;
}

void callback_stats(const struct callback_set *cb, Ccroute__V1__Stats *st)
{
    for (uint32_t i = 0; i < cb->n; i++) {
        if (cb->rec[i].followup)
            continue;
        if (cb->rec[i].state == CB_HELD)
            st->callbacks_held++;
        else
            st->callbacks_waiting++;
    }
    st->callback_dials = cb->dials;
    st->callbacks_connected = cb->connected;
}

/* ---- recovery ---- */

void callback_load(struct callback_set *cb, const char *contact,
                   const uint8_t *d, size_t len)
{
    const uint8_t *nl = memchr(d, '\n', len), *p, *end = d + len;
    struct cbrec *r;
    int st;
    unsigned att;
    uint64_t next, arrived;
    const char *str[5];
    char head[160];
    int fu = 0, nstr = 3, got;
    unsigned prio = 0;
    uint64_t overdue = 0;

    if (!nl || cb->n == CB_MAX || strlen(contact) >= ROUTER_ID_MAX ||
        (size_t)(nl - d) >= sizeof(head))
        goto bad;
    /* a copy: the stored bytes are not NUL-terminated */
    memcpy(head, d, (size_t)(nl - d));
    head[nl - d] = '\0';
    got = sscanf(head, "%d %u %" SCNu64 " %" SCNu64 " %d %" SCNu64 " %u",
                 &st, &att, &next, &arrived, &fu, &overdue, &prio);
    if ((got != 4 && got != 7) || st < CB_WAITING || st > CB_DIALING ||
        (got == 7 && (fu < 1 || fu > 2)))
        goto bad;
    if (got == 7)
        nstr = 5;
    p = nl + 1;
    for (int k = 0; k < nstr; k++) {
        const uint8_t *z = memchr(p, '\0', (size_t)(end - p));
        if (!z)
            goto bad;
        str[k] = (const char *)p;
        p = z + 1;
    }
    if (strlen(str[0]) >= NUMBER_MAX || strlen(str[1]) >= 128 ||
        strlen(str[2]) >= 128 || (st == CB_HELD && p == end) ||
        (nstr == 5 && (strlen(str[3]) >= ROUTER_ID_MAX ||
                       strlen(str[4]) >= ROUTER_ID_MAX)))
        goto bad;
    r = &cb->rec[cb->n];
    memset(r, 0, sizeof(*r));
    snprintf(r->contact, sizeof(r->contact), "%s", contact);
    snprintf(r->number, sizeof(r->number), "%s", str[0]);
    snprintf(r->sv.owner, sizeof(r->sv.owner), "%s", str[1]);
    snprintf(r->sv.principal, sizeof(r->sv.principal), "%s", str[2]);
    r->state = (uint8_t)st;
    r->attempts = (uint8_t)att;
    r->next_at_ms = next;
    r->sv.arrived_wall_ms = arrived;
    r->queue = -1;
    if (nstr == 5) {
        r->followup = true;
        r->escalated = fu == 2;
        r->overdue_at_ms = overdue;
        r->priority = prio;
        snprintf(r->of, sizeof(r->of), "%s", str[3]);
        snprintf(r->agent, sizeof(r->agent), "%s", str[4]);
    }
    if (st == CB_HELD) {
        r->sv.len = (size_t)(end - p);
        if (!(r->sv.packed = malloc(r->sv.len)))
            goto bad;
        memcpy(r->sv.packed, p, r->sv.len);
    }
    /* a dial in flight was lost with the engine that made it: dialed
     * again once its owner is connected (callback_pace) */
    r->dial_sent = false;
    cb->n++;
    return;
bad:
    log_warn("recovery: callback record of contact %.64s does not decode; "
             "skipped", contact);
}

void callback_snapshot(struct callback_set *cb)
{
    unsigned missing = 0;
    for (uint32_t i = 0; i < cb->n; i++)
        if (rec_write(cb, &cb->rec[i]) < 0)
            missing++;
    if (missing)
        log_error("store: %u callbacks could not be written back (out of "
                  "memory)", missing);
}

/* ---- configuration reload (engine/reload.c) ---- */

unsigned callback_held_in(const struct callback_set *cb, const char *queue,
                          char *first, size_t len)
{
    unsigned n = 0;
    if (first && len)
        first[0] = 0;
    for (uint32_t i = 0; i < cb->n; i++) {
        const struct cbrec *r = &cb->rec[i];
        if (r->state != CB_HELD || !r->sv.packed)
            continue;
        Ccroute__V1__ContactArrived *m =
            ccroute__v1__contact_arrived__unpack(NULL, r->sv.len,
                                                 r->sv.packed);
        bool in = m && m->queue && !strcmp(m->queue, queue);
        ccroute__v1__contact_arrived__free_unpacked(m, NULL);
        if (in && !n++ && first && len)
            snprintf(first, len, "%s", r->contact);
    }
    return n;
}

void callback_queues_moved(struct callback_set *cb, const int *new_of_old,
                           unsigned nold)
{
    for (uint32_t i = 0; i < cb->n; i++) {
        struct cbrec *r = &cb->rec[i];
        if (r->queue >= 0)
            r->queue = (unsigned)r->queue < nold ? new_of_old[r->queue] : -1;
    }
}

/* ---- life cycle ---- */

struct callback_set *callback_new(struct tenant *s,
                                  const struct callback_hooks *hooks)
{
    struct callback_set *cb = calloc(1, sizeof(*cb));
    if (!cb)
        return NULL;
    cb->s = s;
    cb->h = *hooks;
    if (!(cb->rec = calloc(CB_MAX, sizeof(*cb->rec)))) {
        free(cb);
        return NULL;
    }
    return cb;
}

void callback_reset(struct callback_set *cb)
{
    for (uint32_t i = 0; i < cb->n; i++)
        free(cb->rec[i].sv.packed);
    memset(cb->rec, 0, (size_t)cb->n * sizeof(*cb->rec));
    cb->n = 0;
}

void callback_free(struct callback_set *cb)
{
    if (!cb)
        return;
    callback_reset(cb);
    free(cb->rec);
    free(cb);
}
