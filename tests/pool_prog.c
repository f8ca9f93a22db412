/*
 * The C API's integration-test program: each mode exercises one part of
 * the pool and prints "ok ..." or "FAIL ..." lines on the master (and
 * exits 1 after a FAIL), for tests/pool.sh to run under 1 to 5 ranks.
 *
 *   pool_prog MODE
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
		struct tf_map_opts mo = { 7, NULL, NULL };

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
	struct tf_map_opts mo = { 0, status, errors };
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
	struct tf_map_opts mo = { 0, status, errors };
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
	CHECK(got == 64 && bad == 0 && k == -1,
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

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "map";
	struct tf_pool_opts o;
	struct tf_pool *pool;
	int rc, own_init = !strcmp(mode, "comm");

	tf_pool_opts_init(&o);
	if (!strcmp(mode, "isolate"))
		o.isolate = isolated = 1;
	if (!strcmp(mode, "master-works"))
		o.master_works = 1;
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
		return 4;
	}
	tf_pool_register(pool, "square", square);
	tf_pool_register(pool, "whoami", whoami);
	tf_pool_register(pool, "picky", picky);
	tf_pool_register(pool, "crashy", crashy);
	tf_pool_register(pool, "repeat", repeat);
	tf_pool_register(pool, "big", big);
	tf_pool_register(pool, "slow", slow);
	if (!strcmp(mode, "mismatch") && tf_pool_rank(pool) == 2)
		tf_pool_register(pool, "extra", slow);
	if (!strcmp(mode, "init")) {
		int64_t add = 1000;

		tf_pool_set_init(pool, init_offset, fini_free, &add,
				 sizeof(add));
	}
	if (!strcmp(mode, "init-fails"))
		tf_pool_set_init(pool, init_fails_on_2, NULL, NULL, 0);
	rc = tf_pool_start(pool);
	if (!strcmp(mode, "mismatch") || !strcmp(mode, "init-fails")) {
		int want = !strcmp(mode, "mismatch") ? TF_EREGISTER : TF_ETASK;
		int r = tf_pool_rank(pool);

		/* Every rank reports: the test greps each rank's line. */
		printf("%s rank %d: start returned %d (%s)\n",
		       rc == want ? "ok" : "FAIL", r, rc, tf_strerror(rc));
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
	} else if (rc < 0) {
		printf("FAIL start: %s\n", tf_strerror(rc));
		failures++;
	}
	rc = tf_pool_close(pool);
	if (rc) {
		printf("FAIL close: %s\n", tf_strerror(rc));
		failures++;
	}
	if (own_init) {
		int fin = 0;

		MPI_Finalized(&fin);
		if (!fin)
			MPI_Finalize();
	}
	return failures ? 1 : 0;
}
