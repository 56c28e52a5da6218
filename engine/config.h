/* config.h -- the daemon's configuration: defaults, YAML file, validation.
 *
 * One YAML document (parsed with libyaml's document API) fills a struct
 * config: the listener, connection limits, the grace period, the log level,
 * the `redis:` section (struct store_config) and the routing model
 * (`routing:`, `skills:`, `queues:` -> struct router_config). See
 * deploy/demo.yaml for a commented example of every key.
 *
 * Value syntax:
 *   durations  "30s", "500ms", "2m", "1h", or a bare number in the field's
 *              unit: milliseconds, except service_level.seconds (seconds).
 *              A key spelled with an "_ms" suffix (grace_ms, lease_ms,
 *              offer_timeout_ms...) is the same key.
 *   sizes      "4MiB", "64KiB", "512KB", or a bare number of bytes.
 *   booleans   true/false, yes/no, on/off.
 *
 * Errors: every function returns 0 or -1 with a message in the caller's
 * buffer naming the file, the line and the field, e.g.
 *   demo.yaml:14: queues[2].strategy: unknown strategy "fastest" (expected
 *   longest_idle, most_skilled, least_occupied, round_robin, weighted_random)
 * Unknown keys are errors, so that a misspelt key never silently falls back
 * to a default.
 *
 * Ownership: a struct config owns the queue and skill arrays that its
 * `router` member points to; config_fini() frees them. The struct may be
 * copied only if the copy is never finied.
 */
#ifndef CCROUTE_CONFIG_H
#define CCROUTE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "router-t.h"
#include "store-t.h"

#define CONFIG_DEFAULT_HOST "127.0.0.1"
#define CONFIG_DEFAULT_PORT 7400
#define CONFIG_DEFAULT_MAX_FRAME (64u * 1024)
#define CONFIG_DEFAULT_MAX_OUTPUT (4u * 1024 * 1024)
#define CONFIG_DEFAULT_GRACE_MS 30000u

struct config {
    char listen_host[256];
    int listen_port;              /* 0: ephemeral (tests) */
    size_t max_frame;             /* payload bytes of one frame, both ways */
    size_t max_output;            /* per-connection output bound */
    uint32_t grace_ms;            /* owner-gone grace period */
    enum log_level log_level;
    struct store_config store;
    struct router_config router;  /* queues/skills owned by this struct */
};

/* Fills every default (no queues). */
void config_defaults(struct config *c);
/* Reads and parses the file at `path` on top of the defaults. */
int config_load(struct config *c, const char *path, char *err, size_t errlen);
/* Parses `text` (len bytes); `name` is used in error messages. */
int config_load_string(struct config *c, const char *name, const char *text,
                       size_t len, char *err, size_t errlen);
void config_fini(struct config *c);

/* "HOST:PORT", "[v6]:PORT" or ":PORT". Returns 0 or -1. */
int config_parse_listen(const char *s, char *host, size_t hostlen, int *port);
/* Durations as described above; `unit_ms` is the unit of a bare number. */
int config_parse_duration(const char *s, uint64_t unit_ms, uint64_t *ms);
int config_parse_size(const char *s, uint64_t *bytes);

#endif
