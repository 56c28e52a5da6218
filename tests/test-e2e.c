/* test-e2e.c -- end-to-end tests against the real ccrouted.
 *
 * Each test starts its own daemon (the e2e_env fixture of
 * tests/e2e-util.h) on an ephemeral loopback port with a memory-only
 * store, drives it with the blocking client library (proto/client.h,
 * through the queueing e2e_client) and checks what comes back on the
 * wire.
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
#include "e2e-util.h"
#include "frame.h"
#include "harness.h"

#define T_MS E2E_T_MS   /* timeout for one expected message */

#define BODY(x) E2E_BODY(x)
#define EC(x) E2E_EC(x)
#define ROLE(x) E2E_ROLE(x)

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

/* The fixture: one daemon per test, memory-only (tests/e2e-util.h). */
typedef struct e2e_env fx_t;

static void config_text(char *buf, size_t len, int redis_port,
                        const void *extra)
{
    snprintf(buf, len, "%s%s", config_base, (const char *)extra);
}

static int setup(void **state)
{
    return e2e_env_start(state, false, config_text, "grace: 5s\n");
}

static int setup_slow(void **state)
{
    return e2e_env_start(state, false, config_text,
                         "grace: 5s\nmax_output: 64KiB\n");
}

static int setup_short_grace(void **state)
{
    return e2e_env_start(state, false, config_text, "grace: 300ms\n");
}

/* ---- helpers ---- */

/* The next message with body `bc` (others stay queued); fails the test
 * on timeout. */
static ccr_envelope *wait_for(struct e2e_client *c, int bc)
{
    return e2e_expect(c, bc, T_MS);
}

static ccr_envelope *stats(struct e2e_client *c)
{
    return e2e_stats(c);
}

/* Expects the Error for a raw frame (request id 0) and then EOF. */
static void expect_error_then_close(struct e2e_client *c, int code)
{
    e2e_expect_error_then_close(c, code, T_MS);
}

/* A request's outcome: 0 on Ack or the ErrorCode; a transport failure or
 * a timeout fails the test. */
static int checked(int rc)
{
    if (rc < 0)
        fail_msg("request: %s", strerror(-rc));
    return rc;
}

/* Sends env, waits for its Ack/Error; events in between stay queued. */
static int call(struct e2e_client *c, ccr_envelope *env)
{
    return checked(e2e_call(c, env, T_MS));
}

/* Voice and chat capacity 1. */
static int agent_login(struct e2e_client *c, const char *id,
                       const char *skill, unsigned level)
{
    return checked(e2e_agent_login(c, id, skill, level, 1, 1));
}

/* A chat contact with one attribute, customer_name = Ada. */
static int contact_arrive(struct e2e_client *c, const char *id,
                          const char *queue)
{
    return checked(e2e_reply(c, e2e_send_contact_attr(c, id, queue, E2E_CHAT,
                                                      "customer_name", "Ada"),
                             T_MS));
}

static int simple(struct e2e_client *c, int bc, const char *cid,
                  const char *aid)
{
    return checked(e2e_simple(c, bc, cid, aid));
}

static uint32_t waiting(struct e2e_client *c)
{
    ccr_envelope *st = e2e_stats(c);
    uint32_t w = st->stats->contacts_waiting;
    ccr_free(st);
    return w;
}

/* ---- tests ---- */

static void test_route_offer_accept_complete(void **state)
{
    fx_t *f = *state;
    struct e2e_client *sw = e2e_env_dial_hello(f, "switch-1", ROLE(SWITCH));
    struct e2e_client *ag = e2e_env_dial_hello(f, "desk-1", ROLE(AGENT));
    struct e2e_client *mon = e2e_env_dial_hello(f, "wallboard", ROLE(MONITOR));
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
    e2e_hang_up(sw);
    e2e_hang_up(ag);
    e2e_hang_up(mon);
}

static void test_reject_goes_to_next_agent(void **state)
{
    fx_t *f = *state;
    struct e2e_client *sw = e2e_env_dial_hello(f, "switch-1", ROLE(SWITCH));
    struct e2e_client *a1 = e2e_env_dial_hello(f, "desk-1", ROLE(AGENT));
    struct e2e_client *a2 = e2e_env_dial_hello(f, "desk-2", ROLE(AGENT));
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
    e2e_hang_up(sw);
    e2e_hang_up(a1);
    e2e_hang_up(a2);
}

static void test_errors_keep_connection(void **state)
{
    fx_t *f = *state;
    struct e2e_client *c = e2e_env_dial(f);
    struct e2e_client *other =
        e2e_env_dial_hello(f, "bystander", ROLE(SWITCH));
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
    assert_int_equal(e2e_hello(c, "sw", ROLE(SWITCH), false, NULL, 0, T_MS), 0);
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
    e2e_hang_up(c);
    e2e_hang_up(other);
}

static void test_forbidden_roles(void **state)
{
    fx_t *f = *state;
    struct e2e_client *mon = e2e_env_dial_hello(f, "wall", ROLE(MONITOR));
    struct e2e_client *ag = e2e_env_dial_hello(f, "desk", ROLE(AGENT));

    assert_int_equal(contact_arrive(mon, "m1", "sales"), EC(FORBIDDEN));
    assert_int_equal(agent_login(mon, "m2", "sales", 1), EC(FORBIDDEN));
    assert_int_equal(contact_arrive(ag, "m3", "sales"), EC(FORBIDDEN));
    assert_int_equal(simple(ag, BODY(CONTACT_ABANDONED), "m3", NULL),
                     EC(FORBIDDEN));
    /* What they may do. */
    assert_int_equal(agent_login(ag, "a1", "sales", 2), 0);
    ccr_free(stats(mon));
    e2e_hang_up(mon);
    e2e_hang_up(ag);
}

static void test_malformed_frame_closes(void **state)
{
    fx_t *f = *state;
    struct e2e_client *c = e2e_env_dial_hello(f, "bad", ROLE(SWITCH));
    struct e2e_client *other = e2e_env_dial_hello(f, "good", ROLE(SWITCH));
    /* Length 3, payload that is not an Envelope (field 1 with wire type 7). */
    static const uint8_t junk[] = { 3, 0x0f, 0xff, 0xff };
    assert_int_equal(ccr_client_send_raw(c->c, junk, sizeof(junk)), 0);
    expect_error_then_close(c, EC(MALFORMED));
    e2e_hang_up(c);
    assert_int_equal(contact_arrive(other, "g1", "sales"), 0);
    e2e_hang_up(other);
}

static void test_bad_length_prefix_closes(void **state)
{
    fx_t *f = *state;
    struct e2e_client *c = e2e_env_dial(f);
    static const uint8_t bad[11] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0x01 };
    assert_int_equal(ccr_client_send_raw(c->c, bad, sizeof(bad)), 0);
    expect_error_then_close(c, EC(MALFORMED));
    e2e_hang_up(c);
}

static void test_oversized_frame_closes(void **state)
{
    fx_t *f = *state;
    struct e2e_client *c = e2e_env_dial_hello(f, "big", ROLE(SWITCH));
    struct e2e_client *other = e2e_env_dial_hello(f, "small", ROLE(SWITCH));
    uint8_t hdr[FRAME_VARINT_MAX];
    size_t n = frame_varint_put(4097, hdr);   /* max_frame is 4096 */
    assert_int_equal(ccr_client_send_raw(c->c, hdr, n), 0);
    expect_error_then_close(c, EC(FRAME_TOO_LARGE));
    e2e_hang_up(c);
    assert_int_equal(contact_arrive(other, "s1", "sales"), 0);
    e2e_hang_up(other);
}

static void test_frames_split_and_batched(void **state)
{
    fx_t *f = *state;
    struct e2e_client *c = e2e_env_dial(f);
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
        assert_int_equal(ccr_client_send_raw(c->c, buf + i, 1), 0);
    assert_int_equal(ccr_client_send_raw(c->c, buf + half, len - half), 0);

    uint64_t next_ack = 1;
    while (next_ack <= 21) {
        ccr_envelope *e = e2e_next(c, T_MS);
        assert_non_null(e);
        if (e->body_case == BODY(ACK)) {
            assert_int_equal(e->request_id, next_ack);
            next_ack++;
        } else {
            assert_int_equal(e->body_case, BODY(STATS));
        }
        ccr_free(e);
    }
    e2e_hang_up(c);
}

static void test_duplicate_contact(void **state)
{
    fx_t *f = *state;
    struct e2e_client *sw = e2e_env_dial_hello(f, "switch-1", ROLE(SWITCH));
    struct e2e_client *ag = e2e_env_dial_hello(f, "desk-1", ROLE(AGENT));
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactArrived m = CCROUTE__V1__CONTACT_ARRIVED__INIT;
    ccr_envelope *cq = NULL;

    assert_int_equal(contact_arrive(sw, "d1", "sales"), 0);
    /* Re-sent (same id): Ack plus its current status, not routed twice. */
    m.contact_id = "d1";
    m.queue = "sales";
    env.body_case = BODY(CONTACT_ARRIVED);
    env.contact_arrived = &m;
    assert_int_equal(ccr_client_send(sw->c, &env), 0);
    assert_int_equal(e2e_reply(sw, env.request_id, T_MS), 0);   /* Ack */
    /* The status came before the Ack: already queued. */
    cq = e2e_wait(sw, BODY(CONTACT_QUEUED), env.request_id, 0);
    assert_non_null(cq);
    assert_string_equal(cq->contact_queued->contact_id, "d1");
    assert_int_equal(cq->contact_queued->status,
                     CCROUTE__V1__CONTACT_STATUS__CONTACT_STATUS_QUEUED);
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
    e2e_hang_up(sw);
    e2e_hang_up(ag);
}

static void test_slow_reader_disconnected(void **state)
{
    fx_t *f = *state;
    struct e2e_client *slow = e2e_env_dial_hello(f, "slow", ROLE(MONITOR));
    struct e2e_client *fast = e2e_env_dial_hello(f, "fast", ROLE(SWITCH));
    int small = 4096, rc = 0;
    long sent = 0;
    long long deadline = harness_now_ms() + 20000;
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__StatsRequest sr = CCROUTE__V1__STATS_REQUEST__INIT;

    setsockopt(ccr_client_fd(slow->c), SOL_SOCKET, SO_RCVBUF, &small,
               sizeof(small));
    env.body_case = BODY(STATS_REQUEST);
    env.stats_request = &sr;
    /* Never read; keep asking until the engine hangs up. */
    while (harness_now_ms() < deadline) {
        env.request_id = 0;
        rc = ccr_client_send(slow->c, &env);
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
    e2e_hang_up(slow);
    e2e_hang_up(fast);
}

static void test_grace_reattach(void **state)
{
    fx_t *f = *state;
    struct e2e_client *sw = e2e_env_dial_hello(f, "pbx-1", ROLE(SWITCH));
    struct e2e_client *ag = e2e_env_dial_hello(f, "desk-1", ROLE(AGENT));
    ccr_envelope *e;

    assert_int_equal(contact_arrive(sw, "r1", "sales"), 0);
    assert_int_equal(contact_arrive(sw, "r2", "sales"), 0);
    e2e_hang_up(sw);
    assert_true(harness_daemon_log_contains(&f->d, "client pbx-1 gone", T_MS));

    sw = e2e_env_dial(f);
    assert_int_equal(e2e_hello(sw, "pbx-1", ROLE(SWITCH), true, NULL, 0, T_MS),
                     0);
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
    e2e_hang_up(sw);
    e2e_hang_up(ag);
}

static void test_grace_expires_abandons(void **state)
{
    fx_t *f = *state;
    struct e2e_client *ag = e2e_env_dial_hello(f, "desk-1", ROLE(AGENT));
    struct e2e_client *sw = e2e_env_dial_hello(f, "pbx-2", ROLE(SWITCH));
    struct e2e_client *mon = e2e_env_dial_hello(f, "wall", ROLE(MONITOR));
    ccr_envelope *e;

    assert_int_equal(agent_login(ag, "a1", "sales", 4), 0);
    assert_int_equal(contact_arrive(sw, "g1", "sales"), 0);
    e = wait_for(ag, BODY(OFFER));
    assert_string_equal(e->offer->contact_id, "g1");
    ccr_free(e);
    assert_int_equal(contact_arrive(sw, "g2", "sales"), 0);   /* queued */
    e2e_hang_up(sw);   /* and it never comes back */

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
    e2e_hang_up(ag);
    e2e_hang_up(mon);
}

static void test_agent_connection_grace_logout(void **state)
{
    fx_t *f = *state;
    struct e2e_client *ag = e2e_env_dial_hello(f, "desk-9", ROLE(AGENT));
    struct e2e_client *mon = e2e_env_dial_hello(f, "wall", ROLE(MONITOR));
    ccr_envelope *st;

    assert_int_equal(agent_login(ag, "a9", "support", 3), 0);
    e2e_hang_up(ag);
    assert_true(harness_daemon_log_contains(&f->d, "did not come back",
                                            T_MS));
    st = stats(mon);
    assert_int_equal(st->stats->agents_logged_in, 0);
    ccr_free(st);
    e2e_hang_up(mon);
}

static void test_owner_contact_events(void **state)
{
    fx_t *f = *state;
    struct e2e_client *sw = e2e_env_dial_hello(f, "switch-1", ROLE(SWITCH));
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactArrived m = CCROUTE__V1__CONTACT_ARRIVED__INIT;
    ccr_envelope *cq;

    m.contact_id = "q1";
    m.queue = "support";
    env.body_case = BODY(CONTACT_ARRIVED);
    env.contact_arrived = &m;
    assert_int_equal(call(sw, &env), 0);
    /* The event (before or after the Ack: both are allowed) is an event,
     * not a reply: request id 0. */
    cq = wait_for(sw, BODY(CONTACT_QUEUED));
    assert_string_equal(cq->contact_queued->contact_id, "q1");
    assert_string_equal(cq->contact_queued->queue, "support");
    assert_int_equal(cq->contact_queued->position, 1);
    assert_int_equal(cq->contact_queued->status,
                     CCROUTE__V1__CONTACT_STATUS__CONTACT_STATUS_QUEUED);
    assert_int_equal(cq->request_id, 0);
    ccr_free(cq);
    assert_int_equal(simple(sw, BODY(CONTACT_ABANDONED), "q1", NULL), 0);
    assert_int_equal(waiting(sw), 0);
    e2e_hang_up(sw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_route_offer_accept_complete,
                                        setup, e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_reject_goes_to_next_agent,
                                        setup, e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_errors_keep_connection, setup,
                                        e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_forbidden_roles, setup,
                                        e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_frame_closes, setup,
                                        e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_bad_length_prefix_closes, setup,
                                        e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_oversized_frame_closes, setup,
                                        e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_frames_split_and_batched, setup,
                                        e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_contact, setup,
                                        e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_owner_contact_events, setup,
                                        e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_slow_reader_disconnected,
                                        setup_slow, e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_grace_reattach, setup,
                                        e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_grace_expires_abandons,
                                        setup_short_grace, e2e_env_teardown),
        cmocka_unit_test_setup_teardown(test_agent_connection_grace_logout,
                                        setup_short_grace, e2e_env_teardown),
    };
    return cmocka_run_group_tests_name("e2e", tests, NULL, NULL);
}
