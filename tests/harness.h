/* harness.h -- start the real ccrouted and a real redis-server for tests.
 *
 * Daemon: harness_daemon_start() writes the configuration text to a file
 * in a fresh temporary directory, starts $CCROUTE_BUILD/ccrouted (default
 * build/ccrouted, relative to the repository root the tests run in) with
 * `--config FILE --listen 127.0.0.1:0 --port-file FILE` plus any extra
 * arguments, its stderr going to a log file in the same directory, and
 * polls for the port file with a bounded deadline (no sleep standing in
 * for synchronisation). harness_daemon_stop() sends SIGTERM and waits;
 * harness_daemon_kill() sends SIGKILL (crash tests).
 *
 * Redis: harness_redis_start() picks a free loopback port, runs
 *   redis-server --port N --bind 127.0.0.1 --save "" --appendonly yes
 *                --dir TMPDIR --daemonize no
 * and waits until PING answers PONG.
 *
 * Errors: 0 or a negative errno; a message goes to stderr.
 */
#ifndef CCROUTE_HARNESS_H
#define CCROUTE_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

#define HARNESS_START_TIMEOUT_MS 10000

struct harness_daemon {
    pid_t pid;
    int port;
    char dir[256];          /* temporary directory (removed by stop) */
    char config[320];
    char port_file[320];
    char log[320];          /* the daemon's stderr */
};

/* extra_args: NULL-terminated list or NULL. */
int harness_daemon_start(struct harness_daemon *d, const char *config_text,
                         const char *const *extra_args);
/* SIGTERM, waitpid (bounded: SIGKILL after timeout_ms). Returns the exit
 * status (0..255), 128+signal if killed, or a negative errno. Removes the
 * temporary directory unless the environment has CCROUTE_KEEP_TMP. */
int harness_daemon_stop(struct harness_daemon *d, int timeout_ms);
/* SIGKILL and reap; keeps the directory (call harness_daemon_cleanup). */
void harness_daemon_kill(struct harness_daemon *d);
void harness_daemon_cleanup(struct harness_daemon *d);
/* Restarts a stopped/killed daemon with the same configuration and
 * directory (crash-recovery tests); the port may change. */
int harness_daemon_restart(struct harness_daemon *d,
                           const char *const *extra_args);
/* Whether the daemon's log contains `needle`. Polls until timeout_ms. */
bool harness_daemon_log_contains(struct harness_daemon *d, const char *needle,
                                 int timeout_ms);
/* Prints the daemon's log to stderr (on a failure). */
void harness_daemon_dump_log(struct harness_daemon *d);

struct harness_redis {
    pid_t pid;
    int port;
    char dir[256];
};

int harness_redis_start(struct harness_redis *r);
/* SIGTERM and wait (SIGKILL after a bound); removes the directory. */
int harness_redis_stop(struct harness_redis *r);
/* SIGKILL (simulated crash); the directory and its AOF stay. */
void harness_redis_kill(struct harness_redis *r);
/* Restarts on the same port and directory (AOF reload). */
int harness_redis_restart(struct harness_redis *r);

/* A free TCP port on 127.0.0.1 (bind to 0, read it, close). */
int harness_free_port(void);
/* Monotonic milliseconds. */
long long harness_now_ms(void);

#endif
