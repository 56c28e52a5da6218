/* test-scaleout.c -- end to end: the scale-out of issue 10 with real
 * processes. A Redis Cluster of 3 primaries and 3 replicas on loopback
 * (tests/cluster-harness.h), two ccrouted engines that share a pool of four
 * tenants (`tenant_pool: {tenants: [...], max: 4}`, `redis.cluster`
 * seeds), the tenants chosen so that their slots lie on at least two
 * primaries; traffic on every tenant (a switch sending contacts, a desk
 * accepting offers, contacts completed; every contact acknowledged).
 *
 *  1. kill -9 of the engine that owns the tenants: each tenant is
 *     refused by the survivor (NOT_OWNER) until the survivor holds its
 *     lease with a higher fencing token, then served there; nothing
 *     acknowledged is lost or assigned twice (each tenant's event stream,
 *     read from the primary owning its slot);
 *  2. while traffic flows on the survivor, one tenant's slot is moved to
 *     another primary by hand (docs/scaling.md, "Moving a tenant to
 *     another node"): that tenant's changes are refused with the
 *     retryable STATE_UNAVAILABLE while the slot is open, then every
 *     acknowledged contact of it is on the new owner, none on the
 *     source, each exactly once in its event stream, and the engine
 *     serves it again; the other tenants' contacts are acknowledged
 *     throughout.
 *
 * Synchronisation is "wait for this reply / Redis state, with a
 * deadline"; polling loops pause between polls of a state only another
 * process changes (a lease expiring), never in place of a reply. Times
 * are printed, not asserted. Every process is stopped by the teardown,
 * also after a failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "client.h"
#include "cluster-harness.h"
#include "cluster.h"
#include "e2e-util.h"
#include "harness.h"
#include "store-peek.h"

#define BODY E2E_BODY
#define EC E2E_EC
#define ROLE E2E_ROLE
#define NT 4                /* tenants of the pool */
#define NC 256              /* contacts per tenant, at most */
#define DEADLINE_MS 15000   /* for anything the test waits on */

/* ---- the model of the event-stream check: one voice seat per agent,
 * every contact voice ---- */

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

/* ---- processes: stopped by the teardown, also after a failure ---- */

static struct cluster_harness ch;
static bool cluster_live;
static struct harness_daemon da, db;
static bool da_live, db_live;

static int teardown(void **state)
{
    if (da_live) {
        harness_daemon_kill(&da);
        harness_daemon_cleanup(&da);
    }
    if (db_live) {
        harness_daemon_kill(&db);
        harness_daemon_cleanup(&db);
    }
    da_live = db_live = false;
    if (cluster_live)
        ch_stop(&ch);
    cluster_live = false;
    return 0;
}

/* ---- tenants ---- */

struct tn {
    char name[16];
    unsigned slot;
    int port;                       /* engine serving it */
    struct e2e_client sw, desk;
    char id[NC][32];                /* contacts sent, in order */
    bool acked[NC], done[NC];
    int n;
    int assigned;                   /* contact with a1, or -1 */
};

static struct tn ts[NT];

static unsigned tenant_slot(const char *t)
{
    char key[64];
    snprintf(key, sizeof(key), "ccr:{%.15s}:lease", t);
    return cluster_key_slot(key, strlen(key));
}

/* The primary owning t's slot now (asked of node 0, never killed). */
static int owner_node(const struct tn *t)
{
    int o = ch_slot_owner(&ch, 0, t->slot);
    assert_true(o >= 0);
    return o;
}

/* A blocking connection to the primary of t's slot. */
static redisContext *tredis(const struct tn *t)
{
    return e2e_redis(ch.node[owner_node(t)].r.port);
}

/* The lease of t: its fencing token and the port of the engine its value
 * names ("token|127.0.0.1:port"); false when nobody holds it. */
static bool lease_of(const struct tn *t, uint64_t *token, int *port)
{
    char v[128] = "";
    redisContext *r = tredis(t);
    redisReply *rep = redisCommand(r, "GET ccr:{%s}:lease", t->name);
    assert_non_null(rep);
    if (rep->type == REDIS_REPLY_STRING)
        snprintf(v, sizeof(v), "%s", rep->str);
    freeReplyObject(rep);
    redisFree(r);
    const char *colon = strrchr(v, ':');
    if (!colon || !strchr(v, '|'))
        return false;
    *token = strtoull(v, NULL, 10);
    *port = atoi(colon + 1);
    return true;
}

static void config_text(char *buf, size_t len)
{
    char seeds[256], names[128];
    size_t l = 0;
    for (int i = 0; i < ch.n; i++)
        l += (size_t)snprintf(seeds + l, sizeof(seeds) - l, "%s127.0.0.1:%d",
                              i ? ", " : "", ch.node[i].r.port);
    l = 0;
    for (int i = 0; i < NT; i++)
        l += (size_t)snprintf(names + l, sizeof(names) - l, "%s%s",
                              i ? ", " : "", ts[i].name);
    snprintf(buf, len,
             "log_level: info\n"
             "grace: 60s\n"
             "tenant_pool: {tenants: [%s], max: 4}\n"
             "redis:\n"
             "  durability: redis\n"
             "  cluster: [%s]\n"
             "  lease: 1s\n"
             "  renew: 200ms\n"
             "  connect_timeout: 300ms\n"
             "  command_timeout: 1s\n"
             "  reconnect_min: 20ms\n"
             "  reconnect_max: 200ms\n"
             "routing: {offer_timeout: 60s, max_no_answer: 100, "
             "max_agents: 100, max_contacts: 1000}\n"
             "skills: [sales]\n"
             "queues:\n"
             "  - name: sales\n"
             "    skills: {sales: 1}\n",
             names, seeds);
}

static void dump_logs(void)
{
    if (da_live)
        harness_daemon_dump_log(&da);
    if (db_live)
        harness_daemon_dump_log(&db);
}

/* Hello for t at port, again while the engine answers STATE_UNAVAILABLE
 * (loading), up to DEADLINE_MS. 0 (Ack) or the last Error code. */
static int hello_at(struct e2e_client *c, int port, const char *name,
                    Ccroute__V1__Role role, const char *tenant, char *msg,
                    size_t msglen)
{
    long long deadline = harness_now_ms() + DEADLINE_MS;
    for (;;) {
        int rc = e2e_open(c, port);
        if (rc < 0)
            return rc;
        rc = e2e_hello_tenant(c, name, role, true, tenant, msg, msglen,
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
                     Ccroute__V1__Role role, const char *tenant)
{
    char msg[256] = "";
    int rc = hello_at(c, port, name, role, tenant, msg, sizeof(msg));
    if (rc != 0) {
        dump_logs();
        fail_msg("Hello %s for %s at port %d: %d (%s)", name, tenant, port,
                 rc, msg);
    }
}

/* ---- traffic ---- */

static uint64_t send_contact(struct tn *t)
{
    char id[32];
    assert_true(t->n < NC);
    snprintf(id, sizeof(id), "%.15s-c%d", t->name, t->n);
    memcpy(t->id[t->n], id, sizeof(id));
    uint64_t rid = e2e_send_contact(&t->sw, t->id[t->n], "sales", E2E_VOICE);
    assert_true(rid != 0);
    t->n++;
    return rid;
}

/* A ContactArrived that must be acknowledged at once. */
static void contact_acked(struct tn *t)
{
    char msg[256];
    uint64_t rid = send_contact(t);
    int rc = e2e_reply_msg(&t->sw, rid, E2E_T_MS, msg, sizeof(msg));
    if (rc != 0) {
        dump_logs();
        fail_msg("tenant %s: %s refused: %d (%s)", t->name, t->id[t->n - 1],
                 rc, msg);
    }
    t->acked[t->n - 1] = true;
}

static int index_of(const struct tn *t, const char *cid)
{
    for (int k = 0; k < t->n; k++)
        if (!strcmp(t->id[k], cid))
            return k;
    return -1;
}

/* The next Offer on t's desk (whichever contact), accepted. */
static void take_offer(struct tn *t)
{
    ccr_envelope *o = e2e_wait_offer(&t->desk, NULL, E2E_T_MS);
    if (!o) {
        dump_logs();
        fail_msg("tenant %s: no Offer", t->name);
    }
    assert_string_equal(o->offer->agent_id, "a1");
    int k = index_of(t, o->offer->contact_id);
    if (k < 0 || !t->acked[k] || t->done[k])
        fail_msg("tenant %s: Offer of %s, not a waiting contact", t->name,
                 o->offer->contact_id);
    ccr_free(o);
    assert_int_equal(e2e_simple(&t->desk, BODY(OFFER_ACCEPTED), t->id[k],
                                "a1"), 0);
    t->assigned = k;
}

static void complete_assigned(struct tn *t)
{
    assert_true(t->assigned >= 0);
    assert_int_equal(e2e_simple(&t->sw, BODY(CONTACT_COMPLETED),
                                t->id[t->assigned], NULL), 0);
    t->done[t->assigned] = true;
    t->assigned = -1;
}

/* One round of a busy tenant: a new contact (acknowledged), the one with
 * the agent completed, the next one offered and accepted. */
static void round_of(struct tn *t)
{
    contact_acked(t);
    complete_assigned(t);
    take_offer(t);
}

static void connect_clients(struct tn *t, int port)
{
    t->port = port;
    hello_ok(&t->sw, port, "pbx", ROLE(SWITCH), t->name);
    hello_ok(&t->desk, port, "desk", ROLE(AGENT), t->name);
}

/* Every acknowledged contact of t is on the primary of its slot (the
 * completed ones gone), each exactly once queued and at most once
 * assigned in the event stream, no checker violation, and the stream's
 * last fencing token is want_last_token (after an earlier one). */
static void check_tenant(struct tn *t, uint64_t want_last_token)
{
    redisContext *r = tredis(t);
    long long waiting = 0;
    for (int k = 0; k < t->n; k++) {
        if (!t->acked[k])
            continue;
        long long in = peek_has(r, t->name, 'c', t->id[k]);
        if (in != (t->done[k] ? 0 : 1)) {
            dump_logs();
            fail_msg("tenant %s: acknowledged contact %s %s", t->name,
                     t->id[k], t->done[k] ? "still in Redis after completion"
                                          : "lost");
        }
        waiting += !t->done[k];
    }
    assert_int_equal(peek_n(r, t->name, 'c'),
                     waiting);

    /* per contact: queued once, assigned at most once */
    static int queued[NC], assigned[NC];
    memset(queued, 0, sizeof(queued));
    memset(assigned, 0, sizeof(assigned));
    /* the events stream, or the journal's event ops (store-peek.h) */
    struct peek *pk = peek_read(r, t->name);
    for (size_t i = 0; i < pk->nev; i++) {
        const char *type = peek_get(&pk->ev[i], "type", NULL);
        const char *cid = peek_get(&pk->ev[i], "contact", NULL);
        int k = cid ? index_of(t, cid) : -1;
        if (k >= 0 && !strcmp(type, "queued"))
            queued[k]++;
        if (k >= 0 && !strcmp(type, "assigned"))
            assigned[k]++;
    }
    peek_free(pk);
    for (int k = 0; k < t->n; k++) {
        if (t->acked[k] && queued[k] != 1)
            fail_msg("tenant %s: acknowledged contact %s queued %d times in "
                     "the event stream", t->name, t->id[k], queued[k]);
        if (assigned[k] > 1)
            fail_msg("tenant %s: contact %s assigned %d times", t->name,
                     t->id[k], assigned[k]);
    }

    struct e2e_ev_report rep;
    e2e_events_check(r, t->name, &model, &rep);
    if (rep.violations)
        fail_msg("tenant %s: %s", t->name, rep.first_violation);
    assert_true(rep.token_order_ok);
    /* A's term, then B's: the takeover is in every tenant's stream */
    assert_true(rep.ntokens >= 2);
    assert_true(rep.tokens[rep.ntokens - 1] == want_last_token);
    redisFree(r);
}

/* ---- choosing tenants that span primaries ---- */

static void choose_tenants(void)
{
    int owner[64], seen[CH_NODES_MAX] = { 0 }, nprim = 0, picked = 0;
    char cand[64][16];
    bool used[64] = { false };
    for (int i = 0; i < 64; i++) {
        snprintf(cand[i], sizeof(cand[i]), "so%d", i);
        owner[i] = ch_slot_owner(&ch, 0, tenant_slot(cand[i]));
        assert_true(owner[i] >= 0);
    }
    /* first one tenant per primary (round robin over primaries), then
     * the rest; never two in one slot */
    for (int pass = 0; pass < 2 && picked < NT; pass++)
        for (int i = 0; i < 64 && picked < NT; i++) {
            if (used[i] || (pass == 0 && seen[owner[i]]))
                continue;
            bool same_slot = false;
            for (int j = 0; j < picked; j++)
                same_slot |= ts[j].slot == tenant_slot(cand[i]);
            if (same_slot)
                continue;
            used[i] = true;
            nprim += !seen[owner[i]]++;
            snprintf(ts[picked].name, sizeof(ts[0].name), "%s", cand[i]);
            ts[picked].slot = tenant_slot(cand[i]);
            ts[picked].assigned = -1;
            picked++;
        }
    assert_int_equal(picked, NT);
    assert_true(nprim >= 2);
    for (int i = 0; i < NT; i++)
        fprintf(stderr, "scaleout: tenant %s: slot %u on node %d (port %d)\n",
                ts[i].name, ts[i].slot, owner_node(&ts[i]),
                ch.node[owner_node(&ts[i])].r.port);
}

/* ---- moving a slot ---- */

static int setslot(int node, unsigned slot, const char *how, int other)
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

static bool is_primary(int node)
{
    redisReply *r = ch_command(&ch, node, "ROLE");
    bool p = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
             !strcmp(r->element[0]->str, "master");
    freeReplyObject(r);
    return p;
}

struct mig {
    struct tn *m;                   /* the tenant moving */
    uint64_t rid[NC];               /* its contacts sent meanwhile */
    int first, n;                   /* their indices: first .. first+n-1 */
    int others_acked;
};

/* Between two MIGRATE calls: a contact of the moving tenant sent without
 * waiting, and a full round on every other tenant (acknowledged). */
static void between(void *arg)
{
    struct mig *g = arg;
    g->rid[g->n++] = send_contact(g->m);
    for (int i = 0; i < NT; i++)
        if (&ts[i] != g->m) {
            round_of(&ts[i]);
            g->others_acked++;
        }
}

/* Sends contact k of t again while it is refused with the retryable
 * STATE_UNAVAILABLE, until it is acknowledged (bounded). */
static void contact_until_acked(struct tn *t, int k)
{
    long long deadline = harness_now_ms() + DEADLINE_MS;
    char msg[256];
    for (;;) {
        uint64_t rid = e2e_send_contact(&t->sw, t->id[k], "sales", E2E_VOICE);
        assert_true(rid != 0);
        int rc = e2e_reply_msg(&t->sw, rid, E2E_T_MS, msg, sizeof(msg));
        if (rc == 0) {
            t->acked[k] = true;
            return;
        }
        if (rc != EC(STATE_UNAVAILABLE) || harness_now_ms() > deadline) {
            dump_logs();
            fail_msg("tenant %s: %s: %d (%s)", t->name, t->id[k], rc, msg);
        }
        assert_false(t->sw.eof);
        harness_pause_ms(20);       /* between polls of the engine */
    }
}

/* The wall clock, as the daemon's log writes it, so that the log's
 * times can be read against the test's events. */
static void print_wall_clock(const char *what)
{
    struct timeval tv;
    struct tm tm;
    char buf[64];
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "scaleout: %s.%03dZ %s\n", buf, (int)(tv.tv_usec / 1000),
            what);
}

/* Prints the survivor's log lines about leases, loads and the slot. */
static void print_log_lines(struct harness_daemon *d)
{
    static const char *const keys[] = { "pool:", "lease acquired",
                                        "loaded 1", "migrat", "MOVED",
                                        "reconnected", "owner (token" };
    char line[1024];
    FILE *f = fopen(d->log, "r");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f))
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            if (strstr(line, keys[i])) {
                fprintf(stderr, "scaleout: log: %s", line);
                break;
            }
    fclose(f);
}

static void test_scaleout(void **state)
{
    char cfg[4096], la[64], lb[64], msg[256];
    struct e2e_client probe;
    memset(ts, 0, sizeof(ts));
    assert_int_equal(ch_start(&ch, 3, 1), 0);
    cluster_live = true;
    choose_tenants();

    /* engine A first: it takes all four leases (max 4); then B, which
     * finds them owned */
    int pa = harness_free_port(), pb = harness_free_port();
    assert_true(pa > 0 && pb > 0 && pa != pb);
    snprintf(la, sizeof(la), "127.0.0.1:%d", pa);
    snprintf(lb, sizeof(lb), "127.0.0.1:%d", pb);
    const char *args_a[] = { "--listen", la, NULL };
    const char *args_b[] = { "--listen", lb, NULL };
    config_text(cfg, sizeof(cfg));
    memset(&da, 0, sizeof(da));
    assert_int_equal(harness_daemon_start(&da, cfg, args_a), 0);
    da_live = true;
    uint64_t tok_a[NT];
    long long deadline = harness_now_ms() + DEADLINE_MS;
    for (int i = 0; i < NT; i++) {
        int port = 0;
        while ((!lease_of(&ts[i], &tok_a[i], &port) || port != pa) &&
               harness_now_ms() < deadline)
            harness_pause_ms(20);   /* between reads of the lease */
        if (port != pa) {
            dump_logs();
            fail_msg("tenant %s: lease not taken by engine A", ts[i].name);
        }
    }
    memset(&db, 0, sizeof(db));
    assert_int_equal(harness_daemon_start(&db, cfg, args_b), 0);
    db_live = true;

    /* B refuses every tenant, naming A */
    for (int i = 0; i < NT; i++) {
        int rc = hello_at(&probe, pb, "pbx", ROLE(SWITCH), ts[i].name, msg,
                          sizeof(msg));
        e2e_close(&probe);
        if (rc != EC(NOT_OWNER) || !strstr(msg, la))
            fail_msg("tenant %s at B: %d (%s), not NOT_OWNER naming %s",
                     ts[i].name, rc, msg, la);
    }

    /* traffic at A: three contacts answered and completed, one answered
     * and kept, one waiting behind it -- every one acknowledged */
    for (int i = 0; i < NT; i++) {
        struct tn *t = &ts[i];
        connect_clients(t, pa);
        assert_int_equal(e2e_agent_login(&t->desk, "a1", "sales", 5, 1, 0),
                         0);
        contact_acked(t);
        take_offer(t);
        for (int k = 0; k < 3; k++)
            round_of(t);
        contact_acked(t);
    }

    /* (1) kill -9 of A */
    harness_daemon_kill(&da);
    long long t_kill = harness_now_ms();
    print_wall_clock("engine A killed");
    for (int i = 0; i < NT; i++) {
        e2e_close(&ts[i].sw);
        e2e_close(&ts[i].desk);
    }
    assert_true(e2e_open(&probe, pa) < 0);

    for (int i = 0; i < NT; i++) {
        struct tn *t = &ts[i];
        int rc, refused = 0;
        deadline = t_kill + DEADLINE_MS;
        /* NOT_OWNER while A's lease runs, STATE_UNAVAILABLE while B
         * loads (hello_at retries it), then served */
        while ((rc = hello_at(&t->sw, pb, "pbx", ROLE(SWITCH), t->name, msg,
                              sizeof(msg))) == EC(NOT_OWNER) &&
               harness_now_ms() < deadline) {
            refused++;
            harness_pause_ms(10);   /* between polls of the lease */
        }
        if (rc != 0) {
            dump_logs();
            fail_msg("tenant %s: survivor refuses Hello: %d (%s)", t->name,
                     rc, msg);
        }
        fprintf(stderr, "scaleout: tenant %s served by the survivor %lld ms "
                "after the kill (%d NOT_OWNER before)\n", t->name,
                harness_now_ms() - t_kill, refused);
        /* served there only after B holds the lease, with a later token */
        uint64_t tok;
        int port;
        assert_true(lease_of(t, &tok, &port));
        assert_int_equal(port, pb);
        assert_true(tok > tok_a[i]);
        hello_ok(&t->desk, pb, "desk", ROLE(AGENT), t->name);
        t->port = pb;
        /* the kept contact ends, the next one is offered, a new one comes */
        round_of(t);
        check_tenant(t, tok);
    }

    /* (2) one tenant's slot moved to another primary while every tenant
     * has traffic. The moving tenant: one whose source primary also holds
     * another tenant when there is one, so a neighbour on the same node
     * is watched too. */
    struct tn *m = &ts[0];
    for (int i = 0; i < NT; i++)
        for (int j = 0; j < NT; j++)
            if (i != j && owner_node(&ts[i]) == owner_node(&ts[j]))
                m = &ts[i];
    unsigned slot = m->slot;
    int src = owner_node(m), dst = -1;
    for (int i = 0; i < ch.n && dst < 0; i++)
        if (i != src && is_primary(i))
            dst = i;
    assert_true(dst >= 0);
    fprintf(stderr, "scaleout: moving tenant %s (slot %u) from node %d to "
            "node %d\n", m->name, slot, src, dst);

    struct mig *g = calloc(1, sizeof(*g));
    assert_non_null(g);
    g->m = m;
    g->first = m->n;
    assert_int_equal(setslot(dst, slot, "IMPORTING", src), 0);
    assert_int_equal(setslot(src, slot, "MIGRATING", dst), 0);
    long long t_open = harness_now_ms();
    print_wall_clock("slot open (MIGRATING)");
    /* the slot is open: the moving tenant's change is refused, retryable
     * and saying why; the others are served */
    uint64_t rid = send_contact(m);
    int rc = e2e_reply_msg(&m->sw, rid, E2E_T_MS, msg, sizeof(msg));
    if (rc != EC(STATE_UNAVAILABLE) || !strstr(msg, "being migrated")) {
        dump_logs();
        fail_msg("%s while its slot is migrating: %d (%s)", m->name, rc, msg);
    }
    int open1 = m->n - 1;
    between(g);
    redisReply *nk = ch_command(&ch, src, "CLUSTER COUNTKEYSINSLOT %u", slot);
    assert_non_null(nk);
    fprintf(stderr, "scaleout: %lld keys in slot %u\n", nk->integer, slot);
    freeReplyObject(nk);
    /* two keys per MIGRATE, a round of traffic after each */
    assert_int_equal(ch_migrate_keys(&ch, src, dst, slot, 2, between, g), 0);
    assert_int_equal(setslot(dst, slot, "NODE", dst), 0);
    assert_int_equal(setslot(src, slot, "NODE", dst), 0);
    for (int i = 0; i < ch.n; i++)
        if (i != src && i != dst && is_primary(i))
            assert_int_equal(setslot(i, slot, "NODE", dst), 0);
    long long t_assigned = harness_now_ms();
    int during = g->others_acked;   /* while the slot was open */
    between(g);

    /* the moving tenant's replies: an Ack or the retryable refusal */
    for (int i = 0; i < g->n; i++) {
        int k = g->first + 1 + i;
        rc = e2e_reply_msg(&m->sw, g->rid[i], DEADLINE_MS, msg, sizeof(msg));
        if (rc == 0)
            m->acked[k] = true;
        else if (rc != EC(STATE_UNAVAILABLE)) {
            dump_logs();
            fail_msg("%s: %d (%s)", m->id[k], rc, msg);
        }
    }
    /* served again: the refused ones are acknowledged when sent again */
    contact_until_acked(m, open1);
    long long t_served = harness_now_ms();
    for (int k = g->first; k < m->n; k++)
        if (!m->acked[k])
            contact_until_acked(m, k);
    fprintf(stderr, "scaleout: slot open %lld ms (SETSLOT MIGRATING to NODE "
            "on every primary), tenant %s served again %lld ms after it "
            "opened; %d contacts of the other tenants acknowledged while "
            "it was open\n", t_assigned - t_open, m->name,
            t_served - t_open, during);
    assert_true(during >= NT - 1);
    assert_int_equal(owner_node(m), dst);
    hello_ok(&probe, pb, "pbx-2", ROLE(SWITCH), m->name);
    e2e_close(&probe);
    free(g);

    /* nothing of the slot left on the source; every tenant whole */
    redisReply *r = ch_command(&ch, src, "CLUSTER COUNTKEYSINSLOT %u", slot);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    if (r->integer != 0)
        fail_msg("%lld keys of slot %u on the source after the move",
                 r->integer, slot);
    freeReplyObject(r);
    for (int i = 0; i < NT; i++) {
        struct tn *t = &ts[i];
        uint64_t tok;
        int port;
        round_of(t);
        assert_true(lease_of(t, &tok, &port));
        assert_int_equal(port, pb);
        check_tenant(t, tok);
        e2e_close(&t->sw);
        e2e_close(&t->desk);
    }
    print_log_lines(&db);
    assert_int_equal(harness_daemon_stop(&db, 10000), 0);
    db_live = false;
    harness_daemon_cleanup(&da);
    da_live = false;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_scaleout, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
