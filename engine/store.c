/* store.c -- durable, shared state in Redis (see store.h).
 *
 * This first version implements the memory-only mode (cfg->enabled false):
 * no Redis, OWNER at once, barriers complete at the next flush. The Redis
 * mode lands behind the same interface.
 */
#include <stdlib.h>
#include <string.h>

#include "store.h"

struct store_barrier_ent {
    store_barrier_cb cb;
    void *arg;
};

struct store {
    uv_loop_t *loop;
    struct store_config cfg;
    struct router *router;
    struct store_hooks hooks;
    enum store_role role;
    struct store_barrier_ent *barriers;
    size_t nbarriers, capbarriers;
};

struct store *store_new(uv_loop_t *loop, const struct store_config *cfg,
                        struct router *r, const struct store_hooks *hooks)
{
    struct store *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->loop = loop;
    if (cfg)
        s->cfg = *cfg;
    s->router = r;
    if (hooks)
        s->hooks = *hooks;
    return s;
}

int store_start(struct store *s)
{
    s->role = STORE_ROLE_OWNER;
    if (s->hooks.on_role)
        s->hooks.on_role(s->hooks.arg, STORE_ROLE_OWNER, s->cfg.advertise);
    return 0;
}

void store_stop(struct store *s, void (*done)(void *arg), void *arg)
{
    store_flush(s);
    if (done)
        done(arg);
}

void store_free(struct store *s)
{
    if (!s)
        return;
    free(s->barriers);
    free(s);
}

enum store_role store_role(const struct store *s) { return s->role; }
const char *store_owner_addr(const struct store *s) { return s->cfg.advertise; }
bool store_writable(const struct store *s) { (void)s; return true; }

int store_contact_arrived(struct store *s, const char *contact_id,
                          const uint8_t *arrived, size_t len,
                          uint64_t now_wall_ms)
{
    return 0;
}

int store_agent_login(struct store *s, const char *agent_id,
                      const uint8_t *login, size_t len)
{
    return 0;
}

void store_record(struct store *s, uint64_t mono_now_us, uint64_t wall_now_ms)
{
}

int store_barrier(struct store *s, store_barrier_cb cb, void *arg)
{
    if (s->nbarriers == s->capbarriers) {
        size_t n = s->capbarriers ? s->capbarriers * 2 : 64;
        struct store_barrier_ent *b = realloc(s->barriers, n * sizeof(*b));
        if (!b)
            return STORE_ENOMEM;
        s->barriers = b;
        s->capbarriers = n;
    }
    s->barriers[s->nbarriers].cb = cb;
    s->barriers[s->nbarriers].arg = arg;
    s->nbarriers++;
    return 0;
}

void store_flush(struct store *s)
{
    /* Callbacks may queue new barriers: take the current list first. */
    size_t n = s->nbarriers;
    for (size_t i = 0; i < n; i++)
        s->barriers[i].cb(s->barriers[i].arg, 0);
    memmove(s->barriers, s->barriers + n,
            (s->nbarriers - n) * sizeof(*s->barriers));
    s->nbarriers -= n;
}

const char *store_strerror(int err)
{
    switch (err) {
    case STORE_OK: return "ok";
    case STORE_EUNAVAILABLE: return "durable state unavailable";
    case STORE_ENOTOWNER: return "not the owner of the tenant";
    case STORE_ENOMEM: return "out of memory";
    case STORE_EINVAL: return "invalid argument";
    }
    return "unknown store error";
}
