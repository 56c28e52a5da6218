/* test-hist.c -- the log-linear histogram (bench/hist.c) on known inputs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "hist.h"

static uint64_t pow10u(int n)
{
    uint64_t v = 1;
    while (n-- > 0)
        v *= 10;
    return v;
}

/* The reported value for an exact answer `exact` must not under-report and
 * must be within the relative precision bound. */
static void assert_within(uint64_t got, uint64_t exact, int sigfigs)
{
    if (got < exact)
        fail_msg("got %llu < exact %llu", (unsigned long long)got,
                 (unsigned long long)exact);
    double bound = (double)exact / (double)pow10u(sigfigs);
    if (bound < 1.0)
        bound = 1.0;
    if ((double)(got - exact) > bound)
        fail_msg("got %llu, exact %llu, bound %.3f", (unsigned long long)got,
                 (unsigned long long)exact, bound);
}

static void test_bad_arguments(void **state)
{
    assert_null(hist_new(1000, 0));
    assert_null(hist_new(1000, 6));
    assert_null(hist_new(1, 3));
    assert_null(hist_new(UINT64_MAX, 3));
    struct hist *h = hist_new(2, 1);
    assert_non_null(h);
    hist_free(h);
    hist_free(NULL);
}

static void test_empty(void **state)
{
    struct hist *h = hist_new(3600000000000ull, 3);
    assert_non_null(h);
    assert_int_equal(hist_count(h), 0);
    assert_int_equal(hist_min(h), 0);
    assert_int_equal(hist_max(h), 0);
    assert_int_equal(hist_percentile(h, 50), 0);
    assert_int_equal(hist_percentile(h, 99.9), 0);
    assert_true(hist_mean(h) == 0.0);
    assert_true(hist_stddev(h) == 0.0);
    /* sigfigs 3 up to an hour in ns: 33 buckets of 1024 counters. */
    assert_true(hist_footprint(h) < 300 * 1024);
    hist_free(h);
}

static void test_small_values_exact(void **state)
{
    /* Below 2 * 10^sigfigs every value has its own counter. */
    struct hist *h = hist_new(1000000, 3);
    for (uint64_t v = 0; v < 2000; v++) {
        assert_int_equal(hist_lowest_equivalent(h, v), v);
        assert_int_equal(hist_highest_equivalent(h, v), v);
    }
    for (uint64_t v = 1; v <= 1000; v++)
        hist_record(h, v);
    assert_int_equal(hist_count(h), 1000);
    assert_int_equal(hist_percentile(h, 50), 500);
    assert_int_equal(hist_percentile(h, 90), 900);
    assert_int_equal(hist_percentile(h, 99), 990);
    assert_int_equal(hist_percentile(h, 99.9), 999);
    assert_int_equal(hist_percentile(h, 100), 1000);
    assert_int_equal(hist_percentile(h, 0), 1);
    assert_int_equal(hist_percentile(h, 0.1), 1);
    assert_int_equal(hist_min(h), 1);
    assert_int_equal(hist_max(h), 1000);
    assert_true(fabs(hist_mean(h) - 500.5) < 1e-9);
    /* Uniform 1..1000: sd = sqrt((n^2-1)/12). */
    assert_true(fabs(hist_stddev(h) - sqrt((1000.0 * 1000 - 1) / 12)) < 0.01);
    hist_free(h);
}

static void test_uniform_ranges_within_precision(void **state)
{
    for (int sig = 1; sig <= 4; sig++) {
        struct hist *h = hist_new(10000000000ull, sig);
        assert_non_null(h);
        /* 1..100000 step 7, scaled by 1000: spans many buckets. */
        uint64_t n = 0;
        for (uint64_t v = 1; v <= 100000; v += 7) {
            hist_record(h, v * 1000);
            n++;
        }
        assert_int_equal(hist_count(h), n);
        static const double ps[] = {1, 10, 25, 50, 75, 90, 99, 99.9, 99.99};
        for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
            uint64_t rank = (uint64_t)ceil(ps[i] / 100.0 * (double)n - 1e-9);
            uint64_t exact = (1 + 7 * (rank - 1)) * 1000;
            assert_within(hist_percentile(h, ps[i]), exact, sig);
        }
        assert_int_equal(hist_max(h), (1 + 7 * (n - 1)) * 1000);
        assert_int_equal(hist_min(h), 1000);
        hist_free(h);
    }
}

static void test_bucket_bounds(void **state)
{
    /* Every value lies in its bucket; bucket widths respect the bound. */
    for (int sig = 1; sig <= 5; sig++) {
        struct hist *h = hist_new(INT64_MAX, sig);
        assert_non_null(h);
        uint64_t x = 88172645463325252ull;
        for (int i = 0; i < 20000; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            uint64_t v = (x >> (x % 63)) & INT64_MAX;
            uint64_t lo = hist_lowest_equivalent(h, v);
            uint64_t hi = hist_highest_equivalent(h, v);
            assert_true(lo <= v && v <= hi);
            uint64_t width = hi - lo + 1;
            if (width > 1)
                assert_true((double)width <= (double)v / (double)pow10u(sig));
            /* Consistency of the lookup both ways. */
            assert_int_equal(hist_lowest_equivalent(h, hi), lo);
            assert_int_equal(hist_highest_equivalent(h, lo), hi);
        }
        hist_free(h);
    }
}

static void test_zero(void **state)
{
    struct hist *h = hist_new(1000, 2);
    hist_record_n(h, 0, 10);
    assert_int_equal(hist_count(h), 10);
    assert_int_equal(hist_min(h), 0);
    assert_int_equal(hist_max(h), 0);
    assert_int_equal(hist_percentile(h, 50), 0);
    assert_int_equal(hist_percentile(h, 100), 0);
    assert_true(hist_mean(h) == 0.0);
    hist_record(h, 5);
    assert_int_equal(hist_percentile(h, 50), 0);
    assert_int_equal(hist_percentile(h, 95), 5);
    hist_free(h);
}

static void test_overflow_clamping(void **state)
{
    struct hist *h = hist_new(100000, 3);
    hist_record(h, 50);
    hist_record(h, 100000);       /* the highest trackable value: not over */
    hist_record(h, 100001);
    hist_record_n(h, UINT64_MAX, 2);
    assert_int_equal(hist_count(h), 5);
    assert_int_equal(hist_overflow(h), 3);
    assert_int_equal(hist_max(h), 100000);
    assert_int_equal(hist_percentile(h, 100), 100000);
    assert_int_equal(hist_percentile(h, 50), 100000);
    assert_int_equal(hist_percentile(h, 20), 50);
    hist_free(h);
}

static void test_extremes(void **state)
{
    struct hist *h = hist_new(INT64_MAX, 3);
    hist_record(h, 0);
    hist_record(h, 1);
    hist_record(h, INT64_MAX);
    assert_int_equal(hist_overflow(h), 0);
    assert_int_equal(hist_min(h), 0);
    assert_int_equal(hist_max(h), INT64_MAX);
    assert_int_equal(hist_percentile(h, 100), INT64_MAX);
    assert_int_equal(hist_percentile(h, 99), INT64_MAX);   /* rank 3 of 3 */
    assert_int_equal(hist_percentile(h, 34), 1);
    hist_record(h, (uint64_t)INT64_MAX + 1);
    assert_int_equal(hist_overflow(h), 1);
    hist_free(h);
}

static void count_cb(void *arg, uint64_t v, uint64_t c)
{
    uint64_t *acc = arg;
    acc[0] += c;
    acc[1]++;
}

static void test_record_n_and_foreach(void **state)
{
    struct hist *h = hist_new(1000000, 3);
    hist_record_n(h, 10, 90);
    hist_record_n(h, 500000, 10);
    hist_record_n(h, 7, 0);
    assert_int_equal(hist_count(h), 100);
    assert_int_equal(hist_percentile(h, 90), 10);
    assert_within(hist_percentile(h, 90.1), 500000, 3);
    assert_true(fabs(hist_mean(h) - (900.0 + 5000000.0) / 100) < 1e-6);

    uint64_t acc[2] = {0, 0};   /* values, buckets */
    hist_foreach(h, count_cb, acc);
    assert_int_equal(acc[0], 100);
    assert_int_equal(acc[1], 2);
    hist_free(h);
}

static void test_merge_same_layout(void **state)
{
    struct hist *all = hist_new(10000000, 3);
    struct hist *a = hist_new(10000000, 3);
    struct hist *b = hist_new(10000000, 3);
    for (uint64_t v = 1; v <= 200000; v += 3) {
        hist_record(all, v);
        hist_record(v & 1 ? a : b, v);
    }
    hist_record(a, 20000000);     /* overflow travels with the merge */
    hist_record(all, 20000000);
    hist_merge(a, b);
    assert_int_equal(hist_count(a), hist_count(all));
    assert_int_equal(hist_overflow(a), 1);
    assert_int_equal(hist_min(a), hist_min(all));
    assert_int_equal(hist_max(a), hist_max(all));
    for (double p = 0; p <= 100; p += 0.5)
        assert_int_equal(hist_percentile(a, p), hist_percentile(all, p));
    assert_true(fabs(hist_mean(a) - hist_mean(all)) < 1e-6);

    /* Merging into an empty histogram copies; merging an empty one is a
     * no-op. */
    struct hist *e = hist_new(10000000, 3);
    hist_merge(a, e);
    assert_int_equal(hist_count(a), hist_count(all));
    hist_merge(e, all);
    assert_int_equal(hist_percentile(e, 99), hist_percentile(all, 99));
    assert_int_equal(hist_min(e), 1);
    hist_free(all);
    hist_free(a);
    hist_free(b);
    hist_free(e);
}

static void test_merge_different_layout(void **state)
{
    struct hist *dst = hist_new(1000000, 2);
    struct hist *src = hist_new(100000000, 4);
    for (uint64_t v = 100; v <= 100000; v += 10)
        hist_record(src, v);
    hist_record(src, 5000000);    /* above dst's range: clamped */
    hist_record(dst, 3);
    hist_merge(dst, src);
    assert_int_equal(hist_count(dst), hist_count(src) + 1);
    assert_int_equal(hist_min(dst), 3);
    assert_int_equal(hist_max(dst), 1000000);
    assert_int_equal(hist_overflow(dst), 1);
    /* Median within dst's (2 digit) precision of the source's. */
    uint64_t want = hist_percentile(src, 50);
    uint64_t got = hist_percentile(dst, 50);
    assert_true(fabs((double)got - (double)want) <= (double)want / 100 + 1);
    hist_free(dst);
    hist_free(src);
}

static void test_reset(void **state)
{
    struct hist *h = hist_new(1000, 3);
    hist_record(h, 999);
    hist_record(h, 5000);
    hist_reset(h);
    assert_int_equal(hist_count(h), 0);
    assert_int_equal(hist_overflow(h), 0);
    assert_int_equal(hist_percentile(h, 50), 0);
    hist_record(h, 3);
    assert_int_equal(hist_min(h), 3);
    assert_int_equal(hist_max(h), 3);
    assert_int_equal(hist_percentile(h, 99), 3);
    hist_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_small_values_exact),
        cmocka_unit_test(test_uniform_ranges_within_precision),
        cmocka_unit_test(test_bucket_bounds),
        cmocka_unit_test(test_zero),
        cmocka_unit_test(test_overflow_clamping),
        cmocka_unit_test(test_extremes),
        cmocka_unit_test(test_record_n_and_foreach),
        cmocka_unit_test(test_merge_same_layout),
        cmocka_unit_test(test_merge_different_layout),
        cmocka_unit_test(test_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
