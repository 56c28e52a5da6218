/* benchproc.c -- see benchproc.h. */
#include "benchproc.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#define BODY(x) CCROUTE__V1__ENVELOPE__BODY_##x
#define T_MS 60000

char bp_dir[256];
pid_t bp_redis_pid, bp_daemon_pid;
redisContext *bp_redis;
static const char *bp_name = "bench";

double bp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void bp_cleanup(void)
{
    if (bp_daemon_pid > 0) {
        kill(bp_daemon_pid, SIGKILL);
        waitpid(bp_daemon_pid, NULL, 0);
    }
    if (bp_redis_pid > 0) {
        kill(bp_redis_pid, SIGKILL);
        waitpid(bp_redis_pid, NULL, 0);
    }
    if (bp_dir[0] && !getenv("CCROUTE_KEEP_TMP")) {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", bp_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "%s: could not remove %s\n", bp_name, bp_dir);
    }
}

void bp_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", bp_name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

double bp_self_cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

double bp_proc_cpu_ms(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    /* fields after the name: state ppid pgrp session tty tpgid flags
     * minflt cminflt majflt cmajflt utime stime */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                     "%lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) * 1e3 / (double)sysconf(_SC_CLK_TCK);
}

static int bp_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t l = sizeof(a);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &l) < 0)
        bp_die("no free port");
    close(fd);
    return ntohs(a.sin_port);
}

static pid_t bp_spawn(const char *const *argv, const char *log)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        bp_die("fork");
    if (pid == 0) {
        FILE *o = freopen(log, "a", stdout);
        (void)o;
        dup2(STDOUT_FILENO, STDERR_FILENO);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

redisReply *bp_rcmd(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(bp_redis, fmt, ap);
    va_end(ap);
    if (!r)
        bp_die("redis: %s", bp_redis->errstr);
    if (r->type == REDIS_REPLY_ERROR)
        bp_die("redis: %s", r->str);
    return r;
}

/* One numeric field of an INFO section. */
double bp_info_num(const char *section, const char *field)
{
    redisReply *r = bp_rcmd("INFO %s", section);
    double v = 0;
    const char *p = strstr(r->str, field);
    if (p && p[strlen(field)] == ':')
        v = strtod(p + strlen(field) + 1, NULL);
    freeReplyObject(r);
    return v;
}

int bp_redis_start(void)
{
    int port = bp_free_port();
    char ps[16], log[300];
    snprintf(ps, sizeof(ps), "%d", port);
    snprintf(log, sizeof(log), "%s/redis.log", bp_dir);
    const char *argv[] = { "redis-server", "--port", ps, "--bind",
                           "127.0.0.1", "--save", "", "--appendonly", "no",
                           "--dir", bp_dir, "--daemonize", "no", NULL };
    bp_redis_pid = bp_spawn(argv, log);
    for (double end = bp_now_ms() + 10000; bp_now_ms() < end;) {
        redisContext *c = redisConnect("127.0.0.1", port);
        if (c && !c->err) {
            redisReply *r = redisCommand(c, "PING");
            if (r && r->type == REDIS_REPLY_STATUS) {
                freeReplyObject(r);
                bp_redis = c;
                return port;
            }
            if (r)
                freeReplyObject(r);
        }
        if (c)
            redisFree(c);
        usleep(20000);          /* waiting for redis-server to listen */
    }
    bp_die("redis-server did not start (see %s)", log);
    return -1;
}

/* ---- the daemon ---- */

int bp_daemon_start(const char *path, const char *cfg)
{
    char pf[300], log[300];
    snprintf(pf, sizeof(pf), "%s/port", bp_dir);
    snprintf(log, sizeof(log), "%s/ccrouted.log", bp_dir);
    unlink(pf);
    const char *argv[] = { path, "--config", cfg, "--listen", "127.0.0.1:0",
                           "--port-file", pf, NULL };
    bp_daemon_pid = bp_spawn(argv, log);
    for (double end = bp_now_ms() + 30000; bp_now_ms() < end;) {
        FILE *f = fopen(pf, "r");
        if (f) {
            int port = 0, ok = fscanf(f, "%d", &port) == 1;
            fclose(f);
            if (ok && port > 0)
                return port;
        }
        if (waitpid(bp_daemon_pid, NULL, WNOHANG) == bp_daemon_pid)
            bp_die("ccrouted exited at start (see %s)", log);
        usleep(500);            /* waiting for the daemon's port file */
    }
    bp_die("ccrouted wrote no port file");
    return -1;
}

void bp_daemon_stop(void)
{
    kill(bp_daemon_pid, SIGTERM);
    int st;
    for (double end = bp_now_ms() + 30000; bp_now_ms() < end;) {
        if (waitpid(bp_daemon_pid, &st, WNOHANG) == bp_daemon_pid) {
            bp_daemon_pid = 0;
            return;
        }
        usleep(5000);           /* waiting for the daemon to exit */
    }
    bp_die("ccrouted did not stop");
}

/* The last line of the daemon's log holding `needle` into buf. */
bool bp_log_line(const char *needle, char *buf, size_t len)
{
    char path[300], line[1024];
    bool found = false;
    snprintf(path, sizeof(path), "%s/ccrouted.log", bp_dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    while (fgets(line, sizeof(line), f))
        if (strstr(line, needle)) {
            snprintf(buf, len, "%s", line);
            found = true;
        }
    fclose(f);
    return found;
}

/* ---- the protocol ---- */

void bp_send_env(struct ccr_client *c, ccr_envelope *env)
{
    env->request_id = 0;
    if (ccr_client_send(c, env) < 0)
        bp_die("send failed");
}

/* Waits for `n` Acks (or Errors: fatal), dropping events. */
void bp_acks(struct ccr_client *c, int n)
{
    while (n > 0) {
        ccr_envelope *r = NULL;
        if (ccr_client_recv(c, T_MS, &r) < 0 || !r)
            bp_die("no answer from ccrouted");
        if (r->body_case == BODY(ERROR))
            bp_die("error: %s", r->error->message ? r->error->message : "?");
        if (r->body_case == BODY(ACK))
            n--;
        ccr_free(r);
    }
}

/* Hello until it is accepted; returns the connected client. */
struct ccr_client *bp_hello_until_serving(int port, const char *name,
                                              int role, double *max_ms,
                                              int *refused)
{
    struct ccr_client *c;
    *max_ms = 0;
    *refused = 0;
    if (ccr_client_connect("127.0.0.1", port, &c) < 0)
        bp_die("connect");
    for (double end = bp_now_ms() + T_MS; bp_now_ms() < end;) {
        double t = bp_now_ms();
        int rc = ccr_client_hello(c, name, (Ccroute__V1__Role)role, 0, T_MS);
        double rtt = bp_now_ms() - t;
        /* the accepted Hello counts too: it may have waited out the
         * load's last stall */
        if (rtt > *max_ms)
            *max_ms = rtt;
        if (rc == 0)
            return c;
        if (rc != CCROUTE__V1__ERROR_CODE__ERROR_CODE_STATE_UNAVAILABLE)
            bp_die("Hello refused (%d)", rc);
        (*refused)++;
        usleep(1000);           /* one Hello per ms: a light client */
    }
    bp_die("the engine did not serve within %d ms", T_MS);
    return NULL;
}

void bp_init(const char *name)
{
    bp_name = name;
    snprintf(bp_dir, sizeof(bp_dir), "/tmp/ccr-%s-XXXXXX", name);
    if (!mkdtemp(bp_dir))
        bp_die("no temporary directory");
    atexit(bp_cleanup);
    signal(SIGPIPE, SIG_IGN);
}
