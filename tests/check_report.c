/*
 * Unit tests for the reports: the status line's counts, rate and ETA,
 * and the summary's per-rank busy fraction. The summary goes to stderr,
 * so those tests capture it in a file.
 */
#include "config.h"

#include "check_util.h"

#include <fcntl.h>

#include "farm/report.h"

START_TEST(test_status_counts_and_eta)
{
	struct tf_report rp;
	struct tf_strbuf sb = TF_STRBUF_INIT;

	tf_report_init(&rp, 1, 0, 0, 0);
	rp.ntasks = 100;
	rp.ok = 40;
	rp.failed = 10;
	rp.running = 2;
	/* 50 done in 10 s: 5 tasks/s, so 50 more take 10 s. */
	tf_report_status(&rp, rp.t0 + 10, &sb);
	ck_assert_str_eq(sb.buf, "50/100 done, 10 failed, 2 running, "
				 "5.0 tasks/s, ETA 0:10");
	tf_strbuf_release(&sb);
	tf_report_release(&rp);
}
END_TEST

START_TEST(test_status_long_eta_and_unknown_total)
{
	struct tf_report rp;
	struct tf_strbuf sb = TF_STRBUF_INIT;

	tf_report_init(&rp, 1, 0, 0, 0);
	rp.ntasks = 10000;
	rp.ok = 1;
	/* One task in 2 s: 9999 more take 19998 s = 5:33:18. */
	tf_report_status(&rp, rp.t0 + 2, &sb);
	ck_assert_ptr_nonnull(strstr(sb.buf, "ETA 5:33:18"));
	tf_strbuf_reset(&sb);

	/* With no known total there is no ETA and no "/total". */
	rp.ntasks = 0;
	tf_report_status(&rp, rp.t0 + 2, &sb);
	ck_assert_str_eq(sb.buf,
			 "1 done, 0 failed, 0 running, 0.5 tasks/s");
	tf_strbuf_release(&sb);
	tf_report_release(&rp);
}
END_TEST

/* The live line fits every width, from 1 to 200 columns, never
 * reaching the last one; the bar comes as soon as there is room. */
START_TEST(test_line_fits_width)
{
	struct tf_report rp;
	struct tf_strbuf sb = TF_STRBUF_INIT;
	int w;

	tf_report_init(&rp, 1, 1, 0, 0);
	rp.ntasks = 100000;
	rp.ok = 42000;
	rp.failed = 123;
	rp.running = 64;
	for (w = 1; w <= 200; w++) {
		tf_strbuf_reset(&sb);
		tf_report_line(&rp, rp.t0 + 3600, w, &sb);
		ck_assert_msg(sb.len <= (size_t)(w > 1 ? w - 1 : 0) ||
				      (w == 1 && sb.len == 0) || w == 1,
			      "width %d: %zu bytes: %s", w, sb.len, sb.buf);
		ck_assert_ptr_null(strchr(sb.buf, '\n'));
		if (w >= 40) {
			ck_assert_msg(strstr(sb.buf, "42%") &&
					      strstr(sb.buf, "[#"),
				      "width %d: %s", w, sb.buf);
			ck_assert_ptr_nonnull(strstr(sb.buf, "123 failed"));
		}
		if (w >= 120)
			ck_assert_ptr_nonnull(strstr(sb.buf, "ETA "));
	}
	tf_strbuf_release(&sb);
	tf_report_release(&rp);
}
END_TEST

START_TEST(test_timestamp_iso8601)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	int y, mo, d, h, mi, sec, oh, om;
	char sign;

	tf_report_timestamp(1780000000.5, &sb);
	ck_assert_int_eq(sscanf(sb.buf, "%4d-%2d-%2dT%2d:%2d:%2d%c%2d:%2d", &y,
				&mo, &d, &h, &mi, &sec, &sign, &oh, &om),
			 9);
	ck_assert(sign == '+' || sign == '-');
	ck_assert_uint_eq(sb.len, 25);
	tf_strbuf_release(&sb);
}
END_TEST

/* Sends stderr to the file at path until capture_end(), which returns
 * what was written (the caller frees it). */
static int capture_begin(const char *path)
{
	int saved, fd;

	fflush(stderr);
	saved = dup(STDERR_FILENO);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	return saved;
}

static char *capture_end(const char *path, int saved, size_t *len)
{
	fflush(stderr);
	ck_assert_int_eq(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	return read_file(path, len);
}

START_TEST(test_summary_busy_fraction)
{
	struct tf_report rp;
	const char *path = tmppath("summary");
	char *text;
	int saved;

	tf_report_init(&rp, 3, 0, 0, 0);
	rp.ok = 3;
	rp.failed = 1;
	rp.interrupted = 2;
	/* Rank 0 runs nothing and is left out; rank 1 was busy 5 s of 10
	 * on 1 slot, rank 2 10 s of 10 on 2 slots. */
	snprintf(rp.ranks[1].host, sizeof(rp.ranks[1].host), "n1");
	rp.ranks[1].slots = 1;
	rp.ranks[1].tasks = 1;
	rp.ranks[1].busy = 5;
	snprintf(rp.ranks[2].host, sizeof(rp.ranks[2].host), "n2");
	rp.ranks[2].slots = 2;
	rp.ranks[2].tasks = 3;
	rp.ranks[2].busy = 10;
	saved = capture_begin(path);
	tf_report_summary(&rp, rp.t0 + 10, "run.tsv", 7);
	text = capture_end(path, saved, NULL);
	ck_assert_ptr_nonnull(strstr(text, "4 tasks in 10.00 s (0.4 tasks/s): "
					   "3 ok, 1 failed, 2 interrupted, "
					   "7 not run\n"));
	ck_assert_ptr_null(strstr(text, "rank 0"));
	ck_assert_ptr_nonnull(strstr(text, "rank 1 (n1): 1 task on 1 slot, "
					   "busy 50.0%\n"));
	ck_assert_ptr_nonnull(strstr(text, "rank 2 (n2): 3 tasks on 2 slots, "
					   "busy 50.0%\n"));
	ck_assert_ptr_nonnull(strstr(text, "journal: run.tsv\n"));
	free(text);
	tf_report_release(&rp);
}
END_TEST

START_TEST(test_summary_json_agrees_with_text)
{
	struct tf_report rp;
	struct tf_summary sum;
	const char *path = tmppath("summary.json");
	char *json;

	tf_report_init(&rp, 2, 0, 0, 0);
	rp.ntasks = 12;
	rp.ok = 3;
	rp.failed = 1;
	rp.skipped = 5;
	rp.failed_before = 2;
	snprintf(rp.ranks[1].host, sizeof(rp.ranks[1].host), "n\"1");
	rp.ranks[1].slots = 2;
	rp.ranks[1].tasks = 4;
	rp.ranks[1].busy = 10;
	tf_report_summarize(&rp, rp.t0 + 10, 1, &sum);
	ck_assert_uint_eq(sum.tasks, 4);
	ck_assert_uint_eq(sum.skipped, 3); /* the failed ones apart */
	ck_assert_int_eq(tf_report_summary_json(&rp, &sum, "j\tk", 1, path), 0);
	json = read_file(path, NULL);
	ck_assert_ptr_nonnull(strstr(json, "{\"exit_code\":1,\"tasks\":4,"
					   "\"seconds\":10.000,\"rate\":0.400,"
					   "\"ok\":3,\"failed\":1,"));
	ck_assert_ptr_nonnull(strstr(json, "\"skipped\":3,\"failed_before\":2,"));
	ck_assert_ptr_nonnull(strstr(json, "\"not_run\":1,"));
	ck_assert_ptr_nonnull(strstr(json, "\"total\":12,\"journal\":\"j\\tk\""));
	ck_assert_ptr_nonnull(strstr(json, "\"ranks\":[{\"rank\":1,\"host\":"
					   "\"n\\\"1\",\"slots\":2,\"tasks\":4,"
					   "\"busy_seconds\":10.000,"
					   "\"busy_percent\":50.0,\"lost\":false}]}\n"));
	free(json);
	ck_assert_int_eq(tf_report_summary_json(&rp, &sum, NULL, 0,
						tmppath("no/such/dir.json")),
			 -ENOENT);
	tf_report_release(&rp);
}
END_TEST

START_TEST(test_summary_resume_and_journal_loss)
{
	struct tf_report rp;
	const char *path = tmppath("summary");
	char *text;
	int saved;

	tf_report_init(&rp, 1, 0, 0, 0);
	rp.ok = 2;
	/* Five left out by --resume, two of them journaled failed; three
	 * results the journal could not take. */
	rp.skipped = 5;
	rp.failed_before = 2;
	rp.unjournaled = 3;
	saved = capture_begin(path);
	tf_report_summary(&rp, rp.t0 + 1, "run.tsv", 0);
	text = capture_end(path, saved, NULL);
	ck_assert_msg(strstr(text, "2 ok, 0 failed, 3 skipped (done before), "
				   "2 failed before (--resume-failed reruns "
				   "them), 3 results not journaled\n"),
		      "summary: %s", text);
	free(text);

	/* One of each, and nothing said of what did not happen. */
	rp.skipped = 1;
	rp.failed_before = 1;
	rp.unjournaled = 1;
	saved = capture_begin(path);
	tf_report_summary(&rp, rp.t0 + 1, "run.tsv", 0);
	text = capture_end(path, saved, NULL);
	ck_assert_ptr_null(strstr(text, "skipped"));
	ck_assert_ptr_nonnull(strstr(text, ", 1 failed before ("));
	ck_assert_ptr_nonnull(strstr(text, ", 1 result not journaled\n"));
	free(text);

	rp.skipped = rp.failed_before = rp.unjournaled = 0;
	saved = capture_begin(path);
	tf_report_summary(&rp, rp.t0 + 1, "run.tsv", 0);
	text = capture_end(path, saved, NULL);
	ck_assert_ptr_null(strstr(text, "before"));
	ck_assert_ptr_null(strstr(text, "journaled"));
	free(text);
	tf_report_release(&rp);
}
END_TEST

START_TEST(test_quiet_prints_nothing)
{
	struct tf_report rp;
	const char *path = tmppath("quiet");
	size_t len;
	char *text;
	int saved;

	tf_report_init(&rp, 1, 1, 1, 1);
	ck_assert_int_eq(rp.tty, 0); /* quiet wins over a terminal */
	saved = capture_begin(path);
	tf_report_tick(&rp, rp.t0 + 100);
	tf_report_summary(&rp, rp.t0 + 100, "j.tsv", 0);
	text = capture_end(path, saved, &len);
	ck_assert_uint_eq(len, 0);
	free(text);
	tf_report_release(&rp);
}
END_TEST

static Suite *report_suite(void)
{
	Suite *s = suite_create("report");
	TCase *tc = tcase_create("status");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_status_counts_and_eta);
	tcase_add_test(tc, test_status_long_eta_and_unknown_total);
	tcase_add_test(tc, test_line_fits_width);
	tcase_add_test(tc, test_timestamp_iso8601);
	suite_add_tcase(s, tc);

	tc = tcase_create("summary");
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_summary_busy_fraction);
	tcase_add_test(tc, test_summary_resume_and_journal_loss);
	tcase_add_test(tc, test_summary_json_agrees_with_text);
	tcase_add_test(tc, test_quiet_prints_nothing);
	suite_add_tcase(s, tc);
	return s;
}

TF_CHECK_MAIN(report_suite)
