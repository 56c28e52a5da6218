/* test-sentinel.c -- end to end: the real ccrouted finding its Redis
 * through Sentinel and following a failover (docs/redis.md, "Sentinel"),
 * with real processes: one master, one replica, three redis-sentinel
 * processes (tests/redis-harness.h), all on free loopback ports.
 *
 *  - durability replicated: an Ack means the contact is on the replica;
 *    with the replica's link cut, the waiting request is answered
 *    STATE_UNAVAILABLE "replication: 0 of 1 ..." and new changes are
 *    refused, and the engine recovers by itself when the link is back;
 *    kill -9 of the master: Sentinel promotes the replica, the engine
 *    follows and keeps serving, every acknowledged contact is on the new
 *    master and a restarted engine loads them;
 *  - durability redis: writes the replica never received are acknowledged
 *    (the documented risk); kill -9 of the master: the engine finds the
 *    new master behind its generation marker, says so loudly and writes
 *    its whole state back, so nothing acknowledged is lost while it
 *    lives, and never silently;
 *  - --check-config --check-redis goes through the sentinels.
 *
 * Synchronisation is "wait for this reply / log line / Redis or Sentinel
 * state, with a deadline"; nothing sleeps in its place and no timing is
 * asserted.
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
#include "config.h"
#include "e2e-util.h"
#include "harness.h"
#include "redis-harness.h"
#include "store-peek.h"

#define BODY E2E_BODY
#define EC E2E_EC
#define ROLE E2E_ROLE
#define TENANT "sn"
#define MASTER "ccr"
#define NACK 512

static struct rh_sentinel topo;
static struct harness_daemon dm;
static bool topo_live, daemon_live;

/* contacts the engine acknowledged */
static char acked[NACK][32];
static int nacked;

static int teardown(void **state)
{
    if (daemon_live) {
        harness_daemon_kill(&dm);
        harness_daemon_cleanup(&dm);
    }
    if (topo_live)
        rh_sentinel_free(&topo);
    daemon_live = topo_live = false;
    nacked = 0;
    return 0;
}

static void start_topology(void)
{
    /* a master is down after 500 ms without an answer; a failover that
     * stalls is retried after 3 s */
    if (rh_sentinel_start(&topo, MASTER, 500, 3000) < 0) {
        topo_live = true;
        fail_msg("the sentinel topology did not start");
    }
    topo_live = true;
}

static void config_text(char *buf, size_t len, const char *durability,
                        const char *master_name)
{
    snprintf(buf, len,
             "log_level: info\n"
             "grace: 60s\n"
             "redis:\n"
             "  enabled: true\n"
             "  durability: %s\n"
             "  sentinels: [127.0.0.1:%d, 127.0.0.1:%d, 127.0.0.1:%d]\n"
             "  master_name: %s\n"
             "  tenant: " TENANT "\n"
             "  lease: 2s\n"
             "  renew: 250ms\n"
             "  replica_timeout: 300ms\n"
             "  connect_timeout: 300ms\n"
             "  command_timeout: 1s\n"
             "  reconnect_min: 20ms\n"
             "  reconnect_max: 200ms\n"
             "routing: {offer_timeout: 60s, max_no_answer: 100, "
             "max_agents: 100, max_contacts: 2000}\n"
             "skills: [sales, support]\n"
             "queues:\n"
             "  - name: sales\n"
             "    skills: {sales: 1}\n"
             "    channels: [voice, chat]\n"
             "  - name: support\n"
             "    skills: {support: 1}\n"
             "    channels: [voice, chat]\n",
             durability, topo.sport[0], topo.sport[1], topo.sport[2],
             master_name);
}

static void start_daemon(const char *cfg)
{
    memset(&dm, 0, sizeof(dm));
    assert_int_equal(harness_daemon_start(&dm, cfg, NULL), 0);
    daemon_live = true;
    if (!harness_daemon_log_contains(&dm, "serving clients", 10000)) {
        harness_daemon_dump_log(&dm);
        fail_msg("the engine does not serve");
    }
}

static void note_acked(const char *id)
{
    assert_true(nacked < NACK);
    snprintf(acked[nacked++], sizeof(acked[0]), "%s", id);
}

/* One ContactArrived and its reply: 0 (Ack) or the error code. */
static int contact_msg(struct e2e_client *c, const char *id, char *msg,
                       size_t len)
{
    uint64_t rid = e2e_send_contact(c, id, "sales", E2E_VOICE);
    assert_true(rid != 0);
    int rc = e2e_reply_msg(c, rid, 15000, msg, len);
    if (rc == 0)
        note_acked(id);
    return rc;
}

/* Sends the ContactArrived again while it is answered with the retryable
 * STATE_UNAVAILABLE, until it is acknowledged (bounded); the connection
 * must stay open. */
static void contact_until_acked(struct e2e_client *c, const char *id)
{
    char msg[512];
    int rc = e2e_contact_until_acked(c, id, "sales", 30000, msg, sizeof(msg));
    if (rc != 0) {
        harness_daemon_dump_log(&dm);
        fail_msg("%s: %d (%s)", id, rc, msg);
    }
    note_acked(id);
}

static bool contact_in_redis(redisContext *r, const char *id)
{
    return peek_has(r, TENANT, 'c', id);
}

/* Every contact acknowledged so far is in the Redis at `port`. */
static void all_acked_in(int port, const char *where)
{
    redisContext *r = e2e_redis(port);
    for (int i = 0; i < nacked; i++)
        if (!contact_in_redis(r, acked[i])) {
            harness_daemon_dump_log(&dm);
            fail_msg("acknowledged contact %s is not on the %s", acked[i],
                     where);
        }
    redisFree(r);
}

/* kill -9 of the master; waits until the sentinels name the replica. */
static void kill_master_and_wait_failover(void)
{
    harness_redis_kill(&topo.master);
    if (rh_sentinel_wait_master(&topo, topo.replica.port, 30000) < 0) {
        for (int i = 0; i < RH_SENTINELS; i++) {
            char log[320];
            snprintf(log, sizeof(log), "%s/sentinel%d.log", topo.dir, i);
            harness_log_dump(log);
        }
        fail_msg("Sentinel did not promote the replica");
    }
}

/* ---- 1: durability replicated ---- */

static void test_replicated_failover(void **state)
{
    char cfg[2048], id[32], msg[512], role[32];
    struct e2e_client sw, desk;

    start_topology();
    config_text(cfg, sizeof(cfg), "replicated", MASTER);
    start_daemon(cfg);
    char where[64];
    snprintf(where, sizeof(where), "127.0.0.1:%d (master " MASTER ")",
             topo.master.port);
    e2e_expect_log(&dm, where, E2E_T_MS);
    e2e_open_hello(&sw, dm.port, "pbx-1", ROLE(SWITCH), false);
    e2e_open_hello(&desk, dm.port, "desk-1", ROLE(AGENT), false);
    assert_int_equal(e2e_agent_login(&desk, "a1", "support", 5, 1, 0), 0);

    /* an Ack means the write is on the replica: read it there at once */
    redisContext *rep = e2e_redis(topo.replica.port);
    for (int i = 0; i < 40; i++) {
        snprintf(id, sizeof(id), "pre%03d", i);
        assert_int_equal(contact_msg(&sw, id, msg, sizeof(msg)), 0);
        if (!contact_in_redis(rep, id))
            fail_msg("%s acknowledged but not on the replica", id);
    }
    redisFree(rep);

    /* the replica stops receiving: the waiting request is answered with
     * the reason, new changes are refused, nothing is cut */
    assert_int_equal(rh_link_cut(topo.replica.port, topo.master.port,
                                 10000), 0);
    int rc = contact_msg(&sw, "short1", msg, sizeof(msg));
    if (rc != EC(STATE_UNAVAILABLE) ||
        !strstr(msg, "replication: 0 of 1 replicas confirmed")) {
        harness_daemon_dump_log(&dm);
        fail_msg("short1: %d (%s)", rc, msg);
    }
    rc = contact_msg(&sw, "short2", msg, sizeof(msg));
    assert_int_equal(rc, EC(STATE_UNAVAILABLE));
    assert_non_null(strstr(msg, "replication: 0 of 1"));
    assert_non_null(strstr(msg, "nothing was changed"));
    e2e_fence(&sw);
    e2e_expect_log(&dm, "store: replication: 0 of 1 replicas confirmed",
                   E2E_T_MS);
    /* the link is back: the engine recovers by itself */
    assert_int_equal(rh_link_restore(topo.replica.port, topo.master.port,
                                     15000), 0);
    contact_until_acked(&sw, "short1");
    e2e_expect_log(&dm, "replicas confirmed again; ready", E2E_T_MS);
    assert_int_equal(
        harness_daemon_log_count(&dm, "store: replication: 0 of 1"), 1);

    /* kill -9 of the master while a switch keeps sending */
    kill_master_and_wait_failover();
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof(id), "during%d", i);
        rc = contact_msg(&sw, id, msg, sizeof(msg));
        if (rc != 0 && rc != EC(STATE_UNAVAILABLE)) {
            harness_daemon_dump_log(&dm);
            fail_msg("%s during the failover: %d (%s)", id, rc, msg);
        }
    }
    /* the old master comes back; Sentinel makes it the new replica */
    assert_int_equal(harness_redis_restart(&topo.master), 0);
    /* on a loaded machine the sentinels may flap (a failover to the
     * restarted old master and back) or enter TILT mode for 30 s before
     * they settle: the bound covers that */
    long long deadline = harness_now_ms() + 90000;
    for (rh_role(topo.master.port, role, sizeof(role));
         strcmp(role, "slave") != 0;
         rh_role(topo.master.port, role, sizeof(role))) {
        if (harness_now_ms() > deadline)
            fail_msg("Sentinel did not turn the old master into a replica "
                     "(role %s)", role);
        harness_pause_ms(50);
    }
    /* the engine followed and serves: a new contact is acknowledged */
    contact_until_acked(&sw, "after1");
    snprintf(where, sizeof(where), "127.0.0.1:%d (master " MASTER ")",
             topo.replica.port);
    e2e_expect_log(&dm, where, E2E_T_MS);
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof(id), "post%03d", i);
        contact_until_acked(&sw, id);
    }
    e2e_fence(&sw);
    e2e_fence(&desk);
    assert_false(sw.eof);
    assert_false(desk.eof);
    all_acked_in(topo.replica.port, "new master");

    /* a new engine (the first one killed) loads every one of them */
    harness_daemon_kill(&dm);
    e2e_close(&sw);
    e2e_close(&desk);
    assert_int_equal(harness_daemon_restart(&dm, NULL), 0);
    e2e_expect_log(&dm, "loaded 1 agents,", 15000);
    redisContext *r = e2e_redis(topo.replica.port);
    snprintf(msg, sizeof(msg), "loaded 1 agents, %lld contacts",
             peek_n(r, TENANT, 'c'));
    redisFree(r);
    e2e_expect_log(&dm, msg, E2E_T_MS);
    assert_int_equal(harness_daemon_stop(&dm, 5000), 0);
    daemon_live = false;
}

/* ---- 2: durability redis ---- */

static void test_redis_failover_loss_detected(void **state)
{
    char cfg[2048], id[32], msg[512];
    struct e2e_client sw;

    start_topology();
    config_text(cfg, sizeof(cfg), "redis", MASTER);
    start_daemon(cfg);
    e2e_open_hello(&sw, dm.port, "pbx-1", ROLE(SWITCH), false);
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof(id), "pre%03d", i);
        assert_int_equal(contact_msg(&sw, id, msg, sizeof(msg)), 0);
    }
    /* the replica stops receiving; durability redis acknowledges on the
     * master's word alone, so these are acknowledged and not on the
     * replica: exactly what a failover now would lose */
    assert_int_equal(rh_link_cut(topo.replica.port, topo.master.port,
                                 10000), 0);
    redisContext *rep = e2e_redis(topo.replica.port);
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof(id), "lag%03d", i);
        assert_int_equal(contact_msg(&sw, id, msg, sizeof(msg)), 0);
        assert_false(contact_in_redis(rep, id));
    }
    redisFree(rep);

    kill_master_and_wait_failover();
    /* the engine finds the new master behind its generation marker: one
     * loud line, the whole state written back before any new Ack */
    e2e_expect_log(&dm, "REDIS LOST THIS ENGINE'S STATE", 20000);
    contact_until_acked(&sw, "after1");
    assert_int_equal(
        harness_daemon_log_count(&dm, "REDIS LOST THIS ENGINE'S STATE"), 1);
    all_acked_in(topo.replica.port, "new master");
    e2e_fence(&sw);
    assert_false(sw.eof);
    e2e_close(&sw);
    assert_int_equal(harness_daemon_stop(&dm, 5000), 0);
    daemon_live = false;
}

/* ---- 3: --check-config --check-redis through the sentinels ---- */

static void test_check_redis_via_sentinels(void **state)
{
    char cfg[2048], dir[256], log[600], want[128];

    start_topology();
    assert_int_equal(harness_tmpdir(dir, sizeof(dir), "ccroute-chk"), 0);
    config_text(cfg, sizeof(cfg), "replicated", MASTER);
    int rc = e2e_check_redis(dir, cfg, "good");
    snprintf(log, sizeof(log), "%s/good.log", dir);
    snprintf(want, sizeof(want), "127.0.0.1:%d (master " MASTER ", named by "
             "sentinel", topo.master.port);
    if (rc != 0 || !harness_log_contains(log, want, 0) ||
        !harness_log_contains(log, "ROLE master", 0)) {
        harness_log_dump(log);
        fail_msg("--check-redis via the sentinels: exit %d", rc);
    }
    config_text(cfg, sizeof(cfg), "redis", "nosuchmaster");
    rc = e2e_check_redis(dir, cfg, "unknown");
    snprintf(log, sizeof(log), "%s/unknown.log", dir);
    if (rc != 1 || !harness_log_contains(log, "no sentinel named the master "
                                         "nosuchmaster", 0)) {
        harness_log_dump(log);
        fail_msg("--check-redis with an unknown master name: exit %d", rc);
    }
    harness_rm_rf(dir);
}

/* ---- 4: the configuration (no process) ---- */

static int load(const char *text, char *err, size_t len)
{
    struct config c;
    config_defaults(&c);
    int rc = config_load_string(&c, "t.yaml", text, strlen(text), err, len);
    if (rc == 0) {
        /* what the store gets */
        assert_true(c.store.nsentinels > 0 || !c.store.master_name[0]);
    }
    config_fini(&c);
    return rc;
}

static void test_config_sentinel_keys(void **state)
{
    char err[512];
    struct config c;
    config_defaults(&c);
    static const char good[] =
        "redis:\n"
        "  sentinels: [10.0.0.7:26379, \"[::1]:26380\"]\n"
        "  master_name: ccr\n"
        "  sentinel_password: pw\n"
        "  durability: replicated\n"
        "  min_replicas: 2\n"
        "  replica_timeout: 250ms\n";
    if (config_load_string(&c, "t.yaml", good, strlen(good), err,
                           sizeof(err)) < 0)
        fail_msg("%s", err);
    assert_int_equal((int)c.store.nsentinels, 2);
    assert_string_equal(c.store.sentinels[0].host, "10.0.0.7");
    assert_int_equal(c.store.sentinels[0].port, 26379);
    assert_string_equal(c.store.sentinels[1].host, "::1");
    assert_int_equal(c.store.sentinels[1].port, 26380);
    assert_string_equal(c.store.master_name, "ccr");
    assert_string_equal(c.store.sentinel_password, "pw");
    assert_int_equal(c.store.durability, STORE_DURABILITY_REPLICATED);
    assert_int_equal(c.store.min_replicas, 2);
    assert_int_equal(c.store.replica_timeout_ms, 250);
    config_fini(&c);

    static const struct {
        const char *text, *want;
    } bad[] = {
        { "redis:\n  sentinels: [10.0.0.7]\n  master_name: m\n",
          "t.yaml:2: redis.sentinels[0]: \"10.0.0.7\" is not HOST:PORT" },
        { "redis:\n  sentinels: [10.0.0.7:0]\n  master_name: m\n",
          "is not HOST:PORT" },
        { "redis:\n  sentinels: []\n  master_name: m\n", "empty" },
        { "redis:\n  sentinels: [10.0.0.7:26379]\n",
          "redis.master_name is missing" },
        { "redis:\n  master_name: m\n", "goes with redis.sentinels" },
        { "redis:\n  sentinels: [10.0.0.7:26379]\n  master_name: m\n"
          "  port: 6380\n", "t.yaml:4: redis.host: with redis.sentinels" },
        { "redis:\n  durability: replicated\n  replica_timeout: 2s\n",
          "t.yaml:3: redis.replica_timeout: 2000 ms must be shorter than "
          "redis.command_timeout" },
        { "redis:\n  durability: replicated\n  lease: 1s\n",
          "redis.replica_timeout: 500 ms is longer than half of" },
        { "redis:\n  min_replicas: 0\n", "redis.min_replicas" },
        { "redis:\n  durability: quorum\n", "durability" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (load(bad[i].text, err, sizeof(err)) == 0)
            fail_msg("accepted: %s", bad[i].text);
        if (!strstr(err, bad[i].want))
            fail_msg("\"%s\" does not say \"%s\"", err, bad[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_sentinel_keys),
        cmocka_unit_test_teardown(test_check_redis_via_sentinels, teardown),
        cmocka_unit_test_teardown(test_replicated_failover, teardown),
        cmocka_unit_test_teardown(test_redis_failover_loss_detected,
                                  teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
