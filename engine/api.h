/* api.h -- the JSON API of the HTTP surface (/api/v1/...; docs/http.md).
 *
 * Read-only views of the engine's state, built from the router's public
 * accessors (router.h) at the moment of the request, in the same terms as
 * the protocol's Stats message: the same queues (configured, then the
 * virtual queues of skills-only contacts under their labels), the same
 * agent statuses, the same figures.
 */
#ifndef CCROUTE_API_H
#define CCROUTE_API_H

#include <stddef.h>
#include <stdint.h>

#include "router-t.h"

struct router;
struct tenant;

/* An agent's status as Stats reports it: "available" (free), "offered"
 * (an unanswered offer), "on_contact", "away", or "wrapup". Static text. */
const char *api_agent_status(const struct router_agent_info *info);

/* The name Stats gives queue `qi`: a configured queue's name, or a
 * virtual queue's label (router_queue_label) written into buf. NULL for a
 * derived queue (counted in its base) or a bad index. */
const char *api_queue_name(const struct router *r, int qi, char *buf,
                           size_t len);

/* Answers GET /api/v1/<rest> (`rest`: len bytes, borrowed, without the
 * prefix): "queues", "agents", "campaigns" or "contacts/<id>". On 200 and 404 *out is
 * a new NUL-terminated JSON text (malloc'd; the caller frees it) and
 * *outlen its length; 404 is an unknown resource or contact; 500 (*out
 * NULL) is out of memory. Reads tenant `s` only; every answer names it
 * (`tenant`). */
int api_get(const struct tenant *s, const char *rest, size_t len, char **out,
            size_t *outlen);
/* The members "campaigns" and "callbacks" of GET /api/v1/campaigns as
 * one line of JSON text without the enclosing braces, for the wallboard's
 * snapshot (new NUL-terminated text, malloc'd; NULL out of memory). */
char *api_campaign_members(const struct tenant *s, size_t *len);

#endif
