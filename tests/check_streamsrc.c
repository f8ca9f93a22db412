/*
 * Tests for open job sources: the job-file reader reading a FIFO or a
 * followed file as it arrives (partial lines, a line split across reads,
 * nothing yet, errors with their line numbers, the end directive, the
 * fingerprint of what was read), and streamsrc's --resume check.
 */
#include "config.h"

#include "check_util.h"

#include <fcntl.h>
#include <stdint.h>

#include "core/util.h"
#include "farm/jobfile.h"
#include "farm/streamsrc.h"
#include "taskfarm.h"

/* The FIFO's write end, opened first (read-write, so that neither open
 * blocks) and closed to end the input. */
static int writer = -1;
static char fifo[4200];

static void open_fifo(struct tf_jobfile *jf)
{
	int r;

	snprintf(fifo, sizeof(fifo), "%s", tmppath("fifo"));
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	writer = open(fifo, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(writer, 0);
	r = tf_jobfile_open_stream(jf, fifo, 0);
	ck_assert_msg(r == 0, "open: %d (%s)", r, jf->errmsg);
	ck_assert_int_eq(jf->stream, 1);
	ck_assert_int_eq(jf->follow, 0);
}

static void put(const char *s)
{
	ck_assert_int_eq(tf_write_all(writer, s, strlen(s)), 0);
}

static void end_input(void)
{
	ck_assert_int_eq(close(writer), 0);
	writer = -1;
}

/* The next task is (id, cmd). */
static void expect_task(struct tf_jobfile *jf, uint64_t id, const char *cmd)
{
	struct tf_task t;
	int r = tf_jobfile_next(jf, &t);

	ck_assert_msg(r == 1, "next: %d (%s)", r, jf->errmsg);
	ck_assert_uint_eq(t.id, id);
	ck_assert_str_eq(t.cmd, cmd);
	tf_task_release(&t);
}

static void expect_next(struct tf_jobfile *jf, int want)
{
	struct tf_task t;
	int r = tf_jobfile_next(jf, &t);

	if (r == 1)
		tf_task_release(&t);
	ck_assert_msg(r == want, "next: %d, expected %d (%s)", r, want,
		      jf->errmsg);
}

START_TEST(test_partial_lines)
{
	struct tf_jobfile jf;

	open_fifo(&jf);
	expect_next(&jf, -EAGAIN); /* nothing yet */
	put("echo a");
	expect_next(&jf, -EAGAIN); /* half a line is no task */
	expect_next(&jf, -EAGAIN);
	put("b\necho c\n# a comment\n\n");
	expect_task(&jf, 1, "echo ab");
	expect_task(&jf, 2, "echo c");
	expect_next(&jf, -EAGAIN);
	put("echo e");
	end_input();
	/* The last line needs no newline at the end of the input. */
	expect_task(&jf, 5, "echo e");
	expect_next(&jf, 0);
	expect_next(&jf, 0);
	ck_assert_uint_eq(jf.nread_tasks, 3);
	tf_jobfile_close(&jf);
}
END_TEST

START_TEST(test_continuation_split_across_reads)
{
	struct tf_jobfile jf;

	open_fifo(&jf);
	put("echo x \\");
	expect_next(&jf, -EAGAIN);
	put("\n");
	expect_next(&jf, -EAGAIN); /* it continues: no task yet */
	put("  y \\\r");
	expect_next(&jf, -EAGAIN);
	put("\n z\r\n");
	/* The task's id is the line where it starts. */
	expect_task(&jf, 1, "echo x   y  z");
	put("echo next\n");
	expect_task(&jf, 4, "echo next");
	end_input();
	expect_next(&jf, 0);
	tf_jobfile_close(&jf);
}
END_TEST

START_TEST(test_bad_line_names_its_line)
{
	struct tf_jobfile jf;

	open_fifo(&jf);
	put("echo 1\n\necho 3\nech");
	expect_task(&jf, 1, "echo 1");
	expect_task(&jf, 3, "echo 3");
	expect_next(&jf, -EAGAIN);
	ck_assert_int_eq(tf_write_all(writer, "o\0x\n", 4), 0);
	expect_next(&jf, TF_EPARSE);
	ck_assert_msg(strstr(jf.errmsg, "fifo:4: NUL byte in line"), "%s",
		      jf.errmsg);
	tf_jobfile_close(&jf);
	end_input();
}
END_TEST

START_TEST(test_bare_cr_and_long_line)
{
	struct tf_jobfile jf;
	char *big = tf__xmalloc(TF_MAX_LINE + 3);

	open_fifo(&jf);
	put("echo 1\necho \r2\n");
	expect_task(&jf, 1, "echo 1");
	expect_next(&jf, TF_EPARSE);
	ck_assert_msg(strstr(jf.errmsg, "fifo:2: carriage return"), "%s",
		      jf.errmsg);
	tf_jobfile_close(&jf);
	end_input();
	unlink(fifo);

	/* A line over the limit, arriving in pieces, is refused as soon as
	 * it is too long, before its end. */
	open_fifo(&jf);
	memset(big, 'x', TF_MAX_LINE + 2);
	big[TF_MAX_LINE + 2] = '\0';
	put("echo ok\n");
	expect_task(&jf, 1, "echo ok");
	/* In pieces that fit the pipe, each read before the next. */
	ck_assert_int_eq(tf_write_all(writer, big, 60000), 0);
	expect_next(&jf, -EAGAIN);
	ck_assert_int_eq(tf_write_all(writer, big, 60000), 0);
	expect_next(&jf, -EAGAIN);
	put(big + 120000);
	expect_next(&jf, TF_ETOOLONG);
	ck_assert_msg(strstr(jf.errmsg, "fifo:2: line longer"), "%s",
		      jf.errmsg);
	tf_jobfile_close(&jf);
	end_input();
	free(big);
}
END_TEST

START_TEST(test_continuation_at_end_of_input)
{
	struct tf_jobfile jf;

	open_fifo(&jf);
	put("echo 1\necho 2 \\\n");
	expect_task(&jf, 1, "echo 1");
	expect_next(&jf, -EAGAIN);
	end_input();
	expect_next(&jf, TF_EPARSE);
	ck_assert_msg(strstr(jf.errmsg, "fifo:2: line continues past the end"),
		      "%s", jf.errmsg);
	tf_jobfile_close(&jf);
}
END_TEST

START_TEST(test_end_directive)
{
	struct tf_jobfile jf;

	open_fifo(&jf);
	put("echo 1\n  #TASKFARM end \necho 3\n");
	expect_task(&jf, 1, "echo 1");
	expect_next(&jf, 0);
	ck_assert_uint_eq(jf.ended, 2);
	expect_next(&jf, 0); /* and stays ended */
	ck_assert_uint_eq(jf.nread_tasks, 1);
	tf_jobfile_close(&jf);
	end_input();
}
END_TEST

/* What arrives is fingerprinted as tf_jobfile_scan() fingerprints a
 * whole file of the same text. */
START_TEST(test_fingerprint_is_the_scans)
{
	static const char text[] = "echo a\n# c\necho b \\\n c\n\necho d\n";
	struct tf_jobfile jf, whole;

	ck_assert_int_eq(tf_jobfile_open(&whole, write_file("jobs", text,
							    sizeof(text) - 1)),
			 0);
	ck_assert_int_eq(tf_jobfile_scan(&whole), 0);
	open_fifo(&jf);
	put(text);
	end_input();
	expect_task(&jf, 1, "echo a");
	expect_task(&jf, 3, "echo b  c");
	expect_task(&jf, 6, "echo d");
	expect_next(&jf, 0);
	ck_assert_uint_eq(jf.nread_tasks, whole.ntasks);
	ck_assert_uint_eq(jf.running_fp, whole.fingerprint);
	tf_jobfile_close(&jf);
	tf_jobfile_close(&whole);
}
END_TEST

START_TEST(test_regular_file_is_not_a_stream)
{
	struct tf_jobfile jf;

	ck_assert_int_eq(tf_jobfile_open_stream(&jf, write_file("j", "echo\n",
								 5),
						0),
			 0);
	ck_assert_int_eq(jf.stream, 0);
	tf_jobfile_close(&jf);
}
END_TEST

START_TEST(test_follow_waits_for_more)
{
	struct tf_jobfile jf;
	const char *path = write_file("f", "echo 1\necho", 11);
	int fd;

	ck_assert_int_eq(tf_jobfile_open_stream(&jf, path, 1), 0);
	ck_assert_int_eq(jf.stream, 1);
	ck_assert_int_eq(jf.follow, 1);
	expect_task(&jf, 1, "echo 1");
	/* Its end is not the end: the last line may still grow. */
	expect_next(&jf, -EAGAIN);
	fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(tf_write_all(fd, " 2\n", 3), 0);
	/* Looked at again only after a short interval. */
	usleep(80000);
	expect_task(&jf, 2, "echo 2");
	ck_assert_int_eq(tf_write_all(fd, "#TASKFARM end\n", 14), 0);
	usleep(80000);
	expect_next(&jf, 0);
	ck_assert_uint_eq(jf.ended, 3);
	tf_jobfile_close(&jf);
	ck_assert_int_eq(close(fd), 0);
}
END_TEST

START_TEST(test_follow_shrinking_file)
{
	struct tf_jobfile jf;
	const char *path = write_file("f", "echo 1\necho 2\n", 14);

	ck_assert_int_eq(tf_jobfile_open_stream(&jf, path, 1), 0);
	expect_task(&jf, 1, "echo 1");
	expect_task(&jf, 2, "echo 2");
	ck_assert_int_eq(truncate(path, 7), 0);
	usleep(80000);
	expect_next(&jf, -ESTALE);
	ck_assert_msg(strstr(jf.errmsg, "shrank"), "%s", jf.errmsg);
	tf_jobfile_close(&jf);
}
END_TEST

START_TEST(test_follow_replaced_file)
{
	struct tf_jobfile jf;
	const char *path = write_file("f", "echo 1\n", 7);
	char keep[4200];

	snprintf(keep, sizeof(keep), "%s", path);
	ck_assert_int_eq(tf_jobfile_open_stream(&jf, keep, 1), 0);
	expect_task(&jf, 1, "echo 1");
	/* Saved by an editor: a new file renamed over the old. */
	ck_assert_int_eq(rename(write_file("g", "echo 1\necho 2\n", 14), keep),
			 0);
	usleep(80000);
	expect_next(&jf, -ESTALE);
	ck_assert_msg(strstr(jf.errmsg, "replaced"), "%s", jf.errmsg);
	tf_jobfile_close(&jf);
}
END_TEST

/* streamsrc: the fingerprint of the first n tasks that a journal of
 * text recorded. */
static void fingerprint_of(const char *text, char hex[17], uint64_t *n)
{
	struct tf_jobfile whole;

	ck_assert_int_eq(tf_jobfile_open(&whole, write_file("prev", text,
							    strlen(text))),
			 0);
	ck_assert_int_eq(tf_jobfile_scan(&whole), 0);
	snprintf(hex, 17, "%016llx", (unsigned long long)whole.fingerprint);
	*n = whole.ntasks;
	tf_jobfile_close(&whole);
}

static int src_next(struct tf_source *src)
{
	struct tf_task t;
	int r = src->next(src->ctx, &t);

	if (r == 1)
		tf_task_release(&t);
	return r;
}

START_TEST(test_resume_check_passes)
{
	struct tf_stream_source ss;
	struct tf_source src;
	struct tf_jobfile jf;
	char hex[17], now[17];
	uint64_t n;

	fingerprint_of("echo a\necho b\n", hex, &n);
	open_fifo(&jf);
	tf_stream_source_init(&ss, &jf, &src);
	tf_stream_source_expect(&ss, n, hex);
	ck_assert_int_eq(src.ntasks, 0);
	put("echo a\n");
	ck_assert_int_eq(src_next(&src), 1);
	ck_assert_int_eq(src_next(&src), TF_SOURCE_AGAIN);
	ck_assert_int_eq(tf_stream_source_verified(&ss), 0);
	put("echo b\necho c\n");
	ck_assert_int_eq(src_next(&src), 1);
	ck_assert_int_eq(tf_stream_source_verified(&ss), 1);
	ck_assert_int_eq(src_next(&src), 1);
	end_input();
	ck_assert_int_eq(src_next(&src), 0);
	/* What is recorded now: all three. */
	fingerprint_of("echo a\necho b\necho c\n", hex, &n);
	tf_stream_source_fingerprint(&ss, now);
	ck_assert_str_eq(now, hex);
	tf_jobfile_close(&jf);
}
END_TEST

START_TEST(test_resume_check_refuses_other_job)
{
	struct tf_stream_source ss;
	struct tf_source src;
	struct tf_jobfile jf;
	char hex[17];
	uint64_t n;

	fingerprint_of("echo a\necho b\n", hex, &n);
	open_fifo(&jf);
	tf_stream_source_init(&ss, &jf, &src);
	tf_stream_source_expect(&ss, n, hex);
	put("echo a\necho B\necho c\n");
	ck_assert_int_eq(src_next(&src), 1);
	ck_assert_int_eq(src_next(&src), TF_EINVAL);
	ck_assert_msg(strstr(src.errmsg(src.ctx), "fifo:2: cannot resume"),
		      "%s", src.errmsg(src.ctx));
	/* Stopped for good. */
	ck_assert_int_eq(src_next(&src), TF_EINVAL);
	ck_assert_int_eq(tf_stream_source_verified(&ss), 0);
	tf_jobfile_close(&jf);
	end_input();
}
END_TEST

START_TEST(test_resume_check_short_stream)
{
	struct tf_stream_source ss;
	struct tf_source src;
	struct tf_jobfile jf;
	char hex[17];
	uint64_t n;

	fingerprint_of("echo a\necho b\n", hex, &n);
	open_fifo(&jf);
	tf_stream_source_init(&ss, &jf, &src);
	tf_stream_source_expect(&ss, n, hex);
	put("echo a\n");
	end_input();
	ck_assert_int_eq(src_next(&src), 1);
	ck_assert_int_eq(src_next(&src), TF_EINVAL);
	ck_assert_msg(strstr(src.errmsg(src.ctx), "ended before"), "%s",
		      src.errmsg(src.ctx));
	tf_jobfile_close(&jf);
}
END_TEST

START_TEST(test_reader_error_passes_through)
{
	struct tf_stream_source ss;
	struct tf_source src;
	struct tf_jobfile jf;

	open_fifo(&jf);
	tf_stream_source_init(&ss, &jf, &src);
	ck_assert_int_eq(tf_write_all(writer, "echo \0\n", 7), 0);
	ck_assert_int_eq(src_next(&src), TF_EPARSE);
	ck_assert_msg(strstr(src.errmsg(src.ctx), "fifo:1: NUL"), "%s",
		      src.errmsg(src.ctx));
	tf_jobfile_close(&jf);
	end_input();
}
END_TEST

START_TEST(test_directives_as_they_arrive)
{
	struct tf_jobfile jf;
	struct tf_task t;

	open_fifo(&jf);
	put("echo 1\n#TASKFARM slots 2\necho 3\n");
	expect_task(&jf, 1, "echo 1");
	ck_assert_int_eq(tf_jobfile_next(&jf, &t), 1);
	ck_assert_uint_eq(t.id, 3);
	ck_assert_uint_eq(t.slots, 2);
	tf_task_release(&t);
	put("#TASKFARM bogus\n");
	expect_next(&jf, TF_EPARSE);
	ck_assert_msg(strstr(jf.errmsg, "fifo:4:"), "%s", jf.errmsg);
	tf_jobfile_close(&jf);
	end_input();
}
END_TEST

START_TEST(test_task_over_limits_refused)
{
	struct tf_stream_source ss;
	struct tf_source src;
	struct tf_jobfile jf;

	open_fifo(&jf);
	tf_stream_source_init(&ss, &jf, &src);
	tf_stream_source_limits(&ss, 4, 0);
	put("#TASKFARM slots 4\necho fits\n#TASKFARM slots 5\necho big\n");
	ck_assert_int_eq(src_next(&src), 1);
	ck_assert_int_eq(src_next(&src), TF_EPARSE);
	ck_assert_msg(strstr(src.errmsg(src.ctx),
			     "fifo:4: the task needs 5 slots"),
		      "%s", src.errmsg(src.ctx));
	ck_assert_int_eq(src_next(&src), TF_EPARSE); /* stopped */
	tf_jobfile_close(&jf);
	end_input();
	unlink(fifo);

	open_fifo(&jf);
	tf_stream_source_init(&ss, &jf, &src);
	tf_stream_source_limits(&ss, 4, 0);
	put("#TASKFARM gpus 0\necho none\n#TASKFARM gpus 1\necho one\n");
	ck_assert_int_eq(src_next(&src), 1);
	ck_assert_int_eq(src_next(&src), TF_EPARSE);
	ck_assert_msg(strstr(src.errmsg(src.ctx),
			     "fifo:4: the task needs 1 GPUs"),
		      "%s", src.errmsg(src.ctx));
	tf_jobfile_close(&jf);
	end_input();
}
END_TEST

/* What a reader gives: its tasks, then its last return and the message
 * after "PATH:" (the paths differ). */
struct outcome {
	struct tf_strbuf tasks; /* "id cmd\n" each */
	int last;
	char msg[TF_ERRMSG_MAX];
};

static void take(struct tf_jobfile *jf, struct outcome *o, int *done)
{
	struct tf_task t;
	int r;

	while ((r = tf_jobfile_next(jf, &t)) == 1) {
		tf_strbuf_addf(&o->tasks, "%llu %u %s\n",
			       (unsigned long long)t.id, (unsigned)t.slots,
			       t.cmd);
		tf_task_release(&t);
	}
	if (r == -EAGAIN)
		return;
	*done = 1;
	o->last = r;
	if (r < 0) {
		const char *colon = strchr(jf->errmsg, ':');

		snprintf(o->msg, sizeof(o->msg), "%s",
			 colon ? colon : jf->errmsg);
	}
}

/*
 * The incremental reader gives what the whole-file reader gives (the
 * same tasks, the same error at the same line), however the input is cut
 * into reads: chunk bytes at a time (0: sizes from seed).
 */
static void compare_chunked(const char *text, size_t len, size_t chunk,
			    unsigned seed)
{
	struct outcome whole = { TF_STRBUF_INIT, 0, "" };
	struct outcome cut = { TF_STRBUF_INIT, 0, "" };
	struct tf_jobfile jf;
	size_t off = 0;
	int done = 0;

	ck_assert_int_eq(tf_jobfile_open(&jf, write_file("whole", text, len)),
			 0);
	take(&jf, &whole, &done);
	ck_assert_int_eq(done, 1);
	tf_jobfile_close(&jf);

	done = 0;
	open_fifo(&jf);
	while (off < len && !done) {
		size_t n = chunk ? chunk : 1 + (seed = seed * 1103515245 + 12345) % 9;

		if (n > len - off)
			n = len - off;
		ck_assert_int_eq(tf_write_all(writer, text + off, n), 0);
		off += n;
		take(&jf, &cut, &done);
	}
	end_input();
	if (!done)
		take(&jf, &cut, &done);
	ck_assert_int_eq(done, 1);
	tf_jobfile_close(&jf);
	unlink(fifo);

	ck_assert_msg(strcmp(whole.tasks.buf ? whole.tasks.buf : "",
			     cut.tasks.buf ? cut.tasks.buf : "") == 0,
		      "tasks differ (chunk %zu):\n%s---\n%s",
		      chunk, whole.tasks.buf, cut.tasks.buf);
	ck_assert_msg(whole.last == cut.last && strcmp(whole.msg, cut.msg) == 0,
		      "end differs (chunk %zu): %d '%s' / %d '%s'", chunk,
		      whole.last, whole.msg, cut.last, cut.msg);
	tf_strbuf_release(&whole.tasks);
	tf_strbuf_release(&cut.tasks);
}

START_TEST(test_any_cut_reads_as_the_whole)
{
	static const char *const texts[] = {
		"echo a\necho b\n",
		"echo a\r\necho b",
		"  # c\n\n\techo x \\\n y\\\\\n\necho z",
		"echo a \\\r\n b\r\n#TASKFARM slots 2\necho c\n",
		"echo 1\necho \r2\n",
		"echo 1\n#TASKFARM barrier\necho 2 \\\n",
		"echo 1\n#TASKFARM nonsense\necho 2\n",
		"echo 1\n#TASKFARM end\n# more\n",
		"\\\n\\\n\\\necho\n",
		"",
		"\n\n\n",
	};
	static const char alphabet[] = "ab \\\n\n\r#\0";
	char rnd[200];
	unsigned seed = 7;
	size_t i, j, chunks[] = { 1, 2, 3, 5, 64, 0 };

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		for (j = 0; j < sizeof(chunks) / sizeof(chunks[0]); j++)
			compare_chunked(texts[i], strlen(texts[i]), chunks[j],
					(unsigned)(i * 31 + j));
	/* Random texts, NUL bytes among them. */
	for (i = 0; i < 150; i++) {
		size_t len = 1 + (seed = seed * 1103515245 + 12345) % sizeof(rnd);

		for (j = 0; j < len; j++)
			rnd[j] = alphabet[(seed = seed * 1103515245 + 12345) /
					  65536 % (sizeof(alphabet) - 1)];
		compare_chunked(rnd, len, 1 + i % 4, (unsigned)i);
		compare_chunked(rnd, len, 0, (unsigned)i);
	}
}
END_TEST

static Suite *streamsrc_suite(void)
{
	Suite *s = suite_create("streamsrc");
	TCase *tc = tcase_create("reader");

	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_partial_lines);
	tcase_add_test(tc, test_continuation_split_across_reads);
	tcase_add_test(tc, test_bad_line_names_its_line);
	tcase_add_test(tc, test_bare_cr_and_long_line);
	tcase_add_test(tc, test_continuation_at_end_of_input);
	tcase_add_test(tc, test_end_directive);
	tcase_add_test(tc, test_fingerprint_is_the_scans);
	tcase_add_test(tc, test_regular_file_is_not_a_stream);
	tcase_add_test(tc, test_follow_waits_for_more);
	tcase_add_test(tc, test_follow_shrinking_file);
	tcase_add_test(tc, test_follow_replaced_file);
	tcase_add_test(tc, test_directives_as_they_arrive);
	suite_add_tcase(s, tc);

	tc = tcase_create("cuts");
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_any_cut_reads_as_the_whole);
	suite_add_tcase(s, tc);

	tc = tcase_create("resume");
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_resume_check_passes);
	tcase_add_test(tc, test_resume_check_refuses_other_job);
	tcase_add_test(tc, test_resume_check_short_stream);
	tcase_add_test(tc, test_reader_error_passes_through);
	tcase_add_test(tc, test_task_over_limits_refused);
	suite_add_tcase(s, tc);
	return s;
}

TF_CHECK_MAIN(streamsrc_suite)
