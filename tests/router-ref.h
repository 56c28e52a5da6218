/* router-ref.h -- a deliberately simple reference router for differential
 * testing of engine/router.c.
 *
 * Same rules as router.c (see its top comment), none of its structures:
 * plain arrays, linear scans for every choice, agents' tiers computed on
 * demand, timers found by scanning every contact and agent for the smallest
 * (due, seq). It is slow and meant to be obviously right.
 *
 * What is compared (tests/test-router-diff.c): after every call, the return
 * code and the whole output list, event by event: type, contact id, agent
 * id, queue, OFFER deadline, REVOKED reason / CONTACT_GONE state /
 * AGENT_STATE state, and QUEUED position and unservable flag. QUEUED est_wait_ms is not
 * compared (an estimate, not a decision). Handles are not compared; ids are.
 *
 * Weighted random uses engine/rng.h seeded like router_new(): one
 * rng_next() per draw, `% total weight`, candidates in (tier, login
 * sequence) order, up to 16 draws before the first non-excluded agent.
 */
#ifndef CCROUTE_ROUTER_REF_H
#define CCROUTE_ROUTER_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "router-t.h"

struct ref;

struct ref_event {
    enum router_event_type type;
    char contact[ROUTER_ID_MAX];
    char agent[ROUTER_ID_MAX];
    int queue;
    uint64_t deadline;
    int detail;                   /* revoke reason, gone state, agent state */
    uint32_t position;
    bool unservable;              /* QUEUED */
};

struct ref *ref_new(const struct router_config *cfg, uint64_t seed);
void ref_free(struct ref *r);

int ref_contact_arrive(struct ref *r, uint64_t now,
                       const struct router_contact_spec *spec);
int ref_contact_abandon(struct ref *r, uint64_t now, const char *id);
int ref_contact_complete(struct ref *r, uint64_t now, const char *id);
int ref_contact_transfer(struct ref *r, uint64_t now, const char *id,
                         int to_queue, const char *to_agent);
int ref_offer_accept(struct ref *r, uint64_t now, const char *cid,
                     const char *aid);
int ref_offer_reject(struct ref *r, uint64_t now, const char *cid,
                     const char *aid);
int ref_agent_login(struct ref *r, uint64_t now,
                    const struct router_agent_spec *spec);
int ref_agent_logout(struct ref *r, uint64_t now, const char *id);
/* router_agent_set_load()'s rule, written plainly. */
int ref_agent_set_load(struct ref *r, const char *id, uint32_t load);
/* router_agent_set_routine()'s rule: difficult contacts exclude it. */
int ref_agent_set_routine(struct ref *r, uint64_t now, const char *id,
                          bool on);
/* router_agent_set_idle_shift()'s rule: a difficult contact compares
 * idle_since + shift. */
int ref_agent_set_idle_shift(struct ref *r, const char *id, uint32_t shift_ms);
int ref_agent_set_state(struct ref *r, uint64_t now, const char *id,
                        enum router_agent_cmd cmd, const char *reason);
void ref_tick(struct ref *r, uint64_t now);
int ref_contact_restore(struct ref *r, uint64_t now,
                        const struct router_contact_spec *spec,
                        uint64_t arrived_at, const char *excluded_agent);
int ref_contact_restore_assigned(struct ref *r, uint64_t now,
                                 const struct router_contact_spec *spec,
                                 uint64_t arrived_at, const char *agent_id);

size_t ref_out_count(const struct ref *r);
const struct ref_event *ref_out_get(const struct ref *r, size_t i);
void ref_out_clear(struct ref *r);

/* For the random event generator: the i-th live contact / logged-in agent
 * (NULL past the end), with its state and, for contacts, its agent id
 * ("" when none). */
const char *ref_contact_at(const struct ref *r, unsigned i,
                           enum router_contact_state *st, const char **agent);
const char *ref_agent_at(const struct ref *r, unsigned i,
                         enum router_agent_state *st);

#endif
