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

uint64_t clock_mono_to_wall_ms(uint64_t mono_us)
{
    uint64_t now_mono = clock_mono_us();
    uint64_t now_wall = clock_wall_ms();
    if (mono_us >= now_mono)
        return now_wall + (mono_us - now_mono) / 1000;
    uint64_t back = (now_mono - mono_us) / 1000;
    return back < now_wall ? now_wall - back : 0;
}
