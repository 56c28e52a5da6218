/* tls.c -- TLS sessions over memory BIOs; see tls.h.
 *
 * OpenSSL's error queue is per thread, not per session: every call that
 * may fail clears it first and copies the reason into the session before
 * returning, so that one connection's failure never shows up as
 * another's.
 *
 * Renegotiation: SSL_OP_NO_RENEGOTIATION makes OpenSSL refuse a TLS 1.2
 * renegotiation request (a no_renegotiation alert); the message callback
 * also notices a ClientHello on an established session and marks the
 * session, which tls_sess_read then fails: a client that tries it is
 * closed rather than kept in a state nobody tests. (TLS 1.3 has no
 * renegotiation; its post-handshake KeyUpdate is allowed.)
 */
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

struct tls_ctx {
    SSL_CTX *ctx;
    bool mutual;
};

struct tls_sess {
    SSL *ssl;                       /* owns both BIOs */
    BIO *rbio, *wbio;
    bool ready;                     /* handshake done */
    bool reneg;                     /* a TLS 1.2 renegotiation began */
    bool has_cert;
    uint8_t cert_sha256[TLS_SHA256_LEN];
    char reason[256];
};

/* The first error of OpenSSL's queue as text (empties the queue). */
static void tls_err_text(char *buf, size_t len, const char *fallback)
{
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (!e) {
        snprintf(buf, len, "%s", fallback);
        return;
    }
    ERR_error_string_n(e, buf, len);
}

int tls_ctx_new(const struct tls_config *cfg, struct tls_ctx **out,
                char *err, size_t errlen)
{
    struct tls_ctx *t = calloc(1, sizeof(*t));
    char why[256];
    const char *field = "listen.tls";
    const char *path = "";
    unsigned long line = cfg->line;

    ERR_clear_error();
    if (!t || !(t->ctx = SSL_CTX_new(TLS_server_method())))
        goto fail;
    if (!SSL_CTX_set_min_proto_version(t->ctx, cfg->min_version == 13
                                                   ? TLS1_3_VERSION
                                                   : TLS1_2_VERSION))
        goto fail;
    SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET |
                                SSL_OP_NO_COMPRESSION |
                                SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(t->ctx, 0);
    /* Idle connections keep no record buffers. */
    SSL_CTX_set_mode(t->ctx, SSL_MODE_RELEASE_BUFFERS);
    if (cfg->ciphers[0]) {
        field = "listen.tls.ciphers";
        line = cfg->ciphers_line;
        path = cfg->ciphers;
        if (!SSL_CTX_set_cipher_list(t->ctx, cfg->ciphers))
            goto fail;
    }
    field = "listen.tls.cert";
    line = cfg->cert_line;
    path = cfg->cert;
    if (SSL_CTX_use_certificate_chain_file(t->ctx, cfg->cert) != 1)
        goto fail;
    field = "listen.tls.key";
    line = cfg->key_line;
    path = cfg->key;
    if (SSL_CTX_use_PrivateKey_file(t->ctx, cfg->key, SSL_FILETYPE_PEM) != 1 &&
        ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH)
        goto fail;
    if (ERR_peek_last_error() || SSL_CTX_check_private_key(t->ctx) != 1) {
        ERR_clear_error();
        snprintf(err, errlen, "%s:%lu: %s: %s does not match the certificate "
                 "%s", cfg->file, line, field, cfg->key, cfg->cert);
        tls_ctx_free(t);
        return -1;
    }
    if (cfg->ca[0]) {
        STACK_OF(X509_NAME) *names;
        field = "listen.tls.ca";
        line = cfg->ca_line;
        path = cfg->ca;
        if (SSL_CTX_load_verify_locations(t->ctx, cfg->ca, NULL) != 1)
            goto fail;
        names = SSL_load_client_CA_file(cfg->ca);
        if (!names)
            goto fail;
        SSL_CTX_set_client_CA_list(t->ctx, names);     /* takes names */
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER |
                                   SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        t->mutual = true;
    }
    *out = t;
    return 0;
fail:
    tls_err_text(why, sizeof(why), "out of memory");
    snprintf(err, errlen, "%s:%lu: %s: %s%s%s", cfg->file, line, field, path,
             path[0] ? ": " : "", why);
    tls_ctx_free(t);
    return -1;
}

void tls_ctx_free(struct tls_ctx *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    free(t);
}

bool tls_ctx_mutual(const struct tls_ctx *t)
{
    return t->mutual;
}

/* A ClientHello on an established session is a renegotiation request
 * (see the top of the file). The message callback sees every handshake
 * message received, before OpenSSL acts on it. */
static void tls_msg_cb(int write_p, int version, int content_type,
                       const void *buf, size_t len, SSL *ssl, void *arg)
{
    struct tls_sess *s = arg;
    (void)version;
    (void)ssl;
    if (!write_p && s->ready && content_type == SSL3_RT_HANDSHAKE &&
        len > 0 && ((const uint8_t *)buf)[0] == SSL3_MT_CLIENT_HELLO)
        s->reneg = true;
}

struct tls_sess *tls_sess_new(struct tls_ctx *t)
{
    struct tls_sess *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->ssl = SSL_new(t->ctx);
    s->rbio = BIO_new(BIO_s_mem());
    s->wbio = BIO_new(BIO_s_mem());
    if (!s->ssl || !s->rbio || !s->wbio) {
        SSL_free(s->ssl);
        BIO_free(s->rbio);
        BIO_free(s->wbio);
        free(s);
        ERR_clear_error();
        return NULL;
    }
    /* An empty BIO means "more later", not end of file. */
    BIO_set_mem_eof_return(s->rbio, -1);
    BIO_set_mem_eof_return(s->wbio, -1);
    SSL_set_bio(s->ssl, s->rbio, s->wbio);      /* the SSL owns them */
    SSL_set_msg_callback(s->ssl, tls_msg_cb);
    SSL_set_msg_callback_arg(s->ssl, s);
    SSL_set_accept_state(s->ssl);
    return s;
}

void tls_sess_free(struct tls_sess *s)
{
    if (!s)
        return;
    SSL_free(s->ssl);
    free(s);
}

int tls_sess_feed(struct tls_sess *s, const void *p, size_t n)
{
    if (n > (size_t)0x7fffffff || BIO_write(s->rbio, p, (int)n) != (int)n) {
        ERR_clear_error();
        return -ENOMEM;
    }
    return 0;
}

/* The outcome of an SSL call that returned r <= 0. */
static int tls_sess_fail(struct tls_sess *s, int r)
{
    int e = SSL_get_error(s->ssl, r);
    long v;
    switch (e) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:  /* a memory BIO takes every write */
        ERR_clear_error();
        return 0;
    case SSL_ERROR_ZERO_RETURN:
        ERR_clear_error();
        snprintf(s->reason, sizeof(s->reason), "close_notify received");
        return -EPIPE;
    default:
        tls_err_text(s->reason, sizeof(s->reason), "protocol error");
        v = SSL_get_verify_result(s->ssl);
        if (v != X509_V_OK) {
            size_t l = strlen(s->reason);
            snprintf(s->reason + l, sizeof(s->reason) - l, " (client "
                     "certificate: %s)", X509_verify_cert_error_string(v));
        }
        return -EPROTO;
    }
}

/* The handshake just finished: keep the client certificate's
 * fingerprint (it was verified against the CA, when one is configured). */
static void tls_sess_established(struct tls_sess *s)
{
    X509 *x = SSL_get0_peer_certificate(s->ssl);
    unsigned int n = 0;
    s->ready = true;
    if (x && SSL_get_verify_result(s->ssl) == X509_V_OK &&
        X509_digest(x, EVP_sha256(), s->cert_sha256, &n) == 1 &&
        n == TLS_SHA256_LEN)
        s->has_cert = true;
    ERR_clear_error();
}

int tls_sess_read(struct tls_sess *s, void *buf, size_t cap)
{
    int r;
    ERR_clear_error();
    if (!s->ready) {
        r = SSL_do_handshake(s->ssl);
        if (r != 1)
            return tls_sess_fail(s, r);
        tls_sess_established(s);
    }
    if (cap > (size_t)0x7fffffff)
        cap = 0x7fffffff;
    r = SSL_read(s->ssl, buf, (int)cap);
    if (s->reneg) {
        snprintf(s->reason, sizeof(s->reason), "the client tried to "
                 "renegotiate (refused)");
        return -EPROTO;
    }
    if (r > 0)
        return r;
    return tls_sess_fail(s, r);
}

bool tls_sess_ready(const struct tls_sess *s)
{
    return s->ready;
}

int tls_sess_write(struct tls_sess *s, const void *p, size_t n)
{
    size_t done = 0;
    ERR_clear_error();
    while (done < n) {
        size_t part = n - done > 0x40000000 ? 0x40000000 : n - done;
        int r = SSL_write(s->ssl, (const uint8_t *)p + done, (int)part);
        if (r <= 0) {
            tls_sess_fail(s, r);
            return -EPROTO;
        }
        done += (size_t)r;
    }
    return 0;
}

int tls_sess_close_notify(struct tls_sess *s)
{
    int r;
    ERR_clear_error();
    r = SSL_shutdown(s->ssl);
    if (r < 0) {
        tls_sess_fail(s, r);
        return -EPROTO;
    }
    return 0;
}

size_t tls_sess_out_pending(const struct tls_sess *s)
{
    return BIO_ctrl_pending(s->wbio);
}

size_t tls_sess_in_pending(const struct tls_sess *s)
{
    return BIO_ctrl_pending(s->rbio);
}

size_t tls_sess_out_take(struct tls_sess *s, void *buf, size_t cap)
{
    int r;
    if (cap > (size_t)0x7fffffff)
        cap = 0x7fffffff;
    r = BIO_read(s->wbio, buf, (int)cap);
    return r > 0 ? (size_t)r : 0;
}

const uint8_t *tls_sess_peer_sha256(const struct tls_sess *s)
{
    return s->has_cert ? s->cert_sha256 : NULL;
}

const char *tls_sess_reason(const struct tls_sess *s)
{
    return s->reason[0] ? s->reason : "unknown";
}

void tls_sess_describe(const struct tls_sess *s, char *buf, size_t len)
{
    X509 *x = SSL_get0_peer_certificate(s->ssl);
    char subj[256] = "";
    if (x)
        X509_NAME_oneline(X509_get_subject_name(x), subj, sizeof(subj));
    snprintf(buf, len, "%s %s%s%s", SSL_get_version(s->ssl),
             SSL_get_cipher_name(s->ssl), x ? ", client certificate " : "",
             subj);
}
