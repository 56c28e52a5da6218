/* fuzz-envelope.c -- libFuzzer harness for decoding ccroute.v1.Envelope.
 *
 * The input is one frame payload. It is unpacked exactly as
 * dispatch_frame() does it: ccroute__v1__envelope__unpack() through the
 * engine's arena allocator (engine/arena.h), with the block size that
 * server_init() gives it for the default max_frame, and the arena reset
 * afterwards. An input that does not decode is simply rejected (the engine
 * answers MALFORMED), and so is one that validate_request() refuses (the
 * engine answers INVALID_FIELD). One that decodes must:
 *
 *   - pass protobuf_c_message_check() (every string the handlers read is
 *     a valid pointer, never NULL);
 *   - be readable to its last byte: every field, string, repeated element
 *     and unknown field is walked through the descriptors;
 *   - after validate_request() (which, as in dispatch_frame(), drops every
 *     unknown field: the engine packs and stores copies of requests), pack
 *     again into exactly get_packed_size() bytes, and those bytes must
 *     unpack again and pack to the very same bytes (the round trip is
 *     stable after one normalisation: last-one-wins scalars, merged
 *     sub-messages and one oneof case are all settled by the first pack).
 *
 * The second unpack goes through an arena of one byte, so that every
 * allocation spills into its own malloc'd block and AddressSanitizer sees
 * the bounds of each string and array (inside the engine-sized block a
 * read past a string's end would go unnoticed).
 *
 * libprotobuf-c is the Debian shared library, not instrumented: libFuzzer
 * gets no coverage from inside the decoder. The walk gives it some back:
 * each field present (per message type, field and repeat count) bumps a
 * libFuzzer "extra counter", so an input that decodes a new field or a new
 * message type is kept in the corpus.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "arena.h"
#include "validate.h"
#include "ccroute.pb-c.h"
#include "frame.h"
#include "fuzz-check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* server_init(): max(256 KiB, 4 * max_frame). */
#define ENGINE_ARENA_CAP (FRAME_DEFAULT_MAX * 4 < 256 * 1024 \
                          ? 256 * 1024 : FRAME_DEFAULT_MAX * 4)

#define NCOUNTERS 4096
/* libFuzzer treats every byte of this section as a coverage counter. */
__attribute__((section("__libfuzzer_extra_counters"), used))
static uint8_t field_counters[NCOUNTERS];

static volatile size_t sink;

static void count_field(const ProtobufCMessageDescriptor *d, unsigned field,
                        size_t n)
{
    uintptr_t h = (uintptr_t)d;
    h ^= h >> 17;
    h = h * 31 + field;
    field_counters[h % NCOUNTERS]++;
    /* The count itself, in buckets: 1, 2, 3-4, 5-8, more. */
    unsigned b = n <= 1 ? 0 : n == 2 ? 1 : n <= 4 ? 2 : n <= 8 ? 3 : 4;
    field_counters[(h * 7 + b + 1) % NCOUNTERS]++;
}

static size_t elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

static void walk_message(const ProtobufCMessage *m, unsigned depth);

/* Reads one value of field f at p, to its last byte. */
static void walk_value(const ProtobufCFieldDescriptor *f, const void *p,
                       unsigned depth)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)p;
        FUZZ_CHECK(s != NULL, "%s: NULL string", f->name);
        sink += strlen(s);
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        if (b->len)
            sink += b->data[0] + b->data[b->len - 1];
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)p;
        if (sub)
            walk_message(sub, depth + 1);
        break;
    }
    default: {
        uint8_t v[8];
        memcpy(v, p, elem_size(f->type));
        sink += v[0];
        break;
    }
    }
}

static void walk_message(const ProtobufCMessage *m, unsigned depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const uint8_t *base = (const uint8_t *)m;

    FUZZ_CHECK(depth < 64, "message nesting deeper than the schema");
    FUZZ_CHECK(d && d->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
               "bad descriptor");
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const void *member = base + f->offset;

        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            const uint8_t *arr = *(const uint8_t *const *)member;
            if (n == 0)
                continue;
            FUZZ_CHECK(arr != NULL, "%s.%s: %zu elements, NULL array",
                       d->name, f->name, n);
            for (size_t j = 0; j < n; j++)
                walk_value(f, arr + j * elem_size(f->type), depth);
            count_field(d, i, n);
            continue;
        }
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t which = *(const uint32_t *)(base + f->quantifier_offset);
            if (which != f->id)
                continue;
        } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL &&
                   f->type != PROTOBUF_C_TYPE_STRING &&
                   f->type != PROTOBUF_C_TYPE_MESSAGE &&
                   !*(const protobuf_c_boolean *)(base + f->quantifier_offset)) {
            continue;
        }
        walk_value(f, member, depth);
        count_field(d, i, 1);
    }
    for (unsigned i = 0; i < m->n_unknown_fields; i++) {
        const ProtobufCMessageUnknownField *u = &m->unknown_fields[i];
        /* libprotobuf-c 1.4 takes field number 0 in an overlong tag
         * (0x82 0x00) and packs it back as a one-byte tag it refuses;
         * validate_request() drops unknown fields before anything is
         * packed, and the round trip below checks that. */
        if (u->len)
            sink += u->data[0] + u->data[u->len - 1];
        count_field(d, 1000 + (u->tag & 63), 1);
    }
}

/* Packs env into a new malloc'd buffer of exactly its packed size (the
 * caller frees it); *len gets the size. */
static uint8_t *pack_exact(const Ccroute__V1__Envelope *env, size_t *len)
{
    size_t n = ccroute__v1__envelope__get_packed_size(env);
    uint8_t *buf = malloc(n ? n : 1);
    FUZZ_CHECK(buf != NULL, "out of memory");
    size_t w = ccroute__v1__envelope__pack(env, buf);
    FUZZ_CHECK(w == n, "pack wrote %zu bytes, get_packed_size said %zu", w,
               n);
    *len = n;
    return buf;
}

static struct arena engine_arena;   /* as the server's */
static struct arena spill_arena;    /* every allocation its own block */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    Ccroute__V1__Envelope *env, *env2;
    uint8_t *p1, *p2;
    size_t n1, n2;

    if (!ready) {
        FUZZ_CHECK(arena_init(&engine_arena, ENGINE_ARENA_CAP) == 0, "arena");
        FUZZ_CHECK(arena_init(&spill_arena, 1) == 0, "arena");
        ready = 1;
    }

    env = ccroute__v1__envelope__unpack(arena_allocator(&engine_arena), size,
                                        data);
    if (!env) {
        arena_reset(&engine_arena);
        return 0;
    }
    FUZZ_CHECK(protobuf_c_message_check(&env->base),
               "decoded Envelope fails protobuf_c_message_check");
    walk_message(&env->base, 0);
    {
        char msg[256];
        if (validate_request(env, data, size, NULL, msg, sizeof(msg)) < 0) {
            arena_reset(&engine_arena);
            return 0;
        }
    }
    p1 = pack_exact(env, &n1);
    arena_reset(&engine_arena);   /* env is gone; p1 is ours */

    env2 = ccroute__v1__envelope__unpack(arena_allocator(&spill_arena), n1,
                                         p1);
    FUZZ_CHECK(env2 != NULL, "a packed Envelope (%zu bytes) does not unpack",
               n1);
    FUZZ_CHECK(protobuf_c_message_check(&env2->base),
               "re-decoded Envelope fails protobuf_c_message_check");
    walk_message(&env2->base, 0);
    p2 = pack_exact(env2, &n2);
    arena_reset(&spill_arena);
    FUZZ_CHECK(n2 == n1 && memcmp(p1, p2, n1) == 0,
               "round trip is not stable: %zu bytes, then %zu", n1, n2);
    free(p1);
    free(p2);
    return 0;
}
