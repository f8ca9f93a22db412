/*
 * The HTML report (htmlreport.h). Every figure is computed in one pass
 * or two over the attempts, with bins where a picture needs them, so a
 * journal of a million lines gives a page of a few megabytes.
 */
#include "config.h"

#include "farm/htmlreport.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "farm/report.h"
#include "taskfarm.h"

#define PLOT_W 1100.0 /* the timeline's and utilisation's width */
#define LABEL_W 150.0 /* the row labels' column */
#define UTIL_BINS 400
#define CELL_BUDGET 100000 /* timeline bins in all, when binned */
#define SLOWEST 20
#define FAIL_GROUPS 64
#define FAIL_LIST 50  /* commands listed per failure group */

/* HTML-escaped text. */
static void esc(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		case '\n': fputs("\\n", f); break;
		default: fputc(*s, f);
		}
	}
}

/* A command cut to n bytes, escaped. */
static void esc_cut(FILE *f, const char *s, size_t n)
{
	char buf[256];

	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	if (strlen(s) <= n) {
		esc(f, s);
		return;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	esc(f, buf);
	fputs("&#8230;", f);
}

static void put_time(FILE *f, double t)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;

	tf_report_timestamp(t, &sb);
	esc(f, sb.buf);
	tf_strbuf_release(&sb);
}

static void put_seconds(FILE *f, double s)
{
	if (s < 1)
		fprintf(f, "%.3f s", s);
	else if (s < 100)
		fprintf(f, "%.2f s", s);
	else
		fprintf(f, "%.0f s", s);
}

static const char css[] =
	"body{font-family:sans-serif;margin:1em;color:#222}"
	"h2{margin-top:1.5em;border-bottom:1px solid #ccc}"
	"table{border-collapse:collapse;font-size:13px}"
	"td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}"
	"td.n{text-align:right}td.cmd{font-family:monospace}"
	"svg{background:#fafafa;border:1px solid #ddd}"
	"svg text{font-size:11px;font-family:sans-serif}"
	".s-ok{fill:#43a047}.s-failed{fill:#e53935}.s-timeout{fill:#fb8c00}"
	".s-interrupted{fill:#8e24aa}.s-lost{fill:#546e7a}"
	".s-signal{fill:#d81b60}.s-spawn-failed{fill:#b71c1c}"
	".s-output-lost{fill:#795548}.bar{stroke:#fff;stroke-width:.5}.seg{fill:#e3f2fd}.seg2{fill:#fff8e1}"
	".tail{fill:#ffcdd2;opacity:.6}.legend span{display:inline-block;"
	"padding:0 6px;margin-right:4px;color:#fff}"
	".hist{fill:#1e88e5}.used{fill:none;stroke:#1e88e5;stroke-width:1.5}"
	".avail{fill:none;stroke:#555;stroke-dasharray:4 3}";

/* The statuses, in the legend's order. */
static const int legend[] = { TF_STATUS_OK, TF_STATUS_FAILED,
			      TF_STATUS_TIMEOUT, TF_STATUS_INTERRUPTED,
			      TF_STATUS_LOST, TF_STATUS_SIGNALED,
			      TF_STATUS_SPAWN_FAILED, TF_STATUS_OUTPUT_LOST };

static void put_summary(FILE *f, const struct tf_jreport *jr)
{
	size_t i;

	fprintf(f, "<p id=\"totals\">%zu attempts in %zu run%s, ", jr->n,
		jr->nsegs, jr->nsegs == 1 ? "" : "s");
	put_seconds(f, tf_jreport_span(jr));
	fputs(" of run time span", f);
	if (jr->n) {
		fputs(", from ", f);
		put_time(f, jr->t0);
		fputs(" to ", f);
		put_time(f, jr->t1);
	}
	if (jr->torn)
		fputs("; the last line is being written (left out)", f);
	fputs(".</p>\n<p class=\"legend\">", f);
	for (i = 0; i < sizeof(legend) / sizeof(legend[0]); i++)
		fprintf(f, "<span class=\"l-%s\" style=\"background:%s\">%s "
			   "%llu</span>",
			tf_status_name(legend[i]),
			(const char *[]){ "#43a047", "#e53935", "#fb8c00",
					  "#8e24aa", "#546e7a", "#d81b60",
					  "#b71c1c", "#795548" }[i],
			tf_status_name(legend[i]),
			(unsigned long long)jr->by_status[legend[i]]);
	fputs("</p>\n", f);
}

static void put_segments(FILE *f, const struct tf_jreport *jr)
{
	size_t i;

	fputs("<h2>Runs</h2>\n<table id=\"runs\"><tr><th>run</th><th>JobId"
	      "</th><th>start</th><th>length</th><th>attempts</th><th>ok</th>"
	      "<th>not ok</th></tr>\n",
	      f);
	for (i = 0; i < jr->nsegs; i++) {
		const struct tf_jseg *s = &jr->segs[i];

		fprintf(f, "<tr class=\"run\"><td class=\"n\">%zu</td><td "
			   "class=\"jobid\">",
			i + 1);
		esc(f, s->jobid);
		fputs("</td><td>", f);
		put_time(f, s->start);
		fputs("</td><td class=\"n\">", f);
		put_seconds(f, s->end - s->start);
		fprintf(f, "</td><td class=\"n\">%llu</td><td class=\"n\">%llu"
			   "</td><td class=\"n\">%llu</td></tr>\n",
			(unsigned long long)s->attempts,
			(unsigned long long)s->by_status[TF_STATUS_OK],
			(unsigned long long)(s->attempts -
					     s->by_status[TF_STATUS_OK]));
	}
	fputs("</table>\n", f);
}

/* Rows in rank, slot order: order[k] is the row drawn k-th, place[row]
 * its position. */
static int row_cmp(const void *a, const void *b, void *arg)
{
	const struct tf_jrow *rows = arg;
	const struct tf_jrow *x = &rows[*(const size_t *)a],
			     *y = &rows[*(const size_t *)b];

	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	if (x->rank == -1 && strcmp(x->host, y->host))
		return strcmp(x->host, y->host);
	return (x->slot > y->slot) - (x->slot < y->slot);
}

struct geometry {
	double t0, scale; /* x = LABEL_W + (t - t0) * scale */
	double row_h;
	size_t *place;
};

static double xpos(const struct geometry *g, double t)
{
	return LABEL_W + (t - g->t0) * g->scale;
}

/* The background of each run, its label and its idle tail: from when
 * its first slot went idle for good to its end. */
static void put_run_bands(FILE *f, const struct tf_jreport *jr,
			  const struct geometry *g, double height)
{
	double *last = tf__xcalloc(jr->nrows, sizeof(*last));
	size_t i, k;

	for (k = 0; k < jr->nsegs; k++) {
		const struct tf_jseg *s = &jr->segs[k];
		double tail = s->end;

		memset(last, 0, jr->nrows * sizeof(*last));
		for (i = 0; i < jr->n; i++)
			if (jr->att[i].seg == k &&
			    jr->att[i].start + jr->att[i].runtime >
				    last[jr->att[i].row])
				last[jr->att[i].row] =
					jr->att[i].start + jr->att[i].runtime;
		for (i = 0; i < jr->nrows; i++)
			if (last[i] > 0 && last[i] < tail)
				tail = last[i];
		fprintf(f, "<rect class=\"%s\" data-jobid=\"", k % 2 ? "seg2" : "seg");
		esc(f, s->jobid);
		fprintf(f, "\" x=\"%.1f\" y=\"0\" width=\"%.1f\" height=\"%.0f\">"
			   "<title>run %zu, JobId ",
			xpos(g, s->start), (s->end - s->start) * g->scale,
			height, k + 1);
		esc(f, s->jobid);
		fputs("</title></rect>", f);
		fprintf(f, "<rect class=\"tail\" x=\"%.1f\" y=\"0\" width=\"%.1f\" "
			   "height=\"%.0f\"><title>run %zu: idle tail ",
			xpos(g, tail), (s->end - tail) * g->scale, height, k + 1);
		put_seconds(f, s->end - tail);
		fputs("</title></rect>", f);
		fprintf(f, "<text class=\"runlabel\" x=\"%.1f\" y=\"%.0f\">run %zu "
			   "(JobId ",
			xpos(g, s->start) + 2, height - 3, k + 1);
		esc(f, s->jobid);
		fputs(")</text>\n", f);
	}
	free(last);
}

static void put_bar(FILE *f, const struct tf_jreport *jr,
		    const struct geometry *g, const struct tf_jattempt *a)
{
	const struct tf_jrow *row = &jr->rows[a->row];
	double w = a->runtime * g->scale;

	fprintf(f, "<rect class=\"bar s-%s\" data-id=\"%llu\" data-attempt="
		   "\"%u\" x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\">"
		   "<title>id %llu attempt %u: %s, ",
		tf_status_name(a->status), (unsigned long long)a->id,
		a->attempt, xpos(g, a->start),
		(double)g->place[a->row] * g->row_h, w < 0.5 ? 0.5 : w,
		g->row_h * 0.85, (unsigned long long)a->id, a->attempt,
		tf_status_name(a->status));
	put_seconds(f, a->runtime);
	fprintf(f, ", MaxRSS %llu KiB, rank %d slot %d\n",
		(unsigned long long)a->maxrss, row->rank, row->slot);
	esc_cut(f, tf_jreport_cmd(jr, a), 200);
	fputs("</title></rect>\n", f);
}

/* A status's weight when one colour stands for a bin: the worst. */
static int severity(int st)
{
	return st == TF_STATUS_OK ? 0 : st == TF_STATUS_INTERRUPTED ? 1 : 2 + st;
}

/* Past max_bars attempts: one rect per row and time bin, coloured by
 * the worst status in it, as opaque as the bin was busy. */
static void put_bins(FILE *f, const struct tf_jreport *jr,
		     const struct geometry *g, double span)
{
	size_t nbins = CELL_BUDGET / (jr->nrows ? jr->nrows : 1), i, r, b;
	double *busy, width;
	uint32_t *count;
	uint8_t *worst;

	if (nbins > 800)
		nbins = 800;
	if (nbins < 20)
		nbins = 20;
	width = span / (double)nbins;
	busy = tf__xcalloc(jr->nrows * nbins, sizeof(*busy));
	count = tf__xcalloc(jr->nrows * nbins, sizeof(*count));
	worst = tf__xcalloc(jr->nrows * nbins, sizeof(*worst));
	for (i = 0; i < jr->n; i++) {
		const struct tf_jattempt *a = &jr->att[i];
		double s = a->start - g->t0, e = s + a->runtime;
		size_t b0 = (size_t)(s / width), b1 = (size_t)(e / width);

		if (b0 >= nbins)
			b0 = nbins - 1;
		if (b1 >= nbins)
			b1 = nbins - 1;
		count[a->row * nbins + b0]++;
		for (b = b0; b <= b1; b++) {
			size_t c = a->row * nbins + b;
			double lo = (double)b * width, hi = lo + width;
			double ov = (e < hi ? e : hi) - (s > lo ? s : lo);

			if (ov > 0)
				busy[c] += ov;
			/* worst[] starts as ok, the least severe. */
			if (severity(a->status) > severity(worst[c]))
				worst[c] = a->status;
		}
	}
	for (r = 0; r < jr->nrows; r++)
		for (b = 0; b < nbins; b++) {
			size_t c = r * nbins + b;
			double frac = busy[c] / width;

			if (!count[c] && frac <= 0)
				continue;
			fprintf(f, "<rect class=\"bin s-%s\" x=\"%.1f\" y=\"%.1f\" "
				   "width=\"%.2f\" height=\"%.1f\" opacity=\"%.2f\">"
				   "<title>rank %d slot %d: %u started, busy "
				   "%.0f%%</title></rect>\n",
				tf_status_name(worst[c]),
				LABEL_W + (double)b * width * g->scale,
				(double)g->place[r] * g->row_h,
				width * g->scale, g->row_h * 0.85,
				frac > 1 ? 1.0 : frac < 0.15 ? 0.15 : frac,
				jr->rows[r].rank, jr->rows[r].slot, count[c],
				100 * (frac > 1 ? 1 : frac));
		}
	free(busy);
	free(count);
	free(worst);
}

static void put_timeline(FILE *f, const struct tf_jreport *jr,
			 size_t max_bars)
{
	struct geometry g;
	size_t *order = tf__xcalloc(jr->nrows + 1, sizeof(*order));
	double span = jr->t1 > jr->t0 ? jr->t1 - jr->t0 : 1, height;
	size_t i;

	g.place = tf__xcalloc(jr->nrows + 1, sizeof(*g.place));
	for (i = 0; i < jr->nrows; i++)
		order[i] = i;
	qsort_r(order, jr->nrows, sizeof(*order), row_cmp, jr->rows);
	for (i = 0; i < jr->nrows; i++)
		g.place[order[i]] = i;
	g.t0 = jr->t0;
	g.scale = PLOT_W / span;
	g.row_h = jr->nrows > 300 ? 4000.0 / (double)jr->nrows : 14;
	if (g.row_h < 2)
		g.row_h = 2;
	height = (double)jr->nrows * g.row_h + 16;
	fprintf(f, "<h2>Timeline</h2>\n<p>One row per rank and slot, %s; "
		   "hover for details. Shaded: each run; red: its idle tail.</p>\n"
		   "<svg id=\"timeline\" width=\"%.0f\" height=\"%.0f\">\n",
		jr->n > max_bars ? "one mark per slot and time bin (too many "
				   "attempts for a bar each), as opaque as it "
				   "was busy"
				 : "one bar per attempt",
		LABEL_W + PLOT_W + 10, height);
	put_run_bands(f, jr, &g, height);
	if (g.row_h >= 8)
		for (i = 0; i < jr->nrows; i++) {
			const struct tf_jrow *r = &jr->rows[order[i]];

			fprintf(f, "<text x=\"2\" y=\"%.1f\">", (double)i * g.row_h +
				g.row_h * 0.75);
			if (r->rank >= 0)
				fprintf(f, "rank %d slot %d ", r->rank, r->slot);
			else
				fprintf(f, "lane %d ", r->slot);
			esc_cut(f, r->host, 12);
			fputs("</text>\n", f);
		}
	if (jr->n > max_bars)
		put_bins(f, jr, &g, span);
	else
		for (i = 0; i < jr->n; i++)
			put_bar(f, jr, &g, &jr->att[i]);
	fputs("</svg>\n", f);
	free(order);
	free(g.place);
}

/* Running slots against the slots there were, in bins; a slot is there
 * through the runs it took part in. */
static void put_utilisation(FILE *f, const struct tf_jreport *jr)
{
	double span = jr->t1 > jr->t0 ? jr->t1 - jr->t0 : 1;
	double width = span / UTIL_BINS, used[UTIL_BINS] = { 0 },
	       avail[UTIL_BINS] = { 0 }, top = 1, h = 160;
	unsigned char *in_seg = tf__xcalloc(jr->nsegs * jr->nrows + 1, 1);
	size_t i, b, k;

	for (i = 0; i < jr->n; i++) {
		const struct tf_jattempt *a = &jr->att[i];
		double s = a->start - jr->t0, e = s + a->runtime;
		size_t b0 = (size_t)(s / width), b1 = (size_t)(e / width);

		in_seg[a->seg * jr->nrows + a->row] = 1;
		for (b = b0; b <= b1 && b < UTIL_BINS; b++) {
			double lo = (double)b * width, hi = lo + width;
			double ov = (e < hi ? e : hi) - (s > lo ? s : lo);

			if (ov > 0)
				used[b] += ov / width;
		}
	}
	for (k = 0; k < jr->nsegs; k++) {
		const struct tf_jseg *s = &jr->segs[k];
		double slots = 0;

		for (i = 0; i < jr->nrows; i++)
			slots += in_seg[k * jr->nrows + i];
		for (b = 0; b < UTIL_BINS; b++) {
			double lo = jr->t0 + (double)b * width;

			if (lo + width > s->start && lo < s->end)
				avail[b] = slots;
		}
		if (slots > top)
			top = slots;
	}
	fprintf(f, "<h2>Utilisation</h2>\n<p>Running slots (blue) against the "
		   "slots of each run (dashed), over %d bins of ",
		UTIL_BINS);
	put_seconds(f, width);
	fprintf(f, ".</p>\n<svg id=\"utilisation\" width=\"%.0f\" "
		   "height=\"%.0f\">\n<text x=\"2\" y=\"12\">%.0f slots</text>"
		   "<text x=\"2\" y=\"%.0f\">0</text>\n",
		LABEL_W + PLOT_W + 10, h + 10, top, h);
	for (k = 0; k < 2; k++) {
		const double *v = k ? used : avail;

		fprintf(f, "<polyline class=\"%s\" points=\"", k ? "used" : "avail");
		for (b = 0; b < UTIL_BINS; b++)
			fprintf(f, "%.1f,%.1f %.1f,%.1f ",
				LABEL_W + (double)b * PLOT_W / UTIL_BINS,
				h - v[b] / top * (h - 10),
				LABEL_W + (double)(b + 1) * PLOT_W / UTIL_BINS,
				h - v[b] / top * (h - 10));
		fputs("\"/>\n", f);
	}
	fputs("</svg>\n", f);
	free(in_seg);
}

/* Run times on a log scale, four bins a decade, from 1 ms. */
static void put_histogram(FILE *f, const struct tf_jreport *jr)
{
	enum { PER_DECADE = 4, NB = 4 * 9 }; /* 1 ms .. 1e6 s */
	uint64_t count[NB] = { 0 }, top = 1;
	size_t i, lo = NB, hi = 0, b;
	double bw, h = 160;

	for (i = 0; i < jr->n; i++) {
		double t = jr->att[i].runtime;
		long k = t <= 0.001 ? 0
				    : (long)floor((log10(t) + 3) * PER_DECADE);

		if (k < 0)
			k = 0;
		if (k >= NB)
			k = NB - 1;
		count[k]++;
	}
	for (b = 0; b < NB; b++)
		if (count[b]) {
			if (b < lo)
				lo = b;
			hi = b;
			if (count[b] > top)
				top = count[b];
		}
	fputs("<h2>Run times</h2>\n", f);
	if (lo > hi) {
		fputs("<p>No attempts.</p>\n", f);
		return;
	}
	bw = PLOT_W / (double)(hi - lo + 1);
	fprintf(f, "<p>Attempts by run time, log scale (%d bins a decade); "
		   "tallest %llu.</p>\n<svg id=\"histogram\" width=\"%.0f\" "
		   "height=\"%.0f\">\n",
		PER_DECADE, (unsigned long long)top, LABEL_W + PLOT_W + 10,
		h + 20);
	for (b = lo; b <= hi; b++) {
		double bh = (double)count[b] / (double)top * (h - 10);
		double from = pow(10, (double)b / PER_DECADE - 3);

		fprintf(f, "<rect class=\"hist\" x=\"%.1f\" y=\"%.1f\" "
			   "width=\"%.1f\" height=\"%.1f\"><title>%llu attempt%s "
			   "of ",
			LABEL_W + (double)(b - lo) * bw, h - bh, bw * 0.9,
			bh, (unsigned long long)count[b],
			count[b] == 1 ? "" : "s");
		put_seconds(f, b ? from : 0);
		fputs(" to ", f);
		put_seconds(f, pow(10, (double)(b + 1) / PER_DECADE - 3));
		fputs("</title></rect>\n", f);
		if ((b - lo) % 2 == 0) {
			fprintf(f, "<text x=\"%.1f\" y=\"%.0f\">",
				LABEL_W + (double)(b - lo) * bw, h + 14);
			put_seconds(f, b ? from : 0);
			fputs("</text>\n", f);
		}
	}
	fputs("</svg>\n", f);
}

static void put_attempt_row(FILE *f, const struct tf_jreport *jr,
			    const struct tf_jattempt *a, const char *cls)
{
	const struct tf_jrow *row = &jr->rows[a->row];

	fprintf(f, "<tr class=\"%s\"><td class=\"n\">%llu</td><td class=\"n\">"
		   "%u</td><td>%s</td><td class=\"n\">",
		cls, (unsigned long long)a->id, a->attempt,
		tf_status_name(a->status));
	put_seconds(f, a->runtime);
	fprintf(f, "</td><td class=\"n\">%llu</td><td>%d/%d ",
		(unsigned long long)a->maxrss, row->rank, row->slot);
	esc_cut(f, row->host, 40);
	fputs("</td><td class=\"cmd\">", f);
	esc_cut(f, tf_jreport_cmd(jr, a), 200);
	fputs("</td></tr>\n", f);
}

static const char attempt_head[] =
	"<tr><th>id</th><th>attempt</th><th>status</th><th>run time</th>"
	"<th>MaxRSS KiB</th><th>rank/slot host</th><th>command</th></tr>\n";

static void put_slowest(FILE *f, const struct tf_jreport *jr)
{
	size_t top[SLOWEST], n = 0, i, k;

	for (i = 0; i < jr->n; i++) {
		double t = jr->att[i].runtime;

		if (n == SLOWEST && t <= jr->att[top[n - 1]].runtime)
			continue;
		k = n < SLOWEST ? n++ : n - 1;
		while (k > 0 && jr->att[top[k - 1]].runtime < t) {
			top[k] = top[k - 1];
			k--;
		}
		top[k] = i;
	}
	fprintf(f, "<h2>Slowest attempts</h2>\n<table id=\"slowest\">%s",
		attempt_head);
	for (i = 0; i < n; i++)
		put_attempt_row(f, jr, &jr->att[top[i]], "slow");
	fputs("</table>\n", f);
}

struct fail_group {
	int status;
	int32_t exitval, signal;
	uint64_t count;
};

static int same_group(const struct fail_group *g, const struct tf_jattempt *a)
{
	return g->status == a->status && g->exitval == a->exitval &&
	       g->signal == a->signal;
}

/* Failed attempts grouped by status, exit value and signal, the
 * largest group first, each with its first commands. */
static void put_failures(FILE *f, const struct tf_jreport *jr)
{
	struct fail_group groups[FAIL_GROUPS];
	size_t ng = 0, i, k, other = 0;

	for (i = 0; i < jr->n; i++) {
		const struct tf_jattempt *a = &jr->att[i];

		if (!tf_jreport_failed(a->status))
			continue;
		for (k = 0; k < ng && !same_group(&groups[k], a); k++)
			;
		if (k == ng) {
			if (ng == FAIL_GROUPS) {
				other++;
				continue;
			}
			groups[ng].status = a->status;
			groups[ng].exitval = a->exitval;
			groups[ng].signal = a->signal;
			groups[ng++].count = 0;
		}
		groups[k].count++;
	}
	fputs("<h2>Failures</h2>\n", f);
	if (!ng) {
		fputs("<p id=\"nofailures\">No attempt failed.</p>\n", f);
		return;
	}
	for (i = 1; i < ng; i++) /* insertion sort: at most 64 */
		for (k = i; k > 0 && groups[k].count > groups[k - 1].count; k--) {
			struct fail_group t = groups[k];
			groups[k] = groups[k - 1];
			groups[k - 1] = t;
		}
	fprintf(f, "<table id=\"failures\">%s", attempt_head);
	for (k = 0; k < ng; k++) {
		uint64_t listed = 0;

		fprintf(f, "<tr class=\"group\"><th colspan=\"7\">%s, exit value "
			   "%d, signal %d: %llu attempt%s</th></tr>\n",
			tf_status_name(groups[k].status), groups[k].exitval,
			groups[k].signal, (unsigned long long)groups[k].count,
			groups[k].count == 1 ? "" : "s");
		for (i = 0; i < jr->n && listed < FAIL_LIST; i++)
			if (same_group(&groups[k], &jr->att[i])) {
				put_attempt_row(f, jr, &jr->att[i], "fail");
				listed++;
			}
		if (groups[k].count > listed)
			fprintf(f, "<tr><td colspan=\"7\">and %llu more</td></tr>\n",
				(unsigned long long)(groups[k].count - listed));
	}
	fputs("</table>\n", f);
	if (other)
		fprintf(f, "<p>%zu more failed attempts in other groups.</p>\n",
			other);
}

/* Whether rows x and y belong to one line of the ranks' table: one
 * rank, or one host of a joblog's. */
static int same_rank(const struct tf_jrow *x, const struct tf_jrow *y)
{
	return x->rank == y->rank &&
	       (x->rank >= 0 || strcmp(x->host, y->host) == 0);
}

/* Per rank (per host for a joblog's lanes): its host, slots, attempts,
 * busy fraction over the runs' span, failures; the rows taken in rank
 * and slot order, so that each rank's are together. */
static void put_ranks(FILE *f, const struct tf_jreport *jr)
{
	double span = tf_jreport_span(jr);
	size_t *order = tf__xcalloc(jr->nrows + 1, sizeof(*order));
	size_t i, k;

	for (i = 0; i < jr->nrows; i++)
		order[i] = i;
	qsort_r(order, jr->nrows, sizeof(*order), row_cmp, jr->rows);
	fputs("<h2>Ranks and hosts</h2>\n<table id=\"ranks\"><tr><th>rank</th>"
	      "<th>host</th><th>slots</th><th>attempts</th><th>busy</th>"
	      "<th>not ok</th></tr>\n",
	      f);
	for (i = 0; i < jr->nrows; i = k) {
		const struct tf_jrow *first = &jr->rows[order[i]];
		uint64_t att = 0, failed = 0;
		double busy = 0;
		int slots = 0;

		for (k = i; k < jr->nrows && same_rank(first, &jr->rows[order[k]]);
		     k++) {
			const struct tf_jrow *row = &jr->rows[order[k]];

			slots++;
			att += row->attempts;
			failed += row->failed;
			busy += row->busy;
		}
		if (first->rank >= 0)
			fprintf(f, "<tr class=\"rank\"><td class=\"n\">%d</td><td>",
				first->rank);
		else
			fputs("<tr class=\"rank\"><td>-</td><td>", f);
		esc(f, first->host);
		fprintf(f, "</td><td class=\"n\">%d</td><td class=\"n\">%llu</td>"
			   "<td class=\"n\">%.1f%%</td><td class=\"n\">%llu</td>"
			   "</tr>\n",
			slots, (unsigned long long)att,
			span > 0 ? 100 * busy / (span * slots) : 0.0,
			(unsigned long long)failed);
	}
	fputs("</table>\n", f);
	free(order);
}

int tf_html_report(FILE *f, const struct tf_jreport *jr, const char *title,
		   size_t max_bars)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	      "<title>taskfarm report: ",
	      f);
	esc(f, title);
	fprintf(f, "</title>\n<style>%s</style></head>\n<body>\n<h1>taskfarm "
		   "report: ",
		css);
	esc(f, title);
	fputs("</h1>\n", f);
	put_summary(f, jr);
	put_segments(f, jr);
	if (jr->n) {
		put_timeline(f, jr, max_bars);
		put_utilisation(f, jr);
	}
	put_histogram(f, jr);
	put_slowest(f, jr);
	put_failures(f, jr);
	put_ranks(f, jr);
	fprintf(f, "<p><small>taskfarm %s</small></p>\n</body></html>\n",
		tf_version());
	if (fflush(f) == EOF || ferror(f))
		return errno ? -errno : -EIO;
	return 0;
}
