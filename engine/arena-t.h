/* arena-t.h -- the arena's type only (see arena.h), so that a struct that
 * embeds an arena (struct server) can be declared in a type header. */
#ifndef CCROUTE_ARENA_T_H
#define CCROUTE_ARENA_T_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

struct arena_spill;

struct arena {
    /* private */
    uint8_t *block;
    size_t cap, used;
    struct arena_spill *spills;  /* overflow blocks since the last reset */
    uint64_t nspills;            /* total, for statistics */
    ProtobufCAllocator pb;
};

#endif
