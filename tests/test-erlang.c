/* test-erlang.c -- Erlang C and Erlang A (engine/erlang.c) against values
 * derived by hand (one and two agents), against reference values and
 * against each other.
 *
 * The reference values were computed independently with Python's mpmath
 * at 40 digits straight from the definitions (factorial sums for Erlang
 * C; for Erlang A the truncated birth-death chain, normalized, and the
 * waiting time of an arrival at queue position m through the regularized
 * incomplete beta function), not with this file's recursions. The Erlang
 * C ones include the usual table entries: 10 agents at 8 Erlangs, and the
 * worked example of 100 calls in 30 minutes at 180 s (10 Erlangs) with 13
 * and 14 agents. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "erlang.h"
#include "error.h"

#define NEAR(got, want, tol)                                               \
    do {                                                                   \
        double g_ = (got), w_ = (want);                                    \
        if (!(fabs(g_ - w_) <= (tol)))                                     \
            fail_msg("%s = %.12g, expected %.12g (+-%g)", #got, g_, w_,    \
                     (double)(tol));                                       \
    } while (0)

/* One agent: P(wait) = rho, SL = 1 - rho e^{-(mu - lambda) T},
 * ASA = rho / (mu - lambda). */
static void test_c_one_agent_by_hand(void **state)
{
    struct erlang_result r;
    double lambda = 1.0 / 60, aht = 30, t = 20, mu = 1.0 / aht;
    double rho = lambda * aht;
    assert_int_equal(erlang_c(lambda, aht, 1, t, &r), 0);
    NEAR(r.p_wait, rho, 1e-12);
    NEAR(r.service_level, 1 - rho * exp(-(mu - lambda) * t), 1e-12);
    NEAR(r.asa_s, rho / (mu - lambda), 1e-9);
    NEAR(r.occupancy, 0.5, 1e-12);
    NEAR(r.p_abandon, 0, 0);
    (void)state;
}

/* Two agents, load a: P(wait) = a^2 / (2 + a) (C(2, a) = 2 rho^2 /
 * (1 + rho) with rho = a/2); ASA = P(wait) / (2 mu - lambda). */
static void test_c_two_agents_by_hand(void **state)
{
    struct erlang_result r;
    double lambda = 1.5 / 60, aht = 60, t = 20, mu = 1.0 / aht;
    double a = lambda * aht, pw = a * a / (2 + a);
    assert_int_equal(erlang_c(lambda, aht, 2, t, &r), 0);
    NEAR(r.p_wait, pw, 1e-12);
    NEAR(r.p_wait, 0.6428571428571429, 1e-12); /* 9/14 */
    NEAR(r.service_level, 1 - pw * exp(-(2 * mu - lambda) * t), 1e-12);
    NEAR(r.asa_s, pw / (2 * mu - lambda), 1e-9);
    NEAR(r.asa_s, 77.14285714285717, 1e-9);
    (void)state;
}

static void test_c_reference_values(void **state)
{
    struct erlang_result r;
    /* 10 agents, 8 Erlangs (AHT 100 s), T = 20 s */
    assert_int_equal(erlang_c(0.08, 100, 10, 20, &r), 0);
    NEAR(r.p_wait, 0.40918015079644354, 1e-12);
    NEAR(r.service_level, 0.7257183424812581, 1e-12);
    NEAR(r.asa_s, 20.45900753982218, 1e-9);
    /* 10 Erlangs, AHT 180 s, T = 20 s: 13 and 14 agents */
    assert_int_equal(erlang_c(10.0 / 180, 180, 13, 20, &r), 0);
    NEAR(r.p_wait, 0.28527045303649284, 1e-12);
    NEAR(r.service_level, 0.7955947884177832, 1e-12);
    NEAR(r.asa_s, 17.11622718218957, 1e-9);
    assert_int_equal(erlang_c(10.0 / 180, 180, 14, 20, &r), 0);
    NEAR(r.p_wait, 0.17413193359504978, 1e-12);
    NEAR(r.service_level, 0.8883500191794669, 1e-12);
    NEAR(r.asa_s, 7.835937011777239, 1e-9);
    /* 50 agents at 60%: almost nobody waits */
    assert_int_equal(erlang_c(0.5, 60, 50, 15, &r), 0);
    NEAR(r.p_wait, 0.0005521778116651238, 1e-15);
    NEAR(r.service_level, 0.9999962794551709, 1e-14);
    (void)state;
}

/* Hundreds and thousands of agents: no overflow, no NaN, and the known
 * shape: more agents at the same occupancy wait less (economies of
 * scale), and at 99% occupancy with 2000 agents the formula still holds
 * (P(wait) is then well inside (0, 1)). */
static void test_c_large_and_stable(void **state)
{
    struct erlang_result r;
    double prev = 1;
    for (unsigned c = 100; c <= 3200; c *= 2) {
        assert_int_equal(erlang_c(0.9 * c / 300.0, 300, c, 20, &r), 0);
        assert_true(isfinite(r.p_wait) && isfinite(r.asa_s));
        assert_true(r.p_wait > 0 && r.p_wait < prev);
        assert_true(r.service_level > 0 && r.service_level <= 1);
        prev = r.p_wait;
    }
    assert_int_equal(erlang_c(0.99 * 2000 / 300.0, 300, 2000, 20, &r), 0);
    assert_true(r.p_wait > 0.01 && r.p_wait < 1);
    /* light load on many agents: P(wait) underflows to 0, not NaN */
    assert_int_equal(erlang_c(1.0 / 300, 300, 5000, 20, &r), 0);
    NEAR(r.p_wait, 0, 1e-300);
    NEAR(r.service_level, 1, 0);
    (void)state;
}

static void test_c_refuses_overload_and_bad_input(void **state)
{
    struct erlang_result r;
    assert_int_equal(erlang_c(10.0 / 60, 60, 10, 20, &r), CCR_EINVAL);
    assert_int_equal(erlang_c(11.0 / 60, 60, 10, 20, &r), CCR_EINVAL);
    assert_int_equal(erlang_c(0, 60, 10, 20, &r), CCR_EINVAL);
    assert_int_equal(erlang_c(1, 0, 10, 20, &r), CCR_EINVAL);
    assert_int_equal(erlang_c(0.1, 60, 0, 20, &r), CCR_EINVAL);
    assert_int_equal(erlang_c(0.1, 60, 10, -1, &r), CCR_EINVAL);
    assert_int_equal(erlang_c(NAN, 60, 10, 20, &r), CCR_EINVAL);
    assert_int_equal(erlang_c(0.1, INFINITY, 10, 20, &r), CCR_EINVAL);
    assert_int_equal(erlang_c(0.1, 60, 10, 20, NULL), CCR_EINVAL);
    (void)state;
}

/* One agent with lambda = mu = theta: the number in system is Poisson(1)
 * (p_n = p_{n-1} lambda / (mu + (n-1) theta) = p_{n-1} / n), so
 * P(wait) = 1 - 1/e and P(abandon) = E[(N - 1)+] / 1 = 1/e. */
static void test_a_one_agent_by_hand(void **state)
{
    struct erlang_result r;
    assert_int_equal(erlang_a(1.0 / 60, 60, 1, 30, 60, &r), 0);
    NEAR(r.p_wait, 1 - exp(-1), 1e-12);
    NEAR(r.p_abandon, exp(-1), 1e-12);
    NEAR(r.service_level, 0.5080640696115808, 1e-12);
    NEAR(r.mean_wait_s, 22.07276647028654, 1e-9);
    NEAR(r.occupancy, 1 - exp(-1), 1e-12);
    (void)state;
}

static void test_a_reference_values(void **state)
{
    struct erlang_result r;
    /* 10 agents at 100% offered, patience = AHT */
    assert_int_equal(erlang_a(10.0 / 60, 60, 10, 20, 60, &r), 0);
    NEAR(r.p_wait, 0.5420702855281477, 1e-12);
    NEAR(r.service_level, 0.7642203880179924, 1e-12);
    NEAR(r.p_abandon, 0.12511003572113327, 1e-12);
    NEAR(r.mean_wait_s, 7.506602143267997, 1e-9);
    /* past the agents: 110% offered, patience 2 x AHT */
    assert_int_equal(erlang_a(11.0 / 60, 60, 10, 20, 120, &r), 0);
    NEAR(r.p_wait, 0.7505025198727593, 1e-12);
    NEAR(r.service_level, 0.5371368874168122, 1e-12);
    NEAR(r.p_abandon, 0.14774584197760673, 1e-12);
    NEAR(r.mean_wait_s, 17.729501037312808, 1e-9);
    /* 100 agents, 100 Erlangs, patience 3 min */
    assert_int_equal(erlang_a(100.0 / 60, 60, 100, 10, 180, &r), 0);
    NEAR(r.p_wait, 0.6435824427845593, 1e-12);
    NEAR(r.service_level, 0.7673272640109684, 1e-12);
    NEAR(r.p_abandon, 0.029190721248798693, 1e-12);
    NEAR(r.mean_wait_s, 5.254329824783765, 1e-9);
    (void)state;
}

/* The abandon fraction two ways (per position, and theta E[Q] / lambda =
 * mean wait / patience), and Erlang A tending to Erlang C as patience
 * grows. */
static void test_a_consistent(void **state)
{
    struct erlang_result a, c;
    double pat = 90;
    assert_int_equal(erlang_a(0.3, 40, 12, 20, pat, &a), 0);
    NEAR(a.p_abandon, a.mean_wait_s / pat, 1e-10);
    assert_int_equal(erlang_c(8.0 / 60, 60, 10, 20, &c), 0);
    assert_int_equal(erlang_a(8.0 / 60, 60, 10, 20, 1e9, &a), 0);
    NEAR(a.p_wait, c.p_wait, 1e-6);
    NEAR(a.service_level, c.service_level, 1e-6);
    NEAR(a.asa_s, c.asa_s, 1e-4);
    NEAR(a.p_abandon, 0, 1e-6);
    (void)state;
}

/* Fine far past the agents and with hundreds of them; bad input
 * refused. */
static void test_a_overload_large_and_bad_input(void **state)
{
    struct erlang_result r;
    assert_int_equal(erlang_a(3.0 * 500 / 300, 300, 500, 20, 120, &r), 0);
    assert_true(isfinite(r.p_wait) && r.p_wait > 0.99 && r.p_wait <= 1);
    /* at 3x the agents about 2/3 abandon */
    assert_true(r.p_abandon > 0.6 && r.p_abandon < 0.7);
    NEAR(r.occupancy, 1, 0.01);
    assert_int_equal(erlang_a(0.9 * 800 / 300, 300, 800, 20, 600, &r), 0);
    assert_true(r.p_wait > 0 && r.p_wait < 1 && r.p_abandon < 0.01);
    NEAR(r.p_abandon, r.mean_wait_s / 600, 1e-9);
    assert_int_equal(erlang_a(0.1, 60, 10, 20, 0, &r), CCR_EINVAL);
    assert_int_equal(erlang_a(0.1, 60, 10, 20, -5, &r), CCR_EINVAL);
    assert_int_equal(erlang_a(0.1, 60, 0, 20, 60, &r), CCR_EINVAL);
    assert_int_equal(erlang_a(0, 60, 10, 20, 60, &r), CCR_EINVAL);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_c_one_agent_by_hand),
        cmocka_unit_test(test_c_two_agents_by_hand),
        cmocka_unit_test(test_c_reference_values),
        cmocka_unit_test(test_c_large_and_stable),
        cmocka_unit_test(test_c_refuses_overload_and_bad_input),
        cmocka_unit_test(test_a_one_agent_by_hand),
        cmocka_unit_test(test_a_reference_values),
        cmocka_unit_test(test_a_consistent),
        cmocka_unit_test(test_a_overload_large_and_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
