/* test-frame.c -- the varint-delimited frame cutter (proto/frame.c) as the
 * engine drives it: partial frames byte by byte, many frames per read,
 * oversize, truncated and malformed varints, garbage. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "frame.h"

/* Appends one frame with `plen` payload bytes of value `fill`. */
static size_t put_frame(uint8_t *out, size_t plen, uint8_t fill)
{
    size_t h = frame_varint_put(plen, out);
    memset(out + h, fill, plen);
    return h + plen;
}

static void test_byte_by_byte(void **state)
{
    uint8_t buf[512];
    size_t len = put_frame(buf, 300, 0xab);   /* two-byte varint */
    const uint8_t *p;
    size_t plen, used;

    for (size_t have = 0; have < len; have++)
        assert_int_equal(frame_next(buf, have, 1024, &p, &plen, &used),
                         FRAME_NEED_MORE);
    assert_int_equal(frame_next(buf, len, 1024, &p, &plen, &used), FRAME_OK);
    assert_int_equal(plen, 300);
    assert_int_equal(used, len);
    assert_ptr_equal(p, buf + 2);
    assert_int_equal(p[0], 0xab);
    assert_int_equal(p[299], 0xab);
}

static void test_many_frames_one_read(void **state)
{
    uint8_t buf[4096];
    size_t len = 0, off = 0, n = 0;
    for (int i = 0; i < 50; i++)
        len += put_frame(buf + len, (size_t)i, (uint8_t)i);
    len += frame_varint_put(100, buf + len);   /* a partial tail */
    for (;;) {
        const uint8_t *p;
        size_t plen, used;
        int st = frame_next(buf + off, len - off, 1024, &p, &plen, &used);
        if (st == FRAME_NEED_MORE)
            break;
        assert_int_equal(st, FRAME_OK);
        assert_int_equal(plen, n);
        if (plen)
            assert_int_equal(p[0], (uint8_t)n);
        off += used;
        n++;
    }
    assert_int_equal(n, 50);
    assert_int_equal(len - off, 1);   /* the tail is kept */
}

static void test_empty_payload(void **state)
{
    uint8_t buf[1] = { 0 };
    const uint8_t *p;
    size_t plen = 99, used;
    assert_int_equal(frame_next(buf, 1, 16, &p, &plen, &used), FRAME_OK);
    assert_int_equal(plen, 0);
    assert_int_equal(used, 1);
    assert_int_equal(frame_next(buf, 0, 16, &p, &plen, &used),
                     FRAME_NEED_MORE);
}

static void test_oversize_detected_early(void **state)
{
    uint8_t buf[16];
    size_t h = frame_varint_put(65537, buf);
    const uint8_t *p;
    size_t plen, used;
    /* Known too large from the header alone, before any payload. */
    assert_int_equal(frame_next(buf, h, 65536, &p, &plen, &used),
                     FRAME_E_TOO_LARGE);
    assert_int_equal(plen, 65537);
    h = frame_varint_put(65536, buf);
    assert_int_equal(frame_next(buf, h, 65536, &p, &plen, &used),
                     FRAME_NEED_MORE);
    /* A huge 64-bit length. */
    h = frame_varint_put(UINT64_MAX, buf);
    assert_int_equal(h, 10);
    assert_int_equal(frame_next(buf, h, 65536, &p, &plen, &used),
                     FRAME_E_TOO_LARGE);
}

static void test_truncated_varint(void **state)
{
    uint8_t buf[4] = { 0x80, 0x80, 0x80, 0x80 };
    const uint8_t *p;
    size_t plen, used;
    for (size_t i = 0; i <= sizeof(buf); i++)
        assert_int_equal(frame_next(buf, i, 1u << 30, &p, &plen, &used),
                         FRAME_NEED_MORE);
}

static void test_garbage_varint(void **state)
{
    uint8_t ten[11];
    const uint8_t *p;
    size_t plen, used;
    memset(ten, 0xff, sizeof(ten));
    /* Ten continuation bytes: no valid varint. */
    assert_int_equal(frame_next(ten, 10, 65536, &p, &plen, &used),
                     FRAME_E_VARINT);
    assert_int_equal(frame_next(ten, 11, 65536, &p, &plen, &used),
                     FRAME_E_VARINT);
    /* Tenth byte above 1 overflows 64 bits. */
    memset(ten, 0x80, 9);
    ten[9] = 0x02;
    assert_int_equal(frame_next(ten, 10, 65536, &p, &plen, &used),
                     FRAME_E_VARINT);
    assert_string_equal(ccr_strerror(FRAME_E_VARINT),
                        "malformed length prefix");
}

static void test_varint_round_trip(void **state)
{
    static const uint64_t vals[] = { 0, 1, 127, 128, 255, 300, 16383, 16384,
                                     65535, 1u << 21, 1ull << 35, UINT64_MAX };
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        uint8_t buf[FRAME_VARINT_MAX + 1];
        const uint8_t *p;
        size_t plen = 0, used;
        size_t h = frame_varint_put(vals[i], buf);
        assert_true(h >= 1 && h <= FRAME_VARINT_MAX);
        int st = frame_next(buf, h, SIZE_MAX, &p, &plen, &used);
        if (vals[i] == 0)
            assert_int_equal(st, FRAME_OK);
        else
            assert_int_equal(st, FRAME_NEED_MORE);
        assert_int_equal(plen, vals[i]);
        assert_int_equal(frame_size(5), 6);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_many_frames_one_read),
        cmocka_unit_test(test_empty_payload),
        cmocka_unit_test(test_oversize_detected_early),
        cmocka_unit_test(test_truncated_varint),
        cmocka_unit_test(test_garbage_varint),
        cmocka_unit_test(test_varint_round_trip),
    };
    return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
