/* test-limits.c -- end to end: the connection limits and deadlines of
 * ccrouted (engine/conn.h, docs/security.md "Connection limits") against
 * the real daemon over real sockets, plus the configuration bounds of the
 * `limits:` section.
 *
 * Each test starts its own daemon (memory only: no Redis is needed for
 * connection limits) with short deadlines in its configuration, then
 * waits for the observable outcome -- an Error, EOF, a log line, a Stats
 * reply -- with a bounded deadline. Nothing asserts how long anything
 * took; the short deadlines only keep the suite fast.
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "client.h"
#include "config.h"
#include "e2e-util.h"
#include "frame.h"
#include "harness.h"

#define T_MS E2E_T_MS
#define BODY(x) E2E_BODY(x)
#define EC(x) E2E_EC(x)
#define ROLE(x) E2E_ROLE(x)

/* ---- helpers ---- */

/* Starts ccrouted on `limits` (the body of a `limits:` section, each line
 * indented) plus `extra` top-level lines. */
static void start(struct harness_daemon *d, const char *limits,
                  const char *extra)
{
    char cfg[2048];
    snprintf(cfg, sizeof(cfg),
             "log_level: debug\n"
             "grace: 300ms\n"
             "%s"
             "limits:\n%s",
             extra ? extra : "", limits);
    if (harness_daemon_start(d, cfg, NULL) < 0)
        fail_msg("ccrouted did not start");
}

static void stop(struct harness_daemon *d)
{
    assert_int_equal(harness_daemon_stop(d, HARNESS_STOP_TIMEOUT_MS), 0);
}

static void expect_log(struct harness_daemon *d, const char *needle)
{
    e2e_expect_log(d, needle, T_MS);
}

/* Ping with request id `id` -> a Pong carrying it (the connection is
 * served). */
static void ping_pong(struct e2e_client *e, uint64_t id)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Ping ping = CCROUTE__V1__PING__INIT;
    env.request_id = id;
    env.body_case = BODY(PING);
    env.ping = &ping;
    assert_int_equal(ccr_client_send(e->c, &env), 0);
    ccr_envelope *r = e2e_wait(e, BODY(PONG), id, T_MS);
    if (!r)
        fail_msg("no Pong for Ping %llu", (unsigned long long)id);
    assert_int_equal(r->request_id, id);
    ccr_free(r);
}

static int send_pong(struct e2e_client *e, uint64_t id)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Pong pong = CCROUTE__V1__PONG__INIT;
    env.request_id = id;
    env.body_case = BODY(PONG);
    env.pong = &pong;
    return ccr_client_send(e->c, &env);
}

/* A plain TCP connection that never says anything. */
static int raw_connect(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

/* ---- Ping ---- */

/* A client's Ping is answered with a Pong of the same request id, and no
 * Ack besides. */
static void test_ping_pong(void **state)
{
    struct harness_daemon d;
    struct e2e_client sw;
    start(&d, "  max_connections: 10\n", NULL);
    e2e_open_hello(&sw, d.port, "switch-A", ROLE(SWITCH), false);
    ping_pong(&sw, 77);
    ping_pong(&sw, 78);
    assert_null(e2e_wait(&sw, BODY(ACK), 0, 100));
    e2e_close(&sw);
    stop(&d);
}

/* ---- connection limit ---- */

/* At max_connections, with every connection past its Hello, a new one
 * gets RESOURCE_EXHAUSTED and is closed, with a log line; the others are
 * still served; once one closes, a new connection is accepted again. */
static void test_max_connections(void **state)
{
    struct harness_daemon d;
    struct e2e_client c[3], extra;
    char name[32];
    int rc = -1;

    start(&d, "  max_connections: 3\n", NULL);
    expect_log(&d, "max connections 3");
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof(name), "switch-%d", i);
        e2e_open_hello(&c[i], d.port, name, ROLE(SWITCH), false);
    }
    assert_int_equal(e2e_open(&extra, d.port), 0);
    e2e_expect_error_then_close(&extra, EC(RESOURCE_EXHAUSTED), T_MS);
    e2e_close(&extra);
    expect_log(&d, "connection limit reached: new connection refused");
    for (int i = 0; i < 3; i++)
        ping_pong(&c[i], 100 + (uint64_t)i);

    e2e_close(&c[2]);
    /* The engine sees the close on its next turn: retry until it has. */
    long long deadline = harness_now_ms() + T_MS;
    while (harness_now_ms() < deadline) {
        assert_int_equal(e2e_open(&extra, d.port), 0);
        rc = e2e_hello(&extra, "switch-new", ROLE(SWITCH), false, NULL, 0,
                       T_MS);
        if (rc == 0)
            break;
        e2e_close(&extra);
        harness_pause_ms(20);
    }
    assert_int_equal(rc, 0);
    ping_pong(&extra, 200);
    e2e_close(&extra);
    e2e_close(&c[0]);
    e2e_close(&c[1]);
    stop(&d);
}

/* Hundreds of idle TCP connections that never say Hello, under a low
 * descriptor limit (set with prlimit on the daemon): the engine lowers its
 * connection budget below the limit, evicts the oldest stranger for each
 * new connection, and a legitimate client still connects, says Hello and
 * is served, also while more strangers keep coming. (Before, accept() hit
 * EMFILE and libuv closed every pending client.) */
static void test_idle_strangers_low_rlimit(void **state)
{
    struct harness_daemon d;
    struct e2e_client sw;
    char exe[512];
    const char *b = getenv("CCROUTE_BUILD");
    int fds[400], nfds = 0;

    memset(&d, 0, sizeof(d));
    assert_int_equal(harness_tmpdir(d.dir, sizeof(d.dir), "ccroute-lim"), 0);
    snprintf(d.config, sizeof(d.config), "%s/ccrouted.yaml", d.dir);
    snprintf(d.port_file, sizeof(d.port_file), "%s/port", d.dir);
    snprintf(d.log, sizeof(d.log), "%s/ccrouted.log", d.dir);
    snprintf(exe, sizeof(exe), "%s/ccrouted", b && *b ? b : "build");
    FILE *f = fopen(d.config, "w");
    assert_non_null(f);
    fputs("limits:\n  hello_timeout: 60s\n", f);
    fclose(f);
    const char *argv[] = { "prlimit", "--nofile=128:128", exe, "--config",
                           d.config, "--listen", "127.0.0.1:0",
                           "--port-file", d.port_file, NULL };
    assert_int_equal(harness_proc_start(&d.proc, argv, d.log, true), 0);
    d.port = harness_proc_wait_port_file(&d.proc, d.port_file,
                                         HARNESS_START_TIMEOUT_MS);
    assert_true(d.port > 0);
    expect_log(&d, "lowered to 64");

    for (; nfds < 200; nfds++)
        fds[nfds] = raw_connect(d.port);
    e2e_open_hello(&sw, d.port, "switch-A", ROLE(SWITCH), false);
    ping_pong(&sw, 1);
    expect_log(&d, "closing the oldest connections without Hello");
    for (; nfds < 400; nfds++)
        fds[nfds] = raw_connect(d.port);
    ping_pong(&sw, 2);                  /* not evicted: it said Hello */
    assert_true(harness_proc_alive(&d.proc, NULL));
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    e2e_close(&sw);
    stop(&d);
}

/* ---- deadlines ---- */

/* No Hello within hello_timeout: Error TIMEOUT, then the close, and a log
 * line. */
static void test_hello_deadline(void **state)
{
    struct harness_daemon d;
    struct e2e_client e;
    start(&d, "  hello_timeout: 200ms\n", NULL);
    assert_int_equal(e2e_open(&e, d.port), 0);
    e2e_expect_error_then_close(&e, EC(TIMEOUT), T_MS);
    e2e_close(&e);
    expect_log(&d, "no Hello in time");
    stop(&d);
}

/* Slow-loris: a frame dripping in a byte at a time is cut off at
 * frame_timeout (Error TIMEOUT, close), although bytes keep arriving; a
 * normal client on the same engine is served before and after. */
static void test_slow_loris(void **state)
{
    struct harness_daemon d;
    struct e2e_client loris, sw;
    uint8_t hdr[FRAME_VARINT_MAX];
    ccr_envelope *err = NULL;

    start(&d, "  frame_timeout: 300ms\n", NULL);
    e2e_open_hello(&sw, d.port, "switch-A", ROLE(SWITCH), false);
    e2e_open_hello(&loris, d.port, "loris", ROLE(SWITCH), false);
    size_t n = frame_varint_put(1000, hdr);
    assert_int_equal(ccr_client_send_raw(loris.c, hdr, n), 0);
    ping_pong(&sw, 1);
    long long deadline = harness_now_ms() + T_MS;
    while (!err && harness_now_ms() < deadline) {
        uint8_t byte = 0x08;
        if (ccr_client_send_raw(loris.c, &byte, 1) < 0)
            break;                      /* the engine is gone from it */
        err = e2e_wait(&loris, BODY(ERROR), 0, 20);
    }
    if (!err)
        err = e2e_wait(&loris, BODY(ERROR), 0, T_MS);
    assert_non_null(err);
    assert_int_equal(err->error->code, EC(TIMEOUT));
    ccr_free(err);
    expect_log(&d, "frame not complete in time");
    ping_pong(&sw, 2);
    e2e_close(&loris);
    e2e_close(&sw);
    stop(&d);
}

static bool agent_listed(struct e2e_client *mon, const char *id)
{
    ccr_envelope *st = e2e_stats(mon);
    bool found = e2e_stats_agent(st, id) != NULL;
    ccr_free(st);
    return found;
}

/* A desk that stops answering (a half-open connection) is pinged, closed
 * when no Pong comes, and its agent goes through the grace period and is
 * logged out; a desk that answers its Pings stays logged in. */
static void test_desk_ping_grace(void **state)
{
    struct harness_daemon d;
    struct e2e_client dead, live, mon;
    long long deadline;

    /* ping_timeout leaves `live` ample time to answer on a loaded
     * machine; `dead` never does. */
    start(&d, "  ping_interval: 150ms\n  ping_timeout: 1s\n", NULL);
    e2e_open_hello(&dead, d.port, "desk-dead", ROLE(AGENT), false);
    e2e_open_hello(&live, d.port, "desk-live", ROLE(AGENT), false);
    e2e_open_hello(&mon, d.port, "monitor", ROLE(MONITOR), false);
    assert_int_equal(e2e_agent_login(&dead, "a-dead", "sales", 5, 1, 0), 0);
    assert_int_equal(e2e_agent_login(&live, "a-live", "sales", 5, 1, 0), 0);
    assert_true(agent_listed(&mon, "a-dead"));

    /* From here `dead` reads and sends nothing; `live` answers Pings
     * until the engine has given up on `dead` and its grace ran out. */
    deadline = harness_now_ms() + 3 * T_MS;
    bool gone = false;
    unsigned pongs = 0;
    while (!gone && harness_now_ms() < deadline) {
        ccr_envelope *p = e2e_wait(&live, BODY(PING), 0, 50);
        if (p) {
            assert_true(p->request_id != 0);
            assert_int_equal(send_pong(&live, p->request_id), 0);
            pongs++;
            ccr_free(p);
        }
        gone = harness_daemon_log_contains(&d, "client desk-dead did not "
                                           "come back", 0);
    }
    assert_true(gone);
    assert_true(pongs > 0);
    expect_log(&d, "(desk-dead): no answer to Ping");
    expect_log(&d, "client desk-dead gone: 1 contacts and agents wait");
    assert_false(agent_listed(&mon, "a-dead"));
    assert_true(agent_listed(&mon, "a-live"));
    ping_pong(&live, 9);
    e2e_close(&dead);
    e2e_close(&live);
    e2e_close(&mon);
    stop(&d);
}

/* ---- the end of a grace period ---- */

/* A contact assigned to an agent, when its switch and the agent's desk
 * both go away for good: it cannot be abandoned (it was answered), and no
 * client is left to complete it, so the end of the grace period completes
 * it. Before, it held its contact slot (and its logged-out agent's) until
 * a restart; max_contacts 1 makes that visible: every new contact got
 * RESOURCE_EXHAUSTED. Found by fuzz-session
 * (tests/fuzz/crashes/fuzz-session/grace-assigned-contact). */
static void test_grace_ends_assigned_contact(void **state)
{
    struct harness_daemon d;
    struct e2e_client sw, desk, sw2, desk2;
    ccr_envelope *o;

    start(&d, "  max_connections: 10\n",
          "routing: {max_contacts: 1}\n"
          "queues:\n"
          "  - name: sales\n"
          "    skills: {sales: 1}\n");
    e2e_open_hello(&sw, d.port, "switch-A", ROLE(SWITCH), false);
    e2e_open_hello(&desk, d.port, "desk-A", ROLE(AGENT), false);
    assert_int_equal(e2e_agent_login(&desk, "a-1", "sales", 5, 1, 0), 0);
    assert_int_equal(e2e_contact(&sw, "c-1", "sales",
                                 CCROUTE__V1__CHANNEL__CHANNEL_VOICE), 0);
    o = e2e_wait_offer(&desk, "c-1", T_MS);
    assert_non_null(o);
    ccr_free(o);
    assert_int_equal(e2e_simple(&desk, BODY(OFFER_ACCEPTED), "c-1", "a-1"),
                     0);
    e2e_close(&desk);
    e2e_close(&sw);
    expect_log(&d, "client desk-A did not come back");
    expect_log(&d, "client switch-A did not come back");

    /* The slot is free again (not RESOURCE_EXHAUSTED), and so is the
     * agent id. */
    e2e_open_hello(&sw2, d.port, "switch-B", ROLE(SWITCH), false);
    e2e_open_hello(&desk2, d.port, "desk-B", ROLE(AGENT), false);
    assert_int_equal(e2e_contact(&sw2, "c-2", "sales",
                                 CCROUTE__V1__CHANNEL__CHANNEL_VOICE), 0);
    expect_log(&d, "client switch-A did not come back within 300 ms: 0 "
               "contacts abandoned, 1 assigned contacts completed");
    assert_int_equal(e2e_agent_login(&desk2, "a-1", "sales", 5, 1, 0), 0);
    o = e2e_wait_offer(&desk2, "c-2", T_MS);
    assert_non_null(o);
    ccr_free(o);
    e2e_close(&sw2);
    e2e_close(&desk2);
    stop(&d);
}

/* An oversized frame with its payload still streaming in: the client
 * reads the FRAME_TOO_LARGE Error before the close, not a reset. */
/* At max_connections, a connection that lingers after its Error (the
 * client keeps its socket open) makes room for a new one: a stranger
 * that earns an Error cannot hold a slot for close_linger. */
static void test_lingering_makes_room(void **state)
{
    struct harness_daemon d;
    struct e2e_client c0, stranger, extra;
    uint8_t prefix[FRAME_VARINT_MAX];

    start(&d, "  max_connections: 2\n  close_linger: 60s\n",
          "max_frame: 1KiB\n");
    e2e_open_hello(&c0, d.port, "switch-0", ROLE(SWITCH), false);
    e2e_open_hello(&stranger, d.port, "switch-s", ROLE(SWITCH), false);
    size_t n = frame_varint_put(5000, prefix);
    assert_int_equal(ccr_client_send_raw(stranger.c, prefix, n), 0);
    /* Error, then the engine's FIN: it lingers now, its socket open */
    e2e_expect_error_then_close(&stranger, EC(FRAME_TOO_LARGE), T_MS);

    assert_int_equal(e2e_open(&extra, d.port), 0);
    assert_int_equal(e2e_hello(&extra, "switch-new", ROLE(SWITCH), false,
                               NULL, 0, T_MS), 0);
    expect_log(&d, "connection limit reached while it lingered");
    ping_pong(&extra, 300);
    ping_pong(&c0, 301);
    e2e_close(&extra);
    e2e_close(&stranger);
    e2e_close(&c0);
    stop(&d);
}

static void test_frame_too_large_error_arrives(void **state)
{
    struct harness_daemon d;
    struct e2e_client e;
    size_t len = 100000;
    uint8_t *buf = calloc(1, 60000 + FRAME_VARINT_MAX);

    assert_non_null(buf);
    start(&d, "  max_connections: 10\n", "max_frame: 1KiB\n");
    e2e_open_hello(&e, d.port, "switch-A", ROLE(SWITCH), false);
    size_t n = frame_varint_put(len, buf);
    assert_int_equal(ccr_client_send_raw(e.c, buf, n + 60000), 0);
    e2e_expect_error_then_close(&e, EC(FRAME_TOO_LARGE), T_MS);
    e2e_close(&e);
    expect_log(&d, "frame too large");
    free(buf);
    stop(&d);
}

/* ---- configuration ---- */

static void expect_config_error(const char *text, const char *want)
{
    struct config c;
    char err[512] = "";
    config_defaults(&c);
    assert_int_equal(config_load_string(&c, "t.yaml", text, strlen(text),
                                        err, sizeof(err)), -1);
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not contain \"%s\"", err, want);
    config_fini(&c);
}

/* Defaults, a full section, and each bound refused with file:line. */
static void test_config_limits(void **state)
{
    struct config c;
    char err[512] = "";
    const char *text =
        "limits:\n"
        "  max_connections: 500\n"
        "  hello_timeout: 2s\n"
        "  frame_timeout: 3s\n"
        "  idle_timeout: 5m\n"
        "  ping_interval: 0\n"
        "  ping_timeout: 4s\n"
        "  close_linger: 1s\n"
        "  keepalive: 30s\n";

    config_defaults(&c);
    assert_int_equal(c.limits.max_connections, 10000);
    assert_int_equal(c.limits.hello_timeout_ms, 10000);
    assert_int_equal(c.limits.frame_timeout_ms, 10000);
    assert_int_equal(c.limits.idle_timeout_ms, 0);
    assert_int_equal(c.limits.ping_interval_ms, 30000);
    assert_int_equal(c.limits.keepalive_ms, 60000);
    assert_int_equal(config_load_string(&c, "t.yaml", text, strlen(text),
                                        err, sizeof(err)), 0);
    assert_int_equal(c.limits.max_connections, 500);
    assert_int_equal(c.limits.hello_timeout_ms, 2000);
    assert_int_equal(c.limits.frame_timeout_ms, 3000);
    assert_int_equal(c.limits.idle_timeout_ms, 300000);
    assert_int_equal(c.limits.ping_interval_ms, 0);
    assert_int_equal(c.limits.ping_timeout_ms, 4000);
    assert_int_equal(c.limits.close_linger_ms, 1000);
    assert_int_equal(c.limits.keepalive_ms, 30000);
    config_fini(&c);

    expect_config_error("max_frame: 32MiB\n", "t.yaml:1: max_frame:");
    expect_config_error("limits:\n  max_connections: 70000\n",
                        "t.yaml:2: limits.max_connections:");
    expect_config_error("limits:\n  max_connections: 0\n",
                        "t.yaml:2: limits.max_connections:");
    expect_config_error("limits:\n  hello_timeout: 0\n",
                        "t.yaml:2: limits.hello_timeout:");
    expect_config_error("limits:\n  frame_timeout: 0\n",
                        "t.yaml:2: limits.frame_timeout:");
    expect_config_error("limits:\n  keepalive: 1500ms\n",
                        "t.yaml:2: limits.keepalive: TCP keepalive takes "
                        "whole seconds");
    expect_config_error("limits:\n  max_conns: 5\n", "t.yaml:2:");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_limits),
        cmocka_unit_test(test_ping_pong),
        cmocka_unit_test(test_max_connections),
        cmocka_unit_test(test_lingering_makes_room),
        cmocka_unit_test(test_idle_strangers_low_rlimit),
        cmocka_unit_test(test_hello_deadline),
        cmocka_unit_test(test_slow_loris),
        cmocka_unit_test(test_desk_ping_grace),
        cmocka_unit_test(test_frame_too_large_error_arrives),
        cmocka_unit_test(test_grace_ends_assigned_contact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
