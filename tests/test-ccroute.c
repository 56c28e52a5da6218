/* test-ccroute.c -- the admin command-line tool (tools/ccroute.c) against
 * the real daemon over real sockets.
 *
 * Each test runs build/ccroute as a separate process (through the
 * harness, stdout and stderr to files) against an engine with principals
 * (a monitor, an admin whose scope is the agents "a*", a switch) and an
 * HTTP listener that requires a token. What each command prints is
 * checked against what the engine says through the protocol at the same
 * moment (Stats read by the test's own connection), tables by their
 * lines and --json by parsing it with jansson; exit statuses 0, 1 and 2
 * are checked for the cases that produce them.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>

#include "e2e-util.h"
#include "harness.h"

#define T_MS E2E_T_MS
#define BODY(x) E2E_BODY(x)
#define ROLE(x) E2E_ROLE(x)
#define TOKEN(p) ("ccroute-token-" p "-0123456789abcdef")
#define RUN_MS 20000

struct fx {
    struct e2e_env *env;
    int http_port;
    char dir[256];
    char tok_mon[300], tok_adm[300], tok_sw[300], tok_bad[300];
    char out_path[300], err_path[300];
    char out[65536], err[8192];
    struct e2e_client sw;       /* the test's switch (CTI for its agents) */
    struct e2e_client mon;      /* the test's monitor (every Stats) */
};

static const char *build_dir(void)
{
    const char *b = getenv("CCROUTE_BUILD");
    return b && *b ? b : "build";
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t n = 0;
    if (f) {
        n = fread(buf, 1, cap - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
}

/* Builds `sh -c 'exec "$@" >OUT 2>ERR' sh ccroute ARGS...` so that
 * stdout and stderr land in files of their own. */
static int build_argv(struct fx *fx, const char **argv, size_t cap,
                      char *script, size_t slen, char *exe, size_t elen,
                      const char *first, va_list ap)
{
    size_t n = 0;
    const char *a;
    snprintf(script, slen, "exec \"$@\" >%s 2>%s", fx->out_path,
             fx->err_path);
    snprintf(exe, elen, "%s/ccroute", build_dir());
    argv[n++] = "sh";
    argv[n++] = "-c";
    argv[n++] = script;
    argv[n++] = "sh";
    argv[n++] = exe;
    for (a = first; a; a = va_arg(ap, const char *)) {
        assert_true(n + 1 < cap);
        argv[n++] = a;
    }
    argv[n] = NULL;
    return (int)n;
}

/* Runs ccroute with the arguments (NULL-terminated) to completion;
 * fx->out and fx->err hold what it printed. Returns its exit status. */
static int cli(struct fx *fx, const char *first, ...)
{
    const char *argv[64];
    char script[800], exe[300];
    va_list ap;
    int rc;
    va_start(ap, first);
    build_argv(fx, argv, 64, script, sizeof(script), exe, sizeof(exe),
               first, ap);
    va_end(ap);
    rc = harness_run(argv, NULL, RUN_MS);
    slurp(fx->out_path, fx->out, sizeof(fx->out));
    slurp(fx->err_path, fx->err, sizeof(fx->err));
    return rc;
}

/* The same, started in the background (the test acts while it waits). */
static void cli_start(struct fx *fx, struct harness_proc *p,
                      const char *first, ...)
{
    const char *argv[64];
    char script[800], exe[300];
    va_list ap;
    va_start(ap, first);
    build_argv(fx, argv, 64, script, sizeof(script), exe, sizeof(exe),
               first, ap);
    va_end(ap);
    assert_int_equal(harness_proc_start(p, argv, NULL, false), 0);
}

static int cli_wait(struct fx *fx, struct harness_proc *p)
{
    int rc = harness_proc_wait(p, RUN_MS);
    slurp(fx->out_path, fx->out, sizeof(fx->out));
    slurp(fx->err_path, fx->err, sizeof(fx->err));
    return rc;
}

static json_t *out_json(struct fx *fx)
{
    json_error_t je;
    json_t *j = json_loads(fx->out, 0, &je);
    if (!j)
        fail_msg("not JSON (%s): %s", je.text, fx->out);
    return j;
}

static char port_arg[32], http_arg[32];

static const char *engine(struct fx *fx)
{
    snprintf(port_arg, sizeof(port_arg), "127.0.0.1:%d", fx->env->d.port);
    return port_arg;
}

static const char *http(struct fx *fx)
{
    snprintf(http_arg, sizeof(http_arg), "127.0.0.1:%d", fx->http_port);
    return http_arg;
}

/* ---- fixture ---- */

struct cfg_arg {
    int http_port;
};

static void config_text(char *buf, size_t len, int redis_port,
                        const void *arg)
{
    const struct cfg_arg *a = arg;
    char m[65], ad[65], s[65];
    e2e_token_hex(TOKEN("mon"), m);
    e2e_token_hex(TOKEN("adm"), ad);
    e2e_token_hex(TOKEN("sw"), s);
    snprintf(buf, len,
        "log_level: info\n"
        "routing: {offer_timeout: 60s, max_agents: 100, max_contacts: 1000}\n"
        "skills: [sales, support]\n"
        "queues:\n"
        "  - name: sales\n"
        "    skills: {sales: 1}\n"
        "    service_level: {percent: 80, seconds: 20}\n"
        "  - name: support\n"
        "    skills: {support: 1}\n"
        "principals:\n"
        "  - {name: mon, token_sha256: %s, roles: [monitor],"
        " clients: [\"ccroute-*\", \"mon-test\"]}\n"
        "  - {name: adm, token_sha256: %s, roles: [admin],"
        " clients: [\"ccroute-*\"], agents: [\"a*\"]}\n"
        "  - {name: sw, token_sha256: %s, roles: [switch],"
        " clients: [\"sw-*\", \"ccroute-*\"], agents: [\"*\"]}\n"
        "http:\n"
        "  listen: 127.0.0.1:%d\n"
        "  require_token: true\n",
        m, ad, s, a->http_port);
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    struct cfg_arg a;
    void *env = NULL;
    char tok[256];
    int rc;

    if (!fx)
        return -1;
    fx->http_port = harness_free_port();
    a.http_port = fx->http_port;
    if (fx->http_port <= 0 || harness_tmpdir(fx->dir, sizeof(fx->dir),
                                             "ccroute-cli") < 0 ||
        e2e_env_start(&env, false, config_text, &a)) {
        free(fx);
        return -1;
    }
    fx->env = env;
    snprintf(fx->tok_mon, sizeof(fx->tok_mon), "%s/mon.token", fx->dir);
    snprintf(fx->tok_adm, sizeof(fx->tok_adm), "%s/adm.token", fx->dir);
    snprintf(fx->tok_sw, sizeof(fx->tok_sw), "%s/sw.token", fx->dir);
    snprintf(fx->tok_bad, sizeof(fx->tok_bad), "%s/bad.token", fx->dir);
    snprintf(fx->out_path, sizeof(fx->out_path), "%s/out", fx->dir);
    snprintf(fx->err_path, sizeof(fx->err_path), "%s/err", fx->dir);
    snprintf(tok, sizeof(tok), "%s\n", TOKEN("mon"));
    write_file(fx->tok_mon, tok, 0600);
    snprintf(tok, sizeof(tok), "%s\n", TOKEN("adm"));
    write_file(fx->tok_adm, tok, 0600);
    snprintf(tok, sizeof(tok), "%s\n", TOKEN("sw"));
    write_file(fx->tok_sw, tok, 0600);
    write_file(fx->tok_bad, "not-the-token-0123456789\n", 0600);

    /* The test's own switch: it logs agents in (CTI) and gets their
     * offers. */
    if (e2e_open(&fx->sw, fx->env->d.port) < 0)
        return -1;
    rc = ccr_client_hello_cred(fx->sw.c, "sw-test", ROLE(SWITCH), 0,
                               TOKEN("sw"), T_MS);
    if (rc != 0)
        return -1;
    if (e2e_open(&fx->mon, fx->env->d.port) < 0 ||
        ccr_client_hello_cred(fx->mon.c, "mon-test", ROLE(MONITOR), 0,
                              TOKEN("mon"), T_MS) != 0)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    void *env;
    int rc;
    if (!fx)
        return -1;
    e2e_close(&fx->sw);
    e2e_close(&fx->mon);
    env = fx->env;
    rc = e2e_env_teardown(&env);
    harness_rm_rf(fx->dir);
    free(fx);
    return rc;
}

/* ---- usage and credentials ---- */

static void test_usage(void **state)
{
    struct fx *fx = *state;

    assert_int_equal(cli(fx, NULL), 2);
    assert_non_null(strstr(fx->err, "no command given"));
    assert_int_equal(cli(fx, "frobnicate", NULL), 2);
    assert_non_null(strstr(fx->err, "unknown command \"frobnicate\""));
    assert_int_equal(cli(fx, "agent", NULL), 2);
    assert_non_null(strstr(fx->err, "usage: ccroute agent logout"));
    assert_int_equal(cli(fx, "agent", "set", "a1", "away", NULL), 2);
    assert_int_equal(cli(fx, "agent", "set", "a1", "busy", NULL), 2);
    assert_int_equal(cli(fx, "agent", "set", "a1", "available", "x", NULL),
                     2);
    assert_int_equal(cli(fx, "queues", "--count", "2", NULL), 2);
    assert_non_null(strstr(fx->err, "option not valid"));
    assert_int_equal(cli(fx, "send", NULL), 2);
    assert_int_equal(cli(fx, "send", "--queue", "sales", "--priority",
                         "101", NULL), 2);
    assert_int_equal(cli(fx, "--engine", "nowhere", "status", NULL), 2);
    assert_int_equal(cli(fx, "status", "extra", NULL), 2);
    assert_int_equal(cli(fx, "--bogus", NULL), 2);
    assert_int_equal(cli(fx, "config", "check", NULL), 2);
    /* contact show without --http: the protocol cannot look it up */
    assert_int_equal(cli(fx, "-T", fx->tok_mon, "-e", engine(fx),
                         "contact", "show", "c1", NULL), 2);
    assert_non_null(strstr(fx->err, "needs --http"));

    /* --help: the whole tool, and each command's own */
    assert_int_equal(cli(fx, "--help", NULL), 0);
    assert_non_null(strstr(fx->out, "usage: ccroute [options] COMMAND"));
    assert_string_equal(fx->err, "");
    static const char *const cmds[][2] = {
        { "status", NULL }, { "queues", NULL }, { "agents", NULL },
        { "contact", "show" }, { "agent", "set" }, { "agent", "logout" },
        { "send", NULL }, { "watch", NULL }, { "config", "check" },
        { "config", "reload" }, { "drain", NULL },
    };
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        char want[64];
        snprintf(want, sizeof(want), "usage: ccroute %s%s%s", cmds[i][0],
                 cmds[i][1] ? " " : "", cmds[i][1] ? cmds[i][1] : "");
        if (!strcmp(cmds[i][0], "contact"))
            snprintf(want, sizeof(want), "contact show ID");
        if (cmds[i][1])
            assert_int_equal(cli(fx, cmds[i][0], cmds[i][1], "--help", NULL),
                             0);
        else
            assert_int_equal(cli(fx, cmds[i][0], "--help", NULL), 0);
        if (!strstr(fx->out, want))
            fail_msg("%s --help: no \"%s\" in:\n%s", cmds[i][0], want,
                     fx->out);
    }
}

static void test_credentials(void **state)
{
    struct fx *fx = *state;

    /* a wrong token, and none: refused by the engine, exit 1 */
    assert_int_equal(cli(fx, "-T", fx->tok_bad, "-e", engine(fx), "status",
                         NULL), 1);
    assert_non_null(strstr(fx->err, "refused the credential"));
    assert_int_equal(cli(fx, "-e", engine(fx), "queues", NULL), 1);
    assert_non_null(strstr(fx->err, "refused the credential"));
    /* a right token on the HTTP side too, else 401 */
    assert_int_equal(cli(fx, "-T", fx->tok_sw, "-e", engine(fx), "--http",
                         http(fx), "contact", "show", "x", NULL), 1);
    assert_non_null(strstr(fx->err, "403"));
    /* a switch may not read every agent: its Hello as monitor is refused */
    assert_int_equal(cli(fx, "-T", fx->tok_sw, "-e", engine(fx), "agents",
                         NULL), 1);
    assert_non_null(strstr(fx->err, "may not connect"));
    /* the monitor may not change an agent */
    assert_int_equal(cli(fx, "-T", fx->tok_mon, "-e", engine(fx), "agent",
                         "logout", "a1", NULL), 1);
    /* nothing listens: exit 1 */
    assert_int_equal(cli(fx, "-T", fx->tok_mon, "-e", "127.0.0.1:1",
                         "status", NULL), 1);
    assert_non_null(strstr(fx->err, "cannot connect"));
    /* a token file that does not exist */
    assert_int_equal(cli(fx, "-T", "/nonexistent/t", "-e", engine(fx),
                         "status", NULL), 2);
}

/* ---- reading ---- */

static void test_status(void **state)
{
    struct fx *fx = *state;
    ccr_envelope *st;
    json_t *j;
    char line[128];

    assert_int_equal(e2e_agent_login(&fx->sw, "a1", "sales", 5, 1, 0), 0);
    assert_int_equal(e2e_contact(&fx->sw, "s1", "support", E2E_VOICE), 0);
    st = e2e_stats(&fx->mon);

    assert_int_equal(cli(fx, "-T", fx->tok_mon, "-e", engine(fx), "status",
                         NULL), 0);
    snprintf(line, sizeof(line), "contacts waiting  %u\n",
             st->stats->contacts_waiting);
    assert_non_null(strstr(fx->out, line));
    snprintf(line, sizeof(line), "agents logged in  %u\n",
             st->stats->agents_logged_in);
    assert_non_null(strstr(fx->out, line));
    assert_null(strstr(fx->out, "lease role"));     /* no --http */

    assert_int_equal(cli(fx, "-T", fx->tok_mon, "-e", engine(fx), "--http",
                         http(fx), "--json", "status", NULL), 0);
    j = out_json(fx);
    assert_int_equal(json_integer_value(json_object_get(j,
                     "contacts_waiting")), st->stats->contacts_waiting);
    assert_int_equal(json_integer_value(json_object_get(j,
                     "agents_logged_in")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "queues")),
                     st->stats->n_queues);
    assert_true(json_is_true(json_object_get(j, "ready")));
    assert_string_equal(json_string_value(json_object_get(j, "lease_role")),
                        "owner");
    /* the test's switch is connected while the command runs */
    assert_true(json_integer_value(json_object_get(
        json_object_get(j, "connections"), "switch")) >= 1);
    json_decref(j);

    /* the table with --http */
    assert_int_equal(cli(fx, "-T", fx->tok_adm, "-e", engine(fx), "--http",
                         http(fx), "status", NULL), 0);
    assert_non_null(strstr(fx->out, "ready             yes\n"));
    assert_non_null(strstr(fx->out, "lease role        owner"));
    assert_non_null(strstr(fx->out, "switch=1"));
    ccr_free(st);
}

static void test_queues_agents(void **state)
{
    struct fx *fx = *state;
    ccr_envelope *st;
    json_t *j, *qs;
    size_t i;
    json_t *q;

    assert_int_equal(e2e_contact(&fx->sw, "q1", "support", E2E_VOICE), 0);
    assert_int_equal(e2e_contact(&fx->sw, "q2", "support", E2E_CHAT), 0);
    assert_int_equal(e2e_agent_login(&fx->sw, "a2", "sales", 5, 1, 0), 0);
    assert_int_equal(e2e_agent_login(&fx->sw, "b7", "sales", 5, 1, 0), 0);
    st = e2e_stats(&fx->mon);

    /* --json against the protocol's Stats */
    assert_int_equal(cli(fx, "-T", fx->tok_mon, "-e", engine(fx), "queues",
                         "--json", NULL), 0);
    j = out_json(fx);
    qs = json_object_get(j, "queues");
    assert_int_equal(json_array_size(qs), st->stats->n_queues);
    json_array_foreach(qs, i, q) {
        const Ccroute__V1__QueueStats *want = st->stats->queues[i];
        assert_string_equal(json_string_value(json_object_get(q, "name")),
                            want->queue);
        assert_int_equal(json_integer_value(json_object_get(q, "waiting")),
                         want->waiting);
        assert_int_equal(json_integer_value(json_object_get(q, "offered")),
                         want->offered);
        assert_int_equal(json_integer_value(json_object_get(q,
                         "agents_available")), want->agents_available);
    }
    json_decref(j);

    /* the table: one line per queue, its waiting count after the name;
     * a queue named on the line narrows it; an admin token reads too */
    assert_int_equal(cli(fx, "-T", fx->tok_adm, "-e", engine(fx), "queues",
                         "support", NULL), 0);
    assert_non_null(strstr(fx->out, "QUEUE"));
    assert_null(strstr(fx->out, "\nsales "));
    {
        unsigned w = 0;
        const char *l = strstr(fx->out, "\nsupport ");
        assert_non_null(l);
        assert_int_equal(sscanf(l, "\nsupport %u", &w), 1);
        assert_int_equal(w, 2);
    }
    /* a queue that does not exist: the engine's refusal, exit 1 */
    assert_int_equal(cli(fx, "-T", fx->tok_mon, "-e", engine(fx), "queues",
                         "nosuch", NULL), 1);
    assert_non_null(strstr(fx->err, "UNKNOWN_QUEUE"));

    /* agents */
    assert_int_equal(cli(fx, "-T", fx->tok_mon, "-e", engine(fx), "agents",
                         "-j", NULL), 0);
    j = out_json(fx);
    qs = json_object_get(j, "agents");
    assert_int_equal(json_array_size(qs), st->stats->n_agents);
    json_array_foreach(qs, i, q) {
        const Ccroute__V1__AgentStats *a = e2e_stats_agent(st,
            json_string_value(json_object_get(q, "id")));
        assert_non_null(a);
        assert_string_equal(json_string_value(json_object_get(q, "status")),
                            "available");
    }
    json_decref(j);
    assert_int_equal(cli(fx, "-T", fx->tok_mon, "-e", engine(fx), "agents",
                         NULL), 0);
    assert_non_null(strstr(fx->out, "\na2 "));
    assert_non_null(strstr(fx->out, "\nb7 "));
    ccr_free(st);
}

/* ---- changing agents ---- */

static void test_agent_set_logout(void **state)
{
    struct fx *fx = *state;
    ccr_envelope *st;
    const Ccroute__V1__AgentStats *a;
    json_t *j;

    assert_int_equal(e2e_agent_login(&fx->sw, "a3", "sales", 5, 1, 0), 0);
    assert_int_equal(e2e_agent_login(&fx->sw, "b3", "sales", 5, 1, 0), 0);

    assert_int_equal(cli(fx, "-T", fx->tok_adm, "-e", engine(fx), "agent",
                         "set", "a3", "away", "lunch", NULL), 0);
    assert_non_null(strstr(fx->out, "AgentState a3: ok"));
    st = e2e_stats(&fx->mon);
    a = e2e_stats_agent(st, "a3");
    assert_non_null(a);
    assert_int_equal(a->status, CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AWAY);
    assert_string_equal(a->reason, "lunch");
    ccr_free(st);

    assert_int_equal(cli(fx, "-T", fx->tok_adm, "-e", engine(fx), "--json",
                         "agent", "set", "a3", "available", NULL), 0);
    j = out_json(fx);
    assert_true(json_is_true(json_object_get(j, "ok")));
    json_decref(j);
    st = e2e_stats(&fx->mon);
    a = e2e_stats_agent(st, "a3");
    assert_int_equal(a->status,
                     CCROUTE__V1__AGENT_STATUS__AGENT_STATUS_AVAILABLE);
    ccr_free(st);

    /* outside the admin's scope (agents "a*"): FORBIDDEN, exit 1 */
    assert_int_equal(cli(fx, "-T", fx->tok_adm, "-e", engine(fx), "agent",
                         "set", "b3", "away", "x", NULL), 1);
    assert_non_null(strstr(fx->err, "FORBIDDEN"));
    assert_int_equal(cli(fx, "-T", fx->tok_adm, "-e", engine(fx), "agent",
                         "logout", "b3", NULL), 1);

    assert_int_equal(cli(fx, "-T", fx->tok_adm, "-e", engine(fx), "agent",
                         "logout", "a3", NULL), 0);
    st = e2e_stats(&fx->mon);
    assert_null(e2e_stats_agent(st, "a3"));
    assert_non_null(e2e_stats_agent(st, "b3"));
    ccr_free(st);
    /* not logged in any more */
    assert_int_equal(cli(fx, "-T", fx->tok_adm, "-e", engine(fx), "agent",
                         "logout", "a3", NULL), 1);
    assert_non_null(strstr(fx->err, "UNKNOWN_AGENT"));
}

/* ---- send, contact show ---- */

static void test_send_contact_show(void **state)
{
    struct fx *fx = *state;
    struct harness_proc p;
    ccr_envelope *offer;
    json_t *j;

    /* no agent for support: queued, position 1 */
    assert_int_equal(cli(fx, "-T", fx->tok_sw, "-e", engine(fx), "send",
                         "--queue", "support", "--id", "t1", "--json",
                         NULL), 0);
    j = out_json(fx);
    assert_string_equal(json_string_value(json_object_get(j, "contact_id")),
                        "t1");
    assert_string_equal(json_string_value(json_object_get(j, "status")),
                        "queued");
    assert_int_equal(json_integer_value(json_object_get(j, "position")), 1);
    assert_true(json_is_true(json_object_get(j, "unservable")));
    json_decref(j);

    /* t1 lives on in its sender's grace period: contact show finds it */
    assert_int_equal(cli(fx, "-T", fx->tok_mon, "-e", engine(fx), "--http",
                         http(fx), "contact", "show", "t1", "--json", NULL),
                     0);
    j = out_json(fx);
    assert_string_equal(json_string_value(json_object_get(j, "state")),
                        "queued");
    assert_string_equal(json_string_value(json_object_get(j, "queue")),
                        "support");
    json_decref(j);
    assert_int_equal(cli(fx, "-T", fx->tok_mon, "-e", engine(fx), "--http",
                         http(fx), "contact", "show", "nosuch", NULL), 1);
    assert_non_null(strstr(fx->err, "no live contact"));

    /* --wait-assigned: the test's agent gets the offer and accepts it
     * while the command waits */
    assert_int_equal(e2e_agent_login(&fx->sw, "a5", "sales", 5, 1, 0), 0);
    cli_start(fx, &p, "-T", fx->tok_sw, "-e", engine(fx), "send", "--queue",
              "sales", "--id", "t2", "--wait-assigned", "--attr", "k=v",
              NULL);
    offer = e2e_wait_offer(&fx->sw, "t2", T_MS);
    assert_non_null(offer);
    assert_string_equal(offer->offer->agent_id, "a5");
    assert_int_equal(e2e_simple(&fx->sw, BODY(OFFER_ACCEPTED), "t2", "a5"),
                     0);
    ccr_free(offer);
    assert_int_equal(cli_wait(fx, &p), 0);
    assert_non_null(strstr(fx->out, "contact t2 queued in sales"));
    assert_non_null(strstr(fx->out, "contact t2 assigned to agent a5"));

    assert_int_equal(cli(fx, "-T", fx->tok_adm, "-e", engine(fx), "--http",
                         http(fx), "contact", "show", "t2", NULL), 0);
    assert_non_null(strstr(fx->out, "state        \"assigned\"") ||
                    strstr(fx->out, "state        assigned"));
    assert_non_null(strstr(fx->out, "agent        a5"));

    /* --abandon ends it before the command exits */
    assert_int_equal(cli(fx, "-T", fx->tok_sw, "-e", engine(fx), "send",
                         "--queue", "support", "--id", "t3", "--abandon",
                         NULL), 0);
    assert_int_equal(cli(fx, "-T", fx->tok_mon, "-e", engine(fx), "--http",
                         http(fx), "contact", "show", "t3", NULL), 1);

    /* the engine's refusal of the contact: exit 1 with its code */
    assert_int_equal(cli(fx, "-T", fx->tok_sw, "-e", engine(fx), "send",
                         "--queue", "nosuch", NULL), 1);
    assert_non_null(strstr(fx->err, "UNKNOWN_QUEUE"));
}

/* ---- watch ---- */

static void test_watch(void **state)
{
    struct fx *fx = *state;
    char *line, *save = NULL;
    int n = 0;

    assert_int_equal(e2e_contact(&fx->sw, "w1", "support", E2E_VOICE), 0);
    assert_int_equal(cli(fx, "-T", fx->tok_mon, "-e", engine(fx), "watch",
                         "--count", "3", "--interval", "100", "--json",
                         NULL), 0);
    for (line = strtok_r(fx->out, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        json_error_t je;
        json_t *j = json_loads(line, 0, &je), *q;
        size_t i;
        bool seen = false;
        assert_non_null(j);
        json_array_foreach(json_object_get(j, "queues"), i, q)
            if (!strcmp(json_string_value(json_object_get(q, "name")),
                        "support")) {
                assert_true(json_integer_value(json_object_get(q,
                            "waiting")) >= 1);
                seen = true;
            }
        assert_true(seen);
        json_decref(j);
        n++;
    }
    assert_int_equal(n, 3);

    /* the table view, not on a terminal: one block per refresh */
    assert_int_equal(cli(fx, "-T", fx->tok_mon, "-e", engine(fx), "watch",
                         "--count", "2", "--interval", "100", NULL), 0);
    {
        const char *p = fx->out;
        int blocks = 0;
        while ((p = strstr(p, "ccroute watch "))) {
            blocks++;
            p++;
        }
        assert_int_equal(blocks, 2);
    }
    assert_non_null(strstr(fx->out, "\nsupport "));
}

/* ---- config ---- */

static void test_config(void **state)
{
    struct fx *fx = *state;
    char good[320], bad[320], log[320], exe[300];
    char ccroute_err[8192], ccrouted_err[8192];

    snprintf(good, sizeof(good), "%s/good.yaml", fx->dir);
    snprintf(bad, sizeof(bad), "%s/bad.yaml", fx->dir);
    write_file(good, "listen: 127.0.0.1:0\nskills: [a]\n"
               "queues:\n  - {name: q, skills: {a: 1}}\n", 0600);
    write_file(bad, "listen: 127.0.0.1:0\nskills: [a]\n"
               "queues:\n  - {name: q, skills: {a: 1}, "
               "strategy: fastest}\n", 0600);

    assert_int_equal(cli(fx, "config", "check", good, NULL), 0);
    assert_string_equal(fx->out, "OK\n");
    assert_int_equal(cli(fx, "config", "check", good, "--json", NULL), 0);
    {
        json_t *j = out_json(fx);
        assert_true(json_is_true(json_object_get(j, "ok")));
        json_decref(j);
    }
    assert_int_equal(cli(fx, "config", "check", bad, NULL), 1);
    assert_non_null(strstr(fx->err, "bad.yaml:4:"));
    assert_non_null(strstr(fx->err, "unknown strategy"));
    snprintf(ccroute_err, sizeof(ccroute_err), "%s", fx->err);

    /* word for word what ccrouted --check-config says */
    snprintf(log, sizeof(log), "%s/ccrouted.err", fx->dir);
    snprintf(exe, sizeof(exe), "%s/ccrouted", build_dir());
    {
        const char *argv[] = { exe, "--config", bad, "--check-config", NULL };
        assert_int_equal(harness_run(argv, log, RUN_MS), 1);
    }
    slurp(log, ccrouted_err, sizeof(ccrouted_err));
    assert_string_equal(ccroute_err, ccrouted_err);

    /* the engine's own listen address is taken: refused as the daemon
     * would be */
    {
        char busy[320], text[256];
        snprintf(busy, sizeof(busy), "%s/busy.yaml", fx->dir);
        snprintf(text, sizeof(text), "listen: 127.0.0.1:%d\n",
                 fx->env->d.port);
        write_file(busy, text, 0600);
        assert_int_equal(cli(fx, "config", "check", busy, NULL), 1);
        assert_non_null(strstr(fx->err, "Address already in use"));
    }
    assert_int_equal(cli(fx, "config", "check", "/nonexistent.yaml", NULL),
                     1);

    /* reload: the engine's file, unchanged, applies as the next
     * generation (test-reload checks what a reload changes); a monitor
     * may not reload */
    assert_int_equal(cli(fx, "-T", fx->tok_adm, "-e", engine(fx), "config",
                         "reload", NULL), 0);
    assert_string_equal(fx->out, "reloaded: configuration generation 2\n");
    assert_int_equal(cli(fx, "-T", fx->tok_adm, "-e", engine(fx), "--json",
                         "config", "reload", NULL), 0);
    {
        json_t *j = out_json(fx);
        assert_int_equal(json_integer_value(json_object_get(j, "generation")),
                         3);
        json_decref(j);
    }
    assert_int_equal(cli(fx, "-T", fx->tok_mon, "-e", engine(fx), "--role",
                         "monitor", "config", "reload", NULL), 1);
    assert_non_null(strstr(fx->err, "ConfigReload refused: FORBIDDEN"));
}

/* drain: admin only; afterwards new contacts are refused with a
 * retryable STATE_UNAVAILABLE, a re-sent one is still answered, routing
 * and the rest go on, status and Stats say so; the teardown's SIGTERM
 * must still end in exit 0. */
static void test_drain(void **state)
{
    struct fx *fx = *state;
    ccr_envelope *st, *of;
    char msg[256];
    json_t *j;

    assert_int_equal(e2e_contact(&fx->sw, "d0", "sales", E2E_VOICE), 0);
    assert_int_equal(cli(fx, "-T", fx->tok_mon, "-e", engine(fx), "status",
                         NULL), 0);
    assert_non_null(strstr(fx->out, "draining          no\n"));

    /* a monitor may not drain */
    assert_int_equal(cli(fx, "-T", fx->tok_mon, "-e", engine(fx), "--role",
                         "monitor", "drain", NULL), 1);
    st = e2e_stats(&fx->mon);
    assert_false(st->stats->draining);
    ccr_free(st);

    assert_int_equal(cli(fx, "-T", fx->tok_adm, "-e", engine(fx), "drain",
                         NULL), 0);
    assert_non_null(strstr(fx->out, "draining: new contacts are refused"));

    /* a new contact: refused, retryable, nothing kept */
    uint64_t id = e2e_send_contact(&fx->sw, "d1", "sales", E2E_VOICE);
    assert_true(id != 0);
    assert_int_equal(e2e_reply_msg(&fx->sw, id, T_MS, msg, sizeof(msg)),
                     E2E_EC(STATE_UNAVAILABLE));
    assert_non_null(strstr(msg, "draining"));
    /* the contact it holds: a re-send is answered, and it is routed */
    assert_int_equal(e2e_contact(&fx->sw, "d0", "sales", E2E_VOICE), 0);
    assert_int_equal(e2e_agent_login(&fx->sw, "a5", "sales", 5, 1, 0), 0);
    of = e2e_wait_offer(&fx->sw, "d0", T_MS);
    assert_non_null(of);
    ccr_free(of);
    assert_int_equal(e2e_simple(&fx->sw, BODY(OFFER_ACCEPTED), "d0", "a5"),
                     0);

    st = e2e_stats(&fx->mon);
    assert_true(st->stats->draining);
    assert_int_equal(st->stats->contacts_waiting, 0);
    ccr_free(st);
    assert_int_equal(cli(fx, "-T", fx->tok_mon, "-e", engine(fx), "status",
                         NULL), 0);
    assert_non_null(strstr(fx->out, "draining          yes"));
    assert_int_equal(cli(fx, "-T", fx->tok_mon, "-e", engine(fx), "--json",
                         "status", NULL), 0);
    j = out_json(fx);
    assert_true(json_is_true(json_object_get(j, "draining")));
    json_decref(j);
    /* /readyz says not ready, with the reason, so that a load balancer
     * sends new contacts elsewhere */
    assert_int_equal(cli(fx, "-T", fx->tok_mon, "-e", engine(fx), "--http",
                         http(fx), "--json", "status", NULL), 0);
    j = out_json(fx);
    assert_false(json_is_true(json_object_get(j, "ready")));
    assert_non_null(strstr(json_string_value(json_object_get(j, "readyz")),
                           "draining"));
    json_decref(j);
    /* draining twice is no error */
    assert_int_equal(cli(fx, "-T", fx->tok_adm, "-e", engine(fx), "--json",
                         "drain", NULL), 0);
    j = out_json(fx);
    assert_true(json_is_true(json_object_get(j, "draining")));
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_usage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credentials, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queues_agents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_set_logout, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_send_contact_show, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_watch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drain, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
