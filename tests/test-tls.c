/* test-tls.c -- end to end: TLS on the listener (engine/tls.h, conn.c),
 * mutual TLS and client certificates as principals (auth.c), and the
 * `listen.tls` configuration, against the real daemon over real sockets.
 *
 * Certificates are made at test time with the `openssl` command line in a
 * temporary directory: a CA, a server certificate, two client
 * certificates signed by the CA (one mapped to a principal, one not), and
 * a rogue CA with a client certificate of its own. The client is a real
 * TLS client: OpenSSL in this process over a blocking socket with a
 * receive timeout (struct tc), speaking the protocol's framing. Every wait
 * is bounded; nothing asserts how long anything took.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "auth.h"
#include "client.h"
#include "config.h"
#include "e2e-util.h"
#include "frame.h"
#include "harness.h"

#define T_MS E2E_T_MS
#define BODY(x) E2E_BODY(x)
#define EC(x) E2E_EC(x)
#define ROLE(x) E2E_ROLE(x)

#define MONITOR_TOKEN "monitor-token-0123456789abcdef"

static char dir[256];               /* the certificates */
static char path_buf[32][320];
static unsigned npaths;

/* dir/name (kept for the whole run). */
static const char *P(const char *name)
{
    for (unsigned i = 0; i < npaths; i++) {
        const char *slash = strrchr(path_buf[i], '/');
        if (slash && !strcmp(slash + 1, name))
            return path_buf[i];
    }
    assert_true(npaths < 32);
    snprintf(path_buf[npaths], sizeof(path_buf[0]), "%s/%s", dir, name);
    return path_buf[npaths++];
}

/* ---- certificates (openssl command line) ---- */

static void run(const char *const *argv)
{
    char log[320];
    snprintf(log, sizeof(log), "%s/openssl.log", dir);
    if (harness_run(argv, log, 30000) != 0) {
        harness_log_dump(log);
        fail_msg("%s %s failed", argv[0], argv[1]);
    }
}

/* A key (EC P-256, mode 0600) and a certificate for `cn`, signed by
 * ca (NULL: self-signed, a CA). */
static void make_cert(const char *name, const char *cn, const char *ca)
{
    char key[64], crt[64], csr[64], subj[96], cakey[64];
    snprintf(key, sizeof(key), "%s.key", name);
    snprintf(crt, sizeof(crt), "%s.pem", name);
    snprintf(csr, sizeof(csr), "%s.csr", name);
    snprintf(subj, sizeof(subj), "/CN=%s", cn);
    if (!ca) {
        const char *argv[] = { "openssl", "req", "-x509", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", P(key), "-out", P(crt), "-days", "2", "-subj", subj,
            NULL };
        run(argv);
    } else {
        snprintf(cakey, sizeof(cakey), "%s.key", ca);
        snprintf(csr, sizeof(csr), "%s.csr", name);
        const char *req[] = { "openssl", "req", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", P(key), "-out", P(csr), "-subj", subj, NULL };
        char caname[64];
        snprintf(caname, sizeof(caname), "%s.pem", ca);
        const char *sign[] = { "openssl", "x509", "-req", "-in", P(csr),
            "-CA", P(caname), "-CAkey", P(cakey), "-set_serial",
            name[0] == 's' ? "2" : name[0] == 'c' ? "3" : "4",
            "-out", P(crt), "-days", "2", NULL };
        run(req);
        run(sign);
    }
    assert_int_equal(chmod(P(key), 0600), 0);
}

/* SHA-256 of a PEM certificate, as `openssl x509 -fingerprint -sha256`
 * prints it ("AB:CD:..."). */
static void fingerprint(const char *pem, char out[96])
{
    FILE *f = fopen(pem, "r");
    X509 *x;
    unsigned char md[32];
    unsigned n = 0;
    assert_non_null(f);
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(x);
    assert_int_equal(X509_digest(x, EVP_sha256(), md, &n), 1);
    X509_free(x);
    for (unsigned i = 0; i < n; i++)
        sprintf(out + 3 * i, "%02X%s", md[i], i + 1 < n ? ":" : "");
}

static int group_setup(void **state)
{
    if (harness_tmpdir(dir, sizeof(dir), "ccroute-tls") < 0)
        return -1;
    make_cert("ca", "test-ca", NULL);
    make_cert("server", "localhost", "ca");
    make_cert("client", "pbx-east-1", "ca");        /* mapped */
    make_cert("other", "desk-site-9", "ca");        /* signed, not mapped */
    make_cert("rogue-ca", "rogue-ca", NULL);
    make_cert("rogue", "pbx-east-1", "rogue-ca");   /* same CN, wrong CA */
    return 0;
}

static int group_teardown(void **state)
{
    harness_rm_rf(dir);
    return 0;
}

/* ---- the daemon ---- */

static const char routing[] =
    "routing: {max_agents: 4000, max_contacts: 1000}\n"
    "skills: [sales]\n"
    "queues:\n"
    "  - name: sales\n"
    "    skills: {sales: 1}\n"
    "    channels: [voice, chat]\n";

/* TLS, no client certificates, open (loopback). */
static void start_tls(struct harness_daemon *d)
{
    char cfg[2048];
    snprintf(cfg, sizeof(cfg),
             "log_level: debug\n"
             "max_frame: 64KiB\n"
             "listen:\n"
             "  address: 127.0.0.1\n"
             "  port: 0\n"
             "  tls: {cert: %s, key: %s}\n%s",
             P("server.pem"), P("server.key"), routing);
    if (harness_daemon_start(d, cfg, NULL) < 0)
        fail_msg("ccrouted did not start");
}

/* Mutual TLS; principal "pbx" by client certificate, "wallboard" by
 * token. */
static void start_mtls(struct harness_daemon *d)
{
    char cfg[4096], fp[96], hex[65];
    uint8_t h[AUTH_HASH_LEN];
    fingerprint(P("client.pem"), fp);
    assert_int_equal(auth_hash(MONITOR_TOKEN, strlen(MONITOR_TOKEN), h), 0);
    auth_hex_format(h, hex);
    snprintf(cfg, sizeof(cfg),
             "log_level: debug\n"
             "auth: {failure_delay: 0s}\n"
             "listen:\n"
             "  address: 127.0.0.1\n"
             "  port: 0\n"
             "  tls:\n"
             "    cert: %s\n"
             "    key: %s\n"
             "    ca: %s\n"
             "    min_version: \"1.2\"\n"
             "principals:\n"
             "  - name: pbx\n"
             "    roles: [switch]\n"
             "    clients: [\"pbx-*\"]\n"
             "    cert_fingerprints: [\"%s\"]\n"
             "  - name: wallboard\n"
             "    roles: [monitor]\n"
             "    clients: [wallboard]\n"
             "    token_sha256: %s\n%s",
             P("server.pem"), P("server.key"), P("ca.pem"), fp, hex, routing);
    if (harness_daemon_start(d, cfg, NULL) < 0)
        fail_msg("ccrouted did not start");
}

static void stop(struct harness_daemon *d)
{
    assert_int_equal(harness_daemon_stop(d, HARNESS_STOP_TIMEOUT_MS), 0);
}

static void expect_log(struct harness_daemon *d, const char *needle)
{
    e2e_expect_log(d, needle, T_MS);
}

/* ---- a TLS client (blocking, receive timeout) ---- */

struct tc {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    uint64_t next_id;
    uint8_t *buf;
    size_t len, cap;
};

/* Connects and runs the handshake. cert/key NULL: no client certificate;
 * tls12: at most TLS 1.2. Returns 0, or -EPROTO when the handshake failed
 * (tc is then closed). */
static int tc_open(struct tc *t, int port, const char *cert, const char *key,
                   bool tls12)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    struct timeval tv = { .tv_sec = T_MS / 1000 };
    int one = 1;

    memset(t, 0, sizeof(*t));
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    t->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(t->fd >= 0);
    assert_int_equal(connect(t->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(t->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    t->ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(t->ctx);
    assert_int_equal(SSL_CTX_load_verify_locations(t->ctx, P("ca.pem"),
                                                   NULL), 1);
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    if (tls12)
        SSL_CTX_set_max_proto_version(t->ctx, TLS1_2_VERSION);
    if (cert) {
        assert_int_equal(SSL_CTX_use_certificate_file(t->ctx, cert,
                                                      SSL_FILETYPE_PEM), 1);
        assert_int_equal(SSL_CTX_use_PrivateKey_file(t->ctx, key,
                                                     SSL_FILETYPE_PEM), 1);
    }
    t->ssl = SSL_new(t->ctx);
    SSL_set_fd(t->ssl, t->fd);
    t->cap = 1 << 16;
    t->buf = malloc(t->cap);
    assert_non_null(t->buf);
    if (SSL_connect(t->ssl) != 1) {
        ERR_clear_error();
        return -EPROTO;
    }
    return 0;
}

static void tc_close(struct tc *t)
{
    if (t->ssl)
        SSL_free(t->ssl);
    if (t->ctx)
        SSL_CTX_free(t->ctx);
    if (t->fd >= 0)
        close(t->fd);
    free(t->buf);
    memset(t, 0, sizeof(*t));
    t->fd = -1;
}

static int tc_send_raw(struct tc *t, const void *p, size_t n)
{
    int r = SSL_write(t->ssl, p, (int)n);
    ERR_clear_error();
    return r == (int)n ? 0 : -EPIPE;
}

/* Sends env (a fresh request id); returns the id, 0 on failure. */
static uint64_t tc_send(struct tc *t, ccr_envelope *env)
{
    size_t plen = ccroute__v1__envelope__get_packed_size(env);
    uint8_t *b;
    size_t n;
    int rc;
    env->request_id = ++t->next_id;
    plen = ccroute__v1__envelope__get_packed_size(env);
    b = malloc(frame_size(plen));
    assert_non_null(b);
    n = frame_varint_put(plen, b);
    n += ccroute__v1__envelope__pack(env, b + n);
    rc = tc_send_raw(t, b, n);
    free(b);
    return rc == 0 ? env->request_id : 0;
}

/* The next envelope (caller frees with ccr_free), or NULL at EOF, on a
 * TLS failure or after the receive timeout. */
static ccr_envelope *tc_recv(struct tc *t)
{
    for (;;) {
        const uint8_t *payload;
        size_t plen, used;
        int st = frame_next(t->buf, t->len, 1u << 30, &payload, &plen, &used);
        if (st == FRAME_OK) {
            ccr_envelope *env = ccroute__v1__envelope__unpack(NULL, plen,
                                                              payload);
            assert_non_null(env);
            memmove(t->buf, t->buf + used, t->len - used);
            t->len -= used;
            return env;
        }
        assert_int_equal(st, FRAME_NEED_MORE);
        if (t->len == t->cap) {
            t->cap *= 2;
            t->buf = realloc(t->buf, t->cap);
            assert_non_null(t->buf);
        }
        int r = SSL_read(t->ssl, t->buf + t->len, (int)(t->cap - t->len));
        if (r <= 0) {
            ERR_clear_error();
            return NULL;
        }
        t->len += (size_t)r;
    }
}

/* Waits for the Ack or Error of request `id` (other envelopes dropped):
 * 0 on Ack, the ErrorCode on Error, -EPIPE at EOF or timeout. */
static int tc_reply(struct tc *t, uint64_t id)
{
    ccr_envelope *env;
    while ((env = tc_recv(t))) {
        int rc = -1;
        if (env->request_id == id && env->body_case == BODY(ACK))
            rc = 0;
        else if (env->request_id == id && env->body_case == BODY(ERROR))
            rc = (int)env->error->code;
        ccr_free(env);
        if (rc >= 0)
            return rc;
    }
    return -EPIPE;
}

static int tc_hello(struct tc *t, const char *name, Ccroute__V1__Role role,
                    const char *credential)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Hello h = CCROUTE__V1__HELLO__INIT;
    h.protocol_version = CCROUTE__V1__PROTOCOL_VERSION__PROTOCOL_VERSION_1;
    h.client_name = (char *)name;
    h.role = role;
    h.credential = (char *)(credential ? credential : "");
    env.body_case = BODY(HELLO);
    env.hello = &h;
    uint64_t id = tc_send(t, &env);
    return id ? tc_reply(t, id) : -EPIPE;
}

static uint64_t tc_send_contact(struct tc *t, const char *id)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactArrived m = CCROUTE__V1__CONTACT_ARRIVED__INIT;
    m.contact_id = (char *)id;
    m.queue = "sales";
    m.channel = E2E_VOICE;
    env.body_case = BODY(CONTACT_ARRIVED);
    env.contact_arrived = &m;
    return tc_send(t, &env);
}

static int tc_contact(struct tc *t, const char *id)
{
    uint64_t rid = tc_send_contact(t, id);
    return rid ? tc_reply(t, rid) : -EPIPE;
}

/* ---- tests ---- */

/* Hello and a ContactArrived round trip over TLS. */
static void test_tls_round_trip(void **state)
{
    struct harness_daemon d;
    struct tc t;
    start_tls(&d);
    expect_log(&d, "(TLS;");
    assert_int_equal(tc_open(&t, d.port, NULL, NULL, false), 0);
    assert_int_equal(tc_hello(&t, "pbx-1", ROLE(SWITCH), NULL), 0);
    assert_int_equal(tc_contact(&t, "c-tls-1"), 0);
    assert_int_equal(tc_contact(&t, "c-tls-2"), 0);
    expect_log(&d, "TLS established: TLSv1.3");
    tc_close(&t);
    stop(&d);
}

/* A plaintext client on the TLS port is closed with a log line; a TLS
 * client connected before and after is served as if nothing happened. */
static void test_plaintext_client_refused(void **state)
{
    struct harness_daemon d;
    struct tc t, t2;
    struct ccr_client *pc;
    ccr_envelope *env = NULL;
    int rc;

    start_tls(&d);
    assert_int_equal(tc_open(&t, d.port, NULL, NULL, false), 0);
    assert_int_equal(tc_hello(&t, "pbx-1", ROLE(SWITCH), NULL), 0);

    assert_int_equal(ccr_client_connect("127.0.0.1", d.port, &pc), 0);
    rc = ccr_client_hello(pc, "plain-1", ROLE(SWITCH), 0, T_MS);
    assert_true(rc < 0);            /* no Ack: a transport failure */
    /* and the engine closed it: nothing more than EOF comes */
    while ((rc = ccr_client_recv(pc, T_MS, &env)) == 0 ||
           rc == -EPROTO) {
        if (rc == 0)
            ccr_free(env);
        env = NULL;
    }
    assert_int_equal(rc, -EPIPE);
    ccr_client_close(pc);
    expect_log(&d, "TLS handshake failed");

    assert_int_equal(tc_contact(&t, "c-after-plain"), 0);
    assert_int_equal(tc_open(&t2, d.port, NULL, NULL, false), 0);
    assert_int_equal(tc_hello(&t2, "pbx-2", ROLE(SWITCH), NULL), 0);
    tc_close(&t2);
    tc_close(&t);
    stop(&d);
}

/* The FRAME_TOO_LARGE Error arrives over TLS before the close (sealed,
 * then close_notify, then FIN). */
static void test_frame_too_large_over_tls(void **state)
{
    struct harness_daemon d;
    struct tc t;
    uint8_t big[4096];
    size_t n;
    ccr_envelope *env;

    start_tls(&d);
    assert_int_equal(tc_open(&t, d.port, NULL, NULL, false), 0);
    assert_int_equal(tc_hello(&t, "pbx-1", ROLE(SWITCH), NULL), 0);
    memset(big, 'x', sizeof(big));
    n = frame_varint_put(10u * 1024 * 1024, big);
    assert_int_equal(tc_send_raw(&t, big, sizeof(big)), 0);
    (void)n;
    env = tc_recv(&t);
    assert_non_null(env);
    assert_int_equal(env->body_case, BODY(ERROR));
    assert_int_equal(env->error->code, EC(FRAME_TOO_LARGE));
    ccr_free(env);
    /* then the end of the session: close_notify (SSL_read returns 0) */
    assert_null(tc_recv(&t));
    assert_int_equal(SSL_get_error(t.ssl, 0), SSL_ERROR_ZERO_RETURN);
    expect_log(&d, "frame too large");
    tc_close(&t);
    stop(&d);
}

/* A Stats reply of many agents (well over one 16 KiB output chunk and one
 * TLS record) arrives whole over TLS. */
static void test_large_stats_over_tls(void **state)
{
    enum { NAGENTS = 1500 };
    struct harness_daemon d;
    struct tc t;
    uint64_t last = 0;
    char id[48];
    ccr_envelope *env;
    size_t acks = 0;

    start_tls(&d);
    assert_int_equal(tc_open(&t, d.port, NULL, NULL, false), 0);
    assert_int_equal(tc_hello(&t, "pbx-1", ROLE(SWITCH), NULL), 0);
    /* pipelined: every login first, then the answers */
    for (int i = 0; i < NAGENTS; i++) {
        ccr_envelope e = CCROUTE__V1__ENVELOPE__INIT;
        Ccroute__V1__AgentLogin m = CCROUTE__V1__AGENT_LOGIN__INIT;
        Ccroute__V1__AgentSkill sk = CCROUTE__V1__AGENT_SKILL__INIT;
        Ccroute__V1__AgentSkill *skp = &sk;
        Ccroute__V1__ChannelCapacity v = CCROUTE__V1__CHANNEL_CAPACITY__INIT;
        Ccroute__V1__ChannelCapacity *caps[1] = { &v };
        v.channel = E2E_VOICE;
        v.capacity = 1;
        snprintf(id, sizeof(id), "agent-with-a-long-id-%05d", i);
        m.agent_id = id;
        m.capacity = caps;
        m.n_capacity = 1;
        sk.skill = "sales";
        sk.level = 1;
        m.skills = &skp;
        m.n_skills = 1;
        e.body_case = BODY(AGENT_LOGIN);
        e.agent_login = &m;
        last = tc_send(&t, &e);
        assert_true(last != 0);
    }
    while (acks < NAGENTS && (env = tc_recv(&t))) {
        if (env->body_case == BODY(ACK))
            acks++;
        else if (env->body_case == BODY(ERROR))
            fail_msg("AgentLogin refused: %s", env->error->message);
        ccr_free(env);
    }
    assert_int_equal(acks, NAGENTS);

    ccr_envelope e = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__StatsRequest sr = CCROUTE__V1__STATS_REQUEST__INIT;
    sr.all_agents = true;
    e.body_case = BODY(STATS_REQUEST);
    e.stats_request = &sr;
    uint64_t rid = tc_send(&t, &e);
    assert_true(rid != 0);
    while ((env = tc_recv(&t)) && env->body_case != BODY(STATS))
        ccr_free(env);
    assert_non_null(env);
    assert_int_equal(env->request_id, rid);
    assert_int_equal(env->stats->n_agents, NAGENTS);
    size_t sz = ccroute__v1__envelope__get_packed_size(env);
    if (sz <= 2 * 16384)
        fail_msg("Stats of %zu bytes: not above two output chunks", sz);
    bool seen[NAGENTS] = { false };
    for (size_t i = 0; i < env->stats->n_agents; i++) {
        int k = -1;
        assert_int_equal(sscanf(env->stats->agents[i]->agent_id,
                                "agent-with-a-long-id-%d", &k), 1);
        assert_true(k >= 0 && k < NAGENTS && !seen[k]);
        seen[k] = true;
    }
    ccr_free(env);
    assert_int_equal(tc_reply(&t, rid), 0);
    tc_close(&t);
    stop(&d);
}

/* A TLS 1.2 client that tries to renegotiate is refused and closed, with
 * a log line; the engine goes on serving. */
static void test_renegotiation_refused(void **state)
{
    struct harness_daemon d;
    struct tc t, t2;
    start_tls(&d);
    assert_int_equal(tc_open(&t, d.port, NULL, NULL, true), 0);
    assert_string_equal(SSL_get_version(t.ssl), "TLSv1.2");
    assert_int_equal(tc_hello(&t, "pbx-1", ROLE(SWITCH), NULL), 0);
    assert_int_equal(SSL_renegotiate(t.ssl), 1);
    assert_true(SSL_do_handshake(t.ssl) != 1);
    ERR_clear_error();
    assert_null(tc_recv(&t));
    expect_log(&d, "renegotiate");
    tc_close(&t);
    assert_int_equal(tc_open(&t2, d.port, NULL, NULL, true), 0);
    assert_int_equal(tc_hello(&t2, "pbx-2", ROLE(SWITCH), NULL), 0);
    tc_close(&t2);
    stop(&d);
}

/* Mutual TLS: the client certificate mapped to principal "pbx" stands
 * for a token; its scope still applies. */
static void test_mtls_certificate_principal(void **state)
{
    struct harness_daemon d;
    struct tc t, t2;
    start_mtls(&d);
    expect_log(&d, "TLS, client certificates required");
    assert_int_equal(tc_open(&t, d.port, P("client.pem"), P("client.key"),
                             false), 0);
    assert_int_equal(tc_hello(&t, "pbx-east-1", ROLE(SWITCH), NULL), 0);
    assert_int_equal(tc_contact(&t, "c-mtls-1"), 0);
    expect_log(&d, "client certificate /CN=pbx-east-1");
    /* the certificate's principal, with its scope: not a monitor */
    assert_int_equal(tc_open(&t2, d.port, P("client.pem"), P("client.key"),
                             true), 0);
    assert_int_equal(tc_hello(&t2, "wallboard", ROLE(MONITOR), NULL),
                     EC(FORBIDDEN));
    /* a token of another principal on this certificate: refused */
    assert_int_equal(tc_hello(&t2, "wallboard", ROLE(MONITOR),
                              MONITOR_TOKEN), EC(FORBIDDEN));
    tc_close(&t2);
    tc_close(&t);
    stop(&d);
}

/* Mutual TLS: a certificate from another CA, or none, is refused at the
 * handshake with a log line; a certificate of the CA that maps to no
 * principal still needs a token. */
static void test_mtls_wrong_certificate(void **state)
{
    struct harness_daemon d;
    struct tc t;
    int rc;
    start_mtls(&d);

    /* TLS 1.3: the client may finish its side before the engine has
     * checked the certificate; the refusal then shows on the first
     * read. Either way no Hello is answered. */
    rc = tc_open(&t, d.port, P("rogue.pem"), P("rogue.key"), false);
    if (rc == 0)
        assert_true(tc_hello(&t, "pbx-east-1", ROLE(SWITCH), NULL) < 0);
    tc_close(&t);
    expect_log(&d, "TLS handshake failed");
    expect_log(&d, "certificate");

    rc = tc_open(&t, d.port, NULL, NULL, true);     /* TLS 1.2: no cert */
    assert_int_equal(rc, -EPROTO);
    tc_close(&t);

    assert_int_equal(tc_open(&t, d.port, P("other.pem"), P("other.key"),
                             false), 0);
    assert_int_equal(tc_hello(&t, "wallboard", ROLE(MONITOR), NULL),
                     EC(UNAUTHENTICATED));
    assert_int_equal(tc_hello(&t, "wallboard", ROLE(MONITOR), MONITOR_TOKEN),
                     0);
    tc_close(&t);
    stop(&d);
}

/* --check-config loads the certificate and key: a key that does not
 * match, or one that others can read, is refused with file and line. */
static void test_check_config(void **state)
{
    char cfgpath[320], out[320], cfg[1024], text[2048];
    const char *bin = getenv("CCROUTE_BUILD");
    char exe[320];
    FILE *f;
    size_t n;

    snprintf(exe, sizeof(exe), "%s/ccrouted", bin ? bin : "build");
    snprintf(cfgpath, sizeof(cfgpath), "%s/check.yaml", dir);
    snprintf(out, sizeof(out), "%s/check.out", dir);
    const char *argv[] = { exe, "--config", cfgpath, "--check-config",
                           "--listen", "127.0.0.1:0", NULL };
    struct { const char *key; int mode; const char *want; } cases[] = {
        { "server.key", 0600, NULL },
        { "client.key", 0600, ":5: listen.tls.key: " },
        { "server.key", 0640, ":5: listen.tls.key: " },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(cfg, sizeof(cfg),
                 "listen:\n"
                 "  address: 127.0.0.1\n"
                 "  tls:\n"
                 "    cert: server.pem\n"
                 "    key: %s\n", cases[i].key);
        f = fopen(cfgpath, "w");
        assert_non_null(f);
        fputs(cfg, f);
        fclose(f);
        assert_int_equal(chmod(P(cases[i].key), (mode_t)cases[i].mode), 0);
        unlink(out);
        int rc = harness_run(argv, out, 30000);
        chmod(P(cases[i].key), 0600);
        f = fopen(out, "r");
        n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
        if (f)
            fclose(f);
        text[n] = '\0';
        if (!cases[i].want) {
            assert_int_equal(rc, 0);
            continue;
        }
        assert_int_equal(rc, 1);
        if (!strstr(text, cases[i].want))
            fail_msg("case %zu: \"%s\" not in: %s", i, cases[i].want, text);
        if (cases[i].mode != 0600 && !strstr(text, "chmod 600"))
            fail_msg("case %zu: %s", i, text);
        if (cases[i].mode == 0600 && !strstr(text, "does not match"))
            fail_msg("case %zu: %s", i, text);
    }
}

/* The loader: the keys of listen.tls and cert_fingerprints, each refusal
 * with its line. */
static void expect_config(const char *text, const char *want)
{
    struct config c;
    char err[1024] = "";
    int rc;
    config_defaults(&c);
    rc = config_load_string(&c, P("t.yaml"), text, strlen(text), err,
                            sizeof(err));
    config_fini(&c);
    if (!want) {
        if (rc != 0)
            fail_msg("refused: %s", err);
        return;
    }
    assert_int_equal(rc, -1);
    if (!strstr(err, want))
        fail_msg("\"%s\" not in: %s", want, err);
}

static void test_config_keys(void **state)
{
    char fp[96], text[2048];
    fingerprint(P("client.pem"), fp);
    /* relative paths: against the configuration file's directory */
    snprintf(text, sizeof(text),
             "listen:\n"
             "  address: 127.0.0.1\n"
             "  tls: {cert: server.pem, key: server.key, ca: ca.pem, "
             "min_version: 1.3, ciphers: \"ECDHE+AESGCM\"}\n"
             "principals:\n"
             "  - name: pbx\n"
             "    roles: [switch]\n"
             "    clients: [\"pbx-*\"]\n"
             "    cert_fingerprints: [\"sha256 Fingerprint=%s\"]\n", fp);
    expect_config(text, NULL);
    expect_config("listen:\n"
                  "  tls: {cert: server.pem, key: server.key, "
                  "min_version: \"1.1\"}\n",
                  "t.yaml:2: listen.tls.min_version: \"1.1\" is not a TLS "
                  "version");
    expect_config("listen:\n"
                  "  tls: {cert: server.pem}\n",
                  "t.yaml:2: listen.tls: missing \"key\"");
    expect_config("listen:\n"
                  "  tls: {cert: server.pem, key: nowhere.key}\n",
                  "t.yaml:2: listen.tls.key: ");
    /* a fingerprint needs client certificates; a bad one; one twice */
    snprintf(text, sizeof(text),
             "principals:\n"
             "  - name: pbx\n"
             "    roles: [switch]\n"
             "    clients: [\"pbx-*\"]\n"
             "    cert_fingerprints: [\"%s\"]\n", fp);
    expect_config(text, "t.yaml:5: principals: a principal has "
                  "cert_fingerprints, but the listener does not ask for "
                  "client certificates (listen.tls.ca)");
    expect_config("principals:\n"
                  "  - name: pbx\n"
                  "    roles: [switch]\n"
                  "    clients: [\"pbx-*\"]\n"
                  "    cert_fingerprints: [\"AB:CD\"]\n",
                  "t.yaml:5: principals[0].cert_fingerprints[0]: expected");
    snprintf(text, sizeof(text),
             "principals:\n"
             "  - {name: a, roles: [switch], clients: [a],"
             " cert_fingerprints: [\"%s\"]}\n"
             "  - {name: b, roles: [switch], clients: [b],"
             " cert_fingerprints: [\"%s\"]}\n", fp, fp);
    expect_config(text, "is already given to principal \"a\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_keys),
        cmocka_unit_test(test_check_config),
        cmocka_unit_test(test_tls_round_trip),
        cmocka_unit_test(test_plaintext_client_refused),
        cmocka_unit_test(test_frame_too_large_over_tls),
        cmocka_unit_test(test_large_stats_over_tls),
        cmocka_unit_test(test_renegotiation_refused),
        cmocka_unit_test(test_mtls_certificate_principal),
        cmocka_unit_test(test_mtls_wrong_certificate),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
