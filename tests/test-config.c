/* test-config.c -- the YAML configuration loader: a complete good file,
 * then each kind of error, checking that the message names the file, the
 * line and the field; the duration syntax; one document per file; and
 * `ccrouted --check-config` (listen address) and `--help` run as the real
 * binary ($CCROUTE_BUILD, default build/). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "router.h"
#include "yamlwalk.h"

static void test_good_file(void **state)
{
    struct config c;
    char err[512];
    config_defaults(&c);
    if (config_load(&c, "tests/fixtures/config-good.yaml", err,
                    sizeof(err)) < 0)
        fail_msg("%s", err);
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 7411);
    assert_int_equal(c.max_frame, 32 * 1024);
    assert_int_equal(c.max_output, 1024 * 1024);
    assert_int_equal(c.grace_ms, 45000);
    assert_int_equal(c.log_level, LOG_DEBUG);
    assert_true(c.store.enabled);
    assert_int_equal(c.store.durability, STORE_DURABILITY_MEMORY);
    assert_string_equal(c.store.host, "10.0.0.5");
    assert_int_equal(c.store.port, 6390);
    assert_int_equal(c.store.db, 2);
    assert_string_equal(c.store.password, "secret");
    assert_string_equal(c.store.tenant, "acme");
    assert_int_equal(c.store.connect_timeout_ms, 500);
    assert_int_equal(c.store.command_timeout_ms, 1500);
    assert_int_equal(c.store.lease_ms, 3000);
    assert_int_equal(c.store.renew_ms, 750);
    assert_int_equal(c.store.max_pending, 5000);
    assert_string_equal(c.store.advertise, "10.0.0.9:7411");
    assert_int_equal(c.router.priority_weight_ms, 2000);
    assert_int_equal(c.router.value_weight_ms, 20);
    assert_int_equal(c.router.preferred_wait_ms, 5000);
    assert_int_equal(c.router.max_no_answer, 2);
    assert_false(c.router.voice_blocks_others);
    assert_int_equal(c.router.default_offer_timeout_ms, 12000);
    assert_int_equal(c.router.max_agents, 50);
    assert_int_equal(c.router.max_contacts, 500);
    assert_int_equal(c.router.nskills, 4);
    assert_string_equal(c.router.skills[2], "lang:en");
    assert_int_equal(c.router.nqueues, 2);

    const struct router_queue_config *q = &c.router.queues[0];
    assert_string_equal(q->name, "sales");
    assert_int_equal(q->nreq, 2);
    assert_string_equal(q->req[1].skill, "lang:en");
    assert_int_equal(q->req[1].min_level, 2);
    assert_int_equal(q->channel_mask,
                     (1u << ROUTER_CH_VOICE) | (1u << ROUTER_CH_CHAT));
    assert_int_equal(q->strategy, ROUTER_STRATEGY_MOST_SKILLED);
    assert_int_equal(q->sl_percent, 80);
    assert_int_equal(q->sl_threshold_ms, 20000);
    assert_int_equal(q->offer_timeout_ms, 15000);
    assert_int_equal(q->wrapup_ms, 10000);
    assert_int_equal(q->max_len, 100);
    assert_int_equal(q->max_wait_ms, 120000);
    assert_string_equal(q->overflow, "support");
    assert_int_equal(q->nsteps, 3);
    assert_int_equal(q->steps[0].kind, ROUTER_STEP_LOWER_LEVEL);
    assert_int_equal(q->steps[0].after_ms, 30000);
    assert_string_equal(q->steps[0].skill, "sales");
    assert_int_equal(q->steps[0].level, 1);
    assert_int_equal(q->steps[1].kind, ROUTER_STEP_DROP_SKILL);
    assert_string_equal(q->steps[1].skill, "lang:en");
    assert_int_equal(q->steps[2].kind, ROUTER_STEP_ADD_QUEUE);
    assert_int_equal(q->steps[2].after_ms, 90000);
    assert_string_equal(q->steps[2].queue, "support");
    assert_int_equal(c.router.queues[1].strategy, ROUTER_STRATEGY_ROUND_ROBIN);

    /* And the router accepts it. */
    const char *rerr = NULL;
    struct router *r = router_new(&c.router, 1, &rerr);
    if (!r)
        fail_msg("router_new: %s", rerr ? rerr : "?");
    router_free(r);
    config_fini(&c);
}

static void test_defaults_and_demo(void **state)
{
    struct config c;
    char err[512];
    config_defaults(&c);
    assert_int_equal(config_load_string(&c, "empty.yaml", "", 0, err,
                                        sizeof(err)), 0);
    assert_int_equal(c.listen_port, 7400);
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.max_frame, 65536);
    assert_int_equal(c.grace_ms, 30000);
    assert_false(c.store.enabled);
    config_fini(&c);

    config_defaults(&c);
    if (config_load(&c, "deploy/demo.yaml", err, sizeof(err)) < 0)
        fail_msg("%s", err);
    assert_true(c.store.enabled);
    assert_int_equal(c.store.port, 6390);
    assert_true(c.router.nqueues >= 5);
    const char *rerr = NULL;
    struct router *r = router_new(&c.router, 1, &rerr);
    if (!r)
        fail_msg("router_new(demo): %s", rerr ? rerr : "?");
    router_free(r);
    config_fini(&c);
}

/* Loads `text`; expects failure with every `want` substring in the error. */
static void expect_error(const char *text, const char *want1,
                         const char *want2)
{
    struct config c;
    char err[512];
    config_defaults(&c);
    int rc = config_load_string(&c, "t.yaml", text, strlen(text), err,
                                sizeof(err));
    config_fini(&c);
    if (rc == 0)
        fail_msg("accepted:\n%s", text);
    if (!strstr(err, want1) || (want2 && !strstr(err, want2)))
        fail_msg("error \"%s\" lacks \"%s\"%s%s", err, want1,
                 want2 ? " / " : "", want2 ? want2 : "");
}

static const char *queues_head =
    "skills: [a, b]\n"
    "queues:\n"
    "  - name: q0\n"
    "    skills: {a: 1}\n"
    "  - name: q1\n"
    "    skills: {a: 1, b: 2}\n";

/* `campaigns:` (campaign-config.h): a good entry is read with the
 * defaults filled; a bad one is refused with file:line and
 * campaign_config_check's words. */
static void test_campaigns(void **state)
{
    char text[1024];
    struct config c;
    char err[512];
    (void)state;

    snprintf(text, sizeof(text), "%scampaigns:\n"
             "  - name: winback\n"
             "    queue: q1\n"
             "    dialer: dlr\n"
             "    mode: predictive\n"
             "    retry_busy: 2m\n"
             "    compliance: 1500ms\n"
             "    blend_queues: [q0]\n"
             "    start: true\n", queues_head);
    config_defaults(&c);
    assert_int_equal(config_load_string(&c, "t.yaml", text, strlen(text), err,
                                        sizeof(err)), 0);
    assert_int_equal(c.ncampaigns, 1);
    assert_string_equal(c.campaigns[0].cfg.name, "winback");
    assert_int_equal(c.campaigns[0].cfg.mode, CAMPAIGN_MODE_PREDICTIVE);
    assert_int_equal(c.campaigns[0].cfg.retry_ms[CAMPAIGN_OUT_BUSY], 120000);
    assert_int_equal(c.campaigns[0].cfg.compliance_ms, 1500);
    assert_int_equal(c.campaigns[0].cfg.nblend, 1);
    assert_true(c.campaigns[0].start);
    /* the defaults CampaignUpsert would give */
    assert_int_equal(c.campaigns[0].cfg.max_attempts, 3);
    assert_int_equal(c.campaigns[0].cfg.dial_timeout_ms, 30000);
    assert_int_equal(c.campaigns[0].cfg.window_start_h, 9);
    config_fini(&c);

    snprintf(text, sizeof(text), "%scampaigns:\n"
             "  - {name: a, queue: q1, dialer: d}\n"
             "  - {name: b, queue: q7, dialer: d}\n", queues_head);
    expect_error(text, "t.yaml:9: campaigns[1]: campaign b: unknown queue "
                 "\"q7\"", NULL);
    snprintf(text, sizeof(text), "%scampaigns:\n"
             "  - name: a\n    queue: q1\n    dialer: d\n"
             "    mode: shotgun\n", queues_head);
    expect_error(text, "t.yaml:11: campaigns[0].mode: unknown mode "
                 "\"shotgun\"", NULL);
    snprintf(text, sizeof(text), "%scampaigns:\n"
             "  - {name: a, queue: q1, dialer: d, dial_timeout: 500ms}\n",
             queues_head);
    expect_error(text, "t.yaml:8: campaigns[0]: campaign a: dial timeout "
                 "must be 1..300 s", NULL);
    snprintf(text, sizeof(text), "%scampaigns:\n"
             "  - {name: a, queue: q1, dialer: d,\n"
             "     window_start_hour: 20, window_end_hour: 8}\n",
             queues_head);
    expect_error(text, "t.yaml:8: campaigns[0]: campaign a: calling window "
                 "must be 0 <= start < end <= 24 hours", NULL);
    snprintf(text, sizeof(text), "%scampaigns:\n"
             "  - {name: a, queue: q1, dialer: d}\n"
             "  - {name: a, queue: q0, dialer: d}\n", queues_head);
    expect_error(text, "t.yaml:9: campaigns[1]: campaign \"a\" is already "
                 "defined at line 8", NULL);
    snprintf(text, sizeof(text), "%scampaigns:\n"
             "  - {name: a, queue: q1}\n", queues_head);
    expect_error(text, "t.yaml:8: campaigns[0]: dialer is missing", NULL);
    expect_error("campaigns:\n  - {name: a, queue: q1, dialer: d, "
                 "priority: 101}\n", "t.yaml:2: campaigns[0].priority:",
                 NULL);
}

static void test_errors(void **state)
{
    char text[1024];

    /* The example from the issue: unknown enum value, with line + path. */
    snprintf(text, sizeof(text), "%s  - name: q2\n    strategy: fastest\n",
             queues_head);
    expect_error(text, "t.yaml:8: queues[2].strategy: unknown strategy "
                 "\"fastest\" (expected longest_idle, most_skilled, "
                 "least_occupied, round_robin, weighted_random)", NULL);
    /* Unknown keys, at every level. */
    expect_error("listen: 127.0.0.1:1\nlisten_port: 3\n", "t.yaml:2: "
                 "listen_port: unknown key", NULL);
    expect_error("redis:\n  hots: x\n", "t.yaml:2: redis.hots: unknown key",
                 NULL);
    snprintf(text, sizeof(text), "%s    colour: red\n", queues_head);
    expect_error(text, "t.yaml:7: queues[1].colour: unknown key", NULL);
    /* Bad values. */
    expect_error("grace: soon\n", "t.yaml:1: grace: \"soon\" is not a "
                 "duration", NULL);
    expect_error("max_frame: lots\n", "t.yaml:1: max_frame:", "not a size");
    expect_error("\n\nredis:\n  port: 70000\n", "t.yaml:4: redis.port: 70000 "
                 "is out of range", NULL);
    expect_error("redis: {enabled: maybe}\n", "t.yaml:1: redis.enabled:",
                 "not a boolean");
    expect_error("redis: {durability: disk}\n", "redis.durability: unknown "
                 "durability \"disk\"", NULL);
    expect_error("log_level: loud\n", "t.yaml:1: log_level: unknown log "
                 "level", NULL);
    expect_error("listen: nowhere\n", "t.yaml:1: listen:", "HOST:PORT");
    expect_error("routing: [1, 2]\n", "t.yaml:1: routing: expected a mapping",
                 NULL);
    /* Queue semantics. */
    snprintf(text, sizeof(text), "%s    channels: [voice, fax]\n",
             queues_head);
    expect_error(text, "t.yaml:7: queues[1].channels[1]: unknown channel "
                 "\"fax\"", NULL);
    snprintf(text, sizeof(text), "%s  - name: q0\n", queues_head);
    expect_error(text, "t.yaml:7: queues[2].name: queue \"q0\" defined "
                 "twice", NULL);
    snprintf(text, sizeof(text), "%s    overflow: q9\n", queues_head);
    expect_error(text, "t.yaml:7: queues[1].overflow: unknown queue \"q9\"",
                 NULL);
    snprintf(text, sizeof(text), "%s    reload_fallback: q9\n",
             queues_head);
    expect_error(text, "t.yaml:7: queues[1].reload_fallback: \"q9\" is not "
                 "another queue of this file", NULL);
    snprintf(text, sizeof(text), "%s    reload_fallback: q1\n", queues_head);
    expect_error(text, "t.yaml:7: queues[1].reload_fallback: \"q1\" is not "
                 "another queue of this file", NULL);
    snprintf(text, sizeof(text), "routing: {reload_fallback: q7}\n%s",
             queues_head);
    expect_error(text, "t.yaml:1: routing.reload_fallback: unknown queue "
                 "\"q7\"", NULL);
    snprintf(text, sizeof(text), "%s    skills: {c: 1}\n", queues_head);
    expect_error(text, "queues[1].skills", "given twice");
    snprintf(text, sizeof(text), "%s  - name: q2\n    skills: {zz: 1}\n",
             queues_head);
    expect_error(text, "t.yaml:8: queues[2].skills: unknown skill \"zz\"",
                 NULL);
    snprintf(text, sizeof(text), "%s    skills: {a: 11}\n", queues_head);
    snprintf(text, sizeof(text), "%s  - name: q2\n    skills: {a: 11}\n",
             queues_head);
    expect_error(text, "t.yaml:8: queues[2].skills.a: 11 is out of range",
                 NULL);
    snprintf(text, sizeof(text), "%s    steps:\n      - {after: 10s, drop: "
             "zz}\n", queues_head);
    expect_error(text, "t.yaml:8: queues[1].steps[0]: drop: skill \"zz\" is "
                 "not one of the queue's skills", NULL);
    snprintf(text, sizeof(text), "%s    steps:\n      - {drop: a}\n",
             queues_head);
    expect_error(text, "queues[1].steps[0]: missing \"after\"", NULL);
    snprintf(text, sizeof(text), "%s    steps:\n      - {after: 1s, drop: a, "
             "widen: q0}\n", queues_head);
    expect_error(text, "queues[1].steps[0].widen: a step does exactly one "
                 "thing", NULL);
    snprintf(text, sizeof(text), "%s    steps:\n      - {after: 1s, widen: "
             "qq}\n", queues_head);
    expect_error(text, "queues[1].steps[0]: widen: unknown queue \"qq\"",
                 NULL);
    snprintf(text, sizeof(text), "%s    service_level: {percent: 180}\n",
             queues_head);
    expect_error(text, "t.yaml:7: queues[1].service_level.percent: 180 is "
                 "out of range", NULL);
    expect_error("queues:\n  - skills: {a: 1}\n", "t.yaml:2: queues[0]: "
                 "missing \"name\"", NULL);
    /* YAML syntax. */
    expect_error("queues: [\n", "t.yaml:", "YAML syntax error");
    /* A missing file names the file. */
    struct config c;
    char err[512];
    config_defaults(&c);
    assert_int_equal(config_load(&c, "tests/fixtures/nope.yaml", err,
                                 sizeof(err)), -1);
    assert_non_null(strstr(err, "tests/fixtures/nope.yaml"));
    config_fini(&c);
}

/* `quota:` on a principal: parsed into the principal, absent keys 0
 * (unlimited), 0 and unknown keys refused with file and line. */
static void test_principal_quota(void **state)
{
    static const char *head =
        "principals:\n"
        "  - name: p\n"
        "    token_sha256: "
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n"
        "    roles: [switch]\n"
        "    clients: [\"p-*\"]\n";
    char text[1024];
    char err[512];
    struct config c;

    snprintf(text, sizeof(text), "%s    quota: {contacts: 30, "
             "requests_per_second: 200}\n", head);
    config_defaults(&c);
    if (config_load_string(&c, "t.yaml", text, strlen(text), err,
                           sizeof(err)) < 0)
        fail_msg("%s", err);
    assert_int_equal(c.auth.nprincipals, 1);
    assert_int_equal(c.auth.principals[0].quota_contacts, 30);
    assert_int_equal(c.auth.principals[0].quota_agents, 0);
    assert_int_equal(c.auth.principals[0].quota_rps, 200);
    config_fini(&c);

    snprintf(text, sizeof(text), "%s    quota: {agents: 0}\n", head);
    expect_error(text, "t.yaml:6: principals[0].quota.agents:", NULL);
    snprintf(text, sizeof(text), "%s    quota: {sessions: 3}\n", head);
    expect_error(text, "t.yaml:6: principals[0].quota.sessions: unknown key",
                 NULL);
}

static void test_value_syntax(void **state)
{
    uint64_t v;
    char host[64];
    int port;
    assert_int_equal(yamlwalk_parse_size("4MiB", &v), 0);
    assert_int_equal(v, 4u << 20);
    assert_int_equal(yamlwalk_parse_size("64k", &v), 0);
    assert_int_equal(v, 65536);
    assert_int_equal(yamlwalk_parse_size("12 parsecs", &v), -1);
    assert_int_equal(config_parse_listen("10.1.2.3:99", host, sizeof(host),
                                         &port), 0);
    assert_string_equal(host, "10.1.2.3");
    assert_int_equal(port, 99);
    assert_int_equal(config_parse_listen("[::1]:0", host, sizeof(host),
                                         &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    assert_int_equal(config_parse_listen(":7400", host, sizeof(host), &port),
                     0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(config_parse_listen("host", host, sizeof(host), &port),
                     -1);
    assert_int_equal(config_parse_listen("h:99999", host, sizeof(host),
                                         &port), -1);
}

/* One duration syntax (yamlwalk.h), the same for ccload's model
 * (tests/test-ccload.c checks that side): a unit is required, a bare
 * number is an error except 0, fractions are exact. */
static void test_duration_syntax(void **state)
{
    static const struct { const char *s; uint64_t us; } good[] = {
        { "30s", 30000000 }, { "500ms", 500000 }, { "2m", 120000000 },
        { "2min", 120000000 }, { "1h", 3600000000ull }, { "250us", 250 },
        { "1.5m", 90000000 }, { "1.1s", 1100000 }, { "0.25ms", 250 },
        { "3 s", 3000000 }, { "0", 0 }, { "0.0", 0 }, { "0s", 0 },
        { "1.50s", 1500000 },
    };
    static const char *const bad[] = {
        "20", "1.5", "-1s", "3 weeks", "s", "", "1.s", "0.0001us",
        "1e3ms", "+5s", "5S", "99999999999999999999h",
    };
    uint64_t us;
    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
        if (yamlwalk_parse_duration(good[i].s, &us) < 0)
            fail_msg("\"%s\" refused", good[i].s);
        if (us != good[i].us)
            fail_msg("\"%s\": %llu us, expected %llu", good[i].s,
                     (unsigned long long)us,
                     (unsigned long long)good[i].us);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        if (yamlwalk_parse_duration(bad[i], &us) == 0)
            fail_msg("\"%s\" accepted as %llu us", bad[i],
                     (unsigned long long)us);

    /* In the file: a bare number names the missing unit instead of being
     * read as milliseconds, and so does the old "_ms" key spelling. */
    expect_error("grace: 20\n", "t.yaml:1: grace: \"20\" needs a unit", NULL);
    expect_error("\nrouting:\n  offer_timeout: 15000\n", "t.yaml:3: "
                 "routing.offer_timeout: \"15000\" needs a unit", NULL);
    expect_error("grace_ms: 45000\n", "t.yaml:1: grace_ms: unknown key: "
                 "durations carry their unit, write \"grace: 45000ms\"",
                 NULL);
    expect_error("redis:\n  lease_ms: 2s\n", "t.yaml:2: redis.lease_ms: "
                 "unknown key", "write \"lease: 2s\"");
    expect_error("redis: {lease: 1.5ms}\n", "t.yaml:1: redis.lease: "
                 "\"1.5ms\" is not a whole number of milliseconds", NULL);
    expect_error("redis: {lease: 0}\n", "t.yaml:1: redis.lease: must be at "
                 "least 1 ms", NULL);
    /* service_level.seconds is a count in its key's unit. */
    expect_error("queues:\n  - name: q\n    service_level: {seconds: 20s}\n",
                 "t.yaml:3: queues[0].service_level.seconds: \"20s\" is "
                 "not a non-negative integer", NULL);

    struct config c;
    char err[512];
    const char *text = "grace: 1.5s\nrouting: {preferred_wait: 0, "
                       "offer_timeout: 2m}\nredis:\n  lease: 1h\n"
                       "  renew: 250ms\n";
    config_defaults(&c);
    if (config_load_string(&c, "t.yaml", text, strlen(text), err,
                           sizeof(err)) < 0)
        fail_msg("%s", err);
    assert_int_equal(c.grace_ms, 1500);
    assert_int_equal(c.router.preferred_wait_ms, 0);
    assert_int_equal(c.router.default_offer_timeout_ms, 120000);
    assert_int_equal(c.store.lease_ms, 3600000);
    assert_int_equal(c.store.renew_ms, 250);
    config_fini(&c);
}

/* A file holds one YAML document; a second one is an error at its line,
 * not silently ignored. */
static void test_one_document(void **state)
{
    expect_error("grace: 5s\n---\ngrace: 9s\n", "t.yaml:2: a second YAML "
                 "document", NULL);
    expect_error("queues: []\n---\n", "t.yaml:2: a second YAML document",
                 NULL);
    /* An explicit end marker with nothing after it is one document. */
    struct config c;
    char err[512];
    const char *text = "---\ngrace: 5s\n...\n";
    config_defaults(&c);
    if (config_load_string(&c, "t.yaml", text, strlen(text), err,
                           sizeof(err)) < 0)
        fail_msg("%s", err);
    assert_int_equal(c.grace_ms, 5000);
    config_fini(&c);
}

/* Every configuration error names the file and the line, including the
 * ones found after the whole file is read (cross references) and the
 * ones that used to surface only from router_new(). */
static void test_errors_name_line(void **state)
{
    static const struct { const char *text, *want; } cases[] = {
        /* a skill required twice in one queue: router_new() refused it,
         * with no line */
        { "queues:\n  - name: q\n    skills: {a: 1, b: 2, a: 3}\n",
          "t.yaml:3: queues[0].skills.a: given twice (first at line 3)" },
        { "queues:\n  - name: q\n    skills:\n      a: 1\n      a: 2\n",
          "t.yaml:5: queues[0].skills.a: given twice (first at line 4)" },
        { "grace: 1s\nlog_level: info\ngrace: 2s\n",
          "t.yaml:3: grace: given twice (first at line 1)" },
        /* renew against lease: checked after the file, had no line */
        { "redis:\n  enabled: true\n  lease: 1s\n  renew: 2s\n",
          "t.yaml:4: redis.renew: 2000 ms must be shorter than redis.lease "
          "(1000 ms)" },
        { "redis:\n  renew: 3s\n", "t.yaml:2: redis.renew: 3000 ms must be "
          "shorter than redis.lease (2000 ms)" },
        { "redis:\n  lease: 1ms\n", "t.yaml:2: redis.lease: 1 ms is too "
          "short" },
        { "redis:\n  reconnect_min: 5s\n", "t.yaml:2: redis.reconnect_min: "
          "5000 ms is longer than redis.reconnect_max (2000 ms)" },
        /* values router_new() would read as "use the default" */
        { "routing: {max_no_answer: 0}\n", "t.yaml:1: routing.max_no_answer: "
          "0 is out of range" },
        { "routing: {offer_timeout: 0}\n", "t.yaml:1: routing.offer_timeout: "
          "must be at least 1 ms" },
        { "queues:\n  - name: q\n    channels: []\n", "t.yaml:3: "
          "queues[0].channels: empty" },
        { "skills: [a, a]\n", "t.yaml:1: skills[1]: skill \"a\" listed "
          "twice" },
        { "queues:\n  - name: q\n    steps:\n      - {after: 1s, lower: "
          "{skill: a, level: 1}}\n", "t.yaml:4: queues[0].steps[0]: lower: "
          "skill \"a\" is not one of the queue's skills" },
        { "max_frame: 4\n", "t.yaml:1: max_frame: 4 is out of range" },
        { "queues: {a: 1}\n", "t.yaml:1: queues: expected a list" },
        { "- a\n- b\n", "t.yaml:1: expected a mapping" },
        { "listen: {address: 127.0.0.1, port: 99999}\n",
          "t.yaml:1: listen.port: 99999 is out of range" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
        expect_error(cases[i].text, cases[i].want, NULL);

    /* More queues than router_new() takes: refused at the first excess
     * queue's line. */
    size_t cap = (CONFIG_MAX_QUEUES + 2) * 16 + 16, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    len += (size_t)snprintf(text + len, cap - len, "queues:\n");
    for (int i = 0; i <= CONFIG_MAX_QUEUES; i++)
        len += (size_t)snprintf(text + len, cap - len, "  - name: q%d\n", i);
    char want[64];
    snprintf(want, sizeof(want), "t.yaml:%d: queues[%d]: at most %d queues",
             CONFIG_MAX_QUEUES + 2, CONFIG_MAX_QUEUES, CONFIG_MAX_QUEUES);
    expect_error(text, want, NULL);
    /* ... and exactly the maximum builds a router. */
    struct config c;
    char err[512];
    text[len - strlen("  - name: q512\n")] = '\0';
    config_defaults(&c);
    if (config_load_string(&c, "t.yaml", text, strlen(text), err,
                           sizeof(err)) < 0)
        fail_msg("%s", err);
    assert_int_equal(c.router.nqueues, CONFIG_MAX_QUEUES);
    const char *rerr = NULL;
    struct router *r = router_new(&c.router, 1, &rerr);
    if (!r)
        fail_msg("router_new: %s", rerr ? rerr : "?");
    router_free(r);
    config_fini(&c);
    free(text);
}

/* ---- --check-config and the listen address ---- */

/* A listening TCP socket on 127.0.0.1 at an ephemeral port. */
static int listener_open(int *port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(fd, 1) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

static void load_listen(struct config *c, const char *listen)
{
    char text[256], err[512];
    snprintf(text, sizeof(text), "log_level: info\nlisten: %s\n", listen);
    config_defaults(c);
    if (config_load_string(c, "t.yaml", text, strlen(text), err,
                           sizeof(err)) < 0)
        fail_msg("%s", err);
}

/* Input bounds: the routing keys of docs/security.md ("Input bounds")
 * with their defaults, and max_contacts / max_agents whose router would
 * not fit in memory refused at the later of their lines -- 100,000,000
 * contacts (about 34 GiB) is above the fixed 16 GiB bound on any
 * machine. */
static void test_input_bounds(void **state)
{
    struct config c;
    char err[512];
    config_defaults(&c);
    assert_int_equal(c.max_attributes, 32);
    assert_int_equal(c.max_attribute_bytes, 4096);
    assert_int_equal(c.router.max_contact_age_ms, 4u * 3600 * 1000);
    const char *text = "routing:\n  max_contact_age: 30m\n"
                       "  max_attributes: 8\n  max_attribute_bytes: 1KiB\n";
    if (config_load_string(&c, "t.yaml", text, strlen(text), err,
                           sizeof(err)) < 0)
        fail_msg("%s", err);
    assert_int_equal(c.router.max_contact_age_ms, 30u * 60 * 1000);
    assert_int_equal(c.max_attributes, 8);
    assert_int_equal(c.max_attribute_bytes, 1024);
    config_fini(&c);
    expect_error("routing:\n  max_attribute_bytes: 32MiB\n",
                 "t.yaml:2: routing.max_attribute_bytes:", NULL);

    /* the footprint grows with both maxima */
    assert_true(router_memory_need(10, 100) < router_memory_need(10, 1000));
    assert_true(router_memory_need(10, 100) < router_memory_need(1000, 100));
    assert_true(router_memory_need(0, 100000000) > (16ull << 30));
    expect_error("log_level: info\nrouting:\n  max_contacts: 100000000\n",
                 "t.yaml:3: routing.max_contacts: max_contacts 100000000 and "
                 "max_agents 10000 need ", "GiB of memory");
    expect_error("routing:\n  max_contacts: 100000000\n  max_agents: 10\n",
                 "t.yaml:3: routing.max_agents: max_contacts 100000000 and "
                 "max_agents 10 need ", NULL);
    /* a large but sane table (about 0.35 GiB) is accepted */
    text = "routing: {max_contacts: 1000000, max_agents: 20000}\n";
    config_defaults(&c);
    if (config_load_string(&c, "t.yaml", text, strlen(text), err,
                           sizeof(err)) < 0)
        fail_msg("%s", err);
    assert_true(router_memory_need(20000, 1000000) < (1ull << 30));
    config_fini(&c);
}

static void test_check_listen(void **state)
{
    struct config c;
    char err[512], addr[64], want[128];
    int port;

    /* A port another socket listens on. */
    int fd = listener_open(&port);
    assert_true(fd >= 0);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    load_listen(&c, addr);
    assert_int_equal(config_check_listen(&c, "t.yaml", err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "t.yaml:2: listen: cannot listen on "
             "127.0.0.1:%d: %s", port, strerror(EADDRINUSE));
    assert_string_equal(err, want);
    config_fini(&c);
    close(fd);

    /* Now free: the check passes and keeps nothing bound, so the port can
     * be listened on again right after it. */
    load_listen(&c, addr);
    assert_int_equal(config_check_listen(&c, "t.yaml", err, sizeof(err)), 0);
    config_fini(&c);
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 1), 0);
    close(fd);

    /* An address that is not on this host (TEST-NET-1). */
    load_listen(&c, "192.0.2.1:7400");
    assert_int_equal(config_check_listen(&c, "t.yaml", err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "t.yaml:2: listen: cannot listen on "
             "192.0.2.1:7400: %s", strerror(EADDRNOTAVAIL));
    assert_string_equal(err, want);
    config_fini(&c);

    /* A host name: the server resolves none, so neither does the check. */
    load_listen(&c, "no-such-host.invalid:7400");
    assert_int_equal(config_check_listen(&c, "t.yaml", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "t.yaml:2: listen: \"no-such-host.invalid\" "
                            "is not a numeric IP address"));
    config_fini(&c);

    /* localhost and port 0 are what the server accepts. */
    load_listen(&c, "localhost:0");
    assert_int_equal(config_check_listen(&c, "t.yaml", err, sizeof(err)), 0);
    config_fini(&c);
    /* Not from the file: no line to name. */
    config_defaults(&c);
    snprintf(c.listen_host, sizeof(c.listen_host), "192.0.2.1");
    assert_int_equal(config_check_listen(&c, "--listen", err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "--listen: listen: cannot listen on "
                            "192.0.2.1:7400"));
    config_fini(&c);
}

/* Runs build/ccrouted with `args`; stdout and stderr into the buffers.
 * Returns the exit status or -1. */
/* deploy/demo.yaml as the demo ships it, copied to `path` (a mkstemp
 * template) with its HTTP listener on an ephemeral port: --check-config
 * binds every listener, and 7401 is taken while a demo runs on this
 * machine (--listen moves the protocol listener only). */
static void demo_copy(char *path)
{
    char text[16384];
    FILE *in = fopen("deploy/demo.yaml", "r");
    assert_non_null(in);
    size_t n = fread(text, 1, sizeof(text) - 1, in);
    fclose(in);
    text[n] = '\0';
    char *at = strstr(text, "listen: 127.0.0.1:7401");
    assert_non_null(at);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *out = fdopen(fd, "w");
    assert_non_null(out);
    fwrite(text, 1, (size_t)(at - text), out);
    fputs("listen: 127.0.0.1:0", out);
    fputs(at + strlen("listen: 127.0.0.1:7401"), out);
    assert_int_equal(fclose(out), 0);
}

static int run_ccrouted(const char *const *args, char *out, size_t outlen,
                        char *errbuf, size_t errlen)
{
    const char *b = getenv("CCROUTE_BUILD");
    char bin[512], opath[] = "/tmp/cfgtest-out-XXXXXX",
         epath[] = "/tmp/cfgtest-err-XXXXXX";
    char *argv[16];
    int n = 0, st, ofd = mkstemp(opath), efd = mkstemp(epath);
    if (ofd < 0 || efd < 0)
        return -1;
    snprintf(bin, sizeof(bin), "%s/ccrouted", b && *b ? b : "build");
    argv[n++] = bin;
    for (int i = 0; args[i] && n < 15; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(ofd, 1);
        dup2(efd, 2);
        execv(bin, argv);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        st = -1;
    ssize_t r = pread(ofd, out, outlen - 1, 0);
    out[r > 0 ? r : 0] = '\0';
    r = pread(efd, errbuf, errlen - 1, 0);
    errbuf[r > 0 ? r : 0] = '\0';
    close(ofd);
    close(efd);
    unlink(opath);
    unlink(epath);
    return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A bad campaign entry: the daemon itself refuses to start, with the
 * file, the line and campaign_config_check's words. */
static void test_campaign_refuses_start(void **state)
{
    char out[4096], err[4096], path[] = "/tmp/cfgtest-XXXXXX", want[256];
    const char *text =
        "skills: [a]\n"
        "queues:\n"
        "  - {name: q0, skills: {a: 1}}\n"
        "campaigns:\n"
        "  - {name: ok, queue: q0, dialer: d}\n"
        "  - name: late\n"
        "    queue: q0\n"
        "    dialer: d\n"
        "    window_start_hour: 22\n"
        "    window_end_hour: 6\n";
    int cfd = mkstemp(path);
    (void)state;
    assert_true(cfd >= 0);
    assert_int_equal(write(cfd, text, strlen(text)), (ssize_t)strlen(text));
    close(cfd);
    const char *args[] = { "--config", path, "--listen", "127.0.0.1:0",
                           NULL };
    assert_int_equal(run_ccrouted(args, out, sizeof(out), err, sizeof(err)),
                     1);
    unlink(path);
    snprintf(want, sizeof(want), "%s:6: campaigns[1]: campaign late: "
             "calling window must be 0 <= start < end <= 24 hours", path);
    if (!strstr(err, want))
        fail_msg("stderr \"%s\" lacks \"%s\"", err, want);
}

static void test_check_config_command(void **state)
{
    char out[4096], err[4096], path[] = "/tmp/cfgtest-XXXXXX", text[256];
    char want[256];
    int port, fd = listener_open(&port);
    assert_true(fd >= 0);
    int cfd = mkstemp(path);
    assert_true(cfd >= 0);
    snprintf(text, sizeof(text), "# busy port\nlisten: 127.0.0.1:%d\n", port);
    assert_int_equal(write(cfd, text, strlen(text)), (ssize_t)strlen(text));
    close(cfd);

    /* The port is taken: exit 1 and a message naming file, line, field. */
    const char *busy[] = { "--check-config", "--config", path, NULL };
    assert_int_equal(run_ccrouted(busy, out, sizeof(out), err, sizeof(err)),
                     1);
    snprintf(want, sizeof(want), "%s:2: listen: cannot listen on "
             "127.0.0.1:%d: %s\n", path, port, strerror(EADDRINUSE));
    assert_string_equal(err, want);
    assert_string_equal(out, "");
    close(fd);

    /* Freed: OK; and again, which would fail had the first check kept the
     * port bound. */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(run_ccrouted(busy, out, sizeof(out), err,
                                      sizeof(err)), 0);
        assert_string_equal(out, "OK\n");
        assert_string_equal(err, "");
    }
    /* --listen overrides the file and is what the message names. */
    const char *remote[] = { "--check-config", "--config", path, "--listen",
                             "192.0.2.1:7400", NULL };
    assert_int_equal(run_ccrouted(remote, out, sizeof(out), err, sizeof(err)),
                     1);
    assert_non_null(strstr(err, "--listen: listen: cannot listen on "
                            "192.0.2.1:7400"));
    unlink(path);

    /* The shipped demo configuration: OK and not one warning. The
     * configuration names no agents (they bring their skills at login),
     * so there is nothing to say about queues nobody could serve. */
    char demo_path[] = "/tmp/cfgtest-demo-XXXXXX";
    demo_copy(demo_path);
    const char *demo[] = { "--check-config", "-c", demo_path,
                           "--listen", "127.0.0.1:0", NULL };
    assert_int_equal(run_ccrouted(demo, out, sizeof(out), err, sizeof(err)),
                     0);
    unlink(demo_path);
    assert_string_equal(out, "OK\n");
    assert_string_equal(err, "");

    /* A configuration error: exit 1, file:line: field. */
    const char *bad[] = { "--check-config", "--config",
                          "tests/fixtures/config-two-docs.yaml", NULL };
    assert_int_equal(run_ccrouted(bad, out, sizeof(out), err, sizeof(err)),
                     1);
    assert_string_equal(err, "tests/fixtures/config-two-docs.yaml:4: a "
                        "second YAML document (after \"---\"); the file must "
                        "hold exactly one\n");
}

/* --help lists every option main() accepts, with the short forms that
 * getopt takes, and each short form works. */
static void test_help_matches_options(void **state)
{
    static const char *const listed[] = {
        "-c, --config FILE", "--check-config", "-l, --listen HOST:PORT",
        "-p, --port-file FILE", "--log-level LEVEL", "-V, --version",
        "-h, --help",
    };
    char out[4096], err[4096];
    const char *help[] = { "--help", NULL };
    assert_int_equal(run_ccrouted(help, out, sizeof(out), err, sizeof(err)),
                     0);
    for (size_t i = 0; i < sizeof(listed) / sizeof(*listed); i++)
        if (!strstr(out, listed[i]))
            fail_msg("--help lacks \"%s\":\n%s", listed[i], out);
    const char *h[] = { "-h", NULL };
    assert_int_equal(run_ccrouted(h, out, sizeof(out), err, sizeof(err)), 0);
    assert_non_null(strstr(out, "usage: ccrouted"));
    const char *v[] = { "-V", NULL };
    assert_int_equal(run_ccrouted(v, out, sizeof(out), err, sizeof(err)), 0);
    assert_non_null(strstr(out, "ccrouted "));
    char demo_path[] = "/tmp/cfgtest-demo-XXXXXX";
    demo_copy(demo_path);
    const char *shorts[] = { "--check-config", "-c", demo_path,
                             "-l", "127.0.0.1:0", "-p", "/dev/null", NULL };
    assert_int_equal(run_ccrouted(shorts, out, sizeof(out), err, sizeof(err)),
                     0);
    unlink(demo_path);
    assert_string_equal(out, "OK\n");
    /* An option it does not take: usage on stderr, exit 2. */
    const char *unknown[] = { "--colour", NULL };
    assert_int_equal(run_ccrouted(unknown, out, sizeof(out), err,
                                  sizeof(err)), 2);
    assert_non_null(strstr(err, "usage: ccrouted"));
}

/* tenants: and tenant_pool: (docs/scaling.md) */
static void test_tenants(void **state)
{
    struct config c;
    char err[512];
    const char *list = "redis: {port: 6390}\ntenants: [acme, globex]\n";
    const char *pool = "redis: {port: 6390}\n"
                       "tenant_pool: {tenants: [a, b, c], max: 5}\n";

    config_defaults(&c);
    assert_int_equal(config_load_string(&c, "t.yaml", list, strlen(list),
                                        err, sizeof(err)), 0);
    assert_int_equal(c.tenants.n, 2);
    assert_string_equal(c.tenants.names[1], "globex");
    assert_int_equal(c.tenants.pool_max, 0);
    config_fini(&c);
    config_defaults(&c);
    assert_int_equal(config_load_string(&c, "t.yaml", pool, strlen(pool),
                                        err, sizeof(err)), 0);
    assert_int_equal(c.tenants.n, 3);
    assert_int_equal(c.tenants.pool_max, 3);    /* max above the set */
    config_fini(&c);

    expect_error("tenants: [a, a]\n", "t.yaml:1: tenants[1]: tenant \"a\" "
                 "is listed twice", NULL);
    expect_error("tenants: [\"a{b\"]\n", "tenants[0]: tenant \"a{b\" "
                 "contains a brace", NULL);
    expect_error("tenants: []\n", "t.yaml:1: tenants: names no tenant",
                 NULL);
    expect_error("tenants: [a]\ntenant_pool: {tenants: [b], max: 1}\n",
                 "give either tenants or tenant_pool", NULL);
    expect_error("redis: {tenant: x}\ntenants: [a]\n", "redis.tenant "
                 "(\"x\") both name tenants", NULL);
    expect_error("tenant_pool: {tenants: [a, b], max: 1}\n", "needs Redis",
                 NULL);
    expect_error("redis: {port: 1}\ntenant_pool: {tenants: [a]}\n",
                 "missing \"max\"", NULL);
    expect_error("redis: {port: 1}\ntenant_pool: {max: 2}\n",
                 "missing \"tenants\"", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tenants),
        cmocka_unit_test(test_good_file),
        cmocka_unit_test(test_defaults_and_demo),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_campaigns),
        cmocka_unit_test(test_principal_quota),
        cmocka_unit_test(test_value_syntax),
        cmocka_unit_test(test_duration_syntax),
        cmocka_unit_test(test_one_document),
        cmocka_unit_test(test_errors_name_line),
        cmocka_unit_test(test_input_bounds),
        cmocka_unit_test(test_check_listen),
        cmocka_unit_test(test_check_config_command),
        cmocka_unit_test(test_campaign_refuses_start),
        cmocka_unit_test(test_help_matches_options),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
