/* test-followup.c -- end to end: follow-ups (docs/care.md, "Follow-ups")
 * on the real ccrouted and a real redis-server (tests/e2e-util.h). The
 * test plays the switch, the agent desks and a supervisor.
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
#include <hiredis/hiredis.h>

#include "client.h"
#include "e2e-util.h"
#include "harness.h"
#include "outbound-fx.h"
#include "store-peek.h"

#define EC(x) E2E_EC(x)
#define BODY(x) E2E_BODY(x)
#define OUT(x) OBFX_OUT(x)
#define VOICE CCROUTE__V1__CHANNEL__CHANNEL_VOICE
#define EMAIL CCROUTE__V1__CHANNEL__CHANNEL_EMAIL

static void config_text(char *buf, size_t len, int redis_port,
                        const void *arg)
{
    (void)arg;
    obfx_config_text(buf, len, redis_port, "fu",
                     "routing: {offer_timeout: 60s, max_no_answer: 100, "
                     "preferred_wait: 60s}\n"
                     "skills: [support]\n"
                     "queues:\n"
                     "  - name: support\n"
                     "    skills: {support: 1}\n"
                     "    channels: [voice]\n"
                     "  - name: backoffice\n"
                     "    skills: {support: 1}\n"
                     "    channels: [email]\n"
                     "care:\n"
                     "  dispositions:\n"
                     "    - queue: support\n"
                     "      codes: [resolved, escalated]\n"
                     "      followup:\n"
                     "        codes: [escalated]\n"
                     "        due_after: 1500ms\n"
                     "        queue: backoffice\n"
                     "        overdue_after: 1s\n"
                     "        overdue_priority: 90\n");
}

static int setup(void **state)
{
    return e2e_env_start(state, true, config_text, NULL);
}

static int teardown(void **state)
{
    return e2e_env_teardown(state);
}

/* ContactCompleted with a disposition and the follow-up fields, the
 * follow-up's agent `agent` (NULL: the contact's). */
static int complete_to(struct e2e_client *e, const char *cid,
                       const char *code, uint64_t due_ms, const char *number,
                       const char *agent, char *msg, size_t mlen)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactCompleted m = CCROUTE__V1__CONTACT_COMPLETED__INIT;
    m.contact_id = (char *)cid;
    m.disposition = (char *)code;
    m.followup_due_ms = due_ms;
    m.followup_number = (char *)(number ? number : "");
    m.followup_agent = (char *)(agent ? agent : "");
    env.body_case = BODY(CONTACT_COMPLETED);
    env.contact_completed = &m;
    if (ccr_client_send(e->c, &env) < 0)
        return -EPIPE;
    return e2e_reply_msg(e, env.request_id, E2E_T_MS, msg, mlen);
}

static int complete(struct e2e_client *e, const char *cid, const char *code,
                    uint64_t due_ms, const char *number, char *msg,
                    size_t mlen)
{
    return complete_to(e, cid, code, due_ms, number, NULL, msg, mlen);
}

/* An agent with one voice and one email slot. */
static int login(struct e2e_client *e, const char *id)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__AgentLogin m = CCROUTE__V1__AGENT_LOGIN__INIT;
    Ccroute__V1__AgentSkill sk = CCROUTE__V1__AGENT_SKILL__INIT;
    Ccroute__V1__AgentSkill *skp = &sk;
    Ccroute__V1__ChannelCapacity cv = CCROUTE__V1__CHANNEL_CAPACITY__INIT,
                                 ce = CCROUTE__V1__CHANNEL_CAPACITY__INIT;
    Ccroute__V1__ChannelCapacity *cap[2] = { &cv, &ce };
    sk.skill = "support";
    sk.level = 1;
    cv.channel = VOICE;
    cv.capacity = 1;
    ce.channel = EMAIL;
    ce.capacity = 1;
    m.agent_id = (char *)id;
    m.skills = &skp;
    m.n_skills = 1;
    m.capacity = cap;
    m.n_capacity = 2;
    env.body_case = BODY(AGENT_LOGIN);
    env.agent_login = &m;
    return e2e_call(e, &env, E2E_T_MS);
}

struct followups_want {
    uint32_t scheduled, waiting;
};

static bool followups_are(const ccr_envelope *st, const void *arg)
{
    const struct followups_want *w = arg;
    assert_non_null(st->stats->followups);
    return st->stats->followups->scheduled == w->scheduled &&
           st->stats->followups->waiting == w->waiting;
}

/* Waits until Stats says so; fails the test after the default timeout
 * plus `extra_ms`. */
static void wait_followups(struct e2e_client *adm, uint32_t scheduled,
                           uint32_t waiting, int extra_ms)
{
    const struct followups_want w = { scheduled, waiting };
    obfx_wait_stats(adm, followups_are, &w, E2E_T_MS + extra_ms);
}

/* An escalated contact makes a follow-up, in Redis before the Ack; it
 * survives kill -9; when due it is an email task of the backoffice queue
 * offered to the agent who had the contact, though another agent has
 * been free for longer; assigned, it is over. */
static void test_followup_due_preferred_survives_kill(void **state)
{
    struct e2e_env *f = *state;
    struct harness_daemon *d = &f->d;
    struct e2e_client adm, sw, d1, d2;
    char msg[384];
    ccr_envelope *st, *o;
    uint64_t t0;

    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    e2e_open_hello(&sw, d->port, "sw", E2E_ROLE(SWITCH), false);
    e2e_open_hello(&d1, d->port, "desk1", E2E_ROLE(AGENT), false);
    assert_int_equal(login(&d1, "a1"), 0);
    assert_int_equal(e2e_contact(&sw, "k1", "support", VOICE), 0);
    obfx_accept(&d1, "k1", "a1");
    t0 = obfx_wall_ms();
    assert_int_equal(complete(&d1, "k1", "escalated", 0, NULL, msg,
                              sizeof(msg)), 0);
    /* the Ack is a promise: the follow-up is in Redis */
    assert_int_equal(peek_has(f->r, "fu", 'o', "c|fu-k1"), 1);
    st = e2e_stats(&adm);
    assert_int_equal(st->stats->followups->scheduled, 1);
    assert_int_equal(st->stats->followups->created, 1);
    ccr_free(st);

    harness_daemon_kill(d);
    e2e_close(&adm);
    e2e_close(&sw);
    e2e_close(&d1);
    assert_int_equal(harness_daemon_restart(d, NULL), 0);
    assert_true(harness_daemon_log_contains(d, "serving clients", 5000));
    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    e2e_open_hello_retry(&sw, d->port, "sw", E2E_ROLE(SWITCH), true);
    /* a2 first (free the longest), then a1 */
    e2e_open_hello(&d2, d->port, "desk2", E2E_ROLE(AGENT), false);
    assert_int_equal(login(&d2, "a2"), 0);
    e2e_open_hello_retry(&d1, d->port, "desk1", E2E_ROLE(AGENT), true);
    /* a1 (restored from Redis) becomes free after a2 */
    assert_int_equal(e2e_agent_state(&d1, "a1",
                                     CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AWAY,
                                     "break"), 0);
    assert_int_equal(e2e_agent_state(&d1, "a1",
                                     CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AVAILABLE,
                                     NULL), 0);
    /* not before it is due, then to a1 */
    o = e2e_wait_offer(&d1, "fu-k1", E2E_T_MS + 2000);
    assert_non_null(o);
    assert_true(obfx_wall_ms() >= t0 + 1500);
    assert_string_equal(o->offer->agent_id, "a1");
    assert_int_equal(o->offer->channel, EMAIL);
    {
        bool of = false;
        for (size_t i = 0; i < o->offer->n_attributes; i++)
            of |= !strcmp(o->offer->attributes[i]->key, "followup_of") &&
                  !strcmp(o->offer->attributes[i]->value, "k1");
        assert_true(of);
    }
    ccr_free(o);
    assert_int_equal(e2e_simple(&d1, BODY(OFFER_ACCEPTED), "fu-k1", "a1"),
                     0);
    wait_followups(&adm, 0, 0, 0);
    assert_int_equal(peek_has(f->r, "fu", 'o', "c|fu-k1"), 0);
    st = e2e_stats(&adm);
    assert_int_equal(st->stats->followups->overdue, 0);
    ccr_free(st);

    e2e_close(&adm);
    e2e_close(&sw);
    e2e_close(&d1);
    e2e_close(&d2);
}

/* ContactCompleted.followup_agent names another agent, a3, not logged in
 * yet: accepted, stored with the follow-up in Redis before the Ack. a3
 * logs in later; after kill -9 the follow-up, when due, is offered to a3
 * although a1 (the contact's agent) and a2 have been free for longer. */
static void test_followup_other_agent_survives_kill(void **state)
{
    struct e2e_env *f = *state;
    struct harness_daemon *d = &f->d;
    struct e2e_client adm, sw, d1, d2, d3;
    char msg[384];
    ccr_envelope *o;
    struct peek *rec;

    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    e2e_open_hello(&sw, d->port, "sw", E2E_ROLE(SWITCH), false);
    e2e_open_hello(&d1, d->port, "desk1", E2E_ROLE(AGENT), false);
    assert_int_equal(login(&d1, "a1"), 0);
    assert_int_equal(e2e_contact(&sw, "k4", "support", VOICE), 0);
    obfx_accept(&d1, "k4", "a1");
    assert_int_equal(complete_to(&d1, "k4", "escalated", 0, NULL, "a3", msg,
                                 sizeof(msg)), 0);
    /* the record names a3, not a1 */
    rec = peek_read(f->r, "fu");
    size_t rlen = 0;
    const char *rd = peek_get(peek_find(rec, 'o', "c|fu-k4"), "data", &rlen);
    assert_non_null(rd);
    assert_non_null(memmem(rd, rlen, "a3", 3));
    assert_null(memmem(rd, rlen, "a1", 3));
    peek_free(rec);
    e2e_open_hello(&d3, d->port, "desk3", E2E_ROLE(AGENT), false);
    assert_int_equal(login(&d3, "a3"), 0);

    harness_daemon_kill(d);
    e2e_close(&adm);
    e2e_close(&sw);
    e2e_close(&d1);
    e2e_close(&d3);
    assert_int_equal(harness_daemon_restart(d, NULL), 0);
    assert_true(harness_daemon_log_contains(d, "serving clients", 5000));
    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    e2e_open_hello_retry(&sw, d->port, "sw", E2E_ROLE(SWITCH), true);
    e2e_open_hello_retry(&d1, d->port, "desk1", E2E_ROLE(AGENT), true);
    e2e_open_hello(&d2, d->port, "desk2", E2E_ROLE(AGENT), false);
    assert_int_equal(login(&d2, "a2"), 0);
    e2e_open_hello_retry(&d3, d->port, "desk3", E2E_ROLE(AGENT), true);
    /* a3 (restored from Redis) becomes free last */
    assert_int_equal(e2e_agent_state(&d3, "a3",
                                     CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AWAY,
                                     "break"), 0);
    assert_int_equal(e2e_agent_state(&d3, "a3",
                                     CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AVAILABLE,
                                     NULL), 0);
    o = e2e_wait_offer(&d3, "fu-k4", E2E_T_MS + 2000);
    assert_non_null(o);
    assert_string_equal(o->offer->agent_id, "a3");
    ccr_free(o);
    assert_int_equal(e2e_simple(&d3, BODY(OFFER_ACCEPTED), "fu-k4", "a3"),
                     0);
    wait_followups(&adm, 0, 0, 0);

    e2e_close(&adm);
    e2e_close(&sw);
    e2e_close(&d1);
    e2e_close(&d2);
    e2e_close(&d3);
}

/* Nobody takes a due follow-up: after overdue_after its priority rises
 * (it goes before an older contact), the supervisors hear
 * FollowupOverdue, Stats counts it -- once. */
static void test_followup_overdue(void **state)
{
    struct e2e_env *f = *state;
    struct harness_daemon *d = &f->d;
    struct e2e_client adm, mon, sw, d1;
    char msg[384];
    ccr_envelope *ev, *st;

    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    e2e_open_hello(&mon, d->port, "mon", E2E_ROLE(MONITOR), false);
    e2e_open_hello(&sw, d->port, "sw", E2E_ROLE(SWITCH), false);
    e2e_open_hello(&d1, d->port, "desk1", E2E_ROLE(AGENT), false);
    assert_int_equal(login(&d1, "a1"), 0);
    assert_int_equal(e2e_contact(&sw, "o1", "support", VOICE), 0);
    obfx_accept(&d1, "o1", "a1");
    assert_int_equal(complete(&d1, "o1", "escalated", 0, NULL, msg,
                              sizeof(msg)), 0);
    assert_int_equal(e2e_simple(&d1, BODY(AGENT_LOGOUT), NULL, "a1"), 0);
    /* an email that arrives before the follow-up is due */
    assert_int_equal(e2e_contact(&sw, "e0", "backoffice", EMAIL), 0);
    wait_followups(&adm, 0, 1, 2000);
    ev = e2e_expect(&mon, BODY(FOLLOWUP_OVERDUE), E2E_T_MS + 3000);
    assert_string_equal(ev->followup_overdue->contact_id, "fu-o1");
    assert_string_equal(ev->followup_overdue->followup_of, "o1");
    assert_string_equal(ev->followup_overdue->agent_id, "a1");
    assert_string_equal(ev->followup_overdue->queue, "backoffice");
    assert_int_equal(ev->followup_overdue->priority, 90);
    assert_true(ev->followup_overdue->due_ms > 0);
    ccr_free(ev);
    st = e2e_stats(&adm);
    assert_int_equal(st->stats->followups->overdue, 1);
    assert_int_equal(st->stats->followups->waiting, 1);
    ccr_free(st);
    /* still routed, and first: its priority rose above the older e0 */
    assert_int_equal(login(&d1, "a3"), 0);
    {
        ccr_envelope *o = e2e_wait_offer(&d1, NULL, E2E_T_MS);
        assert_non_null(o);
        assert_string_equal(o->offer->contact_id, "fu-o1");
        ccr_free(o);
    }
    assert_int_equal(e2e_simple(&d1, BODY(OFFER_ACCEPTED), "fu-o1", "a3"), 0);
    wait_followups(&adm, 0, 0, 0);
    st = e2e_stats(&adm);
    assert_int_equal(st->stats->followups->overdue, 1);
    ccr_free(st);

    e2e_close(&adm);
    e2e_close(&mon);
    e2e_close(&sw);
    e2e_close(&d1);
}

/* With a number, the follow-up is a callback at the time asked: the
 * agent who accepts it has the switch dial the number. */
static void test_followup_callback(void **state)
{
    struct e2e_env *f = *state;
    struct harness_daemon *d = &f->d;
    struct e2e_client adm, sw, d1;
    char msg[384];
    ccr_envelope *env;
    uint64_t due;

    e2e_open_hello_retry(&adm, d->port, "adm", E2E_ROLE(ADMIN), false);
    e2e_open_hello(&sw, d->port, "sw", E2E_ROLE(SWITCH), false);
    e2e_open_hello(&d1, d->port, "desk1", E2E_ROLE(AGENT), false);
    assert_int_equal(login(&d1, "a1"), 0);
    assert_int_equal(e2e_contact(&sw, "c1", "support", VOICE), 0);
    obfx_accept(&d1, "c1", "a1");
    due = obfx_wall_ms() + 1000;
    assert_int_equal(complete(&d1, "c1", "escalated", due, "+15553001", msg,
                              sizeof(msg)), 0);
    wait_followups(&adm, 1, 0, 0);
    env = e2e_wait_offer(&d1, "fu-c1", E2E_T_MS + 1000);
    assert_non_null(env);
    assert_true(obfx_wall_ms() >= due);
    assert_int_equal(env->offer->channel, VOICE);
    ccr_free(env);
    assert_int_equal(e2e_simple(&d1, BODY(OFFER_ACCEPTED), "fu-c1", "a1"),
                     0);
    env = e2e_expect(&sw, BODY(DIAL_REQUEST), E2E_T_MS);
    assert_string_equal(env->dial_request->contact_id, "fu-c1");
    assert_string_equal(env->dial_request->number, "+15553001");
    assert_int_equal(obfx_result(&sw, env->dial_request->dial_id, OUT(HUMAN),
                                 NULL, 0), 0);
    ccr_free(env);
    wait_followups(&adm, 0, 0, 0);

    e2e_close(&adm);
    e2e_close(&sw);
    e2e_close(&d1);
}

/* Bad input: each refused with a clear Error; the contact stays with its
 * agent and no follow-up is made. */
static void test_followup_bad_input(void **state)
{
    struct e2e_env *f = *state;
    struct harness_daemon *d = &f->d;
    struct e2e_client sw, d1;
    char msg[384];

    e2e_open_hello_retry(&sw, d->port, "sw", E2E_ROLE(SWITCH), false);
    e2e_open_hello(&d1, d->port, "desk1", E2E_ROLE(AGENT), false);
    assert_int_equal(login(&d1, "a1"), 0);
    assert_int_equal(e2e_contact(&sw, "fu-x", "support", VOICE),
                     EC(INVALID_FIELD));
    assert_int_equal(e2e_contact(&sw, "b1", "support", VOICE), 0);
    obfx_accept(&d1, "b1", "a1");
    /* a code without a follow-up takes no follow-up fields */
    assert_int_equal(complete(&d1, "b1", "resolved", 0, "+1555", msg,
                              sizeof(msg)), EC(INVALID_FIELD));
    assert_non_null(strstr(msg, "follow-up"));
    assert_int_equal(complete(&d1, "b1", "escalated", obfx_wall_ms() - 60000,
                              NULL, msg, sizeof(msg)), EC(INVALID_FIELD));
    assert_non_null(strstr(msg, "past"));
    /* followup_agent: only with a follow-up, and an id's length */
    assert_int_equal(complete_to(&d1, "b1", "resolved", 0, NULL, "a2", msg,
                                 sizeof(msg)), EC(INVALID_FIELD));
    assert_non_null(strstr(msg, "followup_agent"));
    assert_int_equal(complete_to(&d1, "b1", "escalated", 0, NULL,
                                 "a123456789012345678901234567890123456789"
                                 "012345678901234567890123", msg,
                                 sizeof(msg)), EC(INVALID_FIELD));
    assert_non_null(strstr(msg, "followup_agent is longer"));
    assert_int_equal(peek_n(f->r, "fu", 'o'), 0);
    /* the contact is still the agent's: completed now */
    assert_int_equal(complete(&d1, "b1", "resolved", 0, NULL, msg,
                              sizeof(msg)), 0);
    assert_int_equal(peek_n(f->r, "fu", 'o'), 0);

    e2e_close(&sw);
    e2e_close(&d1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_followup_due_preferred_survives_kill, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_followup_other_agent_survives_kill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_followup_overdue, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_followup_callback, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_followup_bad_input, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
