/* test-waitest.c -- the estimated wait in ContactQueued (engine/waitest.c):
 * the formula against hand computation, the live abandonment rate, and
 * the engine's estimate (the real router in ccsim's simulation, bench/
 * sim.c) against the wait the simulated contacts then had.
 *
 * Stationary traffic: one queue, Poisson arrivals, exponential handle
 * times, c agents answering at once, no wrap-up, no abandonment (M/M/c),
 * first come first served. There the estimate the router gives a contact
 * on arrival, k / (c mu) for k completions before it, is the exact
 * expected wait given what the router knows, so over many contacts the
 * mean estimate and the mean simulated wait must agree up to sampling
 * error and the error of the live handle-time average (after 10^5
 * completions, a fraction of a percent). The test asserts agreement
 * within TOL_REL of the mean wait and that the 95% half-width of the
 * difference (batch means, 20 batches) is at most half of that, so that
 * a pass is agreement to that precision, not a run too short to tell.
 * With abandonment the contacts who are answered are those whose
 * patience outlasted their wait, a biased sample of waits, so the
 * comparison is made where the formula is exact. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccload-model.h"
#include "config.h"
#include "sim.h"
#include "waitest.h"

#define TOL_REL 0.02
#define BATCHES 20

static void test_formula(void **state)
{
    /* Erlang C: k / (c mu) */
    assert_int_equal(waitest_ms(0, 10, 60, 0), 0);
    assert_int_equal(waitest_ms(1, 10, 60, 0), 6000);
    assert_int_equal(waitest_ms(5, 10, 60, 0), 30000);
    assert_int_equal(waitest_ms(3, 0, 60, 0), 180000);   /* 0 agents: 1 */
    /* with abandonment, 3 completions, c mu = 0.5/s, theta = 0.1/s:
     * 1/0.5 + 1/0.6 + 1/0.7 = 5.0952... s */
    assert_int_equal(waitest_ms(3, 5, 10, 0.1), 5095);
    /* a short queue is summed term by term, to the last bit: one
     * completion at 32 / 770 s is exactly 24,062.5 ms, rounded up; the
     * closed form (slow abandonment: no term by term) lands a few ulps
     * below and would give 24,062 */
    assert_int_equal(waitest_ms(1, 32, 770, 0.0005), 24063);
    /* past WAITEST_EXACT_K the closed form (after the terms with
     * c mu / theta + j < 10): the plain sum, to the millisecond, for
     * queues from short to long and rates from negligible to dominant
     * abandonment */
    static const struct { uint32_t k, c; double busy, theta; } pt[] = {
        { WAITEST_EXACT_K + 1, 50, 300, 0.01 }, { 12, 5, 10, 0.1 },
        { 20, 200, 240, 1e-6 }, { 33, 5, 10, 0.1 },
        { 40, 1, 300, 0.5 }, { 1000, 50, 300, 0.01 },
        { 5000, 5, 10, 0.1 }, { 20000, 200, 240, 0.002 },
        { 3000, 10, 60, 1e-7 }, { 100000, 500, 300, 0.05 },
    };
    for (size_t i = 0; i < sizeof(pt) / sizeof(pt[0]); i++) {
        double cmu = pt[i].c / pt[i].busy, sum = 0;
        for (uint32_t j = 0; j < pt[i].k; j++)
            sum += 1 / (cmu + j * pt[i].theta);
        long long want = llround(sum * 1000);
        long long got = waitest_ms(pt[i].k, pt[i].c, pt[i].busy, pt[i].theta);
        assert_true(llabs(got - want) <= 1);
    }
    assert_int_equal(waitest_ms(100000, 1, 1e9, 0), UINT32_MAX);
    (void)state;
}

static void test_live_theta(void **state)
{
    struct waitest w;
    memset(&w, 0, sizeof(w));
    assert_true(waitest_theta(&w) == 0);
    /* 4 contacts waited 10 s each, 1 abandoned: 1 / 40 s */
    for (int i = 0; i < 4; i++)
        waitest_left(&w, 1000000, 10000000, i == 0);
    assert_true(fabs(waitest_theta(&w) - 0.025) < 1e-12);
    /* both sums decay alike: the rate holds while nothing happens... */
    waitest_left(&w, 1000000 + (uint64_t)(WAITEST_TAU_S * 1e6), 0, false);
    assert_true(fabs(waitest_theta(&w) - 0.025) < 1e-12);
    assert_true(fabs(w.wait_s - 40 / M_E) < 1e-9);
    /* ...and recent contacts weigh more: 10 answered after 1 s each now */
    for (int i = 0; i < 10; i++)
        waitest_left(&w, 1000000 + (uint64_t)(WAITEST_TAU_S * 1e6), 1000000,
                     false);
    assert_true(fabs(waitest_theta(&w) - (1 / M_E) / (40 / M_E + 10)) <
                1e-12);
    (void)state;
}

static double half_width(const double *v, unsigned n)
{
    double mean = 0, ss = 0;
    for (unsigned i = 0; i < n; i++)
        mean += v[i];
    mean /= n;
    for (unsigned i = 0; i < n; i++)
        ss += (v[i] - mean) * (v[i] - mean);
    return 2.093 * sqrt(ss / (n - 1) / n);  /* t, 19 degrees of freedom */
}

static void estimate_point(unsigned agents, double occupancy, double aht_s,
                           double contacts)
{
    static struct config cfg;
    static struct model m;
    char text[1024], err[512];
    double rate = occupancy * agents / aht_s;
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
                 "name: waitest\n"
                 "arrivals: {rate: %.17g}\n"
                 "mix:\n"
                 "  - {name: q, queue: q}\n"
                 "agents:\n"
                 "  - group: a\n"
                 "    count: %u\n"
                 "    skills: {s: 1}\n"
                 "    think: 0\n"
                 "    handle: {dist: exponential, mean: %gs}\n", rate, agents,
                 aht_s);
    if (model_load_string(&m, "model.yaml", text, (size_t)n, err,
                          sizeof(err)) < 0)
        fail_msg("%s", err);
    struct sim_opts so = { .seed = 20261130, .interval_s = 1800,
                           .hours = contacts / rate / 3600 };
    struct sim_report *rep;
    if (sim_run(&cfg.router, "routing.yaml", &m, "model.yaml", &so, &rep,
                err, sizeof(err)) < 0)
        fail_msg("%s", err);
    /* from the second half hour: the live handle time has settled */
    unsigned from = 1, per = (rep->nintervals - 1) / BATCHES;
    assert_true(per >= 1);
    double d[BATCHES];
    struct sim_cell all, b;
    sim_report_sum(rep, 0, from, from + per * BATCHES, &all);
    for (unsigned i = 0; i < BATCHES; i++) {
        sim_report_sum(rep, 0, from + i * per, from + (i + 1) * per, &b);
        d[i] = (b.est_wait_s - b.wait_s) / (double)b.answered;
    }
    assert_int_equal(all.abandoned, 0);
    double wait = all.wait_s / (double)all.answered;
    double est = all.est_wait_s / (double)all.answered;
    double hw = half_width(d, BATCHES);
    print_message("  c=%u, occupancy %.0f%%: mean wait %.3f s, mean "
                  "estimate %.3f s (%+.2f%%, 95%% CI +-%.2f%%)\n", agents,
                  100 * occupancy, wait, est, 100 * (est - wait) / wait,
                  100 * hw / wait);
    assert_true(wait > 0);
    if (fabs(est - wait) > TOL_REL * wait)
        fail_msg("estimate %.4f s against wait %.4f s: off by more than "
                 "%.0f%%", est, wait, 100 * TOL_REL);
    if (hw > TOL_REL * wait / 2)
        fail_msg("95%% half-width %.4f s is more than half the tolerance: "
                 "run longer", hw);
    sim_report_free(rep);
    config_fini(&cfg);
}

static void test_estimate_matches_simulated_wait(void **state)
{
    estimate_point(10, 0.85, 60, 600000);
    estimate_point(50, 0.9, 120, 600000);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formula),
        cmocka_unit_test(test_live_theta),
        cmocka_unit_test(test_estimate_matches_simulated_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
