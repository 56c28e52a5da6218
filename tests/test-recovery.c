/* test-recovery.c -- end to end: the real ccrouted on a real redis-server
 * (the e2e_env fixture of tests/e2e-util.h), crashed with SIGKILL and
 * restarted.
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

#define NCONTACTS 40

/* The layout the tests run on: main runs them on the default (journal)
 * and again with `layout: hashes`, so recovery is proved on both; the
 * chunked load is the per-key layout's and always runs on it. */
static const char *layout = "journal";

/* arg: the address the engine advertises in its lease. */
static void config_text(char *buf, size_t len, int redis_port,
                        const void *advertise)
{
    snprintf(buf, len,
             "listen: 127.0.0.1:0\n"
             "log_level: info\n"
             "redis:\n"
             "  enabled: true\n"
             "  layout: %s\n"
             "  port: %d\n"
             "  tenant: rt\n"
             "  lease: 600ms\n"
             "  advertise: %s\n"
             "queues:\n"
             "  - name: q1\n",
             layout, redis_port, (const char *)advertise);
}

/* The fixture: Redis, and the daemon on it (tests/e2e-util.h). */
static int setup_contacts(void **state)
{
    return e2e_env_start(state, true, config_text, "127.0.0.1:1");
}

/* Every acknowledged contact is in Redis when the engine dies, and the
 * restarted engine loads all of them (none lost, none twice). */
static void test_crash_recovery(void **state)
{
    struct e2e_env *env = *state;
    struct harness_daemon *d = &env->d;
    struct e2e_client c;
    assert_true(harness_daemon_log_contains(d, "serving clients", 5000));

    e2e_open_hello(&c, d->port, "sw1", E2E_ROLE(SWITCH), false);
    char id[32];
    for (int i = 0; i < NCONTACTS; i++) {
        snprintf(id, sizeof(id), "c%03d", i);
        assert_int_equal(e2e_contact(&c, id, "q1", E2E_VOICE), 0);
    }
    /* acknowledged = in Redis (durability: redis) */
    assert_int_equal(peek_n(env->r, "rt", 'c'), NCONTACTS);
    harness_daemon_kill(d);
    e2e_close(&c);

    assert_int_equal(harness_daemon_restart(d, NULL), 0);
    char want[64];
    snprintf(want, sizeof(want), "loaded 0 agents, %d contacts", NCONTACTS);
    e2e_expect_log(d, want, 5000);
    assert_true(harness_daemon_log_contains(d, "serving clients", 5000));
    assert_int_equal(peek_n(env->r, "rt", 'c'), NCONTACTS);

    /* every contact is known again: a repeated arrival is answered with
     * its state, not routed twice */
    e2e_open_hello(&c, d->port, "sw1", E2E_ROLE(SWITCH), true);
    for (int i = 0; i < NCONTACTS; i++) {
        snprintf(id, sizeof(id), "c%03d", i);
        assert_int_equal(e2e_contact(&c, id, "q1", E2E_VOICE), 0);
    }
    assert_int_equal(peek_n(env->r, "rt", 'c'), NCONTACTS);
    e2e_close(&c);
}

/* ---- crash recovery with agents ---- */

#define NA 5
#define NC 12
#define NBURST 6

static void agents_config(char *buf, size_t len, int redis_port,
                          const void *arg)
{
    snprintf(buf, len,
             "log_level: info\n"
             "grace: 60s\n"
             "redis:\n"
             "  enabled: true\n"
             "  layout: %s\n"
             "  port: %d\n"
             "  tenant: ra\n"
             "  lease: 600ms\n"
             "routing: {offer_timeout: 60s, max_no_answer: 100}\n"
             "skills: [sales]\n"
             "queues:\n"
             "  - name: sales\n"
             "    skills: {sales: 1}\n"
             "    channels: [voice, chat]\n",
             layout, redis_port);
}

static int rstate(redisContext *r, const char *cid, char *agent, size_t alen)
{
    char v[16];
    peek_field(r, "ra", 'c', cid, "agent", agent, alen);
    return peek_field(r, "ra", 'c', cid, "state", v, sizeof(v)) ? atoi(v)
                                                                 : 0;
}

static bool rlive(redisContext *r, const char *cid)
{
    return peek_has(r, "ra", 'c', cid);
}

static int setup_agents(void **state)
{
    return e2e_env_start(state, true, agents_config, NULL);
}

/* Agents logged in with skills (one away), contacts queued, offered,
 * assigned and completed, a burst of arrivals in flight: kill -9, restart
 * on the same Redis. Every acknowledged contact is back exactly once in
 * its state, the agents with theirs. */
static void test_crash_recovery_agents(void **state)
{
    struct e2e_client sw, mon, desks[NA];
    char agent[32];
    static char cids[NC + NBURST][32], offered_to[NC + NBURST][32];
    static char assigned_to[NC + NBURST][32];
    bool acked[NC + NBURST] = { 0 }, completed[NC + NBURST] = { 0 };
    uint64_t burst_req[NBURST];
    struct e2e_env *env = *state;
    struct harness_daemon *d = &env->d;
    redisContext *r = env->r;

    assert_true(harness_daemon_log_contains(d, "serving clients", 5000));

    e2e_open_hello(&sw, d->port, "pbx-1", E2E_ROLE(SWITCH), false);
    for (int i = 0; i < NA; i++) {
        char name[32], aid[16];
        snprintf(name, sizeof(name), "desk-%d", i + 1);
        snprintf(aid, sizeof(aid), "a%d", i + 1);
        e2e_open_hello(&desks[i], d->port, name, E2E_ROLE(AGENT),
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
    harness_daemon_kill(d);
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
    long long live_before = peek_n(r, "ra", 'c');

    /* restart on the same Redis */
    assert_int_equal(harness_daemon_restart(d, NULL), 0);
    char want[64];
    snprintf(want, sizeof(want), "loaded %d agents, %lld contacts", NA,
             live_before);
    bool loaded = harness_daemon_log_contains(d, want, 5000);
    if (!loaded)
        harness_daemon_dump_log(d);
    assert_true(loaded);
    assert_true(harness_daemon_log_contains(d, "serving clients",
                                            5000));

    /* the agents, with their states */
    e2e_open_hello(&mon, d->port, "wallboard", E2E_ROLE(MONITOR), false);
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
    assert_int_equal(e2e_open(&sw, d->port), 0);
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
    assert_int_equal(peek_n(r, "ra", 'c'), live_before);
    assert_int_equal(peek_n(r, "ra", 'a'), NA);

    e2e_close(&sw);
    e2e_close(&mon);
}

/* ---- recovery keeps the exact order ---- */

#define NROUNDS 6
#define NORDER 250

static void order_config(char *buf, size_t len, int redis_port,
                         const void *arg)
{
    snprintf(buf, len,
             "log_level: info\n"
             "grace: 60s\n"
             "redis:\n"
             "  enabled: true\n"
             "  layout: %s\n"
             "  port: %d\n"
             "  tenant: ro\n"
             "  lease: 600ms\n"
             "routing: {offer_timeout: 60s, max_no_answer: 100}\n"
             "skills: [sales]\n"
             "queues:\n"
             "  - name: sales\n"
             "    skills: {sales: 1}\n"
             "    channels: [voice]\n"
             "    wrapup: 0s\n",
             layout, redis_port);
}

static int setup_order(void **state)
{
    return e2e_env_start(state, true, order_config, NULL);
}

/* Contacts sent back to back (most of them in the same millisecond, and
 * with no agent to take them) are acknowledged, the engine is killed and
 * restarted, and one agent of capacity 1 then takes them one by one: the
 * offers must come in exactly the order the contacts arrived. Arrival used
 * to be rebuilt from a millisecond wall clock read per contact, and
 * contacts about 1 ms apart swapped in about one restart in ten; the
 * rounds repeat the restart enough to catch that. */
static void test_recovery_keeps_order(void **state)
{
    struct e2e_env *env = *state;
    struct harness_daemon *d = &env->d;
    static char ids[NORDER + NROUNDS][32];
    static uint64_t rid[NORDER + NROUNDS];
    static const char *want_ids[NORDER + NROUNDS];
    char want[64];

    e2e_expect_log(d, "serving clients", 5000);
    for (int round = 0; round < NROUNDS; round++) {
        struct e2e_client sw, desk;
        int n = NORDER + round;       /* a distinct "loaded" line per round */
        e2e_open_hello_retry(&sw, d->port, "pbx-1", E2E_ROLE(SWITCH),
                             round > 0);
        /* pipelined: every request is written before any reply is read */
        for (int i = 0; i < n; i++) {
            snprintf(ids[i], sizeof(ids[i]), "r%d-%03d", round, i);
            rid[i] = e2e_send_contact(&sw, ids[i], "sales", E2E_VOICE);
            assert_true(rid[i] != 0);
        }
        for (int i = 0; i < n; i++)
            assert_int_equal(e2e_reply(&sw, rid[i], E2E_T_MS), 0);
        e2e_crash_restart(d, 0, n, 10000);
        e2e_close(&sw);
        e2e_open_hello_retry(&sw, d->port, "pbx-1", E2E_ROLE(SWITCH), true);
        e2e_open_hello_retry(&desk, d->port, "desk-1", E2E_ROLE(AGENT),
                             false);
        assert_int_equal(e2e_agent_login(&desk, "a1", "sales", 5, 1, 0), 0);
        for (int i = 0; i < n; i++)
            want_ids[i] = ids[i];
        snprintf(want, sizeof(want), "round %d", round);
        e2e_take_in_order(&desk, &sw, "a1", want_ids, n, want);
        assert_int_equal(e2e_simple(&desk, E2E_BODY(AGENT_LOGOUT), NULL,
                                    "a1"), 0);
        assert_int_equal(peek_n(env->r, "ro", 'c'), 0);
        e2e_close(&desk);
        e2e_close(&sw);
    }
}

/* ---- a load in many chunks: the order, the priorities, and a client
 * answered in the middle ---- */

#define NCHUNKED 600
#define CHUNK 2

static void chunked_config(char *buf, size_t len, int redis_port,
                           const void *arg)
{
    snprintf(buf, len,
             "log_level: info\n"
             "grace: 60s\n"
             "redis:\n"
             "  enabled: true\n"
             "  layout: hashes\n"
             "  port: %d\n"
             "  tenant: rl\n"
             "  lease: 600ms\n"
             "  command_timeout: 10s\n"
             "  load_chunk: %d\n"
             "routing: {offer_timeout: 60s, max_no_answer: 100, "
             "priority_weight: 1h}\n"
             "skills: [sales]\n"
             "queues:\n"
             "  - name: sales\n"
             "    skills: {sales: 1}\n"
             "    channels: [voice]\n"
             "    wrapup: 0s\n",
             redis_port, CHUNK);
}

static int setup_chunked(void **state)
{
    return e2e_env_start(state, true, chunked_config, NULL);
}

/* Waits on a MONITOR connection for the load call of contacts at `rank`
 * (the engine sends it after handing over the chunks two calls before). */
static bool monitor_until(redisContext *m, const char *tail, int timeout_ms)
{
    long long end = harness_now_ms() + timeout_ms;
    while (harness_now_ms() < end) {
        redisReply *r = NULL;
        if (redisGetReply(m, (void **)&r) != REDIS_OK || !r)
            return false;
        bool hit = r->type == REDIS_REPLY_STATUS && strstr(r->str, "EVALSHA") &&
                   strlen(r->str) > strlen(tail) &&
                   !strcmp(r->str + strlen(r->str) - strlen(tail), tail);
        freeReplyObject(r);
        if (hit)
            return true;
    }
    return false;
}

/* The per-key layout's load (layout: hashes, pinned: the journal hands
 * its state over only after its last entry, test_sliced_journal_load):
 * more contacts than
 * one load call carries (NCHUNKED contacts, CHUNK per call), with three
 * priorities, acknowledged, then kill -9 and a restart.
 * While the engine is in the middle of its load (Redis is paused, through
 * CLIENT PAUSE, right after it ran a call well into the contacts), a Hello
 * is answered at once with a retryable STATE_UNAVAILABLE saying how far
 * the load is: the loop turns between chunks and nothing is served before
 * the whole tenant is in. Then one agent takes the contacts one by one:
 * the offers come highest priority first and, within a priority, in
 * exactly the order the contacts arrived. */
static void test_chunked_load_keeps_order(void **state)
{
    struct e2e_env *env = *state;
    struct harness_daemon *d = &env->d;
    static char ids[NCHUNKED][32];
    static uint64_t rid[NCHUNKED];
    struct e2e_client sw, desk, early;
    char want[96], msg[300];

    e2e_expect_log(d, "serving clients", 5000);
    e2e_open_hello(&sw, d->port, "pbx-1", E2E_ROLE(SWITCH), false);
    for (int i = 0; i < NCHUNKED; i++) {
        snprintf(ids[i], sizeof(ids[i]), "p%d-%03d", i % 3, i);
        rid[i] = e2e_send_contact_prio(&sw, ids[i], "sales", E2E_VOICE,
                                       (unsigned)(i % 3));
        assert_true(rid[i] != 0);
    }
    for (int i = 0; i < NCHUNKED; i++)
        assert_int_equal(e2e_reply(&sw, rid[i], E2E_T_MS), 0);
    harness_daemon_kill(d);
    e2e_close(&sw);
    assert_int_equal(peek_n(env->r, "rl", 'c'), NCHUNKED);

    /* watch the load calls as Redis runs them */
    redisContext *m = e2e_redis(env->redis.port);
    struct timeval tv = { 10, 0 };
    redisSetTimeout(m, tv);
    redisReply *ok = redisCommand(m, "MONITOR");
    assert_non_null(ok);
    freeReplyObject(ok);

    assert_int_equal(harness_daemon_restart(d, NULL), 0);
    /* the call for rank 10 * CHUNK goes out once the reply for rank
     * 8 * CHUNK is handed over: at least 9 chunks are in the router */
    snprintf(want, sizeof(want), "\"c\" \"%d\" \"%d\"", 10 * CHUNK, CHUNK);
    if (!monitor_until(m, want, 10000)) {
        harness_daemon_dump_log(d);
        fail_msg("no load call %s seen", want);
    }
    redisReply *p = redisCommand(env->r, "CLIENT PAUSE 5000 WRITE");
    assert_non_null(p);
    assert_int_equal(p->type, REDIS_REPLY_STATUS);
    freeReplyObject(p);
    redisFree(m);

    /* the load stands still in the middle; a client is answered */
    assert_int_equal(e2e_open(&early, d->port), 0);
    int rc = e2e_hello(&early, "early", E2E_ROLE(MONITOR), false, msg,
                       sizeof(msg), E2E_T_MS);
    p = redisCommand(env->r, "CLIENT UNPAUSE");
    assert_non_null(p);
    freeReplyObject(p);
    if (rc != E2E_EC(STATE_UNAVAILABLE))
        fail_msg("Hello during the load: %d (%s), expected "
                 "STATE_UNAVAILABLE", rc, msg);
    const char *so_far = strstr(msg, "loading the state of tenant rl (0 "
                                     "agents, ");
    if (!so_far)
        fail_msg("Hello during the load answered: %s", msg);
    int loaded = atoi(so_far + strlen("loading the state of tenant rl (0 "
                                      "agents, "));
    assert_true(loaded >= 9 * CHUNK);
    assert_true(loaded < NCHUNKED);
    e2e_close(&early);

    snprintf(want, sizeof(want), "loaded 0 agents, %d contacts in ",
             NCHUNKED);
    e2e_expect_log(d, want, 10000);

    /* highest priority first; within a priority, arrival order */
    e2e_open_hello_retry(&sw, d->port, "pbx-1", E2E_ROLE(SWITCH), true);
    e2e_open_hello_retry(&desk, d->port, "desk-1", E2E_ROLE(AGENT), false);
    assert_int_equal(e2e_agent_login(&desk, "a1", "sales", 5, 1, 0), 0);
    int k = 0;
    for (int prio = 2; prio >= 0; prio--) {
        for (int i = prio; i < NCHUNKED; i += 3, k++) {
            ccr_envelope *o = e2e_wait_offer(&desk, NULL, E2E_T_MS);
            if (!o) {
                harness_daemon_dump_log(d);
                fail_msg("no offer for the %d-th contact", k);
            }
            char cid[32];
            snprintf(cid, sizeof(cid), "%s", o->offer->contact_id);
            ccr_free(o);
            if (strcmp(cid, ids[i]) != 0)
                fail_msg("offer %d is %s, expected %s (recovered out of "
                         "order or priority)", k, cid, ids[i]);
            assert_int_equal(e2e_simple(&desk, E2E_BODY(OFFER_ACCEPTED), cid,
                                        "a1"), 0);
            assert_int_equal(e2e_simple(&sw, E2E_BODY(CONTACT_COMPLETED), cid,
                                        NULL), 0);
            e2e_flush(&sw);
        }
    }
    assert_int_equal(k, NCHUNKED);
    assert_int_equal(peek_n(env->r, "rl", 'c'), 0);
    e2e_close(&desk);
    e2e_close(&sw);
}

/* ---- layout journal: the replayed state is handed over in slices ---- */

#define NSLICED 20000

static void sliced_config(char *buf, size_t len, int redis_port,
                          const void *arg)
{
    snprintf(buf, len,
             "log_level: info\n"
             "grace: 60s\n"
             "redis:\n"
             "  enabled: true\n"
             "  layout: journal\n"
             "  port: %d\n"
             "  tenant: rj\n"
             "  lease: 600ms\n"
             "  command_timeout: 10s\n"
             "  load_chunk: 1\n"
             "skills: [sales]\n"
             "queues:\n"
             "  - name: sales\n"
             "    skills: {sales: 1}\n"
             "    channels: [voice]\n",
             redis_port);
}

static int setup_sliced(void **state)
{
    return e2e_env_start(state, true, sliced_config, NULL);
}

/* Fills the tenant with NSLICED acknowledged contacts, kills the engine
 * (kill -9), restarts it and says Hello again and again (NOT_OWNER until
 * the killed engine's lease expires) until one is answered
 * STATE_UNAVAILABLE with a count of contacts handed over that is neither
 * 0 (the counts rise only as objects are handed over) nor all of them:
 * the loop turned in the middle of the hand-over, and the engine was not
 * serving a half-loaded tenant. Fails the test when the engine serves
 * before any such answer (handed over in one turn, every "loading"
 * answer says 0 contacts). */
static void restart_until_mid_handover(struct e2e_env *env)
{
    struct harness_daemon *d = &env->d;
    static uint64_t rid[NSLICED];
    struct e2e_client sw, c;
    char id[32], msg[300] = "";
    const char *pre = "loading the state of tenant rj (0 agents, ";

    e2e_expect_log(d, "serving clients", 5000);
    e2e_open_hello(&sw, d->port, "pbx-1", E2E_ROLE(SWITCH), false);
    for (int i = 0; i < NSLICED; i++) {
        snprintf(id, sizeof(id), "s%05d", i);
        rid[i] = e2e_send_contact_prio(&sw, id, "sales", E2E_VOICE, 0);
        assert_true(rid[i] != 0);
    }
    for (int i = 0; i < NSLICED; i++)
        assert_int_equal(e2e_reply(&sw, rid[i], 30000), 0);
    harness_daemon_kill(d);
    e2e_close(&sw);
    assert_int_equal(peek_n(env->r, "rj", 'c'), NSLICED);

    assert_int_equal(harness_daemon_restart(d, NULL), 0);
    long long end = harness_now_ms() + 60000;
    while (harness_now_ms() < end) {
        if (e2e_open(&c, d->port) != 0)
            continue;                /* not listening yet */
        int rc = e2e_hello(&c, "early", E2E_ROLE(MONITOR), false, msg,
                           sizeof(msg), E2E_T_MS);
        e2e_close(&c);
        if (rc == E2E_EC(NOT_OWNER))
            continue;                /* the killed engine's lease */
        if (rc != E2E_EC(STATE_UNAVAILABLE)) {
            harness_daemon_dump_log(d);
            fail_msg("Hello during the load: %d (%s); no answer in the "
                     "middle of the hand-over before", rc, msg);
        }
        const char *so_far = strstr(msg, pre);
        if (so_far) {
            int k = atoi(so_far + strlen(pre));
            if (k > 0 && k < NSLICED)
                return;
        }
    }
    harness_daemon_dump_log(d);
    fail_msg("no answer in the middle of the hand-over within 60 s: %s",
             msg);
}

/* The journal layout reads every entry before it hands anything to the
 * router, then hands the replayed objects over load_chunk (here 1) per
 * loop turn: a Hello is answered in the middle (see above), and in the
 * end every contact is in and the engine serves. */
static void test_sliced_journal_load(void **state)
{
    struct e2e_env *env = *state;
    struct harness_daemon *d = &env->d;
    struct e2e_client c;
    char want[96];

    restart_until_mid_handover(env);
    snprintf(want, sizeof(want), "loaded 0 agents, %d contacts in ",
             NSLICED);
    e2e_expect_log(d, want, 30000);
    e2e_open_hello_retry(&c, d->port, "late", E2E_ROLE(MONITOR), false);
    e2e_close(&c);
    assert_int_equal(peek_n(env->r, "rj", 'c'), NSLICED);
}

/* A stop in the middle of the hand-over (the teardown's SIGTERM right
 * after an answer in the middle) gives the load up and exits cleanly:
 * exit status 0, also under ASan's leak check (test-san). */
static void test_sliced_journal_stop(void **state)
{
    restart_until_mid_handover(*state);
}

int main(void)
{
    const struct CMUnitTest both[] = {
        cmocka_unit_test_setup_teardown(test_crash_recovery, setup_contacts,
                                        e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_crash_recovery_agents,
                                        setup_agents, e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_recovery_keeps_order,
                                        setup_order, e2e_env_teardown),
    };
    const struct CMUnitTest sliced[] = {
        cmocka_unit_test_setup_teardown(test_sliced_journal_load,
                                        setup_sliced, e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_sliced_journal_stop,
                                        setup_sliced, e2e_env_teardown),
    };
    const struct CMUnitTest hashes[] = {
        cmocka_unit_test_setup_teardown(test_chunked_load_keeps_order,
                                        setup_chunked, e2e_env_teardown),
    };
    layout = "journal";
    int failed = cmocka_run_group_tests_name("recovery, layout journal",
                                             both, NULL, NULL);
    layout = "hashes";
    failed += cmocka_run_group_tests_name("recovery, layout hashes", both,
                                          NULL, NULL);
    failed += cmocka_run_group_tests_name("recovery, hashes' chunked load",
                                          hashes, NULL, NULL);
    failed += cmocka_run_group_tests_name("recovery, journal's sliced load",
                                          sliced, NULL, NULL);
    return failed;
}
