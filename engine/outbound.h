/* outbound.h -- the engine side of outbound campaigns (interface).
 *
 * One per tenant. It owns the campaign core (campaign.h), the pacing
 * timer, and the glue between the core and the rest of the engine: the
 * campaign requests (CampaignUpsert ... DncRemove, DialResult), the
 * DialRequests to a campaign's dialer connection, the contact an answered
 * call becomes, persistence of campaigns, leads and the do-not-call set
 * through the store, their recovery, and per-campaign Stats. The design
 * is in outbound.c; docs/outbound.md says what is built.
 *
 * dispatch.c reaches it through its request table (outbound_request) and
 * a few calls (life cycle, Stats, recovery); it calls dispatch back only
 * through the hooks it is given (no include of dispatch.h: data flows one
 * way).
 */
#ifndef CCROUTE_OUTBOUND_H
#define CCROUTE_OUTBOUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "callback.h"
#include "ccroute.pb-c.h"

struct tenant;
struct conn;
struct arena;
struct outbound;

/* What outbound needs from the layer that owns connections and contacts
 * (dispatch.c). Called on the loop thread; `arg` is hooks.arg. */
struct outbound_hooks {
    void *arg;
    /* The live connection of client name `name` and its owner record id,
     * or NULL. */
    struct conn *(*conn_of)(void *arg, const char *name, uint32_t *owner);
    /* Makes a router contact of the packed ContactArrived buf[0..len)
     * (taken, freed on failure too) under owner record `owner`, stored in
     * Redis like a ContactArrived of that owner's client. Admits the
     * change first (nothing is done on a refusal). 0, or -1 with an
     * ErrorCode in *code and words in msg. */
    int (*contact_make)(void *arg, uint32_t owner, uint8_t *buf, size_t len,
                        int *code, char *msg, size_t msglen);
    /* Abandons the router contact `id` (an answered call dropped). */
    void (*contact_end)(void *arg, const char *id);
    /* The callbacks' hooks (callback.h); their arg is `arg` too. */
    struct callback_hooks cb;
};

/* NULL out of memory. The core is sized from the tenant's configuration
 * (router.max_contacts bounds live dials). */
struct outbound *outbound_new(struct tenant *s,
                              const struct outbound_hooks *hooks);
void outbound_close(struct outbound *ob);   /* its timer handle */
void outbound_free(struct outbound *ob);
/* The router is being replaced and the state reloaded (store on_reset):
 * forget every campaign, lead and dial. */
void outbound_reset(struct outbound *ob);

/* Answers of outbound_request(). */
enum { OUTBOUND_ACK = 0, OUTBOUND_DURABLE = 1 };

/* One campaign request (body case of env) from c. OUTBOUND_ACK: answer
 * Ack now; OUTBOUND_DURABLE: answer Ack after a store barrier (its writes
 * were admitted); -1: answer Error *code with msg; nothing was changed. */
int outbound_request(struct outbound *ob, struct conn *c,
                     const Ccroute__V1__Envelope *env, int *code, char *msg,
                     size_t msglen);

/* One campaign's figures, as Stats.campaigns reports them (the HTTP
 * surface reads them: metrics.c, api.c). `campaign` is borrowed until the
 * campaign changes. */
struct outbound_fig {
    const char *campaign;
    int run;                      /* Ccroute__V1__CampaignRun */
    uint64_t leads, waiting, active, done, exhausted, dnc;
    uint64_t dials, human, machine, busy, no_answer, failed, dropped;
    uint64_t connected;
    uint64_t agent_ms;            /* agents' time on its calls that ended */
    double drop_rate, drop_rate_window, contacts_per_hour;
};
/* The callbacks' figures (Stats 33-36). */
struct outbound_cb_fig {
    uint32_t waiting, held;
    uint64_t dials, connected;
};
int outbound_campaign_count(const struct outbound *ob);
void outbound_campaign_fig(const struct outbound *ob, int campaign,
                           struct outbound_fig *out);
void outbound_callback_fig(const struct outbound *ob,
                           struct outbound_cb_fig *out);

/* Follow-ups (callback.h; dispatch.c makes them from ContactCompleted). */
int outbound_followup_check(struct outbound *ob, const char *contact,
                            const char *number, int *code, char *msg,
                            size_t msglen);
/* Also runs the pacing timer, which puts it in its queue when due. */
void outbound_followup_add(struct outbound *ob,
                           const struct callback_followup *f);
void outbound_followup_fig(const struct outbound *ob,
                           struct callback_fu_fig *out);

/* Every campaign's statistics into st->campaigns (in arena a, until the
 * reply is sent). -1 out of memory. */
int outbound_stats(struct outbound *ob, struct arena *a,
                   Ccroute__V1__Stats *st);

/* store_hooks.load_outbound; `arg` is the struct tenant. */
void outbound_load(void *arg, const char *member, size_t mlen,
                   const uint8_t *data, size_t len);
/* A recovered contact that an answered call of `campaign` to `lead`
 * became: the lead was reached, it is DONE. A recovered `preview`
 * contact (borrowed id `contact`) was not dialed: it leaves the router
 * at the first pacing turn, its lead waits again. */
void outbound_contact_loaded(struct outbound *ob, const char *campaign,
                             const char *lead, bool preview,
                             const char *contact);
/* The tenant is OWNER: pacing may run (arms the timer when a campaign
 * runs). */
void outbound_on_owner(struct outbound *ob);
/* Upserts the configuration's campaigns v[0..n) exactly as CampaignUpsert
 * would (leads, counters and run state kept; `start` runs one it created),
 * the records written and a store barrier asked for; with `old` (a
 * reload), only the entries that differ from old's of the same name.
 * Called at outbound_on_owner with the running configuration. Failures
 * are logged; -1 if any campaign was not applied. */
struct config_campaign;
int outbound_config_apply(struct outbound *ob, const struct config_campaign *v,
                          unsigned n, const struct config_campaign *old,
                          unsigned nold);
/* Full rewrite (store hooks.snapshot): every campaign, number and lead. */
void outbound_snapshot(struct outbound *ob);
/* The router offered contact `h` to agent `agent` (fanout, as the event
 * goes out): an answered call reached an agent now, not at the next
 * pacing turn -- a call accepted and completed between two turns would
 * otherwise end unseen and count as dropped. */
void outbound_contact_offered(struct outbound *ob, uint32_t h, uint32_t agent);

/* Configuration reload (engine/reload.c). What still needs configured
 * queue `queue`: a campaign (its queue or a blend queue) or a callback or
 * follow-up held out of the router that goes back to it. 0, or 1 with
 * what in `why`. */
int outbound_queue_user(const struct outbound *ob, const char *queue,
                        char *why, size_t len);
/* The configured queues were renumbered (`new_of_old`: old index -> new,
 * -1 for one removed; `nold` entries): the campaigns' queues are found
 * again by name, the callbacks' follow the map. */
void outbound_queues_moved(struct outbound *ob, const int *new_of_old,
                           unsigned nold);

#endif
