/*
 * Tests for --tagstring (tagstring.c): the tag rendered for each task as
 * the source gives it (its own arguments, shell-quoted as in the
 * command; {#} its id; {%} left for the slot), a string without
 * replacement strings used as it is, a job file's tags (no arguments),
 * and the prefix each output line gets (the slot filled in, a tab).
 */
#include "config.h"

#include "check_util.h"

#include "farm/tagstring.h"
#include "farm/template.h"
#include "core/util.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static char *prefix_of(const char *tag, int slot)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;

	tf_tag_prefix(&sb, tag, slot);
	return tf_strbuf_detach(&sb, NULL);
}

START_TEST(test_prefix)
{
	char *p;

	p = prefix_of("plain", 2);
	ck_assert_str_eq(p, "plain\t");
	free(p);
	p = prefix_of("[${TASKFARM_SLOT}:${TASKFARM_SLOT}]", 3);
	ck_assert_str_eq(p, "[3:3]\t");
	free(p);
	/* No slot known: {%} is nothing. */
	p = prefix_of("a${TASKFARM_SLOT}b", 0);
	ck_assert_str_eq(p, "ab\t");
	free(p);
	p = prefix_of("", 1);
	ck_assert_str_eq(p, "\t");
	free(p);
}
END_TEST

static int tmpl_next(void *ctx, struct tf_task *t)
{
	return tf_template_next(ctx, t);
}

static const char *tmpl_errmsg(void *ctx)
{
	return ((struct tf_template *)ctx)->errmsg;
}

/* Reads every task of a template (argv) through the tag wrapper with
 * fmt; returns the tags joined with '|'. */
static char *template_tags(int argc, char **argv, const char *fmt)
{
	struct tf_template tm;
	struct tf_source src = { 0 };
	struct tf_tag_source ts;
	struct tf_strbuf all = TF_STRBUF_INIT;
	struct tf_task t;
	int r;

	r = tf_template_init(&tm, argc, argv);
	ck_assert_msg(r == 0, "init: %d (%s)", r, tm.errmsg);
	src.next = tmpl_next;
	src.errmsg = tmpl_errmsg;
	src.ctx = &tm;
	tf_tag_source_wrap(&ts, &src, &tm, fmt);
	for (;;) {
		memset(&t, 0, sizeof(t));
		r = src.next(src.ctx, &t);
		ck_assert_int_ge(r, 0);
		if (r == 0)
			break;
		ck_assert_ptr_nonnull(t.tag);
		if (all.len)
			tf_strbuf_addch(&all, '|');
		tf_strbuf_addstr(&all, t.tag);
		tf_task_release(&t);
	}
	tf_template_release(&tm);
	return tf_strbuf_detach(&all, NULL);
}

START_TEST(test_template_tags)
{
	char *argv[] = { "echo", "{}", ":::", "a", "b c" };
	char *argv2[] = { "echo", ":::", "a", "b", ":::", "x" };
	char *got;

	/* Each task's own arguments, quoted as in its command. */
	got = template_tags(ARRAY_SIZE(argv), argv, "{#}:{1}:{%}");
	ck_assert_str_eq(got, "1:a:${TASKFARM_SLOT}|2:'b c':${TASKFARM_SLOT}");
	free(got);
	got = template_tags(ARRAY_SIZE(argv2), argv2, "{2}-{1} {}");
	ck_assert_str_eq(got, "x-a a x|x-b b x");
	free(got);
	/* No replacement string: nothing is appended. */
	got = template_tags(ARRAY_SIZE(argv), argv, "plain");
	ck_assert_str_eq(got, "plain|plain");
	free(got);
}
END_TEST

/* A job file's source, as far as the wrapper can tell: ids 4 and 9. */
static int lines_next(void *ctx, struct tf_task *t)
{
	int *left = ctx;
	static const uint64_t ids[] = { 4, 9 };

	if (*left == 0)
		return 0;
	t->id = ids[2 - *left];
	t->cmd = tf__xstrdup("true");
	t->cmd_len = 4;
	(*left)--;
	return 1;
}

static const char *lines_errmsg(void *ctx)
{
	return "";
}

START_TEST(test_jobfile_tags)
{
	struct tf_source src = { 0 };
	struct tf_tag_source ts;
	struct tf_task t;
	int left = 2;

	src.next = lines_next;
	src.errmsg = lines_errmsg;
	src.ctx = &left;
	tf_tag_source_wrap(&ts, &src, NULL, "L{#}[{}]");
	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(src.next(src.ctx, &t), 1);
	ck_assert_str_eq(t.tag, "L4[]");
	ck_assert_str_eq(t.cmd, "true"); /* the command is the source's */
	tf_task_release(&t);
	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(src.next(src.ctx, &t), 1);
	ck_assert_str_eq(t.tag, "L9[]");
	tf_task_release(&t);
	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(src.next(src.ctx, &t), 0);
	ck_assert_ptr_null(t.tag);
	ck_assert_str_eq(src.errmsg(src.ctx), "");
}
END_TEST

static Suite *tagstring_suite(void)
{
	Suite *s = suite_create("tagstring");
	TCase *tc = tcase_create("tagstring");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_prefix);
	tcase_add_test(tc, test_template_tags);
	tcase_add_test(tc, test_jobfile_tags);
	suite_add_tcase(s, tc);
	return s;
}

TF_CHECK_MAIN(tagstring_suite)
