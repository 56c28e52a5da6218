/* test-idmap.c -- engine/idmap.c against a model.
 *
 * The map does not keep strings: the owner does, and hands them out
 * through key_fn. Here the owner is an array of ids indexed by handle and
 * the model is one flag per id (present or not). The hash is the
 * caller's, which lets the tests force collisions: a weak hash (a few
 * distinct values) builds long probe runs that wrap around the end of the
 * table, where backward-shift deletion is easiest to get wrong.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "idmap.h"
#include "rng.h"

#define NKEYS 2000
#define NONE UINT32_MAX

static char keys[NKEYS][16];
static int present[NKEYS];

static const char *key_of(const void *ctx, uint32_t handle)
{
    const char (*k)[16] = ctx;
    assert_true(handle < NKEYS);
    return k[handle];
}

static void keys_init(void)
{
    for (int i = 0; i < NKEYS; i++)
        snprintf(keys[i], sizeof(keys[i]), "id-%d", i);
    memset(present, 0, sizeof(present));
}

/* The hash the test gives the map for key i. mode 0: idmap_hash; mode 1:
 * 8 distinct values (long runs); mode 2: every key homes to the table's
 * last slots (runs wrap around to slot 0). */
static uint64_t hash_of(int i, int mode, const struct idmap *m)
{
    uint64_t h = idmap_hash(keys[i]);
    if (mode == 1)
        return h % 8;
    if (mode == 2)
        return m->mask - h % 3;
    return h;
}

/* Every id is found exactly when the model has it, under its handle. */
static void check_all(const struct idmap *m, int mode, int n)
{
    uint32_t count = 0;
    for (int i = 0; i < n; i++) {
        uint32_t got = idmap_find(m, keys[i], hash_of(i, mode, m));
        if (present[i]) {
            assert_int_equal(got, (uint32_t)i);
            count++;
        } else {
            assert_int_equal(got, NONE);
        }
    }
    assert_int_equal(m->count, count);
    /* Load factor <= 1/2. */
    assert_true(m->count * 2ULL <= m->mask + 1ULL);
}

static void test_hash_is_fnv1a(void **state)
{
    assert_true(idmap_hash("") == 0xcbf29ce484222325ULL);
    assert_true(idmap_hash("a") == 0xaf63dc4c8601ec8cULL);
    assert_true(idmap_hash("foobar") == 0x85944171f73967e8ULL);
}

static void test_insert_find_remove(void **state)
{
    struct idmap m;
    keys_init();
    assert_int_equal(idmap_init(&m, 8, key_of, keys), 0);
    assert_int_equal(m.count, 0);
    assert_int_equal(idmap_find(&m, "id-1", idmap_hash("id-1")), NONE);
    assert_int_equal(idmap_insert(&m, idmap_hash(keys[1]), 1), 0);
    assert_int_equal(idmap_insert(&m, idmap_hash(keys[2]), 2), 0);
    assert_int_equal(m.count, 2);
    assert_int_equal(idmap_find(&m, "id-1", idmap_hash("id-1")), 1);
    assert_int_equal(idmap_find(&m, "id-2", idmap_hash("id-2")), 2);
    assert_int_equal(idmap_find(&m, "id-3", idmap_hash("id-3")), NONE);
    /* The strings are compared, not only the hashes: a different string
     * given the hash of a member is not found. */
    assert_int_equal(idmap_find(&m, "id-9", idmap_hash("id-1")), NONE);
    idmap_remove(&m, idmap_hash(keys[1]), 1);
    assert_int_equal(m.count, 1);
    assert_int_equal(idmap_find(&m, "id-1", idmap_hash("id-1")), NONE);
    assert_int_equal(idmap_find(&m, "id-2", idmap_hash("id-2")), 2);
    /* Removing what is not there changes nothing. */
    idmap_remove(&m, idmap_hash(keys[1]), 1);
    idmap_remove(&m, idmap_hash(keys[5]), 5);
    assert_int_equal(m.count, 1);
    assert_int_equal(idmap_find(&m, "id-2", idmap_hash("id-2")), 2);
    /* Re-inserted under another handle (the router reuses slots). */
    assert_int_equal(idmap_insert(&m, idmap_hash(keys[1]), 1), 0);
    assert_int_equal(idmap_find(&m, "id-1", idmap_hash("id-1")), 1);
    idmap_free(&m);
    assert_null(m.slot);
}

/* Colliding hashes: every key of a run is found by its string. */
static void test_collisions(void **state)
{
    struct idmap m;
    keys_init();
    assert_int_equal(idmap_init(&m, 64, key_of, keys), 0);
    for (int i = 0; i < 40; i++) {
        assert_int_equal(idmap_insert(&m, 42, (uint32_t)i), 0);
        present[i] = 1;
    }
    for (int i = 0; i < 40; i++)
        assert_int_equal(idmap_find(&m, keys[i], 42), (uint32_t)i);
    assert_int_equal(idmap_find(&m, keys[40], 42), NONE);
    /* Remove from the middle of the run, then the head: the rest stay
     * reachable (backward shift closes the holes). */
    for (int i = 10; i < 40; i += 3) {
        idmap_remove(&m, 42, (uint32_t)i);
        present[i] = 0;
    }
    idmap_remove(&m, 42, 0);
    present[0] = 0;
    for (int i = 0; i < 40; i++)
        assert_int_equal(idmap_find(&m, keys[i], 42),
                         present[i] ? (uint32_t)i : NONE);
    idmap_free(&m);
}

/* Sized up front, the table does not move while the capacity holds; past
 * it, it grows and keeps every key. */
static void test_capacity_and_growth(void **state)
{
    struct idmap m;
    keys_init();
    assert_int_equal(idmap_init(&m, 1000, key_of, keys), 0);
    assert_true(m.mask + 1 >= 2000);
    struct idmap_slot *table = m.slot;
    uint32_t mask = m.mask;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(idmap_insert(&m, idmap_hash(keys[i]), (uint32_t)i),
                         0);
        present[i] = 1;
    }
    assert_ptr_equal(m.slot, table);          /* no rehash */
    assert_int_equal(m.mask, mask);
    check_all(&m, 0, NKEYS);
    idmap_free(&m);

    /* A small start: grows many times, all keys survive each growth. */
    keys_init();
    assert_int_equal(idmap_init(&m, 1, key_of, keys), 0);
    assert_int_equal(m.mask + 1, 16);
    for (int i = 0; i < NKEYS; i++) {
        assert_int_equal(idmap_insert(&m, idmap_hash(keys[i]), (uint32_t)i),
                         0);
        present[i] = 1;
        if (i % 97 == 0)
            check_all(&m, 0, i + 1);
    }
    check_all(&m, 0, NKEYS);
    assert_true(m.mask + 1 >= 2 * NKEYS);
    idmap_free(&m);
}

/* Random inserts and removes against the model, with each hash mode. After
 * everything is removed, every slot is empty again: deletion leaves no
 * tombstones behind. */
static void random_ops(int mode, uint64_t seed, uint32_t capacity, int n,
                       int nops)
{
    struct idmap m;
    struct rng g;
    keys_init();
    rng_seed(&g, seed);
    assert_int_equal(idmap_init(&m, capacity, key_of, keys), 0);
    for (int op = 0; op < nops; op++) {
        int i = (int)(rng_next(&g) % (uint64_t)n);
        if (present[i]) {
            idmap_remove(&m, hash_of(i, mode, &m), (uint32_t)i);
            present[i] = 0;
        } else if (mode != 2 || m.count * 2 + 2 <= m.mask + 1) {
            /* mode 2 hashes depend on the mask: stay below growth */
            assert_int_equal(idmap_insert(&m, hash_of(i, mode, &m),
                                          (uint32_t)i), 0);
            present[i] = 1;
        }
        if (op % 7 == 0 || n <= 64)
            check_all(&m, mode, n);
    }
    check_all(&m, mode, n);
    uint32_t mask = m.mask;
    for (int i = 0; i < n; i++) {
        if (present[i]) {
            idmap_remove(&m, hash_of(i, mode, &m), (uint32_t)i);
            present[i] = 0;
        }
    }
    assert_int_equal(m.count, 0);
    assert_int_equal(m.mask, mask);
    for (uint32_t s = 0; s <= m.mask; s++)
        assert_int_equal(m.slot[s].handle, NONE);
    check_all(&m, mode, n);
    idmap_free(&m);
}

static void test_random_real_hash(void **state)
{
    random_ops(0, 1, 16, 800, 20000);
    random_ops(0, 2, 1, 300, 5000);            /* with growth */
}

static void test_random_long_runs(void **state)
{
    random_ops(1, 3, 64, 60, 20000);
    random_ops(1, 4, 1, 200, 6000);            /* runs across growths */
}

static void test_random_wraparound(void **state)
{
    random_ops(2, 5, 32, 30, 20000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_is_fnv1a),
        cmocka_unit_test(test_insert_find_remove),
        cmocka_unit_test(test_collisions),
        cmocka_unit_test(test_capacity_and_growth),
        cmocka_unit_test(test_random_real_hash),
        cmocka_unit_test(test_random_long_runs),
        cmocka_unit_test(test_random_wraparound),
    };
    return cmocka_run_group_tests_name("idmap", tests, NULL, NULL);
}
