/* outbound-fx.h -- the requests that the end-to-end tests of outbound work
 * (tests/test-outbound.c, test-predictive.c, test-callback.c,
 * test-followup.c) send over and over: a campaign, its run state, leads,
 * a dialer's DialResult, an agent desk accepting an Offer, the wall clock;
 * and the part of the daemon's configuration they share, and the wait for
 * what Stats says.
 * On top of tests/e2e-util.h; like it, a failure that is not an expected
 * outcome fails the test.
 */
#ifndef CCROUTE_OUTBOUND_FX_H
#define CCROUTE_OUTBOUND_FX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "e2e-util.h"

#define OBFX_OUT(x) CCROUTE__V1__DIAL_OUTCOME__DIAL_OUTCOME_##x

/* The daemon's configuration as these tests write it (an e2e_config_cb's
 * body): listening on a free port, log level info, grace 60 s, Redis at
 * redis_port with tenant `tenant` and a 600 ms lease, then the test's own
 * sections, `fmt` formatted with the arguments after it. Fails the test
 * when it does not fit in len. */
void obfx_config_text(char *buf, size_t len, int redis_port,
                      const char *tenant, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Asks for Stats on `adm` again and again until ok(stats, arg) holds;
 * fails the test when it still does not after timeout_ms. */
void obfx_wait_stats(struct e2e_client *adm,
                     bool (*ok)(const ccr_envelope *st, const void *arg),
                     const void *arg, int timeout_ms);

/* A campaign as the tests write it: dialer "dlr", caller id "+15550000",
 * window 0..24 h, retry delays of 1 ms (so a retried lead is due at once)
 * unless retry_ms is set; the other fields as the CampaignUpsert's (0:
 * the engine's default). */
struct obfx_campaign {
    const char *name, *queue;
    Ccroute__V1__DialMode mode;     /* 0: progressive */
    uint32_t max_attempts;
    uint32_t compliance_ms;
    uint32_t abandon_cap_bp;
    uint32_t retry_ms;              /* every outcome's; 0: 1 ms */
    const char *blend[2];           /* blend queues (NULL: none) */
    uint32_t ramp_up_ms;
};

/* CampaignUpsert: 0 on Ack, the ErrorCode (its words in msg), -errno. */
int obfx_upsert(struct e2e_client *e, const struct obfx_campaign *c,
                char *msg, size_t mlen);
/* CampaignStart/Pause/Stop (body case) of campaign `name`. */
int obfx_run(struct e2e_client *e, int body, const char *name);

struct obfx_lead {
    const char *id, *number, *zone;
};
/* LeadsAdd of n leads (each with the attribute offer=winback). */
int obfx_leads(struct e2e_client *e, const char *camp,
               const struct obfx_lead *in, size_t n, char *msg, size_t mlen);
/* DialResult; msg may be NULL. */
int obfx_result(struct e2e_client *e, uint64_t dial,
                Ccroute__V1__DialOutcome o, char *msg, size_t mlen);
/* The campaign's statistics in a Stats reply, or NULL. */
const Ccroute__V1__CampaignStats *obfx_camp_stats(const ccr_envelope *st,
                                                  const char *name);
/* Waits for the Offer of contact `cid` (NULL: any) to the desk, checks it
 * is for agent `aid` (NULL: any) and accepts it. */
void obfx_accept(struct e2e_client *desk, const char *cid, const char *aid);
/* Waits (up to timeout_ms) until the event stream of `tenant` has an
 * entry of `type` for lead `lead` whose `state` and `outcome` are these
 * (NULL: any). True when it has. */
bool obfx_lead_entry(redisContext *r, const char *tenant, const char *type,
                     const char *lead, const char *state,
                     const char *outcome, int timeout_ms);
/* The wall clock in ms (what CallbackRequest.start_at_ms and
 * ContactCompleted.followup_due_ms count in). */
uint64_t obfx_wall_ms(void);

#endif
