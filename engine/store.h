/* store.h -- durable, shared state in Redis (interface).
 *
 * The router knows nothing about Redis. The engine hands the store what the
 * router did (its output list) and the request data the router does not
 * keep (the packed ContactArrived / AgentLogin, which carry attributes); the
 * store turns them into Redis commands, gathers them for the current loop
 * turn and sends them in one pipelined, fenced batch from store_flush(),
 * which the engine calls once per loop turn *before* it writes replies to
 * clients (persistence first, then replies).
 *
 * Durability: a request whose acknowledgement promises durability asks for
 * a barrier: store_barrier() calls back once every write queued so far has
 * been confirmed by Redis (durability: redis) or at the next flush
 * (durability: memory). The engine sends the Ack in that callback.
 *
 * Ownership of a tenant: a lease key with a fencing token. Only the owner
 * writes; a standby watches the lease and takes over when it lapses, loads
 * the state into the router through the load hooks, then reports OWNER.
 *
 * Errors: 0 or a negative STORE_E* code.
 *
 * The program must ignore SIGPIPE (ccrouted does): the store writes its
 * batches to the Redis socket itself (engine/redisuv.h), and a write to a
 * connection that Redis has just closed would otherwise end the process
 * instead of failing with EPIPE (a reconnect).
 */
#ifndef CCROUTE_STORE_H
#define CCROUTE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "store-t.h"

struct router;

/* Creates a store on `loop`. Borrows `r` (it reads ids and infos of the
 * handles in the router's output list) for its whole life. */
struct store *store_new(uv_loop_t *loop, const struct store_config *cfg,
                        struct router *r, const struct store_hooks *hooks);
/* Connects and starts the lease protocol. Role changes arrive through
 * hooks->on_role. With cfg->enabled false, reports OWNER at once. */
int store_start(struct store *s);
/* Stops: flushes what it can, releases the lease, closes the connection;
 * `done` (may be NULL) is called when every handle is closed. */
void store_stop(struct store *s, void (*done)(void *arg), void *arg);
void store_free(struct store *s);

enum store_role store_role(const struct store *s);
const char *store_owner_addr(const struct store *s);
/* False while unconfirmed writes are past cfg->max_pending (new contacts
 * are refused by store_reserve(STORE_ADMIT_NEW) then). */
bool store_writable(const struct store *s);

/* Whether the store can take changes now: no Redis at all, or this engine
 * owns the tenant, Redis is connected, authenticated and accepting writes,
 * and the backlog is under max_pending. For readiness checks (/readyz). */
bool store_ready(const struct store *s);
/* Why store_ready() is false, in words for a log line or a client error
 * ("redis authentication failed: ...", "redis refuses writes: ...");
 * "" when ready. Borrowed: valid until the next store call. */
const char *store_why(const struct store *s);

/* Admits one change and makes room for its writes, BEFORE the engine
 * changes the router (see store.c for why this and not an undo). Returns
 * 0: the writes that follow -- store_contact_arrived() or
 * store_agent_login() with at most `data` bytes of packed request plus
 * owner and NUL, store_record() of at most STORE_RESERVE_EVENTS events,
 * one store_barrier() -- cannot fail for want of memory or bound.
 * STORE_EUNAVAILABLE: past the bound (STORE_ADMIT_NEW: max_pending
 * unconfirmed ops; STORE_ADMIT_CHANGE: twice that), or the lease is not
 * confirmed now (SUSPENDED), Redis refuses writes, or lost state is being
 * written back (store_why() says which). STORE_ENOTOWNER: no
 * term. STORE_ENOMEM. Nothing is recorded either way; a reservation that
 * is not used costs nothing but the capacity it grew. */
int store_reserve(struct store *s, enum store_admit kind, size_t data);

/* Request data the router does not keep (borrowed; copied into the
 * batch). `now_wall_ms` is the arrival time on the wall clock. `owner` is
 * the Hello client_name of the connection that sent the request (NULL or
 * "" for none) and `principal` the name of its principal (NULL or "" when
 * the engine runs open): recovery hands both back to the load hooks so
 * that the engine can keep the contact or agent for that client, of that
 * principal, to re-attach. store_reserve()'s `data` counts both, each with
 * its NUL. */
int store_contact_arrived(struct store *s, const char *contact_id,
                          const uint8_t *arrived, size_t len,
                          uint64_t now_wall_ms, const char *owner,
                          const char *principal);
int store_agent_login(struct store *s, const char *agent_id,
                      const uint8_t *login, size_t len, const char *owner,
                      const char *principal);

/* Outbound objects (engine/outbound.c): put (member -> data, ordered by
 * `score` at recovery) or delete, in the current batch -- or, from inside
 * hooks->snapshot, in the full rewrite. Borrowed; copied. 0, STORE_ENOMEM,
 * STORE_ENOTOWNER. After store_outbound_reserve() for at least these ops
 * and bytes they cannot fail for want of memory. Without Redis: 0,
 * nothing kept. */
int store_outbound_put(struct store *s, const char *member, unsigned score,
                       const void *data, size_t len);
int store_outbound_del(struct store *s, const char *member);
/* A lead's entry in the event stream (op V, storebatch.h; docs/redis.md),
 * in the current batch: call it right after the store_outbound_put() of
 * the lead's record, so that both are in one batch. Nothing inside a full
 * rewrite. After store_outbound_reserve() for the put it cannot fail for
 * want of memory. 0, STORE_ENOMEM, STORE_ENOTOWNER; without Redis 0. */
int store_outbound_event(struct store *s, const char *type,
                         const char *campaign, const char *lead,
                         const char *contact, const char *state,
                         uint32_t attempts, const char *outcome,
                         uint64_t ts_ms);
/* Admission of an outbound change (as store_reserve(STORE_ADMIT_CHANGE,
 * 0)) with room for `ops` puts or deletes of `bytes` member and data
 * bytes in all. */
int store_outbound_reserve(struct store *s, size_t ops, size_t bytes);

/* Turns the router's current output list into Redis writes (state of the
 * contacts and agents it names, and one event-stream entry each). Call
 * after each router call, before router_out_clear(). `mono_now_us` and
 * `wall_now_ms` let it convert the router's clock to wall time. All or
 * nothing: 0, or STORE_ENOMEM (nothing recorded; counted in
 * records_failed) or STORE_ENOTOWNER (no term). After store_reserve() and
 * at most STORE_RESERVE_EVENTS events it returns 0. */
int store_record(struct store *s, uint64_t mono_now_us, uint64_t wall_now_ms);
/* The disposition of the completion of contact `id` (docs/care.md), for
 * the next store_record(): the contact's `gone` (completed) stream entry
 * carries it as the fields disposition, tags (comma-separated), note_ref
 * and difficult ("1"), so that nothing acknowledged is lost with it, and
 * the contact's product (ContactArrived.product, product[0..product_len),
 * not NUL-terminated; NULL or empty: none) so that a reporting job can
 * group by it. Copied (code, each tag below 32 bytes, at most 16 tags,
 * note below 128 bytes, product below ROUTER_ID_MAX: dispatch checked
 * them); store_record() forgets it, and so does a call with id NULL. */
void store_disposition(struct store *s, const char *id, const char *code,
                       const char *const *tags, size_t ntags,
                       const char *note, bool difficult,
                       const char *product, size_t product_len);

/* Calls cb(arg, 0) once every write queued so far is confirmed, or
 * cb(arg, STORE_EUNAVAILABLE) if it cannot be kept (the lease was lost, or
 * the store stopped). Returns STORE_ENOTOWNER (and never calls cb) when
 * this engine holds no term, STORE_ENOMEM without a store_reserve()
 * before it. It does not check the bound: admission (store_reserve) does,
 * before the change. The callback may run from store_flush() or from the
 * Redis reply callback on the loop. */
int store_barrier(struct store *s, store_barrier_cb cb, void *arg);

/* Sends this loop turn's batch. Call once per loop turn, before client
 * writes. */
void store_flush(struct store *s);


/* Sets the address named in NOT_OWNER errors and stored in the lease.
 * The engine calls it once its listener is bound (before store_start),
 * because an ephemeral port is only known then. */
void store_set_advertise(struct store *s, const char *addr);

/* Only from inside hooks->snapshot: one live contact (router handle `h`)
 * or agent, with the packed ContactArrived / AgentLogin, the owner's
 * client name and its principal's name (borrowed; copied). The store reads the rest (state, queue,
 * agent, arrival, sequence) from the router. 0, STORE_EINVAL (not in a
 * snapshot, or no such handle), STORE_ENOMEM. */
int store_snapshot_contact(struct store *s, uint32_t h,
                           const uint8_t *arrived, size_t len,
                           const char *owner, const char *principal);
int store_snapshot_agent(struct store *s, uint32_t h, const uint8_t *login,
                         size_t len, const char *owner,
                         const char *principal);

/* Connects to the configured Redis with a blocking connection, AUTH and
 * SELECT as the engine would, and PING; never on the loop (for
 * --check-redis). 0, or a negative code with a message in msg. */
int store_check_redis(const struct store_config *cfg, char *msg,
                      size_t len);

/* Whether the lease script may take the tenant's lease when it is free
 * (default true). False keeps the store a standby that learns who owns
 * the tenant (STANDBY with the owner's address, or "" when nobody does)
 * without taking it; a term it already holds is still renewed. The next
 * lease round uses it. For a pool of engines (tenant.c). */
void store_set_acquire(struct store *s, bool acquire);

/* Replaces the borrowed router (after on_reset). */
void store_set_router(struct store *s, struct router *r);

void store_stats(const struct store *s, struct store_stats *out);

#endif
