/* redis-harness.h -- a private redis-server for a test.
 *
 * Starts redis-server on a free loopback port with its own directory
 * (AOF on, appendfsync always, no RDB), waits until it answers PING, and
 * stops it (SIGTERM, or SIGKILL for a crash). The directory survives a
 * stop so that a restart on the same port finds the data again; rh_free()
 * removes it. Nothing assumes a Redis already running.
 */
#ifndef CCROUTE_REDIS_HARNESS_H
#define CCROUTE_REDIS_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

struct rh {
    int port;
    pid_t pid;                  /* 0 when not running */
    char dir[64];
};

/* Picks a port and a directory and starts the server. 0 or -1. */
int rh_start(struct rh *h);
/* Starts it again on the same port and directory. 0 or -1. */
int rh_restart(struct rh *h);
/* Stops it: SIGTERM (graceful, AOF flushed) or SIGKILL (crash). */
void rh_stop(struct rh *h, bool kill9);
/* Stops it if running and removes the directory. */
void rh_free(struct rh *h);
/* A free loopback TCP port (bound then released), or -1. */
int rh_free_port(void);

#endif
