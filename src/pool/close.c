/*
 * The master's part of tf_pool_close() and tf_pool_close_for(): waits for
 * the chunks in flight (within the time limit, past which it stops the
 * tasks still running: halt_running()), tells the workers to leave, and
 * after a loss or a halt waits a little for their goodbyes.
 */
#include "config.h"

#include "pool/pool.h"
#include "pool/wire.h"

/*
 * After a loss, waits (at most GOODBYE_WAIT) until every worker told to
 * leave has answered, or its process has ended: a rank that leaves MPI
 * unfinalized at once was seen to take its last messages with it before
 * their receiver read them, and a worker that missed its STOP would
 * serve for ever.
 */
static void await_goodbyes(struct tf_pool *p)
{
	double until = tf_now() + GOODBYE_WAIT;
	struct tf_idle idle;

	tf__pool_idle_leaving(&idle);
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
		tf_sleep(tf_idle_next(&idle, 0, tf_now()));
	}
}

/*
 * Tells the workers to leave. Nothing waits for a lost one: one that
 * went silent may live on, so it gets a STOP too (it leaves with
 * TF_ELOST), but the send is given up at once; the others are not sent
 * anything. Once a rank was lost, every STOP says so, and each rank
 * leaves MPI unfinalized: Open MPI 4.1's MPI_Finalize was seen to wait
 * for ever for a dead rank (comm.h, tf_comm_abandon()). Returns 0 or the
 * first error of a send to a live worker.
 */
static int stop_workers(struct tf_pool *p)
{
	int r, rc = 0;

	for (r = 0; r < p->nw; r++) {
		struct pworker *w = &p->w[r];
		int e;

		if (w->lost && w->lost != LOST_SILENT)
			continue;
		e = tf__pool_send_status(p, w->rank, TF_TAG_POOL_STOP,
					 w->lost     ? TF_ELOST
					 : w->halted ? TF_ECANCELLED
						     : 0,
					 "\1", p->comm.abandoned ? 1 : 0);
		w->told = !w->lost && (p->comm.abandoned || w->halted);
		if (w->lost)
			tf_comm_forget(&p->comm, w->rank);
		else if (e && !rc)
			rc = e;
	}
	return rc;
}

/*
 * tf_pool_close_for() past its limit: the chunks still in flight complete
 * with TF_ECANCELLED. A worker of isolated tasks will get a STOP that
 * makes it kill the child (halted); one whose task runs in its process
 * cannot hear it until the task returns, so it is given up as silent
 * (every rank leaves MPI unfinalized). Returns 0 or TF_EPROTO.
 */
static int halt_running(struct tf_pool *p)
{
	static const char why[] =
		"the pool closed (tf_pool_close_for()) while the task ran";
	struct tf_strbuf killed = TF_STRBUF_INIT, left = TF_STRBUF_INIT;
	int r, rc = 0;

	for (r = 0; r < p->nw && !rc; r++) {
		struct pworker *w = &p->w[r];

		if (w->lost || !w->outstanding)
			continue;
		while (w->outstanding && !rc) {
			struct inflight fl = w->fl[--w->outstanding];

			rc = tf__pool_complete_as(p, fl.job, fl.first, fl.count,
					 TF_ECANCELLED, why);
		}
		if (p->o.isolate) {
			w->halted = 1;
			tf_strbuf_addf(&killed, " %d", w->rank);
		} else {
			w->lost = LOST_SILENT;
			p->live--;
			tf_comm_abandon(&p->comm);
			tf_strbuf_addf(&left, " %d", w->rank);
		}
	}
	/* tf_pool_errmsg(NULL) says which (the header's promise). */
	if (killed.len && left.len)
		tf__pool_seterr(p, "at the close's time limit, rank(s)%s had "
				   "their isolated tasks' children killed, and "
				   "rank(s)%s still ran a task in its process",
				killed.buf, left.buf);
	else if (killed.len)
		tf__pool_seterr(p, "rank(s)%s still ran an isolated task at "
				   "the close's time limit: its child was "
				   "killed",
				killed.buf);
	else if (left.len)
		tf__pool_seterr(p, "rank(s)%s still ran a task in its process "
				   "at the close's time limit: it was left "
				   "behind, and MPI is left unfinalized",
				left.buf);
	tf_strbuf_release(&killed);
	tf_strbuf_release(&left);
	return rc;
}

int tf__pool_master_close(struct tf_pool *p, double limit)
{
	double until = limit >= 0 ? tf_now() + limit : -1;
	int rc = 0, r, timed_out = 0;

	if (!p->failed) {
		struct tf_future *f;

		for (f = p->futures; f; f = f->next)
			tf__pool_future_cancel(f);
		/* Wait for every chunk in flight, then stop the workers. */
		for (;;) {
			int busy = 0, ev;

			for (r = 0; r < p->nw; r++)
				busy += p->w[r].outstanding;
			if (!busy)
				break;
			if (until >= 0 && tf_now() >= until) {
				timed_out = 1;
				halt_running(p);
				break;
			}
			ev = tf__pool_progress(p, 1);
			if (ev < 0)
				break;
			if (ev == 0)
				tf__pool_idle_wait_until(p, until);
		}
	}
	if (!p->dismissed) {
		/* A worker that died idle must not get a STOP, and its loss
		 * decides how every rank leaves MPI. */
		p->next_watch = 0;
		tf__pool_watch(p, tf_now());
		rc = stop_workers(p);
	}
	/* Leaving MPI unfinalized, the STOPs must be out, and read; a halted
	 * worker's answer says that nothing more of its tasks is coming. */
	if (p->comm.abandoned || timed_out)
		await_goodbyes(p);
	for (r = 0; r < p->nw; r++)
		if (p->w[r].halted && !p->w[r].answered) {
			/* It did not stop within GOODBYE_WAIT: finalizing
			 * would wait for it. */
			tf_comm_forget(&p->comm, p->w[r].rank);
			tf_comm_abandon(&p->comm);
		}
	return rc ? rc : timed_out ? TF_ETIMEDOUT : 0;
}
