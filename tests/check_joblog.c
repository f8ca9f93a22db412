/*
 * Tests for the --joblog file (joblog.c): parallel's header, a line
 * byte for byte as parallel 20221122 writes it (the %10.3f run time
 * truncated to milliseconds, stdout bytes as Receive, a newline in the
 * command as NUL, tabs raw), Exitval and Signal as parallel reports
 * signals and timeouts, which outcomes get no line, and the opening
 * rules: emptied afresh, appended to under --resume, header only in an
 * empty file, no symbolic links.
 */
#include "config.h"

#include "check_util.h"

#include <fcntl.h>
#include <signal.h>

#include "farm/joblog.h"
#include "taskfarm.h"
#include "core/util.h"

static void sample(struct tf_result *r, uint64_t id, int status)
{
	tf_result_init(r);
	r->id = id;
	r->attempt = 3;
	r->rank = 2;
	r->status = status;
	r->exitval = status == TF_STATUS_OK ? 0 : 3;
	r->start = 1796216011.25;
	r->runtime = 0.0069999;
	ck_assert_int_eq(tf_output_append(&r->out, "abcd", 4, 1024), 0);
	ck_assert_int_eq(tf_output_append(&r->err, "errors", 6, 1024), 0);
}

static char *line_of(const struct tf_result *r, const char *host,
		     const char *cmd, size_t *len)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;

	tf_joblog_format(&sb, r, host, cmd, strlen(cmd));
	return tf_strbuf_detach(&sb, len);
}

START_TEST(test_line_exact)
{
	struct tf_result r;
	char *line;

	sample(&r, 7, TF_STATUS_OK);
	line = line_of(&r, "node1", "echo a", NULL);
	ck_assert_str_eq(line, "7\tnode1\t1796216011.250\t     0.006\t0\t4\t0\t0"
			       "\techo a\n");
	free(line);
	/* The master's own tasks are local: parallel's ":". */
	r.rank = 0;
	line = line_of(&r, "node0", "true", NULL);
	ck_assert_str_eq(line, "7\t:\t1796216011.250\t     0.006\t0\t4\t0\t0"
			       "\ttrue\n");
	free(line);
	/* A host name parallel would not read as one field. */
	r.rank = 1;
	line = line_of(&r, "", "true", NULL);
	ck_assert_ptr_nonnull(strstr(line, "7\t:\t"));
	free(line);
	/* Bytes --line-buffer wrote ahead count as received. */
	r.rank = 0;
	r.ahead_out = 10;
	line = line_of(&r, "node0", "true", NULL);
	ck_assert_str_eq(line, "7\t:\t1796216011.250\t     0.006\t0\t14\t0\t0"
			       "\ttrue\n");
	free(line);
	r.ahead_out = 0;
	/* No padding from 100000 s on. */
	r.runtime = 123456.7891;
	line = line_of(&r, "h", "x", NULL);
	ck_assert_ptr_nonnull(strstr(line, "\t123456.789\t"));
	free(line);
	tf_result_release(&r);
}
END_TEST

START_TEST(test_command_raw_newline_nul)
{
	struct tf_result r;
	static const char want[] = "1\t:\t1796216011.250\t     0.006\t0\t4\t1\t0"
				   "\techo 1\0echo sec\tond \\n 'x'\n";
	size_t len;
	char *line;

	sample(&r, 1, TF_STATUS_FAILED);
	r.rank = 0;
	r.exitval = 1;
	line = line_of(&r, "h", "echo 1\necho sec\tond \\n 'x'", &len);
	ck_assert_uint_eq(len, sizeof(want) - 1);
	ck_assert(memcmp(line, want, len) == 0);
	free(line);
	tf_result_release(&r);
}
END_TEST

START_TEST(test_exit_and_signal)
{
	struct tf_result r;
	char *line;

	sample(&r, 2, TF_STATUS_SIGNALED);
	r.exitval = 128 + SIGTERM;
	r.signal = SIGTERM;
	line = line_of(&r, "h", "c", NULL);
	ck_assert_ptr_nonnull(strstr(line, "\t0\t4\t0\t15\tc\n"));
	free(line);
	r.status = TF_STATUS_TIMEOUT;
	line = line_of(&r, "h", "c", NULL);
	ck_assert_ptr_nonnull(strstr(line, "\t0\t4\t-1\t15\tc\n"));
	free(line);
	r.status = TF_STATUS_FAILED;
	r.exitval = 300 & 255;
	r.signal = 0;
	line = line_of(&r, "h", "c", NULL);
	ck_assert_ptr_nonnull(strstr(line, "\t0\t4\t44\t0\tc\n"));
	free(line);
	/* Failed but with exit status 0 would read as done. */
	r.status = TF_STATUS_SPAWN_FAILED;
	r.exitval = 0;
	line = line_of(&r, "h", "c", NULL);
	ck_assert_ptr_nonnull(strstr(line, "\t127\t0\tc\n"));
	free(line);
	r.status = TF_STATUS_LOST;
	r.exitval = -1;
	line = line_of(&r, "h", "c", NULL);
	ck_assert_ptr_nonnull(strstr(line, "\t-1\t0\tc\n"));
	free(line);
	tf_result_release(&r);
}
END_TEST

START_TEST(test_which_are_logged)
{
	ck_assert(tf_joblog_logs(TF_STATUS_OK));
	ck_assert(tf_joblog_logs(TF_STATUS_FAILED));
	ck_assert(tf_joblog_logs(TF_STATUS_SIGNALED));
	ck_assert(tf_joblog_logs(TF_STATUS_TIMEOUT));
	ck_assert(tf_joblog_logs(TF_STATUS_SPAWN_FAILED));
	ck_assert(tf_joblog_logs(TF_STATUS_LOST));
	ck_assert(!tf_joblog_logs(TF_STATUS_INTERRUPTED));
	ck_assert(!tf_joblog_logs(TF_STATUS_NOT_STARTED));
	ck_assert(!tf_joblog_logs(TF_STATUS_OUTPUT_LOST));
}
END_TEST

START_TEST(test_open_and_append)
{
	const char *path = tmppath("jl");
	struct tf_joblog l;
	struct tf_result r;
	char *text;

	sample(&r, 1, TF_STATUS_OK);
	r.rank = 0;
	ck_assert_int_eq(tf_joblog_open(&l, path, 0), 0);
	tf_joblog_add(&l, &r, "h", "one", 3);
	r.status = TF_STATUS_INTERRUPTED; /* no line */
	tf_joblog_add(&l, &r, "h", "skipped", 7);
	ck_assert_int_eq(tf_joblog_close(&l), 0);
	text = read_file(path, NULL);
	ck_assert_str_eq(text, TF_JOBLOG_HEADER
			 "1\t:\t1796216011.250\t     0.006\t0\t4\t0\t0\tone\n");
	free(text);
	/* --resume appends, no second header. */
	r.status = TF_STATUS_OK;
	r.id = 2;
	ck_assert_int_eq(tf_joblog_open(&l, path, 1), 0);
	tf_joblog_add(&l, &r, "h", "two", 3);
	ck_assert_int_eq(tf_joblog_close(&l), 0);
	text = read_file(path, NULL);
	ck_assert_str_eq(text, TF_JOBLOG_HEADER
			 "1\t:\t1796216011.250\t     0.006\t0\t4\t0\t0\tone\n"
			 "2\t:\t1796216011.250\t     0.006\t0\t4\t0\t0\ttwo\n");
	free(text);
	/* A fresh run empties it. */
	ck_assert_int_eq(tf_joblog_open(&l, path, 0), 0);
	ck_assert_int_eq(tf_joblog_close(&l), 0);
	text = read_file(path, NULL);
	ck_assert_str_eq(text, TF_JOBLOG_HEADER);
	free(text);
	/* An empty file gets the header even when appending. */
	write_file("empty", "", 0);
	ck_assert_int_eq(tf_joblog_open(&l, tmppath("empty"), 1), 0);
	ck_assert_int_eq(tf_joblog_close(&l), 0);
	text = read_file(tmppath("empty"), NULL);
	ck_assert_str_eq(text, TF_JOBLOG_HEADER);
	free(text);
	tf_result_release(&r);
}
END_TEST

START_TEST(test_refuses_links_and_dirs)
{
	struct tf_joblog l;

	write_file("target", "keep\n", 5);
	ck_assert_int_eq(symlink(tmppath("target"), tmppath("link")), 0);
	ck_assert_int_eq(tf_joblog_open(&l, tmppath("link"), 0), -ELOOP);
	ck_assert_int_eq(mkdir(tmppath("dir"), 0755), 0);
	ck_assert_int_lt(tf_joblog_open(&l, tmppath("dir"), 0), 0);
	{
		char *text = read_file(tmppath("target"), NULL);

		ck_assert_str_eq(text, "keep\n");
		free(text);
	}
}
END_TEST

/* A write that fails is an error that stays: the rest is given up. */
START_TEST(test_write_error_sticks)
{
	const char *path = tmppath("jl");
	struct tf_joblog l;
	struct tf_result r;
	int ro;

	sample(&r, 1, TF_STATUS_OK);
	ck_assert_int_eq(tf_joblog_open(&l, path, 0), 0);
	ro = open(path, O_RDONLY);
	ck_assert_int_ge(ro, 0);
	ck_assert_int_ge(dup2(ro, l.fd), 0); /* writes now fail: EBADF */
	close(ro);
	tf_joblog_add(&l, &r, "h", "one", 3);
	ck_assert_int_eq(tf_joblog_flush(&l), -EBADF);
	tf_joblog_add(&l, &r, "h", "two", 3); /* dropped */
	ck_assert_uint_eq(l.pending.len, 0);
	ck_assert_int_eq(tf_joblog_flush(&l), -EBADF);
	ck_assert_int_eq(tf_joblog_close(&l), -EBADF);
	tf_result_release(&r);
}
END_TEST

static Suite *joblog_suite(void)
{
	Suite *s = suite_create("joblog");
	TCase *tc = tcase_create("format");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_line_exact);
	tcase_add_test(tc, test_command_raw_newline_nul);
	tcase_add_test(tc, test_exit_and_signal);
	tcase_add_test(tc, test_which_are_logged);
	suite_add_tcase(s, tc);

	tc = tcase_create("file");
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_open_and_append);
	tcase_add_test(tc, test_refuses_links_and_dirs);
	tcase_add_test(tc, test_write_error_sticks);
	suite_add_tcase(s, tc);
	return s;
}

TF_CHECK_MAIN(joblog_suite)
