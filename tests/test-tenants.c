/* test-tenants.c -- end to end: one engine serving several tenants, and a
 * pool of two engines sharing four tenants (docs/scaling.md), with the
 * real ccrouted and a real redis-server on loopback ports.
 *
 * Synchronisation is "wait for this reply / Redis state, with a
 * deadline"; polling loops pause between polls of a state only another
 * process can change (a lease expiring), never in place of a reply.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "client.h"
#include "e2e-util.h"
#include "harness.h"
#include "store-peek.h"

#define BODY E2E_BODY
#define EC E2E_EC
#define ROLE E2E_ROLE
#define NT 4                /* tenants of the pool */

/* ---- the model the event-stream check replays: every agent has one
 * voice seat, every contact is voice ---- */

static int model_channel(void *arg, const char *cid)
{
    return E2E_VOICE;
}

static int model_capacity(void *arg, const char *aid, int ch)
{
    return ch == E2E_VOICE ? 1 : 0;
}

static const struct e2e_ev_model model = { NULL, model_channel,
                                           model_capacity };

/* ---- child processes: stopped by the teardown, also after a failure */

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
    for (int i = 0; i < nlive_d; i++) {
        harness_daemon_kill(live_d[i]);
        harness_daemon_cleanup(live_d[i]);
    }
    nlive_d = 0;
    if (live_r)
        harness_redis_stop(live_r);
    live_r = NULL;
    return 0;
}

/* GET path from the HTTP listener at port, one connection; the whole
 * answer (status line, headers, body) into buf. Returns the status, or -1
 * when nothing came (each read bounded by E2E_T_MS). */
static int http_get(int port, const char *path, char *buf, size_t cap)
{
    struct sockaddr_in a = { .sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port) };
    struct timeval tv = { E2E_T_MS / 1000, 0 };
    char req[256];
    size_t len = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0), status = -1;
    assert_true(fd >= 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             "Connection: close\r\n\r\n", path);
    assert_true(send(fd, req, strlen(req), MSG_NOSIGNAL) ==
                (ssize_t)strlen(req));
    for (;;) {
        ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);
        if (r <= 0 || len + (size_t)r >= cap - 1) {
            if (r > 0)
                len += (size_t)r;
            break;
        }
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    return status;
}

static void config_text(char *buf, size_t len, int redis_port,
                        const char *tenants)
{
    snprintf(buf, len,
             "log_level: info\n"
             "grace: 60s\n"
             "%s\n"
             "redis:\n"
             "  port: %d\n"
             "  lease: 600ms\n"
             "  renew: 150ms\n"
             "  connect_timeout: 500ms\n"
             "  command_timeout: 1s\n"
             "  reconnect_min: 20ms\n"
             "  reconnect_max: 200ms\n"
             "routing: {offer_timeout: 60s, max_no_answer: 100, "
             "max_agents: 100, max_contacts: 1000}\n"
             "skills: [sales, support]\n"
             "queues:\n"
             "  - name: sales\n"
             "    skills: {sales: 1}\n"
             "  - name: support\n"
             "    skills: {support: 1}\n",
             tenants, redis_port);
}

/* Connects to port and says Hello for `tenant`, again while the engine
 * answers STATE_UNAVAILABLE (starting, loading), up to E2E_T_MS. Returns
 * 0 (Ack) or the Error code of the last answer, its message in msg. */
static int hello_at(struct e2e_client *c, int port, const char *name,
                    Ccroute__V1__Role role, bool reattach, const char *tenant,
                    char *msg, size_t msglen)
{
    long long deadline = harness_now_ms() + E2E_T_MS;
    int rc;
    for (;;) {
        rc = e2e_open(c, port);
        if (rc < 0)
            return rc;
        rc = e2e_hello_tenant(c, name, role, reattach, tenant, msg, msglen,
                              E2E_T_MS);
        if (rc == 0)
            return 0;
        e2e_close(c);
        if (rc != EC(STATE_UNAVAILABLE) || harness_now_ms() > deadline)
            return rc;
        harness_pause_ms(20);       /* between polls of the engine's role */
    }
}

static void hello_ok(struct e2e_client *c, int port, const char *name,
                     Ccroute__V1__Role role, bool reattach,
                     const char *tenant)
{
    char msg[256] = "";
    int rc = hello_at(c, port, name, role, reattach, tenant, msg,
                      sizeof(msg));
    if (rc != 0)
        fail_msg("Hello %s for tenant %s at port %d: %d (%s)", name,
                 tenant ? tenant : "(default)", port, rc, msg);
}

/* Live contacts of `tenant` in Redis, either layout (store-peek.h). */
static long long ncontacts(redisContext *r, const char *tenant)
{
    return peek_n(r, tenant, 'c');
}

/* A StatsRequest and its reply (Ack or Error, whichever the role gets):
 * everything the engine sent c before is then in c's queue, since the
 * engine writes to one connection in order. */
static void fence(struct e2e_client *c)
{
    uint64_t id = e2e_send_stats(c);
    assert_true(id != 0);
    assert_true(e2e_reply(c, id, E2E_T_MS) >= 0);
}

/* ---- (a) one engine, two tenants ---- */

static void test_one_engine_two_tenants(void **state)
{
    static struct harness_redis rs;
    static struct harness_daemon d;
    struct e2e_client sw1, sw2, desk1, desk2, desk2b, mon1, mon2, mon0, x;
    char cfg[2048], msg[256];

    memset(&rs, 0, sizeof(rs));
    live_r = &rs;
    assert_int_equal(harness_redis_start(&rs), 0);
    int hp = harness_free_port();
    char ten[128];
    assert_true(hp > 0);
    snprintf(ten, sizeof(ten), "tenants: [t1, t2]\nhttp: {listen: "
             "127.0.0.1:%d}", hp);
    config_text(cfg, sizeof(cfg), rs.port, ten);
    track_daemon(&d);
    assert_int_equal(harness_daemon_start(&d, cfg, NULL), 0);
    redisContext *r = e2e_redis(rs.port);

    /* the same client names and agent ids in both tenants: each tenant
     * has its own owner index and router, so neither replaces the other */
    hello_ok(&sw1, d.port, "pbx", ROLE(SWITCH), false, "t1");
    hello_ok(&sw2, d.port, "pbx", ROLE(SWITCH), false, "t2");
    hello_ok(&desk1, d.port, "desk-1", ROLE(AGENT), false, "t1");
    hello_ok(&desk2, d.port, "desk-1", ROLE(AGENT), false, "t2");
    hello_ok(&desk2b, d.port, "desk-2", ROLE(AGENT), false, "t2");
    assert_int_equal(e2e_agent_login(&desk1, "a1", "sales", 5, 1, 0), 0);
    assert_int_equal(e2e_agent_login(&desk2, "a1", "support", 5, 1, 0), 0);
    assert_int_equal(e2e_agent_login(&desk2b, "a2", "support", 5, 1, 0), 0);

    /* t1's contact goes to t1's a1, whose desk gets the Offer */
    assert_int_equal(e2e_contact(&sw1, "c1", "sales", E2E_VOICE), 0);
    ccr_envelope *o = e2e_wait_offer(&desk1, "c1", E2E_T_MS);
    assert_non_null(o);
    assert_string_equal(o->offer->agent_id, "a1");
    ccr_free(o);
    /* t2 has no sales agent: its contact waits, and t2's desks get no
     * Offer of t1's contact */
    assert_int_equal(e2e_contact(&sw2, "c2", "sales", E2E_VOICE), 0);
    fence(&desk2);
    fence(&desk2b);
    assert_null(e2e_wait_offer(&desk2, NULL, 0));
    assert_null(e2e_wait_offer(&desk2b, NULL, 0));
    /* the same contact id is another contact in the other tenant */
    assert_int_equal(e2e_contact(&sw2, "c1", "support", E2E_VOICE), 0);
    o = e2e_wait_offer(&desk2, "c1", E2E_T_MS);
    if (!o)
        o = e2e_wait_offer(&desk2b, "c1", E2E_T_MS);
    assert_non_null(o);
    ccr_free(o);

    /* each monitor sees its tenant only; no tenant: the default (t1) */
    hello_ok(&mon1, d.port, "wall", ROLE(MONITOR), false, "t1");
    hello_ok(&mon2, d.port, "wall", ROLE(MONITOR), false, "t2");
    hello_ok(&mon0, d.port, "wall-0", ROLE(MONITOR), false, NULL);
    ccr_envelope *st = e2e_stats(&mon1);
    /* (an offered contact counts as waiting until it is accepted) */
    assert_int_equal(st->stats->agents_logged_in, 1);
    assert_int_equal(st->stats->contacts_waiting, 1);
    ccr_free(st);
    st = e2e_stats(&mon2);
    assert_int_equal(st->stats->agents_logged_in, 2);
    assert_int_equal(st->stats->contacts_waiting, 2);
    assert_non_null(e2e_stats_agent(st, "a2"));
    ccr_free(st);
    st = e2e_stats(&mon0);
    assert_int_equal(st->stats->agents_logged_in, 1);
    assert_null(e2e_stats_agent(st, "a2"));
    ccr_free(st);

    /* Redis: each tenant's state under its own hash tag */
    assert_int_equal(ncontacts(r, "t1"), 1);
    assert_int_equal(ncontacts(r, "t2"), 2);
    assert_int_equal(peek_has(r, "t1", 'c', "c2"), 0);
    assert_int_equal(peek_has(r, "t2", 'c', "c2"), 1);
    assert_int_equal(e2e_rint(r, "EXISTS ccr:{t1}:lease"), 1);
    assert_int_equal(e2e_rint(r, "EXISTS ccr:{t2}:lease"), 1);
    assert_int_equal(e2e_rint(r, "EXISTS ccr:{default}:lease"), 0);

    /* HTTP: metrics carry the tenant, the API reads the one asked for,
     * ready once both tenants are owned */
    static char page[1 << 17];
    assert_int_equal(http_get(hp, "/readyz", page, sizeof(page)), 200);
    assert_int_equal(http_get(hp, "/metrics", page, sizeof(page)), 200);
    assert_non_null(strstr(page, "ccroute_agents_logged_in{tenant=\"t1\"} 1"));
    assert_non_null(strstr(page, "ccroute_agents_logged_in{tenant=\"t2\"} 2"));
    assert_non_null(strstr(page, "ccroute_queue_waiting{tenant=\"t2\","
                           "queue=\"sales\"} 1"));
    assert_non_null(strstr(page, "ccroute_lease_role{tenant=\"t1\","
                           "role=\"owner\"} 1"));
    assert_int_equal(http_get(hp, "/api/v1/agents?tenant=t2", page,
                              sizeof(page)), 200);
    assert_non_null(strstr(page, "\"tenant\":\"t2\""));
    assert_non_null(strstr(page, "\"a2\""));
    assert_int_equal(http_get(hp, "/api/v1/agents", page, sizeof(page)),
                     200);
    assert_non_null(strstr(page, "\"tenant\":\"t1\""));
    assert_null(strstr(page, "\"a2\""));
    assert_int_equal(http_get(hp, "/api/v1/agents?tenant=t9", page,
                              sizeof(page)), 404);

    /* a tenant this engine does not serve */
    assert_int_equal(hello_at(&x, d.port, "pbx", ROLE(SWITCH), false, "t3",
                              msg, sizeof(msg)), EC(UNKNOWN_TENANT));
    assert_non_null(strstr(msg, "t3"));

    e2e_close(&sw1);
    e2e_close(&sw2);
    e2e_close(&desk1);
    e2e_close(&desk2);
    e2e_close(&desk2b);
    e2e_close(&mon1);
    e2e_close(&mon2);
    e2e_close(&mon0);
    redisFree(r);
    assert_int_equal(harness_daemon_stop(&d, 10000), 0);
    nlive_d = 0;
}

/* ---- (b) a pool: two engines, four tenants ---- */

/* The port of the engine whose address the lease value of tenant t
 * names ("token|127.0.0.1:port"), or 0 when nobody holds it. */
static int lease_port(redisContext *r, const char *t)
{
    char v[128] = "";
    redisReply *rep = redisCommand(r, "GET ccr:{%s}:lease", t);
    assert_non_null(rep);
    if (rep->type == REDIS_REPLY_STRING)
        snprintf(v, sizeof(v), "%s", rep->str);
    freeReplyObject(rep);
    const char *colon = strrchr(v, ':');
    return colon ? atoi(colon + 1) : 0;
}

struct ptenant {
    char name[8];
    int owner;                      /* port of the owning engine */
    struct e2e_client sw, desk;
    int ncontacts;                  /* c0.. sent, every one acked */
    int assigned;                   /* index of the contact with the agent */
    int ncompleted;
};

/* Offer of contact i to a1 on t's desk, accepted. */
static void take_offer(struct ptenant *t, int i)
{
    char cid[64];
    snprintf(cid, sizeof(cid), "%.7s-c%d", t->name, i);
    ccr_envelope *o = e2e_wait_offer(&t->desk, cid, E2E_T_MS);
    if (!o)
        fail_msg("tenant %s: no Offer of %s", t->name, cid);
    assert_string_equal(o->offer->agent_id, "a1");
    ccr_free(o);
    assert_int_equal(e2e_simple(&t->desk, BODY(OFFER_ACCEPTED), cid, "a1"),
                     0);
    t->assigned = i;
}

static void send_contact(struct ptenant *t)
{
    char cid[64];
    snprintf(cid, sizeof(cid), "%.7s-c%d", t->name, t->ncontacts);
    assert_int_equal(e2e_contact(&t->sw, cid, "sales", E2E_VOICE), 0);
    t->ncontacts++;
}

static void complete_assigned(struct ptenant *t)
{
    char cid[64];
    snprintf(cid, sizeof(cid), "%.7s-c%d", t->name, t->assigned);
    assert_int_equal(e2e_simple(&t->sw, BODY(CONTACT_COMPLETED), cid, NULL),
                     0);
    t->ncompleted++;
}

static void test_pool_takeover(void **state)
{
    static struct harness_redis rs;
    static struct harness_daemon da, db;
    static struct ptenant ts[NT];
    char cfg[2048], la[64], lb[64], msg[256];
    struct e2e_client probe;

    memset(&rs, 0, sizeof(rs));
    memset(ts, 0, sizeof(ts));
    live_r = &rs;
    assert_int_equal(harness_redis_start(&rs), 0);
    config_text(cfg, sizeof(cfg), rs.port,
                "tenant_pool: {tenants: [p1, p2, p3, p4], max: 4}");
    int pa = harness_free_port(), pb = harness_free_port();
    assert_true(pa > 0 && pb > 0 && pa != pb);
    snprintf(la, sizeof(la), "127.0.0.1:%d", pa);
    snprintf(lb, sizeof(lb), "127.0.0.1:%d", pb);
    const char *args_a[] = { "--listen", la, NULL };
    const char *args_b[] = { "--listen", lb, NULL };
    track_daemon(&da);
    track_daemon(&db);
    assert_int_equal(harness_daemon_start(&da, cfg, args_a), 0);
    assert_int_equal(harness_daemon_start(&db, cfg, args_b), 0);
    redisContext *r = e2e_redis(rs.port);

    /* every tenant gets an owner, one of the two engines */
    long long deadline = harness_now_ms() + 10000;
    for (int i = 0; i < NT; i++) {
        ts[i].name[0] = 'p';
        ts[i].name[1] = (char)('1' + i);     /* NT < 10 */
        while ((ts[i].owner = lease_port(r, ts[i].name)) == 0 &&
               harness_now_ms() < deadline)
            harness_pause_ms(20);   /* between reads of the lease */
        if (ts[i].owner != pa && ts[i].owner != pb)
            fail_msg("tenant %s: lease names port %d, not %d or %d",
                     ts[i].name, ts[i].owner, pa, pb);
    }
    int na = 0;
    for (int i = 0; i < NT; i++)
        na += ts[i].owner == pa;
    fprintf(stderr, "pool: engine A owns %d tenants, B %d\n", na, NT - na);

    /* the other engine answers NOT_OWNER naming the owner */
    for (int i = 0; i < NT; i++) {
        int other = ts[i].owner == pa ? pb : pa;
        char addr[64];
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", ts[i].owner);
        assert_int_equal(hello_at(&probe, other, "pbx", ROLE(SWITCH), false,
                                  ts[i].name, msg, sizeof(msg)),
                         EC(NOT_OWNER));
        e2e_close(&probe);
        if (!strstr(msg, addr) || !strstr(msg, ts[i].name))
            fail_msg("NOT_OWNER for %s does not name %s: \"%s\"",
                     ts[i].name, addr, msg);
    }

    /* traffic on every tenant at its owner: one agent with one voice
     * seat; three contacts answered and completed, one answered and kept,
     * two waiting behind it -- every one acknowledged */
    for (int i = 0; i < NT; i++) {
        struct ptenant *t = &ts[i];
        hello_ok(&t->sw, t->owner, "pbx", ROLE(SWITCH), false, t->name);
        hello_ok(&t->desk, t->owner, "desk", ROLE(AGENT), false, t->name);
        assert_int_equal(e2e_agent_login(&t->desk, "a1", "sales", 5, 1, 0),
                         0);
        for (int k = 0; k < 4; k++) {
            send_contact(t);
            take_offer(t, t->ncontacts - 1);
            if (k < 3)
                complete_assigned(t);
        }
        send_contact(t);
        send_contact(t);
        assert_int_equal(ncontacts(r, t->name), 3);
    }

    /* kill -9 the owner of p1; its tenants move to the survivor */
    int dead = ts[0].owner, live = dead == pa ? pb : pa;
    struct harness_daemon *dd = dead == pa ? &da : &db;
    harness_daemon_kill(dd);
    long long t_kill = harness_now_ms();
    for (int i = 0; i < NT; i++) {
        e2e_close(&ts[i].sw);
        e2e_close(&ts[i].desk);
    }
    /* the dead engine's address takes no Hello any more */
    assert_true(e2e_open(&probe, dead) < 0);

    int moved = 0;
    for (int i = 0; i < NT; i++) {
        struct ptenant *t = &ts[i];
        if (t->owner != dead)
            continue;
        moved++;
        /* NOT_OWNER (the dead engine's lease runs out) and
         * STATE_UNAVAILABLE (loading) until the survivor serves it */
        int rc;
        deadline = t_kill + 10000;
        while ((rc = hello_at(&t->sw, live, "pbx", ROLE(SWITCH), true,
                              t->name, msg, sizeof(msg))) == EC(NOT_OWNER) &&
               harness_now_ms() < deadline)
            harness_pause_ms(10);   /* between polls of the lease */
        long long took = harness_now_ms() - t_kill;
        if (rc != 0) {
            harness_daemon_dump_log(live == pa ? &da : &db);
            fail_msg("tenant %s: survivor refuses Hello: %d (%s)", t->name,
                     rc, msg);
        }
        fprintf(stderr, "pool: tenant %s served by the survivor %lld ms "
                "after the kill (lease 600 ms, renew 150 ms)\n", t->name,
                took);
        t->owner = live;
        assert_int_equal(lease_port(r, t->name), live);
    }
    assert_true(moved >= 1);

    /* every tenant: nothing acknowledged lost, nothing assigned twice,
     * and routing goes on at the survivor */
    for (int i = 0; i < NT; i++) {
        struct ptenant *t = &ts[i];
        struct e2e_ev_report rep;
        if (t->owner == live && !t->sw.c)
            hello_ok(&t->sw, live, "pbx", ROLE(SWITCH), true, t->name);
        hello_ok(&t->desk, live, "desk", ROLE(AGENT), true, t->name);
        assert_int_equal(ncontacts(r, t->name), 3);
        for (int k = 0; k < t->ncontacts; k++) {
            char cid[64];
            snprintf(cid, sizeof(cid), "%.7s-c%d", t->name, k);
            long long in = peek_has(r, t->name, 'c', cid);
            assert_int_equal(in, k < 3 ? 0 : 1);
        }
        /* the kept contact ends; the two waiting ones are answered in
         * turn */
        complete_assigned(t);
        take_offer(t, 4);
        complete_assigned(t);
        take_offer(t, 5);
        complete_assigned(t);
        assert_int_equal(ncontacts(r, t->name), 0);
        e2e_events_check(r, t->name, &model, &rep);
        if (rep.violations)
            fail_msg("tenant %s: %s", t->name, rep.first_violation);
        assert_true(rep.token_order_ok);
        assert_int_equal(rep.assigned, 6);
        if (i == 0)
            assert_true(rep.ntokens >= 2);  /* a second term: the takeover */
        e2e_close(&t->sw);
        e2e_close(&t->desk);
    }
    redisFree(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_one_engine_two_tenants, teardown),
        cmocka_unit_test_teardown(test_pool_takeover, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
