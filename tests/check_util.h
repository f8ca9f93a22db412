/*
 * Shared helpers for the Check suites: a temporary directory per test,
 * writing small files into it, and the common main() that runs a suite
 * with srunner_run_all(sr, CK_ENV) so CK_VERBOSITY, CK_RUN_CASE,
 * CK_FORK=no and CK_TAP_LOG_FILE_NAME work.
 */
#ifndef TF_CHECK_UTIL_H
#define TF_CHECK_UTIL_H

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[4096];

static inline int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Fixture: a fresh temporary directory, removed after the test. */
static inline void tmpdir_setup(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/tfcheck-XXXXXX",
		 base && *base ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static inline void tmpdir_teardown(void)
{
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Returns a static path inside the temporary directory. */
static inline const char *tmppath(const char *name)
{
	static char path[2][4200];
	static int which;

	which ^= 1;
	snprintf(path[which], sizeof(path[which]), "%s/%s", tmpdir, name);
	return path[which];
}

/* Writes len bytes of data to a file in the temporary directory and
 * returns its path. */
static inline const char *write_file(const char *name, const void *data, size_t len)
{
	const char *path = tmppath(name);
	FILE *fp = fopen(path, "wb");

	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(data, 1, len, fp), len);
	ck_assert_int_eq(fclose(fp), 0);
	return path;
}

/* Reads a whole file into a malloc'd NUL-terminated buffer. */
static inline char *read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, alloc = 0, r;

	ck_assert_ptr_nonnull(fp);
	do {
		if (n + 4096 + 1 > alloc) {
			alloc = (n + 4096 + 1) * 2;
			buf = realloc(buf, alloc);
			ck_assert_ptr_nonnull(buf);
		}
		r = fread(buf + n, 1, 4096, fp);
		n += r;
	} while (r > 0);
	fclose(fp);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

#define TF_CHECK_MAIN(suite_fn)                                                \
	int main(void)                                                         \
	{                                                                      \
		SRunner *sr = srunner_create(suite_fn());                      \
		int failed;                                                    \
		srunner_run_all(sr, CK_ENV);                                   \
		failed = srunner_ntests_failed(sr);                            \
		srunner_free(sr);                                              \
		return failed ? EXIT_FAILURE : EXIT_SUCCESS;                   \
	}

#endif
