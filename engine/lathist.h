/* lathist.h -- latency histograms of fixed buckets, for /metrics
 * (Prometheus histograms, docs/http.md): an observation is one pass over
 * LATHIST_NBOUNDS bounds and three additions, no allocation, so it may
 * sit on the routing path. metrics.c writes them (cumulative `le`
 * buckets, `_sum` in seconds, `_count`).
 */
#ifndef CCROUTE_LATHIST_H
#define CCROUTE_LATHIST_H

#include <stdint.h>

#include "lathist-t.h"

extern const uint64_t lathist_bounds_us[LATHIST_NBOUNDS];

/* Counts one observation of `us` microseconds. */
void lathist_observe(struct lathist *h, uint64_t us);

#endif
