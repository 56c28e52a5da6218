/* campaign-zone.h -- IANA time zones for calling windows (ICU).
 *
 * A lead may be called only within its campaign's window of local hours
 * [start, end) in the lead's own time zone. The zones come from ICU's
 * copy of the tz database (Debian's libicu), one UCalendar per zone,
 * opened once when a lead first names the zone. Each zone caches the
 * interval between two transitions (DST starts and ends) and the UTC
 * offset inside it, so that a window check is two compares and an
 * addition until the next transition; ICU is asked again only when the
 * time leaves the cached interval (twice a year in a DST zone).
 *
 * glibc's TZ environment variable was not an option: it is process-wide,
 * so switching it per lead on the event loop would race with every other
 * localtime() of the process.
 *
 * Times are wall-clock milliseconds since the Unix epoch (UTC). Pure: no
 * clock is read. Errors are negative codes of the one error space.
 */
#ifndef CCROUTE_CAMPAIGN_ZONE_H
#define CCROUTE_CAMPAIGN_ZONE_H

#include <stdbool.h>
#include <stdint.h>

#define CZONE_NAME_MAX 64

struct czones;

/* A new, empty zone table; NULL out of memory. */
struct czones *czones_new(void);
void czones_free(struct czones *z);

/* The index of zone `name` (an IANA id such as "Europe/Paris"; borrowed),
 * opened on first use: O(zones) the first time, O(1) hashed after that.
 * CCR_EINVAL when ICU does not know the name (or it is empty or too
 * long), CCR_ENOMEM out of memory or at 65535 zones. */
int czones_intern(struct czones *z, const char *name);
const char *czones_name(const struct czones *z, int zone);
unsigned czones_count(const struct czones *z);

/* UTC offset of `zone` at wall time `t_ms` (ms, DST included). O(1)
 * while t_ms stays between the cached transitions. */
int64_t czones_offset_ms(struct czones *z, int zone, uint64_t t_ms);

/* The local hour (0..23) of `zone` at `t_ms`. */
unsigned czones_local_hour(struct czones *z, int zone, uint64_t t_ms);

/* The first wall time >= t_ms at which the local hour of `zone` is in
 * [start_h, end_h) (0 <= start_h < end_h <= 24): t_ms itself when it is
 * inside. Across a DST change the window keeps its local hours. */
uint64_t czones_window_next(struct czones *z, int zone, uint64_t t_ms,
                            unsigned start_h, unsigned end_h);

#endif
