/* encode.h -- hand-written encoders of the engine's hot replies.
 *
 * Every contact costs the engine an Ack per request, a ContactQueued, an
 * Offer and a ContactAssigned. protobuf-c encodes them by walking their
 * descriptors twice (get_packed_size, then pack) from a message built on
 * the stack. These encoders write the same bytes straight into the
 * output: one size computation from the string lengths, then one pass
 * that writes the frame (length prefix and Envelope). tests/test-encode.c
 * checks them byte for byte against protobuf-c with random field values,
 * so a client sees no difference.
 *
 * protobuf-c's rules that the bytes follow (proto3, no field presence):
 * fields in field-number order; a scalar or string field is left out when
 * it holds its default (0, false, NULL or ""); a message field that is
 * set -- the Envelope's body, an Attribute -- is always written, even
 * empty; enums are int32 varints.
 *
 * Offer attributes are not re-encoded either: a contact keeps its
 * ContactArrived as packed bytes, whose attributes (field 11) are a run of
 * whole Attribute entries at the end (encode_attr_offset()); the Offer
 * copies that run with each tag byte changed to its own field 6, the same
 * length.
 *
 * encode_canonical() says whether bytes a client sent are exactly what
 * protobuf-c would pack from their decoding (no unknown field, nothing
 * out of order or repeated, no default value written, shortest varints):
 * then the engine may keep them as they arrived instead of packing the
 * decoded request again.
 *
 * Ownership: every pointer is borrowed for the call; nothing allocates.
 */
#ifndef CCROUTE_ENCODE_H
#define CCROUTE_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* Bytes of the longest Ack frame: prefix, request_id, empty body. */
#define ENCODE_ACK_MAX 16u

/* A ContactQueued (event or reply). */
struct encode_queued {
    uint64_t request_id;
    const char *contact_id, *queue;     /* NULL or "" are left out */
    uint32_t position, estimated_wait_ms;
    int status;                         /* Ccroute__V1__ContactStatus */
    bool unservable;
    size_t len_[3];                     /* private: encode_queued_size() */
};

/* An Offer. attrs: the attribute entries of a packed ContactArrived
 * (encode_attr_offset()), or NULL. */
struct encode_offer {
    uint64_t request_id;
    const char *contact_id, *agent_id, *queue;
    uint64_t deadline_ms;
    int channel;                        /* Ccroute__V1__Channel */
    const uint8_t *attrs;
    size_t attrs_len;
    size_t len_[4];                     /* private: encode_offer_size() */
};

/* A ContactAssigned. */
struct encode_assigned {
    uint64_t request_id;
    const char *contact_id, *agent_id, *queue;
    size_t len_[4];                     /* private: encode_assigned_size() */
};

/* Writes the frame of Ack{request_id} into out (ENCODE_ACK_MAX bytes of
 * room); returns its length. */
size_t encode_ack(uint8_t *out, uint64_t request_id);

/* The frame's exact length; call it before the encoder (it notes the
 * string lengths in m), which then writes exactly that many bytes. */
size_t encode_queued_size(struct encode_queued *m);
void encode_queued(uint8_t *out, const struct encode_queued *m);
size_t encode_offer_size(struct encode_offer *m);
void encode_offer(uint8_t *out, const struct encode_offer *m);
size_t encode_assigned_size(struct encode_assigned *m);
void encode_assigned(uint8_t *out, const struct encode_assigned *m);

/* Where the entries of repeated message field `field` begin in the packed
 * message buf[0..len), when they are the message's last fields and
 * nothing else follows them (as protobuf-c packs a message whose highest
 * field number is `field`): 0 with *off (len when there are none), or -1
 * when the bytes are not laid out so (or malformed). */
int encode_attr_offset(const uint8_t *buf, size_t len, uint32_t field,
                       size_t *off);

/* The one occurrence of length-delimited field `field` in the packed
 * message buf[0..len): 0 with *val / *vlen pointing into buf, -1 when it
 * occurs never, more than once (protobuf merges repeated occurrences of a
 * message field), with another wire type, or the bytes are malformed. */
int encode_field_once(const uint8_t *buf, size_t len, uint32_t field,
                      const uint8_t **val, size_t *vlen);

/* Whether buf[0..len) is exactly what protobuf-c packs from the message
 * of type desc that it decodes to (see above). Knows the field types the
 * engine stores (strings, uint32/uint64, enums, bool, nested and repeated
 * messages); anything else answers false, which is always safe. */
bool encode_canonical(const ProtobufCMessageDescriptor *desc,
                      const uint8_t *buf, size_t len);

#endif
