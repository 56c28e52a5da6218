/* arena.c -- bump allocator with overflow blocks; see arena.h. */
#include "arena.h"

#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>

struct arena_spill {
    struct arena_spill *next;
    alignas(max_align_t) uint8_t data[];
};

#define ARENA_ALIGN (alignof(max_align_t))

static void *arena_pb_alloc(void *data, size_t n)
{
    return arena_alloc(data, n);
}

static void arena_pb_free(void *data, void *p)
{
    (void)data;
    (void)p;   /* released all at once by arena_reset() */
}

int arena_init(struct arena *a, size_t cap)
{
    a->block = malloc(cap);
    if (!a->block)
        return -ENOMEM;
    a->cap = cap;
    a->used = 0;
    a->spills = NULL;
    a->nspills = 0;
    a->pb.alloc = arena_pb_alloc;
    a->pb.free = arena_pb_free;
    a->pb.allocator_data = a;
    return 0;
}

void arena_fini(struct arena *a)
{
    arena_reset(a);
    free(a->block);
    a->block = NULL;
    a->cap = 0;
}

void *arena_alloc(struct arena *a, size_t n)
{
    size_t at = (a->used + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
    if (n == 0)
        n = 1;
    if (at <= a->cap && a->cap - at >= n) {
        a->used = at + n;
        return a->block + at;
    }
    struct arena_spill *s = malloc(sizeof(*s) + n);
    if (!s)
        return NULL;
    s->next = a->spills;
    a->spills = s;
    a->nspills++;
    return s->data;
}

void arena_reset(struct arena *a)
{
    while (a->spills) {
        struct arena_spill *s = a->spills;
        a->spills = s->next;
        free(s);
    }
    a->used = 0;
}

ProtobufCAllocator *arena_allocator(struct arena *a)
{
    return &a->pb;
}

size_t arena_used(const struct arena *a)
{
    return a->used;
}

uint64_t arena_spills(const struct arena *a)
{
    return a->nspills;
}
