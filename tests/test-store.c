/* test-store.c -- the Redis store: batch building (pure) and the store
 * against a real redis-server (tests/redis-harness.c starts one per test
 * on a free loopback port and stops it).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <uv.h>

#include "redis-harness.h"
#include "store-peek.h"
#include "router.h"
#include "store.h"
#include "storebatch.h"

/* ---------------------------------------------------------------- */
/* helpers */

static uint64_t mono_ms(void)
{
    return uv_hrtime() / 1000000;
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct ctx {
    enum store_role role;
    char owner[300];
    int roles;
    int resets;
    int nagents;
    char agents[16][64];
    int astate[16];
    char areason[16][64];
    char aowner[16][64];
    char aprincipal[16][64];
    int ncontacts;
    char contacts[64][64];
    int cstate[64];
    char cqueue[64][64];
    char cagent[64][64];
    char cowner[64][64];
    char cprincipal[64][64];
    uint64_t cms[64];
    int role_at_load;              /* role when the first load hook ran */
    int ok, fail;                  /* barrier results */
};

static void h_role(void *arg, enum store_role role, const char *owner)
{
    struct ctx *c = arg;
    c->role = role;
    snprintf(c->owner, sizeof(c->owner), "%s", owner ? owner : "");
    c->roles++;
}

static void h_agent(void *arg, const uint8_t *login, size_t len, int state,
                    const char *reason, const char *owner,
                    const char *principal)
{
    struct ctx *c = arg;
    if (c->nagents == 0 && c->ncontacts == 0)
        c->role_at_load = c->role;
    int i = c->nagents++;
    snprintf(c->agents[i], 64, "%.*s", (int)len, (const char *)login);
    c->astate[i] = state;
    snprintf(c->areason[i], 64, "%s", reason ? reason : "");
    assert_non_null(owner);
    assert_non_null(principal);
    snprintf(c->aowner[i], 64, "%s", owner);
    snprintf(c->aprincipal[i], 64, "%s", principal);
}

static void h_contact(void *arg, const uint8_t *arrived, size_t len,
                      uint64_t ms, int state, const char *queue,
                      const char *agent, const char *owner,
                      const char *principal)
{
    struct ctx *c = arg;
    if (c->nagents == 0 && c->ncontacts == 0)
        c->role_at_load = c->role;
    int i = c->ncontacts++;
    snprintf(c->contacts[i], 64, "%.*s", (int)len, (const char *)arrived);
    c->cstate[i] = state;
    snprintf(c->cqueue[i], 64, "%s", queue ? queue : "");
    snprintf(c->cagent[i], 64, "%s", agent ? agent : "");
    assert_non_null(owner);
    assert_non_null(principal);
    snprintf(c->cowner[i], 64, "%s", owner);
    snprintf(c->cprincipal[i], 64, "%s", principal);
    c->cms[i] = ms;
}

static void h_reset(void *arg)
{
    ((struct ctx *)arg)->resets++;
}

static void barrier_cb(void *arg, int status)
{
    struct ctx *c = arg;
    if (status == 0)
        c->ok++;
    else
        c->fail++;
}

static struct store_hooks hooks_for(struct ctx *c)
{
    struct store_hooks h = {
        .arg = c, .on_role = h_role, .load_agent = h_agent,
        .load_contact = h_contact, .on_reset = h_reset,
    };
    return h;
}

/* The layout the store tests run on (main runs them on both). */
static enum store_layout layout = STORE_LAYOUT_HASHES;

static struct store_config cfg_for(const struct rh *h, const char *addr)
{
    struct store_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.enabled = true;
    cfg.layout = layout;
    cfg.snapshot_every = 10000;
    snprintf(cfg.host, sizeof(cfg.host), "127.0.0.1");
    cfg.port = h->port;
    snprintf(cfg.tenant, sizeof(cfg.tenant), "t1");
    cfg.lease_ms = 600;
    cfg.renew_ms = 150;
    cfg.reconnect_min_ms = 20;
    cfg.reconnect_max_ms = 200;
    cfg.connect_timeout_ms = 500;
    cfg.command_timeout_ms = 1000;
    snprintf(cfg.advertise, sizeof(cfg.advertise), "%s", addr);
    return cfg;
}

/* Runs the loop (store_flush every turn, as the engine does) until
 * *flag becomes true or timeout_ms passes. Returns the flag. */
static bool run_until(uv_loop_t *loop, struct store **ss, int ns,
                      bool (*pred)(void *), void *arg, int timeout_ms)
{
    uint64_t end = mono_ms() + (uint64_t)timeout_ms;
    while (mono_ms() < end) {
        for (int i = 0; i < ns; i++)
            if (ss[i])
                store_flush(ss[i]);
        uv_run(loop, UV_RUN_NOWAIT);
        if (pred && pred(arg))
            return true;
        usleep(1000);
    }
    return pred ? pred(arg) : true;
}

static bool is_owner(void *arg) { return ((struct ctx *)arg)->role == STORE_ROLE_OWNER; }
static bool is_standby(void *arg) { return ((struct ctx *)arg)->role == STORE_ROLE_STANDBY; }
static bool is_suspended(void *arg) { return ((struct ctx *)arg)->role == STORE_ROLE_SUSPENDED; }
static bool barrier_done(void *arg) { struct ctx *c = arg; return c->ok + c->fail > 0; }

static bool stopped_flag;
static void on_stopped(void *arg) { (void)arg; stopped_flag = true; }
static bool is_stopped(void *arg) { (void)arg; return stopped_flag; }

static void stop_store(uv_loop_t *loop, struct store *s)
{
    stopped_flag = false;
    store_stop(s, on_stopped, NULL);
    run_until(loop, NULL, 0, is_stopped, NULL, 3000);
    assert_true(stopped_flag);
    store_free(s);
}

static void drain_loop(uv_loop_t *loop)
{
    for (int i = 0; i < 20; i++)
        uv_run(loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(loop), 0);
}

static redisContext *rc(const struct rh *h)
{
    redisContext *c = redisConnect("127.0.0.1", h->port);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    return c;
}

static redisReply *cmd(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    return r;
}

static long long cmd_int(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    long long v = -1;
    if (r->type == REDIS_REPLY_INTEGER)
        v = r->integer;
    else if (r->type == REDIS_REPLY_STRING)
        v = atoll(r->str);
    freeReplyObject(r);
    return v;
}

static void cmd_str(redisContext *c, char *out, size_t len, const char *fmt,
                    ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    if (r->type == REDIS_REPLY_STRING)
        snprintf(out, len, "%.*s", (int)r->len, r->str);
    else
        snprintf(out, len, "(nil)");
    freeReplyObject(r);
}

static int setup_redis(void **state)
{
    struct rh *h = calloc(1, sizeof(*h));
    if (!h || rh_start(h) < 0) {
        fprintf(stderr, "cannot start redis-server\n");
        free(h);
        return -1;
    }
    *state = h;
    return 0;
}

static int teardown_redis(void **state)
{
    struct rh *h = *state;
    rh_free(h);
    free(h);
    return 0;
}

/* ---------------------------------------------------------------- */
/* pure: keys and batches */

static void test_keys(void **state)
{
    char k[64];
    assert_int_equal(storebatch_key(k, sizeof(k), "acme", "lease"),
                     strlen("ccr:{acme}:lease"));
    assert_string_equal(k, "ccr:{acme}:lease");
    storebatch_key(k, sizeof(k), "acme", "");
    assert_string_equal(k, "ccr:{acme}:");
    /* truncated but terminated */
    char small[8];
    assert_int_equal(storebatch_key(small, sizeof(small), "acme", "lease"),
                     16);
    assert_string_equal(small, "ccr:{ac");
}

static void expect_args(const struct storebatch *b, size_t from,
                        const char *const *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *a = storebatch_arg(b, from + i, &len);
        assert_non_null(a);
        assert_int_equal(len, strlen(want[i]));
        assert_memory_equal(a, want[i], len);
    }
}

/* The final-state table: one op per key, none for a key that came and
 * went within the batch. */
static void test_coalesce(void **state)
{
    (void)state;
    struct storestate t;
    struct storebatch b;
    storestate_init(&t);
    storebatch_init(&b);
    /* c1 arrives, is offered, assigned and completes: nothing */
    assert_int_equal(storestate_contact_arrived(&t, "c1",
                     (const uint8_t *)"P1", 2, 1000, 1000000, "sw", "acme"), 0);
    storestate_contact_state(&t, "c1", 1, "sales", "", 0);
    storestate_contact_state(&t, "c1", 2, "sales", "a1", 1234);
    storestate_contact_state(&t, "c1", 3, "sales", "a1", 0);
    storestate_contact_gone(&t, "c1");
    /* c2 arrives and is offered: one N with the final state */
    storestate_contact_arrived(&t, "c2", (const uint8_t *)"P2", 2, 1001,
                               1001000, "sw", "acme");
    storestate_contact_state(&t, "c2", 1, "sales", "", 0);
    storestate_contact_state(&t, "c2", 2, "sales", "a2", 99);
    /* c0 (stored before) changes twice, c9 (stored before) leaves */
    storestate_contact_state(&t, "c0", 2, "sales", "a1", 5);
    storestate_contact_state(&t, "c0", 3, "sales", "a1", 0);
    storestate_contact_gone(&t, "c9");
    /* a1 flips three times: one a; a2 logs in: one G; a3 in and out:
     * nothing; a4 (stored before) logs out: o */
    storestate_agent_state(&t, "a1", 2, "lunch", 10);
    storestate_agent_state(&t, "a1", 1, "", 11);
    storestate_agent_state(&t, "a1", 3, "", 12);
    storestate_agent_login(&t, "a2", (const uint8_t *)"LOG", 3, "desk",
                           "desks");
    storestate_agent_state(&t, "a2", 1, "", 13);
    storestate_agent_login(&t, "a3", (const uint8_t *)"L3", 2, "desk", NULL);
    storestate_agent_state(&t, "a3", 1, "", 14);
    storestate_agent_logout(&t, "a3");
    storestate_agent_logout(&t, "a4");
    assert_int_equal(storestate_emit(&t, &b), 6);
    assert_int_equal(t.n, 0);
    size_t len, i = 0;
    const char *a = storebatch_arg(&b, i, &len);
    assert_memory_equal(a, "N", 1);                       /* c2 */
    assert_memory_equal(storebatch_arg(&b, i + 1, &len), "c2", 2);
    assert_memory_equal(storebatch_arg(&b, i + 5, &len), "sw", 2);
    assert_memory_equal(storebatch_arg(&b, i + 6, &len), "acme", 4);
    assert_memory_equal(storebatch_arg(&b, i + 7, &len), "2", 1);
    assert_memory_equal(storebatch_arg(&b, i + 9, &len), "a2", 2);
    assert_memory_equal(storebatch_arg(&b, i + 10, &len), "99", 2);
    i += 11;
    assert_memory_equal(storebatch_arg(&b, i, &len), "c", 1);  /* c0 */
    assert_memory_equal(storebatch_arg(&b, i + 2, &len), "3", 1);
    i += 6;
    assert_memory_equal(storebatch_arg(&b, i, &len), "x", 1);  /* c9 */
    assert_memory_equal(storebatch_arg(&b, i + 1, &len), "c9", 2);
    i += 3;
    assert_memory_equal(storebatch_arg(&b, i, &len), "a", 1);  /* a1 */
    assert_memory_equal(storebatch_arg(&b, i + 2, &len), "3", 1);
    assert_memory_equal(storebatch_arg(&b, i + 4, &len), "12", 2);
    i += 5;
    assert_memory_equal(storebatch_arg(&b, i, &len), "G", 1);  /* a2 */
    assert_memory_equal(storebatch_arg(&b, i + 2, &len), "LOG", 3);
    assert_memory_equal(storebatch_arg(&b, i + 3, &len), "desk", 4);
    i += 8;
    assert_memory_equal(storebatch_arg(&b, i, &len), "o", 1);  /* a4 */
    i += 2;
    assert_int_equal(i, b.nargs);
    /* reset per batch: the same ids start afresh, many keys grow it */
    storebatch_reset(&b);
    char id[16];
    for (int k = 0; k < 5000; k++) {
        snprintf(id, sizeof(id), "k%d", k);
        storestate_contact_state(&t, id, 1, "q", "", 0);
        storestate_contact_state(&t, id, 2, "q", "a", 7);
    }
    assert_int_equal(t.n, 5000);
    assert_int_equal(storestate_emit(&t, &b), 5000);
    assert_int_equal(b.nops, 5000);
    storebatch_free(&b);
    storestate_free(&t);
}

static void test_batch_ops(void **state)
{
    struct storebatch b;
    storebatch_init(&b);
    assert_int_equal(storebatch_contact_arrived(&b, "c1",
                         (const uint8_t *)"\x0a\x00z", 3, 1700000000123ULL,
                         1700000000123001ULL, "sw1", NULL), 0);
    assert_int_equal(storebatch_contact_state(&b, "c1", 2, "sales", "a1",
                                              99), 0);
    assert_int_equal(storebatch_contact_gone(&b, "c1", 4), 0);
    assert_int_equal(storebatch_agent_login(&b, "a1",
                         (const uint8_t *)"L", 1, "desk-1", NULL), 0);
    assert_int_equal(storebatch_agent_state(&b, "a1", 2, "lunch", 5), 0);
    assert_int_equal(storebatch_agent_logout(&b, "a1"), 0);
    assert_int_equal(storebatch_event(&b, "offer", "c1", "a1", "sales", 7,
                                      NULL), 0);
    assert_int_equal(storebatch_queue(&b, "sales", 0), 0);
    assert_int_equal(b.nops, 8);
    assert_int_equal(b.nargs, 7 + 6 + 3 + 5 + 5 + 2 + 7 + 3);

    /* binary-safe: the NUL inside the packed message survives */
    size_t len;
    const char *a = storebatch_arg(&b, 2, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(a, "\x0a\x00z", 3);
    static const char *const w0[] = { "A", "c1" };
    expect_args(&b, 0, w0, 2);
    static const char *const w1[] = { "1700000000123", "1700000000123001",
                                      "sw1", "",
                                      "c", "c1", "2", "sales", "a1", "99",
                                      "x", "c1", "4", "L", "a1", "L",
                                      "desk-1", "",
                                      "a", "a1", "2", "lunch", "5",
                                      "o", "a1",
                                      "e", "offer", "c1", "a1", "sales", "7",
                                      "", "q", "sales", "0" };
    expect_args(&b, 3, w1, sizeof(w1) / sizeof(w1[0]));
    assert_null(storebatch_arg(&b, b.nargs, &len));

    /* the full command: EVALSHA sha 3 keys header ops */
    size_t argc = storebatch_argc(&b);
    assert_int_equal(argc, 10 + b.nargs);
    const char **argv = calloc(argc, sizeof(*argv));
    size_t *argvlen = calloc(argc, sizeof(*argvlen));
    const char *keys[3] = { "ccr:{t}:lease", "ccr:{t}:fence",
                            "ccr:{t}:applied" };
    storebatch_command(&b, "abc", keys, "ccr:{t}:", "5", "12", "1000", argv,
                       argvlen);
    static const char *const hdr[] = { "EVALSHA", "abc", "3",
                                       "ccr:{t}:lease", "ccr:{t}:fence",
                                       "ccr:{t}:applied", "ccr:{t}:", "5",
                                       "12", "1000", "A", "c1" };
    for (size_t i = 0; i < 12; i++) {
        assert_int_equal(argvlen[i], strlen(hdr[i]));
        assert_memory_equal(argv[i], hdr[i], argvlen[i]);
    }
    free(argv);
    free(argvlen);

    /* append moves ops; the source is left empty */
    struct storebatch c;
    storebatch_init(&c);
    storebatch_agent_logout(&c, "a9");
    assert_int_equal(storebatch_append(&b, &c), 0);
    assert_int_equal(c.nops, 0);
    assert_int_equal(c.nargs, 0);
    assert_int_equal(b.nops, 9);
    static const char *const w2[] = { "o", "a9" };
    expect_args(&b, b.nargs - 2, w2, 2);
    /* append into an empty batch swaps */
    storebatch_append(&c, &b);
    assert_int_equal(c.nops, 9);
    assert_int_equal(b.nops, 0);
    storebatch_reset(&c);
    assert_int_equal(c.nargs, 0);
    storebatch_free(&b);
    storebatch_free(&c);
}

static void test_memory_only(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct ctx c = { 0 };
    struct store_config cfg = { .enabled = false };
    struct store_hooks h = hooks_for(&c);
    struct store *s = store_new(&loop, &cfg, NULL, &h);
    assert_non_null(s);
    assert_int_equal(store_start(s), 0);
    assert_int_equal(c.role, STORE_ROLE_OWNER);
    assert_true(store_writable(s));
    assert_int_equal(store_contact_arrived(s, "c", (const uint8_t *)"x", 1,
                                           1, NULL, NULL), 0);
    assert_int_equal(store_barrier(s, barrier_cb, &c), 0);
    assert_int_equal(c.ok, 0);
    store_flush(s);
    assert_int_equal(c.ok, 1);
    stop_store(&loop, s);
    drain_loop(&loop);
}

/* ---------------------------------------------------------------- */
/* the scripts, called directly */

static redisReply *eval_batch(redisContext *c, const struct storebatch *b,
                              const char *token, const char *seq)
{
    size_t argc = storebatch_argc(b);
    const char **argv = calloc(argc, sizeof(*argv));
    size_t *argvlen = calloc(argc, sizeof(*argvlen));
    const char *keys[3] = { "ccr:{t1}:lease", "ccr:{t1}:fence",
                            "ccr:{t1}:applied" };
    storebatch_command(b, "x", keys, "ccr:{t1}:", token, seq, "100", argv,
                       argvlen);
    argv[0] = "EVAL";
    argv[1] = storebatch_script;
    argvlen[0] = 4;
    argvlen[1] = strlen(storebatch_script);
    redisReply *r = redisCommandArgv(c, (int)argc, argv, argvlen);
    free(argv);
    free(argvlen);
    assert_non_null(r);
    return r;
}

static void test_script_layout_and_fencing(void **state)
{
    struct rh *h = *state;
    redisContext *c = rc(h);
    freeReplyObject(cmd(c, "SET ccr:{t1}:fence 7"));
    freeReplyObject(cmd(c, "SET ccr:{t1}:lease 7|engine-a:7000"));
    /* the generation marker a term starts with (lease script) */
    freeReplyObject(cmd(c, "SET ccr:{t1}:applied 7:0"));

    struct storebatch b;
    storebatch_init(&b);
    storebatch_contact_arrived(&b, "c2", (const uint8_t *)"P2", 2, 1000123,
                               1000001, NULL, NULL);
    storebatch_contact_arrived(&b, "c1", (const uint8_t *)"P1", 2, 1000000,
                               1000000, "pbx-1", NULL);
    storebatch_contact_state(&b, "c1", 2, "sales", "a1", 1234);
    storebatch_agent_login(&b, "a1", (const uint8_t *)"LOGIN", 5, "desk-1", NULL);
    storebatch_agent_state(&b, "a1", 1, "", 900);
    storebatch_event(&b, "offer", "c1", "a1", "sales", 1000, "1234");
    storebatch_contact_arrived(&b, "c3", (const uint8_t *)"P3", 2, 1001000,
                               1001000, NULL, NULL);
    storebatch_contact_gone(&b, "c3", 5);
    storebatch_queue(&b, "sales", 0);
    redisReply *r = eval_batch(c, &b, "7", "1");
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_int_equal(r->integer, 9);
    freeReplyObject(r);

    char v[64];
    cmd_str(c, v, sizeof(v), "HGET ccr:{t1}:contact:c1 arrived");
    assert_string_equal(v, "P1");
    cmd_str(c, v, sizeof(v), "HGET ccr:{t1}:contact:c1 state");
    assert_string_equal(v, "2");
    cmd_str(c, v, sizeof(v), "HGET ccr:{t1}:contact:c1 agent");
    assert_string_equal(v, "a1");
    cmd_str(c, v, sizeof(v), "HGET ccr:{t1}:contact:c1 queue");
    assert_string_equal(v, "sales");
    cmd_str(c, v, sizeof(v), "HGET ccr:{t1}:contact:c1 deadline_ms");
    assert_string_equal(v, "1234");
    cmd_str(c, v, sizeof(v), "HGET ccr:{t1}:contact:c2 arrived_ms");
    assert_string_equal(v, "1000");
    cmd_str(c, v, sizeof(v), "HGET ccr:{t1}:contact:c2 arrived_us");
    assert_string_equal(v, "1000123");
    cmd_str(c, v, sizeof(v), "HGET ccr:{t1}:contact:c2 seq");
    assert_string_equal(v, "1000001");
    cmd_str(c, v, sizeof(v), "HGET ccr:{t1}:contact:c1 owner");
    assert_string_equal(v, "pbx-1");
    cmd_str(c, v, sizeof(v), "HGET ccr:{t1}:contact:c2 owner");
    assert_string_equal(v, "");                /* no owner: empty */
    r = cmd(c, "ZRANGE ccr:{t1}:contacts 0 -1");
    assert_int_equal(r->elements, 2);          /* c3 is gone */
    assert_string_equal(r->element[0]->str, "c1");
    assert_string_equal(r->element[1]->str, "c2");
    freeReplyObject(r);
    assert_int_equal(cmd_int(c, "EXISTS ccr:{t1}:contact:c3"), 0);
    cmd_str(c, v, sizeof(v), "HGET ccr:{t1}:agent:a1 login");
    assert_string_equal(v, "LOGIN");
    cmd_str(c, v, sizeof(v), "HGET ccr:{t1}:agent:a1 owner");
    assert_string_equal(v, "desk-1");
    assert_int_equal(cmd_int(c, "SISMEMBER ccr:{t1}:agents a1"), 1);
    assert_int_equal(cmd_int(c, "XLEN ccr:{t1}:events"), 1);
    cmd_str(c, v, sizeof(v), "HGET ccr:{t1}:queues sales");
    assert_string_equal(v, "0");
    r = cmd(c, "XRANGE ccr:{t1}:events - +");
    assert_int_equal(r->elements, 1);
    redisReply *f = r->element[0]->element[1];
    assert_int_equal(f->elements, 14);
    assert_string_equal(f->element[0]->str, "type");
    assert_string_equal(f->element[1]->str, "offer");
    assert_string_equal(f->element[12]->str, "token");
    assert_string_equal(f->element[13]->str, "7");
    freeReplyObject(r);

    /* the same batch again (resend after a reconnect): applied once */
    r = eval_batch(c, &b, "7", "1");
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_int_equal(r->integer, 0);
    freeReplyObject(r);
    assert_int_equal(cmd_int(c, "XLEN ccr:{t1}:events"), 1);

    /* a stale token is refused and changes nothing */
    storebatch_reset(&b);
    storebatch_contact_gone(&b, "c1", 4);
    r = eval_batch(c, &b, "6", "2");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_memory_equal(r->str, "FENCED", 6);
    freeReplyObject(r);
    assert_int_equal(cmd_int(c, "EXISTS ccr:{t1}:contact:c1"), 1);

    /* a lapsed lease nobody took since still belongs to its token */
    freeReplyObject(cmd(c, "DEL ccr:{t1}:lease"));
    r = eval_batch(c, &b, "7", "2");
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    assert_int_equal(cmd_int(c, "EXISTS ccr:{t1}:contact:c1"), 0);
    /* ... but not once the fence moved on */
    freeReplyObject(cmd(c, "INCR ccr:{t1}:fence"));
    r = eval_batch(c, &b, "7", "3");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);

    storebatch_free(&b);
    redisFree(c);
}

/* The generation checks of the batch script: a missing marker or a fence
 * counter below the token is LOST (nothing applied), a batch whose
 * predecessor was not applied is a GAP (so that it is never skipped as a
 * duplicate later), and a rewrite (op Z first) needs no marker and clears
 * the state before writing it. */
static void test_script_generation(void **state)
{
    struct rh *h = *state;
    redisContext *c = rc(h);
    struct storebatch b;
    storebatch_init(&b);
    storebatch_contact_arrived(&b, "c1", (const uint8_t *)"P1", 2, 5000, 1,
                               NULL, NULL);
    freeReplyObject(cmd(c, "SET ccr:{t1}:fence 3"));
    freeReplyObject(cmd(c, "SET ccr:{t1}:lease 3|engine-a:7000"));
    redisReply *r = eval_batch(c, &b, "3", "1");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_memory_equal(r->str, "LOST", 4);          /* no marker */
    freeReplyObject(r);
    assert_int_equal(cmd_int(c, "EXISTS ccr:{t1}:contact:c1"), 0);
    freeReplyObject(cmd(c, "SET ccr:{t1}:applied 3:0"));
    r = eval_batch(c, &b, "3", "2");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_memory_equal(r->str, "GAP", 3);           /* batch 1 missing */
    freeReplyObject(r);
    assert_int_equal(cmd_int(c, "EXISTS ccr:{t1}:contact:c1"), 0);
    r = eval_batch(c, &b, "3", "1");
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    assert_int_equal(cmd_int(c, "EXISTS ccr:{t1}:contact:c1"), 1);
    /* the fence counter went back below the token: LOST, not FENCED */
    freeReplyObject(cmd(c, "DEL ccr:{t1}:lease ccr:{t1}:fence"));
    r = eval_batch(c, &b, "3", "2");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_memory_equal(r->str, "LOST", 4);
    freeReplyObject(r);
    /* a rewrite: Z clears, then the state; the marker starts again */
    freeReplyObject(cmd(c, "SET ccr:{t1}:fence 3"));
    freeReplyObject(cmd(c, "DEL ccr:{t1}:applied"));
    freeReplyObject(cmd(c, "HSET ccr:{t1}:contact:old arrived x"));
    freeReplyObject(cmd(c, "ZADD ccr:{t1}:contacts 0 old"));
    storebatch_reset(&b);
    assert_int_equal(storebatch_clear(&b), 0);
    storebatch_contact_new(&b, "c9", (const uint8_t *)"P9", 2, 7000, 9, "o", "p",
                           1, "sales", "", 0);
    r = eval_batch(c, &b, "3", "7");
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_int_equal(r->integer, 2);
    freeReplyObject(r);
    assert_int_equal(cmd_int(c, "EXISTS ccr:{t1}:contact:old"), 0);
    assert_int_equal(cmd_int(c, "EXISTS ccr:{t1}:contact:c1"), 0);
    assert_int_equal(cmd_int(c, "ZCARD ccr:{t1}:contacts"), 1);
    char v[64];
    cmd_str(c, v, sizeof(v), "GET ccr:{t1}:applied");
    assert_string_equal(v, "3:7");
    cmd_str(c, v, sizeof(v), "HGET ccr:{t1}:contact:c9 seq");
    assert_string_equal(v, "9");
    cmd_str(c, v, sizeof(v), "HGET ccr:{t1}:contact:c9 arrived_ms");
    assert_string_equal(v, "7");
    storebatch_free(&b);
    redisFree(c);
}

/* ---------------------------------------------------------------- */
/* the store on a loop against the real server */

static void test_write_and_barrier(void **state)
{
    struct rh *h = *state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct ctx c = { 0 };
    struct store_config cfg = cfg_for(h, "engine-a:7000");
    struct store_hooks hk = hooks_for(&c);
    struct store *s = store_new(&loop, &cfg, NULL, &hk);
    assert_int_equal(store_start(s), 0);
    assert_true(run_until(&loop, &s, 1, is_owner, &c, 3000));
    assert_string_equal(c.owner, "engine-a:7000");

    uint64_t now = wall_ms();
    assert_int_equal(store_contact_arrived(s, "c1", (const uint8_t *)"C1",
                                           2, now, NULL, NULL), 0);
    assert_int_equal(store_contact_arrived(s, "c2", (const uint8_t *)"C2",
                                           2, now, NULL, NULL), 0);
    assert_int_equal(store_agent_login(s, "a1", (const uint8_t *)"A1", 2,
                                       NULL, NULL),
                     0);
    assert_int_equal(store_barrier(s, barrier_cb, &c), 0);
    store_flush(s);
    /* sent, not confirmed yet: durability redis waits for the reply */
    assert_int_equal(c.ok, 0);
    struct store_stats st;
    store_stats(s, &st);
    assert_int_equal(st.pending_ops, 3);
    assert_true(run_until(&loop, &s, 1, barrier_done, &c, 3000));
    assert_int_equal(c.ok, 1);

    redisContext *rcx = rc(h);
    char v[64];
    peek_field(rcx, "t1", 'c', "c2", "arrived", v, sizeof(v));
    assert_string_equal(v, "C2");
    struct peek *pk = peek_read(rcx, "t1");
    assert_int_equal(pk->layout, layout == STORE_LAYOUT_JOURNAL ? 'j' : 'h');
    assert_int_equal(peek_count(pk, 'c'), 2);
    /* same ms: order kept */
    assert_string_equal(peek_nth(pk, 'c', 0)->id, "c1");
    assert_string_equal(peek_nth(pk, 'c', 1)->id, "c2");
    assert_string_equal(peek_get(peek_nth(pk, 'c', 0), "owner", NULL), "");
    peek_free(pk);
    peek_field(rcx, "t1", 'a', "a1", "login", v, sizeof(v));
    assert_string_equal(v, "A1");
    cmd_str(rcx, v, sizeof(v), "GET ccr:{t1}:lease");
    assert_string_equal(v, "1|engine-a:7000");

    store_stats(s, &st);
    assert_int_equal(st.pending_ops, 0);
    assert_int_equal(st.batches_confirmed, st.batches_sent);
    assert_int_equal(st.token, 1);

    /* a barrier with nothing pending fires at the next flush */
    assert_int_equal(store_barrier(s, barrier_cb, &c), 0);
    store_flush(s);
    assert_int_equal(c.ok, 2);

    /* stop releases the lease */
    stop_store(&loop, s);
    assert_int_equal(cmd_int(rcx, "EXISTS ccr:{t1}:lease"), 0);
    redisFree(rcx);
    drain_loop(&loop);
}

static void test_memory_durability(void **state)
{
    struct rh *h = *state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct ctx c = { 0 };
    struct store_config cfg = cfg_for(h, "engine-a:7000");
    cfg.durability = STORE_DURABILITY_MEMORY;
    struct store_hooks hk = hooks_for(&c);
    struct store *s = store_new(&loop, &cfg, NULL, &hk);
    store_start(s);
    assert_true(run_until(&loop, &s, 1, is_owner, &c, 3000));
    store_contact_arrived(s, "c1", (const uint8_t *)"C1", 2, wall_ms(), NULL, NULL);
    assert_int_equal(store_barrier(s, barrier_cb, &c), 0);
    store_flush(s);
    assert_int_equal(c.ok, 1);          /* at the flush, not at the reply */
    struct store_stats st;
    store_stats(s, &st);
    assert_int_equal(st.pending_ops, 1);
    stop_store(&loop, s);
    redisContext *rcx = rc(h);
    assert_int_equal(peek_has(rcx, "t1", 'c', "c1"), 1);
    redisFree(rcx);
    drain_loop(&loop);
}

static void test_fenced(void **state)
{
    struct rh *h = *state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct ctx c = { 0 };
    struct store_config cfg = cfg_for(h, "engine-a:7000");
    cfg.renew_ms = 5000;                /* no renewal during the test */
    cfg.lease_ms = 20000;
    struct store_hooks hk = hooks_for(&c);
    struct store *s = store_new(&loop, &cfg, NULL, &hk);
    store_start(s);
    assert_true(run_until(&loop, &s, 1, is_owner, &c, 3000));

    /* another engine takes the tenant behind our back */
    redisContext *rcx = rc(h);
    freeReplyObject(cmd(rcx, "INCR ccr:{t1}:fence"));
    freeReplyObject(cmd(rcx, "SET ccr:{t1}:lease 2|engine-b:7001"));

    store_contact_arrived(s, "c1", (const uint8_t *)"C1", 2, wall_ms(), NULL, NULL);
    assert_int_equal(store_barrier(s, barrier_cb, &c), 0);
    assert_true(run_until(&loop, &s, 1, barrier_done, &c, 3000));
    assert_int_equal(c.fail, 1);        /* the write was refused */
    assert_int_equal(c.ok, 0);
    assert_true(run_until(&loop, &s, 1, is_standby, &c, 3000));
    assert_int_equal(c.resets, 1);
    /* it learns the owner's address for NOT_OWNER */
    uint64_t end = mono_ms() + 3000;
    while (strcmp(c.owner, "engine-b:7001") != 0 && mono_ms() < end)
        run_until(&loop, &s, 1, NULL, NULL, 20);
    assert_string_equal(c.owner, "engine-b:7001");
    assert_string_equal(store_owner_addr(s), "engine-b:7001");
    assert_int_equal(peek_has(rcx, "t1", 'c', "c1"), 0);
    /* a standby writes nothing */
    assert_int_equal(store_contact_arrived(s, "c9", (const uint8_t *)"x", 1,
                                           1, NULL, NULL), STORE_ENOTOWNER);
    assert_int_equal(store_barrier(s, barrier_cb, &c), STORE_ENOTOWNER);
    redisFree(rcx);
    stop_store(&loop, s);
    drain_loop(&loop);
}

static void test_recovery_order(void **state)
{
    struct rh *h = *state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct ctx a = { 0 };
    struct store_config cfg = cfg_for(h, "engine-a:7000");
    struct store_hooks hk = hooks_for(&a);
    struct store *s = store_new(&loop, &cfg, NULL, &hk);
    store_start(s);
    assert_true(run_until(&loop, &s, 1, is_owner, &a, 3000));
    uint64_t t = wall_ms() - 10000;
    /* c5 .. c1 spread over time, c10..c13 in one millisecond */
    const char *ids[] = { "c5", "c4", "c3", "c2", "c1", "c10", "c11", "c12",
                          "c13" };
    for (int i = 0; i < 9; i++)
        store_contact_arrived(s, ids[i], (const uint8_t *)ids[i],
                              strlen(ids[i]), t + (i < 5 ? (uint64_t)i : 5),
                              NULL, NULL);
    store_agent_login(s, "b-agent", (const uint8_t *)"b-agent", 7, NULL, NULL);
    store_agent_login(s, "a-agent", (const uint8_t *)"a-agent", 7, NULL, NULL);
    store_barrier(s, barrier_cb, &a);
    assert_true(run_until(&loop, &s, 1, barrier_done, &a, 3000));
    assert_int_equal(a.ok, 1);
    stop_store(&loop, s);

    /* the states a router would have written */
    redisContext *rcx = rc(h);
    freeReplyObject(cmd(rcx, "HSET ccr:{t1}:contact:c4 state 2 queue sales "
                             "agent a-agent deadline_ms 1"));
    freeReplyObject(cmd(rcx, "HSET ccr:{t1}:contact:c3 state 3 queue sales "
                             "agent b-agent"));
    freeReplyObject(cmd(rcx, "HSET ccr:{t1}:contact:c5 state 1 queue "
                             "support agent %s", ""));
    freeReplyObject(cmd(rcx, "HSET ccr:{t1}:agent:a-agent state 2 reason "
                             "lunch since_ms 5"));
    freeReplyObject(cmd(rcx, "HSET ccr:{t1}:agent:b-agent state 1"));
    /* an incomplete contact (state without the arrival) is skipped */
    freeReplyObject(cmd(rcx, "HSET ccr:{t1}:contact:zz state 1"));
    freeReplyObject(cmd(rcx, "ZADD ccr:{t1}:contacts 1 zz"));
    redisFree(rcx);

    struct ctx b = { 0 };
    cfg = cfg_for(h, "engine-b:7001");
    hk = hooks_for(&b);
    s = store_new(&loop, &cfg, NULL, &hk);
    store_start(s);
    assert_true(run_until(&loop, &s, 1, is_owner, &b, 3000));
    assert_int_equal(b.role_at_load, STORE_ROLE_NONE);  /* OWNER after */
    assert_int_equal(b.nagents, 2);
    assert_string_equal(b.agents[0], "a-agent");
    assert_int_equal(b.astate[0], 2);
    assert_string_equal(b.areason[0], "lunch");
    assert_string_equal(b.agents[1], "b-agent");
    assert_int_equal(b.astate[1], 1);
    assert_int_equal(b.ncontacts, 9);
    for (int i = 0; i < 9; i++)
        assert_string_equal(b.contacts[i], ids[i]);
    assert_int_equal(b.cms[0], t * 1000);   /* microseconds */
    assert_int_equal(b.cms[8], (t + 5) * 1000);
    assert_int_equal(b.cstate[0], 1);
    assert_string_equal(b.cqueue[0], "support");
    assert_string_equal(b.cagent[0], "");
    assert_int_equal(b.cstate[1], 2);
    assert_string_equal(b.cagent[1], "a-agent");
    assert_int_equal(b.cstate[2], 3);
    assert_string_equal(b.cagent[2], "b-agent");
    assert_int_equal(b.cstate[3], 1);    /* no state yet: queued */
    stop_store(&loop, s);
    drain_loop(&loop);
}

/* The owner (the client name of the connection that sent ContactArrived /
 * AgentLogin) and its principal go to Redis with the contact or agent and
 * come back to the load hooks of the next term; data without them (written
 * before owners or principals were stored) loads with "". */
static void test_owner_roundtrip(void **state)
{
    struct rh *h = *state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct ctx a = { 0 };
    struct store_config cfg = cfg_for(h, "engine-a:7000");
    struct store_hooks hk = hooks_for(&a);
    struct store *s = store_new(&loop, &cfg, NULL, &hk);
    store_start(s);
    assert_true(run_until(&loop, &s, 1, is_owner, &a, 3000));
    uint64_t t = wall_ms();
    assert_int_equal(store_contact_arrived(s, "c1", (const uint8_t *)"c1", 2,
                                           t, "pbx-1", "acme-pbx"), 0);
    assert_int_equal(store_contact_arrived(s, "c2", (const uint8_t *)"c2", 2,
                                           t + 1, "gw-7", NULL), 0);
    assert_int_equal(store_contact_arrived(s, "c3", (const uint8_t *)"c3", 2,
                                           t + 2, NULL, NULL), 0);
    assert_int_equal(store_agent_login(s, "a1", (const uint8_t *)"a1", 2,
                                       "desk-1", "desks"), 0);
    assert_int_equal(store_agent_login(s, "a2", (const uint8_t *)"a2", 2,
                                       "pbx-1", NULL), 0);
    store_barrier(s, barrier_cb, &a);
    assert_true(run_until(&loop, &s, 1, barrier_done, &a, 3000));
    assert_int_equal(a.ok, 1);
    stop_store(&loop, s);

    redisContext *rcx = rc(h);
    char v[64];
    cmd_str(rcx, v, sizeof(v), "HGET ccr:{t1}:contact:c1 owner");
    assert_string_equal(v, "pbx-1");
    cmd_str(rcx, v, sizeof(v), "HGET ccr:{t1}:contact:c1 principal");
    assert_string_equal(v, "acme-pbx");
    cmd_str(rcx, v, sizeof(v), "HGET ccr:{t1}:agent:a1 owner");
    assert_string_equal(v, "desk-1");
    cmd_str(rcx, v, sizeof(v), "HGET ccr:{t1}:agent:a1 principal");
    assert_string_equal(v, "desks");
    /* an agent and a contact as an engine without owners wrote them */
    freeReplyObject(cmd(rcx, "HSET ccr:{t1}:agent:a0 login a0 state 1"));
    freeReplyObject(cmd(rcx, "SADD ccr:{t1}:agents a0"));
    freeReplyObject(cmd(rcx, "HSET ccr:{t1}:contact:c4 arrived c4 "
                             "arrived_ms %llu state 1",
                        (unsigned long long)(t + 3)));
    freeReplyObject(cmd(rcx, "ZADD ccr:{t1}:contacts %llu c4",
                        (unsigned long long)(t + 3) * 1000));
    redisFree(rcx);

    struct ctx b = { 0 };
    cfg = cfg_for(h, "engine-b:7001");
    hk = hooks_for(&b);
    s = store_new(&loop, &cfg, NULL, &hk);
    store_start(s);
    assert_true(run_until(&loop, &s, 1, is_owner, &b, 3000));
    assert_int_equal(b.nagents, 3);
    assert_string_equal(b.agents[0], "a0");
    assert_string_equal(b.aowner[0], "");
    assert_string_equal(b.agents[1], "a1");
    assert_string_equal(b.aowner[1], "desk-1");
    assert_string_equal(b.aprincipal[1], "desks");
    assert_string_equal(b.agents[2], "a2");
    assert_string_equal(b.aowner[2], "pbx-1");
    assert_string_equal(b.aprincipal[2], "");
    assert_int_equal(b.ncontacts, 4);
    assert_string_equal(b.contacts[0], "c1");
    assert_string_equal(b.cowner[0], "pbx-1");
    assert_string_equal(b.cprincipal[0], "acme-pbx");
    assert_string_equal(b.contacts[1], "c2");
    assert_string_equal(b.cowner[1], "gw-7");
    assert_string_equal(b.cprincipal[1], "");
    assert_string_equal(b.contacts[2], "c3");
    assert_string_equal(b.cowner[2], "");
    assert_string_equal(b.contacts[3], "c4");
    assert_string_equal(b.cowner[3], "");
    assert_string_equal(b.cprincipal[3], "");
    assert_int_equal(b.cstate[3], 1);
    stop_store(&loop, s);
    drain_loop(&loop);
}

static void test_takeover(void **state)
{
    struct rh *h = *state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct ctx a = { 0 }, b = { 0 };
    struct store_config ca = cfg_for(h, "engine-a:7000");
    struct store_config cb = cfg_for(h, "engine-b:7001");
    struct store_hooks ha = hooks_for(&a), hb = hooks_for(&b);
    struct store *ss[2] = { NULL, NULL };
    ss[0] = store_new(&loop, &ca, NULL, &ha);
    store_start(ss[0]);
    assert_true(run_until(&loop, ss, 2, is_owner, &a, 3000));
    ss[1] = store_new(&loop, &cb, NULL, &hb);
    store_start(ss[1]);
    assert_true(run_until(&loop, ss, 2, is_standby, &b, 3000));
    assert_string_equal(b.owner, "engine-a:7000");
    store_contact_arrived(ss[0], "c1", (const uint8_t *)"c1", 2, wall_ms(),
                          NULL, NULL);
    store_barrier(ss[0], barrier_cb, &a);
    assert_true(run_until(&loop, ss, 2, barrier_done, &a, 3000));
    /* the owner keeps its lease while alive */
    run_until(&loop, ss, 2, NULL, NULL, 1500);
    assert_int_equal(a.role, STORE_ROLE_OWNER);
    assert_int_equal(b.role, STORE_ROLE_STANDBY);

    /* the owner dies without a word */
    store_free(ss[0]);
    ss[0] = NULL;
    uint64_t t0 = mono_ms();
    assert_true(run_until(&loop, ss, 2, is_owner, &b, 5000));
    uint64_t took = mono_ms() - t0;
    print_message("takeover after %llu ms (lease_ms %u, renew_ms %u)\n",
                  (unsigned long long)took, cb.lease_ms, cb.renew_ms);
    assert_true(took <= cb.lease_ms + cb.renew_ms + 300);
    assert_int_equal(b.ncontacts, 1);
    assert_string_equal(b.contacts[0], "c1");
    struct store_stats st;
    store_stats(ss[1], &st);
    assert_int_equal(st.token, 2);
    stop_store(&loop, ss[1]);
    drain_loop(&loop);
}

static bool is_writable_false(void *arg)
{
    return !store_writable(arg);
}

static void test_redis_restart(void **state)
{
    struct rh *h = *state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct ctx c = { 0 };
    struct store_config cfg = cfg_for(h, "engine-a:7000");
    cfg.max_pending = 8;
    cfg.lease_ms = 1000;
    cfg.renew_ms = 250;
    struct store_hooks hk = hooks_for(&c);
    struct store *s = store_new(&loop, &cfg, NULL, &hk);
    store_start(s);
    assert_true(run_until(&loop, &s, 1, is_owner, &c, 3000));
    store_contact_arrived(s, "c0", (const uint8_t *)"c0", 2, wall_ms(), NULL, NULL);
    store_barrier(s, barrier_cb, &c);
    assert_true(run_until(&loop, &s, 1, barrier_done, &c, 3000));

    rh_stop(h, false);
    /* writes during the outage are kept, up to the bound */
    char id[16];
    int accepted = 0;
    for (int i = 1; i <= 20; i++) {
        if (!store_writable(s))
            break;
        snprintf(id, sizeof(id), "c%d", i);
        assert_int_equal(store_contact_arrived(s, id, (const uint8_t *)id,
                                               strlen(id), wall_ms(),
                                               NULL, NULL), 0);
        assert_int_equal(store_barrier(s, barrier_cb, &c), 0);
        accepted++;
        run_until(&loop, &s, 1, NULL, NULL, 30);
    }
    assert_int_equal(accepted, 8);
    assert_false(store_writable(s));
    assert_int_equal(c.ok, 1);          /* none confirmed while down */
    assert_int_equal(c.fail, 0);
    /* longer than the lease: the owner suspends by its own clock (it keeps
     * its term and its clients; STANDBY is for a term that is over) */
    run_until(&loop, &s, 1, is_suspended, &c, 2000);
    assert_int_equal(c.role, STORE_ROLE_SUSPENDED);
    assert_false(store_ready(s));

    assert_int_equal(rh_restart(h), 0);
    assert_true(run_until(&loop, &s, 1, is_owner, &c, 5000));
    uint64_t end = mono_ms() + 3000;
    while (c.ok < 1 + accepted && mono_ms() < end)
        run_until(&loop, &s, 1, NULL, NULL, 10);
    assert_int_equal(c.ok, 1 + accepted);
    assert_int_equal(c.fail, 0);
    assert_int_equal(c.resets, 0);      /* same term resumed */
    assert_true(store_writable(s));
    redisContext *rcx = rc(h);
    assert_int_equal(peek_n(rcx, "t1", 'c'), 1 + accepted);
    redisFree(rcx);
    struct store_stats st;
    store_stats(s, &st);
    assert_true(st.reconnects >= 1);
    assert_int_equal(st.token, 1);
    (void)is_writable_false;
    stop_store(&loop, s);
    drain_loop(&loop);
}

/* ---------------------------------------------------------------- */
/* store_record with the real router */

static void test_record_router(void **state)
{
    struct rh *h = *state;
    struct router_queue_config q;
    memset(&q, 0, sizeof(q));
    snprintf(q.name, sizeof(q.name), "sales");
    struct router_config rcfg;
    memset(&rcfg, 0, sizeof(rcfg));
    rcfg.queues = &q;
    rcfg.nqueues = 1;
    const char *err = NULL;
    struct router *r = router_new(&rcfg, 1, &err);
    assert_non_null(r);

    uv_loop_t loop;
    uv_loop_init(&loop);
    struct ctx c = { 0 };
    struct store_config cfg = cfg_for(h, "engine-a:7000");
    struct store_hooks hk = hooks_for(&c);
    struct store *s = store_new(&loop, &cfg, r, &hk);
    store_start(s);
    assert_true(run_until(&loop, &s, 1, is_owner, &c, 3000));

    uint64_t now = 1000000;
    uint64_t wall = wall_ms();
    struct router_agent_spec as;
    memset(&as, 0, sizeof(as));
    as.id = "a1";
    uint32_t ha, hcn;
    store_agent_login(s, "a1", (const uint8_t *)"a1", 2, NULL, NULL);
    assert_int_equal(router_agent_login(r, now, &as, 0, &ha), 0);
    store_record(s, now, wall);
    router_out_clear(r);
    struct router_contact_spec cs;
    memset(&cs, 0, sizeof(cs));
    cs.id = "c1";
    cs.queue = "sales";
    store_contact_arrived(s, "c1", (const uint8_t *)"c1", 2, wall, NULL, NULL);
    assert_int_equal(router_contact_arrive(r, now, &cs, 0, &hcn), 0);
    router_tick(r, now);
    store_record(s, now, wall);
    router_out_clear(r);
    store_barrier(s, barrier_cb, &c);
    assert_true(run_until(&loop, &s, 1, barrier_done, &c, 3000));
    assert_int_equal(c.ok, 1);

    redisContext *rcx = rc(h);
    char v[64];
    peek_field(rcx, "t1", 'c', "c1", "state", v, sizeof(v));
    assert_string_equal(v, "2");       /* offered */
    peek_field(rcx, "t1", 'c', "c1", "agent", v, sizeof(v));
    assert_string_equal(v, "a1");
    peek_field(rcx, "t1", 'c', "c1", "queue", v, sizeof(v));
    assert_string_equal(v, "sales");
    peek_field(rcx, "t1", 'a', "a1", "state", v, sizeof(v));
    assert_string_equal(v, "1");
    assert_true(peek_n(rcx, "t1", 'e') >= 2);

    /* accept, complete: the contact leaves the live set, the stream
     * keeps it */
    assert_int_equal(router_offer_accept(r, now + 1, "c1", "a1"), 0);
    store_record(s, now + 1, wall + 1);
    router_out_clear(r);
    assert_int_equal(router_contact_complete(r, now + 2, "c1"), 0);
    store_record(s, now + 2, wall + 2);
    router_out_clear(r);
    store_barrier(s, barrier_cb, &c);
    assert_true(run_until(&loop, &s, 1, NULL, NULL, 200));
    uint64_t end = mono_ms() + 2000;
    while (c.ok < 2 && mono_ms() < end)
        run_until(&loop, &s, 1, NULL, NULL, 10);
    assert_int_equal(c.ok, 2);
    assert_int_equal(peek_has(rcx, "t1", 'c', "c1"), 0);
    assert_int_equal(peek_n(rcx, "t1", 'c'), 0);
    struct peek *pk = peek_read(rcx, "t1");
    int assigned = 0, gone = 0;
    for (size_t i = 0; i < pk->nev; i++) {
        const char *type = peek_get(&pk->ev[i], "type", NULL);
        assert_non_null(type);
        assigned += strcmp(type, "assigned") == 0;
        gone += strcmp(type, "gone") == 0;
    }
    peek_free(pk);
    assert_int_equal(assigned, 1);
    assert_int_equal(gone, 1);
    redisFree(rcx);
    stop_store(&loop, s);
    drain_loop(&loop);
    router_free(r);
}

/* ---------------------------------------------------------------- */
/* faults (docs/redis.md, "Faults") */

static bool is_ready(void *arg) { return store_ready(arg); }

static bool refused(void *arg)
{
    struct store_stats st;
    store_stats(arg, &st);
    return st.write_refusals > 0;
}

/* Redis refuses writes (maxmemory 1, noeviction): the waiting barrier is
 * answered with STORE_EUNAVAILABLE, the store says it is not ready and
 * why, admission refuses, and it all recovers once Redis takes writes. */
static void test_refused_writes(void **state)
{
    struct rh *h = *state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct ctx c = { 0 };
    struct store_config cfg = cfg_for(h, "engine-a:7000");
    struct store_hooks hk = hooks_for(&c);
    struct store *s = store_new(&loop, &cfg, NULL, &hk);
    store_start(s);
    assert_true(run_until(&loop, &s, 1, is_owner, &c, 3000));
    assert_true(store_ready(s));
    assert_string_equal(store_why(s), "");

    redisContext *rcx = rc(h);
    freeReplyObject(cmd(rcx, "CONFIG SET maxmemory-policy noeviction"));
    freeReplyObject(cmd(rcx, "CONFIG SET maxmemory 1"));
    assert_int_equal(store_reserve(s, STORE_ADMIT_NEW, 64), 0);
    store_contact_arrived(s, "c1", (const uint8_t *)"C1", 2, wall_ms(), NULL, NULL);
    assert_int_equal(store_barrier(s, barrier_cb, &c), 0);
    assert_true(run_until(&loop, &s, 1, barrier_done, &c, 3000));
    assert_int_equal(c.fail, 1);
    assert_int_equal(c.ok, 0);
    assert_true(refused(s));
    assert_false(store_ready(s));
    assert_non_null(strstr(store_why(s), "redis refuses writes: OOM"));
    struct store_stats st;
    store_stats(s, &st);
    assert_false(st.ready);
    assert_int_equal(st.write_refusals, 1);
    assert_int_equal(st.barriers_failed, 1);
    assert_int_equal(store_reserve(s, STORE_ADMIT_NEW, 64),
                     STORE_EUNAVAILABLE);
    assert_int_equal(store_reserve(s, STORE_ADMIT_CHANGE, 0),
                     STORE_EUNAVAILABLE);
    assert_int_equal(c.role, STORE_ROLE_OWNER);   /* the lease still holds */

    freeReplyObject(cmd(rcx, "CONFIG SET maxmemory 0"));
    assert_true(run_until(&loop, &s, 1, is_ready, s, 5000));
    assert_int_equal(peek_has(rcx, "t1", 'c', "c1"), 1);
    assert_int_equal(store_reserve(s, STORE_ADMIT_NEW, 64), 0);
    store_stats(s, &st);
    assert_true(st.ready);
    assert_int_equal(st.write_refusals, 1);       /* one episode */
    redisFree(rcx);
    stop_store(&loop, s);
    drain_loop(&loop);
}

static int snapshots;
static void h_snapshot(void *arg) { (void)arg; snapshots++; }

static bool rewritten(void *arg)
{
    struct store_stats st;
    store_stats(arg, &st);
    return st.state_rewrites > 0;
}

/* Redis forgets everything under a connected owner: the store notices
 * (the generation marker is gone), asks the engine for its whole state
 * (hooks.snapshot), writes it back fenced, and a barrier queued meanwhile
 * fires only after that rewrite is confirmed. */
static void test_lost_state_rewrite(void **state)
{
    struct rh *h = *state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct ctx c = { 0 };
    struct store_config cfg = cfg_for(h, "engine-a:7000");
    struct store_hooks hk = hooks_for(&c);
    hk.snapshot = h_snapshot;
    snapshots = 0;
    struct store *s = store_new(&loop, &cfg, NULL, &hk);
    store_start(s);
    assert_true(run_until(&loop, &s, 1, is_owner, &c, 3000));
    store_contact_arrived(s, "c1", (const uint8_t *)"C1", 2, wall_ms(), NULL, NULL);
    store_barrier(s, barrier_cb, &c);
    assert_true(run_until(&loop, &s, 1, barrier_done, &c, 3000));
    assert_int_equal(c.ok, 1);

    redisContext *rcx = rc(h);
    freeReplyObject(cmd(rcx, "FLUSHALL"));
    assert_true(run_until(&loop, &s, 1, rewritten, s, 5000));
    assert_int_equal(snapshots, 1);
    assert_int_equal(c.resets, 0);       /* the same term, not a takeover */
    struct store_stats st;
    store_stats(s, &st);
    assert_int_equal(st.state_rewrites, 1);
    assert_int_equal(st.token, 1);
    /* a barrier after the rewrite fires once it is confirmed, and the
     * marker and the lease are back */
    store_contact_arrived(s, "c2", (const uint8_t *)"C2", 2, wall_ms(), NULL, NULL);
    store_barrier(s, barrier_cb, &c);
    uint64_t end = mono_ms() + 3000;
    while (c.ok < 2 && mono_ms() < end)
        run_until(&loop, &s, 1, NULL, NULL, 10);
    assert_int_equal(c.ok, 2);
    assert_int_equal(c.fail, 0);
    char v[64];
    cmd_str(rcx, v, sizeof(v), "GET ccr:{t1}:lease");
    assert_string_equal(v, "1|engine-a:7000");
    assert_int_equal(cmd_int(rcx, "EXISTS ccr:{t1}:applied"), 1);
    assert_int_equal(peek_has(rcx, "t1", 'c', "c2"), 1);
    redisFree(rcx);
    stop_store(&loop, s);
    drain_loop(&loop);
}

/* durability: memory waits for Redis once the backlog passes half of
 * max_pending, and counts those waits. */
static void test_memory_waits_counted(void **state)
{
    struct rh *h = *state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct ctx c = { 0 };
    struct store_config cfg = cfg_for(h, "engine-a:7000");
    cfg.durability = STORE_DURABILITY_MEMORY;
    cfg.max_pending = 4;
    struct store_hooks hk = hooks_for(&c);
    struct store *s = store_new(&loop, &cfg, NULL, &hk);
    store_start(s);
    assert_true(run_until(&loop, &s, 1, is_owner, &c, 3000));
    store_contact_arrived(s, "c1", (const uint8_t *)"C1", 2, wall_ms(), NULL, NULL);
    store_barrier(s, barrier_cb, &c);       /* 1 < 4 / 2: at the flush */
    struct store_stats st;
    store_stats(s, &st);
    assert_int_equal(st.memory_waits, 0);
    store_contact_arrived(s, "c2", (const uint8_t *)"C2", 2, wall_ms(), NULL, NULL);
    store_barrier(s, barrier_cb, &c);       /* 2 >= 4 / 2: waits */
    store_stats(s, &st);
    assert_int_equal(st.memory_waits, 1);
    uint64_t end = mono_ms() + 3000;
    while (c.ok < 2 && mono_ms() < end)
        run_until(&loop, &s, 1, NULL, NULL, 10);
    assert_int_equal(c.ok, 2);
    stop_store(&loop, s);
    drain_loop(&loop);
}

/* A store never owns a tenant stored in the other layout (an engine
 * upgraded to the journal default on a tenant kept as hashes, or the
 * reverse): it loads nothing, writes none of its state, gives the lease
 * back and says why; a store with the tenant's layout then takes it
 * whole. */
static bool layout_said(void *arg)
{
    return strstr(store_why(arg), "stored in the") != NULL;
}

static void layout_one_way(struct rh *h, enum store_layout from,
                           enum store_layout to)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct ctx c = { 0 };
    struct store_config cfg = cfg_for(h, "engine-a:7000");
    cfg.layout = from;
    struct store_hooks hk = hooks_for(&c);
    struct store *s = store_new(&loop, &cfg, NULL, &hk);
    store_start(s);
    assert_true(run_until(&loop, &s, 1, is_owner, &c, 3000));
    store_agent_login(s, "a1", (const uint8_t *)"A1", 2, "desk", NULL);
    store_contact_arrived(s, "c1", (const uint8_t *)"C1", 2, wall_ms(),
                          "sw", NULL);
    store_barrier(s, barrier_cb, &c);
    assert_true(run_until(&loop, &s, 1, barrier_done, &c, 3000));
    assert_int_equal(c.ok, 1);
    stop_store(&loop, s);
    drain_loop(&loop);

    redisContext *rcx = rc(h);
    redisReply *before = cmd(rcx, "KEYS ccr:{t1}:*");
    size_t nkeys = before->elements;
    freeReplyObject(before);
    uv_loop_init(&loop);
    struct ctx d = { 0 };
    cfg = cfg_for(h, "engine-b:7001");
    cfg.layout = to;
    hk = hooks_for(&d);
    s = store_new(&loop, &cfg, NULL, &hk);
    store_start(s);
    assert_true(run_until(&loop, &s, 1, layout_said, s, 3000));
    const char *why = store_why(s);
    assert_non_null(strstr(why, from == STORE_LAYOUT_HASHES
                                ? "stored in the hashes layout"
                                : "stored in the journal layout"));
    assert_non_null(strstr(why, to == STORE_LAYOUT_HASHES
                                ? "redis.layout is hashes"
                                : "redis.layout is journal"));
    /* it stays a standby: run a few lease rounds */
    run_until(&loop, &s, 1, NULL, NULL, 3 * (int)cfg.renew_ms);
    assert_int_equal(d.role, STORE_ROLE_STANDBY);
    assert_int_equal(d.nagents + d.ncontacts, 0);
    assert_false(store_ready(s));
    assert_int_equal(store_contact_arrived(s, "c9", (const uint8_t *)"x", 1,
                                           1, NULL, NULL), STORE_ENOTOWNER);
    /* the lease given back, nothing else written: the keys are those
     * the first store left (it released its own lease at stop) */
    assert_int_equal(cmd_int(rcx, "EXISTS ccr:{t1}:lease"), 0);
    assert_int_equal(cmd_int(rcx, "EXISTS %s",
                             to == STORE_LAYOUT_JOURNAL
                             ? "ccr:{t1}:journal" : "ccr:{t1}:contacts"),
                     0);
    redisReply *after = cmd(rcx, "KEYS ccr:{t1}:*");
    assert_int_equal(after->elements, nkeys);
    freeReplyObject(after);
    stop_store(&loop, s);
    drain_loop(&loop);

    /* the tenant's own layout loads it whole */
    uv_loop_init(&loop);
    struct ctx e = { 0 };
    cfg = cfg_for(h, "engine-b:7001");
    cfg.layout = from;
    hk = hooks_for(&e);
    s = store_new(&loop, &cfg, NULL, &hk);
    store_start(s);
    assert_true(run_until(&loop, &s, 1, is_owner, &e, 3000));
    assert_int_equal(e.nagents, 1);
    assert_int_equal(e.ncontacts, 1);
    assert_string_equal(e.contacts[0], "C1");
    assert_string_equal(e.cowner[0], "sw");
    stop_store(&loop, s);
    drain_loop(&loop);
    freeReplyObject(cmd(rcx, "FLUSHALL"));
    redisFree(rcx);
}

static void test_layout_mismatch(void **state)
{
    struct rh *h = *state;
    layout_one_way(h, STORE_LAYOUT_HASHES, STORE_LAYOUT_JOURNAL);
    layout_one_way(h, STORE_LAYOUT_JOURNAL, STORE_LAYOUT_HASHES);
}

int main(void)
{
    /* As ccrouted: the store writes to its Redis socket itself (see
     * store.h), and a test kills Redis under it. */
    signal(SIGPIPE, SIG_IGN);
    /* pure tests, and those about the per-key layout's scripts and
     * keys (they write hashes themselves) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_batch_ops),
        cmocka_unit_test(test_coalesce),
        cmocka_unit_test(test_memory_only),
        cmocka_unit_test_setup_teardown(test_script_layout_and_fencing,
                                        setup_redis, teardown_redis),
        cmocka_unit_test_setup_teardown(test_recovery_order,
                                        setup_redis, teardown_redis),
        cmocka_unit_test_setup_teardown(test_owner_roundtrip,
                                        setup_redis, teardown_redis),
        cmocka_unit_test_setup_teardown(test_script_generation,
                                        setup_redis, teardown_redis),
        cmocka_unit_test_setup_teardown(test_layout_mismatch,
                                        setup_redis, teardown_redis),
    };
    /* the store's promises, on each layout */
    const struct CMUnitTest both[] = {
        cmocka_unit_test_setup_teardown(test_write_and_barrier,
                                        setup_redis, teardown_redis),
        cmocka_unit_test_setup_teardown(test_memory_durability,
                                        setup_redis, teardown_redis),
        cmocka_unit_test_setup_teardown(test_fenced,
                                        setup_redis, teardown_redis),
        cmocka_unit_test_setup_teardown(test_takeover,
                                        setup_redis, teardown_redis),
        cmocka_unit_test_setup_teardown(test_redis_restart,
                                        setup_redis, teardown_redis),
        cmocka_unit_test_setup_teardown(test_record_router,
                                        setup_redis, teardown_redis),
        cmocka_unit_test_setup_teardown(test_refused_writes,
                                        setup_redis, teardown_redis),
        cmocka_unit_test_setup_teardown(test_lost_state_rewrite,
                                        setup_redis, teardown_redis),
        cmocka_unit_test_setup_teardown(test_memory_waits_counted,
                                        setup_redis, teardown_redis),
    };
    layout = STORE_LAYOUT_HASHES;       /* the per-key scripts' tests */
    int failed = cmocka_run_group_tests_name("store", tests, NULL, NULL);
    layout = STORE_LAYOUT_HASHES;
    failed += cmocka_run_group_tests_name("store, layout hashes", both,
                                          NULL, NULL);
    layout = STORE_LAYOUT_JOURNAL;
    failed += cmocka_run_group_tests_name("store, layout journal", both,
                                          NULL, NULL);
    return failed;
}
