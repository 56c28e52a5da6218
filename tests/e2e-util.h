/* e2e-util.h -- helpers for end-to-end tests that drive the real ccrouted
 * (tests/harness.h) with the blocking client (proto/client.h) and look
 * into the real Redis with a blocking hiredis connection.
 *
 * Clients: struct e2e_client wraps one ccr_client with a small queue of the
 * events that arrived while a call waited for its reply, so that a later
 * e2e_wait() still sees them (per connection, in order). Every wait has a
 * timeout; nothing sleeps in place of synchronisation.
 *
 * Redis: e2e_redis() opens a blocking connection; e2e_events_check() reads
 * the whole `ccr:{t}:events` stream with XRANGE and checks the assignment
 * invariants (no agent above its capacity per channel at any point, no
 * contact assigned twice while it is assigned).
 *
 * Fixtures: struct e2e_env is what most end-to-end tests set up first --
 * a private redis-server (optional), ccrouted on a configuration that may
 * name the Redis port, and a blocking connection to that Redis.
 * e2e_env_start() does it from a cmocka setup function and
 * e2e_env_teardown() undoes it, also after a failed test; the daemon must
 * then exit with status 0.
 *
 * Errors: these helpers are for cmocka tests; where a failure is not an
 * expected outcome they fail the test (fail_msg) instead of returning.
 */
#ifndef CCROUTE_E2E_UTIL_H
#define CCROUTE_E2E_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "client.h"
#include "harness.h"

#define E2E_BODY(x) CCROUTE__V1__ENVELOPE__BODY_##x
#define E2E_EC(x) CCROUTE__V1__ERROR_CODE__ERROR_CODE_##x
#define E2E_ROLE(x) CCROUTE__V1__ROLE__ROLE_##x
#define E2E_CST(x) CCROUTE__V1__CONTACT_STATUS__CONTACT_STATUS_##x
#define E2E_VOICE CCROUTE__V1__CHANNEL__CHANNEL_VOICE
#define E2E_CHAT CCROUTE__V1__CHANNEL__CHANNEL_CHAT

#define E2E_T_MS 5000       /* default timeout for one expected message */
#define E2E_QMAX 1024       /* events kept per client */

struct e2e_client {
    struct ccr_client *c;
    int n;
    ccr_envelope *q[E2E_QMAX];
    bool eof;               /* the engine closed the connection */
};

/* Connects (no Hello). 0 or a negative errno. */
int e2e_open(struct e2e_client *e, int port);
/* Connects and says Hello; fails the test unless the Hello is acked. */
void e2e_open_hello(struct e2e_client *e, int port, const char *name,
                    Ccroute__V1__Role role, bool reattach);
/* Hello on an open connection: 0 on Ack, the ErrorCode on Error (its
 * message copied to msg when msg is not NULL), a negative errno on a
 * transport failure. */
int e2e_hello(struct e2e_client *e, const char *name, Ccroute__V1__Role role,
              bool reattach, char *msg, size_t msglen, int timeout_ms);
/* As e2e_hello, with Hello.tenant (NULL or "": none). */
int e2e_hello_tenant(struct e2e_client *e, const char *name,
                     Ccroute__V1__Role role, bool reattach,
                     const char *tenant, char *msg, size_t msglen,
                     int timeout_ms);
void e2e_close(struct e2e_client *e);
/* Connects and says Hello, again and again while the engine answers
 * NOT_OWNER or STATE_UNAVAILABLE (it is still starting or loading its
 * state from Redis), up to E2E_T_MS;
 * fails the test on any other answer. */
void e2e_open_hello_retry(struct e2e_client *e, int port, const char *name,
                          Ccroute__V1__Role role, bool reattach);
/* Hello on an open connection, again while the engine answers NOT_OWNER
 * (a standby) or STATE_UNAVAILABLE (it holds the lease but is still
 * loading the state: a window between the two that a takeover always
 * goes through), until harness_now_ms() passes deadline_ms. Returns as
 * e2e_hello: the last answer. */
int e2e_hello_until_served(struct e2e_client *e, const char *name,
                           Ccroute__V1__Role role, bool reattach, char *msg,
                           size_t msglen, long long deadline_ms);

/* Sends env and waits for its Ack/Error (events in between are queued).
 * Returns 0 on Ack, the ErrorCode on Error, a negative errno on transport
 * failure or timeout. */
int e2e_call(struct e2e_client *e, ccr_envelope *env, int timeout_ms);
/* Waits for the Ack/Error of a request sent before (id 0, a failed send:
 * -EPIPE). Returns as e2e_call. An Error must carry a message. */
int e2e_reply(struct e2e_client *e, uint64_t id, int timeout_ms);
/* As e2e_reply, with the Error's message copied to msg ("" on Ack). */
int e2e_reply_msg(struct e2e_client *e, uint64_t id, int timeout_ms,
                  char *msg, size_t msglen);
/* Receives one envelope into the queue's tail (any kind). 0 or -errno. */
int e2e_pump(struct e2e_client *e, int timeout_ms);
/* Takes the first queued envelope with this body case (and, when
 * request_id is not 0, this request id), receiving more as needed until
 * timeout_ms. NULL on timeout or EOF. The caller frees it (ccr_free). */
ccr_envelope *e2e_wait(struct e2e_client *e, int body_case,
                       uint64_t request_id, int timeout_ms);
/* As e2e_wait (any request id), failing the test on timeout or EOF. */
ccr_envelope *e2e_expect(struct e2e_client *e, int body_case, int timeout_ms);
/* The next envelope in arrival order, whatever its kind; NULL on timeout
 * or EOF. The caller frees it. */
ccr_envelope *e2e_next(struct e2e_client *e, int timeout_ms);
/* Expects an Error with `code` (others are dropped), then the engine
 * closing the connection (not a timeout). */
void e2e_expect_error_then_close(struct e2e_client *e, int code,
                                 int timeout_ms);
/* Takes the first queued Offer for contact `cid` (NULL: any). */
ccr_envelope *e2e_wait_offer(struct e2e_client *e, const char *cid,
                             int timeout_ms);
/* Drops queued envelopes. */
void e2e_flush(struct e2e_client *e);

/* Requests. The send_ variants only send (and return the request id, or
 * 0 on a transport failure); the others call and return as e2e_call. */
uint64_t e2e_send_contact(struct e2e_client *e, const char *id,
                          const char *queue, Ccroute__V1__Channel ch);
int e2e_contact(struct e2e_client *e, const char *id, const char *queue,
                Ccroute__V1__Channel ch);
/* Sends the voice ContactArrived `id` to `queue` again and again while it
 * is answered with the retryable STATE_UNAVAILABLE (a suspended, loading
 * or write-refusing engine), each reply within timeout_ms, until it is
 * acknowledged or timeout_ms have passed. 0 (Ack); another Error's code;
 * -EPIPE when the engine closed the connection meanwhile; -ETIMEDOUT.
 * The last Error's message in msg. */
int e2e_contact_until_acked(struct e2e_client *e, const char *id,
                            const char *queue, int timeout_ms, char *msg,
                            size_t msglen);
/* e2e_send_contact sends one attribute, "case" = id; this one sends
 * key = value. */
uint64_t e2e_send_contact_attr(struct e2e_client *e, const char *id,
                               const char *queue, Ccroute__V1__Channel ch,
                               const char *key, const char *value);
/* A ContactArrived with a priority and no attributes. */
uint64_t e2e_send_contact_prio(struct e2e_client *e, const char *id,
                               const char *queue, Ccroute__V1__Channel ch,
                               unsigned priority);
int e2e_agent_login(struct e2e_client *e, const char *id, const char *skill,
                    unsigned level, unsigned voice_cap, unsigned chat_cap);
uint64_t e2e_send_agent_login(struct e2e_client *e, const char *id,
                              const char *skill, unsigned level,
                              unsigned voice_cap, unsigned chat_cap);
int e2e_agent_state(struct e2e_client *e, const char *id,
                    Ccroute__V1__AgentStatus st, const char *reason);
uint64_t e2e_send_simple(struct e2e_client *e, int body_case,
                         const char *cid, const char *aid);
int e2e_simple(struct e2e_client *e, int body_case, const char *cid,
               const char *aid);
uint64_t e2e_send_stats(struct e2e_client *e);
/* StatsRequest, then its Ack and Stats: the connection is open and the
 * engine answers; every Redis command it queued before reading the
 * request is written (a loop turn writes to Redis before it writes to
 * clients, and a Stats reply never waits for Redis). */
void e2e_fence(struct e2e_client *c);
/* StatsRequest (all agents): the Stats reply (caller frees), failing the
 * test unless it is answered within the default timeout. */
ccr_envelope *e2e_stats(struct e2e_client *e);
/* StatsRequest for the named queues only (no agents): the Stats reply,
 * as e2e_stats. */
ccr_envelope *e2e_stats_queues(struct e2e_client *e, const char *const *queues,
                               size_t nqueues);
/* The AgentStats of `id` inside a Stats envelope, or NULL. */
const Ccroute__V1__AgentStats *e2e_stats_agent(const ccr_envelope *st,
                                               const char *id);

/* ---- Redis ---- */

/* A blocking connection to 127.0.0.1:port; fails the test otherwise. */
redisContext *e2e_redis(int port);
/* Runs a command; its integer reply, or -1 for any other reply. */
long long e2e_rint(redisContext *c, const char *fmt, ...);
/* HGET key field into out ("" when missing). True when it exists. */
bool e2e_rhget(redisContext *c, const char *key, const char *field,
               char *out, size_t len);
/* SIGTERM, wait (SIGKILL after timeout_ms); the directory and its AOF stay
 * (harness_redis_stop removes them). harness_redis_restart brings it back.
 * The same as harness_redis_term, under the name the tests know. */
int e2e_redis_term(struct harness_redis *r, int timeout_ms);

/* ---- the daemon ---- */

/* Fails the test (printing the daemon's log) unless the log shows
 * `needle` within timeout_ms. */
void e2e_expect_log(struct harness_daemon *d, const char *needle,
                    int timeout_ms);
/* The same for at least `n` lines with `needle` (the count before an
 * action plus one: a line the action caused, not an earlier one). */
void e2e_expect_log_count(struct harness_daemon *d, const char *needle, int n,
                          int timeout_ms);
/* A crash and a restart: kill -9, the same configuration again, and the
 * log's "loaded <nagents> agents, <ncontacts> contacts" within
 * timeout_ms (fails the test otherwise). Clients stay open (closed by
 * the caller: they see the crash). */
void e2e_crash_restart(struct harness_daemon *d, int nagents,
                       long long ncontacts, int timeout_ms);
/* `agent` (logged in on desk, capacity 1) takes n offers one by one: the
 * i-th must be ids[i]; each is accepted on desk and completed on sw.
 * `what` names the case in a failure. */
void e2e_take_in_order(struct e2e_client *desk, struct e2e_client *sw,
                       const char *agent, const char *const *ids, int n,
                       const char *what);

/* ---- fixtures ---- */

struct e2e_env {
    struct harness_redis redis;     /* when started with Redis */
    struct harness_daemon d;
    redisContext *r;                /* blocking connection; NULL without */
    bool with_redis;
};

/* Writes the daemon's configuration text; redis_port is 0 without Redis.
 * arg: the one given to e2e_env_start. */
typedef void (*e2e_config_cb)(char *buf, size_t len, int redis_port,
                              const void *arg);

/* For a cmocka setup function: allocates an e2e_env into *state, starts
 * redis-server when with_redis, then ccrouted on the configuration that
 * `config` writes. 0, or -1 with everything undone. */
int e2e_env_start(void **state, bool with_redis, e2e_config_cb config,
                  const void *arg);
/* For a cmocka teardown function: stops the daemon (SIGTERM, bounded),
 * closes the Redis connection, stops Redis, frees the env. -1 when the
 * daemon did not exit with status 0. */
int e2e_env_teardown(void **state);
/* Clients on the heap, for tests that hold them by pointer: a new
 * connection to the env's daemon (failing the test if it cannot connect),
 * the same after a Hello without credential (failing on an Error), and
 * e2e_hang_up() closing and freeing one. */
struct e2e_client *e2e_env_dial(struct e2e_env *f);
struct e2e_client *e2e_env_dial_hello(struct e2e_env *f, const char *name,
                                      Ccroute__V1__Role role);
void e2e_hang_up(struct e2e_client *c);
/* The SHA-256 of a token in hex, as a principal's token_sha256 wants it. */
void e2e_token_hex(const char *token, char out[65]);

/* ---- the event stream ---- */

struct e2e_ev_report {
    size_t entries;
    size_t offers, assigned, gone, queued;
    size_t violations;
    char first_violation[256];
    uint64_t tokens[16];    /* distinct tokens in stream order */
    size_t ntokens;
    bool token_order_ok;    /* a token never reappears after a later one */
    size_t max_busy;        /* highest per-agent per-channel count seen */
};

/* What the checker needs to know: the channel of a contact (a
 * Ccroute__V1__Channel; 0 when unknown) and an agent's capacity on it. */
struct e2e_ev_model {
    void *arg;
    int (*channel)(void *arg, const char *contact);
    int (*capacity)(void *arg, const char *agent, int channel);
};

/* Reads the whole events stream of `tenant` and replays the assignments:
 * `assigned` adds a contact to its agent, `gone` removes it. A violation
 * is an agent above its capacity on a channel, or an `assigned` of a
 * contact already assigned. */
void e2e_events_check(redisContext *c, const char *tenant,
                      const struct e2e_ev_model *m, struct e2e_ev_report *r);

/* `ccrouted --check-config --check-redis` on the configuration
 * `cfg_text`, written to DIR/NAME.yaml; its stdout and stderr go to
 * DIR/NAME.log. The listener is checked on an ephemeral port (the check
 * binds it, and a demo may hold 7400 on this machine). Returns the exit
 * status (15 s at most) or a negative errno. */
int e2e_check_redis(const char *dir, const char *cfg_text, const char *name);

#endif
