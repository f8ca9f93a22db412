/*
 * Unit tests for the log sink (core/util.h): lines reach the installed
 * sink whole, with their level and the usual prefix; the verbosity
 * filters them; with the sink taken away nothing is printed.
 */
#include "config.h"

#include "check_util.h"

#include <fcntl.h>

#include "core/util.h"

static char got[8][256];
static int got_level[8];
static int ngot;

static void record(int level, const char *line, void *arg)
{
	int *calls = arg;

	if (ngot < 8) {
		snprintf(got[ngot], sizeof(got[ngot]), "%s", line);
		got_level[ngot] = level;
	}
	ngot++;
	(*calls)++;
}

static void reset(void)
{
	ngot = 0;
	memset(got, 0, sizeof(got));
	tf__log_level = 0;
	tf__log_rank = -1;
}

START_TEST(test_sink_gets_lines)
{
	int calls = 0;

	reset();
	tf__log_set_sink(record, &calls);
	tf_error("bad %d", 1);
	tf_warn("careful");
	tf__log_set_sink(tf__log_stderr, NULL);
	ck_assert_int_eq(calls, 2);
	ck_assert_str_eq(got[0], "taskfarm: error: bad 1\n");
	ck_assert_int_eq(got_level[0], TF_LOG_ERROR);
	ck_assert_str_eq(got[1], "taskfarm: warning: careful\n");
	ck_assert_int_eq(got_level[1], TF_LOG_WARN);
}
END_TEST

START_TEST(test_sink_rank_prefix)
{
	int calls = 0, hh, mm, ss, ms, rank;
	char rest[64];

	reset();
	tf__log_rank = 3;
	tf__log_set_sink(record, &calls);
	tf_warn("hello");
	tf__log_set_sink(tf__log_stderr, NULL);
	tf__log_rank = -1;
	ck_assert_int_eq(sscanf(got[0], "taskfarm[%d:%d:%d.%d:%d]: %63[^\n]",
				&hh, &mm, &ss, &ms, &rank, rest),
			 6);
	ck_assert_int_eq(rank, 3);
	ck_assert_str_eq(rest, "warning: hello");
}
END_TEST

START_TEST(test_sink_verbosity)
{
	int calls = 0;

	reset();
	tf__log_set_sink(record, &calls);
	tf_info("not shown");
	tf_debug("not shown");
	tf__log_level = 1;
	tf_info("shown");
	tf_debug("not shown");
	tf__log_level = 2;
	tf_debug("shown too");
	tf__log_set_sink(tf__log_stderr, NULL);
	tf__log_level = 0;
	ck_assert_int_eq(calls, 2);
	ck_assert_str_eq(got[0], "taskfarm: shown\n");
	ck_assert_int_eq(got_level[0], TF_LOG_INFO);
	ck_assert_str_eq(got[1], "taskfarm: debug: shown too\n");
	ck_assert_int_eq(got_level[1], TF_LOG_DEBUG);
}
END_TEST

START_TEST(test_sink_plain)
{
	int calls = 0;

	reset();
	tf__log_rank = 2;
	tf__log_set_sink(record, &calls);
	tf__log_plain(TF_LOG_WARN, "taskfarm: summary %s\n", "line");
	tf__log_set_sink(tf__log_stderr, NULL);
	tf__log_rank = -1;
	ck_assert_int_eq(calls, 1);
	ck_assert_str_eq(got[0], "taskfarm: summary line\n");
}
END_TEST

/* With no sink nothing is written: stderr, pointed at a file, stays
 * empty. */
START_TEST(test_no_sink_silent)
{
	const char *path = tmppath("stderr");
	size_t len = 1;
	char *text;
	int fd, saved;

	reset();
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	saved = dup(STDERR_FILENO);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
	tf__log_set_sink(NULL, NULL);
	tf_error("dropped");
	tf__log_plain(TF_LOG_ERROR, "dropped too\n");
	tf__log_set_sink(tf__log_stderr, NULL);
	tf_error("kept");
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	text = read_file(path, &len);
	ck_assert_ptr_nonnull(text);
	ck_assert_str_eq(text, "taskfarm: error: kept\n");
	free(text);
}
END_TEST

static Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("sink");

	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_sink_gets_lines);
	tcase_add_test(tc, test_sink_rank_prefix);
	tcase_add_test(tc, test_sink_verbosity);
	tcase_add_test(tc, test_sink_plain);
	tcase_add_test(tc, test_no_sink_silent);
	suite_add_tcase(s, tc);
	return s;
}

TF_CHECK_MAIN(log_suite)
