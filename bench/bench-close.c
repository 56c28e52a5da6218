/* bench-close.c -- how long the loop takes to come back after N agent
 * desks drop at once (a network blip), against a real ccrouted.
 *
 * It starts BUILD/ccrouted (Redis off, open mode on loopback, grace long
 * enough not to expire, max_contacts at its default of 100,000, max_agents
 * N + 16), opens N desk connections, each with Hello (role
 * agent) and an AgentLogin, and one monitor connection; then resets every
 * desk socket at once and measures, from just before the first close:
 *
 *   ping_after_close   until the monitor's Ping, sent right after the last
 *                      close, is answered (what a live client sees; the
 *                      Ping may be served before some closes are read);
 *   all_in_grace       until a Stats reply (sent back to back, no pause)
 *                      first reports every desk in its grace period
 *                      (Stats.clients_in_grace == N): an upper bound of the
 *                      time the loop spent on the N closes;
 *   harness_close      the harness's own cost: closing its N sockets (the
 *                      daemon works on the closes meanwhile, on another
 *                      core); `after_last_close` is ping_after_close
 *                      minus it: the wait a client sees once the blip is
 *                      over;
 *   ping_idle          a Ping round trip on the idle engine, before.
 *
 * A figure, never a verdict: it prints one line per run and the median of
 * --reps runs. Descriptors: both processes need N sockets; it raises its
 * soft RLIMIT_NOFILE to the hard limit (the daemon inherits it) and lowers
 * N to fit, saying so.
 *
 * usage: bench-close [-n N] [--reps R] [--daemon PATH] [--ping-only]
 * (--ping-only: no all_in_grace, for a daemon without
 * Stats.clients_in_grace, such as one from before the owner index)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

#define BODY(x) CCROUTE__V1__ENVELOPE__BODY_##x
#define BATCH 256
#define T_MS 60000

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *what)
{
    fprintf(stderr, "bench-close: %s\n", what);
    exit(1);
}

static int fit_desks(int want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return want;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)want + 256) {
        int n = rl.rlim_cur > 356 ? (int)rl.rlim_cur - 256 : 100;
        fprintf(stderr, "bench-close: descriptor limit %llu: %d desks "
                "instead of %d\n", (unsigned long long)rl.rlim_cur, n, want);
        return n;
    }
    return want;
}

/* Starts the daemon; returns its pid and port. */
static pid_t daemon_start(const char *path, int n, const char *dir,
                          int *port)
{
    char cfg[256], pf[256], log[256], text[1024];
    FILE *f;
    pid_t pid;

    snprintf(cfg, sizeof(cfg), "%s/ccrouted.yaml", dir);
    snprintf(pf, sizeof(pf), "%s/port", dir);
    snprintf(log, sizeof(log), "%s/ccrouted.log", dir);
    snprintf(text, sizeof(text),
             "log_level: warn\n"
             "grace: 600s\n"
             "redis: {enabled: false}\n"
             "routing: {offer_timeout: 60s, max_agents: %d}\n"
             "limits: {max_connections: %d, ping_interval: 0}\n"
             "skills: [s1]\n"
             "queues:\n  - {name: q1, skills: {s1: 1}}\n", n + 16, n + 16);
    if (!(f = fopen(cfg, "w")) || fputs(text, f) < 0 || fclose(f) != 0)
        die("cannot write the configuration");
    fflush(stdout);
    if ((pid = fork()) < 0)
        die("fork");
    if (pid == 0) {
        FILE *o = freopen(log, "w", stdout);
        (void)o;
        dup2(STDOUT_FILENO, STDERR_FILENO);
        execl(path, path, "--config", cfg, "--listen", "127.0.0.1:0",
              "--port-file", pf, (char *)NULL);
        _exit(127);
    }
    for (double end = now_ms() + 10000; now_ms() < end;) {
        if ((f = fopen(pf, "r"))) {
            int ok = fscanf(f, "%d", port) == 1;
            fclose(f);
            if (ok && *port > 0)
                return pid;
        }
        usleep(10000);          /* waiting for the daemon's port file */
    }
    kill(pid, SIGKILL);
    die("the daemon did not write its port");
    return -1;
}

static void send_env(struct ccr_client *c, ccr_envelope *env)
{
    env->request_id = 0;
    if (ccr_client_send(c, env) < 0)
        die("send failed");
}

static void hello(struct ccr_client *c, const char *name, int role)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Hello h = CCROUTE__V1__HELLO__INIT;
    h.client_name = (char *)name;
    h.role = (Ccroute__V1__Role)role;
    h.protocol_version = CCROUTE__V1__PROTOCOL_VERSION__PROTOCOL_VERSION_1;
    env.body_case = BODY(HELLO);
    env.hello = &h;
    send_env(c, &env);
}

static void login(struct ccr_client *c, const char *agent)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__AgentLogin li = CCROUTE__V1__AGENT_LOGIN__INIT;
    Ccroute__V1__AgentSkill sk = CCROUTE__V1__AGENT_SKILL__INIT;
    Ccroute__V1__AgentSkill *skp = &sk;
    sk.skill = "s1";
    sk.level = 1;
    li.agent_id = (char *)agent;
    li.skills = &skp;
    li.n_skills = 1;
    env.body_case = BODY(AGENT_LOGIN);
    env.agent_login = &li;
    send_env(c, &env);
}

/* Waits for the envelope answering request id (Pong, Stats or Ack). */
static ccr_envelope *answer(struct ccr_client *c, uint64_t id)
{
    for (;;) {
        ccr_envelope *r = NULL;
        if (ccr_client_recv(c, T_MS, &r) < 0 || !r)
            die("no answer");
        if (r->body_case == BODY(ERROR))
            die(r->error->message ? r->error->message : "error");
        if (r->request_id == id)
            return r;
        ccr_free(r);
    }
}

static double ping(struct ccr_client *c)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__Ping p = CCROUTE__V1__PING__INIT;
    double t = now_ms();
    env.body_case = BODY(PING);
    env.ping = &p;
    send_env(c, &env);
    ccr_free(answer(c, env.request_id));
    return now_ms() - t;
}

static uint32_t in_grace(struct ccr_client *c)
{
    ccr_envelope env = CCROUTE__V1__ENVELOPE__INIT;
    Ccroute__V1__StatsRequest sr = CCROUTE__V1__STATS_REQUEST__INIT;
    char *q = "q1";
    sr.queues = &q;
    sr.n_queues = 1;
    env.body_case = BODY(STATS_REQUEST);
    env.stats_request = &sr;
    send_env(c, &env);
    ccr_envelope *r = answer(c, env.request_id);
    uint32_t n = r->stats ? r->stats->clients_in_grace : 0;
    ccr_free(r);
    /* its Ack */
    ccr_free(answer(c, env.request_id));
    return n;
}

static int ping_only;

struct result {
    double ping_after, all_grace, harness, idle;
};

static void run_once(const char *daemon, int n, struct result *res)
{
    char dir[] = "/tmp/ccr-bench-close-XXXXXX", name[32];
    struct ccr_client **desks = calloc((size_t)n, sizeof(*desks)), *mon;
    int port, status;
    pid_t pid;

    if (!desks || !mkdtemp(dir))
        die("out of memory or no temporary directory");
    pid = daemon_start(daemon, n, dir, &port);
    if (ccr_client_connect("127.0.0.1", port, &mon) < 0)
        die("connect");
    hello(mon, "wall", CCROUTE__V1__ROLE__ROLE_MONITOR);
    for (int b = 0; b < n; b += BATCH) {
        int e = b + BATCH < n ? b + BATCH : n;
        for (int i = b; i < e; i++) {
            if (ccr_client_connect("127.0.0.1", port, &desks[i]) < 0)
                die("connect (descriptors?)");
            snprintf(name, sizeof(name), "desk-%d", i);
            hello(desks[i], name, CCROUTE__V1__ROLE__ROLE_AGENT);
            snprintf(name, sizeof(name), "agent-%d", i);
            login(desks[i], name);
        }
        for (int i = b; i < e; i++) {
            ccr_free(answer(desks[i], 1));
            ccr_free(answer(desks[i], 2));
        }
    }
    ccr_free(answer(mon, 1));
    res->idle = ping(mon);

    double t0 = now_ms();
    for (int i = 0; i < n; i++) {
        struct linger lg = { 1, 0 };
        setsockopt(ccr_client_fd(desks[i]), SOL_SOCKET, SO_LINGER, &lg,
                   sizeof(lg));
        ccr_client_close(desks[i]);
    }
    res->harness = now_ms() - t0;
    res->ping_after = ping(mon) + res->harness;
    while (!ping_only && in_grace(mon) < (uint32_t)n)
        if (now_ms() - t0 > T_MS)
            die("the desks never all reached their grace period");
    res->all_grace = now_ms() - t0;

    ccr_client_close(mon);
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench-close: could not remove %s\n", dir);
    free(desks);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int n = 10000, reps = 3;
    char daemon[1024];
    snprintf(daemon, sizeof(daemon), "%s", argv[0]);
    char *slash = strrchr(daemon, '/');
    snprintf(slash ? slash + 1 : daemon,
             sizeof(daemon) - (size_t)(slash ? slash + 1 - daemon : 0),
             "ccrouted");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ping-only"))
            ping_only = 1;
        else if (!strcmp(argv[i], "--daemon") && i + 1 < argc)
            snprintf(daemon, sizeof(daemon), "%s", argv[++i]);
        else {
            fprintf(stderr, "usage: bench-close [-n N] [--reps R] "
                    "[--daemon PATH] [--ping-only]\n");
            return 2;
        }
    }
    if (n < 1 || reps < 1 || reps > 99)
        die("bad -n or --reps");
    n = fit_desks(n);
    double pa[99], ag[99], ha[99], id[99], al[99];
    for (int r = 0; r < reps; r++) {
        struct result res;
        run_once(daemon, n, &res);
        pa[r] = res.ping_after;
        ag[r] = res.all_grace;
        ha[r] = res.harness;
        id[r] = res.idle;
        al[r] = res.ping_after - res.harness;
        printf("run %d: %d desks: ping_after_close %.1f ms, all_in_grace "
               "%.1f ms, harness_close %.1f ms, after_last_close %.1f ms, "
               "ping_idle %.3f ms\n", r + 1, n, res.ping_after,
               res.all_grace, res.harness, res.ping_after - res.harness,
               res.idle);
        fflush(stdout);
    }
    qsort(pa, (size_t)reps, sizeof(double), cmp);
    qsort(ag, (size_t)reps, sizeof(double), cmp);
    qsort(ha, (size_t)reps, sizeof(double), cmp);
    qsort(id, (size_t)reps, sizeof(double), cmp);
    qsort(al, (size_t)reps, sizeof(double), cmp);
    printf("median of %d: %d desks: ping_after_close %.1f ms, all_in_grace "
           "%.1f ms, harness_close %.1f ms, after_last_close %.1f ms, "
           "ping_idle %.3f ms\n", reps, n, pa[reps / 2], ag[reps / 2],
           ha[reps / 2], al[reps / 2], id[reps / 2]);
    return 0;
}
