/* config.c -- YAML configuration loader; see config.h.
 *
 * The file is loaded by engine/yamlwalk.c (one document, lines kept) and
 * walked top-down here: each mapping against the list of keys it may hold,
 * each leaf through one typed yamlwalk helper that reports its own error
 * with the field's path ("queues[2].steps[0].after").
 *
 * Cross references (overflow and widen queues, step skills, the skills
 * list, redis.renew against redis.lease) are checked after the whole file
 * is read, with the lines saved on the way, so that they may refer forward.
 * The checks cover everything router_new() refuses, so that every error
 * names a line.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "router.h"
#include "auth.h"
#include "campaign-config.h"
#include "care.h"
#include "care-config.h"
#include "yamlwalk.h"

static const char *const strategy_names[] = {
    [ROUTER_STRATEGY_LONGEST_IDLE] = "longest_idle",
    [ROUTER_STRATEGY_MOST_SKILLED] = "most_skilled",
    [ROUTER_STRATEGY_LEAST_OCCUPIED] = "least_occupied",
    [ROUTER_STRATEGY_ROUND_ROBIN] = "round_robin",
    [ROUTER_STRATEGY_WEIGHTED_RANDOM] = "weighted_random",
};

static const char *const channel_names[] = {
    [ROUTER_CH_VOICE] = "voice",
    [ROUTER_CH_CHAT] = "chat",
    [ROUTER_CH_EMAIL] = "email",
    [ROUTER_CH_SOCIAL] = "social",
};

/* Lines kept for the checks that run after the whole file is read. */
struct queue_lines {
    unsigned long queue, name, overflow, fallback;
    unsigned long skill[ROUTER_MAX_REQ];
    unsigned long step[ROUTER_MAX_STEPS];
};

/* The load in progress. */
struct cfgp {
    struct config *c;
    struct queue_lines *qlines;   /* one per queue, owned by config_load */
    yaml_node_t *queues;          /* read after `skills`, wherever it is */
    char queues_path[16];
    unsigned long lease_line, renew_line;
    unsigned long reconnect_min_line, reconnect_max_line;
    unsigned long host_line, sentinels_line, master_name_line;
    unsigned long cluster_line, db_line;
    unsigned long durability_line, replica_timeout_line;
    unsigned long slots_line;     /* routing.max_agents / max_contacts */
    char slots_path[32];
    unsigned long fallback_line;  /* routing.reload_fallback */
    char fallback_path[32];
    char token_file[AUTH_PATH_MAX]; /* auth.token_file as written */
    unsigned long certs_line;     /* first principal with cert_fingerprints */
    unsigned long http_line, http_token_line;   /* http, http.require_token */
    bool http_token_set;
    char campaigns_path[16];
};

/* A duration of at least min_ms, in whole milliseconds. */
static int get_dur(struct yamlwalk *w, yaml_node_t *v, const char *path,
                   uint32_t min_ms, uint32_t *out)
{
    uint32_t ms;
    if (yamlwalk_duration_ms(w, v, path, &ms) < 0)
        return -1;
    if (ms < min_ms)
        return yamlwalk_fail(w, yamlwalk_line(v), path, "must be at least "
                             "%u ms", min_ms);
    *out = ms;
    return 0;
}

/* ---- listen ---- */

int config_parse_listen(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon, *h = s;
    size_t hl;
    char *end;
    unsigned long v;

    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return -1;
        h = s + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return -1;
        hl = (size_t)(colon - s);
    }
    if (colon[1] < '0' || colon[1] > '9')
        return -1;
    errno = 0;
    v = strtoul(colon + 1, &end, 10);
    if (errno || *end || v > 65535)
        return -1;
    if (hl == 0) {
        h = CONFIG_DEFAULT_HOST;
        hl = strlen(h);
    }
    if (hl >= hostlen)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)v;
    return 0;
}

/* ---- listen.tls ---- */

/* A file named by the configuration, resolved against the configuration
 * file's directory (as auth.token_file is), into out. */
static int cfg_path(struct yamlwalk *w, yaml_node_t *v, const char *path,
                    char *out, size_t len)
{
    const char *s = NULL, *slash = strrchr(w->file, '/');
    int n;
    if (yamlwalk_scalar(w, v, path, &s) < 0)
        return -1;
    if (!*s)
        return yamlwalk_fail(w, yamlwalk_line(v), path, "empty path");
    if (s[0] == '/' || !slash)
        n = snprintf(out, len, "%s", s);
    else
        n = snprintf(out, len, "%.*s/%s", (int)(slash - w->file), w->file, s);
    if (n < 0 || (size_t)n >= len)
        return yamlwalk_fail(w, yamlwalk_line(v), path, "the path is too "
                             "long");
    return 0;
}

static const char *const tls_keys[] = {
    "cert", "key", "ca", "min_version", "ciphers", NULL,
};

static int tls_field(struct yamlwalk *w, void *ctx, int key, yaml_node_t *v,
                     const char *path)
{
    struct tls_config *t = ctx;
    const char *s = NULL;
    switch (key) {
    case 0:
        t->cert_line = yamlwalk_line(v);
        return cfg_path(w, v, path, t->cert, sizeof(t->cert));
    case 1:
        t->key_line = yamlwalk_line(v);
        return cfg_path(w, v, path, t->key, sizeof(t->key));
    case 2:
        t->ca_line = yamlwalk_line(v);
        return cfg_path(w, v, path, t->ca, sizeof(t->ca));
    case 3:
        if (yamlwalk_scalar(w, v, path, &s) < 0)
            return -1;
        if (!strcmp(s, "1.2"))
            t->min_version = 12;
        else if (!strcmp(s, "1.3"))
            t->min_version = 13;
        else
            return yamlwalk_fail(w, yamlwalk_line(v), path, "\"%s\" is not "
                                 "a TLS version (expected \"1.2\" or "
                                 "\"1.3\")", s);
        return 0;
    case 4:
        t->ciphers_line = yamlwalk_line(v);
        return yamlwalk_str(w, v, path, t->ciphers, sizeof(t->ciphers), false);
    }
    return -1;
}

/* `listen.tls`: the files must be named, and the key file readable by
 * its owner only (auth_file_mode_ok, as for the token file). Loading the
 * certificate and key, and checking that they match, is tls_ctx_new()'s
 * (at start and in --check-config). */
static int cfg_tls(struct yamlwalk *w, struct config *c, yaml_node_t *v,
                   const char *path)
{
    struct tls_config *t = &c->tls;
    struct stat st;
    t->enabled = true;
    t->line = yamlwalk_line(v);
    snprintf(t->file, sizeof(t->file), "%s", w->file);
    if (yamlwalk_map(w, v, path, tls_keys, tls_field, t) < 0)
        return -1;
    if (!t->cert[0])
        return yamlwalk_fail(w, t->line, path, "missing \"cert\" (the "
                             "certificate chain, PEM)");
    if (!t->key[0])
        return yamlwalk_fail(w, t->line, path, "missing \"key\" (the "
                             "private key, PEM)");
    if (stat(t->key, &st) < 0)
        return yamlwalk_fail(w, t->key_line, "listen.tls.key", "%s: %s",
                             t->key, strerror(errno));
    if (!auth_file_mode_ok((unsigned)st.st_mode))
        return yamlwalk_fail(w, t->key_line, "listen.tls.key", "%s has mode "
                             "%04o: group or others may read it; chmod 600 "
                             "it", t->key, (unsigned)st.st_mode & 07777);
    return 0;
}

static const char *const listen_keys[] = { "address", "port", "tls", NULL };

static int listen_field(struct yamlwalk *w, void *ctx, int key,
                        yaml_node_t *v, const char *path)
{
    struct config *c = ctx;
    uint32_t port;
    if (key == 0)
        return yamlwalk_str(w, v, path, c->listen_host,
                            sizeof(c->listen_host), false);
    if (key == 2)
        return cfg_tls(w, c, v, path);
    if (yamlwalk_u32(w, v, path, 0, 65535, &port) < 0)
        return -1;
    c->listen_port = (int)port;
    return 0;
}

static int cfg_listen(struct yamlwalk *w, struct config *c, yaml_node_t *v,
                      const char *path)
{
    const char *s = NULL;
    c->listen_line = yamlwalk_line(v);
    if (v->type == YAML_MAPPING_NODE)
        return yamlwalk_map(w, v, path, listen_keys, listen_field, c);
    if (yamlwalk_scalar(w, v, path, &s) < 0)
        return -1;
    if (config_parse_listen(s, c->listen_host, sizeof(c->listen_host),
                            &c->listen_port) < 0)
        return yamlwalk_fail(w, yamlwalk_line(v), path, "\"%s\" is not "
                             "HOST:PORT", s);
    return 0;
}

/* The socket address a listener on host:port would bind: the same rule
 * as server_start() (numeric addresses, "localhost" meaning 127.0.0.1). */
static int listen_addr(const char *host, int port,
                       struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    if (!strcmp(host, "localhost"))
        host = "127.0.0.1";
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len = sizeof(*v4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*v6);
        return 0;
    }
    return -1;
}

/* Binds and releases host:port; `where` names the key in messages. */
static int check_bind(const char *where, const char *host, int port,
                      char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    char addr[300];
    int fd, one = 1, e = 0;

    if (listen_addr(host, port, &ss, &sslen) < 0) {
        snprintf(err, errlen, "%s: \"%s\" is not a numeric IP address "
                 "(ccrouted resolves no host names; e.g. 127.0.0.1, ::1, "
                 "0.0.0.0 or localhost)", where, host);
        return -1;
    }
    snprintf(addr, sizeof(addr), ss.ss_family == AF_INET6 ? "[%s]:%d"
             : "%s:%d", host, port);
    /* As libuv binds: SO_REUSEADDR, so a port in TIME_WAIT passes here
     * exactly when it would pass at start; a listener holding the port
     * fails both. */
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&ss, sslen) < 0 || listen(fd, 1) < 0)
        e = errno;
    if (fd >= 0)
        close(fd);
    if (e) {
        snprintf(err, errlen, "%s: cannot listen on %s: %s", where, addr,
                 strerror(e));
        return -1;
    }
    return 0;
}

int config_check_listen(const struct config *c, const char *source,
                        char *err, size_t errlen)
{
    char where[300];

    if (c->listen_line)
        snprintf(where, sizeof(where), "%s:%lu: listen", source,
                 c->listen_line);
    else
        snprintf(where, sizeof(where), "%s: listen", source);
    return check_bind(where, c->listen_host, c->listen_port, err, errlen);
}

int config_check_http(const struct config *c, const char *source,
                      char *err, size_t errlen)
{
    char where[300];

    if (!c->http.enabled)
        return 0;
    snprintf(where, sizeof(where), "%s:%lu: http.listen", source,
             c->http.line);
    return check_bind(where, c->http.host, c->http.port, err, errlen);
}

/* ---- limits ---- */

enum {
    LK_MAX_CONNECTIONS, LK_HELLO_TIMEOUT, LK_FRAME_TIMEOUT, LK_IDLE_TIMEOUT,
    LK_PING_INTERVAL, LK_PING_TIMEOUT, LK_CLOSE_LINGER, LK_KEEPALIVE,
    LK_SHUTDOWN_TIMEOUT, LK_MAX_DNC,
};

static const char *const limits_keys[] = {
    "max_connections", "hello_timeout", "frame_timeout", "idle_timeout",
    "ping_interval", "ping_timeout", "close_linger", "keepalive",
    "shutdown_timeout", "max_dnc", NULL,
};

static int limits_field(struct yamlwalk *w, void *ctx, int key,
                        yaml_node_t *v, const char *path)
{
    struct config_limits *l = &((struct config *)ctx)->limits;
    switch (key) {
    case LK_MAX_CONNECTIONS:
        /* The connection id holds a 16-bit slot. */
        return yamlwalk_u32(w, v, path, 1, 65535, &l->max_connections);
    /* Deadlines that cannot be switched off: 0 is refused. */
    case LK_HELLO_TIMEOUT: return get_dur(w, v, path, 1, &l->hello_timeout_ms);
    case LK_FRAME_TIMEOUT: return get_dur(w, v, path, 1, &l->frame_timeout_ms);
    case LK_IDLE_TIMEOUT: return get_dur(w, v, path, 0, &l->idle_timeout_ms);
    case LK_PING_INTERVAL:
        return get_dur(w, v, path, 0, &l->ping_interval_ms);
    case LK_PING_TIMEOUT: return get_dur(w, v, path, 1, &l->ping_timeout_ms);
    case LK_CLOSE_LINGER: return get_dur(w, v, path, 1, &l->close_linger_ms);
    case LK_SHUTDOWN_TIMEOUT:
        return get_dur(w, v, path, 1, &l->shutdown_timeout_ms);
    case LK_MAX_DNC:
        return yamlwalk_u32(w, v, path, 1, 100000000, &l->max_dnc);
    case LK_KEEPALIVE:
        if (get_dur(w, v, path, 0, &l->keepalive_ms) < 0)
            return -1;
        if (l->keepalive_ms % 1000)
            return yamlwalk_fail(w, yamlwalk_line(v), path, "TCP keepalive "
                                 "takes whole seconds (or 0: off)");
        return 0;
    }
    return -1;
}

/* ---- redis ---- */

enum {
    RK_ENABLED, RK_DURABILITY, RK_HOST, RK_PORT, RK_DB, RK_PASSWORD,
    RK_TENANT, RK_CONNECT_TIMEOUT, RK_COMMAND_TIMEOUT, RK_LEASE, RK_RENEW,
    RK_RECONNECT_MIN, RK_RECONNECT_MAX, RK_MAX_PENDING, RK_STREAM_MAXLEN,
    RK_ADVERTISE, RK_LOAD_CHUNK, RK_SENTINELS, RK_MASTER_NAME,
    RK_SENTINEL_PASSWORD, RK_MIN_REPLICAS, RK_REPLICA_TIMEOUT, RK_CLUSTER,
    RK_LAYOUT, RK_SNAPSHOT_EVERY,
};

static const char *const redis_keys[] = {
    "enabled", "durability", "host", "port", "db", "password", "tenant",
    "connect_timeout", "command_timeout", "lease", "renew", "reconnect_min",
    "reconnect_max", "max_pending", "stream_maxlen", "advertise",
    "load_chunk", "sentinels", "master_name", "sentinel_password",
    "min_replicas", "replica_timeout", "cluster", "layout",
    "snapshot_every", NULL,
};

/* One "host:port" of a list (the last colon splits, so an IPv6 address
 * may be written [::1]:26379) into *a; `eg` is the example of the
 * message. */
static int addr_item(struct yamlwalk *w, yaml_node_t *it, const char *path,
                     struct store_addr *a, const char *eg)
{
    const char *v;
    if (yamlwalk_scalar(w, it, path, &v) < 0)
        return -1;
    const char *colon = strrchr(v, ':');
    char *end;
    unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;
    size_t hl = colon ? (size_t)(colon - v) : 0;
    if (hl >= 2 && v[0] == '[' && v[hl - 1] == ']') {
        v++;
        hl -= 2;
    }
    if (!colon || hl == 0 || !colon[1] || *end || port < 1 || port > 65535)
        return yamlwalk_fail(w, yamlwalk_line(it), path, "\"%s\" is not "
                             "HOST:PORT (e.g. %s)", v, eg);
    if (hl >= sizeof(a->host))
        return yamlwalk_fail(w, yamlwalk_line(it), path, "host too long");
    memcpy(a->host, v, hl);
    a->host[hl] = '\0';
    a->port = (int)port;
    return 0;
}

/* One of redis.sentinels. */
static int sentinel_item(struct yamlwalk *w, void *ctx, size_t i,
                         yaml_node_t *it, const char *path)
{
    struct store_config *s = &((struct cfgp *)ctx)->c->store;
    if (addr_item(w, it, path, &s->sentinels[s->nsentinels],
                  "10.0.0.7:26379") < 0)
        return -1;
    s->nsentinels++;
    return 0;
}

/* One of redis.cluster (a seed node). */
static int seed_item(struct yamlwalk *w, void *ctx, size_t i,
                     yaml_node_t *it, const char *path)
{
    struct store_config *s = &((struct cfgp *)ctx)->c->store;
    if (addr_item(w, it, path, &s->cluster[s->ncluster],
                  "10.0.0.7:7000") < 0)
        return -1;
    s->ncluster++;
    return 0;
}

static int redis_field(struct yamlwalk *w, void *ctx, int key, yaml_node_t *v,
                       const char *path)
{
    struct cfgp *p = ctx;
    struct store_config *s = &p->c->store;
    static const char *const dur[] = { "redis", "memory", "replicated" };
    uint32_t u;
    uint64_t u64;
    int e;
    switch (key) {
    case RK_ENABLED: return yamlwalk_bool(w, v, path, &s->enabled);
    case RK_DURABILITY:
        if (yamlwalk_enum(w, v, path, "durability", dur, 3, &e) < 0)
            return -1;
        s->durability = e == 0 ? STORE_DURABILITY_REDIS
                        : e == 1 ? STORE_DURABILITY_MEMORY
                                 : STORE_DURABILITY_REPLICATED;
        p->durability_line = yamlwalk_line(v);
        return 0;
    case RK_LAYOUT: {
        static const char *const lay[] = { "hashes", "journal" };
        if (yamlwalk_enum(w, v, path, "layout", lay, 2, &e) < 0)
            return -1;
        s->layout = e == 0 ? STORE_LAYOUT_HASHES : STORE_LAYOUT_JOURNAL;
        return 0;
    }
    case RK_SNAPSHOT_EVERY:
        return yamlwalk_u32(w, v, path, 1, 100000000, &s->snapshot_every);
    case RK_HOST:
        p->host_line = yamlwalk_line(v);
        return yamlwalk_str(w, v, path, s->host, sizeof(s->host), false);
    case RK_PORT:
        p->host_line = p->host_line ? p->host_line : yamlwalk_line(v);
        if (yamlwalk_u32(w, v, path, 1, 65535, &u) < 0)
            return -1;
        s->port = (int)u;
        return 0;
    case RK_DB:
        p->db_line = yamlwalk_line(v);
        if (yamlwalk_u32(w, v, path, 0, 1000, &u) < 0)
            return -1;
        s->db = (int)u;
        return 0;
    case RK_PASSWORD:
        return yamlwalk_str(w, v, path, s->password, sizeof(s->password),
                            true);
    case RK_TENANT:
        return yamlwalk_str(w, v, path, s->tenant, sizeof(s->tenant), false);
    /* The store reads 0 as "the default" in these: refused here, so that
     * `lease: 0` never quietly means 2 s. */
    case RK_CONNECT_TIMEOUT:
        return get_dur(w, v, path, 1, &s->connect_timeout_ms);
    case RK_COMMAND_TIMEOUT:
        return get_dur(w, v, path, 1, &s->command_timeout_ms);
    case RK_LEASE:
        p->lease_line = yamlwalk_line(v);
        return get_dur(w, v, path, 1, &s->lease_ms);
    case RK_RENEW:
        p->renew_line = yamlwalk_line(v);
        return get_dur(w, v, path, 1, &s->renew_ms);
    case RK_RECONNECT_MIN:
        p->reconnect_min_line = yamlwalk_line(v);
        return get_dur(w, v, path, 1, &s->reconnect_min_ms);
    case RK_RECONNECT_MAX:
        p->reconnect_max_line = yamlwalk_line(v);
        return get_dur(w, v, path, 1, &s->reconnect_max_ms);
    case RK_MAX_PENDING:
        if (yamlwalk_u64(w, v, path, 1, 100000000, &u64) < 0)
            return -1;
        s->max_pending = (size_t)u64;
        return 0;
    case RK_STREAM_MAXLEN:
        return yamlwalk_u32(w, v, path, 1, UINT32_MAX, &s->stream_maxlen);
    case RK_ADVERTISE:
        return yamlwalk_str(w, v, path, s->advertise, sizeof(s->advertise),
                            true);
    case RK_LOAD_CHUNK:
        return yamlwalk_u32(w, v, path, 1, 1000000, &s->load_chunk);
    case RK_SENTINELS:
        p->sentinels_line = yamlwalk_line(v);
        if (yamlwalk_list(w, v, path, STORE_MAX_SENTINELS, "sentinels",
                          sentinel_item, p) < 0)
            return -1;
        if (s->nsentinels == 0)
            return yamlwalk_fail(w, yamlwalk_line(v), path, "empty: name "
                                 "at least one sentinel, or leave the key "
                                 "out and give host and port");
        return 0;
    case RK_CLUSTER:
        p->cluster_line = yamlwalk_line(v);
        if (yamlwalk_list(w, v, path, STORE_MAX_SEEDS, "seed nodes",
                          seed_item, p) < 0)
            return -1;
        if (s->ncluster == 0)
            return yamlwalk_fail(w, yamlwalk_line(v), path, "empty: name "
                                 "at least one node of the cluster, or "
                                 "leave the key out and give host and "
                                 "port");
        return 0;
    case RK_MASTER_NAME:
        p->master_name_line = yamlwalk_line(v);
        return yamlwalk_str(w, v, path, s->master_name,
                            sizeof(s->master_name), false);
    case RK_SENTINEL_PASSWORD:
        return yamlwalk_str(w, v, path, s->sentinel_password,
                            sizeof(s->sentinel_password), true);
    case RK_MIN_REPLICAS:
        return yamlwalk_u32(w, v, path, 1, 100, &s->min_replicas);
    case RK_REPLICA_TIMEOUT:
        p->replica_timeout_line = yamlwalk_line(v);
        return get_dur(w, v, path, 1, &s->replica_timeout_ms);
    }
    return -1;
}

/* After the whole file: the relations between redis keys. */
static int redis_check(struct yamlwalk *w, struct cfgp *p)
{
    struct store_config *s = &p->c->store;
    if (!p->renew_line)
        s->renew_ms = s->lease_ms / 4 ? s->lease_ms / 4 : 1;
    if (s->renew_ms >= s->lease_ms) {
        if (p->renew_line)
            return yamlwalk_fail(w, p->renew_line, "redis.renew", "%u ms "
                                 "must be shorter than redis.lease (%u ms)",
                                 s->renew_ms, s->lease_ms);
        return yamlwalk_fail(w, p->lease_line, "redis.lease", "%u ms is too "
                             "short to renew (the renewal period, lease/4, "
                             "must be shorter)", s->lease_ms);
    }
    if (s->reconnect_max_ms < s->reconnect_min_ms) {
        if (p->reconnect_max_line)
            return yamlwalk_fail(w, p->reconnect_max_line,
                                 "redis.reconnect_max", "%u ms is shorter "
                                 "than redis.reconnect_min (%u ms)",
                                 s->reconnect_max_ms, s->reconnect_min_ms);
        return yamlwalk_fail(w, p->reconnect_min_line, "redis.reconnect_min",
                             "%u ms is longer than redis.reconnect_max "
                             "(%u ms)", s->reconnect_min_ms,
                             s->reconnect_max_ms);
    }
    if (s->nsentinels > 0 && !s->master_name[0])
        return yamlwalk_fail(w, p->sentinels_line, "redis.sentinels",
                             "redis.master_name is missing: the name the "
                             "sentinels monitor the master under");
    if (s->nsentinels == 0 && s->master_name[0])
        return yamlwalk_fail(w, p->master_name_line, "redis.master_name",
                             "goes with redis.sentinels (the sentinels to "
                             "ask for this master)");
    if (s->nsentinels > 0 && p->host_line)
        return yamlwalk_fail(w, p->host_line, "redis.host", "with "
                             "redis.sentinels the master's address comes "
                             "from the sentinels; leave host and port out");
    if (s->ncluster > 0 && p->host_line)
        return yamlwalk_fail(w, p->host_line, "redis.host", "with "
                             "redis.cluster the node's address comes from "
                             "the cluster's slot table; leave host and "
                             "port out");
    if (s->ncluster > 0 && (s->nsentinels > 0 || s->master_name[0]))
        return yamlwalk_fail(w, p->cluster_line, "redis.cluster", "goes "
                             "with neither redis.sentinels nor "
                             "redis.master_name: a Redis Cluster fails "
                             "over by itself");
    if (s->ncluster > 0 && s->db != 0)
        return yamlwalk_fail(w, p->db_line, "redis.db", "must be 0 with "
                             "redis.cluster (a cluster has database 0 "
                             "only)");
    /* A WAIT blocks the connection for up to replica_timeout: the
     * connection must not be dropped for it (command_timeout), and a lease
     * renewal queued behind it must still come back in time. */
    uint32_t wt = s->replica_timeout_ms;
    unsigned long wl = p->replica_timeout_line ? p->replica_timeout_line
                                               : p->durability_line;
    if (s->durability == STORE_DURABILITY_REPLICATED) {
        if (wt >= s->command_timeout_ms)
            return yamlwalk_fail(w, wl, "redis.replica_timeout", "%u ms "
                                 "must be shorter than redis.command_timeout "
                                 "(%u ms): WAIT holds the connection that "
                                 "long", wt, s->command_timeout_ms);
        if (wt > (s->lease_ms - s->renew_ms) / 2)
            return yamlwalk_fail(w, wl, "redis.replica_timeout", "%u ms is "
                                 "longer than half of redis.lease - "
                                 "redis.renew (%u ms): a lease renewal "
                                 "waiting behind a WAIT would come back "
                                 "too late", wt,
                                 (s->lease_ms - s->renew_ms) / 2);
    }
    return 0;
}

/* ---- routing ---- */

enum {
    RT_PRIORITY_WEIGHT, RT_VALUE_WEIGHT, RT_PREFERRED_WAIT, RT_MAX_NO_ANSWER,
    RT_VOICE_BLOCKS_OTHERS, RT_OFFER_TIMEOUT, RT_MAX_AGENTS, RT_MAX_CONTACTS,
    /* input bounds (docs/security.md) */
    RT_MAX_CONTACT_AGE, RT_MAX_ATTRIBUTES, RT_MAX_ATTRIBUTE_BYTES,
    RT_RELOAD_FALLBACK,
};

static const char *const routing_keys[] = {
    "priority_weight", "value_weight", "preferred_wait", "max_no_answer",
    "voice_blocks_others", "offer_timeout", "max_agents", "max_contacts",
    "max_contact_age", "max_attributes", "max_attribute_bytes",
    "reload_fallback", NULL,
};

static int routing_field(struct yamlwalk *w, void *ctx, int key,
                         yaml_node_t *v, const char *path)
{
    struct cfgp *p = ctx;
    struct router_config *r = &p->c->router;
    uint64_t size;
    switch (key) {
    case RT_PRIORITY_WEIGHT:
        return get_dur(w, v, path, 0, &r->priority_weight_ms);
    case RT_VALUE_WEIGHT: return get_dur(w, v, path, 0, &r->value_weight_ms);
    case RT_PREFERRED_WAIT:
        return get_dur(w, v, path, 0, &r->preferred_wait_ms);
    /* router_new() reads 0 as its default in these two: refused here. */
    case RT_MAX_NO_ANSWER:
        return yamlwalk_u32(w, v, path, 1, 1000, &r->max_no_answer);
    case RT_VOICE_BLOCKS_OTHERS:
        return yamlwalk_bool(w, v, path, &r->voice_blocks_others);
    case RT_OFFER_TIMEOUT:
        return get_dur(w, v, path, 1, &r->default_offer_timeout_ms);
    case RT_MAX_AGENTS:
        p->slots_line = yamlwalk_line(v);
        snprintf(p->slots_path, sizeof(p->slots_path), "%s", path);
        return yamlwalk_u32(w, v, path, 1, 10000000, &r->max_agents);
    case RT_MAX_CONTACTS:
        p->slots_line = yamlwalk_line(v);
        snprintf(p->slots_path, sizeof(p->slots_path), "%s", path);
        return yamlwalk_u32(w, v, path, 1, 100000000, &r->max_contacts);
    case RT_MAX_CONTACT_AGE:
        return get_dur(w, v, path, 0, &r->max_contact_age_ms);
    case RT_MAX_ATTRIBUTES:
        return yamlwalk_u32(w, v, path, 0, 65536, &p->c->max_attributes);
    case RT_MAX_ATTRIBUTE_BYTES:
        if (yamlwalk_size(w, v, path, 0, 16u * 1024 * 1024, &size) < 0)
            return -1;
        p->c->max_attribute_bytes = (uint32_t)size;
        return 0;
    case RT_RELOAD_FALLBACK:
        p->fallback_line = yamlwalk_line(v);
        snprintf(p->fallback_path, sizeof(p->fallback_path), "%s", path);
        return yamlwalk_str(w, v, path, r->reload_fallback,
                            sizeof(r->reload_fallback), false);
    }
    return -1;
}

/* The router's slot tables must fit: router_memory_need() for the
 * configured maxima against the smaller of CONFIG_MAX_ROUTER_MEMORY and
 * half the physical memory (the rest is for the connections, the store's
 * batches and the system). Checked after the whole file, since
 * max_agents and max_contacts may come in any order; the error names the
 * line of the later of the two. */
static int slots_check(struct yamlwalk *w, struct cfgp *p)
{
    const struct router_config *r = &p->c->router;
    uint64_t need = router_memory_need(r->max_agents, r->max_contacts);
    uint64_t bound = CONFIG_MAX_ROUTER_MEMORY;
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    if (pages > 0 && psize > 0 &&
        (uint64_t)pages * (uint64_t)psize / 2 < bound)
        bound = (uint64_t)pages * (uint64_t)psize / 2;
    if (!p->slots_line || need <= bound)
        return 0;
    return yamlwalk_fail(w, p->slots_line, p->slots_path, "max_contacts %u and "
                         "max_agents %u need %.1f GiB of memory for the "
                         "router alone; the bound is %.1f GiB (the smaller "
                         "of %.0f GiB and half the physical memory)",
                         r->max_contacts, r->max_agents,
                         (double)need / (1 << 30), (double)bound / (1 << 30),
                         (double)CONFIG_MAX_ROUTER_MEMORY / (1 << 30));
}

/* ---- queues ---- */

struct queue_ctx {
    struct router_queue_config *q;
    struct queue_lines *lines;
    struct router_step *step;     /* the step being read */
    bool step_kind_seen, step_after_seen;
};

enum {
    QK_NAME, QK_SKILLS, QK_CHANNELS, QK_STRATEGY, QK_SERVICE_LEVEL,
    QK_OFFER_TIMEOUT, QK_WRAPUP, QK_MAX_LENGTH, QK_MAX_WAIT, QK_OVERFLOW,
    QK_STEPS, QK_CB_ATTEMPTS, QK_CB_RETRY, QK_RELOAD_FALLBACK,
};

static const char *const queue_keys[] = {
    "name", "skills", "channels", "strategy", "service_level",
    "offer_timeout", "wrapup", "max_length", "max_wait", "overflow", "steps",
    "callback_attempts", "callback_retry", "reload_fallback", NULL,
};

static const char *const sl_keys[] = { "percent", "seconds", NULL };

enum { SK_AFTER, SK_LOWER, SK_DROP, SK_WIDEN };
static const char *const step_keys[] = {
    "after", "lower", "drop", "widen", NULL,
};

static const char *const lower_keys[] = { "skill", "level", NULL };

static int sl_field(struct yamlwalk *w, void *ctx, int key, yaml_node_t *v,
                    const char *path)
{
    struct router_queue_config *q = ctx;
    uint32_t s;
    if (key == 0)
        return yamlwalk_u32(w, v, path, 1, 100, &q->sl_percent);
    /* A count in the key's unit, not a duration. */
    if (yamlwalk_u32(w, v, path, 0, UINT32_MAX / 1000, &s) < 0)
        return -1;
    q->sl_threshold_ms = s * 1000;
    return 0;
}

static int lower_field(struct yamlwalk *w, void *ctx, int key, yaml_node_t *v,
                       const char *path)
{
    struct router_step *st = ctx;
    uint32_t level;
    if (key == 0)
        return yamlwalk_str(w, v, path, st->skill, sizeof(st->skill), false);
    if (yamlwalk_u32(w, v, path, 1, ROUTER_LEVEL_MAX, &level) < 0)
        return -1;
    st->level = (uint8_t)level;
    return 0;
}

static int step_field(struct yamlwalk *w, void *ctx, int key, yaml_node_t *v,
                      const char *path)
{
    struct queue_ctx *qc = ctx;
    struct router_step *st = qc->step;
    if (key == SK_AFTER) {
        qc->step_after_seen = true;
        return get_dur(w, v, path, 0, &st->after_ms);
    }
    if (qc->step_kind_seen)
        return yamlwalk_fail(w, yamlwalk_line(v), path, "a step does exactly "
                             "one thing: lower, drop or widen");
    qc->step_kind_seen = true;
    switch (key) {
    case SK_LOWER:
        st->kind = ROUTER_STEP_LOWER_LEVEL;
        if (yamlwalk_map(w, v, path, lower_keys, lower_field, st) < 0)
            return -1;
        if (!st->skill[0] || !st->level)
            return yamlwalk_fail(w, yamlwalk_line(v), path, "needs skill and "
                                 "level");
        return 0;
    case SK_DROP:
        st->kind = ROUTER_STEP_DROP_SKILL;
        return yamlwalk_str(w, v, path, st->skill, sizeof(st->skill), false);
    case SK_WIDEN:
        st->kind = ROUTER_STEP_ADD_QUEUE;
        return yamlwalk_str(w, v, path, st->queue, sizeof(st->queue), false);
    }
    return -1;
}

static int step_item(struct yamlwalk *w, void *ctx, size_t i,
                     yaml_node_t *it, const char *path)
{
    struct queue_ctx *qc = ctx;
    struct router_queue_config *q = qc->q;
    qc->step = &q->steps[q->nsteps];
    qc->step_kind_seen = qc->step_after_seen = false;
    qc->lines->step[q->nsteps] = yamlwalk_line(it);
    if (yamlwalk_map(w, it, path, step_keys, step_field, qc) < 0)
        return -1;
    if (!qc->step_after_seen)
        return yamlwalk_fail(w, yamlwalk_line(it), path, "missing \"after\"");
    if (!qc->step_kind_seen)
        return yamlwalk_fail(w, yamlwalk_line(it), path, "needs one of "
                             "lower, drop or widen");
    if (q->nsteps > 0 && qc->step->after_ms < q->steps[q->nsteps - 1].after_ms)
        return yamlwalk_fail(w, yamlwalk_line(it), path, "steps must be in "
                             "order of \"after\"");
    q->nsteps++;
    return 0;
}

static int skill_pair(struct yamlwalk *w, void *ctx, const char *name,
                      yaml_node_t *k, yaml_node_t *v, const char *path)
{
    struct queue_ctx *qc = ctx;
    struct router_queue_config *q = qc->q;
    struct router_skill_req *rq;
    uint32_t level;
    if (q->nreq == ROUTER_MAX_REQ)
        return yamlwalk_fail(w, yamlwalk_line(k), path, "at most %d skills "
                             "per queue", ROUTER_MAX_REQ);
    rq = &q->req[q->nreq];
    if (yamlwalk_str(w, k, path, rq->skill, sizeof(rq->skill), false) < 0)
        return -1;
    if (yamlwalk_u32(w, v, path, 1, ROUTER_LEVEL_MAX, &level) < 0)
        return -1;
    rq->min_level = (uint8_t)level;
    qc->lines->skill[q->nreq] = yamlwalk_line(k);
    q->nreq++;
    return 0;
}

static int channel_item(struct yamlwalk *w, void *ctx, size_t i,
                        yaml_node_t *it, const char *path)
{
    struct router_queue_config *q = ctx;
    int e;
    if (yamlwalk_enum(w, it, path, "channel", channel_names, ROUTER_CH_COUNT,
                      &e) < 0)
        return -1;
    q->channel_mask |= 1u << e;
    return 0;
}

static int queue_field(struct yamlwalk *w, void *ctx, int key, yaml_node_t *v,
                       const char *path)
{
    struct queue_ctx *qc = ctx;
    struct router_queue_config *q = qc->q;
    int e;

    switch (key) {
    case QK_NAME:
        qc->lines->name = yamlwalk_line(v);
        return yamlwalk_str(w, v, path, q->name, sizeof(q->name), false);
    case QK_SKILLS:
        return yamlwalk_pairs(w, v, path, "skill: min_level", skill_pair, qc);
    case QK_CHANNELS:
        if (yamlwalk_list(w, v, path, 0, "channels", channel_item, q) < 0)
            return -1;
        if (!q->channel_mask)
            return yamlwalk_fail(w, yamlwalk_line(v), path, "empty: name at "
                                 "least one channel, or leave the key out "
                                 "for all");
        return 0;
    case QK_STRATEGY:
        if (yamlwalk_enum(w, v, path, "strategy", strategy_names,
                          (int)(sizeof(strategy_names) /
                                sizeof(*strategy_names)), &e) < 0)
            return -1;
        q->strategy = (enum router_strategy)e;
        return 0;
    case QK_SERVICE_LEVEL:
        return yamlwalk_map(w, v, path, sl_keys, sl_field, q);
    case QK_OFFER_TIMEOUT:
        return get_dur(w, v, path, 0, &q->offer_timeout_ms);
    case QK_WRAPUP: return get_dur(w, v, path, 0, &q->wrapup_ms);
    case QK_MAX_LENGTH:
        return yamlwalk_u32(w, v, path, 0, UINT32_MAX, &q->max_len);
    case QK_MAX_WAIT: return get_dur(w, v, path, 0, &q->max_wait_ms);
    case QK_OVERFLOW:
        qc->lines->overflow = yamlwalk_line(v);
        return yamlwalk_str(w, v, path, q->overflow, sizeof(q->overflow),
                            false);
    case QK_STEPS:
        return yamlwalk_list(w, v, path, ROUTER_MAX_STEPS, "steps per queue",
                             step_item, qc);
    case QK_CB_ATTEMPTS:
        return yamlwalk_u32(w, v, path, 1, 100, &q->callback_attempts);
    case QK_CB_RETRY:
        return get_dur(w, v, path, 1000, &q->callback_retry_ms);
    case QK_RELOAD_FALLBACK:
        qc->lines->fallback = yamlwalk_line(v);
        return yamlwalk_str(w, v, path, q->reload_fallback,
                            sizeof(q->reload_fallback), false);
    }
    return -1;
}

static int skill_known(const struct config *c, const char *name)
{
    if (c->router.nskills == 0)
        return 1;   /* no list: any skill */
    for (unsigned i = 0; i < c->router.nskills; i++)
        if (!strcmp(c->router.skills[i], name))
            return 1;
    return 0;
}

static int queue_index(const struct config *c, const char *name)
{
    for (unsigned i = 0; i < c->router.nqueues; i++)
        if (!strcmp(c->router.queues[i].name, name))
            return (int)i;
    return -1;
}

static int queue_item(struct yamlwalk *w, void *ctx, size_t i,
                      yaml_node_t *it, const char *path)
{
    struct cfgp *p = ctx;
    struct config *c = p->c;
    struct queue_ctx qc = { &c->router.queues[i], &p->qlines[i], NULL,
                            false, false };
    p->qlines[i].queue = yamlwalk_line(it);
    c->router.nqueues = (unsigned)i + 1;
    if (yamlwalk_map(w, it, path, queue_keys, queue_field, &qc) < 0)
        return -1;
    if (!qc.q->name[0])
        return yamlwalk_fail(w, p->qlines[i].queue, path, "missing \"name\"");
    return 0;
}

/* Every reference between queues, and to the skills list. */
static int queues_check(struct yamlwalk *w, struct cfgp *p)
{
    struct config *c = p->c;
    const char *path = p->queues_path;
    char sub[YAMLWALK_PATH_MAX];

    for (unsigned i = 0; i < c->router.nqueues; i++) {
        struct router_queue_config *q = &c->router.queues[i];
        struct queue_lines *lines = &p->qlines[i];
        int other = queue_index(c, q->name);
        if (other != (int)i) {
            snprintf(sub, sizeof(sub), "%s[%u].name", path, i);
            return yamlwalk_fail(w, lines->name, sub, "queue \"%s\" defined "
                                 "twice (first at line %lu)", q->name,
                                 p->qlines[other].name);
        }
        for (unsigned s = 0; s < q->nreq; s++) {
            if (!skill_known(c, q->req[s].skill)) {
                snprintf(sub, sizeof(sub), "%s[%u].skills", path, i);
                return yamlwalk_fail(w, lines->skill[s], sub, "unknown skill "
                                     "\"%s\" (not in the skills list)",
                                     q->req[s].skill);
            }
        }
        snprintf(sub, sizeof(sub), "%s[%u].overflow", path, i);
        if (q->overflow[0] && queue_index(c, q->overflow) < 0)
            return yamlwalk_fail(w, lines->overflow, sub, "unknown queue "
                                 "\"%s\"", q->overflow);
        if (q->overflow[0] && !strcmp(q->overflow, q->name))
            return yamlwalk_fail(w, lines->overflow, sub, "a queue cannot "
                                 "overflow into itself");
        snprintf(sub, sizeof(sub), "%s[%u].reload_fallback", path, i);
        if (q->reload_fallback[0] &&
            (queue_index(c, q->reload_fallback) < 0 ||
             !strcmp(q->reload_fallback, q->name)))
            return yamlwalk_fail(w, lines->fallback, sub, "\"%s\" is not "
                                 "another queue of this file",
                                 q->reload_fallback);
        for (unsigned s = 0; s < q->nsteps; s++) {
            struct router_step *st = &q->steps[s];
            int found = 0;
            snprintf(sub, sizeof(sub), "%s[%u].steps[%u]", path, i, s);
            if (st->kind == ROUTER_STEP_ADD_QUEUE) {
                if (queue_index(c, st->queue) < 0)
                    return yamlwalk_fail(w, lines->step[s], sub, "widen: "
                                         "unknown queue \"%s\"", st->queue);
                continue;
            }
            for (unsigned r = 0; r < q->nreq; r++)
                found |= !strcmp(q->req[r].skill, st->skill);
            if (!found)
                return yamlwalk_fail(w, lines->step[s], sub, "%s: skill \"%s\" "
                                     "is not one of the queue's skills",
                                     st->kind == ROUTER_STEP_DROP_SKILL ?
                                     "drop" : "lower", st->skill);
        }
    }
    return 0;
}

static int cfg_queues(struct yamlwalk *w, struct cfgp *p)
{
    struct config *c = p->c;
    yaml_node_t *v = p->queues;
    size_t n;

    if (v->type != YAML_SEQUENCE_NODE)
        return yamlwalk_fail(w, yamlwalk_line(v), p->queues_path, "expected "
                             "a list of queues");
    n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (n == 0)
        return 0;
    if (n > CONFIG_MAX_QUEUES)
        n = CONFIG_MAX_QUEUES;   /* yamlwalk_list reports the excess */
    c->router.queues = calloc(n, sizeof(*c->router.queues));
    p->qlines = calloc(n, sizeof(*p->qlines));
    if (!c->router.queues || !p->qlines)
        return yamlwalk_fail(w, yamlwalk_line(v), p->queues_path, "out of "
                             "memory");
    if (yamlwalk_list(w, v, p->queues_path, CONFIG_MAX_QUEUES, "queues",
                      queue_item, p) < 0)
        return -1;
    return queues_check(w, p);
}

static int skill_item(struct yamlwalk *w, void *ctx, size_t i,
                      yaml_node_t *it, const char *path)
{
    struct config *c = ctx;
    const char *s = NULL;
    if (yamlwalk_scalar(w, it, path, &s) < 0)
        return -1;
    if (!*s || strlen(s) >= ROUTER_ID_MAX)
        return yamlwalk_fail(w, yamlwalk_line(it), path, "skill names are "
                             "1..%d bytes", ROUTER_ID_MAX - 1);
    for (size_t j = 0; j < i; j++)
        if (!strcmp(c->router.skills[j], s))
            return yamlwalk_fail(w, yamlwalk_line(it), path, "skill \"%s\" "
                                 "listed twice", s);
    c->router.skills[i] = strdup(s);
    if (!c->router.skills[i])
        return yamlwalk_fail(w, yamlwalk_line(it), path, "out of memory");
    c->router.nskills = (unsigned)i + 1;
    return 0;
}

static int cfg_skills(struct yamlwalk *w, struct config *c, yaml_node_t *v,
                      const char *path)
{
    size_t n;
    if (v->type != YAML_SEQUENCE_NODE)
        return yamlwalk_fail(w, yamlwalk_line(v), path, "expected a list of "
                             "skill names");
    n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (n == 0)
        return 0;
    c->router.skills = calloc(n, sizeof(char *));
    if (!c->router.skills)
        return yamlwalk_fail(w, yamlwalk_line(v), path, "out of memory");
    return yamlwalk_list(w, v, path, 0, "skills", skill_item, c);
}

/* ---- auth and principals (docs/security.md) ---- */

static const char *const auth_keys[] = {
    "insecure_open", "token_file", "failure_delay", "max_failures", NULL,
};

static int auth_field(struct yamlwalk *w, void *ctx, int key, yaml_node_t *v,
                      const char *path)
{
    struct cfgp *p = ctx;
    struct auth_config *a = &p->c->auth;
    switch (key) {
    case 0: return yamlwalk_bool(w, v, path, &a->insecure_open);
    case 1:
        a->token_file_line = yamlwalk_line(v);
        return yamlwalk_str(w, v, path, p->token_file, sizeof(p->token_file),
                            false);
    case 2: return get_dur(w, v, path, 0, &a->failure_delay_ms);
    case 3: return yamlwalk_u32(w, v, path, 1, 100, &a->max_failures);
    }
    return -1;
}

static int cfg_auth(struct yamlwalk *w, struct cfgp *p, yaml_node_t *v,
                    const char *path)
{
    return yamlwalk_map(w, v, path, auth_keys, auth_field, p);
}

/* Role names of the configuration, by Ccroute__V1__Role number. "desk"
 * and "supervisor" are the other names of agent and admin. */
static const char *const role_names[] = {
    NULL, "switch", "gateway", "agent", "dialer", "monitor", "admin",
    "desk", "supervisor",
};
#define ROLE_NAMES_N (int)(sizeof(role_names) / sizeof(role_names[0]))

struct principal_ctx {
    struct cfgp *p;
    struct auth_principal *pr;
    const char *token;          /* token_sha256, borrowed from the doc */
    unsigned long token_line;
};

static int role_item(struct yamlwalk *w, void *ctx, size_t i,
                     yaml_node_t *it, const char *path)
{
    struct auth_principal *pr = ctx;
    int r;
    if (yamlwalk_enum(w, it, path, "role", role_names, ROLE_NAMES_N, &r) < 0)
        return -1;
    if (r == 7)
        r = 3;
    else if (r == 8)
        r = 6;
    pr->roles |= AUTH_ROLE_BIT(r);
    return 0;
}

static int pattern_list(struct yamlwalk *w, yaml_node_t *v, const char *path,
                        struct auth_pattern **out, unsigned *n)
{
    size_t cnt;
    if (v->type != YAML_SEQUENCE_NODE)
        return yamlwalk_fail(w, yamlwalk_line(v), path, "expected a list of "
                             "names or prefix patterns (\"pbx-*\")");
    cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    *out = calloc(cnt ? cnt : 1, sizeof(**out));
    if (!*out)
        return yamlwalk_fail(w, yamlwalk_line(v), path, "out of memory");
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *it = yaml_document_get_node(&w->doc,
                                                 v->data.sequence.items.start[i]);
        const char *s = NULL;
        char sub[YAMLWALK_PATH_MAX];
        snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
        if (!it || yamlwalk_scalar(w, it, sub, &s) < 0)
            return -1;
        if (auth_pattern_parse(s, &(*out)[i]) < 0)
            return yamlwalk_fail(w, yamlwalk_line(it), sub, "\"%s\" is not "
                                 "a name or a prefix pattern (1..%d bytes, "
                                 "'*' only at the end)", s, AUTH_NAME_MAX - 1);
        *n = (unsigned)i + 1;
    }
    return 0;
}

static const char *const quota_keys[] = {
    "contacts", "agents", "requests_per_second", NULL,
};

/* `quota: {contacts: N, agents: N, requests_per_second: N}` (owner.h);
 * an absent key is unlimited (0 inside). */
static int quota_field(struct yamlwalk *w, void *ctx, int key,
                       yaml_node_t *v, const char *path)
{
    struct auth_principal *pr = ctx;
    switch (key) {
    case 0: return yamlwalk_u32(w, v, path, 1, 100000000, &pr->quota_contacts);
    case 1: return yamlwalk_u32(w, v, path, 1, 10000000, &pr->quota_agents);
    case 2: return yamlwalk_u32(w, v, path, 1, 10000000, &pr->quota_rps);
    }
    return -1;
}

static const char *const principal_keys[] = {
    "name", "token_sha256", "roles", "clients", "agents", "tenant",
    "cert_fingerprints", "quota", NULL,
};

/* One client certificate fingerprint: the SHA-256 as 64 hex digits, with
 * or without the colons of `openssl x509 -fingerprint -sha256`. */
static int cert_item(struct yamlwalk *w, void *ctx, size_t i,
                     yaml_node_t *it, const char *path)
{
    struct principal_ctx *pc = ctx;
    struct auth_config *a = &pc->p->c->auth;
    struct auth_cert cert, *nc;
    const char *s = NULL, *eq;
    char hex[2 * AUTH_HASH_LEN + 1];
    size_t n = 0;

    if (yamlwalk_scalar(w, it, path, &s) < 0)
        return -1;
    /* "sha256 Fingerprint=AB:CD:..." pasted whole */
    if ((eq = strchr(s, '=')))
        s = eq + 1;
    for (; *s && n < sizeof(hex); s++)
        if (*s != ':')
            hex[n++] = *s;
    if (*s || n >= sizeof(hex))
        n = 0;
    hex[n < sizeof(hex) ? n : 0] = '\0';
    if (auth_hex_parse(hex, cert.sha256) < 0)
        return yamlwalk_fail(w, yamlwalk_line(it), path, "expected the "
                             "certificate's SHA-256 fingerprint as 64 hex "
                             "digits (openssl x509 -noout -fingerprint "
                             "-sha256 -in CERT)");
    for (unsigned j = 0; j < a->ncerts; j++)
        if (!memcmp(a->certs[j].sha256, cert.sha256, AUTH_HASH_LEN))
            return yamlwalk_fail(w, yamlwalk_line(it), path, "this "
                                 "certificate is already given to principal "
                                 "\"%s\"",
                                 a->principals[a->certs[j].principal].name);
    nc = realloc(a->certs, (a->ncerts + 1) * sizeof(*nc));
    if (!nc)
        return yamlwalk_fail(w, yamlwalk_line(it), path, "out of memory");
    cert.principal = (int)(pc->pr - a->principals);
    a->certs = nc;
    a->certs[a->ncerts++] = cert;
    if (!pc->p->certs_line)
        pc->p->certs_line = yamlwalk_line(it);
    (void)i;
    return 0;
}

static int principal_field(struct yamlwalk *w, void *ctx, int key,
                           yaml_node_t *v, const char *path)
{
    struct principal_ctx *pc = ctx;
    struct auth_principal *pr = pc->pr;
    switch (key) {
    case 0: return yamlwalk_str(w, v, path, pr->name, sizeof(pr->name), false);
    case 1:
        pc->token_line = yamlwalk_line(v);
        return yamlwalk_scalar(w, v, path, &pc->token);
    case 2:
        if (v->type != YAML_SEQUENCE_NODE)
            return yamlwalk_fail(w, yamlwalk_line(v), path, "expected a list "
                                 "of roles");
        return yamlwalk_list(w, v, path, 0, "roles", role_item, pr);
    case 3: return pattern_list(w, v, path, &pr->clients, &pr->nclients);
    case 4: return pattern_list(w, v, path, &pr->agents, &pr->nagents);
    case 5: return yamlwalk_str(w, v, path, pr->tenant, sizeof(pr->tenant),
                                false);
    case 6:
        if (v->type != YAML_SEQUENCE_NODE)
            return yamlwalk_fail(w, yamlwalk_line(v), path, "expected a list "
                                 "of SHA-256 fingerprints");
        return yamlwalk_list(w, v, path, 0, "cert_fingerprints", cert_item,
                             pc);
    case 7: return yamlwalk_map(w, v, path, quota_keys, quota_field, pr);
    }
    return -1;
}

/* Adds a token hash (hex text) for principal pi; fails on bad hex or a
 * hash that another entry already has. */
static int token_add(struct yamlwalk *w, struct auth_config *a, int pi,
                     const char *hex, unsigned long line, const char *path)
{
    struct auth_token t;
    struct auth_token *nt;
    if (auth_hex_parse(hex, t.hash) < 0)
        return yamlwalk_fail(w, line, path, "expected the token's SHA-256 "
                             "as 64 hex digits (ccrouted --hash-token makes "
                             "it)");
    for (unsigned i = 0; i < a->ntokens; i++)
        if (!memcmp(a->tokens[i].hash, t.hash, AUTH_HASH_LEN))
            return yamlwalk_fail(w, line, path, "this token hash is already "
                                 "given to principal \"%s\"",
                                 a->principals[a->tokens[i].principal].name);
    nt = realloc(a->tokens, (a->ntokens + 1) * sizeof(*nt));
    if (!nt)
        return yamlwalk_fail(w, line, path, "out of memory");
    t.principal = pi;
    a->tokens = nt;
    a->tokens[a->ntokens++] = t;
    return 0;
}

static int principal_item(struct yamlwalk *w, void *ctx, size_t i,
                          yaml_node_t *it, const char *path)
{
    struct cfgp *p = ctx;
    struct auth_config *a = &p->c->auth;
    struct principal_ctx pc = { p, &a->principals[i], NULL, 0 };
    char sub[YAMLWALK_PATH_MAX];

    pc.pr->line = yamlwalk_line(it);
    a->nprincipals = (unsigned)i + 1;
    if (yamlwalk_map(w, it, path, principal_keys, principal_field, &pc) < 0)
        return -1;
    if (!pc.pr->name[0])
        return yamlwalk_fail(w, pc.pr->line, path, "missing \"name\"");
    for (size_t j = 0; j < i; j++)
        if (!strcmp(a->principals[j].name, pc.pr->name))
            return yamlwalk_fail(w, pc.pr->line, path, "principal \"%s\" "
                                 "defined twice (first at line %lu)",
                                 pc.pr->name, a->principals[j].line);
    if (!pc.pr->roles)
        return yamlwalk_fail(w, pc.pr->line, path, "missing \"roles\"");
    if (!pc.pr->nclients)
        return yamlwalk_fail(w, pc.pr->line, path, "missing \"clients\" "
                             "(the client names it may use)");
    snprintf(sub, sizeof(sub), "%s.token_sha256", path);
    if (pc.token && token_add(w, a, (int)i, pc.token, pc.token_line, sub) < 0)
        return -1;
    return 0;
}

static int cfg_principals(struct yamlwalk *w, struct cfgp *p, yaml_node_t *v,
                          const char *path)
{
    struct auth_config *a = &p->c->auth;
    size_t n;
    if (v->type != YAML_SEQUENCE_NODE)
        return yamlwalk_fail(w, yamlwalk_line(v), path, "expected a list of "
                             "principals");
    n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (n == 0)
        return 0;
    a->principals = calloc(n, sizeof(*a->principals));
    if (!a->principals)
        return yamlwalk_fail(w, yamlwalk_line(v), path, "out of memory");
    return yamlwalk_list(w, v, path, 0, "principals", principal_item, p);
}

/* One `principal-name: sha256-hex` (or a list of them) pair of the token
 * file. */
static int token_pair(struct yamlwalk *w, void *ctx, const char *name,
                      yaml_node_t *key, yaml_node_t *val, const char *path)
{
    struct auth_config *a = ctx;
    const char *hex = NULL;
    int pi = -1;
    for (unsigned i = 0; i < a->nprincipals; i++)
        if (!strcmp(a->principals[i].name, name))
            pi = (int)i;
    if (pi < 0)
        return yamlwalk_fail(w, yamlwalk_line(key), path, "no principal "
                             "\"%s\" in the configuration", name);
    if (val->type == YAML_SEQUENCE_NODE) {
        /* several tokens: a rotation in progress */
        size_t n = (size_t)(val->data.sequence.items.top -
                            val->data.sequence.items.start);
        for (size_t i = 0; i < n; i++) {
            yaml_node_t *it = yaml_document_get_node(
                &w->doc, val->data.sequence.items.start[i]);
            char sub[YAMLWALK_PATH_MAX];
            snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
            if (!it || yamlwalk_scalar(w, it, sub, &hex) < 0 ||
                token_add(w, a, pi, hex, yamlwalk_line(it), sub) < 0)
                return -1;
        }
        return 0;
    }
    if (yamlwalk_scalar(w, val, path, &hex) < 0)
        return -1;
    return token_add(w, a, pi, hex, yamlwalk_line(val), path);
}

/* The token file: resolved against the configuration file's directory,
 * refused when group or others have any permission on it, then read as
 * a mapping of principal name -> token hash(es). Every principal must end up
 * with a token. */
static int auth_check(struct yamlwalk *w, struct cfgp *p)
{
    struct auth_config *a = &p->c->auth;
    struct stat st;
    int rc;

    if (p->token_file[0]) {
        const char *slash = strrchr(w->file, '/');
        struct yamlwalk tw;
        int len;
        if (p->token_file[0] == '/' || !slash)
            len = snprintf(a->token_file, sizeof(a->token_file), "%s",
                           p->token_file);
        else
            len = snprintf(a->token_file, sizeof(a->token_file), "%.*s/%.*s",
                           (int)(slash - w->file), w->file,
                           (int)(sizeof(p->token_file) - 1), p->token_file);
        if (len < 0 || (size_t)len >= sizeof(a->token_file))
            return yamlwalk_fail(w, a->token_file_line, "auth.token_file",
                                 "the path is too long");
        if (!a->nprincipals)
            return yamlwalk_fail(w, a->token_file_line, "auth.token_file",
                                 "a token file needs principals");
        if (stat(a->token_file, &st) < 0)
            return yamlwalk_fail(w, a->token_file_line, "auth.token_file",
                                 "%s: %s", a->token_file, strerror(errno));
        if (!auth_file_mode_ok((unsigned)st.st_mode))
            return yamlwalk_fail(w, a->token_file_line, "auth.token_file",
                                 "%s has mode %04o: group or others may "
                                 "read it; chmod 600 it", a->token_file,
                                 (unsigned)st.st_mode & 07777);
        rc = yamlwalk_load_file(&tw, a->token_file, w->err, w->errlen);
        if (rc == 0 && yamlwalk_root(&tw))
            rc = yamlwalk_pairs(&tw, yamlwalk_root(&tw), "", "principal: "
                                "token_sha256", token_pair, a);
        yamlwalk_fini(&tw);
        if (rc < 0)
            return -1;
    }
    for (unsigned i = 0; i < a->nprincipals; i++) {
        bool has = false;
        for (unsigned t = 0; t < a->ntokens; t++)
            has |= a->tokens[t].principal == (int)i;
        for (unsigned t = 0; t < a->ncerts; t++)
            has |= a->certs[t].principal == (int)i;
        if (!has)
            return yamlwalk_fail(w, a->principals[i].line, "principals",
                                 "principal \"%s\" has no token (neither "
                                 "token_sha256 nor an entry in the token "
                                 "file) and no cert_fingerprints",
                                 a->principals[i].name);
    }
    /* A fingerprint only means something when client certificates are
     * asked for and verified. */
    if (a->ncerts && !(p->c->tls.enabled && p->c->tls.ca[0]))
        return yamlwalk_fail(w, p->certs_line, "principals", "a principal "
                             "has cert_fingerprints, but the listener does "
                             "not ask for client certificates (listen.tls.ca)");
    return 0;
}

/* ---- top level ---- */

/* ---- http ---- */

enum { HK_LISTEN, HK_REQUIRE_TOKEN, HK_MAX_CONNECTIONS, HK_REQUEST_TIMEOUT };

static const char *const http_keys[] = {
    "listen", "require_token", "max_connections", "request_timeout", NULL,
};

static int http_field(struct yamlwalk *w, void *ctx, int key, yaml_node_t *v,
                      const char *path)
{
    struct cfgp *p = ctx;
    struct http_config *h = &p->c->http;
    const char *s = NULL;
    switch (key) {
    case HK_LISTEN:
        h->line = yamlwalk_line(v);
        if (yamlwalk_scalar(w, v, path, &s) < 0)
            return -1;
        if (config_parse_listen(s, h->host, sizeof(h->host), &h->port) < 0)
            return yamlwalk_fail(w, h->line, path, "\"%s\" is not "
                                 "HOST:PORT", s);
        return 0;
    case HK_REQUIRE_TOKEN:
        p->http_token_line = yamlwalk_line(v);
        p->http_token_set = true;
        return yamlwalk_bool(w, v, path, &h->require_token);
    case HK_MAX_CONNECTIONS:
        return yamlwalk_u32(w, v, path, 1, HTTP_MAX_CONNECTIONS_CAP,
                            &h->max_connections);
    case HK_REQUEST_TIMEOUT:
        return get_dur(w, v, path, 100, &h->request_timeout_ms);
    }
    return -1;
}

/* After the principals: a token is required off loopback (and wherever
 * the file asks for one), and then some principal must be able to present
 * one -- a monitor or admin with a token. */
static int http_check(struct yamlwalk *w, struct cfgp *p)
{
    struct http_config *h = &p->c->http;
    const struct auth_config *a = &p->c->auth;
    bool loopback, can = false;
    if (!h->enabled)
        return 0;
    if (!h->line)
        return yamlwalk_fail(w, p->http_line, "http", "missing \"listen\" "
                             "(HOST:PORT, e.g. 127.0.0.1:7401)");
    {
        struct sockaddr_storage ss;
        socklen_t sl;
        if (listen_addr(h->host, h->port, &ss, &sl) < 0)
            return yamlwalk_fail(w, h->line, "http.listen", "\"%s\" is not "
                                 "a numeric IP address (ccrouted resolves "
                                 "no host names; e.g. 127.0.0.1, ::1 or "
                                 "localhost)", h->host);
    }
    loopback = auth_host_loopback(h->host);
    if (!loopback) {
        if (p->http_token_set && !h->require_token)
            return yamlwalk_fail(w, p->http_token_line, "http.require_token",
                                 "must be true: %s is not a loopback "
                                 "address", h->host);
        h->require_token = true;
    }
    if (!h->require_token)
        return 0;
    for (unsigned t = 0; t < a->ntokens; t++)
        can |= (a->principals[a->tokens[t].principal].roles &
                HTTP_ROLE_BITS) != 0;
    if (!can)
        return yamlwalk_fail(w, loopback ? p->http_token_line : h->line,
                             loopback ? "http.require_token" : "http.listen",
                             "%s needs a token (Authorization: Bearer), and "
                             "no principal with the monitor or admin role "
                             "has one: configure one (docs/security.md)%s",
                             loopback ? "the HTTP surface" : h->host,
                             loopback ? "" : " or listen on 127.0.0.1");
    return 0;
}

/* ---- top level ---- */

/* ---- tenants (docs/scaling.md) ---- */

static int tenant_item(struct yamlwalk *w, void *ctx, size_t i,
                       yaml_node_t *item, const char *path)
{
    struct config_tenants *t = ctx;
    char *name = t->names[t->n];
    (void)i;
    if (yamlwalk_str(w, item, path, name, sizeof(t->names[0]), false) < 0)
        return -1;
    /* the name is the hash tag of every key: a brace would end it early
     * or start another (docs/scaling.md, "Tenants and slots") */
    if (strpbrk(name, "{}"))
        return yamlwalk_fail(w, yamlwalk_line(item), path, "tenant \"%s\" "
                             "contains a brace; a tenant name is the hash "
                             "tag of its keys", name);
    for (unsigned j = 0; j < t->n; j++)
        if (!strcmp(t->names[j], name))
            return yamlwalk_fail(w, yamlwalk_line(item), path, "tenant "
                                 "\"%s\" is listed twice", name);
    t->n++;
    return 0;
}

static int cfg_tenant_list(struct yamlwalk *w, struct config *c,
                           yaml_node_t *v, const char *path)
{
    if (c->tenants.line)
        return yamlwalk_fail(w, yamlwalk_line(v), path, "give either "
                             "tenants or tenant_pool, not both");
    c->tenants.line = yamlwalk_line(v);
    snprintf(c->tenants.path, sizeof(c->tenants.path), "%s", path);
    if (yamlwalk_list(w, v, path, CONFIG_MAX_TENANTS, "tenants", tenant_item,
                      &c->tenants) < 0)
        return -1;
    if (c->tenants.n == 0)
        return yamlwalk_fail(w, yamlwalk_line(v), path, "names no tenant");
    return 0;
}

static const char *const pool_keys[] = { "tenants", "max", NULL };

static int pool_field(struct yamlwalk *w, void *ctx, int key, yaml_node_t *v,
                      const char *path)
{
    struct config_tenants *t = ctx;
    if (key == 0)
        return yamlwalk_list(w, v, path, CONFIG_MAX_TENANTS, "tenants",
                             tenant_item, t);
    return yamlwalk_u32(w, v, path, 1, CONFIG_MAX_TENANTS, &t->pool_max);
}

static int cfg_tenant_pool(struct yamlwalk *w, struct config *c,
                           yaml_node_t *v, const char *path)
{
    if (c->tenants.line)
        return yamlwalk_fail(w, yamlwalk_line(v), path, "give either "
                             "tenants or tenant_pool, not both");
    c->tenants.line = yamlwalk_line(v);
    snprintf(c->tenants.path, sizeof(c->tenants.path), "%s", path);
    if (yamlwalk_map(w, v, path, pool_keys, pool_field, &c->tenants) < 0)
        return -1;
    if (c->tenants.n == 0)
        return yamlwalk_fail(w, c->tenants.line, path, "missing \"tenants\" "
                             "(the set of tenants the pool shares)");
    if (c->tenants.pool_max == 0)
        return yamlwalk_fail(w, c->tenants.line, path, "missing \"max\" "
                             "(the most tenants this engine owns at a time)");
    return 0;
}

/* After the whole file: names where redis.tenant would be a second,
 * silently unused name; a pool without Redis; the routers' memory. */
static int tenants_check(struct yamlwalk *w, struct cfgp *p)
{
    struct config *c = p->c;
    const struct router_config *r = &c->router;
    uint64_t need;
    if (!c->tenants.line)
        return 0;
    if (strcmp(c->store.tenant, "default"))
        return yamlwalk_fail(w, c->tenants.line, c->tenants.path, "and "
                             "redis.tenant (\"%s\") both name tenants; name "
                             "them in %s only", c->store.tenant,
                             c->tenants.path);
    if (c->tenants.pool_max && !c->store.enabled)
        return yamlwalk_fail(w, c->tenants.line, c->tenants.path, "needs "
                             "Redis (a redis: section): the pool shares "
                             "tenants through their leases");
    if (c->tenants.pool_max > c->tenants.n)
        c->tenants.pool_max = c->tenants.n;
    need = router_memory_need(r->max_agents, r->max_contacts) * c->tenants.n;
    if (need > CONFIG_MAX_ROUTER_MEMORY)
        return yamlwalk_fail(w, c->tenants.line, c->tenants.path, "%u "
                             "tenants of max_contacts %u and max_agents %u "
                             "need %.1f GiB for their routers (each tenant "
                             "has its own); the bound is %.0f GiB: lower "
                             "routing.max_contacts / max_agents",
                             c->tenants.n, r->max_contacts, r->max_agents,
                             (double)need / (1 << 30),
                             (double)CONFIG_MAX_ROUTER_MEMORY / (1 << 30));
    return 0;
}

enum {
    TK_LISTEN, TK_MAX_FRAME, TK_MAX_OUTPUT, TK_GRACE, TK_LOG_LEVEL, TK_REDIS,
    TK_ROUTING, TK_SKILLS, TK_QUEUES, TK_LIMITS, TK_AUTH, TK_PRINCIPALS,
    TK_HTTP, TK_TENANTS, TK_TENANT_POOL, TK_LOG, TK_CARE, TK_CAMPAIGNS,
};

static const char *const top_keys[] = {
    "listen", "max_frame", "max_output", "grace", "log_level", "redis",
    "routing", "skills", "queues", "limits", "auth", "principals", "http",
    "tenants", "tenant_pool", "log", "care", "campaigns", NULL,
};

/* ---- log ---- */

enum { LGK_FORMAT, LGK_FILE };

static const char *const log_keys[] = { "format", "file", NULL };

static int log_field(struct yamlwalk *w, void *ctx, int key, yaml_node_t *v,
                     const char *path)
{
    static const char *const formats[] = { "text", "json" };
    struct config_log *l = ctx;
    int e;
    switch (key) {
    case LGK_FORMAT:
        if (yamlwalk_enum(w, v, path, "log format", formats, 2, &e) < 0)
            return -1;
        l->format = (enum log_format)e;
        return 0;
    case LGK_FILE:
        return yamlwalk_str(w, v, path, l->file, sizeof(l->file), false);
    }
    return -1;
}

static int top_field(struct yamlwalk *w, void *ctx, int key, yaml_node_t *v,
                     const char *path)
{
    struct cfgp *p = ctx;
    struct config *c = p->c;
    const char *s = NULL;
    uint64_t size;
    int lvl;
    switch (key) {
    case TK_LISTEN: return cfg_listen(w, c, v, path);
    case TK_MAX_FRAME:
        if (yamlwalk_size(w, v, path, 64, CONFIG_MAX_FRAME_CAP, &size) < 0)
            return -1;
        c->max_frame = (size_t)size;
        return 0;
    case TK_MAX_OUTPUT:
        if (yamlwalk_size(w, v, path, 1024, 1ull << 32, &size) < 0)
            return -1;
        c->max_output = (size_t)size;
        return 0;
    case TK_GRACE: return get_dur(w, v, path, 0, &c->grace_ms);
    case TK_LOG_LEVEL:
        if (yamlwalk_scalar(w, v, path, &s) < 0)
            return -1;
        lvl = log_level_parse(s);
        if (lvl < 0)
            return yamlwalk_fail(w, yamlwalk_line(v), path, "unknown log "
                                 "level \"%s\" (expected debug, info, warn, "
                                 "error)", s);
        c->log_level = (enum log_level)lvl;
        return 0;
    case TK_REDIS:
        /* A redis: section means Redis is wanted unless it says
         * `enabled: false`. */
        c->store.enabled = true;
        return yamlwalk_map(w, v, path, redis_keys, redis_field, p);
    case TK_ROUTING:
        return yamlwalk_map(w, v, path, routing_keys, routing_field, p);
    case TK_SKILLS: return cfg_skills(w, c, v, path);
    case TK_QUEUES:
        /* After skills (which may come later in the file). */
        p->queues = v;
        snprintf(p->queues_path, sizeof(p->queues_path), "%s", path);
        return 0;
    case TK_LIMITS:
        return yamlwalk_map(w, v, path, limits_keys, limits_field, c);
    case TK_AUTH: return cfg_auth(w, p, v, path);
    case TK_PRINCIPALS: return cfg_principals(w, p, v, path);
    case TK_HTTP:
        c->http.enabled = true;
        p->http_line = yamlwalk_line(v);
        return yamlwalk_map(w, v, path, http_keys, http_field, p);
    case TK_TENANTS: return cfg_tenant_list(w, c, v, path);
    case TK_TENANT_POOL: return cfg_tenant_pool(w, c, v, path);
    case TK_LOG: return yamlwalk_map(w, v, path, log_keys, log_field, &c->log);
    case TK_CARE: return care_config_walk(w, v, path, &c->care);
    case TK_CAMPAIGNS:
        /* checked against the queues after them (config_walk) */
        snprintf(p->campaigns_path, sizeof(p->campaigns_path), "%s", path);
        return campaign_config_walk(w, v, path, &c->campaigns,
                                    &c->ncampaigns);
    }
    return -1;
}

void config_defaults(struct config *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->listen_host, sizeof(c->listen_host), "%s", CONFIG_DEFAULT_HOST);
    c->listen_port = CONFIG_DEFAULT_PORT;
    c->max_frame = CONFIG_DEFAULT_MAX_FRAME;
    c->max_output = CONFIG_DEFAULT_MAX_OUTPUT;
    c->grace_ms = CONFIG_DEFAULT_GRACE_MS;
    c->log_level = LOG_INFO;
    c->tls.min_version = 12;

    c->limits.max_connections = 10000;
    c->limits.hello_timeout_ms = 10000;
    c->limits.frame_timeout_ms = 10000;
    c->limits.idle_timeout_ms = 0;
    c->limits.ping_interval_ms = 30000;
    c->limits.ping_timeout_ms = 10000;
    c->limits.close_linger_ms = 2000;
    c->limits.keepalive_ms = 60000;
    c->limits.shutdown_timeout_ms = 5000;
    c->limits.max_dnc = 1000000;

    c->store.enabled = false;
    c->store.durability = STORE_DURABILITY_REDIS;
    /* one append per batch; an existing tenant kept as hashes is refused,
     * not loaded empty (docs/redis.md, "Changing the layout") */
    c->store.layout = STORE_LAYOUT_JOURNAL;
    snprintf(c->store.host, sizeof(c->store.host), "127.0.0.1");
    c->store.port = 6379;
    snprintf(c->store.tenant, sizeof(c->store.tenant), "default");
    c->store.connect_timeout_ms = 1000;
    c->store.command_timeout_ms = 2000;
    c->store.lease_ms = 2000;
    c->store.renew_ms = 0;               /* lease_ms / 4 after loading */
    c->store.reconnect_min_ms = 100;
    c->store.reconnect_max_ms = 2000;
    c->store.max_pending = 100000;
    c->store.stream_maxlen = 1000000;
    c->store.min_replicas = 1;
    c->store.replica_timeout_ms = 500;

    c->router.max_agents = 10000;
    c->router.max_contacts = 100000;
    c->router.priority_weight_ms = 1000;
    c->router.value_weight_ms = 10;
    c->router.preferred_wait_ms = 0;
    c->router.max_no_answer = 3;
    c->router.voice_blocks_others = true;
    c->router.default_offer_timeout_ms = 15000;
    c->router.max_contact_age_ms = CONFIG_DEFAULT_MAX_CONTACT_AGE_MS;
    c->max_attributes = CONFIG_DEFAULT_MAX_ATTRIBUTES;
    c->max_attribute_bytes = CONFIG_DEFAULT_MAX_ATTRIBUTE_BYTES;
    auth_config_defaults(&c->auth);
    c->http.max_connections = HTTP_DEFAULT_MAX_CONNECTIONS;
    c->http.request_timeout_ms = HTTP_DEFAULT_REQUEST_TIMEOUT_MS;
    care_config_defaults(&c->care);
}

static int config_walk(struct yamlwalk *w, struct config *c)
{
    struct cfgp p;
    yaml_node_t *root = yamlwalk_root(w);
    int rc = -1;

    memset(&p, 0, sizeof(p));
    p.c = c;
    if (root && yamlwalk_map(w, root, "", top_keys, top_field, &p) < 0)
        goto out;
    if (p.queues && cfg_queues(w, &p) < 0)
        goto out;
    if (care_config_check(w, &c->care, &c->router) < 0 ||
        campaign_config_verify(w, c->campaigns, c->ncampaigns,
                               p.campaigns_path, &c->router) < 0)
        goto out;
    if (redis_check(w, &p) < 0 || slots_check(w, &p) < 0 ||
        (p.fallback_line && queue_index(c, c->router.reload_fallback) < 0 &&
         yamlwalk_fail(w, p.fallback_line, p.fallback_path, "unknown queue "
                       "\"%s\"", c->router.reload_fallback) < 0))
        goto out;
    if (auth_check(w, &p) < 0 || http_check(w, &p) < 0 ||
        tenants_check(w, &p) < 0)
        goto out;
    rc = 0;
out:
    free(p.qlines);
    return rc;
}

int config_load_string(struct config *c, const char *name, const char *text,
                       size_t len, char *err, size_t errlen)
{
    struct yamlwalk w;
    int rc = yamlwalk_load(&w, name, text, len, err, errlen);
    if (rc == 0)
        rc = config_walk(&w, c);
    yamlwalk_fini(&w);
    return rc;
}

int config_load(struct config *c, const char *path, char *err, size_t errlen)
{
    struct yamlwalk w;
    int rc = yamlwalk_load_file(&w, path, err, errlen);
    if (rc == 0)
        rc = config_walk(&w, c);
    yamlwalk_fini(&w);
    return rc;
}

void config_fini(struct config *c)
{
    for (unsigned i = 0; i < c->router.nskills; i++)
        free((char *)c->router.skills[i]);
    free(c->router.skills);
    free(c->router.queues);
    c->router.skills = NULL;
    c->router.queues = NULL;
    c->router.nskills = c->router.nqueues = 0;
    auth_config_fini(&c->auth);
    free(c->campaigns);
    c->campaigns = NULL;
    c->ncampaigns = 0;
}
