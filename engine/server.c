/* server.c -- listener, per-turn hook, router timer, signals; see server.h.
 *
 * Graceful shutdown (SIGTERM, SIGINT; server_shutdown()) runs in phases,
 * each advanced from the per-turn hook (so that what a phase queues for
 * the clients is written in the same turn):
 *   FLUSHING  the listener and the HTTP surface close; every tenant
 *             drains and stops its routing timer; a frame that arrives
 *             is answered Error STATE_UNAVAILABLE ("shutting down") and
 *             not dispatched. The engine waits until Redis confirmed every
 *             write queued so far (their Acks go out as they confirm), or
 *             limits.shutdown_timeout passes.
 *   STORES    every tenant's store stops: it sends what is still queued,
 *             then releases the lease on the same connection (so Redis
 *             applies the writes first, and a standby takes the tenant at
 *             its next lease round instead of after the expiry); barriers
 *             not confirmed by then fail (Error to their requests). The
 *             store bounds this by redis.command_timeout.
 *   CONNS     every connection is closed after its pending output (Acks,
 *             Errors) is written: FIN, then the close at the client's EOF
 *             or after limits.close_linger.
 *   DONE      the remaining handles close; uv_run() returns and main()
 *             exits 0.
 * Nothing acknowledged is unrecorded: an Ack waits for its barrier in
 * every phase. A second signal, or server_stop(), stops at once.
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
#include "reload.h"
#include "tenant.h"
#include "tls.h"

static void server_shutdown_advance(struct server *s);

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

/* Shutting down: a request is not dispatched (its changes could not be
 * confirmed and handed over in time) but answered with a retryable Error;
 * a Pong needs no answer. */
static void server_refuse_frame(struct server *s, struct conn *c,
                                const uint8_t *payload, size_t len)
{
    Ccroute__V1__Envelope *env =
        ccroute__v1__envelope__unpack(arena_allocator(&s->arena), len,
                                      payload);
    if (!env || env->body_case != CCROUTE__V1__ENVELOPE__BODY_PONG)
        conn_send_error(c, env ? env->request_id : 0,
                        CCROUTE__V1__ERROR_CODE__ERROR_CODE_STATE_UNAVAILABLE,
                        "shutting down: this engine hands its tenant over "
                        "to a standby; nothing was changed, retry there");
    arena_reset(&s->arena);
}

/* The connections' callbacks (conn-t.h): this is where frames and closes
 * go up to dispatch; conn.c itself knows nothing above it. */
static void server_conn_frame(void *arg, struct conn *c,
                              const uint8_t *payload, size_t len)
{
    struct server *s = arg;
    if (s->phase != SERVER_RUNNING) {
        server_refuse_frame(s, c, payload, len);
        return;
    }
    dispatch_frame(server_conn_tenant(s, c), c, payload, len);
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
    if (s->phase != SERVER_RUNNING)
        server_shutdown_advance(s);
    if (s->phase == SERVER_DONE)
        return;
    conn_flush_all(&s->conns);
    for (unsigned i = 0; i < s->tenants.n; i++)
        tenant_timer_rearm(s->tenants.t[i]);
    clock_turn_end();           /* the next turn reads the clocks again */
}

static void server_signal_cb(uv_signal_t *h, int signum)
{
    struct server *s = h->data;
    if (s->phase != SERVER_RUNNING) {
        log_warn("%s received again: stopping now", strsignal(signum));
        server_stop(s);
        return;
    }
    log_info("%s received: shutting down", strsignal(signum));
    server_shutdown(s);
}

/* A reload, from SIGHUP or a ConfigReload request (tenant_set.reload_run):
 * reload.c does the work on the running configuration. Not once the
 * shutdown began: nothing would be left to use it. */
static int server_reload(void *arg, char *msg, size_t len)
{
    struct server *s = arg;
    if (s->phase != SERVER_RUNNING || !s->cfg_live) {
        snprintf(msg, len, "reload refused: the engine is shutting down");
        return RELOAD_ENOTRELOADABLE;
    }
    int rc = reload_apply(s->cfg_live, &s->reload, &s->tenants, msg, len);
    /* what it moved goes to Redis in this turn, before any reply */
    for (unsigned i = 0; rc == 0 && i < s->tenants.n; i++)
        dispatch_flush(s->tenants.t[i]);
    return rc;
}

static void server_sighup_cb(uv_signal_t *h, int signum)
{
    char msg[RELOAD_MSG_MAX];
    (void)signum;
    log_info("SIGHUP received: reloading the configuration");
    server_reload(h->data, msg, sizeof(msg));   /* it logs the outcome */
}

/* SIGUSR1: logrotate renamed the log file; lines go to a fresh one under
 * the configured name from now on (log.file; stderr is left alone). */
static void server_sigusr1_cb(uv_signal_t *h, int signum)
{
    struct server *s = h->data;
    int rc;
    (void)signum;
    if (!s->cfg->log.file[0])
        return;
    rc = log_set_file(s->cfg->log.file);
    if (rc < 0)
        log_error("SIGUSR1: cannot reopen log file %s: %s (still writing "
                  "to the old one)", s->cfg->log.file, strerror(-rc));
    else
        log_info("SIGUSR1: log file %s reopened", s->cfg->log.file);
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
    uv_signal_init(loop, &s->sighup);
    s->sighup.data = s;
    uv_signal_init(loop, &s->sigusr1);
    s->sigusr1.data = s;
    s->tenants.reload.generation = 1;
    s->tenants.reload_run = server_reload;
    s->tenants.reload_arg = s;
    uv_timer_init(loop, &s->shutdown_timer);
    s->shutdown_timer.data = s;
    s->timer_open = true;
    s->listening = true;
    s->accepting = true;
    return 0;
fail:
    conn_set_stop(&s->conns, "start failed");
    for (unsigned i = 0; i < s->tenants.n; i++)
        tenant_stop(s->tenants.t[i], NULL, NULL);   /* closes their handles */
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
    s->started = true;
    uv_signal_start(&s->sigint, server_signal_cb, SIGINT);
    uv_signal_start(&s->sigterm, server_signal_cb, SIGTERM);
    uv_signal_start(&s->sighup, server_sighup_cb, SIGHUP);
    uv_signal_start(&s->sigusr1, server_sigusr1_cb, SIGUSR1);
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

static void server_close_listener(struct server *s)
{
    if (s->accepting) {
        uv_close((uv_handle_t *)&s->listener, NULL);
        s->accepting = false;
    }
    if (s->http)
        http_stop(s->http);
}

void server_stop(struct server *s)
{
    if (s->stopping)
        return;
    s->stopping = true;
    s->phase = SERVER_DONE;
    conn_set_stop(&s->conns, "shutting down");
    server_close_listener(s);
    if (s->listening) {
        uv_close((uv_handle_t *)&s->prepare, NULL);
        uv_close((uv_handle_t *)&s->sigint, NULL);
        uv_close((uv_handle_t *)&s->sigterm, NULL);
        uv_close((uv_handle_t *)&s->sighup, NULL);
        uv_close((uv_handle_t *)&s->sigusr1, NULL);
        s->listening = false;
    }
    if (s->timer_open) {
        uv_close((uv_handle_t *)&s->shutdown_timer, NULL);
        s->timer_open = false;
    }
    for (unsigned i = 0; i < s->tenants.n; i++)
        tenant_stop(s->tenants.t[i], NULL, NULL);
}

/* A tenant's store has stopped (tenant_stop's `done`). */
static void server_store_stopped(void *arg)
{
    struct server *s = arg;
    if (s->stores_left > 0)
        s->stores_left--;
}

static void server_shutdown_timer_cb(uv_timer_t *h)
{
    struct server *s = h->data;
    size_t left = 0;
    if (s->phase != SERVER_FLUSHING)
        return;
    for (unsigned i = 0; i < s->tenants.n; i++)
        left += tenant_unconfirmed(s->tenants.t[i]);
    log_warn("shutdown: %zu writes still unconfirmed after %u ms "
             "(limits.shutdown_timeout); stopping the stores anyway: the "
             "requests that waited for them get an Error", left,
             s->cfg->limits.shutdown_timeout_ms);
    s->phase = SERVER_STORES;
    s->stores_left = s->tenants.n;
    for (unsigned i = 0; i < s->tenants.n; i++)
        tenant_stop(s->tenants.t[i], server_store_stopped, s);
}

/* Closes every connection after its output; the ids first, because a
 * connection may close (and its slot be reused) during the walk. */
static void server_close_conns(struct server *s)
{
    uint32_t cur = 0, n = 0, *ids;
    struct conn *c;
    ids = malloc(((size_t)s->conns.nconns + 1) * sizeof(*ids));
    if (!ids) {
        conn_close_all(&s->conns, "shutting down");
        return;
    }
    while ((c = conn_set_next(&s->conns, &cur)) && n <= s->conns.nconns)
        ids[n++] = c->id;
    for (uint32_t i = 0; i < n; i++)
        if ((c = conn_lookup(&s->conns, ids[i])))
            conn_close_after_flush(c, "engine shutting down");
    free(ids);
}

/* One step of the graceful shutdown, from the per-turn hook (see the top
 * of the file); it may go through several phases at once. */
static void server_shutdown_advance(struct server *s)
{
    if (s->phase == SERVER_FLUSHING) {
        size_t left = 0;
        for (unsigned i = 0; i < s->tenants.n; i++)
            left += tenant_unconfirmed(s->tenants.t[i]);
        if (left)
            return;                 /* a Redis reply brings us back */
        if (s->cfg->store.enabled)
            log_info("shutdown: every write is confirmed; stopping the "
                     "stores (they release their leases)");
        s->phase = SERVER_STORES;
        s->stores_left = s->tenants.n;
        for (unsigned i = 0; i < s->tenants.n; i++)
            tenant_stop(s->tenants.t[i], server_store_stopped, s);
    }
    if (s->phase == SERVER_STORES) {
        if (s->stores_left)
            return;                 /* the store's disconnect brings us back */
        log_info("shutdown: stores stopped; closing %u connections after "
                 "their replies", s->conns.nconns);
        s->phase = SERVER_CONNS;
        server_close_conns(s);
    }
    if (s->phase == SERVER_CONNS) {
        if (s->conns.nconns)
            return;                 /* their EOF or close_linger */
        log_info("shutdown: every connection closed");
        server_stop(s);
    }
}

void server_shutdown(struct server *s)
{
    if (s->phase != SERVER_RUNNING || s->stopping)
        return;
    if (!s->started) {              /* no per-turn hook to advance it */
        server_stop(s);
        return;
    }
    s->phase = SERVER_FLUSHING;
    s->tenants.draining = true;
    server_close_listener(s);
    for (unsigned i = 0; i < s->tenants.n; i++)
        tenant_quiesce(s->tenants.t[i]);
    uv_timer_start(&s->shutdown_timer, server_shutdown_timer_cb,
                   s->cfg->limits.shutdown_timeout_ms, 0);
    if (s->cfg->store.enabled)
        log_info("shutdown: no new connections or requests; waiting at "
                 "most %u ms for redis to confirm what is queued",
                 s->cfg->limits.shutdown_timeout_ms);
    else
        log_info("shutdown: no new connections or requests");
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
