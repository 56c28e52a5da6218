/* e2e-util.c -- helpers for end-to-end tests; see e2e-util.h.
 *
 * The client wrapper keeps every envelope that was received but not yet
 * asked for in a per-connection queue (bounded; the oldest is dropped when
 * full, which the tests never reach). e2e_call() therefore never loses an
 * Offer that arrived while it waited for an Ack, and e2e_wait() looks in
 * the queue before it reads from the socket.
 */
#include "e2e-util.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth.h"
#include "store-peek.h"

/* ---- clients ---- */

int e2e_open(struct e2e_client *e, int port)
{
    memset(e, 0, sizeof(*e));
    return ccr_client_connect("127.0.0.1", port, &e->c);
}

void e2e_open_hello(struct e2e_client *e, int port, const char *name,
                    Ccroute__V1__Role role, bool reattach)
{
    char msg[256] = "";
    int rc = e2e_open(e, port);
    if (rc < 0)
        fail_msg("connect to 127.0.0.1:%d: %s", port, strerror(-rc));
    rc = e2e_hello(e, name, role, reattach, msg, sizeof(msg), E2E_T_MS);
    if (rc != 0)
        fail_msg("Hello %s on port %d: %d (%s)", name, port, rc, msg);
}

void e2e_open_hello_retry(struct e2e_client *e, int port, const char *name,
                          Ccroute__V1__Role role, bool reattach)
{
    char msg[256] = "";
    int rc = e2e_open(e, port);
    if (rc < 0)
        fail_msg("connect to 127.0.0.1:%d: %s", port, strerror(-rc));
    /* a starting or loading engine answers STATE_UNAVAILABLE, a standby
     * NOT_OWNER, and keeps the connection (docs/redis.md, Faults) */
    rc = e2e_hello_until_served(e, name, role, reattach, msg, sizeof(msg),
                                harness_now_ms() + E2E_T_MS);
    if (rc == E2E_EC(NOT_OWNER) || rc == E2E_EC(STATE_UNAVAILABLE))
        fail_msg("Hello from %s: still refused after %d ms (%s)", name,
                 E2E_T_MS, msg);
    if (rc != 0)
        fail_msg("Hello from %s: %d (%s)", name, rc, msg);
}

int e2e_hello_until_served(struct e2e_client *e, const char *name,
                           Ccroute__V1__Role role, bool reattach, char *msg,
                           size_t msglen, long long deadline_ms)
{
    for (;;) {
        int rc = e2e_hello(e, name, role, reattach, msg, msglen, E2E_T_MS);
        if ((rc != E2E_EC(NOT_OWNER) && rc != E2E_EC(STATE_UNAVAILABLE)) ||
            harness_now_ms() > deadline_ms)
            return rc;
        harness_pause_ms(10);         /* between polls of the role */
    }
}

static void q_push(struct e2e_client *e, ccr_envelope *env)
{
    if (e->n == E2E_QMAX) {
        ccr_free(e->q[0]);
        memmove(&e->q[0], &e->q[1], (E2E_QMAX - 1) * sizeof(e->q[0]));
        e->n--;
    }
    e->q[e->n++] = env;
}

static ccr_envelope *q_take(struct e2e_client *e, int i)
{
    ccr_envelope *env = e->q[i];
    memmove(&e->q[i], &e->q[i + 1], (size_t)(e->n - i - 1) * sizeof(e->q[0]));
    e->n--;
    return env;
}

int e2e_pump(struct e2e_client *e, int timeout_ms)
{
    ccr_envelope *env = NULL;
    int rc;
    if (e->eof)
        return -EPIPE;
    rc = ccr_client_recv(e->c, timeout_ms, &env);
    if (rc == -EPIPE || rc == -ECONNRESET)
        e->eof = true;
    if (rc < 0)
        return rc;
    q_push(e, env);
    return 0;
}

static int find(struct e2e_client *e, int from, int body_case,
                uint64_t request_id)
{
    for (int i = from; i < e->n; i++)
        if ((body_case < 0 || (int)e->q[i]->body_case == body_case) &&
            (request_id == 0 || e->q[i]->request_id == request_id))
            return i;
    return -1;
}

ccr_envelope *e2e_wait(struct e2e_client *e, int body_case,
                       uint64_t request_id, int timeout_ms)
{
    long long deadline = harness_now_ms() + timeout_ms;
    int i = find(e, 0, body_case, request_id);
    while (i < 0) {
        int from = e->n;
        long long left = deadline - harness_now_ms();
        if (left <= 0 || e2e_pump(e, (int)left) < 0)
            return NULL;
        i = find(e, from, body_case, request_id);
    }
    return q_take(e, i);
}

ccr_envelope *e2e_wait_offer(struct e2e_client *e, const char *cid,
                             int timeout_ms)
{
    long long deadline = harness_now_ms() + timeout_ms;
    int from = 0;
    for (;;) {
        for (int i = from; i < e->n; i++)
            if (e->q[i]->body_case == E2E_BODY(OFFER) &&
                (!cid || !strcmp(e->q[i]->offer->contact_id, cid)))
                return q_take(e, i);
        from = e->n;
        long long left = deadline - harness_now_ms();
        if (left <= 0 || e2e_pump(e, (int)left) < 0)
            return NULL;
    }
}

void e2e_flush(struct e2e_client *e)
{
    for (int i = 0; i < e->n; i++)
        ccr_free(e->q[i]);
    e->n = 0;
}

ccr_envelope *e2e_expect(struct e2e_client *e, int body_case, int timeout_ms)
{
    ccr_envelope *env = e2e_wait(e, body_case, 0, timeout_ms);
    if (!env)
        fail_msg("%s waiting for body case %d", e->eof ? "EOF" : "timed out",
                 body_case);
    return env;
}

ccr_envelope *e2e_next(struct e2e_client *e, int timeout_ms)
{
    return e2e_wait(e, -1, 0, timeout_ms);
}

void e2e_expect_error_then_close(struct e2e_client *e, int code,
                                 int timeout_ms)
{
    ccr_envelope *env = e2e_expect(e, E2E_BODY(ERROR), timeout_ms);
    assert_int_equal(env->error->code, code);
    ccr_free(env);
    e2e_flush(e);
    for (;;) {
        int rc = e2e_pump(e, timeout_ms);
        if (rc == -EPIPE || rc == -ECONNRESET)
            return;
        assert_int_equal(rc, 0);   /* not a timeout: it must close */
        e2e_flush(e);
    }
}

void e2e_close(struct e2e_client *e)
{
    e2e_flush(e);
    if (e->c)
        ccr_client_close(e->c);
    e->c = NULL;
}

/* Waits for the Ack/Error of request `id`. */
static int reply_of(struct e2e_client *e, uint64_t id, int timeout_ms,
                    char *msg, size_t msglen)
{
    long long deadline = harness_now_ms() + timeout_ms;
    for (;;) {
        int i;
        for (i = 0; i < e->n; i++) {
            ccr_envelope *r = e->q[i];
            if (r->request_id == id && (r->body_case == E2E_BODY(ACK) ||
                                        r->body_case == E2E_BODY(ERROR)))
                break;
        }
        if (i < e->n) {
            ccr_envelope *r = q_take(e, i);
            int rc = 0;
            if (r->body_case == E2E_BODY(ERROR)) {
                rc = (int)r->error->code;
                if (!r->error->message)
                    fail_msg("Error %d for request %llu without a message",
                             rc, (unsigned long long)id);
                if (msg)
                    snprintf(msg, msglen, "%s",
                             r->error->message ? r->error->message : "");
            }
            ccr_free(r);
            return rc;
        }
        long long left = deadline - harness_now_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        int rc = e2e_pump(e, (int)left);
        if (rc < 0)
            return rc;
    }
}

int e2e_reply_msg(struct e2e_client *e, uint64_t id, int timeout_ms,
                  char *msg, size_t msglen)
{
    if (msg && msglen)
        msg[0] = '\0';
    return reply_of(e, id, timeout_ms, msg, msglen);
}

int e2e_call(struct e2e_client *e, ccr_envelope *env, int timeout_ms)
{
    env->request_id = 0;
    int rc = ccr_client_send(e->c, env);
    if (rc < 0)
        return rc;
    return reply_of(e, env->request_id, timeout_ms, NULL, 0);
}

int e2e_hello(struct e2e_client *e, const char *name, Ccroute__V1__Role role,
              bool reattach, char *msg, size_t msglen, int timeout_ms)
{
    return e2e_hello_tenant(e, name, role, reattach, NULL, msg, msglen,
                            timeout_ms);
}

int e2e_hello_tenant(struct e2e_client *e, const char *name,
                     Ccroute__V1__Role role, bool reattach,
                     const char *tenant, char *msg, size_t msglen,
                     int timeout_ms)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Hello h = CCROUTE__V1__HELLO__INIT;
    if (tenant)
        h.tenant = (char *)tenant;
    h.client_name = (char *)name;
    h.role = role;
    h.protocol_version = CCROUTE__V1__PROTOCOL_VERSION__PROTOCOL_VERSION_1;
    h.reattach = reattach;
    env.body_case = E2E_BODY(HELLO);
    env.hello = &h;
    int rc = ccr_client_send(e->c, &env);
    if (rc < 0)
        return rc;
    return reply_of(e, env.request_id, timeout_ms, msg, msglen);
}

/* ---- requests ---- */

static uint64_t send_env(struct e2e_client *e, ccr_envelope *env)
{
    env->request_id = 0;
    return ccr_client_send(e->c, env) < 0 ? 0 : env->request_id;
}

int e2e_reply(struct e2e_client *e, uint64_t id, int timeout_ms)
{
    return id ? reply_of(e, id, timeout_ms, NULL, 0) : -EPIPE;
}

static int call_sent(struct e2e_client *e, uint64_t id)
{
    return e2e_reply(e, id, E2E_T_MS);
}

uint64_t e2e_send_contact(struct e2e_client *e, const char *id,
                          const char *queue, Ccroute__V1__Channel ch)
{
    return e2e_send_contact_attr(e, id, queue, ch, "case", id);
}

uint64_t e2e_send_contact_attr(struct e2e_client *e, const char *id,
                               const char *queue, Ccroute__V1__Channel ch,
                               const char *key, const char *value)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactArrived m = CCROUTE__V1__CONTACT_ARRIVED__INIT;
    Ccroute__V1__Attribute a = CCROUTE__V1__ATTRIBUTE__INIT;
    Ccroute__V1__Attribute *attrs[1] = { &a };
    m.contact_id = (char *)id;
    m.queue = (char *)queue;
    m.channel = ch;
    a.key = (char *)key;
    a.value = (char *)value;
    m.attributes = attrs;
    m.n_attributes = 1;
    env.body_case = E2E_BODY(CONTACT_ARRIVED);
    env.contact_arrived = &m;
    return send_env(e, &env);
}

uint64_t e2e_send_contact_prio(struct e2e_client *e, const char *id,
                               const char *queue, Ccroute__V1__Channel ch,
                               unsigned priority)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactArrived m = CCROUTE__V1__CONTACT_ARRIVED__INIT;
    m.contact_id = (char *)id;
    m.queue = (char *)queue;
    m.channel = ch;
    m.priority = priority;
    env.body_case = E2E_BODY(CONTACT_ARRIVED);
    env.contact_arrived = &m;
    return send_env(e, &env);
}

int e2e_contact(struct e2e_client *e, const char *id, const char *queue,
                Ccroute__V1__Channel ch)
{
    return call_sent(e, e2e_send_contact(e, id, queue, ch));
}

uint64_t e2e_send_agent_login(struct e2e_client *e, const char *id,
                              const char *skill, unsigned level,
                              unsigned voice_cap, unsigned chat_cap)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__AgentLogin m = CCROUTE__V1__AGENT_LOGIN__INIT;
    Ccroute__V1__AgentSkill sk = CCROUTE__V1__AGENT_SKILL__INIT;
    Ccroute__V1__AgentSkill *skp = &sk;
    Ccroute__V1__ChannelCapacity v = CCROUTE__V1__CHANNEL_CAPACITY__INIT;
    Ccroute__V1__ChannelCapacity ch = CCROUTE__V1__CHANNEL_CAPACITY__INIT;
    Ccroute__V1__ChannelCapacity *caps[2] = { &v, &ch };
    v.channel = E2E_VOICE;
    v.capacity = voice_cap;
    ch.channel = E2E_CHAT;
    ch.capacity = chat_cap;
    m.agent_id = (char *)id;
    m.capacity = caps;
    m.n_capacity = 2;
    sk.skill = (char *)skill;
    sk.level = level;
    m.skills = &skp;
    m.n_skills = 1;
    env.body_case = E2E_BODY(AGENT_LOGIN);
    env.agent_login = &m;
    return send_env(e, &env);
}

int e2e_agent_login(struct e2e_client *e, const char *id, const char *skill,
                    unsigned level, unsigned voice_cap, unsigned chat_cap)
{
    return call_sent(e, e2e_send_agent_login(e, id, skill, level, voice_cap,
                                             chat_cap));
}

int e2e_agent_state(struct e2e_client *e, const char *id,
                    Ccroute__V1__AgentStatus st, const char *reason)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__AgentState m = CCROUTE__V1__AGENT_STATE__INIT;
    m.agent_id = (char *)id;
    m.status = st;
    m.reason = (char *)(reason ? reason : "");
    env.body_case = E2E_BODY(AGENT_STATE);
    env.agent_state = &m;
    return call_sent(e, send_env(e, &env));
}

uint64_t e2e_send_simple(struct e2e_client *e, int body_case,
                         const char *cid, const char *aid)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactAbandoned ab = CCROUTE__V1__CONTACT_ABANDONED__INIT;
    Ccroute__V1__ContactCompleted co = CCROUTE__V1__CONTACT_COMPLETED__INIT;
    Ccroute__V1__OfferAccepted ac = CCROUTE__V1__OFFER_ACCEPTED__INIT;
    Ccroute__V1__OfferRejected rj = CCROUTE__V1__OFFER_REJECTED__INIT;
    Ccroute__V1__AgentLogout lo = CCROUTE__V1__AGENT_LOGOUT__INIT;
    env.body_case = body_case;
    switch (body_case) {
    case E2E_BODY(CONTACT_ABANDONED):
        ab.contact_id = (char *)cid;
        env.contact_abandoned = &ab;
        break;
    case E2E_BODY(CONTACT_COMPLETED):
        co.contact_id = (char *)cid;
        env.contact_completed = &co;
        break;
    case E2E_BODY(OFFER_ACCEPTED):
        ac.contact_id = (char *)cid;
        ac.agent_id = (char *)aid;
        env.offer_accepted = &ac;
        break;
    case E2E_BODY(OFFER_REJECTED):
        rj.contact_id = (char *)cid;
        rj.agent_id = (char *)aid;
        env.offer_rejected = &rj;
        break;
    case E2E_BODY(AGENT_LOGOUT):
        lo.agent_id = (char *)aid;
        env.agent_logout = &lo;
        break;
    default:
        fail_msg("e2e_send_simple: body case %d", body_case);
    }
    return send_env(e, &env);
}

int e2e_simple(struct e2e_client *e, int body_case, const char *cid,
               const char *aid)
{
    return call_sent(e, e2e_send_simple(e, body_case, cid, aid));
}

static uint64_t send_stats(struct e2e_client *e, bool all_agents,
                           const char *const *queues, size_t nqueues)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__StatsRequest m = CCROUTE__V1__STATS_REQUEST__INIT;
    m.all_agents = all_agents;
    m.queues = (char **)queues;
    m.n_queues = nqueues;
    env.body_case = E2E_BODY(STATS_REQUEST);
    env.stats_request = &m;
    return send_env(e, &env);
}

uint64_t e2e_send_stats(struct e2e_client *e)
{
    return send_stats(e, true, NULL, 0);
}

void e2e_fence(struct e2e_client *c)
{
    uint64_t id = e2e_send_stats(c);
    assert_true(id != 0);
    ccr_envelope *ack = e2e_wait(c, E2E_BODY(ACK), id, E2E_T_MS);
    if (!ack)
        fail_msg("no answer on a connection that should be open (eof %d)",
                 (int)c->eof);
    ccr_free(ack);
    ccr_envelope *st = e2e_wait(c, E2E_BODY(STATS), id, 0);
    assert_non_null(st);
    ccr_free(st);
}

/* The Stats answer to request id (Ack expected). */
static ccr_envelope *stats_reply(struct e2e_client *e, uint64_t id)
{
    if (!id)
        fail_msg("StatsRequest: send failed");
    int rc = reply_of(e, id, E2E_T_MS, NULL, 0);
    if (rc != 0)
        fail_msg("StatsRequest: reply %d", rc);
    /* The Stats frame precedes its Ack on the connection. */
    ccr_envelope *st = e2e_wait(e, E2E_BODY(STATS), id, 0);
    if (!st)
        fail_msg("StatsRequest: Ack without Stats");
    return st;
}

ccr_envelope *e2e_stats(struct e2e_client *e)
{
    return stats_reply(e, e2e_send_stats(e));
}

ccr_envelope *e2e_stats_queues(struct e2e_client *e, const char *const *queues,
                               size_t nqueues)
{
    return stats_reply(e, send_stats(e, false, queues, nqueues));
}

const Ccroute__V1__AgentStats *e2e_stats_agent(const ccr_envelope *st,
                                               const char *id)
{
    for (size_t i = 0; i < st->stats->n_agents; i++)
        if (!strcmp(st->stats->agents[i]->agent_id, id))
            return st->stats->agents[i];
    return NULL;
}

/* ---- Redis ---- */

redisContext *e2e_redis(int port)
{
    struct timeval tv = { 5, 0 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (!c || c->err)
        fail_msg("redis 127.0.0.1:%d: %s", port, c ? c->errstr : "no memory");
    redisSetTimeout(c, tv);
    return c;
}

long long e2e_rint(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!r)
        fail_msg("redis: %s", c->errstr);
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return v;
}

bool e2e_rhget(redisContext *c, const char *key, const char *field,
               char *out, size_t len)
{
    redisReply *r = redisCommand(c, "HGET %s %s", key, field);
    bool ok = false;
    if (!r)
        fail_msg("redis: %s", c->errstr);
    out[0] = '\0';
    if (r->type == REDIS_REPLY_STRING) {
        snprintf(out, len, "%.*s", (int)r->len, r->str);
        ok = true;
    }
    freeReplyObject(r);
    return ok;
}

int e2e_redis_term(struct harness_redis *r, int timeout_ms)
{
    return harness_redis_term(r, timeout_ms);
}

/* ---- the daemon ---- */

void e2e_expect_log_count(struct harness_daemon *d, const char *needle, int n,
                          int timeout_ms)
{
    if (!harness_daemon_log_reaches(d, needle, n, timeout_ms)) {
        harness_daemon_dump_log(d);
        fail_msg("fewer than %d lines in the engine's log with \"%s\" (%d)",
                 n, needle, harness_daemon_log_count(d, needle));
    }
}

void e2e_expect_log(struct harness_daemon *d, const char *needle,
                    int timeout_ms)
{
    e2e_expect_log_count(d, needle, 1, timeout_ms);
}

void e2e_crash_restart(struct harness_daemon *d, int nagents,
                       long long ncontacts, int timeout_ms)
{
    char want[96];
    harness_daemon_kill(d);
    if (harness_daemon_restart(d, NULL) != 0) {
        harness_daemon_dump_log(d);
        fail_msg("the engine did not start again");
    }
    snprintf(want, sizeof(want), "loaded %d agents, %lld contacts", nagents,
             ncontacts);
    e2e_expect_log(d, want, timeout_ms);
}

void e2e_take_in_order(struct e2e_client *desk, struct e2e_client *sw,
                       const char *agent, const char *const *ids, int n,
                       const char *what)
{
    for (int i = 0; i < n; i++) {
        ccr_envelope *o = e2e_wait_offer(desk, NULL, E2E_T_MS);
        if (!o)
            fail_msg("%s: no offer for the %d-th contact (%s)", what, i,
                     ids[i]);
        char cid[256];
        snprintf(cid, sizeof(cid), "%s", o->offer->contact_id);
        ccr_free(o);
        if (strcmp(cid, ids[i]) != 0)
            fail_msg("%s: offer %d is %s, expected %s (recovered out of "
                     "order)", what, i, cid, ids[i]);
        if (e2e_simple(desk, E2E_BODY(OFFER_ACCEPTED), cid, agent) != 0 ||
            e2e_simple(sw, E2E_BODY(CONTACT_COMPLETED), cid, NULL) != 0)
            fail_msg("%s: %s not accepted and completed", what, cid);
    }
}

/* ---- fixtures ---- */

int e2e_env_start(void **state, bool with_redis, e2e_config_cb config,
                  const void *arg)
{
    char text[8192];
    struct e2e_env *env = calloc(1, sizeof(*env));
    *state = NULL;
    if (!env)
        return -1;
    env->with_redis = with_redis;
    if (with_redis) {
        struct timeval tv = { 5, 0 };
        if (harness_redis_start(&env->redis) < 0) {
            free(env);
            return -1;
        }
        env->r = redisConnectWithTimeout("127.0.0.1", env->redis.port, tv);
        if (!env->r || env->r->err) {
            fprintf(stderr, "e2e: redis 127.0.0.1:%d: %s\n", env->redis.port,
                    env->r ? env->r->errstr : "no memory");
            goto fail;
        }
        redisSetTimeout(env->r, tv);
    }
    config(text, sizeof(text), with_redis ? env->redis.port : 0, arg);
    if (harness_daemon_start(&env->d, text, NULL) < 0) {
        harness_daemon_cleanup(&env->d);
        goto fail;
    }
    *state = env;
    return 0;
fail:
    if (env->r)
        redisFree(env->r);
    if (with_redis)
        harness_redis_stop(&env->redis);
    free(env);
    return -1;
}

int e2e_env_teardown(void **state)
{
    struct e2e_env *env = *state;
    int rc;
    if (!env)
        return 0;
    rc = harness_daemon_stop(&env->d, 5000);
    if (rc != 0)
        fprintf(stderr, "ccrouted exit status %d\n", rc);
    if (env->r)
        redisFree(env->r);
    if (env->with_redis)
        harness_redis_stop(&env->redis);
    free(env);
    *state = NULL;
    return rc == 0 ? 0 : -1;
}

/* ---- the event stream ---- */

struct asg {
    char contact[64], agent[64];
    int channel;
};

struct load {
    char agent[64];
    int channel;
    int busy;
};

struct replay {
    struct asg *a;
    size_t na, capa;
    struct load *l;
    size_t nl, capl;
};

static struct load *load_of(struct replay *rp, const char *agent, int ch)
{
    for (size_t i = 0; i < rp->nl; i++)
        if (rp->l[i].channel == ch && !strcmp(rp->l[i].agent, agent))
            return &rp->l[i];
    if (rp->nl == rp->capl) {
        rp->capl = rp->capl ? rp->capl * 2 : 64;
        rp->l = realloc(rp->l, rp->capl * sizeof(*rp->l));
        assert_non_null(rp->l);
    }
    struct load *l = &rp->l[rp->nl++];
    snprintf(l->agent, sizeof(l->agent), "%s", agent);
    l->channel = ch;
    l->busy = 0;
    return l;
}

static void violation(struct e2e_ev_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void violation(struct e2e_ev_report *r, const char *fmt, ...)
{
    va_list ap;
    if (r->violations++ == 0) {
        va_start(ap, fmt);
        vsnprintf(r->first_violation, sizeof(r->first_violation), fmt, ap);
        va_end(ap);
    }
    va_start(ap, fmt);
    fprintf(stderr, "events: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void note_token(struct e2e_ev_report *r, uint64_t tok)
{
    if (r->ntokens && r->tokens[r->ntokens - 1] == tok)
        return;
    for (size_t i = 0; i < r->ntokens; i++)
        if (r->tokens[i] == tok)
            r->token_order_ok = false;
    if (r->ntokens < sizeof(r->tokens) / sizeof(r->tokens[0]))
        r->tokens[r->ntokens++] = tok;
}

static void replay_entry(struct replay *rp, const struct e2e_ev_model *m,
                         struct e2e_ev_report *r, const char *id,
                         const char *type, const char *cid, const char *aid,
                         uint64_t tok)
{
    r->entries++;
    note_token(r, tok);
    if (!strcmp(type, "offer")) {
        r->offers++;
    } else if (!strcmp(type, "queued")) {
        r->queued++;
    } else if (!strcmp(type, "assigned")) {
        r->assigned++;
        for (size_t i = 0; i < rp->na; i++)
            if (!strcmp(rp->a[i].contact, cid))
                violation(r, "%s: contact %s assigned to %s while assigned "
                          "to %s", id, cid, aid, rp->a[i].agent);
        int ch = m->channel(m->arg, cid);
        struct load *l = load_of(rp, aid, ch);
        l->busy++;
        if ((size_t)l->busy > r->max_busy)
            r->max_busy = (size_t)l->busy;
        int cap = m->capacity(m->arg, aid, ch);
        if (l->busy > cap)
            violation(r, "%s: agent %s has %d contacts on channel %d, "
                      "capacity %d (contact %s)", id, aid, l->busy, ch, cap,
                      cid);
        if (rp->na == rp->capa) {
            rp->capa = rp->capa ? rp->capa * 2 : 64;
            rp->a = realloc(rp->a, rp->capa * sizeof(*rp->a));
            assert_non_null(rp->a);
        }
        struct asg *a = &rp->a[rp->na++];
        snprintf(a->contact, sizeof(a->contact), "%s", cid);
        snprintf(a->agent, sizeof(a->agent), "%s", aid);
        a->channel = ch;
    } else if (!strcmp(type, "gone")) {
        r->gone++;
        for (size_t i = 0; i < rp->na; i++) {
            if (strcmp(rp->a[i].contact, cid))
                continue;
            load_of(rp, rp->a[i].agent, rp->a[i].channel)->busy--;
            rp->a[i] = rp->a[--rp->na];
            break;
        }
    }
}

void e2e_events_check(redisContext *c, const char *tenant,
                      const struct e2e_ev_model *m, struct e2e_ev_report *r)
{
    struct replay rp = { 0 };
    memset(r, 0, sizeof(*r));
    r->token_order_ok = true;
    /* the events stream, or the journal's event ops: the same entries */
    struct peek *pk = peek_read(c, tenant);
    for (size_t i = 0; i < pk->nev; i++) {
        const struct peek_obj *e = &pk->ev[i];
        const char *type = peek_get(e, "type", NULL);
        const char *cid = peek_get(e, "contact", NULL);
        const char *aid = peek_get(e, "agent", NULL);
        const char *tok = peek_get(e, "token", NULL);
        replay_entry(&rp, m, r, e->id, type ? type : "", cid ? cid : "",
                     aid ? aid : "", tok ? strtoull(tok, NULL, 10) : 0);
    }
    peek_free(pk);
    free(rp.a);
    free(rp.l);
}

/* ---- heap clients of an env ---- */

struct e2e_client *e2e_env_dial(struct e2e_env *f)
{
    struct e2e_client *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    assert_int_equal(e2e_open(c, f->d.port), 0);
    return c;
}

struct e2e_client *e2e_env_dial_hello(struct e2e_env *f, const char *name,
                                      Ccroute__V1__Role role)
{
    struct e2e_client *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    e2e_open_hello(c, f->d.port, name, role, false);
    return c;
}

void e2e_hang_up(struct e2e_client *c)
{
    e2e_close(c);
    free(c);
}

void e2e_token_hex(const char *token, char out[65])
{
    uint8_t h[AUTH_HASH_LEN];
    assert_int_equal(auth_hash(token, strlen(token), h), 0);
    auth_hex_format(h, out);
}

int e2e_check_redis(const char *dir, const char *cfg_text, const char *name)
{
    char path[512], log[512], prog[512];
    const char *b = getenv("CCROUTE_BUILD");
    struct harness_proc p;
    FILE *f;
    int rc;

    snprintf(path, sizeof(path), "%s/%s.yaml", dir, name);
    snprintf(log, sizeof(log), "%s/%s.log", dir, name);
    if (!(f = fopen(path, "w")))
        return -errno;
    fputs(cfg_text, f);
    if (fclose(f) != 0)
        return -EIO;
    snprintf(prog, sizeof(prog), "%s/ccrouted", b && *b ? b : "build");
    const char *argv[] = { prog, "--config", path, "--check-config",
                           "--check-redis", "--listen", "127.0.0.1:0",
                           NULL };
    if ((rc = harness_proc_start(&p, argv, log, true)) < 0)
        return rc;
    return harness_proc_wait(&p, 15000);
}

int e2e_contact_until_acked(struct e2e_client *e, const char *id,
                            const char *queue, int timeout_ms, char *msg,
                            size_t msglen)
{
    long long deadline = harness_now_ms() + timeout_ms;
    for (;;) {
        uint64_t rid = e2e_send_contact(e, id, queue, E2E_VOICE);
        int rc = e2e_reply_msg(e, rid, timeout_ms, msg, msglen);
        if (rc != E2E_EC(STATE_UNAVAILABLE))
            return rc;
        if (e->eof)
            return -EPIPE;
        if (harness_now_ms() > deadline)
            return -ETIMEDOUT;
        harness_pause_ms(20);         /* poll interval */
    }
}
