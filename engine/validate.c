/* validate.c -- the request validation step; see validate.h.
 *
 * Why the raw bytes. protobuf-c does not check that a `string` field is
 * UTF-8, and it hands each one over as a C string: it copies the bytes and
 * appends a NUL, so a string that carries a NUL byte arrives cut short at
 * it with nothing left to show that it was (its decoded length is not
 * kept). Checked on the decoded message, "a7\0x" would pass as "a7". So
 * the check walks the wire encoding of the request itself, guided by the
 * generated descriptors: every length-delimited field whose descriptor
 * says `string` is checked where it lies, every nested message is walked
 * in turn, everything else is skipped. Driven by the descriptors, it
 * covers every string field of every message, present and future, with no
 * list to keep in step with the schema.
 *
 * The rule is one for every string field (ids, names, queues, skills,
 * reasons, attribute keys and values, Hello.client_name): well-formed
 * UTF-8 (RFC 3629) and no NUL byte, since every string is a C string
 * inside the engine. A request that breaks it is refused as a whole with
 * INVALID_FIELD, before anything is changed.
 *
 * Cost: one pass over the frame's bytes (the ASCII fast path takes eight
 * bytes a step), no allocation; the field path is built in a buffer on
 * the stack only to be written into the error message.
 */
#include "validate.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "router-t.h"

#define WALK_DEPTH_MAX 8        /* the schema nests three deep */
#define PATH_MAX_LEN 160
#define COUNT_FIELDS 64         /* repeated-field indexes kept per message */

/* ---- UTF-8 ---- */

size_t validate_utf8_prefix(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        /* ASCII runs, eight bytes a step */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= len)
            break;
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        /* the bounds of the second byte and the count of the following
         * ones, per RFC 3629's table (shortest form, no surrogates, at
         * most U+10FFFF) */
        uint8_t lo = 0x80, hi = 0xBF;
        size_t n;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
        } else if (c == 0xE0) {
            n = 2;
            lo = 0xA0;
        } else if (c == 0xED) {
            n = 2;
            hi = 0x9F;
        } else if (c >= 0xE1 && c <= 0xEF) {
            n = 2;
        } else if (c == 0xF0) {
            n = 3;
            lo = 0x90;
        } else if (c >= 0xF1 && c <= 0xF3) {
            n = 3;
        } else if (c == 0xF4) {
            n = 3;
            hi = 0x8F;
        } else {
            return i;           /* 80..C1 (stray or overlong), F5..FF */
        }
        if (len - i <= n)
            return i;           /* truncated */
        if (s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k <= n; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
        i += n + 1;
    }
    return len;
}

/* ---- the wire walk ---- */

/* The field being checked at each depth: enough to name it on failure.
 * The path is only written out when a check fails, so that a valid
 * request costs no formatting. */
struct walk_frame {
    const ProtobufCFieldDescriptor *f;
    unsigned index;             /* of a repeated field */
};

struct walk {
    const char *prefix;         /* names the message, or "" */
    struct walk_frame stack[WALK_DEPTH_MAX + 2];
    unsigned depth;             /* frames in use */
    char *msg;
    size_t msglen;
};

static int walk_fail(struct walk *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Writes "<path> <what>" into the caller's message. */
static int walk_fail(struct walk *w, const char *fmt, ...)
{
    char what[96], path[PATH_MAX_LEN];
    size_t n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    /* "Msg.field" or "Msg.field[i]"; the Envelope's body is named by its
     * message alone ("ContactArrived") */
    path[0] = '\0';
    if (*w->prefix)
        n = (size_t)snprintf(path, sizeof(path), "%s", w->prefix);
    for (unsigned i = 0; i < w->depth && n < sizeof(path); i++) {
        const struct walk_frame *fr = &w->stack[i];
        int k;
        if (i == 0 && !*w->prefix && fr->f->type == PROTOBUF_C_TYPE_MESSAGE)
            k = snprintf(path, sizeof(path), "%s",
                         ((const ProtobufCMessageDescriptor *)
                              fr->f->descriptor)->short_name);
        else if (fr->f->label == PROTOBUF_C_LABEL_REPEATED)
            k = snprintf(path + n, sizeof(path) - n, "%s%s[%u]",
                         n ? "." : "", fr->f->name, fr->index);
        else
            k = snprintf(path + n, sizeof(path) - n, "%s%s", n ? "." : "",
                         fr->f->name);
        if (k < 0)
            break;
        n = i == 0 && !*w->prefix && fr->f->type == PROTOBUF_C_TYPE_MESSAGE
                ? (size_t)k : n + (size_t)k;
    }
    snprintf(w->msg, w->msglen, "%s %s", path[0] ? path : "Envelope", what);
    return CCR_EINVAL;
}

/* Reads a varint at *p (below end); false when it runs past end or over
 * ten bytes. */
static bool varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

static int check_string(struct walk *w, const uint8_t *s, size_t n)
{
    const uint8_t *nul = memchr(s, 0, n);
    size_t ok = validate_utf8_prefix(s, n);
    if (nul && (size_t)(nul - s) <= ok)
        return walk_fail(w, "contains a NUL byte (byte %zu)",
                         (size_t)(nul - s));
    if (ok < n)
        return walk_fail(w, "is not valid UTF-8 (byte %zu)", ok);
    return 0;
}

static int walk_message(struct walk *w, const ProtobufCMessageDescriptor *d,
                        const uint8_t *p, size_t len, unsigned depth)
{
    const uint8_t *end = p + len;
    unsigned count[COUNT_FIELDS];
    memset(count, 0, sizeof(count));

    if (depth > WALK_DEPTH_MAX)
        return walk_fail(w, "nests deeper than %d messages",
                         WALK_DEPTH_MAX);
    while (p < end) {
        uint64_t key, n;
        if (!varint(&p, end, &key))
            return walk_fail(w, "is malformed (a field key)");
        unsigned wt = (unsigned)(key & 7);
        if (wt == 0) {
            if (!varint(&p, end, &n))
                return walk_fail(w, "is malformed (a varint)");
            continue;
        }
        if (wt == 1 || wt == 5) {
            size_t k = wt == 1 ? 8 : 4;
            if ((size_t)(end - p) < k)
                return walk_fail(w, "is malformed (truncated)");
            p += k;
            continue;
        }
        if (wt != 2 || !varint(&p, end, &n) || n > (uint64_t)(end - p))
            return walk_fail(w, "is malformed (a field of wire type %u)",
                             wt);
        const uint8_t *v = p;
        p += n;
        uint64_t num = key >> 3;
        const ProtobufCFieldDescriptor *f =
            num <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(
                                    d, (unsigned)num) : NULL;
        if (!f || (f->type != PROTOBUF_C_TYPE_STRING &&
                   f->type != PROTOBUF_C_TYPE_MESSAGE))
            continue;           /* unknown, bytes or packed numbers */
        size_t fi = (size_t)(f - d->fields);
        struct walk_frame *fr = &w->stack[w->depth++];
        fr->f = f;
        fr->index = fi < COUNT_FIELDS ? count[fi]++ : 0;
        int rc = f->type == PROTOBUF_C_TYPE_STRING
                     ? check_string(w, v, (size_t)n)
                     : walk_message(w, f->descriptor, v, (size_t)n,
                                    depth + 1);
        if (rc < 0)
            return rc;
        w->depth--;
    }
    return 0;
}

int validate_strings(const ProtobufCMessageDescriptor *desc,
                     const uint8_t *buf, size_t len, const char *prefix,
                     char *msg, size_t msglen)
{
    struct walk w;
    w.prefix = prefix ? prefix : "";
    w.depth = 0;
    w.msg = msg;
    w.msglen = msglen;
    /* a prefix names the message: its fields are one level down */
    return walk_message(&w, desc, buf, len, *w.prefix ? 1 : 0);
}

/* ---- quotas ---- */

/* `what` names the attributes' field in the message. */
static int check_attributes(Ccroute__V1__Attribute *const *attrs, size_t n,
                            const char *what,
                            const struct validate_limits *lim, char *msg,
                            size_t msglen)
{
    size_t bytes = 0;
    if (lim->max_attributes && n > lim->max_attributes) {
        snprintf(msg, msglen, "%s: %zu attributes, at most %u are allowed",
                 what, n, lim->max_attributes);
        return CCR_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        const Ccroute__V1__Attribute *a = attrs[i];
        bytes += (a->key ? strlen(a->key) : 0) +
                 (a->value ? strlen(a->value) : 0);
    }
    if (lim->max_attribute_bytes && bytes > lim->max_attribute_bytes) {
        snprintf(msg, msglen, "%s: %zu bytes of keys and values, at most %u "
                 "are allowed", what, bytes, lim->max_attribute_bytes);
        return CCR_EINVAL;
    }
    return 0;
}

/* A lead's attributes become those of the contact its answered call
 * makes (engine/outbound.c): the same quotas as a ContactArrived's, per
 * lead. */
static int check_leads(const Ccroute__V1__LeadsAdd *m,
                       const struct validate_limits *lim, char *msg,
                       size_t msglen)
{
    for (size_t i = 0; i < m->n_leads; i++) {
        char what[64];
        snprintf(what, sizeof(what), "LeadsAdd.leads[%zu].attributes", i);
        if (check_attributes(m->leads[i]->attributes,
                             m->leads[i]->n_attributes, what, lim, msg,
                             msglen) < 0)
            return CCR_EINVAL;
    }
    return 0;
}

void validate_strip_unknown(ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;

    m->n_unknown_fields = 0;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *at = (const char *)m + f->offset;
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
            ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *)at;
            for (size_t k = 0; k < n; k++)
                if (v[k])
                    validate_strip_unknown(v[k]);
            continue;
        }
        /* A oneof member that is not the chosen case shares its storage
         * with the chosen one: skip it. */
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)((const char *)m + f->quantifier_offset) !=
                f->id)
            continue;
        ProtobufCMessage *sub = *(ProtobufCMessage *const *)at;
        if (sub)
            validate_strip_unknown(sub);
    }
}

int validate_request(Ccroute__V1__Envelope *env, const uint8_t *buf,
                     size_t len, const struct validate_limits *lim,
                     char *msg, size_t msglen)
{
    int rc = validate_strings(&ccroute__v1__envelope__descriptor, buf, len,
                              NULL, msg, msglen);
    if (rc == 0)
        validate_strip_unknown(&env->base);
    if (rc < 0)
        return rc;
    if (env->body_case == CCROUTE__V1__ENVELOPE__BODY_CONTACT_ARRIVED &&
        env->contact_arrived) {
        const char *cust = env->contact_arrived->customer_id;
        /* the one string the handler does not measure (the router never
         * sees it), yet it is stored with the contact: an id like the
         * others */
        if (cust && strlen(cust) >= ROUTER_ID_MAX) {
            snprintf(msg, msglen, "ContactArrived.customer_id is longer "
                     "than %d bytes", ROUTER_ID_MAX - 1);
            return CCR_EINVAL;
        }
        if (lim)
            return check_attributes(env->contact_arrived->attributes,
                                    env->contact_arrived->n_attributes,
                                    "ContactArrived.attributes", lim, msg,
                                    msglen);
    }
    if (env->body_case == CCROUTE__V1__ENVELOPE__BODY_LEADS_ADD &&
        env->leads_add && lim)
        return check_leads(env->leads_add, lim, msg, msglen);
    return 0;
}
