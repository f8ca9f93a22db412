/*
 * The job-file reader, one of the task sources (template.h is the
 * other). Both yield tasks one at a time, so memory does not grow with
 * the number of tasks. Neither needs MPI.
 *
 * Job-file format: one task per line; blank lines and lines whose first
 * non-blank character is '#' are skipped; a line ending in an odd number
 * of backslashes continues on the next line (the backslash and newline
 * are removed); CRLF endings are accepted; a last line without a newline
 * is a task, and a comment that is a directive (directive.h) sets what
 * the tasks after it need, or ends them. A task's id is the line number where it starts. A NUL byte,
 * a carriage return that does not end a line (a classic Mac OS file), a
 * logical line over TF_MAX_LINE bytes or a continuation at the end of the
 * file is an error naming file:line.
 *
 * A job file is run as it was validated: tf_jobfile_scan() records its
 * size, modification time and a hash of every TF_JOBFILE_BLOCK bytes, and
 * each block read afterwards is checked against them, so a file that is
 * truncated, appended to or overwritten during the run stops the reader
 * with an error instead of running text that was never validated.
 *
 * An open source (tf_jobfile_open_stream(): standard input or a named
 * pipe, or with follow a regular file that its producer keeps appending
 * to) is not validated up front: each line is checked as it arrives,
 * with the same rules, and tf_jobfile_next() says -EAGAIN while no whole
 * task has arrived yet. Its fingerprint and count are of what was read.
 */
#ifndef TF_JOBFILE_H
#define TF_JOBFILE_H

#include <stdint.h>
#include <stdio.h>

#include "farm/task.h"
#include "core/util.h"

/**
 * The longest logical line (a task's command) accepted, in bytes. A task
 * runs as one argument of `sh -c`, and Linux caps one exec argument at
 * MAX_ARG_STRLEN (32 pages of 4 KiB, the terminating NUL included); the
 * spawner puts TF_EXEC_PREFIX_LEN bytes before the command ("trap '' USR1"
 * and a newline, in src/farm/exec.c). Longer lines are refused up front.
 */
#define TF_EXEC_ARG_MAX (32 * 4096)
#define TF_EXEC_PREFIX_LEN 13
#define TF_MAX_LINE (TF_EXEC_ARG_MAX - 1 - TF_EXEC_PREFIX_LEN)

/** The unit in which a validated job file is checked again as it is
 * read for dispatch. */
#define TF_JOBFILE_BLOCK 65536


struct tf_jobfile {
	FILE *fp;
	char *path;       /* as given; "-" is standard input */
	uint64_t lineno;  /* physical lines read so far */
	uint64_t ntasks;  /* known after tf_jobfile_scan() */
	uint64_t fingerprint; /* of every task's id and command, likewise */
	uint64_t first_continued; /* likewise: the id of the first task
				   * continued over lines (0: none) */
	uint32_t max_slots, max_gpus; /* likewise: the most a task needs */
	uint64_t max_slots_line, max_gpus_line; /* ... first asked there */
	uint64_t nbarriers; /* likewise: #TASKFARM barrier lines */
	/* Directives read so far (since the last rewind): */
	uint64_t barrier;   /* barriers passed */
	uint32_t cur_slots, cur_gpus, cur_gpus_given;
	uint64_t ended;     /* the line of #TASKFARM end; 0: none yet */
	int stop_at_end;    /* an open source: #TASKFARM end ends the read
			     * (else what follows is checked) */
	uint64_t running_fp; /* fingerprint of what was read since the
			      * last rewind: tasks and directives */
	struct tf_strbuf line;
	struct tf_strbuf phys;
	/* The block reader: buf holds the bytes [off - len, off). */
	char *buf;
	size_t buf_len, buf_pos;
	uint64_t off;
	int at_eof;
	uint64_t nread_tasks; /* tasks returned since the last rewind */
	/* What tf_jobfile_scan() validated (scanned set once it has). */
	int scanning, scanned;
	uint64_t size;
	uint64_t *block_hash;
	size_t nblocks, blocks_alloc;
	/* An open source: read as it arrives, never scanned. */
	int stream;       /* read as it arrives (tf_jobfile_open_stream()) */
	int follow;       /* a regular file: its end is not the end */
	int phys_partial; /* jf->phys holds the start of a line */
	int next_partial; /* jf->line holds the start of a task */
	int cont_pending; /* ... which continues on the next line */
	uint64_t cont_start; /* ... and starts on this line */
	double follow_idle; /* tf_now() of the last read that found nothing */
	char errmsg[TF_ERRMSG_MAX];
};

/**
 * Opens path ("-" for standard input). A source that cannot be read twice
 * (a pipe, a terminal, a device) is first copied to an unlinked temporary
 * file in $TMPDIR, so that tf_jobfile_scan() can validate it before any
 * task starts. The copy stops at the first NUL byte, stray carriage return
 * or physical line over TF_MAX_LINE bytes, so an endless source such as
 * /dev/zero does not fill $TMPDIR. Returns 0, or a negative code (TF_EPARSE
 * or TF_ETOOLONG with "file:line" in jf->errmsg for such a copy) with
 * jf->errmsg set; on failure nothing needs releasing.
 */
int tf_jobfile_open(struct tf_jobfile *jf, const char *path);

/**
 * Opens path ("-" for standard input) as an open source when it is one:
 * a pipe, FIFO, terminal or device, or with follow any file. Such a
 * source is read as it arrives (jf->stream set; never call
 * tf_jobfile_scan() on it): tf_jobfile_next() returns -EAGAIN while no
 * whole task has arrived (call it again later, or wait with
 * tf_jobfile_wait()), validates every line as it completes, keeps
 * jf->running_fp and jf->nread_tasks of what was read (as
 * tf_jobfile_scan() computes jf->fingerprint and jf->ntasks for a whole
 * file), and ends at the end of the input or at a "#TASKFARM end" line
 * (jf->ended, jf->stop_at_end set). With follow, the
 * end of a regular file is not its end: the reader waits for more, and a
 * file that shrinks is -ESTALE. A regular file without follow is opened
 * as tf_jobfile_open() does (jf->stream 0: scan it first). Returns 0 or
 * a negative code with jf->errmsg set; on failure nothing needs
 * releasing.
 */
int tf_jobfile_open_stream(struct tf_jobfile *jf, const char *path,
			   int follow);

/**
 * Waits up to timeout seconds for more of an open source to arrive (a
 * follow'ed regular file: just sleeps). Returns 0 or -errno.
 */
int tf_jobfile_wait(struct tf_jobfile *jf, double timeout);

/**
 * The descriptor that polls readable when more of an open source has
 * arrived (a pipe, FIFO, terminal or device), for a caller's own poll; -1
 * for a followed regular file (always readable: it is looked at on a
 * clock instead) or a source that is not open.
 */
int tf_jobfile_poll_fd(const struct tf_jobfile *jf);

/**
 * Reads the next task into *task (which the caller then owns and releases
 * with tf_task_release()). task->attempt is set to 1.
 * Returns 1 for a task, 0 at the end, or TF_EPARSE / TF_ETOOLONG / -errno
 * with jf->errmsg naming the file and line; for an open source, -EAGAIN
 * while no whole task has arrived yet (nothing is lost: call again).
 * After tf_jobfile_scan(), a file that no longer holds what was validated (truncated, grown, or a
 * block of it rewritten) gives -ESTALE with "FILE: changed while running"
 * in jf->errmsg; no task past the change is returned.
 */
int tf_jobfile_next(struct tf_jobfile *jf, struct tf_task *task);

/**
 * Reads the next physical line into jf->phys, without its line ending and
 * without any job-file syntax (for argument files: one item per line,
 * empty lines included). Returns 1, 0 at the end, or TF_EPARSE /
 * TF_ETOOLONG / -errno with jf->errmsg naming the file and line.
 */
int tf_jobfile_next_line(struct tf_jobfile *jf);

/**
 * Reads the whole source once to validate it, count its tasks
 * (jf->ntasks) and fingerprint them (jf->fingerprint: ids and commands,
 * so comments and blank lines that move no task do not count), records
 * what it read (size, modification time, a hash per TF_JOBFILE_BLOCK
 * bytes) for tf_jobfile_next() to check, then rewinds. Returns 0 or the
 * first error, as tf_jobfile_next() does; -ESTALE if the file changed
 * while it was being read.
 */
int tf_jobfile_scan(struct tf_jobfile *jf);

/** Closes the file and frees everything; jf may be reopened. */
void tf_jobfile_close(struct tf_jobfile *jf);

#endif
