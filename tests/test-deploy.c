/* test-deploy.c -- the deployment files of deploy/ (deploy/README.md),
 * checked with the tools that can check them here, since there is no
 * container engine or cluster to run them in:
 *
 * - the systemd units with `systemd-analyze verify` (ExecStart pointed at
 *   this build's binaries), which must pass without a word of output:
 *   it exits 0 on a directive it ignores, so silence is the check;
 * - the alert rules with `promtool check rules`, and their behaviour with
 *   `promtool test rules` on sample series; the Prometheus configuration
 *   with `promtool check config`;
 * - every ccroute_* metric that the Grafana dashboard and the alert rules
 *   query, against the families that a real ccrouted's /metrics lists;
 * - the compose file and the Kubernetes manifests parsed with libyaml and
 *   checked for what their consumers need (kinds, names, probes on
 *   /healthz and /readyz, volumes, selectors, files they mount), and the
 *   engine configurations they carry loaded by the engine's own loader,
 *   with the token hashes that the probes' and Prometheus' tokens must
 *   match;
 * - the Dockerfile's runtime packages against the shared libraries the
 *   built ccrouted needs (readelf, dpkg -S).
 * A tool that is not installed skips its test with a message (Debian's
 * systemd and prometheus packages; deploy/deps.sh installs prometheus).
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cmocka.h>
#include <jansson.h>
#include <yaml.h>

#include "config.h"
#include "e2e-util.h"
#include "harness.h"

#define RUN_MS 30000

static const char *build_dir(void)
{
    const char *b = getenv("CCROUTE_BUILD");
    return b && *b ? b : "build";
}

static bool have(const char *tool)
{
    char cmd[128];
    const char *argv[] = { "sh", "-c", cmd, NULL };
    snprintf(cmd, sizeof(cmd), "command -v %s", tool);
    return harness_run(argv, NULL, RUN_MS) == 0;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;
    if (!f)
        fail_msg("cannot read %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void spit(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

/* A copy of `text` with every `from` replaced by `to` (caller frees). */
static char *replace(const char *text, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), n = 0;
    const char *p;
    char *out, *o;
    for (p = text; (p = strstr(p, from)); p += fl)
        n++;
    out = malloc(strlen(text) + n * tl + 1);
    assert_non_null(out);
    for (o = out, p = text;;) {
        const char *q = strstr(p, from);
        if (!q) {
            strcpy(o, p);
            break;
        }
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, to, tl);
        o += tl;
        p = q + fl;
    }
    return out;
}

/* Runs a shell command line; its output (stdout and stderr) in *out
 * (caller frees). Returns the exit status. */
static int sh(const char *cmd, char **out)
{
    char dir[256], log[320];
    const char *argv[] = { "sh", "-c", cmd, NULL };
    struct harness_proc p;
    int rc;
    assert_int_equal(harness_tmpdir(dir, sizeof(dir), "ccr-deploy-sh"), 0);
    snprintf(log, sizeof(log), "%s/out", dir);
    assert_int_equal(harness_proc_start(&p, argv, log, true), 0);
    rc = harness_proc_wait(&p, RUN_MS);
    *out = slurp(log);
    harness_rm_rf(dir);
    return rc;
}

/* ---- YAML as JSON: scalars as strings ---- */

static json_t *yaml_node_json(yaml_document_t *d, yaml_node_t *n)
{
    json_t *j;
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return json_stringn((const char *)n->data.scalar.value,
                            n->data.scalar.length);
    case YAML_SEQUENCE_NODE:
        j = json_array();
        for (yaml_node_item_t *i = n->data.sequence.items.start;
             i < n->data.sequence.items.top; i++)
            json_array_append_new(j, yaml_node_json(d,
                                  yaml_document_get_node(d, *i)));
        return j;
    case YAML_MAPPING_NODE:
        j = json_object();
        for (yaml_node_pair_t *pr = n->data.mapping.pairs.start;
             pr < n->data.mapping.pairs.top; pr++) {
            yaml_node_t *k = yaml_document_get_node(d, pr->key);
            assert_int_equal(k->type, YAML_SCALAR_NODE);
            if (json_object_get(j, (const char *)k->data.scalar.value))
                fail_msg("key %s twice", k->data.scalar.value);
            json_object_set_new(j, (const char *)k->data.scalar.value,
                                yaml_node_json(d, yaml_document_get_node(
                                    d, pr->value)));
        }
        return j;
    default:
        return json_null();
    }
}

/* Every document of the YAML file, as a JSON array; fails the test at a
 * syntax error (with its line). */
static json_t *yaml_load(const char *path)
{
    FILE *f = fopen(path, "rb");
    yaml_parser_t p;
    json_t *docs = json_array();
    if (!f)
        fail_msg("cannot read %s", path);
    assert_true(yaml_parser_initialize(&p));
    yaml_parser_set_input_file(&p, f);
    for (;;) {
        yaml_document_t d;
        yaml_node_t *root;
        if (!yaml_parser_load(&p, &d))
            fail_msg("%s:%lu: %s", path,
                     (unsigned long)p.problem_mark.line + 1,
                     p.problem ? p.problem : "YAML error");
        root = yaml_document_get_root_node(&d);
        if (!root) {
            yaml_document_delete(&d);
            break;
        }
        json_array_append_new(docs, yaml_node_json(&d, root));
        yaml_document_delete(&d);
    }
    yaml_parser_delete(&p);
    fclose(f);
    assert_true(json_array_size(docs) > 0);
    return docs;
}

/* The value at a dotted path ("spec.template.spec"; a number is an array
 * index); fails the test when it is missing. */
static json_t *at(json_t *j, const char *path)
{
    char buf[256], *save = NULL, *tok;
    snprintf(buf, sizeof(buf), "%s", path);
    for (tok = strtok_r(buf, ".", &save); tok;
         tok = strtok_r(NULL, ".", &save)) {
        json_t *next = json_is_array(j) ? json_array_get(j, strtoul(tok,
                                                         NULL, 10))
                                        : json_object_get(j, tok);
        if (!next)
            fail_msg("missing %s (at %s)", path, tok);
        j = next;
    }
    return j;
}

static const char *str_at(json_t *j, const char *path)
{
    json_t *v = at(j, path);
    if (!json_is_string(v))
        fail_msg("%s is not a scalar", path);
    return json_string_value(v);
}

/* The string under key `k` (which may hold dots: "tokens.yaml") of the
 * object at `path`; fails the test when missing. */
static const char *str_key(json_t *j, const char *path, const char *k)
{
    json_t *v = json_object_get(at(j, path), k);
    if (!json_is_string(v))
        fail_msg("missing %s[\"%s\"]", path, k);
    return json_string_value(v);
}

/* ---- metric names ---- */

#define MAX_NAMES 256

struct names {
    char *v[MAX_NAMES];
    int n;
};

static void names_add(struct names *s, const char *p, size_t len)
{
    for (int i = 0; i < s->n; i++)
        if (strlen(s->v[i]) == len && !memcmp(s->v[i], p, len))
            return;
    assert_true(s->n < MAX_NAMES);
    s->v[s->n++] = strndup(p, len);
}

static bool names_has(const struct names *s, const char *v)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], v))
            return true;
    return false;
}

/* names_has, where a histogram's series (NAME_bucket, NAME_sum,
 * NAME_count) count as its family NAME. */
static bool names_has_series(const struct names *s, const char *v)
{
    static const char *const sfx[] = { "_bucket", "_sum", "_count" };
    char base[256];
    size_t n = strlen(v);
    if (names_has(s, v))
        return true;
    for (size_t i = 0; i < 3; i++) {
        size_t k = strlen(sfx[i]);
        if (n > k && n - k < sizeof(base) && !strcmp(v + n - k, sfx[i])) {
            memcpy(base, v, n - k);
            base[n - k] = '\0';
            if (names_has(s, base))
                return true;
        }
    }
    return false;
}

static void names_free(struct names *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->v[i]);
    s->n = 0;
}

/* Every ccroute_* identifier in `text`. */
static void names_scan(struct names *s, const char *text)
{
    for (const char *p = text; (p = strstr(p, "ccroute_"));) {
        size_t n = 0;
        if (p > text && (p[-1] == '_' || ((p[-1] | 32) >= 'a' &&
                                          (p[-1] | 32) <= 'z'))) {
            p++;
            continue;
        }
        while (p[n] == '_' || (p[n] >= 'a' && p[n] <= 'z') ||
               (p[n] >= '0' && p[n] <= '9'))
            n++;
        names_add(s, p, n);
        p += n;
    }
}

/* Every string under `j` whose key is `key`, scanned. */
static void names_scan_json(struct names *s, json_t *j, const char *key)
{
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_array(j)) {
        json_array_foreach(j, i, v)
            names_scan_json(s, v, key);
    } else if (json_is_object(j)) {
        json_object_foreach(j, k, v) {
            if (!strcmp(k, key) && json_is_string(v))
                names_scan(s, json_string_value(v));
            else
                names_scan_json(s, v, key);
        }
    }
}

/* GET /metrics from 127.0.0.1:port; the body (caller frees). */
static char *scrape(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port) };
    struct timeval tv = { 5, 0 };
    const char req[] = "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n";
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap), *body;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0 && buf);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL),
                     (ssize_t)sizeof(req) - 1);
    for (;;) {
        ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);
        if (r == 0)
            break;
        assert_true(r > 0 && len + (size_t)r < cap - 1);
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    assert_true(!strncmp(buf, "HTTP/1.", 7) && strstr(buf, " 200 "));
    body = strdup(strstr(buf, "\r\n\r\n") + 4);
    free(buf);
    return body;
}

static void metrics_config(char *buf, size_t len, int redis_port,
                           const void *arg)
{
    snprintf(buf, len,
        "redis:\n  enabled: true\n  port: %d\n  tenant: dep\n"
        "skills: [sales]\n"
        "queues:\n"
        "  - name: sales\n"
        "    skills: {sales: 1}\n"
        "    service_level: {percent: 80, seconds: 20}\n"
        "http:\n  listen: 127.0.0.1:%d\n", redis_port, *(const int *)arg);
}

/* The dashboard's and the alert rules' metrics, against a real engine's
 * /metrics (every family is listed by its # TYPE line). */
static void test_metrics_exist(void **state)
{
    struct names engine = { .n = 0 }, dash = { .n = 0 }, rules = { .n = 0 };
    int http_port = harness_free_port();
    void *env = NULL;
    json_t *d, *docs;
    json_error_t je;
    char *text;

    (void)state;
    assert_true(http_port > 0);
    assert_int_equal(e2e_env_start(&env, true, metrics_config, &http_port),
                     0);
    {
        struct e2e_client c;
        /* traffic, so that labelled families have their samples */
        e2e_open_hello_retry(&c, ((struct e2e_env *)env)->d.port, "sw",
                             E2E_ROLE(SWITCH), false);
        assert_int_equal(e2e_agent_login(&c, "a1", "sales", 5, 1, 0), 0);
        assert_int_equal(e2e_contact(&c, "c1", "sales", E2E_VOICE), 0);
        e2e_close(&c);
    }
    text = scrape(http_port);
    for (const char *p = text; (p = strstr(p, "# TYPE "));) {
        p += 7;
        names_add(&engine, p, strcspn(p, " "));
    }
    free(text);
    assert_int_equal(e2e_env_teardown(&env), 0);
    assert_true(engine.n > 40);

    d = json_load_file("deploy/grafana/ccroute-dashboard.json", 0, &je);
    if (!d)
        fail_msg("ccroute-dashboard.json:%d: %s", je.line, je.text);
    assert_true(json_is_array(json_object_get(d, "panels")));
    assert_non_null(json_object_get(d, "title"));
    names_scan_json(&dash, json_object_get(d, "panels"), "expr");
    names_scan_json(&dash, json_object_get(d, "templating"), "query");
    json_decref(d);
    assert_true(dash.n >= 30);      /* the check is not vacuous */
    for (int i = 0; i < dash.n; i++)
        if (!names_has_series(&engine, dash.v[i]))
            fail_msg("the dashboard queries %s, which /metrics does not "
                     "have", dash.v[i]);

    docs = yaml_load("deploy/prometheus/alerts.yml");
    names_scan_json(&rules, json_array_get(docs, 0), "expr");
    json_decref(docs);
    assert_true(rules.n >= 6);
    for (int i = 0; i < rules.n; i++)
        if (!names_has(&engine, rules.v[i]))
            fail_msg("an alert rule uses %s, which /metrics does not have",
                     rules.v[i]);
    names_free(&engine);
    names_free(&dash);
    names_free(&rules);
}

/* ---- systemd ---- */

static void test_systemd_units(void **state)
{
    static const char *const units[][2] = {
        { "deploy/systemd/ccrouted.service", "ccrouted.service" },
        { "deploy/systemd/ccrouted@.service", "ccrouted@east.service" },
    };
    static const char *const hardening[] = {
        "\nProtectSystem=strict\n", "\nNoNewPrivileges=yes\n",
        "\nPrivateTmp=yes\n", "\nCapabilityBoundingSet=\n",
        "\nRestrictAddressFamilies=", "\nProtectHome=yes\n",
        "\nSystemCallFilter=", "\nUser=",
    };
    char dir[256], bin[PATH_MAX + 2], path[600], cmd[1400];
    char *out;

    (void)state;
    if (!have("systemd-analyze")) {
        fprintf(stderr, "skipped: systemd-analyze not installed\n");
        skip();
    }
    assert_non_null(realpath(build_dir(), bin));
    strcat(bin, "/");
    assert_int_equal(harness_tmpdir(dir, sizeof(dir), "ccr-units"), 0);
    for (size_t i = 0; i < 2; i++) {
        char *text = slurp(units[i][0]), *mine;
        for (size_t h = 0; h < sizeof(hardening) / sizeof(*hardening); h++)
            if (!strstr(text, hardening[h]))
                fail_msg("%s: no %s", units[i][0], hardening[h] + 1);
        /* ExecStart must name an executable that exists */
        mine = replace(text, "/usr/local/bin/", bin);
        snprintf(path, sizeof(path), "%s/%s", dir, units[i][1]);
        spit(path, mine, 0644);
        snprintf(cmd, sizeof(cmd), "systemd-analyze verify '%s'", path);
        if (sh(cmd, &out) != 0 || out[0])
            fail_msg("%s: systemd-analyze verify:\n%s", units[i][0], out);
        free(out);
        /* the check has teeth: a directive it cannot parse is reported */
        free(text);
        text = replace(mine, "ProtectSystem=strict", "ProtectSystem=stricter");
        spit(path, text, 0644);
        sh(cmd, &out);
        if (!out[0])
            fail_msg("systemd-analyze verify said nothing of "
                     "ProtectSystem=stricter");
        free(out);
        free(text);
        free(mine);
    }
    harness_rm_rf(dir);
}

/* ---- Prometheus ---- */

static void test_prometheus(void **state)
{
    char dir[256], cmd[1200], path[400], tok[400];
    char *out, *text, *mine;

    (void)state;
    if (!have("promtool")) {
        fprintf(stderr, "skipped: promtool not installed (Debian package "
                "prometheus)\n");
        skip();
    }
    if (sh("promtool check rules deploy/prometheus/alerts.yml", &out) != 0)
        fail_msg("promtool check rules:\n%s", out);
    assert_non_null(strstr(out, "SUCCESS: 8 rules found"));
    free(out);
    if (sh("cd deploy/prometheus && promtool test rules alerts-test.yml",
           &out) != 0)
        fail_msg("promtool test rules:\n%s", out);
    free(out);

    /* the configuration, with its token file where this host has one */
    assert_int_equal(harness_tmpdir(dir, sizeof(dir), "ccr-prom"), 0);
    snprintf(tok, sizeof(tok), "%s/monitor.token", dir);
    spit(tok, "x\n", 0600);
    text = slurp("deploy/prometheus/prometheus.yml");
    assert_non_null(strstr(text, "/etc/prometheus/ccroute-monitor.token"));
    mine = replace(text, "/etc/prometheus/ccroute-monitor.token", tok);
    snprintf(path, sizeof(path), "%s/prometheus.yml", dir);
    spit(path, mine, 0644);
    snprintf(cmd, sizeof(cmd), "cp deploy/prometheus/alerts.yml %s/ && "
             "promtool check config %s", dir, path);
    if (sh(cmd, &out) != 0)
        fail_msg("promtool check config:\n%s", out);
    free(out);
    free(text);
    free(mine);
    harness_rm_rf(dir);
}

/* ---- engine configurations carried by the files ---- */

/* Loads the file at `path` with the engine's loader; fails the test with
 * its error. */
static void config_ok(const char *path)
{
    struct config c;
    char err[1024];
    config_defaults(&c);
    if (config_load(&c, path, err, sizeof(err)) < 0)
        fail_msg("%s", err);
    config_fini(&c);
}

/* The hash of the first line of `token_text` appears in `text`. */
static void token_matches(const char *token_text, const char *text,
                          const char *what)
{
    char tok[512], hex[65];
    snprintf(tok, sizeof(tok), "%s", token_text);
    tok[strcspn(tok, "\r\n")] = '\0';
    e2e_token_hex(tok, hex);
    if (!strstr(text, hex))
        fail_msg("%s: the token's hash %s is not there", what, hex);
}

static void test_compose(void **state)
{
    static const char *const svcs[] = { "redis", "ccrouted", "prometheus",
                                        "grafana" };
    json_t *docs = yaml_load("deploy/docker-compose.yml"), *c, *s, *v;
    char *cfg, *tok, *hc;
    size_t i, vi;

    (void)state;
    assert_int_equal(json_array_size(docs), 1);
    c = json_array_get(docs, 0);
    for (i = 0; i < sizeof(svcs) / sizeof(*svcs); i++) {
        char p[64];
        snprintf(p, sizeof(p), "services.%s", svcs[i]);
        s = at(c, p);
        if (!json_object_get(s, "image") && !json_object_get(s, "build"))
            fail_msg("service %s has neither image nor build", svcs[i]);
        /* every file it mounts from the repository exists */
        json_array_foreach(json_object_get(s, "volumes"), vi, v) {
            const char *m = json_string_value(v);
            char src[300];
            struct stat st;
            if (strncmp(m, "./", 2))
                continue;
            snprintf(src, sizeof(src), "deploy/%.*s",
                     (int)strcspn(m + 2, ":"), m + 2);
            if (stat(src, &st) < 0)
                fail_msg("service %s mounts %s, which does not exist",
                         svcs[i], src);
        }
    }
    assert_string_equal(str_at(c, "services.ccrouted.build.dockerfile"),
                        "deploy/Dockerfile");
    /* the health check asks /readyz with the monitor's token */
    hc = json_dumps(at(c, "services.ccrouted.healthcheck.test"), 0);
    assert_non_null(strstr(hc, "/readyz"));
    assert_non_null(strstr(hc, "Authorization: Bearer"));
    free(hc);

    /* the engine's file: loads, names the redis service's address, and
     * has the principal whose token Prometheus and the check present */
    config_ok("deploy/compose/ccrouted.yaml");
    cfg = slurp("deploy/compose/ccrouted.yaml");
    {
        char want[64];
        snprintf(want, sizeof(want), "host: %s ",
                 str_at(c, "services.redis.networks.ccroute.ipv4_address"));
        assert_non_null(strstr(cfg, want));
    }
    tok = slurp("deploy/demo-tokens/monitor.token");
    token_matches(tok, cfg, "deploy/compose/ccrouted.yaml");
    free(tok);
    free(cfg);
    json_decref(docs);
}

static json_t *k8s_doc(json_t *all, const char *kind)
{
    size_t i;
    json_t *d;
    json_array_foreach(all, i, d)
        if (!strcmp(str_at(d, "kind"), kind))
            return d;
    fail_msg("no %s among the manifests", kind);
    return NULL;
}

static void test_kubernetes(void **state)
{
    static const char *const files[] = {
        "deploy/k8s/configmap.yaml", "deploy/k8s/secret.yaml",
        "deploy/k8s/deployment.yaml", "deploy/k8s/service.yaml",
    };
    json_t *all = json_array(), *d, *dep, *svc, *cm, *sec, *pod, *ctr, *v;
    char dir[256], path[400], prefix[300], *cmd, *text;
    size_t i, k;

    (void)state;
    for (i = 0; i < sizeof(files) / sizeof(*files); i++) {
        json_t *docs = yaml_load(files[i]);
        json_array_foreach(docs, k, d) {
            /* what every object needs */
            assert_true(strlen(str_at(d, "apiVersion")) > 0);
            assert_true(strlen(str_at(d, "kind")) > 0);
            assert_true(strlen(str_at(d, "metadata.name")) > 0);
            json_array_append(all, d);
        }
        json_decref(docs);
    }
    dep = k8s_doc(all, "Deployment");
    svc = k8s_doc(all, "Service");
    cm = k8s_doc(all, "ConfigMap");
    sec = k8s_doc(all, "Secret");
    assert_string_equal(str_at(dep, "apiVersion"), "apps/v1");
    assert_string_equal(str_at(svc, "apiVersion"), "v1");

    /* probes: liveness on /healthz, readiness on /readyz, each with the
     * monitor's token (the listener is off loopback) */
    pod = at(dep, "spec.template.spec");
    ctr = at(pod, "containers.0");
    cmd = json_dumps(at(ctr, "livenessProbe.exec.command"), 0);
    assert_non_null(strstr(cmd, "http://127.0.0.1:7401/healthz"));
    assert_non_null(strstr(cmd, "Authorization: Bearer"));
    free(cmd);
    cmd = json_dumps(at(ctr, "readinessProbe.exec.command"), 0);
    assert_non_null(strstr(cmd, "http://127.0.0.1:7401/readyz"));
    assert_non_null(strstr(cmd, "/run/ccroute/monitor.token"));
    free(cmd);
    assert_string_equal(str_at(pod, "securityContext.runAsNonRoot"),
                        "true");

    /* the selector picks the pod template; the Service's ports are the
     * container's */
    {
        /* (a label name has dots: looked up by hand) */
        const char *app = json_string_value(json_object_get(at(dep,
            "spec.template.metadata.labels"), "app.kubernetes.io/name"));
        assert_non_null(app);
        assert_string_equal(json_string_value(json_object_get(at(dep,
            "spec.selector.matchLabels"), "app.kubernetes.io/name")), app);
        assert_string_equal(json_string_value(json_object_get(at(svc,
            "spec.selector"), "app.kubernetes.io/name")), app);
    }
    json_array_foreach(at(svc, "spec.ports"), i, d) {
        bool found = false;
        json_array_foreach(at(ctr, "ports"), k, v)
            if (!strcmp(str_at(v, "name"), str_at(d, "targetPort")))
                found = true;
        if (!found)
            fail_msg("Service port %s: no container port named so",
                     str_at(d, "targetPort"));
    }
    /* volumes: each mount has its volume, which names the ConfigMap and
     * the Secret of these manifests */
    json_array_foreach(at(pod, "volumes"), i, v) {
        if (json_object_get(v, "configMap"))
            assert_string_equal(str_at(v, "configMap.name"),
                                str_at(cm, "metadata.name"));
        if (json_object_get(v, "secret"))
            assert_string_equal(str_at(v, "secret.secretName"),
                                str_at(sec, "metadata.name"));
    }
    {
        json_t *ctrs[2] = { ctr, at(pod, "initContainers.0") };
        for (int c = 0; c < 2; c++)
            json_array_foreach(at(ctrs[c], "volumeMounts"), i, d) {
                bool found = false;
                json_array_foreach(at(pod, "volumes"), k, v)
                    if (!strcmp(str_at(v, "name"), str_at(d, "name")))
                        found = true;
                if (!found)
                    fail_msg("volumeMount %s has no volume",
                             str_at(d, "name"));
            }
    }

    /* the configuration with the Secret's token file: the engine's loader
     * takes it, and the probes' token is the monitor's */
    assert_int_equal(harness_tmpdir(dir, sizeof(dir), "ccr-k8s"), 0);
    snprintf(prefix, sizeof(prefix), "%s/", dir);
    snprintf(path, sizeof(path), "%s/tokens.yaml", dir);
    spit(path, str_key(sec, "stringData", "tokens.yaml"), 0600);
    text = replace(str_key(cm, "data", "ccrouted.yaml"), "/run/ccroute/",
                   prefix);
    snprintf(path, sizeof(path), "%s/ccrouted.yaml", dir);
    spit(path, text, 0600);
    free(text);
    config_ok(path);
    token_matches(str_key(sec, "stringData", "monitor.token"),
                  str_key(sec, "stringData", "tokens.yaml"), "secret.yaml");
    {
        /* ... and the hash on the monitor principal's line */
        char tok[256], hex[65], line[128];
        snprintf(tok, sizeof(tok), "%s",
                 str_key(sec, "stringData", "monitor.token"));
        tok[strcspn(tok, "\n")] = '\0';
        e2e_token_hex(tok, hex);
        snprintf(line, sizeof(line), "monitor: %s", hex);
        assert_non_null(strstr(str_key(sec, "stringData", "tokens.yaml"), line));
        assert_non_null(strstr(str_key(cm, "data", "ccrouted.yaml"),
                               "- name: monitor"));
    }
    harness_rm_rf(dir);
    json_decref(all);
}

/* ---- Dockerfile ---- */

static void test_dockerfile(void **state)
{
    char *df = slurp("deploy/Dockerfile"), *out, cmd[1200];
    const char *last_from = NULL, *p;
    int froms = 0;

    (void)state;
    for (p = df; (p = strstr(p, "\nFROM ")); p++) {
        froms++;
        last_from = p + 1;
        assert_true(!strncmp(p + 6, "debian:", 7));
    }
    assert_true(froms >= 2);                       /* multi-stage */
    assert_non_null(strstr(df, "make "));          /* built with make */
    assert_non_null(strstr(last_from, "\nCOPY --from=build "));
    p = strstr(last_from, "\nUSER ");
    assert_non_null(p);                            /* not root */
    assert_true(strncmp(p + 6, "root", 4) && strncmp(p + 6, "0", 1) &&
                strncmp(p + 6, "0:", 2));

    /* every package behind a library ccrouted links is installed by the
     * runtime stage (the C library comes with the image; the sanitizer
     * runtimes only with build-san) */
    snprintf(cmd, sizeof(cmd),
        "B=%s/ccrouted; for l in $(readelf -d $B | sed -n "
        "'s/.*Shared library: \\[\\(.*\\)\\]/\\1/p'); do "
        "f=$(ldd $B | awk -v l=$l '$1==l {print $3}'); "
        "r=$(readlink -f $f); { dpkg -S $f || dpkg -S $r || "
        "dpkg -S ${r#/usr}; } 2>/dev/null | cut -d: -f1; done | sort -u",
        build_dir());
    if (!have("readelf") || !have("dpkg")) {
        fprintf(stderr, "skipped the library check: readelf or dpkg "
                "missing\n");
        free(df);
        return;
    }
    assert_int_equal(sh(cmd, &out), 0);
    {
        char *save = NULL, *pkg;
        int n = 0;
        for (pkg = strtok_r(out, "\n", &save); pkg;
             pkg = strtok_r(NULL, "\n", &save)) {
            char word[80];
            if (!strcmp(pkg, "libc6") || !strncmp(pkg, "libasan", 7) ||
                !strncmp(pkg, "libubsan", 8) || !strncmp(pkg, "libgcc", 6))
                continue;
            snprintf(word, sizeof(word), " %s ", pkg);
            if (!strstr(last_from, word))
                fail_msg("ccrouted links a library of %s, which the "
                         "runtime stage of deploy/Dockerfile does not "
                         "install", pkg);
            n++;
        }
        assert_true(n >= 6);
    }
    free(out);
    free(df);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_systemd_units),
        cmocka_unit_test(test_prometheus),
        cmocka_unit_test(test_compose),
        cmocka_unit_test(test_kubernetes),
        cmocka_unit_test(test_dockerfile),
        cmocka_unit_test(test_metrics_exist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
