/* tenant.h -- one tenant of the engine: its router, store, dispatch state
 * and router timer (types in tenant-t.h).
 *
 * An engine serves one or several tenants (docs/scaling.md). Each has its
 * own router (preallocated to the shared routing configuration's
 * max_contacts / max_agents), its own store (keys under its hash tag, its
 * own Redis connection, lease and fencing token), its own owner index,
 * side tables, grace timer and router timer. What they share: the loop,
 * the configuration, the connection set, the decode arena. A connection
 * is bound to one tenant at Hello (dispatch.c); the server calls the
 * tenant of a connection, never the other way round.
 *
 * Pool (`tenant_pool`): the engine runs a store for every tenant of the
 * pool, a standby for those it does not own, and lets at most pool_max of
 * them take a free lease (store_set_acquire); see tenant.c.
 */
#ifndef CCROUTE_TENANT_H
#define CCROUTE_TENANT_H

#include <stdbool.h>
#include <stddef.h>

#include "tenant-t.h"

/* Creates tenant `name` and appends it to `set` (its index is the
 * position). Borrows loop, cfg, conns and arena for its whole life.
 * `fatal(arg)` is called when the tenant cannot go on (no memory for a
 * fresh router after another engine owned it): the engine must stop.
 * Returns the tenant, or NULL with a message in err. */
struct tenant *tenant_new(struct tenant_set *set, const char *name,
                          uv_loop_t *loop, const struct config *cfg,
                          struct conn_set *conns, struct arena *arena,
                          void (*fatal)(void *arg), void *arg,
                          char *err, size_t errlen);
/* Names the engine's client address (lease value, NOT_OWNER) and starts
 * the store. 0 or a negative code. */
int tenant_start(struct tenant *t, const char *advertise);
/* Once per loop turn, before client writes: the store's batch. */
void tenant_flush(struct tenant *t);
/* Once per loop turn, after client writes: the router timer at the
 * router's next deadline (none without a confirmed lease). */
void tenant_timer_rearm(struct tenant *t);
/* Shutdown, first step: no more routing timer (offers, expiries), so
 * that the writes queued so far can be confirmed without new ones
 * following them. */
void tenant_quiesce(struct tenant *t);
/* Unconfirmed Redis writes of the tenant's store (0 without Redis). */
size_t tenant_unconfirmed(const struct tenant *t);
/* Shutdown: stops the timers, closes the dispatch handles and stops the
 * store: it sends what is still queued and then, on the same connection
 * and so after those writes in Redis, releases the lease; barriers not
 * confirmed by then fail. `done(arg)` (may be NULL) runs once the store
 * has stopped -- every barrier answered -- possibly from inside this
 * call. Once only: a second call does nothing. */
void tenant_stop(struct tenant *t, void (*done)(void *arg), void *arg);
/* Frees what tenant_new() made; after the loop released the handles. */
void tenant_free(struct tenant *t);

/* The tenant named `name`, or NULL. O(tenants). */
struct tenant *tenant_find(const struct tenant_set *set, const char *name);
/* Whether the engine is ready (/readyz): not draining, and every
 * tenant's store ready, or, in pool mode, at least one. When not, why in
 * `why`. */
bool tenant_set_ready(const struct tenant_set *set, char *why, size_t len);

#endif
