/*
 * The worker (every rank but 0). It runs up to `slots` tasks at once and
 * asks the master for work ahead of need, so a slot never waits a round
 * trip for its next task. How far ahead it asks adapts to the run time it
 * measures: tiny tasks come many to a message, long ones one at a time.
 * Results go back in batches; output too large to ride in a batch goes
 * ahead of it in chunks.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/comm.h"
#include "core/idle.h"
#include "core/ring.h"
#include "farm/exit.h"
#include "farm/exec.h"
#include "farm/worker.h"
#include "core/batch.h"
#include "taskfarm.h"
#include "farm/wire.h"

/* An idle worker polls for messages at intervals doubling from the first
 * to the last. */
#define IDLE_MIN 2e-5
#define IDLE_MAX 0.002
/* Aim to hold this many seconds of queued work per slot. */
#define AHEAD_SECONDS 0.02
#define AHEAD_MAX_PER_SLOT 256
/* Send results at least this often while tasks finish. */
#define FLUSH_INTERVAL 0.005
#define FLUSH_BYTES (256 * 1024)

/* How often a worker looks whether its master is still there. */
#define LIVENESS_INTERVAL 0.2

struct worker {
	const struct tf_farm_opts *o;
	struct tf_comm *comm;
	struct tf_exec exec;
	struct tf_ring queue; /* of struct tf_task: not yet started */
	uint64_t received;      /* slots' worth of tasks received */
	uint64_t queued_units;  /* ... of those queued, not started */
	double mean_runtime; /* moving average; 0 until measured */
	struct tf_strbuf batch;
	uint32_t nresults;
	double last_flush;   /* last RESULTS batch: the heartbeat's clock */
	double last_heard;   /* last message from the master */
	double last_liveness;
	uint32_t master_pid; /* from the master's HELLO; 0 until then */
	uint64_t master_space;
	int no_ahead;        /* reclaimed from: hold nothing ahead until a
			      * task of ours finishes */
	int draining;
	int stop;
	int fatal;      /* the loop failed: exit TF_EXIT_INTERNAL */
	int master_lost;
};

static size_t target_hold(const struct worker *w)
{
	size_t slots = (size_t)w->exec.nslots, per_slot;

	/* With --halt, a queued task must not start after the result that
	 * halts the run: a slot asks for its next task only when free. */
	if (w->no_ahead || w->o->halt.when != TF_HALT_NEVER)
		return slots;
	if (w->mean_runtime <= 0)
		return 2 * slots;
	if (w->mean_runtime >= 1.0)
		return slots;
	per_slot = tf_sched_ahead(w->mean_runtime, AHEAD_SECONDS,
				  AHEAD_MAX_PER_SLOT);
	return slots + slots * per_slot;
}

static uint64_t want_total(const struct worker *w)
{
	size_t held = (size_t)w->queued_units +
		      (size_t)(w->exec.nslots - w->exec.res.nfree);
	size_t hold = w->draining || w->stop ? 0 : target_hold(w);

	return w->received + (hold > held ? hold - held : 0);
}

static void queue_push(struct worker *w, struct tf_task *t)
{
	*(struct tf_task *)tf_ring_push_back(&w->queue) = *t;
	w->queued_units += tf_task_slots(t);
}

/* The oldest queued task; the queue must not be empty. */
static struct tf_task queue_pop(struct worker *w)
{
	struct tf_task t = *(struct tf_task *)tf_ring_pop_front(&w->queue);

	w->queued_units -= tf_task_slots(&t);
	return t;
}

/* Sends the batch, empty or not (an empty one is a heartbeat, or the
 * answer to a RECLAIM). */
static int flush_results(struct worker *w)
{
	int ret;

	if (w->nresults == 0 && w->batch.len == 0)
		tf_wire_results_begin(&w->batch);
	/* The want is taken at send time, after the batch's tasks left. */
	tf_wire_results_end(&w->batch, w->nresults, want_total(w));
	ret = tf_comm_send(w->comm, 0, TF_TAG_RESULTS, &w->batch);
	w->nresults = 0;
	w->last_flush = tf_now();
	return ret;
}

static void discard_done(void *ctx, struct tf_result *r)
{
	tf_result_release(r);
}

static void master_lost(struct worker *w, const char *why);

/* flush_results(), and a failed send means the master is gone. */
static void send_batch(struct worker *w)
{
	if (!w->master_lost && flush_results(w) < 0)
		master_lost(w, "MPI could not send to it");
}

/*
 * The master is gone (its process ended, it fell silent, or MPI failed
 * us): nothing may outlive the farm, so every task is stopped, TERM and
 * KILL after --grace, and the worker leaves without waiting for anyone.
 */
static void master_lost(struct worker *w, const char *why)
{
	double until;

	if (w->master_lost)
		return;
	w->master_lost = 1;
	w->stop = 1;
	tf_comm_abandon(w->comm);
	tf_error("the master (rank 0) is gone (%s): stopping %d running "
		 "task%s and leaving",
		 why, w->exec.nbusy, w->exec.nbusy == 1 ? "" : "s");
	tf_comm_forget(w->comm, 0);
	tf_exec_kill(&w->exec, -1, TF_STATUS_INTERRUPTED, w->o->grace);
	until = tf_now() + w->o->grace + 2;
	while (w->exec.nbusy && tf_now() < until)
		if (tf_exec_wait(&w->exec, 0.05, discard_done, NULL) < 0)
			break;
}

/* Whether the master still lives, and a heartbeat when we have been
 * quiet: see check_workers() in master.c. */
static void check_master(struct worker *w, double now)
{
	double hb = w->o->heartbeat;

	if (now - w->last_liveness < LIVENESS_INTERVAL)
		return;
	w->last_liveness = now;
	if (w->master_pid && w->master_space == tf__pid_space() &&
	    tf__pid_gone((long)w->master_pid)) {
		master_lost(w, "its process ended");
		return;
	}
	if (hb > 0 && now - w->last_heard > hb) {
		char why[64];

		snprintf(why, sizeof(why), "silent for %.0f s",
			 now - w->last_heard);
		master_lost(w, why);
		return;
	}
	if (hb > 0 && now - w->last_flush > hb / 4)
		send_batch(w);
}

/* Sends one OUTPUT message. Returns 0, or -1 with the master lost. */
static int send_output(struct worker *w, struct tf_strbuf *chunk)
{
	if (tf_comm_send_wait(w->comm, 0, TF_TAG_OUTPUT, chunk->buf,
			      chunk->len, w->o->heartbeat) < 0) {
		/* MPI may still read the chunk. */
		tf_comm_keep(tf_strbuf_detach(chunk, NULL));
		master_lost(w, "it did not take output");
		return -1;
	}
	/* It took the chunk: it lives, though nothing it sent was read
	 * meanwhile. */
	w->last_heard = tf_now();
	return 0;
}

/*
 * --line-buffer: sends a running task's whole lines not sent yet, bytes
 * [from, end) of its output, to the master as they come (exec.c cuts
 * them off the result). Returns how far it sent them.
 */
static uint64_t on_lines(void *ctx, int slot, int which, uint64_t from,
			 uint64_t end)
{
	struct worker *w = ctx;
	struct tf_exec_slot *sl = &w->exec.slots[slot];
	const struct tf_output *o = which ? &sl->result.err : &sl->result.out;
	struct tf_strbuf chunk = TF_STRBUF_INIT;
	char *buf;

	if (w->master_lost)
		return from;
	buf = tf__xmalloc(TF_WIRE_CHUNK);
	while (from < end) {
		size_t want = end - from < TF_WIRE_CHUNK ? (size_t)(end - from)
							 : TF_WIRE_CHUNK;
		long n = tf_output_pread(o, buf, want, from);

		if (n <= 0)
			break; /* left for the result */
		tf_strbuf_reset(&chunk);
		tf_wire_pack_lines(&chunk, sl->task.id, sl->task.attempt, which,
				   slot + 1, buf, (size_t)n);
		if (send_output(w, &chunk) < 0)
			break;
		from += (uint64_t)n;
	}
	free(buf);
	tf_strbuf_release(&chunk);
	return from;
}

static void send_output_chunks(struct worker *w, const struct tf_result *r)
{
	const struct tf_output *o[2] = { &r->out, &r->err };
	struct tf_strbuf chunk = TF_STRBUF_INIT;
	char *buf = tf__xmalloc(TF_WIRE_CHUNK);
	int i;

	for (i = 0; i < 2; i++) {
		uint64_t off = 0;

		while (off < o[i]->len) {
			long n = tf_output_pread(o[i], buf, TF_WIRE_CHUNK, off);
			if (n <= 0)
				tf_die("cannot read back output of task %llu",
				       (unsigned long long)r->id);
			tf_strbuf_reset(&chunk);
			tf_wire_pack_output(&chunk, r->id, r->attempt, i + 1,
					    buf, (size_t)n);
			if (send_output(w, &chunk) < 0) {
				free(buf);
				return;
			}
			off += (uint64_t)n;
		}
	}
	free(buf);
	tf_strbuf_release(&chunk);
}

static void add_result(struct worker *w, struct tf_result *r)
{
	if (w->master_lost)
		return;
	if (w->nresults == 0 && w->batch.len == 0)
		tf_wire_results_begin(&w->batch);
	if (!tf_wire_output_inline(r))
		send_output_chunks(w, r);
	tf_wire_results_add(&w->batch, r);
	w->nresults++;
}

static void task_done(void *ctx, struct tf_result *r)
{
	struct worker *w = ctx;

	w->no_ahead = 0;
	/* Output it could not keep ($TMPDIR) is lost: the master fails
	 * the attempt. */
	if ((r->out.error || r->err.error) &&
	    r->status != TF_STATUS_INTERRUPTED)
		r->status = TF_STATUS_OUTPUT_LOST;
	if (r->status == TF_STATUS_OK || r->status == TF_STATUS_FAILED) {
		double rt = r->runtime > 1e-6 ? r->runtime : 1e-6;
		w->mean_runtime = w->mean_runtime > 0
					  ? 0.8 * w->mean_runtime + 0.2 * rt
					  : rt;
	}
	add_result(w, r);
	tf_result_release(r);
}

static void hand_back(struct worker *w, struct tf_task *t)
{
	struct tf_result r;

	tf_result_init(&r);
	r.id = t->id;
	r.attempt = t->attempt;
	r.status = TF_STATUS_NOT_STARTED;
	add_result(w, &r);
	tf_task_release(t);
}

/* Hands every task not yet started back to the master. */
static void hand_back_queued(struct worker *w)
{
	while (tf_ring_len(&w->queue)) {
		struct tf_task t = queue_pop(w);

		hand_back(w, &t);
	}
}

/* A RECLAIM: hands back up to n of the tasks last queued (those that
 * would wait longest here), and answers at once. */
static void reclaim(struct worker *w, uint64_t n)
{
	while (n-- > 0 && tf_ring_len(&w->queue)) {
		struct tf_task t =
			*(struct tf_task *)tf_ring_pop_back(&w->queue);

		w->queued_units -= tf_task_slots(&t);
		hand_back(w, &t);
	}
	w->no_ahead = 1;
	send_batch(w);
}

/*
 * Drains: level 1 starts nothing new, hands back what is queued and stops
 * running tasks after kill_after seconds (TERM, KILL after --grace; never
 * if negative); level 2 KILLs them at once. The same signal often reaches
 * a worker twice, from the launcher and as the master's DRAIN: a repeat
 * only ever brings the stop nearer, never a second escalation.
 */
static void drain(struct worker *w, int level, double kill_after)
{
	if (level >= 2) {
		if (w->draining < 2)
			tf_exec_kill(&w->exec, -1, TF_STATUS_INTERRUPTED, 0);
		w->draining = 2;
		hand_back_queued(w);
		return;
	}
	if (!w->draining)
		w->draining = 1;
	hand_back_queued(w);
	tf_exec_stop(&w->exec, -1, TF_STATUS_INTERRUPTED, kill_after);
}

static int handle_message(struct worker *w, int tag, struct tf_strbuf *b)
{
	w->last_heard = tf_now();
	switch (tag) {
	case TF_TAG_HELLO: {
		struct tf_hello h;

		if (tf_wire_unpack_hello(b->buf, b->len, &h) < 0)
			return TF_EPROTO;
		w->master_pid = h.pid;
		w->master_space = h.pid_space;
		return 0;
	}
	case TF_TAG_TASKS: {
		struct tf_task *tasks;
		uint64_t ntasks;
		size_t n, i;

		if (tf_wire_unpack_tasks(b->buf, b->len, &ntasks, &tasks, &n) <
		    0)
			return TF_EPROTO;
		if (ntasks != w->exec.ntasks)
			tf_exec_set_ntasks(&w->exec, ntasks);
		for (i = 0; i < n; i++) {
			w->received += tf_task_slots(&tasks[i]);
			queue_push(w, &tasks[i]);
		}
		free(tasks);
		if (w->draining)
			hand_back_queued(w);
		return 0;
	}
	case TF_TAG_CONTROL: {
		uint32_t code;
		double arg;

		if (tf_wire_unpack_control(b->buf, b->len, &code, &arg) < 0)
			return TF_EPROTO;
		if (code == TF_CTL_STOP) {
			w->stop = 1;
			if (arg > 0)
				tf_comm_abandon(w->comm);
		} else if (code == TF_CTL_DRAIN) {
			drain(w, 1, arg);
		} else if (code == TF_CTL_KILL) {
			drain(w, 2, 0);
		} else if (code == TF_CTL_RECLAIM) {
			if (!(arg >= 0 && arg <= 1e15))
				return TF_EPROTO;
			reclaim(w, (uint64_t)arg);
		}
		return 0;
	}
	default:
		return TF_EPROTO;
	}
}

int tf__worker_run(const struct tf_farm_opts *o, struct tf_comm *comm,
		   struct tf_guard *guard)
{
	struct tf_strbuf msg = TF_STRBUF_INIT, out = TF_STRBUF_INIT;
	struct worker w;
	struct tf_hello h;
	struct tf_idle idle;
	double wait;
	int slots, ret, signals_seen = 0;

	tf_idle_init(&idle, IDLE_MIN, IDLE_MAX, tf_now());
	memset(&w, 0, sizeof(w));
	w.o = o;
	w.comm = comm;
	tf_ring_init(&w.queue, sizeof(struct tf_task), 64);
	tf_strbuf_init(&w.batch);
	slots = o->slots > 0 ? o->slots : 1;
	ret = tf_exec_init(&w.exec, slots, comm->rank, comm->host, 0);
	if (ret < 0) {
		tf_error("cannot set up task execution: %s", tf_strerror(ret));
		tf_comm_abort(comm, TF_EXIT_INTERNAL);
	}
	tf_exec_set_grace(&w.exec, o->grace);
	tf_exec_set_guard(&w.exec, guard);
	/* As the master's own slots (linebuf.c): not with -k, which holds
	 * output back, nor --results, which has no lines to mix. */
	if (o->line_buffer && !o->keep_order && !o->results_dir) {
		w.exec.on_lines = on_lines;
		w.exec.on_lines_ctx = &w;
	}
	if (o->gpu_list &&
	    tf_exec_bind_gpus(&w.exec, o->gpu_list, o->gpus_per_slot) < 0) {
		/* tf__resolve_slots() fits the slots to the GPUs first, so
		 * this is an internal failure; the rank leaves MPI without
		 * finalizing, and the master sees it lost. */
		tf_error("--gpus-per-slot: too few GPUs for %d slots", slots);
		comm->abandoned = 1;
		tf_exec_release(&w.exec);
		tf_ring_release(&w.queue);
		tf_strbuf_release(&w.batch);
		return TF_EXIT_INTERNAL;
	}
	if (o->bind && (ret = tf_exec_bind_cpus(&w.exec)) < 0)
		/* The tasks run, unpinned; the run goes on. */
		tf_warn("--bind: cannot read this rank's CPUs: %s",
			tf_strerror(ret));
	memset(&h, 0, sizeof(h));
	h.slots = (uint32_t)slots;
	h.gpus = (uint32_t)w.exec.res.ngpus;
	h.pid = (uint32_t)getpid();
	h.pid_space = tf__pid_space();
	h.want_total = want_total(&w);
	snprintf(h.host, sizeof(h.host), "%s", comm->host);
	tf_wire_pack_hello(&out, &h);
	if (tf_comm_send(comm, 0, TF_TAG_HELLO, &out) < 0)
		master_lost(&w, "MPI could not send to it");
	w.last_flush = w.last_heard = tf_now();

	while (!w.master_lost && (!w.stop || w.exec.nbusy)) {
		int did = 0, src, tag;

		if (tf_signals_stop_count() > signals_seen) {
			struct tf_strbuf ctl = TF_STRBUF_INIT;

			signals_seen = tf_signals_stop_count();
			drain(&w, tf_signals_escalated() ? 2 : 1, o->drain_grace);
			tf_wire_pack_control(&ctl, TF_CTL_DRAIN_REQUEST, 0);
			if (tf_comm_send(comm, 0, TF_TAG_CONTROL, &ctl) < 0)
				master_lost(&w, "MPI could not send to it");
		}
		while (!w.master_lost &&
		       (ret = tf_comm_recv(comm, 0, &src, &tag, &msg)) > 0) {
			did = 1;
			if (handle_message(&w, tag, &msg) < 0) {
				tf_error("bad %s message from the master",
					 tf_tag_name(tag));
				tf_comm_abort(comm, TF_EXIT_INTERNAL);
			}
		}
		if (ret < 0)
			master_lost(&w, "MPI could not receive from it");
		/* Right after the queue was read: time spent below (output
		 * sent, tasks started) is never taken for the master's
		 * silence. */
		if (!w.master_lost && !w.stop)
			check_master(&w, tf_now());
		if (w.master_lost)
			break;
		if (w.stop) {
			/* The master is done with us: nothing may outlive. */
			hand_back_queued(&w);
			tf_exec_kill(&w.exec, -1, TF_STATUS_INTERRUPTED, 0);
		}
		/* In order: the oldest waits until what it needs is free,
		 * and the rest behind it (so it is never starved). */
		while (!w.draining && !w.stop && tf_ring_len(&w.queue) &&
		       tf_exec_fits(&w.exec, tf_ring_at(&w.queue, 0))) {
			struct tf_task t = queue_pop(&w);
			tf_exec_start(&w.exec, &t);
			did = 1;
		}
		if (!did && tf_ring_len(&w.queue) >= (size_t)w.exec.nslots)
			/* Work enough for every slot is queued, so a message
			 * can wait: sleep until a task event, or the longest
			 * sleep. */
			wait = tf_idle_hold(&idle, IDLE_MAX);
		else
			wait = tf_idle_next(&idle, did, tf_now());
		ret = tf_exec_wait(&w.exec, wait, task_done, &w);
		if (ret < 0) {
			/* The rank can no longer watch its tasks: it stops
			 * them and leaves MPI without finalizing, so the
			 * master counts their attempts lost and reruns them. */
			tf_error("poll failed: %s", tf_strerror(ret));
			tf_exec_stop(&w.exec, -1, TF_STATUS_INTERRUPTED, 0);
			comm->abandoned = 1;
			w.fatal = 1;
			break;
		}
		if (ret > 0)
			tf_idle_busy(&idle, tf_now());
		if (w.nresults &&
		    (tf_ring_len(&w.queue) < (size_t)w.exec.nslots ||
		     w.draining ||
		     w.batch.len >= FLUSH_BYTES ||
		     tf_now() - w.last_flush >= FLUSH_INTERVAL))
			send_batch(&w);
		if (tf_comm_progress(comm) < 0)
			master_lost(&w, "MPI could not send to it");
	}
	if (w.nresults && !w.stop && !w.fatal)
		send_batch(&w);
	tf_exec_release(&w.exec);
	while (tf_ring_len(&w.queue)) {
		struct tf_task t = queue_pop(&w);
		tf_task_release(&t);
	}
	tf_ring_release(&w.queue);
	tf_strbuf_release(&w.batch);
	tf_strbuf_release(&msg);
	if (w.fatal)
		return TF_EXIT_INTERNAL;
	return w.master_lost ? TF_EXIT_INTERRUPTED : TF_EXIT_OK;
}
