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
#include <hiredis.h>

#include "client.h"
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_recovery),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
