/* test-journal-ha.c -- `redis.layout: journal` under the faults the
 * per-key layout is tested under (docs/redis.md, "The journal layout",
 * "Sentinel", "Redis Cluster"), end to end: the real ccrouted on a real
 * socket, real redis-server, redis-sentinel and cluster processes started
 * here on free loopback ports (tests/redis-harness.h,
 * tests/cluster-harness.h, tests/e2e-util.h).
 *
 *  - Sentinel, durability replicated: every contact and agent acknowledged
 *    before kill -9 of the master is in the promoted replica's snapshot
 *    plus journal; the engine follows and keeps routing; the journal's
 *    entries stay in batch order (no batch appended twice, none after the
 *    snapshot that the snapshot already holds), and two restarts load the
 *    same state.
 *  - Sentinel, durability redis: the writes the replica missed are found
 *    lost after the failover, said once, and written back as a snapshot.
 *  - Redis Cluster: every key of the tenant (journal, snapshot, chunks,
 *    lease...) is in the tenant's one slot on its owner and nowhere else;
 *    routing goes on across kill -9 of that primary, and a restart loads
 *    from the promoted replica.
 *  - A crash between a snapshot's chunk SETs and its swap: the writes are
 *    held with CLIENT PAUSE WRITE, the engine is stopped (SIGSTOP) once it
 *    has written them, Redis forgets its scripts (SCRIPT FLUSH) so that
 *    the chunks land and the swap is refused, and the engine is killed.
 *    The previous snapshot stays current, recovery is exact, and the
 *    orphan chunks carry an expiry (they go by themselves) while current
 *    chunks carry none.
 *  - The same refusal while the engine lives: it reconnects on NOSCRIPT
 *    and sends the batch and the whole snapshot again.
 *  - The connection killed (CLIENT KILL), or Redis restarted, while a
 *    snapshot's commands are held in Redis: the engine reconnects, sends
 *    the batch and the snapshot again, the request is acknowledged once,
 *    the swap applies.
 *  - The swap script alone, for the resend of a swap that was applied
 *    and whose reply was lost.
 *
 * CCROUTE_TEST_FILTER=PATTERN runs only the tests whose name matches
 * (cmocka_set_test_filter), for iterating on one of these slow cases.
 *
 * The state in Redis is read back as recovery reads it (the snapshot's
 * chunks, then the journal after its entry, replayed with journal.h), so
 * "acknowledged is in Redis" is checked on the keys themselves. Every wait
 * polls a real condition with a deadline; nothing sleeps in its place.
 */
#include <setjmp.h>
#include <signal.h>
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
#include "e2e-util.h"
#include "harness.h"
#include "redis-harness.h"
#include "router.h"
#include "store-peek.h"
#include "storebatch.h"

#define BODY E2E_BODY
#define EC E2E_EC
#define ROLE E2E_ROLE
#define NACK 256
#define NVIEW 512

static struct harness_daemon dm;
static bool daemon_live;
static struct rh_sentinel topo;
static bool topo_live;
static struct cluster_harness ch;
static bool cluster_live;
static struct harness_redis rs;
static bool redis_live;

static const char *tenant;
static char acked[NACK][32];
static int nacked;

static int teardown(void **state)
{
    if (daemon_live) {
        harness_daemon_kill(&dm);       /* SIGKILL: stopped ones too */
        harness_daemon_cleanup(&dm);
    }
    if (topo_live)
        rh_sentinel_free(&topo);
    if (cluster_live)
        ch_stop(&ch);
    if (redis_live)
        harness_redis_stop(&rs);
    daemon_live = topo_live = cluster_live = redis_live = false;
    nacked = 0;
    return 0;
}

static void start_daemon(const char *cfg)
{
    memset(&dm, 0, sizeof(dm));
    assert_int_equal(harness_daemon_start(&dm, cfg, NULL), 0);
    daemon_live = true;
    e2e_expect_log(&dm, "serving clients", 15000);
}

static void note_acked(const char *id)
{
    for (int i = 0; i < nacked; i++)
        if (!strcmp(acked[i], id))
            return;
    assert_true(nacked < NACK);
    snprintf(acked[nacked++], sizeof(acked[0]), "%s", id);
}

/* One ContactArrived to `queue` and its reply: 0 (Ack, noted) or the
 * error code. */
static int contact_msg(struct e2e_client *c, const char *id,
                       const char *queue, char *msg, size_t len)
{
    uint64_t rid = e2e_send_contact(c, id, queue, E2E_VOICE);
    assert_true(rid != 0);
    int rc = e2e_reply_msg(c, rid, 15000, msg, len);
    if (rc == 0)
        note_acked(id);
    return rc;
}

static void contact_until_acked(struct e2e_client *c, const char *id,
                                const char *queue)
{
    char msg[512];
    int rc = e2e_contact_until_acked(c, id, queue, 30000, msg, sizeof(msg));
    if (rc != 0) {
        harness_daemon_dump_log(&dm);
        fail_msg("%s: %d (%s)", id, rc, msg);
    }
    note_acked(id);
}

/* ---- the tenant's state as recovery reads it ---- */

struct jview {
    char contact[NVIEW][32];
    int state[NVIEW];           /* enum router_contact_state */
    int ncontacts;
    char agent[NVIEW][32];
    int nagents;
    size_t skipped;
    unsigned chunks;            /* of the current snapshot */
    char ptr[128];              /* the snapshot pointer ("" none) */
    long long tail;             /* journal entries after it */
};

/* (t, s) of a journal entry's fields, 0 when absent. */
static void entry_ts(const redisReply *e, unsigned long long *t,
                     unsigned long long *s, const redisReply **b)
{
    *t = *s = 0;
    *b = NULL;
    const redisReply *f = e->element[1];
    for (size_t k = 0; k + 1 < f->elements; k += 2) {
        const char *name = f->element[k]->str;
        if (!strcmp(name, "t"))
            *t = strtoull(f->element[k + 1]->str, NULL, 10);
        else if (!strcmp(name, "s"))
            *s = strtoull(f->element[k + 1]->str, NULL, 10);
        else if (!strcmp(name, "b"))
            *b = f->element[k + 1];
    }
}

static bool ts_after(unsigned long long t1, unsigned long long s1,
                     unsigned long long t0, unsigned long long s0)
{
    return t1 > t0 || (t1 == t0 && s1 > s0);
}

/* The tenant's state on `r` as recovery loads it (tests/store-peek.c:
 * the current snapshot's chunks, every one of which must exist, and the
 * journal after its entry, replayed). Checks on the way what recovery
 * relies on: the journal's entries are in strictly increasing
 * (token, batch) order (a batch sent again after a reconnect or a
 * failover was appended once), and every entry after the snapshot's is a
 * batch the snapshot does not hold. */
static void jview_read(redisContext *r, struct jview *v)
{
    memset(v, 0, sizeof(*v));
    char from[64] = "-";
    unsigned long long pt = 0, ps = 0;
    redisReply *p = redisCommand(r, "GET ccr:{%s}:snapshot", tenant);
    assert_non_null(p);
    if (p->type == REDIS_REPLY_STRING) {
        char pos[48];
        snprintf(v->ptr, sizeof(v->ptr), "%s", p->str);
        assert_int_equal(sscanf(p->str, "%llu:%llu:%u:%47s", &pt, &ps,
                                &v->chunks, pos), 4);
        if (strcmp(pos, "0-0") != 0)
            snprintf(from, sizeof(from), "(%s", pos);
    }
    freeReplyObject(p);

    redisReply *all = redisCommand(r, "XRANGE ccr:{%s}:journal - +", tenant);
    assert_non_null(all);
    assert_int_equal(all->type, REDIS_REPLY_ARRAY);
    unsigned long long lt = 0, ls = 0;
    for (size_t i = 0; i < all->elements; i++) {
        unsigned long long t, s;
        const redisReply *b;
        entry_ts(all->element[i], &t, &s, &b);
        if (i > 0 && !ts_after(t, s, lt, ls))
            fail_msg("journal entry %s: batch %llu:%llu after %llu:%llu "
                     "(appended twice or out of order)",
                     all->element[i]->element[0]->str, t, s, lt, ls);
        lt = t;
        ls = s;
    }
    freeReplyObject(all);

    redisReply *tail = redisCommand(r, "XRANGE ccr:{%s}:journal %s +",
                                    tenant, from);
    assert_non_null(tail);
    assert_int_equal(tail->type, REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < tail->elements; i++) {
        unsigned long long t, s;
        const redisReply *b;
        entry_ts(tail->element[i], &t, &s, &b);
        assert_non_null(b);
        if (v->ptr[0] && !ts_after(t, s, pt, ps))
            fail_msg("journal entry %s (batch %llu:%llu) is after snapshot "
                     "%s, which holds it already",
                     tail->element[i]->element[0]->str, t, s, v->ptr);
    }
    v->tail = (long long)tail->elements;
    freeReplyObject(tail);

    struct peek *k = peek_read(r, tenant);
    assert_int_equal(k->layout, 'j');
    for (size_t i = 0; i < k->nobj; i++) {
        const struct peek_obj *o = &k->obj[i];
        if (o->kind == 'a') {
            assert_true(v->nagents < NVIEW);
            snprintf(v->agent[v->nagents++], sizeof(v->agent[0]), "%s",
                     o->id);
        } else if (o->kind == 'c') {
            const char *st = peek_get(o, "state", NULL);
            assert_true(v->ncontacts < NVIEW);
            v->state[v->ncontacts] = st ? atoi(st) : 0;
            snprintf(v->contact[v->ncontacts++], sizeof(v->contact[0]),
                     "%s", o->id);
        }
    }
    v->skipped = k->skipped;
    peek_free(k);
}

static bool jview_has(const struct jview *v, const char *id, bool agent)
{
    int n = agent ? v->nagents : v->ncontacts;
    for (int i = 0; i < n; i++)
        if (!strcmp(agent ? v->agent[i] : v->contact[i], id))
            return true;
    return false;
}

/* The oldest contact stored as waiting (state queued): the one a
 * recovered engine offers first to an agent that holds nothing. A contact
 * stored as offered comes back waiting for any agent but the one it was
 * offered to (router_contact_restore), so it is not that one. */
static const char *jview_first_queued(const struct jview *v)
{
    for (int i = 0; i < v->ncontacts; i++)
        if (v->state[i] == ROUTER_CONTACT_QUEUED)
            return v->contact[i];
    fail_msg("no contact is stored as waiting");
    return NULL;
}

/* Every contact acknowledged so far, and the agents named, are in the
 * state the Redis at `port` holds. */
static void all_acked_at(int port, const char *where,
                         const char *const *agents, struct jview *v)
{
    redisContext *r = e2e_redis(port);
    jview_read(r, v);
    redisFree(r);
    for (int i = 0; i < nacked; i++)
        if (!jview_has(v, acked[i], false)) {
            harness_daemon_dump_log(&dm);
            fail_msg("acknowledged contact %s is not on the %s", acked[i],
                     where);
        }
    for (int i = 0; agents && agents[i]; i++)
        if (!jview_has(v, agents[i], true))
            fail_msg("acknowledged agent %s is not on the %s", agents[i],
                     where);
    assert_int_equal(v->skipped, 0);
}

/* The agent takes the offer for `cid` (NULL: whatever comes), which must
 * be `want` when given, and the switch completes it. */
static void take(struct e2e_client *desk, struct e2e_client *sw,
                 const char *agent, const char *want)
{
    ccr_envelope *o = e2e_wait_offer(desk, NULL, 15000);
    if (!o) {
        harness_daemon_dump_log(&dm);
        fail_msg("%s got no offer", agent);
    }
    char cid[32];
    snprintf(cid, sizeof(cid), "%s", o->offer->contact_id);
    ccr_free(o);
    if (want && strcmp(cid, want) != 0) {
        harness_daemon_dump_log(&dm);
        fail_msg("%s was offered %s, expected %s", agent, cid, want);
    }
    assert_int_equal(e2e_simple(desk, BODY(OFFER_ACCEPTED), cid, agent), 0);
    assert_int_equal(e2e_simple(sw, BODY(CONTACT_COMPLETED), cid, NULL), 0);
    for (int i = 0; i < nacked; i++)
        if (!strcmp(acked[i], cid))
            memmove(acked[i], acked[--nacked], sizeof(acked[0]));
}

/* Restarts the killed engine and waits for its load line, which must
 * name exactly the view's agents and contacts. */
static void restart_expect(const struct jview *v)
{
    char want[96];
    assert_int_equal(harness_daemon_restart(&dm, NULL), 0);
    snprintf(want, sizeof(want), "loaded %d agents, %d contacts",
             v->nagents, v->ncontacts);
    e2e_expect_log(&dm, want, 20000);
}

static void config_tail(char *buf, size_t len, int snapshot_every)
{
    snprintf(buf, len,
             "  lease: 2s\n"
             "  renew: 250ms\n"
             "  connect_timeout: 300ms\n"
             "  command_timeout: 1s\n"
             "  reconnect_min: 20ms\n"
             "  reconnect_max: 200ms\n"
             "  layout: journal\n"
             "  snapshot_every: %d\n"
             "  load_chunk: 4\n"
             "routing: {offer_timeout: 60s, max_no_answer: 100, "
             "max_agents: 100, max_contacts: 2000}\n"
             "skills: [sales, support]\n"
             "queues:\n"
             "  - name: sales\n"
             "    skills: {sales: 1}\n"
             "    channels: [voice, chat]\n"
             "    wrapup: 0s\n"
             "  - name: support\n"
             "    skills: {support: 1}\n"
             "    channels: [voice, chat]\n"
             "    wrapup: 0s\n", snapshot_every);
}

/* ---- 1: Sentinel failover, durability replicated ---- */

static void test_sentinel_failover(void **state)
{
    char cfg[4096], tail[2048], id[32], msg[512], role[32], where[96];
    struct e2e_client sw, desk, desk3;
    struct jview v, v2;
    tenant = "jh";

    /* down-after 1500 ms: at 500 ms a loaded machine made the sentinels
     * fail over to the restarted old master and back */
    if (rh_sentinel_start(&topo, "ccrj", 1500, 3000) < 0) {
        topo_live = true;
        fail_msg("the sentinel topology did not start");
    }
    topo_live = true;
    config_tail(tail, sizeof(tail), 3);
    snprintf(cfg, sizeof(cfg),
             "log_level: info\n"
             "grace: 60s\n"
             "redis:\n"
             "  enabled: true\n"
             "  durability: replicated\n"
             "  replica_timeout: 300ms\n"
             "  sentinels: [127.0.0.1:%d, 127.0.0.1:%d, 127.0.0.1:%d]\n"
             "  master_name: ccrj\n"
             "  tenant: jh\n%s",
             topo.sport[0], topo.sport[1], topo.sport[2], tail);
    start_daemon(cfg);
    snprintf(where, sizeof(where), "127.0.0.1:%d (master ccrj)",
             topo.master.port);
    e2e_expect_log(&dm, where, E2E_T_MS);
    e2e_open_hello(&sw, dm.port, "pbx-1", ROLE(SWITCH), false);
    e2e_open_hello(&desk, dm.port, "desk-1", ROLE(AGENT), false);
    /* support agents: the sales contacts wait */
    assert_int_equal(e2e_agent_login(&desk, "a1", "support", 5, 1, 0), 0);
    assert_int_equal(e2e_agent_login(&desk, "a2", "support", 5, 1, 0), 0);
    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof(id), "pre%03d", i);
        assert_int_equal(contact_msg(&sw, id, "sales", msg, sizeof(msg)), 0);
    }
    /* acknowledged under durability replicated: on the replica already,
     * in its snapshot plus journal (several snapshots went by) */
    static const char *const a12[] = { "a1", "a2", NULL };
    all_acked_at(topo.replica.port, "replica", a12, &v);
    assert_true(v.ptr[0] != '\0');

    /* kill -9 of the master while the switch keeps sending */
    harness_redis_kill(&topo.master);
    if (rh_sentinel_wait_master(&topo, topo.replica.port, 30000) < 0)
        fail_msg("Sentinel did not promote the replica");
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof(id), "during%d", i);
        int rc = contact_msg(&sw, id, "sales", msg, sizeof(msg));
        if (rc != 0 && rc != EC(STATE_UNAVAILABLE)) {
            harness_daemon_dump_log(&dm);
            fail_msg("%s during the failover: %d (%s)", id, rc, msg);
        }
    }
    /* the old master comes back as the new replica (min_replicas 1) */
    assert_int_equal(harness_redis_restart(&topo.master), 0);
    /* on a loaded machine the sentinels may flap (a failover to the
     * restarted old master and back) or enter TILT mode for 30 s before
     * they settle: the bound covers that */
    long long deadline = harness_now_ms() + 90000;
    for (rh_role(topo.master.port, role, sizeof(role));
         strcmp(role, "slave") != 0;
         rh_role(topo.master.port, role, sizeof(role))) {
        if (harness_now_ms() > deadline)
            fail_msg("the old master did not become a replica (%s)", role);
        harness_pause_ms(50);
    }
    contact_until_acked(&sw, "after1", "sales");
    snprintf(where, sizeof(where), "127.0.0.1:%d (master ccrj)",
             topo.replica.port);
    e2e_expect_log(&dm, where, E2E_T_MS);
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof(id), "post%03d", i);
        contact_until_acked(&sw, id, "sales");
    }
    /* it routes: a sales agent gets the oldest contact first */
    e2e_open_hello(&desk3, dm.port, "desk-3", ROLE(AGENT), false);
    assert_int_equal(e2e_agent_login(&desk3, "a3", "sales", 1, 1, 0), 0);
    take(&desk3, &sw, "a3", "pre000");
    take(&desk3, &sw, "a3", "pre001");
    e2e_fence(&sw);
    e2e_fence(&desk);
    assert_false(sw.eof);
    assert_false(desk.eof);
    /* the engine dies; what the new master holds is read once nothing
     * writes any more */
    harness_daemon_kill(&dm);
    e2e_close(&sw);
    e2e_close(&desk);
    e2e_close(&desk3);
    static const char *const a123[] = { "a1", "a2", "a3", NULL };
    all_acked_at(topo.replica.port, "new master", a123, &v);
    assert_false(jview_has(&v, "pre000", false));
    assert_false(jview_has(&v, "pre001", false));

    /* a new engine loads exactly that; killed in turn, the next one
     * loads the same contacts in the same order: the entries the first
     * one appended continue the journal */
    restart_expect(&v);
    e2e_open_hello_retry(&sw, dm.port, "pbx-1", ROLE(SWITCH), true);
    e2e_fence(&sw);
    e2e_close(&sw);
    harness_daemon_kill(&dm);
    redisContext *r = e2e_redis(topo.replica.port);
    jview_read(r, &v2);
    redisFree(r);
    assert_int_equal(v2.ncontacts, v.ncontacts);
    assert_int_equal(v2.nagents, v.nagents);
    for (int i = 0; i < v.ncontacts; i++)
        assert_string_equal(v2.contact[i], v.contact[i]);
    assert_int_equal(harness_daemon_restart(&dm, NULL), 0);
    snprintf(msg, sizeof(msg), "loaded %d agents, %d contacts", v.nagents,
             v.ncontacts);
    e2e_expect_log_count(&dm, msg, 2, 20000);
    /* and it still routes in arrival order */
    e2e_open_hello_retry(&sw, dm.port, "pbx-1", ROLE(SWITCH), true);
    e2e_open_hello_retry(&desk3, dm.port, "desk-3", ROLE(AGENT), true);
    take(&desk3, &sw, "a3", jview_first_queued(&v2));
    e2e_close(&sw);
    e2e_close(&desk3);
    assert_int_equal(harness_daemon_stop(&dm, 5000), 0);
    daemon_live = false;
}

/* Sentinel, durability redis: writes the replica never received are
 * acknowledged (the documented risk); after kill -9 of the master the
 * engine finds the promoted replica behind its generation marker, says so
 * once and writes its whole state back -- in this layout as a snapshot
 * ('Z': chunks, then the swap) -- so every acknowledged contact is there
 * again, in the new snapshot, and a restarted engine loads it. */
static void test_sentinel_loss_rewrites(void **state)
{
    char cfg[4096], tail[2048], id[32], msg[512];
    struct e2e_client sw, desk;
    struct jview v;
    tenant = "jl";

    if (rh_sentinel_start(&topo, "ccrl", 1500, 3000) < 0) {
        topo_live = true;
        fail_msg("the sentinel topology did not start");
    }
    topo_live = true;
    config_tail(tail, sizeof(tail), 3);
    snprintf(cfg, sizeof(cfg),
             "log_level: info\n"
             "grace: 60s\n"
             "redis:\n"
             "  enabled: true\n"
             "  durability: redis\n"
             "  sentinels: [127.0.0.1:%d, 127.0.0.1:%d, 127.0.0.1:%d]\n"
             "  master_name: ccrl\n"
             "  tenant: jl\n%s",
             topo.sport[0], topo.sport[1], topo.sport[2], tail);
    start_daemon(cfg);
    e2e_open_hello(&sw, dm.port, "pbx-1", ROLE(SWITCH), false);
    e2e_open_hello(&desk, dm.port, "desk-1", ROLE(AGENT), false);
    assert_int_equal(e2e_agent_login(&desk, "a1", "support", 5, 1, 0), 0);
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof(id), "pre%03d", i);
        assert_int_equal(contact_msg(&sw, id, "sales", msg, sizeof(msg)), 0);
    }
    assert_int_equal(rh_link_cut(topo.replica.port, topo.master.port,
                                 10000), 0);
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof(id), "lag%03d", i);
        assert_int_equal(contact_msg(&sw, id, "sales", msg, sizeof(msg)), 0);
    }
    redisContext *r = e2e_redis(topo.replica.port);
    jview_read(r, &v);
    redisFree(r);
    assert_false(jview_has(&v, "lag009", false));

    harness_redis_kill(&topo.master);
    if (rh_sentinel_wait_master(&topo, topo.replica.port, 30000) < 0)
        fail_msg("Sentinel did not promote the replica");
    e2e_expect_log(&dm, "REDIS LOST THIS ENGINE'S STATE", 20000);
    contact_until_acked(&sw, "after1", "sales");
    assert_int_equal(
        harness_daemon_log_count(&dm, "REDIS LOST THIS ENGINE'S STATE"), 1);
    e2e_fence(&sw);
    harness_daemon_kill(&dm);
    e2e_close(&sw);
    e2e_close(&desk);
    static const char *const a1[] = { "a1", NULL };
    all_acked_at(topo.replica.port, "new master", a1, &v);
    assert_int_equal(v.ncontacts, nacked);
    restart_expect(&v);
    assert_int_equal(harness_daemon_stop(&dm, 5000), 0);
    daemon_live = false;
}

/* ---- 2: Redis Cluster ---- */

/* Keys of the tenant on node i. */
static redisReply *tenant_keys(int i)
{
    redisReply *k = ch_command(&ch, i, "KEYS ccr:{%s}:*", tenant);
    assert_non_null(k);
    assert_int_equal(k->type, REDIS_REPLY_ARRAY);
    return k;
}

static void test_cluster(void **state)
{
    char cfg[4096], tail[2048], seeds[512], id[32], msg[512], where[96];
    struct e2e_client sw, desk;
    struct jview v;
    tenant = "jc";
    char lease[64];
    snprintf(lease, sizeof(lease), "ccr:{%s}:lease", tenant);
    unsigned slot = cluster_key_slot(lease, strlen(lease));

    if (ch_start(&ch, 3, 1) < 0)
        fail_msg("the cluster did not start");
    cluster_live = true;
    size_t l = 0;
    for (int i = 0; i < ch.n; i++)
        l += (size_t)snprintf(seeds + l, sizeof(seeds) - l, "%s127.0.0.1:%d",
                              i ? ", " : "", ch.node[i].r.port);
    config_tail(tail, sizeof(tail), 3);
    snprintf(cfg, sizeof(cfg),
             "log_level: info\n"
             "listen: 127.0.0.1:0\n"
             "grace: 60s\n"
             "redis:\n"
             "  enabled: true\n"
             "  durability: redis\n"
             "  cluster: [%s]\n"
             "  tenant: %s\n%s",
             seeds, tenant, tail);
    int owner = ch_slot_owner(&ch, 0, slot);
    assert_true(owner >= 0);
    int other = owner == 0 ? 1 : 0;
    int replica = ch_replica_of(&ch, other, owner);
    assert_true(replica >= 0);

    start_daemon(cfg);
    snprintf(where, sizeof(where), "127.0.0.1:%d (slot %u)",
             ch.node[owner].r.port, slot);
    e2e_expect_log(&dm, where, 20000);
    e2e_open_hello(&sw, dm.port, "pbx-1", ROLE(SWITCH), false);
    e2e_open_hello(&desk, dm.port, "desk-1", ROLE(AGENT), false);
    assert_int_equal(e2e_agent_login(&desk, "a1", "sales", 1, 1, 0), 0);
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof(id), "pre%03d", i);
        assert_int_equal(contact_msg(&sw, id, "sales", msg, sizeof(msg)), 0);
    }
    take(&desk, &sw, "a1", "pre000");

    /* every key of the tenant is in its slot on its owner: the journal,
     * the snapshot pointer and its chunks among them */
    redisReply *k = tenant_keys(owner);
    bool journal = false, pointer = false, chunk = false;
    for (size_t i = 0; i < k->elements; i++) {
        const char *key = k->element[i]->str;
        if (cluster_key_slot(key, strlen(key)) != slot)
            fail_msg("key %s is not in slot %u", key, slot);
        redisReply *s = ch_command(&ch, owner, "CLUSTER KEYSLOT %s", key);
        assert_non_null(s);
        assert_int_equal(s->integer, (long long)slot);
        freeReplyObject(s);
        journal |= strstr(key, "}:journal") != NULL;
        pointer |= strstr(key, "}:snapshot") != NULL;
        chunk |= strstr(key, "}:snap:") != NULL;
    }
    freeReplyObject(k);
    assert_true(journal && pointer && chunk);
    for (int i = 0; i < ch.n; i++) {
        if (i == owner || i == replica)
            continue;
        k = tenant_keys(i);
        assert_int_equal(k->elements, 0);
        freeReplyObject(k);
    }
    static const char *const a1[] = { "a1", NULL };
    all_acked_at(ch.node[owner].r.port, "owner", a1, &v);

    /* kill -9 of the owner: routing goes on on the promoted replica */
    ch_kill(&ch, owner);
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof(id), "during%d", i);
        int rc = contact_msg(&sw, id, "sales", msg, sizeof(msg));
        if (rc != 0 && rc != EC(STATE_UNAVAILABLE)) {
            harness_daemon_dump_log(&dm);
            fail_msg("%s during the failover: %d (%s)", id, rc, msg);
        }
    }
    long long deadline = harness_now_ms() + 30000;
    while (ch_slot_owner(&ch, other, slot) != replica) {
        if (harness_now_ms() > deadline)
            fail_msg("the replica of the killed primary was not promoted");
        harness_pause_ms(50);
    }
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof(id), "post%03d", i);
        contact_until_acked(&sw, id, "sales");
    }
    snprintf(where, sizeof(where), "127.0.0.1:%d (slot %u)",
             ch.node[replica].r.port, slot);
    e2e_expect_log(&dm, where, 20000);
    take(&desk, &sw, "a1", "pre001");
    e2e_fence(&sw);
    harness_daemon_kill(&dm);
    e2e_close(&sw);
    e2e_close(&desk);
    all_acked_at(ch.node[replica].r.port, "promoted replica", a1, &v);
    restart_expect(&v);
    e2e_open_hello_retry(&sw, dm.port, "pbx-1", ROLE(SWITCH), true);
    e2e_open_hello_retry(&desk, dm.port, "desk-1", ROLE(AGENT), true);
    take(&desk, &sw, "a1", jview_first_queued(&v));
    e2e_close(&sw);
    e2e_close(&desk);
    assert_int_equal(harness_daemon_stop(&dm, 5000), 0);
    daemon_live = false;
}

/* ---- 3 and 4: one redis-server, a snapshot after every batch ---- */

static redisContext *start_single(struct e2e_client *sw,
                                  struct e2e_client *desk)
{
    char cfg[4096], tail[2048];
    tenant = "jx";
    memset(&rs, 0, sizeof(rs));
    assert_int_equal(harness_redis_start(&rs), 0);
    redis_live = true;
    /* snapshot_every 1: each batch is followed by a snapshot, sent in the
     * same loop turn */
    config_tail(tail, sizeof(tail), 1);
    snprintf(cfg, sizeof(cfg),
             "log_level: info\n"
             "grace: 60s\n"
             "redis:\n"
             "  enabled: true\n"
             "  durability: redis\n"
             "  port: %d\n"
             "  tenant: jx\n%s",
             rs.port, tail);
    start_daemon(cfg);
    e2e_open_hello(sw, dm.port, "pbx-1", ROLE(SWITCH), false);
    e2e_open_hello(desk, dm.port, "desk-1", ROLE(AGENT), false);
    assert_int_equal(e2e_agent_login(desk, "a1", "support", 1, 1, 0), 0);
    char id[16], msg[256];
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof(id), "k%d", i);
        assert_int_equal(contact_msg(sw, id, "sales", msg, sizeof(msg)), 0);
    }
    return e2e_redis(rs.port);
}

/* Waits until the last snapshot's swap is applied: the generation marker
 * names the batch the snapshot pointer names, so nothing is in flight. */
static void quiesce(redisContext *r, char *ptr, size_t len)
{
    long long deadline = harness_now_ms() + 10000;
    for (;;) {
        redisReply *a = redisCommand(r, "MGET ccr:{%s}:applied "
                                        "ccr:{%s}:snapshot", tenant, tenant);
        assert_non_null(a);
        bool done = a->element[0]->type == REDIS_REPLY_STRING &&
                    a->element[1]->type == REDIS_REPLY_STRING &&
                    !strncmp(a->element[1]->str, a->element[0]->str,
                             a->element[0]->len) &&
                    a->element[1]->str[a->element[0]->len] == ':';
        if (done)
            snprintf(ptr, len, "%s", a->element[1]->str);
        freeReplyObject(a);
        if (done)
            return;
        if (harness_now_ms() > deadline)
            fail_msg("the snapshot swap did not catch up with the batches");
        harness_pause_ms(20);
    }
}

static void rcmd_ok(redisContext *r, const char *cmd)
{
    redisReply *x = redisCommand(r, cmd);
    assert_non_null(x);
    if (x->type == REDIS_REPLY_ERROR)
        fail_msg("%s: %s", cmd, x->str);
    freeReplyObject(x);
}

static size_t snap_keys(redisContext *r)
{
    redisReply *k = redisCommand(r, "KEYS ccr:{%s}:snap:*", tenant);
    assert_non_null(k);
    size_t n = k->elements;
    freeReplyObject(k);
    return n;
}

/* Chunk keys that the pointer `ptr` does not name: each must carry an
 * expiry; those it names must not. Returns the orphans' count. */
static size_t check_chunk_expiry(redisContext *r, const char *ptr)
{
    unsigned long long t, s;
    unsigned n;
    assert_int_equal(sscanf(ptr, "%llu:%llu:%u:", &t, &s, &n), 3);
    char cur[96];
    int cl = snprintf(cur, sizeof(cur), "ccr:{%s}:snap:%llu:%llu:", tenant, t,
                      s);
    redisReply *k = redisCommand(r, "KEYS ccr:{%s}:snap:*", tenant);
    assert_non_null(k);
    size_t orphans = 0;
    for (size_t i = 0; i < k->elements; i++) {
        const char *key = k->element[i]->str;
        long long ttl = e2e_rint(r, "PTTL %s", key);
        if (!strncmp(key, cur, (size_t)cl)) {
            if (ttl != -1)
                fail_msg("current chunk %s expires (pttl %lld)", key, ttl);
        } else {
            orphans++;
            if (ttl <= 0)
                fail_msg("orphan chunk %s never goes (pttl %lld)", key, ttl);
        }
    }
    freeReplyObject(k);
    return orphans;
}

/* The crash between a snapshot's chunk SETs and its swap. */
static void test_crash_before_swap(void **state)
{
    struct e2e_client sw, desk;
    char before[128], after[128], msg[256];
    struct jview v;
    redisContext *r = start_single(&sw, &desk);
    quiesce(r, before, sizeof(before));
    size_t nbefore = snap_keys(r);
    assert_true(nbefore >= 1);

    /* Redis holds every write from here on; x1's batch and the snapshot
     * behind it are written by the engine before it answers the Stats
     * request; then the engine is frozen */
    rcmd_ok(r, "CLIENT PAUSE 20000 WRITE");
    uint64_t rid = e2e_send_contact(&sw, "x1", "sales", E2E_VOICE);
    assert_true(rid != 0);
    e2e_fence(&sw);
    assert_int_equal(kill(dm.proc.pid, SIGSTOP), 0);
    /* Redis forgets the scripts: the held batch and swap are refused
     * (NOSCRIPT), the chunk SETs between them are applied */
    rcmd_ok(r, "SCRIPT FLUSH");
    rcmd_ok(r, "CLIENT UNPAUSE");
    long long deadline = harness_now_ms() + 10000;
    while (snap_keys(r) <= nbefore) {
        if (harness_now_ms() > deadline)
            fail_msg("the held snapshot's chunks did not land");
        harness_pause_ms(20);
    }
    redisReply *p = redisCommand(r, "GET ccr:{jx}:snapshot");
    assert_non_null(p);
    assert_string_equal(p->str, before);
    freeReplyObject(p);
    /* the engine dies there, still frozen: it never saw the refusals */
    harness_daemon_kill(&dm);
    e2e_close(&sw);
    e2e_close(&desk);

    /* the previous snapshot is current and recovery is exact: x1 was
     * never acknowledged, and is not there */
    jview_read(r, &v);
    assert_string_equal(v.ptr, before);
    assert_int_equal(v.ncontacts, 5);
    assert_false(jview_has(&v, "x1", false));
    assert_int_equal(check_chunk_expiry(r, before), snap_keys(r) - nbefore);
    restart_expect(&v);
    e2e_open_hello_retry(&sw, dm.port, "pbx-1", ROLE(SWITCH), true);
    assert_int_equal(contact_msg(&sw, "k5", "sales", msg, sizeof(msg)), 0);
    quiesce(r, after, sizeof(after));
    assert_string_not_equal(after, before);
    /* the new snapshot replaced the previous one; the orphans of the
     * crashed engine's last snapshot are still there, going by expiry */
    assert_true(check_chunk_expiry(r, after) >= 1);
    jview_read(r, &v);
    assert_int_equal(v.ncontacts, 6);
    harness_daemon_kill(&dm);
    e2e_close(&sw);
    restart_expect(&v);
    redisFree(r);
    assert_int_equal(harness_daemon_stop(&dm, 5000), 0);
    daemon_live = false;
}


/* After a snapshot sent again: a new one is current (not `before`) and
 * Redis holds exactly its chunks. Its pointer goes to `after`. */
static void expect_new_snapshot(redisContext *r, const char *before,
                                char *after, size_t size)
{
    quiesce(r, after, size);
    assert_string_not_equal(after, before);
    unsigned long long t, q;
    unsigned n;
    assert_int_equal(sscanf(after, "%llu:%llu:%u:", &t, &q, &n), 3);
    assert_int_equal(snap_keys(r), n);
}

/* The end of a resend test: kill -9 once the engine is quiet; what it
 * acknowledged (a1's and six contacts) is in Redis and a restart loads
 * it exactly. */
static void kill_and_reload(redisContext *r, struct e2e_client *sw,
                            struct e2e_client *desk)
{
    static const char *const a1[] = { "a1", NULL };
    struct jview v;
    e2e_fence(sw);
    harness_daemon_kill(&dm);
    e2e_close(sw);
    e2e_close(desk);
    all_acked_at(rs.port, "redis", a1, &v);
    assert_int_equal(v.ncontacts, 6);
    restart_expect(&v);
    redisFree(r);
    assert_int_equal(harness_daemon_stop(&dm, 5000), 0);
    daemon_live = false;
}

/* Redis refuses the swap (and the batch before it) while the engine
 * lives: the chunks land, the engine sees NOSCRIPT, reconnects (loading
 * its scripts again) and sends the batch and the whole snapshot again;
 * the chunks written twice are the current ones, without expiry, and
 * nothing is left over. */
static void test_swap_refused_resent(void **state)
{
    struct e2e_client sw, desk;
    char before[128], after[128];
    redisContext *r = start_single(&sw, &desk);
    quiesce(r, before, sizeof(before));
    size_t nbefore = snap_keys(r);

    rcmd_ok(r, "CLIENT PAUSE 20000 WRITE");
    uint64_t rid = e2e_send_contact(&sw, "x1", "sales", E2E_VOICE);
    assert_true(rid != 0);
    e2e_fence(&sw);
    assert_int_equal(kill(dm.proc.pid, SIGSTOP), 0);
    rcmd_ok(r, "SCRIPT FLUSH");
    rcmd_ok(r, "CLIENT UNPAUSE");
    long long deadline = harness_now_ms() + 10000;
    while (snap_keys(r) <= nbefore) {
        if (harness_now_ms() > deadline)
            fail_msg("the held snapshot's chunks did not land");
        harness_pause_ms(20);
    }
    assert_int_equal(kill(dm.proc.pid, SIGCONT), 0);
    assert_int_equal(e2e_reply(&sw, rid, 15000), 0);
    note_acked("x1");
    e2e_expect_log(&dm, "redis forgot the scripts", E2E_T_MS);
    expect_new_snapshot(r, before, after, sizeof(after));
    assert_int_equal(check_chunk_expiry(r, after), 0);
    kill_and_reload(r, &sw, &desk);
}

/* Redis stopped (SIGTERM, its AOF flushed) and restarted while the
 * engine's batch and the snapshot behind it were held, unapplied: the
 * engine reconnects and sends both again; Redis lost nothing, so no
 * rewrite. */
static void test_snapshot_resent_after_redis_restart(void **state)
{
    struct e2e_client sw, desk;
    char before[128], after[128];
    redisContext *r = start_single(&sw, &desk);
    quiesce(r, before, sizeof(before));

    rcmd_ok(r, "CLIENT PAUSE 20000 WRITE");
    uint64_t rid = e2e_send_contact(&sw, "x1", "sales", E2E_VOICE);
    assert_true(rid != 0);
    e2e_fence(&sw);
    redisFree(r);
    assert_int_equal(harness_redis_term(&rs, 5000), 0);
    assert_int_equal(harness_redis_restart(&rs), 0);
    assert_int_equal(e2e_reply(&sw, rid, 15000), 0);
    note_acked("x1");
    r = e2e_redis(rs.port);
    expect_new_snapshot(r, before, after, sizeof(after));
    assert_int_equal(
        harness_daemon_log_count(&dm, "REDIS LOST THIS ENGINE'S STATE"), 0);
    kill_and_reload(r, &sw, &desk);
}

/* CLIENT KILL of the engine's connection while its batch and the
 * snapshot behind it are held in Redis, unapplied. */
static void test_snapshot_resent_after_kill(void **state)
{
    struct e2e_client sw, desk;
    char before[128], after[128];
    redisContext *r = start_single(&sw, &desk);
    quiesce(r, before, sizeof(before));

    rcmd_ok(r, "CLIENT PAUSE 20000 WRITE");
    uint64_t rid = e2e_send_contact(&sw, "x1", "sales", E2E_VOICE);
    assert_true(rid != 0);
    e2e_fence(&sw);
    long long killed = e2e_rint(r, "CLIENT KILL TYPE normal SKIPME yes");
    assert_true(killed >= 1);
    rcmd_ok(r, "CLIENT UNPAUSE");
    /* the engine reconnects and sends both again: x1 is acknowledged */
    assert_int_equal(e2e_reply(&sw, rid, 15000), 0);
    note_acked("x1");
    /* one snapshot's chunks, nothing left over */
    expect_new_snapshot(r, before, after, sizeof(after));
    assert_int_equal(check_chunk_expiry(r, after), 0);
    kill_and_reload(r, &sw, &desk);
}

/* The swap script itself (storebatch_snapshot_script) on a real Redis,
 * for what the engine cannot be made to do on cue: a snapshot sent again
 * after its swap was applied and the reply lost (the connection dropped
 * in between) must leave the current chunks without an expiry, whether
 * its swap comes again or not (SET NX); a swap with a chunk missing
 * changes nothing and leaves the expiry on; a swap makes its chunks
 * persistent and unlinks the previous snapshot's. */
static redisReply *swap(redisContext *r, const char *seq, const char *n,
                        const char *z)
{
    const char *argv[] = { "EVAL", storebatch_snapshot_script, "3",
                           "ccr:{js}:lease", "ccr:{js}:fence",
                           "ccr:{js}:applied", "ccr:{js}:", "7", seq, n, z };
    redisReply *x = redisCommandArgv(r, 11, argv, NULL);
    assert_non_null(x);
    return x;
}

static void test_swap_script_expiry(void **state)
{
    memset(&rs, 0, sizeof(rs));
    assert_int_equal(harness_redis_start(&rs), 0);
    redis_live = true;
    redisContext *r = e2e_redis(rs.port);
    rcmd_ok(r, "MSET ccr:{js}:lease 7|me ccr:{js}:fence 7 "
               "ccr:{js}:applied 7:4");
    rcmd_ok(r, "XADD ccr:{js}:journal * b x t 7 s 4");
    /* snapshot 5: one chunk, written as the engine writes it */
    rcmd_ok(r, "SET ccr:{js}:snap:7:5:0 a NX PX 600000");
    redisReply *x = swap(r, "5", "1", "");
    assert_int_equal(x->type, REDIS_REPLY_STRING);
    freeReplyObject(x);
    assert_int_equal(e2e_rint(r, "PTTL ccr:{js}:snap:7:5:0"), -1);
    /* sent again (its reply was lost): the chunk is left as it is, even
     * if the swap never comes (the engine died), then "applied" */
    redisReply *nx = redisCommand(r, "SET ccr:{js}:snap:7:5:0 a NX PX 600000");
    assert_non_null(nx);
    assert_int_equal(nx->type, REDIS_REPLY_NIL);
    freeReplyObject(nx);
    assert_int_equal(e2e_rint(r, "PTTL ccr:{js}:snap:7:5:0"), -1);
    x = swap(r, "5", "1", "");
    assert_int_equal(x->type, REDIS_REPLY_INTEGER);
    assert_int_equal(x->integer, 0);
    freeReplyObject(x);
    assert_int_equal(e2e_rint(r, "PTTL ccr:{js}:snap:7:5:0"), -1);
    /* the same for the rewrite's swap (no generation check) */
    x = swap(r, "5", "1", "Z");
    assert_int_equal(x->type, REDIS_REPLY_INTEGER);
    freeReplyObject(x);
    assert_int_equal(e2e_rint(r, "PTTL ccr:{js}:snap:7:5:0"), -1);
    /* snapshot 6 with chunk 1 missing: refused, nothing changes */
    rcmd_ok(r, "SET ccr:{js}:snap:7:6:0 b NX PX 600000");
    x = swap(r, "6", "2", "");
    assert_int_equal(x->type, REDIS_REPLY_ERROR);
    assert_non_null(strstr(x->str, "snapshot chunk missing"));
    freeReplyObject(x);
    assert_true(e2e_rint(r, "PTTL ccr:{js}:snap:7:6:0") > 0);
    assert_int_equal(e2e_rint(r, "PTTL ccr:{js}:snap:7:5:0"), -1);
    /* sent again whole: current, the previous snapshot's chunk gone */
    rcmd_ok(r, "SET ccr:{js}:snap:7:6:1 c NX PX 600000");
    x = swap(r, "6", "2", "");
    assert_int_equal(x->type, REDIS_REPLY_STRING);
    freeReplyObject(x);
    assert_int_equal(e2e_rint(r, "PTTL ccr:{js}:snap:7:6:0"), -1);
    assert_int_equal(e2e_rint(r, "PTTL ccr:{js}:snap:7:6:1"), -1);
    assert_int_equal(e2e_rint(r, "EXISTS ccr:{js}:snap:7:5:0"), 0);
    redisFree(r);
}

int main(void)
{
    const char *only = getenv("CCROUTE_TEST_FILTER");
    if (only)
        cmocka_set_test_filter(only);

    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_crash_before_swap, teardown),
        cmocka_unit_test_teardown(test_swap_refused_resent, teardown),
        cmocka_unit_test_teardown(test_snapshot_resent_after_kill, teardown),
        cmocka_unit_test_teardown(test_snapshot_resent_after_redis_restart,
                                  teardown),
        cmocka_unit_test_teardown(test_swap_script_expiry, teardown),
        cmocka_unit_test_teardown(test_sentinel_failover, teardown),
        cmocka_unit_test_teardown(test_sentinel_loss_rewrites, teardown),
        cmocka_unit_test_teardown(test_cluster, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
