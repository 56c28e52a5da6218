/* test-cluster-store.c -- end to end: the real ccrouted keeping its
 * tenant in a Redis Cluster (redis.cluster seeds; docs/redis.md, "Redis
 * Cluster"), with real processes: 3 primaries and 3 replicas from
 * tests/cluster-harness.h, all on free loopback ports, started once for
 * the whole program (each test uses its own tenant, so its own slot).
 *
 *  - --check-config --check-redis finds the owner of the tenant's slot
 *    through the seeds, and fails clearly when no seed answers;
 *  - the tenant's slot migrated to another primary while a switch sends
 *    contacts: while the slot is open every change is refused with a
 *    retryable STATE_UNAVAILABLE that says so (nothing is written
 *    anywhere), the engine follows the MOVED to the new owner, every
 *    acknowledged contact is there, exactly once in the event stream,
 *    the source keeps no key of the slot, and a restarted engine loads
 *    them all;
 *  - kill -9 of the primary owning the tenant's slot: its replica is
 *    promoted, the engine follows it (suspended meanwhile), every
 *    acknowledged contact is on the new primary and a restarted engine
 *    loads them;
 *  - the configuration keys (no process).
 *
 * Synchronisation is "wait for this reply / log line / cluster state,
 * with a deadline"; nothing sleeps in its place and no timing is
 * asserted.
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
#include "cluster-harness.h"
#include "cluster.h"
#include "config.h"
#include "e2e-util.h"
#include "harness.h"
#include "store-peek.h"

#define EC E2E_EC
#define BODY E2E_BODY
#define ROLE E2E_ROLE
#define NACK 512

static struct cluster_harness ch;
static bool cluster_live;
static struct harness_daemon dm;
static bool daemon_live;

static const char *tenant;           /* of the test under way */
static unsigned slot;
static char acked[NACK][32];
static int nacked;

static int group_setup(void **state)
{
    if (ch_start(&ch, 3, 1) < 0)
        return -1;
    cluster_live = true;
    return 0;
}

static int group_teardown(void **state)
{
    if (cluster_live)
        ch_stop(&ch);
    cluster_live = false;
    return 0;
}

static int teardown(void **state)
{
    if (daemon_live) {
        harness_daemon_kill(&dm);
        harness_daemon_cleanup(&dm);
    }
    daemon_live = false;
    nacked = 0;
    return 0;
}

static void use_tenant(const char *t)
{
    char key[128];
    tenant = t;
    snprintf(key, sizeof(key), "ccr:{%s}:lease", t);
    slot = cluster_key_slot(key, strlen(key));
}

/* A live node other than `not` (to ask for the table). */
static int live_node(int not)
{
    for (int i = 0; i < ch.n; i++)
        if (i != not && !ch.node[i].killed)
            return i;
    return -1;
}

static void config_text(char *buf, size_t len, const int *ports, int nports)
{
    char seeds[256];
    size_t l = 0;
    for (int i = 0; i < nports; i++)
        l += (size_t)snprintf(seeds + l, sizeof(seeds) - l, "%s127.0.0.1:%d",
                              i ? ", " : "", ports[i]);
    /* listen on any free port: --check-config binds it, and the default
     * 127.0.0.1:7400 may be taken on the machine running the tests */
    snprintf(buf, len,
             "log_level: info\n"
             "listen: 127.0.0.1:0\n"
             "grace: 60s\n"
             "redis:\n"
             "  enabled: true\n"
             "  durability: redis\n"
             "  cluster: [%s]\n"
             "  tenant: %s\n"
             "  lease: 2s\n"
             "  renew: 250ms\n"
             "  connect_timeout: 300ms\n"
             "  command_timeout: 1s\n"
             "  reconnect_min: 20ms\n"
             "  reconnect_max: 200ms\n"
             "routing: {offer_timeout: 60s, max_no_answer: 100, "
             "max_agents: 100, max_contacts: 2000}\n"
             "skills: [sales, support]\n"
             "queues:\n"
             "  - name: sales\n"
             "    skills: {sales: 1}\n"
             "    channels: [voice, chat]\n",
             seeds, tenant);
}

/* The configuration with every node of the cluster as a seed. */
static void config_all(char *buf, size_t len)
{
    int ports[CH_NODES_MAX];
    for (int i = 0; i < ch.n; i++)
        ports[i] = ch.node[i].r.port;
    config_text(buf, len, ports, ch.n);
}

static void start_daemon(const char *cfg)
{
    memset(&dm, 0, sizeof(dm));
    assert_int_equal(harness_daemon_start(&dm, cfg, NULL), 0);
    daemon_live = true;
    e2e_expect_log(&dm, "serving clients", 15000);
}

/* The engine is connected to node i as the owner of the slot. */
static void expect_on_node(int i)
{
    char where[64];
    snprintf(where, sizeof(where), "127.0.0.1:%d (slot %u)",
             ch.node[i].r.port, slot);
    e2e_expect_log(&dm, where, 20000);
}

static void note_acked(const char *id)
{
    for (int i = 0; i < nacked; i++)
        if (!strcmp(acked[i], id))
            return;
    assert_true(nacked < NACK);
    snprintf(acked[nacked++], sizeof(acked[0]), "%s", id);
}

/* The reply of a ContactArrived sent before: 0 (Ack, noted) or the error
 * code, its message in msg. */
static int contact_reply(struct e2e_client *c, uint64_t rid, const char *id,
                         char *msg, size_t len)
{
    assert_true(rid != 0);
    int rc = e2e_reply_msg(c, rid, 15000, msg, len);
    if (rc == 0)
        note_acked(id);
    return rc;
}

static int contact_msg(struct e2e_client *c, const char *id, char *msg,
                       size_t len)
{
    return contact_reply(c, e2e_send_contact(c, id, "sales", E2E_VOICE), id,
                         msg, len);
}

/* Sends the ContactArrived again while it is answered with the retryable
 * STATE_UNAVAILABLE, until it is acknowledged (bounded); the connection
 * must stay open. */
static void contact_until_acked(struct e2e_client *c, const char *id)
{
    char msg[512];
    int rc = e2e_contact_until_acked(c, id, "sales", 30000, msg, sizeof(msg));
    if (rc != 0) {
        harness_daemon_dump_log(&dm);
        fail_msg("%s: %d (%s)", id, rc, msg);
    }
    note_acked(id);
}

static bool contact_in_redis(redisContext *r, const char *id)
{
    return peek_has(r, tenant, 'c', id);
}

/* Every contact acknowledged so far is on node i. */
static void all_acked_on(int i, const char *what)
{
    redisContext *r = e2e_redis(ch.node[i].r.port);
    for (int k = 0; k < nacked; k++)
        if (!contact_in_redis(r, acked[k])) {
            harness_daemon_dump_log(&dm);
            fail_msg("acknowledged contact %s is not on the %s", acked[k],
                     what);
        }
    redisFree(r);
}

/* The engine is killed and started again: it loads exactly the contacts
 * node i holds for the tenant, and at least every acknowledged one. */
static void restart_and_check_load(int i)
{
    char want[96];
    harness_daemon_kill(&dm);
    assert_int_equal(harness_daemon_restart(&dm, NULL), 0);
    redisContext *r = e2e_redis(ch.node[i].r.port);
    long long n = peek_n(r, tenant, 'c');
    redisFree(r);
    assert_true(n >= nacked);
    snprintf(want, sizeof(want), "loaded 0 agents, %lld contacts", n);
    e2e_expect_log(&dm, want, 20000);
    assert_int_equal(harness_daemon_stop(&dm, 5000), 0);
    daemon_live = false;
}

/* ---- --check-config --check-redis through the seeds ---- */

static void test_check_redis_via_cluster(void **state)
{
    char cfg[2048], dir[256], log[600], want[160];
    use_tenant("chk");
    int owner = ch_slot_owner(&ch, 0, slot);
    assert_true(owner >= 0);
    assert_int_equal(harness_tmpdir(dir, sizeof(dir), "ccroute-chk"), 0);

    /* one seed that is not the owner is enough */
    int seed = live_node(owner);
    int ports[2] = { ch.node[seed].r.port, 0 };
    config_text(cfg, sizeof(cfg), ports, 1);
    int rc = e2e_check_redis(dir, cfg, "good");
    snprintf(log, sizeof(log), "%s/good.log", dir);
    snprintf(want, sizeof(want), "127.0.0.1:%d (owner of slot %u, named by "
             "cluster node 127.0.0.1:%d)", ch.node[owner].r.port, slot,
             ch.node[seed].r.port);
    if (rc != 0 || !harness_log_contains(log, want, 0) ||
        !harness_log_contains(log, "serves the tenant's slot", 0)) {
        harness_log_dump(log);
        fail_msg("--check-redis via the cluster: exit %d", rc);
    }

    /* no seed answers */
    ports[0] = harness_free_port();
    ports[1] = harness_free_port();
    config_text(cfg, sizeof(cfg), ports, 2);
    rc = e2e_check_redis(dir, cfg, "dead");
    snprintf(log, sizeof(log), "%s/dead.log", dir);
    snprintf(want, sizeof(want), "no cluster node named the owner of slot "
             "%u", slot);
    if (rc != 1 || !harness_log_contains(log, want, 0)) {
        harness_log_dump(log);
        fail_msg("--check-redis with dead seeds: exit %d", rc);
    }
    harness_rm_rf(dir);
}

/* ---- the tenant's slot migrated while traffic flows ---- */

struct flow {
    struct e2e_client *c;
    uint64_t rid[NACK];
    char id[NACK][32];
    int n;
};

/* Sends one more contact without waiting for its reply. */
static void flow_send(void *arg)
{
    struct flow *f = arg;
    assert_true(f->n < NACK);
    snprintf(f->id[f->n], sizeof(f->id[0]), "m%03d", f->n);
    f->rid[f->n] = e2e_send_contact(f->c, f->id[f->n], "sales", E2E_VOICE);
    assert_true(f->rid[f->n] != 0);
    f->n++;
}

/* The event checker's model: every contact is a voice call; no agent
 * is logged in, so capacity is never asked. */
static int ev_channel(void *arg, const char *contact)
{
    return E2E_VOICE;
}

static int ev_capacity(void *arg, const char *agent, int channel)
{
    return 1;
}

static const struct e2e_ev_model voice_only = { NULL, ev_channel,
                                                ev_capacity };

static int setslot(int node, const char *how, int other)
{
    redisReply *r = ch_command(&ch, node, "CLUSTER SETSLOT %u %s %s", slot,
                               how, ch.node[other].id);
    int ok = r && r->type == REDIS_REPLY_STATUS;
    if (!ok)
        fprintf(stderr, "SETSLOT %s on node %d: %s\n", how, node,
                r && r->str ? r->str : "no reply");
    freeReplyObject(r);
    return ok ? 0 : -1;
}

static void test_migrate_slot_under_traffic(void **state)
{
    char cfg[2048], msg[512], id[32];
    struct e2e_client sw;
    struct flow *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    use_tenant("mig");

    int src = ch_slot_owner(&ch, 0, slot), dst = -1;
    assert_true(src >= 0);
    /* another primary: the owner of some slot that src does not own */
    for (unsigned s = 0; s < CLUSTER_SLOTS && dst < 0; s += 997) {
        int o = ch_slot_owner(&ch, 0, s);
        if (o >= 0 && o != src)
            dst = o;
    }
    assert_true(dst >= 0);

    config_all(cfg, sizeof(cfg));
    start_daemon(cfg);
    expect_on_node(src);
    e2e_open_hello(&sw, dm.port, "pbx-1", ROLE(SWITCH), false);
    f->c = &sw;
    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof(id), "pre%03d", i);
        assert_int_equal(contact_msg(&sw, id, msg, sizeof(msg)), 0);
    }
    /* in flight while the slot opens */
    for (int i = 0; i < 10; i++)
        flow_send(f);

    assert_int_equal(setslot(dst, "IMPORTING", src), 0);
    assert_int_equal(setslot(src, "MIGRATING", dst), 0);

    /* the slot is open: a change now is refused, retryable, saying why */
    int rc = contact_msg(&sw, "open1", msg, sizeof(msg));
    if (rc != EC(STATE_UNAVAILABLE) || !strstr(msg, "being migrated")) {
        harness_daemon_dump_log(&dm);
        fail_msg("open1 while the slot is migrating: %d (%s)", rc, msg);
    }
    e2e_expect_log(&dm, "is being migrated", E2E_T_MS);

    /* keys move, ten per MIGRATE, a contact sent after each */
    for (int i = 0; i < 5; i++)
        flow_send(f);
    assert_int_equal(ch_migrate_keys(&ch, src, dst, slot, 10, flow_send, f),
                     0);
    /* every key is on dst, the slot still open: refused again (ASK) */
    rc = contact_msg(&sw, "open2", msg, sizeof(msg));
    if (rc != EC(STATE_UNAVAILABLE) || !strstr(msg, "being migrated")) {
        harness_daemon_dump_log(&dm);
        fail_msg("open2 with the keys moved: %d (%s)", rc, msg);
    }
    /* the slot is dst's: the target first, then the source, then the
     * third primary (replicas learn it from their primaries) */
    assert_int_equal(setslot(dst, "NODE", dst), 0);
    assert_int_equal(setslot(src, "NODE", dst), 0);
    for (int i = 0; i < ch.n; i++)
        if (i != src && i != dst && !ch.node[i].killed &&
            ch_slot_owner(&ch, i, 0) == i)
            assert_int_equal(setslot(i, "NODE", dst), 0);
    for (int i = 0; i < 5; i++)
        flow_send(f);

    /* every reply: an Ack, or the retryable refusal */
    for (int i = 0; i < f->n; i++) {
        rc = contact_reply(&sw, f->rid[i], f->id[i], msg, sizeof(msg));
        if (rc != 0 && rc != EC(STATE_UNAVAILABLE)) {
            harness_daemon_dump_log(&dm);
            fail_msg("%s: %d (%s)", f->id[i], rc, msg);
        }
    }
    /* the engine follows to dst and serves; the refused ones are kept in
     * memory and acknowledged once written */
    contact_until_acked(&sw, "open1");
    contact_until_acked(&sw, "open2");
    for (int i = 0; i < f->n; i++)
        contact_until_acked(&sw, f->id[i]);
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof(id), "post%03d", i);
        contact_until_acked(&sw, id);
    }
    expect_on_node(dst);
    e2e_expect_log(&dm, "does not serve slot", E2E_T_MS);
    e2e_fence(&sw);
    assert_false(sw.eof);

    /* nothing lost, nothing split, nothing twice */
    all_acked_on(dst, "new owner of the slot");
    redisReply *r = ch_command(&ch, src, "CLUSTER COUNTKEYSINSLOT %u", slot);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    if (r->integer != 0)
        fail_msg("%lld keys of the slot written on the source after it was "
                 "moved", r->integer);
    freeReplyObject(r);
    redisContext *rc_dst = e2e_redis(ch.node[dst].r.port);
    assert_int_equal(peek_n(rc_dst, tenant, 'c'),
                     nacked);
    struct e2e_ev_report rep;
    e2e_events_check(rc_dst, tenant, &voice_only, &rep);
    redisFree(rc_dst);
    if (rep.queued != (size_t)nacked || rep.violations)
        fail_msg("event stream: %zu queued for %d contacts, %zu "
                 "violations (%s)", rep.queued, nacked, rep.violations,
                 rep.first_violation);
    assert_int_equal((int)rep.ntokens, 1);

    e2e_close(&sw);
    free(f);
    restart_and_check_load(dst);
}

/* ---- kill -9 of the primary owning the tenant's slot ---- */

static void test_primary_killed(void **state)
{
    char cfg[2048], msg[512], id[32];
    struct e2e_client sw;
    use_tenant("fo");

    int owner = ch_slot_owner(&ch, 0, slot);
    assert_true(owner >= 0);
    int replica = ch_replica_of(&ch, live_node(owner), owner);
    assert_true(replica >= 0);

    config_all(cfg, sizeof(cfg));
    start_daemon(cfg);
    expect_on_node(owner);
    e2e_open_hello(&sw, dm.port, "pbx-1", ROLE(SWITCH), false);
    for (int i = 0; i < 40; i++) {
        snprintf(id, sizeof(id), "pre%03d", i);
        assert_int_equal(contact_msg(&sw, id, msg, sizeof(msg)), 0);
    }

    ch_kill(&ch, owner);
    /* while the cluster fails over: an Ack, or the retryable refusal */
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof(id), "during%d", i);
        int rc = contact_msg(&sw, id, msg, sizeof(msg));
        if (rc != 0 && rc != EC(STATE_UNAVAILABLE)) {
            harness_daemon_dump_log(&dm);
            fail_msg("%s during the failover: %d (%s)", id, rc, msg);
        }
    }
    long long deadline = harness_now_ms() + 30000;
    while (ch_slot_owner(&ch, live_node(owner), slot) != replica) {
        if (harness_now_ms() > deadline)
            fail_msg("the replica of the killed primary was not promoted");
        harness_pause_ms(50);
    }
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof(id), "post%03d", i);
        contact_until_acked(&sw, id);
    }
    expect_on_node(replica);
    e2e_fence(&sw);
    assert_false(sw.eof);
    all_acked_on(replica, "promoted replica");
    e2e_close(&sw);
    restart_and_check_load(replica);
}

/* ---- the configuration (no process) ---- */

static int load(const char *text, char *err, size_t len)
{
    struct config c;
    config_defaults(&c);
    int rc = config_load_string(&c, "t.yaml", text, strlen(text), err, len);
    config_fini(&c);
    return rc;
}

static void test_config_cluster_keys(void **state)
{
    char err[512];
    struct config c;
    config_defaults(&c);
    static const char good[] =
        "redis:\n"
        "  cluster: [10.0.0.7:7000, \"[::1]:7001\", 10.0.0.9:7002]\n"
        "  password: pw\n"
        "  tenant: acme\n";
    if (config_load_string(&c, "t.yaml", good, strlen(good), err,
                           sizeof(err)) < 0)
        fail_msg("%s", err);
    assert_int_equal((int)c.store.ncluster, 3);
    assert_string_equal(c.store.cluster[0].host, "10.0.0.7");
    assert_int_equal(c.store.cluster[0].port, 7000);
    assert_string_equal(c.store.cluster[1].host, "::1");
    assert_int_equal(c.store.cluster[1].port, 7001);
    assert_int_equal((int)c.store.nsentinels, 0);
    config_fini(&c);

    static const struct {
        const char *text, *want;
    } bad[] = {
        { "redis:\n  cluster: [10.0.0.7]\n",
          "t.yaml:2: redis.cluster[0]: \"10.0.0.7\" is not HOST:PORT" },
        { "redis:\n  cluster: []\n", "empty" },
        { "redis:\n  cluster: [10.0.0.7:7000]\n  host: 10.0.0.8\n",
          "t.yaml:3: redis.host: with redis.cluster" },
        { "redis:\n  cluster: [10.0.0.7:7000]\n"
          "  sentinels: [10.0.0.7:26379]\n  master_name: m\n",
          "t.yaml:2: redis.cluster: goes with neither redis.sentinels" },
        { "redis:\n  cluster: [10.0.0.7:7000]\n  db: 2\n",
          "t.yaml:3: redis.db: must be 0 with redis.cluster" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (load(bad[i].text, err, sizeof(err)) == 0)
            fail_msg("accepted: %s", bad[i].text);
        if (!strstr(err, bad[i].want))
            fail_msg("\"%s\" does not say \"%s\"", err, bad[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest config_tests[] = {
        cmocka_unit_test(test_config_cluster_keys),
    };
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_check_redis_via_cluster, teardown),
        cmocka_unit_test_teardown(test_migrate_slot_under_traffic, teardown),
        /* last: it kills a primary */
        cmocka_unit_test_teardown(test_primary_killed, teardown),
    };
    int rc = cmocka_run_group_tests(config_tests, NULL, NULL);
    return rc | cmocka_run_group_tests(tests, group_setup, group_teardown);
}
