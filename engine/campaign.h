/* campaign.h -- the outbound campaign core: public interface.
 *
 * Pure like the router (router.h): no I/O, no clock, no globals. Every call
 * takes `now` (wall-clock microseconds, UTC; see campaign-t.h) and appends
 * what its caller must do to an output list (campaign_out_*): dial a lead,
 * offer a lead for preview, drop an answered call, a lead's new state. The
 * caller turns those into dial requests and router contacts, and tells the
 * core what happened: dial outcomes, calls that reached an agent, calls
 * that ended. The design is in campaign.c; docs/outbound.md says what of
 * it is built.
 *
 * Errors: functions returning int give 0 or a negative CCR_* code
 * (error.h); bad input never changes state.
 *
 * Ownership: the core copies everything it keeps; pointers passed in are
 * borrowed for the call. Strings it returns are borrowed until the lead or
 * campaign changes.
 */
#ifndef CCROUTE_CAMPAIGN_H
#define CCROUTE_CAMPAIGN_H

#include <stddef.h>
#include <stdint.h>

#include "campaign-t.h"

struct campaign_core;

/* A core for at most `max_leads` leads (0: 5,000,000) and `max_dials`
 * dials in flight at once -- previews, ringing, answered and talking calls
 * (0: 4096; their records are allocated here, never later). NULL out of
 * memory. */
struct campaign_core *campaign_core_new(uint32_t max_leads, uint32_t max_dials);
void campaign_core_free(struct campaign_core *cc);

/* Fills the defaults of a config the caller zeroed and then set: mode
 * progressive, window 9..21, 3 attempts, retries busy 5 min, no answer
 * 1 h, machine 4 h, failed 30 min, dropped 1 h, cap 3%, compliance 2 s,
 * dial timeout 30 s, margin 5%, share 100%. Only zero fields change. */
void campaign_config_defaults(struct campaign_config *cfg);
/* Checks a config: CCR_EINVAL with a static reason in *why. */
int campaign_config_check(const struct campaign_config *cfg, const char **why);

/* Creates the campaign or changes its configuration (copied; checked
 * first). A new campaign is STOPPED. Its leads, counters and pacing
 * estimates stay across changes. Returns the campaign index (>= 0), or
 * CCR_EINVAL, or CCR_ENOMEM at CAMPAIGN_MAX. `queue_ref` is an opaque
 * number the caller gives the campaign's queue (its router index):
 * campaigns of one queue_ref share its free agents in one pacing call. */
int campaign_upsert(struct campaign_core *cc, uint64_t now,
                    const struct campaign_config *cfg, int queue_ref);
int campaign_find(const struct campaign_core *cc, const char *name);
int campaign_count(const struct campaign_core *cc);
const struct campaign_config *campaign_config_get(const struct campaign_core *cc,
                                                  int campaign);
int campaign_queue_ref(const struct campaign_core *cc, int campaign);
/* The configured queues were renumbered by a reload: campaign `campaign`'s
 * queue is now `queue_ref` (-1: none). */
void campaign_set_queue_ref(struct campaign_core *cc, int campaign,
                            int queue_ref);
/* RUNNING, PAUSED or STOPPED. Pause and stop dial nothing new; calls in
 * flight finish. Start of a stopped campaign keeps its leads. */
int campaign_set_run(struct campaign_core *cc, uint64_t now, int campaign,
                     enum campaign_run run);
enum campaign_run campaign_run_get(const struct campaign_core *cc,
                                   int campaign);

/* Adds a batch of leads to a campaign, all or none: every lead is checked
 * first (number present and at most CAMPAIGN_ID_MAX-1 bytes, a time zone
 * ICU knows, its id new in the campaign and unique in the batch). On a
 * refusal nothing is added, *bad receives the index of the first bad lead
 * and *why a static reason. A lead is due at once (next eligible time
 * `now`). CCR_EINVAL, CCR_EDUPLICATE, CCR_ENOMEM (max_leads). */
int campaign_leads_add(struct campaign_core *cc, uint64_t now, int campaign,
                       const struct campaign_lead_spec *leads, size_t n,
                       size_t *bad, const char **why);

/* Recovery (engine/outbound.c): as campaign_leads_add(), each lead with
 * its saved attempts, last outcome, state and next eligible time. A lead
 * saved ACTIVE (its dial was in flight) comes back WAITING, last outcome
 * FAILED, due after the FAILED delay from `now`. Emits no LEAD event. */
int campaign_leads_restore(struct campaign_core *cc, uint64_t now,
                           int campaign, const struct campaign_lead_spec *ls,
                           const struct campaign_lead_saved *saved, size_t n,
                           size_t *bad, const char **why);
/* A restored lead's answered call survived as a router contact: the lead
 * is DONE (it is not dialed again). CAMPAIGN_ENOENT for no such lead. */
int campaign_lead_mark_done(struct campaign_core *cc, uint32_t lead);

/* The do-not-call set: exact number strings, checked before every dial.
 * Add is idempotent; removing an absent number returns 0 with *was_there
 * false. CCR_EINVAL for an empty or too long number, CCR_ENOMEM. */
int campaign_dnc_add(struct campaign_core *cc, const char *number);
int campaign_dnc_remove(struct campaign_core *cc, const char *number,
                        bool *was_there);
bool campaign_dnc_has(const struct campaign_core *cc, const char *number);
uint32_t campaign_dnc_count(const struct campaign_core *cc);
/* Calls fn for every number of the set (a full rewrite of the store). */
void campaign_dnc_each(const struct campaign_core *cc,
                       void (*fn)(void *ctx, const char *number), void *ctx);
/* Leads ever added (their indexes are 0 .. count - 1). */
uint32_t campaign_lead_count(const struct campaign_core *cc);

/* Pacing. For each RUNNING campaign, highest priority first, asks the
 * engine for its capacity (`cap`, called synchronously) and decides:
 * preview -- one PREVIEW per free agent not yet holding a preview;
 * progressive -- one DIAL per free agent not yet covered by a ringing or
 * answered call; predictive -- DIALs from the measured answer rate, ring
 * and handle times (campaign.c, "Predictive"). Campaigns of one queue_ref
 * share the free agents. Also drops answered calls past the compliance
 * time (DROP). */
typedef void (*campaign_capacity_cb)(void *ctx, int campaign,
                                     struct campaign_capacity *out);
void campaign_pace(struct campaign_core *cc, uint64_t now,
                   campaign_capacity_cb cap, void *ctx);
/* The next time campaign_pace() has work it can know of without asking
 * for capacity (a compliance deadline, a lead becoming due), or
 * UINT64_MAX. */
uint64_t campaign_next_deadline(const struct campaign_core *cc);

/* ---- what happened to a dial (dial ids come from DIAL / PREVIEW) ---- */

/* Records an opaque `tag` with the dial (the caller's owner id of the
 * connection its request went to, or its PREVIEW contact was made
 * under), to check later who may report its outcome. */
int campaign_dial_tag(struct campaign_core *cc, uint64_t dial, uint32_t tag);
/* CAMPAIGN_ENOENT for a dial that is not in flight; else *tag, *campaign. */
int campaign_dial_get(const struct campaign_core *cc, uint64_t dial,
                      uint32_t *tag, int *campaign, uint32_t *lead);
/* The preview's contact was offered to an agent (the agent is no longer
 * free, so pacing stops counting the preview as waiting). */
int campaign_preview_offered(struct campaign_core *cc, uint64_t dial);
/* The preview's agent accepted: DIAL follows (unless the number is now on
 * the do-not-call set: the lead is DNC and the dial ends). */
int campaign_preview_accept(struct campaign_core *cc, uint64_t now,
                            uint64_t dial);
/* The preview did not happen (skipped by the agent, or the caller could
 * not make its contact): the lead is due again at once, no attempt
 * counted. */
int campaign_preview_cancel(struct campaign_core *cc, uint64_t now,
                            uint64_t dial, bool skipped);
/* The switch's outcome of a ringing dial. HUMAN: the call waits for an
 * agent (preview: it has one, it is talking at once); any other: the
 * attempt counts, the lead is retried after the outcome's delay or
 * exhausted. CAMPAIGN_ENOENT: no such dial ringing; CCR_EINVAL: bad outcome. */
int campaign_dial_result(struct campaign_core *cc, uint64_t now,
                         uint64_t dial, enum campaign_outcome outcome);
/* The answered call reached an agent (offered or assigned). Within the
 * compliance time it is connected; past it, it was counted dropped by
 * campaign_pace() already and this is CAMPAIGN_ENOENT. */
int campaign_call_connected(struct campaign_core *cc, uint64_t now,
                            uint64_t dial, const char *agent);
/* The connected call ended (its contact completed): the dial's record is
 * freed, handle time measured. */
int campaign_call_ended(struct campaign_core *cc, uint64_t now, uint64_t dial);

/* ---- blending: agents' outbound share ---- */

/* Share (0..1) of agent's recent time spent on outbound calls
 * (exponentially weighted over an hour since its first outbound call); 0
 * for an agent never on one. */
double campaign_agent_share(struct campaign_core *cc, uint64_t now,
                            const char *agent);
/* Calls fn for each agent whose share is at or above `pct` percent. */
void campaign_agents_over(struct campaign_core *cc, uint64_t now, uint32_t pct,
                          void (*fn)(void *ctx, const char *agent), void *ctx);

/* The supervisor's cap: `free` (the free agents of campaign's queue the
 * caller counted) less those of them whose outbound share is at or above
 * the campaign's agent_share_pct. `is_free` says whether an agent (by
 * id) is among the `free` ones. At 100% (no cap) returns `free` without
 * calling it. O(agents ever on an outbound call). */
uint32_t campaign_free_capped(struct campaign_core *cc, uint64_t now,
                              int campaign, uint32_t free,
                              bool (*is_free)(void *ctx, const char *agent),
                              void *ctx);
/* Who takes a call of a capped campaign: of the agents `next` yields
 * (the free agents of the campaign's queue, each with the moment it
 * became free; false when there is none left), the one that has been
 * free longest among those whose outbound share is under the campaign's
 * agent_share_pct -- when one of them is at or above it. NULL, and the
 * router chooses in its own order: at 100% (no cap; next() is not
 * called), when none yielded is at or above the cap, or when every one
 * is. The id is the one next() gave (borrowed). O(agents yielded). */
const char *campaign_agent_pick(struct campaign_core *cc, uint64_t now,
                                int campaign,
                                bool (*next)(void *ctx, const char **id,
                                             uint64_t *since),
                                void *ctx);

/* ---- leads ---- */

const char *campaign_lead_id(const struct campaign_core *cc, uint32_t lead);
const char *campaign_lead_number(const struct campaign_core *cc,
                                 uint32_t lead);
const char *campaign_lead_zone(const struct campaign_core *cc, uint32_t lead);
const void *campaign_lead_attrs(const struct campaign_core *cc, uint32_t lead,
                                uint32_t *len);
struct campaign_lead_info {
    enum campaign_lead_state state;
    uint32_t attempts;
    uint64_t next_at;
    enum campaign_outcome last;
    int campaign;
};
int campaign_lead_find(const struct campaign_core *cc, int campaign,
                       const char *id, uint32_t *lead);
void campaign_lead_info(const struct campaign_core *cc, uint32_t lead,
                        struct campaign_lead_info *out);
/* Whether an IANA zone name is known (opens it: O(1) after). */
bool campaign_zone_valid(struct campaign_core *cc, const char *zone);

/* ---- output and statistics ---- */

size_t campaign_out_count(const struct campaign_core *cc);
const struct campaign_event *campaign_out_get(const struct campaign_core *cc,
                                              size_t i);
void campaign_out_clear(struct campaign_core *cc);

void campaign_stats(const struct campaign_core *cc, int campaign, uint64_t now,
                    struct campaign_stats *out);

#endif
