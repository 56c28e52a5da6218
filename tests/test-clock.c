/* test-clock.c -- engine/clock.c: a monotonic instant converts to one
 * wall time, whenever it is converted (a re-sent Offer carries the
 * deadline it had), and the conversion keeps order and spacing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "clock.h"

static void test_same_instant_same_wall(void **state)
{
    (void)state;
    uint64_t t = clock_mono_us() + 15000000;     /* an offer deadline */
    uint64_t first = clock_mono_to_wall_ms(t);
    /* convert it again many times while both clocks move on: the old
     * conversion read both clocks each call and drifted by a millisecond */
    for (int i = 0; i < 200000; i++)
        assert_int_equal(clock_mono_to_wall_ms(t), first);
}

static void test_order_and_spacing(void **state)
{
    (void)state;
    uint64_t t = clock_mono_us();
    uint64_t a = clock_mono_to_wall_ms(t);
    uint64_t b = clock_mono_to_wall_ms(t + 2500000);
    assert_int_equal(b - a, 2500);
    /* near the wall clock now: within a few seconds of it */
    uint64_t wall = clock_wall_ms();
    assert_true(a + 5000 > wall && a < wall + 5000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_instant_same_wall),
        cmocka_unit_test(test_order_and_spacing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
