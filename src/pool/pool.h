/*
 * The pool's internals, shared by its parts: the pool, its jobs and
 * futures, the master's book of workers, and the calls one part makes
 * into another. api.c holds the public lifecycle (open, register, the
 * start handshake, close) and the error message; master.c the master's
 * loop (chunks out, results in, lost workers, the idle wait); book.c
 * its book of jobs (ids, the send queue, futures jobs' tasks); jobs.c
 * the maps and futures that queue work for that loop; imap.c the
 * streaming map on those futures; worker.c the worker's loop; close.c
 * the master's close. Internal: nothing here is installed.
 */
#ifndef TF_POOL_POOL_H
#define TF_POOL_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "core/batch.h"
#include "core/comm.h"
#include "core/idle.h"
#include "core/util.h"
#include "pool/call.h"
#include "taskfarm.h"

/* Chunks a worker holds at once: one running, one ready behind it. */
#define OUT_MAX 2
/*
 * Tasks this long are long: a worker whose chunk in flight has run this
 * long a task (or whose next function's measured mean is longer) gets no
 * second chunk behind it, so that queued work stays on the master, where
 * it can still be cancelled or go to the next worker that is idle.
 */
#define LONG_TASK 0.02
/* Poll without sleeping while a message is due within this long... */
#define SPIN_AHEAD 5e-5
/* ... and for this long after it was due. */
#define SPIN_LATE 2e-3
/*
 * A chunk of variable-size inputs closes once its inputs pass this many
 * bytes (a single larger input goes alone), and a chunk's variable-size
 * results go out in messages of about this size (a single larger result
 * alone), so that neither side holds a chunk's worth of large records.
 */
#define TF_POOL_CHUNK_BYTES ((size_t)1 << 20)
/* Inputs and results up to this many bytes are kept in the future. */
#define FUT_INLINE 16
/* The most futures one job collects before a new one starts. */
#define FUT_JOB_MAX ((size_t)1 << 22)
/* A submit that joins a job whose tasks wait to be sent (every rank is
 * full) skips its turn, but for every this many. */
#define SUBMIT_TURN_EVERY 1024
/* A worker polls this long after its last chunk before sleeping. */
#define WORKER_SPIN 2e-3
#define SLEEP_MIN 2e-5
#define SLEEP_MAX 1e-3
/* How often a waiting rank checks whether its peers' processes live. */
#define WATCH_EVERY 0.15
/* After a loss, how long the master waits for the workers' goodbyes. */
#define GOODBYE_WAIT 2.0

enum job_kind { JOB_ORDERED, JOB_UNORDERED, JOB_FUTURE };

struct pjob {
	uint32_t id;
	enum job_kind kind;
	uint32_t fn;
	const unsigned char *in; /* fixed-size inputs, or NULL */
	size_t in_size;
	const struct tf_buf *inv; /* variable-size inputs */
	size_t n;
	size_t next;   /* the first task not yet sent */
	size_t done;   /* results received */
	size_t failed;
	int stopped;   /* the callback stopped the map */
	long cb_rc;
	unsigned char *out; /* ordered, fixed-size results */
	size_t out_size;
	struct tf_buf *outv; /* ordered, variable-size results */
	tf_result_fn cb;
	void *cb_arg;
	int *status;
	char **errors;
	size_t chunk;
	/* A futures job: one future per task, in submission order; NULL
	 * for one freed while it ran, or cancelled (then it is skipped, and
	 * counted done, when its turn to be sent comes). futs is &fut1 until
	 * a second future joins. */
	struct tf_future **futs;
	size_t futs_alloc;
	struct tf_future *fut1;
	double deadline; /* a map's time limit (tf_now()'s clock), or 0 */
	int orphan;      /* its map returned: results are dropped */
	struct pjob *qnext; /* the queue of jobs with tasks to send */
	int queued;
};

struct tf_future {
	struct tf_pool *pool;
	void *tag;        /* the caller's (tf_future_set_tag()) */
	struct pjob *job; /* until it is done */
	void *input;      /* small.bytes or its own buffer; NULL once done */
	void *result;     /* once done: small.bytes or its own buffer */
	char *error;
	struct tf_future *prev, *next; /* the pool's live futures */
	uint32_t idx;     /* its task in job (< FUT_JOB_MAX) */
	uint32_t in_len;  /* at most TF_POOL_MAX_BYTES, as len */
	uint32_t len;
	int status;
	int done;
	/*
	 * A small input lives here until the task is done, and then a small
	 * result (a done task is never sent again), not in a malloc'd buffer
	 * of its own: futures in bulk paid most for malloc, and the first
	 * million for their pages (104 bytes a future, from 136).
	 */
	union {
		unsigned char bytes[FUT_INLINE];
		uint64_t align;
	} small;
};
_Static_assert(FUT_JOB_MAX <= UINT32_MAX && TF_POOL_MAX_BYTES <= UINT32_MAX,
	       "a future's idx, in_len and len fit 32 bits");

struct inflight {
	uint32_t job;
	uint32_t count;
	uint64_t first;
	double sent;
	double expect; /* when its results are due */
};

/* Why a worker was lost; LIVE while it is not. */
enum lost_reason { LIVE = 0, LOST_GONE, LOST_SILENT, LOST_LEFT, LOST_SEND };

struct pworker {
	int rank;
	int outstanding;
	struct inflight fl[OUT_MAX];
	/* Its last result, or when it was given work while it held none:
	 * the start of its silence. */
	double heard;
	long pid;  /* its process, if the master can watch it; else 0 */
	int ready; /* it answered START */
	int lost;  /* enum lost_reason */
	int told;  /* it got a STOP that asks for an answer (after a loss) */
	int halted; /* its isolated tasks were stopped at close (TF_ECANCELLED) */
	int reclaiming; /* it was sent a RECLAIM, and sent no results since */
	int answered;
};

struct tf_pool {
	struct tf_pool_opts o;
	struct tf_comm comm;
	struct tf_registry reg;
	tf_init_fn init;
	tf_fini_fn fini;
	void *ctx;
	int ctx_ready;
	struct tf_strbuf init_arg;
	int started;
	int failed;
	int master_works;
	int in_callback; /* a result callback runs: no re-entry */
	int in_task;     /* the master runs a task: no re-entry either */
	int dismissed;   /* the start failed and told every rank so */
	double next_watch; /* when to look for lost ranks next */
	long master_pid;   /* on a worker: the master's process, or 0 */
	/* The last error or loss, for tf_pool_errmsg(): the library never
	 * prints it. */
	struct tf_strbuf errmsg;
	/* Master only. */
	struct pworker *w;
	int nw;
	int live; /* workers not lost */
	int hot; /* the worker that returned a result last */
	struct pjob **jobs;
	size_t njobs;
	uint32_t *free_ids;
	size_t nfree;
	struct pjob *qhead, *qtail;
	struct tf_chunker *chunkers; /* one per function */
	struct tf_future *futures;
	/* The futures job that submits join (bulk futures), or NULL; and
	 * the submits since the last that made a turn. */
	struct pjob *fut_open;
	unsigned quiet_submits;
	struct tf_strbuf rx, tx, res;
	struct tf_idle idle; /* the master's waits between turns */
};

/* ---- api.c ---- */

/** Replaces the pool's message (tf_pool_errmsg()) with the formatted
 * text. Prints nothing. */
void tf__pool_seterr(struct tf_pool *p, const char *fmt, ...) TF_PRINTF(2, 3);
/* tf_future_cancel() without its checks (the pool's own use). */
int tf__pool_future_cancel(struct tf_future *f);

/** Sends a status message (status, then data) with tag to dest.
 * Returns 0 or an error of tf_comm_send(). */
int tf__pool_send_status(struct tf_pool *p, int dest, int tag, int32_t status,
			 const void *data, size_t len);

/**
 * The status a STOP from the master in p->rx carries (TF_EPROTO if it is
 * malformed). Its data is one byte 1 when a rank was lost, or it carries
 * TF_ELOST: then this rank leaves MPI without finalizing, as every rank
 * of the pool does (see tf_comm_abandon()), and answers with a STOP of
 * its own, for which the master waits before it leaves. A STOP with
 * TF_ECANCELLED (tf_pool_close_for() stopped this rank's tasks) is
 * answered so too, and counts as 0.
 */
int tf__pool_stop_status(struct tf_pool *p);

/** Lets pending sends complete for at most seconds (before leaving
 * without tf_comm_flush(), which could wait for ever). */
void tf__pool_drain_sends(struct tf_pool *p, double seconds);

/** Prepares w for a wait at leaving (drain, goodbyes): counted as idle
 * for a second already, so that its back-off may grow to 10 x SLEEP_MAX
 * at once. */
void tf__pool_idle_leaving(struct tf_idle *w);

/* ---- worker.c ---- */

/**
 * The worker's loop: takes in chunks (up to a few ahead), runs them one
 * at a time and sends their results, until the master's STOP. Returns
 * the STOP's status, TF_ELOST when the master's process ended, or an
 * error (its message in p->errmsg).
 */
int tf__pool_serve(struct tf_pool *p);

/* ---- book.c ---- */

/** A new job of kind for function fn, with an id the results name; the
 * pool owns it until tf__pool_job_free(). */
struct pjob *tf__pool_job_new(struct tf_pool *p, enum job_kind kind,
			      uint32_t fn);
void tf__pool_job_free(struct tf_pool *p, struct pjob *j);
/** Queues j's tasks to be sent; takes it off the queue (if it is on). */
void tf__pool_enqueue(struct tf_pool *p, struct pjob *j);
void tf__pool_dequeue(struct tf_pool *p, struct pjob *j);
/** Queues j's tasks to be sent first, before every job queued. */
void tf__pool_enqueue_front(struct tf_pool *p, struct pjob *j);
/**
 * Tasks [first, first + count) of futures job j, sent but handed back
 * unrun (RECLAIM): their futures (those not freed) move to a new futures
 * job at the queue's head, which it returns (NULL if none was left), and
 * j counts the tasks done (it is freed if that finishes it).
 */
struct pjob *tf__pool_job_take_back(struct tf_pool *p, struct pjob *j,
				    size_t first, size_t count);
/** Whether every task the job will run has reported back. */
int tf__pool_job_finished(const struct pjob *j);
/** Adds future f as the next task of futures job j. */
void tf__pool_job_add_future(struct pjob *j, struct tf_future *f);
/**
 * Takes unsent future f off its job (cancel): f's task is skipped when
 * its turn comes, or dropped if it is the job's last; a job left with
 * nothing to send is dequeued, and freed if it is finished. Returns 1,
 * or 0 (and does nothing) if f was sent or is done.
 */
int tf__pool_job_cancel_future(struct tf_pool *p, struct tf_future *f);

/* ---- master.c ---- */

/**
 * One turn of the master: takes in every waiting result, then fills the
 * workers up to OUT_MAX chunks each; with local, the master may run a
 * chunk itself. Returns how many things happened, or an error (which
 * breaks the pool: p->failed).
 */
int tf__pool_progress(struct tf_pool *p, int local);

/** Between turns with nothing done: looks for lost workers now and then,
 * polls while a result is due soon, else sleeps a little longer each
 * time. */
void tf__pool_idle_wait(struct tf_pool *p);
/** The same, but sleeps past until (tf_now()'s clock; negative: no
 * limit) at no time. */
void tf__pool_idle_wait_until(struct tf_pool *p, double until);

/** The most bytes a RESULTS message of chunk t should carry:
 * TF_POOL_CHUNK_BYTES for variable-size results; fixed-size ones keep
 * one message (TF_PWIRE_MSG_MAX), as their chunks' sizes are known. */
static inline size_t tf__pool_results_max(const struct tf_ptasks *t)
{
	return t->out_size == TF_POOL_VARSIZE ? TF_POOL_CHUNK_BYTES
					      : TF_PWIRE_MSG_MAX;
}

/**
 * Completes count tasks of job id from first, which will never run, with
 * status and the message why: as if a rank had answered so. Returns 0 or
 * TF_EPROTO.
 */
int tf__pool_complete_as(struct tf_pool *p, uint32_t job, uint64_t first,
			 uint32_t count, int status, const char *why);

/** Looks for lost workers, at most every WATCH_EVERY. Returns how many
 * it found lost, or an error. */
int tf__pool_watch(struct tf_pool *p, double now);

/**
 * The master's part of tf_pool_close(): waits for the chunks in flight
 * (unless the pool failed) for at most limit seconds (negative: no
 * limit), tells the workers to leave and, after a loss, waits a little
 * for their answers. Past the limit, the tasks still running complete
 * with TF_ECANCELLED: an isolated one's worker kills its child, and one
 * running in a worker's process leaves that worker behind (every rank
 * then leaves MPI unfinalized, as after a loss). Returns 0, TF_ETIMEDOUT
 * when tasks were still running at the limit, or the first error of a
 * send to a live worker.
 */
int tf__pool_master_close(struct tf_pool *p, double limit); /* close.c */

/* Whether an option struct's reserved words are all zero: a word set is
 * an option of a newer header that this library does not know. */
static inline int tf__pool_reserved_clear(const size_t *reserved, size_t bytes)
{
	size_t i;

	for (i = 0; i < bytes / sizeof(*reserved); i++)
		if (reserved[i])
			return 0;
	return 1;
}

#endif
