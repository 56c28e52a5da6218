/* sse.c -- server-sent event streams on H2O; see sse.h.
 *
 * H2O streams a response through a generator: h2o_start_response() with
 * our generator, then h2o_send(..., H2O_SEND_STATE_IN_PROGRESS) for each
 * piece. H2O writes a piece to the socket and calls the generator's
 * proceed() once the socket took it; until then the piece's buffer must
 * stay as it is, and no other h2o_send() may be made. That rule is the
 * bound on memory: each stream owns one buffer, filled only while no
 * send is in flight (`inflight` false). A tick that finds a send still in
 * flight skips the stream; when the send has been in flight for
 * stuck_ms, the owner's kick ends the connection, H2O's write fails, and
 * H2O calls stop(), where the stream is freed. A client that goes away
 * is found the same way, by the next write failing.
 *
 * The end of a stream is a send with H2O_SEND_STATE_FINAL; after it H2O
 * does not call the generator again, so the stream is unlinked and freed
 * before that last send. sse_stop() ends the idle streams at once and
 * marks the others, which end in proceed().
 *
 * Frame text: "id: <seq>\nevent: <name>\ndata: <one line>\n\n"; the first
 * frame of a stream is preceded by "retry: <ms>\n\n".
 */
#include "sse.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

struct sse_stream {
    h2o_generator_t gen;            /* first: H2O hands it back */
    struct sse *s;                  /* NULL once the set is freed */
    h2o_req_t *req;
    struct sse_stream *prev, *next;
    char *buf;                      /* the frame in flight or last sent */
    size_t cap;
    uint64_t sent_at_us;            /* when the frame in flight was sent */
    bool inflight;                  /* H2O has not called proceed yet */
    bool kicked;
};

struct sse {
    struct sse_config cfg;
    uv_loop_t *loop;
    uv_timer_t tick;
    bool tick_open, ticking, stopping;
    sse_frame_cb frame;
    sse_kick_cb kick;
    void *arg;
    struct sse_stream *streams;
    unsigned count;
    uint64_t seq, skipped, kicked;
};

static void unlink_stream(struct sse_stream *st)
{
    struct sse *s = st->s;
    if (!s)
        return;
    if (st->prev)
        st->prev->next = st->next;
    else
        s->streams = st->next;
    if (st->next)
        st->next->prev = st->prev;
    s->count--;
    st->s = NULL;
    if (!s->count && s->ticking) {
        uv_timer_stop(&s->tick);
        s->ticking = false;
    }
}

/* Ends `st`'s response; `st` is freed (H2O calls nothing of it after). */
static void end_stream(struct sse_stream *st)
{
    h2o_req_t *req = st->req;
    unlink_stream(st);
    free(st->buf);
    free(st);
    h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
}

/* Copies frame `seq` (data: len bytes) into st's buffer and sends it.
 * `prefix` goes before it (NULL: none). -ENOMEM leaves st idle. */
static int send_frame(struct sse_stream *st, const char *prefix,
                      uint64_t seq, const char *data, size_t len)
{
    struct sse *s = st->s;
    char head[128];
    int hn = snprintf(head, sizeof(head), "%sid: %" PRIu64 "\nevent: %s\n"
                      "data: ", prefix ? prefix : "", seq, s->cfg.event);
    size_t need = (size_t)hn + len + 2;
    h2o_iovec_t iov;

    if (need > st->cap) {
        char *b = realloc(st->buf, need);
        if (!b)
            return -ENOMEM;
        st->buf = b;
        st->cap = need;
    }
    memcpy(st->buf, head, (size_t)hn);
    memcpy(st->buf + hn, data, len);
    memcpy(st->buf + hn + len, "\n\n", 2);
    iov = h2o_iovec_init(st->buf, need);
    st->inflight = true;
    st->sent_at_us = clock_mono_us();
    h2o_send(st->req, &iov, 1, H2O_SEND_STATE_IN_PROGRESS);
    return 0;
}

static void on_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    struct sse_stream *st = (struct sse_stream *)g;
    st->inflight = false;
    if (!st->s || st->s->stopping)
        end_stream(st);
}

/* H2O disposes of the request (its connection closed): no more sends. */
static void on_stop(h2o_generator_t *g, h2o_req_t *req)
{
    struct sse_stream *st = (struct sse_stream *)g;
    unlink_stream(st);
    free(st->buf);
    free(st);
}

static void on_tick(uv_timer_t *t)
{
    struct sse *s = t->data;
    uint64_t now = clock_mono_us(), seq = ++s->seq;
    char *data = NULL;
    size_t len = 0;
    bool built = false;

    for (struct sse_stream *st = s->streams, *next; st; st = next) {
        next = st->next;            /* a kick may close st at once */
        if (st->inflight) {
            s->skipped++;
            if (!st->kicked &&
                now - st->sent_at_us >= (uint64_t)s->cfg.stuck_ms * 1000) {
                st->kicked = true;
                s->kicked++;
                s->kick(s->arg, st->req);
            }
            continue;
        }
        if (!built) {
            built = true;
            if (s->frame(s->arg, seq, &data, &len) < 0)
                break;
        }
        if (send_frame(st, NULL, seq, data, len) < 0)
            s->skipped++;
    }
    free(data);
}

struct sse *sse_new(uv_loop_t *loop, const struct sse_config *cfg,
                    sse_frame_cb frame, sse_kick_cb kick, void *arg)
{
    struct sse *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->cfg = *cfg;
    s->loop = loop;
    s->frame = frame;
    s->kick = kick;
    s->arg = arg;
    uv_timer_init(loop, &s->tick);
    s->tick.data = s;
    s->tick_open = true;
    return s;
}

int sse_open(struct sse *s, h2o_req_t *req)
{
    struct sse_stream *st;
    char *data = NULL, retry[48];
    size_t len = 0;
    int rc;

    if (s->stopping)
        return -ECANCELED;
    st = calloc(1, sizeof(*st));
    if (!st)
        return -ENOMEM;
    rc = s->frame(s->arg, s->seq, &data, &len);
    if (rc < 0) {
        free(st);
        return rc;
    }
    st->gen.proceed = on_proceed;
    st->gen.stop = on_stop;
    st->req = req;
    st->s = s;
    st->next = s->streams;
    if (s->streams)
        s->streams->prev = st;
    s->streams = st;
    s->count++;

    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE,
                   NULL, H2O_STRLIT("text/event-stream; charset=utf-8"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL,
                   NULL, H2O_STRLIT("no-store"));
    h2o_start_response(req, &st->gen);
    snprintf(retry, sizeof(retry), "retry: %u\n\n", s->cfg.retry_ms);
    if (send_frame(st, retry, s->seq, data, len) < 0) {
        free(data);
        end_stream(st);     /* the response has begun: end it empty */
        return 0;
    }
    free(data);
    if (!s->ticking) {
        uv_timer_start(&s->tick, on_tick, s->cfg.period_ms,
                       s->cfg.period_ms);
        s->ticking = true;
    }
    return 0;
}

unsigned sse_count(const struct sse *s)
{
    return s->count;
}

uint64_t sse_skipped(const struct sse *s)
{
    return s->skipped;
}

uint64_t sse_kicked(const struct sse *s)
{
    return s->kicked;
}

void sse_stop(struct sse *s)
{
    if (s->stopping)
        return;
    s->stopping = true;
    for (struct sse_stream *st = s->streams, *next; st; st = next) {
        next = st->next;
        if (!st->inflight)
            end_stream(st);     /* the others end in on_proceed */
    }
    if (s->tick_open) {
        uv_close((uv_handle_t *)&s->tick, NULL);
        s->tick_open = false;
        s->ticking = false;
    }
}

void sse_free(struct sse *s)
{
    if (!s)
        return;
    /* streams H2O has not disposed of yet free themselves in on_stop */
    while (s->streams)
        unlink_stream(s->streams);
    free(s);
}
