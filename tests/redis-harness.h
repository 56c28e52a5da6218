/* redis-harness.h -- a private redis-server for a store test.
 *
 * A thin layer over harness_redis (tests/harness.h) with the settings the
 * store tests want: AOF on with appendfsync always, no RDB, log level
 * warning. The directory survives a stop so that a restart on the same
 * port finds the data again; rh_free() removes it. Nothing assumes a
 * Redis already running.
 */
#ifndef CCROUTE_REDIS_HARNESS_H
#define CCROUTE_REDIS_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

#include "harness.h"

struct rh {
    int port;                   /* read-only; fixed from rh_start on */
    struct harness_redis r;
};

/* Picks a port and a directory and starts the server. 0 or -1. */
int rh_start(struct rh *h);
/* Stops it if running (SIGTERM) and starts it again on the same port and
 * directory. 0 or -1. */
int rh_restart(struct rh *h);
/* Stops it: SIGTERM (graceful, AOF flushed) or SIGKILL (crash). */
void rh_stop(struct rh *h, bool kill9);
/* Stops it if running and removes the directory. */
void rh_free(struct rh *h);
/* A free loopback TCP port (bound then released), or -1. */
int rh_free_port(void);

#endif
