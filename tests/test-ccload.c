/* test-ccload.c -- ccload end to end: runs the real binary (as a child
 * process) against limit-server and against ccrouted, and checks what it
 * reports with --json against what the server says.
 *
 * Binaries come from $CCROUTE_BUILD (default "build"). The servers listen
 * on a free loopback port (--listen 127.0.0.1:0 --port-file); every
 * process is started and stopped through tests/harness.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ccload-model.h"
#include "client.h"
#include "harness.h"

/* Bound on one ccload run (the longest asks for 3 s of traffic). */
#define CCLOAD_TIMEOUT_MS 60000

static const char *build_dir(void)
{
    const char *b = getenv("CCROUTE_BUILD");
    return b && *b ? b : "build";
}

/* Starts `prog` (limit-server or ccrouted) with the given configuration
 * file (or NULL) and waits for its port (tests/harness.c). 0 or -1. */
static int server_start(struct harness_daemon *s, const char *prog,
                        const char *config)
{
    const char *args[] = { "--config", config, NULL };
    return harness_server_start(s, prog, config ? args : NULL) < 0 ? -1 : 0;
}

static void server_stop(struct harness_daemon *s)
{
    harness_daemon_stop(s, 3000);
}

/* Runs ccload with extra arguments; returns its exit status (or -1) and
 * reads the JSON it wrote into *json (malloc'd, may be NULL). */
static int run_ccload(const struct harness_daemon *s, const char *model,
                      const char *const *extra, char **json)
{
    char bin[512], target[64], jpath[512], epath[512];
    snprintf(bin, sizeof(bin), "%s/ccload", build_dir());
    snprintf(target, sizeof(target), "127.0.0.1:%d", s->port);
    snprintf(jpath, sizeof(jpath), "%s/out.json", s->dir);
    snprintf(epath, sizeof(epath), "%s/ccload.err", s->dir);
    const char *argv[32];
    int n = 0;
    argv[n++] = bin;
    argv[n++] = "-q";
    argv[n++] = "-m";
    argv[n++] = model;
    argv[n++] = "--json";
    argv[n++] = jpath;
    for (int i = 0; extra && extra[i] && n < 30; i++)
        argv[n++] = extra[i];
    argv[n++] = target;
    argv[n] = NULL;
    unlink(jpath);
    int st = harness_run(argv, epath, CCLOAD_TIMEOUT_MS);
    if (st < 0)
        return -1;
    if (json) {
        *json = NULL;
        FILE *f = fopen(jpath, "r");
        if (f) {
            char *buf = calloc(1, 4 << 20);
            size_t len = fread(buf, 1, (4 << 20) - 1, f);
            buf[len] = 0;
            fclose(f);
            *json = buf;
        }
    }
    if (st != 0)
        harness_log_dump(epath);
    return st < 128 ? st : -1;   /* 128 + signal: killed */
}

/* The number after "key": at or after `from` (the first one found). */
static long long jnum(const char *from, const char *key)
{
    char pat[128];
    snprintf(pat, sizeof(pat), "\"%s\": ", key);
    const char *p = strstr(from, pat);
    if (!p)
        fail_msg("key %s not in JSON", key);
    return strtoll(p + strlen(pat), NULL, 10);
}

/* The start of the object {"queue": "NAME", ...} in the queues list. */
static const char *jqueue(const char *json, const char *name)
{
    char pat[128];
    snprintf(pat, sizeof(pat), "{\"queue\": \"%s\"", name);
    const char *p = strstr(json, pat);
    if (!p)
        fail_msg("queue %s not in JSON", name);
    return p;
}

static const char *jsection(const char *json, const char *key)
{
    char pat[128];
    snprintf(pat, sizeof(pat), "\"%s\": ", key);
    const char *p = strstr(json, pat);
    if (!p)
        fail_msg("section %s not in JSON", key);
    return p;
}

/* ---- against limit-server (no engine) ---- */

static void test_limit_server_smoke(void **state)
{
    struct harness_daemon s;
    assert_int_equal(server_start(&s, "limit-server", NULL), 0);
    /* The drain ends as soon as every contact has ended (ccload: live ==
     * 0); its length is only the bound for a stuck run, so that every
     * Ack is in before the counts are compared. */
    const char *extra[] = {"--duration", "1.5", "--drain", "30", NULL};
    char *json = NULL;
    int rc = run_ccload(&s, "bench/scenarios/smoke.yaml", extra, &json);
    server_stop(&s);
    assert_int_equal(rc, 0);
    assert_non_null(json);
    const char *c = jsection(json, "contacts");
    long long sent = jnum(c, "sent");
    assert_true(sent > 20);                /* 40/s for 1.5 s */
    assert_true(sent < 200);
    assert_int_equal(jnum(c, "acked"), sent);
    /* limit-server offers every contact at once. */
    assert_int_equal(jnum(c, "offered"), sent);
    assert_int_equal(jnum(jsection(json, "errors"), "unexpected"), 0);
    assert_true(jnum(jsection(json, "routing"), "count") == sent);
    assert_non_null(strstr(json, "\"timeline\": ["));
    free(json);
}

static void test_limit_server_max_rate(void **state)
{
    struct harness_daemon s;
    assert_int_equal(server_start(&s, "limit-server", NULL), 0);
    const char *extra[] = {"--max-rate", "--duration", "1", "--window", "32",
                           NULL};
    char *json = NULL;
    int rc = run_ccload(&s, "bench/scenarios/bench-max.yaml", extra, &json);
    server_stop(&s);
    assert_int_equal(rc, 0);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"mode\": \"max-rate\""));
    long long rate = jnum(jsection(json, "max_rate"), "rate");
    assert_true(rate > 1000);   /* loopback, no routing: far more */
    const char *c = jsection(json, "contacts");
    assert_int_equal(jnum(c, "completed"), jnum(c, "sent"));
    free(json);
}

static void test_contacts_limit(void **state)
{
    struct harness_daemon s;
    assert_int_equal(server_start(&s, "limit-server", NULL), 0);
    const char *extra[] = {"--contacts", "25", "--rate", "500", "--drain",
                           "0.2", NULL};
    char *json = NULL;
    int rc = run_ccload(&s, "bench/scenarios/smoke.yaml", extra, &json);
    server_stop(&s);
    assert_int_equal(rc, 0);
    assert_int_equal(jnum(jsection(json, "contacts"), "sent"), 25);
    free(json);
}

/* ---- command line and model errors ---- */

static int run_plain(char *const argv[], char *errbuf, size_t len)
{
    char epath[] = "/tmp/ccload-err-XXXXXX";
    int fd = mkstemp(epath);
    if (fd >= 0)
        close(fd);
    int st = harness_run((const char *const *)argv, epath,
                         CCLOAD_TIMEOUT_MS);
    FILE *f = fopen(epath, "r");
    errbuf[0] = 0;
    if (f) {
        size_t n = fread(errbuf, 1, len - 1, f);
        errbuf[n] = 0;
        fclose(f);
    }
    unlink(epath);
    return st >= 0 && st < 128 ? st : -1;
}

static void test_refuses_remote_target(void **state)
{
    char bin[512], err[4096];
    snprintf(bin, sizeof(bin), "%s/ccload", build_dir());
    char *argv[] = {bin, "-m", "bench/scenarios/smoke.yaml", "192.0.2.1:7400",
                    NULL};
    assert_int_equal(run_plain(argv, err, sizeof(err)), 2);
    assert_non_null(strstr(err, "--allow-remote"));
}

static void test_bad_model_names_line(void **state)
{
    char path[] = "/tmp/ccload-model-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "name: bad\nmix:\n  - queue: q\n    shaer: 3\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char bin[512], err[4096];
    snprintf(bin, sizeof(bin), "%s/ccload", build_dir());
    char *argv[] = {bin, "-m", path, NULL};
    int rc = run_plain(argv, err, sizeof(err));
    unlink(path);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, ":4: mix[0].shaer: unknown key (expected "
                            "one of: name, share, queue"));
}

/* ---- the model's YAML, parsed in-process (bench/ccload-model.c) ---- */

/* Loads `text` as m.yaml; fails the test on an error. */
static void model_ok(struct model *m, const char *text)
{
    char err[512];
    if (model_load_string(m, "m.yaml", text, strlen(text), err,
                          sizeof(err)) < 0)
        fail_msg("%s", err);
}

/* Expects an error containing `want`. */
static void model_bad(const char *text, const char *want)
{
    static struct model m;
    char err[512];
    if (model_load_string(&m, "m.yaml", text, strlen(text), err,
                          sizeof(err)) == 0)
        fail_msg("accepted:\n%s", text);
    if (!strstr(err, want))
        fail_msg("error \"%s\" lacks \"%s\"", err, want);
}

/* Durations have the engine's syntax (engine/yamlwalk.h): a unit is
 * required, so a bare number cannot mean seconds here and milliseconds
 * there; 0 needs none. */
static void test_model_durations(void **state)
{
    static struct model m;
    model_ok(&m, "duration: 1.5m\ndrain: 0\nservice_level: 20s\n"
                 "arrivals:\n  curve:\n    - {at: 0, rate: 1}\n"
                 "    - {at: 500ms, rate: 2}\n"
                 "mix:\n  - {queue: q, patience: 1h}\n"
                 "agents:\n  - {skills: {a: 1}, think: 250us, "
                 "handle: {dist: uniform, min: 1.5s, max: 2min}, wrapup: 0}\n");
    assert_true(m.duration_s == 90.0);
    assert_true(m.drain_s == 0.0);
    assert_true(m.sl_threshold_ms == 20000.0);
    assert_int_equal(m.ncurve, 2);
    assert_true(m.curve[1].at_s == 0.5);
    assert_true(m.classes[0].patience.mean_ms == 3600000.0);
    assert_true(m.groups[0].think.mean_ms == 0.25);
    assert_true(m.groups[0].handle.min_ms == 1500.0);
    assert_true(m.groups[0].handle.max_ms == 120000.0);
    assert_int_equal(m.groups[0].wrapup.kind, DIST_FIXED);
    assert_true(m.groups[0].wrapup.mean_ms == 0.0);

    /* A bare number used to mean seconds here (and milliseconds in the
     * engine): now it names the missing unit, with file, line, field. */
    model_bad("name: x\nduration: 20\nmix:\n  - {queue: q}\n",
              "m.yaml:2: duration: \"20\" needs a unit (e.g. 20s or 20ms)");
    model_bad("mix:\n  - queue: q\n    patience: {mean: 1.5}\n",
              "m.yaml:3: mix[0].patience.mean: \"1.5\" needs a unit");
    model_bad("mix:\n  - {queue: q}\nagents:\n  - {skills: {a: 1}, "
              "think: soon}\n", "m.yaml:4: agents[0].think: \"soon\" is "
              "not a duration");
}

/* The same walker's rules as the engine's configuration: one document,
 * no key twice, every error with file and line. */
static void test_model_structure_errors(void **state)
{
    model_bad("mix:\n  - {queue: q}\n---\nmix:\n  - {queue: r}\n",
              "m.yaml:3: a second YAML document");
    model_bad("mix:\n  - {queue: q}\nagents:\n  - skills: {a: 1, a: 2}\n",
              "m.yaml:4: agents[0].skills.a: given twice (first at line 4)");
    model_bad("seed: 1\nseed: 2\nmix:\n  - {queue: q}\n",
              "m.yaml:2: seed: given twice (first at line 1)");
    model_bad("", "m.yaml:1: the model is empty");
    model_bad("name: x\n", "m.yaml:1: mix: at least one contact class");
    model_bad("mix:\n  - {queue: q, channel: fax}\n", "m.yaml:2: "
              "mix[0].channel: unknown channel \"fax\"");
    model_bad("mix:\n  - {queue: q, priority: [5, 1000]}\n", "m.yaml:2: "
              "mix[0].priority[1]: 1000 is out of range (0..100)");
    model_bad("mix:\n  - {queue: q}\nagents:\n  - skills: {a: 1}\n"
              "    capacity: {chat: 2, fax: 1}\n", "m.yaml:5: "
              "agents[0].capacity.fax: unknown key (expected one of: voice, "
              "chat, email, social)");
    static struct model m;
    model_ok(&m, "mix:\n  - {queue: q}\nagents:\n  - skills: {a: 1}\n"
                 "    capacity: {chat: 2, social: 3}\n");
    assert_int_equal(m.groups[0].capacity[CCROUTE__V1__CHANNEL__CHANNEL_CHAT],
                     2);
    assert_int_equal(
        m.groups[0].capacity[CCROUTE__V1__CHANNEL__CHANNEL_SOCIAL], 3);
    assert_int_equal(m.groups[0].capacity[CCROUTE__V1__CHANNEL__CHANNEL_VOICE],
                     0);
}

/* The outbound section: defaults, and its errors with file and line. */
static void test_model_outbound(void **state)
{
    static struct model m;
    model_ok(&m, "mix:\n  - {queue: q}\n");
    assert_false(m.ob.on);
    model_ok(&m, "mix:\n  - {queue: q}\noutbound:\n  campaign: c\n"
                 "  queue: q\n  mode: progressive\n  blend: [q, r]\n"
                 "  abandon_cap: 2.5\n  retry: 1m\n"
                 "  outcomes: {human: 1, busy: 1}\n  ring: 3s\n");
    assert_true(m.ob.on);
    assert_int_equal(m.ob.mode, CCROUTE__V1__DIAL_MODE__DIAL_MODE_PROGRESSIVE);
    assert_int_equal(m.ob.nblend, 2);
    assert_int_equal(m.ob.abandon_cap_bp, 250);
    assert_true(m.ob.retry_ms == 60000.0);
    assert_true(m.ob.outcome[OB_HUMAN] == 1.0);
    assert_true(m.ob.outcome[OB_NO_ANSWER] == 0.0);
    assert_int_equal(m.ob.leads, 1000);
    assert_true(m.ob.ring.mean_ms == 3000.0);
    model_bad("mix:\n  - {queue: q}\noutbound:\n  queue: q\n",
              "m.yaml:4: outbound: campaign and queue are required");
    model_bad("mix:\n  - {queue: q}\noutbound:\n  campaign: c\n  queue: q\n"
              "  mode: preview\n", "m.yaml:6: outbound.mode: unknown "
              "dialing mode \"preview\"");
    model_bad("mix:\n  - {queue: q}\noutbound:\n  campaign: c\n  queue: q\n"
              "  outcomes: {human: 0}\n", "outcomes add up to zero");
    model_bad("mix:\n  - {queue: q}\noutbound:\n  campaign: c\n  queue: q\n"
              "  outcomes: {answered: 1}\n", "m.yaml:6: "
              "outbound.outcomes.answered: unknown key");
}

/* ---- against ccrouted ---- */

struct qstats {
    unsigned long long offered, answered, abandoned;
    unsigned long long camp_dials, camp_connected;  /* its first campaign */
    int found;
};

static void collect_stats(void *arg, ccr_envelope *ev)
{
    ccr_envelope **out = arg;
    if (ev->body_case == CCROUTE__V1__ENVELOPE__BODY_STATS && !*out)
        *out = ev;
    else
        ccr_free(ev);
}

static int engine_queue_stats(int port, const char *queue, struct qstats *qs)
{
    struct ccr_client *c;
    memset(qs, 0, sizeof(*qs));
    if (ccr_client_connect("127.0.0.1", port, &c) < 0)
        return -1;
    if (ccr_client_hello(c, "test-ccload", CCROUTE__V1__ROLE__ROLE_MONITOR, 0,
                         2000) != 0) {
        ccr_client_close(c);
        return -1;
    }
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__StatsRequest sr = CCROUTE__V1__STATS_REQUEST__INIT;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_STATS_REQUEST;
    env.stats_request = &sr;
    ccr_envelope *stats = NULL, *reply = NULL;
    int rc = ccr_client_call(c, &env, 2000, collect_stats, &stats, &reply);
    if (rc == 0 && stats && stats->stats) {
        for (size_t i = 0; i < stats->stats->n_queues; i++) {
            Ccroute__V1__QueueStats *q = stats->stats->queues[i];
            if (q->queue && !strcmp(q->queue, queue)) {
                qs->offered = q->offered;
                qs->answered = q->answered;
                qs->abandoned = q->abandoned;
                qs->found = 1;
            }
        }
        if (stats->stats->n_campaigns) {
            qs->camp_dials = stats->stats->campaigns[0]->dials;
            qs->camp_connected = stats->stats->campaigns[0]->connected;
        }
    }
    ccr_free(stats);
    ccr_free(reply);
    ccr_client_close(c);
    return qs->found ? 0 : -1;
}

static void test_engine_counts_match_stats(void **state)
{
    char bin[512];
    snprintf(bin, sizeof(bin), "%s/ccrouted", build_dir());
    if (access(bin, X_OK) != 0)
        skip();
    struct harness_daemon s;
    assert_int_equal(server_start(&s, "ccrouted",
                                  "bench/scenarios/engine-bench.yaml"), 0);
    const char *extra[] = {"--duration", "3", NULL};
    char *json = NULL;
    int rc = run_ccload(&s, "bench/scenarios/smoke.yaml", extra, &json);
    if (rc != 0 || !json) {
        server_stop(&s);
        fail_msg("ccload exited %d", rc);
    }
    const char *c = jsection(json, "contacts");
    assert_true(jnum(c, "sent") > 50);
    assert_int_equal(jnum(c, "left"), 0);
    assert_int_equal(jnum(jsection(json, "errors"), "unexpected"), 0);
    static const char *const queues[] = {"sales_en", "support_en", "chat"};
    for (size_t i = 0; i < 3; i++) {
        struct qstats qs;
        assert_int_equal(engine_queue_stats(s.port, queues[i], &qs), 0);
        const char *q = jqueue(json, queues[i]);
        long long offered = jnum(q, "offered");
        long long answered = jnum(q, "answered");
        long long gone = jnum(q, "abandoned") + jnum(q, "cancelled");
        print_message("%s: engine offered %llu answered %llu abandoned %llu;"
                      " ccload %lld %lld %lld\n", queues[i], qs.offered,
                      qs.answered, qs.abandoned, offered, answered, gone);
        assert_true(offered > 0);
        assert_int_equal(qs.offered, offered);
        assert_int_equal(qs.answered, answered);
        assert_int_equal(qs.abandoned, gone);
    }
    server_stop(&s);
    free(json);
}

/* Inbound and a predictive campaign on the same agents
 * (bench/scenarios/blend.yaml): ccload plays the dialer; dials happen,
 * answered calls reach the agents, and inbound is served in both queues. */
static void test_engine_outbound_blend(void **state)
{
    char bin[512];
    snprintf(bin, sizeof(bin), "%s/ccrouted", build_dir());
    if (access(bin, X_OK) != 0)
        skip();
    struct harness_daemon s;
    assert_int_equal(server_start(&s, "ccrouted",
                                  "bench/scenarios/engine-bench.yaml"), 0);
    const char *extra[] = {"--duration", "4", NULL};
    char *json = NULL;
    int rc = run_ccload(&s, "bench/scenarios/blend.yaml", extra, &json);
    if (rc != 0 || !json) {
        server_stop(&s);
        fail_msg("ccload exited %d", rc);
    }
    const char *ob = jsection(json, "outbound");
    long long dials = jnum(ob, "dials"), connected = jnum(ob, "connected");
    print_message("outbound: dials %lld human %lld connected %lld completed "
                  "%lld dropped %lld\n", dials, jnum(ob, "human"), connected,
                  jnum(ob, "completed"), jnum(ob, "dropped"));
    assert_true(dials > 0);
    assert_true(connected > 0);
    assert_true(jnum(ob, "completed") > 0);
    assert_int_equal(jnum(jsection(json, "errors"), "unexpected"), 0);
    /* inbound was served in both queues, the blended one included */
    assert_true(jnum(jqueue(json, "sales_en"), "answered") > 0);
    assert_true(jnum(jqueue(json, "support_en"), "answered") > 0);
    /* the engine saw the campaign the same way */
    struct qstats qs;
    assert_int_equal(engine_queue_stats(s.port, "sales_en", &qs), 0);
    assert_true(qs.camp_dials >= (unsigned long long)dials);
    assert_true(qs.camp_connected >= (unsigned long long)connected);
    /* and the sales_en agents took both kinds: the queue answered more
     * than ccload's inbound contacts */
    assert_true(qs.answered > (unsigned long long)jnum(jqueue(json,
                                                              "sales_en"),
                                                       "answered"));
    server_stop(&s);
    free(json);
}

static void test_engine_unknown_queue_fails(void **state)
{
    char bin[512];
    snprintf(bin, sizeof(bin), "%s/ccrouted", build_dir());
    if (access(bin, X_OK) != 0)
        skip();
    char path[] = "/tmp/ccload-model-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "name: wrong\nduration: 0.5s\ndrain: 0.2s\n"
                       "arrivals: {rate: 20}\n"
                       "mix:\n  - {queue: no_such_queue}\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct harness_daemon s;
    assert_int_equal(server_start(&s, "ccrouted",
                                  "bench/scenarios/engine-bench.yaml"), 0);
    char *json = NULL;
    int rc = run_ccload(&s, path, NULL, &json);
    server_stop(&s);
    unlink(path);
    /* UNKNOWN_QUEUE is not an error ccload expects: exit status 1, and
     * the JSON still says what happened. */
    assert_int_equal(rc, 1);
    assert_non_null(json);
    assert_true(jnum(jsection(json, "errors"), "unexpected") > 0);
    assert_non_null(strstr(json, "\"UNKNOWN_QUEUE\""));
    free(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refuses_remote_target),
        cmocka_unit_test(test_bad_model_names_line),
        cmocka_unit_test(test_model_durations),
        cmocka_unit_test(test_model_structure_errors),
        cmocka_unit_test(test_model_outbound),
        cmocka_unit_test(test_limit_server_smoke),
        cmocka_unit_test(test_limit_server_max_rate),
        cmocka_unit_test(test_contacts_limit),
        cmocka_unit_test(test_engine_counts_match_stats),
        cmocka_unit_test(test_engine_unknown_queue_fails),
        cmocka_unit_test(test_engine_outbound_blend),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
