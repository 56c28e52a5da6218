/* cluster.c -- a Redis Cluster client on hiredis async (see cluster.h).
 *
 * Why it exists. Debian 12 ships hiredis 0.14, which knows nothing of
 * Redis Cluster; the engine needs only a small part of a cluster client
 * (one tenant = one hash tag = one slot), so this is that part, written
 * against the Redis Cluster specification and kept apart from the store.
 *
 * Data. The slot table is `owner[16384]`, a node index per slot. Nodes
 * live in a registry that only grows (seeds, every address CLUSTER SLOTS,
 * MOVED or ASK named), so an index stays valid across table refreshes and
 * a slot's in-flight commands can name the node they were sent to. Each
 * node has at most one hiredis async context, made on first use.
 *
 * Per slot there is a FIFO of the commands issued and not yet called back
 * (`struct slotq`). A command is QUEUED (not on any connection), SENT, or
 * DONE (its final reply came, but an earlier command of the slot is still
 * out: it waits so that callbacks keep the issue order).
 *
 * Order, the promise and how it is kept:
 *  1. Callbacks of one slot run in issue order: only the head of the
 *     slot's FIFO is ever called back. A reply that comes early (its
 *     predecessor was redirected and resent) is moved out of hiredis's
 *     reply object (a shallow move: O(1), no copy of the data) and kept
 *     until the predecessor is answered.
 *  2. Commands of one slot are sent in issue order, and at any moment all
 *     of a slot's in-flight commands are on ONE connection. One connection
 *     delivers and Redis executes in order, so while nothing is redirected
 *     the execution order is the issue order, pipelined.
 *  3. A redirection or a fault of any in-flight command *holds* the slot:
 *     nothing new of that slot is sent until every in-flight command of it
 *     has been answered (drained); then the commands still unanswered are
 *     sent again, in issue order, before the commands issued meanwhile.
 *     For MOVED this keeps the execution order exactly: a node that
 *     answers MOVED for a slot answers MOVED to every later command of it
 *     too, so the redirected commands are a suffix of those sent. For ASK
 *     the order is kept among commands on the SAME key (a key absent from
 *     the source stays absent; the store's batches all name its lease
 *     key); two commands on different keys of a slot being migrated may
 *     execute in the other order (the second's key had not moved yet),
 *     and likewise around a TRYAGAIN: the specification gives no way to
 *     order them short of sending one at a time.
 *  4. A connection lost with commands on it: they are resent (after a
 *     table refresh and a backoff). One of them may already have run, so
 *     delivery is at least once: send idempotent commands, or commands
 *     that detect a repetition (the store's batches carry sequence
 *     numbers for this reason).
 *
 * Faults. MOVED: the table entry is corrected at once, a full refresh is
 * asked for in the background, and the command goes to the new owner.
 * ASK: the command goes once to the named node, preceded by ASKING, on
 * the same connection. TRYAGAIN, CLUSTERDOWN, a lost connection, a connect
 * or a reply that takes too long: the command is retried after a backoff
 * (retry_min_ms doubling to retry_max_ms per command) and, except for
 * TRYAGAIN, after a table refresh from any live node (so a failover is
 * followed: the promoted replica shows up in CLUSTER SLOTS). A command
 * that needs a retry retry_timeout_ms after it was issued, or was
 * redirected max_redirects times, is called back with NULL.
 *
 * Time. One libuv timer, armed for the next instant something is due
 * (a held slot's retry, a connect or reply deadline, a table refresh);
 * nothing polls while all is well. The loop never blocks, with one limit
 * of hiredis 0.14: a node given by host NAME is resolved with a blocking
 * getaddrinfo inside redisAsyncConnect, so seeds should be IP addresses
 * (CLUSTER SLOTS gives IP addresses unless the cluster is configured
 * otherwise).
 *
 * Memory. A command's RESP text is kept until it is answered (it may have
 * to be sent again). Command records and their buffers are recycled
 * through a free list, so a steady load allocates nothing here; hiredis
 * allocates its replies as always.
 */
#include "cluster.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <hiredis/adapters/libuv.h>

#include "clock.h"
#include "log.h"

#define NODES_MAX 1024          /* the specification's suggested ceiling */
#define BUF_KEEP 65536          /* recycled command buffers above: freed */

enum cmd_state { CMD_QUEUED = 0, CMD_SENT, CMD_DONE };

struct cluster_cmd {
    struct cluster_cmd *next;   /* slot FIFO; free list */
    struct cluster *c;
    cluster_reply_cb cb;
    void *priv;
    char *buf;                  /* RESP text of the command */
    size_t len, cap;
    uint64_t seq;               /* issue order (client wide) */
    uint64_t issued_us;
    uint16_t slot;
    uint8_t state;
    int ask_node;               /* >= 0: send once with ASKING there */
    int sent_node;
    unsigned redirects, retries;
    redisReply *reply;          /* DONE: owned reply, NULL = failure */
    char err[320];              /* DONE with NULL: why */
};

struct slotq {
    struct cluster_cmd *head, *tail;
    struct cluster_cmd *first_queued;   /* earliest QUEUED command */
    uint32_t inflight;                  /* SENT commands */
    uint16_t node;                      /* their node (when inflight) */
    bool held;                          /* drain, then resend at retry_at */
    uint64_t retry_at_us;
};

struct cluster_node {
    struct cluster *c;
    unsigned idx;
    char host[CLUSTER_HOST_MAX];
    int port;
    redisAsyncContext *ac;      /* NULL: not connected */
    bool connected;             /* the connect callback said OK */
    uint64_t connect_started_us;
    unsigned owed;              /* replies owed on ac */
    uint64_t progress_us;       /* last reply (or first send when idle) */
    uint64_t failed_us;         /* last time its connection failed */
};

struct cluster {
    uv_loop_t *loop;
    struct cluster_config cfg;
    char password[256];
    struct cluster_node **nodes;
    unsigned nnodes;
    unsigned nseeds;            /* nodes[0..nseeds) are the seeds */
    uint16_t owner[CLUSTER_SLOTS];
    bool table_known;
    struct slotq *slots;        /* CLUSTER_SLOTS entries */
    unsigned nheld;
    uint64_t next_seq;
    struct cluster_cmd *free_cmds;

    /* slot table refresh */
    bool refresh_wanted;        /* a refresh should start at refresh_at */
    bool refresh_inflight;
    bool refresh_again;         /* asked for while one was in flight */
    uint64_t refresh_at_us;
    uint32_t refresh_backoff_ms;
    unsigned refresh_rr;        /* round robin over the registry */

    uv_timer_t *timer;          /* own allocation: closes after free */
    bool timer_armed;
    uint64_t timer_due_us;

    cluster_table_cb table_cb;
    void *table_arg;
    const char *errstr;
    bool freeing;
    struct cluster_stats st;
};

/* ------------------------------------------------------------------ */
/* pure: CRC16, key slot, CLUSTER SLOTS */

uint16_t cluster_crc16(const void *buf, size_t len)
{
    /* Bitwise rather than a 512-byte table: a key is hashed once per
     * command, and the routing key of the engine's commands is a short
     * tenant tag, so the table would buy nothing measurable. */
    const unsigned char *p = buf;
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021)
                                 : (uint16_t)(crc << 1);
    }
    return crc;
}

unsigned cluster_key_slot(const void *key, size_t len)
{
    const char *k = key;
    const char *open = memchr(k, '{', len);
    if (open) {
        size_t start = (size_t)(open - k) + 1;
        const char *close = memchr(k + start, '}', len - start);
        /* "{}" (nothing between) hashes the whole key: the spec's rule,
         * so that "{}" in a key is not a tag that sends every such key to
         * one slot. */
        if (close && close > k + start)
            return cluster_crc16(k + start, (size_t)(close - (k + start))) &
                   (CLUSTER_SLOTS - 1);
    }
    return cluster_crc16(k, len) & (CLUSTER_SLOTS - 1);
}

void cluster_table_free(struct cluster_table *t)
{
    free(t->nodes);
    t->nodes = NULL;
    t->nnodes = 0;
}

const struct cluster_table_node *
cluster_table_owner(const struct cluster_table *t, unsigned slot)
{
    if (slot >= CLUSTER_SLOTS || t->slot[slot] == CLUSTER_NO_NODE)
        return NULL;
    return &t->nodes[t->slot[slot]];
}

/* Index of host:port in t->nodes, added when new (as a replica of
 * `primary`, or a primary when primary < 0); a node listed twice keeps
 * the role it was first seen with (a primary owning several ranges is
 * one node). -ENOMEM past NODES_MAX nodes or out of memory. */
static int table_node(struct cluster_table *t, size_t *cap, const char *host,
                      size_t hostlen, int port, int primary)
{
    for (size_t i = 0; i < t->nnodes; i++)
        if (t->nodes[i].port == port && strlen(t->nodes[i].host) == hostlen &&
            !memcmp(t->nodes[i].host, host, hostlen))
            return (int)i;
    if (t->nnodes == NODES_MAX)
        return -ENOMEM;
    if (t->nnodes == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        struct cluster_table_node *n = realloc(t->nodes, nc * sizeof(*n));
        if (!n)
            return -ENOMEM;
        t->nodes = n;
        *cap = nc;
    }
    struct cluster_table_node *n = &t->nodes[t->nnodes];
    memcpy(n->host, host, hostlen);
    n->host[hostlen] = '\0';
    n->port = port;
    n->primary = primary;
    return (int)t->nnodes++;
}

/* A node entry [host, port, ...] -> host/port; 1 when it is usable, 0 for
 * an unknown endpoint ("?"), -EPROTO for another shape. */
static int node_entry(const redisReply *e, const char *answered_host,
                      const char **host, size_t *hostlen, int *port)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
        e->element[0]->type != REDIS_REPLY_STRING ||
        e->element[1]->type != REDIS_REPLY_INTEGER ||
        e->element[1]->integer <= 0 || e->element[1]->integer > 65535)
        return -EPROTO;
    *host = e->element[0]->str;
    *hostlen = e->element[0]->len;
    *port = (int)e->element[1]->integer;
    if (*hostlen == 1 && **host == '?')
        return 0;
    if (*hostlen == 0) {            /* "the node you asked" */
        *host = answered_host;
        *hostlen = strlen(answered_host);
    }
    if (*hostlen == 0 || *hostlen >= CLUSTER_HOST_MAX)
        return -EPROTO;
    return 1;
}

int cluster_table_parse(struct cluster_table *t, const redisReply *reply,
                        const char *answered_host)
{
    size_t cap = 0;
    int rc = -EPROTO;
    t->nodes = NULL;
    t->nnodes = 0;
    for (unsigned s = 0; s < CLUSTER_SLOTS; s++)
        t->slot[s] = CLUSTER_NO_NODE;
    if (!reply || reply->type != REDIS_REPLY_ARRAY)
        goto fail;
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *r = reply->element[i];
        const char *host;
        size_t hostlen;
        int port, primary, ok;
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
            r->element[0]->type != REDIS_REPLY_INTEGER ||
            r->element[1]->type != REDIS_REPLY_INTEGER)
            goto fail;
        long long first = r->element[0]->integer;
        long long last = r->element[1]->integer;
        if (first < 0 || last < first || last >= CLUSTER_SLOTS)
            goto fail;
        ok = node_entry(r->element[2], answered_host, &host, &hostlen, &port);
        if (ok < 0)
            goto fail;
        if (ok == 0)
            continue;           /* unknown endpoint: the range stays open */
        primary = table_node(t, &cap, host, hostlen, port, -1);
        if (primary < 0) {
            rc = primary;
            goto fail;
        }
        for (long long s = first; s <= last; s++)
            t->slot[s] = (uint16_t)primary;
        for (size_t j = 3; j < r->elements; j++) {
            ok = node_entry(r->element[j], answered_host, &host, &hostlen,
                            &port);
            if (ok < 0)
                goto fail;
            if (ok == 0)
                continue;
            int ri = table_node(t, &cap, host, hostlen, port, primary);
            if (ri < 0) {
                rc = ri;
                goto fail;
            }
        }
    }
    return 0;
fail:
    cluster_table_free(t);
    for (unsigned s = 0; s < CLUSTER_SLOTS; s++)
        t->slot[s] = CLUSTER_NO_NODE;
    return rc;
}

/* ------------------------------------------------------------------ */
/* the client: small helpers */

static uint64_t now_us(void)
{
    return clock_mono_us();
}

void cluster_config_default(struct cluster_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->connect_timeout_ms = 1000;
    cfg->command_timeout_ms = 2000;
    cfg->retry_min_ms = 10;
    cfg->retry_max_ms = 1000;
    cfg->retry_timeout_ms = 10000;
    cfg->max_redirects = 16;
}

static void schedule(struct cluster *c, uint64_t due_us);
static void request_refresh(struct cluster *c);
static void pump(struct cluster *c, unsigned slot);

/* Splits "host:port" (the last ':' separates, so an IPv6 address without
 * brackets works too). 0 or -EINVAL. */
static int split_addr(const char *s, size_t len, char *host, size_t hostcap,
                      int *port)
{
    const char *colon = NULL;
    for (size_t i = 0; i < len; i++)
        if (s[i] == ':')
            colon = s + i;
    if (!colon)
        return -EINVAL;
    size_t hl = (size_t)(colon - s);
    const char *p = colon + 1;
    size_t pl = len - hl - 1;
    if (hl >= hostcap || pl == 0 || pl > 5)
        return -EINVAL;
    long v = 0;
    for (size_t i = 0; i < pl; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -EINVAL;
        v = v * 10 + (p[i] - '0');
    }
    if (v <= 0 || v > 65535)
        return -EINVAL;
    memcpy(host, s, hl);
    host[hl] = '\0';
    *port = (int)v;
    return 0;
}

/* Index of the node host:port in the registry, added when new; -ENOMEM. */
static int node_get(struct cluster *c, const char *host, int port)
{
    for (unsigned i = 0; i < c->nnodes; i++)
        if (c->nodes[i]->port == port && !strcmp(c->nodes[i]->host, host))
            return (int)i;
    if (c->nnodes == NODES_MAX)
        return -ENOMEM;
    struct cluster_node *n = calloc(1, sizeof(*n));
    struct cluster_node **a = realloc(c->nodes,
                                      (c->nnodes + 1) * sizeof(*a));
    if (!n || !a) {
        free(n);
        if (a)
            c->nodes = a;
        return -ENOMEM;
    }
    c->nodes = a;
    n->c = c;
    n->idx = c->nnodes;
    snprintf(n->host, sizeof(n->host), "%s", host);
    n->port = port;
    c->nodes[c->nnodes] = n;
    return (int)c->nnodes++;
}

/* ------------------------------------------------------------------ */
/* connections */

static void node_owe(struct cluster *c, struct cluster_node *n)
{
    if (n->owed++ == 0) {
        n->progress_us = now_us();
        schedule(c, n->progress_us +
                    (uint64_t)c->cfg.command_timeout_ms * 1000);
    }
}

static void node_paid(struct cluster_node *n)
{
    if (n->owed)
        n->owed--;
    n->progress_us = now_us();
}

/* The node's connection failed or closed: forget the context (hiredis
 * frees it) and refresh the table, since a node that went away is how a
 * failover looks from here. */
static void node_lost(struct cluster *c, struct cluster_node *n,
                      const redisAsyncContext *ac, const char *why)
{
    if (n->ac != ac)
        return;
    n->ac = NULL;
    n->owed = 0;
    n->failed_us = now_us();
    if (n->connected)
        log_info("cluster: node %s:%d: connection lost (%s)", n->host,
                 n->port, why);
    else
        log_debug("cluster: node %s:%d: cannot connect (%s)", n->host,
                  n->port, why);
    n->connected = false;
    if (!c->freeing)
        request_refresh(c);
}

/* Drops the node's connection ourselves (a deadline passed, AUTH
 * refused). hiredis calls every owed callback with NULL (at once, or when
 * the callback we are in returns), which resends those commands. */
static void node_drop(struct cluster *c, struct cluster_node *n,
                      const char *why)
{
    redisAsyncContext *ac = n->ac;
    if (!ac)
        return;
    node_lost(c, n, ac, why);
    redisAsyncFree(ac);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct cluster_node *n = ac->data;
    if (!n || n->ac != ac)
        return;
    if (status != REDIS_OK) {
        node_lost(n->c, n, ac, ac->errstr[0] ? ac->errstr : "connect failed");
        return;
    }
    n->connected = true;
    n->c->st.connects++;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct cluster_node *n = ac->data;
    if (!n)
        return;
    node_lost(n->c, n, ac, ac->err ? ac->errstr : "closed");
}

static void on_auth_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct cluster_node *n = priv;
    redisReply *reply = r;
    if (n->c->freeing || !reply)
        return;
    node_paid(n);
    if (reply->type == REDIS_REPLY_ERROR && n->ac == ac) {
        log_error("cluster: node %s:%d: redis authentication failed: %s",
                  n->host, n->port, reply->str);
        node_drop(n->c, n, "redis authentication failed");
    }
}

/* The node's context, connecting first when there is none. NULL when
 * hiredis cannot even start a connection (the failure counts as a lost
 * connection for the caller). */
static redisAsyncContext *node_ac(struct cluster *c, struct cluster_node *n)
{
    if (n->ac)
        return n->ac;
    redisAsyncContext *ac = redisAsyncConnect(n->host, n->port);
    if (!ac || ac->err) {
        log_debug("cluster: node %s:%d: cannot connect (%s)", n->host,
                  n->port, ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        n->failed_us = now_us();
        return NULL;
    }
    ac->data = n;
    if (redisLibuvAttach(ac, c->loop) != REDIS_OK) {
        ac->data = NULL;
        redisAsyncFree(ac);
        n->failed_us = now_us();
        return NULL;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    n->ac = ac;
    n->connected = false;
    n->owed = 0;
    n->connect_started_us = now_us();
    schedule(c, n->connect_started_us +
                (uint64_t)c->cfg.connect_timeout_ms * 1000);
    if (c->password[0] &&
        redisAsyncCommand(ac, on_auth_reply, n, "AUTH %s", c->password) ==
            REDIS_OK)
        node_owe(c, n);
    return ac;
}

/* ------------------------------------------------------------------ */
/* commands */

static struct cluster_cmd *cmd_alloc(struct cluster *c)
{
    struct cluster_cmd *cmd = c->free_cmds;
    if (cmd) {
        c->free_cmds = cmd->next;
    } else {
        cmd = calloc(1, sizeof(*cmd));
        if (!cmd)
            return NULL;
    }
    cmd->next = NULL;
    cmd->c = c;
    cmd->state = CMD_QUEUED;
    cmd->ask_node = -1;
    cmd->sent_node = -1;
    cmd->redirects = cmd->retries = 0;
    cmd->reply = NULL;
    cmd->err[0] = '\0';
    return cmd;
}

static void cmd_recycle(struct cluster *c, struct cluster_cmd *cmd)
{
    if (cmd->cap > BUF_KEEP) {
        free(cmd->buf);
        cmd->buf = NULL;
        cmd->cap = 0;
    }
    cmd->next = c->free_cmds;
    c->free_cmds = cmd;
}

/* Writes argv as one RESP array into cmd->buf (kept for resends). */
static int cmd_format(struct cluster_cmd *cmd, int argc, const char **argv,
                      const size_t *argvlen)
{
    size_t need = 32;
    for (int i = 0; i < argc; i++)
        need += 32 + (argvlen ? argvlen[i] : strlen(argv[i]));
    if (need > cmd->cap) {
        char *b = realloc(cmd->buf, need);
        if (!b)
            return -ENOMEM;
        cmd->buf = b;
        cmd->cap = need;
    }
    char *p = cmd->buf;
    p += sprintf(p, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        size_t l = argvlen ? argvlen[i] : strlen(argv[i]);
        p += sprintf(p, "$%zu\r\n", l);
        memcpy(p, argv[i], l);
        p += l;
        *p++ = '\r';
        *p++ = '\n';
    }
    cmd->len = (size_t)(p - cmd->buf);
    return 0;
}

static void on_cmd_reply(redisAsyncContext *ac, void *r, void *priv);

static void on_asking_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct cluster_node *n = priv;
    /* An ASKING refused shows in the reply of the command after it (a
     * MOVED or ASK again), so only the accounting matters here. */
    if (!n->c->freeing && r)
        node_paid(n);
}

/* Writes cmd to node `target` (ASKING first when the command was told
 * ASK for that node). 0, or -EIO when there is no connection to write to
 * (cmd is unchanged then). */
static int cmd_send(struct cluster *c, struct slotq *q,
                    struct cluster_cmd *cmd, unsigned target)
{
    struct cluster_node *n = c->nodes[target];
    redisAsyncContext *ac = node_ac(c, n);
    if (!ac)
        return -EIO;
    if (cmd->ask_node == (int)target) {
        if (redisAsyncCommand(ac, on_asking_reply, n, "ASKING") != REDIS_OK)
            return -EIO;
        node_owe(c, n);
    }
    if (redisAsyncFormattedCommand(ac, on_cmd_reply, cmd, cmd->buf,
                                   cmd->len) != REDIS_OK)
        return -EIO;
    node_owe(c, n);
    cmd->ask_node = -1;
    cmd->state = CMD_SENT;
    cmd->sent_node = (int)target;
    q->inflight++;
    q->node = (uint16_t)target;
    c->st.sent++;
    return 0;
}

static void hold(struct cluster *c, struct slotq *q, uint64_t due_us)
{
    if (!q->held) {
        q->held = true;
        c->nheld++;
        q->retry_at_us = due_us;
    } else if (due_us > q->retry_at_us) {
        q->retry_at_us = due_us;
    }
    if (!q->inflight)
        schedule(c, q->retry_at_us);
}

/* Calls back the head of the slot while it is DONE (issue order). */
static void deliver_ready(struct cluster *c, struct slotq *q)
{
    while (q->head && q->head->state == CMD_DONE) {
        struct cluster_cmd *cmd = q->head;
        q->head = cmd->next;
        if (!q->head)
            q->tail = NULL;
        c->errstr = cmd->reply ? NULL : cmd->err;
        cmd->cb(c, cmd->reply, cmd->priv);
        c->errstr = NULL;
        if (cmd->reply)
            freeReplyObject(cmd->reply);
        cmd->reply = NULL;
        cmd_recycle(c, cmd);
    }
}

/* Marks cmd DONE with no reply (cb gets NULL) because of `why`. */
static void cmd_fail(struct cluster *c, struct cluster_cmd *cmd,
                     const char *why)
{
    cmd->state = CMD_DONE;
    cmd->reply = NULL;
    snprintf(cmd->err, sizeof(cmd->err), "%s", why);
    c->st.failed++;
}

/* Takes a reply away from hiredis, which frees the object it passed once
 * the callback returns: the top-level struct is copied and the original
 * emptied (a NIL reply with nothing under it), so hiredis frees only that
 * shell. The data itself is not copied. NULL when out of memory. */
static redisReply *reply_take(redisReply *r)
{
    redisReply *own = malloc(sizeof(*own));
    if (!own)
        return NULL;
    *own = *r;
    r->type = REDIS_REPLY_NIL;
    r->str = NULL;
    r->len = 0;
    r->element = NULL;
    r->elements = 0;
    return own;
}

/* cmd needs to go out again: it becomes QUEUED, its slot is held until
 * drained, and resent at now + delay_ms. Gives up (NULL callback) past the
 * command's deadline or redirection budget. */
static void cmd_requeue(struct cluster *c, struct slotq *q,
                        struct cluster_cmd *cmd, bool redirect,
                        uint32_t delay_ms, const char *why)
{
    uint64_t now = now_us();
    if (redirect && ++cmd->redirects > c->cfg.max_redirects) {
        char m[sizeof(cmd->err)];
        snprintf(m, sizeof(m), "too many redirections (%u), last: %.270s",
                 c->cfg.max_redirects, why);
        cmd_fail(c, cmd, m);
        return;
    }
    if (now - cmd->issued_us >= (uint64_t)c->cfg.retry_timeout_ms * 1000) {
        char m[sizeof(cmd->err)];
        snprintf(m, sizeof(m), "gave up after %u ms: %.280s",
                 c->cfg.retry_timeout_ms, why);
        cmd_fail(c, cmd, m);
        return;
    }
    cmd->state = CMD_QUEUED;
    if (!q->first_queued || cmd->seq < q->first_queued->seq)
        q->first_queued = cmd;
    hold(c, q, now + (uint64_t)delay_ms * 1000);
}

static uint32_t backoff_ms(const struct cluster *c, unsigned retries)
{
    uint64_t d = c->cfg.retry_min_ms;
    for (unsigned i = 1; i < retries && d < c->cfg.retry_max_ms; i++)
        d *= 2;
    return d > c->cfg.retry_max_ms ? c->cfg.retry_max_ms : (uint32_t)d;
}

/* Parses "MOVED <slot> <host>:<port>" / "ASK ..." past the word. An empty
 * host means the node that replied. Returns the node index or -1. */
static int redirect_node(struct cluster *c, const char *rest,
                         const struct cluster_node *from, unsigned *slot)
{
    char host[CLUSTER_HOST_MAX];
    int port;
    char *end;
    unsigned long s = strtoul(rest, &end, 10);
    if (end == rest || *end != ' ' || s >= CLUSTER_SLOTS)
        return -1;
    end++;
    if (split_addr(end, strlen(end), host, sizeof(host), &port) < 0)
        return -1;
    *slot = (unsigned)s;
    return node_get(c, host[0] ? host : from->host, port);
}

static void table_changed(struct cluster *c)
{
    if (c->table_cb)
        c->table_cb(c, c->table_arg);
}

/* The reply (or the loss) of one command; the heart of the redirection
 * and retry logic described at the top of the file. */
static void on_cmd_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct cluster_cmd *cmd = priv;
    struct cluster *c = cmd->c;
    redisReply *reply = r;
    if (c->freeing)
        return;                 /* cluster_free calls the command back */
    struct cluster_node *n = c->nodes[cmd->sent_node];
    struct slotq *q = &c->slots[cmd->slot];
    q->inflight--;
    if (!reply) {
        /* The connection died with this command on it: hiredis is freeing
         * the context. Nothing may be sent from here; the timer resends. */
        node_lost(c, n, ac, ac->errstr[0] ? ac->errstr : "connection lost");
        c->st.conn_lost++;
        char why[sizeof(cmd->err)];
        snprintf(why, sizeof(why), "connection to %.255s:%d lost", n->host,
                 n->port);
        cmd->retries++;
        cmd_requeue(c, q, cmd, false, backoff_ms(c, cmd->retries), why);
        if (cmd->state == CMD_DONE)
            deliver_ready(c, q);
        /* The last one out arms the resend (cmd_requeue did, unless this
         * command was given up). */
        if (!q->inflight && q->held)
            schedule(c, q->retry_at_us);
        return;
    }
    node_paid(n);
    if (reply->type == REDIS_REPLY_ERROR &&
        (!strncmp(reply->str, "MOVED ", 6) || !strncmp(reply->str, "ASK ", 4))) {
        bool moved = reply->str[0] == 'M';
        unsigned slot = cmd->slot;
        int to = redirect_node(c, reply->str + (moved ? 6 : 4), n, &slot);
        if (to < 0) {
            log_warn("cluster: unreadable redirection from %s:%d: %s",
                     n->host, n->port, reply->str);
            cmd->retries++;
            request_refresh(c);
            cmd_requeue(c, q, cmd, false, backoff_ms(c, cmd->retries),
                        reply->str);
        } else if (moved) {
            c->st.moved++;
            c->owner[slot] = (uint16_t)to;
            request_refresh(c);     /* other slots probably moved too */
            cmd_requeue(c, q, cmd, true, 0, reply->str);
            table_changed(c);
        } else {
            c->st.ask++;
            cmd->ask_node = to;
            cmd_requeue(c, q, cmd, true, 0, reply->str);
        }
    } else if (reply->type == REDIS_REPLY_ERROR &&
               (!strncmp(reply->str, "TRYAGAIN", 8) ||
                !strncmp(reply->str, "CLUSTERDOWN", 11))) {
        if (reply->str[0] == 'T') {
            c->st.tryagain++;
        } else {
            c->st.clusterdown++;
            request_refresh(c);
        }
        cmd->retries++;
        cmd_requeue(c, q, cmd, false, backoff_ms(c, cmd->retries),
                    reply->str);
    } else if (q->head == cmd) {
        /* The common case: the oldest command of its slot, answered. */
        q->head = cmd->next;
        if (!q->head)
            q->tail = NULL;
        cmd->cb(c, reply, cmd->priv);
        cmd_recycle(c, cmd);
    } else {
        cmd->reply = reply_take(reply);
        if (!cmd->reply)
            cmd_fail(c, cmd, "out of memory keeping an early reply");
        cmd->state = CMD_DONE;
        c->st.early++;
    }
    deliver_ready(c, q);
    if (!q->inflight && (q->held || q->first_queued)) {
        if (!q->held || q->retry_at_us <= now_us())
            pump(c, (unsigned)(q - c->slots));
        else
            schedule(c, q->retry_at_us);
    }
}

/* Sends the slot's QUEUED commands in issue order, keeping all in-flight
 * commands of the slot on one node: it stops at the first command bound
 * for another node than the in-flight ones (it goes once they are
 * answered), or with no node known for the slot (it waits for the
 * table). A held slot is released here once drained and due. */
static void pump(struct cluster *c, unsigned slot)
{
    struct slotq *q = &c->slots[slot];
    uint64_t now = now_us();
    if (q->held) {
        if (q->inflight || now < q->retry_at_us)
            return;
        q->held = false;
        c->nheld--;
    }
    struct cluster_cmd *cmd = q->first_queued;
    for (; cmd; cmd = cmd->next) {
        if (cmd->state != CMD_QUEUED)
            continue;
        unsigned target = cmd->ask_node >= 0 ? (unsigned)cmd->ask_node
                                              : c->owner[slot];
        if (target == CLUSTER_NO_NODE) {
            if (now - cmd->issued_us >=
                (uint64_t)c->cfg.retry_timeout_ms * 1000) {
                char m[sizeof(cmd->err)];
                snprintf(m, sizeof(m), "gave up after %u ms: no node "
                         "serves slot %u", c->cfg.retry_timeout_ms, slot);
                cmd_fail(c, cmd, m);
                continue;
            }
            request_refresh(c);
            hold(c, q, now + (uint64_t)c->cfg.retry_max_ms * 1000);
            break;
        }
        if (q->inflight && q->node != target)
            break;
        if (cmd_send(c, q, cmd, target) < 0) {
            cmd->retries++;
            request_refresh(c);
            hold(c, q, now + (uint64_t)backoff_ms(c, cmd->retries) * 1000);
            break;
        }
    }
    /* Everything before cmd is SENT or DONE now. */
    while (cmd && cmd->state != CMD_QUEUED)
        cmd = cmd->next;
    q->first_queued = cmd;
    deliver_ready(c, q);
}

/* Pumps every held slot that is drained and due. */
static void pump_held(struct cluster *c)
{
    uint64_t now = now_us();
    for (unsigned s = 0; s < CLUSTER_SLOTS && c->nheld; s++) {
        struct slotq *q = &c->slots[s];
        if (q->held && !q->inflight && q->retry_at_us <= now)
            pump(c, s);
    }
}

/* ------------------------------------------------------------------ */
/* the slot table */

static void table_apply(struct cluster *c, const struct cluster_table *t)
{
    uint16_t map[NODES_MAX];
    for (size_t i = 0; i < t->nnodes; i++) {
        int idx = node_get(c, t->nodes[i].host, t->nodes[i].port);
        map[i] = idx < 0 ? CLUSTER_NO_NODE : (uint16_t)idx;
    }
    for (unsigned s = 0; s < CLUSTER_SLOTS; s++)
        c->owner[s] = t->slot[s] == CLUSTER_NO_NODE ? CLUSTER_NO_NODE
                                                   : map[t->slot[s]];
    if (!c->table_known)
        log_info("cluster: slot table loaded (%zu nodes)", t->nnodes);
    c->table_known = true;
    c->st.refreshes++;
}

static void on_slots_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct cluster_node *n = priv;
    struct cluster *c = n->c;
    redisReply *reply = r;
    if (c->freeing)
        return;
    c->refresh_inflight = false;
    struct cluster_table *t = NULL;
    int rc = -EIO;
    if (reply) {
        node_paid(n);
        t = malloc(sizeof(*t));
        rc = t ? cluster_table_parse(t, reply, n->host) : -ENOMEM;
        if (rc == 0 && t->nnodes == 0)
            rc = -EPROTO;           /* a node not in a cluster yet */
    }
    if (rc < 0) {
        if (reply)
            log_debug("cluster: CLUSTER SLOTS from %s:%d unusable (%s)",
                      n->host, n->port, reply->type == REDIS_REPLY_ERROR ?
                      reply->str : strerror(-rc));
        if (t)
            cluster_table_free(t);
        free(t);
        /* Ask the next node, after a backoff. */
        c->refresh_wanted = true;
        c->refresh_at_us = now_us() + (uint64_t)c->refresh_backoff_ms * 1000;
        uint32_t b = c->refresh_backoff_ms * 2;
        c->refresh_backoff_ms = b > c->cfg.retry_max_ms ? c->cfg.retry_max_ms
                                                        : b;
        schedule(c, c->refresh_at_us);
        return;
    }
    table_apply(c, t);
    cluster_table_free(t);
    free(t);
    c->refresh_backoff_ms = c->cfg.retry_min_ms;
    if (c->refresh_again) {
        c->refresh_again = false;
        request_refresh(c);
    }
    /* A new table is new information: the held slots try again now. */
    for (unsigned s = 0; s < CLUSTER_SLOTS && c->nheld; s++)
        if (c->slots[s].held && !c->slots[s].inflight)
            c->slots[s].retry_at_us = 0;
    table_changed(c);
    pump_held(c);
}

/* Picks the node to ask: a connected one, round robin, so that a live
 * node answers at once; else the next node of the registry (seeds, every
 * node seen), which is how a refresh gets past a dead node. */
static struct cluster_node *refresh_pick(struct cluster *c)
{
    for (unsigned i = 0; i < c->nnodes; i++) {
        struct cluster_node *n = c->nodes[(c->refresh_rr + i) % c->nnodes];
        if (n->ac && n->connected) {
            c->refresh_rr = n->idx + 1;
            return n;
        }
    }
    return c->nodes[c->refresh_rr++ % c->nnodes];
}

static void refresh_start(struct cluster *c)
{
    struct cluster_node *n = refresh_pick(c);
    redisAsyncContext *ac = node_ac(c, n);
    c->refresh_wanted = false;
    if (ac && redisAsyncCommand(ac, on_slots_reply, n, "CLUSTER SLOTS") ==
                  REDIS_OK) {
        node_owe(c, n);
        c->refresh_inflight = true;
        return;
    }
    c->refresh_wanted = true;
    c->refresh_at_us = now_us() + (uint64_t)c->refresh_backoff_ms * 1000;
    schedule(c, c->refresh_at_us);
}

/* Asks for a table refresh; it starts from the timer (never from inside
 * a hiredis callback of a dying context), one at a time. */
static void request_refresh(struct cluster *c)
{
    if (c->refresh_inflight) {
        c->refresh_again = true;
        return;
    }
    if (c->refresh_wanted)
        return;
    c->refresh_wanted = true;
    c->refresh_at_us = now_us();
    schedule(c, c->refresh_at_us);
}

/* ------------------------------------------------------------------ */
/* the timer */

static void on_timer(uv_timer_t *t);

static void schedule(struct cluster *c, uint64_t due_us)
{
    if (c->freeing || (c->timer_armed && due_us >= c->timer_due_us))
        return;
    uint64_t now = now_us();
    c->timer_armed = true;
    c->timer_due_us = due_us;
    uint64_t ms = due_us > now ? (due_us - now + 999) / 1000 : 0;
    uv_timer_start(c->timer, on_timer, ms, 0);
}

static void on_timer(uv_timer_t *t)
{
    struct cluster *c = t->data;
    uint64_t now = now_us();
    c->timer_armed = false;
    for (unsigned i = 0; i < c->nnodes; i++) {
        struct cluster_node *n = c->nodes[i];
        if (!n->ac)
            continue;
        if (!n->connected && now - n->connect_started_us >=
                                 (uint64_t)c->cfg.connect_timeout_ms * 1000)
            node_drop(c, n, "connect timed out");
        else if (n->connected && n->owed && now - n->progress_us >=
                     (uint64_t)c->cfg.command_timeout_ms * 1000)
            node_drop(c, n, "no reply within command_timeout");
    }
    if (c->refresh_wanted && !c->refresh_inflight && now >= c->refresh_at_us)
        refresh_start(c);
    pump_held(c);

    /* The next instant anything is due. */
    uint64_t due = UINT64_MAX;
    for (unsigned i = 0; i < c->nnodes; i++) {
        struct cluster_node *n = c->nodes[i];
        uint64_t d = UINT64_MAX;
        if (n->ac && !n->connected)
            d = n->connect_started_us +
                (uint64_t)c->cfg.connect_timeout_ms * 1000;
        else if (n->ac && n->owed)
            d = n->progress_us + (uint64_t)c->cfg.command_timeout_ms * 1000;
        if (d < due)
            due = d;
    }
    if (c->refresh_wanted && !c->refresh_inflight && c->refresh_at_us < due)
        due = c->refresh_at_us;
    for (unsigned s = 0; s < CLUSTER_SLOTS && c->nheld; s++) {
        const struct slotq *q = &c->slots[s];
        if (q->held && !q->inflight && q->retry_at_us < due)
            due = q->retry_at_us;
    }
    if (due != UINT64_MAX)
        schedule(c, due);
}

static void on_timer_closed(uv_handle_t *h)
{
    free(h);
}

/* ------------------------------------------------------------------ */
/* public */

struct cluster *cluster_new(uv_loop_t *loop, const struct cluster_config *cfg)
{
    if (cfg->nseeds == 0 || cfg->nseeds > CLUSTER_SEEDS_MAX) {
        log_error("cluster: between 1 and %d seed addresses are needed",
                  CLUSTER_SEEDS_MAX);
        return NULL;
    }
    struct cluster *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->loop = loop;
    c->cfg = *cfg;
    memset(c->cfg.seeds, 0, sizeof(c->cfg.seeds));  /* not kept: copied */
    c->cfg.password = NULL;
    if (cfg->password)
        snprintf(c->password, sizeof(c->password), "%s", cfg->password);
    if (!c->cfg.retry_min_ms)
        c->cfg.retry_min_ms = 1;
    if (c->cfg.retry_max_ms < c->cfg.retry_min_ms)
        c->cfg.retry_max_ms = c->cfg.retry_min_ms;
    c->refresh_backoff_ms = c->cfg.retry_min_ms;
    for (unsigned s = 0; s < CLUSTER_SLOTS; s++)
        c->owner[s] = CLUSTER_NO_NODE;
    c->slots = calloc(CLUSTER_SLOTS, sizeof(*c->slots));
    c->timer = malloc(sizeof(*c->timer));
    if (!c->slots || !c->timer) {
        free(c->slots);
        free(c->timer);
        free(c);
        return NULL;
    }
    uv_timer_init(loop, c->timer);
    c->timer->data = c;
    for (size_t i = 0; i < cfg->nseeds; i++) {
        char host[CLUSTER_HOST_MAX];
        int port;
        const char *s = cfg->seeds[i];
        if (!s || split_addr(s, strlen(s), host, sizeof(host), &port) < 0 ||
            !host[0]) {
            log_error("cluster: seed \"%s\" is not HOST:PORT", s ? s : "");
            cluster_free(c);
            return NULL;
        }
        if (node_get(c, host, port) < 0) {
            cluster_free(c);
            return NULL;
        }
    }
    c->nseeds = c->nnodes;
    request_refresh(c);
    return c;
}

void cluster_free(struct cluster *c)
{
    if (!c)
        return;
    c->freeing = true;
    /* Close every connection first: hiredis calls the owed callbacks with
     * NULL, which return at once (freeing), so nothing is resent. */
    for (unsigned i = 0; i < c->nnodes; i++) {
        struct cluster_node *n = c->nodes[i];
        if (n->ac) {
            redisAsyncContext *ac = n->ac;
            n->ac = NULL;
            ac->data = NULL;
            redisAsyncFree(ac);
        }
    }
    /* Then every command is called back, in issue order per slot. */
    for (unsigned s = 0; c->slots && s < CLUSTER_SLOTS; s++) {
        struct slotq *q = &c->slots[s];
        for (struct cluster_cmd *cmd = q->head; cmd; cmd = cmd->next)
            if (cmd->state != CMD_DONE)
                cmd_fail(c, cmd, "cluster client freed");
        deliver_ready(c, q);
    }
    while (c->free_cmds) {
        struct cluster_cmd *cmd = c->free_cmds;
        c->free_cmds = cmd->next;
        free(cmd->buf);
        free(cmd);
    }
    for (unsigned i = 0; i < c->nnodes; i++)
        free(c->nodes[i]);
    free(c->nodes);
    free(c->slots);
    if (c->timer) {
        uv_timer_stop(c->timer);
        c->timer->data = NULL;
        uv_close((uv_handle_t *)c->timer, on_timer_closed);
    }
    free(c);
}

int cluster_command_argv(struct cluster *c, cluster_reply_cb cb,
                         void *privdata, const char *key, size_t keylen,
                         int argc, const char **argv, const size_t *argvlen)
{
    if (c->freeing || argc < 1 || !cb)
        return -EINVAL;
    struct cluster_cmd *cmd = cmd_alloc(c);
    if (!cmd)
        return -ENOMEM;
    if (cmd_format(cmd, argc, argv, argvlen) < 0) {
        cmd_recycle(c, cmd);
        return -ENOMEM;
    }
    unsigned slot = cluster_key_slot(key, keylen);
    struct slotq *q = &c->slots[slot];
    cmd->cb = cb;
    cmd->priv = privdata;
    cmd->slot = (uint16_t)slot;
    cmd->seq = c->next_seq++;
    cmd->issued_us = now_us();
    if (q->tail)
        q->tail->next = cmd;
    else
        q->head = cmd;
    q->tail = cmd;

    /* Fast path: nothing of this slot waits and the in-flight commands (if
     * any) are on the owner's connection: pipeline it behind them. */
    unsigned target = c->owner[slot];
    if (!q->held && !q->first_queued && target != CLUSTER_NO_NODE &&
        (!q->inflight || q->node == target) &&
        cmd_send(c, q, cmd, target) == 0)
        return 0;

    /* Otherwise it waits its turn (pump sends it: when the slot drains,
     * when its retry is due, when a table arrives). */
    if (!q->first_queued)
        q->first_queued = cmd;
    if (target == CLUSTER_NO_NODE) {
        request_refresh(c);
        hold(c, q, cmd->issued_us + (uint64_t)c->cfg.retry_max_ms * 1000);
    } else if (!q->held && !q->inflight) {
        /* cmd_send failed: no connection could be started. */
        cmd->retries++;
        request_refresh(c);
        hold(c, q, cmd->issued_us +
                   (uint64_t)backoff_ms(c, cmd->retries) * 1000);
    }
    return 0;
}

bool cluster_ready(const struct cluster *c)
{
    return c->table_known;
}

int cluster_slot_addr(const struct cluster *c, unsigned slot, char *buf,
                      size_t len)
{
    if (slot >= CLUSTER_SLOTS || !c->table_known ||
        c->owner[slot] == CLUSTER_NO_NODE)
        return -EAGAIN;
    const struct cluster_node *n = c->nodes[c->owner[slot]];
    int w = snprintf(buf, len, "%s:%d", n->host, n->port);
    return w < 0 || (size_t)w >= len ? -ENOSPC : 0;
}

int cluster_key_addr(const struct cluster *c, const char *key, size_t keylen,
                     char *buf, size_t len)
{
    return cluster_slot_addr(c, cluster_key_slot(key, keylen), buf, len);
}

void cluster_refresh(struct cluster *c)
{
    if (!c->freeing)
        request_refresh(c);
}

void cluster_set_table_cb(struct cluster *c, cluster_table_cb cb, void *arg)
{
    c->table_cb = cb;
    c->table_arg = arg;
}

const char *cluster_errstr(const struct cluster *c)
{
    return c->errstr ? c->errstr : "";
}

void cluster_stats(const struct cluster *c, struct cluster_stats *out)
{
    *out = c->st;
}
