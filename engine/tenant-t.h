/* tenant-t.h -- struct tenant and struct tenant_set: types only (see
 * tenant.h for the functions and the design). dispatch.c and fanout.c
 * work on one tenant through this header; the server holds the set.
 */
#ifndef CCROUTE_TENANT_T_H
#define CCROUTE_TENANT_T_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "lathist-t.h"
#include "reload-t.h"
#include "store-t.h"

struct arena;
struct care;
struct config;
struct conn_set;
struct dispatch;
struct outbound;
struct router;
struct store;

/* The most tenants one engine serves or watches (`tenants:` or
 * `tenant_pool.tenants`); config.h checks the configuration against it. */
#define TENANT_MAX 64

/* One tenant of the engine: its own router, store (keys under its hash
 * tag, lease, fencing token), dispatch state (owner index, side tables,
 * grace timer) and router timer. The engine's loop, configuration,
 * connections and decode arena are shared by every tenant and borrowed. */
struct tenant {
    /* public, read-only */
    char name[64];                  /* the hash tag of its keys */
    unsigned index;                 /* in the set; conn.tenant holds it */
    struct tenant_set *set;         /* borrowed: the set it is in */
    uv_loop_t *loop;                /* borrowed */
    const struct config *cfg;       /* borrowed; shared by every tenant */
    struct conn_set *conns;         /* borrowed: the engine's connections */
    struct arena *arena;            /* borrowed: decode/encode scratch */
    struct router *router;          /* owned; replaced on a store reset */
    struct store *store;            /* owned */
    struct dispatch *dispatch;      /* owned */
    struct outbound *outbound;      /* owned by dispatch (outbound.h) */
    struct care *care;              /* owned: dispositions and load
                                       (docs/care.md) */
    enum store_role role;           /* the store's last report */
    bool stopping;                  /* the store is stopping (shutdown) */
    bool quiet;                     /* shutdown: no routing timer any more */
    bool acquire;                   /* may take its lease when it is free
                                       (always, except in pool mode: see
                                       tenant.c, "Pool") */

    /* private */
    struct store_config scfg;       /* cfg->store with this tenant's name */
    uv_timer_t timer;               /* router deadlines */
    uint64_t timer_due;             /* armed deadline (us), 0 if none */
    bool timer_open;
    bool started;                   /* store_start() was called */
    void (*fatal)(void *arg);       /* the engine must stop (no memory
                                       for a fresh router) */
    void *fatal_arg;
};

/* Every tenant of the engine. Index 0 is the default tenant (the first
 * configured): a Hello that names none and whose principal names none
 * goes there. */
struct tenant_set {
    struct tenant *t[TENANT_MAX];
    unsigned n;
    unsigned pool_max;              /* 0: every tenant is served (list or
                                       single tenant); else own at most
                                       this many of them at a time */
    bool draining;                  /* Drain or shutdown: new contacts are
                                       refused, the rest goes on */
    struct reload_status reload;    /* the configuration's generation and
                                       the last reload (reload.h) */
    /* /metrics histograms (docs/http.md), every tenant together: a
     * contact's arrival -> each Offer made for it; the loop turn that read
     * a request -> its Ack queued for the client */
    struct lathist routing_latency, ack_latency;
    reload_cb reload_run;           /* ConfigReload: registered by the
                                       server (NULL: none) */
    void *reload_arg;
};

#endif
