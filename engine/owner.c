/* owner.c -- the ownership checks and the index of live client names;
 * see owner.h.
 *
 * The checks cost one router lookup and, for a contact whose owner is
 * gone, the caller's grace lookup; nothing allocates. The names index is
 * an idmap whose key function reads the name from the live connection:
 * an entry is removed before its connection is released (on_close), so
 * the key function never meets a dead id in the map, and answers "" if it
 * ever did.
 */
#include "owner.h"

#include <errno.h>
#include <string.h>

#include "auth.h"
#include "ccroute.pb-c.h"
#include "conn.h"
#include "router.h"

#define ROLE(x) CCROUTE__V1__ROLE__ROLE_##x

int owner_contact_check(struct router *r, const struct auth_config *a,
                        const struct conn *c, const char *cid,
                        owner_principal_cb principal_of, void *arg)
{
    struct router_contact_info ci;
    uint32_t h;

    if (auth_is_open(a) || router_contact_find(r, cid, &h) < 0)
        return 0;
    router_contact_info(r, h, &ci);
    if (c->role == ROLE(AGENT)) {
        if (ci.agent != UINT32_MAX &&
            auth_agent_allowed(a, c->principal, router_agent_id(r, ci.agent)))
            return 0;
        return -EPERM;
    }
    return principal_of(arg, ci.tag) == c->principal ? 0 : -EPERM;
}

int owner_stats_check(const struct auth_config *a, const struct conn *c,
                      bool all_agents, char *const *agents, size_t nagents,
                      const char **why)
{
    if (auth_is_open(a) || c->role == ROLE(MONITOR) || c->role == ROLE(ADMIN))
        return 0;
    if (all_agents) {
        *why = "only the monitor and admin roles may ask for all agents";
        return -EPERM;
    }
    for (size_t i = 0; i < nagents; i++) {
        if (!auth_agent_allowed(a, c->principal, agents[i])) {
            *why = "an agent asked for is outside this client's scope";
            return -EPERM;
        }
    }
    return 0;
}

/* ---- names ---- */

static const char *name_of(const void *ctx, uint32_t id)
{
    const struct owner_names *n = ctx;
    struct conn *c = conn_lookup(n->conns, id);
    return c ? c->name : "";
}

int owner_names_init(struct owner_names *n, struct conn_set *conns)
{
    n->conns = conns;
    return idmap_init(&n->map, 1024, name_of, n) < 0 ? -ENOMEM : 0;
}

void owner_names_fini(struct owner_names *n)
{
    idmap_free(&n->map);
}

struct conn *owner_names_find(struct owner_names *n, const char *name)
{
    uint32_t id = idmap_find(&n->map, name, idmap_hash(name));
    return id == UINT32_MAX ? NULL : conn_lookup(n->conns, id);
}

int owner_names_add(struct owner_names *n, struct conn *c)
{
    return idmap_insert(&n->map, idmap_hash(c->name), c->id) < 0 ? -ENOMEM
                                                                  : 0;
}

void owner_names_remove(struct owner_names *n, struct conn *c)
{
    idmap_remove(&n->map, idmap_hash(c->name), c->id);
}
