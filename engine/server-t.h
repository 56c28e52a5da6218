/* server-t.h -- struct server, the objects the daemon's loop shares: types
 * only (see server.h for the functions and the design). metrics.c, api.c
 * and http.c read the server's members through this header without
 * depending on server.c's functions, which call them: no circle.
 */
#ifndef CCROUTE_SERVER_T_H
#define CCROUTE_SERVER_T_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "arena-t.h"
#include "conn-t.h"
#include "reload-t.h"
#include "tenant-t.h"

struct config;
struct http;
struct tls_ctx;

struct server {
    uv_loop_t *loop;
    const struct config *cfg;       /* borrowed; outlives the server */
    struct tenant_set tenants;      /* every tenant (tenant.h); [0] is the
                                       default one */
    struct tls_ctx *tls;            /* the listener's TLS; NULL: plaintext */
    struct http *http;              /* the HTTP surface; NULL: none */
    struct arena arena;             /* decode/encode scratch, reset per unit
                                       of work (frame, tick, callback) */
    char port_file[512];            /* where to write the bound port */
    /* what a reload reads and changes (reload.h): main() fills both
     * before server_start(); cfg_live is the same object as cfg */
    struct reload_source reload;
    struct config *cfg_live;
    int port;                       /* bound port, after server_listen() */

    /* private: loop handles */
    uv_tcp_t listener;
    uv_prepare_t prepare;
    uv_signal_t sigint, sigterm;
    uv_signal_t sighup, sigusr1;    /* reload; log file reopen */
    uv_timer_t shutdown_timer;      /* limits.shutdown_timeout */
    bool listening, stopping;
    bool started;                   /* server_start() got as far as the
                                       per-turn hook */
    bool accepting;                 /* the listener is open */
    bool timer_open;
    enum server_phase {
        SERVER_RUNNING = 0,
        SERVER_FLUSHING,            /* refusing requests; waiting for Redis
                                       to confirm what is queued */
        SERVER_STORES,              /* stores stopping: last writes, then
                                       the lease released */
        SERVER_CONNS,               /* replies flushed, connections closing */
        SERVER_DONE,
    } phase;                        /* graceful shutdown (server.c) */
    unsigned stores_left;           /* stores whose stop has not finished */

    /* the client connections; their callbacks lead here (server.c) */
    struct conn_set conns;
};

#endif
