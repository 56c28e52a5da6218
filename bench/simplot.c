/* simplot.c -- ccsim --plot; see simplot.h.
 *
 * gnuplot is a program, not a library here: the data and the script go
 * to files in DIR (kept, so that a planner can restyle the charts and
 * run gnuplot again), and `gnuplot ccsim.gp` runs in DIR as a child
 * process. Row names go into the script as titles, so characters that a
 * gnuplot string could not hold (quotes, backslashes, control bytes) are
 * replaced by '_'; enhanced text is off, so '_' and '^' stay literal.
 */
#include "simplot.h"

#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

extern char **environ;

static void put(FILE *f, double v, double scale)
{
    if (isnan(v))
        fputs(" NaN", f);
    else
        fprintf(f, " %.6g", v * scale);
}

static void put_fig(FILE *f, const struct sim_report *rep,
                    const struct sim_stats *st, unsigned row, unsigned iv,
                    enum sim_fig fig, double scale)
{
    size_t i = sim_value_index(rep, row, iv, fig);
    double hw = sim_stats_hw(st, i);
    put(f, sim_stats_mean(st, i), scale);
    put(f, isnan(hw) ? 0 : hw, scale);
}

static bool row_active(const struct sim_report *rep,
                       const struct sim_stats *st, unsigned row)
{
    double off = sim_stats_mean(st, sim_value_index(rep, row,
                                                    rep->nintervals,
                                                    SIM_F_OFFERED));
    double ref = sim_stats_mean(st, sim_value_index(rep, row,
                                                    rep->nintervals,
                                                    SIM_F_REFUSED));
    return off > 0 || ref > 0;
}

static int write_data(const char *path, const struct sim_report *rep,
                      const struct sim_stats *st, FILE *gp, unsigned *nblocks)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs("# ccsim --plot: one block per row; hour, then mean and 95% "
          "half-width of offered, service level %, ASA s, occupancy %, "
          "abandon rate %\n", f);
    *nblocks = 0;
    fputs("titles = \"", gp);
    for (unsigned q = 0; q < rep->nrows; q++) {
        if (!row_active(rep, st, q))
            continue;
        if (*nblocks)
            fputs("\n\n", f);
        fprintf(f, "# %s\n", rep->rows[q].name);
        for (unsigned i = 0; i < rep->nintervals; i++) {
            fprintf(f, "%.4f", (i + 0.5) * rep->interval_s / 3600);
            put_fig(f, rep, st, q, i, SIM_F_OFFERED, 1);
            put_fig(f, rep, st, q, i, SIM_F_SL, 100);
            put_fig(f, rep, st, q, i, SIM_F_ASA, 1);
            put_fig(f, rep, st, q, i, SIM_F_OCC, 100);
            put_fig(f, rep, st, q, i, SIM_F_ABANDON_RATE, 100);
            fputc('\n', f);
        }
        /* a title is one gnuplot word: no blanks, no quotes */
        fputs(*nblocks ? " " : "", gp);
        for (const char *p = rep->rows[q].name; *p; p++)
            fputc((unsigned char)*p <= ' ' || *p == '"' || *p == '\\' ||
                  *p == '\'' || (unsigned char)*p >= 0x7f ? '_' : *p, gp);
        (*nblocks)++;
    }
    fputs("\"\n", gp);
    return fclose(f);
}

static void chart(FILE *gp, const char *png, const char *title,
                  const char *ylabel, int col, bool bars, unsigned n)
{
    fprintf(gp, "set output '%s'\nset title '%s'\nset ylabel '%s'\n", png,
            title, ylabel);
    if (n == 0) {
        /* no traffic: an empty chart, still a chart */
        fputs("set xrange [0:1]\nplot NaN notitle\nset autoscale x\n", gp);
        return;
    }
    char using[32];
    if (bars)
        snprintf(using, sizeof(using), "1:%d:%d", col, col + 1);
    else
        snprintf(using, sizeof(using), "1:%d", col);
    fprintf(gp, "plot for [i=0:%u] 'intervals.dat' index i using %s "
            "with %s title word(titles, i + 1)\n", n - 1, using,
            bars ? "yerrorlines" : "lines");
}

int sim_plot(const char *dir, const struct sim_report *rep,
             const struct sim_stats *st, char *err, size_t errlen)
{
    char path[4096];
    unsigned n;
    bool bars = st->runs > 1;

    if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "--plot %s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof(path), "%s/ccsim.gp", dir);
    FILE *gp = fopen(path, "w");
    if (!gp) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    fputs("# written by ccsim --plot; run `gnuplot ccsim.gp` in this "
          "directory\n", gp);
    snprintf(path, sizeof(path), "%s/intervals.dat", dir);
    if (write_data(path, rep, st, gp, &n) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        fclose(gp);
        return -1;
    }
    fprintf(gp, "set terminal pngcairo size 1000,500\n"
            "set termoption noenhanced\n"
            "set key outside right\nset grid\n"
            "set xlabel 'hour (half-hour intervals, by arrival)'\n"
            "set datafile missing 'NaN'\n");
    if (bars)
        fprintf(gp, "set bars small\n");
    char t[128];
    snprintf(t, sizeof(t), "offered per half hour%s",
             bars ? " (mean of runs, 95% CI)" : "");
    chart(gp, "offered.png", t, "contacts", 2, bars, n);
    fputs("set yrange [0:105]\n", gp);
    snprintf(t, sizeof(t), "service level%s",
             bars ? " (mean of runs, 95% CI)" : "");
    chart(gp, "service-level.png", t, "%", 4, bars, n);
    fputs("set autoscale y\nset yrange [0:*]\n", gp);
    snprintf(t, sizeof(t), "average speed of answer%s",
             bars ? " (mean of runs, 95% CI)" : "");
    chart(gp, "asa.png", t, "seconds", 6, bars, n);
    snprintf(t, sizeof(t), "occupancy%s",
             bars ? " (mean of runs, 95% CI)" : "");
    chart(gp, "occupancy.png", t, "%", 8, bars, n);
    if (fclose(gp) != 0) {
        snprintf(err, errlen, "%s/ccsim.gp: %s", dir, strerror(errno));
        return -1;
    }

    /* gnuplot runs in DIR: the script names its files relatively */
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "%s", dir);
    char *const argv[] = { "sh", "-c", "cd \"$0\" && exec gnuplot ccsim.gp",
                           cmd, NULL };
    pid_t pid;
    int rc = posix_spawnp(&pid, "sh", NULL, NULL, argv, environ);
    if (rc != 0) {
        snprintf(err, errlen, "--plot: cannot run sh: %s", strerror(rc));
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            snprintf(err, errlen, "--plot: waitpid: %s", strerror(errno));
            return -1;
        }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(err, errlen, "--plot: gnuplot failed (exit %d%s) on "
                 "%s/ccsim.gp; is gnuplot installed (Debian package "
                 "gnuplot-nox)?",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                 WIFEXITED(status) && WEXITSTATUS(status) == 127
                     ? ": not found" : "", dir);
        return -1;
    }
    return 0;
}
