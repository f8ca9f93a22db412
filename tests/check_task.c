/*
 * Tests of tasks, results and captured output (task.h), and of the small
 * helpers every module leans on (util.h): output that stays in memory up
 * to a threshold and spills to an unlinked file past it without losing or
 * reordering a byte, reading it back at any offset, writing it out with
 * and without a line prefix, and the option parsers, string buffer and
 * error strings.
 */
#include "config.h"

#include "check_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>

#include "farm/task.h"
#include "taskfarm.h"
#include "core/util.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void fill_pattern(char *buf, size_t len, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (char)((i * 131 + seed) % 251);
}

/* Reads the whole output back with tf_output_pread and compares it. */
static void expect_output(const struct tf_output *o, const void *want,
			  size_t len)
{
	char *buf = malloc(len + 16);

	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(o->len, len);
	ck_assert_int_eq(tf_output_pread(o, buf, len + 16, 0), (long)len);
	ck_assert_msg(memcmp(buf, want, len) == 0, "output bytes differ");
	free(buf);
}

/* Writes o to a fresh file in the temporary directory and returns what
 * landed there (malloc'd). */
static char *write_to_file(const struct tf_output *o, const char *prefix,
			   size_t *len)
{
	const char *path = tmppath("written");
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(tf_output_write(o, fd, prefix), 0);
	ck_assert_int_eq(close(fd), 0);
	return read_file(path, len);
}

/* What tf_output_write() should produce with a prefix, computed the
 * simple way, a byte at a time. */
static void prefix_lines(struct tf_strbuf *sb, const char *data, size_t len,
			 const char *prefix)
{
	int bol = 1;
	size_t i;

	for (i = 0; i < len; i++) {
		if (bol)
			tf_strbuf_addstr(sb, prefix);
		tf_strbuf_addch(sb, data[i]);
		bol = data[i] == '\n';
	}
	if (!bol)
		tf_strbuf_addch(sb, '\n');
}

/* Captured output: memory and spilling. */

START_TEST(test_output_init)
{
	struct tf_output o;

	memset(&o, 0x5a, sizeof(o));
	tf_output_init(&o);
	ck_assert_ptr_null(o.mem);
	ck_assert_int_eq(o.spill_fd, -1);
	ck_assert_uint_eq(o.len, 0);
	ck_assert_uint_eq(o.mem_len, 0);
	/* Releasing an empty output is allowed and leaves it reusable. */
	tf_output_release(&o);
	ck_assert_int_eq(o.spill_fd, -1);
	ck_assert_int_eq(tf_output_append(&o, "x", 1, 10), 0);
	expect_output(&o, "x", 1);
	tf_output_release(&o);
}
END_TEST

START_TEST(test_append_under_threshold_stays_in_memory)
{
	struct tf_output o;
	char data[100];

	fill_pattern(data, sizeof(data), 1);
	tf_output_init(&o);
	ck_assert_int_eq(tf_output_append(&o, data, 60, 100), 0);
	ck_assert_int_eq(tf_output_append(&o, data + 60, 40, 100), 0);
	/* Reaching the threshold exactly is still "up to" it. */
	ck_assert_int_eq(o.spill_fd, -1);
	ck_assert_ptr_nonnull(o.mem);
	ck_assert_uint_eq(o.mem_len, 100);
	ck_assert_uint_eq(o.len, 100);
	ck_assert_int_eq(memcmp(o.mem, data, 100), 0);
	/* An empty append changes nothing, even with a zero threshold. */
	ck_assert_int_eq(tf_output_append(&o, data, 0, 0), 0);
	ck_assert_int_eq(o.spill_fd, -1);
	ck_assert_uint_eq(o.len, 100);
	tf_output_release(&o);
	ck_assert_ptr_null(o.mem);
}
END_TEST

START_TEST(test_append_over_threshold_spills)
{
	struct tf_output o;
	struct stat st;
	char data[300];
	char *old = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
	DIR *dir;
	struct dirent *de;
	int entries = 0;

	/* Spill into the test's own directory, so it can check that the
	 * file was unlinked at once and leaves nothing behind. */
	ck_assert_int_eq(setenv("TMPDIR", tmpdir, 1), 0);
	fill_pattern(data, sizeof(data), 2);
	tf_output_init(&o);
	ck_assert_int_eq(tf_output_append(&o, data, 60, 100), 0);
	ck_assert_int_eq(tf_output_append(&o, data + 60, 41, 100), 0);
	ck_assert_int_ge(o.spill_fd, 0);
	ck_assert_ptr_null(o.mem);
	ck_assert_uint_eq(o.mem_len, 0);
	ck_assert_uint_eq(o.len, 101);
	/* Once spilled, everything goes to the file. */
	ck_assert_int_eq(tf_output_append(&o, data + 101, 199, 100), 0);
	ck_assert_ptr_null(o.mem);
	expect_output(&o, data, sizeof(data));

	ck_assert_int_eq(fstat(o.spill_fd, &st), 0);
	ck_assert_uint_eq(st.st_nlink, 0);
	ck_assert_int_eq(st.st_size, (long)sizeof(data));
	dir = opendir(tmpdir);
	ck_assert_ptr_nonnull(dir);
	while ((de = readdir(dir)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			entries++;
	closedir(dir);
	ck_assert_int_eq(entries, 0);

	/* The spill file is not inherited by the tasks we start. */
	ck_assert_int_ne(fcntl(o.spill_fd, F_GETFD) & FD_CLOEXEC, 0);

	tf_output_release(&o);
	ck_assert_int_eq(o.spill_fd, -1);
	ck_assert_uint_eq(o.len, 0);
	if (old) {
		ck_assert_int_eq(setenv("TMPDIR", old, 1), 0);
		free(old);
	} else {
		ck_assert_int_eq(unsetenv("TMPDIR"), 0);
	}
}
END_TEST

/* A spill that cannot be made loses the output, not the process: it is
 * dropped, the error stays, and memory does not grow with what follows. */
static void expect_spill_lost(const char *dir, int want)
{
	struct tf_output o;
	char data[300], buf[16];
	char *old = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
	int i;

	ck_assert_int_eq(setenv("TMPDIR", dir, 1), 0);
	ck_assert_str_eq(tf_output_spill_dir(), dir);
	fill_pattern(data, sizeof(data), 3);
	tf_output_init(&o);
	ck_assert_int_eq(tf_output_append(&o, data, 60, 100), 0);
	ck_assert_int_eq(tf_output_append(&o, data + 60, 41, 100), want);
	ck_assert_int_eq(o.error, want);
	ck_assert_int_eq(o.spill_fd, -1);
	ck_assert_ptr_null(o.mem);
	ck_assert_uint_eq(o.len, 0);
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(tf_output_append(&o, data, sizeof(data), 100),
				 want);
	ck_assert_ptr_null(o.mem);
	ck_assert_uint_eq(o.len, 0);
	ck_assert_int_eq(tf_output_pread(&o, buf, sizeof(buf), 0), 0);
	ck_assert_int_eq(tf_output_write(&o, STDOUT_FILENO, NULL), want);
	tf_output_release(&o);
	ck_assert_int_eq(o.error, 0);
	if (old) {
		ck_assert_int_eq(setenv("TMPDIR", old, 1), 0);
		free(old);
	} else {
		ck_assert_int_eq(unsetenv("TMPDIR"), 0);
		ck_assert_str_eq(tf_output_spill_dir(), "/tmp");
	}
}

START_TEST(test_spill_to_missing_dir_loses_output)
{
	struct tf_strbuf dir = TF_STRBUF_INIT;

	tf_strbuf_addf(&dir, "%s/no-such-dir", tmpdir);
	expect_spill_lost(dir.buf, -ENOENT);
	tf_strbuf_release(&dir);
}
END_TEST

START_TEST(test_spill_to_non_directory_loses_output)
{
	/* $TMPDIR names a file: mkstemp fails. (A full file system, where
	 * the write fails instead, is tested in tests/output-faults.sh.) */
	expect_spill_lost("/dev/full", -ENOTDIR);
}
END_TEST

START_TEST(test_spill_preserves_order)
{
	const size_t total = 300 * 1000, threshold = 64 * 1024;
	struct tf_output o;
	char *data = malloc(total);
	size_t off = 0, chunk = 1;
	int spilled_midway = 0;

	/* Many appends of varying sizes, one of which crosses the threshold
	 * part way through: no byte may be lost, doubled or reordered. */
	ck_assert_ptr_nonnull(data);
	fill_pattern(data, total, 5);
	tf_output_init(&o);
	while (off < total) {
		size_t n = chunk < total - off ? chunk : total - off;

		if (o.spill_fd < 0 && off < threshold && off + n > threshold)
			spilled_midway = 1;
		ck_assert_int_eq(tf_output_append(&o, data + off, n, threshold),
				 0);
		off += n;
		chunk = chunk * 3 % 7919 + 1;
	}
	ck_assert(spilled_midway);
	ck_assert_int_ge(o.spill_fd, 0);
	expect_output(&o, data, total);
	tf_output_release(&o);
	free(data);
}
END_TEST

/* Builds the same 1000 bytes in memory (spill_fd < 0) or spilled. */
static void make_output(struct tf_output *o, char *data, size_t len,
			int spilled)
{
	fill_pattern(data, len, 7);
	tf_output_init(o);
	ck_assert_int_eq(tf_output_append(o, data, len,
					  spilled ? len / 2 : SIZE_MAX),
			 0);
	ck_assert_int_eq(o->spill_fd >= 0, spilled);
}

START_TEST(test_pread_offsets)
{
	struct tf_output o;
	char data[1000], buf[1100];
	int spilled;

	for (spilled = 0; spilled < 2; spilled++) {
		make_output(&o, data, sizeof(data), spilled);
		ck_assert_int_eq(tf_output_pread(&o, buf, 10, 0), 10);
		ck_assert_int_eq(memcmp(buf, data, 10), 0);
		ck_assert_int_eq(tf_output_pread(&o, buf, 100, 450), 100);
		ck_assert_int_eq(memcmp(buf, data + 450, 100), 0);
		/* A read running past the end is cut short, not padded. */
		memset(buf, 0, sizeof(buf));
		ck_assert_int_eq(tf_output_pread(&o, buf, 50, 990), 10);
		ck_assert_int_eq(memcmp(buf, data + 990, 10), 0);
		ck_assert_int_eq(buf[10], 0);
		ck_assert_int_eq(tf_output_pread(&o, buf, sizeof(buf), 0),
				 1000);
		ck_assert_int_eq(memcmp(buf, data, 1000), 0);
		/* At or beyond the end there is nothing to read. */
		ck_assert_int_eq(tf_output_pread(&o, buf, 10, 1000), 0);
		ck_assert_int_eq(tf_output_pread(&o, buf, 10, UINT64_MAX), 0);
		tf_output_release(&o);
	}
}
END_TEST

/* --line-buffer's cut: what went ahead is dropped from the front; the
 * rest, spilled or not, stays whole and in memory or spills again by the
 * threshold given. */
START_TEST(test_copy_and_drop_front)
{
	struct tf_output o, c;
	char data[1000], buf[1000];
	int spilled;

	for (spilled = 0; spilled < 2; spilled++) {
		make_output(&o, data, sizeof(data), spilled);
		tf_output_init(&c);
		ck_assert_int_eq(tf_output_copy(&c, &o, 100, 300, 1 << 20), 0);
		ck_assert_uint_eq(c.len, 200);
		ck_assert_int_eq(tf_output_pread(&c, buf, sizeof(buf), 0), 200);
		ck_assert_int_eq(memcmp(buf, data + 100, 200), 0);
		/* Appends: a second range follows the first. */
		ck_assert_int_eq(tf_output_copy(&c, &o, 0, 10, 1 << 20), 0);
		ck_assert_uint_eq(c.len, 210);
		ck_assert_int_eq(tf_output_pread(&c, buf, 10, 200), 10);
		ck_assert_int_eq(memcmp(buf, data, 10), 0);
		tf_output_release(&c);

		tf_output_drop_front(&o, 0, 1 << 20); /* nothing to drop */
		ck_assert_uint_eq(o.len, 1000);
		tf_output_drop_front(&o, 640, 100); /* the rest spills */
		ck_assert_uint_eq(o.len, 360);
		ck_assert_int_ge(o.spill_fd, 0);
		ck_assert_int_eq(tf_output_pread(&o, buf, sizeof(buf), 0), 360);
		ck_assert_int_eq(memcmp(buf, data + 640, 360), 0);
		tf_output_drop_front(&o, 360, 1 << 20); /* all of it */
		ck_assert_uint_eq(o.len, 0);
		ck_assert_int_eq(o.error, 0);
		tf_output_release(&o);
	}
}
END_TEST

/* Writing output out. */

START_TEST(test_write_plain)
{
	struct tf_output o;
	char data[1000], *got;
	size_t len;
	int spilled;

	/* Without a prefix the bytes go out exactly, with no newline added
	 * even though the data does not end in one. */
	for (spilled = 0; spilled < 2; spilled++) {
		make_output(&o, data, sizeof(data), spilled);
		ck_assert_int_ne(data[sizeof(data) - 1], '\n');
		got = write_to_file(&o, NULL, &len);
		ck_assert_uint_eq(len, sizeof(data));
		ck_assert_int_eq(memcmp(got, data, len), 0);
		free(got);
		tf_output_release(&o);
	}

	tf_output_init(&o);
	got = write_to_file(&o, NULL, &len);
	ck_assert_uint_eq(len, 0);
	free(got);
}
END_TEST

static void expect_prefixed(const char *data, const char *want)
{
	struct tf_output o;
	char *got;
	size_t len;

	tf_output_init(&o);
	ck_assert_int_eq(tf_output_append(&o, data, strlen(data), SIZE_MAX), 0);
	got = write_to_file(&o, "[3] ", &len);
	ck_assert_str_eq(got, want);
	ck_assert_uint_eq(len, strlen(want));
	free(got);
	tf_output_release(&o);
}

START_TEST(test_write_prefixed)
{
	expect_prefixed("a\nb\n", "[3] a\n[3] b\n");
	/* A final partial line is finished, so the next task's prefixed
	 * output starts on a line of its own. */
	expect_prefixed("a\nb", "[3] a\n[3] b\n");
	expect_prefixed("one line", "[3] one line\n");
	/* Empty lines get the prefix too. */
	expect_prefixed("\n\nx\n", "[3] \n[3] \n[3] x\n");
	/* Nothing printed, nothing written. */
	expect_prefixed("", "");
}
END_TEST

START_TEST(test_write_prefixed_spilled)
{
	const size_t total = 200 * 1000;
	struct tf_strbuf want = TF_STRBUF_INIT;
	struct tf_output o;
	char *data = malloc(total), *got;
	size_t i, len;

	/* Lines of varying length, written back in 64 KiB reads: a prefix
	 * must appear once at each line start, also where a line straddles
	 * two reads, and the last line has no newline. */
	ck_assert_ptr_nonnull(data);
	for (i = 0; i < total; i++)
		data[i] = (i * 7 + i / 13) % 97 == 0 ? '\n' : 'a' + i % 26;
	data[65535] = '\n';
	data[total - 1] = 'z';
	tf_output_init(&o);
	ck_assert_int_eq(tf_output_append(&o, data, total, 4096), 0);
	ck_assert_int_ge(o.spill_fd, 0);

	prefix_lines(&want, data, total, "host:7| ");
	got = write_to_file(&o, "host:7| ", &len);
	ck_assert_uint_eq(len, want.len);
	ck_assert_msg(memcmp(got, want.buf, len) == 0,
		      "prefixed spilled output differs");
	ck_assert_int_eq(got[len - 1], '\n');
	free(got);

	tf_output_release(&o);
	tf_strbuf_release(&want);
	free(data);
}
END_TEST

START_TEST(test_write_bad_fd)
{
	struct tf_output o;

	tf_output_init(&o);
	ck_assert_int_eq(tf_output_append(&o, "x\n", 2, SIZE_MAX), 0);
	ck_assert_int_eq(tf_output_write(&o, -1, NULL), -EBADF);
	ck_assert_int_eq(tf_output_write(&o, -1, "p "), -EBADF);
	tf_output_release(&o);
}
END_TEST

/* Tasks and results. */

START_TEST(test_task_copy)
{
	static const char cmd[] = "echo a\0hidden";
	struct tf_task src, dst;

	memset(&src, 0, sizeof(src));
	src.id = 123;
	src.attempt = 2;
	src.cmd_len = sizeof(cmd) - 1;
	src.cmd = malloc(sizeof(cmd));
	ck_assert_ptr_nonnull(src.cmd);
	memcpy(src.cmd, cmd, sizeof(cmd));

	/* A deep copy of the counted bytes, NULs included, that outlives
	 * the original. */
	tf_task_copy(&dst, &src);
	ck_assert_uint_eq(dst.id, 123);
	ck_assert_uint_eq(dst.attempt, 2);
	ck_assert_uint_eq(dst.cmd_len, sizeof(cmd) - 1);
	ck_assert_ptr_ne(dst.cmd, src.cmd);
	ck_assert_int_eq(memcmp(dst.cmd, cmd, sizeof(cmd) - 1), 0);
	ck_assert_int_eq(dst.cmd[dst.cmd_len], '\0');
	memset(src.cmd, 'X', sizeof(cmd) - 1);
	tf_task_release(&src);
	ck_assert_ptr_null(src.cmd);
	ck_assert_uint_eq(src.cmd_len, 0);
	ck_assert_int_eq(memcmp(dst.cmd, cmd, sizeof(cmd) - 1), 0);
	tf_task_release(&dst);
}
END_TEST

START_TEST(test_result_init_release)
{
	struct tf_result r;

	memset(&r, 0x5a, sizeof(r));
	tf_result_init(&r);
	/* -1 means "not run anywhere yet"; 0 would be a real rank/slot. */
	ck_assert_int_eq(r.rank, -1);
	ck_assert_int_eq(r.slot, -1);
	ck_assert_int_eq(r.status, TF_STATUS_OK);
	ck_assert_int_eq(r.streamed, 0);
	ck_assert_int_eq(r.out.spill_fd, -1);
	ck_assert_int_eq(r.err.spill_fd, -1);
	ck_assert_ptr_null(r.out.mem);
	ck_assert_int_eq(tf_output_append(&r.out, "o", 1, 0), 0);
	ck_assert_int_eq(tf_output_append(&r.err, "e", 1, SIZE_MAX), 0);
	tf_result_release(&r);
	ck_assert_int_eq(r.out.spill_fd, -1);
	ck_assert_ptr_null(r.err.mem);
	ck_assert_uint_eq(r.out.len + r.err.len, 0);
}
END_TEST

START_TEST(test_status_names)
{
	/* These names appear in journals and reports that scripts parse. */
	ck_assert_str_eq(tf_status_name(TF_STATUS_OK), "ok");
	ck_assert_str_eq(tf_status_name(TF_STATUS_FAILED), "failed");
	ck_assert_str_eq(tf_status_name(TF_STATUS_SIGNALED), "signal");
	ck_assert_str_eq(tf_status_name(TF_STATUS_TIMEOUT), "timeout");
	ck_assert_str_eq(tf_status_name(TF_STATUS_INTERRUPTED), "interrupted");
	ck_assert_str_eq(tf_status_name(TF_STATUS_SPAWN_FAILED),
			 "spawn-failed");
	ck_assert_str_eq(tf_status_name(TF_STATUS_NOT_STARTED), "not-started");
	ck_assert_str_eq(tf_status_name(TF_STATUS_LOST), "lost");
	ck_assert_str_eq(tf_status_name(TF_STATUS_OUTPUT_LOST), "output-lost");
	ck_assert_str_eq(tf_status_name(TF_STATUS_LAST + 1), "unknown");
	ck_assert_str_eq(tf_status_name(-1), "unknown");
}
END_TEST

/* util.h helpers. */

START_TEST(test_parse_duration_accepts)
{
	static const struct {
		const char *s;
		double seconds;
	} ok[] = {
		{ "30", 30 },	  { "1.5", 1.5 },   { "90s", 90 },
		{ "10m", 600 },	  { "2h", 7200 },   { "1d", 86400 },
		{ "0", 0 },	  { "0.5m", 30 },   { "0.25h", 900 },
	};
	size_t i;
	double v;

	for (i = 0; i < ARRAY_SIZE(ok); i++) {
		v = -1;
		ck_assert_msg(tf_parse_duration(ok[i].s, &v) == 0,
			      "'%s' rejected", ok[i].s);
		ck_assert_msg(v == ok[i].seconds, "'%s' gave %g, want %g",
			      ok[i].s, v, ok[i].seconds);
	}
}
END_TEST

START_TEST(test_parse_duration_rejects)
{
	static const char *const bad[] = {
		"", "-1", "-0.5s", "abc", "5x", "1mm", "1ms", "nan", "NaN",
		"inf", "1e400", "s", "10 m", "10m ",
	};
	size_t i;
	double v;

	ck_assert_int_eq(tf_parse_duration(NULL, &v), TF_EINVAL);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		v = 42;
		ck_assert_msg(tf_parse_duration(bad[i], &v) == TF_EINVAL,
			      "'%s' accepted as %g", bad[i], v);
		/* Nothing is stored on failure. */
		ck_assert(v == 42);
	}
}
END_TEST

START_TEST(test_parse_long)
{
	char big[64];
	long v;

	ck_assert_int_eq(tf_parse_long("42", 0, 100, &v), 0);
	ck_assert_int_eq(v, 42);
	ck_assert_int_eq(tf_parse_long("-7", -10, 10, &v), 0);
	ck_assert_int_eq(v, -7);
	/* The range is inclusive at both ends. */
	ck_assert_int_eq(tf_parse_long("1", 1, 5, &v), 0);
	ck_assert_int_eq(tf_parse_long("5", 1, 5, &v), 0);
	ck_assert_int_eq(v, 5);
	snprintf(big, sizeof(big), "%ld", LONG_MAX);
	ck_assert_int_eq(tf_parse_long(big, 0, LONG_MAX, &v), 0);
	ck_assert_int_eq(v, LONG_MAX);

	v = 99;
	ck_assert_int_eq(tf_parse_long("0", 1, 5, &v), TF_EINVAL);
	ck_assert_int_eq(tf_parse_long("6", 1, 5, &v), TF_EINVAL);
	ck_assert_int_eq(tf_parse_long("-1", 0, 5, &v), TF_EINVAL);
	ck_assert_int_eq(tf_parse_long("", 0, 5, &v), TF_EINVAL);
	ck_assert_int_eq(tf_parse_long(NULL, 0, 5, &v), TF_EINVAL);
	ck_assert_int_eq(tf_parse_long("3x", 0, 5, &v), TF_EINVAL);
	ck_assert_int_eq(tf_parse_long("1.5", 0, 5, &v), TF_EINVAL);
	ck_assert_int_eq(tf_parse_long("abc", 0, 5, &v), TF_EINVAL);
	/* Out of the range of long: must not wrap into the range. */
	ck_assert_int_eq(tf_parse_long("9223372036854775808", LONG_MIN,
				       LONG_MAX, &v),
			 TF_EINVAL);
	ck_assert_int_eq(tf_parse_long("18446744073709551617", 0, 5, &v),
			 TF_EINVAL);
	ck_assert_int_eq(v, 99);
}
END_TEST

START_TEST(test_strbuf_addf_growth)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	char want[512], piece[300];
	size_t prefix, n, i;

	/* Every split between what is already in the buffer and what one
	 * addf() adds, around the sizes where the buffer must grow. */
	for (prefix = 0; prefix < 140; prefix += 3) {
		for (n = 0; n < 300; n += 7) {
			tf_strbuf_reset(&sb);
			for (i = 0; i < prefix; i++)
				tf_strbuf_addch(&sb, 'p');
			memset(piece, 'q', n);
			piece[n] = '\0';
			tf_strbuf_addf(&sb, "%s%d", piece, 7);
			memset(want, 'p', prefix);
			memcpy(want + prefix, piece, n);
			snprintf(want + prefix + n, 8, "%d", 7);
			ck_assert_uint_eq(sb.len, prefix + n + 1);
			ck_assert_str_eq(sb.buf, want);
			ck_assert_uint_lt(sb.len, sb.alloc);
		}
	}
	tf_strbuf_release(&sb);

	/* Many small appends. */
	for (i = 0; i < 10000; i++)
		tf_strbuf_addf(&sb, "%05zu,", i);
	ck_assert_uint_eq(sb.len, 60000);
	ck_assert_int_eq(strncmp(sb.buf, "00000,00001,", 12), 0);
	ck_assert_str_eq(sb.buf + 59994, "09999,");
	tf_strbuf_release(&sb);
	ck_assert_ptr_null(sb.buf);
}
END_TEST

START_TEST(test_strbuf_binary_and_detach)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	size_t len = 0;
	char *p;

	tf_strbuf_add(&sb, "a\0b", 3);
	tf_strbuf_addch(&sb, 0);
	tf_strbuf_addstr(&sb, "cd");
	ck_assert_uint_eq(sb.len, 6);
	ck_assert_int_eq(memcmp(sb.buf, "a\0b\0cd", 7), 0);
	p = tf_strbuf_detach(&sb, &len);
	ck_assert_uint_eq(len, 6);
	ck_assert_int_eq(memcmp(p, "a\0b\0cd", 7), 0);
	/* The buffer now belongs to the caller; sb starts afresh. */
	ck_assert_ptr_null(sb.buf);
	ck_assert_uint_eq(sb.len, 0);
	free(p);
}
END_TEST

START_TEST(test_strbuf_empty_is_terminated)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	size_t len = 99;
	char *dirty, *p;

	/* util.h promises buf is always NUL-terminated, so a buffer that was
	 * only grown, or detached while empty, must read as "". Dirty a
	 * block of the size the buffer will get, so that malloc is likely
	 * to hand back non-zero bytes if nothing writes the terminator. */
	dirty = malloc(64);
	ck_assert_ptr_nonnull(dirty);
	memset(dirty, 'G', 64);
	free(dirty);
	tf_strbuf_grow(&sb, 10);
	ck_assert_ptr_nonnull(sb.buf);
	ck_assert_uint_eq(sb.len, 0);
	ck_assert_int_eq(sb.buf[0], '\0');
	tf_strbuf_release(&sb);

	dirty = malloc(64);
	ck_assert_ptr_nonnull(dirty);
	memset(dirty, 'G', 64);
	free(dirty);
	p = tf_strbuf_detach(&sb, &len);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(p[0], '\0');
	free(p);
}
END_TEST

START_TEST(test_strerror)
{
	/* Every code of enum tf_error: -5007 and -5008 are retired. */
	static const int codes[] = {
		TF_EINVAL, TF_EPARSE, TF_ETOOLONG, TF_EPROTO, TF_EMPI,
		TF_ESPAWN, TF_EREGISTER, TF_ESTATE, TF_ECANCELLED, TF_ETASK,
		TF_ECRASH, TF_ELOST, TF_ETOOBIG
	};
	size_t i, j;

	ck_assert_str_eq(tf_strerror(0), "success");
	ck_assert_str_eq(tf_strerror(TF_EINVAL), "invalid argument");
	ck_assert_str_eq(tf_strerror(TF_EPROTO),
			 "malformed message between ranks");
	/* Each of our codes has its own message, distinct from the generic
	 * fallback. */
	for (i = 0; i < ARRAY_SIZE(codes); i++) {
		ck_assert_str_ne(tf_strerror(codes[i]), "unknown error");
		ck_assert_uint_gt(strlen(tf_strerror(codes[i])), 0);
		for (j = i + 1; j < ARRAY_SIZE(codes); j++)
			ck_assert_str_ne(tf_strerror(codes[i]),
					 tf_strerror(codes[j]));
	}
	/* -errno values read as the system's own message. */
	ck_assert_str_eq(tf_strerror(-ENOENT), strerror(ENOENT));
	ck_assert_str_eq(tf_strerror(-EISDIR), strerror(EISDIR));
	ck_assert_str_eq(tf_strerror(-4999), "unknown error");
	ck_assert_str_eq(tf_strerror(-5007), "unknown error");
	ck_assert_str_eq(tf_strerror(-5008), "unknown error");
	ck_assert_str_eq(tf_strerror(5), "unknown error");
}
END_TEST

/* The idle backoff: doubling from min, capped at max while the loop was
 * busy recently, and at up to 10 x max after a long quiet spell. */
START_TEST(test_backoff)
{
	double d = 0;
	int i;

	ck_assert(tf_backoff(0, 0, 1e-4, 1e-3) == 1e-4);
	ck_assert(tf_backoff(1e-4, 0, 1e-4, 1e-3) == 2e-4);
	for (i = 0; i < 20; i++)
		d = tf_backoff(d, 0.001, 1e-4, 1e-3);
	ck_assert(d == 1e-3);
	/* Quiet for 0.1 s: the cap is 0.1 / 20 = 5 ms. */
	for (i = 0; i < 20; i++)
		d = tf_backoff(d, 0.1, 1e-4, 1e-3);
	ck_assert(fabs(d - 5e-3) < 1e-12);
	/* Quiet for a minute: never more than 10 x max. */
	for (i = 0; i < 20; i++)
		d = tf_backoff(d, 60, 1e-4, 1e-3);
	ck_assert(fabs(d - 1e-2) < 1e-12);
}
END_TEST

static Suite *task_suite(void)
{
	Suite *s = suite_create("task");
	TCase *tc;

	tc = tcase_create("output");
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_output_init);
	tcase_add_test(tc, test_append_under_threshold_stays_in_memory);
	tcase_add_test(tc, test_append_over_threshold_spills);
	tcase_add_test(tc, test_spill_preserves_order);
	tcase_add_test(tc, test_spill_to_missing_dir_loses_output);
	tcase_add_test(tc, test_spill_to_non_directory_loses_output);
	tcase_add_test(tc, test_pread_offsets);
	tcase_add_test(tc, test_copy_and_drop_front);
	suite_add_tcase(s, tc);

	tc = tcase_create("write");
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_write_plain);
	tcase_add_test(tc, test_write_prefixed);
	tcase_add_test(tc, test_write_prefixed_spilled);
	tcase_add_test(tc, test_write_bad_fd);
	suite_add_tcase(s, tc);

	tc = tcase_create("task");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_task_copy);
	tcase_add_test(tc, test_result_init_release);
	tcase_add_test(tc, test_status_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("util");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_parse_duration_accepts);
	tcase_add_test(tc, test_parse_duration_rejects);
	tcase_add_test(tc, test_parse_long);
	tcase_add_test(tc, test_strbuf_addf_growth);
	tcase_add_test(tc, test_strbuf_binary_and_detach);
	tcase_add_test(tc, test_strbuf_empty_is_terminated);
	tcase_add_test(tc, test_strerror);
	tcase_add_test(tc, test_backoff);
	suite_add_tcase(s, tc);

	return s;
}

TF_CHECK_MAIN(task_suite)
