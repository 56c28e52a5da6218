/* fanout.h -- router events into protocol messages.
 *
 * After every router call the caller (dispatch.c) drains the router's
 * output list through fanout_drain(): each event becomes messages for the
 * connections that own its contact and agent -- the router's tag of each
 * is an owner record id (owner.h), resolved tag -> record -> live
 * connection id -> conn_lookup(), O(1) -- then store_record() persists
 * the list and router_out_clear() forgets it. What an event says:
 *
 *   QUEUED        ContactQueued to the contact's owner (MOVED sends
 *                 nothing: a QUEUED follows every move)
 *   OFFER         Offer to the agent's owner, with the router's channel
 *                 and the attributes from the contact side table
 *   REVOKED       OfferRevoked to both owners (once when the same)
 *   ASSIGNED      ContactAssigned to both, or captured for a barrier
 *                 callback (struct fanout_assigned) to go with the Ack
 *   CONTACT_GONE  ContactQueued with the final status to the contact's
 *                 owner, unless the owner's own request caused it
 *
 * An owner without a live connection (grace period) resolves to nothing
 * and the message is dropped; a re-attach sends pending Offers again
 * (fanout_resend_offers). After the messages, gone contacts and logged-out
 * agents leave their owner's lists and the side table.
 *
 * The contact side table (packed ContactArrived per router contact handle)
 * and the live-agent marks belong to dispatch.c, which allocates them;
 * fanout borrows them (struct fanout) to read Offer attributes and to
 * forget gone contacts and agents. Data flows one way: dispatch -> fanout
 * -> owner, conn, store; fanout calls nothing above it.
 */
#ifndef CCROUTE_FANOUT_H
#define CCROUTE_FANOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "conn-t.h"
#include "router-t.h"

struct tenant;
struct owner_index;

struct contact_side {
    uint8_t *packed;          /* packed ContactArrived, malloc'd */
    uint32_t len;
    uint32_t attr_off;        /* its attribute entries: packed[attr_off..len)
                                 (encode_attr_offset); FANOUT_ATTR_DECODE
                                 when they must be decoded instead */
    uint8_t channel;          /* Ccroute__V1__Channel */
};

#define FANOUT_ATTR_DECODE UINT32_MAX

/* The packed AgentLogin of a logged-in agent, malloc'd: what a full
 * rewrite of the state (store on lost state, dispatch_snapshot) needs. */
struct agent_side {
    uint8_t *packed;
    uint32_t len;
};

struct fanout {
    struct tenant *srv;                 /* borrowed */
    struct owner_index *owners;         /* borrowed */
    struct contact_side *contacts;      /* borrowed: by contact handle */
    uint32_t ncontacts;
    uint8_t *agent_live;                /* borrowed: by agent handle */
    struct agent_side *agents;          /* borrowed: by agent handle */
    uint32_t nagents;
};

/* An ASSIGNED event kept for a barrier callback: the connection ids of
 * the two owners when it happened (ids, never pointers: they may go). */
struct fanout_assigned {
    bool assigned;
    uint32_t owner_conn, agent_conn;
    char contact[ROUTER_ID_MAX], agent[ROUTER_ID_MAX], queue[ROUTER_ID_MAX];
};

/* Turns the router's output list into messages, then (when `record`)
 * persists it with store_record(), then clears it. `requester` is the
 * owner record of the connection whose request caused it (OWNER_NONE for
 * none); `defer`, when not NULL, captures the first ASSIGNED event.
 * Returns 0, or store_record()'s error when the events could not be
 * recorded (the messages went out all the same: the router has made the
 * change). */
int fanout_drain(struct fanout *f, uint64_t now, uint32_t requester,
                 struct fanout_assigned *defer, bool record);

/* Sends a captured ASSIGNED (barrier callback). */
void fanout_send_assigned(struct fanout *f, const struct fanout_assigned *a);

/* Sends a ContactQueued answering request `request_id` of c (a duplicate
 * ContactArrived): the strings are borrowed for the call; `status` a
 * Ccroute__V1__ContactStatus (for QUEUED the unservable flag is looked
 * up). */
void fanout_send_contact_queued(struct fanout *f, struct conn *c,
                                uint64_t request_id, const char *id,
                                const char *queue, int status);

/* Record `owner` was re-attached by a new connection: every Offer still
 * pending for one of its agents goes to it again. O(agents it holds), and
 * one pass over the contact slots only when one of them has an offer
 * pending. Returns the count sent. */
unsigned fanout_resend_offers(struct fanout *f, uint32_t owner);

/* A queue's name ("" for none). Borrowed from the router. */
const char *fanout_queue_name(const struct fanout *f, int queue);

#endif
