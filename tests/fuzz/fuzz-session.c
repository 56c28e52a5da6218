/* fuzz-session.c -- libFuzzer harness for a live engine: bytes read from
 * client connections, through frame cutting (conn.c), decoding,
 * validation and dispatch (dispatch.c), into a router with the in-memory
 * store, and the replies back out.
 *
 * The input is a script for four clients (fuzz-session.h): chunks of
 * bytes or whole frames, closes and half-closes, interleaved. Each input
 * gets a fresh engine assembled as ccrouted assembles it: server_init()
 * and server_start() on one libuv loop (the prepare hook that flushes the
 * store and the replies once per turn, the router timer, the connection
 * deadlines), with `redis: {enabled: false}`. server_start() binds its TCP
 * listener on 127.0.0.1 port 0, which nobody connects to: the clients
 * come through a Unix socket listener of the harness (abstract name, one
 * per input) whose connection callback is conn_accept(), so conn.c takes
 * them as it takes TCP clients (libuv's uv_accept() opens any stream
 * socket into the uv_tcp_t; TCP_NODELAY and keepalive simply fail on a
 * Unix socket, and the peer name is "?"). No engine hook is needed.
 *
 * The harness's side of each connection is a plain non-blocking socket.
 * Between records the loop runs (uv_run NOWAIT) until the engine has read
 * everything written, has no output left to write, and two turns passed
 * without a reply or a close arriving, so every per-turn flush happens. No time is advanced: the deadlines are the
 * configured ones (seconds), so an input runs the same way each time
 * (only the router's random seed differs, as in the daemon).
 *
 * What must hold:
 *   - no crash, sanitizer report or leak (the engine is stopped and freed
 *     after each input: server_stop(), the loop run until every handle is
 *     closed, server_fini());
 *   - router_check() (the router's invariant checker) after every record;
 *   - every frame the engine writes to any client is a frame (prefix
 *     within 16 MiB) whose payload decodes as an Envelope with a body;
 *   - an automatic Hello is answered with its Ack;
 *   - a script frame on a connection that has seen only whole frames is
 *     answered as proto/README.md promises: exactly one Ack or Error with
 *     its request id (a Pong or an Error for a Ping; nothing for a Pong;
 *     a Hello is left out, since a refused credential is answered late),
 *     unless the engine closed the connection meanwhile; a frame that
 *     does not decode gets its Error MALFORMED before the close, and the
 *     close is a FIN, not a reset;
 *   - after the script, with its clients closed, the engine still serves
 *     a well-behaved pair of new clients (issue 9: no request may make
 *     the engine refuse legitimate work afterwards): a desk says Hello
 *     and logs in agent p-1 for queue "probe", a switch says Hello and
 *     sends contact probe-c-1 to that queue; each gets its Ack. In open
 *     mode (grace 0) the script's contacts and agents must all be gone by
 *     then (abandoned, logged out), so the contact must be offered to
 *     p-1: the desk gets the Offer, accepts it (Ack), the switch hears
 *     ContactAssigned, completes the contact (Ack). In auth mode the
 *     script's agents wait out their grace period and may take the probe
 *     contact first (legitimately); the Offer exchange is then required
 *     only when the router offered the contact to p-1.
 *   The probe's principal is the harness's own (its token is never in an
 *   input), so in auth mode the script cannot touch its names or agents.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/sockios.h>
#include <uv.h>

#include "auth.h"
#include "ccroute.pb-c.h"
#include "config.h"
#include "conn.h"
#include "frame.h"
#include "fuzz-check.h"
#include "fuzz-session.h"
#include "log.h"
#include "router.h"
#include "server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef Ccroute__V1__Envelope envelope_t;

#define TOKEN_PROBE "fuzz-session-probe-token-not-in-any-input"
/* Loop turns a wait may take: each turn polls without blocking, and an
 * answer needs two or three. */
#define TURNS_MAX 256
/* The largest frame the engine may write (a Stats reply can pass
 * max_frame, which bounds what it reads). */
#define OUT_FRAME_MAX (16u << 20)

enum { MODE_OPEN = 0, MODE_AUTH = 1 };
enum { PROBE_DESK = SESS_CLIENTS, PROBE_SWITCH, NCLIENTS };

struct client {
    int fd;                 /* -1: not connected */
    unsigned connects;      /* how many times it connected this input */
    uint8_t *rx;            /* bytes received, not yet cut into frames */
    size_t rlen, rcap;

    /* The answer the last FRAME record's request is owed (see
     * expect_answer()). */
    bool aligned;           /* only whole frames written since connecting */
    bool reset;             /* the engine's close came as a reset */
    bool want_malformed;    /* the frame does not decode */
    bool sent_hello;        /* a script Hello on this connection (its
                               refusal may be answered late, by a timer) */
    int want;               /* WANT_* */
    uint64_t want_id;
    unsigned answers;       /* Ack/Error (or Pong) with want_id seen */
};

/* WANT_REPLY: an Ack or an Error; WANT_PONG: a Pong or an Error (a Ping
 * before Hello gets NOT_HELLO). */
enum { WANT_NONE = 0, WANT_REPLY, WANT_PONG };

/* The automatic Hello of each script client. */
static const struct {
    const char *name, *token;
    Ccroute__V1__Role role;
} hellos[SESS_CLIENTS] = {
    { "sw-1", SESS_TOKEN_PBX_EAST, CCROUTE__V1__ROLE__ROLE_SWITCH },
    { "desk-1", SESS_TOKEN_DESKS, CCROUTE__V1__ROLE__ROLE_AGENT },
    { "wall-1", SESS_TOKEN_WALL, CCROUTE__V1__ROLE__ROLE_ADMIN },
    { "west-1", SESS_TOKEN_PBX_WEST, CCROUTE__V1__ROLE__ROLE_SWITCH },
};

static struct {
    bool ready;
    uv_loop_t loop;
    struct config cfg[2];           /* MODE_OPEN, MODE_AUTH */
    struct sigaction sigint, sigterm;   /* libFuzzer's */
    struct server srv;
    uv_pipe_t listener;
    struct sockaddr_un addr;
    socklen_t addrlen;
    unsigned serial;
    int mode;
    unsigned flags;
    struct client cl[NCLIENTS];
} H;

/* ---- configuration ---- */

/* Small slot counts: the router's tables are allocated for each input.
 * In auth mode the script's agents outlive its clients (grace), and a
 * script of libFuzzer's default maximum length (4 KiB; a login takes at
 * least 8 bytes) could fill max_agents: the probe's AgentLogin may then be
 * refused with RESOURCE_EXHAUSTED, which is legitimate only when the
 * router holds max_agents agents indeed. */
#define FUZZ_MAX_AGENTS 256u
static const char config_common[] =
    "log_level: error\n"
    "listen: 127.0.0.1:0\n"
    "redis: {enabled: false}\n"
    "routing: {offer_timeout: 30s, max_agents: 256, max_contacts: 2048}\n"
    "skills: [sales, support, probe]\n"
    "queues:\n"
    "  - name: sales\n"
    "    skills: {sales: 1}\n"
    "    channels: [voice, chat]\n"
    "  - name: support\n"
    "    skills: {support: 1}\n"
    "    channels: [voice, chat, email]\n"
    "  - name: probe\n"
    "    skills: {probe: 1}\n"
    "    channels: [voice]\n";

static void hash_hex(const char *token, char hex[65])
{
    uint8_t h[AUTH_HASH_LEN];
    FUZZ_CHECK(auth_hash(token, strlen(token), h) == 0, "auth_hash");
    auth_hex_format(h, hex);
}

static void load_config(struct config *c, const char *text)
{
    char err[512];
    config_defaults(c);
    FUZZ_CHECK(config_load_string(c, "fuzz-session.yaml", text, strlen(text),
                                  err, sizeof(err)) == 0,
               "the harness's configuration: %s", err);
}

/* In auth mode two principals have quotas (a request-rate quota would
 * depend on the clock, so none), so that the quota paths are fuzzed
 * too. */
static void init_once(void)
{
    char text[4096], h[5][65];

    /* FUZZ_SESSION_LOG=debug (or info, warn) when replaying one input. */
    const char *lv = getenv("FUZZ_SESSION_LOG");
    log_set_level(lv && log_level_parse(lv) >= 0
                  ? (enum log_level)log_level_parse(lv) : LOG_ERROR);
    signal(SIGPIPE, SIG_IGN);
    /* libFuzzer's handlers, put back after server_start() (libuv's
     * uv_signal_stop() leaves SIG_DFL behind). */
    sigaction(SIGINT, NULL, &H.sigint);
    sigaction(SIGTERM, NULL, &H.sigterm);
    FUZZ_CHECK(uv_loop_init(&H.loop) == 0, "uv_loop_init");

    snprintf(text, sizeof(text), "%sgrace: 0s\n", config_common);
    load_config(&H.cfg[MODE_OPEN], text);

    hash_hex(SESS_TOKEN_PBX_EAST, h[0]);
    hash_hex(SESS_TOKEN_PBX_WEST, h[1]);
    hash_hex(SESS_TOKEN_DESKS, h[2]);
    hash_hex(SESS_TOKEN_WALL, h[3]);
    hash_hex(TOKEN_PROBE, h[4]);
    snprintf(text, sizeof(text),
             "%sgrace: 30s\n"
             "principals:\n"
             "  - name: pbx-east\n"
             "    token_sha256: %s\n"
             "    roles: [switch, gateway, dialer]\n"
             "    clients: [\"sw-*\"]\n"
             "    agents: [\"a-*\"]\n"
             "  - name: pbx-west\n"
             "    token_sha256: %s\n"
             "    roles: [switch]\n"
             "    clients: [\"west-*\"]\n"
             "    quota: {contacts: 16}\n"
             "  - name: desks\n"
             "    token_sha256: %s\n"
             "    roles: [agent]\n"
             "    clients: [\"desk-*\"]\n"
             "    agents: [\"a-*\"]\n"
             "    quota: {agents: 16}\n"
             "  - name: wall\n"
             "    token_sha256: %s\n"
             "    roles: [monitor, admin]\n"
             "    clients: [\"wall-*\"]\n"
             "    agents: [\"*\"]\n"
             "  - name: probe\n"
             "    token_sha256: %s\n"
             "    roles: [switch, agent]\n"
             "    clients: [\"probe-*\"]\n"
             "    agents: [\"p-*\"]\n",
             config_common, h[0], h[1], h[2], h[3], h[4]);
    load_config(&H.cfg[MODE_AUTH], text);
    FUZZ_CHECK(H.cfg[MODE_AUTH].router.max_agents == FUZZ_MAX_AGENTS,
               "FUZZ_MAX_AGENTS is not the configured max_agents");
    H.ready = true;
}

/* ---- the engine and the listener of one input ---- */

static void on_connection(uv_stream_t *l, int status)
{
    (void)l;
    FUZZ_CHECK(status == 0, "unix listener: %s", uv_strerror(status));
    conn_accept(&H.srv.conns, (uv_stream_t *)&H.listener);
}

static void engine_start(void)
{
    char err[512];
    int fd;

    FUZZ_CHECK(server_init(&H.srv, &H.loop, &H.cfg[H.mode], err,
                           sizeof(err)) == 0, "server_init: %s", err);
    FUZZ_CHECK(server_start(&H.srv) == 0, "server_start");
    uv_signal_stop(&H.srv.sigint);
    uv_signal_stop(&H.srv.sigterm);
    sigaction(SIGINT, &H.sigint, NULL);
    sigaction(SIGTERM, &H.sigterm, NULL);

    memset(&H.addr, 0, sizeof(H.addr));
    H.addr.sun_family = AF_UNIX;
    /* Abstract (sun_path[0] == 0): nothing in the file system. */
    int n = snprintf(H.addr.sun_path + 1, sizeof(H.addr.sun_path) - 1,
                     "ccroute-fuzz-session-%d-%u", (int)getpid(), H.serial++);
    H.addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    FUZZ_CHECK(fd >= 0, "socket: %s", strerror(errno));
    FUZZ_CHECK(bind(fd, (struct sockaddr *)&H.addr, H.addrlen) == 0,
               "bind: %s", strerror(errno));
    FUZZ_CHECK(uv_pipe_init(&H.loop, &H.listener, 0) == 0, "uv_pipe_init");
    FUZZ_CHECK(uv_pipe_open(&H.listener, fd) == 0, "uv_pipe_open");
    FUZZ_CHECK(uv_listen((uv_stream_t *)&H.listener, 64, on_connection) == 0,
               "uv_listen");
}

static void client_close(struct client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->rlen = 0;
    c->reset = false;
}

static void engine_stop(void)
{
    for (int i = 0; i < NCLIENTS; i++) {
        client_close(&H.cl[i]);
        free(H.cl[i].rx);
        memset(&H.cl[i], 0, sizeof(H.cl[i]));
        H.cl[i].fd = -1;
    }
    uv_close((uv_handle_t *)&H.listener, NULL);
    server_stop(&H.srv);
    /* Returns once every handle of the engine is closed: one left open
     * would hang here, which libFuzzer reports as a timeout. */
    uv_run(&H.loop, UV_RUN_DEFAULT);
    server_fini(&H.srv);
}

/* ---- the clients' side ---- */

/* Reads what the engine sent to c; closes c at the engine's EOF (as a
 * client does: the engine lingers until then) or a reset, keeping the
 * bytes received before it (client_take() still cuts them). */
static void client_read(struct client *c)
{
    while (c->fd >= 0) {
        if (c->rcap - c->rlen < 4096) {
            size_t ncap = c->rcap ? c->rcap * 2 : 16384;
            uint8_t *nb = realloc(c->rx, ncap);
            FUZZ_CHECK(nb != NULL, "out of memory");
            c->rx = nb;
            c->rcap = ncap;
        }
        ssize_t n = recv(c->fd, c->rx + c->rlen, c->rcap - c->rlen, 0);
        if (n > 0) {
            c->rlen += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0 && errno == EINTR)
            continue;
        close(c->fd);       /* EOF or reset */
        c->fd = -1;
        c->reset = n < 0;
    }
}

/* The next whole frame from c, decoded (free with
 * ccroute__v1__envelope__free_unpacked), or NULL when none is whole yet.
 * Every frame must be well formed and decode. */
static envelope_t *client_take(struct client *c)
{
    const uint8_t *payload;
    size_t plen = 0, used = 0;
    envelope_t *env;
    int st;

    if (!c->rlen)
        return NULL;
    st = frame_next(c->rx, c->rlen, OUT_FRAME_MAX, &payload, &plen, &used);
    FUZZ_CHECK(st == FRAME_OK || st == FRAME_NEED_MORE,
               "the engine wrote a bad frame prefix (status %d, %zu bytes "
               "declared)", st, plen);
    if (st == FRAME_NEED_MORE)
        return NULL;
    env = ccroute__v1__envelope__unpack(NULL, plen, payload);
    FUZZ_CHECK(env != NULL, "the engine wrote a frame of %zu bytes that "
               "does not decode as an Envelope", plen);
    FUZZ_CHECK(env->body_case != CCROUTE__V1__ENVELOPE__BODY__NOT_SET,
               "the engine wrote an Envelope without a body");
    memmove(c->rx, c->rx + used, c->rlen - used);
    c->rlen -= used;
    return env;
}

/* Reads and checks everything the script's clients got, but `keep`;
 * discards it (a client waiting for an answer, and the probe's clients,
 * read their own in client_wait()). */
static void clients_drain(const struct client *keep)
{
    for (int i = 0; i < SESS_CLIENTS; i++) {
        envelope_t *env;
        if (&H.cl[i] == keep)
            continue;
        client_read(&H.cl[i]);
        while ((env = client_take(&H.cl[i]))) {
            struct client *c = &H.cl[i];
            int body = env->body_case;
            if (c->want && env->request_id == c->want_id &&
                (body == CCROUTE__V1__ENVELOPE__BODY_ERROR ||
                 body == (c->want == WANT_PONG
                              ? CCROUTE__V1__ENVELOPE__BODY_PONG
                              : CCROUTE__V1__ENVELOPE__BODY_ACK)))
                c->answers++;
            ccroute__v1__envelope__free_unpacked(env, NULL);
        }
    }
}

/* Bytes written by the clients that the engine has not read yet. */
static bool clients_unread(void)
{
    for (int i = 0; i < NCLIENTS; i++) {
        int q = 0;
        if (H.cl[i].fd >= 0 && ioctl(H.cl[i].fd, SIOCOUTQ, &q) == 0 && q > 0)
            return true;
    }
    return false;
}

/* Whether a connection of the engine still has output to write, or is
 * draining towards its FIN. */
static bool engine_busy(void)
{
    const struct conn_set *cs = &H.srv.conns;
    if (cs->pending)
        return true;
    for (uint32_t i = 0; i < cs->nslots; i++) {
        const struct conn *k = cs->slots[i];
        if (k && (k->writing || k->state == CONN_DRAINING))
            return true;
    }
    return false;
}

/* Runs the loop until the engine has read every byte written, has
 * written all its output, and two turns brought no reply and no close
 * (so each reply was flushed and read). */
static void settle(void)
{
    int quiet = 0;
    for (int t = 0; t < TURNS_MAX && quiet < 2; t++) {
        size_t before = 0, after = 0;
        int open_before = 0, open_after = 0;
        uv_run(&H.loop, UV_RUN_NOWAIT);
        for (int i = 0; i < SESS_CLIENTS; i++) {
            before += H.cl[i].rlen;
            open_before += H.cl[i].fd >= 0;
            client_read(&H.cl[i]);
            after += H.cl[i].rlen;
            open_after += H.cl[i].fd >= 0;
        }
        quiet = after != before || open_after != open_before ||
                clients_unread() || engine_busy() ? 0 : quiet + 1;
        clients_drain(NULL);
    }
}

/* Returns whether all n bytes were written. */
static bool client_send_raw(struct client *c, const uint8_t *p, size_t n)
{
    size_t off = 0;
    for (int t = 0; c->fd >= 0 && off < n && t < TURNS_MAX;) {
        ssize_t w = send(c->fd, p + off, n - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            uv_run(&H.loop, UV_RUN_NOWAIT);     /* the engine reads */
            clients_drain(c);
            t++;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else {
            client_close(c);    /* the engine closed it (EPIPE, reset) */
        }
    }
    return c->fd >= 0 && off == n;
}

static bool client_send_frame(struct client *c, const uint8_t *payload,
                              size_t n)
{
    bool all;
    uint8_t *f = malloc(FRAME_VARINT_MAX + n);
    FUZZ_CHECK(f != NULL, "out of memory");
    size_t h = frame_varint_put(n, f);
    if (n)
        memcpy(f + h, payload, n);
    all = client_send_raw(c, f, h + n);
    free(f);
    return all;
}

static void client_send(struct client *c, const envelope_t *env)
{
    size_t n = ccroute__v1__envelope__get_packed_size(env);
    uint8_t *p = malloc(n ? n : 1);
    FUZZ_CHECK(p != NULL, "out of memory");
    ccroute__v1__envelope__pack(env, p);
    client_send_frame(c, p, n);
    free(p);
}

/* Waits for the next frame of c that `want` accepts; every other frame is
 * checked and dropped. Aborts when none comes within TURNS_MAX turns or
 * an Error answers request `id`. */
typedef bool (*want_fn)(const envelope_t *env, const void *arg);

static envelope_t *client_wait(struct client *c, uint64_t id, want_fn want,
                               const void *arg, const char *what)
{
    for (int t = 0; t < TURNS_MAX; t++) {
        envelope_t *env;
        client_read(c);
        while ((env = client_take(c))) {
            if (want(env, arg))
                return env;
            FUZZ_CHECK(!(id && env->request_id == id &&
                         env->body_case == CCROUTE__V1__ENVELOPE__BODY_ERROR),
                       "%s: Error %d \"%s\"", what, (int)env->error->code,
                       env->error->message);
            ccroute__v1__envelope__free_unpacked(env, NULL);
        }
        FUZZ_CHECK(c->fd >= 0, "%s: the engine closed the connection", what);
        uv_run(&H.loop, UV_RUN_NOWAIT);
        clients_drain(c);
    }
    FUZZ_CHECK(0, "%s: no answer within %d loop turns", what, TURNS_MAX);
    return NULL;
}

static bool want_ack(const envelope_t *env, const void *arg)
{
    return env->body_case == CCROUTE__V1__ENVELOPE__BODY_ACK &&
           env->request_id == *(const uint64_t *)arg;
}

static bool want_reply(const envelope_t *env, const void *arg)
{
    return (env->body_case == CCROUTE__V1__ENVELOPE__BODY_ACK ||
            env->body_case == CCROUTE__V1__ENVELOPE__BODY_ERROR) &&
           env->request_id == *(const uint64_t *)arg;
}

static void expect_ack(struct client *c, uint64_t id, const char *what)
{
    envelope_t *env = client_wait(c, id, want_ack, &id, what);
    ccroute__v1__envelope__free_unpacked(env, NULL);
}

static void connect_client(int i)
{
    struct client *c = &H.cl[i];
    uint64_t accepted = H.srv.conns.stats.accepted;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    FUZZ_CHECK(fd >= 0, "socket: %s", strerror(errno));
    FUZZ_CHECK(connect(fd, (struct sockaddr *)&H.addr, H.addrlen) == 0,
               "connect: %s", strerror(errno));
    c->fd = fd;
    c->rlen = 0;
    c->connects++;
    c->aligned = true;
    c->reset = false;
    c->sent_hello = false;
    c->want = WANT_NONE;
    for (int t = 0; t < TURNS_MAX &&
                    H.srv.conns.stats.accepted == accepted; t++)
        uv_run(&H.loop, UV_RUN_NOWAIT);
    FUZZ_CHECK(H.srv.conns.stats.accepted > accepted,
               "the engine did not accept client %d", i);
}

static void say_hello(struct client *c, const char *name, const char *token,
                      Ccroute__V1__Role role, bool reattach, uint64_t id)
{
    envelope_t env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Hello m = CCROUTE__V1__HELLO__INIT;
    char what[96];

    m.client_name = (char *)name;
    m.role = role;
    m.protocol_version = CCROUTE__V1__PROTOCOL_VERSION__PROTOCOL_VERSION_1;
    m.reattach = reattach;
    m.credential = H.mode == MODE_AUTH ? (char *)token : "";
    env.request_id = id;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_HELLO;
    env.hello = &m;
    client_send(c, &env);
    snprintf(what, sizeof(what), "Hello of %s", name);
    expect_ack(c, id, what);
}

/* A script client's connection, made on its first record (and after a
 * close), with its automatic Hello when the flags ask for one. */
static struct client *script_client(int i)
{
    struct client *c = &H.cl[i];
    if (c->fd >= 0)
        return c;
    connect_client(i);
    if (H.flags & SESS_HELLO(i))
        say_hello(c, hellos[i].name, hellos[i].token, hellos[i].role,
                  c->connects > 1, 1);
    return c;
}

/* The router of the engine's one tenant (a router is replaced when its
 * store resets, so it is read where it is used). */
static struct router *rt(void)
{
    return H.srv.tenants.t[0]->router;
}

static void check_router(const char *when)
{
    char buf[512];
    int rc = router_check(rt(), buf, sizeof(buf));
    FUZZ_CHECK(rc == 0, "router_check() %s: %d: %s", when, rc, buf);
}

/* ---- the well-behaved clients after the script ---- */

struct want_offer_arg {
    const char *contact, *agent;
};

static bool want_offer(const envelope_t *env, const void *arg)
{
    const struct want_offer_arg *a = arg;
    return env->body_case == CCROUTE__V1__ENVELOPE__BODY_OFFER &&
           !strcmp(env->offer->contact_id, a->contact) &&
           !strcmp(env->offer->agent_id, a->agent);
}

static bool want_assigned(const envelope_t *env, const void *arg)
{
    const struct want_offer_arg *a = arg;
    return env->body_case == CCROUTE__V1__ENVELOPE__BODY_CONTACT_ASSIGNED &&
           !strcmp(env->contact_assigned->contact_id, a->contact) &&
           !strcmp(env->contact_assigned->agent_id, a->agent);
}

static void probe(void)
{
    struct client *desk = &H.cl[PROBE_DESK], *sw = &H.cl[PROBE_SWITCH];
    envelope_t env = CCROUTE__V1__ENVELOPE__INIT;
    struct want_offer_arg wa = { "probe-c-1", "p-1" };
    struct router_contact_info ci;
    uint32_t ch, ah;
    envelope_t *got;

    /* The script's clients go away. */
    for (int i = 0; i < SESS_CLIENTS; i++)
        client_close(&H.cl[i]);
    settle();
    if (H.mode == MODE_OPEN) {
        /* grace 0: what they held goes at once (from the grace timer, on
         * the next turns). */
        for (int t = 0; t < TURNS_MAX &&
                        (router_contact_count(rt()) ||
                         router_agent_count(rt())); t++)
            uv_run(&H.loop, UV_RUN_NOWAIT);
        FUZZ_CHECK(router_contact_count(rt()) == 0 &&
                   router_agent_count(rt()) == 0,
                   "grace 0: every client closed, yet %u contacts and %u "
                   "agents are left", router_contact_count(rt()),
                   router_agent_count(rt()));
    }
    check_router("after the script's clients closed");

    connect_client(PROBE_DESK);
    say_hello(desk, "probe-desk", TOKEN_PROBE, CCROUTE__V1__ROLE__ROLE_AGENT,
              false, 1);
    Ccroute__V1__AgentSkill sk = CCROUTE__V1__AGENT_SKILL__INIT;
    Ccroute__V1__AgentSkill *sks[] = { &sk };
    Ccroute__V1__ChannelCapacity cap = CCROUTE__V1__CHANNEL_CAPACITY__INIT;
    Ccroute__V1__ChannelCapacity *caps[] = { &cap };
    char *queues[] = { "probe" };
    Ccroute__V1__AgentLogin al = CCROUTE__V1__AGENT_LOGIN__INIT;
    sk.skill = "probe";
    sk.level = 10;
    cap.channel = CCROUTE__V1__CHANNEL__CHANNEL_VOICE;
    cap.capacity = 1;
    al.agent_id = "p-1";
    al.n_skills = 1;
    al.skills = sks;
    al.n_capacity = 1;
    al.capacity = caps;
    al.n_queues = 1;
    al.queues = queues;
    env.request_id = 2;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_AGENT_LOGIN;
    env.agent_login = &al;
    client_send(desk, &env);
    uint64_t login_id = 2;
    got = client_wait(desk, 0, want_reply, &login_id, "AgentLogin of p-1");
    if (got->body_case == CCROUTE__V1__ENVELOPE__BODY_ERROR) {
        FUZZ_CHECK(H.mode == MODE_AUTH &&
                   got->error->code == CCROUTE__V1__ERROR_CODE__ERROR_CODE_RESOURCE_EXHAUSTED &&
                   router_agent_count(rt()) >= FUZZ_MAX_AGENTS,
                   "AgentLogin of p-1: Error %d \"%s\" (%u agents)",
                   (int)got->error->code, got->error->message,
                   router_agent_count(rt()));
        ccroute__v1__envelope__free_unpacked(got, NULL);
        return;     /* full of the script's agents, waiting out their grace */
    }
    ccroute__v1__envelope__free_unpacked(got, NULL);

    connect_client(PROBE_SWITCH);
    say_hello(sw, "probe-sw", TOKEN_PROBE, CCROUTE__V1__ROLE__ROLE_SWITCH,
              false, 1);
    Ccroute__V1__ContactArrived ca = CCROUTE__V1__CONTACT_ARRIVED__INIT;
    ca.contact_id = "probe-c-1";
    ca.channel = CCROUTE__V1__CHANNEL__CHANNEL_VOICE;
    ca.queue = "probe";
    env.request_id = 2;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_CONTACT_ARRIVED;
    env.contact_arrived = &ca;
    client_send(sw, &env);
    expect_ack(sw, 2, "ContactArrived probe-c-1");
    check_router("after the probe's contact");

    FUZZ_CHECK(router_contact_find(rt(), "probe-c-1", &ch) == 0,
               "probe-c-1 acked but not in the router");
    FUZZ_CHECK(router_agent_find(rt(), "p-1", &ah) == 0,
               "p-1 acked but not in the router");
    router_contact_info(rt(), ch, &ci);
    if (H.mode == MODE_AUTH &&
        !(ci.state == ROUTER_CONTACT_OFFERED && ci.agent == ah)) {
        /* Another (script) agent took it, or p-1 is busy with a script
         * contact that waited in the queue: legitimate. */
        struct router_agent_info ai;
        router_agent_info(rt(), ah, 0, &ai);
        FUZZ_CHECK(ci.state == ROUTER_CONTACT_OFFERED ||
                   ci.state == ROUTER_CONTACT_ASSIGNED ||
                   ai.busy[ROUTER_CH_VOICE] >= ai.capacity[ROUTER_CH_VOICE],
                   "probe-c-1 is in state %d while p-1 is free", ci.state);
        return;
    }
    FUZZ_CHECK(ci.state == ROUTER_CONTACT_OFFERED && ci.agent == ah,
               "open mode, empty router: probe-c-1 is in state %d, not "
               "offered to p-1", ci.state);

    got = client_wait(desk, 0, want_offer, &wa, "Offer of probe-c-1 to p-1");
    ccroute__v1__envelope__free_unpacked(got, NULL);
    Ccroute__V1__OfferAccepted oa = CCROUTE__V1__OFFER_ACCEPTED__INIT;
    oa.contact_id = "probe-c-1";
    oa.agent_id = "p-1";
    env.request_id = 3;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_OFFER_ACCEPTED;
    env.offer_accepted = &oa;
    client_send(desk, &env);
    expect_ack(desk, 3, "OfferAccepted probe-c-1");
    got = client_wait(sw, 0, want_assigned, &wa,
                      "ContactAssigned of probe-c-1");
    ccroute__v1__envelope__free_unpacked(got, NULL);

    Ccroute__V1__ContactCompleted cc = CCROUTE__V1__CONTACT_COMPLETED__INIT;
    cc.contact_id = "probe-c-1";
    env.request_id = 3;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_CONTACT_COMPLETED;
    env.contact_completed = &cc;
    client_send(sw, &env);
    expect_ack(sw, 3, "ContactCompleted probe-c-1");
    check_router("after the probe");
}

/* ---- one input ---- */

/* A script frame went out whole on a connection that has seen only whole
 * frames: what the engine owes it (proto/README.md: exactly one Ack or
 * Error per request, after its events; a Pong for a Ping; an Error
 * MALFORMED, request id 0, for a frame that does not decode, before the
 * close). Checked by check_answer() once the loop has settled. */
static void expect_answer(struct client *c, const uint8_t *payload, size_t n)
{
    envelope_t *env = ccroute__v1__envelope__unpack(NULL, n, payload);
    c->want = WANT_REPLY;
    c->want_id = 0;
    c->answers = 0;
    c->want_malformed = !env;
    if (!env)
        return;
    c->want_id = env->request_id;
    switch (env->body_case) {
    case CCROUTE__V1__ENVELOPE__BODY_HELLO:
        /* A refused credential is answered after auth.failure_delay. */
        c->sent_hello = true;
        c->want = WANT_NONE;
        break;
    case CCROUTE__V1__ENVELOPE__BODY_PING:
        c->want = WANT_PONG;
        break;
    case CCROUTE__V1__ENVELOPE__BODY_PONG:
        c->want = WANT_NONE;
        break;
    default:
        break;
    }
    ccroute__v1__envelope__free_unpacked(env, NULL);
}

static void check_answer(struct client *c)
{
    /* The MALFORMED Error comes before the close, never a reset that
     * would discard it (conn.h, "Closing after an Error"). */
    if (c->want && c->want_malformed) {
        FUZZ_CHECK(c->answers >= 1 && !c->reset, "an undecodable frame: "
                   "no Error before the close (%s)", c->reset ? "reset" :
                   c->fd >= 0 ? "still open" : "EOF");
        c->want = WANT_NONE;
        return;
    }
    /* Closed meanwhile (by the engine after an Error, or replaced by a
     * new connection with its name): nothing more is owed. */
    if (c->want && c->fd >= 0) {
        FUZZ_CHECK(c->answers >= 1, "request %llu: no %s", (unsigned long
                   long)c->want_id, c->want == WANT_PONG ? "Pong or Error"
                                                         : "Ack or Error");
        FUZZ_CHECK(c->answers == 1 || c->sent_hello,
                   "request %llu: %u answers", (unsigned long long)c->want_id,
                   c->answers);
    }
    c->want = WANT_NONE;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 1;

    if (size < 1)
        return 0;
    if (!H.ready)
        init_once();
    H.flags = data[0];
    H.mode = (H.flags & SESS_AUTH) ? MODE_AUTH : MODE_OPEN;
    for (int i = 0; i < NCLIENTS; i++)
        H.cl[i].fd = -1;
    engine_start();

    while (off < size) {
        uint8_t h = data[off++];
        struct client *c;
        size_t n;

        switch ((h >> 2) & 3) {
        case SESS_OP_WRITE:
        case SESS_OP_FRAME:
            n = off + 2 <= size ? get16(data + off) : 0;
            off = off + 2 <= size ? off + 2 : size;
            if (n > size - off)
                n = size - off;
            c = script_client(h & 3);
            if (((h >> 2) & 3) == SESS_OP_FRAME) {
                if (c->aligned)
                    expect_answer(c, data + off, n);
                c->aligned = client_send_frame(c, data + off, n) &&
                             c->aligned;
                if (!c->aligned)
                    c->want = WANT_NONE;
            } else {
                client_send_raw(c, data + off, n);
                c->aligned = n == 0 && c->aligned;
            }
            off += n;
            settle();
            check_answer(c);
            check_router("after a record");
            continue;
        case SESS_OP_CLOSE:
            client_close(&H.cl[h & 3]);
            break;
        case SESS_OP_SHUT:
            if (H.cl[h & 3].fd >= 0)
                shutdown(H.cl[h & 3].fd, SHUT_WR);
            break;
        }
        settle();
        check_router("after a record");
    }

    probe();
    engine_stop();
    return 0;
}
