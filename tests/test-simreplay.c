/* test-simreplay.c -- ccsim --replay (bench/simreplay.c): a short ccload
 * run against a real ccrouted that writes its event stream to a real
 * redis-server (durability redis), then the stream replayed by ccsim
 * against the same configuration and agents.
 *
 * What must hold: every contact ccload sent comes back as one replayed
 * arrival in the same queue (offered per queue equal to ccload's count,
 * and to what the stream says), the replay ends every contact (answered
 * + abandoned = offered, nothing cut), and the stream's answered and
 * abandoned are what ccload counted. The replayed answered and abandoned
 * counts are compared too, with the reason they may differ: a contact
 * that abandoned in the live run abandons at the same moment in the
 * replay unless a simulated agent answers it first; the simulated agents
 * follow the model's think and reject draws, not the live ones. The
 * smoke model's agents answer in tens of milliseconds and its customers
 * wait seconds, so the live run abandons few, and the test asserts that
 * the replay's answered count is within those few of the live one.
 * Errors: a stream whose queue the configuration lacks names the queue
 * and the file; a Redis that is not there names the address.
 *
 * Every process is started and stopped through tests/harness.h, each
 * run bounded. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "e2e-util.h"
#include "harness.h"

#define RUN_MS 60000

static const char *build_dir(void)
{
    const char *b = getenv("CCROUTE_BUILD");
    return b && *b ? b : "build";
}

static const char engine_yaml[] =
    "log_level: warn\n"
    "listen: 127.0.0.1:0\n"
    "redis:\n"
    "  enabled: true\n"
    "  durability: redis\n"
    "  port: %d\n"
    "skills: [sales, support, chat, \"lang:en\"]\n"
    "queues:\n"
    "  - name: sales_en\n"
    "    skills: {sales: 1, \"lang:en\": 1}\n"
    "    channels: [voice]\n"
    "    offer_timeout: 5s\n"
    "    wrapup: 0\n"
    "  - name: support_en\n"
    "    skills: {support: 1, \"lang:en\": 1}\n"
    "    channels: [voice]\n"
    "    offer_timeout: 5s\n"
    "    wrapup: 0\n"
    "  - name: chat\n"
    "    skills: {chat: 1}\n"
    "    channels: [chat]\n"
    "    offer_timeout: 5s\n"
    "    wrapup: 0\n";

static json_t *load_json(const char *path)
{
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) {
        harness_log_dump(path);
        fail_msg("%s: not JSON: %s", path, je.text);
    }
    return j;
}

static json_t *queue_of(json_t *list, const char *name)
{
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *q = json_array_get(list, i);
        if (!strcmp(json_string_value(json_object_get(q, "queue")), name))
            return q;
    }
    fail_msg("queue %s not in the output", name);
    return NULL;
}

static long long ival(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!v || !json_is_number(v))
        fail_msg("no number %s", k);
    return (long long)json_number_value(v);
}

static void test_replay_of_a_live_run(void **state)
{
    struct harness_redis rs;
    struct harness_daemon d;
    char cfg[2048], bin[512], target[64], out[600], log[600];
    assert_int_equal(harness_redis_start(&rs), 0);
    snprintf(cfg, sizeof(cfg), engine_yaml, rs.port);
    if (harness_daemon_start(&d, cfg, NULL) < 0) {
        harness_redis_stop(&rs);
        fail_msg("ccrouted did not start");
    }
    /* The port file comes before the lease and the load: until then a
     * Hello is answered STATE_UNAVAILABLE ("not serving yet"), which
     * ccload takes as fatal. A Hello of our own, retried, until one is
     * taken. */
    {
        struct e2e_client probe;
        e2e_open_hello_retry(&probe, d.port, "probe", E2E_ROLE(MONITOR),
                             false);
        e2e_close(&probe);
    }

    /* the live run: ccload's smoke model, 3 s of arrivals */
    snprintf(bin, sizeof(bin), "%s/ccload", build_dir());
    snprintf(target, sizeof(target), "127.0.0.1:%d", d.port);
    snprintf(out, sizeof(out), "%s/ccload.json", d.dir);
    snprintf(log, sizeof(log), "%s/ccload.log", d.dir);
    const char *load[] = { bin, "-q", "-m", "bench/scenarios/smoke.yaml",
                           "--duration", "3", "--json", out, target, NULL };
    int rc = harness_run(load, log, RUN_MS);
    if (rc != 0) {
        harness_log_dump(log);
        harness_daemon_dump_log(&d);
    }
    assert_int_equal(rc, 0);
    json_t *live = load_json(out);
    assert_int_equal(ival(json_object_get(live, "contacts"), "left"), 0);

    /* the replay, against the engine's own configuration */
    snprintf(bin, sizeof(bin), "%s/ccsim", build_dir());
    snprintf(target, sizeof(target), "127.0.0.1:%d", rs.port);
    snprintf(out, sizeof(out), "%s/ccsim.json", d.dir);
    snprintf(log, sizeof(log), "%s/ccsim.log", d.dir);
    const char *sim[] = { bin, "--config", d.config, "--traffic",
                          "bench/scenarios/smoke.yaml", "--replay", target,
                          "--json", NULL };
    FILE *f;
    {
        /* ccsim writes JSON to stdout: through a shell-free redirect */
        char sh[1600];
        snprintf(sh, sizeof(sh), "%s/replay.sh", d.dir);
        f = fopen(sh, "w");
        assert_non_null(f);
        fprintf(f, "#!/bin/sh\nexec \"$@\" >'%s'\n", out);
        fclose(f);
        chmod(sh, 0755);
        const char *argv[16] = { sh };
        for (int i = 0; sim[i]; i++)
            argv[i + 1] = sim[i];
        rc = harness_run(argv, log, RUN_MS);
        if (rc != 0)
            harness_log_dump(log);
        assert_int_equal(rc, 0);
    }
    json_t *rep = load_json(out);
    json_t *rp = json_object_get(rep, "replay");
    assert_non_null(rp);
    assert_int_equal(ival(rp, "skills_only"), 0);

    static const char *const queues[] = { "sales_en", "support_en", "chat" };
    long long sent = 0, live_answered = 0, live_abandoned = 0;
    long long sim_answered = 0;
    for (size_t i = 0; i < 3; i++) {
        json_t *lq = queue_of(json_object_get(live, "queues"), queues[i]);
        json_t *sq = json_object_get(queue_of(json_object_get(rep, "queues"),
                                              queues[i]), "total");
        long long off = ival(lq, "offered");
        long long ans = ival(lq, "answered");
        long long gone = ival(lq, "abandoned") + ival(lq, "cancelled");
        print_message("  %-10s live: offered %lld answered %lld abandoned "
                      "%lld; replay: offered %lld answered %lld abandoned "
                      "%lld\n", queues[i], off, ans, gone,
                      ival(sq, "offered"), ival(sq, "answered"),
                      ival(sq, "abandoned"));
        assert_true(off > 0);
        assert_int_equal(ival(sq, "offered"), off);
        assert_int_equal(ival(sq, "answered") + ival(sq, "abandoned"), off);
        assert_int_equal(ival(sq, "cut"), 0);
        assert_int_equal(ival(sq, "refused"), 0);
        sent += off;
        live_answered += ans;
        live_abandoned += gone;
        sim_answered += ival(sq, "answered");
    }
    assert_int_equal(ival(rp, "contacts"), sent);
    assert_int_equal(ival(rp, "stream_answered"), live_answered);
    assert_int_equal(ival(rp, "stream_abandoned"), live_abandoned);
    assert_true(sim_answered >= live_answered - live_abandoned &&
                sim_answered <= live_answered + live_abandoned);

    /* a configuration without one of the stream's queues: an error that
     * names the queue and the file */
    char other[700];
    snprintf(other, sizeof(other), "%s/other.yaml", d.dir);
    f = fopen(other, "w");
    assert_non_null(f);
    fputs("queues:\n  - name: sales_en\n    skills: {sales: 1}\n", f);
    fclose(f);
    snprintf(log, sizeof(log), "%s/ccsim-other.log", d.dir);
    const char *bad[] = { bin, "--config", other, "--traffic",
                          "bench/scenarios/smoke.yaml", "--replay", target,
                          NULL };
    unlink(log);
    assert_int_equal(harness_run(bad, log, RUN_MS), 1);
    f = fopen(log, "r");
    assert_non_null(f);
    char text[4096];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = 0;
    fclose(f);
    if (!strstr(text, "is not in") || !strstr(text, "other.yaml") ||
        !(strstr(text, "\"support_en\"") || strstr(text, "\"chat\"")))
        fail_msg("unexpected error:\n%s", text);

    json_decref(live);
    json_decref(rep);
    harness_daemon_stop(&d, 5000);

    /* nobody at that address any more */
    harness_redis_stop(&rs);
    char tmp[256];
    assert_int_equal(harness_tmpdir(tmp, sizeof(tmp), "simreplay"), 0);
    snprintf(log, sizeof(log), "%s/ccsim.log", tmp);
    const char *gone[] = { bin, "--config", "bench/scenarios/engine-bench.yaml",
                           "--traffic", "bench/scenarios/smoke.yaml",
                           "--replay", target, NULL };
    unlink(log);
    assert_int_equal(harness_run(gone, log, RUN_MS), 1);
    f = fopen(log, "r");
    assert_non_null(f);
    n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = 0;
    fclose(f);
    harness_rm_rf(tmp);
    if (!strstr(text, "--replay 127.0.0.1:"))
        fail_msg("unexpected error:\n%s", text);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_of_a_live_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
