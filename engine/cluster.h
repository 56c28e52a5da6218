/* cluster.h -- a Redis Cluster client on hiredis async (docs/scaling.md).
 *
 * Debian 12's hiredis (0.14) has no cluster support, so this module is the
 * small slot-routing layer the engine needs: the key -> slot function of
 * the Redis Cluster specification (CRC16 with hash tags), a slot table
 * loaded from `CLUSTER SLOTS`, one hiredis async connection per node on
 * the caller's libuv loop, and the redirections (MOVED, ASK) and faults
 * (TRYAGAIN, CLUSTERDOWN, a lost connection, a node failover) a cluster
 * client must follow. It never blocks the loop.
 *
 * The pure part (cluster_crc16, cluster_key_slot, cluster_table_*) needs
 * no connection and is what the unit tests check against known vectors.
 *
 * The client: cluster_new() with seed addresses; cluster_command() sends
 * one command, routed by the key it names, and calls back once with the
 * reply, like hiredis's redisAsyncCommandArgv. Order: the callbacks of the
 * commands of one slot come in the order the commands were issued, and
 * the commands of one slot are sent (and resent after a redirection) in
 * that order, never on two connections at once; cluster.c explains the
 * exact promise and its one limit (an ASK or TRYAGAIN between commands on
 * different keys).
 *
 * A single-slot user (the store: one tenant = one hash tag = one slot) can
 * also use it only as a locator: cluster_slot_addr() says which primary
 * owns a slot now.
 */
#ifndef CCROUTE_CLUSTER_H
#define CCROUTE_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <uv.h>

#define CLUSTER_SLOTS 16384
#define CLUSTER_NO_NODE 0xffff     /* a slot no node serves */
#define CLUSTER_HOST_MAX 256       /* host names as CLUSTER SLOTS gives them */
#define CLUSTER_SEEDS_MAX 16

/* ---- pure: key slots and the slot table ---- */

/* CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), the checksum
 * the Redis Cluster specification hashes keys with. */
uint16_t cluster_crc16(const void *buf, size_t len);

/* The cluster slot (0..16383) of a key, with the specification's hash tag
 * rule: if the key has a '{' and, after the FIRST '{', a '}' with at
 * least one byte between them, only those bytes are hashed; otherwise
 * (no '{', no '}' after it, or an empty tag "{}") the whole key is. */
unsigned cluster_key_slot(const void *key, size_t len);

/* One node of a slot table: a primary (primary == -1) or a replica
 * (primary = index of its primary in the same table). */
struct cluster_table_node {
    char host[CLUSTER_HOST_MAX];
    int port;
    int primary;
};

/* Which primary serves each slot. nodes: every primary and replica named,
 * once each (keyed by host and port). */
struct cluster_table {
    uint16_t slot[CLUSTER_SLOTS];   /* index into nodes, or CLUSTER_NO_NODE */
    struct cluster_table_node *nodes;   /* owned */
    size_t nnodes;
};

/* Fills `t` from a `CLUSTER SLOTS` reply (borrowed). Each element is
 * [first slot, last slot, primary, replica...], a node being [host, port,
 * id?, ...]; an empty host means "the node that answered" and is replaced
 * by `answered_host` (as the specification asks); a host "?" (an unknown
 * endpoint) is left out: its slots stay CLUSTER_NO_NODE. `t` is
 * initialised here (any previous content is ignored: free it first);
 * on error it is left empty (nothing to free, but cluster_table_free is
 * harmless). Returns 0, -EPROTO for a reply of another shape, -ENOMEM. */
int cluster_table_parse(struct cluster_table *t, const redisReply *reply,
                        const char *answered_host);
void cluster_table_free(struct cluster_table *t);
/* The primary node of `slot`, or NULL (borrowed from `t`). */
const struct cluster_table_node *
cluster_table_owner(const struct cluster_table *t, unsigned slot);

/* ---- the client ---- */

struct cluster;

/* Called once per command. reply: the node's reply, borrowed until the
 * callback returns (as in hiredis), an error reply included (WRONGTYPE,
 * NOSCRIPT...: only the redirections and the cluster faults listed above
 * are handled here). NULL when the command could not be carried out: the
 * retry deadline passed, too many redirections, or the client is being
 * freed; cluster_errstr() says why, until the callback returns. A command
 * that got NULL may or may not have run (its connection may have died
 * after sending it). */
typedef void (*cluster_reply_cb)(struct cluster *c, redisReply *reply,
                                 void *privdata);
/* Called after every change of the slot table (a refresh, a MOVED). */
typedef void (*cluster_table_cb)(struct cluster *c, void *arg);

struct cluster_config {
    const char *seeds[CLUSTER_SEEDS_MAX];   /* "host:port"; copied */
    size_t nseeds;
    const char *password;       /* AUTH on every connection; NULL: none */
    uint32_t connect_timeout_ms;    /* a connect that does not complete */
    uint32_t command_timeout_ms;    /* a node with replies owed, silent */
    uint32_t retry_min_ms, retry_max_ms;    /* backoff of the retries */
    uint32_t retry_timeout_ms;      /* give up a command this long after it
                                     * was issued, when it needs a retry */
    uint32_t max_redirects;         /* MOVED/ASK followed per command */
};

/* Defaults: connect 1 s, command 2 s, retry 10 ms doubling to 1 s, give
 * up after 10 s, 16 redirections. */
void cluster_config_default(struct cluster_config *cfg);

/* Counters, for tests and statistics. */
struct cluster_stats {
    uint64_t sent;          /* commands written (resends included) */
    uint64_t moved, ask, tryagain, clusterdown;
    uint64_t conn_lost;     /* commands whose connection died under them */
    uint64_t refreshes;     /* slot tables loaded */
    uint64_t failed;        /* commands called back with NULL */
    uint64_t early;         /* replies kept back until an earlier command
                             * of their slot was answered */
    uint64_t connects;      /* connections made (successful connects) */
};

/* Starts loading the slot table from the seeds (in the background: no
 * blocking call). Returns NULL on a bad configuration (no seed, a seed
 * that is not host:port; a message on the log) or out of memory. */
struct cluster *cluster_new(uv_loop_t *loop, const struct cluster_config *cfg);

/* Frees the client: every pending command is called back with NULL first
 * (in order per slot), then the connections are closed; their libuv
 * handles close on the loop's next turn. Must not be called from inside
 * one of this client's callbacks. NULL is fine. */
void cluster_free(struct cluster *c);

/* Sends argv (argc arguments; argvlen NULL: NUL-terminated strings), all
 * copied before the call returns, to the primary owning the slot of
 * `key` (keylen bytes; borrowed for the call). Commands issued before the
 * slot table is known wait for it. Returns 0 (cb will be called exactly
 * once), -EINVAL (argc < 1, or the client is being freed), -ENOMEM. */
int cluster_command_argv(struct cluster *c, cluster_reply_cb cb,
                         void *privdata, const char *key, size_t keylen,
                         int argc, const char **argv, const size_t *argvlen);

/* Whether a slot table has been loaded. */
bool cluster_ready(const struct cluster *c);
/* "host:port" of the primary owning `slot` now, into buf. 0, -EAGAIN (no
 * table yet, or no node serves the slot), -ENOSPC (buf too small). */
int cluster_slot_addr(const struct cluster *c, unsigned slot, char *buf,
                      size_t len);
/* Same for the slot of a key. */
int cluster_key_addr(const struct cluster *c, const char *key, size_t keylen,
                     char *buf, size_t len);
/* Asks for a slot table refresh now (in the background, from any node it
 * knows); the table callback runs once it is loaded. For a user of the
 * locator alone, which sends no command that would show a MOVED. */
void cluster_refresh(struct cluster *c);
/* Registers a callback for slot table changes (NULL to remove). */
void cluster_set_table_cb(struct cluster *c, cluster_table_cb cb, void *arg);
/* The reason of the last NULL reply, valid inside its callback. */
const char *cluster_errstr(const struct cluster *c);
void cluster_stats(const struct cluster *c, struct cluster_stats *out);

#endif
