/* test-dispatch.c -- the dispatch table of engine/dispatch.c through the
 * real ccrouted (tests/harness.c, memory-only store): the checks every
 * request shares (Hello first, role rights, unknown bodies), the field
 * checks of the handlers, the error codes proto/README.md promises, the
 * duplicate rule for a contact id re-sent by another switch, and the
 * order "every event a request causes comes before its Ack".
 *
 * Synchronisation is "wait for this reply, with a timeout" (e2e-util);
 * an event that arrived before a reply is in the client's queue when
 * e2e_call() returns, because e2e_call() stops reading at the reply.
 */
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

#define BODY E2E_BODY
#define EC E2E_EC
#define ROLE E2E_ROLE
#define CST E2E_CST

static const char *config_text =
    "log_level: warn\n"
    "grace: 5s\n"
    "redis: {enabled: false}\n"
    "routing: {offer_timeout: 30s, max_agents: 100, max_contacts: 1000}\n"
    "skills: [sales, support]\n"
    "queues:\n"
    "  - name: sales\n"
    "    skills: {sales: 1}\n"
    "    channels: [voice, chat]\n"
    "  - name: support\n"
    "    skills: {support: 1}\n"
    "    channels: [voice]\n";

static int setup(void **state)
{
    struct harness_daemon *d = calloc(1, sizeof(*d));
    if (!d || harness_daemon_start(d, config_text, NULL) < 0) {
        free(d);
        return -1;
    }
    *state = d;
    return 0;
}

static int teardown(void **state)
{
    struct harness_daemon *d = *state;
    int rc = harness_daemon_stop(d, 5000);
    harness_daemon_cleanup(d);
    free(d);
    return rc == 0 ? 0 : -1;
}

/* ---- request builders: each sends and returns the reply code ---- */

static int call_arrived(struct e2e_client *c, Ccroute__V1__ContactArrived *m)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    env.body_case = BODY(CONTACT_ARRIVED);
    env.contact_arrived = m;
    return e2e_call(c, &env, E2E_T_MS);
}

/* As call_arrived, with the Error's message in msg. */
static int call_arrived_msg(struct e2e_client *c,
                            Ccroute__V1__ContactArrived *m, char *msg,
                            size_t len)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    env.body_case = BODY(CONTACT_ARRIVED);
    env.contact_arrived = m;
    assert_int_equal(ccr_client_send(c->c, &env), 0);
    return e2e_reply_msg(c, env.request_id, E2E_T_MS, msg, len);
}

static int call_login(struct e2e_client *c, Ccroute__V1__AgentLogin *m)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    env.body_case = BODY(AGENT_LOGIN);
    env.agent_login = m;
    return e2e_call(c, &env, E2E_T_MS);
}

static int call_transfer(struct e2e_client *c, const char *cid,
                         const char *to_queue, const char *to_agent)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactTransfer m = CCROUTE__V1__CONTACT_TRANSFER__INIT;
    m.contact_id = (char *)cid;
    m.to_queue = (char *)(to_queue ? to_queue : "");
    m.to_agent = (char *)(to_agent ? to_agent : "");
    env.body_case = BODY(CONTACT_TRANSFER);
    env.contact_transfer = &m;
    return e2e_call(c, &env, E2E_T_MS);
}

static int call_stats(struct e2e_client *c)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__StatsRequest m = CCROUTE__V1__STATS_REQUEST__INIT;
    env.body_case = BODY(STATS_REQUEST);
    env.stats_request = &m;
    int rc = e2e_call(c, &env, E2E_T_MS);
    e2e_flush(c);                     /* the Stats itself */
    return rc;
}

static int hello_raw(struct e2e_client *c, const char *name, int role,
                     int version)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Hello h = CCROUTE__V1__HELLO__INIT;
    h.client_name = (char *)name;
    h.role = (Ccroute__V1__Role)role;
    h.protocol_version = (Ccroute__V1__ProtocolVersion)version;
    env.body_case = BODY(HELLO);
    env.hello = &h;
    return e2e_call(c, &env, E2E_T_MS);
}

#define V1 CCROUTE__V1__PROTOCOL_VERSION__PROTOCOL_VERSION_1

/* ---- the shared checks ---- */

/* Hello first: anything before it is NOT_HELLO and the connection stays
 * usable; a bad Hello is refused field by field; a second Hello is
 * INVALID_STATE. */
static void test_hello_first(void **state)
{
    struct harness_daemon *d = *state;
    struct e2e_client c;

    assert_int_equal(e2e_open(&c, d->port), 0);
    assert_int_equal(call_stats(&c), EC(NOT_HELLO));
    assert_int_equal(e2e_simple(&c, BODY(CONTACT_ABANDONED), "x", NULL),
                     EC(NOT_HELLO));
    assert_int_equal(hello_raw(&c, "sw", ROLE(SWITCH), 2), EC(VERSION));
    assert_int_equal(hello_raw(&c, "sw", ROLE(SWITCH), 0), EC(VERSION));
    assert_int_equal(hello_raw(&c, "", ROLE(SWITCH), V1), EC(MISSING_FIELD));
    assert_int_equal(hello_raw(&c, "sw", 0, V1), EC(INVALID_FIELD));
    assert_int_equal(hello_raw(&c, "sw", 99, V1), EC(INVALID_FIELD));
    char longname[80];
    memset(longname, 'n', 64);
    longname[64] = '\0';
    assert_int_equal(hello_raw(&c, longname, ROLE(SWITCH), V1),
                     EC(INVALID_FIELD));
    assert_int_equal(call_stats(&c), EC(NOT_HELLO));   /* still no session */
    assert_int_equal(hello_raw(&c, "sw", ROLE(SWITCH), V1), 0);
    assert_int_equal(hello_raw(&c, "sw", ROLE(SWITCH), V1),
                     EC(INVALID_STATE));
    assert_int_equal(call_stats(&c), 0);
    e2e_close(&c);
}

/* An empty body, and messages only the engine sends, are UNKNOWN_MESSAGE
 * (before Hello too: the body is checked first); the connection stays. */
static void test_unknown_body(void **state)
{
    struct harness_daemon *d = *state;
    struct e2e_client c;
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Ack ack = CCROUTE__V1__ACK__INIT;
    Ccroute__V1__Offer offer = CCROUTE__V1__OFFER__INIT;

    assert_int_equal(e2e_open(&c, d->port), 0);
    assert_int_equal(e2e_call(&c, &env, E2E_T_MS), EC(UNKNOWN_MESSAGE));
    assert_int_equal(e2e_hello(&c, "sw", ROLE(SWITCH), false, NULL, 0,
                               E2E_T_MS), 0);
    env.body_case = CCROUTE__V1__ENVELOPE__BODY__NOT_SET;
    assert_int_equal(e2e_call(&c, &env, E2E_T_MS), EC(UNKNOWN_MESSAGE));
    env.body_case = BODY(ACK);
    env.ack = &ack;
    assert_int_equal(e2e_call(&c, &env, E2E_T_MS), EC(UNKNOWN_MESSAGE));
    env.body_case = BODY(OFFER);
    env.offer = &offer;
    assert_int_equal(e2e_call(&c, &env, E2E_T_MS), EC(UNKNOWN_MESSAGE));
    assert_int_equal(call_stats(&c), 0);
    e2e_close(&c);
}

/* Role rights (proto/README.md, Session 5). */
static void test_roles(void **state)
{
    struct harness_daemon *d = *state;
    struct e2e_client mon, ag, sw;

    e2e_open_hello(&mon, d->port, "wall", ROLE(MONITOR), false);
    e2e_open_hello(&ag, d->port, "desk", ROLE(AGENT), false);
    e2e_open_hello(&sw, d->port, "pbx", ROLE(SWITCH), false);

    assert_int_equal(e2e_contact(&mon, "m1", "sales", E2E_VOICE),
                     EC(FORBIDDEN));
    assert_int_equal(e2e_agent_login(&mon, "am", "sales", 1, 1, 0),
                     EC(FORBIDDEN));
    assert_int_equal(e2e_simple(&mon, BODY(CONTACT_COMPLETED), "m1", NULL),
                     EC(FORBIDDEN));
    assert_int_equal(call_stats(&mon), 0);

    assert_int_equal(e2e_contact(&ag, "g1", "sales", E2E_VOICE),
                     EC(FORBIDDEN));
    assert_int_equal(e2e_simple(&ag, BODY(CONTACT_ABANDONED), "g1", NULL),
                     EC(FORBIDDEN));
    assert_int_equal(e2e_agent_login(&ag, "a1", "sales", 1, 1, 0), 0);
    /* allowed to the agent role: reaches the handler (not FORBIDDEN) */
    assert_int_equal(e2e_simple(&ag, BODY(CONTACT_COMPLETED), "nope", NULL),
                     EC(UNKNOWN_CONTACT));
    assert_int_equal(call_transfer(&ag, "nope", "sales", NULL),
                     EC(UNKNOWN_CONTACT));

    assert_int_equal(e2e_contact(&sw, "s1", "support", E2E_VOICE), 0);
    assert_int_equal(e2e_agent_login(&sw, "a2", "support", 1, 1, 0), 0);
    e2e_close(&sw);
    e2e_close(&ag);
    e2e_close(&mon);
}

/* Field checks of the handlers, each with its documented code. */
static void test_field_checks(void **state)
{
    struct harness_daemon *d = *state;
    struct e2e_client sw;
    char longid[80];

    memset(longid, 'x', 64);
    longid[64] = '\0';
    e2e_open_hello(&sw, d->port, "pbx", ROLE(SWITCH), false);

    Ccroute__V1__ContactArrived ca = CCROUTE__V1__CONTACT_ARRIVED__INIT;
    ca.queue = "sales";
    assert_int_equal(call_arrived(&sw, &ca), EC(MISSING_FIELD));  /* id */
    ca.contact_id = longid;
    assert_int_equal(call_arrived(&sw, &ca), EC(INVALID_FIELD));
    ca.contact_id = "f1";
    ca.queue = "";
    assert_int_equal(call_arrived(&sw, &ca), EC(MISSING_FIELD));  /* route */
    ca.queue = "nosuch";
    assert_int_equal(call_arrived(&sw, &ca), EC(UNKNOWN_QUEUE));
    ca.queue = "sales";
    ca.priority = 101;
    assert_int_equal(call_arrived(&sw, &ca), EC(INVALID_FIELD));
    ca.priority = 0;
    ca.customer_value = 1001;
    assert_int_equal(call_arrived(&sw, &ca), EC(INVALID_FIELD));
    ca.customer_value = 0;
    ca.channel = (Ccroute__V1__Channel)42;
    assert_int_equal(call_arrived(&sw, &ca), EC(INVALID_FIELD));
    /* a channel the queue does not take: the message names both */
    char why[256];
    ca.queue = "support";
    ca.channel = CCROUTE__V1__CHANNEL__CHANNEL_CHAT;
    assert_int_equal(call_arrived_msg(&sw, &ca, why, sizeof(why)),
                     EC(INVALID_FIELD));
    assert_non_null(strstr(why, "queue support does not take channel "
                                "CHANNEL_CHAT"));
    ca.queue = "sales";
    ca.channel = E2E_VOICE;
    Ccroute__V1__SkillRequirement sk = CCROUTE__V1__SKILL_REQUIREMENT__INIT;
    Ccroute__V1__SkillRequirement *skp = &sk;
    ca.queue = "";
    ca.n_skills = 1;
    ca.skills = &skp;
    sk.skill = "";
    assert_int_equal(call_arrived(&sw, &ca), EC(MISSING_FIELD));
    sk.skill = "sales";
    sk.min_level = 11;
    assert_int_equal(call_arrived(&sw, &ca), EC(INVALID_FIELD));
    sk.skill = "juggling";
    sk.min_level = 1;
    assert_int_equal(call_arrived_msg(&sw, &ca, why, sizeof(why)),
                     EC(UNKNOWN_SKILL));
    assert_non_null(strstr(why, "skill \"juggling\" is not known"));
    /* none of the refused ones exists */
    assert_int_equal(e2e_simple(&sw, BODY(CONTACT_ABANDONED), "f1", NULL),
                     EC(UNKNOWN_CONTACT));

    Ccroute__V1__AgentLogin al = CCROUTE__V1__AGENT_LOGIN__INIT;
    Ccroute__V1__AgentSkill as = CCROUTE__V1__AGENT_SKILL__INIT;
    Ccroute__V1__AgentSkill *asp = &as;
    assert_int_equal(call_login(&sw, &al), EC(MISSING_FIELD));     /* id */
    al.agent_id = "fa";
    al.n_skills = 1;
    al.skills = &asp;
    as.skill = "sales";
    as.level = 11;
    assert_int_equal(call_login(&sw, &al), EC(INVALID_FIELD));
    as.level = 1;
    char *queues[] = { "nosuch" };
    al.n_queues = 1;
    al.queues = queues;
    assert_int_equal(call_login(&sw, &al), EC(UNKNOWN_QUEUE));
    al.n_queues = 0;
    assert_int_equal(call_login(&sw, &al), 0);
    assert_int_equal(call_login(&sw, &al), EC(AGENT_EXISTS));

    assert_int_equal(e2e_agent_state(&sw, "fa",
        CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_UNSPECIFIED, NULL),
        EC(MISSING_FIELD));
    assert_int_equal(e2e_agent_state(&sw, "fa", (Ccroute__V1__AgentStatus)9,
                                     NULL), EC(INVALID_FIELD));
    assert_int_equal(e2e_agent_state(&sw, "fa",
        CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_WRAPUP_DONE, NULL),
        EC(INVALID_STATE));                 /* not in wrap-up */
    assert_int_equal(e2e_agent_state(&sw, "nobody",
        CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AWAY, "x"),
        EC(UNKNOWN_AGENT));
    assert_int_equal(e2e_simple(&sw, BODY(AGENT_LOGOUT), NULL, "nobody"),
                     EC(UNKNOWN_AGENT));
    assert_int_equal(e2e_simple(&sw, BODY(AGENT_LOGOUT), NULL, ""),
                     EC(MISSING_FIELD));

    assert_int_equal(call_transfer(&sw, "", "sales", NULL),
                     EC(MISSING_FIELD));
    assert_int_equal(call_transfer(&sw, "t1", NULL, NULL),
                     EC(MISSING_FIELD));
    assert_int_equal(call_transfer(&sw, "t1", "sales", "fa"),
                     EC(INVALID_FIELD));
    assert_int_equal(call_transfer(&sw, "t1", "nosuch", NULL),
                     EC(UNKNOWN_QUEUE));
    e2e_close(&sw);
}

/* INVALID_STATE where the contact's state forbids the request: completing
 * a waiting contact, transferring an offered one, accepting an offer that
 * is not pending, abandoning an assigned one (complete it instead). */
static void test_invalid_state(void **state)
{
    struct harness_daemon *d = *state;
    struct e2e_client sw, desk;

    e2e_open_hello(&sw, d->port, "pbx", ROLE(SWITCH), false);
    e2e_open_hello(&desk, d->port, "desk", ROLE(AGENT), false);
    assert_int_equal(e2e_contact(&sw, "w1", "support", E2E_VOICE), 0);
    assert_int_equal(e2e_simple(&sw, BODY(CONTACT_COMPLETED), "w1", NULL),
                     EC(INVALID_STATE));                /* waiting */

    assert_int_equal(e2e_agent_login(&desk, "a1", "sales", 1, 1, 0), 0);
    assert_int_equal(e2e_contact(&sw, "o1", "sales", E2E_VOICE), 0);
    ccr_envelope *o = e2e_wait_offer(&desk, "o1", E2E_T_MS);
    assert_non_null(o);
    ccr_free(o);
    assert_int_equal(call_transfer(&sw, "o1", "support", NULL),
                     EC(INVALID_STATE));                /* offered */
    assert_int_equal(e2e_simple(&desk, BODY(OFFER_ACCEPTED), "w1", "a1"),
                     EC(INVALID_STATE));                /* not offered */
    assert_int_equal(e2e_simple(&desk, BODY(OFFER_ACCEPTED), "o1", "zz"),
                     EC(UNKNOWN_AGENT));
    assert_int_equal(e2e_simple(&desk, BODY(OFFER_ACCEPTED), "o1", "a1"), 0);
    assert_int_equal(e2e_simple(&sw, BODY(CONTACT_ABANDONED), "o1", NULL),
                     EC(INVALID_STATE));                /* assigned */
    assert_int_equal(e2e_simple(&desk, BODY(CONTACT_COMPLETED), "o1", NULL),
                     0);
    e2e_close(&desk);
    e2e_close(&sw);
}

/* A contact id re-sent by ANOTHER switch is a duplicate: not routed
 * again, answered with a ContactQueued carrying the request id and the
 * current status, then Ack; the contact stays with its first owner (its
 * events keep going there) and is counted once. */
static void test_duplicate_from_other_switch(void **state)
{
    struct harness_daemon *d = *state;
    struct e2e_client s1, s2, desk, mon;

    e2e_open_hello(&s1, d->port, "pbx-1", ROLE(SWITCH), false);
    e2e_open_hello(&s2, d->port, "pbx-2", ROLE(SWITCH), false);
    e2e_open_hello(&mon, d->port, "wall", ROLE(MONITOR), false);
    assert_int_equal(e2e_contact(&s1, "dup", "support", E2E_VOICE), 0);
    e2e_flush(&s1);

    uint64_t rid = e2e_send_contact(&s2, "dup", "support", E2E_VOICE);
    assert_true(rid != 0);
    ccr_envelope *ack = e2e_wait(&s2, BODY(ACK), rid, E2E_T_MS);
    assert_non_null(ack);
    ccr_free(ack);
    ccr_envelope *cq = e2e_wait(&s2, BODY(CONTACT_QUEUED), rid, 0);
    assert_non_null(cq);                     /* the reply, before its Ack */
    assert_string_equal(cq->contact_queued->contact_id, "dup");
    assert_int_equal(cq->contact_queued->status, CST(QUEUED));
    ccr_free(cq);

    ccr_envelope *st = e2e_stats(&mon);
    for (size_t i = 0; i < st->stats->n_queues; i++)
        if (!strcmp(st->stats->queues[i]->queue, "support"))
            assert_int_equal(st->stats->queues[i]->offered, 1);
    assert_int_equal(st->stats->contacts_waiting, 1);
    ccr_free(st);

    /* events still go to the first switch: an agent takes it */
    e2e_open_hello(&desk, d->port, "desk", ROLE(AGENT), false);
    assert_int_equal(e2e_agent_login(&desk, "ad", "support", 1, 1, 0), 0);
    ccr_envelope *o = e2e_wait_offer(&desk, "dup", E2E_T_MS);
    assert_non_null(o);
    ccr_free(o);
    assert_int_equal(e2e_simple(&desk, BODY(OFFER_ACCEPTED), "dup", "ad"), 0);
    ccr_envelope *as = e2e_wait(&s1, BODY(CONTACT_ASSIGNED), 0, E2E_T_MS);
    assert_non_null(as);
    ccr_free(as);
    assert_null(e2e_wait(&s2, BODY(CONTACT_ASSIGNED), 0, 0));
    /* a fence on s2: had it been sent there, it would be queued by now */
    assert_int_equal(call_stats(&s2), 0);
    assert_null(e2e_wait(&s2, BODY(CONTACT_ASSIGNED), 0, 0));
    e2e_close(&desk);
    e2e_close(&mon);
    e2e_close(&s2);
    e2e_close(&s1);
}

/* Every event a request causes comes before that request's Ack on the
 * requester's connection: e2e_call() stops reading at the Ack, so an
 * event that came after it would not be queued yet. */
static void test_events_before_ack(void **state)
{
    struct harness_daemon *d = *state;
    struct e2e_client sw, desk;
    ccr_envelope *e;

    e2e_open_hello(&sw, d->port, "pbx", ROLE(SWITCH), false);
    e2e_open_hello(&desk, d->port, "desk", ROLE(SWITCH), false);

    /* ContactArrived -> ContactQueued (event, id 0) before the Ack */
    assert_int_equal(e2e_contact(&sw, "e1", "sales", E2E_VOICE), 0);
    e = e2e_wait(&sw, BODY(CONTACT_QUEUED), 0, 0);
    assert_non_null(e);
    assert_int_equal(e->request_id, 0);
    assert_string_equal(e->contact_queued->contact_id, "e1");
    ccr_free(e);

    /* AgentLogin -> Offer of the waiting contact before the Ack */
    assert_int_equal(e2e_agent_login(&desk, "ea", "sales", 1, 1, 0), 0);
    e = e2e_wait_offer(&desk, "e1", 0);
    assert_non_null(e);
    ccr_free(e);

    /* OfferAccepted -> ContactAssigned before the Ack */
    assert_int_equal(e2e_simple(&desk, BODY(OFFER_ACCEPTED), "e1", "ea"), 0);
    e = e2e_wait(&desk, BODY(CONTACT_ASSIGNED), 0, 0);
    assert_non_null(e);
    ccr_free(e);

    /* a second contact waits (ea is busy); a second agent gets it */
    assert_int_equal(e2e_contact(&sw, "e2", "sales", E2E_VOICE), 0);
    assert_int_equal(e2e_agent_login(&desk, "eb", "sales", 1, 1, 0), 0);
    e = e2e_wait_offer(&desk, "e2", 0);
    assert_non_null(e);
    ccr_free(e);

    /* AgentLogout -> OfferRevoked before the Ack */
    assert_int_equal(e2e_simple(&desk, BODY(AGENT_LOGOUT), NULL, "eb"), 0);
    e = e2e_wait(&desk, BODY(OFFER_REVOKED), 0, 0);
    assert_non_null(e);
    assert_int_equal(e->offer_revoked->reason,
                     CCROUTE__V1__REVOKE_REASON__REVOKE_REASON_AGENT_LOGOUT);
    ccr_free(e);
    e2e_close(&desk);
    e2e_close(&sw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hello_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_field_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_from_other_switch,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_before_ack, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
