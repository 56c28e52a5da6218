/* conn-t.h -- client connections: types only (see conn.h).
 *
 * A connection reports what happens to it through callbacks its owner
 * registers with the connection set (libuv's read_cb / close_cb shape):
 * conn.c never names the module above it. The engine's owner is server.c,
 * which passes frames on to dispatch.c; tests/test-conn.c is another.
 */
#ifndef CCROUTE_CONN_T_H
#define CCROUTE_CONN_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "router-t.h"
#include "tls-t.h"

struct conn;
struct obuf_chunk;

#define CONN_ID_NONE 0u
#define CONN_MAX 65535u
/* Error codes counted one by one in conn_stats.errors_out (the protocol's
 * ErrorCode values are below this; a larger one is not counted). */
#define CONN_ERROR_CODES 32u

/* One frame's payload arrived on c (borrowed until the callback returns).
 * The callback may send on c, close it, or close any other connection. */
typedef void (*conn_frame_cb)(void *arg, struct conn *c,
                              const uint8_t *payload, size_t len);
/* c is being closed (peer gone, error, bound, conn_close()). Called once,
 * from conn_close(), after c's id stopped resolving and before the handle
 * is released; c may be read but no longer sent to. */
typedef void (*conn_close_cb)(void *arg, struct conn *c);

enum conn_state {
    CONN_OPEN = 0,
    CONN_DRAINING,      /* reading discards; shut down once output is
                           written, close at the peer's EOF or the linger
                           deadline */
    CONN_LINGER,        /* write side shut down (FIN sent); discarding input
                           until EOF or the linger deadline */
    CONN_CLOSING,       /* uv_close() called */
};

/* The deadline queues (conn.c, "Deadlines"). Each has one duration, so
 * appending at the tail keeps it ordered by deadline. */
enum conn_dq {
    CONN_DQ_HELLO = 0,  /* accepted, no Hello yet */
    CONN_DQ_PING,       /* agent desk, silent since t: Ping due */
    CONN_DQ_PONG,       /* agent desk pinged at t: something must arrive */
    CONN_DQ_FRAME,      /* a frame began to arrive at t */
    CONN_DQ_IDLE,       /* nothing received since t */
    CONN_DQ_LINGER,     /* closing since t (Error written, input drained) */
    CONN_DQ_COUNT,
};

/* A connection's place in one deadline queue: an intrusive link. */
struct conn_dqnode {
    struct conn_dqnode *prev, *next;    /* NULL when in no queue */
    struct conn *c;
    uint64_t t;                         /* uv_now() ms when queued */
    uint8_t q;                          /* enum conn_dq, when linked */
};

/* The limits of a connection set (engine/config.h has the defaults and
 * docs/configuration.md the keys). A duration of 0 switches the deadline
 * off, except hello_ms, frame_ms, pong_ms and linger_ms, which the
 * configuration requires. */
struct conn_limits {
    size_t max_frame;               /* payload bytes of one frame */
    size_t max_output;              /* queued output bytes per connection */
    uint32_t max_conns;             /* live connections (<= CONN_MAX) */
    uint32_t hello_ms;              /* accept -> Hello */
    uint32_t frame_ms;              /* first byte -> last byte of a frame */
    uint32_t idle_ms;               /* nothing received (0: off) */
    uint32_t ping_ms;               /* agent desk silent -> Ping (0: off) */
    uint32_t pong_ms;               /* Ping -> anything received */
    uint32_t linger_ms;             /* Error written -> close, at most */
    uint32_t keepalive_s;           /* TCP keepalive idle time (0: off) */
};

/* What happened to the connections of a set, for logs and a metrics
 * endpoint: monotonic counts since start, except the two gauges. */
struct conn_stats {
    uint64_t accepted;
    uint64_t refused_full;          /* past max_conns, nothing to evict */
    uint64_t evicted_no_hello;      /* oldest pre-Hello one, for a new one */
    uint64_t evicted_lingering;     /* closing one cut short, for a new one */
    uint64_t accept_errors;         /* accept() failed (EMFILE...) */
    uint64_t hello_timeouts, frame_timeouts, idle_timeouts, pong_timeouts;
    uint64_t pings_sent;
    uint64_t frames_too_large, malformed_prefix;
    uint64_t output_overflows;
    uint64_t linger_expired;        /* peer never closed after our FIN */
    uint64_t tls_handshakes;        /* TLS sessions established */
    uint64_t tls_failures;          /* handshakes or sessions failed */
    uint64_t rbuf_bytes;            /* gauge: read buffers allocated now */
    uint64_t rbuf_peak;             /* the largest rbuf_bytes seen */
    uint64_t frames_in;             /* frames handed to on_frame */
    uint64_t frames_out;            /* frames queued by conn_send() */
    uint64_t errors_out[CONN_ERROR_CODES];  /* of those, Errors by code */
};

/* Every connection of one listener: ids, the pending-write list, the
 * output chunk pool, the limits, the deadline queues and the owner's
 * callbacks. Embedded by the owner (struct server); conn_set_init() fills
 * it. */
struct conn_set {
    /* public, read-only after conn_set_init() */
    uv_loop_t *loop;
    struct conn_limits lim;
    conn_frame_cb on_frame;
    conn_close_cb on_close;
    void *arg;                      /* first argument of the callbacks */
    struct tls_ctx *tls;            /* borrowed; NULL: plaintext. The owner
                                       sets it after conn_set_init(), before
                                       the first accept */
    uint32_t nconns;                /* live connections */
    struct conn_stats stats;        /* read-only */

    /* private */
    struct conn **slots;            /* slot -> live connection or NULL */
    uint16_t *gens;                 /* slot -> generation of its last id */
    uint32_t *free_slots;           /* stack of free slots below nslots */
    uint32_t nslots, capslots, nfree_slots;
    struct conn *pending;           /* connections with output to write */
    struct obuf_chunk *free_chunks; /* output chunk pool */
    uint32_t nfree_chunks;
    struct conn_dqnode dq[CONN_DQ_COUNT];   /* sentinels of the queues */
    uint32_t dq_ms[CONN_DQ_COUNT];          /* duration of each queue */
    uv_timer_t timer;               /* at the earliest deadline */
    uint64_t timer_due;             /* armed for (uv_now ms), 0 if not */
    bool timer_open;
    uint64_t ping_seq;              /* request id of the engine's Pings */
    uint64_t warn_ms;               /* rate limit of the refusal log */
    uint64_t warn_suppressed;
};

struct conn {
    uv_tcp_t tcp;                   /* first: handle->data is the conn */
    struct conn_set *set;
    uint32_t id;
    enum conn_state state;
    char peer[64];                  /* "ip:port", for logs */

    /* session: the owner's (dispatch.c); conn.c only logs `name` when it
     * is not empty, and reads `hello` and `role` for the Hello deadline
     * and the desks' pings */
    bool hello;
    int role;                       /* Ccroute__V1__Role */
    char name[ROUTER_ID_MAX];       /* Hello.client_name */
    int principal;                  /* auth.h: index, or AUTH_PRINCIPAL_OPEN;
                                       set by the accepted Hello */
    unsigned auth_failures;         /* Hellos refused for their credential */
    uint32_t owner;                 /* owner.h: its owner record id, set by
                                       the accepted Hello */
    unsigned tenant;                /* tenant-t.h: its tenant's index in
                                       the engine's set, set by the
                                       accepted Hello */

    /* private: deadlines */
    struct conn_dqnode dq_session;  /* HELLO, PING or PONG */
    struct conn_dqnode dq_frame;    /* FRAME, or LINGER once closing */
    struct conn_dqnode dq_idle;     /* IDLE */

    /* private: input */
    uint8_t *rbuf;                  /* grows as a frame needs (conn.h) */
    size_t rlen, rcap;

    /* private: TLS (NULL when the listener is plaintext) */
    struct tls_sess *tls;
    bool tls_done;                  /* no more records: close_notify queued
                                       or the session failed */

    /* private: output (plaintext; with TLS it is sealed into ciphertext
     * chunks when written) */
    struct obuf_chunk *out_head, *out_tail;  /* not yet written */
    struct obuf_chunk *fly;                  /* in the current uv_write */
    size_t out_bytes, fly_bytes;
    uv_buf_t *iov;
    unsigned iovcap;
    uv_write_t wreq;
    uv_shutdown_t sreq;
    bool writing;
    bool on_pending;
    struct conn *pending_next;      /* the set's pending list */
};

#endif
