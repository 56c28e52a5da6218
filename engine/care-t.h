/* care-t.h -- types of the care module (dispositions, their counts, the
 * emotional-load rules): configuration and limits. No functions; see
 * care.h and docs/care.md.
 */
#ifndef CCROUTE_CARE_T_H
#define CCROUTE_CARE_T_H

#include <stdbool.h>
#include <stdint.h>

#include "router-t.h"

#define CARE_WORD_MAX     32   /* a code or a tag, with its NUL */
#define CARE_NOTE_MAX     128  /* a note reference, with its NUL */
#define CARE_CODES_MAX    64   /* distinct codes in the whole configuration */
#define CARE_LIST_CODES   32   /* codes of one disposition list */
#define CARE_LISTS_MAX    64   /* disposition lists (care.dispositions) */
#define CARE_GROUPS_MAX   32   /* agent groups */
#define CARE_PATTERNS_MAX 16   /* agent id patterns per group */
#define CARE_TAGS_CAP     16   /* care.max_tags may not exceed this */
#define CARE_RING         16   /* recovery.after may not exceed this */
#define CARE_OCC_BUCKETS  12   /* slices of the rolling occupancy window */
/* Distinct tags counted per scope (bounded open-addressing tables): the
 * whole tenant, each agent group, each configured queue. A tag that finds
 * its table full is not counted there (Stats.tags_untracked). */
#define CARE_TAGS_TOTAL   256
#define CARE_TAGS_GROUP   64
#define CARE_TAGS_QUEUE   32
#define CARE_TOP_MAX      32   /* care.top_tags may not exceed this */
/* Products counted (ContactArrived.product), in the order first seen; a
 * completion of a product beyond them is counted in products_untracked.
 * Each has a scope like a queue's (CARE_TAGS_QUEUE tags). */
#define CARE_PRODUCTS_MAX 32
#define CARE_RISING_MIN   3    /* a rising tag has at least this many today */

/* care.dispositions[i]: the codes a queue accepts. */
struct care_list {
    char queue[ROUTER_ID_MAX];    /* a configured queue, or "*": every
                                     queue without a list of its own */
    uint8_t code[CARE_LIST_CODES];/* indexes into care_config.codes */
    unsigned ncodes;
    uint64_t difficult;           /* bit per index into code[]: a contact
                                     completed with it is difficult */
    bool required;                /* a completion without a code is
                                     refused (MISSING_FIELD) */
    /* follow-ups (docs/care.md): a completion with a code whose bit is
     * set makes a follow-up, due followup_after_ms later unless the
     * completion names its due time */
    uint64_t followup;            /* bit per index into code[] */
    uint32_t followup_after_ms;
    uint32_t followup_overdue_ms; /* no agent this long after due:
                                     overdue; 0: never */
    uint32_t followup_priority;   /* an overdue follow-up's priority */
    char followup_queue[ROUTER_ID_MAX]; /* a task without a number goes
                                     here (channel EMAIL); "": the
                                     completed contact's queue */
    unsigned long line;
};

/* care.agent_groups[i]: which agents, and the rules for them. A rule
 * whose trigger is 0 is off. */
struct care_group {
    char name[ROUTER_ID_MAX];
    /* exact agent ids, or a prefix ending in '*'; the first group with a
     * matching pattern is the agent's group */
    char agents[CARE_PATTERNS_MAX][ROUTER_ID_MAX];
    unsigned nagents;
    uint32_t recovery_after;      /* difficult contacts ... */
    uint32_t recovery_within_ms;  /* ... within this window ... */
    uint32_t recovery_pause_ms;   /* ... -> AWAY "recovery" this long */
    uint32_t occupancy_cap;       /* percent; 0: no cap */
    uint32_t occupancy_window_ms;
    uint32_t wrapup_extend_ms;    /* added to the queue's wrap-up */
    /* spreading as a weight: each difficult contact completed within
     * spread_within_ms orders the agent as idle spread_weight_ms less
     * (router_agent_set_idle_shift); 0: the tie-break alone */
    uint32_t spread_weight_ms;
    uint32_t spread_within_ms;
    /* routine only: routine_after difficult contacts within
     * routine_within_ms -> no contact marked difficult at arrival is
     * offered to the agent for routine_for_ms (router_agent_set_routine) */
    uint32_t routine_after;
    uint32_t routine_within_ms;
    uint32_t routine_for_ms;
    /* the rules yield to the service level: not applied while the
     * completed contact's queue has contacts waiting and a service level
     * below its target by more than this many points */
    bool sl_yield;
    uint32_t sl_margin;
    unsigned long line;
};

struct care_config {
    uint32_t interval_ms;         /* counting interval; default 15 min */
    uint32_t max_tags;            /* per completion; default 8 */
    uint32_t top_tags;            /* how many Stats and /metrics list */
    int32_t difficult_sentiment;  /* sentiment at or below: difficult */
    char codes[CARE_CODES_MAX][CARE_WORD_MAX];
    unsigned ncodes;
    struct care_list lists[CARE_LISTS_MAX];
    unsigned nlists;
    struct care_group groups[CARE_GROUPS_MAX];
    unsigned ngroups;
};

/* What a completion asks of the engine after care_contact_completed(). */
enum care_action {
    CARE_NONE = 0,
    CARE_RECOVERY,                /* AWAY "recovery" */
    CARE_WRAPUP_EXTENDED,         /* AWAY "wrapup-extended" */
};

#define CARE_REASON_RECOVERY "recovery"
#define CARE_REASON_WRAPUP   "wrapup-extended"

#endif
