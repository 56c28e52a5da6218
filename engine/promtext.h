/* promtext.h -- the pieces of the Prometheus text exposition format that
 * every writer of /metrics needs (metrics.c, caremetrics.c): a family's
 * header lines and an escaped label value. It knows nothing of ccroute's
 * figures, so that any module writing families can sit above it.
 */
#ifndef CCROUTE_PROMTEXT_H
#define CCROUTE_PROMTEXT_H

#include <stdio.h>

/* `# HELP name help` and `# TYPE name type` (counter, gauge, histogram),
 * to write before the family's samples, which must follow together. */
void promtext_family(FILE *f, const char *name, const char *type,
                     const char *help);
/* Label value v as the format wants it inside double quotes: backslash,
 * double quote and newline escaped. */
void promtext_label(FILE *f, const char *v);

#endif
