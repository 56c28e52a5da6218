/* bench-recovery.c -- how long a restarted ccrouted takes to load a large
 * tenant from Redis, what the load costs Redis, and whether the engine's
 * loop keeps turning meanwhile; then what the full-state rewrite (Redis
 * lost the engine's state) costs at that size.
 *
 * Everything is real: a private redis-server on a free loopback port and
 * BUILD/ccrouted on it. The tenant is written by the engine itself (no
 * hand-made keys, so the layout cannot drift from the engine's): the
 * harness logs in --agents agents (skill s2, serving queues q10..q19 that
 * no contact asks for) and sends --contacts contacts (queues q0..q9, skill
 * s1 that no agent has, priorities 0..9), all from one switch connection,
 * pipelined; every one is acknowledged (durability memory for the fill),
 * so all of them wait. The daemon is stopped cleanly (the lease is
 * released at once) and started again --reps times. For each start:
 *
 *   serving_ms      from the exec of ccrouted until a Hello is accepted
 *                   and a Ping answered (the first Hello that is not
 *                   "not serving yet");
 *   load_ms         the engine's own figure, from its log line ("loaded
 *                   ... in N ms"): lease acquired to the last object
 *                   handed to the router;
 *   load_calls      Redis calls of the load (the same line);
 *   engine_stall_ms the longest the engine spent on one load reply or,
 *                   layout journal, one slice of the hand-over (the same
 *                   line): the longest the loop stood still for it;
 *   hello_max_ms    the longest Hello round trip while the engine was
 *                   loading (each Hello is answered "not serving yet" at
 *                   once unless the loop is busy): the stall as a client
 *                   sees it; hellos_during_load counts them;
 *   redis_cmds_per_object  INFO commandstats calls (EVALSHA and what the
 *                   scripts ran, lease calls included) during the start,
 *                   per recovered contact and agent;
 *   redis_cpu_ms    INFO cpu (user + sys) during the start;
 *   engine_cpu_ms   the daemon's CPU (user + sys, /proc) at serving time;
 *   harness_cpu_ms  this program's own CPU during the start (its Hello
 *                   loop, the INFO calls): the harness's cost, on the same
 *                   two cores.
 *
 * Then, on the last start, the rewrite: FLUSHALL (Redis comes back empty)
 * and the engine writes its whole state back at its next lease renewal:
 *
 *   rewrite_ms       FLUSHALL until ZCARD and SCARD show every contact and
 *                    agent again, or with the journal until the rewrite's
 *                    snapshot is current (detection included: up to one
 *                    renew);
 *   rewrite_redis_max_ms  the longest Redis command of the rewrite
 *                    (SLOWLOG): how long Redis stood still for it;
 *   redis_ping_max_ms the longest poll meanwhile (PING, ZCARD, SCARD
 *                    round trips: another client's view of that);
 *   rewrite_redis_cpu_ms  INFO cpu during it.
 *
 * A figure, never a verdict. usage:
 *   bench-recovery [--contacts N] [--agents M] [--reps R] [--chunk K]
 *                  [--daemon PATH] [--json FILE] [--no-rewrite]
 *                  [--layout hashes|journal]
 * (--chunk: redis.load_chunk of the engine, 0: its default; --layout:
 * redis.layout of the engine, default hashes, as the figures before the
 * engine's default became journal).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
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

#include <hiredis/hiredis.h>

#include "benchproc.h"
#include "client.h"

#define BODY(x) CCROUTE__V1__ENVELOPE__BODY_##x
#define WINDOW 512
#define T_MS 60000

/* ---- redis ---- */

static long long rint_(const char *fmt, const char *arg)
{
    redisReply *r = bp_rcmd(fmt, arg);
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return v;
}

static double redis_cpu_ms(void)
{
    return (bp_info_num("cpu", "used_cpu_user") +
            bp_info_num("cpu", "used_cpu_sys")) * 1e3;
}

/* Sum of every cmdstat_*:calls= */
static long long redis_calls(void)
{
    redisReply *r = bp_rcmd("INFO commandstats");
    long long n = 0;
    for (const char *p = r->str; (p = strstr(p, "calls=")); p += 6)
        n += strtoll(p + 6, NULL, 10);
    freeReplyObject(r);
    return n;
}

/* ---- the protocol ---- */

static void login(struct ccr_client *c, const char *agent)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__AgentLogin li = CCROUTE__V1__AGENT_LOGIN__INIT;
    Ccroute__V1__AgentSkill sk = CCROUTE__V1__AGENT_SKILL__INIT;
    Ccroute__V1__AgentSkill *skp = &sk;
    sk.skill = "s2";
    sk.level = 1 + (unsigned)(agent[1] % 5);
    li.agent_id = (char *)agent;
    li.skills = &skp;
    li.n_skills = 1;
    env.body_case = BODY(AGENT_LOGIN);
    env.agent_login = &li;
    bp_send_env(c, &env);
}

static void contact(struct ccr_client *c, const char *id, int i)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__ContactArrived m = CCROUTE__V1__CONTACT_ARRIVED__INIT;
    Ccroute__V1__Attribute a = CCROUTE__V1__ATTRIBUTE__INIT;
    Ccroute__V1__Attribute *attrs[1] = { &a };
    char q[8];
    snprintf(q, sizeof(q), "q%d", i % 10);
    m.contact_id = (char *)id;
    m.queue = q;
    m.channel = CCROUTE__V1__CHANNEL__CHANNEL_VOICE;
    m.priority = (uint32_t)((i / 10) % 10);
    m.customer_value = (uint32_t)(i % 7) * 100;
    a.key = "case";
    a.value = (char *)id;
    m.attributes = attrs;
    m.n_attributes = 1;
    env.body_case = BODY(CONTACT_ARRIVED);
    env.contact_arrived = &m;
    bp_send_env(c, &env);
}

static double ping(struct ccr_client *c)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Ping p = CCROUTE__V1__PING__INIT;
    double t = bp_now_ms();
    env.body_case = BODY(PING);
    env.ping = &p;
    bp_send_env(c, &env);
    for (;;) {
        ccr_envelope *r = NULL;
        if (ccr_client_recv(c, T_MS, &r) < 0 || !r)
            bp_die("no Pong");
        bool pong = r->body_case == BODY(PONG) &&
                    r->request_id == env.request_id;
        ccr_free(r);
        if (pong)
            return bp_now_ms() - t;
    }
}

static void stats(struct ccr_client *c, uint32_t *waiting, uint32_t *agents)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__StatsRequest sr = CCROUTE__V1__STATS_REQUEST__INIT;
    env.body_case = BODY(STATS_REQUEST);
    env.stats_request = &sr;
    bp_send_env(c, &env);
    for (;;) {
        ccr_envelope *r = NULL;
        if (ccr_client_recv(c, T_MS, &r) < 0 || !r)
            bp_die("no Stats");
        if (r->body_case == BODY(STATS)) {
            *waiting = r->stats->contacts_waiting;
            *agents = r->stats->agents_logged_in;
        }
        bool ack = r->body_case == BODY(ACK);
        ccr_free(r);
        if (ack)
            return;
    }
}

/* ---- the run ---- */

struct start {
    double serving, load, stall, hello_max, cmds_per_obj, redis_cpu,
        engine_cpu, harness_cpu;
    long long load_calls;
    int hellos;
};

static void parse_loaded(const char *line, struct start *s)
{
    const char *p = strstr(line, " in ");
    s->load = s->stall = -1;
    s->load_calls = -1;
    if (p)
        s->load = strtod(p + 4, NULL);
    if ((p = strstr(line, " calls")))
        while (p > line && p[-1] >= '0' && p[-1] <= '9')
            p--;
    if (p)
        s->load_calls = strtoll(p, NULL, 10);
    if ((p = strstr(line, "longest ")))
        s->stall = strtod(p + 8, NULL);
}

static void one_start(const char *daemon, const char *cfg, int ncontacts,
                      int nagents, struct start *s, int *port,
                      struct ccr_client **mon)
{
    bp_rcmd("CONFIG RESETSTAT");
    double rcpu0 = redis_cpu_ms(), hcpu0 = bp_self_cpu_ms();
    double t0 = bp_now_ms();
    *port = bp_daemon_start(daemon, cfg);
    struct ccr_client *c = bp_hello_until_serving(
        *port, "wallboard", CCROUTE__V1__ROLE__ROLE_MONITOR, &s->hello_max,
        &s->hellos);
    ping(c);
    s->serving = bp_now_ms() - t0;
    s->engine_cpu = bp_proc_cpu_ms(bp_daemon_pid);
    s->harness_cpu = bp_self_cpu_ms() - hcpu0;
    s->redis_cpu = redis_cpu_ms() - rcpu0;
    long long calls = redis_calls();
    s->cmds_per_obj = (double)calls / (double)(ncontacts + nagents);
    char line[1024];
    if (!bp_log_line("loaded ", line, sizeof(line)))
        bp_die("no \"loaded\" line in the daemon's log");
    parse_loaded(line, s);
    uint32_t w = 0, a = 0;
    stats(c, &w, &a);
    if ((int)w != ncontacts || (int)a != nagents)
        bp_die("recovered %u contacts and %u agents, expected %d and %d", w, a,
            ncontacts, nagents);
    *mon = c;
}

struct rewrite {
    double total, redis_max, ping_max, redis_cpu;
};

/* redis.layout of the engine (--layout): "hashes" or "journal". */
static const char *layout = "hashes";

static bool journal(void)
{
    return !strcmp(layout, "journal");
}

/* The whole state is back in Redis: hashes, every contact and agent in
 * its set; journal, the rewrite's snapshot made current (its swap runs
 * after every chunk is in, and names them). */
static bool written_back(int ncontacts, int nagents)
{
    if (journal())
        return rint_("EXISTS %s", "ccr:{rec}:snapshot") == 1;
    return rint_("ZCARD %s", "ccr:{rec}:contacts") == ncontacts &&
           rint_("SCARD %s", "ccr:{rec}:agents") == nagents;
}

static void one_rewrite(int ncontacts, int nagents, struct rewrite *w)
{
    bp_rcmd("CONFIG SET slowlog-log-slower-than 1000");
    bp_rcmd("SLOWLOG RESET");
    double rcpu0 = redis_cpu_ms();
    double t0 = bp_now_ms();
    w->ping_max = 0;
    bp_rcmd("FLUSHALL");
    for (;;) {
        double t = bp_now_ms();
        freeReplyObject(bp_rcmd("PING"));
        bool done = written_back(ncontacts, nagents);
        if (bp_now_ms() - t > w->ping_max)
            w->ping_max = bp_now_ms() - t;
        if (done)
            break;
        if (bp_now_ms() - t0 > T_MS)
            bp_die("the state was not written back within %d ms", T_MS);
        usleep(200);            /* polling Redis for the rewritten state */
    }
    w->total = bp_now_ms() - t0;
    w->redis_cpu = redis_cpu_ms() - rcpu0;
    redisReply *r = bp_rcmd("SLOWLOG GET 128");
    w->redis_max = 0;
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *e = r->element[i];
        if (e->elements > 2 && e->element[2]->type == REDIS_REPLY_INTEGER &&
            e->element[2]->integer / 1e3 > w->redis_max)
            w->redis_max = (double)e->element[2]->integer / 1e3;
    }
    freeReplyObject(r);
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmpd);
    return v[n / 2];
}

int main(int argc, char **argv)
{
    int ncontacts = 100000, nagents = 10000, reps = 3, chunk = 0;
    bool rewrite = true;
    const char *json = NULL;
    char daemon[1024];
    snprintf(daemon, sizeof(daemon), "%s", argv[0]);
    char *slash = strrchr(daemon, '/');
    snprintf(slash ? slash + 1 : daemon,
             sizeof(daemon) - (size_t)(slash ? slash + 1 - daemon : 0),
             "ccrouted");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--contacts") && i + 1 < argc)
            ncontacts = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--agents") && i + 1 < argc)
            nagents = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--chunk") && i + 1 < argc)
            chunk = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--daemon") && i + 1 < argc)
            snprintf(daemon, sizeof(daemon), "%s", argv[++i]);
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json = argv[++i];
        else if (!strcmp(argv[i], "--no-rewrite"))
            rewrite = false;
        else if (!strcmp(argv[i], "--layout") && i + 1 < argc &&
                 (!strcmp(argv[i + 1], "hashes") ||
                  !strcmp(argv[i + 1], "journal")))
            layout = argv[++i];
        else {
            fprintf(stderr, "usage: bench-recovery [--contacts N] [--agents "
                    "M] [--reps R] [--chunk K] [--daemon PATH] [--json "
                    "FILE] [--no-rewrite] [--layout hashes|journal]\n");
            return 2;
        }
    }
    if (ncontacts < 1 || nagents < 1 || reps < 1 || reps > 99 || chunk < 0)
        bp_die("bad --contacts, --agents, --reps or --chunk");
    bp_init("bench-recovery");

    int rport = bp_redis_start();
    char cfg[300], text[4096], chunkline[64] = "";
    if (chunk)
        snprintf(chunkline, sizeof(chunkline), "  load_chunk: %d\n", chunk);
    int n = snprintf(text, sizeof(text),
                     "log_level: info\n"
                     "grace: 3600s\n"
                     "redis:\n"
                     "  enabled: true\n"
                     "  durability: memory\n"
                     "  layout: %s\n"
                     "  port: %d\n"
                     "  tenant: rec\n"
                     "  max_pending: %d\n"
                     "%s"
                     "routing: {offer_timeout: 60s, max_agents: %d, "
                     "max_contacts: %d}\n"
                     "limits: {ping_interval: 0}\n"
                     "skills: [s1, s2]\n"
                     "queues:\n",
                     layout, rport, 4 * (ncontacts + nagents), chunkline,
                     nagents + 16, ncontacts + 16);
    for (int q = 0; q < 20; q++)
        n += snprintf(text + n, sizeof(text) - (size_t)n,
                      "  - {name: q%d, skills: {%s: 1}}\n", q,
                      q < 10 ? "s1" : "s2");
    snprintf(cfg, sizeof(cfg), "%s/ccrouted.yaml", bp_dir);
    FILE *f = fopen(cfg, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        bp_die("cannot write the configuration");

    /* the fill, by the engine itself */
    double tf = bp_now_ms();
    int port = bp_daemon_start(daemon, cfg);
    double hm;
    int hr;
    struct ccr_client *sw = bp_hello_until_serving(
        port, "pbx", CCROUTE__V1__ROLE__ROLE_SWITCH, &hm, &hr);
    char id[32];
    for (int b = 0; b < nagents; b += WINDOW) {
        int e = b + WINDOW < nagents ? b + WINDOW : nagents;
        for (int i = b; i < e; i++) {
            snprintf(id, sizeof(id), "a%06d", i);
            login(sw, id);
        }
        bp_acks(sw, e - b);
    }
    for (int b = 0; b < ncontacts; b += WINDOW) {
        int e = b + WINDOW < ncontacts ? b + WINDOW : ncontacts;
        for (int i = b; i < e; i++) {
            snprintf(id, sizeof(id), "c%07d", i);
            contact(sw, id, i);
        }
        bp_acks(sw, e - b);
    }
    ccr_client_close(sw);
    bp_daemon_stop();
    /* (journal: the count is checked by each start's Stats below) */
    if (journal() ? rint_("EXISTS %s", "ccr:{rec}:journal") != 1
                  : !written_back(ncontacts, nagents))
        bp_die("the fill left the wrong counts in redis");
    fprintf(stderr, "bench-recovery: filled %d contacts and %d agents "
            "(layout %s) in %.0f ms\n", ncontacts, nagents, layout,
            bp_now_ms() - tf);

    struct start st[99];
    struct rewrite rw = { -1, -1, -1, -1 };
    for (int r = 0; r < reps; r++) {
        struct ccr_client *mon;
        one_start(daemon, cfg, ncontacts, nagents, &st[r], &port, &mon);
        printf("start %d: %d contacts, %d agents: serving_ms %.1f load_ms "
               "%.1f load_calls %lld engine_stall_ms %.1f hello_max_ms %.1f "
               "hellos_during_load %d redis_cmds_per_object %.3f "
               "redis_cpu_ms %.0f engine_cpu_ms %.0f harness_cpu_ms %.0f\n",
               r + 1, ncontacts, nagents, st[r].serving, st[r].load,
               st[r].load_calls, st[r].stall, st[r].hello_max, st[r].hellos,
               st[r].cmds_per_obj, st[r].redis_cpu, st[r].engine_cpu,
               st[r].harness_cpu);
        fflush(stdout);
        if (r == reps - 1 && rewrite) {
            one_rewrite(ncontacts, nagents, &rw);
            printf("rewrite: rewrite_ms %.1f rewrite_redis_max_ms %.1f "
                   "redis_ping_max_ms %.1f rewrite_redis_cpu_ms %.0f\n",
                   rw.total, rw.redis_max, rw.ping_max, rw.redis_cpu);
        }
        ccr_client_close(mon);
        bp_daemon_stop();
    }
    double v[8][99];
    for (int r = 0; r < reps; r++) {
        v[0][r] = st[r].serving;
        v[1][r] = st[r].load;
        v[2][r] = st[r].stall;
        v[3][r] = st[r].hello_max;
        v[4][r] = st[r].cmds_per_obj;
        v[5][r] = st[r].redis_cpu;
        v[6][r] = st[r].engine_cpu;
        v[7][r] = st[r].harness_cpu;
    }
    double m[8];
    for (int k = 0; k < 8; k++)
        m[k] = median(v[k], reps);
    printf("median of %d: %d contacts, %d agents, layout %s: serving_ms "
           "%.1f load_ms %.1f load_calls %lld engine_stall_ms %.1f "
           "hello_max_ms %.1f redis_cmds_per_object %.3f redis_cpu_ms %.0f "
           "engine_cpu_ms %.0f harness_cpu_ms %.0f\n", reps, ncontacts,
           nagents, layout, m[0], m[1], st[0].load_calls, m[2], m[3], m[4],
           m[5], m[6], m[7]);
    if (json) {
        FILE *j = fopen(json, "w");
        if (!j)
            bp_die("cannot write %s", json);
        fprintf(j, "{\"layout\": \"%s\", "
                "\"contacts\": %d, \"agents\": %d, \"reps\": %d, "
                "\"load_chunk\": %d, \"serving_ms\": %.1f, \"load_ms\": %.1f, "
                "\"load_calls\": %lld, \"engine_stall_ms\": %.1f, "
                "\"hello_max_ms\": %.1f, \"redis_cmds_per_object\": %.3f, "
                "\"redis_cpu_ms\": %.0f, \"engine_cpu_ms\": %.0f, "
                "\"harness_cpu_ms\": %.0f, \"target_serving_ms\": 2000, "
                "\"rewrite_ms\": %.1f, \"rewrite_redis_max_ms\": %.1f, "
                "\"redis_ping_max_ms\": %.1f, \"rewrite_redis_cpu_ms\": "
                "%.0f}\n", layout, ncontacts, nagents, reps, chunk, m[0],
                m[1],
                st[0].load_calls, m[2], m[3], m[4], m[5], m[6], m[7],
                rw.total, rw.redis_max, rw.ping_max, rw.redis_cpu);
        fclose(j);
    }
    return 0;
}
