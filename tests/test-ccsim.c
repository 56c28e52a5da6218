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

#include <jansson.h>

#include "ccload-model.h"
#include "config.h"
#include "erlang.h"
#include "harness.h"
#include "sim.h"
#include "simstaff.h"
#include "simstats.h"

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

/* ---- --runs, --compare, --plot ---- */

static json_t *run_json(const char *const *args)
{
    size_t len;
    char *out = run_capture(args, 0, &len);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    if (!j)
        fail_msg("not JSON (%s) in:\n%s", je.text, out);
    free(out);
    return j;
}

static double jget(json_t *cell, const char *key)
{
    json_t *v = json_object_get(cell, key);
    if (!v || !json_is_number(v))
        fail_msg("no number \"%s\"", key);
    return json_number_value(v);
}

/* --runs N: each figure is the mean of the N runs with seeds S..S+N-1,
 * and its ci95 the Student half-width of those N values. */
static void test_runs_give_means_and_intervals(void **state)
{
    char cfg[768], mod[768], seed[32];
    enum { N = 5 };
    double sl[N], off[N], msl = 0, moff = 0;
    snprintf(cfg, sizeof(cfg), "%s/routing.yaml", dir);
    snprintf(mod, sizeof(mod), "%s/model.yaml", dir);
    for (int i = 0; i < N; i++) {
        snprintf(seed, sizeof(seed), "%d", 42 + i);
        const char *a[] = { "--config", cfg, "--traffic", mod, "--hours",
                            "3", "--seed", seed, "--json", NULL };
        json_t *j = run_json(a);
        json_t *sum = json_object_get(j, "summary");
        sl[i] = jget(sum, "service_level");
        off[i] = jget(sum, "offered");
        assert_null(json_object_get(sum, "ci95"));
        msl += sl[i] / N;
        moff += off[i] / N;
        json_decref(j);
    }
    double ss = 0;
    for (int i = 0; i < N; i++)
        ss += (sl[i] - msl) * (sl[i] - msl);
    double hw = sim_t975(N - 1) * sqrt(ss / (N - 1)) / sqrt(N);
    assert_true(hw > 0);
    const char *a[] = { "--config", cfg, "--traffic", mod, "--hours", "3",
                        "--seed", "42", "--runs", "5", "--json", NULL };
    json_t *j = run_json(a);
    assert_int_equal(json_integer_value(json_object_get(j, "runs")), N);
    json_t *sum = json_object_get(j, "summary");
    json_t *ci = json_object_get(sum, "ci95");
    assert_non_null(ci);
    assert_true(fabs(jget(sum, "offered") - moff) < 1e-9 * moff);
    assert_true(fabs(jget(sum, "service_level") - msl) < 1e-12);
    assert_true(fabs(jget(ci, "service_level") - hw) < 1e-12);
    /* every queue's intervals carry intervals too */
    json_t *q0 = json_array_get(json_object_get(j, "queues"), 0);
    json_t *iv = json_array_get(json_object_get(q0, "intervals"), 2);
    assert_non_null(json_object_get(iv, "ci95"));
    json_decref(j);
    /* the tables say what they show */
    const char *t[] = { "--config", cfg, "--traffic", mod, "--hours", "3",
                        "--seed", "42", "--runs", "5", NULL };
    size_t len;
    char *out = run_capture(t, 0, &len);
    assert_non_null(strstr(out, "5 runs (seeds 42 to 46)"));
    assert_non_null(strstr(out, "±"));
    free(out);
    (void)state;
}

static void assert_zero_diff(json_t *cells)
{
    json_t *d = json_object_get(cells, "diff");
    for (unsigned f = 0; f < SIM_F_COUNT; f++) {
        json_t *v = json_object_get(d, sim_fig_name[f]);
        assert_non_null(v);
        if (!json_is_null(v) && json_number_value(v) != 0)
            fail_msg("%s: difference %g, expected 0", sim_fig_name[f],
                     json_number_value(v));
    }
}

/* A configuration compared with itself: zero difference everywhere.
 * Another configuration: the same offered traffic in every queue (the
 * arrivals do not depend on routing), other answers. */
static void test_compare_common_random_numbers(void **state)
{
    char cfg[768], cfg2[768], mod[768];
    snprintf(cfg, sizeof(cfg), "%s/routing.yaml", dir);
    snprintf(cfg2, sizeof(cfg2), "%s/routing2.yaml", dir);
    snprintf(mod, sizeof(mod), "%s/model.yaml", dir);
    const char *a[] = { "--compare", cfg, cfg, "--traffic", mod, "--hours",
                        "3", "--runs", "3", "--json", NULL };
    json_t *j = run_json(a);
    json_t *qs = json_object_get(j, "queues");
    assert_int_equal(json_array_size(qs), 3);
    for (size_t i = 0; i < json_array_size(qs); i++) {
        json_t *q = json_array_get(qs, i);
        assert_zero_diff(q);
        json_t *ivs = json_object_get(q, "intervals");
        for (size_t k = 0; k < json_array_size(ivs); k++)
            assert_zero_diff(json_array_get(ivs, k));
    }
    assert_zero_diff(json_object_get(j, "summary"));
    assert_true(jget(json_object_get(json_object_get(j, "summary"), "a"),
                     "offered") > 100);
    json_decref(j);

    /* sales wraps up 60 s instead of 5 s: fewer answered in time */
    char *r2 = strdup(routing_yaml);
    char *p = strstr(r2, "wrapup: 5s");
    assert_non_null(p);
    memcpy(p, "wrapup: 1m", 10);
    write_file("routing2.yaml", r2);
    free(r2);
    const char *b[] = { "--compare", cfg, cfg2, "--traffic", mod, "--hours",
                        "3", "--runs", "3", "--json", NULL };
    j = run_json(b);
    json_t *sum = json_object_get(j, "summary");
    json_t *d = json_object_get(sum, "diff");
    assert_true(jget(d, "offered") == 0);
    assert_true(jget(json_object_get(d, "ci95"), "offered") == 0);
    assert_true(jget(d, "service_level") < 0);
    json_t *dci = json_object_get(d, "ci95");
    assert_true(jget(dci, "service_level") > 0);
    json_decref(j);
    const char *t[] = { "--compare", cfg, cfg2, "--traffic", mod, "--hours",
                        "3", "--runs", "3", NULL };
    size_t len;
    char *out = run_capture(t, 0, &len);
    assert_non_null(strstr(out, "common random numbers"));
    assert_non_null(strstr(out, "service level %"));
    free(out);
    (void)state;
}

/* The scenarios of bench/README.md, "Routing quality pays": they load,
 * the plain and engine configurations see the same offered traffic in the
 * same queues (equal staffing: the agents are the model's), the two blend
 * models are quality-day.yaml's day to the line (without their campaign,
 * the same figures), and the campaign dials. No figure of the comparison
 * itself is asserted: those are bench results, not properties. */
#define QS "bench/scenarios/"
static void test_quality_scenarios(void **state)
{
    const char *c[] = { "--compare", QS "quality-plain.yaml",
                        QS "quality-engine.yaml", "--traffic",
                        QS "quality-day.yaml", "--hours", "1", "--runs", "2",
                        "--json", NULL };
    json_t *j = run_json(c);
    json_t *qs = json_object_get(j, "queues");
    const char *names[] = { "mobile_en", "broadband_en", "mobile_es",
                            "broadband_es" };
    assert_int_equal(json_array_size(qs), 4);
    for (size_t i = 0; i < 4; i++) {
        json_t *q = json_array_get(qs, i);
        assert_string_equal(json_string_value(json_object_get(q, "queue")),
                            names[i]);
        assert_true(jget(json_object_get(q, "a"), "offered") > 0);
        assert_true(jget(json_object_get(q, "diff"), "offered") == 0);
    }
    assert_int_equal(json_array_size(json_object_get(j, "only_in_a")), 0);
    json_decref(j);

    const char *d[] = { "--config", QS "quality-engine.yaml", "--traffic",
                        QS "quality-day.yaml", "--hours", "1", "--json",
                        NULL };
    json_t *day = run_json(d);
    assert_int_equal(json_array_size(json_object_get(day, "campaigns")), 0);
    const char *blends[] = { QS "quality-blend.yaml",
                             QS "quality-blend-mobile.yaml" };
    for (unsigned b = 0; b < 2; b++) {
        const char *n[] = { "--config", QS "quality-engine.yaml",
                            "--traffic", blends[b], "--hours", "1",
                            "--no-outbound", "--json", NULL };
        j = run_json(n);
        if (!json_equal(json_object_get(j, "queues"),
                        json_object_get(day, "queues")))
            fail_msg("%s --no-outbound: not quality-day.yaml's day",
                     blends[b]);
        json_decref(j);
        const char *o[] = { "--config", QS "quality-engine.yaml",
                            "--traffic", blends[b], "--hours", "1", "--json",
                            NULL };
        j = run_json(o);
        json_t *camps = json_object_get(j, "campaigns");
        assert_int_equal(json_array_size(camps), 1);
        json_t *tot = json_object_get(json_array_get(camps, 0), "total");
        assert_true(jget(tot, "dials") > 0);
        json_decref(j);
    }
    json_decref(day);
    (void)state;
}

static void check_png(const char *name)
{
    static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n',
                                          0x1a, '\n' };
    size_t len;
    char *png = read_file(name, &len);
    if (len < 2000)
        fail_msg("%s: %zu bytes, expected a real chart", name, len);
    assert_memory_equal(png, sig, 8);
    /* the first chunk is IHDR: width and height as the script set them */
    assert_memory_equal(png + 12, "IHDR", 4);
    const unsigned char *u = (const unsigned char *)png;
    assert_int_equal((u[16] << 24) | (u[17] << 16) | (u[18] << 8) | u[19],
                     1000);
    assert_int_equal((u[20] << 24) | (u[21] << 16) | (u[22] << 8) | u[23],
                     500);
    free(png);
}

/* --plot DIR: four PNG charts drawn by gnuplot, with one run and with
 * several (error bars). */
static void test_plot_writes_pngs(void **state)
{
    char cfg[768], mod[768], plot[768];
    snprintf(cfg, sizeof(cfg), "%s/routing.yaml", dir);
    snprintf(mod, sizeof(mod), "%s/model.yaml", dir);
    snprintf(plot, sizeof(plot), "%s/plots", dir);
    const char *one[] = { "--config", cfg, "--traffic", mod, "--hours", "3",
                          "--plot", plot, NULL };
    const char *many[] = { "--config", cfg, "--traffic", mod, "--hours",
                           "3", "--runs", "3", "--plot", plot, NULL };
    const char *const *cases[] = { one, many };
    for (int c = 0; c < 2; c++) {
        size_t len;
        free(run_capture(cases[c], 0, &len));
        check_png("plots/offered.png");
        check_png("plots/service-level.png");
        check_png("plots/asa.png");
        check_png("plots/occupancy.png");
        char *dat = read_file("plots/intervals.dat", &len);
        assert_non_null(strstr(dat, "# ~chat-sales"));
        free(dat);
        char *gp = read_file("plots/ccsim.gp", &len);
        assert_true((strstr(gp, "yerrorlines") != NULL) == (c == 1));
        free(gp);
        char path[800];
        snprintf(path, sizeof(path), "%s/plots/offered.png", dir);
        unlink(path);
    }
    /* a directory that cannot be made: an error naming it */
    char bad[800];
    snprintf(bad, sizeof(bad), "%s/routing.yaml/plots", dir);
    const char *b[] = { "--config", cfg, "--traffic", mod, "--hours", "1",
                        "--plot", bad, NULL };
    size_t len;
    char *out = run_capture(b, 1, &len);
    assert_non_null(strstr(out, "routing.yaml/plots"));
    free(out);
    (void)state;
}

/* ---- staffing ---- */

/* One queue, one group, M/M/c: the search must land within one agent of
 * Erlang C's staffing number (the fewest agents whose Erlang C service
 * level meets the target). Not exactly on it: the simulated service level
 * is an estimate (about +-1 point at 100,000 contacts), and where Erlang
 * C's number clears the target by less than that, the search may need
 * one more agent (or, the other way round, one fewer). */
static void staff_point(double rate, double aht, double target,
                        unsigned target_s)
{
    static struct config cfg;
    static struct model m;
    char text[1024], err[512];
    int n = snprintf(text, sizeof(text),
                     "queues:\n"
                     "  - name: q\n"
                     "    skills: {s: 1}\n"
                     "    wrapup: 0\n");
    config_defaults(&cfg);
    if (config_load_string(&cfg, "routing.yaml", text, (size_t)n, err,
                           sizeof(err)) < 0)
        fail_msg("%s", err);
    n = snprintf(text, sizeof(text),
                 "name: staff\n"
                 "arrivals: {rate: %.17g}\n"
                 "mix:\n"
                 "  - {name: q, queue: q}\n"
                 "agents:\n"
                 "  - group: a\n"
                 "    count: 1\n"
                 "    skills: {s: 1}\n"
                 "    think: 0\n"
                 "    handle: {dist: exponential, mean: %gs}\n", rate, aht);
    if (model_load_string(&m, "model.yaml", text, (size_t)n, err,
                          sizeof(err)) < 0)
        fail_msg("%s", err);
    unsigned ec = 0;
    struct erlang_result er;
    for (unsigned c = 1; c < 1000 && !ec; c++)
        if (erlang_c(rate, aht, c, target_s, &er) == 0 &&
            er.service_level >= target)
            ec = c;
    struct sim_staff_opts so = { .seed = 11, .hours = 1, .interval_s = 1800,
                                 .target = target,
                                 .target_ms = target_s * 1000,
                                 .contacts = 100000 };
    struct sim_staffing *res;
    if (sim_staff(&cfg.router, "routing.yaml", &m, "model.yaml", &so, &res,
                  err, sizeof(err)) < 0)
        fail_msg("%s", err);
    assert_int_equal(res->nintervals, 2);
    assert_int_equal(res->ngroups, 1);
    print_message("  %.4g/s, AHT %gs, %.0f%%/%us: Erlang C %u agents, "
                  "search %u (started at %u), simulated SL %.2f%%\n", rate,
                  aht, 100 * target, target_s, ec, res->count[0],
                  res->start[0], 100 * res->sl[0]);
    assert_int_equal(res->start[0], ec);
    assert_true(res->count[0] + 1 >= ec && res->count[0] <= ec + 1);
    assert_true(res->sl[0] >= target);
    assert_false(res->unmet[0]);
    /* the same rate all along: the second half hour shares the search */
    assert_int_equal(res->count[1], res->count[0]);
    sim_staffing_free(res);
    config_fini(&cfg);
}

static void test_staff_one_queue_matches_erlang_c(void **state)
{
    staff_point(0.1, 180, 0.8, 20);     /* 18 Erlangs */
    staff_point(0.5, 100, 0.9, 15);     /* 50 Erlangs */
    staff_point(0.02, 120, 0.8, 20);    /* 2.4 Erlangs */
    (void)state;
}

/* A backlog carried into the next half hour: 0.1 contacts/s with 5-minute
 * handle times, then, in the last 30 s of the first half hour, a burst at
 * 2/s (about 55 contacts), then 0.01/s. Sized alone, the second half hour
 * needs the few agents of its own traffic; on the day it starts with the
 * burst still waiting, and its own contacts wait behind it: the carry
 * pass must find it needs many more. The first half hour is not
 * re-sized (it starts empty). */
static void test_staff_carries_backlog(void **state)
{
    static struct config cfg;
    static struct model m;
    static const char routing[] =
        "queues:\n"
        "  - name: q\n"
        "    skills: {s: 1}\n"
        "    wrapup: 0\n";
    static const char model[] =
        "name: burst\n"
        "arrivals:\n"
        "  curve:\n"
        "    - {at: 0, rate: 0.1}\n"
        "    - {at: 1770s, rate: 0.1}\n"
        "    - {at: 1771s, rate: 2}\n"
        "    - {at: 1799s, rate: 2}\n"
        "    - {at: 1800s, rate: 0.01}\n"
        "patience: none\n"
        "mix:\n"
        "  - {name: q, queue: q}\n"
        "agents:\n"
        "  - group: a\n"
        "    count: 1\n"
        "    skills: {s: 1}\n"
        "    think: 0\n"
        "    handle: {dist: exponential, mean: 5m}\n";
    char err[512];
    config_defaults(&cfg);
    if (config_load_string(&cfg, "routing.yaml", routing, strlen(routing),
                           err, sizeof(err)) < 0 ||
        model_load_string(&m, "model.yaml", model, strlen(model), err,
                          sizeof(err)) < 0)
        fail_msg("%s", err);
    struct sim_staff_opts so = { .seed = 3, .hours = 1, .interval_s = 1800,
                                 .target = 0.8, .target_ms = 20000,
                                 .contacts = 1000 };
    struct sim_staffing *alone, *carried;
    if (sim_staff(&cfg.router, "routing.yaml", &m, "model.yaml", &so, &alone,
                  err, sizeof(err)) < 0)
        fail_msg("%s", err);
    so.carry = true;
    if (sim_staff(&cfg.router, "routing.yaml", &m, "model.yaml", &so,
                  &carried, err, sizeof(err)) < 0)
        fail_msg("%s", err);
    print_message("  second half hour: %u agents alone, %u with the backlog "
                  "carried (service level %.1f%%)\n", alone->count[1],
                  carried->count[1], 100 * carried->sl[1]);
    /* without carry the answer is the half hours alone */
    for (unsigned i = 0; i < 2; i++) {
        assert_int_equal(alone->count[i], alone->alone[i]);
        assert_int_equal(carried->alone[i], alone->count[i]);
    }
    assert_int_equal(carried->count[0], carried->alone[0]);
    assert_true(carried->count[1] >= 2 * alone->count[1] + 5);
    assert_true(carried->sl[1] >= 0.8);
    assert_false(carried->unmet[1]);
    sim_staffing_free(alone);
    sim_staffing_free(carried);
    config_fini(&cfg);
    (void)state;
}

/* The command: two queues and a skills-only class, a rate curve; the
 * answer meets the target in every half hour with traffic. */
static void test_staff_command(void **state)
{
    char cfg[768], mod[768];
    snprintf(cfg, sizeof(cfg), "%s/routing.yaml", dir);
    snprintf(mod, sizeof(mod), "%s/model.yaml", dir);
    const char *a[] = { "staff", "--config", cfg, "--traffic", mod,
                        "--hours", "2", "--target", "80/20", "--contacts",
                        "3000", "--json", NULL };
    json_t *j = run_json(a);
    json_t *ivs = json_object_get(j, "intervals");
    assert_int_equal(json_array_size(ivs), 4);
    for (size_t i = 0; i < 4; i++) {
        json_t *iv = json_array_get(ivs, i);
        assert_int_equal(json_array_size(json_object_get(iv, "unmet")), 0);
        json_t *sl = json_object_get(iv, "service_level");
        const char *k;
        json_t *v;
        json_object_foreach(sl, k, v)
            assert_true(json_is_null(v) || json_number_value(v) >= 0.8);
        json_t *ag = json_object_get(iv, "agents");
        assert_true(json_integer_value(json_object_get(ag, "sales")) > 0);
        assert_true(json_integer_value(json_object_get(ag, "support")) > 0);
    }
    json_decref(j);
    const char *bad[] = { "staff", "--config", cfg, "--traffic", mod,
                          "--target", "80", NULL };
    size_t len;
    free(run_capture(bad, 2, &len));
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
        cmocka_unit_test(test_runs_give_means_and_intervals),
        cmocka_unit_test(test_compare_common_random_numbers),
        cmocka_unit_test(test_quality_scenarios),
        cmocka_unit_test(test_plot_writes_pngs),
        cmocka_unit_test(test_staff_one_queue_matches_erlang_c),
        cmocka_unit_test(test_staff_command),
        cmocka_unit_test(test_staff_carries_backlog),
    };
    int rc = cmocka_run_group_tests(theory, NULL, NULL);
    rc |= cmocka_run_group_tests(binary, setup_dir, teardown_dir);
    return rc;
}
