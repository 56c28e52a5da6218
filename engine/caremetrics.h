/* caremetrics.h -- the care module's families of /metrics (docs/http.md,
 * docs/care.md).
 */
#ifndef CCROUTE_CAREMETRICS_H
#define CCROUTE_CAREMETRICS_H

#include <stdint.h>
#include <stdio.h>

struct server;

/* Writes every ccroute_care_* family to f (each family's samples
 * together, every tenant inside it). */
void caremetrics_write(FILE *f, const struct server *s, uint64_t now_us,
                       uint64_t wall_ms);

#endif
