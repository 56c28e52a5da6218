/* slwin.c -- a queue's service level over a recent window (slwin.h). */
#include "slwin.h"

static uint32_t minute_of(uint64_t now)
{
    return (uint32_t)(now / SLWIN_BUCKET_US);
}

void slwin_left(struct slwin *w, uint64_t now, bool met)
{
    uint32_t m = minute_of(now);
    unsigned i = m % SLWIN_MINUTES;
    if (w->minute[i] != m) {
        /* the slot's last use is at least SLWIN_MINUTES old */
        w->minute[i] = m;
        w->met[i] = 0;
        w->done[i] = 0;
    }
    w->done[i]++;
    if (met)
        w->met[i]++;
}

double slwin_level(const struct slwin *w, uint64_t now, uint32_t *done)
{
    uint32_t m = minute_of(now);
    uint64_t met = 0, n = 0;
    for (unsigned i = 0; i < SLWIN_MINUTES; i++) {
        /* in the window: this minute or one of the SLWIN_MINUTES - 1
         * before it (unsigned: a stamp ahead of `now` is outside) */
        if (m - w->minute[i] < SLWIN_MINUTES) {
            met += w->met[i];
            n += w->done[i];
        }
    }
    if (done)
        *done = (uint32_t)n;
    return n ? (double)met / (double)n : 1.0;
}
