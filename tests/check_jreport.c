/*
 * The journal read for report and status (jreport.c), its HTML page
 * (htmlreport.c) and the status facts and their text and JSON
 * (status.c).
 */
#include "config.h"

#include "check_util.h"

#include "farm/htmlreport.h"
#include "farm/journal.h"
#include "farm/jreport.h"
#include "farm/report.h"
#include "farm/status.h"
#include "taskfarm.h"

#define H17 TF_JOURNAL_HEADER
#define H16 TF_JOURNAL_HEADER_16

/* A 17-column line. */
#define L17(seq, start, rt, ev, sig, cmd, att, rank, slot, st, job)          \
	seq "\tn1\t" start "\t" rt "\t0\t0\t" ev "\t" sig "\t" cmd "\t" att \
	    "\t" rank "\t" slot "\t" st "\t2048\t0.1\t0.0\t" job "\n"
/* A 16-column line (before JobId). */
#define L16(seq, start, rt, cmd, rank, slot, st)                            \
	seq "\tn0\t" start "\t" rt "\t0\t0\t0\t0\t" cmd "\t1\t" rank "\t" \
	    slot "\t" st "\t1024\t0.1\t0.0\n"

/* Two runs: job 11 (3 attempts on rank 1 slots 1 and 2, one failed),
 * then job 12 (the failed task again, ok, and a timeout). */
static const char two_runs[] =
	H17
	L17("1", "1000.000", "2.000", "0", "0", "echo a", "1", "1", "1", "ok", "11")
	L17("2", "1000.000", "4.000", "1", "0", "exit 1", "1", "1", "2", "failed", "11")
	L17("3", "1002.000", "1.000", "0", "0", "echo c", "1", "1", "1", "ok", "11")
	L17("2", "1100.000", "1.000", "0", "0", "exit 1", "2", "2", "1", "ok", "12")
	L17("4", "1100.000", "3.000", "143", "15", "sleep 9", "1", "1", "1", "timeout", "12");

static const char *write_journal(const char *text)
{
	return write_file("j.tsv", text, strlen(text));
}

/* Reads text as the journal j.tsv into jr, which must succeed. */
static void load_ok(struct tf_jreport *jr, const char *text)
{
	char err[512];
	int ret = tf_jreport_load(jr, write_journal(text), err, sizeof(err));

	ck_assert_msg(ret == 0, "tf_jreport_load: %d: %s", ret, err);
}

START_TEST(test_counts_rows_and_runs)
{
	struct tf_jreport jr;
	size_t i;

	load_ok(&jr, two_runs);
	ck_assert_uint_eq(jr.n, 5);
	ck_assert_int_eq(jr.kind, 17);
	ck_assert_uint_eq(jr.by_status[TF_STATUS_OK], 3);
	ck_assert_uint_eq(jr.by_status[TF_STATUS_FAILED], 1);
	ck_assert_uint_eq(jr.by_status[TF_STATUS_TIMEOUT], 1);
	/* Rows: rank 1 slot 1, rank 1 slot 2, rank 2 slot 1. */
	ck_assert_uint_eq(jr.nrows, 3);
	for (i = 0; i < jr.nrows; i++)
		if (jr.rows[i].rank == 1 && jr.rows[i].slot == 1) {
			ck_assert_uint_eq(jr.rows[i].attempts, 3);
			ck_assert_double_eq_tol(jr.rows[i].busy, 6.0, 1e-9);
			ck_assert_uint_eq(jr.rows[i].failed, 1);
		}
	/* Runs by JobId, with their spans. */
	ck_assert_uint_eq(jr.nsegs, 2);
	ck_assert_str_eq(jr.segs[0].jobid, "11");
	ck_assert_str_eq(jr.segs[1].jobid, "12");
	ck_assert_uint_eq(jr.segs[0].attempts, 3);
	ck_assert_double_eq_tol(jr.segs[0].start, 1000.0, 1e-9);
	ck_assert_double_eq_tol(jr.segs[0].end, 1004.0, 1e-9);
	ck_assert_double_eq_tol(jr.segs[1].end, 1103.0, 1e-9);
	ck_assert_double_eq_tol(tf_jreport_span(&jr), 7.0, 1e-9);
	ck_assert_str_eq(tf_jreport_cmd(&jr, &jr.att[1]), "exit 1");
	ck_assert_int_eq(jr.att[4].exitval, 143);
	ck_assert_int_eq(jr.att[4].signal, 15);
	ck_assert_uint_eq(jr.att[3].attempt, 2);
	tf_jreport_release(&jr);
}
END_TEST

START_TEST(test_old_journal_16_and_17_columns)
{
	static const char text[] =
		H16
		L16("1", "10.000", "1.000", "echo\\told", "1", "1", "ok")
		L17("2", "20.000", "1.000", "0", "0", "echo new", "1", "1", "1", "ok", "77");
	struct tf_jreport jr;

	load_ok(&jr, text);
	ck_assert_int_eq(jr.kind, 16);
	ck_assert_uint_eq(jr.n, 2);
	ck_assert_str_eq(tf_jreport_cmd(&jr, &jr.att[0]), "echo\told");
	/* The older line has no JobId: a run of its own. */
	ck_assert_uint_eq(jr.nsegs, 2);
	ck_assert_str_eq(jr.segs[0].jobid, "-");
	ck_assert_str_eq(jr.segs[1].jobid, "77");
	ck_assert_uint_eq(jr.nrows, 1);
	tf_jreport_release(&jr);
}
END_TEST

START_TEST(test_damaged_line_names_file_and_line)
{
	static const char text[] =
		H17
		L17("1", "1.000", "1.000", "0", "0", "true", "1", "1", "1", "ok", "-")
		"2\tn1\tnot-a-time\t1.0\t0\t0\t0\t0\ttrue\t1\t1\t1\tok\t0\t0\t0\t-\n";
	struct tf_jreport jr;
	char err[512], want[600];
	const char *path = write_journal(text);

	ck_assert_int_eq(tf_jreport_load(&jr, path, err, sizeof(err)),
			 TF_EPARSE);
	snprintf(want, sizeof(want),
		 "%s:3: damaged journal line: a numeric column is not a number",
		 path);
	ck_assert_str_eq(err, want);
	ck_assert_uint_eq(jr.n, 0);
	/* The same words as --resume's replay. */
	{
		struct tf_history h;
		char err2[512];

		ck_assert_int_eq(tf_history_load(&h, path, err2, sizeof(err2)),
				 TF_EPARSE);
		ck_assert_str_eq(err2, want);
	}
	write_journal("Seq\tsomething else\n");
	ck_assert_int_eq(tf_jreport_load(&jr, path, err, sizeof(err)),
			 TF_EPARSE);
	ck_assert_ptr_nonnull(strstr(err, ":1: not a taskfarm journal"));
	ck_assert_int_eq(tf_jreport_load(&jr, tmppath("none"), err,
					 sizeof(err)),
			 -ENOENT);
}
END_TEST

START_TEST(test_torn_last_line_left_out)
{
	char text[2048];
	struct tf_jreport jr;

	snprintf(text, sizeof(text), "%s%s", two_runs, "5\tn1\t1200.0\t1");
	load_ok(&jr, text);
	ck_assert_uint_eq(jr.n, 5);
	ck_assert_int_eq(jr.torn, 1);
	tf_jreport_release(&jr);
}
END_TEST

START_TEST(test_joblog_lanes)
{
	/* Three tasks on one host, two at once: two lanes. */
	static const char text[] =
		"Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\t"
		"Signal\tCommand\n"
		"1\t:\t100.000\t     2.000\t0\t0\t0\t0\tsleep 2\n"
		"2\t:\t100.000\t     1.000\t0\t0\t1\t0\tfalse\twith tab\n"
		"3\t:\t101.500\t     1.000\t0\t0\t0\t0\tsleep 1\n";
	struct tf_jreport jr;
	char err[512];

	load_ok(&jr, text);
	ck_assert_int_eq(jr.kind, 9);
	ck_assert_uint_eq(jr.n, 3);
	ck_assert_uint_eq(jr.nrows, 2);
	ck_assert_uint_eq(jr.att[0].row, 0);
	ck_assert_uint_eq(jr.att[1].row, 1);
	ck_assert_uint_eq(jr.att[2].row, 1); /* lane 2 was free again */
	ck_assert_int_eq(jr.att[1].status, TF_STATUS_FAILED);
	ck_assert_str_eq(tf_jreport_cmd(&jr, &jr.att[1]), "false\twith tab");
	tf_jreport_release(&jr);
	/* status counts a joblog's tasks; --resume refuses it. */
	{
		struct tf_status_facts s;
		struct tf_history h;

		ck_assert_int_eq(tf_status_gather(&s, tmppath("j.tsv"), err,
						  sizeof(err)),
				 0);
		ck_assert_uint_eq(s.done, 2);
		ck_assert_uint_eq(s.failed, 1);
		ck_assert_int_eq(tf_history_load(&h, tmppath("j.tsv"), err,
						 sizeof(err)),
				 TF_EPARSE);
		ck_assert_ptr_nonnull(strstr(err, "a GNU parallel joblog"));
	}
}
END_TEST

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (; (hay = strstr(hay, needle)); hay++)
		n++;
	return n;
}

/* The page of two_runs, drawn with max_bars. */
static char *page_of(size_t max_bars)
{
	struct tf_jreport jr;
	const char *out = tmppath("page.html");
	FILE *f;
	char *html;

	load_ok(&jr, two_runs);
	f = fopen(out, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(tf_html_report(f, &jr, "j<1>.tsv", max_bars), 0);
	ck_assert_int_eq(fclose(f), 0);
	tf_jreport_release(&jr);
	html = read_file(out, NULL);
	return html;
}

START_TEST(test_html_bars_and_failures)
{
	char *html = page_of(TF_HTML_MAX_BARS);

	ck_assert_uint_eq(count(html, "<rect class=\"bar "), 5);
	ck_assert_uint_eq(count(html, "<rect class=\"bar s-timeout\" data-id=\"4\" "
				      "data-attempt=\"1\""),
			  1);
	ck_assert_uint_eq(count(html, "class=\"bin "), 0);
	/* Failures: two groups (failed 1/0 and timeout 143/15), each listing
	 * its command. */
	ck_assert_uint_eq(count(html, "<tr class=\"group\">"), 2);
	ck_assert_uint_eq(count(html, "<tr class=\"fail\">"), 2);
	ck_assert_ptr_nonnull(strstr(html, "timeout, exit value 143, signal 15"));
	ck_assert_ptr_nonnull(strstr(html, "<td class=\"cmd\">sleep 9</td>"));
	/* Two runs with their JobIds; the title is escaped. */
	ck_assert_uint_eq(count(html, "<tr class=\"run\">"), 2);
	ck_assert_ptr_nonnull(strstr(html, "<td class=\"jobid\">12</td>"));
	ck_assert_ptr_nonnull(strstr(html, "j&lt;1&gt;.tsv"));
	/* Ranks: rank 1 (2 slots, 4 attempts), rank 2 (1 slot). */
	ck_assert_uint_eq(count(html, "<tr class=\"rank\">"), 2);
	/* Self-contained: no address, no script, no external resource. */
	ck_assert_ptr_null(strstr(html, "http"));
	ck_assert_ptr_null(strstr(html, "<script"));
	ck_assert_ptr_null(strstr(html, "src="));
	ck_assert_ptr_null(strstr(html, "url("));
	free(html);
}
END_TEST

START_TEST(test_html_bins_past_threshold)
{
	char *html = page_of(2);

	ck_assert_uint_eq(count(html, "<rect class=\"bar "), 0);
	ck_assert_uint_gt(count(html, "<rect class=\"bin "), 0);
	ck_assert_ptr_nonnull(strstr(html, "one mark per slot and time bin"));
	free(html);
}
END_TEST

START_TEST(test_html_joblog_hosts)
{
	/* Two hosts, two lanes on the first: one ranks' line per host. */
	static const char text[] =
		"Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\t"
		"Signal\tCommand\n"
		"1\ta\t100.000\t     2.000\t0\t0\t0\t0\ttrue\n"
		"2\tb\t100.000\t     1.000\t0\t0\t0\t0\ttrue\n"
		"3\ta\t100.500\t     1.000\t0\t0\t1\t0\tfalse\n";
	struct tf_jreport jr;
	const char *out = tmppath("joblog.html");
	FILE *f;
	char *html;

	load_ok(&jr, text);
	ck_assert_uint_eq(jr.nrows, 3);
	f = fopen(out, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(tf_html_report(f, &jr, "joblog", TF_HTML_MAX_BARS), 0);
	ck_assert_int_eq(fclose(f), 0);
	tf_jreport_release(&jr);
	html = read_file(out, NULL);
	ck_assert_uint_eq(count(html, "<tr class=\"rank\">"), 2);
	ck_assert_ptr_nonnull(strstr(html, "<tr class=\"rank\"><td>-</td><td>a"
					   "</td><td class=\"n\">2</td><td "
					   "class=\"n\">2</td>"));
	ck_assert_uint_eq(count(html, "<rect class=\"bar "), 3);
	free(html);
}
END_TEST

START_TEST(test_status_gather_and_format)
{
	static const char meta[] = "taskfarm-journal-meta 1\n"
				   "fingerprint 0123456789abcdef\n"
				   "tasks 6\n"
				   "source job\\twith tab\n"
				   "owner some-other-host 4242 2026-01-02T03:04:05\n"
				   "end\n";
	struct tf_status_facts s;
	struct tf_strbuf sb = TF_STRBUF_INIT;
	const char *path = write_journal(two_runs);
	char err[512];

	write_file("j.tsv.meta", meta, strlen(meta));
	ck_assert_int_eq(tf_status_gather(&s, path, err, sizeof(err)), 0);
	/* Tasks 1, 2 (ok on its retry), 3 done; 4 failed (timeout); of 6. */
	ck_assert_uint_eq(s.total, 6);
	ck_assert_uint_eq(s.done, 3);
	ck_assert_uint_eq(s.failed, 1);
	ck_assert_uint_eq(s.remaining, 2);
	ck_assert_uint_eq(s.attempts, 5);
	ck_assert_uint_eq(s.runs, 2);
	ck_assert_str_eq(s.jobid, "12");
	ck_assert_str_eq(s.owner_host, "some-other-host");
	ck_assert_int_eq(s.owner_pid, 4242);
	ck_assert_str_eq(s.source, "job\twith tab");
	ck_assert_int_eq(s.lock, TF_LOCK_UNKNOWN); /* another host's */
	/* The last run: 1 done in 3 s. */
	ck_assert_double_eq_tol(s.rate, 1.0 / 3, 1e-6);
	ck_assert_uint_eq(s.nfailures, 2);
	ck_assert_str_eq(s.last_failures[0].cmd, "exit 1");
	ck_assert_str_eq(s.last_failures[1].cmd, "sleep 9");
	tf_status_format(&s, &sb);
	ck_assert_ptr_nonnull(strstr(sb.buf, "tasks: 3/6 done, 1 failed, 2 "
					     "remaining"));
	ck_assert_ptr_nonnull(strstr(sb.buf, "owner host some-other-host, pid "
					     "4242"));
	ck_assert_ptr_nonnull(strstr(sb.buf, "id 4 attempt 1: timeout, exit "
					     "143, signal 15: sleep 9\n"));
	tf_strbuf_reset(&sb);
	tf_status_json(&s, &sb);
	ck_assert_ptr_nonnull(strstr(sb.buf, "\"total\":6,\"done\":3,\"failed\":1"));
	ck_assert_ptr_nonnull(strstr(sb.buf, "\"source\":\"job\\twith tab\""));
	ck_assert_ptr_nonnull(strstr(sb.buf, "\"lock\":\"unknown\""));
	tf_strbuf_release(&sb);
}
END_TEST

START_TEST(test_status_without_meta_and_damaged)
{
	struct tf_status_facts s;
	char err[512];
	const char *path = write_journal(two_runs);

	ck_assert_int_eq(tf_status_gather(&s, path, err, sizeof(err)), 0);
	ck_assert_uint_eq(s.total, 0);
	ck_assert_int_eq(s.lock, TF_LOCK_RELEASED);
	ck_assert_double_lt(s.eta, 0);
	write_journal(H17 "1\tbroken\n");
	ck_assert_int_eq(tf_status_gather(&s, path, err, sizeof(err)),
			 TF_EPARSE);
	ck_assert_ptr_nonnull(strstr(err, "j.tsv:2: damaged journal line: "
					  "fewer than 17 fields"));
}
END_TEST

START_TEST(test_json_string_escapes)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;

	tf_json_string(&sb, "a\"b\\c\nd\te\x01" "f");
	ck_assert_str_eq(sb.buf, "\"a\\\"b\\\\c\\nd\\te\\u0001f\"");
	tf_strbuf_release(&sb);
}
END_TEST

static Suite *jreport_suite(void)
{
	Suite *s = suite_create("jreport");
	TCase *tc = tcase_create("read");

	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_counts_rows_and_runs);
	tcase_add_test(tc, test_old_journal_16_and_17_columns);
	tcase_add_test(tc, test_damaged_line_names_file_and_line);
	tcase_add_test(tc, test_torn_last_line_left_out);
	tcase_add_test(tc, test_joblog_lanes);
	suite_add_tcase(s, tc);

	tc = tcase_create("html");
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_html_bars_and_failures);
	tcase_add_test(tc, test_html_bins_past_threshold);
	tcase_add_test(tc, test_html_joblog_hosts);
	suite_add_tcase(s, tc);

	tc = tcase_create("status");
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_status_gather_and_format);
	tcase_add_test(tc, test_status_without_meta_and_damaged);
	tcase_add_test(tc, test_json_string_escapes);
	suite_add_tcase(s, tc);
	return s;
}

TF_CHECK_MAIN(jreport_suite)
