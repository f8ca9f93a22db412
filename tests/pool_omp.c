/*
 * OpenMP inside pool tasks (taskfarm(3), "Threads and MPI"): each task
 * sums a series with an OpenMP parallel loop of 2 threads and returns the
 * sum and how many threads it ran; the master checks every result, in a
 * pool whose tasks run in the rank and, with "isolate", in forked
 * children, opened with opts.threads = 1. Under a launcher it also checks
 * that the MPI the pool initialized allows threads in tasks
 * (MPI_THREAD_FUNNELED or more).
 *
 * Mode "single": the default opts.threads = 0 initializes MPI at
 * MPI_THREAD_SINGLE (plain MPI_Init(); cheaper messages in Open MPI).
 * Mode "preinit": the program calls MPI_Init() itself, and a pool asking
 * for threads must be refused (TF_EINVAL, the message naming the level
 * needed), then one without threads works on the same MPI.
 *
 * Prints "ok ..."/"FAIL ..." lines for tests/pool-edges.sh; exits 77 when
 * built without OpenMP.
 *
 *   pool_omp [plain|isolate|single|preinit]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include <taskfarm.h>

#define TERMS 200000

/* Input: k. Result: { sum of (i % 7) * k for i < TERMS, threads }. */
static int omp_sum(struct tf_call *call, const void *in, size_t len,
		   void *ctx)
{
	int64_t k, r[2] = { 0, 0 }, sum = 0;
	int threads = 0;
	long i;

	(void)ctx;
	if (len != sizeof(k))
		return 1;
	memcpy(&k, in, sizeof(k));
#ifdef _OPENMP
#pragma omp parallel for num_threads(2) reduction(+ : sum)
	for (i = 0; i < TERMS; i++) {
		if (i == 0)
			threads = omp_get_num_threads();
		sum += (i % 7) * k;
	}
#else
	for (i = 0; i < TERMS; i++)
		sum += (i % 7) * k;
#endif
	r[0] = sum;
	r[1] = threads;
	memcpy(tf_call_result(call, sizeof(r)), r, sizeof(r));
	return 0;
}

int main(int argc, char **argv)
{
	struct tf_pool_opts o;
	struct tf_pool *pool;
	int rc, failures = 0;

#ifndef _OPENMP
	(void)argc;
	(void)argv;
	printf("# built without OpenMP\n");
	return 77;
#else
	const char *mode = argc > 1 ? argv[1] : "plain";
	int want_level = MPI_THREAD_FUNNELED;

	tf_pool_opts_init(&o);
	o.isolate = !strcmp(mode, "isolate");
	o.threads = strcmp(mode, "single") != 0;
	if (!strcmp(mode, "single"))
		want_level = MPI_THREAD_SINGLE;
	if (!strcmp(mode, "preinit")) {
		const char *msg;
		int me = 0, bad;

		MPI_Init(&argc, &argv);
		MPI_Comm_rank(MPI_COMM_WORLD, &me);
		rc = tf_pool_open(&pool, &o);
		msg = tf_pool_errmsg(NULL);
		bad = !(rc == TF_EINVAL && !pool &&
			strstr(msg, "MPI_THREAD_FUNNELED"));
		if (me == 0 || bad)
			printf("%s threads = 1 on an MPI the program started "
			       "at MPI_THREAD_SINGLE: %s (%s)\n",
			       bad ? "FAIL" : "ok", tf_strerror(rc), msg);
		failures += bad;
		o.threads = 0;
		want_level = MPI_THREAD_SINGLE;
	}
	if (tf_pool_open(&pool, &o))
		return 4;
	tf_pool_register(pool, "omp_sum", omp_sum);
	rc = tf_pool_start(pool);
	if (rc == 1) {
		int64_t in[16], out[16][2], want = 0;
		struct tf_buf vin[16], vout[16];
		size_t i, bad = 0, threaded = 0;
		int inited = 0, level = -1;
		long failed;

		for (i = 0; i < TERMS; i++)
			want += (int64_t)(i % 7);
		for (i = 0; i < 16; i++) {
			in[i] = (int64_t)i + 1;
			vin[i].data = &in[i];
			vin[i].len = sizeof(in[i]);
		}
		failed = tf_pool_mapv(pool, "omp_sum", vin, 16, vout, NULL);
		for (i = 0; i < 16; i++) {
			if (vout[i].len != sizeof(out[i]))
				bad++;
			else
				memcpy(out[i], vout[i].data, sizeof(out[i]));
			if (vout[i].len == sizeof(out[i]) &&
			    out[i][0] != want * in[i])
				bad++;
			threaded += vout[i].len == sizeof(out[i]) &&
				    out[i][1] == 2;
		}
		printf("%s 16 OpenMP tasks%s: sums right (%zu bad), %zu of 16 "
		       "ran 2 threads\n",
		       failed == 0 && bad == 0 && threaded == 16 ? "ok" : "FAIL",
		       o.isolate ? " in isolation" : "", bad, threaded);
		failures += !(failed == 0 && bad == 0 && threaded == 16);
		for (i = 0; i < 16; i++)
			free(vout[i].data);
		MPI_Initialized(&inited);
		if (inited) {
			MPI_Query_thread(&level);
			printf("%s MPI's thread level is %d (%s), as opts."
			       "threads = %d asks\n",
			       level == want_level ||
					       (want_level != MPI_THREAD_SINGLE &&
						level > want_level)
				       ? "ok"
				       : "FAIL",
			       level,
			       want_level == MPI_THREAD_SINGLE
				       ? "MPI_THREAD_SINGLE"
				       : "MPI_THREAD_FUNNELED",
			       o.threads);
			failures += !(level == want_level ||
				      (want_level != MPI_THREAD_SINGLE &&
				       level > want_level));
		}
	} else if (rc < 0) {
		printf("FAIL start: %s\n", tf_strerror(rc));
		failures++;
	}
	if (tf_pool_close(pool))
		failures++;
	if (!strcmp(mode, "preinit"))
		MPI_Finalize();
	return failures ? 1 : 0;
#endif
}
