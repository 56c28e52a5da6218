/* fanout.c -- router events into protocol messages; see fanout.h.
 *
 * Every message is built on the stack (strings borrowed from the router
 * until router_out_clear(), Offer attributes unpacked into the server's
 * arena, which the caller resets) and queued on the connection with
 * conn_send(); nothing here allocates on the routing path.
 */
#include "fanout.h"

#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "ccroute.pb-c.h"
#include "clock.h"
#include "conn.h"
#include "owner.h"
#include "router.h"
#include "server-t.h"
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
    struct conn_set *cs = &f->srv->conns;
    struct conn *a = conn_lookup(cs, c1), *b = conn_lookup(cs, c2);
    if (a)
        conn_send(a, env);
    if (b && b != a)
        conn_send(b, env);
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
    envelope_t env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactQueued m = CCROUTE__V1__CONTACT_QUEUED__INIT;
    m.contact_id = (char *)id;
    m.queue = (char *)queue;
    m.status = (Ccroute__V1__ContactStatus)status;
    if (status == CCROUTE__V1__CONTACT_STATUS__CONTACT_STATUS_QUEUED) {
        struct router_contact_info info;
        uint32_t h;
        if (router_contact_find(r, id, &h) == 0) {
            router_contact_info(r, h, &info);
            m.unservable = info.unservable;
        }
    }
    env.request_id = request_id;
    env.body_case = BODY(CONTACT_QUEUED);
    env.contact_queued = &m;
    conn_send(c, &env);
}

/* A gone contact's final status to its owner (tag). */
static void send_gone(struct fanout *f, uint32_t tag,
                      const struct router_event *ev)
{
    envelope_t env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactQueued m = CCROUTE__V1__CONTACT_QUEUED__INIT;
    m.contact_id = (char *)router_contact_id(f->srv->router, ev->contact);
    m.queue = (char *)fanout_queue_name(f, ev->queue);
    m.status = (Ccroute__V1__ContactStatus)ev->u.gone;
    env.body_case = BODY(CONTACT_QUEUED);
    env.contact_queued = &m;
    send_owners(f, tag, OWNER_NONE, &env);
}

/* A router QUEUED event as a ContactQueued event to the contact's owner
 * (tag): the contact waits (again), at ev->position. */
static void send_queued_event(struct fanout *f, uint32_t tag,
                              const struct router_event *ev)
{
    envelope_t env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactQueued m = CCROUTE__V1__CONTACT_QUEUED__INIT;
    m.contact_id = (char *)router_contact_id(f->srv->router, ev->contact);
    m.queue = (char *)fanout_queue_name(f, ev->queue);
    m.position = ev->position;
    m.estimated_wait_ms = ev->est_wait_ms;
    m.status = CCROUTE__V1__CONTACT_STATUS__CONTACT_STATUS_QUEUED;
    m.unservable = ev->unservable;
    env.body_case = BODY(CONTACT_QUEUED);
    env.contact_queued = &m;
    send_owners(f, tag, OWNER_NONE, &env);
}

void fanout_send_assigned(struct fanout *f, const struct fanout_assigned *a)
{
    envelope_t env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactAssigned m = CCROUTE__V1__CONTACT_ASSIGNED__INIT;
    m.contact_id = (char *)a->contact;
    m.agent_id = (char *)a->agent;
    m.queue = (char *)a->queue;
    env.body_case = BODY(CONTACT_ASSIGNED);
    env.contact_assigned = &m;
    send_conns(f, a->owner_conn, a->agent_conn, &env);
}

static void send_offer(struct fanout *f, const struct router_event *ev)
{
    struct server *s = f->srv;
    struct router *r = s->router;
    envelope_t env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Offer m = CCROUTE__V1__OFFER__INIT;
    struct conn *c = conn_lookup(&s->conns,
                                 owner_conn(f->owners,
                                            router_agent_tag(r, ev->agent)));

    if (!c)
        return;
    m.contact_id = (char *)router_contact_id(r, ev->contact);
    m.agent_id = (char *)router_agent_id(r, ev->agent);
    m.queue = (char *)fanout_queue_name(f, ev->queue);
    m.deadline_ms = clock_mono_to_wall_ms(ev->deadline);
    /* the channel the router routes it on: a contact sent without one is
     * a voice contact (the documented default), and the Offer says so */
    struct router_contact_info info;
    router_contact_info(r, ev->contact, &info);
    m.channel = (Ccroute__V1__Channel)(info.channel + 1);
    if (ev->contact < f->ncontacts && f->contacts[ev->contact].packed) {
        struct contact_side *cs = &f->contacts[ev->contact];
        Ccroute__V1__ContactArrived *ca = ccroute__v1__contact_arrived__unpack(
            arena_allocator(&s->arena), cs->len, cs->packed);
        if (ca) {
            m.n_attributes = ca->n_attributes;
            m.attributes = ca->attributes;
        }
    }
    env.body_case = BODY(OFFER);
    env.offer = &m;
    conn_send(c, &env);
}

int fanout_drain(struct fanout *f, uint64_t now, uint32_t requester,
                 struct fanout_assigned *defer, bool record)
{
    int rc = 0;
    struct server *s = f->srv;
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
        case ROUTER_EV_OFFER:
            send_offer(f, ev);
            break;
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
        rc = store_record(s->store, now, clock_wall_ms());
    router_out_clear(r);
    return rc;
}

unsigned fanout_resend_offers(struct fanout *f, uint32_t owner)
{
    struct router *r = f->srv->router;
    struct router_contact_info ci;
    struct router_agent_info ai;
    uint64_t now = clock_mono_us();
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
