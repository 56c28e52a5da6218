/* auth-t.h -- principals, tokens and the auth configuration: types only
 * (see auth.h for the functions and docs/security.md for the model).
 *
 * A principal is who a client is, proven by a token: a name, the roles it
 * may take in Hello, and its scope -- the client names it may use, the
 * agent ids it may act for, its tenant. The configuration stores only the
 * SHA-256 of each token (`ccrouted --hash-token` makes one).
 */
#ifndef CCROUTE_AUTH_T_H
#define CCROUTE_AUTH_T_H

#include <stdbool.h>
#include <stdint.h>

#include "router-t.h"

#define AUTH_HASH_LEN 32                  /* SHA-256 */
#define AUTH_NAME_MAX ROUTER_ID_MAX
#define AUTH_PATH_MAX 512
#define AUTH_TOKEN_MAX 4096               /* longest token accepted */
#define AUTH_TOKEN_MIN 16                 /* shortest --hash-token accepts */
#define AUTH_DEFAULT_FAILURE_DELAY_MS 500u
#define AUTH_DEFAULT_MAX_FAILURES 3u

/* The principal index of a connection without one: the engine runs open
 * (no principals configured) -- every client is this one principal. */
#define AUTH_PRINCIPAL_OPEN (-1)
/* The owner of a contact or agent whose principal is not known: restored
 * from Redis data written without one (before principals were stored, or
 * by an engine that ran open). */
#define AUTH_PRINCIPAL_UNKNOWN (-2)
/* The owner of a contact or agent restored with a principal name that the
 * configuration no longer has: no client may re-attach it. */
#define AUTH_PRINCIPAL_GONE (-3)

/* Role bits: 1 << Ccroute__V1__Role (switch 1 ... monitor 5, admin 6). */
#define AUTH_ROLE_BIT(r) (1u << (unsigned)(r))

/* An exact name, or a prefix when the configured text ended in '*'
 * ("switch-*"; "*" alone matches everything). */
struct auth_pattern {
    char text[AUTH_NAME_MAX];       /* without the '*' */
    bool prefix;
};

struct auth_principal {
    char name[AUTH_NAME_MAX];
    uint32_t roles;                 /* AUTH_ROLE_BIT()s */
    struct auth_pattern *clients;   /* owned; client names it may use */
    unsigned nclients;
    struct auth_pattern *agents;    /* owned; agent ids it may act for */
    unsigned nagents;
    char tenant[AUTH_NAME_MAX];     /* empty: the engine's tenant */
    /* quotas (owner.h; 0: unlimited): live contacts and logged-in agents
     * its connections hold, requests per second (a bucket of one second) */
    uint32_t quota_contacts, quota_agents, quota_rps;
    unsigned long line;             /* where it was configured */
};

struct auth_token {
    uint8_t hash[AUTH_HASH_LEN];    /* SHA-256 of the token */
    int principal;                  /* index into principals */
};

/* A client certificate's SHA-256 (of its DER form), and whose it is:
 * `cert_fingerprints` of a principal (mutual TLS, docs/security.md). */
struct auth_cert {
    uint8_t sha256[AUTH_HASH_LEN];
    int principal;                  /* index into principals */
};

struct auth_config {
    bool insecure_open;             /* open on a non-loopback listener */
    uint32_t failure_delay_ms;      /* a refused Hello is answered late */
    uint32_t max_failures;          /* refused Hellos before the close */
    char token_file[AUTH_PATH_MAX]; /* as resolved (may be empty) */
    unsigned long token_file_line;
    struct auth_principal *principals;  /* owned */
    unsigned nprincipals;
    struct auth_token *tokens;          /* owned */
    unsigned ntokens;
    struct auth_cert *certs;            /* owned */
    unsigned ncerts;
};

#endif
