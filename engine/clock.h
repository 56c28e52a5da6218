/* clock.h -- the engine's two clocks.
 *
 * The router runs on a monotonic clock in microseconds (it never jumps, so
 * deadlines and waits stay right across NTP steps). Clients are told wall
 * clock times (Offer.deadline_ms, Redis timestamps) in milliseconds since
 * the epoch. clock_mono_to_wall_ms() converts a monotonic instant into wall
 * time with one offset read at the first conversion, so that an instant
 * always converts to the same wall time (a re-sent Offer keeps its
 * deadline).
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

#endif
