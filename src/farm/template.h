/*
 * Template mode: a command and argument lists (":::", "::::") as a task
 * source, walked as GNU parallel walks them, and the shell quoting the
 * rendered arguments get. No MPI, no I/O but reading "::::" files.
 */
#ifndef TF_TEMPLATE_H
#define TF_TEMPLATE_H

#include <stddef.h>
#include <regex.h>
#include <stdint.h>

#include "farm/task.h"
#include "core/util.h"

/*
 * CMD WORDS... ::: a b c ::: x y :::: FILE :::+ 1 2 ::::+ FILE
 * The product of the argument sources is walked with the first source
 * varying slowest, as GNU parallel does; a source after ":::+" or
 * "::::+" is linked to the one before: they advance together, and the
 * shortest sets how many steps they take. Replacement strings, with GNU
 * parallel's meaning: {} all arguments, {N} the Nth (negative: from the
 * last), {#} the task id, {%} the slot (expanded by the shell from
 * $TASKFARM_SLOT); {.} {/} {//} {/.} and {N.} {N/} {N//} {N/.} the
 * argument without its extension, its base name, its directory, its base
 * name without extension. Arguments are shell-quoted. With no
 * replacement string in the command, the arguments are appended. An
 * unknown string that looks like one of parallel's ({..}, {+/}, {= perl
 * =}) is an error; other braces are text.
 */
struct tf_arglist {
	char **args;
	size_t n;
	int linked;                /* walked with the list before it */
	size_t leader;             /* the first list of its linked group */
	size_t maxcols;            /* --colsep: the most columns of one arg */
};

/* What the program's options add to the words after "--". */
struct tf_template_opts {
	char *const *arg_files;    /* -a FILE...: sources before the others */
	size_t narg_files;
	const char *colsep;        /* --colsep REGEX, or NULL */
};

struct tf_template {
	char *cmd;                 /* the command words joined by spaces */
	struct tf_arglist *lists;
	size_t nlists;
	size_t *pos;               /* the odometer, one digit per group */
	size_t *glen;              /* each group's length (at its leader) */
	uint64_t next_id;          /* 1-based id of the next task */
	uint64_t ntasks;           /* product of the group lengths */
	int has_replacement;
	int has_colsep;
	regex_t colsep;            /* splits every argument into columns */
	uint64_t fingerprint;      /* of the command and every argument */
	char errmsg[TF_ERRMSG_MAX];
};

/**
 * Parses argv (the words after "--") and checks that no combination
 * renders longer than TF_MAX_LINE (the command as the shell gets it).
 * Returns 0, or TF_EINVAL / TF_EPARSE / TF_ETOOLONG / -errno with
 * t->errmsg set and nothing left to release.
 */
int tf_template_init(struct tf_template *t, int argc, char **argv);
/** As tf_template_init(), with -a files and --colsep from to (NULL:
 * none). The caller keeps owning to and its strings. */
int tf_template_init_with(struct tf_template *t, int argc, char **argv,
			  const struct tf_template_opts *to);
/** As tf_jobfile_next(). */
int tf_template_next(struct tf_template *t, struct tf_task *task);
void tf_template_release(struct tf_template *t);

/**
 * Renders cmd with the arguments args[0..nargs) (with --colsep, the
 * columns of every source, one after the other) and the id into out
 * (appended). An argument {N} past nargs renders as nothing. Returns
 * whether cmd held a replacement string.
 */
int tf_template_render(const char *cmd, char *const *args, size_t nargs,
		       uint64_t id, struct tf_strbuf *out);

/** Appends s to sb quoted for /bin/sh: as is when it is made only of safe
 * characters, else in single quotes with embedded ones escaped. */
void tf_shell_quote(struct tf_strbuf *sb, const char *s);

/* Between template.c and render.c: whether every replacement string of
 * t->cmd is known and names one of nfields sources (or columns); sets
 * t->has_replacement. Returns 0 or TF_EINVAL with t->errmsg set. */
int tf__template_check_replacements(struct tf_template *t, size_t nfields);

#endif
