/* test-shutdown.c -- end to end: graceful shutdown (SIGTERM) and drain,
 * with the real ccrouted and a real redis-server (tests/harness.h).
 *
 * Shutdown: two engines on one Redis, A the owner and B a standby, with
 * a lease of 30 s. A gets a burst of contacts and SIGTERM in the middle of
 * it. Then: every contact A acknowledged is in Redis (and in B's router
 * once B owns the tenant), every other request was answered with a
 * retryable Error or not read at all, A exits 0, and B owns the tenant
 * under a new fencing token -- which, with a lease of 30 s and B's lease
 * round of 100 ms, only happens before the expiry because A released the
 * lease. The wait for B has a deadline well under the lease, so a missing
 * release fails the test instead of passing late.
 *
 * Redis stuck: the same engine alone, Redis stopped (SIGSTOP) with a
 * write in flight when SIGTERM comes: a request during the wait is
 * refused, the waiting one gets an Error when the store gives up, never
 * an Ack, and the engine still exits 0.
 */
#include <setjmp.h>
#include <signal.h>
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
#define TENANT "sd"
#define NBURST 150

static struct harness_daemon *live_d[2];
static struct harness_redis *live_r;
static int nlive_d;

static void track_daemon(struct harness_daemon *d)
{
    memset(d, 0, sizeof(*d));
    assert_true(nlive_d < 2);
    live_d[nlive_d++] = d;
}

static int teardown(void **state)
{
    if (live_r && live_r->proc.pid)
        kill(live_r->proc.pid, SIGCONT);   /* a test may have stopped it */
    for (int i = 0; i < nlive_d; i++) {
        harness_daemon_kill(live_d[i]);   /* no-op when stopped */
        harness_daemon_cleanup(live_d[i]);
    }
    nlive_d = 0;
    if (live_r)
        harness_redis_stop(live_r);
    live_r = NULL;
    return 0;
}

static void config_text(char *buf, size_t len, int redis_port)
{
    snprintf(buf, len,
             "log_level: info\n"
             "grace: 60s\n"
             "limits: {shutdown_timeout: 4s}\n"
             "redis:\n"
             "  enabled: true\n"
             "  durability: redis\n"
             "  port: %d\n"
             "  tenant: " TENANT "\n"
             "  lease: 30s\n"
             "  renew: 100ms\n"
             "  connect_timeout: 500ms\n"
             "  command_timeout: 2s\n"
             "  reconnect_min: 20ms\n"
             "  reconnect_max: 200ms\n"
             "routing: {max_agents: 100, max_contacts: 2000}\n"
             "skills: [sales]\n"
             "queues:\n"
             "  - name: sales\n"
             "    skills: {sales: 1}\n"
             "    channels: [voice, chat]\n",
             redis_port);
}

/* The lease key's value ("token|address"), or "" when there is none. */
static void lease_value(redisContext *r, char *buf, size_t len)
{
    redisReply *rep = redisCommand(r, "GET ccr:{" TENANT "}:lease");
    assert_non_null(rep);
    snprintf(buf, len, "%s", rep->type == REDIS_REPLY_STRING ? rep->str : "");
    freeReplyObject(rep);
}

static bool contact_in_redis(redisContext *r, const char *id)
{
    return peek_has(r, TENANT, 'c', id);
}

static void test_sigterm_hands_over(void **state)
{
    static struct harness_redis rs;
    static struct harness_daemon da, db;
    static uint64_t req[NBURST];
    struct e2e_client sw, mon;
    char cfg[2048], listen_a[64], listen_b[64], lease[128], id[32];
    int acked = 0, refused = 0, unanswered = 0;

    memset(&rs, 0, sizeof(rs));
    live_r = &rs;
    assert_int_equal(harness_redis_start(&rs), 0);
    config_text(cfg, sizeof(cfg), rs.port);
    int pa = harness_free_port(), pb = harness_free_port();
    assert_true(pa > 0 && pb > 0 && pa != pb);
    snprintf(listen_a, sizeof(listen_a), "127.0.0.1:%d", pa);
    snprintf(listen_b, sizeof(listen_b), "127.0.0.1:%d", pb);
    const char *args_a[] = { "--listen", listen_a, NULL };
    const char *args_b[] = { "--listen", listen_b, NULL };
    track_daemon(&da);
    track_daemon(&db);
    assert_int_equal(harness_daemon_start(&da, cfg, args_a), 0);
    e2e_expect_log(&da, "serving clients", 10000);
    assert_int_equal(harness_daemon_start(&db, cfg, args_b), 0);
    e2e_expect_log(&db, "standby", 10000);

    redisContext *r = e2e_redis(rs.port);
    lease_value(r, lease, sizeof(lease));
    unsigned long long tok_a = strtoull(lease, NULL, 10);
    assert_true(tok_a > 0);
    assert_non_null(strstr(lease, listen_a));

    /* a few acknowledged one by one, then a burst and SIGTERM inside it */
    e2e_open_hello(&sw, pa, "pbx-1", ROLE(SWITCH), false);
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof(id), "c%03d", i);
        assert_int_equal(e2e_contact(&sw, id, "sales", E2E_VOICE), 0);
    }
    for (int i = 10; i < NBURST; i++) {
        snprintf(id, sizeof(id), "c%03d", i);
        req[i] = e2e_send_contact(&sw, id, "sales", E2E_VOICE);
        assert_true(req[i] != 0);
        if (i == NBURST / 2)
            assert_int_equal(kill(da.proc.pid, SIGTERM), 0);
    }
    /* everything A answers before it closes the connection */
    while (e2e_pump(&sw, E2E_T_MS) == 0)
        ;
    assert_true(sw.eof);
    acked = 10;
    for (int i = 10; i < NBURST; i++) {
        ccr_envelope *e = e2e_wait(&sw, BODY(ACK), req[i], 0);
        if (e) {
            ccr_free(e);
            acked++;
            snprintf(id, sizeof(id), "c%03d", i);
            if (!contact_in_redis(r, id))
                fail_msg("contact %s was acknowledged but is not in Redis",
                         id);
            continue;
        }
        e = e2e_wait(&sw, BODY(ERROR), req[i], 0);
        if (e) {
            /* refused while shutting down: retryable, nothing changed */
            assert_int_equal(e->error->code, EC(STATE_UNAVAILABLE));
            assert_non_null(strstr(e->error->message, "shutting down"));
            ccr_free(e);
            refused++;
            snprintf(id, sizeof(id), "c%03d", i);
            assert_false(contact_in_redis(r, id));
        } else {
            unanswered++;       /* not read before the close */
        }
    }
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof(id), "c%03d", i);
        assert_true(contact_in_redis(r, id));
    }
    fprintf(stderr, "shutdown: %d acked, %d refused, %d unanswered of %d\n",
            acked, refused, unanswered, NBURST);
    e2e_close(&sw);

    /* A exits 0, having confirmed the writes before stopping its store */
    assert_int_equal(harness_proc_wait(&da.proc, 15000), 0);
    e2e_expect_log(&da, "shutting down", 0);
    e2e_expect_log(&da, "stores stopped", 0);

    /* B takes the tenant at its next lease round, not after 30 s */
    e2e_expect_log(&db, "this engine owns the tenant", 10000);
    lease_value(r, lease, sizeof(lease));
    unsigned long long tok_b = strtoull(lease, NULL, 10);
    if (tok_b <= tok_a || !strstr(lease, listen_b))
        fail_msg("lease after the takeover: \"%s\" (A's token was %llu)",
                 lease, tok_a);
    /* the lease is fresh: B took it, it did not wait for A's to lapse */
    long long pttl = e2e_rint(r, "PTTL ccr:{" TENANT "}:lease");
    assert_true(pttl > 20000);

    /* B holds every contact in Redis, the acknowledged ones among them */
    long long in_redis = peek_n(r, TENANT, 'c');
    assert_true(in_redis >= acked);
    e2e_open_hello_retry(&mon, pb, "wallboard", ROLE(MONITOR), false);
    ccr_envelope *st = e2e_stats(&mon);
    assert_int_equal(st->stats->contacts_waiting, in_redis);
    ccr_free(st);
    e2e_close(&mon);
    redisFree(r);
    assert_int_equal(harness_daemon_stop(&db, 10000), 0);
}

/* Redis stops answering (SIGSTOP) with a contact's write in flight, then
 * SIGTERM: the engine waits limits.shutdown_timeout for the write, and
 * meanwhile refuses a new request with "shutting down"; then it stops its
 * store anyway, and the request that waited gets an Error, never an Ack;
 * it exits 0. */
static void test_sigterm_redis_stuck(void **state)
{
    static struct harness_redis rs;
    static struct harness_daemon da;
    struct e2e_client sw;
    char cfg[2048], msg[256];

    memset(&rs, 0, sizeof(rs));
    live_r = &rs;
    assert_int_equal(harness_redis_start(&rs), 0);
    config_text(cfg, sizeof(cfg), rs.port);
    track_daemon(&da);
    assert_int_equal(harness_daemon_start(&da, cfg, NULL), 0);
    e2e_expect_log(&da, "serving clients", 10000);
    e2e_open_hello(&sw, da.port, "pbx-1", ROLE(SWITCH), false);
    assert_int_equal(e2e_contact(&sw, "k0", "sales", E2E_VOICE), 0);

    assert_int_equal(kill(rs.proc.pid, SIGSTOP), 0);
    uint64_t id1 = e2e_send_contact(&sw, "k1", "sales", E2E_VOICE);
    assert_true(id1 != 0);
    /* the Stats behind it is answered at once: k1 was admitted and waits
     * for Redis (the engine answers one connection's requests in order) */
    ccr_free(e2e_stats(&sw));
    assert_int_equal(kill(da.proc.pid, SIGTERM), 0);
    e2e_expect_log(&da, "shutdown: no new connections", 10000);
    /* while it waits for Redis: a new request is refused, not dispatched */
    uint64_t id2 = e2e_send_contact(&sw, "k2", "sales", E2E_VOICE);
    assert_true(id2 != 0);
    assert_int_equal(e2e_reply_msg(&sw, id2, 10000, msg, sizeof(msg)),
                     EC(STATE_UNAVAILABLE));
    assert_non_null(strstr(msg, "shutting down"));
    /* then the store stops without Redis: k1 fails, with no Ack */
    assert_int_equal(e2e_reply_msg(&sw, id1, 15000, msg, sizeof(msg)),
                     EC(STATE_UNAVAILABLE));
    assert_non_null(strstr(msg, "durable"));
    e2e_expect_log(&da, "still unconfirmed after", 0);
    /* and the connection is closed after the replies */
    while (e2e_pump(&sw, 10000) == 0)
        ;
    assert_true(sw.eof);
    e2e_close(&sw);
    assert_int_equal(harness_proc_wait(&da.proc, 15000), 0);
    assert_int_equal(kill(rs.proc.pid, SIGCONT), 0);
    /* what was acknowledged is there */
    redisContext *r = e2e_redis(rs.port);
    assert_true(contact_in_redis(r, "k0"));
    assert_false(contact_in_redis(r, "k2"));
    redisFree(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_sigterm_hands_over, teardown),
        cmocka_unit_test_teardown(test_sigterm_redis_stuck, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
