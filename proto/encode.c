/* encode.c -- hand-written encoders of the hot replies; see encode.h.
 *
 * The Envelope body field numbers and the field numbers inside each
 * message are those of proto/ccroute.proto; tests/test-encode.c compares
 * every encoder with protobuf-c on random values, so a change of the
 * schema that these miss fails there.
 */
#include "encode.h"

#include <string.h>

/* Envelope fields (ccroute.proto) */
#define ENV_REQUEST_ID 1u
#define ENV_ACK 40u
#define ENV_CONTACT_QUEUED 42u
#define ENV_OFFER 43u
#define ENV_CONTACT_ASSIGNED 45u
#define OFFER_ATTRIBUTES 6u

#define WT_VARINT 0u
#define WT_LEN 2u

/* ---- writing ---- */

static size_t vsize(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *vput(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* A string field (number below 16: one tag byte); left out when empty. */
static size_t str_size(size_t n)
{
    return n ? 1 + vsize(n) + n : 0;
}

static uint8_t *str_put(uint8_t *p, uint32_t f, const char *s, size_t n)
{
    if (!n)
        return p;
    *p++ = (uint8_t)(f << 3 | WT_LEN);
    p = vput(p, n);
    memcpy(p, s, n);
    return p + n;
}

/* A varint field (number below 16); left out when 0. */
static size_t num_size(uint64_t v)
{
    return v ? 1 + vsize(v) : 0;
}

static uint8_t *num_put(uint8_t *p, uint32_t f, uint64_t v)
{
    if (!v)
        return p;
    *p++ = (uint8_t)(f << 3 | WT_VARINT);
    return vput(p, v);
}

/* protobuf-c writes an enum as an int32: a negative one sign-extended. */
static uint64_t enum_wire(int v)
{
    return (uint64_t)(int64_t)v;
}

static size_t slen(const char *s)
{
    return s ? strlen(s) : 0;
}

/* The Envelope around a body of `body` bytes, in field `field`. */
static size_t env_size(uint64_t request_id, uint32_t field, size_t body)
{
    return num_size(request_id) + vsize((uint64_t)field << 3 | WT_LEN) +
           vsize(body) + body;
}

static size_t frame_of(size_t env)
{
    return vsize(env) + env;
}

/* Writes the frame prefix and the Envelope up to the body's bytes. */
static uint8_t *env_put(uint8_t *p, uint64_t request_id, uint32_t field,
                        size_t body)
{
    p = vput(p, env_size(request_id, field, body));
    if (request_id) {
        *p++ = (uint8_t)(ENV_REQUEST_ID << 3 | WT_VARINT);
        p = vput(p, request_id);
    }
    p = vput(p, (uint64_t)field << 3 | WT_LEN);
    return vput(p, body);
}

size_t encode_ack(uint8_t *out, uint64_t request_id)
{
    return (size_t)(env_put(out, request_id, ENV_ACK, 0) - out);
}

/* ContactQueued: contact_id 1, queue 2, position 3, estimated_wait_ms 4,
 * status 5, unservable 6. */
static size_t queued_body(const struct encode_queued *m)
{
    return str_size(m->len_[0]) + str_size(m->len_[1]) +
           num_size(m->position) + num_size(m->estimated_wait_ms) +
           num_size(enum_wire(m->status)) + (m->unservable ? 2 : 0);
}

size_t encode_queued_size(struct encode_queued *m)
{
    m->len_[0] = slen(m->contact_id);
    m->len_[1] = slen(m->queue);
    m->len_[2] = queued_body(m);
    return frame_of(env_size(m->request_id, ENV_CONTACT_QUEUED, m->len_[2]));
}

void encode_queued(uint8_t *out, const struct encode_queued *m)
{
    uint8_t *p = env_put(out, m->request_id, ENV_CONTACT_QUEUED, m->len_[2]);
    p = str_put(p, 1, m->contact_id, m->len_[0]);
    p = str_put(p, 2, m->queue, m->len_[1]);
    p = num_put(p, 3, m->position);
    p = num_put(p, 4, m->estimated_wait_ms);
    p = num_put(p, 5, enum_wire(m->status));
    num_put(p, 6, m->unservable ? 1 : 0);
}

/* Offer: contact_id 1, agent_id 2, queue 3, deadline_ms 4, channel 5,
 * attributes 6 (copied from ContactArrived's field 11, re-tagged). */
size_t encode_offer_size(struct encode_offer *m)
{
    m->len_[0] = slen(m->contact_id);
    m->len_[1] = slen(m->agent_id);
    m->len_[2] = slen(m->queue);
    m->len_[3] = str_size(m->len_[0]) + str_size(m->len_[1]) +
                 str_size(m->len_[2]) + num_size(m->deadline_ms) +
                 num_size(enum_wire(m->channel)) +
                 (m->attrs ? m->attrs_len : 0);
    return frame_of(env_size(m->request_id, ENV_OFFER, m->len_[3]));
}

void encode_offer(uint8_t *out, const struct encode_offer *m)
{
    uint8_t *p = env_put(out, m->request_id, ENV_OFFER, m->len_[3]);
    p = str_put(p, 1, m->contact_id, m->len_[0]);
    p = str_put(p, 2, m->agent_id, m->len_[1]);
    p = str_put(p, 3, m->queue, m->len_[2]);
    p = num_put(p, 4, m->deadline_ms);
    p = num_put(p, 5, enum_wire(m->channel));
    if (!m->attrs || !m->attrs_len)
        return;
    /* each entry: one tag byte, then its length and bytes unchanged (the
     * run was checked by encode_attr_offset(), and a tag below 16 is one
     * byte in both messages) */
    memcpy(p, m->attrs, m->attrs_len);
    for (size_t i = 0; i < m->attrs_len;) {
        uint64_t n = 0;
        unsigned shift = 0;
        p[i++] = (uint8_t)(OFFER_ATTRIBUTES << 3 | WT_LEN);
        while (i < m->attrs_len) {
            uint8_t b = p[i++];
            n |= (uint64_t)(b & 0x7f) << shift;
            shift += 7;
            if (!(b & 0x80))
                break;
        }
        i += (size_t)n;
    }
}

/* ContactAssigned: contact_id 1, agent_id 2, queue 3. */
size_t encode_assigned_size(struct encode_assigned *m)
{
    m->len_[0] = slen(m->contact_id);
    m->len_[1] = slen(m->agent_id);
    m->len_[2] = slen(m->queue);
    m->len_[3] = str_size(m->len_[0]) + str_size(m->len_[1]) +
                 str_size(m->len_[2]);
    return frame_of(env_size(m->request_id, ENV_CONTACT_ASSIGNED,
                             m->len_[3]));
}

void encode_assigned(uint8_t *out, const struct encode_assigned *m)
{
    uint8_t *p = env_put(out, m->request_id, ENV_CONTACT_ASSIGNED,
                         m->len_[3]);
    p = str_put(p, 1, m->contact_id, m->len_[0]);
    p = str_put(p, 2, m->agent_id, m->len_[1]);
    str_put(p, 3, m->queue, m->len_[2]);
}

/* ---- reading ---- */

/* One varint at *p (never past end): 1 and *v, with *minimal set when it
 * is in its shortest form; 0 when malformed (truncated, above 64 bits). */
static int vget(const uint8_t **p, const uint8_t *end, uint64_t *v,
                bool *minimal)
{
    uint64_t x = 0;
    const uint8_t *s = *p;
    for (unsigned i = 0; i < 10 && s + i < end; i++) {
        uint8_t b = s[i];
        if (i == 9 && b > 1)
            return 0;
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            *minimal = i == 0 || b != 0;
            *p = s + i + 1;
            return 1;
        }
    }
    return 0;
}

/* Skips the value of a field of wire type wt at *p: 1, or 0 when
 * malformed or of a wire type that has no length (groups). */
static int skip_value(const uint8_t **p, const uint8_t *end, unsigned wt)
{
    uint64_t v;
    bool min;
    switch (wt) {
    case 0:
        return vget(p, end, &v, &min);
    case 1:
        if (end - *p < 8)
            return 0;
        *p += 8;
        return 1;
    case 2:
        if (!vget(p, end, &v, &min) || v > (uint64_t)(end - *p))
            return 0;
        *p += v;
        return 1;
    case 5:
        if (end - *p < 4)
            return 0;
        *p += 4;
        return 1;
    }
    return 0;
}

int encode_attr_offset(const uint8_t *buf, size_t len, uint32_t field,
                       size_t *off)
{
    const uint8_t *p = buf, *end = buf + len, *first = NULL;
    while (p < end) {
        const uint8_t *at = p;
        uint64_t tag;
        bool min;
        if (!vget(&p, end, &tag, &min) || !skip_value(&p, end, tag & 7))
            return -1;
        if (tag >> 3 == field) {
            /* one tag byte, length-delimited: re-tagging keeps the size */
            if ((tag & 7) != WT_LEN || p - at < 2 || at[0] & 0x80)
                return -1;
            if (!first)
                first = at;
        } else if (first) {
            return -1;          /* something after the entries */
        }
    }
    *off = first ? (size_t)(first - buf) : len;
    return 0;
}

int encode_field_once(const uint8_t *buf, size_t len, uint32_t field,
                      const uint8_t **val, size_t *vlen)
{
    const uint8_t *p = buf, *end = buf + len;
    unsigned seen = 0;
    while (p < end) {
        uint64_t tag, n;
        bool min;
        if (!vget(&p, end, &tag, &min))
            return -1;
        if (tag >> 3 != field) {
            if (!skip_value(&p, end, tag & 7))
                return -1;
            continue;
        }
        if ((tag & 7) != WT_LEN || !vget(&p, end, &n, &min) ||
            n > (uint64_t)(end - p) || ++seen > 1)
            return -1;
        *val = p;
        *vlen = (size_t)n;
        p += n;
    }
    return seen == 1 ? 0 : -1;
}

bool encode_canonical(const ProtobufCMessageDescriptor *desc,
                      const uint8_t *buf, size_t len)
{
    const uint8_t *p = buf, *end = buf + len;
    uint64_t last = 0;
    while (p < end) {
        uint64_t tag, v;
        bool min;
        if (!vget(&p, end, &tag, &min) || !min)
            return false;
        uint64_t f = tag >> 3;
        unsigned wt = (unsigned)(tag & 7);
        const ProtobufCFieldDescriptor *fd =
            f && f <= UINT32_MAX
                ? protobuf_c_message_descriptor_get_field(desc, (unsigned)f)
                : NULL;
        if (!fd || (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
            return false;
        bool rep = fd->label == PROTOBUF_C_LABEL_REPEATED;
        if (!rep && fd->label != PROTOBUF_C_LABEL_NONE)
            return false;
        if (f < last || (f == last && !rep))
            return false;
        last = f;
        switch (fd->type) {
        case PROTOBUF_C_TYPE_STRING:
        case PROTOBUF_C_TYPE_MESSAGE:
            if (wt != WT_LEN || !vget(&p, end, &v, &min) || !min ||
                v > (uint64_t)(end - p))
                return false;
            if (fd->type == PROTOBUF_C_TYPE_MESSAGE) {
                if (!encode_canonical(fd->descriptor, p, (size_t)v))
                    return false;
            } else if ((!rep && v == 0) || memchr(p, 0, (size_t)v)) {
                /* an empty string is left out; a NUL would cut the
                 * decoded C string short */
                return false;
            }
            p += v;
            continue;
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_ENUM:
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_BOOL:
            /* repeated scalars are packed by protobuf-c: not handled */
            if (rep || wt != WT_VARINT || !vget(&p, end, &v, &min) || !min ||
                v == 0)
                return false;
            if (fd->type == PROTOBUF_C_TYPE_UINT32 && v > UINT32_MAX)
                return false;
            if ((fd->type == PROTOBUF_C_TYPE_ENUM ||
                 fd->type == PROTOBUF_C_TYPE_INT32) &&
                v > INT32_MAX && v < 0xffffffff80000000ull)
                return false;
            if (fd->type == PROTOBUF_C_TYPE_BOOL && v != 1)
                return false;
            continue;
        case PROTOBUF_C_TYPE_SINT32:
            /* zigzag: one varint of at most 32 bits, 0 left out
             * (ContactArrived.sentiment) */
            if (rep || wt != WT_VARINT || !vget(&p, end, &v, &min) || !min ||
                v == 0 || v > UINT32_MAX)
                return false;
            continue;
        default:
            return false;
        }
    }
    return true;
}
