/* config.h -- the daemon's configuration: defaults, YAML file, validation.
 *
 * One YAML document (walked with engine/yamlwalk.h) fills a struct config:
 * the listener, connection limits, the grace period, the log level, the
 * `auth:` and `principals:` sections (struct auth_config, with the token
 * file it may name), the `redis:` section (struct store_config), the
 * `http:` section (struct http_config) and the routing model
 * (`routing:`, `skills:`, `queues:` -> struct router_config), and
 * `campaigns:` (campaign-config.h -> struct config_campaign). See
 * docs/configuration.md for every key and deploy/demo.yaml for a commented
 * example.
 *
 * Value syntax (yamlwalk.h): durations carry a unit ("30s", "500ms",
 * "2m", "1h"; a bare number is an error except 0), sizes "4MiB", "64KiB"
 * or a bare number of bytes, booleans true/false. The one number that is
 * not a duration although it measures time is service_level.seconds: the
 * key names its unit, and it takes a whole number of seconds.
 *
 * Errors: every function returns 0 or -1 with a message in the caller's
 * buffer naming the file, the line and the field, e.g.
 *   demo.yaml:14: queues[2].strategy: unknown strategy "fastest" (expected
 *   longest_idle, most_skilled, least_occupied, round_robin, weighted_random)
 * Unknown keys are errors, so that a misspelt key never silently falls back
 * to a default. The loader checks everything router_new() would refuse, so
 * a file it accepts builds a router (short of memory).
 *
 * Ownership: a struct config owns the queue and skill arrays that its
 * `router` member points to; config_fini() frees them. The struct may be
 * copied only if the copy is never finied.
 */
#ifndef CCROUTE_CONFIG_H
#define CCROUTE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "auth-t.h"
#include "campaign-config-t.h"
#include "care-t.h"
#include "http-t.h"
#include "log.h"
#include "router-t.h"
#include "store-t.h"
#include "tls-t.h"

#define CONFIG_DEFAULT_HOST "127.0.0.1"
#define CONFIG_DEFAULT_PORT 7400
#define CONFIG_DEFAULT_MAX_FRAME (64u * 1024)
#define CONFIG_DEFAULT_MAX_OUTPUT (4u * 1024 * 1024)
#define CONFIG_DEFAULT_GRACE_MS 30000u
/* max_frame may not exceed this: one frame is held whole in memory (read
 * buffer, arena), per connection. */
#define CONFIG_MAX_FRAME_CAP (16u * 1024 * 1024)
/* router_new() refuses more configured queues than this (half of its
 * queue table; the other half is for queues derived at run time). */
#define CONFIG_MAX_QUEUES 512
#define CONFIG_DEFAULT_MAX_ATTRIBUTES 32
#define CONFIG_DEFAULT_MAX_ATTRIBUTE_BYTES 4096u
#define CONFIG_DEFAULT_MAX_CONTACT_AGE_MS (4u * 3600 * 1000)
/* The most memory the router's slot tables may need
 * (router_memory_need()): the loader refuses max_contacts / max_agents
 * above the smaller of this and half the physical memory. */
#define CONFIG_MAX_ROUTER_MEMORY (16ull << 30)
/* The most tenants one engine serves or watches (tenant-t.h's TENANT_MAX). */
#define CONFIG_MAX_TENANTS 64

struct config {
    char listen_host[256];
    int listen_port;              /* 0: ephemeral (tests) */
    unsigned long listen_line;    /* line of `listen:` in the file; 0 when
                                     not from the file */
    struct tls_config tls;        /* `listen.tls` (enabled: TLS only) */
    size_t max_frame;             /* payload bytes of one frame, both ways */
    size_t max_output;            /* per-connection output bound */
    uint32_t grace_ms;            /* owner-gone grace period */
    /* `limits:` (docs/configuration.md): per-connection deadlines and the
     * connection count; the server applies them through conn_limits */
    struct config_limits {
        uint32_t max_connections;     /* capped by the descriptor limit */
        uint32_t hello_timeout_ms;
        uint32_t frame_timeout_ms;
        uint32_t idle_timeout_ms;     /* 0: off */
        uint32_t ping_interval_ms;    /* 0: off */
        uint32_t ping_timeout_ms;
        uint32_t close_linger_ms;
        uint32_t keepalive_ms;        /* 0: off; whole seconds */
        uint32_t shutdown_timeout_ms; /* graceful stop: how long to wait for
                                         Redis to confirm queued writes */
        uint32_t max_dnc;             /* do-not-call numbers per tenant */
    } limits;
    enum log_level log_level;
    /* `log:` (docs/configuration.md): the line format and where lines go
     * (file[0] == 0: stderr); main() applies them */
    struct config_log {
        enum log_format format;
        char file[512];
    } log;
    /* input bounds (docs/security.md, "Input bounds"): per ContactArrived,
     * the count of attributes and the bytes of their keys and values */
    uint32_t max_attributes;
    uint32_t max_attribute_bytes;
    struct store_config store;
    struct router_config router;  /* queues/skills owned by this struct */
    struct auth_config auth;      /* `auth:` and `principals:`; owned */
    struct http_config http;      /* `http:` (docs/http.md) */
    struct care_config care;      /* `care:` (docs/care.md) */
    /* `tenants:` or `tenant_pool:` (docs/scaling.md). n == 0: one tenant,
     * store.tenant. Every tenant shares the routing configuration and has
     * its own router of router.max_contacts / max_agents slots. */
    struct config_tenants {
        char names[CONFIG_MAX_TENANTS][64];
        unsigned n;
        unsigned pool_max;        /* 0: serve every one (`tenants:`);
                                     else `tenant_pool.max` */
        unsigned long line;       /* of the section, for messages */
        char path[16];            /* "tenants" or "tenant_pool" */
    } tenants;
    /* `campaigns:` (docs/outbound.md, "Campaigns in the configuration"):
     * owned, config_fini frees it */
    struct config_campaign *campaigns;
    unsigned ncampaigns;
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

/* Whether the daemon could listen where `c` says: the host must be a
 * numeric IPv4 or IPv6 address or "localhost" (the server resolves no
 * names), and a socket is bound and put in listening state there, then
 * closed at once, so nothing stays bound. `source` names where the address
 * came from in the message (the configuration file, or "--listen" with
 * c->listen_line 0). Returns 0, or -1 with
 *   "source:line: listen: cannot listen on 127.0.0.1:7400: Address already
 *   in use" in err. */
int config_check_listen(const struct config *c, const char *source,
                        char *err, size_t errlen);
/* The same for the HTTP listener (`http.listen`), when there is one:
 *   "source:line: http.listen: cannot listen on ...". */
int config_check_http(const struct config *c, const char *source,
                      char *err, size_t errlen);

#endif
