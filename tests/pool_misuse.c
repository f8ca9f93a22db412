/*
 * The C API called wrongly, part two (beside tests/pool_edges.c's misuse
 * mode): the calls an outside review of 0.2 found crashing, hanging or
 * answering wrongly. Each mode prints "ok ..."/"FAIL ..." lines on the
 * master (a worker prints only its FAILs) for tests/pool-edges.sh.
 *
 *   pool_misuse MODE
 *
 * Modes: inside (tf_pool_close(), tf_pool_close_for() and
 * tf_future_cancel() from a task, with and without isolation, from a
 * result callback, an imap producer, an initializer and a finalizer: all
 * TF_ESTATE, the pool unharmed), nulls (NULL pools, futures and arrays:
 * TF_EINVAL or NULL, no crash), opts (options out of range: TF_EINVAL
 * with tf_pool_errmsg(NULL) naming the field), close-negative (isolated:
 * tf_pool_close_for() with a negative limit waits not at all, and the
 * message names the rank whose child was killed), imap (a window of
 * SIZE_MAX works; a producer's 5 is TF_EINVAL), two-pools (one rank:
 * the pool that started MPI closed first, the other still works; an open
 * after both is TF_EMPI).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <taskfarm.h>

static int failures;
static struct tf_pool *the_pool;
static struct tf_future *queued; /* for a task's cancel */
static int rank_of_pool;

#define CHECK(cond, ...)                                        \
	do {                                                    \
		int ok_ = (cond);                               \
		if (!ok_)                                       \
			failures++;                             \
		if (ok_ && rank_of_pool != 0)                   \
			break;                                  \
		printf("%s", ok_ ? "ok " : "FAIL ");            \
		printf(__VA_ARGS__);                            \
		printf("\n");                                   \
		fflush(stdout);                                 \
	} while (0)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Result: what close, close_for and (where the master's future is in
 * this process: a task the master runs) cancel answered from inside,
 * and whether cancel was tried. */
static int closer(struct tf_call *call, const void *in, size_t len, void *ctx)
{
	int32_t r[4];

	(void)in;
	(void)len;
	(void)ctx;
	r[0] = tf_pool_close(the_pool);
	r[1] = tf_pool_close_for(the_pool, 0);
	r[2] = queued ? tf_future_cancel(queued) : TF_ESTATE;
	r[3] = queued != NULL;
	memcpy(tf_call_result(call, sizeof(r)), r, sizeof(r));
	return 0;
}

static int nap(struct tf_call *call, const void *in, size_t len, void *ctx)
{
	double s;

	(void)call;
	(void)ctx;
	if (len != sizeof(s))
		return 1;
	memcpy(&s, in, sizeof(s));
	usleep((useconds_t)(s * 1e6));
	return 0;
}

static int twice(struct tf_call *call, const void *in, size_t len, void *ctx)
{
	int64_t x;

	(void)ctx;
	if (len != sizeof(x))
		return 1;
	memcpy(&x, in, sizeof(x));
	x *= 2;
	memcpy(tf_call_result(call, sizeof(x)), &x, sizeof(x));
	return 0;
}

/* The initializer and finalizer try to close the pool they serve. */
static int init_closes(void **ctx, const void *arg, size_t len)
{
	(void)ctx;
	(void)arg;
	(void)len;
	return tf_pool_close(the_pool) == TF_ESTATE ? 0 : 1;
}

static void fini_closes(void *ctx)
{
	int rc = tf_pool_close(the_pool);

	(void)ctx;
	CHECK(rc == TF_ESTATE, "a close from the finalizer: TF_ESTATE (%d)",
	      rc);
}

static int cb_rc = 1;

static int cb_closes(void *arg, size_t index, int status, const void *res,
		     size_t len, const char *err)
{
	(void)arg;
	(void)status;
	(void)res;
	(void)len;
	(void)err;
	if (index == 0)
		cb_rc = tf_pool_close(the_pool);
	return 0;
}

static int prod_rc = 1;

static int produce_closing(void *arg, size_t index, const void **in,
			   size_t *len)
{
	static int64_t x;

	(void)arg;
	if (index == 3)
		return 0;
	if (index == 0)
		prod_rc = tf_pool_close(the_pool);
	x = (int64_t)index;
	*in = &x;
	*len = sizeof(x);
	return 1;
}

static void mode_inside(struct tf_pool *pool)
{
	int32_t r[8][4];
	int64_t x[8] = { 0 };
	struct tf_map_opts mo;
	int i, refused = 0, tried = 0;
	long rc;

	/* A future for the tasks the master runs to try to cancel. */
	tf_pool_submit(pool, "twice", &x[0], sizeof(x[0]), &queued);
	memset(&mo, 0, sizeof(mo));
	mo.chunk = 1;
	rc = tf_pool_map(pool, "closer", x, sizeof(x[0]), 8, r, sizeof(r[0]),
			 &mo);
	for (i = 0; i < 8; i++) {
		refused += r[i][0] == TF_ESTATE && r[i][1] == TF_ESTATE &&
			   r[i][2] == TF_ESTATE;
		tried += r[i][3];
	}
	/* With workers the master may run none of them. */
	CHECK(rc == 0 && refused == 8 &&
		      (tried >= 1 || tf_pool_workers(pool) > 1),
	      "close, close_for and cancel from inside 8 tasks: TF_ESTATE "
	      "in all (%d of 8; cancel tried in %d, on the master; map %ld)",
	      refused, tried, rc);
	tf_future_wait(queued);
	tf_future_free(queued);
	queued = NULL;
	rc = tf_pool_map_unordered(pool, "twice", x, sizeof(x[0]), 4,
				   cb_closes, NULL, NULL);
	CHECK(rc == 0 && cb_rc == TF_ESTATE,
	      "a close from a result callback: TF_ESTATE (%d), the map goes "
	      "on (%ld)",
	      cb_rc, rc);
	rc = tf_pool_imap(pool, "twice", produce_closing, NULL, cb_closes,
			  NULL, 2, NULL);
	CHECK(rc == 0 && prod_rc == TF_ESTATE,
	      "a close from an imap producer: TF_ESTATE (%d), the map goes "
	      "on (%ld)",
	      prod_rc, rc);
}

static void mode_nulls(struct tf_pool *pool)
{
	struct tf_future *f = NULL;
	int64_t x = 1, y;
	size_t len = 7;
	int bad = 0;

	bad += tf_future_wait(NULL) != TF_EINVAL;
	bad += tf_future_wait_for(NULL, 0) != TF_EINVAL;
	bad += tf_future_test(NULL) != TF_EINVAL;
	bad += tf_future_cancel(NULL) != TF_EINVAL;
	bad += tf_future_status(NULL) != TF_EINVAL;
	bad += tf_future_result(NULL, &len) != NULL || len != 0;
	bad += tf_future_error(NULL) != NULL;
	tf_future_set_tag(NULL, &x);
	bad += tf_future_tag(NULL) != NULL;
	bad += tf_future_wait_any(NULL, 3) != TF_EINVAL;
	bad += tf_future_wait_any_for(NULL, 3, 0) != TF_EINVAL;
	bad += tf_pool_progress(NULL) != TF_EINVAL;
	bad += tf_pool_map(NULL, "twice", &x, 8, 1, &y, 8, NULL) != TF_EINVAL;
	bad += tf_pool_submit(NULL, "twice", &x, 8, &f) != TF_EINVAL ||
	       f != NULL;
	bad += tf_pool_register(NULL, "twice", twice) != TF_EINVAL;
	bad += tf_pool_set_init(NULL, NULL, NULL, NULL, 0) != TF_EINVAL;
	bad += tf_pool_start(NULL) != TF_EINVAL;
	bad += tf_pool_workers(NULL) != TF_EINVAL;
	bad += tf_pool_rank(NULL) != TF_EINVAL;
	bad += tf_pool_open(NULL, NULL) != TF_EINVAL;
	tf_pool_opts_init(NULL);
	CHECK(bad == 0, "21 calls with NULL: TF_EINVAL (or NULL), no crash "
			"(%d wrong)",
	      bad);
	CHECK(tf_pool_map(pool, "twice", &x, 8, 1, &y, 8, NULL) == 0 &&
		      y == 2,
	      "the pool works after them");
}

static void mode_opts(void)
{
	static const char *const names[] = { "isolate", "master_works",
					     "task_timeout", "task_timeout",
					     "task_timeout", "threads" };
	struct tf_pool_opts o;
	struct tf_pool *p;
	int i, rc;

	for (i = 0; i < 6; i++) {
		const char *msg;

		tf_pool_opts_init(&o);
		if (i == 0)
			o.isolate = 2;
		if (i == 1)
			o.master_works = 5;
		if (i == 2)
			o.task_timeout = -1;
		if (i == 3)
			o.task_timeout = NAN;
		if (i == 4)
			o.task_timeout = 1; /* without isolate */
		if (i == 5)
			o.threads = -1;
		p = (struct tf_pool *)1;
		rc = tf_pool_open(&p, &o);
		msg = tf_pool_errmsg(NULL);
		CHECK(rc == TF_EINVAL && !p && strstr(msg, names[i]),
		      "bad opts %d: TF_EINVAL (%d), the message names %s (%s)",
		      i, rc, names[i], msg);
	}
}

static void mode_close_negative(struct tf_pool *pool)
{
	struct tf_future *f;
	double s = 20, t;
	const char *msg;
	int rc;

	tf_pool_submit(pool, "nap", &s, sizeof(s), &f);
	tf_future_wait_for(f, 0.3); /* it is running */
	t = now_s();
	rc = tf_pool_close_for(pool, -1);
	t = now_s() - t;
	msg = tf_pool_errmsg(NULL);
	CHECK(rc == TF_ETIMEDOUT && t < 10,
	      "close_for(-1) with a 20 s isolated task: TF_ETIMEDOUT (%d) "
	      "after %.2f s (no wait)",
	      rc, t);
	CHECK(strstr(msg, "killed") && strstr(msg, "rank"),
	      "the message says which rank's child was killed (%s)", msg);
}

static int produce_five(void *arg, size_t index, const void **in,
			size_t *len)
{
	static int64_t x;

	(void)arg;
	x = (int64_t)index;
	*in = &x;
	*len = sizeof(x);
	return index < 2 ? 1 : 5;
}

static int64_t want_next;

static int take_in_order(void *arg, size_t index, int status, const void *res,
			 size_t len, const char *err)
{
	int64_t y;

	(void)arg;
	(void)err;
	if (status || len != sizeof(y))
		return 1;
	memcpy(&y, res, sizeof(y));
	if ((int64_t)index != want_next || y != 2 * (int64_t)index)
		return 1;
	want_next++;
	return 0;
}

static int produce_n(void *arg, size_t index, const void **in, size_t *len)
{
	static int64_t x;

	if (index >= *(size_t *)arg)
		return 0;
	x = (int64_t)index;
	*in = &x;
	*len = sizeof(x);
	return 1;
}

static void mode_imap(struct tf_pool *pool)
{
	size_t n = 3000;
	long rc;

	rc = tf_pool_imap(pool, "twice", produce_n, &n, take_in_order, NULL,
			  SIZE_MAX, NULL);
	CHECK(rc == 0 && want_next == 3000,
	      "imap with a window of SIZE_MAX: 3000 results in order (%ld)",
	      rc);
	want_next = 0;
	rc = tf_pool_imap(pool, "twice", produce_five, NULL, take_in_order,
			  NULL, 0, NULL);
	CHECK(rc == TF_EINVAL && strstr(tf_pool_errmsg(pool), "returned 5"),
	      "a producer's 5: TF_EINVAL (%ld: %s)", rc,
	      tf_pool_errmsg(pool));
}

static int two_pools(void)
{
	struct tf_pool *a, *b, *c = (struct tf_pool *)1;
	struct tf_future *f;
	int64_t x = 21;
	const int64_t *y;
	size_t len;
	int rc;

	if (tf_pool_open(&a, NULL) || tf_pool_open(&b, NULL))
		return 4;
	tf_pool_register(a, "twice", twice);
	tf_pool_register(b, "twice", twice);
	CHECK(tf_pool_start(a) == 1 && tf_pool_start(b) == 1,
	      "two pools started");
	rc = tf_pool_close(a);
	CHECK(rc == 0, "the first pool closed (%d)", rc);
	rc = tf_pool_submit(b, "twice", &x, sizeof(x), &f);
	if (rc == 0)
		rc = tf_future_wait(f);
	y = rc == 0 ? tf_future_result(f, &len) : NULL;
	CHECK(y && len == 8 && *y == 42,
	      "the second pool still works after it (%d)", rc);
	tf_future_free(f);
	rc = tf_pool_close(b);
	CHECK(rc == 0, "the second pool closed (%d)", rc);
	rc = tf_pool_open(&c, NULL);
	CHECK((rc == TF_EMPI && !c &&
	       strstr(tf_pool_errmsg(NULL), "finalized")) ||
		      (rc == 0 && tf_pool_close(c) == 0),
	      "an open after both: TF_EMPI, MPI was finalized, or (no "
	      "MPI) a pool (%d: %s)",
	      rc, tf_pool_errmsg(NULL));
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "inside";
	struct tf_pool_opts o;
	struct tf_pool *pool;
	int rc;

	if (!strcmp(mode, "opts")) {
		mode_opts();
		return failures ? 1 : 0;
	}
	if (!strcmp(mode, "two-pools"))
		return two_pools();
	tf_pool_opts_init(&o);
	if (!strcmp(mode, "inside"))
		o.master_works = 1;
	o.isolate = !strcmp(mode, "inside-isolated") ||
		    !strcmp(mode, "close-negative");
	if (!strcmp(mode, "inside-isolated"))
		o.master_works = 1;
	if (tf_pool_open(&pool, &o))
		return 4;
	the_pool = pool;
	rank_of_pool = tf_pool_rank(pool);
	tf_pool_register(pool, "closer", closer);
	tf_pool_register(pool, "nap", nap);
	tf_pool_register(pool, "twice", twice);
	if (!strncmp(mode, "inside", 6))
		tf_pool_set_init(pool, init_closes, fini_closes, NULL, 0);
	rc = tf_pool_start(pool);
	if (rc == 1) {
		if (!strncmp(mode, "inside", 6))
			mode_inside(pool);
		else if (!strcmp(mode, "nulls"))
			mode_nulls(pool);
		else if (!strcmp(mode, "close-negative")) {
			mode_close_negative(pool);
			return failures ? 1 : 0;
		} else if (!strcmp(mode, "imap"))
			mode_imap(pool);
		else
			CHECK(0, "a known mode (%s)", mode);
	} else if (rc < 0) {
		CHECK(0, "start: %s (%s)", tf_strerror(rc),
		      tf_pool_errmsg(pool));
	}
	rc = tf_pool_close(pool);
	CHECK(rc == 0, "close on rank %d (%d)", rank_of_pool, rc);
	return failures ? 1 : 0;
}
