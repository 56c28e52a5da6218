/* test-quota.c -- per-principal quotas (docs/security.md, "Quotas")
 * against the real daemon over a real socket.
 *
 * Principals: `swq` (switch, quota: 3 contacts, 2 agents), `rate`
 * (switch, quota: 1 request per second), `free` (switch, no quota) and a
 * monitor. Each test checks that the quota refuses exactly the request
 * past it with the documented code, that the refusal is counted in
 * Stats.quota_refusals, that another principal is not affected, and that
 * room made (a contact ended, an agent logged out, time) lets the next
 * request through.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth.h"
#include "e2e-util.h"
#include "harness.h"

#define T_MS E2E_T_MS
#define BODY(x) E2E_BODY(x)
#define EC(x) E2E_EC(x)
#define ROLE(x) E2E_ROLE(x)

#define TOKEN(p) ("quota-token-" p "-0123456789abcdef")

static const char *const tok_swq = TOKEN("swq");
static const char *const tok_rate = TOKEN("rate");
static const char *const tok_free = TOKEN("free");
static const char *const tok_mon = TOKEN("mon");

static void config_text(char *buf, size_t len, int redis_port,
                        const void *arg)
{
    char q[65], r[65], f[65], m[65];
    e2e_token_hex(tok_swq, q);
    e2e_token_hex(tok_rate, r);
    e2e_token_hex(tok_free, f);
    e2e_token_hex(tok_mon, m);
    snprintf(buf, len,
        "log_level: info\n"
        "grace: 30s\n"
        "redis: {enabled: false}\n"
        "routing: {offer_timeout: 60s, max_agents: 100, max_contacts: 1000}\n"
        "skills: [s1]\n"
        "queues:\n"
        "  - {name: q1, skills: {s1: 1}}\n"
        "principals:\n"
        "  - {name: swq, token_sha256: %s, roles: [switch],"
        " clients: [\"swq*\"], agents: [\"q-*\"],"
        " quota: {contacts: 3, agents: 2}}\n"
        "  - {name: rate, token_sha256: %s, roles: [switch],"
        " clients: [\"rate*\"], quota: {requests_per_second: 1}}\n"
        "  - {name: free, token_sha256: %s, roles: [switch],"
        " clients: [\"free*\"], agents: [\"f-*\"]}\n"
        "  - {name: mon, token_sha256: %s, roles: [monitor],"
        " clients: [\"mon*\"]}\n",
        q, r, f, m);
}

static int setup(void **state)
{
    return e2e_env_start(state, false, config_text, NULL);
}

static int teardown(void **state)
{
    return e2e_env_teardown(state);
}

static void dial(struct e2e_env *f, struct e2e_client *e, const char *name,
                 const char *token)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Hello h = CCROUTE__V1__HELLO__INIT;
    memset(e, 0, sizeof(*e));
    assert_int_equal(e2e_open(e, f->d.port), 0);
    h.client_name = (char *)name;
    h.role = token == tok_mon ? ROLE(MONITOR) : ROLE(SWITCH);
    h.protocol_version = CCROUTE__V1__PROTOCOL_VERSION__PROTOCOL_VERSION_1;
    h.credential = (char *)token;
    env.body_case = BODY(HELLO);
    env.hello = &h;
    assert_int_equal(e2e_call(e, &env, T_MS), 0);
}

static uint64_t quota_refusals(struct e2e_client *mon)
{
    ccr_envelope *st = e2e_stats_queues(mon, NULL, 0);
    uint64_t n = st->stats->quota_refusals;
    ccr_free(st);
    return n;
}

/* Sends a request and returns its answer; the Error message to msg. */
static int call_msg(struct e2e_client *e, ccr_envelope *env, char *msg,
                    size_t len)
{
    env->request_id = 0;
    if (ccr_client_send(e->c, env) < 0)
        return -EPIPE;
    for (long long end = harness_now_ms() + T_MS; harness_now_ms() < end;) {
        ccr_envelope *r = e2e_next(e, T_MS);
        if (!r)
            break;
        if ((r->body_case == BODY(ACK) || r->body_case == BODY(ERROR)) &&
            r->request_id == env->request_id) {
            int rc = r->body_case == BODY(ACK) ? 0 : (int)r->error->code;
            snprintf(msg, len, "%s", rc ? r->error->message : "");
            ccr_free(r);
            return rc;
        }
        ccr_free(r);
    }
    return -ETIMEDOUT;
}

static int contact(struct e2e_client *e, const char *id, char *msg,
                   size_t len)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactArrived ca = CCROUTE__V1__CONTACT_ARRIVED__INIT;
    ca.contact_id = (char *)id;
    ca.queue = "q1";
    env.body_case = BODY(CONTACT_ARRIVED);
    env.contact_arrived = &ca;
    return call_msg(e, &env, msg, len);
}

static int login(struct e2e_client *e, const char *id, char *msg, size_t len)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__AgentLogin li = CCROUTE__V1__AGENT_LOGIN__INIT;
    Ccroute__V1__AgentSkill sk = CCROUTE__V1__AGENT_SKILL__INIT;
    Ccroute__V1__AgentSkill *skp = &sk;
    sk.skill = "other";     /* serves nothing: no offer interferes */
    sk.level = 1;
    li.agent_id = (char *)id;
    li.skills = &skp;
    li.n_skills = 1;
    env.body_case = BODY(AGENT_LOGIN);
    env.agent_login = &li;
    return call_msg(e, &env, msg, len);
}

static void test_contact_quota(void **state)
{
    struct e2e_env *f = *state;
    struct e2e_client sw, sw2, fr, mon;
    char msg[256];

    dial(f, &sw, "swq-1", tok_swq);
    dial(f, &sw2, "swq-2", tok_swq);
    dial(f, &fr, "free-1", tok_free);
    dial(f, &mon, "mon-1", tok_mon);
    uint64_t refused0 = quota_refusals(&mon);

    assert_int_equal(contact(&sw, "c1", msg, sizeof(msg)), 0);
    assert_int_equal(contact(&sw, "c2", msg, sizeof(msg)), 0);
    assert_int_equal(contact(&sw2, "c3", msg, sizeof(msg)), 0);
    /* the fourth live contact of the principal, from either connection */
    assert_int_equal(contact(&sw, "c4", msg, sizeof(msg)),
                     EC(RESOURCE_EXHAUSTED));
    assert_non_null(strstr(msg, "quota"));
    assert_int_equal(contact(&sw2, "c4", msg, sizeof(msg)),
                     EC(RESOURCE_EXHAUSTED));
    assert_int_equal(quota_refusals(&mon), refused0 + 2);
    /* a re-sent id is not a new contact: answered with its state */
    assert_int_equal(contact(&sw, "c1", msg, sizeof(msg)), 0);
    /* another principal is not limited by swq's quota */
    for (int i = 0; i < 6; i++) {
        char id[16];
        snprintf(id, sizeof(id), "f%d", i);
        assert_int_equal(contact(&fr, id, msg, sizeof(msg)), 0);
    }
    /* ending one makes room for one */
    assert_int_equal(e2e_simple(&sw, BODY(CONTACT_ABANDONED), "c2", NULL), 0);
    assert_int_equal(contact(&sw, "c4", msg, sizeof(msg)), 0);
    assert_int_equal(contact(&sw, "c5", msg, sizeof(msg)),
                     EC(RESOURCE_EXHAUSTED));
    /* contacts waiting for a gone connection (grace) still count */
    e2e_close(&sw);
    assert_int_equal(contact(&sw2, "c5", msg, sizeof(msg)),
                     EC(RESOURCE_EXHAUSTED));
    assert_int_equal(quota_refusals(&mon), refused0 + 4);
    e2e_close(&sw2);
    e2e_close(&fr);
    e2e_close(&mon);
}

static void test_agent_quota(void **state)
{
    struct e2e_env *f = *state;
    struct e2e_client sw, fr;
    char msg[256];

    dial(f, &sw, "swq-a", tok_swq);
    dial(f, &fr, "free-a", tok_free);
    assert_int_equal(login(&sw, "q-1", msg, sizeof(msg)), 0);
    assert_int_equal(login(&sw, "q-2", msg, sizeof(msg)), 0);
    assert_int_equal(login(&sw, "q-3", msg, sizeof(msg)),
                     EC(RESOURCE_EXHAUSTED));
    assert_non_null(strstr(msg, "logged-in agents"));
    /* an agent already logged in is AGENT_EXISTS, as without quotas */
    assert_int_equal(login(&sw, "q-1", msg, sizeof(msg)), EC(AGENT_EXISTS));
    assert_int_equal(login(&fr, "f-1", msg, sizeof(msg)), 0);
    assert_int_equal(e2e_simple(&sw, BODY(AGENT_LOGOUT), NULL, "q-1"), 0);
    assert_int_equal(login(&sw, "q-3", msg, sizeof(msg)), 0);
    e2e_close(&sw);
    e2e_close(&fr);
}

/* 30 Pings sent at once against a bucket of 1 per second: the first is
 * answered, and the engine refuses some with RATE_LIMITED (30 requests
 * could only all pass if sending them took 29 s). A refused request is
 * retryable: sent again until answered. */
static void test_rate_quota(void **state)
{
    struct e2e_env *f = *state;
    struct e2e_client rt, fr, mon;
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Ping ping = CCROUTE__V1__PING__INIT;
    unsigned pongs = 0, limited = 0;
    uint64_t first = 0;

    dial(f, &rt, "rate-1", tok_rate);
    dial(f, &fr, "free-r", tok_free);
    dial(f, &mon, "mon-r", tok_mon);
    uint64_t refused0 = quota_refusals(&mon);
    env.body_case = BODY(PING);
    env.ping = &ping;
    for (int i = 0; i < 30; i++) {
        env.request_id = 0;
        assert_int_equal(ccr_client_send(rt.c, &env), 0);
        if (i == 0)
            first = env.request_id;
    }
    while (pongs + limited < 30) {
        ccr_envelope *r = e2e_next(&rt, T_MS);
        assert_non_null(r);
        if (r->body_case == BODY(PONG)) {
            if (pongs++ == 0)
                assert_int_equal(r->request_id, first);
        } else {
            assert_int_equal(r->body_case, BODY(ERROR));
            assert_int_equal(r->error->code, EC(RATE_LIMITED));
            assert_non_null(strstr(r->error->message, "retry"));
            limited++;
        }
        ccr_free(r);
    }
    assert_true(pongs >= 1);
    assert_true(limited >= 1);
    assert_int_equal(quota_refusals(&mon), refused0 + limited);
    /* another principal is answered meanwhile */
    env.request_id = 0;
    assert_int_equal(ccr_client_send(fr.c, &env), 0);
    ccr_envelope *pong = e2e_wait(&fr, BODY(PONG), env.request_id, T_MS);
    assert_non_null(pong);
    ccr_free(pong);
    /* retryable: the bucket refills (bounded wait on a real answer) */
    long long end = harness_now_ms() + T_MS;
    for (;;) {
        env.request_id = 0;
        assert_int_equal(ccr_client_send(rt.c, &env), 0);
        ccr_envelope *r = e2e_next(&rt, T_MS);
        assert_non_null(r);
        bool pong = r->body_case == BODY(PONG);
        ccr_free(r);
        if (pong)
            break;
        if (harness_now_ms() > end)
            fail_msg("no Pong after RATE_LIMITED within %d ms", T_MS);
        harness_pause_ms(200);        /* retry interval of a client */
    }
    e2e_close(&rt);
    e2e_close(&fr);
    e2e_close(&mon);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_contact_quota, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_quota, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_quota, setup, teardown),
    };
    return cmocka_run_group_tests_name("quota", tests, NULL, NULL);
}
