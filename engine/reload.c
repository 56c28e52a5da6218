/* reload.c -- configuration reload without dropping work; see reload.h.
 *
 * Three steps, the first two without side effects:
 *   1. load the file into a fresh struct config (config_load checks all
 *      that a start checks, so a file that loads is a valid one);
 *   2. compare it with the running one, key by key, and stop at the first
 *      difference a reload may not make, or that would strand work under
 *      way (reload_refusal): a queue removed while it holds contacts and
 *      has no reload_fallback, one whose fallback is not in the new file,
 *      one a campaign or a held callback needs, channels taken from a
 *      queue while contacts wait on them;
 *   3. apply (reload_commit): in every tenant's router, queues added, then
 *      each queue's shape (router_queue_reshape: skills, channels,
 *      strategy, steps; or router_queue_set_step_times when only the
 *      times changed) and limits (router_queue_set_limits), then queues
 *      removed (router_queue_remove, their contacts to the fallback); the
 *      running queue array rebuilt in the routers' order, and care and
 *      outbound told of the new numbering; then the values into the
 *      running struct config that every module borrows, the principals'
 *      token and certificate arrays swapped with the fresh ones
 *      (config_fini then frees the old ones). A router call of step 3
 *      fails only out of memory: steps 1 and 2 let through only what the
 *      routers take.
 * Line numbers and the queues' order in the file are never compared: a
 * comment added at the top of the file changes nothing, queues are
 * matched by name.
 *
 * Why the queue array follows the routers and not the file: contact and
 * agent handles must not change (dispatch, owner, care and outbound index
 * their tables by them), so the routers change in place (router.c,
 * "reload: the queue set"); an added queue takes the next index, a
 * removed one's index goes to the last queue. Every module reads a
 * queue's configuration by its router index, so the running array is
 * put in that order. What is still built at start and refused: listen
 * and limits (the connection set), principals (the indexes owner records
 * and connections hold), redis, tenants, the routing weights and slots.
 * The care configuration is read at start only (its lists name queues:
 * a file whose care lists name a removed queue does not load).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth-t.h"
#include "care.h"
#include "clock.h"
#include "config.h"
#include "log.h"
#include "outbound.h"
#include "reload.h"
#include "router.h"
#include "tenant-t.h"

#define DIFF(cond, ...)                                                       \
    do {                                                                      \
        if (cond) {                                                           \
            snprintf(why, len, __VA_ARGS__);                                  \
            return 1;                                                         \
        }                                                                     \
    } while (0)

static bool patterns_differ(const struct auth_pattern *a, unsigned na,
                            const struct auth_pattern *b, unsigned nb)
{
    if (na != nb)
        return true;
    for (unsigned i = 0; i < na; i++)
        if (strcmp(a[i].text, b[i].text) || a[i].prefix != b[i].prefix)
            return true;
    return false;
}

static bool steps_differ(const struct router_queue_config *a,
                         const struct router_queue_config *b)
{
    if (a->nsteps != b->nsteps)
        return true;
    for (unsigned i = 0; i < a->nsteps; i++) {
        const struct router_step *x = &a->steps[i], *y = &b->steps[i];
        if (x->after_ms != y->after_ms || x->kind != y->kind ||
            strcmp(x->skill, y->skill) || x->level != y->level ||
            strcmp(x->queue, y->queue))
            return true;
    }
    return false;
}

/* The steps' order by time, stable (as the router sorts them). */
static void steps_sort(const struct router_queue_config *q, unsigned *ord)
{
    for (unsigned i = 0; i < q->nsteps; i++) {
        unsigned j = i;
        while (j > 0 && q->steps[ord[j - 1]].after_ms > q->steps[i].after_ms) {
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = i;
    }
}

/* Whether the steps differ in more than their times: taken in the order
 * of their times, the same kinds, skills, levels and queues. Only times
 * may change under waiting contacts (router_queue_set_step_times): the
 * rest decides which agents sit in which of the queue's pools. */
static bool steps_reshaped(const struct router_queue_config *a,
                           const struct router_queue_config *b)
{
    unsigned oa[ROUTER_MAX_STEPS], ob[ROUTER_MAX_STEPS];
    if (a->nsteps != b->nsteps)
        return true;
    steps_sort(a, oa);
    steps_sort(b, ob);
    for (unsigned i = 0; i < a->nsteps; i++) {
        const struct router_step *x = &a->steps[oa[i]], *y = &b->steps[ob[i]];
        if (x->kind != y->kind || x->level != y->level ||
            strcmp(x->skill, y->skill) || strcmp(x->queue, y->queue))
            return true;
    }
    return false;
}

static bool skill_listed(const struct router_config *r, const char *name)
{
    for (unsigned i = 0; i < r->nskills; i++)
        if (!strcmp(r->skills[i], name))
            return true;
    return false;
}

static int queue_find(const struct router_config *r, const char *name)
{
    for (unsigned i = 0; i < r->nqueues; i++)
        if (!strcmp(r->queues[i].name, name))
            return (int)i;
    return -1;
}

#define ALL_CHANNELS ((1U << ROUTER_CH_COUNT) - 1)

/* Contacts of configured queue `name` (and its derived queues) on the
 * channels in `channels`, over every tenant (queued or offered; with
 * !waiting_only assigned ones too): what a reload that removes the queue,
 * or those channels from it, would strand. The first one's id in
 * `first`. */
static unsigned long queue_holds(const struct tenant_set *set,
                                 const char *name, uint32_t channels,
                                 bool waiting_only, char *first, size_t len)
{
    unsigned long n = 0;
    first[0] = 0;
    for (unsigned t = 0; t < set->n; t++) {
        struct router *r = set->t[t]->router;
        int qi = r ? router_queue_find(r, name) : -1;
        char id[ROUTER_ID_MAX];
        if (qi < 0)
            continue;
        unsigned k = router_queue_holds(r, qi, channels, waiting_only, id,
                                        sizeof(id));
        if (k && !first[0])
            snprintf(first, len, "%s", id);
        n += k;
    }
    return n;
}

/* Where the contacts of running queue `a` go when the new configuration
 * `n` removes it: its own reload_fallback, else routing's in `n`; "" for
 * none. */
static const char *fallback_of(const struct router_queue_config *a,
                               const struct router_config *n)
{
    return a->reload_fallback[0] ? a->reload_fallback : n->reload_fallback;
}

static bool skills_differ(const struct router_queue_config *a,
                          const struct router_queue_config *b)
{
    bool d = a->nreq != b->nreq;
    for (unsigned k = 0; !d && k < a->nreq; k++)
        d = strcmp(a->req[k].skill, b->req[k].skill) ||
            a->req[k].min_level != b->req[k].min_level;
    return d;
}

/* Whether the queue's pools must be rebuilt (router_queue_reshape): its
 * skills, channels, strategy, or steps beyond their times changed. */
static bool shape_differs(const struct router_queue_config *a,
                          const struct router_queue_config *b)
{
    return skills_differ(a, b) || a->channel_mask != b->channel_mask ||
           a->strategy != b->strategy || steps_reshaped(a, b);
}

/* What the queue set and each queue's structure may not become with the
 * work under way: a queue removed while it holds contacts and no
 * fallback, one whose fallback is not in the new file, channels taken
 * from a queue while contacts wait on them. 1 with `why` filled, else 0. */
static int queues_refusal(const struct router_config *o,
                          const struct router_config *n,
                          const struct tenant_set *set, char *why,
                          size_t len)
{
    char first[ROUTER_ID_MAX];
    unsigned added = 0;
    for (unsigned i = 0; i < n->nqueues; i++)
        added += queue_find(o, n->queues[i].name) < 0;
    /* queues are added before others are removed (a fallback may be a
     * new queue): both sets live together for a moment */
    DIFF(o->nqueues + added > CONFIG_MAX_QUEUES, "queues: %u running and "
         "%u added exceed %u at once; add them in a later reload, after "
         "the removals", o->nqueues, added, CONFIG_MAX_QUEUES);
    for (unsigned i = 0; i < o->nqueues; i++) {
        const struct router_queue_config *a = &o->queues[i];
        if (queue_find(n, a->name) >= 0)
            continue;
        char use[160];
        for (unsigned t = 0; t < set->n; t++)
            DIFF(set->t[t]->outbound &&
                 outbound_queue_user(set->t[t]->outbound, a->name, use,
                                     sizeof(use)),
                 "queues: \"%.48s\" removed while %s", a->name, use);
        const char *fb = fallback_of(a, n);
        DIFF(fb[0] && queue_find(n, fb) < 0, "queues: \"%.48s\" removed; "
             "its reload_fallback \"%.48s\" is not in the new file",
             a->name, fb);
        if (fb[0])
            continue;
        unsigned long held = queue_holds(set, a->name, ALL_CHANNELS, false,
                                         first, sizeof(first));
        DIFF(held, "queues: \"%.48s\" removed with %lu contacts in it "
             "(the first: %.48s) and no reload_fallback (the queue's or "
             "routing's): set one, or remove it once empty", a->name, held,
             first);
    }
    for (unsigned i = 0; i < n->nqueues; i++) {
        const struct router_queue_config *b = &n->queues[i];
        int ai = queue_find(o, b->name);
        if (ai < 0)
            continue;
        uint32_t om = o->queues[ai].channel_mask, nm = b->channel_mask;
        uint32_t gone = (om ? om : ALL_CHANNELS) & ~(nm ? nm : ALL_CHANNELS);
        unsigned long held = gone ? queue_holds(set, b->name, gone, true,
                                                first, sizeof(first)) : 0;
        DIFF(held, "queues[%u] (%.48s): channels: %lu contacts wait on a "
             "channel it would no longer take (the first: %.48s)", i,
             b->name, held, first);
    }
    return 0;
}

/* The first difference between the running configuration `o` and the
 * fresh one `n` that a reload may not make: 1 with `why` filled, or 0. */
static int reload_refusal(const struct config *o, const struct config *n,
                          const struct reload_source *src,
                          const struct tenant_set *set, char *why, size_t len)
{
    DIFF(!src->keep_listen && (strcmp(o->listen_host, n->listen_host) ||
                               o->listen_port != n->listen_port),
         "listen changed");
    DIFF(o->tls.enabled != n->tls.enabled || strcmp(o->tls.cert, n->tls.cert)
         || strcmp(o->tls.key, n->tls.key) || strcmp(o->tls.ca, n->tls.ca)
         || o->tls.min_version != n->tls.min_version
         || strcmp(o->tls.ciphers, n->tls.ciphers), "listen.tls changed");
    DIFF(o->max_frame != n->max_frame, "max_frame changed");
    DIFF(o->max_output != n->max_output, "max_output changed");
    DIFF(memcmp(&o->limits, &n->limits, sizeof(o->limits)), "limits changed");
    DIFF(o->log.format != n->log.format || strcmp(o->log.file, n->log.file),
         "log changed (format or file)");
    DIFF(memcmp(&o->store, &n->store, sizeof(o->store)), "redis changed");
    DIFF(o->http.enabled != n->http.enabled || strcmp(o->http.host,
         n->http.host) || o->http.port != n->http.port ||
         o->http.require_token != n->http.require_token ||
         o->http.max_connections != n->http.max_connections ||
         o->http.request_timeout_ms != n->http.request_timeout_ms,
         "http changed");
    bool tenants = o->tenants.n != n->tenants.n ||
                   o->tenants.pool_max != n->tenants.pool_max;
    for (unsigned i = 0; !tenants && i < o->tenants.n; i++)
        tenants = strcmp(o->tenants.names[i], n->tenants.names[i]) != 0;
    DIFF(tenants, "tenants or tenant_pool changed");

    const struct router_config *ro = &o->router, *rn = &n->router;
    /* a skill listed may be added, not removed (nor the list emptied
     * or started: "any skill" and a list do not mix) */
    bool skills = (ro->nskills == 0) != (rn->nskills == 0);
    for (unsigned i = 0; !skills && i < ro->nskills; i++)
        skills = !skill_listed(rn, ro->skills[i]);
    DIFF(skills, "skills: a reload may add skills to the list, not remove "
         "one, start a list or empty it");
    DIFF(ro->max_agents != rn->max_agents ||
         ro->max_contacts != rn->max_contacts,
         "routing.max_agents or routing.max_contacts changed");
    DIFF(ro->priority_weight_ms != rn->priority_weight_ms ||
         ro->value_weight_ms != rn->value_weight_ms,
         "routing.priority_weight or routing.value_weight changed");
    DIFF(ro->preferred_wait_ms != rn->preferred_wait_ms,
         "routing.preferred_wait changed");
    DIFF(ro->max_no_answer != rn->max_no_answer,
         "routing.max_no_answer changed");
    DIFF(ro->voice_blocks_others != rn->voice_blocks_others,
         "routing.voice_blocks_others changed");
    DIFF(ro->default_offer_timeout_ms != rn->default_offer_timeout_ms,
         "routing.offer_timeout changed");
    DIFF(ro->max_contact_age_ms != rn->max_contact_age_ms,
         "routing.max_contact_age changed");
    if (queues_refusal(ro, rn, set, why, len))
        return 1;

    const struct auth_config *ao = &o->auth, *an = &n->auth;
    DIFF(ao->insecure_open != an->insecure_open ||
         ao->failure_delay_ms != an->failure_delay_ms ||
         ao->max_failures != an->max_failures ||
         strcmp(ao->token_file, an->token_file),
         "auth changed (a reload reads auth.token_file again, but may not "
         "change the auth section)");
    DIFF(ao->nprincipals != an->nprincipals, "principals: %u -> %u; a reload "
         "may not add or remove a principal", ao->nprincipals,
         an->nprincipals);
    for (unsigned i = 0; i < ao->nprincipals; i++) {
        const struct auth_principal *a = &ao->principals[i],
                                    *b = &an->principals[i];
        DIFF(strcmp(a->name, b->name), "principals[%u]: \"%s\" where \"%s\" "
             "was; a reload may not rename, add, remove or reorder "
             "principals", i, b->name, a->name);
        DIFF(a->roles != b->roles ||
             patterns_differ(a->clients, a->nclients, b->clients, b->nclients)
             || patterns_differ(a->agents, a->nagents, b->agents, b->nagents)
             || strcmp(a->tenant, b->tenant),
             "principals[%u] (%s): roles, clients, agents or tenant changed; "
             "a reload may change only its tokens, cert_fingerprints and "
             "quota", i, a->name);
    }
    return 0;
}

static bool limits_differ(const struct router_queue_config *a,
                          const struct router_queue_config *b)
{
    return a->sl_percent != b->sl_percent ||
           a->sl_threshold_ms != b->sl_threshold_ms ||
           a->offer_timeout_ms != b->offer_timeout_ms ||
           a->wrapup_ms != b->wrapup_ms || a->max_len != b->max_len ||
           a->max_wait_ms != b->max_wait_ms || strcmp(a->overflow, b->overflow);
}

static bool tokens_differ(const struct auth_config *a,
                          const struct auth_config *b)
{
    return a->ntokens != b->ntokens || a->ncerts != b->ncerts ||
           (a->ntokens && memcmp(a->tokens, b->tokens,
                                 a->ntokens * sizeof(*a->tokens))) ||
           (a->ncerts && memcmp(a->certs, b->certs,
                                a->ncerts * sizeof(*a->certs)));
}

static bool limits_or_fallback_differ(const struct router_queue_config *a,
                                      const struct router_queue_config *b)
{
    return limits_differ(a, b) ||
           strcmp(a->reload_fallback, b->reload_fallback) ||
           a->callback_attempts != b->callback_attempts ||
           a->callback_retry_ms != b->callback_retry_ms;
}

/* Logs a router call of the commit that failed: config_load and
 * reload_refusal let through only what the routers take, so this is out
 * of memory or a bug. */
static void commit_check(int rc, const char *what, const char *queue,
                         const struct tenant *t)
{
    if (rc < 0)
        log_error("reload: %s of queue %s in tenant %s: %s", what, queue,
                  t->name, ccr_strerror(rc));
}

/* The queues, in every tenant's router, in this order (router.c, "reload:
 * the queue set"): queues added (each at the end of the configured
 * range, bare), then each queue's shape (router_queue_reshape, or only
 * the step times) and limits, which may name the added queues, then the
 * queues removed (the last configured queue takes each one's index, so
 * no queue still names it: the new file does not). The running
 * configuration's queue array is rebuilt in the routers' resulting order,
 * which is not the file's: indexes are shared by every module (Stats,
 * /metrics, care) and are the routers'. A tenant without a router yet
 * builds it from that array later. */
static void reload_queues(struct config *o, struct config *n,
                          struct tenant_set *set, char *msg, size_t len,
                          size_t *atp)
{
    size_t at = *atp;
    unsigned said = 0;
    uint64_t now = clock_mono_us();
    struct router_config *ro = &o->router, *rn = &n->router;
    const char *order[CONFIG_MAX_QUEUES * 2];
    unsigned norder = 0;
#define SAYQ(...)                                                             \
    do {                                                                      \
        if (at < len)                                                         \
            at += (size_t)snprintf(msg + at, len - at, "%s",                  \
                                   said++ ? "," : " queues");                 \
        if (at < len)                                                         \
            at += (size_t)snprintf(msg + at, len - at, __VA_ARGS__);          \
    } while (0)

    for (unsigned i = 0; i < ro->nqueues; i++)
        order[norder++] = ro->queues[i].name;
    for (unsigned i = 0; i < rn->nskills; i++)
        for (unsigned t = 0; t < set->n; t++)
            if (set->t[t]->router && !skill_listed(ro, rn->skills[i]))
                commit_check(router_skill_add(set->t[t]->router,
                                              rn->skills[i]),
                             "skill", rn->skills[i], set->t[t]);
    for (unsigned i = 0; i < rn->nqueues; i++) {
        const struct router_queue_config *b = &rn->queues[i];
        if (queue_find(ro, b->name) >= 0)
            continue;
        for (unsigned t = 0; t < set->n; t++)
            if (set->t[t]->router)
                commit_check(router_queue_add(set->t[t]->router, b), "add",
                             b->name, set->t[t]);
        order[norder++] = b->name;
        SAYQ(" %s added", b->name);
    }
    for (unsigned i = 0; i < rn->nqueues; i++) {
        const struct router_queue_config *b = &rn->queues[i];
        int ai = queue_find(ro, b->name);
        const struct router_queue_config *a = ai >= 0 ? &ro->queues[ai]
                                                      : NULL;
        bool shape = a ? shape_differs(a, b) : b->nsteps > 0;
        bool times = a && !shape && steps_differ(a, b);
        bool limits = !a || limits_differ(a, b);
        for (unsigned t = 0; t < set->n; t++) {
            struct router *r = set->t[t]->router;
            int qi = r ? router_queue_find(r, b->name) : -1;
            if (qi < 0)
                continue;
            if (shape)
                commit_check(router_queue_reshape(r, now, qi, b), "shape",
                             b->name, set->t[t]);
            if (times)
                commit_check(router_queue_set_step_times(r, now, qi, b),
                             "step times", b->name, set->t[t]);
            if (limits)
                commit_check(router_queue_set_limits(r, qi, b), "limits",
                             b->name, set->t[t]);
        }
        if (a && (shape || times || limits_or_fallback_differ(a, b)))
            SAYQ(" %s%s", b->name, shape ? " (rebuilt: skills, channels, "
                 "strategy or steps)" : times ? " (step times)" : "");
    }
    for (unsigned i = 0; i < ro->nqueues; i++) {
        const struct router_queue_config *a = &ro->queues[i];
        if (queue_find(rn, a->name) >= 0)
            continue;
        const char *fb = fallback_of(a, rn);
        for (unsigned t = 0; t < set->n; t++) {
            struct router *r = set->t[t]->router;
            int qi = r ? router_queue_find(r, a->name) : -1;
            if (qi >= 0)
                commit_check(router_queue_remove(r, now, qi, fb[0] ?
                                                 router_queue_find(r, fb)
                                                 : -1),
                             "removal", a->name, set->t[t]);
        }
        for (unsigned k = 0; k < norder; k++)
            if (!strcmp(order[k], a->name)) {
                order[k] = order[--norder];
                break;
            }
        SAYQ(" %s removed%s%s", a->name, fb[0] ? ", its contacts to " : "",
             fb);
    }
    /* the running array, in the routers' order */
    struct router_queue_config *q = calloc(norder ? norder : 1, sizeof(*q));
    if (!q) {
        log_error("reload: out of memory rebuilding the queue list; the "
                  "routers have the new queues, the configuration the old");
    } else {
        for (unsigned k = 0; k < norder; k++)
            q[k] = rn->queues[queue_find(rn, order[k])];
        for (unsigned t = 0; t < set->n; t++) {
            struct router *r = set->t[t]->router;
            for (unsigned k = 0; r && k < norder; k++)
                if (strcmp(router_queue_name(r, (int)k), order[k]))
                    log_error("reload: tenant %s: queue %u is %s, not %s",
                              set->t[t]->name, k, router_queue_name(r, (int)k),
                              order[k]);
        }
        /* the modules that keep queue indexes follow the new numbering */
        int old_of_new[CONFIG_MAX_QUEUES * 2], new_of_old[CONFIG_MAX_QUEUES];
        bool moved = norder != ro->nqueues;
        for (unsigned k = 0; k < ro->nqueues; k++)
            new_of_old[k] = -1;
        for (unsigned k = 0; k < norder; k++) {
            old_of_new[k] = queue_find(ro, order[k]);
            if (old_of_new[k] >= 0)
                new_of_old[old_of_new[k]] = (int)k;
            moved |= old_of_new[k] != (int)k;
        }
        unsigned nold = ro->nqueues;
        free(rn->queues);           /* the fresh file's order: not kept */
        rn->queues = ro->queues;    /* config_fini(n) frees the old one */
        rn->nqueues = ro->nqueues;
        ro->queues = q;
        ro->nqueues = norder;
        for (unsigned t = 0; moved && t < set->n; t++) {
            struct tenant *tn = set->t[t];
            if (tn->care && care_queues_moved(tn->care, ro, old_of_new) < 0)
                log_error("reload: tenant %s: out of memory renumbering "
                          "the care counts; care lists may apply to the "
                          "wrong queues until a restart", tn->name);
            if (tn->outbound)
                outbound_queues_moved(tn->outbound, new_of_old, nold);
        }
    }
    /* the list of skills grew (reload_refusal): the fresh one is kept */
    const char **sk = ro->skills;
    unsigned nsk = ro->nskills;
    ro->skills = rn->skills;
    ro->nskills = rn->nskills;
    rn->skills = sk;
    rn->nskills = nsk;
    snprintf(ro->reload_fallback, sizeof(ro->reload_fallback), "%s",
             rn->reload_fallback);
#undef SAYQ
    *atp = at;
}

/* Step 3: nothing here can fail (see the top of the file). Writes a
 * summary of what changed into `msg`. */
/* `campaigns:` (docs/outbound.md): the entries added or changed are
 * upserted as CampaignUpsert would, in every tenant this engine owns now
 * (one that takes its lease later applies the running list then); the
 * running list becomes the file's. One removed from the file stays as it
 * is. A campaign that cannot be applied (its record not admitted by the
 * store) is logged by outbound and not in effect; the reload goes on. */
static void reload_campaigns(struct config *o, struct config *n,
                             struct tenant_set *set, char *msg, size_t len,
                             size_t *at)
{
    struct config_campaign *v = o->campaigns;
    unsigned nv = o->ncampaigns, changed = 0;

    for (unsigned i = 0; i < n->ncampaigns; i++) {
        const struct config_campaign *e = &n->campaigns[i], *was = NULL;
        for (unsigned k = 0; k < nv && !was; k++)
            if (!strcmp(v[k].cfg.name, e->cfg.name))
                was = &v[k];
        if (!was || memcmp(&was->cfg, &e->cfg, sizeof(e->cfg)) ||
            was->start != e->start)
            changed++;
    }
    if (!changed)
        return;
    for (unsigned t = 0; t < set->n; t++) {
        struct tenant *tn = set->t[t];
        if (tn->outbound && tn->role == STORE_ROLE_OWNER &&
            outbound_config_apply(tn->outbound, n->campaigns, n->ncampaigns,
                                  v, nv) < 0)
            log_error("reload: tenant %s: a configured campaign was not "
                      "applied (logged above)", tn->name);
    }
    if (*at < len)
        *at += (size_t)snprintf(msg + *at, len - *at, " campaigns: %u "
                                "added or changed", changed);
    o->campaigns = n->campaigns;            /* the old ones are freed by */
    o->ncampaigns = n->ncampaigns;          /* config_fini(n) */
    n->campaigns = v;
    n->ncampaigns = nv;
}

static void reload_commit(struct config *o, struct config *n,
                          const struct reload_source *src,
                          struct tenant_set *set, char *msg, size_t len)
{
    size_t at = 0;
#define SAY(...)                                                              \
    do {                                                                      \
        if (at < len)                                                         \
            at += (size_t)snprintf(msg + at, len - at, __VA_ARGS__);          \
    } while (0)

    SAY("configuration generation %llu:",
        (unsigned long long)set->reload.generation + 1);
    reload_queues(o, n, set, msg, len, &at);
    if (tokens_differ(&o->auth, &n->auth)) {
        SAY(" tokens replaced (%u tokens, %u certificates; were %u, %u)",
            n->auth.ntokens, n->auth.ncerts, o->auth.ntokens,
            o->auth.ncerts);
        struct auth_token *tk = o->auth.tokens;
        unsigned ntk = o->auth.ntokens;
        struct auth_cert *ce = o->auth.certs;
        unsigned nce = o->auth.ncerts;
        o->auth.tokens = n->auth.tokens;
        o->auth.ntokens = n->auth.ntokens;
        o->auth.certs = n->auth.certs;
        o->auth.ncerts = n->auth.ncerts;
        n->auth.tokens = tk;        /* freed (and wiped) by config_fini */
        n->auth.ntokens = ntk;
        n->auth.certs = ce;
        n->auth.ncerts = nce;
    }
    for (unsigned i = 0; i < o->auth.nprincipals; i++) {
        struct auth_principal *a = &o->auth.principals[i];
        const struct auth_principal *b = &n->auth.principals[i];
        if (a->quota_contacts == b->quota_contacts &&
            a->quota_agents == b->quota_agents &&
            a->quota_rps == b->quota_rps)
            continue;
        SAY(" quota of %s", a->name);
        a->quota_contacts = b->quota_contacts;
        a->quota_agents = b->quota_agents;
        a->quota_rps = b->quota_rps;
    }
    if (o->grace_ms != n->grace_ms) {
        SAY(" grace %u -> %u ms", o->grace_ms, n->grace_ms);
        o->grace_ms = n->grace_ms;
    }
    if (o->max_attributes != n->max_attributes ||
        o->max_attribute_bytes != n->max_attribute_bytes) {
        SAY(" attribute bounds");
        o->max_attributes = n->max_attributes;
        o->max_attribute_bytes = n->max_attribute_bytes;
    }
    if (!src->keep_log_level && o->log_level != n->log_level) {
        SAY(" log_level");
        o->log_level = n->log_level;
        log_set_level(o->log_level);
    }
    reload_campaigns(o, n, set, msg, len, &at);
    if (at < len && msg[at - 1] == ':')     /* nothing was said */
        SAY(" nothing changed");
#undef SAY
}

int reload_apply(struct config *live, const struct reload_source *src,
                 struct tenant_set *set, char *msg, size_t len)
{
    struct config next;
    char err[RELOAD_MSG_MAX];
    int rc = 0;

    set->reload.last_at_ms = clock_wall_ms();
    if (!src->path[0]) {
        snprintf(err, sizeof(err), "the engine was started without "
                 "--config: there is no file to reload");
        rc = RELOAD_ENOTRELOADABLE;
        goto refused;
    }
    config_defaults(&next);
    if (config_load(&next, src->path, err, sizeof(err)) < 0) {
        config_fini(&next);
        rc = RELOAD_EINVALID;
        goto refused;
    }
    char why[RELOAD_MSG_MAX / 2];
    if (reload_refusal(live, &next, src, set, why, sizeof(why))) {
        snprintf(err, sizeof(err), "%.200s: %s", src->path, why);
        config_fini(&next);
        rc = RELOAD_ENOTRELOADABLE;
        goto refused;
    }
    reload_commit(live, &next, src, set, msg, len);
    config_fini(&next);
    set->reload.generation++;
    set->reload.applied++;
    set->reload.last_error[0] = 0;
    log_info("reload: %s: %s", src->path, msg);
    return 0;
refused:
    set->reload.refused++;
    snprintf(set->reload.last_error, sizeof(set->reload.last_error), "%s",
             err);
    snprintf(msg, len, "reload refused, nothing changed: %s", err);
    log_error("%s", msg);
    return rc;
}
