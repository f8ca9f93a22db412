/*
 * Tests for the journal (journal.c): the header, GNU parallel's --joblog
 * column order, escaping that keeps one attempt on one line whatever its
 * command holds, buffering until a flush or the sync interval, whole lines
 * only when a write falls short (a real short write, through
 * RLIMIT_FSIZE), replay into the compact history, the .meta file and its
 * lock, and refusing symbolic links, things that are not plain files and
 * other users' files.
 */
#include "config.h"

#include "check_util.h"

#include <fcntl.h>
#include <stdint.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "farm/journal.h"
#include "taskfarm.h"
#include "core/util.h"

#define NCOLS 17

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
		"SysCPU",  "JobId"
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
	ck_assert_int_eq(unsetenv("SLURM_JOB_ID"), 0);
	ck_assert_int_eq(tf_journal_open(&j, path, 10), 0);
	tf_journal_add(&j, &r, "node1", "echo hi", 7);
	ck_assert_int_eq(tf_journal_flush(&j, 0), 0);

	data = read_file(path, &len);
	line = data + strlen(TF_JOURNAL_HEADER);
	/* Exactly one line, in full; outside Slurm, JobId is "-". */
	ck_assert_str_eq(line, "12\tnode1\t1700000000.250\t1.500\t0\t5\t3\t0\t"
			       "echo hi\t2\t4\t1\tfailed\t2048\t0.500\t0.250\t"
			       "-\n");
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
		{ TF_STATUS_LOST, "lost" },
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

/* JobId: the Slurm job of the run, escaped like any text column. */
static char *journal_line_with_jobid(const char *jobid)
{
	struct tf_journal j;
	struct tf_result r;
	const char *path = tmppath("jid.tsv");
	char *data, *line, *fields[NCOLS + 1], *val;

	unlink(path);
	if (jobid)
		ck_assert_int_eq(setenv("SLURM_JOB_ID", jobid, 1), 0);
	else
		ck_assert_int_eq(unsetenv("SLURM_JOB_ID"), 0);
	sample_result(&r, 3, TF_STATUS_OK);
	ck_assert_int_eq(tf_journal_open(&j, path, 10), 0);
	/* The variable is read once, when the journal is opened. */
	ck_assert_int_eq(setenv("SLURM_JOB_ID", "changed-later", 1), 0);
	tf_journal_add(&j, &r, "node1", "true", 4);
	ck_assert_int_eq(tf_journal_close(&j), 0);
	tf_result_release(&r);
	data = read_file(path, NULL);
	line = data + strlen(TF_JOURNAL_HEADER);
	line[strlen(line) - 1] = '\0';
	ck_assert_int_eq(split_tabs(line, fields, NCOLS), NCOLS);
	val = strdup(fields[16]);
	ck_assert_ptr_nonnull(val);
	free(data);
	ck_assert_int_eq(unsetenv("SLURM_JOB_ID"), 0);
	return val;
}

START_TEST(test_line_jobid)
{
	static const struct {
		const char *env, *col;
	} cases[] = {
		{ "4242", "4242" },
		{ "123_7", "123_7" }, /* whatever Slurm puts there */
		{ NULL, "-" },        /* not under Slurm */
		{ "", "-" },
		{ "a\tb\\c", "a\\tb\\\\c" }, /* cannot break the line */
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *col = journal_line_with_jobid(cases[i].env);
		int same = strcmp(col, cases[i].col) == 0;
		char got[64];

		snprintf(got, sizeof(got), "%s", col);
		free(col);
		ck_assert_msg(same, "SLURM_JOB_ID '%s': JobId '%s', want '%s'",
			      cases[i].env ? cases[i].env : "(unset)", got,
			      cases[i].col);
	}
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

/* Sets this process's file size limit (RLIMIT_FSIZE): past it, a write
 * is cut short and then fails with EFBIG, as on a full disk. */
static void limit_file_size(rlim_t bytes)
{
	struct rlimit rl;

	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &rl), 0);
	rl.rlim_cur = bytes;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

static void unlimit_file_size(void)
{
	struct rlimit rl;

	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &rl), 0);
	rl.rlim_cur = rl.rlim_max;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

START_TEST(test_flush_short_write)
{
	static const char *const cmds[] = { "first", "second", "third",
					    "fourth" };
	struct tf_journal j;
	struct tf_result r;
	struct tf_history h;
	const char *path = tmppath("j.tsv");
	off_t header = (off_t)strlen(TF_JOURNAL_HEADER);
	size_t line1, len, i;
	char err[1024], *data;
	off_t size[2];
	uint64_t pending[2];
	int ret[2];

	ck_assert(signal(SIGXFSZ, SIG_IGN) != SIG_ERR);
	ck_assert_int_eq(tf_journal_open(&j, path, 1000), 0);
	for (i = 0; i < 4; i++) {
		sample_result(&r, i + 1, TF_STATUS_OK);
		tf_journal_add(&j, &r, "h", cmds[i], strlen(cmds[i]));
		tf_result_release(&r);
	}
	ck_assert_uint_eq(tf_journal_pending(&j), 4);
	line1 = (size_t)(strchr(j.pending.buf, '\n') - j.pending.buf) + 1;

	/* Room for a line and a half: the write stops in the second line,
	 * which must not stay in the file. (Check is told only once the
	 * limit is gone: it writes its verdict to a file too.) */
	limit_file_size((rlim_t)header + line1 + line1 / 2);
	ret[0] = tf_journal_flush(&j, 0);
	size[0] = file_size(path);
	pending[0] = tf_journal_pending(&j);
	/* Still full: nothing more, and still no part of a line. */
	ret[1] = tf_journal_flush(&j, 1);
	size[1] = file_size(path);
	pending[1] = tf_journal_pending(&j);
	unlimit_file_size();
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(ret[i], -EFBIG);
		ck_assert_int_eq(size[i], header + (off_t)line1);
		ck_assert_uint_eq(pending[i], 3);
	}

	/* Room again: the rest is written once, whole. */
	ck_assert_int_eq(tf_journal_flush(&j, 1), 0);
	ck_assert_uint_eq(tf_journal_pending(&j), 0);
	ck_assert_int_eq(tf_journal_close(&j), 0);
	ck_assert_uint_eq(tf_journal_unwritten(&j), 0);
	ck_assert(signal(SIGXFSZ, SIG_DFL) != SIG_ERR);

	data = read_file(path, &len);
	ck_assert_int_eq(count_lines(data, len), 5);
	ck_assert_int_eq(data[len - 1], '\n');
	for (i = 0; i < 4; i++) {
		char want[32];
		const char *at;

		snprintf(want, sizeof(want), "\t%s\t", cmds[i]);
		at = strstr(data, want);
		ck_assert_msg(at != NULL, "%s is missing", cmds[i]);
		ck_assert_msg(strstr(at + 1, want) == NULL,
			      "%s is there twice", cmds[i]);
	}
	free(data);
	/* And --resume takes it. */
	ck_assert_int_eq(tf_history_load(&h, path, err, sizeof(err)), 0);
	ck_assert_uint_eq(h.lines, 4);
	ck_assert_uint_eq(h.n, 4);
	ck_assert_int_eq(h.torn, 0);
	tf_history_release(&h);
}
END_TEST

START_TEST(test_close_counts_unwritten)
{
	struct tf_journal j;
	struct tf_result r;
	const char *path = tmppath("j.tsv");
	off_t header = (off_t)strlen(TF_JOURNAL_HEADER);
	char *data;
	size_t len;
	int ret;

	ck_assert(signal(SIGXFSZ, SIG_IGN) != SIG_ERR);
	ck_assert_int_eq(tf_journal_open(&j, path, 1000), 0);
	sample_result(&r, 1, TF_STATUS_OK);
	tf_journal_add(&j, &r, "h", "one", 3);
	tf_journal_add(&j, &r, "h", "two", 3);
	tf_result_release(&r);
	/* A disk that stays full: both lines are lost, and said to be. */
	limit_file_size((rlim_t)header + 10);
	ret = tf_journal_close(&j);
	unlimit_file_size();
	ck_assert_int_eq(ret, -EFBIG);
	ck_assert_uint_eq(tf_journal_unwritten(&j), 2);
	ck_assert(signal(SIGXFSZ, SIG_DFL) != SIG_ERR);
	data = read_file(path, &len);
	ck_assert_uint_eq(len, (size_t)header);
	free(data);

	/* Written in full, nothing is counted. */
	ck_assert_int_eq(tf_journal_open(&j, path, 1000), 0);
	sample_result(&r, 2, TF_STATUS_OK);
	tf_journal_add(&j, &r, "h", "three", 5);
	tf_result_release(&r);
	ck_assert_int_eq(tf_journal_close(&j), 0);
	ck_assert_uint_eq(tf_journal_unwritten(&j), 0);
}
END_TEST

/* ---- Replay (--resume) ---- */

/* One attempt as the master journals it. */
struct attempt {
	uint64_t id;
	uint32_t attempt;
	int status;
	const char *cmd;
};

static void add_attempt(struct tf_journal *j, const struct attempt *a)
{
	struct tf_result r;

	sample_result(&r, a->id, a->status);
	r.attempt = a->attempt;
	r.exitval = a->status == TF_STATUS_OK ? 0 : 1;
	tf_journal_add(j, &r, "node1", a->cmd, strlen(a->cmd));
	tf_result_release(&r);
}

/* Writes a journal of n attempts at path, through the real writer. */
static void write_journal(const char *path, const struct attempt *a, size_t n)
{
	struct tf_journal j;
	size_t i;

	ck_assert_int_eq(tf_journal_open(&j, path, 10), 0);
	for (i = 0; i < n; i++)
		add_attempt(&j, &a[i]);
	ck_assert_int_eq(tf_journal_close(&j), 0);
}

static uint64_t cmd_hash(const char *cmd, size_t len)
{
	return tf_hash(TF_HASH_INIT, cmd, len);
}

/* Checks what the history says of id. */
static void check_hist(struct tf_history *h, uint64_t id, int state,
		       uint32_t attempts, const char *cmd, size_t cmd_len)
{
	const struct tf_history_entry *e = tf_history_find(h, id);

	ck_assert_msg(e != NULL, "no history for task %llu",
		      (unsigned long long)id);
	ck_assert_msg(e->id == id && e->state == state &&
			      e->attempts == attempts &&
			      e->cmd_hash == cmd_hash(cmd, cmd_len),
		      "task %llu: id %llu state %d attempts %u hash %s; want "
		      "state %d attempts %u hash of \"%s\"",
		      (unsigned long long)id, (unsigned long long)e->id,
		      e->state, e->attempts,
		      e->cmd_hash == cmd_hash(cmd, cmd_len) ? "right" : "wrong",
		      state, attempts, cmd);
}

/* Checks that h is empty, as after a failed or trivial load. */
static void check_hist_empty(struct tf_history *h)
{
	uint64_t id;

	ck_assert_uint_eq(h->n, 0);
	ck_assert_uint_eq(h->lines, 0);
	for (id = 0; id < 20; id++)
		ck_assert_ptr_null(tf_history_find(h, id));
}

/* Where line lineno (1-based; the header is line 1) of data starts, and
 * its length without the newline. */
static void line_span(const char *data, int lineno, size_t *start,
		      size_t *len)
{
	const char *p = data, *nl;

	while (--lineno > 0) {
		p = strchr(p, '\n');
		ck_assert_ptr_nonnull(p);
		p++;
	}
	nl = strchr(p, '\n');
	ck_assert_ptr_nonnull(nl);
	*start = (size_t)(p - data);
	*len = (size_t)(nl - p);
}

/* data with line lineno replaced by repl (given without a newline);
 * malloc'd. */
static char *replace_line(const char *data, int lineno, const char *repl)
{
	size_t start, len, total = strlen(data);
	char *out;

	line_span(data, lineno, &start, &len);
	out = malloc(total - len + strlen(repl) + 1);
	ck_assert_ptr_nonnull(out);
	memcpy(out, data, start);
	strcpy(out + start, repl);
	strcat(out, data + start + len);
	return out;
}

/* Line lineno of data (without its newline) with its field-th column
 * (0-based) set to val; val NULL drops that column, field NCOLS adds
 * one. malloc'd. */
static char *edit_field(const char *data, int lineno, int field,
			const char *val)
{
	char *fields[NCOLS + 1], *line, *out;
	size_t start, len, cap;
	int n, i, first;

	line_span(data, lineno, &start, &len);
	line = strndup(data + start, len);
	ck_assert_ptr_nonnull(line);
	ck_assert_int_eq(split_tabs(line, fields, NCOLS), NCOLS);
	cap = len + (val ? strlen(val) : 0) + 2;
	out = calloc(1, cap);
	ck_assert_ptr_nonnull(out);
	if (field == NCOLS)
		fields[NCOLS] = (char *)val;
	n = field == NCOLS ? NCOLS + 1 : NCOLS;
	for (i = 0, first = 1; i < n; i++) {
		const char *f = i == field ? val : fields[i];

		if (!f)
			continue;
		if (!first)
			strcat(out, "\t");
		strcat(out, f);
		first = 0;
	}
	free(line);
	return out;
}

START_TEST(test_replay_states)
{
	static const char weird[] = "printf '%s\\n' a\tb\nc";
	const struct attempt a[] = {
		{ 1, 1, TF_STATUS_OK, "echo one" },
		{ 2, 1, TF_STATUS_FAILED, "false" },
		{ 3, 1, TF_STATUS_INTERRUPTED, "sleep 100" },
		{ 2, 2, TF_STATUS_TIMEOUT, "false" },
		{ 4, 1, TF_STATUS_FAILED, "flaky" },
		{ 2, 3, TF_STATUS_SIGNALED, "false" },
		{ 4, 2, TF_STATUS_SIGNALED, "flaky" },
		{ 5, 1, TF_STATUS_OK, "done once" },
		{ 4, 3, TF_STATUS_OK, "flaky" },
		{ 5, 2, TF_STATUS_FAILED, "done once" },
		{ 6, 1, TF_STATUS_FAILED, "drained" },
		{ 6, 2, TF_STATUS_INTERRUPTED, "drained" },
		{ 7, 1, TF_STATUS_INTERRUPTED, "retried" },
		{ 7, 2, TF_STATUS_FAILED, "retried" },
		{ 8, 1, TF_STATUS_SPAWN_FAILED, "/no/such" },
		{ 9, 3, TF_STATUS_FAILED, "out of order" },
		{ 9, 2, TF_STATUS_FAILED, "out of order" },
		{ 10, 1, TF_STATUS_OK, weird },
		{ 1ull << 40, 7, TF_STATUS_OK, "big id" },
		{ 13, 1, TF_STATUS_FAILED, "lost after a failure" },
		{ 13, 2, TF_STATUS_LOST, "lost after a failure" },
		{ 14, 1, TF_STATUS_LOST, "lost, then ok" },
		{ 14, 2, TF_STATUS_OK, "lost, then ok" },
	};
	const size_t n = sizeof(a) / sizeof(a[0]);
	const char *path = tmppath("j.tsv");
	struct tf_history h;
	char err[512] = "";

	write_journal(path, a, n);
	ck_assert_int_eq(tf_history_load(&h, path, err, sizeof(err)), 0);
	ck_assert_uint_eq(h.lines, n);
	ck_assert_uint_eq(h.n, 13);
	ck_assert_int_eq(h.torn, 0);
	ck_assert_uint_eq(h.valid_len, (uint64_t)file_size(path));

	check_hist(&h, 1, TF_HIST_OK, 1, "echo one", 8);
	/* Failed three ways: the last attempt decides, and any failure
	 * (timeout, signal) is FAILED. */
	check_hist(&h, 2, TF_HIST_FAILED, 3, "false", 5);
	check_hist(&h, 3, TF_HIST_INTERRUPTED, 1, "sleep 100", 9);
	/* A later success wins over earlier failures... */
	check_hist(&h, 4, TF_HIST_OK, 3, "flaky", 5);
	/* ...and a success is not undone by a failure after it. */
	check_hist(&h, 5, TF_HIST_OK, 2, "done once", 9);
	/* Otherwise the last attempt says how it stands. */
	check_hist(&h, 6, TF_HIST_INTERRUPTED, 2, "drained", 7);
	check_hist(&h, 7, TF_HIST_FAILED, 2, "retried", 7);
	check_hist(&h, 8, TF_HIST_FAILED, 1, "/no/such", 8);
	/* The highest attempt, not the last one read. */
	check_hist(&h, 9, TF_HIST_FAILED, 3, "out of order", 12);
	/* The hash is of the command as run, not as escaped. */
	check_hist(&h, 10, TF_HIST_OK, 1, weird, strlen(weird));
	check_hist(&h, 1ull << 40, TF_HIST_OK, 7, "big id", 6);
	/* Lost with its rank: says nothing of the task, so --resume runs
	 * it again, as an interrupted one, whatever came before. */
	check_hist(&h, 13, TF_HIST_INTERRUPTED, 2, "lost after a failure", 20);
	check_hist(&h, 14, TF_HIST_OK, 2, "lost, then ok", 13);
	/* Tasks never journaled have no history. */
	ck_assert_ptr_null(tf_history_find(&h, 0));
	ck_assert_ptr_null(tf_history_find(&h, 11));
	ck_assert_ptr_null(tf_history_find(&h, 1ull << 41));
	tf_history_release(&h);
	ck_assert_ptr_null(h.tab);
	ck_assert_ptr_null(tf_history_find(&h, 1));
}
END_TEST

START_TEST(test_replay_nul_in_command)
{
	static const char cmd[] = "a\0b";
	struct tf_journal j;
	struct tf_result r;
	struct tf_history h;
	const char *path = tmppath("j.tsv");
	char err[512] = "";

	/* A NUL in a command is journaled as \0 and hashed as one byte,
	 * so "a\0b" and "a" are different commands. */
	sample_result(&r, 1, TF_STATUS_OK);
	r.attempt = 1;
	ck_assert_int_eq(tf_journal_open(&j, path, 10), 0);
	tf_journal_add(&j, &r, "h", cmd, 3);
	ck_assert_int_eq(tf_journal_close(&j), 0);
	tf_result_release(&r);
	ck_assert_int_eq(tf_history_load(&h, path, err, sizeof(err)), 0);
	check_hist(&h, 1, TF_HIST_OK, 1, cmd, 3);
	ck_assert_uint_ne(tf_history_find(&h, 1)->cmd_hash, cmd_hash("a", 1));
	tf_history_release(&h);
}
END_TEST

START_TEST(test_replay_sparse_ids)
{
	struct tf_journal j;
	struct tf_history h;
	struct attempt a = { 0, 1, TF_STATUS_OK, "echo" };
	const char *path = tmppath("j.tsv");
	char err[1024];
	uint64_t id;

	/* Dense ids, as a job file's line numbers are, and two far off:
	 * those must not make the id-indexed array grow to reach them. */
	ck_assert_int_eq(tf_journal_open(&j, path, 10), 0);
	for (id = 1; id <= 3000; id++) {
		a.id = id;
		add_attempt(&j, &a);
	}
	a.id = 1ull << 40;
	a.attempt = 7;
	add_attempt(&j, &a);
	a.id = 5000000;
	a.attempt = 3;
	a.status = TF_STATUS_FAILED;
	add_attempt(&j, &a);
	/* An earlier id again, after them: found where it was (still ok,
	 * as one attempt succeeded). */
	a.id = 17;
	a.attempt = 2;
	add_attempt(&j, &a);
	ck_assert_int_eq(tf_journal_close(&j), 0);

	ck_assert_int_eq(tf_history_load(&h, path, err, sizeof(err)), 0);
	ck_assert_uint_eq(h.lines, 3003);
	ck_assert_uint_eq(h.n, 3002);
	ck_assert_uint_eq(h.ntab, 2);
	ck_assert_uint_le(h.dense_len, 3001);
	for (id = 1; id <= 3000; id++)
		check_hist(&h, id, TF_HIST_OK, id == 17 ? 2 : 1, "echo", 4);
	check_hist(&h, 1ull << 40, TF_HIST_OK, 7, "echo", 4);
	check_hist(&h, 5000000, TF_HIST_FAILED, 3, "echo", 4);
	ck_assert_ptr_null(tf_history_find(&h, 3001));
	ck_assert_ptr_null(tf_history_find(&h, 4999999));
	/* The highest attempt, and the line that holds it. */
	ck_assert_uint_eq(h.max_attempts, 7);
	ck_assert_uint_eq(h.max_attempts_line, 3002);
	tf_history_release(&h);
}
END_TEST

START_TEST(test_replay_changed_command)
{
	const struct attempt a[] = {
		/* Task 1 succeeded, then its line changed and the new
		 * command failed: it must run again. */
		{ 1, 1, TF_STATUS_FAILED, "v1" },
		{ 1, 2, TF_STATUS_OK, "v1" },
		{ 1, 3, TF_STATUS_FAILED, "v2" },
		/* Task 2 failed, changed, and the new one succeeded. */
		{ 2, 1, TF_STATUS_FAILED, "old" },
		{ 2, 2, TF_STATUS_OK, "new" },
		/* Task 3 changed and changed back: the history is that of
		 * the last command only. */
		{ 3, 1, TF_STATUS_OK, "x" },
		{ 3, 2, TF_STATUS_FAILED, "y" },
		{ 3, 3, TF_STATUS_INTERRUPTED, "x" },
	};
	const char *path = tmppath("j.tsv");
	struct tf_history h;
	char err[512] = "";

	write_journal(path, a, sizeof(a) / sizeof(a[0]));
	ck_assert_int_eq(tf_history_load(&h, path, err, sizeof(err)), 0);
	ck_assert_uint_eq(h.n, 3);
	/* The attempt count keeps growing across a change (run.c numbers
	 * new attempts after the journal's, so numbers stay unique). */
	check_hist(&h, 1, TF_HIST_FAILED, 3, "v2", 2);
	check_hist(&h, 2, TF_HIST_OK, 2, "new", 3);
	check_hist(&h, 3, TF_HIST_INTERRUPTED, 3, "x", 1);
	tf_history_release(&h);
}
END_TEST

START_TEST(test_replay_missing_and_empty)
{
	struct tf_history h;
	char err[512] = "";

	/* No journal yet: nothing done, not an error. */
	memset(&h, 0x5a, sizeof(h));
	ck_assert_int_eq(tf_history_load(&h, tmppath("none.tsv"), err,
					 sizeof(err)),
			 0);
	check_hist_empty(&h);
	ck_assert_int_eq(h.torn, 0);
	ck_assert_uint_eq(h.valid_len, 0);
	tf_history_release(&h);

	/* An empty file is the same. */
	memset(&h, 0x5a, sizeof(h));
	ck_assert_int_eq(tf_history_load(&h, write_file("e.tsv", "", 0), err,
					 sizeof(err)),
			 0);
	check_hist_empty(&h);
	ck_assert_int_eq(h.torn, 0);
	ck_assert_uint_eq(h.valid_len, 0);
	tf_history_release(&h);

	/* A header and nothing else. */
	ck_assert_int_eq(tf_history_load(&h,
					 write_file("hdr.tsv", TF_JOURNAL_HEADER,
						    strlen(TF_JOURNAL_HEADER)),
					 err, sizeof(err)),
			 0);
	check_hist_empty(&h);
	ck_assert_int_eq(h.torn, 0);
	ck_assert_uint_eq(h.valid_len, strlen(TF_JOURNAL_HEADER));
	tf_history_release(&h);
}
END_TEST

START_TEST(test_replay_torn_last_line)
{
	const struct attempt a[] = {
		{ 1, 1, TF_STATUS_FAILED, "one" },
		{ 2, 1, TF_STATUS_OK, "two" },
		/* The last line, which a kill cuts short: */
		{ 1, 2, TF_STATUS_OK, "one" },
	};
	struct tf_history h;
	char path[4200], path2[4200], err[512] = "", *data;
	size_t len, start, llen, cuts[4], c;

	/* (tmppath() reuses its buffers: keep copies.) */
	snprintf(path, sizeof(path), "%s", tmppath("full.tsv"));
	snprintf(path2, sizeof(path2), "%s", tmppath("two.tsv"));
	write_journal(path, a, 3);
	data = read_file(path, &len);
	line_span(data, 4, &start, &llen);
	ck_assert_uint_eq(start + llen + 1, len);
	/* Cut one byte in, in the middle, just before the Status column
	 * ends, and just before the newline. */
	cuts[0] = start + 1;
	cuts[1] = start + llen / 2;
	cuts[2] = start + (size_t)(strstr(data + start, "\tok\t") + 3 -
				   (data + start));
	cuts[3] = start + llen;
	for (c = 0; c < 4; c++) {
		const char *torn = write_file("torn.tsv", data, cuts[c]);

		ck_assert_int_eq(tf_history_load(&h, torn, err, sizeof(err)), 0);
		ck_assert_msg(h.torn == 1, "cut at %zu not seen as torn",
			      cuts[c]);
		ck_assert_uint_eq(h.valid_len, start);
		ck_assert_uint_eq(h.lines, 2);
		ck_assert_uint_eq(h.n, 2);
		/* The cut line's success does not count: task 1 stays
		 * failed, at its first attempt. */
		check_hist(&h, 1, TF_HIST_FAILED, 1, "one", 3);
		check_hist(&h, 2, TF_HIST_OK, 1, "two", 3);
		tf_history_release(&h);
	}
	free(data);

	/* A torn line about a task seen nowhere else adds no entry. */
	write_journal(path2, a, 2);
	data = read_file(path2, &len);
	{
		char *more = malloc(len + 32);

		ck_assert_ptr_nonnull(more);
		memcpy(more, data, len);
		memcpy(more + len, "3\tnode1\t1700000000.2", 20);
		ck_assert_int_eq(
			tf_history_load(&h, write_file("t2.tsv", more, len + 20),
					err, sizeof(err)),
			0);
		free(more);
	}
	ck_assert_int_eq(h.torn, 1);
	ck_assert_uint_eq(h.valid_len, len);
	ck_assert_uint_eq(h.lines, 2);
	ck_assert_ptr_null(tf_history_find(&h, 3));
	tf_history_release(&h);
	free(data);

	/* A header cut short is torn too, with nothing valid. */
	ck_assert_int_eq(tf_history_load(&h,
					 write_file("t3.tsv", TF_JOURNAL_HEADER,
						    10),
					 err, sizeof(err)),
			 0);
	ck_assert_int_eq(h.torn, 1);
	ck_assert_uint_eq(h.valid_len, 0);
	check_hist_empty(&h);
	tf_history_release(&h);
}
END_TEST

/*
 * Loads path, which must fail with TF_EPARSE naming line lineno of it
 * with a message that contains what. Returns NULL if so, else what is
 * wrong (a static string), so that callers free their buffers before
 * failing: with CK_FORK=no a failed assertion leaks whatever is still
 * held, and valgrind would then blame the next child process too.
 */
static const char *damaged_problem(const char *path, int lineno,
				   const char *what, const char *label)
{
	static char problem[8192];
	struct tf_history h;
	char err[1024] = "", prefix[4200];
	int ret;

	memset(&h, 0x5a, sizeof(h));
	ret = tf_history_load(&h, path, err, sizeof(err));
	if (ret != TF_EPARSE) {
		if (ret == 0)
			tf_history_release(&h);
		snprintf(problem, sizeof(problem),
			 "%s: load returned %d, want TF_EPARSE", label, ret);
		return problem;
	}
	snprintf(prefix, sizeof(prefix), "%s:%d: damaged journal line: ", path,
		 lineno);
	if (strncmp(err, prefix, strlen(prefix)) != 0 ||
	    !strstr(err + strlen(prefix), what)) {
		snprintf(problem, sizeof(problem),
			 "%s: error \"%s\", want \"%s...%s...\"", label, err,
			 prefix, what);
		return problem;
	}
	/* Nothing half-loaded is left behind. */
	if (h.tab || h.n || h.lines || tf_history_find(&h, 1)) {
		snprintf(problem, sizeof(problem),
			 "%s: the failed load left a history behind", label);
		return problem;
	}
	return NULL;
}

START_TEST(test_replay_damaged_line)
{
	const struct attempt a[] = {
		{ 1, 1, TF_STATUS_OK, "one" },
		{ 2, 1, TF_STATUS_FAILED, "two" },
		{ 3, 1, TF_STATUS_OK, "three" },
		{ 4, 1, TF_STATUS_OK, "four" },
	};
	static const struct {
		int field;       /* -1: replace the whole line by val */
		const char *val; /* NULL: drop the column */
		const char *what;
	} damage[] = {
		{ 16, NULL, "fields" },           /* 16: no JobId */
		{ 0, NULL, "fields" },            /* 16, the first gone */
		{ 15, NULL, "fields" },           /* 16, SysCPU gone */
		{ NCOLS, "extra", "fields" },     /* 18 columns */
		{ 16, "", "JobId" },
		{ 16, "job\\q", "JobId" },
		{ 16, "ends in \\", "JobId" },
		{ -1, "", "fields" },             /* an empty line */
		{ -1, "garbage", "fields" },
		{ 0, "x12", "Seq" },
		{ 0, "", "Seq" },
		{ 0, "-2", "Seq" },
		{ 0, "1 ", "Seq" },
		{ 0, "123456789012345678901", "Seq" },
		{ 12, "bogus", "Status" },
		{ 12, "OK", "Status" },
		{ 12, "", "Status" },
		{ 12, "not-started", "Status" },
		{ 12, "unknown", "Status" },
		{ 12, "interrupted-and-then-some-more-text", "Status" },
		{ 8, "echo \\q", "Command" },
		{ 8, "ends in \\", "Command" },
		{ 9, "0", "Attempt" },
		{ 9, "x", "Attempt" },
		{ 9, "4294967296", "Attempt" },
	};
	const char *path = tmppath("good.tsv");
	char *data, label[128];
	size_t i;
	int lineno;

	write_journal(path, a, 4);
	data = read_file(path, NULL);
	for (i = 0; i < sizeof(damage) / sizeof(damage[0]); i++) {
		char *line = damage[i].field < 0
				     ? strdup(damage[i].val)
				     : edit_field(data, 3, damage[i].field,
						  damage[i].val);
		/* In the middle (line 3 of 5, the header being line 1),
		 * the first record, and the last (whole, newline and all:
		 * only a line without its newline counts as torn). */
		static const int where[] = { 3, 2, 5 };
		const char *problem;
		size_t w;

		ck_assert_ptr_nonnull(line);
		for (w = 0; w < 3; w++) {
			char *bad = replace_line(data, where[w], line);

			lineno = where[w];
			snprintf(label, sizeof(label),
				 "damage %zu (\"%s\") at line %d", i,
				 damage[i].val ? damage[i].val : "(dropped)",
				 lineno);
			problem = damaged_problem(
				write_file("bad.tsv", bad, strlen(bad)), lineno,
				damage[i].what, label);
			free(bad);
			if (problem) {
				free(line);
				free(data);
				ck_abort_msg("%s", problem);
			}
		}
		free(line);
	}
	free(data);
}
END_TEST

START_TEST(test_replay_seq_overflow)
{
	static const char *const bad[] = {
		"18446744073709551616", /* 2^64, which wraps to 0 */
		"99999999999999999999", /* wraps to 7766279631452241919 */
	};
	const struct attempt a[] = {
		{ 1, 1, TF_STATUS_OK, "one" },
		{ 2, 1, TF_STATUS_FAILED, "two" },
	};
	const char *path = tmppath("good.tsv");
	struct tf_history h;
	char *data, *line, *file, err[512] = "", label[64];
	const char *problem = NULL;
	size_t i;

	write_journal(path, a, 2);
	data = read_file(path, NULL);

	/* The largest id is a valid Seq... */
	line = edit_field(data, 3, 0, "18446744073709551615");
	file = replace_line(data, 3, line);
	ck_assert_int_eq(tf_history_load(&h,
					 write_file("max.tsv", file,
						    strlen(file)),
					 err, sizeof(err)),
			 0);
	check_hist(&h, UINT64_MAX, TF_HIST_FAILED, 1, "two", 3);
	tf_history_release(&h);
	free(file);
	free(line);

	/* ...but one past it is damage, not some other task's id. */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		line = edit_field(data, 3, 0, bad[i]);
		file = replace_line(data, 3, line);
		snprintf(label, sizeof(label), "Seq %s", bad[i]);
		problem = damaged_problem(write_file("bad.tsv", file,
						     strlen(file)),
					  3, "Seq", label);
		free(file);
		free(line);
		if (problem)
			break;
	}
	free(data);
	ck_assert_msg(!problem, "%s", problem);
}
END_TEST

START_TEST(test_replay_damaged_vs_torn)
{
	const struct attempt a[] = {
		{ 1, 1, TF_STATUS_OK, "one" },
		{ 2, 1, TF_STATUS_OK, "two" },
	};
	const char *path = tmppath("good.tsv");
	struct tf_history h;
	char err[512] = "", *data, *bad;
	const char *problem;
	size_t len;

	write_journal(path, a, 2);
	data = read_file(path, &len);

	/* A last line with too few columns but its newline is damage... */
	bad = replace_line(data, 3, "2\tnode1\t1700000000.250");
	problem = damaged_problem(write_file("bad.tsv", bad, strlen(bad)), 3,
				  "fields", "short last line");
	if (problem) {
		free(bad);
		free(data);
		ck_abort_msg("%s", problem);
	}
	/* ...and the same bytes without the newline are a torn write. */
	ck_assert_int_eq(tf_history_load(&h,
					 write_file("torn.tsv", bad,
						    strlen(bad) - 1),
					 err, sizeof(err)),
			 0);
	ck_assert_int_eq(h.torn, 1);
	ck_assert_uint_eq(h.lines, 1);
	ck_assert_uint_eq(h.valid_len, strlen(bad) - strlen("2\tnode1\t"
							    "1700000000.250\n"));
	check_hist(&h, 1, TF_HIST_OK, 1, "one", 3);
	ck_assert_ptr_null(tf_history_find(&h, 2));
	tf_history_release(&h);
	free(bad);

	/* Damage before a torn line is still damage. */
	bad = replace_line(data, 2, "x");
	problem = damaged_problem(write_file("bad2.tsv", bad, strlen(bad) - 1),
				  2, "fields", "damage then torn");
	free(bad);
	free(data);
	ck_assert_msg(!problem, "%s", problem);
}
END_TEST

/*
 * A journal that GNU parallel appended to (parallel --resume-failed
 * --joblog JOURNAL): its 9-column lines, padded JobRuntime, maybe a NUL
 * for a newline and tabs in the command, are read by Seq: a success
 * marks the task done whatever its command, a failure leaves it failed.
 */
START_TEST(test_replay_parallel_lines)
{
	const struct attempt a[] = { { 1, 1, TF_STATUS_FAILED, "one" },
				     { 2, 1, TF_STATUS_FAILED, "two" },
				     { 3, 1, TF_STATUS_OK, "three" } };
	static const char appended[] =
		"1\t:\t1796216045.393\t     0.001\t0\t7\t0\t0\techo 'o'\"'\"'ne\n"
		"2\t:\t1796216045.413\t     0.020\t0\t7\t1\t0\ta\tb\t1\t2\t3\t4\t5\t6\t7\t8\t9\n"
		"4\t:\t1796216045.433\t123456.000\t0\t7\t0\t0\tx\0y\n";
	const char *path = tmppath("j.tsv");
	const struct tf_history_entry *e;
	struct tf_history h;
	char err[1024] = "";
	FILE *fp;

	write_journal(path, a, 3);
	fp = fopen(path, "ab");
	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(appended, 1, sizeof(appended) - 1, fp),
			  sizeof(appended) - 1);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_msg(tf_history_load(&h, path, err, sizeof(err)) == 0, "%s",
		      err);
	ck_assert_uint_eq(h.lines, 6);
	e = tf_history_find(&h, 1);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->state, TF_HIST_OK);
	ck_assert_int_eq(e->any_cmd, 1);
	ck_assert_uint_eq(e->attempts, 1);
	e = tf_history_find(&h, 2);
	ck_assert_int_eq(e->state, TF_HIST_FAILED);
	e = tf_history_find(&h, 3);
	ck_assert_int_eq(e->state, TF_HIST_OK);
	ck_assert_int_eq(e->any_cmd, 0);
	e = tf_history_find(&h, 4); /* no padding, but a NUL */
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->state, TF_HIST_OK);
	tf_history_release(&h);
}
END_TEST

/* A GNU parallel joblog is refused with a message saying what to do. */
START_TEST(test_replay_parallel_joblog_refused)
{
	static const char jl[] =
		"Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval"
		"\tSignal\tCommand\n"
		"1\t:\t1796216045.393\t     0.001\t0\t7\t0\t0\techo one\n";
	const char *path = write_file("jl", jl, sizeof(jl) - 1);
	struct tf_history h;
	char err[1024] = "";

	ck_assert_int_eq(tf_history_load(&h, path, err, sizeof(err)),
			 TF_EPARSE);
	ck_assert_msg(strstr(err, "GNU parallel joblog") &&
			      strstr(err, "parallel --resume"),
		      "%s", err);
	check_hist_empty(&h);
	tf_history_release(&h);
}
END_TEST

START_TEST(test_replay_not_a_journal)
{
	static const char *const heads[] = {
		/* GNU parallel's own --joblog header */
		"Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\t"
		"Signal\tCommand\n",
		/* A record with no header before it */
		"1\tnode1\t1700000000.250\t1.500\t0\t5\t0\t0\techo\t1\t0\t0\t"
		"ok\t2048\t0.500\t0.250\n",
		/* Nearly the header */
		"Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\t"
		"Signal\tCommand\tAttempt\tRank\tSlot\tStatus\tMaxRSS\t"
		"UserCPU\tSysCPU \n",
		"Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\t"
		"Signal\tCommand\tAttempt\tRank\tSlot\tStatus\tMaxRSS\t"
		"UserCPU\tSysCPU\r\n",
		"Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\t"
		"Signal\tCommand\tAttempt\tRank\tSlot\tStatus\tMaxRSS\t"
		"UserCPU\tSysCPU\textra\n",
		"\n",
		"hello world\n",
	};
	const struct attempt a[] = { { 1, 1, TF_STATUS_OK, "one" } };
	const char *path = tmppath("good.tsv");
	char *data, want[4300];
	size_t i, len, hlen = strlen(TF_JOURNAL_HEADER);

	write_journal(path, a, 1);
	data = read_file(path, &len);
	for (i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		struct tf_history h;
		char err[1024] = "", *buf;
		const char *bad;

		/* Some other first line, then a valid record. */
		buf = malloc(strlen(heads[i]) + len);
		ck_assert_ptr_nonnull(buf);
		strcpy(buf, heads[i]);
		strcat(buf, data + hlen);
		bad = write_file("bad.tsv", buf, strlen(buf));
		free(buf);
		ck_assert_msg(tf_history_load(&h, bad, err, sizeof(err)) ==
				      TF_EPARSE,
			      "first line %zu accepted", i);
		snprintf(want, sizeof(want), "%s:1: ", bad);
		ck_assert_msg(strncmp(err, want, strlen(want)) == 0,
			      "first line %zu: error \"%s\"", i, err);
		check_hist_empty(&h);
		tf_history_release(&h);
	}
	free(data);
}
END_TEST

START_TEST(test_trim_then_append)
{
	const struct attempt a[] = {
		{ 1, 1, TF_STATUS_OK, "one" },
		{ 2, 1, TF_STATUS_FAILED, "two" },
		{ 3, 1, TF_STATUS_OK, "three" },
	};
	static const char partial[] = "2\tnode1\t1700000000.250\t1.5";
	struct tf_journal j;
	struct tf_history h;
	char path[4200], ref[4200], err[512] = "", *got, *want;
	size_t got_len, want_len;
	off_t before;
	int fd;

	snprintf(path, sizeof(path), "%s", tmppath("j.tsv"));
	snprintf(ref, sizeof(ref), "%s", tmppath("ref.tsv"));
	/* The first two attempts, then a line cut short by a kill. */
	write_journal(path, a, 2);
	before = file_size(path);
	fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, partial, strlen(partial)),
			 (ssize_t)strlen(partial));
	ck_assert_int_eq(close(fd), 0);

	ck_assert_int_eq(tf_history_load(&h, path, err, sizeof(err)), 0);
	ck_assert_int_eq(h.torn, 1);
	ck_assert_uint_eq(h.valid_len, (uint64_t)before);

	/* Resuming: open for appending, cut the torn line off, carry on. */
	ck_assert_int_eq(tf_journal_open(&j, path, 10), 0);
	ck_assert_int_eq(tf_journal_trim(&j, h.valid_len), 0);
	ck_assert_int_eq(file_size(path), before);
	add_attempt(&j, &a[2]);
	ck_assert_int_eq(tf_journal_close(&j), 0);
	tf_history_release(&h);

	/* Byte for byte what an uninterrupted run would have written. */
	write_journal(ref, a, 3);
	got = read_file(path, &got_len);
	want = read_file(ref, &want_len);
	ck_assert_uint_eq(got_len, want_len);
	ck_assert_str_eq(got, want);
	free(got);
	free(want);

	ck_assert_int_eq(tf_history_load(&h, path, err, sizeof(err)), 0);
	ck_assert_int_eq(h.torn, 0);
	ck_assert_uint_eq(h.lines, 3);
	check_hist(&h, 2, TF_HIST_FAILED, 1, "two", 3);
	check_hist(&h, 3, TF_HIST_OK, 1, "three", 5);
	tf_history_release(&h);

	/* Trimming to where it already ends changes nothing. */
	ck_assert_int_eq(tf_journal_open(&j, path, 10), 0);
	ck_assert_int_eq(tf_journal_trim(&j, (uint64_t)want_len), 0);
	ck_assert_int_eq(tf_journal_close(&j), 0);
	ck_assert_int_eq(file_size(path), (off_t)want_len);
}
END_TEST

START_TEST(test_trim_torn_header)
{
	const struct attempt a = { 1, 1, TF_STATUS_OK, "one" };
	const char *path = write_file("j.tsv", TF_JOURNAL_HEADER, 20);
	struct tf_journal j;
	struct tf_history h;
	char err[512] = "", *data, start[32];
	int ok;

	/* Killed while the header itself was being written: the resume
	 * sequence (load, open, trim, append) must still leave a journal
	 * that the next resume can read, header first. */
	ck_assert_int_eq(tf_history_load(&h, path, err, sizeof(err)), 0);
	ck_assert_int_eq(h.torn, 1);
	ck_assert_uint_eq(h.valid_len, 0);
	ck_assert_int_eq(tf_journal_open(&j, path, 10), 0);
	ck_assert_int_eq(tf_journal_trim(&j, h.valid_len), 0);
	tf_history_release(&h);
	add_attempt(&j, &a);
	ck_assert_int_eq(tf_journal_close(&j), 0);

	data = read_file(path, NULL);
	ok = strncmp(data, TF_JOURNAL_HEADER, strlen(TF_JOURNAL_HEADER)) == 0;
	snprintf(start, sizeof(start), "%s", data);
	free(data);
	ck_assert_msg(ok,
		      "after trimming a torn header, the journal starts "
		      "\"%s\"",
		      start);
	ck_assert_msg(tf_history_load(&h, path, err, sizeof(err)) == 0,
		      "cannot resume again: %s", err);
	ck_assert_uint_eq(h.lines, 1);
	tf_history_release(&h);
}
END_TEST

START_TEST(test_status_parse_roundtrip)
{
	static const char *const bad[] = {
		"",       "OK",    "Ok",      "ok ",      " ok",   "ok\n",
		"fail",   "unknown", "signaled", "timeout\t", "spawn_failed",
		"not started", "interrupted-",
	};
	int st;
	size_t i;

	/* Every name the journal writes reads back as its status. */
	for (st = TF_STATUS_OK; st <= TF_STATUS_NOT_STARTED; st++)
		ck_assert_msg(tf_status_parse(tf_status_name(st)) == st,
			      "\"%s\" parses as %d, want %d", tf_status_name(st),
			      tf_status_parse(tf_status_name(st)), st);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(tf_status_parse(bad[i]) == -1,
			      "\"%s\" parsed as a status", bad[i]);
}
END_TEST

/*
 * A journal written before the JobId column: TF_JOURNAL_HEADER_16 and
 * 16-column lines, made from what the writer produces now by dropping
 * the last column of every line. malloc'd.
 */
static char *as_16_columns(const char *data)
{
	char *out = malloc(strlen(data) + 1), *o = out;
	const char *p = data;

	ck_assert_ptr_nonnull(out);
	while (*p) {
		const char *nl = strchr(p, '\n'), *tab;

		ck_assert_ptr_nonnull(nl);
		for (tab = nl; tab > p && *tab != '\t'; tab--)
			;
		ck_assert(*tab == '\t');
		memcpy(o, p, (size_t)(tab - p));
		o += tab - p;
		*o++ = '\n';
		p = nl + 1;
	}
	*o = '\0';
	return out;
}

START_TEST(test_replay_16_columns)
{
	const struct attempt a[] = {
		{ 1, 1, TF_STATUS_OK, "one" },
		{ 2, 1, TF_STATUS_FAILED, "two" },
		{ 3, 1, TF_STATUS_INTERRUPTED, "three" },
	};
	const struct attempt more[] = {
		{ 2, 2, TF_STATUS_OK, "two" },
		{ 3, 2, TF_STATUS_FAILED, "three" },
		{ 4, 1, TF_STATUS_OK, "four" },
	};
	const char *path = tmppath("j.tsv");
	struct tf_journal j;
	struct tf_history h;
	char err[512] = "", *data, *old;
	size_t i, old_len;

	write_journal(path, a, 3);
	data = read_file(path, NULL);
	old = as_16_columns(data);
	free(data);
	ck_assert_int_eq(strncmp(old, TF_JOURNAL_HEADER_16,
				 strlen(TF_JOURNAL_HEADER_16)),
			 0);
	old_len = strlen(old);
	path = write_file("j.tsv", old, old_len);

	/* The old journal replays as it did. */
	ck_assert_msg(tf_history_load(&h, path, err, sizeof(err)) == 0, "%s",
		      err);
	ck_assert_int_eq(h.columns, 16);
	ck_assert_uint_eq(h.lines, 3);
	check_hist(&h, 1, TF_HIST_OK, 1, "one", 3);
	check_hist(&h, 2, TF_HIST_FAILED, 1, "two", 3);
	check_hist(&h, 3, TF_HIST_INTERRUPTED, 1, "three", 5);
	tf_history_release(&h);

	/* A resume appends 17-column lines and keeps the old header. */
	ck_assert_int_eq(setenv("SLURM_JOB_ID", "99", 1), 0);
	ck_assert_int_eq(tf_journal_open(&j, path, 10), 0);
	ck_assert_int_eq(unsetenv("SLURM_JOB_ID"), 0);
	for (i = 0; i < 3; i++)
		add_attempt(&j, &more[i]);
	ck_assert_int_eq(tf_journal_close(&j), 0);
	data = read_file(path, NULL);
	ck_assert_int_eq(strncmp(data, old, old_len), 0);
	ck_assert_ptr_nonnull(strstr(data + old_len, "\tfour\t1\t4\t1\tok\t"));
	ck_assert_ptr_nonnull(strstr(data + old_len, "\t0.250\t99\n"));
	free(data);
	free(old);

	/* Both kinds of line replay, in order. */
	ck_assert_msg(tf_history_load(&h, path, err, sizeof(err)) == 0, "%s",
		      err);
	ck_assert_int_eq(h.columns, 16);
	ck_assert_uint_eq(h.lines, 6);
	check_hist(&h, 1, TF_HIST_OK, 1, "one", 3);
	check_hist(&h, 2, TF_HIST_OK, 2, "two", 3);
	check_hist(&h, 3, TF_HIST_FAILED, 2, "three", 5);
	check_hist(&h, 4, TF_HIST_OK, 1, "four", 4);
	tf_history_release(&h);

	/* A current journal says so. */
	path = tmppath("new.tsv");
	write_journal(path, a, 1);
	ck_assert_int_eq(tf_history_load(&h, path, err, sizeof(err)), 0);
	ck_assert_int_eq(h.columns, 17);
	tf_history_release(&h);
}
END_TEST

START_TEST(test_replay_16_columns_damaged)
{
	const struct attempt a[] = {
		{ 1, 1, TF_STATUS_OK, "one" },
		{ 2, 1, TF_STATUS_OK, "two" },
	};
	static const struct {
		int field;       /* -1: replace the whole line by val */
		const char *val; /* NULL: drop the column */
		const char *what;
	} damage[] = {
		{ -1, "2\tnode1\t1.0\t1.0\t0\t0\t0\t0\ttwo\t1\t0\t1\tok\t0\t0.1",
		  "fewer than 16 fields" },
		{ 16, "x\t18", "more than 17 fields" },
		{ 15, NULL, "number" },  /* 16, with JobId where SysCPU was */
		{ 16, "", "JobId" },     /* 17, JobId empty */
		{ 16, "bad\\e", "JobId" },
		{ 12, "bogus", "Status" },
	};
	const char *path = tmppath("j.tsv");
	char *data, *old, label[128];
	size_t i;

	write_journal(path, a, 2);
	data = read_file(path, NULL);
	old = as_16_columns(data);
	for (i = 0; i < sizeof(damage) / sizeof(damage[0]); i++) {
		char *line, *bad;
		const char *problem;

		/* Line 3 is a line appended by a resume. */
		line = damage[i].field < 0
			       ? strdup(damage[i].val)
			       : edit_field(data, 3, damage[i].field,
					    damage[i].val);
		ck_assert_ptr_nonnull(line);
		bad = replace_line(old, 3, line);
		free(line);
		snprintf(label, sizeof(label), "16-column journal, damage %zu",
			 i);
		problem = damaged_problem(write_file("bad.tsv", bad,
						     strlen(bad)),
					  3, damage[i].what, label);
		free(bad);
		if (problem) {
			free(old);
			free(data);
			ck_abort_msg("%s", problem);
		}
	}
	free(old);
	free(data);
}
END_TEST

/* ---- The lock on PATH.meta ---- */

#define FP1 "0123456789abcdef"
#define FP2 "fedcba9876543210"

/* What a child process got from tf_journal_lock(). */
struct lock_try {
	int ret;
	char holder[512];
};

/*
 * Tries tf_journal_lock() on path in a child process, as a second run
 * would: a new process with its own open file description, which is what
 * flock() locks belong to. The child releases any lock it got and exits.
 * Its exit status is checked too, so that under valgrind (CK_FORK=no) an
 * error in the child fails the test; the child also inherits, and
 * valgrind reports, anything an earlier failed test leaked, which is why
 * the replay tests free before they fail.
 */
static void lock_from_child(const char *path, struct lock_try *out)
{
	int fds[2], status;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct tf_journal_lock l;
		struct lock_try t;

		/* No Check calls here: this is not the test's process. */
		memset(&t, 0, sizeof(t));
		close(fds[0]);
		strcpy(t.holder, "(unset)");
		t.ret = tf_journal_lock(&l, path, t.holder, sizeof(t.holder));
		if (t.ret == 0)
			tf_journal_unlock(&l);
		_exit(write(fds[1], &t, sizeof(t)) == (ssize_t)sizeof(t) ? 0
									 : 2);
	}
	ck_assert_int_eq(close(fds[1]), 0);
	ck_assert_int_eq(read(fds[0], out, sizeof(*out)), (ssize_t)sizeof(*out));
	ck_assert_int_eq(close(fds[0]), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "the child failed (status %#x)", status);
}

START_TEST(test_lock_creates_meta)
{
	const char *path = tmppath("j.tsv");
	struct tf_journal_lock l;
	char meta[4300], fp[17], holder[512], *data, want[512];
	char host[256];
	struct stat st;
	size_t len;

	snprintf(meta, sizeof(meta), "%s.meta", path);
	ck_assert_int_eq(tf_journal_lock(&l, path, holder, sizeof(holder)), 0);
	ck_assert_int_ge(l.fd, 0);
	ck_assert_str_eq(l.path, meta);
	ck_assert_int_eq(lstat(meta, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	/* Only the companion file: the journal itself is not made here. */
	ck_assert_int_eq(access(path, F_OK), -1);

	/* A new meta file records no fingerprint yet. */
	memset(fp, 'z', sizeof(fp));
	ck_assert_int_eq(tf_journal_meta_fingerprint(&l, fp), 0);

	ck_assert_int_eq(tf_journal_meta_write(&l, FP1, 0, "jobs.txt"), 0);
	ck_assert_int_eq(tf_journal_meta_fingerprint(&l, fp), 1);
	ck_assert_str_eq(fp, FP1);

	/* The file says what it is, whose job, and who writes it. */
	data = read_file(meta, NULL);
	ck_assert_int_eq(strncmp(data, "taskfarm-journal-meta 1\n", 24), 0);
	ck_assert_ptr_nonnull(strstr(data, "\nfingerprint " FP1 "\n"));
	ck_assert_ptr_nonnull(strstr(data, "\nsource jobs.txt\n"));
	ck_assert_int_eq(gethostname(host, sizeof(host) - 1), 0);
	host[sizeof(host) - 1] = '\0';
	snprintf(want, sizeof(want), "\nowner %s %ld ", host, (long)getpid());
	ck_assert_ptr_nonnull(strstr(data, want));
	free(data);

	/* A rewrite replaces it all, leaving nothing of the old one. */
	ck_assert_int_eq(tf_journal_meta_write(&l, FP2, 0, "x"), 0);
	ck_assert_int_eq(tf_journal_meta_fingerprint(&l, fp), 1);
	ck_assert_str_eq(fp, FP2);
	data = read_file(meta, &len);
	ck_assert_ptr_null(strstr(data, FP1));
	ck_assert_ptr_null(strstr(data, "jobs.txt"));
	ck_assert_int_eq(strncmp(data,
				 "taskfarm-journal-meta 1\nfingerprint " FP2
				 "\nsource x\nowner ",
				 24 + 29 + 9 + 6),
			 0);
	/* Four lines and the end line, and not a byte of the longer old
	 * contents after them. */
	ck_assert_int_eq(count_lines(data, len), 5);
	ck_assert_int_eq(len > 4 && memcmp(data + len - 4, "end\n", 4), 0);
	free(data);

	/* Unlocking keeps the file, and a later run reads it back. */
	tf_journal_unlock(&l);
	ck_assert_int_eq(l.fd, -1);
	ck_assert_ptr_null(l.path);
	tf_journal_unlock(&l); /* harmless twice */
	ck_assert_int_eq(access(meta, F_OK), 0);
	ck_assert_int_eq(tf_journal_lock(&l, path, holder, sizeof(holder)), 0);
	ck_assert_int_eq(tf_journal_meta_fingerprint(&l, fp), 1);
	ck_assert_str_eq(fp, FP2);
	tf_journal_unlock(&l);
}
END_TEST

START_TEST(test_lock_fingerprint_malformed)
{
	static const char *const bad[] = { "0123456789ABCDEF", "0123",
					   "0123456789abcdeg", "" };
	const char *path = tmppath("j.tsv");
	struct tf_journal_lock l;
	char fp[17];
	size_t i;

	/* Only 16 lower-case hex digits count as a fingerprint. */
	ck_assert_int_eq(tf_journal_lock(&l, path, NULL, 0), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(tf_journal_meta_write(&l, bad[i], 0, "s"), 0);
		ck_assert_msg(tf_journal_meta_fingerprint(&l, fp) == 0,
			      "\"%s\" taken as a fingerprint", bad[i]);
	}
	tf_journal_unlock(&l);

	/* Nor does a meta file of something else entirely. */
	write_file("j.tsv.meta", "fingerprint " FP1 "\n", 29);
	ck_assert_int_eq(tf_journal_lock(&l, path, NULL, 0), 0);
	ck_assert_int_eq(tf_journal_meta_fingerprint(&l, fp), 0);
	tf_journal_unlock(&l);
}
END_TEST

START_TEST(test_lock_excludes_second_run)
{
	const char *path = tmppath("j.tsv");
	struct tf_journal_lock l;
	struct lock_try t;
	char holder[512], host[256], want[512], fp[17];

	ck_assert_int_eq(gethostname(host, sizeof(host) - 1), 0);
	host[sizeof(host) - 1] = '\0';

	ck_assert_int_eq(tf_journal_lock(&l, path, holder, sizeof(holder)), 0);
	ck_assert_int_eq(tf_journal_meta_write(&l, FP1, 0, "jobs.txt"), 0);

	/* A second run is refused, and told who holds the journal. */
	lock_from_child(path, &t);
	ck_assert_int_eq(t.ret, -EBUSY);
	snprintf(want, sizeof(want), "host %s, ", host);
	ck_assert_msg(strstr(t.holder, want) != NULL, "holder \"%s\", want %s",
		      t.holder, want);
	snprintf(want, sizeof(want), ", pid %ld, ", (long)getpid());
	ck_assert_msg(strstr(t.holder, want) != NULL, "holder \"%s\", want %s",
		      t.holder, want);
	ck_assert_ptr_nonnull(strstr(t.holder, ", since "));
	ck_assert_ptr_null(strstr(t.holder, "since ?"));
	/* Its attempt changed nothing. */
	ck_assert_int_eq(tf_journal_meta_fingerprint(&l, fp), 1);
	ck_assert_str_eq(fp, FP1);
	/* Again, to be sure the failed attempt left no lock behind. */
	lock_from_child(path, &t);
	ck_assert_int_eq(t.ret, -EBUSY);

	/* Once released, the next run gets it... */
	tf_journal_unlock(&l);
	lock_from_child(path, &t);
	ck_assert_int_eq(t.ret, 0);
	/* ...and, having let go, so does this one again. */
	ck_assert_int_eq(tf_journal_lock(&l, path, holder, sizeof(holder)), 0);
	lock_from_child(path, &t);
	ck_assert_int_eq(t.ret, -EBUSY);
	tf_journal_unlock(&l);
}
END_TEST

START_TEST(test_lock_symlink_refused)
{
	struct tf_journal_lock l;
	char path[4200], target[4200], meta[4300], created[4300], holder[512];
	char *data;
	int fd;

	snprintf(path, sizeof(path), "%s", tmppath("j.tsv"));
	snprintf(target, sizeof(target), "%s",
		 write_file("precious", "keep me\n", 8));

	/* A link planted at PATH.meta would have us create, truncate and
	 * write someone else's file; refuse it and touch nothing. */
	snprintf(meta, sizeof(meta), "%s.meta", path);
	ck_assert_int_eq(symlink(target, meta), 0);
	ck_assert_int_eq(tf_journal_lock(&l, path, holder, sizeof(holder)),
			 -ELOOP);
	ck_assert_int_eq(l.fd, -1);
	tf_journal_unlock(&l); /* nothing to release; harmless */
	data = read_file(target, NULL);
	ck_assert_str_eq(data, "keep me\n");
	free(data);
	/* Nor was the target left locked. */
	fd = open(target, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
	ck_assert_int_eq(close(fd), 0);

	/* A dangling link is not followed to create its target either. */
	ck_assert_int_eq(unlink(meta), 0);
	snprintf(created, sizeof(created), "%s", tmppath("created"));
	ck_assert_int_eq(symlink(created, meta), 0);
	ck_assert_int_eq(tf_journal_lock(&l, path, holder, sizeof(holder)),
			 -ELOOP);
	ck_assert_int_eq(access(created, F_OK), -1);

	/* Something that is not a regular file is refused as well. */
	ck_assert_int_eq(unlink(meta), 0);
	ck_assert_int_eq(mkfifo(meta, 0600), 0);
	ck_assert_int_eq(tf_journal_lock(&l, path, holder, sizeof(holder)),
			 -EINVAL);
	ck_assert_int_eq(unlink(meta), 0);
	ck_assert_int_eq(mkdir(meta, 0700), 0);
	ck_assert_int_lt(tf_journal_lock(&l, path, holder, sizeof(holder)), 0);
	ck_assert_int_eq(l.fd, -1);
}
END_TEST

START_TEST(test_meta_escapes_source)
{
	/* A job file named to forge an owner line, and a backslash. */
	static const char name[] = "job file x\nowner evil 1 2020\\n\tz";
	char path[4200];
	struct tf_journal_lock l;
	struct tf_journal_meta m;
	char meta[4300], err[1024], *data;
	size_t len;

	snprintf(path, sizeof(path), "%s", tmppath("j.tsv"));

	snprintf(meta, sizeof(meta), "%s.meta", path);
	ck_assert_int_eq(tf_journal_lock(&l, path, NULL, 0), 0);
	/* A new meta file is empty: missing, not garbled. */
	ck_assert_int_eq(tf_journal_meta_read(&l, &m, err, sizeof(err)), 0);
	ck_assert_int_eq(tf_journal_meta_write(&l, FP1, 12345, name), 0);
	data = read_file(meta, &len);
	ck_assert_int_eq(count_lines(data, len), 6); /* with "end" */
	ck_assert_ptr_null(strstr(data, "\nowner evil"));
	ck_assert_ptr_nonnull(strstr(data, "\ntasks 12345\n"));
	free(data);
	/* It reads back as written. */
	ck_assert_int_eq(tf_journal_meta_read(&l, &m, err, sizeof(err)), 1);
	ck_assert_str_eq(m.fingerprint, FP1);
	ck_assert_uint_eq(m.ntasks, 12345);
	ck_assert_str_eq(m.source, name);
	tf_journal_unlock(&l);
}
END_TEST

START_TEST(test_meta_garbled)
{
	static const struct {
		const char *text;
		const char *err; /* after "PATH" */
	} cases[] = {
		{ "fingerprint " FP1 "\n", ":1: not a taskfarm journal's meta" },
		/* A raw newline in a name, as an older version wrote it. */
		{ "taskfarm-journal-meta 1\nfingerprint " FP1
		  "\nsource job file a\nowner evil 1 x\nb\nowner h 2 t\n",
		  ":5: a line this version does not write" },
		{ "taskfarm-journal-meta 1\nsource s\nowner h 1 t\n",
		  ": no fingerprint" },
		{ "taskfarm-journal-meta 1\nfingerprint " FP1 "\ntasks x\n",
		  ":3: bad task count" },
		{ "taskfarm-journal-meta 1\nfingerprint 0123",
		  ":2: a line cut short" },
		{ "\1\2\3", ":1: a line cut short" },
	};
	char path[4200];
	struct tf_journal_lock l;
	struct tf_journal_meta m;
	char want[4400], err[4400], fp[17];
	size_t i;

	snprintf(path, sizeof(path), "%s", tmppath("j.tsv"));

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_file("j.tsv.meta", cases[i].text, strlen(cases[i].text));
		ck_assert_int_eq(tf_journal_lock(&l, path, NULL, 0), 0);
		err[0] = '\0';
		ck_assert_int_eq(tf_journal_meta_read(&l, &m, err, sizeof(err)),
				 TF_EPARSE);
		snprintf(want, sizeof(want), "%s.meta%s", path, cases[i].err);
		ck_assert_msg(strncmp(err, want, strlen(want)) == 0,
			      "case %zu: \"%s\", want \"%s\"", i, err, want);
		ck_assert_int_eq(tf_journal_meta_fingerprint(&l, fp), 0);
		tf_journal_unlock(&l);
	}
	/* An older version's meta file, without a task count, is read. */
	write_file("j.tsv.meta",
		   "taskfarm-journal-meta 1\nfingerprint " FP2
		   "\nsource job file a\\b\nowner h 2 t\n",
		   24 + 29 + 20 + 12);
	ck_assert_int_eq(tf_journal_lock(&l, path, NULL, 0), 0);
	ck_assert_int_eq(tf_journal_meta_read(&l, &m, err, sizeof(err)), 1);
	ck_assert_str_eq(m.fingerprint, FP2);
	ck_assert_uint_eq(m.ntasks, 0);
	ck_assert_str_eq(m.source, "job file a\\b");
	tf_journal_unlock(&l);
}
END_TEST

/* A rewrite of the meta file that fails (or is killed) part-way leaves a
 * meta file that still names the job: the old one whole, or the new text
 * up to its end line. Before, the file was cut to nothing first, and
 * every --resume after refused the journal ("PATH.meta is missing"). */
START_TEST(test_meta_rewrite_cut_short)
{
	char path[4200], fp[17];
	struct tf_journal_lock l;
	struct tf_journal_meta m;
	char err[4400];
	static const char killed[] =
		"taskfarm-journal-meta 1\nfingerprint " FP2
		"\nsource x\nowner h 2 t\nend\n"
		/* the old, longer text's tail */
		"ce a job file with a longer name\nowner h 1 t\n";

	snprintf(path, sizeof(path), "%s", tmppath("j.tsv"));
	ck_assert_int_eq(tf_journal_lock(&l, path, NULL, 0), 0);
	ck_assert_int_eq(tf_journal_meta_write(&l, FP1, 12,
					       "a job file with a longer name"),
			 0);
	/* The next write fails after its first 30 bytes (EFBIG: a full
	 * disk would do the same), which are the same as the old ones. */
	ck_assert(signal(SIGXFSZ, SIG_IGN) != SIG_ERR);
	limit_file_size(30);
	ck_assert_int_lt(tf_journal_meta_write(&l, FP2, 0, "x"), 0);
	unlimit_file_size();
	ck_assert(signal(SIGXFSZ, SIG_DFL) != SIG_ERR);
	ck_assert_int_eq(tf_journal_meta_read(&l, &m, err, sizeof(err)), 1);
	ck_assert_str_eq(m.fingerprint, FP1);
	ck_assert_uint_eq(m.ntasks, 12);
	tf_journal_unlock(&l);

	/* Killed between the write and the cut: the new text, its end line,
	 * the old tail. */
	write_file("j.tsv.meta", killed, sizeof(killed) - 1);
	ck_assert_int_eq(tf_journal_lock(&l, path, NULL, 0), 0);
	err[0] = '\0';
	ck_assert_msg(tf_journal_meta_read(&l, &m, err, sizeof(err)) == 1,
		      "%s", err);
	ck_assert_str_eq(m.fingerprint, FP2);
	ck_assert_str_eq(m.source, "x");
	ck_assert_int_eq(tf_journal_meta_fingerprint(&l, fp), 1);
	tf_journal_unlock(&l);
}
END_TEST

START_TEST(test_other_users_files_refused)
{
	char path[4200];
	struct tf_journal_lock l;
	struct tf_journal j;
	char meta[4300];

	snprintf(path, sizeof(path), "%s", tmppath("j.tsv"));

	/* Only root can give a file away; elsewhere CI runs this. */
	if (geteuid() != 0) {
		fprintf(stderr, "# not root: other users' files not tested\n");
		return;
	}
	snprintf(meta, sizeof(meta), "%s.meta", path);
	write_file("j.tsv", TF_JOURNAL_HEADER, strlen(TF_JOURNAL_HEADER));
	write_file("j.tsv.meta", "", 0);
	ck_assert_int_eq(chown(path, 65534, 65534), 0);
	ck_assert_int_eq(chown(meta, 65534, 65534), 0);
	ck_assert_int_eq(tf_journal_open(&j, path, 10), -EPERM);
	ck_assert_int_eq(tf_journal_lock(&l, path, NULL, 0), -EPERM);
	ck_assert_int_eq(l.fd, -1);
	/* Given back, both are taken. */
	ck_assert_int_eq(chown(path, 0, 0), 0);
	ck_assert_int_eq(chown(meta, 0, 0), 0);
	ck_assert_int_eq(tf_journal_open(&j, path, 10), 0);
	ck_assert_int_eq(tf_journal_close(&j), 0);
	ck_assert_int_eq(tf_journal_lock(&l, path, NULL, 0), 0);
	tf_journal_unlock(&l);
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
	tcase_add_test(tc, test_line_jobid);
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
	tcase_add_test(tc, test_flush_short_write);
	tcase_add_test(tc, test_close_counts_unwritten);
	suite_add_tcase(s, tc);

	tc = tcase_create("replay");
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_replay_states);
	tcase_add_test(tc, test_replay_nul_in_command);
	tcase_add_test(tc, test_replay_changed_command);
	tcase_add_test(tc, test_replay_sparse_ids);
	tcase_add_test(tc, test_replay_missing_and_empty);
	tcase_add_test(tc, test_replay_torn_last_line);
	tcase_add_test(tc, test_replay_damaged_line);
	tcase_add_test(tc, test_replay_seq_overflow);
	tcase_add_test(tc, test_replay_damaged_vs_torn);
	tcase_add_test(tc, test_replay_not_a_journal);
	tcase_add_test(tc, test_replay_parallel_lines);
	tcase_add_test(tc, test_replay_parallel_joblog_refused);
	tcase_add_test(tc, test_replay_16_columns);
	tcase_add_test(tc, test_replay_16_columns_damaged);
	tcase_add_test(tc, test_trim_then_append);
	tcase_add_test(tc, test_trim_torn_header);
	tcase_add_test(tc, test_status_parse_roundtrip);
	suite_add_tcase(s, tc);

	tc = tcase_create("lock");
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_lock_creates_meta);
	tcase_add_test(tc, test_lock_fingerprint_malformed);
	tcase_add_test(tc, test_lock_excludes_second_run);
	tcase_add_test(tc, test_lock_symlink_refused);
	tcase_add_test(tc, test_meta_escapes_source);
	tcase_add_test(tc, test_meta_garbled);
	tcase_add_test(tc, test_meta_rewrite_cut_short);
	tcase_add_test(tc, test_other_users_files_refused);
	suite_add_tcase(s, tc);

	return s;
}

TF_CHECK_MAIN(journal_suite)
