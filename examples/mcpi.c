/*
 * mcpi: a small Monte-Carlo simulation for the example jobs. It throws
 * SAMPLES random points into the unit square and counts those inside the
 * quarter circle, printing one line that a reduction over many runs can
 * combine: "seed=S samples=N inside=K pi=ESTIMATE".
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64: small, fast and good enough for an example. */
static uint64_t next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static int usage(void)
{
	fprintf(stderr, "usage: mcpi --seed S --samples N\n");
	return 2;
}

int main(int argc, char **argv)
{
	uint64_t seed = 1, samples = 1000000, inside = 0, i, state;
	int a;

	for (a = 1; a < argc; a++) {
		char *end;

		if (a + 1 >= argc)
			return usage();
		if (strcmp(argv[a], "--seed") == 0)
			seed = strtoull(argv[++a], &end, 10);
		else if (strcmp(argv[a], "--samples") == 0)
			samples = strtoull(argv[++a], &end, 10);
		else
			return usage();
		if (*end)
			return usage();
	}
	state = seed;
	for (i = 0; i < samples; i++) {
		double x = (double)(next(&state) >> 11) * 0x1.0p-53;
		double y = (double)(next(&state) >> 11) * 0x1.0p-53;
		inside += x * x + y * y <= 1.0;
	}
	printf("seed=%" PRIu64 " samples=%" PRIu64 " inside=%" PRIu64
	       " pi=%.6f\n",
	       seed, samples, inside,
	       samples ? 4.0 * (double)inside / (double)samples : 0.0);
	return 0;
}
