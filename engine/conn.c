/* conn.c -- client connections; see conn.h for the design.
 *
 * Lifetime of a struct conn: calloc'd in conn_accept(), entered in the
 * server's slot table, removed from it by conn_close() (so that ids stop
 * resolving at once), freed in close_cb after libuv has released the
 * handle (and cancelled any write or shutdown in flight, whose callbacks
 * run first). conn_close() calls the owner's on_close between the two,
 * once. Closing after an Error goes OPEN -> DRAINING (output still being
 * written, input discarded) -> LINGER (FIN sent) -> CLOSING, each step
 * bounded by the LINGER deadline queued when draining began.
 *
 * TLS (tls.h) is one branch on each path, taken only when the set has a
 * TLS context, so a plaintext connection pays one test of a NULL pointer:
 *   read: libuv reads ciphertext into the free end of the read buffer (the
 *   same alloc_cb), conn_read_tls() copies it into the session's read BIO
 *   and decrypts into the same place, then the usual frame cutter runs on
 *   the plaintext (conn_input()).
 *   write: conn_send() queues plaintext frames in chunks as always;
 *   conn_write() seals the whole chain (one SSL_write per chunk, so many
 *   small frames share records) and moves the write BIO's ciphertext --
 *   handshake messages and alerts first, in the order OpenSSL made them --
 *   into fresh chunks for the one uv_write. Before the handshake is done
 *   the plaintext waits; a connection that is closing drops it.
 *   close: once the output is written, close_notify is queued and written
 *   before the FIN (conn_shutdown()). A failed handshake or session is
 *   logged with OpenSSL's reason; its alert, if any, is written before the
 *   close, like an Error.
 */
#include "conn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "frame.h"
#include "log.h"
#include "tls.h"

#define OBUF_CHUNK (16u * 1024)
#define OBUF_POOL_MAX 1024u          /* chunks kept for reuse: 16 MiB */

struct obuf_chunk {
    struct obuf_chunk *next;
    size_t len, cap;
    uint8_t data[];
};

/* ---- chunk pool ---- */

static struct obuf_chunk *chunk_get(struct conn_set *s, size_t need)
{
    struct obuf_chunk *ch;
    if (need <= OBUF_CHUNK && s->free_chunks) {
        ch = s->free_chunks;
        s->free_chunks = ch->next;
        s->nfree_chunks--;
    } else {
        size_t cap = need <= OBUF_CHUNK ? OBUF_CHUNK : need;
        ch = malloc(sizeof(*ch) + cap);
        if (!ch)
            return NULL;
        ch->cap = cap;
    }
    ch->next = NULL;
    ch->len = 0;
    return ch;
}

static void chunk_put_chain(struct conn_set *s, struct obuf_chunk *ch)
{
    while (ch) {
        struct obuf_chunk *next = ch->next;
        if (ch->cap == OBUF_CHUNK && s->nfree_chunks < OBUF_POOL_MAX) {
            ch->next = s->free_chunks;
            s->free_chunks = ch;
            s->nfree_chunks++;
        } else {
            free(ch);
        }
        ch = next;
    }
}

static void conn_timer_cb(uv_timer_t *t);

int conn_set_init(struct conn_set *cs, uv_loop_t *loop,
                  const struct conn_limits *lim, conn_frame_cb on_frame,
                  conn_close_cb on_close, void *arg)
{
    int rc;
    memset(cs, 0, sizeof(*cs));
    cs->loop = loop;
    cs->lim = *lim;
    if (cs->lim.max_conns == 0 || cs->lim.max_conns > CONN_MAX)
        cs->lim.max_conns = CONN_MAX;
    cs->on_frame = on_frame;
    cs->on_close = on_close;
    cs->arg = arg;
    for (int q = 0; q < CONN_DQ_COUNT; q++) {
        cs->dq[q].prev = cs->dq[q].next = &cs->dq[q];
        cs->dq[q].q = (uint8_t)q;
    }
    cs->dq_ms[CONN_DQ_HELLO] = lim->hello_ms;
    cs->dq_ms[CONN_DQ_PING] = lim->ping_ms;
    cs->dq_ms[CONN_DQ_PONG] = lim->ping_ms ? lim->pong_ms : 0;
    cs->dq_ms[CONN_DQ_FRAME] = lim->frame_ms;
    cs->dq_ms[CONN_DQ_IDLE] = lim->idle_ms;
    /* Never 0: a closing connection must close by itself. */
    cs->dq_ms[CONN_DQ_LINGER] = lim->linger_ms ? lim->linger_ms : 1;
    rc = uv_timer_init(loop, &cs->timer);
    if (rc < 0)
        return rc;
    cs->timer.data = cs;
    cs->timer_open = true;
    return 0;
}

void conn_set_fini(struct conn_set *s)
{
    while (s->free_chunks) {
        struct obuf_chunk *ch = s->free_chunks;
        s->free_chunks = ch->next;
        free(ch);
    }
    s->nfree_chunks = 0;
    free(s->slots);
    free(s->gens);
    free(s->free_slots);
    s->slots = NULL;
    s->gens = NULL;
    s->free_slots = NULL;
    s->nslots = s->capslots = s->nfree_slots = 0;
}

/* ---- deadline queues (conn.h, "How deadlines are kept") ---- */

static bool dq_linked(const struct conn_dqnode *n)
{
    return n->next != NULL;
}

static void dq_unlink(struct conn_dqnode *n)
{
    if (!n->next)
        return;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = NULL;
}

/* Moves n to the tail of queue q with t = now (out of any queue when q's
 * deadline is off). O(1). */
static void dq_push(struct conn_set *s, int q, struct conn_dqnode *n,
                    uint64_t now)
{
    struct conn_dqnode *h = &s->dq[q];
    dq_unlink(n);
    if (!s->dq_ms[q])
        return;
    n->t = now;
    n->q = (uint8_t)q;
    n->prev = h->prev;
    n->next = h;
    h->prev->next = n;
    h->prev = n;
}

static struct conn_dqnode *dq_head(struct conn_set *s, int q)
{
    struct conn_dqnode *h = &s->dq[q];
    return h->next == h ? NULL : h->next;
}

/* Whether the engine pings this connection: a desk (role agent). */
static bool conn_is_desk(const struct conn *c)
{
    return c->hello && c->role == CCROUTE__V1__ROLE__ROLE_AGENT;
}

static void conn_timer_rearm(struct conn_set *s)
{
    uint64_t due = UINT64_MAX, now;
    if (!s->timer_open)
        return;
    for (int q = 0; q < CONN_DQ_COUNT; q++) {
        struct conn_dqnode *h = dq_head(s, q);
        if (h && h->t + s->dq_ms[q] < due)
            due = h->t + s->dq_ms[q];
    }
    if (due == UINT64_MAX) {
        if (s->timer_due) {
            uv_timer_stop(&s->timer);
            s->timer_due = 0;
        }
        return;
    }
    if (due == s->timer_due)
        return;
    now = uv_now(s->loop);
    uv_timer_start(&s->timer, conn_timer_cb, due > now ? due - now : 0, 0);
    s->timer_due = due;
}

/* A rate-limited warning: at most one line a second, saying how many were
 * left out since the last one. */
static void conn_warn_limited(struct conn_set *s, const char *what)
{
    uint64_t now = uv_now(s->loop);
    if (s->warn_ms && now - s->warn_ms < 1000) {
        s->warn_suppressed++;
        return;
    }
    log_warn("%s (%u of %u connections; %llu more warnings like this since "
             "the last line)", what, s->nconns, s->lim.max_conns,
             (unsigned long long)s->warn_suppressed);
    s->warn_ms = now;
    s->warn_suppressed = 0;
}

/* ---- slot table ---- */

/* A free slot: the most recently freed one (O(1)), else a new one at the
 * end of the table. */
static int slot_alloc(struct conn_set *s, uint32_t *slot)
{
    if (s->nfree_slots) {
        *slot = s->free_slots[--s->nfree_slots];
        return 0;
    }
    if (s->nslots == CONN_MAX)
        return -EMFILE;
    if (s->nslots == s->capslots) {
        uint32_t ncap = s->capslots ? s->capslots * 2 : 64;
        if (ncap > CONN_MAX)
            ncap = CONN_MAX;
        struct conn **ns = realloc(s->slots, ncap * sizeof(*ns));
        if (!ns)
            return -ENOMEM;
        s->slots = ns;
        uint16_t *ng = realloc(s->gens, ncap * sizeof(*ng));
        if (!ng)
            return -ENOMEM;
        s->gens = ng;
        uint32_t *nf = realloc(s->free_slots, ncap * sizeof(*nf));
        if (!nf)
            return -ENOMEM;
        s->free_slots = nf;
        for (uint32_t i = s->capslots; i < ncap; i++) {
            s->slots[i] = NULL;
            s->gens[i] = 0;
        }
        s->capslots = ncap;
    }
    *slot = s->nslots++;
    return 0;
}

static void slot_free(struct conn_set *s, uint32_t slot)
{
    s->slots[slot] = NULL;
    s->free_slots[s->nfree_slots++] = slot;
}

struct conn *conn_lookup(struct conn_set *s, uint32_t id)
{
    uint32_t slot = id & 0xffffu;
    if (id == CONN_ID_NONE || slot >= s->nslots)
        return NULL;
    struct conn *c = s->slots[slot];
    return c && c->id == id ? c : NULL;
}

struct conn *conn_set_next(const struct conn_set *s, uint32_t *cursor)
{
    while (*cursor < s->nslots) {
        struct conn *c = s->slots[(*cursor)++];
        if (c)
            return c;
    }
    return NULL;
}

/* ---- read buffer ---- */

/* Sets c's read buffer to `cap` bytes, keeping its first rlen bytes (cap
 * >= rlen). Returns 0 or -ENOMEM (the old buffer is kept). */
static int rbuf_resize(struct conn *c, size_t cap)
{
    struct conn_stats *st = &c->set->stats;
    uint8_t *nb = realloc(c->rbuf, cap);
    if (!nb)
        return -ENOMEM;
    st->rbuf_bytes = st->rbuf_bytes - c->rcap + cap;
    if (st->rbuf_bytes > st->rbuf_peak)
        st->rbuf_peak = st->rbuf_bytes;
    c->rbuf = nb;
    c->rcap = cap;
    return 0;
}

/* The buffer is full and holds the start of a frame: double it, but never
 * past the whole frame (its prefix and declared length, which frame_next
 * has already checked against max_frame). */
static int rbuf_grow(struct conn *c)
{
    size_t hdr = 0, plen = 0, whole, want;
    while (hdr < c->rlen && hdr < FRAME_VARINT_MAX) {
        plen |= (size_t)(c->rbuf[hdr] & 0x7f) << (7 * hdr);
        if (!(c->rbuf[hdr++] & 0x80))
            break;
    }
    whole = hdr + plen;
    want = c->rcap * 2;
    if (want > whole)
        want = whole;
    if (want <= c->rcap)        /* cannot happen: the frame would be whole */
        want = c->rcap + CONN_RBUF_MIN;
    return rbuf_resize(c, want);
}

size_t conn_rbuf_cap(const struct conn *c)
{
    return c->rcap;
}

/* ---- closing ---- */

static void conn_handle_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    c->set->stats.rbuf_bytes -= c->rcap;
    chunk_put_chain(c->set, c->out_head);
    chunk_put_chain(c->set, c->fly);
    tls_sess_free(c->tls);
    free(c->rbuf);
    free(c->iov);
    free(c);
}

static void pending_unlink(struct conn *c)
{
    struct conn **pp = &c->set->pending;
    if (!c->on_pending)
        return;
    while (*pp && *pp != c)
        pp = &(*pp)->pending_next;
    if (*pp)
        *pp = c->pending_next;
    c->on_pending = false;
    c->pending_next = NULL;
}

static void pending_add(struct conn *c)
{
    if (c->on_pending || c->writing || c->state == CONN_CLOSING ||
        c->state == CONN_LINGER)
        return;
    c->on_pending = true;
    c->pending_next = c->set->pending;
    c->set->pending = c;
}

void conn_close(struct conn *c, const char *why)
{
    struct conn_set *s = c->set;
    if (c->state == CONN_CLOSING)
        return;
    if (c->name[0])
        log_client("conn #%08x %s (%s) closed: %s", c->id, c->peer, c->name,
                   why);
    else
        log_client("conn #%08x %s closed: %s", c->id, c->peer, why);
    c->state = CONN_CLOSING;
    slot_free(s, c->id & 0xffffu);
    s->nconns--;
    pending_unlink(c);
    dq_unlink(&c->dq_session);
    dq_unlink(&c->dq_frame);
    dq_unlink(&c->dq_idle);
    if (s->on_close)
        s->on_close(s->arg, c);
    uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
}

static void conn_shutdown_cb(uv_shutdown_t *req, int status)
{
    struct conn *c = req->data;
    if (c->state == CONN_CLOSING)
        return;         /* cancelled by uv_close */
    if (status < 0)
        conn_close(c, uv_strerror(status));
    /* else: the peer's EOF or the linger deadline closes it */
}

/* Everything queued is written: send FIN, keep discarding input. */
static void conn_write(struct conn *c);

static void conn_shutdown(struct conn *c)
{
    int rc;
    /* TLS: close_notify first (once), written like any output; the write
     * callback comes back here. */
    if (c->tls && !c->tls_done) {
        c->tls_done = true;
        if (tls_sess_ready(c->tls) && tls_sess_close_notify(c->tls) == 0 &&
            tls_sess_out_pending(c->tls)) {
            conn_write(c);
            return;
        }
    }
    c->state = CONN_LINGER;
    c->sreq.data = c;
    rc = uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, conn_shutdown_cb);
    if (rc < 0)
        conn_close(c, "reply written");
}

void conn_close_after_flush(struct conn *c, const char *why)
{
    if (c->state != CONN_OPEN)
        return;
    log_client("conn #%08x %s: %s; closing after the reply", c->id, c->peer,
               why);
    c->state = CONN_DRAINING;
    dq_unlink(&c->dq_session);
    dq_unlink(&c->dq_idle);
    dq_push(c->set, CONN_DQ_LINGER, &c->dq_frame, uv_now(c->set->loop));
    /* From now on input is read and dropped: the whole buffer is free. */
    c->rlen = 0;
    if (c->rcap > CONN_RBUF_MIN)
        rbuf_resize(c, CONN_RBUF_MIN);
    /* With TLS the write path decides (an alert or close_notify may be
     * waiting in the session). */
    if (!c->writing && !c->out_head && !c->tls)
        conn_shutdown(c);
    else
        pending_add(c);
}

void conn_close_all(struct conn_set *s, const char *why)
{
    for (uint32_t i = 0; i < s->nslots; i++)
        if (s->slots[i])
            conn_close(s->slots[i], why);
}

void conn_set_stop(struct conn_set *s, const char *why)
{
    conn_close_all(s, why);
    log_client_flush();             /* the count of lines left out, if any */
    if (s->timer_open) {
        uv_close((uv_handle_t *)&s->timer, NULL);
        s->timer_open = false;
        s->timer_due = 0;
    }
}

/* ---- output ---- */

/* Everything handed to the socket is written: what came meanwhile waits
 * for the next flush; a draining connection shuts its write side down. */
static void conn_wrote(struct conn *c)
{
    if (c->out_head || (c->tls && tls_sess_out_pending(c->tls)))
        pending_add(c);
    else if (c->state == CONN_DRAINING)
        conn_shutdown(c);
}

static void conn_write_cb(uv_write_t *req, int status)
{
    struct conn *c = req->data;
    chunk_put_chain(c->set, c->fly);
    c->fly = NULL;
    c->fly_bytes = 0;
    c->writing = false;
    if (c->state == CONN_CLOSING)
        return;
    if (status < 0) {
        conn_close(c, uv_strerror(status));
        return;
    }
    conn_wrote(c);
}

/* Hands the chain `head` (bytes long; taken) to one uv_write. */
static void conn_write_chain(struct conn *c, struct obuf_chunk *head,
                             size_t bytes)
{
    unsigned n = 0;
    int rc;

    for (struct obuf_chunk *ch = head; ch; ch = ch->next)
        n++;
    if (n > c->iovcap) {
        unsigned ncap = c->iovcap ? c->iovcap : 8;
        while (ncap < n)
            ncap *= 2;
        uv_buf_t *ni = realloc(c->iov, ncap * sizeof(*ni));
        if (!ni) {
            chunk_put_chain(c->set, head);
            conn_close(c, "out of memory");
            return;
        }
        c->iov = ni;
        c->iovcap = ncap;
    }
    n = 0;
    for (struct obuf_chunk *ch = head; ch; ch = ch->next)
        c->iov[n++] = uv_buf_init((char *)ch->data, (unsigned)ch->len);
    /* A turn's replies almost always fit the socket buffer: one writev
     * now. uv_write() on an idle stream also writes at once, but then
     * queues its completion for the next loop turn, which costs an extra
     * wake-up without waiting (epoll_wait with timeout 0) and an
     * epoll_ctl per write to drop a POLLOUT it never set. Only what the
     * socket did not take goes through uv_write. */
    ssize_t done = uv_try_write((uv_stream_t *)&c->tcp, c->iov, n);
    if (done == (ssize_t)bytes) {
        chunk_put_chain(c->set, head);
        conn_wrote(c);
        return;
    }
    if (done < 0 && done != UV_EAGAIN) {
        chunk_put_chain(c->set, head);
        conn_close(c, uv_strerror((int)done));
        return;
    }
    unsigned first = 0;
    for (size_t left = done > 0 ? (size_t)done : 0; left > 0; first++) {
        if (left < c->iov[first].len) {
            c->iov[first].base += left;
            c->iov[first].len -= left;
            break;
        }
        left -= c->iov[first].len;
    }
    c->fly = head;
    c->fly_bytes = bytes;
    c->writing = true;
    c->wreq.data = c;
    rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, c->iov + first,
                  n - first, conn_write_cb);
    if (rc < 0) {
        c->writing = false;
        conn_close(c, uv_strerror(rc));
    }
}

static void conn_tls_fail(struct conn *c);

/* TLS: seals the queued plaintext (once the handshake is done; dropped
 * when the connection is closing without a session to seal it with) and
 * writes everything the session has produced. */
static void conn_write_tls(struct conn *c)
{
    struct conn_set *s = c->set;
    struct obuf_chunk *head = NULL, *tail = NULL;
    size_t bytes = 0, left;
    bool can = tls_sess_ready(c->tls) && !c->tls_done;

    if (c->out_head && (can || c->state != CONN_OPEN)) {
        for (struct obuf_chunk *ch = c->out_head; can && ch; ch = ch->next)
            if (tls_sess_write(c->tls, ch->data, ch->len) < 0) {
                conn_tls_fail(c);
                return;
            }
        chunk_put_chain(s, c->out_head);
        c->out_head = c->out_tail = NULL;
        c->out_bytes = 0;
    }
    while ((left = tls_sess_out_pending(c->tls)) > 0) {
        struct obuf_chunk *ch = chunk_get(s, OBUF_CHUNK);
        if (!ch) {
            chunk_put_chain(s, head);
            conn_close(c, "out of memory");
            return;
        }
        ch->len = tls_sess_out_take(c->tls, ch->data, ch->cap);
        bytes += ch->len;
        if (tail)
            tail->next = ch;
        else
            head = ch;
        tail = ch;
        if (ch->len == 0)
            break;      /* cannot happen: pending said there was more */
    }
    if (!head) {
        if (!c->out_head && c->state == CONN_DRAINING)
            conn_shutdown(c);
        return;
    }
    conn_write_chain(c, head, bytes);
}

static void conn_write(struct conn *c)
{
    struct obuf_chunk *head;
    size_t bytes;

    if (c->writing || c->state == CONN_CLOSING || c->state == CONN_LINGER)
        return;
    if (c->tls) {
        conn_write_tls(c);
        return;
    }
    if (!c->out_head) {
        if (c->state == CONN_DRAINING)
            conn_shutdown(c);
        return;
    }
    head = c->out_head;
    bytes = c->out_bytes;
    c->out_head = c->out_tail = NULL;
    c->out_bytes = 0;
    conn_write_chain(c, head, bytes);
}

void conn_flush_all(struct conn_set *s)
{
    struct conn *c;
    while ((c = s->pending)) {
        s->pending = c->pending_next;
        c->pending_next = NULL;
        c->on_pending = false;
        conn_write(c);
    }
    conn_timer_rearm(s);
}

/* Room for need bytes at the end of c's output: 0 with *out, or -EPIPE
 * (closing), -ENOBUFS (bound passed: closed now), -ENOMEM (closed now). */
static int out_reserve(struct conn *c, size_t need, uint8_t **out)
{
    struct conn_set *s = c->set;
    struct obuf_chunk *ch;

    if (c->state == CONN_CLOSING || c->state == CONN_LINGER)
        return -EPIPE;
    if (c->out_bytes + c->fly_bytes + need > s->lim.max_output) {
        s->stats.output_overflows++;
        log_warn("conn #%08x %s (%s): output above %zu bytes (client not "
                 "reading); disconnecting", c->id, c->peer,
                 c->name[0] ? c->name : "-", s->lim.max_output);
        conn_close(c, "output bound exceeded");
        return -ENOBUFS;
    }
    ch = c->out_tail;
    if (!ch || ch->cap - ch->len < need) {
        ch = chunk_get(s, need);
        if (!ch) {
            conn_close(c, "out of memory");
            return -ENOMEM;
        }
        if (c->out_tail)
            c->out_tail->next = ch;
        else
            c->out_head = ch;
        c->out_tail = ch;
    }
    *out = ch->data + ch->len;
    return 0;
}

uint8_t *conn_out_reserve(struct conn *c, size_t need)
{
    uint8_t *p;
    return out_reserve(c, need, &p) == 0 ? p : NULL;
}

/* One commit is one frame (conn_send, the encoders, the fan-out's copy):
 * counted here for the metrics. */
void conn_out_commit(struct conn *c, size_t n)
{
    c->out_tail->len += n;
    c->out_bytes += n;
    c->set->stats.frames_out++;
    pending_add(c);
}

int conn_send(struct conn *c, const Ccroute__V1__Envelope *env)
{
    size_t plen = ccroute__v1__envelope__get_packed_size(env);
    size_t need = frame_size(plen), n;
    uint8_t *p;
    int rc = out_reserve(c, need, &p);

    if (rc < 0)
        return rc;
    n = frame_varint_put(plen, p);
    ccroute__v1__envelope__pack(env, p + n);
    conn_out_commit(c, need);
    if (env->body_case == CCROUTE__V1__ENVELOPE__BODY_ERROR && env->error &&
        (unsigned)env->error->code < CONN_ERROR_CODES)
        c->set->stats.errors_out[env->error->code]++;
    return 0;
}

int conn_send_ack(struct conn *c, uint64_t request_id)
{
    uint8_t *p;
    int rc = out_reserve(c, ENCODE_ACK_MAX, &p);
    if (rc < 0)
        return rc;
    conn_out_commit(c, encode_ack(p, request_id));
    return 0;
}

int conn_send_error(struct conn *c, uint64_t request_id, int code,
                    const char *fmt, ...)
{
    Ccroute__V1__Envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Error err = CCROUTE__V1__ERROR__INIT;
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    err.code = (Ccroute__V1__ErrorCode)code;
    err.message = msg;
    env.request_id = request_id;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_ERROR;
    env.error = &err;
    log_debug("conn #%08x: request %llu: error %d: %s", c->id,
              (unsigned long long)request_id, code, msg);
    return conn_send(c, &env);
}

/* ---- input ---- */

static void conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = h->data;
    (void)suggested;
    /* rlen < rcap always holds here: read_cb grows a full buffer. */
    buf->base = (char *)c->rbuf + c->rlen;
    buf->len = c->rcap - c->rlen;
}

/* After a read: where the connection stands in the deadline queues. O(1).
 * A frame is under way while plaintext waits in the read buffer or a
 * partial TLS record in the session. */
static void conn_after_read(struct conn *c, bool frame_done, uint64_t now)
{
    struct conn_set *s = c->set;
    dq_push(s, CONN_DQ_IDLE, &c->dq_idle, now);
    if (c->hello) {
        /* Hello done (the HELLO entry goes); a desk's silence is measured
         * from now, a Pong or anything else being proof of life. */
        if (conn_is_desk(c))
            dq_push(s, CONN_DQ_PING, &c->dq_session, now);
        else
            dq_unlink(&c->dq_session);
    }
    if (c->rlen == 0 && !(c->tls && tls_sess_in_pending(c->tls)))
        dq_unlink(&c->dq_frame);
    else if (frame_done || !dq_linked(&c->dq_frame))
        dq_push(s, CONN_DQ_FRAME, &c->dq_frame, now);   /* a new frame */
}

/* The read buffer got n more bytes of plaintext: cuts and hands up every
 * whole frame, keeps the partial one at the front, and leaves room for
 * the next read. Returns 1 when a frame was handed up, 0 when none, -1
 * when the connection is closing now (stop reading). */
static int conn_input(struct conn *c, size_t n)
{
    struct conn_set *s = c->set;
    size_t off = 0;

    c->rlen += n;
    while (c->state == CONN_OPEN) {
        const uint8_t *payload;
        size_t plen = 0, used;
        int st2 = frame_next(c->rbuf + off, c->rlen - off, s->lim.max_frame,
                             &payload, &plen, &used);
        if (st2 == FRAME_OK) {
            off += used;
            s->stats.frames_in++;
            s->on_frame(s->arg, c, payload, plen);
            continue;
        }
        if (st2 == FRAME_NEED_MORE)
            break;
        if (st2 == FRAME_E_TOO_LARGE) {
            s->stats.frames_too_large++;
            conn_send_error(c, 0, CCROUTE__V1__ERROR_CODE__ERROR_CODE_FRAME_TOO_LARGE,
                            "frame of %zu bytes is above the limit of %zu "
                            "bytes", plen, s->lim.max_frame);
            conn_close_after_flush(c, "frame too large");
        } else {
            s->stats.malformed_prefix++;
            conn_send_error(c, 0, CCROUTE__V1__ERROR_CODE__ERROR_CODE_MALFORMED,
                            "malformed length prefix (not a varint)");
            conn_close_after_flush(c, "malformed length prefix");
        }
        break;
    }
    if (c->state != CONN_OPEN)
        return -1;
    /* Keep the partial frame, at the front. */
    if (off > 0) {
        memmove(c->rbuf, c->rbuf + off, c->rlen - off);
        c->rlen -= off;
    }
    /* A big frame went up and what is left fits: back to the small size. */
    if (off > 0 && c->rlen < CONN_RBUF_MIN && c->rcap > CONN_RBUF_MIN)
        rbuf_resize(c, CONN_RBUF_MIN);
    /* Full: the frame at the front needs more room (alloc_cb must never
     * offer 0 bytes, which libuv reports as UV_ENOBUFS). */
    if (c->rlen == c->rcap && rbuf_grow(c) < 0) {
        conn_close(c, "out of memory (read buffer)");
        return -1;
    }
    return off > 0;
}

/* The TLS session failed (handshake or later): a log line with OpenSSL's
 * reason, then the close; the session's alert, when it has one, is
 * written first, as an Error would be. */
static void conn_tls_fail(struct conn *c)
{
    c->set->stats.tls_failures++;
    log_warn("conn #%08x %s: TLS %s: %s", c->id, c->peer,
             tls_sess_ready(c->tls) ? "session failed" : "handshake failed",
             tls_sess_reason(c->tls));
    c->tls_done = true;
    if (c->state == CONN_OPEN && tls_sess_out_pending(c->tls))
        conn_close_after_flush(c, "TLS failure");
    else
        conn_close(c, "TLS failure");
}

/* nread bytes of ciphertext sit at rbuf + rlen: into the session, and the
 * plaintext that comes out into the same place, frame by frame. */
static void conn_read_tls(struct conn *c, size_t nread)
{
    struct conn_set *s = c->set;
    bool was_ready = tls_sess_ready(c->tls), done = false;
    int n;

    if (tls_sess_feed(c->tls, c->rbuf + c->rlen, nread) < 0) {
        conn_close(c, "out of memory (TLS)");
        return;
    }
    for (;;) {
        n = tls_sess_read(c->tls, c->rbuf + c->rlen, c->rcap - c->rlen);
        if (!was_ready && tls_sess_ready(c->tls)) {
            char what[320];
            was_ready = true;
            s->stats.tls_handshakes++;
            tls_sess_describe(c->tls, what, sizeof(what));
            log_client("conn #%08x %s: TLS established: %s", c->id, c->peer,
                       what);
        }
        if (n <= 0)
            break;
        int r = conn_input(c, (size_t)n);
        if (r < 0)
            return;
        done |= r > 0;
    }
    if (n == -EPIPE) {
        conn_close(c, "closed by peer (TLS close_notify)");
        return;
    }
    if (n < 0) {
        conn_tls_fail(c);
        return;
    }
    /* Handshake messages to answer, or output that waited for the
     * handshake. */
    if (tls_sess_out_pending(c->tls) || (c->out_head && was_ready))
        pending_add(c);
    conn_after_read(c, done, uv_now(s->loop));
}

static void conn_read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = st->data;
    int r;
    (void)buf;

    if (nread < 0) {
        conn_close(c, nread == UV_EOF ? "closed by peer"
                                      : uv_strerror((int)nread));
        return;
    }
    if (nread == 0 || c->state != CONN_OPEN)
        return;         /* closing: input is discarded */
    if (c->tls) {
        conn_read_tls(c, (size_t)nread);
        return;
    }
    r = conn_input(c, (size_t)nread);
    if (r >= 0)
        conn_after_read(c, r > 0, uv_now(c->set->loop));
}

const uint8_t *conn_peer_cert_sha256(const struct conn *c)
{
    return c->tls ? tls_sess_peer_sha256(c->tls) : NULL;
}

/* ---- deadlines ---- */

static void conn_send_ping(struct conn *c, uint64_t now)
{
    struct conn_set *s = c->set;
    Ccroute__V1__Envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Ping ping = CCROUTE__V1__PING__INIT;
    env.request_id = ++s->ping_seq;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_PING;
    env.ping = &ping;
    if (conn_send(c, &env) < 0)
        return;         /* closed (output bound) */
    s->stats.pings_sent++;
    log_debug("conn #%08x (%s): silent for %u ms; Ping %llu", c->id, c->name,
              s->lim.ping_ms, (unsigned long long)env.request_id);
    dq_push(s, CONN_DQ_PONG, &c->dq_session, now);
}

#define EC_TIMEOUT CCROUTE__V1__ERROR_CODE__ERROR_CODE_TIMEOUT

/* The deadline of queue q passed for c (already unlinked from q). */
static void conn_expire(struct conn *c, int q, uint64_t now)
{
    struct conn_set *s = c->set;
    uint32_t ms = s->dq_ms[q];
    switch (q) {
    case CONN_DQ_HELLO:
        if (c->hello)
            return;
        s->stats.hello_timeouts++;
        conn_send_error(c, 0, EC_TIMEOUT, "no Hello within %u ms of "
                        "connecting", ms);
        conn_close_after_flush(c, "no Hello in time");
        return;
    case CONN_DQ_PING:
        if (conn_is_desk(c))
            conn_send_ping(c, now);
        return;
    case CONN_DQ_PONG:
        /* Nothing at all came back: the peer is gone or stuck, and an
         * Error would go unread. Closing hands its agents to the grace
         * period (on_close). */
        s->stats.pong_timeouts++;
        log_warn("conn #%08x %s (%s): no answer to Ping within %u ms",
                 c->id, c->peer, c->name[0] ? c->name : "-", ms);
        conn_close(c, "no Pong in time");
        return;
    case CONN_DQ_FRAME:
        s->stats.frame_timeouts++;
        conn_send_error(c, 0, EC_TIMEOUT, "frame not complete within %u ms "
                        "of its first byte (%zu bytes received)", ms,
                        c->rlen);
        conn_close_after_flush(c, "frame not complete in time");
        return;
    case CONN_DQ_IDLE:
        s->stats.idle_timeouts++;
        conn_send_error(c, 0, EC_TIMEOUT, "nothing received for %u ms", ms);
        conn_close_after_flush(c, "idle");
        return;
    case CONN_DQ_LINGER:
        s->stats.linger_expired++;
        conn_close(c, "closing: the peer did not close in time");
        return;
    }
}

/* Visits the expired heads only; each expiry unlinks (or re-queues
 * elsewhere) its connection, so every loop below ends. */
static void conn_timer_cb(uv_timer_t *t)
{
    struct conn_set *s = t->data;
    uint64_t now = uv_now(s->loop);
    s->timer_due = 0;
    for (int q = 0; q < CONN_DQ_COUNT; q++) {
        struct conn_dqnode *n;
        while ((n = dq_head(s, q)) && n->t + s->dq_ms[q] <= now) {
            dq_unlink(n);
            conn_expire(n->c, q, now);
        }
    }
    conn_timer_rearm(s);
}

/* ---- accepting ---- */

static void conn_refused_closed(uv_handle_t *h)
{
    free(h);
}

/* At the limit with nobody to evict: accept (so the client is not left
 * in the backlog), tell it why in one non-blocking write, close. */
static int conn_refuse(struct conn_set *s, uv_stream_t *listener)
{
    uv_tcp_t *t = malloc(sizeof(*t));
    Ccroute__V1__Envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Error err = CCROUTE__V1__ERROR__INIT;
    uint8_t frame[256];
    size_t n;
    int rc;

    s->stats.refused_full++;
    conn_warn_limited(s, "connection limit reached: new connection refused");
    if (!t)
        return -ENOMEM;
    uv_tcp_init(s->loop, t);
    rc = uv_accept(listener, (uv_stream_t *)t);
    /* A TLS client could not read a plaintext Error: it just sees the
     * close (the log line says why). */
    if (rc == 0 && !s->tls) {
        err.code = CCROUTE__V1__ERROR_CODE__ERROR_CODE_RESOURCE_EXHAUSTED;
        err.message = "connection limit reached; try again later";
        env.body_case = CCROUTE__V1__ENVELOPE__BODY_ERROR;
        env.error = &err;
        n = frame_varint_put(ccroute__v1__envelope__get_packed_size(&env),
                             frame);
        n += ccroute__v1__envelope__pack(&env, frame + n);
        uv_buf_t b = uv_buf_init((char *)frame, (unsigned)n);
        uv_try_write((uv_stream_t *)t, &b, 1);
    }
    uv_close((uv_handle_t *)t, conn_refused_closed);
    return -EBUSY;
}

/* At the limit: a connection already closing makes room first (its Error
 * is written; it only waits for the peer's EOF or close_linger), then the
 * oldest connection still without Hello (entries whose Hello came
 * meanwhile are dropped on the way). Without the first step a stranger
 * that earns an Error every close_linger would hold its slot for good. */
static bool conn_evict_one(struct conn_set *s)
{
    struct conn_dqnode *h = dq_head(s, CONN_DQ_LINGER);
    if (h) {
        s->stats.evicted_lingering++;
        conn_close(h->c, "closed early: connection limit reached while it "
                   "lingered");
        return true;
    }
    while ((h = dq_head(s, CONN_DQ_HELLO)) && h->c->hello)
        dq_unlink(h);
    if (!h)
        return false;
    s->stats.evicted_no_hello++;
    conn_warn_limited(s, "connection limit reached: closing the oldest "
                      "connections without Hello to make room");
    conn_close(h->c, "evicted: connection limit reached before its Hello");
    return true;
}

void conn_accept_failed(struct conn_set *s, int status)
{
    char what[160];
    s->stats.accept_errors++;
    snprintf(what, sizeof(what), "listener: accept failed: %s",
             uv_strerror(status));
    conn_warn_limited(s, what);
}

int conn_accept(struct conn_set *s, uv_stream_t *listener)
{
    struct conn *c;
    uint32_t slot = 0;
    struct sockaddr_storage ss;
    int sslen = sizeof(ss), rc;
    uint64_t now = uv_now(s->loop);

    if (s->nconns >= s->lim.max_conns && !conn_evict_one(s))
        return conn_refuse(s, listener);
    c = calloc(1, sizeof(*c));
    if (!c) {
        log_error("accept: out of memory");
        return -ENOMEM;
    }
    c->set = s;
    c->dq_session.c = c->dq_frame.c = c->dq_idle.c = c;
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    rc = uv_accept(listener, (uv_stream_t *)&c->tcp);
    if (rc == 0 && rbuf_resize(c, CONN_RBUF_MIN) < 0)
        rc = -ENOMEM;
    if (rc == 0 && s->tls && !(c->tls = tls_sess_new(s->tls)))
        rc = -ENOMEM;
    if (rc == 0)        /* last: nothing to undo after it */
        rc = slot_alloc(s, &slot);
    if (rc < 0) {
        s->stats.accept_errors++;
        log_warn("accept: %s", uv_strerror(rc));
        c->state = CONN_CLOSING;
        uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
        return rc;
    }
    uint16_t gen = (uint16_t)(s->gens[slot] + 1);
    if (gen == 0)
        gen = 1;
    s->gens[slot] = gen;
    c->id = (uint32_t)gen << 16 | slot;
    s->slots[slot] = c;
    s->nconns++;
    s->stats.accepted++;
    dq_push(s, CONN_DQ_HELLO, &c->dq_session, now);
    dq_push(s, CONN_DQ_IDLE, &c->dq_idle, now);

    snprintf(c->peer, sizeof(c->peer), "?");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sslen) == 0) {
        char ip[INET6_ADDRSTRLEN] = "";
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            uv_ip4_name(a, ip, sizeof(ip));
            snprintf(c->peer, sizeof(c->peer), "%s:%d", ip, ntohs(a->sin_port));
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            uv_ip6_name(a, ip, sizeof(ip));
            snprintf(c->peer, sizeof(c->peer), "[%s]:%d", ip,
                     ntohs(a->sin6_port));
        }
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (s->lim.keepalive_s)
        uv_tcp_keepalive(&c->tcp, 1, s->lim.keepalive_s);
    log_client("conn #%08x %s connected", c->id, c->peer);
    rc = uv_read_start((uv_stream_t *)&c->tcp, conn_alloc_cb, conn_read_cb);
    if (rc < 0) {
        conn_close(c, uv_strerror(rc));
        return rc;
    }
    return 0;
}
