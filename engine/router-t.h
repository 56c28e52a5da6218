/* router-t.h -- types of the routing core (no functions; see router.h).
 *
 * Times: `now` and every *_at field are microseconds on the caller's
 * monotonic clock; durations in configuration are milliseconds.
 */
#ifndef CCROUTE_ROUTER_T_H
#define CCROUTE_ROUTER_T_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

#define ROUTER_ID_MAX      64   /* ids and names, including the NUL */
#define ROUTER_IDLE_SHIFT_MAX_MS (24u * 3600 * 1000) /* care weight cap */
#define ROUTER_MAX_REQ     8    /* required skills per queue or contact */
#define ROUTER_MAX_STEPS   8    /* expansion steps per queue */
#define ROUTER_MAX_SKILLS  32   /* skills per agent */
#define ROUTER_LEVEL_MAX   10   /* proficiency 1..10 */
/* Derived and virtual queues kept after their last contact has gone (the
 * least recently emptied beyond this are freed; see router.c, "Freeing
 * queues") */
#define ROUTER_QUEUES_KEPT 32

/* The router's codes, in the project's one error space (error.h). */
enum router_error {
    ROUTER_OK = CCR_OK,
    ROUTER_EINVAL = CCR_EINVAL,         /* bad argument (empty id, level...) */
    ROUTER_ENOQUEUE = CCR_ENOQUEUE,
    ROUTER_ENOAGENT = CCR_ENOAGENT,
    ROUTER_ENOCONTACT = CCR_ENOCONTACT,
    ROUTER_ENOSKILL = CCR_ENOSKILL,
    ROUTER_EDUPLICATE = CCR_EDUPLICATE, /* contact id already known */
    ROUTER_ESTATE = CCR_ESTATE,         /* not allowed in the current state */
    ROUTER_EFULL = CCR_EFULL,           /* queue at max length, no overflow */
    ROUTER_EEXIST = CCR_EEXIST,         /* agent already logged in */
    ROUTER_ENOMEM = CCR_ENOMEM,         /* a configured limit or out of memory */
};

enum router_channel {
    ROUTER_CH_VOICE = 0,
    ROUTER_CH_CHAT,
    ROUTER_CH_EMAIL,
    ROUTER_CH_SOCIAL,
    ROUTER_CH_COUNT
};

enum router_strategy {
    ROUTER_STRATEGY_LONGEST_IDLE = 0,   /* default */
    ROUTER_STRATEGY_MOST_SKILLED,
    ROUTER_STRATEGY_LEAST_OCCUPIED,
    ROUTER_STRATEGY_ROUND_ROBIN,
    ROUTER_STRATEGY_WEIGHTED_RANDOM,
};

enum router_step_kind {
    ROUTER_STEP_LOWER_LEVEL = 1,  /* skill's min level becomes `level` */
    ROUTER_STEP_DROP_SKILL,       /* skill no longer required */
    ROUTER_STEP_ADD_QUEUE,        /* also take agents of queue `queue` */
};

struct router_skill_req {
    char skill[ROUTER_ID_MAX];
    uint8_t min_level;            /* 1..10 */
};

struct router_step {
    uint32_t after_ms;            /* since the contact entered the queue */
    enum router_step_kind kind;
    char skill[ROUTER_ID_MAX];    /* LOWER_LEVEL, DROP_SKILL */
    uint8_t level;                /* LOWER_LEVEL */
    char queue[ROUTER_ID_MAX];    /* ADD_QUEUE */
};

struct router_queue_config {
    char name[ROUTER_ID_MAX];
    struct router_skill_req req[ROUTER_MAX_REQ];
    unsigned nreq;
    uint32_t channel_mask;        /* bit per router_channel; 0 = all */
    enum router_strategy strategy;
    uint32_t sl_percent;          /* service level target: X% ... */
    uint32_t sl_threshold_ms;     /* ... answered within T */
    uint32_t offer_timeout_ms;
    uint32_t wrapup_ms;
    uint32_t max_len;             /* 0 = unlimited */
    uint32_t max_wait_ms;         /* 0 = unlimited */
    char overflow[ROUTER_ID_MAX]; /* queue taken at max_len / max_wait */
    struct router_step steps[ROUTER_MAX_STEPS];
    unsigned nsteps;
    /* Callbacks of this queue (engine/callback.c; the router does not read
     * them): dials per callback before it is given up, and the delay
     * before an unanswered one is dialed again. 0: 3 and 300000. */
    uint32_t callback_attempts;
    uint32_t callback_retry_ms;
    /* Where a reload that removes this queue sends its contacts (a queue
     * name, or empty: routing's, engine/reload.c; the router does not
     * read it). */
    char reload_fallback[ROUTER_ID_MAX];
};

struct router_config {
    struct router_queue_config *queues;
    unsigned nqueues;
    const char **skills;          /* names known up front (optional) */
    unsigned nskills;
    uint32_t max_agents;          /* slots preallocated; 0 = 10000 */
    uint32_t max_contacts;        /* slots preallocated; 0 = 100000 */
    /* Contact score: a contact's ordering key is
     *   arrival_us - priority * priority_weight_ms * 1000
     *              - value * value_weight_ms * 1000
     * so priority and value buy a head start in the queue; lower key is
     * served first, ties first-come first-served. */
    uint32_t priority_weight_ms;  /* default 1000: one priority point = 1 s */
    uint32_t value_weight_ms;     /* default 10 */
    uint32_t preferred_wait_ms;   /* wait for a preferred agent; default 0 */
    uint32_t max_no_answer;       /* consecutive no-answers -> away; def 3 */
    bool voice_blocks_others;     /* default true (set by config loader) */
    uint32_t default_offer_timeout_ms;  /* when a queue says 0: 15000 */
    /* A reload that removes a queue without a reload_fallback of its own
     * sends its contacts here (engine/reload.c; the router does not read
     * it); empty: such a reload is refused while the queue has any. */
    char reload_fallback[ROUTER_ID_MAX];
    /* A waiting (queued or offered) contact this long after its arrival
     * ends as ABANDONED, whatever its queue says; 0 = no limit (the
     * config loader supplies the documented default). */
    uint32_t max_contact_age_ms;
};

struct router_contact_spec {
    const char *id;
    enum router_channel channel;
    const char *queue;            /* NULL or "" when skills are given */
    struct router_skill_req skills[ROUTER_MAX_REQ];
    unsigned nskills;
    uint32_t priority;            /* 0..100 */
    uint32_t value;               /* 0..1000 */
    const char *preferred_agent;  /* may be NULL */
    /* marked difficult at arrival (docs/care.md): not offered to an agent
     * in routine-only mode (router_agent_set_routine) */
    bool difficult;
};

struct router_agent_skill {
    char skill[ROUTER_ID_MAX];
    uint8_t level;                /* 1..10 */
};

struct router_agent_spec {
    const char *id;
    struct router_agent_skill skills[ROUTER_MAX_SKILLS];
    unsigned nskills;
    uint8_t capacity[ROUTER_CH_COUNT];  /* all zero: voice 1 */
    /* Queue names this agent serves; nqueues == 0: every queue it
     * qualifies for. */
    const char *const *queues;
    unsigned nqueues;
    /* Recovery: a name in `queues` that is not a configured queue (one a
     * reload removed since the login was stored) serves nothing, instead
     * of refusing the login with ROUTER_ENOQUEUE. */
    bool gone_queues_ok;
};

enum router_agent_cmd {
    ROUTER_AGENT_AVAILABLE = 1,
    ROUTER_AGENT_AWAY,
    ROUTER_AGENT_WRAPUP_DONE,
};

enum router_agent_state {
    ROUTER_AGENT_STATE_AVAILABLE = 1, /* may have free capacity */
    ROUTER_AGENT_STATE_AWAY,
    ROUTER_AGENT_STATE_WRAPUP,
    ROUTER_AGENT_STATE_LOGGED_OUT,
};

enum router_contact_state {
    ROUTER_CONTACT_QUEUED = 1,
    ROUTER_CONTACT_OFFERED,
    ROUTER_CONTACT_ASSIGNED,
    ROUTER_CONTACT_COMPLETED,
    ROUTER_CONTACT_ABANDONED,
};

enum router_event_type {
    /* Contact entered (or moved to) a queue and waits. */
    ROUTER_EV_QUEUED = 1,
    /* Agent reserved, offer out until `deadline`. */
    ROUTER_EV_OFFER,
    /* Offer withdrawn; `reason` says why. The agent is released. */
    ROUTER_EV_REVOKED,
    /* Offer rejected by the agent (contact goes back to waiting). */
    ROUTER_EV_REJECTED,
    /* Agent accepted; the contact is now with the agent. */
    ROUTER_EV_ASSIGNED,
    /* Contact finished: completed, abandoned or rejected on overflow. */
    ROUTER_EV_CONTACT_GONE,
    /* Agent's state changed (login, away, wrap-up, available, logout). */
    ROUTER_EV_AGENT_STATE,
    /* Contact moved queue: overflow, expansion or transfer. */
    ROUTER_EV_MOVED,
};

enum router_revoke_reason {
    ROUTER_REVOKE_TIMEOUT = 1,
    ROUTER_REVOKE_ABANDONED,
    ROUTER_REVOKE_AGENT_LOGOUT,
};

struct router_event {
    enum router_event_type type;
    uint32_t contact;             /* handle, or UINT32_MAX */
    uint32_t agent;               /* handle, or UINT32_MAX */
    int queue;                    /* queue index, or -1 */
    uint64_t deadline;            /* OFFER: offer deadline (us) */
    union {
        enum router_revoke_reason revoke;   /* REVOKED */
        enum router_contact_state gone;     /* CONTACT_GONE: COMPLETED,
                                               ABANDONED, or QUEUED: still
                                               waiting out of the router
                                               (router_contact_withdraw) */
        enum router_agent_state agent_state;/* AGENT_STATE */
    } u;
    uint32_t position;            /* QUEUED: 1-based position */
    uint32_t est_wait_ms;         /* QUEUED */
    bool unservable;              /* QUEUED: no logged-in agent could ever
                                     serve it (see router_queue_stats) */
};

struct router_contact_info {
    const char *id;
    enum router_contact_state state;
    enum router_channel channel;
    int queue;                    /* -1 for a skills-only contact */
    uint64_t arrived_at;          /* original arrival, kept on transfer */
    uint64_t queued_at;           /* entered its current queue */
    uint32_t priority, value;
    uint32_t agent;               /* offered/assigned agent or UINT32_MAX */
    uint64_t deadline;            /* offer deadline when OFFERED */
    bool unservable;              /* QUEUED and no logged-in agent could
                                     ever serve it */
    uint32_t tag;
    uint32_t seq;                 /* arrival sequence: ties of equal
                                     scores and arrival times go to the
                                     lower one (the store persists it so
                                     that recovery keeps the order) */
};

struct router_agent_info {
    const char *id;
    enum router_agent_state state;
    char reason[ROUTER_ID_MAX];
    uint64_t state_since;
    uint8_t capacity[ROUTER_CH_COUNT];
    uint8_t busy[ROUTER_CH_COUNT];  /* offered + assigned, per channel */
    unsigned offers;              /* of those, offers not yet answered */
    double occupancy;             /* busy time / logged-in time, 0..1 */
    uint32_t tag;
};

struct router_queue_stats {
    uint32_t waiting;             /* queued or offered, not yet answered */
    uint32_t longest_wait_ms;     /* since the oldest one's arrival */
    /* waiting contacts that no logged-in agent could ever serve: no agent
     * of the queue (or of the derived queue the contact's extra skills
     * make) has the skills at any expansion level, or the capacity for
     * the channel; not counting contacts waiting for a named agent */
    uint32_t unservable;
    uint64_t offered;             /* contacts that entered the queue */
    uint64_t answered;
    uint64_t answered_in_sl;      /* answered within the SL threshold */
    uint64_t abandoned;
    double service_level;         /* answered_in_sl / (answered+abandoned) */
    /* the same over the last SLWIN_MINUTES minutes (engine/slwin.h), of
     * recent_done contacts; 1 when there were none */
    double recent_service_level;
    uint32_t recent_done;
    uint32_t asa_ms;              /* average speed of answer */
    uint32_t aht_ms;              /* average handle time */
    uint32_t agents_available;
};

#endif
