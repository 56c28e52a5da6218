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
 * A Redis Cluster slot router is meant to be a third way behind the same
 * callbacks. Everything runs on the engine's loop (hiredis async); nothing
 * blocks, except redisaddr_find_blocking, which is for --check-redis only.
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
 * master name) to host:port (borrowed). */
typedef void (*redisaddr_moved_cb)(void *arg, const char *host, int port);

/* Borrows `loop`; copies what it needs of `cfg`. NULL: out of memory. */
struct redisaddr *redisaddr_new(uv_loop_t *loop,
                                const struct store_config *cfg);
/* Closes every connection (callbacks of lookups under way are not
 * called) and frees. */
void redisaddr_free(struct redisaddr *ra);

/* Whether the address comes from sentinels (false: fixed). */
bool redisaddr_sentinel(const struct redisaddr *ra);

/* Finds the master; `cb` is called exactly once, from inside this call
 * (fixed address) or later from the loop, unless redisaddr_cancel() comes
 * first. A find already under way is cancelled. */
void redisaddr_find(struct redisaddr *ra, redisaddr_found_cb cb, void *arg);
/* Abandons the find under way, if any: its callback is not called. */
void redisaddr_cancel(struct redisaddr *ra);
/* Cancels the find under way and closes the subscription: no handle of
 * this module stays open (the loop may end). A later find works again. */
void redisaddr_close(struct redisaddr *ra);
/* Registers the +switch-master callback (NULL: none). */
void redisaddr_set_moved(struct redisaddr *ra, redisaddr_moved_cb cb,
                         void *arg);
/* Deadlines: the store calls it from its tick. */
void redisaddr_tick(struct redisaddr *ra, uint64_t now_us);

/* The same lookup with blocking connections (never on the loop; for
 * --check-redis): 0 and the master in *out, with the sentinel that
 * answered in `msg`; or STORE_EUNAVAILABLE and why in `msg`. With no
 * sentinels configured it returns cfg->host / cfg->port. */
int redisaddr_find_blocking(const struct store_config *cfg,
                            struct store_addr *out, char *msg, size_t len);

#endif
