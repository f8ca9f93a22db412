/*
 * --tagstring. The tag is rendered when the task is read from its
 * source, while the template's odometer still points at the task's
 * arguments, and kept with the task (master side only: it is never sent
 * to a worker) until its output is written.
 */
#include "config.h"

#include "farm/tagstring.h"

#include <stdlib.h>
#include <string.h>

/* What tf_template_render() puts for {%}: the shell expands it in a
 * command; a tag gets the slot when its output is written. */
static const char slot_ref[] = "${TASKFARM_SLOT}";

static int tag_next(void *ctx, struct tf_task *t)
{
	struct tf_tag_source *ts = ctx;
	const struct tf_template *tm = ts->tmpl;
	struct tf_strbuf out = TF_STRBUF_INIT;
	char **args = NULL;
	size_t i, nargs = 0;
	int ret;

	/* The arguments of the task next() is about to give. */
	if (tm && tm->next_id <= tm->ntasks && tm->nlists) {
		nargs = tm->nlists;
		args = tf__xmalloc(nargs * sizeof(*args));
		for (i = 0; i < nargs; i++)
			args[i] = tm->lists[i].args[tm->pos[i]];
	}
	ret = ts->inner.next(ts->inner.ctx, t);
	if (ret == 1) {
		if (!tf_template_render(ts->fmt, args, nargs, t->id, &out)) {
			/* No replacement string: nothing is appended. */
			tf_strbuf_reset(&out);
			tf_strbuf_addstr(&out, ts->fmt);
		}
		t->tag = tf_strbuf_detach(&out, NULL);
	}
	tf_strbuf_release(&out);
	free(args);
	return ret;
}

static const char *tag_errmsg(void *ctx)
{
	struct tf_tag_source *ts = ctx;

	return ts->inner.errmsg(ts->inner.ctx);
}

void tf_tag_source_wrap(struct tf_tag_source *ts, struct tf_source *src,
			const struct tf_template *tmpl, const char *fmt)
{
	ts->inner = *src;
	ts->tmpl = tmpl;
	ts->fmt = fmt;
	src->next = tag_next;
	src->errmsg = tag_errmsg;
	src->ctx = ts;
}

void tf_tag_prefix(struct tf_strbuf *sb, const char *tag, int slot)
{
	const char *p;

	while ((p = strstr(tag, slot_ref)) != NULL) {
		tf_strbuf_add(sb, tag, (size_t)(p - tag));
		if (slot > 0)
			tf_strbuf_addf(sb, "%d", slot);
		tag = p + sizeof(slot_ref) - 1;
	}
	tf_strbuf_addstr(sb, tag);
	tf_strbuf_addch(sb, '\t');
}
