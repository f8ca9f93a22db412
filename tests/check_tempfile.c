/*
 * Tests for unlinked temporary files (core/tempfile.c): the file is made
 * in $TMPDIR (or /tmp when it is unset or empty), is gone from the
 * directory at once, works for reading and writing, is close-on-exec,
 * and its space is freed at close; an unusable $TMPDIR gives the error,
 * leaves nothing behind, and the job-file spool's message names it.
 */
#include "config.h"

#include "check_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>

#include "core/tempfile.h"
#include "farm/jobfile.h"

static char *saved_tmpdir;

static void env_setup(void)
{
	const char *old = getenv("TMPDIR");

	tmpdir_setup();
	saved_tmpdir = old ? strdup(old) : NULL;
}

static void env_teardown(void)
{
	if (saved_tmpdir) {
		setenv("TMPDIR", saved_tmpdir, 1);
		free(saved_tmpdir);
		saved_tmpdir = NULL;
	} else {
		unsetenv("TMPDIR");
	}
	tmpdir_teardown();
}

/* Entries in dir other than . and .. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

START_TEST(test_dir)
{
	ck_assert_int_eq(setenv("TMPDIR", tmpdir, 1), 0);
	ck_assert_str_eq(tf_tempfile_dir(), tmpdir);
	ck_assert_int_eq(setenv("TMPDIR", "", 1), 0);
	ck_assert_str_eq(tf_tempfile_dir(), "/tmp");
	ck_assert_int_eq(unsetenv("TMPDIR"), 0);
	ck_assert_str_eq(tf_tempfile_dir(), "/tmp");
}
END_TEST

START_TEST(test_unlinked_and_usable)
{
	struct stat st;
	char buf[6];
	int fd, flags;

	ck_assert_int_eq(setenv("TMPDIR", tmpdir, 1), 0);
	fd = tf_tempfile_open("tfcheck");
	ck_assert_int_ge(fd, 0);
	/* Gone from the directory already, but a file of its own. */
	ck_assert_int_eq(count_entries(tmpdir), 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_uint_eq(st.st_nlink, 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	flags = fcntl(fd, F_GETFD);
	ck_assert_int_ge(flags, 0);
	ck_assert(flags & FD_CLOEXEC);
	ck_assert_int_eq(write(fd, "hello", 5), 5);
	ck_assert_int_eq(pread(fd, buf, 5, 0), 5);
	buf[5] = '\0';
	ck_assert_str_eq(buf, "hello");
	ck_assert_int_eq(close(fd), 0);
	ck_assert_int_eq(count_entries(tmpdir), 0);
}
END_TEST

/* Two at once are two files. */
START_TEST(test_distinct)
{
	struct stat a, b;
	int fa, fb;

	ck_assert_int_eq(setenv("TMPDIR", tmpdir, 1), 0);
	fa = tf_tempfile_open("tfcheck");
	fb = tf_tempfile_open("tfcheck");
	ck_assert_int_ge(fa, 0);
	ck_assert_int_ge(fb, 0);
	ck_assert_int_eq(fstat(fa, &a), 0);
	ck_assert_int_eq(fstat(fb, &b), 0);
	ck_assert(a.st_ino != b.st_ino || a.st_dev != b.st_dev);
	close(fa);
	close(fb);
	ck_assert_int_eq(count_entries(tmpdir), 0);
}
END_TEST

START_TEST(test_unusable_dir)
{
	const char *missing = tmppath("no-such-dir");
	const char *file = write_file("a-file", "x", 1);
	char longdir[5000];

	ck_assert_int_eq(setenv("TMPDIR", missing, 1), 0);
	ck_assert_int_eq(tf_tempfile_open("tfcheck"), -ENOENT);
	ck_assert_int_eq(setenv("TMPDIR", file, 1), 0);
	ck_assert_int_eq(tf_tempfile_open("tfcheck"), -ENOTDIR);
	memset(longdir, 'd', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = '\0';
	ck_assert_int_eq(setenv("TMPDIR", longdir, 1), 0);
	ck_assert_int_eq(tf_tempfile_open("tfcheck"), -ENAMETOOLONG);
	ck_assert_int_eq(count_entries(tmpdir), 1); /* a-file only */
}
END_TEST

/* The job-file spool of an unseekable source (a pipe) through an
 * unusable $TMPDIR: the error, and a message that names $TMPDIR. */
START_TEST(test_spool_message_names_tmpdir)
{
	struct tf_jobfile jf;
	char path[64];
	int p[2], ret;

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], "echo a\n", 7), 7);
	ck_assert_int_eq(close(p[1]), 0);
	snprintf(path, sizeof(path), "/dev/fd/%d", p[0]);
	ck_assert_int_eq(setenv("TMPDIR", tmppath("no-such-dir"), 1), 0);
	memset(&jf, 0, sizeof(jf));
	ret = tf_jobfile_open(&jf, path);
	ck_assert_int_eq(ret, -ENOENT);
	ck_assert_msg(strstr(jf.errmsg, "cannot copy to $TMPDIR: "),
		      "message: %s", jf.errmsg);
	ck_assert_ptr_nonnull(strstr(jf.errmsg, strerror(ENOENT)));
	ck_assert_int_eq(close(p[0]), 0);
}
END_TEST

static Suite *tempfile_suite(void)
{
	Suite *s = suite_create("tempfile");
	TCase *tc;

	tc = tcase_create("tempfile");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, env_setup, env_teardown);
	tcase_add_test(tc, test_dir);
	tcase_add_test(tc, test_unlinked_and_usable);
	tcase_add_test(tc, test_distinct);
	tcase_add_test(tc, test_unusable_dir);
	tcase_add_test(tc, test_spool_message_names_tmpdir);
	suite_add_tcase(s, tc);
	return s;
}

TF_CHECK_MAIN(tempfile_suite)
