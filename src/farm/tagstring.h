/*
 * --tagstring: a string rendered for each task, as its command is, that
 * prefixes every line of the task's output. No MPI.
 */
#ifndef TF_TAGSTRING_H
#define TF_TAGSTRING_H

#include "farm/queue.h"
#include "farm/template.h"
#include "core/util.h"

/** A source that gives each task of inner its tag (tf_task.tag). */
struct tf_tag_source {
	struct tf_source inner;
	const struct tf_template *tmpl; /* NULL: a job file */
	const char *fmt;
};

/**
 * Makes *src a source that reads from what *src was and renders fmt for
 * each task into its tag. In template mode (tmpl, the template that
 * inner reads) the replacement strings are the command's, rendered by
 * tf_template_render(), so arguments that the shell would need quoted
 * come quoted; {%} is filled with the slot when the output is written.
 * From a job file there are no arguments: {} renders empty, {#} is the
 * task id. A string without replacement strings is used as it is. ts
 * must outlive *src. Allocates nothing.
 */
void tf_tag_source_wrap(struct tf_tag_source *ts, struct tf_source *src,
			const struct tf_template *tmpl, const char *fmt);

/** Appends a task's tag to sb, "${TASKFARM_SLOT}" made slot, then a
 * tab: the prefix of each of its output lines. */
void tf_tag_prefix(struct tf_strbuf *sb, const char *tag, int slot);

#endif
