/* sse.h -- server-sent event streams on H2O: the wallboard's live feed
 * (GET /api/v1/events, docs/http.md).
 *
 * One tick a second (while at least one stream is open) builds one frame
 * through the owner's frame callback and offers it to every stream. A
 * stream holds at most one frame: the one H2O is writing to its client.
 * A stream whose client has not taken its previous frame when the next
 * tick comes skips that tick (the frame is not queued; the next one is
 * newer anyway), so a slow client costs one frame of memory, never a
 * backlog. One whose frame has not been taken for `stuck_ms` is given to
 * the owner's kick callback, which ends its connection.
 *
 * The owner (http.c) bounds how many streams there are (sse_count) and
 * routes requests; this module knows H2O's generator API and nothing of
 * the engine.
 */
#ifndef CCROUTE_SSE_H
#define CCROUTE_SSE_H

#include <stddef.h>
#include <stdint.h>

#include <h2o.h>

struct sse;

/* Builds the data of frame `seq`: one line of text without a newline,
 * malloc'd into *out (the caller of the callback frees it), its length in
 * *len. 0, or a negative code (the tick is skipped). */
typedef int (*sse_frame_cb)(void *arg, uint64_t seq, char **out,
                            size_t *len);
/* The client of `req` has not taken a frame for stuck_ms: end its
 * connection (the stream's stop follows when H2O closes it). */
typedef void (*sse_kick_cb)(void *arg, h2o_req_t *req);

struct sse_config {
    uint32_t period_ms;     /* between ticks */
    uint32_t stuck_ms;      /* a frame not taken for this long: kick */
    uint32_t retry_ms;      /* the retry: the clients are told */
    const char *event;      /* the event: name of every frame */
};

/* A new set of streams on `loop` (borrowed; cfg copied, cfg->event
 * borrowed for the set's life). NULL when out of memory. */
struct sse *sse_new(uv_loop_t *loop, const struct sse_config *cfg,
                    sse_frame_cb frame, sse_kick_cb kick, void *arg);
/* Starts an event stream as the answer to `req` (200,
 * text/event-stream) and sends it a first frame at once. 0, or -ENOMEM
 * (nothing was sent: the caller answers). */
int sse_open(struct sse *s, h2o_req_t *req);
/* Streams open now. */
unsigned sse_count(const struct sse *s);
/* Frames not sent to a stream because its client had not taken the
 * previous one, and streams kicked as stuck (since sse_new). */
uint64_t sse_skipped(const struct sse *s);
uint64_t sse_kicked(const struct sse *s);
/* Ends every stream (each gets the end of its response once its client
 * has taken what was in flight) and stops the tick; new sse_open calls
 * fail. Part of the HTTP surface's stop. */
void sse_stop(struct sse *s);
/* Frees the set; call after the loop ran the handles' closes (streams
 * still open then are left to H2O's disposal of their connections). NULL
 * is a no-op. */
void sse_free(struct sse *s);

#endif
