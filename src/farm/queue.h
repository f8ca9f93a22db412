/*
 * The master's task window. Tasks are pulled lazily from a source into a
 * bounded ring of ready tasks; a dispatched task moves to an in-flight
 * table keyed by its id until its result comes back. Memory is bounded by
 * the window, not by the number of tasks. No MPI.
 */
#ifndef TF_QUEUE_H
#define TF_QUEUE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "core/idtable.h"
#include "core/ring.h"
#include "farm/task.h"

/** A source of tasks: next() returns 1 with *t filled (the caller owns
 * it), 0 at the end, TF_SOURCE_AGAIN when an open source (a stream) has
 * no task yet but has not ended (ask again later), or another negative
 * code with errmsg() describing it. */
#define TF_SOURCE_AGAIN (-EAGAIN)

struct tf_source {
	int (*next)(void *ctx, struct tf_task *t);
	const char *(*errmsg)(void *ctx);
	void *ctx;
	uint64_t ntasks; /* the total if known, else 0 */
	/* With wake set: a descriptor that polls readable when next() may
	 * have a task after TF_SOURCE_AGAIN (a stream's pipe), so that a
	 * waiting master wakes for it. */
	int wake;
	int wake_fd;
};

/** A dispatched task and what the master collects for it. */
struct tf_inflight {
	int used;
	int rank;
	double sent_at;       /* wall clock when it was handed out */
	struct tf_task task;
	struct tf_output out; /* streamed output arrives here */
	struct tf_output err;
	/* --line-buffer, a worker's task: bytes of whole lines it sent
	 * (stdout, stderr), and of those the ones held in out/err because
	 * the writer was full (written with the result, in order). */
	uint64_t lines_sent[2];
	uint64_t lines_held[2];
	int delivering;       /* its result waits for the output writer */
};

struct tf_queue {
	struct tf_source src;
	int src_done;
	int src_err;
	int src_again; /* the last fill had room, and the source no task */
	struct tf_ring ready;    /* of struct tf_task, oldest first */
	struct tf_inflight *tab; /* in-flight entries; unused ones free */
	size_t tab_cap;
	size_t *free_slots;      /* indexes of the unused entries of tab */
	size_t nfree;
	struct tf_idtable ids;   /* task id -> its entry's index in tab */
	size_t ninflight;
	size_t window;
	uint64_t nread;
	/* #TASKFARM barrier: of the tasks read and not done, how many
	 * follow each number of barriers (struct tf_queue_gen, oldest
	 * first). Only tasks after as many barriers as the front's may be
	 * taken. */
	struct tf_ring gens;
};

struct tf_queue_gen {
	uint64_t barrier;
	uint64_t n;
};

/** Prepares q to hold at most window tasks (ready plus in flight). */
void tf_queue_init(struct tf_queue *q, const struct tf_source *src,
		   size_t window);
/** Frees every task still held. */
void tf_queue_release(struct tf_queue *q);

/**
 * Reads from the source until the window is full, the source ends, or
 * it has nothing yet (TF_SOURCE_AGAIN: it is read again at the next
 * fill). Returns 0, or the source's negative code (then q->src_err is set and
 * the source is not read again).
 */
int tf_queue_fill(struct tf_queue *q);

/**
 * The source's wake_fd when the last fill had room and the source had no
 * task yet (TF_SOURCE_AGAIN), so that a wait should end when it polls
 * readable; else -1 (no wake descriptor, the window full, or the source
 * done).
 */
int tf_queue_wake_fd(const struct tf_queue *q);

static inline size_t tf_queue_nready(const struct tf_queue *q)
{
	return tf_ring_len(&q->ready);
}

/**
 * Moves the oldest ready task into the in-flight table for rank and
 * returns it (owned by the queue until tf_queue_done()), or NULL if no
 * task is ready or a #TASKFARM barrier holds it back (tasks before the
 * barrier are not all done). An entry stays where it is until it is done or put
 * back, unless a take finds every entry used and grows the table (never
 * while ready plus in flight stay within the window).
 */
struct tf_inflight *tf_queue_take(struct tf_queue *q, int rank);

/**
 * As tf_queue_take(), but passes over tasks that ask to avoid rank (a
 * retry goes elsewhere than where it failed), looking a little way down
 * the ring; NULL if none of those fits.
 */
struct tf_inflight *tf_queue_take_for(struct tf_queue *q, int rank);

/**
 * As tf_queue_take_for(), but also passes over tasks that need more than
 * slots slots or (those with gpus_given) more than gpus GPUs: what a
 * rank of that size can never run. The task it would take, without
 * taking it: tf_queue_peek_fit().
 */
struct tf_inflight *tf_queue_take_fit(struct tf_queue *q, int rank,
				      uint32_t slots, uint32_t gpus);
const struct tf_task *tf_queue_peek_fit(struct tf_queue *q, int rank,
					uint32_t slots, uint32_t gpus);

/**
 * Whether a task is ready that a barrier keeps back: every ready task
 * follows a barrier that tasks before it, still running, have not
 * passed.
 */
int tf_queue_gated(const struct tf_queue *q);

/** The in-flight entry for id, or NULL. */
struct tf_inflight *tf_queue_find(struct tf_queue *q, uint64_t id);

/** Forgets a finished in-flight task and frees it. */
void tf_queue_done(struct tf_queue *q, struct tf_inflight *f);

/** Puts an in-flight task back at the head of the ready ring (it was
 * handed back unrun). */
void tf_queue_putback(struct tf_queue *q, struct tf_inflight *f);

/**
 * Calls fn for every in-flight task of rank. fn may tf_queue_done() or
 * tf_queue_putback() the entry it is given (and no other); every entry
 * of rank is visited once.
 */
void tf_queue_foreach_rank(struct tf_queue *q, int rank,
			   void (*fn)(void *ctx, struct tf_inflight *f),
			   void *ctx);

/**
 * The lowest id of a task that may still give output: in flight and not
 * delivering, or (with_ready) ready. Tasks not read yet come later in
 * the source, with higher ids. UINT64_MAX if there is none. O(window).
 */
uint64_t tf_queue_min_pending(const struct tf_queue *q, int with_ready);

/** Whether every task has been read, dispatched and finished. */
static inline int tf_queue_empty(const struct tf_queue *q)
{
	return q->src_done && tf_ring_len(&q->ready) == 0 &&
	       q->ninflight == 0;
}

#endif
