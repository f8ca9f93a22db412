/*
 * The master's task window: a ring of ready tasks and an open-addressing
 * table (linear probing, backward-shift deletion) of tasks in flight.
 */
#include "config.h"

#include "farm/queue.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"

void tf_queue_init(struct tf_queue *q, const struct tf_source *src,
		   size_t window)
{
	size_t cap = 16;

	memset(q, 0, sizeof(*q));
	q->src = *src;
	q->window = window ? window : 1;
	q->ready_cap = q->window;
	q->ready = tf__xcalloc(q->ready_cap, sizeof(*q->ready));
	while (cap < q->window * 2)
		cap *= 2;
	q->tab_cap = cap;
	q->tab = tf__xcalloc(cap, sizeof(*q->tab));
}

void tf_queue_release(struct tf_queue *q)
{
	size_t i;

	for (i = 0; i < q->ready_len; i++)
		tf_task_release(&q->ready[(q->ready_head + i) % q->ready_cap]);
	for (i = 0; i < q->tab_cap; i++) {
		if (!q->tab[i].used)
			continue;
		tf_task_release(&q->tab[i].task);
		tf_output_release(&q->tab[i].out);
		tf_output_release(&q->tab[i].err);
	}
	free(q->ready);
	free(q->tab);
	memset(q, 0, sizeof(*q));
}

int tf_queue_fill(struct tf_queue *q)
{
	while (!q->src_done && q->ready_len + q->ninflight < q->window) {
		struct tf_task t;
		int r = q->src.next(q->src.ctx, &t);

		if (r <= 0) {
			q->src_done = 1;
			q->src_err = r;
			return r;
		}
		q->ready[(q->ready_head + q->ready_len) % q->ready_cap] = t;
		q->ready_len++;
		q->nread++;
	}
	return 0;
}

static size_t slot_of(const struct tf_queue *q, uint64_t id)
{
	uint64_t h = id * 0x9E3779B97F4A7C15ull;

	return (size_t)(h >> 17) & (q->tab_cap - 1);
}

static void grow_table(struct tf_queue *q)
{
	struct tf_inflight *old = q->tab;
	size_t oldcap = q->tab_cap, i;

	q->tab_cap *= 2;
	q->tab = tf__xcalloc(q->tab_cap, sizeof(*q->tab));
	for (i = 0; i < oldcap; i++) {
		size_t s;

		if (!old[i].used)
			continue;
		s = slot_of(q, old[i].task.id);
		while (q->tab[s].used)
			s = (s + 1) & (q->tab_cap - 1);
		q->tab[s] = old[i];
	}
	free(old);
}

struct tf_inflight *tf_queue_take(struct tf_queue *q, int rank)
{
	struct tf_inflight *f;
	struct tf_task t;
	size_t s;

	if (q->ready_len == 0)
		return NULL;
	t = q->ready[q->ready_head];
	q->ready_head = (q->ready_head + 1) % q->ready_cap;
	q->ready_len--;
	if ((q->ninflight + 1) * 2 > q->tab_cap)
		grow_table(q);
	s = slot_of(q, t.id);
	while (q->tab[s].used)
		s = (s + 1) & (q->tab_cap - 1);
	f = &q->tab[s];
	f->used = 1;
	f->rank = rank;
	f->task = t;
	tf_output_init(&f->out);
	tf_output_init(&f->err);
	q->ninflight++;
	return f;
}

/* How far down the ready ring tf_queue_take_for() looks. */
#define AVOID_LOOKAHEAD 64

struct tf_inflight *tf_queue_take_for(struct tf_queue *q, int rank)
{
	size_t i, n = q->ready_len < AVOID_LOOKAHEAD ? q->ready_len
						    : AVOID_LOOKAHEAD;

	for (i = 0; i < n; i++) {
		size_t at = (q->ready_head + i) % q->ready_cap;

		if (q->ready[at].avoid_rank == rank)
			continue;
		if (i) {
			/* Bring it to the head; the order of the rest
			 * barely matters. */
			struct tf_task t = q->ready[at];
			q->ready[at] = q->ready[q->ready_head];
			q->ready[q->ready_head] = t;
		}
		return tf_queue_take(q, rank);
	}
	return NULL;
}

struct tf_inflight *tf_queue_find(struct tf_queue *q, uint64_t id)
{
	size_t s = slot_of(q, id);

	while (q->tab[s].used) {
		if (q->tab[s].task.id == id)
			return &q->tab[s];
		s = (s + 1) & (q->tab_cap - 1);
	}
	return NULL;
}

/* Removes entry f, shifting later members of its probe run back so that
 * lookups never stop at a hole. */
static void unlink_entry(struct tf_queue *q, struct tf_inflight *f)
{
	size_t mask = q->tab_cap - 1;
	size_t hole = (size_t)(f - q->tab), s = (hole + 1) & mask;

	memset(f, 0, sizeof(*f));
	while (q->tab[s].used) {
		size_t home = slot_of(q, q->tab[s].task.id);
		/* Move s into the hole if its home is not in (hole, s]. */
		if (((s - home) & mask) >= ((s - hole) & mask)) {
			q->tab[hole] = q->tab[s];
			memset(&q->tab[s], 0, sizeof(q->tab[s]));
			hole = s;
		}
		s = (s + 1) & mask;
	}
	q->ninflight--;
}

void tf_queue_done(struct tf_queue *q, struct tf_inflight *f)
{
	tf_task_release(&f->task);
	tf_output_release(&f->out);
	tf_output_release(&f->err);
	unlink_entry(q, f);
}

void tf_queue_putback(struct tf_queue *q, struct tf_inflight *f)
{
	struct tf_task t = f->task;

	tf_output_release(&f->out);
	tf_output_release(&f->err);
	f->task.cmd = NULL;
	unlink_entry(q, f);
	/* The ring has room: ready + in flight never exceeds the window. */
	q->ready_head = (q->ready_head + q->ready_cap - 1) % q->ready_cap;
	q->ready[q->ready_head] = t;
	q->ready_len++;
}

void tf_queue_foreach_rank(struct tf_queue *q, int rank,
			   void (*fn)(void *ctx, struct tf_inflight *f),
			   void *ctx)
{
	uint64_t *ids;
	size_t i, n = 0;

	/* Ids first: removing an entry shifts others back in the table,
	 * which a walk over it would then miss or see twice. */
	ids = tf__xmalloc((q->ninflight ? q->ninflight : 1) * sizeof(*ids));
	for (i = 0; i < q->tab_cap; i++)
		if (q->tab[i].used && q->tab[i].rank == rank)
			ids[n++] = q->tab[i].task.id;
	for (i = 0; i < n; i++) {
		struct tf_inflight *f = tf_queue_find(q, ids[i]);

		if (f && f->rank == rank)
			fn(ctx, f);
	}
	free(ids);
}
