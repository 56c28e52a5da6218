/* validate.h -- the request validation step: string fields and the
 * per-contact quotas, checked once per request before its handler.
 *
 * dispatch_frame() calls validate_request() after the Envelope decoded and
 * before the table's handler runs, so that no handler, no router slot, no
 * side table and no Redis key ever holds a string that a standard protobuf
 * client cannot decode (see validate.c for why the check reads the raw
 * bytes and not the decoded message).
 *
 * Errors: 0 or CCR_EINVAL with a message naming the field, e.g.
 *   ContactArrived.attributes[2].value is not valid UTF-8 (byte 7)
 * Ownership: nothing is kept; every pointer is borrowed for the call.
 */
#ifndef CCROUTE_VALIDATE_H
#define CCROUTE_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "ccroute.pb-c.h"

/* The per-contact quotas (struct config carries the configured ones),
 * also applied to each lead of a LeadsAdd. */
struct validate_limits {
    uint32_t max_attributes;        /* attributes per ContactArrived */
    uint32_t max_attribute_bytes;   /* sum of their keys' and values' bytes */
};

/* The length of the longest prefix of s[0..len) that is well-formed UTF-8
 * (RFC 3629: shortest form only, no surrogates U+D800..U+DFFF, nothing
 * above U+10FFFF, no truncated sequence): len when all of it is. */
size_t validate_utf8_prefix(const uint8_t *s, size_t len);

/* Checks every string field of the packed message buf[0..len) of type
 * `desc`, nested messages included: well-formed UTF-8 and no NUL byte.
 * buf must have decoded as `desc` already (protobuf-c); a malformed
 * encoding is reported too, never read past. `prefix` starts the field
 * path in the message (the message's name). 0, or CCR_EINVAL with the
 * path and the fault in msg. */
int validate_strings(const ProtobufCMessageDescriptor *desc,
                     const uint8_t *buf, size_t len, const char *prefix,
                     char *msg, size_t msglen);

/* Drops the unknown fields of m and of every message inside it (the
 * chosen oneof member, singular and repeated message fields). The engine
 * keeps packed copies of requests (ContactArrived, AgentLogin) for a
 * contact's or agent's life, in memory and in Redis; protobuf-c packs
 * unknown fields back, which would put bytes outside every quota there,
 * and libprotobuf-c 1.4 packs an unknown field 0 (accepted in an overlong
 * tag) into bytes it then refuses to unpack: a stored copy that never
 * decodes again. m is changed in place; nothing is freed (the arena
 * owns it). */
void validate_strip_unknown(ProtobufCMessage *m);

/* The whole validation of one request: validate_strings() over the packed
 * Envelope buf[0..len) that decoded as env, then for a ContactArrived the
 * attribute quotas and the length of customer_id (at most
 * ROUTER_ID_MAX - 1 bytes, like every id), and for a LeadsAdd the
 * attribute quotas of each lead (they become a contact's attributes). It also drops every unknown
 * field of the request (validate_strip_unknown): env is changed in place
 * (borrowed for the call). 0, or CCR_EINVAL with the message for the
 * INVALID_FIELD Error in msg. */
int validate_request(Ccroute__V1__Envelope *env, const uint8_t *buf,
                     size_t len, const struct validate_limits *lim,
                     char *msg, size_t msglen);

#endif
