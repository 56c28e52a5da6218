/* test-closeall.c -- 10,000 agent desks dropping at once (a network blip)
 * leave the loop responsive, against the real daemon over real sockets.
 *
 * Each desk is its own connection: Hello (role agent) and an AgentLogin
 * of its own agent. Then every desk socket is closed at once (reset, so
 * that the run leaves no TIME_WAIT ports behind), and a monitor that was
 * connected before sends a Ping straight after the last close. What is
 * asserted is an order of events, never a time:
 *
 *   1. the Ping sent after the closes is answered (the loop got through
 *      the closes and back to a client);
 *   2. the Stats that first report every desk in its grace period
 *      (clients_in_grace == N) still report N agents logged in: a close
 *      only marks its owner gone, it logs nobody out and scans nothing;
 *   3. a desk that comes back with Hello{reattach} gets exactly its own
 *      agent (the log says "re-attached 1"), its AgentState is accepted,
 *      and the others still wait (clients_in_grace == N - 1).
 *
 * Descriptors: the test and the daemon each need N sockets. The test
 * raises its soft RLIMIT_NOFILE to the hard limit (and, where it may, the
 * hard limit too) before it starts the daemon, which inherits it; when
 * the limit is below N + a reserve, N is lowered to fit and the test says
 * so on stderr. Desks connect in batches below the listen backlog. The
 * figure (how long the loop takes) is bench/bench-close.c's job.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2e-util.h"
#include "harness.h"

#define BODY(x) E2E_BODY(x)
#define EC(x) E2E_EC(x)
#define ROLE(x) E2E_ROLE(x)

#define N_WANT 10000
#define FD_RESERVE 256      /* the test's own files, Redis-less daemon's */
#define BATCH 256           /* below the daemon's listen backlog (511) */
#define T_LONG_MS 30000     /* deadline for one expected answer */

static int n_desks;

/* Raises RLIMIT_NOFILE for this process (and the daemon it starts) and
 * returns how many desks fit. */
static int size_desks(void)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)N_WANT + FD_RESERVE;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 100;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
        struct rlimit up = { want, want };
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl = up;
    }
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
        return N_WANT;
    int n = rl.rlim_cur > FD_RESERVE + 100 ? (int)(rl.rlim_cur - FD_RESERVE)
                                           : 100;
    fprintf(stderr, "test-closeall: descriptor limit %llu: %d desks instead "
            "of %d\n", (unsigned long long)rl.rlim_cur, n, N_WANT);
    return n;
}

static void config_text(char *buf, size_t len, int redis_port,
                        const void *arg)
{
    snprintf(buf, len,
        "log_level: info\n"
        "grace: 300s\n"
        "redis: {enabled: false}\n"
        "routing: {offer_timeout: 60s, max_agents: %d, max_contacts: 1000}\n"
        "limits: {max_connections: %d, ping_interval: 0}\n"
        "skills: [s1]\n"
        "queues:\n"
        "  - {name: q1, skills: {s1: 1}}\n",
        n_desks + 16, n_desks + 16);
}

static int setup(void **state)
{
    n_desks = size_desks();
    return e2e_env_start(state, false, config_text, NULL);
}

static int teardown(void **state)
{
    return e2e_env_teardown(state);
}

static void send_hello(struct ccr_client *c, const char *name, bool reattach)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Hello h = CCROUTE__V1__HELLO__INIT;
    h.client_name = (char *)name;
    h.role = ROLE(AGENT);
    h.protocol_version = CCROUTE__V1__PROTOCOL_VERSION__PROTOCOL_VERSION_1;
    h.reattach = reattach;
    env.body_case = BODY(HELLO);
    env.hello = &h;
    assert_int_equal(ccr_client_send(c, &env), 0);
}

static void send_login(struct ccr_client *c, const char *agent)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__AgentLogin li = CCROUTE__V1__AGENT_LOGIN__INIT;
    Ccroute__V1__AgentSkill sk = CCROUTE__V1__AGENT_SKILL__INIT;
    Ccroute__V1__AgentSkill *skp = &sk;
    sk.skill = "s1";
    sk.level = 1;
    li.agent_id = (char *)agent;
    li.skills = &skp;
    li.n_skills = 1;
    env.body_case = BODY(AGENT_LOGIN);
    env.agent_login = &li;
    assert_int_equal(ccr_client_send(c, &env), 0);
}

/* The next envelope on c must be an Ack. */
static void expect_ack(struct ccr_client *c, int i)
{
    ccr_envelope *r = NULL;
    int rc = ccr_client_recv(c, T_LONG_MS, &r);
    if (rc < 0 || !r || r->body_case != BODY(ACK))
        fail_msg("desk %d: expected an Ack (rc %d, body %d, code %d)", i, rc,
                 r ? (int)r->body_case : -1,
                 r && r->body_case == BODY(ERROR) ? (int)r->error->code : 0);
    ccr_free(r);
}

static void stats_counts(struct e2e_client *mon, uint32_t *in_grace,
                         uint32_t *agents)
{
    ccr_envelope *st = e2e_stats_queues(mon, NULL, 0);
    *in_grace = st->stats->clients_in_grace;
    *agents = st->stats->agents_logged_in;
    ccr_free(st);
}

static void test_close_all_at_once(void **state)
{
    struct e2e_env *f = *state;
    struct ccr_client **desks = calloc((size_t)n_desks, sizeof(*desks));
    struct e2e_client mon, back;
    char name[32], agent[32];
    uint32_t in_grace = 0, agents = 0;

    assert_non_null(desks);
    e2e_open_hello(&mon, f->d.port, "wall", ROLE(MONITOR), false);
    for (int b = 0; b < n_desks; b += BATCH) {
        int e = b + BATCH < n_desks ? b + BATCH : n_desks;
        for (int i = b; i < e; i++) {
            assert_int_equal(ccr_client_connect("127.0.0.1", f->d.port,
                                                &desks[i]), 0);
            snprintf(name, sizeof(name), "desk-%d", i);
            snprintf(agent, sizeof(agent), "agent-%d", i);
            send_hello(desks[i], name, false);
            send_login(desks[i], agent);
        }
        for (int i = b; i < e; i++) {
            expect_ack(desks[i], i);
            expect_ack(desks[i], i);
        }
    }
    stats_counts(&mon, &in_grace, &agents);
    assert_int_equal(agents, (uint32_t)n_desks);
    assert_int_equal(in_grace, 0);

    /* the blip: every desk connection reset at once */
    for (int i = 0; i < n_desks; i++) {
        struct linger lg = { 1, 0 };
        setsockopt(ccr_client_fd(desks[i]), SOL_SOCKET, SO_LINGER, &lg,
                   sizeof(lg));
        ccr_client_close(desks[i]);
    }
    free(desks);

    /* 1. a Ping sent after the last close is answered */
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Ping ping = CCROUTE__V1__PING__INIT;
    env.body_case = BODY(PING);
    env.ping = &ping;
    assert_int_equal(ccr_client_send(mon.c, &env), 0);
    ccr_envelope *pong = e2e_wait(&mon, BODY(PONG), env.request_id,
                                  T_LONG_MS);
    assert_non_null(pong);
    ccr_free(pong);

    /* 2. every desk ends up in its grace period, and no agent was logged
     * out on the way (bounded poll on the real condition) */
    long long end = harness_now_ms() + T_LONG_MS;
    for (;;) {
        stats_counts(&mon, &in_grace, &agents);
        assert_int_equal(agents, (uint32_t)n_desks);
        if (in_grace == (uint32_t)n_desks)
            break;
        if (harness_now_ms() > end) {
            harness_daemon_dump_log(&f->d);
            fail_msg("%u of %d desks in their grace period", in_grace,
                     n_desks);
        }
        harness_pause_ms(20);         /* poll interval */
    }

    /* 3. one desk comes back and gets exactly its own agent */
    snprintf(name, sizeof(name), "desk-%d", n_desks / 2);
    snprintf(agent, sizeof(agent), "agent-%d", n_desks / 2);
    memset(&back, 0, sizeof(back));
    assert_int_equal(e2e_open(&back, f->d.port), 0);
    assert_int_equal(e2e_hello(&back, name, ROLE(AGENT), true, NULL, 0,
                               T_LONG_MS), 0);
    /* (not its log line: after 10,000 closes the engine's client lines
     * are over their budget for a while, log.h) -- the desk acts on its
     * agent, and exactly one owner record left the grace period */
    assert_int_equal(e2e_agent_state(&back, agent,
                                     CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AWAY,
                                     "back"), 0);
    stats_counts(&mon, &in_grace, &agents);
    assert_int_equal(in_grace, (uint32_t)n_desks - 1);
    assert_int_equal(agents, (uint32_t)n_desks);
    e2e_close(&back);
    e2e_close(&mon);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_close_all_at_once, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("closeall", tests, NULL, NULL);
}
