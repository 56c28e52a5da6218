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
    m->handle = malloc(sizeof(*m->handle) * size);
    m->hash = malloc(sizeof(*m->hash) * size);
    if (!m->handle || !m->hash) {
        free(m->handle);
        free(m->hash);
        m->handle = NULL;
        m->hash = NULL;
        return -1;
    }
    memset(m->handle, 0xff, sizeof(*m->handle) * size);
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
    free(m->handle);
    free(m->hash);
    m->handle = NULL;
    m->hash = NULL;
}

static uint32_t fold(uint64_t h)
{
    return (uint32_t)(h ^ (h >> 32));
}

uint32_t idmap_find(const struct idmap *m, const char *s, uint64_t h)
{
    uint32_t f = fold(h);
    for (uint32_t i = f & m->mask;; i = (i + 1) & m->mask) {
        uint32_t hd = m->handle[i];
        if (hd == EMPTY)
            return EMPTY;
        if (m->hash[i] == f && strcmp(m->key_fn(m->ctx, hd), s) == 0)
            return hd;
    }
}

static void put(struct idmap *m, uint32_t f, uint32_t hd)
{
    uint32_t i = f & m->mask;
    while (m->handle[i] != EMPTY)
        i = (i + 1) & m->mask;
    m->handle[i] = hd;
    m->hash[i] = f;
}

/* hash[] keeps the folded 32-bit hash, which is also the home slot, so
 * growing and deleting never need the strings. */
static int grow(struct idmap *m)
{
    uint32_t *oh = m->handle, *ohash = m->hash, osize = m->mask + 1;
    if (table_alloc(m, osize * 2) < 0) {
        m->handle = oh;
        m->hash = ohash;
        m->mask = osize - 1;
        return -1;
    }
    for (uint32_t i = 0; i < osize; i++)
        if (oh[i] != EMPTY)
            put(m, ohash[i], oh[i]);
    free(oh);
    free(ohash);
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
    while (m->handle[i] != handle) {
        if (m->handle[i] == EMPTY)
            return;
        i = (i + 1) & m->mask;
    }
    m->count--;
    /* Backward shift: pull later members of the probe run into the hole
     * when their home slot does not lie cyclically in (hole, j]. */
    uint32_t hole = i;
    for (uint32_t j = (i + 1) & m->mask; m->handle[j] != EMPTY;
         j = (j + 1) & m->mask) {
        uint32_t home = m->hash[j] & m->mask;
        if (((j - home) & m->mask) >= ((j - hole) & m->mask)) {
            m->handle[hole] = m->handle[j];
            m->hash[hole] = m->hash[j];
            hole = j;
        }
    }
    m->handle[hole] = EMPTY;
}
