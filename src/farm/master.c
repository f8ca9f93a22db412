/*
 * The master (rank 0). It pulls tasks from the source into a bounded
 * window, hands them to workers in batches sized by what each worker asks
 * for, receives results, prints each task's output as one block, writes
 * the journal and decides when the run is over. It never blocks on one
 * worker: receives are probed, sends are non-blocking, and when nothing
 * happens it backs off to short sleeps instead of spinning. With local
 * slots (always when it is the only rank) it runs tasks itself too.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/comm.h"
#include "farm/exit.h"
#include "farm/exec.h"
#include "farm/master.h"
#include "farm/journal.h"
#include "farm/limits.h"
#include "farm/queue.h"
#include "farm/report.h"
#include "core/batch.h"
#include "taskfarm.h"
#include "farm/wire.h"
#include "farm/writer.h"

/* The sleeps of an idle master with MPI (doubling from the first to the
 * last while nothing happens), and its wait without MPI. */
#define IDLE_MIN_MPI 1e-4
#define IDLE_MAX_MPI 0.001
#define IDLE_MAX_LOCAL 0.1
/* Messages handled per loop turn before the master looks elsewhere. */
#define RECV_BURST 256
/* How long after a drain starts the master waits for results, beyond
 * the kill grace, before it gives up on them. */
#define DRAIN_WAIT 10.0

struct worker_info {
	int hello;
	int lost;            /* declared lost: ignored from now on */
	int reclaiming;      /* a RECLAIM is unanswered */
	uint32_t slots;
	uint32_t pid;
	uint64_t pid_space;  /* equal to ours: pid can be checked here */
	uint64_t want_total; /* tasks it asked for in all */
	uint64_t sent_total; /* tasks sent to it in all */
	uint64_t done_total; /* of those, come back (finished or unrun) */
	double last_heard;   /* tf_now() of its last message */
	double last_sent;    /* tf_now() of our last message to it */
};

/* Why a run stopped before its tasks were all done. */
enum stop_reason {
	STOP_NONE = 0,
	STOP_SIGNAL,       /* a drain by signal: exit 3 */
	STOP_DEADLINE,     /* --deadline: exit 3 */
	STOP_HALT_FAIL,    /* --halt ...,fail=: exit 1 */
	STOP_HALT_SUCCESS, /* --halt ...,success=: exit 0 */
	STOP_NO_WORKERS,   /* every worker was lost: exit 3 */
	STOP_ERROR         /* reading tasks or writing the journal: exit 4 */
};

/* How often the master looks for lost workers and sends heartbeats. */
#define LIVENESS_INTERVAL 0.2

struct master {
	const struct tf_farm_opts *o;
	struct tf_comm *comm;
	struct tf_queue queue;
	struct tf_journal journal;
	int have_journal;
	struct tf_exec exec;
	struct tf_report report;
	struct worker_info *workers;
	uint64_t ntasks;
	uint64_t dispatched;
	int total_slots;
	int next_worker;
	int draining;
	int stop_reason;   /* enum stop_reason of the first stop */
	int drain_signals;
	double drain_deadline;
	int executors;     /* ranks that run tasks: retries avoid repeats */
	int workers_left;  /* workers not lost */
	int slots_changed; /* a result, a hand-out or a loss since the last
			    * look for idle slots (reclaim()) */
	double last_liveness;
	double last_count; /* when report.running was last counted */
	struct tf_runtimes runtimes; /* of successful attempts */
	const struct tf_resume_counts *resumed;
	int journal_failing; /* the last journal write failed (said once) */
	int failed_io;
	struct tf_writer *writer;
	int writer_threaded;
	double writer_idle_since; /* draining with only output to write */
	uint64_t output_lost;     /* tasks journaled output-lost */
	/* Outcomes known but not yet final, their output still being
	 * delivered: --halt judges by them at once, as it did before. */
	uint64_t early_ok, early_failed;
	int warned[4]; /* enum tf_writer_where: a write error reported */
	int warned_spill;
	struct tf_strbuf msg;
};

/*
 * Output. A result is delivered first (writer.h: to standard output and
 * error, or its --results files), and only then finished: journaled,
 * counted, retried. Unless standard output is a terminal, delivery is the
 * writer thread's, so a reader that stops reading never stalls this loop,
 * and no new task is handed out while too much output waits. Output that
 * could not be delivered makes the attempt output-lost, never ok.
 */

/* While draining with nothing but output left, how long the writer may
 * make no progress before that output is given up. */
#define WRITER_DRAIN_WAIT 2.0

static void finish_result(struct master *m, struct tf_writer_job *j);

enum { EARLY_NONE, EARLY_OK, EARLY_FAILED };

static void check_halt(struct master *m);

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
	early = j->early;
	count_early(m, j, 0);
	if (!m->writer_threaded && (j->r.out.len || j->r.err.len))
		tf_report_clear(&m->report);
	if (tf__writer_add(m->writer, j))
		finish_result(m, j); /* frees j */
	else if (early)
		check_halt(m);
}

/* Finishes what the writer has delivered. Returns how many. */
static int collect_delivered(struct master *m)
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
static void abandon_output(struct master *m)
{
	struct tf_writer_job *j, *next;

	collect_delivered(m); /* what was written meanwhile is finished */
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

static void start_drain(struct master *m, int hard, double kill_after,
			int reason, const char *why);
static void check_halt(struct master *m);
static int retry(struct master *m, struct tf_inflight *f, int rank);
static void lose_worker(struct master *m, int rank, const char *why);

/* Sends to a worker not lost; an MPI error loses it. Returns 0 or
 * TF_ELOST. */
static int send_to(struct master *m, int rank, int tag, struct tf_strbuf *out)
{
	if (m->workers[rank].lost) {
		tf_strbuf_release(out);
		return TF_ELOST;
	}
	if (tf_comm_send(m->comm, rank, tag, out) < 0) {
		lose_worker(m, rank, "MPI could not send to it");
		return TF_ELOST;
	}
	m->workers[rank].last_sent = tf_now();
	return 0;
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
	start_drain(m, 0, when == TF_HALT_NOW ? 0 : -1,
		    h->success ? STOP_HALT_SUCCESS : STOP_HALT_FAIL,
		    h->success ? "--halt: enough tasks succeeded"
			       : "--halt: too many tasks failed");
}

/* Takes in one finished attempt from rank. r is the master's to free. */
static void handle_result(struct master *m, int rank, struct tf_result *r)
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
		m->workers[rank].done_total++;
	m->slots_changed = 1;
	if (r->status == TF_STATUS_NOT_STARTED) {
		/* Handed back by a drain, or reclaimed for a slot elsewhere:
		 * not to the same rank again at once. */
		f->task.avoid_rank = m->executors > 1 ? rank : -1;
		tf_queue_putback(&m->queue, f);
		m->dispatched--;
		return;
	}
	if (r->streamed) {
		/* The bytes came ahead in OUTPUT chunks. */
		if (!f->out.error && !f->err.error &&
		    (f->out.len != r->streamed_out ||
		     f->err.len != r->streamed_err))
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
static void lose_task(void *ctx, struct tf_inflight *f)
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
	tf_queue_done(&m->queue, f);
	check_halt(m);
}

/* Whether w's process is seen to have ended: only a pid of our own pid
 * space says so. */
static int worker_gone(const struct worker_info *w)
{
	return w->hello && w->pid_space && w->pid_space == tf__pid_space() &&
	       tf__pid_gone((long)w->pid);
}

/* Declares worker rank lost: nothing more is sent to it or taken from
 * it, and its tasks go elsewhere. */
static void lose_worker(struct master *m, int rank, const char *why)
{
	struct worker_info *w = &m->workers[rank];

	if (w->lost)
		return;
	/* It may only be stuck (a stopped process, a hung node): if it
	 * ever reads again, it stops its tasks and leaves. */
	if (!worker_gone(w)) {
		struct tf_strbuf out = TF_STRBUF_INIT;

		/* Not send_to(): a failure here changes nothing. */
		tf_wire_pack_control(&out, TF_CTL_KILL, 0);
		(void)tf_comm_send(m->comm, rank, TF_TAG_CONTROL, &out);
		/* 1: leave MPI unfinalized. The others may be done with
		 * MPI_Finalize's fence by then, and it would wait for ever. */
		tf_wire_pack_control(&out, TF_CTL_STOP, 1);
		(void)tf_comm_send(m->comm, rank, TF_TAG_CONTROL, &out);
	}
	w->lost = 1;
	m->report.ranks[rank].lost = 1;
	tf_comm_forget(m->comm, rank);
	tf_report_clear(&m->report);
	tf_warn("rank %d on %s lost (%s); %llu of its tasks go elsewhere",
		rank, m->report.ranks[rank].host[0] ? m->report.ranks[rank].host
						    : "?",
		why, (unsigned long long)(w->sent_total - w->done_total));
	if (w->hello) {
		m->total_slots -= (int)w->slots;
		m->executors--;
	}
	m->workers_left--;
	m->slots_changed = 1;
	tf_queue_foreach_rank(&m->queue, rank, lose_task, m);
	if (m->workers_left == 0 && m->exec.nslots == 0 && !m->draining)
		start_drain(m, 0, m->o->drain_grace, STOP_NO_WORKERS,
			    "every worker rank was lost");
}

/*
 * Looks for lost workers, and tells quiet ones the master is there. A
 * worker is lost when its process is seen to have ended (same machine
 * and pid namespace) or when it has sent nothing for --heartbeat
 * seconds; it sends an empty RESULTS batch when it has had nothing to
 * say for a quarter of that, and so does the master, as a HEARTBEAT.
 * Called only when no message waits, so that a late look at the queue
 * is never taken for silence.
 */
static void check_workers(struct master *m, double now)
{
	double hb = m->o->heartbeat;
	int r;

	if (now - m->last_liveness < LIVENESS_INTERVAL)
		return;
	m->last_liveness = now;
	for (r = 1; r < m->comm->size; r++) {
		struct worker_info *w = &m->workers[r];

		if (w->lost)
			continue;
		if (worker_gone(w)) {
			lose_worker(m, r, "its process ended");
			continue;
		}
		if (hb > 0 && now - w->last_heard > hb) {
			char why[64];

			snprintf(why, sizeof(why), "silent for %.0f s",
				 now - w->last_heard);
			lose_worker(m, r, why);
			continue;
		}
		if (hb > 0 && w->hello && now - w->last_sent > hb / 4) {
			struct tf_strbuf out = TF_STRBUF_INIT;

			tf_wire_pack_control(&out, TF_CTL_HEARTBEAT, 0);
			send_to(m, r, TF_TAG_CONTROL, &out);
		}
	}
}

static void local_done(void *ctx, struct tf_result *r)
{
	struct master *m = ctx;

	handle_result(m, 0, r);
	tf_result_release(r);
}

static int handle_message(struct master *m, int src, int tag)
{
	struct tf_strbuf *b = &m->msg;

	if (src <= 0 || src >= m->comm->size)
		return TF_EPROTO;
	if (m->workers[src].lost)
		return 0; /* too late: its tasks went elsewhere */
	m->workers[src].last_heard = tf_now();
	switch (tag) {
	case TF_TAG_HELLO: {
		struct tf_strbuf out = TF_STRBUF_INIT;
		struct tf_hello h;
		struct worker_info *w = &m->workers[src];

		if (w->hello || tf_wire_unpack_hello(b->buf, b->len, &h) < 0)
			return TF_EPROTO;
		w->hello = 1;
		w->slots = h.slots;
		w->pid = h.pid;
		w->pid_space = h.pid_space;
		w->want_total = h.want_total;
		m->total_slots += (int)h.slots;
		snprintf(m->report.ranks[src].host,
			 sizeof(m->report.ranks[src].host), "%s", h.host);
		m->report.ranks[src].slots = (int)h.slots;
		m->slots_changed = 1;
		tf_debug("rank %d on %s (pid %u): %u slots", src, h.host,
			 h.pid, h.slots);
		/* The answer tells it where its master lives, so that it
		 * can see the master's end. */
		memset(&h, 0, sizeof(h));
		h.slots = (uint32_t)m->exec.nslots;
		h.pid = (uint32_t)getpid();
		h.pid_space = tf__pid_space();
		snprintf(h.host, sizeof(h.host), "%s", m->comm->host);
		tf_wire_pack_hello(&out, &h);
		send_to(m, src, TF_TAG_HELLO, &out);
		if (m->draining) {
			/* It joined late: it has nothing to stop. */
			tf_wire_pack_control(&out, TF_CTL_DRAIN, 0);
			send_to(m, src, TF_TAG_CONTROL, &out);
		}
		return 0;
	}
	case TF_TAG_RESULTS: {
		struct tf_result *rs;
		uint64_t want;
		size_t n, i;
		int ret;

		ret = tf_wire_unpack_results(b->buf, b->len, &want, &rs, &n);
		if (ret < 0)
			return ret;
		if (want > m->workers[src].want_total)
			m->workers[src].want_total = want;
		/* Any batch answers a RECLAIM: it is sent after the worker
		 * handed back what it could. */
		m->workers[src].reclaiming = 0;
		m->slots_changed = 1;
		for (i = 0; i < n; i++) {
			handle_result(m, src, &rs[i]);
			tf_result_release(&rs[i]);
		}
		free(rs);
		return 0;
	}
	case TF_TAG_OUTPUT: {
		struct tf_inflight *f;
		const void *data;
		uint64_t id;
		uint32_t attempt;
		size_t len;
		int stream;

		if (tf_wire_unpack_output(b->buf, b->len, &id, &attempt,
					  &stream, &data, &len) < 0)
			return TF_EPROTO;
		f = tf_queue_find(&m->queue, id);
		if (!f || f->rank != src || f->task.attempt != attempt)
			return TF_EPROTO;
		/* If it cannot be kept, the output says so, and the attempt
		 * is failed when its result comes. */
		(void)tf_output_append(stream == 1 ? &f->out : &f->err, data,
				       len, 1024 * 1024);
		return 0;
	}
	case TF_TAG_CONTROL: {
		uint32_t code;
		double arg;

		if (tf_wire_unpack_control(b->buf, b->len, &code, &arg) < 0)
			return TF_EPROTO;
		if (code == TF_CTL_DRAIN_REQUEST && !m->draining)
			return 1; /* tell the loop to start a drain */
		return 0;
	}
	default:
		return TF_EPROTO;
	}
}

static void send_control_all(struct master *m, uint32_t code, double arg)
{
	int r;

	for (r = 1; r < m->comm->size; r++) {
		struct tf_strbuf out = TF_STRBUF_INIT;

		if (m->workers[r].lost)
			continue;
		tf_wire_pack_control(&out, code, arg);
		send_to(m, r, TF_TAG_CONTROL, &out);
	}
}

/*
 * Stops the run: nothing new starts, workers hand back what they have
 * queued, and running tasks are stopped after kill_after seconds (TERM,
 * then KILL after --grace; never if kill_after < 0). hard kills at once.
 * reason is kept from the first call, for the exit code.
 */
static void start_drain(struct master *m, int hard, double kill_after,
			int reason, const char *why)
{
	double now = tf_now();

	tf_report_clear(&m->report);
	if (hard)
		tf_warn("%s: killing running tasks now", why);
	else if (m->draining)
		tf_debug("%s while draining", why);
	else if (kill_after < 0)
		tf_warn("%s: no new task starts; running tasks finish", why);
	else
		tf_warn("%s: draining: no new task starts; running tasks get "
			"%.3g s, then TERM and %.3g s later KILL",
			why, kill_after, m->o->grace);
	if (!m->stop_reason)
		m->stop_reason = reason;
	/* A launcher may kill this process soon after its signal (Open MPI:
	 * a second later): what is journaled so far goes to disk now. */
	/* A full disk keeps the lines for later, as in journal_tick(): the
	 * exit code is settled at the close, by what could not be written. */
	if (m->have_journal && !m->journal_failing) {
		int ret = tf_journal_flush(&m->journal, 1);

		if (ret < 0) {
			tf_report_clear(&m->report);
			tf_error("cannot write the journal: %s; its lines are "
				 "kept and written when it can be",
				 tf_strerror(ret));
			m->journal_failing = 1;
		}
	}
	if (hard) {
		send_control_all(m, TF_CTL_KILL, 0);
		tf_exec_kill(&m->exec, -1, TF_STATUS_INTERRUPTED, 0);
		kill_after = 0;
	} else {
		/* Repeated, a drain only ever shortens the time left. */
		send_control_all(m, TF_CTL_DRAIN, kill_after);
		tf_exec_stop(&m->exec, -1, TF_STATUS_INTERRUPTED, kill_after);
	}
	if (kill_after >= 0) {
		double until = now + kill_after + m->o->grace + DRAIN_WAIT;
		if (!m->drain_deadline || until < m->drain_deadline)
			m->drain_deadline = until;
	}
	m->draining = 1;
}

/* The signals that drain a run, as users send them. */
static const char *signal_name(int sig)
{
	switch (sig) {
	case SIGINT:
		return "SIGINT";
	case SIGTERM:
		return "SIGTERM";
	case SIGUSR1:
		return "SIGUSR1";
	case SIGUSR2:
		return "SIGUSR2";
	default:
		return "a signal";
	}
}

/* Guided self-scheduling: near the end, smaller batches keep the last
 * tasks spread over all workers. */
static size_t batch_cap(const struct master *m)
{
	int slots = m->total_slots + m->exec.nslots;

	if (!m->ntasks || m->dispatched >= m->ntasks || slots <= 0)
		return SIZE_MAX;
	return tf_sched_guided(m->ntasks - m->dispatched, (size_t)slots);
}

/* Takes the next task for rank, with the time limit it gets now. */
static struct tf_inflight *take(struct master *m, int rank)
{
	struct tf_inflight *f = tf_queue_take_for(&m->queue, rank);

	if (f) {
		f->task.timeout = tf_timeout_for(&m->o->timeout, &m->runtimes);
		f->sent_at = tf_wallclock();
	}
	return f;
}

static int dispatch(struct master *m)
{
	int did = 0, i, size = m->comm->size;

	/* Local slots first: they cost no message. */
	while (m->exec.nbusy < m->exec.nslots && tf_queue_nready(&m->queue)) {
		struct tf_inflight *f = take(m, 0);
		struct tf_task t;

		if (!f)
			break;
		tf_task_copy(&t, &f->task);
		tf_exec_start(&m->exec, &t);
		m->dispatched++;
		did = 1;
	}
	for (i = 0; i < size - 1 && tf_queue_nready(&m->queue); i++) {
		int r = 1 + (m->next_worker + i) % (size - 1);
		struct worker_info *w = &m->workers[r];
		struct tf_strbuf out = TF_STRBUF_INIT;
		struct tf_task *batch;
		struct tf_inflight *f;
		size_t n, k, cap;

		if (!w->hello || w->lost || w->want_total <= w->sent_total)
			continue;
		n = (size_t)(w->want_total - w->sent_total);
		cap = batch_cap(m);
		if (n > cap)
			n = cap;
		if (n > tf_queue_nready(&m->queue))
			n = tf_queue_nready(&m->queue);
		batch = tf__xmalloc(n * sizeof(*batch));
		for (k = 0; k < n && (f = take(m, r)); k++)
			batch[k] = f->task;
		if (k) {
			tf_wire_pack_tasks(&out, m->ntasks, batch, k);
			/* Counted as sent first: if the send loses the rank,
			 * its tasks, these among them, are requeued. */
			w->sent_total += k;
			m->dispatched += k;
			m->slots_changed = 1;
			send_to(m, r, TF_TAG_TASKS, &out);
			did = 1;
		}
		free(batch);
	}
	m->next_worker++;
	return did;
}

/* Tasks a worker holds that have not started: it starts one as soon as
 * a slot is free, so what it holds beyond its slots waits. */
static uint64_t queued_on(const struct worker_info *w)
{
	uint64_t held = w->sent_total - w->done_total;

	return held > w->slots ? held - w->slots : 0;
}

/* Running tasks, for the status line: the master's own, and on each
 * worker what it holds up to its slots. */
static uint64_t count_running(const struct master *m)
{
	uint64_t n = (uint64_t)m->exec.nbusy;
	int r;

	for (r = 1; r < m->comm->size; r++) {
		const struct worker_info *w = &m->workers[r];
		uint64_t held = w->sent_total - w->done_total;

		if (!w->lost)
			n += held < w->slots ? held : w->slots;
	}
	return n;
}

/*
 * When nothing is ready and a slot idles somewhere, takes tasks back
 * from the worker with the most waiting behind its running ones, so no
 * task waits behind a long one while a slot could run it. One RECLAIM
 * per worker is outstanding at a time; its answer is any RESULTS batch.
 * Returns whether a RECLAIM was sent.
 */
static int reclaim(struct master *m)
{
	uint64_t idle = (uint64_t)(m->exec.nslots - m->exec.nbusy), most = 0;
	int r, from = 0;

	for (r = 1; r < m->comm->size; r++) {
		const struct worker_info *w = &m->workers[r];
		uint64_t held = w->sent_total - w->done_total, q;

		if (!w->hello || w->lost)
			continue;
		if (held < w->slots)
			idle += w->slots - held;
		q = queued_on(w);
		if (q > most && !w->reclaiming) {
			most = q;
			from = r;
		}
	}
	if (!idle || !from)
		return 0;
	{
		struct tf_strbuf out = TF_STRBUF_INIT;

		tf_wire_pack_control(&out, TF_CTL_RECLAIM,
				     (double)(idle < most ? idle : most));
		if (send_to(m, from, TF_TAG_CONTROL, &out) == 0)
			m->workers[from].reclaiming = 1;
	}
	return 1;
}

/* Opens (making it if need be) the --results directory: a real one, not
 * a symbolic link to one. Returns its fd or -errno. */
static int open_results_dir(const char *dir)
{
	struct stat st;
	int fd;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (lstat(dir, &st) < 0)
		return -errno;
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (access(dir, W_OK | X_OK) < 0) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

/* Stops the run when --deadline says the next task could not finish in
 * time, or the deadline has come. */
static void check_deadline(struct master *m)
{
	double now, left;

	if (m->o->deadline <= 0 || m->draining)
		return;
	now = tf_wallclock();
	left = m->o->deadline - now;
	if (left <= 0)
		start_drain(m, 0, 0, STOP_DEADLINE, "--deadline reached");
	else if (tf_queue_nready(&m->queue) &&
		 !tf_deadline_allows(now, m->o->deadline, &m->runtimes))
		start_drain(m, 0, left, STOP_DEADLINE,
			    "--deadline: the next task would not finish in time");
}

/* The journal's lines waiting for a disk that is full: past this, no new
 * task starts, as its result could not be recorded either. */
#define JOURNAL_PENDING_MAX (16u << 20)

/*
 * Writes the journal when due. A write that fails (a full disk) is said
 * once; its lines stay buffered and are written when the disk has room
 * again, which is said too. Results that can never be written are
 * counted when the journal is closed.
 */
static void journal_tick(struct master *m, double now, const char *path)
{
	int ret = tf_journal_tick(&m->journal, now);

	if (ret < 0 && !m->journal_failing) {
		tf_report_clear(&m->report);
		tf_error("cannot write journal %s: %s; its lines are kept "
			 "and written when it can be",
			 path, tf_strerror(ret));
		m->journal_failing = 1;
	} else if (ret == 0 && m->journal_failing &&
		   !tf_journal_pending(&m->journal)) {
		tf_report_clear(&m->report);
		tf_warn("journal %s written again: no line lost", path);
		m->journal_failing = 0;
	}
	if (ret < 0 && !m->draining &&
	    m->journal.pending.len > JOURNAL_PENDING_MAX) {
		m->failed_io = 1;
		start_drain(m, 0, m->o->drain_grace, STOP_ERROR,
			    "the journal cannot be written");
	}
}

int tf__master_run(const struct tf_farm_opts *o, struct tf_comm *comm,
		   struct tf_guard *guard, struct tf_source *src,
		   const char *journal_path, uint64_t journal_trim,
		   const struct tf_resume_counts *resumed)
{
	struct master m;
	double idle = 0, now, last_busy = tf_now();
	int local_slots, ret, exit_code, src_err = 0, results_fd = -1;
	uint64_t not_run;

	memset(&m, 0, sizeof(m));
	m.o = o;
	m.comm = comm;
	m.ntasks = src->ntasks;
	m.resumed = resumed;
	tf_runtimes_init(&m.runtimes);
	tf_strbuf_init(&m.msg);
	local_slots = o->master_slots >= 0 ? o->master_slots
		      : comm->size == 1    ? (o->slots > 0 ? o->slots
							   : tf__ncores())
					   : 0;
	if (comm->size == 1 && local_slots == 0)
		local_slots = 1;
	tf_report_init(&m.report, comm->size,
		       o->progress == 1 ||
			       (o->progress < 0 && isatty(STDERR_FILENO)),
		       o->quiet, o->status_interval);
	m.report.ntasks = m.ntasks;
	snprintf(m.report.ranks[0].host, sizeof(m.report.ranks[0].host), "%s",
		 comm->host);
	m.report.ranks[0].slots = local_slots;
	m.workers = tf__xcalloc((size_t)comm->size, sizeof(*m.workers));
	m.workers_left = comm->size - 1;
	now = tf_now();
	for (ret = 1; ret < comm->size; ret++)
		m.workers[ret].last_heard = m.workers[ret].last_sent = now;

	if (o->results_dir) {
		results_fd = open_results_dir(o->results_dir);
		if (results_fd < 0) {
			tf_error("--results %s: %s", o->results_dir,
				 results_fd == -ELOOP
					 ? "it is a symbolic link"
					 : tf_strerror(results_fd));
			exit_code = TF_EXIT_USAGE;
			goto out_early;
		}
	}
	/* A terminal does not stall, and output there keeps in step with the
	 * progress line. */
	m.writer_threaded = results_fd >= 0 || !isatty(STDOUT_FILENO);
	ret = tf__writer_new(&m.writer, results_fd, o->tag, m.writer_threaded);
	if (ret < 0) {
		tf_error("cannot start the output writer: %s",
			 tf_strerror(ret));
		exit_code = TF_EXIT_INTERNAL;
		goto out_early;
	}
	if (journal_path) {
		ret = tf_journal_open(&m.journal, journal_path,
				      o->journal_sync);
		if (ret < 0) {
			tf_error("cannot open journal %s: %s", journal_path,
				 ret == -ELOOP ? "it is a symbolic link"
					       : tf_strerror(ret));
			exit_code = TF_EXIT_USAGE;
			goto out_early;
		}
		m.have_journal = 1;
		if (journal_trim != UINT64_MAX) {
			ret = tf_journal_trim(&m.journal, journal_trim);
			if (ret < 0) {
				tf_error("cannot cut the torn line off %s: %s",
					 journal_path, tf_strerror(ret));
				exit_code = TF_EXIT_INTERNAL;
				goto out_journal;
			}
		}
	}
	/* With no local slots the executor still waits on signals. */
	ret = tf_exec_init(&m.exec, local_slots, 0, comm->host, m.ntasks);
	if (ret < 0) {
		tf_error("cannot set up task execution: %s", tf_strerror(ret));
		exit_code = TF_EXIT_INTERNAL;
		goto out_journal;
	}
	tf_exec_set_grace(&m.exec, o->grace);
	tf_exec_set_guard(&m.exec, guard);
	if (o->gpu_list && local_slots > 0 &&
	    tf_exec_bind_gpus(&m.exec, o->gpu_list, o->gpus_per_slot) < 0)
		tf_die("--gpus-per-slot: too few GPUs for %d slots", local_slots);
	/* Retries avoid the rank that failed only if there is another. */
	m.executors = (local_slots > 0) + comm->size - 1;
	/* The window holds enough for every worker's ask-ahead. */
	tf_queue_init(&m.queue, src, 4096 + 64 * (size_t)comm->size);

	for (;;) {
		int did = 0, delivered, n = 0, src_rank, tag;

		if (tf_signals_stop_count() > m.drain_signals) {
			m.drain_signals = tf_signals_stop_count();
			start_drain(&m, tf_signals_escalated(), o->drain_grace,
				    STOP_SIGNAL, signal_name(tf_signals_last()));
		}
		while (n < RECV_BURST &&
		       (ret = tf_comm_recv(comm, TF_ANY_SOURCE, &src_rank, &tag,
					   &m.msg)) > 0) {
			n++;
			ret = handle_message(&m, src_rank, tag);
			if (ret == 1) {
				start_drain(&m, 0, o->drain_grace, STOP_SIGNAL,
					    "a worker got a signal");
			} else if (ret < 0) {
				tf_error("bad %s message from rank %d: %s",
					 tf_tag_name(tag), src_rank,
					 tf_strerror(ret));
				tf_comm_abort(comm, TF_EXIT_INTERNAL);
			}
		}
		if (ret < 0)
			tf_comm_abort(comm, TF_EXIT_INTERNAL);
		did |= n > 0;
		if (!m.draining) {
			ret = tf_queue_fill(&m.queue);
			if (ret < 0) {
				/* Validated up front, so this is I/O. */
				tf_error("%s", src->errmsg(src->ctx));
				src_err = 1;
				start_drain(&m, 0, o->drain_grace, STOP_ERROR,
					    "cannot read the tasks");
			}
			check_deadline(&m);
		}
		delivered = collect_delivered(&m) > 0;
		did |= delivered;
		if (!m.draining && !tf__writer_full(m.writer)) {
			did |= dispatch(&m);
			/* O(workers): only when a slot may have come free. */
			if (!tf_queue_nready(&m.queue) && m.slots_changed) {
				m.slots_changed = 0;
				did |= reclaim(&m);
			}
		}
		if (tf_comm_progress(comm) < 0)
			tf_comm_abort(comm, TF_EXIT_INTERNAL);
		now = tf_now();
		if (n < RECV_BURST)
			check_workers(&m, now);
		if (m.have_journal)
			journal_tick(&m, now, journal_path);
		m.report.skipped = m.resumed->skipped;
		if (now - m.last_count >= 0.1) {
			/* O(workers), and only the status line reads it. */
			m.report.running = count_running(&m);
			m.last_count = now;
		}
		tf_report_tick(&m.report, now);
		if (!m.draining && tf_queue_empty(&m.queue))
			break;
		if (m.draining && tf__writer_pending(m.writer) &&
		    m.queue.ninflight == tf__writer_pending(m.writer)) {
			/* Only output is left: it gets a while without
			 * progress, then is given up. Progress is output
			 * delivered, not any message (workers' heartbeats
			 * would put it off for ever). */
			if (delivered || !m.writer_idle_since)
				m.writer_idle_since = now;
			else if (now - m.writer_idle_since > WRITER_DRAIN_WAIT)
				abandon_output(&m);
		}
		if (m.draining && m.queue.ninflight == 0)
			break;
		if (m.draining && m.drain_deadline && now > m.drain_deadline) {
			tf_error("gave up waiting for %zu running tasks",
				 m.queue.ninflight);
			break;
		}
		/* Wait: for local children, signals, or just time. */
		if (did) {
			idle = 0;
			last_busy = now;
		} else if (tf__writer_pending(m.writer)) {
			/* The writer wakes no poll: look back soon. */
			idle = 0.005;
		} else if (!comm->use_mpi) {
			/* Every local event wakes the poll: no need to look
			 * early. */
			idle = IDLE_MAX_LOCAL;
		} else {
			idle = tf_backoff(idle, now - last_busy, IDLE_MIN_MPI,
					  IDLE_MAX_MPI);
		}
		ret = tf_exec_wait(&m.exec, did ? 0 : idle, local_done, &m);
		if (ret < 0)
			tf_die("poll failed: %s", tf_strerror(ret));
		if (ret > 0) {
			idle = 0;
			last_busy = tf_now();
		}
	}

	if (tf__writer_pending(m.writer))
		abandon_output(&m); /* gave up waiting for running tasks */
	tf__writer_free(&m.writer);
	/* Every worker leaves its loop; then all ranks finalize, unless a
	 * rank was lost (STOP's argument 1: tf_comm_abandon()). */
	if (m.workers_left < comm->size - 1)
		tf_comm_abandon(comm);
	send_control_all(&m, TF_CTL_STOP, comm->abandoned);
	now = tf_now();
	m.report.skipped = m.resumed->skipped;
	m.report.failed_before = m.resumed->failed_before;
	not_run = tf_queue_nready(&m.queue);
	if (m.ntasks) {
		uint64_t ended = m.report.ok + m.report.failed +
				 m.report.interrupted + m.report.skipped;

		/* Never a wrapped count: the reader returns exactly the
		 * tasks it validated, but a summary must not depend on it. */
		not_run = m.ntasks > ended ? m.ntasks - ended : 0;
	}
	if (m.have_journal) {
		ret = tf_journal_close(&m.journal);
		m.have_journal = 0;
		m.report.unjournaled = tf_journal_unwritten(&m.journal);
		if (ret < 0) {
			if (!m.journal_failing)
				tf_error("cannot write journal %s: %s",
					 journal_path, tf_strerror(ret));
			m.failed_io = 1;
		}
	}
	tf_report_summary(&m.report, now, journal_path, not_run);
	if (m.output_lost)
		fprintf(stderr,
			"taskfarm: output of %llu task%s lost: journaled "
			"output-lost, counted failed; --resume runs them "
			"again\n",
			(unsigned long long)m.output_lost,
			m.output_lost == 1 ? "" : "s");
	if (m.failed_io || src_err)
		exit_code = TF_EXIT_INTERNAL;
	else if (m.stop_reason == STOP_HALT_FAIL)
		exit_code = TF_EXIT_FAILED;
	else if ((m.stop_reason == STOP_SIGNAL ||
		  m.stop_reason == STOP_DEADLINE ||
		  m.stop_reason == STOP_NO_WORKERS) &&
		 (not_run || m.report.interrupted))
		exit_code = TF_EXIT_INTERRUPTED; /* resumable: wins over 1 */
	else if (m.report.failed || m.report.failed_before)
		exit_code = TF_EXIT_FAILED;
	else
		exit_code = TF_EXIT_OK;
	/* Launchers that do not pass it on: mpirun --enable-recovery
	 * always exits 0, srun 137 once a rank died. */
	if (comm->use_mpi && (tf__env_true("OMPI_MCA_orte_enable_recovery") ||
			      m.workers_left < comm->size - 1))
		tf_report_exit_status(&m.report, exit_code);
	tf_exec_release(&m.exec);
	tf_queue_release(&m.queue);
	goto out;

out_journal:
	if (m.have_journal)
		tf_journal_close(&m.journal);
out_early:
	if (m.writer)
		tf__writer_free(&m.writer);
	else if (results_fd >= 0)
		close(results_fd);
	send_control_all(&m, TF_CTL_STOP, 0);
out:
	fflush(stdout);
	tf_report_release(&m.report);
	free(m.workers);
	tf_strbuf_release(&m.msg);
	return exit_code;
}
