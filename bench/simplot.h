/* simplot.h -- ccsim --plot: PNG charts of a simulated day, drawn by
 * gnuplot (the program, run as a child process; Debian's gnuplot-nox).
 *
 * Into DIR it writes intervals.dat (one block per row with traffic: the
 * half hour, then the mean and 95% half-width of offered, service level,
 * ASA, occupancy, abandon rate; half-widths are 0 for a single run),
 * ccsim.gp (the gnuplot script) and four charts, one line per row:
 * offered.png, service-level.png, asa.png and occupancy.png, each point
 * with its 95% confidence interval as an error bar when there are
 * several runs.
 */
#ifndef CCROUTE_SIMPLOT_H
#define CCROUTE_SIMPLOT_H

#include <stddef.h>

#include "simstats.h"

/* `layout` gives the rows and intervals of the values in `st` (one array
 * of sim_report_values per run). `dir` is created if missing. Returns 0,
 * or -1 with a message in err (a file that cannot be written, gnuplot
 * missing or failing). */
int sim_plot(const char *dir, const struct sim_report *layout,
             const struct sim_stats *st, char *err, size_t errlen);

#endif
