/* test-care-routine.c -- end to end: "only routine contacts for a while"
 * (docs/care.md) on the real ccrouted. An agent whose group has
 * `routine: {after: 1, ...}` completes a complaint; the engine puts it in
 * routine-only mode before the completion frees it: a complaint that
 * arrives then is not offered to it, a routine contact is, and the
 * complaint is offered when the mode ends. Stats shows the mode (the
 * agent's care_routine_left_ms, the group's routine_today).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client.h"
#include "e2e-util.h"
#include "harness.h"

#define BODY(x) E2E_BODY(x)
#define VOICE CCROUTE__V1__CHANNEL__CHANNEL_VOICE

static void config_text(char *buf, size_t len, int redis_port,
                        const void *arg)
{
    (void)arg;
    (void)redis_port;
    snprintf(buf, len,
             "listen: 127.0.0.1:0\n"
             "log_level: info\n"
             "routing: {offer_timeout: 60s, max_no_answer: 100}\n"
             "skills: [support]\n"
             "queues:\n"
             "  - name: support\n"
             "    skills: {support: 1}\n"
             "care:\n"
             "  agent_groups:\n"
             "    - name: tier1\n"
             "      agents: [\"a*\"]\n"
             "      routine: {after: 1, within: 1h, for: 6s}\n");
}

static int setup(void **state)
{
    return e2e_env_start(state, false, config_text, NULL);
}

static int teardown(void **state)
{
    return e2e_env_teardown(state);
}

/* A voice ContactArrived in "support", marked as a complaint or not. */
static int arrive(struct e2e_client *e, const char *cid, bool complaint)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactArrived m = CCROUTE__V1__CONTACT_ARRIVED__INIT;
    m.contact_id = (char *)cid;
    m.queue = "support";
    m.channel = VOICE;
    m.complaint = complaint;
    env.body_case = BODY(CONTACT_ARRIVED);
    env.contact_arrived = &m;
    return e2e_call(e, &env, E2E_T_MS);
}

/* The next Offer the desk receives is for `cid`. */
static void next_offer_is(struct e2e_client *desk, const char *cid,
                          int timeout_ms)
{
    ccr_envelope *o = e2e_expect(desk, BODY(OFFER), timeout_ms);
    assert_string_equal(o->offer->contact_id, cid);
    ccr_free(o);
}

static void test_routine_only_after_a_complaint(void **state)
{
    struct e2e_env *f = *state;
    struct harness_daemon *d = &f->d;
    struct e2e_client adm, sw, desk;
    ccr_envelope *st;
    const Ccroute__V1__AgentStats *as;

    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    e2e_open_hello(&sw, d->port, "sw", E2E_ROLE(SWITCH), false);
    e2e_open_hello(&desk, d->port, "desk1", E2E_ROLE(AGENT), false);
    assert_int_equal(e2e_agent_login(&desk, "a1", "support", 1, 1, 0), 0);

    /* a complaint, offered and completed: routine only from now */
    assert_int_equal(arrive(&sw, "k1", true), 0);
    next_offer_is(&desk, "k1", E2E_T_MS);
    assert_int_equal(e2e_simple(&desk, BODY(OFFER_ACCEPTED), "k1", "a1"), 0);
    assert_int_equal(e2e_simple(&desk, BODY(CONTACT_COMPLETED), "k1", NULL),
                     0);
    st = e2e_stats(&adm);
    as = e2e_stats_agent(st, "a1");
    assert_non_null(as);
    assert_true(as->care_routine_left_ms > 0);
    assert_true(as->care_routine_left_ms <= 6000);
    assert_int_equal(st->stats->n_care_groups, 1);
    assert_int_equal(st->stats->care_groups[0]->routine_today, 1);
    ccr_free(st);

    /* the agent is free; a complaint waits, a routine contact arriving
     * after it is offered first */
    assert_int_equal(arrive(&sw, "k2", true), 0);
    assert_int_equal(arrive(&sw, "r3", false), 0);
    next_offer_is(&desk, "r3", E2E_T_MS);
    assert_int_equal(e2e_simple(&desk, BODY(OFFER_ACCEPTED), "r3", "a1"), 0);
    assert_int_equal(e2e_simple(&desk, BODY(CONTACT_COMPLETED), "r3", NULL),
                     0);
    /* when the mode ends (6 s after k1), k2 is offered: the next offer */
    next_offer_is(&desk, "k2", 6000 + E2E_T_MS);
    st = e2e_stats(&adm);
    as = e2e_stats_agent(st, "a1");
    assert_non_null(as);
    assert_int_equal(as->care_routine_left_ms, 0);
    ccr_free(st);

    e2e_close(&adm);
    e2e_close(&sw);
    e2e_close(&desk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_routine_only_after_a_complaint,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
