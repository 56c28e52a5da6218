/* campaign-t.h -- types of the outbound campaign core (no functions; see
 * campaign.h).
 *
 * Times: `now` and every *_at field are wall-clock microseconds since the
 * Unix epoch (UTC): calling windows are hours of a lead's local day, so the
 * core's clock is the wall clock, injected like the router's. Durations in
 * configuration are milliseconds.
 */
#ifndef CCROUTE_CAMPAIGN_T_H
#define CCROUTE_CAMPAIGN_T_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

/* No such campaign, lead or dial in flight: a negative errno value of the
 * one error space (error.h), named by ccr_strerror(). */
#define CAMPAIGN_ENOENT (-ENOENT)

#define CAMPAIGN_ID_MAX     64    /* names, ids, numbers, including the NUL */
#define CAMPAIGN_MAX        64    /* campaigns per core */
#define CAMPAIGN_BLEND_MAX  8     /* inbound queues guarding one campaign */
#define CAMPAIGN_WINDOW_MIN 30    /* rolling abandon window, minutes */

enum campaign_mode {
    CAMPAIGN_MODE_PREVIEW = 1,
    CAMPAIGN_MODE_PROGRESSIVE,
    CAMPAIGN_MODE_PREDICTIVE,
};

enum campaign_run {
    CAMPAIGN_STOPPED = 0,         /* new campaigns start stopped */
    CAMPAIGN_RUNNING,
    CAMPAIGN_PAUSED,
};

/* What became of one dial (or of a lead before a dial). */
enum campaign_outcome {
    CAMPAIGN_OUT_NONE = 0,
    CAMPAIGN_OUT_HUMAN,           /* answered by a person */
    CAMPAIGN_OUT_MACHINE,         /* answering machine */
    CAMPAIGN_OUT_BUSY,
    CAMPAIGN_OUT_NO_ANSWER,
    CAMPAIGN_OUT_FAILED,          /* network or number failure */
    CAMPAIGN_OUT_DROPPED,         /* a person answered, no agent within the
                                     compliance time (an abandon) */
    CAMPAIGN_OUT_COUNT
};

enum campaign_lead_state {
    CAMPAIGN_LEAD_WAITING = 1,    /* in its zone's heap until next_at */
    CAMPAIGN_LEAD_ACTIVE,         /* previewed, ringing, answered or talking */
    CAMPAIGN_LEAD_DONE,           /* reached a person who reached an agent */
    CAMPAIGN_LEAD_EXHAUSTED,      /* max attempts without reaching one */
    CAMPAIGN_LEAD_DNC,            /* found on the do-not-call set when due */
    CAMPAIGN_LEAD_STATES
};

struct campaign_config {
    char name[CAMPAIGN_ID_MAX];
    /* The router queue whose agents serve the campaign: its skills are the
     * campaign's skills; answered calls become contacts of this queue. */
    char queue[CAMPAIGN_ID_MAX];
    enum campaign_mode mode;
    uint8_t window_start_h, window_end_h; /* local hours [start, end); 0..24 */
    uint32_t max_attempts;                /* default 3 */
    /* retry delay after each outcome, indexed by campaign_outcome (BUSY,
     * NO_ANSWER, MACHINE, FAILED, DROPPED; the others unused) */
    uint32_t retry_ms[CAMPAIGN_OUT_COUNT];
    uint32_t priority;                    /* 0..100; higher paces first */
    char caller_id[CAMPAIGN_ID_MAX];
    uint32_t abandon_cap_bp;              /* basis points; default 300 = 3% */
    uint32_t compliance_ms;               /* default 2000 */
    uint32_t dial_timeout_ms;             /* default 30000 */
    /* Client name (Hello.client_name) of the dialer or switch connection
     * that dials for this campaign. */
    char dialer[CAMPAIGN_ID_MAX];
    /* Blending: inbound queues whose service level gates outbound work. */
    char blend[CAMPAIGN_BLEND_MAX][CAMPAIGN_ID_MAX];
    unsigned nblend;
    /* a blend queue's SL over the last 15 minutes must be at least its
     * target + this (engine/blend.h) */
    uint32_t blend_margin_pct;
    /* The largest share of an agent's recent time (percent) that outbound
     * calls of any campaign may take; 100 = no cap. */
    uint32_t agent_share_pct;
    /* Predictive without blend queues: how long after a start (or a
     * pause of 5 minutes or more) it dials no more than free agents. */
    uint32_t ramp_up_ms;                  /* default 120000 */
};

/* One lead of a LeadsAdd batch. Strings and attributes are borrowed for the
 * call; `attrs` is opaque bytes to the core (meant for packed Attribute
 * messages, for the preview's Offer). */
struct campaign_lead_spec {
    const char *id;               /* NULL or "": the number */
    const char *number;
    const char *zone;             /* IANA name */
    const void *attrs;
    uint32_t attrs_len;
};

/* What recovery gives back of a lead (campaign_leads_restore). */
struct campaign_lead_saved {
    enum campaign_lead_state state;
    uint32_t attempts;
    enum campaign_outcome last;
    uint64_t next_at;
};

/* The caller's view of agents for one campaign at one pacing call. */
struct campaign_capacity {
    uint32_t free;                /* agents free now who could serve it */
    bool inbound_ok;              /* blending: inbound meets its target */
    bool dialer_ok;               /* its dialer is connected */
    /* contacts that ever entered the campaign's blend queues (the sum of
     * their `offered` statistics): the core derives their arrival rate */
    uint64_t inbound_offered;
};

enum campaign_event_type {
    /* Send a DialRequest for `dial` (lead, campaign, caller id, timeout). */
    CAMPAIGN_EV_DIAL = 1,
    /* Preview: offer lead `lead` to an agent of the campaign's queue
     * (the caller makes it a router contact named by the dial). */
    CAMPAIGN_EV_PREVIEW,
    /* The answered call of `dial` found no agent within the compliance
     * time: it is dropped (the caller ends its router contact). */
    CAMPAIGN_EV_DROP,
    /* Lead `lead` changed state (for the event stream and, later, Redis). */
    CAMPAIGN_EV_LEAD,
};

struct campaign_event {
    enum campaign_event_type type;
    int campaign;
    uint32_t lead;
    uint64_t dial;                /* 0 for LEAD */
    enum campaign_outcome outcome;    /* LEAD: its last outcome */
};

/* What one campaign did, for tests, logs and (later) Stats. */
struct campaign_stats {
    uint64_t leads;                       /* ever added */
    uint64_t in_state[CAMPAIGN_LEAD_STATES];
    uint64_t dials, previews, skipped;
    uint64_t outcomes[CAMPAIGN_OUT_COUNT];
    uint64_t connected;                   /* answered and reached an agent */
    uint64_t talk_us;                     /* agents' time on calls that
                                             ended: connected to ended */
    double abandon_life, abandon_window;  /* dropped / answered by a person */
    uint32_t ringing, answered_waiting, talking, previewing;
    double answer_rate, handle_s, ring_s, gain;   /* pacing estimates */
};

#endif
