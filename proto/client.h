/* client.h -- a small blocking C client for the ccroute protocol.
 *
 * For tests, tools and users' C integrations that want one TCP connection
 * and simple calls: send an Envelope, receive the next Envelope (with a
 * timeout), or do a request and wait for its Ack/Error while collecting the
 * events that arrive meanwhile. Not for high-rate load (bench/ccload.c uses
 * libuv and the frame codec directly).
 *
 * Errors: functions return 0 or a negative errno value (-ETIMEDOUT when a
 * receive times out, -EPIPE when the engine closed the connection,
 * -EPROTO for a bad frame from the engine).
 */
#ifndef CCROUTE_CLIENT_H
#define CCROUTE_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "ccroute.pb-c.h"

typedef Ccroute__V1__Envelope ccr_envelope;

struct ccr_client;

/* Connects to host:port (numeric IPv4/IPv6 or a name). Returns a new client
 * in *out; the caller frees it with ccr_client_close(). */
int ccr_client_connect(const char *host, int port, struct ccr_client **out);
void ccr_client_close(struct ccr_client *c);
int ccr_client_fd(const struct ccr_client *c);

/* Sends one envelope. If env->request_id is 0 a fresh id is assigned and
 * written back into env. */
int ccr_client_send(struct ccr_client *c, ccr_envelope *env);
/* Sends raw bytes (tests use it to send malformed frames). */
int ccr_client_send_raw(struct ccr_client *c, const void *buf, size_t len);

/* Receives the next envelope, waiting at most timeout_ms (-1: forever).
 * On success *out is a new message the caller frees with ccr_free(). */
int ccr_client_recv(struct ccr_client *c, int timeout_ms, ccr_envelope **out);
void ccr_free(ccr_envelope *env);

/* Sends env and waits for the Ack or Error carrying its request id; events
 * received in between are passed to on_event (which takes ownership and
 * must ccr_free them) or freed when on_event is NULL. *reply receives the
 * Ack/Error (caller frees). */
int ccr_client_call(struct ccr_client *c, ccr_envelope *env, int timeout_ms,
                    void (*on_event)(void *arg, ccr_envelope *ev), void *arg,
                    ccr_envelope **reply);

/* Sends Hello with the given name and role and waits for the Ack. Returns 0
 * on Ack, a negative errno on transport failure, or the positive protocol
 * ErrorCode (e.g. CCROUTE__V1__ERROR_CODE__NOT_OWNER) on Error. */
int ccr_client_hello(struct ccr_client *c, const char *name,
                     Ccroute__V1__Role role, int reattach, int timeout_ms);
/* The same with Hello.credential = `credential` (borrowed; NULL or "":
 * none). A refused credential is answered late (the engine's
 * auth.failure_delay): give it a timeout longer than that. */
int ccr_client_hello_cred(struct ccr_client *c, const char *name,
                          Ccroute__V1__Role role, int reattach,
                          const char *credential, int timeout_ms);

/* The token a tool presents: the first line of the file at `path` (its
 * newline dropped) when path is not NULL, else the environment variable
 * CCROUTE_TOKEN, else "" (no credential: an engine that runs open).
 * Writes it to buf (cap bytes). Returns 0, a negative errno when the file
 * cannot be read, or -ENAMETOOLONG when the token does not fit. */
int ccr_token_load(const char *path, char *buf, size_t cap);

#endif
