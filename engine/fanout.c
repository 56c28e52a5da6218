/* fanout.c -- router events into protocol messages; see fanout.h.
 *
 * The hot messages (ContactQueued, Offer, ContactAssigned) are written by
 * the hand-written encoders (encode.h) straight into the connection's
 * output: strings borrowed from the router until router_out_clear(), an
 * Offer's attributes copied from the contact's packed ContactArrived. A
 * message for two connections is encoded once and copied. OfferRevoked
 * goes through protobuf-c (conn_send). Nothing here allocates on the
 * routing path.
 */
#include "fanout.h"

#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "ccroute.pb-c.h"
#include "clock.h"
#include "config.h"
#include "conn.h"
#include "encode.h"
#include "lathist.h"
#include "outbound.h"
#include "owner.h"
#include "router.h"
#include "tenant-t.h"
#include "store.h"

#define BODY(x) CCROUTE__V1__ENVELOPE__BODY_##x

typedef Ccroute__V1__Envelope envelope_t;

const char *fanout_queue_name(const struct fanout *f, int q)
{
    const char *n = q >= 0 ? router_queue_name(f->srv->router, q) : NULL;
    return n ? n : "";
}

/* Copies an id or name into a ROUTER_ID_MAX buffer, truncating. On the
 * accept path, where snprintf's format machinery showed in profiles. */
static void id_copy(char dst[ROUTER_ID_MAX], const char *src)
{
    size_t n = strnlen(src, ROUTER_ID_MAX - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Sends env to the live connections with ids c1 and c2, once if the
 * same. */
static void send_conns(struct fanout *f, uint32_t c1, uint32_t c2,
                       const envelope_t *env)
{
    struct conn_set *cs = f->srv->conns;
    struct conn *a = conn_lookup(cs, c1), *b = conn_lookup(cs, c2);
    if (a)
        conn_send(a, env);
    if (b && b != a)
        conn_send(b, env);
}

/* An encoder of one frame (encode.h), with its message. */
typedef void (*encode_fn)(uint8_t *out, const void *m);

static void enc_queued(uint8_t *out, const void *m)
{
    encode_queued(out, m);
}

static void enc_assigned(uint8_t *out, const void *m)
{
    encode_assigned(out, m);
}

static void enc_offer(uint8_t *out, const void *m)
{
    encode_offer(out, m);
}

/* Writes the `size`-byte frame that enc makes of m into the output of
 * the live connections with ids c1 and c2 (once if the same): encoded
 * into the first, copied into the second. */
static void send_encoded(struct fanout *f, uint32_t c1, uint32_t c2,
                         size_t size, encode_fn enc, const void *m)
{
    struct conn_set *cs = f->srv->conns;
    struct conn *a = conn_lookup(cs, c1), *b = conn_lookup(cs, c2);
    uint8_t *pa = NULL, *pb;
    if (a && (pa = conn_out_reserve(a, size))) {
        enc(pa, m);
        conn_out_commit(a, size);
    }
    if (b && b != a && (pb = conn_out_reserve(b, size))) {
        if (pa)
            memcpy(pb, pa, size);
        else
            enc(pb, m);
        conn_out_commit(b, size);
    }
}

/* Sends env to the connections of owner records o1 and o2. */
static void send_owners(struct fanout *f, uint32_t o1, uint32_t o2,
                        const envelope_t *env)
{
    send_conns(f, owner_conn(f->owners, o1), owner_conn(f->owners, o2), env);
}

void fanout_send_contact_queued(struct fanout *f, struct conn *c,
                                uint64_t request_id, const char *id,
                                const char *queue, int status)
{
    struct router *r = f->srv->router;
    struct encode_queued m = {
        .request_id = request_id, .contact_id = id, .queue = queue,
        .status = status,
    };
    if (status == CCROUTE__V1__CONTACT_STATUS__CONTACT_STATUS_QUEUED) {
        struct router_contact_info info;
        uint32_t h;
        if (router_contact_find(r, id, &h) == 0) {
            router_contact_info(r, h, &info);
            m.unservable = info.unservable;
        }
    }
    send_encoded(f, c->id, CONN_ID_NONE, encode_queued_size(&m), enc_queued,
                 &m);
}

/* A gone contact's final status to its owner (tag). */
static void send_gone(struct fanout *f, uint32_t tag,
                      const struct router_event *ev)
{
    struct encode_queued m = {
        .contact_id = router_contact_id(f->srv->router, ev->contact),
        .queue = fanout_queue_name(f, ev->queue),
        .status = (int)ev->u.gone,
    };
    send_encoded(f, owner_conn(f->owners, tag), CONN_ID_NONE,
                 encode_queued_size(&m), enc_queued, &m);
}

/* A router QUEUED event as a ContactQueued event to the contact's owner
 * (tag): the contact waits (again), at ev->position. */
static void send_queued_event(struct fanout *f, uint32_t tag,
                              const struct router_event *ev)
{
    struct encode_queued m = {
        .contact_id = router_contact_id(f->srv->router, ev->contact),
        .queue = fanout_queue_name(f, ev->queue),
        .position = ev->position,
        .estimated_wait_ms = ev->est_wait_ms,
        .status = CCROUTE__V1__CONTACT_STATUS__CONTACT_STATUS_QUEUED,
        .unservable = ev->unservable,
    };
    send_encoded(f, owner_conn(f->owners, tag), CONN_ID_NONE,
                 encode_queued_size(&m), enc_queued, &m);
}

void fanout_send_assigned(struct fanout *f, const struct fanout_assigned *a)
{
    struct encode_assigned m = {
        .contact_id = a->contact, .agent_id = a->agent, .queue = a->queue,
    };
    send_encoded(f, a->owner_conn, a->agent_conn, encode_assigned_size(&m),
                 enc_assigned, &m);
}

/* The Offer m through protobuf-c, its attributes unpacked from the side
 * table into the server's arena (reset by the caller): for stored bytes
 * whose attributes are not the run at their end that encode_offer()
 * copies (see encode_attr_offset; never the case for bytes the engine
 * packed or checked itself). */
static void send_offer_decoded(struct fanout *f, uint32_t conn_id,
                               const struct encode_offer *e,
                               const struct contact_side *cs)
{
    struct tenant *s = f->srv;
    struct conn *c = conn_lookup(s->conns, conn_id);
    envelope_t env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Offer m = CCROUTE__V1__OFFER__INIT;
    Ccroute__V1__ContactArrived *ca = ccroute__v1__contact_arrived__unpack(
        arena_allocator(s->arena), cs->len, cs->packed);

    if (!c)
        return;
    m.contact_id = (char *)e->contact_id;
    m.agent_id = (char *)e->agent_id;
    m.queue = (char *)e->queue;
    m.deadline_ms = e->deadline_ms;
    m.channel = (Ccroute__V1__Channel)e->channel;
    if (ca) {
        m.n_attributes = ca->n_attributes;
        m.attributes = ca->attributes;
        /* an outbound contact: its campaign and lead (an engine-made
         * ContactArrived always takes this path: its fields 16-19 follow
         * the attributes) */
        if (ca->campaign && *ca->campaign) {
            m.campaign = ca->campaign;
            m.lead_id = ca->lead_id;
            m.preview = ca->preview;
            m.number = ca->customer_id;
        }
    }
    env.body_case = BODY(OFFER);
    env.offer = &m;
    conn_send(c, &env);
}

static void send_offer(struct fanout *f, const struct router_event *ev)
{
    struct tenant *s = f->srv;
    struct router *r = s->router;
    struct router_contact_info info;
    uint32_t cid = owner_conn(f->owners, router_agent_tag(r, ev->agent));
    struct encode_offer m = {
        .contact_id = router_contact_id(r, ev->contact),
        .agent_id = router_agent_id(r, ev->agent),
        .queue = fanout_queue_name(f, ev->queue),
        .deadline_ms = clock_mono_to_wall_ms(ev->deadline),
    };

    if (!conn_lookup(s->conns, cid))
        return;
    /* the channel the router routes it on: a contact sent without one is
     * a voice contact (the documented default), and the Offer says so */
    router_contact_info(r, ev->contact, &info);
    m.channel = (int)info.channel + 1;
    if (ev->contact < f->ncontacts && f->contacts[ev->contact].packed) {
        const struct contact_side *cs = &f->contacts[ev->contact];
        if (cs->attr_off != FANOUT_ATTR_DECODE) {
            m.attrs = cs->packed + cs->attr_off;
            m.attrs_len = cs->len - cs->attr_off;
        } else {
            send_offer_decoded(f, cid, &m, cs);
            return;
        }
    }
    send_encoded(f, cid, CONN_ID_NONE, encode_offer_size(&m), enc_offer, &m);
}

int fanout_drain(struct fanout *f, uint64_t now, uint32_t requester,
                 struct fanout_assigned *defer, bool record)
{
    int rc = 0;
    struct tenant *s = f->srv;
    struct router *r = s->router;
    size_t n = router_out_count(r);

    for (size_t i = 0; i < n; i++) {
        const struct router_event *ev = router_out_get(r, i);
        uint32_t ctag = ev->contact != UINT32_MAX
                            ? router_contact_tag(r, ev->contact) : OWNER_NONE;
        uint32_t atag = ev->agent != UINT32_MAX
                            ? router_agent_tag(r, ev->agent) : OWNER_NONE;
        switch (ev->type) {
        case ROUTER_EV_QUEUED:
            send_queued_event(f, ctag, ev);
            break;
        case ROUTER_EV_MOVED:
            /* the QUEUED event that follows every move tells the owner:
             * one ContactQueued per move, with its position */
            break;
        case ROUTER_EV_OFFER: {
            struct router_contact_info ci;
            uint64_t t = clock_mono_us();
            router_contact_info(r, ev->contact, &ci);
            lathist_observe(&s->set->routing_latency,
                            t > ci.arrived_at ? t - ci.arrived_at : 0);
            if (s->outbound)
                outbound_contact_offered(s->outbound, ev->contact, ev->agent);
            send_offer(f, ev);
            break;
        }
        case ROUTER_EV_REVOKED: {
            envelope_t env = CCROUTE__V1__ENVELOPE__INIT;
            Ccroute__V1__OfferRevoked m = CCROUTE__V1__OFFER_REVOKED__INIT;
            m.contact_id = (char *)router_contact_id(r, ev->contact);
            m.agent_id = (char *)router_agent_id(r, ev->agent);
            m.reason = (Ccroute__V1__RevokeReason)ev->u.revoke;
            env.body_case = BODY(OFFER_REVOKED);
            env.offer_revoked = &m;
            send_owners(f, ctag, atag, &env);
            break;
        }
        case ROUTER_EV_ASSIGNED:
            if (defer && !defer->assigned) {
                defer->assigned = true;
                defer->owner_conn = owner_conn(f->owners, ctag);
                defer->agent_conn = owner_conn(f->owners, atag);
                id_copy(defer->contact, router_contact_id(r, ev->contact));
                id_copy(defer->agent, router_agent_id(r, ev->agent));
                id_copy(defer->queue, fanout_queue_name(f, ev->queue));
            } else {
                struct fanout_assigned a = {
                    .owner_conn = owner_conn(f->owners, ctag),
                    .agent_conn = owner_conn(f->owners, atag),
                };
                id_copy(a.contact, router_contact_id(r, ev->contact));
                id_copy(a.agent, router_agent_id(r, ev->agent));
                id_copy(a.queue, fanout_queue_name(f, ev->queue));
                fanout_send_assigned(f, &a);
            }
            break;
        case ROUTER_EV_CONTACT_GONE:
            if (ctag != requester)
                send_gone(f, ctag, ev);
            break;
        case ROUTER_EV_AGENT_STATE:
        case ROUTER_EV_REJECTED:
            break;
        }
    }
    /* Second pass, after every message: a gone contact or agent leaves
     * its owner's list (which may free the record) only once no event of
     * this list needs the owner any more. */
    for (size_t i = 0; i < n; i++) {
        const struct router_event *ev = router_out_get(r, i);
        if (ev->type == ROUTER_EV_CONTACT_GONE) {
            owner_contact_unlink(f->owners, ev->contact);
            if (ev->contact < f->ncontacts) {
                free(f->contacts[ev->contact].packed);
                f->contacts[ev->contact].packed = NULL;
                f->contacts[ev->contact].len = 0;
            }
        } else if (ev->type == ROUTER_EV_AGENT_STATE &&
                   ev->u.agent_state == ROUTER_AGENT_STATE_LOGGED_OUT) {
            owner_agent_unlink(f->owners, ev->agent);
            if (ev->agent < f->nagents) {
                f->agent_live[ev->agent] = 0;
                free(f->agents[ev->agent].packed);
                f->agents[ev->agent].packed = NULL;
                f->agents[ev->agent].len = 0;
            }
        }
    }
    if (record && n > 0)
        rc = store_record(s->store, now, s->cfg->store.enabled
                                         ? clock_turn_wall_ms() : 0);
    router_out_clear(r);
    return rc;
}

unsigned fanout_resend_offers(struct fanout *f, uint32_t owner)
{
    struct router *r = f->srv->router;
    struct router_contact_info ci;
    struct router_agent_info ai;
    uint64_t now = clock_turn_us();
    unsigned n = 0, pending = 0;

    for (uint32_t h = owner_agents_first(f->owners, owner); h != UINT32_MAX;
         h = owner_agents_next(f->owners, h)) {
        router_agent_info(r, h, now, &ai);
        pending += ai.offers;
    }
    if (!pending)
        return 0;
    /* The router has no per-agent offer list; the side table marks every
     * live contact, so this is one pass over the contact slots, only for
     * a re-attach whose agents have offers out -- never on the routing
     * path. */
    for (uint32_t h = 0; h < f->ncontacts && n < pending; h++) {
        if (!f->contacts[h].packed)
            continue;
        router_contact_info(r, h, &ci);
        if (ci.state != ROUTER_CONTACT_OFFERED || ci.agent == UINT32_MAX ||
            router_agent_tag(r, ci.agent) != owner)
            continue;
        struct router_event ev = {
            .type = ROUTER_EV_OFFER, .contact = h, .agent = ci.agent,
            .queue = ci.queue, .deadline = ci.deadline,
        };
        send_offer(f, &ev);
        n++;
    }
    return n;
}
