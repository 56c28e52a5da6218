/* test-e2e.c -- end-to-end tests against the real ccrouted.
 *
 * Each test starts its own daemon (tests/harness.c) on an ephemeral
 * loopback port with a memory-only store, drives it with the blocking
 * client library (proto/client.h) and checks what comes back on the wire.
 * Synchronisation is always "wait for this message, with a timeout";
 * there is no sleep standing in for it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "client.h"
#include "frame.h"
#include "harness.h"

#define T_MS 5000   /* timeout for one expected message */

#define BODY(x) CCROUTE__V1__ENVELOPE__BODY_##x
#define EC(x) CCROUTE__V1__ERROR_CODE__ERROR_CODE_##x
#define ROLE(x) CCROUTE__V1__ROLE__ROLE_##x

static const char *config_base =
    "max_frame: 4096\n"
    "log_level: info\n"
    "redis: {enabled: false}\n"
    "routing: {offer_timeout: 20s, max_agents: 100, max_contacts: 1000}\n"
    "skills: [sales, support, \"lang:en\", \"lang:es\"]\n"
    "queues:\n"
    "  - name: sales\n"
    "    skills: {sales: 1}\n"
    "    channels: [voice, chat]\n"
    "  - name: support\n"
    "    skills: {support: 2}\n";

struct fx {
    struct harness_daemon d;
};

static int start_with(void **state, const char *extra)
{
    struct fx *f = calloc(1, sizeof(*f));
    char text[4096];
    snprintf(text, sizeof(text), "%s%s", config_base, extra ? extra : "");
    if (!f || harness_daemon_start(&f->d, text, NULL) < 0) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int setup(void **state) { return start_with(state, "grace: 5s\n"); }
static int setup_slow(void **state)
{
    return start_with(state, "grace: 5s\nmax_output: 64KiB\n");
}
static int setup_short_grace(void **state)
{
    return start_with(state, "grace: 300ms\n");
}

static int teardown(void **state)
{
    struct fx *f = *state;
    int rc = harness_daemon_stop(&f->d, 5000);
    if (rc != 0)
        fprintf(stderr, "ccrouted exit status %d\n", rc);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* ---- helpers ---- */

static struct ccr_client *dial(struct fx *f)
{
    struct ccr_client *c = NULL;
    assert_int_equal(ccr_client_connect("127.0.0.1", f->d.port, &c), 0);
    return c;
}

static struct ccr_client *dial_hello(struct fx *f, const char *name,
                                     Ccroute__V1__Role role)
{
    struct ccr_client *c = dial(f);
    assert_int_equal(ccr_client_hello(c, name, role, 0, T_MS), 0);
    return c;
}

/* Events that arrived while call() waited for a reply, kept for
 * wait_for() (per client, in order). */
#define STASH_MAX 256
static struct stash_ent {
    struct ccr_client *c;
    ccr_envelope *e;
} stash[STASH_MAX];
static int nstash;

static void stash_event(void *arg, ccr_envelope *ev)
{
    if (nstash == STASH_MAX) {
        ccr_free(ev);
        return;
    }
    stash[nstash].c = arg;
    stash[nstash].e = ev;
    nstash++;
}

static ccr_envelope *stash_take(struct ccr_client *c, int bc)
{
    for (int i = 0; i < nstash; i++) {
        if (stash[i].c == c && (int)stash[i].e->body_case == bc) {
            ccr_envelope *e = stash[i].e;
            memmove(&stash[i], &stash[i + 1],
                    (size_t)(nstash - i - 1) * sizeof(stash[0]));
            nstash--;
            return e;
        }
    }
    return NULL;
}

static void stash_drop(struct ccr_client *c)
{
    int j = 0;
    for (int i = 0; i < nstash; i++) {
        if (stash[i].c == c)
            ccr_free(stash[i].e);
        else
            stash[j++] = stash[i];
    }
    nstash = j;
}

static void client_close(struct ccr_client *c)
{
    stash_drop(c);
    ccr_client_close(c);
}

/* Sends env, waits for its Ack/Error; returns 0 on Ack or the ErrorCode.
 * Events in between are stashed for wait_for(). */
static int call(struct ccr_client *c, ccr_envelope *env)
{
    ccr_envelope *reply = NULL;
    int rc = ccr_client_call(c, env, T_MS, stash_event, c, &reply);
    assert_int_equal(rc, 0);
    assert_int_equal(reply->request_id, env->request_id);
    rc = reply->body_case == BODY(ERROR) ? (int)reply->error->code : 0;
    if (rc)
        assert_non_null(reply->error->message);
    ccr_free(reply);
    return rc;
}

/* Events seen by call_keep(): the first one of the wanted case. */
struct keep {
    int bc;
    ccr_envelope *got;
};

static void keep_event(void *arg, ccr_envelope *ev)
{
    struct keep *k = arg;
    if (!k->got && (int)ev->body_case == k->bc)
        k->got = ev;
    else
        ccr_free(ev);
}

/* Waits for the next message with body `bc` (others are dropped). */
static ccr_envelope *wait_for(struct ccr_client *c, int bc)
{
    long long deadline = harness_now_ms() + T_MS;
    ccr_envelope *st = stash_take(c, bc);
    if (st)
        return st;
    for (;;) {
        ccr_envelope *e = NULL;
        int left = (int)(deadline - harness_now_ms());
        if (left <= 0)
            fail_msg("timed out waiting for body case %d", bc);
        int rc = ccr_client_recv(c, left, &e);
        if (rc < 0)
            fail_msg("waiting for body case %d: %s", bc, strerror(-rc));
        if ((int)e->body_case == bc)
            return e;
        ccr_free(e);
    }
}

/* Waits for a ContactQueued about `id` with the given status. */
static void wait_contact_status(struct ccr_client *c, const char *id,
                                int status)
{
    for (;;) {
        ccr_envelope *e = wait_for(c, BODY(CONTACT_QUEUED));
        int match = !strcmp(e->contact_queued->contact_id, id) &&
                    (int)e->contact_queued->status == status;
        ccr_free(e);
        if (match)
            return;
    }
}

static int agent_login(struct ccr_client *c, const char *id,
                       const char *skill, unsigned level)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__AgentLogin m = CCROUTE__V1__AGENT_LOGIN__INIT;
    Ccroute__V1__AgentSkill sk = CCROUTE__V1__AGENT_SKILL__INIT;
    Ccroute__V1__AgentSkill *skp = &sk;
    Ccroute__V1__ChannelCapacity v = CCROUTE__V1__CHANNEL_CAPACITY__INIT;
    Ccroute__V1__ChannelCapacity ch = CCROUTE__V1__CHANNEL_CAPACITY__INIT;
    Ccroute__V1__ChannelCapacity *caps[2] = { &v, &ch };
    v.channel = CCROUTE__V1__CHANNEL__CHANNEL_VOICE;
    v.capacity = 1;
    ch.channel = CCROUTE__V1__CHANNEL__CHANNEL_CHAT;
    ch.capacity = 1;
    m.capacity = caps;
    m.n_capacity = 2;
    m.agent_id = (char *)id;
    sk.skill = (char *)skill;
    sk.level = level;
    m.skills = &skp;
    m.n_skills = 1;
    env.body_case = BODY(AGENT_LOGIN);
    env.agent_login = &m;
    return call(c, &env);
}

static int contact_arrive(struct ccr_client *c, const char *id,
                          const char *queue)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactArrived m = CCROUTE__V1__CONTACT_ARRIVED__INIT;
    Ccroute__V1__Attribute a1 = CCROUTE__V1__ATTRIBUTE__INIT;
    Ccroute__V1__Attribute *attrs[1] = { &a1 };
    m.contact_id = (char *)id;
    m.queue = (char *)queue;
    m.channel = CCROUTE__V1__CHANNEL__CHANNEL_CHAT;
    a1.key = "customer_name";
    a1.value = "Ada";
    m.attributes = attrs;
    m.n_attributes = 1;
    env.body_case = BODY(CONTACT_ARRIVED);
    env.contact_arrived = &m;
    return call(c, &env);
}

static int simple(struct ccr_client *c, int bc, const char *cid,
                  const char *aid)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactAbandoned ab = CCROUTE__V1__CONTACT_ABANDONED__INIT;
    Ccroute__V1__ContactCompleted co = CCROUTE__V1__CONTACT_COMPLETED__INIT;
    Ccroute__V1__OfferAccepted ac = CCROUTE__V1__OFFER_ACCEPTED__INIT;
    Ccroute__V1__OfferRejected rj = CCROUTE__V1__OFFER_REJECTED__INIT;
    Ccroute__V1__AgentLogout lo = CCROUTE__V1__AGENT_LOGOUT__INIT;
    env.body_case = bc;
    switch (bc) {
    case BODY(CONTACT_ABANDONED):
        ab.contact_id = (char *)cid;
        env.contact_abandoned = &ab;
        break;
    case BODY(CONTACT_COMPLETED):
        co.contact_id = (char *)cid;
        env.contact_completed = &co;
        break;
    case BODY(OFFER_ACCEPTED):
        ac.contact_id = (char *)cid;
        ac.agent_id = (char *)aid;
        env.offer_accepted = &ac;
        break;
    case BODY(OFFER_REJECTED):
        rj.contact_id = (char *)cid;
        rj.agent_id = (char *)aid;
        env.offer_rejected = &rj;
        break;
    case BODY(AGENT_LOGOUT):
        lo.agent_id = (char *)aid;
        env.agent_logout = &lo;
        break;
    default:
        fail();
    }
    return call(c, &env);
}

static ccr_envelope *stats(struct ccr_client *c)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__StatsRequest m = CCROUTE__V1__STATS_REQUEST__INIT;
    ccr_envelope *reply = NULL, *st = NULL;
    m.all_agents = 1;
    env.body_case = BODY(STATS_REQUEST);
    env.stats_request = &m;
    assert_int_equal(ccr_client_send(c, &env), 0);
    for (;;) {
        ccr_envelope *e = NULL;
        assert_int_equal(ccr_client_recv(c, T_MS, &e), 0);
        if (e->body_case == BODY(STATS) && e->request_id == env.request_id) {
            st = e;
            continue;
        }
        if (e->request_id == env.request_id &&
            (e->body_case == BODY(ACK) || e->body_case == BODY(ERROR))) {
            reply = e;
            break;
        }
        ccr_free(e);
    }
    assert_int_equal(reply->body_case, BODY(ACK));
    ccr_free(reply);
    assert_non_null(st);
    return st;
}

static uint32_t waiting(struct ccr_client *c)
{
    ccr_envelope *st = stats(c);
    uint32_t w = st->stats->contacts_waiting;
    ccr_free(st);
    return w;
}

/* Expects the Error for a raw frame (request id 0) and then EOF. */
static void expect_error_then_close(struct ccr_client *c, int code)
{
    ccr_envelope *e = wait_for(c, BODY(ERROR));
    assert_int_equal(e->error->code, code);
    ccr_free(e);
    for (;;) {
        int rc = ccr_client_recv(c, T_MS, &e);
        if (rc == -EPIPE || rc == -ECONNRESET)
            return;
        assert_int_equal(rc, 0);   /* not a timeout: it must close */
        ccr_free(e);
    }
}

/* ---- tests ---- */

static void test_route_offer_accept_complete(void **state)
{
    struct fx *f = *state;
    struct ccr_client *sw = dial_hello(f, "switch-1", ROLE(SWITCH));
    struct ccr_client *ag = dial_hello(f, "desk-1", ROLE(AGENT));
    struct ccr_client *mon = dial_hello(f, "wallboard", ROLE(MONITOR));
    ccr_envelope *e;
    uint64_t now_ms = (uint64_t)time(NULL) * 1000;

    assert_int_equal(agent_login(ag, "a1", "sales", 5), 0);
    assert_int_equal(contact_arrive(sw, "c1", "sales"), 0);

    e = wait_for(ag, BODY(OFFER));
    assert_string_equal(e->offer->contact_id, "c1");
    assert_string_equal(e->offer->agent_id, "a1");
    assert_string_equal(e->offer->queue, "sales");
    assert_int_equal(e->offer->channel, CCROUTE__V1__CHANNEL__CHANNEL_CHAT);
    assert_int_equal(e->offer->n_attributes, 1);
    assert_string_equal(e->offer->attributes[0]->key, "customer_name");
    assert_string_equal(e->offer->attributes[0]->value, "Ada");
    assert_true(e->offer->deadline_ms > now_ms);
    assert_true(e->offer->deadline_ms < now_ms + 60000);
    assert_int_equal(e->request_id, 0);
    ccr_free(e);

    assert_int_equal(simple(ag, BODY(OFFER_ACCEPTED), "c1", "a1"), 0);
    e = wait_for(sw, BODY(CONTACT_ASSIGNED));
    assert_string_equal(e->contact_assigned->contact_id, "c1");
    assert_string_equal(e->contact_assigned->agent_id, "a1");
    ccr_free(e);

    e = stats(mon);
    assert_int_equal(e->stats->agents_logged_in, 1);
    assert_int_equal(e->stats->n_queues, 2);
    assert_int_equal(e->stats->n_agents, 1);
    assert_string_equal(e->stats->agents[0]->agent_id, "a1");
    assert_int_equal(e->stats->agents[0]->active_contacts, 1);
    ccr_free(e);

    assert_int_equal(simple(sw, BODY(CONTACT_COMPLETED), "c1", NULL), 0);
    /* Completed: it is gone. */
    assert_int_equal(simple(sw, BODY(CONTACT_COMPLETED), "c1", NULL),
                     EC(UNKNOWN_CONTACT));
    assert_int_equal(simple(ag, BODY(AGENT_LOGOUT), NULL, "a1"), 0);
    client_close(sw);
    client_close(ag);
    client_close(mon);
}

static void test_reject_goes_to_next_agent(void **state)
{
    struct fx *f = *state;
    struct ccr_client *sw = dial_hello(f, "switch-1", ROLE(SWITCH));
    struct ccr_client *a1 = dial_hello(f, "desk-1", ROLE(AGENT));
    struct ccr_client *a2 = dial_hello(f, "desk-2", ROLE(AGENT));
    ccr_envelope *e;

    assert_int_equal(agent_login(a1, "a1", "sales", 5), 0);
    assert_int_equal(contact_arrive(sw, "c1", "sales"), 0);
    e = wait_for(a1, BODY(OFFER));
    ccr_free(e);
    assert_int_equal(agent_login(a2, "a2", "sales", 5), 0);
    assert_int_equal(simple(a1, BODY(OFFER_REJECTED), "c1", "a1"), 0);
    e = wait_for(a2, BODY(OFFER));
    assert_string_equal(e->offer->contact_id, "c1");
    assert_string_equal(e->offer->agent_id, "a2");
    ccr_free(e);
    /* Accepting an offer that is not yours is a state error. */
    assert_int_equal(simple(a1, BODY(OFFER_ACCEPTED), "c1", "a1"),
                     EC(INVALID_STATE));
    assert_int_equal(simple(a2, BODY(OFFER_ACCEPTED), "c1", "a2"), 0);
    client_close(sw);
    client_close(a1);
    client_close(a2);
}

static void test_errors_keep_connection(void **state)
{
    struct fx *f = *state;
    struct ccr_client *c = dial(f);
    struct ccr_client *other = dial_hello(f, "bystander", ROLE(SWITCH));
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Hello hello = CCROUTE__V1__HELLO__INIT;
    Ccroute__V1__Ack ack = CCROUTE__V1__ACK__INIT;
    Ccroute__V1__ContactArrived ca = CCROUTE__V1__CONTACT_ARRIVED__INIT;

    /* Not Hello first. */
    assert_int_equal(contact_arrive(c, "x1", "sales"), EC(NOT_HELLO));
    /* Wrong version. */
    hello.client_name = "sw";
    hello.role = ROLE(SWITCH);
    hello.protocol_version = 2;
    env.body_case = BODY(HELLO);
    env.hello = &hello;
    assert_int_equal(call(c, &env), EC(VERSION));
    /* Missing client name. */
    hello.protocol_version = 1;
    hello.client_name = "";
    env.request_id = 0;
    assert_int_equal(call(c, &env), EC(MISSING_FIELD));
    /* Now a good Hello on the same connection. */
    assert_int_equal(ccr_client_hello(c, "sw", ROLE(SWITCH), 0, T_MS), 0);
    /* Hello twice. */
    hello.client_name = "sw";
    env.request_id = 0;
    assert_int_equal(call(c, &env), EC(INVALID_STATE));

    /* Empty body, and a server->client body: unknown message. */
    ccr_envelope empty = CCROUTE__V1__ENVELOPE__INIT;
    assert_int_equal(call(c, &empty), EC(UNKNOWN_MESSAGE));
    ccr_envelope acke = CCROUTE__V1__ENVELOPE__INIT;
    acke.body_case = BODY(ACK);
    acke.ack = &ack;
    assert_int_equal(call(c, &acke), EC(UNKNOWN_MESSAGE));

    /* Missing fields. */
    ccr_envelope cae = CCROUTE__V1__ENVELOPE__INIT;
    cae.body_case = BODY(CONTACT_ARRIVED);
    cae.contact_arrived = &ca;
    ca.queue = "sales";
    assert_int_equal(call(c, &cae), EC(MISSING_FIELD));
    ca.contact_id = "y1";
    ca.queue = "";
    cae.request_id = 0;
    assert_int_equal(call(c, &cae), EC(MISSING_FIELD));
    /* Out of range. */
    ca.queue = "sales";
    ca.priority = 101;
    cae.request_id = 0;
    assert_int_equal(call(c, &cae), EC(INVALID_FIELD));

    /* Unknown queue, agent, contact. */
    assert_int_equal(contact_arrive(c, "y2", "nope"), EC(UNKNOWN_QUEUE));
    assert_int_equal(simple(c, BODY(AGENT_LOGOUT), NULL, "ghost"),
                     EC(UNKNOWN_AGENT));
    assert_int_equal(simple(c, BODY(CONTACT_ABANDONED), "ghost", NULL),
                     EC(UNKNOWN_CONTACT));
    assert_int_equal(simple(c, BODY(OFFER_ACCEPTED), "ghost", "nobody"),
                     EC(UNKNOWN_CONTACT));
    /* Agent logged in twice. */
    assert_int_equal(agent_login(c, "a9", "sales", 3), 0);
    assert_int_equal(agent_login(c, "a9", "sales", 3), EC(AGENT_EXISTS));

    /* The connection still works, and so does everybody else's. */
    assert_int_equal(contact_arrive(c, "ok1", "support"), 0);
    assert_int_equal(contact_arrive(other, "ok2", "support"), 0);
    assert_int_equal(waiting(other), 2);
    client_close(c);
    client_close(other);
}

static void test_forbidden_roles(void **state)
{
    struct fx *f = *state;
    struct ccr_client *mon = dial_hello(f, "wall", ROLE(MONITOR));
    struct ccr_client *ag = dial_hello(f, "desk", ROLE(AGENT));

    assert_int_equal(contact_arrive(mon, "m1", "sales"), EC(FORBIDDEN));
    assert_int_equal(agent_login(mon, "m2", "sales", 1), EC(FORBIDDEN));
    assert_int_equal(contact_arrive(ag, "m3", "sales"), EC(FORBIDDEN));
    assert_int_equal(simple(ag, BODY(CONTACT_ABANDONED), "m3", NULL),
                     EC(FORBIDDEN));
    /* What they may do. */
    assert_int_equal(agent_login(ag, "a1", "sales", 2), 0);
    ccr_free(stats(mon));
    client_close(mon);
    client_close(ag);
}

static void test_malformed_frame_closes(void **state)
{
    struct fx *f = *state;
    struct ccr_client *c = dial_hello(f, "bad", ROLE(SWITCH));
    struct ccr_client *other = dial_hello(f, "good", ROLE(SWITCH));
    /* Length 3, payload that is not an Envelope (field 1 with wire type 7). */
    static const uint8_t junk[] = { 3, 0x0f, 0xff, 0xff };
    assert_int_equal(ccr_client_send_raw(c, junk, sizeof(junk)), 0);
    expect_error_then_close(c, EC(MALFORMED));
    client_close(c);
    assert_int_equal(contact_arrive(other, "g1", "sales"), 0);
    client_close(other);
}

static void test_bad_length_prefix_closes(void **state)
{
    struct fx *f = *state;
    struct ccr_client *c = dial(f);
    static const uint8_t bad[11] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0x01 };
    assert_int_equal(ccr_client_send_raw(c, bad, sizeof(bad)), 0);
    expect_error_then_close(c, EC(MALFORMED));
    client_close(c);
}

static void test_oversized_frame_closes(void **state)
{
    struct fx *f = *state;
    struct ccr_client *c = dial_hello(f, "big", ROLE(SWITCH));
    struct ccr_client *other = dial_hello(f, "small", ROLE(SWITCH));
    uint8_t hdr[FRAME_VARINT_MAX];
    size_t n = frame_varint_put(4097, hdr);   /* max_frame is 4096 */
    assert_int_equal(ccr_client_send_raw(c, hdr, n), 0);
    expect_error_then_close(c, EC(FRAME_TOO_LARGE));
    client_close(c);
    assert_int_equal(contact_arrive(other, "s1", "sales"), 0);
    client_close(other);
}

static void test_frames_split_and_batched(void **state)
{
    struct fx *f = *state;
    struct ccr_client *c = dial(f);
    uint8_t buf[4096];
    size_t len = 0;
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Hello hello = CCROUTE__V1__HELLO__INIT;
    Ccroute__V1__StatsRequest sr = CCROUTE__V1__STATS_REQUEST__INIT;

    hello.client_name = "batch";
    hello.role = ROLE(MONITOR);
    hello.protocol_version = 1;
    env.body_case = BODY(HELLO);
    env.hello = &hello;
    env.request_id = 1;
    size_t plen = ccroute__v1__envelope__get_packed_size(&env);
    len += frame_varint_put(plen, buf + len);
    len += ccroute__v1__envelope__pack(&env, buf + len);
    for (int i = 0; i < 20; i++) {
        ccr_envelope s = CCROUTE__V1__ENVELOPE__INIT;
        s.request_id = 2 + (uint64_t)i;
        s.body_case = BODY(STATS_REQUEST);
        s.stats_request = &sr;
        plen = ccroute__v1__envelope__get_packed_size(&s);
        len += frame_varint_put(plen, buf + len);
        len += ccroute__v1__envelope__pack(&s, buf + len);
    }
    /* The first half byte by byte, the rest in one write. */
    size_t half = len / 2;
    for (size_t i = 0; i < half; i++)
        assert_int_equal(ccr_client_send_raw(c, buf + i, 1), 0);
    assert_int_equal(ccr_client_send_raw(c, buf + half, len - half), 0);

    uint64_t next_ack = 1;
    while (next_ack <= 21) {
        ccr_envelope *e = NULL;
        assert_int_equal(ccr_client_recv(c, T_MS, &e), 0);
        if (e->body_case == BODY(ACK)) {
            assert_int_equal(e->request_id, next_ack);
            next_ack++;
        } else {
            assert_int_equal(e->body_case, BODY(STATS));
        }
        ccr_free(e);
    }
    client_close(c);
}

static void test_duplicate_contact(void **state)
{
    struct fx *f = *state;
    struct ccr_client *sw = dial_hello(f, "switch-1", ROLE(SWITCH));
    struct ccr_client *ag = dial_hello(f, "desk-1", ROLE(AGENT));
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactArrived m = CCROUTE__V1__CONTACT_ARRIVED__INIT;
    ccr_envelope *reply = NULL, *cq = NULL;

    assert_int_equal(contact_arrive(sw, "d1", "sales"), 0);
    /* Re-sent (same id): Ack plus its current status, not routed twice. */
    m.contact_id = "d1";
    m.queue = "sales";
    env.body_case = BODY(CONTACT_ARRIVED);
    env.contact_arrived = &m;
    assert_int_equal(ccr_client_send(sw, &env), 0);
    for (;;) {
        ccr_envelope *e = NULL;
        assert_int_equal(ccr_client_recv(sw, T_MS, &e), 0);
        if (e->request_id == env.request_id &&
            e->body_case == BODY(CONTACT_QUEUED)) {
            cq = e;
            continue;
        }
        if (e->request_id == env.request_id) {
            reply = e;
            break;
        }
        ccr_free(e);
    }
    assert_int_equal(reply->body_case, BODY(ACK));
    assert_non_null(cq);
    assert_string_equal(cq->contact_queued->contact_id, "d1");
    assert_int_equal(cq->contact_queued->status,
                     CCROUTE__V1__CONTACT_STATUS__CONTACT_STATUS_QUEUED);
    ccr_free(reply);
    ccr_free(cq);
    assert_int_equal(waiting(sw), 1);

    /* One offer only. */
    assert_int_equal(agent_login(ag, "a1", "sales", 1), 0);
    ccr_envelope *o = wait_for(ag, BODY(OFFER));
    assert_string_equal(o->offer->contact_id, "d1");
    ccr_free(o);
    assert_int_equal(simple(ag, BODY(OFFER_ACCEPTED), "d1", "a1"), 0);
    /* And when offered, the duplicate reports OFFERED/ASSIGNED state. */
    env.request_id = 0;
    assert_int_equal(call(sw, &env), 0);
    client_close(sw);
    client_close(ag);
}

static void test_slow_reader_disconnected(void **state)
{
    struct fx *f = *state;
    struct ccr_client *slow = dial_hello(f, "slow", ROLE(MONITOR));
    struct ccr_client *fast = dial_hello(f, "fast", ROLE(SWITCH));
    int small = 4096, rc = 0;
    long sent = 0;
    long long deadline = harness_now_ms() + 20000;
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__StatsRequest sr = CCROUTE__V1__STATS_REQUEST__INIT;

    setsockopt(ccr_client_fd(slow), SOL_SOCKET, SO_RCVBUF, &small,
               sizeof(small));
    env.body_case = BODY(STATS_REQUEST);
    env.stats_request = &sr;
    /* Never read; keep asking until the engine hangs up. */
    while (harness_now_ms() < deadline) {
        env.request_id = 0;
        rc = ccr_client_send(slow, &env);
        if (rc < 0)
            break;
        if (++sent % 2000 == 0) {
            /* Meanwhile the other client is served as usual. */
            char id[32];
            snprintf(id, sizeof(id), "f%ld", sent);
            assert_int_equal(contact_arrive(fast, id, "support"), 0);
        }
    }
    assert_true(rc == -EPIPE || rc == -ECONNRESET);
    assert_true(harness_daemon_log_contains(&f->d, "output above", T_MS));
    assert_int_equal(contact_arrive(fast, "after", "support"), 0);
    client_close(slow);
    client_close(fast);
}

static void test_grace_reattach(void **state)
{
    struct fx *f = *state;
    struct ccr_client *sw = dial_hello(f, "pbx-1", ROLE(SWITCH));
    struct ccr_client *ag = dial_hello(f, "desk-1", ROLE(AGENT));
    ccr_envelope *e;

    assert_int_equal(contact_arrive(sw, "r1", "sales"), 0);
    assert_int_equal(contact_arrive(sw, "r2", "sales"), 0);
    client_close(sw);
    assert_true(harness_daemon_log_contains(&f->d, "client pbx-1 gone", T_MS));

    sw = dial(f);
    assert_int_equal(ccr_client_hello(sw, "pbx-1", ROLE(SWITCH), 1, T_MS), 0);
    assert_int_equal(waiting(sw), 2);
    /* The re-attached owner hears about its contacts again. */
    assert_int_equal(agent_login(ag, "a1", "sales", 4), 0);
    e = wait_for(ag, BODY(OFFER));
    char cid[64];
    snprintf(cid, sizeof(cid), "%s", e->offer->contact_id);
    ccr_free(e);
    assert_int_equal(simple(ag, BODY(OFFER_ACCEPTED), cid, "a1"), 0);
    e = wait_for(sw, BODY(CONTACT_ASSIGNED));
    assert_string_equal(e->contact_assigned->contact_id, cid);
    ccr_free(e);
    client_close(sw);
    client_close(ag);
}

static void test_grace_expires_abandons(void **state)
{
    struct fx *f = *state;
    struct ccr_client *ag = dial_hello(f, "desk-1", ROLE(AGENT));
    struct ccr_client *sw = dial_hello(f, "pbx-2", ROLE(SWITCH));
    struct ccr_client *mon = dial_hello(f, "wall", ROLE(MONITOR));
    ccr_envelope *e;

    assert_int_equal(agent_login(ag, "a1", "sales", 4), 0);
    assert_int_equal(contact_arrive(sw, "g1", "sales"), 0);
    e = wait_for(ag, BODY(OFFER));
    assert_string_equal(e->offer->contact_id, "g1");
    ccr_free(e);
    assert_int_equal(contact_arrive(sw, "g2", "sales"), 0);   /* queued */
    client_close(sw);   /* and it never comes back */

    e = wait_for(ag, BODY(OFFER_REVOKED));
    assert_string_equal(e->offer_revoked->contact_id, "g1");
    assert_int_equal(e->offer_revoked->reason,
                     CCROUTE__V1__REVOKE_REASON__REVOKE_REASON_ABANDONED);
    ccr_free(e);
    assert_true(harness_daemon_log_contains(&f->d, "did not come back",
                                            T_MS));
    assert_int_equal(waiting(mon), 0);
    /* Accepting the revoked offer now fails. */
    assert_int_equal(simple(ag, BODY(OFFER_ACCEPTED), "g1", "a1"),
                     EC(UNKNOWN_CONTACT));
    client_close(ag);
    client_close(mon);
}

static void test_agent_connection_grace_logout(void **state)
{
    struct fx *f = *state;
    struct ccr_client *ag = dial_hello(f, "desk-9", ROLE(AGENT));
    struct ccr_client *mon = dial_hello(f, "wall", ROLE(MONITOR));
    ccr_envelope *st;

    assert_int_equal(agent_login(ag, "a9", "support", 3), 0);
    client_close(ag);
    assert_true(harness_daemon_log_contains(&f->d, "did not come back",
                                            T_MS));
    st = stats(mon);
    assert_int_equal(st->stats->agents_logged_in, 0);
    ccr_free(st);
    client_close(mon);
}

static void test_owner_contact_events(void **state)
{
    struct fx *f = *state;
    struct ccr_client *sw = dial_hello(f, "switch-1", ROLE(SWITCH));
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactArrived m = CCROUTE__V1__CONTACT_ARRIVED__INIT;
    struct keep k = { BODY(CONTACT_QUEUED), NULL };
    ccr_envelope *reply = NULL;

    m.contact_id = "q1";
    m.queue = "support";
    env.body_case = BODY(CONTACT_ARRIVED);
    env.contact_arrived = &m;
    assert_int_equal(ccr_client_call(sw, &env, T_MS, keep_event, &k, &reply),
                     0);
    assert_int_equal(reply->body_case, BODY(ACK));
    ccr_free(reply);
    if (!k.got)   /* the event may also follow the Ack */
        wait_contact_status(sw, "q1",
                            CCROUTE__V1__CONTACT_STATUS__CONTACT_STATUS_QUEUED);
    else {
        assert_string_equal(k.got->contact_queued->contact_id, "q1");
        assert_string_equal(k.got->contact_queued->queue, "support");
        assert_int_equal(k.got->contact_queued->position, 1);
        assert_int_equal(k.got->request_id, 0);
        ccr_free(k.got);
    }
    assert_int_equal(simple(sw, BODY(CONTACT_ABANDONED), "q1", NULL), 0);
    assert_int_equal(waiting(sw), 0);
    client_close(sw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_route_offer_accept_complete,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_goes_to_next_agent,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_keep_connection, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_forbidden_roles, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_malformed_frame_closes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_length_prefix_closes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_oversized_frame_closes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_frames_split_and_batched, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_contact, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_owner_contact_events, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_slow_reader_disconnected,
                                        setup_slow, teardown),
        cmocka_unit_test_setup_teardown(test_grace_reattach, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_grace_expires_abandons,
                                        setup_short_grace, teardown),
        cmocka_unit_test_setup_teardown(test_agent_connection_grace_logout,
                                        setup_short_grace, teardown),
    };
    return cmocka_run_group_tests_name("e2e", tests, NULL, NULL);
}
