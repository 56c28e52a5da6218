/* conn.h -- one client connection: read buffer, frame cutting, output.
 *
 * Reading: each connection owns one receive buffer of max_frame +
 * FRAME_VARINT_MAX bytes, allocated when it is accepted and handed to
 * libuv from alloc_cb (no allocation per read). read_cb appends, then cuts
 * frames with frame_next() in a loop -- many frames per read, a partial
 * frame is kept and moved to the front (compaction) -- and hands each
 * payload to the owner's conn_frame_cb. A bad length prefix or an oversized frame
 * means the stream cannot be trusted: the client gets an Error, reading
 * stops and the connection is closed once that Error is written.
 *
 * Writing: messages are packed straight into a chain of fixed-size chunks
 * (16 KiB, from a pool in the struct conn_set, so steady state allocates
 * nothing). The connection then sits on the set's pending list (an
 * intrusive link in the struct); the owner's per-turn hook calls
 * conn_flush_all(),
 * which hands each connection's chain to one uv_write() with one uv_buf_t
 * per chunk. While a write is in flight new output goes to a fresh chain,
 * written on the first turn after the write completes.
 *
 * Bound: bytes queued (in flight + not yet written) may not pass
 * the set's max_output. A client that stops reading hits it and is disconnected
 * with a log line; nobody else waits for it.
 *
 * Identity: each connection has an id = generation << 16 | slot. Tags in
 * the router, barrier arguments and the grace table hold ids, never
 * pointers; conn_lookup() returns NULL for an id whose connection has gone,
 * even when the slot has been reused since.
 *
 * Upward: the connection calls its owner only through the callbacks of
 * its set (conn-t.h): on_frame for each frame, on_close when it closes.
 */
#ifndef CCROUTE_CONN_H
#define CCROUTE_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "ccroute.pb-c.h"
#include "conn-t.h"

/* Fills `cs` (caller-owned, usually embedded) for connections on `loop`
 * with the given limits and the owner's callbacks (`arg` is passed back
 * to them). Allocates nothing yet. */
void conn_set_init(struct conn_set *cs, uv_loop_t *loop, size_t max_frame,
                   size_t max_output, conn_frame_cb on_frame,
                   conn_close_cb on_close, void *arg);
/* Frees the slot table and the chunk pool; call after every connection of
 * the set is closed and the loop has released them. */
void conn_set_fini(struct conn_set *cs);

/* Accepts a pending connection on `listener` into the set and starts
 * reading. Returns 0 or a negative libuv / errno code (logged; nothing is
 * left behind). */
int conn_accept(struct conn_set *cs, uv_stream_t *listener);
/* The live connection with this id, or NULL. O(1). */
struct conn *conn_lookup(struct conn_set *cs, uint32_t id);

/* Packs `env` as one frame into c's output. Returns 0, -ENOMEM, or
 * -ENOBUFS when the output bound is passed (the connection is then being
 * closed; the caller just carries on). Does nothing on a connection that
 * is closing (-EPIPE). `env` is borrowed. */
int conn_send(struct conn *c, const Ccroute__V1__Envelope *env);
int conn_send_ack(struct conn *c, uint64_t request_id);
int conn_send_error(struct conn *c, uint64_t request_id, int code,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Closes at once (output not yet written is dropped); on_close is called
 * from here. `why` goes to the log at info level. Safe to call more than
 * once. */
void conn_close(struct conn *c, const char *why);
/* Stops reading and closes once the output queued so far is written. */
void conn_close_after_flush(struct conn *c, const char *why);
/* Writes every pending connection's output (one uv_write each). */
void conn_flush_all(struct conn_set *cs);
/* Closes every connection (shutdown, lease lost). */
void conn_close_all(struct conn_set *cs, const char *why);

#endif
