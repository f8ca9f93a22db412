/*
 * Template mode: a command and argument lists (":::", "::::") as a task
 * source, walked as GNU parallel walks them, and the shell quoting the
 * rendered arguments get. No MPI, no I/O but reading "::::" files.
 */
#ifndef TF_TEMPLATE_H
#define TF_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

#include "farm/task.h"
#include "core/util.h"

/*
 * CMD WORDS... ::: a b c ::: x y :::: FILE
 * The product of the argument sources is walked with the first source
 * varying slowest, as GNU parallel does. Replacement strings: {} all
 * arguments, {N} the Nth source's argument, {#} the task id, {%} the
 * slot (expanded by the shell from $TASKFARM_SLOT). Arguments are
 * shell-quoted. With no replacement string in the command, the
 * arguments are appended.
 */
struct tf_arglist {
	char **args;
	size_t n;
};

struct tf_template {
	char *cmd;                 /* the command words joined by spaces */
	struct tf_arglist *lists;
	size_t nlists;
	size_t *pos;               /* the odometer */
	uint64_t next_id;          /* 1-based id of the next task */
	uint64_t ntasks;           /* product of the list sizes */
	int has_replacement;
	uint64_t fingerprint;      /* of the command and every argument */
	char errmsg[TF_ERRMSG_MAX];
};

/**
 * Parses argv (the words after "--") and checks that no combination
 * renders longer than TF_MAX_LINE (the command as the shell gets it). Returns 0, or TF_EINVAL / TF_EPARSE /
 * TF_ETOOLONG / -errno with t->errmsg set and nothing left to release.
 */
int tf_template_init(struct tf_template *t, int argc, char **argv);
/** As tf_jobfile_next(). */
int tf_template_next(struct tf_template *t, struct tf_task *task);
void tf_template_release(struct tf_template *t);

/**
 * Renders cmd with the arguments args[0..nargs) and the id into out
 * (appended). Returns whether cmd held a replacement string.
 */
int tf_template_render(const char *cmd, char *const *args, size_t nargs,
		       uint64_t id, struct tf_strbuf *out);

/** Appends s to sb quoted for /bin/sh: as is when it is made only of safe
 * characters, else in single quotes with embedded ones escaped. */
void tf_shell_quote(struct tf_strbuf *sb, const char *s);

#endif
