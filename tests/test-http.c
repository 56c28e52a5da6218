/* test-http.c -- the HTTP surface (docs/http.md) against the real daemon
 * over real sockets, with a real redis-server where readiness needs it.
 *
 * The client side here is the smallest that can read an answer: one
 * request per connection (Connection: close), the whole answer read to
 * the server's end of stream, the status taken from the status line. The
 * server side is H2O's.
 *
 * /metrics is checked three ways: strictly against the text format
 * (names, labels, HELP and TYPE before the samples, a family's samples
 * together, counters named _total, no series twice, every value a
 * number), by `promtool check metrics` when Debian's prometheus package
 * is installed (deploy/deps.sh installs it), and against the protocol's
 * Stats at the same moment: the traffic is brought to rest first (every
 * request answered, every offer received), and the one figure that moves
 * with time alone -- the longest wait -- is bracketed by a Stats before
 * and a Stats after the scrape.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "e2e-util.h"
#include "harness.h"
#include "store-peek.h"

#define T_MS E2E_T_MS
#define BODY(x) E2E_BODY(x)
#define EC(x) E2E_EC(x)
#define ROLE(x) E2E_ROLE(x)

/* ---- the client side ---- */

struct resp {
    int status;
    char *head;         /* status line and headers, NUL-terminated */
    char *body;         /* NUL-terminated; blen bytes */
    size_t blen;
};

static void resp_free(struct resp *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

static int dial(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port) };
    struct timeval tv = { T_MS / 1000, 0 };
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -errno;
    }
    return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        assert_true(w > 0);
        p += w;
        n -= (size_t)w;
    }
}

/* Reads to the end of stream (each read bounded by SO_RCVTIMEO). Returns
 * the bytes (malloc'd, NUL-terminated) and their count in *n; NULL when
 * the server sent nothing before closing or the read timed out first. */
static char *read_all(int fd, size_t *n)
{
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    long long end = harness_now_ms() + T_MS;
    assert_non_null(buf);
    for (;;) {
        ssize_t r;
        if (len + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        r = recv(fd, buf + len, cap - 1 - len, 0);
        if (r == 0)
            break;
        if (r < 0 || harness_now_ms() > end) {
            free(buf);
            return NULL;
        }
        len += (size_t)r;
    }
    buf[len] = '\0';
    *n = len;
    return buf;
}

/* One request, one connection. `headers`: extra header lines, each
 * ending in \r\n (NULL: none). Fails the test when no answer comes. */
static void http_req(int port, const char *method, const char *path,
                     const char *headers, struct resp *r)
{
    char req[32768];
    size_t n = 0;
    char *all, *sep;
    int fd = dial(port);
    assert_true(fd >= 0);
    snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             "Connection: close\r\n%s\r\n", method, path,
             headers ? headers : "");
    send_all(fd, req, strlen(req));
    all = read_all(fd, &n);
    close(fd);
    if (!all)
        fail_msg("%s %s: no answer", method, path);
    memset(r, 0, sizeof(*r));
    assert_int_equal(sscanf(all, "HTTP/1.%*d %d", &r->status), 1);
    sep = strstr(all, "\r\n\r\n");
    assert_non_null(sep);
    r->head = strndup(all, (size_t)(sep - all));
    r->blen = n - (size_t)(sep + 4 - all);
    r->body = strndup(sep + 4, r->blen);
    free(all);
}

static int get(int port, const char *path, const char *headers,
               struct resp *r)
{
    http_req(port, "GET", path, headers, r);
    return r->status;
}

/* GET path until it answers `status`, up to `ms`; returns the last
 * status (the answer stays in r). */
static int get_until(int port, const char *path, int status, int ms,
                     struct resp *r)
{
    long long end = harness_now_ms() + ms;
    for (;;) {
        if (get(port, path, NULL, r) == status || harness_now_ms() > end)
            return r->status;
        resp_free(r);
        harness_pause_ms(50);
    }
}

/* ---- the text format, strictly ---- */

#define MAX_FAM 256

struct fam {
    char name[128];
    char type[16];
    bool help, done;
};

static bool name_ok(const char *s, size_t n)
{
    if (!n || !(s[0] == '_' || s[0] == ':' ||
                ((s[0] | 32) >= 'a' && (s[0] | 32) <= 'z')))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(s[i] == '_' || s[i] == ':' || (s[i] >= '0' && s[i] <= '9') ||
              ((s[i] | 32) >= 'a' && (s[i] | 32) <= 'z')))
            return false;
    return true;
}

static struct fam *fam_get(struct fam *f, int *nf, const char *name,
                           size_t n)
{
    for (int i = 0; i < *nf; i++)
        if (strlen(f[i].name) == n && !memcmp(f[i].name, name, n))
            return &f[i];
    assert_true(*nf < MAX_FAM && n < sizeof(f->name));
    memset(&f[*nf], 0, sizeof(*f));
    memcpy(f[*nf].name, name, n);
    return &f[(*nf)++];
}

/* Parses `text` as the Prometheus text format 0.0.4, failing the test at
 * the first line that breaks it. Returns the number of samples. */
static int check_format(const char *text)
{
    static struct fam fams[MAX_FAM];
    char **seen = calloc(8192, sizeof(char *));
    int nf = 0, nseen = 0, lineno = 0;
    struct fam *cur = NULL;
    const char *p = text;

    assert_non_null(seen);
    assert_true(*text);
    assert_true(text[strlen(text) - 1] == '\n');
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = (size_t)(eol - p);
        char line[4096];
        lineno++;
        assert_non_null(eol);
        assert_true(len > 0 && len < sizeof(line));
        memcpy(line, p, len);
        line[len] = '\0';
        p = eol + 1;
        if (!strncmp(line, "# HELP ", 7) || !strncmp(line, "# TYPE ", 7)) {
            const char *nm = line + 7, *sp = strchr(nm, ' ');
            struct fam *f;
            if (!sp || !name_ok(nm, (size_t)(sp - nm)))
                fail_msg("line %d: bad metric name: %s", lineno, line);
            f = fam_get(fams, &nf, nm, (size_t)(sp - nm));
            if (cur && cur != f)
                cur->done = true;   /* a family's lines come together */
            if (f->done)
                fail_msg("line %d: family %s comes back", lineno, f->name);
            cur = f;
            if (line[2] == 'H') {
                if (f->help || !sp[1])
                    fail_msg("line %d: HELP twice or empty", lineno);
                f->help = true;
            } else {
                if (f->type[0])
                    fail_msg("line %d: TYPE twice", lineno);
                if (strcmp(sp + 1, "counter") && strcmp(sp + 1, "gauge") &&
                    strcmp(sp + 1, "histogram") && strcmp(sp + 1, "summary")
                    && strcmp(sp + 1, "untyped"))
                    fail_msg("line %d: unknown type %s", lineno, sp + 1);
                snprintf(f->type, sizeof(f->type), "%s", sp + 1);
                if (!strcmp(f->type, "counter") &&
                    (strlen(f->name) < 6 ||
                     strcmp(f->name + strlen(f->name) - 6, "_total")))
                    fail_msg("counter %s does not end in _total", f->name);
            }
            continue;
        }
        if (line[0] == '#')
            fail_msg("line %d: a comment that is neither HELP nor TYPE",
                     lineno);
        /* a sample: name[{labels}] value */
        size_t nl = strcspn(line, "{ ");
        if (!name_ok(line, nl))
            fail_msg("line %d: bad sample name: %s", lineno, line);
        /* a histogram's samples: name_bucket{le=...}, name_sum,
         * name_count belong to the family `name` of type histogram */
        size_t fl = nl;
        if (cur && !strcmp(cur->type, "histogram")) {
            static const char *const sfx[] = { "_bucket", "_sum", "_count" };
            for (size_t k = 0; k < 3; k++) {
                size_t sn = strlen(sfx[k]);
                if (nl > sn && !memcmp(line + nl - sn, sfx[k], sn) &&
                    nl - sn == strlen(cur->name) &&
                    !memcmp(line, cur->name, nl - sn))
                    fl = nl - sn;
            }
        }
        struct fam *f = fam_get(fams, &nf, line, fl);
        if (!f->type[0] || !f->help)
            fail_msg("line %d: %s has no HELP and TYPE before it", lineno,
                     f->name);
        if (f != cur)
            fail_msg("line %d: %s outside its family's block", lineno,
                     f->name);
        const char *q = line + nl;
        if (*q == '{') {
            q++;
            while (*q != '}') {
                size_t ln = strcspn(q, "=");
                if (!name_ok(q, ln) || q[ln] != '=' || q[ln + 1] != '"')
                    fail_msg("line %d: bad label: %s", lineno, line);
                q += ln + 2;
                while (*q && *q != '"') {
                    if (*q == '\\') {
                        if (q[1] != '\\' && q[1] != '"' && q[1] != 'n')
                            fail_msg("line %d: bad escape", lineno);
                        q++;
                    }
                    q++;
                }
                if (*q != '"')
                    fail_msg("line %d: unterminated label", lineno);
                q++;
                if (*q == ',')
                    q++;
                else if (*q != '}')
                    fail_msg("line %d: bad label list", lineno);
            }
            q++;
        }
        if (*q != ' ')
            fail_msg("line %d: no space before the value", lineno);
        char *end;
        double v = strtod(q + 1, &end);
        if (end == q + 1 || *end || isnan(v))
            fail_msg("line %d: value is not a number: %s", lineno, line);
        size_t sl = (size_t)(q - line);
        for (int i = 0; i < nseen; i++)
            if (strlen(seen[i]) == sl && !memcmp(seen[i], line, sl))
                fail_msg("line %d: series twice: %s", lineno, line);
        assert_true(nseen < 8192);
        seen[nseen++] = strndup(line, sl);
    }
    for (int i = 0; i < nseen; i++)
        free(seen[i]);
    free(seen);
    return nseen;
}

/* The value of series `series` ("name" or "name{l=\"v\"}"); fails the
 * test when it is missing. */
static double metric(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1
                                                                     : p) {
        if (!strncmp(p, series, n) && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    fail_msg("no series %s in:\n%s", series, text);
    return NAN;
}

static double qmetric(const char *text, const char *name, const char *queue)
{
    char s[256];
    snprintf(s, sizeof(s), "%s{queue=\"%s\"}", name, queue);
    return metric(text, s);
}

/* A histogram's buckets are cumulative (never decreasing with `le`), the
 * +Inf one equals _count; returns _count. */
static double histogram_count(const char *text, const char *name)
{
    char s[160];
    double prev = 0, n = 0;
    const char *p = text;
    size_t nb = 0;
    snprintf(s, sizeof(s), "%s_bucket{le=\"", name);
    while ((p = strstr(p, s))) {
        const char *sp = strchr(p, ' ');
        assert_non_null(sp);
        n = strtod(sp + 1, NULL);
        assert_true(n >= prev);
        prev = n;
        nb++;
        p = sp;
    }
    assert_true(nb >= 2);
    snprintf(s, sizeof(s), "%s_bucket{le=\"+Inf\"}", name);
    n = metric(text, s);
    snprintf(s, sizeof(s), "%s_count", name);
    assert_true(metric(text, s) == n);
    return n;
}

static bool have_promtool(void)
{
    const char *argv[] = { "sh", "-c", "command -v promtool", NULL };
    return harness_run(argv, NULL, T_MS) == 0;
}

/* ---- fixtures ---- */

static const char *build_dir(void)
{
    const char *b = getenv("CCROUTE_BUILD");
    return b && *b ? b : "build";
}

struct http_fx {
    struct e2e_env *env;
    int http_port;
};

/* The configuration: `extra_http` goes into the http: section, `extra`
 * at the top level (both may be ""). */
struct cfg_arg {
    int http_port;
    const char *extra_http;
    const char *extra;
};

static void config_text(char *buf, size_t len, int redis_port,
                        const void *arg)
{
    const struct cfg_arg *a = arg;
    char redis[200];
    if (redis_port)
        snprintf(redis, sizeof(redis), "redis:\n  enabled: true\n"
                 "  port: %d\n  tenant: ht\n", redis_port);
    else
        snprintf(redis, sizeof(redis), "redis: {enabled: false}\n");
    snprintf(buf, len,
        "log_level: info\n"
        "%s"
        "routing: {offer_timeout: 60s, max_agents: 100, max_contacts: 1000}\n"
        "skills: [sales, support]\n"
        "queues:\n"
        "  - name: sales\n"
        "    skills: {sales: 1}\n"
        "    service_level: {percent: 80, seconds: 20}\n"
        "  - name: support\n"
        "    skills: {support: 1}\n"
        "http:\n"
        "  listen: 127.0.0.1:%d\n"
        "%s"
        "%s",
        redis, a->http_port, a->extra_http, a->extra);
}

static int fx_start(void **state, bool redis, const char *extra_http,
                    const char *extra)
{
    struct http_fx *fx = calloc(1, sizeof(*fx));
    struct cfg_arg a;
    void *env = NULL;
    if (!fx)
        return -1;
    fx->http_port = harness_free_port();
    a.http_port = fx->http_port;
    a.extra_http = extra_http;
    a.extra = extra;
    if (fx->http_port <= 0 || e2e_env_start(&env, redis, config_text, &a)) {
        free(fx);
        return -1;
    }
    fx->env = env;
    *state = fx;
    return 0;
}

/* With Redis: ready (the lease taken, the state loaded) before the test
 * says Hello -- which /readyz tells. */
static int setup_redis(void **state)
{
    struct http_fx *fx;
    struct resp r;
    int st;
    if (fx_start(state, true, "", "") < 0)
        return -1;
    fx = *state;
    st = get_until(fx->http_port, "/readyz", 200, 10000, &r);
    resp_free(&r);
    return st == 200 ? 0 : -1;
}

static int setup_memory(void **state)
{
    return fx_start(state, false, "  request_timeout: 1s\n"
                    "  max_connections: 4\n", "");
}

#define TOKEN(p) ("http-token-" p "-0123456789abcdef")

static int setup_tokens(void **state)
{
    static char principals[1024];
    char m[65], s[65], o[65];
    e2e_token_hex(TOKEN("mon"), m);
    e2e_token_hex(TOKEN("sw"), s);
    e2e_token_hex(TOKEN("other"), o);
    snprintf(principals, sizeof(principals),
        "principals:\n"
        "  - {name: mon, token_sha256: %s, roles: [monitor],"
        " clients: [\"*\"]}\n"
        "  - {name: sw, token_sha256: %s, roles: [switch], clients: [\"*\"]}\n"
        "  - {name: other, token_sha256: %s, roles: [admin],"
        " clients: [\"*\"], tenant: elsewhere}\n", m, s, o);
    return fx_start(state, false, "  require_token: true\n", principals);
}

static int teardown(void **state)
{
    struct http_fx *fx = *state;
    void *env = fx ? fx->env : NULL;
    int rc = e2e_env_teardown(&env);
    free(fx);
    return rc;
}

/* ---- traffic ---- */

static ccr_envelope *expect_offer(struct e2e_client *ag, const char *cid)
{
    ccr_envelope *e = e2e_wait_offer(ag, cid, T_MS);
    if (!e)
        fail_msg("no offer of %s", cid);
    return e;
}

/* Brings the engine to rest in a known state:
 *   sales:   c1 answered and completed, c2 abandoned, c4 offered to a1
 *            (not answered: the offer stays 60 s);
 *   support: c3 waiting, unservable (no agent has the skill);
 *   agents:  a1 offered, a2 away;
 *   one Error UNKNOWN_QUEUE.
 * Every request is answered and every offer received when it returns. */
static void traffic(struct e2e_client *sw, struct e2e_client *ag)
{
    assert_int_equal(e2e_agent_login(ag, "a1", "sales", 5, 1, 0), 0);
    assert_int_equal(e2e_contact(sw, "c1", "sales", E2E_VOICE), 0);
    ccr_free(expect_offer(ag, "c1"));
    assert_int_equal(e2e_simple(ag, BODY(OFFER_ACCEPTED), "c1", "a1"), 0);
    assert_int_equal(e2e_contact(sw, "c2", "sales", E2E_VOICE), 0);
    assert_int_equal(e2e_simple(sw, BODY(CONTACT_ABANDONED), "c2", NULL), 0);
    assert_int_equal(e2e_contact(sw, "c3", "support", E2E_VOICE), 0);
    assert_int_equal(e2e_contact(sw, "c9", "nope", E2E_VOICE),
                     EC(UNKNOWN_QUEUE));
    assert_int_equal(e2e_simple(sw, BODY(CONTACT_COMPLETED), "c1", NULL), 0);
    assert_int_equal(e2e_agent_login(ag, "a2", "sales", 5, 1, 0), 0);
    assert_int_equal(e2e_agent_state(ag, "a2",
                     CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AWAY, "lunch"),
                     0);
    assert_int_equal(e2e_contact(sw, "c4", "sales", E2E_VOICE), 0);
    ccr_free(expect_offer(ag, "c4"));
}

static const char *stats_status(const Ccroute__V1__AgentStats *a)
{
    if (a->in_wrapup)
        return "wrapup";
    switch (a->status) {
    case CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AVAILABLE:
        return "available";
    case CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_OFFERED: return "offered";
    case CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_ON_CONTACT:
        return "on_contact";
    case CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AWAY: return "away";
    default: return "?";
    }
}

/* ---- tests ---- */

static void test_metrics_equal_stats(void **state)
{
    struct http_fx *fx = *state;
    struct e2e_client *sw = e2e_env_dial_hello(fx->env, "sw", ROLE(SWITCH));
    struct e2e_client *ag = e2e_env_dial_hello(fx->env, "desk", ROLE(AGENT));
    struct e2e_client *mon = e2e_env_dial_hello(fx->env, "mon",
                                                ROLE(MONITOR));
    ccr_envelope *st1, *st2;
    struct resp m, m2;
    int checked = 0;

    traffic(sw, ag);
    st1 = e2e_stats(mon);
    assert_int_equal(get(fx->http_port, "/metrics", NULL, &m), 200);
    st2 = e2e_stats(mon);
    assert_non_null(strstr(m.head, "text/plain; version=0.0.4"));
    assert_true(check_format(m.body) > 50);

    for (size_t i = 0; i < st1->stats->n_queues; i++) {
        const Ccroute__V1__QueueStats *q = st1->stats->queues[i];
        const Ccroute__V1__QueueStats *q2 = st2->stats->queues[i];
        const char *n = q->queue;
        double lw = qmetric(m.body, "ccroute_queue_longest_wait_seconds", n);
        assert_string_equal(q2->queue, n);
        assert_int_equal(qmetric(m.body, "ccroute_queue_waiting", n),
                         q->waiting);
        assert_int_equal(qmetric(m.body, "ccroute_queue_unservable", n),
                         q->contacts_unservable);
        assert_int_equal(qmetric(m.body, "ccroute_queue_offered_total", n),
                         q->offered);
        assert_int_equal(qmetric(m.body, "ccroute_queue_answered_total", n),
                         q->answered);
        assert_int_equal(qmetric(m.body, "ccroute_queue_abandoned_total", n),
                         q->abandoned);
        assert_true(qmetric(m.body, "ccroute_queue_service_level_ratio", n)
                    == q->service_level);
        assert_true(qmetric(m.body,
                            "ccroute_queue_avg_speed_of_answer_seconds", n)
                    == q->avg_speed_of_answer_ms / 1000.0);
        assert_true(qmetric(m.body, "ccroute_queue_avg_handle_time_seconds",
                            n) == q->avg_handle_time_ms / 1000.0);
        assert_int_equal(qmetric(m.body, "ccroute_queue_agents_available",
                                 n), q->agents_available);
        /* the one figure that moves by itself: between the two Stats */
        assert_true(lw >= q->longest_wait_ms / 1000.0);
        assert_true(lw <= q2->longest_wait_ms / 1000.0);
        checked++;
    }
    assert_int_equal(checked, 2);
    /* the state traffic() left, so that the comparison is not 0 == 0 */
    assert_int_equal(qmetric(m.body, "ccroute_queue_offered_total", "sales"),
                     3);
    assert_int_equal(qmetric(m.body, "ccroute_queue_answered_total",
                             "sales"), 1);
    assert_int_equal(qmetric(m.body, "ccroute_queue_abandoned_total",
                             "sales"), 1);
    assert_int_equal(qmetric(m.body, "ccroute_queue_unservable", "support"),
                     1);
    assert_true(qmetric(m.body, "ccroute_queue_service_level_target_ratio",
                        "sales") == 0.8);
    assert_int_equal(metric(m.body, "ccroute_contacts_waiting"),
                     st1->stats->contacts_waiting);
    assert_int_equal(metric(m.body, "ccroute_agents_logged_in"),
                     st1->stats->agents_logged_in);

    /* agents by status, as Stats lists them */
    {
        static const char *const sts[] = { "available", "offered",
                                           "on_contact", "away", "wrapup" };
        for (size_t s = 0; s < 5; s++) {
            char series[80];
            unsigned want = 0;
            for (size_t i = 0; i < st1->stats->n_agents; i++)
                want += !strcmp(stats_status(st1->stats->agents[i]), sts[s]);
            snprintf(series, sizeof(series), "ccroute_agents{status=\"%s\"}",
                     sts[s]);
            assert_int_equal(metric(m.body, series), want);
        }
        assert_int_equal(metric(m.body, "ccroute_agents{status=\"offered\"}"),
                         1);
        assert_int_equal(metric(m.body, "ccroute_agents{status=\"away\"}"),
                         1);
    }

    /* connections by role, errors by code, the store */
    assert_int_equal(metric(m.body, "ccroute_connections{role=\"switch\"}"),
                     1);
    assert_int_equal(metric(m.body, "ccroute_connections{role=\"agent\"}"),
                     1);
    assert_int_equal(metric(m.body, "ccroute_connections{role=\"monitor\"}"),
                     1);
    assert_int_equal(metric(m.body,
                            "ccroute_errors_sent_total{code=\"UNKNOWN_QUEUE\"}"),
                     1);
    assert_int_equal(metric(m.body,
                            "ccroute_errors_sent_total{code=\"MALFORMED\"}"),
                     0);
    assert_int_equal(metric(m.body, "ccroute_ready"), 1);
    assert_int_equal(metric(m.body, "ccroute_lease_role{role=\"owner\"}"), 1);
    assert_true(metric(m.body, "ccroute_lease_token") >= 1);
    assert_true(metric(m.body, "ccroute_redis_ops_confirmed_total") > 0);
    /* at rest every write is confirmed */
    assert_int_equal(metric(m.body, "ccroute_redis_pending_writes"), 0);
    /* latency histograms: traffic() made two offers (c1, c4); every
     * request it sent was acknowledged but c9's */
    assert_int_equal(histogram_count(m.body,
                                     "ccroute_routing_latency_seconds"), 2);
    assert_true(histogram_count(m.body, "ccroute_ack_latency_seconds") >= 10);
    assert_int_equal(metric(m.body, "ccroute_config_generation"), 1);
    /* one round trip per confirmed write batch */
    assert_true(histogram_count(m.body,
                                "ccroute_redis_batch_round_trip_seconds") ==
                metric(m.body, "ccroute_redis_batches_confirmed_total"));
    assert_true(metric(m.body, "ccroute_redis_batches_confirmed_total") > 0);

    /* frames: one more request between two scrapes is one more frame */
    ccr_free(st2);
    st2 = e2e_stats(mon);
    assert_int_equal(get(fx->http_port, "/metrics", NULL, &m2), 200);
    {
        ccr_envelope *st3;
        struct resp m3;
        double in1 = metric(m2.body, "ccroute_frames_received_total");
        double out1 = metric(m2.body, "ccroute_frames_sent_total");
        st3 = e2e_stats(mon);
        assert_int_equal(get(fx->http_port, "/metrics", NULL, &m3), 200);
        assert_true(metric(m3.body, "ccroute_frames_received_total") ==
                    in1 + 1);
        assert_true(metric(m3.body, "ccroute_frames_sent_total") > out1);
        /* the StatsRequest between the scrapes: one Ack more */
        assert_true(histogram_count(m3.body, "ccroute_ack_latency_seconds")
                    == histogram_count(m2.body,
                                       "ccroute_ack_latency_seconds") + 1);
        ccr_free(st3);
        resp_free(&m3);
    }

    if (have_promtool()) {
        char dir[256], file[320], log[320], cmd[800];
        FILE *f;
        assert_int_equal(harness_tmpdir(dir, sizeof(dir), "ccr-promtool"),
                         0);
        snprintf(file, sizeof(file), "%s/metrics.txt", dir);
        snprintf(log, sizeof(log), "%s/promtool.log", dir);
        f = fopen(file, "w");
        assert_non_null(f);
        fwrite(m.body, 1, m.blen, f);
        fclose(f);
        /* its findings to the log (stderr) */
        snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 1>&2",
                 file);
        const char *argv[] = { "sh", "-c", cmd, NULL };
        int rc = harness_run(argv, log, 20000);
        if (rc != 0)
            harness_log_dump(log);
        assert_int_equal(rc, 0);
        /* promtool prints its lint findings; none is expected */
        assert_false(harness_log_contains(log, "ccroute", 0));
        harness_rm_rf(dir);
    } else {
        fprintf(stderr, "test-http: promtool not installed (Debian package "
                "prometheus): the strict parser alone checked the format\n");
    }

    ccr_free(st1);
    ccr_free(st2);
    resp_free(&m);
    resp_free(&m2);
    e2e_hang_up(sw);
    e2e_hang_up(ag);
    e2e_hang_up(mon);
}

static void test_api_equal_stats(void **state)
{
    struct http_fx *fx = *state;
    struct e2e_client *sw = e2e_env_dial_hello(fx->env, "sw", ROLE(SWITCH));
    struct e2e_client *ag = e2e_env_dial_hello(fx->env, "desk", ROLE(AGENT));
    struct e2e_client *mon = e2e_env_dial_hello(fx->env, "mon",
                                                ROLE(MONITOR));
    ccr_envelope *st;
    struct resp r;
    json_t *j, *qs, *as;
    json_error_t je;

    traffic(sw, ag);
    st = e2e_stats(mon);
    assert_int_equal(get(fx->http_port, "/api/v1/queues", NULL, &r), 200);
    assert_non_null(strstr(r.head, "application/json"));
    j = json_loads(r.body, 0, &je);
    if (!j)
        fail_msg("/api/v1/queues: %s: %s", je.text, r.body);
    qs = json_object_get(j, "queues");
    assert_true(json_is_array(qs));
    assert_int_equal(json_array_size(qs), st->stats->n_queues);
    for (size_t i = 0; i < st->stats->n_queues; i++) {
        const Ccroute__V1__QueueStats *q = st->stats->queues[i];
        json_t *o = json_array_get(qs, i);
        assert_string_equal(json_string_value(json_object_get(o, "name")),
                            q->queue);
        assert_int_equal(json_integer_value(json_object_get(o, "waiting")),
                         q->waiting);
        assert_int_equal(json_integer_value(json_object_get(o,
                         "unservable")), q->contacts_unservable);
        assert_int_equal(json_integer_value(json_object_get(o, "offered")),
                         q->offered);
        assert_int_equal(json_integer_value(json_object_get(o, "answered")),
                         q->answered);
        assert_int_equal(json_integer_value(json_object_get(o,
                         "abandoned")), q->abandoned);
        assert_true(json_number_value(json_object_get(o, "service_level"))
                    == q->service_level);
        assert_int_equal(json_integer_value(json_object_get(o,
                         "avg_handle_time_ms")), q->avg_handle_time_ms);
        assert_int_equal(json_integer_value(json_object_get(o,
                         "agents_available")), q->agents_available);
    }
    assert_int_equal(json_integer_value(json_object_get(j,
                     "contacts_waiting")), st->stats->contacts_waiting);
    json_decref(j);
    resp_free(&r);

    assert_int_equal(get(fx->http_port, "/api/v1/agents", NULL, &r), 200);
    j = json_loads(r.body, 0, &je);
    assert_non_null(j);
    as = json_object_get(j, "agents");
    assert_int_equal(json_array_size(as), st->stats->n_agents);
    for (size_t i = 0; i < st->stats->n_agents; i++) {
        json_t *o = json_array_get(as, i);
        const Ccroute__V1__AgentStats *a = st->stats->agents[i];
        assert_string_equal(json_string_value(json_object_get(o, "id")),
                            a->agent_id);
        assert_string_equal(json_string_value(json_object_get(o, "status")),
                            stats_status(a));
        assert_string_equal(json_string_value(json_object_get(o, "reason")),
                            a->reason);
    }
    json_decref(j);
    resp_free(&r);

    /* a contact by id: c4 is offered to a1; c1 has gone */
    assert_int_equal(get(fx->http_port, "/api/v1/contacts/c4", NULL, &r),
                     200);
    j = json_loads(r.body, 0, &je);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "state")),
                        "offered");
    assert_string_equal(json_string_value(json_object_get(j, "queue")),
                        "sales");
    assert_string_equal(json_string_value(json_object_get(j, "agent")),
                        "a1");
    json_decref(j);
    resp_free(&r);
    assert_int_equal(get(fx->http_port, "/api/v1/contacts/c1", NULL, &r),
                     404);
    resp_free(&r);
    assert_int_equal(get(fx->http_port, "/api/v1/nothing", NULL, &r), 404);
    resp_free(&r);
    /* campaigns and callbacks: none yet, in the documented shape */
    assert_int_equal(get(fx->http_port, "/api/v1/campaigns", NULL, &r), 200);
    j = json_loads(r.body, 0, &je);
    assert_non_null(j);
    assert_true(json_is_array(json_object_get(j, "campaigns")));
    assert_int_equal(json_array_size(json_object_get(j, "campaigns")), 0);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(j, "callbacks"), "waiting")), 0);
    assert_non_null(json_object_get(j, "tenant"));
    json_decref(j);
    resp_free(&r);
    /* a campaign (an admin makes it): in the API and in /metrics */
    {
        struct e2e_client *adm = e2e_env_dial_hello(fx->env, "adm",
                                                    ROLE(ADMIN));
        ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
        Ccroute__V1__CampaignUpsert cu = CCROUTE__V1__CAMPAIGN_UPSERT__INIT;
        json_t *c;
        cu.name = "hc";
        cu.queue = "sales";
        cu.dialer = "d1";
        env.body_case = BODY(CAMPAIGN_UPSERT);
        env.campaign_upsert = &cu;
        assert_int_equal(e2e_call(adm, &env, 5000), 0);
        assert_int_equal(get(fx->http_port, "/api/v1/campaigns", NULL, &r),
                         200);
        j = json_loads(r.body, 0, &je);
        assert_non_null(j);
        c = json_array_get(json_object_get(j, "campaigns"), 0);
        assert_non_null(c);
        assert_string_equal(json_string_value(json_object_get(c, "campaign")),
                            "hc");
        assert_string_equal(json_string_value(json_object_get(c, "run")),
                            "stopped");
        assert_int_equal(json_integer_value(json_object_get(
                             json_object_get(c, "leads"), "total")), 0);
        assert_int_equal(json_integer_value(json_object_get(c, "dials")), 0);
        json_decref(j);
        resp_free(&r);
        assert_int_equal(get(fx->http_port, "/metrics", NULL, &r), 200);
        assert_non_null(strstr(r.body, "\nccroute_campaign_running{"
                                       "campaign=\"hc\"} 0\n"));
        assert_non_null(strstr(r.body, "\nccroute_campaign_leads{"
                                       "campaign=\"hc\",state=\"waiting\"} "
                                       "0\n"));
        assert_non_null(strstr(r.body, "\nccroute_callbacks{state="
                                       "\"held\"} 0\n"));
        resp_free(&r);
        e2e_hang_up(adm);
    }

    ccr_free(st);
    e2e_hang_up(sw);
    e2e_hang_up(ag);
    e2e_hang_up(mon);
}

static void test_readyz_follows_redis(void **state)
{
    struct http_fx *fx = *state;
    struct resp r;

    assert_int_equal(get(fx->http_port, "/healthz", NULL, &r), 200);
    assert_string_equal(r.body, "ok\n");
    resp_free(&r);
    /* the engine takes the lease right after it starts */
    assert_int_equal(get_until(fx->http_port, "/readyz", 200, 10000, &r),
                     200);
    resp_free(&r);

    assert_int_equal(e2e_redis_term(&fx->env->redis, 5000), 0);
    assert_int_equal(get_until(fx->http_port, "/readyz", 503, 10000, &r),
                     503);
    assert_non_null(strstr(r.body, "not ready: "));
    assert_non_null(strstr(r.body, "redis"));
    resp_free(&r);
    /* alive all the same */
    assert_int_equal(get(fx->http_port, "/healthz", NULL, &r), 200);
    resp_free(&r);
    assert_int_equal(get(fx->http_port, "/metrics", NULL, &r), 200);
    assert_int_equal(metric(r.body, "ccroute_ready"), 0);
    resp_free(&r);

    /* and ready again once Redis is back with its data */
    assert_int_equal(harness_redis_restart(&fx->env->redis), 0);
    assert_int_equal(get_until(fx->http_port, "/readyz", 200, 15000, &r),
                     200);
    resp_free(&r);
}

#define SLOW_HEAD "GET /metrics HTTP/1.1\r\nHost: x"
#define KEEP_GET "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
#define CLOSE_METRICS "GET /metrics HTTP/1.1\r\nHost: x\r\n" \
                      "Connection: close\r\n\r\n"

static void test_bad_requests(void **state)
{
    struct http_fx *fx = *state;
    struct e2e_client *mon = e2e_env_dial_hello(fx->env, "mon",
                                                ROLE(MONITOR));
    struct resp r;
    char *big;
    int slow, fds[4];
    size_t n;
    char *rest;

    assert_int_equal(get(fx->http_port, "/nope", NULL, &r), 404);
    resp_free(&r);
    assert_int_equal(get(fx->http_port, "/metricsx", NULL, &r), 404);
    resp_free(&r);
    http_req(fx->http_port, "POST", "/metrics", "Content-Length: 0\r\n", &r);
    assert_int_equal(r.status, 405);
    assert_non_null(strstr(r.head, "GET, HEAD"));
    resp_free(&r);
    http_req(fx->http_port, "DELETE", "/api/v1/queues", NULL, &r);
    assert_int_equal(r.status, 405);
    resp_free(&r);
    http_req(fx->http_port, "HEAD", "/healthz", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.blen, 0);
    resp_free(&r);

    /* request heads past the library's limits (H2O: 100 header lines,
     * H2O_MAX_REQLEN = 408 KiB in all): 400 from H2O itself */
    big = malloc(430000);
    assert_non_null(big);
    n = 0;
    for (int i = 0; i < 150; i++)
        n += (size_t)sprintf(big + n, "X-H%d: v\r\n", i);
    http_req(fx->http_port, "GET", "/healthz", big, &r);
    if (r.status != 400 && r.status != 431)
        fail_msg("150 header lines: %d\n%s", r.status, r.head);
    resp_free(&r);
    {
        int fd = dial(fx->http_port);
        size_t len = (size_t)sprintf(big, "GET /healthz HTTP/1.1\r\n"
                                     "Host: x\r\nX-Big: ");
        assert_true(fd >= 0);
        memset(big + len, 'a', 420000);
        len += 420000;
        memcpy(big + len, "\r\n\r\n", 4);
        len += 4;
        /* the server may answer and close before it has read it all */
        for (size_t off = 0; off < len;) {
            ssize_t w = send(fd, big + off, len - off, MSG_NOSIGNAL);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        rest = read_all(fd, &n);
        close(fd);
        assert_non_null(rest);
        assert_true(!strncmp(rest, "HTTP/1.1 400 ", 13) ||
                    !strncmp(rest, "HTTP/1.1 431 ", 13));
        free(rest);
    }
    free(big);

    /* a slow client: half a request head, then nothing. The loop carries
     * on (HTTP and the protocol), and H2O cuts it after
     * http.request_timeout (1s here). */
    slow = dial(fx->http_port);
    assert_true(slow >= 0);
    send_all(slow, SLOW_HEAD, strlen(SLOW_HEAD));
    assert_int_equal(get(fx->http_port, "/healthz", NULL, &r), 200);
    resp_free(&r);
    ccr_free(e2e_stats(mon));
    rest = read_all(slow, &n);     /* end of stream (or a 408), not a hang */
    assert_non_null(rest);
    free(rest);
    close(slow);

    /* http.max_connections (4 here): a fifth at once is closed unread.
     * First the engine must have seen every earlier connection go (its
     * count lags the client's closes by a loop turn or two): until a
     * scrape sees itself alone. */
    {
        long long end = harness_now_ms() + T_MS;
        while (get(fx->http_port, "/metrics", NULL, &r) == 200 &&
               metric(r.body, "ccroute_http_connections") != 1 &&
               harness_now_ms() < end) {
            resp_free(&r);
            harness_pause_ms(20);
        }
        assert_int_equal(metric(r.body, "ccroute_http_connections"), 1);
        resp_free(&r);
    }
    for (int i = 0; i < 4; i++) {
        fds[i] = dial(fx->http_port);
        assert_true(fds[i] >= 0);
    }
    /* each of the four is accepted once a request on it is answered */
    for (int i = 0; i < 4; i++) {
        send_all(fds[i], KEEP_GET, strlen(KEEP_GET));
        char buf[512];
        ssize_t got = recv(fds[i], buf, sizeof(buf), 0);
        if (got <= 0)
            fail_msg("connection %d of 4: no answer (%zd, %s)", i, got,
                     strerror(errno));
    }
    {
        int extra = dial(fx->http_port);
        assert_true(extra >= 0);
        send_all(extra, KEEP_GET, strlen(KEEP_GET));
        rest = read_all(extra, &n);
        /* closed without an answer (or reset) */
        if (rest && n)
            fail_msg("a fifth connection was answered: %s", rest);
        free(rest);
        close(extra);
    }
    for (int i = 0; i < 4; i++)
        close(fds[i]);
    {
        long long end = harness_now_ms() + T_MS;
        int st = 0;
        /* the server sees the four closes on its next reads */
        while (harness_now_ms() < end) {
            int fd = dial(fx->http_port);
            size_t m = 0;
            char *all;
            assert_true(fd >= 0);
            send_all(fd, CLOSE_METRICS, strlen(CLOSE_METRICS));
            all = read_all(fd, &m);
            close(fd);
            if (all && m > 0) {
                sscanf(all, "HTTP/1.1 %d", &st);
                assert_true(metric(all,
                            "ccroute_http_connections_refused_total") >= 1);
                free(all);
                break;
            }
            free(all);
            harness_pause_ms(50);
        }
        assert_int_equal(st, 200);
    }
    e2e_hang_up(mon);
}

static void test_tokens(void **state)
{
    struct http_fx *fx = *state;
    struct resp r;

    assert_int_equal(get(fx->http_port, "/metrics", NULL, &r), 401);
    assert_non_null(strstr(r.head, "www-authenticate: Bearer"));
    resp_free(&r);
    assert_int_equal(get(fx->http_port, "/metrics",
                         "Authorization: Bearer not-a-token-0123456789\r\n",
                         &r), 401);
    resp_free(&r);
    /* an unknown path says nothing before the token */
    assert_int_equal(get(fx->http_port, "/nope", NULL, &r), 401);
    resp_free(&r);
    assert_int_equal(get(fx->http_port, "/healthz", "Authorization: Bearer "
                         "http-token-sw-0123456789abcdef\r\n", &r), 403);
    assert_non_null(strstr(r.body, "monitor nor the admin role"));
    resp_free(&r);
    assert_int_equal(get(fx->http_port, "/healthz", "Authorization: Bearer "
                         "http-token-other-0123456789abcdef\r\n", &r), 403);
    assert_non_null(strstr(r.body, "another tenant"));
    resp_free(&r);
    assert_int_equal(get(fx->http_port, "/nope", "Authorization: Bearer "
                         "http-token-mon-0123456789abcdef\r\n", &r), 404);
    resp_free(&r);
    assert_int_equal(get(fx->http_port, "/metrics", "Authorization: bearer "
                         "http-token-mon-0123456789abcdef\r\n", &r), 200);
    assert_int_equal(metric(r.body, "ccroute_http_unauthorized_total"), 3);
    assert_int_equal(metric(r.body, "ccroute_http_forbidden_total"), 2);
    resp_free(&r);
}

/* --check-config: a non-loopback HTTP listener needs a monitor or admin
 * token, and a token cannot be switched off there. */
static void test_config_non_loopback(void **state)
{
    char dir[256], file[320], log[320], exe[320];
    char tok[65];
    int port = harness_free_port();
    const char *argv[] = { exe, "--check-config", "--config", file, NULL };
    struct {
        const char *text;
        int rc;
        const char *needle;
    } cases[] = {
        { "http: {listen: 0.0.0.0:%d}\n", 1, "http.listen: 0.0.0.0 needs a "
          "token" },
        { "http: {listen: 0.0.0.0:%d, require_token: false}\n", 1,
          "http.require_token: must be true" },
        { "http: {listen: 127.0.0.1:%d, require_token: true}\n", 1,
          "http.require_token: the HTTP surface needs a token" },
        { "http: {listen: 127.0.0.1:%d}\n", 0, NULL },
        { "http: {listen: 0.0.0.0:%d}\nprincipals:\n  - {name: m, "
          "token_sha256: %s, roles: [monitor], clients: [m]}\n", 0, NULL },
        { "http: {listen: 0.0.0.0:%d}\nprincipals:\n  - {name: m, "
          "token_sha256: %s, roles: [switch], clients: [m]}\n", 1,
          "no principal with "
          "the monitor or admin role" },
        { "http: {listen: ccroute.example:%d}\n", 1, "not a numeric IP" },
        { "http: {max_connections: 4}\n", 1, "http: missing \"listen\"" },
        { "http: {listen: 127.0.0.1:%d, max_connections: 99}\n", 1,
          "http.max_connections" },
    };

    (void)state;
    e2e_token_hex("http-config-token-0123456789", tok);
    snprintf(exe, sizeof(exe), "%s/ccrouted", build_dir());
    assert_true(port > 0);
    assert_int_equal(harness_tmpdir(dir, sizeof(dir), "ccr-httpcfg"), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        FILE *f;
        snprintf(file, sizeof(file), "%s/c%zu.yaml", dir, i);
        snprintf(log, sizeof(log), "%s/c%zu.log", dir, i);
        f = fopen(file, "w");
        assert_non_null(f);
        fprintf(f, "listen: 127.0.0.1:0\n");
        fprintf(f, cases[i].text, port, tok);
        fclose(f);
        int rc = harness_run(argv, log, 20000);
        if (rc != cases[i].rc || (cases[i].needle &&
                                  !harness_log_contains(log, cases[i].needle,
                                                        0))) {
            harness_log_dump(log);
            fail_msg("case %zu: exit %d, want %d and \"%s\"", i, rc,
                     cases[i].rc, cases[i].needle ? cases[i].needle : "");
        }
    }
    harness_rm_rf(dir);
}

/* ---- care (docs/care.md) ---- */

static int setup_care(void **state)
{
    struct http_fx *fx;
    struct resp r;
    int st;
    if (fx_start(state, true, "",
                 "care:\n"
                 "  max_tags: 4\n"
                 "  dispositions:\n"
                 "    - queue: support\n"
                 "      codes: [resolved, complaint]\n"
                 "      difficult: [complaint]\n"
                 "    - queue: sales\n"
                 "      codes: [sold]\n"
                 "      required: true\n"
                 "  agent_groups:\n"
                 "    - name: tier1\n"
                 "      agents: [\"r-*\"]\n"
                 "      recovery: {after: 2, within: 1h, pause: 300ms}\n") < 0)
        return -1;
    fx = *state;
    st = get_until(fx->http_port, "/readyz", 200, 10000, &r);
    resp_free(&r);
    return st == 200 ? 0 : -1;
}

static int care_arrive(struct e2e_client *sw, const char *id,
                       const char *queue, bool complaint)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactArrived m = CCROUTE__V1__CONTACT_ARRIVED__INIT;
    m.contact_id = (char *)id;
    m.queue = (char *)queue;
    m.channel = E2E_VOICE;
    m.complaint = complaint;
    env.body_case = BODY(CONTACT_ARRIVED);
    env.contact_arrived = &m;
    return e2e_call(sw, &env, T_MS);
}

static int care_complete(struct e2e_client *c, const char *id,
                         const char *code, const char *const *tags,
                         size_t ntags, const char *note)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactCompleted m = CCROUTE__V1__CONTACT_COMPLETED__INIT;
    m.contact_id = (char *)id;
    m.disposition = (char *)(code ? code : "");
    m.tags = (char **)tags;
    m.n_tags = ntags;
    m.note_ref = (char *)(note ? note : "");
    env.body_case = BODY(CONTACT_COMPLETED);
    env.contact_completed = &m;
    return e2e_call(c, &env, T_MS);
}

/* Contact `id` arrives in support, is offered to r-1 and accepted. */
static void care_handle(struct e2e_client *sw, struct e2e_client *ag,
                        const char *id, bool complaint)
{
    assert_int_equal(care_arrive(sw, id, "support", complaint), 0);
    ccr_free(expect_offer(ag, id));
    assert_int_equal(e2e_simple(ag, BODY(OFFER_ACCEPTED), id, "r-1"), 0);
}

/* An event's field (tests/store-peek.h: the events stream or the
 * journal), NULL when it has none. */
static const char *entry_field(const struct peek_obj *e, const char *name)
{
    return peek_get(e, name, NULL);
}

static const struct peek_obj *gone_entry(const struct peek *all,
                                         const char *cid)
{
    for (size_t i = 0; i < all->nev; i++) {
        const char *t = entry_field(&all->ev[i], "type");
        const char *c = entry_field(&all->ev[i], "contact");
        if (t && c && !strcmp(t, "gone") && !strcmp(c, cid))
            return &all->ev[i];
    }
    fail_msg("no gone entry of %s in the stream", cid);
    return NULL;
}

static const Ccroute__V1__QueueStats *stats_queue(const ccr_envelope *st,
                                                  const char *name)
{
    for (size_t i = 0; i < st->stats->n_queues; i++)
        if (!strcmp(st->stats->queues[i]->queue, name))
            return st->stats->queues[i];
    fail_msg("no queue %s in Stats", name);
    return NULL;
}

static uint64_t code_today(const Ccroute__V1__QueueStats *q, const char *c)
{
    for (size_t i = 0; i < q->n_dispositions; i++)
        if (!strcmp(q->dispositions[i]->code, c))
            return q->dispositions[i]->today;
    fail_msg("no code %s in queue %s", c, q->queue);
    return 0;
}

/* `promtool check metrics` accepts the body of m, with no lint finding
 * on a ccroute family (when Debian's prometheus package is installed). */
static void promtool_accepts(const struct resp *m)
{
    char dir[256], file[320], log[320], cmd[800];
    FILE *f;
    if (!have_promtool())
        return;
    assert_int_equal(harness_tmpdir(dir, sizeof(dir), "ccr-promtool"), 0);
    snprintf(file, sizeof(file), "%s/metrics.txt", dir);
    snprintf(log, sizeof(log), "%s/promtool.log", dir);
    f = fopen(file, "w");
    assert_non_null(f);
    fwrite(m->body, 1, m->blen, f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 1>&2", file);
    const char *argv[] = { "sh", "-c", cmd, NULL };
    int rc = harness_run(argv, log, 20000);
    if (rc != 0 || harness_log_contains(log, "ccroute", 0))
        harness_log_dump(log);
    assert_int_equal(rc, 0);
    assert_false(harness_log_contains(log, "ccroute", 0));
    harness_rm_rf(dir);
}

/* Dispositions refused and accepted, their counts in Stats, /metrics and
 * /api/v1/care, the disposition in the completion's stream entry, and a
 * recovery pause after two difficult contacts (a complaint marked by the
 * switch, then a difficult code) that the engine ends by itself. */
static void test_care_end_to_end(void **state)
{
    struct http_fx *fx = *state;
    struct e2e_client *sw = e2e_env_dial_hello(fx->env, "sw", ROLE(SWITCH));
    struct e2e_client *ag = e2e_env_dial_hello(fx->env, "desk", ROLE(AGENT));
    struct e2e_client *mon = e2e_env_dial_hello(fx->env, "mon",
                                                ROLE(MONITOR));
    const char *tags[] = { "delivery", "billing" };
    const char *five[] = { "a", "b", "c", "d", "e" };
    const char *longt[] = { "a-tag-of-more-than-thirty-one-bytes" };
    ccr_envelope *st, *ev;
    const Ccroute__V1__AgentStats *as;
    const Ccroute__V1__QueueStats *q;
    struct resp m, r;

    assert_int_equal(e2e_agent_login(ag, "r-1", "support", 5, 1, 0), 0);
    care_handle(sw, ag, "k1", true);
    /* refused, nothing changed: unknown code, too many tags, a long tag */
    assert_int_equal(care_complete(ag, "k1", "sold", NULL, 0, NULL),
                     EC(INVALID_FIELD));
    assert_int_equal(care_complete(ag, "k1", "resolved", five, 5, NULL),
                     EC(INVALID_FIELD));
    assert_int_equal(care_complete(ag, "k1", "resolved", longt, 1, NULL),
                     EC(INVALID_FIELD));
    /* sales requires a code */
    assert_int_equal(care_arrive(sw, "s1", "sales", false), 0);
    assert_int_equal(care_complete(sw, "s1", NULL, NULL, 0, NULL),
                     EC(MISSING_FIELD));
    assert_int_equal(e2e_simple(sw, BODY(CONTACT_ABANDONED), "s1", NULL), 0);
    st = e2e_stats(mon);
    q = stats_queue(st, "support");
    assert_int_equal(q->completed_today, 0);
    as = e2e_stats_agent(st, "r-1");
    assert_non_null(as);
    assert_int_equal(as->active_contacts, 1);     /* k1 is still with it */
    assert_string_equal(as->care_group, "tier1");
    ccr_free(st);

    /* accepted: one difficult contact (the complaint), no pause yet */
    assert_int_equal(care_complete(ag, "k1", "resolved", tags, 2, "crm:42"),
                     0);
    st = e2e_stats(mon);
    as = e2e_stats_agent(st, "r-1");
    assert_int_equal(as->difficult_recent, 1);
    assert_int_equal(as->care_pause_left_ms, 0);
    ccr_free(st);

    /* the second difficult contact (its code): recovery */
    care_handle(sw, ag, "k2", false);
    assert_int_equal(care_complete(ag, "k2", "complaint", tags, 1, NULL), 0);
    ev = e2e_expect(ag, BODY(CARE_PAUSE), T_MS);
    assert_string_equal(ev->care_pause->agent_id, "r-1");
    assert_string_equal(ev->care_pause->reason, "recovery");
    assert_false(ev->care_pause->ended);
    assert_true(ev->care_pause->until_ms > 0);
    ccr_free(ev);
    st = e2e_stats(mon);
    as = e2e_stats_agent(st, "r-1");
    assert_int_equal(as->status, CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AWAY);
    assert_string_equal(as->reason, "recovery");
    assert_int_equal(as->difficult_recent, 2);
    q = stats_queue(st, "support");
    assert_int_equal(q->completed_today, 2);
    assert_int_equal(q->difficult_today, 2);
    assert_int_equal(code_today(q, "resolved"), 1);
    assert_int_equal(code_today(q, "complaint"), 1);
    assert_int_equal(q->n_top_tags, 2);
    assert_string_equal(q->top_tags[0]->tag, "delivery");
    assert_int_equal(q->top_tags[0]->today, 2);
    assert_int_equal(q->top_tags[1]->today, 1);
    assert_int_equal(st->stats->n_care_groups, 1);
    assert_string_equal(st->stats->care_groups[0]->group, "tier1");
    assert_int_equal(st->stats->care_groups[0]->recovery_pauses_today, 1);
    assert_int_equal(st->stats->n_top_tags, 2);
    ccr_free(st);

    /* a contact waiting meanwhile is not offered to the pausing agent */
    assert_int_equal(care_arrive(sw, "k3", "support", false), 0);
    /* the pause ends by itself: the desk hears it, then k3 is offered */
    ev = e2e_expect(ag, BODY(CARE_PAUSE), T_MS);
    assert_true(ev->care_pause->ended);
    assert_string_equal(ev->care_pause->reason, "recovery");
    ccr_free(ev);
    ccr_free(expect_offer(ag, "k3"));
    st = e2e_stats(mon);
    as = e2e_stats_agent(st, "r-1");
    assert_int_equal(as->status,
                     CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_OFFERED);
    ccr_free(st);

    /* /metrics: the same counts, in a format promtool accepts */
    assert_int_equal(get(fx->http_port, "/metrics", NULL, &m), 200);
    assert_true(check_format(m.body) > 50);
    assert_int_equal(metric(m.body, "ccroute_care_dispositions{queue=\"support"
                            "\",code=\"resolved\",period=\"today\"}"), 1);
    assert_int_equal(metric(m.body, "ccroute_care_dispositions{queue=\"support"
                            "\",code=\"complaint\",period=\"interval\"}"),
                     1);
    assert_int_equal(metric(m.body, "ccroute_care_dispositions{queue=\"sales\","
                            "code=\"sold\",period=\"today\"}"), 0);
    assert_int_equal(metric(m.body, "ccroute_care_tag_contacts{tag=\"delivery"
                            "\",period=\"today\"}"), 2);
    assert_int_equal(metric(m.body, "ccroute_care_difficult_today{queue="
                            "\"support\"}"), 2);
    assert_int_equal(metric(m.body, "ccroute_care_group_recovery_pauses_today"
                            "{group=\"tier1\"}"), 1);
    assert_int_equal(metric(m.body, "ccroute_care_agent_difficult_recent{"
                            "agent=\"r-1\",group=\"tier1\"}"), 2);
    /* no routine rule: the families are there, at 0 */
    assert_int_equal(metric(m.body, "ccroute_care_agent_routine_seconds_left"
                            "{agent=\"r-1\",group=\"tier1\"}"), 0);
    assert_int_equal(metric(m.body, "ccroute_care_group_routine_today"
                            "{group=\"tier1\"}"), 0);
    promtool_accepts(&m);
    resp_free(&m);

    /* /api/v1/care */
    assert_int_equal(get(fx->http_port, "/api/v1/care", NULL, &r), 200);
    {
        json_error_t je;
        json_t *j = json_loads(r.body, 0, &je), *qs, *sup = NULL, *d;
        if (!j)
            fail_msg("/api/v1/care: %s: %s", je.text, r.body);
        qs = json_object_get(j, "queues");
        for (size_t i = 0; i < json_array_size(qs); i++)
            if (!strcmp(json_string_value(json_object_get(
                            json_array_get(qs, i), "queue")), "support"))
                sup = json_array_get(qs, i);
        assert_non_null(sup);
        assert_int_equal(json_integer_value(json_object_get(sup,
                         "difficult_today")), 2);
        d = json_object_get(sup, "dispositions");
        assert_int_equal(json_array_size(d), 2);
        assert_string_equal(json_string_value(json_object_get(
                            json_array_get(d, 0), "code")), "resolved");
        assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(d, 0), "today")), 1);
        assert_int_equal(json_integer_value(json_object_get(
            json_array_get(json_object_get(j, "groups"), 0),
            "recovery_pauses_today")), 1);
        json_decref(j);
    }
    resp_free(&r);

    /* the stream: each completion's gone entry carries its disposition */
    {
        struct peek *all = peek_read(fx->env->r, "ht");
        const struct peek_obj *e1, *e2;
        const char *f;
        e1 = gone_entry(all, "k1");
        assert_string_equal(entry_field(e1, "detail"), "completed");
        assert_string_equal(entry_field(e1, "disposition"), "resolved");
        assert_string_equal(entry_field(e1, "tags"), "delivery,billing");
        assert_string_equal(entry_field(e1, "note_ref"), "crm:42");
        assert_string_equal(entry_field(e1, "difficult"), "1");
        assert_string_equal(entry_field(e1, "agent"), "r-1");
        /* k1 had no product: none on its entry */
        assert_null(entry_field(e1, "product"));
        e2 = gone_entry(all, "k2");
        assert_string_equal(entry_field(e2, "disposition"), "complaint");
        assert_string_equal(entry_field(e2, "tags"), "delivery");
        assert_null(entry_field(e2, "note_ref"));
        /* an abandoned contact's entry has none of them */
        f = entry_field(gone_entry(all, "s1"), "disposition");
        assert_null(f);
        peek_free(all);
    }

    /* per product: w1 of product widget (skill product:widget) goes to
     * p-1, the one agent with it */
    {
        struct e2e_client *ag2 = e2e_env_dial_hello(fx->env, "desk2",
                                                    ROLE(AGENT));
        ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
        Ccroute__V1__AgentLogin lg = CCROUTE__V1__AGENT_LOGIN__INIT;
        Ccroute__V1__AgentSkill sk[2] = { CCROUTE__V1__AGENT_SKILL__INIT,
                                          CCROUTE__V1__AGENT_SKILL__INIT };
        Ccroute__V1__AgentSkill *skp[2] = { &sk[0], &sk[1] };
        Ccroute__V1__ContactArrived ca = CCROUTE__V1__CONTACT_ARRIVED__INIT;
        const char *broken[] = { "broken" };
        const Ccroute__V1__CareProductStats *ps;
        sk[0].skill = "support";
        sk[0].level = 1;
        sk[1].skill = "product:widget";
        sk[1].level = 1;
        lg.agent_id = "p-1";
        lg.skills = skp;
        lg.n_skills = 2;
        env.body_case = BODY(AGENT_LOGIN);
        env.agent_login = &lg;
        assert_int_equal(e2e_call(ag2, &env, T_MS), 0);
        ca.contact_id = "w1";
        ca.queue = "support";
        ca.channel = E2E_VOICE;
        ca.product = "widget";
        env.body_case = BODY(CONTACT_ARRIVED);
        env.contact_arrived = &ca;
        assert_int_equal(e2e_call(sw, &env, T_MS), 0);
        ccr_free(expect_offer(ag2, "w1"));
        assert_int_equal(e2e_simple(ag2, BODY(OFFER_ACCEPTED), "w1", "p-1"),
                         0);
        assert_int_equal(care_complete(ag2, "w1", "resolved", broken, 1,
                                       NULL), 0);
        /* its gone entry carries the product, for a reporting job */
        {
            struct peek *all = peek_read(fx->env->r, "ht");
            const struct peek_obj *w;
            w = gone_entry(all, "w1");
            assert_string_equal(entry_field(w, "disposition"), "resolved");
            assert_string_equal(entry_field(w, "product"), "widget");
            peek_free(all);
        }
        st = e2e_stats(mon);
        assert_int_equal(st->stats->n_care_products, 1);
        ps = st->stats->care_products[0];
        assert_string_equal(ps->product, "widget");
        assert_int_equal(ps->completed_today, 1);
        assert_int_equal(ps->difficult_today, 0);
        assert_int_equal(ps->n_top_tags, 1);
        assert_string_equal(ps->top_tags[0]->tag, "broken");
        for (size_t i = 0; i < ps->n_dispositions; i++)
            assert_int_equal(ps->dispositions[i]->today,
                             !strcmp(ps->dispositions[i]->code, "resolved"));
        assert_true(ps->n_dispositions >= 2);
        assert_int_equal(st->stats->products_untracked, 0);
        ccr_free(st);
        assert_int_equal(get(fx->http_port, "/metrics", NULL, &m), 200);
        assert_int_equal(metric(m.body, "ccroute_care_product_dispositions{"
                                "product=\"widget\",code=\"resolved\","
                                "period=\"today\"}"), 1);
        assert_int_equal(metric(m.body, "ccroute_care_product_completed_today"
                                "{product=\"widget\"}"), 1);
        assert_int_equal(metric(m.body, "ccroute_care_product_tag_contacts{"
                                "product=\"widget\",tag=\"broken\","
                                "period=\"today\"}"), 1);
        assert_int_equal(metric(m.body,
                                "ccroute_care_products_untracked_total"), 0);
        promtool_accepts(&m);
        resp_free(&m);
        assert_int_equal(get(fx->http_port, "/api/v1/care", NULL, &r), 200);
        {
            json_error_t je;
            json_t *j = json_loads(r.body, 0, &je), *p;
            if (!j)
                fail_msg("/api/v1/care: %s: %s", je.text, r.body);
            p = json_array_get(json_object_get(j, "products"), 0);
            assert_string_equal(json_string_value(json_object_get(
                                p, "product")), "widget");
            assert_int_equal(json_integer_value(json_object_get(
                             p, "completed_today")), 1);
            json_decref(j);
        }
        resp_free(&r);
        e2e_hang_up(ag2);
    }

    e2e_hang_up(sw);
    e2e_hang_up(ag);
    e2e_hang_up(mon);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_metrics_equal_stats,
                                        setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_api_equal_stats, setup_redis,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_readyz_follows_redis,
                                        setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests, setup_memory,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tokens, setup_tokens, teardown),
        cmocka_unit_test(test_config_non_loopback),
        cmocka_unit_test_setup_teardown(test_care_end_to_end, setup_care,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
