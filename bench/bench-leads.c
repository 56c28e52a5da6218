/* bench-leads.c -- a campaign of a million leads on the real engine: how
 * long LeadsAdd takes to load them (each Ack after Redis confirmed the
 * batch: durability redis), what they cost in memory, how long a
 * restarted engine takes to load them back from Redis, and how fast it
 * dials them.
 *
 * Everything is real: a private redis-server on a free loopback port and
 * BUILD/ccrouted on it (bench/benchproc.h). The harness is the admin (one
 * connection, up to --window LeadsAdd of --batch leads each in flight),
 * then the dialer and --agents agents. Leads "L<i>", numbers "+1<10
 * digits>", in four time zones (the calling window is the whole day).
 *
 *   load_s, leads_per_s   first LeadsAdd sent to last Ack;
 *   engine_rss_mb         the daemon's VmRSS after the load (/proc);
 *   redis_mb              INFO memory used_memory after the load;
 *   serving_ms            restart (SIGTERM, exec) until a Hello is taken;
 *   engine_cpu_ms         the daemon's CPU (user + sys, /proc) then, and
 *   redis_cpu_ms          Redis's (INFO cpu) from the exec to then: which
 *                         of the two the load waits for;
 *   hello_max_ms          the longest Hello round trip meanwhile (the
 *                         loop's longest stall as a client sees it);
 *   load_ms               the engine's own figure, from its log ("loaded
 *                         ... in N ms": lease acquired to the last object
 *                         loaded), with load_calls and engine_stall_ms
 *                         (the longest the loop stood still for one
 *                         reply of the load);
 *   dials_per_s           the campaign started (progressive, --agents
 *                         free agents): DialRequests answered NO_ANSWER
 *                         at once by the harness, over --run-s seconds
 *                         after the first; bounded by the pacing turn
 *                         (100 ms) times the free agents, so it is the
 *                         engine keeping up, not a ceiling;
 *   ping_max_ms           the longest Ping round trip on the admin
 *                         connection during the run.
 *
 * A figure, never a verdict. usage:
 *   bench-leads [--leads N] [--batch B] [--window W] [--agents A]
 *               [--run-s S] [--chunk K] [--daemon PATH]
 * (--chunk: the engine's redis.load_chunk, 0: its default, 1000).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchproc.h"
#include "client.h"

#define BODY(x) CCROUTE__V1__ENVELOPE__BODY_##x
#define T_MS 60000

static const char *const zones[4] = {
    "America/New_York", "Europe/Paris", "Asia/Tokyo", "Australia/Sydney",
};

static void leads_add(struct ccr_client *c, int first, int n)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__LeadsAdd m = CCROUTE__V1__LEADS_ADD__INIT;
    Ccroute__V1__Lead *ls = calloc((size_t)n, sizeof(*ls));
    Ccroute__V1__Lead **lp = calloc((size_t)n, sizeof(*lp));
    char (*ids)[16] = calloc((size_t)n, sizeof(*ids));
    char (*nums)[16] = calloc((size_t)n, sizeof(*nums));
    if (!ls || !lp || !ids || !nums)
        bp_die("out of memory");
    for (int i = 0; i < n; i++) {
        ccroute__v1__lead__init(&ls[i]);
        snprintf(ids[i], sizeof(ids[i]), "L%d", first + i);
        snprintf(nums[i], sizeof(nums[i]), "+1%010d", first + i);
        ls[i].lead_id = ids[i];
        ls[i].number = nums[i];
        ls[i].time_zone = (char *)zones[(first + i) % 4];
        lp[i] = &ls[i];
    }
    m.campaign = "big";
    m.leads = lp;
    m.n_leads = (size_t)n;
    env.body_case = BODY(LEADS_ADD);
    env.leads_add = &m;
    bp_send_env(c, &env);
    free(ls);
    free(lp);
    free(ids);
    free(nums);
}

static void upsert(struct ccr_client *c)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__CampaignUpsert m = CCROUTE__V1__CAMPAIGN_UPSERT__INIT;
    m.name = "big";
    m.queue = "q";
    m.dialer = "dlr";
    m.caller_id = "+15550000";
    m.window_start_hour = 0;
    m.window_end_hour = 24;
    m.max_attempts = 1;
    env.body_case = BODY(CAMPAIGN_UPSERT);
    env.campaign_upsert = &m;
    bp_send_env(c, &env);
    bp_acks(c, 1);
}

static void start(struct ccr_client *c)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__CampaignStart m = CCROUTE__V1__CAMPAIGN_START__INIT;
    m.campaign = "big";
    env.body_case = BODY(CAMPAIGN_START);
    env.campaign_start = &m;
    bp_send_env(c, &env);
    bp_acks(c, 1);
}

static void login(struct ccr_client *c, int i)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__AgentLogin li = CCROUTE__V1__AGENT_LOGIN__INIT;
    Ccroute__V1__AgentSkill sk = CCROUTE__V1__AGENT_SKILL__INIT;
    Ccroute__V1__AgentSkill *skp = &sk;
    char id[16];
    snprintf(id, sizeof(id), "a%d", i);
    sk.skill = "s";
    sk.level = 1;
    li.agent_id = id;
    li.skills = &skp;
    li.n_skills = 1;
    env.body_case = BODY(AGENT_LOGIN);
    env.agent_login = &li;
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

static double rss_mb(pid_t pid)
{
    char path[64], line[256];
    double kb = -1;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmRSS:", 6))
            kb = strtod(line + 6, NULL);
    fclose(f);
    return kb / 1024.0;
}

static double redis_cpu_ms(void)
{
    return (bp_info_num("cpu", "used_cpu_user") +
            bp_info_num("cpu", "used_cpu_sys")) * 1e3;
}

/* Answers every DialRequest that came NO_ANSWER (no wait); how many. */
static int answer_dials(struct ccr_client *dl, int timeout_ms)
{
    int n = 0;
    for (;;) {
        ccr_envelope *r = NULL;
        if (ccr_client_recv(dl, timeout_ms, &r) < 0 || !r)
            return n;
        timeout_ms = 0;
        if (r->body_case == BODY(DIAL_REQUEST)) {
            ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
            Ccroute__V1__DialResult m = CCROUTE__V1__DIAL_RESULT__INIT;
            m.dial_id = r->dial_request->dial_id;
            m.outcome = CCROUTE__V1__DIAL_OUTCOME__DIAL_OUTCOME_NO_ANSWER;
            env.body_case = BODY(DIAL_RESULT);
            env.dial_result = &m;
            bp_send_env(dl, &env);
            n++;
        } else if (r->body_case == BODY(ERROR)) {
            bp_die("dialer: %s", r->error->message);
        }
        ccr_free(r);
    }
}

int main(int argc, char **argv)
{
    int nleads = 1000000, batch = 1000, window = 8, nagents = 100, chunk = 0;
    double run_s = 10;
    char daemon[1024], cfg[300], text[2048], line[512];
    snprintf(daemon, sizeof(daemon), "%s", argv[0]);
    char *slash = strrchr(daemon, '/');
    snprintf(slash ? slash + 1 : daemon,
             sizeof(daemon) - (size_t)(slash ? slash + 1 - daemon : 0),
             "ccrouted");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--leads") && i + 1 < argc)
            nleads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--window") && i + 1 < argc)
            window = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--agents") && i + 1 < argc)
            nagents = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--run-s") && i + 1 < argc)
            run_s = atof(argv[++i]);
        else if (!strcmp(argv[i], "--chunk") && i + 1 < argc)
            chunk = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--daemon") && i + 1 < argc)
            snprintf(daemon, sizeof(daemon), "%s", argv[++i]);
        else {
            fprintf(stderr, "usage: bench-leads [--leads N] [--batch B] "
                    "[--window W] [--agents A] [--run-s S] [--chunk K] "
                    "[--daemon PATH]\n");
            return 2;
        }
    }
    if (nleads < 1 || batch < 1 || window < 1 || nagents < 1 || run_s <= 0 ||
        chunk < 0)
        bp_die("bad --leads, --batch, --window, --agents, --run-s or "
               "--chunk");
    bp_init("bench-leads");
    int rport = bp_redis_start();
    snprintf(text, sizeof(text),
             "log_level: info\n"
             "grace: 3600s\n"
             "max_frame: 1MiB\n"
             "redis:\n"
             "  enabled: true\n"
             "  port: %d\n"
             "  tenant: bl\n"
             "  load_chunk: %d\n"
             "routing: {offer_timeout: 60s, max_agents: %d}\n"
             "limits: {ping_interval: 0}\n"
             "skills: [s]\n"
             "queues:\n"
             "  - {name: q, skills: {s: 1}}\n",
             rport, chunk ? chunk : 1000, nagents + 16);
    snprintf(cfg, sizeof(cfg), "%s/ccrouted.yaml", bp_dir);
    FILE *f = fopen(cfg, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        bp_die("cannot write the configuration");

    /* the load: LeadsAdd, each Acked after Redis confirmed it */
    int port = bp_daemon_start(daemon, cfg);
    double hm;
    int hr;
    struct ccr_client *adm = bp_hello_until_serving(
        port, "adm", CCROUTE__V1__ROLE__ROLE_ADMIN, &hm, &hr);
    upsert(adm);
    double t0 = bp_now_ms();
    int sent = 0, inflight = 0;
    while (sent < nleads || inflight > 0) {
        while (sent < nleads && inflight < window) {
            int n = nleads - sent < batch ? nleads - sent : batch;
            leads_add(adm, sent, n);
            sent += n;
            inflight++;
        }
        bp_acks(adm, 1);
        inflight--;
    }
    double load_s = (bp_now_ms() - t0) / 1000.0;
    double rss = rss_mb(bp_daemon_pid);
    double rmem = bp_info_num("memory", "used_memory") / 1048576.0;
    printf("load: %d leads in %.2f s (%.0f leads/s, batches of %d, %d in "
           "flight): engine_rss_mb %.0f redis_mb %.0f\n", nleads, load_s,
           nleads / load_s, batch, window, rss, rmem);
    ccr_client_close(adm);

    /* the restart */
    bp_daemon_stop();
    double rcpu0 = redis_cpu_ms();
    t0 = bp_now_ms();
    port = bp_daemon_start(daemon, cfg);
    adm = bp_hello_until_serving(port, "adm", CCROUTE__V1__ROLE__ROLE_ADMIN,
                                 &hm, &hr);
    double serving = bp_now_ms() - t0;
    double ecpu = bp_proc_cpu_ms(bp_daemon_pid),
           rcpu = redis_cpu_ms() - rcpu0;
    if (!bp_log_line("contacts in", line, sizeof(line)))
        bp_die("no load line in the log");
    const char *p = strstr(line, " in ");
    printf("restart: serving_ms %.0f; engine: %s", serving,
           p ? p + 4 : line);
    if (!bp_log_line("outbound objects", line, sizeof(line)))
        bp_die("no outbound load line in the log");
    printf("  %s", strstr(line, "loaded") ? strstr(line, "loaded") : line);
    printf("  engine_cpu_ms %.0f redis_cpu_ms %.0f hello_max_ms %.1f "
           "engine_rss_mb %.0f after the load\n", ecpu, rcpu, hm,
           rss_mb(bp_daemon_pid));

    /* the run: progressive, every dial unanswered */
    struct ccr_client *desk = bp_hello_until_serving(
        port, "desk", CCROUTE__V1__ROLE__ROLE_AGENT, &hm, &hr);
    struct ccr_client *dl = bp_hello_until_serving(
        port, "dlr", CCROUTE__V1__ROLE__ROLE_DIALER, &hm, &hr);
    for (int i = 0; i < nagents; i++)
        login(desk, i);
    bp_acks(desk, nagents);
    start(adm);
    int dials = answer_dials(dl, T_MS);
    if (dials == 0)
        bp_die("no DialRequest");
    double pmax = 0, tr = bp_now_ms();
    dials = 0;
    while (bp_now_ms() - tr < run_s * 1000) {
        dials += answer_dials(dl, 100);
        double pt = ping(adm);
        if (pt > pmax)
            pmax = pt;
    }
    double dt = (bp_now_ms() - tr) / 1000.0;
    printf("run: %d dials in %.1f s (%.0f dials/s, %d free agents, "
           "progressive), ping_max_ms %.1f\n", dials, dt, dials / dt,
           nagents, pmax);
    ccr_client_close(dl);
    ccr_client_close(desk);
    ccr_client_close(adm);
    bp_daemon_stop();
    return 0;
}
