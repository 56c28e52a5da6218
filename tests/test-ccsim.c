/* test-ccsim.c -- ccsim (bench/sim.c, tools/ccsim.c) checked against
 * queueing theory, for determinism and for its errors.
 *
 * Theory. One queue, Poisson arrivals, exponential handle times, c
 * identical agents who accept every offer at once (think time 0: the
 * router offers and the simulated agent must accept, or the agent would
 * be reserved longer than it serves), no wrap-up: that is M/M/c, and with
 * exponential patience M/M/c+M, so the simulated probability of waiting,
 * service level and abandon rate must match Erlang C and Erlang A
 * (engine/erlang.c, tested on its own in test-erlang.c). The first half
 * hour (the queue starts empty) is left out. The tolerance is TOL_PP
 * percentage points; each run is long enough that the 95% confidence
 * half-width from batch means (20 batches of intervals) is well inside it,
 * and the test asserts that too, so a pass means the simulator agrees with
 * the formula to that precision, not that the run was too short to tell.
 * The seed is fixed, so the test is deterministic.
 *
 * Determinism and errors go through the built binary ($CCROUTE_BUILD/ccsim)
 * with files written to a temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ccload-model.h"
#include "config.h"
#include "erlang.h"
#include "harness.h"
#include "sim.h"

#define TOL_PP 1.5
#define BATCHES 20
#define RUN_MS 60000

struct point {
    unsigned agents;
    double occupancy;       /* offered load / agents */
    double aht_s, target_s;
    double patience_s;      /* 0: none (Erlang C) */
    double contacts;        /* how many to simulate */
};

struct measured {
    double p_wait, sl, abandon;
    double hw_wait, hw_sl, hw_abandon;   /* 95% half-widths */
};

/* 95% half-width of the mean of the batch values (t with 19 degrees of
 * freedom: 2.093). */
static double half_width(const double *v, unsigned n)
{
    double mean = 0, ss = 0;
    for (unsigned i = 0; i < n; i++)
        mean += v[i];
    mean /= n;
    for (unsigned i = 0; i < n; i++)
        ss += (v[i] - mean) * (v[i] - mean);
    return 2.093 * sqrt(ss / (n - 1) / n);
}

static void simulate(const struct point *p, uint64_t seed,
                     struct measured *out)
{
    static struct config cfg;
    static struct model m;
    char text[2048], err[512];
    double rate = p->occupancy * p->agents / p->aht_s;
    int n;

    n = snprintf(text, sizeof(text),
                 "queues:\n"
                 "  - name: q\n"
                 "    skills: {s: 1}\n"
                 "    service_level: {percent: 80, seconds: %u}\n"
                 "    wrapup: 0\n", (unsigned)p->target_s);
    config_defaults(&cfg);
    if (config_load_string(&cfg, "routing.yaml", text, (size_t)n, err,
                           sizeof(err)) < 0)
        fail_msg("%s", err);
    char patience[64];
    if (p->patience_s > 0)
        snprintf(patience, sizeof(patience),
                 "{dist: exponential, mean: %gs}", p->patience_s);
    else
        snprintf(patience, sizeof(patience), "none");
    n = snprintf(text, sizeof(text),
                 "name: erlang\n"
                 "arrivals: {rate: %.17g}\n"
                 "patience: %s\n"
                 "mix:\n"
                 "  - {name: q, queue: q}\n"
                 "agents:\n"
                 "  - group: a\n"
                 "    count: %u\n"
                 "    skills: {s: 1}\n"
                 "    think: 0\n"
                 "    handle: {dist: exponential, mean: %gs}\n",
                 rate, patience, p->agents, p->aht_s);
    if (model_load_string(&m, "model.yaml", text, (size_t)n, err,
                          sizeof(err)) < 0)
        fail_msg("%s", err);

    struct sim_opts so = { .seed = seed, .hours = p->contacts / rate / 3600,
                           .interval_s = 1800 };
    struct sim_report *rep = NULL;
    if (sim_run(&cfg.router, "routing.yaml", &m, "model.yaml", &so, &rep,
                err, sizeof(err)) < 0)
        fail_msg("%s", err);
    assert_int_equal(rep->nrows, 1);

    /* intervals 1..n-1 (the last one's contacts end in the drain, which
     * the counts include: they are counted by arrival) */
    unsigned from = 1, to = rep->nintervals;
    unsigned per = (to - from) / BATCHES;
    assert_true(per >= 1);
    double bw[BATCHES], bs[BATCHES], ba[BATCHES];
    struct sim_cell all, b;
    sim_report_sum(rep, 0, from, from + per * BATCHES, &all);
    for (unsigned i = 0; i < BATCHES; i++) {
        sim_report_sum(rep, 0, from + i * per, from + (i + 1) * per, &b);
        bw[i] = (double)b.waited / (double)b.offered;
        bs[i] = (double)b.answered_in_sl / (double)(b.answered + b.abandoned);
        ba[i] = (double)b.abandoned / (double)b.offered;
    }
    assert_int_equal(all.cut, 0);
    assert_int_equal(all.refused, 0);
    assert_true(all.offered > p->contacts / 2);
    assert_int_equal(all.answered + all.abandoned, all.offered);
    out->p_wait = (double)all.waited / (double)all.offered;
    out->sl = (double)all.answered_in_sl /
              (double)(all.answered + all.abandoned);
    out->abandon = (double)all.abandoned / (double)all.offered;
    out->hw_wait = half_width(bw, BATCHES);
    out->hw_sl = half_width(bs, BATCHES);
    out->hw_abandon = half_width(ba, BATCHES);
    sim_report_free(rep);
    config_fini(&cfg);
}

static void check(const char *what, double sim, double hw, double theory)
{
    double diff = 100 * (sim - theory);
    print_message("    %-16s simulated %6.2f%% (95%% CI +-%.2f)  theory "
                  "%6.2f%%  diff %+.2f pp\n", what, 100 * sim, 100 * hw,
                  100 * theory, diff);
    if (fabs(diff) > TOL_PP)
        fail_msg("%s: simulated %.4f, theory %.4f: off by %.2f pp (> %.1f)",
                 what, sim, theory, diff, TOL_PP);
    /* the run must be long enough for the tolerance to mean something */
    if (100 * hw > TOL_PP / 2)
        fail_msg("%s: 95%% half-width %.2f pp is more than half the "
                 "tolerance: run longer", what, 100 * hw);
}

static void run_point(const struct point *p)
{
    struct erlang_result th;
    struct measured ms;
    double rate = p->occupancy * p->agents / p->aht_s;
    if (p->patience_s > 0)
        assert_int_equal(erlang_a(rate, p->aht_s, p->agents, p->target_s,
                                  p->patience_s, &th), 0);
    else
        assert_int_equal(erlang_c(rate, p->aht_s, p->agents, p->target_s,
                                  &th), 0);
    print_message("  c=%u, offered %.0f%%, AHT %gs, T=%gs%s, %.0f contacts\n",
                  p->agents, 100 * p->occupancy, p->aht_s, p->target_s,
                  p->patience_s > 0 ? ", exponential patience" : "",
                  p->contacts);
    simulate(p, 20261130, &ms);
    check("P(wait)", ms.p_wait, ms.hw_wait, th.p_wait);
    check("service level", ms.sl, ms.hw_sl, th.service_level);
    if (p->patience_s > 0)
        check("abandon rate", ms.abandon, ms.hw_abandon, th.p_abandon);
    else
        assert_true(ms.abandon == 0);
}

static void test_erlang_c_one_agent(void **state)
{
    struct point p = { 1, 0.5, 60, 20, 0, 300000 };
    run_point(&p);
    (void)state;
}

static void test_erlang_c_ten_agents(void **state)
{
    struct point p = { 10, 0.8, 60, 20, 0, 1200000 };
    run_point(&p);
    (void)state;
}

static void test_erlang_c_fifty_agents(void **state)
{
    struct point p = { 50, 0.7, 60, 10, 0, 400000 };
    run_point(&p);
    (void)state;
}

static void test_erlang_a_ten_agents_full(void **state)
{
    struct point p = { 10, 1.0, 60, 20, 60, 1000000 };
    run_point(&p);
    (void)state;
}

static void test_erlang_a_fifty_agents_past(void **state)
{
    struct point p = { 50, 1.1, 60, 10, 120, 3000000 };
    run_point(&p);
    (void)state;
}

/* ---- the binary: determinism and errors ---- */

static char dir[512];

static void write_file(const char *name, const char *text)
{
    char path[768];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static char *read_file(const char *name, size_t *len)
{
    char path[768];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 22);
    assert_non_null(buf);
    *len = fread(buf, 1, (1 << 22) - 1, f);
    buf[*len] = 0;
    fclose(f);
    return buf;
}

/* Runs ccsim with args; its stdout and stderr go to dir/out (the
 * determinism check compares them whole: on success stderr is empty).
 * Returns the exit status. */
static int ccsim(const char *const *args)
{
    char exe[512], out[768];
    const char *b = getenv("CCROUTE_BUILD");
    const char *argv[16];
    int n = 0;
    snprintf(exe, sizeof(exe), "%s/ccsim", b && *b ? b : "build");
    snprintf(out, sizeof(out), "%s/out", dir);
    argv[n++] = exe;
    while (*args && n < 15)
        argv[n++] = *args++;
    argv[n] = NULL;
    unlink(out); /* the harness appends to its log */
    struct harness_proc proc;
    int rc = harness_proc_start(&proc, argv, out, true);
    if (rc < 0)
        return rc;
    return harness_proc_wait(&proc, RUN_MS);
}

static const char routing_yaml[] =
    "queues:\n"
    "  - name: sales\n"
    "    skills: {sales: 1}\n"
    "    service_level: {percent: 80, seconds: 20}\n"
    "    wrapup: 5s\n"
    "  - name: support\n"
    "    skills: {support: 1}\n"
    "    service_level: {percent: 80, seconds: 30}\n"
    "    wrapup: 0\n"
    "    steps:\n"
    "      - {after: 20s, widen: sales}\n";

static const char model_yaml[] =
    "name: two-queues\n"
    "seed: 5\n"
    "arrivals:\n"
    "  curve:\n"
    "    - {at: 0s, rate: 0.05}\n"
    "    - {at: 1h, rate: 0.2}\n"
    "    - {at: 2h, rate: 0.02}\n"
    "patience: {dist: exponential, mean: 90s}\n"
    "mix:\n"
    "  - {name: sales, share: 60, queue: sales, priority: [0, 10]}\n"
    "  - {name: support, share: 30, queue: support}\n"
    "  - {name: chat-sales, share: 10, skills: {sales: 2}, channel: chat}\n"
    "agents:\n"
    "  - group: sales\n"
    "    count: 8\n"
    "    skills: {sales: 3}\n"
    "    capacity: {voice: 1, chat: 2}\n"
    "    think: {dist: exponential, mean: 2s}\n"
    "    reject: 0.05\n"
    "    handle: {dist: lognormal, mean: 3m, sigma: 0.6}\n"
    "  - group: support\n"
    "    count: 4\n"
    "    skills: {support: 4}\n"
    "    handle: {dist: exponential, mean: 4m}\n"
    "    wrapup: {dist: uniform, min: 5s, max: 20s}\n";

static int setup_dir(void **state)
{
    assert_int_equal(harness_tmpdir(dir, sizeof(dir), "ccsim"), 0);
    write_file("routing.yaml", routing_yaml);
    write_file("model.yaml", model_yaml);
    (void)state;
    return 0;
}

static int teardown_dir(void **state)
{
    harness_rm_rf(dir);
    (void)state;
    return 0;
}

static char *run_capture(const char *const *args, int want_rc, size_t *len)
{
    int rc = ccsim(args);
    char *out = read_file("out", len);
    if (rc != want_rc)
        fail_msg("ccsim exit %d, expected %d; output:\n%s", rc, want_rc, out);
    return out;
}

static void test_same_seed_same_bytes(void **state)
{
    char cfg[768], mod[768];
    size_t l1, l2, l3;
    snprintf(cfg, sizeof(cfg), "%s/routing.yaml", dir);
    snprintf(mod, sizeof(mod), "%s/model.yaml", dir);
    const char *a[] = { "--config", cfg, "--traffic", mod, "--hours", "3",
                        "--seed", "42", NULL };
    const char *j[] = { "--config", cfg, "--traffic", mod, "--hours", "3",
                        "--seed", "42", "--json", NULL };
    const char *other[] = { "--config", cfg, "--traffic", mod, "--hours",
                            "3", "--seed", "43", NULL };
    char *o1 = run_capture(a, 0, &l1);
    char *o2 = run_capture(a, 0, &l2);
    assert_true(l1 > 500);
    assert_int_equal(l1, l2);
    assert_memory_equal(o1, o2, l1);
    /* the run did something: both queues and the skills-only class */
    assert_non_null(strstr(o1, "queue sales "));
    assert_non_null(strstr(o1, "queue support "));
    assert_non_null(strstr(o1, "queue ~chat-sales "));
    /* another seed, other traffic */
    char *o3 = run_capture(other, 0, &l3);
    assert_true(l3 != l1 || memcmp(o1, o3, l1) != 0);
    free(o1), free(o2), free(o3);
    o1 = run_capture(j, 0, &l1);
    o2 = run_capture(j, 0, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(o1, o2, l1);
    assert_non_null(strstr(o1, "\"tool\": \"ccsim\""));
    assert_non_null(strstr(o1, "\"seed\": 42"));
    free(o1), free(o2);
    (void)state;
}

/* An error names the file and the line. */
static void expect_error(const char *cfg_text, const char *model_text,
                         const char *needle)
{
    char cfg[768], mod[768];
    size_t len;
    write_file("bad-routing.yaml", cfg_text);
    write_file("bad-model.yaml", model_text);
    snprintf(cfg, sizeof(cfg), "%s/bad-routing.yaml", dir);
    snprintf(mod, sizeof(mod), "%s/bad-model.yaml", dir);
    const char *a[] = { "--config", cfg, "--traffic", mod, "--hours", "1",
                        NULL };
    char *out = run_capture(a, 1, &len);
    if (!strstr(out, needle))
        fail_msg("expected \"%s\" in:\n%s", needle, out);
    free(out);
}

static void test_bad_input_names_file_and_line(void **state)
{
    /* a misspelt key in the model (line 24: "handel") */
    char *m = strdup(model_yaml);
    char *p = strstr(m, "    handle: {dist: exponential, mean: 4m}");
    assert_non_null(p);
    memcpy(p, "    handel", 10);
    expect_error(routing_yaml, m, "bad-model.yaml:24: agents[1].handel");
    free(m);
    /* an unknown strategy in the configuration (line 5) */
    expect_error("queues:\n"
                 "  - name: sales\n"
                 "    skills: {sales: 1}\n"
                 "    wrapup: 0\n"
                 "    strategy: fastest\n", model_yaml,
                 "bad-routing.yaml:5: queues[0].strategy");
    /* a class naming a queue the configuration lacks (line 11) */
    expect_error("queues:\n"
                 "  - name: sales\n"
                 "    skills: {sales: 1}\n", model_yaml,
                 "bad-model.yaml:11: mix[1].queue: queue \"support\" is not "
                 "in");
    (void)state;
}

static void test_usage_and_erlang_command(void **state)
{
    size_t len;
    const char *none[] = { NULL };
    free(run_capture(none, 2, &len));
    const char *c[] = { "erlang", "--rate", "0.08", "--aht", "100",
                        "--agents", "10", "--target", "20", NULL };
    char *out = run_capture(c, 0, &len);
    assert_non_null(strstr(out, "probability of waiting    40.92%"));
    assert_non_null(strstr(out, "service level             72.57%"));
    free(out);
    const char *over[] = { "erlang", "--rate", "10/min", "--aht", "1m",
                           "--agents", "10", "--target", "20", NULL };
    out = run_capture(over, 1, &len);
    assert_non_null(strstr(out, ">= 100%"));
    free(out);
    const char *a[] = { "erlang", "--rate", "10/min", "--aht", "1m",
                        "--agents", "10", "--target", "20s", "--patience",
                        "60", "--json", NULL };
    out = run_capture(a, 0, &len);
    assert_non_null(strstr(out, "\"model\": \"erlang_a\""));
    assert_non_null(strstr(out, "\"abandon_rate\": 0.1251"));
    free(out);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest theory[] = {
        cmocka_unit_test(test_erlang_c_one_agent),
        cmocka_unit_test(test_erlang_c_ten_agents),
        cmocka_unit_test(test_erlang_c_fifty_agents),
        cmocka_unit_test(test_erlang_a_ten_agents_full),
        cmocka_unit_test(test_erlang_a_fifty_agents_past),
    };
    const struct CMUnitTest binary[] = {
        cmocka_unit_test(test_same_seed_same_bytes),
        cmocka_unit_test(test_bad_input_names_file_and_line),
        cmocka_unit_test(test_usage_and_erlang_command),
    };
    int rc = cmocka_run_group_tests(theory, NULL, NULL);
    rc |= cmocka_run_group_tests(binary, setup_dir, teardown_dir);
    return rc;
}
