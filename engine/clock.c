/* clock.c -- monotonic and wall clocks; see clock.h. */
#include "clock.h"

#include <time.h>

#include <uv.h>

uint64_t clock_mono_us(void)
{
    return uv_hrtime() / 1000;
}

uint64_t clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The wall-minus-monotonic offset (us), read once per process: the same
 * monotonic instant must always convert to the same wall time (an Offer
 * re-sent on re-attach carries the deadline it had; reading both clocks
 * on every call moved it by a millisecond now and then). A wall clock
 * stepped after start is not followed; deadlines stay monotonic. */
static int64_t wall_offset_us;
static int wall_offset_set;

uint64_t clock_mono_to_wall_ms(uint64_t mono_us)
{
    if (!wall_offset_set) {
        struct timespec ts;
        uint64_t mono = clock_mono_us();
        clock_gettime(CLOCK_REALTIME, &ts);
        wall_offset_us = (int64_t)((uint64_t)ts.tv_sec * 1000000 +
                                   (uint64_t)ts.tv_nsec / 1000) -
                         (int64_t)mono;
        wall_offset_set = 1;
    }
    int64_t wall_us = (int64_t)mono_us + wall_offset_us;
    return wall_us > 0 ? (uint64_t)wall_us / 1000 : 0;
}

/* The turn clock (clock.h): one loop thread, so plain statics. */
static uint64_t turn_us, turn_wall_ms;
static int turn_us_set, turn_wall_set;

uint64_t clock_turn_us(void)
{
    if (!turn_us_set) {
        turn_us = clock_mono_us();
        turn_us_set = 1;
    }
    return turn_us;
}

uint64_t clock_turn_wall_ms(void)
{
    if (!turn_wall_set) {
        turn_wall_ms = clock_wall_ms();
        turn_wall_set = 1;
    }
    return turn_wall_ms;
}

void clock_turn_end(void)
{
    turn_us_set = 0;
    turn_wall_set = 0;
}
