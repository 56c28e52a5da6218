/* test-error.c -- the one error space (proto/error.h): module codes are
 * aliases of it, every code has its own name, errno values pass through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "error.h"
#include "frame.h"
#include "router-t.h"
#include "store-t.h"

static const int codes[] = {
    CCR_EINVAL, CCR_ENOMEM, CCR_EEXIST, CCR_ENOQUEUE, CCR_ENOAGENT,
    CCR_ENOCONTACT, CCR_ENOSKILL, CCR_EDUPLICATE, CCR_ESTATE, CCR_EFULL,
    CCR_EUNAVAILABLE, CCR_ENOTOWNER, CCR_EFRAMESIZE, CCR_EVARINT,
};
#define NCODES (sizeof(codes) / sizeof(codes[0]))

static void test_names_distinct(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCODES; i++) {
        const char *a = ccr_strerror(codes[i]);
        assert_non_null(a);
        assert_string_not_equal(a, "unknown error");
        for (size_t j = i + 1; j < NCODES; j++) {
            assert_int_not_equal(codes[i], codes[j]);
            assert_string_not_equal(a, ccr_strerror(codes[j]));
        }
    }
    assert_string_equal(ccr_strerror(0), "ok");
    assert_string_equal(ccr_strerror(CCR_ELAST), "unknown error");
    assert_string_equal(ccr_strerror(1), "unknown error");
}

/* A code keeps its meaning across modules: the same failure is the same
 * number whichever module reports it. */
static void test_aliases(void **state)
{
    (void)state;
    assert_int_equal(ROUTER_ENOMEM, STORE_ENOMEM);
    assert_int_equal(ROUTER_EINVAL, STORE_EINVAL);
    assert_int_equal(ROUTER_ENOMEM, -ENOMEM);
    assert_int_equal(STORE_EUNAVAILABLE, CCR_EUNAVAILABLE);
    assert_int_equal(FRAME_E_TOO_LARGE, CCR_EFRAMESIZE);
    assert_int_not_equal(STORE_EUNAVAILABLE, ROUTER_EINVAL);
    assert_int_not_equal(STORE_ENOTOWNER, ROUTER_ENOQUEUE);
}

/* Negative errno values, libuv's among them, are named like strerror(). */
static void test_errno_passthrough(void **state)
{
    (void)state;
    assert_string_equal(ccr_strerror(-EPIPE), strerror(EPIPE));
    assert_string_equal(ccr_strerror(UV_ECONNREFUSED), strerror(ECONNREFUSED));
    for (size_t i = 0; i < NCODES; i++)
        if (codes[i] < CCR_EBASE)
            assert_true(codes[i] > CCR_ELAST);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_distinct),
        cmocka_unit_test(test_aliases),
        cmocka_unit_test(test_errno_passthrough),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
