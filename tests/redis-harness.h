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
#include <stddef.h>
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

/* ---- Sentinel: one master, one replica, three sentinels ----
 *
 * rh_sentinel_start() starts a master and a replica of it (both as
 * rh_start's server, AOF with appendfsync always), waits until the
 * replica's link is up, then starts three `redis-sentinel` processes
 * (the Debian package redis-sentinel) on free loopback ports, each with a
 * configuration file written here that monitors the master under `name`
 * with quorum 2 and the given down-after-milliseconds and
 * failover-timeout, and waits until every sentinel knows the replica and
 * the two other sentinels (they must, to agree on a failover). Every wait
 * polls a real condition with a deadline. rh_sentinel_free() stops all
 * five processes and removes their directories, whatever state they are
 * in. */
#define RH_SENTINELS 3

struct rh_sentinel {
    char name[64];
    struct harness_redis master;    /* the first master */
    struct harness_redis replica;   /* its replica at the start */
    struct harness_proc sentinel[RH_SENTINELS];
    int sport[RH_SENTINELS];        /* sentinel ports */
    char dir[256];                  /* sentinel configurations and logs */
    /* private: the replica's --replicaof arguments (outlive restarts) */
    char mport[16];
    const char *rargs[12];
};

int rh_sentinel_start(struct rh_sentinel *t, const char *name,
                      int down_after_ms, int failover_timeout_ms);
void rh_sentinel_free(struct rh_sentinel *t);
/* The master's port as sentinel i names it now; -1 when it does not
 * answer or knows no master. */
int rh_sentinel_master(struct rh_sentinel *t, int i);
/* Waits until every sentinel that answers names the master at `port`
 * (and at least two answer), up to timeout_ms. 0 or -ETIMEDOUT. */
int rh_sentinel_wait_master(struct rh_sentinel *t, int port, int timeout_ms);
/* Cuts the replication link of the redis-server at `port` (a replica):
 * it cannot authenticate to its master any more (masterauth is set to a
 * wrong password and the link is killed), so it stops receiving writes
 * but still reports its master and stays a candidate for promotion.
 * rh_link_restore() lets it resync. Both wait until the master at
 * `master_port` sees 0 (cut) or 1 (restored) connected, online replicas.
 * 0 or -ETIMEDOUT. */
int rh_link_cut(int port, int master_port, int timeout_ms);
int rh_link_restore(int port, int master_port, int timeout_ms);
/* The "role:" of INFO replication of the server at port ("master",
 * "slave") into buf; "" when it does not answer. */
void rh_role(int port, char *buf, size_t len);

#endif
