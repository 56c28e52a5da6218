/* conn.h -- one client connection: read buffer, frame cutting, output,
 * limits and deadlines.
 *
 * Reading: each connection owns one receive buffer that starts at
 * CONN_RBUF_MIN bytes and grows only as a frame needs it: when the buffer
 * is full and the frame at its front is not whole, it doubles, up to the
 * whole frame (prefix + declared length, never above max_frame +
 * FRAME_VARINT_MAX). Memory therefore follows the bytes a client has
 * actually sent, not the length it declared; once the buffer is empty
 * again it shrinks back to CONN_RBUF_MIN. libuv reads into it from
 * alloc_cb (no allocation per read). read_cb appends, then cuts frames
 * with frame_next() in a loop -- many frames per read, a partial frame is
 * kept and moved to the front -- and hands each payload to the owner's
 * conn_frame_cb. A bad length prefix or an oversized frame means the
 * stream cannot be trusted: the client gets an Error and the connection
 * closes after it (conn_close_after_flush below).
 *
 * Closing after an Error: the Error must reach the client. Closing a
 * socket that still has unread input makes the kernel send a reset, and a
 * reset makes the client's kernel drop what it had not yet read -- the
 * Error with it. So the connection keeps reading and discarding, shuts
 * its write side down (FIN) once the Error is written, and closes at the
 * client's EOF, or after limits.linger_ms in any case.
 *
 * Writing: messages are packed (protobuf-c, or the hand-written encoders
 * of encode.h through conn_out_reserve) straight into a chain of
 * fixed-size chunks (16 KiB, from a pool in the struct conn_set, so
 * steady state allocates nothing). The connection then sits on the set's
 * pending list (an intrusive link in the struct); the owner's per-turn
 * hook calls conn_flush_all(), which writes each connection's chain with
 * one writev (uv_try_write, one uv_buf_t per chunk); only what the socket
 * does not take goes to a uv_write(). While such a write is in flight new
 * output goes to a fresh chain, written on the first turn after the write
 * completes.
 *
 * Bound: bytes queued (in flight + not yet written) may not pass the
 * set's max_output. A client that stops reading hits it and is
 * disconnected with a log line; nobody else waits for it.
 *
 * Connections: at most lim.max_conns live at once (the owner keeps it
 * below the descriptor limit, so accept() never meets EMFILE, whose libuv
 * fallback closes every pending client). A connection past it evicts the
 * oldest one that has not said Hello yet, when there is one (so idle
 * strangers cannot lock legitimate clients out); otherwise it is refused:
 * accepted, sent Error RESOURCE_EXHAUSTED, closed; a log line at most once
 * a second says how many were refused.
 *
 * Deadlines (each answered with Error TIMEOUT, where the client can still
 * read it, a log line and a count): Hello within hello_ms of the accept; a
 * frame, once its first byte arrived, whole within frame_ms (slow-loris);
 * with idle_ms, something received at least every idle_ms; an agent desk
 * silent for ping_ms gets a Ping and must send something (its Pong)
 * within pong_ms. TCP keepalive (keepalive_s) lets the kernel find dead
 * peers of every role. The close then goes to the owner's on_close like
 * any other, so a desk's agents go through the grace period.
 *
 * How deadlines are kept: one deadline queue per kind (enum conn_dq), an
 * intrusive doubly-linked list of connections. All entries of one queue
 * share a duration, so a connection appended at the tail with t = now has
 * the latest deadline: the list is sorted without a heap. Every event is
 * O(1): a read moves the connection to the tail of IDLE (and of PING for
 * a desk); a Hello, a whole frame or a close unlinks. One uv timer per set
 * is armed at the earliest head (CONN_DQ_COUNT comparisons, re-armed once
 * per loop turn in conn_flush_all()), and when it fires only expired heads
 * are visited. A uv timer per connection would instead cost a heap update
 * (O(log n)) on every read.
 *
 * Identity: each connection has an id = generation << 16 | slot. Tags in
 * the router, barrier arguments and the grace table hold ids, never
 * pointers; conn_lookup() returns NULL for an id whose connection has gone,
 * even when the slot has been reused since.
 *
 * TLS: when the owner gives the set a TLS context (conn_set.tls), every
 * connection is a TLS session over memory BIOs (tls.h): ciphertext in and
 * out through the same buffers and the same uv_write path, plaintext
 * through the same frame cutter; conn.c has the details.
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

#define CONN_RBUF_MIN 4096u     /* a read buffer's size between frames */

/* Fills `cs` (caller-owned, usually embedded) for connections on `loop`
 * with the limits (copied; max_conns is capped at CONN_MAX) and the
 * owner's callbacks (`arg` is passed back to them), and initialises the
 * set's deadline timer on `loop`. Returns 0 or a negative libuv code. */
int conn_set_init(struct conn_set *cs, uv_loop_t *loop,
                  const struct conn_limits *lim, conn_frame_cb on_frame,
                  conn_close_cb on_close, void *arg);
/* Closes every connection and the deadline timer (shutdown). uv_run()
 * releases them; call conn_set_fini() after. */
void conn_set_stop(struct conn_set *cs, const char *why);
/* Frees the slot table and the chunk pool; call after conn_set_stop()
 * and after the loop has released the handles. */
void conn_set_fini(struct conn_set *cs);

/* Accepts a pending connection on `listener` into the set and starts
 * reading; at max_conns it evicts or refuses (see above: -EBUSY when the
 * new one was refused). Returns 0 or a negative libuv / errno code
 * (logged; nothing is left behind). */
int conn_accept(struct conn_set *cs, uv_stream_t *listener);
/* The listener reported an accept error (EMFILE...): counted, and logged
 * at most once a second. */
void conn_accept_failed(struct conn_set *cs, int status);
/* The live connection with this id, or NULL. O(1). */
struct conn *conn_lookup(struct conn_set *cs, uint32_t id);
/* A walk over every live connection (metrics): start with *cursor = 0;
 * returns the next one and advances the cursor, or NULL at the end.
 * Nothing may be accepted or closed during the walk. */
struct conn *conn_set_next(const struct conn_set *cs, uint32_t *cursor);

/* Packs `env` as one frame into c's output. Returns 0, -ENOMEM, or
 * -ENOBUFS when the output bound is passed (the connection is then being
 * closed; the caller just carries on). Does nothing on a connection that
 * is closing (-EPIPE). `env` is borrowed. */
int conn_send(struct conn *c, const Ccroute__V1__Envelope *env);
/* Ack{request_id}, written by the hand-written encoder (encode.h). */
int conn_send_ack(struct conn *c, uint64_t request_id);
/* For encoders that write a frame in place (encode.h): room for `need`
 * bytes at the end of c's output, valid until the next call on c; NULL
 * when c is closing, or when the output bound is passed or memory runs
 * out (c is then being closed, as with conn_send). conn_out_commit()
 * then appends the n <= need bytes written there as output. */
uint8_t *conn_out_reserve(struct conn *c, size_t need);
void conn_out_commit(struct conn *c, size_t n);
int conn_send_error(struct conn *c, uint64_t request_id, int code,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Closes at once (output not yet written is dropped); on_close is called
 * from here. `why` goes to the log at info level. Safe to call more than
 * once. */
void conn_close(struct conn *c, const char *why);
/* Stops taking frames; once the output queued so far is written, shuts
 * the write side down and closes at the peer's EOF or after linger_ms
 * (input meanwhile is read and discarded, so the close sends no reset). */
void conn_close_after_flush(struct conn *c, const char *why);
/* Writes every pending connection's output (one writev each) and
 * re-arms the deadline timer; the owner calls it once per loop turn. */
void conn_flush_all(struct conn_set *cs);
/* Closes every connection (lease lost). */
void conn_close_all(struct conn_set *cs, const char *why);
/* The SHA-256 of c's client certificate (TLS with a CA: verified), or
 * NULL (plaintext, no certificate). Borrowed while c lives. */
const uint8_t *conn_peer_cert_sha256(const struct conn *c);
/* Bytes a live connection's read buffer holds allocated (tests, stats). */
size_t conn_rbuf_cap(const struct conn *c);

#endif
