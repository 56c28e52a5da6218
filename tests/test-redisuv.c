/* test-redisuv.c -- engine/redisuv.c against a real redis-server.
 *
 * The adapter writes commands itself (redisuv_write, or a prepare handle
 * before the loop blocks) instead of arming write interest. What must
 * hold: a command queued anywhere -- from the caller, from a reply
 * callback -- reaches Redis without another event to wake the loop; a
 * command larger than the socket buffer is finished through write
 * interest; a write to a dead server ends in the disconnect callback,
 * not a crash or a hang. Every loop run is bounded by two timers: no
 * reply for STALL_MS (a command the adapter never wrote: nothing wakes
 * the loop again), and RUN_MS in all. The first is restarted on every
 * reply, so that a busy machine -- thousands of round trips, each one
 * fsynced by Redis (appendfsync always), each one a wakeup of two
 * processes -- makes a run longer, not a failure.
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
#include <hiredis/async.h>
#include <uv.h>

#include "redis-harness.h"
#include "redisuv.h"

#define STALL_MS 10000
#define RUN_MS 120000

struct t {
    uv_loop_t loop;
    uv_timer_t deadline;        /* RUN_MS */
    uv_timer_t stall;           /* STALL_MS since the last reply */
    redisAsyncContext *ac;
    int replies, errors, want;
    bool connected, disconnected, timed_out;
    long long last;
};

static void on_deadline(uv_timer_t *tm)
{
    struct t *t = tm->data;
    t->timed_out = true;
    if (t->ac) {
        redisAsyncFree(t->ac);
        t->ac = NULL;
    }
    uv_stop(&t->loop);
}

/* A reply came: the adapter is making progress. */
static void progress(struct t *t)
{
    uv_timer_start(&t->stall, on_deadline, STALL_MS, 0);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct t *t = ac->data;
    t->connected = status == REDIS_OK;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct t *t = ac->data;
    t->disconnected = true;
    t->ac = NULL;
    uv_stop(&t->loop);
}

static void setup_conn(struct t *t, int port)
{
    memset(t, 0, sizeof(*t));
    assert_int_equal(uv_loop_init(&t->loop), 0);
    uv_timer_init(&t->loop, &t->deadline);
    t->deadline.data = t;
    uv_timer_start(&t->deadline, on_deadline, RUN_MS, 0);
    uv_timer_init(&t->loop, &t->stall);
    t->stall.data = t;
    progress(t);
    t->ac = redisAsyncConnect("127.0.0.1", port);
    assert_non_null(t->ac);
    assert_int_equal(t->ac->err, 0);
    t->ac->data = t;
    assert_int_equal(redisuv_attach(t->ac, &t->loop), REDIS_OK);
    /* a second attach is refused */
    assert_int_equal(redisuv_attach(t->ac, &t->loop), REDIS_ERR);
    redisAsyncSetConnectCallback(t->ac, on_connect);
    redisAsyncSetDisconnectCallback(t->ac, on_disconnect);
}

static void finish(struct t *t)
{
    if (t->ac) {
        redisAsyncFree(t->ac);
        t->ac = NULL;
    }
    uv_close((uv_handle_t *)&t->deadline, NULL);
    uv_close((uv_handle_t *)&t->stall, NULL);
    /* close callbacks; the first run may only consume the uv_stop() of
     * on_disconnect */
    uv_run(&t->loop, UV_RUN_DEFAULT);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&t->loop), 0);
}

/* Each reply sends the next INCR from inside the reply callback: nothing
 * but the adapter's prepare handle writes it. */
static void on_incr(redisAsyncContext *ac, void *r, void *priv)
{
    struct t *t = ac->data;
    redisReply *reply = r;
    if (!reply)
        return;
    progress(t);
    if (reply->type != REDIS_REPLY_INTEGER) {
        t->errors++;
        uv_stop(&t->loop);
        return;
    }
    t->last = reply->integer;
    if (++t->replies == t->want) {
        uv_stop(&t->loop);
        return;
    }
    redisAsyncCommand(ac, on_incr, NULL, "INCR chain");
}

static void test_chain_from_callbacks(void **state)
{
    struct rh h;
    assert_int_equal(rh_start(&h), 0);
    struct t t;
    setup_conn(&t, h.port);
    t.want = 2000;
    redisAsyncCommand(t.ac, on_incr, NULL, "INCR chain");
    uv_run(&t.loop, UV_RUN_DEFAULT);
    assert_false(t.timed_out);
    assert_true(t.connected);
    assert_int_equal(t.errors, 0);
    assert_int_equal(t.replies, 2000);
    assert_int_equal(t.last, 2000);
    finish(&t);
    rh_free(&h);
}

/* Commands queued by the caller and written at once by redisuv_write():
 * a pipeline of SETs, all answered, all applied. */
static void on_set(redisAsyncContext *ac, void *r, void *priv)
{
    struct t *t = ac->data;
    redisReply *reply = r;
    if (!reply)
        return;
    progress(t);
    if (reply->type == REDIS_REPLY_STATUS)
        t->replies++;
    else
        t->errors++;
    if (t->replies + t->errors == t->want)
        uv_stop(&t->loop);
}

static void on_first(redisAsyncContext *ac, void *r, void *priv)
{
    struct t *t = ac->data;
    if (!r)
        return;
    /* connected: queue a pipeline and write it now */
    for (int i = 0; i < t->want; i++)
        redisAsyncCommand(ac, on_set, NULL, "SET k%d v%d", i, i);
    redisuv_write(ac);                 /* inside a callback: deferred */
}

static void test_pipeline(void **state)
{
    struct rh h;
    assert_int_equal(rh_start(&h), 0);
    struct t t;
    setup_conn(&t, h.port);
    t.want = 500;
    redisAsyncCommand(t.ac, on_first, NULL, "PING");
    redisuv_write(t.ac);               /* not connected yet: a no-op */
    uv_run(&t.loop, UV_RUN_DEFAULT);
    assert_false(t.timed_out);
    assert_int_equal(t.errors, 0);
    assert_int_equal(t.replies, 500);
    finish(&t);

    redisContext *c = redisConnect("127.0.0.1", h.port);
    assert_non_null(c);
    redisReply *r = redisCommand(c, "GET k499");
    assert_non_null(r);
    assert_string_equal(r->str, "v499");
    freeReplyObject(r);
    redisFree(c);
    rh_free(&h);
}

/* A value larger than the kernel's socket buffer: the first write takes
 * part of it, the rest must go through write interest. */
static void test_large_command(void **state)
{
    struct rh h;
    assert_int_equal(rh_start(&h), 0);
    struct t t;
    setup_conn(&t, h.port);
    size_t n = 16u << 20;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 'x', n);
    t.want = 1;
    redisAsyncCommand(t.ac, on_set, NULL, "SET big %b", big, n);
    uv_run(&t.loop, UV_RUN_DEFAULT);
    free(big);
    assert_false(t.timed_out);
    assert_int_equal(t.errors, 0);
    assert_int_equal(t.replies, 1);
    finish(&t);

    redisContext *c = redisConnect("127.0.0.1", h.port);
    assert_non_null(c);
    redisReply *r = redisCommand(c, "STRLEN big");
    assert_non_null(r);
    assert_int_equal(r->integer, (long long)n);
    freeReplyObject(r);
    redisFree(c);
    rh_free(&h);
}

/* The server dies under a connected client; the next write fails (EPIPE,
 * SIGPIPE ignored as ccrouted does) or the read sees EOF: either way the
 * disconnect callback runs and the loop ends. */
static void on_ping(redisAsyncContext *ac, void *r, void *priv)
{
    struct t *t = ac->data;
    if (r)
        t->replies++;
    uv_stop(&t->loop);
}

static void test_server_gone(void **state)
{
    struct rh h;
    assert_int_equal(rh_start(&h), 0);
    struct t t;
    setup_conn(&t, h.port);
    redisAsyncCommand(t.ac, on_ping, NULL, "PING");
    uv_run(&t.loop, UV_RUN_DEFAULT);
    assert_int_equal(t.replies, 1);
    rh_stop(&h, true);
    for (int i = 0; i < 100 && t.ac; i++) {
        redisAsyncCommand(t.ac, NULL, NULL, "PING");
        redisuv_write(t.ac);           /* may disconnect: t.ac = NULL */
        if (t.ac)
            uv_run(&t.loop, UV_RUN_NOWAIT);
    }
    if (t.ac)
        uv_run(&t.loop, UV_RUN_DEFAULT);   /* until EOF or the deadline */
    assert_false(t.timed_out);
    assert_true(t.disconnected);
    assert_null(t.ac);
    finish(&t);
    rh_free(&h);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_from_callbacks),
        cmocka_unit_test(test_pipeline),
        cmocka_unit_test(test_large_command),
        cmocka_unit_test(test_server_gone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
