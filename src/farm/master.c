/*
 * The master (rank 0). It pulls tasks from the source into a bounded
 * window, hands them to workers in batches sized by what each worker asks
 * for (dispatch.c), receives results, prints each task's output as one
 * block and writes the journal (results.c), and decides when the run is
 * over. Its loop has the shape of an event loop: master_init(), then
 * master_turn() until the run is over, then master_finish(). When nothing
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

#include "farm/master_int.h"
#include "taskfarm.h"

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
/* While draining with nothing but output left, how long the writer may
 * make no progress before that output is given up. */
#define WRITER_DRAIN_WAIT 2.0
/* The journal's lines waiting for a disk that is full: past this, no new
 * task starts, as its result could not be recorded either. */
#define JOURNAL_PENDING_MAX (16u << 20)

static void local_done(void *ctx, struct tf_result *r)
{
	struct master *m = ctx;

	tf__master_result(m, 0, r);
	tf_result_release(r);
}

/*
 * Stops the run: nothing new starts, workers hand back what they have
 * queued, and running tasks are stopped after kill_after seconds (TERM,
 * then KILL after --grace; never if kill_after < 0). hard kills at once.
 * reason is kept from the first call, for the exit code.
 */
void tf__master_start_drain(struct master *m, int hard, double kill_after,
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
		tf__master_control_all(m, TF_CTL_KILL, 0);
		tf_exec_kill(&m->exec, -1, TF_STATUS_INTERRUPTED, 0);
		kill_after = 0;
	} else {
		/* Repeated, a drain only ever shortens the time left. */
		tf__master_control_all(m, TF_CTL_DRAIN, kill_after);
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
		tf__master_start_drain(m, 0, 0, STOP_DEADLINE, "--deadline reached");
	else if (tf_queue_nready(&m->queue) &&
		 !tf_deadline_allows(now, m->o->deadline, &m->runtimes))
		tf__master_start_drain(m, 0, left, STOP_DEADLINE,
			    "--deadline: the next task would not finish in time");
}

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
		tf__master_start_drain(m, 0, m->o->drain_grace, STOP_ERROR,
			    "the journal cannot be written");
	}
}

/* The slots the master runs tasks in itself: --master-slots, else all
 * of them when it is alone, else none. */
static int local_slots_of(const struct tf_farm_opts *o, int nranks)
{
	int n = o->master_slots >= 0 ? o->master_slots
		: nranks == 1	     ? (o->slots > 0 ? o->slots : tf__ncores())
				     : 0;

	return nranks == 1 && n == 0 ? 1 : n;
}

/* The state that needs no resource: the report, the workers' table. */
static void init_state(struct master *m, const struct tf_farm_opts *o,
		       struct tf_comm *comm, struct tf_source *src,
		       const char *journal_path,
		       const struct tf_resume_counts *resumed, int local_slots)
{
	double now = tf_now();
	int r;

	memset(m, 0, sizeof(*m));
	m->o = o;
	m->comm = comm;
	m->src = src;
	m->journal_path = journal_path;
	m->ntasks = src->ntasks;
	m->resumed = resumed;
	m->results_fd = -1;
	tf_idle_init(&m->idle, IDLE_MIN_MPI, IDLE_MAX_MPI, now);
	tf_runtimes_init(&m->runtimes);
	tf_strbuf_init(&m->msg);
	tf_report_init(&m->report, comm->size,
		       o->progress == 1 || o->eta ||
			       (o->progress < 0 && isatty(STDERR_FILENO)),
		       o->quiet, o->status_interval);
	m->report.bar = o->bar && !o->quiet;
	m->report.ntasks = m->ntasks;
	snprintf(m->report.ranks[0].host, sizeof(m->report.ranks[0].host),
		 "%s", comm->host);
	m->report.ranks[0].slots = local_slots;
	m->workers = tf__xcalloc((size_t)comm->size, sizeof(*m->workers));
	m->workers_left = comm->size - 1;
	for (r = 1; r < comm->size; r++)
		m->workers[r].last_heard = m->workers[r].last_sent = now;
}

/* The --results directory and the output writer. Returns 0 or an exit
 * code, with the error logged. */
static int init_output(struct master *m)
{
	const struct tf_farm_opts *o = m->o;
	int ret;

	if (o->results_dir) {
		m->results_fd = open_results_dir(o->results_dir);
		if (m->results_fd < 0) {
			tf_error("--results %s: %s", o->results_dir,
				 m->results_fd == -ELOOP
					 ? "it is a symbolic link"
					 : tf_strerror(m->results_fd));
			return TF_EXIT_USAGE;
		}
	}
	/* A terminal does not stall, and output there keeps in step with the
	 * progress line. */
	m->writer_threaded = m->results_fd >= 0 || !isatty(STDOUT_FILENO);
	ret = tf__writer_new(&m->writer, m->results_fd, o->tag,
			     m->writer_threaded);
	if (ret < 0) {
		tf_error("cannot start the output writer: %s",
			 tf_strerror(ret));
		return TF_EXIT_INTERNAL;
	}
	m->results_fd = -1; /* the writer's now */
	if (o->keep_order)
		tf__writer_keep_order(m->writer);
	/* A line forced off a terminal is on standard error all the same. */
	if (m->report.tty || m->report.bar)
		tf__writer_share_stderr(m->writer);
	return 0;
}

/* Opens the journal, cutting a torn last line off at trim (UINT64_MAX:
 * none). Returns 0 or an exit code, with the error logged. */
static int init_journal(struct master *m, uint64_t trim)
{
	const char *path = m->journal_path;
	int ret;

	if (!path)
		return 0;
	ret = tf_journal_open(&m->journal, path, m->o->journal_sync);
	if (ret < 0) {
		tf_error("cannot open journal %s: %s", path,
			 ret == -ELOOP ? "it is a symbolic link"
				       : tf_strerror(ret));
		return TF_EXIT_USAGE;
	}
	m->have_journal = 1;
	if (trim != UINT64_MAX) {
		ret = tf_journal_trim(&m->journal, trim);
		if (ret < 0) {
			tf_error("cannot cut the torn line off %s: %s", path,
				 tf_strerror(ret));
			return TF_EXIT_INTERNAL;
		}
	}
	return 0;
}

/*
 * Opens --joblog beside the journal: appended to under --resume (and for
 * +FILE), else begun afresh, as parallel does. It must not be the journal
 * itself. Returns 0 or an exit code, with the error logged.
 */
static int init_joblog(struct master *m)
{
	const struct tf_farm_opts *o = m->o;
	struct stat a, b;
	int ret;

	if (!o->joblog)
		return 0;
	if (m->journal_path && stat(o->joblog, &a) == 0 &&
	    stat(m->journal_path, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino) {
		tf_error("--joblog %s is the journal; give it a file of its "
			 "own",
			 o->joblog);
		return TF_EXIT_USAGE;
	}
	ret = tf_joblog_open(&m->joblog, o->joblog,
			     o->resume || o->joblog_append);
	if (ret < 0) {
		tf_error("cannot open --joblog %s: %s", o->joblog,
			 ret == -ELOOP ? "it is a symbolic link"
			 : ret == -EINVAL ? "not a regular file"
			 : ret == -EPERM ? "it belongs to another user"
					 : tf_strerror(ret));
		return TF_EXIT_USAGE;
	}
	m->have_joblog = 1;
	return 0;
}

/* Writes the --joblog lines so far (closing it at the end); a failure is
 * said once, and makes the exit status 4. */
static void joblog_write(struct master *m, int close)
{
	int ret = close ? tf_joblog_close(&m->joblog)
			: tf_joblog_flush(&m->joblog);

	if (ret < 0 && !m->joblog_failed) {
		tf_report_clear(&m->report);
		tf_error("cannot write --joblog %s: %s; it is incomplete",
			 m->o->joblog, tf_strerror(ret));
		m->joblog_failed = 1;
		m->failed_io = 1;
	}
	if (close)
		m->have_joblog = 0;
}

/* The local executor (it also waits on signals when it has no slots).
 * Returns 0 or an exit code, with the error logged. */
static int init_exec(struct master *m, struct tf_guard *guard,
		     int local_slots)
{
	const struct tf_farm_opts *o = m->o;
	int ret;

	ret = tf_exec_init(&m->exec, local_slots, 0, m->comm->host,
			   m->ntasks);
	if (ret < 0) {
		tf_error("cannot set up task execution: %s", tf_strerror(ret));
		return TF_EXIT_INTERNAL;
	}
	m->have_exec = 1;
	tf_exec_set_grace(&m->exec, o->grace);
	tf_exec_set_guard(&m->exec, guard);
	if (o->gpu_list && local_slots > 0 &&
	    tf_exec_bind_gpus(&m->exec, o->gpu_list, o->gpus_per_slot) < 0) {
		tf_error("--gpus-per-slot: too few GPUs for %d slots",
			 local_slots);
		return TF_EXIT_INTERNAL;
	}
	if (o->bind && local_slots > 0 &&
	    (ret = tf_exec_bind_cpus(&m->exec)) < 0)
		/* The tasks run, unpinned; the run goes on. */
		tf_warn("--bind: cannot read this rank's CPUs: %s",
			tf_strerror(ret));
	tf__master_linebuf_init(m, local_slots);
	return 0;
}

/* Frees what the master holds, whether or not its loop ran. */
static void master_release(struct master *m)
{
	if (m->have_exec)
		tf_exec_release(&m->exec);
	if (m->writer)
		tf__writer_free(&m->writer);
	else if (m->results_fd >= 0)
		close(m->results_fd);
	fflush(stdout);
	tf_report_release(&m->report);
	free(m->workers);
	tf_strbuf_release(&m->msg);
}

/*
 * Sets the master up for its loop. Returns 0, or an exit code with the
 * error logged, everything set up released again and the workers told
 * to stop.
 */
static int master_init(struct master *m, const struct tf_farm_opts *o,
		       struct tf_comm *comm, struct tf_guard *guard,
		       struct tf_source *src, const char *journal_path,
		       uint64_t journal_trim,
		       const struct tf_resume_counts *resumed)
{
	int local_slots = local_slots_of(o, comm->size), code;

	init_state(m, o, comm, src, journal_path, resumed, local_slots);
	code = init_output(m);
	if (!code)
		code = init_journal(m, journal_trim);
	if (!code)
		code = init_joblog(m);
	if (!code)
		code = init_exec(m, guard, local_slots);
	if (code) {
		if (m->have_journal)
			tf_journal_close(&m->journal);
		if (m->have_joblog)
			tf_joblog_close(&m->joblog);
		tf__master_control_all(m, TF_CTL_STOP, 0);
		master_release(m);
		return code;
	}
	/* Retries avoid the rank that failed only if there is another. */
	m->executors = (local_slots > 0) + comm->size - 1;
	/* The window holds enough for every worker's ask-ahead. */
	tf_queue_init(&m->queue, src, 4096 + 64 * (size_t)comm->size);
	return 0;
}

/* A stop signal since the last turn drains the run (a second one
 * escalates to a kill). */
static void turn_signals(struct master *m)
{
	if (tf_signals_stop_count() > m->drain_signals) {
		m->drain_signals = tf_signals_stop_count();
		tf__master_start_drain(m, tf_signals_escalated(),
				       m->o->drain_grace, STOP_SIGNAL,
				       signal_name(tf_signals_last()));
	}
}

/* Handles up to RECV_BURST waiting messages. Returns how many. A message
 * that makes no sense, or MPI failing, aborts the run. */
static int turn_receive(struct master *m)
{
	int n = 0, ret = 0, src_rank, tag;

	while (n < RECV_BURST && (ret = tf_comm_recv(m->comm, TF_ANY_SOURCE,
						     &src_rank, &tag,
						     &m->msg)) > 0) {
		n++;
		ret = tf__master_handle_message(m, src_rank, tag);
		if (ret == 1) {
			tf__master_start_drain(m, 0, m->o->drain_grace,
					       STOP_SIGNAL,
					       "a worker got a signal");
		} else if (ret < 0) {
			tf_error("bad %s message from rank %d: %s",
				 tf_tag_name(tag), src_rank, tf_strerror(ret));
			tf_comm_abort(m->comm, TF_EXIT_INTERNAL);
		}
	}
	if (ret < 0)
		tf_comm_abort(m->comm, TF_EXIT_INTERNAL);
	return n;
}

/* Reads more tasks into the window, and looks at --deadline. */
static void turn_fill(struct master *m)
{
	int r;

	if (m->draining)
		return;
	r = tf_queue_fill(&m->queue);
	if (r < 0) {
		tf_report_clear(&m->report);
		tf_error("%s", m->src->errmsg(m->src->ctx));
		/* A closed source was validated up front, so this is I/O;
		 * an open one's bad line (or a resume that does not match)
		 * is an input error (exit 2). Every task before a bad line
		 * was checked as it arrived: they all still run, and no
		 * more is read. A stream that is not the journal's job
		 * starts nothing more. */
		if (r == TF_EPARSE || r == TF_ETOOLONG) {
			m->src_input_err = 1;
			tf_warn("a bad task line: no further task is read; "
				"the %zu read before it that have not started "
				"run, then the run ends",
				tf_queue_nready(&m->queue));
		} else if (r == TF_EINVAL) {
			m->src_input_err = 1;
			tf__master_start_drain(m, 0, -1, STOP_ERROR,
					       "the job is not the journal's");
		} else {
			m->src_err = 1;
			tf__master_start_drain(m, 0, m->o->drain_grace,
					       STOP_ERROR,
					       "cannot read the tasks");
		}
	}
	check_deadline(m);
}

/*
 * -k: lets the held output go that no earlier task can still add to. At
 * the writer's bound no task starts; the running ones finish and release
 * what waits behind them. Only when nothing runs and the earliest task
 * waits to start (a retry, or a task of a lost rank, put back) would the
 * run stall: then the held output is written out of order, with a
 * warning, rather than waiting for ever or growing without bound.
 */
static void turn_keep_order(struct master *m)
{
	int force = 0;

	if (!m->o->keep_order || !tf__writer_held(m->writer))
		return;
	if (!m->draining && tf__writer_full(m->writer) &&
	    tf_queue_min_pending(&m->queue, 0) == UINT64_MAX) {
		force = 1;
		if (!m->warned_keep_order) {
			m->warned_keep_order = 1;
			tf_report_clear(&m->report);
			tf_warn("-k: %zu finished tasks' output waits for task "
				"%llu, which waits to start while no task may "
				"start; written out of order",
				tf__writer_held(m->writer),
				(unsigned long long)tf_queue_min_pending(
					&m->queue, 1));
		}
	}
	/* Draining, the tasks that are ready will not run. */
	tf__writer_release(m->writer,
			   tf_queue_min_pending(&m->queue, !m->draining), force);
}

/* Hands tasks out, and takes some back for idle slots. Returns whether
 * anything was sent. */
static int turn_dispatch(struct master *m)
{
	int did;

	if (m->draining || tf__writer_full(m->writer))
		return 0;
	did = tf__master_dispatch(m);
	/* O(workers): only when a slot may have come free, and nothing can
	 * be handed out (none ready, or a barrier holds them back). */
	if ((!tf_queue_nready(&m->queue) || tf_queue_gated(&m->queue)) &&
	    m->slots_changed) {
		m->slots_changed = 0;
		did |= tf__master_reclaim(m);
	}
	if (!did && !m->queue.ninflight && tf_queue_nready(&m->queue))
		tf__master_check_stranded(m);
	return did;
}

/* Completes sends, looks after the workers, the journal and the report.
 * quiet: no message was left waiting. */
static void turn_housekeeping(struct master *m, double now, int quiet)
{
	if (tf_comm_progress(m->comm) < 0)
		tf_comm_abort(m->comm, TF_EXIT_INTERNAL);
	if (quiet)
		tf__master_check_workers(m, now);
	if (m->have_journal)
		journal_tick(m, now, m->journal_path);
	if (m->have_joblog)
		joblog_write(m, 0);
	m->report.skipped = m->resumed->skipped;
	if (now - m->last_count >= 0.1) {
		/* O(workers), and only the status line reads it. */
		m->report.running = tf__master_count_running(m);
		m->last_count = now;
	}
	tf_report_tick(&m->report, now);
}

/* Whether the run is over. delivered: output was delivered this turn. */
static int turn_over(struct master *m, double now, int delivered)
{
	size_t pending = tf__writer_pending(m->writer);

	if (!m->draining)
		return tf_queue_empty(&m->queue);
	if (pending && m->queue.ninflight == pending) {
		/* Only output is left: it gets a while without progress,
		 * then is given up. Progress is output delivered, not any
		 * message (workers' heartbeats would put it off for ever). */
		if (delivered || !m->writer_idle_since)
			m->writer_idle_since = now;
		else if (now - m->writer_idle_since > WRITER_DRAIN_WAIT)
			tf__master_abandon_output(m);
	}
	if (m->queue.ninflight == 0)
		return 1;
	if (m->drain_deadline && now > m->drain_deadline) {
		tf_error("gave up waiting for %zu running tasks",
			 m->queue.ninflight);
		return 1;
	}
	return 0;
}

/* Waits for local children, signals, or just time: not at all after a
 * turn that did something, else longer the longer nothing happens.
 * Returns 0 or a negative code (poll failed). */
static int turn_wait(struct master *m, double now, int did)
{
	double wait;
	int ret;

	if (did)
		wait = tf_idle_next(&m->idle, 1, now);
	else if (tf__writer_pending(m->writer))
		/* The writer wakes no poll: look back soon. */
		wait = tf_idle_hold(&m->idle, 0.005);
	else if (!m->comm->use_mpi)
		/* Every local event wakes the poll: no need to look
		 * early. */
		wait = tf_idle_hold(&m->idle, IDLE_MAX_LOCAL);
	else
		wait = tf_idle_next(&m->idle, 0, now);
	/* A stream's next line ends the wait (without MPI it is long). */
	tf_exec_set_wake_fd(&m->exec,
			    m->draining ? -1 : tf_queue_wake_fd(&m->queue));
	ret = tf_exec_wait(&m->exec, wait, local_done, m);
	if (ret < 0)
		return ret;
	if (ret > 0)
		tf_idle_busy(&m->idle, tf_now());
	return 0;
}

/*
 * One pass of the loop: a signal drains, messages are received, the
 * window is filled, tasks handed out, delivered output finished, sends
 * completed and the journal synced, then the master waits. Returns 1
 * while the run goes on, 0 once it is over, or a negative code when the
 * loop cannot go on.
 */
static int master_turn(struct master *m)
{
	int did, delivered, n, ret;
	double now;

	turn_signals(m);
	n = turn_receive(m);
	did = n > 0;
	turn_fill(m);
	turn_keep_order(m);
	delivered = tf__master_collect_delivered(m) > 0;
	did |= delivered;
	did |= turn_dispatch(m);
	now = tf_now();
	turn_housekeeping(m, now, n < RECV_BURST);
	if (turn_over(m, now, delivered))
		return 0;
	ret = turn_wait(m, now, did);
	return ret < 0 ? ret : 1;
}

/* The run's exit code (enum tf_exit), from how it ended. */
static int exit_code(const struct master *m, uint64_t not_run)
{
	if (m->failed_io || m->src_err || m->failed_internal)
		return TF_EXIT_INTERNAL;
	if (m->src_input_err)
		return TF_EXIT_USAGE;
	if (m->stop_reason == STOP_HALT_FAIL)
		return TF_EXIT_FAILED;
	/* An open source that has not ended has tasks to come. */
	if ((m->stop_reason == STOP_SIGNAL ||
	     m->stop_reason == STOP_DEADLINE ||
	     m->stop_reason == STOP_NO_WORKERS) &&
	    (not_run || m->report.interrupted ||
	     (!m->ntasks && !m->queue.src_done)))
		return TF_EXIT_INTERRUPTED; /* resumable: wins over 1 */
	if (m->report.failed || m->report.failed_before)
		return TF_EXIT_FAILED;
	return TF_EXIT_OK;
}

/* Tasks of the source that never ran. */
static uint64_t count_not_run(const struct master *m)
{
	uint64_t ended = m->report.ok + m->report.failed +
			 m->report.interrupted + m->report.skipped;

	if (!m->ntasks)
		return tf_queue_nready(&m->queue);
	/* Never a wrapped count: the reader returns exactly the tasks it
	 * validated, but a summary must not depend on it. */
	return m->ntasks > ended ? m->ntasks - ended : 0;
}

/*
 * Ends the run after its loop: output not delivered is given up, the
 * workers are told to stop, the journal is closed and the summary
 * printed. Frees what the master holds. Returns the exit code.
 */
static int master_finish(struct master *m)
{
	struct tf_comm *comm = m->comm;
	uint64_t not_run;
	double now;
	int ret, code;

	if (tf__writer_pending(m->writer))
		tf__master_abandon_output(m); /* gave up on running tasks */
	tf__writer_free(&m->writer);
	/* Every worker leaves its loop; then all ranks finalize, unless a
	 * rank was lost (STOP's argument 1: tf_comm_abandon()). */
	if (m->workers_left < comm->size - 1)
		tf_comm_abandon(comm);
	tf__master_control_all(m, TF_CTL_STOP, comm->abandoned);
	m->report.skipped = m->resumed->skipped;
	m->report.failed_before = m->resumed->failed_before;
	not_run = count_not_run(m);
	if (m->have_journal) {
		ret = tf_journal_close(&m->journal);
		m->have_journal = 0;
		m->report.unjournaled = tf_journal_unwritten(&m->journal);
		if (ret < 0) {
			if (!m->journal_failing)
				tf_error("cannot write journal %s: %s",
					 m->journal_path, tf_strerror(ret));
			m->failed_io = 1;
		}
	}
	if (m->have_joblog)
		joblog_write(m, 1);
	now = tf_now();
	tf_report_summary(&m->report, now, m->journal_path, not_run);
	if (m->output_lost)
		tf__log_plain(TF_LOG_WARN,
			      "taskfarm: output of %llu task%s lost: journaled "
			      "output-lost, counted failed; --resume runs them "
			      "again\n",
			      (unsigned long long)m->output_lost,
			      m->output_lost == 1 ? "" : "s");
	code = exit_code(m, not_run);
	if (m->o->summary_json) {
		struct tf_summary sum;

		tf_report_summarize(&m->report, now, not_run, &sum);
		ret = tf_report_summary_json(&m->report, &sum, m->journal_path,
					     code, m->o->summary_json);
		if (ret < 0) {
			tf_error("--summary-json %s: %s", m->o->summary_json,
				 tf_strerror(ret));
			code = TF_EXIT_INTERNAL;
		}
	}
	/* Launchers that do not pass it on: mpirun --enable-recovery
	 * always exits 0, srun 137 once a rank died. */
	if (comm->use_mpi && (tf__env_true("OMPI_MCA_orte_enable_recovery") ||
			      m->workers_left < comm->size - 1))
		tf_report_exit_status(&m->report, code);
	tf_queue_release(&m->queue);
	master_release(m);
	return code;
}

int tf__master_run(const struct tf_farm_opts *o, struct tf_comm *comm,
		   struct tf_guard *guard, struct tf_source *src,
		   const char *journal_path, uint64_t journal_trim,
		   const struct tf_resume_counts *resumed)
{
	struct master m;
	int ret;

	ret = master_init(&m, o, comm, guard, src, journal_path, journal_trim,
			  resumed);
	if (ret)
		return ret;
	while ((ret = master_turn(&m)) > 0)
		;
	if (ret < 0) {
		tf_error("poll failed: %s", tf_strerror(ret));
		m.failed_internal = 1;
	}
	return master_finish(&m);
}
