/* careapi.h -- GET /api/v1/care: dispositions, tags and the agents'
 * recent difficult load as JSON (docs/http.md, docs/care.md).
 */
#ifndef CCROUTE_CAREAPI_H
#define CCROUTE_CAREAPI_H

#include <stdint.h>

#include <jansson.h>

struct tenant;

/* A new JSON object (the caller owns it), or NULL out of memory. */
json_t *careapi_json(const struct tenant *s, uint64_t now_us,
                     uint64_t wall_ms);

#endif
