/* test-cluster.c -- the Redis Cluster client (engine/cluster.c).
 *
 * Pure: CRC16 vectors, key slots and hash tags, CLUSTER SLOTS parsing from
 * constructed replies. Against a real cluster (tests/cluster-harness.c:
 * 3 primaries + 3 replicas on loopback, started once for the group and
 * torn down after it, even when a test fails): key slots agree with
 * CLUSTER KEYSLOT; commands for many slots reach their owner; a slot
 * migrated while commands flow gives ASK then MOVED and every command
 * succeeds, once, in order; a primary killed with SIGKILL is followed to
 * its promoted replica. The failover test runs last: it kills a node.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <uv.h>

#include "cluster-harness.h"
#include "cluster.h"

/* ---------------------------------------------------------------- */
/* pure */

static unsigned slot_of(const char *k)
{
    return cluster_key_slot(k, strlen(k));
}

static void test_crc16(void **state)
{
    /* The check value of CRC-16/XMODEM, and the spec's example. */
    assert_int_equal(cluster_crc16("123456789", 9), 0x31C3);
    assert_int_equal(cluster_crc16("", 0), 0);
    assert_int_equal(cluster_crc16("A", 1), 0x58E5);
    /* Known slots (redis-cli CLUSTER KEYSLOT). */
    assert_int_equal(slot_of("foo"), 12182);
    assert_int_equal(slot_of("bar"), 5061);
    assert_int_equal(slot_of("somekey"), 11058);
    assert_int_equal(slot_of(""), 0);
}

static void test_hash_tags(void **state)
{
    unsigned user = slot_of("user1000");
    /* A tag: only what is between the first '{' and the next '}'. */
    assert_int_equal(slot_of("{user1000}.following"), user);
    assert_int_equal(slot_of("{user1000}.followers"), user);
    assert_int_equal(slot_of("x{user1000}y"), user);
    assert_int_equal(slot_of("foo{bar}{zap}"), slot_of("bar"));
    /* The first '{' counts: "{bar" is the tag here. */
    assert_int_equal(slot_of("foo{{bar}}zap"), slot_of("{bar"));
    /* An empty tag hashes the whole key... */
    assert_int_equal(slot_of("foo{}{bar}"),
                     cluster_crc16("foo{}{bar}", 10) & 16383);
    assert_int_not_equal(slot_of("foo{}{bar}"), slot_of("bar"));
    /* ... and so do a '{' without '}' and a '}' before the '{'. */
    assert_int_equal(slot_of("foo{bar"), cluster_crc16("foo{bar", 7) & 16383);
    assert_int_equal(slot_of("}bar{"), cluster_crc16("}bar{", 5) & 16383);
    /* The engine's key layout: every key of tenant t in one slot. */
    assert_int_equal(slot_of("ccr:{acme}:lease"), slot_of("acme"));
    assert_int_equal(slot_of("ccr:{acme}:contact:c-1"), slot_of("acme"));
    /* Binary keys: length, not NUL, ends a key. */
    assert_int_equal(cluster_key_slot("a\0{b}", 5), slot_of("b"));
}

static redisReply *r_new(int type)
{
    redisReply *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    r->type = type;
    return r;
}

static redisReply *r_int(long long v)
{
    redisReply *r = r_new(REDIS_REPLY_INTEGER);
    r->integer = v;
    return r;
}

static redisReply *r_str(const char *s)
{
    redisReply *r = r_new(REDIS_REPLY_STRING);
    r->str = strdup(s);
    r->len = strlen(s);
    return r;
}

static redisReply *r_arr(size_t n, ...)
{
    va_list ap;
    redisReply *r = r_new(REDIS_REPLY_ARRAY);
    r->elements = n;
    r->element = calloc(n ? n : 1, sizeof(*r->element));
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        r->element[i] = va_arg(ap, redisReply *);
    va_end(ap);
    return r;
}

static redisReply *r_node(const char *host, int port, const char *id)
{
    return r_arr(3, r_str(host), r_int(port), r_str(id));
}

static void test_slots_parse(void **state)
{
    /* Two ranges served by one primary (listed once), one by another,
     * replicas after them; Redis 7 adds a 4th element to a node. */
    redisReply *r = r_arr(3,
        r_arr(4, r_int(0), r_int(5460), r_node("10.0.0.1", 7000, "a"),
              r_node("10.0.0.4", 7003, "d")),
        r_arr(3, r_int(5461), r_int(10922),
              r_arr(4, r_str("10.0.0.2"), r_int(7001), r_str("b"),
                    r_arr(0))),
        r_arr(5, r_int(10923), r_int(16383), r_node("10.0.0.1", 7000, "a"),
              r_node("10.0.0.4", 7003, "d"), r_node("10.0.0.5", 7004, "e")));
    struct cluster_table t;
    assert_int_equal(cluster_table_parse(&t, r, "127.0.0.1"), 0);
    assert_int_equal(t.nnodes, 4);
    const struct cluster_table_node *a = cluster_table_owner(&t, 0);
    assert_non_null(a);
    assert_string_equal(a->host, "10.0.0.1");
    assert_int_equal(a->port, 7000);
    assert_int_equal(a->primary, -1);
    assert_ptr_equal(cluster_table_owner(&t, 5460), a);
    assert_ptr_equal(cluster_table_owner(&t, 16383), a);
    assert_ptr_equal(cluster_table_owner(&t, 10923), a);
    const struct cluster_table_node *b = cluster_table_owner(&t, 5461);
    assert_string_equal(b->host, "10.0.0.2");
    assert_int_equal(b->port, 7001);
    assert_ptr_equal(cluster_table_owner(&t, 10922), b);
    /* The replicas point at their primary. */
    int replicas = 0;
    for (size_t i = 0; i < t.nnodes; i++)
        if (t.nodes[i].primary >= 0) {
            assert_ptr_equal(&t.nodes[t.nodes[i].primary], a);
            replicas++;
        }
    assert_int_equal(replicas, 2);
    assert_null(cluster_table_owner(&t, 16384));
    cluster_table_free(&t);
    freeReplyObject(r);
}

static void test_slots_parse_hosts_and_gaps(void **state)
{
    /* An empty host is the node that answered; "?" is an unknown
     * endpoint: its range stays without a node; so does a range nobody
     * lists. */
    redisReply *r = r_arr(2,
        r_arr(3, r_int(0), r_int(99), r_node("", 7000, "a")),
        r_arr(3, r_int(200), r_int(299), r_node("?", 7001, "b")));
    struct cluster_table t;
    assert_int_equal(cluster_table_parse(&t, r, "192.168.1.9"), 0);
    assert_int_equal(t.nnodes, 1);
    assert_string_equal(cluster_table_owner(&t, 50)->host, "192.168.1.9");
    assert_null(cluster_table_owner(&t, 100));
    assert_null(cluster_table_owner(&t, 250));
    assert_null(cluster_table_owner(&t, 16383));
    cluster_table_free(&t);
    freeReplyObject(r);
}

static void test_slots_parse_malformed(void **state)
{
    struct cluster_table t;
    redisReply *bad[] = {
        r_new(REDIS_REPLY_NIL),
        r_arr(1, r_arr(2, r_int(0), r_int(5))),                /* no node */
        r_arr(1, r_arr(3, r_int(9), r_int(5), r_node("h", 1, "x"))),
        r_arr(1, r_arr(3, r_int(0), r_int(16384), r_node("h", 1, "x"))),
        r_arr(1, r_arr(3, r_int(0), r_int(5), r_arr(2, r_str("h"),
                                                    r_str("7000")))),
        r_arr(1, r_arr(3, r_int(0), r_int(5), r_node("h", 70000, "x"))),
        r_arr(2, r_arr(3, r_int(0), r_int(5), r_node("h", 1, "x")),
              r_str("junk")),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(cluster_table_parse(&t, bad[i], "h"), -EPROTO);
        assert_int_equal(t.nnodes, 0);
        assert_null(cluster_table_owner(&t, 0));   /* left empty */
        cluster_table_free(&t);
        freeReplyObject(bad[i]);
    }
    assert_int_equal(cluster_table_parse(&t, NULL, "h"), -EPROTO);
}

static void test_bad_config(void **state)
{
    uv_loop_t loop;
    struct cluster_config cfg;
    uv_loop_init(&loop);
    cluster_config_default(&cfg);
    assert_null(cluster_new(&loop, &cfg));              /* no seed */
    cfg.seeds[0] = "127.0.0.1";
    cfg.nseeds = 1;
    assert_null(cluster_new(&loop, &cfg));              /* no port */
    cfg.seeds[0] = "127.0.0.1:99999";
    assert_null(cluster_new(&loop, &cfg));
    uv_run(&loop, UV_RUN_DEFAULT);                      /* closes timers */
    assert_int_equal(uv_loop_close(&loop), 0);
}

struct gaveup {
    int calls, nulls;
    char why[256];
};

static void on_gaveup(struct cluster *c, redisReply *reply, void *priv)
{
    struct gaveup *g = priv;
    g->calls++;
    if (!reply) {
        g->nulls++;
        snprintf(g->why, sizeof(g->why), "%s", cluster_errstr(c));
    }
}

static void test_gives_up_without_cluster(void **state)
{
    /* Nothing listens on the seed: the command waits for a table that
     * never comes and is called back with NULL once its deadline passed;
     * a command still waiting when the client is freed is called back
     * with NULL too. Each exactly once. */
    uv_loop_t loop;
    char seed[32];
    struct cluster_config cfg;
    struct gaveup g1 = { 0 }, g2 = { 0 };
    uv_loop_init(&loop);
    cluster_config_default(&cfg);
    snprintf(seed, sizeof(seed), "127.0.0.1:%d", harness_free_port());
    cfg.seeds[0] = seed;
    cfg.nseeds = 1;
    cfg.retry_max_ms = 20;
    cfg.retry_timeout_ms = 100;
    struct cluster *c = cluster_new(&loop, &cfg);
    assert_non_null(c);
    const char *argv[] = { "GET", "k" };
    assert_int_equal(cluster_command_argv(c, on_gaveup, &g1, "k", 1, 2,
                                          argv, NULL), 0);
    long long deadline = harness_now_ms() + 5000;
    while (!g1.calls && harness_now_ms() < deadline)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(g1.calls, 1);
    assert_int_equal(g1.nulls, 1);
    assert_non_null(strstr(g1.why, "gave up"));
    assert_false(cluster_ready(c));
    char addr[64];
    assert_int_equal(cluster_key_addr(c, "k", 1, addr, sizeof(addr)),
                     -EAGAIN);
    assert_int_equal(cluster_command_argv(c, on_gaveup, &g2, "k", 1, 2,
                                          argv, NULL), 0);
    cluster_free(c);
    assert_int_equal(g2.calls, 1);
    assert_int_equal(g2.nulls, 1);
    assert_non_null(strstr(g2.why, "freed"));
    assert_int_equal(g1.calls, 1);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---------------------------------------------------------------- */
/* against a real cluster */

static struct cluster_harness H;

static int group_setup(void **state)
{
    return ch_start(&H, 3, 1) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    ch_stop(&H);
    return 0;
}

/* What the replies of one test look like. */
struct run {
    int n;                  /* commands issued */
    int done;               /* callbacks */
    int failed;             /* NULL replies */
    int errors;             /* error replies */
    int misordered;         /* callbacks out of issue order (per slot) */
    int last[CLUSTER_SLOTS];    /* index of the last callback per slot */
    long long *ival;        /* integer replies, by index */
    char (*sval)[32];       /* string replies, by index */
    char errtext[256];
};

struct rec {
    struct run *run;
    int idx;
    unsigned slot;
};

static void run_init(struct run *r, int n)
{
    memset(r, 0, sizeof(*r));
    for (unsigned s = 0; s < CLUSTER_SLOTS; s++)
        r->last[s] = -1;
    r->ival = calloc((size_t)n, sizeof(*r->ival));
    r->sval = calloc((size_t)n, sizeof(*r->sval));
    assert_non_null(r->ival);
    assert_non_null(r->sval);
}

static void run_free(struct run *r)
{
    free(r->ival);
    free(r->sval);
}

static void on_reply(struct cluster *c, redisReply *reply, void *priv)
{
    struct rec *rec = priv;
    struct run *r = rec->run;
    r->done++;
    if (r->last[rec->slot] > rec->idx)
        r->misordered++;
    r->last[rec->slot] = rec->idx;
    if (!reply) {
        r->failed++;
        snprintf(r->errtext, sizeof(r->errtext), "%s", cluster_errstr(c));
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        r->errors++;
        snprintf(r->errtext, sizeof(r->errtext), "%s", reply->str);
    } else if (reply->type == REDIS_REPLY_INTEGER) {
        r->ival[rec->idx] = reply->integer;
    } else if (reply->type == REDIS_REPLY_STRING ||
               reply->type == REDIS_REPLY_STATUS) {
        snprintf(r->sval[rec->idx], sizeof(r->sval[0]), "%s", reply->str);
    }
}

static void heartbeat(uv_timer_t *t)
{
    (void)t;        /* only makes UV_RUN_ONCE return now and then */
}

/* Runs the loop until *counter >= target or timeout_ms passed. */
static bool run_until(uv_loop_t *loop, const int *counter, int target,
                      int timeout_ms)
{
    uv_timer_t hb;
    long long deadline = harness_now_ms() + timeout_ms;
    uv_timer_init(loop, &hb);
    uv_timer_start(&hb, heartbeat, 20, 20);
    while (*counter < target && harness_now_ms() < deadline)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&hb, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return *counter >= target;
}

static struct cluster *client(uv_loop_t *loop, uint32_t retry_timeout_ms)
{
    static char seed[32];
    struct cluster_config cfg;
    cluster_config_default(&cfg);
    /* One seed only, and not node 0: the rest is learned. */
    snprintf(seed, sizeof(seed), "127.0.0.1:%d", H.node[1].r.port);
    cfg.seeds[0] = seed;
    cfg.nseeds = 1;
    cfg.retry_timeout_ms = retry_timeout_ms;
    struct cluster *c = cluster_new(loop, &cfg);
    assert_non_null(c);
    return c;
}

static void client_free(uv_loop_t *loop, struct cluster *c)
{
    cluster_free(c);
    uv_run(loop, UV_RUN_DEFAULT);   /* the handles close */
    assert_int_equal(uv_loop_close(loop), 0);
}

static void issue(struct cluster *c, struct run *r, struct rec *recs,
                  const char *key, int argc, const char **argv)
{
    int i = r->n++;
    recs[i].run = r;
    recs[i].idx = i;
    recs[i].slot = slot_of(key);
    assert_int_equal(cluster_command_argv(c, on_reply, &recs[i], key,
                                          strlen(key), argc, argv, NULL), 0);
}

static void test_keyslot_matches_redis(void **state)
{
    /* Random keys over an alphabet rich in braces, against the server's
     * own CLUSTER KEYSLOT. */
    const char alpha[] = "ab{}x";
    unsigned seed = 12345;
    for (int i = 0; i < 400; i++) {
        char key[16];
        int len = (int)(rand_r(&seed) % 12);
        for (int j = 0; j < len; j++)
            key[j] = alpha[rand_r(&seed) % 5];
        key[len] = '\0';
        redisReply *r = ch_command(&H, 0, "CLUSTER KEYSLOT %b", key,
                                   (size_t)len);
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_INTEGER);
        if ((unsigned)r->integer != slot_of(key))
            fail_msg("key \"%s\": redis says slot %lld, we say %u", key,
                     r->integer, slot_of(key));
        freeReplyObject(r);
    }
}

static void test_many_slots(void **state)
{
    enum { KEYS = 2000 };
    uv_loop_t loop;
    struct run *run = malloc(sizeof(*run));
    struct rec *recs = calloc(2 * KEYS, sizeof(*recs));
    assert_non_null(run);
    assert_non_null(recs);
    uv_loop_init(&loop);
    run_init(run, 2 * KEYS);
    struct cluster *c = client(&loop, 10000);

    /* Issued before the table is known: they wait for it. Each GET right
     * behind its SET: it must see the value (per-slot order). */
    for (int i = 0; i < KEYS; i++) {
        char key[32], val[32];
        snprintf(key, sizeof(key), "key:%d", i);
        snprintf(val, sizeof(val), "v%d", i);
        const char *set[] = { "SET", key, val };
        const char *get[] = { "GET", key };
        issue(c, run, recs, key, 3, set);
        issue(c, run, recs, key, 2, get);
    }
    assert_true(run_until(&loop, &run->done, 2 * KEYS, 15000));
    assert_int_equal(run->failed, 0);
    assert_int_equal(run->errors, 0);
    assert_int_equal(run->misordered, 0);
    for (int i = 0; i < KEYS; i++) {
        char val[32];
        snprintf(val, sizeof(val), "v%d", i);
        assert_string_equal(run->sval[2 * i], "OK");
        assert_string_equal(run->sval[2 * i + 1], val);
    }
    assert_true(cluster_ready(c));
    struct cluster_stats st;
    cluster_stats(c, &st);
    assert_int_equal(st.moved, 0);
    assert_int_equal(st.ask, 0);

    /* The keys are where the cluster says they belong: on the owner,
     * asked directly (no redirection followed), and the locator agrees. */
    int per_node[CH_NODES_MAX] = { 0 };
    for (int i = 0; i < KEYS; i += 20) {
        char key[32], addr[64], want[64];
        snprintf(key, sizeof(key), "key:%d", i);
        int owner = ch_slot_owner(&H, 0, slot_of(key));
        assert_true(owner >= 0);
        per_node[owner]++;
        redisReply *r = ch_command(&H, owner, "GET %s", key);
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        assert_string_equal(r->str, run->sval[2 * i + 1]);
        freeReplyObject(r);
        assert_int_equal(cluster_key_addr(c, key, strlen(key), addr,
                                          sizeof(addr)), 0);
        snprintf(want, sizeof(want), "127.0.0.1:%d", H.node[owner].r.port);
        assert_string_equal(addr, want);
    }
    int primaries = 0;
    for (int i = 0; i < H.n; i++)
        primaries += per_node[i] > 0;
    assert_int_equal(primaries, 3);     /* every primary got keys */

    client_free(&loop, c);
    run_free(run);
    free(run);
    free(recs);
}

static void rpush(struct cluster *c, struct run *r, struct rec *recs,
                  const char *key, int i)
{
    char v[16];
    snprintf(v, sizeof(v), "%d", i);
    const char *argv[] = { "RPUSH", key, v };
    issue(c, r, recs, key, 3, argv);
}

/* RPUSH answers the list's new length (INCR the new value): with every
 * command run exactly once and in issue order, the k-th of them (run
 * indices idx[k]) gets k + 1. */
static void assert_counted_in_order(const struct run *r, const int *idx,
                                    int n)
{
    for (int k = 0; k < n; k++)
        if (r->ival[idx[k]] != k + 1)
            fail_msg("command #%d answered %lld, want %d", idx[k],
                     r->ival[idx[k]], k + 1);
}

static void assert_list(int node, const char *key, int n)
{
    redisReply *r = ch_command(&H, node, "LRANGE %s 0 -1", key);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, n);
    for (int i = 0; i < n; i++)
        assert_int_equal(atoi(r->element[i]->str), i);
    freeReplyObject(r);
}

static void admin_ok(int node, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char cmd[256];
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    redisReply *r;
    /* Split on spaces: the arguments here have none inside. */
    const char *argv[16];
    int argc = 0;
    for (char *save, *tok = strtok_r(cmd, " ", &save); tok && argc < 16;
         tok = strtok_r(NULL, " ", &save))
        argv[argc++] = tok;
    struct timeval tv = { .tv_sec = 5 };
    redisContext *rc = redisConnectWithTimeout("127.0.0.1",
                                               H.node[node].r.port, tv);
    assert_non_null(rc);
    assert_int_equal(rc->err, 0);
    r = redisCommandArgv(rc, argc, argv, NULL);
    assert_non_null(r);
    if (r->type == REDIS_REPLY_ERROR)
        fail_msg("node %d: %s: %s", node, argv[0], r->str);
    freeReplyObject(r);
    redisFree(rc);
}

static void test_migration_ask_then_moved(void **state)
{
    enum { CHUNK = 300, TOTAL = 3 * CHUNK };
    const char *key = "{mig}list";
    unsigned slot = slot_of(key);
    int src = ch_slot_owner(&H, 0, slot), dst = -1;
    assert_true(src >= 0);
    for (int i = 0; i < H.n && dst < 0; i++)
        if (i != src && ch_replica_of(&H, 0, i) >= 0)
            dst = i;                    /* another primary */
    assert_true(dst >= 0);

    uv_loop_t loop;
    struct run *run = malloc(sizeof(*run));
    struct rec *recs = calloc(TOTAL + TOTAL / 10, sizeof(*recs));
    assert_non_null(run);
    assert_non_null(recs);
    uv_loop_init(&loop);
    run_init(run, TOTAL + TOTAL / 10);
    int pushes[TOTAL], incrs[TOTAL / 10], nincr = 0;
    struct cluster *c = client(&loop, 10000);
    /* A second key of the slot that stays on the source until the end. */
    const char *other = "{mig}other";
    const char *incr[] = { "INCR", other };
    admin_ok(src, "SET %s 0", other);

    /* Chunk A flows; the migration starts when half of it is answered,
     * with the rest still in flight. */
    for (int i = 0; i < CHUNK; i++) {
        pushes[i] = run->n;
        rpush(c, run, recs, key, i);
    }
    assert_true(run_until(&loop, &run->done, CHUNK / 2, 10000));
    admin_ok(dst, "CLUSTER SETSLOT %u IMPORTING %s", slot, H.node[src].id);
    admin_ok(src, "CLUSTER SETSLOT %u MIGRATING %s", slot, H.node[dst].id);
    redisReply *m = ch_command(&H, src, "MIGRATE 127.0.0.1 %d %s 0 5000",
                               H.node[dst].r.port, key);
    assert_non_null(m);
    assert_int_not_equal(m->type, REDIS_REPLY_ERROR);
    freeReplyObject(m);

    /* Chunk B: the list is gone from the source, which answers ASK; the
     * INCRs of the other key, pipelined behind, run on the source at
     * once, and their replies must wait for the RPUSHes before them. */
    for (int i = CHUNK; i < 2 * CHUNK; i++) {
        pushes[i] = run->n;
        rpush(c, run, recs, key, i);
        if (i % 10 == 0) {
            incrs[nincr++] = run->n;
            issue(c, run, recs, other, 2, incr);
        }
    }
    assert_true(run_until(&loop, &run->done, run->n, 10000));
    struct cluster_stats st;
    cluster_stats(c, &st);
    assert_true(st.ask > 0);
    assert_true(st.early > 0);
    assert_int_equal(st.moved, 0);
    redisReply *m2 = ch_command(&H, src, "MIGRATE 127.0.0.1 %d %s 0 5000",
                                H.node[dst].r.port, other);
    assert_non_null(m2);
    assert_int_equal(m2->type, REDIS_REPLY_STATUS);
    freeReplyObject(m2);

    /* The slot is handed over (target first, as the specification says);
     * chunk C meets MOVED at the source. */
    for (int i = 0; i < H.n; i++)
        if (i == dst || i == src || ch_replica_of(&H, 0, i) >= 0)
            admin_ok(i, "CLUSTER SETSLOT %u NODE %s", slot, H.node[dst].id);
    for (int i = 2 * CHUNK; i < TOTAL; i++) {
        pushes[i] = run->n;
        rpush(c, run, recs, key, i);
        if (i % 10 == 0) {
            incrs[nincr++] = run->n;
            issue(c, run, recs, other, 2, incr);
        }
    }
    assert_true(run_until(&loop, &run->done, run->n, 10000));
    cluster_stats(c, &st);
    assert_true(st.moved > 0);
    print_message("migration: %" PRIu64 " ASK, %" PRIu64 " MOVED, %" PRIu64
                  " replies kept back, %" PRIu64 " sent for %d commands\n",
                  st.ask, st.moved, st.early, st.sent, run->n);

    if (run->failed || run->errors)
        fail_msg("%d failed, %d errors: %s", run->failed, run->errors,
                 run->errtext);
    assert_int_equal(run->misordered, 0);
    assert_counted_in_order(run, pushes, TOTAL);
    assert_counted_in_order(run, incrs, nincr);
    assert_list(dst, key, TOTAL);
    char addr[64], want[64];
    assert_int_equal(cluster_key_addr(c, key, strlen(key), addr,
                                      sizeof(addr)), 0);
    snprintf(want, sizeof(want), "127.0.0.1:%d", H.node[dst].r.port);
    assert_string_equal(addr, want);

    client_free(&loop, c);
    run_free(run);
    free(run);
    free(recs);
}

/* Waits until node i's replication link to its primary is up. */
static bool replica_synced(int i, int timeout_ms)
{
    long long deadline = harness_now_ms() + timeout_ms;
    for (;;) {
        redisReply *r = ch_command(&H, i, "INFO replication");
        bool up = r && r->type == REDIS_REPLY_STRING &&
                  strstr(r->str, "master_link_status:up");
        freeReplyObject(r);
        if (up)
            return true;
        if (harness_now_ms() >= deadline)
            return false;
        harness_pause_ms(20);
    }
}

static void test_failover(void **state)
{
    enum { BEFORE = 100, AFTER = 200 };
    const char *key = "{fo}list", *key2 = "{fo}after";
    unsigned slot = slot_of(key);
    int m = ch_slot_owner(&H, 0, slot);
    assert_true(m >= 0);
    int rep = ch_replica_of(&H, m == 0 ? 1 : 0, m);
    assert_true(rep >= 0);
    assert_true(replica_synced(rep, 10000));

    uv_loop_t loop;
    struct run *run = malloc(sizeof(*run));
    struct rec *recs = calloc(BEFORE + AFTER, sizeof(*recs));
    assert_non_null(run);
    assert_non_null(recs);
    uv_loop_init(&loop);
    run_init(run, BEFORE + AFTER);
    struct cluster *c = client(&loop, 30000);
    for (int i = 0; i < BEFORE; i++)
        rpush(c, run, recs, key, i);
    assert_true(run_until(&loop, &run->done, BEFORE, 10000));
    assert_int_equal(run->failed + run->errors, 0);

    /* The primary dies; commands issued now can only run on the replica
     * once it is promoted, so each runs exactly once, in order. */
    ch_kill(&H, m);
    long long killed_ms = harness_now_ms();
    for (int i = 0; i < AFTER; i++)
        rpush(c, run, recs, key2, i);
    assert_true(run_until(&loop, &run->done, BEFORE + AFTER, 30000));
    struct cluster_stats st;
    cluster_stats(c, &st);
    print_message("failover followed: %d commands answered %lld ms after "
                  "the kill; %" PRIu64 " lost on the connection, %" PRIu64
                  " CLUSTERDOWN, %" PRIu64 " MOVED, %" PRIu64 " tables\n",
                  AFTER, harness_now_ms() - killed_ms, st.conn_lost,
                  st.clusterdown, st.moved, st.refreshes);
    if (run->failed || run->errors)
        fail_msg("%d failed, %d errors: %s", run->failed, run->errors,
                 run->errtext);
    assert_int_equal(run->misordered, 0);
    int after[AFTER];
    for (int k = 0; k < AFTER; k++)
        after[k] = BEFORE + k;
    assert_counted_in_order(run, after, AFTER);
    assert_list(rep, key2, AFTER);
    assert_true(st.conn_lost > 0);
    assert_true(st.refreshes > 1);
    char addr[64], want[64];
    assert_int_equal(cluster_key_addr(c, key, strlen(key), addr,
                                      sizeof(addr)), 0);
    snprintf(want, sizeof(want), "127.0.0.1:%d", H.node[rep].r.port);
    assert_string_equal(addr, want);

    client_free(&loop, c);
    run_free(run);
    free(run);
    free(recs);
}

int main(void)
{
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_crc16),
        cmocka_unit_test(test_hash_tags),
        cmocka_unit_test(test_slots_parse),
        cmocka_unit_test(test_slots_parse_hosts_and_gaps),
        cmocka_unit_test(test_slots_parse_malformed),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_gives_up_without_cluster),
    };
    const struct CMUnitTest live[] = {
        cmocka_unit_test(test_keyslot_matches_redis),
        cmocka_unit_test(test_many_slots),
        cmocka_unit_test(test_migration_ask_then_moved),
        cmocka_unit_test(test_failover),            /* last: kills a node */
    };
    int failed = cmocka_run_group_tests_name("cluster (pure)", pure, NULL,
                                             NULL);
    failed += cmocka_run_group_tests_name("cluster (real)", live,
                                          group_setup, group_teardown);
    return failed ? 1 : 0;
}
