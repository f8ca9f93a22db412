/*
 * Monte-Carlo estimate of pi with the taskfarm C API: each task draws
 * SAMPLES points from its own random stream (seeded by its index) and
 * returns how many fell inside the quarter circle; the master adds them.
 *
 *   mpirun -n 3 examples/pool_pi [TASKS [SAMPLES]]
 *
 * The answer does not depend on the number of ranks: the same seeds give
 * the same counts wherever they run.
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <taskfarm.h>

#ifndef M_PI /* POSIX's, not C99's: absent under -std=c99 */
#define M_PI 3.14159265358979323846
#endif

/* splitmix64: a small, good generator with a 64-bit state. */
static uint64_t next_random(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int count_hits(struct tf_call *call, const void *in, size_t len,
		      void *ctx)
{
	const uint64_t *task = in; /* { seed, samples } */
	uint64_t state = task[0], hits = 0, i;

	(void)len;
	(void)ctx;
	for (i = 0; i < task[1]; i++) {
		double x = (double)(next_random(&state) >> 11) * 0x1.0p-53;
		double y = (double)(next_random(&state) >> 11) * 0x1.0p-53;

		hits += x * x + y * y <= 1.0;
	}
	*(uint64_t *)tf_call_result(call, sizeof(hits)) = hits;
	return 0;
}

int main(int argc, char **argv)
{
	size_t ntasks = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
	uint64_t samples = argc > 2 ? strtoull(argv[2], NULL, 10) : 100000;
	struct tf_pool *pool;
	int rc, ret = 0;

	if (ntasks == 0 || samples == 0) {
		fprintf(stderr, "usage: pool_pi [TASKS [SAMPLES]]\n");
		return 2;
	}
	rc = tf_pool_open(&pool, NULL);
	if (rc) {
		fprintf(stderr, "pool_pi: %s\n", tf_strerror(rc));
		return 4;
	}
	tf_pool_register(pool, "count_hits", count_hits);
	rc = tf_pool_start(pool);
	if (rc == 1) {
		uint64_t(*tasks)[2] = calloc(ntasks, sizeof(*tasks));
		uint64_t *hits = calloc(ntasks, sizeof(*hits)), total = 0;
		size_t i;
		long failed;

		if (!tasks || !hits) {
			fprintf(stderr, "pool_pi: out of memory\n");
			tf_pool_close(pool);
			return 4;
		}
		for (i = 0; i < ntasks; i++) {
			tasks[i][0] = 0x5eed0000ull + i;
			tasks[i][1] = samples;
		}
		failed = tf_pool_map(pool, "count_hits", tasks,
				     sizeof(*tasks), ntasks, hits,
				     sizeof(*hits), NULL);
		if (failed != 0) {
			fprintf(stderr, "pool_pi: map: %s\n",
				failed < 0 ? tf_strerror((int)failed)
					   : "tasks failed");
			ret = 1;
		}
		for (i = 0; i < ntasks; i++)
			total += hits[i];
		printf("pi ~ %.6f from %" PRIu64 " samples in %zu tasks on "
		       "%d workers (error %.2e)\n",
		       4.0 * (double)total / (double)(samples * ntasks),
		       samples * ntasks, ntasks, tf_pool_workers(pool),
		       fabs(4.0 * (double)total / (double)(samples * ntasks) -
			    M_PI));
		free(tasks);
		free(hits);
	} else if (rc < 0) {
		/* The library prints nothing: its message says why. */
		fprintf(stderr, "pool_pi: %s: %s\n", tf_strerror(rc),
			tf_pool_errmsg(pool));
		ret = 4;
	}
	rc = tf_pool_close(pool);
	return ret ? ret : rc ? 4 : 0;
}
