/*
 * The master's results: each finished attempt is delivered first (its
 * output to standard output and error, or to its --results files, by the
 * writer), and only then finished: journaled, counted, retried, judged by
 * --halt. Attempts lost with their rank are journaled and run again
 * here too.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "farm/master_int.h"
#include "taskfarm.h"

/*
 * Unless standard output is a terminal, delivery is the writer thread's,
 * so a reader that stops reading never stalls the loop, and no new task
 * is handed out while too much output waits. Output that could not be
 * delivered makes the attempt output-lost, never ok.
 */

static void finish_result(struct master *m, struct tf_writer_job *j);
static void check_halt(struct master *m);

enum { EARLY_NONE, EARLY_OK, EARLY_FAILED };

/* Counts j's outcome ahead, or (done) takes it back. */
static void count_early(struct master *m, const struct tf_writer_job *j,
			int done)
{
	uint64_t *n = j->early == EARLY_OK       ? &m->early_ok
		      : j->early == EARLY_FAILED ? &m->early_failed
						 : NULL;

	if (n)
		*n = done ? *n - 1 : *n + 1;
}

/*
 * Hands a result on for delivery; it is finished once delivered. Its
 * outcome (a success, or a failure with no retry left) counts for --halt
 * at once, so that no task starts in a slot that a halt would have kept
 * empty while the output is still on its way.
 */
static void deliver(struct master *m, struct tf_writer_job *j)
{
	int early;

	if (j->r.status == TF_STATUS_OK)
		j->early = EARLY_OK;
	else if (j->r.status != TF_STATUS_INTERRUPTED) {
		struct tf_inflight *f = tf_queue_find(&m->queue, j->r.id);

		if (f && (f->task.retries_left == 0 || m->draining))
			j->early = EARLY_FAILED;
	}
	if (m->o->tagstring) {
		struct tf_inflight *f = tf_queue_find(&m->queue, j->r.id);

		if (f && f->task.tag)
			j->tag = tf__xstrdup(f->task.tag);
	}
	early = j->early;
	count_early(m, j, 0);
	if (!m->writer_threaded && (j->r.out.len || j->r.err.len))
		tf_report_clear(&m->report);
	if (tf__writer_add(m->writer, j)) {
		finish_result(m, j); /* frees j */
		return;
	}
	if (m->o->keep_order) {
		struct tf_inflight *f = tf_queue_find(&m->queue, j->r.id);

		if (f)
			f->delivering = 1; /* -k: no longer holds others */
	}
	if (early)
		check_halt(m);
}

/* Finishes what the writer has delivered. Returns how many. */
int tf__master_collect_delivered(struct master *m)
{
	struct tf_writer_job *j = tf__writer_collect(m->writer), *next;
	int n = 0;

	for (; j; j = next, n++) {
		next = j->next;
		finish_result(m, j);
	}
	return n;
}

/*
 * Gives up on output the writer could not deliver while the run stops (a
 * reader that never reads again): those attempts are journaled
 * interrupted, so --resume runs them again; one the thread delivered
 * meanwhile is finished as such.
 */
void tf__master_abandon_output(struct master *m)
{
	struct tf_writer_job *j, *next;

	tf__master_collect_delivered(m); /* what was written meanwhile is finished */
	if (!tf__writer_pending(m->writer))
		return;
	tf_report_clear(&m->report);
	tf_warn("standard output is not being read: the output of %zu "
		"finished tasks was not written; they are journaled "
		"interrupted",
		tf__writer_pending(m->writer));
	for (j = tf__writer_abandon(&m->writer); j; j = next) {
		struct tf_inflight *f = tf_queue_find(&m->queue, j->r.id);

		next = j->next;
		if (j->done) {
			finish_result(m, j); /* frees j */
			continue;
		}
		count_early(m, j, 1);
		j->r.status = TF_STATUS_INTERRUPTED;
		if (m->have_journal && f)
			tf_journal_add(&m->journal, &j->r,
				       m->report.ranks[j->rank].host,
				       f->task.cmd, f->task.cmd_len);
		m->report.interrupted++;
		m->report.ranks[j->rank].tasks++;
		if (f)
			tf_queue_done(&m->queue, f);
		tf__writer_job_free(j);
	}
}

/* Says why an attempt's output was lost: a stream's failure once, a
 * refused --results path every time (it names the task). */
static void report_lost_output(struct master *m, const struct tf_writer_job *j)
{
	const char *dir = m->o->results_dir;

	if (j->where == TF_WRITER_RESULTS && j->refused) {
		tf_report_clear(&m->report);
		tf_warn("task %llu: --results %s/%s is not a regular file; "
			"refused, and the task journaled output-lost",
			(unsigned long long)j->r.id, dir, j->name);
		return;
	}
	if (m->warned[j->where])
		return;
	m->warned[j->where] = 1;
	tf_report_clear(&m->report);
	if (j->where == TF_WRITER_RESULTS)
		tf_warn("cannot write %s/%s: %s; tasks whose output is lost "
			"are journaled output-lost (not reported again)",
			dir, j->name, tf_strerror(j->error));
	else
		tf_warn("cannot write task output to standard %s: %s; tasks "
			"whose output is lost are journaled output-lost (not "
			"reported again)",
			j->where == TF_WRITER_STDOUT ? "output" : "error",
			tf_strerror(j->error));
}

/* A failed attempt with retries left goes back to the queue, to run next
 * on another rank where there is one. */
static int retry(struct master *m, struct tf_inflight *f, int rank)
{
	if (f->task.retries_left == 0 || m->draining)
		return 0;
	f->task.retries_left--;
	f->task.attempt++;
	f->task.avoid_rank = m->executors > 1 ? rank : -1;
	tf_queue_putback(&m->queue, f);
	m->dispatched--;
	m->report.retried++;
	return 1;
}

/* After a task's final outcome: does a --halt condition now hold? */
static void check_halt(struct master *m)
{
	const struct tf_halt *h = &m->o->halt;
	int when = tf_halt_check(h, m->report.ok + m->early_ok,
				 m->report.failed + m->early_failed,
				 m->ntasks);

	if (when == TF_HALT_NEVER || m->stop_reason == STOP_HALT_FAIL ||
	    m->stop_reason == STOP_HALT_SUCCESS)
		return;
	tf__master_start_drain(m, 0, when == TF_HALT_NOW ? 0 : -1,
		    h->success ? STOP_HALT_SUCCESS : STOP_HALT_FAIL,
		    h->success ? "--halt: enough tasks succeeded"
			       : "--halt: too many tasks failed");
}

/* Takes in one finished attempt from rank. r is the master's to free. */
void tf__master_result(struct master *m, int rank, struct tf_result *r)
{
	struct tf_inflight *f = tf_queue_find(&m->queue, r->id);

	r->rank = rank;
	if (!f || f->rank != rank || f->task.attempt != r->attempt) {
		tf_warn("rank %d reported task %llu attempt %u, which it was "
			"not given; ignored",
			rank, (unsigned long long)r->id, r->attempt);
		return;
	}
	if (rank > 0)
		m->workers[rank].done_total += tf_task_slots(&f->task);
	m->slots_changed = 1;
	if (r->status == TF_STATUS_NOT_STARTED) {
		/* Handed back by a drain, or reclaimed for a slot elsewhere:
		 * not to the same rank again at once. */
		f->task.avoid_rank = m->executors > 1 ? rank : -1;
		tf_queue_putback(&m->queue, f);
		m->dispatched--;
		return;
	}
	/* --line-buffer: what a worker's task wrote ahead as lines. */
	tf__master_remote_lines_result(f, r, m->exec.spill_threshold);
	if (r->streamed) {
		/* The bytes came ahead in OUTPUT chunks (behind any lines
		 * held there). */
		if (!f->out.error && !f->err.error &&
		    (f->out.len - f->lines_held[0] != r->streamed_out ||
		     f->err.len - f->lines_held[1] != r->streamed_err))
			tf_warn("task %llu: expected %llu+%llu bytes of "
				"output, got %llu+%llu",
				(unsigned long long)r->id,
				(unsigned long long)r->streamed_out,
				(unsigned long long)r->streamed_err,
				(unsigned long long)f->out.len,
				(unsigned long long)f->err.len);
		tf_output_release(&r->out);
		tf_output_release(&r->err);
		r->out = f->out;
		r->err = f->err;
		tf_output_init(&f->out);
		tf_output_init(&f->err);
	}
	{
		struct tf_writer_job *j = tf__xcalloc(1, sizeof(*j));

		j->r = *r;
		j->rank = rank;
		tf_result_init(r); /* the job's now */
		/* Delivered but not finished: no longer the rank's, if it
		 * is lost meanwhile. */
		f->rank = -1;
		deliver(m, j);
	}
}

/* Finishes a delivered attempt: journals it, counts it, retries it. Frees
 * j. */
static void finish_result(struct master *m, struct tf_writer_job *j)
{
	struct tf_result *r = &j->r;
	struct tf_inflight *f = tf_queue_find(&m->queue, r->id);
	int rank = j->rank, failed, spill_lost;
	struct tf_rank_stats *rs = &m->report.ranks[rank];
	const char *host = rs->host;

	count_early(m, j, 1);
	/* Output that could not be kept ($TMPDIR) or written is lost: the
	 * attempt is no success, and --resume runs it again. A worker's own
	 * spill failure comes as its status. */
	spill_lost = r->out.error || r->err.error ||
		     r->status == TF_STATUS_OUTPUT_LOST;
	if (spill_lost && !m->warned_spill) {
		int e = r->out.error ? r->out.error : r->err.error;

		m->warned_spill = 1;
		tf_report_clear(&m->report);
		if (e)
			tf_warn("task %llu: cannot keep its output in $TMPDIR "
				"(%s): %s; tasks whose output is lost are "
				"journaled output-lost (not reported again)",
				(unsigned long long)r->id,
				tf_output_spill_dir(), tf_strerror(e));
		else
			tf_warn("task %llu: rank %d could not keep its output "
				"in its $TMPDIR; tasks whose output is lost "
				"are journaled output-lost (not reported "
				"again)",
				(unsigned long long)r->id, rank);
	}
	if (j->error)
		report_lost_output(m, j);
	if ((spill_lost || j->error) && r->status != TF_STATUS_INTERRUPTED) {
		r->status = TF_STATUS_OUTPUT_LOST;
		m->output_lost++;
		m->failed_io = 1;
	}
	if (m->have_journal)
		tf_journal_add(&m->journal, r, host, f->task.cmd,
			       f->task.cmd_len);
	rs->tasks++;
	rs->busy += r->runtime;
	failed = r->status != TF_STATUS_OK &&
		 r->status != TF_STATUS_INTERRUPTED;
	if (failed && r->status != TF_STATUS_OUTPUT_LOST &&
	    (m->o->verbose || !m->o->quiet)) {
		tf_report_clear(&m->report);
		tf_warn("task %llu attempt %u %s (exit status %d) on rank %d%s",
			(unsigned long long)r->id, r->attempt,
			tf_status_name(r->status), r->exitval, rank,
			f->task.retries_left && !m->draining ? "; retrying"
							     : "");
	}
	/* Output that could not go where it belongs would not the next
	 * time either. */
	if (failed && r->status != TF_STATUS_OUTPUT_LOST &&
	    retry(m, f, rank)) {
		tf__writer_job_free(j);
		return;
	}
	if (m->have_joblog) /* the task's final attempt */
		tf_joblog_add(&m->joblog, r, host, f->task.cmd,
			      f->task.cmd_len);
	switch (r->status) {
	case TF_STATUS_OK:
		m->report.ok++;
		tf_runtimes_add(&m->runtimes, r->runtime);
		break;
	case TF_STATUS_INTERRUPTED:
		m->report.interrupted++;
		break;
	default:
		m->report.failed++;
		break;
	}
	tf__writer_job_free(j);
	tf_queue_done(&m->queue, f);
	check_halt(m);
}

/* A task's attempt on a lost rank: journaled as lost, then run again
 * elsewhere without using up a retry, unless it has been lost too often
 * (a task that takes its ranks down). */
void tf__master_lose_task(void *ctx, struct tf_inflight *f)
{
	struct master *m = ctx;
	struct tf_result r;
	int rank = f->rank;

	tf_result_init(&r);
	r.id = f->task.id;
	r.attempt = f->task.attempt;
	r.rank = rank;
	r.slot = 0; /* unknown */
	r.status = TF_STATUS_LOST;
	r.exitval = -1;
	r.start = f->sent_at;
	r.runtime = tf_wallclock() - f->sent_at;
	if (m->have_journal)
		tf_journal_add(&m->journal, &r, m->report.ranks[rank].host,
			       f->task.cmd, f->task.cmd_len);
	m->report.lost++;
	f->task.lost++;
	if (f->task.lost < m->o->lost_limit && !m->draining) {
		f->task.attempt++;
		f->task.avoid_rank = -1;
		tf_queue_putback(&m->queue, f);
		m->dispatched--;
		return;
	}
	tf_report_clear(&m->report);
	if (!m->draining)
		tf_warn("task %llu: given up after %u attempts lost with their "
			"rank (--lost-limit %u)",
			(unsigned long long)f->task.id, f->task.lost,
			m->o->lost_limit);
	if (m->draining)
		m->report.interrupted++;
	else
		m->report.failed++;
	if (m->have_joblog && !m->draining) /* given up: failed */
		tf_joblog_add(&m->joblog, &r, m->report.ranks[rank].host,
			      f->task.cmd, f->task.cmd_len);
	tf_queue_done(&m->queue, f);
	check_halt(m);
}
