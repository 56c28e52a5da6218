/* slwin.h -- a queue's service level over a recent window, for blending:
 * a campaign blended with inbound queues (docs/outbound.md, "Blending")
 * dials only while each of them meets its target plus a margin now, not
 * since the start of the day. Counted since the start, a morning peak
 * that pulls a queue under its target keeps the campaign from dialing
 * for the rest of the day, however well inbound does afterwards; over a
 * window the campaign resumes once the peak has left it.
 *
 * The window is SLWIN_MINUTES one-minute buckets of the router's clock:
 * the current minute and the SLWIN_MINUTES - 1 before it, so between
 * SLWIN_MINUTES - 1 and SLWIN_MINUTES minutes of contacts. Each bucket
 * counts the contacts that left the queue in its minute: answered within
 * the queue's threshold, and answered or abandoned (the router's day
 * counters, in_sl / (answered + abandoned), over the window). A bucket
 * stamped with an older minute is stale: it is emptied when its slot's
 * minute comes round again and skipped by a read. A ring rather than an
 * exponentially weighted pair: a contact leaves the window whole after
 * SLWIN_MINUTES, so a peak's failures stop counting at a known time.
 *
 * No allocation: the ring lives inside the router's queue. O(1) to count
 * a contact, O(SLWIN_MINUTES) to read the level.
 */
#ifndef CCROUTE_SLWIN_H
#define CCROUTE_SLWIN_H

#include <stdbool.h>
#include <stdint.h>

#define SLWIN_MINUTES 15u
#define SLWIN_BUCKET_US 60000000ull

struct slwin {
    uint32_t minute[SLWIN_MINUTES]; /* the bucket's minute of the clock */
    uint32_t met[SLWIN_MINUTES];    /* answered within the threshold */
    uint32_t done[SLWIN_MINUTES];   /* answered or abandoned */
};

/* A contact left the queue at `now` (the router's microseconds):
 * answered within the threshold (`met`), or answered later or
 * abandoned. */
void slwin_left(struct slwin *w, uint64_t now, bool met);

/* The service level over the window ending at `now`: met / done, in
 * [0, 1]; 1 when no contact left the queue in it (a queue nobody called
 * meets its target). `*done`, when not NULL, gets the contacts it
 * counts. */
double slwin_level(const struct slwin *w, uint64_t now, uint32_t *done);

#endif
