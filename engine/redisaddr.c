/* redisaddr.c -- where the tenant's Redis master is (see redisaddr.h,
 * docs/redis.md "Sentinel").
 *
 * Design. A find is a small state machine over the configured sentinels:
 * connect to sentinel i (hiredis async on the loop), AUTH when a sentinel
 * password is set, `SENTINEL get-master-addr-by-name NAME`. A usable
 * answer (two strings: ip, port) ends the find; anything else -- refused
 * connect, timeout, error reply, nil (this sentinel does not monitor that
 * name) -- is noted in `why` and the next sentinel is tried. After the
 * last one the find fails with every reason; the store retries with its
 * reconnect backoff. The next find starts with the sentinel that answered
 * last (`first`), so a healthy deployment costs one round trip.
 *
 * One connection at a time is used for finding (`look`). The one that
 * answered is kept as the subscription (`sub`, SUBSCRIBE +switch-master)
 * when there is none; a lost subscription is re-made at the next find.
 * It only makes a failover known sooner: the store also asks again on a
 * disconnect, a READONLY reply and a ROLE that is not master.
 *
 * Cluster. The module owns one engine/cluster.c client, made at the first
 * find and used only for its slot table: the store keeps its own single
 * connection to the slot's owner (why: store.c, "Redis Cluster"). A find
 * answers a MOVED hint at once; otherwise it asks the client for a
 * refresh and answers from the next table (on_table), or, past the
 * deadline, from the table it has, or fails when it has none.
 *
 * hiredis calls the callbacks of pending commands with a NULL reply when a
 * context is freed, and may free it only after the callback that asked
 * returns. Every context this module drops gets `data = NULL` first, and
 * every callback returns at once on NULL data or NULL reply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libuv.h>

#include "cluster.h"
#include "redisaddr.h"
#include "storebatch.h"

struct redisaddr {
    uv_loop_t *loop;
    bool sentinel;
    struct store_addr fixed;
    struct store_addr sentinels[STORE_MAX_SENTINELS];
    size_t n;
    char name[128];
    char password[256];
    uint64_t deadline_us;           /* per sentinel: connect + command */

    /* the find under way */
    redisaddr_found_cb cb;
    void *cb_arg;
    bool busy;
    size_t first;                   /* sentinel to ask first next time */
    size_t tried;                   /* sentinels tried in this find */
    size_t cur;                     /* index being asked */
    redisAsyncContext *look;
    uint64_t look_started_us;
    char why[512];

    /* +switch-master */
    redisAsyncContext *sub;
    redisaddr_moved_cb moved;
    void *moved_arg;

    /* cluster */
    bool clustered;
    struct cluster *cl;                 /* made at the first find */
    struct cluster_config ccfg;
    char seeds[STORE_MAX_SEEDS][272];
    char cpassword[256];
    unsigned slot;                      /* of the tenant's lease key */
    struct store_addr hint;             /* from a MOVED; port 0: none */
    struct store_addr owner;            /* answered last; port 0: none */
};

static uint64_t now_us(void)
{
    return uv_hrtime() / 1000;
}

/* The master's address in a get-master-addr-by-name reply. 0, or -1 when
 * the reply is not [ip, port] (nil: the sentinel does not know the
 * name). */
static int master_of(const redisReply *r, struct store_addr *out)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_STRING)
        return -1;
    int port = atoi(r->element[1]->str);
    if (port <= 0 || port > 65535 || !r->element[0]->str[0] ||
        r->element[0]->len >= sizeof(out->host))
        return -1;
    snprintf(out->host, sizeof(out->host), "%s", r->element[0]->str);
    out->port = port;
    return 0;
}

static void reply_why(const redisReply *r, const char *name, char *buf,
                      size_t len)
{
    if (!r)
        snprintf(buf, len, "no reply");
    else if (r->type == REDIS_REPLY_ERROR)
        snprintf(buf, len, "%s", r->str);
    else if (r->type == REDIS_REPLY_NIL)
        snprintf(buf, len, "does not know master %s", name);
    else
        snprintf(buf, len, "unexpected reply");
}

/* ---------------------------------------------------------------- */
/* the find */

static void ask(struct redisaddr *ra);

static void drop_ctx(redisAsyncContext *ac)
{
    if (!ac)
        return;
    ac->data = NULL;
    redisAsyncFree(ac);
}

static void note(struct redisaddr *ra, const char *what)
{
    size_t l = strlen(ra->why);
    const struct store_addr *s = &ra->sentinels[ra->cur];
    snprintf(ra->why + l, sizeof(ra->why) - l, "%s%s:%d: %s",
             l ? "; " : "", s->host, s->port, what);
}

static void finish(struct redisaddr *ra, int status, const char *host,
                   int port)
{
    redisaddr_found_cb cb = ra->cb;
    void *arg = ra->cb_arg;
    ra->busy = false;
    ra->cb = NULL;
    if (cb)
        cb(arg, status, host, port, ra->why);
}

/* This sentinel did not help: note why, drop its connection (unless
 * hiredis is freeing it already: connect failed or disconnected), ask
 * the next one, or fail the find after the last. */
static void next(struct redisaddr *ra, const char *what)
{
    note(ra, what);
    redisAsyncContext *ac = ra->look;
    ra->look = NULL;
    drop_ctx(ac);

    if (++ra->tried >= ra->n) {
        char why[sizeof(ra->why)];
        memcpy(why, ra->why, sizeof(why));
        snprintf(ra->why, sizeof(ra->why), "no sentinel named the master "
                 "%.100s (%.370s)", ra->name, why);
        finish(ra, STORE_EUNAVAILABLE, NULL, 0);
        return;
    }
    ra->cur = (ra->cur + 1) % ra->n;
    ask(ra);
}

static void on_switch(redisAsyncContext *ac, void *r, void *priv)
{
    struct redisaddr *ra = ac->data;
    redisReply *reply = r;
    if (!ra || !reply)
        return;
    /* ["message", "+switch-master", "<name> <old ip> <old port> <new ip>
     * <new port>"]; the subscribe confirmation is ignored */
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        strcmp(reply->element[0]->str, "message") != 0 ||
        reply->element[2]->type != REDIS_REPLY_STRING)
        return;
    char name[128], oip[256], nip[256];
    int oport, nport;
    if (sscanf(reply->element[2]->str, "%127s %255s %d %255s %d", name, oip,
               &oport, nip, &nport) != 5 || strcmp(name, ra->name) != 0)
        return;
    if (ra->moved)
        ra->moved(ra->moved_arg, nip, nport);
}

static void on_master(redisAsyncContext *ac, void *r, void *priv)
{
    struct redisaddr *ra = ac->data;
    redisReply *reply = r;
    if (!ra || !reply || ac != ra->look)
        return;
    struct store_addr m;
    if (master_of(reply, &m) < 0) {
        char why[300];
        reply_why(reply, ra->name, why, sizeof(why));
        next(ra, why);
        return;
    }
    ra->look = NULL;
    ra->first = ra->cur;
    ra->why[0] = '\0';
    if (!ra->sub) {
        /* kept: the subscription that hears of the next failover */
        ra->sub = ac;
        redisAsyncCommand(ac, on_switch, NULL, "SUBSCRIBE +switch-master");
    } else {
        drop_ctx(ac);
    }
    finish(ra, 0, m.host, m.port);
}

static void on_auth(redisAsyncContext *ac, void *r, void *priv)
{
    struct redisaddr *ra = ac->data;
    redisReply *reply = r;
    if (!ra || !reply || ac != ra->look)
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        char why[300];
        snprintf(why, sizeof(why), "sentinel authentication failed: %s",
                 reply->str);
        next(ra, why);
    }
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct redisaddr *ra = ac->data;
    if (!ra || status == REDIS_OK)
        return;
    if (ac == ra->look) {
        ra->look = NULL;            /* hiredis frees it after this */
        next(ra, ac->errstr[0] ? ac->errstr : "connect failed");
    } else if (ac == ra->sub) {
        ra->sub = NULL;
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct redisaddr *ra = ac->data;
    if (!ra)
        return;
    if (ac == ra->look) {
        ra->look = NULL;            /* hiredis frees it after this */
        next(ra, ac->err ? ac->errstr : "closed");
    } else if (ac == ra->sub)
        ra->sub = NULL;             /* re-made at the next find */
}

/* Asks sentinel ra->cur. */
static void ask(struct redisaddr *ra)
{
    const struct store_addr *s = &ra->sentinels[ra->cur];
    ra->look_started_us = now_us();
    redisAsyncContext *ac = redisAsyncConnect(s->host, s->port);
    if (!ac || ac->err) {
        char why[300];
        snprintf(why, sizeof(why), "%s", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        next(ra, why);
        return;
    }
    ac->data = ra;
    if (redisLibuvAttach(ac, ra->loop) != REDIS_OK) {
        drop_ctx(ac);
        next(ra, "libuv attach failed");
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    ra->look = ac;
    if (ra->password[0])
        redisAsyncCommand(ac, on_auth, NULL, "AUTH %s", ra->password);
    redisAsyncCommand(ac, on_master, NULL,
                      "SENTINEL get-master-addr-by-name %s", ra->name);
}

/* ---------------------------------------------------------------- */
/* cluster */

/* "host:port" from cluster_slot_addr into a store_addr. 0 or -1. */
static int parse_addr(const char *s, struct store_addr *out)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= sizeof(out->host))
        return -1;
    int port = atoi(colon + 1);
    if (port <= 0 || port > 65535)
        return -1;
    memcpy(out->host, s, (size_t)(colon - s));
    out->host[colon - s] = '\0';
    out->port = port;
    return 0;
}

/* The slot's owner in the client's table now: 0, or -1 (no table, or no
 * node serves the slot). */
static int table_owner(const struct redisaddr *ra, struct store_addr *out)
{
    char addr[CLUSTER_HOST_MAX + 8];
    if (!ra->cl || cluster_slot_addr(ra->cl, ra->slot, addr,
                                     sizeof(addr)) < 0)
        return -1;
    return parse_addr(addr, out);
}

static void cluster_answer(struct redisaddr *ra, const struct store_addr *a)
{
    ra->owner = *a;
    ra->why[0] = '\0';
    finish(ra, 0, a->host, a->port);
}

/* A slot table was loaded: the answer of the find under way, or, with
 * none, news of a failover when the owner changed. */
static void on_table(struct cluster *c, void *arg)
{
    struct redisaddr *ra = arg;
    struct store_addr a;
    if (table_owner(ra, &a) < 0) {
        if (ra->busy) {
            snprintf(ra->why, sizeof(ra->why), "no node of the cluster "
                     "serves slot %u (the slot table has no owner for "
                     "it)", ra->slot);
            finish(ra, STORE_EUNAVAILABLE, NULL, 0);
        }
        return;
    }
    if (ra->busy) {
        cluster_answer(ra, &a);
        return;
    }
    if (ra->owner.port && (a.port != ra->owner.port ||
                           strcmp(a.host, ra->owner.host) != 0)) {
        ra->hint = a;               /* the next find goes there at once */
        if (ra->moved)
            ra->moved(ra->moved_arg, a.host, a.port);
    }
}

static int cluster_open(struct redisaddr *ra)
{
    ra->cl = cluster_new(ra->loop, &ra->ccfg);
    if (!ra->cl)
        return -1;
    cluster_set_table_cb(ra->cl, on_table, ra);
    return 0;
}

static void cluster_find(struct redisaddr *ra)
{
    if (ra->hint.port) {
        struct store_addr a = ra->hint;
        ra->hint.port = 0;
        cluster_answer(ra, &a);
        return;
    }
    if (!ra->cl && cluster_open(ra) < 0) {
        snprintf(ra->why, sizeof(ra->why), "cannot start the cluster "
                 "client (out of memory)");
        finish(ra, STORE_EUNAVAILABLE, NULL, 0);
        return;
    }
    ra->busy = true;
    ra->look_started_us = now_us();
    cluster_refresh(ra->cl);
}

/* The find's deadline passed without a fresh table: the table there is
 * (it was right recently, and a wrong answer costs one MOVED), else a
 * failure. */
static void cluster_late(struct redisaddr *ra)
{
    struct store_addr a;
    if (table_owner(ra, &a) == 0) {
        cluster_answer(ra, &a);
        return;
    }
    char seeds[320];
    size_t l = 0;
    seeds[0] = '\0';
    for (size_t i = 0; i < ra->ccfg.nseeds && l < 250; i++)
        l += (size_t)snprintf(seeds + l, sizeof(seeds) - l, "%s%.40s",
                              i ? ", " : "", ra->seeds[i]);
    snprintf(ra->why, sizeof(ra->why), "no node of the cluster answered "
             "CLUSTER SLOTS in time (seeds %.320s)", seeds);
    finish(ra, STORE_EUNAVAILABLE, NULL, 0);
}

/* ---------------------------------------------------------------- */
/* public */

struct redisaddr *redisaddr_new(uv_loop_t *loop,
                                const struct store_config *cfg)
{
    struct redisaddr *ra = calloc(1, sizeof(*ra));
    if (!ra)
        return NULL;
    ra->loop = loop;
    snprintf(ra->fixed.host, sizeof(ra->fixed.host), "%s", cfg->host);
    ra->fixed.port = cfg->port;
    ra->n = cfg->nsentinels < STORE_MAX_SENTINELS ? cfg->nsentinels
                                                  : STORE_MAX_SENTINELS;
    memcpy(ra->sentinels, cfg->sentinels, ra->n * sizeof(ra->sentinels[0]));
    ra->sentinel = ra->n > 0;
    snprintf(ra->name, sizeof(ra->name), "%s", cfg->master_name);
    snprintf(ra->password, sizeof(ra->password), "%s",
             cfg->sentinel_password);
    ra->deadline_us = ((uint64_t)cfg->connect_timeout_ms +
                       cfg->command_timeout_ms) * 1000;
    if (cfg->ncluster > 0) {
        size_t n = cfg->ncluster < STORE_MAX_SEEDS ? cfg->ncluster
                                                   : STORE_MAX_SEEDS;
        cluster_config_default(&ra->ccfg);
        for (size_t i = 0; i < n; i++) {
            snprintf(ra->seeds[i], sizeof(ra->seeds[i]), "%s:%d",
                     cfg->cluster[i].host, cfg->cluster[i].port);
            ra->ccfg.seeds[i] = ra->seeds[i];
        }
        ra->ccfg.nseeds = n;
        snprintf(ra->cpassword, sizeof(ra->cpassword), "%s", cfg->password);
        ra->ccfg.password = ra->cpassword[0] ? ra->cpassword : NULL;
        ra->ccfg.connect_timeout_ms = cfg->connect_timeout_ms;
        ra->ccfg.command_timeout_ms = cfg->command_timeout_ms;
        ra->clustered = true;
        char key[200];
        storebatch_key(key, sizeof(key), cfg->tenant, "lease");
        ra->slot = cluster_key_slot(key, strlen(key));
    }
    return ra;
}

void redisaddr_close(struct redisaddr *ra)
{
    redisaddr_cancel(ra);
    redisAsyncContext *sub = ra->sub;
    ra->sub = NULL;
    drop_ctx(sub);
    struct cluster *cl = ra->cl;
    ra->cl = NULL;
    cluster_free(cl);
}

void redisaddr_free(struct redisaddr *ra)
{
    if (!ra)
        return;
    redisaddr_close(ra);
    free(ra);
}

bool redisaddr_sentinel(const struct redisaddr *ra)
{
    return ra->sentinel;
}

bool redisaddr_cluster(const struct redisaddr *ra)
{
    return ra->clustered;
}

unsigned redisaddr_slot(const struct redisaddr *ra)
{
    return ra->slot;
}

void redisaddr_hint(struct redisaddr *ra, const char *host, int port)
{
    snprintf(ra->hint.host, sizeof(ra->hint.host), "%s", host);
    ra->hint.port = port;
}

void redisaddr_find(struct redisaddr *ra, redisaddr_found_cb cb, void *arg)
{
    redisaddr_cancel(ra);
    ra->cb = cb;
    ra->cb_arg = arg;
    ra->why[0] = '\0';
    if (ra->clustered) {
        cluster_find(ra);
        return;
    }
    if (!ra->sentinel) {
        finish(ra, 0, ra->fixed.host, ra->fixed.port);
        return;
    }
    ra->busy = true;
    ra->tried = 0;
    ra->cur = ra->first % ra->n;
    ask(ra);
}

void redisaddr_cancel(struct redisaddr *ra)
{
    redisAsyncContext *ac = ra->look;
    ra->look = NULL;
    ra->busy = false;
    ra->cb = NULL;
    drop_ctx(ac);
}

void redisaddr_set_moved(struct redisaddr *ra, redisaddr_moved_cb cb,
                         void *arg)
{
    ra->moved = cb;
    ra->moved_arg = arg;
}

void redisaddr_tick(struct redisaddr *ra, uint64_t now)
{
    if (ra->clustered) {
        if (ra->busy && now - ra->look_started_us > ra->deadline_us)
            cluster_late(ra);
        return;
    }
    if (ra->busy && ra->look && now - ra->look_started_us > ra->deadline_us)
        next(ra, "no answer in time");
}

/* ---------------------------------------------------------------- */
/* --check-redis */

/* The cluster's way: each seed in turn, CLUSTER SLOTS, the owner of the
 * tenant's slot. */
static int find_blocking_cluster(const struct store_config *cfg,
                                 struct store_addr *out, char *msg,
                                 size_t len)
{
    char why[512] = "", key[200];
    storebatch_key(key, sizeof(key), cfg->tenant, "lease");
    unsigned slot = cluster_key_slot(key, strlen(key));
    size_t n = cfg->ncluster < STORE_MAX_SEEDS ? cfg->ncluster
                                               : STORE_MAX_SEEDS;
    for (size_t i = 0; i < n; i++) {
        const struct store_addr *s = &cfg->cluster[i];
        char what[300];
        struct timeval tv = { cfg->connect_timeout_ms / 1000,
                              (cfg->connect_timeout_ms % 1000) * 1000 };
        redisContext *rc = redisConnectWithTimeout(s->host, s->port, tv);
        redisReply *r = NULL;
        struct cluster_table t;
        if (!rc || rc->err) {
            snprintf(what, sizeof(what), "%s",
                     rc ? rc->errstr : "out of memory");
            goto bad;
        }
        tv.tv_sec = cfg->command_timeout_ms / 1000;
        tv.tv_usec = (cfg->command_timeout_ms % 1000) * 1000;
        redisSetTimeout(rc, tv);
        if (cfg->password[0]) {
            r = redisCommand(rc, "AUTH %s", cfg->password);
            if (!r || r->type == REDIS_REPLY_ERROR) {
                snprintf(what, sizeof(what), "redis authentication "
                         "failed: %s", r ? r->str : rc->errstr);
                goto bad;
            }
            freeReplyObject(r);
        }
        r = redisCommand(rc, "CLUSTER SLOTS");
        if (!r || r->type == REDIS_REPLY_ERROR) {
            snprintf(what, sizeof(what), "CLUSTER SLOTS: %s",
                     r ? r->str : rc->errstr);
            goto bad;
        }
        if (cluster_table_parse(&t, r, s->host) < 0) {
            snprintf(what, sizeof(what), "CLUSTER SLOTS: unexpected reply");
            goto bad;
        }
        const struct cluster_table_node *o = cluster_table_owner(&t, slot);
        if (o && strlen(o->host) < sizeof(out->host)) {
            snprintf(out->host, sizeof(out->host), "%s", o->host);
            out->port = o->port;
            cluster_table_free(&t);
            snprintf(msg, len, "%s:%d (owner of slot %u, named by cluster "
                     "node %s:%d)", out->host, out->port, slot, s->host,
                     s->port);
            freeReplyObject(r);
            redisFree(rc);
            return 0;
        }
        cluster_table_free(&t);
        snprintf(what, sizeof(what), "no node serves slot %u", slot);
bad:
        if (r)
            freeReplyObject(r);
        if (rc)
            redisFree(rc);
        size_t l = strlen(why);
        snprintf(why + l, sizeof(why) - l, "%s%s:%d: %s", l ? "; " : "",
                 s->host, s->port, what);
    }
    snprintf(msg, len, "no cluster node named the owner of slot %u "
             "(%.420s)", slot, why);
    return STORE_EUNAVAILABLE;
}

int redisaddr_find_blocking(const struct store_config *cfg,
                            struct store_addr *out, char *msg, size_t len)
{
    if (cfg->ncluster > 0)
        return find_blocking_cluster(cfg, out, msg, len);
    if (cfg->nsentinels == 0) {
        snprintf(out->host, sizeof(out->host), "%s", cfg->host);
        out->port = cfg->port;
        snprintf(msg, len, "%s:%d", cfg->host, cfg->port);
        return 0;
    }
    char why[512] = "";
    size_t n = cfg->nsentinels < STORE_MAX_SENTINELS ? cfg->nsentinels
                                                     : STORE_MAX_SENTINELS;
    for (size_t i = 0; i < n; i++) {
        const struct store_addr *s = &cfg->sentinels[i];
        char what[300];
        struct timeval tv = { cfg->connect_timeout_ms / 1000,
                              (cfg->connect_timeout_ms % 1000) * 1000 };
        redisContext *rc = redisConnectWithTimeout(s->host, s->port, tv);
        redisReply *r = NULL;
        if (!rc || rc->err) {
            snprintf(what, sizeof(what), "%s",
                     rc ? rc->errstr : "out of memory");
            goto bad;
        }
        tv.tv_sec = cfg->command_timeout_ms / 1000;
        tv.tv_usec = (cfg->command_timeout_ms % 1000) * 1000;
        redisSetTimeout(rc, tv);
        if (cfg->sentinel_password[0]) {
            r = redisCommand(rc, "AUTH %s", cfg->sentinel_password);
            if (!r || r->type == REDIS_REPLY_ERROR) {
                snprintf(what, sizeof(what), "sentinel authentication "
                         "failed: %s", r ? r->str : rc->errstr);
                goto bad;
            }
            freeReplyObject(r);
        }
        r = redisCommand(rc, "SENTINEL get-master-addr-by-name %s",
                         cfg->master_name);
        if (master_of(r, out) == 0) {
            snprintf(msg, len, "%s:%d (master %s, named by sentinel %s:%d)",
                     out->host, out->port, cfg->master_name, s->host,
                     s->port);
            freeReplyObject(r);
            redisFree(rc);
            return 0;
        }
        if (r)
            reply_why(r, cfg->master_name, what, sizeof(what));
        else
            snprintf(what, sizeof(what), "%s", rc->errstr);
bad:
        if (r)
            freeReplyObject(r);
        if (rc)
            redisFree(rc);
        size_t l = strlen(why);
        snprintf(why + l, sizeof(why) - l, "%s%s:%d: %s", l ? "; " : "",
                 s->host, s->port, what);
    }
    snprintf(msg, len, "no sentinel named the master %.100s (%.380s)",
             cfg->master_name, why);
    return STORE_EUNAVAILABLE;
}
