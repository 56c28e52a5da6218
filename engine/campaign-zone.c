/* campaign-zone.c -- IANA time zones for calling windows; see
 * campaign-zone.h.
 *
 * One struct czone per zone name: its UCalendar (ICU, opened once) and
 * the cached interval [from, until) between two transitions with the
 * offset that holds in it. Names are found through a small open-addressing
 * hash (FNV-1a) of zone indexes. Opening a zone allocates; every other
 * call allocates nothing.
 */
#include "campaign-zone.h"

#include <stdlib.h>
#include <string.h>

#include <unicode/ucal.h>
#include <unicode/ustring.h>

#include "error.h"

#define HOUR_MS 3600000LL
#define DAY_MS (24 * HOUR_MS)

struct czone {
    char name[CZONE_NAME_MAX];
    UCalendar *cal;
    uint64_t from, until;       /* cached interval; until == 0: none */
    int64_t offset;             /* ms, in [from, until) */
};

struct czones {
    struct czone *z;
    unsigned n, cap;
    uint32_t *hash;             /* zone index + 1, 0 empty */
    unsigned hcap;              /* power of two */
};

static uint32_t fnv(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

struct czones *czones_new(void)
{
    struct czones *z = calloc(1, sizeof(*z));
    if (!z)
        return NULL;
    z->hcap = 64;
    z->hash = calloc(z->hcap, sizeof(*z->hash));
    if (!z->hash) {
        free(z);
        return NULL;
    }
    return z;
}

void czones_free(struct czones *z)
{
    if (!z)
        return;
    for (unsigned i = 0; i < z->n; i++)
        ucal_close(z->z[i].cal);
    free(z->z);
    free(z->hash);
    free(z);
}

static int find(const struct czones *z, const char *name)
{
    for (uint32_t i = fnv(name) & (z->hcap - 1);; i = (i + 1) & (z->hcap - 1)) {
        uint32_t v = z->hash[i];
        if (!v)
            return -1;
        if (strcmp(z->z[v - 1].name, name) == 0)
            return (int)v - 1;
    }
}

static void hash_put(struct czones *z, unsigned idx)
{
    uint32_t i = fnv(z->z[idx].name) & (z->hcap - 1);
    while (z->hash[i])
        i = (i + 1) & (z->hcap - 1);
    z->hash[i] = idx + 1;
}

/* Opens an ICU calendar for `name`, or NULL when ICU does not know the
 * zone as a system zone (ICU would silently fall back to GMT). */
static UCalendar *open_zone(const char *name)
{
    UChar id[CZONE_NAME_MAX], canon[CZONE_NAME_MAX];
    UErrorCode st = U_ZERO_ERROR;
    UBool sys = 0;
    int32_t len;
    u_uastrncpy(id, name, CZONE_NAME_MAX);
    len = u_strlen(id);
    ucal_getCanonicalTimeZoneID(id, len, canon, CZONE_NAME_MAX, &sys, &st);
    if (U_FAILURE(st) || !sys)
        return NULL;
    st = U_ZERO_ERROR;
    UCalendar *cal = ucal_open(id, len, "en_US", UCAL_GREGORIAN, &st);
    if (U_FAILURE(st)) {
        if (cal)
            ucal_close(cal);
        return NULL;
    }
    return cal;
}

int czones_intern(struct czones *z, const char *name)
{
    int i;
    if (!name || !*name || strlen(name) >= CZONE_NAME_MAX)
        return CCR_EINVAL;
    if ((i = find(z, name)) >= 0)
        return i;
    if (z->n >= 65535)
        return CCR_ENOMEM;
    UCalendar *cal = open_zone(name);
    if (!cal)
        return CCR_EINVAL;
    if (z->n == z->cap) {
        unsigned ncap = z->cap ? z->cap * 2 : 16;
        struct czone *nz = realloc(z->z, ncap * sizeof(*nz));
        if (!nz) {
            ucal_close(cal);
            return CCR_ENOMEM;
        }
        z->z = nz;
        z->cap = ncap;
    }
    if ((z->n + 1) * 2 > z->hcap) {
        uint32_t *nh = calloc(z->hcap * 2, sizeof(*nh));
        if (!nh) {
            ucal_close(cal);
            return CCR_ENOMEM;
        }
        free(z->hash);
        z->hash = nh;
        z->hcap *= 2;
        for (unsigned k = 0; k < z->n; k++)
            hash_put(z, k);
    }
    struct czone *c = &z->z[z->n];
    memset(c, 0, sizeof(*c));
    strcpy(c->name, name);
    c->cal = cal;
    hash_put(z, z->n);
    return (int)z->n++;
}

const char *czones_name(const struct czones *z, int zone)
{
    return zone >= 0 && (unsigned)zone < z->n ? z->z[zone].name : "";
}

unsigned czones_count(const struct czones *z)
{
    return z->n;
}

/* Fills zone c's cache for the interval holding t (ms): the offset at t
 * and the transitions around it (none: the whole time line). */
static void refill(struct czone *c, uint64_t t)
{
    UErrorCode st = U_ZERO_ERROR;
    UDate d;
    ucal_setMillis(c->cal, (UDate)t, &st);
    c->offset = (int64_t)ucal_get(c->cal, UCAL_ZONE_OFFSET, &st) +
                (int64_t)ucal_get(c->cal, UCAL_DST_OFFSET, &st);
    c->from = 0;
    c->until = UINT64_MAX;
    st = U_ZERO_ERROR;
    if (ucal_getTimeZoneTransitionDate(c->cal,
                                       UCAL_TZ_TRANSITION_PREVIOUS_INCLUSIVE,
                                       &d, &st) && U_SUCCESS(st) && d > 0)
        c->from = (uint64_t)d;
    st = U_ZERO_ERROR;
    if (ucal_getTimeZoneTransitionDate(c->cal, UCAL_TZ_TRANSITION_NEXT, &d,
                                       &st) && U_SUCCESS(st) && d > (UDate)t)
        c->until = (uint64_t)d;
    if (c->from > t)            /* never expected; keep the cache honest */
        c->from = t;
    if (c->until <= t)
        c->until = t + 1;
}

int64_t czones_offset_ms(struct czones *z, int zone, uint64_t t)
{
    struct czone *c = &z->z[zone];
    if (t < c->from || t >= c->until || c->until == 0)
        refill(c, t);
    return c->offset;
}

unsigned czones_local_hour(struct czones *z, int zone, uint64_t t)
{
    int64_t local = (int64_t)t + czones_offset_ms(z, zone, t);
    int64_t in_day = local % DAY_MS;
    if (in_day < 0)
        in_day += DAY_MS;
    return (unsigned)(in_day / HOUR_MS);
}

uint64_t czones_window_next(struct czones *z, int zone, uint64_t t,
                            unsigned start_h, unsigned end_h)
{
    /* A few rounds at most: each either answers or moves to the next
     * local opening; a DST change between t and that opening shifts the
     * UTC instant by the change, which the second round corrects. */
    for (int round = 0; round < 8; round++) {
        unsigned h = czones_local_hour(z, zone, t);
        if (h >= start_h && h < end_h)
            return t;
        int64_t off = czones_offset_ms(z, zone, t);
        int64_t local = (int64_t)t + off;
        int64_t day = local - ((local % DAY_MS) + DAY_MS) % DAY_MS;
        int64_t open = day + (int64_t)start_h * HOUR_MS;
        if (local >= open)
            open += DAY_MS;
        /* the UTC instant of that local time, with the offset that holds
         * then (which may differ from now's) */
        int64_t u = open - off;
        int64_t off2 = czones_offset_ms(z, zone, u > 0 ? (uint64_t)u : 0);
        u = open - off2;
        if (u <= (int64_t)t)
            u = (int64_t)t + HOUR_MS;   /* a gap at the opening hour */
        t = (uint64_t)u;
    }
    return t;
}
