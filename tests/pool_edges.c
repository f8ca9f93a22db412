/*
 * The C API's integration tests for calls made wrongly and for waits and
 * memory bounds (issue 15), beside tests/pool_prog.c: each mode prints
 * "ok ..." or "FAIL ..." lines on the master (and exits 1 after a FAIL),
 * for tests/pool-edges.sh to run under 1 to 4 ranks.
 *
 *   pool_edges MODE
 *
 * Modes: misuse (NULL names, calls from inside a task, reserved task
 * statuses, wait_any's codes), test-drives (tf_future_test() on a done
 * future and tf_pool_progress() drive the pool), timeouts (the waits'
 * time limits), mapv-memory (a worker's memory over a map of large
 * variable-size records stays bounded; prints the worker's peak),
 * bulk-futures (queued futures go out in chunks: their rate, results,
 * cancels in the middle of a batch, functions mixed, tags), imap (the
 * ordered streaming map: order, bounded window, early stops),
 * task-timeout (isolated tasks past task_timeout are killed),
 * long-queue (futures submitted while a long task runs do not queue
 * behind it on its worker: they run on the idle one, or stay on the
 * master, where a cancel still takes them), reclaim (isolated: short
 * futures sent in the same breath as a long one, behind it, are handed
 * back and run on the idle worker), close-inproc and
 * close-isolated (tf_pool_close_for() with a 30 s task running: returns
 * TF_ETIMEDOUT within seconds; an isolated task's process is killed).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <mpi.h>

#include <taskfarm.h>

static int failures;
static struct tf_pool *the_pool;

#define CHECK(cond, ...)                                        \
	do {                                                    \
		if (cond) {                                     \
			printf("ok ");                          \
		} else {                                        \
			printf("FAIL ");                        \
			failures++;                             \
		}                                               \
		printf(__VA_ARGS__);                            \
		printf("\n");                                   \
		fflush(stdout);                                 \
	} while (0)

/* This process's rank from the launcher's environment (before MPI is
 * up), 0 without one. */
static int world_rank_of_env(void)
{
	const char *r = getenv("OMPI_COMM_WORLD_RANK");

	if (!r)
		r = getenv("PMI_RANK");
	return r ? atoi(r) : 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int square(struct tf_call *call, const void *in, size_t len,
		  void *ctx)
{
	int64_t x;

	(void)ctx;
	if (len != sizeof(x))
		return 99;
	memcpy(&x, in, sizeof(x));
	x *= x;
	memcpy(tf_call_result(call, sizeof(x)), &x, sizeof(x));
	return 0;
}

/* Sleeps the number of milliseconds its input (an int32) says. */
static int nap(struct tf_call *call, const void *in, size_t len, void *ctx)
{
	int32_t ms = 0;

	(void)call;
	(void)ctx;
	if (len == sizeof(ms))
		memcpy(&ms, in, sizeof(ms));
	usleep((useconds_t)ms * 1000);
	return 0;
}

/* Creates the file its input names (a side effect that shows it ran). */
static int touch(struct tf_call *call, const void *in, size_t len, void *ctx)
{
	char path[512];
	FILE *fp;

	(void)ctx;
	if (len == 0 || len >= sizeof(path))
		return 99;
	memcpy(path, in, len);
	path[len] = '\0';
	fp = fopen(path, "w");
	if (!fp) {
		tf_call_error(call, "cannot create %s", path);
		return 1;
	}
	fclose(fp);
	return 0;
}

/* Names its process as its input says (pgrep finds it), then sleeps
 * 30 s. */
static int named_nap(struct tf_call *call, const void *in, size_t len,
		     void *ctx)
{
	char name[16];

	(void)call;
	(void)ctx;
	if (len == 0 || len >= sizeof(name))
		return 99;
	memcpy(name, in, len);
	name[len] = '\0';
	prctl(PR_SET_NAME, name, 0, 0, 0);
	sleep(30);
	return 0;
}

/* Drives the pool for seconds (it sends and takes results meanwhile). */
static void drive_for(struct tf_pool *pool, double seconds)
{
	double until = now_s() + seconds;

	while (now_s() < until) {
		tf_pool_progress(pool);
		usleep(1000);
	}
}

/* Calls the pool from inside a task: 0 if every call was refused with
 * TF_ESTATE, else 1 with a message naming the call that was taken. */
static int reenter(struct tf_call *call, const void *in, size_t len,
		   void *ctx)
{
	struct tf_future *f = NULL;
	int64_t x = 3, y = 0;
	long rc;

	(void)in;
	(void)len;
	(void)ctx;
	rc = tf_pool_submit(the_pool, "square", &x, sizeof(x), &f);
	if (rc != TF_ESTATE || f) {
		tf_call_error(call, "submit returned %ld", rc);
		return 1;
	}
	rc = tf_pool_map(the_pool, "square", &x, sizeof(x), 1, &y, sizeof(y),
			 NULL);
	if (rc != TF_ESTATE) {
		tf_call_error(call, "map returned %ld", rc);
		return 1;
	}
	rc = tf_pool_progress(the_pool);
	if (rc != TF_ESTATE) {
		tf_call_error(call, "progress returned %ld", rc);
		return 1;
	}
	return 0;
}

/* Returns the status its input (an int32) says. */
static int give_status(struct tf_call *call, const void *in, size_t len,
		       void *ctx)
{
	int32_t st = 0;

	(void)ctx;
	memcpy(&st, in, len < sizeof(st) ? len : sizeof(st));
	if (st == -5002)
		tf_call_error(call, "my own message");
	return st;
}

/* Echoes its input, and puts this process's peak resident size in KiB
 * (getrusage) in the first 8 bytes of the result. */
static int echo_rss(struct tf_call *call, const void *in, size_t len,
		    void *ctx)
{
	struct rusage ru;
	int64_t kib;
	unsigned char *out;

	(void)ctx;
	out = tf_call_result(call, len < 8 ? 8 : len);
	if (len)
		memcpy(out, in, len);
	getrusage(RUSAGE_SELF, &ru);
	kib = ru.ru_maxrss;
	memcpy(out, &kib, sizeof(kib));
	return 0;
}

/* Its result: {x * x, tf_call_index()}. */
static int square_index(struct tf_call *call, const void *in, size_t len,
			void *ctx)
{
	int64_t x, r[2];

	(void)ctx;
	(void)len;
	memcpy(&x, in, sizeof(x));
	r[0] = x * x;
	r[1] = (int64_t)tf_call_index(call);
	memcpy(tf_call_result(call, sizeof(r)), r, sizeof(r));
	return 0;
}

static int nothing(void *arg, size_t index, int status, const void *res,
		   size_t len, const char *error)
{
	(void)arg;
	(void)index;
	(void)status;
	(void)res;
	(void)len;
	(void)error;
	return 0;
}

static void mode_misuse(struct tf_pool *pool)
{
	struct tf_future *f = (struct tf_future *)1, *fs[3];
	struct tf_buf bad[2] = { { "12345678", 8 }, { NULL, 8 } }, out[2];
	struct tf_map_opts mo;
	struct tf_pool *other = NULL;
	struct tf_pool_opts o;
	MPI_Comm self = MPI_COMM_SELF;
	int status[8], i, refused = 0;
	char *errors[8];
	int32_t st[8] = { 0, -5013, -5000, -5999, -5002, -4999, -6000, 7 };
	int64_t x = 2, y;
	long rc;

	/* NULL function names: TF_EINVAL, no crash, nothing queued. */
	CHECK(tf_pool_map(pool, NULL, &x, sizeof(x), 1, &y, sizeof(y),
			  NULL) == TF_EINVAL,
	      "tf_pool_map with a NULL name: TF_EINVAL");
	CHECK(tf_pool_submit(pool, NULL, &x, sizeof(x), &f) == TF_EINVAL &&
		      f == NULL,
	      "tf_pool_submit with a NULL name: TF_EINVAL, *f NULL");
	CHECK(tf_pool_map_unordered(pool, NULL, &x, sizeof(x), 1, nothing,
				    NULL, NULL) == TF_EINVAL,
	      "tf_pool_map_unordered with a NULL name: TF_EINVAL");
	CHECK(tf_pool_mapv(pool, NULL, bad, 1, out, NULL) == TF_EINVAL,
	      "tf_pool_mapv with a NULL name: TF_EINVAL");
	CHECK(tf_pool_mapv(pool, "square", bad, 2, out, NULL) == TF_EINVAL,
	      "tf_pool_mapv with an entry {NULL, 8}: TF_EINVAL");
	CHECK(tf_pool_mapv_unordered(pool, "square", bad, 2, nothing, NULL,
				     NULL) == TF_EINVAL,
	      "tf_pool_mapv_unordered with an entry {NULL, 8}: TF_EINVAL");
	/* The pool still works after all that. */
	x = 9;
	CHECK(tf_pool_map(pool, "square", &x, sizeof(x), 1, &y, sizeof(y),
			  NULL) == 0 &&
		      y == 81,
	      "the pool works after the refusals");

	/* Calls from inside a task: refused on every rank (this mode runs
	 * with master_works, so the master runs some of them). */
	memset(&mo, 0, sizeof(mo));
	mo.status = status;
	mo.errors = errors;
	mo.chunk = 1;
	rc = tf_pool_mapv(pool, "reenter", NULL, 0, NULL, NULL);
	{
		struct tf_buf in[8], res[8];

		for (i = 0; i < 8; i++) {
			in[i].data = &x;
			in[i].len = sizeof(x);
		}
		rc = tf_pool_mapv(pool, "reenter", in, 8, res, &mo);
		for (i = 0; i < 8; i++) {
			refused += status[i] == 0;
			if (status[i])
				printf("# task %d: %s\n", i,
				       errors[i] ? errors[i] : "?");
			free(errors[i]);
			free(res[i].data);
		}
	}
	CHECK(rc == 0 && refused == 8,
	      "a task's pool calls get TF_ESTATE on every rank (%d of 8)",
	      refused);

	/* Reserved statuses: mapped to TF_ETASK, the value in the message;
	 * a task's own message is kept; values outside the range pass. */
	rc = tf_pool_map(pool, "give_status", st, sizeof(*st), 8, NULL, 0,
			 &mo);
	CHECK(rc == 7 && status[0] == 0 && status[1] == TF_ETASK &&
		      status[2] == TF_ETASK && status[3] == TF_ETASK &&
		      status[4] == TF_ETASK && status[5] == -4999 &&
		      status[6] == -6000 && status[7] == 7,
	      "task statuses in [-5999, -5000] become TF_ETASK, others "
	      "pass (%d %d %d %d %d %d %d %d)",
	      status[0], status[1], status[2], status[3], status[4],
	      status[5], status[6], status[7]);
	CHECK(errors[1] && strstr(errors[1], "returned -5013") &&
		      strstr(errors[1], "reserved") && errors[4] &&
		      !strcmp(errors[4], "my own message"),
	      "the reserved value is in the task's message (%s), a task's "
	      "own message is kept (%s)",
	      errors[1] ? errors[1] : "NULL", errors[4] ? errors[4] : "NULL");
	for (i = 0; i < 8; i++)
		free(errors[i]);
	tf_pool_submit(pool, "give_status", &st[1], sizeof(st[1]), &fs[0]);
	tf_future_wait(fs[0]);
	CHECK(tf_future_status(fs[0]) == TF_ETASK && tf_future_error(fs[0]) &&
		      strstr(tf_future_error(fs[0]), "-5013"),
	      "a future returning -5013 is TF_ETASK, not TF_ECRASH");
	tf_future_free(fs[0]);

	/* wait_any: "none left" is TF_ENONE, not -1 (-EPERM). */
	fs[0] = fs[1] = fs[2] = NULL;
	rc = tf_future_wait_any(fs, 3);
	CHECK(rc == TF_ENONE && rc != -1 &&
		      strcmp(tf_strerror((int)rc), tf_strerror(-1)),
	      "wait_any with no future left: TF_ENONE (%ld: %s)", rc,
	      tf_strerror((int)rc));
	/* Futures of two pools: TF_EINVAL. The second pool is this rank's
	 * alone, on MPI_COMM_SELF. */
	tf_pool_opts_init(&o);
	o.mpi_comm = &self;
	if (tf_pool_open(&other, &o) ||
	    tf_pool_register(other, "square", square) ||
	    tf_pool_start(other) != 1) {
		CHECK(0, "a second pool on MPI_COMM_SELF starts");
		tf_pool_close(other);
		return;
	}
	x = 4;
	tf_pool_submit(pool, "nap", NULL, 0, &fs[0]);
	tf_pool_submit(other, "square", &x, sizeof(x), &fs[2]);
	rc = tf_future_wait_any(fs, 3);
	CHECK(rc == TF_EINVAL, "wait_any over two pools' futures: "
			       "TF_EINVAL (%ld)",
	      rc);
	tf_future_wait(fs[2]);
	tf_future_wait(fs[0]);
	CHECK(tf_future_status(fs[2]) == 0 && tf_future_status(fs[0]) == 0,
	      "both pools' futures complete after it");
	tf_future_free(fs[0]);
	tf_future_free(fs[2]);
	tf_pool_close(other);
}

/* Busy computing for seconds, calling poke now and then. */
static void compute_for(double seconds, struct tf_future *f,
			struct tf_pool *pool)
{
	double until = now_s() + seconds;
	volatile double acc = 0;

	while (now_s() < until) {
		int k;

		for (k = 0; k < 20000; k++)
			acc += k * 1e-9;
		if (f)
			tf_future_test(f);
		else
			tf_pool_progress(pool);
	}
}

static void mode_test_drives(struct tf_pool *pool)
{
	struct tf_future *f[20];
	int32_t ms = 20;
	int round, i;

	for (round = 0; round < 2; round++) {
		int done = 0;

		for (i = 0; i < 20; i++)
			tf_pool_submit(pool, "nap", &ms, sizeof(ms), &f[i]);
		tf_future_wait(f[0]);
		/* 20 tasks of 20 ms: well within 3 s, if the polls drive
		 * the pool. tf_future_status() makes no progress. */
		compute_for(3.0, round == 0 ? f[0] : NULL, pool);
		for (i = 0; i < 20; i++) {
			done += tf_future_status(f[i]) == 0;
			tf_future_free(f[i]);
		}
		CHECK(done == 20,
		      "%s while the master computes: %d of 20 futures done",
		      round == 0 ? "tf_future_test() on a done future"
				 : "tf_pool_progress()",
		      done);
	}
	CHECK(tf_pool_progress(pool) >= 0, "tf_pool_progress() when idle");
}

static void mode_timeouts(struct tf_pool *pool)
{
	struct tf_future *f[3];
	int32_t long_ms = 1500, short_ms = 10;
	double t0, took;
	long rc;

	tf_pool_submit(pool, "nap", &long_ms, sizeof(long_ms), &f[0]);
	t0 = now_s();
	rc = tf_future_wait_for(f[0], 0.2);
	took = now_s() - t0;
	CHECK(rc == TF_ETIMEDOUT && took >= 0.19 && took < 1.2 &&
		      tf_future_status(f[0]) == TF_ESTATE,
	      "wait_for(0.2 s) on a 1.5 s task: TF_ETIMEDOUT after %.3f s",
	      took);
	rc = tf_future_wait_for(f[0], 0);
	CHECK(rc == TF_ETIMEDOUT, "wait_for(0) on it: TF_ETIMEDOUT at once");
	f[1] = f[2] = NULL;
	t0 = now_s();
	rc = tf_future_wait_any_for(f, 3, 0.2);
	took = now_s() - t0;
	CHECK(rc == TF_ETIMEDOUT && took >= 0.19 && took < 1.2,
	      "wait_any_for(0.2 s): TF_ETIMEDOUT after %.3f s", took);
	tf_pool_submit(pool, "nap", &short_ms, sizeof(short_ms), &f[2]);
	rc = tf_future_wait_any_for(f, 3, 10.0);
	CHECK(rc == 2 && tf_future_status(f[2]) == 0,
	      "wait_any_for(10 s): the short task's index (%ld)", rc);
	rc = tf_future_wait_for(f[0], 10.0);
	CHECK(rc == 0 && tf_future_status(f[0]) == 0,
	      "wait_for(10 s): the long task completes (%ld)", rc);
	CHECK(tf_future_wait_for(f[0], 0) == 0,
	      "wait_for(0) on a done future: 0");
	tf_future_free(f[0]);
	tf_future_free(f[2]);
	/* A map with a time limit: 40 naps of 100 ms, one a message, on
	 * the workers; past 0.5 s it returns, those done have their
	 * status, the rest keep the caller's. */
	{
		int32_t ms[40];
		int status[40], i, done = 0, untouched = 0;
		struct tf_map_opts mo;
		int64_t x[3] = { 1, 2, 3 }, y[3] = { 0, 0, 0 };

		memset(&mo, 0, sizeof(mo));
		mo.chunk = 1;
		mo.status = status;
		mo.timeout = 0.5;
		for (i = 0; i < 40; i++) {
			ms[i] = 100;
			status[i] = 12345;
		}
		t0 = now_s();
		rc = tf_pool_map(pool, "nap", ms, sizeof(*ms), 40, NULL, 0, &mo);
		took = now_s() - t0;
		for (i = 0; i < 40; i++) {
			done += status[i] == 0;
			untouched += status[i] == 12345;
		}
		CHECK(rc == TF_ETIMEDOUT && took >= 0.49 && took < 2.0 &&
			      done > 0 && untouched > 0 && done + untouched == 40,
		      "a map of 4 s of tasks with timeout 0.5 s: TF_ETIMEDOUT "
		      "after %.2f s, %d done, %d untouched",
		      took, done, untouched);
		rc = tf_pool_map(pool, "square", x, sizeof(*x), 3, y, sizeof(*y),
				 NULL);
		CHECK(rc == 0 && y[0] == 1 && y[1] == 4 && y[2] == 9,
		      "the next map runs as usual (%ld: %lld %lld %lld)", rc,
		      (long long)y[0], (long long)y[1], (long long)y[2]);
	}
}

/* A map of 48 records of 2 MiB (96 MiB) through a worker that runs them
 * in no time, so that the chunker would make its chunks large: the
 * worker's peak resident size may grow by a few records only. */
static void mode_mapv_memory(struct tf_pool *pool)
{
	size_t n = 48, rec = 2u << 20, i;
	struct tf_buf *in = calloc(n, sizeof(*in)), *out = calloc(n, sizeof(*out));
	int64_t base = 0, peak = 0, kib;
	int64_t small = 0;
	struct tf_buf one = { &small, sizeof(small) }, res;
	long rc;

	/* The worker's size before: a map of one small record. */
	if (tf_pool_mapv(pool, "echo_rss", &one, 1, &res, NULL) == 0 &&
	    res.len >= 8)
		memcpy(&base, res.data, sizeof(base));
	free(res.data);
	for (i = 0; i < n; i++) {
		in[i].len = rec;
		in[i].data = malloc(rec);
		memset(in[i].data, (int)i, rec);
	}
	rc = tf_pool_mapv(pool, "echo_rss", in, n, out, NULL);
	for (i = 0; i < n; i++) {
		if (out[i].len == rec) {
			memcpy(&kib, out[i].data, sizeof(kib));
			if (kib > peak)
				peak = kib;
		} else {
			rc = rc ? rc : -1;
		}
		free(out[i].data);
		free(in[i].data);
	}
	printf("# worker peak RSS: %lld KiB before the map, %lld KiB after "
	       "(grew %lld KiB for %zu MiB of records)\n",
	       (long long)base, (long long)peak, (long long)(peak - base),
	       n * rec >> 20);
	/* Records of 2 MiB: it holds a few chunks of one record each, their
	 * results, and MPI's buffers; 32 MiB is 16 records' worth. */
	/* A sanitizer's shadow memory and quarantine say nothing of ours
	 * (TF_CFLAGS: the build's CFLAGS, from make check). */
	if (getenv("TF_CFLAGS") && strstr(getenv("TF_CFLAGS"), "-fsanitize="))
		CHECK(rc == 0, "mapv of 2 MiB records ran (its peak, %lld KiB "
		      "more, is not checked in a sanitizer build)",
		      (long long)(peak - base));
	else
		CHECK(rc == 0 && base > 0 && peak - base < 32 * 1024,
		      "a worker's peak grew by %lld KiB (< 32 MiB) over a "
		      "96 MiB map of 2 MiB records",
		      (long long)(peak - base));
	free(in);
	free(out);
}

static void mode_bulk_futures(struct tf_pool *pool)
{
	size_t n = 200000, i, bad = 0, nonzero = 0;
	struct tf_future **fs = malloc(n * sizeof(*fs)), *slowf[8], *q[12];
	int32_t ms = 300;
	double t, rate;
	int64_t x;
	int cancelled = 0, wrong = 0;

	/* A warm-up, so that the chunker knows the function. */
	for (i = 0; i < 1000; i++) {
		x = (int64_t)i;
		tf_pool_submit(pool, "square_index", &x, sizeof(x), &fs[i]);
	}
	for (i = 0; i < 1000; i++) {
		tf_future_wait(fs[i]);
		tf_future_free(fs[i]);
	}
	t = now_s();
	for (i = 0; i < n; i++) {
		x = (int64_t)i;
		if (tf_pool_submit(pool, "square_index", &x, sizeof(x),
				   &fs[i]))
			bad++;
	}
	for (i = 0; i < n; i++) {
		const int64_t *r;
		size_t len;

		if (tf_future_wait(fs[i]) || tf_future_status(fs[i]) ||
		    !(r = tf_future_result(fs[i], &len)) ||
		    len != 2 * sizeof(*r) || r[0] != (int64_t)(i * i))
			bad++;
		else if (r[1] != 0)
			nonzero++;
		tf_future_free(fs[i]);
	}
	rate = (double)n / (now_s() - t);
	printf("# %zu tiny futures: %.0f futures/s\n", n, rate);
	CHECK(bad == 0 && nonzero == 0,
	      "%zu futures in bulk: each result right, tf_call_index() 0 "
	      "(%zu bad, %zu non-zero)",
	      n, bad, nonzero);
	/* The rate is bench/pool.sh's to judge (make bench-pool), not a
	 * timed test's: a loaded or sanitizer-built run is slower. */

	/* Cancels in the middle and at the end of a batch: every rank is
	 * busy with a nap, so the 12 futures behind wait in the queue. */
	for (i = 0; i < 8; i++)
		tf_pool_submit(pool, "nap", &ms, sizeof(ms), &slowf[i]);
	for (i = 0; i < 12; i++) {
		x = (int64_t)i + 1;
		tf_pool_submit(pool, "square_index", &x, sizeof(x), &q[i]);
	}
	cancelled += tf_future_cancel(q[3]);
	cancelled += tf_future_cancel(q[4]);
	cancelled += tf_future_cancel(q[11]);
	cancelled += tf_future_cancel(q[10]);
	tf_future_free(q[7]); /* queued: cancelled too */
	q[7] = NULL;
	for (i = 0; i < 12; i++) {
		int want_cancel = i == 3 || i == 4 || i == 10 || i == 11;
		const int64_t *r;

		if (!q[i])
			continue;
		tf_future_wait(q[i]);
		r = tf_future_result(q[i], NULL);
		if (want_cancel ? tf_future_status(q[i]) != TF_ECANCELLED
				: tf_future_status(q[i]) != 0 || !r ||
					  r[0] != (int64_t)((i + 1) * (i + 1)))
			wrong++;
		tf_future_free(q[i]);
	}
	for (i = 0; i < 8; i++) {
		tf_future_wait(slowf[i]);
		tf_future_free(slowf[i]);
	}
	CHECK(cancelled == 4 && wrong == 0,
	      "queued futures cancelled in the middle and at the end of a "
	      "batch: %d cancelled, %d wrong",
	      cancelled, wrong);

	/* Functions mixed: each change starts a batch of its own. */
	for (i = 0; i < 1000; i++) {
		x = (int64_t)i;
		tf_pool_submit(pool, i % 3 ? "square_index" : "square", &x,
			       sizeof(x), &fs[i]);
	}
	bad = 0;
	for (i = 0; i < 1000; i++) {
		const int64_t *r;
		size_t len;

		tf_future_wait(fs[i]);
		r = tf_future_result(fs[i], &len);
		if (tf_future_status(fs[i]) || !r ||
		    len != (i % 3 ? 16u : 8u) || r[0] != (int64_t)(i * i))
			bad++;
		tf_future_free(fs[i]);
	}
	CHECK(bad == 0, "1000 futures of two functions mixed (%zu bad)",
	      bad);
	/* Left for close: queued ones are cancelled, their memory freed. */
	for (i = 0; i < 1000; i++) {
		x = (int64_t)i;
		tf_pool_submit(pool, "square", &x, sizeof(x), &fs[i]);
	}
	free(fs);
}

/* The imap tests' producer and consumer: inputs 0, 1, ... up to n, the
 * most held at once (produced, not yet handed back), results checked. */
struct stream {
	size_t n, produced, consumed, max_held, bad, stop_at;
	int fail_at; /* the producer's index that returns -7 (-1: none) */
	int64_t x;
};

static int stream_next(void *arg, size_t index, const void **in,
		       size_t *len)
{
	struct stream *s = arg;

	if (index != s->produced)
		s->bad++;
	if ((int)index == s->fail_at)
		return -7;
	if (index == s->n)
		return 0;
	s->x = (int64_t)index;
	*in = &s->x;
	*len = sizeof(s->x);
	s->produced++;
	if (s->produced - s->consumed > s->max_held)
		s->max_held = s->produced - s->consumed;
	return 1;
}

static int stream_result(void *arg, size_t index, int status,
			 const void *res, size_t len, const char *error)
{
	struct stream *s = arg;
	int64_t r[2];

	(void)error;
	if (index != s->consumed || status || len != sizeof(r))
		s->bad++;
	else if (memcpy(r, res, sizeof(r)), r[0] != (int64_t)(index * index))
		s->bad++;
	s->consumed++;
	return s->stop_at && s->consumed == s->stop_at ? 42 : 0;
}

static void mode_imap(struct tf_pool *pool)
{
	struct stream s;
	struct tf_map_opts mo;
	int status[1];
	struct tf_future *f;
	int64_t x = 3;
	long rc;

	memset(&s, 0, sizeof(s));
	s.n = 100000;
	s.fail_at = -1;
	rc = tf_pool_imap(pool, "square_index", stream_next, &s, stream_result,
			  &s, 64, NULL);
	CHECK(rc == 0 && s.bad == 0 && s.consumed == s.n,
	      "imap of %zu inputs: each result once, in order (%ld, %zu "
	      "bad, %zu handed back)",
	      s.n, rc, s.bad, s.consumed);
	CHECK(s.max_held <= 64 && s.max_held > 1,
	      "imap held at most its window of 64 inputs (at most %zu)",
	      s.max_held);

	memset(&s, 0, sizeof(s));
	s.n = 100000;
	s.fail_at = -1;
	s.stop_at = 100;
	rc = tf_pool_imap(pool, "square_index", stream_next, &s, stream_result,
			  &s, 32, NULL);
	CHECK(rc == 42 && s.consumed == 100 && s.produced <= 100 + 32,
	      "imap stopped by its callback: returns 42 after 100 results, "
	      "%zu inputs pulled (at most 132)",
	      s.produced);

	memset(&s, 0, sizeof(s));
	s.n = 1000;
	s.fail_at = 500;
	rc = tf_pool_imap(pool, "square_index", stream_next, &s, stream_result,
			  &s, 0, NULL);
	CHECK(rc == -7 && s.bad == 0 && s.consumed <= 500,
	      "imap stopped by its producer: returns its -7 (%ld)", rc);

	memset(&mo, 0, sizeof(mo));
	mo.status = status;
	memset(&s, 0, sizeof(s));
	s.n = 10;
	s.fail_at = -1;
	CHECK(tf_pool_imap(pool, "square_index", stream_next, &s, NULL, NULL,
			   0, NULL) == TF_EINVAL &&
		      tf_pool_imap(pool, NULL, stream_next, &s, stream_result,
				   &s, 0, NULL) == TF_EINVAL &&
		      tf_pool_imap(pool, "square_index", stream_next, &s,
				   stream_result, &s, 0, &mo) == TF_EINVAL &&
		      tf_pool_imap(pool, "nosuch", stream_next, &s,
				   stream_result, &s, 0, NULL) == TF_EREGISTER &&
		      s.produced == 0,
	      "imap refuses NULL callbacks or name, per-task options, an "
	      "unknown function, pulling nothing");
	/* The pool goes on as before. */
	tf_pool_submit(pool, "square", &x, sizeof(x), &f);
	tf_future_set_tag(f, &x);
	tf_future_wait(f);
	CHECK(tf_future_status(f) == 0 && tf_future_tag(f) == &x,
	      "a future after imap, with its tag");
	tf_future_free(f);
}

static void mode_task_timeout(struct tf_pool *pool)
{
	struct tf_future *f[4];
	int32_t ms[4] = { 20000, 10, 10, 10 };
	double t0 = now_s(), took;
	int i, ok_rest = 0;

	for (i = 0; i < 4; i++)
		tf_pool_submit(pool, "nap", &ms[i], sizeof(ms[i]), &f[i]);
	for (i = 0; i < 4; i++)
		tf_future_wait(f[i]);
	took = now_s() - t0;
	for (i = 1; i < 4; i++)
		ok_rest += tf_future_status(f[i]) == 0;
	CHECK(tf_future_status(f[0]) == TF_ETIMEDOUT &&
		      tf_future_error(f[0]) &&
		      strstr(tf_future_error(f[0]), "time limit of 0.5 s") &&
		      took < 10.0,
	      "a 20 s task under task_timeout 0.5 s: TF_ETIMEDOUT after "
	      "%.2f s (%s)",
	      took, tf_future_error(f[0]) ? tf_future_error(f[0]) : "NULL");
	CHECK(ok_rest == 3, "the other tasks succeed (%d of 3)", ok_rest);
	for (i = 0; i < 4; i++)
		tf_future_free(f[i]);
}

static void mode_long_queue(struct tf_pool *pool)
{
	struct tf_future *lng, *shorts[6], *nap2[2], *queued;
	int32_t long_ms = 3000, short_ms = 50, nap2_ms = 2000;
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	double t0 = now_s(), last = 0, long_at;
	char path[512];
	int i, ok_short = 0, long_done_then, cancelled;

	/* One long task runs on a worker; short ones come while it runs. */
	tf_pool_submit(pool, "nap", &long_ms, sizeof(long_ms), &lng);
	drive_for(pool, 0.3);
	for (i = 0; i < 6; i++)
		tf_pool_submit(pool, "nap", &short_ms, sizeof(short_ms),
			       &shorts[i]);
	for (i = 0; i < 6; i++) {
		tf_future_wait(shorts[i]);
		ok_short += tf_future_status(shorts[i]) == 0;
	}
	last = now_s() - t0;
	long_done_then = tf_future_test(lng);
	tf_future_wait(lng);
	long_at = now_s() - t0;
	CHECK(ok_short == 6 && !long_done_then && last < 2.0 &&
		      tf_future_status(lng) == 0,
	      "6 short futures submitted behind a 3 s one are done after "
	      "%.2f s, the long one after %.2f s (%d ok, long done then: %d)",
	      last, long_at, ok_short, long_done_then);
	for (i = 0; i < 6; i++)
		tf_future_free(shorts[i]);
	tf_future_free(lng);

	/* Both workers run long tasks: a third future waits on the master,
	 * where cancelling it takes it back before it ever runs. */
	snprintf(path, sizeof(path), "%s/pool_edges_cancel.%ld", dir,
		 (long)getpid());
	unlink(path);
	t0 = now_s();
	for (i = 0; i < 2; i++)
		tf_pool_submit(pool, "nap", &nap2_ms, sizeof(nap2_ms),
			       &nap2[i]);
	drive_for(pool, 0.3);
	tf_pool_submit(pool, "touch", path, strlen(path), &queued);
	drive_for(pool, 0.2);
	cancelled = tf_future_cancel(queued);
	CHECK(cancelled == 1 && tf_future_status(queued) == TF_ECANCELLED,
	      "a future queued while every worker runs a long task is "
	      "cancelled (%d, status %d)",
	      cancelled, tf_future_status(queued));
	for (i = 0; i < 2; i++)
		tf_future_wait(nap2[i]);
	drive_for(pool, 0.5);
	CHECK(access(path, F_OK) != 0,
	      "the cancelled future never ran (%s %s)", path,
	      access(path, F_OK) ? "absent" : "exists");
	unlink(path);
	tf_future_free(queued);
	for (i = 0; i < 2; i++)
		tf_future_free(nap2[i]);
	(void)t0;
}

static void mode_reclaim(struct tf_pool *pool)
{
	struct tf_future *lng, *shorts[8];
	int32_t long_ms = 3000, short_ms = 50;
	double t0 = now_s(), last;
	int i, ok_short = 0, long_done_then;

	tf_pool_submit(pool, "nap", &long_ms, sizeof(long_ms), &lng);
	for (i = 0; i < 8; i++)
		tf_pool_submit(pool, "nap", &short_ms, sizeof(short_ms),
			       &shorts[i]);
	for (i = 0; i < 8; i++) {
		tf_future_wait(shorts[i]);
		ok_short += tf_future_status(shorts[i]) == 0;
	}
	last = now_s() - t0;
	long_done_then = tf_future_test(lng);
	tf_future_wait(lng);
	CHECK(ok_short == 8 && !long_done_then && last < 2.0 &&
		      tf_future_status(lng) == 0,
	      "8 short futures submitted with a 3 s one are done after %.2f s, "
	      "the long one after %.2f s (%d ok, long done then: %d)",
	      last, now_s() - t0, ok_short, long_done_then);
	for (i = 0; i < 8; i++)
		tf_future_free(shorts[i]);
	tf_future_free(lng);
}

/* A 30 s task runs (and a future waits behind it) when the master
 * closes with a limit of 1 s: TF_ETIMEDOUT within a few seconds. With
 * isolate, the task's process (named marker) is gone after it. Returns
 * main's exit code. */
static int mode_close_for(struct tf_pool *pool, const char *marker)
{
	struct tf_future *f, *behind;
	int32_t ms = 100;
	char cmd[128];
	double t0, took;
	int rc, left;

	tf_pool_submit(pool, "named_nap", marker, strlen(marker), &f);
	drive_for(pool, 0.5);
	tf_pool_submit(pool, "nap", &ms, sizeof(ms), &behind);
	t0 = now_s();
	rc = tf_pool_close_for(pool, 1.0);
	took = now_s() - t0;
	CHECK(rc == TF_ETIMEDOUT && took < 5.0,
	      "tf_pool_close_for(1 s) with a 30 s task running returns "
	      "TF_ETIMEDOUT after %.2f s (%s; %s)",
	      took, tf_strerror(rc), tf_pool_errmsg(NULL));
	usleep(300000);
	snprintf(cmd, sizeof(cmd), "pgrep -x '%s' >/dev/null", marker);
	left = system(cmd) == 0;
	printf("# the task's process %s after the close\n",
	       left ? "still runs" : "is gone");
	if (getenv("POOL_EDGES_WANT_GONE"))
		CHECK(!left, "the isolated task's process (%s) was killed",
		      marker);
	fflush(stdout);
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "misuse";
	struct tf_pool_opts o;
	struct tf_pool *pool;
	int rc, r;

	tf_pool_opts_init(&o);
	if (!strcmp(mode, "misuse"))
		o.master_works = 1;
	if (!strcmp(mode, "mapv-memory"))
		o.master_works = 0;
	if (!strcmp(mode, "close-isolated") || !strcmp(mode, "reclaim"))
		o.isolate = 1;
	if (!strcmp(mode, "task-timeout")) {
		struct tf_pool *none = (struct tf_pool *)1;

		/* A time limit without isolation is refused. */
		o.task_timeout = 0.5;
		rc = tf_pool_open(&none, &o);
		if (world_rank_of_env() == 0)
			CHECK(rc == TF_EINVAL && none == NULL,
			      "task_timeout without isolate: TF_EINVAL (%d)",
			      rc);
		o.isolate = 1;
	}
	rc = tf_pool_open(&pool, &o);
	if (rc) {
		printf("FAIL open: %s\n", tf_strerror(rc));
		return 4;
	}
	the_pool = pool;
	tf_pool_register(pool, "square", square);
	tf_pool_register(pool, "nap", nap);
	tf_pool_register(pool, "reenter", reenter);
	tf_pool_register(pool, "give_status", give_status);
	tf_pool_register(pool, "echo_rss", echo_rss);
	tf_pool_register(pool, "square_index", square_index);
	tf_pool_register(pool, "touch", touch);
	tf_pool_register(pool, "named_nap", named_nap);
	rc = tf_pool_start(pool);
	if (rc == 1) {
		if (!strcmp(mode, "misuse"))
			mode_misuse(pool);
		else if (!strcmp(mode, "test-drives"))
			mode_test_drives(pool);
		else if (!strcmp(mode, "timeouts"))
			mode_timeouts(pool);
		else if (!strcmp(mode, "mapv-memory"))
			mode_mapv_memory(pool);
		else if (!strcmp(mode, "bulk-futures"))
			mode_bulk_futures(pool);
		else if (!strcmp(mode, "imap"))
			mode_imap(pool);
		else if (!strcmp(mode, "task-timeout"))
			mode_task_timeout(pool);
		else if (!strcmp(mode, "long-queue"))
			mode_long_queue(pool);
		else if (!strcmp(mode, "reclaim"))
			mode_reclaim(pool);
		else if (!strncmp(mode, "close-", 6))
			return mode_close_for(pool, argc > 2 ? argv[2] : "tfclose");
		else
			CHECK(0, "a known mode (%s)", mode);
	} else if (rc < 0) {
		printf("FAIL start: %s\n", tf_strerror(rc));
		failures++;
	}
	r = tf_pool_rank(pool);
	rc = tf_pool_close(pool);
	/* The master's close-inproc leaves a worker behind: a loss. */
	if (rc == TF_ELOST && !strcmp(mode, "close-inproc"))
		rc = 0;
	if (rc) {
		printf("FAIL close on rank %d: %s\n", r, tf_strerror(rc));
		failures++;
	}
	(void)argc;
	return failures ? 1 : 0;
}
