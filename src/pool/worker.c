/*
 * The worker side of the pool: once the start handshake (api.c) is
 * done, a worker rank takes chunks of tasks from the master, runs them
 * one at a time through call.c and sends their results back, until the
 * master's STOP. It watches its master's process while idle, and when
 * it cannot go on it tells the master why (say_left()) and returns the
 * code, with the message in the pool's error buffer: it prints nothing.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core/idle.h"
#include "core/ring.h"
#include "pool/pool.h"
#include "pool/wire.h"

/* The chunks a worker holds, received but not yet run: at most this
 * many, oldest first, in a ring of struct held. */
#define HELD_MAX (OUT_MAX + 4)

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
 * failed). The message carries detail, this rank's own, if any. */
static void say_left(struct tf_pool *p, int err, const char *detail)
{
	struct tf_strbuf why = TF_STRBUF_INIT;

	tf_strbuf_addf(&why, "it stopped serving: %s", tf_strerror(err));
	if (detail)
		tf_strbuf_addf(&why, " (%s)", detail);
	tf__pool_send_status(p, 0, TF_TAG_POOL_STOP, err, why.buf, why.len);
	tf_strbuf_release(&why);
}

/*
 * The master's RECLAIM: every futures chunk held (received, not started)
 * goes back unrun, in a RECLAIM message naming it (a uniform RESULTS
 * header); other chunks stay, in order. Returns 0 or a send's error.
 */
static int hand_back(struct tf_pool *p, struct tf_ring *held)
{
	size_t n = tf_ring_len(held), i;
	int rc = 0;

	for (i = 0; i < n; i++) {
		struct held h = *(struct held *)tf_ring_pop_front(held);
		struct tf_strbuf msg = TF_STRBUF_INIT;
		struct tf_presults r;
		struct tf_ptasks t;

		if (rc || tf_pwire_tasks_decode(h.buf, h.len, &t) ||
		    !(t.flags & TF_PWIRE_FUTURES)) {
			*(struct held *)tf_ring_push_back(held) = h;
			continue;
		}
		memset(&r, 0, sizeof(r));
		r.job = t.job;
		r.first = t.first;
		r.count = t.count;
		tf_pwire_results_uniform(&msg, &r, TF_ECANCELLED, NULL, 0);
		rc = tf_comm_send(&p->comm, 0, TF_TAG_POOL_RECLAIM, &msg);
		tf_strbuf_release(&msg);
		free(h.buf);
	}
	return rc;
}

/*
 * Takes in the master's messages while there is room to hold chunks.
 * Returns 0 (nothing more now), 1 with *rc the STOP's status when the
 * master said to stop, or a negative error.
 */
static int take_messages(struct tf_pool *p, struct tf_ring *held, int *rc)
{
	int src, tag, got = 0;

	while (tf_ring_len(held) < HELD_MAX &&
	       (got = tf_comm_recv(&p->comm, 0, &src, &tag, &p->rx)) == 1) {
		struct held *h;

		if (tag == TF_TAG_POOL_STOP) {
			*rc = tf__pool_stop_status(p);
			return 1;
		}
		if (tag == TF_TAG_POOL_RECLAIM) {
			int e = hand_back(p, held);

			if (e)
				return e;
			continue;
		}
		if (tag != TF_TAG_POOL_TASKS) {
			tf__pool_seterr(p, "ignored a %s message",
					tf_tag_name(tag));
			continue;
		}
		h = tf_ring_push_back(held);
		h->buf = tf_strbuf_detach(&p->rx, &h->len);
	}
	return got < 0 ? got : 0;
}

/* What an isolated task's wait watches: the master's messages. */
struct watch {
	struct tf_pool *p;
	struct tf_ring *held;
	int stopped; /* a STOP came: its status in rc */
	int rc;
};

/* The sink's stop (call.h): while an isolated task runs, takes in the
 * master's messages; a STOP (tf_pool_close_for() past its limit) stops
 * the task. */
static int watch_master(void *arg)
{
	struct watch *w = arg;

	if (!w->stopped && take_messages(w->p, w->held, &w->rc) == 1)
		w->stopped = 1;
	return w->stopped;
}

/* Where a worker's results go, and what its isolated tasks watch. */
static int send_watched(void *arg, struct tf_strbuf *msg)
{
	struct watch *w = arg;

	return send_results(w->p, msg);
}

/* Runs the oldest chunk held and frees it. Returns 0 or an error; a
 * STOP taken in meanwhile sets *stop and *stop_rc (and returns 0). */
static int run_next(struct tf_pool *p, struct tf_ring *held, int *stop,
		    int *stop_rc)
{
	struct tf_results_sink sink = { send_watched, NULL, TF_PWIRE_MSG_MAX,
					NULL };
	struct held h = *(struct held *)tf_ring_pop_front(held);
	struct watch w = { NULL, NULL, 0, 0 };
	struct tf_ptasks t;
	int rc;

	w.p = p;
	w.held = held;
	sink.arg = &w;
	if (p->o.isolate)
		sink.stop = watch_master;
	rc = tf_pwire_tasks_decode(h.buf, h.len, &t);
	if (!rc) {
		sink.msg_max = tf__pool_results_max(&t);
		rc = tf_call_run_chunk(&p->reg, p->ctx, p->o.isolate,
				       p->o.task_timeout, &t,
				       &p->res, &sink);
	}
	free(h.buf);
	if (w.stopped) {
		*stop = 1;
		*stop_rc = w.rc;
		return 0;
	}
	if (rc == TF_EPROTO)
		tf__pool_seterr(p, "a malformed TASKS message");
	return rc;
}

/* Frees the chunks still held (a STOP drops them), and the ring. */
static void drop_held(struct tf_ring *held)
{
	struct held *h;

	while ((h = tf_ring_pop_front(held)) != NULL)
		free(h->buf);
	tf_ring_release(held);
}

int tf__pool_serve(struct tf_pool *p)
{
	struct tf_ring held;
	struct tf_idle idle;
	int rc = 0, stop = 0;

	tf_ring_init(&held, sizeof(struct held), HELD_MAX);
	tf_idle_init(&idle, SLEEP_MIN, SLEEP_MAX, tf_now());
	while (!stop) {
		int pending, got = take_messages(p, &held, &rc);

		if (got == 1) {
			stop = 1;
			break; /* chunks still queued are dropped */
		}
		if (got < 0) {
			rc = got;
			say_left(p, rc, NULL);
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
			tf__pool_seterr(p, "%s", tf_comm_errmsg());
			say_left(p, rc, tf_comm_errmsg());
			break;
		}
		if (tf_ring_len(&held) && pending == 0) {
			int stop_rc = 0;

			rc = run_next(p, &held, &stop, &stop_rc);
			if (stop) {
				rc = stop_rc;
				break;
			}
			if (rc) {
				say_left(p, rc,
					 rc == TF_EPROTO ? p->errmsg.buf : NULL);
				break;
			}
			tf_idle_busy(&idle, tf_now());
			continue;
		}
		/* Poll for WORKER_SPIN after a chunk, then back off. */
		if (tf_now() - idle.busy_at > WORKER_SPIN) {
			double now = tf_now();

			if (master_gone(p, now)) {
				tf__pool_seterr(p, "the master's process ended");
				rc = TF_ELOST;
				break;
			}
			tf_sleep(tf_idle_next(&idle, 0, now));
		}
	}
	/* Sends to a master that is gone, or that gave this rank up, would
	 * never complete. A rank lost (this one, after an error, too) means
	 * every rank leaves MPI unfinalized. */
	if (rc == TF_ELOST)
		tf_comm_forget(&p->comm, 0);
	if (rc == TF_ELOST || (rc < 0 && !stop)) {
		tf_comm_abandon(&p->comm);
		tf__pool_drain_sends(p, 1.0);
	}
	drop_held(&held);
	return rc;
}
