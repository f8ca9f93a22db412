/*
 * Tests for the journal (journal.c): the header, GNU parallel's --joblog
 * column order, escaping that keeps one attempt on one line whatever its
 * command holds, buffering until a flush or the sync interval, and
 * refusing symbolic links and other things that are not plain files.
 */
#include "config.h"

#include "check_util.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "journal.h"
#include "taskfarm.h"
#include "util.h"

#define NCOLS 16

/* A result with every field set to something recognisable. */
static void sample_result(struct tf_result *r, uint64_t id, int status)
{
	tf_result_init(r);
	r->id = id;
	r->attempt = 2;
	r->rank = 4;
	r->slot = 1;
	r->status = status;
	r->exitval = 3;
	r->signal = 0;
	r->start = 1700000000.25;
	r->runtime = 1.5;
	r->maxrss_kb = 2048;
	r->utime = 0.5;
	r->stime = 0.25;
	ck_assert_int_eq(tf_output_append(&r->out, "abc", 3, 1024), 0);
	ck_assert_int_eq(tf_output_append(&r->err, "de", 2, 1024), 0);
}

static off_t file_size(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_size;
}

/*
 * Splits one line (without its newline) on tabs into at most max fields,
 * pointing into line, which is modified. Returns the number of fields,
 * which is max + 1 if there were more.
 */
static int split_tabs(char *line, char **fields, int max)
{
	int n = 0;
	char *p = line;

	for (;;) {
		char *tab = strchr(p, '\t');

		if (n == max)
			return max + 1;
		fields[n++] = p;
		if (!tab)
			return n;
		*tab = '\0';
		p = tab + 1;
	}
}

/* Counts the newlines in a buffer of len bytes. */
static int count_lines(const char *buf, size_t len)
{
	int n = 0;
	size_t i;

	for (i = 0; i < len; i++)
		n += buf[i] == '\n';
	return n;
}

/* ---- Opening ---- */

START_TEST(test_header_on_new_file)
{
	struct tf_journal j;
	const char *path = tmppath("j.tsv");
	struct stat st;
	char *data;
	size_t len;
	mode_t old_umask = umask(022);
	int ret;

	ret = tf_journal_open(&j, path, 10);
	umask(old_umask);
	ck_assert_int_eq(ret, 0);
	/* The header is there at once, before any flush, so even a run
	 * that dies early leaves a well-formed journal. */
	ck_assert_int_eq(file_size(path), (off_t)strlen(TF_JOURNAL_HEADER));
	ck_assert_int_eq(tf_journal_close(&j), 0);

	data = read_file(path, &len);
	ck_assert_uint_eq(len, strlen(TF_JOURNAL_HEADER));
	ck_assert_str_eq(data, TF_JOURNAL_HEADER);
	free(data);
	/* Readable by the monitoring scripts of other users. */
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0644);
}
END_TEST

START_TEST(test_header_columns)
{
	static const char *const names[NCOLS] = {
		"Seq",     "Host",   "Starttime", "JobRuntime", "Send",
		"Receive", "Exitval", "Signal",   "Command",    "Attempt",
		"Rank",    "Slot",   "Status",    "MaxRSS",     "UserCPU",
		"SysCPU"
	};
	char header[] = TF_JOURNAL_HEADER;
	char *fields[NCOLS + 1];
	int i;

	/* The first nine are GNU parallel's --joblog columns, in its
	 * order, so tools written for parallel can read the journal. */
	ck_assert_int_eq(header[strlen(header) - 1], '\n');
	header[strlen(header) - 1] = '\0';
	ck_assert_int_eq(split_tabs(header, fields, NCOLS), NCOLS);
	for (i = 0; i < NCOLS; i++)
		ck_assert_str_eq(fields[i], names[i]);
}
END_TEST

START_TEST(test_reopen_no_second_header)
{
	struct tf_journal j;
	struct tf_result r;
	const char *path = tmppath("j.tsv");
	char *data;
	size_t len;

	sample_result(&r, 1, TF_STATUS_OK);
	ck_assert_int_eq(tf_journal_open(&j, path, 10), 0);
	tf_journal_add(&j, &r, "h", "true", 4);
	ck_assert_int_eq(tf_journal_close(&j), 0);

	/* A resumed run appends to what is there, header and all. */
	ck_assert_int_eq(tf_journal_open(&j, path, 10), 0);
	tf_journal_add(&j, &r, "h", "false", 5);
	ck_assert_int_eq(tf_journal_close(&j), 0);

	data = read_file(path, &len);
	ck_assert_int_eq(count_lines(data, len), 3);
	ck_assert_int_eq(strncmp(data, TF_JOURNAL_HEADER,
				 strlen(TF_JOURNAL_HEADER)),
			 0);
	ck_assert_ptr_null(strstr(data + 1, "\nSeq\t"));
	ck_assert_ptr_nonnull(strstr(data, "\ttrue\t"));
	ck_assert_ptr_nonnull(strstr(data, "\tfalse\t"));
	/* The old line comes first: nothing was rewritten. */
	ck_assert(strstr(data, "\ttrue\t") < strstr(data, "\tfalse\t"));
	free(data);
	tf_result_release(&r);
}
END_TEST

START_TEST(test_open_empty_file_gets_header)
{
	struct tf_journal j;
	const char *path = write_file("j.tsv", "", 0);
	char *data;

	/* An empty existing file (say, made by touch or a crashed run
	 * that never got to write) is treated as new. */
	ck_assert_int_eq(tf_journal_open(&j, path, 10), 0);
	ck_assert_int_eq(tf_journal_close(&j), 0);
	data = read_file(path, NULL);
	ck_assert_str_eq(data, TF_JOURNAL_HEADER);
	free(data);
}
END_TEST

START_TEST(test_open_symlink_refused)
{
	struct tf_journal j;
	const char *target = write_file("precious", "keep me\n", 8);
	char link[4200], dangling[4200];
	char *data;

	snprintf(link, sizeof(link), "%s", tmppath("link.tsv"));
	ck_assert_int_eq(symlink(target, link), 0);
	/* Following a link could append to, or create, a file the user
	 * never named (a classic /tmp attack); refuse and touch nothing. */
	ck_assert_int_eq(tf_journal_open(&j, link, 10), -ELOOP);
	data = read_file(target, NULL);
	ck_assert_str_eq(data, "keep me\n");
	free(data);
	/* Nothing to release after a failure; close is still harmless. */
	ck_assert_int_eq(tf_journal_close(&j), 0);

	snprintf(dangling, sizeof(dangling), "%s", tmppath("dangling.tsv"));
	ck_assert_int_eq(symlink(tmppath("created"), dangling), 0);
	ck_assert_int_eq(tf_journal_open(&j, dangling, 10), -ELOOP);
	ck_assert_int_eq(access(tmppath("created"), F_OK), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(test_open_not_a_file)
{
	struct tf_journal j;
	const char *fifo = tmppath("fifo");
	int rd;

	/* A directory cannot be a journal. */
	ck_assert_int_lt(tf_journal_open(&j, tmpdir, 10), 0);

	/* Nor a device or a FIFO, even one that can be opened: lines must
	 * end up in a file a resumed run can read back. The FIFO has a
	 * reader, so opening it for writing does not block. */
	ck_assert_int_eq(tf_journal_open(&j, "/dev/null", 10), -EINVAL);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	rd = open(fifo, O_RDONLY | O_NONBLOCK);
	ck_assert_int_ge(rd, 0);
	ck_assert_int_eq(tf_journal_open(&j, fifo, 10), -EINVAL);
	ck_assert_int_eq(close(rd), 0);

	/* With no reader, opening must fail at once, not block for ever
	 * waiting for one (the test case's timeout would catch a hang). */
	ck_assert_int_eq(tf_journal_open(&j, fifo, 10), -ENXIO);

	/* A missing directory is an error, not a crash. */
	ck_assert_int_eq(tf_journal_open(&j, tmppath("no/such/dir.tsv"), 10),
			 -ENOENT);
}
END_TEST

/* ---- Lines ---- */

START_TEST(test_line_format)
{
	struct tf_journal j;
	struct tf_result r;
	const char *path = tmppath("j.tsv");
	char *data, *line, *fields[NCOLS + 1];
	size_t len;

	sample_result(&r, 12, TF_STATUS_FAILED);
	ck_assert_int_eq(tf_journal_open(&j, path, 10), 0);
	tf_journal_add(&j, &r, "node1", "echo hi", 7);
	ck_assert_int_eq(tf_journal_flush(&j, 0), 0);

	data = read_file(path, &len);
	line = data + strlen(TF_JOURNAL_HEADER);
	/* Exactly one line, in full. */
	ck_assert_str_eq(line, "12\tnode1\t1700000000.250\t1.500\t0\t5\t3\t0\t"
			       "echo hi\t2\t4\t1\tfailed\t2048\t0.500\t0.250\n");
	line[strlen(line) - 1] = '\0';
	ck_assert_int_eq(split_tabs(line, fields, NCOLS), NCOLS);
	/* Seq Host Starttime JobRuntime Send Receive Exitval Signal
	 * Command, as parallel writes them; Receive is both streams. */
	ck_assert_str_eq(fields[0], "12");
	ck_assert_str_eq(fields[1], "node1");
	ck_assert_str_eq(fields[2], "1700000000.250");
	ck_assert_str_eq(fields[3], "1.500");
	ck_assert_str_eq(fields[4], "0");
	ck_assert_str_eq(fields[5], "5");
	ck_assert_str_eq(fields[6], "3");
	ck_assert_str_eq(fields[7], "0");
	ck_assert_str_eq(fields[8], "echo hi");
	ck_assert_str_eq(fields[9], "2");
	ck_assert_str_eq(fields[10], "4");
	ck_assert_str_eq(fields[11], "1");
	ck_assert_str_eq(fields[12], "failed");
	ck_assert_uint_eq(j.lines, 1);
	free(data);
	ck_assert_int_eq(tf_journal_close(&j), 0);
	tf_result_release(&r);
}
END_TEST

START_TEST(test_line_signal)
{
	struct tf_journal j;
	struct tf_result r;
	const char *path = tmppath("j.tsv");
	char *data, *line, *fields[NCOLS + 1];

	/* A task killed by signal 9 shows 137 and 9, as parallel does. */
	sample_result(&r, 3, TF_STATUS_SIGNALED);
	r.exitval = 137;
	r.signal = 9;
	ck_assert_int_eq(tf_journal_open(&j, path, 10), 0);
	tf_journal_add(&j, &r, "h", "sleep 9", 7);
	ck_assert_int_eq(tf_journal_close(&j), 0);
	data = read_file(path, NULL);
	line = data + strlen(TF_JOURNAL_HEADER);
	line[strlen(line) - 1] = '\0';
	ck_assert_int_eq(split_tabs(line, fields, NCOLS), NCOLS);
	ck_assert_str_eq(fields[6], "137");
	ck_assert_str_eq(fields[7], "9");
	ck_assert_str_eq(fields[12], "signal");
	free(data);
	tf_result_release(&r);
}
END_TEST

START_TEST(test_status_names)
{
	static const struct {
		int status;
		const char *name;
	} cases[] = {
		{ TF_STATUS_OK, "ok" },
		{ TF_STATUS_FAILED, "failed" },
		{ TF_STATUS_SIGNALED, "signal" },
		{ TF_STATUS_TIMEOUT, "timeout" },
		{ TF_STATUS_INTERRUPTED, "interrupted" },
		{ TF_STATUS_SPAWN_FAILED, "spawn-failed" },
	};
	const size_t ncases = sizeof(cases) / sizeof(cases[0]);
	struct tf_journal j;
	struct tf_result r;
	const char *path = tmppath("j.tsv");
	char *data, *line, *save = NULL;
	size_t i;

	ck_assert_int_eq(tf_journal_open(&j, path, 10), 0);
	for (i = 0; i < ncases; i++) {
		sample_result(&r, i + 1, cases[i].status);
		tf_journal_add(&j, &r, "h", "x", 1);
		tf_result_release(&r);
	}
	ck_assert_int_eq(tf_journal_close(&j), 0);

	/* The Status column names the outcome in words a script can match
	 * on, one line per attempt, in the order they were added. */
	data = read_file(path, NULL);
	line = strtok_r(data, "\n", &save);
	ck_assert_ptr_nonnull(line);
	for (i = 0; i < ncases; i++) {
		char *fields[NCOLS + 1], seq[32];

		line = strtok_r(NULL, "\n", &save);
		ck_assert_ptr_nonnull(line);
		ck_assert_int_eq(split_tabs(line, fields, NCOLS), NCOLS);
		snprintf(seq, sizeof(seq), "%zu", i + 1);
		ck_assert_str_eq(fields[0], seq);
		ck_assert_str_eq(fields[12], cases[i].name);
		ck_assert_str_eq(fields[12], tf_status_name(cases[i].status));
	}
	ck_assert_ptr_null(strtok_r(NULL, "\n", &save));
	free(data);
}
END_TEST

/* ---- Escaping ---- */

START_TEST(test_hostile_command)
{
	static const char cmd[] = "a\tb\nc\rd\\e\0f\\t\\\\g\n";
	const size_t cmd_len = sizeof(cmd) - 1;
	struct tf_journal j;
	struct tf_result r;
	struct tf_strbuf sb = TF_STRBUF_INIT;
	const char *path = tmppath("j.tsv");
	char *data, *line, *fields[NCOLS + 1];
	size_t len, line_len;

	sample_result(&r, 1, TF_STATUS_OK);
	ck_assert_int_eq(tf_journal_open(&j, path, 10), 0);
	/* The host is escaped the same way. */
	tf_journal_add(&j, &r, "ho\tst", cmd, cmd_len);
	ck_assert_int_eq(tf_journal_close(&j), 0);

	data = read_file(path, &len);
	line = data + strlen(TF_JOURNAL_HEADER);
	line_len = len - strlen(TF_JOURNAL_HEADER);
	/* One line, however many newlines the command had, and no NUL or
	 * CR to trip up a reader. */
	ck_assert_int_eq(count_lines(line, line_len), 1);
	ck_assert_int_eq(line[line_len - 1], '\n');
	ck_assert_ptr_null(memchr(line, '\0', line_len));
	ck_assert_ptr_null(memchr(line, '\r', line_len));
	line[line_len - 1] = '\0';
	ck_assert_int_eq(split_tabs(line, fields, NCOLS), NCOLS);
	ck_assert_str_eq(fields[1], "ho\\tst");
	ck_assert_str_eq(fields[8], "a\\tb\\nc\\rd\\\\e\\0f\\\\t\\\\\\\\g\\n");
	ck_assert_str_eq(fields[12], "ok");

	/* And it reads back to exactly the bytes that were run. */
	ck_assert_int_eq(tf_journal_unescape(&sb, fields[8], strlen(fields[8])),
			 0);
	ck_assert_uint_eq(sb.len, cmd_len);
	ck_assert_int_eq(memcmp(sb.buf, cmd, cmd_len), 0);
	tf_strbuf_release(&sb);
	free(data);
	tf_result_release(&r);
}
END_TEST

START_TEST(test_escape_roundtrip_all_bytes)
{
	struct tf_strbuf esc = TF_STRBUF_INIT, back = TF_STRBUF_INIT;
	char all[512];
	size_t i;

	/* Every byte value, twice, so each can follow every special. */
	for (i = 0; i < sizeof(all); i++)
		all[i] = (char)(i * 7 % 256);
	tf_journal_escape(&esc, all, sizeof(all));
	for (i = 0; i < esc.len; i++) {
		ck_assert_int_ne(esc.buf[i], '\t');
		ck_assert_int_ne(esc.buf[i], '\n');
		ck_assert_int_ne(esc.buf[i], '\r');
		ck_assert_int_ne(esc.buf[i], '\0');
	}
	ck_assert_int_eq(tf_journal_unescape(&back, esc.buf, esc.len), 0);
	ck_assert_uint_eq(back.len, sizeof(all));
	ck_assert_int_eq(memcmp(back.buf, all, sizeof(all)), 0);

	/* An empty command stays empty. */
	tf_strbuf_reset(&esc);
	tf_strbuf_reset(&back);
	tf_journal_escape(&esc, "", 0);
	ck_assert_uint_eq(esc.len, 0);
	ck_assert_int_eq(tf_journal_unescape(&back, "", 0), 0);
	ck_assert_uint_eq(back.len, 0);
	tf_strbuf_release(&esc);
	tf_strbuf_release(&back);
}
END_TEST

START_TEST(test_unescape_rejects)
{
	static const char *const bad[] = { "abc\\", "\\", "\\x", "a\\tb\\q",
					   "\\N", "\\1" };
	struct tf_strbuf sb = TF_STRBUF_INIT;
	size_t i;

	/* A damaged journal must be noticed, not silently misread. */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tf_strbuf_reset(&sb);
		ck_assert_msg(tf_journal_unescape(&sb, bad[i], strlen(bad[i])) ==
				      TF_EPARSE,
			      "accepted \"%s\"", bad[i]);
	}
	/* The length is honoured: a backslash beyond it is not seen, and
	 * one cut off by it is a lone backslash. */
	tf_strbuf_reset(&sb);
	ck_assert_int_eq(tf_journal_unescape(&sb, "ab\\", 2), 0);
	ck_assert_uint_eq(sb.len, 2);
	tf_strbuf_reset(&sb);
	ck_assert_int_eq(tf_journal_unescape(&sb, "ab\\n", 3), TF_EPARSE);
	tf_strbuf_release(&sb);
}
END_TEST

/* ---- Buffering ---- */

START_TEST(test_buffered_until_flush)
{
	struct tf_journal j;
	struct tf_result r;
	const char *path = tmppath("j.tsv");
	off_t header = (off_t)strlen(TF_JOURNAL_HEADER), after_one;
	char *data;
	size_t len;

	sample_result(&r, 1, TF_STATUS_OK);
	ck_assert_int_eq(tf_journal_open(&j, path, 1000), 0);
	/* Lines wait in memory: a write per task would be a system call
	 * per task on a shared file system. */
	tf_journal_add(&j, &r, "h", "one", 3);
	tf_journal_add(&j, &r, "h", "two", 3);
	ck_assert_int_eq(file_size(path), header);
	ck_assert_int_eq(tf_journal_flush(&j, 0), 0);
	after_one = file_size(path);
	ck_assert_int_gt(after_one, header);
	/* A second flush with nothing new writes nothing. */
	ck_assert_int_eq(tf_journal_flush(&j, 1), 0);
	ck_assert_int_eq(file_size(path), after_one);

	tf_journal_add(&j, &r, "h", "three", 5);
	ck_assert_int_eq(file_size(path), after_one);
	/* Close writes the rest. */
	ck_assert_int_eq(tf_journal_close(&j), 0);
	ck_assert_int_gt(file_size(path), after_one);
	/* A second close is harmless. */
	ck_assert_int_eq(tf_journal_close(&j), 0);

	data = read_file(path, &len);
	ck_assert_int_eq(count_lines(data, len), 4);
	ck_assert_ptr_nonnull(strstr(data, "\tone\t"));
	ck_assert_ptr_nonnull(strstr(data, "\ttwo\t"));
	ck_assert_ptr_nonnull(strstr(data, "\tthree\t"));
	free(data);
	tf_result_release(&r);
}
END_TEST

START_TEST(test_tick_interval)
{
	struct tf_journal j;
	struct tf_result r;
	const char *path = tmppath("j.tsv");
	off_t header = (off_t)strlen(TF_JOURNAL_HEADER), size;
	double t0;

	sample_result(&r, 1, TF_STATUS_OK);
	ck_assert_int_eq(tf_journal_open(&j, path, 5), 0);
	t0 = j.last_sync;
	tf_journal_add(&j, &r, "h", "one", 3);

	/* The clock is passed in, so no real waiting: before the interval
	 * nothing is written... */
	ck_assert_int_eq(tf_journal_tick(&j, t0 + 1), 0);
	ck_assert_int_eq(tf_journal_tick(&j, t0 + 4.9), 0);
	ck_assert_int_eq(file_size(path), header);

	/* ...after it, the line is written (and synced). */
	ck_assert_int_eq(tf_journal_tick(&j, t0 + 5.1), 0);
	size = file_size(path);
	ck_assert_int_gt(size, header);

	/* The interval restarts from that sync. */
	tf_journal_add(&j, &r, "h", "two", 3);
	ck_assert_int_eq(tf_journal_tick(&j, j.last_sync + 1), 0);
	ck_assert_int_eq(file_size(path), size);
	ck_assert_int_eq(tf_journal_tick(&j, j.last_sync + 6), 0);
	ck_assert_int_gt(file_size(path), size);

	ck_assert_int_eq(tf_journal_close(&j), 0);
	tf_result_release(&r);
}
END_TEST

START_TEST(test_many_lines)
{
	struct tf_journal j;
	struct tf_result r;
	const char *path = tmppath("j.tsv");
	char *data, *line, *save = NULL;
	size_t len;
	uint64_t id;

	/* Enough lines to grow the pending buffer many times over; each
	 * comes out once, whole, in order. */
	ck_assert_int_eq(tf_journal_open(&j, path, 10), 0);
	for (id = 1; id <= 5000; id++) {
		char cmd[64];
		int n = snprintf(cmd, sizeof(cmd), "run\t%llu",
				 (unsigned long long)id);

		sample_result(&r, id, TF_STATUS_OK);
		tf_journal_add(&j, &r, "h", cmd, (size_t)n);
		tf_result_release(&r);
		if (id % 1000 == 0)
			ck_assert_int_eq(tf_journal_flush(&j, 0), 0);
	}
	ck_assert_int_eq(tf_journal_close(&j), 0);

	data = read_file(path, &len);
	ck_assert_int_eq(count_lines(data, len), 5001);
	line = strtok_r(data, "\n", &save);
	for (id = 1; id <= 5000; id++) {
		char *fields[NCOLS + 1], want[64];

		line = strtok_r(NULL, "\n", &save);
		ck_assert_ptr_nonnull(line);
		if (split_tabs(line, fields, NCOLS) != NCOLS)
			ck_abort_msg("line %llu is broken",
				     (unsigned long long)id);
		snprintf(want, sizeof(want), "run\\t%llu",
			 (unsigned long long)id);
		if (strtoull(fields[0], NULL, 10) != id ||
		    strcmp(fields[8], want) != 0)
			ck_abort_msg("line %llu holds %s / %s",
				     (unsigned long long)id, fields[0],
				     fields[8]);
	}
	free(data);
}
END_TEST

static Suite *journal_suite(void)
{
	Suite *s = suite_create("journal");
	TCase *tc;

	tc = tcase_create("open");
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_header_on_new_file);
	tcase_add_test(tc, test_header_columns);
	tcase_add_test(tc, test_reopen_no_second_header);
	tcase_add_test(tc, test_open_empty_file_gets_header);
	tcase_add_test(tc, test_open_symlink_refused);
	tcase_add_test(tc, test_open_not_a_file);
	suite_add_tcase(s, tc);

	tc = tcase_create("lines");
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_line_format);
	tcase_add_test(tc, test_line_signal);
	tcase_add_test(tc, test_status_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("escape");
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_hostile_command);
	tcase_add_test(tc, test_escape_roundtrip_all_bytes);
	tcase_add_test(tc, test_unescape_rejects);
	suite_add_tcase(s, tc);

	tc = tcase_create("buffering");
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_buffered_until_flush);
	tcase_add_test(tc, test_tick_interval);
	tcase_add_test(tc, test_many_lines);
	suite_add_tcase(s, tc);

	return s;
}

TF_CHECK_MAIN(journal_suite)
