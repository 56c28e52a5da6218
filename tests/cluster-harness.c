/* cluster-harness.c -- a private Redis Cluster, on tests/harness.c. */
#include "cluster-harness.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "cluster.h"

/* The one running cluster, for the exit hook. */
static struct cluster_harness *ch_live;

static void ch_atexit(void)
{
    if (ch_live)
        ch_stop(ch_live);
}

static redisReply *ch_vcommand(struct cluster_harness *h, int i,
                               const char *fmt, va_list ap)
{
    struct timeval tv = { .tv_sec = 2 };
    if (i < 0 || i >= h->n || h->node[i].killed)
        return NULL;
    redisContext *rc = redisConnectWithTimeout("127.0.0.1",
                                               h->node[i].r.port, tv);
    if (!rc || rc->err) {
        if (rc)
            redisFree(rc);
        return NULL;
    }
    redisSetTimeout(rc, tv);
    redisReply *r = redisvCommand(rc, fmt, ap);
    redisFree(rc);
    return r;
}

redisReply *ch_command(struct cluster_harness *h, int i, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = ch_vcommand(h, i, fmt, ap);
    va_end(ap);
    return r;
}

redisReply *ch_command_argv(struct cluster_harness *h, int i, int argc,
                            const char **argv)
{
    struct timeval tv = { .tv_sec = 5 };
    if (i < 0 || i >= h->n || h->node[i].killed)
        return NULL;
    redisContext *rc = redisConnectWithTimeout("127.0.0.1",
                                               h->node[i].r.port, tv);
    if (!rc || rc->err) {
        if (rc)
            redisFree(rc);
        return NULL;
    }
    redisSetTimeout(rc, tv);
    redisReply *r = redisCommandArgv(rc, argc, argv, NULL);
    redisFree(rc);
    return r;
}

int ch_migrate_keys(struct cluster_harness *h, int src, int dst,
                    unsigned slot, int batch, void (*between)(void *arg),
                    void *arg)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", h->node[dst].r.port);
    for (;;) {
        redisReply *keys = ch_command(h, src, "CLUSTER GETKEYSINSLOT %u %d",
                                      slot, batch);
        if (!keys || keys->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(keys);
            return -EIO;
        }
        if (keys->elements == 0) {
            freeReplyObject(keys);
            return 0;
        }
        const char *argv[8 + 64];
        int n = 0;
        argv[n++] = "MIGRATE";
        argv[n++] = "127.0.0.1";
        argv[n++] = port;
        argv[n++] = "";
        argv[n++] = "0";
        argv[n++] = "5000";
        argv[n++] = "KEYS";
        for (size_t k = 0; k < keys->elements && n < 8 + 64; k++)
            argv[n++] = keys->element[k]->str;
        redisReply *r = ch_command_argv(h, src, n, argv);
        bool ok = r && r->type == REDIS_REPLY_STATUS &&
                  !strcmp(r->str, "OK");
        if (!ok)
            fprintf(stderr, "cluster-harness: MIGRATE: %s\n",
                    r && r->str ? r->str : "no reply");
        freeReplyObject(r);
        freeReplyObject(keys);
        if (!ok)
            return -EIO;
        if (between)
            between(arg);
    }
}

int ch_node_by_port(const struct cluster_harness *h, int port)
{
    for (int i = 0; i < h->n; i++)
        if (h->node[i].r.port == port)
            return i;
    return -1;
}

static int ch_table(struct cluster_harness *h, int ask,
                    struct cluster_table *t);

/* Whether node i reports cluster_state:ok, knows every node, and lists
 * every live node in CLUSTER SLOTS (replicas are listed only once the
 * node has learned whose replicas they are). */
static bool node_ok(struct cluster_harness *h, int i, int live)
{
    struct cluster_table t;
    if (ch_table(h, i, &t) < 0)
        return false;
    bool all = (int)t.nnodes == live;
    cluster_table_free(&t);
    if (!all)
        return false;
    char want[64];
    redisReply *r = ch_command(h, i, "CLUSTER INFO");
    bool ok = r && r->type == REDIS_REPLY_STRING &&
              strstr(r->str, "cluster_state:ok");
    snprintf(want, sizeof(want), "cluster_known_nodes:%d\r", h->n);
    ok = ok && strstr(r->str, want);
    freeReplyObject(r);
    return ok;
}

int ch_wait_ok(struct cluster_harness *h, int timeout_ms)
{
    long long deadline = harness_now_ms() + timeout_ms;
    for (;;) {
        int good = 0, live = 0;
        for (int i = 0; i < h->n; i++)
            live += !h->node[i].killed;
        for (int i = 0; i < h->n; i++)
            if (!h->node[i].killed)
                good += node_ok(h, i, live);
        if (good == live)
            return 0;
        if (harness_now_ms() >= deadline)
            return -ETIMEDOUT;
        harness_pause_ms(20);
    }
}

/* Node ask's CLUSTER SLOTS as a table (cluster_table_parse is tested
 * apart with constructed replies). */
static int ch_table(struct cluster_harness *h, int ask,
                    struct cluster_table *t)
{
    redisReply *r = ch_command(h, ask, "CLUSTER SLOTS");
    int rc = r ? cluster_table_parse(t, r, "127.0.0.1") : -EIO;
    freeReplyObject(r);
    return rc;
}

int ch_slot_owner(struct cluster_harness *h, int ask, unsigned slot)
{
    struct cluster_table t;
    int idx = -1;
    if (ch_table(h, ask, &t) < 0)
        return -1;
    const struct cluster_table_node *n = cluster_table_owner(&t, slot);
    if (n)
        idx = ch_node_by_port(h, n->port);
    cluster_table_free(&t);
    return idx;
}

int ch_replica_of(struct cluster_harness *h, int ask, int m)
{
    struct cluster_table t;
    int idx = -1, mi = -1;
    if (ch_table(h, ask, &t) < 0)
        return -1;
    for (size_t i = 0; i < t.nnodes; i++)
        if (t.nodes[i].port == h->node[m].r.port)
            mi = (int)i;
    for (size_t i = 0; mi >= 0 && i < t.nnodes && idx < 0; i++)
        if (t.nodes[i].primary == mi)
            idx = ch_node_by_port(h, t.nodes[i].port);
    cluster_table_free(&t);
    return idx;
}

void ch_kill(struct cluster_harness *h, int i)
{
    harness_redis_kill(&h->node[i].r);
    h->node[i].killed = true;
}

void ch_stop(struct cluster_harness *h)
{
    for (int i = 0; i < h->n; i++) {
        harness_redis_kill(&h->node[i].r);
        harness_rm_rf(h->node[i].r.dir);
        h->node[i].r.dir[0] = '\0';
    }
    h->n = 0;
    if (h->dir[0])
        harness_rm_rf(h->dir);
    h->dir[0] = '\0';
    if (ch_live == h)
        ch_live = NULL;
}

static int node_start(struct cluster_harness *h, int i)
{
    struct ch_node *nd = &h->node[i];
    int bus = harness_free_port();
    if (bus < 0)
        return bus;
    snprintf(nd->bus, sizeof(nd->bus), "%d", bus);
    const char *args[] = {
        "--cluster-enabled", "yes",
        "--cluster-config-file", "nodes.conf",
        "--cluster-node-timeout", "1000",
        "--cluster-port", nd->bus,
        /* A replica may take over however old its data looks: the test
         * kills a primary seconds after the cluster formed. */
        "--cluster-replica-validity-factor", "0",
        NULL
    };
    memcpy(nd->args, args, sizeof(args));
    int rc = harness_redis_start_args(&nd->r, nd->args);
    h->n = i + 1;
    if (rc < 0)
        return rc;
    redisReply *r = ch_command(h, i, "CLUSTER MYID");
    if (!r || r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return -EPROTO;
    }
    snprintf(nd->id, sizeof(nd->id), "%s", r->str);
    freeReplyObject(r);
    return 0;
}

int ch_start(struct cluster_harness *h, int masters, int replicas)
{
    int total = masters * (1 + replicas), rc;
    memset(h, 0, sizeof(*h));
    if (total > CH_NODES_MAX || masters < 3)
        return -EINVAL;
    ch_live = h;
    static bool hooked;
    if (!hooked) {
        atexit(ch_atexit);
        hooked = true;
    }
    rc = harness_tmpdir(h->dir, sizeof(h->dir), "ccroute-cluster");
    if (rc < 0)
        goto fail;
    snprintf(h->log, sizeof(h->log), "%s/redis-cli.log", h->dir);
    for (int i = 0; i < total; i++) {
        rc = node_start(h, i);
        if (rc < 0)
            goto fail;
    }

    char addrs[CH_NODES_MAX][32], reps[8];
    const char *argv[CH_NODES_MAX + 8];
    int n = 0;
    snprintf(reps, sizeof(reps), "%d", replicas);
    argv[n++] = "redis-cli";
    argv[n++] = "--cluster";
    argv[n++] = "create";
    for (int i = 0; i < total; i++) {
        snprintf(addrs[i], sizeof(addrs[i]), "127.0.0.1:%d", h->node[i].r.port);
        argv[n++] = addrs[i];
    }
    argv[n++] = "--cluster-replicas";
    argv[n++] = reps;
    argv[n++] = "--cluster-yes";
    argv[n] = NULL;
    struct harness_proc p;
    rc = harness_proc_start(&p, argv, h->log, true);
    if (rc == 0)
        rc = harness_proc_wait(&p, CH_START_TIMEOUT_MS);
    if (rc != 0) {
        fprintf(stderr, "cluster-harness: redis-cli --cluster create "
                "exited with %d\n", rc);
        harness_log_dump(h->log);
        rc = -EPROTO;
        goto fail;
    }
    rc = ch_wait_ok(h, CH_START_TIMEOUT_MS);
    if (rc < 0) {
        fprintf(stderr, "cluster-harness: the cluster did not reach "
                "cluster_state:ok in %d ms\n", CH_START_TIMEOUT_MS);
        harness_log_dump(h->log);
        goto fail;
    }
    return 0;
fail:
    ch_stop(h);
    return rc;
}
