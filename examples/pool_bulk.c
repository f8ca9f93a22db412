/*
 * Futures in bulk, with tags and a time limit: N small Monte Carlo tasks
 * (each counts how many of SAMPLES random points of its own seed fall in
 * the unit circle) submitted at once, which the pool sends in chunks;
 * their results are taken in order with tf_future_wait_for(), which gives
 * up every half second to report progress, and each future's tag leads
 * back to its seed. (tf_future_wait_any() looks at every entry each call,
 * so for as-completed order over many futures, keep its array short.)
 *
 *   mpirun -n 3 examples/pool_bulk [N [SAMPLES]]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <taskfarm.h>

/* Input: a 64-bit seed and the sample count. Result: the hits. */
static int hits(struct tf_call *call, const void *in, size_t len, void *ctx)
{
	uint64_t arg[2], x, h = 0, i;

	(void)ctx;
	if (len != sizeof(arg))
		return 1;
	memcpy(arg, in, sizeof(arg));
	x = arg[0] * 0x9E3779B97F4A7C15ull + 1;
	for (i = 0; i < arg[1]; i++) {
		double a, b;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		a = (double)(x >> 11) / 9007199254740992.0;
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		b = (double)(x >> 11) / 9007199254740992.0;
		h += a * a + b * b <= 1.0;
	}
	memcpy(tf_call_result(call, sizeof(h)), &h, sizeof(h));
	return 0;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	uint64_t samples = argc > 2 ? strtoull(argv[2], NULL, 10) : 100;
	struct tf_pool *pool;
	int rc, ret = 0;

	rc = tf_pool_open(&pool, NULL);
	if (rc) {
		fprintf(stderr, "pool_bulk: %s\n", tf_strerror(rc));
		return 4;
	}
	tf_pool_register(pool, "hits", hits);
	rc = tf_pool_start(pool);
	if (rc == 1) {
		struct tf_future **fs = calloc(n, sizeof(*fs));
		uint64_t *seeds = calloc(n, sizeof(*seeds)), total = 0;
		size_t i;

		for (i = 0; fs && seeds && i < n && ret == 0; i++) {
			uint64_t arg[2] = { i, samples };

			seeds[i] = i;
			if (tf_pool_submit(pool, "hits", arg, sizeof(arg), &fs[i]))
				ret = 4;
			else
				tf_future_set_tag(fs[i], &seeds[i]);
		}
		for (i = 0; ret == 0 && i < n; i++) {
			const uint64_t *h, *seed;

			while ((rc = tf_future_wait_for(fs[i], 0.5)) ==
			       TF_ETIMEDOUT)
				fprintf(stderr, "pool_bulk: %zu of %zu done\n",
					i, n);
			if (rc) {
				ret = 4;
				break;
			}
			seed = tf_future_tag(fs[i]);
			h = tf_future_result(fs[i], NULL);
			if (tf_future_status(fs[i]) || !h || *seed != i)
				ret = 1;
			else
				total += *h;
			tf_future_free(fs[i]);
		}
		if (ret == 0)
			printf("%zu futures, %llu hits of %llu: pi ~ %.4f\n", n,
			       (unsigned long long)total,
			       (unsigned long long)(n * samples),
			       4.0 * (double)total / (double)(n * samples));
		free(fs);
		free(seeds);
	} else if (rc < 0) {
		fprintf(stderr, "pool_bulk: %s\n", tf_pool_errmsg(pool));
		ret = 4;
	}
	if (tf_pool_close(pool))
		ret = 4;
	return ret;
}
