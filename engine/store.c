/* store.c -- durable, shared state in Redis (see store.h, docs/redis.md).
 *
 * Design. One hiredis async connection on the engine's libuv loop
 * (engine/redisuv.c: an adapter that writes a loop turn's commands at
 * once, without epoll changes); nothing here ever blocks the loop.
 *
 *  - Writes. store_contact_arrived / store_agent_login / store_record turn
 *    what the engine and the router did into ops of the current batch
 *    (`cur`, engine/storebatch.c). store_flush() sends `cur` as ONE
 *    EVALSHA of the batch script, numbered with a sequence number, and
 *    keeps it on the in-flight list until Redis confirms it. Replies come
 *    back in order on one connection, so the head of the in-flight list is
 *    always the batch a reply belongs to. The script checks the fencing
 *    token (a stale owner is refused) and skips a batch applied before, so
 *    sending a batch again after a reconnect is harmless.
 *
 *  - Barriers. A barrier remembers the sequence number of the batch that
 *    holds the writes queued before it; it fires when that batch is
 *    confirmed (durability: redis) or at the next flush (durability:
 *    memory). Barriers are a FIFO with non-decreasing sequence numbers.
 *
 *  - Redis away. The connection is re-made with exponential backoff
 *    (reconnect_min_ms .. reconnect_max_ms). Unconfirmed batches stay on the
 *    in-flight list and new ops pile up in `cur`; after the reconnect the
 *    lease is checked first, then every in-flight batch is sent again in
 *    order, then `cur`. Past max_pending unconfirmed ops store_writable()
 *    turns false (the engine refuses new contacts), but nothing accepted is
 *    dropped while this engine keeps its term.
 *
 *  - Lease. `ccr:{t}:lease` = "token|addr" with PX lease_ms; the token is
 *    INCR of `ccr:{t}:fence`. The lease script renews it (owner) or takes
 *    it when free (standby), every renew_ms. An owner whose renewal is not
 *    confirmed before the lease would expire by its own clock reports
 *    SUSPENDED at once and holds its writes; if, later, the lease turns out
 *    to be free and the fence counter unchanged (nobody took over), it
 *    keeps its term and resumes. If another engine took over, the term is
 *    lost: pending writes and barriers are dropped (failed), on_reset is
 *    called and this engine is a standby.
 *
 *    While the lease is not confirmed the role is SUSPENDED, not STANDBY:
 *    the engine keeps its connections, routes nothing and refuses changes
 *    (a retryable error); STANDBY is only for a term that is over.
 *
 *  - Recovery. A new term loads the tenant's state in chunks of
 *    load_chunk objects per call of the load script (agents, then live
 *    contacts in arrival order, each with the client name of its owner),
 *    across loop turns, feeds them to the load hooks, and reports OWNER
 *    only after the last one (start_load).
 *
 *  - Layout journal (cfg.layout, docs/redis.md "The journal layout").
 *    The same batches, barriers, fencing and sequence, but a batch is
 *    sent as ONE append of its ops packed (engine/journal.c) instead of a
 *    script that writes a key per op: the per-key work moves out of
 *    Redis. Recovery replays the journal (after the current snapshot)
 *    into final states and hands them to the same load hooks in the same
 *    order. A snapshot is a batch of the sequence too (store_sent.snap):
 *    taken right after a batch left, when nothing waits in `cur`, so the
 *    router's state is exactly what the batches before it wrote; its
 *    chunks are plain SETs and one fenced swap makes it current, so no
 *    script runs over the whole tenant -- which is also how the full
 *    rewrite after "Redis lost the state" is written in this layout.
 *
 *  - Arrival. A contact's place among equals is its arrival time and, for
 *    equal times, its arrival sequence (router_contact_info: arrived_at,
 *    seq). Both are persisted exactly: `arrived_us` is the router's
 *    monotonic arrival plus ONE wall-minus-monotonic offset read when the
 *    store is created (so the spacing of arrivals is kept to the
 *    microsecond), `seq` is seq_base plus the router's sequence (seq_base
 *    is past every sequence loaded, so it grows across engines) and is the
 *    score of the contacts set, the order recovery feeds them back in.
 *
 *  - Faults (docs/redis.md, "Faults"). Redis lost the term's writes (the
 *    fence counter below the token, or the generation marker `applied`
 *    missing or behind: the lease script answers 3, a batch "LOST"): the
 *    sent batches are dropped, the engine's snapshot hook rewrites the
 *    whole state as one batch that begins with op Z, and barriers fire
 *    only once it is confirmed. Redis refuses writes (any other error of a
 *    batch or of the lease script: OOM, READONLY, MISCONF, LOADING): the
 *    connection is kept, every waiting barrier fails with the reason, new
 *    changes are refused (store_reserve), and the held batches are sent
 *    again with exponential backoff until Redis takes them. AUTH / ACL
 *    refused: "redis authentication failed", reconnect with backoff. Each
 *    change of such a state is one log line (rate-limited, state_log).
 *
 *  - Redis Cluster (redis.cluster; docs/redis.md, "Redis Cluster"). All
 *    of a tenant's keys share its hash tag: one slot, one primary. The
 *    cluster client (engine/cluster.c) is used only as a LOCATOR, through
 *    redisaddr: it says which primary owns the slot, and the store keeps
 *    its own single hiredis connection there. Why not send through the
 *    client: (1) WAIT counts the writes of one connection, so durability
 *    replicated needs the batches and the WAIT on one connection; (2) the
 *    in-order reply assumption above (head of the in-flight list) holds
 *    on one connection; (3) the client follows ASK by itself, and during
 *    a migration that would write part of a batch's keys on the target
 *    while the others are still on the source: the tenant split in two.
 *    The store follows MOVED itself (relocate at the address it names,
 *    reconnect, lease check, held batches again in order: they are
 *    idempotent by the generation marker), a disconnect (locate again
 *    from a fresh slot table: a failover), and a new table naming another
 *    owner (redisaddr's moved callback).
 *
 *    A slot being MIGRATED is held, not followed. Redis 7.0 checks each
 *    command a script runs: on the MIGRATING source a key of the slot
 *    that is not there (moved already, or never created: a new contact)
 *    aborts the script with "Script attempted to access a non local key"
 *    AFTER its earlier writes were applied -- and the batch script sets
 *    the generation marker first, so a resend would be skipped: lost
 *    writes. In cluster mode the batch script therefore starts with a
 *    probe (CLUSTER_PROBE): redis.pcall of EXISTS on a key of the slot
 *    that never exists fails exactly when the slot is migrating, and the
 *    script then returns "MIGRATING ..." having written nothing. A script
 *    runs atomically (MIGRATE and SETSLOT wait for it), so a batch that
 *    passed the probe runs entirely on a stable slot. ASK and TRYAGAIN
 *    replies (the declared keys moved already) mean the same. Writes are
 *    then held exactly as when Redis refuses writes (refuse_fault, with
 *    `migrating`): waiting requests answered, changes refused, the held
 *    batches tried again with backoff. Nothing is written anywhere while
 *    the slot is open, so the keys move as a whole; once the slot is
 *    assigned to the target, the source answers MOVED and the store goes
 *    there. The lease script touches its declared keys only (Redis
 *    checks them before the script runs: ASK/TRYAGAIN when any moved), so
 *    it runs on the source until they move.
 *
 * Every timer runs off one tick (a one-shot libuv timer, re-armed): every
 * min(50 ms, renew_ms / 2) while something is being retried or awaited
 * (connect, backoff, load, refusal), and in the steady state only when
 * the next renewal, the lease's expiry or a reply timeout is due
 * (tick_due), so an idle engine wakes up once per renewal.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "clock.h"
#include "lathist.h"
#include "log.h"
#include "journal.h"
#include "redisaddr.h"
#include "redisuv.h"
#include "respcmd.h"
#include "router.h"
#include "store.h"
#include "storebatch.h"

/* Put before the batch script in cluster mode (see "Redis Cluster" above):
 * EXISTS of a key of the tenant's slot that never exists fails inside a
 * script exactly when the slot is being migrated (the node is MIGRATING
 * it, or no longer owns it), and then the batch writes nothing. */
#define CLUSTER_PROBE                                                       \
    "local probe = redis.pcall('EXISTS', KEYS[1] .. ':migration-probe')\n" \
    "if type(probe) == 'table' and probe.err then\n"                       \
    "  return redis.error_reply('MIGRATING slot is being migrated: ' ..\n" \
    "                           probe.err)\n"                               \
    "end\n"

enum conn_state {
    CONN_IDLE = 0,       /* no connection; reconnect_at_us says when */
    CONN_LOCATING,       /* asking where the master is (redisaddr) */
    CONN_CONNECTING,     /* connect, AUTH, SELECT, ROLE, SCRIPT LOAD */
    CONN_READY,          /* scripts loaded */
};

struct store_barrier_ent {
    store_barrier_cb cb;
    void *arg;
    uint64_t seq;        /* fires once confirmed_seq >= seq */
};

/* A sent batch waiting for its reply. */
struct store_sent {
    struct store_sent *next;
    uint64_t seq;
    uint64_t sent_us;           /* its last send, for the round trip */
    uint8_t snap;               /* layout journal: 0 a batch; 'S' a
                                   periodic snapshot, 'Z' the rewrite after
                                   Redis lost the state, both written as
                                   snapshot chunks and a swap */
    struct storebatch b;
};

struct store {
    uv_loop_t *loop;
    struct store_config cfg;
    struct router *router;
    struct store_hooks hooks;
    bool redis;                         /* cfg.enabled */
    enum store_role role;
    char owner_addr[300];

    /* keys */
    char prefix[128], k_lease[160], k_fence[160], k_applied[160];

    /* where: the address of the connection (redisaddr.h) */
    struct redisaddr *addr;
    char host[256];
    int port;
    char where[400];                    /* "H:P" or "H:P (master M)" */

    /* connection */
    redisAsyncContext *ac;
    enum conn_state conn;
    uint64_t conn_started_us;
    uint32_t backoff_ms;
    uint64_t reconnect_at_us;
    uint64_t down_since_us;
    bool ever_ready;
    bool logged_down;
    unsigned scripts_pending;
    char sha_batch[48], sha_lease[48], sha_load[48], sha_release[48];
    char sha_snap[48];                  /* layout journal: snapshot swap */
    unsigned outstanding;               /* replies awaited */
    uint64_t await_since_us;

    /* term */
    uint64_t token;                     /* 0: no term */
    char mine[320];                     /* lease value "token|addr" */
    bool term_loaded;
    bool loading;                       /* load calls under way */

    /* recovery: the load in chunks (start_load) */
    uint8_t load_next;                  /* kind of the next call: 'a', 'c',
                                           0 when every call is sent */
    size_t load_next_off;               /* its rank */
    size_t load_rank_a, load_rank_c;    /* objects handed over: the resume
                                           point after a reconnect */
    size_t load_rank_o;                 /* outbound objects, loaded first */
    bool load_a_done, load_c_done, load_o_done;
    size_t load_ob;
    unsigned load_flying;               /* load calls awaiting a reply */
    unsigned load_gen;                  /* tags the calls of one start */
    size_t load_agents, load_contacts, load_skipped;
    uint64_t load_max_seq;
    uint64_t load_started_us, load_stall_us;
    unsigned load_calls;
    /* recovery, layout journal: the entries replayed so far (handed to
     * the hooks only once the last one is in, load_chunk objects per
     * loop turn) and where the next call
     * starts ("-" or "(<id>") */
    struct journal_replay *jr;
    char jload_from[48];
    uint8_t jload_phase;                /* 'p' pointer, 's' chunks, 'j' */
    unsigned jsnap_i, jsnap_n;          /* snapshot chunks read / in all */
    char jsnap_base[48];                /* "<token>:<seq>:" of the chunks */
    uint64_t jtail;                     /* entries replayed after it */
    uv_idle_t *jfeed;                   /* hands jr to the hooks, a slice
                                           per loop turn (on_jfeed) */
    bool jfeeding;                      /* jfeed runs for this load */
    bool jhanded;                       /* some of jr is in the router */
    struct journal_buf jbuf;            /* a snapshot chunk being sent */
    struct respcmd cmd;                 /* the batch command being sent */
    struct respcmd jhead;               /* its first 7 arguments (journal) */
    char jhead_sha[48];                 /* the sha_batch jhead holds */
    uint64_t jsince;                    /* entries since the last snapshot */
    bool snap_failed;                   /* a snapshot hook call failed */
    bool lease_inflight;
    uint64_t lease_sent_us;
    uint64_t next_lease_us;
    uint64_t lease_valid_until_us;

    /* writes */
    struct storebatch cur;              /* events (and queue ops) */
    struct {                            /* store_disposition() */
        bool set, difficult;
        char id[ROUTER_ID_MAX];
        char code[32];
        char tags[16 * 32];
        char note[128];
        char product[ROUTER_ID_MAX];
    } disp;
    struct storestate keys;             /* final state per key of `cur` */
    uint64_t next_seq;                  /* seq of the next batch sent */
    uint64_t confirmed_seq;
    struct store_sent *sent_head, *sent_tail, *free_sent;
    bool need_resend;                   /* sent list must go out again */
    size_t nsent;                       /* batches on the sent list */
    bool stop_flush;                    /* store_stop: ignore max_inflight */
    size_t pending_ops;
    bool over_bound;                    /* logged state of the bound */
    const char **argv;
    size_t *argvlen;
    size_t argcap;
    int64_t wall_off_us;                /* wall us - monotonic us, fixed */
    uint64_t seq_base;                  /* persisted seq = base + router's */
    uint64_t seq_local;                 /* without a router (tests) */

    /* faults */
    bool auth_failed;                   /* AUTH / ACL refused */
    bool refused;                       /* Redis refuses writes */
    bool migrating;                     /* ... because the tenant's cluster
                                           slot is being migrated */
    char *batch_src;                    /* cluster: probe + batch script */
    char *snap_src;                     /* cluster: probe + snapshot swap */
    char fault[200];                    /* reason of either */
    char conn_why[200];                 /* why the connection is down */
    char setup_err[220];                /* last set-up error logged */
    uint64_t retry_at_us;               /* refused: next resend */
    uint32_t refuse_backoff_ms;
    unsigned batches_flying;            /* batch commands awaiting a reply */
    unsigned ignore_replies;            /* replies of dropped batches */
    bool lost_pending;                  /* a batch said LOST: lease round */
    struct storebatch *snap;            /* set inside hooks.snapshot */
    size_t snap_contacts, snap_agents;
    bool throttled;                     /* logged memory throttle state */

    /* durability replicated: WAIT after the confirmed batches */
    uint64_t repl_seq;                  /* batches up to this one are on
                                           min_replicas replicas */
    uint64_t wait_seq;                  /* what the WAIT in flight covers */
    bool wait_inflight;
    bool repl_short;                    /* the last WAIT fell short */
    long long repl_acked;               /* its count */
    uint64_t wait_retry_at_us;
    uint32_t wait_backoff_ms;
    uint64_t repl_gate;                 /* a WAIT counts only once batches
                                           up to this one are confirmed
                                           (the full rewrite, see there) */
    bool conn_wrote;                    /* this connection wrote (the lease
                                           script): a WAIT on it covers
                                           everything applied before */
    char whybuf[600];
    uint64_t log_window_us;             /* state_log limiter */
    unsigned log_count, log_dropped;

    /* store_record scratch: unique handles of one output list */
    uint32_t *hc, *ha;
    uint8_t *hc_gone, *ha_out;
    size_t hcap;

    /* barriers: FIFO ring */
    struct store_barrier_ent *barriers;
    size_t bhead, bcount, bcap;

    uv_timer_t *tick;
    uint32_t tick_ms;
    uint64_t tick_due_us;               /* when the armed tick fires */
    bool stopping;
    bool no_acquire;                    /* store_set_acquire(false) */
    bool layout_refused;                /* the tenant is stored in the
                                           other layout: never acquire */
    bool released;                      /* lease release sent */
    bool stop_finished;
    void (*stop_done)(void *arg);
    void *stop_arg;
    uint64_t stop_started_us;

    struct store_stats st;
};

static bool journal(const struct store *s)
{
    return s->cfg.layout == STORE_LAYOUT_JOURNAL;
}

static uint64_t now_us(void)
{
    return uv_hrtime() / 1000;
}

/* One line per change of a fault state, rate-limited: at most 6 lines per
 * 10 s window; the next line printed says how many were held back. */
static void state_log(struct store *s, enum log_level level,
                      const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void state_log(struct store *s, enum log_level level,
                      const char *fmt, ...)
{
    uint64_t now = now_us();
    if (now - s->log_window_us > 10000000u) {
        s->log_window_us = now;
        s->log_count = 0;
    }
    if (s->log_count >= 6) {
        s->log_dropped++;
        return;
    }
    s->log_count++;
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (s->log_dropped) {
        log_msg(level, "%s (%u state changes not logged before this one)",
                line, s->log_dropped);
        s->log_dropped = 0;
    } else {
        log_msg(level, "%s", line);
    }
}

/* ---------------------------------------------------------------- */
/* barriers */

static int barrier_room(struct store *s);
static void tick_arm(struct store *s);
static void on_tick(uv_timer_t *t);

static int barrier_push(struct store *s, store_barrier_cb cb, void *arg,
                        uint64_t seq)
{
    if (barrier_room(s) < 0)
        return STORE_ENOMEM;
    struct store_barrier_ent *e =
        &s->barriers[(s->bhead + s->bcount) % s->bcap];
    e->cb = cb;
    e->arg = arg;
    e->seq = seq;
    s->bcount++;
    return 0;
}

/* Room for one more barrier without allocating. 0 or STORE_ENOMEM. */
static int barrier_room(struct store *s)
{
    if (s->bcount < s->bcap)
        return 0;
    size_t n = s->bcap ? s->bcap * 2 : 64;
    struct store_barrier_ent *b = malloc(n * sizeof(*b));
    if (!b)
        return STORE_ENOMEM;
    for (size_t i = 0; i < s->bcount; i++)
        b[i] = s->barriers[(s->bhead + i) % s->bcap];
    free(s->barriers);
    s->barriers = b;
    s->bcap = n;
    s->bhead = 0;
    return 0;
}

/* The last batch an Ack may rely on: confirmed by Redis, and under
 * durability replicated also by WAIT on min_replicas replicas. */
static uint64_t durable_seq(const struct store *s)
{
    return s->cfg.durability == STORE_DURABILITY_REPLICATED
               ? s->repl_seq : s->confirmed_seq;
}

/* Fires barriers from the head while `all` or their seq is durable.
 * Callbacks may queue new barriers (they go behind); at most the barriers
 * present at entry are considered. */
static void barriers_fire(struct store *s, bool all, int status)
{
    size_t n = s->bcount;
    while (n-- > 0 && s->bcount > 0) {
        struct store_barrier_ent e = s->barriers[s->bhead];
        if (!all && e.seq > durable_seq(s))
            break;
        s->bhead = (s->bhead + 1) % s->bcap;
        s->bcount--;
        s->st.barriers_fired++;
        if (status != 0)
            s->st.barriers_failed++;
        e.cb(e.arg, status);
    }
}

/* ---------------------------------------------------------------- */
/* roles */

static void set_role(struct store *s, enum store_role role, const char *addr)
{
    if (!addr)
        addr = "";
    if (s->role == role && strcmp(s->owner_addr, addr) == 0)
        return;
    s->role = role;
    snprintf(s->owner_addr, sizeof(s->owner_addr), "%s", addr);
    if (role == STORE_ROLE_OWNER)
        log_info("store: tenant %s: owner (token %" PRIu64 ")",
                 s->cfg.tenant, s->token);
    else if (role == STORE_ROLE_STANDBY)
        log_info("store: tenant %s: standby, owner %s", s->cfg.tenant,
                 addr[0] ? addr : "(none)");
    else if (role == STORE_ROLE_SUSPENDED)
        s->st.suspensions++;
    if (s->hooks.on_role)
        s->hooks.on_role(s->hooks.arg, role, s->owner_addr);
}

/* Ops of the batch not sent yet: its events plus one per key touched. */
static size_t cur_ops(const struct store *s)
{
    return s->cur.nops + s->keys.n;
}

static void pending_update(struct store *s)
{
    size_t p = cur_ops(s);
    for (struct store_sent *b = s->sent_head; b; b = b->next)
        if (b->snap != 'S')          /* a copy of the state, not changes */
            p += b->b.nops;
    s->pending_ops = p;
    bool over = s->redis && p >= s->cfg.max_pending;
    if (over != s->over_bound) {
        s->over_bound = over;
        if (over)
            log_warn("store: %zu unconfirmed writes, past max_pending %zu: "
                     "refusing new contacts", p, s->cfg.max_pending);
        else
            log_info("store: unconfirmed writes back under max_pending");
    }
}

static void sent_recycle(struct store *s, struct store_sent *b)
{
    storebatch_reset(&b->b);
    b->snap = 0;
    b->next = s->free_sent;
    s->free_sent = b;
}

/* Forgets every batch sent and not yet confirmed; replies still on their
 * way are ignored when they come. */
static void sent_drop_all(struct store *s)
{
    s->ignore_replies += s->batches_flying;
    s->batches_flying = 0;
    while (s->sent_head) {
        struct store_sent *b = s->sent_head;
        s->sent_head = b->next;
        sent_recycle(s, b);
    }
    s->sent_tail = NULL;
    s->nsent = 0;
}

/* The term is over: another engine owns (or owned) the tenant since. */
static void term_lost(struct store *s, const char *why)
{
    if (s->token == 0)
        return;
    log_warn("store: tenant %s: lease lost (%s); dropping %zu unconfirmed "
             "writes of token %" PRIu64, s->cfg.tenant, why,
             s->pending_ops, s->token);
    s->token = 0;
    s->mine[0] = '\0';
    s->term_loaded = false;
    s->loading = false;
    s->jhanded = false;                 /* on_reset below empties it */
    s->need_resend = false;
    s->lost_pending = false;
    s->repl_short = false;
    sent_drop_all(s);
    storebatch_reset(&s->cur);
    storestate_reset(&s->keys);
    pending_update(s);
    set_role(s, STORE_ROLE_STANDBY, "");
    barriers_fire(s, true, STORE_EUNAVAILABLE);
    if (s->hooks.on_reset)
        s->hooks.on_reset(s->hooks.arg);
    s->next_lease_us = 0;               /* learn the owner at once */
    tick_arm(s);
}

/* ---------------------------------------------------------------- */
/* connection */

static void conn_drop(struct store *s);
static void send_lease(struct store *s);
static void send_pending(struct store *s);

static void cmd_sent(struct store *s)
{
    if (s->outstanding++ == 0) {
        s->await_since_us = now_us();
        tick_arm(s);                 /* the reply timeout is due now */
    }
}

static void cmd_replied(struct store *s)
{
    if (s->outstanding > 0)
        s->outstanding--;
    s->await_since_us = now_us();
}

static void on_tick_closed(uv_handle_t *h)
{
    free(h);
}

static void jfeed_close(struct store *s)
{
    if (s->jfeed) {
        s->jfeed->data = NULL;
        uv_close((uv_handle_t *)s->jfeed, on_tick_closed);
        s->jfeed = NULL;
    }
    s->jfeeding = false;
}

/* The end of store_stop(): no handle of the store is left open (uv_run()
 * may return), pending barriers fail, `done` is called. Runs once. */
static void stop_finish(struct store *s)
{
    if (s->stop_finished)
        return;
    s->stop_finished = true;
    barriers_fire(s, true, STORE_EUNAVAILABLE);
    if (s->tick) {
        s->tick->data = NULL;
        uv_close((uv_handle_t *)s->tick, on_tick_closed);
        s->tick = NULL;
    }
    jfeed_close(s);
    void (*done)(void *) = s->stop_done;
    s->stop_done = NULL;
    if (done)
        done(s->stop_arg);
}

/* Called once per connection when it is gone (whatever the cause). */
static void conn_lost(struct store *s, const char *why)
{
    bool was_ready = s->conn == CONN_READY;
    s->ac = NULL;
    s->conn = CONN_IDLE;
    s->outstanding = 0;
    s->lease_inflight = false;
    s->loading = false;
    s->scripts_pending = 0;
    s->batches_flying = 0;              /* no reply will come */
    s->ignore_replies = 0;
    s->wait_inflight = false;           /* tick sends it again */
    s->conn_wrote = false;
    snprintf(s->conn_why, sizeof(s->conn_why), "%s", why);
    if (s->sent_head)
        s->need_resend = true;
    uint64_t now = now_us();
    if (s->stopping) {
        log_info("store: redis connection closed");
    } else if (was_ready) {
        s->down_since_us = now;
        log_warn("store: redis %s disconnected (%s); routing goes on in "
                 "memory, writes are kept", s->where, why);
        s->logged_down = true;
    } else if (!s->logged_down && !s->stopping) {
        if (!s->down_since_us)
            s->down_since_us = now;
        if (!s->auth_failed)
            log_warn("store: cannot connect to redis %s (%s); retrying",
                     s->where, why);
        s->logged_down = true;
    }
    s->reconnect_at_us = now + (uint64_t)s->backoff_ms * 1000;
    uint32_t b = s->backoff_ms * 2;
    s->backoff_ms = b > s->cfg.reconnect_max_ms ? s->cfg.reconnect_max_ms : b;
    if (s->stopping)
        stop_finish(s);
    else
        tick_arm(s);                 /* reconnect after the backoff */
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct store *s = ac->data;
    if (!s)
        return;
    if (status != REDIS_OK)
        conn_lost(s, ac->errstr[0] ? ac->errstr : "connect failed");
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct store *s = ac->data;
    if (!s)
        return;
    conn_lost(s, ac->err ? ac->errstr : "closed");
}

/* Drops the connection; conn_lost runs from the disconnect callback, or
 * here when the connection never completed (hiredis calls no callback). */
static void conn_drop(struct store *s)
{
    redisAsyncContext *ac = s->ac;
    if (!ac)
        return;
    if (ac->c.flags & REDIS_CONNECTED) {
        redisAsyncFree(ac);         /* on_disconnect runs (maybe later) */
    } else {
        ac->data = NULL;
        redisAsyncFree(ac);
        conn_lost(s, "timeout");
    }
}

static void on_ready(struct store *s)
{
    s->conn = CONN_READY;
    s->conn_why[0] = '\0';
    s->setup_err[0] = '\0';
    if (s->auth_failed) {
        s->auth_failed = false;
        state_log(s, LOG_INFO, "store: redis %s: authentication "
                  "accepted again", s->where);
    }
    if (s->ever_ready) {
        s->st.reconnects++;
        log_info("store: redis %s reconnected after %" PRIu64 " ms",
                 s->where,
                 (now_us() - s->down_since_us) / 1000);
    } else {
        log_info("store: redis %s connected", s->where);
    }
    s->ever_ready = true;
    s->logged_down = false;
    s->down_since_us = 0;
    s->next_lease_us = 0;
    send_lease(s);
}

/* Errors that mean "these credentials are refused": a wrong password, no
 * password where one is required, an ACL user without the rights the
 * engine needs. */
static bool is_auth_error(const char *e)
{
    return !strncmp(e, "WRONGPASS", 9) || !strncmp(e, "NOAUTH", 6) ||
           !strncmp(e, "NOPERM", 6) || !strncmp(e, "ERR AUTH", 8) ||
           strstr(e, "invalid password") || strstr(e, "no password is set");
}

/* READONLY from the server the sentinels named: it was demoted (a
 * failover happened). With a fixed address READONLY is a refusal like OOM
 * (see refuse_fault): there is nobody to ask where the master went. */
static bool is_demoted(const struct store *s, const char *e)
{
    return redisaddr_sentinel(s->addr) && !strncmp(e, "READONLY", 8);
}

static void not_master(struct store *s, const char *what);

static void auth_fault(struct store *s, const char *msg)
{
    if (!s->auth_failed) {
        s->auth_failed = true;
        s->st.auth_failures++;
        snprintf(s->fault, sizeof(s->fault), "%s", msg);
        state_log(s, LOG_ERROR, "store: redis %s: redis authentication "
                  "failed: %s; check redis.password (and the ACL user's "
                  "rights); retrying with backoff", s->where, msg);
    }
    snprintf(s->conn_why, sizeof(s->conn_why), "redis authentication "
             "failed: %s", msg);
}

/* Replies of the connection set-up (AUTH, SELECT, SCRIPT LOAD). privdata:
 * the SHA slot to fill, or NULL. */
static void on_setup_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct store *s = ac->data;
    redisReply *reply = r;
    if (!s || !reply)
        return;
    cmd_replied(s);
    if (reply->type == REDIS_REPLY_ERROR) {
        if (is_auth_error(reply->str)) {
            auth_fault(s, reply->str);
        } else if (s->conn == CONN_CONNECTING) {
            char why[sizeof(s->conn_why)];
            snprintf(why, sizeof(why), "set-up failed: %s", reply->str);
            if (strcmp(why, s->setup_err) != 0)  /* once per cause */
                state_log(s, LOG_ERROR, "store: redis %s", why);
            snprintf(s->setup_err, sizeof(s->setup_err), "%s", why);
        }
        conn_drop(s);
        return;
    }
    if (priv && reply->type == REDIS_REPLY_STRING)
        snprintf(priv, 48, "%s", reply->str);
    if (priv && --s->scripts_pending == 0 && s->conn == CONN_CONNECTING)
        on_ready(s);
}

/* The server is not (or no longer) the master the sentinels named: a
 * ROLE that is not "master", a READONLY reply, a +switch-master to
 * another address. Nothing is written to it: the connection is dropped
 * and the next connect asks the sentinels again (with the reconnect
 * backoff); writes are kept and sent to the master found then. */
static void not_master(struct store *s, const char *what)
{
    s->st.not_master++;
    state_log(s, LOG_WARN, "store: redis %s is not the master (%s); "
              "asking the %s again", s->where, what,
              redisaddr_cluster(s->addr) ? "cluster" : "sentinels");
    snprintf(s->conn_why, sizeof(s->conn_why), "not the master: %.160s", what);
    conn_drop(s);
}

/* ROLE, first of the set-up replies after AUTH / SELECT (sentinel mode
 * only: a fixed address is used as configured). */
static void on_role_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct store *s = ac->data;
    redisReply *reply = r;
    if (!s || !reply)
        return;
    cmd_replied(s);
    if (reply->type == REDIS_REPLY_ERROR) {
        if (is_auth_error(reply->str))
            auth_fault(s, reply->str);
        conn_drop(s);
        return;
    }
    const char *role = reply->type == REDIS_REPLY_ARRAY &&
                       reply->elements > 0 &&
                       reply->element[0]->type == REDIS_REPLY_STRING
                           ? reply->element[0]->str : "?";
    if (strcmp(role, "master") != 0) {
        char what[80];
        snprintf(what, sizeof(what), "ROLE says %s", role);
        not_master(s, what);
    }
}

static void conn_open(struct store *s);
static void where_init(struct store *s);

/* redisaddr_find's answer: connect there, or wait for the next try. */
static void on_found(void *arg, int status, const char *host, int port,
                     const char *why)
{
    struct store *s = arg;
    if (s->conn != CONN_LOCATING)
        return;
    if (status < 0) {
        where_init(s);
        conn_lost(s, why);
        return;
    }
    if (redisaddr_cluster(s->addr)) {
        unsigned slot = redisaddr_slot(s->addr);
        s->st.master_lookups++;
        if (s->host[0] && (strcmp(s->host, host) != 0 || s->port != port)) {
            s->st.master_changes++;
            state_log(s, LOG_WARN, "store: the cluster names %s:%d as the "
                      "owner of slot %u of tenant %s (was %s:%d)", host,
                      port, slot, s->cfg.tenant, s->host, s->port);
        }
        snprintf(s->where, sizeof(s->where), "%s:%d (slot %u)", host, port,
                 slot);
    } else if (redisaddr_sentinel(s->addr)) {
        s->st.master_lookups++;
        if (s->host[0] && (strcmp(s->host, host) != 0 || s->port != port)) {
            s->st.master_changes++;
            state_log(s, LOG_WARN, "store: the sentinels name %s:%d as "
                      "master %s (was %s:%d)", host, port,
                      s->cfg.master_name, s->host, s->port);
        }
        snprintf(s->where, sizeof(s->where), "%s:%d (master %s)", host,
                 port, s->cfg.master_name);
    } else {
        snprintf(s->where, sizeof(s->where), "%s:%d", host, port);
    }
    snprintf(s->host, sizeof(s->host), "%s", host);
    s->port = port;
    conn_open(s);
}

/* +switch-master from the subscribed sentinel: leave the old master at
 * once rather than write to it until it is demoted. */
static void on_moved(void *arg, const char *host, int port)
{
    struct store *s = arg;
    if (s->stopping || !s->ac || (strcmp(s->host, host) == 0 &&
                                  s->port == port))
        return;
    char what[300];
    if (redisaddr_cluster(s->addr))
        snprintf(what, sizeof(what), "the slot table names %s:%d as the "
                 "owner of slot %u", host, port, redisaddr_slot(s->addr));
    else
        snprintf(what, sizeof(what), "+switch-master to %s:%d", host, port);
    s->backoff_ms = s->cfg.reconnect_min_ms;
    not_master(s, what);
}

/* `where` before the first connect, or while none is found. */
static void where_init(struct store *s)
{
    if (redisaddr_cluster(s->addr))
        snprintf(s->where, sizeof(s->where), "owner of slot %u (via the "
                 "cluster)", redisaddr_slot(s->addr));
    else if (redisaddr_sentinel(s->addr))
        snprintf(s->where, sizeof(s->where), "master %s (via sentinels)",
                 s->cfg.master_name);
    else
        snprintf(s->where, sizeof(s->where), "%s:%d", s->cfg.host,
                 s->cfg.port);
}

/* A new connection: first where (redisaddr), then conn_open. */
static void conn_start(struct store *s)
{
    s->conn = CONN_LOCATING;
    s->conn_started_us = now_us();
    redisaddr_find(s->addr, on_found, s);
}

static void conn_open(struct store *s)
{
    redisAsyncContext *ac = redisAsyncConnect(s->host, s->port);
    if (!ac || ac->err) {
        const char *why = ac ? ac->errstr : "out of memory";
        char buf[128];
        snprintf(buf, sizeof(buf), "%s", why);
        if (ac)
            redisAsyncFree(ac);
        s->conn = CONN_CONNECTING;
        conn_lost(s, buf);
        return;
    }
    ac->data = s;
    if (redisuv_attach(ac, s->loop) != REDIS_OK) {
        ac->data = NULL;
        redisAsyncFree(ac);
        s->conn = CONN_CONNECTING;
        conn_lost(s, "libuv attach failed");
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    s->ac = ac;
    s->conn = CONN_CONNECTING;
    s->conn_started_us = now_us();
    s->outstanding = 0;
    if (s->cfg.password[0]) {
        redisAsyncCommand(ac, on_setup_reply, NULL, "AUTH %s",
                          s->cfg.password);
        cmd_sent(s);
    }
    if (s->cfg.db) {
        redisAsyncCommand(ac, on_setup_reply, NULL, "SELECT %d", s->cfg.db);
        cmd_sent(s);
    }
    /* Its reply comes before the scripts' (one connection, in order), so
     * a replica is left before on_ready() would send anything to it. */
    if (redisaddr_sentinel(s->addr)) {
        redisAsyncCommand(ac, on_role_reply, NULL, "ROLE");
        cmd_sent(s);
    }
    const struct { const char *src; size_t off; } scripts[] = {
        { s->batch_src ? s->batch_src
          : journal(s) ? storebatch_journal_script : storebatch_script,
          offsetof(struct store, sha_batch) },
        { storebatch_lease_script, offsetof(struct store, sha_lease) },
        { journal(s) ? storebatch_journal_load_script
                     : storebatch_load_script,
          offsetof(struct store, sha_load) },
        { storebatch_release_script, offsetof(struct store, sha_release) },
        { s->snap_src ? s->snap_src : storebatch_snapshot_script,
          offsetof(struct store, sha_snap) },
    };
    int nscripts = journal(s) ? 5 : 4;
    s->scripts_pending = (unsigned)nscripts;
    for (int i = 0; i < nscripts; i++) {
        redisAsyncCommand(ac, on_setup_reply, (char *)s + scripts[i].off,
                          "SCRIPT LOAD %s", scripts[i].src);
        cmd_sent(s);
    }
}

/* ---------------------------------------------------------------- */
/* batches */

static int argv_reserve(struct store *s, size_t n)
{
    if (n <= s->argcap)
        return 0;
    size_t c = s->argcap ? s->argcap : 256;
    while (c < n)
        c *= 2;
    const char **a = realloc(s->argv, c * sizeof(*a));
    if (!a)
        return -1;
    s->argv = a;
    size_t *l = realloc(s->argvlen, c * sizeof(*l));
    if (!l)
        return -1;
    s->argvlen = l;
    s->argcap = c;
    return 0;
}

/* Redis refuses writes (OOM under maxmemory noeviction, READONLY replica,
 * MISCONF, LOADING, ...): the connection is fine, so it is kept. Every
 * waiting barrier is answered now with the reason (the change stays in
 * memory and is written once Redis takes writes again; a retried request
 * is answered then), new changes are refused at admission, and the held
 * batches go again after an exponential backoff (retry_at_us). */
static void refuse_fault(struct store *s, const char *what, const char *msg,
                         bool migrating)
{
    uint64_t now = now_us();
    if (migrating && !s->migrating) {
        s->migrating = true;
        s->st.slot_migrations++;
        if (s->refused)
            state_log(s, LOG_WARN, "store: slot %u of tenant %s is being "
                      "migrated (redis %s, %s: %s); holding writes until "
                      "it is stable", redisaddr_slot(s->addr),
                      s->cfg.tenant, s->where, what, msg);
    } else if (!migrating) {
        s->migrating = false;
    }
    if (!s->refused) {
        s->refused = true;
        s->st.write_refusals++;
        s->refuse_backoff_ms = s->cfg.reconnect_min_ms;
        snprintf(s->fault, sizeof(s->fault), "%s", msg);
        if (migrating)
            state_log(s, LOG_WARN, "store: slot %u of tenant %s is being "
                      "migrated (redis %s, %s: %s); not ready: holding %zu "
                      "writes, refusing changes, until it is stable on its "
                      "owner", redisaddr_slot(s->addr), s->cfg.tenant,
                      s->where, what, msg, s->pending_ops);
        else
            state_log(s, LOG_ERROR, "store: redis %s refuses writes (%s: "
                      "%s); not ready: holding %zu writes, refusing "
                      "changes, retrying with backoff", s->where, what,
                      msg, s->pending_ops);
    } else {
        uint32_t b = s->refuse_backoff_ms * 2;
        s->refuse_backoff_ms = b > s->cfg.reconnect_max_ms
                                   ? s->cfg.reconnect_max_ms : b;
        if (strcmp(s->fault, msg) != 0) {
            snprintf(s->fault, sizeof(s->fault), "%s", msg);
            if (!migrating)
                state_log(s, LOG_WARN, "store: redis %s still refuses "
                          "writes, now: %s", s->where, msg);
        }
    }
    s->retry_at_us = now + (uint64_t)s->refuse_backoff_ms * 1000;
    barriers_fire(s, true, STORE_EUNAVAILABLE);
    tick_arm(s);                     /* the retry after the backoff */
}

static void refuse_clear(struct store *s)
{
    if (!s->refused)
        return;
    s->refused = false;
    s->fault[0] = '\0';
    if (s->migrating)
        state_log(s, LOG_INFO, "store: slot %u of tenant %s is stable on "
                  "redis %s; writes go on; ready", redisaddr_slot(s->addr),
                  s->cfg.tenant, s->where);
    else
        state_log(s, LOG_INFO, "store: redis %s accepts writes again; "
                  "ready", s->where);
    s->migrating = false;
}

/* Redis Cluster: the reply says the tenant's slot is being migrated --
 * the batch script's probe ("MIGRATING ..."), ASK or TRYAGAIN (a
 * declared key moved already), or, defensively, a script stopped by a
 * key that is not local. */
static bool slot_migrating(const struct store *s, const char *e)
{
    return redisaddr_cluster(s->addr) &&
           (!strncmp(e, "MIGRATING", 9) || !strncmp(e, "ASK ", 4) ||
            !strncmp(e, "TRYAGAIN", 8) || strstr(e, "non local key"));
}

/* Redis Cluster: "MOVED <slot> <host>:<port>", the node does not serve
 * the tenant's slot (any more): the migration ended, or a failover, or
 * the table was stale. The connection is left and the next connect goes
 * to the node named (redisaddr_hint); the held batches are sent there,
 * in order, after the lease check, at once (a migration hold ends here:
 * the new owner tells by itself if it refuses). True when handled. */
static bool slot_moved(struct store *s, const char *e)
{
    if (!redisaddr_cluster(s->addr) || strncmp(e, "MOVED ", 6) != 0)
        return false;
    const char *addr = strchr(e + 6, ' ');
    const char *colon = addr ? strrchr(addr, ':') : NULL;
    if (colon && colon > addr + 1 && colon - addr - 1 < 256) {
        char host[256];
        memcpy(host, addr + 1, (size_t)(colon - addr - 1));
        host[colon - addr - 1] = '\0';
        int port = atoi(colon + 1);
        if (port > 0 && port <= 65535)
            redisaddr_hint(s->addr, host, port);
    }
    s->st.slot_moves++;
    state_log(s, LOG_WARN, "store: redis %s does not serve slot %u of "
              "tenant %s any more (%s); going there", s->where,
              redisaddr_slot(s->addr), s->cfg.tenant, e);
    if (s->refused) {
        s->refused = false;
        s->migrating = false;
        s->fault[0] = '\0';
    }
    s->backoff_ms = s->cfg.reconnect_min_ms;
    snprintf(s->conn_why, sizeof(s->conn_why), "slot moved: %.180s", e);
    conn_drop(s);
    return true;
}

static void rewrite_state(struct store *s, const char *why);
static void wait_kick(struct store *s);

static void on_batch_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct store *s = ac->data;
    redisReply *reply = r;
    if (!s || !reply)
        return;                      /* connection gone: conn_lost resends */
    cmd_replied(s);
    if (s->ignore_replies > 0) {     /* a batch dropped while in flight */
        s->ignore_replies--;
        return;
    }
    if (s->batches_flying > 0)
        s->batches_flying--;
    struct store_sent *b = s->sent_head;
    if (!b)
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        if (strncmp(reply->str, "FENCED", 6) == 0) {
            term_lost(s, reply->str);
            return;
        }
        /* Nothing of this batch was applied, nor of any sent behind it
         * (they answer GAP): the whole sent list goes again. */
        s->need_resend = true;
        if (strncmp(reply->str, "GAP", 3) == 0)
            return;                  /* behind a refused one */
        if (strncmp(reply->str, "LOST", 4) == 0) {
            /* Redis lost this term's writes: the lease script re-sets the
             * fence and answers 3, and rewrite_state() follows. */
            if (!s->lost_pending)
                log_warn("store: tenant %s: write batch %" PRIu64 ": %s; "
                         "checking the lease", s->cfg.tenant, b->seq,
                         reply->str);
            s->lost_pending = true;
            s->next_lease_us = 0;
            send_lease(s);
            return;
        }
        if (strncmp(reply->str, "NOSCRIPT", 8) == 0) {
            log_warn("store: redis forgot the scripts (%s); reconnecting",
                     reply->str);
            conn_drop(s);
            return;
        }
        if (is_auth_error(reply->str)) {
            auth_fault(s, reply->str);
            conn_drop(s);
            return;
        }
        if (is_demoted(s, reply->str)) {
            not_master(s, reply->str);
            return;
        }
        if (slot_moved(s, reply->str))
            return;
        refuse_fault(s, "write batch", reply->str,
                     slot_migrating(s, reply->str));
        return;
    }
    refuse_clear(s);
    s->sent_head = b->next;
    if (!s->sent_head)
        s->sent_tail = NULL;
    s->nsent--;
    s->confirmed_seq = b->seq;
    s->st.batches_confirmed++;
    {
        uint64_t t = now_us();
        lathist_observe(&s->st.batch_rtt, t > b->sent_us ? t - b->sent_us
                                                         : 0);
    }
    s->st.ops_confirmed += b->b.nops;
    sent_recycle(s, b);
    /* The batch that waited for this slot is not sent from here: it
     * leaves in this turn's store_flush(), together with what the rest of
     * the turn adds (the other replies, the client requests read in the
     * same poll). Sent here, it would be a second EVALSHA and a second
     * write() in the same turn: hiredis' output is written by redisuv's
     * prepare handle, which libuv runs before the server's (the one that
     * calls store_flush), so the two would not even share a write. */
    pending_update(s);
    barriers_fire(s, false, 0);      /* memory: those held while throttled */
    wait_kick(s);                    /* replicated: on the replicas yet? */
}

/* The journal layout: the batch as ONE stream entry of its packed ops
 * (engine/journal.h), appended by the journal script after the same
 * fencing and generation checks as the batch script. */
static void send_journal(struct store *s, struct store_sent *b)
{
    /* The command is formatted in the store's buffer and the batch packed
     * straight into its last argument (one pass, no copy of the batch
     * before hiredis' own), then handed to hiredis as is. */
    size_t jl = journal_packed_size(&b->b);
    size_t l0;
    const char *op0 = storebatch_arg(&b->b, 0, &l0);
    struct respcmd *c = &s->cmd;
    if (!s->jhead.len || s->jhead.failed ||
        strcmp(s->jhead_sha, s->sha_batch) != 0) {
        /* the arguments that stay while the script does: formatted once */
        respcmd_begin(&s->jhead, 12);
        respcmd_arg(&s->jhead, "EVALSHA", 7);
        respcmd_str(&s->jhead, s->sha_batch);
        respcmd_arg(&s->jhead, "3", 1);
        respcmd_str(&s->jhead, s->k_lease);
        respcmd_str(&s->jhead, s->k_fence);
        respcmd_str(&s->jhead, s->k_applied);
        respcmd_str(&s->jhead, s->prefix);
        memcpy(s->jhead_sha, s->sha_batch, sizeof(s->jhead_sha));
    }
    respcmd_copy(c, &s->jhead);
    respcmd_u64(c, s->token);
    respcmd_u64(c, b->seq);
    respcmd_arg(c, "0", 1);
    respcmd_str(c, l0 == 1 && op0[0] == 'Z' ? "Z" : "");
    uint8_t *at = respcmd_open(c, jl);
    if (at && journal_pack_to(&b->b, at) != at + jl)
        abort();                    /* journal_packed_size is wrong */
    if (!respcmd_end(c)) {
        log_error("store: out of memory packing a batch; reconnecting");
        conn_drop(s);
        return;
    }
    if (redisAsyncFormattedCommand(s->ac, on_batch_reply, NULL, c->p,
                                   c->len) != REDIS_OK) {
        conn_drop(s);
        return;
    }
    cmd_sent(s);
    b->sent_us = now_us();
    s->batches_flying++;
    s->st.batches_sent++;
    s->st.journal_bytes += jl;
}

static void on_chunk_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct store *s = ac->data;
    if (!s || !r)
        return;
    cmd_replied(s);
    /* a chunk Redis refused is found missing by the swap, which then
     * changes nothing and answers an error (a fault, sent again) */
}

/* Snapshot chunk size: plain SETs of at most about this many bytes, so
 * that Redis serves its other clients between two. */
#define SNAP_CHUNK_BYTES (256u * 1024u)

/* A chunk is written with this expiry and the swap that makes it current
 * removes it (PERSIST): chunks whose swap never ran (the engine died
 * between them, or its term ended, or Redis refused the swap) are
 * orphans nobody names, and they go by themselves. Only if the key does
 * not exist (NX): a snapshot sent again after its swap ran (the reply was
 * lost) must not put an expiry back on chunks that are current, which
 * no later swap of it would take off if the engine died first; the same
 * token and sequence name the same bytes, so an existing chunk is the
 * right one. The swap runs right behind its chunks on the same
 * connection; if Redis took longer than this between them, the swap
 * finds a chunk missing and the snapshot is sent again, whole. */
#define SNAP_CHUNK_TTL "600000"

/* A snapshot (the batch holds op Z and the whole state): chunks of packed
 * ops at op boundaries, each one SET of `snap:<token>:<seq>:<i>`, then
 * the fenced swap that makes them current (storebatch_snapshot_script).
 * All pipelined on the one connection: the swap runs after the SETs. */
static void send_snapshot(struct store *s, struct store_sent *b)
{
    char token[24], seq[24], nch[16], key[256];
    snprintf(token, sizeof(token), "%" PRIu64, s->token);
    snprintf(seq, sizeof(seq), "%" PRIu64, b->seq);
    unsigned n = 0;
    s->jbuf.len = 0;
    for (size_t k = 0; k <= b->b.nops; k++) {
        if (k < b->b.nops && journal_pack_ops(&b->b, k, k + 1, &s->jbuf) < 0) {
            log_error("store: out of memory packing a snapshot; "
                      "reconnecting");
            conn_drop(s);
            return;
        }
        if (s->jbuf.len < SNAP_CHUNK_BYTES && (k < b->b.nops || !s->jbuf.len))
            continue;
        snprintf(key, sizeof(key), "%ssnap:%s:%s:%u", s->prefix, token, seq,
                 n);
        const char *argv[] = { "SET", key, (const char *)s->jbuf.p, "NX",
                               "PX", SNAP_CHUNK_TTL };
        size_t argvlen[] = { 3, strlen(key), s->jbuf.len, 2, 2,
                             sizeof(SNAP_CHUNK_TTL) - 1 };
        if (redisAsyncCommandArgv(s->ac, on_chunk_reply, NULL, 6, argv,
                                  argvlen) != REDIS_OK) {
            conn_drop(s);
            return;
        }
        cmd_sent(s);
        s->st.journal_bytes += s->jbuf.len;
        s->jbuf.len = 0;
        n++;
    }
    snprintf(nch, sizeof(nch), "%u", n);
    const char *argv[] = { "EVALSHA", s->sha_snap, "3", s->k_lease,
                           s->k_fence, s->k_applied, s->prefix, token, seq,
                           nch, b->snap == 'Z' ? "Z" : "" };
    size_t argvlen[11];
    for (int i = 0; i < 11; i++)
        argvlen[i] = strlen(argv[i]);
    if (redisAsyncCommandArgv(s->ac, on_batch_reply, NULL, 11, argv,
                              argvlen) != REDIS_OK) {
        conn_drop(s);
        return;
    }
    cmd_sent(s);
    b->sent_us = now_us();
    s->batches_flying++;
    s->st.batches_sent++;
}

static void send_batch(struct store *s, struct store_sent *b)
{
    if (journal(s) && b->snap) {
        send_snapshot(s, b);
        return;
    }
    if (journal(s)) {
        send_journal(s, b);
        return;
    }
    size_t argc = storebatch_argc(&b->b);
    if (argv_reserve(s, argc) < 0) {
        log_error("store: out of memory sending a batch; reconnecting");
        conn_drop(s);
        return;
    }
    char token[24], seq[24], maxlen[24];
    snprintf(token, sizeof(token), "%" PRIu64, s->token);
    snprintf(seq, sizeof(seq), "%" PRIu64, b->seq);
    snprintf(maxlen, sizeof(maxlen), "%" PRIu32, s->cfg.stream_maxlen);
    const char *keys[3] = { s->k_lease, s->k_fence, s->k_applied };
    storebatch_command(&b->b, s->sha_batch, keys, s->prefix, token, seq,
                       maxlen, s->argv, s->argvlen);
    /* formatted in the store's buffer, not in an sds per batch */
    respcmd_begin(&s->cmd, argc);
    respcmd_argv(&s->cmd, argc, s->argv, s->argvlen);
    if (!respcmd_end(&s->cmd)) {
        log_error("store: out of memory sending a batch; reconnecting");
        conn_drop(s);
        return;
    }
    if (redisAsyncFormattedCommand(s->ac, on_batch_reply, NULL, s->cmd.p,
                                   s->cmd.len) != REDIS_OK) {
        conn_drop(s);
        return;
    }
    cmd_sent(s);
    b->sent_us = now_us();
    s->batches_flying++;
    s->st.batches_sent++;
}

static bool can_send(const struct store *s)
{
    return s->redis && s->ac && s->conn == CONN_READY && s->token &&
           s->term_loaded && s->role == STORE_ROLE_OWNER && !s->loading &&
           !s->released && !s->lost_pending;
}

/* The whole state as one batch (op Z, every live contact and agent the
 * engine reports through the snapshot hook, outbound objects, queues) on
 * a store_sent taken from the free list; NULL without memory or when a
 * hook call failed (the caller tries again later). */
static struct store_sent *snap_build(struct store *s)
{
    struct store_sent *b = s->free_sent;
    if (b) {
        s->free_sent = b->next;
    } else if ((b = calloc(1, sizeof(*b)))) {
        storebatch_init(&b->b);
    } else {
        return NULL;
    }
    storebatch_reset(&b->b);
    b->snap = 0;
    s->snap_failed = storebatch_clear(&b->b) < 0;
    s->snap = &b->b;
    s->snap_contacts = s->snap_agents = 0;
    if (s->hooks.snapshot)
        s->hooks.snapshot(s->hooks.arg);
    s->snap = NULL;
    if (s->router) {
        int nq = router_queue_count(s->router);
        for (int q = 0; q < nq; q++)
            if (storebatch_queue(&b->b, router_queue_name(s->router, q),
                                 q) < 0)
                s->snap_failed = true;
    }
    if (s->snap_failed) {
        sent_recycle(s, b);
        return NULL;
    }
    return b;
}

/* Layout journal: once snapshot_every entries were appended since the
 * last snapshot, and right after a batch left (so the router's state is
 * exactly what the batches so far wrote: nothing is waiting in `cur`),
 * a snapshot of the whole state goes on the sent list behind them. It is
 * a batch of the sequence: its swap applies only after every batch
 * before it (GAP otherwise), so the journal's last entry then is the
 * place recovery replays from. One at a time. */
static void snapshot_maybe(struct store *s)
{
    if (!s->cfg.snapshot_every || s->jsince < s->cfg.snapshot_every ||
        !s->hooks.snapshot || cur_ops(s) != 0 || !can_send(s) ||
        s->need_resend || s->refused)
        return;
    for (struct store_sent *o = s->sent_head; o; o = o->next)
        if (o->snap)
            return;
    struct store_sent *b = snap_build(s);
    if (!b) {
        log_error("store: out of memory taking a snapshot; trying again "
                  "after the next batch");
        return;
    }
    b->snap = 'S';
    b->seq = s->next_seq++;
    b->next = NULL;
    if (s->sent_tail)
        s->sent_tail->next = b;
    else
        s->sent_head = b;
    s->sent_tail = b;
    s->nsent++;
    s->jsince = 0;
    s->st.journal_snapshots++;
    send_batch(s, b);
}

/* Sends what can be sent: first the batches to send again (after a
 * reconnect, or a refusal once its backoff has passed and every reply of
 * the refused round is in), in order, then the current one. While Redis
 * refuses writes only the held batches go (they are the probe). */
static void send_pending(struct store *s)
{
    if (!can_send(s))
        return;
    if (s->need_resend && s->batches_flying > 0)
        return;                      /* the refused round is still replying */
    if (s->refused && (!s->need_resend || now_us() < s->retry_at_us))
        return;
    if (s->need_resend) {
        s->need_resend = false;
        for (struct store_sent *b = s->sent_head; b && s->ac; b = b->next) {
            s->st.batches_resent++;
            send_batch(s, b);
        }
        if (!s->ac || s->refused)
            return;
    }
    if (cur_ops(s) == 0)
        return;
    /* Group commit: while max_inflight batches await their reply, the
     * next one keeps growing (and coalescing: a contact that comes and
     * goes meanwhile costs no key write); it leaves in the store_flush of
     * the turn in which a reply freed a slot. At stop everything leaves. */
    if (s->nsent >= s->cfg.max_inflight && !s->stop_flush)
        return;
    long kops = storestate_emit(&s->keys, &s->cur);
    if (kops < 0) {
        log_error("store: out of memory building a batch; retrying");
        return;
    }
    s->st.ops_queued += (uint64_t)kops;
    struct store_sent *b = s->free_sent;
    if (b) {
        s->free_sent = b->next;
    } else {
        b = calloc(1, sizeof(*b));
        if (!b)
            return;                  /* stays in cur; tried next turn */
        storebatch_init(&b->b);
    }
    storebatch_swap(&b->b, &s->cur);
    b->seq = s->next_seq++;
    b->next = NULL;
    if (s->sent_tail)
        s->sent_tail->next = b;
    else
        s->sent_head = b;
    s->sent_tail = b;
    s->nsent++;
    b->snap = 0;
    send_batch(s, b);
    if (journal(s)) {
        s->jsince++;
        snapshot_maybe(s);
    }
}

/* ---------------------------------------------------------------- */
/* durability replicated: WAIT
 *
 * A batch confirmed by the master is not yet on a replica. Under
 * durability replicated the store sends `WAIT min_replicas
 * replica_timeout` once batches are confirmed that no WAIT covered, and
 * barriers fire only up to repl_seq, the last batch a WAIT answered with
 * at least min_replicas. Redis counts per client: WAIT returns how many
 * replicas acknowledged every write this connection made before it, so
 * one WAIT covers all batches confirmed before it was sent. One WAIT at a
 * time: it blocks this connection on the server for up to
 * replica_timeout (the lease renewal queues behind it, which is why the
 * configuration keeps replica_timeout under half of lease - renew), and
 * the batches confirmed meanwhile go with the next one (group commit).
 *
 * Two rules keep a WAIT honest after a reconnect (maybe to a new master):
 * it is sent only once the lease script wrote on this connection
 * (conn_wrote: the client's replication offset then lies past everything
 * the server applied before), and after a full rewrite only once that
 * rewrite is confirmed (repl_gate): batches confirmed by a master that
 * lost them are on no replica; their Acks wait for the rewrite.
 *
 * Fewer than min_replicas (docs/redis.md, "Durability"): every waiting
 * barrier fails with "replication: k of N replicas confirmed" (the change
 * stays in memory and in the master, exactly as when Redis refuses
 * writes), new changes are refused at admission, and the WAIT is retried
 * with the reconnect backoff until it is met. */

static bool replicated(const struct store *s)
{
    return s->redis && s->cfg.durability == STORE_DURABILITY_REPLICATED;
}

static void on_wait_reply(redisAsyncContext *ac, void *r, void *priv);

static void wait_kick(struct store *s)
{
    if (!replicated(s) || s->wait_inflight || !s->ac ||
        s->conn != CONN_READY || !s->conn_wrote || s->stopping ||
        s->confirmed_seq <= s->repl_seq || s->confirmed_seq < s->repl_gate)
        return;
    if (s->repl_short && now_us() < s->wait_retry_at_us)
        return;
    if (redisAsyncCommand(s->ac, on_wait_reply, NULL, "WAIT %u %u",
                          s->cfg.min_replicas,
                          s->cfg.replica_timeout_ms) != REDIS_OK) {
        conn_drop(s);
        return;
    }
    cmd_sent(s);
    s->wait_inflight = true;
    s->wait_seq = s->confirmed_seq;
    s->st.repl_waits++;
}

static void repl_fault(struct store *s, long long acked, const char *err)
{
    s->repl_acked = acked;
    if (!s->repl_short) {
        s->repl_short = true;
        s->st.repl_shortfalls++;
        s->wait_backoff_ms = s->cfg.reconnect_min_ms;
        state_log(s, LOG_ERROR, "store: replication: %s%lld of %u replicas "
                  "confirmed within %u ms (WAIT on redis %s); not ready: "
                  "waiting requests are answered, changes refused, "
                  "retrying with backoff", err ? err : "", acked,
                  s->cfg.min_replicas, s->cfg.replica_timeout_ms, s->where);
    } else {
        uint32_t b = s->wait_backoff_ms * 2;
        s->wait_backoff_ms = b > s->cfg.reconnect_max_ms
                                 ? s->cfg.reconnect_max_ms : b;
    }
    s->wait_retry_at_us = now_us() + (uint64_t)s->wait_backoff_ms * 1000;
    barriers_fire(s, true, STORE_EUNAVAILABLE);
    tick_arm(s);                     /* the WAIT again after the backoff */
}

static void on_wait_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct store *s = ac->data;
    redisReply *reply = r;
    if (!s || !reply)
        return;                      /* connection gone: tick sends again */
    cmd_replied(s);
    s->wait_inflight = false;
    if (s->stopping)
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        /* "ERR WAIT cannot be used with replica instances": demoted */
        if ((redisaddr_sentinel(s->addr) || redisaddr_cluster(s->addr)) &&
            strstr(reply->str, "replica")) {
            not_master(s, reply->str);
            return;
        }
        char err[160];
        snprintf(err, sizeof(err), "%.140s: ", reply->str);
        repl_fault(s, 0, err);
        return;
    }
    long long k = reply->type == REDIS_REPLY_INTEGER ? reply->integer : 0;
    if (k < (long long)s->cfg.min_replicas) {
        repl_fault(s, k, NULL);
        return;
    }
    if (s->wait_seq > s->repl_seq)
        s->repl_seq = s->wait_seq;
    if (s->repl_short) {
        s->repl_short = false;
        s->wait_backoff_ms = s->cfg.reconnect_min_ms;
        state_log(s, LOG_INFO, "store: replication: %lld of %u replicas "
                  "confirmed again; ready", k, s->cfg.min_replicas);
    }
    barriers_fire(s, false, 0);
    wait_kick(s);                    /* batches confirmed meanwhile */
}

/* ---------------------------------------------------------------- */
/* lease and recovery */

static void start_load(struct store *s);
static void load_reset(struct store *s);
static bool load_started(const struct store *s);

static const char *addr_of(const char *lease_value)
{
    const char *bar = lease_value ? strchr(lease_value, '|') : NULL;
    return bar ? bar + 1 : "";
}

static void on_lease_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct store *s = ac->data;
    redisReply *reply = r;
    if (!s || !reply)
        return;
    cmd_replied(s);
    s->lease_inflight = false;
    s->st.lease_calls++;
    if (reply->type == REDIS_REPLY_ERROR) {
        if (strncmp(reply->str, "NOSCRIPT", 8) == 0) {
            conn_drop(s);
        } else if (is_auth_error(reply->str)) {
            auth_fault(s, reply->str);
            conn_drop(s);
        } else if (!strncmp(reply->str, "LOADING", 7) ||
                   !strncmp(reply->str, "BUSY", 4)) {
            /* Redis is loading its data or running a long script: not a
             * refusal, just not yet. Waiting requests keep waiting. */
            uint32_t b = s->backoff_ms;
            s->backoff_ms = b * 2 > s->cfg.reconnect_max_ms
                                ? s->cfg.reconnect_max_ms : b * 2;
            s->next_lease_us = now_us() + (uint64_t)b * 1000;
            snprintf(s->conn_why, sizeof(s->conn_why), "%s", reply->str);
        } else if (is_demoted(s, reply->str)) {
            not_master(s, reply->str);
        } else if (!slot_moved(s, reply->str)) {
            /* READONLY, MISCONF, OOM, a slot being migrated: the
             * connection is fine; ask again after the backoff. The lease
             * lapses by this engine's clock meanwhile (SUSPENDED, see
             * on_tick). */
            refuse_fault(s, "lease", reply->str,
                         slot_migrating(s, reply->str));
            s->next_lease_us = s->retry_at_us;
        }
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER ||
        reply->element[1]->type != REDIS_REPLY_STRING) {
        log_error("store: lease script failed: bad reply");
        conn_drop(s);
        return;
    }
    long long code = reply->element[0]->integer;
    const char *val = reply->element[1]->str;
    uint32_t margin = s->cfg.lease_ms / 10;
    if (margin < 2 * s->tick_ms)
        margin = 2 * s->tick_ms;
    if (margin >= s->cfg.lease_ms)
        margin = s->cfg.lease_ms / 2;
    uint64_t valid = s->lease_sent_us +
                     (uint64_t)(s->cfg.lease_ms - margin) * 1000;
    if (s->stopping)
        return;
    s->backoff_ms = s->cfg.reconnect_min_ms;  /* Redis answers: a good one */
    if (s->refused && !s->sent_head)
        refuse_clear(s);             /* no held batch to probe with */
    if (code >= 1 && code <= 3)
        s->conn_wrote = true;        /* the script wrote: see wait_kick */
    if (code == 1 || code == 3) {
        s->lease_valid_until_us = valid;
        if (!s->term_loaded) {
            if (code == 3 && load_started(s)) {
                /* Redis lost data while this engine was reading it: the
                 * ranks it loads by mean nothing any more. Start over
                 * from an empty router. */
                log_warn("store: tenant %s: redis lost data during the "
                         "load (%zu agents, %zu contacts so far); dropping "
                         "them and loading again", s->cfg.tenant,
                         s->load_agents, s->load_contacts);
                load_reset(s);
                s->loading = false;
                if (s->hooks.on_reset)
                    s->hooks.on_reset(s->hooks.arg);
            }
            if (!s->loading)
                start_load(s);
            return;
        }
        if (code == 3) {
            rewrite_state(s, s->lost_pending ? "a write batch found the "
                          "generation marker missing" : "the fence counter "
                          "or the generation marker is behind this "
                          "engine's term");
        } else if (s->lost_pending) {
            s->lost_pending = false;  /* the marker is back in place */
            s->need_resend = true;
        }
        if (s->role != STORE_ROLE_OWNER)
            state_log(s, LOG_INFO, "store: tenant %s: lease of token %"
                      PRIu64 " confirmed again; resuming", s->cfg.tenant,
                      s->token);
        set_role(s, STORE_ROLE_OWNER, s->cfg.advertise);
        send_pending(s);
    } else if (code == 2) {
        if (s->token)
            term_lost(s, "another engine owned the tenant since");
        s->token = strtoull(val, NULL, 10);
        snprintf(s->mine, sizeof(s->mine), "%s", val);
        s->term_loaded = false;
        s->lease_valid_until_us = valid;
        s->next_seq = 1;             /* the marker starts at "token:0" */
        s->confirmed_seq = 0;
        s->repl_seq = s->repl_gate = 0;
        log_info("store: tenant %s: lease acquired, token %" PRIu64
                 "; loading state", s->cfg.tenant, s->token);
        load_reset(s);
        s->loading = false;
        start_load(s);
    } else {
        if (s->token) {
            char why[360];
            snprintf(why, sizeof(why), "held by %s", val[0] ? val : "nobody");
            term_lost(s, why);
        }
        set_role(s, STORE_ROLE_STANDBY, addr_of(val));
    }
}

/* Redis lost this term's writes (the lease script answered 3). The router
 * holds the truth: drop the sent batches (their replies, if any are still
 * to come, are ignored) and the key states of the current batch, and put
 * ONE batch on the sent list that clears the tenant's state (op Z) and
 * writes every live contact and agent the engine reports through the
 * snapshot hook, and the queues. Barriers waiting for the dropped batches
 * or the current one fire when it is confirmed: nothing new is
 * acknowledged before the whole state is back. Events of the dropped
 * batches are not written again (the stream is history; the state is
 * what recovery needs). */
static void rewrite_state(struct store *s, const char *why)
{
    s->lost_pending = false;
    sent_drop_all(s);
    storestate_reset(&s->keys);
    struct store_sent *b = s->free_sent;
    if (b) {
        s->free_sent = b->next;
    } else if ((b = calloc(1, sizeof(*b)))) {
        storebatch_init(&b->b);
    } else {
        log_error("store: out of memory rewriting the state; retrying");
        s->lost_pending = true;
        s->next_lease_us = now_us() + (uint64_t)s->tick_ms * 1000;
        return;
    }
    storebatch_reset(&b->b);
    storebatch_clear(&b->b);
    s->snap = &b->b;
    s->snap_contacts = s->snap_agents = 0;
    if (s->hooks.snapshot)
        s->hooks.snapshot(s->hooks.arg);
    s->snap = NULL;
    if (s->router) {
        int nq = router_queue_count(s->router);
        for (int q = 0; q < nq; q++)
            storebatch_queue(&b->b, router_queue_name(s->router, q), q);
    }
    b->seq = s->next_seq++;
    b->next = NULL;
    /* layout journal: "write a snapshot" (chunks, then one swap) */
    b->snap = journal(s) ? 'Z' : 0;
    s->jsince = 0;
    s->sent_head = s->sent_tail = b;
    s->nsent = 1;
    s->repl_gate = b->seq;           /* see wait_kick */
    s->need_resend = true;
    s->st.state_rewrites++;
    s->st.rewrite_contacts += s->snap_contacts;
    s->st.rewrite_agents += s->snap_agents;
    s->st.ops_queued += b->b.nops;
    pending_update(s);
    log_error("store: tenant %s: REDIS LOST THIS ENGINE'S STATE (%s; token %"
              PRIu64 "): writing it back from memory: %zu contacts, %zu "
              "agents; nothing new is acknowledged before it is confirmed",
              s->cfg.tenant, why, s->token, s->snap_contacts,
              s->snap_agents);
}

static void send_lease(struct store *s)
{
    if (!s->ac || s->conn != CONN_READY || s->lease_inflight)
        return;
    char token[24], ms[16], conf[24];
    snprintf(token, sizeof(token), "%" PRIu64, s->token);
    snprintf(ms, sizeof(ms), "%" PRIu32, s->cfg.lease_ms);
    snprintf(conf, sizeof(conf), "%" PRIu64, s->confirmed_seq);
    const char *argv[] = { "EVALSHA", s->sha_lease, "3", s->k_lease,
                           s->k_fence, s->k_applied, s->mine, token,
                           s->cfg.advertise, ms,
                           s->stopping || s->no_acquire ||
                           s->layout_refused ? "0" : "1",
                           conf };
    size_t argvlen[12];
    for (int i = 0; i < 12; i++)
        argvlen[i] = strlen(argv[i]);
    uint64_t now = now_us();
    if (redisAsyncCommandArgv(s->ac, on_lease_reply, NULL, 12, argv,
                              argvlen) != REDIS_OK) {
        conn_drop(s);
        return;
    }
    cmd_sent(s);
    s->lease_inflight = true;
    s->lease_sent_us = now;
    s->next_lease_us = now + (uint64_t)s->cfg.renew_ms * 1000;
}

static const char *el(const redisReply *a, size_t i, size_t *len)
{
    const redisReply *e = a->element[i];
    if (e->type != REDIS_REPLY_STRING) {
        *len = 0;
        return "";
    }
    *len = e->len;
    return e->str;
}

/* Recovery, in chunks. The load is a series of calls of the load script,
 * each returning at most load_chunk objects from a rank on: the agents in
 * id order first, then the contacts in the order of the contacts set
 * (arrival sequence). Up to LOAD_AHEAD calls are in flight, so that Redis
 * reads the next chunk while the engine hands the current one to the
 * router; replies come back in order on the one connection, so the hooks
 * see every agent before any contact and the contacts in arrival order.
 * Between two replies the loop turns: clients are answered (a Hello gets
 * a retryable "not serving yet ... loading"), the lease is renewed, and
 * Redis serves other clients between two calls instead of running one
 * script over the whole tenant. Nothing is routed and no change is
 * admitted until the last object is in: the role becomes OWNER only then
 * (load_finish). A call that comes back short ends its kind; calls sent
 * past the end come back empty and are ignored.
 *
 * Ranks are stable across calls because only the lease holder writes the
 * tenant's keys and it writes nothing before it is loaded. A connection
 * lost in the middle resumes at the first object not handed over (same
 * term: Redis unchanged). Redis losing data in the middle (the lease
 * script answers 3) starts the load over from an empty router. */
#define LOAD_AHEAD 2

static void on_load_reply(redisAsyncContext *ac, void *r, void *priv);

static void load_reset(struct store *s)
{
    s->load_gen++;
    s->load_flying = 0;
    s->load_rank_a = s->load_rank_c = s->load_rank_o = 0;
    s->load_a_done = s->load_c_done = s->load_o_done = false;
    s->load_ob = 0;
    s->load_agents = s->load_contacts = s->load_skipped = 0;
    s->load_max_seq = 0;
    s->load_calls = 0;
    s->load_stall_us = 0;
    s->load_started_us = now_us();
    s->jhanded = false;              /* the caller empties the router */
}

static bool load_started(const struct store *s)
{
    return s->loading || s->load_o_done || s->load_rank_o > 0 ||
           s->load_a_done || s->load_rank_a > 0;
}

/* Sends one call of the load script: its kind, where it starts (an
 * offset, a journal id or a snapshot chunk) and load_chunk, tagged with
 * the kind and the load it belongs to (a reply of an earlier load is
 * ignored). false: the connection was dropped. */
static bool load_call(struct store *s, char kind, const char *from)
{
    char k[2] = { kind, '\0' }, cnt[16];
    snprintf(cnt, sizeof(cnt), "%" PRIu32, s->cfg.load_chunk);
    const char *argv[] = { "EVALSHA", s->sha_load, "1", s->k_lease,
                           s->prefix, s->mine, k, from, cnt };
    size_t argvlen[9];
    for (int i = 0; i < 9; i++)
        argvlen[i] = strlen(argv[i]);
    void *tag = (void *)(((uintptr_t)(s->load_gen & 0xffffffu) << 8) |
                         (unsigned char)kind);
    if (redisAsyncCommandArgv(s->ac, on_load_reply, tag, 9, argv,
                              argvlen) != REDIS_OK) {
        conn_drop(s);
        return false;
    }
    cmd_sent(s);
    s->load_flying++;
    s->load_calls++;
    return true;
}

static void load_send(struct store *s)
{
    while (s->load_next && s->load_flying < LOAD_AHEAD && s->ac) {
        char off[24];
        snprintf(off, sizeof(off), "%zu", s->load_next_off);
        if (!load_call(s, (char)s->load_next, off))
            return;
        s->load_next_off += s->cfg.load_chunk;
    }
}

/* One chunk of agents (7 fields each) to the load hook; the number of
 * objects it held. */
static size_t load_agents(struct store *s, const redisReply *ag)
{
    size_t n = 0;
    for (size_t i = 0; i + 7 <= ag->elements; i += 7, n++) {
        size_t ll, l;
        const char *login = el(ag, i + 1, &ll);
        char state[16], reason[ROUTER_ID_MAX], owner[ROUTER_ID_MAX];
        char principal[ROUTER_ID_MAX];
        const char *p = el(ag, i + 2, &l);
        snprintf(state, sizeof(state), "%.*s", (int)l, p);
        p = el(ag, i + 3, &l);
        snprintf(reason, sizeof(reason), "%.*s", (int)l, p);
        p = el(ag, i + 5, &l);
        snprintf(owner, sizeof(owner), "%.*s", (int)l, p);
        p = el(ag, i + 6, &l);
        snprintf(principal, sizeof(principal), "%.*s", (int)l, p);
        if (ll == 0) {
            s->load_skipped++;
            continue;
        }
        s->load_agents++;
        if (s->hooks.load_agent)
            s->hooks.load_agent(s->hooks.arg, (const uint8_t *)login, ll,
                                atoi(state), reason, owner, principal);
    }
    return n;
}

/* One chunk of contacts (11 fields each), in arrival order. */
static size_t load_contacts(struct store *s, const redisReply *co)
{
    size_t n = 0;
    for (size_t i = 0; i + 11 <= co->elements; i += 11, n++) {
        size_t al, l;
        const char *arrived = el(co, i + 1, &al);
        char ms[24], us[24], sq[40], state[16], queue[ROUTER_ID_MAX];
        char agent[ROUTER_ID_MAX], owner[ROUTER_ID_MAX];
        char principal[ROUTER_ID_MAX];
        const char *p = el(co, i + 2, &l);
        snprintf(ms, sizeof(ms), "%.*s", (int)l, p);
        p = el(co, i + 8, &l);
        snprintf(us, sizeof(us), "%.*s", (int)l, p);
        p = el(co, i + 9, &l);
        snprintf(sq, sizeof(sq), "%.*s", (int)l, p);
        uint64_t seq = (uint64_t)strtod(sq, NULL);
        if (seq > s->load_max_seq)
            s->load_max_seq = seq;
        p = el(co, i + 3, &l);
        snprintf(state, sizeof(state), "%.*s", (int)l, p);
        p = el(co, i + 4, &l);
        snprintf(queue, sizeof(queue), "%.*s", (int)l, p);
        p = el(co, i + 5, &l);
        snprintf(agent, sizeof(agent), "%.*s", (int)l, p);
        p = el(co, i + 7, &l);
        snprintf(owner, sizeof(owner), "%.*s", (int)l, p);
        p = el(co, i + 10, &l);
        snprintf(principal, sizeof(principal), "%.*s", (int)l, p);
        if (al == 0) {
            s->load_skipped++;
            continue;
        }
        int st = atoi(state);
        if (st == 0)
            st = ROUTER_CONTACT_QUEUED;
        s->load_contacts++;
        /* data written before arrived_us existed: ms precision */
        uint64_t arr_us = us[0] ? strtoull(us, NULL, 10)
                                : strtoull(ms, NULL, 10) * 1000;
        if (s->hooks.load_contact)
            s->hooks.load_contact(s->hooks.arg, (const uint8_t *)arrived, al,
                                  arr_us, st, queue,
                                  agent[0] ? agent : NULL, owner, principal);
    }
    return n;
}

/* One chunk of outbound objects (member, data) to the load hook. */
static size_t load_outbound(struct store *s, const redisReply *ob)
{
    size_t n = 0;
    for (size_t i = 0; i + 2 <= ob->elements; i += 2, n++) {
        size_t ml, dl;
        const char *m = el(ob, i, &ml), *d = el(ob, i + 1, &dl);
        s->load_ob++;
        if (s->hooks.load_outbound)
            s->hooks.load_outbound(s->hooks.arg, m, ml, (const uint8_t *)d,
                                   dl);
    }
    return n;
}

/* ---- recovery, layout journal ----
 *
 * The journal's entries are read in order, load_chunk per call, one call
 * in flight (the next starts after the last id of the previous reply),
 * and replayed into a table of final states (engine/journal.h); only when
 * the last entry is in are the objects handed to the hooks, in slices
 * across loop turns (on_jfeed), in the order the per-key layout's load
 * gives them (outbound objects, agents by id, contacts by arrival
 * sequence). A load that starts again (a reconnect, Redis lost data)
 * starts from the first entry, the router emptied of what an abandoned
 * hand-over had put in (jload_start). */

static void jload_send(struct store *s)
{
    if (!s->ac)
        return;
    char chunk[80];
    const char *arg = s->jload_from;
    if (s->jload_phase == 's') {
        snprintf(chunk, sizeof(chunk), "%s%u", s->jsnap_base, s->jsnap_i);
        arg = chunk;
    }
    load_call(s, (char)s->jload_phase, arg);
}

/* One reply of journal entries (id, packed ops) replayed. 1: that was
 * the last; 0: more to read; -1: out of memory. */
static int jload_chunk(struct store *s, const redisReply *a)
{
    size_t n = 0;
    for (size_t i = 0; i + 2 <= a->elements; i += 2, n++) {
        size_t il, bl;
        const char *id = el(a, i, &il), *b = el(a, i + 1, &bl);
        int rc = journal_replay_apply(s->jr, (const uint8_t *)b, bl);
        if (rc == -2)
            return -1;
        if (rc < 0) {
            log_error("store: tenant %s: journal entry %.*s is malformed "
                      "(damaged in redis); none of its ops is applied: the "
                      "whole batch is skipped", s->cfg.tenant, (int)il, id);
            s->load_skipped++;
        }
        s->st.journal_entries_loaded++;
        s->jtail++;
        snprintf(s->jload_from, sizeof(s->jload_from), "(%.*s", (int)il,
                 id);
    }
    return n < s->cfg.load_chunk ? 1 : 0;
}

static void jvisit_outbound(void *arg, const char *m, size_t ml,
                            const uint8_t *d, size_t dl)
{
    struct store *s = arg;
    s->load_ob++;
    if (s->hooks.load_outbound)
        s->hooks.load_outbound(s->hooks.arg, m, ml, d, dl);
}

static void jvisit_agent(void *arg, const uint8_t *login, size_t len,
                         int state, const char *reason, const char *owner,
                         const char *principal)
{
    struct store *s = arg;
    s->load_agents++;
    if (s->hooks.load_agent)
        s->hooks.load_agent(s->hooks.arg, login, len, state, reason, owner,
                            principal);
}

static void jvisit_contact(void *arg, const struct journal_contact *c)
{
    struct store *s = arg;
    if (c->seq > s->load_max_seq)
        s->load_max_seq = c->seq;
    s->load_contacts++;
    if (s->hooks.load_contact)
        s->hooks.load_contact(s->hooks.arg, c->arrived, c->len,
                              c->arrived_us,
                              c->state ? c->state : ROUTER_CONTACT_QUEUED,
                              c->queue, c->agent[0] ? c->agent : NULL,
                              c->owner, c->principal);
}

/* The replayed state goes to the hooks in slices of load_chunk objects,
 * one per loop turn (an idle handle: the loop polls its sockets without
 * blocking between two slices), in the order journal_replay_step() gives.
 * Between two slices clients are answered (a Hello gets a retryable "not
 * serving yet ... loading"), the lease is renewed; nothing is routed or
 * admitted, as the role becomes OWNER only after the last slice
 * (load_finish). A load given up in the middle (the lease lost, the
 * connection lost, Redis lost data, a stop) stops the slices at the next
 * turn; the objects already handed over are dropped by the hooks' on_reset
 * (term_lost, or jload_start when the load starts again). */
static void jfeed_stop(struct store *s)
{
    s->jfeeding = false;
    if (s->jfeed)
        uv_idle_stop(s->jfeed);
}

static void load_finish(struct store *s);

static void on_jfeed(uv_idle_t *h)
{
    static const struct journal_visit v = {
        jvisit_outbound, jvisit_agent, jvisit_contact,
    };
    struct store *s = h->data;
    if (!s)
        return;
    if (!s->jfeeding || !s->jr || !s->loading || s->stopping ||
        s->token == 0) {
        jfeed_stop(s);               /* the load was given up */
        journal_replay_free(s->jr);
        s->jr = NULL;
        return;
    }
    uint64_t t0 = now_us();
    s->jhanded = true;
    int rc = journal_replay_step(s->jr, &v, s, &s->load_skipped,
                                 s->cfg.load_chunk);
    uint64_t spent = now_us() - t0;
    if (spent > s->load_stall_us)
        s->load_stall_us = spent;
    if (rc < 0) {
        log_error("store: out of memory loading the journal; reconnecting");
        jfeed_stop(s);
        conn_drop(s);
        return;
    }
    if (s->token == 0 || s->stopping || !s->loading)
        return;                      /* a hook stopped us: next turn */
    if (rc == 1) {
        jfeed_stop(s);
        s->jhanded = false;          /* it is all in: the term's state */
        journal_replay_free(s->jr);
        s->jr = NULL;
        /* a long tail: the next batch is followed by a snapshot */
        s->jsince = s->jtail;
        load_finish(s);
    }
}

/* The last entry is in: starts the slices. 0, or -1 (out of memory). */
static int jfeed_start(struct store *s)
{
    size_t unknown = journal_replay_unknown(s->jr);
    if (unknown)
        log_error("store: tenant %s: the journal holds %zu ops this engine "
                  "does not know; they were skipped", s->cfg.tenant,
                  unknown);
    if (!s->jfeed) {
        if (!(s->jfeed = malloc(sizeof(*s->jfeed))))
            return -1;
        uv_idle_init(s->loop, s->jfeed);
        s->jfeed->data = s;
    }
    s->jfeeding = true;
    uv_idle_start(s->jfeed, on_jfeed);
    return 0;
}

static void jload_start(struct store *s)
{
    jfeed_stop(s);
    if (s->jhanded) {
        /* a load given up in its slices: start from an empty router */
        log_warn("store: tenant %s: loading again after %zu agents, %zu "
                 "contacts were handed over; dropping them",
                 s->cfg.tenant, s->load_agents, s->load_contacts);
        s->jhanded = false;
        if (s->hooks.on_reset)
            s->hooks.on_reset(s->hooks.arg);
    }
    journal_replay_free(s->jr);
    if (!(s->jr = journal_replay_new())) {
        log_error("store: out of memory loading the journal; retrying");
        conn_drop(s);
        return;
    }
    s->load_agents = s->load_contacts = s->load_skipped = s->load_ob = 0;
    s->load_max_seq = 0;
    s->jtail = 0;
    s->jload_phase = 'p';
    snprintf(s->jload_from, sizeof(s->jload_from), "-");
    jload_send(s);
}

/* The reply of a 'p' (the snapshot pointer) or 's' (one chunk) call.
 * 0, or -1: a chunk is missing (logged) or no memory. */
static int jload_snap(struct store *s, char phase, const redisReply *r)
{
    if (phase == 'p') {
        unsigned long long tok, seq;
        unsigned n;
        char pos[40];
        if (r->type == REDIS_REPLY_STRING && r->len > 0 &&
            sscanf(r->str, "%llu:%llu:%u:%39s", &tok, &seq, &n, pos) == 4) {
            snprintf(s->jsnap_base, sizeof(s->jsnap_base), "%llu:%llu:", tok,
                     seq);
            s->jsnap_n = n;
            s->jsnap_i = 0;
            if (strcmp(pos, "0-0") != 0)
                snprintf(s->jload_from, sizeof(s->jload_from), "(%s", pos);
        } else {
            s->jsnap_n = 0;
        }
        s->jload_phase = s->jsnap_n ? 's' : 'j';
        return 0;
    }
    if (r->type != REDIS_REPLY_STRING) {
        log_error("store: tenant %s: snapshot chunk %s%u is missing; "
                  "loading again", s->cfg.tenant, s->jsnap_base, s->jsnap_i);
        return -1;
    }
    int rc = journal_replay_apply(s->jr, (const uint8_t *)r->str, r->len);
    if (rc == -2)
        return -1;
    if (rc < 0) {
        log_error("store: tenant %s: snapshot chunk %s%u is malformed "
                  "(damaged in redis); none of its ops is applied: the "
                  "whole chunk is skipped", s->cfg.tenant, s->jsnap_base,
                  s->jsnap_i);
        s->load_skipped++;
    }
    if (++s->jsnap_i >= s->jsnap_n)
        s->jload_phase = 'j';
    return 0;
}

/* Every object is in the router: the term is loaded, OWNER. */
static void load_finish(struct store *s)
{
    s->loading = false;
    /* New sequences go past every loaded one (see "Arrival"). */
    if (s->load_max_seq + 1 > s->seq_base)
        s->seq_base = s->load_max_seq + 1;
    if (s->load_ob)
        log_info("store: tenant %s: loaded %zu outbound objects "
                 "(campaigns, do-not-call numbers, leads)", s->cfg.tenant,
                 s->load_ob);
    log_info("store: tenant %s: loaded %zu agents, %zu contacts in %" PRIu64
             " ms (%u calls to redis, longest %.1f ms of loop time for "
             "one)%s", s->cfg.tenant, s->load_agents, s->load_contacts,
             (now_us() - s->load_started_us) / 1000, s->load_calls,
             (double)s->load_stall_us / 1000.0,
             s->load_skipped ? " (some incomplete skipped)" : "");
    s->term_loaded = true;
    if (s->router) {
        int nq = router_queue_count(s->router);
        for (int q = 0; q < nq; q++)
            storebatch_queue(&s->cur, router_queue_name(s->router, q), q);
        s->st.ops_queued += (uint64_t)nq;
        pending_update(s);
    }
    set_role(s, STORE_ROLE_OWNER, s->cfg.advertise);
    send_pending(s);
}

static void on_release_reply(redisAsyncContext *ac, void *r, void *priv);

/* The load script found the tenant's state in the other layout (its
 * "LAYOUT" answer, before anything was handed over). Owning the tenant
 * would route from an empty state and write beside the real one, so the
 * engine gives the lease back at once, so that an engine configured for
 * that layout can take it, and never asks for it again: a standby until
 * it is restarted with the setting changed (docs/redis.md, "Changing the
 * layout"). */
static void layout_refuse(struct store *s)
{
    const char *mine = journal(s) ? "journal" : "hashes";
    const char *theirs = journal(s) ? "hashes" : "journal";
    log_error("store: tenant %s is stored in the %s layout but this engine "
              "has redis.layout: %s; not taking it (nothing loaded, none of "
              "its state written). Set redis.layout: %s, or move the tenant "
              "to the %s layout (docs/redis.md, \"Changing the layout\")",
              s->cfg.tenant, theirs, mine, theirs, mine);
    s->layout_refused = true;
    if (s->ac && s->token) {
        const char *argv[] = { "EVALSHA", s->sha_release, "1", s->k_lease,
                               s->mine };
        size_t argvlen[5];
        for (int i = 0; i < 5; i++)
            argvlen[i] = strlen(argv[i]);
        if (redisAsyncCommandArgv(s->ac, on_release_reply, NULL, 5, argv,
                                  argvlen) == REDIS_OK)
            cmd_sent(s);
    }
    term_lost(s, "the tenant is stored in the other layout");
}

static void on_load_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct store *s = ac->data;
    redisReply *reply = r;
    if (!s || !reply)
        return;
    cmd_replied(s);
    uintptr_t tag = (uintptr_t)priv;
    if (!s->loading || (tag >> 8) != (s->load_gen & 0xffffffu))
        return;                      /* a call of a load given up */
    s->load_flying--;
    if (s->stopping)
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        if (strncmp(reply->str, "FENCED", 6) == 0) {
            term_lost(s, reply->str);
            return;
        }
        if (strncmp(reply->str, "LAYOUT", 6) == 0) {
            layout_refuse(s);
            return;
        }
        if (slot_moved(s, reply->str))
            return;
        if (slot_migrating(s, reply->str))
            /* reads only: nothing to undo; the lease check after the
             * reconnect holds until the slot is stable, then resumes */
            state_log(s, LOG_WARN, "store: loading state: slot %u of "
                      "tenant %s is being migrated (%s); trying again",
                      redisaddr_slot(s->addr), s->cfg.tenant, reply->str);
        else
            log_error("store: loading state failed: %s", reply->str);
        conn_drop(s);
        return;
    }
    if ((tag & 0xff) == 'p' || (tag & 0xff) == 's') {
        uint64_t t0 = now_us();
        int rc = jload_snap(s, (char)(tag & 0xff), reply);
        uint64_t spent = now_us() - t0;
        if (spent > s->load_stall_us)
            s->load_stall_us = spent;
        if (rc < 0) {
            conn_drop(s);
            return;
        }
        jload_send(s);
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY) {
        log_error("store: loading state failed: bad reply");
        conn_drop(s);
        return;
    }
    uint64_t t0 = now_us();
    size_t n;
    if ((tag & 0xff) == 'j') {
        int done = jload_chunk(s, reply);
        if (done == 1 && jfeed_start(s) < 0)
            done = -1;
        uint64_t spent = now_us() - t0;
        if (spent > s->load_stall_us)
            s->load_stall_us = spent;
        if (done < 0) {
            log_error("store: out of memory loading the journal; "
                      "reconnecting");
            conn_drop(s);
            return;
        }
        if (s->token == 0 || s->stopping || !s->loading)
            return;                  /* a hook stopped us */
        if (!done)
            jload_send(s);
        return;                      /* done: on_jfeed hands it over */
    }
    if ((tag & 0xff) == 'o') {
        if (!s->load_o_done) {
            n = load_outbound(s, reply);
            s->load_rank_o += n;
            if (n < s->cfg.load_chunk) {
                s->load_o_done = true;
                s->load_next = 'a';
                s->load_next_off = s->load_rank_a;
            }
        }
    } else if ((tag & 0xff) == 'a') {
        if (!s->load_a_done) {          /* else a call past the end */
            n = load_agents(s, reply);
            s->load_rank_a += n;
            if (n < s->cfg.load_chunk) {
                s->load_a_done = true;
                s->load_next = 'c';
                s->load_next_off = s->load_rank_c;
            }
        }
    } else if (!s->load_c_done) {
        n = load_contacts(s, reply);
        s->load_rank_c += n;
        if (n < s->cfg.load_chunk) {
            s->load_c_done = true;
            s->load_next = 0;
        }
    }
    uint64_t spent = now_us() - t0;
    if (spent > s->load_stall_us)
        s->load_stall_us = spent;
    if (s->token == 0 || s->stopping || !s->loading)
        return;                      /* a hook stopped us */
    if (s->load_c_done) {
        if (s->load_flying == 0)
            load_finish(s);
        return;
    }
    load_send(s);
}

/* Starts the load, or resumes it after a reconnect at the first object
 * not handed over (load_reset() first for a new term). */
static void start_load(struct store *s)
{
    if (!s->ac || s->conn != CONN_READY)
        return;
    /* Until OWNER a client is told that this engine is loading, not sent
     * to the owner it takes over from (dispatch reads owner_addr). */
    s->owner_addr[0] = '\0';
    s->load_gen++;                   /* replies of a lost connection */
    s->load_flying = 0;
    s->load_next = !s->load_o_done ? 'o' : s->load_a_done ? 'c' : 'a';
    s->load_next_off = !s->load_o_done ? s->load_rank_o
                       : s->load_a_done ? s->load_rank_c : s->load_rank_a;
    s->loading = true;
    if (journal(s)) {
        jload_start(s);
        return;
    }
    if (s->load_c_done) {            /* everything was in already */
        load_finish(s);
        return;
    }
    load_send(s);
}

/* ---------------------------------------------------------------- */
/* tick */

/* When the tick must run next. In the steady state (connected, owner or
 * standby, nothing refused, lost, loading or resent) only three things
 * can be due: the lease renewal, the lease's expiry by this engine's
 * clock and the reply timeout of the oldest command; the tick sleeps
 * until the first of them (at most renew_ms), so an idle engine wakes up
 * once per renewal instead of every tick_ms. Every other state polls
 * every tick_ms: backoffs, connect and lookup deadlines, retries. */
static uint64_t tick_due(const struct store *s, uint64_t now)
{
    uint64_t soon = now + (uint64_t)s->tick_ms * 1000;
    if (s->stopping || s->conn != CONN_READY || s->refused || s->loading ||
        s->need_resend || s->lost_pending ||
        (replicated(s) && (s->repl_short || s->confirmed_seq > s->repl_seq)))
        return soon;
    uint64_t due = now + (uint64_t)s->cfg.renew_ms * 1000;
    if (!s->lease_inflight && s->next_lease_us < due)
        due = s->next_lease_us;      /* (in flight: the reply timeout) */
    if (s->token && s->role == STORE_ROLE_OWNER &&
        s->lease_valid_until_us < due)
        due = s->lease_valid_until_us;
    if (s->outstanding) {
        uint64_t t = s->await_since_us +
                     (uint64_t)s->cfg.command_timeout_ms * 1000;
        if (t < due)
            due = t;
    }
    return due;
}

/* Arms the tick for tick_due(), unless it is armed for earlier already.
 * Called at the end of every tick and wherever a deadline may have come
 * closer (a command sent, a connection lost, a fault, store_flush). */
static void tick_arm(struct store *s)
{
    if (!s->tick || !s->tick->data)
        return;
    uint64_t now = now_us();
    uint64_t due = tick_due(s, now);
    if (uv_is_active((uv_handle_t *)s->tick) && due >= s->tick_due_us)
        return;
    uint64_t ms = due > now ? (due - now + 999) / 1000 : 0;
    s->tick_due_us = now + ms * 1000;
    uv_timer_start(s->tick, on_tick, ms, 0);
}

static void tick_run(struct store *s);

static void on_tick(uv_timer_t *t)
{
    struct store *s = t->data;
    if (!s)
        return;
    tick_run(s);
    tick_arm(s);                     /* one-shot: armed again each time */
}

static void tick_run(struct store *s)
{
    uint64_t now = now_us();
    if (s->stopping) {
        if (s->ac && now - s->stop_started_us >
                         (uint64_t)s->cfg.command_timeout_ms * 1000)
            conn_drop(s);
        return;
    }
    redisaddr_tick(s->addr, now);
    switch (s->conn) {
    case CONN_IDLE:
        if (now >= s->reconnect_at_us)
            conn_start(s);
        break;
    case CONN_LOCATING:              /* redisaddr keeps its own deadlines */
        break;
    case CONN_CONNECTING:
        if (now - s->conn_started_us >
            (uint64_t)s->cfg.connect_timeout_ms * 1000)
            conn_drop(s);
        break;
    case CONN_READY:
        if (s->outstanding && now - s->await_since_us >
                                  (uint64_t)s->cfg.command_timeout_ms * 1000) {
            log_warn("store: redis did not answer for %" PRIu32 " ms",
                     s->cfg.command_timeout_ms);
            conn_drop(s);
        }
        break;
    }
    if (s->token && s->role == STORE_ROLE_OWNER &&
        now >= s->lease_valid_until_us) {
        set_role(s, STORE_ROLE_SUSPENDED, "");
        state_log(s, LOG_WARN, "store: tenant %s: lease renewal not "
                  "confirmed before expiry (%s); suspended: connections "
                  "stay, changes are refused, nothing is routed until "
                  "redis confirms the lease", s->cfg.tenant,
                  store_why(s));
    }
    if (s->conn == CONN_READY && now >= s->next_lease_us)
        send_lease(s);
    if (s->conn == CONN_READY && s->refused && now >= s->retry_at_us)
        send_pending(s);
    wait_kick(s);                    /* after a reconnect or a shortfall */
}

/* ---------------------------------------------------------------- */
/* public API */

/* ---------------------------------------------------------------- */
/* readiness */

bool store_ready(const struct store *s)
{
    if (!s->redis)
        return true;
    return s->role == STORE_ROLE_OWNER && s->conn == CONN_READY &&
           !s->refused && !s->auth_failed && !s->lost_pending &&
           !s->repl_short && !s->over_bound;
}

const char *store_why(const struct store *s)
{
    struct store *m = (struct store *)s;     /* the buffer only */
    char *w = m->whybuf;
    size_t n = sizeof(m->whybuf);
    if (store_ready(s))
        return "";
    if (s->auth_failed)
        snprintf(w, n, "redis authentication failed: %s", s->fault);
    else if (s->refused && s->migrating)
        snprintf(w, n, "slot %u of tenant %s is being migrated between "
                 "redis cluster nodes (%.300s); writes are held until it "
                 "is stable", redisaddr_slot(s->addr), s->cfg.tenant,
                 s->fault);
    else if (s->refused)
        snprintf(w, n, "redis refuses writes: %s", s->fault);
    else if (s->conn != CONN_READY)
        snprintf(w, n, "redis %.360s is not reachable (%s)", s->where,
                 s->conn_why[0] ? s->conn_why : "connecting");
    else if (s->lost_pending)
        snprintf(w, n, "redis lost this engine's state; it is being "
                 "written back");
    else if (s->repl_short)
        snprintf(w, n, "replication: %lld of %u replicas confirmed within "
                 "%u ms", s->repl_acked, s->cfg.min_replicas,
                 s->cfg.replica_timeout_ms);
    else if (s->role == STORE_ROLE_SUSPENDED)
        snprintf(w, n, "the lease of tenant %s is not confirmed by redis "
                 "yet", s->cfg.tenant);
    else if (s->token && !s->term_loaded)
        snprintf(w, n, "this engine is loading the state of tenant %s "
                 "(%zu agents, %zu contacts so far)", s->cfg.tenant,
                 s->load_agents, s->load_contacts);
    else if (s->layout_refused && s->role != STORE_ROLE_OWNER)
        snprintf(w, n, "tenant %s is stored in the %s layout and "
                 "redis.layout is %s: this engine does not take it",
                 s->cfg.tenant, journal(s) ? "hashes" : "journal",
                 journal(s) ? "journal" : "hashes");
    else if (s->role == STORE_ROLE_STANDBY && s->owner_addr[0])
        snprintf(w, n, "tenant %s is owned by the engine at %s",
                 s->cfg.tenant, s->owner_addr);
    else if (s->role != STORE_ROLE_OWNER)
        snprintf(w, n, "this engine does not own tenant %s yet (taking the "
                 "lease, loading the state)", s->cfg.tenant);
    else
        snprintf(w, n, "%zu unconfirmed writes, past max_pending %zu",
                 s->pending_ops, s->cfg.max_pending);
    return w;
}

static void defaults(struct store_config *c)
{
    if (!c->host[0])
        snprintf(c->host, sizeof(c->host), "127.0.0.1");
    if (!c->port)
        c->port = 6379;
    if (!c->tenant[0])
        snprintf(c->tenant, sizeof(c->tenant), "default");
    if (!c->connect_timeout_ms)
        c->connect_timeout_ms = 1000;
    if (!c->command_timeout_ms)
        c->command_timeout_ms = 2000;
    if (!c->lease_ms)
        c->lease_ms = 2000;
    if (!c->renew_ms)
        c->renew_ms = c->lease_ms / 4 ? c->lease_ms / 4 : 1;
    if (!c->reconnect_min_ms)
        c->reconnect_min_ms = 100;
    if (!c->reconnect_max_ms)
        c->reconnect_max_ms = 2000;
    if (c->reconnect_max_ms < c->reconnect_min_ms)
        c->reconnect_max_ms = c->reconnect_min_ms;
    if (!c->max_pending)
        c->max_pending = 100000;
    if (!c->stream_maxlen)
        c->stream_maxlen = 1000000;
    if (!c->max_inflight)
        c->max_inflight = 2;
    if (!c->load_chunk)
        c->load_chunk = 1000;
    if (!c->snapshot_every)
        c->snapshot_every = 10000;
    if (!c->min_replicas)
        c->min_replicas = 1;
    if (!c->replica_timeout_ms)
        c->replica_timeout_ms = 500;
    if (!c->advertise[0])
        snprintf(c->advertise, sizeof(c->advertise), "pid-%d", (int)getpid());
}

struct store *store_new(uv_loop_t *loop, const struct store_config *cfg,
                        struct router *r, const struct store_hooks *hooks)
{
    struct store *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->loop = loop;
    if (cfg)
        s->cfg = *cfg;
    defaults(&s->cfg);
    s->redis = s->cfg.enabled;
    s->router = r;
    if (!(s->addr = redisaddr_new(loop, &s->cfg))) {
        free(s);
        return NULL;
    }
    redisaddr_set_moved(s->addr, on_moved, s);
    where_init(s);
    if (redisaddr_cluster(s->addr)) {
        const char *src = journal(s) ? storebatch_journal_script
                                     : storebatch_script;
        size_t a = strlen(CLUSTER_PROBE), b = strlen(src);
        if (!(s->batch_src = malloc(a + b + 1))) {
            redisaddr_free(s->addr);
            free(s);
            return NULL;
        }
        memcpy(s->batch_src, CLUSTER_PROBE, a);
        memcpy(s->batch_src + a, src, b + 1);
        size_t c = strlen(storebatch_snapshot_script);
        if (!(s->snap_src = malloc(a + c + 1))) {
            free(s->batch_src);
            redisaddr_free(s->addr);
            free(s);
            return NULL;
        }
        memcpy(s->snap_src, CLUSTER_PROBE, a);
        memcpy(s->snap_src + a, storebatch_snapshot_script, c + 1);
    }
    s->wait_backoff_ms = s->cfg.reconnect_min_ms;
    if (hooks)
        s->hooks = *hooks;
    storebatch_init(&s->cur);
    storestate_init(&s->keys);
    s->next_seq = 1;
    storebatch_key(s->prefix, sizeof(s->prefix), s->cfg.tenant, "");
    storebatch_key(s->k_lease, sizeof(s->k_lease), s->cfg.tenant, "lease");
    storebatch_key(s->k_fence, sizeof(s->k_fence), s->cfg.tenant, "fence");
    storebatch_key(s->k_applied, sizeof(s->k_applied), s->cfg.tenant,
                   "applied");
    s->backoff_ms = s->cfg.reconnect_min_ms;
    s->refuse_backoff_ms = s->cfg.reconnect_min_ms;
    s->wall_off_us = (int64_t)(clock_wall_ms() * 1000) -
                     (int64_t)clock_mono_us();
    s->tick_ms = s->cfg.renew_ms / 2;
    if (s->tick_ms > 50)
        s->tick_ms = 50;
    if (s->tick_ms < 5)
        s->tick_ms = 5;
    return s;
}

int store_start(struct store *s)
{
    if (!s->redis) {
        set_role(s, STORE_ROLE_OWNER, s->cfg.advertise);
        return 0;
    }
    s->tick = malloc(sizeof(*s->tick));
    if (!s->tick)
        return STORE_ENOMEM;
    uv_timer_init(s->loop, s->tick);
    s->tick->data = s;
    s->tick_due_us = now_us() + (uint64_t)s->tick_ms * 1000;
    uv_timer_start(s->tick, on_tick, s->tick_ms, 0);
    conn_start(s);
    return 0;
}

static void on_release_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct store *s = ac->data;
    if (s && r)
        cmd_replied(s);
}

void store_stop(struct store *s, void (*done)(void *arg), void *arg)
{
    if (!s->redis) {
        store_flush(s);
        if (done)
            done(arg);
        return;
    }
    if (s->stopping)
        return;
    s->stop_done = done;
    s->stop_arg = arg;
    if (s->ac && s->conn == CONN_READY) {
        s->stop_flush = true;
        send_pending(s);
        if (s->token && s->ac) {
            const char *argv[] = { "EVALSHA", s->sha_release, "1",
                                   s->k_lease, s->mine };
            size_t argvlen[5];
            for (int i = 0; i < 5; i++)
                argvlen[i] = strlen(argv[i]);
            if (redisAsyncCommandArgv(s->ac, on_release_reply, NULL, 5, argv,
                                      argvlen) == REDIS_OK)
                cmd_sent(s);
            s->released = true;
        }
    }
    s->stopping = true;
    s->stop_started_us = now_us();
    tick_arm(s);                     /* the stop's reply deadline */
    redisaddr_close(s->addr);  /* no find, no subscription left open */
    if (s->ac && s->conn == CONN_READY) {
        redisAsyncDisconnect(s->ac);     /* after the replies */
    } else if (s->ac) {
        conn_drop(s);
    } else {
        stop_finish(s);
    }
}

void store_free(struct store *s)
{
    if (!s)
        return;
    if (s->ac) {
        redisAsyncContext *ac = s->ac;
        ac->data = NULL;
        s->ac = NULL;
        redisAsyncFree(ac);
    }
    if (s->tick) {
        s->tick->data = NULL;
        uv_close((uv_handle_t *)s->tick, on_tick_closed);
    }
    jfeed_close(s);
    redisaddr_free(s->addr);
    free(s->batch_src);
    free(s->snap_src);
    while (s->sent_head) {
        struct store_sent *b = s->sent_head;
        s->sent_head = b->next;
        storebatch_free(&b->b);
        free(b);
    }
    while (s->free_sent) {
        struct store_sent *b = s->free_sent;
        s->free_sent = b->next;
        storebatch_free(&b->b);
        free(b);
    }
    storebatch_free(&s->cur);
    storestate_free(&s->keys);
    journal_replay_free(s->jr);
    journal_buf_free(&s->jbuf);
    respcmd_free(&s->cmd);
    respcmd_free(&s->jhead);
    free(s->argv);
    free(s->argvlen);
    free(s->hc);
    free(s->ha);
    free(s->hc_gone);
    free(s->ha_out);
    free(s->barriers);
    free(s);
}

enum store_role store_role(const struct store *s) { return s->role; }

const char *store_owner_addr(const struct store *s)
{
    return s->owner_addr;
}

bool store_writable(const struct store *s)
{
    return !s->redis || s->pending_ops < s->cfg.max_pending;
}

void store_set_advertise(struct store *s, const char *addr)
{
    snprintf(s->cfg.advertise, sizeof(s->cfg.advertise), "%s", addr);
}

void store_set_router(struct store *s, struct router *r)
{
    s->router = r;
}

void store_stats(const struct store *s, struct store_stats *out)
{
    *out = s->st;
    out->pending_ops = s->pending_ops;
    out->token = s->token;
    out->ready = store_ready(s);
}

/* The router's monotonic arrival as wall-clock us, with the one offset of
 * this store: the spacing of arrivals is kept exactly. */
static uint64_t arrival_us(const struct store *s, uint64_t mono_us)
{
    int64_t w = (int64_t)mono_us + s->wall_off_us;
    return w > 0 ? (uint64_t)w : 0;
}

int store_contact_arrived(struct store *s, const char *contact_id,
                          const uint8_t *arrived, size_t len,
                          uint64_t now_wall_ms, const char *owner,
                          const char *principal)
{
    if (!s->redis)
        return 0;
    if (!contact_id || !contact_id[0])
        return STORE_EINVAL;
    if (!s->token)
        return STORE_ENOTOWNER;
    /* What orders the contact (see "Arrival"): the router's arrival time
     * and sequence, persisted exactly. */
    uint64_t arr_us = now_wall_ms * 1000, seq = s->seq_base + ++s->seq_local;
    uint32_t h;
    if (s->router && router_contact_find(s->router, contact_id, &h) == 0) {
        struct router_contact_info ci;
        router_contact_info(s->router, h, &ci);
        arr_us = arrival_us(s, ci.arrived_at);
        seq = s->seq_base + ci.seq;
    }
    if (storestate_contact_arrived(&s->keys, contact_id, arrived, len,
                                   arr_us, seq, owner, principal) < 0)
        return STORE_ENOMEM;
    pending_update(s);
    return 0;
}

int store_agent_login(struct store *s, const char *agent_id,
                      const uint8_t *login, size_t len, const char *owner,
                      const char *principal)
{
    if (!s->redis)
        return 0;
    if (!agent_id || !agent_id[0])
        return STORE_EINVAL;
    if (!s->token)
        return STORE_ENOTOWNER;
    if (storestate_agent_login(&s->keys, agent_id, login, len, owner,
                               principal) < 0)
        return STORE_ENOMEM;
    pending_update(s);
    return 0;
}

static uint64_t to_wall(uint64_t t_us, uint64_t mono_now_us,
                        uint64_t wall_now_ms)
{
    if (t_us <= mono_now_us)
        return wall_now_ms - (mono_now_us - t_us) / 1000;
    return wall_now_ms + (t_us - mono_now_us) / 1000;
}

static const char *ev_name(enum router_event_type t)
{
    switch (t) {
    case ROUTER_EV_QUEUED: return "queued";
    case ROUTER_EV_OFFER: return "offer";
    case ROUTER_EV_REVOKED: return "revoked";
    case ROUTER_EV_REJECTED: return "rejected";
    case ROUTER_EV_ASSIGNED: return "assigned";
    case ROUTER_EV_CONTACT_GONE: return "gone";
    case ROUTER_EV_AGENT_STATE: return "agent_state";
    case ROUTER_EV_MOVED: return "moved";
    }
    return "unknown";
}

static int hreserve(struct store *s, size_t n)
{
    if (n <= s->hcap)
        return 0;
    size_t c = s->hcap ? s->hcap : 64;
    while (c < n)
        c *= 2;
    uint32_t *hc = realloc(s->hc, c * sizeof(*hc));
    if (!hc)
        return -1;
    s->hc = hc;
    uint32_t *ha = realloc(s->ha, c * sizeof(*ha));
    if (!ha)
        return -1;
    s->ha = ha;
    uint8_t *g = realloc(s->hc_gone, c);
    if (!g)
        return -1;
    s->hc_gone = g;
    uint8_t *o = realloc(s->ha_out, c);
    if (!o)
        return -1;
    s->ha_out = o;
    s->hcap = c;
    return 0;
}

/* Index of h in set[0..n), adding it when missing. */
static size_t hset(uint32_t *set, uint8_t *flag, size_t *n, uint32_t h)
{
    for (size_t i = 0; i < *n; i++)
        if (set[i] == h)
            return i;
    set[*n] = h;
    flag[*n] = 0;
    return (*n)++;
}

/* Room for `events` more router events (one stream entry each, at most one
 * key each: a contact's, or an agent's for AGENT_STATE) and `data` more
 * bytes of packed requests and owners, so that recording them allocates
 * nothing. 0 or -1; only capacity changes. */
static int grow_for(struct store *s, size_t events, size_t data)
{
    if (hreserve(s, events) < 0 ||
        storebatch_reserve(&s->cur, events * STOREBATCH_EVENT_BYTES,
                           events * STOREBATCH_EVENT_ARGS) < 0 ||
        storestate_reserve(&s->keys, events + (data ? 1 : 0), data) < 0)
        return -1;
    return 0;
}

/* Admission and room before the engine changes the router for a request.
 *
 * Why reserve and not undo: the router has no undo, and an undo through it
 * (abandon the contact that just arrived, log the agent out again) would
 * itself emit events and count in the statistics. So the engine asks
 * first: is there a term, is the backlog under its bound, and is there
 * room -- memory already allocated -- for what the change will write?
 * Only then does it call the router, and the writes that follow
 * (store_contact_arrived / store_agent_login, store_record, one
 * store_barrier) cannot fail for want of memory or bound.
 *
 * The room covers STORE_RESERVE_EVENTS events, as many as the router's own
 * output list holds before it must grow (router.c sizes it at 1024 and
 * aborts if it cannot grow: a decision that cannot be reported is not
 * kept). A request that makes more (an agent of very large capacity
 * logging in or out while hundreds of contacts wait) needs store_record()
 * to allocate the rest; if that fails the change is in the router but not
 * in Redis, and the engine says so (log, records_failed). */
int store_reserve(struct store *s, enum store_admit kind, size_t data)
{
    if (!s->redis)
        return barrier_room(s);
    if (!s->token)
        return STORE_ENOTOWNER;
    /* No change while the lease is not confirmed (SUSPENDED), Redis
     * refuses writes, or lost state is being written back: the client
     * gets a retryable STATE_UNAVAILABLE with store_why(). */
    if (s->role != STORE_ROLE_OWNER || s->refused || s->lost_pending ||
        s->repl_short)
        return STORE_EUNAVAILABLE;
    if (kind == STORE_ADMIT_NEW ? s->pending_ops >= s->cfg.max_pending
                                : s->pending_ops > 2 * s->cfg.max_pending)
        return STORE_EUNAVAILABLE;
    if (grow_for(s, STORE_RESERVE_EVENTS, data) < 0 || barrier_room(s) < 0)
        return STORE_ENOMEM;
    return 0;
}

/* Events go to the stream one by one (in `cur`); the keys they touch get
 * their final state in `keys` (one op per key at send time). Contact
 * hashes change with every contact event; an agent's hash only with its
 * AGENT_STATE events (state, reason and since_ms change nowhere else in the
 * router), so offers and assignments write no agent key. */
int store_record(struct store *s, uint64_t mono_now_us, uint64_t wall_now_ms)
{
    if (!s->redis)
        return 0;
    if (!s->router || !s->token)
        return STORE_ENOTOWNER;
    struct router *r = s->router;
    size_t n = router_out_count(r);
    if (n == 0)
        return 0;
    /* All or nothing: room for every op first (nothing allocates below),
     * so a failure leaves the batch as it was. After store_reserve() and
     * at most STORE_RESERVE_EVENTS events this allocates nothing. */
    /* a disposition takes at most 4 events' room more (its 5 fields,
     * below 800 bytes): inside what store_reserve() made room for */
    if (grow_for(s, n + (s->disp.set ? 4 : 0), 0) < 0) {
        s->disp.set = false;
        s->st.records_failed++;
        log_error("store: out of memory recording %zu events", n);
        return STORE_ENOMEM;
    }
    size_t nc = 0, na = 0;
    size_t before = s->cur.nops;
    for (size_t i = 0; i < n; i++) {
        const struct router_event *ev = router_out_get(r, i);
        const char *cid = ev->contact != UINT32_MAX
                              ? router_contact_id(r, ev->contact) : "";
        const char *aid = ev->agent != UINT32_MAX
                              ? router_agent_id(r, ev->agent) : "";
        const char *q = ev->queue >= 0 ? router_queue_name(r, ev->queue) : "";
        char num[24];
        const char *detail = "";
        switch (ev->type) {
        case ROUTER_EV_OFFER:
            num[storebatch_u64(num, to_wall(ev->deadline, mono_now_us,
                                            wall_now_ms))] = '\0';
            detail = num;
            break;
        case ROUTER_EV_REVOKED:
            detail = ev->u.revoke == ROUTER_REVOKE_TIMEOUT ? "timeout"
                     : ev->u.revoke == ROUTER_REVOKE_ABANDONED ? "abandoned"
                     : "agent_logout";
            break;
        case ROUTER_EV_CONTACT_GONE:
            detail = ev->u.gone == ROUTER_CONTACT_ABANDONED ? "abandoned"
                     : ev->u.gone == ROUTER_CONTACT_QUEUED ? "callback_held"
                                                           : "completed";
            break;
        case ROUTER_EV_AGENT_STATE:
            num[storebatch_u64(num, (uint64_t)(ev->u.agent_state < 0
                                               ? 0 : ev->u.agent_state))] = '\0';
            detail = num;
            break;
        case ROUTER_EV_QUEUED:
            num[storebatch_u64(num, ev->position)] = '\0';
            detail = num;
            break;
        default:
            break;
        }
        if (s->disp.set && ev->type == ROUTER_EV_CONTACT_GONE &&
            ev->u.gone == ROUTER_CONTACT_COMPLETED && cid &&
            !strcmp(cid, s->disp.id)) {
            storebatch_event_disposition(&s->cur, ev_name(ev->type), cid,
                                         aid ? aid : "", q ? q : "",
                                         wall_now_ms, detail, s->disp.code,
                                         s->disp.tags, s->disp.note,
                                         s->disp.difficult,
                                         s->disp.product);
            s->disp.set = false;
        } else {
            storebatch_event(&s->cur, ev_name(ev->type), cid ? cid : "",
                             aid ? aid : "", q ? q : "", wall_now_ms, detail);
        }
        if (ev->contact != UINT32_MAX) {
            size_t k = hset(s->hc, s->hc_gone, &nc, ev->contact);
            if (ev->type == ROUTER_EV_CONTACT_GONE)
                s->hc_gone[k] = 1;
        }
        if (ev->agent != UINT32_MAX && ev->type == ROUTER_EV_AGENT_STATE) {
            size_t k = hset(s->ha, s->ha_out, &na, ev->agent);
            s->ha_out[k] =
                ev->u.agent_state == ROUTER_AGENT_STATE_LOGGED_OUT;
        }
    }
    for (size_t i = 0; i < nc; i++) {
        const char *id = router_contact_id(r, s->hc[i]);
        if (!id || !id[0])
            continue;
        if (s->hc_gone[i]) {
            storestate_contact_gone(&s->keys, id);
            continue;
        }
        struct router_contact_info ci;
        router_contact_info(r, s->hc[i], &ci);
        if (ci.state == ROUTER_CONTACT_COMPLETED ||
            ci.state == ROUTER_CONTACT_ABANDONED) {
            storestate_contact_gone(&s->keys, id);
            continue;
        }
        const char *q = ci.queue >= 0 ? router_queue_name(r, ci.queue) : "";
        const char *a = ci.agent != UINT32_MAX ? router_agent_id(r, ci.agent)
                                               : "";
        uint64_t dl = ci.state == ROUTER_CONTACT_OFFERED
                          ? to_wall(ci.deadline, mono_now_us, wall_now_ms) : 0;
        /* cannot fail: grow_for() made room */
        storestate_contact_state(&s->keys, id, (int)ci.state, q, a, dl);
    }
    for (size_t i = 0; i < na; i++) {
        const char *id = router_agent_id(r, s->ha[i]);
        if (!id || !id[0])
            continue;
        if (s->ha_out[i]) {
            storestate_agent_logout(&s->keys, id);
            continue;
        }
        struct router_agent_info ai;
        router_agent_info(r, s->ha[i], mono_now_us, &ai);
        if (ai.state == ROUTER_AGENT_STATE_LOGGED_OUT) {
            storestate_agent_logout(&s->keys, id);
            continue;
        }
        storestate_agent_state(&s->keys, id, (int)ai.state, ai.reason,
                               to_wall(ai.state_since, mono_now_us,
                                       wall_now_ms));
    }
    s->st.ops_queued += s->cur.nops - before;
    pending_update(s);
    return 0;
}

void store_disposition(struct store *s, const char *id, const char *code,
                       const char *const *tags, size_t ntags,
                       const char *note, bool difficult,
                       const char *product, size_t product_len)
{
    size_t o = 0;
    s->disp.set = id != NULL;
    if (!id)
        return;
    snprintf(s->disp.id, sizeof(s->disp.id), "%s", id);
    snprintf(s->disp.code, sizeof(s->disp.code), "%s", code ? code : "");
    snprintf(s->disp.note, sizeof(s->disp.note), "%s", note ? note : "");
    s->disp.tags[0] = '\0';
    for (size_t i = 0; i < ntags && i < 16; i++) {
        int w = snprintf(s->disp.tags + o, sizeof(s->disp.tags) - o, "%s%s",
                         i ? "," : "", tags[i]);
        if (w < 0 || (size_t)w >= sizeof(s->disp.tags) - o)
            break;
        o += (size_t)w;
    }
    s->disp.difficult = difficult;
    /* an id's length (dispatch checked it): never cut, else left out */
    if (product && product_len < sizeof(s->disp.product)) {
        memcpy(s->disp.product, product, product_len);
        s->disp.product[product_len] = '\0';
    } else {
        s->disp.product[0] = '\0';
    }
}

/* durability memory: while Redis is connected and confirming but the
 * write-behind backlog is past half of max_pending, barriers wait for
 * Redis's confirmation as with durability redis. Clients are slowed to
 * the rate Redis sustains instead of the backlog reaching max_pending and
 * new contacts being refused; during an outage (no connection) barriers
 * fire at the flush as usual and max_pending still bounds the memory. */
static bool memory_throttled(const struct store *s)
{
    return s->conn == CONN_READY && s->role == STORE_ROLE_OWNER &&
           s->pending_ops >= s->cfg.max_pending / 2;
}

int store_barrier(struct store *s, store_barrier_cb cb, void *arg)
{
    /* The bound is checked at admission (store_reserve), before the
     * change, never here after it: a change the router has made must get
     * its barrier. */
    if (s->redis && !s->token)
        return STORE_ENOTOWNER;
    if (s->redis && s->cfg.durability == STORE_DURABILITY_MEMORY &&
        memory_throttled(s))
        s->st.memory_waits++;
    uint64_t seq = cur_ops(s) ? s->next_seq : s->next_seq - 1;
    return barrier_push(s, cb, arg, seq);
}

void store_flush(struct store *s)
{
    if (!s->redis) {
        barriers_fire(s, true, 0);
        return;
    }
    if (!s->stopping)
        send_pending(s);
    /* Write the batch now, before the client replies of this turn, rather
     * than arming write interest and waiting for the next poll (see
     * engine/redisuv.h). May drop the connection (conn_lost runs). */
    redisuv_write(s->ac);
    tick_arm(s);                     /* whatever this turn changed */
    bool memory = s->cfg.durability == STORE_DURABILITY_MEMORY;
    bool thr = memory && memory_throttled(s);
    if (thr != s->throttled) {
        s->throttled = thr;
        state_log(s, LOG_INFO, thr
                  ? "store: durability memory: %zu unconfirmed writes, past "
                    "half of max_pending (%zu): acknowledgements now wait "
                    "for redis"
                  : "store: durability memory: backlog %zu under half of "
                    "max_pending (%zu): acknowledging at once again",
                  s->pending_ops, s->cfg.max_pending);
    }
    barriers_fire(s, memory && !thr, 0);
}

/* ---------------------------------------------------------------- */
/* outbound objects (engine/outbound.c; storebatch.h, ops B and b) */

int store_outbound_reserve(struct store *s, size_t ops, size_t bytes)
{
    int rc = store_reserve(s, STORE_ADMIT_CHANGE, 0);
    if (rc < 0 || !s->redis)
        return rc;
    /* each put may come with a lead's stream entry (op V) */
    if (storebatch_reserve(&s->cur,
                           bytes + ops * (26 + STOREBATCH_LEAD_EVENT_BYTES),
                           ops * (4 + STOREBATCH_LEAD_EVENT_ARGS)) < 0)
        return STORE_ENOMEM;
    return 0;
}

int store_outbound_event(struct store *s, const char *type,
                         const char *campaign, const char *lead,
                         const char *contact, const char *state,
                         uint32_t attempts, const char *outcome,
                         uint64_t ts_ms)
{
    if (!s->redis || s->snap)
        return 0;
    if (!s->token)
        return STORE_ENOTOWNER;
    if (storebatch_lead_event(&s->cur, type, campaign, lead, contact, state,
                              attempts, outcome, ts_ms) < 0)
        return STORE_ENOMEM;
    s->st.ops_queued++;
    pending_update(s);
    return 0;
}

int store_outbound_put(struct store *s, const char *member, unsigned score,
                       const void *data, size_t len)
{
    if (!s->redis)
        return 0;
    if (!s->token)
        return STORE_ENOTOWNER;
    if (storebatch_ob_put(s->snap ? s->snap : &s->cur, member, score, data,
                          len) < 0) {
        if (s->snap)
            s->snap_failed = true;
        return STORE_ENOMEM;
    }
    if (!s->snap) {
        s->st.ops_queued++;
        pending_update(s);
    }
    return 0;
}

int store_outbound_del(struct store *s, const char *member)
{
    if (!s->redis)
        return 0;
    if (!s->token)
        return STORE_ENOTOWNER;
    if (storebatch_ob_del(s->snap ? s->snap : &s->cur, member) < 0)
        return STORE_ENOMEM;
    if (!s->snap) {
        s->st.ops_queued++;
        pending_update(s);
    }
    return 0;
}

/* ---------------------------------------------------------------- */
/* full rewrite (hooks.snapshot) */

int store_snapshot_contact(struct store *s, uint32_t h,
                           const uint8_t *arrived, size_t len,
                           const char *owner, const char *principal)
{
    if (!s->snap || !s->router)
        return STORE_EINVAL;
    struct router_contact_info ci;
    router_contact_info(s->router, h, &ci);
    if (!ci.id || !ci.id[0] || ci.state == ROUTER_CONTACT_COMPLETED ||
        ci.state == ROUTER_CONTACT_ABANDONED)
        return STORE_EINVAL;
    uint64_t mono = clock_mono_us(), wall = clock_wall_ms();
    const char *q = ci.queue >= 0 ? router_queue_name(s->router, ci.queue)
                                  : "";
    const char *a = ci.agent != UINT32_MAX
                        ? router_agent_id(s->router, ci.agent) : "";
    uint64_t dl = ci.state == ROUTER_CONTACT_OFFERED
                      ? to_wall(ci.deadline, mono, wall) : 0;
    if (storebatch_contact_new(s->snap, ci.id, arrived, len,
                               arrival_us(s, ci.arrived_at),
                               s->seq_base + ci.seq, owner, principal,
                               (int)ci.state, q, a ? a : "", dl) < 0) {
        s->snap_failed = true;
        return STORE_ENOMEM;
    }
    s->snap_contacts++;
    return 0;
}

int store_snapshot_agent(struct store *s, uint32_t h, const uint8_t *login,
                         size_t len, const char *owner, const char *principal)
{
    if (!s->snap || !s->router)
        return STORE_EINVAL;
    uint64_t mono = clock_mono_us(), wall = clock_wall_ms();
    struct router_agent_info ai;
    const char *id = router_agent_id(s->router, h);
    if (!id || !id[0])
        return STORE_EINVAL;
    router_agent_info(s->router, h, mono, &ai);
    if (ai.state == ROUTER_AGENT_STATE_LOGGED_OUT)
        return STORE_EINVAL;
    if (storebatch_agent_new(s->snap, id, login, len, owner, principal,
                             (int)ai.state, ai.reason,
                             to_wall(ai.state_since, mono, wall)) < 0) {
        s->snap_failed = true;
        return STORE_ENOMEM;
    }
    s->snap_agents++;
    return 0;
}

/* ---------------------------------------------------------------- */
/* --check-redis (blocking, never on the loop) */

int store_check_redis(const struct store_config *in, char *msg, size_t len)
{
    struct store_config c = *in;
    defaults(&c);
    /* where: the configured address, or the master the sentinels name */
    struct store_addr m;
    char where[600];
    if (redisaddr_find_blocking(&c, &m, where, sizeof(where)) < 0) {
        snprintf(msg, len, "%s", where);
        return STORE_EUNAVAILABLE;
    }
    snprintf(c.host, sizeof(c.host), "%s", m.host);
    c.port = m.port;
    struct timeval tv = { c.connect_timeout_ms / 1000,
                          (c.connect_timeout_ms % 1000) * 1000 };
    redisContext *rc = redisConnectWithTimeout(c.host, c.port, tv);
    if (!rc || rc->err) {
        snprintf(msg, len, "cannot connect to redis %s: %s", where,
                 rc ? rc->errstr : "out of memory");
        if (rc)
            redisFree(rc);
        return STORE_EUNAVAILABLE;
    }
    tv.tv_sec = c.command_timeout_ms / 1000;
    tv.tv_usec = (c.command_timeout_ms % 1000) * 1000;
    redisSetTimeout(rc, tv);
    int ret = 0;
    redisReply *r = NULL;
    if (c.password[0]) {
        r = redisCommand(rc, "AUTH %s", c.password);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            snprintf(msg, len, "redis %s: redis authentication failed: "
                     "%s", where, r ? r->str : rc->errstr);
            ret = STORE_EUNAVAILABLE;
            goto out;
        }
        freeReplyObject(r);
    }
    if (c.db) {
        r = redisCommand(rc, "SELECT %d", c.db);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            snprintf(msg, len, "redis %s: SELECT %d failed: %s", where,
                     c.db, r ? r->str : rc->errstr);
            ret = STORE_EUNAVAILABLE;
            goto out;
        }
        freeReplyObject(r);
    }
    r = redisCommand(rc, "PING");
    if (!r || r->type == REDIS_REPLY_ERROR) {
        const char *e = r ? r->str : rc->errstr;
        snprintf(msg, len, "redis %s: %s%s", where,
                 r && is_auth_error(e) ? "redis authentication failed: "
                                       : "PING failed: ", e);
        ret = STORE_EUNAVAILABLE;
        goto out;
    }
    if (c.nsentinels > 0) {
        /* the engine writes only to a master (on_role_reply) */
        freeReplyObject(r);
        r = redisCommand(rc, "ROLE");
        const char *role = r && r->type == REDIS_REPLY_ARRAY &&
                           r->elements > 0 &&
                           r->element[0]->type == REDIS_REPLY_STRING
                               ? r->element[0]->str : "?";
        if (strcmp(role, "master") != 0) {
            snprintf(msg, len, "redis %s: not the master (ROLE says %s)",
                     where, r && r->type == REDIS_REPLY_ERROR ? r->str
                                                               : role);
            ret = STORE_EUNAVAILABLE;
            goto out;
        }
    }
    if (c.ncluster > 0) {
        /* a key of the tenant's slot: MOVED / ASK when this node does not
         * serve it (a stale table, a migration under way) */
        char key[200];
        freeReplyObject(r);
        storebatch_key(key, sizeof(key), c.tenant, "lease");
        r = redisCommand(rc, "EXISTS %s", key);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            snprintf(msg, len, "redis %s: does not serve the tenant's "
                     "slot: %s", where, r ? r->str : rc->errstr);
            ret = STORE_EUNAVAILABLE;
            goto out;
        }
    }
    snprintf(msg, len, "redis %s: connected%s, PING answered%s", where,
             c.password[0] ? " and authenticated" : "",
             c.nsentinels > 0 ? ", ROLE master"
             : c.ncluster > 0 ? ", serves the tenant's slot" : "");
out:
    if (r)
        freeReplyObject(r);
    redisFree(rc);
    return ret;
}

/* Only the flag the lease script reads as "take a free lease": a term
 * this store holds is renewed (or resumed) either way. */
void store_set_acquire(struct store *s, bool acquire)
{
    bool was = !s->no_acquire;
    s->no_acquire = !acquire;
    /* A pool that just chose this tenant asks for its lease now, not at
     * the next renewal: the round that saw the lease free asked with
     * "do not take it". In flight: asked again as soon as it answers. */
    if (acquire && !was && !s->stopping && s->redis) {
        s->next_lease_us = 0;
        tick_arm(s);
    }
}
