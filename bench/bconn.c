/* bconn.c -- framed protocol connections for the bench programs; see
 * bconn.h for the design (double output buffer, once-per-turn flush). */
#include "bconn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"

#define BCONN_READ_MIN 65536
#define BCONN_ARENA (256 * 1024)

static void bconn_prepare_cb(uv_prepare_t *p)
{
    bconn_flush_all(p->data);
}

int bconn_loop_init(struct bconn_loop *bl, uv_loop_t *loop)
{
    memset(bl, 0, sizeof(*bl));
    bl->loop = loop;
    if (arena_init(&bl->arena, BCONN_ARENA) < 0)
        return -ENOMEM;
    uv_prepare_init(loop, &bl->prep);
    bl->prep.data = bl;
    uv_prepare_start(&bl->prep, bconn_prepare_cb);
    /* The prepare hook must not keep the loop alive on its own. */
    uv_unref((uv_handle_t *)&bl->prep);
    return 0;
}

void bconn_loop_close(struct bconn_loop *bl)
{
    uv_prepare_stop(&bl->prep);
    uv_close((uv_handle_t *)&bl->prep, NULL);
    arena_fini(&bl->arena);
}

int bconn_init(struct bconn_loop *bl, struct bconn *c, bconn_frame_cb on_frame,
               bconn_close_cb on_close)
{
    void *data = c->data;
    memset(c, 0, sizeof(*c));
    c->data = data;
    c->bl = bl;
    c->on_frame = on_frame;
    c->on_close = on_close;
    c->tcp.data = c;
    return uv_tcp_init(bl->loop, &c->tcp);
}

static void bconn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct bconn *c = h->data;
    if (c->rcap - c->rlen < BCONN_READ_MIN) {
        size_t ncap = c->rcap ? c->rcap * 2 : 4 * BCONN_READ_MIN;
        while (ncap - c->rlen < BCONN_READ_MIN)
            ncap *= 2;
        uint8_t *nb = realloc(c->rbuf, ncap);
        if (!nb) {
            buf->base = NULL;
            buf->len = 0;
            return;
        }
        c->rbuf = nb;
        c->rcap = ncap;
    }
    buf->base = (char *)c->rbuf + c->rlen;
    buf->len = c->rcap - c->rlen;
}

static void bconn_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct bconn *c = s->data;
    if (n < 0) {
        bconn_close(c, n == UV_EOF ? 0 : (int)n);
        return;
    }
    if (n == 0)
        return;
    c->rlen += (size_t)n;
    c->bytes_in += (uint64_t)n;
    size_t off = 0;
    while (!c->closing) {
        const uint8_t *payload;
        size_t plen, used;
        int st = frame_next(c->rbuf + off, c->rlen - off, BCONN_MAX_FRAME,
                            &payload, &plen, &used);
        if (st == FRAME_NEED_MORE)
            break;
        if (st < 0) {
            c->on_frame(c, NULL);
            bconn_close(c, UV_EPROTO);
            break;
        }
        struct arena *a = &c->bl->arena;
        Ccroute__V1__Envelope *env =
            ccroute__v1__envelope__unpack(arena_allocator(a), plen, payload);
        c->frames_in++;
        c->on_frame(c, env);
        arena_reset(a);
        off += used;
    }
    if (off > 0 && !c->closing) {
        memmove(c->rbuf, c->rbuf + off, c->rlen - off);
        c->rlen -= off;
    }
}

int bconn_start(struct bconn *c)
{
    uv_tcp_nodelay(&c->tcp, 1);
    return uv_read_start((uv_stream_t *)&c->tcp, bconn_alloc_cb, bconn_read_cb);
}

struct connect_wait {
    int done, status;
};

static void bconn_connect_cb(uv_connect_t *req, int status)
{
    struct connect_wait *w = req->data;
    w->done = 1;
    w->status = status;
}

int bconn_connect(struct bconn *c, const char *host, int port)
{
    struct sockaddr_storage ss;
    int rc;
    if (strchr(host, ':'))
        rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
    else
        rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
    if (rc < 0)
        return rc;
    uv_connect_t req;
    struct connect_wait w = {0, 0};
    req.data = &w;
    rc = uv_tcp_connect(&req, &c->tcp, (struct sockaddr *)&ss,
                        bconn_connect_cb);
    if (rc < 0)
        return rc;
    while (!w.done)
        uv_run(c->bl->loop, UV_RUN_ONCE);
    if (w.status < 0)
        return w.status;
    return bconn_start(c);
}

static int bconn_reserve(struct bconn *c, size_t n)
{
    int f = c->fill;
    if (c->olen[f] + n > BCONN_MAX_OUT)
        return -ENOBUFS;
    if (c->ocap[f] - c->olen[f] < n) {
        size_t ncap = c->ocap[f] ? c->ocap[f] : 65536;
        while (ncap - c->olen[f] < n)
            ncap *= 2;
        uint8_t *nb = realloc(c->obuf[f], ncap);
        if (!nb)
            return -ENOMEM;
        c->obuf[f] = nb;
        c->ocap[f] = ncap;
    }
    return 0;
}

static void bconn_mark_dirty(struct bconn *c)
{
    if (!c->dirty) {
        c->dirty = true;
        c->next_dirty = c->bl->dirty;
        c->bl->dirty = c;
    }
}

int bconn_send(struct bconn *c, const Ccroute__V1__Envelope *env)
{
    if (c->closing)
        return -EPIPE;
    size_t plen = ccroute__v1__envelope__get_packed_size(env);
    int rc = bconn_reserve(c, plen + FRAME_VARINT_MAX);
    if (rc < 0) {
        bconn_close(c, UV_ENOBUFS);
        return rc;
    }
    int f = c->fill;
    uint8_t *p = c->obuf[f] + c->olen[f];
    size_t h = frame_varint_put(plen, p);
    ccroute__v1__envelope__pack(env, p + h);
    c->olen[f] += h + plen;
    c->frames_out++;
    bconn_mark_dirty(c);
    return 0;
}

static void bconn_write_one(struct bconn *c);

static void bconn_write_cb(uv_write_t *req, int status)
{
    struct bconn *c = req->data;
    c->writing = false;
    c->olen[1 - c->fill] = 0;
    if (status < 0) {
        bconn_close(c, status);
        return;
    }
    if (c->olen[c->fill] > 0 && !c->closing)
        bconn_write_one(c);
}

static void bconn_write_one(struct bconn *c)
{
    int f = c->fill;
    uv_buf_t b = uv_buf_init((char *)c->obuf[f], (unsigned)c->olen[f]);
    c->bytes_out += c->olen[f];
    c->fill = 1 - f;
    c->writing = true;
    c->wreq.data = c;
    int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, bconn_write_cb);
    if (rc < 0) {
        c->writing = false;
        c->olen[f] = 0;
        bconn_close(c, rc);
    }
}

void bconn_flush_all(struct bconn_loop *bl)
{
    if (bl->before_flush)
        bl->before_flush(bl);
    struct bconn *c = bl->dirty;
    bl->dirty = NULL;
    while (c) {
        struct bconn *next = c->next_dirty;
        c->dirty = false;
        c->next_dirty = NULL;
        if (!c->closing && !c->writing && c->olen[c->fill] > 0)
            bconn_write_one(c);
        c = next;
    }
}

static void bconn_handle_closed(uv_handle_t *h)
{
    struct bconn *c = h->data;
    free(c->rbuf);
    free(c->obuf[0]);
    free(c->obuf[1]);
    c->rbuf = c->obuf[0] = c->obuf[1] = NULL;
    c->rlen = c->rcap = 0;
    if (c->on_close)
        c->on_close(c, c->close_err);
}

void bconn_close(struct bconn *c, int err)
{
    if (c->closing)
        return;
    c->closing = true;
    c->close_err = err;
    /* Unlink from the dirty list. */
    struct bconn **pp = &c->bl->dirty;
    while (*pp) {
        if (*pp == c) {
            *pp = c->next_dirty;
            break;
        }
        pp = &(*pp)->next_dirty;
    }
    c->dirty = false;
    uv_close((uv_handle_t *)&c->tcp, bconn_handle_closed);
}

int bconn_parse_hostport(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon;
    const char *h = s;
    size_t hl;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':')
            return -EINVAL;
        h = s + 1;
        hl = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return -EINVAL;
        hl = (size_t)(colon - s);
    }
    if (hl == 0 || hl >= hostlen)
        return -EINVAL;
    char *endp;
    long p = strtol(colon + 1, &endp, 10);
    if (*endp != '\0' || colon[1] == '\0' || p < 0 || p > 65535)
        return -EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)p;
    return 0;
}

int bconn_listen(uv_loop_t *loop, uv_tcp_t *server, const char *hostport,
                 uv_connection_cb cb, int *bound)
{
    char host[256];
    int port, rc;
    struct sockaddr_storage ss;
    if (bconn_parse_hostport(hostport, host, sizeof(host), &port) < 0)
        return UV_EINVAL;
    if (strchr(host, ':'))
        rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
    else
        rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
    if (rc < 0)
        return rc;
    if ((rc = uv_tcp_init(loop, server)) < 0)
        return rc;
    if ((rc = uv_tcp_bind(server, (struct sockaddr *)&ss, 0)) < 0)
        return rc;
    if ((rc = uv_listen((uv_stream_t *)server, 511, cb)) < 0)
        return rc;
    struct sockaddr_storage got;
    int len = sizeof(got);
    if ((rc = uv_tcp_getsockname(server, (struct sockaddr *)&got, &len)) < 0)
        return rc;
    if (got.ss_family == AF_INET6)
        *bound = ntohs(((struct sockaddr_in6 *)&got)->sin6_port);
    else
        *bound = ntohs(((struct sockaddr_in *)&got)->sin_port);
    return 0;
}

int bconn_write_port_file(const char *path, int port)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >=
        (int)sizeof(tmp))
        return -ENAMETOOLONG;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -errno;
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0) {
        unlink(tmp);
        return -EIO;
    }
    if (rename(tmp, path) < 0) {
        int e = -errno;
        unlink(tmp);
        return e;
    }
    return 0;
}
