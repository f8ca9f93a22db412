/*
 * Batch and chunk sizes for both kinds of task (see batch.h).
 */
#include "config.h"

#include "core/batch.h"

size_t tf_sched_guided(uint64_t remaining, size_t slots)
{
	if (slots == 0)
		return SIZE_MAX;
	remaining /= (uint64_t)2 * slots;
	if (remaining == 0)
		return 1;
	return remaining > SIZE_MAX ? SIZE_MAX : (size_t)remaining;
}

size_t tf_sched_ahead(double task_s, double ahead_s, size_t max)
{
	double n;

	if (task_s <= 0)
		return 1;
	n = ahead_s / task_s + 1;
	if (n >= (double)max)
		return max;
	return (size_t)n;
}

void tf_chunker_init(struct tf_chunker *c)
{
	c->task_s = 0;
	c->msg_s = 0;
	c->chunks = 0;
	c->floor_s = 0;
}

/* Message cost assumed until one is measured: a round trip through
 * shared memory between ranks that may have to be woken. */
#define MSG_S_DEFAULT 2e-5

size_t tf_chunker_size(const struct tf_chunker *c, uint64_t remaining,
		       size_t workers, size_t bytes_per_task, size_t fixed)
{
	size_t n, cap;
	double chunk_s;

	if (fixed) {
		n = fixed;
	} else if (c->chunks == 0 || c->task_s <= 0) {
		n = 1;
	} else {
		chunk_s = (c->msg_s > 0 ? c->msg_s : MSG_S_DEFAULT) /
			  TF_SCHED_OVERHEAD;
		if (chunk_s < TF_SCHED_CHUNK_MIN_S)
			chunk_s = TF_SCHED_CHUNK_MIN_S;
		if (chunk_s > TF_SCHED_CHUNK_MAX_S)
			chunk_s = TF_SCHED_CHUNK_MAX_S;
		if (chunk_s < c->floor_s)
			chunk_s = c->floor_s;
		n = tf_sched_ahead(c->task_s, chunk_s, UINT32_MAX);
		cap = tf_sched_guided(remaining, workers);
		if (n > cap)
			n = cap;
		if (bytes_per_task) {
			cap = TF_SCHED_CHUNK_BYTES / bytes_per_task;
			if (n > cap)
				n = cap ? cap : 1;
		}
	}
	if (n > remaining)
		n = (size_t)remaining;
	if (n > UINT32_MAX)
		n = UINT32_MAX;
	return n ? n : 1;
}

void tf_chunker_observe(struct tf_chunker *c, size_t count, double run_s,
			double round_trip_s)
{
	double per_task, cost;

	if (count == 0)
		return;
	per_task = run_s / (double)count;
	if (per_task < 1e-9)
		per_task = 1e-9;
	/* Weighted towards recent chunks, but one outlier moves it little. */
	c->task_s = c->chunks ? 0.7 * c->task_s + 0.3 * per_task : per_task;
	cost = round_trip_s - run_s;
	if (cost > 0 && (c->msg_s <= 0 || cost < c->msg_s))
		c->msg_s = cost;
	c->chunks++;
}

double tf_chunker_expect(const struct tf_chunker *c, size_t count)
{
	return c->task_s > 0 ? c->task_s * (double)count : 0;
}
