/*
 * The master's side of its workers: the messages they send, the batches
 * of tasks handed to them, tasks taken back for idle slots elsewhere, and
 * the look for workers that are lost. It never blocks on one worker:
 * receives are probed and sends are non-blocking.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/batch.h"
#include "farm/control.h"
#include "farm/master_int.h"
#include "taskfarm.h"

/* How often the master looks for lost workers and sends heartbeats. */
#define LIVENESS_INTERVAL 0.2

static void lose_worker(struct master *m, int rank, const char *why);

/* Sends to a worker not lost; an MPI error loses it. Returns 0 or
 * TF_ELOST. */
static int send_to(struct master *m, int rank, int tag, struct tf_strbuf *out)
{
	if (m->workers[rank].lost) {
		tf_strbuf_release(out);
		return TF_ELOST;
	}
	if (tf_comm_send(m->comm, rank, tag, out) < 0) {
		lose_worker(m, rank, "MPI could not send to it");
		return TF_ELOST;
	}
	m->workers[rank].last_sent = tf_now();
	return 0;
}

/* Whether w's process is seen to have ended: only a pid of our own pid
 * space says so. */
static int worker_gone(const struct worker_info *w)
{
	return w->hello && w->pid_space && w->pid_space == tf__pid_space() &&
	       tf__pid_gone((long)w->pid);
}

/* Declares worker rank lost: nothing more is sent to it or taken from
 * it, and its tasks go elsewhere. */
static void lose_worker(struct master *m, int rank, const char *why)
{
	struct worker_info *w = &m->workers[rank];

	if (w->lost)
		return;
	/* It may only be stuck (a stopped process, a hung node): if it
	 * ever reads again, it stops its tasks and leaves. */
	if (!worker_gone(w)) {
		struct tf_strbuf out = TF_STRBUF_INIT;

		/* Not send_to(): a failure here changes nothing. */
		tf_wire_pack_control(&out, TF_CTL_KILL, 0);
		(void)tf_comm_send(m->comm, rank, TF_TAG_CONTROL, &out);
		/* 1: leave MPI unfinalized. The others may be done with
		 * MPI_Finalize's fence by then, and it would wait for ever. */
		tf_wire_pack_control(&out, TF_CTL_STOP, 1);
		(void)tf_comm_send(m->comm, rank, TF_TAG_CONTROL, &out);
	}
	w->lost = 1;
	m->report.ranks[rank].lost = 1;
	tf_comm_forget(m->comm, rank);
	tf_report_clear(&m->report);
	tf_warn("rank %d on %s lost (%s); %llu of its tasks go elsewhere",
		rank, m->report.ranks[rank].host[0] ? m->report.ranks[rank].host
						    : "?",
		why, (unsigned long long)(w->sent_total - w->done_total));
	if (w->hello) {
		m->total_slots -= (int)w->slots;
		m->executors--;
	}
	m->workers_left--;
	m->slots_changed = 1;
	tf_queue_foreach_rank(&m->queue, rank, tf__master_lose_task, m);
	if (m->workers_left == 0 && m->exec.nslots == 0 && !m->draining)
		tf__master_start_drain(m, 0, m->o->drain_grace, STOP_NO_WORKERS,
			    "every worker rank was lost");
}

/*
 * Looks for lost workers, and tells quiet ones the master is there. A
 * worker is lost when its process is seen to have ended (same machine
 * and pid namespace) or when it has sent nothing for --heartbeat
 * seconds; it sends an empty RESULTS batch when it has had nothing to
 * say for a quarter of that, and so does the master, as a HEARTBEAT.
 * Called only when no message waits, so that a late look at the queue
 * is never taken for silence.
 */
void tf__master_check_workers(struct master *m, double now)
{
	double hb = m->o->heartbeat;
	int r;

	if (now - m->last_liveness < LIVENESS_INTERVAL)
		return;
	m->last_liveness = now;
	for (r = 1; r < m->comm->size; r++) {
		struct worker_info *w = &m->workers[r];

		if (w->lost)
			continue;
		if (worker_gone(w)) {
			lose_worker(m, r, "its process ended");
			continue;
		}
		if (hb > 0 && now - w->last_heard > hb) {
			char why[64];

			snprintf(why, sizeof(why), "silent for %.0f s",
				 now - w->last_heard);
			lose_worker(m, r, why);
			continue;
		}
		if (hb > 0 && w->hello && now - w->last_sent > hb / 4) {
			struct tf_strbuf out = TF_STRBUF_INIT;

			tf_wire_pack_control(&out, TF_CTL_HEARTBEAT, 0);
			send_to(m, r, TF_TAG_CONTROL, &out);
		}
	}
}

/* A worker's first message: its slots, pid and host; answered with the
 * master's. */
static int handle_hello(struct master *m, int src, const struct tf_strbuf *b)
{
	struct tf_strbuf out = TF_STRBUF_INIT;
	struct tf_hello h;
	struct worker_info *w = &m->workers[src];

	if (w->hello || tf_wire_unpack_hello(b->buf, b->len, &h) < 0)
		return TF_EPROTO;
	w->hello = 1;
	w->slots = h.slots;
	w->gpus = h.gpus;
	w->pid = h.pid;
	w->pid_space = h.pid_space;
	w->want_total = h.want_total;
	m->total_slots += (int)h.slots;
	snprintf(m->report.ranks[src].host,
		 sizeof(m->report.ranks[src].host), "%s", h.host);
	m->report.ranks[src].slots = (int)h.slots;
	m->slots_changed = 1;
	tf_debug("rank %d on %s (pid %u): %u slots", src, h.host,
		 h.pid, h.slots);
	/* The answer tells it where its master lives, so that it
	 * can see the master's end. */
	memset(&h, 0, sizeof(h));
	h.slots = (uint32_t)m->exec.nslots;
	h.pid = (uint32_t)getpid();
	h.pid_space = tf__pid_space();
	snprintf(h.host, sizeof(h.host), "%s", m->comm->host);
	tf_wire_pack_hello(&out, &h);
	send_to(m, src, TF_TAG_HELLO, &out);
	if (m->draining) {
		/* It joined late: it has nothing to stop. */
		tf_wire_pack_control(&out, TF_CTL_DRAIN, 0);
		send_to(m, src, TF_TAG_CONTROL, &out);
	}
	return 0;
}

/* A batch of finished attempts, with how many tasks the worker wants. */
static int handle_results(struct master *m, int src, const struct tf_strbuf *b)
{
	struct tf_result *rs;
	uint64_t want;
	size_t n, i;
	int ret;

	ret = tf_wire_unpack_results(b->buf, b->len, &want, &rs, &n);
	if (ret < 0)
		return ret;
	if (want > m->workers[src].want_total)
		m->workers[src].want_total = want;
	/* Any batch answers a RECLAIM: it is sent after the worker
	 * handed back what it could. */
	m->workers[src].reclaiming = 0;
	m->slots_changed = 1;
	for (i = 0; i < n; i++) {
		tf__master_result(m, src, &rs[i]);
		tf_result_release(&rs[i]);
	}
	free(rs);
	return 0;
}

/* A chunk of a running task's output, ahead of its result. */
static int handle_output(struct master *m, int src, const struct tf_strbuf *b)
{
	struct tf_inflight *f;
	const void *data;
	uint64_t id;
	uint32_t attempt;
	size_t len;
	int stream, slot;

	if (tf_wire_unpack_output(b->buf, b->len, &id, &attempt,
				  &stream, &slot, &data, &len) < 0)
		return TF_EPROTO;
	f = tf_queue_find(&m->queue, id);
	if (!f || f->rank != src || f->task.attempt != attempt)
		return TF_EPROTO;
	if (stream == TF_WIRE_LINES_OUT || stream == TF_WIRE_LINES_ERR) {
		tf__master_remote_lines(m, f, slot, stream - TF_WIRE_LINES_OUT,
					data, len);
		return 0;
	}
	/* If it cannot be kept, the output says so, and the attempt
	 * is failed when its result comes. */
	(void)tf_output_append(stream == 1 ? &f->out : &f->err, data,
			       len, 1024 * 1024);
	return 0;
}

int tf__master_handle_message(struct master *m, int src, int tag)
{
	struct tf_strbuf *b = &m->msg;

	if (src <= 0 || src >= m->comm->size)
		return TF_EPROTO;
	if (m->workers[src].lost)
		return 0; /* too late: its tasks went elsewhere */
	m->workers[src].last_heard = tf_now();
	switch (tag) {
	case TF_TAG_HELLO:
		return handle_hello(m, src, b);
	case TF_TAG_RESULTS:
		return handle_results(m, src, b);
	case TF_TAG_OUTPUT:
		return handle_output(m, src, b);
	case TF_TAG_CONTROL: {
		uint32_t code;
		double arg;

		if (tf_wire_unpack_control(b->buf, b->len, &code, &arg) < 0)
			return TF_EPROTO;
		if (code == TF_CTL_DRAIN_REQUEST && !m->draining)
			return 1; /* tell the loop to start a drain */
		return 0;
	}
	default:
		return TF_EPROTO;
	}
}

/* A worker lost is told nothing more; a failed send loses the rank. */
static int send_control(void *ctx, int rank, struct tf_strbuf *out)
{
	(void)send_to(ctx, rank, TF_TAG_CONTROL, out);
	return 0;
}

void tf__master_control_all(struct master *m, uint32_t code, double arg)
{
	(void)tf__control_all(m->comm, code, arg, send_control, m);
}

/* Guided self-scheduling: near the end, smaller batches keep the last
 * tasks spread over all workers. */
static size_t batch_cap(const struct master *m)
{
	int slots = m->total_slots + m->exec.nslots;

	if (!m->ntasks || m->dispatched >= m->ntasks || slots <= 0)
		return SIZE_MAX;
	return tf_sched_guided(m->ntasks - m->dispatched, (size_t)slots);
}

/* Takes the next task for rank (slots and GPUs: what the rank has), with
 * the time limit it gets now. */
static struct tf_inflight *take(struct master *m, int rank, uint32_t slots,
				uint32_t gpus)
{
	struct tf_inflight *f =
		tf_queue_take_fit(&m->queue, rank, slots, gpus);

	if (f) {
		f->task.timeout = tf_timeout_for(&m->o->timeout, &m->runtimes);
		f->sent_at = tf_wallclock();
	}
	return f;
}

int tf__master_dispatch(struct master *m)
{
	int did = 0, i, size = m->comm->size;

	/* Local slots first: they cost no message. In order: a task that
	 * needs more slots than are free waits for them, and those after it
	 * wait behind it (no stream of small tasks starves a big one). */
	while (m->exec.nslots && tf_queue_nready(&m->queue)) {
		uint32_t cap = (uint32_t)m->exec.nslots,
			 gcap = (uint32_t)m->exec.res.ngpus;
		const struct tf_task *next =
			tf_queue_peek_fit(&m->queue, 0, cap, gcap);
		struct tf_inflight *f;
		struct tf_task t;

		if (!next || !tf_exec_fits(&m->exec, next))
			break;
		f = take(m, 0, cap, gcap);
		if (!f)
			break;
		tf_task_copy(&t, &f->task);
		tf_exec_start(&m->exec, &t);
		m->dispatched++;
		did = 1;
	}
	for (i = 0; i < size - 1 && tf_queue_nready(&m->queue); i++) {
		int r = 1 + (m->next_worker + i) % (size - 1);
		struct worker_info *w = &m->workers[r];
		struct tf_strbuf out = TF_STRBUF_INIT;
		struct tf_task *batch;
		struct tf_inflight *f;
		size_t n, k, cap;
		uint64_t units = 0;

		if (!w->hello || w->lost || w->want_total <= w->sent_total)
			continue;
		n = (size_t)(w->want_total - w->sent_total);
		cap = batch_cap(m);
		if (n > cap)
			n = cap;
		if (n > tf_queue_nready(&m->queue))
			n = tf_queue_nready(&m->queue);
		batch = tf__xmalloc(n * sizeof(*batch));
		/* n is in slots: a task of N slots counts N (the last one
		 * may go over). */
		for (k = 0; k < n && units < n &&
			    (f = take(m, r, w->slots, w->gpus));
		     k++) {
			batch[k] = f->task;
			units += tf_task_slots(&f->task);
		}
		if (k) {
			tf_wire_pack_tasks(&out, m->ntasks, batch, k);
			/* Counted as sent first: if the send loses the rank,
			 * its tasks, these among them, are requeued. */
			w->sent_total += units;
			m->dispatched += k;
			m->slots_changed = 1;
			send_to(m, r, TF_TAG_TASKS, &out);
			did = 1;
		}
		free(batch);
	}
	m->next_worker++;
	return did;
}

/*
 * Nothing is in flight and tasks are ready: if no rank left can run the
 * next one (a rank of #TASKFARM slots or gpus was lost, and the others
 * are smaller), nothing ever will; drain, with the tasks left for a
 * resume on a larger allocation (exit 3).
 */
void tf__master_check_stranded(struct master *m)
{
	const struct tf_task *t;
	int r;

	if (m->draining || tf_queue_gated(&m->queue))
		return;
	if (m->exec.nslots &&
	    tf_queue_peek_fit(&m->queue, 0, (uint32_t)m->exec.nslots,
			      (uint32_t)m->exec.res.ngpus))
		return;
	for (r = 1; r < m->comm->size; r++) {
		const struct worker_info *w = &m->workers[r];

		if (w->lost)
			continue;
		if (!w->hello ||
		    tf_queue_peek_fit(&m->queue, r, w->slots, w->gpus))
			return; /* it may yet run them */
	}
	t = tf_ring_at(&m->queue.ready, 0);
	tf_error("no rank left can run task %llu: it needs %u slots and %d "
		 "GPUs; the tasks left are for --resume (%llu ready)",
		 (unsigned long long)t->id, (unsigned)tf_task_slots(t),
		 t->gpus_given ? (int)t->gpus
			       : (int)tf_task_slots(t) * m->o->gpus_per_slot,
		 (unsigned long long)tf_queue_nready(&m->queue));
	tf__master_start_drain(m, 0, m->o->drain_grace, STOP_NO_WORKERS,
			       "no rank left can run the tasks");
}

/* Tasks a worker holds that have not started: it starts one as soon as
 * a slot is free, so what it holds beyond its slots waits. */
static uint64_t queued_on(const struct worker_info *w)
{
	uint64_t held = w->sent_total - w->done_total;

	return held > w->slots ? held - w->slots : 0;
}

/* Running tasks, for the status line: the master's own, and on each
 * worker what it holds up to its slots. */
uint64_t tf__master_count_running(const struct master *m)
{
	uint64_t n = (uint64_t)m->exec.nbusy;
	int r;

	for (r = 1; r < m->comm->size; r++) {
		const struct worker_info *w = &m->workers[r];
		uint64_t held = w->sent_total - w->done_total;

		if (!w->lost)
			n += held < w->slots ? held : w->slots;
	}
	return n;
}

/*
 * When nothing is ready and a slot idles somewhere, takes tasks back
 * from the worker with the most waiting behind its running ones, so no
 * task waits behind a long one while a slot could run it. One RECLAIM
 * per worker is outstanding at a time; its answer is any RESULTS batch.
 * Returns whether a RECLAIM was sent.
 */
int tf__master_reclaim(struct master *m)
{
	uint64_t idle = (uint64_t)m->exec.res.nfree, most = 0;
	int r, from = 0;

	for (r = 1; r < m->comm->size; r++) {
		const struct worker_info *w = &m->workers[r];
		uint64_t held = w->sent_total - w->done_total, q;

		if (!w->hello || w->lost)
			continue;
		if (held < w->slots)
			idle += w->slots - held;
		q = queued_on(w);
		if (q > most && !w->reclaiming) {
			most = q;
			from = r;
		}
	}
	if (!idle || !from)
		return 0;
	{
		struct tf_strbuf out = TF_STRBUF_INIT;

		tf_wire_pack_control(&out, TF_CTL_RECLAIM,
				     (double)(idle < most ? idle : most));
		if (send_to(m, from, TF_TAG_CONTROL, &out) == 0)
			m->workers[from].reclaiming = 1;
	}
	return 1;
}
