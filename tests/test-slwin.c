/* test-slwin.c -- a queue's service level over the recent window
 * (engine/slwin.h) that blending reads (engine/blend.h), in simulated
 * microseconds; tests/test-ccsim-ob.c's test_blend_resumes_after_peak
 * runs it inside the router and the campaign core. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "slwin.h"

#define MIN_US SLWIN_BUCKET_US

/* Nobody in the window: the queue meets any target. */
static void test_empty_is_met(void **state)
{
    struct slwin w;
    uint32_t n = 7;
    memset(&w, 0, sizeof(w));
    assert_true(slwin_level(&w, 0, &n) == 1.0);
    assert_int_equal(n, 0);
    assert_true(slwin_level(&w, 1000 * MIN_US, NULL) == 1.0);
}

/* met / done over the contacts that left in the window. */
static void test_counts(void **state)
{
    struct slwin w;
    uint32_t n;
    memset(&w, 0, sizeof(w));
    uint64_t t0 = 100 * MIN_US;
    for (int i = 0; i < 3; i++)
        slwin_left(&w, t0 + (uint64_t)i * MIN_US, true);
    slwin_left(&w, t0 + 3 * MIN_US, false);
    assert_true(slwin_level(&w, t0 + 3 * MIN_US, &n) == 0.75);
    assert_int_equal(n, 4);
}

/* A contact counts for SLWIN_MINUTES minutes of the clock (its minute
 * and the ones after it up to the window's length), then not at all: a
 * peak's failures leave the judgement whole. */
static void test_peak_leaves_window(void **state)
{
    struct slwin w;
    uint32_t n;
    memset(&w, 0, sizeof(w));
    uint64_t t0 = 500 * MIN_US + 30000000; /* half a minute in */
    for (int i = 0; i < 50; i++)
        slwin_left(&w, t0, false);
    slwin_left(&w, t0 + 2 * MIN_US, true);
    uint64_t last_in = t0 + (SLWIN_MINUTES - 1) * MIN_US;
    assert_true(slwin_level(&w, last_in, &n) < 0.05);
    assert_int_equal(n, 51);
    /* the next minute: the peak's minute is out, the answer still in */
    assert_true(slwin_level(&w, last_in + MIN_US, &n) == 1.0);
    assert_int_equal(n, 1);
    /* long after: nothing left */
    assert_true(slwin_level(&w, t0 + 100 * MIN_US, &n) == 1.0);
    assert_int_equal(n, 0);
}

/* A slot reused a window later starts from zero: the old minute's
 * counts do not leak into the new one. */
static void test_slot_reuse(void **state)
{
    struct slwin w;
    uint32_t n;
    memset(&w, 0, sizeof(w));
    uint64_t t0 = 42 * MIN_US;
    for (int i = 0; i < 10; i++)
        slwin_left(&w, t0, false);
    uint64_t t1 = t0 + SLWIN_MINUTES * MIN_US; /* the same slot */
    slwin_left(&w, t1, true);
    assert_true(slwin_level(&w, t1, &n) == 1.0);
    assert_int_equal(n, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_is_met),
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_peak_leaves_window),
        cmocka_unit_test(test_slot_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
