/* test-redisfault.c -- end to end: the real ccrouted against a real
 * redis-server that fails in ways other than a plain outage
 * (docs/redis.md, "Faults"):
 *
 *  - Redis comes back empty (restarted without its data, or FLUSHALL):
 *    the engine notices, writes its whole state back before it
 *    acknowledges anything new, and a new engine recovers every
 *    acknowledged contact from it;
 *  - Redis pauses (DEBUG SLEEP, a restart): clients stay connected, get a
 *    retryable STATE_UNAVAILABLE while the lease is unconfirmed, and
 *    succeed after; nothing acknowledged is lost;
 *  - Redis refuses writes (maxmemory with noeviction, a read-only
 *    replica): the waiting request
 *    is answered STATE_UNAVAILABLE with the reason, one log line for the
 *    state change however often the engine retries, recovery by itself;
 *  - a wrong password: "redis authentication failed" in the log and in
 *    the error, and --check-config --check-redis says so with exit 1.
 *
 * Every test starts its own redis-server and engine and stops them.
 * Synchronisation is "wait for this reply / log line / Redis state, with a
 * deadline"; nothing sleeps in its place and no timing is asserted.
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

#define BODY E2E_BODY
#define EC E2E_EC
#define ROLE E2E_ROLE
#define TENANT "rf"

/* ---- processes, stopped by the teardown whatever happened ---- */

static struct harness_redis rs;
static struct harness_daemon dm;
static bool redis_live, daemon_live;

static int teardown(void **state)
{
    if (daemon_live) {
        harness_daemon_kill(&dm);
        harness_daemon_cleanup(&dm);
    }
    if (redis_live)
        harness_redis_stop(&rs);
    daemon_live = redis_live = false;
    return 0;
}

/* DEBUG SLEEP needs the DEBUG command, off by default since Redis 7. */
static const char *const debug_args[] = { "--enable-debug-command", "yes",
                                          NULL };

static void start_redis(void)
{
    memset(&rs, 0, sizeof(rs));
    assert_int_equal(harness_redis_start_args(&rs, debug_args), 0);
    redis_live = true;
}

static void config_text(char *buf, size_t len, unsigned lease_ms,
                        unsigned renew_ms, const char *password)
{
    snprintf(buf, len,
             "log_level: info\n"
             "grace: 60s\n"
             "redis:\n"
             "  enabled: true\n"
             "  durability: redis\n"
             "  port: %d\n"
             "  tenant: " TENANT "\n"
             "  lease: %ums\n"
             "  renew: %ums\n"
             "  connect_timeout: 300ms\n"
             "  command_timeout: 1s\n"
             "  reconnect_min: 20ms\n"
             "  reconnect_max: 200ms\n"
             "%s%s%s"
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
             rs.port, lease_ms, renew_ms,
             password ? "  password: \"" : "", password ? password : "",
             password ? "\"\n" : "");
}

static void start_daemon(const char *cfg, bool wait_serving)
{
    memset(&dm, 0, sizeof(dm));
    assert_int_equal(harness_daemon_start(&dm, cfg, NULL), 0);
    daemon_live = true;
    if (wait_serving && !harness_daemon_log_contains(&dm, "serving clients",
                                                     10000)) {
        harness_daemon_dump_log(&dm);
        fail_msg("the engine does not serve");
    }
}

/* Sends a ContactArrived and waits for its reply: 0 (Ack) or the error
 * code, the message in msg. */
static int contact_msg(struct e2e_client *c, const char *id, char *msg,
                       size_t len)
{
    uint64_t rid = e2e_send_contact(c, id, "sales", E2E_VOICE);
    assert_true(rid != 0);
    return e2e_reply_msg(c, rid, 10000, msg, len);
}

/* Sends the ContactArrived again and again while it is answered with the
 * retryable STATE_UNAVAILABLE, until it is acknowledged (bounded). The
 * connection must stay open throughout. */
static void contact_until_acked(struct e2e_client *c, const char *id)
{
    char msg[512];
    int rc = e2e_contact_until_acked(c, id, "sales", 15000, msg, sizeof(msg));
    if (rc != 0) {
        harness_daemon_dump_log(&dm);
        fail_msg("%s: %d (%s)", id, rc, msg);
    }
}

static bool contact_in_redis(redisContext *r, const char *id)
{
    return peek_has(r, TENANT, 'c', id);
}

/* ---- 1: Redis comes back empty ---- */

#define NEMPTY 300

/* Contacts acknowledged, one of them assigned, an agent logged in; Redis
 * is killed and restarted with an empty directory. The engine must notice
 * (fence counter below its token), write everything back, and only then
 * acknowledge a new contact; a new engine started after kill -9 of this
 * one recovers every acknowledged contact and the agent. */
static void test_redis_comes_back_empty(void **state)
{
    char cfg[2048], id[32], v[64];
    struct e2e_client sw, desk;

    start_redis();
    config_text(cfg, sizeof(cfg), 1000, 250, NULL);
    start_daemon(cfg, true);
    e2e_open_hello(&sw, dm.port, "pbx-1", ROLE(SWITCH), false);
    e2e_open_hello(&desk, dm.port, "desk-1", ROLE(AGENT), false);
    assert_int_equal(e2e_agent_login(&desk, "a1", "support", 5, 1, 0), 0);
    for (int i = 0; i < NEMPTY; i++) {
        snprintf(id, sizeof(id), "c%03d", i);
        assert_int_equal(e2e_contact(&sw, id, "sales", E2E_VOICE), 0);
    }
    assert_int_equal(e2e_contact(&sw, "s000", "support", E2E_VOICE), 0);
    ccr_envelope *o = e2e_wait_offer(&desk, "s000", E2E_T_MS);
    assert_non_null(o);
    ccr_free(o);
    assert_int_equal(e2e_simple(&desk, BODY(OFFER_ACCEPTED), "s000", "a1"),
                     0);
    redisContext *r = e2e_redis(rs.port);
    assert_int_equal(peek_n(r, TENANT, 'c'),
                     NEMPTY + 1);
    redisFree(r);

    /* Redis loses everything: killed, its AOF removed, started again */
    harness_redis_kill(&rs);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s/appendonlydir' '%s/dump.rdb'",
             rs.dir, rs.dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(harness_redis_restart(&rs), 0);
    r = e2e_redis(rs.port);

    e2e_expect_log(&dm, "REDIS LOST THIS ENGINE'S STATE", 10000);
    snprintf(v, sizeof(v), "%d contacts, 1 agents", NEMPTY + 1);
    e2e_expect_log(&dm, v, E2E_T_MS);
    assert_int_equal(
        harness_daemon_log_count(&dm, "REDIS LOST THIS ENGINE'S STATE"), 1);

    /* a new contact is acknowledged only after the whole state is back:
     * the moment it is, every earlier contact is in Redis */
    contact_until_acked(&sw, "post");
    for (int i = 0; i < NEMPTY; i++) {
        snprintf(id, sizeof(id), "c%03d", i);
        if (!contact_in_redis(r, id))
            fail_msg("acknowledged contact %s is not back in Redis", id);
    }
    assert_true(contact_in_redis(r, "post"));
    assert_true(contact_in_redis(r, "s000"));
    assert_true(peek_field(r, TENANT, 'c', "s000", "state", v,
                           sizeof(v)));
    assert_string_equal(v, "3");                     /* still assigned */
    assert_true(peek_field(r, TENANT, 'c', "s000", "agent", v,
                           sizeof(v)));
    assert_string_equal(v, "a1");
    assert_true(peek_field(r, TENANT, 'c', "c000", "owner", v,
                           sizeof(v)));
    assert_string_equal(v, "pbx-1");
    assert_int_equal(peek_has(r, TENANT, 'a', "a1"), 1);
    assert_true(peek_field(r, TENANT, 'a', "a1", "login", v,
                           sizeof(v)));
    assert_true(v[0] != '\0');
    assert_int_equal(peek_n(r, TENANT, 'c'),
                     NEMPTY + 2);
    /* the clients were never cut */
    e2e_fence(&sw);
    e2e_fence(&desk);

    /* kill -9 and a new engine: everything acknowledged is recovered */
    harness_daemon_kill(&dm);
    e2e_close(&sw);
    e2e_close(&desk);
    assert_int_equal(harness_daemon_restart(&dm, NULL), 0);
    snprintf(v, sizeof(v), "loaded 1 agents, %d contacts", NEMPTY + 2);
    e2e_expect_log(&dm, v, 10000);
    redisFree(r);
}

/* FLUSHALL under a connected engine: the next lease renewal or write
 * batch finds the generation marker gone, and the state is written back
 * in the same way. */
static void test_redis_flushed_while_connected(void **state)
{
    char cfg[2048], id[32];
    struct e2e_client sw;

    start_redis();
    config_text(cfg, sizeof(cfg), 1000, 250, NULL);
    start_daemon(cfg, true);
    e2e_open_hello(&sw, dm.port, "pbx-1", ROLE(SWITCH), false);
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof(id), "f%02d", i);
        assert_int_equal(e2e_contact(&sw, id, "sales", E2E_VOICE), 0);
    }
    redisContext *r = e2e_redis(rs.port);
    redisReply *rep = redisCommand(r, "FLUSHALL");
    assert_non_null(rep);
    freeReplyObject(rep);
    e2e_expect_log(&dm, "REDIS LOST THIS ENGINE'S STATE", 10000);
    contact_until_acked(&sw, "after");
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof(id), "f%02d", i);
        if (!contact_in_redis(r, id))
            fail_msg("acknowledged contact %s is not back in Redis", id);
    }
    assert_true(contact_in_redis(r, "after"));
    e2e_fence(&sw);
    e2e_close(&sw);
    redisFree(r);
    assert_int_equal(harness_daemon_stop(&dm, 5000), 0);
    daemon_live = false;
}

/* ---- 2: a short pause keeps the connections ---- */

static void pause_common(bool debug_sleep)
{
    char cfg[2048], id[32], msg[512];
    struct e2e_client sw, desk, late;

    start_redis();
    config_text(cfg, sizeof(cfg), 600, 150, NULL);
    start_daemon(cfg, true);
    e2e_open_hello(&sw, dm.port, "pbx-1", ROLE(SWITCH), false);
    e2e_open_hello(&desk, dm.port, "desk-1", ROLE(AGENT), false);
    assert_int_equal(e2e_agent_login(&desk, "a1", "support", 5, 1, 0), 0);
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof(id), "pre%d", i);
        assert_int_equal(e2e_contact(&sw, id, "sales", E2E_VOICE), 0);
    }

    static const char lapse[] = "lease renewal not confirmed before expiry (";
    static const char resumes[] = "routing resumes";
    int lapses = harness_daemon_log_count(&dm, lapse);
    int resumed = harness_daemon_log_count(&dm, resumes);
    redisContext *sleeper = NULL;
    if (debug_sleep) {
        /* DEBUG SLEEP without waiting for its reply */
        sleeper = e2e_redis(rs.port);
        assert_int_equal(redisAppendCommand(sleeper, "DEBUG SLEEP 4"),
                         REDIS_OK);
        int done = 0;
        while (!done)
            assert_int_equal(redisBufferWrite(sleeper, &done), REDIS_OK);
    } else {
        assert_int_equal(e2e_redis_term(&rs, 10000), 0);
    }

    /* the lease lapses by the engine's clock: suspended, not standby */
    e2e_expect_log_count(&dm, lapse, lapses + 1, 10000);
    int rc = contact_msg(&sw, "during", msg, sizeof(msg));
    if (rc != EC(STATE_UNAVAILABLE)) {
        harness_daemon_dump_log(&dm);
        fail_msg("during the pause: %d (%s)", rc, msg);
    }
    assert_non_null(strstr(msg, "retry"));
    if (!debug_sleep)
        assert_non_null(strstr(msg, "not reachable"));
    /* a client that connects now is taken, not told NOT_OWNER */
    assert_int_equal(e2e_open(&late, dm.port), 0);
    rc = e2e_hello(&late, "wall", ROLE(MONITOR), false, msg, sizeof(msg),
                   E2E_T_MS);
    if (rc != 0)
        fail_msg("Hello during the pause: %d (%s)", rc, msg);
    e2e_fence(&desk);

    if (debug_sleep) {
        redisReply *rep = NULL;
        struct timeval tv = { 20, 0 };
        redisSetTimeout(sleeper, tv);
        assert_int_equal(redisGetReply(sleeper, (void **)&rep), REDIS_OK);
        freeReplyObject(rep);
        redisFree(sleeper);
    } else {
        assert_int_equal(harness_redis_restart(&rs), 0);
    }

    contact_until_acked(&sw, "during");
    e2e_expect_log_count(&dm, resumes, resumed + 1, E2E_T_MS);
    assert_int_equal(harness_daemon_log_count(&dm, "lease lost"), 0);
    /* nobody was cut: the same connections answer */
    e2e_fence(&sw);
    e2e_fence(&desk);
    e2e_fence(&late);
    assert_false(sw.eof);
    assert_false(desk.eof);

    redisContext *r = e2e_redis(rs.port);
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof(id), "pre%d", i);
        assert_true(contact_in_redis(r, id));
    }
    assert_true(contact_in_redis(r, "during"));
    assert_int_equal(peek_has(r, TENANT, 'a', "a1"), 1);
    redisFree(r);
    e2e_close(&late);
    e2e_close(&desk);
    e2e_close(&sw);
    assert_int_equal(harness_daemon_stop(&dm, 5000), 0);
    daemon_live = false;
}

static void test_pause_debug_sleep(void **state)
{
    pause_common(true);
}

static void test_pause_redis_restart(void **state)
{
    pause_common(false);
}

/* ---- 3: Redis refuses writes ---- */

static long long oom_errors(redisContext *r)
{
    redisReply *rep = redisCommand(r, "INFO errorstats");
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    const char *p = strstr(rep->str, "errorstat_OOM:count=");
    long long n = p ? atoll(p + strlen("errorstat_OOM:count=")) : 0;
    freeReplyObject(rep);
    return n;
}

static void test_redis_refuses_writes(void **state)
{
    char cfg[2048], id[32], msg[512];
    struct e2e_client sw;

    start_redis();
    config_text(cfg, sizeof(cfg), 2000, 500, NULL);
    start_daemon(cfg, true);
    e2e_open_hello(&sw, dm.port, "pbx-1", ROLE(SWITCH), false);
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof(id), "pre%d", i);
        assert_int_equal(e2e_contact(&sw, id, "sales", E2E_VOICE), 0);
    }
    redisContext *r = e2e_redis(rs.port);
    assert_int_equal(peek_n(r, TENANT, 'c'), 5);
    redisReply *rep = redisCommand(r, "CONFIG SET maxmemory-policy "
                                      "noeviction");
    freeReplyObject(rep);
    rep = redisCommand(r, "CONFIG SET maxmemory 1");
    freeReplyObject(rep);

    /* admitted, but its write is refused: answered with the reason */
    int rc = contact_msg(&sw, "oom1", msg, sizeof(msg));
    if (rc != EC(STATE_UNAVAILABLE))
        fail_msg("oom1: %d (%s)", rc, msg);
    assert_non_null(strstr(msg, "redis refuses writes"));
    assert_non_null(strstr(msg, "OOM"));
    /* and from now on refused at admission, with the reason */
    rc = contact_msg(&sw, "oom2", msg, sizeof(msg));
    assert_int_equal(rc, EC(STATE_UNAVAILABLE));
    assert_non_null(strstr(msg, "redis refuses writes"));
    assert_non_null(strstr(msg, "nothing was changed"));

    /* the engine retries (Redis counts the refusals) and says so once */
    long long deadline = harness_now_ms() + 15000;
    while (oom_errors(r) < 5) {
        if (harness_now_ms() > deadline)
            fail_msg("the engine does not retry (%lld OOM errors)",
                     oom_errors(r));
        harness_pause_ms(20);         /* poll interval */
    }
    assert_int_equal(harness_daemon_log_count(&dm, "refuses writes ("), 1);
    assert_int_equal(harness_daemon_log_count(&dm, "reconnecting"), 0);
    assert_int_equal(harness_daemon_log_count(&dm, "disconnected"), 0);
    e2e_fence(&sw);

    /* Redis takes writes again: the engine recovers by itself */
    rep = redisCommand(r, "CONFIG SET maxmemory 0");
    freeReplyObject(rep);
    contact_until_acked(&sw, "oom2");
    e2e_expect_log(&dm, "accepts writes again", E2E_T_MS);
    /* the refused-but-kept change is written too */
    assert_true(contact_in_redis(r, "oom1"));
    assert_true(contact_in_redis(r, "oom2"));
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof(id), "pre%d", i);
        assert_true(contact_in_redis(r, id));
    }
    /* retrying oom1 now is answered once durable: Ack */
    assert_int_equal(contact_msg(&sw, "oom1", msg, sizeof(msg)), 0);
    assert_false(sw.eof);
    redisFree(r);
    e2e_close(&sw);
    assert_int_equal(harness_daemon_stop(&dm, 5000), 0);
    daemon_live = false;
}

/* A read-only replica (REPLICAOF a master that does not answer): the
 * lease renewal and the writes are refused READONLY, the lease lapses by
 * the engine's clock (suspended: connections kept, changes refused with
 * the reason), and REPLICAOF NO ONE brings everything back in the same
 * term. */
static void test_redis_read_only(void **state)
{
    char cfg[2048], id[32], msg[512];
    struct e2e_client sw;

    start_redis();
    config_text(cfg, sizeof(cfg), 600, 150, NULL);
    start_daemon(cfg, true);
    e2e_open_hello(&sw, dm.port, "pbx-1", ROLE(SWITCH), false);
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof(id), "pre%d", i);
        assert_int_equal(e2e_contact(&sw, id, "sales", E2E_VOICE), 0);
    }
    redisContext *r = e2e_redis(rs.port);
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "REPLICAOF 127.0.0.1 %d",
             harness_free_port());
    redisReply *rep = redisCommand(r, cmd);
    assert_non_null(rep);
    freeReplyObject(rep);

    e2e_expect_log(&dm, "refuses writes (lease: READONLY", 10000);
    e2e_expect_log(&dm, "lease renewal not confirmed before expiry (", 10000);
    int rc = contact_msg(&sw, "ro1", msg, sizeof(msg));
    assert_int_equal(rc, EC(STATE_UNAVAILABLE));
    assert_non_null(strstr(msg, "READONLY"));
    assert_int_equal(harness_daemon_log_count(&dm, "refuses writes ("), 1);
    e2e_fence(&sw);

    rep = redisCommand(r, "REPLICAOF NO ONE");
    assert_non_null(rep);
    freeReplyObject(rep);
    contact_until_acked(&sw, "ro1");
    e2e_expect_log(&dm, "routing resumes", E2E_T_MS);
    assert_int_equal(harness_daemon_log_count(&dm, "lease lost"), 0);
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof(id), "pre%d", i);
        assert_true(contact_in_redis(r, id));
    }
    assert_true(contact_in_redis(r, "ro1"));
    assert_false(sw.eof);
    redisFree(r);
    e2e_close(&sw);
    assert_int_equal(harness_daemon_stop(&dm, 5000), 0);
    daemon_live = false;
}

/* ---- 4: wrong password ---- */

static void test_redis_wrong_password(void **state)
{
    char cfg[2048], msg[512], dir[256], log[600];
    struct e2e_client c;

    start_redis();
    redisContext *r = e2e_redis(rs.port);
    redisReply *rep = redisCommand(r, "CONFIG SET requirepass s3cret");
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    redisFree(r);

    config_text(cfg, sizeof(cfg), 600, 150, "wrong");
    start_daemon(cfg, false);
    e2e_expect_log(&dm, "redis authentication failed", 10000);
    /* a client is told why, not NOT_OWNER ... owner at (unknown) */
    assert_int_equal(e2e_open(&c, dm.port), 0);
    int rc = e2e_hello(&c, "pbx-1", ROLE(SWITCH), false, msg, sizeof(msg),
                       E2E_T_MS);
    if (rc != EC(STATE_UNAVAILABLE) ||
        !strstr(msg, "redis authentication failed") ||
        strstr(msg, "(unknown)")) {
        harness_daemon_dump_log(&dm);
        fail_msg("Hello: %d (%s)", rc, msg);
    }
    e2e_close(&c);
    int n = harness_daemon_log_count(&dm, "redis authentication failed");
    if (n != 1) {
        harness_daemon_dump_log(&dm);
        fail_msg("%d log lines say \"redis authentication failed\"", n);
    }

    /* --check-config --check-redis: without serving */
    assert_int_equal(harness_tmpdir(dir, sizeof(dir), "ccroute-chk"), 0);
    static const struct {
        const char *name, *password;
        int status;
    } checks[] = {
        { "wrong", "wrong", 1 }, { "right", "s3cret", 0 }, { "none", NULL, 1 },
    };
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
        config_text(cfg, sizeof(cfg), 600, 150, checks[i].password);
        rc = e2e_check_redis(dir, cfg, checks[i].name);
        snprintf(log, sizeof(log), "%s/%s.log", dir, checks[i].name);
        if (rc != checks[i].status ||
            (rc != 0 && !harness_log_contains(log, "redis authentication "
                                              "failed", 0))) {
            harness_log_dump(log);
            fail_msg("--check-redis with password %s: exit %d",
                     checks[i].password ? checks[i].password : "(none)",
                     rc);
        }
    }
    harness_rm_rf(dir);

    assert_int_equal(harness_daemon_stop(&dm, 5000), 0);
    daemon_live = false;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_redis_comes_back_empty, teardown),
        cmocka_unit_test_teardown(test_redis_flushed_while_connected,
                                  teardown),
        cmocka_unit_test_teardown(test_pause_debug_sleep, teardown),
        cmocka_unit_test_teardown(test_pause_redis_restart, teardown),
        cmocka_unit_test_teardown(test_redis_refuses_writes, teardown),
        cmocka_unit_test_teardown(test_redis_read_only, teardown),
        cmocka_unit_test_teardown(test_redis_wrong_password, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
