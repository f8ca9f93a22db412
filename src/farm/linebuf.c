/*
 * --line-buffer for the master's own slots: as a local task writes, its
 * complete lines go to the output writer at once, as chunks; a partial
 * last line waits for its newline or the task's end, so lines of
 * different tasks never mix. What the chunks carried is cut off the
 * front of the task's result, whose rest is delivered (and only then
 * journaled) behind them. Workers' tasks still come whole at their end:
 * their output crosses MPI only then. While the writer is at its bound
 * no chunk is made; the lines wait in the slot's output (which spills to
 * a file past its threshold) and go later, or with the result.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "farm/master_int.h"

struct tf_linebuf_slot {
	uint64_t id;
	uint32_t attempt;
	uint64_t flushed[2]; /* stdout, stderr bytes handed on as chunks */
};

/* The slot's state, reset when a new attempt runs there. */
static struct tf_linebuf_slot *slot_state(struct master *m, int slot)
{
	const struct tf_task *t = &m->exec.slots[slot].task;
	struct tf_linebuf_slot *ls = &m->linebuf[slot];

	if (ls->id != t->id || ls->attempt != t->attempt) {
		memset(ls, 0, sizeof(*ls));
		ls->id = t->id;
		ls->attempt = t->attempt;
	}
	return ls;
}

/* Copies bytes [from, to) of src into dst. Returns 0 or -errno. */
static int copy_range(struct tf_output *dst, const struct tf_output *src,
		      uint64_t from, uint64_t to, size_t threshold)
{
	char buf[65536];

	while (from < to) {
		size_t want = to - from < sizeof(buf) ? (size_t)(to - from)
						      : sizeof(buf);
		long n = tf_output_pread(src, buf, want, from);

		if (n <= 0)
			return n < 0 ? (int)n : -EIO;
		if (tf_output_append(dst, buf, (size_t)n, threshold) < 0)
			return dst->error;
		from += (uint64_t)n;
	}
	return 0;
}

static void on_output(void *ctx, int slot, int which, const char *data,
		      size_t len)
{
	struct master *m = ctx;
	struct tf_exec_slot *sl = &m->exec.slots[slot];
	const struct tf_output *o = which ? &sl->result.err : &sl->result.out;
	struct tf_linebuf_slot *ls = slot_state(m, slot);
	struct tf_inflight *f;
	struct tf_writer_job *j;
	const char *nl = memrchr(data, '\n', len);
	uint64_t end;

	/* Bytes before data hold no newline past flushed: a chunk ends at
	 * the last newline of what just came. */
	if (!nl || o->error || tf__writer_full(m->writer))
		return;
	end = o->len - len + (uint64_t)(nl - data) + 1;
	if (end <= ls->flushed[which])
		return;
	j = tf__xcalloc(1, sizeof(*j));
	tf_result_init(&j->r);
	j->r.id = sl->task.id;
	j->r.attempt = sl->task.attempt;
	j->r.slot = slot + 1;
	j->rank = 0;
	j->chunk = 1;
	f = tf_queue_find(&m->queue, sl->task.id);
	if (f && f->task.tag)
		j->tag = tf__xstrdup(f->task.tag);
	if (copy_range(which ? &j->r.err : &j->r.out, o, ls->flushed[which],
		       end, m->exec.spill_threshold) < 0) {
		/* Left for the result, which says what was lost. */
		tf__writer_job_free(j);
		return;
	}
	ls->flushed[which] = end;
	if (!m->writer_threaded)
		tf_report_clear(&m->report);
	if (tf__writer_add(m->writer, j))
		tf__writer_job_free(j); /* written at once */
}

void tf__master_linebuf_init(struct master *m, int local_slots)
{
	const struct tf_farm_opts *o = m->o;

	/* -k holds output back; --results has no lines to mix. */
	if (!o->line_buffer || o->keep_order || o->results_dir ||
	    local_slots <= 0)
		return;
	m->linebuf = tf__xcalloc((size_t)local_slots, sizeof(*m->linebuf));
	m->exec.on_output = on_output;
	m->exec.on_output_ctx = m;
}

void tf__master_linebuf_trim(struct master *m, struct tf_result *r)
{
	struct tf_output *o[2] = { &r->out, &r->err };
	struct tf_linebuf_slot *ls;
	int i;

	if (!m->linebuf || r->slot < 1 || r->slot > m->exec.nslots)
		return;
	ls = &m->linebuf[r->slot - 1];
	if (ls->id != r->id || ls->attempt != r->attempt)
		return;
	for (i = 0; i < 2; i++) {
		struct tf_output rest;

		if (!ls->flushed[i] || o[i]->error)
			continue;
		tf_output_init(&rest);
		if (copy_range(&rest, o[i], ls->flushed[i], o[i]->len,
			       m->exec.spill_threshold) < 0 && !rest.error)
			rest.error = -EIO;
		tf_output_release(o[i]);
		*o[i] = rest;
		if (i == 0)
			r->ahead_out = ls->flushed[0];
		else
			r->ahead_err = ls->flushed[1];
	}
	memset(ls, 0, sizeof(*ls));
}

void tf__master_linebuf_release(struct master *m)
{
	free(m->linebuf);
	m->linebuf = NULL;
}
