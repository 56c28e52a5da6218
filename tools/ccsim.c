/* ccsim -- a simulated day of a routing configuration, and the queueing
 * formulas it is checked against (docs/ccsim.md).
 *
 *   ccsim --config routing.yaml --traffic model.yaml [--seed S]
 *         [--hours H] [--json]
 *   ccsim erlang --rate R --aht S --agents N --target T [--patience P]
 *         [--json]
 *
 * The simulation is bench/sim.c: the engine's own routing core
 * (engine/router.c) built from the configuration's router section by the
 * daemon's own loader (config_load), driven by ccload's traffic model
 * (bench/ccload-model.c) in simulated time. This file reads the options
 * and the two files and prints the report: a table per queue and half
 * hour and a summary, or one JSON document (jansson). Nothing in the
 * output depends on the wall clock, so the same files and seed give the
 * same bytes.
 *
 * Exit status: 0 done; 1 a bad file (the message names the file and the
 * line), a refused computation (Erlang C at occupancy >= 1) or another
 * error; 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ccload-model.h"
#include "config.h"
#include "erlang.h"
#include "sim.h"
#include "yamlwalk.h"

#define EXIT_OK 0
#define EXIT_ERR 1
#define EXIT_USAGE 2

static const char usage_text[] =
    "usage: ccsim --config ROUTING.yaml --traffic MODEL.yaml [options]\n"
    "       ccsim erlang --rate R --aht D --agents N --target D "
    "[--patience D] [--json]\n"
    "\n"
    "Simulation (the engine's routing core in simulated time):\n"
    "  -c, --config FILE    routing configuration (ccrouted's YAML)\n"
    "  -t, --traffic FILE   traffic model (ccload's YAML, bench/CCLOAD.md)\n"
    "  -s, --seed S         random seed (default: the model's seed)\n"
    "  -H, --hours H        simulated hours of arrivals (default: the\n"
    "                       model's duration, else 24)\n"
    "      --json           one JSON document instead of the tables\n"
    "\n"
    "Erlang (M/M/c; with --patience M/M/c+M, Erlang A):\n"
    "      --rate R         arrivals per second; R/h, R/min or R/s too\n"
    "      --aht D          mean handle time: seconds, or a duration (3m)\n"
    "      --agents N       agents\n"
    "      --target D       service-level threshold (seconds or duration)\n"
    "      --patience D     mean patience (exponential): Erlang A\n"
    "\n"
    "Exit status: 0 done, 1 error (bad file, refused computation), 2 bad "
    "usage.\n";

static int usage(const char *why)
{
    if (why)
        fprintf(stderr, "ccsim: %s\n", why);
    fputs(usage_text, stderr);
    return EXIT_USAGE;
}

/* ---- number parsing ---- */

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* Seconds: a bare number, or a duration with a unit ("3m", "500ms"). */
static int parse_seconds(const char *s, double *out)
{
    uint64_t us;
    if (parse_double(s, out) == 0)
        return 0;
    if (yamlwalk_parse_duration(s, &us) < 0)
        return -1;
    *out = (double)us / 1e6;
    return 0;
}

/* Per second: "R", "R/s", "R/min" (or "R/m"), "R/h". */
static int parse_rate(const char *s, double *out)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    double div = 1;
    if (!slash)
        return parse_double(s, out);
    if ((size_t)(slash - s) >= sizeof(buf))
        return -1;
    memcpy(buf, s, (size_t)(slash - s));
    buf[slash - s] = 0;
    if (!strcmp(slash + 1, "s"))
        div = 1;
    else if (!strcmp(slash + 1, "min") || !strcmp(slash + 1, "m"))
        div = 60;
    else if (!strcmp(slash + 1, "h"))
        div = 3600;
    else
        return -1;
    if (parse_double(buf, out) < 0)
        return -1;
    *out /= div;
    return 0;
}

/* ---- ccsim erlang ---- */

static int cmd_erlang(int argc, char **argv)
{
    enum { O_RATE = 1, O_AHT, O_AGENTS, O_TARGET, O_PATIENCE, O_JSON };
    static const struct option lo[] = {
        { "rate", required_argument, NULL, O_RATE },
        { "aht", required_argument, NULL, O_AHT },
        { "agents", required_argument, NULL, O_AGENTS },
        { "target", required_argument, NULL, O_TARGET },
        { "patience", required_argument, NULL, O_PATIENCE },
        { "json", no_argument, NULL, O_JSON },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    double rate = -1, aht = -1, target = -1, patience = -1, agents_d = -1;
    bool json = false, have_patience = false;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (o) {
        case O_RATE:
            if (parse_rate(optarg, &rate) < 0 || !(rate > 0))
                return usage("--rate: a positive number of arrivals per "
                             "second (or R/min, R/h)");
            break;
        case O_AHT:
            if (parse_seconds(optarg, &aht) < 0 || !(aht > 0))
                return usage("--aht: a positive number of seconds or a "
                             "duration");
            break;
        case O_AGENTS:
            if (parse_double(optarg, &agents_d) < 0 || agents_d < 1 ||
                agents_d > 1e6 || agents_d != floor(agents_d))
                return usage("--agents: a whole number from 1");
            break;
        case O_TARGET:
            if (parse_seconds(optarg, &target) < 0 || target < 0)
                return usage("--target: seconds or a duration, 0 or more");
            break;
        case O_PATIENCE:
            if (parse_seconds(optarg, &patience) < 0 || !(patience > 0))
                return usage("--patience: a positive number of seconds or "
                             "a duration");
            have_patience = true;
            break;
        case O_JSON: json = true; break;
        case 'h': fputs(usage_text, stdout); return EXIT_OK;
        default: return usage(NULL);
        }
    }
    if (optind < argc)
        return usage("erlang takes no arguments besides its options");
    if (rate < 0 || aht < 0 || agents_d < 0 || target < 0)
        return usage("erlang needs --rate, --aht, --agents and --target");
    unsigned agents = (unsigned)agents_d;
    struct erlang_result r;
    int rc = have_patience
                 ? erlang_a(rate, aht, agents, target, patience, &r)
                 : erlang_c(rate, aht, agents, target, &r);
    if (rc < 0) {
        if (!have_patience && rate * aht >= agents)
            fprintf(stderr, "ccsim: erlang: %.4g Erlangs offered on %u "
                    "agents is occupancy %.1f%% >= 100%%: without "
                    "abandonment the queue grows without bound (give "
                    "--patience for Erlang A)\n", rate * aht, agents,
                    100 * rate * aht / agents);
        else
            fprintf(stderr, "ccsim: erlang: cannot compute: %s\n",
                    ccr_strerror(rc));
        return EXIT_ERR;
    }
    if (json) {
        json_t *j = json_pack(
            "{s:s, s:f, s:f, s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}",
            "model", have_patience ? "erlang_a" : "erlang_c",
            "rate_per_s", rate, "aht_s", aht, "agents", (json_int_t)agents,
            "target_s", target, "load_erlangs", r.load,
            "occupancy", r.occupancy, "p_wait", r.p_wait,
            "service_level", r.service_level, "asa_s", r.asa_s,
            "mean_wait_s", r.mean_wait_s, "abandon_rate", r.p_abandon);
        if (have_patience)
            json_object_set_new(j, "patience_s", json_real(patience));
        char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(j);
        if (!s)
            return EXIT_ERR;
        printf("%s\n", s);
        free(s);
        return EXIT_OK;
    }
    printf("%s: %.4g Erlangs offered on %u agents (%.4g/s, AHT %.4g s)",
           have_patience ? "Erlang A" : "Erlang C", r.load, agents, rate,
           aht);
    if (have_patience)
        printf(", mean patience %.4g s", patience);
    printf("\n");
    printf("  occupancy                %6.2f%%\n", 100 * r.occupancy);
    printf("  probability of waiting   %6.2f%%\n", 100 * r.p_wait);
    printf("  service level            %6.2f%% answered within %.4g s\n",
           100 * r.service_level, target);
    printf("  average speed of answer  %8.3f s\n", r.asa_s);
    printf("  mean wait (every arrival)%8.3f s\n", r.mean_wait_s);
    printf("  abandon rate             %6.2f%%\n", 100 * r.p_abandon);
    return EXIT_OK;
}

/* ---- the simulation report ---- */

struct figs {
    double sl, asa, occ;    /* NAN: no data */
};

static struct figs figures(const struct sim_cell *x, double staffed_s)
{
    struct figs f;
    uint64_t den = x->answered + x->abandoned;
    f.sl = den ? (double)x->answered_in_sl / (double)den : NAN;
    f.asa = x->answered ? x->wait_s / (double)x->answered : NAN;
    f.occ = staffed_s > 0 ? x->busy_s / staffed_s : NAN;
    return f;
}

/* Length of interval i inside the arrivals (the last may be short). */
static double covered(const struct sim_report *rep, unsigned i)
{
    double start = i * rep->interval_s, end = start + rep->interval_s;
    double h = rep->hours * 3600;
    return (end < h ? end : h) - start;
}

static double all_covered(const struct sim_report *rep)
{
    return rep->hours * 3600;
}

static void pct(char *buf, size_t len, double v)
{
    if (isnan(v))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.1f", 100 * v);
}

static void num(char *buf, size_t len, double v)
{
    if (isnan(v))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.1f", v);
}

static void print_line(const char *label, const struct sim_cell *x,
                       double staffed_s)
{
    struct figs f = figures(x, staffed_s);
    char sl[16], asa[32], occ[16];
    pct(sl, sizeof(sl), f.sl);
    num(asa, sizeof(asa), f.asa);
    pct(occ, sizeof(occ), f.occ);
    printf("  %-20s %8" PRIu64 " %8" PRIu64 " %9" PRIu64 " %7" PRIu64
           " %6s %8s %6s\n", label, x->offered, x->answered, x->abandoned,
           x->refused, sl, asa, occ);
}

static const char header[] =
    "  %-20s  offered answered abandoned refused    SL%%    ASA s   occ%%\n";

static void print_text(const struct sim_report *rep, const char *cfg,
                       const char *traffic, uint64_t seed)
{
    struct sim_cell all, sum;
    memset(&all, 0, sizeof(all));
    printf("ccsim: %s with %s, seed %" PRIu64 ", %.4g h of arrivals, "
           "%u agents, %" PRIu64 " contacts\n", cfg, traffic, seed,
           rep->hours, rep->agents, rep->contacts);
    for (unsigned q = 0; q < rep->nrows; q++) {
        const struct sim_row *row = &rep->rows[q];
        sim_report_sum(rep, q, 0, rep->nintervals, &sum);
        if (!sum.offered && !sum.refused && !sum.busy_s)
            continue;
        printf("\nqueue %s (service level within %.4g s, %u agents)\n",
               row->name, row->sl_threshold_ms / 1000.0, row->agents);
        printf(header, "interval");
        for (unsigned i = 0; i < rep->nintervals; i++) {
            const struct sim_cell *x = &rep->cells[(size_t)q *
                                                   rep->nintervals + i];
            unsigned long m = (unsigned long)(i * rep->interval_s / 60);
            char label[32];
            snprintf(label, sizeof(label), "%02lu:%02lu", m / 60, m % 60);
            print_line(label, x, row->agents * covered(rep, i));
        }
        print_line("total", &sum, row->agents * all_covered(rep));
    }
    printf("\nsummary\n");
    printf(header, "queue");
    for (unsigned q = 0; q < rep->nrows; q++) {
        sim_report_sum(rep, q, 0, rep->nintervals, &sum);
        print_line(rep->rows[q].name, &sum,
                   rep->rows[q].agents * all_covered(rep));
        all.offered += sum.offered;
        all.answered += sum.answered;
        all.answered_in_sl += sum.answered_in_sl;
        all.abandoned += sum.abandoned;
        all.refused += sum.refused;
        all.cut += sum.cut;
        all.wait_s += sum.wait_s;
        all.busy_s += sum.busy_s;
    }
    print_line("all", &all, rep->agents * all_covered(rep));
    if (all.cut)
        printf("  %" PRIu64 " contacts still waiting when the run ended "
               "(a day after the last arrival)\n", all.cut);
    printf("  simulated time %.2f h (arrivals, then until every contact "
           "ended); %" PRIu64 " events, %" PRIu64 " router calls\n",
           rep->end_s / 3600, rep->events, rep->router_calls);
}

static json_t *jnum(double v)
{
    return isnan(v) ? json_null() : json_real(v);
}

static json_t *jcell(const struct sim_cell *x, double staffed_s)
{
    struct figs f = figures(x, staffed_s);
    json_t *j = json_object();
    json_object_set_new(j, "offered", json_integer((json_int_t)x->offered));
    json_object_set_new(j, "answered",
                        json_integer((json_int_t)x->answered));
    json_object_set_new(j, "answered_in_sl",
                        json_integer((json_int_t)x->answered_in_sl));
    json_object_set_new(j, "abandoned",
                        json_integer((json_int_t)x->abandoned));
    json_object_set_new(j, "refused", json_integer((json_int_t)x->refused));
    json_object_set_new(j, "waited", json_integer((json_int_t)x->waited));
    json_object_set_new(j, "cut", json_integer((json_int_t)x->cut));
    json_object_set_new(j, "service_level", jnum(f.sl));
    json_object_set_new(j, "asa_s", jnum(f.asa));
    json_object_set_new(j, "occupancy", jnum(f.occ));
    return j;
}

static int print_json(const struct sim_report *rep, const char *cfg,
                      const char *traffic, uint64_t seed)
{
    struct sim_cell all, sum;
    json_t *root = json_object(), *queues = json_array();
    memset(&all, 0, sizeof(all));
    json_object_set_new(root, "tool", json_string("ccsim"));
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "config", json_string(cfg));
    json_object_set_new(root, "traffic", json_string(traffic));
    json_object_set_new(root, "seed", json_integer((json_int_t)seed));
    json_object_set_new(root, "hours", json_real(rep->hours));
    json_object_set_new(root, "interval_s", json_real(rep->interval_s));
    json_object_set_new(root, "agents", json_integer(rep->agents));
    json_object_set_new(root, "contacts",
                        json_integer((json_int_t)rep->contacts));
    json_object_set_new(root, "events",
                        json_integer((json_int_t)rep->events));
    json_object_set_new(root, "router_calls",
                        json_integer((json_int_t)rep->router_calls));
    json_object_set_new(root, "end_s", json_real(rep->end_s));
    for (unsigned q = 0; q < rep->nrows; q++) {
        const struct sim_row *row = &rep->rows[q];
        json_t *jq = json_object(), *iv = json_array();
        json_object_set_new(jq, "queue", json_string(row->name));
        json_object_set_new(jq, "sl_threshold_ms",
                            json_integer(row->sl_threshold_ms));
        json_object_set_new(jq, "agents", json_integer(row->agents));
        for (unsigned i = 0; i < rep->nintervals; i++) {
            json_t *c = jcell(&rep->cells[(size_t)q * rep->nintervals + i],
                              row->agents * covered(rep, i));
            json_object_set_new(c, "start_s",
                                json_real(i * rep->interval_s));
            json_array_append_new(iv, c);
        }
        sim_report_sum(rep, q, 0, rep->nintervals, &sum);
        json_object_set_new(jq, "total",
                            jcell(&sum, row->agents * all_covered(rep)));
        json_object_set_new(jq, "intervals", iv);
        json_array_append_new(queues, jq);
        all.offered += sum.offered;
        all.answered += sum.answered;
        all.answered_in_sl += sum.answered_in_sl;
        all.abandoned += sum.abandoned;
        all.refused += sum.refused;
        all.waited += sum.waited;
        all.cut += sum.cut;
        all.wait_s += sum.wait_s;
        all.busy_s += sum.busy_s;
    }
    json_object_set_new(root, "queues", queues);
    json_object_set_new(root, "summary",
                        jcell(&all, rep->agents * all_covered(rep)));
    char *s = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!s)
        return -1;
    printf("%s\n", s);
    free(s);
    return 0;
}

/* ---- ccsim --config --traffic ---- */

static int cmd_sim(int argc, char **argv)
{
    static const struct option lo[] = {
        { "config", required_argument, NULL, 'c' },
        { "traffic", required_argument, NULL, 't' },
        { "seed", required_argument, NULL, 's' },
        { "hours", required_argument, NULL, 'H' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *cfg_path = NULL, *traffic = NULL;
    bool json = false, have_seed = false;
    double hours = 0, h;
    uint64_t seed = 0;
    int o;
    while ((o = getopt_long(argc, argv, "c:t:s:H:h", lo, NULL)) != -1) {
        switch (o) {
        case 'c': cfg_path = optarg; break;
        case 't': traffic = optarg; break;
        case 's': {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-')
                return usage("--seed: a whole number");
            seed = v;
            have_seed = true;
            break;
        }
        case 'H':
            if (parse_double(optarg, &h) < 0 || !(h > 0) || h > 24 * 366)
                return usage("--hours: a positive number of hours (at most "
                             "a year)");
            hours = h;
            break;
        case 'j': json = true; break;
        case 'h': fputs(usage_text, stdout); return EXIT_OK;
        default: return usage(NULL);
        }
    }
    if (optind < argc)
        return usage("unexpected argument");
    if (!cfg_path || !traffic)
        return usage("--config and --traffic are both needed");

    static struct config cfg;
    static struct model m;
    char err[512];
    int ret = EXIT_ERR;
    config_defaults(&cfg);
    if (config_load(&cfg, cfg_path, err, sizeof(err)) < 0) {
        fprintf(stderr, "ccsim: %s\n", err);
        config_fini(&cfg);
        return EXIT_ERR;
    }
    if (model_load(&m, traffic, err, sizeof(err)) < 0) {
        fprintf(stderr, "ccsim: %s\n", err);
        config_fini(&cfg);
        return EXIT_ERR;
    }
    if (!have_seed)
        seed = m.seed;
    if (!hours)
        hours = m.duration_s > 0 ? m.duration_s / 3600 : 24;
    struct sim_opts so = { seed, hours, 1800 };
    struct sim_report *rep = NULL;
    if (sim_run(&cfg.router, cfg_path, &m, traffic, &so, &rep, err,
                sizeof(err)) < 0) {
        fprintf(stderr, "ccsim: %s\n", err);
        goto done;
    }
    if (json) {
        if (print_json(rep, cfg_path, traffic, seed) < 0) {
            fprintf(stderr, "ccsim: out of memory\n");
            goto done;
        }
    } else {
        print_text(rep, cfg_path, traffic, seed);
    }
    ret = fflush(stdout) == 0 ? EXIT_OK : EXIT_ERR;
done:
    sim_report_free(rep);
    config_fini(&cfg);
    return ret;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "erlang"))
        return cmd_erlang(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    return cmd_sim(argc, argv);
}
