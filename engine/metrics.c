/* metrics.c -- the Prometheus text format; see metrics.h and docs/http.md.
 *
 * Layout of the output: one family after the other, each with its # HELP
 * and # TYPE lines and then every sample of it (the format wants a
 * family's samples together), so the per-queue families loop over the
 * queues inside. Queues are the ones Stats reports, under the same names
 * (api_queue_name). Label values are escaped as the format says
 * (backslash, double quote, newline).
 *
 * Tenants: with more than one, every sample of a tenant's router or
 * store carries a `tenant` label (the first label); with one, the output
 * is as it always was, without it.
 *
 * Units follow Prometheus' conventions: times in seconds (the router's
 * millisecond figures written as exact decimals, so 1234 ms is 1.234),
 * ratios from 0 to 1, counters ending in _total.
 */
#include "metrics.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "caremetrics.h"
#include "clock.h"
#include "config.h"
#include "conn.h"
#include "lathist.h"
#include "outbound.h"
#include "promtext.h"
#include "router.h"
#include "server-t.h"
#include "store.h"
#include "tenant-t.h"

#include "ccroute.pb-c.h"

/* The format's helpers (promtext.h), under this file's short names. */
static inline void family(FILE *f, const char *name, const char *type,
                          const char *help)
{
    promtext_family(f, name, type, help);
}

static inline void label_value(FILE *f, const char *v)
{
    promtext_label(f, v);
}

/* Milliseconds as exact decimal seconds. */
static void seconds(FILE *f, uint64_t ms)
{
    fprintf(f, "%" PRIu64 ".%03u", ms / 1000, (unsigned)(ms % 1000));
}

static void scalar(FILE *f, const char *name, const char *type,
                   const char *help, uint64_t v)
{
    family(f, name, type, help);
    fprintf(f, "%s %" PRIu64 "\n", name, v);
}

/* The opening of a tenant's sample: `name{tenant="t"` followed by `,`
 * when more labels follow, or `}` when not; just `name` / `name{` with
 * one tenant. */
static void topen(FILE *f, const char *name, const struct tenant *t,
                  bool more)
{
    fputs(name, f);
    if (t->set->n > 1) {
        fputs("{tenant=\"", f);
        label_value(f, t->name);
        fputs(more ? "\"," : "\"}", f);
    } else if (more) {
        fputc('{', f);
    }
}

/* ---- queues ---- */

struct mq {
    const struct tenant *t;
    const char *name;               /* borrowed from the router or `label` */
    char label[256];
    int qi;
    bool configured;
    struct router_queue_stats st;
};

enum qfield {
    QF_WAITING, QF_UNSERVABLE, QF_LONGEST, QF_OFFERED, QF_ANSWERED,
    QF_ANSWERED_SL, QF_ABANDONED, QF_SL, QF_SL_TARGET, QF_SL_SECONDS,
    QF_ASA, QF_AHT, QF_AVAILABLE, QF_COUNT,
};

static const struct {
    const char *name, *type, *help;
} qfam[QF_COUNT] = {
    [QF_WAITING] = { "ccroute_queue_waiting", "gauge",
        "Contacts waiting in the queue (queued or offered, not answered)" },
    [QF_UNSERVABLE] = { "ccroute_queue_unservable", "gauge",
        "Waiting contacts that no logged-in agent could ever serve" },
    [QF_LONGEST] = { "ccroute_queue_longest_wait_seconds", "gauge",
        "Wait of the longest-waiting contact, since its arrival" },
    [QF_OFFERED] = { "ccroute_queue_offered_total", "counter",
        "Contacts that entered the queue" },
    [QF_ANSWERED] = { "ccroute_queue_answered_total", "counter",
        "Contacts answered by an agent" },
    [QF_ANSWERED_SL] = { "ccroute_queue_answered_in_sl_total", "counter",
        "Contacts answered within the service level threshold" },
    [QF_ABANDONED] = { "ccroute_queue_abandoned_total", "counter",
        "Contacts abandoned before an answer" },
    [QF_SL] = { "ccroute_queue_service_level_ratio", "gauge",
        "Answered within the threshold / (answered + abandoned)" },
    [QF_SL_TARGET] = { "ccroute_queue_service_level_target_ratio", "gauge",
        "Configured service level target (queues with a target only)" },
    [QF_SL_SECONDS] = { "ccroute_queue_service_level_threshold_seconds",
        "gauge", "Configured service level threshold (configured queues "
        "only)" },
    [QF_ASA] = { "ccroute_queue_avg_speed_of_answer_seconds", "gauge",
        "Average speed of answer" },
    [QF_AHT] = { "ccroute_queue_avg_handle_time_seconds", "gauge",
        "Average handle time" },
    [QF_AVAILABLE] = { "ccroute_queue_agents_available", "gauge",
        "Agents of the queue free to take a contact now" },
};

static void queue_sample(FILE *f, const struct server *s, enum qfield k,
                         const struct mq *q)
{
    const struct router_queue_stats *st = &q->st;
    const struct router_queue_config *qc =
        q->configured ? &s->cfg->router.queues[q->qi] : NULL;
    if ((k == QF_SL_TARGET || k == QF_SL_SECONDS) && !qc)
        return;
    if (k == QF_SL_TARGET && !qc->sl_percent)
        return;                     /* no target configured */
    topen(f, qfam[k].name, q->t, true);
    fputs("queue=\"", f);
    label_value(f, q->name);
    fputs("\"} ", f);
    switch (k) {
    case QF_WAITING: fprintf(f, "%" PRIu32, st->waiting); break;
    case QF_UNSERVABLE: fprintf(f, "%" PRIu32, st->unservable); break;
    case QF_LONGEST: seconds(f, st->longest_wait_ms); break;
    case QF_OFFERED: fprintf(f, "%" PRIu64, st->offered); break;
    case QF_ANSWERED: fprintf(f, "%" PRIu64, st->answered); break;
    case QF_ANSWERED_SL: fprintf(f, "%" PRIu64, st->answered_in_sl); break;
    case QF_ABANDONED: fprintf(f, "%" PRIu64, st->abandoned); break;
    case QF_SL: fprintf(f, "%.17g", st->service_level); break;
    case QF_SL_TARGET:
        fprintf(f, "%u.%02u", qc->sl_percent / 100, qc->sl_percent % 100);
        break;
    case QF_SL_SECONDS: seconds(f, qc->sl_threshold_ms); break;
    case QF_ASA: seconds(f, st->asa_ms); break;
    case QF_AHT: seconds(f, st->aht_ms); break;
    case QF_AVAILABLE: fprintf(f, "%" PRIu32, st->agents_available); break;
    case QF_COUNT: break;
    }
    fputc('\n', f);
}

static int m_queues(FILE *f, const struct server *s, uint64_t now)
{
    size_t cap = 0, n = 0;
    struct mq *qs;
    for (unsigned i = 0; i < s->tenants.n; i++)
        cap += (size_t)router_queue_total(s->tenants.t[i]->router);
    if (!(qs = calloc(cap ? cap : 1, sizeof(*qs))))
        return -1;
    for (unsigned i = 0; i < s->tenants.n; i++) {
        const struct tenant *t = s->tenants.t[i];
        const struct router *r = t->router;
        int total = router_queue_total(r), nconf = router_queue_count(r);
        for (int qi = 0; qi < total && n < cap; qi++) {
            struct mq *q = &qs[n];
            q->name = api_queue_name(r, qi, q->label, sizeof(q->label));
            if (!q->name)
                continue;
            q->t = t;
            q->qi = qi;
            q->configured = qi < nconf &&
                            (unsigned)qi < s->cfg->router.nqueues;
            router_queue_stats(r, qi, now, &q->st);
            n++;
        }
    }
    for (int k = 0; k < QF_COUNT; k++) {
        family(f, qfam[k].name, qfam[k].type, qfam[k].help);
        for (size_t i = 0; i < n; i++)
            queue_sample(f, s, (enum qfield)k, &qs[i]);
    }
    free(qs);
    return 0;
}

/* ---- agents ---- */

static void m_agents(FILE *f, const struct server *s, uint64_t now)
{
    static const char *const states[] = {
        "available", "offered", "on_contact", "away", "wrapup",
    };
    enum { NSTATES = sizeof(states) / sizeof(states[0]) };
    const struct tenant_set *ts = &s->tenants;
    uint64_t (*count)[NSTATES] = calloc(ts->n, sizeof(*count));

    /* every logged-in agent of every tenant: O(highest handle in use) */
    for (unsigned ti = 0; count && ti < ts->n; ti++) {
        const struct router *r = ts->t[ti]->router;
        unsigned want = router_agent_count(r), seen = 0;
        for (uint32_t h = 0; seen < want && h < s->cfg->router.max_agents;
             h++) {
            struct router_agent_info in;
            const char *st;
            if (!router_agent_id(r, h))
                continue;
            seen++;
            router_agent_info(r, h, now, &in);
            st = api_agent_status(&in);
            for (int i = 0; i < NSTATES; i++)
                if (!strcmp(st, states[i]))
                    count[ti][i]++;
        }
    }
    family(f, "ccroute_agents_logged_in", "gauge", "Agents logged in");
    for (unsigned ti = 0; ti < ts->n; ti++) {
        topen(f, "ccroute_agents_logged_in", ts->t[ti], false);
        fprintf(f, " %u\n", router_agent_count(ts->t[ti]->router));
    }
    family(f, "ccroute_agents", "gauge", "Logged-in agents by status (as "
           "Stats reports it)");
    for (unsigned ti = 0; count && ti < ts->n; ti++)
        for (int i = 0; i < NSTATES; i++) {
            topen(f, "ccroute_agents", ts->t[ti], true);
            fprintf(f, "status=\"%s\"} %" PRIu64 "\n", states[i],
                    count[ti][i]);
        }
    free(count);
    family(f, "ccroute_contacts_waiting", "gauge", "Contacts waiting in "
           "every queue");
    for (unsigned ti = 0; ti < ts->n; ti++) {
        topen(f, "ccroute_contacts_waiting", ts->t[ti], false);
        fprintf(f, " %u\n", router_waiting_count(ts->t[ti]->router));
    }
    family(f, "ccroute_contacts", "gauge", "Live contacts (waiting or with "
           "an agent)");
    for (unsigned ti = 0; ti < ts->n; ti++) {
        topen(f, "ccroute_contacts", ts->t[ti], false);
        fprintf(f, " %u\n", router_contact_count(ts->t[ti]->router));
    }
}

/* ---- outbound campaigns and callbacks (docs/outbound.md) ---- */

/* `name{[tenant="t",]campaign="c"` then `,` (more) or `} `. */
static void copen(FILE *f, const char *name, const struct tenant *t,
                  const char *campaign, bool more)
{
    topen(f, name, t, true);
    fputs("campaign=\"", f);
    label_value(f, campaign);
    fputs(more ? "\"," : "\"} ", f);
}

enum cfield {
    CF_RUNNING, CF_LEADS, CF_DIALS, CF_OUTCOMES, CF_CONNECTED, CF_DROP,
    CF_DROP_WINDOW, CF_PER_HOUR, CF_AGENT_SECONDS, CF_COUNT,
};

static const struct {
    const char *name, *type, *help;
} cfam[CF_COUNT] = {
    [CF_RUNNING] = { "ccroute_campaign_running", "gauge",
        "1 while the campaign runs (started, not paused or stopped)" },
    [CF_LEADS] = { "ccroute_campaign_leads", "gauge",
        "Leads of the campaign by state" },
    [CF_DIALS] = { "ccroute_campaign_dials_total", "counter",
        "DialRequests sent by this engine since it started" },
    [CF_OUTCOMES] = { "ccroute_campaign_outcomes_total", "counter",
        "Dial outcomes by kind (dropped: answered, no agent in time)" },
    [CF_CONNECTED] = { "ccroute_campaign_connected_total", "counter",
        "Answered calls that reached an agent" },
    [CF_DROP] = { "ccroute_campaign_drop_ratio", "gauge",
        "Dropped / answered by a person, over the campaign's life" },
    [CF_DROP_WINDOW] = { "ccroute_campaign_drop_window_ratio", "gauge",
        "Dropped / answered by a person, last 30 minutes" },
    [CF_PER_HOUR] = { "ccroute_campaign_contacts_per_hour", "gauge",
        "Connected calls per hour since the campaign was first started" },
    [CF_AGENT_SECONDS] = { "ccroute_campaign_agent_seconds_total",
        "counter", "Agents' time on the campaign's calls that ended" },
};

static void campaign_sample(FILE *f, enum cfield k, const struct tenant *t,
                            const struct outbound_fig *g)
{
    static const char *const lstates[] = {
        "waiting", "active", "done", "exhausted", "dnc",
    };
    static const char *const outs[] = {
        "human", "machine", "busy", "no_answer", "failed", "dropped",
    };
    const uint64_t lv[] = { g->waiting, g->active, g->done, g->exhausted,
                            g->dnc };
    const uint64_t ov[] = { g->human, g->machine, g->busy, g->no_answer,
                            g->failed, g->dropped };
    switch (k) {
    case CF_LEADS:
        for (int i = 0; i < 5; i++) {
            copen(f, cfam[k].name, t, g->campaign, true);
            fprintf(f, "state=\"%s\"} %" PRIu64 "\n", lstates[i], lv[i]);
        }
        return;
    case CF_OUTCOMES:
        for (int i = 0; i < 6; i++) {
            copen(f, cfam[k].name, t, g->campaign, true);
            fprintf(f, "outcome=\"%s\"} %" PRIu64 "\n", outs[i], ov[i]);
        }
        return;
    default:
        break;
    }
    copen(f, cfam[k].name, t, g->campaign, false);
    switch (k) {
    case CF_RUNNING:
        fprintf(f, "%d", g->run == CCROUTE__V1__CAMPAIGN_RUN__CAMPAIGN_RUN_RUNNING);
        break;
    case CF_DIALS: fprintf(f, "%" PRIu64, g->dials); break;
    case CF_CONNECTED: fprintf(f, "%" PRIu64, g->connected); break;
    case CF_DROP: fprintf(f, "%.17g", g->drop_rate); break;
    case CF_DROP_WINDOW: fprintf(f, "%.17g", g->drop_rate_window); break;
    case CF_PER_HOUR: fprintf(f, "%.17g", g->contacts_per_hour); break;
    case CF_AGENT_SECONDS: fprintf(f, "%.3f", g->agent_ms / 1000.0); break;
    default: break;
    }
    fputc('\n', f);
}

static void m_outbound(FILE *f, const struct server *s)
{
    const struct tenant_set *ts = &s->tenants;
    for (int k = 0; k < CF_COUNT; k++) {
        family(f, cfam[k].name, cfam[k].type, cfam[k].help);
        for (unsigned ti = 0; ti < ts->n; ti++) {
            const struct outbound *ob = ts->t[ti]->outbound;
            int n = ob ? outbound_campaign_count(ob) : 0;
            for (int i = 0; i < n; i++) {
                struct outbound_fig g;
                outbound_campaign_fig(ob, i, &g);
                campaign_sample(f, (enum cfield)k, ts->t[ti], &g);
            }
        }
    }
    family(f, "ccroute_callbacks", "gauge", "Callbacks: waiting in their "
           "queue (or being dialed), or held out of it until their time");
    for (unsigned ti = 0; ti < ts->n; ti++) {
        struct outbound_cb_fig c = { 0 };
        if (ts->t[ti]->outbound)
            outbound_callback_fig(ts->t[ti]->outbound, &c);
        topen(f, "ccroute_callbacks", ts->t[ti], true);
        fprintf(f, "state=\"waiting\"} %" PRIu32 "\n", c.waiting);
        topen(f, "ccroute_callbacks", ts->t[ti], true);
        fprintf(f, "state=\"held\"} %" PRIu32 "\n", c.held);
    }
    family(f, "ccroute_callback_dials_total", "counter", "DialRequests for "
           "callbacks sent by this engine since it started");
    for (unsigned ti = 0; ti < ts->n; ti++) {
        struct outbound_cb_fig c = { 0 };
        if (ts->t[ti]->outbound)
            outbound_callback_fig(ts->t[ti]->outbound, &c);
        topen(f, "ccroute_callback_dials_total", ts->t[ti], false);
        fprintf(f, " %" PRIu64 "\n", c.dials);
    }
    family(f, "ccroute_callbacks_connected_total", "counter", "Callbacks "
           "answered by the customer (the agent has them)");
    for (unsigned ti = 0; ti < ts->n; ti++) {
        struct outbound_cb_fig c = { 0 };
        if (ts->t[ti]->outbound)
            outbound_callback_fig(ts->t[ti]->outbound, &c);
        topen(f, "ccroute_callbacks_connected_total", ts->t[ti], false);
        fprintf(f, " %" PRIu64 "\n", c.connected);
    }
    /* follow-ups (docs/care.md): Stats.followups */
    family(f, "ccroute_followups", "gauge", "Follow-ups: scheduled (not "
           "due yet) or waiting (due, no agent yet)");
    for (unsigned ti = 0; ti < ts->n; ti++) {
        struct callback_fu_fig c = { 0 };
        if (ts->t[ti]->outbound)
            outbound_followup_fig(ts->t[ti]->outbound, &c);
        topen(f, "ccroute_followups", ts->t[ti], true);
        fprintf(f, "state=\"scheduled\"} %" PRIu32 "\n", c.scheduled);
        topen(f, "ccroute_followups", ts->t[ti], true);
        fprintf(f, "state=\"waiting\"} %" PRIu32 "\n", c.waiting);
    }
    family(f, "ccroute_followups_created_total", "counter", "Follow-ups "
           "made by completions since this engine took the tenant");
    for (unsigned ti = 0; ti < ts->n; ti++) {
        struct callback_fu_fig c = { 0 };
        if (ts->t[ti]->outbound)
            outbound_followup_fig(ts->t[ti]->outbound, &c);
        topen(f, "ccroute_followups_created_total", ts->t[ti], false);
        fprintf(f, " %" PRIu64 "\n", c.created);
    }
    family(f, "ccroute_followups_overdue_total", "counter", "Follow-ups "
           "escalated: no agent within overdue_after of their due time");
    for (unsigned ti = 0; ti < ts->n; ti++) {
        struct callback_fu_fig c = { 0 };
        if (ts->t[ti]->outbound)
            outbound_followup_fig(ts->t[ti]->outbound, &c);
        topen(f, "ccroute_followups_overdue_total", ts->t[ti], false);
        fprintf(f, " %" PRIu64 "\n", c.overdue);
    }
}

/* ---- connections, frames, errors ---- */

static void m_connections(FILE *f, const struct server *s)
{
    /* by Ccroute__V1__Role number; "none" also for no Hello yet */
    static const char *const roles[] = {
        "none", "switch", "gateway", "agent", "dialer", "monitor", "admin",
    };
    enum { NROLES = sizeof(roles) / sizeof(roles[0]) };
    const struct conn_set *cs = &s->conns;
    const struct conn_stats *st = &cs->stats;
    uint64_t count[NROLES] = { 0 };
    uint32_t cur = 0;
    struct conn *c;

    while ((c = conn_set_next(cs, &cur)))
        count[c->hello && c->role > 0 && c->role < NROLES ? c->role : 0]++;
    family(f, "ccroute_connections", "gauge", "Protocol connections open, "
           "by the role of their Hello (none: no Hello yet)");
    for (int i = 0; i < NROLES; i++)
        fprintf(f, "ccroute_connections{role=\"%s\"} %" PRIu64 "\n",
                roles[i], count[i]);
    scalar(f, "ccroute_connections_accepted_total", "counter",
           "Protocol connections accepted", st->accepted);
    scalar(f, "ccroute_connections_refused_total", "counter", "Protocol "
           "connections refused at limits.max_connections", st->refused_full);
    family(f, "ccroute_connection_timeouts_total", "counter", "Protocol "
           "connections closed by a deadline, by deadline");
    fprintf(f, "ccroute_connection_timeouts_total{deadline=\"hello\"} %"
            PRIu64 "\n", st->hello_timeouts);
    fprintf(f, "ccroute_connection_timeouts_total{deadline=\"frame\"} %"
            PRIu64 "\n", st->frame_timeouts);
    fprintf(f, "ccroute_connection_timeouts_total{deadline=\"idle\"} %"
            PRIu64 "\n", st->idle_timeouts);
    fprintf(f, "ccroute_connection_timeouts_total{deadline=\"pong\"} %"
            PRIu64 "\n", st->pong_timeouts);
    scalar(f, "ccroute_frames_received_total", "counter",
           "Protocol frames received whole and handed to dispatch",
           st->frames_in);
    scalar(f, "ccroute_frames_sent_total", "counter",
           "Protocol frames queued for clients", st->frames_out);
    family(f, "ccroute_errors_sent_total", "counter",
           "Error messages sent to clients, by error code");
    for (unsigned code = 1; code < CONN_ERROR_CODES; code++) {
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
            &ccroute__v1__error_code__descriptor, (int)code);
        const char *n;
        if (!v)
            continue;
        n = v->name;
        if (!strncmp(n, "ERROR_CODE_", 11))
            n += 11;
        fprintf(f, "ccroute_errors_sent_total{code=\"%s\"} %" PRIu64 "\n",
                n, st->errors_out[code]);
    }
}

/* A Prometheus histogram: cumulative `le` buckets in seconds (the bounds
 * are whole microseconds, written exactly), _sum in seconds, _count. */
static void histogram(FILE *f, const char *name, const char *help,
                      const struct lathist *h)
{
    uint64_t cum = 0;
    family(f, name, "histogram", help);
    for (unsigned i = 0; i < LATHIST_NBOUNDS; i++) {
        uint64_t b = lathist_bounds_us[i];
        cum += h->bucket[i];
        fprintf(f, "%s_bucket{le=\"%" PRIu64 ".%06u\"} %" PRIu64 "\n", name,
                b / 1000000, (unsigned)(b % 1000000), cum);
    }
    fprintf(f, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, h->count);
    fprintf(f, "%s_sum %" PRIu64 ".%06u\n", name, h->sum_us / 1000000,
            (unsigned)(h->sum_us % 1000000));
    fprintf(f, "%s_count %" PRIu64 "\n", name, h->count);
}

/* ---- store ---- */

/* One family of a store counter: a sample per tenant (`st` names the
 * tenant's struct store_stats in `expr`). */
#define TSCALAR(name, type, help, expr) do {                               \
        family(f, name, type, help);                                       \
        for (unsigned ti_ = 0; ti_ < ts->n; ti_++) {                       \
            const struct store_stats *st = &sts[ti_];                      \
            topen(f, name, ts->t[ti_], false);                             \
            fprintf(f, " %" PRIu64 "\n", (uint64_t)(expr));              \
        }                                                                  \
    } while (0)

static void m_store(FILE *f, const struct server *s)
{
    static const char *const roles[] = {
        [STORE_ROLE_NONE] = "none", [STORE_ROLE_STANDBY] = "standby",
        [STORE_ROLE_OWNER] = "owner", [STORE_ROLE_SUSPENDED] = "suspended",
    };
    const struct tenant_set *ts = &s->tenants;
    struct store_stats sts[TENANT_MAX];

    for (unsigned i = 0; i < ts->n; i++)
        store_stats(ts->t[i]->store, &sts[i]);
    TSCALAR("ccroute_ready", "gauge", "1 when this engine owns its tenant "
           "and Redis accepts its writes (as /readyz), else 0", st->ready);
    family(f, "ccroute_lease_role", "gauge", "This engine's role for its "
           "tenant: 1 for the current one");
    for (unsigned ti = 0; ti < ts->n; ti++) {
        enum store_role role = store_role(ts->t[ti]->store);
        for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
            topen(f, "ccroute_lease_role", ts->t[ti], true);
            fprintf(f, "role=\"%s\"} %d\n", roles[i], (size_t)role == i);
        }
    }
    TSCALAR("ccroute_lease_token", "gauge", "Fencing token of this "
           "engine's term (0: none)", st->token);
    TSCALAR("ccroute_lease_suspensions_total", "counter", "Times the "
           "lease went unconfirmed (owner to suspended)", st->suspensions);
    TSCALAR("ccroute_redis_pending_writes", "gauge", "Write-behind "
           "depth: commands sent or queued, not yet confirmed by Redis",
           st->pending_ops);
    TSCALAR("ccroute_redis_ops_queued_total", "counter", "Commands put "
           "into write batches", st->ops_queued);
    TSCALAR("ccroute_redis_ops_confirmed_total", "counter", "Commands "
           "Redis confirmed", st->ops_confirmed);
    TSCALAR("ccroute_redis_batches_sent_total", "counter", "Write batches "
           "sent (resends included)", st->batches_sent);
    TSCALAR("ccroute_redis_batches_confirmed_total", "counter", "Write "
           "batches Redis confirmed", st->batches_confirmed);
    TSCALAR("ccroute_redis_batches_resent_total", "counter", "Write "
           "batches sent again after a reconnection", st->batches_resent);
    TSCALAR("ccroute_redis_lease_calls_total", "counter", "Lease script "
           "round trips", st->lease_calls);
    TSCALAR("ccroute_redis_reconnects_total", "counter", "Connections to "
           "Redis made again after a loss", st->reconnects);
    TSCALAR("ccroute_redis_write_refusals_total", "counter", "Times Redis "
           "started refusing writes (OOM, READONLY, MISCONF...)",
           st->write_refusals);
    TSCALAR("ccroute_redis_auth_failures_total", "counter", "Connections "
           "to Redis refused by AUTH or ACL", st->auth_failures);
    TSCALAR("ccroute_redis_state_rewrites_total", "counter", "Recoveries "
           "of lost state: Redis lost this term's writes and the whole "
           "state was written back", st->state_rewrites);
    TSCALAR("ccroute_redis_rewrite_contacts_total", "counter", "Contacts "
           "written back by those recoveries", st->rewrite_contacts);
    TSCALAR("ccroute_redis_rewrite_agents_total", "counter", "Agents "
           "written back by those recoveries", st->rewrite_agents);
    TSCALAR("ccroute_redis_barriers_failed_total", "counter",
           "Acknowledgements refused because durability could not be kept",
           st->barriers_failed);
    TSCALAR("ccroute_redis_memory_waits_total", "counter", "durability "
           "memory: acknowledgements that waited for Redis (backlog past "
           "half of max_pending)", st->memory_waits);
    TSCALAR("ccroute_redis_records_failed_total", "counter", "Router "
           "changes the store could not record (out of memory)",
           st->records_failed);
    TSCALAR("ccroute_redis_journal_bytes_total", "counter", "redis.layout "
           "journal: packed bytes appended (snapshot chunks and resends "
           "included)", st->journal_bytes);
    TSCALAR("ccroute_redis_journal_snapshots_total", "counter",
           "redis.layout journal: periodic snapshots taken",
           st->journal_snapshots);
    TSCALAR("ccroute_redis_journal_entries_loaded_total", "counter",
           "redis.layout journal: journal entries replayed by recoveries",
           st->journal_entries_loaded);
    {
        struct lathist rtt = { { 0 }, 0, 0 };
        for (unsigned i = 0; i < ts->n; i++) {
            for (unsigned b = 0; b <= LATHIST_NBOUNDS; b++)
                rtt.bucket[b] += sts[i].batch_rtt.bucket[b];
            rtt.count += sts[i].batch_rtt.count;
            rtt.sum_us += sts[i].batch_rtt.sum_us;
        }
        histogram(f, "ccroute_redis_batch_round_trip_seconds", "From a "
                  "write batch handed to hiredis to Redis confirming it, "
                  "every tenant together", &rtt);
    }
}
#undef TSCALAR

/* ---- latency and reload ---- */

static void m_latency(FILE *f, const struct server *s)
{
    const struct tenant_set *ts = &s->tenants;
    histogram(f, "ccroute_routing_latency_seconds", "From a contact's "
              "arrival to each Offer made for it", &ts->routing_latency);
    histogram(f, "ccroute_ack_latency_seconds", "From the loop turn that "
              "read a request to its Ack queued for the client (with "
              "durability redis: after Redis confirmed)", &ts->ack_latency);
    scalar(f, "ccroute_config_generation", "gauge", "Configuration "
           "generation: 1 at start, +1 per applied reload",
           ts->reload.generation);
    family(f, "ccroute_config_reloads_total", "counter",
           "Configuration reloads (SIGHUP, ConfigReload), by outcome");
    fprintf(f, "ccroute_config_reloads_total{result=\"applied\"} %" PRIu64
            "\n", ts->reload.applied);
    fprintf(f, "ccroute_config_reloads_total{result=\"refused\"} %" PRIu64
            "\n", ts->reload.refused);
}

static void m_http(FILE *f, const struct http_stats *hs)
{
    static const char *const cls[] = { NULL, NULL, "2xx", "3xx", "4xx",
                                        "5xx" };
    scalar(f, "ccroute_http_connections", "gauge", "HTTP connections open",
           hs->open);
    scalar(f, "ccroute_http_connections_accepted_total", "counter",
           "HTTP connections accepted", hs->accepted);
    scalar(f, "ccroute_http_connections_refused_total", "counter", "HTTP "
           "connections closed at once: http.max_connections", hs->refused);
    family(f, "ccroute_http_responses_total", "counter", "HTTP responses of "
           "ccrouted's handlers, by status class");
    for (int i = 2; i <= 5; i++)
        fprintf(f, "ccroute_http_responses_total{class=\"%s\"} %" PRIu64
                "\n", cls[i], hs->responses[i]);
    scalar(f, "ccroute_http_unauthorized_total", "counter", "HTTP requests "
           "refused for a missing or wrong token (401)", hs->unauthorized);
    scalar(f, "ccroute_http_forbidden_total", "counter", "HTTP requests "
           "refused for the token's principal (403)", hs->forbidden);
}

int metrics_write(FILE *f, const struct server *s,
                  const struct http_stats *hs)
{
    uint64_t now = clock_mono_us();
    if (m_queues(f, s, now) < 0)
        return -1;
    m_agents(f, s, now);
    caremetrics_write(f, s, now, clock_wall_ms());
    m_outbound(f, s);
    m_connections(f, s);
    m_store(f, s);
    m_latency(f, s);
    if (hs)
        m_http(f, hs);
    return ferror(f) ? -1 : 0;
}
