/* tenant.c -- one tenant's router, store, dispatch state and router timer;
 * the pool's lease policy. See tenant.h.
 *
 * A tenant is what one engine served before there were several: the
 * store's hooks, the router timer and the router reset after another
 * engine owned the tenant all moved here from server.c unchanged, one
 * instance per tenant. The store hooks' `arg` is the tenant.
 *
 * Pool. With `tenant_pool: {tenants: [...], max: N}` the engine runs a
 * store for every tenant of the set; each reports STANDBY with the
 * owner's address ("" when the lease is free) or OWNER. Only stores with
 * `acquire` set may take a free lease (store_set_acquire). On every role
 * report of any tenant the policy runs again, in configuration order:
 *   - a tenant held by another engine (STANDBY, an address) loses
 *     `acquire`;
 *   - while fewer than N tenants have `acquire` (those owned, suspended,
 *     or taking their lease now), a free one (STANDBY, no address) gets
 *     it, and its store takes the lease at its next lease round.
 * So the engine never owns more than N tenants, and a tenant whose owner
 * died (its lease expires, every standby sees it free) is taken by an
 * engine with room within lease_ms + renew_ms. Two engines that both try
 * meet in the lease script: one gets the lease, the other sees the
 * address and lets go.
 */
#include "tenant.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "care.h"
#include "clock.h"
#include "config.h"
#include "dispatch.h"
#include "outbound.h"
#include "log.h"
#include "router.h"
#include "store.h"

struct tenant *tenant_find(const struct tenant_set *set, const char *name)
{
    for (unsigned i = 0; i < set->n; i++)
        if (!strcmp(set->t[i]->name, name))
            return set->t[i];
    return NULL;
}

/* The pool policy (see the top of the file). */
static void pool_balance(struct tenant_set *set)
{
    unsigned want = 0;
    if (!set->pool_max)
        return;
    for (unsigned i = 0; i < set->n; i++) {
        struct tenant *t = set->t[i];
        if (t->acquire && t->role == STORE_ROLE_STANDBY &&
            *store_owner_addr(t->store)) {
            t->acquire = false;
            store_set_acquire(t->store, false);
        }
        want += t->acquire;
    }
    for (unsigned i = 0; i < set->n && want < set->pool_max; i++) {
        struct tenant *t = set->t[i];
        if (!t->acquire && !t->stopping && t->role == STORE_ROLE_STANDBY &&
            !*store_owner_addr(t->store)) {
            t->acquire = true;
            store_set_acquire(t->store, true);
            want++;
            log_info("pool: tenant %s is free; taking its lease (%u of at "
                     "most %u)", t->name, want, set->pool_max);
        }
    }
}

static void tenant_on_role(void *arg, enum store_role role, const char *owner)
{
    struct tenant *t = arg;
    dispatch_on_role(t, role, owner);
    pool_balance(t->set);
}

/* Another engine owned the tenant meanwhile: everything this router holds
 * is stale. Start from an empty router (same configuration); the store
 * loads the tenant's state into it before reporting OWNER again. Clients
 * were already disconnected when the lease was lost. */
static void tenant_on_reset(void *arg)
{
    struct tenant *t = arg;
    const char *rerr = NULL;
    struct router *fresh = router_new(&t->cfg->router,
                                      clock_wall_ms() ^ (uint64_t)getpid(),
                                      &rerr);
    if (!fresh) {
        /* Same configuration as at start, so only memory can fail here.
         * Serving a stale state would be worse than stopping. */
        log_error("store: tenant %s: cannot recreate the router (%s); "
                  "stopping", t->name, rerr ? rerr : "out of memory");
        t->fatal(t->fatal_arg);
        return;
    }
    log_info("store: another engine owned the tenant%s%s meanwhile; "
             "dropping the in-memory state before reloading it",
             t->set->n > 1 ? " " : "", t->set->n > 1 ? t->name : "");
    dispatch_reset(t->dispatch);
    care_forget(t->care);
    router_free(t->router);
    t->router = fresh;
    store_set_router(t->store, fresh);
    t->timer_due = 0;
    if (t->timer_open)
        uv_timer_stop(&t->timer);
}

static void tenant_timer_cb(uv_timer_t *h)
{
    struct tenant *t = h->data;
    /* libuv's coarse loop time said the deadline passed: read the clock
     * afresh rather than trust an earlier read of this turn */
    clock_turn_end();
    t->timer_due = 0;
    dispatch_tick(t);
    /* Re-armed by the server's prepare hook of this turn. */
}

void tenant_timer_rearm(struct tenant *t)
{
    uint64_t due, now, ms;
    if (t->stopping || t->quiet || !t->timer_open)
        return;
    /* no routing decision without a confirmed lease (dispatch_on_role) */
    due = t->role == STORE_ROLE_OWNER ? router_next_deadline(t->router)
                                      : UINT64_MAX;
    /* the end of an automatic care pause (docs/care.md) */
    if (t->role == STORE_ROLE_OWNER && care_next_deadline(t->care) < due)
        due = care_next_deadline(t->care);
    if (due == UINT64_MAX) {
        if (t->timer_due) {
            uv_timer_stop(&t->timer);
            t->timer_due = 0;
        }
        return;
    }
    if (due == t->timer_due)
        return;
    now = clock_turn_us();
    ms = due > now ? (due - now + 999) / 1000 : 0;
    uv_timer_start(&t->timer, tenant_timer_cb, ms, 0);
    t->timer_due = due;
}

void tenant_flush(struct tenant *t)
{
    store_flush(t->store);
}

struct tenant *tenant_new(struct tenant_set *set, const char *name,
                          uv_loop_t *loop, const struct config *cfg,
                          struct conn_set *conns, struct arena *arena,
                          void (*fatal)(void *arg), void *arg,
                          char *err, size_t errlen)
{
    struct tenant *t;
    struct store_hooks hooks;
    const char *rerr = NULL;

    if (set->n >= TENANT_MAX) {
        snprintf(err, errlen, "more than %d tenants", TENANT_MAX);
        return NULL;
    }
    if (!(t = calloc(1, sizeof(*t)))) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->index = set->n;
    t->set = set;
    t->loop = loop;
    t->cfg = cfg;
    t->conns = conns;
    t->arena = arena;
    t->fatal = fatal;
    t->fatal_arg = arg;
    t->acquire = set->pool_max == 0;
    t->scfg = cfg->store;
    snprintf(t->scfg.tenant, sizeof(t->scfg.tenant), "%s", name);
    t->router = router_new(&cfg->router, clock_wall_ms() ^ (uint64_t)getpid()
                           ^ ((uint64_t)t->index << 32), &rerr);
    if (!t->router) {
        snprintf(err, errlen, "routing configuration: %s",
                 rerr ? rerr : "invalid (or out of memory)");
        goto fail;
    }
    if (!(t->care = care_new(&cfg->care, &cfg->router))) {
        snprintf(err, errlen, "out of memory (care tables)");
        goto fail;
    }
    if (!(t->dispatch = dispatch_new(t))) {
        snprintf(err, errlen, "out of memory (side tables)");
        goto fail;
    }
    memset(&hooks, 0, sizeof(hooks));
    hooks.arg = t;
    hooks.on_role = tenant_on_role;
    hooks.snapshot = dispatch_snapshot;
    hooks.load_agent = dispatch_load_agent;
    hooks.load_contact = dispatch_load_contact;
    hooks.load_outbound = outbound_load;
    hooks.on_reset = tenant_on_reset;
    if (!(t->store = store_new(loop, &t->scfg, t->router, &hooks))) {
        snprintf(err, errlen, "cannot create the store");
        goto fail;
    }
    if (!t->acquire)
        store_set_acquire(t->store, false);
    uv_timer_init(loop, &t->timer);
    t->timer.data = t;
    t->timer_open = true;
    set->t[set->n++] = t;
    return t;
fail:
    /* in the set all the same, so that the server's failure path closes
     * its handles (tenant_stop) and frees it (tenant_free) */
    set->t[set->n++] = t;
    return NULL;
}

int tenant_start(struct tenant *t, const char *advertise)
{
    int rc;
    if (advertise)
        store_set_advertise(t->store, advertise);
    rc = store_start(t->store);
    t->started = true;
    if (rc < 0)
        log_error("store: tenant %s: %s", t->name, ccr_strerror(rc));
    return rc;
}

void tenant_quiesce(struct tenant *t)
{
    t->quiet = true;
    if (t->timer_open && t->timer_due) {
        uv_timer_stop(&t->timer);
        t->timer_due = 0;
    }
}

size_t tenant_unconfirmed(const struct tenant *t)
{
    struct store_stats st;
    if (!t->store || !t->started || t->stopping)
        return 0;
    store_stats(t->store, &st);
    return st.pending_ops;
}

/* Shutdown ordering: the store's own stop sends the batches still queued
 * and then the lease release on the same connection, so Redis applies
 * the writes before the lease is gone; a standby that takes the lease
 * at once loads them. The server waited before this for Redis to confirm
 * what was queued (limits.shutdown_timeout), so that a slow or
 * reconnecting Redis does not lose the last writes to the store's short
 * stop deadline (redis.command_timeout). */
void tenant_stop(struct tenant *t, void (*done)(void *arg), void *arg)
{
    if (t->stopping)
        return;
    t->stopping = true;
    if (t->timer_open) {
        uv_close((uv_handle_t *)&t->timer, NULL);
        t->timer_open = false;
    }
    if (t->dispatch)
        dispatch_close(t->dispatch);
    if (t->store && t->started)
        store_stop(t->store, done, arg);
    else if (done)
        done(arg);
}

void tenant_free(struct tenant *t)
{
    if (!t)
        return;
    if (t->store)
        store_free(t->store);
    if (t->dispatch)
        dispatch_free(t->dispatch);
    if (t->router)
        router_free(t->router);
    care_free(t->care);
    free(t);
}

bool tenant_set_ready(const struct tenant_set *set, char *why, size_t len)
{
    unsigned ready = 0;
    const struct tenant *first_bad = NULL;
    /* a draining engine takes no new contacts: a load balancer (a
     * Kubernetes Service) should send them elsewhere */
    if (set->draining) {
        snprintf(why, len, "draining: new contacts are refused (Drain or "
                 "shutdown)");
        return false;
    }
    for (unsigned i = 0; i < set->n; i++) {
        if (store_ready(set->t[i]->store))
            ready++;
        else if (!first_bad)
            first_bad = set->t[i];
    }
    if (set->pool_max ? ready > 0 : ready == set->n) {
        if (len)
            why[0] = '\0';
        return true;
    }
    if (set->pool_max)
        snprintf(why, len, "this engine owns none of the pool's %u "
                 "tenants", set->n);
    else if (set->n > 1)
        snprintf(why, len, "tenant %s: %s", first_bad->name,
                 store_why(first_bad->store));
    else
        snprintf(why, len, "%s", store_why(first_bad->store));
    return false;
}
_Static_assert(CONFIG_MAX_TENANTS == TENANT_MAX, "one bound");
