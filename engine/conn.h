/* conn.h -- one client connection: read buffer, frame cutting, output.
 *
 * Reading: each connection owns one receive buffer of max_frame +
 * FRAME_VARINT_MAX bytes, allocated when it is accepted and handed to
 * libuv from alloc_cb (no allocation per read). read_cb appends, then cuts
 * frames with frame_next() in a loop -- many frames per read, a partial
 * frame is kept and moved to the front (compaction) -- and hands each
 * payload to dispatch_frame(). A bad length prefix or an oversized frame
 * means the stream cannot be trusted: the client gets an Error, reading
 * stops and the connection is closed once that Error is written.
 *
 * Writing: messages are packed straight into a chain of fixed-size chunks
 * (16 KiB, from a pool in struct server, so steady state allocates
 * nothing). The connection then sits on the server's pending list (an
 * intrusive link in the struct); the per-turn hook calls conn_flush_all(),
 * which hands each connection's chain to one uv_write() with one uv_buf_t
 * per chunk. While a write is in flight new output goes to a fresh chain,
 * written on the first turn after the write completes.
 *
 * Bound: bytes queued (in flight + not yet written) may not pass
 * cfg->max_output. A client that stops reading hits it and is disconnected
 * with a log line; nobody else waits for it.
 *
 * Identity: each connection has an id = generation << 16 | slot. Tags in
 * the router, barrier arguments and the grace table hold ids, never
 * pointers; conn_lookup() returns NULL for an id whose connection has gone,
 * even when the slot has been reused since.
 */
#ifndef CCROUTE_CONN_H
#define CCROUTE_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "ccroute.pb-c.h"
#include "router-t.h"

struct server;
struct obuf_chunk;

#define CONN_ID_NONE 0u
#define CONN_MAX 65535u

enum conn_state {
    CONN_OPEN = 0,
    CONN_DRAINING,      /* reading stopped; close once output is written */
    CONN_CLOSING,       /* uv_close() called */
};

struct conn {
    uv_tcp_t tcp;                   /* first: handle->data is the conn */
    struct server *srv;
    uint32_t id;
    enum conn_state state;
    char peer[64];                  /* "ip:port", for logs */

    /* session (dispatch.c) */
    bool hello;
    int role;                       /* Ccroute__V1__Role */
    char name[ROUTER_ID_MAX];       /* Hello.client_name */

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
    struct conn *pending_next;      /* server's pending list */
};

/* Accepts a pending connection on the server's listener. */
void conn_accept(struct server *s);
/* The live connection with this id, or NULL. O(1). */
struct conn *conn_lookup(struct server *s, uint32_t id);

/* Packs `env` as one frame into c's output. Returns 0, -ENOMEM, or
 * -ENOBUFS when the output bound is passed (the connection is then being
 * closed; the caller just carries on). Does nothing on a connection that
 * is closing. `env` is borrowed. */
int conn_send(struct conn *c, const Ccroute__V1__Envelope *env);
int conn_send_ack(struct conn *c, uint64_t request_id);
int conn_send_error(struct conn *c, uint64_t request_id, int code,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Closes at once (output not yet written is dropped). `why` goes to the
 * log at info level. Safe to call more than once. */
void conn_close(struct conn *c, const char *why);
/* Stops reading and closes once the output queued so far is written. */
void conn_close_after_flush(struct conn *c, const char *why);
/* Writes every pending connection's output (one uv_write each). */
void conn_flush_all(struct server *s);
/* Closes every connection (shutdown, lease lost). */
void conn_close_all(struct server *s, const char *why);
/* Frees the chunk pool (after every connection is gone). */
void conn_pool_fini(struct server *s);

#endif
