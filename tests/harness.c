/* harness.c -- child processes for end-to-end tests; see harness.h. */
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

long long harness_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits a short, bounded time between polls of an external condition. */
static void harness_pause(int ms)
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

static void rm_rf(const char *dir)
{
    char cmd[600];
    if (!dir[0] || getenv("CCROUTE_KEEP_TMP"))
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "harness: could not remove %s\n", dir);
}

static int make_tmpdir(char *out, size_t len, const char *prefix)
{
    const char *base = getenv("TMPDIR");
    snprintf(out, len, "%s/%s-XXXXXX", base && *base ? base : "/tmp", prefix);
    if (!mkdtemp(out))
        return -errno;
    return 0;
}

/* Waits for pid to exit within timeout_ms; SIGKILL after. Returns the
 * status as documented for harness_daemon_stop(). */
static int reap(pid_t pid, int timeout_ms)
{
    long long deadline = harness_now_ms() + timeout_ms;
    int status;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0)
            return -errno;
        if (harness_now_ms() > deadline) {
            fprintf(stderr, "harness: pid %d did not exit in %d ms; "
                    "SIGKILL\n", (int)pid, timeout_ms);
            kill(pid, SIGKILL);
            if (waitpid(pid, &status, 0) < 0)
                return -errno;
            break;
        }
        harness_pause(5);
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -EIO;
}

static const char *daemon_path(char *buf, size_t len)
{
    const char *b = getenv("CCROUTE_BUILD");
    snprintf(buf, len, "%s/ccrouted", b && *b ? b : "build");
    return buf;
}

static int daemon_spawn(struct harness_daemon *d,
                        const char *const *extra_args)
{
    char exe[512];
    const char *argv[32];
    int n = 0;
    long long deadline;

    daemon_path(exe, sizeof(exe));
    if (access(exe, X_OK) < 0) {
        fprintf(stderr, "harness: %s: %s (build it first)\n", exe,
                strerror(errno));
        return -ENOENT;
    }
    unlink(d->port_file);
    argv[n++] = exe;
    argv[n++] = "--config";
    argv[n++] = d->config;
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--port-file";
    argv[n++] = d->port_file;
    for (int i = 0; extra_args && extra_args[i] && n < 31; i++)
        argv[n++] = extra_args[i];
    argv[n] = NULL;

    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        /* Dies with the test: a failed assertion never leaves it running. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        execv(exe, (char *const *)argv);
        fprintf(stderr, "harness: exec %s: %s\n", exe, strerror(errno));
        _exit(127);
    }
    d->pid = pid;
    d->port = 0;

    deadline = harness_now_ms() + HARNESS_START_TIMEOUT_MS;
    while (harness_now_ms() < deadline) {
        int status;
        FILE *f = fopen(d->port_file, "r");
        if (f) {
            int port = 0;
            int ok = fscanf(f, "%d", &port) == 1;
            fclose(f);
            if (ok && port > 0) {
                d->port = port;
                return 0;
            }
        }
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "harness: ccrouted exited during start-up "
                    "(status %d); log:\n", status);
            d->pid = 0;
            harness_daemon_dump_log(d);
            return -ECHILD;
        }
        harness_pause(5);
    }
    fprintf(stderr, "harness: ccrouted did not write %s within %d ms\n",
            d->port_file, HARNESS_START_TIMEOUT_MS);
    harness_daemon_kill(d);
    harness_daemon_dump_log(d);
    return -ETIMEDOUT;
}

int harness_daemon_start(struct harness_daemon *d, const char *config_text,
                         const char *const *extra_args)
{
    int rc;
    memset(d, 0, sizeof(*d));
    rc = make_tmpdir(d->dir, sizeof(d->dir), "ccroute-e2e");
    if (rc < 0)
        return rc;
    snprintf(d->config, sizeof(d->config), "%s/ccrouted.yaml", d->dir);
    snprintf(d->port_file, sizeof(d->port_file), "%s/port", d->dir);
    snprintf(d->log, sizeof(d->log), "%s/ccrouted.log", d->dir);
    rc = write_file(d->config, config_text);
    if (rc < 0)
        return rc;
    return daemon_spawn(d, extra_args);
}

int harness_daemon_restart(struct harness_daemon *d,
                           const char *const *extra_args)
{
    if (d->pid > 0)
        harness_daemon_kill(d);
    return daemon_spawn(d, extra_args);
}

int harness_daemon_stop(struct harness_daemon *d, int timeout_ms)
{
    int rc = 0;
    if (d->pid > 0) {
        kill(d->pid, SIGTERM);
        rc = reap(d->pid, timeout_ms);
        d->pid = 0;
    }
    harness_daemon_cleanup(d);
    return rc;
}

void harness_daemon_kill(struct harness_daemon *d)
{
    if (d->pid > 0) {
        kill(d->pid, SIGKILL);
        reap(d->pid, 5000);
        d->pid = 0;
    }
}

void harness_daemon_cleanup(struct harness_daemon *d)
{
    rm_rf(d->dir);
}

bool harness_daemon_log_contains(struct harness_daemon *d, const char *needle,
                                 int timeout_ms)
{
    long long deadline = harness_now_ms() + timeout_ms;
    for (;;) {
        FILE *f = fopen(d->log, "r");
        if (f) {
            char line[2048];
            while (fgets(line, sizeof(line), f)) {
                if (strstr(line, needle)) {
                    fclose(f);
                    return true;
                }
            }
            fclose(f);
        }
        if (harness_now_ms() >= deadline)
            return false;
        harness_pause(10);
    }
}

void harness_daemon_dump_log(struct harness_daemon *d)
{
    FILE *f = fopen(d->log, "r");
    char line[2048];
    if (!f)
        return;
    fprintf(stderr, "---- %s ----\n", d->log);
    while (fgets(line, sizeof(line), f))
        fputs(line, stderr);
    fprintf(stderr, "---- end ----\n");
    fclose(f);
}

/* ---- redis ---- */

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

/* Sends PING on a fresh connection; true when +PONG comes back. */
static bool redis_ping(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    char buf[64];
    bool ok = false;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        send(fd, "PING\r\n", 6, MSG_NOSIGNAL) == 6) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 1000) == 1) {
            ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
            if (n > 0) {
                buf[n] = '\0';
                ok = strstr(buf, "PONG") != NULL;
            }
        }
    }
    close(fd);
    return ok;
}

static int redis_spawn(struct harness_redis *r)
{
    char port[16], logfile[320];
    long long deadline;
    snprintf(port, sizeof(port), "%d", r->port);
    snprintf(logfile, sizeof(logfile), "%s/redis.log", r->dir);
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        /* Dies with the test: a failed assertion never leaves it running. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(logfile, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        execlp("redis-server", "redis-server", "--port", port, "--bind",
               "127.0.0.1", "--save", "", "--appendonly", "yes", "--dir",
               r->dir, "--daemonize", "no", (char *)NULL);
        _exit(127);
    }
    r->pid = pid;
    deadline = harness_now_ms() + HARNESS_START_TIMEOUT_MS;
    while (harness_now_ms() < deadline) {
        int status;
        if (redis_ping(r->port))
            return 0;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            r->pid = 0;
            return -ECHILD;   /* port taken meanwhile, or no redis-server */
        }
        harness_pause(10);
    }
    harness_redis_kill(r);
    return -ETIMEDOUT;
}

int harness_redis_start(struct harness_redis *r)
{
    int rc;
    memset(r, 0, sizeof(*r));
    rc = make_tmpdir(r->dir, sizeof(r->dir), "ccroute-redis");
    if (rc < 0)
        return rc;
    for (int attempt = 0; attempt < 5; attempt++) {
        r->port = harness_free_port();
        if (r->port < 0)
            return r->port;
        rc = redis_spawn(r);
        if (rc != -ECHILD)
            break;
    }
    if (rc < 0)
        fprintf(stderr, "harness: redis-server did not start: %s\n",
                strerror(-rc));
    return rc;
}

int harness_redis_restart(struct harness_redis *r)
{
    if (r->pid > 0)
        harness_redis_kill(r);
    return redis_spawn(r);
}

int harness_redis_stop(struct harness_redis *r)
{
    int rc = 0;
    if (r->pid > 0) {
        kill(r->pid, SIGTERM);
        rc = reap(r->pid, 10000);
        r->pid = 0;
    }
    rm_rf(r->dir);
    return rc;
}

void harness_redis_kill(struct harness_redis *r)
{
    if (r->pid > 0) {
        kill(r->pid, SIGKILL);
        reap(r->pid, 5000);
        r->pid = 0;
    }
}
