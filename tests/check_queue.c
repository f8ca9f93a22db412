/*
 * Tests for the master's task window (queue.c): lazy, bounded reading
 * from a source, FIFO dispatch into the in-flight table, lookups by id
 * that stay right through many insertions and backward-shift deletions,
 * putting tasks back, and what happens when the source fails.
 */
#include "config.h"

#include "check_util.h"

#include <inttypes.h>
#include <stdint.h>

#include "farm/queue.h"
#include "taskfarm.h"
#include "core/util.h"

/*
 * A fake source. It hands out n tasks whose ids come from ids[] (or are
 * 1..n when ids is NULL), counts every call so tests can tell how lazily
 * the queue reads, and fails with -EIO once fail_after tasks are out if
 * fail_after is not SIZE_MAX.
 */
struct fake_src {
	const uint64_t *ids;
	size_t n;
	size_t pos;
	size_t fail_after;
	int ended;
	unsigned calls;
	unsigned calls_after_end;
};

static uint64_t fake_id(const struct fake_src *fs, size_t i)
{
	return fs->ids ? fs->ids[i] : (uint64_t)i + 1;
}

static int fake_next(void *ctx, struct tf_task *t)
{
	struct fake_src *fs = ctx;
	char buf[64];
	int len;

	fs->calls++;
	/* A well-behaved queue never asks again after an end or an
	 * error; count it if it does. */
	if (fs->ended) {
		fs->calls_after_end++;
		return fs->ended < 0 ? -EIO : 0;
	}
	if (fs->pos == fs->fail_after) {
		fs->ended = -1;
		return -EIO;
	}
	if (fs->pos == fs->n) {
		fs->ended = 1;
		return 0;
	}
	len = snprintf(buf, sizeof(buf), "task %" PRIu64, fake_id(fs, fs->pos));
	t->id = fake_id(fs, fs->pos);
	t->attempt = 1;
	t->cmd = tf__xstrdup(buf);
	t->cmd_len = (uint32_t)len;
	fs->pos++;
	return 1;
}

static const char *fake_errmsg(void *ctx)
{
	(void)ctx;
	return "injected failure";
}

static void fake_init(struct fake_src *fs, struct tf_source *src,
		      const uint64_t *ids, size_t n, size_t fail_after)
{
	memset(fs, 0, sizeof(*fs));
	fs->ids = ids;
	fs->n = n;
	fs->fail_after = fail_after;
	memset(src, 0, sizeof(*src));
	src->next = fake_next;
	src->errmsg = fake_errmsg;
	src->ctx = fs;
	src->ntasks = n;
}

/* Whether an in-flight entry still carries the task the fake source made
 * for id, so a table move that loses or mixes up fields shows. Plain
 * code rather than assertions, because every Check assertion records its
 * location through the runner and the churn tests make millions. */
static int entry_ok(const struct tf_inflight *f, uint64_t id, int rank)
{
	char want[64];

	if (!f || f->used != 1 || f->task.id != id || f->rank != rank ||
	    !f->task.cmd)
		return 0;
	snprintf(want, sizeof(want), "task %" PRIu64, id);
	return strcmp(f->task.cmd, want) == 0 &&
	       f->task.cmd_len == strlen(want);
}

static void check_entry(const struct tf_inflight *f, uint64_t id, int rank)
{
	ck_assert_msg(entry_ok(f, id, rank),
		      "entry for task %" PRIu64 " (rank %d) is %s", id, rank,
		      f ? "wrong" : "missing");
}

/* A small deterministic generator (xorshift64), so a failure in the
 * randomized tests replays exactly. */
static uint64_t rng_next(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}

/* A stream: TF_SOURCE_AGAIN while *avail is 0, else a task (taking one
 * from *avail); never ends. */
static int stream_next(void *ctx, struct tf_task *t)
{
	int *avail = ctx;
	static uint64_t id;

	if (*avail == 0)
		return TF_SOURCE_AGAIN;
	--*avail;
	t->id = ++id;
	t->cmd = strdup("true");
	t->cmd_len = 4;
	return 1;
}

static const char *stream_errmsg(void *ctx)
{
	(void)ctx;
	return "?";
}

/* tf_queue_wake_fd(): the stream's fd only while a fill with room found
 * no task; never without a wake fd. */
START_TEST(test_wake_fd)
{
	struct tf_source src;
	struct tf_queue q;
	int avail = 0;

	memset(&src, 0, sizeof(src));
	src.next = stream_next;
	src.errmsg = stream_errmsg;
	src.ctx = &avail;
	src.wake = 1;
	src.wake_fd = 7;
	tf_queue_init(&q, &src, 2);
	ck_assert_int_eq(tf_queue_wake_fd(&q), -1); /* no fill yet */
	ck_assert_int_eq(tf_queue_fill(&q), 0);
	ck_assert_int_eq(tf_queue_wake_fd(&q), 7); /* room, nothing */
	avail = 5;
	ck_assert_int_eq(tf_queue_fill(&q), 0);
	ck_assert_uint_eq(tf_queue_nready(&q), 2);
	ck_assert_int_eq(tf_queue_wake_fd(&q), -1); /* the window is full */
	tf_queue_release(&q);
	src.wake = 0; /* a source without one (a followed file) */
	avail = 0;
	tf_queue_init(&q, &src, 2);
	ck_assert_int_eq(tf_queue_fill(&q), 0);
	ck_assert_int_eq(tf_queue_wake_fd(&q), -1);
	tf_queue_release(&q);
}
END_TEST

/* ---- Filling the window ---- */

START_TEST(test_fill_respects_window)
{
	struct fake_src fs;
	struct tf_source src;
	struct tf_queue q;
	struct tf_inflight *f;

	fake_init(&fs, &src, NULL, 100, SIZE_MAX);
	tf_queue_init(&q, &src, 5);

	/* The first fill reads exactly one window's worth, no more: the
	 * source may be a million-line job file. */
	ck_assert_int_eq(tf_queue_fill(&q), 0);
	ck_assert_uint_eq(tf_queue_nready(&q), 5);
	ck_assert_uint_eq(fs.calls, 5);
	ck_assert_uint_eq(q.nread, 5);
	ck_assert_int_eq(q.src_done, 0);

	/* Filling a full window reads nothing. */
	ck_assert_int_eq(tf_queue_fill(&q), 0);
	ck_assert_uint_eq(fs.calls, 5);

	/* Tasks in flight still count against the window. */
	ck_assert_ptr_nonnull(tf_queue_take(&q, 1));
	f = tf_queue_take(&q, 2);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(tf_queue_fill(&q), 0);
	ck_assert_uint_eq(tf_queue_nready(&q), 3);
	ck_assert_uint_eq(q.ninflight, 2);
	ck_assert_uint_eq(fs.calls, 5);

	/* Finishing one frees exactly one place. */
	tf_queue_done(&q, f);
	ck_assert_int_eq(tf_queue_fill(&q), 0);
	ck_assert_uint_eq(tf_queue_nready(&q), 4);
	ck_assert_uint_eq(fs.calls, 6);
	ck_assert_uint_eq(q.nread, 6);

	tf_queue_release(&q);
}
END_TEST

START_TEST(test_fill_window_bound_throughout)
{
	struct fake_src fs;
	struct tf_source src;
	struct tf_queue q;
	uint64_t rng = 12345, finished = 0;

	fake_init(&fs, &src, NULL, 1000, SIZE_MAX);
	tf_queue_init(&q, &src, 7);

	/* Drive the queue to the end with a random mix of take and done;
	 * the bound must hold after every step, not just at the start. */
	while (!tf_queue_empty(&q)) {
		size_t i;

		ck_assert_int_eq(tf_queue_fill(&q), 0);
		ck_assert_uint_le(tf_queue_nready(&q) + q.ninflight, 7);
		while (rng_next(&rng) % 3 && tf_queue_take(&q, 0))
			ck_assert_uint_le(tf_queue_nready(&q) + q.ninflight,
					  7);
		if (q.ninflight == 0)
			continue;
		/* Finish some in-flight task found by scanning the table. */
		for (i = rng_next(&rng) % q.tab_cap;; i = (i + 1) % q.tab_cap)
			if (q.tab[i].used)
				break;
		tf_queue_done(&q, &q.tab[i]);
		finished++;
	}
	ck_assert_uint_eq(finished, 1000);
	ck_assert_uint_eq(q.nread, 1000);
	/* 1000 tasks plus the one call that reported the end. */
	ck_assert_uint_eq(fs.calls, 1001);
	ck_assert_uint_eq(fs.calls_after_end, 0);
	tf_queue_release(&q);
}
END_TEST

START_TEST(test_fill_stops_at_end)
{
	struct fake_src fs;
	struct tf_source src;
	struct tf_queue q;

	fake_init(&fs, &src, NULL, 3, SIZE_MAX);
	tf_queue_init(&q, &src, 10);
	ck_assert_int_eq(tf_queue_fill(&q), 0);
	ck_assert_uint_eq(tf_queue_nready(&q), 3);
	ck_assert_int_eq(q.src_done, 1);
	ck_assert_int_eq(q.src_err, 0);
	ck_assert_uint_eq(fs.calls, 4);

	/* Once the source said "end", it is never asked again. */
	ck_assert_int_eq(tf_queue_fill(&q), 0);
	ck_assert_uint_eq(fs.calls, 4);
	ck_assert_uint_eq(fs.calls_after_end, 0);
	tf_queue_release(&q);
}
END_TEST

START_TEST(test_fill_zero_window)
{
	struct fake_src fs;
	struct tf_source src;
	struct tf_queue q;

	/* A window of 0 would deadlock the master; it means 1. */
	fake_init(&fs, &src, NULL, 5, SIZE_MAX);
	tf_queue_init(&q, &src, 0);
	ck_assert_int_eq(tf_queue_fill(&q), 0);
	ck_assert_uint_eq(tf_queue_nready(&q), 1);
	ck_assert_uint_eq(fs.calls, 1);
	tf_queue_release(&q);
}
END_TEST

START_TEST(test_source_error)
{
	struct fake_src fs;
	struct tf_source src;
	struct tf_queue q;
	struct tf_inflight *f;
	uint64_t id;

	fake_init(&fs, &src, NULL, 100, 3);
	tf_queue_init(&q, &src, 10);

	/* The error comes back from fill and is remembered. */
	ck_assert_int_eq(tf_queue_fill(&q), -EIO);
	ck_assert_int_eq(q.src_err, -EIO);
	ck_assert_int_eq(q.src_done, 1);
	ck_assert_uint_eq(tf_queue_nready(&q), 3);
	ck_assert_uint_eq(q.nread, 3);
	ck_assert_uint_eq(fs.calls, 4);
	ck_assert_str_eq(q.src.errmsg(q.src.ctx), "injected failure");

	/* The broken source is not read again, however often we fill. */
	ck_assert_int_eq(tf_queue_fill(&q), 0);
	ck_assert_int_eq(q.src_err, -EIO);
	ck_assert_uint_eq(fs.calls, 4);
	ck_assert_uint_eq(fs.calls_after_end, 0);

	/* The tasks read before the error still run, in order, and the
	 * queue then counts as finished. */
	for (id = 1; id <= 3; id++) {
		ck_assert_int_eq(tf_queue_empty(&q), 0);
		f = tf_queue_take(&q, 1);
		check_entry(f, id, 1);
		tf_queue_done(&q, f);
		ck_assert_int_eq(tf_queue_fill(&q), 0);
	}
	ck_assert_int_eq(tf_queue_empty(&q), 1);
	ck_assert_uint_eq(fs.calls, 4);
	tf_queue_release(&q);
}
END_TEST

START_TEST(test_source_error_first)
{
	struct fake_src fs;
	struct tf_source src;
	struct tf_queue q;

	fake_init(&fs, &src, NULL, 100, 0);
	tf_queue_init(&q, &src, 4);
	ck_assert_int_eq(tf_queue_fill(&q), -EIO);
	ck_assert_uint_eq(tf_queue_nready(&q), 0);
	ck_assert_ptr_null(tf_queue_take(&q, 1));
	ck_assert_int_eq(tf_queue_empty(&q), 1);
	tf_queue_release(&q);
}
END_TEST

/* ---- Take, find, done, putback ---- */

START_TEST(test_take_fifo)
{
	struct fake_src fs;
	struct tf_source src;
	struct tf_queue q;
	struct tf_inflight *f[5];
	int i;

	fake_init(&fs, &src, NULL, 5, SIZE_MAX);
	tf_queue_init(&q, &src, 5);
	ck_assert_int_eq(tf_queue_fill(&q), 0);

	/* Tasks go out in the order the source gave them, each to the
	 * rank it was taken for, with a fresh empty output. */
	for (i = 0; i < 5; i++) {
		f[i] = tf_queue_take(&q, 10 + i);
		check_entry(f[i], (uint64_t)i + 1, 10 + i);
		ck_assert_uint_eq(f[i]->task.attempt, 1);
		ck_assert_uint_eq(f[i]->out.len, 0);
		ck_assert_int_eq(f[i]->out.spill_fd, -1);
		ck_assert_uint_eq(f[i]->err.len, 0);
		ck_assert_uint_eq(tf_queue_nready(&q), 4 - (size_t)i);
		ck_assert_uint_eq(q.ninflight, (size_t)i + 1);
	}
	ck_assert_ptr_null(tf_queue_take(&q, 1));

	/* find returns the very entry take returned. */
	for (i = 0; i < 5; i++)
		ck_assert_ptr_eq(tf_queue_find(&q, (uint64_t)i + 1), f[i]);
	ck_assert_ptr_null(tf_queue_find(&q, 0));
	ck_assert_ptr_null(tf_queue_find(&q, 6));
	ck_assert_ptr_null(tf_queue_find(&q, UINT64_MAX));
	tf_queue_release(&q);
}
END_TEST

START_TEST(test_take_empty)
{
	struct fake_src fs;
	struct tf_source src;
	struct tf_queue q;

	fake_init(&fs, &src, NULL, 5, SIZE_MAX);
	tf_queue_init(&q, &src, 5);
	/* Nothing is read until fill, so there is nothing to take. */
	ck_assert_ptr_null(tf_queue_take(&q, 1));
	ck_assert_uint_eq(q.ninflight, 0);
	ck_assert_uint_eq(fs.calls, 0);
	tf_queue_release(&q);
}
END_TEST

START_TEST(test_done_forgets)
{
	struct fake_src fs;
	struct tf_source src;
	struct tf_queue q;
	struct tf_inflight *f;
	uint64_t id;

	fake_init(&fs, &src, NULL, 6, SIZE_MAX);
	tf_queue_init(&q, &src, 6);
	ck_assert_int_eq(tf_queue_fill(&q), 0);
	for (id = 1; id <= 6; id++) {
		f = tf_queue_take(&q, (int)id);
		/* Give it output so valgrind sees done() free it. */
		ck_assert_int_eq(tf_output_append(&f->out, "xyz", 3, 1024), 0);
		ck_assert_int_eq(tf_output_append(&f->err, "e", 1, 1024), 0);
	}

	f = tf_queue_find(&q, 3);
	ck_assert_ptr_nonnull(f);
	tf_queue_done(&q, f);
	ck_assert_ptr_null(tf_queue_find(&q, 3));
	ck_assert_uint_eq(q.ninflight, 5);
	/* Everybody else is still there, with their own data. */
	for (id = 1; id <= 6; id++) {
		if (id == 3)
			continue;
		f = tf_queue_find(&q, id);
		check_entry(f, id, (int)id);
		ck_assert_uint_eq(f->out.len, 3);
		ck_assert_int_eq(memcmp(f->out.mem, "xyz", 3), 0);
	}

	/* Finish the rest; a second lookup of a finished id stays NULL. */
	for (id = 1; id <= 6; id++) {
		if (id == 3)
			continue;
		tf_queue_done(&q, tf_queue_find(&q, id));
		ck_assert_ptr_null(tf_queue_find(&q, id));
	}
	ck_assert_uint_eq(q.ninflight, 0);
	for (id = 1; id <= 6; id++)
		ck_assert_ptr_null(tf_queue_find(&q, id));
	tf_queue_release(&q);
}
END_TEST

START_TEST(test_putback_goes_first)
{
	struct fake_src fs;
	struct tf_source src;
	struct tf_queue q;
	struct tf_inflight *f;
	uint64_t id;

	fake_init(&fs, &src, NULL, 5, SIZE_MAX);
	tf_queue_init(&q, &src, 5);
	ck_assert_int_eq(tf_queue_fill(&q), 0);
	for (id = 1; id <= 3; id++)
		ck_assert_ptr_nonnull(tf_queue_take(&q, 7));

	/* A worker hands task 2 back unrun (it is draining), with some
	 * output already streamed, which must be dropped. */
	f = tf_queue_find(&q, 2);
	ck_assert_int_eq(tf_output_append(&f->out, "partial", 7, 1024), 0);
	tf_queue_putback(&q, f);
	ck_assert_ptr_null(tf_queue_find(&q, 2));
	ck_assert_uint_eq(q.ninflight, 2);
	ck_assert_uint_eq(tf_queue_nready(&q), 3);
	ck_assert_uint_eq(q.nread, 5);

	/* It is the next one out, ahead of 4 and 5, and comes back whole
	 * with an empty output. */
	f = tf_queue_take(&q, 8);
	check_entry(f, 2, 8);
	ck_assert_uint_eq(f->out.len, 0);
	ck_assert_ptr_null(f->out.mem);
	check_entry(tf_queue_take(&q, 8), 4, 8);
	check_entry(tf_queue_take(&q, 8), 5, 8);
	ck_assert_ptr_null(tf_queue_take(&q, 8));
	check_entry(tf_queue_find(&q, 1), 1, 7);
	check_entry(tf_queue_find(&q, 3), 3, 7);
	tf_queue_release(&q);
}
END_TEST

START_TEST(test_putback_wraps_ring)
{
	struct fake_src fs;
	struct tf_source src;
	struct tf_queue q;
	struct tf_inflight *f;
	uint64_t id;

	/* With a full window all in flight and the ring head at 0, the
	 * putbacks must wrap the ring backwards; taking them again gives
	 * the last one put back first. */
	fake_init(&fs, &src, NULL, 4, SIZE_MAX);
	tf_queue_init(&q, &src, 4);
	ck_assert_int_eq(tf_queue_fill(&q), 0);
	for (id = 1; id <= 4; id++)
		ck_assert_ptr_nonnull(tf_queue_take(&q, 1));
	ck_assert_uint_eq(tf_queue_nready(&q), 0);
	for (id = 1; id <= 4; id++)
		tf_queue_putback(&q, tf_queue_find(&q, id));
	ck_assert_uint_eq(tf_queue_nready(&q), 4);
	ck_assert_uint_eq(q.ninflight, 0);
	ck_assert_int_eq(tf_queue_fill(&q), 0);
	ck_assert_uint_eq(fs.calls, 4);
	for (id = 4; id >= 1; id--) {
		f = tf_queue_take(&q, 2);
		check_entry(f, id, 2);
	}
	ck_assert_ptr_null(tf_queue_take(&q, 2));
	tf_queue_release(&q);
}
END_TEST

START_TEST(test_empty_states)
{
	struct fake_src fs;
	struct tf_source src;
	struct tf_queue q;
	struct tf_inflight *f;

	fake_init(&fs, &src, NULL, 2, SIZE_MAX);
	tf_queue_init(&q, &src, 2);
	/* Nothing read yet: not empty, the source may have tasks. */
	ck_assert_int_eq(tf_queue_empty(&q), 0);
	ck_assert_int_eq(tf_queue_fill(&q), 0);
	ck_assert_int_eq(tf_queue_empty(&q), 0);

	/* One finished, one in flight, but the full window stopped the
	 * source before it could report its end: still not empty. */
	tf_queue_done(&q, tf_queue_take(&q, 1));
	f = tf_queue_take(&q, 1);
	ck_assert_uint_eq(tf_queue_nready(&q), 0);
	ck_assert_int_eq(q.src_done, 0);
	ck_assert_int_eq(tf_queue_empty(&q), 0);

	/* Source done and nothing ready, but one task in flight. */
	ck_assert_int_eq(tf_queue_fill(&q), 0);
	ck_assert_int_eq(q.src_done, 1);
	ck_assert_uint_eq(tf_queue_nready(&q), 0);
	ck_assert_int_eq(tf_queue_empty(&q), 0);

	/* Put back: source done, nothing in flight, but one ready. */
	tf_queue_putback(&q, f);
	ck_assert_uint_eq(q.ninflight, 0);
	ck_assert_int_eq(tf_queue_empty(&q), 0);

	tf_queue_done(&q, tf_queue_take(&q, 1));
	ck_assert_int_eq(tf_queue_empty(&q), 1);
	tf_queue_release(&q);
}
END_TEST

/* ---- Retries avoiding a rank ---- */

/* A source of tasks 1..n whose avoid_rank comes from avoid[] (every
 * field set, as the real sources do). */
struct avoid_src {
	const int32_t *avoid;
	size_t n;
	size_t pos;
};

static int avoid_next(void *ctx, struct tf_task *t)
{
	struct avoid_src *as = ctx;
	char buf[64];
	int len;

	if (as->pos == as->n)
		return 0;
	memset(t, 0, sizeof(*t));
	t->id = as->pos + 1;
	t->attempt = 2;
	len = snprintf(buf, sizeof(buf), "task %" PRIu64, t->id);
	t->cmd = tf__xstrdup(buf);
	t->cmd_len = (uint32_t)len;
	t->avoid_rank = as->avoid[as->pos];
	as->pos++;
	return 1;
}

static void avoid_queue(struct tf_queue *q, struct avoid_src *as,
			const int32_t *avoid, size_t n, size_t window)
{
	struct tf_source src;

	memset(as, 0, sizeof(*as));
	as->avoid = avoid;
	as->n = n;
	memset(&src, 0, sizeof(src));
	src.next = avoid_next;
	src.errmsg = fake_errmsg;
	src.ctx = as;
	src.ntasks = n;
	tf_queue_init(q, &src, window);
	ck_assert_int_eq(tf_queue_fill(q), 0);
}

/* The id of the first of the first 64 ready tasks that does not avoid
 * rank, in ring order, or 0: what tf_queue_take_for() should take. */
static uint64_t first_fit(const struct tf_queue *q, int rank)
{
	size_t i;

	for (i = 0; i < tf_queue_nready(q) && i < 64; i++) {
		const struct tf_task *t = tf_ring_at(&q->ready, i);

		if (t->avoid_rank != rank)
			return t->id;
	}
	return 0;
}

START_TEST(test_take_for_avoids_rank)
{
	static const int32_t avoid[] = { 3, 3, -1, 5, 3, 3 };
	struct avoid_src as;
	struct tf_queue q;
	struct tf_inflight *f;
	uint64_t want;
	int rank;

	avoid_queue(&q, &as, avoid, 6, 6);
	ck_assert_uint_eq(tf_queue_nready(&q), 6);

	/* Tasks 1 and 2 failed on rank 3: rank 3 gets task 3 instead. */
	f = tf_queue_take_for(&q, 3);
	check_entry(f, 3, 3);
	ck_assert_int_eq(f->task.avoid_rank, -1);
	ck_assert_uint_eq(q.ninflight, 1);
	ck_assert_uint_eq(tf_queue_nready(&q), 5);

	/* Rank 5 has nothing to avoid at the head, so it gets the oldest
	 * of what is left (1 or 2, whatever order the swap left them). */
	want = first_fit(&q, 5);
	ck_assert(want == 1 || want == 2);
	check_entry(tf_queue_take_for(&q, 5), want, 5);

	/* Rank 3 again: everything left but task 4 avoids it. */
	f = tf_queue_take_for(&q, 3);
	check_entry(f, 4, 3);
	ck_assert_int_eq(f->task.avoid_rank, 5);

	/* Now all that is left avoids rank 3: nothing for it, and
	 * nothing disturbed. */
	ck_assert_uint_eq(tf_queue_nready(&q), 3);
	ck_assert_ptr_null(tf_queue_take_for(&q, 3));
	ck_assert_uint_eq(tf_queue_nready(&q), 3);
	ck_assert_uint_eq(q.ninflight, 3);

	/* Any other rank takes them, each the first that fits. */
	for (rank = 0; tf_queue_nready(&q) > 0; rank++) {
		want = first_fit(&q, rank);
		ck_assert_uint_ne(want, 0);
		f = tf_queue_take_for(&q, rank);
		check_entry(f, want, rank);
		ck_assert_int_ne(f->task.avoid_rank, rank);
	}
	ck_assert_ptr_null(tf_queue_take_for(&q, 0));
	/* All six went out once each. */
	ck_assert_uint_eq(q.ninflight, 6);
	for (want = 1; want <= 6; want++)
		ck_assert_ptr_nonnull(tf_queue_find(&q, want));
	tf_queue_release(&q);
}
END_TEST

START_TEST(test_take_for_lookahead)
{
	static int32_t avoid[100];
	struct avoid_src as;
	struct tf_queue q;
	size_t i;

	/* The first 64 ready tasks avoid rank 2 and the 65th does not:
	 * it is beyond the lookahead, so rank 2 gets nothing. */
	for (i = 0; i < 100; i++)
		avoid[i] = i < 64 ? 2 : -1;
	avoid_queue(&q, &as, avoid, 100, 100);
	ck_assert_ptr_null(tf_queue_take_for(&q, 2));
	ck_assert_uint_eq(tf_queue_nready(&q), 100);
	ck_assert_uint_eq(q.ninflight, 0);
	/* Once one of them has gone elsewhere, task 65 is the 64th and
	 * within reach. */
	check_entry(tf_queue_take_for(&q, 1), 1, 1);
	check_entry(tf_queue_take_for(&q, 2), 65, 2);
	tf_queue_release(&q);

	/* The 64th itself is looked at. */
	for (i = 0; i < 100; i++)
		avoid[i] = i < 63 ? 2 : -1;
	avoid_queue(&q, &as, avoid, 100, 100);
	check_entry(tf_queue_take_for(&q, 2), 64, 2);
	ck_assert_uint_eq(tf_queue_nready(&q), 99);
	tf_queue_release(&q);

	/* An empty queue has nothing for anyone. */
	avoid_queue(&q, &as, avoid, 0, 4);
	ck_assert_ptr_null(tf_queue_take_for(&q, 1));
	tf_queue_release(&q);
}
END_TEST

START_TEST(test_take_for_wrapped_ring)
{
	static const int32_t avoid[] = { -1, -1, -1, 7, 7, -1 };
	struct avoid_src as;
	struct tf_queue q;
	int i;

	/* Window 4: take three, finish them and refill, so the ready ring
	 * wraps around its end; the search must follow it. */
	avoid_queue(&q, &as, avoid, 6, 4);
	for (i = 0; i < 3; i++)
		tf_queue_done(&q, tf_queue_take(&q, 1));
	ck_assert_int_eq(tf_queue_fill(&q), 0);
	ck_assert_uint_eq(tf_queue_nready(&q), 3);
	ck_assert_msg(q.ready.head + tf_queue_nready(&q) > q.ready.cap,
		      "the ready ring does not wrap (head %zu of %zu)",
		      q.ready.head, q.ready.cap);
	/* Ready: 4 (avoids 7), 5 (avoids 7), 6. */
	check_entry(tf_queue_take_for(&q, 7), 6, 7);
	ck_assert_ptr_null(tf_queue_take_for(&q, 7));
	check_entry(tf_queue_take_for(&q, 8), first_fit(&q, 8), 8);
	tf_queue_release(&q);
}
END_TEST

START_TEST(test_take_ignores_avoid)
{
	static const int32_t avoid[] = { 1, 1, 1 };
	struct avoid_src as;
	struct tf_queue q;
	uint64_t id;

	/* Plain take is FIFO whatever the tasks would rather avoid (the
	 * master uses it when there is no other rank to go to). */
	avoid_queue(&q, &as, avoid, 3, 3);
	ck_assert_ptr_null(tf_queue_take_for(&q, 1));
	for (id = 1; id <= 3; id++)
		check_entry(tf_queue_take(&q, 1), id, 1);
	ck_assert_ptr_null(tf_queue_take(&q, 1));
	tf_queue_release(&q);
}
END_TEST

/* ---- The in-flight table under load ---- */

/* Mirrors slot_of() in queue.c, only so that the collision test can pick
 * ids that really share home slots; test_table_collisions checks that
 * they did, so a change of hash shows up there instead of silently
 * weakening the test. */
static size_t home_slot(uint64_t id, size_t cap)
{
	return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

#define NREF 512

/*
 * Runs the queue over the given ids with a random mix of take, done and
 * putback, keeping a reference model (a deque of ready ids and a plain
 * array of in-flight ids) and checking after every step that every id
 * is found exactly when the model says it is in flight. Returns the
 * largest number of entries seen away from their home slot at once.
 */
static size_t churn(const uint64_t *ids, size_t n, size_t window,
		    uint64_t seed)
{
	struct fake_src fs;
	struct tf_source src;
	struct tf_queue q;
	uint64_t ready[2 * NREF], flying[NREF];
	int rank_of[NREF], done_count[NREF];
	char in_flight[NREF];
	size_t ready_head = NREF, ready_len = 0, nflying = 0, next_src = 0;
	size_t i, k, max_displaced = 0, steps = 0;
	uint64_t rng = seed;

	ck_assert_uint_le(n, NREF);
	memset(done_count, 0, sizeof(done_count));
	fake_init(&fs, &src, ids, n, SIZE_MAX);
	tf_queue_init(&q, &src, window);

	for (;;) {
		unsigned op;
		size_t displaced = 0;

		ck_assert_int_eq(tf_queue_fill(&q), 0);
		while (next_src < n && ready_len + nflying < window)
			ready[ready_head + ready_len++] = next_src++;
		if (tf_queue_empty(&q))
			break;
		if (++steps > 100000)
			ck_abort_msg("the queue never drains");

		op = (unsigned)(rng_next(&rng) % 4);
		if (ready_len && (op < 2 || nflying == 0)) {
			size_t want = ready[ready_head];
			int rank = (int)(rng_next(&rng) % 1000);
			struct tf_inflight *f = tf_queue_take(&q, rank);

			check_entry(f, ids[want], rank);
			ready_head++;
			ready_len--;
			rank_of[want] = rank;
			flying[nflying++] = want;
		} else {
			size_t pick = (size_t)(rng_next(&rng) % nflying);
			size_t which = flying[pick];
			struct tf_inflight *f = tf_queue_find(&q, ids[which]);

			check_entry(f, ids[which], rank_of[which]);
			flying[pick] = flying[--nflying];
			if (op == 3) {
				tf_queue_putback(&q, f);
				ck_assert_uint_gt(ready_head, 0);
				ready[--ready_head] = which;
				ready_len++;
			} else {
				tf_queue_done(&q, f);
				done_count[which]++;
			}
		}

		/* The model and the queue agree on every id. */
		ck_assert_uint_eq(q.ninflight, nflying);
		ck_assert_uint_eq(tf_queue_nready(&q), ready_len);
		memset(in_flight, 0, sizeof(in_flight));
		for (k = 0; k < nflying; k++)
			in_flight[flying[k]] = 1;
		for (i = 0; i < n; i++) {
			struct tf_inflight *f = tf_queue_find(&q, ids[i]);

			if (in_flight[i] ? !entry_ok(f, ids[i], rank_of[i])
					 : f != NULL)
				ck_abort_msg("step %zu: task %" PRIu64
					     " should %sbe in flight",
					     steps, ids[i],
					     in_flight[i] ? "" : "not ");
		}
		for (i = 0; i < q.tab_cap; i++)
			if (q.tab[i].used &&
			    home_slot(q.tab[i].task.id, q.tab_cap) != i)
				displaced++;
		if (displaced > max_displaced)
			max_displaced = displaced;
	}

	/* Every task finished exactly once. */
	for (i = 0; i < n; i++)
		if (done_count[i] != 1)
			ck_abort_msg("task %" PRIu64 " finished %d times",
				     ids[i], done_count[i]);
	tf_queue_release(&q);
	return max_displaced;
}

START_TEST(test_table_multiples_of_size)
{
	uint64_t ids[200];
	size_t i;

	/* window 8 gives a 16-entry table; ids that are multiples of it
	 * are what a naive "id % size" hash would pile into one slot. */
	for (i = 0; i < 200; i++)
		ids[i] = (uint64_t)(i + 1) * 16;
	churn(ids, 200, 8, 1);
	for (i = 0; i < 200; i++)
		ids[i] = (uint64_t)(i + 1) << 32;
	churn(ids, 200, 8, 2);
}
END_TEST

START_TEST(test_table_collisions)
{
	uint64_t ids[NREF], id;
	size_t n = 0, displaced;

	/* Ids whose home slots are 14, 15 and 1 of a 16-entry table: the
	 * probe runs from 14 wrap past the end into 0 and 1, so deletions
	 * must shift entries back across the wrap and must not move the
	 * ones homed at 1 before their home. */
	for (id = 1; n < 300; id++) {
		size_t h = home_slot(id, 16);

		if (h == 14 || h == 15 || h == 1)
			ids[n++] = id;
	}
	displaced = churn(ids, n, 8, 3);
	ck_assert_msg(displaced >= 4,
		      "ids no longer collide (max %zu displaced); update "
		      "home_slot() to match queue.c",
		      displaced);
	churn(ids, n, 8, 4);
	churn(ids, n, 8, 5);
}
END_TEST

START_TEST(test_table_random_ids)
{
	uint64_t ids[NREF], rng = 99;
	size_t i;

	/* Arbitrary 64-bit ids, distinct, at the table's full load. */
	for (i = 0; i < NREF; i++)
		ids[i] = (rng_next(&rng) & ~(uint64_t)0x3ff) | i;
	churn(ids, NREF, 32, 6);
}
END_TEST

START_TEST(test_table_grows)
{
	struct fake_src fs;
	struct tf_source src;
	struct tf_queue q;
	size_t cap0;
	uint64_t id, rng = 7;
	int left;

	fake_init(&fs, &src, NULL, 100, SIZE_MAX);
	tf_queue_init(&q, &src, 4);
	cap0 = q.tab_cap;

	/* The window normally keeps the table at most half full, so it
	 * never needs to grow through the public calls alone. Raise the
	 * window one task at a time instead (the ring then never holds
	 * more than one ready task, well inside its capacity), which puts
	 * 100 tasks in flight in a table made for 4. */
	for (id = 1; id <= 100; id++) {
		q.window = q.ninflight + 1;
		ck_assert_int_eq(tf_queue_fill(&q), 0);
		ck_assert_uint_eq(tf_queue_nready(&q), 1);
		check_entry(tf_queue_take(&q, (int)id), id, (int)id);
	}
	ck_assert_uint_gt(q.tab_cap, cap0);
	ck_assert_uint_ge(q.tab_cap, q.ninflight);
	/* The id table that finds them stays at most half full. */
	ck_assert_uint_ge(q.ids.cap, 2 * q.ninflight);
	ck_assert_uint_eq(q.ninflight, 100);

	/* Nothing was lost or mixed up by rehashing. */
	for (id = 1; id <= 100; id++)
		check_entry(tf_queue_find(&q, id), id, (int)id);

	/* Half of them finish in random order; the rest stay findable. */
	for (left = 50; left > 0;) {
		id = rng_next(&rng) % 100 + 1;
		if (!tf_queue_find(&q, id))
			continue;
		tf_queue_done(&q, tf_queue_find(&q, id));
		left--;
	}
	ck_assert_uint_eq(q.ninflight, 50);
	for (id = 1, left = 0; id <= 100; id++) {
		struct tf_inflight *f = tf_queue_find(&q, id);

		if (f) {
			check_entry(f, id, (int)id);
			left++;
		}
	}
	ck_assert_int_eq(left, 50);
	/* Release frees the 50 still in flight (valgrind checks). */
	tf_queue_release(&q);
}
END_TEST

/* tf_queue_foreach_rank(): a lost rank's tasks, visited once each while
 * the callback takes them out of the table, which shifts the others. */
struct lost_visit {
	struct tf_queue *q;
	uint64_t seen[64];
	size_t n;
	int putback; /* alternate: put back, or finish */
};

static void visit_lost(void *ctx, struct tf_inflight *f)
{
	struct lost_visit *v = ctx;

	ck_assert_uint_lt(v->n, 64);
	v->seen[v->n++] = f->task.id;
	if ((v->putback ^= 1))
		tf_queue_putback(v->q, f);
	else
		tf_queue_done(v->q, f);
}

START_TEST(test_foreach_rank)
{
	struct fake_src fs;
	struct tf_source src;
	struct tf_queue q;
	struct lost_visit v;
	uint64_t id;
	size_t i, j;

	/* Many ids in a small table make long probe runs, which removals
	 * shift. */
	fake_init(&fs, &src, NULL, 40, SIZE_MAX);
	tf_queue_init(&q, &src, 40);
	ck_assert_int_eq(tf_queue_fill(&q), 0);
	for (id = 1; id <= 40; id++)
		ck_assert_ptr_nonnull(tf_queue_take(&q, id % 3 == 0 ? 5 : 6));
	memset(&v, 0, sizeof(v));
	v.q = &q;
	tf_queue_foreach_rank(&q, 5, visit_lost, &v);
	/* Every multiple of 3 up to 40, once. */
	ck_assert_uint_eq(v.n, 13);
	for (i = 0; i < v.n; i++) {
		ck_assert_uint_eq(v.seen[i] % 3, 0);
		for (j = 0; j < i; j++)
			ck_assert_uint_ne(v.seen[i], v.seen[j]);
	}
	/* Rank 6's tasks are all still found; 7 of rank 5's came back. */
	ck_assert_uint_eq(q.ninflight, 27);
	for (id = 1; id <= 40; id++) {
		struct tf_inflight *f = tf_queue_find(&q, id);

		if (id % 3)
			check_entry(f, id, 6);
		else
			ck_assert_ptr_null(f);
	}
	ck_assert_uint_eq(tf_queue_nready(&q), 7);
	/* A rank with nothing in flight: no call. */
	v.n = 0;
	tf_queue_foreach_rank(&q, 9, visit_lost, &v);
	ck_assert_uint_eq(v.n, 0);
	tf_queue_release(&q);
}
END_TEST

/* A source of ids 1..30: a barrier before 11 and 21; tasks 3, 6, ...
 * take 4 slots. */
static int barrier_next(void *ctx, struct tf_task *t)
{
	uint64_t *next = ctx;

	if (*next > 30)
		return 0;
	memset(t, 0, sizeof(*t));
	t->id = (*next)++;
	t->attempt = 1;
	t->cmd = tf__xstrdup("x");
	t->cmd_len = 1;
	t->avoid_rank = -1;
	t->barrier = (t->id - 1) / 10;
	t->slots = t->id % 3 == 0 ? 4 : 0;
	return 1;
}

START_TEST(test_barrier_gate)
{
	struct tf_inflight *f[10];
	struct tf_source src;
	struct tf_queue q;
	uint64_t next = 1;
	int i;

	memset(&src, 0, sizeof(src));
	src.next = barrier_next;
	src.errmsg = fake_errmsg;
	src.ctx = &next;
	tf_queue_init(&q, &src, 64);
	ck_assert_int_eq(tf_queue_fill(&q), 0);
	ck_assert_uint_eq(tf_queue_nready(&q), 30);
	for (i = 0; i < 10; i++) {
		f[i] = tf_queue_take(&q, 1);
		ck_assert_ptr_nonnull(f[i]);
		ck_assert_uint_eq(f[i]->task.id, (uint64_t)i + 1);
	}
	/* 11 follows the barrier: not while 1..10 are not all done. */
	ck_assert(tf_queue_gated(&q));
	ck_assert_ptr_null(tf_queue_take(&q, 1));
	ck_assert_ptr_null(tf_queue_take_for(&q, 2));
	ck_assert_ptr_null(tf_queue_peek_fit(&q, 2, 100, 100));
	for (i = 0; i < 9; i++)
		tf_queue_done(&q, f[i]);
	ck_assert_ptr_null(tf_queue_take(&q, 1));
	/* A retry of 10 is still before the barrier. */
	tf_queue_putback(&q, f[9]);
	ck_assert(!tf_queue_gated(&q));
	f[9] = tf_queue_take(&q, 1);
	ck_assert_uint_eq(f[9]->task.id, 10);
	ck_assert_ptr_null(tf_queue_take(&q, 1));
	tf_queue_done(&q, f[9]);
	ck_assert(!tf_queue_gated(&q));
	/* Past it: 11, 13, ..., passing over the 4-slot ones for a rank of
	 * 2 slots, and peek agrees with take. */
	ck_assert_uint_eq(tf_queue_peek_fit(&q, 1, 2, 0)->id, 11);
	f[0] = tf_queue_take_fit(&q, 1, 2, 0);
	ck_assert_uint_eq(f[0]->task.id, 11);
	ck_assert_uint_eq(tf_queue_peek_fit(&q, 1, 2, 0)->id, 13);
	ck_assert_uint_eq(tf_queue_peek_fit(&q, 1, 4, 0)->id, 12);
	f[1] = tf_queue_take_fit(&q, 1, 2, 0);
	ck_assert_uint_eq(f[1]->task.id, 13);
	f[2] = tf_queue_take_fit(&q, 1, 4, 0);
	ck_assert_uint_eq(f[2]->task.id, 12);
	tf_queue_done(&q, f[0]);
	tf_queue_done(&q, f[1]);
	tf_queue_done(&q, f[2]);
	/* The rest of 11..20, then 21 once they are done. */
	for (i = 0; i < 7; i++) {
		f[i] = tf_queue_take(&q, 1);
		ck_assert_ptr_nonnull(f[i]);
		ck_assert_uint_le(f[i]->task.id, 20);
	}
	ck_assert_ptr_null(tf_queue_take(&q, 1));
	for (i = 0; i < 7; i++)
		tf_queue_done(&q, f[i]);
	f[0] = tf_queue_take(&q, 1);
	ck_assert_uint_eq(f[0]->task.id, 21);
	tf_queue_done(&q, f[0]);
	tf_queue_release(&q);
}
END_TEST

static Suite *queue_suite(void)
{
	Suite *s = suite_create("queue");
	TCase *tc;

	tc = tcase_create("fill");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_fill_respects_window);
	tcase_add_test(tc, test_fill_window_bound_throughout);
	tcase_add_test(tc, test_fill_stops_at_end);
	tcase_add_test(tc, test_fill_zero_window);
	tcase_add_test(tc, test_source_error);
	tcase_add_test(tc, test_source_error_first);
	tcase_add_test(tc, test_wake_fd);
	suite_add_tcase(s, tc);

	tc = tcase_create("dispatch");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_take_fifo);
	tcase_add_test(tc, test_take_empty);
	tcase_add_test(tc, test_done_forgets);
	tcase_add_test(tc, test_putback_goes_first);
	tcase_add_test(tc, test_putback_wraps_ring);
	tcase_add_test(tc, test_empty_states);
	tcase_add_test(tc, test_take_for_avoids_rank);
	tcase_add_test(tc, test_take_for_lookahead);
	tcase_add_test(tc, test_take_for_wrapped_ring);
	tcase_add_test(tc, test_take_ignores_avoid);
	tcase_add_test(tc, test_foreach_rank);
	suite_add_tcase(s, tc);

	/* Generous: the model check is quadratic and valgrind is slow. */
	tc = tcase_create("table");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_table_multiples_of_size);
	tcase_add_test(tc, test_table_collisions);
	tcase_add_test(tc, test_table_random_ids);
	tcase_add_test(tc, test_table_grows);
	tcase_add_test(tc, test_barrier_gate);
	suite_add_tcase(s, tc);

	return s;
}

TF_CHECK_MAIN(queue_suite)
