/* test-protocol.c -- end-to-end tests of what the wire says about routing
 * decisions (proto/README.md): ContactQueued once per wait, Offer.channel,
 * AgentStats statuses, unservable contacts, Stats of skills-only contacts,
 * the longest wait of a transferred contact.
 *
 * Each test starts its own ccrouted (tests/harness.c, memory-only store)
 * and talks to it over loopback with the e2e helpers (tests/e2e-util.h).
 * "Exactly one ContactQueued" is checked with a fence: the owner's next
 * StatsRequest is answered after every event of the earlier requests and
 * timers was written to it, so once its Stats is in, every ContactQueued
 * an event caused is in the client's queue. Nothing sleeps; waits for
 * timer-driven events are bounded waits on that event.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e-util.h"

#define T_MS E2E_T_MS
#define CQ E2E_BODY(CONTACT_QUEUED)
#define AST(x) CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_##x

static const char *config =
    "log_level: info\n"
    "redis: {enabled: false}\n"
    "grace: 5s\n"
    "routing: {offer_timeout: 20s, max_agents: 100, max_contacts: 1000}\n"
    "skills: [sales, support, fast, \"product:sales\"]\n"
    "queues:\n"
    "  - name: sales\n"
    "    skills: {sales: 1}\n"
    "    channels: [voice, chat]\n"
    "  - name: fast\n"
    "    skills: {fast: 1}\n"
    "    offer_timeout: 300ms\n"
    "  - name: stepq\n"
    "    skills: {sales: 5}\n"
    "    channels: [voice, chat]\n"
    "    steps:\n"
    "      - {after: 200ms, lower: {skill: sales, level: 4}}\n"
    "  - name: waitq\n"
    "    skills: {support: 5}\n"
    "    max_wait: 200ms\n"
    "    overflow: other\n"
    "  - name: other\n"
    "    skills: {support: 9}\n"
    "  - name: sales_en\n"
    "    skills: {\"product:sales\": 5}\n"
    "    steps:\n"
    "      - {after: 1h, lower: {skill: \"product:sales\", level: 1}}\n";

struct fx {
    struct harness_daemon d;
    struct e2e_client sw, desk;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f || harness_daemon_start(&f->d, config, NULL) < 0) {
        free(f);
        return -1;
    }
    e2e_open_hello(&f->sw, f->d.port, "switch", E2E_ROLE(SWITCH), false);
    e2e_open_hello(&f->desk, f->d.port, "desk", E2E_ROLE(AGENT), false);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    e2e_close(&f->sw);
    e2e_close(&f->desk);
    int rc = harness_daemon_stop(&f->d, 5000);
    if (rc != 0) {
        fprintf(stderr, "ccrouted exit status %d\n", rc);
        harness_daemon_dump_log(&f->d);
    }
    free(f);
    return rc == 0 ? 0 : -1;
}

/* ---- helpers ---- */

/* Fences the owner's connection (a Stats round trip), then takes every
 * queued ContactQueued about `cid`: returns how many, the last one in
 * *last (caller frees; NULL when none). Each must be a waiting contact at
 * a 1-based position. */
static int take_queued(struct e2e_client *e, const char *cid,
                       ccr_envelope **last)
{
    ccr_free(e2e_stats(e));
    int n = 0;
    *last = NULL;
    for (int i = 0; i < e->n;) {
        ccr_envelope *env = e->q[i];
        if ((int)env->body_case != CQ ||
            strcmp(env->contact_queued->contact_id, cid) != 0) {
            i++;
            continue;
        }
        memmove(&e->q[i], &e->q[i + 1], (size_t)(e->n - i - 1) *
                                            sizeof(e->q[0]));
        e->n--;
        n++;
        assert_int_equal(env->contact_queued->status, E2E_CST(QUEUED));
        assert_true(env->contact_queued->position >= 1);
        if (*last)
            ccr_free(*last);
        *last = env;
    }
    return n;
}

/* take_queued() that must find exactly one; returns it (caller frees). */
static ccr_envelope *one_queued(struct e2e_client *e, const char *cid)
{
    ccr_envelope *last;
    int n = take_queued(e, cid, &last);
    if (n != 1)
        fail_msg("%d ContactQueued for %s, want exactly 1", n, cid);
    return last;
}

/* Waits (bounded) for a ContactQueued about `cid` caused by a timer. */
static ccr_envelope *wait_queued(struct e2e_client *e, const char *cid)
{
    long long deadline = harness_now_ms() + T_MS;
    for (;;) {
        for (int i = 0; i < e->n; i++) {
            ccr_envelope *env = e->q[i];
            if ((int)env->body_case == CQ &&
                !strcmp(env->contact_queued->contact_id, cid)) {
                memmove(&e->q[i], &e->q[i + 1], (size_t)(e->n - i - 1) *
                                                    sizeof(e->q[0]));
                e->n--;
                return env;
            }
        }
        long long left = deadline - harness_now_ms();
        if (left <= 0 || e2e_pump(e, (int)left) < 0)
            fail_msg("no ContactQueued for %s", cid);
    }
}

static void offer_to(struct e2e_client *desk, const char *cid,
                     const char *aid, int channel)
{
    ccr_envelope *o = e2e_wait_offer(desk, cid, T_MS);
    assert_non_null(o);
    assert_string_equal(o->offer->agent_id, aid);
    if (channel)
        assert_int_equal(o->offer->channel, channel);
    ccr_free(o);
}

static int transfer(struct e2e_client *e, const char *cid, const char *queue)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactTransfer m = CCROUTE__V1__CONTACT_TRANSFER__INIT;
    m.contact_id = (char *)cid;
    m.to_queue = (char *)queue;
    env.body_case = E2E_BODY(CONTACT_TRANSFER);
    env.contact_transfer = &m;
    return e2e_call(e, &env, T_MS);
}

/* A skills-only contact on `ch` needing skill at level. */
static int skills_contact(struct e2e_client *e, const char *cid,
                          const char *skill, unsigned level, int ch)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactArrived m = CCROUTE__V1__CONTACT_ARRIVED__INIT;
    Ccroute__V1__SkillRequirement r = CCROUTE__V1__SKILL_REQUIREMENT__INIT;
    Ccroute__V1__SkillRequirement *rp = &r;
    r.skill = (char *)skill;
    r.min_level = level;
    m.contact_id = (char *)cid;
    m.channel = ch;
    m.skills = &rp;
    m.n_skills = 1;
    env.body_case = E2E_BODY(CONTACT_ARRIVED);
    env.contact_arrived = &m;
    return e2e_call(e, &env, T_MS);
}

static const Ccroute__V1__QueueStats *stats_queue(const ccr_envelope *st,
                                                  const char *name)
{
    for (size_t i = 0; i < st->stats->n_queues; i++)
        if (!strcmp(st->stats->queues[i]->queue, name))
            return st->stats->queues[i];
    return NULL;
}

/* ---- tests ---- */

/* Rejected, revoked (logout) and expired offers each put the contact back
 * with exactly one ContactQueued to its owner. */
static void test_queued_after_answers(void **state)
{
    struct fx *f = *state;
    ccr_envelope *cq;
    assert_int_equal(e2e_contact(&f->sw, "c1", "sales", E2E_VOICE), 0);
    cq = one_queued(&f->sw, "c1");                   /* arrival */
    ccr_free(cq);
    assert_int_equal(e2e_agent_login(&f->desk, "a1", "sales", 3, 1, 0), 0);
    offer_to(&f->desk, "c1", "a1", 0);
    assert_int_equal(e2e_simple(&f->desk, E2E_BODY(OFFER_REJECTED), "c1",
                                "a1"), 0);
    cq = one_queued(&f->sw, "c1");                   /* rejected */
    assert_int_equal(cq->contact_queued->position, 1);
    assert_string_equal(cq->contact_queued->queue, "sales");
    ccr_free(cq);

    assert_int_equal(e2e_agent_login(&f->desk, "a2", "sales", 3, 1, 0), 0);
    offer_to(&f->desk, "c1", "a2", 0);
    assert_int_equal(e2e_simple(&f->desk, E2E_BODY(AGENT_LOGOUT), NULL,
                                "a2"), 0);
    ccr_envelope *rv = e2e_wait(&f->sw, E2E_BODY(OFFER_REVOKED), 0, T_MS);
    assert_non_null(rv);
    assert_int_equal(rv->offer_revoked->reason,
                     CCROUTE__V1__REVOKE_REASON__REVOKE_REASON_AGENT_LOGOUT);
    ccr_free(rv);
    cq = one_queued(&f->sw, "c1");                   /* revoked */
    assert_int_equal(cq->contact_queued->position, 1);
    ccr_free(cq);

    assert_int_equal(e2e_contact(&f->sw, "c2", "fast", E2E_VOICE), 0);
    ccr_free(one_queued(&f->sw, "c2"));
    assert_int_equal(e2e_agent_login(&f->desk, "a3", "fast", 1, 1, 0), 0);
    offer_to(&f->desk, "c2", "a3", 0);
    rv = e2e_wait(&f->sw, E2E_BODY(OFFER_REVOKED), 0, T_MS);
    assert_non_null(rv);
    assert_string_equal(rv->offer_revoked->contact_id, "c2");
    assert_int_equal(rv->offer_revoked->reason,
                     CCROUTE__V1__REVOKE_REASON__REVOKE_REASON_TIMEOUT);
    ccr_free(rv);
    cq = one_queued(&f->sw, "c2");                   /* expired */
    assert_int_equal(cq->contact_queued->position, 1);
    ccr_free(cq);
}

/* An expansion step, an overflow and a transfer: one ContactQueued each,
 * 1-based, naming the queue the contact waits in now. */
static void test_queued_after_moves(void **state)
{
    struct fx *f = *state;
    ccr_envelope *cq, *rest;
    assert_int_equal(e2e_contact(&f->sw, "s1", "stepq", E2E_VOICE), 0);
    ccr_free(wait_queued(&f->sw, "s1"));             /* arrival */
    cq = wait_queued(&f->sw, "s1");                  /* the step */
    assert_int_equal(cq->contact_queued->position, 1);
    assert_string_equal(cq->contact_queued->queue, "stepq");
    ccr_free(cq);
    assert_int_equal(take_queued(&f->sw, "s1", &rest), 0);

    assert_int_equal(e2e_contact(&f->sw, "w1", "waitq", E2E_VOICE), 0);
    ccr_free(wait_queued(&f->sw, "w1"));             /* arrival */
    cq = wait_queued(&f->sw, "w1");                  /* overflow */
    assert_int_equal(cq->contact_queued->position, 1);
    assert_string_equal(cq->contact_queued->queue, "other");
    ccr_free(cq);
    assert_int_equal(take_queued(&f->sw, "w1", &rest), 0);

    assert_int_equal(e2e_contact(&f->sw, "t0", "sales", E2E_VOICE), 0);
    assert_int_equal(transfer(&f->sw, "w1", "sales"), 0);
    ccr_free(one_queued(&f->sw, "t0"));
    cq = one_queued(&f->sw, "w1");                   /* transfer */
    /* w1 arrived before t0 and keeps its arrival: first in line */
    assert_int_equal(cq->contact_queued->position, 1);
    assert_string_equal(cq->contact_queued->queue, "sales");
    ccr_free(cq);
}

/* A transferred contact's wait counts from its arrival in the target
 * queue's longest wait. */
static void test_transfer_longest_wait(void **state)
{
    struct fx *f = *state;
    assert_int_equal(e2e_contact(&f->sw, "c1", "other", E2E_VOICE), 0);
    long long deadline = harness_now_ms() + T_MS;
    uint32_t waited = 0;
    while (waited < 300) {               /* poll Stats until it has waited */
        ccr_envelope *st = e2e_stats(&f->sw);
        waited = stats_queue(st, "other")->longest_wait_ms;
        ccr_free(st);
        assert_true(harness_now_ms() < deadline);
    }
    assert_int_equal(transfer(&f->sw, "c1", "sales"), 0);
    ccr_envelope *st = e2e_stats(&f->sw);
    const Ccroute__V1__QueueStats *qs = stats_queue(st, "sales");
    assert_non_null(qs);
    assert_int_equal(qs->waiting, 1);
    assert_true(qs->longest_wait_ms >= waited);
    assert_int_equal(stats_queue(st, "other")->waiting, 0);
    ccr_free(st);
}

/* A contact sent without a channel is a voice contact, and its Offer
 * says VOICE; a chat contact's says CHAT. */
static void test_offer_channel(void **state)
{
    struct fx *f = *state;
    assert_int_equal(e2e_agent_login(&f->desk, "a1", "sales", 3, 1, 0), 0);
    assert_int_equal(e2e_contact(&f->sw, "c1", "sales",
                                 CCROUTE__V1__CHANNEL__CHANNEL_UNSPECIFIED), 0);
    offer_to(&f->desk, "c1", "a1", E2E_VOICE);
    assert_int_equal(e2e_agent_login(&f->desk, "a2", "sales", 3, 0, 2), 0);
    assert_int_equal(e2e_contact(&f->sw, "c2", "sales", E2E_CHAT), 0);
    offer_to(&f->desk, "c2", "a2", E2E_CHAT);
}

/* AgentStats: AVAILABLE while free, OFFERED with an offer out, ON_CONTACT
 * with a contact (even with chat capacity left). */
static void test_agent_stats_busy(void **state)
{
    struct fx *f = *state;
    assert_int_equal(e2e_agent_login(&f->desk, "a1", "sales", 3, 0, 2), 0);
    ccr_envelope *st = e2e_stats(&f->desk);
    assert_int_equal(e2e_stats_agent(st, "a1")->status, AST(AVAILABLE));
    ccr_free(st);
    assert_int_equal(e2e_contact(&f->sw, "c1", "sales", E2E_CHAT), 0);
    offer_to(&f->desk, "c1", "a1", E2E_CHAT);
    st = e2e_stats(&f->desk);
    assert_int_equal(e2e_stats_agent(st, "a1")->status, AST(OFFERED));
    assert_int_equal(e2e_stats_agent(st, "a1")->active_contacts, 1);
    ccr_free(st);
    assert_int_equal(e2e_simple(&f->desk, E2E_BODY(OFFER_ACCEPTED), "c1",
                                "a1"), 0);
    st = e2e_stats(&f->desk);
    assert_int_equal(e2e_stats_agent(st, "a1")->status, AST(ON_CONTACT));
    ccr_free(st);
}

/* A contact no logged-in agent could ever serve: ContactQueued says so,
 * Stats counts it per queue; an agent that matches at the widest level
 * ends it. Skills-only contacts count in contacts_waiting and show in
 * Stats under their stable label. */
static void test_unservable_and_skills_stats(void **state)
{
    struct fx *f = *state;
    assert_int_equal(e2e_contact(&f->sw, "u1", "sales_en", E2E_VOICE), 0);
    ccr_envelope *cq = one_queued(&f->sw, "u1");
    assert_true(cq->contact_queued->unservable);
    ccr_free(cq);
    assert_int_equal(skills_contact(&f->sw, "k1", "support", 3, E2E_CHAT), 0);
    cq = one_queued(&f->sw, "k1");
    assert_true(cq->contact_queued->unservable);
    ccr_free(cq);

    ccr_envelope *st = e2e_stats(&f->sw);
    assert_int_equal(st->stats->contacts_waiting, 2);
    const Ccroute__V1__QueueStats *qs = stats_queue(st, "sales_en");
    assert_non_null(qs);
    assert_int_equal(qs->waiting, 1);
    assert_int_equal(qs->contacts_unservable, 1);
    qs = stats_queue(st, "~chat/support@3");
    assert_non_null(qs);
    assert_int_equal(qs->waiting, 1);
    assert_int_equal(qs->contacts_unservable, 1);
    assert_int_equal(stats_queue(st, "sales")->contacts_unservable, 0);
    ccr_free(st);

    /* product:sales 1 qualifies only after the 1h step: not offered now,
     * but no longer unservable */
    assert_int_equal(e2e_agent_login(&f->desk, "a1", "product:sales", 1, 1,
                                     0), 0);
    st = e2e_stats(&f->sw);
    assert_int_equal(stats_queue(st, "sales_en")->contacts_unservable, 0);
    assert_int_equal(stats_queue(st, "sales_en")->waiting, 1);
    ccr_free(st);
    assert_int_equal(e2e_simple(&f->desk, E2E_BODY(AGENT_LOGOUT), NULL,
                                "a1"), 0);
    st = e2e_stats(&f->sw);
    assert_int_equal(stats_queue(st, "sales_en")->contacts_unservable, 1);
    ccr_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_queued_after_answers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_queued_after_moves, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_transfer_longest_wait, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_offer_channel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_stats_busy, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unservable_and_skills_stats,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
