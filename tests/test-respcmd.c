/* test-respcmd.c -- engine/respcmd.c formats exactly what hiredis'
 * redisFormatCommandArgv() formats, for random arguments (binary, empty,
 * long, numbers), and journal_pack_to() writes exactly what
 * journal_pack() appends, in journal_packed_size() bytes.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "journal.h"
#include "respcmd.h"
#include "storebatch.h"

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
    rng ^= rng << 13;         /* xorshift64: a fixed seed, runs repeat */
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* A random length: mostly short, some empty, some long (several KiB,
 * past the buffer's first size), and the digit-count edges. */
static size_t rnd_len(void)
{
    static const size_t edge[] = { 0, 1, 9, 10, 99, 100, 999, 1000, 9999,
                                   10000 };
    switch (rnd() % 8) {
    case 0:
        return 0;
    case 1:
        return edge[rnd() % (sizeof(edge) / sizeof(edge[0]))];
    case 2:
        return (size_t)(rnd() % 20000);
    default:
        return (size_t)(rnd() % 40);
    }
}

static void assert_same_as_hiredis(const struct respcmd *c, size_t argc,
                                   const char **argv, const size_t *argvlen)
{
    char *want = NULL;
    int n = redisFormatCommandArgv(&want, (int)argc, argv, argvlen);
    assert_true(n > 0);
    assert_true(respcmd_end(c));
    assert_int_equal(c->len, (size_t)n);
    assert_memory_equal(c->p, want, (size_t)n);
    free(want);
}

/* Random argv, arguments of any bytes (NUL, CR, LF among them) and of
 * any length including 0, added through every entry point. */
static void test_random_argv(void **state)
{
    (void)state;
    struct respcmd c = { 0 };
    char *pool = malloc(20000);
    assert_non_null(pool);
    for (size_t i = 0; i < 20000; i++)
        pool[i] = (char)rnd();
    for (int round = 0; round < 3000; round++) {
        size_t argc = 1 + (size_t)(rnd() % 40);
        const char *argv[40];
        size_t argvlen[40];
        char nums[40][24];
        for (size_t i = 0; i < argc; i++) {
            argvlen[i] = rnd_len();
            argv[i] = pool + (rnd() % (20000 - argvlen[i] + 1));
        }
        int how = (int)(rnd() % 3);
        respcmd_begin(&c, argc);
        if (how == 0) {
            respcmd_argv(&c, argc, argv, argvlen);
        } else {
            for (size_t i = 0; i < argc; i++) {
                int k = (int)(rnd() % 4);
                if (k == 0) {
                    uint64_t v = rnd() >> (rnd() % 64);
                    snprintf(nums[i], sizeof(nums[i]), "%" PRIu64, v);
                    argv[i] = nums[i];
                    argvlen[i] = strlen(nums[i]);
                    respcmd_u64(&c, v);
                } else if (k == 1) {
                    uint8_t *at = respcmd_open(&c, argvlen[i]);
                    assert_non_null(at);
                    memcpy(at, argv[i], argvlen[i]);
                } else {
                    respcmd_arg(&c, argv[i], argvlen[i]);
                }
            }
        }
        assert_same_as_hiredis(&c, argc, argv, argvlen);
    }
    respcmd_free(&c);
    free(pool);
}

/* A command started from a prepared head (respcmd_copy) is the same as
 * one formatted whole; the head stays as it was for the next copy. */
static void test_copy_head(void **state)
{
    (void)state;
    struct respcmd head = { 0 }, c = { 0 };
    char pool[4096];
    for (size_t i = 0; i < sizeof(pool); i++)
        pool[i] = (char)rnd();
    for (int round = 0; round < 500; round++) {
        size_t argc = 1 + (size_t)(rnd() % 16);
        size_t k = (size_t)(rnd() % (argc + 1));   /* args in the head */
        const char *argv[16];
        size_t argvlen[16];
        for (size_t i = 0; i < argc; i++) {
            argvlen[i] = (size_t)(rnd() % 200);
            argv[i] = pool + rnd() % (sizeof(pool) - argvlen[i]);
        }
        respcmd_begin(&head, argc);
        respcmd_argv(&head, k, argv, argvlen);
        size_t hl = head.len;
        for (int twice = 0; twice < 2; twice++) {
            respcmd_copy(&c, &head);
            assert_int_equal(respcmd_end(&c), k == argc);
            respcmd_argv(&c, argc - k, argv + k, argvlen + k);
            assert_same_as_hiredis(&c, argc, argv, argvlen);
            assert_int_equal(head.len, hl);
        }
    }
    respcmd_free(&head);
    respcmd_free(&c);
}

/* A string argument is its strlen bytes; NULL is empty; u64 edges. */
static void test_str_and_numbers(void **state)
{
    (void)state;
    struct respcmd c = { 0 };
    respcmd_begin(&c, 5);
    respcmd_str(&c, "EVALSHA");
    respcmd_str(&c, NULL);
    respcmd_u64(&c, 0);
    respcmd_u64(&c, UINT64_MAX);
    respcmd_str(&c, "");
    const char *argv[] = { "EVALSHA", "", "0", "18446744073709551615", "" };
    size_t argvlen[] = { 7, 0, 1, 20, 0 };
    assert_same_as_hiredis(&c, 5, argv, argvlen);
    respcmd_free(&c);
}

/* A command is whole only with every announced argument, and one too
 * many fails it (sticky until the next begin). */
static void test_argument_count(void **state)
{
    (void)state;
    struct respcmd c = { 0 };
    respcmd_begin(&c, 2);
    respcmd_str(&c, "GET");
    assert_false(respcmd_end(&c));
    respcmd_str(&c, "k");
    assert_true(respcmd_end(&c));
    respcmd_str(&c, "extra");
    assert_false(respcmd_end(&c));
    assert_null(respcmd_open(&c, 3));
    respcmd_begin(&c, 1);
    respcmd_str(&c, "PING");
    assert_true(respcmd_end(&c));
    assert_int_equal(c.len, 14);
    assert_memory_equal(c.p, "*1\r\n$4\r\nPING\r\n", 14);
    respcmd_free(&c);
}

/* journal_pack_to() == journal_pack(), in journal_packed_size() bytes,
 * for random batches of every op kind (varint lengths of 1, 2 and 3
 * bytes among the fields), and the empty batch. */
static void test_pack_to(void **state)
{
    (void)state;
    struct storebatch b;
    storebatch_init(&b);
    struct journal_buf want = { 0 };
    uint8_t *blob = malloc(20000);
    char id[64];
    assert_non_null(blob);
    for (size_t i = 0; i < 20000; i++)
        blob[i] = (uint8_t)rnd();
    for (int round = 0; round < 500; round++) {
        storebatch_reset(&b);
        size_t nops = round == 0 ? 0 : (size_t)(rnd() % 30);
        for (size_t k = 0; k < nops; k++) {
            snprintf(id, sizeof(id), "c%" PRIu64, rnd() % 1000);
            size_t bl = rnd_len();
            int rc;
            switch (rnd() % 8) {
            case 0:
                rc = storebatch_contact_arrived(&b, id, blob, bl, rnd(),
                                                rnd() % 100000, "sw", "");
                break;
            case 1:
                rc = storebatch_contact_state(&b, id, 2, "q", "", 99);
                break;
            case 2:
                rc = storebatch_event(&b, "queued", id, NULL, "q",
                                      rnd(), "");
                break;
            case 3:
                rc = storebatch_agent_login(&b, id, blob, bl, "", "p");
                break;
            case 4:
                rc = storebatch_ob_put(&b, id, (unsigned)(rnd() % 9), blob,
                                       bl);
                break;
            case 5:
                rc = storebatch_clear(&b);
                break;
            case 6:
                rc = storebatch_contact_new(&b, id, blob, bl, 1, 2, "o", "p",
                                            1, "q", "a", 7);
                break;
            default:
                rc = storebatch_contact_gone(&b, id, 4);
                break;
            }
            assert_int_equal(rc, 0);
        }
        want.len = 0;
        assert_int_equal(journal_pack(&b, &want), 0);
        size_t n = journal_packed_size(&b);
        assert_int_equal(n, want.len);
        uint8_t *got = malloc(n + 1);
        assert_non_null(got);
        got[n] = 0xa5;                  /* nothing written past the end */
        assert_ptr_equal(journal_pack_to(&b, got), got + n);
        assert_int_equal(got[n], 0xa5);
        if (n)
            assert_memory_equal(got, want.p, n);
        free(got);
    }
    journal_buf_free(&want);
    storebatch_free(&b);
    free(blob);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_argv),
        cmocka_unit_test(test_copy_head),
        cmocka_unit_test(test_str_and_numbers),
        cmocka_unit_test(test_argument_count),
        cmocka_unit_test(test_pack_to),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
