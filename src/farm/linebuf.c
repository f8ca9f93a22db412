/*
 * --line-buffer: as a task of the master's own slots writes, its
 * complete lines go to the output writer at once, as chunks; a partial
 * last line waits for its newline or the task's end, so lines of
 * different tasks never mix. What the chunks carried is cut off the
 * front of the task's result by the executor (exec.c, on_lines), whose
 * rest is delivered (and only then journaled) behind them. While the writer is at its bound no chunk is
 * made; the lines wait in the slot's output (which spills to a file past
 * its threshold) and go later, or with the result.
 *
 * A worker's tasks do the same on the worker (worker.c): their whole
 * lines come as OUTPUT messages (TF_WIRE_LINES_OUT/ERR) while they run,
 * and the result carries the rest. Here those lines go to the writer at
 * once, or, while it is full, wait in the attempt's in-flight output
 * and go in front of its result.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "farm/master_int.h"

/* A writer job for a chunk of lines of the attempt f holds, run in slot
 * (1-based) of rank. */
static struct tf_writer_job *chunk_job(struct tf_inflight *f, uint64_t id,
				       uint32_t attempt, int slot, int rank)
{
	struct tf_writer_job *j = tf__xcalloc(1, sizeof(*j));

	tf_result_init(&j->r);
	j->r.id = id;
	j->r.attempt = attempt;
	j->r.slot = slot;
	j->rank = rank;
	j->chunk = 1;
	if (f && f->task.tag)
		j->tag = tf__xstrdup(f->task.tag);
	return j;
}

/* Hands j to the writer (it may write it at once). */
static void write_chunk(struct master *m, struct tf_writer_job *j)
{
	if (!m->writer_threaded)
		tf_report_clear(&m->report);
	if (tf__writer_add(m->writer, j))
		tf__writer_job_free(j); /* written at once */
}

static uint64_t on_lines(void *ctx, int slot, int which, uint64_t from,
			 uint64_t end)
{
	struct master *m = ctx;
	struct tf_exec_slot *sl = &m->exec.slots[slot];
	const struct tf_output *o = which ? &sl->result.err : &sl->result.out;
	struct tf_writer_job *j;

	/* At the writer's bound the lines wait in the slot's output. */
	if (tf__writer_full(m->writer))
		return from;
	j = chunk_job(tf_queue_find(&m->queue, sl->task.id), sl->task.id,
		      sl->task.attempt, slot + 1, 0);
	if (tf_output_copy(which ? &j->r.err : &j->r.out, o, from, end,
			   m->exec.spill_threshold) < 0) {
		/* Left for the result, which says what was lost. */
		tf__writer_job_free(j);
		return from;
	}
	write_chunk(m, j);
	return end;
}

void tf__master_linebuf_init(struct master *m, int local_slots)
{
	const struct tf_farm_opts *o = m->o;

	/* -k holds output back; --results has no lines to mix. */
	if (!o->line_buffer || o->keep_order || o->results_dir ||
	    local_slots <= 0)
		return;
	m->exec.on_lines = on_lines;
	m->exec.on_lines_ctx = m;
}

void tf__master_remote_lines(struct master *m, struct tf_inflight *f,
			     int slot, int which, const void *data,
			     size_t len)
{
	struct tf_writer_job *j;

	f->lines_sent[which] += len;
	/* Once one chunk waited, the rest wait behind it. */
	if (f->lines_held[0] || f->lines_held[1] ||
	    tf__writer_full(m->writer)) {
		if (!f->lines_held[0] && !f->lines_held[1])
			tf_debug("task %llu: the output writer is full; its "
				 "lines wait for its result",
				 (unsigned long long)f->task.id);
		/* If it cannot be kept, the output says so, and the
		 * attempt is failed when its result comes. */
		(void)tf_output_append(which ? &f->err : &f->out, data, len,
				       1024 * 1024);
		f->lines_held[which] += len;
		return;
	}
	j = chunk_job(f, f->task.id, f->task.attempt, slot, f->rank);
	(void)tf_output_append(which ? &j->r.err : &j->r.out, data, len,
			       m->exec.spill_threshold);
	write_chunk(m, j);
}

void tf__master_remote_lines_result(struct tf_inflight *f,
				    struct tf_result *r, size_t threshold)
{
	struct tf_output *held[2] = { &f->out, &f->err };
	struct tf_output *mine[2] = { &r->out, &r->err };
	int i;

	r->ahead_out += f->lines_sent[0] - f->lines_held[0];
	r->ahead_err += f->lines_sent[1] - f->lines_held[1];
	/* Streamed, the rest came behind the held lines in f's output,
	 * which becomes the result's. */
	if (r->streamed)
		return;
	for (i = 0; i < 2; i++) {
		if (!f->lines_held[i])
			continue;
		if (tf_output_copy(held[i], mine[i], 0, mine[i]->len,
				   threshold) < 0 &&
		    !held[i]->error)
			held[i]->error = -EIO;
		tf_output_release(mine[i]);
		*mine[i] = *held[i];
		tf_output_init(held[i]);
	}
}
