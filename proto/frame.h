/* frame.h -- length-delimited framing of ccroute.v1.Envelope messages.
 *
 * A frame is a base-128 varint holding the payload length, then the payload
 * (one encoded Envelope). This is protobuf's standard "delimited" format:
 * Java's writeDelimitedTo/parseDelimitedFrom, Go's protodelim, Python's
 * _VarintBytes + message. The decoder here is stateless: it looks at the
 * bytes received so far and says whether a whole frame is there, so a
 * caller can keep one receive buffer, call frame_next() in a loop (many
 * frames per read) and keep the tail (a partial frame) for the next read.
 *
 * The length is checked against the caller's limit as soon as the varint is
 * complete, before a single payload byte is waited for or allocated.
 */
#ifndef CCROUTE_FRAME_H
#define CCROUTE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define FRAME_VARINT_MAX 10          /* bytes of a 64-bit varint */
#define FRAME_DEFAULT_MAX (64 * 1024) /* default payload limit */

enum frame_status {
    FRAME_OK = 0,           /* a whole frame is at the front of the buffer */
    FRAME_NEED_MORE = 1,    /* partial frame: read more, keep the bytes */
    FRAME_E_TOO_LARGE = CCR_EFRAMESIZE, /* declared length above the limit */
    FRAME_E_VARINT = CCR_EVARINT,       /* length prefix is not a varint */
};

/* Looks for one frame at the start of buf[0..len). On FRAME_OK, *payload
 * points into buf, *plen is its length and *consumed the bytes of header and
 * payload together. On FRAME_E_TOO_LARGE *plen holds the declared length.
 * The stream cannot be trusted after an error (no resynchronisation is
 * possible in a length-prefixed stream). */
int frame_next(const uint8_t *buf, size_t len, size_t max,
               const uint8_t **payload, size_t *plen, size_t *consumed);

/* Writes v as a varint into out (room for FRAME_VARINT_MAX), returns the
 * number of bytes written. */
size_t frame_varint_put(uint64_t v, uint8_t *out);

/* Bytes of a whole frame (varint length prefix and payload) for a payload
 * of plen bytes. */
size_t frame_size(size_t plen);


#endif
