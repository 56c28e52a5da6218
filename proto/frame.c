/* frame.c -- varint length-prefixed framing; see frame.h. */
#include "frame.h"

int frame_next(const uint8_t *buf, size_t len, size_t max,
               const uint8_t **payload, size_t *plen, size_t *consumed)
{
    uint64_t n = 0;
    size_t i;

    for (i = 0; i < len && i < FRAME_VARINT_MAX; i++) {
        uint8_t b = buf[i];
        /* The tenth byte may only carry the top bit of a 64-bit value. */
        if (i == FRAME_VARINT_MAX - 1 && b > 1)
            return FRAME_E_VARINT;
        n |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            size_t hdr = i + 1;
            *plen = (size_t)n;
            if (n > max)
                return FRAME_E_TOO_LARGE;
            if (len - hdr < n)
                return FRAME_NEED_MORE;
            *payload = buf + hdr;
            *consumed = hdr + (size_t)n;
            return FRAME_OK;
        }
    }
    if (i == FRAME_VARINT_MAX)
        return FRAME_E_VARINT;
    /* Every byte so far continues the varint: wait for the rest. */
    return FRAME_NEED_MORE;
}

size_t frame_varint_put(uint64_t v, uint8_t *out)
{
    size_t i = 0;
    while (v >= 0x80) {
        out[i++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[i++] = (uint8_t)v;
    return i;
}

size_t frame_size(size_t plen)
{
    uint8_t tmp[FRAME_VARINT_MAX];
    return frame_varint_put(plen, tmp) + plen;
}

