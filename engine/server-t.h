/* server-t.h -- struct server, the objects the daemon's loop shares: types
 * only (see server.h for the functions and the design). dispatch.c reads
 * the server's members through this header without depending on
 * server.c's functions, which call dispatch.c: no circle.
 */
#ifndef CCROUTE_SERVER_T_H
#define CCROUTE_SERVER_T_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "arena-t.h"
#include "conn-t.h"
#include "store-t.h"

struct config;
struct dispatch;
struct http;
struct router;
struct store;
struct tls_ctx;

struct server {
    uv_loop_t *loop;
    const struct config *cfg;       /* borrowed; outlives the server */
    struct router *router;
    struct store *store;
    struct dispatch *dispatch;
    struct tls_ctx *tls;            /* the listener's TLS; NULL: plaintext */
    struct http *http;              /* the HTTP surface; NULL: none */
    struct arena arena;             /* decode/encode scratch, reset per unit
                                       of work (frame, tick, callback) */
    enum store_role role;
    char port_file[512];            /* where to write the bound port */
    int port;                       /* bound port, after server_listen() */

    /* private: loop handles */
    uv_tcp_t listener;
    uv_prepare_t prepare;
    uv_timer_t timer;               /* router deadlines */
    uint64_t timer_due;             /* armed deadline (us), 0 if none */
    uv_signal_t sigint, sigterm;
    bool listening, stopping;

    /* the client connections; their callbacks lead here (server.c) */
    struct conn_set conns;
};

#endif
