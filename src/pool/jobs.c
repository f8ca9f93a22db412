/*
 * The pool's jobs as the caller makes them: the maps (ordered or not,
 * fixed-size or variable-size records), which run to their end before
 * they return, and the futures, one task each (queued ones batched into
 * one job of many tasks, see tf_pool_submit()), which the caller tests,
 * waits for, cancels and frees. Each becomes a job on the master's
 * queue, run by master.c's turns.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pool/pool.h"

static int master_ready(struct tf_pool *p)
{
	if (!p)
		return TF_EINVAL;
	if (!p->started || p->comm.rank != 0 || p->in_callback || p->in_task)
		return TF_ESTATE;
	if (p->failed)
		return p->failed;
	return 0;
}

/*
 * A map past its time limit lets go of j: nothing more is sent, and the
 * results of the chunks under way are taken in and dropped (nothing of
 * the caller's is written any more); the job is freed with the last of
 * them (master.c's handle_results()), or now if none is out.
 */
static void orphan(struct tf_pool *p, struct pjob *j)
{
	tf__pool_dequeue(p, j);
	j->stopped = 1;
	j->orphan = 1;
	j->out = NULL;
	j->outv = NULL;
	j->status = NULL;
	j->errors = NULL;
	if (tf__pool_job_finished(j))
		tf__pool_job_free(p, j);
}

/* Runs j to its end, or its time limit. Returns its failures, the
 * callback's value or an error (TF_ETIMEDOUT); frees j. */
static long run_job(struct tf_pool *p, struct pjob *j)
{
	long ret;

	if (j->n)
		tf__pool_enqueue(p, j);
	while (!tf__pool_job_finished(j)) {
		int ev = tf__pool_progress(p, 1);

		if (ev < 0) {
			/* The job's tasks may be in flight: leave the job
			 * allocated for the results that never come. */
			tf__pool_dequeue(p, j);
			return ev;
		}
		if (tf__pool_job_finished(j))
			break;
		if (j->deadline && tf_now() >= j->deadline) {
			orphan(p, j);
			return TF_ETIMEDOUT;
		}
		if (ev == 0)
			tf__pool_idle_wait_until(p, j->deadline ? j->deadline
								: -1);
	}
	ret = j->stopped ? j->cb_rc : (long)j->failed;
	tf__pool_job_free(p, j);
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
	if (!fn)
		return TF_EINVAL;
	f = tf_registry_find(&p->reg, fn);
	if (f < 0) {
		tf__pool_seterr(p, "no task function is registered as '%s'",
				fn);
		return TF_EREGISTER;
	}
	if (!in && !inv && n)
		return TF_EINVAL;
	if (mo && (!tf__pool_reserved_clear(mo->reserved,
					    sizeof(mo->reserved)) ||
		   !(mo->timeout >= 0)))
		return TF_EINVAL;
	if (in && in_size > TF_POOL_MAX_BYTES)
		return TF_ETOOBIG;
	for (i = 0; inv && i < n; i++) {
		if (!inv[i].data && inv[i].len)
			return TF_EINVAL;
		if (inv[i].len > TF_POOL_MAX_BYTES)
			return TF_ETOOBIG;
	}
	*out = tf__pool_job_new(p, kind, (uint32_t)f);
	(*out)->in = in;
	(*out)->in_size = in_size;
	(*out)->inv = inv;
	(*out)->n = n;
	if (mo) {
		if (mo->timeout > 0)
			(*out)->deadline = tf_now() + mo->timeout;
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
		tf__pool_job_free(p, j);
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
		tf__pool_job_free(p, j);
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

	if (!fp)
		return TF_EINVAL;
	*fp = NULL;
	if (rc)
		return rc;
	if (!fn)
		return TF_EINVAL;
	id = tf_registry_find(&p->reg, fn);
	if (id < 0) {
		tf__pool_seterr(p, "no task function is registered as '%s'",
				fn);
		return TF_EREGISTER;
	}
	if (!in && len)
		return TF_EINVAL;
	if (len > TF_POOL_MAX_BYTES)
		return TF_ETOOBIG;
	f = tf__xcalloc(1, sizeof(*f));
	f->pool = p;
	f->in_len = (uint32_t)len;
	if (len) {
		f->input = len <= FUT_INLINE ? f->small.bytes
					     : tf__xmalloc(len);
		memcpy(f->input, in, len);
	}
	f->status = TF_ESTATE;
	f->next = p->futures;
	if (p->futures)
		p->futures->prev = f;
	p->futures = f;
	*fp = f;
	/*
	 * Futures in bulk: a future joins the open futures job of its
	 * function while that job is the last queued one (or nothing is
	 * queued), so that queued futures go out in chunks as a map's tasks
	 * do; else it starts a job of its own.
	 */
	j = p->fut_open;
	if (j && (j->fn != (uint32_t)id || j->n >= FUT_JOB_MAX ||
		  !(j == p->qtail || (!j->queued && !p->qhead))))
		j = NULL;
	if (j && j->queued && ++p->quiet_submits < SUBMIT_TURN_EVERY) {
		/* Its job waits for room already: no turn would send it. */
		tf__pool_job_add_future(j, f);
		return 0;
	}
	if (!j)
		j = p->fut_open = tf__pool_job_new(p, JOB_FUTURE, (uint32_t)id);
	tf__pool_job_add_future(j, f);
	if (!j->queued)
		tf__pool_enqueue(p, j);
	p->quiet_submits = 0;
	/* Send it now (the caller may wait for it next), but run nothing
	 * here: submit returns at once even when the master works. */
	rc = tf__pool_progress(p, 0);
	return rc < 0 ? rc : 0;
}

/*
 * One turn for a caller that polls (test, tf_pool_progress()): results
 * in, chunks out, and, when nothing happened, a look for lost workers,
 * since a caller that polls alone is waiting too. Returns the turn's
 * count of events or an error.
 */
static int poll_turn(struct tf_pool *p)
{
	int ev;

	if (p->in_task)
		return TF_ESTATE;
	ev = tf__pool_progress(p, 1);
	if (ev == 0)
		ev = tf__pool_watch(p, tf_now());
	return ev;
}

int tf_future_test(struct tf_future *f)
{
	int ev;

	if (!f)
		return TF_EINVAL;
	/* Even on a done future: the documented way to drive the pool
	 * while the master computes is to test one now and then. */
	ev = poll_turn(f->pool);

	if (ev < 0)
		return ev;
	return f->done;
}

int tf_pool_progress(struct tf_pool *p)
{
	int rc = master_ready(p);

	if (rc)
		return rc;
	return poll_turn(p);
}

/* When a wait of seconds from now ends: never for a negative value; NaN
 * is 0 (as in tf_pool_close_for()). */
static double deadline_of(double seconds)
{
	if (seconds != seconds)
		seconds = 0;
	return seconds < 0 ? -1 : tf_now() + seconds;
}

int tf_future_wait_for(struct tf_future *f, double seconds)
{
	struct tf_pool *p;
	double until;

	if (!f)
		return TF_EINVAL;
	p = f->pool;
	until = deadline_of(seconds);
	if (p->in_task || p->in_callback)
		return TF_ESTATE;
	while (!f->done) {
		int ev = tf__pool_progress(p, 1);

		if (ev < 0)
			return ev;
		if (f->done)
			break;
		if (until >= 0 && tf_now() >= until)
			return TF_ETIMEDOUT;
		if (ev == 0)
			tf__pool_idle_wait_until(p, until);
	}
	return 0;
}

int tf_future_wait(struct tf_future *f)
{
	return tf_future_wait_for(f, -1);
}

long tf_future_wait_any_for(struct tf_future *const *fs, size_t n,
			    double seconds)
{
	struct tf_pool *p = NULL;
	double until = deadline_of(seconds);
	size_t i;

	if (!fs && n)
		return TF_EINVAL;
	for (i = 0; i < n; i++) {
		if (!fs[i])
			continue;
		if (p && fs[i]->pool != p)
			return TF_EINVAL;
		p = fs[i]->pool;
	}
	if (!p)
		return TF_ENONE;
	if (p->in_task || p->in_callback)
		return TF_ESTATE;
	for (;;) {
		int ev;

		for (i = 0; i < n; i++)
			if (fs[i] && fs[i]->done)
				return (long)i;
		ev = tf__pool_progress(p, 1);
		if (ev < 0)
			return ev;
		for (i = 0; i < n; i++)
			if (fs[i] && fs[i]->done)
				return (long)i;
		if (until >= 0 && tf_now() >= until)
			return TF_ETIMEDOUT;
		if (ev == 0)
			tf__pool_idle_wait_until(p, until);
	}
}

long tf_future_wait_any(struct tf_future *const *fs, size_t n)
{
	return tf_future_wait_any_for(fs, n, -1);
}

int tf__pool_future_cancel(struct tf_future *f)
{
	if (!tf__pool_job_cancel_future(f->pool, f))
		return 0;
	f->done = 1;
	f->status = TF_ECANCELLED;
	return 1;
}

int tf_future_cancel(struct tf_future *f)
{
	if (!f)
		return TF_EINVAL;
	if (f->pool->in_task || f->pool->in_callback)
		return TF_ESTATE;
	return tf__pool_future_cancel(f);
}

int tf_future_status(const struct tf_future *f)
{
	if (!f)
		return TF_EINVAL;
	return f->done ? f->status : TF_ESTATE;
}

const void *tf_future_result(const struct tf_future *f, size_t *len)
{
	int done = f && f->done;

	if (len)
		*len = done ? f->len : 0;
	return done ? f->result : NULL;
}

const char *tf_future_error(const struct tf_future *f)
{
	return f && f->done ? f->error : NULL;
}

void tf_future_set_tag(struct tf_future *f, void *tag)
{
	if (f)
		f->tag = tag;
}

void *tf_future_tag(const struct tf_future *f)
{
	return f ? f->tag : NULL;
}

void tf_future_free(struct tf_future *f)
{
	struct tf_pool *p;

	if (!f)
		return;
	p = f->pool;
	if (!tf__pool_future_cancel(f) && f->job)
		f->job->futs[f->idx] = NULL; /* running: drop its result */
	if (f->prev)
		f->prev->next = f->next;
	else
		p->futures = f->next;
	if (f->next)
		f->next->prev = f->prev;
	if (f->input != f->small.bytes)
		free(f->input);
	if (f->result != f->small.bytes)
		free(f->result);
	free(f->error);
	free(f);
}
