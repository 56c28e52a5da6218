/* test-reattach.c -- end to end: contacts and agents keep their owner
 * across an engine crash. The real ccrouted on a real redis-server
 * (tests/harness.c) is killed with SIGKILL and restarted on the same
 * Redis; the owners' client names come back from Redis, so a switch and
 * an agent desktop that reconnect with Hello{reattach} get their contacts
 * and agents back, and a switch that does not come back loses its
 * contacts when the grace period ends.
 *
 * Each test runs on the e2e_env fixture (tests/e2e-util.h): a private
 * redis-server and the daemon on it. Synchronisation is "wait for this
 * message / log line / value, with a bounded deadline"; the only pauses
 * are between polls.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "client.h"
#include "e2e-util.h"
#include "harness.h"
#include "store-peek.h"

#define T_MS E2E_T_MS   /* timeout for one expected message */

#define BODY(x) E2E_BODY(x)
#define ROLE(x) E2E_ROLE(x)

/* arg: the grace period. */
static void config_text(char *buf, size_t len, int redis_port,
                        const void *grace)
{
    snprintf(buf, len,
             "listen: 127.0.0.1:0\n"
             "log_level: info\n"
             "grace: %s\n"
             "redis:\n"
             "  enabled: true\n"
             "  port: %d\n"
             "  tenant: ra\n"
             "  lease: 600ms\n"
             "  advertise: 127.0.0.1:1\n"
             "routing: {offer_timeout: 20s}\n"
             "skills: [sales]\n"
             "queues:\n"
             "  - name: q1\n"
             "    skills: {sales: 1}\n",
             (const char *)grace, redis_port);
}

/* The fixture: Redis, and the daemon on it (tests/e2e-util.h). */
static int setup_grace_10s(void **state)
{
    return e2e_env_start(state, true, config_text, "10s");
}

static int setup_grace_1500ms(void **state)
{
    return e2e_env_start(state, true, config_text, "1500ms");
}

/* ---- helpers ---- */

/* Voice capacity 1, skill sales at level 4. */
static int agent_login(struct e2e_client *c, const char *id)
{
    return e2e_agent_login(c, id, "sales", 4, 1, 0);
}

static int contact_arrive(struct e2e_client *c, const char *id)
{
    return e2e_contact(c, id, "q1", E2E_VOICE);
}

/* StatsRequest for queue q1: *waiting and *abandoned. */
static void q1_stats(struct e2e_client *c, uint32_t *waiting,
                     uint32_t *abandoned)
{
    static const char *const q1[] = { "q1" };
    ccr_envelope *st = e2e_stats_queues(c, q1, 1);
    assert_int_equal(st->stats->n_queues, 1);
    *waiting = st->stats->queues[0]->waiting;
    *abandoned = st->stats->queues[0]->abandoned;
    ccr_free(st);
}

/* Field `field` of object (kind, id) of tenant "ra" as stored (either
 * layout, tests/store-peek.h), "" when missing. */
static const char *stored(redisContext *r, char kind, const char *id,
                          const char *field)
{
    static char v[64];
    peek_field(r, "ra", kind, id, field, v, sizeof(v));
    return v;
}

/* ---- tests ---- */

/* A switch and an agent desktop re-attach after the engine crashed and
 * restarted: the recovered agent's Offer reaches the desktop, the
 * assignment reaches the switch. */
static void test_reattach_after_restart(void **state)
{
    struct e2e_env *env = *state;
    struct harness_daemon *d = &env->d;
    struct e2e_client agc, swc, *ag = &agc, *sw = &swc;

    e2e_open_hello_retry(ag, d->port, "desk-1", ROLE(AGENT), false);
    e2e_open_hello_retry(sw, d->port, "sw1", ROLE(SWITCH), false);
    assert_int_equal(agent_login(ag, "a1"), 0);
    /* away: no offer before the crash, so the first offer after it is the
     * one this test follows */
    assert_int_equal(e2e_agent_state(ag, "a1",
                         CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AWAY,
                         "break"), 0);
    /* the Acks of ContactArrived come once Redis has every write so far,
     * the agent's included */
    assert_int_equal(contact_arrive(sw, "r1"), 0);
    assert_int_equal(contact_arrive(sw, "r2"), 0);
    assert_string_equal(stored(env->r, 'c', "r1", "owner"), "sw1");
    assert_string_equal(stored(env->r, 'a', "a1", "owner"), "desk-1");

    harness_daemon_kill(d);
    e2e_close(ag);
    e2e_close(sw);
    assert_int_equal(harness_daemon_restart(d, NULL), 0);
    e2e_expect_log(d, "loaded 1 agents, 2 contacts", T_MS);
    e2e_expect_log(d, "contacts and agents of client sw1 wait", T_MS);
    e2e_expect_log(d, "contacts and agents of client desk-1 wait", T_MS);

    e2e_open_hello_retry(sw, d->port, "sw1", ROLE(SWITCH), true);
    e2e_expect_log(d, "hello from sw1, role switch; re-attached 2 contacts",
                   T_MS);
    e2e_open_hello_retry(ag, d->port, "desk-1", ROLE(AGENT), true);
    e2e_expect_log(d, "hello from desk-1, role agent; re-attached 1 contacts",
                   T_MS);

    /* the desktop owns a1 again: it may change its state, and a1's offer
     * comes to it */
    assert_int_equal(e2e_agent_state(ag, "a1",
                         CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AVAILABLE,
                         NULL), 0);
    ccr_envelope *e = e2e_expect(ag, BODY(OFFER), T_MS);
    assert_string_equal(e->offer->agent_id, "a1");
    assert_string_equal(e->offer->contact_id, "r1");   /* oldest first */
    ccr_free(e);
    assert_int_equal(e2e_simple(ag, BODY(OFFER_ACCEPTED), "r1", "a1"), 0);
    /* the switch owns r1 again: the assignment reaches it */
    e = e2e_expect(sw, BODY(CONTACT_ASSIGNED), T_MS);
    assert_string_equal(e->contact_assigned->contact_id, "r1");
    assert_string_equal(e->contact_assigned->agent_id, "a1");
    ccr_free(e);
    e = e2e_expect(ag, BODY(CONTACT_ASSIGNED), T_MS);
    assert_string_equal(e->contact_assigned->contact_id, "r1");
    ccr_free(e);

    /* nothing was abandoned or logged out meanwhile */
    assert_int_equal(peek_n(env->r, "ra", 'c'), 2);
    assert_string_equal(stored(env->r, 'c', "r1", "state"),
                        "3");                           /* assigned */
    assert_int_equal(peek_has(env->r, "ra", 'a', "a1"), 1);

    e2e_close(ag);
    e2e_close(sw);
    /* the daemon must exit with status 0: e2e_env_teardown */
}

/* A switch that does not come back after the restart: its recovered
 * contacts are abandoned when the grace period ends. */
static void test_no_reattach_abandons(void **state)
{
    const long grace_ms = 1500;
    struct e2e_env *env = *state;
    struct harness_daemon *d = &env->d;
    struct e2e_client swc, monc, *sw = &swc, *mon = &monc;

    e2e_open_hello_retry(sw, d->port, "sw2", ROLE(SWITCH), false);
    assert_int_equal(contact_arrive(sw, "g1"), 0);
    assert_int_equal(contact_arrive(sw, "g2"), 0);
    assert_int_equal(contact_arrive(sw, "g3"), 0);
    harness_daemon_kill(d);
    e2e_close(sw);

    long long restarted = harness_now_ms();
    assert_int_equal(harness_daemon_restart(d, NULL), 0);
    e2e_expect_log(d, "loaded 0 agents, 3 contacts", T_MS);
    e2e_open_hello_retry(mon, d->port, "wall", ROLE(MONITOR), false);

    /* The grace period began when the state was loaded, after the
     * restart began: a reply received before restarted + grace_ms
     * predates its end, so the contacts must still wait then. */
    uint32_t waiting = 0, abandoned = 0;
    q1_stats(mon, &waiting, &abandoned);
    if (harness_now_ms() < restarted + grace_ms) {
        assert_int_equal(waiting, 3);
        assert_int_equal(abandoned, 0);
    }
    long long deadline = harness_now_ms() + grace_ms + T_MS;
    while (!(waiting == 0 && abandoned == 3)) {
        if (harness_now_ms() > deadline) {
            harness_daemon_dump_log(d);
            fail_msg("after the grace period: waiting %u, abandoned %u",
                     waiting, abandoned);
        }
        harness_pause_ms(50);          /* poll interval */
        q1_stats(mon, &waiting, &abandoned);
    }
    e2e_expect_log(d, "client sw2 did not come back within 1500 ms: "
                      "3 contacts abandoned", T_MS);

    /* ... and they leave Redis too */
    long long live = -1;
    deadline = harness_now_ms() + T_MS;
    for (;;) {
        live = peek_n(env->r, "ra", 'c');
        if (live == 0 || harness_now_ms() > deadline)
            break;
        harness_pause_ms(20);          /* poll interval */
    }
    assert_int_equal(live, 0);

    /* too late to re-attach: nothing is left for sw2 */
    e2e_open_hello_retry(sw, d->port, "sw2", ROLE(SWITCH), true);
    e2e_expect_log(d, "hello from sw2, role switch; re-attached 0 contacts",
                   T_MS);
    e2e_close(sw);
    e2e_close(mon);
    /* the daemon must exit with status 0: e2e_env_teardown */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reattach_after_restart,
                                        setup_grace_10s, e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_no_reattach_abandons,
                                        setup_grace_1500ms, e2e_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
