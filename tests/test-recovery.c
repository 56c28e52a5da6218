/* test-recovery.c -- end to end: the real ccrouted on a real redis-server
 * (tests/harness.c), crashed with SIGKILL and restarted.
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

#define NCONTACTS 40

static void config_text(char *buf, size_t len, int redis_port,
                        const char *advertise)
{
    snprintf(buf, len,
             "listen: 127.0.0.1:0\n"
             "log_level: info\n"
             "redis:\n"
             "  enabled: true\n"
             "  port: %d\n"
             "  tenant: rt\n"
             "  lease: 600ms\n"
             "  advertise: %s\n"
             "queues:\n"
             "  - name: q1\n",
             redis_port, advertise);
}

static int contact_arrived(struct ccr_client *c, const char *id,
                           int *status_out)
{
    Ccroute__V1__Envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactArrived ca = CCROUTE__V1__CONTACT_ARRIVED__INIT;
    ca.contact_id = (char *)id;
    ca.channel = CCROUTE__V1__CHANNEL__CHANNEL_VOICE;
    ca.queue = "q1";
    env.body_case = CCROUTE__V1__ENVELOPE__BODY_CONTACT_ARRIVED;
    env.contact_arrived = &ca;
    ccr_envelope *reply = NULL;
    int rc = ccr_client_call(c, &env, 5000, NULL, NULL, &reply);
    if (rc < 0)
        return rc;
    int ok = reply->body_case == CCROUTE__V1__ENVELOPE__BODY_ACK ? 0 : 1;
    if (status_out && reply->body_case == CCROUTE__V1__ENVELOPE__BODY_ERROR)
        *status_out = reply->error->code;
    ccr_free(reply);
    return ok;
}

static long long rcount(int port, const char *cmd)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    assert_non_null(c);
    redisReply *r = redisCommand(c, cmd);
    assert_non_null(r);
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    redisFree(c);
    return v;
}

/* Every acknowledged contact is in Redis when the engine dies, and the
 * restarted engine loads all of them (none lost, none twice). */
static void test_crash_recovery(void **state)
{
    struct harness_redis rs;
    assert_int_equal(harness_redis_start(&rs), 0);
    char cfg[1024];
    config_text(cfg, sizeof(cfg), rs.port, "127.0.0.1:1");
    struct harness_daemon d;
    assert_int_equal(harness_daemon_start(&d, cfg, NULL), 0);
    assert_true(harness_daemon_log_contains(&d, "serving clients", 5000));

    struct ccr_client *c = NULL;
    assert_int_equal(ccr_client_connect("127.0.0.1", d.port, &c), 0);
    assert_int_equal(ccr_client_hello(c, "sw1",
                                      CCROUTE__V1__ROLE__ROLE_SWITCH, 0,
                                      5000), 0);
    char id[32];
    for (int i = 0; i < NCONTACTS; i++) {
        snprintf(id, sizeof(id), "c%03d", i);
        assert_int_equal(contact_arrived(c, id, NULL), 0);
    }
    /* acknowledged = in Redis (durability: redis) */
    assert_int_equal(rcount(rs.port, "ZCARD ccr:{rt}:contacts"), NCONTACTS);
    harness_daemon_kill(&d);
    ccr_client_close(c);

    assert_int_equal(harness_daemon_restart(&d, NULL), 0);
    char want[64];
    snprintf(want, sizeof(want), "loaded 0 agents, %d contacts", NCONTACTS);
    bool loaded = harness_daemon_log_contains(&d, want, 5000);
    if (!loaded)
        harness_daemon_dump_log(&d);
    assert_true(loaded);
    assert_true(harness_daemon_log_contains(&d, "serving clients", 5000));
    assert_int_equal(rcount(rs.port, "ZCARD ccr:{rt}:contacts"), NCONTACTS);

    /* every contact is known again: a repeated arrival is answered with
     * its state, not routed twice */
    assert_int_equal(ccr_client_connect("127.0.0.1", d.port, &c), 0);
    assert_int_equal(ccr_client_hello(c, "sw1",
                                      CCROUTE__V1__ROLE__ROLE_SWITCH, 1,
                                      5000), 0);
    for (int i = 0; i < NCONTACTS; i++) {
        snprintf(id, sizeof(id), "c%03d", i);
        assert_int_equal(contact_arrived(c, id, NULL), 0);
    }
    assert_int_equal(rcount(rs.port, "ZCARD ccr:{rt}:contacts"), NCONTACTS);
    ccr_client_close(c);
    harness_daemon_stop(&d, 5000);
    harness_redis_stop(&rs);
}

/* ---- crash recovery with agents ---- */

#define NA 5
#define NC 12
#define NBURST 6

static void agents_config(char *buf, size_t len, int redis_port)
{
    snprintf(buf, len,
             "log_level: info\n"
             "grace: 60s\n"
             "redis:\n"
             "  enabled: true\n"
             "  port: %d\n"
             "  tenant: ra\n"
             "  lease: 600ms\n"
             "routing: {offer_timeout: 60s, max_no_answer: 100}\n"
             "skills: [sales]\n"
             "queues:\n"
             "  - name: sales\n"
             "    skills: {sales: 1}\n"
             "    channels: [voice, chat]\n",
             redis_port);
}

static int rstate(redisContext *r, const char *cid, char *agent, size_t alen)
{
    char key[128], v[16];
    snprintf(key, sizeof(key), "ccr:{ra}:contact:%s", cid);
    e2e_rhget(r, key, "agent", agent, alen);
    return e2e_rhget(r, key, "state", v, sizeof(v)) ? atoi(v) : 0;
}

static bool rlive(redisContext *r, const char *cid)
{
    redisReply *rep = redisCommand(r, "ZSCORE ccr:{ra}:contacts %s", cid);
    assert_non_null(rep);
    bool in = rep->type == REDIS_REPLY_STRING;
    freeReplyObject(rep);
    char key[128];
    snprintf(key, sizeof(key), "ccr:{ra}:contact:%s", cid);
    assert_int_equal(e2e_rint(r, "EXISTS %s", key), in ? 1 : 0);
    return in;
}

/* Agents logged in with skills (one away), contacts queued, offered,
 * assigned and completed, a burst of arrivals in flight: kill -9, restart
 * on the same Redis. Every acknowledged contact is back exactly once in
 * its state, the agents with theirs. */
static struct harness_redis agents_rs;
static struct harness_daemon agents_d;

/* Stops what a failed test_crash_recovery_agents left running. */
static int agents_teardown(void **state)
{
    harness_daemon_kill(&agents_d);
    harness_daemon_cleanup(&agents_d);
    harness_redis_stop(&agents_rs);
    memset(&agents_d, 0, sizeof(agents_d));
    memset(&agents_rs, 0, sizeof(agents_rs));
    return 0;
}

static void test_crash_recovery_agents(void **state)
{
    struct e2e_client sw, mon, desks[NA];
    char cfg[1024], agent[32];
    static char cids[NC + NBURST][32], offered_to[NC + NBURST][32];
    static char assigned_to[NC + NBURST][32];
    bool acked[NC + NBURST] = { 0 }, completed[NC + NBURST] = { 0 };
    uint64_t burst_req[NBURST];

    assert_int_equal(harness_redis_start(&agents_rs), 0);
    agents_config(cfg, sizeof(cfg), agents_rs.port);
    assert_int_equal(harness_daemon_start(&agents_d, cfg, NULL), 0);
    assert_true(harness_daemon_log_contains(&agents_d, "serving clients",
                                            5000));
    redisContext *r = e2e_redis(agents_rs.port);

    e2e_open_hello(&sw, agents_d.port, "pbx-1", E2E_ROLE(SWITCH), false);
    for (int i = 0; i < NA; i++) {
        char name[32], aid[16];
        snprintf(name, sizeof(name), "desk-%d", i + 1);
        snprintf(aid, sizeof(aid), "a%d", i + 1);
        e2e_open_hello(&desks[i], agents_d.port, name, E2E_ROLE(AGENT),
                       false);
        assert_int_equal(e2e_agent_login(&desks[i], aid, "sales", 1 + i, 1,
                                         0), 0);
    }
    assert_int_equal(e2e_agent_state(
                         &desks[NA - 1], "a5",
                         CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AWAY,
                         "lunch"), 0);
    for (int i = 0; i < NC; i++) {
        snprintf(cids[i], sizeof(cids[i]), "k%02d", i);
        assert_int_equal(e2e_contact(&sw, cids[i], "sales", E2E_VOICE), 0);
        acked[i] = true;
    }
    /* four agents available: four offers; accept two, complete one of
     * those (its agent is then offered the next contact) */
    int naccepted = 0;
    for (int i = 0; i < NC; i++) {
        if (rstate(r, cids[i], agent, sizeof(agent)) != 2)
            continue;
        ccr_envelope *o = e2e_wait_offer(&desks[atoi(agent + 1) - 1], cids[i],
                                         E2E_T_MS);
        assert_non_null(o);
        ccr_free(o);
        if (naccepted < 2) {
            assert_int_equal(e2e_simple(&desks[atoi(agent + 1) - 1],
                                        E2E_BODY(OFFER_ACCEPTED), cids[i],
                                        agent), 0);
            snprintf(assigned_to[i], sizeof(assigned_to[i]), "%s", agent);
            naccepted++;
        }
    }
    assert_int_equal(naccepted, 2);
    for (int i = 0; i < NC; i++) {
        if (!assigned_to[i][0])
            continue;
        assert_int_equal(e2e_simple(&sw, E2E_BODY(CONTACT_COMPLETED), cids[i],
                                    NULL), 0);
        completed[i] = true;
        assigned_to[i][0] = '\0';
        break;
    }

    /* a burst of arrivals: the first two acked (and with them, through
     * the barrier, everything before), the rest in flight at the kill */
    for (int i = 0; i < NBURST; i++) {
        snprintf(cids[NC + i], sizeof(cids[0]), "b%02d", i);
        burst_req[i] = e2e_send_contact(&sw, cids[NC + i], "sales", E2E_VOICE);
        assert_true(burst_req[i] != 0);
        if (i == 1) {
            for (int k = 0; k < 2; k++) {
                ccr_envelope *ack = e2e_wait(&sw, E2E_BODY(ACK), burst_req[k],
                                             E2E_T_MS);
                assert_non_null(ack);
                ccr_free(ack);
                acked[NC + k] = true;
            }
            /* what is offered now (and not accepted) */
            for (int k = 0; k < NC; k++)
                if (rstate(r, cids[k], agent, sizeof(agent)) == 2)
                    snprintf(offered_to[k], sizeof(offered_to[k]), "%s",
                             agent);
        }
    }
    harness_daemon_kill(&agents_d);
    while (e2e_pump(&sw, E2E_T_MS) == 0)
        ;
    for (int i = 2; i < NBURST; i++) {
        ccr_envelope *ack = e2e_wait(&sw, E2E_BODY(ACK), burst_req[i], 0);
        if (ack) {
            acked[NC + i] = true;
            ccr_free(ack);
        }
    }
    e2e_close(&sw);
    for (int i = 0; i < NA; i++)
        e2e_close(&desks[i]);
    long long live_before = e2e_rint(r, "ZCARD ccr:{ra}:contacts");

    /* restart on the same Redis */
    assert_int_equal(harness_daemon_restart(&agents_d, NULL), 0);
    char want[64];
    snprintf(want, sizeof(want), "loaded %d agents, %lld contacts", NA,
             live_before);
    bool loaded = harness_daemon_log_contains(&agents_d, want, 5000);
    if (!loaded)
        harness_daemon_dump_log(&agents_d);
    assert_true(loaded);
    assert_true(harness_daemon_log_contains(&agents_d, "serving clients",
                                            5000));

    /* the agents, with their states */
    e2e_open_hello(&mon, agents_d.port, "wallboard", E2E_ROLE(MONITOR), false);
    ccr_envelope *st = e2e_stats(&mon);
    assert_int_equal(st->stats->agents_logged_in, NA);
    for (int i = 0; i < NA; i++) {
        char aid[16];
        snprintf(aid, sizeof(aid), "a%d", i + 1);
        const Ccroute__V1__AgentStats *as = e2e_stats_agent(st, aid);
        if (!as)
            fail_msg("agent %s not restored", aid);
        if (i == NA - 1) {
            assert_int_equal(as->status,
                             CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AWAY);
            assert_string_equal(as->reason, "lunch");
        }
        int busy = 0;
        for (int k = 0; k < NC; k++)
            if (!strcmp(assigned_to[k], aid))
                busy++;
        if (busy)
            assert_int_equal(as->active_contacts, busy);
    }
    ccr_free(st);

    /* every acknowledged contact in Redis, in its state; completed ones
     * gone; offers in flight at the crash not offered to the same agent */
    int nacked_live = 0;
    for (int i = 0; i < NC + NBURST; i++) {
        if (completed[i]) {
            assert_false(rlive(r, cids[i]));
            continue;
        }
        if (!acked[i])
            continue;
        nacked_live++;
        if (!rlive(r, cids[i]))
            fail_msg("acknowledged contact %s lost in the crash", cids[i]);
        if (assigned_to[i][0]) {
            assert_int_equal(rstate(r, cids[i], agent, sizeof(agent)), 3);
            assert_string_equal(agent, assigned_to[i]);
        } else if (offered_to[i][0]) {
            long long deadline = harness_now_ms() + 3000;
            int cs;
            while ((cs = rstate(r, cids[i], agent, sizeof(agent))) == 2 &&
                   !strcmp(agent, offered_to[i]) &&
                   harness_now_ms() < deadline)
                ccr_free(e2e_stats(&mon));   /* one engine turn */
            if (cs == 2 && !strcmp(agent, offered_to[i]))
                fail_msg("%s offered to %s again after the crash", cids[i],
                         agent);
        }
    }
    assert_true(live_before >= nacked_live &&
                live_before <= nacked_live + NBURST - 2);

    /* a repeated arrival is answered with the current state, not routed
     * again; a completed contact is unknown */
    assert_int_equal(e2e_open(&sw, agents_d.port), 0);
    assert_int_equal(e2e_hello(&sw, "pbx-1", E2E_ROLE(SWITCH), true, NULL, 0,
                               E2E_T_MS), 0);
    for (int i = 0; i < NC + NBURST; i++) {
        if (!acked[i] || completed[i])
            continue;
        uint64_t rid = e2e_send_contact(&sw, cids[i], "sales", E2E_VOICE);
        ccr_envelope *cq = e2e_wait(&sw, E2E_BODY(CONTACT_QUEUED), rid,
                                    E2E_T_MS);
        assert_non_null(cq);
        if (assigned_to[i][0])
            assert_int_equal(cq->contact_queued->status, E2E_CST(ASSIGNED));
        else
            assert_true(cq->contact_queued->status == E2E_CST(QUEUED) ||
                        cq->contact_queued->status == E2E_CST(OFFERED));
        ccr_free(cq);
        ccr_envelope *ack = e2e_wait(&sw, E2E_BODY(ACK), rid, E2E_T_MS);
        assert_non_null(ack);
        ccr_free(ack);
    }
    for (int i = 0; i < NC; i++)
        if (completed[i])
            assert_int_equal(e2e_simple(&sw, E2E_BODY(CONTACT_COMPLETED),
                                        cids[i], NULL),
                             E2E_EC(UNKNOWN_CONTACT));
    assert_int_equal(e2e_rint(r, "ZCARD ccr:{ra}:contacts"), live_before);
    assert_int_equal(e2e_rint(r, "SCARD ccr:{ra}:agents"), NA);

    redisFree(r);
    e2e_close(&sw);
    e2e_close(&mon);
    harness_daemon_stop(&agents_d, 5000);
    harness_redis_stop(&agents_rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_recovery),
        cmocka_unit_test_teardown(test_crash_recovery_agents,
                                  agents_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
