/* test-config.c -- the YAML configuration loader: a complete good file,
 * then each kind of error, checking that the message names the file, the
 * line and the field. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "router.h"

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

static void test_value_syntax(void **state)
{
    uint64_t v;
    char host[64];
    int port;
    assert_int_equal(config_parse_duration("30s", 1, &v), 0);
    assert_int_equal(v, 30000);
    assert_int_equal(config_parse_duration("500ms", 1, &v), 0);
    assert_int_equal(v, 500);
    assert_int_equal(config_parse_duration("2m", 1, &v), 0);
    assert_int_equal(v, 120000);
    assert_int_equal(config_parse_duration("1h", 1, &v), 0);
    assert_int_equal(v, 3600000);
    assert_int_equal(config_parse_duration("250", 1, &v), 0);
    assert_int_equal(v, 250);
    assert_int_equal(config_parse_duration("20", 1000, &v), 0);
    assert_int_equal(v, 20000);
    assert_int_equal(config_parse_duration("-1s", 1, &v), -1);
    assert_int_equal(config_parse_duration("3 weeks", 1, &v), -1);
    assert_int_equal(config_parse_size("4MiB", &v), 0);
    assert_int_equal(v, 4u << 20);
    assert_int_equal(config_parse_size("64k", &v), 0);
    assert_int_equal(v, 65536);
    assert_int_equal(config_parse_size("12 parsecs", &v), -1);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file),
        cmocka_unit_test(test_defaults_and_demo),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_value_syntax),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
