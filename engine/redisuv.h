/* redisuv.h -- a hiredis async connection on a libuv loop that writes its
 * commands once per loop turn (interface).
 *
 * The adapter that ships with hiredis (hiredis/adapters/libuv.h) arms
 * write interest on the socket for every command and disarms it after
 * every write, and re-arms read interest after every write, each through
 * uv_poll_start(), which stops the poll first: libuv then removes the
 * descriptor from epoll at once and adds it back at the next poll. That
 * is two to four epoll_ctl calls and an extra loop turn per batch.
 *
 * This adapter keeps read interest armed for the life of the connection,
 * changes the poll only when the set of events really changes, and never
 * arms write interest for a command queued on a connected socket: it
 * remembers that hiredis has output and writes it itself -- from
 * redisuv_write() (the store calls it right after queuing its batch) or,
 * for commands queued anywhere else (a reply callback, a timer), from a
 * prepare handle that runs before the loop blocks. Write interest is
 * armed only while connecting (hiredis learns of the connect from it) and
 * when the socket did not take everything (the kernel's buffer is full).
 */
#ifndef CCROUTE_REDISUV_H
#define CCROUTE_REDISUV_H

#include <hiredis/async.h>
#include <uv.h>

/* Attaches `ac` to `loop` (in place of redisLibuvAttach). The adapter's
 * handles are closed and freed by hiredis's cleanup (redisAsyncFree or a
 * disconnect). REDIS_OK or REDIS_ERR (attached already, out of memory). */
int redisuv_attach(redisAsyncContext *ac, uv_loop_t *loop);

/* Writes what hiredis holds for `ac` now, if anything, instead of at the
 * end of the loop turn. May disconnect `ac` (a write error: hiredis frees
 * it and calls its disconnect callback), so the caller must not use `ac`
 * afterwards unless its disconnect callback says it is alive. Does nothing
 * inside a hiredis callback (the prepare handle writes it then). */
void redisuv_write(redisAsyncContext *ac);

#endif
