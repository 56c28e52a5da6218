/* harness.h -- the one process harness of the test suite.
 *
 * Every test that needs a real process (ccrouted, redis-server,
 * limit-server, ccload) starts it through this file, as libuv's tests all
 * go through test/task.h: a second copy of "start a process, wait for its
 * port" drifts from the first.
 *
 * Processes: harness_proc_start() forks and execs argv (argv[0] is a path,
 * or a name looked up in PATH), with stdin from /dev/null and stderr (and,
 * when asked, stdout) appended to a log file. The child gets SIGKILL when
 * the test process dies, so a failed assertion never leaves it running.
 * The harness then waits for readiness with a bounded deadline, polling a
 * real condition -- a port file the process writes, or a PING it answers --
 * and gives up early when the child exits. harness_proc_stop() sends
 * SIGTERM and waits, with SIGKILL after a bound; harness_proc_kill() is
 * SIGKILL (crash tests); harness_proc_restart() runs the same command
 * line again. Nothing sleeps in place of synchronisation: the only pauses
 * are the short intervals between polls (harness_pause_ms).
 *
 * Daemon: harness_daemon_start() writes the configuration text to a file
 * in a fresh temporary directory, starts $CCROUTE_BUILD/ccrouted (default
 * build/ccrouted, relative to the repository root the tests run in) with
 * `--config FILE --listen 127.0.0.1:0 --port-file FILE` plus any extra
 * arguments, its stdout and stderr going to a log file in the same
 * directory, and waits for the port file. harness_server_start() does the
 * same for any server program of the build that takes --listen and
 * --port-file (limit-server, ccrouted with a configuration file).
 *
 * Redis: harness_redis_start() picks a free loopback port, runs
 *   redis-server --port N --bind 127.0.0.1 --save "" --appendonly yes
 *                --dir TMPDIR --daemonize no [extra arguments]
 * and waits until PING answers PONG.
 *
 * Exit statuses: 0..255 for a process that exited, 128 + signal for one
 * killed by a signal, a negative errno when there was nothing to wait for.
 * Other errors: 0 or a negative errno; a message goes to stderr.
 */
#ifndef CCROUTE_HARNESS_H
#define CCROUTE_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define HARNESS_START_TIMEOUT_MS 10000
#define HARNESS_STOP_TIMEOUT_MS 10000
#define HARNESS_ARGV_MAX 48

/* ---- processes ---- */

struct harness_proc {
    pid_t pid;                  /* read-only; 0 when not running */
    char log[320];              /* stderr goes here ("" = /dev/null) */
    bool stdout_to_log;         /* stdout too (else /dev/null) */
    const char *argv[HARNESS_ARGV_MAX + 1]; /* private: into argbuf */
    char argbuf[4096];
};

/* Starts argv (NULL-terminated; copied into `p`, so the caller's strings
 * may go away) with stderr appended to `log` (NULL: /dev/null) and stdout
 * to `log` too when stdout_to_log. Returns 0 once forked; a failed exec
 * shows as exit status 127. -E2BIG when argv does not fit. */
int harness_proc_start(struct harness_proc *p, const char *const *argv,
                       const char *log, bool stdout_to_log);
/* Starts the same command line again (SIGKILL first if it still runs). */
int harness_proc_restart(struct harness_proc *p);
/* Whether the process is running (reaps it, and sets pid to 0, when it
 * has exited; its status goes to *status when not NULL). */
bool harness_proc_alive(struct harness_proc *p, int *status);
/* Waits until the process writes a positive port number to `path`, up to
 * timeout_ms. Returns the port, -ECHILD when the process exited first (its
 * log is printed), -ETIMEDOUT. */
int harness_proc_wait_port_file(struct harness_proc *p, const char *path,
                                int timeout_ms);
/* Waits until 127.0.0.1:port answers "PING" with "+PONG" and the server
 * answering is this process (INFO server's process_id: a port found free
 * may be taken by another test program's server first), up to
 * timeout_ms. 0, -ECHILD (exited first) or -ETIMEDOUT. */
int harness_proc_wait_ping(struct harness_proc *p, int port, int timeout_ms);
/* Waits for the process to exit by itself, up to timeout_ms (SIGKILL
 * after, with a message). Returns its exit status. */
int harness_proc_wait(struct harness_proc *p, int timeout_ms);
/* SIGTERM, then waits up to timeout_ms, then SIGKILL. Returns the exit
 * status (0 when it was not running). */
int harness_proc_stop(struct harness_proc *p, int timeout_ms);
/* SIGKILL and reap (nothing when not running). */
void harness_proc_kill(struct harness_proc *p);

/* Runs argv to completion (harness_proc_start + harness_proc_wait).
 * Returns its exit status or a negative errno. */
int harness_run(const char *const *argv, const char *log, int timeout_ms);

/* Whether the file at `path` contains `needle` on one line; polls until
 * timeout_ms (0: looks once). */
bool harness_log_contains(const char *path, const char *needle,
                          int timeout_ms);
/* Lines of the file at `path` that contain `needle`; -1 when it cannot be
 * read. */
int harness_log_count(const char *path, const char *needle);
/* Whether the file at `path` holds at least `n` lines with `needle`;
 * polls until timeout_ms (0: looks once). */
bool harness_log_reaches(const char *path, const char *needle, int n,
                         int timeout_ms);
/* Prints the file to stderr between markers (on a failure). */
void harness_log_dump(const char *path);

/* ---- ccrouted and other servers of the build ---- */

struct harness_daemon {
    struct harness_proc proc;
    int port;
    char dir[256];          /* temporary directory (removed by stop) */
    char config[320];
    char port_file[320];
    char log[320];          /* the daemon's stdout and stderr */
};

/* extra_args: NULL-terminated list or NULL. */
int harness_daemon_start(struct harness_daemon *d, const char *config_text,
                         const char *const *extra_args);
/* Starts $CCROUTE_BUILD/<prog> --listen 127.0.0.1:0 --port-file FILE
 * [args...] in a fresh temporary directory (d->config stays empty) and
 * waits for its port. The stop/kill/restart/log calls below apply. */
int harness_server_start(struct harness_daemon *d, const char *prog,
                         const char *const *args);
/* SIGTERM, waitpid (bounded: SIGKILL after timeout_ms). Returns the exit
 * status (0..255), 128+signal if killed, or a negative errno. Removes the
 * temporary directory unless the environment has CCROUTE_KEEP_TMP. */
int harness_daemon_stop(struct harness_daemon *d, int timeout_ms);
/* SIGKILL and reap; keeps the directory (call harness_daemon_cleanup). */
void harness_daemon_kill(struct harness_daemon *d);
void harness_daemon_cleanup(struct harness_daemon *d);
/* Restarts a stopped/killed daemon with the same configuration and
 * directory (crash-recovery tests); the port may change. extra_args
 * replace those of the start (NULL: none). */
int harness_daemon_restart(struct harness_daemon *d,
                           const char *const *extra_args);
/* Whether the daemon's log contains `needle`. Polls until timeout_ms. The
 * log spans every restart of the daemon. */
bool harness_daemon_log_contains(struct harness_daemon *d, const char *needle,
                                 int timeout_ms);
/* Lines of the daemon's log with `needle` (-1: unreadable), and whether it
 * reaches `n` of them within timeout_ms: a count taken before an action
 * and waited past after it tells a line the action caused from an earlier
 * one. */
int harness_daemon_log_count(struct harness_daemon *d, const char *needle);
bool harness_daemon_log_reaches(struct harness_daemon *d, const char *needle,
                                int n, int timeout_ms);
/* Prints the daemon's log to stderr (on a failure). */
void harness_daemon_dump_log(struct harness_daemon *d);

/* ---- redis-server ---- */

struct harness_redis {
    struct harness_proc proc;
    int port;
    char dir[256];          /* data directory, log in dir/redis.log */
    char log[320];
    const char *extra[16];  /* private: arguments of the start */
};

int harness_redis_start(struct harness_redis *r);
/* As harness_redis_start, with arguments appended to the command line
 * (NULL-terminated, at most 15; they must outlive `r`: restarts reuse
 * them). */
int harness_redis_start_args(struct harness_redis *r,
                             const char *const *extra_args);
/* SIGTERM and wait (SIGKILL after a bound); removes the directory. */
int harness_redis_stop(struct harness_redis *r);
/* SIGTERM and wait (SIGKILL after timeout_ms); the directory and its AOF
 * stay, so that harness_redis_restart finds the data again. Returns the
 * exit status. */
int harness_redis_term(struct harness_redis *r, int timeout_ms);
/* SIGKILL (simulated crash); the directory and its AOF stay. */
void harness_redis_kill(struct harness_redis *r);
/* Restarts on the same port and directory (AOF reload); SIGKILL first if
 * it still runs. */
int harness_redis_restart(struct harness_redis *r);

/* ---- utilities ---- */

/* A free TCP port on 127.0.0.1 (bind to 0, read it, close). */
int harness_free_port(void);
/* Monotonic milliseconds. */
long long harness_now_ms(void);
/* Waits ms between two polls of an external condition (never in place
 * of one). */
void harness_pause_ms(int ms);
/* A fresh directory $TMPDIR/<prefix>-XXXXXX (default /tmp) into out.
 * 0 or a negative errno. */
int harness_tmpdir(char *out, size_t len, const char *prefix);
/* Removes a directory tree unless the environment has CCROUTE_KEEP_TMP. */
void harness_rm_rf(const char *dir);

#endif
