/*
 * Tests of output delivery (writer.h): a stalled reader stalls only the
 * writer thread, and what waits is bounded; a failed stream stays failed;
 * --results files are regular files or refused (a FIFO does not hang, a
 * symbolic link is not followed); abandoned output is handed back.
 */
#include "config.h"

#include "check_util.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>

#include "farm/task.h"
#include "core/util.h"
#include "farm/writer.h"

static int saved_stdout = -1;

/* Points standard output at fd until stdout_back(). */
static void stdout_to(int fd)
{
	saved_stdout = dup(STDOUT_FILENO);
	ck_assert_int_ge(saved_stdout, 0);
	ck_assert_int_eq(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
}

static void stdout_back(void)
{
	ck_assert_int_eq(dup2(saved_stdout, STDOUT_FILENO), STDOUT_FILENO);
	close(saved_stdout);
	saved_stdout = -1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A job for task id whose standard output is len bytes of c. */
static struct tf_writer_job *job(uint64_t id, size_t len, char c)
{
	struct tf_writer_job *j = tf__xcalloc(1, sizeof(*j));
	char *buf = tf__xmalloc(len ? len : 1);

	tf_result_init(&j->r);
	j->r.id = id;
	memset(buf, c, len);
	ck_assert_int_eq(tf_output_append(&j->r.out, buf, len, SIZE_MAX), 0);
	free(buf);
	return j;
}

/* Waits up to 5 s for delivered jobs. */
static struct tf_writer_job *collect_wait(struct tf_writer *w)
{
	double until = now() + 5;
	struct tf_writer_job *j;

	while (!(j = tf__writer_collect(w)) && now() < until)
		usleep(1000);
	return j;
}

/* Reads exactly len bytes from fd. */
static void read_exactly(int fd, size_t len)
{
	char buf[65536];

	while (len > 0) {
		ssize_t n = read(fd, buf, len < sizeof(buf) ? len : sizeof(buf));
		ck_assert_int_gt(n, 0);
		len -= (size_t)n;
	}
}

START_TEST(test_unthreaded_delivers_at_once)
{
	struct tf_writer *w;
	struct tf_writer_job *j = job(7, 5, 'x');
	char buf[16];
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(tf__writer_new(&w, -1, 1, 0), 0);
	stdout_to(p[1]);
	ck_assert_int_eq(tf__writer_add(w, j), 1);
	stdout_back();
	ck_assert_int_eq(j->error, 0);
	ck_assert_uint_eq(tf__writer_pending(w), 0);
	/* --tag: the id and a tab, and the last line ended. */
	ck_assert_int_eq(read(p[0], buf, sizeof(buf)), 8);
	ck_assert_int_eq(memcmp(buf, "7\txxxxx\n", 8), 0);
	tf__writer_job_free(j);
	tf__writer_free(&w);
	ck_assert_ptr_null(w);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(test_stalled_reader_does_not_block_add)
{
	struct tf_writer *w;
	struct tf_writer_job *j;
	double t0;
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(tf__writer_new(&w, -1, 0, 1), 0);
	stdout_to(p[1]);
	/* More than a pipe holds: the thread blocks in write(). */
	t0 = now();
	ck_assert_int_eq(tf__writer_add(w, job(1, 300000, 'a')), 0);
	ck_assert_int_eq(tf__writer_add(w, job(2, 10, 'b')), 0);
	ck_assert_msg(now() - t0 < 1.0, "adding took %.3f s", now() - t0);
	usleep(200000);
	ck_assert_ptr_null(tf__writer_collect(w));
	ck_assert_uint_eq(tf__writer_pending(w), 2);
	/* The reader comes back: both are delivered, whole, in order. */
	read_exactly(p[0], 300010);
	j = collect_wait(w);
	ck_assert_ptr_nonnull(j);
	ck_assert_uint_eq(j->r.id, 1);
	ck_assert_int_eq(j->error, 0);
	if (!j->next) {
		tf__writer_job_free(j);
		j = collect_wait(w);
	} else {
		struct tf_writer_job *next = j->next;

		tf__writer_job_free(j);
		j = next;
	}
	ck_assert_ptr_nonnull(j);
	ck_assert_uint_eq(j->r.id, 2);
	ck_assert_int_eq(j->error, 0);
	tf__writer_job_free(j);
	ck_assert_uint_eq(tf__writer_pending(w), 0);
	stdout_back();
	tf__writer_free(&w);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(test_full_at_the_job_bound)
{
	struct tf_writer *w;
	struct tf_writer_job *j, *next;
	size_t i, got = 0;
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(tf__writer_new(&w, -1, 0, 1), 0);
	stdout_to(p[1]);
	ck_assert_int_eq(tf__writer_add(w, job(1, 300000, 'a')), 0);
	for (i = 2; i < TF_WRITER_MAX_JOBS; i++)
		ck_assert_int_eq(tf__writer_add(w, job(i, 1, 'b')), 0);
	ck_assert_int_eq(tf__writer_full(w), 0);
	ck_assert_int_eq(tf__writer_add(w, job(i, 1, 'b')), 0);
	ck_assert_int_eq(tf__writer_full(w), 1);
	read_exactly(p[0], 300000 + TF_WRITER_MAX_JOBS - 1);
	while (got < TF_WRITER_MAX_JOBS && (j = collect_wait(w)) != NULL)
		for (; j; j = next, got++) {
			next = j->next;
			ck_assert_uint_eq(j->r.id, got + 1);
			tf__writer_job_free(j);
		}
	ck_assert_uint_eq(got, TF_WRITER_MAX_JOBS);
	ck_assert_int_eq(tf__writer_full(w), 0);
	stdout_back();
	tf__writer_free(&w);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(test_failed_stream_stays_failed)
{
	struct tf_writer *w;
	struct tf_writer_job *j1 = job(1, 10, 'a'), *j2 = job(2, 10, 'b');
	struct tf_writer_job *j3 = job(3, 0, 'c');
	int full = open("/dev/full", O_WRONLY);

	ck_assert_int_ge(full, 0);
	ck_assert_int_eq(tf__writer_new(&w, -1, 0, 0), 0);
	stdout_to(full);
	ck_assert_int_eq(tf__writer_add(w, j1), 1);
	ck_assert_int_eq(tf__writer_add(w, j2), 1);
	ck_assert_int_eq(tf__writer_add(w, j3), 1);
	stdout_back();
	ck_assert_int_eq(j1->error, -ENOSPC);
	ck_assert_int_eq(j1->where, TF_WRITER_STDOUT);
	ck_assert_int_eq(j2->error, -ENOSPC);
	ck_assert_int_eq(j2->where, TF_WRITER_STDOUT);
	/* Nothing to write, nothing lost. */
	ck_assert_int_eq(j3->error, 0);
	tf__writer_job_free(j1);
	tf__writer_job_free(j2);
	tf__writer_job_free(j3);
	tf__writer_free(&w);
	close(full);
}
END_TEST

static struct tf_writer_job *find(struct tf_writer_job *list, uint64_t id)
{
	for (; list; list = list->next)
		if (list->r.id == id)
			return list;
	return NULL;
}

START_TEST(test_results_refuses_what_is_no_regular_file)
{
	struct tf_writer *w;
	struct tf_writer_job *all = NULL, *j, **end = &all;
	char buf[64];
	struct stat st;
	int dfd, fd, n = 0;

	ck_assert_int_eq(mkdir(tmppath("res"), 0755), 0);
	ck_assert_int_eq(mkfifo(tmppath("res/1.out"), 0644), 0);
	write_file("target", "precious", 8);
	ck_assert_int_eq(symlink(tmppath("target"), tmppath("res/2.out")), 0);
	write_file("res/3.out", "old and longer contents", 23);
	dfd = open(tmppath("res"), O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(dfd, 0);
	ck_assert_int_eq(tf__writer_new(&w, dfd, 0, 1), 0);
	for (n = 1; n <= 3; n++)
		ck_assert_int_eq(tf__writer_add(w, job((uint64_t)n, 3, 'z')), 0);
	/* A FIFO nobody reads must not hang it (the tcase timeout). */
	while (n > 1 && (j = collect_wait(w)) != NULL) {
		*end = j;
		while (*end) {
			end = &(*end)->next;
			n--;
		}
	}
	ck_assert_int_eq(n, 1);

	j = find(all, 1);
	ck_assert_int_eq(j->where, TF_WRITER_RESULTS);
	ck_assert_int_eq(j->refused, 1);
	ck_assert_str_eq(j->name, "1.out");
	/* Its other file is still written. */
	ck_assert_int_eq(stat(tmppath("res/1.err"), &st), 0);
	ck_assert(S_ISREG(st.st_mode));

	j = find(all, 2);
	ck_assert_int_eq(j->refused, 1);
	ck_assert_str_eq(j->name, "2.out");
	fd = open(tmppath("target"), O_RDONLY);
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), 8);
	close(fd);
	ck_assert_int_eq(memcmp(buf, "precious", 8), 0);

	j = find(all, 3);
	ck_assert_int_eq(j->error, 0);
	fd = open(tmppath("res/3.out"), O_RDONLY);
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), 3);
	close(fd);
	ck_assert_int_eq(memcmp(buf, "zzz", 3), 0);

	while ((j = all) != NULL) {
		all = j->next;
		tf__writer_job_free(j);
	}
	tf__writer_free(&w); /* closes dfd */
}
END_TEST

START_TEST(test_abandon_hands_back_what_waits)
{
	struct tf_writer *w;
	struct tf_writer_job *left, *j;
	int p[2], n = 0;

	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(tf__writer_new(&w, -1, 0, 1), 0);
	stdout_to(p[1]);
	ck_assert_int_eq(tf__writer_add(w, job(1, 300000, 'a')), 0);
	ck_assert_int_eq(tf__writer_add(w, job(2, 10, 'b')), 0);
	ck_assert_int_eq(tf__writer_add(w, job(3, 10, 'c')), 0);
	usleep(100000);
	left = tf__writer_abandon(&w);
	while ((j = left) != NULL) {
		ck_assert_uint_eq(j->r.id, (uint64_t)++n);
		left = j->next;
		tf__writer_job_free(j); /* the caller's now */
	}
	ck_assert_int_eq(n, 3);
	/* The fresh writer waits for nothing and writes nothing. */
	ck_assert_uint_eq(tf__writer_pending(w), 0);
	j = job(4, 10, 'd');
	ck_assert_int_eq(tf__writer_add(w, j), 1);
	ck_assert_int_eq(j->error, -EPIPE);
	tf__writer_job_free(j);
	tf__writer_free(&w);
	/* The old thread's write fails now (EPIPE), and it leaves, taking
	 * no other job. Only then may fd 1 be ours again: each write() it
	 * makes looks fd 1 up anew. */
	close(p[0]);
	usleep(300000);
	stdout_back();
	close(p[1]);
}
END_TEST

static Suite *writer_suite(void)
{
	Suite *s = suite_create("writer");
	TCase *tc = tcase_create("stdout");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_unthreaded_delivers_at_once);
	tcase_add_test(tc, test_stalled_reader_does_not_block_add);
	tcase_add_test(tc, test_full_at_the_job_bound);
	tcase_add_test(tc, test_failed_stream_stays_failed);
	tcase_add_test(tc, test_abandon_hands_back_what_waits);
	suite_add_tcase(s, tc);

	tc = tcase_create("results");
	tcase_set_timeout(tc, 20);
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_add_test(tc, test_results_refuses_what_is_no_regular_file);
	suite_add_tcase(s, tc);

	return s;
}

TF_CHECK_MAIN(writer_suite)
