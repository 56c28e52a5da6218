/* store.h -- durable, shared state in Redis (interface).
 *
 * The router knows nothing about Redis. The engine hands the store what the
 * router did (its output list) and the request data the router does not
 * keep (the packed ContactArrived / AgentLogin, which carry attributes); the
 * store turns them into Redis commands, gathers them for the current loop
 * turn and sends them in one pipelined, fenced batch from store_flush(),
 * which the engine calls once per loop turn *before* it writes replies to
 * clients (persistence first, then replies).
 *
 * Durability: a request whose acknowledgement promises durability asks for
 * a barrier: store_barrier() calls back once every write queued so far has
 * been confirmed by Redis (durability: redis) or at the next flush
 * (durability: memory). The engine sends the Ack in that callback.
 *
 * Ownership of a tenant: a lease key with a fencing token. Only the owner
 * writes; a standby watches the lease and takes over when it lapses, loads
 * the state into the router through the load hooks, then reports OWNER.
 *
 * Errors: 0 or a negative STORE_E* code.
 */
#ifndef CCROUTE_STORE_H
#define CCROUTE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct router;

enum store_durability {
    STORE_DURABILITY_REDIS = 0,   /* default: ack after Redis confirmed */
    STORE_DURABILITY_MEMORY,      /* ack at once; Redis written behind */
};

enum store_error {
    STORE_OK = 0,
    STORE_EUNAVAILABLE = -1,      /* pending buffer past its bound */
    STORE_ENOTOWNER = -2,         /* this engine does not hold the lease */
    STORE_ENOMEM = -3,
    STORE_EINVAL = -4,
};

enum store_role {
    STORE_ROLE_NONE = 0,          /* starting: not connected yet */
    STORE_ROLE_STANDBY,           /* another engine holds the lease */
    STORE_ROLE_OWNER,             /* this engine holds the lease, state loaded */
};

struct store_config {
    bool enabled;                 /* false: no Redis at all (memory only) */
    enum store_durability durability;
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
    size_t max_inflight;          /* write batches awaiting their reply
                                     before the next one waits and grows
                                     (group commit), default 2 */
    char advertise[256];          /* this engine's client address, named in
                                     NOT_OWNER errors ("host:port") */
};

/* Hooks from the store into the engine. Called on the loop thread. */
struct store_hooks {
    void *arg;
    /* Role changes: STANDBY (owner_addr names the owner), OWNER (state is
     * loaded, accept clients), or back to STANDBY when the lease was lost
     * (stop serving at once). */
    void (*on_role)(void *arg, enum store_role role, const char *owner_addr);
    /* Recovery, called while loading before on_role(OWNER): one call per
     * stored agent and contact. `login` / `arrived` are the packed
     * AgentLogin / ContactArrived and `owner` the client name that
     * store_agent_login() / store_contact_arrived() were given (never
     * NULL; "" when none was stored, e.g. data written before owners
     * were). */
    void (*load_agent)(void *arg, const uint8_t *login, size_t len,
                       int agent_state, const char *reason,
                       const char *owner);
    void (*load_contact)(void *arg, const uint8_t *arrived, size_t len,
                         uint64_t arrived_wall_ms, int contact_state,
                         const char *queue, const char *agent_id,
                         const char *owner);
    /* Optional (may be NULL). Called when this engine learns that another
     * engine has owned the tenant since this one last did: the router's
     * state is stale. The engine drops it (a fresh router, handed over
     * with store_set_router()) before the store loads the state again and
     * reports OWNER. An OWNER that follows a STANDBY without on_reset in
     * between resumes the same term: the router's state is still right
     * (the lease had only lapsed by this engine's clock during a Redis
     * outage and nobody took it). */
    void (*on_reset)(void *arg);
};

typedef void (*store_barrier_cb)(void *arg, int status);

/* Creates a store on `loop`. Borrows `r` (it reads ids and infos of the
 * handles in the router's output list) for its whole life. */
struct store *store_new(uv_loop_t *loop, const struct store_config *cfg,
                        struct router *r, const struct store_hooks *hooks);
/* Connects and starts the lease protocol. Role changes arrive through
 * hooks->on_role. With cfg->enabled false, reports OWNER at once. */
int store_start(struct store *s);
/* Stops: flushes what it can, releases the lease, closes the connection;
 * `done` (may be NULL) is called when every handle is closed. */
void store_stop(struct store *s, void (*done)(void *arg), void *arg);
void store_free(struct store *s);

enum store_role store_role(const struct store *s);
const char *store_owner_addr(const struct store *s);
/* False while unconfirmed writes are past cfg->max_pending: the engine
 * answers new contacts with STATE_UNAVAILABLE. */
bool store_writable(const struct store *s);

/* Request data the router does not keep (borrowed; copied into the
 * batch). `now_wall_ms` is the arrival time on the wall clock. `owner` is
 * the Hello client_name of the connection that sent the request (NULL or
 * "" for none): recovery hands it back to the load hooks so that the
 * engine can keep the contact or agent for that client to re-attach. */
int store_contact_arrived(struct store *s, const char *contact_id,
                          const uint8_t *arrived, size_t len,
                          uint64_t now_wall_ms, const char *owner);
int store_agent_login(struct store *s, const char *agent_id,
                      const uint8_t *login, size_t len, const char *owner);

/* Turns the router's current output list into Redis writes (state of the
 * contacts and agents it names, and one event-stream entry each). Call
 * after each router call, before router_out_clear(). `mono_now_us` and
 * `wall_now_ms` let it convert the router's clock to wall time. */
void store_record(struct store *s, uint64_t mono_now_us,
                  uint64_t wall_now_ms);

/* Calls cb(arg, 0) once every write queued so far is confirmed, or
 * cb(arg, STORE_EUNAVAILABLE) if it cannot be kept (the lease was lost, or
 * the store stopped). Returns STORE_EUNAVAILABLE at once (and never calls
 * cb) when unconfirmed writes are past twice max_pending (a hard cap;
 * store_writable() turned false at max_pending already), STORE_ENOTOWNER
 * when this engine holds no term. The callback may run from store_flush()
 * or from the Redis reply callback on the loop. */
int store_barrier(struct store *s, store_barrier_cb cb, void *arg);

/* Sends this loop turn's batch. Call once per loop turn, before client
 * writes. */
void store_flush(struct store *s);

const char *store_strerror(int err);

/* Sets the address named in NOT_OWNER errors and stored in the lease.
 * The engine calls it once its listener is bound (before store_start),
 * because an ephemeral port is only known then. */
void store_set_advertise(struct store *s, const char *addr);

/* Replaces the borrowed router (after on_reset). */
void store_set_router(struct store *s, struct router *r);

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
    size_t pending_ops;           /* unconfirmed ops now */
    uint64_t token;               /* fencing token of the term, 0 if none */
};
void store_stats(const struct store *s, struct store_stats *out);

#endif
