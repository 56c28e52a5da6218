/* redisuv.c -- hiredis async on libuv, written once per loop turn (see
 * redisuv.h for why).
 *
 * hiredis (0.14) drives an adapter through five hooks: addRead, delRead,
 * addWrite, delWrite, cleanup. It calls addWrite after appending every
 * command to its output buffer, and redisAsyncHandleWrite() -- the
 * adapter's reaction to a writable socket -- writes as much as the kernel
 * takes, then calls delWrite (all written) or addWrite (some left), and
 * addRead in both cases.
 *
 * Here:
 *  - `events` is what the poll is armed with; a hook that does not change
 *    it does not touch the poll (no uv_poll_start: in libuv that stops the
 *    poll first, which is an immediate EPOLL_CTL_DEL, and the next poll
 *    adds the descriptor back).
 *  - addWrite on a connected socket outside a write only sets `pending`:
 *    the output is written by redisuv_write() or, at the latest, by the
 *    prepare handle, which runs after timers and I/O callbacks of a turn
 *    and before the loop blocks in the next poll, so no command waits for
 *    a wake-up. While connecting (hiredis learns of the connect from write
 *    readiness) and while a write is in progress (`in_write`: the kernel
 *    did not take everything), addWrite arms write interest for real.
 *
 * The struct lives until both handles are closed: hiredis's cleanup hook
 * clears `ac` and closes them, and the second close callback frees it, so
 * a call that made hiredis free the context (a write error) can still
 * look at the struct afterwards.
 */
#include <stdbool.h>
#include <stdlib.h>

#include <hiredis/hiredis.h>

#include "redisuv.h"

struct redisuv {
    redisAsyncContext *ac;      /* NULL once hiredis cleaned up */
    uv_poll_t poll;
    uv_prepare_t prepare;
    int events;                 /* UV_READABLE | UV_WRITABLE armed */
    bool pending;               /* hiredis holds output not written yet */
    bool in_write;              /* inside redisAsyncHandleWrite() */
    int open_handles;
};

static void do_write(struct redisuv *p)
{
    p->pending = false;
    p->in_write = true;
    redisAsyncHandleWrite(p->ac);     /* may clean up: p->ac = NULL */
    p->in_write = false;
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct redisuv *p = h->data;
    if (status != 0 || !p->ac)
        return;
    if (events & UV_READABLE)
        redisAsyncHandleRead(p->ac);
    if (p->ac && (events & UV_WRITABLE))
        do_write(p);
}

static void arm_cb(struct redisuv *p, int events)
{
    if (events == p->events)
        return;
    p->events = events;
    if (events)
        uv_poll_start(&p->poll, events, on_poll);
    else
        uv_poll_stop(&p->poll);
}

static void add_read(void *d)
{
    struct redisuv *p = d;
    arm_cb(p, p->events | UV_READABLE);
}

static void del_read(void *d)
{
    struct redisuv *p = d;
    arm_cb(p, p->events & ~UV_READABLE);
}

static void add_write(void *d)
{
    struct redisuv *p = d;
    if (p->in_write || !(p->ac->c.flags & REDIS_CONNECTED)) {
        arm_cb(p, p->events | UV_WRITABLE);
        return;
    }
    p->pending = true;                /* written before the loop blocks */
}

static void del_write(void *d)
{
    struct redisuv *p = d;
    p->pending = false;
    arm_cb(p, p->events & ~UV_WRITABLE);
}

static void on_prepare(uv_prepare_t *h)
{
    struct redisuv *p = h->data;
    if (p->ac && p->pending)
        do_write(p);
}

static void on_close(uv_handle_t *h)
{
    struct redisuv *p = h->data;
    if (--p->open_handles == 0)
        free(p);
}

static void cleanup(void *d)
{
    struct redisuv *p = d;
    p->ac = NULL;
    p->pending = false;
    uv_close((uv_handle_t *)&p->poll, on_close);
    uv_close((uv_handle_t *)&p->prepare, on_close);
}

int redisuv_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    if (ac->ev.data != NULL)
        return REDIS_ERR;
    struct redisuv *p = calloc(1, sizeof(*p));
    if (!p)
        return REDIS_ERR;
    if (uv_poll_init(loop, &p->poll, ac->c.fd) != 0) {
        free(p);
        return REDIS_ERR;
    }
    uv_prepare_init(loop, &p->prepare);
    p->poll.data = p;
    p->prepare.data = p;
    p->open_handles = 2;
    p->ac = ac;
    /* The prepare handle must not keep the loop alive by itself: the
     * poll does that while the connection has something to wait for. */
    uv_prepare_start(&p->prepare, on_prepare);
    uv_unref((uv_handle_t *)&p->prepare);
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    ac->ev.data = p;
    return REDIS_OK;
}

void redisuv_write(redisAsyncContext *ac)
{
    struct redisuv *p = ac ? ac->ev.data : NULL;
    if (!p || !p->ac || !p->pending || p->in_write)
        return;
    if (ac->c.flags & (REDIS_IN_CALLBACK | REDIS_FREEING))
        return;
    do_write(p);
}
