/* care.h -- dispositions, their counts, and the emotional-load rules of
 * one tenant (docs/care.md).
 *
 * Like the router, the care module is pure: no I/O, no clock of its own.
 * Every call that depends on time takes `now_us` (the engine's monotonic
 * clock, the router's) and, for the calendar (interval, day), `wall_ms`
 * (milliseconds since the epoch, UTC). The engine (dispatch.c) calls it
 * around the router: it checks a disposition before the completion,
 * counts it after, and carries out what the rules ask (an automatic AWAY
 * and its end) through the router's own calls, so that the agent's desk
 * hears of it through the usual AgentState path and Redis records it.
 *
 * Handles: contacts and agents are the router's handles (the tables are
 * sized from routing.max_contacts / max_agents at care_new()); an agent
 * slot remembers its agent's id, so a handle reused by another agent
 * starts clean.
 *
 * Nothing here allocates after care_new(): the counts live in bounded
 * tables (care-t.h), so a completion costs O(1) -- a bounded number of
 * table probes -- and cannot fail for memory.
 */
#ifndef CCROUTE_CARE_H
#define CCROUTE_CARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "care-t.h"

struct care;

/* Defaults of a configuration with no `care:` section. */
void care_config_defaults(struct care_config *cfg);
/* Index of `code` in cfg->codes, or -1. */
int care_config_code(const struct care_config *cfg, const char *code);

/* A care state for the configured queues of `rc` (names resolved once)
 * and its slot counts. NULL out of memory. Borrows `cfg` and `rc` for its
 * whole life (the engine's configuration outlives it). */
struct care *care_new(const struct care_config *cfg,
                      const struct router_config *rc);
/* The configured queues changed (a reload, engine/reload.c): `rc` is the
 * new queue list, `old_of_new[q]` the index queue q had (-1: added).
 * Each queue's list is found again by name and its counts follow it; a
 * removed queue's counts go. 0, or CCR_ENOMEM with nothing changed. */
int care_queues_moved(struct care *c, const struct router_config *rc,
                      const int *old_of_new);
void care_free(struct care *c);
/* The router was replaced (a store reset): forget every per-contact and
 * per-agent datum and every pause; the counts stay. */
void care_forget(struct care *c);

/* ---- the completion path ---- */

/* Whether a completion in configured queue `queue` (-1: none) may carry
 * `code` ("" or NULL: none), `ntags` tags and `note`. Returns 0 with
 * *code_id (-1 for none), or CCR_EINVAL with a message in why: an unknown
 * code, a missing required one (code empty), too many tags, a tag empty
 * or too long, a note too long. Changes nothing. */
int care_check(const struct care *c, int queue, const char *code,
               const char *const *tags, size_t ntags, const char *note,
               int *code_id, char *why, size_t whylen);

/* The list of configured queue `queue` when code `code` (care_check()'s
 * *code_id) requires a follow-up there (its followup_* rules), else NULL. */
const struct care_list *care_followup(const struct care *c, int queue,
                                      int code);

/* Contact `contact` arrived in configured queue `queue` (-1: none, a
 * skills-only contact); `difficult`: marked as a complaint or with a low
 * sentiment (care_difficult_arrival()). */
void care_contact_arrived(struct care *c, uint32_t contact, int queue,
                          bool difficult);
/* Whether a ContactArrived's marks make the contact difficult. */
bool care_difficult_arrival(const struct care *c, bool complaint,
                            int32_t sentiment);
/* The contact's product (ContactArrived.product; "" or NULL: none), for
 * the counts per product: the first CARE_PRODUCTS_MAX products seen get
 * a scope each, kept for the engine's life; a completion of another is
 * counted in care_products_untracked(). O(CARE_PRODUCTS_MAX). */
void care_contact_product(struct care *c, uint32_t contact,
                          const char *product);
/* The configured queue a contact arrived in (-1: none or unknown). */
int care_contact_queue(const struct care *c, uint32_t contact);
/* The contact was assigned (its handle time starts). */
void care_contact_assigned(struct care *c, uint32_t contact, uint64_t now_us);

struct care_completion {
    uint32_t contact;             /* router handle */
    int queue;                    /* configured queue, or -1 */
    uint32_t agent;               /* router handle, or UINT32_MAX */
    const char *agent_id;         /* NULL when no agent */
    int code;                     /* from care_check(), or -1 */
    const char *const *tags;
    size_t ntags;
    bool difficult;               /* ContactCompleted.difficult */
    uint32_t wrapup_ms;           /* the queue's wrap-up */
    /* the queue's service level before this completion (its group's
     * yield_margin): target percent (0: none), level reached so far
     * (0..1, router_queue_stats), contacts waiting */
    uint32_t sl_target;
    double sl_level;
    uint32_t waiting;
};

/* Whether the completion counts as difficult: marked at arrival
 * (complaint, sentiment), by the agent (e->difficult) or by a code
 * configured as difficult for the queue. */
bool care_completion_difficult(const struct care *c,
                               const struct care_completion *e);
/* Counts a completion (checked by care_check()) and applies the agent
 * group's rules. Returns what the engine must do to the agent now:
 * CARE_RECOVERY or CARE_WRAPUP_EXTENDED (AWAY with that reason; the pause
 * ends by care_pause_pop() at now + *pause_ms), or CARE_NONE. A rule
 * that would apply yields (CARE_NONE, counted in the queue's and group's
 * yields_today) when the group has a yield_margin and care_sl_yields(). */
enum care_action care_contact_completed(struct care *c,
                                        const struct care_completion *e,
                                        uint64_t now_us, uint64_t wall_ms,
                                        uint32_t *pause_ms);
/* Whether a rule of group g yields for completion e: contacts wait in
 * its queue, whose service level is below its target by more than the
 * group's yield_margin points. */
bool care_sl_yields(const struct care_group *g,
                    const struct care_completion *e);
/* A pause the engine could not start (the router refused the AWAY):
 * forgotten. */
void care_pause_cancel(struct care *c, uint32_t agent);
/* An agent restored from Redis AWAY with a care reason: its pause ends
 * `pause_ms` from now (the remaining time was not stored). */
void care_pause_restore(struct care *c, uint32_t agent, const char *id,
                        const char *reason, uint64_t now_us);

/* ---- spreading difficult contacts (docs/care.md) ---- */

/* The care weight of agent `agent` (id `id`) completing a contact now
 * (`difficult`: that contact counts too): its group's spread.weight times
 * its difficult completions within spread.within, in ms, for
 * router_agent_set_idle_shift(); 0 without a spread rule. O(CARE_RING). */
uint32_t care_agent_shift_ms(const struct care *c, uint32_t agent,
                             const char *id, uint64_t now_us, bool difficult);

/* ---- routine-only mode (docs/care.md) ---- */

/* Called before the router completes e (like the load): whether this
 * completion begins the agent's routine-only mode -- its group has a
 * routine rule, e is difficult and makes routine.after difficult ones
 * within routine.within since the last mode began, and the rule does not
 * yield (care_sl_yields(), counted). True: the mode is on until
 * routine.for from now (counted in the group's routine_today) and the
 * engine calls router_agent_set_routine() before the completion, so that
 * the agent freed by it is not offered a difficult contact. */
bool care_routine_begin(struct care *c, const struct care_completion *e,
                        uint64_t now_us, uint64_t wall_ms);
/* The router refused the mode: forgotten. */
void care_routine_cancel(struct care *c, uint32_t agent);
/* One agent whose routine-only mode ended at now_us (its handle), or
 * UINT32_MAX when none is due. */
uint32_t care_routine_pop(struct care *c, uint64_t now_us);

/* The earliest pause or routine-only end, or UINT64_MAX. O(paused and
 * routine-only agents). */
uint64_t care_next_deadline(const struct care *c);
/* One agent whose pause ended at now_us (its handle, and the reason it
 * was paused with in *reason), or UINT32_MAX when none is due. */
uint32_t care_pause_pop(struct care *c, uint64_t now_us, const char **reason);

/* ---- reading (Stats, /metrics, /api/v1/care) ---- */

/* Scopes of counts: 0 is the whole tenant, 1..ngroups the agent groups
 * (care_scope_group), then the configured queues (care_scope_queue), then
 * the products seen (care_scope_product: every configured code, like a
 * group). */
int care_scope_group(const struct care *c, unsigned group);
int care_scope_queue(const struct care *c, int queue);
int care_scope_product(const struct care *c, unsigned product);
unsigned care_product_count(const struct care *c);
const char *care_product_name(const struct care *c, unsigned product);
/* Completions of a product that found the product table full. */
uint64_t care_products_untracked(const struct care *c);
unsigned care_group_count(const struct care *c);
const char *care_group_name(const struct care *c, unsigned group);
unsigned care_code_count(const struct care *c);
const char *care_code_name(const struct care *c, unsigned code);

struct care_scope_view {
    uint64_t difficult_today, completed_today;
    uint64_t pauses_today, extended_today;    /* groups */
    uint64_t yields_today;        /* a rule yielded to the service level */
    uint64_t routine_today;       /* groups: routine-only modes begun */
};
void care_scope_view(const struct care *c, int scope, uint64_t wall_ms,
                     struct care_scope_view *out);
/* Code `code`'s counts in `scope`: false when the scope never takes it
 * (a queue whose list lacks it), else true with both counts. */
bool care_scope_code(const struct care *c, int scope, unsigned code,
                     uint64_t wall_ms, uint64_t *interval, uint64_t *today);

struct care_tag_count {
    char tag[CARE_WORD_MAX];
    uint64_t interval, today, yesterday;
    bool rising;
};
/* The scope's most frequent tags today (ties: more yesterday, then by
 * name), at most min(max, care.top_tags). Returns how many. O(table). */
size_t care_top_tags(const struct care *c, int scope, uint64_t wall_ms,
                     struct care_tag_count *out, size_t max);
uint64_t care_tags_untracked(const struct care *c);
/* Start of the interval that holds wall_ms. */
uint64_t care_interval_start_ms(const struct care *c, uint64_t wall_ms);

struct care_agent_view {
    int group;                    /* -1: none */
    uint32_t difficult_recent;
    uint32_t pause_left_ms;
    uint32_t routine_left_ms;     /* routine-only mode */
    double occupancy;             /* rolling; 0 without an occupancy rule */
};
/* Agent `agent` (handle) of id `id`. */
void care_agent_view(const struct care *c, uint32_t agent, const char *id,
                     uint64_t now_us, struct care_agent_view *out);

#endif
