/*
 * A parameter sweep with the taskfarm C API's ordered map: an SIR
 * epidemic model integrated for every (beta, gamma) pair of a grid. The
 * inputs are an array of parameter structs and the results an array of
 * result structs in the same order, as a serial loop would fill it.
 *
 *   mpirun -n 3 examples/pool_sweep [--check] [GRID]
 *
 * --check also runs the sweep serially and compares every byte.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <taskfarm.h>

struct params {
	double beta;  /* infection rate */
	double gamma; /* recovery rate */
	double dt;
	int steps;
};

struct outcome {
	double peak_infected;
	double peak_day;
	double final_recovered;
};

static void simulate(const struct params *p, struct outcome *o)
{
	double s = 0.999, i = 0.001, r = 0.0;
	int k;

	memset(o, 0, sizeof(*o));
	for (k = 0; k < p->steps; k++) {
		double ds = -p->beta * s * i, dr = p->gamma * i;

		s += ds * p->dt;
		i += (-ds - dr) * p->dt;
		r += dr * p->dt;
		if (i > o->peak_infected) {
			o->peak_infected = i;
			o->peak_day = k * p->dt;
		}
	}
	o->final_recovered = r;
}

static int sir(struct tf_call *call, const void *in, size_t len, void *ctx)
{
	const struct params *p = in;

	(void)ctx;
	if (len != sizeof(*p) || p->steps <= 0) {
		tf_call_error(call, "bad parameters");
		return 1;
	}
	simulate(p, tf_call_result(call, sizeof(struct outcome)));
	return 0;
}

int main(int argc, char **argv)
{
	int check = argc > 1 && !strcmp(argv[1], "--check");
	size_t grid = (size_t)(argc > 1 + check ? atoi(argv[1 + check]) : 40);
	struct tf_pool *pool;
	int rc, ret = 0;

	if (grid == 0 || grid > 10000) {
		fprintf(stderr, "usage: pool_sweep [--check] [GRID]\n");
		return 2;
	}
	rc = tf_pool_open(&pool, NULL);
	if (rc) {
		fprintf(stderr, "pool_sweep: %s\n", tf_strerror(rc));
		return 4;
	}
	tf_pool_register(pool, "sir", sir);
	rc = tf_pool_start(pool);
	if (rc == 1) {
		size_t n = grid * grid, i, best = 0;
		struct params *in = calloc(n, sizeof(*in));
		struct outcome *out = calloc(n, sizeof(*out));
		long failed;

		if (!in || !out) {
			fprintf(stderr, "pool_sweep: out of memory\n");
			n = 0;
			ret = 4;
		}
		for (i = 0; i < n; i++) {
			in[i].beta = 0.1 + 0.9 * (double)(i / grid) / grid;
			in[i].gamma = 0.05 + 0.45 * (double)(i % grid) / grid;
			in[i].dt = 0.1;
			in[i].steps = 3000;
		}
		failed = n ? tf_pool_map(pool, "sir", in, sizeof(*in), n, out,
					 sizeof(*out), NULL)
			   : 0;
		if (failed) {
			fprintf(stderr, "pool_sweep: map: %s\n",
				failed < 0 ? tf_strerror((int)failed)
					   : "tasks failed");
			ret = 1;
		}
		for (i = 0; i < n; i++)
			if (out[i].peak_infected > out[best].peak_infected)
				best = i;
		if (n)
			printf("%zu runs on %d workers; worst peak %.4f on day %.1f "
		       "at beta %.3f gamma %.3f\n",
		       n, tf_pool_workers(pool), out[best].peak_infected,
		       out[best].peak_day, in[best].beta, in[best].gamma);
		if (check) {
			struct outcome o;
			size_t bad = 0;

			for (i = 0; i < n; i++) {
				simulate(&in[i], &o);
				bad += memcmp(&o, &out[i], sizeof(o)) != 0;
			}
			printf("serial check: %zu of %zu differ\n", bad, n);
			if (bad)
				ret = 1;
		}
		free(in);
		free(out);
	} else if (rc < 0) {
		/* The library prints nothing: its message says why. */
		fprintf(stderr, "pool_sweep: %s: %s\n", tf_strerror(rc),
			tf_pool_errmsg(pool));
		ret = 4;
	}
	rc = tf_pool_close(pool);
	return ret ? ret : rc ? 4 : 0;
}
