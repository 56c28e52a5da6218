/* tls-t.h -- TLS on a listener: the configuration, types only (see tls.h
 * for the functions and docs/configuration.md, `listen.tls`, for the keys).
 */
#ifndef CCROUTE_TLS_T_H
#define CCROUTE_TLS_T_H

#include <stdbool.h>

#define TLS_PATH_MAX 512
#define TLS_CIPHERS_MAX 512

struct tls_ctx;
struct tls_sess;

/* `listen.tls`: paths are resolved against the configuration file's
 * directory by the loader; `file` and the lines are for messages. */
struct tls_config {
    bool enabled;                   /* a `tls:` section is present */
    char cert[TLS_PATH_MAX];        /* PEM certificate chain */
    char key[TLS_PATH_MAX];         /* PEM private key (mode 0600) */
    char ca[TLS_PATH_MAX];          /* empty: no client certificates */
    int min_version;                /* 12 (TLS 1.2) or 13 (TLS 1.3) */
    char ciphers[TLS_CIPHERS_MAX];  /* TLS 1.2 cipher list; empty: default */
    char file[TLS_PATH_MAX];        /* the configuration file */
    unsigned long line, cert_line, key_line, ca_line, ciphers_line;
};

#endif
