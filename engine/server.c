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
#include "router.h"
#include "store.h"
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

/* The connections' callbacks (conn-t.h): this is where frames and closes
 * go up to dispatch; conn.c itself knows nothing above it. */
static void server_conn_frame(void *arg, struct conn *c,
                              const uint8_t *payload, size_t len)
{
    dispatch_frame(arg, c, payload, len);
}

static void server_conn_closed(void *arg, struct conn *c)
{
    dispatch_conn_closed(arg, c);
}

static void server_timer_rearm(struct server *s);

/* Once per loop turn, just before the loop blocks: persistence first,
 * then replies, then the timer (see server.h). */
static void server_prepare_cb(uv_prepare_t *p)
{
    struct server *s = p->data;
    store_flush(s->store);
    conn_flush_all(&s->conns);
    server_timer_rearm(s);
    clock_turn_end();           /* the next turn reads the clocks again */
}

static void server_timer_cb(uv_timer_t *t)
{
    struct server *s = t->data;
    /* libuv's coarse loop time said the deadline passed: read the clock
     * afresh rather than trust an earlier read of this turn */
    clock_turn_end();
    s->timer_due = 0;
    dispatch_tick(s);
    /* Re-armed by the prepare hook of this turn. */
}

static void server_timer_rearm(struct server *s)
{
    uint64_t due, now, ms;
    if (s->stopping)
        return;
    /* no routing decision without a confirmed lease (dispatch_on_role) */
    due = s->role == STORE_ROLE_OWNER ? router_next_deadline(s->router)
                                      : UINT64_MAX;
    if (due == UINT64_MAX) {
        if (s->timer_due) {
            uv_timer_stop(&s->timer);
            s->timer_due = 0;
        }
        return;
    }
    if (due == s->timer_due)
        return;
    now = clock_turn_us();
    ms = due > now ? (due - now + 999) / 1000 : 0;
    uv_timer_start(&s->timer, server_timer_cb, ms, 0);
    s->timer_due = due;
}

static void server_signal_cb(uv_signal_t *h, int signum)
{
    struct server *s = h->data;
    log_info("%s received: shutting down", strsignal(signum));
    server_stop(s);
}

/* Another engine owned the tenant meanwhile: everything this router holds
 * is stale. Start from an empty router (same configuration); the store
 * loads the tenant's state into it before reporting OWNER again. Clients
 * were already disconnected when the lease was lost. */
static void server_on_reset(void *arg)
{
    struct server *s = arg;
    const char *rerr = NULL;
    struct router *fresh = router_new(&s->cfg->router,
                                      clock_wall_ms() ^ (uint64_t)getpid(),
                                      &rerr);
    if (!fresh) {
        /* Same configuration as at start, so only memory can fail here.
         * Serving a stale state would be worse than stopping. */
        log_error("store: cannot recreate the router (%s); stopping",
                  rerr ? rerr : "out of memory");
        server_stop(s);
        return;
    }
    log_info("store: another engine owned the tenant meanwhile; dropping "
             "the in-memory state before reloading it");
    dispatch_reset(s->dispatch);
    router_free(s->router);
    s->router = fresh;
    store_set_router(s->store, fresh);
    s->timer_due = 0;
    uv_timer_stop(&s->timer);
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
    const char *rerr = NULL;
    struct store_hooks hooks;
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
    s->router = router_new(&cfg->router, clock_wall_ms() ^ (uint64_t)getpid(),
                           &rerr);
    if (!s->router) {
        snprintf(err, errlen, "routing configuration: %s",
                 rerr ? rerr : "invalid (or out of memory)");
        goto fail;
    }
    s->dispatch = dispatch_new(s);
    if (!s->dispatch) {
        snprintf(err, errlen, "out of memory (side tables)");
        goto fail;
    }
    memset(&hooks, 0, sizeof(hooks));
    hooks.arg = s;
    hooks.on_role = dispatch_on_role;
    hooks.snapshot = dispatch_snapshot;
    hooks.load_agent = dispatch_load_agent;
    hooks.load_contact = dispatch_load_contact;
    hooks.on_reset = server_on_reset;
    s->store = store_new(loop, &cfg->store, s->router, &hooks);
    if (!s->store) {
        snprintf(err, errlen, "cannot create the store");
        goto fail;
    }
    if (cfg->http.enabled && !(s->http = http_new(s, err, errlen)))
        goto fail;
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    uv_prepare_init(loop, &s->prepare);
    s->prepare.data = s;
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    uv_signal_init(loop, &s->sigint);
    s->sigint.data = s;
    uv_signal_init(loop, &s->sigterm);
    s->sigterm.data = s;
    s->listening = true;
    return 0;
fail:
    conn_set_stop(&s->conns, "start failed");
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
    if (!cfg->store.advertise[0]) {
        char addr[300];
        snprintf(addr, sizeof(addr), "%.200s:%d", host, s->port);
        store_set_advertise(s->store, addr);
    }
    rc = store_start(s->store);
    if (rc < 0) {
        log_error("store: %s", ccr_strerror(rc));
        return -EIO;
    }
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
        uv_close((uv_handle_t *)&s->timer, NULL);
        uv_close((uv_handle_t *)&s->sigint, NULL);
        uv_close((uv_handle_t *)&s->sigterm, NULL);
        s->listening = false;
    }
    if (s->http)
        http_stop(s->http);
    dispatch_close(s->dispatch);
    store_stop(s->store, NULL, NULL);
}

void server_fini(struct server *s)
{
    http_free(s->http);
    s->http = NULL;
    if (s->store)
        store_free(s->store);
    if (s->dispatch)
        dispatch_free(s->dispatch);
    if (s->router)
        router_free(s->router);
    arena_fini(&s->arena);
    conn_set_fini(&s->conns);
    tls_ctx_free(s->tls);
    s->tls = NULL;
    s->store = NULL;
    s->dispatch = NULL;
    s->router = NULL;
}
