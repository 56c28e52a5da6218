/* store-t.h -- the store's types: configuration, roles, errors, hooks,
 * counters. Types only (no functions), so that config.h and server-t.h
 * can hold a struct store_config or an enum store_role without pulling
 * the store's interface (and libuv) in. See store.h.
 */
#ifndef CCROUTE_STORE_T_H
#define CCROUTE_STORE_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "lathist-t.h"

struct store;

enum store_durability {
    STORE_DURABILITY_REDIS = 0,   /* default: ack after Redis confirmed */
    STORE_DURABILITY_MEMORY,      /* ack at once; Redis written behind */
    STORE_DURABILITY_REPLICATED,  /* ack after Redis confirmed and WAIT
                                     saw min_replicas replicas confirm */
};

/* How the tenant's state is kept in Redis (redis.layout, docs/redis.md). */
enum store_layout {
    STORE_LAYOUT_HASHES = 0,      /* a hash per contact and agent, one
                                     stream entry per event (the zero
                                     value; the configuration's default
                                     is the journal, config.c) */
    STORE_LAYOUT_JOURNAL,         /* one stream entry per batch, its ops
                                     packed (engine/journal.h) */
};

/* Sentinels one store may ask (redis.sentinels). */
#define STORE_MAX_SENTINELS 16
/* Cluster seed nodes (redis.cluster). */
#define STORE_MAX_SEEDS 16

/* One host:port (a sentinel, or where the master is). */
struct store_addr {
    char host[256];
    int port;
};

/* The store's codes, in the project's one error space (error.h). */
enum store_error {
    STORE_OK = CCR_OK,
    STORE_EUNAVAILABLE = CCR_EUNAVAILABLE, /* pending buffer past its bound */
    STORE_ENOTOWNER = CCR_ENOTOWNER,  /* this engine does not hold the lease */
    STORE_ENOMEM = CCR_ENOMEM,
    STORE_EINVAL = CCR_EINVAL,
};

enum store_role {
    STORE_ROLE_NONE = 0,          /* starting: not connected yet */
    STORE_ROLE_STANDBY,           /* another engine holds the lease (its
                                     address in store_owner_addr()), or
                                     nobody and this engine has no term */
    STORE_ROLE_OWNER,             /* this engine holds the lease, state loaded */
    STORE_ROLE_SUSPENDED,         /* this engine has a term, but its lease is
                                     not confirmed now (Redis paused, away,
                                     refusing): keep clients, refuse changes,
                                     route nothing, until OWNER again or
                                     STANDBY (another engine took over) */
};

struct store_config {
    bool enabled;                 /* false: no Redis at all (memory only) */
    enum store_durability durability;
    enum store_layout layout;     /* configuration default journal */
    uint32_t snapshot_every;      /* layout journal: journal entries
                                     appended before a snapshot is taken;
                                     default 10000 */
    char host[256];               /* default 127.0.0.1 */
    int port;                     /* default 6379 */
    int db;                       /* SELECT, default 0 */
    char password[256];           /* AUTH when not empty */
    char tenant[64];              /* hash tag of every key, default "default" */
    uint32_t connect_timeout_ms;  /* default 1000 */
    uint32_t command_timeout_ms;  /* default 2000 */
    uint32_t lease_ms;            /* lease expiry, default 2000 */
    uint32_t renew_ms;            /* renew period, default lease_ms / 4 */
    uint32_t reconnect_min_ms;    /* backoff start, default 100 */
    uint32_t reconnect_max_ms;    /* backoff cap, default 2000 */
    size_t max_pending;           /* bound of unconfirmed writes (commands),
                                     default 100000 */
    uint32_t stream_maxlen;       /* XTRIM MAXLEN ~ once per batch,
                                     default 1000000 */
    uint32_t load_chunk;          /* recovery: objects per load call
                                     (journal: entries per call, objects
                                     handed over per loop turn),
                                     default 1000 */
    size_t max_inflight;          /* write batches awaiting their reply
                                     before the next one waits and grows
                                     (group commit), default 2 */
    char advertise[256];          /* this engine's client address, named in
                                     NOT_OWNER errors ("host:port") */
    /* Sentinel (docs/redis.md, "Sentinel"): with nsentinels > 0 the
     * master's address comes from the sentinels (host and port are not
     * used), and the store follows a failover. */
    struct store_addr sentinels[STORE_MAX_SENTINELS];
    size_t nsentinels;
    char master_name[128];        /* the name the sentinels monitor */
    char sentinel_password[256];  /* AUTH to the sentinels when not empty */
    /* Redis Cluster (docs/redis.md, "Redis Cluster"): with ncluster > 0
     * the node is the primary that owns the slot of the tenant's hash
     * tag, found from these seeds' slot table (host, port and the
     * sentinels are not used; db must be 0). */
    struct store_addr cluster[STORE_MAX_SEEDS];
    size_t ncluster;
    /* durability replicated: WAIT min_replicas replica_timeout_ms after
     * the batches an Ack waits for */
    uint32_t min_replicas;        /* default 1 */
    uint32_t replica_timeout_ms;  /* default 500 */
};

/* Hooks from the store into the engine. Called on the loop thread. */
struct store_hooks {
    void *arg;
    /* Role changes: STANDBY (owner_addr names the owner, "" when none),
     * OWNER (state is loaded, accept clients), SUSPENDED (the lease is not
     * confirmed: route nothing, refuse changes, keep connections), or
     * STANDBY when the term was lost (another engine owns or owned the
     * tenant: stop serving at once). */
    void (*on_role)(void *arg, enum store_role role, const char *owner_addr);
    /* Recovery, called while loading before on_role(OWNER): one call per
     * stored agent and contact. `login` / `arrived` are the packed
     * AgentLogin / ContactArrived, `owner` the client name and
     * `principal` the principal name that store_agent_login() /
     * store_contact_arrived() were given (never NULL; "" when none was
     * stored, e.g. data written before owners or principals were). */
    void (*load_agent)(void *arg, const uint8_t *login, size_t len,
                       int agent_state, const char *reason,
                       const char *owner, const char *principal);
    /* Contacts come in their original arrival order. `arrived_wall_us`
     * is the arrival in wall-clock microseconds, with the exact spacing
     * the engine that wrote it had (see store.c, "Arrival"): convert every
     * contact of one load with ONE (wall, monotonic) pair of readings. */
    void (*load_contact)(void *arg, const uint8_t *arrived, size_t len,
                         uint64_t arrived_wall_us, int contact_state,
                         const char *queue, const char *agent_id,
                         const char *owner, const char *principal);
    /* Optional (may be NULL). Recovery of outbound objects (campaigns,
     * do-not-call numbers, leads; engine/outbound.c), called before any
     * agent or contact, in the order of their scores: `member` and
     * `data` as store_outbound_put() was given them. */
    void (*load_outbound)(void *arg, const char *member, size_t mlen,
                          const uint8_t *data, size_t len);
    /* Optional (may be NULL). Called when this engine learns that another
     * engine has owned the tenant since this one last did: the router's
     * state is stale. The engine drops it (a fresh router, handed over
     * with store_set_router()) before the store loads the state again and
     * reports OWNER. An OWNER that follows a STANDBY without on_reset in
     * between resumes the same term: the router's state is still right
     * (the lease had only lapsed by this engine's clock during a Redis
     * outage and nobody took it). */
    void (*on_reset)(void *arg);
    /* Optional (may be NULL). Redis lost this term's writes (it came back
     * empty, or a replica that missed the last writes took over): the
     * engine calls store_snapshot_contact() for every live contact and
     * store_snapshot_agent() for every logged-in agent, from inside this
     * call, so that the store writes the whole state back before any
     * new acknowledgement. */
    void (*snapshot)(void *arg);
};

typedef void (*store_barrier_cb)(void *arg, int status);

/* What a change is, for admission (store_reserve). */
enum store_admit {
    STORE_ADMIT_NEW = 0,          /* a new contact: refused at max_pending */
    STORE_ADMIT_CHANGE,           /* anything else: refused past twice
                                     max_pending, so that contacts admitted
                                     before can still be finished */
};

/* Router events store_reserve() makes room for. */
#define STORE_RESERVE_EVENTS 1024u

/* Counters for benchmarks and tests. `batches_sent` counts EVALSHA round
 * trips of write batches (one per loop turn with writes); Redis round trips
 * per contact = batches_sent / contacts. */
struct store_stats {
    uint64_t batches_sent;        /* write batches sent (resends included) */
    uint64_t batches_confirmed;
    uint64_t batches_resent;      /* sent again after a reconnect */
    uint64_t ops_queued;          /* ops (commands) put into batches */
    uint64_t ops_confirmed;
    uint64_t lease_calls;         /* lease script round trips */
    uint64_t reconnects;
    uint64_t barriers_fired;
    uint64_t records_failed;      /* store_record() calls that recorded
                                     nothing (out of memory) */
    size_t pending_ops;           /* unconfirmed ops now */
    uint64_t token;               /* fencing token of the term, 0 if none */
    /* faults (docs/redis.md, "Faults") */
    uint64_t state_rewrites;      /* Redis lost this term's writes and the
                                     whole state was written back */
    uint64_t rewrite_contacts;    /* contacts / agents written by them */
    uint64_t rewrite_agents;
    uint64_t write_refusals;      /* times Redis started refusing writes
                                     (OOM, READONLY, MISCONF, ...) */
    uint64_t auth_failures;       /* connections refused by AUTH / ACL */
    uint64_t suspensions;         /* OWNER -> SUSPENDED transitions */
    uint64_t barriers_failed;     /* barriers answered STORE_EUNAVAILABLE */
    uint64_t memory_waits;        /* durability memory: barriers that
                                     waited for Redis because the backlog
                                     was past max_pending / 2 */
    struct lathist batch_rtt;     /* write batch sent -> Redis confirmed
                                     it (its last send, after a resend) */
    /* durability replicated and Sentinel */
    uint64_t repl_waits;          /* WAIT round trips */
    uint64_t repl_shortfalls;     /* times WAIT started returning fewer
                                     than min_replicas */
    uint64_t master_lookups;      /* masters located through the sentinels
                                     or the cluster's slot table */
    uint64_t master_changes;      /* ... at another address than before */
    uint64_t not_master;          /* connections dropped because the
                                     server was not (or no longer) the
                                     master: ROLE, READONLY, +switch-master,
                                     or in a cluster a new slot table */
    /* Redis Cluster */
    uint64_t slot_moves;          /* MOVED followed: the tenant's slot is
                                     served by another node now */
    uint64_t slot_migrations;     /* times writes were held because the
                                     tenant's slot was being migrated
                                     (MIGRATING probe, ASK, TRYAGAIN) */
    bool ready;                   /* store_ready() */
    /* redis.layout journal */
    uint64_t journal_entries_loaded;  /* entries replayed by recoveries */
    uint64_t journal_bytes;       /* packed bytes appended, snapshot
                                     chunks and resends included */
    uint64_t journal_snapshots;   /* periodic snapshots taken */
};
#endif
