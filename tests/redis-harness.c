/* redis-harness.c -- the store tests' redis-server, on tests/harness.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "redis-harness.h"

static const char *const rh_args[] = {
    "--appendfsync", "always", "--protected-mode", "no",
    "--loglevel", "warning", NULL
};

int rh_start(struct rh *h)
{
    int rc = harness_redis_start_args(&h->r, rh_args);
    h->port = h->r.port;
    return rc < 0 ? -1 : 0;
}

int rh_restart(struct rh *h)
{
    harness_redis_term(&h->r, HARNESS_STOP_TIMEOUT_MS);
    return harness_redis_restart(&h->r) < 0 ? -1 : 0;
}

void rh_stop(struct rh *h, bool kill9)
{
    if (kill9)
        harness_redis_kill(&h->r);
    else
        harness_redis_term(&h->r, HARNESS_STOP_TIMEOUT_MS);
}

void rh_free(struct rh *h)
{
    harness_redis_kill(&h->r);
    harness_rm_rf(h->r.dir);
    h->r.dir[0] = '\0';
}

int rh_free_port(void)
{
    int port = harness_free_port();
    return port > 0 ? port : -1;
}

/* ---- Sentinel ---- */

static redisContext *rh_connect(int port)
{
    struct timeval tv = { 1, 0 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (!c || c->err) {
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

/* A command's reply, or NULL (no connection, no reply). Caller frees. */
static redisReply *rh_cmd(int port, const char *cmd)
{
    redisContext *c = rh_connect(port);
    if (!c)
        return NULL;
    redisReply *r = redisCommand(c, cmd);
    redisFree(c);
    return r;
}

void rh_role(int port, char *buf, size_t len)
{
    redisReply *r = rh_cmd(port, "INFO replication");
    buf[0] = '\0';
    if (r && r->type == REDIS_REPLY_STRING) {
        const char *p = strstr(r->str, "role:");
        if (p)
            snprintf(buf, len, "%.*s", (int)strcspn(p + 5, "\r\n"), p + 5);
    }
    if (r)
        freeReplyObject(r);
}

/* Replicas the master at `port` lists as connected and online. */
static int rh_online_replicas(int port)
{
    redisReply *r = rh_cmd(port, "INFO replication");
    int n = -1;
    if (r && r->type == REDIS_REPLY_STRING) {
        n = 0;
        for (const char *p = r->str; (p = strstr(p, "state=online")); p++)
            n++;
    }
    if (r)
        freeReplyObject(r);
    return n;
}

/* Elements of the array reply of `cmd` at sentinel port, or -1. */
static int rh_count(int port, const char *cmd, const char *need_flags)
{
    redisReply *r = rh_cmd(port, cmd);
    int n = -1;
    if (r && r->type == REDIS_REPLY_ARRAY) {
        n = 0;
        for (size_t i = 0; i < r->elements; i++) {
            const redisReply *e = r->element[i];
            bool ok = !need_flags;
            for (size_t k = 0; need_flags && k + 1 < e->elements; k += 2)
                if (!strcmp(e->element[k]->str, "flags") &&
                    !strcmp(e->element[k + 1]->str, need_flags))
                    ok = true;
            n += ok;
        }
    }
    if (r)
        freeReplyObject(r);
    return n;
}

static int rh_sentinel_spawn(struct rh_sentinel *t, int i, int down_after_ms,
                             int failover_timeout_ms)
{
    char conf[320], log[320];
    snprintf(conf, sizeof(conf), "%s/sentinel%d.conf", t->dir, i);
    snprintf(log, sizeof(log), "%s/sentinel%d.log", t->dir, i);
    for (int attempt = 0; attempt < 5; attempt++) {
        t->sport[i] = harness_free_port();
        FILE *f = fopen(conf, "w");
        if (!f)
            return -errno;
        /* The sentinel rewrites this file (its state): it must be its
         * own, writable, and name the master before the master's other
         * settings. */
        fprintf(f, "port %d\nbind 127.0.0.1\nprotected-mode no\n"
                "daemonize no\nlogfile \"\"\ndir %s\n"
                "sentinel monitor %s 127.0.0.1 %d 2\n"
                "sentinel down-after-milliseconds %s %d\n"
                "sentinel failover-timeout %s %d\n"
                "sentinel parallel-syncs %s 1\n",
                t->sport[i], t->dir, t->name, t->master.port, t->name,
                down_after_ms, t->name, failover_timeout_ms, t->name);
        fclose(f);
        const char *argv[] = { "redis-sentinel", conf, NULL };
        int rc = harness_proc_start(&t->sentinel[i], argv, log, true);
        if (rc < 0)
            return rc;
        rc = harness_proc_wait_ping(&t->sentinel[i], t->sport[i],
                                    HARNESS_START_TIMEOUT_MS);
        if (rc != -ECHILD)          /* -ECHILD: the port was taken */
            return rc;
    }
    return -EADDRINUSE;
}

int rh_sentinel_start(struct rh_sentinel *t, const char *name,
                      int down_after_ms, int failover_timeout_ms)
{
    int rc;
    memset(t, 0, sizeof(*t));
    snprintf(t->name, sizeof(t->name), "%s", name);
    if ((rc = harness_redis_start_args(&t->master, rh_args)) < 0)
        return rc;
    snprintf(t->mport, sizeof(t->mport), "%d", t->master.port);
    size_t n = 0;
    for (; rh_args[n]; n++)
        t->rargs[n] = rh_args[n];
    t->rargs[n++] = "--replicaof";
    t->rargs[n++] = "127.0.0.1";
    t->rargs[n++] = t->mport;
    t->rargs[n] = NULL;
    if ((rc = harness_redis_start_args(&t->replica, t->rargs)) < 0)
        return rc;
    long long deadline = harness_now_ms() + HARNESS_START_TIMEOUT_MS;
    while (rh_online_replicas(t->master.port) < 1) {
        if (harness_now_ms() > deadline) {
            fprintf(stderr, "rh: the replica did not come online\n");
            return -ETIMEDOUT;
        }
        harness_pause_ms(20);
    }
    if ((rc = harness_tmpdir(t->dir, sizeof(t->dir), "ccroute-sentinel")) < 0)
        return rc;
    for (int i = 0; i < RH_SENTINELS; i++)
        if ((rc = rh_sentinel_spawn(t, i, down_after_ms,
                                    failover_timeout_ms)) < 0)
            return rc;
    /* Sentinels find the replica through the master's INFO and each
     * other through hello messages on the master (every 2 s). */
    char rep[160], sen[160];
    snprintf(rep, sizeof(rep), "SENTINEL replicas %s", t->name);
    snprintf(sen, sizeof(sen), "SENTINEL sentinels %s", t->name);
    deadline = harness_now_ms() + 20000;
    for (;;) {
        bool all = true;
        for (int i = 0; i < RH_SENTINELS && all; i++)
            all = rh_count(t->sport[i], rep, "slave") == 1 &&
                  rh_count(t->sport[i], sen, NULL) == RH_SENTINELS - 1;
        if (all)
            return 0;
        if (harness_now_ms() > deadline) {
            fprintf(stderr, "rh: the sentinels did not find each other\n");
            return -ETIMEDOUT;
        }
        harness_pause_ms(50);
    }
}

void rh_sentinel_free(struct rh_sentinel *t)
{
    for (int i = 0; i < RH_SENTINELS; i++)
        harness_proc_kill(&t->sentinel[i]);
    if (t->dir[0])
        harness_rm_rf(t->dir);
    t->dir[0] = '\0';
    if (t->master.dir[0])
        harness_redis_stop(&t->master);
    if (t->replica.dir[0])
        harness_redis_stop(&t->replica);
    t->master.dir[0] = t->replica.dir[0] = '\0';
}

int rh_sentinel_master(struct rh_sentinel *t, int i)
{
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "SENTINEL get-master-addr-by-name %s",
             t->name);
    redisReply *r = rh_cmd(t->sport[i], cmd);
    int port = -1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[1]->type == REDIS_REPLY_STRING)
        port = atoi(r->element[1]->str);
    if (r)
        freeReplyObject(r);
    return port;
}

int rh_sentinel_wait_master(struct rh_sentinel *t, int port, int timeout_ms)
{
    long long deadline = harness_now_ms() + timeout_ms;
    for (;;) {
        int agree = 0, other = 0;
        for (int i = 0; i < RH_SENTINELS; i++) {
            int p = rh_sentinel_master(t, i);
            agree += p == port;
            other += p > 0 && p != port;
        }
        if (agree >= 2 && other == 0)
            return 0;
        if (harness_now_ms() > deadline)
            return -ETIMEDOUT;
        harness_pause_ms(50);
    }
}

static int rh_wait_online(int master_port, int want, int timeout_ms)
{
    long long deadline = harness_now_ms() + timeout_ms;
    while (rh_online_replicas(master_port) != want) {
        if (harness_now_ms() > deadline)
            return -ETIMEDOUT;
        harness_pause_ms(20);
    }
    return 0;
}

int rh_link_cut(int port, int master_port, int timeout_ms)
{
    redisReply *r = rh_cmd(port, "CONFIG SET masterauth wrong-on-purpose");
    if (r)
        freeReplyObject(r);
    r = rh_cmd(port, "CLIENT KILL TYPE master");
    if (r)
        freeReplyObject(r);
    return rh_wait_online(master_port, 0, timeout_ms);
}

int rh_link_restore(int port, int master_port, int timeout_ms)
{
    redisContext *c = rh_connect(port);
    if (c) {
        redisReply *r = redisCommand(c, "CONFIG SET masterauth %s", "");
        if (r)
            freeReplyObject(r);
        redisFree(c);
    }
    return rh_wait_online(master_port, 1, timeout_ms);
}
