/*
 * Progress and summary. On a terminal a single line is redrawn in place
 * at most four times a second, cut to the terminal's width as it is at
 * each redraw; in a batch log a status line with a timestamp is printed
 * every status interval, so a long run shows it is alive.
 */
#include "config.h"

#include "farm/report.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
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

void tf_report_duration(struct tf_strbuf *sb, double s)
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
		tf_report_duration(sb, (double)(rp->ntasks - done) / rate);
	}
}

void tf_report_timestamp(double t, struct tf_strbuf *sb)
{
	time_t sec = (time_t)t;
	struct tm tm;
	char buf[64];
	long off;

	if (!localtime_r(&sec, &tm) ||
	    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		tf_strbuf_addf(sb, "@%lld", (long long)sec);
		return;
	}
	tf_strbuf_addstr(sb, buf);
	off = tm.tm_gmtoff / 60;
	tf_strbuf_addf(sb, "%c%02ld:%02ld", off < 0 ? '-' : '+',
		       (off < 0 ? -off : off) / 60, (off < 0 ? -off : off) % 60);
}

/* The narrowest bar worth drawing, brackets included, and the widest. */
#define BAR_MIN 7
#define BAR_MAX 42

/*
 * One form of the live line, in the parts around the bar: form 0 says
 * everything; 1 drops the name and the running count; 2 the rate too;
 * 3, for narrow terminals, keeps only the percentage, the failures and
 * the ETA.
 */
static void line_parts(const struct tf_report *rp, double now, int form,
		       struct tf_strbuf *head, struct tf_strbuf *tail)
{
	uint64_t ran = rp->ok + rp->failed, done = ran + rp->skipped;
	double el = now - rp->t0, rate = el > 0 ? (double)ran / el : 0;

	tf_strbuf_reset(head);
	tf_strbuf_reset(tail);
	if (form == 0)
		tf_strbuf_addstr(head, "taskfarm: ");
	if (rp->ntasks) {
		tf_strbuf_addf(head, "%3d%%",
			       (int)(100 * (done > rp->ntasks ? rp->ntasks
							       : done) /
				     rp->ntasks));
		if (form < 3)
			tf_strbuf_addf(tail, " %llu/%llu%s,",
				       (unsigned long long)done,
				       (unsigned long long)rp->ntasks,
				       form == 0 ? " done" : "");
	} else {
		tf_strbuf_addf(tail, " %llu done,", (unsigned long long)done);
	}
	tf_strbuf_addf(tail, " %llu failed", (unsigned long long)rp->failed);
	if (form == 0)
		tf_strbuf_addf(tail, ", %llu running",
			       (unsigned long long)rp->running);
	if (form < 2 || !rp->ntasks)
		tf_strbuf_addf(tail, ", %.1f/s", rate);
	if (rp->ntasks && ran && rate > 0 && done < rp->ntasks) {
		tf_strbuf_addstr(tail, ", ETA ");
		tf_report_duration(tail, (double)(rp->ntasks - done) / rate);
	}
}

void tf_report_line(const struct tf_report *rp, double now, int width,
		    struct tf_strbuf *sb)
{
	struct tf_strbuf head = TF_STRBUF_INIT, tail = TF_STRBUF_INIT;
	uint64_t done = rp->ok + rp->failed + rp->skipped;
	size_t room = width > 1 ? (size_t)width - 1 : 0, start = sb->len;
	int form, bar = 0;

	/* The first form that leaves room for a bar; with no total (no
	 * percentage, no bar), the first that fits. */
	for (form = 0; form < 4; form++) {
		line_parts(rp, now, form, &head, &tail);
		if (!rp->ntasks) {
			if (head.len + tail.len <= room)
				break;
			continue;
		}
		bar = (int)room - (int)head.len - (int)tail.len - 1;
		if (bar >= BAR_MIN)
			break;
	}
	/* Nothing fits: the shortest form, cut. */
	tf_strbuf_add(sb, head.buf, head.len);
	if (rp->ntasks && bar >= BAR_MIN) {
		int inner = (bar > BAR_MAX ? BAR_MAX : bar) - 2, i;
		uint64_t d = done > rp->ntasks ? rp->ntasks : done;
		int fill = (int)((uint64_t)inner * d / rp->ntasks);

		tf_strbuf_addstr(sb, " [");
		for (i = 0; i < inner; i++)
			tf_strbuf_addch(sb, i < fill ? '#' : '.');
		tf_strbuf_addch(sb, ']');
	}
	tf_strbuf_add(sb, tail.buf, tail.len);
	if (room && sb->len > start + room) {
		sb->len = start + room;
		sb->buf[sb->len] = '\0';
	}
	tf_strbuf_release(&head);
	tf_strbuf_release(&tail);
}

/*
 * The live line shares the terminal with the tasks' standard error, which
 * the writer thread may be writing (writer.h): both go under this lock,
 * and the writer takes the line off the screen before a block of task
 * output (tf__screen_take()). Only taken when standard error is a
 * terminal, which does not stall.
 */
static pthread_mutex_t screen_lock = PTHREAD_MUTEX_INITIALIZER;
static int screen_line;  /* a live line is on the screen */
static size_t screen_len; /* its length */

/* The terminal's width now (asked at every redraw, so a resize needs no
 * SIGWINCH handler), else $COLUMNS, else 80. */
static int screen_width(void)
{
	struct winsize ws;
	const char *cols = getenv("COLUMNS");

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	if (cols && atoi(cols) > 0)
		return atoi(cols);
	return 80;
}

/*
 * Appends what takes the live line off the screen. The line never
 * reached the last column when drawn, but a terminal made narrower since
 * may have rewrapped it (tmux, VTE and most emulators reflow) over
 * several rows, with the cursor on the last: go up to its first row and
 * clear to the end of the screen. NEEDSWORK: a terminal that cuts lines
 * instead of reflowing them (xterm) loses the rows above on a shrink.
 */
static void append_clear(struct tf_strbuf *sb, int width)
{
	size_t rows = width > 0 ? (screen_len + (size_t)width - 1) /
					  (size_t)width
				: 1;

	if (rows > 1)
		tf_strbuf_addf(sb, "\r\033[%zuA\033[J", rows - 1);
	else
		tf_strbuf_addstr(sb, "\r\033[K");
}

void tf__screen_take(void)
{
	pthread_mutex_lock(&screen_lock);
	if (screen_line) {
		struct tf_strbuf sb = TF_STRBUF_INIT;

		append_clear(&sb, screen_width());
		(void)!write(STDERR_FILENO, sb.buf, sb.len);
		tf_strbuf_release(&sb);
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
	if (rp->tty || rp->bar) {
		struct tf_strbuf line = TF_STRBUF_INIT;
		int width;

		if (now - rp->last_draw < 0.25)
			return;
		rp->last_draw = now;
		pthread_mutex_lock(&screen_lock);
		width = screen_width();
		if (screen_line)
			append_clear(&sb, width);
		else
			tf_strbuf_addch(&sb, '\r');
		tf_report_line(rp, now, width, &line);
		tf_strbuf_add(&sb, line.buf, line.len);
		if (!screen_line || line.len < screen_len)
			tf_strbuf_addstr(&sb, "\033[K");
		(void)!write(STDERR_FILENO, sb.buf, sb.len);
		screen_line = 1;
		screen_len = line.len;
		pthread_mutex_unlock(&screen_lock);
		tf_strbuf_release(&line);
		rp->line_shown = 1;
	} else if (rp->status_interval > 0 &&
		   now - rp->last_status >= rp->status_interval) {
		rp->last_status = now;
		tf_strbuf_addstr(&sb, "taskfarm: ");
		tf_report_timestamp(tf_wallclock(), &sb);
		tf_strbuf_addstr(&sb, " status: ");
		tf_report_status(rp, now, &sb);
		fprintf(stderr, "%s\n", sb.buf);
		fflush(stderr);
	}
	tf_strbuf_release(&sb);
}

void tf_json_string(struct tf_strbuf *sb, const char *str)
{
	tf_strbuf_addch(sb, '"');
	for (; *str; str++) {
		unsigned char c = (unsigned char)*str;

		if (c == '"' || c == '\\')
			tf_strbuf_addf(sb, "\\%c", c);
		else if (c == '\n')
			tf_strbuf_addstr(sb, "\\n");
		else if (c == '\t')
			tf_strbuf_addstr(sb, "\\t");
		else if (c < 0x20 || c == 0x7f)
			tf_strbuf_addf(sb, "\\u%04x", c);
		else
			tf_strbuf_addch(sb, (char)c);
	}
	tf_strbuf_addch(sb, '"');
}

void tf_report_summarize(const struct tf_report *rp, double now,
			 uint64_t not_run, struct tf_summary *s)
{
	memset(s, 0, sizeof(*s));
	s->tasks = rp->ok + rp->failed;
	s->seconds = now - rp->t0;
	s->rate = s->seconds > 0 ? (double)s->tasks / s->seconds : 0.0;
	s->ok = rp->ok;
	s->failed = rp->failed;
	s->interrupted = rp->interrupted;
	s->skipped = rp->skipped > rp->failed_before
			     ? rp->skipped - rp->failed_before
			     : 0;
	s->failed_before = rp->failed_before;
	s->retried = rp->retried;
	s->lost = rp->lost;
	s->not_run = not_run;
	s->unjournaled = rp->unjournaled;
}

/* A rank's busy fraction, in percent of its slots over el seconds. */
static double rank_busy(const struct tf_rank_stats *r, double el)
{
	return el > 0 && r->slots ? 100.0 * r->busy / (el * r->slots) : 0.0;
}

void tf_report_summary(struct tf_report *rp, double now, const char *journal,
		       uint64_t not_run)
{
	struct tf_summary s;
	int r, lost;

	tf_report_clear(rp);
	if (rp->quiet)
		return;
	tf_report_summarize(rp, now, not_run, &s);
	fprintf(stderr,
		"taskfarm: %llu task%s in %.2f s (%.1f tasks/s): %llu ok, "
		"%llu failed",
		(unsigned long long)s.tasks, s.tasks == 1 ? "" : "s", s.seconds,
		s.rate, (unsigned long long)s.ok, (unsigned long long)s.failed);
	if (s.interrupted)
		fprintf(stderr, ", %llu interrupted",
			(unsigned long long)s.interrupted);
	if (s.skipped)
		fprintf(stderr, ", %llu skipped (done before)",
			(unsigned long long)s.skipped);
	if (s.failed_before)
		fprintf(stderr,
			", %llu failed before (--resume-failed reruns them)",
			(unsigned long long)s.failed_before);
	if (s.retried)
		fprintf(stderr, ", %llu retried attempt%s",
			(unsigned long long)s.retried,
			s.retried == 1 ? "" : "s");
	if (s.lost)
		fprintf(stderr, ", %llu attempt%s lost with a rank",
			(unsigned long long)s.lost, s.lost == 1 ? "" : "s");
	if (s.not_run)
		fprintf(stderr, ", %llu not run", (unsigned long long)s.not_run);
	if (s.unjournaled)
		fprintf(stderr, ", %llu result%s not journaled",
			(unsigned long long)s.unjournaled,
			s.unjournaled == 1 ? "" : "s");
	fputc('\n', stderr);
	for (r = 0; r < rp->nranks; r++) {
		struct tf_rank_stats *rs = &rp->ranks[r];
		if (rs->slots == 0)
			continue;
		fprintf(stderr,
			"taskfarm: rank %d (%s): %llu task%s on %d slot%s, "
			"busy %.1f%%\n",
			r, rs->host, (unsigned long long)rs->tasks,
			rs->tasks == 1 ? "" : "s", rs->slots,
			rs->slots == 1 ? "" : "s", rank_busy(rs, s.seconds));
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

int tf_report_summary_json(const struct tf_report *rp,
			   const struct tf_summary *s, const char *journal,
			   int exit_code, const char *path)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	FILE *f;
	int r, first = 1, ret = 0;

	tf_strbuf_addf(&sb,
		       "{\"exit_code\":%d,\"tasks\":%llu,\"seconds\":%.3f,"
		       "\"rate\":%.3f,\"ok\":%llu,\"failed\":%llu,"
		       "\"interrupted\":%llu,\"skipped\":%llu,"
		       "\"failed_before\":%llu,\"retried\":%llu,\"lost\":%llu,"
		       "\"not_run\":%llu,\"unjournaled\":%llu,\"total\":",
		       exit_code, (unsigned long long)s->tasks, s->seconds,
		       s->rate, (unsigned long long)s->ok,
		       (unsigned long long)s->failed,
		       (unsigned long long)s->interrupted,
		       (unsigned long long)s->skipped,
		       (unsigned long long)s->failed_before,
		       (unsigned long long)s->retried,
		       (unsigned long long)s->lost,
		       (unsigned long long)s->not_run,
		       (unsigned long long)s->unjournaled);
	if (rp->ntasks)
		tf_strbuf_addf(&sb, "%llu", (unsigned long long)rp->ntasks);
	else
		tf_strbuf_addstr(&sb, "null");
	tf_strbuf_addstr(&sb, ",\"journal\":");
	if (journal)
		tf_json_string(&sb, journal);
	else
		tf_strbuf_addstr(&sb, "null");
	tf_strbuf_addstr(&sb, ",\"ranks\":[");
	for (r = 0; r < rp->nranks; r++) {
		const struct tf_rank_stats *rs = &rp->ranks[r];

		if (rs->slots == 0)
			continue;
		tf_strbuf_addf(&sb, "%s{\"rank\":%d,\"host\":", first ? "" : ",",
			       r);
		tf_json_string(&sb, rs->host);
		tf_strbuf_addf(&sb, ",\"slots\":%d,\"tasks\":%llu,"
				    "\"busy_seconds\":%.3f,\"busy_percent\":%.1f,"
				    "\"lost\":%s}",
			       rs->slots, (unsigned long long)rs->tasks, rs->busy,
			       rank_busy(rs, s->seconds),
			       rs->lost ? "true" : "false");
		first = 0;
	}
	tf_strbuf_addstr(&sb, "]}\n");
	f = fopen(path, "we");
	if (!f) {
		ret = -errno;
	} else {
		if (fwrite(sb.buf, 1, sb.len, f) != sb.len)
			ret = errno ? -errno : -EIO;
		if (fclose(f) == EOF && ret == 0)
			ret = errno ? -errno : -EIO;
	}
	tf_strbuf_release(&sb);
	return ret;
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
