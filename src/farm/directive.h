/*
 * Job-file directives: comment-like lines that a shell skips, so that a
 * job file with them is still a list of shell lines.
 *
 *     #TASKFARM barrier     every earlier task ends before a later starts
 *     #TASKFARM slots N     the tasks that follow need N of a rank's slots
 *     #TASKFARM gpus K      ... and K GPUs (0: none, whatever the slots)
 *     #TASKFARM end         the end of the tasks (--follow, streams)
 *
 * A line is a directive when its first non-blank characters are
 * "#TASKFARM" followed by a blank or the end of the line; "#TASKFARMS"
 * and "# TASKFARM" are plain comments. No MPI.
 */
#ifndef TF_DIRECTIVE_H
#define TF_DIRECTIVE_H

#include <stddef.h>
#include <stdint.h>

/** The largest N of "slots N" and K of "gpus K". */
#define TF_DIRECTIVE_MAX 100000

enum tf_directive_kind {
	TF_DIRECTIVE_BARRIER = 1,
	TF_DIRECTIVE_SLOTS,
	TF_DIRECTIVE_GPUS,
	TF_DIRECTIVE_END
};

struct tf_directive {
	int kind;        /* enum tf_directive_kind */
	uint32_t value;  /* N or K; 0 for the others */
};

/**
 * Parses line (len bytes, no line ending). Returns 0 if it is not a
 * directive (a task, a blank line or a plain comment), 1 with *d filled
 * if it is one, or TF_EPARSE with what is wrong in err (without a
 * file:line prefix: the caller knows where it is).
 */
int tf_directive_parse(const char *line, size_t len, struct tf_directive *d,
		       char *err, size_t errlen);

/** The directive's canonical text ("barrier", "slots 4"), for hashing. */
void tf_directive_format(const struct tf_directive *d, char *buf,
			 size_t len);

#endif
