/* auth.h -- credentials and principals: who a client is, and what its
 * principal's scope allows. See docs/security.md for the model.
 *
 * Tokens: the configuration holds SHA-256 hashes only. auth_lookup()
 * hashes the presented token and compares it with every configured hash
 * with CRYPTO_memcmp, never stopping early, so neither the comparison nor
 * the position of a match shows in the time taken. A token is never
 * logged or kept: it lives in the decoded request until the frame's arena
 * is reset.
 *
 * Refusals: a Hello whose credential is refused is answered late --
 * failure_delay_ms later, from a timer of the loop (the loop never
 * sleeps) -- by the gate (struct auth_gate), which also counts the
 * refusals and closes a connection after max_failures of them. A client
 * that guesses tokens gets a few guesses per connection and one every
 * delay; the engine keeps serving the others meanwhile.
 *
 * Open mode: with no principal configured the engine runs open -- every
 * client is AUTH_PRINCIPAL_OPEN with every right, as before credentials
 * existed -- but only on a loopback listener, unless the configuration
 * says `auth: {insecure_open: true}` (auth_check_listen()).
 */
#ifndef CCROUTE_AUTH_H
#define CCROUTE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "auth-t.h"
#include "conn-t.h"

/* ---- configuration ---- */

/* Defaults (no principals, delay, failure bound). */
void auth_config_defaults(struct auth_config *a);
/* Frees the principals and tokens; `a` is empty afterwards. */
void auth_config_fini(struct auth_config *a);
/* Whether the engine runs open (no principal configured). */
bool auth_is_open(const struct auth_config *a);

/* SHA-256 of `len` bytes of `token` into out. 0 or -ENOMEM/-EINVAL. */
int auth_hash(const void *token, size_t len, uint8_t out[AUTH_HASH_LEN]);
/* 64 hex digits (either case) into out. 0 or -EINVAL. */
int auth_hex_parse(const char *hex, uint8_t out[AUTH_HASH_LEN]);
/* out: 64 lower-case hex digits and a NUL. */
void auth_hex_format(const uint8_t h[AUTH_HASH_LEN], char out[65]);

/* Parses a pattern ("pbx-1", "pbx-*", "*") into *p. 0, or -EINVAL for an
 * empty or too long one, or a '*' anywhere but at the end. */
int auth_pattern_parse(const char *text, struct auth_pattern *p);
/* Whether `s` matches one of the n patterns. */
bool auth_pattern_match(const struct auth_pattern *p, unsigned n,
                        const char *s);

/* The principal whose token is `token` (len bytes, borrowed), or -1.
 * Constant time in the token's position among the configured ones. */
int auth_lookup(const struct auth_config *a, const char *token, size_t len);

/* The principal index of `name` (a principal's configured name), or -1:
 * recovery maps the principal stored with a contact or agent back. */
int auth_principal_find(const struct auth_config *a, const char *name);

/* The principal whose `cert_fingerprints` hold `sha256` (a verified client
 * certificate's, conn_peer_cert_sha256()), or -1; -1 for NULL too. */
int auth_cert_principal(const struct auth_config *a, const uint8_t *sha256);

/* Decides a Hello's identity. In open mode: 0, *principal =
 * AUTH_PRINCIPAL_OPEN, whatever the credential. Else the principal is the
 * credential's when there is one, or else the client certificate's
 * (cert_sha256: NULL without one): -EACCES when neither names a principal
 * (to be answered late by the gate); -EPERM with the reason in *why
 * (static text) when a credential and a certificate name different
 * principals, or the principal may not take `role`, use client name
 * `name`, or serve the engine's `tenant`; 0 with *principal set otherwise.
 * The credential is borrowed and never copied. */
int auth_hello(const struct auth_config *a, const char *tenant,
               const char *credential, const uint8_t *cert_sha256,
               const char *name, int role, int *principal, const char **why);

/* Whether a connection of principal `pi` may act for agent `agent_id`:
 * always in open mode, else when the id matches the principal's agents
 * patterns. */
bool auth_agent_allowed(const struct auth_config *a, int pi,
                        const char *agent_id);

/* Refuses to run open on a listener that is not loopback: returns 0 when
 * principals are configured, the host is a loopback address (127.0.0.0/8,
 * ::1, localhost) or insecure_open is set; else -1 with a message in err
 * naming `source`. */
int auth_check_listen(const struct auth_config *a, const char *host,
                      const char *source, char *err, size_t errlen);

/* Whether `host` is a loopback address: 127.0.0.0/8, ::1, an IPv4-mapped
 * 127.x, or "localhost". */
bool auth_host_loopback(const char *host);

/* Whether a file of `mode` may hold token hashes: no permission for group
 * or others. */
bool auth_file_mode_ok(unsigned mode);

/* ---- refused Hellos: the delay gate ---- */

struct auth_pending;

struct auth_gate {
    /* public, read-only */
    uint64_t failures;              /* refused credentials, counted */
    /* private */
    uv_timer_t timer;
    bool open;
    struct conn_set *conns;         /* borrowed */
    uint32_t delay_ms, max_failures;
    struct auth_pending *head, *tail;
    unsigned npending;
};

/* Starts the gate on `loop` for the connections of `conns` (borrowed; both
 * outlive the gate). */
void auth_gate_init(struct auth_gate *g, uv_loop_t *loop,
                    struct conn_set *conns, const struct auth_config *a);
/* Drops what is pending and closes the timer handle (part of the
 * server's stop). */
void auth_gate_close(struct auth_gate *g);

/* c's Hello (request_id) was refused for its credential: counts it, and
 * answers UNAUTHENTICATED after the delay; the refusal that reaches
 * max_failures closes c after that answer. `failures` is c's own count,
 * kept by the caller in the connection's session. Never blocks; allocates
 * one small record (none when memory is short: then c is closed now). */
void auth_gate_refuse(struct auth_gate *g, struct conn *c,
                      uint64_t request_id, unsigned failures);

#endif
