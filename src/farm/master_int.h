/*
 * The master's state and the parts of its loop that live beside
 * master.c: dispatch.c (the workers: their messages, hand-out, reclaim,
 * liveness) and results.c (delivery of output, journaling, retries,
 * --halt). Internal to those three files.
 */
#ifndef TF_MASTER_INT_H
#define TF_MASTER_INT_H

#include <stdint.h>

#include "core/comm.h"
#include "core/idle.h"
#include "farm/exec.h"
#include "farm/exit.h"
#include "farm/joblog.h"
#include "farm/journal.h"
#include "farm/limits.h"
#include "farm/master.h"
#include "farm/queue.h"
#include "farm/report.h"
#include "farm/wire.h"
#include "farm/writer.h"

struct worker_info {
	int hello;
	int lost;            /* declared lost: ignored from now on */
	int reclaiming;      /* a RECLAIM is unanswered */
	uint32_t slots;
	uint32_t gpus;
	uint32_t pid;
	uint64_t pid_space;  /* equal to ours: pid can be checked here */
	/* Counted in slots (a task of #TASKFARM slots N counts N): */
	uint64_t want_total; /* slots' worth of tasks it asked for in all */
	uint64_t sent_total; /* ... sent to it in all */
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

struct master {
	const struct tf_farm_opts *o;
	struct tf_comm *comm;
	struct tf_source *src;
	const char *journal_path;
	struct tf_queue queue;
	struct tf_journal journal;
	int have_journal;
	struct tf_joblog joblog; /* --joblog, GNU parallel's format */
	int have_joblog;
	int joblog_failed;  /* a --joblog write failed (said once) */
	struct tf_exec exec;
	int have_exec;
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
	struct tf_idle idle; /* the loop's back-off while nothing happens */
	struct tf_runtimes runtimes; /* of successful attempts */
	const struct tf_resume_counts *resumed;
	int journal_failing; /* the last journal write failed (said once) */
	int failed_io;
	int src_err;         /* reading the tasks failed */
	int failed_internal; /* the loop could not go on (poll failed) */
	int results_fd;      /* --results: until the writer owns it */
	struct tf_writer *writer;
	int writer_threaded;
	double writer_idle_since; /* draining with only output to write */
	uint64_t output_lost;     /* tasks journaled output-lost */
	/* Outcomes known but not yet final, their output still being
	 * delivered: --halt judges by them at once, as it did before. */
	uint64_t early_ok, early_failed;
	int warned[4]; /* enum tf_writer_where: a write error reported */
	int warned_spill;
	int warned_keep_order; /* -k gave up the order once */
	struct tf_strbuf msg;
};

/* master.c */

/**
 * Stops the run: nothing new starts, workers hand back what they have
 * queued, and running tasks are stopped after kill_after seconds (TERM,
 * then KILL after --grace; never if kill_after < 0). hard kills at once.
 * reason (enum stop_reason) is kept from the first call, for the exit
 * code; why is said in a warning.
 */
void tf__master_start_drain(struct master *m, int hard, double kill_after,
			    int reason, const char *why);

/* dispatch.c */

/**
 * Handles the message m->msg of tag from worker src. Returns 0, 1 when
 * the worker asks for a drain (it got a signal), or TF_EPROTO (or another
 * negative code) for a message that makes no sense.
 */
int tf__master_handle_message(struct master *m, int src, int tag);
/** Hands ready tasks to the local slots and to workers that asked for
 * them. Returns whether anything was handed out. */
int tf__master_dispatch(struct master *m);
/** Takes back tasks queued behind a worker's running ones when a slot
 * idles elsewhere. Returns whether a RECLAIM was sent. */
int tf__master_reclaim(struct master *m);
void tf__master_check_stranded(struct master *m);
/** Looks for lost workers and sends heartbeats, at most every 0.2 s. */
void tf__master_check_workers(struct master *m, double now);
/** Running tasks, for the status line. O(workers). */
uint64_t tf__master_count_running(const struct master *m);
/** Sends CONTROL code(arg) to every worker not lost (control.h). */
void tf__master_control_all(struct master *m, uint32_t code, double arg);

/* results.c */

/** Takes in one finished attempt r from rank; r's contents become the
 * master's (r is left empty, for the caller to release). */
void tf__master_result(struct master *m, int rank, struct tf_result *r);
/** Finishes what the writer has delivered. Returns how many. */
int tf__master_collect_delivered(struct master *m);
/** Gives up on output the writer could not deliver while the run stops:
 * those attempts are journaled interrupted. */
void tf__master_abandon_output(struct master *m);
/** A task's attempt on a lost rank (tf_queue_foreach_rank()'s callback,
 * ctx the master): journaled lost, then queued again or given up. */
void tf__master_lose_task(void *ctx, struct tf_inflight *f);

/* linebuf.c */

/** --line-buffer: local tasks' whole lines go to the writer as they come
 * (when asked for, without -k or --results, and with local slots). */
void tf__master_linebuf_init(struct master *m, int local_slots);
/** A worker's task's whole lines (which: 0 stdout, 1 stderr), sent as
 * they came: to the writer at once, or held in f's output while the
 * writer is full (and after that, so that they stay in order). */
void tf__master_remote_lines(struct master *m, struct tf_inflight *f,
			     int slot, int which, const void *data,
			     size_t len);
/** A worker's result, once its lines went ahead: the held ones go in
 * front of its output, the written ones count in r->ahead_out/err. */
void tf__master_remote_lines_result(struct tf_inflight *f,
				    struct tf_result *r, size_t threshold);

#endif
