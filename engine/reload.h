/* reload.h -- configuration reload without dropping work (SIGHUP, the
 * ConfigReload request, `ccroute config reload`).
 *
 * A reload reads the file the engine was started with again, checks it
 * as a start would (config_load: every error with file:line: field), and
 * compares it with the running configuration. What a reload may change
 * (docs/configuration.md, "Reload"):
 *   - the queue set: queues added, queues removed (a removed queue's
 *     contacts, in any state, move to its reload_fallback, the queue's
 *     own in the running configuration or routing's in the new one,
 *     keeping their arrival; without one the reload is refused while the
 *     queue holds any);
 *   - per queue: skills, channels, strategy, steps, service_level
 *     (percent, seconds), offer_timeout, wrapup, max_length, max_wait,
 *     overflow, callback rules, reload_fallback;
 *   - the skills list, by additions;
 *   - per principal: its tokens (token_sha256, auth.token_file's
 *     content), cert_fingerprints and quota;
 *   - grace, log_level, routing.max_attributes, routing.max_attribute_bytes.
 * Anything else that differs -- the routing weights and slots, listen,
 * tls, limits, log format or file, redis, http, tenants, auth, a principal
 * added, removed or with other roles, clients, agents or tenant -- and
 * anything that would strand work (a queue removed with contacts and no
 * fallback, or needed by a campaign or a held callback; a channel taken
 * from a queue with contacts waiting on it) refuses the whole reload with
 * the first such key named. All or nothing: a refused reload changes
 * nothing, and the reason is logged and returned. Nothing under way is
 * dropped: connections stay open, contacts keep their arrival, place and
 * exclusions, offers their agent and deadline (router.h, "reload").
 */
#ifndef CCROUTE_RELOAD_H
#define CCROUTE_RELOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "reload-t.h"

struct config;
struct tenant_set;

/* Reloads `src->path` into `live` (the configuration every module
 * borrows; changed in place, its arrays swapped where they change) and
 * the routers of `set`, and records the outcome in set->reload. Returns
 * 0, RELOAD_EINVALID or RELOAD_ENOTRELOADABLE (reload-t.h); `msg`
 * receives what was applied or why nothing was. Logs one line either
 * way. Runs on the loop thread, between two requests. */
int reload_apply(struct config *live, const struct reload_source *src,
                 struct tenant_set *set, char *msg, size_t len);

#endif
