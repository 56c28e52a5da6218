/* lua-server.c -- "the usual alternative": routing in a Redis Lua script.
 *
 * A thin libuv server speaking the ccroute protocol in front of
 * bench/lua-router.lua: each request becomes one EVALSHA (hiredis async on
 * the libuv adapter, so the loop never blocks), and the script's result
 * becomes the Ack or Error for the request plus the Offer / OfferRevoked
 * events it names, sent to the connection that logged the agent in. The
 * routing rules are the same as ccrouted's basic ones (queues defined by
 * required skills, longest-idle agent, waiting contacts ordered by arrival
 * with priority and value as a head start), read from the same YAML
 * configuration (engine/config.c), so ccload drives both alike.
 *
 * No offer timeouts, wrap-up timers, overflow or expansion steps: those
 * need timers, and this is the straightforward design as commonly built.
 *
 *   lua-server [--listen HOST:PORT] [--port-file FILE] --config FILE
 *              [--redis HOST:PORT] [--script FILE] [--prefix P]
 *
 * Set-up (reset the prefix, register the queues, SCRIPT LOAD) uses a
 * blocking hiredis connection before the loop starts; afterwards all Redis
 * traffic is asynchronous. Requests on one connection are answered in
 * order (hiredis replies arrive in command order on its one connection).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <uv.h>

#include "bconn.h"
#include "config.h"

struct lconn {
    struct bconn bc;
    uint32_t id;
    unsigned inflight;
    bool closed;
};

struct pending {
    struct lconn *c;
    uint64_t request_id;
};

static struct {
    struct bconn_loop bl;
    redisAsyncContext *ac;
    char sha[41];
    const char *prefix;
    struct lconn **conns;        /* by id; NULL when gone */
    uint32_t nconns, capconns;
    uint64_t requests, redis_errors;
} S;

static void conn_release(struct lconn *c)
{
    if (c->closed && c->inflight == 0)
        free(c);
}

static void send_error(struct bconn *bc, uint64_t id, int code,
                       const char *msg)
{
    Ccroute__V1__Envelope out = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Error e = CCROUTE__V1__ERROR__INIT;
    e.code = (Ccroute__V1__ErrorCode)code;
    e.message = (char *)msg;
    out.request_id = id;
    out.body_case = CCROUTE__V1__ENVELOPE__BODY_ERROR;
    out.error = &e;
    bconn_send(bc, &out);
}

static void send_ack(struct bconn *bc, uint64_t id)
{
    Ccroute__V1__Envelope out = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Ack ack = CCROUTE__V1__ACK__INIT;
    out.request_id = id;
    out.body_case = CCROUTE__V1__ENVELOPE__BODY_ACK;
    out.ack = &ack;
    bconn_send(bc, &out);
}

static struct lconn *conn_by_tag(const char *s)
{
    unsigned long id = strtoul(s, NULL, 10);
    if (id >= S.nconns)
        return NULL;
    struct lconn *c = S.conns[id];
    return c && !c->closed ? c : NULL;
}

static int code_by_name(const char *name)
{
    char full[64];
    snprintf(full, sizeof(full), "ERROR_CODE_%s", name);
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(
        &ccroute__v1__error_code__descriptor, full);
    return v ? v->value : CCROUTE__V1__ERROR_CODE__ERROR_CODE_INTERNAL;
}

static void emit_event(redisReply *e)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 4)
        return;
    const char *kind = e->element[0]->str;
    if (!kind)
        return;
    if (!strcmp(kind, "offer") && e->elements >= 5) {
        struct lconn *to = conn_by_tag(e->element[4]->str ?
                                       e->element[4]->str : "");
        if (!to)
            return;
        Ccroute__V1__Envelope ev = CCROUTE__V1__ENVELOPE__INIT;
        Ccroute__V1__Offer o = CCROUTE__V1__OFFER__INIT;
        o.contact_id = e->element[1]->str;
        o.agent_id = e->element[2]->str;
        o.queue = e->element[3]->str;
        ev.body_case = CCROUTE__V1__ENVELOPE__BODY_OFFER;
        ev.offer = &o;
        bconn_send(&to->bc, &ev);
    } else if (!strcmp(kind, "revoke")) {
        struct lconn *to = conn_by_tag(e->element[3]->str ?
                                       e->element[3]->str : "");
        if (!to)
            return;
        Ccroute__V1__Envelope ev = CCROUTE__V1__ENVELOPE__INIT;
        Ccroute__V1__OfferRevoked r = CCROUTE__V1__OFFER_REVOKED__INIT;
        r.contact_id = e->element[1]->str;
        r.agent_id = e->element[2]->str;
        r.reason = CCROUTE__V1__REVOKE_REASON__REVOKE_REASON_ABANDONED;
        ev.body_case = CCROUTE__V1__ENVELOPE__BODY_OFFER_REVOKED;
        ev.offer_revoked = &r;
        bconn_send(&to->bc, &ev);
    }
}

static void eval_cb(redisAsyncContext *ac, void *r, void *priv)
{
    struct pending *p = priv;
    struct lconn *c = p->c;
    redisReply *reply = r;
    c->inflight--;
    if (!c->closed) {
        if (!reply || reply->type == REDIS_REPLY_ERROR) {
            S.redis_errors++;
            send_error(&c->bc, p->request_id,
                       CCROUTE__V1__ERROR_CODE__ERROR_CODE_STATE_UNAVAILABLE,
                       reply && reply->str ? reply->str : "redis error");
        } else if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1 &&
                   reply->element[0]->str &&
                   !strcmp(reply->element[0]->str, "ERR")) {
            const char *name = reply->elements > 1 && reply->element[1]->str ?
                               reply->element[1]->str : "INTERNAL";
            send_error(&c->bc, p->request_id, code_by_name(name), name);
        } else {
            send_ack(&c->bc, p->request_id);
        }
    }
    /* Events go out even when the requester has gone. */
    if (reply && reply->type == REDIS_REPLY_ARRAY)
        for (size_t i = 1; i < reply->elements; i++)
            emit_event(reply->element[i]);
    free(p);
    conn_release(c);
}

#define MAXARGS 16

/* Sends EVALSHA sha 1 prefix op now args... for the request. */
static void eval(struct lconn *c, uint64_t rid, const char *op, int nargs,
                 const char **args)
{
    const char *argv[MAXARGS + 6];
    char now[32];
    int n = 0;
    snprintf(now, sizeof(now), "%llu",
             (unsigned long long)(uv_hrtime() / 1000000));
    argv[n++] = "EVALSHA";
    argv[n++] = S.sha;
    argv[n++] = "1";
    argv[n++] = S.prefix;
    argv[n++] = op;
    argv[n++] = now;
    for (int i = 0; i < nargs && i < MAXARGS; i++)
        argv[n++] = args[i] ? args[i] : "";
    struct pending *p = malloc(sizeof(*p));
    if (!p) {
        send_error(&c->bc, rid, CCROUTE__V1__ERROR_CODE__ERROR_CODE_INTERNAL,
                   "out of memory");
        return;
    }
    p->c = c;
    p->request_id = rid;
    c->inflight++;
    if (redisAsyncCommandArgv(S.ac, eval_cb, p, n, argv, NULL) != REDIS_OK) {
        c->inflight--;
        free(p);
        send_error(&c->bc, rid,
                   CCROUTE__V1__ERROR_CODE__ERROR_CODE_STATE_UNAVAILABLE,
                   "redis unavailable");
    }
}

static void lua_conn_frame(struct bconn *bc, Ccroute__V1__Envelope *env)
{
    struct lconn *c = bc->data;
    char tag[16], b1[16], b2[16], skills[2048], queues[1024];
    const char *a[8];
    if (!env) {
        send_error(bc, 0, CCROUTE__V1__ERROR_CODE__ERROR_CODE_MALFORMED,
                   "frame did not decode");
        return;
    }
    S.requests++;
    uint64_t rid = env->request_id;
    snprintf(tag, sizeof(tag), "%u", c->id);
    switch (env->body_case) {
    case CCROUTE__V1__ENVELOPE__BODY_HELLO:
    case CCROUTE__V1__ENVELOPE__BODY_STATS_REQUEST:
        send_ack(bc, rid);
        return;
    case CCROUTE__V1__ENVELOPE__BODY_CONTACT_ARRIVED: {
        Ccroute__V1__ContactArrived *m = env->contact_arrived;
        if (!m->queue || !*m->queue) {
            send_error(bc, rid, CCROUTE__V1__ERROR_CODE__ERROR_CODE_INVALID_FIELD,
                       "lua-server routes by queue only");
            return;
        }
        snprintf(b1, sizeof(b1), "%u", m->priority);
        snprintf(b2, sizeof(b2), "%u", m->customer_value);
        a[0] = m->contact_id; a[1] = m->queue; a[2] = b1; a[3] = b2;
        a[4] = tag;
        eval(c, rid, "arrive", 5, a);
        return;
    }
    case CCROUTE__V1__ENVELOPE__BODY_OFFER_ACCEPTED:
        a[0] = env->offer_accepted->contact_id;
        a[1] = env->offer_accepted->agent_id;
        eval(c, rid, "accept", 2, a);
        return;
    case CCROUTE__V1__ENVELOPE__BODY_OFFER_REJECTED:
        a[0] = env->offer_rejected->contact_id;
        a[1] = env->offer_rejected->agent_id;
        eval(c, rid, "reject", 2, a);
        return;
    case CCROUTE__V1__ENVELOPE__BODY_CONTACT_COMPLETED:
        a[0] = env->contact_completed->contact_id;
        eval(c, rid, "complete", 1, a);
        return;
    case CCROUTE__V1__ENVELOPE__BODY_CONTACT_ABANDONED:
        a[0] = env->contact_abandoned->contact_id;
        eval(c, rid, "abandon", 1, a);
        return;
    case CCROUTE__V1__ENVELOPE__BODY_AGENT_LOGIN: {
        Ccroute__V1__AgentLogin *m = env->agent_login;
        size_t sl = 0, ql = 0;
        skills[0] = queues[0] = 0;
        for (size_t i = 0; i < m->n_skills && sl < sizeof(skills); i++)
            sl += (size_t)snprintf(skills + sl, sizeof(skills) - sl, "%s%s:%u",
                                   i ? "," : "", m->skills[i]->skill,
                                   m->skills[i]->level);
        for (size_t i = 0; i < m->n_queues && ql < sizeof(queues); i++)
            ql += (size_t)snprintf(queues + ql, sizeof(queues) - ql, "%s%s",
                                   i ? "," : "", m->queues[i]);
        a[0] = m->agent_id; a[1] = tag; a[2] = skills; a[3] = queues;
        eval(c, rid, "login", 4, a);
        return;
    }
    case CCROUTE__V1__ENVELOPE__BODY_AGENT_LOGOUT:
        a[0] = env->agent_logout->agent_id;
        eval(c, rid, "logout", 1, a);
        return;
    case CCROUTE__V1__ENVELOPE__BODY_AGENT_STATE:
        snprintf(b1, sizeof(b1), "%d", (int)env->agent_state->status);
        a[0] = env->agent_state->agent_id;
        a[1] = b1;
        eval(c, rid, "state", 2, a);
        return;
    default:
        send_error(bc, rid, CCROUTE__V1__ERROR_CODE__ERROR_CODE_UNKNOWN_MESSAGE,
                   "not supported by lua-server");
        return;
    }
}

static void lua_conn_closed(struct bconn *bc, int err)
{
    struct lconn *c = bc->data;
    c->closed = true;
    S.conns[c->id] = NULL;
    conn_release(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    if (S.nconns == S.capconns) {
        uint32_t ncap = S.capconns ? S.capconns * 2 : 64;
        struct lconn **nc = realloc(S.conns, ncap * sizeof(*nc));
        if (!nc)
            return;
        S.conns = nc;
        S.capconns = ncap;
    }
    struct lconn *c = calloc(1, sizeof(*c));
    if (!c)
        return;
    c->id = S.nconns;
    c->bc.data = c;
    S.conns[S.nconns++] = c;
    bconn_init(&S.bl, &c->bc, lua_conn_frame, lua_conn_closed);
    if (uv_accept(server, (uv_stream_t *)&c->bc.tcp) < 0 ||
        bconn_start(&c->bc) < 0)
        bconn_close(&c->bc, UV_ECONNABORTED);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf)
        buf[n] = 0;
    fclose(f);
    return buf;
}

/* Blocking set-up: reset the prefix, register queues, load the script. */
static int setup_redis(const char *host, int port, const char *script_path,
                       const struct config *cfg)
{
    char *script = read_file(script_path);
    if (!script) {
        fprintf(stderr, "lua-server: %s: %s\n", script_path, strerror(errno));
        return -1;
    }
    redisContext *rc = redisConnect(host, port);
    if (!rc || rc->err) {
        fprintf(stderr, "lua-server: redis %s:%d: %s\n", host, port,
                rc ? rc->errstr : "out of memory");
        free(script);
        return -1;
    }
    int ok = -1;
    redisReply *r = redisCommand(rc, "SCRIPT LOAD %s", script);
    if (!r || r->type != REDIS_REPLY_STRING || r->len != 40) {
        fprintf(stderr, "lua-server: SCRIPT LOAD: %s\n",
                r && r->str ? r->str : rc->errstr);
        goto out;
    }
    memcpy(S.sha, r->str, 40);
    S.sha[40] = 0;
    freeReplyObject(r);
    r = redisCommand(rc, "EVALSHA %s 1 %s reset 0", S.sha, S.prefix);
    if (!r || r->type == REDIS_REPLY_ERROR)
        goto out;
    for (unsigned i = 0; i < cfg->router.nqueues; i++) {
        const struct router_queue_config *q = &cfg->router.queues[i];
        char req[1024];
        size_t l = 0;
        req[0] = 0;
        for (unsigned j = 0; j < q->nreq && l < sizeof(req); j++)
            l += (size_t)snprintf(req + l, sizeof(req) - l, "%s%s:%u",
                                  j ? "," : "", q->req[j].skill,
                                  q->req[j].min_level ? q->req[j].min_level
                                                      : 1);
        freeReplyObject(r);
        r = redisCommand(rc, "EVALSHA %s 1 %s queue 0 %s %s", S.sha,
                         S.prefix, q->name, req);
        if (!r || r->type == REDIS_REPLY_ERROR)
            goto out;
    }
    ok = 0;
out:
    if (ok < 0 && r && r->str)
        fprintf(stderr, "lua-server: redis: %s\n", r->str);
    if (r)
        freeReplyObject(r);
    redisFree(rc);
    free(script);
    return ok;
}

static void on_redis_disconnect(const redisAsyncContext *ac, int status)
{
    fprintf(stderr, "lua-server: redis connection lost\n");
    S.ac = NULL;
    uv_stop(S.bl.loop);
}

static void on_signal(uv_signal_t *s, int signum)
{
    uv_stop(s->loop);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lua-server --config FILE [--listen HOST:PORT]\n"
            "                  [--port-file FILE] [--redis HOST:PORT]\n"
            "                  [--script FILE] [--prefix P]\n"
            "ccroute protocol in front of a Redis Lua router (one EVALSHA\n"
            "per request). Defaults: --listen 127.0.0.1:7400, --redis\n"
            "127.0.0.1:6379, --script bench/lua-router.lua, --prefix ccl:\n");
}

int main(int argc, char **argv)
{
    const char *listen = "127.0.0.1:7400", *port_file = NULL;
    const char *config_path = NULL, *redis = "127.0.0.1:6379";
    const char *script = "bench/lua-router.lua";
    S.prefix = "ccl:";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--listen") && v)
            listen = argv[++i];
        else if (!strcmp(a, "--port-file") && v)
            port_file = argv[++i];
        else if (!strcmp(a, "--config") && v)
            config_path = argv[++i];
        else if (!strcmp(a, "--redis") && v)
            redis = argv[++i];
        else if (!strcmp(a, "--script") && v)
            script = argv[++i];
        else if (!strcmp(a, "--prefix") && v)
            S.prefix = argv[++i];
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!config_path) {
        usage(stderr);
        return 2;
    }
    static struct config cfg;
    char err[1024], rhost[256];
    int rport;
    config_defaults(&cfg);
    if (config_load(&cfg, config_path, err, sizeof(err)) < 0) {
        fprintf(stderr, "lua-server: %s\n", err);
        return 2;
    }
    if (bconn_parse_hostport(redis, rhost, sizeof(rhost), &rport) < 0) {
        fprintf(stderr, "lua-server: bad --redis %s\n", redis);
        return 2;
    }
    if (setup_redis(rhost, rport, script, &cfg) < 0)
        return 1;

    signal(SIGPIPE, SIG_IGN);
    uv_loop_t *loop = uv_default_loop();
    if (bconn_loop_init(&S.bl, loop) < 0)
        return 1;
    S.ac = redisAsyncConnect(rhost, rport);
    if (!S.ac || S.ac->err) {
        fprintf(stderr, "lua-server: redis: %s\n",
                S.ac ? S.ac->errstr : "out of memory");
        return 1;
    }
    redisLibuvAttach(S.ac, loop);
    redisAsyncSetDisconnectCallback(S.ac, on_redis_disconnect);

    uv_tcp_t server;
    int port, rc = bconn_listen(loop, &server, listen, on_connection, &port);
    if (rc < 0) {
        fprintf(stderr, "lua-server: listen %s: %s\n", listen,
                uv_strerror(rc));
        return 1;
    }
    if (port_file && (rc = bconn_write_port_file(port_file, port)) < 0) {
        fprintf(stderr, "lua-server: %s: %s\n", port_file, strerror(-rc));
        return 1;
    }
    fprintf(stderr, "lua-server: listening on port %d, redis %s, %u queues\n",
            port, redis, cfg.router.nqueues);
    uv_signal_t sigint, sigterm;
    uv_signal_init(loop, &sigint);
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);
    fprintf(stderr, "lua-server: %llu requests, %llu redis errors\n",
            (unsigned long long)S.requests,
            (unsigned long long)S.redis_errors);
    config_fini(&cfg);
    return 0;
}
