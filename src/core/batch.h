/*
 * The scheduling rules both kinds of task share: how many tasks one
 * message carries. The command farm (farm/dispatch.c, farm/worker.c)
 * and the C API's pool (pool/) size their batches with these, from the
 * measured run time of tasks and, for the pool, the measured cost of a
 * message.
 * No MPI, no I/O: pure arithmetic, unit-tested in check_batch.
 */
#ifndef TF_SCHED_H
#define TF_SCHED_H

#include <stddef.h>
#include <stdint.h>

/**
 * Guided self-scheduling: at most remaining / (2 * slots) tasks, at least
 * 1, so that near the end batches shrink and the last tasks spread over
 * every slot. slots 0 gives SIZE_MAX (no cap).
 */
size_t tf_sched_guided(uint64_t remaining, size_t slots);

/**
 * Tasks that fill ahead_s seconds at task_s seconds each, plus one (so
 * that the next is ready when one finishes), at most max. task_s <= 0
 * (unknown) gives 1.
 */
size_t tf_sched_ahead(double task_s, double ahead_s, size_t max);

/**
 * Automatic chunking for function tasks, whose run time may be
 * nanoseconds: each chunk should run long enough that its message cost
 * is a small share (TF_SCHED_OVERHEAD) of it, yet not so long that the
 * last chunks leave ranks idle.
 */
#define TF_SCHED_OVERHEAD 0.01 /* a message may cost 1% of its chunk */
#define TF_SCHED_CHUNK_MIN_S 0.0005
#define TF_SCHED_CHUNK_MAX_S 0.05
/* Inputs per message: past about this, Open MPI's shared-memory path
 * slows (bench/pool.sh: 64 Ki tasks of 8 bytes beat 256 Ki and 1 Mi). */
#define TF_SCHED_CHUNK_BYTES (512u << 10)

struct tf_chunker {
	double task_s; /* moving average of seconds per task; 0 unknown */
	double msg_s;  /* least seen message cost: round trip minus run */
	uint64_t chunks; /* chunks observed */
	double floor_s;  /* least seconds a chunk should run, whatever the
			  * message costs (0: TF_SCHED_CHUNK_MIN_S); an
			  * isolated chunk costs a fork, which its measured
			  * run time counts as task time */
};

void tf_chunker_init(struct tf_chunker *c);

/**
 * The next chunk's size: the user's fixed size if not 0, else from the
 * measurements, capped by tf_sched_guided() over workers and by
 * TF_SCHED_CHUNK_BYTES of input (bytes_per_task, 0 if unknown). Before
 * any measurement it is 1, a probe. Never more than remaining or
 * UINT32_MAX, never less than 1 (remaining must be at least 1).
 */
size_t tf_chunker_size(const struct tf_chunker *c, uint64_t remaining,
		       size_t workers, size_t bytes_per_task, size_t fixed);

/** Records a chunk of count tasks that ran for run_s seconds and came
 * back round_trip_s seconds after it was sent. */
void tf_chunker_observe(struct tf_chunker *c, size_t count, double run_s,
			double round_trip_s);

/** How long a chunk of count tasks is expected to run (0 if unknown). */
double tf_chunker_expect(const struct tf_chunker *c, size_t count);

#endif
