/* cluster-harness.h -- a private Redis Cluster for a test.
 *
 * ch_start() starts `masters * (1 + replicas)` redis-server processes
 * through tests/harness.h (each on a free loopback port, with a free
 * cluster bus port, in its own temporary directory), with
 *   --cluster-enabled yes --cluster-config-file nodes.conf
 *   --cluster-node-timeout 1000
 * joins them with `redis-cli --cluster create ... --cluster-replicas R
 * --cluster-yes`, and waits (bounded, polling a real condition) until
 * every node says cluster_state:ok, knows every other node and lists
 * every replica under its primary (ch_wait_ok). ch_stop()
 * kills every process and removes every directory; it is idempotent and
 * also runs at exit, so a failing test leaves nothing behind.
 *
 * Admin commands go through a blocking hiredis connection (the test
 * thread may block; the client under test runs on its own loop).
 */
#ifndef CCROUTE_CLUSTER_HARNESS_H
#define CCROUTE_CLUSTER_HARNESS_H

#include <stdbool.h>

#include <hiredis/hiredis.h>

#include "harness.h"

#define CH_NODES_MAX 6
#define CH_START_TIMEOUT_MS 20000

struct ch_node {
    struct harness_redis r;
    char bus[16];                   /* cluster bus port (argument) */
    const char *args[12];           /* private: the extra arguments */
    char id[48];                    /* CLUSTER MYID */
    bool killed;
};

struct cluster_harness {
    int n;                          /* nodes started */
    struct ch_node node[CH_NODES_MAX];
    char dir[256];                  /* redis-cli's log lives here */
    char log[320];
};

/* Starts and joins the cluster. 0, or a negative errno (everything
 * started is stopped again). */
int ch_start(struct cluster_harness *h, int masters, int replicas);
/* Kills every node, removes every directory. Idempotent. */
void ch_stop(struct cluster_harness *h);
/* SIGKILL of node i (a crash). */
void ch_kill(struct cluster_harness *h, int i);

/* Sends a command to node i on a fresh blocking connection (2 s
 * timeouts). Returns the reply (free with freeReplyObject) or NULL. */
redisReply *ch_command(struct cluster_harness *h, int i, const char *fmt, ...);
/* The same with an argument vector (argc strings), for commands whose
 * length varies (MIGRATE ... KEYS k1 k2 ...). */
redisReply *ch_command_argv(struct cluster_harness *h, int i, int argc,
                            const char **argv);
/* Moves every key of `slot` from node src to node dst with MIGRATE, at
 * most `batch` keys per call, calling `between` (may be NULL) with `arg`
 * after each call: the slot must be IMPORTING on dst and MIGRATING on
 * src already. 0, or -EIO (a reply that is not OK; printed). */
int ch_migrate_keys(struct cluster_harness *h, int src, int dst,
                    unsigned slot, int batch, void (*between)(void *arg),
                    void *arg);
/* Waits until every node not killed reports cluster_state:ok,
 * cluster_known_nodes equal to the number of nodes, and lists every node
 * not killed (primaries and replicas) in CLUSTER SLOTS. 0 or
 * -ETIMEDOUT. */
int ch_wait_ok(struct cluster_harness *h, int timeout_ms);
/* The node (index) that is the primary of `slot` according to node
 * `ask` (its CLUSTER SLOTS), or -1. */
int ch_slot_owner(struct cluster_harness *h, int ask, unsigned slot);
/* A replica of primary `m` (index), according to node `ask`, or -1. */
int ch_replica_of(struct cluster_harness *h, int ask, int m);
/* Index of the node listening on `port`, or -1. */
int ch_node_by_port(const struct cluster_harness *h, int port);

#endif
