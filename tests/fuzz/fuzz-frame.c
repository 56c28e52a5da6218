/* fuzz-frame.c -- libFuzzer harness for proto/frame.c.
 *
 * Input layout: 4 bytes (little-endian) are the payload limit `max`, the
 * rest is a receive buffer. The harness cuts the buffer with frame_next()
 * in a loop, as engine/conn.c does (many frames per read, stop at the first
 * partial frame or error), and checks frame.h's contract on every call:
 *
 *   - FRAME_OK: 0 < consumed <= len, the payload lies inside buf right
 *     after the header, plen <= max, header + plen == consumed, and the
 *     header is a varint of at most FRAME_VARINT_MAX bytes that a reference
 *     decoder (below) reads as plen;
 *   - FRAME_E_TOO_LARGE: plen > max;
 *   - every status agrees with the reference decoder;
 *   - the cutter is stateless: a prefix of the buffer yields NEED_MORE or
 *     exactly the same answer as the whole buffer, and a whole frame is
 *     found as soon as its last byte has arrived;
 *   - no byte at or past len is read: the buffer handed to frame_next()
 *     always ends where its heap allocation ends, so AddressSanitizer
 *     reports a read past len.
 *
 * It also round-trips frame_varint_put(): a value taken from the input is
 * written, and frame_next() must read back exactly that length from it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "fuzz-check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct cut {
    int st;
    const uint8_t *payload;
    size_t plen, consumed;
};

/* The contract, written the slow and obvious way: a varint of up to ten
 * bytes, the tenth carrying only bit 63. */
static struct cut reference_cut(const uint8_t *buf, size_t len, size_t max)
{
    struct cut r = { FRAME_NEED_MORE, NULL, 0, 0 };
    uint64_t v = 0;
    size_t hdr = 0;

    for (;;) {
        if (hdr == FRAME_VARINT_MAX) {
            r.st = FRAME_E_VARINT;
            return r;
        }
        if (hdr == len)
            return r;                       /* varint not complete yet */
        uint8_t b = buf[hdr];
        if (hdr == FRAME_VARINT_MAX - 1 && (b & 0x7f) > 1) {
            r.st = FRAME_E_VARINT;          /* would overflow 64 bits */
            return r;
        }
        if (hdr == FRAME_VARINT_MAX - 1 && (b & 0x80)) {
            r.st = FRAME_E_VARINT;          /* an eleventh byte */
            return r;
        }
        v |= (uint64_t)(b & 0x7f) << (7 * hdr);
        hdr++;
        if (!(b & 0x80))
            break;
    }
    r.plen = (size_t)v;
    if (v > max) {
        r.st = FRAME_E_TOO_LARGE;
        return r;
    }
    if (len - hdr < v)
        return r;                           /* NEED_MORE, plen set */
    r.st = FRAME_OK;
    r.payload = buf + hdr;
    r.consumed = hdr + (size_t)v;
    return r;
}

/* Runs frame_next() and checks the contract of one call. */
static struct cut checked_cut(const uint8_t *buf, size_t len, size_t max)
{
    struct cut c = { 0, NULL, (size_t)-1, (size_t)-1 };
    struct cut ref = reference_cut(buf, len, max);

    c.st = frame_next(buf, len, max, &c.payload, &c.plen, &c.consumed);
    FUZZ_CHECK(c.st == ref.st, "status %d, reference %d (len %zu, max %zu)",
               c.st, ref.st, len, max);
    switch (c.st) {
    case FRAME_OK:
        FUZZ_CHECK(c.consumed > 0 && c.consumed <= len, "consumed %zu of %zu",
                   c.consumed, len);
        FUZZ_CHECK(c.plen <= max, "plen %zu above max %zu", c.plen, max);
        FUZZ_CHECK(c.payload > buf && c.payload <= buf + len,
                   "payload outside the buffer");
        FUZZ_CHECK((size_t)(c.payload - buf) <= FRAME_VARINT_MAX,
                   "header of %zu bytes", (size_t)(c.payload - buf));
        FUZZ_CHECK((size_t)(c.payload - buf) + c.plen == c.consumed,
                   "header + plen != consumed");
        FUZZ_CHECK(c.payload == ref.payload && c.plen == ref.plen &&
                   c.consumed == ref.consumed,
                   "frame (%zu, %zu) differs from the reference (%zu, %zu)",
                   c.plen, c.consumed, ref.plen, ref.consumed);
        break;
    case FRAME_E_TOO_LARGE:
        FUZZ_CHECK(c.plen > max, "too large, but plen %zu <= max %zu",
                   c.plen, max);
        FUZZ_CHECK(c.plen == ref.plen, "plen %zu, reference %zu", c.plen,
                   ref.plen);
        break;
    case FRAME_NEED_MORE:
    case FRAME_E_VARINT:
        break;
    default:
        FUZZ_CHECK(0, "status %d is not in enum frame_status", c.st);
    }
    return c;
}

/* frame_next() over the first k bytes of buf, copied into an allocation of
 * exactly k bytes so that a read past k is an ASan report. The answer must
 * be NEED_MORE or the whole buffer's answer `whole`. */
static void check_prefix(const uint8_t *buf, size_t k, size_t max,
                         const struct cut *whole)
{
    uint8_t *p = malloc(k ? k : 1);
    FUZZ_CHECK(p != NULL, "out of memory");
    memcpy(p, buf, k);
    struct cut c = checked_cut(p, k, max);
    if (c.st != FRAME_NEED_MORE) {
        FUZZ_CHECK(c.st == whole->st, "prefix of %zu bytes: status %d, whole "
                   "buffer %d", k, c.st, whole->st);
        if (c.st == FRAME_OK)
            FUZZ_CHECK(c.consumed == whole->consumed &&
                       c.plen == whole->plen &&
                       c.payload - p == whole->payload - buf,
                       "prefix of %zu bytes cuts another frame", k);
        if (c.st == FRAME_E_TOO_LARGE)
            FUZZ_CHECK(c.plen == whole->plen, "prefix of %zu bytes: plen %zu,"
                       " whole buffer %zu", k, c.plen, whole->plen);
    }
    free(p);
}

static void check_stream(const uint8_t *buf, size_t len, size_t max)
{
    size_t off = 0;

    while (off <= len) {
        const uint8_t *at = buf + off;
        size_t rest = len - off;
        struct cut c = checked_cut(at, rest, max);

        /* Short prefixes cover every way the header can be cut. */
        for (size_t k = 0; k <= rest && k <= FRAME_VARINT_MAX + 2; k++)
            check_prefix(at, k, max, &c);
        if (c.st != FRAME_OK)
            break;
        /* The frame is found with its last byte, not one byte earlier. */
        check_prefix(at, c.consumed - 1, max, &c);
        check_prefix(at, c.consumed, max, &c);
        off += c.consumed;
    }
}

/* frame_varint_put() then frame_next() over the header alone. */
static void check_varint_round_trip(uint64_t v)
{
    uint8_t hdr[FRAME_VARINT_MAX + 1];
    size_t n;

    memset(hdr, 0xa5, sizeof(hdr));
    n = frame_varint_put(v, hdr);
    FUZZ_CHECK(n >= 1 && n <= FRAME_VARINT_MAX, "varint of %zu bytes", n);
    FUZZ_CHECK(hdr[FRAME_VARINT_MAX] == 0xa5, "frame_varint_put wrote past "
               "FRAME_VARINT_MAX");
    /* Canonical: 7 bits per byte, no superfluous trailing zero byte. */
    size_t want = 1;
    for (uint64_t t = v >> 7; t; t >>= 7)
        want++;
    FUZZ_CHECK(n == want, "%llu took %zu bytes, not %zu",
               (unsigned long long)v, n, want);
    FUZZ_CHECK(frame_size((size_t)v) == n + (size_t)v ||
               (size_t)v > SIZE_MAX - n, "frame_size disagrees");

    uint8_t *p = malloc(n);
    FUZZ_CHECK(p != NULL, "out of memory");
    memcpy(p, hdr, n);
    const uint8_t *payload = NULL;
    size_t plen = 0, consumed = 0;
    int st = frame_next(p, n, SIZE_MAX, &payload, &plen, &consumed);
    if (v == 0)
        FUZZ_CHECK(st == FRAME_OK && plen == 0 && consumed == n,
                   "empty frame: status %d", st);
    else
        FUZZ_CHECK(st == FRAME_NEED_MORE && plen == (size_t)v,
                   "%llu read back as status %d plen %zu",
                   (unsigned long long)v, st, plen);
    if (v > 0) {
        st = frame_next(p, n, (size_t)v - 1, &payload, &plen, &consumed);
        FUZZ_CHECK(st == FRAME_E_TOO_LARGE && plen == (size_t)v,
                   "limit %llu: status %d", (unsigned long long)v - 1, st);
    }
    free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t max32 = 0;
    uint64_t v = 0;

    if (size < 4)
        return 0;
    max32 = (uint32_t)data[0] | (uint32_t)data[1] << 8 |
            (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
    /* data + 4 .. data + size ends where libFuzzer's copy of the input
     * ends: ASan catches a read past len. */
    check_stream(data + 4, size - 4, max32);

    /* A varint value from the stream's first bytes, at every magnitude. */
    for (size_t i = 0; i < 8 && 4 + i < size; i++)
        v |= (uint64_t)data[4 + i] << (8 * i);
    check_varint_round_trip(v);
    check_varint_round_trip(v >> (v & 63));
    return 0;
}
