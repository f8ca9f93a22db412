/*
 * The C API's pool (taskfarm.h): rank 0 keeps a queue of jobs (maps and
 * futures) and hands chunks of their tasks to the other ranks, which run
 * registered functions and send the results back. Chunk sizes come from
 * scheduling.c, the rules the command farm uses too; tasks run in poolrun.c;
 * messages go through comm.c.
 *
 * Waiting: a rank that expects a message within microseconds polls for
 * it (a single submit-and-wait is a few microseconds); one that expects
 * none soon sleeps with a backoff, so a pool left idle costs almost no CPU.
 *
 * Lost ranks: while it waits, and at most every WATCH_EVERY, the master
 * looks for workers whose process has ended (same host) or that have been
 * silent for lost_after while holding chunks; it completes their chunks
 * with TF_ELOST and goes on without them. A worker watches its master the
 * same way while idle.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/comm.h"
#include "pool/call.h"
#include "pool/wire.h"
#include "core/batch.h"
#include "taskfarm.h"
#include "farm/wire.h"

/* Chunks a worker holds at once: one running, one ready behind it. */
#define OUT_MAX 2
/* Poll without sleeping while a message is due within this long... */
#define SPIN_AHEAD 5e-5
/* ... and for this long after it was due. */
#define SPIN_LATE 2e-3
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
	struct tf_future *fut;
	struct pjob *qnext; /* the queue of jobs with tasks to send */
	int queued;
};

struct tf_future {
	struct tf_pool *pool;
	struct pjob *job; /* until it is done */
	int done;
	int status;
	void *result;
	size_t len;
	char *error;
	void *input;
	size_t in_len;
	struct tf_future *prev, *next; /* the pool's live futures */
};

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
	int dismissed;   /* the start failed and told every rank so */
	double next_watch; /* when to look for lost ranks next */
	long master_pid;   /* on a worker: the master's process, or 0 */
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
	struct tf_strbuf rx, tx, res;
	double idle_since;
	double sleep;
};

/* Whether an option struct's reserved words are all zero: a word set is
 * an option of a newer header that this library does not know. */
static int reserved_clear(const size_t *reserved, size_t bytes)
{
	size_t i;

	for (i = 0; i < bytes / sizeof(*reserved); i++)
		if (reserved[i])
			return 0;
	return 1;
}

void tf_pool_opts_init(struct tf_pool_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->master_works = -1;
}

int tf_pool_open(struct tf_pool **pool, const struct tf_pool_opts *opts)
{
	struct tf_pool *p;
	int rc;

	if (opts && !reserved_clear(opts->reserved, sizeof(opts->reserved))) {
		*pool = NULL;
		return TF_EINVAL;
	}
	p = tf__xcalloc(1, sizeof(*p));
	if (opts)
		p->o = *opts;
	else
		tf_pool_opts_init(&p->o);
	tf_registry_init(&p->reg);
	rc = tf_comm_init_on(&p->comm, p->o.mpi_comm);
	if (rc) {
		tf_comm_finalize(&p->comm);
		tf_registry_release(&p->reg);
		free(p);
		*pool = NULL;
		return rc;
	}
	if (tf__log_rank < 0)
		tf__log_rank = p->comm.rank;
	*pool = p;
	return 0;
}

int tf_pool_register(struct tf_pool *p, const char *name, tf_task_fn fn)
{
	if (p->started)
		return TF_ESTATE;
	return tf_registry_add(&p->reg, name, fn);
}

int tf_pool_set_init(struct tf_pool *p, tf_init_fn init, tf_fini_fn fini,
		     const void *arg, size_t arg_len)
{
	if (p->started)
		return TF_ESTATE;
	if (arg_len > TF_POOL_MAX_BYTES)
		return TF_ETOOBIG;
	p->init = init;
	p->fini = fini;
	tf_strbuf_reset(&p->init_arg);
	tf_strbuf_add(&p->init_arg, arg, arg_len);
	return 0;
}

int tf_pool_workers(const struct tf_pool *p)
{
	if (p->comm.size == 1)
		return 1;
	if (p->started && p->comm.rank == 0 && p->w)
		return p->live + p->master_works;
	return p->comm.size - 1 + (p->o.master_works > 0 ? 1 : 0);
}

int tf_pool_rank(const struct tf_pool *p)
{
	return p->comm.rank;
}

/* Runs the initializer on this rank; a failure's message goes to why. */
static int run_init(struct tf_pool *p, const void *arg, size_t len,
		    struct tf_strbuf *why)
{
	int rc;

	if (!p->init) {
		p->ctx_ready = 1;
		return 0;
	}
	rc = p->init(&p->ctx, arg, len);
	if (rc) {
		tf_strbuf_addf(why, "the initializer returned %d on rank %d",
			       rc, p->comm.rank);
		return TF_ETASK;
	}
	p->ctx_ready = 1;
	return 0;
}

/* This rank as HELLO and START name it. */
static void self_ident(struct tf_pident *who)
{
	who->pid = (uint64_t)getpid();
	who->space = tf__pid_space();
}

/* The pid by which this rank can watch the peer who names: its pid when
 * it lives in this rank's pid space, else 0 (it cannot be watched). */
static long watchable(const struct tf_pident *who)
{
	uint64_t space = tf__pid_space();

	if (!space || who->space != space || who->pid == 0 ||
	    who->pid > LONG_MAX)
		return 0;
	return (long)who->pid;
}

/* On the master during the start, at most every WATCH_EVERY: a worker
 * whose process ended before it answered fails the start. Returns 0 or
 * TF_ELOST. */
static int start_watch(struct tf_pool *p)
{
	double now = tf_now();
	int r;

	if (now < p->next_watch)
		return 0;
	p->next_watch = now + WATCH_EVERY;
	for (r = 0; r < p->nw; r++) {
		struct pworker *w = &p->w[r];

		if (!w->ready && w->pid && tf__pid_gone(w->pid)) {
			w->lost = LOST_GONE;
			tf_comm_abandon(&p->comm);
			tf_error("pool: rank %d was lost during the start: its "
				 "process ended",
				 w->rank);
			return TF_ELOST;
		}
	}
	return 0;
}

/*
 * Waits for a message with want_tag from source into p->rx, sleeping
 * with a backoff (start-up only); on a worker a STOP ends the wait too
 * (the master gave the start up), with *tag telling which came. Returns
 * 0, TF_EMPI, or on the master TF_ELOST (see start_watch()).
 */
static int await(struct tf_pool *p, int source, int want_tag, int *src,
		 int *tag)
{
	double sleep = 0, since = tf_now();

	for (;;) {
		int rc = tf_comm_recv(&p->comm, source, src, tag, &p->rx);

		if (rc < 0)
			return rc;
		if (rc == 1) {
			if (*tag == want_tag ||
			    (*tag == TF_TAG_POOL_STOP && p->comm.rank != 0))
				return 0;
			tf_warn("pool: ignored a %s message from rank %d",
				tf_tag_name(*tag), *src);
			continue;
		}
		if (p->comm.rank == 0 && (rc = start_watch(p)) != 0)
			return rc;
		tf_comm_progress(&p->comm);
		sleep = tf_backoff(sleep, tf_now() - since, SLEEP_MIN,
				   SLEEP_MAX);
		tf_sleep(sleep);
	}
}

/*
 * The status a STOP from the master in p->rx carries (TF_EPROTO if it is
 * malformed). Its data is one byte 1 when a rank was lost, or it carries
 * TF_ELOST: then this rank leaves MPI without finalizing, as every rank
 * of the pool does (see tf_comm_abandon()), and answers with a STOP of
 * its own, for which the master waits before it leaves.
 */
static int send_status(struct tf_pool *p, int dest, int tag, int32_t status,
		       const void *data, size_t len);

static int stop_status(struct tf_pool *p)
{
	const void *d;
	size_t l;
	int32_t status;

	if (tf_pwire_unpack_status(p->rx.buf, p->rx.len, &status, &d, &l))
		return TF_EPROTO;
	if (status == TF_ELOST || (l == 1 && *(const char *)d == 1)) {
		tf_comm_abandon(&p->comm);
		send_status(p, 0, TF_TAG_POOL_STOP, 0, NULL, 0);
	}
	return status;
}

/* Lets pending sends complete for at most seconds (before leaving
 * without tf_comm_flush(), which could wait for ever). */
static void drain_sends(struct tf_pool *p, double seconds)
{
	double until = tf_now() + seconds, sleep = 0;

	while (tf_comm_progress(&p->comm) > 0 && tf_now() < until) {
		sleep = tf_backoff(sleep, 1, SLEEP_MIN, SLEEP_MAX);
		tf_sleep(sleep);
	}
}

static int send_status(struct tf_pool *p, int dest, int tag, int32_t status,
		       const void *data, size_t len)
{
	tf_strbuf_reset(&p->tx);
	tf_pwire_pack_status(&p->tx, status, data, len);
	return tf_comm_send(&p->comm, dest, tag, &p->tx);
}

static int send_start(struct tf_pool *p, int dest, int32_t status,
		      const void *data, size_t len)
{
	struct tf_pident me;

	self_ident(&me);
	tf_strbuf_reset(&p->tx);
	tf_pwire_pack_start(&p->tx, &me, status, data, len);
	return tf_comm_send(&p->comm, dest, TF_TAG_POOL_START, &p->tx);
}

static int serve(struct tf_pool *p);

static int start_worker(struct tf_pool *p)
{
	struct tf_strbuf why = TF_STRBUF_INIT;
	struct tf_pident me, master;
	const void *arg;
	size_t len;
	int32_t status;
	int src, tag, rc;

	self_ident(&me);
	tf_strbuf_reset(&p->tx);
	tf_pwire_pack_hello(&p->tx, &me, (const char *const *)p->reg.names,
			    p->reg.n);
	rc = tf_comm_send(&p->comm, 0, TF_TAG_POOL_HELLO, &p->tx);
	if (!rc)
		rc = await(p, 0, TF_TAG_POOL_START, &src, &tag);
	if (rc)
		return rc;
	if (tag == TF_TAG_POOL_STOP)
		return stop_status(p);
	if (tf_pwire_unpack_start(p->rx.buf, p->rx.len, &master, &status, &arg,
				  &len))
		return TF_EPROTO;
	if (status)
		return status; /* the master refused the start */
	p->master_pid = watchable(&master);
	rc = run_init(p, arg, len, &why);
	rc = send_status(p, 0, TF_TAG_POOL_READY, rc, why.buf, why.len);
	tf_strbuf_release(&why);
	if (rc)
		return rc;
	return serve(p);
}

/* Tells every worker not lost to leave with status (a failed start);
 * a lost one's pending sends are given up. Returns 0 or an error. */
static int dismiss(struct tf_pool *p, int status)
{
	int r, rc = 0;

	for (r = 0; r < p->nw; r++) {
		int e;

		if (p->w[r].lost) {
			tf_comm_forget(&p->comm, p->w[r].rank);
			continue;
		}
		e = send_status(p, p->w[r].rank, TF_TAG_POOL_STOP, status,
				NULL, 0);
		p->w[r].told = status == TF_ELOST;
		if (e && !rc)
			rc = e;
	}
	p->dismissed = 1;
	return rc;
}

/* Takes the HELLO of every worker; a registration that differs from the
 * master's sets *verdict and appends to why. Returns 0 or an error. */
static int take_hellos(struct tf_pool *p, int *verdict, struct tf_strbuf *why)
{
	int r, src, tag, rc = 0;

	for (r = 0; r < p->nw && !rc; r++) {
		struct tf_pident who;
		char **names = NULL;
		size_t n = 0, j;
		size_t mark = why->len;

		rc = await(p, TF_ANY_SOURCE, TF_TAG_POOL_HELLO, &src, &tag);
		if (rc)
			break;
		if (src < 1 || src > p->nw ||
		    tf_pwire_unpack_hello(p->rx.buf, p->rx.len, &who, &names,
					  &n)) {
			rc = TF_EPROTO;
			break;
		}
		p->w[src - 1].pid = watchable(&who);
		tf_strbuf_addf(why, "%srank %d: ", why->len ? "; " : "", src);
		if (tf_registry_diff(&p->reg, names, n, why)) {
			*verdict = TF_EREGISTER;
		} else {
			why->len = mark;
			why->buf[mark] = '\0';
		}
		for (j = 0; j < n; j++)
			free(names[j]);
		free(names);
	}
	return rc;
}

static int start_master(struct tf_pool *p)
{
	struct tf_strbuf why = TF_STRBUF_INIT;
	int r, src, tag, rc = 0, verdict = 0;
	size_t i;

	p->nw = p->comm.size - 1;
	p->live = p->nw;
	p->w = tf__xcalloc((size_t)(p->nw > 0 ? p->nw : 1), sizeof(*p->w));
	for (r = 0; r < p->nw; r++)
		p->w[r].rank = r + 1;
	p->chunkers = tf__xcalloc(p->reg.n ? p->reg.n : 1,
				  sizeof(*p->chunkers));
	for (i = 0; i < p->reg.n; i++)
		tf_chunker_init(&p->chunkers[i]);
	/* Every rank says hello with its names; compare them all. */
	rc = take_hellos(p, &verdict, &why);
	if (rc)
		goto out;
	if (verdict) {
		tf_error("pool: ranks registered different task functions "
			 "(as seen from rank 0): %s",
			 why.buf);
		for (r = 0; r < p->nw && !rc; r++)
			rc = send_start(p, p->w[r].rank, verdict, NULL, 0);
		p->dismissed = 1;
		rc = rc ? rc : verdict;
		goto out;
	}
	for (r = 0; r < p->nw && !rc; r++)
		rc = send_start(p, p->w[r].rank, 0, p->init_arg.buf,
				p->init_arg.len);
	tf_strbuf_reset(&why);
	if (!rc && p->master_works)
		verdict = run_init(p, p->init_arg.buf, p->init_arg.len, &why);
	for (r = 0; r < p->nw && !rc; r++) {
		const void *msg;
		size_t len;
		int32_t status;

		rc = await(p, TF_ANY_SOURCE, TF_TAG_POOL_READY, &src, &tag);
		if (!rc && (src < 1 || src > p->nw ||
			    tf_pwire_unpack_status(p->rx.buf, p->rx.len,
						   &status, &msg, &len)))
			rc = TF_EPROTO;
		if (rc)
			break;
		p->w[src - 1].ready = 1;
		if (status) {
			verdict = TF_ETASK;
			tf_strbuf_addf(&why, "%s%.*s", why.len ? "; " : "",
				       (int)len, (const char *)msg);
		}
	}
	if (!rc && verdict) {
		tf_error("pool: a worker initializer failed: %s", why.buf);
		rc = dismiss(p, verdict);
		rc = rc ? rc : verdict;
	}
out:
	/* A rank lost during the start fails it on every rank. */
	if (rc == TF_ELOST)
		dismiss(p, TF_ELOST);
	tf_strbuf_release(&why);
	if (rc)
		return rc;
	p->idle_since = tf_now();
	return 1;
}

int tf_pool_start(struct tf_pool *p)
{
	int rc;

	if (p->started)
		return TF_ESTATE;
	p->started = 1;
	tf_registry_sort(&p->reg);
	p->master_works = p->comm.size == 1 ? 1
			  : p->o.master_works > 0 ? 1
						  : 0;
	rc = p->comm.rank == 0 ? start_master(p) : start_worker(p);
	if (rc < 0)
		p->failed = rc;
	return rc;
}

/* ---- The worker side ---- */

struct held {
	char *buf;
	size_t len;
};

/* Where a worker's results go: straight to the master. */
static int send_results(void *arg, struct tf_strbuf *msg)
{
	struct tf_pool *p = arg;

	return tf_comm_send(&p->comm, 0, TF_TAG_POOL_RESULTS, msg);
}

/* On a worker: whether the master's process has ended, looked at at
 * most every WATCH_EVERY (0 when it cannot be watched). */
static int master_gone(struct tf_pool *p, double now)
{
	if (!p->master_pid || now < p->next_watch)
		return 0;
	p->next_watch = now + WATCH_EVERY;
	return tf__pid_gone(p->master_pid);
}

/* A worker that stops serving on an error tells the master, which then
 * completes its chunks as lost at once (best effort: MPI may be what
 * failed). */
static void say_left(struct tf_pool *p, int err)
{
	struct tf_strbuf why = TF_STRBUF_INIT;

	tf_strbuf_addf(&why, "it stopped serving: %s", tf_strerror(err));
	send_status(p, 0, TF_TAG_POOL_STOP, err, why.buf, why.len);
	tf_strbuf_release(&why);
}

/*
 * The worker's loop: takes in chunks (up to a few ahead), runs them one
 * at a time and sends their results, until the master's STOP. Returns
 * the STOP's status, TF_ELOST when the master's process ended, or an
 * error.
 */
static int serve(struct tf_pool *p)
{
	struct tf_results_sink sink = { send_results, NULL, TF_PWIRE_MSG_MAX };
	struct held q[OUT_MAX + 4];
	size_t qh = 0, qn = 0;
	double last = tf_now(), sleep = 0;
	int rc = 0, stop = 0;

	sink.arg = p;
	while (!stop) {
		int src, tag, pending;

		while (qn < OUT_MAX + 4 &&
		       (rc = tf_comm_recv(&p->comm, 0, &src, &tag, &p->rx)) == 1) {
			if (tag == TF_TAG_POOL_STOP) {
				rc = stop_status(p);
				stop = 1;
				break;
			}
			if (tag != TF_TAG_POOL_TASKS) {
				tf_warn("pool: ignored a %s message",
					tf_tag_name(tag));
				continue;
			}
			q[(qh + qn) % (OUT_MAX + 4)].buf =
				tf_strbuf_detach(&p->rx, &q[(qh + qn) %
							   (OUT_MAX + 4)]
								  .len);
			qn++;
		}
		if (stop)
			break; /* chunks still queued are dropped */
		if (rc < 0) {
			say_left(p, rc);
			break;
		}
		/*
		 * A chunk starts only once the last results are out: a large
		 * message moves on only while this rank calls MPI, so the
		 * master would otherwise have them only after the next chunk
		 * (its receive does not block: tf_comm_recv()).
		 */
		pending = tf_comm_progress(&p->comm);
		if (pending < 0) {
			rc = TF_EMPI;
			say_left(p, rc);
			break;
		}
		if (qn && pending == 0) {
			struct held *h = &q[qh];
			struct tf_ptasks t;

			qh = (qh + 1) % (OUT_MAX + 4);
			qn--;
			rc = tf_pwire_tasks_decode(h->buf, h->len, &t);
			if (!rc)
				rc = tf_poolrun_chunk(&p->reg, p->ctx,
						      p->o.isolate, &t,
						      &p->res, &sink);
			free(h->buf);
			if (rc == TF_EPROTO)
				tf_error("pool: a malformed TASKS message");
			if (rc) {
				say_left(p, rc);
				break;
			}
			last = tf_now();
			sleep = 0;
			continue;
		}
		if (tf_now() - last > WORKER_SPIN) {
			double now = tf_now();

			if (master_gone(p, now)) {
				tf_error("pool: the master's process ended");
				rc = TF_ELOST;
				break;
			}
			sleep = tf_backoff(sleep, now - last, SLEEP_MIN,
					   SLEEP_MAX);
			tf_sleep(sleep);
		}
	}
	/* Sends to a master that is gone, or that gave this rank up, would
	 * never complete. A rank lost (this one, after an error, too) means
	 * every rank leaves MPI unfinalized. */
	if (rc == TF_ELOST)
		tf_comm_forget(&p->comm, 0);
	if (rc == TF_ELOST || (rc < 0 && !stop)) {
		tf_comm_abandon(&p->comm);
		drain_sends(p, 1.0);
	}
	while (qn) {
		free(q[qh].buf);
		qh = (qh + 1) % (OUT_MAX + 4);
		qn--;
	}
	return rc;
}

/* ---- The master side ---- */

static struct pjob *job_new(struct tf_pool *p, enum job_kind kind,
			    uint32_t fn)
{
	struct pjob *j = tf__xcalloc(1, sizeof(*j));

	if (p->nfree) {
		j->id = p->free_ids[--p->nfree];
	} else {
		size_t alloc = p->njobs;

		tf__grow((void **)&p->jobs, &alloc, p->njobs + 1,
			 sizeof(*p->jobs));
		p->free_ids = tf__xrealloc(p->free_ids,
					   alloc * sizeof(*p->free_ids));
		j->id = (uint32_t)p->njobs++;
	}
	p->jobs[j->id] = j;
	j->kind = kind;
	j->fn = fn;
	return j;
}

static void job_free(struct tf_pool *p, struct pjob *j)
{
	p->jobs[j->id] = NULL;
	p->free_ids[p->nfree++] = j->id;
	free(j);
}

static void enqueue(struct tf_pool *p, struct pjob *j)
{
	j->qnext = NULL;
	j->queued = 1;
	if (p->qtail)
		p->qtail->qnext = j;
	else
		p->qhead = j;
	p->qtail = j;
}

static void dequeue(struct tf_pool *p, struct pjob *j)
{
	struct pjob **pp = &p->qhead, *prev = NULL;

	if (!j->queued)
		return;
	while (*pp && *pp != j) {
		prev = *pp;
		pp = &(*pp)->qnext;
	}
	if (*pp)
		*pp = j->qnext;
	if (p->qtail == j)
		p->qtail = prev;
	j->queued = 0;
}

/* Whether every task the job will run has reported back. */
static int job_finished(const struct pjob *j)
{
	return j->done == (j->stopped ? j->next : j->n);
}

static void deliver_future(struct tf_pool *p, struct pjob *j,
			   const struct tf_precord *rec)
{
	struct tf_future *f = j->fut;

	if (!f)
		return; /* freed while it ran */
	f->status = rec->status;
	if (rec->len) {
		f->result = tf__xmalloc(rec->len);
		memcpy(f->result, rec->result, rec->len);
	}
	f->len = rec->len;
	if (rec->errlen)
		f->error = tf__xstrndup(rec->error, rec->errlen);
	f->done = 1;
	f->job = NULL;
}

/* One task's result, for every kind of job but compact ordered ones. */
static void deliver(struct tf_pool *p, struct pjob *j, size_t idx,
		    const struct tf_precord *rec)
{
	int status = rec->status;
	char *err = NULL;

	if (j->kind == JOB_FUTURE) {
		deliver_future(p, j, rec);
		return;
	}
	if (j->kind == JOB_ORDERED && j->out && status == 0 &&
	    rec->len != j->out_size) {
		status = TF_ETASK;
		err = tf__xmalloc(96);
		snprintf(err, 96, "result of %zu bytes, expected %zu",
			 rec->len, j->out_size);
	} else if (rec->errlen && (j->errors || j->kind == JOB_UNORDERED)) {
		err = tf__xstrndup(rec->error, rec->errlen);
	}
	if (status)
		j->failed++;
	if (j->status)
		j->status[idx] = status;
	if (j->kind == JOB_UNORDERED) {
		if (!j->stopped) {
			long rc;

			p->in_callback = 1;
			rc = j->cb(j->cb_arg, idx, status, rec->result,
				   rec->len, err);
			p->in_callback = 0;
			if (rc) {
				j->stopped = 1;
				j->cb_rc = rc;
				dequeue(p, j);
			}
		}
	} else if (j->out) {
		if (status == 0)
			memcpy(j->out + idx * j->out_size, rec->result,
			       j->out_size);
		else
			memset(j->out + idx * j->out_size, 0, j->out_size);
	} else if (j->outv) {
		j->outv[idx].len = rec->len;
		j->outv[idx].data = NULL;
		if (rec->len) {
			j->outv[idx].data = tf__xmalloc(rec->len);
			memcpy(j->outv[idx].data, rec->result, rec->len);
		}
	}
	if (j->errors) {
		j->errors[idx] = err;
		err = NULL;
	}
	free(err);
}

/* In handle_results(), for results that no worker sent. */
#define FROM_MASTER (-1)

/*
 * Finds the chunk in flight on worker w that the results r begin, and
 * takes them off it: the whole chunk, or its first r->count tasks when
 * its results came in several messages. Returns the chunk's send time,
 * or a negative value if w has no such chunk.
 */
static double take_inflight(struct pworker *w, const struct tf_presults *r)
{
	double sent;
	int k;

	for (k = 0; k < w->outstanding; k++)
		if (w->fl[k].job == r->job && w->fl[k].first == r->first &&
		    w->fl[k].count >= r->count)
			break;
	if (k == w->outstanding)
		return -1;
	sent = w->fl[k].sent;
	if (w->fl[k].count > r->count) {
		w->fl[k].first += r->count;
		w->fl[k].count -= r->count;
	} else {
		w->fl[k] = w->fl[--w->outstanding];
	}
	return sent;
}

/* Hands a RESULTS message (from worker index wi, or FROM_MASTER for the
 * master's own run and for chunks it completes itself) to its job.
 * Returns 0 or TF_EPROTO. */
static int handle_results(struct tf_pool *p, int wi, const char *buf,
			  size_t len)
{
	struct tf_presults r;
	struct pjob *j;
	uint32_t i;

	if (tf_pwire_results_decode(buf, len, &r) || r.job >= p->njobs ||
	    !(j = p->jobs[r.job]) || r.first + r.count > j->n)
		goto bad;
	if (wi >= 0) {
		struct pworker *w = &p->w[wi];
		double sent = take_inflight(w, &r);

		if (sent < 0)
			goto bad;
		w->heard = tf_now();
		tf_chunker_observe(&p->chunkers[j->fn], r.count, r.compute_s,
				   w->heard - sent);
		p->hot = wi;
	} else if (r.form != TF_PWIRE_UNIFORM) {
		/* A uniform chunk did not run: nothing to learn from it. */
		tf_chunker_observe(&p->chunkers[j->fn], r.count, r.compute_s,
				   r.compute_s);
	}
	if (r.form == TF_PWIRE_COMPACT && j->kind == JOB_ORDERED && j->out &&
	    r.out_size == j->out_size) {
		memcpy(j->out + r.first * j->out_size, r.data, r.data_len);
		if (j->status)
			memset(j->status + r.first, 0, r.count * sizeof(int));
	} else {
		struct tf_precord rec;
		size_t off = 0;

		for (i = 0; i < r.count; i++) {
			if (!tf_pwire_results_record(&r, &off, i, &rec))
				goto bad;
			deliver(p, j, (size_t)r.first + i, &rec);
		}
	}
	j->done += r.count;
	if (j->kind == JOB_FUTURE && job_finished(j))
		job_free(p, j);
	return 0;
bad:
	tf_error("pool: a malformed RESULTS message from rank %d",
		 wi >= 0 ? p->w[wi].rank : 0);
	return TF_EPROTO;
}

/*
 * Completes count tasks of job id from first, which will never run, with
 * status and the message why: as if a rank had answered so. Returns 0 or
 * TF_EPROTO.
 */
static int complete_as(struct tf_pool *p, uint32_t job, uint64_t first,
		       uint32_t count, int status, const char *why)
{
	struct tf_strbuf msg = TF_STRBUF_INIT;
	struct tf_presults r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.job = job;
	r.first = first;
	r.count = count;
	tf_pwire_results_uniform(&msg, &r, status, why, strlen(why));
	rc = handle_results(p, FROM_MASTER, msg.buf, msg.len);
	tf_strbuf_release(&msg);
	return rc;
}

/*
 * Worker wi is lost: every task of its chunks in flight completes with
 * TF_ELOST, its pending sends are given up, and it gets no more work;
 * its late messages are ignored. Returns 0 or TF_EPROTO.
 */
static int worker_lost(struct tf_pool *p, int wi, enum lost_reason reason,
		       const char *what)
{
	struct pworker *w = &p->w[wi];
	struct tf_strbuf why = TF_STRBUF_INIT;
	size_t tasks = 0;
	int rc = 0, k;

	if (w->lost)
		return 0;
	w->lost = reason;
	p->live--;
	tf_comm_forget(&p->comm, w->rank);
	tf_comm_abandon(&p->comm);
	tf_strbuf_addf(&why, "rank %d was lost: %s", w->rank, what);
	for (k = 0; k < w->outstanding; k++)
		tasks += w->fl[k].count;
	tf_warn("pool: %s; %zu tasks in flight there fail with TF_ELOST, "
		"%d workers are left",
		why.buf, tasks, p->live);
	/* Each chunk is taken off the worker before it is completed, so
	 * the books agree whatever completing it frees. */
	while (w->outstanding && !rc) {
		struct inflight fl = w->fl[--w->outstanding];

		rc = complete_as(p, fl.job, fl.first, fl.count, TF_ELOST,
				 why.buf);
	}
	tf_strbuf_release(&why);
	return rc;
}

/*
 * With no rank left to run tasks, every queued task completes with
 * TF_ELOST instead of waiting for ever. Returns how many jobs it ended
 * (at least one), or TF_EPROTO.
 */
static int fail_queued(struct tf_pool *p)
{
	int jobs = 0;

	while (p->qhead) {
		struct pjob *j = p->qhead;
		uint32_t id = j->id;
		uint64_t first = j->next;
		size_t count = j->n - j->next;
		int rc;

		if (count > UINT32_MAX)
			count = UINT32_MAX;
		j->next += count;
		if (j->next == j->n)
			dequeue(p, j);
		/* j may be freed from here on (a future). */
		rc = complete_as(p, id, first, (uint32_t)count, TF_ELOST,
				 "no rank is left to run it");
		if (rc)
			return rc;
		jobs++;
	}
	return jobs;
}

/*
 * Looks for lost workers, at most every WATCH_EVERY: one whose process
 * has ended (when the master can see it; idle ones too, so that none is
 * given work, or a STOP at close, after it died), and with lost_after,
 * one holding chunks that has been silent for longer than that. Only
 * while waiting: kill() and /proc cost a few microseconds each. Returns
 * how many it found lost, or an error.
 */
static int watch(struct tf_pool *p, double now)
{
	int wi, found = 0, rc = 0;

	if (now < p->next_watch)
		return 0;
	p->next_watch = now + WATCH_EVERY;
	for (wi = 0; wi < p->nw && !rc; wi++) {
		struct pworker *w = &p->w[wi];
		char what[96];

		if (w->lost)
			continue;
		if (w->pid && tf__pid_gone(w->pid)) {
			rc = worker_lost(p, wi, LOST_GONE, "its process ended");
			found++;
		} else if (w->outstanding && p->o.lost_after > 0 &&
			   now - w->heard > p->o.lost_after) {
			snprintf(what, sizeof(what),
				 "it sent nothing for %.3g s while it held "
				 "work (lost_after)",
				 now - w->heard);
			rc = worker_lost(p, wi, LOST_SILENT, what);
			found++;
		}
	}
	if (rc < 0) {
		p->failed = rc;
		return rc;
	}
	if (found)
		p->idle_since = now;
	return found;
}

/* Packs the job's next chunk into p->tx; returns its task count. The
 * chunk is cut so that its message stays within TF_PWIRE_MSG_MAX. */
static uint32_t pack_chunk(struct tf_pool *p, struct pjob *j, size_t workers)
{
	const size_t room = TF_PWIRE_MSG_MAX - TF_PWIRE_TASKS_HDR;
	struct tf_ptasks t;
	size_t n, i, per_task;

	per_task = j->in ? j->in_size : 0;
	n = j->kind == JOB_FUTURE
		    ? 1
		    : tf_chunker_size(&p->chunkers[j->fn], j->n - j->next,
				      workers, per_task,
				      j->chunk ? j->chunk : p->o.chunk);
	if (j->in && j->in_size && n > room / j->in_size)
		n = room / j->in_size;
	if (!j->in && j->kind != JOB_FUTURE) {
		size_t bytes = 0;

		for (i = 0; i < n; i++) {
			bytes += tf_pwire_var_size(j->inv[j->next + i].len);
			if (bytes > room)
				break;
		}
		n = i ? i : 1;
	}
	t.job = j->id;
	t.first = j->next;
	t.count = (uint32_t)n;
	t.fn = j->fn;
	t.in_size = j->in ? (uint32_t)j->in_size : TF_POOL_VARSIZE;
	t.out_size = j->kind == JOB_ORDERED && j->out ? (uint32_t)j->out_size
						      : TF_POOL_VARSIZE;
	tf_strbuf_reset(&p->tx);
	tf_pwire_tasks_begin(&p->tx, &t);
	if (j->in) {
		tf_strbuf_add(&p->tx, j->in + j->next * j->in_size,
			      n * j->in_size);
	} else if (j->kind == JOB_FUTURE) {
		tf_pwire_add_var(&p->tx, j->fut->input, j->fut->in_len);
	} else {
		for (i = 0; i < n; i++)
			tf_pwire_add_var(&p->tx, j->inv[j->next + i].data,
					 j->inv[j->next + i].len);
	}
	j->next += n;
	if (j->next == j->n)
		dequeue(p, j);
	return (uint32_t)n;
}

/* The ranks that run tasks now. */
static size_t workers_now(const struct tf_pool *p)
{
	return (size_t)p->live + (p->master_works ? 1 : 0);
}

static int send_chunk(struct tf_pool *p, int wi)
{
	struct pworker *w = &p->w[wi];
	struct pjob *j = p->qhead;
	struct inflight *fl = &w->fl[w->outstanding];

	fl->job = j->id;
	fl->first = j->next;
	fl->count = pack_chunk(p, j, workers_now(p));
	fl->sent = tf_now();
	fl->expect = fl->sent +
		     tf_chunker_expect(&p->chunkers[j->fn], fl->count);
	/* Its silence counts from now if it held nothing. */
	if (w->outstanding++ == 0)
		w->heard = fl->sent;
	return tf_comm_send(&p->comm, w->rank, TF_TAG_POOL_TASKS, &p->tx);
}

/* Where the master's own results go: straight to their job. */
static int take_local(void *arg, struct tf_strbuf *msg)
{
	struct tf_pool *p = arg;

	return handle_results(p, FROM_MASTER, msg->buf, msg->len);
}

/* The master runs one chunk itself. */
static int run_local(struct tf_pool *p)
{
	struct tf_results_sink sink = { take_local, NULL, TF_PWIRE_MSG_MAX };
	struct tf_ptasks t;

	sink.arg = p;
	pack_chunk(p, p->qhead, workers_now(p));
	if (tf_pwire_tasks_decode(p->tx.buf, p->tx.len, &t))
		return TF_EPROTO;
	return tf_poolrun_chunk(&p->reg, p->ctx, p->o.isolate, &t, &p->res,
				&sink);
}

/*
 * Gives chunks to the live workers holding fewer than max, the one that
 * answered last first (it is awake), one pass per level so that every
 * worker gets its first chunk before any gets a second. A worker that a
 * send fails for is lost. Adds what it sent to *events. Returns 0 or an
 * error.
 */
static int fill(struct tf_pool *p, int max, int *events)
{
	int pass, k, rc;

	for (pass = 1; pass <= max && p->qhead; pass++)
		for (k = 0; k < p->nw && p->qhead; k++) {
			int wi = (p->hot + k) % p->nw;

			if (p->w[wi].outstanding >= pass || p->w[wi].lost)
				continue;
			rc = send_chunk(p, wi);
			if (rc)
				rc = worker_lost(p, wi, LOST_SEND,
						 "a send to it failed");
			if (rc)
				return rc;
			++*events;
		}
	return 0;
}

/*
 * A message from worker wi other than RESULTS: a STOP says it left (it
 * could not go on serving). Returns 0 or an error.
 */
static int handle_other(struct tf_pool *p, int wi, int tag)
{
	struct tf_strbuf what = TF_STRBUF_INIT;
	const void *msg;
	size_t len;
	int32_t status;
	int rc;

	if (tag != TF_TAG_POOL_STOP) {
		tf_warn("pool: ignored a %s message from rank %d",
			tf_tag_name(tag), p->w[wi].rank);
		return 0;
	}
	if (tf_pwire_unpack_status(p->rx.buf, p->rx.len, &status, &msg, &len))
		return TF_EPROTO;
	tf_strbuf_add(&what, msg, len);
	rc = worker_lost(p, wi, LOST_LEFT, what.len ? what.buf : "it left");
	tf_strbuf_release(&what);
	return rc;
}

/*
 * One turn of the master: takes in every waiting result, then fills the
 * workers up to OUT_MAX chunks each, the one that answered last first
 * (it is awake). Messages from lost workers are ignored: their tasks are
 * complete already, and their job ids may be another job's now. Returns
 * how many things happened, or an error.
 */
static int progress(struct tf_pool *p, int local)
{
	int events = 0, src, tag, rc;

	if (p->failed)
		return p->failed;
	if (p->in_callback)
		return TF_ESTATE;
	/* Send first: a task just submitted should not wait for a probe. */
	rc = fill(p, 1, &events);
	while (rc == 0) {
		rc = tf_comm_recv(&p->comm, TF_ANY_SOURCE, &src, &tag, &p->rx);
		if (rc != 1)
			break;
		events++;
		rc = 0;
		if (src < 1 || src > p->nw) {
			tf_warn("pool: ignored a %s message from rank %d",
				tf_tag_name(tag), src);
			continue;
		}
		if (p->w[src - 1].lost)
			continue;
		if (tag == TF_TAG_POOL_RESULTS)
			rc = handle_results(p, src - 1, p->rx.buf, p->rx.len);
		else
			rc = handle_other(p, src - 1, tag);
	}
	if (rc == 0)
		rc = fill(p, OUT_MAX, &events);
	if (rc == 0 && p->qhead && p->master_works && local) {
		rc = run_local(p);
		events++;
	}
	if (rc == 0 && p->qhead && !p->master_works && p->live == 0) {
		rc = fail_queued(p);
		events += rc > 0 ? rc : 0;
		rc = rc > 0 ? 0 : rc;
	}
	if (rc == 0)
		rc = tf_comm_progress(&p->comm) < 0 ? TF_EMPI : 0;
	if (rc < 0) {
		p->failed = rc;
		return rc;
	}
	if (events)
		p->idle_since = tf_now();
	return events;
}

/* Between turns with nothing done: looks for lost workers now and then,
 * polls while a result is due soon, else sleeps a little longer each
 * time. */
static void idle_wait(struct tf_pool *p)
{
	double now = tf_now(), due = 0;
	int wi, k;

	if (watch(p, now) != 0)
		return; /* losses completed tasks: the caller looks again */
	for (wi = 0; wi < p->nw; wi++)
		for (k = 0; k < p->w[wi].outstanding; k++)
			if (due == 0 || p->w[wi].fl[k].expect < due)
				due = p->w[wi].fl[k].expect;
	if (due && now > due - SPIN_AHEAD && now < due + SPIN_LATE) {
		p->sleep = 0;
		return;
	}
	p->sleep = tf_backoff(p->sleep, now - p->idle_since, SLEEP_MIN,
			      SLEEP_MAX);
	if (due > now && due - now < p->sleep)
		p->sleep = due - now > SLEEP_MIN ? due - now - SPIN_AHEAD / 2
						 : SLEEP_MIN;
	tf_sleep(p->sleep);
}

static int master_ready(struct tf_pool *p)
{
	if (!p->started || p->comm.rank != 0 || p->in_callback)
		return TF_ESTATE;
	if (p->failed)
		return p->failed;
	return 0;
}

/* Runs j to its end. Returns its failures, the callback's value or an
 * error; frees j. */
static long run_job(struct tf_pool *p, struct pjob *j)
{
	long ret;

	if (j->n)
		enqueue(p, j);
	while (!job_finished(j)) {
		int ev = progress(p, 1);

		if (ev < 0) {
			/* The job's tasks may be in flight: leave the job
			 * allocated for the results that never come. */
			dequeue(p, j);
			return ev;
		}
		if (ev == 0)
			idle_wait(p);
	}
	ret = j->stopped ? j->cb_rc : (long)j->failed;
	job_free(p, j);
	return ret;
}

static long map_common(struct tf_pool *p, const char *fn, enum job_kind kind,
		       const void *in, size_t in_size, const struct tf_buf *inv,
		       size_t n, const struct tf_map_opts *mo,
		       struct pjob **out)
{
	long f;
	int rc = master_ready(p);
	size_t i;

	if (rc)
		return rc;
	f = tf_registry_find(&p->reg, fn);
	if (f < 0) {
		tf_error("pool: no task function is registered as '%s'", fn);
		return TF_EREGISTER;
	}
	if (!in && !inv && n)
		return TF_EINVAL;
	if (mo && !reserved_clear(mo->reserved, sizeof(mo->reserved)))
		return TF_EINVAL;
	if (in && in_size > TF_POOL_MAX_BYTES)
		return TF_ETOOBIG;
	for (i = 0; inv && i < n; i++)
		if (inv[i].len > TF_POOL_MAX_BYTES)
			return TF_ETOOBIG;
	*out = job_new(p, kind, (uint32_t)f);
	(*out)->in = in;
	(*out)->in_size = in_size;
	(*out)->inv = inv;
	(*out)->n = n;
	if (mo) {
		(*out)->chunk = mo->chunk;
		(*out)->status = mo->status;
		(*out)->errors = mo->errors;
		if (mo->errors)
			for (i = 0; i < n; i++)
				mo->errors[i] = NULL;
	}
	return 0;
}

long tf_pool_map(struct tf_pool *p, const char *fn, const void *in,
		 size_t in_size, size_t n, void *out, size_t out_size,
		 const struct tf_map_opts *mo)
{
	struct pjob *j;
	long rc;

	if (!out && out_size)
		return TF_EINVAL;
	if (out_size > TF_POOL_MAX_BYTES)
		return TF_ETOOBIG;
	rc = map_common(p, fn, JOB_ORDERED, in, in_size, NULL, n, mo, &j);
	if (rc)
		return rc;
	if (!in && n) {
		job_free(p, j);
		return TF_EINVAL;
	}
	j->out = out;
	j->out_size = out_size;
	return run_job(p, j);
}

long tf_pool_mapv(struct tf_pool *p, const char *fn, const struct tf_buf *in,
		  size_t n, struct tf_buf *out, const struct tf_map_opts *mo)
{
	struct pjob *j;
	long rc;
	size_t i;

	if (!out && n)
		return TF_EINVAL;
	rc = map_common(p, fn, JOB_ORDERED, NULL, 0, in, n, mo, &j);
	if (rc)
		return rc;
	for (i = 0; i < n; i++) {
		out[i].data = NULL;
		out[i].len = 0;
	}
	j->outv = out;
	return run_job(p, j);
}

long tf_pool_map_unordered(struct tf_pool *p, const char *fn, const void *in,
			   size_t in_size, size_t n, tf_result_fn cb,
			   void *cb_arg, const struct tf_map_opts *mo)
{
	struct pjob *j;
	long rc;

	if (!cb)
		return TF_EINVAL;
	rc = map_common(p, fn, JOB_UNORDERED, in, in_size, NULL, n, mo, &j);
	if (rc)
		return rc;
	if (!in && n) {
		job_free(p, j);
		return TF_EINVAL;
	}
	j->cb = cb;
	j->cb_arg = cb_arg;
	return run_job(p, j);
}

long tf_pool_mapv_unordered(struct tf_pool *p, const char *fn,
			    const struct tf_buf *in, size_t n, tf_result_fn cb,
			    void *cb_arg, const struct tf_map_opts *mo)
{
	struct pjob *j;
	long rc;

	if (!cb)
		return TF_EINVAL;
	rc = map_common(p, fn, JOB_UNORDERED, NULL, 0, in, n, mo, &j);
	if (rc)
		return rc;
	j->cb = cb;
	j->cb_arg = cb_arg;
	return run_job(p, j);
}

/* ---- Futures ---- */

int tf_pool_submit(struct tf_pool *p, const char *fn, const void *in,
		   size_t len, struct tf_future **fp)
{
	struct tf_future *f;
	struct pjob *j;
	long id;
	int rc = master_ready(p);

	*fp = NULL;
	if (rc)
		return rc;
	id = tf_registry_find(&p->reg, fn);
	if (id < 0) {
		tf_error("pool: no task function is registered as '%s'", fn);
		return TF_EREGISTER;
	}
	if (!in && len)
		return TF_EINVAL;
	if (len > TF_POOL_MAX_BYTES)
		return TF_ETOOBIG;
	f = tf__xcalloc(1, sizeof(*f));
	f->pool = p;
	f->in_len = len;
	if (len) {
		f->input = tf__xmalloc(len);
		memcpy(f->input, in, len);
	}
	j = job_new(p, JOB_FUTURE, (uint32_t)id);
	j->n = 1;
	j->fut = f;
	f->job = j;
	f->status = TF_ESTATE;
	f->next = p->futures;
	if (p->futures)
		p->futures->prev = f;
	p->futures = f;
	enqueue(p, j);
	/* Send it now (the caller may wait for it next), but run nothing
	 * here: submit returns at once even when the master works. */
	rc = progress(p, 0);
	*fp = f;
	return rc < 0 ? rc : 0;
}

int tf_future_test(struct tf_future *f)
{
	if (!f->done) {
		int ev = progress(f->pool, 1);

		/* A caller that polls with test alone is waiting too. */
		if (ev == 0)
			ev = watch(f->pool, tf_now());
		if (ev < 0)
			return ev;
	}
	return f->done;
}

int tf_future_wait(struct tf_future *f)
{
	struct tf_pool *p = f->pool;

	while (!f->done) {
		int ev = progress(p, 1);

		if (ev < 0)
			return ev;
		if (ev == 0 && !f->done)
			idle_wait(p);
	}
	return 0;
}

long tf_future_wait_any(struct tf_future *const *fs, size_t n)
{
	struct tf_pool *p = NULL;
	size_t i;

	for (;;) {
		int ev;

		for (i = 0; i < n; i++) {
			if (!fs[i])
				continue;
			if (fs[i]->done)
				return (long)i;
			p = fs[i]->pool;
		}
		if (!p)
			return -1;
		ev = progress(p, 1);
		if (ev < 0)
			return ev;
		if (ev == 0)
			idle_wait(p);
	}
}

int tf_future_cancel(struct tf_future *f)
{
	struct pjob *j = f->job;

	if (f->done || !j || j->next > 0)
		return 0;
	dequeue(f->pool, j);
	job_free(f->pool, j);
	f->job = NULL;
	f->done = 1;
	f->status = TF_ECANCELLED;
	return 1;
}

int tf_future_status(const struct tf_future *f)
{
	return f->done ? f->status : TF_ESTATE;
}

const void *tf_future_result(const struct tf_future *f, size_t *len)
{
	if (len)
		*len = f->done ? f->len : 0;
	return f->done ? f->result : NULL;
}

const char *tf_future_error(const struct tf_future *f)
{
	return f->done ? f->error : NULL;
}

void tf_future_free(struct tf_future *f)
{
	struct tf_pool *p;

	if (!f)
		return;
	p = f->pool;
	if (!tf_future_cancel(f) && f->job)
		f->job->fut = NULL; /* running: drop its result */
	if (f->prev)
		f->prev->next = f->next;
	else
		p->futures = f->next;
	if (f->next)
		f->next->prev = f->prev;
	free(f->input);
	free(f->result);
	free(f->error);
	free(f);
}

/* ---- Shut-down ---- */

/*
 * Tells the workers to leave. Nothing waits for a lost one: one that
 * went silent may live on, so it gets a STOP too (it leaves with
 * TF_ELOST), but the send is given up at once; the others are not sent
 * anything. Once a rank was lost, every STOP says so, and each rank
 * leaves MPI unfinalized: Open MPI 4.1's MPI_Finalize was seen to wait
 * for ever for a dead rank (comm.h, tf_comm_abandon()). Returns 0 or the
 * first error of a send to a live worker.
 */
static int stop_workers(struct tf_pool *p);

/*
 * After a loss, waits (at most GOODBYE_WAIT) until every worker told to
 * leave has answered, or its process has ended: a rank that leaves MPI
 * unfinalized at once was seen to take its last messages with it before
 * their receiver read them, and a worker that missed its STOP would
 * serve for ever.
 */
static void await_goodbyes(struct tf_pool *p)
{
	double until = tf_now() + GOODBYE_WAIT, sleep = 0;

	for (;;) {
		int r, src, tag, waiting = 0, rc;

		while ((rc = tf_comm_recv(&p->comm, TF_ANY_SOURCE, &src, &tag,
					  &p->rx)) == 1)
			if (tag == TF_TAG_POOL_STOP && src >= 1 && src <= p->nw)
				p->w[src - 1].answered = 1;
		for (r = 0; r < p->nw; r++) {
			struct pworker *w = &p->w[r];

			if (w->told && !w->answered && w->pid &&
			    tf__pid_gone(w->pid))
				w->answered = 1;
			waiting += w->told && !w->answered;
		}
		if (!waiting || rc < 0 || tf_now() > until)
			return;
		tf_comm_progress(&p->comm);
		sleep = tf_backoff(sleep, 1, SLEEP_MIN, SLEEP_MAX);
		tf_sleep(sleep);
	}
}

static int stop_workers(struct tf_pool *p)
{
	int r, rc = 0;

	for (r = 0; r < p->nw; r++) {
		struct pworker *w = &p->w[r];
		int e;

		if (w->lost && w->lost != LOST_SILENT)
			continue;
		e = send_status(p, w->rank, TF_TAG_POOL_STOP,
				w->lost ? TF_ELOST : 0, "\1",
				p->comm.abandoned ? 1 : 0);
		w->told = !w->lost && p->comm.abandoned;
		if (w->lost)
			tf_comm_forget(&p->comm, w->rank);
		else if (e && !rc)
			rc = e;
	}
	return rc;
}

int tf_pool_close(struct tf_pool *p)
{
	int rc = 0, r;
	size_t i;

	if (!p)
		return 0;
	if (p->started && p->comm.rank == 0 && !p->failed) {
		struct tf_future *f;

		for (f = p->futures; f; f = f->next)
			tf_future_cancel(f);
		/* Wait for every chunk in flight, then stop the workers. */
		for (;;) {
			int busy = 0, ev;

			for (r = 0; r < p->nw; r++)
				busy += p->w[r].outstanding;
			if (!busy)
				break;
			ev = progress(p, 1);
			if (ev < 0)
				break;
			if (ev == 0)
				idle_wait(p);
		}
	}
	if (p->started && p->comm.rank == 0 && !p->dismissed) {
		/* A worker that died idle must not get a STOP, and its loss
		 * decides how every rank leaves MPI. */
		p->next_watch = 0;
		watch(p, tf_now());
		rc = stop_workers(p);
	}
	/* Leaving MPI unfinalized, the STOPs must be out, and read. */
	if (p->started && p->comm.rank == 0 && p->comm.abandoned)
		await_goodbyes(p);
	if (p->comm.abandoned)
		drain_sends(p, 1.0);
	while (p->futures)
		tf_future_free(p->futures);
	if (p->ctx_ready && p->fini)
		p->fini(p->ctx);
	if (p->comm.abandoned && !rc)
		rc = TF_ELOST;
	r = tf_comm_finalize(&p->comm);
	if (r && !rc)
		rc = r;
	for (i = 0; i < p->njobs; i++)
		free(p->jobs[i]);
	free(p->jobs);
	free(p->free_ids);
	free(p->w);
	free(p->chunkers);
	tf_registry_release(&p->reg);
	tf_strbuf_release(&p->init_arg);
	tf_strbuf_release(&p->rx);
	tf_strbuf_release(&p->tx);
	tf_strbuf_release(&p->res);
	free(p);
	return rc;
}
