/* redisaddr.h -- where the tenant's Redis master is (interface).
 *
 * The store asks this module for an address before every connect and
 * knows nothing of how it is found. Two ways today:
 *
 *  - fixed: redis.host / redis.port, answered at once (before
 *    redisaddr_find returns);
 *  - sentinel: redis.sentinels are asked `SENTINEL get-master-addr-by-name
 *    <redis.master_name>` one after the other, starting with the one that
 *    answered last, each within connect_timeout + command_timeout; the
 *    first address wins. The connection that answered then stays open,
 *    subscribed to `+switch-master`, so that a failover is heard of even
 *    while the old master still answers (see redisaddr_set_moved).
 *
 *  - cluster: redis.cluster seeds; the node is the primary that owns the
 *    slot of the tenant's lease key (all of a tenant's keys share its hash
 *    tag, so this is the tenant's one slot) in the slot table of
 *    engine/cluster.c, used here as a locator only: each find asks for a
 *    fresh table (CLUSTER SLOTS from any node it knows) and answers the
 *    slot's owner, or the address a MOVED named (redisaddr_hint). A
 *    table that names another owner than the one answered last, loaded
 *    while no find is under way (the client refreshes by itself when one
 *    of its connections dies: a failover), is told through the moved
 *    callback like a +switch-master.
 *
 * Everything runs on the engine's loop (hiredis async); nothing blocks,
 * except redisaddr_find_blocking, which is for --check-redis only.
 *
 * Errors: 0 or a negative STORE_E* code (store-t.h).
 */
#ifndef CCROUTE_REDISADDR_H
#define CCROUTE_REDISADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "store-t.h"

struct redisaddr;

/* The outcome of redisaddr_find: status 0 and the master's host and port
 * (borrowed until the callback returns), or STORE_EUNAVAILABLE and `why`
 * in words ("no sentinel knows master m: 127.0.0.1:26379: connection
 * refused; ..."). */
typedef void (*redisaddr_found_cb)(void *arg, int status, const char *host,
                                   int port, const char *why);
/* A sentinel announced that the master moved (`+switch-master` for our
 * master name), or a new cluster slot table names another owner of the
 * tenant's slot, at host:port (borrowed). */
typedef void (*redisaddr_moved_cb)(void *arg, const char *host, int port);

/* Borrows `loop`; copies what it needs of `cfg`. NULL: out of memory. */
struct redisaddr *redisaddr_new(uv_loop_t *loop,
                                const struct store_config *cfg);
/* Closes every connection (callbacks of lookups under way are not
 * called) and frees. */
void redisaddr_free(struct redisaddr *ra);

/* Whether the address comes from sentinels (false: fixed or cluster). */
bool redisaddr_sentinel(const struct redisaddr *ra);
/* Whether it comes from a Redis Cluster's slot table. */
bool redisaddr_cluster(const struct redisaddr *ra);
/* Cluster: the tenant's slot (0..16383). */
unsigned redisaddr_slot(const struct redisaddr *ra);
/* Cluster: a node answered MOVED for the tenant's slot, naming
 * host:port (copied): the next find answers it without a table (the
 * node that said MOVED knows; another node's table may lag behind). */
void redisaddr_hint(struct redisaddr *ra, const char *host, int port);

/* Finds the master; `cb` is called exactly once, from inside this call
 * (fixed address) or later from the loop, unless redisaddr_cancel() comes
 * first. A find already under way is cancelled. */
void redisaddr_find(struct redisaddr *ra, redisaddr_found_cb cb, void *arg);
/* Abandons the find under way, if any: its callback is not called. */
void redisaddr_cancel(struct redisaddr *ra);
/* Cancels the find under way, closes the subscription and frees the
 * cluster client: no handle of this module stays open (the loop may
 * end). A later find works again. Not from inside a find's callback. */
void redisaddr_close(struct redisaddr *ra);
/* Registers the +switch-master callback (NULL: none). */
void redisaddr_set_moved(struct redisaddr *ra, redisaddr_moved_cb cb,
                         void *arg);
/* Deadlines: the store calls it from its tick. */
void redisaddr_tick(struct redisaddr *ra, uint64_t now_us);

/* The same lookup with blocking connections (never on the loop; for
 * --check-redis): 0 and the master in *out, with the sentinel or the
 * cluster node that answered in `msg`; or STORE_EUNAVAILABLE and why in
 * `msg`. With neither sentinels nor cluster seeds it returns cfg->host /
 * cfg->port. */
int redisaddr_find_blocking(const struct store_config *cfg,
                            struct store_addr *out, char *msg, size_t len);

#endif
