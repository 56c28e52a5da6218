/* test-wallboard.c -- the wallboard (GET /, docs/http.md) in a real
 * browser, and its event stream (GET /api/v1/events) with a real HTTP
 * client, against the real daemon over real sockets.
 *
 * The browser is Debian's headless Chromium driven through ChromeDriver
 * (packages chromium and chromium-driver; deploy/deps.sh installs both):
 * the test speaks WebDriver's HTTP+JSON to chromedriver, opens the
 * wallboard, and reads what the page shows out of its DOM (the tiles'
 * text, not the stream's JSON). `chromium --dump-dom` cannot do this: it
 * dumps at the page's load event, before the first event arrives, and
 * its --virtual-time-budget never ends while an event stream is open.
 * Without chromedriver the browser tests are skipped with a message; the
 * stream tests run regardless.
 *
 * Every wait is on a condition (the page showing a figure, a frame with a
 * later id, a line in the engine's log) with a deadline; nothing sleeps
 * in place of a condition, and no timing is asserted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "e2e-util.h"
#include "harness.h"

#define T_MS E2E_T_MS
#define BODY(x) E2E_BODY(x)
#define ROLE(x) E2E_ROLE(x)

/* ---- an HTTP client: one request per connection ---- */

static int dial_opt(int port, int rcvbuf)
{
    struct sockaddr_in a = { .sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port) };
    struct timeval tv = { T_MS / 1000, 0 };
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* before connect(), so that the window is small from the start */
    if (rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
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

/* The whole answer's length when `buf` (len bytes) holds its head with a
 * Content-Length, else 0 (read to the end of stream). chromedriver keeps
 * the connection open after its answer, Connection: close or not. */
static size_t answer_len(const char *buf, size_t len)
{
    const char *h = memmem(buf, len, "\r\n\r\n", 4);
    size_t hl;
    if (!h)
        return 0;
    hl = (size_t)(h - buf) + 4;
    for (const char *p = buf; p < h; p = strchr(p, '\n') + 1) {
        if (!strncasecmp(p, "Content-Length:", 15))
            return hl + strtoul(p + 15, NULL, 10);
        if (!strchr(p, '\n'))
            break;
    }
    return 0;
}

/* Reads an answer: to its Content-Length when it has one, else to the end
 * of stream; NULL when a read fails or times out first. */
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
        buf[len] = '\0';
        if (answer_len(buf, len) && len >= answer_len(buf, len))
            break;
    }
    buf[len] = '\0';
    *n = len;
    return buf;
}

struct resp {
    int status;
    char *head, *body;
};

static void resp_free(struct resp *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* One request (body: NULL for none) on its own connection. */
static int http_req(int port, const char *method, const char *path,
                    const char *headers, const char *body, struct resp *r)
{
    size_t blen = body ? strlen(body) : 0, n = 0;
    size_t cap = 1024 + blen;
    char *req = malloc(cap), *all, *sep;
    int fd = dial_opt(port, 0), len;
    assert_non_null(req);
    assert_true(fd >= 0);
    len = snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                   "Connection: close\r\n%s%s%zu\r\n\r\n", method, path,
                   port, headers ? headers : "",
                   body ? "Content-Type: application/json\r\n"
                          "Content-Length: " : "Content-Length: ", blen);
    assert_true(len > 0 && (size_t)len < cap);
    send_all(fd, req, (size_t)len);
    if (blen)
        send_all(fd, body, blen);
    free(req);
    all = read_all(fd, &n);
    close(fd);
    if (!all)
        fail_msg("%s %s: no answer", method, path);
    memset(r, 0, sizeof(*r));
    assert_int_equal(sscanf(all, "HTTP/1.%*d %d", &r->status), 1);
    sep = strstr(all, "\r\n\r\n");
    assert_non_null(sep);
    r->head = strndup(all, (size_t)(sep - all));
    r->body = strdup(sep + 4);
    free(all);
    return r->status;
}

/* ---- the event stream, read as a browser would ---- */

struct frame {
    long long id;
    char event[32];
    char *data;             /* malloc'd */
};

struct stream {
    int fd;
    char *buf;
    size_t len, cap;
    bool head_done;
    char head[2048];
};

static void stream_open(struct stream *s, int port, int rcvbuf,
                        const char *headers)
{
    char req[512];
    memset(s, 0, sizeof(*s));
    s->fd = dial_opt(port, rcvbuf);
    assert_true(s->fd >= 0);
    snprintf(req, sizeof(req), "GET /api/v1/events HTTP/1.1\r\n"
             "Host: 127.0.0.1\r\nAccept: text/event-stream\r\n%s\r\n",
             headers ? headers : "");
    send_all(s->fd, req, strlen(req));
    s->cap = 1 << 16;
    s->buf = malloc(s->cap);
    assert_non_null(s->buf);
}

static void stream_close(struct stream *s)
{
    if (s->fd >= 0)
        close(s->fd);
    free(s->buf);
    memset(s, 0, sizeof(*s));
    s->fd = -1;
}

/* Takes one chunk of the chunked body out of s->buf into `out` (the
 * payload appended); 1 when one was taken, 0 when more bytes are needed. */
static int dechunk(struct stream *s, char **out, size_t *olen, size_t *ocap)
{
    char *crlf = memmem(s->buf, s->len, "\r\n", 2);
    unsigned long sz;
    size_t hl, need;
    if (!crlf)
        return 0;
    sz = strtoul(s->buf, NULL, 16);
    hl = (size_t)(crlf - s->buf) + 2;
    need = hl + sz + 2;
    if (s->len < need)
        return 0;
    if (*olen + sz + 1 > *ocap) {
        *ocap = (*olen + sz + 1) * 2;
        *out = realloc(*out, *ocap);
        assert_non_null(*out);
    }
    memcpy(*out + *olen, s->buf + hl, sz);
    *olen += sz;
    (*out)[*olen] = '\0';
    memmove(s->buf, s->buf + need, s->len - need);
    s->len -= need;
    return 1;
}

/* The next frame with data (retry-only blocks are skipped), within
 * timeout_ms; false on the end of stream or the deadline. */
static bool stream_next(struct stream *s, struct frame *f, int timeout_ms,
                        char **text, size_t *tlen, size_t *tcap)
{
    long long end = harness_now_ms() + timeout_ms;
    for (;;) {
        char *sep;
        if (!s->head_done) {
            char *h = memmem(s->buf, s->len, "\r\n\r\n", 4);
            if (h) {
                size_t hl = (size_t)(h - s->buf) + 4;
                snprintf(s->head, sizeof(s->head), "%.*s", (int)hl, s->buf);
                memmove(s->buf, s->buf + hl, s->len - hl);
                s->len -= hl;
                s->head_done = true;
            }
        }
        while (s->head_done && dechunk(s, text, tlen, tcap))
            ;
        while (*text && (sep = strstr(*text, "\n\n")) != NULL) {
            size_t bl = (size_t)(sep - *text) + 2;
            char *block = strndup(*text, bl);
            char *line, *save = NULL;
            memset(f, 0, sizeof(*f));
            f->id = -1;
            for (line = strtok_r(block, "\n", &save); line;
                 line = strtok_r(NULL, "\n", &save)) {
                if (!strncmp(line, "id: ", 4))
                    f->id = atoll(line + 4);
                else if (!strncmp(line, "event: ", 7))
                    snprintf(f->event, sizeof(f->event), "%s", line + 7);
                else if (!strncmp(line, "data: ", 6))
                    f->data = strdup(line + 6);
            }
            free(block);
            memmove(*text, *text + bl, *tlen - bl + 1);
            *tlen -= bl;
            if (f->data)
                return true;
        }
        if (harness_now_ms() > end)
            return false;
        if (s->len + 65536 > s->cap) {
            s->cap *= 2;
            s->buf = realloc(s->buf, s->cap);
            assert_non_null(s->buf);
        }
        {
            struct timeval tv = { 0, 200000 };
            ssize_t r;
            setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
            r = recv(s->fd, s->buf + s->len, s->cap - s->len - 1, 0);
            if (r == 0)
                return false;
            if (r > 0)
                s->len += (size_t)r;
            else if (errno != EAGAIN && errno != EWOULDBLOCK)
                return false;
        }
    }
}

/* A stream reader with its own text buffer. */
struct reader {
    struct stream s;
    char *text;
    size_t tlen, tcap;
};

static void reader_open(struct reader *r, int port, int rcvbuf)
{
    memset(r, 0, sizeof(*r));
    stream_open(&r->s, port, rcvbuf, NULL);
}

static bool reader_next(struct reader *r, struct frame *f, int timeout_ms)
{
    return stream_next(&r->s, f, timeout_ms, &r->text, &r->tlen, &r->tcap);
}

static void reader_close(struct reader *r)
{
    stream_close(&r->s);
    free(r->text);
    r->text = NULL;
}

/* ---- WebDriver (chromedriver) ---- */

struct wd {
    struct harness_proc proc;
    int port;
    char session[128];
    char dir[256];
};

static bool have_chromedriver(void)
{
    const char *argv[] = { "sh", "-c", "command -v chromedriver && "
                           "command -v chromium", NULL };
    return harness_run(argv, NULL, T_MS) == 0;
}

/* A WebDriver command; returns its "value" (new reference) and fails the
 * test on a transport error or a WebDriver error. */
static json_t *wd_call(struct wd *w, const char *method, const char *path,
                       json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct resp r;
    json_error_t je;
    json_t *j, *v;
    http_req(w->port, method, path, NULL, text ? text : (body ? "{}" : NULL),
             &r);
    free(text);
    j = json_loads(r.body, 0, &je);
    if (!j)
        fail_msg("webdriver %s %s: %d %s", method, path, r.status, r.body);
    if (r.status != 200)
        fail_msg("webdriver %s %s: %d %s", method, path, r.status, r.body);
    v = json_incref(json_object_get(j, "value"));
    json_decref(j);
    resp_free(&r);
    return v;
}

static void wd_start(struct wd *w)
{
    char arg[64], log[320];
    const char *argv[] = { "chromedriver", arg, NULL };
    long long end;
    json_t *caps, *v;

    memset(w, 0, sizeof(*w));
    assert_int_equal(harness_tmpdir(w->dir, sizeof(w->dir), "ccr-wd"), 0);
    w->port = harness_free_port();
    assert_true(w->port > 0);
    snprintf(arg, sizeof(arg), "--port=%d", w->port);
    snprintf(log, sizeof(log), "%s/chromedriver.log", w->dir);
    assert_int_equal(harness_proc_start(&w->proc, argv, log, true), 0);
    /* ready when /status answers */
    end = harness_now_ms() + T_MS;
    for (;;) {
        int fd = dial_opt(w->port, 0);
        if (fd >= 0) {
            close(fd);
            break;
        }
        if (!harness_proc_alive(&w->proc, NULL) || harness_now_ms() > end) {
            harness_log_dump(log);
            fail_msg("chromedriver did not start");
        }
        harness_pause_ms(50);
    }
    caps = json_pack("{s:{s:{s:{s:s,s:[s,s,s,s,s]}}}}", "capabilities",
                     "alwaysMatch", "goog:chromeOptions", "binary",
                     "/usr/bin/chromium", "args", "--headless",
                     "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1920,1080");
    assert_non_null(caps);
    v = wd_call(w, "POST", "/session", caps);
    json_decref(caps);
    snprintf(w->session, sizeof(w->session), "%s",
             json_string_value(json_object_get(v, "sessionId")));
    json_decref(v);
    assert_true(w->session[0]);
}

static void wd_stop(struct wd *w)
{
    char path[256];
    if (!w->proc.pid)
        return;
    if (w->session[0]) {
        struct resp r;
        snprintf(path, sizeof(path), "/session/%s", w->session);
        http_req(w->port, "DELETE", path, NULL, NULL, &r);
        resp_free(&r);
    }
    harness_proc_stop(&w->proc, 5000);
    harness_rm_rf(w->dir);
    w->proc.pid = 0;
}

static void wd_go(struct wd *w, const char *url)
{
    char path[256];
    json_t *b = json_pack("{s:s}", "url", url);
    snprintf(path, sizeof(path), "/session/%s/url", w->session);
    json_decref(wd_call(w, "POST", path, b));
    json_decref(b);
}

/* Runs `script` in the page; its return value (new reference). */
static json_t *wd_js(struct wd *w, const char *script)
{
    char path[256];
    json_t *b = json_pack("{s:s,s:[]}", "script", script, "args");
    json_t *v;
    snprintf(path, sizeof(path), "/session/%s/execute/sync", w->session);
    v = wd_call(w, "POST", path, b);
    json_decref(b);
    return v;
}

/* What the page shows, read from its DOM: the header's totals, each
 * tile's figures and colour, the agents by state, the snapshot's seq. */
static const char VIEW_JS[] =
    "var o = {state: document.body.getAttribute('data-state'),"
    " seq: Number(document.body.getAttribute('data-seq')),"
    " href: location.href, title: document.title,"
    " text: document.body.innerText.slice(0, 300),"
    " waiting: (document.getElementById('contacts-waiting') || {})"
    "   .textContent,"
    " agents_in: (document.getElementById('agents-logged-in') || {})"
    "   .textContent,"
    " marker: window.ccrMarker || 0, tiles: {}, agents: {}};"
    "document.querySelectorAll('.tile').forEach(function (t) {"
    "  function f(n) { return t.querySelector('[data-field=\"' + n +"
    "    '\"]').textContent; }"
    "  o.tiles[t.getAttribute('data-queue')] = {waiting: f('waiting'),"
    "   sl: f('sl'), longest: f('longest'), unservable: f('unservable'),"
    "   colour: t.getAttribute('data-sl')};"
    "});"
    "document.querySelectorAll('[data-agents]').forEach(function (e) {"
    "  o.agents[e.getAttribute('data-agents')] = e.textContent; });"
    "return o;";

/* Polls the page until `ok(view, arg)` holds, up to T_MS; returns the
 * last view (new reference). */
static json_t *wd_until(struct wd *w, bool (*ok)(json_t *, const void *),
                        const void *arg)
{
    long long end = harness_now_ms() + T_MS;
    for (;;) {
        json_t *v = wd_js(w, VIEW_JS);
        if (ok(v, arg) || harness_now_ms() > end)
            return v;
        json_decref(v);
        harness_pause_ms(100);
    }
}

static const char *vs(json_t *v, const char *k)
{
    const char *s = json_string_value(json_object_get(v, k));
    return s ? s : "";
}

static json_t *tile(json_t *v, const char *q)
{
    return json_object_get(json_object_get(v, "tiles"), q);
}

/* ---- fixtures ---- */

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
                 "  port: %d\n  tenant: wb\n", redis_port);
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

struct wd;

struct fx {
    struct e2e_env *env;
    struct wd *wd;                  /* the browser, while one runs */
    struct harness_daemon big;      /* test_events_slow_client's daemon */
    bool big_up;
    int http_port;
};

static int fx_start(void **state, bool redis, const char *extra_http,
                    const char *extra)
{
    struct fx *fx = calloc(1, sizeof(*fx));
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
    struct fx *fx;
    long long end;
    if (fx_start(state, true, "", "") < 0)
        return -1;
    fx = *state;
    end = harness_now_ms() + 10000;
    for (;;) {
        struct resp r;
        int st = http_req(fx->http_port, "GET", "/readyz", NULL, NULL, &r);
        resp_free(&r);
        if (st == 200)
            return 0;
        if (harness_now_ms() > end)
            return -1;
        harness_pause_ms(50);
    }
}

static int setup_memory(void **state)
{
    return fx_start(state, false, "  max_connections: 4\n", "");
}

#define TOKEN(p) ("wallboard-token-" p "-0123456789abcdef")

static int setup_tokens(void **state)
{
    static char principals[1024];
    char m[65], s[65];
    e2e_token_hex(TOKEN("mon"), m);
    e2e_token_hex(TOKEN("sw"), s);
    snprintf(principals, sizeof(principals),
        "principals:\n"
        "  - {name: mon, token_sha256: %s, roles: [monitor],"
        " clients: [\"*\"]}\n"
        "  - {name: sw, token_sha256: %s, roles: [switch], clients: [\"*\"],"
        " agents: [\"*\"]}\n", m, s);
    return fx_start(state, false, "  require_token: true\n", principals);
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    void *env = fx ? fx->env : NULL;
    int rc;
    if (fx && fx->wd) {
        wd_stop(fx->wd);    /* a test that failed half-way left it */
        free(fx->wd);
    }
    rc = env ? e2e_env_teardown(&env) : 0;
    if (fx && fx->big_up && harness_daemon_stop(&fx->big, 5000) != 0)
        rc = -1;
    free(fx);
    return rc;
}

/* ---- traffic ---- */

/* As test-http.c's, brought to rest:
 *   sales:   c1 answered and completed, c2 abandoned, c4 offered to a1;
 *   support: c3 waiting, unservable (no agent has the skill);
 *   agents:  a1 offered, a2 away. */
static void traffic(struct e2e_client *sw, struct e2e_client *ag)
{
    ccr_envelope *e;
    assert_int_equal(e2e_agent_login(ag, "a1", "sales", 5, 1, 0), 0);
    assert_int_equal(e2e_contact(sw, "c1", "sales", E2E_VOICE), 0);
    e = e2e_wait_offer(ag, "c1", T_MS);
    assert_non_null(e);
    ccr_free(e);
    assert_int_equal(e2e_simple(ag, BODY(OFFER_ACCEPTED), "c1", "a1"), 0);
    assert_int_equal(e2e_contact(sw, "c2", "sales", E2E_VOICE), 0);
    assert_int_equal(e2e_simple(sw, BODY(CONTACT_ABANDONED), "c2", NULL), 0);
    assert_int_equal(e2e_contact(sw, "c3", "support", E2E_VOICE), 0);
    assert_int_equal(e2e_simple(sw, BODY(CONTACT_COMPLETED), "c1", NULL), 0);
    assert_int_equal(e2e_agent_login(ag, "a2", "sales", 5, 1, 0), 0);
    assert_int_equal(e2e_agent_state(ag, "a2",
                     CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AWAY, "lunch"),
                     0);
    assert_int_equal(e2e_contact(sw, "c4", "sales", E2E_VOICE), 0);
    e = e2e_wait_offer(ag, "c4", T_MS);
    assert_non_null(e);
    ccr_free(e);
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

/* Whether the page shows exactly what Stats `st` says: every queue's
 * waiting and unservable contacts and service level, the totals, the
 * agents by status. */
static bool view_matches(json_t *v, const void *arg)
{
    const Ccroute__V1__Stats *st = arg;
    char want[64];
    static const char *const sts[] = { "available", "offered", "on_contact",
                                       "away", "wrapup" };
    if (strcmp(vs(v, "state"), "live"))
        return false;
    snprintf(want, sizeof(want), "%u", st->contacts_waiting);
    if (strcmp(vs(v, "waiting"), want))
        return false;
    snprintf(want, sizeof(want), "%u", st->agents_logged_in);
    if (strcmp(vs(v, "agents_in"), want))
        return false;
    if (json_object_size(json_object_get(v, "tiles")) != st->n_queues)
        return false;
    for (size_t i = 0; i < st->n_queues; i++) {
        const Ccroute__V1__QueueStats *q = st->queues[i];
        json_t *t = tile(v, q->queue);
        if (!t)
            return false;
        snprintf(want, sizeof(want), "%u", q->waiting);
        if (strcmp(vs(t, "waiting"), want))
            return false;
        snprintf(want, sizeof(want), "%u unservable",
                 q->contacts_unservable);
        if (strcmp(vs(t, "unservable"), want))
            return false;
        if (q->answered + q->abandoned)
            snprintf(want, sizeof(want), "%.0f%%",
                     q->service_level * 100.0);
        else
            snprintf(want, sizeof(want), "\u2013");
        if (strcmp(vs(t, "sl"), want))
            return false;
    }
    for (size_t s = 0; s < 5; s++) {
        unsigned n = 0;
        for (size_t i = 0; i < st->n_agents; i++)
            n += !strcmp(stats_status(st->agents[i]), sts[s]);
        snprintf(want, sizeof(want), "%u", n);
        if (strcmp(vs(json_object_get(v, "agents"), sts[s]), want))
            return false;
    }
    return true;
}

static void expect_view(struct wd *w, const Ccroute__V1__Stats *st,
                        json_t **out)
{
    json_t *v = wd_until(w, view_matches, st);
    if (!view_matches(v, st)) {
        char *d = json_dumps(v, JSON_INDENT(1));
        fail_msg("the wallboard does not show what Stats says "
                 "(contacts_waiting %u); it shows:\n%s", st->contacts_waiting,
                 d);
    }
    *out = v;
}

/* ---- tests: the browser ---- */

static void test_browser_shows_stats(void **state)
{
    struct fx *fx = *state;
    struct e2e_client *sw = e2e_env_dial_hello(fx->env, "sw", ROLE(SWITCH));
    struct e2e_client *ag = e2e_env_dial_hello(fx->env, "desk", ROLE(AGENT));
    struct e2e_client *mon = e2e_env_dial_hello(fx->env, "mon",
                                                ROLE(MONITOR));
    ccr_envelope *st;
    struct wd *wp = fx->wd = calloc(1, sizeof(*wp));
    char url[128];
    json_t *v, *m;
    long long seq;

    if (!have_chromedriver()) {
        e2e_hang_up(sw);
        e2e_hang_up(ag);
        e2e_hang_up(mon);
        fprintf(stderr, "chromedriver or chromium not installed "
                "(deploy/deps.sh installs them): browser test skipped\n");
        skip();
    }
    traffic(sw, ag);
    st = e2e_stats(mon);
    /* the state traffic() left, so that the comparison is not 0 == 0 */
    assert_int_equal(st->stats->contacts_waiting, 2);

    assert_non_null(wp);
    wd_start(wp);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", fx->http_port);
    wd_go(wp, url);
    expect_view(wp, st->stats, &v);
    assert_string_equal(vs(v, "title"), "ccrouted wallboard");
    /* sales: 1 of 2 in the service level against a target of 80%: red;
     * support has no target: grey */
    assert_string_equal(vs(tile(v, "sales"), "colour"), "red");
    assert_string_equal(vs(tile(v, "sales"), "sl"), "50%");
    assert_string_equal(vs(tile(v, "support"), "colour"), "none");
    assert_string_equal(vs(tile(v, "support"), "unservable"),
                        "1 unservable");
    assert_string_equal(vs(json_object_get(v, "agents"), "offered"), "1");
    assert_string_equal(vs(json_object_get(v, "agents"), "away"), "1");
    seq = json_integer_value(json_object_get(v, "seq"));
    json_decref(v);
    ccr_free(st);

    /* contacts arrive; the page follows without being loaded again (the
     * marker set now would be gone after a reload) */
    json_decref(wd_js(wp, "window.ccrMarker = 42; return 1;"));
    assert_int_equal(e2e_contact(sw, "c5", "support", E2E_VOICE), 0);
    assert_int_equal(e2e_contact(sw, "c6", "support", E2E_CHAT), 0);
    assert_int_equal(e2e_contact(sw, "c7", "sales", E2E_VOICE), 0);
    st = e2e_stats(mon);
    assert_int_equal(st->stats->contacts_waiting, 5);
    expect_view(wp, st->stats, &v);
    assert_string_equal(vs(tile(v, "support"), "waiting"), "3");
    assert_string_equal(vs(tile(v, "support"), "unservable"),
                        "3 unservable");
    assert_string_equal(vs(tile(v, "sales"), "waiting"), "2");
    assert_true(json_integer_value(json_object_get(v, "seq")) > seq);
    m = json_object_get(v, "marker");
    assert_int_equal(json_integer_value(m), 42);
    json_decref(v);
    ccr_free(st);

    /* and back down when they are answered or abandoned */
    assert_int_equal(e2e_simple(sw, BODY(CONTACT_ABANDONED), "c5", NULL), 0);
    assert_int_equal(e2e_simple(sw, BODY(CONTACT_ABANDONED), "c7", NULL), 0);
    st = e2e_stats(mon);
    expect_view(wp, st->stats, &v);
    assert_string_equal(vs(tile(v, "support"), "waiting"), "2");
    /* sales: 1 of 3 now */
    assert_string_equal(vs(tile(v, "sales"), "sl"), "33%");
    json_decref(v);
    ccr_free(st);

    wd_stop(wp);
    e2e_hang_up(sw);
    e2e_hang_up(ag);
    e2e_hang_up(mon);
}

static bool shows_text(json_t *v, const void *arg)
{
    return strstr(vs(v, "text"), arg) != NULL;
}

static bool is_live(json_t *v, const void *arg)
{
    return !strcmp(vs(v, "state"), "live") &&
           json_object_size(json_object_get(v, "tiles")) == 2;
}

/* On a listener that wants tokens: the page opened without one is 401;
 * with ?token= of a switch 403; with a monitor's it redirects to the page
 * without the token in its address, and the cookie opens the files and
 * the stream. */
static void test_browser_token(void **state)
{
    struct fx *fx = *state;
    struct wd *wp = fx->wd = calloc(1, sizeof(*wp));
    char url[256];
    json_t *v;

    if (!have_chromedriver()) {
        fprintf(stderr, "chromedriver or chromium not installed "
                "(deploy/deps.sh installs them): browser test skipped\n");
        skip();
    }
    assert_non_null(wp);
    wd_start(wp);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", fx->http_port);
    wd_go(wp, url);
    v = wd_until(wp, shows_text, "unauthorized");
    assert_non_null(strstr(vs(v, "text"), "unauthorized"));
    json_decref(v);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/?token=%s",
             fx->http_port, TOKEN("sw"));
    wd_go(wp, url);
    v = wd_until(wp, shows_text, "forbidden");
    assert_non_null(strstr(vs(v, "text"), "forbidden"));
    json_decref(v);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/?token=%s",
             fx->http_port, TOKEN("mon"));
    wd_go(wp, url);
    v = wd_until(wp, is_live, NULL);
    if (!is_live(v, NULL))
        fail_msg("not live with the token: %s", vs(v, "text"));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", fx->http_port);
    assert_string_equal(vs(v, "href"), url);
    json_decref(v);
    wd_stop(wp);
}

/* ---- tests: the stream with an HTTP client ---- */

static void test_events_stream(void **state)
{
    struct fx *fx = *state;
    struct e2e_client *sw = e2e_env_dial_hello(fx->env, "sw", ROLE(SWITCH));
    struct reader r, r2, r3;
    struct frame f;
    struct resp hr;
    json_t *j, *q;
    long long first;
    int sales_waiting = -1;

    reader_open(&r, fx->http_port, 0);
    assert_true(reader_next(&r, &f, T_MS));
    assert_non_null(strstr(r.s.head, "HTTP/1.1 200"));
    assert_non_null(strstr(r.s.head, "text/event-stream"));
    assert_string_equal(f.event, "snapshot");
    first = f.id;
    j = json_loads(f.data, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "seq")), f.id);
    assert_int_equal(json_array_size(json_object_get(j, "queues")), 2);
    assert_true(json_is_object(json_object_get(j, "agents")));
    json_decref(j);
    free(f.data);

    /* a contact arrives; a later frame shows it, with a later id */
    assert_int_equal(e2e_contact(sw, "s1", "sales", E2E_VOICE), 0);
    {
        long long end = harness_now_ms() + T_MS;
        while (sales_waiting != 1 && harness_now_ms() < end &&
               reader_next(&r, &f, T_MS)) {
            assert_true(f.id > first);
            j = json_loads(f.data, 0, NULL);
            assert_non_null(j);
            q = json_array_get(json_object_get(j, "queues"), 0);
            assert_string_equal(json_string_value(json_object_get(q,
                                "name")), "sales");
            sales_waiting = (int)json_integer_value(json_object_get(q,
                                                    "waiting"));
            json_decref(j);
            free(f.data);
        }
    }
    assert_int_equal(sales_waiting, 1);

    /* HEAD: the headers, no stream */
    http_req(fx->http_port, "HEAD", "/api/v1/events", NULL, NULL, &hr);
    assert_int_equal(hr.status, 200);
    assert_non_null(strstr(hr.head, "text/event-stream"));
    resp_free(&hr);

    /* max_connections 4 here: at most 2 streams; a third is 503 */
    reader_open(&r2, fx->http_port, 0);
    assert_true(reader_next(&r2, &f, T_MS));
    free(f.data);
    reader_open(&r3, fx->http_port, 0);
    assert_false(reader_next(&r3, &f, 2000));
    assert_non_null(strstr(r3.s.head, "HTTP/1.1 503"));
    reader_close(&r3);
    /* the files and probes still get in */
    assert_int_equal(http_req(fx->http_port, "GET", "/", NULL, NULL, &hr),
                     200);
    assert_non_null(strstr(hr.head, "text/html"));
    assert_non_null(strstr(hr.body, "wallboard.js"));
    resp_free(&hr);
    assert_int_equal(http_req(fx->http_port, "GET", "/wallboard.js", NULL,
                              NULL, &hr), 200);
    assert_non_null(strstr(hr.body, "EventSource"));
    resp_free(&hr);

    /* a closed stream frees its place: the engine finds out at its next
     * write, so try until a new stream is taken */
    reader_close(&r2);
    {
        long long end = harness_now_ms() + T_MS;
        bool got = false;
        while (!got && harness_now_ms() < end) {
            reader_open(&r3, fx->http_port, 0);
            got = reader_next(&r3, &f, 2000);
            if (got)
                free(f.data);
            reader_close(&r3);
        }
        assert_true(got);
    }
    reader_close(&r);
    e2e_hang_up(sw);
}

/* A client that does not read: its frames are skipped, not queued (the
 * ids it finally reads jump), and once it has not taken a frame for
 * http.request_timeout its connection is closed. Frames are made large
 * (512 queues, about 200 KB) and the client's receive buffer small, so
 * that a few frames fill what the kernel holds. */
static void test_events_slow_client(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    size_t cap = 64 * 1024, n = 0;
    char *cfg = malloc(cap);
    struct reader fast, slow;
    struct frame f;
    long long first_fast, last_slow, end;
    bool gap = false;
    struct resp hr;
    char *rest;
    size_t rl;

    assert_non_null(fx);
    assert_non_null(cfg);
    *state = fx;
    fx->http_port = harness_free_port();
    n += (size_t)snprintf(cfg + n, cap - n, "log_level: info\n"
        "redis: {enabled: false}\n"
        "routing: {offer_timeout: 60s, max_agents: 100, "
        "max_contacts: 1000}\nskills: [s]\nqueues:\n");
    for (int i = 0; i < 512; i++)
        n += (size_t)snprintf(cfg + n, cap - n, "  - {name: a-queue-with-a-"
            "long-name-that-makes-a-large-frame-%03d, skills: {s: 1}}\n", i);
    n += (size_t)snprintf(cfg + n, cap - n, "http:\n  listen: 127.0.0.1:%d\n"
        "  request_timeout: 6s\n", fx->http_port);
    assert_true(n < cap);
    assert_int_equal(harness_daemon_start(&fx->big, cfg, NULL), 0);
    fx->big_up = true;
    free(cfg);

    reader_open(&slow, fx->http_port, 4096);
    reader_open(&fast, fx->http_port, 0);
    assert_true(reader_next(&fast, &f, T_MS));
    assert_true(strlen(f.data) > 150000);
    first_fast = f.id;
    free(f.data);
    /* three ticks pass while the slow client reads nothing: its first
     * frame is more than the kernel's buffers between the two hold (the
     * engine fixes the stream's send buffer), and three ticks are fewer
     * than http.request_timeout (6 s) */
    do {
        assert_true(reader_next(&fast, &f, T_MS));
        free(f.data);
    } while (f.id < first_fast + 3);

    /* the slow client reads now: what it gets jumps over the skipped */
    assert_true(reader_next(&slow, &f, T_MS));
    last_slow = f.id;
    free(f.data);
    end = harness_now_ms() + T_MS;
    while (!gap && harness_now_ms() < end && reader_next(&slow, &f, T_MS)) {
        if (f.id > last_slow + 1)
            fprintf(stderr, "slow client: frame %lld after %lld\n", f.id,
                    last_slow);
        gap = f.id > last_slow + 1;
        assert_true(f.id > last_slow);
        last_slow = f.id;
        free(f.data);
    }
    assert_true(gap);

    /* now it stops reading for good: closed after request_timeout, and
     * the engine answers all along */
    assert_true(harness_daemon_log_contains(&fx->big, "an event stream's "
                "client has not read", 30000));
    assert_int_equal(http_req(fx->http_port, "GET", "/healthz", NULL, NULL,
                              &hr), 200);
    resp_free(&hr);
    /* what the kernel still held, then the end of the stream */
    rest = read_all(slow.s.fd, &rl);
    assert_non_null(rest);
    free(rest);
    reader_close(&slow);
    reader_close(&fast);
}

static int setup_none(void **state)
{
    *state = NULL;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_browser_shows_stats,
                                        setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_browser_token, setup_tokens,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_events_stream, setup_memory,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_events_slow_client, setup_none,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
