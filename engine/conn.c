/* conn.c -- client connections; see conn.h for the design.
 *
 * Lifetime of a struct conn: calloc'd in conn_accept(), entered in the
 * server's slot table, removed from it by conn_close() (so that ids stop
 * resolving at once), freed in close_cb after libuv has released the
 * handle (and cancelled any write in flight, whose callback runs first).
 * conn_close() calls the owner's on_close between the two, once.
 */
#include "conn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "log.h"

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

void conn_set_init(struct conn_set *cs, uv_loop_t *loop, size_t max_frame,
                   size_t max_output, conn_frame_cb on_frame,
                   conn_close_cb on_close, void *arg)
{
    memset(cs, 0, sizeof(*cs));
    cs->loop = loop;
    cs->max_frame = max_frame;
    cs->max_output = max_output;
    cs->on_frame = on_frame;
    cs->on_close = on_close;
    cs->arg = arg;
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
    s->slots = NULL;
    s->gens = NULL;
    s->nslots = s->capslots = 0;
}

/* ---- slot table ---- */

static int slot_alloc(struct conn_set *s, uint32_t *slot)
{
    for (uint32_t i = 0; i < s->nslots; i++) {
        if (!s->slots[i]) {
            *slot = i;
            return 0;
        }
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
        for (uint32_t i = s->capslots; i < ncap; i++) {
            s->slots[i] = NULL;
            s->gens[i] = 0;
        }
        s->capslots = ncap;
    }
    *slot = s->nslots++;
    return 0;
}

struct conn *conn_lookup(struct conn_set *s, uint32_t id)
{
    uint32_t slot = id & 0xffffu;
    if (id == CONN_ID_NONE || slot >= s->nslots)
        return NULL;
    struct conn *c = s->slots[slot];
    return c && c->id == id ? c : NULL;
}

/* ---- closing ---- */

static void conn_handle_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    chunk_put_chain(c->set, c->out_head);
    chunk_put_chain(c->set, c->fly);
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
    if (c->on_pending || c->writing || c->state == CONN_CLOSING)
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
        log_info("conn #%08x %s (%s) closed: %s", c->id, c->peer, c->name,
                 why);
    else
        log_info("conn #%08x %s closed: %s", c->id, c->peer, why);
    c->state = CONN_CLOSING;
    s->slots[c->id & 0xffffu] = NULL;
    s->nconns--;
    pending_unlink(c);
    if (s->on_close)
        s->on_close(s->arg, c);
    uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
}

void conn_close_after_flush(struct conn *c, const char *why)
{
    if (c->state != CONN_OPEN)
        return;
    log_info("conn #%08x %s: %s; closing after the reply", c->id, c->peer,
             why);
    c->state = CONN_DRAINING;
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (!c->writing && !c->out_head)
        conn_close(c, why);
    else
        pending_add(c);
}

void conn_close_all(struct conn_set *s, const char *why)
{
    for (uint32_t i = 0; i < s->nslots; i++)
        if (s->slots[i])
            conn_close(s->slots[i], why);
}

/* ---- output ---- */

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
    if (c->out_head)
        pending_add(c);
    else if (c->state == CONN_DRAINING)
        conn_close(c, "reply written");
}

static void conn_write(struct conn *c)
{
    unsigned n = 0;
    int rc;

    if (c->writing || c->state == CONN_CLOSING)
        return;
    if (!c->out_head) {
        if (c->state == CONN_DRAINING)
            conn_close(c, "reply written");
        return;
    }
    for (struct obuf_chunk *ch = c->out_head; ch; ch = ch->next)
        n++;
    if (n > c->iovcap) {
        unsigned ncap = c->iovcap ? c->iovcap : 8;
        while (ncap < n)
            ncap *= 2;
        uv_buf_t *ni = realloc(c->iov, ncap * sizeof(*ni));
        if (!ni) {
            conn_close(c, "out of memory");
            return;
        }
        c->iov = ni;
        c->iovcap = ncap;
    }
    n = 0;
    for (struct obuf_chunk *ch = c->out_head; ch; ch = ch->next)
        c->iov[n++] = uv_buf_init((char *)ch->data, (unsigned)ch->len);
    c->fly = c->out_head;
    c->fly_bytes = c->out_bytes;
    c->out_head = c->out_tail = NULL;
    c->out_bytes = 0;
    c->writing = true;
    c->wreq.data = c;
    rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, c->iov, n, conn_write_cb);
    if (rc < 0) {
        c->writing = false;
        conn_close(c, uv_strerror(rc));
    }
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
}

int conn_send(struct conn *c, const Ccroute__V1__Envelope *env)
{
    struct conn_set *s = c->set;
    size_t plen, need;
    struct obuf_chunk *ch;

    if (c->state == CONN_CLOSING)
        return -EPIPE;
    plen = ccroute__v1__envelope__get_packed_size(env);
    need = frame_size(plen);
    if (c->out_bytes + c->fly_bytes + need > s->max_output) {
        log_warn("conn #%08x %s (%s): output above %zu bytes (client not "
                 "reading); disconnecting", c->id, c->peer,
                 c->name[0] ? c->name : "-", s->max_output);
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
    ch->len += frame_varint_put(plen, ch->data + ch->len);
    ch->len += ccroute__v1__envelope__pack(env, ch->data + ch->len);
    c->out_bytes += need;
    pending_add(c);
    return 0;
}

int conn_send_ack(struct conn *c, uint64_t request_id)
{
    Ccroute__V1__Envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Ack ack = CCROUTE__V1__ACK__INIT;
    env.request_id = request_id;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_ACK;
    env.ack = &ack;
    return conn_send(c, &env);
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
    buf->base = (char *)c->rbuf + c->rlen;
    buf->len = c->rcap - c->rlen;
}

static void conn_read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = st->data;
    struct conn_set *s = c->set;
    size_t off = 0;
    (void)buf;

    if (nread < 0) {
        conn_close(c, nread == UV_EOF ? "closed by peer"
                                      : uv_strerror((int)nread));
        return;
    }
    if (nread == 0 || c->state != CONN_OPEN)
        return;
    c->rlen += (size_t)nread;
    while (c->state == CONN_OPEN) {
        const uint8_t *payload;
        size_t plen = 0, used;
        int st2 = frame_next(c->rbuf + off, c->rlen - off, s->max_frame,
                             &payload, &plen, &used);
        if (st2 == FRAME_OK) {
            off += used;
            s->on_frame(s->arg, c, payload, plen);
            continue;
        }
        if (st2 == FRAME_NEED_MORE)
            break;
        if (st2 == FRAME_E_TOO_LARGE) {
            conn_send_error(c, 0, CCROUTE__V1__ERROR_CODE__ERROR_CODE_FRAME_TOO_LARGE,
                            "frame of %zu bytes is above the limit of %zu "
                            "bytes", plen, s->max_frame);
            conn_close_after_flush(c, "frame too large");
        } else {
            conn_send_error(c, 0, CCROUTE__V1__ERROR_CODE__ERROR_CODE_MALFORMED,
                            "malformed length prefix (not a varint)");
            conn_close_after_flush(c, "malformed length prefix");
        }
        break;
    }
    if (c->state != CONN_OPEN)
        return;
    /* Keep the partial frame, at the front. */
    if (off > 0) {
        memmove(c->rbuf, c->rbuf + off, c->rlen - off);
        c->rlen -= off;
    }
}

int conn_accept(struct conn_set *s, uv_stream_t *listener)
{
    struct conn *c = calloc(1, sizeof(*c));
    uint32_t slot = 0;
    struct sockaddr_storage ss;
    int sslen = sizeof(ss), rc;

    if (!c) {
        log_error("accept: out of memory");
        return -ENOMEM;
    }
    c->set = s;
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    rc = uv_accept(listener, (uv_stream_t *)&c->tcp);
    if (rc == 0)
        rc = slot_alloc(s, &slot);
    if (rc == 0) {
        c->rcap = s->max_frame + FRAME_VARINT_MAX;
        c->rbuf = malloc(c->rcap);
        if (!c->rbuf)
            rc = -ENOMEM;
    }
    if (rc < 0) {
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
    log_info("conn #%08x %s connected", c->id, c->peer);
    rc = uv_read_start((uv_stream_t *)&c->tcp, conn_alloc_cb, conn_read_cb);
    if (rc < 0) {
        conn_close(c, uv_strerror(rc));
        return rc;
    }
    return 0;
}
