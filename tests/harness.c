/* harness.c -- child processes for tests; see harness.h.
 *
 * Everything here is built on struct harness_proc: fork, exec with the
 * standard streams redirected, poll a readiness condition with a deadline,
 * and reap with a bound. The daemon and Redis helpers only add their
 * command lines and their readiness condition (a port file, a PING).
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- utilities ---- */

long long harness_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void harness_pause_ms(int ms)
{
    poll(NULL, 0, ms);
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    fputs(text, f);
    return fclose(f) == 0 ? 0 : -errno;
}

void harness_rm_rf(const char *dir)
{
    char cmd[600];
    if (!dir[0] || getenv("CCROUTE_KEEP_TMP"))
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "harness: could not remove %s\n", dir);
}

int harness_tmpdir(char *out, size_t len, const char *prefix)
{
    const char *base = getenv("TMPDIR");
    snprintf(out, len, "%s/%s-XXXXXX", base && *base ? base : "/tmp", prefix);
    if (!mkdtemp(out))
        return -errno;
    return 0;
}

int harness_free_port(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    if (fd < 0)
        return -errno;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port > 0 ? port : -EADDRNOTAVAIL;
}

static int status_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -EIO;
}

/* ---- processes ---- */

/* Copies argv into p->argbuf / p->argv. */
static int argv_copy(struct harness_proc *p, const char *const *argv)
{
    size_t used = 0;
    int n = 0;
    for (; argv[n]; n++) {
        size_t len = strlen(argv[n]) + 1;
        if (n == HARNESS_ARGV_MAX || used + len > sizeof(p->argbuf))
            return -E2BIG;
        memcpy(p->argbuf + used, argv[n], len);
        p->argv[n] = p->argbuf + used;
        used += len;
    }
    p->argv[n] = NULL;
    return 0;
}

/* In the child: stdin from /dev/null, stdout and stderr as asked. */
static void child_streams(const struct harness_proc *p)
{
    int null = open("/dev/null", O_RDWR);
    int log = p->log[0] ? open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0644)
                        : -1;
    if (null >= 0)
        dup2(null, STDIN_FILENO);
    if (p->stdout_to_log && log >= 0)
        dup2(log, STDOUT_FILENO);
    else if (null >= 0)
        dup2(null, STDOUT_FILENO);
    if (log >= 0)
        dup2(log, STDERR_FILENO);
    else if (null >= 0)
        dup2(null, STDERR_FILENO);
    if (null > STDERR_FILENO)
        close(null);
    if (log > STDERR_FILENO)
        close(log);
}

static int proc_spawn(struct harness_proc *p)
{
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        /* Dies with the test: a failed assertion never leaves it running. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        child_streams(p);
        if (strchr(p->argv[0], '/'))
            execv(p->argv[0], (char *const *)p->argv);
        else
            execvp(p->argv[0], (char *const *)p->argv);
        fprintf(stderr, "harness: exec %s: %s\n", p->argv[0],
                strerror(errno));
        _exit(127);
    }
    p->pid = pid;
    return 0;
}

int harness_proc_start(struct harness_proc *p, const char *const *argv,
                       const char *log, bool stdout_to_log)
{
    memset(p, 0, sizeof(*p));
    int rc = argv_copy(p, argv);
    if (rc < 0)
        return rc;
    snprintf(p->log, sizeof(p->log), "%s", log ? log : "");
    p->stdout_to_log = stdout_to_log;
    return proc_spawn(p);
}

int harness_proc_restart(struct harness_proc *p)
{
    harness_proc_kill(p);
    return proc_spawn(p);
}

bool harness_proc_alive(struct harness_proc *p, int *status)
{
    int st;
    if (p->pid <= 0)
        return false;
    pid_t w = waitpid(p->pid, &st, WNOHANG);
    if (w == 0)
        return true;
    if (w == p->pid && status)
        *status = status_code(st);
    p->pid = 0;
    return false;
}

/* Reaps p within timeout_ms; SIGKILL after. Returns the exit status. */
static int reap(struct harness_proc *p, int timeout_ms)
{
    long long deadline = harness_now_ms() + timeout_ms;
    int status;
    for (;;) {
        pid_t w = waitpid(p->pid, &status, WNOHANG);
        if (w == p->pid)
            break;
        if (w < 0) {
            p->pid = 0;
            return -errno;
        }
        if (harness_now_ms() > deadline) {
            fprintf(stderr, "harness: %s (pid %d) did not exit in %d ms; "
                    "SIGKILL\n", p->argv[0], (int)p->pid, timeout_ms);
            kill(p->pid, SIGKILL);
            if (waitpid(p->pid, &status, 0) < 0) {
                p->pid = 0;
                return -errno;
            }
            break;
        }
        harness_pause_ms(5);
    }
    p->pid = 0;
    return status_code(status);
}

int harness_proc_wait(struct harness_proc *p, int timeout_ms)
{
    if (p->pid <= 0)
        return -ECHILD;
    return reap(p, timeout_ms);
}

int harness_proc_stop(struct harness_proc *p, int timeout_ms)
{
    if (p->pid <= 0)
        return 0;
    kill(p->pid, SIGTERM);
    return reap(p, timeout_ms);
}

void harness_proc_kill(struct harness_proc *p)
{
    if (p->pid <= 0)
        return;
    kill(p->pid, SIGKILL);
    reap(p, 5000);
}

int harness_run(const char *const *argv, const char *log, int timeout_ms)
{
    struct harness_proc p;
    int rc = harness_proc_start(&p, argv, log, false);
    if (rc < 0)
        return rc;
    return harness_proc_wait(&p, timeout_ms);
}

int harness_proc_wait_port_file(struct harness_proc *p, const char *path,
                                int timeout_ms)
{
    long long deadline = harness_now_ms() + timeout_ms;
    for (;;) {
        int status = -1;
        FILE *f = fopen(path, "r");
        if (f) {
            int port = 0;
            int ok = fscanf(f, "%d", &port) == 1;
            fclose(f);
            if (ok && port > 0)
                return port;
        }
        if (!harness_proc_alive(p, &status)) {
            fprintf(stderr, "harness: %s exited during start-up (status "
                    "%d)\n", p->argv[0], status);
            harness_log_dump(p->log);
            return -ECHILD;
        }
        if (harness_now_ms() >= deadline)
            break;
        harness_pause_ms(5);
    }
    fprintf(stderr, "harness: %s did not write %s within %d ms\n",
            p->argv[0], path, timeout_ms);
    harness_proc_kill(p);
    harness_log_dump(p->log);
    return -ETIMEDOUT;
}

/* A fresh connection to 127.0.0.1:port that `cmd` (inline, "\r\n"-ended)
 * was sent on, or -1. */
static int send_probe(int port, const char *cmd)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    ssize_t len = (ssize_t)strlen(cmd);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        send(fd, cmd, (size_t)len, MSG_NOSIGNAL) != len) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends PING on a fresh connection; true when +PONG comes back. */
static bool ping(int port)
{
    char buf[64];
    bool ok = false;
    int fd = send_probe(port, "PING\r\n");
    if (fd < 0)
        return false;
    struct pollfd pf = { .fd = fd, .events = POLLIN };
    if (poll(&pf, 1, 1000) == 1) {
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
        if (n > 0) {
            buf[n] = '\0';
            ok = strstr(buf, "PONG") != NULL;
        }
    }
    close(fd);
    return ok;
}

/* The process id that the server at 127.0.0.1:port gives in INFO server
 * (Redis, Sentinel), or -1 when it gives none. */
static long server_pid(int port)
{
    char buf[8192];
    size_t have = 0;
    long pid = -1;
    long long deadline = harness_now_ms() + 1000;
    const char *p = NULL;
    int fd = send_probe(port, "INFO server\r\n");
    if (fd < 0)
        return -1;
    while (have < sizeof(buf) - 1 && harness_now_ms() < deadline) {
        struct pollfd pf = { .fd = fd, .events = POLLIN };
        if (poll(&pf, 1, 100) != 1)
            continue;
        ssize_t n = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);
        if (n <= 0)
            break;
        have += (size_t)n;
        buf[have] = '\0';
        p = strstr(buf, "process_id:");
        if (p && strchr(p, '\n'))
            break;
    }
    if (p && strchr(p, '\n'))
        pid = strtol(p + strlen("process_id:"), NULL, 10);
    close(fd);
    return pid;
}

int harness_proc_wait_ping(struct harness_proc *p, int port, int timeout_ms)
{
    long long deadline = harness_now_ms() + timeout_ms;
    for (;;) {
        /* A port found free can be taken by another test program's
         * server before ours binds it (ours then exits): only our own
         * child's answer counts. */
        if (ping(port) && server_pid(port) == (long)p->pid)
            return 0;
        if (!harness_proc_alive(p, NULL))
            return -ECHILD;   /* the port was taken meanwhile, or no exe */
        if (harness_now_ms() >= deadline)
            break;
        harness_pause_ms(10);
    }
    harness_proc_kill(p);
    return -ETIMEDOUT;
}

int harness_log_count(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    int n = 0;
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strstr(line, needle))
            n++;
    fclose(f);
    return n;
}

bool harness_log_reaches(const char *path, const char *needle, int n,
                         int timeout_ms)
{
    long long deadline = harness_now_ms() + timeout_ms;
    for (;;) {
        if (harness_log_count(path, needle) >= n)
            return true;
        if (harness_now_ms() >= deadline)
            return false;
        harness_pause_ms(10);
    }
}

bool harness_log_contains(const char *path, const char *needle,
                          int timeout_ms)
{
    return harness_log_reaches(path, needle, 1, timeout_ms);
}

void harness_log_dump(const char *path)
{
    FILE *f = path[0] ? fopen(path, "r") : NULL;
    char line[2048];
    if (!f)
        return;
    fprintf(stderr, "---- %s ----\n", path);
    while (fgets(line, sizeof(line), f))
        fputs(line, stderr);
    fprintf(stderr, "---- end ----\n");
    fclose(f);
}

/* ---- ccrouted and other servers ---- */

static void build_path(char *buf, size_t len, const char *prog)
{
    const char *b = getenv("CCROUTE_BUILD");
    snprintf(buf, len, "%s/%s", b && *b ? b : "build", prog);
}

/* Starts exe with `pre` arguments, --listen/--port-file, then `post`. */
static int server_spawn(struct harness_daemon *d, const char *exe,
                        const char *const *pre, const char *const *post)
{
    const char *argv[HARNESS_ARGV_MAX + 1];
    int n = 0, rc;

    if (access(exe, X_OK) < 0) {
        fprintf(stderr, "harness: %s: %s (build it first)\n", exe,
                strerror(errno));
        return -ENOENT;
    }
    unlink(d->port_file);
    argv[n++] = exe;
    for (int i = 0; pre && pre[i] && n < HARNESS_ARGV_MAX - 4; i++)
        argv[n++] = pre[i];
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--port-file";
    argv[n++] = d->port_file;
    for (int i = 0; post && post[i]; i++) {
        if (n == HARNESS_ARGV_MAX)
            return -E2BIG;
        argv[n++] = post[i];
    }
    argv[n] = NULL;
    d->port = 0;
    rc = harness_proc_start(&d->proc, argv, d->log, true);
    if (rc < 0)
        return rc;
    rc = harness_proc_wait_port_file(&d->proc, d->port_file,
                                     HARNESS_START_TIMEOUT_MS);
    if (rc < 0)
        return rc;
    d->port = rc;
    return 0;
}

/* Starts ccrouted on d->config (harness_daemon_start). */
static int daemon_spawn(struct harness_daemon *d,
                        const char *const *extra_args)
{
    char exe[512];
    const char *pre[] = { "--config", d->config, NULL };
    build_path(exe, sizeof(exe), "ccrouted");
    return server_spawn(d, exe, pre, extra_args);
}

static int daemon_dir(struct harness_daemon *d, const char *stem)
{
    int rc;
    memset(d, 0, sizeof(*d));
    rc = harness_tmpdir(d->dir, sizeof(d->dir), "ccroute-e2e");
    if (rc < 0)
        return rc;
    snprintf(d->port_file, sizeof(d->port_file), "%s/port", d->dir);
    snprintf(d->log, sizeof(d->log), "%s/%s.log", d->dir, stem);
    return 0;
}

int harness_daemon_start(struct harness_daemon *d, const char *config_text,
                         const char *const *extra_args)
{
    int rc = daemon_dir(d, "ccrouted");
    if (rc < 0)
        return rc;
    snprintf(d->config, sizeof(d->config), "%s/ccrouted.yaml", d->dir);
    rc = write_file(d->config, config_text);
    if (rc < 0)
        return rc;
    return daemon_spawn(d, extra_args);
}

int harness_server_start(struct harness_daemon *d, const char *prog,
                         const char *const *args)
{
    char exe[512];
    int rc = daemon_dir(d, prog);
    if (rc < 0)
        return rc;
    build_path(exe, sizeof(exe), prog);
    return server_spawn(d, exe, NULL, args);
}

int harness_daemon_restart(struct harness_daemon *d,
                           const char *const *extra_args)
{
    int rc;
    harness_proc_kill(&d->proc);
    if (d->config[0])
        return daemon_spawn(d, extra_args);
    /* A harness_server_start server: same command line. */
    unlink(d->port_file);
    d->port = 0;
    rc = harness_proc_restart(&d->proc);
    if (rc < 0)
        return rc;
    rc = harness_proc_wait_port_file(&d->proc, d->port_file,
                                     HARNESS_START_TIMEOUT_MS);
    if (rc < 0)
        return rc;
    d->port = rc;
    return 0;
}

int harness_daemon_stop(struct harness_daemon *d, int timeout_ms)
{
    int rc = harness_proc_stop(&d->proc, timeout_ms);
    harness_daemon_cleanup(d);
    return rc;
}

void harness_daemon_kill(struct harness_daemon *d)
{
    harness_proc_kill(&d->proc);
}

void harness_daemon_cleanup(struct harness_daemon *d)
{
    harness_rm_rf(d->dir);
}

bool harness_daemon_log_contains(struct harness_daemon *d, const char *needle,
                                 int timeout_ms)
{
    return harness_log_contains(d->log, needle, timeout_ms);
}

int harness_daemon_log_count(struct harness_daemon *d, const char *needle)
{
    return harness_log_count(d->log, needle);
}

bool harness_daemon_log_reaches(struct harness_daemon *d, const char *needle,
                                int n, int timeout_ms)
{
    return harness_log_reaches(d->log, needle, n, timeout_ms);
}

void harness_daemon_dump_log(struct harness_daemon *d)
{
    harness_log_dump(d->log);
}

/* ---- redis ---- */

static int redis_spawn(struct harness_redis *r)
{
    const char *argv[HARNESS_ARGV_MAX + 1];
    char port[16];
    int n = 0, rc;
    snprintf(port, sizeof(port), "%d", r->port);
    const char *base[] = { "redis-server", "--port", port, "--bind",
                           "127.0.0.1", "--save", "", "--appendonly", "yes",
                           "--dir", r->dir, "--daemonize", "no", NULL };
    for (int i = 0; base[i]; i++)
        argv[n++] = base[i];
    for (int i = 0; r->extra[i]; i++)
        argv[n++] = r->extra[i];
    argv[n] = NULL;
    rc = harness_proc_start(&r->proc, argv, r->log, true);
    if (rc < 0)
        return rc;
    return harness_proc_wait_ping(&r->proc, r->port,
                                  HARNESS_START_TIMEOUT_MS);
}

int harness_redis_start_args(struct harness_redis *r,
                             const char *const *extra_args)
{
    int rc, n = 0;
    memset(r, 0, sizeof(*r));
    for (; extra_args && extra_args[n]; n++) {
        if (n + 1 == (int)(sizeof(r->extra) / sizeof(r->extra[0])))
            return -E2BIG;
        r->extra[n] = extra_args[n];
    }
    r->extra[n] = NULL;
    rc = harness_tmpdir(r->dir, sizeof(r->dir), "ccroute-redis");
    if (rc < 0)
        return rc;
    snprintf(r->log, sizeof(r->log), "%s/redis.log", r->dir);
    for (int attempt = 0; attempt < 5; attempt++) {
        r->port = harness_free_port();
        if (r->port < 0)
            return r->port;
        rc = redis_spawn(r);
        if (rc != -ECHILD)
            break;
    }
    if (rc < 0) {
        fprintf(stderr, "harness: redis-server did not start: %s\n",
                strerror(-rc));
        harness_log_dump(r->log);
    }
    return rc;
}

int harness_redis_start(struct harness_redis *r)
{
    return harness_redis_start_args(r, NULL);
}

int harness_redis_restart(struct harness_redis *r)
{
    harness_proc_kill(&r->proc);
    return redis_spawn(r);
}

int harness_redis_term(struct harness_redis *r, int timeout_ms)
{
    return harness_proc_stop(&r->proc, timeout_ms);
}

int harness_redis_stop(struct harness_redis *r)
{
    int rc = harness_proc_stop(&r->proc, HARNESS_STOP_TIMEOUT_MS);
    harness_rm_rf(r->dir);
    return rc;
}

void harness_redis_kill(struct harness_redis *r)
{
    harness_proc_kill(&r->proc);
}
