/* outbound.c -- the engine side of outbound campaigns; see outbound.h.
 *
 * The core (campaign.c) decides; this module connects it to the engine.
 *
 * Requests. CampaignUpsert, CampaignStart/Pause/Stop, LeadsAdd, DncAdd and
 * DncRemove (admin) change the core and write what changed to the store
 * (ops B/b of the batch, storebatch.h) after admitting the change
 * (store_outbound_reserve): an Ack follows the store barrier, so it
 * promises what every Ack promises under the configured durability.
 * Everything is checked before the core is touched, so a refusal changes
 * nothing; and whatever may fail for want of memory (the records to
 * write, their room in the batch) is had before it too, or (DncAdd)
 * undone, so no request leaves the core changed and Redis not. DialResult comes from the dialer the dial was sent to (its
 * owner record, which survives a re-attach).
 *
 * Pacing. A 100 ms timer runs while a campaign runs or a dial is live,
 * and only while the tenant is OWNER. Each turn: calls that reached an
 * agent or ended are read back from the router (O(live dials)), then
 * campaign_pace() asks for each campaign's capacity (capacity_cb: the
 * queue's free agents, router_queue_free; its blend queues' statistics;
 * whether its dialer is connected) and its output is carried out: DIAL
 * becomes a DialRequest to the dialer connection (found by client name),
 * DROP abandons the answered call's contact and tells the dialer
 * (CallDropped), LEAD writes the lead to the store.
 *
 * Preview. PREVIEW becomes a router contact of the campaign's queue
 * (ContactArrived.preview) under the dialer's owner record, offered like
 * any contact (its Offer carries campaign, lead and number); each turn
 * follows it (live_scan): accepted -> campaign_preview_accept and the
 * DIAL reuses its record and contact; back waiting after an offer
 * (rejected or timed out, and no other agent took it) -> skipped.
 * A preview contact that is over leaves the router without statistics
 * (router_contact_withdraw, through the callback hooks' contact_hold).
 *
 * Callbacks (callback.c) share the pacing timer, DialResult (their dial
 * ids have CALLBACK_DIAL_BIT) and the store set.
 *
 * An answered call (DialResult HUMAN) becomes a router contact of the
 * campaign's queue under the dialer's owner record, through the
 * contact_make hook: it is stored as a ContactArrived of the dialer (with
 * campaign, lead_id and dial_id set), so the agent side survives a
 * restart like any contact, and the dialer re-attaches it. Its id is
 * chosen when the dial is requested (DialRequest.contact_id). It is
 * connected when its Offer goes out (outbound_contact_offered, from the
 * fanout): a pacing turn would come too late for a call an agent took
 * and ended within one turn, which would then count as dropped.
 *
 * Store layout (one sorted set `ob` + one hash `ob:data`, under the
 * tenant's hash tag; score = load order):
 *   k|<campaign>        score 0   run byte ('0','1','2') + packed
 *                                 CampaignUpsert
 *   n|<number>          score 1   "" (the do-not-call set)
 *   l|<campaign>|<id>   score 2   "state attempts next_at_us last\n" +
 *                                 packed Lead
 *   c|<contact>         score 3   a callback (callback.c, "Store layout")
 * Campaign names may not hold '|'. Recovery (outbound_load) gets them in
 * that order, before any agent or contact.
 * Each write of a lead's record at a dial, an answer or a state change is
 * followed in the same batch by the lead's entry in the event stream
 * (store_outbound_event, op V: lead_dial or lead; docs/redis.md); LeadsAdd
 * and the full rewrite write records only.
 *
 * Dials are not stored: a dial in flight when the engine stops is lost;
 * its lead comes back WAITING with outcome FAILED (campaign.h,
 * campaign_leads_restore), unless its answered call is a recovered
 * contact (outbound_contact_loaded: DONE).
 */
#include "outbound.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "blend.h"
#include "campaign.h"
#include "clock.h"
#include "config.h"
#include "conn.h"
#include "log.h"
#include "reqerr.h"
#include "router.h"
#include "store.h"
#include "tenant-t.h"

#define EC(x) CCROUTE__V1__ERROR_CODE__ERROR_CODE_##x
#define BODY(x) CCROUTE__V1__ENVELOPE__BODY_##x
#define PACE_MS 100

/* L_PREVIEW: a preview contact waits for an agent or is offered;
 * L_STALE: a preview contact that is over (skipped, its dial ended
 * without a person, or recovered without its dial) and must leave the
 * router -- its record goes when it has. */
enum live_state { L_FREE = 0, L_RINGING, L_ANSWERED, L_TALKING, L_PREVIEW,
                  L_STALE };

/* One dial the engine requested and has not seen end, or a preview. */
struct live {
    uint64_t dial;
    uint8_t state;
    bool preview;                 /* its contact is the preview's */
    bool offered;                 /* L_PREVIEW: offered to an agent */
    /* L_RINGING: its contact was offered while the DialResult that made
     * it was being handled (to reached_agent): connected at once */
    bool reached;
    uint32_t reached_agent;
    char contact[ROUTER_ID_MAX];
    /* the dialer it was sent to: the one that holds the line, even after
     * an upsert gave the campaign another (CallDropped goes here) */
    char dialer[CAMPAIGN_ID_MAX];
};

struct outbound {
    struct tenant *s;
    struct outbound_hooks h;
    struct campaign_core *cc;
    struct callback_set *cb;      /* callbacks (callback.c) */
    uint32_t max_dials;
    struct live *live;            /* max_dials records */
    uint32_t nlive;               /* used records are [0, nlive) */
    uint64_t id_base, id_seq;     /* contact ids "ob-<base>-<seq>" */
    /* the record of each campaign (index), for rewriting it when its run
     * state changes: a run byte, then the packed CampaignUpsert of
     * cblen bytes */
    uint8_t *cblob[CAMPAIGN_MAX];
    size_t cblen[CAMPAIGN_MAX];
    uint64_t first_start[CAMPAIGN_MAX];   /* wall us, 0: never started */
    uv_timer_t timer;
    bool timer_open, timer_on;
    bool loading;                 /* recovery: write nothing */
    /* the file's campaigns were applied over this recovery's state: a
     * lease confirmed again after a suspension does not undo changes made
     * through the protocol since (outbound_reset clears it) */
    bool cfg_applied;
};

/* ---- helpers ---- */

static uint64_t wall_us(void)
{
    return clock_turn_wall_ms() * 1000;
}

static bool str_ok(const char *v)
{
    return v && *v && strlen(v) < CAMPAIGN_ID_MAX;
}

static int camp_find(struct outbound *ob, const char *name, int *code,
                     char *msg, size_t len)
{
    int ci;
    if (!name || !*name)
        return reqerr(code, msg, len, EC(MISSING_FIELD), "campaign is empty");
    ci = campaign_find(ob->cc, name);
    if (ci < 0)
        return reqerr(code, msg, len, EC(UNKNOWN_CAMPAIGN),
                      "unknown campaign \"%.64s\"", name);
    return ci;
}

static struct live *live_find(struct outbound *ob, uint64_t dial)
{
    for (uint32_t i = 0; i < ob->nlive; i++)
        if (ob->live[i].dial == dial)
            return &ob->live[i];
    return NULL;
}

static void live_drop(struct outbound *ob, struct live *l)
{
    *l = ob->live[--ob->nlive];
    ob->live[ob->nlive].state = L_FREE;
}

static bool any_running(const struct outbound *ob)
{
    for (int i = 0; i < campaign_count(ob->cc); i++)
        if (campaign_run_get(ob->cc, i) == CAMPAIGN_RUNNING)
            return true;
    return false;
}

static void timer_cb(uv_timer_t *t);

/* Runs the pacing timer while there is something to pace and the tenant
 * may route. */
static void timer_update(struct outbound *ob)
{
    bool want = ob->timer_open && ob->s->role == STORE_ROLE_OWNER &&
                (ob->nlive > 0 || any_running(ob) || callback_busy(ob->cb));
    if (want && !ob->timer_on)
        uv_timer_start(&ob->timer, timer_cb, PACE_MS, PACE_MS);
    else if (!want && ob->timer_on)
        uv_timer_stop(&ob->timer);
    ob->timer_on = want;
}

/* ---- the store records ---- */

/* The names of the stream entries' `state` and `outcome` (docs/redis.md). */
static const char *const state_name[CAMPAIGN_LEAD_STATES] = {
    "", "waiting", "active", "done", "exhausted", "dnc",
};
static const char *const outcome_name[CAMPAIGN_OUT_COUNT] = {
    "", "human", "machine", "busy", "no_answer", "failed", "dropped",
};

static int camp_member(char *buf, size_t len, const char *name)
{
    return snprintf(buf, len, "k|%s", name);
}

static int lead_member(char *buf, size_t len, const char *camp,
                       const char *id)
{
    return snprintf(buf, len, "l|%s|%s", camp, id);
}

/* The campaign's record (run byte + packed CampaignUpsert). It
 * allocates nothing: after store_outbound_reserve() it cannot fail, so a
 * request may change the core first and write after. */
static int camp_write(struct outbound *ob, int ci)
{
    char m[CAMPAIGN_ID_MAX + 4];
    if (ob->loading)
        return 0;
    ob->cblob[ci][0] = (uint8_t)('0' + (int)campaign_run_get(ob->cc, ci));
    camp_member(m, sizeof(m), campaign_config_get(ob->cc, ci)->name);
    return store_outbound_put(ob->s->store, m, 0, ob->cblob[ci],
                              ob->cblen[ci] + 1);
}

/* The lead's record: its state line, then a packed Lead of id, number
 * and zone followed by its attribute bytes (themselves a packed Lead of
 * attributes only: protobuf merges the two on decoding). */
/* The most bytes of a lead's record besides its attribute bytes: the
 * state line (head below) and a packed Lead of id, number and zone (each
 * under 64 bytes: a tag and a one-byte length each). */
#define LEAD_REC_FIXED (96 + 3 * (CAMPAIGN_ID_MAX + 1))

/* As lead_write, building the record in scratch[0, cap) when it fits
 * (then it allocates nothing and, after store_outbound_reserve(), cannot
 * fail), else in a buffer of its own. */
static int lead_write_in(struct outbound *ob, uint32_t li, uint8_t *scratch,
                         size_t cap, const char *ev, const char *contact)
{
    struct campaign_lead_info in;
    Ccroute__V1__Lead l = CCROUTE__V1__LEAD__INIT;
    char m[2 * CAMPAIGN_ID_MAX + 4], head[96];
    const void *attrs;
    uint32_t alen;
    size_t hl, pl;
    uint8_t *buf;
    int rc;

    if (ob->loading)
        return 0;
    campaign_lead_info(ob->cc, li, &in);
    l.lead_id = (char *)campaign_lead_id(ob->cc, li);
    l.number = (char *)campaign_lead_number(ob->cc, li);
    l.time_zone = (char *)campaign_lead_zone(ob->cc, li);
    attrs = campaign_lead_attrs(ob->cc, li, &alen);
    hl = (size_t)snprintf(head, sizeof(head), "%d %u %" PRIu64 " %d\n",
                          (int)in.state, in.attempts, in.next_at,
                          (int)in.last);
    pl = ccroute__v1__lead__get_packed_size(&l);
    buf = hl + pl + alen <= cap ? scratch : malloc(hl + pl + alen);
    if (!buf)
        return CCR_ENOMEM;
    memcpy(buf, head, hl);
    ccroute__v1__lead__pack(&l, buf + hl);
    if (alen)
        memcpy(buf + hl + pl, attrs, alen);
    lead_member(m, sizeof(m), campaign_config_get(ob->cc, in.campaign)->name,
                l.lead_id);
    rc = store_outbound_put(ob->s->store, m, 2, buf, hl + pl + alen);
    if (buf != scratch)
        free(buf);
    /* its stream entry right after it: in the same batch */
    if (rc == 0 && ev)
        rc = store_outbound_event(ob->s->store, ev,
                                  campaign_config_get(ob->cc,
                                                      in.campaign)->name,
                                  l.lead_id, contact, state_name[in.state],
                                  in.attempts, outcome_name[in.last],
                                  wall_us() / 1000);
    return rc;
}

/* The lead's record, without a stream entry (LeadsAdd, the rewrite). */
static int lead_write(struct outbound *ob, uint32_t li)
{
    return lead_write_in(ob, li, NULL, 0, NULL, NULL);
}

/* The lead's record and its stream entry `ev` (lead_dial: a dial placed,
 * with the call's contact id; lead: any other change). */
static int lead_write_ev(struct outbound *ob, uint32_t li, const char *ev,
                         const char *contact)
{
    return lead_write_in(ob, li, NULL, 0, ev, contact);
}

/* ---- configuration from the wire ---- */

/* Fills *cfg from m; -1 with the Error when a field is wrong. */
static int config_from(struct outbound *ob, const Ccroute__V1__CampaignUpsert *m,
                       struct campaign_config *cfg, int *qref, int *code,
                       char *msg, size_t len)
{
    struct router *r = ob->s->router;
    const char *why = "";
    int qi;

    memset(cfg, 0, sizeof(*cfg));
    if (!m->name || !*m->name)
        return reqerr(code, msg, len, EC(MISSING_FIELD),
                      "CampaignUpsert.name is empty");
    if (!str_ok(m->name) || strchr(m->name, '|'))
        return reqerr(code, msg, len, EC(INVALID_FIELD), "CampaignUpsert.name "
                      "must be at most 63 bytes without '|'");
    if (!m->queue || !*m->queue)
        return reqerr(code, msg, len, EC(MISSING_FIELD),
                      "CampaignUpsert.queue is empty");
    qi = router_queue_find(r, m->queue);
    if (qi < 0 || qi >= router_queue_count(r))
        return reqerr(code, msg, len, EC(UNKNOWN_QUEUE), "unknown queue "
                      "\"%.64s\" (a campaign needs a configured queue)",
                      m->queue);
    if (!m->dialer || !*m->dialer)
        return reqerr(code, msg, len, EC(MISSING_FIELD),
                      "CampaignUpsert.dialer is empty");
    if (!str_ok(m->dialer) || (m->caller_id && !*m->caller_id ? false :
                               m->caller_id && !str_ok(m->caller_id)))
        return reqerr(code, msg, len, EC(INVALID_FIELD), "CampaignUpsert."
                      "dialer and caller_id are at most 63 bytes");
    switch (m->mode) {
    case CCROUTE__V1__DIAL_MODE__DIAL_MODE_UNSPECIFIED:
    case CCROUTE__V1__DIAL_MODE__DIAL_MODE_PROGRESSIVE:
        cfg->mode = CAMPAIGN_MODE_PROGRESSIVE;
        break;
    case CCROUTE__V1__DIAL_MODE__DIAL_MODE_PREDICTIVE:
        cfg->mode = CAMPAIGN_MODE_PREDICTIVE;
        break;
    case CCROUTE__V1__DIAL_MODE__DIAL_MODE_PREVIEW:
        cfg->mode = CAMPAIGN_MODE_PREVIEW;
        break;
    default:
        return reqerr(code, msg, len, EC(INVALID_FIELD), "CampaignUpsert.mode "
                      "%d is not a mode", (int)m->mode);
    }
    if (m->window_start_hour > 24 || m->window_end_hour > 24)
        return reqerr(code, msg, len, EC(INVALID_FIELD), "CampaignUpsert: "
                      "window hours are 0..24");
    if (m->n_blend_queues > CAMPAIGN_BLEND_MAX)
        return reqerr(code, msg, len, EC(INVALID_FIELD), "CampaignUpsert: at "
                      "most %d blend_queues", CAMPAIGN_BLEND_MAX);
    for (size_t i = 0; i < m->n_blend_queues; i++) {
        int bq = router_queue_find(r, m->blend_queues[i]);
        if (bq < 0 || bq >= router_queue_count(r))
            return reqerr(code, msg, len, EC(UNKNOWN_QUEUE), "unknown blend "
                          "queue \"%.64s\"", m->blend_queues[i]);
        snprintf(cfg->blend[i], sizeof(cfg->blend[i]), "%s",
                 m->blend_queues[i]);
    }
    cfg->nblend = (unsigned)m->n_blend_queues;
    snprintf(cfg->name, sizeof(cfg->name), "%s", m->name);
    snprintf(cfg->queue, sizeof(cfg->queue), "%s", m->queue);
    snprintf(cfg->dialer, sizeof(cfg->dialer), "%s", m->dialer);
    snprintf(cfg->caller_id, sizeof(cfg->caller_id), "%s",
             m->caller_id ? m->caller_id : "");
    cfg->max_attempts = m->max_attempts;
    cfg->retry_ms[CAMPAIGN_OUT_BUSY] = m->retry_busy_ms;
    cfg->retry_ms[CAMPAIGN_OUT_NO_ANSWER] = m->retry_no_answer_ms;
    cfg->retry_ms[CAMPAIGN_OUT_MACHINE] = m->retry_machine_ms;
    cfg->retry_ms[CAMPAIGN_OUT_FAILED] = m->retry_failed_ms;
    cfg->retry_ms[CAMPAIGN_OUT_DROPPED] = m->retry_dropped_ms;
    cfg->priority = m->priority;
    cfg->abandon_cap_bp = m->abandon_cap_bp;
    cfg->compliance_ms = m->compliance_ms;
    cfg->dial_timeout_ms = m->dial_timeout_ms;
    cfg->blend_margin_pct = m->blend_margin_pct;
    cfg->agent_share_pct = m->agent_share_pct;
    cfg->ramp_up_ms = m->ramp_up_ms;
    campaign_config_defaults(cfg);
    /* both 0: the default window; else exactly as given (a window may
     * start at midnight) */
    if (m->window_start_hour || m->window_end_hour) {
        cfg->window_start_h = (uint8_t)m->window_start_hour;
        cfg->window_end_h = (uint8_t)m->window_end_hour;
    }
    if (campaign_config_check(cfg, &why) < 0)
        return reqerr(code, msg, len, EC(INVALID_FIELD), "CampaignUpsert: %s",
                      why);
    *qref = qi;
    return 0;
}

/* ---- carrying out the core's output ---- */

static void send_env(struct conn *c, Ccroute__V1__Envelope *env)
{
    if (c)
        conn_send(c, env);
}

static void do_dial(struct outbound *ob, const struct campaign_event *e)
{
    const struct campaign_config *cfg = campaign_config_get(ob->cc,
                                                            e->campaign);
    Ccroute__V1__Envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__DialRequest dr = CCROUTE__V1__DIAL_REQUEST__INIT;
    Ccroute__V1__Lead *attrs = NULL;
    uint32_t owner = 0, alen;
    const void *ab;
    struct conn *c = ob->h.conn_of(ob->h.arg, cfg->dialer, &owner);
    struct live *l = live_find(ob, e->dial);

    if (l && l->preview) {
        /* an accepted preview: its contact is the agent's already */
        l->state = L_RINGING;
        if (lead_write_ev(ob, e->lead, "lead_dial", l->contact) < 0)
            log_error("outbound: lead %s: its attempt could not be "
                      "recorded (out of memory)",
                      campaign_lead_id(ob->cc, e->lead));
        if (!c) {
            campaign_dial_result(ob->cc, wall_us(), e->dial,
                                 CAMPAIGN_OUT_FAILED);
            return;
        }
        goto send;
    }
    if (ob->nlive == ob->max_dials) {
        /* cannot happen: the core holds at most max_dials dials */
        log_error("outbound: dial table full; dial %" PRIu64 " fails",
                  e->dial);
        campaign_dial_result(ob->cc, wall_us(), e->dial, CAMPAIGN_OUT_FAILED);
        return;
    }
    l = &ob->live[ob->nlive++];
    memset(l, 0, sizeof(*l));     /* the slot may hold a dropped preview's */
    l->dial = e->dial;
    l->state = L_RINGING;
    snprintf(l->contact, sizeof(l->contact), "ob-%" PRIx64 "-%" PRIu64,
             ob->id_base, ++ob->id_seq);
    snprintf(l->dialer, sizeof(l->dialer), "%s", cfg->dialer);
    campaign_dial_tag(ob->cc, e->dial, owner);
    if (lead_write_ev(ob, e->lead, "lead_dial", l->contact) < 0)
        log_error("outbound: lead %s: its attempt could not be recorded "
                  "(out of memory)", campaign_lead_id(ob->cc, e->lead));
    if (!c) {
        /* the dialer went between the capacity check and now: the dial
         * fails at once, as the switch would say */
        campaign_dial_result(ob->cc, wall_us(), e->dial, CAMPAIGN_OUT_FAILED);
        return;
    }
send:
    dr.dial_id = e->dial;
    dr.campaign = (char *)cfg->name;
    dr.lead_id = (char *)campaign_lead_id(ob->cc, e->lead);
    dr.number = (char *)campaign_lead_number(ob->cc, e->lead);
    dr.caller_id = (char *)cfg->caller_id;
    dr.dial_timeout_ms = cfg->dial_timeout_ms;
    dr.contact_id = l->contact;
    ab = campaign_lead_attrs(ob->cc, e->lead, &alen);
    if (alen && (attrs = ccroute__v1__lead__unpack(arena_allocator(
                     ob->s->arena), alen, ab))) {
        dr.attributes = attrs->attributes;
        dr.n_attributes = attrs->n_attributes;
    }
    env.body_case = BODY(DIAL_REQUEST);
    env.dial_request = &dr;
    send_env(c, &env);
}

static int arrived_for(struct outbound *ob, const struct live *l, int ci,
                       uint32_t li, uint8_t **buf, size_t *blen);

/* PREVIEW: the lead becomes a router contact of the campaign's queue
 * (ContactArrived.preview, under the dialer's owner record, stored like
 * an answered call's) that the router offers to a free agent like any
 * contact; its Offer carries the campaign, the lead and the number.
 * live_scan() follows it: accepted -> the dial; rejected or timed out ->
 * skipped. */
static void do_preview(struct outbound *ob, const struct campaign_event *e)
{
    const struct campaign_config *cfg = campaign_config_get(ob->cc,
                                                            e->campaign);
    uint32_t owner = 0;
    struct conn *c = ob->h.conn_of(ob->h.arg, cfg->dialer, &owner);
    struct live *l;
    uint8_t *buf;
    size_t blen;
    int code;
    char msg[256];

    if (!c || ob->nlive == ob->max_dials) {
        campaign_preview_cancel(ob->cc, wall_us(), e->dial, false);
        return;
    }
    l = &ob->live[ob->nlive++];
    memset(l, 0, sizeof(*l));
    l->dial = e->dial;
    l->state = L_PREVIEW;
    l->preview = true;
    snprintf(l->contact, sizeof(l->contact), "ob-%" PRIx64 "-%" PRIu64,
             ob->id_base, ++ob->id_seq);
    campaign_dial_tag(ob->cc, e->dial, owner);
    if (arrived_for(ob, l, e->campaign, e->lead, &buf, &blen) < 0) {
        snprintf(msg, sizeof(msg), "out of memory");
        goto cancel;
    }
    if (ob->h.contact_make(ob->h.arg, owner, buf, blen, &code, msg,
                           sizeof(msg)) < 0)
        goto cancel;
    return;
cancel:
    log_warn("outbound: campaign %s: the preview of lead %s is not offered "
             "now: %s", cfg->name, campaign_lead_id(ob->cc, e->lead), msg);
    campaign_preview_cancel(ob->cc, wall_us(), e->dial, false);
    live_drop(ob, l);
}

static void do_drop(struct outbound *ob, const struct campaign_event *e)
{
    Ccroute__V1__Envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__CallDropped cd = CCROUTE__V1__CALL_DROPPED__INIT;
    struct live *l = live_find(ob, e->dial);
    uint32_t tag = 0;
    if (!l)
        return;
    ob->h.contact_end(ob->h.arg, l->contact);
    cd.dial_id = e->dial;
    cd.contact_id = l->contact;
    env.body_case = BODY(CALL_DROPPED);
    env.call_dropped = &cd;
    /* the core has freed the dial (and its tag) already: the dialer is
     * found by the name the DialRequest went to, not the campaign's
     * current one */
    send_env(ob->h.conn_of(ob->h.arg, l->dialer, &tag), &env);
    log_info("outbound: campaign %s: call %s (lead %s) dropped: no agent "
             "within %u ms", campaign_config_get(ob->cc, e->campaign)->name,
             l->contact, campaign_lead_id(ob->cc, e->lead),
             campaign_config_get(ob->cc, e->campaign)->compliance_ms);
    live_drop(ob, l);
}

/* Carries out and forgets the core's output. Returns how many records
 * could not be written (out of memory). */
static unsigned out_drain(struct outbound *ob)
{
    unsigned lost = 0;
    for (size_t i = 0; i < campaign_out_count(ob->cc); i++) {
        const struct campaign_event *e = campaign_out_get(ob->cc, i);
        switch (e->type) {
        case CAMPAIGN_EV_DIAL:
            do_dial(ob, e);
            break;
        case CAMPAIGN_EV_DROP:
            do_drop(ob, e);
            break;
        case CAMPAIGN_EV_LEAD:
            if (lead_write_ev(ob, e->lead, "lead", NULL) < 0)
                lost++;
            break;
        case CAMPAIGN_EV_PREVIEW:
            do_preview(ob, e);
            break;
        }
    }
    campaign_out_clear(ob->cc);
    return lost;
}

/* ---- pacing ---- */

struct free_ctx {
    struct router *r;
    int queue;
};

/* Whether agent `id` is one of its queue's free agents now. */
static bool agent_is_free(void *ctx, const char *id)
{
    const struct free_ctx *f = ctx;
    uint32_t h;
    return router_agent_find(f->r, id, &h) == 0 &&
           router_agent_free_for(f->r, h, f->queue, ROUTER_CH_VOICE);
}

static void capacity_cb(void *ctx, int ci, struct campaign_capacity *out)
{
    struct outbound *ob = ctx;
    struct tenant *s = ob->s;
    const struct campaign_config *cfg = campaign_config_get(ob->cc, ci);
    int qi = campaign_queue_ref(ob->cc, ci);
    uint32_t owner;
    uint64_t now = clock_turn_us();

    memset(out, 0, sizeof(*out));
    out->free = router_queue_free(s->router, qi, ROUTER_CH_VOICE);
    /* the supervisor's cap: free agents whose outbound share is at or
     * above it do not count (campaign_free_capped) */
    if (out->free && cfg->agent_share_pct < 100) {
        struct free_ctx fc = { s->router, qi };
        out->free = campaign_free_capped(ob->cc, wall_us(), ci, out->free,
                                         agent_is_free, &fc);
    }
    /* a draining engine takes no new contacts: it starts no dial (the
     * core starts none without its dialer, in every mode) */
    out->dialer_ok = !s->set->draining &&
                     ob->h.conn_of(ob->h.arg, cfg->dialer, &owner) != NULL;
    blend_check(s->router, &s->cfg->router, cfg, now, out);
}

/* A preview's contact leaves the router (withdrawn: counted neither
 * handled nor abandoned; its agent, if it had accepted, is freed and
 * told). True when it is gone; false to try again at the next turn (it
 * is being offered: the answer comes first). */
static bool preview_gone(struct outbound *ob, struct live *l)
{
    uint32_t h;
    int code;
    char msg[256];
    if (router_contact_find(ob->s->router, l->contact, &h) < 0)
        return true;
    return ob->h.cb.contact_hold(ob->h.cb.arg, l->contact, false, NULL,
                                 &code, msg, sizeof(msg)) == 0;
}

/* Follows the previews (offered, accepted, skipped) and reads back what
 * became of the answered calls: reached an agent (offered or assigned)
 * or ended. O(live dials). */
static void live_scan(struct outbound *ob, uint64_t now)
{
    struct router *r = ob->s->router;
    for (uint32_t i = 0; i < ob->nlive;) {
        struct live *l = &ob->live[i];
        uint32_t h;
        if (l->state == L_STALE) {
            if (preview_gone(ob, l)) {
                live_drop(ob, l);
                continue;
            }
            i++;
            continue;
        }
        if (campaign_dial_get(ob->cc, l->dial, NULL, NULL, NULL) < 0) {
            /* over: timed out, failed, dropped; a preview's contact (its
             * number found on the do-not-call set at the accept, its
             * dial timed out) leaves too */
            if (l->preview && l->state != L_TALKING) {
                l->state = L_STALE;
                continue;
            }
            live_drop(ob, l);
            continue;
        }
        if (l->state == L_PREVIEW) {
            struct router_contact_info ci;
            bool there = router_contact_find(r, l->contact, &h) == 0;
            if (there)
                router_contact_info(r, h, &ci);
            if (!there || ci.state == ROUTER_CONTACT_ABANDONED ||
                ci.state == ROUTER_CONTACT_COMPLETED) {
                /* ended by the dialer (or its grace ran out): not
                 * skipped by an agent */
                campaign_preview_cancel(ob->cc, wall_us(), l->dial, false);
                live_drop(ob, l);
                continue;
            }
            if (ci.state == ROUTER_CONTACT_OFFERED && !l->offered) {
                campaign_preview_offered(ob->cc, l->dial);
                l->offered = true;
            } else if (ci.state == ROUTER_CONTACT_ASSIGNED) {
                /* accepted: the agent is reserved; DIAL follows (or the
                 * number is on the do-not-call set now: the dial ends,
                 * and so does the contact at the next turn) */
                campaign_preview_accept(ob->cc, wall_us(), l->dial);
                l->state = L_RINGING;
            } else if (ci.state == ROUTER_CONTACT_QUEUED && l->offered) {
                /* rejected (or let time out): skipped, the lead is due
                 * again without an attempt */
                campaign_preview_cancel(ob->cc, wall_us(), l->dial, true);
                l->state = L_STALE;
                continue;
            }
            i++;
            continue;
        }
        if (l->state == L_ANSWERED || l->state == L_TALKING) {
            bool there = router_contact_find(r, l->contact, &h) == 0;
            struct router_contact_info ci;
            if (there)
                router_contact_info(r, h, &ci);
            if (l->state == L_ANSWERED && there &&
                (ci.state == ROUTER_CONTACT_OFFERED ||
                 ci.state == ROUTER_CONTACT_ASSIGNED)) {
                campaign_call_connected(ob->cc, now, l->dial,
                                        ci.agent != UINT32_MAX
                                            ? router_agent_id(r, ci.agent)
                                            : NULL);
                l->state = L_TALKING;
            } else if (l->state == L_TALKING &&
                       (!there || ci.state == ROUTER_CONTACT_COMPLETED ||
                        ci.state == ROUTER_CONTACT_ABANDONED)) {
                campaign_call_ended(ob->cc, now, l->dial);
                live_drop(ob, l);
                continue;
            }
        }
        i++;
    }
}

static void pace(struct outbound *ob)
{
    uint64_t now = wall_us();
    unsigned lost;
    live_scan(ob, now);
    callback_pace(ob->cb);
    campaign_pace(ob->cc, now, capacity_cb, ob);
    lost = out_drain(ob);
    if (lost)
        log_error("outbound: %u lead changes could not be recorded in Redis "
                  "(out of memory); Redis keeps their previous state", lost);
    arena_reset(ob->s->arena);
}

static void timer_cb(uv_timer_t *t)
{
    struct outbound *ob = t->data;
    if (ob->s->role != STORE_ROLE_OWNER) {
        timer_update(ob);
        return;
    }
    clock_turn_end();
    pace(ob);
    timer_update(ob);
}

/* ---- requests ---- */

static int r_upsert(struct outbound *ob, const Ccroute__V1__CampaignUpsert *m,
                    int *code, char *msg, size_t len)
{
    struct campaign_config cfg;
    int qref = -1, ci, rc;
    size_t pl;
    uint8_t *blob;

    if (config_from(ob, m, &cfg, &qref, code, msg, len) < 0)
        return -1;
    ci = campaign_find(ob->cc, cfg.name);
    if (ci < 0 && campaign_count(ob->cc) >= CAMPAIGN_MAX)
        return reqerr(code, msg, len, EC(RESOURCE_EXHAUSTED), "at most %d "
                      "campaigns", CAMPAIGN_MAX);
    /* the record (run byte, set by camp_write) is built before anything
     * changes: once the core took the change, writing cannot fail */
    pl = ccroute__v1__campaign_upsert__get_packed_size(m);
    if (!(blob = malloc(pl + 1)))
        return reqerr(code, msg, len, EC(INTERNAL), "out of memory");
    ccroute__v1__campaign_upsert__pack(m, blob + 1);
    if (!ob->loading &&
        (rc = store_outbound_reserve(ob->s->store, 1,
                                     pl + 2 * CAMPAIGN_ID_MAX)) < 0) {
        free(blob);
        return reqerr(code, msg, len, EC(STATE_UNAVAILABLE), "the change "
                      "cannot be recorded now (%s); nothing was changed, "
                      "retry later", ccr_strerror(rc));
    }
    ci = campaign_upsert(ob->cc, wall_us(), &cfg, qref);
    if (ci < 0) {
        free(blob);
        return reqerr(code, msg, len, EC(RESOURCE_EXHAUSTED), "campaign %s: "
                      "%s", cfg.name, ccr_strerror(ci));
    }
    free(ob->cblob[ci]);
    ob->cblob[ci] = blob;
    ob->cblen[ci] = pl;
    if (router_queue_staffed(ob->s->router, qref) == 0)
        log_warn("outbound: campaign %s: no logged-in agent of queue %s "
                 "could serve it now", cfg.name, cfg.queue);
    /* allocates nothing: cannot fail after the reserve above */
    if ((rc = camp_write(ob, ci)) < 0)
        return reqerr(code, msg, len, EC(STATE_UNAVAILABLE), "campaign %s "
                      "could not be recorded (%s)", cfg.name,
                      ccr_strerror(rc));
    return OUTBOUND_DURABLE;
}

static int r_run(struct outbound *ob, const char *name, enum campaign_run run,
                 int *code, char *msg, size_t len)
{
    int ci = camp_find(ob, name, code, msg, len), rc;
    if (ci < 0)
        return -1;
    if ((rc = store_outbound_reserve(ob->s->store, 1,
                                     ob->cblen[ci] + 2 * CAMPAIGN_ID_MAX)) < 0)
        return reqerr(code, msg, len, EC(STATE_UNAVAILABLE), "the change "
                      "cannot be recorded now (%s); nothing was changed, "
                      "retry later", ccr_strerror(rc));
    campaign_set_run(ob->cc, wall_us(), ci, run);
    if (run == CAMPAIGN_RUNNING && !ob->first_start[ci])
        ob->first_start[ci] = wall_us();
    /* allocates nothing: cannot fail after the reserve above */
    if ((rc = camp_write(ob, ci)) < 0)
        return reqerr(code, msg, len, EC(STATE_UNAVAILABLE), "campaign %s: "
                      "its state could not be recorded (%s)", name,
                      ccr_strerror(rc));
    timer_update(ob);
    return OUTBOUND_DURABLE;
}

static int r_leads(struct outbound *ob, const Ccroute__V1__LeadsAdd *m,
                   int *code, char *msg, size_t len)
{
    int ci = camp_find(ob, m->campaign, code, msg, len), rc;
    struct campaign_lead_spec *sp;
    size_t bad = 0, bytes = 0, n = 0, *at, maxal = 0;
    const char *why = "";
    uint32_t first;
    uint8_t *rec;
    struct arena *a = ob->s->arena;

    if (ci < 0)
        return -1;
    if (m->n_leads == 0)
        return reqerr(code, msg, len, EC(MISSING_FIELD), "LeadsAdd.leads is "
                      "empty");
    /* sp[0, n): the leads to add; at[k]: sp[k]'s index in the request */
    if (!(sp = arena_alloc(a, m->n_leads * sizeof(*sp))) ||
        !(at = arena_alloc(a, m->n_leads * sizeof(*at))))
        return reqerr(code, msg, len, EC(INTERNAL), "out of memory");
    for (size_t i = 0; i < m->n_leads; i++) {
        const Ccroute__V1__Lead *l = m->leads[i];
        Ccroute__V1__Lead only = CCROUTE__V1__LEAD__INIT;
        uint8_t *ab = NULL;
        size_t al = 0;
        if (!l->time_zone || !*l->time_zone)
            return reqerr(code, msg, len, EC(INVALID_LEAD), "LeadsAdd."
                          "leads[%zu]: time_zone is empty; nothing was "
                          "added", i);
        if (l->n_attributes) {
            only.attributes = l->attributes;
            only.n_attributes = l->n_attributes;
            al = ccroute__v1__lead__get_packed_size(&only);
            if (!(ab = arena_alloc(a, al)))
                return reqerr(code, msg, len, EC(INTERNAL), "out of memory");
            ccroute__v1__lead__pack(&only, ab);
        }
        /* a lead already here exactly as given was added by an earlier
         * try of this request (its Ack lost): it counts as added, so a
         * client may resend a batch; the same id with other content is
         * a different lead */
        const char *id = l->lead_id && *l->lead_id ? l->lead_id : l->number;
        uint32_t li, ol;
        if (id && *id && campaign_lead_find(ob->cc, ci, id, &li) == 0) {
            const void *ob_ab = campaign_lead_attrs(ob->cc, li, &ol);
            if (l->number && !strcmp(l->number,
                                     campaign_lead_number(ob->cc, li)) &&
                !strcmp(l->time_zone, campaign_lead_zone(ob->cc, li)) &&
                ol == al && (al == 0 || !memcmp(ob_ab, ab, al)))
                continue;
            return reqerr(code, msg, len, EC(INVALID_LEAD), "LeadsAdd.leads"
                          "[%zu] (%.64s): lead id already in the campaign "
                          "with another number, time zone or attributes; "
                          "nothing was added", i, id);
        }
        at[n] = i;
        sp[n++] = (struct campaign_lead_spec){ l->lead_id, l->number,
                                               l->time_zone, ab,
                                               (uint32_t)al };
        bytes += al + 3 * CAMPAIGN_ID_MAX + 64;
        if (al > maxal)
            maxal = al;
    }
    /* room for the largest record before the core changes: the writes
     * after it then allocate nothing */
    if (!(rec = arena_alloc(a, LEAD_REC_FIXED + maxal)))
        return reqerr(code, msg, len, EC(INTERNAL), "out of memory; nothing "
                      "was added");
    /* admitted even when every lead was here already: the Ack follows
     * the barrier, so it also waits for an earlier try still in flight */
    if ((rc = store_outbound_reserve(ob->s->store, n, bytes)) < 0)
        return reqerr(code, msg, len, EC(STATE_UNAVAILABLE), "the leads "
                      "cannot be recorded now (%s); nothing was added, retry "
                      "later",
                      ccr_strerror(rc));
    if (n == 0)
        return OUTBOUND_DURABLE;
    first = campaign_lead_count(ob->cc);
    rc = campaign_leads_add(ob->cc, wall_us(), ci, sp, n, &bad, &why);
    if (rc == CCR_ENOMEM)
        return reqerr(code, msg, len, EC(RESOURCE_EXHAUSTED), "LeadsAdd: %s; "
                      "nothing was added", why);
    if (rc < 0) {
        bad = at[bad];
        const Ccroute__V1__Lead *l = m->leads[bad];
        return reqerr(code, msg, len, EC(INVALID_LEAD), "LeadsAdd.leads[%zu] "
                      "(%.64s): %s; nothing was added", bad,
                      l->lead_id && *l->lead_id ? l->lead_id
                      : l->number ? l->number : "", why);
    }
    /* in rec, after the reserve: cannot fail */
    for (uint32_t li = first; li < campaign_lead_count(ob->cc); li++)
        if ((rc = lead_write_in(ob, li, rec, LEAD_REC_FIXED + maxal, NULL,
                                NULL)) < 0)
            return reqerr(code, msg, len, EC(STATE_UNAVAILABLE), "the leads "
                          "were added but could not all be recorded (%s)",
                          ccr_strerror(rc));
    return OUTBOUND_DURABLE;
}

static int r_dnc(struct outbound *ob, char **nums, size_t n, bool add,
                 int *code, char *msg, size_t len)
{
    size_t bytes = 0;
    int rc;
    if (n == 0)
        return reqerr(code, msg, len, EC(MISSING_FIELD), "numbers is empty");
    for (size_t i = 0; i < n; i++) {
        if (!str_ok(nums[i]))
            return reqerr(code, msg, len, EC(INVALID_FIELD), "numbers[%zu] is "
                          "empty or longer than 63 bytes; nothing was changed",
                          i);
        bytes += strlen(nums[i]) + 4;
    }
    if ((rc = store_outbound_reserve(ob->s->store, n, bytes)) < 0)
        return reqerr(code, msg, len, EC(STATE_UNAVAILABLE), "the change "
                      "cannot be recorded now (%s); nothing was changed, "
                      "retry later", ccr_strerror(rc));
    if (add) {
        /* all or none: the numbers new to the set are noted as they go
         * in and taken out again when one cannot be added (memory) or
         * the set would pass limits.max_dnc; removal cannot fail */
        uint32_t max = ob->s->cfg->limits.max_dnc;
        size_t *fresh = arena_alloc(ob->s->arena, n * sizeof(*fresh)), nf = 0;
        if (!fresh)
            return reqerr(code, msg, len, EC(INTERNAL), "out of memory");
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (campaign_dnc_has(ob->cc, nums[i]))
                continue;
            if (campaign_dnc_count(ob->cc) >= max)
                rc = CCR_ENOMEM;
            else if ((rc = campaign_dnc_add(ob->cc, nums[i])) == 0)
                fresh[nf++] = i;
        }
        if (rc < 0) {
            bool full = campaign_dnc_count(ob->cc) >= max;
            while (nf > 0)
                campaign_dnc_remove(ob->cc, nums[fresh[--nf]], NULL);
            if (full)
                return reqerr(code, msg, len, EC(RESOURCE_EXHAUSTED), "the "
                              "do-not-call set holds at most %u numbers "
                              "(limits.max_dnc); nothing was added", max);
            return reqerr(code, msg, len, EC(RESOURCE_EXHAUSTED), "%s; "
                          "nothing was added", ccr_strerror(rc));
        }
    }
    for (size_t i = 0; i < n; i++) {
        char m[CAMPAIGN_ID_MAX + 4];
        if (!add)
            campaign_dnc_remove(ob->cc, nums[i], NULL);
        snprintf(m, sizeof(m), "n|%s", nums[i]);
        rc = add ? store_outbound_put(ob->s->store, m, 1, "", 0)
                 : store_outbound_del(ob->s->store, m);
        /* cannot fail for want of memory after the reserve above */
        if (rc < 0)
            return reqerr(code, msg, len, EC(STATE_UNAVAILABLE),
                          "numbers[%zu]: could not be recorded (%s)", i,
                          ccr_strerror(rc));
    }
    return OUTBOUND_DURABLE;
}

/* The free agents of a queue, for campaign_agent_pick(): live handles
 * in order, stopping after router_agent_count() of them. */
struct free_walk {
    const struct router *r;
    int queue;
    uint32_t h, max;
    unsigned seen, want;
    uint64_t now;
};

static bool free_walk_next(void *ctx, const char **id, uint64_t *since)
{
    struct free_walk *w = ctx;
    while (w->seen < w->want && w->h < w->max) {
        uint32_t h = w->h++;
        struct router_agent_info ai;
        if (!router_agent_id(w->r, h))
            continue;
        w->seen++;
        if (!router_agent_free_for(w->r, h, w->queue, ROUTER_CH_VOICE))
            continue;
        router_agent_info(w->r, h, w->now, &ai);
        *id = ai.id;
        *since = ai.state_since;
        return true;
    }
    return false;
}

/* The packed ContactArrived of the answered call (or the preview) of live
 * dial l. A campaign with an agent share cap names the agent it goes to
 * (preferred_agent) while a free agent is at or above the cap: the free
 * agent under it that has been in its state longest (campaign_agent_pick;
 * O(agents), only for such a campaign), so that a capped agent is not
 * offered it while another one is free; else the router's order stands. */
static int arrived_for(struct outbound *ob, const struct live *l, int ci,
                       uint32_t li, uint8_t **buf, size_t *blen)
{
    Ccroute__V1__ContactArrived m = CCROUTE__V1__CONTACT_ARRIVED__INIT;
    Ccroute__V1__Lead *attrs = NULL;
    const struct campaign_config *cfg = campaign_config_get(ob->cc, ci);
    uint32_t alen;
    const void *ab = campaign_lead_attrs(ob->cc, li, &alen);

    m.contact_id = (char *)l->contact;
    m.channel = CCROUTE__V1__CHANNEL__CHANNEL_VOICE;
    m.queue = (char *)cfg->queue;
    m.customer_id = (char *)campaign_lead_number(ob->cc, li);
    m.priority = cfg->priority;
    if (alen && (attrs = ccroute__v1__lead__unpack(
                     arena_allocator(ob->s->arena), alen, ab))) {
        m.attributes = attrs->attributes;
        m.n_attributes = attrs->n_attributes;
    }
    m.campaign = (char *)cfg->name;
    m.lead_id = (char *)campaign_lead_id(ob->cc, li);
    m.dial_id = l->dial;
    m.preview = l->preview;
    if (cfg->agent_share_pct < 100) {
        struct router *r = ob->s->router;
        struct free_walk w = { r, campaign_queue_ref(ob->cc, ci), 0,
                               ob->s->cfg->router.max_agents, 0,
                               router_agent_count(r), clock_turn_us() };
        const char *pick = campaign_agent_pick(ob->cc, wall_us(), ci,
                                               free_walk_next, &w);
        if (pick)
            m.preferred_agent = (char *)pick;
    }
    *blen = ccroute__v1__contact_arrived__get_packed_size(&m);
    if (!(*buf = malloc(*blen ? *blen : 1)))
        return -1;
    ccroute__v1__contact_arrived__pack(&m, *buf);
    return 0;
}

static int r_result(struct outbound *ob, struct conn *c,
                    const Ccroute__V1__DialResult *m, int *code, char *msg,
                    size_t len)
{
    uint32_t tag, lead;
    int ci, rc;
    struct live *l;
    uint64_t now = wall_us();

    if (!m->dial_id)
        return reqerr(code, msg, len, EC(MISSING_FIELD), "DialResult.dial_id "
                      "is 0");
    if (m->outcome < CCROUTE__V1__DIAL_OUTCOME__DIAL_OUTCOME_HUMAN ||
        m->outcome > CCROUTE__V1__DIAL_OUTCOME__DIAL_OUTCOME_FAILED)
        return reqerr(code, msg, len, m->outcome ? EC(INVALID_FIELD)
                      : EC(MISSING_FIELD), "DialResult.outcome %d is not an "
                      "outcome", (int)m->outcome);
    if (m->dial_id & CALLBACK_DIAL_BIT) {
        if (callback_result(ob->cb, c, m, code, msg, len) < 0)
            return -1;
        timer_update(ob);
        return OUTBOUND_DURABLE;
    }
    l = live_find(ob, m->dial_id);
    if (!l || l->state != L_RINGING ||
        campaign_dial_get(ob->cc, m->dial_id, &tag, &ci, &lead) < 0)
        return reqerr(code, msg, len, EC(UNKNOWN_DIAL), "dial %" PRIu64 " is "
                      "not ringing: never requested, or over", m->dial_id);
    if (tag != c->owner)
        return reqerr(code, msg, len, EC(NOT_DIALER), "dial %" PRIu64 " was "
                      "sent to another client than this one", m->dial_id);
    if ((rc = store_outbound_reserve(ob->s->store, 2,
                                     4 * CAMPAIGN_ID_MAX + 128 + 4096)) < 0)
        return reqerr(code, msg, len, EC(STATE_UNAVAILABLE), "the result "
                      "cannot be recorded now (%s); nothing was changed, "
                      "retry", ccr_strerror(rc));
    if (l->preview) {
        /* the agent has the contact already: talking at once (HUMAN), or
         * the contact leaves and the agent is free (any other) */
        campaign_dial_result(ob->cc, now, m->dial_id,
                             (enum campaign_outcome)m->outcome);
        if (m->outcome == CCROUTE__V1__DIAL_OUTCOME__DIAL_OUTCOME_HUMAN) {
            l->state = L_TALKING;
            if (lead_write_ev(ob, lead, "lead", l->contact) < 0)
                log_error("outbound: lead %s: its answer could not be "
                          "recorded", campaign_lead_id(ob->cc, lead));
        } else {
            l->state = L_STALE;
            if (preview_gone(ob, l))
                live_drop(ob, l);
        }
        if (out_drain(ob))
            return reqerr(code, msg, len, EC(STATE_UNAVAILABLE), "the result "
                          "was taken but could not be recorded (out of "
                          "memory)");
        timer_update(ob);
        return OUTBOUND_DURABLE;
    }
    if (m->outcome == CCROUTE__V1__DIAL_OUTCOME__DIAL_OUTCOME_HUMAN) {
        uint8_t *buf;
        size_t blen;
        if (arrived_for(ob, l, ci, lead, &buf, &blen) < 0)
            return reqerr(code, msg, len, EC(INTERNAL), "out of memory");
        /* the contact first: a refusal leaves the dial ringing */
        if (ob->h.contact_make(ob->h.arg, tag, buf, blen, code, msg, len) < 0)
            return -1;
        l->state = L_ANSWERED;
    }
    /* the outcome numbers of the wire and of the core are the same */
    campaign_dial_result(ob->cc, now, m->dial_id,
                         (enum campaign_outcome)m->outcome);
    if (m->outcome == CCROUTE__V1__DIAL_OUTCOME__DIAL_OUTCOME_HUMAN &&
        l->reached) {
        campaign_call_connected(ob->cc, now, l->dial,
                                router_agent_id(ob->s->router,
                                                l->reached_agent));
        l->state = L_TALKING;
    }
    if (m->outcome != CCROUTE__V1__DIAL_OUTCOME__DIAL_OUTCOME_HUMAN)
        live_drop(ob, l);
    else if (lead_write_ev(ob, lead, "lead", l->contact) < 0)
        log_error("outbound: lead %s: its answer could not be recorded",
                  campaign_lead_id(ob->cc, lead));
    if (out_drain(ob))
        return reqerr(code, msg, len, EC(STATE_UNAVAILABLE), "the result was "
                      "taken but could not be recorded (out of memory)");
    timer_update(ob);
    return OUTBOUND_DURABLE;
}

int outbound_request(struct outbound *ob, struct conn *c,
                     const Ccroute__V1__Envelope *env, int *code, char *msg,
                     size_t len)
{
    switch (env->body_case) {
    case BODY(CAMPAIGN_UPSERT):
        return r_upsert(ob, env->campaign_upsert, code, msg, len);
    case BODY(CAMPAIGN_START):
        return r_run(ob, env->campaign_start->campaign, CAMPAIGN_RUNNING,
                     code, msg, len);
    case BODY(CAMPAIGN_PAUSE):
        return r_run(ob, env->campaign_pause->campaign, CAMPAIGN_PAUSED,
                     code, msg, len);
    case BODY(CAMPAIGN_STOP):
        return r_run(ob, env->campaign_stop->campaign, CAMPAIGN_STOPPED,
                     code, msg, len);
    case BODY(LEADS_ADD):
        return r_leads(ob, env->leads_add, code, msg, len);
    case BODY(DNC_ADD):
        return r_dnc(ob, env->dnc_add->numbers, env->dnc_add->n_numbers,
                     true, code, msg, len);
    case BODY(DNC_REMOVE):
        return r_dnc(ob, env->dnc_remove->numbers, env->dnc_remove->n_numbers,
                     false, code, msg, len);
    case BODY(DIAL_RESULT):
        return r_result(ob, c, env->dial_result, code, msg, len);
    case BODY(CALLBACK_REQUEST):
        if (callback_request(ob->cb, c, env->callback_request, code, msg,
                             len) < 0)
            return -1;
        timer_update(ob);
        return OUTBOUND_DURABLE;
    default:
        return reqerr(code, msg, len, EC(UNKNOWN_MESSAGE), "not a campaign "
                      "request");
    }
}

/* ---- statistics ---- */

int outbound_campaign_count(const struct outbound *ob)
{
    return campaign_count(ob->cc);
}

void outbound_campaign_fig(const struct outbound *ob, int i,
                           struct outbound_fig *o)
{
    struct campaign_stats cs;
    uint64_t now = wall_us();
    campaign_stats(ob->cc, i, now, &cs);
    memset(o, 0, sizeof(*o));
    o->campaign = campaign_config_get(ob->cc, i)->name;
    o->run = (int)campaign_run_get(ob->cc, i);
    o->leads = cs.leads;
    o->waiting = cs.in_state[CAMPAIGN_LEAD_WAITING];
    o->active = cs.in_state[CAMPAIGN_LEAD_ACTIVE];
    o->done = cs.in_state[CAMPAIGN_LEAD_DONE];
    o->exhausted = cs.in_state[CAMPAIGN_LEAD_EXHAUSTED];
    o->dnc = cs.in_state[CAMPAIGN_LEAD_DNC];
    o->dials = cs.dials;
    o->human = cs.outcomes[CAMPAIGN_OUT_HUMAN];
    o->machine = cs.outcomes[CAMPAIGN_OUT_MACHINE];
    o->busy = cs.outcomes[CAMPAIGN_OUT_BUSY];
    o->no_answer = cs.outcomes[CAMPAIGN_OUT_NO_ANSWER];
    o->failed = cs.outcomes[CAMPAIGN_OUT_FAILED];
    o->dropped = cs.outcomes[CAMPAIGN_OUT_DROPPED];
    o->connected = cs.connected;
    o->agent_ms = cs.talk_us / 1000;
    o->drop_rate = cs.abandon_life;
    o->drop_rate_window = cs.abandon_window;
    if (ob->first_start[i] && now > ob->first_start[i])
        o->contacts_per_hour = (double)cs.connected * 3600e6 /
                               (double)(now - ob->first_start[i]);
}

void outbound_callback_fig(const struct outbound *ob,
                           struct outbound_cb_fig *out)
{
    Ccroute__V1__Stats st = CCROUTE__V1__STATS__INIT;
    callback_stats(ob->cb, &st);
    out->waiting = st.callbacks_waiting;
    out->held = st.callbacks_held;
    out->dials = st.callback_dials;
    out->connected = st.callbacks_connected;
}

int outbound_followup_check(struct outbound *ob, const char *contact,
                            const char *number, int *code, char *msg,
                            size_t len)
{
    return callback_followup_check(ob->cb, contact, number, code, msg, len);
}

void outbound_followup_add(struct outbound *ob,
                           const struct callback_followup *f)
{
    callback_followup_add(ob->cb, f);
    timer_update(ob);
}

void outbound_followup_fig(const struct outbound *ob,
                           struct callback_fu_fig *out)
{
    callback_followup_fig(ob->cb, out);
}

int outbound_stats(struct outbound *ob, struct arena *a,
                   Ccroute__V1__Stats *st)
{
    int n = campaign_count(ob->cc);
    callback_stats(ob->cb, st);
    if (n == 0)
        return 0;
    if (!(st->campaigns = arena_alloc(a, (size_t)n * sizeof(*st->campaigns))))
        return -1;
    for (int i = 0; i < n; i++) {
        struct outbound_fig fg;
        Ccroute__V1__CampaignStats *o = arena_alloc(a, sizeof(*o));
        if (!o)
            return -1;
        outbound_campaign_fig(ob, i, &fg);
        ccroute__v1__campaign_stats__init(o);
        o->campaign = (char *)fg.campaign;
        o->run = (Ccroute__V1__CampaignRun)fg.run;
        o->leads = fg.leads;
        o->leads_waiting = fg.waiting;
        o->leads_active = fg.active;
        o->leads_done = fg.done;
        o->leads_exhausted = fg.exhausted;
        o->leads_dnc = fg.dnc;
        o->dials = fg.dials;
        o->human = fg.human;
        o->machine = fg.machine;
        o->busy = fg.busy;
        o->no_answer = fg.no_answer;
        o->failed = fg.failed;
        o->dropped = fg.dropped;
        o->connected = fg.connected;
        o->drop_rate = fg.drop_rate;
        o->drop_rate_window = fg.drop_rate_window;
        o->contacts_per_hour = fg.contacts_per_hour;
        o->agent_ms = fg.agent_ms;
        st->campaigns[st->n_campaigns++] = o;
    }
    return 0;
}

/* ---- recovery ---- */

static void load_campaign(struct outbound *ob, const char *name,
                          const uint8_t *d, size_t len)
{
    Ccroute__V1__CampaignUpsert *m;
    int code, ci;
    char msg[256];
    if (len < 1 || !(m = ccroute__v1__campaign_upsert__unpack(
                         arena_allocator(ob->s->arena), len - 1, d + 1))) {
        log_warn("recovery: campaign %s does not decode; skipped", name);
        return;
    }
    if (r_upsert(ob, m, &code, msg, sizeof(msg)) < 0) {
        log_warn("recovery: campaign %s skipped: %s", name, msg);
        return;
    }
    ci = campaign_find(ob->cc, m->name);
    if (ci >= 0 && d[0] >= '0' && d[0] <= '2') {
        enum campaign_run run = (enum campaign_run)(d[0] - '0');
        campaign_set_run(ob->cc, wall_us(), ci, run);
        if (run == CAMPAIGN_RUNNING)
            ob->first_start[ci] = wall_us();
    }
}

static void load_lead(struct outbound *ob, const char *rest,
                      const uint8_t *d, size_t len)
{
    const char *bar = strchr(rest, '|');
    char camp[CAMPAIGN_ID_MAX];
    struct campaign_lead_saved sv;
    struct campaign_lead_spec sp;
    Ccroute__V1__Lead *l, only = CCROUTE__V1__LEAD__INIT;
    const uint8_t *nl = memchr(d, '\n', len);
    int st, last, ci;
    unsigned att;
    uint64_t next;
    size_t bad, al = 0;
    const char *why = "";
    uint8_t *ab = NULL;

    if (!bar || (size_t)(bar - rest) >= sizeof(camp) || !nl)
        goto bad;
    memcpy(camp, rest, (size_t)(bar - rest));
    camp[bar - rest] = '\0';
    if ((ci = campaign_find(ob->cc, camp)) < 0)
        goto bad;
    if (sscanf((const char *)d, "%d %u %" SCNu64 " %d", &st, &att, &next,
               &last) != 4)
        goto bad;
    l = ccroute__v1__lead__unpack(arena_allocator(ob->s->arena),
                                  len - (size_t)(nl + 1 - d), nl + 1);
    if (!l)
        goto bad;
    if (l->n_attributes) {
        only.attributes = l->attributes;
        only.n_attributes = l->n_attributes;
        al = ccroute__v1__lead__get_packed_size(&only);
        if (!(ab = arena_alloc(ob->s->arena, al)))
            goto bad;
        ccroute__v1__lead__pack(&only, ab);
    }
    sp = (struct campaign_lead_spec){ l->lead_id, l->number, l->time_zone, ab,
                                      (uint32_t)al };
    sv = (struct campaign_lead_saved){ (enum campaign_lead_state)st, att,
                                       (enum campaign_outcome)last, next };
    if (campaign_leads_restore(ob->cc, wall_us(), ci, &sp, &sv, 1, &bad,
                               &why) < 0) {
        log_warn("recovery: lead %s of campaign %s skipped: %s",
                 l->lead_id ? l->lead_id : "", camp, why);
        return;
    }
    return;
bad:
    log_warn("recovery: a stored lead record (%.100s) does not decode; "
             "skipped", rest);
}

void outbound_load(void *arg, const char *member, size_t mlen,
                   const uint8_t *data, size_t len)
{
    struct tenant *s = arg;
    struct outbound *ob = s->outbound;
    char m[3 * CAMPAIGN_ID_MAX];

    if (mlen < 2 || mlen >= sizeof(m) || member[1] != '|') {
        log_warn("recovery: an outbound record of an unknown kind; skipped");
        return;
    }
    memcpy(m, member, mlen);
    m[mlen] = '\0';
    ob->loading = true;
    switch (m[0]) {
    case 'k':
        load_campaign(ob, m + 2, data, len);
        break;
    case 'n':
        if (campaign_dnc_add(ob->cc, m + 2) < 0)
            log_warn("recovery: do-not-call number %s skipped", m + 2);
        break;
    case 'l':
        load_lead(ob, m + 2, data, len);
        break;
    case 'c':
        callback_load(ob->cb, m + 2, data, len);
        break;
    default:
        log_warn("recovery: outbound record %s of an unknown kind; skipped",
                 m);
    }
    campaign_out_clear(ob->cc);
    ob->loading = false;
    arena_reset(s->arena);
}

void outbound_contact_loaded(struct outbound *ob, const char *campaign,
                             const char *lead, bool preview,
                             const char *contact)
{
    int ci;
    uint32_t li;
    if (!campaign || !*campaign || !lead || !*lead)
        return;
    if (preview) {
        /* the preview's dial record is lost with the engine that made
         * it: its contact leaves at the first turn (L_STALE), its lead
         * came back waiting (campaign_leads_restore) */
        struct live *l;
        if (ob->nlive == ob->max_dials ||
            strlen(contact) >= sizeof(l->contact))
            return;
        l = &ob->live[ob->nlive++];
        memset(l, 0, sizeof(*l));
        l->state = L_STALE;
        l->preview = true;
        snprintf(l->contact, sizeof(l->contact), "%s", contact);
        return;
    }
    if ((ci = campaign_find(ob->cc, campaign)) < 0 ||
        campaign_lead_find(ob->cc, ci, lead, &li) < 0)
        return;
    campaign_lead_mark_done(ob->cc, li);
    /* written back when the tenant is OWNER (the store takes no write
     * while it loads): out_drain at the next pacing turn */
}

void outbound_on_owner(struct outbound *ob)
{
    /* the file's campaigns over what recovery found: the file wins */
    if (!ob->cfg_applied) {
        ob->cfg_applied = true;
        outbound_config_apply(ob, ob->s->cfg->campaigns,
                              ob->s->cfg->ncampaigns, NULL, 0);
    }
    /* what recovery changed (leads found reached) goes to the store now */
    if (campaign_out_count(ob->cc) && out_drain(ob))
        log_error("outbound: lead changes of the recovery could not be "
                  "recorded (out of memory)");
    timer_update(ob);
}

/* ---- campaigns of the configuration ---- */

static const struct config_campaign *old_entry(const struct config_campaign *v,
                                               unsigned n, const char *name)
{
    for (unsigned i = 0; i < n; i++)
        if (!strcmp(v[i].cfg.name, name))
            return &v[i];
    return NULL;
}

static void config_recorded(void *arg, int status)
{
    (void)arg;
    if (status < 0)
        log_error("configuration: campaigns could not be recorded in Redis "
                  "(%s); they apply again when the engine next owns the "
                  "tenant or the file is reloaded", ccr_strerror(status));
    else
        log_info("configuration: campaigns recorded");
}

/* The file's campaign as the CampaignUpsert it stands for: the stored
 * record is that message, so recovery reads a configured campaign like
 * any other, and r_upsert's checks and writes are the ones used. */
int outbound_config_apply(struct outbound *ob, const struct config_campaign *v,
                          unsigned n, const struct config_campaign *old,
                          unsigned nold)
{
    static const Ccroute__V1__DialMode modes[] = {
        [CAMPAIGN_MODE_PREVIEW] = CCROUTE__V1__DIAL_MODE__DIAL_MODE_PREVIEW,
        [CAMPAIGN_MODE_PROGRESSIVE] =
            CCROUTE__V1__DIAL_MODE__DIAL_MODE_PROGRESSIVE,
        [CAMPAIGN_MODE_PREDICTIVE] =
            CCROUTE__V1__DIAL_MODE__DIAL_MODE_PREDICTIVE,
    };
    unsigned applied = 0, failed = 0;
    int code, rc;
    char msg[256];

    for (unsigned i = 0; i < n; i++) {
        const struct config_campaign *e = &v[i], *o;
        const struct campaign_config *c = &e->cfg;
        Ccroute__V1__CampaignUpsert m = CCROUTE__V1__CAMPAIGN_UPSERT__INIT;
        char *blend[CAMPAIGN_BLEND_MAX];
        bool created;

        o = old ? old_entry(old, nold, c->name) : NULL;
        if (o && !memcmp(&o->cfg, c, sizeof(*c)) && o->start == e->start)
            continue;           /* a reload that left it as it was */
        m.name = (char *)c->name;
        m.queue = (char *)c->queue;
        m.mode = modes[c->mode];
        m.window_start_hour = c->window_start_h;
        m.window_end_hour = c->window_end_h;
        m.max_attempts = c->max_attempts;
        m.retry_busy_ms = c->retry_ms[CAMPAIGN_OUT_BUSY];
        m.retry_no_answer_ms = c->retry_ms[CAMPAIGN_OUT_NO_ANSWER];
        m.retry_machine_ms = c->retry_ms[CAMPAIGN_OUT_MACHINE];
        m.retry_failed_ms = c->retry_ms[CAMPAIGN_OUT_FAILED];
        m.retry_dropped_ms = c->retry_ms[CAMPAIGN_OUT_DROPPED];
        m.priority = c->priority;
        m.caller_id = (char *)c->caller_id;
        m.dialer = (char *)c->dialer;
        m.abandon_cap_bp = c->abandon_cap_bp;
        m.compliance_ms = c->compliance_ms;
        m.dial_timeout_ms = c->dial_timeout_ms;
        for (unsigned b = 0; b < c->nblend; b++)
            blend[b] = (char *)c->blend[b];
        m.blend_queues = blend;
        m.n_blend_queues = c->nblend;
        m.blend_margin_pct = c->blend_margin_pct;
        m.agent_share_pct = c->agent_share_pct;
        m.ramp_up_ms = c->ramp_up_ms;
        created = campaign_find(ob->cc, c->name) < 0;
        if (r_upsert(ob, &m, &code, msg, sizeof(msg)) < 0 ||
            (e->start && created &&
             r_run(ob, c->name, CAMPAIGN_RUNNING, &code, msg,
                   sizeof(msg)) < 0)) {
            log_error("configuration: campaign %s not applied: %s", c->name,
                      msg);
            failed++;
            continue;
        }
        applied++;
    }
    if (applied) {
        log_info("configuration: %u campaign(s) applied", applied);
        if ((rc = store_barrier(ob->s->store, config_recorded, ob)) < 0)
            log_error("configuration: campaigns not confirmed in Redis "
                      "(%s)", ccr_strerror(rc));
    }
    return failed ? -1 : 0;
}

static void snap_dnc(void *ctx, const char *number)
{
    struct outbound *ob = ctx;
    char m[CAMPAIGN_ID_MAX + 4];
    snprintf(m, sizeof(m), "n|%s", number);
    if (store_outbound_put(ob->s->store, m, 1, "", 0) < 0)
        log_error("store: do-not-call number %s could not be written back",
                  number);
}

void outbound_snapshot(struct outbound *ob)
{
    unsigned missing = 0;
    for (int ci = 0; ci < campaign_count(ob->cc); ci++)
        if (camp_write(ob, ci) < 0)
            missing++;
    campaign_dnc_each(ob->cc, snap_dnc, ob);
    for (uint32_t li = 0; li < campaign_lead_count(ob->cc); li++)
        if (lead_write(ob, li) < 0)
            missing++;
    callback_snapshot(ob->cb);
    if (missing)
        log_error("store: %u campaigns and leads could not be written back "
                  "(out of memory)", missing);
}

/* ---- life cycle ---- */

static int core_make(struct outbound *ob)
{
    ob->cc = campaign_core_new(0, ob->max_dials);
    return ob->cc ? 0 : -1;
}

struct outbound *outbound_new(struct tenant *s,
                              const struct outbound_hooks *hooks)
{
    struct outbound *ob = calloc(1, sizeof(*ob));
    if (!ob)
        return NULL;
    ob->s = s;
    ob->h = *hooks;
    ob->max_dials = 4096;
    ob->live = calloc(ob->max_dials, sizeof(*ob->live));
    ob->cb = callback_new(s, &hooks->cb);
    if (!ob->live || !ob->cb || core_make(ob) < 0) {
        outbound_free(ob);
        return NULL;
    }
    /* contact ids unique across restarts: the start time, then a count */
    ob->id_base = clock_wall_ms();
    uv_timer_init(s->loop, &ob->timer);
    ob->timer.data = ob;
    ob->timer_open = true;
    return ob;
}

void outbound_close(struct outbound *ob)
{
    if (ob && ob->timer_open) {
        ob->timer_open = false;
        ob->timer_on = false;
        uv_close((uv_handle_t *)&ob->timer, NULL);
    }
}

static void forget(struct outbound *ob)
{
    for (int i = 0; i < CAMPAIGN_MAX; i++) {
        free(ob->cblob[i]);
        ob->cblob[i] = NULL;
        ob->cblen[i] = 0;
        ob->first_start[i] = 0;
    }
    ob->nlive = 0;
}

void outbound_reset(struct outbound *ob)
{
    forget(ob);
    ob->cfg_applied = false;
    callback_reset(ob->cb);
    campaign_core_free(ob->cc);
    if (core_make(ob) < 0)
        log_error("outbound: out of memory for a fresh campaign core: "
                  "campaigns are not served until a restart");
    if (ob->timer_on) {
        uv_timer_stop(&ob->timer);
        ob->timer_on = false;
    }
}

void outbound_free(struct outbound *ob)
{
    if (!ob)
        return;
    forget(ob);
    if (ob->cc)
        campaign_core_free(ob->cc);
    callback_free(ob->cb);
    free(ob->live);
    free(ob);
}

void outbound_contact_offered(struct outbound *ob, uint32_t h, uint32_t agent)
{
    struct router *r = ob->s->router;
    const char *id = router_contact_id(r, h);

    if (strncmp(id, "ob-", 3) != 0)     /* not an answered call's */
        return;
    for (uint32_t i = 0; i < ob->nlive; i++) {
        struct live *l = &ob->live[i];
        if (l->preview || strcmp(l->contact, id) != 0)
            continue;
        if (l->state == L_RINGING) {
            /* offered while its DialResult is handled: the core learns
             * of the answer just after (h_result) */
            l->reached = true;
            l->reached_agent = agent;
        } else if (l->state == L_ANSWERED) {
            campaign_call_connected(ob->cc, wall_us(), l->dial,
                                    router_agent_id(r, agent));
            l->state = L_TALKING;
        }
        return;
    }
}

/* ---- configuration reload (engine/reload.c) ---- */

int outbound_queue_user(const struct outbound *ob, const char *queue,
                        char *why, size_t len)
{
    const struct campaign_config *cfg;
    char first[ROUTER_ID_MAX];
    for (int i = 0; (cfg = campaign_config_get(ob->cc, i)) != NULL; i++) {
        bool uses = !strcmp(cfg->queue, queue);
        for (unsigned b = 0; !uses && b < cfg->nblend; b++)
            uses = !strcmp(cfg->blend[b], queue);
        if (uses) {
            snprintf(why, len, "campaign \"%.64s\" uses it", cfg->name);
            return 1;
        }
    }
    unsigned n = callback_held_in(ob->cb, queue, first, sizeof(first));
    if (n) {
        snprintf(why, len, "%u held callbacks or follow-ups go back to it "
                 "(the first: %.64s)", n, first);
        return 1;
    }
    return 0;
}

void outbound_queues_moved(struct outbound *ob, const int *new_of_old,
                           unsigned nold)
{
    const struct campaign_config *cfg;
    struct router *r = ob->s->router;
    for (int i = 0; (cfg = campaign_config_get(ob->cc, i)) != NULL; i++) {
        int qi = r ? router_queue_find(r, cfg->queue) : -1;
        campaign_set_queue_ref(ob->cc, i,
                               qi < (r ? router_queue_count(r) : 0) ? qi : -1);
    }
    callback_queues_moved(ob->cb, new_of_old, nold);
}
