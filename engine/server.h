/* server.h -- the daemon's event loop: listener, per-turn hook, timers,
 * signals, and the objects they share.
 *
 * One libuv loop runs everything. Data flows one way (STYLE.md, lesson 8):
 *   conn.c read_cb -> frames -> (on_frame callback, server.c)
 *   -> dispatch.c -> router -> output list
 *   -> dispatch.c fan-out (protocol messages into connections' output
 *      buffers, store_record()) -> router_out_clear()
 * and side effects happen once per loop turn, in the uv_prepare hook that
 * runs just before the loop blocks for I/O:
 *   1. store_flush() of every tenant (tenant.h): the Redis batches of this
 *      turn go out first
 *      (persistence first, then replies: a client must never hear of a
 *      state change that is not at least on its way to Redis; barrier
 *      callbacks that fire here append their Acks before step 2);
 *      during a graceful shutdown its next phase runs here too (server.c),
 *      so that what the phase queues for clients goes out in step 2;
 *   2. conn_flush_all(): every connection with pending output gets one
 *      write with all its pending buffers (conn.h);
 *   3. each tenant's router timer is re-armed to its router's
 *      router_next_deadline() (doing it
 *      here, after every callback of the turn, is the same as re-arming
 *      after each router call, and costs one comparison per turn);
 *   4. clock_turn_end(): the next turn reads the clocks again (clock.h:
 *      everything of one turn happens at one instant).
 *
 * Ownership: struct server is owned by main.c (on its stack); everything
 * it points to is created by server_init() and released by server_fini().
 */
#ifndef CCROUTE_SERVER_H
#define CCROUTE_SERVER_H

#include <stddef.h>

#include <uv.h>

#include "server-t.h"

struct config;

/* Creates the tenants (a router, dispatch tables and store each) from
 * `cfg` (borrowed for the server's life). Returns 0 or -1 with a message in err. */
int server_init(struct server *s, uv_loop_t *loop, const struct config *cfg,
                char *err, size_t errlen);
/* Binds and listens on cfg's address; writes the bound port to port_file
 * when set. Starts the store. Returns 0 or a negative libuv error. */
int server_start(struct server *s);
/* Graceful shutdown (SIGTERM, SIGINT): stop accepting, refuse new
 * requests, wait up to limits.shutdown_timeout for Redis to confirm what
 * is queued, stop the stores (last writes, then the lease released),
 * close every connection after its replies; uv_run() then returns.
 * Phases in server.c. */
void server_shutdown(struct server *s);
/* Immediate stop: closes the listener and every connection at once,
 * stops the stores (which still send what is queued and release the
 * lease) and the timers; uv_run() returns once every handle is closed. */
void server_stop(struct server *s);
/* Frees what server_init() created. Call after uv_run() returned. */
void server_fini(struct server *s);

#endif
