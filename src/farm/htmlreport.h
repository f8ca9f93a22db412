/*
 * The run's report as one self-contained HTML page (taskfarm report):
 * inline CSS and SVG, no script, no font and no address outside the
 * page, so that it opens in any browser with no network. Drawn from a
 * journal read by jreport.c: a timeline (one row per rank and slot, one
 * bar per attempt, or per slot and time bin past TF_HTML_MAX_BARS
 * attempts), utilisation over time with each run's idle tail, a
 * histogram of run times, the slowest tasks, the failures grouped by
 * status and exit value, per rank figures and the runs of a resumed
 * campaign. No MPI; never prints.
 */
#ifndef TF_FARM_HTMLREPORT_H
#define TF_FARM_HTMLREPORT_H

#include <stdio.h>

#include "farm/jreport.h"

/* Past this many attempts the timeline draws bins, not bars. */
#define TF_HTML_MAX_BARS 20000

/**
 * Writes the page for jr (read from the file named title) to f.
 * max_bars: TF_HTML_MAX_BARS, or another threshold (tests). Returns 0,
 * or -errno when writing failed.
 */
int tf_html_report(FILE *f, const struct tf_jreport *jr, const char *title,
		   size_t max_bars);

#endif
