/* dispatch.c -- the request table and handlers, the grace period of
 * gone owners, the recovery hooks; see dispatch.h.
 *
 * The table: one entry per Envelope body case a client may send, holding
 * the handler, the roles allowed to send it and flags. dispatch_frame()
 * does everything the handlers have in common -- decode, Hello first,
 * role check, unknown case, the principal's request rate, the one reply
 * -- so a handler is just "validate fields, call the router, drain its
 * output".
 *
 * Replies: a handler returns REPLY_ACK (the common code sends the Ack),
 * REPLY_DONE (it answered, or a store barrier callback will), or -1 with an
 * ErrorCode and message in the request (the common code sends the Error).
 *
 * Owners (owner.h): every contact and agent is tagged in the router with
 * the owner record of the connection that created it. Hello attaches the
 * connection to a record (a new one, or with reattach the waiting one of
 * its name: O(1)); a close detaches it and starts the record's grace
 * period (O(1)); the grace timer expires records in deadline order and
 * abandons / logs out only what each one holds. Fan-out of router events
 * into messages is fanout.c (drain() below hands it the output list).
 *
 * Recovery: the load hooks re-create each stored contact and agent under
 * the owner record of its stored client name, made in its grace period,
 * so the client re-attaches them with Hello{reattach} after an engine
 * restart or failover as after a dropped connection.
 *
 * Memory: decoded requests, Stats replies (and the Offer attributes of
 * stored bytes that must be decoded) live in the server's arena, reset at
 * the end of each unit of work (frame, tick, grace expiry, recovery
 * call). The contact side table holds one malloc'd
 * packed ContactArrived per live contact: the bytes as the client sent
 * them when they are already what protobuf-c packs (arrived_bytes), else
 * the request packed again; the Offer copies its attributes from there
 * (fanout.c). Barrier records come from a free list.
 */
#include "dispatch.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "auth.h"
#include "care.h"
#include "carestats.h"
#include "clock.h"
#include "config.h"
#include "conn.h"
#include "encode.h"
#include "fanout.h"
#include "lathist.h"
#include "log.h"
#include "outbound.h"
#include "owner.h"
#include "router.h"
#include "tenant-t.h"
#include "store.h"
#include "validate.h"

#define EC(x) CCROUTE__V1__ERROR_CODE__ERROR_CODE_##x
#define BODY(x) CCROUTE__V1__ENVELOPE__BODY_##x
/* field numbers (ccroute.proto): Envelope.contact_arrived,
 * ContactArrived.attributes and ContactArrived.product */
#define ENV_CONTACT_ARRIVED 11u
#define CA_ATTRIBUTES 11u
#define CA_PRODUCT 6u

typedef Ccroute__V1__Envelope envelope_t;

enum { REPLY_ACK = 0, REPLY_DONE = 1 };

/* Role bits, 1 << Ccroute__V1__Role. */
#define R_SWITCH  (1u << CCROUTE__V1__ROLE__ROLE_SWITCH)
#define R_GATEWAY (1u << CCROUTE__V1__ROLE__ROLE_GATEWAY)
#define R_AGENT   (1u << CCROUTE__V1__ROLE__ROLE_AGENT)
#define R_DIALER  (1u << CCROUTE__V1__ROLE__ROLE_DIALER)
#define R_MONITOR (1u << CCROUTE__V1__ROLE__ROLE_MONITOR)
#define R_ADMIN   (1u << CCROUTE__V1__ROLE__ROLE_ADMIN)
#define R_CONTACTS (R_SWITCH | R_GATEWAY | R_DIALER)
#define R_AGENTS (R_SWITCH | R_GATEWAY | R_AGENT | R_DIALER)
#define R_ANY (R_CONTACTS | R_AGENTS | R_MONITOR | R_ADMIN)

#define DF_BEFORE_HELLO 1u    /* the one message allowed before Hello */
/* Changes durable state: with `durability: redis` its Ack waits until Redis
 * confirmed the writes (store barrier), so an acknowledged change survives
 * an engine crash. Handlers that need more than an Ack after the barrier
 * (ContactArrived, OfferAccepted) call ack_after_barrier() themselves. */
#define DF_DURABLE 2u

/* What a barrier callback needs; records come from a free list. */
struct barrier_rec {
    struct barrier_rec *next;
    struct tenant *srv;
    uint32_t conn_id;         /* an id, never a pointer: it may have gone */
    uint64_t request_id;
    uint64_t read_us;             /* the turn that read the request */
    struct fanout_assigned as;    /* send ContactAssigned first */
};

struct dispatch {
    struct tenant *srv;
    struct contact_side *contacts;    /* by router contact handle */
    uint32_t ncontacts;
    uint8_t *agent_live;              /* by router agent handle */
    struct agent_side *agents;        /* by router agent handle */
    bool load_ref;                    /* load_wall_us / load_mono_us set */
    uint64_t load_wall_us, load_mono_us;  /* one pair per recovery */
    uint32_t nagents, agent_hwm;
    struct owner_index owners;        /* owner records, quotas */
    struct fanout fan;                /* borrows the tables above */
    uv_timer_t grace_timer;
    bool grace_open;
    struct barrier_rec *free_recs;
    uint32_t *scratch;                /* handles collected at grace expiry */
    size_t nscratch, capscratch;
    bool loading;                     /* recovery: no store_record() */
    struct auth_gate gate;            /* refused credentials, answered late */
};

struct req {
    struct tenant *s;
    struct dispatch *d;
    struct conn *c;                   /* NULL in recovery hooks */
    const envelope_t *env;
    const uint8_t *raw;               /* the frame's payload, as it came */
    size_t rawlen;
    uint64_t id;
    uint64_t now;
    struct barrier_rec *rec;          /* taken by req_admit; the Ack's */
    int code;
    char msg[384];
};

typedef int (*handler_fn)(struct req *q);

struct dispatch_entry {
    const char *name;
    handler_fn fn;
    uint32_t roles;
    uint32_t flags;
};

static void grace_arm(struct dispatch *d);
static void grace_timer_cb(uv_timer_t *t);

/* ---- helpers ---- */

static int req_fail(struct req *q, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int req_fail(struct req *q, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q->msg, sizeof(q->msg), fmt, ap);
    va_end(ap);
    q->code = code;
    return -1;
}

static int router_code(int rc)
{
    switch (rc) {
    case ROUTER_EINVAL: return EC(INVALID_FIELD);
    case ROUTER_ENOQUEUE: return EC(UNKNOWN_QUEUE);
    case ROUTER_ENOAGENT: return EC(UNKNOWN_AGENT);
    case ROUTER_ENOCONTACT: return EC(UNKNOWN_CONTACT);
    case ROUTER_ENOSKILL: return EC(UNKNOWN_SKILL);
    case ROUTER_ESTATE: return EC(INVALID_STATE);
    case ROUTER_EFULL: return EC(QUEUE_FULL);
    case ROUTER_EEXIST: return EC(AGENT_EXISTS);
    case ROUTER_ENOMEM: return EC(RESOURCE_EXHAUSTED);
    }
    return EC(INTERNAL);
}

static int router_fail(struct req *q, int rc, const char *what)
{
    return req_fail(q, router_code(rc), "%s: %s", what, ccr_strerror(rc));
}

/* A refused ContactArrived, with the reason named where the router's code
 * alone would leave the client guessing: which skill nobody knows, which
 * channel the queue does not take. */
static int contact_fail(struct req *q, int rc,
                        const struct router_contact_spec *sp)
{
    struct router *r = q->s->router;
    if (rc == ROUTER_ENOSKILL) {
        for (unsigned i = 0; i < sp->nskills; i++)
            if (!router_skill_known(r, sp->skills[i].skill))
                return req_fail(q, router_code(rc), "%s: skill \"%s\" is "
                                "not known: no queue, agent or waiting "
                                "contact has it", sp->id,
                                sp->skills[i].skill);
    }
    if (rc == ROUTER_EINVAL && sp->queue && sp->queue[0]) {
        int qi = router_queue_find(r, sp->queue);
        if (qi >= 0 && !router_queue_takes(r, qi, sp->channel)) {
            const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
                &ccroute__v1__channel__descriptor, sp->channel + 1);
            return req_fail(q, router_code(rc), "%s: queue %s does not take "
                            "channel %s", sp->id, sp->queue,
                            v ? v->name : "?");
        }
    }
    return router_fail(q, rc, sp->id);
}

static int check_id(struct req *q, const char *v, const char *field)
{
    if (!v || !*v)
        return req_fail(q, EC(MISSING_FIELD), "%s is empty", field);
    if (strlen(v) >= ROUTER_ID_MAX)
        return req_fail(q, EC(INVALID_FIELD), "%s is longer than %d bytes",
                        field, ROUTER_ID_MAX - 1);
    return 0;
}

static const char *role_name(int role)
{
    switch (role) {
    case CCROUTE__V1__ROLE__ROLE_SWITCH: return "switch";
    case CCROUTE__V1__ROLE__ROLE_GATEWAY: return "gateway";
    case CCROUTE__V1__ROLE__ROLE_AGENT: return "agent";
    case CCROUTE__V1__ROLE__ROLE_DIALER: return "dialer";
    case CCROUTE__V1__ROLE__ROLE_MONITOR: return "monitor";
    case CCROUTE__V1__ROLE__ROLE_ADMIN: return "admin";
    }
    return "unspecified";
}

static const char *queue_name(struct tenant *s, int q)
{
    const char *n = q >= 0 ? router_queue_name(s->router, q) : NULL;
    return n ? n : "";
}

static int channel_to_router(int ch)
{
    return ch == 0 ? ROUTER_CH_VOICE : ch - 1;
}

static struct barrier_rec *rec_get(struct dispatch *d)
{
    struct barrier_rec *r = d->free_recs;
    if (r)
        d->free_recs = r->next;
    else if (!(r = malloc(sizeof(*r))))
        return NULL;
    memset(r, 0, offsetof(struct barrier_rec, as));
    r->as.assigned = false;
    r->as.contact[0] = r->as.agent[0] = r->as.queue[0] = '\0';
    r->srv = d->srv;
    return r;
}

static void rec_put(struct dispatch *d, struct barrier_rec *r)
{
    r->next = d->free_recs;
    d->free_recs = r;
}

static void side_clear(struct dispatch *d, uint32_t h)
{
    if (h < d->ncontacts) {
        free(d->contacts[h].packed);
        d->contacts[h].packed = NULL;
        d->contacts[h].len = 0;
    }
}

/* Contact h keeps the packed ContactArrived buf[0..len) (taken; h is a
 * valid slot) and where its attributes start, for the Offer. */
static void side_set(struct dispatch *d, uint32_t h, uint8_t *buf, size_t len,
                     int channel)
{
    struct contact_side *cs = &d->contacts[h];
    size_t off;
    side_clear(d, h);
    cs->packed = buf;
    cs->len = (uint32_t)len;
    cs->attr_off = encode_attr_offset(buf, len, CA_ATTRIBUTES, &off) == 0
                       ? (uint32_t)off : FANOUT_ATTR_DECODE;
    cs->channel = (uint8_t)channel;
}

/* The packed ContactArrived that the side table and Redis keep for the
 * request q (m its decoding, unknown fields stripped), malloc'd into
 * *buf / *len. The bytes as they came when they are exactly what packing
 * m gives (encode_canonical: no unknown field, nothing repeated or out of
 * order, strings checked by validate_request() already), which is what
 * every protobuf library sends; else m packed again. -1 out of memory. */
static int arrived_bytes(const struct req *q,
                         const Ccroute__V1__ContactArrived *m,
                         uint8_t **buf, size_t *len)
{
    const uint8_t *raw;
    size_t rawlen;
    if (q->raw && encode_field_once(q->raw, q->rawlen, ENV_CONTACT_ARRIVED,
                                    &raw, &rawlen) == 0 &&
        encode_canonical(&ccroute__v1__contact_arrived__descriptor, raw,
                         rawlen)) {
        if (!(*buf = malloc(rawlen ? rawlen : 1)))
            return -1;
        memcpy(*buf, raw, rawlen);
        *len = rawlen;
        return 0;
    }
    *len = ccroute__v1__contact_arrived__get_packed_size(m);
    if (!(*buf = malloc(*len ? *len : 1)))
        return -1;
    ccroute__v1__contact_arrived__pack(m, *buf);
    return 0;
}

/* Fans the router's output out (fanout.h) and forgets it; persists it
 * unless the state is being loaded from Redis. `requester` is the owner
 * record of the connection whose request caused it (or OWNER_NONE);
 * `defer` captures an ASSIGNED event for a barrier callback. Returns 0,
 * or store_record()'s error (the messages went out all the same). */
static int drain(struct tenant *s, uint64_t now, uint32_t requester,
                 struct fanout_assigned *defer)
{
    struct dispatch *d = s->dispatch;
    return fanout_drain(&d->fan, now, requester, defer, !d->loading);
}

/* Drains the output of a request's router call. After req_admit() the
 * record cannot fail unless the call made more than STORE_RESERVE_EVENTS
 * events and memory ran out (store.c, store_reserve): the router then has
 * a change that Redis will not hear of. It is said loudly, and the request
 * is answered STATE_UNAVAILABLE, not Ack: nothing is acknowledged that was
 * not recorded. */
static int drain_req(struct req *q, struct fanout_assigned *defer)
{
    int rc = drain(q->s, q->now, q->c ? q->c->owner : OWNER_NONE, defer);
    if (rc < 0) {
        log_error("request %llu: the change was made but cannot be "
                  "recorded (%s); Redis will not hear of it",
                  (unsigned long long)q->id, ccr_strerror(rc));
        return req_fail(q, EC(STATE_UNAVAILABLE), "the change could not be "
                        "recorded: %s", ccr_strerror(rc));
    }
    return 0;
}

/* The name of principal `pi` as stored with what its clients own (""
 * when the engine runs open or the principal is not known). */
static const char *principal_name(const struct tenant *s, int pi)
{
    return pi >= 0 && (unsigned)pi < s->cfg->auth.nprincipals
               ? s->cfg->auth.principals[pi].name : "";
}

/* What store_contact_arrived / store_agent_login add besides the packed
 * request: the client name and the principal name, each with its NUL. */
static size_t owner_bytes(const struct req *q)
{
    return strlen(q->c->name) + 1 +
           strlen(principal_name(q->s, q->c->principal)) + 1;
}

/* Every request that changes the router calls this first, before the
 * router: it takes the barrier record for the Ack and asks the store to
 * admit the change and make room for its writes (store_reserve: term,
 * pending bound, memory). A refusal leaves nothing behind -- the router
 * was not touched -- so the client may simply retry. `data` is the size
 * of what store_contact_arrived / store_agent_login will add (0 for
 * other requests). */
static int req_admit(struct req *q, enum store_admit kind, size_t data)
{
    int rc;
    if (!q->rec && !(q->rec = rec_get(q->d)))
        return req_fail(q, EC(INTERNAL), "out of memory");
    rc = store_reserve(q->s->store, kind, data);
    if (rc < 0)
        return req_fail(q, EC(STATE_UNAVAILABLE), "the change cannot be "
                        "recorded now (%s%s%s); nothing was changed, retry "
                        "later", ccr_strerror(rc),
                        *store_why(q->s->store) ? ": " : "",
                        store_why(q->s->store));
    return 0;
}

/* ---- barrier ---- */

static void barrier_cb(void *arg, int status)
{
    struct barrier_rec *rec = arg;
    struct tenant *s = rec->srv;
    struct conn *c;

    if (rec->as.assigned && status == 0)
        fanout_send_assigned(&s->dispatch->fan, &rec->as);
    c = conn_lookup(s->conns, rec->conn_id);
    if (c) {
        if (status == 0) {
            uint64_t t = clock_mono_us();
            conn_send_ack(c, rec->request_id);
            lathist_observe(&s->set->ack_latency,
                            t > rec->read_us ? t - rec->read_us : 0);
        }
        else
            conn_send_error(c, rec->request_id, EC(STATE_UNAVAILABLE),
                            "the change could not be made durable: %s%s%s; "
                            "it is kept in memory, retry the request to "
                            "learn when it is durable", ccr_strerror(status),
                            *store_why(s->store) ? ": " : "",
                            store_why(s->store));
    }
    rec_put(s->dispatch, rec);
}

/* Queues the request's barrier record (taken by req_admit) behind a
 * store barrier: the Ack goes out once every write so far is confirmed.
 * After req_admit() store_barrier() cannot fail; the check stays for a
 * handler that forgot to admit (then nothing promises durability). */
static int ack_after_barrier(struct req *q)
{
    struct barrier_rec *rec = q->rec;
    int rc;
    if (!rec)
        return req_fail(q, EC(INTERNAL), "no admission before the change");
    rec->conn_id = q->c->id;
    rec->request_id = q->id;
    rec->read_us = q->now;
    rc = store_barrier(q->s->store, barrier_cb, rec);
    if (rc < 0) {
        log_error("request %llu: barrier refused after admission: %s",
                  (unsigned long long)q->id, ccr_strerror(rc));
        return req_fail(q, EC(STATE_UNAVAILABLE), "durable state cannot be "
                        "written now: %s", ccr_strerror(rc));
    }
    q->rec = NULL;
    return REPLY_DONE;
}

/* ---- spec builders (shared by handlers and recovery) ---- */

static int add_skill(struct req *q, struct router_contact_spec *sp,
                     const char *prefix, const char *name, uint32_t level,
                     const char *field)
{
    struct router_skill_req *sk;
    int n;
    if (sp->nskills == ROUTER_MAX_REQ)
        return req_fail(q, EC(INVALID_FIELD), "more than %d skills required",
                        ROUTER_MAX_REQ);
    if (level > ROUTER_LEVEL_MAX)
        return req_fail(q, EC(INVALID_FIELD), "%s: level %u is above %d",
                        field, level, ROUTER_LEVEL_MAX);
    sk = &sp->skills[sp->nskills];
    n = snprintf(sk->skill, sizeof(sk->skill), "%s%s", prefix, name);
    if (n < 0 || (size_t)n >= sizeof(sk->skill))
        return req_fail(q, EC(INVALID_FIELD), "%s is too long", field);
    sk->min_level = (uint8_t)(level ? level : 1);
    sp->nskills++;
    return 0;
}

static int build_contact_spec(struct req *q,
                              const Ccroute__V1__ContactArrived *m,
                              struct router_contact_spec *sp)
{
    memset(sp, 0, sizeof(*sp));
    if (check_id(q, m->contact_id, "ContactArrived.contact_id") < 0)
        return -1;
    sp->id = m->contact_id;
    if ((!m->queue || !*m->queue) && m->n_skills == 0 &&
        (!m->language || !*m->language) && (!m->product || !*m->product))
        return req_fail(q, EC(MISSING_FIELD), "ContactArrived needs a queue "
                        "or skills");
    if (m->queue && *m->queue) {
        if (strlen(m->queue) >= ROUTER_ID_MAX)
            return req_fail(q, EC(INVALID_FIELD), "ContactArrived.queue is "
                            "too long");
        sp->queue = m->queue;
    }
    if ((unsigned)m->channel > CCROUTE__V1__CHANNEL__CHANNEL_SOCIAL)
        return req_fail(q, EC(INVALID_FIELD), "ContactArrived.channel %d is "
                        "not a channel", (int)m->channel);
    sp->channel = (enum router_channel)channel_to_router((int)m->channel);
    if (m->priority > 100)
        return req_fail(q, EC(INVALID_FIELD), "ContactArrived.priority %u is "
                        "above 100", m->priority);
    sp->priority = m->priority;
    if (m->customer_value > 1000)
        return req_fail(q, EC(INVALID_FIELD), "ContactArrived.customer_value "
                        "%u is above 1000", m->customer_value);
    sp->value = m->customer_value;
    for (size_t i = 0; i < m->n_skills; i++) {
        const Ccroute__V1__SkillRequirement *sr = m->skills[i];
        if (!sr->skill || !*sr->skill)
            return req_fail(q, EC(MISSING_FIELD), "ContactArrived.skills[%zu]"
                            ".skill is empty", i);
        if (add_skill(q, sp, "", sr->skill, sr->min_level,
                      "ContactArrived.skills") < 0)
            return -1;
    }
    if (m->language && *m->language &&
        add_skill(q, sp, "lang:", m->language, 1, "ContactArrived.language") < 0)
        return -1;
    if (m->product && *m->product &&
        add_skill(q, sp, "product:", m->product, 1, "ContactArrived.product") < 0)
        return -1;
    if (m->preferred_agent && *m->preferred_agent) {
        if (strlen(m->preferred_agent) >= ROUTER_ID_MAX)
            return req_fail(q, EC(INVALID_FIELD), "ContactArrived."
                            "preferred_agent is too long");
        sp->preferred_agent = m->preferred_agent;
    }
    /* routine-only agents are not offered it (docs/care.md) */
    sp->difficult = care_difficult_arrival(q->s->care, m->complaint,
                                           m->sentiment);
    return 0;
}

static int build_agent_spec(struct req *q, const Ccroute__V1__AgentLogin *m,
                            struct router_agent_spec *sp)
{
    memset(sp, 0, sizeof(*sp));
    if (check_id(q, m->agent_id, "AgentLogin.agent_id") < 0)
        return -1;
    sp->id = m->agent_id;
    if (m->n_skills > ROUTER_MAX_SKILLS)
        return req_fail(q, EC(INVALID_FIELD), "AgentLogin: more than %d "
                        "skills", ROUTER_MAX_SKILLS);
    for (size_t i = 0; i < m->n_skills; i++) {
        const Ccroute__V1__AgentSkill *as = m->skills[i];
        if (!as->skill || !*as->skill)
            return req_fail(q, EC(MISSING_FIELD), "AgentLogin.skills[%zu]."
                            "skill is empty", i);
        if (strlen(as->skill) >= ROUTER_ID_MAX)
            return req_fail(q, EC(INVALID_FIELD), "AgentLogin.skills[%zu]."
                            "skill is too long", i);
        if (as->level > ROUTER_LEVEL_MAX)
            return req_fail(q, EC(INVALID_FIELD), "AgentLogin.skills[%zu]."
                            "level %u is above %d", i, as->level,
                            ROUTER_LEVEL_MAX);
        strcpy(sp->skills[i].skill, as->skill);
        sp->skills[i].level = (uint8_t)(as->level ? as->level : 1);
    }
    sp->nskills = (unsigned)m->n_skills;
    for (size_t i = 0; i < m->n_capacity; i++) {
        const Ccroute__V1__ChannelCapacity *cc = m->capacity[i];
        if (cc->channel < CCROUTE__V1__CHANNEL__CHANNEL_VOICE ||
            cc->channel > CCROUTE__V1__CHANNEL__CHANNEL_SOCIAL)
            return req_fail(q, EC(INVALID_FIELD), "AgentLogin.capacity[%zu]"
                            ".channel %d is not a channel", i,
                            (int)cc->channel);
        if (cc->capacity > 255)
            return req_fail(q, EC(INVALID_FIELD), "AgentLogin.capacity[%zu]"
                            ".capacity %u is above 255", i, cc->capacity);
        sp->capacity[channel_to_router((int)cc->channel)] =
            (uint8_t)cc->capacity;
    }
    for (size_t i = 0; i < m->n_queues; i++)
        if (check_id(q, m->queues[i], "AgentLogin.queues[]") < 0)
            return -1;
    sp->queues = (const char *const *)m->queues;
    sp->nqueues = (unsigned)m->n_queues;
    return 0;
}

/* ---- ownership (owner.h) ---- */

/* -1 with the answer of an unknown contact (the router's own words) when
 * the contact is another principal's; 0 otherwise. */
static int check_contact(struct req *q, const char *cid)
{
    if (owner_contact_check(&q->d->owners, q->s->router, q->c, cid) < 0)
        return router_fail(q, ROUTER_ENOCONTACT, cid);
    return 0;
}

/* -1 with FORBIDDEN when the agent is outside the client's scope. */
static int check_agent(struct req *q, const char *aid)
{
    if (!auth_agent_allowed(&q->s->cfg->auth, q->c->principal, aid))
        return req_fail(q, EC(FORBIDDEN), "agent \"%.64s\" is outside this "
                        "client's scope", aid);
    return 0;
}

/* ---- tenants ---- */

/* The tenant of the set named `name`, or NULL. O(tenants), at Hello only. */
static struct tenant *tenant_named(const struct tenant_set *set,
                                   const char *name)
{
    for (unsigned i = 0; i < set->n; i++)
        if (!strcmp(set->t[i]->name, name))
            return set->t[i];
    return NULL;
}

/* Binds the Hello's request to its tenant (q->s, q->d): the principal's
 * tenant when it has one (Hello.tenant may only repeat it), else
 * Hello.tenant, else the default tenant (the set's first). -1 with
 * FORBIDDEN (a principal of a tenant this engine does not know, or asking
 * for another tenant than its own) or UNKNOWN_TENANT. */
static int hello_tenant(struct req *q, const Ccroute__V1__Hello *m,
                        int principal)
{
    const struct tenant_set *set = q->s->set;
    const char *want = m->tenant && *m->tenant ? m->tenant : NULL;
    const char *own = principal >= 0
                          ? q->s->cfg->auth.principals[principal].tenant : "";
    struct tenant *t;

    if (*own) {
        if (want && strcmp(want, own))
            return req_fail(q, EC(FORBIDDEN), "Hello refused: the principal "
                            "belongs to another tenant (%.64s, not %.64s)",
                            own, want);
        if (!(t = tenant_named(set, own)))
            return req_fail(q, EC(FORBIDDEN), "Hello refused: the principal "
                            "belongs to another tenant (%.64s), which this "
                            "engine does not serve", own);
    } else if (want) {
        if (!(t = tenant_named(set, want)))
            return req_fail(q, EC(UNKNOWN_TENANT), "tenant \"%.64s\" is not "
                            "served by this engine (it serves %s%s%s)", want,
                            set->t[0]->name, set->n > 1 ? " and " : "",
                            set->n > 2 ? "others" : set->n > 1
                                ? set->t[1]->name : "");
    } else {
        t = set->t[0];
    }
    q->s = t;
    q->d = t->dispatch;
    return 0;
}

/* ---- handlers ---- */

static int h_hello(struct req *q)
{
    const Ccroute__V1__Hello *m = q->env->hello;
    struct dispatch *d = q->d;
    struct conn *c = q->c, *old = NULL;
    const struct owner_rec *o;
    const char *why = "";
    int principal, rc;
    unsigned n = 0, resent = 0;

    if (m->protocol_version != CCROUTE__V1__PROTOCOL_VERSION__PROTOCOL_VERSION_1)
        return req_fail(q, EC(VERSION), "protocol version %d is not "
                        "supported (this engine speaks version 1)",
                        (int)m->protocol_version);
    if (check_id(q, m->client_name, "Hello.client_name") < 0)
        return -1;
    if (m->role < CCROUTE__V1__ROLE__ROLE_SWITCH ||
        m->role > CCROUTE__V1__ROLE__ROLE_ADMIN)
        return req_fail(q, EC(INVALID_FIELD), "Hello.role %d is not a role",
                        (int)m->role);
    /* Who it is, before anything else is said (auth.h): a refused
     * credential is answered late by the gate, which closes the
     * connection after a few. */
    rc = auth_hello(&q->s->cfg->auth, NULL, m->credential,
                    conn_peer_cert_sha256(c), m->client_name, (int)m->role,
                    &principal, &why);
    if (rc == -EACCES) {
        auth_gate_refuse(&d->gate, c, q->id, ++c->auth_failures);
        return REPLY_DONE;
    }
    if (rc < 0)
        return req_fail(q, EC(FORBIDDEN), "Hello refused: %s", why);
    /* The connection's tenant, fixed for its life: everything after
     * Hello acts in this tenant's router, store and owner index. */
    if (hello_tenant(q, m, principal) < 0)
        return -1;
    d = q->d;
    /* NOT_OWNER only when another engine holds the tenant; while this
     * engine starts, loads, or its own lease is unconfirmed the answer is
     * a retryable STATE_UNAVAILABLE saying why. A SUSPENDED engine keeps
     * its term: it takes the Hello (re-attach included) and refuses
     * changes until the lease is confirmed. */
    if (q->s->role == STORE_ROLE_STANDBY &&
        *store_owner_addr(q->s->store))
        return req_fail(q, EC(NOT_OWNER), q->s->set->n > 1
                        ? "tenant %s: this engine does not own it; the "
                          "owner is at %s"
                        : "this engine is a standby; the owner is at %.0s%s",
                        q->s->name, store_owner_addr(q->s->store));
    if (q->s->role != STORE_ROLE_OWNER &&
        q->s->role != STORE_ROLE_SUSPENDED)
        return req_fail(q, EC(STATE_UNAVAILABLE), "not serving yet: %s; "
                        "retry", store_why(q->s->store));
    /* Re-attaching takes over what the name held: only for the principal
     * that held it, also after a restart (Redis stores the principal with
     * the client name). Only for data stored without a principal is it
     * unknown; the name being in this principal's scope then vouches for
     * it. */
    o = owner_get(&d->owners, owner_find(&d->owners, m->client_name));
    if (m->reattach && o && o->conn == CONN_ID_NONE &&
        o->principal != principal && o->principal != AUTH_PRINCIPAL_UNKNOWN)
        return req_fail(q, EC(FORBIDDEN), "Hello refused: client "
                        "name \"%.64s\" was held by another principal",
                        m->client_name);
    /* One live connection per client name: the same principal's new
     * connection replaces the old one (owner.h). */
    if (o && o->conn != CONN_ID_NONE)
        old = conn_lookup(q->s->conns, o->conn);
    if (old && old != c && old->principal != principal)
        return req_fail(q, EC(FORBIDDEN), "Hello refused: client name "
                        "\"%.64s\" is in use by another principal",
                        m->client_name);
    if (old && old != c)
        conn_close(old, "replaced by a new connection with its client name");
    snprintf(c->name, sizeof(c->name), "%s", m->client_name);
    c->principal = principal;
    /* the owner record: the waiting one of the name with reattach (O(1):
     * it now points at c), else a new one */
    c->owner = owner_attach(&d->owners, c, m->reattach, &n);
    if (c->owner == OWNER_NONE)
        return req_fail(q, EC(INTERNAL), "out of memory");
    c->hello = true;
    c->role = (int)m->role;
    c->tenant = q->s->index;
    if (m->reattach && n > 0) {
        grace_arm(d);
        resent = fanout_resend_offers(&d->fan, c->owner);
        if (resent)
            log_client("conn #%08x: %u pending offers sent again after "
                       "re-attach", c->id, resent);
    }
    const char *pname = principal >= 0
                            ? q->s->cfg->auth.principals[principal].name
                            : "open";
    if (m->reattach)
        log_client("conn #%08x %s: hello from %s, role %s; re-attached %u "
                   "contacts and agents (principal %s%s%s)", c->id, c->peer,
                   c->name, role_name(c->role), n, pname,
                   q->s->set->n > 1 ? ", tenant " : "",
                   q->s->set->n > 1 ? q->s->name : "");
    else
        log_client("conn #%08x %s: hello from %s, role %s (principal %s%s%s)",
                   c->id, c->peer, c->name, role_name(c->role), pname,
                   q->s->set->n > 1 ? ", tenant " : "",
                   q->s->set->n > 1 ? q->s->name : "");
    return REPLY_ACK;
}

/* ---- care (docs/care.md) ---- */

/* The configured queue named `name`, or -1 (none, or a skills-only
 * contact). */
static int care_queue(const struct tenant *s, const char *name)
{
    int qi = name && *name ? router_queue_find(s->router, name) : -1;
    return qi < router_queue_count(s->router) ? qi : -1;
}

/* Tells the connection that owns agent h of a care pause that began
 * (until_ms, wall clock) or ended (until_ms 0). */
static void care_tell(struct tenant *s, uint32_t h, const char *reason,
                      uint64_t until_ms)
{
    envelope_t env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__CarePause p = CCROUTE__V1__CARE_PAUSE__INIT;
    struct conn *c = conn_lookup(s->conns,
                                 owner_conn(&s->dispatch->owners,
                                            router_agent_tag(s->router, h)));
    if (!c)
        return;
    p.agent_id = (char *)router_agent_id(s->router, h);
    p.reason = (char *)reason;
    p.until_ms = until_ms;
    p.ended = until_ms == 0;
    env.body_case = BODY(CARE_PAUSE);
    env.care_pause = &p;
    conn_send(c, &env);
}

/* A rule asked for a pause of agent h: AWAY with the rule's reason (the
 * store records it with the completion's batch), its desk told. */
static void care_pause_begin(struct tenant *s, uint64_t now, uint32_t h,
                             enum care_action act, uint32_t pause_ms)
{
    const char *reason = act == CARE_RECOVERY ? CARE_REASON_RECOVERY
                                              : CARE_REASON_WRAPUP;
    const char *id = router_agent_id(s->router, h);
    if (!id || router_agent_set_state(s->router, now, id, ROUTER_AGENT_AWAY,
                                      reason) < 0) {
        care_pause_cancel(s->care, h);
        return;
    }
    log_info("care: agent %s away (%s) for %u ms", id, reason, pause_ms);
    care_tell(s, h, reason, clock_turn_wall_ms() + pause_ms);
}

/* Ends the pauses due at now: an agent still away for the same reason
 * becomes available (one who changed state meanwhile is left alone). */
static void care_tick(struct tenant *s, uint64_t now)
{
    const char *reason;
    uint32_t h;
    while ((h = care_routine_pop(s->care, now)) != UINT32_MAX) {
        const char *id = router_agent_id(s->router, h);
        if (id && router_agent_set_routine(s->router, now, id, false) == 0)
            log_info("care: agent %s takes difficult contacts again", id);
    }
    while ((h = care_pause_pop(s->care, now, &reason)) != UINT32_MAX) {
        struct router_agent_info in;
        const char *id = router_agent_id(s->router, h);
        if (!id)
            continue;
        router_agent_info(s->router, h, now, &in);
        if (in.state != ROUTER_AGENT_STATE_AWAY || strcmp(in.reason, reason))
            continue;
        if (router_agent_set_state(s->router, now, id,
                                   ROUTER_AGENT_AVAILABLE, NULL) == 0) {
            log_info("care: agent %s back from %s", id, reason);
            care_tell(s, h, reason, 0);
        }
    }
}

static int h_contact_arrived(struct req *q)
{
    const Ccroute__V1__ContactArrived *m = q->env->contact_arrived;
    struct tenant *s = q->s;
    struct dispatch *d = q->d;
    struct router_contact_spec sp;
    uint32_t h = UINT32_MAX;
    uint8_t *buf;
    size_t len;
    int rc;

    if (build_contact_spec(q, m, &sp) < 0)
        return -1;
    if ((m->campaign && *m->campaign) || (m->lead_id && *m->lead_id) ||
        m->dial_id || m->preview)
        return req_fail(q, EC(INVALID_FIELD), "ContactArrived.campaign, "
                        "lead_id, dial_id and preview are set by the engine "
                        "only");
    if (m->sentiment < -100 || m->sentiment > 100)
        return req_fail(q, EC(INVALID_FIELD), "ContactArrived.sentiment %d "
                        "is not in -100..100", (int)m->sentiment);
    /* the ids of answered outbound calls (outbound.c) are predictable: a
     * client that took the next one would have the engine refuse the
     * call a person just answered */
    if ((!strncmp(sp.id, "ob-", 3) || !strncmp(sp.id, "fu-", 3)) &&
        router_contact_find(s->router, sp.id, &h) < 0)
        return req_fail(q, EC(INVALID_FIELD), "ContactArrived.contact_id "
                        "\"%.64s\": ids beginning \"ob-\" and \"fu-\" are "
                        "the engine's (answered outbound calls, follow-ups)",
                        sp.id);
    /* another principal's id: say it is taken, nothing more (no status,
     * no queue; docs/security.md) */
    if (owner_contact_check(&d->owners, s->router, q->c, sp.id) < 0)
        return req_fail(q, EC(INVALID_FIELD), "ContactArrived.contact_id "
                        "\"%.64s\" is taken; choose another id", sp.id);
    /* the principal's quota of live contacts (a re-sent id is not new) */
    if (router_contact_find(s->router, sp.id, &h) < 0 &&
        owner_quota_contact(&d->owners, q->c->principal) < 0)
        return req_fail(q, EC(RESOURCE_EXHAUSTED), "quota: principal \"%s\" "
                        "holds its maximum of %u live contacts",
                        s->cfg->auth.principals[q->c->principal].name,
                        s->cfg->auth.principals[q->c->principal].quota_contacts);
    /* Drain (h_drain): no new contact; a re-sent one is still answered */
    if (s->set->draining && router_contact_find(s->router, sp.id, &h) < 0)
        return req_fail(q, EC(STATE_UNAVAILABLE), "draining: this engine "
                        "takes no new contacts before a restart; nothing "
                        "was changed, retry (the tenant's next owner takes "
                        "it)");
    /* Everything the new contact needs is taken before the router sees
     * it: the packed request (side table and Redis) and the store's
     * admission. A refusal here leaves no trace. */
    if (arrived_bytes(q, m, &buf, &len) < 0)
        return req_fail(q, EC(INTERNAL), "out of memory");
    if (req_admit(q, STORE_ADMIT_NEW, len + owner_bytes(q)) < 0) {
        free(buf);
        return -1;
    }
    rc = router_contact_arrive(s->router, q->now, &sp, q->c->owner, &h);
    if (rc == ROUTER_EDUPLICATE) {
        struct router_contact_info info;
        free(buf);
        router_contact_info(s->router, h, &info);
        fanout_send_contact_queued(&d->fan, q->c, q->id, sp.id,
                                   queue_name(s, info.queue), (int)info.state);
        if (drain_req(q, NULL) < 0)
            return -1;
        return ack_after_barrier(q);
    }
    if (rc < 0) {
        free(buf);
        if (drain_req(q, NULL) < 0)
            return -1;
        return contact_fail(q, rc, &sp);
    }
    owner_contact_link(&d->owners, h, q->c->owner);
    care_contact_arrived(s->care, h, care_queue(s, sp.queue),
                         care_difficult_arrival(s->care, m->complaint,
                                                m->sentiment));
    care_contact_product(s->care, h, m->product);
    /* cannot fail after req_admit (room for the request and its owner) */
    rc = store_contact_arrived(s->store, sp.id, buf, len,
                               clock_turn_wall_ms(), q->c->name,
                               principal_name(s, q->c->principal));
    if (h < d->ncontacts) {
        side_set(d, h, buf, len, (int)m->channel);
    } else {
        free(buf);
    }
    if (drain_req(q, NULL) < 0)
        return -1;
    if (rc < 0) {
        log_error("contact %s: admitted but not recorded: %s", sp.id,
                  ccr_strerror(rc));
        return req_fail(q, EC(STATE_UNAVAILABLE), "the contact could not be "
                        "recorded: %s", ccr_strerror(rc));
    }
    return ack_after_barrier(q);
}

static int h_contact_abandoned(struct req *q)
{
    const char *id = q->env->contact_abandoned->contact_id;
    int rc;
    if (check_id(q, id, "ContactAbandoned.contact_id") < 0 ||
        check_contact(q, id) < 0 || req_admit(q, STORE_ADMIT_CHANGE, 0) < 0)
        return -1;
    rc = router_contact_abandon(q->s->router, q->now, id);
    if (drain_req(q, NULL) < 0)
        return -1;
    return rc < 0 ? router_fail(q, rc, id) : REPLY_ACK;
}

static const char *tag_owner(struct tenant *s, uint32_t tag);
static const char *tag_principal(struct tenant *s, uint32_t tag);

#define FOLLOWUP_HORIZON_MS (30ull * 24 * 3600 * 1000)

/* The follow-up a completion makes (docs/care.md, "Follow-ups"), checked
 * and built before anything changes: *made false when it makes none. Its
 * id is "fu-" and the completed contact's. 0, or -1 with the Error. */
static int followup_prepare(struct req *q,
                            const Ccroute__V1__ContactCompleted *m,
                            const struct care_completion *e,
                            struct callback_followup *f, char *id,
                            size_t idlen, bool *made)
{
    struct tenant *s = q->s;
    const struct care_list *l = e->contact != UINT32_MAX
                                    ? care_followup(s->care, e->queue, e->code)
                                    : NULL;
    bool number = m->followup_number && *m->followup_number;
    bool other = m->followup_agent && *m->followup_agent;
    Ccroute__V1__ContactArrived a = CCROUTE__V1__CONTACT_ARRIVED__INIT;
    Ccroute__V1__Attribute at[2] = { CCROUTE__V1__ATTRIBUTE__INIT,
                                     CCROUTE__V1__ATTRIBUTE__INIT };
    Ccroute__V1__Attribute *ap[2] = { &at[0], &at[1] };
    struct router_contact_info ci;
    uint64_t now = clock_turn_wall_ms(), due;
    uint32_t h;
    int qi, ch;

    *made = false;
    if (!l) {
        if (m->followup_due_ms || number || other)
            return req_fail(q, EC(INVALID_FIELD), "ContactCompleted."
                            "followup_due_ms, followup_number and "
                            "followup_agent need a disposition that "
                            "requires a follow-up in the contact's queue "
                            "(care.dispositions followup)");
        return 0;
    }
    /* an agent who is not logged in is taken: it may log in before the
     * due time, and the router's preferred wait holds the follow-up for
     * it then as for any preferred agent */
    if (other && strlen(m->followup_agent) >= ROUTER_ID_MAX)
        return req_fail(q, EC(INVALID_FIELD), "ContactCompleted."
                        "followup_agent is longer than %d bytes",
                        ROUTER_ID_MAX - 1);
    due = m->followup_due_ms ? m->followup_due_ms
                             : now + l->followup_after_ms;
    if (m->followup_due_ms && m->followup_due_ms < now)
        return req_fail(q, EC(INVALID_FIELD), "ContactCompleted."
                        "followup_due_ms %" PRIu64 " is in the past (now %"
                        PRIu64 ")", m->followup_due_ms, now);
    if (due >= now + FOLLOWUP_HORIZON_MS)
        return req_fail(q, EC(INVALID_FIELD), "ContactCompleted."
                        "followup_due_ms is more than 30 days ahead");
    if ((size_t)snprintf(id, idlen, "fu-%s", m->contact_id) >= idlen)
        return req_fail(q, EC(INVALID_FIELD), "ContactCompleted.contact_id "
                        "is too long for a follow-up (\"fu-\" and the id "
                        "must fit in %d bytes)", ROUTER_ID_MAX - 1);
    if (router_contact_find(s->router, id, &h) == 0)
        return req_fail(q, EC(CALLBACK_STATE), "follow-up \"%.64s\" is "
                        "pending already", id);
    /* a callback in the contact's queue; a task in the list's queue */
    qi = number || !l->followup_queue[0]
             ? e->queue : router_queue_find(s->router, l->followup_queue);
    ch = number ? CCROUTE__V1__CHANNEL__CHANNEL_VOICE
                : CCROUTE__V1__CHANNEL__CHANNEL_EMAIL;
    if (qi < 0 || !router_queue_takes(s->router, qi, channel_to_router(ch)))
        return req_fail(q, EC(INVALID_FIELD), "ContactCompleted: the "
                        "follow-up's queue \"%s\" does not take %s contacts "
                        "(care.dispositions followup.queue)",
                        qi < 0 ? "" : router_queue_name(s->router, qi),
                        number ? "voice" : "email");
    if (outbound_followup_check(s->outbound, id, m->followup_number, &q->code,
                                q->msg, sizeof(q->msg)) < 0)
        return -1;
    router_contact_info(s->router, e->contact, &ci);
    a.contact_id = id;
    a.channel = (Ccroute__V1__Channel)ch;
    a.queue = (char *)router_queue_name(s->router, qi);
    a.priority = ci.priority;
    a.preferred_agent = other ? m->followup_agent
                              : (char *)(e->agent_id ? e->agent_id : "");
    at[0].key = "followup_of";
    at[0].value = (char *)m->contact_id;
    at[1].key = "disposition";
    at[1].value = m->disposition;
    a.attributes = ap;
    a.n_attributes = 2;
    memset(f, 0, sizeof(*f));
    f->sv.len = ccroute__v1__contact_arrived__get_packed_size(&a);
    if (!(f->sv.packed = malloc(f->sv.len ? f->sv.len : 1)))
        return req_fail(q, EC(INTERNAL), "out of memory");
    ccroute__v1__contact_arrived__pack(&a, f->sv.packed);
    f->sv.arrived_wall_ms = due;
    snprintf(f->sv.owner, sizeof(f->sv.owner), "%s", tag_owner(s, ci.tag));
    snprintf(f->sv.principal, sizeof(f->sv.principal), "%s",
             tag_principal(s, ci.tag));
    f->contact = id;
    f->of = m->contact_id;
    f->agent = other ? m->followup_agent : e->agent_id;
    f->number = m->followup_number;
    f->overdue_at_ms = l->followup_overdue_ms ? due + l->followup_overdue_ms
                                              : 0;
    f->priority = l->followup_priority;
    *made = true;
    return 0;
}

static int h_contact_completed(struct req *q)
{
    const Ccroute__V1__ContactCompleted *m = q->env->contact_completed;
    const char *id = m->contact_id;
    const char *const *tags = (const char *const *)m->tags;
    struct tenant *s = q->s;
    struct care_completion e = { .contact = UINT32_MAX, .queue = -1,
                                 .agent = UINT32_MAX, .tags = tags,
                                 .ntags = m->n_tags, .difficult = m->difficult };
    enum care_action act = CARE_NONE;
    uint32_t pause_ms = 0;
    char why[160], fu_id[ROUTER_ID_MAX];
    struct callback_followup fu;
    bool fu_made = false;
    int rc;
    if (check_id(q, id, "ContactCompleted.contact_id") < 0 ||
        check_contact(q, id) < 0)
        return -1;
    /* the disposition is checked before anything changes (an unknown
     * contact is left to the router's answer) */
    if (router_contact_find(s->router, id, &e.contact) == 0) {
        struct router_contact_info ci;
        router_contact_info(s->router, e.contact, &ci);
        e.queue = ci.queue >= 0 && ci.queue < router_queue_count(s->router)
                      ? ci.queue : care_contact_queue(s->care, e.contact);
        if (ci.state == ROUTER_CONTACT_ASSIGNED && ci.agent != UINT32_MAX) {
            e.agent = ci.agent;
            e.agent_id = router_agent_id(s->router, ci.agent);
        }
        if (e.queue >= 0 && (unsigned)e.queue < s->cfg->router.nqueues) {
            const struct router_queue_config *qc =
                &s->cfg->router.queues[e.queue];
            struct router_queue_stats qs;
            e.wrapup_ms = qc->wrapup_ms;
            /* what the care rules yield to (care.h) */
            router_queue_stats(s->router, e.queue, q->now, &qs);
            e.sl_target = qc->sl_threshold_ms ? qc->sl_percent : 0;
            e.sl_level = qs.service_level;
            e.waiting = qs.waiting;
        }
    }
    if (e.contact != UINT32_MAX &&
        care_check(s->care, e.queue, m->disposition, tags, m->n_tags,
                   m->note_ref, &e.code, why, sizeof(why)) < 0)
        return req_fail(q, m->disposition && *m->disposition
                               ? EC(INVALID_FIELD) : EC(MISSING_FIELD),
                        "ContactCompleted: %s", why);
    if (followup_prepare(q, m, &e, &fu, fu_id, sizeof(fu_id), &fu_made) < 0)
        return -1;
    if (req_admit(q, STORE_ADMIT_CHANGE, 0) < 0) {
        if (fu_made)
            free(fu.sv.packed);
        return -1;
    }
    {
        /* the product, from the arrival the side table keeps (the bytes
         * are canonical: one occurrence at most, nothing allocated) */
        const uint8_t *pv = NULL;
        size_t pl = 0;
        if (e.contact != UINT32_MAX && e.contact < q->d->ncontacts &&
            q->d->contacts[e.contact].packed &&
            encode_field_once(q->d->contacts[e.contact].packed,
                              q->d->contacts[e.contact].len, CA_PRODUCT,
                              &pv, &pl) < 0)
            pv = NULL, pl = 0;
        store_disposition(s->store, id, m->disposition, tags, m->n_tags,
                          m->note_ref, e.contact != UINT32_MAX &&
                                       care_completion_difficult(s->care, &e),
                          (const char *)pv, pl);
    }
    /* the agent's recent difficult load, this contact included, orders it
     * among agents that become idle at the same moment (router.h) */
    if (e.agent_id) {
        struct care_agent_view v;
        bool dif = care_completion_difficult(s->care, &e);
        care_agent_view(s->care, e.agent, e.agent_id, q->now, &v);
        router_agent_set_load(s->router, e.agent_id,
                              v.difficult_recent + dif);
        /* ... and, with a spread rule, as idle that much less for a
         * contact marked difficult (router.h) */
        router_agent_set_idle_shift(s->router, e.agent_id,
                                    care_agent_shift_ms(s->care, e.agent,
                                                        e.agent_id, q->now,
                                                        dif));
        /* before the completion frees the agent (care.h) */
        if (care_routine_begin(s->care, &e, q->now, clock_turn_wall_ms())) {
            if (router_agent_set_routine(s->router, q->now, e.agent_id,
                                         true) < 0)
                care_routine_cancel(s->care, e.agent);
            else
                log_info("care: agent %s takes only routine contacts for "
                         "a while", e.agent_id);
        }
    }
    rc = router_contact_complete(s->router, q->now, id);
    if (rc == 0)
        act = care_contact_completed(s->care, &e, q->now,
                                     clock_turn_wall_ms(), &pause_ms);
    if (act != CARE_NONE)
        care_pause_begin(s, q->now, e.agent, act, pause_ms);
    /* in the same batch as the completion: the Ack's barrier covers it */
    if (fu_made && rc == 0)
        outbound_followup_add(s->outbound, &fu);
    else if (fu_made)
        free(fu.sv.packed);
    {
        int drc = drain_req(q, NULL);
        /* recorded with the gone entry, or not at all (a refused
         * completion): nothing of it may stick to a later batch */
        store_disposition(s->store, NULL, NULL, NULL, 0, NULL, false, NULL,
                          0);
        if (drc < 0)
            return -1;
    }
    return rc < 0 ? router_fail(q, rc, id) : REPLY_ACK;
}

static int h_offer_accepted(struct req *q)
{
    const Ccroute__V1__OfferAccepted *m = q->env->offer_accepted;
    struct barrier_rec *rec;
    int rc;
    if (check_id(q, m->contact_id, "OfferAccepted.contact_id") < 0 ||
        check_id(q, m->agent_id, "OfferAccepted.agent_id") < 0)
        return -1;
    /* an offer to an agent outside the scope: as if no such contact */
    if (!auth_agent_allowed(&q->s->cfg->auth, q->c->principal, m->agent_id))
        return router_fail(q, ROUTER_ENOCONTACT, m->contact_id);
    if (req_admit(q, STORE_ADMIT_CHANGE, 0) < 0)
        return -1;
    rc = router_offer_accept(q->s->router, q->now, m->contact_id,
                             m->agent_id);
    if (rc < 0) {
        if (drain_req(q, NULL) < 0)
            return -1;
        return router_fail(q, rc, m->contact_id);
    }
    {
        uint32_t ch;
        if (router_contact_find(q->s->router, m->contact_id, &ch) == 0)
            care_contact_assigned(q->s->care, ch, q->now);
    }
    /* ContactAssigned and the Ack leave together once Redis has the
     * assignment: no client hears of an assignment that could be lost. */
    rec = q->rec;
    if (drain_req(q, &rec->as) < 0) {
        rec->as.assigned = false;
        return -1;
    }
    return ack_after_barrier(q);
}

static int h_offer_rejected(struct req *q)
{
    const Ccroute__V1__OfferRejected *m = q->env->offer_rejected;
    int rc;
    if (check_id(q, m->contact_id, "OfferRejected.contact_id") < 0 ||
        check_id(q, m->agent_id, "OfferRejected.agent_id") < 0)
        return -1;
    if (!auth_agent_allowed(&q->s->cfg->auth, q->c->principal, m->agent_id))
        return router_fail(q, ROUTER_ENOCONTACT, m->contact_id);
    if (req_admit(q, STORE_ADMIT_CHANGE, 0) < 0)
        return -1;
    rc = router_offer_reject(q->s->router, q->now, m->contact_id,
                             m->agent_id);
    if (drain_req(q, NULL) < 0)
        return -1;
    return rc < 0 ? router_fail(q, rc, m->contact_id) : REPLY_ACK;
}

static int h_contact_transfer(struct req *q)
{
    const Ccroute__V1__ContactTransfer *m = q->env->contact_transfer;
    bool to_q = m->to_queue && *m->to_queue;
    bool to_a = m->to_agent && *m->to_agent;
    int queue = -1, rc;

    if (check_id(q, m->contact_id, "ContactTransfer.contact_id") < 0 ||
        check_contact(q, m->contact_id) < 0)
        return -1;
    if (!to_q && !to_a)
        return req_fail(q, EC(MISSING_FIELD), "ContactTransfer needs "
                        "to_queue or to_agent");
    if (to_q && to_a)
        return req_fail(q, EC(INVALID_FIELD), "ContactTransfer takes one of "
                        "to_queue and to_agent, not both");
    if (to_q) {
        queue = router_queue_find(q->s->router, m->to_queue);
        if (queue < 0)
            return req_fail(q, EC(UNKNOWN_QUEUE), "unknown queue \"%.64s\"",
                            m->to_queue);
    } else if (check_id(q, m->to_agent, "ContactTransfer.to_agent") < 0) {
        return -1;
    }
    if (req_admit(q, STORE_ADMIT_CHANGE, 0) < 0)
        return -1;
    rc = router_contact_transfer(q->s->router, q->now, m->contact_id, queue,
                                 to_a ? m->to_agent : NULL);
    if (drain_req(q, NULL) < 0)
        return -1;
    return rc < 0 ? router_fail(q, rc, m->contact_id) : REPLY_ACK;
}

/* Agent h is logged in: Stats lists it, and its owner record (its router
 * tag) lists it. */
static void agent_mark_live(struct dispatch *d, uint32_t h)
{
    owner_agent_link(&d->owners, h, router_agent_tag(d->srv->router, h));
    if (h < d->nagents) {
        d->agent_live[h] = 1;
        if (h + 1 > d->agent_hwm)
            d->agent_hwm = h + 1;
    }
}

/* Keeps a copy of the agent's packed AgentLogin (borrowed) for a full
 * rewrite; without memory the rewrite skips the agent (logged then). */
static void agent_keep(struct dispatch *d, uint32_t h, const uint8_t *p,
                       size_t len)
{
    if (h >= d->nagents)
        return;
    free(d->agents[h].packed);
    d->agents[h].packed = malloc(len ? len : 1);
    d->agents[h].len = d->agents[h].packed ? (uint32_t)len : 0;
    if (d->agents[h].packed && len)
        memcpy(d->agents[h].packed, p, len);
}

static int h_agent_login(struct req *q)
{
    const Ccroute__V1__AgentLogin *m = q->env->agent_login;
    struct tenant *s = q->s;
    struct router_agent_spec sp;
    uint32_t h = UINT32_MAX;
    uint8_t *buf;
    size_t len;
    int rc;

    if (build_agent_spec(q, m, &sp) < 0 || check_agent(q, sp.id) < 0)
        return -1;
    /* the principal's quota of logged-in agents (an agent already logged
     * in gets AGENT_EXISTS from the router, as before) */
    if (router_agent_find(s->router, sp.id, &h) < 0 &&
        owner_quota_agent(&q->d->owners, q->c->principal) < 0)
        return req_fail(q, EC(RESOURCE_EXHAUSTED), "quota: principal \"%s\" "
                        "holds its maximum of %u logged-in agents",
                        s->cfg->auth.principals[q->c->principal].name,
                        s->cfg->auth.principals[q->c->principal].quota_agents);
    /* the packed request and the admission before the router (see
     * h_contact_arrived) */
    len = ccroute__v1__agent_login__get_packed_size(m);
    if (!(buf = arena_alloc(s->arena, len ? len : 1)))
        return req_fail(q, EC(INTERNAL), "out of memory");
    ccroute__v1__agent_login__pack(m, buf);
    if (req_admit(q, STORE_ADMIT_CHANGE, len + owner_bytes(q)) < 0)
        return -1;
    rc = router_agent_login(s->router, q->now, &sp, q->c->owner, &h);
    if (rc < 0) {
        if (drain_req(q, NULL) < 0)
            return -1;
        return router_fail(q, rc, sp.id);
    }
    agent_mark_live(q->d, h);
    agent_keep(q->d, h, buf, len);
    /* cannot fail after req_admit */
    rc = store_agent_login(s->store, sp.id, buf, len, q->c->name,
                           principal_name(s, q->c->principal));
    if (drain_req(q, NULL) < 0)
        return -1;
    if (rc < 0) {
        log_error("agent %s: admitted but not recorded: %s", sp.id,
                  ccr_strerror(rc));
        return req_fail(q, EC(STATE_UNAVAILABLE), "the login could not be "
                        "recorded: %s", ccr_strerror(rc));
    }
    return REPLY_ACK;
}

static int h_agent_logout(struct req *q)
{
    const char *id = q->env->agent_logout->agent_id;
    int rc;
    if (check_id(q, id, "AgentLogout.agent_id") < 0 ||
        check_agent(q, id) < 0 || req_admit(q, STORE_ADMIT_CHANGE, 0) < 0)
        return -1;
    rc = router_agent_logout(q->s->router, q->now, id);
    if (drain_req(q, NULL) < 0)
        return -1;
    return rc < 0 ? router_fail(q, rc, id) : REPLY_ACK;
}

static int h_agent_state(struct req *q)
{
    const Ccroute__V1__AgentState *m = q->env->agent_state;
    enum router_agent_cmd cmd;
    int rc;
    if (check_id(q, m->agent_id, "AgentState.agent_id") < 0 ||
        check_agent(q, m->agent_id) < 0)
        return -1;
    switch (m->status) {
    case CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AVAILABLE:
        cmd = ROUTER_AGENT_AVAILABLE;
        break;
    case CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AWAY:
        cmd = ROUTER_AGENT_AWAY;
        break;
    case CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_WRAPUP_DONE:
        cmd = ROUTER_AGENT_WRAPUP_DONE;
        break;
    case CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_UNSPECIFIED:
        return req_fail(q, EC(MISSING_FIELD), "AgentState.status is empty");
    default:
        return req_fail(q, EC(INVALID_FIELD), "AgentState.status %d is not a "
                        "status", (int)m->status);
    }
    if (m->reason && strlen(m->reason) >= ROUTER_ID_MAX)
        return req_fail(q, EC(INVALID_FIELD), "AgentState.reason is too long");
    if (req_admit(q, STORE_ADMIT_CHANGE, 0) < 0)
        return -1;
    rc = router_agent_set_state(q->s->router, q->now, m->agent_id, cmd,
                                m->reason && *m->reason ? m->reason : NULL);
    if (drain_req(q, NULL) < 0)
        return -1;
    return rc < 0 ? router_fail(q, rc, m->agent_id) : REPLY_ACK;
}

/* One agent's statistics into *as; strings are borrowed from the router
 * or copied into the request's arena. Returns 0, or -1 out of memory. */
static int fill_agent_stats(struct req *q, uint32_t h,
                            Ccroute__V1__AgentStats *as)
{
    struct router_agent_info info;
    unsigned active = 0;
    router_agent_info(q->s->router, h, q->now, &info);
    ccroute__v1__agent_stats__init(as);
    as->agent_id = (char *)info.id;
    for (int ch = 0; ch < ROUTER_CH_COUNT; ch++)
        active += info.busy[ch];
    switch (info.state) {
    case ROUTER_AGENT_STATE_AVAILABLE:
        /* available means free: holding an offer or a contact is busy,
         * even with capacity left for more */
        if (info.offers)
            as->status = CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_OFFERED;
        else if (active)
            as->status = CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_ON_CONTACT;
        else
            as->status = CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AVAILABLE;
        break;
    case ROUTER_AGENT_STATE_AWAY:
        as->status = CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AWAY;
        break;
    default:
        as->status = CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_UNSPECIFIED;
        break;
    }
    as->in_wrapup = info.state == ROUTER_AGENT_STATE_WRAPUP;
    size_t rl = strlen(info.reason);
    char *reason = arena_alloc(q->s->arena, rl + 1);
    if (!reason)
        return -1;
    memcpy(reason, info.reason, rl + 1);
    as->reason = reason;
    as->time_in_state_ms = q->now > info.state_since
                               ? (uint32_t)((q->now - info.state_since) / 1000)
                               : 0;
    as->occupancy = info.occupancy;
    as->active_contacts = active;
    return carestats_agent(q->s->care, q->s->arena, h, info.id, q->now, as);
}

/* One queue's statistics into a new QueueStats in the arena, under
 * `name` (borrowed until the reply is sent). NULL out of memory. */
static Ccroute__V1__QueueStats *queue_stats_msg(struct req *q, int qi,
                                                const char *name)
{
    struct router_queue_stats qs;
    Ccroute__V1__QueueStats *o = arena_alloc(q->s->arena, sizeof(*o));
    if (!o)
        return NULL;
    router_queue_stats(q->s->router, qi, q->now, &qs);
    ccroute__v1__queue_stats__init(o);
    o->queue = (char *)name;
    o->waiting = qs.waiting;
    o->longest_wait_ms = qs.longest_wait_ms;
    o->offered = qs.offered;
    o->answered = qs.answered;
    o->abandoned = qs.abandoned;
    o->service_level = qs.service_level;
    o->avg_speed_of_answer_ms = qs.asa_ms;
    o->avg_handle_time_ms = qs.aht_ms;
    o->agents_available = qs.agents_available;
    o->contacts_unservable = qs.unservable;
    if (carestats_queue(q->s->care, q->s->arena, qi, clock_turn_wall_ms(),
                        o) < 0)
        return NULL;
    return o;
}

/* Stats: the named queues, or every configured queue and then every
 * virtual queue of skills-only contacts (under its stable label, see
 * router_queue_label()); the named agents or all of them. Everything
 * lives in the arena until the reply is sent. */
static int h_stats(struct req *q)
{
    const Ccroute__V1__StatsRequest *m = q->env->stats_request;
    struct tenant *s = q->s;
    struct dispatch *d = q->d;
    struct arena *a = s->arena;
    envelope_t env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Stats st = CCROUTE__V1__STATS__INIT;
    int nconf = router_queue_count(s->router);
    int ntotal = router_queue_total(s->router);
    size_t nq = m->n_queues ? m->n_queues : (size_t)ntotal;
    size_t na = 0, cap;
    const char *why = "";

    if (owner_stats_check(&s->cfg->auth, q->c, m->all_agents, m->agents,
                          m->n_agents, &why) < 0)
        return req_fail(q, EC(FORBIDDEN), "%s", why);
    st.auth_failures = d->gate.failures;
    st.quota_refusals = d->owners.quota_refusals;
    st.clients_in_grace = d->owners.ngrace;
    st.draining = s->set->draining;
    st.config_generation = s->set->reload.generation;
    st.config_reload_error = s->set->reload.last_error;
    st.config_reload_at_ms = s->set->reload.last_at_ms;
    st.contacts_waiting = router_waiting_count(s->router);
    if (outbound_stats(s->outbound, a, &st) < 0)
        return req_fail(q, EC(INTERNAL), "out of memory");
    {
        struct callback_fu_fig ff;
        Ccroute__V1__FollowupStats *fs = arena_alloc(a, sizeof(*fs));
        if (!fs)
            return req_fail(q, EC(INTERNAL), "out of memory");
        ccroute__v1__followup_stats__init(fs);
        outbound_followup_fig(s->outbound, &ff);
        fs->scheduled = ff.scheduled;
        fs->waiting = ff.waiting;
        fs->created = ff.created;
        fs->overdue = ff.overdue;
        st.followups = fs;
    }
    st.agents_logged_in = router_agent_count(s->router);
    if (carestats_stats(s->care, a, clock_turn_wall_ms(), &st) < 0)
        return req_fail(q, EC(INTERNAL), "out of memory");
    st.queues = arena_alloc(a, (nq ? nq : 1) * sizeof(*st.queues));
    if (!st.queues)
        return req_fail(q, EC(INTERNAL), "out of memory");
    if (m->n_queues) {
        for (size_t i = 0; i < nq; i++) {
            int qi = router_queue_find(s->router, m->queues[i]);
            if (qi < 0 || qi >= nconf)
                return req_fail(q, EC(UNKNOWN_QUEUE), "unknown queue "
                                "\"%.64s\"", m->queues[i]);
            if (!(st.queues[st.n_queues++] =
                      queue_stats_msg(q, qi, queue_name(s, qi))))
                return req_fail(q, EC(INTERNAL), "out of memory");
        }
    } else {
        for (int qi = 0; qi < ntotal; qi++) {
            const char *name;
            if (qi < nconf) {
                name = queue_name(s, qi);
            } else if (router_queue_is_virtual(s->router, qi)) {
                int len = router_queue_label(s->router, qi, NULL, 0);
                char *buf = len >= 0 ? arena_alloc(a, (size_t)len + 1) : NULL;
                if (!buf)
                    return req_fail(q, EC(INTERNAL), "out of memory");
                router_queue_label(s->router, qi, buf, (size_t)len + 1);
                name = buf;
            } else {
                continue;       /* derived: counted in its base queue */
            }
            if (!(st.queues[st.n_queues++] = queue_stats_msg(q, qi, name)))
                return req_fail(q, EC(INTERNAL), "out of memory");
        }
    }

    cap = m->all_agents ? d->agent_hwm : m->n_agents;
    st.agents = arena_alloc(a, (cap ? cap : 1) * sizeof(*st.agents));
    if (!st.agents)
        return req_fail(q, EC(INTERNAL), "out of memory");
    for (size_t i = 0; i < cap; i++) {
        uint32_t h;
        if (m->all_agents) {
            if (!d->agent_live[i])
                continue;
            h = (uint32_t)i;
        } else if (router_agent_find(s->router, m->agents[i], &h) < 0) {
            return req_fail(q, EC(UNKNOWN_AGENT), "unknown agent \"%.64s\"",
                            m->agents[i]);
        }
        Ccroute__V1__AgentStats *as = arena_alloc(a, sizeof(*as));
        if (!as || fill_agent_stats(q, h, as) < 0)
            return req_fail(q, EC(INTERNAL), "out of memory");
        st.agents[na++] = as;
    }
    st.n_agents = na;

    env.request_id = q->id;
    env.body_case = BODY(STATS);
    env.stats = &st;
    conn_send(q->c, &env);
    return REPLY_ACK;
}

/* Drain, for a rolling restart: the whole engine (every tenant) refuses
 * new contacts from now on and goes on routing and finishing those it
 * holds; SIGTERM then hands the tenants over (server.c). */
/* Drain and ConfigReload act on the whole engine, every tenant of it: a
 * principal scoped to one tenant may not change what the others run
 * under. 0 when the requester may, else the Error's reply. */
static int engine_wide_only(struct req *q, const char *what)
{
    const struct auth_config *au = &q->s->cfg->auth;
    int pi = q->c->principal;
    if (pi >= 0 && (unsigned)pi < au->nprincipals &&
        au->principals[pi].tenant[0])
        return req_fail(q, EC(FORBIDDEN), "%s changes the whole engine: "
                        "principal %s is scoped to tenant %s", what,
                        au->principals[pi].name, au->principals[pi].tenant);
    return 0;
}

static int h_drain(struct req *q)
{
    int rc = engine_wide_only(q, "Drain");
    if (rc != 0)
        return rc;
    if (!q->s->set->draining)
        log_info("drain: requested by %s (conn #%08x); new contacts are "
                 "refused from now on", q->c->name, q->c->id);
    q->s->set->draining = true;
    return REPLY_ACK;
}

/* ConfigReload: the server's reload (tenant_set.reload_run, reload.h),
 * for the whole engine, answered Ack or an Error carrying its reason.
 * Nothing of the running work is touched either way. */
static int h_config_reload(struct req *q)
{
    struct tenant_set *set = q->s->set;
    char msg[RELOAD_MSG_MAX];
    int rc = engine_wide_only(q, "ConfigReload");
    if (rc != 0)
        return rc;
    if (!set->reload_run)
        return req_fail(q, EC(CONFIG_NOT_RELOADABLE), "this engine cannot "
                        "reload its configuration");
    log_info("reload: requested by %s (conn #%08x)", q->c->name, q->c->id);
    rc = set->reload_run(set->reload_arg, msg, sizeof(msg));
    if (rc == RELOAD_EINVALID)
        return req_fail(q, EC(CONFIG_INVALID), "%s", msg);
    if (rc < 0)
        return req_fail(q, EC(CONFIG_NOT_RELOADABLE), "%s", msg);
    /* contacts it moved (dispatch_flush) are in Redis before the Ack */
    if (q->s->role != STORE_ROLE_OWNER)
        return REPLY_ACK;
    if (!q->rec && !(q->rec = rec_get(q->d)))
        return req_fail(q, EC(INTERNAL), "the configuration was reloaded; "
                        "out of memory waiting for its writes");
    return ack_after_barrier(q);
}

/* Ping: answered with a Pong of the same request id, nothing else. Pong
 * (a desk answering the engine's Ping) needs no answer: its arrival alone
 * renewed the connection's deadlines in conn.c. */
static int h_ping(struct req *q)
{
    Ccroute__V1__Envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Pong pong = CCROUTE__V1__PONG__INIT;
    env.request_id = q->id;
    env.body_case = BODY(PONG);
    env.pong = &pong;
    conn_send(q->c, &env);
    return REPLY_DONE;
}

static int h_pong(struct req *q)
{
    return REPLY_DONE;
}

/* Campaign requests (outbound.h): the module answers Ack, Ack after a
 * store barrier (its writes admitted), or Error. */
static int h_outbound(struct req *q)
{
    int rc;
    if (!q->rec && !(q->rec = rec_get(q->d)))
        return req_fail(q, EC(INTERNAL), "out of memory");
    rc = outbound_request(q->s->outbound, q->c, q->env, &q->code, q->msg,
                          sizeof(q->msg));
    if (rc < 0)
        return -1;
    return rc == OUTBOUND_DURABLE ? ack_after_barrier(q) : REPLY_ACK;
}

/* CallbackRequest (callback.h): the contact must be this client's (an
 * unknown or foreign one is UNKNOWN_CONTACT, as for every contact
 * request); the rest is the callback module's. */
static int h_callback(struct req *q)
{
    const char *id = q->env->callback_request->contact_id;
    if (check_id(q, id, "CallbackRequest.contact_id") < 0 ||
        check_contact(q, id) < 0)
        return -1;
    return h_outbound(q);
}

/* ---- the table ---- */

static const struct dispatch_entry dispatch_table[] = {
    [BODY(HELLO)] = { "Hello", h_hello, R_ANY, DF_BEFORE_HELLO },
    [BODY(CONTACT_ARRIVED)] = { "ContactArrived", h_contact_arrived,
                                R_CONTACTS, 0 },
    [BODY(CONTACT_ABANDONED)] = { "ContactAbandoned", h_contact_abandoned,
                                  R_CONTACTS, DF_DURABLE },
    [BODY(CONTACT_COMPLETED)] = { "ContactCompleted", h_contact_completed,
                                  R_CONTACTS | R_AGENT, DF_DURABLE },
    [BODY(OFFER_ACCEPTED)] = { "OfferAccepted", h_offer_accepted, R_AGENTS, 0 },
    [BODY(OFFER_REJECTED)] = { "OfferRejected", h_offer_rejected, R_AGENTS,
                               DF_DURABLE },
    [BODY(CONTACT_TRANSFER)] = { "ContactTransfer", h_contact_transfer,
                                 R_CONTACTS | R_AGENT, DF_DURABLE },
    [BODY(AGENT_LOGIN)] = { "AgentLogin", h_agent_login, R_AGENTS,
                            DF_DURABLE },
    [BODY(AGENT_LOGOUT)] = { "AgentLogout", h_agent_logout,
                             R_AGENTS | R_ADMIN, DF_DURABLE },
    [BODY(AGENT_STATE)] = { "AgentState", h_agent_state, R_AGENTS | R_ADMIN,
                            DF_DURABLE },
    [BODY(STATS_REQUEST)] = { "StatsRequest", h_stats, R_ANY, 0 },
    [BODY(PING)] = { "Ping", h_ping, R_ANY, 0 },
    [BODY(DRAIN)] = { "Drain", h_drain, R_ADMIN, 0 },
    [BODY(CONFIG_RELOAD)] = { "ConfigReload", h_config_reload, R_ADMIN, 0 },
    [BODY(PONG)] = { "Pong", h_pong, R_ANY, 0 },
    [BODY(CAMPAIGN_UPSERT)] = { "CampaignUpsert", h_outbound, R_ADMIN, 0 },
    [BODY(CAMPAIGN_START)] = { "CampaignStart", h_outbound, R_ADMIN, 0 },
    [BODY(CAMPAIGN_PAUSE)] = { "CampaignPause", h_outbound, R_ADMIN, 0 },
    [BODY(CAMPAIGN_STOP)] = { "CampaignStop", h_outbound, R_ADMIN, 0 },
    [BODY(LEADS_ADD)] = { "LeadsAdd", h_outbound, R_ADMIN, 0 },
    [BODY(DNC_ADD)] = { "DncAdd", h_outbound, R_ADMIN, 0 },
    [BODY(DNC_REMOVE)] = { "DncRemove", h_outbound, R_ADMIN, 0 },
    [BODY(DIAL_RESULT)] = { "DialResult", h_outbound, R_DIALER | R_SWITCH,
                            0 },
    [BODY(CALLBACK_REQUEST)] = { "CallbackRequest", h_callback,
                                 R_SWITCH | R_DIALER, 0 },
};

#define TABLE_LEN (sizeof(dispatch_table) / sizeof(dispatch_table[0]))

/* Takes one request from the bucket of c's principal: 0, or -1 with
 * RATE_LIMITED in q (counted; logged once a second per principal). */
static int rate_refused(struct req *q, struct conn *c)
{
    const struct auth_principal *p;
    bool log = false;
    if (owner_quota_request(&q->d->owners, c->principal, q->now, &log) == 0)
        return 0;
    p = &q->s->cfg->auth.principals[c->principal];
    if (log)
        log_warn("quota: principal %s is over %u requests per second "
                 "(conn #%08x %s); refusing with RATE_LIMITED (%llu quota "
                 "refusals so far)", p->name, p->quota_rps, c->id, c->peer,
                 (unsigned long long)q->d->owners.quota_refusals);
    return req_fail(q, EC(RATE_LIMITED), "quota: principal \"%s\" is over "
                    "%u requests per second; retry later", p->name,
                    p->quota_rps);
}

void dispatch_frame(struct tenant *s, struct conn *c, const uint8_t *payload,
                    size_t len)
{
    struct req q = { .s = s, .d = s->dispatch, .c = c, .code = 0 };
    const struct dispatch_entry *e = NULL;
    const struct validate_limits lim = {
        s->cfg->max_attributes, s->cfg->max_attribute_bytes,
    };
    char vmsg[256];
    envelope_t *env;
    int rc;

    env = ccroute__v1__envelope__unpack(arena_allocator(s->arena), len,
                                        payload);
    if (!env) {
        conn_send_error(c, 0, EC(MALFORMED), "frame of %zu bytes does not "
                        "decode as an Envelope", len);
        conn_close_after_flush(c, "undecodable frame");
        arena_reset(s->arena);
        return;
    }
    q.env = env;
    q.raw = payload;
    q.rawlen = len;
    q.id = env->request_id;
    q.now = clock_turn_us();
    if ((size_t)env->body_case < TABLE_LEN)
        e = &dispatch_table[env->body_case];
    if (!e || !e->fn)
        rc = req_fail(&q, EC(UNKNOWN_MESSAGE), "unknown or empty message "
                      "body (case %d)", (int)env->body_case);
    else if (!c->hello && !(e->flags & DF_BEFORE_HELLO))
        rc = req_fail(&q, EC(NOT_HELLO), "the first message must be Hello, "
                      "not %s", e->name);
    else if (c->hello && (e->flags & DF_BEFORE_HELLO))
        rc = req_fail(&q, EC(INVALID_STATE), "Hello was already received on "
                      "this connection");
    else if (c->hello && e->fn != h_pong &&
             rate_refused(&q, c) < 0)
        rc = -1;
    else if (c->hello && !(e->roles & (1u << c->role)))
        rc = req_fail(&q, EC(FORBIDDEN), "role %s may not send %s",
                      role_name(c->role), e->name);
    else if (validate_request(env, payload, len, &lim, vmsg,
                              sizeof(vmsg)) < 0)
        rc = req_fail(&q, EC(INVALID_FIELD), "%s", vmsg);
    else
        rc = e->fn(&q);

    if (rc == REPLY_ACK && (e->flags & DF_DURABLE))
        rc = ack_after_barrier(&q);
    if (q.rec)                  /* admitted, but no barrier: not needed */
        rec_put(q.d, q.rec);
    if (rc < 0)
        conn_send_error(c, q.id, q.code, "%s", q.msg);
    else if (rc == REPLY_ACK) {
        uint64_t t = clock_mono_us();
        conn_send_ack(c, q.id);
        lathist_observe(&s->set->ack_latency, t > q.now ? t - q.now : 0);
    }
    arena_reset(s->arena);
}

/* ---- changes nobody asked for ---- */

/* Timer ticks (offer timeouts, expansions, wrap-up ends, maximum waits) and
 * grace expiries change the router without a request to refuse, so there
 * is nothing to admit beforehand: when their events cannot be recorded
 * (out of memory; store_record counts it in records_failed) the change
 * stays in memory and Redis keeps the previous state of those contacts and
 * agents until their next recorded change (docs/redis.md, Durability). */
static void lost_record(struct tenant *s, const char *what)
{
    struct store_stats st;
    store_stats(s->store, &st);
    log_error("%s: router events could not be recorded in Redis (%llu "
              "record failures so far); Redis keeps the previous state of "
              "the contacts and agents concerned until they change again",
              what, (unsigned long long)st.records_failed);
}

/* What a configuration reload did to the router (a removed queue's
 * contacts moved to its fallback: engine/reload.c) is fanned out and
 * recorded at once, before the reload's Ack is queued. */
void dispatch_flush(struct tenant *s)
{
    if (s->router && drain(s, clock_turn_us(), OWNER_NONE, NULL) < 0)
        lost_record(s, "reload");
}

/* ---- grace period ---- */

/* The grace timer runs at the deadline of the first record of the grace
 * FIFO (owner.h): arming it is O(1). */
static void grace_arm(struct dispatch *d)
{
    uint64_t first = owner_grace_next(&d->owners), now;
    if (!d->grace_open)
        return;
    if (first == UINT64_MAX) {
        uv_timer_stop(&d->grace_timer);
        return;
    }
    now = clock_turn_us();
    uv_timer_start(&d->grace_timer, grace_timer_cb,
                   first > now ? (first - now + 999) / 1000 : 0, 0);
}

void dispatch_conn_closed(struct tenant *s, struct conn *c)
{
    struct dispatch *d = s->dispatch;
    uint32_t id = c->owner;
    unsigned n;

    if (!c->hello || id == OWNER_NONE)
        return;
    c->owner = OWNER_NONE;
    /* O(1): the record forgets the connection and, when it holds
     * anything, joins the tail of the grace FIFO; nothing is scanned */
    n = owner_detach(&d->owners, id,
                     clock_turn_us() + (uint64_t)s->cfg->grace_ms * 1000);
    if (n == 0 || s->stopping)
        return;
    log_client("client %s gone: %u contacts and agents wait %u ms for it to "
               "reconnect", c->name, n, s->cfg->grace_ms);
    /* Expiry always runs from the timer, never from inside conn_close()
     * (which may be called in the middle of a fan-out). The timer stays
     * at the FIFO's head, O(1). */
    grace_arm(d);
}

/* Appends handle h (agents marked with the top bit) to the scratch list.
 * -1 out of memory. */
static int scratch_add(struct dispatch *d, uint32_t h)
{
    if (d->nscratch == d->capscratch) {
        size_t ncap = d->capscratch ? d->capscratch * 2 : 256;
        uint32_t *ns = realloc(d->scratch, ncap * sizeof(*ns));
        if (!ns)
            return -1;
        d->scratch = ns;
        d->capscratch = ncap;
    }
    d->scratch[d->nscratch++] = h;
    return 0;
}

/* Record `id` (out of the FIFO, without connection) did not come back:
 * abandons its contacts and logs out its agents -- only those, collected
 * from its own lists first, because each router call's fan-out unlinks
 * what it ends (and frees the record with the last one). */
static void grace_expire(struct tenant *s, uint32_t id)
{
    struct dispatch *d = s->dispatch;
    struct router *r = s->router;
    const struct owner_rec *o = owner_get(&d->owners, id);
    unsigned contacts = 0, completed = 0, agents = 0;
    char id_buf[ROUTER_ID_MAX], name[ROUTER_ID_MAX];

    if (!o)
        return;
    snprintf(name, sizeof(name), "%s", o->name);
    d->nscratch = 0;
    for (uint32_t h = owner_agents_first(&d->owners, id); h != UINT32_MAX;
         h = owner_agents_next(&d->owners, h))
        if (scratch_add(d, h | 0x80000000u) < 0)
            break;
    for (uint32_t h = owner_contacts_first(&d->owners, id); h != UINT32_MAX;
         h = owner_contacts_next(&d->owners, h))
        if (scratch_add(d, h) < 0)
            break;
    for (size_t i = 0; i < d->nscratch; i++) {
        uint32_t h = d->scratch[i] & 0x7fffffffu;
        uint64_t now = clock_turn_us();
        if (d->scratch[i] & 0x80000000u) {
            snprintf(id_buf, sizeof(id_buf), "%s", router_agent_id(r, h));
            if (router_agent_logout(r, now, id_buf) == 0)
                agents++;
        } else {
            snprintf(id_buf, sizeof(id_buf), "%s", router_contact_id(r, h));
            if (router_contact_abandon(r, now, id_buf) == 0)
                contacts++;
            /* Assigned: it was answered, so it cannot be abandoned, and
             * its owner, gone for good, will never complete it; left
             * alone it would hold its slot and its agent until a
             * restart. It ends as completed. */
            else if (router_contact_complete(r, now, id_buf) == 0)
                completed++;
        }
        if (drain(s, now, OWNER_NONE, NULL) < 0)
            lost_record(s, "grace expiry");
        arena_reset(s->arena);
    }
    /* whatever could not be ended stays with the record (re-attachable
     * by name); an empty one is gone already */
    owner_release(&d->owners, id);
    log_client("client %s did not come back within %u ms: %u contacts "
               "abandoned, %u assigned contacts completed, %u agents logged "
               "out", name, s->cfg->grace_ms, contacts, completed, agents);
}

static void grace_timer_cb(uv_timer_t *t)
{
    struct dispatch *d = t->data;
    struct tenant *s = d->srv;
    uint32_t id;

    /* Abandoning a gone client's contacts is a decision like routing: not
     * without a confirmed lease. dispatch_on_role(OWNER) arms it again. */
    if (s->role != STORE_ROLE_OWNER)
        return;
    clock_turn_end();           /* as server_timer_cb: a fresh read */
    while ((id = owner_grace_pop(&d->owners, clock_turn_us())) != OWNER_NONE)
        grace_expire(s, id);
    grace_arm(d);
}

/* ---- tick ---- */

void dispatch_tick(struct tenant *s)
{
    uint64_t now = clock_turn_us();
    if (s->role != STORE_ROLE_OWNER)
        return;                 /* no routing without a confirmed lease */
    router_tick(s->router, now);
    care_tick(s, now);
    if (drain(s, now, OWNER_NONE, NULL) < 0)
        lost_record(s, "timer");
    arena_reset(s->arena);
}

/* ---- recovery hooks ---- */

/* The tag of a recovered contact or agent whose owner is `owner` of
 * principal `principal` (a name; "" when none was stored): the id of the
 * owner record of that client name, made in its grace period (deadline
 * now + grace, timer armed) for the first object of that owner. Only a
 * client of the same principal may re-attach it (h_hello); a principal
 * the configuration no longer has makes it unclaimable. OWNER_NONE for no
 * owner, or out of memory (then it is unowned, as before owners were
 * stored). */
static uint32_t recovered_tag(struct tenant *s, const char *owner,
                              const char *principal, uint64_t now)
{
    struct dispatch *d = s->dispatch;
    bool made;
    uint32_t id;
    int pi = AUTH_PRINCIPAL_UNKNOWN;

    if (!owner || !*owner)
        return OWNER_NONE;
    if (principal && *principal &&
        (pi = auth_principal_find(&s->cfg->auth, principal)) < 0)
        pi = AUTH_PRINCIPAL_GONE;
    id = owner_recovered(&d->owners, owner, pi,
                         now + (uint64_t)s->cfg->grace_ms * 1000, &made);
    if (id == OWNER_NONE) {
        log_warn("recovery: no owner record for client %s; its contacts "
                 "and agents are restored without an owner", owner);
        return OWNER_NONE;
    }
    if (made && pi == AUTH_PRINCIPAL_GONE)
        log_warn("recovery: client %s belonged to principal %s, which the "
                 "configuration no longer has: nobody may re-attach its "
                 "contacts and agents", owner, principal);
    if (made) {
        log_client("recovery: contacts and agents of client %s wait %u ms "
                   "for it to re-attach (Hello reattach)", owner,
                   s->cfg->grace_ms);
        grace_arm(d);
    }
    return id;
}

void dispatch_load_agent(void *arg, const uint8_t *login, size_t len,
                         int agent_state, const char *reason,
                         const char *owner, const char *principal)
{
    struct tenant *s = arg;
    struct dispatch *d = s->dispatch;
    struct req q = { .s = s, .d = d, .now = clock_mono_us() };
    struct router_agent_spec sp;
    Ccroute__V1__AgentLogin *m;
    uint32_t h;
    int rc;

    m = ccroute__v1__agent_login__unpack(arena_allocator(s->arena), len,
                                         login);
    if (!m) {
        log_warn("recovery: a stored AgentLogin does not decode; skipped");
        goto out;
    }
    if (build_agent_spec(&q, m, &sp) < 0) {
        log_warn("recovery: agent skipped: %s", q.msg);
        goto out;
    }
    d->loading = true;
    sp.gone_queues_ok = true;   /* a reload may have removed one since */
    rc = router_agent_login(s->router, q.now, &sp,
                            recovered_tag(s, owner, principal, q.now), &h);
    if (rc == 0) {
        agent_mark_live(d, h);
        agent_keep(d, h, login, len);
        if (agent_state == ROUTER_AGENT_STATE_AWAY)
            router_agent_set_state(s->router, q.now, sp.id, ROUTER_AGENT_AWAY,
                                   reason && *reason ? reason : NULL);
        /* an automatic care pause in progress: it ends one pause from now
         * (its remaining time was not stored) */
        if (agent_state == ROUTER_AGENT_STATE_AWAY)
            care_pause_restore(s->care, h, sp.id, reason, q.now);
    } else {
        log_warn("recovery: agent %s: %s", sp.id, ccr_strerror(rc));
    }
    drain(s, q.now, OWNER_NONE, NULL);
    d->loading = false;
out:
    arena_reset(s->arena);
}

void dispatch_load_contact(void *arg, const uint8_t *arrived, size_t len,
                           uint64_t arrived_wall_us, int contact_state,
                           const char *queue, const char *agent_id,
                           const char *owner, const char *principal)
{
    struct tenant *s = arg;
    struct dispatch *d = s->dispatch;
    struct req q = { .s = s, .d = d, .now = clock_mono_us() };
    struct router_contact_spec sp;
    Ccroute__V1__ContactArrived *m;
    uint64_t age_us, arrived_at;
    uint32_t h = UINT32_MAX, tag;
    int rc;

    m = ccroute__v1__contact_arrived__unpack(arena_allocator(s->arena), len,
                                             arrived);
    if (!m) {
        log_warn("recovery: a stored ContactArrived does not decode; skipped");
        goto out;
    }
    if (build_contact_spec(&q, m, &sp) < 0) {
        log_warn("recovery: contact skipped: %s", q.msg);
        goto out;
    }
    if (queue && *queue)
        sp.queue = queue;   /* where it was when saved (transfer, overflow) */
    /* One (wall, monotonic) pair for the whole load: every contact is
     * placed with the same offset, so the spacing and order of arrivals
     * are exactly those the engine that wrote them had. Reading the clocks
     * per contact made contacts about 1 ms apart swap. */
    if (!d->load_ref) {
        d->load_ref = true;
        d->load_wall_us = clock_wall_ms() * 1000;
        d->load_mono_us = q.now;
    }
    age_us = d->load_wall_us > arrived_wall_us
                 ? d->load_wall_us - arrived_wall_us : 0;
    arrived_at = d->load_mono_us > age_us ? d->load_mono_us - age_us : 0;
    if (arrived_at > q.now)
        arrived_at = q.now;
    tag = recovered_tag(s, owner, principal, q.now);
    d->loading = true;
    if (contact_state == ROUTER_CONTACT_ASSIGNED && agent_id && *agent_id)
        rc = router_contact_restore_assigned(s->router, q.now, &sp,
                                             arrived_at, agent_id, tag, &h);
    else
        rc = router_contact_restore(s->router, q.now, &sp, arrived_at,
                                    contact_state == ROUTER_CONTACT_OFFERED ?
                                    agent_id : NULL, tag, &h);
    if (rc == 0)
        outbound_contact_loaded(s->outbound, m->campaign, m->lead_id,
                                m->preview, sp.id);
    if (rc == 0 && h < d->ncontacts) {
        uint8_t *buf = malloc(len ? len : 1);
        side_clear(d, h);
        if (buf) {
            memcpy(buf, arrived, len);
            side_set(d, h, buf, len, (int)m->channel);
            if (m->campaign && *m->campaign)
                d->contacts[h].attr_off = FANOUT_ATTR_DECODE;
        }
        owner_contact_link(&d->owners, h, tag);
        care_contact_arrived(s->care, h, care_queue(s, sp.queue),
                             care_difficult_arrival(s->care, m->complaint,
                                                    m->sentiment));
        care_contact_product(s->care, h, m->product);
    } else if (rc < 0) {
        log_warn("recovery: contact %s: %s", sp.id, ccr_strerror(rc));
    }
    drain(s, q.now, CONN_ID_NONE, NULL);
    d->loading = false;
out:
    arena_reset(s->arena);
}

/* ---- ownership (store hooks) ---- */

/* Closes the connections of tenant s after its lease was lost. With one
 * tenant, every connection (those still before Hello too, as always);
 * with several, those bound to s: the others' clients are not concerned.
 * The ids are collected first because nothing may close during a walk. */
static void close_tenant_conns(struct tenant *s, const char *why)
{
    uint32_t cur = 0, *ids, n = 0;
    struct conn *c;
    if (s->set->n <= 1) {
        conn_close_all(s->conns, why);
        return;
    }
    if (!(ids = malloc(((size_t)s->conns->nconns + 1) * sizeof(*ids)))) {
        log_error("tenant %s: out of memory: closing every connection",
                  s->name);
        conn_close_all(s->conns, why);
        return;
    }
    while ((c = conn_set_next(s->conns, &cur)) && n <= s->conns->nconns)
        if (c->hello && c->tenant == s->index)
            ids[n++] = c->id;
    for (uint32_t i = 0; i < n; i++)
        if ((c = conn_lookup(s->conns, ids[i])))
            conn_close(c, why);
    free(ids);
}

void dispatch_on_role(void *arg, enum store_role role, const char *owner)
{
    struct tenant *s = arg;
    enum store_role was = s->role;
    const char *tn = s->set->n > 1 ? s->name : NULL;
    s->role = role;
    if (role == was)
        return;
    switch (role) {
    case STORE_ROLE_OWNER:
        s->dispatch->load_ref = false;      /* the load is over */
        grace_arm(s->dispatch);             /* expiries held while away */
        outbound_on_owner(s->outbound);     /* pacing may run */
        if (was == STORE_ROLE_SUSPENDED)
            log_info("store: %s%slease confirmed again; routing resumes",
                     tn ? tn : "", tn ? ": " : "");
        else
            log_info("store: this engine owns the tenant%s%s; serving "
                     "clients", tn ? " " : "", tn ? tn : "");
        break;
    case STORE_ROLE_SUSPENDED:
        break;                  /* the store said why, in one line */
    case STORE_ROLE_STANDBY:
        log_info("store: %s%sstandby (owner: %s)", tn ? tn : "",
                 tn ? ": " : "", owner && *owner ? owner : "?");
        if (was == STORE_ROLE_OWNER || was == STORE_ROLE_SUSPENDED)
            close_tenant_conns(s, "lease lost: this engine is now a "
                               "standby");
        break;
    case STORE_ROLE_NONE:
        log_info("store: %s%sownership unknown", tn ? tn : "",
                 tn ? ": " : "");
        if (was == STORE_ROLE_OWNER || was == STORE_ROLE_SUSPENDED)
            close_tenant_conns(s, "lease lost");
        break;
    }
}

/* The client name of owner record `tag` (a live connection's Hello name,
 * a gone one's in its grace period, or a recovered owner's); "" if none. */
static const char *tag_owner(struct tenant *s, uint32_t tag)
{
    const struct owner_rec *o = owner_get(&s->dispatch->owners, tag);
    return o ? o->name : "";
}

/* The principal name of owner record `tag`; "" if none or not known. */
static const char *tag_principal(struct tenant *s, uint32_t tag)
{
    const struct owner_rec *o = owner_get(&s->dispatch->owners, tag);
    return o ? principal_name(s, o->principal) : "";
}

void dispatch_snapshot(void *arg)
{
    struct tenant *s = arg;
    struct dispatch *d = s->dispatch;
    unsigned missing = 0;

    for (uint32_t h = 0; h < d->agent_hwm; h++) {
        if (!d->agent_live[h] || !router_agent_id(s->router, h))
            continue;
        uint32_t tag = router_agent_tag(s->router, h);
        if (!d->agents[h].packed ||
            store_snapshot_agent(s->store, h, d->agents[h].packed,
                                 d->agents[h].len, tag_owner(s, tag),
                                 tag_principal(s, tag)) < 0)
            missing++;
    }
    for (uint32_t h = 0; h < d->ncontacts; h++) {
        if (!d->contacts[h].packed || !router_contact_id(s->router, h))
            continue;
        uint32_t tag = router_contact_tag(s->router, h);
        if (store_snapshot_contact(s->store, h, d->contacts[h].packed,
                                   d->contacts[h].len, tag_owner(s, tag),
                                   tag_principal(s, tag)) < 0)
            missing++;
    }
    if (missing)
        log_error("store: %u contacts and agents could not be written back "
                  "(out of memory)", missing);
    outbound_snapshot(s->outbound);
}

/* ---- outbound hooks (outbound.h) ---- */

static struct conn *ob_conn_of(void *arg, const char *name, uint32_t *owner)
{
    struct tenant *s = arg;
    struct dispatch *d = s->dispatch;
    uint32_t id = owner_find(&d->owners, name);
    const struct owner_rec *o = owner_get(&d->owners, id);
    struct conn *c;
    if (!o || o->conn == CONN_ID_NONE ||
        !(c = conn_lookup(s->conns, o->conn)) || !c->hello ||
        c->tenant != s->index)
        return NULL;
    /* only a role that may answer with DialResult is a dialer: another
     * connection of the name (a monitor, an agent desk) is sent no lead's
     * number, and the campaign waits for its dialer */
    if (!((1u << c->role) & (R_DIALER | R_SWITCH)))
        return NULL;
    *owner = id;
    return c;
}

/* The contact of an answered outbound call, as h_contact_arrived makes
 * one: admitted first, then the router, the owner's list, Redis. */
static int ob_contact_make(void *arg, uint32_t owner, uint8_t *buf,
                           size_t len, int *code, char *msg, size_t msglen)
{
    struct tenant *s = arg;
    struct dispatch *d = s->dispatch;
    struct req q = { .s = s, .d = d, .now = clock_turn_us() };
    struct router_contact_spec sp;
    Ccroute__V1__ContactArrived *m;
    const char *oname = tag_owner(s, owner), *pname = tag_principal(s, owner);
    uint32_t h = UINT32_MAX;
    int rc = -1;

    m = ccroute__v1__contact_arrived__unpack(arena_allocator(s->arena), len,
                                             buf);
    if (!m) {
        req_fail(&q, EC(INTERNAL), "outbound contact does not decode");
        goto out;
    }
    if (build_contact_spec(&q, m, &sp) < 0)
        goto out;
    if ((rc = store_reserve(s->store, STORE_ADMIT_NEW,
                            len + strlen(oname) + strlen(pname) + 2)) < 0) {
        req_fail(&q, EC(STATE_UNAVAILABLE), "the answered call cannot be "
                 "recorded now (%s%s%s); nothing was changed, retry later",
                 ccr_strerror(rc), *store_why(s->store) ? ": " : "",
                 store_why(s->store));
        rc = -1;
        goto out;
    }
    rc = router_contact_arrive(s->router, q.now, &sp, owner, &h);
    if (rc < 0) {
        if (drain(s, q.now, owner, NULL) < 0)
            lost_record(s, "outbound contact");
        contact_fail(&q, rc, &sp);
        rc = -1;
        goto out;
    }
    owner_contact_link(&d->owners, h, owner);
    if (store_contact_arrived(s->store, sp.id, buf, len, clock_turn_wall_ms(),
                              oname, pname) < 0)
        log_error("contact %s: admitted but not recorded", sp.id);
    if (h < d->ncontacts) {
        side_set(d, h, buf, len, (int)m->channel);
        /* its Offer carries the campaign and lead: decoded (fanout.c) */
        d->contacts[h].attr_off = FANOUT_ATTR_DECODE;
        buf = NULL;
    }
    if (drain(s, q.now, owner, NULL) < 0)
        lost_record(s, "outbound contact");
    rc = 0;
out:
    free(buf);
    if (rc < 0) {
        *code = q.code;
        snprintf(msg, msglen, "%s", q.msg);
    }
    return rc;
}

static void ob_contact_end(void *arg, const char *id)
{
    struct tenant *s = arg;
    uint64_t now = clock_turn_us();
    if (router_contact_abandon(s->router, now, id) < 0)
        return;                 /* ended by its dialer already */
    if (drain(s, now, OWNER_NONE, NULL) < 0)
        lost_record(s, "outbound drop");
}

/* ---- callback hooks (callback.h) ---- */

static struct conn *cb_conn_of_owner(void *arg, uint32_t owner)
{
    struct tenant *s = arg;
    const struct owner_rec *o = owner_get(&s->dispatch->owners, owner);
    struct conn *c;
    if (!o || o->conn == CONN_ID_NONE ||
        !(c = conn_lookup(s->conns, o->conn)) || !c->hello ||
        c->tenant != s->index)
        return NULL;
    return c;
}

/* Takes the contact out of the router (router_contact_withdraw); its
 * CONTACT_GONE deletes its record from Redis and unlinks it from its
 * owner. The owner hears of it (ContactQueued) only when it is given up:
 * a held callback is what the owner asked for. */
static int cb_contact_hold(void *arg, const char *id, bool abandoned,
                           struct callback_saved *out, int *code, char *msg,
                           size_t msglen)
{
    struct tenant *s = arg;
    struct dispatch *d = s->dispatch;
    uint64_t now = clock_turn_us();
    struct router_contact_info ci;
    uint32_t h;
    int rc;

    if (router_contact_find(s->router, id, &h) < 0) {
        *code = EC(UNKNOWN_CONTACT);
        snprintf(msg, msglen, "unknown contact \"%.64s\"", id);
        return -1;
    }
    router_contact_info(s->router, h, &ci);
    if ((rc = store_reserve(s->store, STORE_ADMIT_CHANGE, 0)) < 0) {
        *code = EC(STATE_UNAVAILABLE);
        snprintf(msg, msglen, "the change cannot be recorded now (%s); "
                 "nothing was changed, retry later", ccr_strerror(rc));
        return -1;
    }
    if (out) {
        const struct contact_side *cs = h < d->ncontacts ? &d->contacts[h]
                                                         : NULL;
        memset(out, 0, sizeof(*out));
        if (!cs || !cs->packed || !(out->packed = malloc(cs->len))) {
            *code = EC(INTERNAL);
            snprintf(msg, msglen, "contact \"%.64s\": its ContactArrived is "
                     "not kept (out of memory)", id);
            return -1;
        }
        memcpy(out->packed, cs->packed, cs->len);
        out->len = cs->len;
        out->arrived_wall_ms = clock_mono_to_wall_ms(ci.arrived_at);
        snprintf(out->owner, sizeof(out->owner), "%s", tag_owner(s, ci.tag));
        snprintf(out->principal, sizeof(out->principal), "%s",
                 tag_principal(s, ci.tag));
    }
    if ((rc = router_contact_withdraw(s->router, now, id, abandoned)) < 0) {
        if (out) {
            free(out->packed);
            out->packed = NULL;
        }
        *code = EC(CALLBACK_STATE);
        snprintf(msg, msglen, "contact \"%.64s\" cannot leave its queue now "
                 "(%s)", id, ccr_strerror(rc));
        return -1;
    }
    if (drain(s, now, abandoned ? OWNER_NONE : ci.tag, NULL) < 0)
        lost_record(s, "callback");
    return 0;
}

/* Makes the held contact again, as recovery does (dispatch_load_contact):
 * its original arrival time, its owner's record (made in its grace
 * period if the owner is gone), then Redis. */
static int cb_contact_back(void *arg, const struct callback_saved *sv,
                           int *code, char *msg, size_t msglen)
{
    struct tenant *s = arg;
    struct dispatch *d = s->dispatch;
    struct req q = { .s = s, .d = d, .now = clock_turn_us() };
    struct router_contact_spec sp;
    Ccroute__V1__ContactArrived *m;
    uint64_t wall_ms = clock_turn_wall_ms(), age_us, arrived_at;
    uint32_t h = UINT32_MAX, tag;
    uint8_t *buf = NULL;
    int rc = -1;

    m = ccroute__v1__contact_arrived__unpack(arena_allocator(s->arena),
                                             sv->len, sv->packed);
    if (!m) {
        req_fail(&q, EC(INTERNAL), "the held ContactArrived does not decode");
        goto out;
    }
    if (build_contact_spec(&q, m, &sp) < 0)
        goto out;
    if ((rc = store_reserve(s->store, STORE_ADMIT_NEW, sv->len +
                            strlen(sv->owner) + strlen(sv->principal) + 2))
        < 0) {
        req_fail(&q, EC(STATE_UNAVAILABLE), "cannot be recorded now (%s)",
                 ccr_strerror(rc));
        rc = -1;
        goto out;
    }
    if (!(buf = malloc(sv->len ? sv->len : 1))) {
        req_fail(&q, EC(INTERNAL), "out of memory");
        rc = -1;
        goto out;
    }
    memcpy(buf, sv->packed, sv->len);
    age_us = wall_ms > sv->arrived_wall_ms
                 ? (wall_ms - sv->arrived_wall_ms) * 1000 : 0;
    arrived_at = q.now > age_us ? q.now - age_us : 0;
    tag = recovered_tag(s, sv->owner, sv->principal, q.now);
    rc = router_contact_restore(s->router, q.now, &sp, arrived_at, NULL, tag,
                                &h);
    if (rc < 0) {
        contact_fail(&q, rc, &sp);
        rc = -1;
        goto out;
    }
    owner_contact_link(&d->owners, h, tag);
    if (store_contact_arrived(s->store, sp.id, buf, sv->len,
                              sv->arrived_wall_ms, sv->owner,
                              sv->principal) < 0)
        log_error("contact %s: back in its queue but not recorded", sp.id);
    if (h < d->ncontacts) {
        side_set(d, h, buf, sv->len, (int)m->channel);
        buf = NULL;
    }
    if (drain(s, q.now, tag, NULL) < 0)
        lost_record(s, "callback");
    rc = 0;
out:
    free(buf);
    arena_reset(s->arena);
    if (rc < 0) {
        *code = q.code;
        snprintf(msg, msglen, "%s", q.msg);
    }
    return rc;
}

/* ---- life cycle ---- */

struct dispatch *dispatch_new(struct tenant *s)
{
    struct dispatch *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->srv = s;
    d->ncontacts = s->cfg->router.max_contacts ? s->cfg->router.max_contacts
                                               : 100000;
    d->nagents = s->cfg->router.max_agents ? s->cfg->router.max_agents
                                           : 10000;
    d->contacts = calloc(d->ncontacts, sizeof(*d->contacts));
    d->agent_live = calloc(d->nagents, 1);
    d->agents = calloc(d->nagents, sizeof(*d->agents));
    if (!d->contacts || !d->agent_live || !d->agents ||
        owner_index_init(&d->owners, &s->cfg->auth, d->ncontacts,
                         d->nagents) < 0) {
        dispatch_free(d);
        return NULL;
    }
    d->fan = (struct fanout){
        .srv = s, .owners = &d->owners, .contacts = d->contacts,
        .ncontacts = d->ncontacts, .agent_live = d->agent_live,
        .agents = d->agents, .nagents = d->nagents,
    };
    {
        struct outbound_hooks oh = {
            .arg = s, .conn_of = ob_conn_of,
            .contact_make = ob_contact_make, .contact_end = ob_contact_end,
            .cb = { .arg = s, .conn_of_owner = cb_conn_of_owner,
                    .contact_hold = cb_contact_hold,
                    .contact_back = cb_contact_back },
        };
        if (!(s->outbound = outbound_new(s, &oh))) {
            dispatch_free(d);
            return NULL;
        }
    }
    uv_timer_init(s->loop, &d->grace_timer);
    d->grace_timer.data = d;
    d->grace_open = true;
    auth_gate_init(&d->gate, s->loop, s->conns, &s->cfg->auth);
    return d;
}

void dispatch_close(struct dispatch *d)
{
    if (d->grace_open) {
        d->grace_open = false;
        uv_close((uv_handle_t *)&d->grace_timer, NULL);
    }
    auth_gate_close(&d->gate);
    outbound_close(d->srv->outbound);
}

void dispatch_reset(struct dispatch *d)
{
    for (uint32_t i = 0; i < d->ncontacts; i++) {
        free(d->contacts[i].packed);
        d->contacts[i].packed = NULL;
        d->contacts[i].len = 0;
    }
    memset(d->agent_live, 0, d->nagents);
    for (uint32_t i = 0; i < d->nagents; i++) {
        free(d->agents[i].packed);
        d->agents[i].packed = NULL;
        d->agents[i].len = 0;
    }
    d->agent_hwm = 0;
    d->load_ref = false;
    owner_index_reset(&d->owners);
    if (d->srv->outbound)
        outbound_reset(d->srv->outbound);
    if (d->grace_open)
        uv_timer_stop(&d->grace_timer);
}

void dispatch_free(struct dispatch *d)
{
    if (!d)
        return;
    if (d->contacts)
        for (uint32_t i = 0; i < d->ncontacts; i++)
            free(d->contacts[i].packed);
    free(d->contacts);
    free(d->agent_live);
    if (d->agents)
        for (uint32_t i = 0; i < d->nagents; i++)
            free(d->agents[i].packed);
    free(d->agents);
    if (d->owners.recs)
        owner_index_fini(&d->owners);
    while (d->free_recs) {
        struct barrier_rec *r = d->free_recs;
        d->free_recs = r->next;
        free(r);
    }
    free(d->scratch);
    if (d->srv && d->srv->outbound) {
        outbound_free(d->srv->outbound);
        d->srv->outbound = NULL;
    }
    free(d);
}
