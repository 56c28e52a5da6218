/* reload-t.h -- what a configuration reload reports: types only (see
 * reload.h for the function and docs/configuration.md, "Reload"). The
 * tenant set carries one (tenant-t.h), so that Stats and /metrics read it
 * without depending on the module that does the reload.
 */
#ifndef CCROUTE_RELOAD_T_H
#define CCROUTE_RELOAD_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RELOAD_MSG_MAX 512

/* Where the running configuration came from. */
struct reload_source {
    char path[512];                 /* the --config file; "": none */
    bool keep_listen;               /* --listen overrides the file's */
    bool keep_log_level;            /* --log-level overrides the file's */
};

struct reload_status {
    uint64_t generation;            /* 1 at start, +1 per applied reload */
    uint64_t applied, refused;      /* reloads by outcome, since start */
    uint64_t last_at_ms;            /* wall clock of the last attempt; 0 */
    char last_error[RELOAD_MSG_MAX];/* the last attempt's refusal; "" */
};

/* Runs a reload on behalf of a request (dispatch.c): registered by the
 * server, which owns the file and the running configuration. Returns 0
 * when applied (or nothing changed), RELOAD_EINVALID when the file does
 * not load, RELOAD_ENOTRELOADABLE when it changes what only a restart
 * may change; `msg` receives the outcome in words. */
typedef int (*reload_cb)(void *arg, char *msg, size_t len);

#define RELOAD_EINVALID (-22)       /* -EINVAL */
#define RELOAD_ENOTRELOADABLE (-1)  /* -EPERM */

#endif
