/* test-layout.c -- the real ccrouted with the default redis.layout
 * (journal) on a tenant an engine stored as hashes, and the reverse
 * (docs/redis.md, "Changing the layout"): the engine does not own the
 * tenant, logs which setting to change, writes nothing, and answers a
 * Hello with STATE_UNAVAILABLE saying why; an engine with the tenant's
 * layout then takes it with everything acknowledged.
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

/* arg: the layout line's value, or "" for none (the default). */
static void config_text(char *buf, size_t len, int redis_port,
                        const void *arg)
{
    const char *layout = arg;
    char line[64] = "";
    if (layout[0])
        snprintf(line, sizeof(line), "  layout: %s\n", layout);
    snprintf(buf, len,
             "log_level: info\n"
             "grace: 60s\n"
             "redis:\n"
             "  enabled: true\n"
             "  port: %d\n"
             "  tenant: ly\n"
             "  lease: 600ms\n"
             "%s"
             "queues:\n"
             "  - name: q1\n",
             redis_port, line);
}

static int setup_hashes(void **state)
{
    return e2e_env_start(state, true, config_text, "hashes");
}

static int setup_default(void **state)
{
    return e2e_env_start(state, true, config_text, "");
}

/* Keys of tenant ly but its lease (the killed engine's lease expires,
 * the refusing engine takes it and gives it back). */
static size_t state_keys(redisContext *r)
{
    redisReply *k = redisCommand(r, "KEYS ccr:{ly}:*");
    assert_non_null(k);
    size_t n = 0;
    for (size_t i = 0; i < k->elements; i++)
        n += strcmp(k->element[i]->str, "ccr:{ly}:lease") != 0;
    freeReplyObject(k);
    return n;
}

/* The lease key is gone (the refusing engine gave it back), polled. */
static bool lease_free(redisContext *r, int timeout_ms)
{
    long long t0 = harness_now_ms();
    do {
        if (e2e_rint(r, "EXISTS ccr:{ly}:lease") == 0)
            return true;
        harness_pause_ms(10);
    } while (harness_now_ms() - t0 < timeout_ms);
    return false;
}

/* The env's engine (layout `stored`) acknowledges two contacts and stops
 * cleanly; an engine with layout `other` ("" for the default) starts on
 * the same Redis and refuses the tenant; the first engine starts again
 * and serves both contacts. */
static void refused_then_served(struct e2e_env *env, const char *stored,
                                const char *other, const char *other_name)
{
    struct harness_daemon *d = &env->d;
    struct e2e_client sw;
    char want[300], msg[300], cfg[1024];
    e2e_expect_log(d, "serving clients", 5000);
    e2e_open_hello(&sw, d->port, "pbx-1", E2E_ROLE(SWITCH), false);
    assert_int_equal(e2e_contact(&sw, "k1", "q1", E2E_VOICE), 0);
    assert_int_equal(e2e_contact(&sw, "k2", "q1", E2E_VOICE), 0);
    e2e_close(&sw);
    assert_int_equal(peek_n(env->r, "ly", 'c'), 2);
    harness_daemon_kill(d);

    struct peek *before = peek_read(env->r, "ly");
    assert_int_equal(before->layout, !strcmp(stored, "journal") ? 'j' : 'h');
    peek_free(before);
    size_t nkeys = state_keys(env->r);

    struct harness_daemon o;
    config_text(cfg, sizeof(cfg), env->redis.port, other);
    assert_int_equal(harness_daemon_start(&o, cfg, NULL), 0);
    snprintf(want, sizeof(want), "tenant ly is stored in the %s layout but "
             "this engine has redis.layout: %s; not taking it", stored,
             other_name);
    if (!harness_daemon_log_contains(&o, want, 10000)) {
        harness_daemon_dump_log(&o);
        fail_msg("no line \"%s\"", want);
    }
    assert_true(harness_daemon_log_contains(&o, "Set redis.layout: ", 0));
    struct e2e_client early;
    assert_int_equal(e2e_open(&early, o.port), 0);
    int rc = e2e_hello(&early, "pbx-1", E2E_ROLE(SWITCH), true, msg,
                       sizeof(msg), E2E_T_MS);
    e2e_close(&early);
    assert_int_equal(rc, E2E_EC(STATE_UNAVAILABLE));
    snprintf(want, sizeof(want), "stored in the %s layout and redis.layout "
             "is %s", stored, other_name);
    if (!strstr(msg, want))
        fail_msg("Hello: \"%s\", expected it to say \"%s\"", msg, want);
    /* the lease given back; none of the state written (the lease script
     * moved the fence counter and the marker, as for any term): the same
     * keys, the same contacts */
    assert_true(lease_free(env->r, 5000));
    assert_int_equal(state_keys(env->r), nkeys);
    assert_true(peek_has(env->r, "ly", 'c', "k1"));
    assert_true(peek_has(env->r, "ly", 'c', "k2"));

    /* the engine with the tenant's layout takes it whole, the refusing
     * one still running beside it */
    assert_int_equal(harness_daemon_restart(d, NULL), 0);
    e2e_expect_log(d, "loaded 0 agents, 2 contacts", 10000);
    e2e_open_hello_retry(&sw, d->port, "pbx-1", E2E_ROLE(SWITCH), true);
    assert_int_equal(e2e_simple(&sw, E2E_BODY(CONTACT_ABANDONED), "k1",
                                NULL), 0);
    e2e_close(&sw);
    assert_false(peek_has(env->r, "ly", 'c', "k1"));
    assert_true(peek_has(env->r, "ly", 'c', "k2"));
    assert_true(harness_daemon_log_contains(&o, "not taking it", 0));
    assert_int_equal(harness_daemon_stop(&o, 5000), 0);
}

/* An engine upgraded to the journal default on a tenant kept as hashes. */
static void test_default_on_hashes(void **state)
{
    refused_then_served(*state, "hashes", "", "journal");
}

/* The default's tenant (a journal), and an engine set to hashes. */
static void test_hashes_on_journal(void **state)
{
    refused_then_served(*state, "journal", "hashes", "hashes");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_default_on_hashes, setup_hashes,
                                        e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_hashes_on_journal,
                                        setup_default, e2e_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
