/* http.c -- the HTTP listener and the routing of its paths; see http.h.
 *
 * H2O on the engine's loop: Debian's libh2o is H2O built on libuv, so its
 * context (h2o_context_t) takes the engine's uv_loop_t, and each accepted
 * uv_tcp_t becomes an H2O socket (h2o_uv_socket_create) that H2O reads,
 * parses and writes through the same loop as the protocol connections.
 * Nothing blocks: a handler builds its whole answer from memory and hands
 * it to H2O, which writes it as the client reads; a client that sends its
 * request head slowly is cut by H2O after http.request_timeout.
 *
 * Two things H2O does not do for an embedder, done here:
 *   - Shutdown. H2O's context owns a uv_async_t and uv timers that would
 *     keep uv_run() going after server_stop(), and its HTTP/1 connections
 *     have no "close now" call. So the handles the context creates are
 *     unref'd (they still work while the engine's own handles keep the
 *     loop running), every accepted connection is on our list, and
 *     http_stop() shuts each socket down (shutdown(2)): H2O sees the end
 *     of the stream and closes the connection through its own path. The
 *     context is disposed after uv_run() returned (http_free).
 *   - A bound on connections (http.max_connections): one past it is
 *     closed at once, so the HTTP surface cannot take the descriptors
 *     that the protocol's clients need.
 *
 * Routing: one H2O handler takes every path; the token is checked first
 * (when required) so that an unauthenticated client learns nothing about
 * which paths exist, then the path picks the endpoint (unknown: 404), then
 * the method (GET and HEAD only: 405 otherwise).
 *
 * The wallboard (wallboard.c: its files; sse.c: its event stream) is
 * opened by a browser, which cannot put a token in an Authorization
 * header for a page or an EventSource. So, on a listener that wants
 * tokens, `GET /?token=T` with a monitor's or admin's T answers 303 to the
 * page with T in a cookie (HttpOnly, SameSite=Strict), and that cookie
 * stands in for the header on the wallboard's own paths -- the page, its
 * two files, /api/v1/events -- and nowhere else. The token leaves the
 * address bar at once, and a cross-site page can neither send the cookie
 * nor read an answer.
 *
 * Event streams are long answers on HTTP connections, so they count in
 * http.max_connections; at most half of it (at least one) may be streams,
 * so that probes and scrapes still get in while wallboards are open.
 */
#include "http.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <h2o.h>

#include "api.h"
#include "auth.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "server-t.h"
#include "sse.h"
#include "store.h"
#include "wallboard.h"

/* The cookie that carries a wallboard's token (see the top of this file). */
#define WB_COOKIE "ccroute_wallboard"
#include "tenant.h"

/* One accepted connection: its handle (which H2O's socket uses and closes)
 * and its place in the surface's list. */
struct http_sock {
    uv_tcp_t tcp;                   /* first: H2O's close callback gets it */
    struct http *h;
    struct http_sock *prev, *next;
};

struct http_handler {
    h2o_handler_t super;            /* first: H2O allocates it this size */
    struct http *h;
};

struct http {
    struct server *srv;             /* borrowed */
    const struct http_config *cfg;  /* borrowed: srv->cfg->http */
    h2o_globalconf_t conf;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept;
    uv_tcp_t listener;
    bool ctx_open, listener_open, stopping;
    int port;
    struct http_sock *socks;        /* live connections */
    struct sse *sse;                /* the wallboard's event streams */
    struct http_stats stats;
};

/* ---- responses ---- */

static void respond(struct http *h, h2o_req_t *req, int status,
                    const char *reason, const char *ctype, const char *body,
                    size_t len)
{
    h->stats.responses[status / 100 <= 5 ? status / 100 : 5]++;
    req->res.status = status;
    req->res.reason = reason;
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE,
                   NULL, ctype, strlen(ctype));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL,
                   NULL, H2O_STRLIT("no-store"));
    /* copies the body into the request's pool */
    h2o_send_inline(req, body, len);
}

static void respond_text(struct http *h, h2o_req_t *req, int status,
                         const char *reason, const char *text)
{
    respond(h, req, status, reason, "text/plain; charset=utf-8", text,
            strlen(text));
}

/* ---- access ---- */

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
         : (c | 32) >= 'a' && (c | 32) <= 'f' ? (c | 32) - 'a' + 10 : -1;
}

/* Percent-decodes n bytes of `v` into out (cap bytes); '+' is a space
 * (form encoding). The decoded length, or -1 when it does not fit or an
 * escape is broken. */
static ssize_t pct_decode(const char *v, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= n)
                return -1;
            hi = hexval(v[i + 1]);
            lo = hexval(v[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (o == cap)
            return -1;
        out[o++] = c;
    }
    return (ssize_t)o;
}

/* The value of parameter `name` in the query of `req` (borrowed from the
 * request, not decoded), or NULL. */
static const char *query_param(h2o_req_t *req, const char *name,
                               size_t *len)
{
    size_t nl = strlen(name);
    const char *p, *end;
    if (req->query_at == SIZE_MAX)
        return NULL;
    p = req->path.base + req->query_at + 1;
    end = req->path.base + req->path.len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        if ((size_t)(e - p) > nl && !memcmp(p, name, nl) && p[nl] == '=') {
            *len = (size_t)(e - p - (ptrdiff_t)nl - 1);
            return p + nl + 1;
        }
        p = e + 1;
    }
    return NULL;
}

/* The wallboard cookie's value in the request's Cookie headers (borrowed,
 * still percent-encoded), or NULL. */
static const char *wallboard_cookie(h2o_req_t *req, size_t *len)
{
    static const size_t nl = sizeof(WB_COOKIE) - 1;
    ssize_t i = -1;
    while ((i = h2o_find_header(&req->headers, H2O_TOKEN_COOKIE, i)) >= 0) {
        const char *p = req->headers.entries[i].value.base;
        const char *end = p + req->headers.entries[i].value.len;
        while (p < end) {
            const char *semi = memchr(p, ';', (size_t)(end - p));
            const char *e = semi ? semi : end;
            while (p < e && *p == ' ')
                p++;
            if ((size_t)(e - p) > nl && !memcmp(p, WB_COOKIE, nl) &&
                p[nl] == '=') {
                *len = (size_t)(e - p - (ptrdiff_t)nl - 1);
                return p + nl + 1;
            }
            p = e + 1;
        }
    }
    return NULL;
}

/* Looks a percent-encoded token up; -1 when it is unknown or undecodable. */
static int lookup_encoded(const struct auth_config *a, const char *v,
                          size_t n)
{
    char tok[AUTH_TOKEN_MAX];
    ssize_t tl = pct_decode(v, n, tok, sizeof(tok));
    return tl > 0 ? auth_lookup(a, tok, (size_t)tl) : -1;
}

/* Checks the request's credential: `Authorization: Bearer <token>`, or
 * where `cookie_ok` (the wallboard's paths) the wallboard cookie, or
 * where `query` the token in the query (`GET /?token=`). 0: a monitor or
 * admin principal of one of this engine's tenants (its index in
 * *principal); -1: answered 401 or 403. */
static int check_token(struct http *h, h2o_req_t *req, bool cookie_ok,
                       const char *query, size_t qlen, int *principal)
{
    const struct auth_config *a = &h->srv->cfg->auth;
    const struct auth_principal *pr;
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    const char *v;
    size_t n;
    int pi = -1;
    char msg[200];

    if (i >= 0) {
        v = req->headers.entries[i].value.base;
        n = req->headers.entries[i].value.len;
        if (n > 7 && !strncasecmp(v, "Bearer ", 7)) {
            v += 7;
            n -= 7;
            while (n && (*v == ' ' || *v == '\t')) {
                v++;
                n--;
            }
            while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
                n--;
            pi = auth_lookup(a, v, n);
        }
    } else if (query) {
        pi = lookup_encoded(a, query, qlen);
    } else if (cookie_ok && (v = wallboard_cookie(req, &n)) != NULL) {
        pi = lookup_encoded(a, v, n);
    }
    if (pi < 0) {
        h->stats.unauthorized++;
        h2o_add_header(&req->pool, &req->res.headers,
                       H2O_TOKEN_WWW_AUTHENTICATE, NULL,
                       H2O_STRLIT("Bearer realm=\"ccrouted\""));
        respond_text(h, req, 401, "Unauthorized", "unauthorized: this "
                     "listener wants Authorization: Bearer <token> of a "
                     "monitor or admin principal\n");
        return -1;
    }
    pr = &a->principals[pi];
    if (!(pr->roles & HTTP_ROLE_BITS) ||
        (pr->tenant[0] && !tenant_find(&h->srv->tenants, pr->tenant))) {
        h->stats.forbidden++;
        snprintf(msg, sizeof(msg), "forbidden: principal \"%s\" %s\n",
                 pr->name, !(pr->roles & HTTP_ROLE_BITS)
                 ? "has neither the monitor nor the admin role"
                 : "belongs to another tenant");
        respond_text(h, req, 403, "Forbidden", msg);
        return -1;
    }
    *principal = pi;
    return 0;
}

/* ---- endpoints ---- */

static void get_readyz(struct http *h, h2o_req_t *req)
{
    char msg[700];
    char why[600];
    if (tenant_set_ready(&h->srv->tenants, why, sizeof(why))) {
        respond_text(h, req, 200, "OK", "ready\n");
        return;
    }
    snprintf(msg, sizeof(msg), "not ready: %s\n", why);
    respond_text(h, req, 503, "Service Unavailable", msg);
}

static void get_metrics(struct http *h, h2o_req_t *req)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int rc = f ? metrics_write(f, h->srv, &h->stats) : -1;
    if (f && fclose(f) != 0)
        rc = -1;
    if (rc < 0)
        respond_text(h, req, 500, "Internal Server Error",
                     "out of memory\n");
    else
        respond(h, req, 200, "OK", "text/plain; version=0.0.4; "
                "charset=utf-8", buf, len);
    free(buf);
}

/* The tenant an API request reads: `?tenant=NAME`, else the token's
 * principal's tenant, else the default one. NULL: answered 403 or 404. */
static const struct tenant *api_tenant(struct http *h, h2o_req_t *req,
                                       int principal)
{
    const struct auth_principal *pr = principal >= 0
        ? &h->srv->cfg->auth.principals[principal] : NULL;
    const char *want = pr && pr->tenant[0] ? pr->tenant : NULL;
    const struct tenant *t;
    char name[64] = "";
    if (req->query_at != SIZE_MAX) {
        const char *q = req->path.base + req->query_at + 1;
        size_t n = req->path.len - req->query_at - 1;
        if (n > 7 && !memcmp(q, "tenant=", 7) && n - 7 < sizeof(name) &&
            !memchr(q + 7, '&', n - 7)) {
            memcpy(name, q + 7, n - 7);
            name[n - 7] = '\0';
        }
    }
    if (name[0] && want && strcmp(name, want)) {
        h->stats.forbidden++;
        respond_text(h, req, 403, "Forbidden", "forbidden: the principal "
                     "belongs to another tenant\n");
        return NULL;
    }
    if (!(t = name[0] ? tenant_find(&h->srv->tenants, name)
                      : want ? tenant_find(&h->srv->tenants, want)
                             : h->srv->tenants.t[0])) {
        static const char nf[] = "{\"error\":\"no such tenant\"}";
        respond(h, req, 404, "Not Found", "application/json", nf,
                sizeof(nf) - 1);
        return NULL;
    }
    return t;
}

static void get_api(struct http *h, h2o_req_t *req, const char *rest,
                    size_t len, int principal)
{
    char *body = NULL;
    size_t blen = 0;
    const struct tenant *t = api_tenant(h, req, principal);
    if (!t)
        return;
    int status = api_get(t, rest, len, &body, &blen);
    if (!body)
        respond_text(h, req, 500, "Internal Server Error",
                     "out of memory\n");
    else
        respond(h, req, status, status == 200 ? "OK" : "Not Found",
                "application/json", body, blen);
    free(body);
}

/* The security headers of the wallboard's files: its page loads nothing
 * but its own files and stream, and is not framed by another site. */
static void wallboard_headers(h2o_req_t *req)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers,
                          H2O_STRLIT("content-security-policy"), 0, NULL,
                          H2O_STRLIT("default-src 'none'; script-src "
                                     "'self'; style-src 'self'; connect-src "
                                     "'self'; frame-ancestors 'none'; "
                                     "base-uri 'none'"));
    h2o_add_header_by_str(&req->pool, &req->res.headers,
                          H2O_STRLIT("x-content-type-options"), 0, NULL,
                          H2O_STRLIT("nosniff"));
    h2o_add_header_by_str(&req->pool, &req->res.headers,
                          H2O_STRLIT("referrer-policy"), 0, NULL,
                          H2O_STRLIT("no-referrer"));
}

static void get_file(struct http *h, h2o_req_t *req,
                     const struct wallboard_file *f)
{
    wallboard_headers(req);
    respond(h, req, 200, "OK", f->content_type, (const char *)f->data,
            f->len);
}

/* GET /?token=T on a listener that wants tokens (T already checked): the
 * token goes into the wallboard cookie, and the browser to the page
 * without it in its address. */
static void login(struct http *h, h2o_req_t *req, const char *tok,
                  size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    char enc[AUTH_TOKEN_MAX * 3];
    char dec[AUTH_TOKEN_MAX];
    ssize_t dl = pct_decode(tok, len, dec, sizeof(dec));
    size_t o = 0;
    char *cookie;

    /* the cookie carries the token percent-encoded: any byte but
     * unreserved ones, so that no ';', ',', space or quote breaks it */
    for (ssize_t i = 0; i < dl; i++) {
        unsigned char c = (unsigned char)dec[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
            c == '~') {
            enc[o++] = (char)c;
        } else {
            enc[o++] = '%';
            enc[o++] = hex[c >> 4];
            enc[o++] = hex[c & 15];
        }
    }
    cookie = h2o_mem_alloc_pool(&req->pool, o + 80);
    o = (size_t)sprintf(cookie, WB_COOKIE "=%.*s; Path=/; HttpOnly; "
                        "SameSite=Strict", (int)o, enc);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_SET_COOKIE,
                   NULL, cookie, o);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_LOCATION, NULL,
                   H2O_STRLIT("./"));
    wallboard_headers(req);
    respond_text(h, req, 303, "See Other", "see ./\n");
}

static bool same_addr(const struct sockaddr_storage *a,
                      const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port &&
               x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return x->sin6_port == y->sin6_port &&
               !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
    }
    return false;
}

/* The descriptor of the connection that carries `req`: ours whose peer
 * has the address H2O gives for it. 0, or -ENOENT. */
static int req_fd(struct http *h, h2o_req_t *req, uv_os_fd_t *fd)
{
    struct sockaddr_storage want = { 0 };

    if (!req->conn->callbacks->get_peername ||
        !req->conn->callbacks->get_peername(req->conn,
                                            (struct sockaddr *)&want))
        return -ENOENT;
    for (struct http_sock *hs = h->socks; hs; hs = hs->next) {
        struct sockaddr_storage got = { 0 };
        int len = sizeof(got);
        if (uv_tcp_getpeername(&hs->tcp, (struct sockaddr *)&got, &len) ||
            !same_addr(&want, &got))
            continue;
        return uv_fileno((uv_handle_t *)&hs->tcp, fd) == 0 ? 0 : -ENOENT;
    }
    return -ENOENT;
}

/* The kernel's send buffer of an event stream's connection, fixed (which
 * turns Linux's growth of it, up to megabytes, off): a stream is a
 * trickle of frames, and a client that stops reading should be seen to
 * stop after about one frame -- its frames then skipped in user space,
 * one buffer each -- not after megabytes of kernel memory. */
#define SSE_SNDBUF (64 * 1024)

/* The most event streams at once: half of max_connections, at least 1. */
static unsigned max_streams(const struct http *h)
{
    unsigned m = h->cfg->max_connections / 2;
    return m ? m : 1;
}

static void get_events(struct http *h, h2o_req_t *req)
{
    int rc;
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        respond(h, req, 200, "OK", "text/event-stream; charset=utf-8", "",
                0);
        return;
    }
    if (sse_count(h->sse) >= max_streams(h)) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER,
                       NULL, H2O_STRLIT("10"));
        respond_text(h, req, 503, "Service Unavailable", "too many event "
                     "streams: at most half of http.max_connections\n");
        return;
    }
    {
        uv_os_fd_t fd;
        int sz = SSE_SNDBUF;
        if (req_fd(h, req, &fd) == 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    }
    rc = sse_open(h->sse, req);
    if (rc < 0) {
        respond_text(h, req, 503, "Service Unavailable", rc == -ENOMEM
                     ? "out of memory\n" : "shutting down\n");
        return;
    }
    h->stats.responses[2]++;
}

enum endpoint { EP_NONE, EP_HEALTHZ, EP_READYZ, EP_METRICS, EP_API,
                EP_EVENTS, EP_FILE };

#define API_PREFIX "/api/v1/"
#define EVENTS_PATH "/api/v1/events"

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    struct http *h = ((struct http_handler *)self)->h;
    const char *p = req->path_normalized.base, *tok = NULL;
    size_t n = req->path_normalized.len, pre = sizeof(API_PREFIX) - 1;
    size_t toklen = 0;
    enum endpoint ep = EP_NONE;
    const struct wallboard_file *file = NULL;

    int principal = -1;
    if (n == 8 && !memcmp(p, "/healthz", 8))
        ep = EP_HEALTHZ;
    else if (n == 7 && !memcmp(p, "/readyz", 7))
        ep = EP_READYZ;
    else if (n == 8 && !memcmp(p, "/metrics", 8))
        ep = EP_METRICS;
    else if (n == sizeof(EVENTS_PATH) - 1 && !memcmp(p, EVENTS_PATH, n))
        ep = EP_EVENTS;
    else if (n > pre && !memcmp(p, API_PREFIX, pre))
        ep = EP_API;
    else if ((file = wallboard_file(p, n)) != NULL)
        ep = EP_FILE;
    if (h->cfg->require_token) {
        /* the page itself is where a browser brings its token */
        if (ep == EP_FILE && n == 1)
            tok = query_param(req, "token", &toklen);
        if (check_token(h, req, ep == EP_FILE || ep == EP_EVENTS, tok,
                        toklen, &principal) < 0)
            return 0;
    }
    if (ep == EP_NONE) {
        respond_text(h, req, 404, "Not Found", "not found\n");
        return 0;
    }
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL,
                       H2O_STRLIT("GET, HEAD"));
        respond_text(h, req, 405, "Method Not Allowed",
                     "method not allowed: GET or HEAD\n");
        return 0;
    }
    switch (ep) {
    case EP_HEALTHZ:
        /* answering at all is the point: the loop turns */
        respond_text(h, req, 200, "OK", "ok\n");
        break;
    case EP_READYZ: get_readyz(h, req); break;
    case EP_METRICS: get_metrics(h, req); break;
    case EP_API: get_api(h, req, p + pre, n - pre, principal); break;
    case EP_EVENTS: get_events(h, req); break;
    case EP_FILE:
        if (tok)
            login(h, req, tok, toklen);
        else
            get_file(h, req, file);
        break;
    case EP_NONE: break;
    }
    return 0;
}

/* ---- connections ---- */

static void sock_closed(uv_handle_t *t)
{
    struct http_sock *hs = (struct http_sock *)t;
    struct http *h = hs->h;
    if (hs->prev)
        hs->prev->next = hs->next;
    else
        h->socks = hs->next;
    if (hs->next)
        hs->next->prev = hs->prev;
    h->stats.open--;
    free(hs);
}

static void on_connection(uv_stream_t *l, int status)
{
    struct http *h = l->data;
    struct http_sock *hs;

    if (status < 0) {
        log_warn("http: accept failed: %s", uv_strerror(status));
        return;
    }
    hs = calloc(1, sizeof(*hs));
    if (!hs) {
        log_warn("http: out of memory accepting a connection");
        return;
    }
    hs->h = h;
    uv_tcp_init(l->loop, &hs->tcp);
    if (uv_accept(l, (uv_stream_t *)&hs->tcp) < 0 || h->stopping ||
        h->stats.open >= h->cfg->max_connections) {
        if (h->stats.open >= h->cfg->max_connections)
            h->stats.refused++;
        uv_close((uv_handle_t *)&hs->tcp, (uv_close_cb)free);
        return;
    }
    h->stats.accepted++;
    h->stats.open++;
    hs->next = h->socks;
    if (h->socks)
        h->socks->prev = hs;
    h->socks = hs;
    uv_tcp_nodelay(&hs->tcp, 1);
    h2o_accept(&h->accept,
               h2o_uv_socket_create((uv_stream_t *)&hs->tcp, sock_closed));
}

/* ---- event streams ---- */

static int sse_frame(void *arg, uint64_t seq, char **out, size_t *len)
{
    struct http *h = arg;
    /* the engine's default (first) tenant: docs/http.md, "Wallboard" */
    return wallboard_snapshot(h->srv->tenants.t[0], seq, out, len);
}

/* A stream's client has not read its frame for http.request_timeout: its
 * connection is shut down; H2O's pending write then fails and it closes
 * the connection (and stops the stream) through its own path, as in
 * http_stop(). */
static void sse_kick(void *arg, h2o_req_t *req)
{
    struct http *h = arg;
    uv_os_fd_t fd;
    if (req_fd(h, req, &fd) < 0)
        return;
    log_info("http: an event stream's client has not read for %u ms; "
             "closing it", h->cfg->request_timeout_ms);
    shutdown(fd, SHUT_RDWR);
}

/* ---- life ---- */

struct handle_list {
    uv_handle_t **v;
    size_t n, cap;
    bool oom;
};

static void collect(uv_handle_t *hd, void *arg)
{
    struct handle_list *l = arg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        uv_handle_t **v = realloc(l->v, cap * sizeof(*v));
        if (!v) {
            l->oom = true;
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = hd;
}

/* Unrefs every handle of the loop not in `before`: those H2O's context
 * created (see the top of this file). */
static void unref_new(uv_handle_t *hd, void *arg)
{
    const struct handle_list *before = arg;
    for (size_t i = 0; i < before->n; i++)
        if (before->v[i] == hd)
            return;
    uv_unref(hd);
}

struct http *http_new(struct server *s, char *err, size_t errlen)
{
    struct http *h = calloc(1, sizeof(*h));
    struct handle_list before = { 0 };
    h2o_hostconf_t *host;
    h2o_pathconf_t *path;
    struct http_handler *hd;

    if (!h) {
        snprintf(err, errlen, "http: out of memory");
        return NULL;
    }
    h->srv = s;
    h->cfg = &s->cfg->http;
    h2o_config_init(&h->conf);
    h->conf.server_name = h2o_iovec_init(H2O_STRLIT("ccrouted"));
    h->conf.http1.req_timeout = h->cfg->request_timeout_ms;
    h->conf.http1.upgrade_to_http2 = 0;
    h->conf.http2.idle_timeout = h->cfg->request_timeout_ms;
    /* the endpoints take no request body */
    h->conf.max_request_entity_size = 4096;
    host = h2o_config_register_host(&h->conf,
                                    h2o_iovec_init(H2O_STRLIT("default")),
                                    65535);
    path = h2o_config_register_path(host, "/", 0);
    hd = (struct http_handler *)h2o_create_handler(path, sizeof(*hd));
    hd->super.on_req = on_req;
    hd->h = h;

    uv_walk(s->loop, collect, &before);
    if (before.oom) {
        free(before.v);
        h2o_config_dispose(&h->conf);
        free(h);
        snprintf(err, errlen, "http: out of memory");
        return NULL;
    }
    h2o_context_init(&h->ctx, s->loop, &h->conf);
    h->ctx_open = true;
    uv_walk(s->loop, unref_new, &before);
    free(before.v);
    h->accept.ctx = &h->ctx;
    h->accept.hosts = h->conf.hosts;
    {
        struct sse_config sc = {
            .period_ms = 1000,
            .stuck_ms = h->cfg->request_timeout_ms,
            .retry_ms = 2000,
            .event = "snapshot",
        };
        h->sse = sse_new(s->loop, &sc, sse_frame, sse_kick, h);
    }
    if (!h->sse) {
        http_free(h);
        snprintf(err, errlen, "http: out of memory");
        return NULL;
    }
    return h;
}

int http_start(struct http *h)
{
    const struct http_config *c = h->cfg;
    const char *host = !strcmp(c->host, "localhost") ? "127.0.0.1" : c->host;
    struct sockaddr_storage ss;
    int sslen = sizeof(ss), rc;

    rc = uv_ip4_addr(host, c->port, (struct sockaddr_in *)&ss);
    if (rc < 0)
        rc = uv_ip6_addr(host, c->port, (struct sockaddr_in6 *)&ss);
    if (rc < 0) {
        log_error("http: listen address \"%s\" is not a numeric IP address",
                  host);
        return rc;
    }
    uv_tcp_init(h->srv->loop, &h->listener);
    h->listener.data = h;
    h->listener_open = true;
    rc = uv_tcp_bind(&h->listener, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&h->listener, 64, on_connection);
    if (rc == 0)
        rc = uv_tcp_getsockname(&h->listener, (struct sockaddr *)&ss,
                                &sslen);
    if (rc < 0) {
        log_error("http: cannot listen on %s:%d: %s", host, c->port,
                  uv_strerror(rc));
        return rc;
    }
    h->port = ntohs(ss.ss_family == AF_INET
                        ? ((struct sockaddr_in *)&ss)->sin_port
                        : ((struct sockaddr_in6 *)&ss)->sin6_port);
    log_info("http: listening on %s:%d (%s; max connections %u)", host,
             h->port, c->require_token ? "a monitor or admin token required"
                                       : "loopback, no token",
             c->max_connections);
    return 0;
}

int http_port(const struct http *h)
{
    return h->port;
}

void http_stop(struct http *h)
{
    if (h->stopping)
        return;
    h->stopping = true;
    sse_stop(h->sse);
    if (h->listener_open) {
        uv_close((uv_handle_t *)&h->listener, NULL);
        h->listener_open = false;
    }
    /* H2O closes each connection itself when it reads the end */
    for (struct http_sock *hs = h->socks; hs; hs = hs->next) {
        uv_os_fd_t fd;
        if (uv_fileno((uv_handle_t *)&hs->tcp, &fd) == 0)
            shutdown(fd, SHUT_RDWR);
    }
}

void http_free(struct http *h)
{
    if (!h)
        return;
    if (h->sse)
        sse_stop(h->sse);       /* closes its timer: the loop runs below */
    if (h->ctx_open)
        h2o_context_dispose(&h->ctx);   /* closes its handles: runs the
                                           loop once, without waiting */
    h2o_config_dispose(&h->conf);
    sse_free(h->sse);
    free(h);
}

const struct http_stats *http_stats(const struct http *h)
{
    return &h->stats;
}
