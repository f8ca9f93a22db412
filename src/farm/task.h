/*
 * Tasks and results: what the master hands out and what comes back. These
 * are plain data shared by the queue, the wire encoding, the executor, the
 * journal and the reports; none of them needs MPI.
 */
#ifndef TF_TASK_H
#define TF_TASK_H

#include <stddef.h>
#include <stdint.h>

/** One attempt of one task. cmd is owned by the task (NUL-terminated). */
struct tf_task {
	uint64_t id;      /* line number in the job file, or ordinal */
	uint32_t attempt; /* 1 for the first try */
	uint32_t cmd_len;
	char *cmd;
	double timeout;   /* seconds this attempt may run; 0: no limit */
	/* The master's bookkeeping, not sent to workers: */
	uint32_t retries_left; /* failed attempts it may still retry */
	int32_t avoid_rank;    /* retry elsewhere than this rank; -1: any */
	uint32_t lost;         /* attempts lost with their rank */
	char *tag;             /* --tagstring's, rendered; NULL: none */
	uint64_t barrier;      /* #TASKFARM barrier lines before it */
	/* What it needs of a rank (job-file directives, directive.h),
	 * sent with it: */
	uint32_t slots;        /* slots it takes; 0 or 1: one */
	uint32_t gpus;         /* GPUs it takes when gpus_given */
	uint32_t gpus_given;   /* else slots x --gpus-per-slot */
};

/** How many slots task t takes. */
static inline uint32_t tf_task_slots(const struct tf_task *t)
{
	return t->slots ? t->slots : 1;
}

/** How an attempt ended. */
enum tf_status {
	TF_STATUS_OK = 0,          /* exit status 0 */
	TF_STATUS_FAILED = 1,      /* non-zero exit status */
	TF_STATUS_SIGNALED = 2,    /* killed by a signal it did not get from us */
	TF_STATUS_TIMEOUT = 3,     /* killed by us for a time limit */
	TF_STATUS_INTERRUPTED = 4, /* killed by us for a drain or shutdown */
	TF_STATUS_SPAWN_FAILED = 5, /* could not be started at all */
	TF_STATUS_NOT_STARTED = 6,  /* handed back unrun (drain); not journaled */
	TF_STATUS_LOST = 7,         /* its rank was lost while it was there */
	TF_STATUS_OUTPUT_LOST = 8   /* ran, but its output could not be kept
				     * or written: run it again */
};
#define TF_STATUS_LAST TF_STATUS_OUTPUT_LOST

/**
 * Captured output of one stream. Up to a threshold it is held in memory
 * (mem); past it, everything is in an unlinked temporary file (spill_fd
 * >= 0, total length len). Owned by the struct; tf_output_release()
 * frees it. If it could not be spilled, error holds why (-errno) and the
 * output is empty for good: the task's output is lost.
 */
struct tf_output {
	char *mem;
	size_t mem_len;
	size_t mem_alloc;
	int spill_fd;
	int error;
	uint64_t len;
};

/** The outcome of one attempt. */
struct tf_result {
	uint64_t id;
	uint32_t attempt;
	int32_t rank;
	int32_t slot;
	int32_t status;    /* enum tf_status */
	int32_t exitval;   /* exit status, or 128+signal as a shell reports */
	int32_t signal;    /* the terminating signal, 0 if none */
	double start;      /* wall-clock start, seconds since the epoch */
	double runtime;    /* seconds */
	int64_t maxrss_kb; /* max resident set size of the task's processes */
	double utime;      /* user CPU seconds */
	double stime;      /* system CPU seconds */
	struct tf_output out;
	struct tf_output err;
	/* Set by the wire decoder when the output came ahead in chunks. */
	int streamed;
	uint64_t streamed_out;
	uint64_t streamed_err;
	/* --line-buffer (master side): bytes already written ahead as
	 * chunks and cut off the front of out and err; the journal's and
	 * the joblog's byte counts include them. */
	uint64_t ahead_out;
	uint64_t ahead_err;
};

void tf_task_release(struct tf_task *t);
/** Copies src into dst (dst owns a fresh copy of the command). */
void tf_task_copy(struct tf_task *dst, const struct tf_task *src);

void tf_output_init(struct tf_output *o);
void tf_output_release(struct tf_output *o);
/**
 * Appends len bytes. Past spill_threshold bytes in memory, moves the
 * contents to an unlinked temporary file in $TMPDIR (or /tmp). If that
 * file cannot be made or written, the output is dropped, o->error keeps
 * the first error and later appends are ignored: memory stays bounded and
 * the task runs on, but its output is lost (tf_output_spill_dir() names
 * where it was to go). Returns 0, or o->error once it is set.
 */
int tf_output_append(struct tf_output *o, const void *data, size_t len,
		     size_t spill_threshold);
/** The directory spill files go to: $TMPDIR, or /tmp. */
const char *tf_output_spill_dir(void);
/** Writes the whole output to fd (from memory or the spill file). If
 * prefix is non-NULL, it is written before every line. Returns 0 or
 * -errno; o->error if the output was lost. */
int tf_output_write(const struct tf_output *o, int fd, const char *prefix);
/** Reads up to len bytes at offset off into buf; returns the count read
 * or -errno. */
long tf_output_pread(const struct tf_output *o, void *buf, size_t len,
		     uint64_t off);
/** Appends bytes [from, to) of src to dst. Returns 0 or -errno (dst's
 * error if it could not keep them). */
int tf_output_copy(struct tf_output *dst, const struct tf_output *src,
		   uint64_t from, uint64_t to, size_t spill_threshold);
/** Drops the first n bytes of o (what --line-buffer wrote ahead): o then
 * holds the rest. A copy that fails leaves o's error set (-EIO if the
 * read failed). */
void tf_output_drop_front(struct tf_output *o, uint64_t n,
			  size_t spill_threshold);

void tf_result_init(struct tf_result *r);
void tf_result_release(struct tf_result *r);
/** "ok", "failed", "signal", "timeout", "interrupted", "spawn-failed",
 * "not-started", "lost", "output-lost" */
const char *tf_status_name(int status);

#endif
