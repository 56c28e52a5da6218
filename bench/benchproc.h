/* benchproc.h -- the processes of a bench program that measures the real
 * engine (bench-recovery, bench-leads): a private redis-server and
 * BUILD/ccrouted on free loopback ports in a temporary directory, both
 * killed and the directory removed at exit (CCROUTE_KEEP_TMP keeps it),
 * and the few blocking calls their harness makes. A failure is fatal
 * (bp_die: the program's name, the message, exit 1): a bench figure is
 * never taken from a half-working run.
 */
#ifndef CCROUTE_BENCHPROC_H
#define CCROUTE_BENCHPROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

#include "client.h"

extern char bp_dir[256];              /* the temporary directory */
extern pid_t bp_redis_pid, bp_daemon_pid;
extern redisContext *bp_redis;        /* to the private redis-server */

/* Makes the temporary directory /tmp/ccr-<name>-XXXXXX, registers the
 * cleanup, ignores SIGPIPE. First. */
void bp_init(const char *name);
void bp_die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
                                                 noreturn));
double bp_now_ms(void);                 /* monotonic */
double bp_self_cpu_ms(void);            /* this process, user + sys */
double bp_proc_cpu_ms(pid_t pid);       /* another one's (/proc), or -1 */

/* redis-server without persistence on a free port, bp_redis connected to
 * it; its port. */
int bp_redis_start(void);
/* A command on bp_redis; an error reply is fatal. */
redisReply *bp_rcmd(const char *fmt, ...);
/* One numeric field of an INFO section (0 when missing). */
double bp_info_num(const char *section, const char *field);

/* ccrouted `path` on configuration `cfg`, listening on a free port (its
 * --port-file), its log in bp_dir/ccrouted.log; the port. */
int bp_daemon_start(const char *path, const char *cfg);
/* SIGTERM and wait (30 s at most). */
void bp_daemon_stop(void);
/* The last line of the daemon's log holding `needle`, into buf. */
bool bp_log_line(const char *needle, char *buf, size_t len);

/* Sends env (request id chosen by the client). */
void bp_send_env(struct ccr_client *c, ccr_envelope *env);
/* Waits for n Acks (an Error is fatal), dropping events. */
void bp_acks(struct ccr_client *c, int n);
/* Connects and says Hello until it is accepted (the engine answers "not
 * serving yet" while it loads); the longest Hello round trip in *max_ms,
 * the refused ones in *refused. */
struct ccr_client *bp_hello_until_serving(int port, const char *name,
                                          int role, double *max_ms,
                                          int *refused);

#endif
