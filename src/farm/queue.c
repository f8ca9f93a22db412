/*
 * The master's task window: a core ring of ready tasks, and the tasks in
 * flight in an array of entries found by id through a core id table
 * (entries do not move while in flight; freed ones are reused).
 */
#include "config.h"

#include "farm/queue.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"

/* Makes tab hold cap entries, the new ones unused and free. */
static void grow_tab(struct tf_queue *q, size_t cap)
{
	size_t i;

	q->tab = tf__xrealloc(q->tab, cap * sizeof(*q->tab));
	memset(q->tab + q->tab_cap, 0, (cap - q->tab_cap) * sizeof(*q->tab));
	q->free_slots = tf__xrealloc(q->free_slots,
				     cap * sizeof(*q->free_slots));
	/* Lowest index on top, so a fresh table fills from its start. */
	for (i = cap; i-- > q->tab_cap;)
		q->free_slots[q->nfree++] = i;
	q->tab_cap = cap;
}

void tf_queue_init(struct tf_queue *q, const struct tf_source *src,
		   size_t window)
{
	memset(q, 0, sizeof(*q));
	q->src = *src;
	q->window = window ? window : 1;
	tf_ring_init(&q->ready, sizeof(struct tf_task), q->window);
	grow_tab(q, q->window);
	tf_idtable_init(&q->ids, q->window);
	tf_ring_init(&q->gens, sizeof(struct tf_queue_gen), 4);
}

void tf_queue_release(struct tf_queue *q)
{
	struct tf_task *t;
	size_t i;

	while ((t = tf_ring_pop_front(&q->ready)))
		tf_task_release(t);
	for (i = 0; i < q->tab_cap; i++) {
		if (!q->tab[i].used)
			continue;
		tf_task_release(&q->tab[i].task);
		tf_output_release(&q->tab[i].out);
		tf_output_release(&q->tab[i].err);
	}
	tf_ring_release(&q->ready);
	tf_ring_release(&q->gens);
	tf_idtable_release(&q->ids);
	free(q->tab);
	free(q->free_slots);
	memset(q, 0, sizeof(*q));
}

static void gen_add(struct tf_queue *q, uint64_t barrier)
{
	size_t n = tf_ring_len(&q->gens);
	struct tf_queue_gen *g =
		n ? tf_ring_at(&q->gens, n - 1) : NULL;

	if (g && g->barrier == barrier) {
		g->n++;
		return;
	}
	g = tf_ring_push_back(&q->gens);
	g->barrier = barrier;
	g->n = 1;
}

static void gen_done(struct tf_queue *q, uint64_t barrier)
{
	size_t i, n = tf_ring_len(&q->gens);
	struct tf_queue_gen *g;

	for (i = 0; i < n; i++) {
		g = tf_ring_at(&q->gens, i);
		if (g->barrier == barrier) {
			g->n--;
			break;
		}
	}
	while ((g = tf_ring_len(&q->gens) ? tf_ring_at(&q->gens, 0) : NULL) &&
	       g->n == 0)
		tf_ring_pop_front(&q->gens);
}

int tf_queue_fill(struct tf_queue *q)
{
	q->src_again = 0;
	while (!q->src_done &&
	       tf_ring_len(&q->ready) + q->ninflight < q->window) {
		struct tf_task t;
		int r;

		/* What a source leaves unset (its tag) is none. */
		memset(&t, 0, sizeof(t));
		r = q->src.next(q->src.ctx, &t);

		if (r <= 0) {
			if (r == TF_SOURCE_AGAIN) {
				q->src_again = 1;
				return 0;
			}
			q->src_done = 1;
			q->src_err = r;
			return r;
		}
		*(struct tf_task *)tf_ring_push_back(&q->ready) = t;
		q->nread++;
		gen_add(q, t.barrier);
	}
	return 0;
}

int tf_queue_wake_fd(const struct tf_queue *q)
{
	/* src_again is only set by a fill that did not end the source. */
	return q->src_again && q->src.wake ? q->src.wake_fd : -1;
}

/* The barriers a task must follow to be taken now. */
static uint64_t gate(const struct tf_queue *q)
{
	size_t n = tf_ring_len(&q->gens);

	return n ? ((const struct tf_queue_gen *)tf_ring_at(&q->gens, 0))
			   ->barrier
		 : UINT64_MAX;
}

int tf_queue_gated(const struct tf_queue *q)
{
	const struct tf_task *t;

	if (!tf_ring_len(&q->ready))
		return 0;
	t = tf_ring_at(&q->ready, 0);
	return t->barrier != gate(q);
}

struct tf_inflight *tf_queue_take(struct tf_queue *q, int rank)
{
	struct tf_task *ready;
	struct tf_inflight *f;
	size_t slot;

	/* None, or not past its barrier yet. */
	if (!tf_ring_len(&q->ready) || tf_queue_gated(q))
		return NULL;
	ready = tf_ring_pop_front(&q->ready);
	if (!q->nfree)
		grow_tab(q, q->tab_cap * 2);
	slot = q->free_slots[--q->nfree];
	f = &q->tab[slot];
	f->used = 1;
	f->rank = rank;
	f->task = *ready;
	tf_output_init(&f->out);
	tf_output_init(&f->err);
	memset(f->lines_sent, 0, sizeof(f->lines_sent));
	memset(f->lines_held, 0, sizeof(f->lines_held));
	tf_idtable_put(&q->ids, f->task.id, slot);
	q->ninflight++;
	return f;
}

/* How far down the ready ring tf_queue_take_for() looks. */
#define AVOID_LOOKAHEAD 64

/* The index in the ready ring of the task tf_queue_take_fit() takes, or
 * the ring's length if none. */
static size_t find_fit(const struct tf_queue *q, int rank, uint32_t slots,
		       uint32_t gpus)
{
	size_t i, n = tf_ring_len(&q->ready);
	uint64_t g = gate(q);

	if (n > AVOID_LOOKAHEAD)
		n = AVOID_LOOKAHEAD;
	for (i = 0; i < n; i++) {
		const struct tf_task *t = tf_ring_at(&q->ready, i);

		if (t->barrier != g)
			break; /* the rest follow it */
		if (t->avoid_rank == rank || tf_task_slots(t) > slots ||
		    (t->gpus_given && t->gpus > gpus))
			continue;
		return i;
	}
	return tf_ring_len(&q->ready);
}

const struct tf_task *tf_queue_peek_fit(struct tf_queue *q, int rank,
					uint32_t slots, uint32_t gpus)
{
	size_t i = find_fit(q, rank, slots, gpus);

	return i < tf_ring_len(&q->ready) ? tf_ring_at(&q->ready, i) : NULL;
}

struct tf_inflight *tf_queue_take_for(struct tf_queue *q, int rank)
{
	return tf_queue_take_fit(q, rank, UINT32_MAX, UINT32_MAX);
}

struct tf_inflight *tf_queue_take_fit(struct tf_queue *q, int rank,
				      uint32_t slots, uint32_t gpus)
{
	size_t i = find_fit(q, rank, slots, gpus);

	if (i < tf_ring_len(&q->ready)) {
		struct tf_task *t = tf_ring_at(&q->ready, i);

		if (i) {
			/* Bring it to the head; the order of the rest
			 * barely matters. */
			struct tf_task *head = tf_ring_at(&q->ready, 0);
			struct tf_task tmp = *t;

			*t = *head;
			*head = tmp;
		}
		return tf_queue_take(q, rank);
	}
	return NULL;
}

struct tf_inflight *tf_queue_find(struct tf_queue *q, uint64_t id)
{
	size_t slot = tf_idtable_get(&q->ids, id);

	return slot == TF_IDTABLE_NONE ? NULL : &q->tab[slot];
}

/* Forgets entry f (its contents already released or moved). */
static void unlink_entry(struct tf_queue *q, struct tf_inflight *f)
{
	size_t slot = (size_t)(f - q->tab);

	tf_idtable_remove(&q->ids, f->task.id);
	memset(f, 0, sizeof(*f));
	q->free_slots[q->nfree++] = slot;
	q->ninflight--;
}

void tf_queue_done(struct tf_queue *q, struct tf_inflight *f)
{
	gen_done(q, f->task.barrier);
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
	unlink_entry(q, f);
	/* The ring has room: ready + in flight never exceeds the window. */
	*(struct tf_task *)tf_ring_push_front(&q->ready) = t;
}

uint64_t tf_queue_min_pending(const struct tf_queue *q, int with_ready)
{
	uint64_t min = UINT64_MAX;
	size_t i, n = tf_ring_len(&q->ready);

	for (i = 0; with_ready && i < n; i++) {
		const struct tf_task *t = tf_ring_at(&q->ready, i);

		if (t->id < min)
			min = t->id;
	}
	for (i = 0; i < q->tab_cap; i++)
		if (q->tab[i].used && !q->tab[i].delivering &&
		    q->tab[i].task.id < min)
			min = q->tab[i].task.id;
	return min;
}

void tf_queue_foreach_rank(struct tf_queue *q, int rank,
			   void (*fn)(void *ctx, struct tf_inflight *f),
			   void *ctx)
{
	size_t i;

	/* Entries never move while in flight, and fn frees only the one it
	 * is given (which no take can reuse meanwhile): a plain walk sees
	 * each entry of rank once. */
	for (i = 0; i < q->tab_cap; i++)
		if (q->tab[i].used && q->tab[i].rank == rank)
			fn(ctx, &q->tab[i]);
}
