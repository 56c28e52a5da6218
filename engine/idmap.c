/* idmap.c -- string id -> handle map; see idmap.h for the design. */
#include "idmap.h"

#include <stdlib.h>
#include <string.h>

#define EMPTY UINT32_MAX

uint64_t idmap_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

static int table_alloc(struct idmap *m, uint32_t size)
{
    m->slot = malloc(sizeof(*m->slot) * size);
    if (!m->slot)
        return -1;
    for (uint32_t i = 0; i < size; i++)
        m->slot[i] = (struct idmap_slot){EMPTY, 0};
    m->mask = size - 1;
    return 0;
}

int idmap_init(struct idmap *m, uint32_t capacity, idmap_key_fn key_fn,
               const void *ctx)
{
    uint32_t size = 16;
    while (size < capacity * 2ULL && size < (1U << 31))
        size <<= 1;
    m->count = 0;
    m->key_fn = key_fn;
    m->ctx = ctx;
    return table_alloc(m, size);
}

void idmap_free(struct idmap *m)
{
    free(m->slot);
    m->slot = NULL;
}

static uint32_t fold(uint64_t h)
{
    return (uint32_t)(h ^ (h >> 32));
}

uint32_t idmap_find(const struct idmap *m, const char *s, uint64_t h)
{
    uint32_t f = fold(h);
    for (uint32_t i = f & m->mask;; i = (i + 1) & m->mask) {
        uint32_t hd = m->slot[i].handle;
        if (hd == EMPTY)
            return EMPTY;
        if (m->slot[i].hash == f && strcmp(m->key_fn(m->ctx, hd), s) == 0)
            return hd;
    }
}

static void put(struct idmap *m, uint32_t f, uint32_t hd)
{
    uint32_t i = f & m->mask;
    while (m->slot[i].handle != EMPTY)
        i = (i + 1) & m->mask;
    m->slot[i] = (struct idmap_slot){hd, f};
}

/* slot[].hash keeps the folded 32-bit hash, which is also the home slot, so
 * growing and deleting never need the strings. */
static int grow(struct idmap *m)
{
    struct idmap_slot *old = m->slot;
    uint32_t osize = m->mask + 1;
    if (table_alloc(m, osize * 2) < 0) {
        m->slot = old;
        m->mask = osize - 1;
        return -1;
    }
    for (uint32_t i = 0; i < osize; i++)
        if (old[i].handle != EMPTY)
            put(m, old[i].hash, old[i].handle);
    free(old);
    return 0;
}

int idmap_insert(struct idmap *m, uint64_t h, uint32_t handle)
{
    if ((m->count + 1) * 2ULL > m->mask + 1ULL && grow(m) < 0)
        return -1;
    put(m, fold(h), handle);
    m->count++;
    return 0;
}

void idmap_remove(struct idmap *m, uint64_t h, uint32_t handle)
{
    uint32_t i = fold(h) & m->mask;
    while (m->slot[i].handle != handle) {
        if (m->slot[i].handle == EMPTY)
            return;
        i = (i + 1) & m->mask;
    }
    m->count--;
    /* Backward shift: pull later members of the probe run into the hole
     * when their home slot does not lie cyclically in (hole, j]. */
    uint32_t hole = i;
    for (uint32_t j = (i + 1) & m->mask; m->slot[j].handle != EMPTY;
         j = (j + 1) & m->mask) {
        uint32_t home = m->slot[j].hash & m->mask;
        if (((j - home) & m->mask) >= ((j - hole) & m->mask)) {
            m->slot[hole] = m->slot[j];
            hole = j;
        }
    }
    m->slot[hole].handle = EMPTY;
}
