/*
 * Unlinked temporary files: mkostemp() with O_CLOEXEC (no window in
 * which a task spawned meanwhile inherits the descriptor), then unlink()
 * before anyone else can see the name for long.
 */
#include "config.h"

#include "core/tempfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

const char *tf_tempfile_dir(void)
{
	const char *dir = getenv("TMPDIR");

	return dir && *dir ? dir : "/tmp";
}

int tf_tempfile_open(const char *prefix)
{
	char path[4096];
	int fd, n;

	n = snprintf(path, sizeof(path), "%s/%s-XXXXXX", tf_tempfile_dir(),
		     prefix);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (unlink(path) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}
