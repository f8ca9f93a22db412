/*
 * Output delivery: each finished task's output is written as one block to
 * standard output and standard error, or to its two files under
 * --results. Unless told otherwise it is a thread's job, so a reader that
 * stops reading stalls that thread, never the caller's event loop; the
 * caller journals a result only once it comes back delivered (or failed).
 * No MPI.
 */
#ifndef TF_WRITER_H
#define TF_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "farm/task.h"

/** Where a job's output could not go. */
enum tf_writer_where {
	TF_WRITER_OK = 0,
	TF_WRITER_STDOUT,
	TF_WRITER_STDERR,
	TF_WRITER_RESULTS
};

/** While this much waits, tf__writer_full() says to start no new task. */
#define TF_WRITER_MAX_JOBS 1024
#define TF_WRITER_MAX_MEM (64u << 20)
#define TF_WRITER_MAX_FDS 128

/** One result to deliver. The caller allocates it (zeroed) and fills r and
 * rank; the writer fills error, where, refused and name. */
struct tf_writer_job {
	struct tf_writer_job *next;
	struct tf_result r; /* owned by the job */
	int rank;
	int error;     /* 0, or -errno of the first write that failed */
	int where;     /* enum tf_writer_where of error */
	int refused;   /* a --results path that is no regular file */
	char name[48]; /* the --results file of error, e.g. "7.out" */
	int early;     /* the master's: outcome counted ahead for --halt */
	char *tag;     /* --tagstring's, or NULL; owned by the job */
	int chunk;     /* --line-buffer: whole lines of a running task, no
			* result: the writer frees it once written */
	/* The writer's: */
	int done;
	uint64_t mem;
	int fds;
};

struct tf_writer;

/**
 * Makes a writer in *wp. results_fd is an open --results directory (then
 * the writer owns it) or -1 for standard output and error; tag prefixes
 * every line with the task id there. threaded 0 delivers in the caller's
 * thread, inside tf__writer_add(). Returns 0 or -errno (*wp NULL, nothing
 * to free, results_fd still the caller's).
 */
int tf__writer_new(struct tf_writer **wp, int results_fd, int tag,
		   int threaded);
/**
 * Hands j over. Returns 1 if it was delivered at once (unthreaded, or
 * nothing to write): the caller has it back. Else 0: it comes back from
 * tf__writer_collect().
 */
int tf__writer_add(struct tf_writer *w, struct tf_writer_job *j);
/**
 * -k: from now on tf__writer_add() holds each job back (it still counts
 * for tf__writer_full()) until tf__writer_release() lets it go, in task
 * id order. Jobs with early 0 are taken to be attempts that may be run
 * again, whose next attempt must come before any higher id.
 */
void tf__writer_keep_order(struct tf_writer *w);
/**
 * -k: hands on, in id order, the held jobs that no task still to give
 * output comes before: ids below horizon (the lowest id that may still
 * give output, tf_queue_min_pending()) and below any attempt that may be
 * run again, and such an attempt itself at horizon. force hands on every
 * held job. Unthreaded, they are delivered here, under the terminal's
 * lock when standard error is a terminal. They come back from
 * tf__writer_collect(). Returns how many were handed on.
 */
size_t tf__writer_release(struct tf_writer *w, uint64_t horizon, int force);
/** --bar or --progress off a terminal: standard error carries the
 * progress line all the same, so task output written there takes it off first (threaded
 * writers; unthreaded, the caller does). */
void tf__writer_share_stderr(struct tf_writer *w);
/** -k: jobs held back. */
size_t tf__writer_held(const struct tf_writer *w);
/** Jobs delivered since the last call, in the order they were added, as a
 * list the caller owns; NULL if none. */
struct tf_writer_job *tf__writer_collect(struct tf_writer *w);
/** Jobs added and not yet collected. */
size_t tf__writer_pending(const struct tf_writer *w);
/** Whether so much waits that no new task should start. */
int tf__writer_full(const struct tf_writer *w);
/**
 * Gives up on what is not delivered: the thread may be blocked in write()
 * for ever. Returns those jobs, in order, the caller's to free (done set
 * on those the thread delivered meanwhile; the one it is delivering comes
 * as a copy without its output). The old writer and that job stay the
 * thread's, which frees them when its write returns. *wp becomes a fresh
 * unthreaded writer whose standard output and error count as failed
 * (-EPIPE).
 */
struct tf_writer_job *tf__writer_abandon(struct tf_writer **wp);
/** Waits for the thread to deliver what it holds, then frees the writer
 * (and closes its results_fd); *wp becomes NULL. Jobs not collected are
 * freed. */
void tf__writer_free(struct tf_writer **wp);
/** Frees a job and its result. */
void tf__writer_job_free(struct tf_writer_job *j);

#endif
