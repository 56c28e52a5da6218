/* idmap.h -- open-addressing hash map from string ids to uint32 handles.
 *
 * The map does not store the strings: the owner keeps them (in its slots)
 * and the map asks for a handle's key through `key_fn` when two hashes
 * collide. Linear probing with backward-shift deletion (no tombstones), so
 * lookups stay short after any number of removals. Load factor <= 1/2.
 *
 * Complexity: find, insert, remove O(1) expected. insert grows (rehash,
 * O(n)) only past the capacity given to idmap_init(): the router sizes its
 * contact and agent maps up front so that never happens on the hot path.
 */
#ifndef CCROUTE_IDMAP_H
#define CCROUTE_IDMAP_H

#include <stdint.h>

typedef const char *(*idmap_key_fn)(const void *ctx, uint32_t handle);

/* One slot: handle and folded hash side by side, so that a probe costs
 * one cache miss, not two. */
struct idmap_slot {
    uint32_t handle;        /* UINT32_MAX: empty */
    uint32_t hash;          /* folded 32-bit hash (also the home slot) */
};

struct idmap {
    struct idmap_slot *slot;
    uint32_t mask;          /* table size - 1 */
    uint32_t count;
    idmap_key_fn key_fn;
    const void *ctx;
};

/* FNV-1a, 64 bits. */
uint64_t idmap_hash(const char *s);
/* Sizes the table for `capacity` keys. Returns 0 or -1 (out of memory). */
int idmap_init(struct idmap *m, uint32_t capacity, idmap_key_fn key_fn,
               const void *ctx);
void idmap_free(struct idmap *m);
/* Returns the handle stored for `s` (whose idmap_hash is `h`), or
 * UINT32_MAX. */
uint32_t idmap_find(const struct idmap *m, const char *s, uint64_t h);
/* Adds `handle` under hash `h`; the key must be absent. 0 or -1 (out of
 * memory while growing). */
int idmap_insert(struct idmap *m, uint64_t h, uint32_t handle);
/* Removes `handle` (stored under hash `h`). */
void idmap_remove(struct idmap *m, uint64_t h, uint32_t handle);

#endif
