/*
 * The C API's benchmark: tiny tasks (an 8-byte input, an 8-byte result,
 * trivial work) through the ordered map with automatic chunking and with
 * chunks forced to 1, single-task submit+wait round trips, futures in
 * bulk (FUTURES submitted, then each waited for, checked and freed), and
 * the raw limit: the same function called in a plain loop on one core.
 *
 *   mpirun -n 3 bench/pool_bench [N [ROUNDTRIPS [FUTURES]]]
 *
 * Prints one "name value unit" line per measurement, for bench/pool.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <taskfarm.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int twice(struct tf_call *call, const void *in, size_t len, void *ctx)
{
	uint64_t x;

	(void)len;
	(void)ctx;
	__builtin_memcpy(&x, in, sizeof(x));
	x = 2 * x + 1;
	__builtin_memcpy(tf_call_result(call, sizeof(x)), &x, sizeof(x));
	return 0;
}

static int check(const uint64_t *out, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (out[i] != 2 * (uint64_t)i + 1) {
			fprintf(stderr, "pool_bench: wrong result at %zu\n", i);
			return 1;
		}
	return 0;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000000;
	size_t trips = argc > 2 ? strtoul(argv[2], NULL, 10) : 20000;
	size_t n1 = n / 50 > 1000 ? n / 50 : n; /* chunk 1 is slow */
	size_t nf = argc > 3 ? strtoul(argv[3], NULL, 10) : 1000000;
	struct tf_pool *pool;
	int rc, ret = 0;

	rc = tf_pool_open(&pool, NULL);
	if (rc)
		return 4;
	tf_pool_register(pool, "twice", twice);
	rc = tf_pool_start(pool);
	if (rc == 1) {
		uint64_t *in = malloc(n * sizeof(*in));
		uint64_t *out = malloc(n * sizeof(*out));
		struct tf_map_opts one = { .chunk = 1 };
		volatile uint64_t sink = 0;
		double t;
		size_t i;

		for (i = 0; i < n; i++)
			in[i] = i;
		/* The raw limit: the function in a loop, no pool. */
		t = now();
		for (i = 0; i < n; i++) {
			uint64_t x = in[i];
			out[i] = 2 * x + 1;
			sink += out[i];
		}
		printf("raw_loop %.0f tasks/s\n", (double)n / (now() - t));
		/* A short warm-up, so the first map does not pay start-up. */
		tf_pool_map(pool, "twice", in, 8, n / 100 + 1, out, 8, NULL);
		t = now();
		if (tf_pool_map(pool, "twice", in, 8, n, out, 8, NULL) != 0)
			ret = 1;
		printf("map_auto %.0f tasks/s\n", (double)n / (now() - t));
		ret |= check(out, n);
		t = now();
		if (tf_pool_map(pool, "twice", in, 8, n1, out, 8, &one) != 0)
			ret = 1;
		printf("map_chunk1 %.0f tasks/s\n", (double)n1 / (now() - t));
		ret |= check(out, n1);
		t = now();
		for (i = 0; i < trips; i++) {
			struct tf_future *f;
			uint64_t x = i;

			if (tf_pool_submit(pool, "twice", &x, 8, &f) ||
			    tf_future_wait(f) || tf_future_status(f)) {
				ret = 1;
				break;
			}
			tf_future_free(f);
		}
		printf("roundtrip %.2f us\n",
		       (now() - t) / (double)trips * 1e6);
		/* Futures in bulk: all submitted, then each waited for in
		 * order, its result checked, and freed. */
		if (nf) {
			struct tf_future **fs = malloc(nf * sizeof(*fs));

			t = now();
			for (i = 0; i < nf && !ret; i++)
				if (tf_pool_submit(pool, "twice", &in[i % n], 8,
						   &fs[i]))
					ret = 1;
			for (i = 0; i < nf && !ret; i++) {
				const uint64_t *r;
				size_t len;

				if (tf_future_wait(fs[i]) ||
				    tf_future_status(fs[i]) ||
				    !(r = tf_future_result(fs[i], &len)) ||
				    len != 8 || *r != 2 * in[i % n] + 1) {
					fprintf(stderr, "pool_bench: future "
							"%zu wrong\n", i);
					ret = 1;
					break;
				}
				tf_future_free(fs[i]);
			}
			printf("futures_bulk %.0f futures/s\n",
			       (double)nf / (now() - t));
			free(fs);
		}
		/* With SWEEP set: fixed chunk sizes, to see where the
		 * automatic choice stands. */
		if (getenv("POOL_BENCH_SWEEP")) {
			size_t c;

			for (c = 1024; c <= n / 4 && c <= (1u << 20); c *= 4) {
				struct tf_map_opts fixed = { .chunk = c };

				t = now();
				tf_pool_map(pool, "twice", in, 8, n, out, 8,
					    &fixed);
				printf("map_chunk%zu %.0f tasks/s\n", c,
				       (double)n / (now() - t));
			}
		}
		free(in);
		free(out);
	} else if (rc < 0) {
		ret = 4;
	}
	rc = tf_pool_close(pool);
	return ret ? ret : rc ? 4 : 0;
}
