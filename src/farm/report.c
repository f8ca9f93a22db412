/*
 * Progress and summary. On a terminal a single line is redrawn in place
 * at most four times a second; in a batch log a status line is printed
 * every status interval, so a long run shows it is alive.
 */
#include "config.h"

#include "farm/report.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void tf_report_init(struct tf_report *rp, int nranks, int tty, int quiet,
		    double status_interval)
{
	memset(rp, 0, sizeof(*rp));
	rp->tty = tty && !quiet;
	rp->quiet = quiet;
	rp->status_interval = status_interval;
	rp->t0 = tf_now();
	rp->last_draw = rp->t0;
	rp->last_status = rp->t0;
	rp->nranks = nranks;
	rp->ranks = tf__xcalloc((size_t)nranks, sizeof(*rp->ranks));
}

void tf_report_release(struct tf_report *rp)
{
	free(rp->ranks);
	rp->ranks = NULL;
}

static void fmt_duration(struct tf_strbuf *sb, double s)
{
	long t = (long)(s + 0.5);

	if (t >= 3600)
		tf_strbuf_addf(sb, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60,
			       t % 60);
	else
		tf_strbuf_addf(sb, "%ld:%02ld", t / 60, t % 60);
}

void tf_report_status(const struct tf_report *rp, double now,
		      struct tf_strbuf *sb)
{
	uint64_t ran = rp->ok + rp->failed, done = ran + rp->skipped;
	double el = now - rp->t0, rate = el > 0 ? (double)ran / el : 0;

	if (rp->ntasks)
		tf_strbuf_addf(sb, "%llu/%llu done", (unsigned long long)done,
			       (unsigned long long)rp->ntasks);
	else
		tf_strbuf_addf(sb, "%llu done", (unsigned long long)done);
	tf_strbuf_addf(sb, ", %llu failed, %llu running, %.1f tasks/s",
		       (unsigned long long)rp->failed,
		       (unsigned long long)rp->running, rate);
	if (rp->ntasks && ran && rate > 0 && done < rp->ntasks) {
		tf_strbuf_addstr(sb, ", ETA ");
		fmt_duration(sb, (double)(rp->ntasks - done) / rate);
	}
}

/*
 * The live line shares the terminal with the tasks' standard error, which
 * the writer thread may be writing (writer.h): both go under this lock,
 * and the writer takes the line off the screen before a block of task
 * output (tf__screen_take()). Only taken when standard error is a
 * terminal, which does not stall.
 */
static pthread_mutex_t screen_lock = PTHREAD_MUTEX_INITIALIZER;
static int screen_line; /* a live line is on the screen */

void tf__screen_take(void)
{
	pthread_mutex_lock(&screen_lock);
	if (screen_line) {
		(void)!write(STDERR_FILENO, "\r\033[K", 4);
		screen_line = 0;
	}
}

void tf__screen_give(void)
{
	pthread_mutex_unlock(&screen_lock);
}

void tf_report_clear(struct tf_report *rp)
{
	if (rp->line_shown) {
		tf__screen_take();
		tf__screen_give();
		rp->line_shown = 0;
	}
}

void tf_report_tick(struct tf_report *rp, double now)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;

	if (rp->quiet)
		return;
	if (rp->tty) {
		if (now - rp->last_draw < 0.25)
			return;
		rp->last_draw = now;
		tf_strbuf_addstr(&sb, "\r\033[Ktaskfarm: ");
		tf_report_status(rp, now, &sb);
		pthread_mutex_lock(&screen_lock);
		(void)!write(STDERR_FILENO, sb.buf, sb.len);
		screen_line = 1;
		pthread_mutex_unlock(&screen_lock);
		rp->line_shown = 1;
	} else if (rp->status_interval > 0 &&
		   now - rp->last_status >= rp->status_interval) {
		rp->last_status = now;
		tf_report_status(rp, now, &sb);
		fprintf(stderr, "taskfarm: status: %s\n", sb.buf);
		fflush(stderr);
	}
	tf_strbuf_release(&sb);
}

void tf_report_summary(struct tf_report *rp, double now, const char *journal,
		       uint64_t not_run)
{
	uint64_t done = rp->ok + rp->failed;
	double el = now - rp->t0;
	int r, lost;

	tf_report_clear(rp);
	if (rp->quiet)
		return;
	fprintf(stderr,
		"taskfarm: %llu task%s in %.2f s (%.1f tasks/s): %llu ok, "
		"%llu failed",
		(unsigned long long)done, done == 1 ? "" : "s", el,
		el > 0 ? (double)done / el : 0.0,
		(unsigned long long)rp->ok, (unsigned long long)rp->failed);
	if (rp->interrupted)
		fprintf(stderr, ", %llu interrupted",
			(unsigned long long)rp->interrupted);
	if (rp->skipped > rp->failed_before)
		fprintf(stderr, ", %llu skipped (done before)",
			(unsigned long long)(rp->skipped - rp->failed_before));
	if (rp->failed_before)
		fprintf(stderr,
			", %llu failed before (--resume-failed reruns them)",
			(unsigned long long)rp->failed_before);
	if (rp->retried)
		fprintf(stderr, ", %llu retried attempt%s",
			(unsigned long long)rp->retried,
			rp->retried == 1 ? "" : "s");
	if (rp->lost)
		fprintf(stderr, ", %llu attempt%s lost with a rank",
			(unsigned long long)rp->lost, rp->lost == 1 ? "" : "s");
	if (not_run)
		fprintf(stderr, ", %llu not run", (unsigned long long)not_run);
	if (rp->unjournaled)
		fprintf(stderr, ", %llu result%s not journaled",
			(unsigned long long)rp->unjournaled,
			rp->unjournaled == 1 ? "" : "s");
	fputc('\n', stderr);
	for (r = 0; r < rp->nranks; r++) {
		struct tf_rank_stats *s = &rp->ranks[r];
		if (s->slots == 0)
			continue;
		fprintf(stderr,
			"taskfarm: rank %d (%s): %llu task%s on %d slot%s, "
			"busy %.1f%%\n",
			r, s->host, (unsigned long long)s->tasks,
			s->tasks == 1 ? "" : "s", s->slots,
			s->slots == 1 ? "" : "s",
			el > 0 ? 100.0 * s->busy / (el * s->slots) : 0.0);
	}
	for (r = 0, lost = 0; r < rp->nranks; r++) {
		if (!rp->ranks[r].lost)
			continue;
		fprintf(stderr, "%s rank %d (%s)",
			lost++ ? "," : "taskfarm: lost:", r,
			rp->ranks[r].host[0] ? rp->ranks[r].host : "?");
	}
	if (lost)
		fputc('\n', stderr);
	if (journal)
		fprintf(stderr, "taskfarm: journal: %s\n", journal);
	fflush(stderr);
}

void tf_report_exit_status(const struct tf_report *rp, int code)
{
	if (rp->quiet)
		return;
	fprintf(stderr,
		"taskfarm: exit status %d (the launcher's may differ: see "
		"--status-file)\n",
		code);
	fflush(stderr);
}
