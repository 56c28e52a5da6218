/* redis-harness.c -- a private redis-server for a test (see the header). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "redis-harness.h"

int rh_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = { .sin_family = AF_INET };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof(a);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &l) < 0) {
        close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static int spawn(struct rh *h)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", h->port);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* Dies with the test: a failed assertion never leaves it running. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            if (!getenv("RH_VERBOSE"))
                dup2(null, 2);
        }
        execlp("redis-server", "redis-server", "--port", port,
               "--bind", "127.0.0.1", "--dir", h->dir, "--save", "",
               "--appendonly", "yes", "--appendfsync", "always",
               "--daemonize", "no", "--protected-mode", "no",
               "--loglevel", "warning", (char *)NULL);
        _exit(127);
    }
    h->pid = pid;
    for (int i = 0; i < 500; i++) {
        struct timeval tv = { 0, 200000 };
        redisContext *c = redisConnectWithTimeout("127.0.0.1", h->port, tv);
        if (c && !c->err) {
            redisReply *r = redisCommand(c, "PING");
            bool ok = r && r->type == REDIS_REPLY_STATUS;
            if (r)
                freeReplyObject(r);
            redisFree(c);
            if (ok)
                return 0;
        } else if (c) {
            redisFree(c);
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            h->pid = 0;
            return -1;
        }
        sleep_ms(10);
    }
    rh_stop(h, true);
    return -1;
}

int rh_start(struct rh *h)
{
    memset(h, 0, sizeof(*h));
    snprintf(h->dir, sizeof(h->dir), "/tmp/ccr-redis-XXXXXX");
    if (!mkdtemp(h->dir))
        return -1;
    for (int tries = 0; tries < 5; tries++) {
        h->port = rh_free_port();
        if (h->port > 0 && spawn(h) == 0)
            return 0;
    }
    return -1;
}

int rh_restart(struct rh *h)
{
    if (h->pid)
        rh_stop(h, false);
    return spawn(h);
}

void rh_stop(struct rh *h, bool kill9)
{
    if (!h->pid)
        return;
    kill(h->pid, kill9 ? SIGKILL : SIGTERM);
    int st;
    for (int i = 0; i < 500; i++) {
        if (waitpid(h->pid, &st, WNOHANG) == h->pid) {
            h->pid = 0;
            return;
        }
        sleep_ms(10);
    }
    kill(h->pid, SIGKILL);
    waitpid(h->pid, &st, 0);
    h->pid = 0;
}

void rh_free(struct rh *h)
{
    rh_stop(h, true);
    if (h->dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "rh_free: could not remove %s\n", h->dir);
        h->dir[0] = '\0';
    }
}
