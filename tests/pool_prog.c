/*
 * The C API's integration-test program: each mode exercises one part of
 * the pool and prints "ok ..." or "FAIL ..." lines on the master (and
 * exits 1 after a FAIL), for tests/pool.sh to run under 1 to 5 ranks.
 *
 *   pool_prog MODE [TOKEN]
 *
 * TOKEN is ignored: tests/pool.sh passes one so that it can tell this
 * run's processes from others' when it looks for ranks left behind. The
 * lost-* and master-dies modes kill ranks, so they need a launcher that
 * keeps the others running (mpirun --enable-recovery).
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mpi.h>

#include <taskfarm.h>

static int failures;
/* Isolation forks per chunk: its maps are kept smaller. */
static int isolated;

/* This rank and the number of ranks; 0 and 1 when the pool runs
 * without MPI (no launcher). */
static int world_rank(void)
{
	int inited = 0, r = 0;

	MPI_Initialized(&inited);
	if (inited)
		MPI_Comm_rank(MPI_COMM_WORLD, &r);
	return r;
}

static int world_size(void)
{
	int inited = 0, n = 1;

	MPI_Initialized(&inited);
	if (inited)
		MPI_Comm_size(MPI_COMM_WORLD, &n);
	return n;
}

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

/* f(x) = x * x + the worker's context offset (0 without init). */
static int square(struct tf_call *call, const void *in, size_t len,
		  void *ctx)
{
	int64_t x, add = ctx ? *(int64_t *)ctx : 0;

	if (len != sizeof(x))
		return 99;
	memcpy(&x, in, sizeof(x));
	x = x * x + add;
	memcpy(tf_call_result(call, sizeof(x)), &x, sizeof(x));
	return 0;
}

/* Returns the rank that ran it and sleeps a little, so work spreads. */
static int whoami(struct tf_call *call, const void *in, size_t len,
		  void *ctx)
{
	int32_t r = world_rank();

	(void)in;
	(void)len;
	(void)ctx;
	usleep(2000);
	memcpy(tf_call_result(call, sizeof(r)), &r, sizeof(r));
	return 0;
}

/* Fails the multiples of 7 with a message, and the multiples of 11
 * with a result of the wrong size. */
static int picky(struct tf_call *call, const void *in, size_t len,
		 void *ctx)
{
	int64_t x;

	(void)ctx;
	memcpy(&x, in, sizeof(x));
	if (x % 7 == 0) {
		tf_call_error(call, "%lld is a multiple of 7", (long long)x);
		return 7;
	}
	if (x % 11 == 0) {
		memset(tf_call_result(call, 3), 'x', 3);
		return 0;
	}
	memcpy(tf_call_result(call, sizeof(x)), &x, sizeof(x));
	return 0;
}

/* Crashes on 13 and aborts on 17 (for isolation mode). */
static int crashy(struct tf_call *call, const void *in, size_t len,
		  void *ctx)
{
	int64_t x;

	(void)ctx;
	(void)len;
	memcpy(&x, in, sizeof(x));
	if (x == 13)
		raise(SIGSEGV);
	if (x == 17)
		abort();
	memcpy(tf_call_result(call, sizeof(x)), &x, sizeof(x));
	return 0;
}

/* Variable size: the result is the input repeated (x[0] % 5 + 1) times. */
static int repeat(struct tf_call *call, const void *in, size_t len,
		  void *ctx)
{
	size_t times = len ? (size_t)((const unsigned char *)in)[0] % 5 + 1 : 1;
	unsigned char *out = tf_call_result(call, len * times);
	size_t i;

	(void)ctx;
	for (i = 0; len && i < times; i++)
		memcpy(out + i * len, in, len);
	return 0;
}

/* A result of x megabytes, each byte (i % 251). */
static int big(struct tf_call *call, const void *in, size_t len, void *ctx)
{
	int64_t mb;
	unsigned char *out;
	size_t i, n;

	(void)ctx;
	(void)len;
	memcpy(&mb, in, sizeof(mb));
	n = (size_t)mb << 20;
	out = tf_call_result(call, n);
	for (i = 0; i < n; i++)
		out[i] = (unsigned char)(i % 251);
	return 0;
}

static int slow(struct tf_call *call, const void *in, size_t len, void *ctx)
{
	(void)call;
	(void)in;
	(void)len;
	(void)ctx;
	usleep(100000);
	return 0;
}

/* The rank that a lost-* mode kills. */
#define VICTIM 2

/* On the victim rank, ends its process at its 1500th task; elsewhere
 * returns { x * x, rank }. */
static int die_on_victim(struct tf_call *call, const void *in, size_t len,
			 void *ctx)
{
	static long ran;
	int64_t x, r[2];

	(void)len;
	(void)ctx;
	if (world_rank() == VICTIM && ++ran == 1500)
		raise(SIGKILL);
	memcpy(&x, in, sizeof(x));
	r[0] = x * x;
	r[1] = world_rank();
	memcpy(tf_call_result(call, sizeof(r)), r, sizeof(r));
	return 0;
}

/* Ends the victim's process at once; elsewhere sleeps 0.3 s (so that
 * futures submitted together land on different ranks) and returns the
 * rank. */
static int victim_dies(struct tf_call *call, const void *in, size_t len,
		       void *ctx)
{
	int32_t r = world_rank();

	(void)in;
	(void)len;
	(void)ctx;
	if (r == VICTIM)
		raise(SIGKILL);
	usleep(300000);
	memcpy(tf_call_result(call, sizeof(r)), &r, sizeof(r));
	return 0;
}

/* Ends the process of every worker rank. */
static int workers_die(struct tf_call *call, const void *in, size_t len,
		       void *ctx)
{
	(void)call;
	(void)in;
	(void)len;
	(void)ctx;
	if (world_rank() != 0)
		raise(SIGKILL);
	return 0;
}

/* square, but on the victim it also sets an alarm: SIGALRM ends its
 * process a second later, while it waits for work. */
static int alarm_on_victim(struct tf_call *call, const void *in, size_t len,
			   void *ctx)
{
	if (world_rank() == VICTIM)
		alarm(1);
	return square(call, in, len, ctx);
}

/* square, but 3 s on the victim: long enough to be declared lost. */
static int slow_on_victim(struct tf_call *call, const void *in, size_t len,
			  void *ctx)
{
	if (world_rank() == VICTIM)
		sleep(3);
	return square(call, in, len, ctx);
}

/* A result of as many bytes as the input says, of which only the first
 * and last are written (a huge one costs address space only). */
static int claim(struct tf_call *call, const void *in, size_t len, void *ctx)
{
	int64_t want;
	unsigned char *out;

	(void)len;
	(void)ctx;
	memcpy(&want, in, sizeof(want));
	out = tf_call_result(call, (size_t)want);
	if (want) {
		out[0] = 'a';
		out[want - 1] = 'z';
	}
	return 0;
}

static int init_offset(void **ctx, const void *arg, size_t len)
{
	int64_t *v = malloc(sizeof(*v));

	if (!v || len != sizeof(*v))
		return 1;
	memcpy(v, arg, sizeof(*v));
	*ctx = v;
	return 0;
}

static int init_fails_on_2(void **ctx, const void *arg, size_t len)
{
	(void)ctx;
	(void)arg;
	(void)len;
	return world_rank() == 2 ? 5 : 0;
}

/* The victim's initializer ends its process: a rank lost in the start. */
static int init_dies_on_victim(void **ctx, const void *arg, size_t len)
{
	(void)ctx;
	(void)arg;
	(void)len;
	if (world_rank() == VICTIM)
		raise(SIGKILL);
	return 0;
}

static void fini_free(void *ctx)
{
	free(ctx);
}

struct seen {
	unsigned char *count;
	size_t calls;
	int bad;
};

static int on_result(void *arg, size_t index, int status, const void *res,
		     size_t len, const char *error)
{
	struct seen *s = arg;
	int64_t v;

	(void)error;
	s->calls++;
	s->count[index]++;
	if (status || len != sizeof(v))
		s->bad++;
	else {
		memcpy(&v, res, sizeof(v));
		if (v != (int64_t)index * (int64_t)index)
			s->bad++;
	}
	return 0;
}

static struct tf_pool *the_pool;

/* Calls the pool from inside a callback: refused. */
static int reenter(void *arg, size_t index, int status, const void *res,
		   size_t len, const char *error)
{
	struct tf_future *f = NULL;
	int *refused = arg;
	int64_t x = 1;

	(void)index;
	(void)status;
	(void)res;
	(void)len;
	(void)error;
	if (tf_pool_submit(the_pool, "square", &x, sizeof(x), &f) ==
		    TF_ESTATE &&
	    !f)
		++*refused;
	return 0;
}

static int stop_after_10(void *arg, size_t index, int status,
			 const void *res, size_t len, const char *error)
{
	size_t *calls = arg;

	(void)index;
	(void)status;
	(void)res;
	(void)len;
	(void)error;
	return ++*calls == 10 ? 42 : 0;
}

static void mode_map(struct tf_pool *pool)
{
	size_t n = isolated ? 20000 : 100000, i, bad = 0;
	int64_t *in = malloc(n * sizeof(*in)), *out = malloc(n * sizeof(*out));
	long rc;

	for (i = 0; i < n; i++)
		in[i] = (int64_t)i - 500;
	memset(out, 0xff, n * sizeof(*out));
	rc = tf_pool_map(pool, "square", in, sizeof(*in), n, out,
			 sizeof(*out), NULL);
	for (i = 0; i < n; i++)
		bad += out[i] != in[i] * in[i];
	CHECK(rc == 0 && bad == 0,
	      "ordered map of %zu equals the serial loop (rc %ld, %zu differ)",
	      n, rc, bad);
	/* Again with forced chunk sizes, and an empty map. */
	{
		struct tf_map_opts mo = { .chunk = 7 };

		memset(out, 0, n * sizeof(*out));
		rc = tf_pool_map(pool, "square", in, sizeof(*in), 5000, out,
				 sizeof(*out), &mo);
		for (i = 0, bad = 0; i < 5000; i++)
			bad += out[i] != in[i] * in[i];
		CHECK(rc == 0 && bad == 0, "map with chunk 7 (%zu differ)",
		      bad);
	}
	CHECK(tf_pool_map(pool, "square", in, sizeof(*in), 0, out,
			  sizeof(*out), NULL) == 0,
	      "an empty map returns 0");
	CHECK(tf_pool_map(pool, "nosuch", in, sizeof(*in), 3, out,
			  sizeof(*out), NULL) == TF_EREGISTER,
	      "an unregistered name is TF_EREGISTER");
	free(in);
	free(out);
}

static void mode_spread(struct tf_pool *pool)
{
	size_t n = 400, i;
	int64_t *in = calloc(n, sizeof(*in));
	int32_t *who = calloc(n, sizeof(*who));
	int size = world_size(), used = 0, r;
	long rc;

	rc = tf_pool_map(pool, "whoami", in, sizeof(*in), n, who,
			 sizeof(*who), NULL);
	for (r = 0; r < size; r++)
		for (i = 0; i < n; i++)
			if (who[i] == r) {
				used++;
				break;
			}
	CHECK(rc == 0 && used == tf_pool_workers(pool),
	      "tasks ran on %d ranks (%d workers)", used,
	      tf_pool_workers(pool));
	free(in);
	free(who);
}

static void mode_unordered(struct tf_pool *pool)
{
	size_t n = 50000, i, twice = 0, never = 0;
	int64_t *in = malloc(n * sizeof(*in));
	struct seen s = { calloc(n, 1), 0, 0 };
	size_t calls = 0;
	long rc;

	for (i = 0; i < n; i++)
		in[i] = (int64_t)i;
	rc = tf_pool_map_unordered(pool, "square", in, sizeof(*in), n,
				   on_result, &s, NULL);
	for (i = 0; i < n; i++) {
		twice += s.count[i] > 1;
		never += s.count[i] == 0;
	}
	CHECK(rc == 0 && s.calls == n && twice == 0 && never == 0 &&
		      s.bad == 0,
	      "unordered: every index once (calls %zu, twice %zu, never %zu, "
	      "bad %d)",
	      s.calls, twice, never, s.bad);
	rc = tf_pool_map_unordered(pool, "square", in, sizeof(*in), n,
				   stop_after_10, &calls, NULL);
	CHECK(rc == 42 && calls == 10,
	      "a callback's non-zero return stops the map (rc %ld, calls %zu)",
	      rc, calls);
	{
		int refused = 0;

		the_pool = pool;
		rc = tf_pool_map_unordered(pool, "square", in, sizeof(*in),
					   100, reenter, &refused, NULL);
		CHECK(rc == 0 && refused == 100,
		      "a callback that calls the pool gets TF_ESTATE "
		      "(%d of 100)",
		      refused);
	}
	free(s.count);
	free(in);
}

static void mode_varsize(struct tf_pool *pool)
{
	size_t n = 3000, i, bad = 0;
	struct tf_buf *in = calloc(n, sizeof(*in)), *out = calloc(n, sizeof(*out));
	long rc;

	for (i = 0; i < n; i++) {
		in[i].len = i % 97; /* some empty inputs too */
		in[i].data = malloc(in[i].len + 1);
		memset(in[i].data, (int)(i % 256), in[i].len);
	}
	rc = tf_pool_mapv(pool, "repeat", in, n, out, NULL);
	for (i = 0; i < n; i++) {
		size_t times = in[i].len
				       ? (size_t)((unsigned char *)in[i].data)[0] %
						 5 + 1
				       : 1, k;

		if (out[i].len != in[i].len * times) {
			bad++;
			continue;
		}
		for (k = 0; in[i].len && k < times; k++)
			bad += memcmp((char *)out[i].data + k * in[i].len,
				      in[i].data, in[i].len) != 0;
		free(out[i].data);
		free(in[i].data);
	}
	CHECK(rc == 0 && bad == 0, "variable-size map (%zu wrong)", bad);
	free(in);
	free(out);
}

static void mode_errors(struct tf_pool *pool)
{
	size_t n = 1000, i, wrong = 0, expect = 0;
	int64_t *in = malloc(n * sizeof(*in)), *out = malloc(n * sizeof(*out));
	int *status = malloc(n * sizeof(*status));
	char **errors = malloc(n * sizeof(*errors));
	struct tf_map_opts mo = { .status = status, .errors = errors };
	long rc;

	for (i = 0; i < n; i++)
		in[i] = (int64_t)i + 1;
	rc = tf_pool_map(pool, "picky", in, sizeof(*in), n, out, sizeof(*out),
			 &mo);
	for (i = 0; i < n; i++) {
		int64_t x = in[i];

		if (x % 7 == 0) {
			expect++;
			wrong += status[i] != 7 || !errors[i] ||
				 !strstr(errors[i], "multiple of 7") ||
				 out[i] != 0;
		} else if (x % 11 == 0) {
			expect++;
			wrong += status[i] != TF_ETASK || !errors[i] ||
				 !strstr(errors[i], "result of 3 bytes");
		} else {
			wrong += status[i] != 0 || errors[i] || out[i] != x;
		}
		free(errors[i]);
	}
	CHECK(rc == (long)expect && wrong == 0,
	      "failures come back per task without stopping the others "
	      "(rc %ld of %zu expected, %zu wrong)",
	      rc, expect, wrong);

	/* A reserved word set stands for an option of a newer header: the
	 * call is refused before anything is done. */
	mo.reserved[0] = 1;
	rc = tf_pool_map(pool, "picky", in, sizeof(*in), n, out, sizeof(*out),
			 &mo);
	CHECK(rc == TF_EINVAL,
	      "a map whose options have a reserved word set is refused "
	      "(rc %ld)", rc);
	{
		struct tf_pool_opts po;
		struct tf_pool *other = pool;

		tf_pool_opts_init(&po);
		po.reserved[sizeof(po.reserved) / sizeof(*po.reserved) - 1] = 1;
		rc = tf_pool_open(&other, &po);
		CHECK(rc == TF_EINVAL && !other,
		      "tf_pool_open() refuses options with a reserved word "
		      "set (rc %ld)", rc);
		tf_pool_opts_init(&po);
		po.threads = 2;
		other = pool;
		rc = tf_pool_open(&other, &po);
		CHECK(rc == TF_EINVAL && !other,
		      "tf_pool_open() refuses threads = 2 (rc %ld)", rc);
	}
	free(in);
	free(out);
	free(status);
	free(errors);
}

static void mode_isolate(struct tf_pool *pool)
{
	size_t n = 40, i, wrong = 0;
	int64_t in[40], out[40];
	int status[40];
	char *errors[40];
	struct tf_map_opts mo = { .status = status, .errors = errors };
	long rc;

	for (i = 0; i < n; i++)
		in[i] = (int64_t)i;
	rc = tf_pool_map(pool, "crashy", in, sizeof(*in), n, out, sizeof(*out),
			 &mo);
	for (i = 0; i < n; i++) {
		if (i == 13)
			wrong += status[i] != TF_ECRASH || !errors[i] ||
				 !strstr(errors[i], "signal 11");
		else if (i == 17)
			wrong += status[i] != TF_ECRASH || !errors[i] ||
				 !strstr(errors[i], "signal 6");
		else
			wrong += status[i] != 0 || out[i] != in[i];
		if (status[i])
			printf("# task %zu: %s\n", i, errors[i]);
		free(errors[i]);
	}
	CHECK(rc == 2 && wrong == 0,
	      "isolation: a segfault and an abort are two error results, "
	      "the rest succeed (rc %ld, %zu wrong)",
	      rc, wrong);
	/* The ranks are still alive and serve another map. */
	mode_map(pool);
}

static void mode_futures(struct tf_pool *pool)
{
	struct tf_future *f[64], *slowf[16];
	size_t i, got = 0, bad = 0, cancelled = 0;
	int64_t x;
	long k;

	for (i = 0; i < 64; i++) {
		x = (int64_t)i;
		if (tf_pool_submit(pool, "square", &x, sizeof(x), &f[i]))
			bad++;
	}
	x = 5;
	/* wait, test, then wait_any over the rest (as completed). */
	CHECK(tf_future_wait(f[0]) == 0 && tf_future_test(f[0]) == 1 &&
		      tf_future_status(f[0]) == 0,
	      "wait then test a future");
	while ((k = tf_future_wait_any(f, 64)) >= 0) {
		size_t len;
		const int64_t *r = tf_future_result(f[k], &len);

		if (len != sizeof(*r) || *r != (int64_t)k * k ||
		    tf_future_error(f[k]))
			bad++;
		got++;
		tf_future_free(f[k]);
		f[k] = NULL;
	}
	CHECK(got == 64 && bad == 0 && k == TF_ENONE,
	      "64 futures, each result once through wait_any (%zu, %zu bad)",
	      got, bad);
	/* Fill every worker with slow tasks (each holds two chunks), then
	 * cancel: exactly the futures not sent yet are cancelled. */
	{
		int size = world_size(), expect, n_cancelled = 0;

		expect = size == 1 ? 16 : 16 - 2 * (size - 1);
		if (expect < 0)
			expect = 0;
		for (i = 0; i < 16; i++)
			tf_pool_submit(pool, "slow", NULL, 0, &slowf[i]);
		for (i = 0; i < 16; i++)
			cancelled += tf_future_cancel(slowf[i]);
		for (i = 0; i < 16; i++) {
			tf_future_wait(slowf[i]);
			if (tf_future_status(slowf[i]) == TF_ECANCELLED)
				n_cancelled++;
			else if (tf_future_status(slowf[i]) != 0)
				bad++;
		}
		CHECK(bad == 0 && (int)cancelled == n_cancelled &&
			      n_cancelled == expect &&
			      tf_future_cancel(slowf[0]) == 0,
		      "cancel takes exactly the %d queued futures (%d "
		      "cancelled, %zu said so)",
		      expect, n_cancelled, cancelled);
		for (i = 0; i < 16; i++)
			tf_future_free(slowf[i]);
	}
	/* A failing future, and one left for close() to free. */
	x = 14;
	tf_pool_submit(pool, "picky", &x, sizeof(x), &f[0]);
	tf_future_wait(f[0]);
	CHECK(tf_future_status(f[0]) == 7 && tf_future_error(f[0]) &&
		      strstr(tf_future_error(f[0]), "multiple of 7"),
	      "a failed future has its status and message");
	tf_pool_submit(pool, "slow", NULL, 0, &f[1]);
}

static void mode_init(struct tf_pool *pool)
{
	int64_t in[100], out[100];
	size_t i, bad = 0;
	long rc;

	for (i = 0; i < 100; i++)
		in[i] = (int64_t)i;
	rc = tf_pool_map(pool, "square", in, sizeof(*in), 100, out,
			 sizeof(*out), NULL);
	for (i = 0; i < 100; i++)
		bad += out[i] != in[i] * in[i] + 1000;
	CHECK(rc == 0 && bad == 0,
	      "every worker's initializer got the master's argument "
	      "(%zu wrong)",
	      bad);
}

static void mode_big(struct tf_pool *pool)
{
	int64_t in[3] = { 1, 24, 3 };
	struct tf_buf out[3];
	struct tf_buf inb[3];
	size_t i, k, bad = 0;
	long rc;

	for (i = 0; i < 3; i++) {
		inb[i].data = &in[i];
		inb[i].len = sizeof(in[i]);
	}
	rc = tf_pool_mapv(pool, "big", inb, 3, out, NULL);
	for (i = 0; i < 3; i++) {
		const unsigned char *b = out[i].data;

		if (out[i].len != (size_t)in[i] << 20) {
			bad++;
			continue;
		}
		for (k = 0; k < out[i].len; k++)
			if (b[k] != (unsigned char)(k % 251)) {
				bad++;
				break;
			}
		free(out[i].data);
	}
	CHECK(rc == 0 && bad == 0, "results of 1, 24 and 3 MiB arrive whole");
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Whether a map of squares of 0..n-1 comes back whole. */
static void check_squares(struct tf_pool *pool, size_t n, const char *what)
{
	int64_t *in = malloc(n * sizeof(*in)), *out = calloc(n, sizeof(*out));
	size_t i, bad = 0;
	long rc;

	for (i = 0; i < n; i++)
		in[i] = (int64_t)i;
	rc = tf_pool_map(pool, "square", in, sizeof(*in), n, out,
			 sizeof(*out), NULL);
	for (i = 0; i < n; i++)
		bad += out[i] != in[i] * in[i];
	CHECK(rc == 0 && bad == 0, "%s: a map of %zu squares (rc %ld, %zu "
				   "wrong)",
	      what, n, rc, bad);
	free(in);
	free(out);
}

/*
 * The victim dies in the middle of a map: exactly the tasks of the
 * chunks it held fail with TF_ELOST, every other result is right, and
 * the pool goes on with the others.
 */
static void mode_lost_map(struct tf_pool *pool)
{
	enum { N = 40000, CHUNK = 1000 };
	int64_t *in = malloc(N * sizeof(*in)), (*out)[2] = calloc(N, 16);
	int *status = calloc(N, sizeof(*status));
	char **errors = calloc(N, sizeof(*errors));
	struct tf_map_opts mo = {
		.chunk = CHUNK, .status = status, .errors = errors
	};
	size_t i, lost = 0, wrong = 0, ragged = 0, on_victim = 0;
	double t0 = now_s(), took;
	long rc;

	for (i = 0; i < N; i++)
		in[i] = (int64_t)i;
	rc = tf_pool_map(pool, "die_on_victim", in, sizeof(*in), N, out, 16,
			 &mo);
	took = now_s() - t0;
	for (i = 0; i < N; i++) {
		if (status[i] == TF_ELOST) {
			lost++;
			wrong += !errors[i] || !strstr(errors[i], "rank 2 was "
								  "lost") ||
				 out[i][0] != 0;
		} else {
			wrong += status[i] != 0 || errors[i] ||
				 out[i][0] != in[i] * in[i] || out[i][1] < 1 ||
				 out[i][1] > 3;
			on_victim += out[i][1] == VICTIM;
		}
		/* Chunks are lost whole. */
		if (i % CHUNK && (status[i] == TF_ELOST) !=
					 (status[i - 1] == TF_ELOST))
			ragged++;
		free(errors[i]);
	}
	printf("# %zu tasks lost, %zu done on rank %d before, %.2f s\n", lost,
	       on_victim, VICTIM, took);
	CHECK(rc == (long)lost && (lost == CHUNK || lost == 2 * CHUNK) &&
		      wrong == 0 && ragged == 0,
	      "a map that loses a rank: its %zu tasks in flight fail with "
	      "TF_ELOST, the rest are right (rc %ld, %zu wrong, %zu ragged)",
	      lost, rc, wrong, ragged);
	CHECK(on_victim > 0 && on_victim < 1500,
	      "the victim's results before it died were kept (%zu)",
	      on_victim);
	CHECK(took < 30, "the map returned in %.1f s", took);
	CHECK(tf_pool_workers(pool) == 2, "2 workers are left (%d)",
	      tf_pool_workers(pool));
	check_squares(pool, 20000, "after the loss");
	free(in);
	free(out);
	free(status);
	free(errors);
}

/* A future on the rank that dies gets TF_ELOST; the others succeed. */
static void mode_lost_future(struct tf_pool *pool)
{
	struct tf_future *f[3];
	int lost = 0, good = 0, i;
	int64_t x = 7;

	for (i = 0; i < 3; i++)
		tf_pool_submit(pool, "victim_dies", NULL, 0, &f[i]);
	for (i = 0; i < 3; i++) {
		size_t len;
		const int32_t *r;

		tf_future_wait(f[i]);
		r = tf_future_result(f[i], &len);
		if (tf_future_status(f[i]) == TF_ELOST &&
		    tf_future_error(f[i]) &&
		    strstr(tf_future_error(f[i]), "rank 2 was lost"))
			lost++;
		else if (tf_future_status(f[i]) == 0 && len == sizeof(*r) &&
			 *r != VICTIM)
			good++;
		tf_future_free(f[i]);
	}
	CHECK(lost == 1 && good == 2,
	      "the future on the lost rank gets TF_ELOST, the others their "
	      "results (%d lost, %d good)",
	      lost, good);
	for (i = 0, good = 0; i < 3; i++) {
		const int64_t *r;

		tf_pool_submit(pool, "square", &x, sizeof(x), &f[0]);
		tf_future_wait(f[0]);
		r = tf_future_result(f[0], NULL);
		good += tf_future_status(f[0]) == 0 && r && *r == 49;
		tf_future_free(f[0]);
	}
	CHECK(good == 3, "futures after the loss succeed (%d of 3)", good);
}

/* Every worker dies: with no rank left (the master does not work), the
 * tasks fail with TF_ELOST at once rather than wait for ever. */
static void mode_lost_all(struct tf_pool *pool)
{
	int64_t in[100] = { 0 }, out[100];
	int status[100];
	struct tf_map_opts mo = { .status = status };
	struct tf_future *f;
	size_t i, lost = 0;
	double t0;
	long rc;

	rc = tf_pool_map(pool, "workers_die", in, sizeof(*in), 100, out,
			 sizeof(*out), &mo);
	for (i = 0; i < 100; i++)
		lost += status[i] == TF_ELOST;
	CHECK(rc == 100 && lost == 100 && tf_pool_workers(pool) == 0,
	      "every worker died: all 100 tasks fail with TF_ELOST (rc %ld, "
	      "%zu lost, %d workers left)",
	      rc, lost, tf_pool_workers(pool));
	t0 = now_s();
	rc = tf_pool_map(pool, "square", in, sizeof(*in), 100, out,
			 sizeof(*out), &mo);
	tf_pool_submit(pool, "square", in, sizeof(*in), &f);
	tf_future_wait(f);
	CHECK(rc == 100 && status[99] == TF_ELOST &&
		      tf_future_status(f) == TF_ELOST && now_s() - t0 < 1,
	      "with no rank left, a map and a future fail at once (rc %ld, "
	      "%.3f s)",
	      rc, now_s() - t0);
	tf_future_free(f);
}

/*
 * lost_after = 1 s: the victim, 3 s in a task, is declared lost while
 * still alive; its late results (whose job id another job has by then)
 * are ignored.
 */
static void mode_lost_silent(struct tf_pool *pool)
{
	int64_t in[30], out[30];
	int status[30];
	struct tf_map_opts mo = { .chunk = 1, .status = status };
	size_t i, lost = 0, wrong = 0, futures = 0;
	double t0 = now_s(), took;
	long rc;

	for (i = 0; i < 30; i++)
		in[i] = (int64_t)i;
	rc = tf_pool_map(pool, "slow_on_victim", in, sizeof(*in), 30, out,
			 sizeof(*out), &mo);
	took = now_s() - t0;
	for (i = 0; i < 30; i++) {
		lost += status[i] == TF_ELOST;
		wrong += status[i] == 0 && out[i] != in[i] * in[i];
		wrong += status[i] != 0 && status[i] != TF_ELOST;
	}
	CHECK(rc == (long)lost && lost >= 1 && lost <= 2 && wrong == 0 &&
		      took < 2.9,
	      "a rank silent past lost_after is lost: %zu tasks TF_ELOST "
	      "in %.2f s (rc %ld, %zu wrong)",
	      lost, took, rc, wrong);
	/* Its results come late, into jobs that reuse the ids. */
	t0 = now_s();
	while (now_s() - t0 < 6.5) {
		struct tf_future *f;
		int64_t x = (int64_t)futures;
		const int64_t *r;

		tf_pool_submit(pool, "square", &x, sizeof(x), &f);
		tf_future_wait(f);
		r = tf_future_result(f, NULL);
		wrong += tf_future_status(f) != 0 || !r || *r != x * x;
		tf_future_free(f);
		futures++;
		usleep(2000);
	}
	CHECK(wrong == 0, "the lost rank's late results are ignored (%zu "
			  "futures, %zu wrong)",
	      futures, wrong);
	check_squares(pool, 5000, "after the silent rank");
}

/* The victim dies while idle: no task fails, and the close that follows
 * neither sends it a STOP nor waits for it. */
static void mode_lost_idle(struct tf_pool *pool)
{
	int64_t in[300], out[300];
	size_t i, bad = 0;
	long rc;

	for (i = 0; i < 300; i++)
		in[i] = (int64_t)i;
	rc = tf_pool_map(pool, "alarm_on_victim", in, sizeof(*in), 300, out,
			 sizeof(*out), NULL);
	for (i = 0; i < 300; i++)
		bad += out[i] != in[i] * in[i];
	CHECK(rc == 0 && bad == 0, "a map, then the victim dies idle (rc %ld)",
	      rc);
	sleep(2);
}

/* The master's process ends: the workers see it and leave. */
static void mode_master_dies(struct tf_pool *pool)
{
	check_squares(pool, 1000, "before the master dies");
	fflush(stdout);
	raise(SIGKILL);
}

/*
 * TF_POOL_MAX_BYTES: inputs over it are refused before anything runs;
 * a result over it fails its task with TF_ETOOBIG, and the map goes on.
 */
static void mode_too_big(struct tf_pool *pool)
{
	int64_t sizes[4] = { 8, (int64_t)TF_POOL_MAX_BYTES + 1, 16, 8 };
	struct tf_buf in[4], out[4];
	int status[4];
	char *errors[4];
	struct tf_map_opts mo = {
		.chunk = 1, .status = status, .errors = errors
	};
	struct tf_future *f = (struct tf_future *)&mo; /* not NULL */
	char small[16] = "x";
	size_t i, bad = 0;
	long rc;

	for (i = 0; i < 4; i++) {
		in[i].data = &sizes[i];
		in[i].len = sizeof(sizes[i]);
	}
	rc = tf_pool_mapv(pool, "claim", in, 4, out, &mo);
	for (i = 0; i < 4; i++) {
		if (i == 1)
			bad += status[i] != TF_ETOOBIG || out[i].len != 0 ||
			       !errors[i] ||
			       !strstr(errors[i], "TF_POOL_MAX_BYTES");
		else
			bad += status[i] != 0 ||
			       out[i].len != (size_t)sizes[i] ||
			       ((char *)out[i].data)[0] != 'a';
		if (status[i])
			printf("# task %zu: %s\n", i, errors[i]);
		free(errors[i]);
		free(out[i].data);
	}
	CHECK(rc == 1 && bad == 0,
	      "a result over TF_POOL_MAX_BYTES fails its task with "
	      "TF_ETOOBIG, the others arrive (rc %ld, %zu wrong)",
	      rc, bad);
	{
		int64_t fixed[4] = { 8, (int64_t)TF_POOL_MAX_BYTES + 1, 8, 8 };
		int64_t got[4];

		rc = tf_pool_map(pool, "claim", fixed, sizeof(*fixed), 4, got,
				 sizeof(*got), &mo);
		for (i = 0, bad = 0; i < 4; i++) {
			bad += status[i] != (i == 1 ? TF_ETOOBIG : 0);
			free(errors[i]);
		}
		CHECK(rc == 1 && bad == 0,
		      "the same in a fixed-size map (rc %ld, %zu wrong)", rc,
		      bad);
	}
	/* Inputs over the limit: refused, nothing queued or written. */
	for (i = 0; i < 4; i++) {
		in[i].data = small;
		in[i].len = sizeof(small);
		out[i].data = NULL;
		out[i].len = 12345;
	}
	in[2].len = TF_POOL_MAX_BYTES + 1;
	rc = tf_pool_mapv(pool, "claim", in, 4, out, NULL);
	CHECK(rc == TF_ETOOBIG && out[0].len == 12345 && out[3].len == 12345,
	      "mapv refuses an input over the limit before anything runs "
	      "(rc %ld)",
	      rc);
	rc = tf_pool_map(pool, "claim", small, TF_POOL_MAX_BYTES + 1, 1,
			 sizes, 8, NULL);
	CHECK(rc == TF_ETOOBIG, "map refuses records over the limit (rc %ld)",
	      rc);
	rc = tf_pool_map(pool, "claim", sizes, 8, 1, small,
			 TF_POOL_MAX_BYTES + 1, NULL);
	CHECK(rc == TF_ETOOBIG, "map refuses results over the limit (rc %ld)",
	      rc);
	rc = tf_pool_submit(pool, "claim", small, TF_POOL_MAX_BYTES + 1, &f);
	CHECK(rc == TF_ETOOBIG && f == NULL,
	      "submit refuses an input over the limit (rc %ld)", rc);
	check_squares(pool, 1000, "after the refusals");
}

/* The pool's message, if it has one, on stderr: the library prints
 * nothing itself, and the test greps these lines. */
static void print_errmsg(int rank, const char *msg)
{
	if (*msg)
		fprintf(stderr, "pool_prog rank %d: %s\n", rank, msg);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "map";
	struct tf_pool_opts o;
	struct tf_pool *pool;
	int rc, r, lost_mode, own_init = !strcmp(mode, "comm");

	tf_pool_opts_init(&o);
	if (!strcmp(mode, "isolate") || !strcmp(mode, "too-big-isolated"))
		o.isolate = isolated = 1;
	if (!strcmp(mode, "master-works"))
		o.master_works = 1;
	if (!strcmp(mode, "lost-silent"))
		o.lost_after = 1.0;
	if (own_init && MPI_Init(&argc, &argv) != MPI_SUCCESS)
		return 4;
	if (own_init) {
		MPI_Comm comm = MPI_COMM_WORLD;

		o.mpi_comm = &comm;
		rc = tf_pool_open(&pool, &o);
	} else {
		rc = tf_pool_open(&pool, &o);
	}
	if (rc) {
		printf("FAIL open: %s\n", tf_strerror(rc));
		print_errmsg(-1, tf_pool_errmsg(NULL));
		return 4;
	}
	tf_pool_register(pool, "square", square);
	tf_pool_register(pool, "whoami", whoami);
	tf_pool_register(pool, "picky", picky);
	tf_pool_register(pool, "crashy", crashy);
	tf_pool_register(pool, "repeat", repeat);
	tf_pool_register(pool, "big", big);
	tf_pool_register(pool, "slow", slow);
	tf_pool_register(pool, "die_on_victim", die_on_victim);
	tf_pool_register(pool, "victim_dies", victim_dies);
	tf_pool_register(pool, "workers_die", workers_die);
	tf_pool_register(pool, "slow_on_victim", slow_on_victim);
	tf_pool_register(pool, "alarm_on_victim", alarm_on_victim);
	tf_pool_register(pool, "claim", claim);
	if (!strcmp(mode, "mismatch") && tf_pool_rank(pool) == 2)
		tf_pool_register(pool, "extra", slow);
	if (!strcmp(mode, "init")) {
		int64_t add = 1000;

		tf_pool_set_init(pool, init_offset, fini_free, &add,
				 sizeof(add));
	}
	if (!strcmp(mode, "init-fails"))
		tf_pool_set_init(pool, init_fails_on_2, NULL, NULL, 0);
	if (!strcmp(mode, "lost-init"))
		tf_pool_set_init(pool, init_dies_on_victim, NULL, NULL, 0);
	rc = tf_pool_start(pool);
	if (!strcmp(mode, "mismatch") || !strcmp(mode, "init-fails") ||
	    !strcmp(mode, "lost-init")) {
		int want = !strcmp(mode, "mismatch")     ? TF_EREGISTER
			   : !strcmp(mode, "init-fails") ? TF_ETASK
							 : TF_ELOST;
		int me = tf_pool_rank(pool);

		/* Every rank reports: the test greps each rank's line. */
		printf("%s rank %d: start returned %d (%s)\n",
		       rc == want ? "ok" : "FAIL", me, rc, tf_strerror(rc));
		print_errmsg(me, tf_pool_errmsg(pool));
		tf_pool_close(pool);
		if (own_init)
			MPI_Finalize();
		return rc == want ? 0 : 1;
	}
	if (rc == 1) {
		if (!strcmp(mode, "map") || !strcmp(mode, "comm") ||
		    !strcmp(mode, "master-works"))
			mode_map(pool);
		if (!strcmp(mode, "spread") || !strcmp(mode, "master-works"))
			mode_spread(pool);
		if (!strcmp(mode, "unordered"))
			mode_unordered(pool);
		if (!strcmp(mode, "varsize"))
			mode_varsize(pool);
		if (!strcmp(mode, "errors"))
			mode_errors(pool);
		if (!strcmp(mode, "isolate"))
			mode_isolate(pool);
		if (!strcmp(mode, "futures"))
			mode_futures(pool);
		if (!strcmp(mode, "init"))
			mode_init(pool);
		if (!strcmp(mode, "big"))
			mode_big(pool);
		if (!strcmp(mode, "lost-map"))
			mode_lost_map(pool);
		if (!strcmp(mode, "lost-future"))
			mode_lost_future(pool);
		if (!strcmp(mode, "lost-all"))
			mode_lost_all(pool);
		if (!strcmp(mode, "lost-silent"))
			mode_lost_silent(pool);
		if (!strcmp(mode, "lost-idle"))
			mode_lost_idle(pool);
		if (!strcmp(mode, "master-dies"))
			mode_master_dies(pool);
		if (!strncmp(mode, "too-big", 7))
			mode_too_big(pool);
	} else if (!strcmp(mode, "master-dies") ||
		   !strcmp(mode, "lost-silent")) {
		int me = tf_pool_rank(pool);
		int want = !strcmp(mode, "master-dies") || me == VICTIM
				   ? TF_ELOST
				   : 0;

		/* Every worker reports how its start ended. */
		printf("%s rank %d: start returned %d (%s)\n",
		       rc == want ? "ok" : "FAIL", me, rc, tf_strerror(rc));
		fflush(stdout);
		failures += rc != want;
	} else if (rc < 0) {
		printf("FAIL start: %s\n", tf_strerror(rc));
		failures++;
	}
	/* After a loss every rank leaves MPI unfinalized and says so. */
	lost_mode = !strncmp(mode, "lost-", 5) || !strcmp(mode, "master-dies");
	r = tf_pool_rank(pool);
	rc = tf_pool_close(pool);
	/* The pool's last message, a loss its close found included. */
	print_errmsg(r, tf_pool_errmsg(NULL));
	if (rc != (lost_mode ? TF_ELOST : 0)) {
		printf("FAIL close on rank %d: %s\n", r, tf_strerror(rc));
		failures++;
	} else if (lost_mode && r == 0) {
		CHECK(1, "close returns TF_ELOST after a loss");
	}
	if (own_init) {
		int fin = 0;

		MPI_Finalized(&fin);
		if (!fin)
			MPI_Finalize();
	}
	return failures ? 1 : 0;
}
