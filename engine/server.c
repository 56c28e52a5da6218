/* server.c -- listener, per-turn hook, router timer, signals; see server.h.
 *
 * Shutdown (SIGINT/SIGTERM): close the listener and every connection, stop
 * the timers and the hook, ask the store to stop (it flushes what it can
 * and releases the lease); uv_run() then returns by itself once the last
 * handle is closed, and main() frees everything with server_fini().
 */
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "arena.h"
#include "clock.h"
#include "config.h"
#include "conn.h"
#include "dispatch.h"
#include "http.h"
#include "log.h"
#include "tenant.h"
#include "tls.h"

static void server_on_connection(uv_stream_t *l, int status)
{
    struct server *s = l->data;
    if (status < 0) {
        conn_accept_failed(&s->conns, status);
        return;
    }
    conn_accept(&s->conns, l);
}

/* The tenant a connection's frames go to: the one its Hello bound it to;
 * before Hello the default tenant's dispatch reads the Hello (and moves
 * the connection to the tenant it names, dispatch.c). */
static struct tenant *server_conn_tenant(struct server *s, const struct conn *c)
{
    return c->hello && c->tenant < s->tenants.n ? s->tenants.t[c->tenant]
                                                : s->tenants.t[0];
}

/* The connections' callbacks (conn-t.h): this is where frames and closes
 * go up to dispatch; conn.c itself knows nothing above it. */
static void server_conn_frame(void *arg, struct conn *c,
                              const uint8_t *payload, size_t len)
{
    dispatch_frame(server_conn_tenant(arg, c), c, payload, len);
}

static void server_conn_closed(void *arg, struct conn *c)
{
    dispatch_conn_closed(server_conn_tenant(arg, c), c);
}

/* Once per loop turn, just before the loop blocks: persistence first,
 * then replies, then the timers (see server.h). */
static void server_prepare_cb(uv_prepare_t *p)
{
    struct server *s = p->data;
    for (unsigned i = 0; i < s->tenants.n; i++)
        tenant_flush(s->tenants.t[i]);
    conn_flush_all(&s->conns);
    for (unsigned i = 0; i < s->tenants.n; i++)
        tenant_timer_rearm(s->tenants.t[i]);
    clock_turn_end();           /* the next turn reads the clocks again */
}

static void server_signal_cb(uv_signal_t *h, int signum)
{
    struct server *s = h->data;
    log_info("%s received: shutting down", strsignal(signum));
    server_stop(s);
}

/* A tenant cannot go on (tenant.h): stop the engine. */
static void server_fatal(void *arg)
{
    server_stop(arg);
}

/* Descriptors kept out of the connection budget: the loop's own (epoll,
 * signals, async), Redis and its reconnections, the port file, libuv's
 * spare descriptor for EMFILE. */
#define SERVER_FD_RESERVE 64u

/* max_connections, lowered so that every client connection and the
 * reserve fit under the descriptor limit (main() raised the soft limit to
 * the hard one): accept() then never meets EMFILE because of clients. */
static uint32_t server_max_conns(const struct config *cfg)
{
    struct rlimit rl;
    uint32_t want = cfg->limits.max_connections, fit;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
        return want;
    fit = rl.rlim_cur > SERVER_FD_RESERVE + 1
          ? (rl.rlim_cur - SERVER_FD_RESERVE > UINT32_MAX
             ? UINT32_MAX : (uint32_t)(rl.rlim_cur - SERVER_FD_RESERVE))
          : 1;
    if (fit < want) {
        log_warn("limits.max_connections %u lowered to %u: the descriptor "
                 "limit is %llu and %u are kept in reserve", want, fit,
                 (unsigned long long)rl.rlim_cur, SERVER_FD_RESERVE);
        return fit;
    }
    return want;
}

int server_init(struct server *s, uv_loop_t *loop, const struct config *cfg,
                char *err, size_t errlen)
{
    size_t arena_cap;
    struct conn_limits lim = {
        .max_frame = cfg->max_frame,
        .max_output = cfg->max_output,
        .max_conns = server_max_conns(cfg),
        .hello_ms = cfg->limits.hello_timeout_ms,
        .frame_ms = cfg->limits.frame_timeout_ms,
        .idle_ms = cfg->limits.idle_timeout_ms,
        .ping_ms = cfg->limits.ping_interval_ms,
        .pong_ms = cfg->limits.ping_timeout_ms,
        .linger_ms = cfg->limits.close_linger_ms,
        .keepalive_s = cfg->limits.keepalive_ms / 1000,
    };

    memset(s, 0, sizeof(*s));
    s->loop = loop;
    s->cfg = cfg;
    if (conn_set_init(&s->conns, loop, &lim, server_conn_frame,
                      server_conn_closed, s) < 0) {
        snprintf(err, errlen, "cannot create the connection timer");
        return -1;
    }
    /* TLS on the listener: every connection becomes a session of this
     * context (conn.c). */
    if (cfg->tls.enabled) {
        if (tls_ctx_new(&cfg->tls, &s->tls, err, errlen) < 0)
            goto fail;
        s->conns.tls = s->tls;
    }
    arena_cap = cfg->max_frame * 4 < 256 * 1024 ? 256 * 1024
                                                : cfg->max_frame * 4;
    if (arena_init(&s->arena, arena_cap) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* one tenant (redis.tenant), a list, or a pool (config.h) */
    s->tenants.pool_max = cfg->tenants.pool_max;
    if (cfg->tenants.n == 0) {
        if (!tenant_new(&s->tenants, cfg->store.tenant, loop, cfg, &s->conns,
                        &s->arena, server_fatal, s, err, errlen))
            goto fail;
    }
    for (unsigned i = 0; i < cfg->tenants.n; i++)
        if (!tenant_new(&s->tenants, cfg->tenants.names[i], loop, cfg,
                        &s->conns, &s->arena, server_fatal, s, err, errlen))
            goto fail;
    if (cfg->http.enabled && !(s->http = http_new(s, err, errlen)))
        goto fail;
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    uv_prepare_init(loop, &s->prepare);
    s->prepare.data = s;
    uv_signal_init(loop, &s->sigint);
    s->sigint.data = s;
    uv_signal_init(loop, &s->sigterm);
    s->sigterm.data = s;
    s->listening = true;
    return 0;
fail:
    conn_set_stop(&s->conns, "start failed");
    for (unsigned i = 0; i < s->tenants.n; i++)
        tenant_stop(s->tenants.t[i]);       /* closes their handles */
    uv_run(loop, UV_RUN_NOWAIT);    /* releases the set's timer */
    server_fini(s);
    return -1;
}

static int server_write_port_file(struct server *s)
{
    char tmp[600];
    FILE *f;
    snprintf(tmp, sizeof(tmp), "%s.tmp", s->port_file);
    f = fopen(tmp, "w");
    if (!f)
        return -errno;
    fprintf(f, "%d\n", s->port);
    if (fclose(f) != 0)
        return -errno;
    /* rename: a reader polling for the file never sees it half written */
    if (rename(tmp, s->port_file) < 0)
        return -errno;
    return 0;
}

int server_start(struct server *s)
{
    const struct config *cfg = s->cfg;
    struct sockaddr_storage ss;
    int sslen = sizeof(ss), rc;
    const char *host = cfg->listen_host;

    if (!strcmp(host, "localhost"))
        host = "127.0.0.1";
    rc = uv_ip4_addr(host, cfg->listen_port, (struct sockaddr_in *)&ss);
    if (rc < 0)
        rc = uv_ip6_addr(host, cfg->listen_port, (struct sockaddr_in6 *)&ss);
    if (rc < 0) {
        log_error("listen address \"%s\" is not a numeric IP address", host);
        return rc;
    }
    rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, 511,
                       server_on_connection);
    if (rc < 0) {
        log_error("cannot listen on %s:%d: %s", host, cfg->listen_port,
                  uv_strerror(rc));
        return rc;
    }
    rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &sslen);
    if (rc == 0)
        s->port = ntohs(ss.ss_family == AF_INET
                            ? ((struct sockaddr_in *)&ss)->sin_port
                            : ((struct sockaddr_in6 *)&ss)->sin6_port);
    if (s->http && (rc = http_start(s->http)) < 0)
        return rc;
    uv_prepare_start(&s->prepare, server_prepare_cb);
    uv_signal_start(&s->sigint, server_signal_cb, SIGINT);
    uv_signal_start(&s->sigterm, server_signal_cb, SIGTERM);
    log_info("listening on %s:%d (%s; max frame %zu, output bound %zu, "
             "grace %u ms, max connections %u, store %s)", host, s->port,
             !s->tls ? "plain TCP"
             : tls_ctx_mutual(s->tls) ? "TLS, client certificates required"
                                      : "TLS",
             cfg->max_frame, cfg->max_output, cfg->grace_ms,
             s->conns.lim.max_conns,
             cfg->store.enabled ? "redis" : "memory only");
    /* Without an explicit `advertise`, name the address actually bound
     * (the port may have been 0: an ephemeral one). */
    char addr[300];
    snprintf(addr, sizeof(addr), "%.200s:%d", host, s->port);
    if (s->tenants.n > 1)
        log_info("tenants: %u (%s, %s%s)%s", s->tenants.n,
                 s->tenants.t[0]->name, s->tenants.t[1]->name,
                 s->tenants.n > 2 ? ", ..." : "",
                 s->tenants.pool_max ? "; pool" : "");
    for (unsigned i = 0; i < s->tenants.n; i++)
        if (tenant_start(s->tenants.t[i],
                         cfg->store.advertise[0] ? NULL : addr) < 0)
            return -EIO;
    if (s->port_file[0]) {
        rc = server_write_port_file(s);
        if (rc < 0) {
            log_error("cannot write port file %s: %s", s->port_file,
                      strerror(-rc));
            return rc;
        }
    }
    return 0;
}

void server_stop(struct server *s)
{
    if (s->stopping)
        return;
    s->stopping = true;
    conn_set_stop(&s->conns, "shutting down");
    if (s->listening) {
        uv_close((uv_handle_t *)&s->listener, NULL);
        uv_close((uv_handle_t *)&s->prepare, NULL);
        uv_close((uv_handle_t *)&s->sigint, NULL);
        uv_close((uv_handle_t *)&s->sigterm, NULL);
        s->listening = false;
    }
    if (s->http)
        http_stop(s->http);
    for (unsigned i = 0; i < s->tenants.n; i++)
        tenant_stop(s->tenants.t[i]);
}

void server_fini(struct server *s)
{
    http_free(s->http);
    s->http = NULL;
    for (unsigned i = 0; i < s->tenants.n; i++)
        tenant_free(s->tenants.t[i]);
    s->tenants.n = 0;
    arena_fini(&s->arena);
    conn_set_fini(&s->conns);
    tls_ctx_free(s->tls);
    s->tls = NULL;
}
