/* test-reattach.c -- end to end: contacts and agents keep their owner
 * across an engine crash. The real ccrouted on a real redis-server
 * (tests/harness.c) is killed with SIGKILL and restarted on the same
 * Redis; the owners' client names come back from Redis, so a switch and
 * an agent desktop that reconnect with Hello{reattach} get their contacts
 * and agents back, and a switch that does not come back loses its
 * contacts when the grace period ends.
 *
 * Synchronisation is "wait for this message / log line / value, with a
 * bounded deadline"; the only pauses are between polls.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "client.h"
#include "harness.h"

#define T_MS 5000   /* timeout for one expected message */

#define BODY(x) CCROUTE__V1__ENVELOPE__BODY_##x
#define EC(x) CCROUTE__V1__ERROR_CODE__ERROR_CODE_##x
#define ROLE(x) CCROUTE__V1__ROLE__ROLE_##x

static void config_text(char *buf, size_t len, int redis_port,
                        const char *grace)
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
             grace, redis_port);
}

static void pause_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* ---- client helpers ---- */

/* Connects and says Hello, again and again while the engine answers
 * NOT_OWNER (it is still loading the state from Redis), up to T_MS. */
static struct ccr_client *hello_retry(int port, const char *name,
                                      Ccroute__V1__Role role, int reattach)
{
    long long deadline = harness_now_ms() + T_MS;
    for (;;) {
        struct ccr_client *c = NULL;
        int rc = ccr_client_connect("127.0.0.1", port, &c);
        if (rc == 0) {
            rc = ccr_client_hello(c, name, role, reattach, T_MS);
            if (rc == 0)
                return c;
            ccr_client_close(c);
        }
        if (rc != EC(NOT_OWNER))
            fail_msg("Hello from %s: %d", name, rc);
        if (harness_now_ms() > deadline)
            fail_msg("Hello from %s: still NOT_OWNER after %d ms", name,
                     T_MS);
        pause_ms(20);                  /* poll interval */
    }
}

/* Events that arrive while call() waits for its reply, per client, in
 * order, for wait_for(). */
#define STASH_MAX 64
static struct {
    struct ccr_client *c;
    ccr_envelope *e;
} stash[STASH_MAX];
static int nstash;

static void stash_event(void *arg, ccr_envelope *ev)
{
    if (nstash == STASH_MAX) {
        ccr_free(ev);
        return;
    }
    stash[nstash].c = arg;
    stash[nstash].e = ev;
    nstash++;
}

static ccr_envelope *stash_take(struct ccr_client *c, int bc)
{
    for (int i = 0; i < nstash; i++) {
        if (stash[i].c == c && (int)stash[i].e->body_case == bc) {
            ccr_envelope *e = stash[i].e;
            memmove(&stash[i], &stash[i + 1],
                    (size_t)(nstash - i - 1) * sizeof(stash[0]));
            nstash--;
            return e;
        }
    }
    return NULL;
}

static void client_close(struct ccr_client *c)
{
    int j = 0;
    for (int i = 0; i < nstash; i++) {
        if (stash[i].c == c)
            ccr_free(stash[i].e);
        else
            stash[j++] = stash[i];
    }
    nstash = j;
    ccr_client_close(c);
}

/* Sends env and waits for its Ack (0) or Error (its code). */
static int call(struct ccr_client *c, ccr_envelope *env)
{
    ccr_envelope *reply = NULL;
    assert_int_equal(ccr_client_call(c, env, T_MS, stash_event, c, &reply),
                     0);
    int rc = reply->body_case == BODY(ERROR) ? (int)reply->error->code : 0;
    ccr_free(reply);
    return rc;
}

/* The next message with body `bc` (others are dropped). */
static ccr_envelope *wait_for(struct ccr_client *c, int bc)
{
    long long deadline = harness_now_ms() + T_MS;
    ccr_envelope *e = stash_take(c, bc);
    while (!e) {
        int left = (int)(deadline - harness_now_ms());
        if (left <= 0)
            fail_msg("timed out waiting for body case %d", bc);
        int rc = ccr_client_recv(c, left, &e);
        if (rc < 0)
            fail_msg("waiting for body case %d: error %d", bc, rc);
        if ((int)e->body_case != bc) {
            ccr_free(e);
            e = NULL;
        }
    }
    return e;
}

static int agent_login(struct ccr_client *c, const char *id)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__AgentLogin m = CCROUTE__V1__AGENT_LOGIN__INIT;
    Ccroute__V1__AgentSkill sk = CCROUTE__V1__AGENT_SKILL__INIT;
    Ccroute__V1__AgentSkill *skp = &sk;
    Ccroute__V1__ChannelCapacity v = CCROUTE__V1__CHANNEL_CAPACITY__INIT;
    Ccroute__V1__ChannelCapacity *caps[1] = { &v };
    v.channel = CCROUTE__V1__CHANNEL__CHANNEL_VOICE;
    v.capacity = 1;
    m.capacity = caps;
    m.n_capacity = 1;
    m.agent_id = (char *)id;
    sk.skill = "sales";
    sk.level = 4;
    m.skills = &skp;
    m.n_skills = 1;
    env.body_case = BODY(AGENT_LOGIN);
    env.agent_login = &m;
    return call(c, &env);
}

static int agent_state(struct ccr_client *c, const char *id, int status,
                       const char *reason)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__AgentState m = CCROUTE__V1__AGENT_STATE__INIT;
    m.agent_id = (char *)id;
    m.status = (Ccroute__V1__AgentStatus)status;
    m.reason = (char *)reason;
    env.body_case = BODY(AGENT_STATE);
    env.agent_state = &m;
    return call(c, &env);
}

static int contact_arrive(struct ccr_client *c, const char *id)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactArrived m = CCROUTE__V1__CONTACT_ARRIVED__INIT;
    m.contact_id = (char *)id;
    m.queue = "q1";
    m.channel = CCROUTE__V1__CHANNEL__CHANNEL_VOICE;
    env.body_case = BODY(CONTACT_ARRIVED);
    env.contact_arrived = &m;
    return call(c, &env);
}

static int offer_accept(struct ccr_client *c, const char *cid,
                        const char *aid)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__OfferAccepted m = CCROUTE__V1__OFFER_ACCEPTED__INIT;
    m.contact_id = (char *)cid;
    m.agent_id = (char *)aid;
    env.body_case = BODY(OFFER_ACCEPTED);
    env.offer_accepted = &m;
    return call(c, &env);
}

/* StatsRequest for queue q1: *waiting and *abandoned. */
static void q1_stats(struct ccr_client *c, uint32_t *waiting,
                     uint32_t *abandoned)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__StatsRequest m = CCROUTE__V1__STATS_REQUEST__INIT;
    char *q = "q1";
    m.queues = &q;
    m.n_queues = 1;
    env.body_case = BODY(STATS_REQUEST);
    env.stats_request = &m;
    assert_int_equal(call(c, &env), 0);
    ccr_envelope *st = stash_take(c, BODY(STATS));
    assert_non_null(st);
    assert_int_equal(st->stats->n_queues, 1);
    *waiting = st->stats->queues[0]->waiting;
    *abandoned = st->stats->queues[0]->abandoned;
    ccr_free(st);
}

/* ---- redis helpers ---- */

static void rget(int port, const char *cmd, char *out, size_t len)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    redisReply *r = redisCommand(c, cmd);
    assert_non_null(r);
    if (r->type == REDIS_REPLY_STRING)
        snprintf(out, len, "%.*s", (int)r->len, r->str);
    else if (r->type == REDIS_REPLY_INTEGER)
        snprintf(out, len, "%lld", r->integer);
    else
        snprintf(out, len, "(nil)");
    freeReplyObject(r);
    redisFree(c);
}

static void expect_log(struct harness_daemon *d, const char *needle)
{
    bool ok = harness_daemon_log_contains(d, needle, T_MS);
    if (!ok) {
        harness_daemon_dump_log(d);
        fail_msg("not in the engine's log: \"%s\"", needle);
    }
}

/* ---- tests ---- */

/* A switch and an agent desktop re-attach after the engine crashed and
 * restarted: the recovered agent's Offer reaches the desktop, the
 * assignment reaches the switch. */
static void test_reattach_after_restart(void **state)
{
    struct harness_redis rs;
    assert_int_equal(harness_redis_start(&rs), 0);
    char cfg[1024];
    config_text(cfg, sizeof(cfg), rs.port, "10s");
    struct harness_daemon d;
    assert_int_equal(harness_daemon_start(&d, cfg, NULL), 0);

    struct ccr_client *ag = hello_retry(d.port, "desk-1", ROLE(AGENT), 0);
    struct ccr_client *sw = hello_retry(d.port, "sw1", ROLE(SWITCH), 0);
    assert_int_equal(agent_login(ag, "a1"), 0);
    /* away: no offer before the crash, so the first offer after it is the
     * one this test follows */
    assert_int_equal(agent_state(ag, "a1",
                         CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AWAY,
                         "break"), 0);
    /* the Acks of ContactArrived come once Redis has every write so far,
     * the agent's included */
    assert_int_equal(contact_arrive(sw, "r1"), 0);
    assert_int_equal(contact_arrive(sw, "r2"), 0);
    char v[64];
    rget(rs.port, "HGET ccr:{ra}:contact:r1 owner", v, sizeof(v));
    assert_string_equal(v, "sw1");
    rget(rs.port, "HGET ccr:{ra}:agent:a1 owner", v, sizeof(v));
    assert_string_equal(v, "desk-1");

    harness_daemon_kill(&d);
    client_close(ag);
    client_close(sw);
    assert_int_equal(harness_daemon_restart(&d, NULL), 0);
    expect_log(&d, "loaded 1 agents, 2 contacts");
    expect_log(&d, "contacts and agents of client sw1 wait");
    expect_log(&d, "contacts and agents of client desk-1 wait");

    sw = hello_retry(d.port, "sw1", ROLE(SWITCH), 1);
    expect_log(&d, "hello from sw1, role switch; re-attached 2 contacts");
    ag = hello_retry(d.port, "desk-1", ROLE(AGENT), 1);
    expect_log(&d, "hello from desk-1, role agent; re-attached 1 contacts");

    /* the desktop owns a1 again: it may change its state, and a1's offer
     * comes to it */
    assert_int_equal(agent_state(ag, "a1",
                         CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AVAILABLE,
                         NULL), 0);
    ccr_envelope *e = wait_for(ag, BODY(OFFER));
    assert_string_equal(e->offer->agent_id, "a1");
    assert_string_equal(e->offer->contact_id, "r1");   /* oldest first */
    ccr_free(e);
    assert_int_equal(offer_accept(ag, "r1", "a1"), 0);
    /* the switch owns r1 again: the assignment reaches it */
    e = wait_for(sw, BODY(CONTACT_ASSIGNED));
    assert_string_equal(e->contact_assigned->contact_id, "r1");
    assert_string_equal(e->contact_assigned->agent_id, "a1");
    ccr_free(e);
    e = wait_for(ag, BODY(CONTACT_ASSIGNED));
    assert_string_equal(e->contact_assigned->contact_id, "r1");
    ccr_free(e);

    /* nothing was abandoned or logged out meanwhile */
    rget(rs.port, "ZCARD ccr:{ra}:contacts", v, sizeof(v));
    assert_string_equal(v, "2");
    rget(rs.port, "HGET ccr:{ra}:contact:r1 state", v, sizeof(v));
    assert_string_equal(v, "3");                       /* assigned */
    rget(rs.port, "SISMEMBER ccr:{ra}:agents a1", v, sizeof(v));
    assert_string_equal(v, "1");

    client_close(ag);
    client_close(sw);
    assert_int_equal(harness_daemon_stop(&d, 5000), 0);
    harness_redis_stop(&rs);
}

/* A switch that does not come back after the restart: its recovered
 * contacts are abandoned when the grace period ends. */
static void test_no_reattach_abandons(void **state)
{
    const long grace_ms = 1500;
    struct harness_redis rs;
    assert_int_equal(harness_redis_start(&rs), 0);
    char cfg[1024];
    config_text(cfg, sizeof(cfg), rs.port, "1500ms");
    struct harness_daemon d;
    assert_int_equal(harness_daemon_start(&d, cfg, NULL), 0);

    struct ccr_client *sw = hello_retry(d.port, "sw2", ROLE(SWITCH), 0);
    assert_int_equal(contact_arrive(sw, "g1"), 0);
    assert_int_equal(contact_arrive(sw, "g2"), 0);
    assert_int_equal(contact_arrive(sw, "g3"), 0);
    harness_daemon_kill(&d);
    client_close(sw);

    long long restarted = harness_now_ms();
    assert_int_equal(harness_daemon_restart(&d, NULL), 0);
    expect_log(&d, "loaded 0 agents, 3 contacts");
    struct ccr_client *mon = hello_retry(d.port, "wall", ROLE(MONITOR), 0);

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
            harness_daemon_dump_log(&d);
            fail_msg("after the grace period: waiting %u, abandoned %u",
                     waiting, abandoned);
        }
        pause_ms(50);                  /* poll interval */
        q1_stats(mon, &waiting, &abandoned);
    }
    expect_log(&d, "client sw2 did not come back within 1500 ms: "
                   "3 contacts abandoned");

    /* ... and they leave Redis too */
    char v[64] = "";
    deadline = harness_now_ms() + T_MS;
    for (;;) {
        rget(rs.port, "ZCARD ccr:{ra}:contacts", v, sizeof(v));
        if (!strcmp(v, "0") || harness_now_ms() > deadline)
            break;
        pause_ms(20);
    }
    assert_string_equal(v, "0");

    /* too late to re-attach: nothing is left for sw2 */
    sw = hello_retry(d.port, "sw2", ROLE(SWITCH), 1);
    expect_log(&d, "hello from sw2, role switch; re-attached 0 contacts");
    client_close(sw);
    client_close(mon);
    assert_int_equal(harness_daemon_stop(&d, 5000), 0);
    harness_redis_stop(&rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reattach_after_restart),
        cmocka_unit_test(test_no_reattach_abandons),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
