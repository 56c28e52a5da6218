/* router.h -- the skills-based routing core: public interface.
 *
 * The router is pure: it performs no I/O, reads no clock and keeps no
 * globals. Every call takes `now` (microseconds on a monotonic clock chosen
 * by the caller) and the same calls at the same clock always give the same
 * decisions. It never touches a socket or Redis: it changes its own state
 * and appends what happened (decisions and state changes) to its output
 * list, which the caller drains with router_out_*() after each call and
 * turns into protocol messages (engine/dispatch.c) and Redis writes
 * (engine/store.c).
 *
 * Naming: external identifiers (contact ids, agent ids, queue names, skill
 * names) are strings of at most ROUTER_ID_MAX-1 bytes. Inside, contacts and
 * agents live in slots addressed by uint32_t handles. A handle that appears
 * in the output list stays valid (its id and tag readable) until
 * router_out_clear(), even when the contact or agent has gone: the router
 * defers slot reuse until then.
 *
 * Errors: functions returning int give 0 or a negative ROUTER_E* code;
 * ccr_strerror() names it. Bad input never changes state.
 *
 * Ownership: the router copies everything it keeps; pointers passed in are
 * borrowed for the duration of the call only.
 */
#ifndef CCROUTE_ROUTER_H
#define CCROUTE_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "router-t.h"

/* Creates a router for the given configuration (copied). `seed` drives the
 * weighted-random strategy. Returns NULL on invalid configuration or out of
 * memory; when `err` is not NULL it receives a static message. */
struct router *router_new(const struct router_config *cfg, uint64_t seed,
                          const char **err);
void router_free(struct router *r);
/* The bytes router_new() allocates for max_agents agents and max_contacts
 * contacts (their slots, id maps, timer heap and fifos, queue table),
 * 0 taken as router_new()'s defaults; not counting what grows with use
 * (pool entries, rings, skills). The config loader bounds it. */
uint64_t router_memory_need(uint32_t max_agents, uint32_t max_contacts);

/* Returns the queue index for `name` or -1. */
int router_queue_find(const struct router *r, const char *name);
const char *router_queue_name(const struct router *r, int queue);
/* Whether configured queue `queue` takes contacts of router channel
 * `channel` (a queue without a channel list takes every channel). */
bool router_queue_takes(const struct router *r, int queue, int channel);
/* Whether a skill name is known: configured, or held by an agent or a
 * contact since (a skills-only contact may name only known skills). */
bool router_skill_known(const struct router *r, const char *name);
int router_queue_count(const struct router *r);

/* Changes, in place, the limits of configured queue `queue` (and of the
 * queues derived from it) to those of `qc`: sl_threshold_ms,
 * offer_timeout_ms (0: the routing default), wrapup_ms, max_len,
 * max_wait_ms and overflow (a configured queue's name, or empty); every
 * other field of `qc` is ignored. What is under way keeps what it was
 * given (an offer out its deadline, an agent in wrap-up its end);
 * waiting contacts move on under the new max_wait and overflow, counted
 * from when they entered the queue. Statistics are kept. ROUTER_EINVAL
 * for a bad index or an overflow to itself, ROUTER_ENOQUEUE for an
 * unknown overflow; nothing changes then. O(derived queues + contacts
 * waiting in the queue). */
int router_queue_set_limits(struct router *r, int queue,
                            const struct router_queue_config *qc);

/* ---- events in ---- */

/* A contact arrives. `spec->queue` names a queue, or is empty and
 * `spec->skills` lists the required skills directly. With both, the skills
 * are extra requirements on top of the queue's (language, product): only
 * the queue's agents holding them are offered the contact; unknown extra
 * skill names make it wait, never fail (see router.c, "Derived queues"). A contact id that is
 * already known is not routed again: the call returns ROUTER_EDUPLICATE and
 * *handle receives the existing contact (the caller answers with its current
 * state). `tag` is an opaque number the caller gets back in events about
 * this contact (the engine stores its owner record there, owner.h). */
int router_contact_arrive(struct router *r, uint64_t now,
                          const struct router_contact_spec *spec,
                          uint32_t tag, uint32_t *handle);
int router_contact_abandon(struct router *r, uint64_t now, const char *id);
int router_contact_complete(struct router *r, uint64_t now, const char *id);
/* A queued or assigned contact leaves the router (an offered one:
 * ROUTER_ESTATE): a callback held out of its queue until its time, or one
 * whose attempts are spent (engine/callback.c), or a preview that ends
 * (engine/outbound.c). An assigned contact's agent is freed without
 * wrap-up (it did no work on it) and told (REVOKED, ABANDONED, before
 * the CONTACT_GONE). CONTACT_GONE is
 * emitted with u.gone QUEUED -- the contact still waits, outside the
 * router; it is counted neither handled nor abandoned -- or, with
 * `abandoned`, ABANDONED and counted so. */
int router_contact_withdraw(struct router *r, uint64_t now, const char *id,
                            bool abandoned);
/* Transfer to another queue (to_queue >= 0) or to a named agent
 * (to_agent != NULL). The original arrival time is kept: its score, its
 * place in the target's waiting order and the target's longest wait
 * count from it (expansion steps and the maximum wait count from entering
 * the target). */
int router_contact_transfer(struct router *r, uint64_t now, const char *id,
                            int to_queue, const char *to_agent);
int router_offer_accept(struct router *r, uint64_t now,
                        const char *contact_id, const char *agent_id);
int router_offer_reject(struct router *r, uint64_t now,
                        const char *contact_id, const char *agent_id);

int router_agent_login(struct router *r, uint64_t now,
                       const struct router_agent_spec *spec, uint32_t tag,
                       uint32_t *handle);
int router_agent_logout(struct router *r, uint64_t now, const char *id);
/* ROUTER_AGENT_AVAILABLE, ROUTER_AGENT_AWAY (with reason), or
 * ROUTER_AGENT_WRAPUP_DONE to end wrap-up early. */
int router_agent_set_state(struct router *r, uint64_t now, const char *id,
                           enum router_agent_cmd cmd, const char *reason);

/* Agent `id`'s care load (docs/care.md: its recent difficult contacts;
 * capped at 65535). Among agents idle since the same moment, the one of
 * lower load is preferred, before the order of becoming idle. It takes
 * effect the next time the agent becomes idle (AVAILABLE, or a slot
 * freed): the pools keep their keys until then. 0 at login.
 * ROUTER_ENOAGENT, ROUTER_EINVAL. O(1). */
int router_agent_set_load(struct router *r, const char *id, uint32_t load);
/* Agent `id`'s routine-only mode (docs/care.md, "Only routine contacts"):
 * while on, no contact that arrived marked difficult
 * (router_contact_spec.difficult) is offered to it from a queue, as if
 * each excluded it; a contact already waiting for it by name (preferred
 * agent, transfer to the agent) still is. Turning it off offers the
 * agent what now fits, as becoming available does. Off at login (a
 * re-login keeps it). ROUTER_ENOAGENT, ROUTER_EINVAL. */
int router_agent_set_routine(struct router *r, uint64_t now, const char *id,
                             bool on);

/* Agent `id`'s care weight (docs/care.md, "Spreading difficult
 * contacts"): when a contact marked difficult (router_contact_spec.
 * difficult) is routed to one of the available agents, the agent is
 * ordered as if it had become idle `shift_ms` later -- idle that much
 * less -- in longest idle, and among agents of the same score (most
 * skilled) or busy slots (least occupied); round robin and weighted
 * random ignore it, and so does every other contact. It takes effect at
 * once (it is read at the choice). Capped at ROUTER_IDLE_SHIFT_MAX_MS;
 * 0 at login (a re-login keeps it). ROUTER_ENOAGENT, ROUTER_EINVAL.
 * O(1). */
int router_agent_set_idle_shift(struct router *r, const char *id,
                                uint32_t shift_ms);

/* Runs every timer due at `now`: offer deadlines, wrap-up ends, expansion
 * steps, maximum wait overflow, preferred-agent waits. */
void router_tick(struct router *r, uint64_t now);
/* The next time router_tick() has work, or UINT64_MAX. O(1). */
uint64_t router_next_deadline(const struct router *r);

/* ---- recovery (store.c loads state from Redis) ---- */

/* Restores a contact with its original arrival time and state as queued;
 * it is routed by the next router_tick(). Offers that were in flight are
 * restored as queued too, with `excluded_agent` (may be NULL) not offered
 * again. */
int router_contact_restore(struct router *r, uint64_t now,
                           const struct router_contact_spec *spec,
                           uint64_t arrived_at, const char *excluded_agent,
                           uint32_t tag, uint32_t *handle);
/* Restores an assigned contact (agent busy with it). */
int router_contact_restore_assigned(struct router *r, uint64_t now,
                                    const struct router_contact_spec *spec,
                                    uint64_t arrived_at, const char *agent_id,
                                    uint32_t tag, uint32_t *handle);

/* ---- lookups ---- */

int router_contact_find(const struct router *r, const char *id,
                        uint32_t *handle);
int router_agent_find(const struct router *r, const char *id,
                      uint32_t *handle);
const char *router_contact_id(const struct router *r, uint32_t handle);
const char *router_agent_id(const struct router *r, uint32_t handle);
uint32_t router_contact_tag(const struct router *r, uint32_t handle);
uint32_t router_agent_tag(const struct router *r, uint32_t handle);
/* Full snapshot of one contact / agent (for ContactQueued replies, Offer
 * attributes, Redis writes). */
void router_contact_info(const struct router *r, uint32_t handle,
                         struct router_contact_info *out);
void router_agent_info(const struct router *r, uint32_t handle, uint64_t now,
                       struct router_agent_info *out);

/* ---- output ---- */

size_t router_out_count(const struct router *r);
const struct router_event *router_out_get(const struct router *r, size_t i);
/* Forgets the output list and releases the slots of contacts and agents
 * that are gone. */
void router_out_clear(struct router *r);

/* ---- statistics ---- */

void router_queue_stats(const struct router *r, int queue, uint64_t now,
                        struct router_queue_stats *out);
unsigned router_agent_count(const struct router *r);
unsigned router_contact_count(const struct router *r);
/* Contacts waiting (queued or offered) in every queue, configured or
 * virtual. O(1). */
unsigned router_waiting_count(const struct router *r);
/* Every queue index, configured (0..router_queue_count()-1) or created
 * for contacts: 0..router_queue_total()-1 (a high-water mark: the index of
 * a freed created queue is neither virtual nor derived until reused, nor
 * is a skill group's, the agent pools that skills-only virtual queues of
 * one skill share: router.c, "Skill groups"). Statistics exist for the
 * configured ones (derived queues count in their base) and the virtual
 * queues of skills-only contacts (router_queue_is_virtual()). */
int router_queue_total(const struct router *r);
bool router_queue_is_virtual(const struct router *r, int queue);
/* Derived and virtual queues that exist now: in use, or kept after their
 * last contact went (at most ROUTER_QUEUES_KEPT of those after
 * router_out_clear(); see router.c, "Freeing queues"). O(queues). */
int router_queue_created(const struct router *r);
/* Writes the stable name of a configured queue (its name) or a virtual
 * one into buf (snprintf rules: returns the length it needed):
 * "~<channel>/<skill>@<min level>[+<skill>@<min level>...]", the skills
 * sorted by name (byte order), channel voice, chat, email or social.
 * ROUTER_EINVAL for a derived queue or a bad index. */
int router_queue_label(const struct router *r, int queue, char *buf,
                       size_t len);
/* Estimated wait in ms for a new contact at the back of `queue`. */
uint32_t router_estimated_wait(const struct router *r, int queue,
                               uint64_t now);

/* ---- capacity (outbound pacing, engine/campaign.h) ---- */

/* Agents of configured or created queue `queue` that can take a contact
 * of router channel `channel` right now at the queue's first level (the
 * count of its tier-0 pool; a skills-only queue of one skill: of the
 * skill group's pools it reads, O(levels)). 0 for a bad index or
 * channel. O(1). */
uint32_t router_queue_free(const struct router *r, int queue, int channel);
/* Logged-in agents of `queue` at its first level, whatever their state.
 * 0 for a bad index. O(1) (a skills-only queue of one skill: O(levels),
 * router.c, "Skill groups"). */
uint32_t router_queue_staffed(const struct router *r, int queue);
/* Whether agent `agent` (a handle) can take a contact of `channel` in
 * `queue` right now at the queue's first level: it is one of the
 * router_queue_free() agents. O(the agent's pool memberships). */
bool router_agent_free_for(const struct router *r, uint32_t agent, int queue,
                           int channel);

/* ---- testing ---- */

/* Checks every invariant (no agent over capacity, no contact both queued
 * and offered, every offer has a live deadline, every queued contact is
 * reachable from its queue, indexes agree with states). Returns 0, or a
 * negative code and a description in buf. O(agents + contacts). */
int router_check(const struct router *r, char *buf, size_t len);

/* How many times since router_new() a pool above a queue's first level
 * went to sleep (no contact waited at its levels when it filled up) and
 * woke again (a contact reached those levels): router.c, "Sleeping
 * pools". For tests and the benchmark; either pointer may be NULL. */
void router_pool_sleeps(const struct router *r, uint64_t *sleeps,
                        uint64_t *wakes);

/* Changes, in place, the times of configured queue `queue`'s expansion
 * steps (and of the queues derived from it) to those of `qc->steps`;
 * every other field of `qc` is ignored. The steps, sorted by time, must
 * widen the queue as the running ones do (the same levels, skills and
 * added queues in the same order): else ROUTER_EINVAL and nothing
 * changes. Offers out keep their agent and deadline; each waiting
 * contact is given, at the next router_tick(), the level its time in the
 * queue has under the new times -- lower than the one it reached when a
 * step came later -- and routed. Reload (engine/reload.c) only.
 * O(steps + contacts waiting in the queue). */
int router_queue_set_step_times(struct router *r, uint64_t now, int queue,
                                const struct router_queue_config *qc);

/* ---- reload: the queue set and a queue's shape (router.c, "reload: the
 * queue set"). Reload (engine/reload.c) only, between two calls whose
 * output was drained. Contact and agent handles never change. ---- */

/* Makes skill `name` known (as one listed at router_new()): a
 * skills-only contact may name it. 0, ROUTER_EINVAL, ROUTER_ENOMEM. */
int router_skill_add(struct router *r, const char *name);

/* Contacts (queued or offered; with !waiting_only assigned ones too) of
 * configured queue `queue` and the queues derived from it whose channel
 * is in the bit mask `channels`; the first one's id into `first` (may be
 * NULL). O(contacts). */
unsigned router_queue_holds(const struct router *r, int queue,
                            uint32_t channels, bool waiting_only,
                            char *first, size_t len);

/* Changes, in place, configured queue `queue`'s skills, steps (their
 * levels, skills, added queues and times), channels and strategy (and its
 * derived queues') to those of `qc`, which names it; its limits and
 * overflow are router_queue_set_limits()'s. Every agent is re-evaluated
 * for the queue (and for queues whose ADD_QUEUE steps name it) under the
 * new shape; waiting contacts keep their arrival, place and exclusions
 * and are routed by the next router_tick() at the level their time in the
 * queue has under the new steps; offers out keep their agent and
 * deadline; agents keep their state, wrap-up and counters. ROUTER_EINVAL
 * for a `qc` that router_new() would refuse, ROUTER_ESTATE when contacts
 * wait on a channel the queue would no longer take (router_queue_holds());
 * nothing changes then. ROUTER_ENOMEM: an agent lacks an entry.
 * O(agents x entries + contacts). */
int router_queue_reshape(struct router *r, uint64_t now, int queue,
                         const struct router_queue_config *qc);

/* Adds configured queue `qc` at index router_queue_count() (a created
 * queue there moves to another index), without its steps and overflow
 * (router_queue_reshape() and router_queue_set_limits() give them, once
 * every queue they may name exists). Agents logged in for every queue
 * join it. Returns its index, ROUTER_EINVAL (bad or known name, a `qc`
 * that router_new() would refuse), ROUTER_ENOMEM. */
int router_queue_add(struct router *r, const struct router_queue_config *qc);

/* Removes configured queue `queue`. Its contacts, in any state, move to
 * configured queue `fallback` (with their extra skills, as an overflow
 * does) keeping their arrival: queued ones wait there (MOVED, QUEUED) and
 * are routed by the next router_tick(); offered ones keep their agent and
 * deadline and wait there if not taken; assigned ones finish there
 * (MOVED). Agents lose their entries; one logged in for it alone serves
 * nothing until it logs in again. The last configured queue then takes
 * index `queue`. ROUTER_EINVAL: a bad index, fallback == queue, or
 * another queue's overflow or ADD_QUEUE step names it (change those
 * first); ROUTER_ESTATE: fallback < 0 and it holds contacts
 * (router_queue_holds()). Nothing changes then. O(agents x entries +
 * contacts). */
int router_queue_remove(struct router *r, uint64_t now, int queue,
                        int fallback);

#endif
