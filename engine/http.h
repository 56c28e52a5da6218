/* http.h -- the HTTP surface: a listener of its own on the engine's libuv
 * loop, serving /healthz, /readyz, /metrics, /api/v1/ and the wallboard
 * (/ and its event stream /api/v1/events; wallboard.c, sse.c) -- see
 * docs/http.md.
 *
 * HTTP itself is H2O's (libh2o, Debian's build on libuv): its parser,
 * its limits (a request head of more than 100 header lines or 408 KiB is
 * answered 400 by the library), its
 * deadline for a slow client (http.request_timeout), its response
 * writing. This module accepts the connections on the engine's loop,
 * bounds their number, checks the token and routes the paths; metrics.c
 * and api.c write the bodies from the engine's state, read through
 * read-only accessors at the moment of the request.
 *
 * Access (docs/security.md): on a loopback address without
 * `require_token` anyone on the host may read; otherwise every request
 * carries `Authorization: Bearer <token>` of a principal with the monitor
 * or admin role (the protocol's principals and token hashes, auth.h):
 * missing or unknown token 401, another principal 403. On the
 * wallboard's paths the cookie that `GET /?token=` sets stands in for
 * the header (http.c says why).
 *
 * Life: http_new() with the server, http_start() once the protocol
 * listener is up, http_stop() as part of server_stop() (the listener and
 * every HTTP connection end, so uv_run() can return), http_free() after
 * uv_run() returned.
 */
#ifndef CCROUTE_HTTP_H
#define CCROUTE_HTTP_H

#include <stddef.h>

#include "http-t.h"

struct server;
struct http;

/* Creates the HTTP surface of `s` from s->cfg->http (both borrowed for
 * the surface's life; the server's router, store and connections are read
 * through `s` at each request). NULL with a message in err on failure. */
struct http *http_new(struct server *s, char *err, size_t errlen);
/* Binds and listens on http.listen. 0 or a negative libuv code (logged). */
int http_start(struct http *h);
/* The bound port (after http_start). */
int http_port(const struct http *h);
/* Closes the listener and ends every HTTP connection. */
void http_stop(struct http *h);
/* Frees everything; call after uv_run() returned (it runs the loop once
 * more, without waiting, to release H2O's handles). NULL is a no-op. */
void http_free(struct http *h);
/* The surface's counters (read-only). */
const struct http_stats *http_stats(const struct http *h);

#endif
