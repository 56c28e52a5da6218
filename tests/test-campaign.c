/* test-campaign.c -- unit tests of the outbound campaign core
 * (engine/campaign.c) in simulated time: each mode's decisions, retries by
 * outcome, attempt limits, do-not-call, calling windows across zones and a
 * DST change, bad input; then a pacing simulation with the real router
 * (agents, an inbound and an outbound queue) that prints its figures, and
 * a million leads loaded and dialed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <time.h>

#include "campaign.h"
#include "campaign-zone.h"
#include "rng.h"
#include "router-fx.h"

#define S(x) ((uint64_t)(x) * 1000000ULL)
#define MIN(x) S((uint64_t)(x) * 60)
/* 2024-03-09 14:00 UTC: 09:00 in New York (EST), 23:00 in Tokyo */
#define T0 (1709992800ULL * 1000000ULL)

static struct campaign_config cfg(const char *name,
                                  enum campaign_mode mode)
{
    struct campaign_config c;
    memset(&c, 0, sizeof(c));
    snprintf(c.name, sizeof(c.name), "%s", name);
    snprintf(c.queue, sizeof(c.queue), "out");
    snprintf(c.dialer, sizeof(c.dialer), "sw1");
    c.mode = mode;
    c.window_start_h = 0;
    c.window_end_h = 24;
    campaign_config_defaults(&c);
    return c;
}

static int add(struct campaign_core *cc, uint64_t now, int ci, const char *id,
               const char *num, const char *zone)
{
    struct campaign_lead_spec l = { id, num, zone, NULL, 0 };
    size_t bad;
    const char *why;
    return campaign_leads_add(cc, now, ci, &l, 1, &bad, &why);
}

struct capfix {
    uint32_t free;
    bool inbound_ok, dialer_ok;
};

static void capcb(void *ctx, int ci, struct campaign_capacity *out)
{
    const struct capfix *f = ctx;
    out->free = f->free;
    out->inbound_ok = f->inbound_ok;
    out->dialer_ok = f->dialer_ok;
}

/* Paces once; returns the number of events of `type`, their dial ids in
 * dials[] (up to 64). Clears the output. */
static int pace(struct campaign_core *cc, uint64_t now, uint32_t free_,
                enum campaign_event_type type, uint64_t *dials)
{
    struct capfix f = { free_, true, true };
    int n = 0;
    campaign_pace(cc, now, capcb, &f);
    for (size_t i = 0; i < campaign_out_count(cc); i++) {
        const struct campaign_event *e = campaign_out_get(cc, i);
        if (e->type == type) {
            if (dials && n < 64)
                dials[n] = e->dial;
            n++;
        }
    }
    campaign_out_clear(cc);
    return n;
}

static struct campaign_core *core(void)
{
    struct campaign_core *cc = campaign_core_new(0, 64);
    assert_non_null(cc);
    return cc;
}

static void lead_is(struct campaign_core *cc, int ci, const char *id,
                    enum campaign_lead_state st, uint32_t attempts)
{
    uint32_t li;
    struct campaign_lead_info info;
    assert_int_equal(campaign_lead_find(cc, ci, id, &li), 0);
    campaign_lead_info(cc, li, &info);
    assert_int_equal(info.state, st);
    assert_int_equal(info.attempts, attempts);
}

static void test_progressive(void **state)
{
    struct campaign_core *cc = core();
    struct campaign_config c = cfg("p", CAMPAIGN_MODE_PROGRESSIVE);
    int ci = campaign_upsert(cc, T0, &c, 0);
    uint64_t d[64];
    assert_true(ci >= 0);
    for (int i = 0; i < 3; i++) {
        char id[24], num[32];
        snprintf(id, sizeof(id), "l%d", i);
        snprintf(num, sizeof(num), "+1555000%d", i);
        assert_int_equal(add(cc, T0, ci, id, num, "America/New_York"), 0);
    }
    /* stopped: nothing */
    assert_int_equal(pace(cc, T0, 2, CAMPAIGN_EV_DIAL, d), 0);
    assert_int_equal(campaign_set_run(cc, T0, ci, CAMPAIGN_RUNNING), 0);
    /* one dial per free agent, the oldest leads first */
    assert_int_equal(pace(cc, T0, 2, CAMPAIGN_EV_DIAL, d), 2);
    lead_is(cc, ci, "l0", CAMPAIGN_LEAD_ACTIVE, 1);
    lead_is(cc, ci, "l2", CAMPAIGN_LEAD_WAITING, 0);
    /* the two ringing calls cover the two free agents */
    assert_int_equal(pace(cc, T0 + S(1), 2, CAMPAIGN_EV_DIAL, NULL), 0);
    /* a third agent frees: one more */
    assert_int_equal(pace(cc, T0 + S(1), 3, CAMPAIGN_EV_DIAL, NULL), 1);
    /* no dialer or inbound behind: nothing */
    assert_int_equal(campaign_dial_result(cc, T0 + S(2), d[0],
                                          CAMPAIGN_OUT_BUSY), 0);
    struct capfix f = { 5, false, true };
    campaign_pace(cc, T0 + S(2), capcb, &f);
    for (size_t i = 0; i < campaign_out_count(cc); i++)
        assert_int_not_equal(campaign_out_get(cc, i)->type, CAMPAIGN_EV_DIAL);
    campaign_out_clear(cc);
    /* paused: nothing either */
    campaign_set_run(cc, T0, ci, CAMPAIGN_PAUSED);
    assert_int_equal(pace(cc, T0 + MIN(10), 5, CAMPAIGN_EV_DIAL, NULL), 0);
    campaign_core_free(cc);
}

static void test_retry_by_outcome(void **state)
{
    struct campaign_core *cc = core();
    struct campaign_config c = cfg("r", CAMPAIGN_MODE_PROGRESSIVE);
    c.max_attempts = 2;
    c.retry_ms[CAMPAIGN_OUT_BUSY] = 60000;
    c.retry_ms[CAMPAIGN_OUT_NO_ANSWER] = 600000;
    c.retry_ms[CAMPAIGN_OUT_MACHINE] = 3600000;
    int ci = campaign_upsert(cc, T0, &c, 0);
    campaign_set_run(cc, T0, ci, CAMPAIGN_RUNNING);
    const char *ids[] = { "busy", "na", "am", "fail" };
    enum campaign_outcome o[] = { CAMPAIGN_OUT_BUSY, CAMPAIGN_OUT_NO_ANSWER,
                                  CAMPAIGN_OUT_MACHINE, CAMPAIGN_OUT_FAILED };
    uint64_t d[64];
    for (int i = 0; i < 4; i++)
        assert_int_equal(add(cc, T0, ci, ids[i], ids[i], "Europe/Paris"), 0);
    assert_int_equal(pace(cc, T0, 4, CAMPAIGN_EV_DIAL, d), 4);
    for (int i = 0; i < 4; i++) {
        uint32_t li;
        int cj;
        assert_int_equal(campaign_dial_get(cc, d[i], NULL, &cj, &li), 0);
        for (int k = 0; k < 4; k++)
            if (strcmp(campaign_lead_id(cc, li), ids[k]) == 0)
                assert_int_equal(campaign_dial_result(cc, T0 + S(10), d[i],
                                                      o[k]), 0);
    }
    /* each waits its own delay */
    struct campaign_lead_info info;
    uint32_t li;
    campaign_lead_find(cc, ci, "busy", &li);
    campaign_lead_info(cc, li, &info);
    assert_int_equal(info.next_at, T0 + S(10) + S(60));
    assert_int_equal(info.last, CAMPAIGN_OUT_BUSY);
    campaign_lead_find(cc, ci, "am", &li);
    campaign_lead_info(cc, li, &info);
    assert_int_equal(info.next_at, T0 + S(10) + S(3600));
    campaign_lead_find(cc, ci, "fail", &li);
    campaign_lead_info(cc, li, &info);
    assert_int_equal(info.next_at, T0 + S(10) + S(1800));
    /* a dial result for a dial no longer ringing */
    assert_int_equal(campaign_dial_result(cc, T0 + S(11), d[0],
                                          CAMPAIGN_OUT_BUSY), CAMPAIGN_ENOENT);
    assert_int_equal(campaign_dial_result(cc, T0 + S(11), 12345,
                                          CAMPAIGN_OUT_BUSY), CAMPAIGN_ENOENT);
    /* before 70 s nothing is due; at 70 s only "busy" */
    assert_int_equal(pace(cc, T0 + S(69), 4, CAMPAIGN_EV_DIAL, NULL), 0);
    assert_int_equal(pace(cc, T0 + S(70), 4, CAMPAIGN_EV_DIAL, d), 1);
    campaign_dial_get(cc, d[0], NULL, NULL, &li);
    assert_string_equal(campaign_lead_id(cc, li), "busy");
    /* second busy: max attempts (2) reached: exhausted */
    assert_int_equal(campaign_dial_result(cc, T0 + S(80), d[0],
                                          CAMPAIGN_OUT_BUSY), 0);
    lead_is(cc, ci, "busy", CAMPAIGN_LEAD_EXHAUSTED, 2);
    assert_int_equal(pace(cc, T0 + S(3600 * 5), 4, CAMPAIGN_EV_DIAL, NULL), 3);
    struct campaign_stats st;
    campaign_stats(cc, ci, T0, &st);
    assert_int_equal(st.in_state[CAMPAIGN_LEAD_EXHAUSTED], 1);
    assert_int_equal(st.outcomes[CAMPAIGN_OUT_BUSY], 2);
    assert_int_equal(st.dials, 8);
    campaign_core_free(cc);
}

static void test_preview(void **state)
{
    struct campaign_core *cc = core();
    struct campaign_config c = cfg("v", CAMPAIGN_MODE_PREVIEW);
    int ci = campaign_upsert(cc, T0, &c, 0);
    uint64_t d[64], dd[64];
    campaign_set_run(cc, T0, ci, CAMPAIGN_RUNNING);
    add(cc, T0, ci, "a", "+331", "Europe/Paris");
    add(cc, T0, ci, "b", "+332", "Europe/Paris");
    add(cc, T0, ci, "c", "+333", "Europe/Paris");
    /* one preview per free agent, no dial yet */
    assert_int_equal(pace(cc, T0, 2, CAMPAIGN_EV_PREVIEW, d), 2);
    assert_int_equal(pace(cc, T0, 2, CAMPAIGN_EV_PREVIEW, NULL), 0);
    /* offered: those agents are no longer free; one more agent free */
    campaign_preview_offered(cc, d[0]);
    campaign_preview_offered(cc, d[1]);
    assert_int_equal(pace(cc, T0, 1, CAMPAIGN_EV_PREVIEW, dd), 1);
    /* the agent accepts: the dial goes out, with an attempt counted */
    assert_int_equal(campaign_preview_accept(cc, T0 + S(5), d[0]), 0);
    assert_int_equal(campaign_out_get(cc, 0)->type, CAMPAIGN_EV_DIAL);
    campaign_out_clear(cc);
    lead_is(cc, ci, "a", CAMPAIGN_LEAD_ACTIVE, 1);
    /* the other skips: the lead is due again, no attempt */
    assert_int_equal(campaign_preview_cancel(cc, T0 + S(5), d[1], true), 0);
    lead_is(cc, ci, "b", CAMPAIGN_LEAD_WAITING, 0);
    /* answered: talking at once (its agent was reserved); no drop */
    assert_int_equal(campaign_dial_result(cc, T0 + S(20), d[0],
                                          CAMPAIGN_OUT_HUMAN), 0);
    assert_int_equal(pace(cc, T0 + S(30), 0, CAMPAIGN_EV_DROP, NULL), 0);
    assert_int_equal(campaign_call_ended(cc, T0 + S(200), d[0]), 0);
    lead_is(cc, ci, "a", CAMPAIGN_LEAD_DONE, 1);
    struct campaign_stats st;
    campaign_stats(cc, ci, T0, &st);
    assert_int_equal(st.skipped, 1);
    assert_int_equal(st.previews, 3);
    assert_int_equal(st.connected, 1);
    campaign_core_free(cc);
}

static void test_predictive_dials_ahead(void **state)
{
    struct campaign_core *cc = core();
    struct campaign_config c = cfg("x", CAMPAIGN_MODE_PREDICTIVE);
    int ci = campaign_upsert(cc, T0, &c, 0);
    campaign_set_run(cc, T0, ci, CAMPAIGN_RUNNING);
    for (int i = 0; i < 40; i++) {
        char id[24];
        snprintf(id, sizeof(id), "%d", i);
        add(cc, T0, ci, id, id, "UTC");
    }
    /* just started, it knows nothing yet of what takes its agents: one
     * dial per free agent for the first 2 minutes */
    assert_int_equal(pace(cc, T0, 3, CAMPAIGN_EV_DIAL, NULL), 3);
    assert_int_equal(pace(cc, T0 + S(30), 3, CAMPAIGN_EV_DIAL, NULL), 0);
    /* then, answer rate 0.3 before any outcome: more dials than free
     * agents (nobody took one of the 3 meanwhile; the first dials have
     * timed out) */
    int n = pace(cc, T0 + S(121), 3, CAMPAIGN_EV_DIAL, NULL);
    assert_true(n > 3);
    printf("predictive: %d dials for 3 free agents (gain 0.7, rate 0.3)\n", n);
    campaign_core_free(cc);
}

static void test_compliance_drop(void **state)
{
    struct campaign_core *cc = core();
    struct campaign_config c = cfg("d", CAMPAIGN_MODE_PROGRESSIVE);
    c.retry_ms[CAMPAIGN_OUT_DROPPED] = 120000;
    int ci = campaign_upsert(cc, T0, &c, 0);
    uint64_t d[64];
    campaign_set_run(cc, T0, ci, CAMPAIGN_RUNNING);
    add(cc, T0, ci, "a", "1", "UTC");
    add(cc, T0, ci, "b", "2", "UTC");
    assert_int_equal(pace(cc, T0, 2, CAMPAIGN_EV_DIAL, d), 2);
    campaign_dial_result(cc, T0 + S(10), d[0], CAMPAIGN_OUT_HUMAN);
    campaign_dial_result(cc, T0 + S(10), d[1], CAMPAIGN_OUT_HUMAN);
    assert_int_equal(campaign_next_deadline(cc), T0 + S(12));
    /* one reaches an agent in time */
    assert_int_equal(campaign_call_connected(cc, T0 + S(11), d[0], "ag1"), 0);
    assert_int_equal(pace(cc, T0 + S(11), 0, CAMPAIGN_EV_DROP, NULL), 0);
    /* the other is dropped at the compliance time */
    assert_int_equal(pace(cc, T0 + S(12), 0, CAMPAIGN_EV_DROP, NULL), 1);
    assert_int_equal(campaign_call_connected(cc, T0 + S(13), d[1], "ag2"),
                     CAMPAIGN_ENOENT);
    struct campaign_lead_info info;
    uint32_t li;
    campaign_lead_find(cc, ci, "b", &li);
    campaign_lead_info(cc, li, &info);
    assert_int_equal(info.state, CAMPAIGN_LEAD_WAITING);
    assert_int_equal(info.last, CAMPAIGN_OUT_DROPPED);
    assert_int_equal(info.next_at, T0 + S(12) + S(120));
    struct campaign_stats st;
    campaign_stats(cc, ci, T0 + S(12), &st);
    assert_true(fabs(st.abandon_life - 0.5) < 1e-9);
    /* the share of an agent on an outbound call grows */
    assert_true(campaign_agent_share(cc, T0 + MIN(30), "ag1") > 0.3);
    assert_true(campaign_agent_share(cc, T0 + MIN(30), "ag2") == 0.0);
    campaign_core_free(cc);
}

static bool free_set(void *ctx, const char *agent)
{
    const char *const *free_ = ctx;
    for (; *free_; free_++)
        if (!strcmp(*free_, agent))
            return true;
    return false;
}

/* The supervisor's cap on an agent's outbound share: a free agent at or
 * above it is left out of the capacity; one below it, or not free, is
 * not; no cap (100%) leaves the capacity alone. */
/* The free agents campaign_agent_pick() is shown: ids and since. */
struct free_list {
    const char *const *ids;
    const uint64_t *since;
    size_t i;
};

static bool free_next(void *ctx, const char **id, uint64_t *since)
{
    struct free_list *f = ctx;
    if (!f->ids[f->i])
        return false;
    *id = f->ids[f->i];
    *since = f->since[f->i++];
    return true;
}

static bool free_next_never(void *ctx, const char **id, uint64_t *since)
{
    (void)ctx;
    (void)id;
    (void)since;
    fail_msg("no cap: the agents are not looked at");
    return false;
}

static void test_share_cap(void **state)
{
    struct campaign_core *cc = core();
    struct campaign_config c = cfg("cap", CAMPAIGN_MODE_PROGRESSIVE);
    const char *both[] = { "ag1", "ag2", NULL }, *ag2[] = { "ag2", NULL };
    uint64_t d[64];
    c.agent_share_pct = 20;
    int ci = campaign_upsert(cc, T0, &c, 0);
    campaign_set_run(cc, T0, ci, CAMPAIGN_RUNNING);
    add(cc, T0, ci, "a", "1", "UTC");
    assert_int_equal(pace(cc, T0, 1, CAMPAIGN_EV_DIAL, d), 1);
    campaign_dial_result(cc, T0 + S(5), d[0], CAMPAIGN_OUT_HUMAN);
    assert_int_equal(campaign_call_connected(cc, T0 + S(6), d[0], "ag1"), 0);
    /* 5 minutes on the call: about 8% of the last hour, under the cap */
    assert_int_equal(campaign_free_capped(cc, T0 + MIN(5), ci, 2, free_set,
                                          (void *)both), 2);
    /* who takes the next call: nobody free is capped, the router's
     * order stands */
    const uint64_t since[] = { 1, 2 };
    struct free_list fl = { both, since, 0 };
    assert_null(campaign_agent_pick(cc, T0 + MIN(5), ci, free_next, &fl));
    assert_int_equal(fl.i, 2);
    /* 30 minutes: about 40%, over it; ag1 no longer counts */
    assert_int_equal(campaign_free_capped(cc, T0 + MIN(30), ci, 2, free_set,
                                          (void *)both), 1);
    /* at 30 minutes ag2, though ag1 has been free longer; ag1 alone:
     * nobody */
    fl.i = 0;
    assert_string_equal(campaign_agent_pick(cc, T0 + MIN(30), ci, free_next,
                                            &fl), "ag2");
    const char *only1[] = { "ag1", NULL };
    struct free_list f1 = { only1, since, 0 };
    assert_null(campaign_agent_pick(cc, T0 + MIN(30), ci, free_next, &f1));
    /* ag1 is not free anyway: nothing to leave out */
    assert_int_equal(campaign_free_capped(cc, T0 + MIN(30), ci, 1, free_set,
                                          (void *)ag2), 1);
    /* the call ends; an hour later the share has decayed under 20% */
    assert_int_equal(campaign_call_ended(cc, T0 + MIN(30), d[0]), 0);
    assert_int_equal(campaign_free_capped(cc, T0 + MIN(120), ci, 2, free_set,
                                          (void *)both), 2);
    /* no cap */
    c.agent_share_pct = 100;
    assert_int_equal(campaign_upsert(cc, T0 + MIN(120), &c, 0), ci);
    assert_int_equal(campaign_free_capped(cc, T0 + MIN(30), ci, 2, free_set,
                                          (void *)both), 2);
    assert_null(campaign_agent_pick(cc, T0 + MIN(30), ci, free_next_never,
                                    NULL));
    campaign_core_free(cc);
}

static void test_dnc(void **state)
{
    struct campaign_core *cc = core();
    struct campaign_config c = cfg("n", CAMPAIGN_MODE_PREVIEW);
    int ci = campaign_upsert(cc, T0, &c, 0);
    uint64_t d[64];
    bool was;
    campaign_set_run(cc, T0, ci, CAMPAIGN_RUNNING);
    add(cc, T0, ci, "a", "+100", "UTC");
    add(cc, T0, ci, "b", "+200", "UTC");
    add(cc, T0, ci, "c", "+300", "UTC");
    assert_int_equal(campaign_dnc_add(cc, "+100"), 0);
    assert_int_equal(campaign_dnc_add(cc, "+100"), 0);
    assert_int_equal(campaign_dnc_add(cc, ""), CCR_EINVAL);
    /* a is skipped as DNC when picked; b and c are previewed */
    assert_int_equal(pace(cc, T0, 3, CAMPAIGN_EV_PREVIEW, d), 2);
    lead_is(cc, ci, "a", CAMPAIGN_LEAD_DNC, 0);
    /* b's number goes on the list while its preview is out: no dial */
    campaign_dnc_add(cc, "+200");
    assert_int_equal(campaign_preview_accept(cc, T0, d[0]), 0);
    assert_int_equal(campaign_out_count(cc), 1);
    assert_int_equal(campaign_out_get(cc, 0)->type, CAMPAIGN_EV_LEAD);
    campaign_out_clear(cc);
    lead_is(cc, ci, "b", CAMPAIGN_LEAD_DNC, 0);
    assert_int_equal(campaign_dnc_remove(cc, "+200", &was), 0);
    assert_true(was);
    assert_false(campaign_dnc_has(cc, "+200"));
    assert_int_equal(campaign_dnc_remove(cc, "+200", &was), 0);
    assert_false(was);
    /* many numbers in and out: the set stays exact (backward shift) */
    char num[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(num, sizeof(num), "+49%d", i);
        assert_int_equal(campaign_dnc_add(cc, num), 0);
    }
    for (int i = 0; i < 5000; i += 2) {
        snprintf(num, sizeof(num), "+49%d", i);
        campaign_dnc_remove(cc, num, &was);
        assert_true(was);
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(num, sizeof(num), "+49%d", i);
        assert_int_equal(campaign_dnc_has(cc, num), i % 2 == 1);
    }
    assert_true(campaign_dnc_has(cc, "+100"));
    campaign_core_free(cc);
}

static void test_zones_and_dst(void **state)
{
    struct czones *z = czones_new();
    int ny = czones_intern(z, "America/New_York");
    int tk = czones_intern(z, "Asia/Tokyo");
    assert_true(ny >= 0 && tk >= 0);
    assert_int_equal(czones_intern(z, "America/New_York"), ny);
    assert_int_equal(czones_intern(z, "Mars/Olympus_Mons"), CCR_EINVAL);
    assert_int_equal(czones_intern(z, ""), CCR_EINVAL);
    uint64_t sat22 = 1710021600ULL * 1000;      /* 2024-03-09 22:00 UTC */
    /* EST: 17:00 local, outside 9..17; DST starts on 10 March at 02:00,
     * so Sunday's 09:00 is 13:00 UTC, not 14:00 */
    assert_int_equal(czones_local_hour(z, ny, sat22), 17);
    assert_int_equal(czones_window_next(z, ny, sat22, 9, 17),
                     1710075600ULL * 1000);
    assert_int_equal(czones_offset_ms(z, ny, 1710075600ULL * 1000),
                     -4 * 3600000LL);
    assert_int_equal(czones_offset_ms(z, ny, sat22), -5 * 3600000LL);
    /* Tokyo has no DST: 22:00 UTC is 07:00 local; opens at 00:00 UTC */
    assert_int_equal(czones_local_hour(z, tk, sat22), 7);
    assert_int_equal(czones_window_next(z, tk, sat22, 9, 17),
                     1710028800ULL * 1000);
    /* inside: itself */
    assert_int_equal(czones_window_next(z, tk, 1710028800ULL * 1000, 9, 17),
                     1710028800ULL * 1000);
    czones_free(z);
}

static void test_windows_across_zones(void **state)
{
    struct campaign_core *cc = core();
    struct campaign_config c = cfg("w", CAMPAIGN_MODE_PROGRESSIVE);
    c.window_start_h = 9;
    c.window_end_h = 17;
    c.max_attempts = 1;
    int ci = campaign_upsert(cc, 0, &c, 0);
    uint64_t d[64];
    uint64_t sat22 = 1710021600ULL * 1000000;
    campaign_set_run(cc, 0, ci, CAMPAIGN_RUNNING);
    add(cc, sat22, ci, "ny", "+1", "America/New_York");
    add(cc, sat22, ci, "tk", "+81", "Asia/Tokyo");
    add(cc, sat22, ci, "pa", "+33", "Europe/Paris");
    /* 22:00 UTC: New York 17:00, Tokyo 07:00, Paris 23:00: nobody */
    assert_int_equal(pace(cc, sat22, 5, CAMPAIGN_EV_DIAL, NULL), 0);
    /* the next due time is Tokyo's 09:00 = 00:00 UTC */
    assert_int_equal(campaign_next_deadline(cc), 1710028800ULL * 1000000);
    assert_int_equal(pace(cc, 1710028800ULL * 1000000, 5, CAMPAIGN_EV_DIAL, d),
                     1);
    uint32_t li;
    campaign_dial_get(cc, d[0], NULL, NULL, &li);
    assert_string_equal(campaign_lead_id(cc, li), "tk");
    campaign_dial_result(cc, 1710028800ULL * 1000000 + S(20), d[0],
                         CAMPAIGN_OUT_NO_ANSWER);
    /* Paris opens at 08:00 UTC (CET), New York at 13:00 UTC (EDT, the day
     * DST began) */
    assert_int_equal(pace(cc, 1710057600ULL * 1000000 - 1, 5,
                          CAMPAIGN_EV_DIAL, NULL), 0);
    assert_int_equal(pace(cc, 1710057600ULL * 1000000, 5, CAMPAIGN_EV_DIAL, d),
                     1);
    campaign_dial_get(cc, d[0], NULL, NULL, &li);
    assert_string_equal(campaign_lead_id(cc, li), "pa");
    campaign_dial_result(cc, 1710057600ULL * 1000000 + S(20), d[0],
                         CAMPAIGN_OUT_NO_ANSWER);
    assert_int_equal(campaign_next_deadline(cc), 1710075600ULL * 1000000);
    assert_int_equal(pace(cc, 1710075600ULL * 1000000, 5, CAMPAIGN_EV_DIAL, d),
                     1);
    campaign_core_free(cc);
}

static void test_bad_input(void **state)
{
    struct campaign_core *cc = core();
    struct campaign_config c = cfg("b", CAMPAIGN_MODE_PROGRESSIVE);
    int ci = campaign_upsert(cc, T0, &c, 0);
    struct campaign_lead_spec l[3] = {
        { "x", "+1", "UTC", NULL, 0 },
        { "y", "", "UTC", NULL, 0 },
        { "z", "+3", "UTC", NULL, 0 },
    };
    size_t bad = 99;
    const char *why = "";
    struct campaign_stats st;
    assert_int_equal(campaign_leads_add(cc, T0, ci, l, 3, &bad, &why),
                     CCR_EINVAL);
    assert_int_equal(bad, 1);
    assert_string_equal(why, "lead has no number");
    l[1].number = "+2";
    l[1].zone = "Europe/Atlantis";
    assert_int_equal(campaign_leads_add(cc, T0, ci, l, 3, &bad, &why),
                     CCR_EINVAL);
    assert_int_equal(bad, 1);
    l[1].zone = "Europe/Berlin";
    l[2].id = "x";
    assert_int_equal(campaign_leads_add(cc, T0, ci, l, 3, &bad, &why),
                     CCR_EDUPLICATE);
    assert_int_equal(bad, 2);
    campaign_stats(cc, ci, T0, &st);
    assert_int_equal(st.leads, 0);      /* nothing half-added */
    l[2].id = "z";
    assert_int_equal(campaign_leads_add(cc, T0, ci, l, 3, &bad, &why), 0);
    assert_int_equal(campaign_leads_add(cc, T0, ci, l, 1, &bad, &why),
                     CCR_EDUPLICATE);
    assert_int_equal(campaign_leads_add(cc, T0, 7, l, 1, &bad, &why),
                     CAMPAIGN_ENOENT);
    c.window_start_h = 20;
    c.window_end_h = 8;
    assert_int_equal(campaign_upsert(cc, T0, &c, 0), CCR_EINVAL);
    c = cfg("b", CAMPAIGN_MODE_PROGRESSIVE);
    c.dialer[0] = '\0';
    assert_int_equal(campaign_upsert(cc, T0, &c, 0), CCR_EINVAL);
    campaign_core_free(cc);
}

/* ---- a million leads ---- */

static double secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_million_leads(void **state)
{
    enum { N = 1000000, BATCH = 10000 };
    const char *zones[] = { "America/New_York", "Europe/Paris", "Asia/Tokyo",
                            "Australia/Sydney" };
    struct campaign_core *cc = campaign_core_new(N, 4096);
    struct campaign_config c = cfg("big", CAMPAIGN_MODE_PROGRESSIVE);
    c.window_start_h = 9;
    c.window_end_h = 17;
    int ci = campaign_upsert(cc, T0, &c, 0);
    static struct campaign_lead_spec l[BATCH];
    static char ids[BATCH][24];
    double t0 = secs();
    campaign_set_run(cc, T0, ci, CAMPAIGN_RUNNING);
    for (int b = 0; b < N / BATCH; b++) {
        for (int i = 0; i < BATCH; i++) {
            snprintf(ids[i], sizeof(ids[i]), "+%d", b * BATCH + i);
            l[i] = (struct campaign_lead_spec){ ids[i], ids[i],
                                                zones[(b * BATCH + i) % 4],
                                                NULL, 0 };
        }
        size_t bad;
        const char *why;
        assert_int_equal(campaign_leads_add(cc, T0, ci, l, BATCH, &bad, &why),
                         0);
    }
    double t1 = secs();
    /* dial, resolve, repeat: 100,000 dials over the day's windows */
    uint64_t now = T0, d[64];
    int dials = 0;
    while (dials < 100000 && now < T0 + S(86400)) {
        int n = pace(cc, now, 50, CAMPAIGN_EV_DIAL, d);
        for (int i = 0; i < n && i < 64; i++)
            campaign_dial_result(cc, now, d[i], CAMPAIGN_OUT_NO_ANSWER);
        dials += n;
        if (n == 0)
            now = campaign_next_deadline(cc);
    }
    double t2 = secs();
    struct campaign_stats st;
    campaign_stats(cc, ci, now, &st);
    assert_int_equal(st.leads, N);
    assert_true(dials >= 100000);
    printf("1,000,000 leads in 4 zones: loaded in %.2f s; %d dials picked "
           "and resolved in %.2f s (%.2f us each)\n", t1 - t0, dials,
           t2 - t1, (t2 - t1) * 1e6 / dials);
    campaign_core_free(cc);
}

/* ---- pacing simulated with the real router ---- */

struct sim_call {
    uint64_t at;            /* when it happens (router clock, us) */
    int kind;               /* 1 dial outcome, 2 completion */
    uint64_t dial;          /* outbound dial, or 0 for inbound */
    int outcome;
    char contact[24];
};

struct sim {
    struct router *r;
    struct campaign_core *cc;
    int qin, qout;
    struct rng g;
    struct sim_call ev[8192];
    int nev;
    double in_rate;         /* inbound arrivals per second */
    bool blend;
    unsigned agents;
    /* figures */
    double idle_agent_s;
    uint64_t dials_phase[2];
    int phase;
    uint64_t in_seq;
};

static double urand(struct sim *s)
{
    return (double)(rng_next(&s->g) >> 11) / 9007199254740992.0;
}

static double expo(struct sim *s, double mean)
{
    return -mean * log(1.0 - urand(s));
}

static void sim_at(struct sim *s, uint64_t at, int kind, uint64_t dial,
                   int outcome, const char *contact)
{
    assert_true(s->nev < 8192);
    struct sim_call *e = &s->ev[s->nev++];
    e->at = at;
    e->kind = kind;
    e->dial = dial;
    e->outcome = outcome;
    snprintf(e->contact, sizeof(e->contact), "%s", contact ? contact : "");
}

static void sim_cap(void *ctx, int ci, struct campaign_capacity *out)
{
    struct sim *s = ctx;
    struct router_queue_stats qs;
    router_queue_stats(s->r, s->qin, 0, &qs);
    out->free = router_queue_free(s->r, s->qout, ROUTER_CH_VOICE);
    out->dialer_ok = true;
    out->inbound_offered = qs.offered;
    out->inbound_ok = !s->blend || (qs.waiting == 0 &&
                                    qs.service_level >= 0.80 + 0.05);
}

/* Drains the router: offers are accepted at once; an outbound contact's
 * assignment connects its call; assignments schedule completions. */
static void sim_drain(struct sim *s, uint64_t now, uint64_t wall0)
{
    char accept[64][2][ROUTER_ID_MAX];
    int na = 0;
    for (size_t i = 0; i < router_out_count(s->r); i++) {
        const struct router_event *e = router_out_get(s->r, i);
        if (e->type == ROUTER_EV_OFFER && na < 64) {
            snprintf(accept[na][0], ROUTER_ID_MAX, "%s",
                     router_contact_id(s->r, e->contact));
            snprintf(accept[na][1], ROUTER_ID_MAX, "%s",
                     router_agent_id(s->r, e->agent));
            na++;
        }
    }
    router_out_clear(s->r);
    for (int i = 0; i < na; i++) {
        assert_int_equal(router_offer_accept(s->r, now, accept[i][0],
                                             accept[i][1]), 0);
        router_out_clear(s->r);
        if (accept[i][0][0] == 'o') {
            uint64_t dial = strtoull(accept[i][0] + 1, NULL, 10);
            if (campaign_call_connected(s->cc, wall0 + now, dial,
                                        accept[i][1]) == 0)
                sim_at(s, now + (uint64_t)(expo(s, 120.0) * 1e6), 2, dial, 0,
                       accept[i][0]);
        } else {
            sim_at(s, now + (uint64_t)(expo(s, 180.0) * 1e6), 2, 0, 0,
                   accept[i][0]);
        }
    }
}

/* Runs `hours` of simulated time in 100 ms steps; phase 1 starts at
 * `phase_at` hours with inbound rate in_rate2. */
static void sim_run(struct sim *s, double hours, double phase_at,
                    double in_rate2)
{
    uint64_t wall0 = T0, step = 100000, end = (uint64_t)(hours * 3600e6);
    double next_in = s->in_rate > 0 ? expo(s, 1.0 / s->in_rate) : 1e18;
    for (uint64_t now = 0; now < end; now += step) {
        if (!s->phase && now >= (uint64_t)(phase_at * 3600e6)) {
            s->phase = 1;
            s->in_rate = in_rate2;
            next_in = (double)now / 1e6 + expo(s, 1.0 / s->in_rate);
        }
        router_tick(s->r, now);
        sim_drain(s, now, wall0);
        while (s->in_rate > 0 && next_in * 1e6 <= (double)now) {
            char id[24];
            snprintf(id, sizeof(id), "i%llu", (unsigned long long)s->in_seq++);
            struct router_contact_spec sp = { .id = id, .queue = "in" };
            uint32_t h;
            assert_int_equal(router_contact_arrive(s->r, now, &sp, 0, &h), 0);
            sim_drain(s, now, wall0);
            next_in += expo(s, 1.0 / s->in_rate);
        }
        for (int i = 0; i < s->nev;) {
            struct sim_call e = s->ev[i];
            if (e.at > now) {
                i++;
                continue;
            }
            s->ev[i] = s->ev[--s->nev];
            if (e.kind == 1) {
                campaign_dial_result(s->cc, wall0 + now, e.dial,
                                     (enum campaign_outcome)e.outcome);
                if (e.outcome == CAMPAIGN_OUT_HUMAN) {
                    char id[24];
                    snprintf(id, sizeof(id), "o%llu",
                             (unsigned long long)e.dial);
                    struct router_contact_spec sp = { .id = id, .queue = "out" };
                    uint32_t h;
                    assert_int_equal(router_contact_arrive(s->r, now, &sp, 0,
                                                           &h), 0);
                    sim_drain(s, now, wall0);
                }
            } else {
                assert_int_equal(router_contact_complete(s->r, now,
                                                         e.contact), 0);
                sim_drain(s, now, wall0);
                if (e.dial)
                    campaign_call_ended(s->cc, wall0 + now, e.dial);
            }
        }
        campaign_pace(s->cc, wall0 + now, sim_cap, s);
        for (size_t i = 0; i < campaign_out_count(s->cc); i++) {
            const struct campaign_event *e = campaign_out_get(s->cc, i);
            if (e->type == CAMPAIGN_EV_DIAL) {
                /* a person answers 30% of dials after 5..20 s of ringing;
                 * the rest ring out after 25 s or are busy */
                double u = urand(s);
                int o = u < 0.30 ? CAMPAIGN_OUT_HUMAN
                        : u < 0.40 ? CAMPAIGN_OUT_BUSY
                        : u < 0.50 ? CAMPAIGN_OUT_MACHINE
                                   : CAMPAIGN_OUT_NO_ANSWER;
                double ring = o == CAMPAIGN_OUT_NO_ANSWER ? 25.0
                              : o == CAMPAIGN_OUT_BUSY ? 2.0
                                                       : 5.0 + 15.0 * urand(s);
                sim_at(s, now + (uint64_t)(ring * 1e6), 1, e->dial, o, NULL);
                s->dials_phase[s->phase]++;
            } else if (e->type == CAMPAIGN_EV_DROP) {
                char id[24];
                snprintf(id, sizeof(id), "o%llu", (unsigned long long)e->dial);
                assert_int_equal(router_contact_abandon(s->r, now, id), 0);
                sim_drain(s, now, wall0);
            }
        }
        campaign_out_clear(s->cc);
        s->idle_agent_s += (double)router_queue_free(s->r, s->qout,
                                                      ROUTER_CH_VOICE) * 0.1;
    }
}

static void sim_init(struct sim *s, enum campaign_mode mode, unsigned agents,
                     double in_rate, bool blend)
{
    static struct router_queue_config q[2];
    memset(s, 0, sizeof(*s));
    q[0] = fx_queue("in", "");
    q[1] = fx_queue("out", "");
    struct router_config rc = fx_config(q, 2);
    rc.max_contacts = 4096;
    const char *err;
    s->r = router_new(&rc, 1, &err);
    assert_non_null(s->r);
    s->qin = router_queue_find(s->r, "in");
    s->qout = router_queue_find(s->r, "out");
    rng_seed(&s->g, 20240309);
    s->agents = agents;
    s->in_rate = in_rate;
    s->blend = blend;
    for (unsigned i = 0; i < agents; i++) {
        char id[24];
        snprintf(id, sizeof(id), "a%u", i);
        struct router_agent_spec sp = { .id = id };
        uint32_t h;
        assert_int_equal(router_agent_login(s->r, 0, &sp, 0, &h), 0);
    }
    router_out_clear(s->r);
    s->cc = campaign_core_new(200000, 4096);
    struct campaign_config c = cfg("sim", mode);
    c.retry_ms[CAMPAIGN_OUT_NO_ANSWER] = 3600000;
    if (blend) {
        snprintf(c.blend[0], CAMPAIGN_ID_MAX, "in");
        c.nblend = 1;
    }
    int ci = campaign_upsert(s->cc, T0, &c, s->qout);
    campaign_set_run(s->cc, T0, ci, CAMPAIGN_RUNNING);
    static struct campaign_lead_spec l[1000];
    static char ids[1000][24];
    for (int b = 0; b < 100; b++) {
        for (int i = 0; i < 1000; i++) {
            snprintf(ids[i], sizeof(ids[i]), "%d", b * 1000 + i);
            l[i] = (struct campaign_lead_spec){ ids[i], ids[i], "UTC", NULL, 0 };
        }
        size_t bad;
        const char *why;
        assert_int_equal(campaign_leads_add(s->cc, T0, ci, l, 1000, &bad, &why),
                         0);
    }
}

static void sim_free(struct sim *s)
{
    router_free(s->r);
    campaign_core_free(s->cc);
}

static void test_pacing_simulated(void **state)
{
    static struct sim prog, pred;
    const double hours = 4.0;
    struct campaign_stats a, b;
    sim_init(&prog, CAMPAIGN_MODE_PROGRESSIVE, 20, 0, false);
    sim_run(&prog, hours, 1e9, 0);
    sim_init(&pred, CAMPAIGN_MODE_PREDICTIVE, 20, 0, false);
    sim_run(&pred, hours, 1e9, 0);
    campaign_stats(prog.cc, 0, T0 + (uint64_t)(hours * 3600e6), &a);
    campaign_stats(pred.cc, 0, T0 + (uint64_t)(hours * 3600e6), &b);
    double idle_a = prog.idle_agent_s / (20 * hours * 3600);
    double idle_b = pred.idle_agent_s / (20 * hours * 3600);
    printf("pacing, 20 agents, 4 h, answer 30%%, ring 5-25 s, talk 120 s:\n"
           "  progressive: %llu dials, %llu connected, idle %.1f%%, "
           "abandon %.2f%%\n"
           "  predictive:  %llu dials, %llu connected, idle %.1f%%, "
           "abandon %.2f%% (last 30 min %.2f%%), gain %.2f, rate %.2f\n",
           (unsigned long long)a.dials, (unsigned long long)a.connected,
           idle_a * 100, a.abandon_life * 100,
           (unsigned long long)b.dials, (unsigned long long)b.connected,
           idle_b * 100, b.abandon_life * 100, b.abandon_window * 100, b.gain,
           b.answer_rate);
    assert_true(b.abandon_life < 0.03);
    assert_true(b.abandon_window < 0.03);
    assert_true(idle_b < idle_a * 0.7);
    assert_true(b.connected > a.connected);
    sim_free(&prog);
    sim_free(&pred);
}

static void test_blending_simulated(void **state)
{
    static struct sim s;
    struct campaign_stats st;
    struct router_queue_stats qs;
    /* 20 agents; inbound 0.02/s (about 3.6 agents busy) for 2 h, then
     * 0.08/s (about 14.4 agents) for 2 h */
    sim_init(&s, CAMPAIGN_MODE_PREDICTIVE, 20, 0.02, true);
    sim_run(&s, 4.0, 2.0, 0.08);
    campaign_stats(s.cc, 0, T0 + S(4 * 3600), &st);
    router_queue_stats(s.r, s.qin, S(4 * 3600), &qs);
    printf("blending, 20 agents, predictive: outbound dials %llu in the "
           "light 2 h, %llu in the heavy 2 h; inbound offered %llu, service "
           "level %.1f%% (target 80%% in 20 s), asa %u ms; abandon %.2f%%\n",
           (unsigned long long)s.dials_phase[0],
           (unsigned long long)s.dials_phase[1],
           (unsigned long long)qs.offered, qs.service_level * 100, qs.asa_ms,
           st.abandon_life * 100);
    assert_true(s.dials_phase[1] * 2 < s.dials_phase[0]);
    assert_true(qs.service_level >= 0.80);
    assert_true(st.abandon_life < 0.03);
    sim_free(&s);
}

/* A predictive campaign whose agents also take inbound contacts of a
 * queue it does not blend with: inbound takes the agents its answered
 * calls were counted on, so the core keeps back the agents it sees taken
 * while a dial rings, and its abandon rate stays under the cap. */
static void test_shared_agents_simulated(void **state)
{
    static struct sim s;
    struct campaign_stats st;
    struct router_queue_stats qs;
    /* 20 agents; inbound 0.08/s (about 14.4 agents busy), not blended */
    sim_init(&s, CAMPAIGN_MODE_PREDICTIVE, 20, 0.08, false);
    sim_run(&s, 4.0, 1e9, 0);
    campaign_stats(s.cc, 0, T0 + S(4 * 3600), &st);
    router_queue_stats(s.r, s.qin, S(4 * 3600), &qs);
    printf("shared agents, not blended, 20 agents, predictive: %llu dials, "
           "%llu connected, abandon %.2f%% (last 30 min %.2f%%); inbound "
           "offered %llu, service level %.1f%%\n",
           (unsigned long long)st.dials, (unsigned long long)st.connected,
           st.abandon_life * 100, st.abandon_window * 100,
           (unsigned long long)qs.offered, qs.service_level * 100);
    assert_true(st.connected > 300);
    assert_true(st.outcomes[CAMPAIGN_OUT_DROPPED] > 0);
    assert_true(st.abandon_life < 0.03);
    assert_true(st.abandon_window < 0.03);
    sim_free(&s);
}

int main(int argc, char **argv)
{
    if (argc > 1)       /* one test by name (a glob), for debugging */
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_progressive),
        cmocka_unit_test(test_retry_by_outcome),
        cmocka_unit_test(test_preview),
        cmocka_unit_test(test_predictive_dials_ahead),
        cmocka_unit_test(test_compliance_drop),
        cmocka_unit_test(test_share_cap),
        cmocka_unit_test(test_dnc),
        cmocka_unit_test(test_zones_and_dst),
        cmocka_unit_test(test_windows_across_zones),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_million_leads),
        cmocka_unit_test(test_pacing_simulated),
        cmocka_unit_test(test_blending_simulated),
        cmocka_unit_test(test_shared_agents_simulated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
