/*
 * The raw MPI limit for bench/pool.sh: a hand-written task farm with no
 * library in between. The master sends CHUNK tasks (8-byte inputs) per
 * message to the workers, keeping two messages in flight per worker; the
 * workers compute 2x+1 and send the CHUNK results back; the master copies
 * them into place. Then single-task round trips: the master sends one
 * task to rank 1 and waits for its result, TRIPS times, with blocking
 * MPI_Send/MPI_Recv on both sides (the floor for a submit+wait).
 *
 *   mpirun -n 3 bench/mpifarm [N [TRIPS [CHUNK]]]
 *
 * Prints "mpifarm X tasks/s" and "mpifarm_roundtrip X us".
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TAG_TASKS 1
#define TAG_RESULTS 2
#define TAG_STOP 3
#define INFLIGHT 2

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A message: the index of its first task, then up to chunk values. */
static void worker(size_t chunk)
{
	uint64_t *buf = malloc((chunk + 1) * sizeof(*buf));
	MPI_Status st;
	int count, i;

	for (;;) {
		MPI_Recv(buf, (int)(chunk + 1), MPI_UINT64_T, 0, MPI_ANY_TAG,
			 MPI_COMM_WORLD, &st);
		if (st.MPI_TAG == TAG_STOP)
			break;
		MPI_Get_count(&st, MPI_UINT64_T, &count);
		for (i = 1; i < count; i++)
			buf[i] = 2 * buf[i] + 1;
		MPI_Send(buf, count, MPI_UINT64_T, 0, TAG_RESULTS,
			 MPI_COMM_WORLD);
	}
	free(buf);
}

/*
 * Sends the tasks from *next on (at most chunk of them) to rank dest, from
 * slot's buffer, without blocking: a blocking send of a message over the
 * eager limit would deadlock against the worker's blocking send of results.
 */
static void send_chunk(const uint64_t *in, size_t n, size_t *next,
		       size_t chunk, uint64_t *msg, MPI_Request *req, int dest)
{
	size_t k = n - *next < chunk ? n - *next : chunk;

	MPI_Wait(req, MPI_STATUS_IGNORE); /* the slot's previous send */
	msg[0] = *next;
	memcpy(msg + 1, in + *next, k * sizeof(*in));
	*next += k;
	MPI_Isend(msg, (int)(k + 1), MPI_UINT64_T, dest, TAG_TASKS,
		  MPI_COMM_WORLD, req);
}

static size_t farm(const uint64_t *in, uint64_t *out, size_t n, size_t chunk,
		   int nw)
{
	/* INFLIGHT send slots per worker; a worker answers in order, so
	 * its k-th result frees its slot k % INFLIGHT. */
	size_t nslots = (size_t)nw * INFLIGHT;
	uint64_t *slots = malloc(nslots * (chunk + 1) * sizeof(*slots));
	uint64_t *res = malloc((chunk + 1) * sizeof(*res));
	MPI_Request *reqs = malloc(nslots * sizeof(*reqs));
	size_t *turn = calloc((size_t)nw, sizeof(*turn));
	size_t next = 0, done = 0, s;
	MPI_Status st;
	int r, k, count;

	for (s = 0; s < nslots; s++)
		reqs[s] = MPI_REQUEST_NULL;
	for (k = 0; k < INFLIGHT; k++)
		for (r = 1; r <= nw && next < n; r++) {
			s = (size_t)(r - 1) * INFLIGHT + (size_t)k;
			send_chunk(in, n, &next, chunk,
				   slots + s * (chunk + 1), &reqs[s], r);
		}
	while (done < n) {
		MPI_Recv(res, (int)(chunk + 1), MPI_UINT64_T, MPI_ANY_SOURCE,
			 TAG_RESULTS, MPI_COMM_WORLD, &st);
		MPI_Get_count(&st, MPI_UINT64_T, &count);
		memcpy(out + res[0], res + 1, (size_t)(count - 1) * sizeof(*out));
		done += (size_t)(count - 1);
		r = st.MPI_SOURCE;
		s = (size_t)(r - 1) * INFLIGHT + turn[r - 1]++ % INFLIGHT;
		if (next < n)
			send_chunk(in, n, &next, chunk,
				   slots + s * (chunk + 1), &reqs[s], r);
	}
	{
		/* A real array: MPICH's MPI_STATUSES_IGNORE trips GCC's
		 * -Wstringop-overflow (see src/core/comm.c). */
		MPI_Status *sts = malloc(nslots * sizeof(*sts));

		MPI_Waitall((int)nslots, reqs, sts);
		free(sts);
	}
	free(turn);
	free(reqs);
	free(res);
	free(slots);
	return done;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000000;
	size_t trips = argc > 2 ? strtoul(argv[2], NULL, 10) : 20000;
	size_t chunk = argc > 3 ? strtoul(argv[3], NULL, 10) : 64;
	int rank, size, r, ret = 0;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	if (chunk < 1)
		chunk = 1;
	if (size < 2) {
		if (rank == 0)
			fprintf(stderr, "mpifarm: needs at least 2 ranks\n");
		MPI_Finalize();
		return 2;
	}
	if (rank == 0) {
		uint64_t *in = malloc(n * sizeof(*in));
		uint64_t *out = malloc(n * sizeof(*out));
		uint64_t pair[2];
		double t;
		size_t i;

		for (i = 0; i < n; i++)
			in[i] = i;
		farm(in, out, n / 100 + 1, chunk, size - 1); /* warm-up */
		t = now();
		farm(in, out, n, chunk, size - 1);
		printf("mpifarm %.0f tasks/s\n", (double)n / (now() - t));
		for (i = 0; i < n; i++)
			if (out[i] != 2 * in[i] + 1) {
				fprintf(stderr, "mpifarm: wrong result at %zu\n", i);
				ret = 1;
				break;
			}
		t = now();
		for (i = 0; i < trips; i++) {
			pair[0] = 0;
			pair[1] = i;
			MPI_Send(pair, 2, MPI_UINT64_T, 1, TAG_TASKS,
				 MPI_COMM_WORLD);
			MPI_Recv(pair, 2, MPI_UINT64_T, 1, TAG_RESULTS,
				 MPI_COMM_WORLD, MPI_STATUS_IGNORE);
			if (pair[1] != 2 * i + 1)
				ret = 1;
		}
		printf("mpifarm_roundtrip %.2f us\n",
		       (now() - t) / (double)(trips ? trips : 1) * 1e6);
		for (r = 1; r < size; r++)
			MPI_Send(NULL, 0, MPI_UINT64_T, r, TAG_STOP,
				 MPI_COMM_WORLD);
		free(in);
		free(out);
	} else {
		worker(chunk);
	}
	MPI_Finalize();
	return ret;
}
