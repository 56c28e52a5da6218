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

struct conn;
struct obuf_chunk;

#define CONN_ID_NONE 0u
#define CONN_MAX 65535u

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
    CONN_DRAINING,      /* reading stopped; close once output is written */
    CONN_CLOSING,       /* uv_close() called */
};

/* Every connection of one listener: ids, the pending-write list, the
 * output chunk pool, the limits and the owner's callbacks. Embedded by the
 * owner (struct server); conn_set_init() fills it. */
struct conn_set {
    /* public, read-only after conn_set_init() */
    uv_loop_t *loop;
    size_t max_frame;               /* payload bytes of one frame */
    size_t max_output;              /* queued output bytes per connection */
    conn_frame_cb on_frame;
    conn_close_cb on_close;
    void *arg;                      /* first argument of the callbacks */
    uint32_t nconns;                /* live connections */

    /* private */
    struct conn **slots;            /* slot -> live connection or NULL */
    uint16_t *gens;                 /* slot -> generation of its last id */
    uint32_t nslots, capslots;
    struct conn *pending;           /* connections with output to write */
    struct obuf_chunk *free_chunks; /* output chunk pool */
    uint32_t nfree_chunks;
};

struct conn {
    uv_tcp_t tcp;                   /* first: handle->data is the conn */
    struct conn_set *set;
    uint32_t id;
    enum conn_state state;
    char peer[64];                  /* "ip:port", for logs */

    /* session: the owner's (dispatch.c); conn.c only logs `name` when it
     * is not empty */
    bool hello;
    int role;                       /* Ccroute__V1__Role */
    char name[ROUTER_ID_MAX];       /* Hello.client_name */
    int principal;                  /* auth.h: index, or AUTH_PRINCIPAL_OPEN;
                                       set by the accepted Hello */
    unsigned auth_failures;         /* Hellos refused for their credential */

    /* private: input */
    uint8_t *rbuf;
    size_t rlen, rcap;

    /* private: output */
    struct obuf_chunk *out_head, *out_tail;  /* not yet written */
    struct obuf_chunk *fly;                  /* in the current uv_write */
    size_t out_bytes, fly_bytes;
    uv_buf_t *iov;
    unsigned iovcap;
    uv_write_t wreq;
    bool writing;
    bool on_pending;
    struct conn *pending_next;      /* the set's pending list */
};

#endif
