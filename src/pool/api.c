/*
 * The C API's pool (taskfarm.h): its public lifecycle. Opening a pool
 * on a communicator, registering task functions and an initializer, the
 * start handshake (every worker says HELLO with its function names, the
 * master compares them and answers START, each rank runs the initializer
 * and reports READY), closing, and the error message the caller reads
 * with tf_pool_errmsg(): the library never prints. After the start,
 * rank 0 runs master.c's loop through the maps and futures of jobs.c,
 * and every other rank serves in worker.c's loop until the close.
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

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pool/pool.h"
#include "pool/wire.h"

/* The message of the last pool closed, for tf_pool_errmsg(NULL): the
 * close frees the pool, and a loss it finds has no other report. */
static char closed_errmsg[1024];

void tf__pool_seterr(struct tf_pool *p, const char *fmt, ...)
{
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	tf_strbuf_reset(&p->errmsg);
	if (len <= 0)
		return;
	tf_strbuf_grow(&p->errmsg, (size_t)len + 1);
	va_start(ap, fmt);
	vsnprintf(p->errmsg.buf, (size_t)len + 1, fmt, ap);
	va_end(ap);
	p->errmsg.len = (size_t)len;
}

const char *tf_pool_errmsg(const struct tf_pool *p)
{
	if (!p)
		return closed_errmsg;
	return p->errmsg.len ? p->errmsg.buf : "";
}

/* Fields since 0.1 took reserved words: the struct keeps its size. */
_Static_assert(sizeof(struct tf_pool_opts) ==
		       offsetof(struct tf_pool_opts, lost_after) +
			       sizeof(double) + 8 * sizeof(size_t),
	       "struct tf_pool_opts keeps the size it had in 0.1");

void tf_pool_opts_init(struct tf_pool_opts *o)
{
	if (!o)
		return;
	memset(o, 0, sizeof(*o));
	o->master_works = -1;
}

/* What is wrong with opts, or NULL: for tf_pool_errmsg(NULL). */
static const char *bad_opts(const struct tf_pool_opts *o)
{
	if (!tf__pool_reserved_clear(o->reserved, sizeof(o->reserved)))
		return "a reserved word of opts is set (an option of a newer "
		       "taskfarm.h than this library, or opts not zeroed)";
	if (o->isolate != 0 && o->isolate != 1)
		return "opts.isolate must be 0 or 1";
	if (o->master_works < -1 || o->master_works > 1)
		return "opts.master_works must be -1, 0 or 1";
	/* NaN is refused too. */
	if (!(o->task_timeout >= 0))
		return "opts.task_timeout must be 0 (none) or a number of "
		       "seconds";
	/* A time limit needs a child to kill. */
	if (o->task_timeout > 0 && !o->isolate)
		return "opts.task_timeout needs opts.isolate";
	if (o->threads != 0 && o->threads != 1)
		return "opts.threads must be 0 or 1";
	return NULL;
}

int tf_pool_open(struct tf_pool **pool, const struct tf_pool_opts *opts)
{
	const char *bad;
	struct tf_pool *p;
	int rc;

	if (!pool)
		return TF_EINVAL;
	if (opts && (bad = bad_opts(opts)) != NULL) {
		snprintf(closed_errmsg, sizeof(closed_errmsg),
			 "cannot open the pool: %s", bad);
		*pool = NULL;
		return TF_EINVAL;
	}
	p = tf__xcalloc(1, sizeof(*p));
	if (opts)
		p->o = *opts;
	else
		tf_pool_opts_init(&p->o);
	tf_registry_init(&p->reg);
	rc = tf_comm_init_on(&p->comm, p->o.mpi_comm, p->o.threads);
	if (rc) {
		/* No pool to hold it: tf_pool_errmsg(NULL) gives it. */
		snprintf(closed_errmsg, sizeof(closed_errmsg),
			 "cannot open the pool: %s", tf_comm_errmsg());
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
	if (!p)
		return TF_EINVAL;
	if (p->started)
		return TF_ESTATE;
	return tf_registry_add(&p->reg, name, fn);
}

int tf_pool_set_init(struct tf_pool *p, tf_init_fn init, tf_fini_fn fini,
		     const void *arg, size_t arg_len)
{
	if (!p)
		return TF_EINVAL;
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
	if (!p)
		return TF_EINVAL;
	if (p->comm.size == 1)
		return 1;
	if (p->started && p->comm.rank == 0 && p->w)
		return p->live + p->master_works;
	return p->comm.size - 1 + (p->o.master_works > 0 ? 1 : 0);
}

int tf_pool_rank(const struct tf_pool *p)
{
	if (!p)
		return TF_EINVAL;
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
	p->in_task = 1; /* it may not call the pool either */
	rc = p->init(&p->ctx, arg, len);
	p->in_task = 0;
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
			tf__pool_seterr(p,
					"rank %d was lost during the start: its "
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
	struct tf_idle idle;

	tf_idle_init(&idle, SLEEP_MIN, SLEEP_MAX, tf_now());
	for (;;) {
		int rc = tf_comm_recv(&p->comm, source, src, tag, &p->rx);

		if (rc < 0)
			return rc;
		if (rc == 1) {
			if (*tag == want_tag ||
			    (*tag == TF_TAG_POOL_STOP && p->comm.rank != 0))
				return 0;
			tf__pool_seterr(p, "ignored a %s message from rank %d",
					tf_tag_name(*tag), *src);
			continue;
		}
		if (p->comm.rank == 0 && (rc = start_watch(p)) != 0)
			return rc;
		tf_comm_progress(&p->comm);
		tf_sleep(tf_idle_next(&idle, 0, tf_now()));
	}
}

/* See pool.h. */
int tf__pool_stop_status(struct tf_pool *p)
{
	const void *d;
	size_t l;
	int32_t status;

	if (tf_pwire_unpack_status(p->rx.buf, p->rx.len, &status, &d, &l))
		return TF_EPROTO;
	if (status == TF_ELOST || (l == 1 && *(const char *)d == 1)) {
		tf_comm_abandon(&p->comm);
		tf__pool_send_status(p, 0, TF_TAG_POOL_STOP, 0, NULL, 0);
	} else if (status == TF_ECANCELLED) {
		/* tf_pool_close_for() stopped this rank's tasks: the answer
		 * tells the master that nothing more of them is coming. */
		tf__pool_send_status(p, 0, TF_TAG_POOL_STOP, 0, NULL, 0);
		status = 0;
	}
	return status;
}

/* See pool.h. */
void tf__pool_idle_leaving(struct tf_idle *w)
{
	tf_idle_init(w, SLEEP_MIN, SLEEP_MAX, tf_now() - 1);
}

/* See pool.h. */
void tf__pool_drain_sends(struct tf_pool *p, double seconds)
{
	double until = tf_now() + seconds;
	struct tf_idle idle;

	tf__pool_idle_leaving(&idle);
	while (tf_comm_progress(&p->comm) > 0 && tf_now() < until)
		tf_sleep(tf_idle_next(&idle, 0, tf_now()));
}

int tf__pool_send_status(struct tf_pool *p, int dest, int tag, int32_t status,
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
		return tf__pool_stop_status(p);
	if (tf_pwire_unpack_start(p->rx.buf, p->rx.len, &master, &status, &arg,
				  &len))
		return TF_EPROTO;
	if (status) {
		/* The master refused the start; it holds the reason. */
		tf__pool_seterr(p, "the master refused the start: %s",
				tf_strerror(status));
		return status;
	}
	p->master_pid = watchable(&master);
	rc = run_init(p, arg, len, &why);
	if (rc)
		tf__pool_seterr(p, "%s", why.buf);
	rc = tf__pool_send_status(p, 0, TF_TAG_POOL_READY, rc, why.buf, why.len);
	tf_strbuf_release(&why);
	if (rc)
		return rc;
	/* Its tasks (and their isolated children) may not call the pool. */
	p->in_task = 1;
	rc = tf__pool_serve(p);
	p->in_task = 0;
	return rc;
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
		e = tf__pool_send_status(p, p->w[r].rank, TF_TAG_POOL_STOP, status,
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
	for (i = 0; i < p->reg.n; i++) {
		tf_chunker_init(&p->chunkers[i]);
		/* Each isolated chunk forks (12 ms a fork under ASan): were
		 * chunks sized by the message cost alone, the fork counted
		 * as task time would keep them at one task each. */
		if (p->o.isolate)
			p->chunkers[i].floor_s = TF_SCHED_CHUNK_MAX_S;
	}
	/* Every rank says hello with its names; compare them all. */
	rc = take_hellos(p, &verdict, &why);
	if (rc)
		goto out;
	if (verdict) {
		tf__pool_seterr(p,
				"ranks registered different task functions "
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
		tf__pool_seterr(p, "a worker initializer failed: %s", why.buf);
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
	tf_idle_init(&p->idle, SLEEP_MIN, SLEEP_MAX, tf_now());
	return 1;
}

int tf_pool_start(struct tf_pool *p)
{
	int rc;

	if (!p)
		return TF_EINVAL;
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

/* Frees everything the pool holds, and the pool; its message stays for
 * tf_pool_errmsg(NULL). */
static void pool_free(struct tf_pool *p)
{
	size_t i;

	snprintf(closed_errmsg, sizeof(closed_errmsg), "%s",
		 tf_pool_errmsg(p));
	for (i = 0; i < p->njobs; i++)
		if (p->jobs[i])
			tf__pool_job_free(p, p->jobs[i]);
	free(p->jobs);
	free(p->free_ids);
	free(p->w);
	free(p->chunkers);
	tf_registry_release(&p->reg);
	tf_strbuf_release(&p->init_arg);
	tf_strbuf_release(&p->rx);
	tf_strbuf_release(&p->tx);
	tf_strbuf_release(&p->res);
	tf_strbuf_release(&p->errmsg);
	free(p);
}

/* The close, waiting for running tasks at most limit seconds, or
 * without a limit if limit < 0. */
static int close_within(struct tf_pool *p, double limit)
{
	int rc = 0, r;

	if (!p)
		return 0;
	/* From a task, an initializer or finalizer, or a callback: the
	 * pool is in use below this call. */
	if (p->in_task || p->in_callback)
		return TF_ESTATE;
	if (p->started && p->comm.rank == 0)
		rc = tf__pool_master_close(p, limit);
	if (p->comm.abandoned)
		tf__pool_drain_sends(p, 1.0);
	while (p->futures)
		tf_future_free(p->futures);
	if (p->ctx_ready && p->fini) {
		p->in_task = 1;
		p->fini(p->ctx);
		p->in_task = 0;
	}
	if (p->comm.abandoned && !rc)
		rc = TF_ELOST;
	r = tf_comm_finalize(&p->comm);
	if (r && !rc)
		rc = r;
	pool_free(p);
	return rc;
}

int tf_pool_close(struct tf_pool *p)
{
	return close_within(p, -1);
}

int tf_pool_close_for(struct tf_pool *p, double seconds)
{
	/* 0 or less, or NaN: no time at all (not "no limit"). */
	return close_within(p, seconds > 0 ? seconds : 0);
}
