/* api.c -- the JSON API (/api/v1/...); see api.h and docs/http.md.
 *
 * Each answer is built as a jansson tree and dumped once: the views are
 * small (one object per queue or agent) and requested by people and
 * dashboards, not per routed contact, so clarity wins over a hand-rolled
 * writer. Nothing here runs on the routing path.
 */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "careapi.h"
#include "clock.h"
#include "config.h"
#include "outbound.h"
#include "router.h"
#include "tenant-t.h"

const char *api_agent_status(const struct router_agent_info *info)
{
    unsigned active = 0;
    for (int ch = 0; ch < ROUTER_CH_COUNT; ch++)
        active += info->busy[ch];
    switch (info->state) {
    case ROUTER_AGENT_STATE_AVAILABLE:
        /* as Stats: holding an offer or a contact is busy, even with
         * capacity left for more */
        return info->offers ? "offered" : active ? "on_contact"
                                                 : "available";
    case ROUTER_AGENT_STATE_AWAY:
        return "away";
    case ROUTER_AGENT_STATE_WRAPUP:
        return "wrapup";
    default:
        return "logged_out";
    }
}

const char *api_queue_name(const struct router *r, int qi, char *buf,
                           size_t len)
{
    if (qi < 0 || qi >= router_queue_total(r))
        return NULL;
    if (qi < router_queue_count(r))
        return router_queue_name(r, qi);
    if (!router_queue_is_virtual(r, qi))
        return NULL;
    int n = router_queue_label(r, qi, buf, len);
    return n >= 0 && (size_t)n < len ? buf : NULL;
}

static const char *const channel_names[ROUTER_CH_COUNT] = {
    "voice", "chat", "email", "social",
};

/* json_object_set_new() that remembers a failure instead of returning
 * it, so that a view is built in straight lines and checked once. */
static void put(json_t *o, const char *k, json_t *v, int *bad)
{
    if (!v || json_object_set_new(o, k, v) < 0)
        *bad = 1;
}

static json_t *queue_json(const struct tenant *s, int qi, const char *name,
                          uint64_t now)
{
    struct router_queue_stats qs;
    json_t *o = json_object();
    int bad = !o;
    if (bad)
        return NULL;
    router_queue_stats(s->router, qi, now, &qs);
    put(o, "name", json_string(name), &bad);
    put(o, "waiting", json_integer(qs.waiting), &bad);
    put(o, "unservable", json_integer(qs.unservable), &bad);
    put(o, "longest_wait_ms", json_integer(qs.longest_wait_ms), &bad);
    put(o, "offered", json_integer((json_int_t)qs.offered), &bad);
    put(o, "answered", json_integer((json_int_t)qs.answered), &bad);
    put(o, "answered_in_sl", json_integer((json_int_t)qs.answered_in_sl),
        &bad);
    put(o, "abandoned", json_integer((json_int_t)qs.abandoned), &bad);
    put(o, "service_level", json_real(qs.service_level), &bad);
    put(o, "avg_speed_of_answer_ms", json_integer(qs.asa_ms), &bad);
    put(o, "avg_handle_time_ms", json_integer(qs.aht_ms), &bad);
    put(o, "agents_available", json_integer(qs.agents_available), &bad);
    if (qi < router_queue_count(s->router) &&
        (unsigned)qi < s->cfg->router.nqueues) {
        const struct router_queue_config *qc = &s->cfg->router.queues[qi];
        json_t *t = json_object();
        int tbad = !t;
        if (t) {
            put(t, "percent", qc->sl_percent ? json_integer(qc->sl_percent)
                                             : json_null(), &tbad);
            put(t, "seconds", json_integer(qc->sl_threshold_ms / 1000),
                &tbad);
        }
        put(o, "service_level_target", tbad ? NULL : t, &bad);
        if (tbad)
            json_decref(t);
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *queues_json(const struct tenant *s)
{
    const struct router *r = s->router;
    uint64_t now = clock_mono_us();
    json_t *root = json_object(), *list = json_array();
    int bad = !root || !list;
    char label[256];

    for (int qi = 0; !bad && qi < router_queue_total(r); qi++) {
        const char *name = api_queue_name(r, qi, label, sizeof(label));
        json_t *q;
        if (!name)
            continue;       /* derived: counted in its base queue */
        q = queue_json(s, qi, name, now);
        if (!q || json_array_append_new(list, q) < 0)
            bad = 1;
    }
    if (root && !bad) {
        put(root, "contacts_waiting", json_integer(router_waiting_count(r)),
            &bad);
        put(root, "agents_logged_in", json_integer(router_agent_count(r)),
            &bad);
        put(root, "queues", list, &bad);
        put(root, "tenant", json_string(s->name), &bad);
        list = NULL;
    }
    json_decref(list);
    if (bad) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* GET /api/v1/campaigns: every campaign's figures (as Stats.campaigns)
 * and the callbacks'. */
static json_t *campaigns_json(const struct tenant *s)
{
    static const char *const runs[] = { "stopped", "running", "paused" };
    json_t *root = json_object(), *list = json_array(), *cbo = json_object();
    int bad = !root || !list || !cbo;
    int n = s->outbound ? outbound_campaign_count(s->outbound) : 0;
    struct outbound_cb_fig cf = { 0 };

    for (int i = 0; !bad && i < n; i++) {
        struct outbound_fig g;
        json_t *c = json_object(), *leads = json_object(),
               *outs = json_object();
        outbound_campaign_fig(s->outbound, i, &g);
        bad = !c || !leads || !outs;
        if (!bad) {
            put(leads, "total", json_integer((json_int_t)g.leads), &bad);
            put(leads, "waiting", json_integer((json_int_t)g.waiting), &bad);
            put(leads, "active", json_integer((json_int_t)g.active), &bad);
            put(leads, "done", json_integer((json_int_t)g.done), &bad);
            put(leads, "exhausted", json_integer((json_int_t)g.exhausted),
                &bad);
            put(leads, "dnc", json_integer((json_int_t)g.dnc), &bad);
            put(outs, "human", json_integer((json_int_t)g.human), &bad);
            put(outs, "machine", json_integer((json_int_t)g.machine), &bad);
            put(outs, "busy", json_integer((json_int_t)g.busy), &bad);
            put(outs, "no_answer", json_integer((json_int_t)g.no_answer),
                &bad);
            put(outs, "failed", json_integer((json_int_t)g.failed), &bad);
            put(outs, "dropped", json_integer((json_int_t)g.dropped), &bad);
            put(c, "campaign", json_string(g.campaign), &bad);
            put(c, "run", json_string(g.run >= 0 && g.run < 3 ? runs[g.run]
                                                              : "unknown"),
                &bad);
            put(c, "leads", leads, &bad);
            leads = NULL;
            put(c, "dials", json_integer((json_int_t)g.dials), &bad);
            put(c, "outcomes", outs, &bad);
            outs = NULL;
            put(c, "connected", json_integer((json_int_t)g.connected), &bad);
            put(c, "drop_rate", json_real(g.drop_rate), &bad);
            put(c, "drop_rate_window", json_real(g.drop_rate_window), &bad);
            put(c, "contacts_per_hour", json_real(g.contacts_per_hour),
                &bad);
            put(c, "agent_ms", json_integer((json_int_t)g.agent_ms), &bad);
        }
        json_decref(leads);
        json_decref(outs);
        if (bad) {
            json_decref(c);
            break;
        }
        /* takes c, also on a failure */
        if (json_array_append_new(list, c) < 0)
            bad = 1;
    }
    if (s->outbound)
        outbound_callback_fig(s->outbound, &cf);
    if (!bad) {
        put(cbo, "waiting", json_integer(cf.waiting), &bad);
        put(cbo, "held", json_integer(cf.held), &bad);
        put(cbo, "dials", json_integer((json_int_t)cf.dials), &bad);
        put(cbo, "connected", json_integer((json_int_t)cf.connected), &bad);
    }
    if (root && !bad) {
        put(root, "campaigns", list, &bad);
        list = NULL;
        put(root, "callbacks", cbo, &bad);
        cbo = NULL;
        put(root, "tenant", json_string(s->name), &bad);
    }
    json_decref(list);
    json_decref(cbo);
    if (bad) {
        json_decref(root);
        return NULL;
    }
    return root;
}

char *api_campaign_members(const struct tenant *s, size_t *len)
{
    json_t *j = campaigns_json(s);
    char *t;
    size_t n;
    if (!j)
        return NULL;
    json_object_del(j, "tenant");
    t = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!t || (n = strlen(t)) < 2) {
        free(t);
        return NULL;
    }
    memmove(t, t + 1, n - 2);       /* {...} -> ... */
    t[n - 2] = '\0';
    *len = n - 2;
    return t;
}

static json_t *agent_json(const struct router *r, uint32_t h, uint64_t now)
{
    struct router_agent_info in;
    unsigned active = 0;
    json_t *o = json_object();
    int bad = !o;
    if (bad)
        return NULL;
    router_agent_info(r, h, now, &in);
    for (int ch = 0; ch < ROUTER_CH_COUNT; ch++)
        active += in.busy[ch];
    put(o, "id", json_string(in.id), &bad);
    put(o, "status", json_string(api_agent_status(&in)), &bad);
    put(o, "in_wrapup", json_boolean(in.state == ROUTER_AGENT_STATE_WRAPUP),
        &bad);
    put(o, "reason", json_string(in.reason), &bad);
    put(o, "time_in_state_ms",
        json_integer(now > in.state_since
                     ? (json_int_t)((now - in.state_since) / 1000) : 0),
        &bad);
    put(o, "occupancy", json_real(in.occupancy), &bad);
    put(o, "active_contacts", json_integer(active), &bad);
    put(o, "offers", json_integer(in.offers), &bad);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Every logged-in agent, in handle order (the order of Stats). The walk
 * stops after router_agent_count() agents: O(highest handle in use). */
static json_t *agents_json(const struct tenant *s)
{
    const struct router *r = s->router;
    uint64_t now = clock_mono_us();
    unsigned want = router_agent_count(r), seen = 0;
    uint32_t max = s->cfg->router.max_agents;
    json_t *root = json_object(), *list = json_array();
    int bad = !root || !list;

    for (uint32_t h = 0; !bad && seen < want && h < max; h++) {
        json_t *a;
        if (!router_agent_id(r, h))
            continue;
        seen++;
        a = agent_json(r, h, now);
        if (!a || json_array_append_new(list, a) < 0)
            bad = 1;
    }
    if (root && !bad) {
        put(root, "agents", list, &bad);
        put(root, "tenant", json_string(s->name), &bad);
        list = NULL;
    }
    json_decref(list);
    if (bad) {
        json_decref(root);
        return NULL;
    }
    return root;
}

static const char *contact_state_name(enum router_contact_state st)
{
    switch (st) {
    case ROUTER_CONTACT_QUEUED: return "queued";
    case ROUTER_CONTACT_OFFERED: return "offered";
    case ROUTER_CONTACT_ASSIGNED: return "assigned";
    case ROUTER_CONTACT_COMPLETED: return "completed";
    case ROUTER_CONTACT_ABANDONED: return "abandoned";
    }
    return "unknown";
}

/* One contact, or NULL with *found 0 when the id is unknown. */
static json_t *contact_json(const struct tenant *s, const char *id,
                            int *found)
{
    const struct router *r = s->router;
    struct router_contact_info in;
    uint64_t now = clock_mono_us();
    uint32_t h;
    const char *qname, *agent;
    char label[256];
    json_t *o;
    int bad;

    *found = router_contact_find(r, id, &h) == 0;
    if (!*found)
        return NULL;
    router_contact_info(r, h, &in);
    qname = api_queue_name(r, in.queue, label, sizeof(label));
    agent = in.agent != UINT32_MAX ? router_agent_id(r, in.agent) : NULL;
    o = json_object();
    bad = !o;
    if (bad)
        return NULL;
    put(o, "id", json_string(in.id), &bad);
    put(o, "tenant", json_string(s->name), &bad);
    put(o, "state", json_string(contact_state_name(in.state)), &bad);
    put(o, "channel", json_string((unsigned)in.channel < ROUTER_CH_COUNT
                                  ? channel_names[in.channel] : "unknown"),
        &bad);
    put(o, "queue", qname ? json_string(qname) : json_null(), &bad);
    put(o, "priority", json_integer(in.priority), &bad);
    put(o, "value", json_integer(in.value), &bad);
    put(o, "age_ms", json_integer(now > in.arrived_at
                                  ? (json_int_t)((now - in.arrived_at) / 1000)
                                  : 0), &bad);
    put(o, "agent", agent ? json_string(agent) : json_null(), &bad);
    put(o, "unservable", json_boolean(in.unservable), &bad);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *not_found(const char *what)
{
    return json_pack("{s:s}", "error", what);
}

int api_get(const struct tenant *s, const char *rest, size_t len, char **out,
            size_t *outlen)
{
    static const char contacts[] = "contacts/";
    json_t *j = NULL;
    int status = 200;

    *out = NULL;
    *outlen = 0;
    if (len == 6 && !memcmp(rest, "queues", 6)) {
        j = queues_json(s);
    } else if (len == 6 && !memcmp(rest, "agents", 6)) {
        j = agents_json(s);
    } else if (len == 4 && !memcmp(rest, "care", 4)) {
        j = careapi_json(s, clock_mono_us(), clock_wall_ms());
    } else if (len == 9 && !memcmp(rest, "campaigns", 9)) {
        j = campaigns_json(s);
    } else if (len > sizeof(contacts) - 1 && len - (sizeof(contacts) - 1) <
                   ROUTER_ID_MAX &&
               !memcmp(rest, contacts, sizeof(contacts) - 1)) {
        char id[ROUTER_ID_MAX];
        int found = 0;
        size_t il = len - (sizeof(contacts) - 1);
        memcpy(id, rest + sizeof(contacts) - 1, il);
        id[il] = '\0';
        if (!memchr(id, '\0', il))
            j = contact_json(s, id, &found);
        if (!j && !found) {
            status = 404;
            j = not_found("no such contact");
        }
    } else {
        status = 404;
        j = not_found("no such resource");
    }
    if (!j)
        return 500;
    *out = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!*out)
        return 500;
    *outlen = strlen(*out);
    return status;
}
