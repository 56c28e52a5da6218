/* test-care-sl.c -- end to end: the care rules yield to the inbound
 * service level (docs/care.md), on the real ccrouted: the engine reads
 * the queue's service level and waiting contacts at the completion, a
 * rule that would pause the agent yields while the queue is far below
 * its target with callers waiting, and the yield is counted in Stats.
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
             "    service_level: {percent: 80, seconds: 20}\n"
             "care:\n"
             "  agent_groups:\n"
             "    - name: tier1\n"
             "      agents: [\"a*\"]\n"
             "      recovery: {after: 1, within: 1h, pause: 5m}\n"
             "      yield_margin: 10\n");
}

static int setup(void **state)
{
    return e2e_env_start(state, false, config_text, NULL);
}

static int teardown(void **state)
{
    return e2e_env_teardown(state);
}

static int complete_difficult(struct e2e_client *e, const char *cid)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactCompleted m = CCROUTE__V1__CONTACT_COMPLETED__INIT;
    m.contact_id = (char *)cid;
    m.difficult = true;
    env.body_case = BODY(CONTACT_COMPLETED);
    env.contact_completed = &m;
    return e2e_call(e, &env, E2E_T_MS);
}

static uint64_t yields(struct e2e_client *adm)
{
    static const char *const q[] = { "support" };
    ccr_envelope *st = e2e_stats_queues(adm, q, 1);
    uint64_t n;
    assert_int_equal(st->stats->n_queues, 1);
    n = st->stats->queues[0]->care_yields_today;
    ccr_free(st);
    return n;
}

/* An abandoned contact puts the queue at 0% (target 80, margin 10): the
 * recovery the first difficult completion would start yields while k2
 * waits, and the agent is offered k2; with nobody waiting, the next
 * difficult completion pauses the agent. */
static void test_recovery_yields_to_service_level(void **state)
{
    struct e2e_env *f = *state;
    struct harness_daemon *d = &f->d;
    struct e2e_client adm, sw, desk;
    ccr_envelope *o, *ev;

    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    e2e_open_hello(&sw, d->port, "sw", E2E_ROLE(SWITCH), false);
    e2e_open_hello(&desk, d->port, "desk1", E2E_ROLE(AGENT), false);
    assert_int_equal(e2e_contact(&sw, "x1", "support", VOICE), 0);
    assert_int_equal(e2e_simple(&sw, BODY(CONTACT_ABANDONED), "x1", NULL),
                     0);
    assert_int_equal(e2e_agent_login(&desk, "a1", "support", 1, 1, 0), 0);
    assert_int_equal(e2e_contact(&sw, "k1", "support", VOICE), 0);
    o = e2e_wait_offer(&desk, "k1", E2E_T_MS);
    assert_non_null(o);
    ccr_free(o);
    assert_int_equal(e2e_simple(&desk, BODY(OFFER_ACCEPTED), "k1", "a1"), 0);
    assert_int_equal(e2e_contact(&sw, "k2", "support", VOICE), 0);
    assert_int_equal(yields(&adm), 0);

    /* k2 waits, the queue is at 0%: no pause, the agent takes k2 after
     * its wrap-up (none configured) */
    assert_int_equal(complete_difficult(&desk, "k1"), 0);
    assert_int_equal(yields(&adm), 1);
    o = e2e_wait_offer(&desk, "k2", E2E_T_MS);
    assert_non_null(o);
    ccr_free(o);
    assert_int_equal(e2e_simple(&desk, BODY(OFFER_ACCEPTED), "k2", "a1"), 0);

    /* nobody waits: the recovery applies */
    assert_int_equal(complete_difficult(&desk, "k2"), 0);
    ev = e2e_expect(&desk, BODY(CARE_PAUSE), E2E_T_MS);
    assert_string_equal(ev->care_pause->agent_id, "a1");
    assert_string_equal(ev->care_pause->reason, "recovery");
    ccr_free(ev);
    assert_int_equal(yields(&adm), 1);

    e2e_close(&adm);
    e2e_close(&sw);
    e2e_close(&desk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_recovery_yields_to_service_level,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
