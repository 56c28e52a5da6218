/* clock.h -- the engine's two clocks.
 *
 * The router runs on a monotonic clock in microseconds (it never jumps, so
 * deadlines and waits stay right across NTP steps). Clients are told wall
 * clock times (Offer.deadline_ms, Redis timestamps) in milliseconds since
 * the epoch. clock_mono_to_wall_ms() converts a monotonic instant into wall
 * time with one offset read at the first conversion, so that an instant
 * always converts to the same wall time (a re-sent Offer keeps its
 * deadline).
 *
 * The turn clock: work done in one loop turn (the frames of one wake-up,
 * their replies, the timers due) happens "at once" for routing purposes,
 * so it reads each clock at most once per turn: clock_turn_us() and
 * clock_turn_wall_ms() read their clock at their first call of a turn and
 * answer the same value until clock_turn_end(), which the server's
 * per-turn hook calls just before the loop sleeps. A turn that reads no
 * clock costs no clock_gettime at all.
 */
#ifndef CCROUTE_CLOCK_H
#define CCROUTE_CLOCK_H

#include <stdint.h>

/* Monotonic microseconds (uv_hrtime based; arbitrary origin). */
uint64_t clock_mono_us(void);
/* Wall clock, milliseconds since the Unix epoch. */
uint64_t clock_wall_ms(void);
/* Wall clock ms corresponding to monotonic instant `mono_us`. */
uint64_t clock_mono_to_wall_ms(uint64_t mono_us);

/* clock_mono_us() / clock_wall_ms() as read once in this loop turn. */
uint64_t clock_turn_us(void);
uint64_t clock_turn_wall_ms(void);
/* The turn is over (the loop is about to sleep, or a timer woke it): the
 * next clock_turn_* call reads its clock again. */
void clock_turn_end(void);

#endif
