/* test-reload.c -- end to end: configuration reload (SIGHUP, the
 * ConfigReload request, `ccroute config reload`) and the log file reopen
 * (SIGUSR1), with the real ccrouted and a real redis-server.
 *
 * Each test keeps one switch connection open across every reload, holds a
 * contact waiting and an offer in flight while the file changes under the
 * engine, and checks afterwards that the connection still works, the
 * waiting contact is still there and the offer can still be accepted:
 * nothing acknowledged is dropped. The new configuration must show in
 * behaviour (a queue's new max_length refuses a contact it took before; a
 * new max_wait + overflow moves the waiting contact) and in Stats
 * (config_generation). A file that does not load and a file that adds a
 * queue but changes a limit are refused whole: generation, behaviour and
 * the queue set stay. The queue set and shapes: a queue added routes at
 * once; a strategy change decides the next offer; a skills change
 * re-evaluates the agents; channels taken from a queue with contacts on
 * them are refused; a queue removed moves its contacts to the
 * reload_fallback with their arrival (in Redis before the Ack) and keeps
 * its offers, or is refused, naming a contact, without one; a kill -9
 * after such a reload gives the same work back.
 * A token rotation: the old token is refused from the reload on, the new
 * one accepted, a session opened with the old one goes on; a principal
 * added is refused. SIGUSR1 after a rename: the log goes to a new file.
 * An admin scoped to one tenant may not reload (FORBIDDEN).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
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
#include "store-peek.h"

#define BODY E2E_BODY
#define EC E2E_EC
#define ROLE E2E_ROLE

/* The queue part of the configuration: `sales_extra` goes under the sales
 * queue, `extra_queue` after the queues (a whole queue, or ""). */
static void config_write(char *buf, size_t len, int redis_port,
                         const char *top, const char *sales_extra,
                         const char *extra_queue)
{
    snprintf(buf, len,
             "log_level: info\n"
             "%s"
             "redis:\n"
             "  enabled: true\n"
             "  durability: redis\n"
             "  port: %d\n"
             "  tenant: reload\n"
             "  reconnect_min: 20ms\n"
             "  reconnect_max: 200ms\n"
             "routing: {max_agents: 100, max_contacts: 1000}\n"
             "queues:\n"
             "  - name: sales\n"
             "    skills: {sales: 1}\n"
             "%s"
             "  - name: support\n"
             "    skills: {support: 1}\n"
             "%s",
             top, redis_port, sales_extra, extra_queue);
}

static void config_cb(char *buf, size_t len, int redis_port, const void *arg)
{
    config_write(buf, len, redis_port, arg ? (const char *)arg : "", "", "");
}

static int setup(void **state)
{
    return e2e_env_start(state, true, config_cb, NULL);
}

static int teardown(void **state)
{
    return e2e_env_teardown(state);
}

/* Rewrites the engine's file (as an operator would, then signals). */
static void rewrite(struct e2e_env *f, const char *top,
                    const char *sales_extra, const char *extra_queue)
{
    char text[4096];
    config_write(text, sizeof(text), f->redis.port, top, sales_extra,
                 extra_queue);
    FILE *fp = fopen(f->d.config, "w");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

static void rewrite_raw(struct e2e_env *f, const char *text)
{
    FILE *fp = fopen(f->d.config, "w");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

static uint64_t generation(struct e2e_client *c, char *err, size_t len)
{
    ccr_envelope *st = e2e_stats(c);
    uint64_t g = st->stats->config_generation;
    if (err)
        snprintf(err, len, "%s", st->stats->config_reload_error
                                     ? st->stats->config_reload_error : "");
    ccr_free(st);
    return g;
}

static unsigned waiting(struct e2e_client *c, const char *queue)
{
    const char *q[] = { queue };
    ccr_envelope *st = e2e_stats_queues(c, q, 1);
    assert_int_equal(st->stats->n_queues, 1);
    unsigned n = st->stats->queues[0]->waiting;
    ccr_free(st);
    return n;
}

/* Polls Stats until the generation is `want` (a SIGHUP is handled on the
 * engine's loop some time after kill() returns). */
static void wait_generation(struct e2e_client *c, uint64_t want)
{
    long long end = harness_now_ms() + E2E_T_MS;
    while (generation(c, NULL, 0) != want) {
        if (harness_now_ms() > end)
            fail_msg("configuration generation %llu never reached",
                     (unsigned long long)want);
        harness_pause_ms(10);
    }
}

static int reload_request(struct e2e_client *c, char *msg, size_t len)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ConfigReload m = CCROUTE__V1__CONFIG_RELOAD__INIT;
    env.body_case = BODY(CONFIG_RELOAD);
    env.config_reload = &m;
    assert_int_equal(ccr_client_send(c->c, &env), 0);
    return e2e_reply_msg(c, env.request_id, E2E_T_MS, msg, len);
}

/* A contact waiting in sales (no sales agent), an offer out to agent a1
 * for a support contact: the work a reload must not drop. */
static void make_work(struct e2e_client *sw)
{
    assert_int_equal(e2e_agent_login(sw, "a1", "support", 5, 1, 0), 0);
    assert_int_equal(e2e_contact(sw, "w1", "sales", E2E_VOICE), 0);
    assert_int_equal(e2e_contact(sw, "o1", "support", E2E_VOICE), 0);
    ccr_envelope *off = e2e_wait_offer(sw, "o1", E2E_T_MS);
    assert_non_null(off);
    ccr_free(off);
}

/* The offer made before the reload is still good, and w1 still waits. */
static void check_work_kept(struct e2e_client *sw, const char *w1_queue)
{
    assert_int_equal(e2e_simple(sw, BODY(OFFER_ACCEPTED), "o1", "a1"), 0);
    ccr_free(e2e_expect(sw, BODY(CONTACT_ASSIGNED), E2E_T_MS));
    assert_int_equal(waiting(sw, w1_queue), 1);
}

/* SIGHUP: sales gets max_length 1 while w1 waits in it. Before, a second
 * sales contact is queued; after, one more is refused QUEUE_FULL. */
static void test_sighup_applies(void **state)
{
    struct e2e_env *f = *state;
    struct e2e_client sw = { 0 };
    e2e_open_hello_retry(&sw, f->d.port, "sw", ROLE(SWITCH), false);
    make_work(&sw);
    assert_int_equal(generation(&sw, NULL, 0), 1);

    rewrite(f, "", "    max_length: 2\n    offer_timeout: 40s\n", "");
    assert_int_equal(kill(f->d.proc.pid, SIGHUP), 0);
    wait_generation(&sw, 2);
    e2e_expect_log(&f->d, "queues sales", E2E_T_MS);

    assert_int_equal(e2e_contact(&sw, "w2", "sales", E2E_VOICE), 0);
    assert_int_equal(e2e_contact(&sw, "w3", "sales", E2E_VOICE),
                     EC(QUEUE_FULL));
    assert_int_equal(waiting(&sw, "sales"), 2);
    assert_int_equal(e2e_simple(&sw, BODY(CONTACT_ABANDONED), "w2", NULL), 0);
    check_work_kept(&sw, "sales");
    e2e_close(&sw);
}

/* The request: a file that does not load and one that adds a queue but
 * changes a limit are refused with their reasons and change nothing; then one that gives
 * sales max_wait + overflow to support applies, and w1 (waiting in
 * sales) moves to support; `ccroute config reload` reports the next
 * generation, and an invalid file makes it exit 1. */
static void test_request_all_or_nothing(void **state)
{
    struct e2e_env *f = *state;
    struct e2e_client sw = { 0 }, adm = { 0 };
    char msg[512], err[512];
    e2e_open_hello_retry(&sw, f->d.port, "sw", ROLE(SWITCH), false);
    e2e_open_hello_retry(&adm, f->d.port, "adm", ROLE(ADMIN), false);
    make_work(&sw);

    /* a switch may not reload */
    assert_int_equal(reload_request(&sw, msg, sizeof(msg)), EC(FORBIDDEN));

    rewrite_raw(f, "queues:\n  - name: sales\n    bogus_key: 1\n");
    assert_int_equal(reload_request(&adm, msg, sizeof(msg)),
                     EC(CONFIG_INVALID));
    assert_non_null(strstr(msg, "bogus_key"));
    assert_non_null(strstr(msg, "nothing changed"));
    assert_int_equal(generation(&adm, err, sizeof(err)), 1);
    assert_non_null(strstr(err, "bogus_key"));

    rewrite(f, "limits: {max_connections: 77}\n",
            "    max_wait: 1ms\n    overflow: support\n",
            "  - name: billing\n    skills: {billing: 1}\n");
    assert_int_equal(reload_request(&adm, msg, sizeof(msg)),
                     EC(CONFIG_NOT_RELOADABLE));
    assert_non_null(strstr(msg, "limits changed"));
    assert_int_equal(generation(&adm, NULL, 0), 1);
    /* nothing applied: no billing queue, and w1 still waits in sales
     * (its max_wait of 1ms would have moved it) */
    assert_int_equal(e2e_contact(&sw, "b1", "billing", E2E_VOICE),
                     EC(UNKNOWN_QUEUE));
    assert_int_equal(waiting(&adm, "sales"), 1);

    rewrite(f, "", "    max_wait: 1ms\n    overflow: support\n", "");
    assert_int_equal(reload_request(&adm, msg, sizeof(msg)), 0);
    assert_int_equal(generation(&adm, err, sizeof(err)), 2);
    assert_string_equal(err, "");
    /* w1 waited past the new max_wait: it moves to support, not dropped */
    long long end = harness_now_ms() + E2E_T_MS;
    while (waiting(&adm, "support") < 1 || waiting(&adm, "sales") != 0) {
        if (harness_now_ms() > end)
            fail_msg("w1 did not move from sales to support");
        harness_pause_ms(10);
    }
    /* o1's offer (to a1, in support) is still good */
    assert_int_equal(e2e_simple(&sw, BODY(OFFER_ACCEPTED), "o1", "a1"), 0);
    ccr_free(e2e_expect(&sw, BODY(CONTACT_ASSIGNED), E2E_T_MS));

    /* the command-line tool, against the same engine */
    char port[32], exe[300], out[400], script[500], line[512] = "";
    const char *b = getenv("CCROUTE_BUILD");
    snprintf(exe, sizeof(exe), "%s/ccroute", b && *b ? b : "build");
    snprintf(port, sizeof(port), "127.0.0.1:%d", f->d.port);
    snprintf(out, sizeof(out), "%s/cli.out", f->d.dir);
    snprintf(script, sizeof(script), "exec \"$@\" >%s 2>&1", out);
    const char *argv[] = { "sh", "-c", script, "sh", exe, "-e", port,
                           "config", "reload", NULL };
    assert_int_equal(harness_run(argv, out, 20000), 0);
    FILE *fp = fopen(out, "r");
    assert_non_null(fp);
    assert_non_null(fgets(line, sizeof(line), fp));
    fclose(fp);
    assert_string_equal(line, "reloaded: configuration generation 3\n");
    rewrite_raw(f, "queues: [\n");
    assert_int_equal(harness_run(argv, out, 20000), 1);
    assert_true(harness_log_contains(out, "CONFIG_INVALID", 0));
    assert_int_equal(generation(&adm, NULL, 0), 3);

    e2e_close(&adm);
    e2e_close(&sw);
}

/* SIGUSR1 after the log file was renamed: the engine writes to a new file
 * under the configured name, the renamed one gets nothing more. */
static void test_log_reopen(void **state)
{
    char dir[256], top[600], path[400], old[420];
    assert_int_equal(harness_tmpdir(dir, sizeof(dir), "ccr-logrot"), 0);
    snprintf(path, sizeof(path), "%s/ccrouted.log", dir);
    snprintf(old, sizeof(old), "%s.1", path);
    snprintf(top, sizeof(top), "log: {file: %s}\n", path);
    void *st = NULL;
    assert_int_equal(e2e_env_start(&st, true, config_cb, top), 0);
    struct e2e_env *f = st;
    struct e2e_client sw = { 0 };
    e2e_open_hello_retry(&sw, f->d.port, "sw", ROLE(SWITCH), false);
    assert_true(harness_log_contains(path, "listening on", E2E_T_MS));

    assert_int_equal(rename(path, old), 0);
    assert_int_equal(kill(f->d.proc.pid, SIGUSR1), 0);
    assert_true(harness_log_contains(path, "reopened", E2E_T_MS));
    /* the engine goes on logging into the new file, not the old one */
    assert_int_equal(kill(f->d.proc.pid, SIGHUP), 0);
    assert_true(harness_log_contains(path, "SIGHUP received", E2E_T_MS));
    assert_false(harness_log_contains(old, "reopened", 0));
    assert_false(harness_log_contains(old, "SIGHUP", 0));
    /* the client still works */
    assert_int_equal(e2e_contact(&sw, "c1", "sales", E2E_VOICE), 0);
    e2e_close(&sw);
    assert_int_equal(e2e_env_teardown(&st), 0);
    harness_rm_rf(dir);
}

/* ---- principals ---- */

#define TOK_ADM "reload-admin-token-0123456789"
#define TOK_SW1 "reload-switch-token-one-0123"
#define TOK_SW2 "reload-switch-token-two-4567"

static void principals(char *buf, size_t len, const char *sw_token,
                       const char *extra)
{
    char a[65], w[65];
    e2e_token_hex(TOK_ADM, a);
    e2e_token_hex(sw_token, w);
    snprintf(buf, len,
             "principals:\n"
             "  - {name: adm, token_sha256: %s, roles: [admin],"
             " clients: [\"adm*\"]}\n"
             "  - {name: sw, token_sha256: %s, roles: [switch],"
             " clients: [\"sw*\"], agents: [\"*\"]%s}\n", a, w, extra);
}

/* Connects and says Hello with a token, again while the engine is still
 * loading its state (STATE_UNAVAILABLE); the Hello's answer. */
static int hello_tok(struct e2e_client *e, int port, const char *name,
                     Ccroute__V1__Role role, const char *token)
{
    long long end = harness_now_ms() + E2E_T_MS;
    for (;;) {
        assert_int_equal(e2e_open(e, port), 0);
        int rc = ccr_client_hello_cred(e->c, name, role, 0, token, E2E_T_MS);
        if (rc != EC(STATE_UNAVAILABLE) || harness_now_ms() > end)
            return rc;
        e2e_close(e);
        harness_pause_ms(20);
    }
}

/* A token rotation: the switch principal's token changes by a reload.
 * The old token is refused from then on, the new one accepted, and the
 * connection that said Hello with the old one goes on working. A reload
 * that adds a principal is refused and changes nothing. */
static void test_token_rotation(void **state)
{
    char top[1024], msg[512];
    void *st = NULL;
    struct e2e_client sw = { 0 }, adm = { 0 }, x = { 0 };
    principals(top, sizeof(top), TOK_SW1, "");
    assert_int_equal(e2e_env_start(&st, true, config_cb, top), 0);
    struct e2e_env *f = st;
    assert_int_equal(hello_tok(&sw, f->d.port, "sw1", ROLE(SWITCH), TOK_SW1),
                     0);
    assert_int_equal(hello_tok(&adm, f->d.port, "adm1", ROLE(ADMIN),
                               TOK_ADM), 0);
    assert_int_equal(e2e_contact(&sw, "w1", "sales", E2E_VOICE), 0);

    principals(top, sizeof(top), TOK_SW2, ", quota: {contacts: 100}");
    rewrite(f, top, "", "");
    assert_int_equal(reload_request(&adm, msg, sizeof(msg)), 0);
    assert_int_equal(generation(&adm, NULL, 0), 2);
    e2e_expect_log(&f->d, "tokens replaced (2 tokens", E2E_T_MS);
    e2e_expect_log(&f->d, "quota of sw", E2E_T_MS);

    assert_int_equal(hello_tok(&x, f->d.port, "sw2", ROLE(SWITCH), TOK_SW1),
                     EC(UNAUTHENTICATED));
    e2e_close(&x);
    assert_int_equal(hello_tok(&x, f->d.port, "sw2", ROLE(SWITCH), TOK_SW2),
                     0);
    e2e_close(&x);
    /* the session opened with the old token keeps working */
    assert_int_equal(e2e_contact(&sw, "w2", "sales", E2E_VOICE), 0);
    assert_int_equal(waiting(&sw, "sales"), 2);

    /* a principal added: refused, the running ones stay */
    principals(top, sizeof(top), TOK_SW2, "");
    strncat(top, "  - {name: mon, token_sha256: "
                 "00000000000000000000000000000000000000000000000000000000"
                 "00000000, roles: [monitor], clients: [\"mon\"]}\n",
            sizeof(top) - strlen(top) - 1);
    rewrite(f, top, "", "");
    assert_int_equal(reload_request(&adm, msg, sizeof(msg)),
                     EC(CONFIG_NOT_RELOADABLE));
    assert_non_null(strstr(msg, "principals: 2 -> 3"));
    assert_int_equal(generation(&adm, NULL, 0), 2);
    assert_int_equal(hello_tok(&x, f->d.port, "sw3", ROLE(SWITCH), TOK_SW2),
                     0);
    e2e_close(&x);

    e2e_close(&sw);
    e2e_close(&adm);
    assert_int_equal(e2e_env_teardown(&st), 0);
}

/* ConfigReload is the whole engine's: an admin principal scoped to one
 * tenant gets FORBIDDEN and nothing is reloaded; an admin without a
 * tenant reloads. */
#define TOK_TADM "reload-tenant-admin-token-89ab"
static void test_reload_scope(void **state)
{
    char top[1536], msg[512], t[65];
    void *st = NULL;
    struct e2e_client adm = { 0 }, tadm = { 0 };
    principals(top, sizeof(top), TOK_SW1, "");
    e2e_token_hex(TOK_TADM, t);
    snprintf(top + strlen(top), sizeof(top) - strlen(top),
             "  - {name: tadm, token_sha256: %s, roles: [admin],"
             " clients: [\"tadm*\"], tenant: reload}\n", t);
    assert_int_equal(e2e_env_start(&st, true, config_cb, top), 0);
    struct e2e_env *f = st;
    assert_int_equal(hello_tok(&tadm, f->d.port, "tadm1", ROLE(ADMIN),
                               TOK_TADM), 0);
    assert_int_equal(hello_tok(&adm, f->d.port, "adm1", ROLE(ADMIN),
                               TOK_ADM), 0);
    assert_int_equal(generation(&adm, NULL, 0), 1);

    /* a change the reload would apply */
    rewrite(f, top, "    max_length: 1\n", "");
    assert_int_equal(reload_request(&tadm, msg, sizeof(msg)),
                     EC(FORBIDDEN));
    assert_non_null(strstr(msg, "scoped to tenant reload"));
    assert_int_equal(generation(&adm, NULL, 0), 1);
    /* the tenant admin's connection stays usable */
    assert_int_equal(generation(&tadm, NULL, 0), 1);
    assert_int_equal(reload_request(&adm, msg, sizeof(msg)), 0);
    assert_int_equal(generation(&adm, NULL, 0), 2);
    /* Drain too acts on every tenant: refused, the engine keeps taking
     * contacts */
    {
        ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
        Ccroute__V1__Drain dr = CCROUTE__V1__DRAIN__INIT;
        env.body_case = BODY(DRAIN);
        env.drain = &dr;
        assert_int_equal(e2e_call(&tadm, &env, E2E_T_MS), EC(FORBIDDEN));
    }
    {
        ccr_envelope *sv = e2e_stats(&adm);
        assert_non_null(sv);
        assert_false(sv->stats->draining);
        ccr_free(sv);
    }

    e2e_close(&adm);
    e2e_close(&tadm);
    assert_int_equal(e2e_env_teardown(&st), 0);
}

/* Sales needs sales level 5 and lowers it to 1 after `after`; billing is
 * there or not. */
static void steps_write(char *buf, size_t len, int redis_port,
                        const char *after, unsigned level, bool billing)
{
    snprintf(buf, len,
             "log_level: info\n"
             "redis:\n"
             "  enabled: true\n"
             "  durability: redis\n"
             "  port: %d\n"
             "  tenant: reload\n"
             "routing: {max_agents: 100, max_contacts: 1000}\n"
             "queues:\n"
             "  - name: sales\n"
             "    skills: {sales: 5}\n"
             "    steps:\n"
             "      - {after: %s, lower: {skill: sales, level: %u}}\n"
             "  - name: support\n"
             "    skills: {support: 1}\n"
             "%s",
             redis_port, after, level,
             billing ? "  - name: billing\n    skills: {billing: 1}\n" : "");
}

static void steps_cb(char *buf, size_t len, int redis_port, const void *arg)
{
    steps_write(buf, len, redis_port, "1h", 1, true);
}

static int setup_steps(void **state)
{
    return e2e_env_start(state, true, steps_cb, NULL);
}

static void steps_rewrite(struct e2e_env *f, const char *after,
                          unsigned level, bool billing)
{
    char text[2048];
    steps_write(text, sizeof(text), f->redis.port, after, level, billing);
    rewrite_raw(f, text);
}

/* With w1 waiting in sales (level 5 wanted, agent a2 has 2) and o1's
 * offer out to a1: a queue removed while a contact waits in it, without
 * a reload_fallback, is refused and changes nothing (the refusal counts
 * and names the stranded contact); the step's time cut from 1h
 * to 1ms applies at once -- w1 widens and is offered to a2 -- while o1's
 * offer, made before, is still accepted. After a kill -9 the engine comes
 * back with the same work and the reloaded step time. */
static void test_step_times(void **state)
{
    struct e2e_env *f = *state;
    struct e2e_client sw = { 0 }, adm = { 0 };
    char msg[512];
    e2e_open_hello_retry(&sw, f->d.port, "sw", ROLE(SWITCH), false);
    e2e_open_hello_retry(&adm, f->d.port, "adm", ROLE(ADMIN), false);
    make_work(&sw);
    assert_int_equal(e2e_agent_login(&sw, "a2", "sales", 2, 1, 0), 0);
    assert_int_equal(e2e_contact(&sw, "b1", "billing", E2E_VOICE), 0);

    steps_rewrite(f, "1h", 1, false);
    assert_int_equal(reload_request(&adm, msg, sizeof(msg)),
                     EC(CONFIG_NOT_RELOADABLE));
    assert_non_null(strstr(msg, "\"billing\" removed with 1 contacts in it "
                                "(the first: b1)"));
    assert_int_equal(generation(&adm, NULL, 0), 1);
    assert_int_equal(waiting(&adm, "billing"), 1);
    assert_int_equal(waiting(&adm, "sales"), 1);

    steps_rewrite(f, "1ms", 1, true);
    assert_int_equal(reload_request(&adm, msg, sizeof(msg)), 0);
    e2e_expect_log(&f->d, "queues sales (step times)", E2E_T_MS);
    assert_int_equal(generation(&adm, NULL, 0), 2);
    ccr_envelope *off = e2e_wait_offer(&sw, "w1", E2E_T_MS);
    assert_non_null(off);
    assert_string_equal(off->offer->agent_id, "a2");
    ccr_free(off);
    check_work_kept(&sw, "sales");
    assert_int_equal(e2e_simple(&sw, BODY(OFFER_ACCEPTED), "w1", "a2"), 0);
    ccr_free(e2e_expect(&sw, BODY(CONTACT_ASSIGNED), E2E_T_MS));

    /* kill -9 after the reload: the engine starts from the reloaded file
     * and Redis; the work is all there, and the new step time routes */
    harness_daemon_kill(&f->d);
    e2e_close(&adm);
    e2e_close(&sw);
    assert_int_equal(harness_daemon_restart(&f->d, NULL), 0);
    e2e_expect_log(&f->d, "loaded 2 agents, 3 contacts", E2E_T_MS);
    e2e_open_hello_retry(&sw, f->d.port, "sw", ROLE(SWITCH), true);
    assert_int_equal(waiting(&sw, "billing"), 1);
    assert_int_equal(waiting(&sw, "sales"), 0);
    assert_int_equal(e2e_agent_login(&sw, "a3", "sales", 2, 1, 0), 0);
    assert_int_equal(e2e_contact(&sw, "w5", "sales", E2E_VOICE), 0);
    off = e2e_wait_offer(&sw, "w5", E2E_T_MS);
    assert_non_null(off);
    assert_string_equal(off->offer->agent_id, "a3");
    ccr_free(off);
    e2e_close(&sw);
}

/* ---- the queue set and a queue's shape ---- */

/* The file with `queues` (YAML list items) and `routing` appended to the
 * routing map (", key: value..." or ""). */
static void set_rewrite(struct e2e_env *f, const char *routing,
                        const char *queues)
{
    char text[4096];
    snprintf(text, sizeof(text),
             "log_level: info\n"
             "redis:\n"
             "  enabled: true\n"
             "  durability: redis\n"
             "  port: %d\n"
             "  tenant: reload\n"
             "  reconnect_min: 20ms\n"
             "  reconnect_max: 200ms\n"
             "routing: {max_agents: 100, max_contacts: 1000%s}\n"
             "queues:\n"
             "%s",
             f->redis.port, routing, queues);
    rewrite_raw(f, text);
}

#define Q_SALES "  - name: sales\n    skills: {sales: 1}\n"
#define Q_SUPPORT "  - name: support\n    skills: {support: 1}\n"

/* Field `field` of contact `id` as stored in Redis (tenant "reload",
 * either layout: tests/store-peek.h). */
static void contact_field(struct e2e_env *f, const char *id,
                          const char *field, char *out, size_t len)
{
    redisContext *rc = e2e_redis(f->redis.port);
    assert_true(peek_field(rc, "reload", 'c', id, field, out, len));
    redisFree(rc);
}

/* Agent `id` with skill `skill` (level 1) logs in for queue `queue` only. */
static int login_listed(struct e2e_client *c, const char *id,
                        const char *skill, const char *queue)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__AgentLogin m = CCROUTE__V1__AGENT_LOGIN__INIT;
    Ccroute__V1__AgentSkill sk = CCROUTE__V1__AGENT_SKILL__INIT;
    Ccroute__V1__AgentSkill *skp = &sk;
    char *queues[] = { (char *)queue };
    m.agent_id = (char *)id;
    sk.skill = (char *)skill;
    sk.level = 1;
    m.skills = &skp;
    m.n_skills = 1;
    m.queues = queues;
    m.n_queues = 1;
    env.body_case = BODY(AGENT_LOGIN);
    env.agent_login = &m;
    return e2e_call(c, &env, E2E_T_MS);
}

/* The agent that contact `cid` is offered to (waits for the Offer). */
static void expect_offer(struct e2e_client *c, const char *cid,
                         const char *agent)
{
    ccr_envelope *off = e2e_wait_offer(c, cid, E2E_T_MS);
    assert_non_null(off);
    assert_string_equal(off->offer->agent_id, agent);
    ccr_free(off);
}

/* A queue added by a reload (placed after the running ones, its own
 * skills) takes contacts and routes them at once; the work under way is
 * kept. */
static void test_add_queue(void **state)
{
    struct e2e_env *f = *state;
    struct e2e_client sw = { 0 }, adm = { 0 };
    char msg[512];
    e2e_open_hello_retry(&sw, f->d.port, "sw", ROLE(SWITCH), false);
    e2e_open_hello_retry(&adm, f->d.port, "adm", ROLE(ADMIN), false);
    make_work(&sw);
    assert_int_equal(e2e_contact(&sw, "b0", "billing", E2E_VOICE),
                     EC(UNKNOWN_QUEUE));

    set_rewrite(f, "", "  - name: billing\n    skills: {billing: 1}\n"
                Q_SALES Q_SUPPORT);
    assert_int_equal(reload_request(&adm, msg, sizeof(msg)), 0);
    e2e_expect_log(&f->d, "queues billing added", E2E_T_MS);
    assert_int_equal(generation(&adm, NULL, 0), 2);
    assert_int_equal(e2e_contact(&sw, "b1", "billing", E2E_VOICE), 0);
    assert_int_equal(waiting(&adm, "billing"), 1);
    assert_int_equal(e2e_agent_login(&sw, "ab", "billing", 1, 1, 0), 0);
    expect_offer(&sw, "b1", "ab");
    check_work_kept(&sw, "sales");
    e2e_close(&adm);
    e2e_close(&sw);
}

/* A strategy change takes effect for the next decision: under longest
 * idle s1 (idle longer) is offered c2; the same situation after the
 * reload to most skilled offers c3 to s2 (level 9), while the offer out
 * (c2 to s1) is kept and still accepted. */
static void test_strategy(void **state)
{
    struct e2e_env *f = *state;
    struct e2e_client sw = { 0 }, adm = { 0 };
    char msg[512];
    e2e_open_hello_retry(&sw, f->d.port, "sw", ROLE(SWITCH), false);
    e2e_open_hello_retry(&adm, f->d.port, "adm", ROLE(ADMIN), false);
    assert_int_equal(e2e_agent_login(&sw, "s1", "sales", 1, 2, 0), 0);
    assert_int_equal(e2e_agent_login(&sw, "s2", "sales", 9, 1, 0), 0);
    /* longest idle: s1, logged in first */
    assert_int_equal(e2e_contact(&sw, "c1", "sales", E2E_VOICE), 0);
    expect_offer(&sw, "c1", "s1");
    assert_int_equal(e2e_simple(&sw, BODY(OFFER_REJECTED), "c1", "s1"), 0);
    expect_offer(&sw, "c1", "s2");
    assert_int_equal(e2e_simple(&sw, BODY(OFFER_ACCEPTED), "c1", "s2"), 0);
    ccr_free(e2e_expect(&sw, BODY(CONTACT_ASSIGNED), E2E_T_MS));
    assert_int_equal(e2e_simple(&sw, BODY(CONTACT_COMPLETED), "c1", NULL), 0);
    /* s1 has been idle longer than s2 (idle again since c1 completed) */
    assert_int_equal(e2e_contact(&sw, "c2", "sales", E2E_VOICE), 0);
    expect_offer(&sw, "c2", "s1");

    set_rewrite(f, "", "  - name: sales\n    skills: {sales: 1}\n"
                "    strategy: most_skilled\n" Q_SUPPORT);
    assert_int_equal(reload_request(&adm, msg, sizeof(msg)), 0);
    e2e_expect_log(&f->d, "queues sales (rebuilt", E2E_T_MS);
    /* s1 still has a free voice slot and waited longer; s2 is better */
    assert_int_equal(e2e_contact(&sw, "c3", "sales", E2E_VOICE), 0);
    expect_offer(&sw, "c3", "s2");
    assert_int_equal(e2e_simple(&sw, BODY(OFFER_ACCEPTED), "c2", "s1"), 0);
    ccr_free(e2e_expect(&sw, BODY(CONTACT_ASSIGNED), E2E_T_MS));
    e2e_close(&adm);
    e2e_close(&sw);
}

/* A skills change re-evaluates the agents: c1, waiting in sales with no
 * agent able to take it, is offered to x (support 5) once sales requires
 * support; o1's offer to a1, made before, is still accepted. Taking the
 * chat channel from sales while c1 waits... is refused (c1 is voice:
 * channels: [chat] strands it), and changes nothing. */
static void test_skills(void **state)
{
    struct e2e_env *f = *state;
    struct e2e_client sw = { 0 }, adm = { 0 };
    char msg[512];
    e2e_open_hello_retry(&sw, f->d.port, "sw", ROLE(SWITCH), false);
    e2e_open_hello_retry(&adm, f->d.port, "adm", ROLE(ADMIN), false);
    make_work(&sw);             /* a1 (support 5) busy with o1's offer */
    assert_int_equal(e2e_agent_login(&sw, "x", "support", 5, 1, 0), 0);
    assert_int_equal(waiting(&adm, "sales"), 1);

    set_rewrite(f, "", "  - name: sales\n    skills: {sales: 1}\n"
                "    channels: [chat]\n" Q_SUPPORT);
    assert_int_equal(reload_request(&adm, msg, sizeof(msg)),
                     EC(CONFIG_NOT_RELOADABLE));
    assert_non_null(strstr(msg, "1 contacts wait on a channel it would no "
                                "longer take (the first: w1)"));
    assert_int_equal(generation(&adm, NULL, 0), 1);

    set_rewrite(f, "", "  - name: sales\n    skills: {support: 2}\n"
                Q_SUPPORT);
    assert_int_equal(reload_request(&adm, msg, sizeof(msg)), 0);
    assert_int_equal(generation(&adm, NULL, 0), 2);
    expect_offer(&sw, "w1", "x");
    assert_int_equal(e2e_simple(&sw, BODY(OFFER_ACCEPTED), "w1", "x"), 0);
    ccr_free(e2e_expect(&sw, BODY(CONTACT_ASSIGNED), E2E_T_MS));
    assert_int_equal(e2e_simple(&sw, BODY(OFFER_ACCEPTED), "o1", "a1"), 0);
    ccr_free(e2e_expect(&sw, BODY(CONTACT_ASSIGNED), E2E_T_MS));
    e2e_close(&adm);
    e2e_close(&sw);
}

/* A queue removed with contacts in it: without a fallback the reload is
 * refused, naming a contact, and changes nothing (the queue added with it
 * is not there); with routing.reload_fallback the waiting contact moves
 * to support keeping its arrival, in Redis before the Ack; the offer made
 * from the removed queue is kept and accepted. After a kill -9 the engine
 * comes back with all of it, the moved contact waiting in support, and
 * the agent logged in for the removed queue alone restored serving
 * nothing. */
static void test_remove_queue(void **state)
{
    struct e2e_env *f = *state;
    struct e2e_client sw = { 0 }, adm = { 0 };
    char msg[512], before[64], v[64];
    e2e_open_hello_retry(&sw, f->d.port, "sw", ROLE(SWITCH), false);
    e2e_open_hello_retry(&adm, f->d.port, "adm", ROLE(ADMIN), false);
    make_work(&sw);             /* w1 waits in sales, o1 offered to a1 */
    assert_int_equal(e2e_agent_login(&sw, "a2", "sales", 1, 1, 0), 0);
    expect_offer(&sw, "w1", "a2");
    assert_int_equal(e2e_contact(&sw, "w2", "sales", E2E_VOICE), 0);
    contact_field(f, "w2", "arrived_us", before, sizeof(before));
    /* a4 could take support contacts but serves sales alone */
    assert_int_equal(login_listed(&sw, "a4", "support", "sales"), 0);

    /* no fallback: refused, nothing changes (billing not added) */
    set_rewrite(f, "", Q_SUPPORT "  - name: billing\n"
                "    skills: {billing: 1}\n");
    assert_int_equal(reload_request(&adm, msg, sizeof(msg)),
                     EC(CONFIG_NOT_RELOADABLE));
    assert_non_null(strstr(msg, "\"sales\" removed with 2 contacts in it "
                                "(the first: w"));
    assert_non_null(strstr(msg, "nothing changed"));
    assert_int_equal(generation(&adm, NULL, 0), 1);
    assert_int_equal(e2e_contact(&sw, "b1", "billing", E2E_VOICE),
                     EC(UNKNOWN_QUEUE));
    assert_int_equal(waiting(&adm, "sales"), 2);

    /* a fallback that is not in the file: refused too */
    set_rewrite(f, ", reload_fallback: nowhere", Q_SUPPORT);
    assert_int_equal(reload_request(&adm, msg, sizeof(msg)),
                     EC(CONFIG_INVALID));
    assert_non_null(strstr(msg, "unknown queue \"nowhere\""));

    set_rewrite(f, ", reload_fallback: support", Q_SUPPORT);
    assert_int_equal(reload_request(&adm, msg, sizeof(msg)), 0);
    e2e_expect_log(&f->d, "sales removed, its contacts to support",
                   E2E_T_MS);
    /* recorded before the Ack: the new queue, the same arrival */
    contact_field(f, "w2", "queue", v, sizeof(v));
    assert_string_equal(v, "support");
    contact_field(f, "w2", "arrived_us", v, sizeof(v));
    assert_string_equal(v, before);
    contact_field(f, "w1", "queue", v, sizeof(v));
    assert_string_equal(v, "support");
    assert_int_equal(e2e_contact(&sw, "s9", "sales", E2E_VOICE),
                     EC(UNKNOWN_QUEUE));
    /* o1 and w1 (offered) and w2 (queued) wait in support now */
    assert_int_equal(waiting(&adm, "support"), 3);
    /* the offer from the removed queue is still good */
    assert_int_equal(e2e_simple(&sw, BODY(OFFER_ACCEPTED), "w1", "a2"), 0);
    ccr_free(e2e_expect(&sw, BODY(CONTACT_ASSIGNED), E2E_T_MS));
    check_work_kept(&sw, "support");    /* o1 accepted; w2 waits */

    /* kill -9: the reloaded file and Redis give the same work back */
    harness_daemon_kill(&f->d);
    e2e_close(&adm);
    e2e_close(&sw);
    assert_int_equal(harness_daemon_restart(&f->d, NULL), 0);
    /* a4's stored login names sales, gone: it comes back serving nothing
     * (not every queue: w2 goes to a3, not to a4, idle longer) */
    e2e_expect_log(&f->d, "loaded 3 agents, 3 contacts", E2E_T_MS);
    e2e_open_hello_retry(&sw, f->d.port, "sw", ROLE(SWITCH), true);
    assert_int_equal(waiting(&sw, "support"), 1);
    ccr_envelope *st = e2e_stats(&sw);
    assert_non_null(e2e_stats_agent(st, "a4"));
    ccr_free(st);
    assert_int_equal(e2e_agent_login(&sw, "a3", "support", 1, 1, 0), 0);
    expect_offer(&sw, "w2", "a3");
    contact_field(f, "w2", "arrived_us", v, sizeof(v));
    assert_string_equal(v, before);
    e2e_close(&sw);
}

/* A queue's own reload_fallback is the running configuration's (the file
 * that removes the queue no longer has it): a first reload gives sales
 * one, a second removes sales, and its waiting contact goes to support
 * without routing.reload_fallback. */
static void test_remove_own_fallback(void **state)
{
    struct e2e_env *f = *state;
    struct e2e_client sw = { 0 }, adm = { 0 };
    char msg[512], v[64];
    e2e_open_hello_retry(&sw, f->d.port, "sw", ROLE(SWITCH), false);
    e2e_open_hello_retry(&adm, f->d.port, "adm", ROLE(ADMIN), false);
    assert_int_equal(e2e_contact(&sw, "w1", "sales", E2E_VOICE), 0);
    set_rewrite(f, "", "  - name: sales\n    skills: {sales: 1}\n"
                "    reload_fallback: support\n" Q_SUPPORT);
    assert_int_equal(reload_request(&adm, msg, sizeof(msg)), 0);
    set_rewrite(f, "", Q_SUPPORT);
    assert_int_equal(reload_request(&adm, msg, sizeof(msg)), 0);
    assert_int_equal(generation(&adm, NULL, 0), 3);
    contact_field(f, "w1", "queue", v, sizeof(v));
    assert_string_equal(v, "support");
    assert_int_equal(waiting(&adm, "support"), 1);
    assert_int_equal(e2e_agent_login(&sw, "a1", "support", 1, 1, 0), 0);
    expect_offer(&sw, "w1", "a1");
    e2e_close(&adm);
    e2e_close(&sw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sighup_applies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_all_or_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_step_times, setup_steps,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_add_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strategy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_skills, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_own_fallback, setup,
                                        teardown),
        cmocka_unit_test(test_log_reopen),
        cmocka_unit_test(test_token_rotation),
        cmocka_unit_test(test_reload_scope),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
