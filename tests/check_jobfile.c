/*
 * Tests of the job-file reader: how lines become tasks (ids, comments,
 * continuations, line endings), how malformed files are refused with an
 * error naming file:line, how a whole file is validated and rewound, and
 * how a source that cannot be read twice (a pipe, a FIFO) is spooled.
 */
#include "config.h"

#include "check_util.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "farm/jobfile.h"
#include "taskfarm.h"

static const char *write_text(const char *name, const char *text)
{
	return write_file(name, text, strlen(text));
}

/* Opens a job file written from a string; the test fails if it cannot. */
static void open_text(struct tf_jobfile *jf, const char *name,
		      const char *text)
{
	const char *path = write_text(name, text);
	int r = tf_jobfile_open(jf, path);

	ck_assert_msg(r == 0, "open %s: %d (%s)", path, r, jf->errmsg);
}

/* Reads the next task and checks its id, attempt and exact command. */
static void expect_task(struct tf_jobfile *jf, uint64_t id, const char *cmd)
{
	struct tf_task t;
	int r = tf_jobfile_next(jf, &t);

	ck_assert_msg(r == 1, "expected task %llu '%s', got %d (%s)",
		      (unsigned long long)id, cmd, r, jf->errmsg);
	ck_assert_uint_eq(t.id, id);
	ck_assert_uint_eq(t.attempt, 1);
	ck_assert_uint_eq(t.cmd_len, strlen(cmd));
	ck_assert_str_eq(t.cmd, cmd);
	tf_task_release(&t);
}

static void expect_end(struct tf_jobfile *jf)
{
	struct tf_task t;

	ck_assert_int_eq(tf_jobfile_next(jf, &t), 0);
}

/* Reads tasks until an error and returns it, so a test can check the code
 * and the message of the first failure wherever it occurs. */
static int next_until_error(struct tf_jobfile *jf)
{
	struct tf_task t;
	int r;

	while ((r = tf_jobfile_next(jf, &t)) == 1)
		tf_task_release(&t);
	return r;
}

/* Checks that errmsg starts with "PATH:LINE: ". */
static void expect_errmsg_at(const struct tf_jobfile *jf, const char *path,
			     unsigned line)
{
	char want[4400];

	snprintf(want, sizeof(want), "%s:%u: ", path, line);
	ck_assert_msg(strncmp(jf->errmsg, want, strlen(want)) == 0,
		      "errmsg '%s' does not start with '%s'", jf->errmsg,
		      want);
}

/* Line numbering and what is skipped. */

START_TEST(test_plain_lines)
{
	struct tf_jobfile jf;

	open_text(&jf, "jobs", "echo one\necho two\n./run --x=3 'a b'\n");
	expect_task(&jf, 1, "echo one");
	expect_task(&jf, 2, "echo two");
	expect_task(&jf, 3, "./run --x=3 'a b'");
	expect_end(&jf);
	/* The end is sticky: asking again must not invent a task. */
	expect_end(&jf);
	tf_jobfile_close(&jf);
}
END_TEST

START_TEST(test_blank_and_comment_lines_skipped)
{
	struct tf_jobfile jf;

	/* Skipped lines still count, so ids stay the line numbers a user
	 * sees in an editor. */
	open_text(&jf, "jobs",
		  "# header comment\n"
		  "\n"
		  "echo a\n"
		  "   \t \n"
		  "    # indented comment\n"
		  "\t#tab-indented comment\n"
		  "echo b # not a comment: the shell sees it\n"
		  "\n");
	expect_task(&jf, 3, "echo a");
	expect_task(&jf, 7, "echo b # not a comment: the shell sees it");
	expect_end(&jf);
	tf_jobfile_close(&jf);
}
END_TEST

START_TEST(test_leading_blanks_kept_in_command)
{
	struct tf_jobfile jf;

	/* Only whole blank lines are skipped; a command's own indentation
	 * is passed to the shell as written. */
	open_text(&jf, "jobs", "  echo indented\n");
	expect_task(&jf, 1, "  echo indented");
	expect_end(&jf);
	tf_jobfile_close(&jf);
}
END_TEST

START_TEST(test_empty_file)
{
	struct tf_jobfile jf;

	open_text(&jf, "empty", "");
	expect_end(&jf);
	ck_assert_int_eq(tf_jobfile_scan(&jf), 0);
	ck_assert_uint_eq(jf.ntasks, 0);
	expect_end(&jf);
	tf_jobfile_close(&jf);
}
END_TEST

START_TEST(test_only_comments)
{
	struct tf_jobfile jf;

	open_text(&jf, "comments", "# a\n\n   # b\n\n");
	ck_assert_int_eq(tf_jobfile_scan(&jf), 0);
	ck_assert_uint_eq(jf.ntasks, 0);
	expect_end(&jf);
	tf_jobfile_close(&jf);
}
END_TEST

/* Continuation lines. */

START_TEST(test_continuation_joins_lines)
{
	struct tf_jobfile jf;

	/* The backslash and the newline go; everything else, including the
	 * spaces around the break, stays. The id is where the task starts. */
	open_text(&jf, "jobs",
		  "echo first\n"
		  "\n"
		  "echo a \\\n"
		  "  b \\\n"
		  "c\n"
		  "echo last\n");
	expect_task(&jf, 1, "echo first");
	expect_task(&jf, 3, "echo a   b c");
	expect_task(&jf, 6, "echo last");
	expect_end(&jf);
	tf_jobfile_close(&jf);
}
END_TEST

START_TEST(test_continuation_backslash_parity)
{
	struct tf_jobfile jf;

	/* An even run of backslashes is escaped backslashes and ends the
	 * line; an odd run continues it and loses exactly one backslash. */
	open_text(&jf, "jobs",
		  "echo even \\\\\n"     /* line 1: two backslashes */
		  "echo odd \\\\\\\n"    /* line 2: three, continues */
		  "tail\n"               /* line 3 */
		  "echo four \\\\\\\\\n" /* line 4: four */
		  "echo one\\\n"         /* line 5: one, continues */
		  "more\n");             /* line 6 */
	expect_task(&jf, 1, "echo even \\\\");
	expect_task(&jf, 2, "echo odd \\\\tail");
	expect_task(&jf, 4, "echo four \\\\\\\\");
	expect_task(&jf, 5, "echo onemore");
	expect_end(&jf);
	tf_jobfile_close(&jf);
}
END_TEST

START_TEST(test_continuation_does_not_skip_comment_like_lines)
{
	struct tf_jobfile jf;

	/* Inside a continued task a line starting with '#' or a blank line
	 * is part of the command, not something to skip. */
	open_text(&jf, "jobs", "echo a \\\n# b\necho c \\\n\necho d\n");
	expect_task(&jf, 1, "echo a # b");
	expect_task(&jf, 3, "echo c ");
	expect_task(&jf, 5, "echo d");
	expect_end(&jf);
	tf_jobfile_close(&jf);
}
END_TEST

START_TEST(test_continuation_at_eof)
{
	struct tf_jobfile jf;
	const char *path;
	int r;

	/* A trailing backslash on the last line would silently drop the
	 * rest of a command the user meant to write; it is an error at the
	 * line where the task starts. */
	path = write_text("jobs", "echo ok\necho a \\\nb \\\n");
	ck_assert_int_eq(tf_jobfile_open(&jf, path), 0);
	expect_task(&jf, 1, "echo ok");
	r = next_until_error(&jf);
	ck_assert_int_eq(r, TF_EPARSE);
	expect_errmsg_at(&jf, path, 2);
	tf_jobfile_close(&jf);

	/* The same without a final newline. */
	path = write_text("jobs2", "echo a \\");
	ck_assert_int_eq(tf_jobfile_open(&jf, path), 0);
	ck_assert_int_eq(next_until_error(&jf), TF_EPARSE);
	expect_errmsg_at(&jf, path, 1);
	/* scan() reports the same error rather than a count. */
	tf_jobfile_close(&jf);
	ck_assert_int_eq(tf_jobfile_open(&jf, path), 0);
	ck_assert_int_eq(tf_jobfile_scan(&jf), TF_EPARSE);
	expect_errmsg_at(&jf, path, 1);
	tf_jobfile_close(&jf);
}
END_TEST

/* Line endings. */

START_TEST(test_crlf_endings)
{
	struct tf_jobfile jf;

	/* A job file edited on Windows must not pass a stray '\r' to the
	 * command, nor turn a CRLF blank line into a task. */
	open_text(&jf, "jobs",
		  "echo a\r\n"
		  "\r\n"
		  "# comment\r\n"
		  "echo b \\\r\n"
		  "c\r\n");
	expect_task(&jf, 1, "echo a");
	expect_task(&jf, 4, "echo b c");
	expect_end(&jf);
	tf_jobfile_close(&jf);
}
END_TEST

START_TEST(test_last_line_without_newline)
{
	struct tf_jobfile jf;

	open_text(&jf, "jobs", "echo a\necho b");
	expect_task(&jf, 1, "echo a");
	expect_task(&jf, 2, "echo b");
	expect_end(&jf);
	tf_jobfile_close(&jf);

	open_text(&jf, "jobs2", "echo c\r");
	expect_task(&jf, 1, "echo c");
	expect_end(&jf);
	tf_jobfile_close(&jf);
}
END_TEST

/* Malformed files. */

START_TEST(test_nul_byte)
{
	static const char text[] = "echo a\n# fine\necho b\0c\necho d\n";
	struct tf_jobfile jf;
	const char *path = write_file("jobs", text, sizeof(text) - 1);

	/* A NUL would silently cut the command short when it reaches
	 * exec; refuse the file and name the line. */
	ck_assert_int_eq(tf_jobfile_open(&jf, path), 0);
	expect_task(&jf, 1, "echo a");
	ck_assert_int_eq(next_until_error(&jf), TF_EPARSE);
	expect_errmsg_at(&jf, path, 3);
	ck_assert_ptr_nonnull(strstr(jf.errmsg, "NUL"));
	tf_jobfile_close(&jf);

	/* scan() finds it before any task would have started. */
	ck_assert_int_eq(tf_jobfile_open(&jf, path), 0);
	ck_assert_int_eq(tf_jobfile_scan(&jf), TF_EPARSE);
	expect_errmsg_at(&jf, path, 3);
	tf_jobfile_close(&jf);
}
END_TEST

START_TEST(test_nul_byte_in_comment_line)
{
	static const char text[] = "echo a\n\n#x\0y\n";
	struct tf_jobfile jf;
	const char *path = write_file("jobs", text, sizeof(text) - 1);

	/* A NUL means the file is not text; that holds in a comment too. */
	ck_assert_int_eq(tf_jobfile_open(&jf, path), 0);
	ck_assert_int_eq(tf_jobfile_scan(&jf), TF_EPARSE);
	expect_errmsg_at(&jf, path, 3);
	tf_jobfile_close(&jf);
}
END_TEST

/* Bare carriage returns: a classic Mac OS file is one line full of CRs,
 * which would reach the shell as one task. */
START_TEST(test_bare_cr_refused)
{
	static const char *const bad[] = {
		"echo a\recho b\recho c\r",   /* classic Mac OS */
		"echo a\necho b\rc\n",        /* a CR inside line 2 */
		"echo a\necho b\r\r\n",       /* CR CR LF */
		"echo a\n# x\ry\n",           /* in a comment too */
	};
	static const unsigned line[] = { 1, 2, 2, 2 };
	struct tf_jobfile jf;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *path = write_text("mac", bad[i]);

		ck_assert_int_eq(tf_jobfile_open(&jf, path), 0);
		ck_assert_int_eq(tf_jobfile_scan(&jf), TF_EPARSE);
		expect_errmsg_at(&jf, path, line[i]);
		ck_assert_ptr_nonnull(strstr(jf.errmsg, "carriage return"));
		tf_jobfile_close(&jf);
	}
}
END_TEST

START_TEST(test_bare_cr_in_argument_lines)
{
	struct tf_jobfile jf;
	const char *path = write_text("args", "a\r\nb\rc\n");

	/* Argument files share the rule: CRLF is a line ending, a lone CR
	 * is refused rather than passed inside an argument. */
	ck_assert_int_eq(tf_jobfile_open(&jf, path), 0);
	ck_assert_int_eq(tf_jobfile_next_line(&jf), 1);
	ck_assert_str_eq(jf.phys.buf, "a");
	ck_assert_int_eq(tf_jobfile_next_line(&jf), TF_EPARSE);
	expect_errmsg_at(&jf, path, 2);
	tf_jobfile_close(&jf);
}
END_TEST

/* Writes a file whose line 3 holds `len` bytes of 'x'. */
static const char *write_long_line_file(const char *name, size_t len,
					const char *ending)
{
	const char *path = tmppath(name);
	FILE *fp = fopen(path, "wb");
	size_t i;

	ck_assert_ptr_nonnull(fp);
	fputs("echo a\n# comment\n", fp);
	for (i = 0; i < len; i++)
		putc('x', fp);
	fputs(ending, fp);
	fputs("echo after\n", fp);
	ck_assert_int_eq(fclose(fp), 0);
	return path;
}

START_TEST(test_line_too_long)
{
	struct tf_jobfile jf;
	const char *path;
	size_t over[] = { TF_MAX_LINE + 1, TF_MAX_LINE + 2,
			  TF_MAX_LINE + 4096 };
	size_t i;

	for (i = 0; i < sizeof(over) / sizeof(over[0]); i++) {
		path = write_long_line_file("long", over[i], "\n");
		ck_assert_int_eq(tf_jobfile_open(&jf, path), 0);
		expect_task(&jf, 1, "echo a");
		ck_assert_int_eq(next_until_error(&jf), TF_ETOOLONG);
		expect_errmsg_at(&jf, path, 3);
		tf_jobfile_close(&jf);
	}
}
END_TEST

START_TEST(test_line_at_limit_accepted)
{
	struct tf_jobfile jf;
	struct tf_task t;
	const char *endings[] = { "\n", "\r\n" };
	const char *path;
	size_t i;

	/* The limit is inclusive, and a CRLF ending does not count
	 * against it. */
	for (i = 0; i < 2; i++) {
		path = write_long_line_file("limit", TF_MAX_LINE, endings[i]);
		ck_assert_int_eq(tf_jobfile_open(&jf, path), 0);
		expect_task(&jf, 1, "echo a");
		ck_assert_int_eq(tf_jobfile_next(&jf, &t), 1);
		ck_assert_uint_eq(t.id, 3);
		ck_assert_uint_eq(t.cmd_len, TF_MAX_LINE);
		ck_assert_uint_eq(strlen(t.cmd), TF_MAX_LINE);
		ck_assert_int_eq(t.cmd[TF_MAX_LINE - 1], 'x');
		tf_task_release(&t);
		expect_task(&jf, 4, "echo after");
		expect_end(&jf);
		tf_jobfile_close(&jf);
	}
}
END_TEST

START_TEST(test_continued_task_too_long)
{
	struct tf_jobfile jf;
	const char *path = tmppath("cont");
	FILE *fp = fopen(path, "wb");
	size_t i, half = TF_MAX_LINE / 2 + 16;

	/* Each physical line is within the limit, but the task they make
	 * is not; the error names the line where the task starts. */
	ck_assert_ptr_nonnull(fp);
	fputs("echo a\n", fp);
	for (i = 0; i < half; i++)
		putc('y', fp);
	fputs("\\\n", fp);
	for (i = 0; i < half; i++)
		putc('z', fp);
	fputs("\n", fp);
	ck_assert_int_eq(fclose(fp), 0);

	ck_assert_int_eq(tf_jobfile_open(&jf, path), 0);
	ck_assert_int_eq(tf_jobfile_scan(&jf), TF_ETOOLONG);
	expect_errmsg_at(&jf, path, 2);
	tf_jobfile_close(&jf);
}
END_TEST

/* Opening. */

START_TEST(test_open_nonexistent)
{
	struct tf_jobfile jf;
	const char *path = tmppath("no-such-file");
	int r = tf_jobfile_open(&jf, path);

	ck_assert_int_eq(r, -ENOENT);
	ck_assert_msg(strncmp(jf.errmsg, path, strlen(path)) == 0,
		      "errmsg '%s' does not name '%s'", jf.errmsg, path);
	/* On failure nothing is left to release. */
	ck_assert_ptr_null(jf.fp);
	ck_assert_ptr_null(jf.path);
}
END_TEST

START_TEST(test_open_directory)
{
	struct tf_jobfile jf;
	int r = tf_jobfile_open(&jf, tmpdir);

	/* Reading a directory would fail later, or on some systems yield
	 * garbage; it must be refused when opened. */
	ck_assert_int_lt(r, 0);
	ck_assert_int_eq(r, -EISDIR);
	ck_assert_msg(strncmp(jf.errmsg, tmpdir, strlen(tmpdir)) == 0,
		      "errmsg '%s' does not name '%s'", jf.errmsg, tmpdir);
	ck_assert_ptr_nonnull(strstr(jf.errmsg, "directory"));
	ck_assert_ptr_null(jf.fp);
}
END_TEST

START_TEST(test_close_and_reopen)
{
	struct tf_jobfile jf;

	/* The same struct may be reused for another file. */
	open_text(&jf, "one", "echo 1\n");
	expect_task(&jf, 1, "echo 1");
	tf_jobfile_close(&jf);
	ck_assert_ptr_null(jf.fp);
	open_text(&jf, "two", "\necho 2\n");
	expect_task(&jf, 2, "echo 2");
	expect_end(&jf);
	tf_jobfile_close(&jf);
}
END_TEST

/* Scanning. */

START_TEST(test_scan_counts_and_rewinds)
{
	struct tf_jobfile jf;

	open_text(&jf, "jobs",
		  "# comment\n"
		  "echo a\n"
		  "echo b \\\n"
		  "  c\n"
		  "\n"
		  "echo d");
	ck_assert_int_eq(tf_jobfile_scan(&jf), 0);
	ck_assert_uint_eq(jf.ntasks, 3);
	/* After the scan the same tasks come again, with the same ids. */
	expect_task(&jf, 2, "echo a");
	expect_task(&jf, 3, "echo b   c");
	expect_task(&jf, 6, "echo d");
	expect_end(&jf);
	tf_jobfile_close(&jf);
}
END_TEST

START_TEST(test_scan_large_file)
{
	const uint64_t nlines = 100000;
	struct tf_jobfile jf;
	struct tf_task t;
	const char *path = tmppath("big");
	FILE *fp = fopen(path, "wb");
	uint64_t i;
	char want[64];

	ck_assert_ptr_nonnull(fp);
	for (i = 1; i <= nlines; i++)
		fprintf(fp, "./sim --seed=%llu\n", (unsigned long long)i);
	ck_assert_int_eq(fclose(fp), 0);

	ck_assert_int_eq(tf_jobfile_open(&jf, path), 0);
	ck_assert_int_eq(tf_jobfile_scan(&jf), 0);
	ck_assert_uint_eq(jf.ntasks, nlines);
	/* Every task comes back after the rewind, in order, none lost at a
	 * stdio buffer boundary. */
	for (i = 1; i <= nlines; i++) {
		ck_assert_int_eq(tf_jobfile_next(&jf, &t), 1);
		snprintf(want, sizeof(want), "./sim --seed=%llu",
			 (unsigned long long)i);
		ck_assert_uint_eq(t.id, i);
		ck_assert_str_eq(t.cmd, want);
		tf_task_release(&t);
	}
	expect_end(&jf);
	tf_jobfile_close(&jf);
}
END_TEST

/* Sources that cannot be read twice. */

static const char pipe_jobs[] = "# from a pipe\necho p1\n\necho p2 \\\nx\n";

static void expect_pipe_jobs(struct tf_jobfile *jf)
{
	struct stat st;

	/* The spooled copy is an unlinked regular file, so scan() can
	 * rewind it and nothing is left behind in $TMPDIR. */
	ck_assert_ptr_nonnull(jf->fp);
	ck_assert_ptr_ne(jf->fp, stdin);
	ck_assert_int_eq(fstat(fileno(jf->fp), &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_uint_eq(st.st_nlink, 0);

	ck_assert_int_eq(tf_jobfile_scan(jf), 0);
	ck_assert_uint_eq(jf->ntasks, 2);
	expect_task(jf, 2, "echo p1");
	expect_task(jf, 4, "echo p2 x");
	expect_end(jf);
}

START_TEST(test_stdin_pipe_is_spooled)
{
	struct tf_jobfile jf;
	int pfd[2], saved, r;

	/* The whole job fits in the pipe buffer, so it can be written
	 * before the reader starts. */
	ck_assert_int_eq(pipe(pfd), 0);
	ck_assert_int_eq(tf_write_all(pfd[1], pipe_jobs, sizeof(pipe_jobs) - 1),
			 0);
	ck_assert_int_eq(close(pfd[1]), 0);
	saved = dup(STDIN_FILENO);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_eq(dup2(pfd[0], STDIN_FILENO), STDIN_FILENO);
	ck_assert_int_eq(close(pfd[0]), 0);
	clearerr(stdin);

	r = tf_jobfile_open(&jf, "-");

	/* Put the real stdin back before asserting anything, so that the
	 * suite behaves the same when run without fork (CK_FORK=no). */
	ck_assert_int_eq(dup2(saved, STDIN_FILENO), STDIN_FILENO);
	ck_assert_int_eq(close(saved), 0);
	clearerr(stdin);

	ck_assert_msg(r == 0, "open -: %d (%s)", r, jf.errmsg);
	expect_pipe_jobs(&jf);
	tf_jobfile_close(&jf);
}
END_TEST

START_TEST(test_stdin_regular_file_not_spooled)
{
	struct tf_jobfile jf;
	const char *path = write_file("jobs", pipe_jobs, sizeof(pipe_jobs) - 1);
	int fd, saved, r;

	/* A regular file on stdin can be rewound as it is; copying it would
	 * only cost time and disk. */
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	saved = dup(STDIN_FILENO);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_eq(dup2(fd, STDIN_FILENO), STDIN_FILENO);
	ck_assert_int_eq(close(fd), 0);
	clearerr(stdin);

	r = tf_jobfile_open(&jf, "-");
	ck_assert_int_eq(r, 0);
	ck_assert_ptr_eq(jf.fp, stdin);
	ck_assert_int_eq(tf_jobfile_scan(&jf), 0);
	ck_assert_uint_eq(jf.ntasks, 2);
	expect_task(&jf, 2, "echo p1");
	expect_task(&jf, 4, "echo p2 x");
	expect_end(&jf);
	tf_jobfile_close(&jf);

	/* Drop stdio's buffered copy of the file and restore stdin. */
	ck_assert_int_eq(fseeko(stdin, 0, SEEK_SET), 0);
	ck_assert_int_eq(dup2(saved, STDIN_FILENO), STDIN_FILENO);
	ck_assert_int_eq(close(saved), 0);
	clearerr(stdin);
}
END_TEST

START_TEST(test_fifo_is_spooled)
{
	struct tf_jobfile jf;
	char path[4200];
	pid_t pid;
	int status, r;

	/* tmppath() reuses its buffers; keep our own copy of the path, on
	 * the stack so that the writer owns no heap block it could leak. */
	snprintf(path, sizeof(path), "%s", tmppath("fifo"));
	ck_assert_int_eq(mkfifo(path, 0600), 0);

	/* A writer process, as a shell's process substitution would be;
	 * opening the FIFO for reading blocks until it arrives. */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(path, O_WRONLY);

		if (fd < 0 ||
		    tf_write_all(fd, pipe_jobs, sizeof(pipe_jobs) - 1) < 0)
			_exit(1);
		close(fd);
		_exit(0);
	}
	r = tf_jobfile_open(&jf, path);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_msg(r == 0, "open fifo: %d (%s)", r, jf.errmsg);
	expect_pipe_jobs(&jf);
	tf_jobfile_close(&jf);
}
END_TEST

/* ---- a job file changed during the run ---- */

/* Writes n tasks of about 60 bytes ("echo task N" after padding), so a
 * few thousand span several TF_JOBFILE_BLOCKs. */
static const char *write_tasks(const char *name, unsigned n)
{
	const char *path = tmppath(name);
	FILE *fp = fopen(path, "wb");
	unsigned i;

	ck_assert_ptr_nonnull(fp);
	for (i = 1; i <= n; i++)
		fprintf(fp, ": padding padding padding padding; echo task %u\n",
			i);
	ck_assert_int_eq(fclose(fp), 0);
	return path;
}

/* Reads tasks until an error or the end; returns that, with the number
 * of tasks read in *n and every one checked to be the validated text. */
static int read_validated(struct tf_jobfile *jf, unsigned *n)
{
	struct tf_task t;
	char want[128];
	int r;

	while ((r = tf_jobfile_next(jf, &t)) == 1) {
		++*n;
		snprintf(want, sizeof(want),
			 ": padding padding padding padding; echo task %u", *n);
		ck_assert_uint_eq(t.id, *n);
		ck_assert_str_eq(t.cmd, want);
		tf_task_release(&t);
	}
	return r;
}

enum change { TRUNCATE, APPEND, OVERWRITE };

/* Validates a 6000-task file (about 5 blocks), reads one task, changes
 * the file as asked, and checks that the reader stops with -ESTALE
 * before any task that was not validated. */
static void check_change(enum change how, const char *why)
{
	struct tf_jobfile jf;
	struct timespec times[2];
	struct stat st;
	const char *path = write_tasks("jobs", 6000);
	unsigned n = 0;
	int fd;

	ck_assert_int_eq(tf_jobfile_open(&jf, path), 0);
	ck_assert_int_eq(tf_jobfile_scan(&jf), 0);
	ck_assert_uint_eq(jf.ntasks, 6000);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_gt((uint64_t)st.st_size, 4 * TF_JOBFILE_BLOCK);
	{
		struct tf_task t;
		ck_assert_int_eq(tf_jobfile_next(&jf, &t), 1);
		tf_task_release(&t);
		n = 1;
	}
	fd = open(path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	switch (how) {
	case TRUNCATE:
		ck_assert_int_eq(ftruncate(fd, 3 * TF_JOBFILE_BLOCK + 100), 0);
		break;
	case APPEND:
		ck_assert_int_eq(pwrite(fd, "echo NEW\n", 9, st.st_size), 9);
		break;
	case OVERWRITE:
		/* Same size, and the old modification time put back: only
		 * the blocks' hashes can tell. */
		ck_assert_int_eq(pwrite(fd, "echo NEW", 8,
					3 * TF_JOBFILE_BLOCK + 10), 8);
		times[0] = st.st_atim;
		times[1] = st.st_mtim;
		ck_assert_int_eq(futimens(fd, times), 0);
		break;
	}
	ck_assert_int_eq(close(fd), 0);
	ck_assert_int_eq(read_validated(&jf, &n), -ESTALE);
	ck_assert_msg(strstr(jf.errmsg, "changed while running") &&
			      strstr(jf.errmsg, why),
		      "errmsg '%s'", jf.errmsg);
	ck_assert_msg(strncmp(jf.errmsg, path, strlen(path)) == 0,
		      "errmsg '%s' names no file", jf.errmsg);
	/* Read no further than the validated blocks before the change. */
	ck_assert_uint_lt(n, 6000);
	tf_jobfile_close(&jf);
}

START_TEST(test_changed_truncated)
{
	check_change(TRUNCATE, "truncated");
}
END_TEST

START_TEST(test_changed_appended)
{
	check_change(APPEND, "grew");
}
END_TEST

START_TEST(test_changed_overwritten)
{
	check_change(OVERWRITE, "not what was validated");
}
END_TEST

START_TEST(test_changed_small_file_appended)
{
	struct tf_jobfile jf;
	const char *path = write_tasks("jobs", 3);
	unsigned n = 0;
	int fd;

	/* One block, read whole at the first task: the change is still
	 * seen before the reader says the file has ended. */
	ck_assert_int_eq(tf_jobfile_open(&jf, path), 0);
	ck_assert_int_eq(tf_jobfile_scan(&jf), 0);
	{
		struct tf_task t;
		ck_assert_int_eq(tf_jobfile_next(&jf, &t), 1);
		tf_task_release(&t);
		n = 1;
	}
	fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "echo NEW\n", 9), 9);
	ck_assert_int_eq(close(fd), 0);
	ck_assert_int_eq(read_validated(&jf, &n), -ESTALE);
	ck_assert_uint_eq(n, 3);
	tf_jobfile_close(&jf);
}
END_TEST

START_TEST(test_unchanged_reads_twice)
{
	struct tf_jobfile jf;
	const char *path = write_tasks("jobs", 5000);
	unsigned n = 0;

	/* The checks cost nothing to a file left alone: all of it, and
	 * then the end. */
	ck_assert_int_eq(tf_jobfile_open(&jf, path), 0);
	ck_assert_int_eq(tf_jobfile_scan(&jf), 0);
	ck_assert_int_eq(read_validated(&jf, &n), 0);
	ck_assert_uint_eq(n, 5000);
	ck_assert_uint_eq(jf.nblocks,
			  (jf.size + TF_JOBFILE_BLOCK - 1) / TF_JOBFILE_BLOCK);
	tf_jobfile_close(&jf);
}
END_TEST

/* ---- endless sources are stopped while spooling ---- */

/* Opens "-" with stdin a pipe fed for ever with byte c by a child
 * process; returns what tf_jobfile_open() did. */
static int open_endless_stdin(struct tf_jobfile *jf, char c)
{
	int pfd[2], saved, r, status;
	pid_t pid;

	ck_assert_int_eq(pipe(pfd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char buf[4096];

		memset(buf, c, sizeof(buf));
		close(pfd[0]);
		for (;;)
			if (write(pfd[1], buf, sizeof(buf)) < 0)
				_exit(0);
	}
	close(pfd[1]);
	saved = dup(STDIN_FILENO);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_eq(dup2(pfd[0], STDIN_FILENO), STDIN_FILENO);
	ck_assert_int_eq(close(pfd[0]), 0);
	clearerr(stdin);
	r = tf_jobfile_open(jf, "-");
	ck_assert_int_eq(dup2(saved, STDIN_FILENO), STDIN_FILENO);
	ck_assert_int_eq(close(saved), 0);
	clearerr(stdin);
	/* The writer ends on EPIPE now that nothing reads the pipe. */
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return r;
}

START_TEST(test_endless_nul_stdin_stops)
{
	struct tf_jobfile jf;

	/* As `taskfarm - </dev/zero`: the tests' timeout is the bound. */
	ck_assert_int_eq(open_endless_stdin(&jf, '\0'), TF_EPARSE);
	ck_assert_str_eq(jf.errmsg, "-:1: NUL byte in line");
}
END_TEST

START_TEST(test_endless_line_stdin_stops)
{
	struct tf_jobfile jf;

	ck_assert_int_eq(open_endless_stdin(&jf, 'a'), TF_ETOOLONG);
	ck_assert_msg(strncmp(jf.errmsg, "-:1: line longer than 131058",
			      28) == 0,
		      "errmsg '%s'", jf.errmsg);
}
END_TEST

START_TEST(test_dev_zero_stops)
{
	struct tf_jobfile jf;

	ck_assert_int_eq(tf_jobfile_open(&jf, "/dev/zero"), TF_EPARSE);
	ck_assert_str_eq(jf.errmsg, "/dev/zero:1: NUL byte in line");
}
END_TEST

START_TEST(test_spool_error_names_line)
{
	struct tf_jobfile jf;
	int pfd[2], saved, r;

	/* A NUL on line 3 of a pipe is named as such while copying. */
	ck_assert_int_eq(pipe(pfd), 0);
	ck_assert_int_eq(tf_write_all(pfd[1], "echo a\necho b\nec\0ho\n", 20),
			 0);
	ck_assert_int_eq(close(pfd[1]), 0);
	saved = dup(STDIN_FILENO);
	ck_assert_int_eq(dup2(pfd[0], STDIN_FILENO), STDIN_FILENO);
	ck_assert_int_eq(close(pfd[0]), 0);
	clearerr(stdin);
	r = tf_jobfile_open(&jf, "-");
	ck_assert_int_eq(dup2(saved, STDIN_FILENO), STDIN_FILENO);
	ck_assert_int_eq(close(saved), 0);
	clearerr(stdin);
	ck_assert_int_eq(r, TF_EPARSE);
	ck_assert_str_eq(jf.errmsg, "-:3: NUL byte in line");
}
END_TEST

START_TEST(test_max_line_is_exec_limit)
{
	/* One exec argument holds 32 pages less its NUL; exec.c puts
	 * "trap '' USR1\n" before the command. */
	ck_assert_int_eq(TF_MAX_LINE, 131072 - 1 - 13);
	ck_assert_int_eq(TF_EXEC_PREFIX_LEN, (int)strlen("trap '' USR1\n"));
}
END_TEST

static Suite *jobfile_suite(void)
{
	Suite *s = suite_create("jobfile");
	TCase *tc;

	tc = tcase_create("lines");
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_plain_lines);
	tcase_add_test(tc, test_blank_and_comment_lines_skipped);
	tcase_add_test(tc, test_leading_blanks_kept_in_command);
	tcase_add_test(tc, test_empty_file);
	tcase_add_test(tc, test_only_comments);
	suite_add_tcase(s, tc);

	tc = tcase_create("continuation");
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_continuation_joins_lines);
	tcase_add_test(tc, test_continuation_backslash_parity);
	tcase_add_test(tc, test_continuation_does_not_skip_comment_like_lines);
	tcase_add_test(tc, test_continuation_at_eof);
	suite_add_tcase(s, tc);

	tc = tcase_create("endings");
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_crlf_endings);
	tcase_add_test(tc, test_last_line_without_newline);
	suite_add_tcase(s, tc);

	tc = tcase_create("malformed");
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	/* Megabyte lines are read a byte at a time; give them room. */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_nul_byte);
	tcase_add_test(tc, test_nul_byte_in_comment_line);
	tcase_add_test(tc, test_line_too_long);
	tcase_add_test(tc, test_line_at_limit_accepted);
	tcase_add_test(tc, test_continued_task_too_long);
	tcase_add_test(tc, test_bare_cr_refused);
	tcase_add_test(tc, test_bare_cr_in_argument_lines);
	tcase_add_test(tc, test_max_line_is_exec_limit);
	suite_add_tcase(s, tc);

	tc = tcase_create("open");
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_open_nonexistent);
	tcase_add_test(tc, test_open_directory);
	tcase_add_test(tc, test_close_and_reopen);
	suite_add_tcase(s, tc);

	tc = tcase_create("scan");
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_scan_counts_and_rewinds);
	tcase_add_test(tc, test_scan_large_file);
	suite_add_tcase(s, tc);

	tc = tcase_create("spool");
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_stdin_pipe_is_spooled);
	tcase_add_test(tc, test_stdin_regular_file_not_spooled);
	tcase_add_test(tc, test_fifo_is_spooled);
	tcase_add_test(tc, test_endless_nul_stdin_stops);
	tcase_add_test(tc, test_endless_line_stdin_stops);
	tcase_add_test(tc, test_dev_zero_stops);
	tcase_add_test(tc, test_spool_error_names_line);
	suite_add_tcase(s, tc);

	tc = tcase_create("changed");
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_changed_truncated);
	tcase_add_test(tc, test_changed_appended);
	tcase_add_test(tc, test_changed_overwritten);
	tcase_add_test(tc, test_changed_small_file_appended);
	tcase_add_test(tc, test_unchanged_reads_twice);
	suite_add_tcase(s, tc);

	return s;
}

TF_CHECK_MAIN(jobfile_suite)
