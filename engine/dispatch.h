/* dispatch.h -- requests in, protocol messages out.
 *
 * dispatch_frame() decodes one frame (protobuf-c into the server's arena),
 * runs the checks every request shares -- Hello first, role rights,
 * known body case -- from one table (body case -> handler, roles, flags),
 * and calls the handler. Hello decides the connection's principal
 * (auth.h); each handler checks, through owner.h, that the principal may
 * act on the contact or agent it names (docs/security.md). Handlers validate their fields, have the store
 * admit the change (req_admit -> store_reserve: a refusal is
 * STATE_UNAVAILABLE with the router untouched), call the router, and
 * answer: Ack from a store barrier callback for every request that changes
 * state (so the Ack promises durability), Ack at once for Hello and
 * StatsRequest, or Error with a specific ErrorCode. Exactly one Ack or
 * Error per request, always after the events the request caused.
 *
 * Every request of a principal with a requests-per-second quota takes a
 * token first (owner.h); an empty bucket is RATE_LIMITED.
 *
 * After every router call the router's output list is fanned out
 * (fanout.h): each event becomes protocol messages for the connections
 * of the contact's and agent's owner records (the router's tags), then
 * store_record() persists it and router_out_clear() forgets it.
 *
 * Also here: the contact side table (packed ContactArrived per router
 * handle, for Offer attributes and persistence), the grace period of owner
 * records whose connection has gone (timer at the head of the owner
 * index's grace FIFO), the store's recovery hooks.
 */
#ifndef CCROUTE_DISPATCH_H
#define CCROUTE_DISPATCH_H

#include <stddef.h>
#include <stdint.h>
#include "store-t.h"

struct tenant;
struct conn;

/* Creates the dispatch state for s (router must exist). NULL on ENOMEM. */
struct dispatch *dispatch_new(struct tenant *s);
void dispatch_free(struct dispatch *d);
/* Forgets every contact and agent (side tables, owner records without a
 * connection, grace periods) because the
 * router they belong to is being replaced (store on_reset). */
void dispatch_reset(struct dispatch *d);
/* Closes dispatch's own handles (grace timer); part of server_stop(). */
void dispatch_close(struct dispatch *d);

/* Handles one frame's payload from c (borrowed until return). The owner of
 * the connections (server.c) calls it from their on_frame callback, with
 * c's tenant, or the default tenant before Hello: a Hello moves the
 * connection to the tenant it names (c->tenant). */
void dispatch_frame(struct tenant *s, struct conn *c, const uint8_t *payload,
                    size_t len);
/* c is closing (from the connections' on_close callback): its owner
 * record forgets it and, when it holds anything, starts its grace period.
 * O(1): nothing is scanned. */
void dispatch_conn_closed(struct tenant *s, struct conn *c);
/* The router timer fired: router_tick() and fan out. */
void dispatch_tick(struct tenant *s);
/* Fans out and records the router's output outside a request or a timer:
 * after a configuration reload (server.c). */
void dispatch_flush(struct tenant *s);

/* Store recovery hooks (store_hooks.load_agent / load_contact); `arg` is
 * the struct tenant. A contact or agent with an `owner` (client name) is
 * kept for that client, which re-attaches it with Hello{reattach} within
 * the grace period (else it is abandoned / logged out); an empty owner
 * leaves it unowned. */
void dispatch_load_agent(void *arg, const uint8_t *login, size_t len,
                         int agent_state, const char *reason,
                         const char *owner, const char *principal);
/* Contacts come in their original order; every contact of one load is
 * placed with one (wall, monotonic) pair of clock readings, so arrivals
 * keep their exact spacing and order (docs/redis.md, Recovery). */
void dispatch_load_contact(void *arg, const uint8_t *arrived, size_t len,
                           uint64_t arrived_wall_us, int contact_state,
                           const char *queue, const char *agent_id,
                           const char *owner, const char *principal);
/* store_hooks.on_role: OWNER serves; SUSPENDED keeps every connection but
 * routes nothing and refuses changes (the store refuses their admission);
 * STANDBY or NONE after OWNER / SUSPENDED closes the tenant's connections
 * (another engine owns the tenant now): every connection when the engine
 * has one tenant, those bound to this tenant when it has several. `arg`
 * is the struct tenant. */
void dispatch_on_role(void *arg, enum store_role role, const char *owner);
/* store_hooks.snapshot: hands the store every live contact and logged-in
 * agent (store_snapshot_contact / _agent) for a full rewrite. */
void dispatch_snapshot(void *arg);

#endif
