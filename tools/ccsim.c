/* ccsim -- a simulated day of a routing configuration, and the queueing
 * formulas it is checked against (docs/ccsim.md).
 *
 *   ccsim --config routing.yaml --traffic model.yaml [--seed S]
 *         [--hours H] [--runs N] [--json] [--plot DIR]
 *   ccsim --compare a.yaml b.yaml --traffic model.yaml [--runs N] ...
 *   ccsim --config routing.yaml --traffic model.yaml --replay HOST:PORT
 *   ccsim staff --config routing.yaml --traffic model.yaml --target 80/20
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
#include "simplot.h"
#include "simstaff.h"
#include "simstats.h"
#include "yamlwalk.h"

#define EXIT_OK 0
#define EXIT_ERR 1
#define EXIT_USAGE 2

static const char usage_text[] =
    "usage: ccsim --config ROUTING.yaml --traffic MODEL.yaml [options]\n"
    "       ccsim --compare A.yaml B.yaml --traffic MODEL.yaml [options]\n"
    "       ccsim staff --config ROUTING.yaml --traffic MODEL.yaml "
    "--target P/T\n"
    "             [--seed S] [--hours H] [--contacts N] [--no-carry] "
    "[--json]\n"
    "       ccsim erlang --rate R --aht D --agents N --target D "
    "[--patience D] [--json]\n"
    "\n"
    "Simulation (the engine's routing core in simulated time):\n"
    "  -c, --config FILE    routing configuration (ccrouted's YAML)\n"
    "  -t, --traffic FILE   traffic model (ccload's YAML, bench/CCLOAD.md)\n"
    "  -s, --seed S         random seed (default: the model's seed)\n"
    "  -H, --hours H        simulated hours of arrivals (default: the\n"
    "                       model's duration, else 24; with --replay the\n"
    "                       stream's)\n"
    "      --json           one JSON document instead of the tables\n"
    "      --runs N         N runs, seeds S to S+N-1: every figure is the\n"
    "                       mean over the runs +- its 95% confidence\n"
    "                       half-width (Student's t)\n"
    "      --plot DIR       PNG charts into DIR, drawn by gnuplot\n"
    "                       (offered, service level, ASA, occupancy)\n"
    "      --compare A B    run routing configurations A and B on the same\n"
    "                       random traffic (common random numbers) and\n"
    "                       report B - A, with --runs paired 95% intervals\n"
    "      --replay H:P     replay the arrivals, handle times and abandons\n"
    "                       of the event stream a live engine wrote to the\n"
    "                       Redis at H:P (agents: still the traffic model)\n"
    "      --tenant T       its tenant (default: default)\n"
    "      --no-outbound    leave out the model's outbound campaign (inbound\n"
    "                       with and without it)\n"
    "\n"
    "The report: per queue and half hour offered, answered, abandoned,\n"
    "refused, service level, ASA, occupancy (and, when the model's agent\n"
    "groups have shifts or breaks, the agents logged in), then the routing\n"
    "quality of the answered: first% answered at the queue's first level,\n"
    "step1% step2% step3+% only after that expansion step, over% from an\n"
    "overflow queue, prof the answering agents' mean skill level\n"
    "(docs/ccsim.md). With an outbound: section in the model, the\n"
    "engine's campaign core paces its dials next to the router: per\n"
    "half hour dials, answered, connected, drops, abandon% (drops of\n"
    "answered). Agent schedules (shifts, breaks) come from the\n"
    "traffic model; ccsim staff does not follow them but compares them\n"
    "with the agents it finds.\n"
    "\n"
    "Staffing (the fewest agents per group and half hour, real router):\n"
    "      --target P/T     P% answered within T (seconds or a duration)\n"
    "                       in every queue, as 80/20\n"
    "      --contacts N     simulated arrivals per trial (default 40000)\n"
    "      --no-carry       size each half hour alone; by default a second\n"
    "                       pass simulates the real day in order, so what a\n"
    "                       half hour leaves waiting is served in the next\n"
    "                       one's time, and adds agents where that needs\n"
    "                       them\n"
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

/* ---- the simulation report ----
 *
 * Every report is printed from sim_stats: the figures of each run
 * (sim_report_values), their mean and 95% half-width. With one run the
 * mean is the run's own figure and there is no interval, and the output
 * is the single run's, counts as integers. */

struct view {
    const struct sim_report *rep;   /* rows and intervals */
    const struct sim_stats *st;
    unsigned runs;
};

static double vmean(const struct view *v, unsigned row, unsigned iv,
                    enum sim_fig f)
{
    return sim_stats_mean(v->st, sim_value_index(v->rep, row, iv, f));
}

static double vhw(const struct view *v, unsigned row, unsigned iv,
                  enum sim_fig f)
{
    return sim_stats_hw(v->st, sim_value_index(v->rep, row, iv, f));
}

static bool row_active(const struct view *v, unsigned row)
{
    unsigned t = v->rep->nintervals;
    double occ = vmean(v, row, t, SIM_F_OCC);
    return vmean(v, row, t, SIM_F_OFFERED) > 0 ||
           vmean(v, row, t, SIM_F_REFUSED) > 0 || (!isnan(occ) && occ > 0);
}

/* 100 for the figures printed as percentages, else 1. */
static double fig_scale(enum sim_fig f)
{
    return f == SIM_F_SL || f == SIM_F_OCC || f == SIM_F_ABANDON_RATE ||
           (f >= SIM_F_FIRST_LEVEL && f <= SIM_F_OVERFLOWED) ? 100 : 1;
}

/* One figure as text: "-" when undefined; with several runs "m±hw". */
static void fig_text(char *buf, size_t len, const struct view *v,
                     unsigned row, unsigned iv, enum sim_fig f)
{
    double m = vmean(v, row, iv, f), hw = vhw(v, row, iv, f);
    double scale = fig_scale(f);
    bool count = f < SIM_F_SL;
    if (isnan(m))
        snprintf(buf, len, "-");
    else if (v->runs <= 1)
        snprintf(buf, len, count ? "%.0f" : "%.1f", m * scale);
    else if (isnan(hw))
        snprintf(buf, len, "%.1f", m * scale);
    else
        snprintf(buf, len, "%.1f±%.1f", m * scale, hw * scale);
}

static const enum sim_fig line_figs[] = {
    SIM_F_OFFERED, SIM_F_ANSWERED, SIM_F_ABANDONED, SIM_F_REFUSED,
    SIM_F_SL, SIM_F_ASA, SIM_F_OCC, SIM_F_STAFFED,
};

/* The routing-quality table (docs/ccsim.md, "Routing quality"). */
static const enum sim_fig quality_figs[] = {
    SIM_F_ANSWERED, SIM_F_FIRST_LEVEL, SIM_F_STEP1, SIM_F_STEP2,
    SIM_F_STEP3, SIM_F_OVERFLOWED, SIM_F_PROFICIENCY,
};
static const char *const quality_head[] = {
    "answered", "first%", "step1%", "step2%", "step3+%", "over%", "prof",
};
static const int quality_w1[] = { 8, 7, 7, 7, 7, 6, 5 };

/* One line of figs; the staffed column only with schedules. */
static void print_figs(const struct view *v, const char *label,
                       unsigned row, unsigned iv, const enum sim_fig *figs,
                       size_t nfigs, const int *w1)
{
    /* one run: w1 (the columns of the original table); several: wider,
     * and the "±" is two bytes in UTF-8, so pad by hand */
    static const int wn[] = { 15, 15, 14, 12, 12, 12, 12, 12 };
    printf("  %-20s", label);
    for (size_t i = 0; i < nfigs; i++) {
        char b[64];
        if (figs[i] == SIM_F_STAFFED && !v->rep->scheduled)
            continue;
        fig_text(b, sizeof(b), v, row, iv, figs[i]);
        int w = v->runs <= 1 ? w1[i] : wn[i];
        int len = (int)strlen(b) - (strstr(b, "±") ? 1 : 0);
        printf(" %*s%s", w > len ? w - len : 0, "", b);
    }
    printf("\n");
}

static void print_line(const struct view *v, const char *label,
                       unsigned row, unsigned iv)
{
    static const int w1[] = { 8, 8, 9, 7, 6, 8, 6, 6 };
    print_figs(v, label, row, iv, line_figs,
               sizeof(line_figs) / sizeof(line_figs[0]), w1);
}

static void print_quality(const struct view *v, const char *label,
                          unsigned row, unsigned iv)
{
    print_figs(v, label, row, iv, quality_figs,
               sizeof(quality_figs) / sizeof(quality_figs[0]), quality_w1);
}

static void print_header(const struct view *v, const char *first)
{
    bool sch = v->rep->scheduled;
    if (v->runs <= 1)
        printf("  %-20s  offered answered abandoned refused    SL%%    "
               "ASA s   occ%%%s\n", first, sch ? " agents" : "");
    else
        printf("  %-20s %15s %15s %14s %12s %12s %12s %12s%s\n", first,
               "offered", "answered", "abandoned", "refused", "SL%",
               "ASA s", "occ%", sch ? "       agents" : "");
}

static void print_quality_header(const struct view *v, const char *first)
{
    static const int wn[] = { 15, 15, 14, 12, 12, 12, 12 };
    printf("  %-20s", first);
    for (size_t i = 0; i < sizeof(quality_head) / sizeof(*quality_head); i++)
        printf(" %*s", v->runs <= 1 ? quality_w1[i] : wn[i],
               quality_head[i]);
    printf("\n");
}

static json_t *jnum(double v)
{
    return isnan(v) ? json_null() : json_real(v);
}

/* ---- the campaign (docs/ccsim.md, "Outbound") ---- */

static const enum sim_ob_fig ob_figs[] = {
    SIM_OB_DIALS, SIM_OB_ANSWERED, SIM_OB_CONNECTED, SIM_OB_DROPS,
    SIM_OB_ABANDON_RATE, SIM_OB_MACHINE, SIM_OB_BUSY, SIM_OB_NO_ANSWER,
    SIM_OB_FAILED,
};
static const char *const ob_head[] = {
    "dials", "answered", "connected", "drops", "abandon%", "machine",
    "busy", "no_answer", "failed",
};
#define NOB_FIGS (sizeof(ob_figs) / sizeof(ob_figs[0]))

static double omean(const struct view *v, unsigned k, unsigned iv,
                    enum sim_ob_fig f)
{
    return sim_stats_mean(v->st, sim_ob_value_index(v->rep, k, iv, f));
}

static double ohw(const struct view *v, unsigned k, unsigned iv,
                  enum sim_ob_fig f)
{
    return sim_stats_hw(v->st, sim_ob_value_index(v->rep, k, iv, f));
}

static void ob_fig_text(char *buf, size_t len, const struct view *v,
                        unsigned k, unsigned iv, enum sim_ob_fig f)
{
    double m = omean(v, k, iv, f), hw = ohw(v, k, iv, f);
    double scale = f == SIM_OB_ABANDON_RATE ? 100 : 1;
    if (isnan(m))
        snprintf(buf, len, "-");
    else if (v->runs <= 1)
        snprintf(buf, len, f == SIM_OB_ABANDON_RATE ? "%.2f" : "%.0f",
                 m * scale);
    else if (isnan(hw))
        snprintf(buf, len, "%.1f", m * scale);
    else
        snprintf(buf, len, "%.1f±%.1f", m * scale, hw * scale);
}

static void print_ob_line(const struct view *v, const char *label,
                          unsigned k, unsigned iv)
{
    printf("  %-20s", label);
    for (size_t i = 0; i < NOB_FIGS; i++) {
        char b[64];
        ob_fig_text(b, sizeof(b), v, k, iv, ob_figs[i]);
        int w = v->runs <= 1 ? 9 : 15;
        int len = (int)strlen(b) - (strstr(b, "±") ? 1 : 0);
        printf(" %*s%s", w > len ? w - len : 0, "", b);
    }
    printf("\n");
}

static void print_campaign(const struct view *v)
{
    const struct sim_report *rep = v->rep;
    for (unsigned k = 0; k < rep->ncampaigns; k++) {
        printf("\ncampaign %s (%s, queue %s, %u leads): dials by the half "
               "hour they were placed in, and what became of them\n",
               rep->campaign.name, rep->campaign.mode, rep->campaign.queue,
               rep->campaign.leads);
        printf("  %-20s", "interval");
        for (size_t i = 0; i < NOB_FIGS; i++)
            printf(" %*s", v->runs <= 1 ? 9 : 15, ob_head[i]);
        printf("\n");
        for (unsigned i = 0; i < rep->nintervals; i++) {
            unsigned long m = (unsigned long)(i * rep->interval_s / 60);
            char label[32];
            snprintf(label, sizeof(label), "%02lu:%02lu", m / 60, m % 60);
            if (omean(v, k, i, SIM_OB_DIALS) > 0)
                print_ob_line(v, label, k, i);
        }
        print_ob_line(v, "total", k, rep->nintervals);
    }
}

/* A campaign's cell as JSON, as jcell. */
static json_t *jobcell(const struct view *v, unsigned k, unsigned iv)
{
    json_t *j = json_object(), *ci = v->runs > 1 ? json_object() : NULL;
    for (unsigned f = 0; f < SIM_OB_COUNT; f++) {
        double m = omean(v, k, iv, (enum sim_ob_fig)f);
        if (f != SIM_OB_ABANDON_RATE && v->runs <= 1)
            json_object_set_new(j, sim_ob_fig_name[f],
                                json_integer((json_int_t)(isnan(m) ? 0 : m)));
        else
            json_object_set_new(j, sim_ob_fig_name[f], jnum(m));
        if (ci)
            json_object_set_new(ci, sim_ob_fig_name[f],
                                jnum(ohw(v, k, iv, (enum sim_ob_fig)f)));
    }
    if (ci)
        json_object_set_new(j, "ci95", ci);
    return j;
}

static json_t *jcampaign_head(const struct sim_report *rep)
{
    return json_pack("{s:s, s:s, s:s, s:i}", "campaign", rep->campaign.name,
                     "queue", rep->campaign.queue, "mode", rep->campaign.mode,
                     "leads", (json_int_t)rep->campaign.leads);
}

static json_t *jcampaigns(const struct view *v)
{
    const struct sim_report *rep = v->rep;
    json_t *arr = json_array();
    for (unsigned k = 0; k < rep->ncampaigns; k++) {
        json_t *jc = jcampaign_head(rep), *iv = json_array();
        json_object_set_new(jc, "total", jobcell(v, k, rep->nintervals));
        for (unsigned i = 0; i < rep->nintervals; i++) {
            json_t *c = jobcell(v, k, i);
            json_object_set_new(c, "start_s", json_real(i * rep->interval_s));
            json_array_append_new(iv, c);
        }
        json_object_set_new(jc, "intervals", iv);
        json_array_append_new(arr, jc);
    }
    return arr;
}

static void print_text(const struct view *v, const char *cfg,
                       const char *traffic, uint64_t seed,
                       uint64_t contacts, uint64_t events, uint64_t calls,
                       double end_s)
{
    const struct sim_report *rep = v->rep;
    if (v->runs <= 1)
        printf("ccsim: %s with %s, seed %" PRIu64 ", %.4g h of arrivals, "
               "%u agents, %" PRIu64 " contacts\n", cfg, traffic, seed,
               rep->hours, rep->agents, contacts);
    else
        printf("ccsim: %s with %s, %u runs (seeds %" PRIu64 " to %" PRIu64
               "), %.4g h of arrivals, %u agents, %" PRIu64 " contacts in "
               "all; mean ± 95%% confidence half-width over the runs\n",
               cfg, traffic, v->runs, seed, seed + v->runs - 1, rep->hours,
               rep->agents, contacts);
    for (unsigned q = 0; q < rep->nrows; q++) {
        const struct sim_row *row = &rep->rows[q];
        if (!row_active(v, q))
            continue;
        printf("\nqueue %s (service level within %.4g s, %u agents)\n",
               row->name, row->sl_threshold_ms / 1000.0, row->agents);
        print_header(v, "interval");
        for (unsigned i = 0; i < rep->nintervals; i++) {
            unsigned long m = (unsigned long)(i * rep->interval_s / 60);
            char label[32];
            snprintf(label, sizeof(label), "%02lu:%02lu", m / 60, m % 60);
            print_line(v, label, q, i);
        }
        print_line(v, "total", q, rep->nintervals);
        printf("routing quality of %s's answered contacts\n", row->name);
        print_quality_header(v, "interval");
        for (unsigned i = 0; i < rep->nintervals; i++) {
            unsigned long m = (unsigned long)(i * rep->interval_s / 60);
            char label[32];
            snprintf(label, sizeof(label), "%02lu:%02lu", m / 60, m % 60);
            print_quality(v, label, q, i);
        }
        print_quality(v, "total", q, rep->nintervals);
    }
    printf("\nsummary\n");
    print_header(v, "queue");
    for (unsigned q = 0; q < rep->nrows; q++)
        print_line(v, rep->rows[q].name, q, rep->nintervals);
    print_line(v, "all", rep->nrows, rep->nintervals);
    printf("\nrouting quality\n");
    print_quality_header(v, "queue");
    for (unsigned q = 0; q < rep->nrows; q++)
        print_quality(v, rep->rows[q].name, q, rep->nintervals);
    print_quality(v, "all", rep->nrows, rep->nintervals);
    print_campaign(v);
    double cut = vmean(v, rep->nrows, rep->nintervals, SIM_F_CUT);
    if (cut > 0)
        printf("  %.0f contacts%s still waiting when the run ended "
               "(a day after the last arrival)\n", cut,
               v->runs > 1 ? " (mean per run)" : "");
    if (v->runs <= 1)
        printf("  simulated time %.2f h (arrivals, then until every "
               "contact ended); %" PRIu64 " events, %" PRIu64 " router "
               "calls\n", end_s / 3600, events, calls);
    else
        printf("  %u runs: %" PRIu64 " events, %" PRIu64 " router calls in "
               "all; the longest ran %.2f simulated hours\n", v->runs,
               events, calls, end_s / 3600);
}

/* A CELL (docs/ccsim.md): the figures; with several runs their means and
 * a "ci95" object of half-widths. */
static json_t *jcell(const struct view *v, unsigned row, unsigned iv)
{
    json_t *j = json_object(), *ci = v->runs > 1 ? json_object() : NULL;
    for (unsigned f = 0; f < SIM_F_COUNT; f++) {
        double m = vmean(v, row, iv, (enum sim_fig)f);
        if (f < SIM_F_SL && v->runs <= 1)
            json_object_set_new(j, sim_fig_name[f],
                                json_integer((json_int_t)(isnan(m) ? 0 : m)));
        else
            json_object_set_new(j, sim_fig_name[f], jnum(m));
        if (ci)
            json_object_set_new(ci, sim_fig_name[f],
                                jnum(vhw(v, row, iv, (enum sim_fig)f)));
    }
    if (ci)
        json_object_set_new(j, "ci95", ci);
    return j;
}

static json_t *jintervals(const struct view *v, unsigned row)
{
    json_t *iv = json_array();
    for (unsigned i = 0; i < v->rep->nintervals; i++) {
        json_t *c = jcell(v, row, i);
        json_object_set_new(c, "start_s",
                            json_real(i * v->rep->interval_s));
        json_array_append_new(iv, c);
    }
    return iv;
}

static int print_json_doc(json_t *root)
{
    char *s = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!s)
        return -1;
    printf("%s\n", s);
    free(s);
    return 0;
}

static int print_json(const struct view *v, const char *cfg,
                      const char *traffic, uint64_t seed, uint64_t contacts,
                      uint64_t events, uint64_t calls, double end_s,
                      json_t *replay)
{
    const struct sim_report *rep = v->rep;
    json_t *root = json_object(), *queues = json_array();
    json_object_set_new(root, "tool", json_string("ccsim"));
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "config", json_string(cfg));
    json_object_set_new(root, "traffic", json_string(traffic));
    json_object_set_new(root, "seed", json_integer((json_int_t)seed));
    if (v->runs > 1)
        json_object_set_new(root, "runs", json_integer(v->runs));
    json_object_set_new(root, "hours", json_real(rep->hours));
    json_object_set_new(root, "interval_s", json_real(rep->interval_s));
    json_object_set_new(root, "agents", json_integer(rep->agents));
    json_object_set_new(root, "contacts", json_integer((json_int_t)contacts));
    json_object_set_new(root, "events", json_integer((json_int_t)events));
    json_object_set_new(root, "router_calls",
                        json_integer((json_int_t)calls));
    json_object_set_new(root, "end_s", json_real(end_s));
    json_object_set_new(root, "scheduled", json_boolean(rep->scheduled));
    if (replay)
        json_object_set(root, "replay", replay);
    for (unsigned q = 0; q < rep->nrows; q++) {
        const struct sim_row *row = &rep->rows[q];
        json_t *jq = json_object();
        json_object_set_new(jq, "queue", json_string(row->name));
        json_object_set_new(jq, "sl_threshold_ms",
                            json_integer(row->sl_threshold_ms));
        json_object_set_new(jq, "agents", json_integer(row->agents));
        json_object_set_new(jq, "total", jcell(v, q, rep->nintervals));
        json_object_set_new(jq, "intervals", jintervals(v, q));
        json_array_append_new(queues, jq);
    }
    json_object_set_new(root, "queues", queues);
    json_object_set_new(root, "summary", jcell(v, rep->nrows,
                                               rep->nintervals));
    json_object_set_new(root, "campaigns", jcampaigns(v));
    return print_json_doc(root);
}

/* ---- loading and running ---- */

struct setup {
    struct config cfg;
    bool have_cfg;
};

static int load_config(struct setup *su, const char *path)
{
    char err[512];
    config_defaults(&su->cfg);
    su->have_cfg = true;
    if (config_load(&su->cfg, path, err, sizeof(err)) < 0) {
        fprintf(stderr, "ccsim: %s\n", err);
        return -1;
    }
    return 0;
}

static int parse_seed(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

/* Runs `runs` simulations of each configuration (one, or two for
 * --compare: run i of both with seed + i) and adds their values to the
 * statistics: st[0] the first configuration, st[1] the second, st[2]
 * their difference. The first run's reports stay in lay[] for the
 * layout. Returns 0 or -1 (message printed). */
static int run_all(struct setup *su, unsigned ncfg, const char **cfg_path,
                   const struct model *m, const char *traffic,
                   uint64_t seed, double hours, unsigned runs,
                   const struct sim_replay *rp, bool no_outbound,
                   struct sim_report **lay, struct sim_stats *st,
                   uint64_t *contacts, uint64_t *events, uint64_t *calls,
                   double *end_s)
{
    char err[512];
    for (unsigned r = 0; r < runs; r++) {
        struct sim_report *rep[2] = { NULL, NULL };
        double *val[2] = { NULL, NULL };
        struct sim_opts so;
        memset(&so, 0, sizeof(so));
        so.seed = seed + r;
        so.hours = hours;
        so.interval_s = 1800;
        so.replay = rp->n ? rp->a : NULL;
        so.nreplay = rp->n;
        so.no_outbound = no_outbound;
        int rc = 0;
        for (unsigned k = 0; k < ncfg && rc == 0; k++) {
            if (sim_run(&su[k].cfg.router, cfg_path[k], m, traffic, &so,
                        &rep[k], err, sizeof(err)) < 0) {
                fprintf(stderr, "ccsim: %s\n", err);
                rc = -1;
                break;
            }
            val[k] = sim_report_values(rep[k]);
            if (!val[k] || (r == 0 && sim_stats_init(
                    &st[k], sim_report_nvalues(rep[k])) < 0)) {
                fprintf(stderr, "ccsim: out of memory\n");
                rc = -1;
                break;
            }
            sim_stats_add(&st[k], val[k]);
            *contacts += rep[k]->contacts;
            *events += rep[k]->events;
            *calls += rep[k]->router_calls;
            if (rep[k]->end_s > *end_s)
                *end_s = rep[k]->end_s;
        }
        if (rc == 0 && ncfg == 2) {
            double *d = sim_values_diff(rep[0], val[0], rep[1], val[1]);
            if (!d || (r == 0 && sim_stats_init(
                    &st[2], sim_report_nvalues(rep[1])) < 0)) {
                fprintf(stderr, "ccsim: out of memory\n");
                rc = -1;
            } else {
                sim_stats_add(&st[2], d);
            }
            free(d);
        }
        for (unsigned k = 0; k < 2; k++) {
            free(val[k]);
            if (r == 0 && rc == 0)
                lay[k] = rep[k];
            else
                sim_report_free(rep[k]);
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* ---- ccsim --compare ---- */

static const enum sim_fig cmp_figs[] = {
    SIM_F_OFFERED, SIM_F_ANSWERED, SIM_F_ABANDONED, SIM_F_REFUSED,
    SIM_F_SL, SIM_F_ASA, SIM_F_OCC, SIM_F_ABANDON_RATE,
    SIM_F_FIRST_LEVEL, SIM_F_STEP1, SIM_F_STEP2, SIM_F_STEP3,
    SIM_F_OVERFLOWED, SIM_F_PROFICIENCY,
};
static const char *const cmp_label[] = {
    "offered", "answered", "abandoned", "refused", "service level %",
    "ASA s", "occupancy %", "abandon rate %",
    "first level %", "step 1 %", "step 2 %", "step 3+ %", "overflowed %",
    "proficiency",
};

static unsigned row_in(const struct sim_report *a, const struct sim_report *b,
                       unsigned rb)
{
    if (rb == b->nrows)
        return a->nrows;
    for (unsigned ra = 0; ra < a->nrows; ra++)
        if (!strcmp(a->rows[ra].name, b->rows[rb].name))
            return ra;
    return UINT32_MAX;
}

static void cmp_text(const struct view *va, const struct view *vb,
                     const struct view *vd, const char **paths,
                     const char *traffic, uint64_t seed)
{
    const struct sim_report *a = va->rep, *b = vb->rep;
    unsigned t = b->nintervals;
    printf("ccsim --compare: A %s, B %s, with %s; %u run%s (seeds %" PRIu64
           " to %" PRIu64 "), %.4g h of arrivals, common random numbers: "
           "both see the same arrivals, patience and handle times\n",
           paths[0], paths[1], traffic, vb->runs, vb->runs == 1 ? "" : "s",
           seed, seed + vb->runs - 1, b->hours);
    printf("B - A: mean of the paired differences");
    printf(vb->runs > 1 ? " ± 95%% confidence half-width\n" :
                          " (one run: no interval; give --runs)\n");
    for (unsigned rb = 0; rb <= b->nrows; rb++) {
        unsigned ra = row_in(a, b, rb);
        bool act = row_active(vb, rb) ||
                   (ra != UINT32_MAX && row_active(va, ra));
        if (!act)
            continue;
        if (rb == b->nrows)
            printf("\nall\n");
        else
            printf("\nqueue %s%s\n", b->rows[rb].name,
                   ra == UINT32_MAX ? " (only in B)" : "");
        printf("  %-16s %12s %12s %20s\n", "", "A", "B", "B - A");
        for (size_t i = 0; i < sizeof(cmp_figs) / sizeof(cmp_figs[0]);
             i++) {
            enum sim_fig f = cmp_figs[i];
            double sc = fig_scale(f);
            double ma = ra == UINT32_MAX ? NAN : vmean(va, ra, t, f);
            double mb = vmean(vb, rb, t, f);
            double md = vmean(vd, rb, t, f), hw = vhw(vd, rb, t, f);
            char sa[32], sb[32], sd[48];
            snprintf(sa, sizeof(sa), isnan(ma) ? "-" : "%.2f", ma * sc);
            snprintf(sb, sizeof(sb), isnan(mb) ? "-" : "%.2f", mb * sc);
            if (isnan(md))
                snprintf(sd, sizeof(sd), "-");
            else if (isnan(hw))
                snprintf(sd, sizeof(sd), "%+.2f", md * sc);
            else
                snprintf(sd, sizeof(sd), "%+.2f ± %.2f", md * sc, hw * sc);
            int pad = 20 - ((int)strlen(sd) - (strstr(sd, "±") ? 1 : 0));
            printf("  %-16s %12s %12s %*s%s\n", cmp_label[i], sa, sb,
                   pad > 0 ? pad : 0, "", sd);
        }
    }
    for (unsigned ra = 0; ra < a->nrows; ra++)
        if (row_in(b, a, ra) == UINT32_MAX && row_active(va, ra))
            printf("\nqueue %s: only in A\n", a->rows[ra].name);
    for (unsigned k = 0; k < b->ncampaigns && k < a->ncampaigns; k++) {
        printf("\ncampaign %s (%s, queue %s)\n", b->campaign.name,
               b->campaign.mode, b->campaign.queue);
        printf("  %-16s %12s %12s %20s\n", "", "A", "B", "B - A");
        for (size_t i = 0; i < NOB_FIGS; i++) {
            enum sim_ob_fig f = ob_figs[i];
            double sc = f == SIM_OB_ABANDON_RATE ? 100 : 1;
            double ma = omean(va, k, t, f), mb = omean(vb, k, t, f);
            double md = omean(vd, k, t, f), hw = ohw(vd, k, t, f);
            char sa[32], sb[32], sd[48];
            snprintf(sa, sizeof(sa), isnan(ma) ? "-" : "%.2f", ma * sc);
            snprintf(sb, sizeof(sb), isnan(mb) ? "-" : "%.2f", mb * sc);
            if (isnan(md))
                snprintf(sd, sizeof(sd), "-");
            else if (isnan(hw))
                snprintf(sd, sizeof(sd), "%+.2f", md * sc);
            else
                snprintf(sd, sizeof(sd), "%+.2f ± %.2f", md * sc, hw * sc);
            int pad = 20 - ((int)strlen(sd) - (strstr(sd, "±") ? 1 : 0));
            printf("  %-16s %12s %12s %*s%s\n", ob_head[i], sa, sb,
                   pad > 0 ? pad : 0, "", sd);
        }
    }
}

static json_t *cmp_cells(const struct view *va, unsigned ra,
                         const struct view *vb, const struct view *vd,
                         unsigned rb, unsigned iv)
{
    json_t *j = json_object();
    json_object_set_new(j, "a", ra == UINT32_MAX ? json_null()
                                                 : jcell(va, ra, iv));
    json_object_set_new(j, "b", jcell(vb, rb, iv));
    json_object_set_new(j, "diff", jcell(vd, rb, iv));
    return j;
}

static int cmp_json(const struct view *va, const struct view *vb,
                    const struct view *vd, const char **paths,
                    const char *traffic, uint64_t seed, json_t *replay)
{
    const struct sim_report *a = va->rep, *b = vb->rep;
    json_t *root = json_object(), *queues = json_array();
    json_object_set_new(root, "tool", json_string("ccsim"));
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "compare", json_pack("{s:s, s:s}", "a",
                                                   paths[0], "b", paths[1]));
    json_object_set_new(root, "traffic", json_string(traffic));
    json_object_set_new(root, "seed", json_integer((json_int_t)seed));
    json_object_set_new(root, "runs", json_integer(vb->runs));
    json_object_set_new(root, "hours", json_real(b->hours));
    json_object_set_new(root, "interval_s", json_real(b->interval_s));
    if (replay)
        json_object_set(root, "replay", replay);
    for (unsigned rb = 0; rb < b->nrows; rb++) {
        unsigned ra = row_in(a, b, rb);
        json_t *jq = cmp_cells(va, ra, vb, vd, rb, b->nintervals);
        json_t *iv = json_array();
        json_object_set_new(jq, "queue", json_string(b->rows[rb].name));
        for (unsigned i = 0; i < b->nintervals; i++) {
            json_t *c = cmp_cells(va, ra, vb, vd, rb, i);
            json_object_set_new(c, "start_s", json_real(i * b->interval_s));
            json_array_append_new(iv, c);
        }
        json_object_set_new(jq, "intervals", iv);
        json_array_append_new(queues, jq);
    }
    json_t *only_a = json_array();
    for (unsigned ra = 0; ra < a->nrows; ra++)
        if (row_in(b, a, ra) == UINT32_MAX)
            json_array_append_new(only_a, json_string(a->rows[ra].name));
    json_object_set_new(root, "queues", queues);
    json_object_set_new(root, "only_in_a", only_a);
    json_object_set_new(root, "summary", cmp_cells(va, a->nrows, vb, vd,
                                                   b->nrows, b->nintervals));
    json_t *camps = json_array();
    for (unsigned k = 0; k < b->ncampaigns && k < a->ncampaigns; k++) {
        json_t *jc = jcampaign_head(b), *iv = json_array();
        json_object_set_new(jc, "a", jobcell(va, k, b->nintervals));
        json_object_set_new(jc, "b", jobcell(vb, k, b->nintervals));
        json_object_set_new(jc, "diff", jobcell(vd, k, b->nintervals));
        for (unsigned i = 0; i < b->nintervals; i++) {
            json_t *c = json_object();
            json_object_set_new(c, "a", jobcell(va, k, i));
            json_object_set_new(c, "b", jobcell(vb, k, i));
            json_object_set_new(c, "diff", jobcell(vd, k, i));
            json_object_set_new(c, "start_s", json_real(i * b->interval_s));
            json_array_append_new(iv, c);
        }
        json_object_set_new(jc, "intervals", iv);
        json_array_append_new(camps, jc);
    }
    json_object_set_new(root, "campaigns", camps);
    return print_json_doc(root);
}

/* ---- ccsim --config --traffic, ccsim --compare ---- */

static int cmd_sim(int argc, char **argv)
{
    enum { O_JSON = 1000, O_RUNS, O_PLOT, O_COMPARE, O_REPLAY, O_TENANT,
           O_NO_OUTBOUND };
    static const struct option lo[] = {
        { "config", required_argument, NULL, 'c' },
        { "traffic", required_argument, NULL, 't' },
        { "seed", required_argument, NULL, 's' },
        { "hours", required_argument, NULL, 'H' },
        { "json", no_argument, NULL, O_JSON },
        { "runs", required_argument, NULL, O_RUNS },
        { "plot", required_argument, NULL, O_PLOT },
        { "compare", no_argument, NULL, O_COMPARE },
        { "replay", required_argument, NULL, O_REPLAY },
        { "tenant", required_argument, NULL, O_TENANT },
        { "no-outbound", no_argument, NULL, O_NO_OUTBOUND },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *cfg_path = NULL, *traffic = NULL, *plot = NULL;
    const char *replay = NULL, *tenant = "default";
    bool json = false, have_seed = false, compare = false;
    bool no_outbound = false;
    double hours = 0, h;
    uint64_t seed = 0;
    unsigned runs = 1;
    int o;
    while ((o = getopt_long(argc, argv, "c:t:s:H:h", lo, NULL)) != -1) {
        switch (o) {
        case 'c': cfg_path = optarg; break;
        case 't': traffic = optarg; break;
        case 's':
            if (parse_seed(optarg, &seed) < 0)
                return usage("--seed: a whole number");
            have_seed = true;
            break;
        case 'H':
            if (parse_double(optarg, &h) < 0 || !(h > 0) || h > 24 * 366)
                return usage("--hours: a positive number of hours (at most "
                             "a year)");
            hours = h;
            break;
        case O_JSON: json = true; break;
        case O_RUNS: {
            double r;
            if (parse_double(optarg, &r) < 0 || r < 1 || r > 10000 ||
                r != floor(r))
                return usage("--runs: a whole number from 1 to 10000");
            runs = (unsigned)r;
            break;
        }
        case O_PLOT: plot = optarg; break;
        case O_COMPARE: compare = true; break;
        case O_REPLAY: replay = optarg; break;
        case O_TENANT: tenant = optarg; break;
        case O_NO_OUTBOUND: no_outbound = true; break;
        case 'h': fputs(usage_text, stdout); return EXIT_OK;
        default: return usage(NULL);
        }
    }
    char rhost[256];
    int rport = 0;
    if (replay) {
        const char *colon = strrchr(replay, ':');
        char *end;
        long p = colon ? strtol(colon + 1, &end, 10) : 0;
        if (!colon || colon == replay || *end || p < 1 || p > 65535 ||
            (size_t)(colon - replay) >= sizeof(rhost))
            return usage("--replay: HOST:PORT of the engine's Redis");
        memcpy(rhost, replay, (size_t)(colon - replay));
        rhost[colon - replay] = 0;
        rport = (int)p;
        if (!tenant[0] || strlen(tenant) >= ROUTER_ID_MAX)
            return usage("--tenant: a tenant name");
    }
    const char *paths[2] = { cfg_path, NULL };
    unsigned ncfg = 1;
    if (compare) {
        if (cfg_path || argc - optind != 2)
            return usage("--compare takes two routing configurations: "
                         "ccsim --compare A.yaml B.yaml --traffic M.yaml");
        if (plot)
            return usage("--plot goes with one configuration, not "
                         "--compare");
        paths[0] = argv[optind];
        paths[1] = argv[optind + 1];
        ncfg = 2;
    } else if (optind < argc) {
        return usage("unexpected argument");
    }
    if (!paths[0] || !traffic)
        return usage("--config (or --compare A B) and --traffic are both "
                     "needed");

    static struct setup su[2];
    static struct model m;
    struct sim_replay rp;
    json_t *jr = NULL;
    struct sim_stats st[3];
    memset(&rp, 0, sizeof(rp));
    struct sim_report *lay[2] = { NULL, NULL };
    char err[512];
    int ret = EXIT_ERR;
    memset(st, 0, sizeof(st));
    for (unsigned k = 0; k < ncfg; k++)
        if (load_config(&su[k], paths[k]) < 0)
            goto done;
    if (model_load(&m, traffic, err, sizeof(err)) < 0) {
        fprintf(stderr, "ccsim: %s\n", err);
        goto done;
    }
    if (!have_seed)
        seed = m.seed;
    if (replay) {
        if (sim_replay_read(rhost, rport, tenant, &rp, err,
                            sizeof(err)) < 0) {
            fprintf(stderr, "ccsim: %s\n", err);
            goto done;
        }
        /* the replay's day: to just after its last arrival */
        if (!hours)
            hours = (rp.span_s + 0.001) / 3600;
    }
    if (!hours)
        hours = m.duration_s > 0 ? m.duration_s / 3600 : 24;
    uint64_t contacts = 0, events = 0, calls = 0;
    double end_s = 0;
    if (run_all(su, ncfg, paths, &m, traffic, seed, hours, runs, &rp,
                no_outbound, lay, st, &contacts, &events, &calls,
                &end_s) < 0)
        goto done;
    if (replay)
        jr = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:f}",
                       "redis", replay, "tenant", tenant, "entries",
                       (json_int_t)rp.entries, "contacts", (json_int_t)rp.n,
                       "stream_answered", (json_int_t)rp.answered,
                       "stream_abandoned", (json_int_t)rp.abandoned,
                       "skills_only", (json_int_t)rp.skills_only,
                       "t0_ms", (json_int_t)rp.t0_ms, "span_s", rp.span_s);
    if (replay && !json)
        printf("replay: %zu contacts from the events of tenant %s at %s "
               "(%zu entries; %zu answered and %zu abandoned in them; "
               "%zu routed by skills alone left out), over %.4g h\n\n",
               rp.n, tenant, replay, rp.entries, rp.answered, rp.abandoned,
               rp.skills_only, rp.span_s / 3600);
    if (compare) {
        struct view va = { lay[0], &st[0], runs };
        struct view vb = { lay[1], &st[1], runs };
        struct view vd = { lay[1], &st[2], runs };
        if (json) {
            if (cmp_json(&va, &vb, &vd, paths, traffic, seed, jr) < 0) {
                fprintf(stderr, "ccsim: out of memory\n");
                goto done;
            }
        } else {
            cmp_text(&va, &vb, &vd, paths, traffic, seed);
        }
    } else {
        struct view v = { lay[0], &st[0], runs };
        if (json) {
            if (print_json(&v, cfg_path, traffic, seed, contacts, events,
                           calls, end_s, jr) < 0) {
                fprintf(stderr, "ccsim: out of memory\n");
                goto done;
            }
        } else {
            print_text(&v, cfg_path, traffic, seed, contacts, events, calls,
                       end_s);
        }
        if (plot && sim_plot(plot, lay[0], &st[0], err, sizeof(err)) < 0) {
            fprintf(stderr, "ccsim: %s\n", err);
            goto done;
        }
    }
    ret = fflush(stdout) == 0 ? EXIT_OK : EXIT_ERR;
done:
    for (unsigned k = 0; k < 2; k++) {
        sim_report_free(lay[k]);
        if (su[k].have_cfg)
            config_fini(&su[k].cfg);
    }
    for (unsigned k = 0; k < 3; k++)
        sim_stats_fini(&st[k]);
    sim_replay_free(&rp);
    json_decref(jr);
    return ret;
}

/* ---- ccsim staff ---- */

static int parse_target(const char *s, double *pct, uint32_t *ms)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    double p, secs;
    if (!slash || (size_t)(slash - s) >= sizeof(buf))
        return -1;
    memcpy(buf, s, (size_t)(slash - s));
    buf[slash - s] = 0;
    if (parse_double(buf, &p) < 0 || !(p > 0) || !(p < 100) ||
        parse_seconds(slash + 1, &secs) < 0 || secs < 0 || secs > 86400)
        return -1;
    *pct = p / 100;
    *ms = (uint32_t)llround(secs * 1000);
    return 0;
}

/* Whether any group of the model has shifts or breaks. */
static bool model_scheduled(const struct model *m)
{
    for (unsigned g = 0; g < m->ngroups; g++)
        if (m->groups[g].nshifts || m->groups[g].nbreaks)
            return true;
    return false;
}

/* The model's schedule against the answer (docs/ccsim.md, "Staffing"):
 * per half hour and group, the agents the schedule has available (mean),
 * "/" the agents found, and "short" where the schedule has fewer. */
static void staff_schedule_text(const struct sim_staffing *r,
                                const struct model *m)
{
    unsigned shorts = 0;
    printf("\n  the model's schedule: agents logged in and not on a break "
           "(mean over the half hour) / agents needed\n");
    printf("  %-8s", "interval");
    for (unsigned g = 0; g < r->ngroups; g++)
        printf(" %16.16s", m->groups[g].name);
    printf("\n");
    for (unsigned i = 0; i < r->nintervals; i++) {
        unsigned long mi = (unsigned long)(i * r->interval_s / 60);
        printf("  %02lu:%02lu   ", mi / 60, mi % 60);
        for (unsigned g = 0; g < r->ngroups; g++) {
            unsigned c = r->count[(size_t)i * r->ngroups + g];
            double have = sim_scheduled_agents(m, g, i * r->interval_s,
                                               (i + 1) * r->interval_s);
            char b[48];
            snprintf(b, sizeof(b), "%.1f/%u%s", have, c,
                     have < c ? " short" : "");
            shorts += have < c;
            printf(" %16s", b);
        }
        printf("\n");
    }
    printf("  %u group half hours short of the agents needed\n", shorts);
}

static void staff_text(const struct sim_staffing *r, const struct model *m,
                       const struct sim_staff_opts *o, const char *cfg,
                       const char *traffic)
{
    printf("ccsim staff: %s with %s, seed %" PRIu64 ": the fewest agents "
           "per group and half hour for a service level of %.4g%% within "
           "%.4g s in every queue\n", cfg, traffic, o->seed, 100 * o->target,
           o->target_ms / 1000.0);
    printf("\n  %-8s %9s", "interval", "arrivals/h");
    for (unsigned g = 0; g < r->ngroups; g++)
        printf(" %10.10s", m->groups[g].name);
    printf("   service level %% by queue:");
    for (unsigned q = 0; q < r->nrows; q++)
        printf(" %s", r->row_name[q]);
    printf("\n");
    uint64_t total[MODEL_MAX_GROUPS] = { 0 };
    unsigned unmet = 0, carried = 0;
    for (unsigned i = 0; i < r->nintervals; i++) {
        unsigned long mi = (unsigned long)(i * r->interval_s / 60);
        printf("  %02lu:%02lu    %9.1f", mi / 60, mi % 60,
               r->rate[i] * 3600);
        for (unsigned g = 0; g < r->ngroups; g++) {
            unsigned c = r->count[(size_t)i * r->ngroups + g];
            unsigned a = r->alone[(size_t)i * r->ngroups + g];
            char b[32];
            total[g] += c;
            carried += c > a;
            if (c > a)
                snprintf(b, sizeof(b), "%u(+%u)", c, c - a);
            else
                snprintf(b, sizeof(b), "%u", c);
            printf(" %10s", b);
        }
        printf("  ");
        for (unsigned q = 0; q < r->nrows; q++) {
            double sl = r->sl[(size_t)i * r->nrows + q];
            bool u = r->unmet[(size_t)i * r->nrows + q] && !isnan(sl);
            unmet += u;
            if (isnan(sl))
                printf(" -");
            else
                printf(" %.1f%s", 100 * sl, u ? "(unmet)" : "");
        }
        printf("\n");
    }
    printf("\n  agent half hours:");
    for (unsigned g = 0; g < r->ngroups; g++)
        printf(" %s %" PRIu64 "%s", m->groups[g].name, total[g],
               g + 1 < r->ngroups ? "," : "\n");
    if (unmet)
        printf("  %u queue half hours cannot meet the target (no group "
               "serves the queue, or more than the search's limit)\n",
               unmet);
    if (o->carry)
        printf("  backlog carried: %u group half hours need more agents "
               "than sized alone, (+n) above\n", carried);
    else
        printf("  each half hour sized alone (--no-carry)\n");
    printf("  %" PRIu64 " simulations, %" PRIu64 " contacts simulated\n",
           r->evaluations, r->contacts);
    if (model_scheduled(m))
        staff_schedule_text(r, m);
}

static int staff_json(const struct sim_staffing *r, const struct model *m,
                      const struct sim_staff_opts *o, const char *cfg,
                      const char *traffic)
{
    json_t *root = json_object(), *ivs = json_array();
    json_object_set_new(root, "tool", json_string("ccsim"));
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "staff", json_pack("{s:f, s:f, s:b}",
                        "target", o->target, "target_s",
                        o->target_ms / 1000.0, "carry", o->carry));
    json_object_set_new(root, "config", json_string(cfg));
    json_object_set_new(root, "traffic", json_string(traffic));
    json_object_set_new(root, "seed", json_integer((json_int_t)o->seed));
    json_object_set_new(root, "interval_s", json_real(r->interval_s));
    for (unsigned i = 0; i < r->nintervals; i++) {
        json_t *iv = json_object(), *ag = json_object(), *st = json_object();
        json_t *al = json_object();
        json_t *sl = json_object(), *un = json_array();
        json_t *sc = model_scheduled(m) ? json_object() : NULL;
        json_t *sh = sc ? json_array() : NULL;
        json_object_set_new(iv, "start_s", json_real(i * r->interval_s));
        json_object_set_new(iv, "rate_per_h", json_real(r->rate[i] * 3600));
        for (unsigned g = 0; g < r->ngroups; g++) {
            size_t k = (size_t)i * r->ngroups + g;
            json_object_set_new(ag, m->groups[g].name,
                                json_integer(r->count[k]));
            json_object_set_new(al, m->groups[g].name,
                                json_integer(r->alone[k]));
            json_object_set_new(st, m->groups[g].name,
                                json_integer(r->start[k]));
            if (sc) {
                double have = sim_scheduled_agents(m, g, i * r->interval_s,
                                                   (i + 1) * r->interval_s);
                json_object_set_new(sc, m->groups[g].name, json_real(have));
                if (have < r->count[k])
                    json_array_append_new(sh,
                                          json_string(m->groups[g].name));
            }
        }
        for (unsigned q = 0; q < r->nrows; q++) {
            size_t k = (size_t)i * r->nrows + q;
            json_object_set_new(sl, r->row_name[q], jnum(r->sl[k]));
            if (r->unmet[k] && !isnan(r->sl[k]))
                json_array_append_new(un, json_string(r->row_name[q]));
        }
        json_object_set_new(iv, "agents", ag);
        json_object_set_new(iv, "alone", al);
        json_object_set_new(iv, "erlang_c_start", st);
        json_object_set_new(iv, "service_level", sl);
        json_object_set_new(iv, "unmet", un);
        if (sc) {
            json_object_set_new(iv, "scheduled", sc);
            json_object_set_new(iv, "short", sh);
        }
        json_array_append_new(ivs, iv);
    }
    json_object_set_new(root, "intervals", ivs);
    json_object_set_new(root, "simulations",
                        json_integer((json_int_t)r->evaluations));
    json_object_set_new(root, "contacts",
                        json_integer((json_int_t)r->contacts));
    return print_json_doc(root);
}

static int cmd_staff(int argc, char **argv)
{
    enum { O_JSON = 1000, O_TARGET, O_CONTACTS, O_NO_CARRY };
    static const struct option lo[] = {
        { "config", required_argument, NULL, 'c' },
        { "traffic", required_argument, NULL, 't' },
        { "seed", required_argument, NULL, 's' },
        { "hours", required_argument, NULL, 'H' },
        { "target", required_argument, NULL, O_TARGET },
        { "contacts", required_argument, NULL, O_CONTACTS },
        { "no-carry", no_argument, NULL, O_NO_CARRY },
        { "json", no_argument, NULL, O_JSON },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *cfg_path = NULL, *traffic = NULL;
    struct sim_staff_opts so;
    bool json = false, have_seed = false, have_target = false;
    double h;
    int o;
    memset(&so, 0, sizeof(so));
    so.interval_s = 1800;
    so.contacts = 40000;
    so.carry = true;
    optind = 1;
    while ((o = getopt_long(argc, argv, "c:t:s:H:h", lo, NULL)) != -1) {
        switch (o) {
        case 'c': cfg_path = optarg; break;
        case 't': traffic = optarg; break;
        case 's':
            if (parse_seed(optarg, &so.seed) < 0)
                return usage("--seed: a whole number");
            have_seed = true;
            break;
        case 'H':
            if (parse_double(optarg, &h) < 0 || !(h > 0) || h > 24 * 31)
                return usage("--hours: a positive number of hours (at most "
                             "a month)");
            so.hours = h;
            break;
        case O_TARGET:
            if (parse_target(optarg, &so.target, &so.target_ms) < 0)
                return usage("--target: PERCENT/SECONDS, as 80/20 (80% "
                             "answered within 20 s)");
            have_target = true;
            break;
        case O_CONTACTS:
            if (parse_double(optarg, &h) < 0 || h < 100 || h > 1e7)
                return usage("--contacts: from 100 to 10000000");
            so.contacts = h;
            break;
        case O_NO_CARRY: so.carry = false; break;
        case O_JSON: json = true; break;
        case 'h': fputs(usage_text, stdout); return EXIT_OK;
        default: return usage(NULL);
        }
    }
    if (optind < argc)
        return usage("unexpected argument");
    if (!cfg_path || !traffic || !have_target)
        return usage("staff needs --config, --traffic and --target");

    static struct setup su;
    static struct model m;
    struct sim_staffing *res = NULL;
    char err[512];
    int ret = EXIT_ERR;
    if (load_config(&su, cfg_path) < 0)
        goto done;
    if (model_load(&m, traffic, err, sizeof(err)) < 0) {
        fprintf(stderr, "ccsim: %s\n", err);
        goto done;
    }
    if (!have_seed)
        so.seed = m.seed;
    if (!so.hours)
        so.hours = m.duration_s > 0 ? m.duration_s / 3600 : 24;
    if (sim_staff(&su.cfg.router, cfg_path, &m, traffic, &so, &res, err,
                  sizeof(err)) < 0) {
        fprintf(stderr, "ccsim: %s\n", err);
        goto done;
    }
    if (json) {
        if (staff_json(res, &m, &so, cfg_path, traffic) < 0) {
            fprintf(stderr, "ccsim: out of memory\n");
            goto done;
        }
    } else {
        staff_text(res, &m, &so, cfg_path, traffic);
    }
    ret = fflush(stdout) == 0 ? EXIT_OK : EXIT_ERR;
done:
    sim_staffing_free(res);
    if (su.have_cfg)
        config_fini(&su.cfg);
    return ret;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "erlang"))
        return cmd_erlang(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "staff"))
        return cmd_staff(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    return cmd_sim(argc, argv);
}
