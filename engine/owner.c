/* owner.c -- owner records, quotas and ownership checks; see owner.h.
 *
 * Records live in one array addressed by id (0 is OWNER_NONE), with a
 * free list; ids are reused only once nothing carries them (a record is
 * freed when it has no connection and holds nothing), so a router tag
 * never names the wrong record. The lists of what a record holds are
 * threaded through two link arrays indexed by router handle: link,
 * unlink and the counts are O(1). The grace FIFO is a doubly linked list
 * of record ids (a re-attach takes a record out of the middle).
 */
#include "owner.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "ccroute.pb-c.h"
#include "router.h"

#define ROLE(x) CCROUTE__V1__ROLE__ROLE_##x
#define END UINT32_MAX

static const char *name_of(const void *ctx, uint32_t id)
{
    const struct owner_index *ix = ctx;
    return id < ix->nrecs && ix->recs[id].used ? ix->recs[id].name : "";
}

static void links_clear(struct owner_link *l, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        l[i].owner = OWNER_NONE;
        l[i].prev = l[i].next = END;
    }
}

int owner_index_init(struct owner_index *ix, const struct auth_config *auth,
                     uint32_t max_contacts, uint32_t max_agents)
{
    memset(ix, 0, sizeof(*ix));
    ix->auth = auth;
    ix->nclink = max_contacts;
    ix->nalink = max_agents;
    ix->clink = malloc((max_contacts ? max_contacts : 1) * sizeof(*ix->clink));
    ix->alink = malloc((max_agents ? max_agents : 1) * sizeof(*ix->alink));
    ix->caprecs = 64;
    ix->nrecs = 1;                      /* [0] is OWNER_NONE */
    ix->recs = calloc(ix->caprecs, sizeof(*ix->recs));
    ix->use = calloc(auth->nprincipals ? auth->nprincipals : 1,
                     sizeof(*ix->use));
    ix->grace_head = ix->grace_tail = OWNER_NONE;
    if (!ix->clink || !ix->alink || !ix->recs || !ix->use ||
        idmap_init(&ix->names, 1024, name_of, ix) < 0) {
        owner_index_fini(ix);
        return -ENOMEM;
    }
    links_clear(ix->clink, ix->nclink);
    links_clear(ix->alink, ix->nalink);
    for (unsigned i = 0; i < auth->nprincipals; i++)
        ix->use[i].tokens = auth->principals[i].quota_rps;
    return 0;
}

void owner_index_fini(struct owner_index *ix)
{
    if (ix->names.slot)
        idmap_free(&ix->names);
    free(ix->clink);
    free(ix->alink);
    free(ix->recs);
    free(ix->use);
    memset(ix, 0, sizeof(*ix));
}

static struct owner_rec *rec(const struct owner_index *ix, uint32_t id)
{
    return id != OWNER_NONE && id < ix->nrecs && ix->recs[id].used
               ? &ix->recs[id] : NULL;
}

static struct owner_use *use_of(struct owner_index *ix, int pi)
{
    return pi >= 0 && (unsigned)pi < ix->auth->nprincipals ? &ix->use[pi]
                                                           : NULL;
}

static void name_drop(struct owner_index *ix, uint32_t id)
{
    struct owner_rec *o = &ix->recs[id];
    if (o->named) {
        idmap_remove(&ix->names, idmap_hash(o->name), id);
        o->named = false;
    }
}

static void grace_remove(struct owner_index *ix, uint32_t id)
{
    struct owner_rec *o = &ix->recs[id];
    if (!o->in_grace)
        return;
    if (o->grace_prev)
        ix->recs[o->grace_prev].grace_next = o->grace_next;
    else
        ix->grace_head = o->grace_next;
    if (o->grace_next)
        ix->recs[o->grace_next].grace_prev = o->grace_prev;
    else
        ix->grace_tail = o->grace_prev;
    o->grace_prev = o->grace_next = OWNER_NONE;
    o->in_grace = false;
    ix->ngrace--;
}

static void grace_append(struct owner_index *ix, uint32_t id,
                         uint64_t deadline)
{
    struct owner_rec *o = &ix->recs[id];
    grace_remove(ix, id);
    o->deadline = deadline;
    o->grace_prev = ix->grace_tail;
    o->grace_next = OWNER_NONE;
    if (ix->grace_tail)
        ix->recs[ix->grace_tail].grace_next = id;
    else
        ix->grace_head = id;
    ix->grace_tail = id;
    o->in_grace = true;
    ix->ngrace++;
}

static void rec_free(struct owner_index *ix, uint32_t id)
{
    struct owner_rec *o = &ix->recs[id];
    name_drop(ix, id);
    grace_remove(ix, id);
    o->used = false;
    o->next_free = ix->free_head;
    ix->free_head = id;
    ix->nlive--;
}

/* A new record named `name` (borrowed) in the name index, or OWNER_NONE
 * out of memory. Grows the array: pointers into it are then invalid. */
static uint32_t rec_new(struct owner_index *ix, const char *name, int pi)
{
    uint32_t id;
    struct owner_rec *o;

    if (ix->free_head) {
        id = ix->free_head;
        ix->free_head = ix->recs[id].next_free;
    } else {
        if (ix->nrecs == ix->caprecs) {
            uint32_t ncap = ix->caprecs * 2;
            struct owner_rec *n = realloc(ix->recs, ncap * sizeof(*n));
            if (!n)
                return OWNER_NONE;
            memset(n + ix->caprecs, 0, (ncap - ix->caprecs) * sizeof(*n));
            ix->recs = n;
            ix->caprecs = ncap;
        }
        id = ix->nrecs++;
    }
    o = &ix->recs[id];
    memset(o, 0, sizeof(*o));
    size_t len = strnlen(name, sizeof(o->name) - 1);
    memcpy(o->name, name, len);
    o->name[len] = '\0';
    o->principal = pi;
    o->conn = CONN_ID_NONE;
    o->contacts = o->agents = END;
    o->used = true;
    ix->nlive++;
    if (idmap_insert(&ix->names, idmap_hash(o->name), id) < 0) {
        rec_free(ix, id);
        return OWNER_NONE;
    }
    o->named = true;
    return id;
}

void owner_index_reset(struct owner_index *ix)
{
    links_clear(ix->clink, ix->nclink);
    links_clear(ix->alink, ix->nalink);
    for (uint32_t id = 1; id < ix->nrecs; id++) {
        struct owner_rec *o = &ix->recs[id];
        if (!o->used)
            continue;
        o->ncontacts = o->nagents = 0;
        o->contacts = o->agents = END;
        if (o->conn == CONN_ID_NONE)
            rec_free(ix, id);
    }
    for (unsigned i = 0; i < ix->auth->nprincipals; i++)
        ix->use[i].contacts = ix->use[i].agents = 0;
}

uint32_t owner_find(const struct owner_index *ix, const char *name)
{
    uint32_t id = idmap_find(&ix->names, name, idmap_hash(name));
    return id == UINT32_MAX ? OWNER_NONE : id;
}

const struct owner_rec *owner_get(const struct owner_index *ix, uint32_t id)
{
    return rec(ix, id);
}

uint32_t owner_conn(const struct owner_index *ix, uint32_t id)
{
    const struct owner_rec *o = rec(ix, id);
    return o ? o->conn : CONN_ID_NONE;
}

int owner_principal(const struct owner_index *ix, uint32_t id)
{
    const struct owner_rec *o = rec(ix, id);
    return o ? o->principal : AUTH_PRINCIPAL_UNKNOWN;
}

uint32_t owner_attach(struct owner_index *ix, const struct conn *c,
                      bool reattach, unsigned *held)
{
    uint32_t id = owner_find(ix, c->name);
    struct owner_rec *o = rec(ix, id);

    *held = 0;
    if (o && o->conn != CONN_ID_NONE)       /* the caller closed it */
        o = NULL;
    if (o && reattach) {
        struct owner_use *u;
        grace_remove(ix, id);
        o->conn = c->id;
        if (o->principal != c->principal) {
            /* a recovered record: what it holds counts from now on */
            if ((u = use_of(ix, c->principal))) {
                u->contacts += o->ncontacts;
                u->agents += o->nagents;
            }
            o->principal = c->principal;
        }
        *held = o->ncontacts + o->nagents;
        return id;
    }
    if (id != OWNER_NONE)
        name_drop(ix, id);      /* starts afresh: the old one waits alone */
    if (o)
        owner_release(ix, id);
    id = rec_new(ix, c->name, c->principal);
    if (id != OWNER_NONE)
        ix->recs[id].conn = c->id;
    return id;
}

unsigned owner_detach(struct owner_index *ix, uint32_t id, uint64_t deadline)
{
    struct owner_rec *o = rec(ix, id);
    unsigned n;
    if (!o)
        return 0;
    o->conn = CONN_ID_NONE;
    n = o->ncontacts + o->nagents;
    if (n == 0)
        rec_free(ix, id);
    else
        grace_append(ix, id, deadline);
    return n;
}

uint32_t owner_recovered(struct owner_index *ix, const char *name, int pi,
                         uint64_t deadline, bool *made)
{
    uint32_t id;
    *made = false;
    if (!name || !*name)
        return OWNER_NONE;
    if ((id = owner_find(ix, name)) != OWNER_NONE)
        return id;
    id = rec_new(ix, name, pi);
    if (id != OWNER_NONE) {
        grace_append(ix, id, deadline);
        *made = true;
    }
    return id;
}

void owner_release(struct owner_index *ix, uint32_t id)
{
    struct owner_rec *o = rec(ix, id);
    if (o && o->conn == CONN_ID_NONE && !o->in_grace &&
        o->ncontacts + o->nagents == 0)
        rec_free(ix, id);
}

/* ---- lists ---- */

static void link_add(struct owner_link *l, uint32_t *head, uint32_t h,
                     uint32_t id)
{
    l[h].owner = id;
    l[h].prev = END;
    l[h].next = *head;
    if (*head != END)
        l[*head].prev = h;
    *head = h;
}

static void link_del(struct owner_link *l, uint32_t *head, uint32_t h)
{
    if (l[h].prev != END)
        l[l[h].prev].next = l[h].next;
    else
        *head = l[h].next;
    if (l[h].next != END)
        l[l[h].next].prev = l[h].prev;
    l[h].owner = OWNER_NONE;
    l[h].prev = l[h].next = END;
}

void owner_contact_link(struct owner_index *ix, uint32_t h, uint32_t id)
{
    struct owner_rec *o = rec(ix, id);
    struct owner_use *u;
    if (!o || h >= ix->nclink)
        return;
    owner_contact_unlink(ix, h);
    link_add(ix->clink, &o->contacts, h, id);
    o->ncontacts++;
    if ((u = use_of(ix, o->principal)))
        u->contacts++;
}

void owner_contact_unlink(struct owner_index *ix, uint32_t h)
{
    struct owner_rec *o;
    struct owner_use *u;
    if (h >= ix->nclink || !(o = rec(ix, ix->clink[h].owner)))
        return;
    uint32_t id = ix->clink[h].owner;
    link_del(ix->clink, &o->contacts, h);
    o->ncontacts--;
    if ((u = use_of(ix, o->principal)) && u->contacts)
        u->contacts--;
    owner_release(ix, id);
}

void owner_agent_link(struct owner_index *ix, uint32_t h, uint32_t id)
{
    struct owner_rec *o = rec(ix, id);
    struct owner_use *u;
    if (!o || h >= ix->nalink)
        return;
    owner_agent_unlink(ix, h);
    link_add(ix->alink, &o->agents, h, id);
    o->nagents++;
    if ((u = use_of(ix, o->principal)))
        u->agents++;
}

void owner_agent_unlink(struct owner_index *ix, uint32_t h)
{
    struct owner_rec *o;
    struct owner_use *u;
    if (h >= ix->nalink || !(o = rec(ix, ix->alink[h].owner)))
        return;
    uint32_t id = ix->alink[h].owner;
    link_del(ix->alink, &o->agents, h);
    o->nagents--;
    if ((u = use_of(ix, o->principal)) && u->agents)
        u->agents--;
    owner_release(ix, id);
}

uint32_t owner_contacts_first(const struct owner_index *ix, uint32_t id)
{
    const struct owner_rec *o = rec(ix, id);
    return o ? o->contacts : END;
}

uint32_t owner_contacts_next(const struct owner_index *ix, uint32_t h)
{
    return h < ix->nclink ? ix->clink[h].next : END;
}

uint32_t owner_agents_first(const struct owner_index *ix, uint32_t id)
{
    const struct owner_rec *o = rec(ix, id);
    return o ? o->agents : END;
}

uint32_t owner_agents_next(const struct owner_index *ix, uint32_t h)
{
    return h < ix->nalink ? ix->alink[h].next : END;
}

/* ---- grace ---- */

uint64_t owner_grace_next(const struct owner_index *ix)
{
    return ix->grace_head ? ix->recs[ix->grace_head].deadline : UINT64_MAX;
}

uint32_t owner_grace_pop(struct owner_index *ix, uint64_t now)
{
    uint32_t id = ix->grace_head;
    if (!id || ix->recs[id].deadline > now)
        return OWNER_NONE;
    grace_remove(ix, id);
    return id;
}

/* ---- quotas ---- */

int owner_quota_contact(struct owner_index *ix, int pi)
{
    struct owner_use *u = use_of(ix, pi);
    uint32_t q = u ? ix->auth->principals[pi].quota_contacts : 0;
    if (q && u->contacts >= q) {
        ix->quota_refusals++;
        return -EDQUOT;
    }
    return 0;
}

int owner_quota_agent(struct owner_index *ix, int pi)
{
    struct owner_use *u = use_of(ix, pi);
    uint32_t q = u ? ix->auth->principals[pi].quota_agents : 0;
    if (q && u->agents >= q) {
        ix->quota_refusals++;
        return -EDQUOT;
    }
    return 0;
}

int owner_quota_request(struct owner_index *ix, int pi, uint64_t now,
                        bool *log)
{
    struct owner_use *u = use_of(ix, pi);
    uint32_t rps = u ? ix->auth->principals[pi].quota_rps : 0;
    *log = false;
    if (!rps)
        return 0;
    if (now > u->refilled) {
        u->tokens += (double)(now - u->refilled) * rps / 1e6;
        if (u->tokens > rps)
            u->tokens = rps;
        u->refilled = now;
    }
    if (u->tokens >= 1.0) {
        u->tokens -= 1.0;
        return 0;
    }
    ix->quota_refusals++;
    if (now - u->warned >= 1000000 || u->warned == 0) {
        u->warned = now;
        *log = true;
    }
    return -EAGAIN;
}

struct owner_use owner_quota_use(const struct owner_index *ix, int pi)
{
    struct owner_use z = { 0 };
    return pi >= 0 && (unsigned)pi < ix->auth->nprincipals ? ix->use[pi] : z;
}

/* ---- checks ---- */

int owner_contact_check(const struct owner_index *ix, struct router *r,
                        const struct conn *c, const char *cid)
{
    struct router_contact_info ci;
    uint32_t h;

    if (auth_is_open(ix->auth) || router_contact_find(r, cid, &h) < 0)
        return 0;
    router_contact_info(r, h, &ci);
    if (c->role == ROLE(AGENT)) {
        if (ci.agent != UINT32_MAX &&
            auth_agent_allowed(ix->auth, c->principal,
                               router_agent_id(r, ci.agent)))
            return 0;
        return -EPERM;
    }
    return owner_principal(ix, ci.tag) == c->principal ? 0 : -EPERM;
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
