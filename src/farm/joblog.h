/*
 * The --joblog file: GNU parallel's joblog, byte for byte as parallel
 * 20221122 writes it, so that parallel's own --resume, --resume-failed
 * and --retry-failed read it. One line per task's final outcome (never
 * one per attempt, as parallel with --retries); attempts that did not
 * finish (interrupted by a drain, output-lost) get no line, so that
 * parallel runs them again, as it would its own. No MPI.
 *
 * Columns: Seq Host Starttime JobRuntime Send Receive Exitval Signal
 * Command, tab-separated. Command is raw, with only a newline written
 * as NUL (as parallel does); it may hold tabs, so a reader splits off
 * eight fields and takes the rest as the Command.
 */
#ifndef TF_JOBLOG_H
#define TF_JOBLOG_H

#include <stddef.h>

#include "farm/task.h"
#include "core/util.h"

#define TF_JOBLOG_HEADER                                                   \
	"Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\t" \
	"Command\n"

struct tf_joblog {
	int fd;
	char *path;
	struct tf_strbuf pending; /* whole lines not yet written */
	int error;                /* -errno of the first failed write */
};

/**
 * Opens path (never through a symbolic link; a regular file of this
 * user's only). With append, lines go after what is there and the
 * header is written only to an empty file (parallel's rule under
 * --resume); without, the file is emptied and starts with the header
 * (parallel's rule without). Returns 0 or -errno (-EPERM: another
 * user's file, -EINVAL: not a regular file), with nothing to release.
 */
int tf_joblog_open(struct tf_joblog *l, const char *path, int append);

/**
 * Whether an attempt that ended with status is logged once it is the
 * task's last: every outcome but interrupted, not-started and
 * output-lost, which parallel is to run again.
 */
int tf_joblog_logs(int status);

/**
 * Appends to sb the line for a task's final attempt r: Host is ":" for
 * a task run on the master itself, as parallel writes local jobs, else
 * host (":" if empty or holding white space); Receive is the bytes of
 * standard output (with those --line-buffer wrote ahead, r->ahead_out); a task killed by a signal has Exitval 0 and its
 * Signal, one stopped for its time limit Exitval -1 and the signal,
 * one given up after its rank was lost Exitval -1 and Signal 0.
 */
void tf_joblog_format(struct tf_strbuf *sb, const struct tf_result *r,
		      const char *host, const char *cmd, size_t cmd_len);

/** Buffers the line of r (see tf_joblog_format()) if tf_joblog_logs(). */
void tf_joblog_add(struct tf_joblog *l, const struct tf_result *r,
		   const char *host, const char *cmd, size_t cmd_len);

/** Writes the buffered lines. Returns 0 or -errno; after an error the
 * lines are dropped and every later call returns the same error. */
int tf_joblog_flush(struct tf_joblog *l);

/** Flushes and closes. Returns 0 or the first error. */
int tf_joblog_close(struct tf_joblog *l);

#endif
