/* lathist-t.h -- a latency histogram of fixed buckets: types only (see
 * lathist.h). The tenant set holds the engine's two (tenant-t.h), so that
 * /metrics reads them without depending on the modules that fill them.
 */
#ifndef CCROUTE_LATHIST_T_H
#define CCROUTE_LATHIST_T_H

#include <stdint.h>

/* Upper bounds in microseconds, lathist.c's lathist_bounds_us: 10 us to
 * 10 s, 1-2.5-5 per decade (Prometheus' `le`), then +Inf. */
#define LATHIST_NBOUNDS 19

struct lathist {
    uint64_t bucket[LATHIST_NBOUNDS + 1];   /* not cumulative; last: +Inf */
    uint64_t count;
    uint64_t sum_us;
};

#endif
