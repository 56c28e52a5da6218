/* metrics.h -- the engine's state in the Prometheus text format (version
 * 0.0.4), for GET /metrics (docs/http.md lists every metric).
 *
 * Everything is read at the moment of the scrape through read-only
 * accessors: the router's statistics (router.h), the store's counters and
 * role (store.h), the connections' counters and sessions (conn.h), the
 * HTTP surface's own counters. Nothing is kept between scrapes, and
 * nothing here runs on the routing path.
 */
#ifndef CCROUTE_METRICS_H
#define CCROUTE_METRICS_H

#include <stdio.h>

#include "http-t.h"

struct server;

/* Writes every metric family to f. `hs` may be NULL (no HTTP counters).
 * Returns 0, or -1 when f reports an error (out of memory). */
int metrics_write(FILE *f, const struct server *s,
                  const struct http_stats *hs);

#endif
