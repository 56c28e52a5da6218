/* bconn.h -- framed protocol connections on libuv for the bench programs.
 *
 * ccload, limit-server and lua-server all speak the ccroute protocol over
 * libuv TCP handles the same way the engine does: one receive buffer per
 * connection, frames cut with frame_next() in a loop (many frames per read,
 * a partial frame kept for the next read), each payload unpacked into an
 * arena that is reset after the frame; replies appended to a per-connection
 * output buffer and written once per loop turn (a uv_prepare hook, like
 * redis's beforeSleep) as one uv_write per connection.
 *
 * Output uses two buffers per connection: one being filled, one in flight.
 * While a write is in flight new frames go to the other buffer; the write
 * callback sends it if it is not empty. The output buffer is bounded
 * (BCONN_MAX_OUT): a peer that stops reading gets its connection closed
 * rather than the process's memory.
 *
 * Ownership: the caller allocates struct bconn (usually embedded in its own
 * per-connection struct) and keeps it alive until on_close has been called.
 */
#ifndef CCROUTE_BCONN_H
#define CCROUTE_BCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "arena.h"
#include "ccroute.pb-c.h"

#define BCONN_MAX_FRAME (1024 * 1024)
#define BCONN_MAX_OUT (256u * 1024 * 1024)

struct bconn;
struct bconn_loop;

/* Called for every decoded envelope (borrowed: valid until the callback
 * returns). `env` is NULL when the frame did not decode. */
typedef void (*bconn_frame_cb)(struct bconn *c, Ccroute__V1__Envelope *env);
/* Called once when the connection is gone (peer closed, error, or
 * bconn_close()); `err` is 0 or a negative libuv error code. After it
 * returns the caller may free the struct. */
typedef void (*bconn_close_cb)(struct bconn *c, int err);

struct bconn {
    /* public, read-only */
    uv_tcp_t tcp;
    struct bconn_loop *bl;
    uint64_t frames_in, frames_out, bytes_in, bytes_out;
    void *data;                  /* for the owner */
    /* private */
    bconn_frame_cb on_frame;
    bconn_close_cb on_close;
    uint8_t *rbuf;
    size_t rlen, rcap;
    uint8_t *obuf[2];            /* [fill] and [flight] */
    size_t olen[2], ocap[2];
    int fill;                    /* index of the buffer being filled */
    bool writing, closing, dirty;
    int close_err;
    uv_write_t wreq;
    struct bconn *next_dirty;
};

/* One per loop: the once-per-turn flush and the decoding arena. */
struct bconn_loop {
    uv_loop_t *loop;
    uv_prepare_t prep;
    struct arena arena;
    struct bconn *dirty;
    /* Called at the start of each flush (before the writes), so the owner
     * can append batched output of its own. May be NULL. */
    void (*before_flush)(struct bconn_loop *bl);
    void *data;
};

/* Sets up the per-loop state. Returns 0 or a negative errno. */
int bconn_loop_init(struct bconn_loop *bl, uv_loop_t *loop);
void bconn_loop_close(struct bconn_loop *bl);

/* Initialises c's TCP handle on bl's loop (before uv_accept or connect). */
int bconn_init(struct bconn_loop *bl, struct bconn *c, bconn_frame_cb on_frame,
               bconn_close_cb on_close);
/* Starts reading (after accept or connect). Sets TCP_NODELAY. */
int bconn_start(struct bconn *c);

/* Connects synchronously-looking: runs the loop until connected or failed.
 * Only for start-up. Returns 0 or a negative libuv error. */
int bconn_connect(struct bconn *c, const char *host, int port);

/* Appends one frame with `env` (packed now; env is borrowed). Returns 0, or
 * -ENOBUFS when the output bound is hit (the connection is then closed). */
int bconn_send(struct bconn *c, const Ccroute__V1__Envelope *env);

/* Closes the connection (pending output is dropped); on_close follows. */
void bconn_close(struct bconn *c, int err);

/* Writes every pending output now (also done once per loop turn). */
void bconn_flush_all(struct bconn_loop *bl);

/* Parses "HOST:PORT" ("[v6]:PORT" too). host gets at most hostlen-1 bytes.
 * Returns 0 or -EINVAL. */
int bconn_parse_hostport(const char *s, char *host, size_t hostlen, int *port);

/* For the servers: binds and listens on "HOST:PORT" (port 0: any free
 * port), writes the bound port into *bound. Returns 0 or a libuv error. */
int bconn_listen(uv_loop_t *loop, uv_tcp_t *server, const char *hostport,
                 uv_connection_cb cb, int *bound);
/* Writes "PORT\n" to path atomically (temporary file + rename). */
int bconn_write_port_file(const char *path, int port);

#endif
