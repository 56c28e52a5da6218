/* owner.h -- who owns what, and who may act on what: the owner records
 * (the index from contacts and agents to the connection that holds them),
 * the per-principal quotas, and the ownership checks of every request.
 * See docs/security.md.
 *
 * Owner records. A record is one client identity at work: a principal
 * and a client name, pointing at its live connection (conn) or at none
 * while the connection is gone (the grace period). The router's opaque tag
 * of every contact and agent is the id of its owner record; the record
 * lists what it holds in two intrusive doubly linked lists (links kept
 * here, by router handle), with counts. So:
 *
 *   - an event for a contact or agent reaches its connection by
 *     tag -> record -> conn id -> conn_lookup(): O(1);
 *   - a close marks the record gone and appends it to the grace FIFO
 *     (every grace period has the same length, so appending keeps the
 *     FIFO ordered by deadline): O(1), nothing is scanned;
 *   - a re-attach points the record at the new connection: O(1);
 *   - a grace expiry walks only the record's own lists.
 *
 * Names: at most one record per client name is in the name index (an
 * idmap whose key function reads the record's name). A Hello without
 * reattach for a name whose record holds a gone connection's work starts
 * a new record; the old one leaves the index and waits out its grace
 * period unreachable by name (a later reattach does not find it).
 * Records of live connections and records that hold something live;
 * a record without a connection and with nothing left is freed at once.
 *
 * A contact belongs to the principal of its owner record (the principal
 * of the connection that sent its ContactArrived. A record restored from
 * Redis has the principal stored with it; AUTH_PRINCIPAL_UNKNOWN for data
 * written without one, until a connection re-attaches it). A switch, gateway or dialer acts
 * only on contacts of its own principal; an agent desk acts only on
 * contacts offered or assigned to agents of its scope. A refused request
 * is answered exactly as if the contact did not exist, so a client learns
 * nothing of another principal's contacts. With no principals configured
 * (auth_is_open) every check passes.
 *
 * Quotas (auth_principal.quota_*): per principal, the live contacts and
 * the logged-in agents its records hold, and a token bucket of requests
 * per second (capacity: one second's worth). 0 means unlimited. What a
 * record restored from Redis holds counts once a connection of the
 * principal re-attaches it (possibly above the quota; new work is then
 * refused until it is back under).
 *
 * Memory: the record array grows (realloc, doubling) when a Hello or a
 * recovered name needs a record and none is free -- not on the routing
 * path; the link arrays are allocated once for max_contacts/max_agents.
 * Nothing here does I/O or reads a clock: `now` is passed in.
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

/* The tag of a contact or agent without an owner record. */
#define OWNER_NONE 0u

/* One router handle's place in its owner's list. */
struct owner_link {
    uint32_t owner;                 /* record id, OWNER_NONE: not linked */
    uint32_t prev, next;            /* handles, UINT32_MAX: end */
};

struct owner_rec {
    char name[AUTH_NAME_MAX];       /* client name */
    int principal;                  /* auth.h index, AUTH_PRINCIPAL_OPEN,
                                       or (recovered) _UNKNOWN / _GONE */
    uint32_t conn;                  /* live connection id or CONN_ID_NONE */
    uint64_t deadline;              /* grace end (monotonic us), in grace */
    uint32_t ncontacts, nagents;
    uint32_t contacts, agents;      /* list heads (handles) or UINT32_MAX */
    uint32_t grace_prev, grace_next;    /* grace FIFO (record ids) */
    uint32_t next_free;             /* free list (record ids) */
    bool used, in_grace, named;     /* named: the name index points here */
};

/* What one principal holds and its request bucket. */
struct owner_use {
    uint32_t contacts, agents;
    double tokens;                  /* requests it may send now */
    uint64_t refilled;              /* monotonic us of the last refill */
    uint64_t warned;                /* monotonic us of the last log line */
};

struct owner_index {
    /* public, read-only */
    uint32_t nlive;                 /* records in use */
    uint32_t ngrace;                /* records in their grace period */
    uint64_t quota_refusals;        /* requests refused by a quota */

    /* private */
    const struct auth_config *auth; /* borrowed; outlives the index */
    struct owner_rec *recs;         /* [0] unused: OWNER_NONE */
    uint32_t caprecs, nrecs, free_head;
    struct idmap names;             /* client name -> record id */
    struct owner_link *clink, *alink;   /* by contact / agent handle */
    uint32_t nclink, nalink;
    uint32_t grace_head, grace_tail;
    struct owner_use *use;          /* by principal index */
};

/* ---- records ---- */

/* Sizes the link arrays for the router's max_contacts and max_agents.
 * `auth` is borrowed and outlives the index. 0 or -ENOMEM. */
int owner_index_init(struct owner_index *ix, const struct auth_config *auth,
                     uint32_t max_contacts, uint32_t max_agents);
void owner_index_fini(struct owner_index *ix);
/* The router is being replaced: every link goes, every record without a
 * live connection is freed, records of live connections hold nothing. */
void owner_index_reset(struct owner_index *ix);

/* A Hello of connection c (c->name, c->principal set) was accepted: the
 * record it works under. With `reattach`, the record of c->name that has
 * no live connection is taken over (its principal becomes c's; *held
 * receives what it holds); without, a new record is made (an old one of
 * the name leaves the name index, see above). The caller has already
 * refused another principal's name and closed an older connection of the
 * name. Returns the record id, or OWNER_NONE out of memory. */
uint32_t owner_attach(struct owner_index *ix, const struct conn *c,
                      bool reattach, unsigned *held);
/* The connection of record `id` is gone (closing). A record that holds
 * nothing is freed (returns 0); else it enters its grace period until
 * `deadline` and the count of what it holds is returned. */
unsigned owner_detach(struct owner_index *ix, uint32_t id, uint64_t deadline);
/* Recovery: the record of stored client name `name` (borrowed), made
 * without a connection and of principal `pi` (an index,
 * AUTH_PRINCIPAL_UNKNOWN or AUTH_PRINCIPAL_GONE), in its grace period until
 * `deadline`, unless the name already has one (then that). *made says
 * which. OWNER_NONE for an empty name or out of memory. */
uint32_t owner_recovered(struct owner_index *ix, const char *name, int pi,
                         uint64_t deadline, bool *made);
/* The record of client name `name` (borrowed) in the name index, or
 * OWNER_NONE. */
uint32_t owner_find(const struct owner_index *ix, const char *name);
/* Read access to a record (NULL for OWNER_NONE or a free id); the
 * pointer is valid until the next call that may make a record. */
const struct owner_rec *owner_get(const struct owner_index *ix, uint32_t id);
/* The live connection id of the owner of tag `id`, or CONN_ID_NONE. */
uint32_t owner_conn(const struct owner_index *ix, uint32_t id);
/* The principal of record `id`, or AUTH_PRINCIPAL_UNKNOWN. */
int owner_principal(const struct owner_index *ix, uint32_t id);

/* Links contact / agent handle h to record `id` (its router tag); a no-op
 * for OWNER_NONE. Unlinking a handle that is not linked is a no-op. */
void owner_contact_link(struct owner_index *ix, uint32_t h, uint32_t id);
void owner_contact_unlink(struct owner_index *ix, uint32_t h);
void owner_agent_link(struct owner_index *ix, uint32_t h, uint32_t id);
void owner_agent_unlink(struct owner_index *ix, uint32_t h);
/* Walking a record's lists: the first handle, the next one, UINT32_MAX at
 * the end. Do not unlink while walking (collect first). */
uint32_t owner_contacts_first(const struct owner_index *ix, uint32_t id);
uint32_t owner_contacts_next(const struct owner_index *ix, uint32_t h);
uint32_t owner_agents_first(const struct owner_index *ix, uint32_t id);
uint32_t owner_agents_next(const struct owner_index *ix, uint32_t h);

/* The grace period: the earliest deadline (UINT64_MAX when none); the
 * record whose deadline has come by `now` (taken out of the FIFO; it stays
 * without a connection), or OWNER_NONE. */
uint64_t owner_grace_next(const struct owner_index *ix);
uint32_t owner_grace_pop(struct owner_index *ix, uint64_t now);
/* Frees record `id` if it has no connection, holds nothing and is not in
 * its grace period. */
void owner_release(struct owner_index *ix, uint32_t id);

/* ---- quotas ---- */

/* 0 when principal `pi` may hold one more contact / agent, -EDQUOT (and
 * counted) when its quota is reached. Always 0 in open mode. */
int owner_quota_contact(struct owner_index *ix, int pi);
int owner_quota_agent(struct owner_index *ix, int pi);
/* Takes one request from pi's bucket at `now`: 0, or -EAGAIN (counted)
 * when it is empty. *log is set when this refusal should be logged (the
 * first one of a second per principal). */
int owner_quota_request(struct owner_index *ix, int pi, uint64_t now,
                        bool *log);
/* Principal pi's holdings (zeros for an index out of range). */
struct owner_use owner_quota_use(const struct owner_index *ix, int pi);

/* ---- checks ---- */

/* Whether connection c may act on contact `cid` (a borrowed id): 0 when
 * it may, or when no such contact exists (the router then answers
 * UNKNOWN_CONTACT itself); -EPERM when the contact is another
 * principal's, to be answered as UNKNOWN_CONTACT. */
int owner_contact_check(const struct owner_index *ix, struct router *r,
                        const struct conn *c, const char *cid);

/* Whether c may send this StatsRequest: 0, or -EPERM with the reason in
 * *why (static text). Monitor and admin read everything; other roles
 * read queue statistics and the named agents of their scope. */
int owner_stats_check(const struct auth_config *a, const struct conn *c,
                      bool all_agents, char *const *agents, size_t nagents,
                      const char **why);

#endif
