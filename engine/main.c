/* main.c -- ccrouted: command line, configuration, the loop.
 *
 *   ccrouted [--config FILE] [--listen HOST:PORT] [--port-file FILE]
 *            [--log-level LEVEL]
 *   ccrouted --check-config [--check-redis] --config FILE
 *   ccrouted --hash-token < TOKEN
 *
 * Exit status (usage() prints the same): 0 after a clean shutdown
 * (SIGINT/SIGTERM) or a good --check-config; 1 on a configuration error;
 * 2 on bad usage; 3 when the listener or the store cannot start.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <openssl/crypto.h>
#include <uv.h>

#include "auth.h"
#include "clock.h"
#include "config.h"
#include "log.h"
#include "router.h"
#include "server.h"
#include "store.h"
#include "tls.h"

#define CCROUTED_VERSION "0.1.0"

/* --hash-token: one line from stdin (its newline dropped) -> hex SHA-256
 * on stdout. The token is wiped from memory before the exit. */
static int hash_token(void)
{
    char buf[AUTH_TOKEN_MAX + 2];
    uint8_t h[AUTH_HASH_LEN];
    char hex[65];
    size_t n = fread(buf, 1, sizeof(buf), stdin);
    int rc = 1;

    if (n > 0 && buf[n - 1] == '\n')
        n--;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    if (n > AUTH_TOKEN_MAX || memchr(buf, '\n', n))
        fprintf(stderr, "ccrouted: --hash-token: the token must be one line "
                "of at most %d bytes\n", AUTH_TOKEN_MAX);
    else if (n < AUTH_TOKEN_MIN)
        fprintf(stderr, "ccrouted: --hash-token: the token must be at least "
                "%d bytes (use a random one: head -c 24 /dev/urandom | "
                "base64)\n", AUTH_TOKEN_MIN);
    else if (auth_hash(buf, n, h) < 0)
        fprintf(stderr, "ccrouted: --hash-token: SHA-256 failed\n");
    else {
        auth_hex_format(h, hex);
        printf("%s\n", hex);
        rc = 0;
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f,
"usage: ccrouted [options]\n"
"\n"
"Skills-based contact routing engine (protocol ccroute.v1).\n"
"\n"
"  -c, --config FILE       YAML configuration (docs/configuration.md);\n"
"                          without it every default applies and no queue\n"
"                          exists\n"
"      --check-config      check the configuration and exit: parse it, build\n"
"                          the routing model from it, load the TLS\n"
"                          certificate and key (they must match), and bind\n"
"                          and release the listen addresses (the protocol's\n"
"                          and, with an http section, the HTTP one); print\n"
"                          OK (exit 0) or the error (exit 1)\n"
"      --check-redis       with --check-config: also connect to the configured\n"
"                          Redis (with redis.sentinels: ask them for the\n"
"                          master, and check its ROLE; with redis.cluster:\n"
"                          ask the seeds for the owner of the tenant's\n"
"                          slot, and check that it serves it), AUTH and\n"
"                          SELECT as the engine would, and PING, without\n"
"                          serving;\n"
"                          prints what failed (\"redis authentication failed:\n"
"                          ...\", cannot connect, no sentinel named the\n"
"                          master, ...) and exits 1, or OK and exits 0\n"
"  -l, --listen HOST:PORT  listen here instead of the configured address\n"
"                          (a numeric IP address or localhost; port 0: any\n"
"                          free port, see --port-file)\n"
"  -p, --port-file FILE    write the bound port to FILE once listening\n"
"      --log-level LEVEL   debug, info, warn or error (overrides the file)\n"
"      --hash-token        read one token from standard input (one line,\n"
"                          at least 16 bytes) and print its SHA-256 as the\n"
"                          configuration wants it (token_sha256, or the\n"
"                          token file); see docs/security.md\n"
"  -V, --version           print the version and exit\n"
"  -h, --help              this text\n"
"\n"
"Without principals in the configuration the engine runs open (every\n"
"client has every right), which it does only on a loopback listen\n"
"address unless `auth: {insecure_open: true}` is set.\n"
"\n"
"SIGHUP reloads the configuration file without dropping work: queues\n"
"added or removed (a removed queue's contacts go to its reload_fallback),\n"
"a queue's limits, skills, channels, strategy and steps, tokens,\n"
"certificate fingerprints, quotas, grace, attribute bounds and log level\n"
"may change; a file that does not load, changes anything else or would\n"
"strand a contact is refused whole, with the reason logged\n"
"(docs/configuration.md, \"Reload\"). SIGUSR1 reopens log.file (after\n"
"logrotate renamed it).\n"
"\n"
"SIGTERM or SIGINT stops gracefully: no new connections or requests,\n"
"Redis confirms what is queued (limits.shutdown_timeout), the lease is\n"
"released for a standby, connections close after their replies; a\n"
"second signal stops at once.\n"
"\n"
"Exit status: 0 after a clean stop (SIGINT or SIGTERM) or a good\n"
"--check-config, 1 on a configuration error, 2 on bad usage, 3 when the\n"
"listener or the store cannot start.\n");
}

/* Every client connection is a descriptor: take all the kernel allows
 * this process (the soft limit up to the hard one), before anything is
 * opened. server.c sizes the connection budget from the result. */
static void raise_nofile(void)
{
    struct rlimit rl;
    rlim_t was;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == rl.rlim_max)
        return;
    was = rl.rlim_cur;
    /* An unlimited hard limit still stops at the kernel's nr_open. */
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? 1048576 : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        log_warn("cannot raise the descriptor limit from %llu to %llu",
                 (unsigned long long)was, (unsigned long long)rl.rlim_max);
    else
        log_info("descriptor limit raised from %llu to %llu",
                 (unsigned long long)was, (unsigned long long)rl.rlim_cur);
}

/* Where the listen address came from, for an error: "file:line" when the
 * file said it (config.h: listen_line), else `source` ("--listen", the
 * file, "(defaults)"). Returns buf. */
static const char *listen_where(const struct config *c, const char *source,
                                char *buf, size_t len)
{
    if (c->listen_line && strcmp(source, "--listen") != 0)
        snprintf(buf, len, "%s:%lu", source, c->listen_line);
    else
        snprintf(buf, len, "%s", source);
    return buf;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "check-config", no_argument, NULL, 'C' },
        { "check-redis", no_argument, NULL, 'R' },
        { "listen", required_argument, NULL, 'l' },
        { "port-file", required_argument, NULL, 'p' },
        { "log-level", required_argument, NULL, 'L' },
        { "hash-token", no_argument, NULL, 'H' },
        { "version", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config_path = NULL, *listen = NULL, *port_file = NULL;
    const char *log_level = NULL;
    int check = 0, check_redis = 0, opt, rc;
    struct config cfg;
    char err[1024];
    char where[600];
    struct server srv;
    uv_loop_t loop;

    while ((opt = getopt_long(argc, argv, "c:l:p:hV", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': config_path = optarg; break;
        case 'C': check = 1; break;
        case 'R': check_redis = 1; break;
        case 'l': listen = optarg; break;
        case 'p': port_file = optarg; break;
        case 'L': log_level = optarg; break;
        case 'H': return hash_token();
        case 'V':
            printf("ccrouted %s (protocol ccroute.v1)\n", CCROUTED_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (check_redis && !check) {
        fprintf(stderr, "ccrouted: --check-redis goes with --check-config\n");
        usage(stderr);
        return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "ccrouted: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    config_defaults(&cfg);
    if (config_path && config_load(&cfg, config_path, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        config_fini(&cfg);
        return 1;
    }
    if (listen) {
        if (config_parse_listen(listen, cfg.listen_host,
                                sizeof(cfg.listen_host),
                                &cfg.listen_port) < 0) {
            fprintf(stderr, "ccrouted: --listen %s: expected HOST:PORT\n",
                    listen);
            config_fini(&cfg);
            return 2;
        }
        cfg.listen_line = 0;    /* not from the file any more */
    }
    if (log_level) {
        int l = log_level_parse(log_level);
        if (l < 0) {
            fprintf(stderr, "ccrouted: --log-level %s: expected debug, info, "
                    "warn or error\n", log_level);
            config_fini(&cfg);
            return 2;
        }
        cfg.log_level = (enum log_level)l;
    }
    if (check) {
        /* In the order the daemon starts: the file (every error names its
         * line), the routing model, then the listener. */
        const char *rerr = NULL;
        const char *source = listen ? "--listen"
                                    : config_path ? config_path : "(defaults)";
        struct router *r = router_new(&cfg.router, 1, &rerr);
        if (!r) {
            /* config_load() refuses whatever router_new() would, so this
             * is out of memory in practice. */
            fprintf(stderr, "%s: routing: %s\n",
                    config_path ? config_path : "(defaults)",
                    rerr ? rerr : "invalid configuration");
            config_fini(&cfg);
            return 1;
        }
        router_free(r);
        if (config_check_listen(&cfg, source, err, sizeof(err)) < 0) {
            fprintf(stderr, "%s\n", err);
            config_fini(&cfg);
            return 1;
        }
        if (config_check_http(&cfg, config_path ? config_path
                                                : "(defaults)",
                              err, sizeof(err)) < 0) {
            fprintf(stderr, "%s\n", err);
            config_fini(&cfg);
            return 1;
        }
        /* No principals: open, and only on loopback (auth.h). */
        if (auth_check_listen(&cfg.auth, cfg.listen_host,
                              listen_where(&cfg, source, where,
                                           sizeof(where)),
                              err, sizeof(err)) < 0) {
            fprintf(stderr, "%s\n", err);
            config_fini(&cfg);
            return 1;
        }
        /* TLS: the certificate and key load, and match. */
        if (cfg.tls.enabled) {
            struct tls_ctx *t = NULL;
            if (tls_ctx_new(&cfg.tls, &t, err, sizeof(err)) < 0) {
                fprintf(stderr, "%s\n", err);
                config_fini(&cfg);
                return 1;
            }
            tls_ctx_free(t);
        }
        if (check_redis) {
            if (!cfg.store.enabled) {
                fprintf(stderr, "%s: redis.enabled is false: there is no "
                        "Redis to check\n", source);
                config_fini(&cfg);
                return 1;
            }
            rc = store_check_redis(&cfg.store, err, sizeof(err));
            if (rc < 0) {
                fprintf(stderr, "%s\n", err);
                config_fini(&cfg);
                return 1;
            }
            printf("%s\n", err);
        }
        printf("OK\n");
        config_fini(&cfg);
        return 0;
    }

    if (auth_check_listen(&cfg.auth, cfg.listen_host,
                          listen_where(&cfg, listen ? "--listen" :
                                       config_path ? config_path :
                                       "(defaults)", where, sizeof(where)),
                          err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        config_fini(&cfg);
        return 1;
    }
    log_set_level(cfg.log_level);
    log_set_format(cfg.log.format);
    if (cfg.log.file[0] && (rc = log_set_file(cfg.log.file)) < 0) {
        fprintf(stderr, "%s: log.file %s: %s\n",
                config_path ? config_path : "(defaults)", cfg.log.file,
                strerror(-rc));
        config_fini(&cfg);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    uv_loop_init(&loop);
    if (server_init(&srv, &loop, &cfg, err, sizeof(err)) < 0) {
        log_error("%s", err);
        uv_loop_close(&loop);
        config_fini(&cfg);
        return 1;
    }
    if (port_file)
        snprintf(srv.port_file, sizeof(srv.port_file), "%s", port_file);
    /* SIGHUP and ConfigReload read the same file again; what the command
     * line overrides stays overridden (reload.h) */
    srv.cfg_live = &cfg;
    if (config_path)
        snprintf(srv.reload.path, sizeof(srv.reload.path), "%s", config_path);
    srv.reload.keep_listen = listen != NULL;
    srv.reload.keep_log_level = log_level != NULL;
    rc = server_start(&srv);
    if (rc < 0) {
        server_stop(&srv);
        uv_run(&loop, UV_RUN_DEFAULT);
        server_fini(&srv);
        uv_loop_close(&loop);
        config_fini(&cfg);
        return 3;
    }
    log_info("ccrouted %s started (%u queues)", CCROUTED_VERSION,
             cfg.router.nqueues);
    uv_run(&loop, UV_RUN_DEFAULT);
    server_fini(&srv);
    rc = uv_loop_close(&loop);
    if (rc < 0)
        log_warn("loop closed with handles open: %s", uv_strerror(rc));
    log_info("stopped");
    log_set_file(NULL);
    config_fini(&cfg);
    return 0;
}
