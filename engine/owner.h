/* owner.h -- who may act on what: the ownership checks of every request,
 * and the index of live client names. See docs/security.md.
 *
 * A contact belongs to the principal of the connection that sent its
 * ContactArrived (the router's tag is that connection's id; while the
 * connection is gone, its grace entry remembers the principal). A switch,
 * gateway or dialer acts only on contacts of its own principal; an agent
 * desk acts only on contacts offered or assigned to agents of its scope.
 * A refused request is answered exactly as if the contact did not exist,
 * so a client learns nothing of another principal's contacts.
 *
 * With no principals configured (auth_is_open) every check passes: the
 * engine behaves as before credentials existed.
 *
 * Client names: at most one live connection per client name. A second
 * Hello with the name of a live connection of the same principal replaces
 * the older connection (which is closed, its contacts and agents entering
 * the grace period, ready for the new one's reattach); of another
 * principal it is refused. The index is a hash map from name to
 * connection id (engine/idmap.h); the names stay in the connections.
 */
#ifndef CCROUTE_OWNER_H
#define CCROUTE_OWNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth-t.h"
#include "conn-t.h"
#include "idmap.h"

struct router;

/* The principal that owns the objects tagged `tag` (a live connection's
 * or a gone one's), or AUTH_PRINCIPAL_UNKNOWN. Registered by the caller
 * (dispatch.c, which keeps the grace entries). */
typedef int (*owner_principal_cb)(void *arg, uint32_t tag);

/* Whether connection c may act on contact `cid` (a borrowed id): 0 when
 * it may, or when no such contact exists (the router then answers
 * UNKNOWN_CONTACT itself); -EPERM when the contact is another
 * principal's, to be answered as UNKNOWN_CONTACT. */
int owner_contact_check(struct router *r, const struct auth_config *a,
                        const struct conn *c, const char *cid,
                        owner_principal_cb principal_of, void *arg);

/* Whether c may send this StatsRequest: 0, or -EPERM with the reason in
 * *why (static text). Monitor and admin read everything; other roles
 * read queue statistics and the named agents of their scope. */
int owner_stats_check(const struct auth_config *a, const struct conn *c,
                      bool all_agents, char *const *agents, size_t nagents,
                      const char **why);

/* ---- live client names ---- */

struct owner_names {
    struct idmap map;               /* name -> connection id */
    struct conn_set *conns;         /* borrowed */
};

/* 0 or -ENOMEM. `conns` is borrowed and outlives the index. */
int owner_names_init(struct owner_names *n, struct conn_set *conns);
void owner_names_fini(struct owner_names *n);
/* The live connection that said Hello with `name`, or NULL. */
struct conn *owner_names_find(struct owner_names *n, const char *name);
/* Enters c (after its Hello) under c->name, which must not be there.
 * 0 or -ENOMEM. */
int owner_names_add(struct owner_names *n, struct conn *c);
/* Forgets c's name if it is c that holds it (c is closing). */
void owner_names_remove(struct owner_names *n, struct conn *c);

#endif
