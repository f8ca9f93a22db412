/*
 * The master side of the pool: the turn that takes in results and hands
 * chunks from book.c's queue of jobs to the workers (sized by
 * core/batch.c), the master's
 * own run of a chunk when it works, the workers it declares lost (their
 * tasks complete with TF_ELOST), reclaims of chunks not started, and the
 * idle wait between turns (close.c closes). jobs.c builds the jobs that this loop runs. What
 * goes wrong is kept in the pool's error buffer, never printed.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool/pool.h"
#include "pool/wire.h"

/*
 * Something happened at now: the idle time counts from now, but the
 * back-off goes on from its last step rather than from SLEEP_MIN, as it
 * always has here (a result does not make the next one near; the spin
 * around a chunk's due time covers that).
 */
static void note_activity(struct tf_pool *p, double now)
{
	double wait = p->idle.wait;

	tf_idle_busy(&p->idle, now);
	tf_idle_hold(&p->idle, wait);
}

static void deliver_future(struct tf_pool *p, struct pjob *j, size_t idx,
			   const struct tf_precord *rec)
{
	struct tf_future *f = j->futs[idx];

	if (!f)
		return; /* freed while it ran, or cancelled */
	j->futs[idx] = NULL;
	f->status = rec->status;
	/* Done: its input is not needed again, and a small result takes
	 * its place. */
	if (f->input != f->small.bytes)
		free(f->input);
	f->input = NULL;
	if (rec->len) {
		f->result = rec->len <= FUT_INLINE ? f->small.bytes
						   : tf__xmalloc(rec->len);
		memcpy(f->result, rec->result, rec->len);
	}
	f->len = (uint32_t)rec->len;
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
		deliver_future(p, j, idx, rec);
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
				tf__pool_dequeue(p, j);
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
		w->reclaiming = 0;
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
	if ((j->kind == JOB_FUTURE || j->orphan) && tf__pool_job_finished(j))
		tf__pool_job_free(p, j);
	return 0;
bad:
	tf__pool_seterr(p, "a malformed RESULTS message from rank %d",
			wi >= 0 ? p->w[wi].rank : 0);
	return TF_EPROTO;
}

/*
 * Completes count tasks of job id from first, which will never run, with
 * status and the message why: as if a rank had answered so. Returns 0 or
 * TF_EPROTO.
 */
int tf__pool_complete_as(struct tf_pool *p, uint32_t job, uint64_t first,
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
	tf__pool_seterr(p,
			"%s; %zu tasks in flight there fail with TF_ELOST, "
			"%d workers are left",
			why.buf, tasks, p->live);
	/* Each chunk is taken off the worker before it is completed, so
	 * the books agree whatever completing it frees. */
	while (w->outstanding && !rc) {
		struct inflight fl = w->fl[--w->outstanding];

		rc = tf__pool_complete_as(p, fl.job, fl.first, fl.count, TF_ELOST,
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
			tf__pool_dequeue(p, j);
		/* j may be freed from here on (a future). */
		rc = tf__pool_complete_as(p, id, first, (uint32_t)count, TF_ELOST,
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
int tf__pool_watch(struct tf_pool *p, double now)
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
		note_activity(p, now);
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
	n = tf_chunker_size(&p->chunkers[j->fn], j->n - j->next, workers,
			    per_task, j->chunk ? j->chunk : p->o.chunk);
	if (j->in && j->in_size && n > room / j->in_size)
		n = room / j->in_size;
	if (!j->in) {
		size_t bytes = 0;

		/* A chunk of variable-size inputs closes at
		 * TF_POOL_CHUNK_BYTES, so that a worker holds (and the
		 * master keeps for the send) a bounded amount whatever the
		 * chunker chose; one larger input goes alone. A chunk of
		 * futures also ends before a cancelled one. */
		for (i = 0; i < n; i++) {
			size_t len;

			if (j->kind == JOB_FUTURE) {
				if (!j->futs[j->next + i])
					break;
				len = j->futs[j->next + i]->in_len;
			} else {
				len = j->inv[j->next + i].len;
			}
			bytes += tf_pwire_var_size(len);
			if (bytes > TF_POOL_CHUNK_BYTES)
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
	t.flags = j->kind == JOB_FUTURE ? TF_PWIRE_FUTURES : 0;
	tf_strbuf_reset(&p->tx);
	tf_pwire_tasks_begin(&p->tx, &t);
	if (j->in) {
		tf_strbuf_add(&p->tx, j->in + j->next * j->in_size,
			      n * j->in_size);
	} else if (j->kind == JOB_FUTURE) {
		for (i = 0; i < n; i++)
			tf_pwire_add_var(&p->tx, j->futs[j->next + i]->input,
					 j->futs[j->next + i]->in_len);
	} else {
		for (i = 0; i < n; i++)
			tf_pwire_add_var(&p->tx, j->inv[j->next + i].data,
					 j->inv[j->next + i].len);
	}
	j->next += n;
	if (j->next == j->n)
		tf__pool_dequeue(p, j);
	return (uint32_t)n;
}

/* The ranks that run tasks now. */
static size_t workers_now(const struct tf_pool *p)
{
	return (size_t)p->live + (p->master_works ? 1 : 0);
}

/* The job at the queue's head, past the cancelled futures at the start
 * of what it has left to send (they count as done). */
static struct pjob *head_job(struct tf_pool *p)
{
	struct pjob *j = p->qhead;

	if (j->kind == JOB_FUTURE)
		while (j->next < j->n && !j->futs[j->next]) {
			j->next++;
			j->done++;
		}
	return j;
}

static int send_chunk(struct tf_pool *p, int wi)
{
	struct pworker *w = &p->w[wi];
	struct pjob *j = head_job(p);
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
	struct tf_results_sink sink = { take_local, NULL, TF_PWIRE_MSG_MAX, NULL };
	struct tf_ptasks t;

	int rc;

	sink.arg = p;
	pack_chunk(p, head_job(p), workers_now(p));
	if (tf_pwire_tasks_decode(p->tx.buf, p->tx.len, &t))
		return TF_EPROTO;
	sink.msg_max = tf__pool_results_max(&t);
	/* Its tasks may not call the pool, as on a worker (TF_ESTATE). */
	p->in_task = 1;
	rc = tf_call_run_chunk(&p->reg, p->ctx, p->o.isolate,
			       p->o.task_timeout, &t, &p->res,
			       &sink);
	p->in_task = 0;
	return rc;
}

/*
 * Whether worker w, which holds a chunk, should get none behind it: the
 * function to send next was measured long (LONG_TASK a task), or, for
 * futures, a chunk w holds has run longer than LONG_TASK a task (a long
 * task runs now).
 */
static int no_prefetch(struct tf_pool *p, const struct pworker *w)
{
	double now;
	int k;

	if (tf_chunker_expect(&p->chunkers[p->qhead->fn], 1) > LONG_TASK)
		return 1;
	/* A map's chunks keep their prefetch until the chunker has seen
	 * long tasks: no clock read in its turns. */
	if (p->qhead->kind != JOB_FUTURE)
		return 0;
	now = tf_now();
	for (k = 0; k < w->outstanding; k++)
		if (now - w->fl[k].sent > LONG_TASK * w->fl[k].count)
			return 1;
	return 0;
}

/*
 * Gives chunks to the live workers holding fewer than max, the one that
 * answered last first (it is awake), one pass per level so that every
 * worker gets its first chunk before any gets a second, and none gets
 * a second behind a long task (no_prefetch()). A worker that a
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
			if (pass > 1 && no_prefetch(p, &p->w[wi]))
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
 * Worker wi handed back a futures chunk unrun (RECLAIM, in p->rx): it
 * leaves the worker's book and its futures go first in the queue.
 * Returns 0 or TF_EPROTO.
 */
static int handle_returned(struct tf_pool *p, int wi)
{
	struct pworker *w = &p->w[wi];
	struct tf_presults r;
	struct pjob *j;

	if (tf_pwire_results_decode(p->rx.buf, p->rx.len, &r) ||
	    r.job >= p->njobs || !(j = p->jobs[r.job]) ||
	    j->kind != JOB_FUTURE || r.first + r.count > j->next ||
	    take_inflight(w, &r) < 0) {
		tf__pool_seterr(p, "a malformed RECLAIM message from rank %d",
				w->rank);
		return TF_EPROTO;
	}
	tf__pool_job_take_back(p, j, r.first, r.count);
	return 0;
}

/*
 * With nothing queued and a worker idle, each worker that holds a
 * futures chunk behind the one it runs is asked (once, until it answers
 * with results) to hand back what it has not started (RECLAIM), so that
 * the idle worker runs it. A worker whose task runs in its own process
 * hears this only once that task returns; one whose isolated task runs
 * hears it while it watches the child. Returns 0 or a send's error.
 */
static int reclaim(struct tf_pool *p)
{
	struct tf_strbuf none = TF_STRBUF_INIT;
	int wi, idle = 0, rc = 0;

	for (wi = 0; wi < p->nw && !idle; wi++)
		idle = !p->w[wi].lost && !p->w[wi].outstanding;
	for (wi = 0; wi < p->nw && idle && !rc; wi++) {
		struct pworker *w = &p->w[wi];
		int k, futs = 0;

		if (w->lost || w->outstanding < 2 || w->reclaiming)
			continue;
		for (k = 0; k < w->outstanding; k++)
			futs |= p->jobs[w->fl[k].job] &&
				p->jobs[w->fl[k].job]->kind == JOB_FUTURE;
		if (!futs)
			continue;
		w->reclaiming = 1;
		tf_strbuf_reset(&none);
		rc = tf_comm_send(&p->comm, w->rank, TF_TAG_POOL_RECLAIM,
				  &none);
	}
	tf_strbuf_release(&none);
	return rc;
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
		tf__pool_seterr(p, "ignored a %s message from rank %d",
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
int tf__pool_progress(struct tf_pool *p, int local)
{
	int events = 0, src, tag, rc;

	if (p->failed)
		return p->failed;
	if (p->in_callback || p->in_task)
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
			tf__pool_seterr(p, "ignored a %s message from rank %d",
					tf_tag_name(tag), src);
			continue;
		}
		if (p->w[src - 1].lost)
			continue;
		if (tag == TF_TAG_POOL_RESULTS)
			rc = handle_results(p, src - 1, p->rx.buf, p->rx.len);
		else if (tag == TF_TAG_POOL_RECLAIM)
			rc = handle_returned(p, src - 1);
		else
			rc = handle_other(p, src - 1, tag);
	}
	if (rc == 0)
		rc = fill(p, OUT_MAX, &events);
	if (rc == 0 && !p->qhead && p->nw > 1)
		rc = reclaim(p);
	if (rc == 0 && p->qhead) /* work handed back goes out now */
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
	if (rc == 0 && tf_comm_progress(&p->comm) < 0) {
		rc = TF_EMPI;
		tf__pool_seterr(p, "%s", tf_comm_errmsg());
	}
	if (rc < 0) {
		p->failed = rc;
		return rc;
	}
	if (events)
		note_activity(p, tf_now());
	return events;
}

/* Between turns with nothing done: looks for lost workers now and then,
 * polls while a result is due soon, else sleeps a little longer each
 * time. */
void tf__pool_idle_wait(struct tf_pool *p)
{
	tf__pool_idle_wait_until(p, -1);
}

void tf__pool_idle_wait_until(struct tf_pool *p, double until)
{
	double now = tf_now(), due = 0, wait;
	int wi, k;

	if (tf__pool_watch(p, now) != 0)
		return; /* losses completed tasks: the caller looks again */
	for (wi = 0; wi < p->nw; wi++)
		for (k = 0; k < p->w[wi].outstanding; k++)
			if (due == 0 || p->w[wi].fl[k].expect < due)
				due = p->w[wi].fl[k].expect;
	if (due && now > due - SPIN_AHEAD && now < due + SPIN_LATE) {
		tf_idle_hold(&p->idle, 0); /* the back-off starts again */
		return;
	}
	wait = tf_idle_next(&p->idle, 0, now);
	if (due > now && due - now < wait)
		wait = tf_idle_hold(&p->idle,
				    due - now > SLEEP_MIN
					    ? due - now - SPIN_AHEAD / 2
					    : SLEEP_MIN);
	if (until >= 0 && until - now < wait)
		wait = until > now ? until - now : 0;
	if (wait > 0)
		tf_sleep(wait);
}
