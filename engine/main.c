/* main.c -- ccrouted: command line, configuration, the loop.
 *
 *   ccrouted [--config FILE] [--listen HOST:PORT] [--port-file FILE]
 *   ccrouted --check-config --config FILE
 *
 * Exit status: 0 after a clean shutdown (SIGINT/SIGTERM) or a good
 * --check-config; 1 on a configuration error; 2 on bad usage; 3 when the
 * listener or the store cannot start.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "clock.h"
#include "config.h"
#include "log.h"
#include "router.h"
#include "server.h"

#define CCROUTED_VERSION "0.1.0"

static void usage(FILE *f)
{
    fprintf(f,
"usage: ccrouted [options]\n"
"\n"
"Skills-based contact routing engine (protocol ccroute.v1).\n"
"\n"
"  --config FILE       YAML configuration (see deploy/demo.yaml);\n"
"                      without it every default applies and no queue exists\n"
"  --check-config      parse and validate the configuration (including the\n"
"                      routing model), print OK or the error, exit 0 or 1\n"
"  --listen HOST:PORT  listen here instead of the configured address\n"
"                      (port 0: any free port; see --port-file)\n"
"  --port-file FILE    write the bound port to FILE once listening\n"
"  --log-level LEVEL   debug, info, warn or error (overrides the file)\n"
"  --version           print the version and exit\n"
"  --help              this text\n"
"\n"
"Signals: SIGINT and SIGTERM stop the engine cleanly.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "check-config", no_argument, NULL, 'C' },
        { "listen", required_argument, NULL, 'l' },
        { "port-file", required_argument, NULL, 'p' },
        { "log-level", required_argument, NULL, 'L' },
        { "version", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config_path = NULL, *listen = NULL, *port_file = NULL;
    const char *log_level = NULL;
    int check = 0, opt, rc;
    struct config cfg;
    char err[1024];
    struct server srv;
    uv_loop_t loop;

    while ((opt = getopt_long(argc, argv, "c:l:p:hV", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': config_path = optarg; break;
        case 'C': check = 1; break;
        case 'l': listen = optarg; break;
        case 'p': port_file = optarg; break;
        case 'L': log_level = optarg; break;
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
    if (listen && config_parse_listen(listen, cfg.listen_host,
                                      sizeof(cfg.listen_host),
                                      &cfg.listen_port) < 0) {
        fprintf(stderr, "ccrouted: --listen %s: expected HOST:PORT\n", listen);
        config_fini(&cfg);
        return 2;
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
        const char *rerr = NULL;
        struct router *r = router_new(&cfg.router, 1, &rerr);
        if (!r) {
            fprintf(stderr, "%s: routing: %s\n",
                    config_path ? config_path : "(defaults)",
                    rerr ? rerr : "invalid configuration");
            config_fini(&cfg);
            return 1;
        }
        router_free(r);
        printf("OK\n");
        config_fini(&cfg);
        return 0;
    }

    log_set_level(cfg.log_level);
    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&loop);
    if (server_init(&srv, &loop, &cfg, err, sizeof(err)) < 0) {
        log_error("%s", err);
        uv_loop_close(&loop);
        config_fini(&cfg);
        return 1;
    }
    if (port_file)
        snprintf(srv.port_file, sizeof(srv.port_file), "%s", port_file);
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
    config_fini(&cfg);
    return 0;
}
