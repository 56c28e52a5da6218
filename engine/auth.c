/* auth.c -- credentials and principals; see auth.h.
 *
 * Lookup: every configured hash is compared, with CRYPTO_memcmp, whatever
 * matched before, and the match is selected without a branch on the
 * comparison, so the time of a lookup depends on the number of configured
 * tokens only. The token itself is hashed once (SHA-256, OpenSSL's EVP);
 * equal-length hashes also hide the token's length from the comparison.
 *
 * The gate: refused Hellos wait in a FIFO list (every entry has the same
 * delay, so the list is in deadline order) and one timer of the loop,
 * armed for the head, answers them. The list is bounded: past
 * AUTH_PENDING_MAX entries a refused connection is closed at once, without
 * an answer, so a flood of bad Hellos cannot grow memory.
 */
#include "auth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "clock.h"
#include "conn.h"
#include "log.h"

#define AUTH_PENDING_MAX 4096u

struct auth_pending {
    struct auth_pending *next;
    uint32_t conn_id;           /* an id: the connection may go meanwhile */
    uint64_t request_id;
    uint64_t due;               /* monotonic us */
    bool close;                 /* the last refusal allowed: close after */
};

void auth_config_defaults(struct auth_config *a)
{
    memset(a, 0, sizeof(*a));
    a->failure_delay_ms = AUTH_DEFAULT_FAILURE_DELAY_MS;
    a->max_failures = AUTH_DEFAULT_MAX_FAILURES;
}

void auth_config_fini(struct auth_config *a)
{
    for (unsigned i = 0; i < a->nprincipals; i++) {
        free(a->principals[i].clients);
        free(a->principals[i].agents);
    }
    free(a->principals);
    if (a->tokens)
        OPENSSL_cleanse(a->tokens, a->ntokens * sizeof(*a->tokens));
    free(a->tokens);
    free(a->certs);
    a->principals = NULL;
    a->tokens = NULL;
    a->certs = NULL;
    a->nprincipals = a->ntokens = a->ncerts = 0;
}

bool auth_is_open(const struct auth_config *a)
{
    return a->nprincipals == 0;
}

int auth_hash(const void *token, size_t len, uint8_t out[AUTH_HASH_LEN])
{
    unsigned int n = 0;
    if (!EVP_Digest(token, len, out, &n, EVP_sha256(), NULL))
        return -ENOMEM;
    return n == AUTH_HASH_LEN ? 0 : -EINVAL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int auth_hex_parse(const char *hex, uint8_t out[AUTH_HASH_LEN])
{
    if (strlen(hex) != 2 * AUTH_HASH_LEN)
        return -EINVAL;
    for (int i = 0; i < AUTH_HASH_LEN; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -EINVAL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

void auth_hex_format(const uint8_t h[AUTH_HASH_LEN], char out[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < AUTH_HASH_LEN; i++) {
        out[2 * i] = digits[h[i] >> 4];
        out[2 * i + 1] = digits[h[i] & 15];
    }
    out[2 * AUTH_HASH_LEN] = '\0';
}

int auth_pattern_parse(const char *text, struct auth_pattern *p)
{
    size_t n = strlen(text);
    const char *star = strchr(text, '*');
    if (n == 0 || n >= sizeof(p->text))
        return -EINVAL;
    if (star && star != text + n - 1)
        return -EINVAL;
    p->prefix = star != NULL;
    if (p->prefix)
        n--;
    memcpy(p->text, text, n);
    p->text[n] = '\0';
    return 0;
}

bool auth_pattern_match(const struct auth_pattern *p, unsigned n,
                        const char *s)
{
    for (unsigned i = 0; i < n; i++) {
        if (p[i].prefix ? !strncmp(s, p[i].text, strlen(p[i].text))
                        : !strcmp(s, p[i].text))
            return true;
    }
    return false;
}

int auth_lookup(const struct auth_config *a, const char *token, size_t len)
{
    uint8_t h[AUTH_HASH_LEN];
    int found = -1;

    if (!token || len == 0 || len > AUTH_TOKEN_MAX ||
        auth_hash(token, len, h) < 0)
        return -1;
    for (unsigned i = 0; i < a->ntokens; i++) {
        /* all-ones when equal, zero otherwise: no branch on the match */
        unsigned eq = (unsigned)(CRYPTO_memcmp(h, a->tokens[i].hash,
                                               AUTH_HASH_LEN) == 0);
        unsigned mask = 0u - eq;
        found = (int)(((unsigned)a->tokens[i].principal & mask) |
                      ((unsigned)found & ~mask));
    }
    OPENSSL_cleanse(h, sizeof(h));
    return found;
}

/* A fingerprint is not a secret (the certificate is sent in clear in TLS
 * 1.2): a plain comparison will do. */
int auth_principal_find(const struct auth_config *a, const char *name)
{
    for (unsigned i = 0; name && i < a->nprincipals; i++)
        if (strcmp(a->principals[i].name, name) == 0)
            return (int)i;
    return -1;
}

int auth_cert_principal(const struct auth_config *a, const uint8_t *sha256)
{
    if (!sha256)
        return -1;
    for (unsigned i = 0; i < a->ncerts; i++)
        if (!memcmp(a->certs[i].sha256, sha256, AUTH_HASH_LEN))
            return a->certs[i].principal;
    return -1;
}

int auth_hello(const struct auth_config *a, const char *tenant,
               const char *credential, const uint8_t *cert_sha256,
               const char *name, int role, int *principal, const char **why)
{
    const struct auth_principal *pr;
    int pi, cpi;

    *principal = AUTH_PRINCIPAL_OPEN;
    if (auth_is_open(a))
        return 0;
    cpi = auth_cert_principal(a, cert_sha256);
    if (credential && *credential) {
        pi = auth_lookup(a, credential, strlen(credential));
        if (pi < 0)
            return -EACCES;
        if (cpi >= 0 && cpi != pi) {
            *why = "the credential and the client certificate name "
                   "different principals";
            return -EPERM;
        }
    } else {
        pi = cpi;       /* a certificate stands for the token */
    }
    if (pi < 0)
        return -EACCES;
    pr = &a->principals[pi];
    if (!(pr->roles & AUTH_ROLE_BIT(role))) {
        *why = "this role is not among the principal's roles";
        return -EPERM;
    }
    if (!auth_pattern_match(pr->clients, pr->nclients, name)) {
        *why = "this client name is outside the principal's scope";
        return -EPERM;
    }
    if (tenant && pr->tenant[0] && strcmp(pr->tenant, tenant)) {
        *why = "the principal belongs to another tenant";
        return -EPERM;
    }
    *principal = pi;
    return 0;
}

bool auth_agent_allowed(const struct auth_config *a, int pi,
                        const char *agent_id)
{
    if (auth_is_open(a))
        return true;
    if (pi < 0 || (unsigned)pi >= a->nprincipals)
        return false;
    return auth_pattern_match(a->principals[pi].agents,
                              a->principals[pi].nagents, agent_id);
}

static bool host_is_loopback(const char *host)
{
    struct in_addr v4;
    struct in6_addr v6;
    if (!strcmp(host, "localhost"))
        return true;
    if (inet_pton(AF_INET, host, &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &v6) == 1) {
        if (IN6_IS_ADDR_LOOPBACK(&v6))
            return true;
        return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
    }
    return false;
}

bool auth_host_loopback(const char *host)
{
    return host_is_loopback(host);
}

int auth_check_listen(const struct auth_config *a, const char *host,
                      const char *source, char *err, size_t errlen)
{
    if (!auth_is_open(a) || a->insecure_open || host_is_loopback(host))
        return 0;
    snprintf(err, errlen, "%s: listen: %s is not a loopback address and no "
             "principals are configured: every client would have every "
             "right. Configure principals (docs/security.md), listen on "
             "127.0.0.1, or set `auth: {insecure_open: true}`", source, host);
    return -1;
}

bool auth_file_mode_ok(unsigned mode)
{
    return (mode & 077) == 0;
}

/* ---- the gate ---- */

static void gate_timer_cb(uv_timer_t *t)
{
    struct auth_gate *g = t->data;
    uint64_t now = clock_mono_us();

    while (g->head && g->head->due <= now) {
        struct auth_pending *p = g->head;
        struct conn *c;
        g->head = p->next;
        if (!g->head)
            g->tail = NULL;
        g->npending--;
        c = conn_lookup(g->conns, p->conn_id);
        if (c) {
            conn_send_error(c, p->request_id,
                            CCROUTE__V1__ERROR_CODE__ERROR_CODE_UNAUTHENTICATED,
                            "credential refused");
            if (p->close)
                conn_close_after_flush(c, "too many refused credentials");
        }
        free(p);
    }
    if (g->head)
        uv_timer_start(&g->timer, gate_timer_cb,
                       (g->head->due - now + 999) / 1000, 0);
}

void auth_gate_init(struct auth_gate *g, uv_loop_t *loop,
                    struct conn_set *conns, const struct auth_config *a)
{
    memset(g, 0, sizeof(*g));
    g->conns = conns;
    g->delay_ms = a->failure_delay_ms;
    g->max_failures = a->max_failures ? a->max_failures : 1;
    uv_timer_init(loop, &g->timer);
    g->timer.data = g;
    g->open = true;
}

void auth_gate_close(struct auth_gate *g)
{
    while (g->head) {
        struct auth_pending *p = g->head;
        g->head = p->next;
        free(p);
    }
    g->tail = NULL;
    g->npending = 0;
    if (g->open) {
        g->open = false;
        uv_close((uv_handle_t *)&g->timer, NULL);
    }
}

void auth_gate_refuse(struct auth_gate *g, struct conn *c,
                      uint64_t request_id, unsigned failures)
{
    struct auth_pending *p;

    g->failures++;
    log_warn("conn #%08x %s: Hello refused: credential not accepted "
             "(%u on this connection, %llu in all)", c->id, c->peer,
             failures, (unsigned long long)g->failures);
    if (failures > g->max_failures)
        return;                 /* the close is already on its way */
    if (!g->open || g->npending >= AUTH_PENDING_MAX ||
        !(p = calloc(1, sizeof(*p)))) {
        conn_close(c, "refused credential (no room to delay the answer)");
        return;
    }
    p->conn_id = c->id;
    p->request_id = request_id;
    p->due = clock_mono_us() + (uint64_t)g->delay_ms * 1000;
    p->close = failures >= g->max_failures;
    if (g->tail)
        g->tail->next = p;
    else
        g->head = p;
    g->tail = p;
    g->npending++;
    if (g->head == p)
        uv_timer_start(&g->timer, gate_timer_cb, g->delay_ms, 0);
}
