/* http-t.h -- the HTTP surface's configuration: types only (see http.h
 * for the listener and docs/http.md for the endpoints).
 */
#ifndef CCROUTE_HTTP_T_H
#define CCROUTE_HTTP_T_H

#include <stdbool.h>
#include <stdint.h>

#include "auth-t.h"

#define HTTP_DEFAULT_MAX_CONNECTIONS 16u
#define HTTP_DEFAULT_REQUEST_TIMEOUT_MS 10000u
/* The most HTTP connections allowed: they share the descriptors that
 * server.c keeps out of the client budget (SERVER_FD_RESERVE). */
#define HTTP_MAX_CONNECTIONS_CAP 32u

/* Principals whose token opens the HTTP surface: roles monitor (5) and
 * admin (6), numbered as Ccroute__V1__Role. */
#define HTTP_ROLE_BITS (AUTH_ROLE_BIT(5) | AUTH_ROLE_BIT(6))

/* The `http:` section (docs/configuration.md). Absent: no HTTP listener. */
struct http_config {
    bool enabled;                 /* the section is there */
    char host[256];               /* numeric address or localhost */
    int port;                     /* 0: ephemeral (tests; see port_file) */
    unsigned long line;           /* line of http.listen (0: not from a
                                     file) */
    bool require_token;           /* Authorization: Bearer on every request;
                                     always true on a non-loopback host */
    uint32_t max_connections;     /* open HTTP connections at once */
    uint32_t request_timeout_ms;  /* a request's head must arrive within
                                     this; also the keep-alive idle time */
};

/* What the HTTP surface counts (its own metrics, docs/http.md). */
struct http_stats {
    uint32_t open;                /* gauge: HTTP connections open now */
    uint64_t accepted;            /* connections accepted */
    uint64_t refused;             /* closed at once: max_connections */
    uint64_t unauthorized;        /* answered 401 */
    uint64_t forbidden;           /* answered 403 */
    uint64_t responses[6];        /* answered by ccrouted's handlers, by
                                     class: [2] 2xx ... [5] 5xx */
};

#endif
