/* bench-erlang.c -- the simulator (bench/sim.c, the real router in
 * simulated time) against Erlang C and Erlang A (engine/erlang.c) over a
 * grid of agents and offered loads: the table of docs/ccsim.md, "Checked
 * against theory", for every point of the grid that issue 13 names
 * (c from 1 to 200, occupancy from 50% to 95%) and a few Erlang A points.
 *
 * Each point: one queue, Poisson arrivals, exponential handle times of
 * AHT_S, c agents who answer at once (think 0), no wrap-up (M/M/c; with
 * exponential patience of mean AHT_S, M/M/c+M), service-level threshold
 * TARGET_S. The first half hour is left out (the queue starts empty). The
 * 95% half-width of each simulated figure comes from batch means over 20
 * batches of half hours; a point runs with START contacts, and again with
 * twice as many while a half-width is over 0.5 points (so that a
 * difference within 1 point is told apart from noise), up to --max
 * contacts. The table says, per point, the differences and whether they
 * are within 1 percentage point with a half-width of at most 0.5. The
 * JSON (--json) has, per point, [simulated, 95% half-width, theory].
 *
 * A figure, never a verdict: the exit status is 0 whatever the
 * differences (make bench records them; tests/test-ccsim.c asserts a few
 * points).
 *
 * usage: bench-erlang [--quick] [--max N] [--json FILE]
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccload-model.h"
#include "config.h"
#include "erlang.h"
#include "sim.h"

#define AHT_S 60.0
#define TARGET_S 20.0
#define BATCHES 20
#define START 200000.0

struct res {
    double p_wait, sl, ab, hw_wait, hw_sl, hw_ab, contacts;
};

static double half_width(const double *v, unsigned n)
{
    double mean = 0, ss = 0;
    for (unsigned i = 0; i < n; i++)
        mean += v[i];
    mean /= n;
    for (unsigned i = 0; i < n; i++)
        ss += (v[i] - mean) * (v[i] - mean);
    return 2.093 * sqrt(ss / (n - 1) / n);
}

static int simulate(unsigned c, double occ, double patience, double contacts,
                    struct res *out)
{
    static struct config cfg;
    static struct model m;
    char text[1024], err[512];
    double rate = occ * c / AHT_S;
    int n = snprintf(text, sizeof(text),
                     "queues:\n  - name: q\n    skills: {s: 1}\n"
                     "    service_level: {percent: 80, seconds: %u}\n"
                     "    wrapup: 0\n", (unsigned)TARGET_S);
    config_defaults(&cfg);
    if (config_load_string(&cfg, "routing.yaml", text, (size_t)n, err,
                           sizeof(err)) < 0)
        goto fail;
    char pat[64];
    if (patience > 0)
        snprintf(pat, sizeof(pat), "{dist: exponential, mean: %gs}",
                 patience);
    else
        snprintf(pat, sizeof(pat), "none");
    n = snprintf(text, sizeof(text),
                 "name: erlang\narrivals: {rate: %.17g}\npatience: %s\n"
                 "mix:\n  - {name: q, queue: q}\nagents:\n  - group: a\n"
                 "    count: %u\n    skills: {s: 1}\n    think: 0\n"
                 "    handle: {dist: exponential, mean: %gs}\n", rate, pat,
                 c, AHT_S);
    if (model_load_string(&m, "model.yaml", text, (size_t)n, err,
                          sizeof(err)) < 0)
        goto fail;
    struct sim_opts so = { .seed = 20261130 + c, .interval_s = 1800,
                           .hours = contacts / rate / 3600 };
    struct sim_report *rep;
    if (sim_run(&cfg.router, "routing.yaml", &m, "model.yaml", &so, &rep,
                err, sizeof(err)) < 0)
        goto fail;
    unsigned per = (rep->nintervals - 1) / BATCHES;
    double bw[BATCHES], bs[BATCHES], ba[BATCHES];
    struct sim_cell all, b;
    sim_report_sum(rep, 0, 1, 1 + per * BATCHES, &all);
    for (unsigned i = 0; i < BATCHES; i++) {
        sim_report_sum(rep, 0, 1 + i * per, 1 + (i + 1) * per, &b);
        bw[i] = (double)b.waited / (double)b.offered;
        bs[i] = (double)b.answered_in_sl / (double)(b.answered + b.abandoned);
        ba[i] = (double)b.abandoned / (double)b.offered;
    }
    out->p_wait = (double)all.waited / (double)all.offered;
    out->sl = (double)all.answered_in_sl /
              (double)(all.answered + all.abandoned);
    out->ab = (double)all.abandoned / (double)all.offered;
    out->hw_wait = half_width(bw, BATCHES);
    out->hw_sl = half_width(bs, BATCHES);
    out->hw_ab = half_width(ba, BATCHES);
    out->contacts = (double)all.offered;
    sim_report_free(rep);
    config_fini(&cfg);
    return per >= 1 ? 0 : -1;
fail:
    fprintf(stderr, "bench-erlang: %s\n", err);
    config_fini(&cfg);
    return -1;
}

int main(int argc, char **argv)
{
    static const unsigned cs[] = { 1, 2, 5, 10, 20, 50, 100, 200 };
    static const double occs[] = { 0.5, 0.7, 0.8, 0.9, 0.95 };
    static const unsigned cs_a[] = { 10, 50, 200 };
    static const double occs_a[] = { 0.9, 1.0, 1.1 };
    double max = 3.2e6;
    const char *json_path = NULL;
    bool quick = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = true;
        else if (!strcmp(argv[i], "--max") && i + 1 < argc)
            max = atof(argv[++i]);
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json_path = argv[++i];
        else {
            fprintf(stderr, "usage: bench-erlang [--quick] [--max N] "
                    "[--json FILE]\n");
            return 2;
        }
    }
    if (quick && max > 8e5)
        max = 8e5;
    FILE *js = json_path ? fopen(json_path, "w") : NULL;
    if (json_path && !js) {
        perror(json_path);
        return 1;
    }
    if (js)
        fprintf(js, "{\"aht_s\": %g, \"target_s\": %g, \"points\": [",
                AHT_S, TARGET_S);
    printf("| model | agents | occupancy | contacts | P(wait) sim | "
           "theory | diff pp | SL sim | theory | diff pp | abandon sim | "
           "theory | diff pp | within 1 pp |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
           "---:|---|\n");
    unsigned npts = 0, nok = 0;
    double maxdiff = 0;
    size_t nc = quick ? 4 : sizeof(cs) / sizeof(cs[0]);
    for (int model = 0; model < 2; model++) {
        size_t na = model ? sizeof(cs_a) / sizeof(cs_a[0]) : nc;
        size_t no = model ? sizeof(occs_a) / sizeof(occs_a[0])
                          : sizeof(occs) / sizeof(occs[0]);
        for (size_t ia = 0; ia < na; ia++)
            for (size_t io = 0; io < no; io++) {
                unsigned c = model ? cs_a[ia] : cs[quick ? ia * 2 : ia];
                double occ = model ? occs_a[io] : occs[io];
                double pat = model ? AHT_S : 0;
                double rate = occ * c / AHT_S;
                struct erlang_result th;
                int rc = model ? erlang_a(rate, AHT_S, c, TARGET_S, pat, &th)
                               : erlang_c(rate, AHT_S, c, TARGET_S, &th);
                if (rc < 0)
                    continue;
                struct res r;
                double n = START;
                for (;;) {
                    if (simulate(c, occ, pat, n, &r) < 0)
                        return 1;
                    bool tight = r.hw_wait <= 0.005 && r.hw_sl <= 0.005 &&
                                 (!model || r.hw_ab <= 0.005);
                    if (tight || n * 2 > max)
                        break;
                    n *= 2;
                }
                double dw = 100 * (r.p_wait - th.p_wait);
                double ds = 100 * (r.sl - th.service_level);
                double da = 100 * (r.ab - th.p_abandon);
                bool tight = r.hw_wait <= 0.005 && r.hw_sl <= 0.005 &&
                             (!model || r.hw_ab <= 0.005);
                bool ok = tight && fabs(dw) <= 1 && fabs(ds) <= 1 &&
                          (!model || fabs(da) <= 1);
                npts++;
                nok += ok;
                maxdiff = fmax(maxdiff, fmax(fabs(dw), fabs(ds)));
                if (model)
                    maxdiff = fmax(maxdiff, fabs(da));
                printf("| %s | %u | %.0f%% | %.0f | %.2f%% +-%.2f | %.2f%% "
                       "| %+.2f | %.2f%% +-%.2f | %.2f%% | %+.2f | ",
                       model ? "Erlang A" : "Erlang C", c, 100 * occ,
                       r.contacts, 100 * r.p_wait, 100 * r.hw_wait,
                       100 * th.p_wait, dw, 100 * r.sl, 100 * r.hw_sl,
                       100 * th.service_level, ds);
                if (model)
                    printf("%.2f%% +-%.2f | %.2f%% | %+.2f | ", 100 * r.ab,
                           100 * r.hw_ab, 100 * th.p_abandon, da);
                else
                    printf("- | - | - | ");
                printf("%s |\n", ok ? "yes" : tight ? "no" :
                                 "no (half-width over 0.5 at the cap)");
                fflush(stdout);
                if (js)
                    fprintf(js, "%s{\"model\": \"%s\", \"agents\": %u, "
                            "\"occupancy\": %g, \"contacts\": %.0f, "
                            "\"p_wait\": [%.6f, %.6f, %.6f], "
                            "\"service_level\": [%.6f, %.6f, %.6f], "
                            "\"abandon\": [%.6f, %.6f, %.6f], "
                            "\"within_1pp\": %s}", npts > 1 ? ", " : "",
                            model ? "erlang_a" : "erlang_c", c, occ,
                            r.contacts, r.p_wait, r.hw_wait, th.p_wait,
                            r.sl, r.hw_sl, th.service_level, r.ab, r.hw_ab,
                            th.p_abandon, ok ? "true" : "false");
            }
    }
    printf("\n%u of %u points within 1 percentage point with a half-width "
           "of at most 0.5; largest difference %.2f pp\n", nok, npts,
           maxdiff);
    if (js) {
        fprintf(js, "], \"within\": %u, \"points_run\": %u, "
                "\"max_diff_pp\": %.4f}\n", nok, npts, maxdiff);
        fclose(js);
    }
    return 0;
}
