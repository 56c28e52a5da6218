/* arena.h -- a bump allocator for decoding and encoding protobuf messages.
 *
 * protobuf-c allocates every sub-message, string and repeated array of an
 * unpacked message separately. On the request path that would be a dozen
 * malloc/free pairs per frame; instead the engine hands protobuf-c an
 * arena_allocator() that bumps a pointer in one block allocated at start-up
 * and resets it (one store) after the frame is handled. free() is a no-op.
 *
 * A request larger than what is left of the block (a frame near max_frame
 * with many small fields) spills into overflow blocks taken with malloc and
 * released at the next reset, so correctness never depends on the block
 * size; the block is sized so that this does not happen in steady state
 * (arena_spills() counts it for tests and statistics).
 *
 * Ownership: everything allocated from the arena is valid until the next
 * arena_reset() or arena_fini(). Not thread-safe (one per loop).
 */
#ifndef CCROUTE_ARENA_H
#define CCROUTE_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "arena-t.h"

/* Allocates the block (`cap` bytes). Returns 0 or -ENOMEM. */
int arena_init(struct arena *a, size_t cap);
void arena_fini(struct arena *a);
/* Returns `n` bytes aligned for any type, or NULL when out of memory. */
void *arena_alloc(struct arena *a, size_t n);
/* Forgets every allocation; frees overflow blocks. O(spills). */
void arena_reset(struct arena *a);
/* The ProtobufCAllocator view of the arena (borrowed; lives as `a`). */
ProtobufCAllocator *arena_allocator(struct arena *a);
/* Bytes in use in the main block, overflow blocks taken since init. */
size_t arena_used(const struct arena *a);
uint64_t arena_spills(const struct arena *a);

#endif
