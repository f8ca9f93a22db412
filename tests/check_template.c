/*
 * Tests of template mode: shell quoting (proved by running /bin/sh on the
 * result, so an argument is shown to arrive as data and never as code),
 * rendering of the replacement strings, the walk over the product of the
 * argument sources, argument files, and the errors for malformed command
 * lines.
 */
#include "config.h"

#include "check_util.h"

#include <stdint.h>

#include "farm/jobfile.h"
#include "farm/template.h"
#include "taskfarm.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Shell quoting. */

static void expect_quoted(const char *in, const char *want)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;

	tf_shell_quote(&sb, in);
	ck_assert_str_eq(sb.buf, want);
	ck_assert_uint_eq(sb.len, strlen(want));
	tf_strbuf_release(&sb);
}

START_TEST(test_quote_safe_words_unchanged)
{
	/* Words made only of characters the shell never interprets stay
	 * as they are, so rendered commands read naturally in logs. */
	expect_quoted("abc", "abc");
	expect_quoted("input_01.dat", "input_01.dat");
	expect_quoted("/data/run-3/out.txt", "/data/run-3/out.txt");
	expect_quoted("--seed=42", "--seed=42");
	expect_quoted("a,b:c+d@e%f", "a,b:c+d@e%f");
}
END_TEST

START_TEST(test_quote_special_words)
{
	/* The empty string must stay an argument rather than vanish. */
	expect_quoted("", "''");
	expect_quoted("a b", "'a b'");
	expect_quoted("it's", "'it'\\''s'");
	expect_quoted("'", "''\\'''");
	expect_quoted("$(id)", "'$(id)'");
	expect_quoted("`id`", "'`id`'");
	expect_quoted("$HOME", "'$HOME'");
	/* A tilde at the start of a word would be expanded. */
	expect_quoted("~", "'~'");
	expect_quoted("*.c", "'*.c'");
	expect_quoted("a;b", "'a;b'");
}
END_TEST

/* Runs `printf %s QUOTED` through /bin/sh and returns what it printed
 * (malloc'd). */
static char *shell_echo(const char *arg)
{
	struct tf_strbuf cmd = TF_STRBUF_INIT;
	struct tf_strbuf out = TF_STRBUF_INIT;
	char buf[4096], *got;
	size_t n;
	FILE *fp;

	tf_strbuf_addstr(&cmd, "printf %s ");
	tf_shell_quote(&cmd, arg);
	/* popen() runs the command with /bin/sh -c. */
	fp = popen(cmd.buf, "r");
	ck_assert_ptr_nonnull(fp);
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
		tf_strbuf_add(&out, buf, n);
	ck_assert_int_eq(pclose(fp), 0);
	tf_strbuf_release(&cmd);
	/* Copied rather than detached: the empty word prints nothing, and
	 * this helper should not depend on how an unused buffer detaches
	 * (check_task tests that). */
	got = tf__xstrdup(out.buf ? out.buf : "");
	tf_strbuf_release(&out);
	return got;
}

START_TEST(test_quote_survives_the_shell)
{
	char marker[4200], hostile[3 * 4200 + 64];
	const char *words[] = {
		"plain",
		"",
		"two words",
		"  leading and trailing  ",
		"it's",
		"''",
		"'\\''",
		"\"double\"",
		"$(echo INJECTED)",
		"`echo INJECTED`",
		"$HOME ${PATH} $0 $$",
		"a;b&&c||d|e",
		"*?[a-z]",
		"~root",
		"back\\slash\\",
		"new\nline",
		"tab\there",
		"#not a comment",
		"!bang",
		"<in >out 2>&1",
		"\x01\x7f\xc3\xa9",
		"-n",
	};
	size_t i;
	char *got;

	for (i = 0; i < ARRAY_SIZE(words); i++) {
		got = shell_echo(words[i]);
		ck_assert_msg(strcmp(got, words[i]) == 0,
			      "word %zu: sh printed '%s', want '%s'", i, got,
			      words[i]);
		free(got);
	}

	/* If quoting failed, these would create the marker file. */
	snprintf(marker, sizeof(marker), "%s", tmppath("pwned"));
	snprintf(hostile, sizeof(hostile), "$(touch %s)`touch %s`;touch %s",
		 marker, marker, marker);
	got = shell_echo(hostile);
	ck_assert_str_eq(got, hostile);
	free(got);
	ck_assert_int_eq(access(marker, F_OK), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

/* Rendering. */

static void expect_render(const char *cmd, char *const *args, size_t nargs,
			  uint64_t id, const char *want, int want_found)
{
	struct tf_strbuf out = TF_STRBUF_INIT;
	int found = tf_template_render(cmd, args, nargs, id, &out);

	ck_assert_str_eq(out.buf ? out.buf : "", want);
	ck_assert_uint_eq(out.len, strlen(want));
	ck_assert_int_eq(found, want_found);
	tf_strbuf_release(&out);
}

START_TEST(test_render_all_args)
{
	char *args[] = { "a b", "c", "" };

	expect_render("echo {}", args, 3, 1, "echo 'a b' c ''", 1);
	expect_render("{} {}", args, 2, 1, "'a b' c 'a b' c", 1);
}
END_TEST

START_TEST(test_render_numbered_args)
{
	char *args[] = { "in.dat", "out dir" };

	expect_render("cp {1} {2}/{1}.bak", args, 2, 7,
		      "cp in.dat 'out dir'/in.dat.bak", 1);
	expect_render("x{2}{1}y", args, 2, 7, "x'out dir'in.daty", 1);
}
END_TEST

START_TEST(test_render_id_and_slot)
{
	char *args[] = { "v" };

	expect_render("run --job={#} {1}", args, 1, 12345,
		      "run --job=12345 v", 1);
	expect_render("run {#}", args, 1, UINT64_MAX,
		      "run 18446744073709551615", 1);
	/* The slot is not known until the task runs on a worker, so it is
	 * left to the shell to expand there. */
	expect_render("run --gpu={%}", args, 1, 1,
		      "run --gpu=${TASKFARM_SLOT}", 1);
}
END_TEST

START_TEST(test_render_unknown_left_alone)
{
	char *args[] = { "v" };

	/* Shell and awk code uses braces; only our exact forms are taken. */
	expect_render("echo {foo} {} { } {1x} {", args, 1, 1,
		      "echo {foo} v { } {1x} {", 1);
	expect_render("awk '{print $1}' {}", args, 1, 1,
		      "awk '{print $1}' v", 1);
}
END_TEST

START_TEST(test_render_appends_when_no_replacement)
{
	char *args[] = { "a", "b c" };
	struct tf_strbuf out = TF_STRBUF_INIT;

	expect_render("echo hi", args, 2, 3, "echo hi a 'b c'", 0);
	/* An unknown brace form is not a replacement, so the arguments
	 * are still appended. */
	expect_render("echo {foo}", args, 1, 3, "echo {foo} a", 0);
	/* Nothing to append: the command is left as it is. */
	expect_render("true", args, 0, 3, "true", 0);

	/* render() appends to out; it does not overwrite what is there. */
	tf_strbuf_addstr(&out, "PRE:");
	tf_template_render("echo {1}", args, 2, 1, &out);
	ck_assert_str_eq(out.buf, "PRE:echo a");
	tf_strbuf_release(&out);
}
END_TEST

/* Template init and the product walk. */

/* Collects all tasks of a template into "cmd|cmd|..." and checks that the
 * ids run 1..ntasks and that next() then reports the end. */
static char *walk(struct tf_template *t)
{
	struct tf_strbuf all = TF_STRBUF_INIT;
	struct tf_task task;
	uint64_t want_id = 1;
	int r;

	while ((r = tf_template_next(t, &task)) == 1) {
		ck_assert_uint_eq(task.id, want_id);
		ck_assert_uint_eq(task.attempt, 1);
		ck_assert_uint_eq(task.cmd_len, strlen(task.cmd));
		if (all.len)
			tf_strbuf_addch(&all, '|');
		tf_strbuf_addstr(&all, task.cmd);
		tf_task_release(&task);
		want_id++;
	}
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(want_id - 1, t->ntasks);
	ck_assert_int_eq(tf_template_next(t, &task), 0);
	return tf_strbuf_detach(&all, NULL);
}

static void expect_walk(int argc, char **argv, uint64_t ntasks,
			const char *want)
{
	struct tf_template t;
	char *got;
	int r = tf_template_init(&t, argc, argv);

	ck_assert_msg(r == 0, "init: %d (%s)", r, t.errmsg);
	ck_assert_uint_eq(t.ntasks, ntasks);
	got = walk(&t);
	ck_assert_str_eq(got, want);
	free(got);
	tf_template_release(&t);
}

START_TEST(test_product_order)
{
	char *argv[] = { "echo", "{1}", "{2}", ":::", "a", "b",
			 ":::", "x", "y" };

	/* The first source varies slowest, as in GNU parallel. */
	expect_walk(ARRAY_SIZE(argv), argv, 4,
		    "echo a x|echo a y|echo b x|echo b y");
}
END_TEST

START_TEST(test_product_three_sources)
{
	char *argv[] = { "f", "{#}", "{3}{2}{1}", ":::", "1", "2", "3",
			 ":::", "p", ":::", "x", "y" };

	expect_walk(ARRAY_SIZE(argv), argv, 6,
		    "f 1 xp1|f 2 yp1|f 3 xp2|f 4 yp2|f 5 xp3|f 6 yp3");
}
END_TEST

START_TEST(test_ntasks_is_product)
{
	char *argv[] = { "run", ":::", "a", "b", "c",       ":::", "1",
			 "2",   ":::", "x", "y", "z", "w" };
	struct tf_template t;
	struct tf_task task;
	char *seen[24];
	size_t n = 0, i, j;

	/* Every combination exactly once: count them and check they are
	 * pairwise different. */
	ck_assert_int_eq(tf_template_init(&t, ARRAY_SIZE(argv), argv), 0);
	ck_assert_uint_eq(t.ntasks, 3 * 2 * 4);
	while (tf_template_next(&t, &task) == 1) {
		ck_assert_uint_lt(n, ARRAY_SIZE(seen));
		seen[n++] = task.cmd;
	}
	ck_assert_uint_eq(n, 24);
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			ck_assert_str_ne(seen[i], seen[j]);
	ck_assert_str_eq(seen[0], "run a 1 x");
	ck_assert_str_eq(seen[23], "run c 2 w");
	for (i = 0; i < n; i++)
		free(seen[i]);
	tf_template_release(&t);
}
END_TEST

START_TEST(test_args_appended_and_quoted)
{
	char *argv[] = { "echo", "-n", ":::", "a b", "$(id)", "" };

	/* Without replacement strings each argument is appended, quoted,
	 * after the command words joined by spaces. */
	expect_walk(ARRAY_SIZE(argv), argv, 3,
		    "echo -n 'a b'|echo -n '$(id)'|echo -n ''");
}
END_TEST

START_TEST(test_has_replacement_flag)
{
	char *with[] = { "echo", "{}", ":::", "a" };
	char *without[] = { "echo", ":::", "a" };
	struct tf_template t;

	ck_assert_int_eq(tf_template_init(&t, 4, with), 0);
	ck_assert_int_ne(t.has_replacement, 0);
	ck_assert_str_eq(t.cmd, "echo {}");
	tf_template_release(&t);
	ck_assert_int_eq(tf_template_init(&t, 3, without), 0);
	ck_assert_int_eq(t.has_replacement, 0);
	tf_template_release(&t);
}
END_TEST

START_TEST(test_next_too_long)
{
	const size_t half = TF_MAX_LINE / 2 + 1;
	char *arg = malloc(half + 1);
	char *argv[] = { "echo", "{1}{1}", ":::", "short", arg };
	char *fits[] = { "echo", "{1}", ":::", "short", arg };
	struct tf_template t;
	struct tf_task task;

	/* Each argument fits, but one rendered command does not: init
	 * finds it before any task is handed out, and names the task. */
	ck_assert_ptr_nonnull(arg);
	memset(arg, 'a', half);
	arg[half] = '\0';
	ck_assert_int_eq(tf_template_init(&t, ARRAY_SIZE(argv), argv),
			 TF_ETOOLONG);
	ck_assert_ptr_nonnull(strstr(t.errmsg, "task 2"));

	/* The same argument used once fits: the full check that the bound
	 * forced leaves the walk at the first combination. */
	ck_assert_int_eq(tf_template_init(&t, ARRAY_SIZE(fits), fits), 0);
	ck_assert_int_eq(tf_template_next(&t, &task), 1);
	ck_assert_uint_eq(task.id, 1);
	ck_assert_str_eq(task.cmd, "echo short");
	tf_task_release(&task);
	ck_assert_int_eq(tf_template_next(&t, &task), 1);
	ck_assert_uint_eq(task.id, 2);
	ck_assert_uint_eq(task.cmd_len, 5 + half);
	tf_task_release(&task);
	ck_assert_int_eq(tf_template_next(&t, &task), 0);
	tf_template_release(&t);
	free(arg);
}
END_TEST

START_TEST(test_limit_is_the_shell_command)
{
	/* "echo " and an argument of safe characters (not quoted) make a
	 * command of exactly TF_MAX_LINE bytes: taken; one byte more:
	 * refused before any task. */
	const size_t n = TF_MAX_LINE - 5;
	char *arg = malloc(n + 2);
	char *argv[] = { "echo", "{1}", ":::", arg };
	struct tf_template t;
	struct tf_task task;

	ck_assert_ptr_nonnull(arg);
	memset(arg, 'a', n + 1);
	arg[n] = '\0';
	ck_assert_int_eq(tf_template_init(&t, ARRAY_SIZE(argv), argv), 0);
	ck_assert_int_eq(tf_template_next(&t, &task), 1);
	ck_assert_uint_eq(task.cmd_len, TF_MAX_LINE);
	tf_task_release(&task);
	tf_template_release(&t);
	arg[n] = 'a';
	arg[n + 1] = '\0';
	ck_assert_int_eq(tf_template_init(&t, ARRAY_SIZE(argv), argv),
			 TF_ETOOLONG);
	ck_assert_msg(strstr(t.errmsg, "task 1: command longer than 131058"),
		      "errmsg '%s'", t.errmsg);
	free(arg);
}
END_TEST

START_TEST(test_argfile_dev_zero)
{
	char *argv[] = { "echo", "::::", "/dev/zero" };
	struct tf_template t;

	/* An endless argument file stops at its first NUL while being
	 * copied, instead of filling $TMPDIR (the test's timeout). */
	ck_assert_int_eq(tf_template_init(&t, ARRAY_SIZE(argv), argv),
			 TF_EPARSE);
	ck_assert_str_eq(t.errmsg, "/dev/zero:1: NUL byte in line");
}
END_TEST

/* Argument files. */

START_TEST(test_argfile_lines)
{
	static const char text[] = "one\n\nthree x\r\nfour";
	char path[4200];
	char *argv[] = { "echo", "{}", "::::", path };

	/* One argument per line: empty lines are arguments too (GNU
	 * parallel's behaviour), CRLF loses its '\r', and the last line
	 * needs no newline. */
	snprintf(path, sizeof(path), "%s",
		 write_file("args", text, sizeof(text) - 1));
	expect_walk(ARRAY_SIZE(argv), argv, 4,
		    "echo one|echo ''|echo 'three x'|echo four");
}
END_TEST

START_TEST(test_argfiles_are_separate_sources)
{
	char p1[4200], p2[4200];
	char *argv[] = { "cmd", "{1}", "{2}", "{3}", "::::", p1, p2,
			 ":::", "z" };

	snprintf(p1, sizeof(p1), "%s", write_file("a", "a1\na2\n", 6));
	snprintf(p2, sizeof(p2), "%s", write_file("b", "b1\nb2\nb3\n", 9));
	expect_walk(ARRAY_SIZE(argv), argv, 6,
		    "cmd a1 b1 z|cmd a1 b2 z|cmd a1 b3 z|"
		    "cmd a2 b1 z|cmd a2 b2 z|cmd a2 b3 z");
}
END_TEST

/* Checks that init fails with code and that errmsg contains needle. */
static void expect_init_error(int argc, char **argv, int code,
			      const char *needle)
{
	struct tf_template t;
	int r = tf_template_init(&t, argc, argv);

	ck_assert_msg(r == code, "init returned %d, want %d (%s)", r, code,
		      t.errmsg);
	ck_assert_msg(t.errmsg[0] != '\0', "no error message");
	ck_assert_msg(strstr(t.errmsg, needle) != NULL,
		      "errmsg '%s' lacks '%s'", t.errmsg, needle);
	/* Nothing is left to release after a failure. */
	ck_assert_ptr_null(t.lists);
	ck_assert_ptr_null(t.cmd);
	ck_assert_ptr_null(t.pos);
}

START_TEST(test_argfile_nul_byte)
{
	static const char text[] = "ok\n\nbad\0arg\nfine\n";
	char path[4200], want[4300];
	char *argv[] = { "echo", "::::", path };

	snprintf(path, sizeof(path), "%s",
		 write_file("args", text, sizeof(text) - 1));
	snprintf(want, sizeof(want), "%s:3:", path);
	expect_init_error(ARRAY_SIZE(argv), argv, TF_EPARSE, want);
}
END_TEST

START_TEST(test_argfile_missing)
{
	char path[4200];
	char *argv[] = { "echo", "::::", path };

	snprintf(path, sizeof(path), "%s", tmppath("no-such-args"));
	expect_init_error(ARRAY_SIZE(argv), argv, -ENOENT, path);
}
END_TEST

START_TEST(test_argfile_empty)
{
	char path[4200];
	char *argv[] = { "echo", ":::", "a", "::::", path };

	/* An empty source would make a product of zero tasks, which is
	 * never what the user meant. */
	snprintf(path, sizeof(path), "%s", write_file("empty", "", 0));
	expect_init_error(ARRAY_SIZE(argv), argv, TF_EPARSE, path);
}
END_TEST

/* Command-line errors. */

START_TEST(test_error_no_command)
{
	char *argv[] = { ":::", "a", "b" };

	expect_init_error(ARRAY_SIZE(argv), argv, TF_EINVAL, "no command");
	expect_init_error(0, argv, TF_EINVAL, "no command");
}
END_TEST

START_TEST(test_error_no_separator)
{
	char *argv[] = { "echo", "{}", "a" };

	expect_init_error(ARRAY_SIZE(argv), argv, TF_EINVAL, ":::");
}
END_TEST

START_TEST(test_error_nothing_after_separator)
{
	char *end[] = { "echo", ":::" };
	char *empty_first[] = { "echo", ":::", ":::", "a" };
	char *empty_last[] = { "echo", ":::", "a", ":::" };
	char *files[] = { "echo", "::::" };

	expect_init_error(ARRAY_SIZE(end), end, TF_EINVAL, "nothing after :::");
	expect_init_error(ARRAY_SIZE(empty_first), empty_first, TF_EINVAL,
			  "nothing after :::");
	expect_init_error(ARRAY_SIZE(empty_last), empty_last, TF_EINVAL,
			  "nothing after :::");
	expect_init_error(ARRAY_SIZE(files), files, TF_EINVAL,
			  "nothing after ::::");
}
END_TEST

START_TEST(test_error_replacement_out_of_range)
{
	char *three[] = { "echo", "{3}", ":::", "a", ":::", "b" };
	char *zero[] = { "echo", "{0}", ":::", "a" };
	char *late[] = { "echo", "{1}", "{2}", "{12}", ":::", "a", ":::", "b" };

	/* Caught before any task runs, rather than rendering to nothing. */
	expect_init_error(ARRAY_SIZE(three), three, TF_EINVAL, "{3}");
	expect_init_error(ARRAY_SIZE(zero), zero, TF_EINVAL, "{0}");
	expect_init_error(ARRAY_SIZE(late), late, TF_EINVAL, "{12}");
}
END_TEST

/* GNU parallel's replacement strings ({.} {/} {//} {/.} and {N...}),
 * linked sources, -a files and --colsep. The expected values are what
 * parallel 20221122 printed for the same input (docs: the research notes
 * of issue 12), in taskfarm's quoting. */

/* Renders "{.}|{/}|{//}|{/.}" for one argument. */
static void expect_edits(const char *arg, const char *noext, const char *base,
			 const char *dir, const char *base_noext)
{
	char *args[] = { (char *)arg };
	char want[512];

	snprintf(want, sizeof(want), "%s|%s|%s|%s", noext, base, dir,
		 base_noext);
	expect_render("{.}|{/}|{//}|{/.}", args, 1, 1, want, 1);
	/* {1.} and the others are the same edits of one source. */
	expect_render("{1.}|{1/}|{1//}|{1/.}", args, 1, 1, want, 1);
}

START_TEST(test_render_edits)
{
	expect_edits("a.b/c", "a.b/c", "c", "a.b", "c");
	/* A name that is only an extension loses all of it. */
	expect_edits(".bashrc", "''", ".bashrc", ".", "''");
	expect_edits("dir/.bashrc", "dir/", ".bashrc", "dir", "''");
	expect_edits("foo.", "foo", "foo.", ".", "foo");
	expect_edits("a..b", "a.", "a..b", ".", "a.");
	expect_edits("file.tar.gz", "file.tar", "file.tar.gz", ".",
		     "file.tar");
	expect_edits("/abs/path/x.y", "/abs/path/x", "x.y", "/abs/path", "x");
	expect_edits("noslash", "noslash", "noslash", ".", "noslash");
	/* dirname() takes "dir/" as the name dir; {/} is what follows the
	 * last slash: nothing. */
	expect_edits("dir/", "dir/", "''", ".", "''");
	expect_edits("/", "/", "''", "/", "''");
	expect_edits("", "''", "''", ".", "''");
	expect_edits("a b/c d.e", "'a b/c d'", "'c d.e'", "'a b'", "'c d'");
	expect_edits("it's.x", "'it'\\''s'", "'it'\\''s.x'", ".",
		     "'it'\\''s'");
	expect_edits("./x", "./x", "x", ".", "x");
	expect_edits("../x.y", "../x", "x.y", "..", "x");
	expect_edits("a.b.c/", "a.b.c/", "''", ".", "''");
	/* Repeated slashes, as Perl's dirname() treats them. */
	expect_edits("a//b", "a//b", "b", "a", "b");
	expect_edits("a/b//", "a/b//", "''", "a", "''");
	expect_edits("//x", "//x", "x", "/", "x");
}
END_TEST

START_TEST(test_render_edits_of_every_source)
{
	char *args[] = { "x.y/a.b", "p/q.r" };

	/* {} and its edits apply to every argument, joined by spaces. */
	expect_render("echo {.} {/} {//} {/.}", args, 2, 1,
		      "echo x.y/a p/q a.b q.r x.y p a q", 1);
	expect_render("echo {1.} {2/} {2//} {2/.}", args, 2, 1,
		      "echo x.y/a q.r p q", 1);
	/* Negative: counted from the last source; blanks after N. */
	expect_render("echo {-1} {-2/} {-1.}", args, 2, 1,
		      "echo p/q.r a.b p/q", 1);
	expect_render("echo {1 .} {1  /} {2 }", args, 2, 1,
		      "echo x.y/a a.b p/q.r", 1);
}
END_TEST

START_TEST(test_render_missing_argument_is_nothing)
{
	char *args[] = { "a", "" };

	/* An argument that is not there (a --colsep column missing from
	 * one line) is nothing, not an empty word; an empty one is ''. */
	expect_render("echo [{2}][{3}][{3.}][{-3}]", args, 2, 1,
		      "echo [''][][][]", 1);
}
END_TEST

START_TEST(test_render_edits_count_as_replacement)
{
	char *args[] = { "a.jpg" };

	/* The example: {.} is a replacement string, so nothing
	 * is appended and each task writes its own file. */
	expect_render("convert {} {.}.png", args, 1, 1,
		      "convert a.jpg a.png", 1);
	expect_render("echo {/.}", args, 1, 1, "echo a", 1);
}
END_TEST

static void expect_walk_with(int argc, char **argv,
			     const struct tf_template_opts *to,
			     uint64_t ntasks, const char *want)
{
	struct tf_template t;
	char *got;
	int r = tf_template_init_with(&t, argc, argv, to);

	ck_assert_msg(r == 0, "init: %d (%s)", r, t.errmsg);
	ck_assert_uint_eq(t.ntasks, ntasks);
	got = walk(&t);
	ck_assert_str_eq(got, want);
	free(got);
	tf_template_release(&t);
}

START_TEST(test_link_shortest_wins)
{
	char *same[] = { "echo", ":::", "a", "b", "c", ":::+", "1", "2", "3" };
	char *shorter[] = { "echo", ":::", "a", "b", "c", ":::+", "1", "2" };
	char *longer[] = { "echo", ":::", "a", "b", ":::+", "1", "2", "3" };

	expect_walk(ARRAY_SIZE(same), same, 3, "echo a 1|echo b 2|echo c 3");
	expect_walk(ARRAY_SIZE(shorter), shorter, 2, "echo a 1|echo b 2");
	expect_walk(ARRAY_SIZE(longer), longer, 2, "echo a 1|echo b 2");
}
END_TEST

START_TEST(test_link_to_the_source_before)
{
	char *after[] = { "echo", ":::", "a", "b", ":::", "x", "y",
			  ":::+", "1", "2" };
	char *before[] = { "echo", ":::", "a", "b", ":::+", "1", "2",
			   ":::", "x", "y" };
	char *leading[] = { "echo", ":::+", "a", "b", ":::", "1", "2" };
	char *chain[] = { "echo", ":::", "a", "b", "c", ":::+", "1", "2",
			  ":::+", "X", "Y", "Z", "W" };

	expect_walk(ARRAY_SIZE(after), after, 4,
		    "echo a x 1|echo a y 2|echo b x 1|echo b y 2");
	expect_walk(ARRAY_SIZE(before), before, 4,
		    "echo a 1 x|echo a 1 y|echo b 2 x|echo b 2 y");
	/* A leading :::+ has nothing to link to: it is :::. */
	expect_walk(ARRAY_SIZE(leading), leading, 4,
		    "echo a 1|echo a 2|echo b 1|echo b 2");
	expect_walk(ARRAY_SIZE(chain), chain, 2, "echo a 1 X|echo b 2 Y");
}
END_TEST

START_TEST(test_link_files)
{
	char f3[4200], g2[4200], h4[4200];
	char *one[] = { "echo", ":::", "a", "b", "c", "::::+", f3 };
	char *two[] = { "echo", ":::", "a", "b", "c", "::::+", g2, h4 };
	char *files[] = { "echo", "{2}-{1}", "::::", f3, "::::+", g2 };

	snprintf(f3, sizeof(f3), "%s", write_file("f3", "f1\nf2\nf3\n", 9));
	snprintf(g2, sizeof(g2), "%s", write_file("g2", "g1\ng2\n", 6));
	snprintf(h4, sizeof(h4), "%s",
		 write_file("h4", "h1\nh2\nh3\nh4\n", 12));
	expect_walk(ARRAY_SIZE(one), one, 3, "echo a f1|echo b f2|echo c f3");
	/* Every file after ::::+ is linked. */
	expect_walk(ARRAY_SIZE(two), two, 2, "echo a g1 h1|echo b g2 h2");
	expect_walk(ARRAY_SIZE(files), files, 2, "echo g1-f1|echo g2-f2");
}
END_TEST

START_TEST(test_link_changes_the_fingerprint)
{
	char *product[] = { "echo", ":::", "a", "b", ":::", "1", "2" };
	char *linked[] = { "echo", ":::", "a", "b", ":::+", "1", "2" };
	struct tf_template t;
	uint64_t fp;

	/* --resume must not take one for the other. */
	ck_assert_int_eq(tf_template_init(&t, 7, product), 0);
	fp = t.fingerprint;
	tf_template_release(&t);
	ck_assert_int_eq(tf_template_init(&t, 7, linked), 0);
	ck_assert_uint_ne(t.fingerprint, fp);
	tf_template_release(&t);
}
END_TEST

START_TEST(test_error_unknown_replacement)
{
	static const char *const unknown[] = {
		"{..}", "{...}", "{+.}", "{+/}", "{/..}", "{1//.}", "{##}",
		"{0#}", "{2#}", "{1%}", "{%%}", "{+}", "{1 ..}"
	};
	static const char *const perl[] = { "{= 1 =}", "{==}",
					    "{= $_=uc($_) =}" };
	size_t i;

	/* parallel's --plus strings and Perl expressions are refused by
	 * name rather than left in the command. */
	for (i = 0; i < ARRAY_SIZE(unknown); i++) {
		char *argv[] = { "echo", (char *)unknown[i], ":::", "a" };
		char want[64];

		snprintf(want, sizeof(want), "unknown replacement string %s",
			 unknown[i]);
		expect_init_error(4, argv, TF_EINVAL, want);
	}
	for (i = 0; i < ARRAY_SIZE(perl); i++) {
		char *argv[] = { "echo", (char *)perl[i], ":::", "a" };

		expect_init_error(4, argv, TF_EINVAL, perl[i]);
		expect_init_error(4, argv, TF_EINVAL, "Perl");
	}
}
END_TEST

START_TEST(test_literal_braces_stay_literal)
{
	static const char *const literal[] = {
		"{1..3}", "{a..c}", "{a,b}", "{1,2}", "awk '{print $1}'",
		"${HOME}", "${1%/}", "${x//a/b}", "${#x}", "{=}", "{ 1}",
		"{1x}", "{/x}", "{1.x}", "{%x}", "{ cmd; }", "{\"a\":1}",
		"{\\}", "{1:2}", "{", "}", "{-}"
	};
	size_t i;

	/* Brace expansion, shell and awk code, and JSON: the braces are
	 * text, there is no replacement string, the argument is
	 * appended. */
	for (i = 0; i < ARRAY_SIZE(literal); i++) {
		char *argv[] = { "echo", (char *)literal[i], ":::", "a" };
		char want[64];

		snprintf(want, sizeof(want), "echo %s a", literal[i]);
		expect_walk(4, argv, 1, want);
	}
}
END_TEST

START_TEST(test_error_edit_out_of_range)
{
	char *three[] = { "echo", "{3.}", ":::", "a", ":::", "b" };
	char *neg[] = { "echo", "{-3}", ":::", "a", ":::", "b" };
	char *negzero[] = { "echo", "{-0}", ":::", "a" };

	expect_init_error(ARRAY_SIZE(three), three, TF_EINVAL,
			  "{3.} in 'echo {3.}' names no input source");
	expect_init_error(ARRAY_SIZE(neg), neg, TF_EINVAL, "{-3}");
	expect_init_error(ARRAY_SIZE(negzero), negzero, TF_EINVAL, "{-0}");
}
END_TEST

START_TEST(test_arg_files_come_first)
{
	char a[4200], n[4200];
	char *files[] = { a, n };
	struct tf_template_opts to = { files, 1, NULL };
	char *cmd_only[] = { "echo" };
	char *product[] = { "echo", ":::", "x", "y" };
	char *plus[] = { "echo", ":::+", "x", "y" };
	char *numbered[] = { "echo", "{1}-{2}", "::::", n };

	snprintf(a, sizeof(a), "%s", write_file("A", "a\nb\n", 4));
	snprintf(n, sizeof(n), "%s", write_file("N", "1\n2\n", 4));
	/* -a A echo: the file is the only source, no ::: needed. */
	expect_walk_with(1, cmd_only, &to, 2, "echo a|echo b");
	/* -a A echo ::: x y: a product, the file first. */
	expect_walk_with(4, product, &to, 4,
			 "echo a x|echo a y|echo b x|echo b y");
	/* A :::+ after the command does not link to an -a file, as in
	 * parallel. */
	expect_walk_with(4, plus, &to, 4,
			 "echo a x|echo a y|echo b x|echo b y");
	expect_walk_with(4, numbered, &to, 4,
			 "echo a-1|echo a-2|echo b-1|echo b-2");
	to.narg_files = 2;
	expect_walk_with(1, cmd_only, &to, 4,
			 "echo a 1|echo a 2|echo b 1|echo b 2");
}
END_TEST

START_TEST(test_arg_file_errors)
{
	char missing[4200], empty[4200];
	char *files[] = { missing };
	struct tf_template_opts to = { files, 1, NULL };
	char *argv[] = { "echo" };
	struct tf_template t;

	snprintf(missing, sizeof(missing), "%s", tmppath("no-such"));
	ck_assert_int_eq(tf_template_init_with(&t, 1, argv, &to), -ENOENT);
	ck_assert_ptr_nonnull(strstr(t.errmsg, missing));
	snprintf(empty, sizeof(empty), "%s", write_file("E", "", 0));
	files[0] = empty;
	ck_assert_int_eq(tf_template_init_with(&t, 1, argv, &to), TF_EPARSE);
	ck_assert_ptr_nonnull(strstr(t.errmsg, "argument file is empty"));
	/* Without -a files, the command still needs a source. */
	ck_assert_int_eq(tf_template_init_with(&t, 1, argv, NULL), TF_EINVAL);
	ck_assert_ptr_nonnull(strstr(t.errmsg, "no ::: or ::::"));
}
END_TEST

START_TEST(test_colsep_columns)
{
	char tsv[4200];
	char *argv[] = { "echo", "[{}] [{1}] [{2}] [{3}] [{2.}] [{2/}] "
				 "[{2//}] [{2/.}] [{#}]",
			 "::::", tsv };
	char *appended[] = { "echo", "::::", tsv };
	struct tf_template_opts to = { NULL, 0, "\\t" };

	snprintf(tsv, sizeof(tsv), "%s",
		 write_file("T", "a.x\tb/c.d\tz\nq\tr\n", 16));
	/* parallel --colsep '\t': a column missing from a line is
	 * nothing; \t is Perl's, and means a tab here too. */
	expect_walk_with(ARRAY_SIZE(argv), argv, &to, 2,
			 "echo [a.x b/c.d z] [a.x] [b/c.d] [z] [b/c] [c.d] "
			 "[b] [c] [1]|"
			 "echo [q r] [q] [r] [] [r] [r] [.] [r] [2]");
	expect_walk_with(ARRAY_SIZE(appended), appended, &to, 2,
			 "echo a.x b/c.d z|echo q r");
}
END_TEST

START_TEST(test_colsep_numbering_runs_on)
{
	char csv[4200];
	char *argv[] = { "echo", "[{1}][{2}][{3}][{4}][{-1}]", "::::", csv,
			 ":::", "u,v" };
	char *args[] = { "echo", "[{1}][{2}][{3}]", ":::", "u,v", "u,v,w" };
	struct tf_template_opts comma = { NULL, 0, "," };
	struct tf_template_opts commas = { NULL, 0, ",+" };

	snprintf(csv, sizeof(csv), "%s", write_file("C", "a,,b\n", 5));
	/* The columns of the next source follow the last of the one
	 * before; ::: arguments are split too; an empty column is ''. */
	expect_walk_with(ARRAY_SIZE(argv), argv, &comma, 1,
			 "echo [a][''][b][u][v]");
	expect_walk_with(ARRAY_SIZE(args), args, &comma, 2,
			 "echo [u][v][]|echo [u][v][w]");
	expect_walk_with(ARRAY_SIZE(argv), argv, &commas, 1,
			 "echo [a][b][u][v][v]");
}
END_TEST

START_TEST(test_colsep_edges)
{
	char *blanks[] = { "echo", "[{1}][{2}][{3}][{4}]", ":::", " a  b " };
	char *empty[] = { "echo", "[{1}][{2}]", ":::", "", "a b" };
	char *stars[] = { "echo", "[{1}][{2}][{3}]", ":::", "axxb", "ab" };
	struct tf_template_opts spaces = { NULL, 0, " +" };
	struct tf_template_opts ws = { NULL, 0, "\\s+" };
	struct tf_template_opts xs = { NULL, 0, "x*" };

	/* A separator at either end makes an empty first or last column. */
	expect_walk_with(ARRAY_SIZE(blanks), blanks, &spaces, 1,
			 "echo [''][a][b]['']");
	expect_walk_with(ARRAY_SIZE(blanks), blanks, &ws, 1,
			 "echo [''][a][b]['']");
	/* An empty line is one empty column. */
	expect_walk_with(ARRAY_SIZE(empty), empty, &spaces, 2,
			 "echo [''][]|echo [a][b]");
	/* A separator that can match nothing splits between characters
	 * and at the end, but not at the start (Perl's split). */
	expect_walk_with(ARRAY_SIZE(stars), stars, &xs, 2,
			 "echo [a][b]['']|echo [a][b]['']");
}
END_TEST

START_TEST(test_colsep_errors)
{
	char *argv[] = { "echo", "{5}", ":::", "a,b", "c", ":::", "d,e" };
	struct tf_template_opts comma = { NULL, 0, "," };
	struct tf_template_opts bad = { NULL, 0, "(" };
	struct tf_template t;

	/* {N} may name a column some line has; none has a fifth. */
	ck_assert_int_eq(tf_template_init_with(&t, ARRAY_SIZE(argv), argv,
					       &comma),
			 TF_EINVAL);
	ck_assert_msg(strstr(t.errmsg, "{5} in 'echo {5}' names no column "
				       "(there are at most 4)"),
		      "errmsg '%s'", t.errmsg);
	ck_assert_int_eq(tf_template_init_with(&t, ARRAY_SIZE(argv), argv,
					       &bad),
			 TF_EINVAL);
	ck_assert_msg(strstr(t.errmsg, "--colsep '('"), "errmsg '%s'",
		      t.errmsg);
	ck_assert_ptr_null(t.lists);
}
END_TEST

START_TEST(test_colsep_too_long)
{
	/* A line of commas is short, but each of its empty columns
	 * renders as '' and a space: the limit is on the rendered
	 * command, found before any task starts. */
	const size_t n = TF_MAX_LINE / 3 + 10;
	char *line = malloc(n + 1);
	char *argv[] = { "echo", "{}", ":::", line };
	struct tf_template_opts comma = { NULL, 0, "," };
	struct tf_template t;

	ck_assert_ptr_nonnull(line);
	memset(line, ',', n);
	line[n] = '\0';
	ck_assert_int_eq(tf_template_init_with(&t, ARRAY_SIZE(argv), argv,
					       &comma),
			 TF_ETOOLONG);
	ck_assert_ptr_nonnull(strstr(t.errmsg, "task 1: command longer"));
	/* Without --colsep it is one safe word. */
	ck_assert_int_eq(tf_template_init(&t, ARRAY_SIZE(argv), argv), 0);
	tf_template_release(&t);
	free(line);
}
END_TEST

static Suite *template_suite(void)
{
	Suite *s = suite_create("template");
	TCase *tc;

	tc = tcase_create("quote");
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	/* Each word starts a shell; allow for a loaded machine. */
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_quote_safe_words_unchanged);
	tcase_add_test(tc, test_quote_special_words);
	tcase_add_test(tc, test_quote_survives_the_shell);
	suite_add_tcase(s, tc);

	tc = tcase_create("render");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_render_all_args);
	tcase_add_test(tc, test_render_numbered_args);
	tcase_add_test(tc, test_render_id_and_slot);
	tcase_add_test(tc, test_render_unknown_left_alone);
	tcase_add_test(tc, test_render_appends_when_no_replacement);
	suite_add_tcase(s, tc);

	tc = tcase_create("product");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_product_order);
	tcase_add_test(tc, test_product_three_sources);
	tcase_add_test(tc, test_ntasks_is_product);
	tcase_add_test(tc, test_args_appended_and_quoted);
	tcase_add_test(tc, test_has_replacement_flag);
	tcase_add_test(tc, test_next_too_long);
	tcase_add_test(tc, test_limit_is_the_shell_command);
	suite_add_tcase(s, tc);

	tc = tcase_create("argfile");
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_argfile_lines);
	tcase_add_test(tc, test_argfiles_are_separate_sources);
	tcase_add_test(tc, test_argfile_nul_byte);
	tcase_add_test(tc, test_argfile_dev_zero);
	tcase_add_test(tc, test_argfile_missing);
	tcase_add_test(tc, test_argfile_empty);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_error_no_command);
	tcase_add_test(tc, test_error_no_separator);
	tcase_add_test(tc, test_error_nothing_after_separator);
	tcase_add_test(tc, test_error_replacement_out_of_range);
	suite_add_tcase(s, tc);

	tc = tcase_create("parallel");
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_render_edits);
	tcase_add_test(tc, test_render_edits_of_every_source);
	tcase_add_test(tc, test_render_missing_argument_is_nothing);
	tcase_add_test(tc, test_render_edits_count_as_replacement);
	tcase_add_test(tc, test_link_shortest_wins);
	tcase_add_test(tc, test_link_to_the_source_before);
	tcase_add_test(tc, test_link_files);
	tcase_add_test(tc, test_link_changes_the_fingerprint);
	tcase_add_test(tc, test_error_unknown_replacement);
	tcase_add_test(tc, test_literal_braces_stay_literal);
	tcase_add_test(tc, test_error_edit_out_of_range);
	tcase_add_test(tc, test_arg_files_come_first);
	tcase_add_test(tc, test_arg_file_errors);
	tcase_add_test(tc, test_colsep_columns);
	tcase_add_test(tc, test_colsep_numbering_runs_on);
	tcase_add_test(tc, test_colsep_edges);
	tcase_add_test(tc, test_colsep_errors);
	tcase_add_test(tc, test_colsep_too_long);
	suite_add_tcase(s, tc);

	return s;
}

TF_CHECK_MAIN(template_suite)
