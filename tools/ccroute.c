/* ccroute -- the admin command-line tool of a running ccrouted.
 *
 *   ccroute [global options] COMMAND [ARGS] [command options]
 *
 * Design. Every command is one short session of the protocol through the
 * blocking client library (proto/client.h): connect, Hello with the
 * credential (--token-file or CCROUTE_TOKEN), one or a few requests, close.
 * The role of the Hello follows the command -- monitor for what only
 * reads (falling back to admin, so that a supervisor's token reads too),
 * admin for what changes an agent, switch for a test contact -- unless
 * --role names one. The protocol has no request that looks one contact up
 * or tells the engine's lease role and connections; for those the tool
 * reads the engine's HTTP surface (docs/http.md) when --http names it:
 * /api/v1/contacts/<id>, /readyz and a few series of /metrics. The
 * engine's own code is not touched for this: the HTTP surface already
 * answers, and dispatch.c is not the place to grow a second read path.
 *
 * `config check FILE` links the engine's configuration loader
 * (engine/config.c and what it calls) and runs the checks of
 * `ccrouted --check-config` in the same order, so both always agree.
 *
 * Output: human tables on stdout by default, one JSON document (jansson)
 * with --json; errors always go to stderr as one line. Exit status: 0
 * done, 1 an error (unreachable, refused, not supported), 2 bad usage.
 *
 * The client library speaks plain TCP only: against a listener with
 * listen.tls, run ccroute on the engine's host through a loopback
 * listener or a local TLS proxy (docs/cli.md).
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "auth.h"
#include "client.h"
#include "config.h"
#include "router.h"
#include "tls.h"

#define BODY(x) CCROUTE__V1__ENVELOPE__BODY_##x
#define ROLE(x) CCROUTE__V1__ROLE__ROLE_##x
#define EC(x) CCROUTE__V1__ERROR_CODE__ERROR_CODE_##x
#define AST(x) CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_##x

#define EXIT_OK 0
#define EXIT_ERR 1
#define EXIT_USAGE 2

#define MAX_SKILLS 8
#define MAX_ATTRS 32

struct opts {
    char host[256];
    int port;
    char http_host[256];
    int http_port;              /* 0: no --http */
    const char *token_file;
    char token[4097];
    int role;                   /* 0: the command's default */
    const char *client;         /* Hello.client_name; NULL: ccroute-PID */
    int timeout_ms;
    bool json;
    /* send */
    const char *queue, *id, *language, *product;
    const char *skills[MAX_SKILLS];
    size_t nskills;
    const char *attrs[MAX_ATTRS];
    size_t nattrs;
    int channel;
    int priority;
    bool wait_assigned, abandon;
    /* watch */
    long count;                 /* 0: until q or Ctrl-C */
    int interval_ms;
    /* which command-specific options were given, for the usage check */
    unsigned given;
};

enum { G_SEND = 1, G_WATCH = 2 };

static const char *prog = "ccroute";

static void err(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- help ---- */

static const char global_help[] =
"usage: ccroute [options] COMMAND [ARGS]\n"
"Administers a running ccrouted over its protocol (docs/cli.md).\n"
"\n"
"Commands:\n"
"  status                 engine summary (with --http: readiness, lease\n"
"                         role, connections, Redis backlog)\n"
"  queues [QUEUE...]      per-queue statistics\n"
"  agents                 every logged-in agent\n"
"  contact show ID        one live contact (needs --http)\n"
"  agent set ID away REASON | agent set ID available\n"
"  agent logout ID        log an agent out\n"
"  send --queue Q         a test contact; prints its ContactQueued\n"
"  watch                  live view of the queues (q or Ctrl-C to stop)\n"
"  config check FILE      the checks of ccrouted --check-config\n"
"  drain                  refuse new contacts, finish those held (before a\n"
"                         rolling restart's SIGTERM)\n"
"  config reload          the engine reads its file again and applies what\n"
"                         a reload may change (as SIGHUP)\n"
"\n"
"Options (anywhere on the line):\n"
"  -e, --engine HOST:PORT  the engine's protocol listener (127.0.0.1:7400)\n"
"      --http HOST:PORT    the engine's HTTP listener (docs/http.md)\n"
"  -T, --token-file FILE   the credential: first line of FILE (default: the\n"
"                          environment variable CCROUTE_TOKEN, else none)\n"
"      --role ROLE         Hello role: monitor, admin, switch, gateway\n"
"                          (default: the command's, see docs/cli.md)\n"
"      --client NAME       Hello client name (default ccroute-PID)\n"
"  -t, --timeout MS        give up after MS milliseconds (default 5000)\n"
"  -j, --json              one JSON document on stdout instead of tables\n"
"  -h, --help              this text; COMMAND --help for a command's\n"
"\n"
"Exit status: 0 done, 1 error (unreachable, refused, not supported),\n"
"2 bad usage.\n";

struct command;
typedef int (*command_fn)(struct opts *o, int argc, char **argv);

struct command {
    const char *name;
    const char *sub;        /* second word, or NULL */
    int min_args, max_args; /* after the command's words; -1: any */
    unsigned allowed;       /* command-specific option groups */
    command_fn fn;
    const char *help;
};

/* ---- small helpers ---- */

static int parse_hostport(const char *a, char *host, size_t hostlen,
                          int *port)
{
    const char *colon = strrchr(a, ':');
    size_t hl;
    char *end;
    long p;
    if (!colon)
        return -1;
    hl = (size_t)(colon - a);
    if (hl >= 2 && a[0] == '[' && a[hl - 1] == ']') {
        a++;
        hl -= 2;
    }
    p = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || p <= 0 || p > 65535 || hl == 0 ||
        hl >= hostlen)
        return -1;
    memcpy(host, a, hl);
    host[hl] = '\0';
    *port = (int)p;
    return 0;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* The enum value's name without its prefix, lower case: AGENT_STATUS_AWAY
 * -> "away". Returns a static buffer. */
static const char *enum_word(const ProtobufCEnumDescriptor *d, int v,
                             const char *prefix)
{
    static char buf[64];
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, v);
    const char *n = ev ? ev->name : "unknown";
    size_t i;
    if (!strncmp(n, prefix, strlen(prefix)))
        n += strlen(prefix);
    for (i = 0; n[i] && i + 1 < sizeof(buf); i++)
        buf[i] = (char)(n[i] >= 'A' && n[i] <= 'Z' ? n[i] + 32 : n[i]);
    buf[i] = '\0';
    return buf;
}

static const char *agent_status(int st)
{
    return enum_word(&ccroute__v1__agent_status__descriptor, st,
                     "AGENT_STATUS_");
}

/* The ErrorCode's name as proto/README.md writes it: UNKNOWN_AGENT. */
static const char *error_name(int code)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(
        &ccroute__v1__error_code__descriptor, code);
    const char *n = ev ? ev->name : "UNKNOWN";
    return strncmp(n, "ERROR_CODE_", 11) ? n : n + 11;
}

static int print_json(json_t *j)
{
    int rc = json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    fputc('\n', stdout);
    return rc < 0 ? EXIT_ERR : EXIT_OK;
}

/* ---- the protocol session ---- */

/* Connects and says Hello with the first role of `roles` (n of them) that
 * the engine accepts; a FORBIDDEN answer (the principal lacks that role)
 * moves on to the next. On success *out is the client (caller closes) and
 * EXIT_OK is returned; otherwise the reason is printed and EXIT_ERR. */
static int session_open(const struct opts *o, const int *roles, size_t n,
                        struct ccr_client **out)
{
    char name[64];
    int rc = -EINVAL;
    size_t i;

    if (o->client)
        snprintf(name, sizeof(name), "%s", o->client);
    else
        snprintf(name, sizeof(name), "ccroute-%ld", (long)getpid());
    for (i = 0; i < n; i++) {
        struct ccr_client *c = NULL;
        ccr_envelope *early = NULL;
        if ((rc = ccr_client_connect(o->host, o->port, &c)) < 0) {
            err("cannot connect to %s:%d: %s", o->host, o->port,
                strerror(-rc));
            return EXIT_ERR;
        }
        rc = ccr_client_hello_cred(c, name, (Ccroute__V1__Role)roles[i], 0,
                                   o->token, o->timeout_ms);
        if (rc == 0) {
            *out = c;
            return EXIT_OK;
        }
        /* A full engine answers RESOURCE_EXHAUSTED right after the
         * connect and closes: say what it said. */
        if (rc < 0 && ccr_client_recv(c, 200, &early) == 0 && early &&
            early->body_case == BODY(ERROR)) {
            err("%s:%d refused the connection: %s", o->host, o->port,
                early->error->message);
            ccr_free(early);
            ccr_client_close(c);
            return EXIT_ERR;
        }
        if (early)
            ccr_free(early);
        ccr_client_close(c);
        if (rc == EC(FORBIDDEN) && i + 1 < n)
            continue;
        break;
    }
    if (rc < 0)
        err("Hello to %s:%d: %s", o->host, o->port, strerror(-rc));
    else if (rc == EC(UNAUTHENTICATED))
        err("%s:%d refused the credential (--token-file, CCROUTE_TOKEN)",
            o->host, o->port);
    else if (rc == EC(FORBIDDEN))
        err("%s:%d: this principal may not connect as %s with client name "
            "%s (its roles and clients; --role, --client)", o->host,
            o->port, enum_word(&ccroute__v1__role__descriptor, roles[n - 1],
                               "ROLE_"), name);
    else
        err("Hello refused by %s:%d: %s", o->host, o->port, error_name(rc));
    return EXIT_ERR;
}

static int open_reader(const struct opts *o, struct ccr_client **c)
{
    static const int def[] = { ROLE(MONITOR), ROLE(ADMIN) };
    int one = o->role;
    return o->role ? session_open(o, &one, 1, c) : session_open(o, def, 2, c);
}

/* The Stats reply caught among the events of a StatsRequest call. */
static void on_stats(void *arg, ccr_envelope *ev)
{
    ccr_envelope **st = arg;
    if (ev->body_case == BODY(STATS) && !*st) {
        *st = ev;
        return;
    }
    ccr_free(ev);
}

/* One request; EXIT_OK on Ack (events to on_event), else prints `what`
 * and the engine's answer and returns EXIT_ERR. */
static int call(struct ccr_client *c, const struct opts *o, ccr_envelope *env,
                const char *what,
                void (*on_event)(void *arg, ccr_envelope *ev), void *arg)
{
    ccr_envelope *reply = NULL;
    int rc = ccr_client_call(c, env, o->timeout_ms, on_event, arg, &reply);
    if (rc < 0) {
        err("%s: %s", what, rc == -ETIMEDOUT ? "no answer in time"
                                             : strerror(-rc));
        return EXIT_ERR;
    }
    if (reply->body_case == BODY(ERROR)) {
        err("%s refused: %s: %s", what, error_name(reply->error->code),
            reply->error->message);
        ccr_free(reply);
        return EXIT_ERR;
    }
    ccr_free(reply);
    return EXIT_OK;
}

/* StatsRequest on an open session. Returns EXIT_OK with the Stats
 * envelope in *out (caller frees) or EXIT_ERR. */
static int stats_get(struct ccr_client *c, const struct opts *o,
                     char **queues, size_t nqueues, bool agents,
                     ccr_envelope **out)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT, *st = NULL;
    Ccroute__V1__StatsRequest req = CCROUTE__V1__STATS_REQUEST__INIT;
    req.queues = queues;
    req.n_queues = nqueues;
    req.all_agents = agents;
    env.body_case = BODY(STATS_REQUEST);
    env.stats_request = &req;
    if (call(c, o, &env, "StatsRequest", on_stats, &st) != EXIT_OK) {
        if (st)
            ccr_free(st);
        return EXIT_ERR;
    }
    if (!st) {
        err("StatsRequest: Ack without Stats");
        return EXIT_ERR;
    }
    *out = st;
    return EXIT_OK;
}

/* Opens a reader session, asks for Stats, closes. */
static int stats_once(const struct opts *o, char **queues, size_t nqueues,
                      bool agents, ccr_envelope **out)
{
    struct ccr_client *c = NULL;
    int rc = open_reader(o, &c);
    if (rc != EXIT_OK)
        return rc;
    rc = stats_get(c, o, queues, nqueues, agents, out);
    ccr_client_close(c);
    return rc;
}

/* ---- the HTTP surface (status, contact show) ---- */

struct http_resp {
    int status;
    char *body;             /* NUL-terminated, malloc'd */
};

/* GET `path` from --http with the token as a Bearer credential (when
 * there is one). HTTP/1.0 and a close after the answer, so the body is
 * everything after the head. Returns 0 (r filled; caller frees r->body)
 * or a negative errno. */
static int http_get(const struct opts *o, const char *path,
                    struct http_resp *r)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL, *a;
    char portstr[16], req[6000];
    size_t len = 0, cap = 65536;
    char *buf = NULL, *sep;
    int fd = -1, rc, n;
    long long deadline;
    struct timespec ts;

    snprintf(portstr, sizeof(portstr), "%d", o->http_port);
    if (getaddrinfo(o->http_host, portstr, &hints, &ai) != 0)
        return -EHOSTUNREACH;
    rc = -ECONNREFUSED;
    for (a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC,
                    a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        rc = -errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0)
        return rc;
    n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s:%d\r\n"
                 "%s%s%s\r\n", path, o->http_host, o->http_port,
                 o->token[0] ? "Authorization: Bearer " : "", o->token,
                 o->token[0] ? "\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof(req) ||
        send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return -EIO;
    }
    clock_gettime(CLOCK_MONOTONIC, &ts);
    deadline = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000 + o->timeout_ms;
    buf = malloc(cap);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        long long now;
        ssize_t got;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        now = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
        if (now >= deadline || poll(&p, 1, (int)(deadline - now)) == 0) {
            rc = -ETIMEDOUT;
            goto fail;
        }
        if (len + 1 == cap) {
            char *nb = cap >= (64u << 20) ? NULL : realloc(buf, cap * 2);
            if (!nb) {
                rc = -EFBIG;
                goto fail;
            }
            buf = nb;
            cap *= 2;
        }
        got = recv(fd, buf + len, cap - 1 - len, 0);
        if (got == 0)
            break;
        if (got < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            goto fail;
        }
        len += (size_t)got;
    }
    close(fd);
    buf[len] = '\0';
    sep = strstr(buf, "\r\n\r\n");
    if (!sep || sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1) {
        free(buf);
        return -EPROTO;
    }
    r->body = strdup(sep + 4);
    free(buf);
    return r->body ? 0 : -ENOMEM;
fail:
    close(fd);
    free(buf);
    return rc;
}

static const char *http_refusal(int status)
{
    return status == 401 ? "401: token missing or refused (--token-file, "
                           "CCROUTE_TOKEN)"
         : status == 403 ? "403: this principal has neither the monitor "
                           "nor the admin role"
         : NULL;
}

/* The value of series `series` (the whole "name{labels}") in a /metrics
 * text; false when absent. */
static bool metric_value(const char *text, const char *series, double *v)
{
    size_t n = strlen(series);
    const char *p = text;
    while (p && *p) {
        if (!strncmp(p, series, n) && p[n] == ' ') {
            *v = strtod(p + n + 1, NULL);
            return true;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return false;
}

/* ---- status ---- */

static const char *const conn_roles[] = {
    "switch", "gateway", "agent", "dialer", "monitor", "admin", "none",
};
static const char *const lease_roles[] = {
    "none", "standby", "owner", "suspended",
};

static int cmd_status(struct opts *o, int argc, char **argv)
{
    ccr_envelope *env = NULL;
    const Ccroute__V1__Stats *st;
    struct http_resp ready = { 0, NULL }, met = { 0, NULL };
    json_t *j = NULL, *jc = NULL;
    int rc = stats_once(o, NULL, 0, false, &env);
    const char *lease = NULL;
    double v, pending = -1, token = -1;

    if (rc != EXIT_OK)
        return rc;
    st = env->stats;
    if (o->http_port) {
        int hr = http_get(o, "/readyz", &ready);
        if (hr == 0 && http_refusal(ready.status)) {
            err("--http %s:%d: %s", o->http_host, o->http_port,
                http_refusal(ready.status));
            rc = EXIT_ERR;
            goto out;
        }
        if (hr == 0)
            hr = http_get(o, "/metrics", &met);
        if (hr < 0 || met.status != 200) {
            err("--http %s:%d: %s", o->http_host, o->http_port,
                hr < 0 ? strerror(-hr) : "/metrics did not answer 200");
            rc = EXIT_ERR;
            goto out;
        }
        for (size_t i = 0; i < sizeof(lease_roles) / sizeof(*lease_roles);
             i++) {
            char s[64];
            snprintf(s, sizeof(s), "ccroute_lease_role{role=\"%s\"}",
                     lease_roles[i]);
            if (metric_value(met.body, s, &v) && v == 1)
                lease = lease_roles[i];
        }
        metric_value(met.body, "ccroute_redis_pending_writes", &pending);
        metric_value(met.body, "ccroute_lease_token", &token);
        /* the reason after "not ready: ", without its newline */
        ready.body[strcspn(ready.body, "\r\n")] = '\0';
    }
    if (o->json) {
        char e[300];
        snprintf(e, sizeof(e), "%s:%d", o->host, o->port);
        j = json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I}",
                      "engine", e, "draining", (int)st->draining,
                      "queues", (json_int_t)st->n_queues,
                      "contacts_waiting", (json_int_t)st->contacts_waiting,
                      "agents_logged_in", (json_int_t)st->agents_logged_in,
                      "clients_in_grace", (json_int_t)st->clients_in_grace,
                      "auth_failures", (json_int_t)st->auth_failures,
                      "quota_refusals", (json_int_t)st->quota_refusals);
        if (o->http_port) {
            json_object_set_new(j, "ready", json_boolean(ready.status == 200));
            json_object_set_new(j, "readyz", json_string(ready.body));
            json_object_set_new(j, "lease_role",
                                lease ? json_string(lease) : json_null());
            json_object_set_new(j, "lease_token", token >= 0 ?
                                json_integer((json_int_t)token) : json_null());
            json_object_set_new(j, "redis_pending_writes", pending >= 0 ?
                                json_integer((json_int_t)pending)
                                : json_null());
            jc = json_object();
            for (size_t i = 0; i < sizeof(conn_roles) / sizeof(*conn_roles);
                 i++) {
                char s[64];
                snprintf(s, sizeof(s), "ccroute_connections{role=\"%s\"}",
                         conn_roles[i]);
                if (metric_value(met.body, s, &v))
                    json_object_set_new(jc, conn_roles[i],
                                        json_integer((json_int_t)v));
            }
            json_object_set_new(j, "connections", jc);
        }
        rc = print_json(j);
        goto out;
    }
    printf("engine            %s:%d\n", o->host, o->port);
    printf("draining          %s\n", st->draining ? "yes (new contacts are "
           "refused)" : "no");
    printf("queues            %zu\n", st->n_queues);
    printf("contacts waiting  %u\n", st->contacts_waiting);
    printf("agents logged in  %u\n", st->agents_logged_in);
    printf("clients in grace  %u\n", st->clients_in_grace);
    printf("auth failures     %llu\n",
           (unsigned long long)st->auth_failures);
    printf("quota refusals    %llu\n",
           (unsigned long long)st->quota_refusals);
    if (o->http_port) {
        printf("ready             %s\n", ready.status == 200 ? "yes"
                                                             : ready.body);
        printf("lease role        %s (token %.0f)\n", lease ? lease : "?",
               token);
        printf("redis pending     %.0f writes\n", pending);
        bool any = false;
        printf("connections      ");
        for (size_t i = 0; i < sizeof(conn_roles) / sizeof(*conn_roles);
             i++) {
            char s[64];
            snprintf(s, sizeof(s), "ccroute_connections{role=\"%s\"}",
                     conn_roles[i]);
            if (metric_value(met.body, s, &v) && v > 0) {
                printf(" %s=%.0f", conn_roles[i], v);
                any = true;
            }
        }
        printf("%s\n", any ? "" : " none");
    }
out:
    free(ready.body);
    free(met.body);
    ccr_free(env);
    return rc;
}

/* ---- queues, agents ---- */

static json_t *queues_json(const Ccroute__V1__Stats *st)
{
    json_t *a = json_array();
    for (size_t i = 0; i < st->n_queues; i++) {
        const Ccroute__V1__QueueStats *q = st->queues[i];
        json_array_append_new(a, json_pack(
            "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I, s:I, s:I}",
            "name", q->queue, "waiting", (json_int_t)q->waiting,
            "unservable", (json_int_t)q->contacts_unservable,
            "longest_wait_ms", (json_int_t)q->longest_wait_ms,
            "offered", (json_int_t)q->offered,
            "answered", (json_int_t)q->answered,
            "abandoned", (json_int_t)q->abandoned,
            "service_level", q->service_level,
            "avg_speed_of_answer_ms", (json_int_t)q->avg_speed_of_answer_ms,
            "avg_handle_time_ms", (json_int_t)q->avg_handle_time_ms,
            "agents_available", (json_int_t)q->agents_available));
    }
    return a;
}

static void queues_table(const Ccroute__V1__Stats *st)
{
    printf("%-20s %7s %10s %8s %8s %8s %8s %7s %8s %8s %6s\n", "QUEUE",
           "WAITING", "UNSERVABLE", "LONGEST", "OFFERED", "ANSWERED",
           "ABANDON", "SL", "ASA", "AHT", "AVAIL");
    for (size_t i = 0; i < st->n_queues; i++) {
        const Ccroute__V1__QueueStats *q = st->queues[i];
        printf("%-20s %7u %10u %7.1fs %8llu %8llu %8llu %6.1f%% %7.1fs "
               "%7.1fs %6u\n",
               q->queue, q->waiting, q->contacts_unservable,
               q->longest_wait_ms / 1000.0, (unsigned long long)q->offered,
               (unsigned long long)q->answered,
               (unsigned long long)q->abandoned, q->service_level * 100.0,
               q->avg_speed_of_answer_ms / 1000.0,
               q->avg_handle_time_ms / 1000.0, q->agents_available);
    }
}

static int cmd_queues(struct opts *o, int argc, char **argv)
{
    ccr_envelope *env = NULL;
    int rc = stats_once(o, argv, (size_t)argc, false, &env);
    if (rc != EXIT_OK)
        return rc;
    if (o->json) {
        rc = print_json(json_pack("{s:I, s:I, s:o}", "contacts_waiting",
                                  (json_int_t)env->stats->contacts_waiting,
                                  "agents_logged_in",
                                  (json_int_t)env->stats->agents_logged_in,
                                  "queues", queues_json(env->stats)));
    } else {
        queues_table(env->stats);
    }
    ccr_free(env);
    return rc;
}

static int cmd_agents(struct opts *o, int argc, char **argv)
{
    ccr_envelope *env = NULL;
    const Ccroute__V1__Stats *st;
    int rc = stats_once(o, NULL, 0, true, &env);
    if (rc != EXIT_OK)
        return rc;
    st = env->stats;
    if (o->json) {
        json_t *a = json_array();
        for (size_t i = 0; i < st->n_agents; i++) {
            const Ccroute__V1__AgentStats *ag = st->agents[i];
            json_array_append_new(a, json_pack(
                "{s:s, s:s, s:s, s:I, s:f, s:I, s:b}", "id", ag->agent_id,
                "status", agent_status(ag->status), "reason", ag->reason,
                "time_in_state_ms", (json_int_t)ag->time_in_state_ms,
                "occupancy", ag->occupancy,
                "active_contacts", (json_int_t)ag->active_contacts,
                "in_wrapup", (int)ag->in_wrapup));
        }
        rc = print_json(json_pack("{s:o}", "agents", a));
    } else {
        printf("%-24s %-12s %-16s %9s %9s %6s %s\n", "AGENT", "STATUS",
               "REASON", "IN STATE", "OCCUPANCY", "ACTIVE", "WRAP-UP");
        for (size_t i = 0; i < st->n_agents; i++) {
            const Ccroute__V1__AgentStats *ag = st->agents[i];
            printf("%-24s %-12s %-16s %8.1fs %8.1f%% %6u %s\n",
                   ag->agent_id, agent_status(ag->status),
                   ag->reason[0] ? ag->reason : "-",
                   ag->time_in_state_ms / 1000.0, ag->occupancy * 100.0,
                   ag->active_contacts, ag->in_wrapup ? "yes" : "no");
        }
    }
    ccr_free(env);
    return rc;
}

/* ---- contact show ---- */

static int cmd_contact_show(struct opts *o, int argc, char **argv)
{
    char path[1024];
    size_t n = (size_t)snprintf(path, sizeof(path), "/api/v1/contacts/");
    struct http_resp r = { 0, NULL };
    json_t *j;
    json_error_t je;
    int hr;

    if (!o->http_port) {
        err("contact show needs --http HOST:PORT: the protocol has no "
            "request that looks one contact up; the engine's HTTP surface "
            "does (docs/http.md)");
        return EXIT_USAGE;
    }
    /* Percent-encode everything but the unreserved characters. */
    for (const unsigned char *p = (const unsigned char *)argv[0]; *p; p++) {
        if (n + 4 >= sizeof(path)) {
            err("contact id too long");
            return EXIT_USAGE;
        }
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            (*p >= '0' && *p <= '9') || strchr("-._~", *p))
            path[n++] = (char)*p;
        else
            n += (size_t)snprintf(path + n, 4, "%%%02X", *p);
    }
    path[n] = '\0';
    if ((hr = http_get(o, path, &r)) < 0) {
        err("--http %s:%d: %s", o->http_host, o->http_port, strerror(-hr));
        return EXIT_ERR;
    }
    if (r.status == 404) {
        err("no live contact with id %s", argv[0]);
        free(r.body);
        return EXIT_ERR;
    }
    if (r.status != 200) {
        err("--http %s:%d: %s", o->http_host, o->http_port,
            http_refusal(r.status) ? http_refusal(r.status)
                                   : "unexpected answer");
        free(r.body);
        return EXIT_ERR;
    }
    j = json_loads(r.body, 0, &je);
    free(r.body);
    if (!json_is_object(j)) {
        err("--http: the contact is not a JSON object: %s", je.text);
        json_decref(j);
        return EXIT_ERR;
    }
    if (o->json)
        return print_json(j);
    {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) {
            char *s = json_is_string(v) ? NULL
                                        : json_dumps(v, JSON_ENCODE_ANY);
            printf("%-12s %s\n", k, s ? s : json_string_value(v));
            free(s);
        }
    }
    json_decref(j);
    return EXIT_OK;
}

/* ---- agent set, agent logout ---- */

static int open_admin(const struct opts *o, struct ccr_client **c)
{
    int r = o->role ? o->role : ROLE(ADMIN);
    return session_open(o, &r, 1, c);
}

static int done_json(const struct opts *o, const char *what, const char *id)
{
    if (o->json)
        return print_json(json_pack("{s:b, s:s, s:s}", "ok", 1, "request",
                                    what, "agent", id));
    printf("%s %s: ok\n", what, id);
    return EXIT_OK;
}

static int cmd_agent_set(struct opts *o, int argc, char **argv)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__AgentState req = CCROUTE__V1__AGENT_STATE__INIT;
    struct ccr_client *c = NULL;
    int rc;

    if (!strcmp(argv[1], "away")) {
        if (argc != 3) {
            err("agent set ID away REASON: give one reason code");
            return EXIT_USAGE;
        }
        req.status = AST(AWAY);
        req.reason = argv[2];
    } else if (!strcmp(argv[1], "available")) {
        if (argc != 2) {
            err("agent set ID available takes no reason");
            return EXIT_USAGE;
        }
        req.status = AST(AVAILABLE);
    } else {
        err("agent set: state \"%s\": expected away or available", argv[1]);
        return EXIT_USAGE;
    }
    req.agent_id = argv[0];
    env.body_case = BODY(AGENT_STATE);
    env.agent_state = &req;
    if ((rc = open_admin(o, &c)) != EXIT_OK)
        return rc;
    rc = call(c, o, &env, "AgentState", NULL, NULL);
    ccr_client_close(c);
    return rc == EXIT_OK ? done_json(o, "AgentState", argv[0]) : rc;
}

static int cmd_agent_logout(struct opts *o, int argc, char **argv)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__AgentLogout req = CCROUTE__V1__AGENT_LOGOUT__INIT;
    struct ccr_client *c = NULL;
    int rc;

    req.agent_id = argv[0];
    env.body_case = BODY(AGENT_LOGOUT);
    env.agent_logout = &req;
    if ((rc = open_admin(o, &c)) != EXIT_OK)
        return rc;
    rc = call(c, o, &env, "AgentLogout", NULL, NULL);
    ccr_client_close(c);
    return rc == EXIT_OK ? done_json(o, "AgentLogout", argv[0]) : rc;
}

/* ---- send ---- */

struct send_state {
    const char *id;
    ccr_envelope *queued;       /* the ContactQueued of our contact */
    ccr_envelope *assigned;     /* its ContactAssigned */
};

static void on_send_event(void *arg, ccr_envelope *ev)
{
    struct send_state *s = arg;
    if (ev->body_case == BODY(CONTACT_QUEUED) && !s->queued &&
        !strcmp(ev->contact_queued->contact_id, s->id)) {
        s->queued = ev;
        return;
    }
    if (ev->body_case == BODY(CONTACT_ASSIGNED) && !s->assigned &&
        !strcmp(ev->contact_assigned->contact_id, s->id)) {
        s->assigned = ev;
        return;
    }
    ccr_free(ev);
}

static int cmd_send(struct opts *o, int argc, char **argv)
{
    static const int def[] = { ROLE(SWITCH), ROLE(GATEWAY) };
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactArrived req = CCROUTE__V1__CONTACT_ARRIVED__INIT;
    Ccroute__V1__SkillRequirement sk[MAX_SKILLS], *skp[MAX_SKILLS];
    Ccroute__V1__Attribute at[MAX_ATTRS], *atp[MAX_ATTRS];
    char keys[MAX_ATTRS][128];
    char skname[MAX_SKILLS][128];
    char idbuf[64];
    struct send_state s = { NULL, NULL, NULL };
    struct ccr_client *c = NULL;
    int rc, one = o->role;

    if (!o->queue && !o->nskills) {
        err("send: give --queue QUEUE or --skill SKILL[:LEVEL]");
        return EXIT_USAGE;
    }
    if (o->queue && o->nskills) {
        err("send: --queue and --skill exclude each other");
        return EXIT_USAGE;
    }
    for (size_t i = 0; i < o->nskills; i++) {
        /* "lang:en" is a skill name with a colon: a level is a number
         * after the last colon. */
        const char *colon = strrchr(o->skills[i], ':');
        long lvl = 1;
        size_t nl;
        if (colon && parse_long(colon + 1, 1, 10, &lvl) == 0)
            nl = (size_t)(colon - o->skills[i]);
        else
            nl = strlen(o->skills[i]), lvl = 1;
        if (nl == 0 || nl >= sizeof(skname[i])) {
            err("send: --skill %s: bad skill name", o->skills[i]);
            return EXIT_USAGE;
        }
        memcpy(skname[i], o->skills[i], nl);
        skname[i][nl] = '\0';
        ccroute__v1__skill_requirement__init(&sk[i]);
        sk[i].skill = skname[i];
        sk[i].min_level = (uint32_t)lvl;
        skp[i] = &sk[i];
    }
    for (size_t i = 0; i < o->nattrs; i++) {
        const char *eq = strchr(o->attrs[i], '=');
        size_t kl = eq ? (size_t)(eq - o->attrs[i]) : 0;
        if (!eq || kl == 0 || kl >= sizeof(keys[i])) {
            err("send: --attr %s: expected KEY=VALUE", o->attrs[i]);
            return EXIT_USAGE;
        }
        memcpy(keys[i], o->attrs[i], kl);
        keys[i][kl] = '\0';
        ccroute__v1__attribute__init(&at[i]);
        at[i].key = keys[i];
        at[i].value = (char *)eq + 1;
        atp[i] = &at[i];
    }
    if (o->id) {
        s.id = o->id;
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(idbuf, sizeof(idbuf), "ccroute-test-%ld-%lld",
                 (long)getpid(), (long long)ts.tv_sec * 1000 +
                 ts.tv_nsec / 1000000);
        s.id = idbuf;
    }
    req.contact_id = (char *)s.id;
    req.channel = (Ccroute__V1__Channel)o->channel;
    req.queue = (char *)(o->queue ? o->queue : "");
    req.n_skills = o->nskills;
    req.skills = skp;
    req.language = (char *)(o->language ? o->language : "");
    req.product = (char *)(o->product ? o->product : "");
    req.priority = (uint32_t)o->priority;
    req.n_attributes = o->nattrs;
    req.attributes = atp;
    env.body_case = BODY(CONTACT_ARRIVED);
    env.contact_arrived = &req;

    rc = o->role ? session_open(o, &one, 1, &c) : session_open(o, def, 2, &c);
    if (rc != EXIT_OK)
        return rc;
    rc = call(c, o, &env, "ContactArrived", on_send_event, &s);
    if (rc == EXIT_OK && !s.queued) {
        err("ContactArrived: Ack without ContactQueued");
        rc = EXIT_ERR;
    }
    /* --wait-assigned: the contact's ContactAssigned, within --timeout. */
    if (rc == EXIT_OK && o->wait_assigned && !s.assigned) {
        struct timespec ts;
        long long end, now;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        end = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000 + o->timeout_ms;
        while (!s.assigned) {
            ccr_envelope *ev = NULL;
            int r;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            now = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
            if (now >= end ||
                (r = ccr_client_recv(c, (int)(end - now), &ev)) < 0) {
                err("contact %s: not assigned within %d ms", s.id,
                    o->timeout_ms);
                rc = EXIT_ERR;
                break;
            }
            on_send_event(&s, ev);
        }
    }
    if (rc == EXIT_OK) {
        const Ccroute__V1__ContactQueued *q = s.queued->contact_queued;
        const char *status = enum_word(
            &ccroute__v1__contact_status__descriptor, q->status,
            "CONTACT_STATUS_");
        if (o->json) {
            json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:b}",
                "contact_id", q->contact_id, "queue", q->queue,
                "status", status, "position", (json_int_t)q->position,
                "estimated_wait_ms", (json_int_t)q->estimated_wait_ms,
                "unservable", (int)q->unservable);
            if (s.assigned)
                json_object_set_new(j, "agent", json_string(
                    s.assigned->contact_assigned->agent_id));
            print_json(j);
        } else {
            printf("contact %s queued in %s: status %s, position %u, "
                   "estimated wait %.1fs%s\n", q->contact_id, q->queue,
                   status, q->position, q->estimated_wait_ms / 1000.0,
                   q->unservable ? ", UNSERVABLE (no logged-in agent could "
                                   "serve it)" : "");
            if (s.assigned)
                printf("contact %s assigned to agent %s\n", s.id,
                       s.assigned->contact_assigned->agent_id);
        }
    }
    if (o->abandon && s.queued) {
        ccr_envelope ab = CCROUTE__V1__ENVELOPE__INIT;
        Ccroute__V1__ContactAbandoned a = CCROUTE__V1__CONTACT_ABANDONED__INIT;
        a.contact_id = (char *)s.id;
        ab.body_case = BODY(CONTACT_ABANDONED);
        ab.contact_abandoned = &a;
        if (call(c, o, &ab, "ContactAbandoned", NULL, NULL) != EXIT_OK)
            rc = EXIT_ERR;
    }
    if (s.queued)
        ccr_free(s.queued);
    if (s.assigned)
        ccr_free(s.assigned);
    ccr_client_close(c);
    return rc;
}

/* ---- watch ---- */

static volatile sig_atomic_t watch_stop;

static void on_signal(int sig)
{
    watch_stop = 1;
}

static int cmd_watch(struct opts *o, int argc, char **argv)
{
    struct ccr_client *c = NULL;
    struct termios saved, raw;
    bool tty_in = isatty(STDIN_FILENO), tty_out = isatty(STDOUT_FILENO);
    bool restore = false, stdin_open = true;
    struct sigaction sa;
    long n = 0;
    int rc;

    if ((rc = open_reader(o, &c)) != EXIT_OK)
        return rc;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* Single keys without Enter; echo off so q does not show. */
    if (tty_in && tcgetattr(STDIN_FILENO, &saved) == 0) {
        raw = saved;
        raw.c_lflag &= (tcflag_t)~(ICANON | ECHO);
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        restore = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
    while (!watch_stop) {
        ccr_envelope *env = NULL;
        struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
        time_t now = time(NULL);
        char when[32];

        rc = stats_get(c, o, argv, (size_t)argc, false, &env);
        if (rc != EXIT_OK)
            break;
        strftime(when, sizeof(when), "%H:%M:%S", localtime(&now));
        if (o->json) {
            json_t *j = json_pack("{s:s, s:I, s:I, s:o}", "time", when,
                "contacts_waiting", (json_int_t)env->stats->contacts_waiting,
                "agents_logged_in", (json_int_t)env->stats->agents_logged_in,
                "queues", queues_json(env->stats));
            /* One compact line per refresh, for a pipe. */
            json_dumpf(j, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
            json_decref(j);
            fputc('\n', stdout);
        } else {
            if (tty_out)
                fputs("\033[H\033[2J", stdout);
            printf("ccroute watch %s:%d  %s  waiting %u  agents %u%s\n\n",
                   o->host, o->port, when, env->stats->contacts_waiting,
                   env->stats->agents_logged_in,
                   tty_in ? "  (q: quit)" : "");
            queues_table(env->stats);
            if (!tty_out)
                fputc('\n', stdout);
        }
        fflush(stdout);
        ccr_free(env);
        if (o->count && ++n >= o->count)
            break;
        /* The interval is the wait for a key: q ends it early. */
        if (poll(&p, stdin_open ? 1 : 0, o->interval_ms) > 0) {
            char ch;
            ssize_t r = read(STDIN_FILENO, &ch, 1);
            if (r <= 0)
                stdin_open = false;     /* /dev/null, a closed pipe */
            else if (ch == 'q' || ch == 'Q')
                break;
            if (!stdin_open)
                poll(NULL, 0, o->interval_ms);
        }
    }
    if (restore)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    ccr_client_close(c);
    return rc;
}

/* ---- config ---- */

/* The checks of `ccrouted --check-config` (engine/main.c), in its order,
 * through the same library calls. */
static int cmd_config_check(struct opts *o, int argc, char **argv)
{
    const char *path = argv[0];
    const char *rerr = NULL;
    struct config cfg;
    struct router *r;
    char e[1024], where[600];
    int rc = EXIT_ERR;

    config_defaults(&cfg);
    if (config_load(&cfg, path, e, sizeof(e)) < 0)
        goto fail;
    r = router_new(&cfg.router, 1, &rerr);
    if (!r) {
        snprintf(e, sizeof(e), "%s: routing: %s", path,
                 rerr ? rerr : "invalid configuration");
        goto fail;
    }
    router_free(r);
    if (config_check_listen(&cfg, path, e, sizeof(e)) < 0 ||
        config_check_http(&cfg, path, e, sizeof(e)) < 0)
        goto fail;
    if (cfg.listen_line)
        snprintf(where, sizeof(where), "%s:%lu", path, cfg.listen_line);
    else
        snprintf(where, sizeof(where), "%s", path);
    if (auth_check_listen(&cfg.auth, cfg.listen_host, where, e,
                          sizeof(e)) < 0)
        goto fail;
    if (cfg.tls.enabled) {
        struct tls_ctx *t = NULL;
        if (tls_ctx_new(&cfg.tls, &t, e, sizeof(e)) < 0)
            goto fail;
        tls_ctx_free(t);
    }
    config_fini(&cfg);
    if (o->json)
        return print_json(json_pack("{s:s, s:b}", "file", path, "ok", 1));
    printf("OK\n");
    return EXIT_OK;
fail:
    config_fini(&cfg);
    if (o->json) {
        print_json(json_pack("{s:s, s:b, s:s}", "file", path, "ok", 0,
                             "error", e));
        return rc;
    }
    fprintf(stderr, "%s\n", e);
    return rc;
}

/* ---- drain ---- */

static int cmd_drain(struct opts *o, int argc, char **argv)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Drain req = CCROUTE__V1__DRAIN__INIT;
    struct ccr_client *c = NULL;
    int rc;

    env.body_case = BODY(DRAIN);
    env.drain = &req;
    if ((rc = open_admin(o, &c)) != EXIT_OK)
        return rc;
    rc = call(c, o, &env, "Drain", NULL, NULL);
    ccr_client_close(c);
    if (rc != EXIT_OK)
        return rc;
    if (o->json)
        return print_json(json_pack("{s:b, s:s, s:b}", "ok", 1, "request",
                                    "Drain", "draining", 1));
    printf("draining: new contacts are refused; the engine goes on with "
           "those it holds until SIGTERM\n");
    return EXIT_OK;
}

/* ---- config reload ---- */

/* ConfigReload as an admin, then the generation from Stats: the engine
 * answers Ack only once the new configuration applies (or the file
 * changed nothing), and an Error with the reason when nothing applied. */
static int cmd_config_reload(struct opts *o, int argc, char **argv)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT, *st = NULL;
    Ccroute__V1__ConfigReload req = CCROUTE__V1__CONFIG_RELOAD__INIT;
    struct ccr_client *c = NULL;
    int rc;

    env.body_case = BODY(CONFIG_RELOAD);
    env.config_reload = &req;
    if ((rc = open_admin(o, &c)) != EXIT_OK)
        return rc;
    rc = call(c, o, &env, "ConfigReload", NULL, NULL);
    if (rc == EXIT_OK)
        rc = stats_get(c, o, NULL, 0, false, &st);
    ccr_client_close(c);
    if (rc != EXIT_OK)
        return rc;
    if (o->json)
        rc = print_json(json_pack("{s:b, s:s, s:I}", "ok", 1, "request",
                                  "ConfigReload", "generation", (json_int_t)
                                  st->stats->config_generation));
    else
        printf("reloaded: configuration generation %llu\n",
               (unsigned long long)st->stats->config_generation);
    ccr_free(st);
    return rc;
}

/* ---- the command table ---- */

static const struct command commands[] = {
    { "status", NULL, 0, 0, 0, cmd_status,
"usage: ccroute status [--http HOST:PORT]\n"
"The engine's summary from Stats: queues, contacts waiting, agents logged\n"
"in, clients in their grace period, refused credentials and quota\n"
"refusals, and whether it is draining (ccroute drain). With --http also\n"
"readiness (/readyz and its reason), the lease role and token, open\n"
"connections by role and the Redis write-behind depth (/metrics).\n" },
    { "queues", NULL, 0, -1, 0, cmd_queues,
"usage: ccroute queues [QUEUE...]\n"
"Per-queue statistics (all queues, or those named): waiting, unservable,\n"
"longest wait, offered, answered, abandoned, service level, average speed\n"
"of answer and handle time, available agents.\n" },
    { "agents", NULL, 0, 0, 0, cmd_agents,
"usage: ccroute agents\n"
"Every logged-in agent: status, reason, time in state, occupancy, active\n"
"contacts, wrap-up.\n" },
    { "contact", "show", 1, 1, 0, cmd_contact_show,
"usage: ccroute --http HOST:PORT contact show ID\n"
"One live contact: state, channel, queue, priority, value, age, agent.\n"
"The protocol has no contact lookup, so this reads the engine's HTTP\n"
"surface (GET /api/v1/contacts/ID); exit 1 when no live contact has ID.\n" },
    { "agent", "set", 2, 3, 0, cmd_agent_set,
"usage: ccroute agent set ID away REASON\n"
"       ccroute agent set ID available\n"
"Sets an agent's state (AgentState) as an admin principal whose scope\n"
"(agents:) covers ID.\n" },
    { "agent", "logout", 1, 1, 0, cmd_agent_logout,
"usage: ccroute agent logout ID\n"
"Logs an agent out (AgentLogout) as an admin principal whose scope\n"
"covers ID; its offer in flight is revoked.\n" },
    { "send", NULL, 0, 0, G_SEND, cmd_send,
"usage: ccroute send (--queue QUEUE | --skill SKILL[:LEVEL]...) [options]\n"
"Sends one test contact (ContactArrived, as a switch principal) and\n"
"prints its ContactQueued (queue, position, estimated wait, unservable).\n"
"  -q, --queue QUEUE        a configured queue\n"
"  -s, --skill SKILL[:LVL]  a required skill instead (repeatable, at most 8)\n"
"      --id ID              the contact id (default ccroute-test-PID-MS)\n"
"      --channel CH         voice (default), chat, email or social\n"
"      --priority N         0..100\n"
"      --language L, --product P\n"
"      --attr KEY=VALUE     an attribute (repeatable, at most 32)\n"
"      --wait-assigned      also wait (within --timeout) for the contact's\n"
"                           ContactAssigned and print the agent\n"
"      --abandon            end the contact (ContactAbandoned) before\n"
"                           exiting; otherwise it waits in the grace\n"
"                           period of the gone client, then ends\n" },
    { "watch", NULL, 0, -1, G_WATCH, cmd_watch,
"usage: ccroute watch [QUEUE...] [--interval MS] [--count N]\n"
"A live view of the queues: Stats every --interval (default 1000 ms),\n"
"the screen redrawn on a terminal. Ends on q, Ctrl-C or after --count\n"
"refreshes. With --json, one compact JSON line per refresh.\n" },
    { "config", "check", 1, 1, 0, cmd_config_check,
"usage: ccroute config check FILE\n"
"The checks of ccrouted --check-config, by the engine's own loader: the\n"
"file, the routing model, the listen addresses (bound and released: a\n"
"running engine's own file fails here; see docs/configuration.md), who\n"
"may connect, TLS. Prints OK (exit 0) or the error (exit 1).\n" },
    { "config", "reload", 0, 0, 0, cmd_config_reload,
"usage: ccroute config reload\n"
"Makes the engine read its configuration file again (ConfigReload, as an\n"
"admin principal; the same as SIGHUP) and apply what a reload may change:\n"
"queues added or removed (a removed queue's contacts go to its\n"
"reload_fallback), a queue's limits (service level, offer timeout,\n"
"wrap-up, max length, max wait, overflow), skills, channels, strategy and\n"
"steps, tokens, certificate fingerprints, quotas, grace, attribute\n"
"bounds, log level. Nothing under way is dropped. Prints the new\n"
"configuration generation (exit 0), or the engine's reason when it\n"
"applied nothing: CONFIG_INVALID (the file does not load) or\n"
"CONFIG_NOT_RELOADABLE (it changes what needs a restart, or would strand\n"
"a contact) (exit 1).\n" },
    { "drain", NULL, 0, 0, 0, cmd_drain,
"usage: ccroute drain\n"
"Drains the engine for a rolling restart (Drain, as an admin principal):\n"
"from now on it refuses new contacts (ContactArrived: STATE_UNAVAILABLE,\n"
"\"draining: ...\"), and goes on routing and finishing the contacts it\n"
"holds. `ccroute status` shows it. Then stop it with SIGTERM: it hands its\n"
"tenants to a standby at once (docs/cli.md). There is no undo but a\n"
"restart.\n" },
};

static const struct command *find_command(int argc, char **argv,
                                          int *words)
{
    const struct command *partial = NULL;
    for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++) {
        const struct command *c = &commands[i];
        if (argc < 1 || strcmp(argv[0], c->name))
            continue;
        if (!c->sub) {
            *words = 1;
            return c;
        }
        partial = c;
        if (argc >= 2 && !strcmp(argv[1], c->sub)) {
            *words = 2;
            return c;
        }
    }
    *words = partial ? 1 : 0;
    return NULL;
}

static void command_group_help(FILE *f, const char *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++)
        if (!strcmp(commands[i].name, name))
            fputs(commands[i].help, f);
}

int main(int argc, char **argv)
{
    enum { O_HTTP = 256, O_ROLE, O_CLIENT, O_ID, O_CHANNEL, O_PRIORITY,
           O_LANGUAGE, O_PRODUCT, O_ATTR, O_WAIT_ASSIGNED, O_ABANDON,
           O_INTERVAL, O_COUNT };
    static const struct option lopts[] = {
        {"engine", required_argument, NULL, 'e'},
        {"http", required_argument, NULL, O_HTTP},
        {"token-file", required_argument, NULL, 'T'},
        {"role", required_argument, NULL, O_ROLE},
        {"client", required_argument, NULL, O_CLIENT},
        {"timeout", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {"queue", required_argument, NULL, 'q'},
        {"skill", required_argument, NULL, 's'},
        {"id", required_argument, NULL, O_ID},
        {"channel", required_argument, NULL, O_CHANNEL},
        {"priority", required_argument, NULL, O_PRIORITY},
        {"language", required_argument, NULL, O_LANGUAGE},
        {"product", required_argument, NULL, O_PRODUCT},
        {"attr", required_argument, NULL, O_ATTR},
        {"wait-assigned", no_argument, NULL, O_WAIT_ASSIGNED},
        {"abandon", no_argument, NULL, O_ABANDON},
        {"interval", required_argument, NULL, O_INTERVAL},
        {"count", required_argument, NULL, O_COUNT},
        {NULL, 0, NULL, 0},
    };
    static struct opts o;
    char *pos[64];
    int npos = 0, ch, rc, words = 0, help = 0;
    const struct command *cmd;
    long v;

    snprintf(o.host, sizeof(o.host), "127.0.0.1");
    o.port = 7400;
    o.timeout_ms = 5000;
    o.interval_ms = 1000;
    o.channel = CCROUTE__V1__CHANNEL__CHANNEL_VOICE;
    /* Options anywhere: "-" returns positional words as option 1, so a
     * contact id or reason that looks like an option must follow "--". */
    while ((ch = getopt_long(argc, argv, "-e:T:t:jhq:s:", lopts, NULL))
           != -1) {
        switch (ch) {
        case 1:
            if (npos == (int)(sizeof(pos) / sizeof(*pos))) {
                err("too many arguments");
                return EXIT_USAGE;
            }
            pos[npos++] = optarg;
            break;
        case 'e':
            if (parse_hostport(optarg, o.host, sizeof(o.host), &o.port) < 0) {
                err("--engine %s: expected HOST:PORT", optarg);
                return EXIT_USAGE;
            }
            break;
        case O_HTTP:
            if (parse_hostport(optarg, o.http_host, sizeof(o.http_host),
                               &o.http_port) < 0) {
                err("--http %s: expected HOST:PORT", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'T': o.token_file = optarg; break;
        case O_ROLE:
            if (!strcmp(optarg, "monitor")) o.role = ROLE(MONITOR);
            else if (!strcmp(optarg, "admin")) o.role = ROLE(ADMIN);
            else if (!strcmp(optarg, "switch")) o.role = ROLE(SWITCH);
            else if (!strcmp(optarg, "gateway")) o.role = ROLE(GATEWAY);
            else {
                err("--role %s: expected monitor, admin, switch or gateway",
                    optarg);
                return EXIT_USAGE;
            }
            break;
        case O_CLIENT:
            if (!*optarg || strlen(optarg) >= 64) {
                err("--client: 1 to 63 bytes");
                return EXIT_USAGE;
            }
            o.client = optarg;
            break;
        case 't':
            if (parse_long(optarg, 1, 3600000, &v) < 0) {
                err("--timeout %s: not a number of milliseconds", optarg);
                return EXIT_USAGE;
            }
            o.timeout_ms = (int)v;
            break;
        case 'j': o.json = true; break;
        case 'h': help = 1; break;
        case 'q': o.queue = optarg; o.given |= G_SEND; break;
        case 's':
            if (o.nskills == MAX_SKILLS) {
                err("--skill: at most %d", MAX_SKILLS);
                return EXIT_USAGE;
            }
            o.skills[o.nskills++] = optarg;
            o.given |= G_SEND;
            break;
        case O_ID: o.id = optarg; o.given |= G_SEND; break;
        case O_CHANNEL:
            if (!strcmp(optarg, "voice"))
                o.channel = CCROUTE__V1__CHANNEL__CHANNEL_VOICE;
            else if (!strcmp(optarg, "chat"))
                o.channel = CCROUTE__V1__CHANNEL__CHANNEL_CHAT;
            else if (!strcmp(optarg, "email"))
                o.channel = CCROUTE__V1__CHANNEL__CHANNEL_EMAIL;
            else if (!strcmp(optarg, "social"))
                o.channel = CCROUTE__V1__CHANNEL__CHANNEL_SOCIAL;
            else {
                err("--channel %s: expected voice, chat, email or social",
                    optarg);
                return EXIT_USAGE;
            }
            o.given |= G_SEND;
            break;
        case O_PRIORITY:
            if (parse_long(optarg, 0, 100, &v) < 0) {
                err("--priority %s: expected 0..100", optarg);
                return EXIT_USAGE;
            }
            o.priority = (int)v;
            o.given |= G_SEND;
            break;
        case O_LANGUAGE: o.language = optarg; o.given |= G_SEND; break;
        case O_PRODUCT: o.product = optarg; o.given |= G_SEND; break;
        case O_ATTR:
            if (o.nattrs == MAX_ATTRS) {
                err("--attr: at most %d", MAX_ATTRS);
                return EXIT_USAGE;
            }
            o.attrs[o.nattrs++] = optarg;
            o.given |= G_SEND;
            break;
        case O_WAIT_ASSIGNED: o.wait_assigned = true; o.given |= G_SEND;
            break;
        case O_ABANDON: o.abandon = true; o.given |= G_SEND; break;
        case O_INTERVAL:
            if (parse_long(optarg, 100, 3600000, &v) < 0) {
                err("--interval %s: expected 100..3600000 ms", optarg);
                return EXIT_USAGE;
            }
            o.interval_ms = (int)v;
            o.given |= G_WATCH;
            break;
        case O_COUNT:
            if (parse_long(optarg, 1, 1000000000, &v) < 0) {
                err("--count %s: expected a positive number", optarg);
                return EXIT_USAGE;
            }
            o.count = v;
            o.given |= G_WATCH;
            break;
        default:
            fputs(global_help, stderr);
            return EXIT_USAGE;
        }
    }
    /* after "--": positional words */
    for (; optind < argc; optind++) {
        if (npos == (int)(sizeof(pos) / sizeof(*pos))) {
            err("too many arguments");
            return EXIT_USAGE;
        }
        pos[npos++] = argv[optind];
    }

    cmd = find_command(npos, pos, &words);
    if (help) {
        if (cmd)
            fputs(cmd->help, stdout);
        else if (words == 1)
            command_group_help(stdout, pos[0]);
        else
            fputs(global_help, stdout);
        return EXIT_OK;
    }
    if (!cmd) {
        if (npos == 0)
            err("no command given");
        else if (words == 1) {
            err("%s: expected one of:", pos[0]);
            command_group_help(stderr, pos[0]);
            return EXIT_USAGE;
        } else
            err("unknown command \"%s\"", pos[0]);
        fputs(global_help, stderr);
        return EXIT_USAGE;
    }
    if (o.given & ~cmd->allowed) {
        err("%s%s%s: option not valid for this command", cmd->name,
            cmd->sub ? " " : "", cmd->sub ? cmd->sub : "");
        fputs(cmd->help, stderr);
        return EXIT_USAGE;
    }
    npos -= words;
    if (npos < cmd->min_args || (cmd->max_args >= 0 && npos > cmd->max_args)) {
        err("%s%s%s: wrong number of arguments", cmd->name,
            cmd->sub ? " " : "", cmd->sub ? cmd->sub : "");
        fputs(cmd->help, stderr);
        return EXIT_USAGE;
    }
    if (cmd->fn != cmd_config_check &&
        (rc = ccr_token_load(o.token_file, o.token, sizeof(o.token))) < 0) {
        err("--token-file %s: %s", o.token_file ? o.token_file
                                                : "(CCROUTE_TOKEN)",
            strerror(-rc));
        return EXIT_USAGE;
    }
    signal(SIGPIPE, SIG_IGN);
    rc = cmd->fn(&o, npos, pos + words);
    fflush(stdout);
    return rc;
}
