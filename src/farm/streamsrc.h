/*
 * An open job source (standard input or a pipe read as it arrives, or a
 * job file read with --follow) as the master's task source. It gives the
 * job-file reader's tasks and, on --resume, checks that what arrives
 * begins with the job the journal's .meta records: the fingerprint of
 * an open source is of what was read, so the check is made when as many
 * tasks as the journal's job had have arrived. No MPI.
 */
#ifndef TF_STREAMSRC_H
#define TF_STREAMSRC_H

#include <stdint.h>

#include "farm/jobfile.h"
#include "farm/journal.h"
#include "farm/queue.h"

struct tf_stream_source {
	struct tf_jobfile *jf;   /* opened by tf_jobfile_open_stream() */
	uint64_t expect_n;       /* the journal's job's tasks; 0: no check */
	char expect_fp[17];      /* ... and their fingerprint (hex) */
	uint32_t max_slots;      /* the most a rank has: a task that needs */
	uint32_t max_gpus;       /* more is an input error (0: no limit) */
	int checked;             /* expect_n tasks arrived and matched */
	int mismatch;            /* the error that stopped the source, or 0 */
	char errmsg[TF_ERRMSG_MAX];
};

/**
 * Prepares ss to read jf (which the caller keeps and closes), with no
 * check, and fills src to read through ss. Allocates nothing.
 */
void tf_stream_source_init(struct tf_stream_source *ss, struct tf_jobfile *jf,
			   struct tf_source *src);

/**
 * Checks, once expect_n tasks have been read, that their fingerprint is
 * expect_fp (16 hex digits); expect_n 0 checks nothing. Called before
 * the first task is read.
 */
void tf_stream_source_expect(struct tf_stream_source *ss, uint64_t expect_n,
			     const char *expect_fp);

/**
 * Refuses, as they arrive, tasks that need more slots or GPUs
 * (#TASKFARM slots, gpus) than any rank has: TF_EPARSE naming the task's
 * line, as a validated file's check does up front. 0: no limit.
 */
void tf_stream_source_limits(struct tf_stream_source *ss, uint32_t max_slots,
			     uint32_t max_gpus);

/**
 * The source's next(): 1 with *t, 0 at the end, TF_SOURCE_AGAIN while
 * no whole task has arrived, the reader's error, TF_EPARSE for a task
 * over the limits, or TF_EINVAL when the
 * first expect_n tasks are not the journal's job (or the source ended
 * before them), with errmsg naming the source. A source that failed
 * gives the same error again.
 */
int tf_stream_source_next(void *ctx, struct tf_task *t);

/** What the source's errors say. */
const char *tf_stream_source_errmsg(void *ctx);

/** The fingerprint of the tasks read so far, as 16 hex digits. */
void tf_stream_source_fingerprint(const struct tf_stream_source *ss,
				  char hex[17]);

/** Whether the journal's .meta may now record what was read: the check
 * passed, or there was none. */
int tf_stream_source_verified(const struct tf_stream_source *ss);

/**
 * After the run: records in the journal's locked .meta (lock) the count
 * and fingerprint of the tasks read, with source as its description,
 * once they passed the check and are at least as many as it recorded
 * before, so that a --resume checks what arrives then against them.
 * Returns 0 (also when nothing is recorded) or -errno.
 */
int tf_stream_source_record(const struct tf_stream_source *ss,
			    struct tf_journal_lock *lock, const char *source);

#endif
