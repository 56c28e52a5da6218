/* test-arena.c -- the bump allocator and its protobuf-c view. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdalign.h>
#include <string.h>

#include "arena.h"
#include "ccroute.pb-c.h"

static void test_bump_align_reset(void **state)
{
    struct arena a;
    assert_int_equal(arena_init(&a, 1024), 0);
    void *p1 = arena_alloc(&a, 3);
    void *p2 = arena_alloc(&a, 8);
    assert_non_null(p1);
    assert_non_null(p2);
    assert_true(((uintptr_t)p2 % alignof(max_align_t)) == 0);
    assert_true((uint8_t *)p2 > (uint8_t *)p1);
    assert_true(arena_used(&a) > 0);
    arena_reset(&a);
    assert_int_equal(arena_used(&a), 0);
    assert_ptr_equal(arena_alloc(&a, 3), p1);   /* same block, reused */
    assert_int_equal(arena_spills(&a), 0);
    arena_fini(&a);
}

static void test_spill_when_full(void **state)
{
    struct arena a;
    assert_int_equal(arena_init(&a, 64), 0);
    uint8_t *big = arena_alloc(&a, 1000);
    assert_non_null(big);
    memset(big, 1, 1000);   /* usable (ASan would catch an overflow) */
    assert_int_equal(arena_spills(&a), 1);
    arena_reset(&a);        /* frees the spill */
    assert_int_equal(arena_spills(&a), 1);
    arena_fini(&a);
}

static void test_protobuf_unpack_in_arena(void **state)
{
    struct arena a;
    Ccroute__V1__Envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactArrived ca = CCROUTE__V1__CONTACT_ARRIVED__INIT;
    Ccroute__V1__Attribute at = CCROUTE__V1__ATTRIBUTE__INIT, *atp = &at;
    uint8_t buf[256];

    ca.contact_id = "c-42";
    ca.queue = "sales";
    at.key = "k";
    at.value = "v";
    ca.attributes = &atp;
    ca.n_attributes = 1;
    env.request_id = 7;
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_CONTACT_ARRIVED;
    env.contact_arrived = &ca;
    size_t len = ccroute__v1__envelope__pack(&env, buf);

    assert_int_equal(arena_init(&a, 4096), 0);
    for (int round = 0; round < 1000; round++) {
        Ccroute__V1__Envelope *e = ccroute__v1__envelope__unpack(
            arena_allocator(&a), len, buf);
        assert_non_null(e);
        assert_int_equal(e->request_id, 7);
        assert_string_equal(e->contact_arrived->contact_id, "c-42");
        assert_string_equal(e->contact_arrived->attributes[0]->value, "v");
        /* free_unpacked is harmless (a no-op free) ... */
        ccroute__v1__envelope__free_unpacked(e, arena_allocator(&a));
        /* ... and the reset is what releases it. */
        arena_reset(&a);
    }
    assert_int_equal(arena_spills(&a), 0);
    /* Garbage does not decode, and leaves nothing behind after reset. */
    static const uint8_t junk[] = { 0x0f, 0xff, 0xff };
    assert_null(ccroute__v1__envelope__unpack(arena_allocator(&a),
                                              sizeof(junk), junk));
    arena_reset(&a);
    arena_fini(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bump_align_reset),
        cmocka_unit_test(test_spill_when_full),
        cmocka_unit_test(test_protobuf_unpack_in_arena),
    };
    return cmocka_run_group_tests_name("arena", tests, NULL, NULL);
}
