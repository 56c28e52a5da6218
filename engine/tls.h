/* tls.h -- TLS for client connections, through memory BIOs (OpenSSL).
 *
 * OpenSSL never touches a socket here. Each session (struct tls_sess) has
 * two memory BIOs: conn.c writes the ciphertext it read from the socket
 * into the read BIO (tls_sess_feed) and takes plaintext out with
 * tls_sess_read, which also drives the handshake; plaintext to send goes
 * in with tls_sess_write, and whatever OpenSSL produced -- handshake
 * messages, records, alerts, close_notify -- comes out of the write BIO
 * with tls_sess_out_take, in order, for conn.c's usual uv_write path. So
 * the loop, the deadlines and the output bound stay conn.c's, and TLS is
 * one branch on its read and write paths.
 *
 * Policy (the context): TLS 1.2 or 1.3 at least (min_version); no
 * renegotiation (SSL_OP_NO_RENEGOTIATION, and a TLS 1.2 client that
 * starts a new handshake anyway gets its session failed: tls_sess_read
 * returns -EPROTO); no session resumption (no cache, no tickets: the
 * clients hold long-lived connections); no compression. With a CA file,
 * a client certificate signed by it is required (mutual TLS) and its
 * SHA-256 fingerprint is what auth.c maps to a principal.
 *
 * Errors: functions return 0 (or a count) or a negative errno: -EPROTO
 * for a TLS failure, whose OpenSSL reason tls_sess_reason() names;
 * -EPIPE when the peer sent close_notify; -ENOMEM.
 */
#ifndef CCROUTE_TLS_H
#define CCROUTE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tls-t.h"

#define TLS_SHA256_LEN 32

/* ---- the context: one per listener ---- */

/* Builds the context of `cfg`: loads the certificate chain and the key and
 * checks that they match, loads the CA (mutual TLS), sets the minimum
 * version and the cipher list. Returns 0 with *out set (free it with
 * tls_ctx_free), or -1 with "file:line: listen.tls.key: PATH: reason" in
 * err. */
int tls_ctx_new(const struct tls_config *cfg, struct tls_ctx **out,
                char *err, size_t errlen);
void tls_ctx_free(struct tls_ctx *t);
/* Whether client certificates are required (a CA was configured). */
bool tls_ctx_mutual(const struct tls_ctx *t);

/* ---- a session: one per connection ---- */

/* A new server-side session of `t` (borrowed; it outlives the session),
 * or NULL when memory is short. Free it with tls_sess_free. */
struct tls_sess *tls_sess_new(struct tls_ctx *t);
void tls_sess_free(struct tls_sess *s);

/* Ciphertext read from the socket (n bytes, copied). 0 or -ENOMEM. */
int tls_sess_feed(struct tls_sess *s, const void *p, size_t n);
/* Advances the handshake, then decrypts into buf (cap bytes, caller's).
 * Returns the count of plaintext bytes (> 0), 0 when more ciphertext is
 * needed, -EPIPE at the peer's close_notify, -EPROTO on a failure (the
 * session is then dead; what it has to say, an alert, is in the write
 * BIO). */
int tls_sess_read(struct tls_sess *s, void *buf, size_t cap);
/* Whether the handshake is complete (application data may flow). */
bool tls_sess_ready(const struct tls_sess *s);
/* Encrypts n bytes of plaintext (borrowed) into the write BIO. Only once
 * ready. 0 or -EPROTO. */
int tls_sess_write(struct tls_sess *s, const void *p, size_t n);
/* Queues close_notify into the write BIO. 0 or -EPROTO. */
int tls_sess_close_notify(struct tls_sess *s);
/* Bytes waiting in the write BIO / ciphertext not yet decrypted in the
 * read BIO (a partial record). */
size_t tls_sess_out_pending(const struct tls_sess *s);
size_t tls_sess_in_pending(const struct tls_sess *s);
/* Moves up to cap bytes of the write BIO into buf. Returns the count. */
size_t tls_sess_out_take(struct tls_sess *s, void *buf, size_t cap);

/* The SHA-256 of the client certificate (DER), verified against the CA,
 * or NULL when there is none. Valid while the session lives. */
const uint8_t *tls_sess_peer_sha256(const struct tls_sess *s);
/* Why the last call failed (OpenSSL's reason, with the certificate
 * verification result when that is what failed); static until the next
 * call on this session. */
const char *tls_sess_reason(const struct tls_sess *s);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384, client CN=..." for the log. */
void tls_sess_describe(const struct tls_sess *s, char *buf, size_t len);

#endif
