/*
 * The job-file reader. It streams the file one logical line at a time so
 * that a million-line job costs no more memory than a ten-line one, and it
 * can validate a whole file in one pass before the first task starts.
 */
#include "config.h"

#include "jobfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "taskfarm.h"

static int fail(struct tf_jobfile *jf, uint64_t line, int err,
		const char *fmt, const char *arg)
{
	char what[512];

	snprintf(what, sizeof(what), fmt, arg);
	if (line)
		snprintf(jf->errmsg, sizeof(jf->errmsg), "%s:%llu: %s",
			 jf->path, (unsigned long long)line, what);
	else
		snprintf(jf->errmsg, sizeof(jf->errmsg), "%s: %s", jf->path,
			 what);
	return err;
}

/* Copies an unseekable source into an unlinked temporary file. */
static FILE *spool(FILE *in, int *err)
{
	const char *dir = getenv("TMPDIR");
	char path[4096], buf[65536];
	size_t n;
	FILE *out;
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	snprintf(path, sizeof(path), "%s/taskfarm-jobs-XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	unlink(path);
	tf_set_cloexec(fd);
	out = fdopen(fd, "w+");
	if (!out) {
		*err = -errno;
		close(fd);
		return NULL;
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
		if (fwrite(buf, 1, n, out) != n) {
			*err = -errno;
			fclose(out);
			return NULL;
		}
	}
	if (ferror(in) || fflush(out) != 0) {
		*err = ferror(in) ? -EIO : -errno;
		fclose(out);
		return NULL;
	}
	rewind(out);
	return out;
}

int tf_jobfile_open(struct tf_jobfile *jf, const char *path)
{
	struct stat st;
	FILE *fp;
	int err = 0;

	memset(jf, 0, sizeof(*jf));
	jf->path = tf__xstrdup(path);
	tf_strbuf_init(&jf->line);
	tf_strbuf_init(&jf->phys);
	if (strcmp(path, "-") == 0) {
		fp = stdin;
	} else {
		fp = fopen(path, "re");
		if (!fp) {
			err = -errno;
			fail(jf, 0, err, "cannot open: %s", strerror(errno));
			goto fail;
		}
	}
	if (fstat(fileno(fp), &st) < 0) {
		err = -errno;
		fail(jf, 0, err, "cannot stat: %s", strerror(errno));
		goto fail_close;
	}
	if (S_ISDIR(st.st_mode)) {
		err = -EISDIR;
		fail(jf, 0, err, "%s", "is a directory, not a job file");
		goto fail_close;
	}
	if (!S_ISREG(st.st_mode)) {
		FILE *copy = spool(fp, &err);
		if (!copy) {
			fail(jf, 0, err, "cannot read: %s", tf_strerror(err));
			goto fail_close;
		}
		if (fp != stdin)
			fclose(fp);
		fp = copy;
	}
	jf->fp = fp;
	return 0;

fail_close:
	if (fp != stdin)
		fclose(fp);
fail:
	free(jf->path);
	jf->path = NULL;
	return err;
}

/*
 * Reads one physical line into jf->phys without its line ending.
 * Returns 1, 0 at the end of the file, or a negative code.
 */
static int read_phys(struct tf_jobfile *jf)
{
	FILE *fp = jf->fp;
	int c, any = 0;

	tf_strbuf_reset(&jf->phys);
	while ((c = getc_unlocked(fp)) != EOF) {
		any = 1;
		if (c == '\n')
			break;
		if (c == '\0')
			return fail(jf, jf->lineno + 1, TF_EPARSE, "%s",
				    "NUL byte in line");
		if (jf->phys.len > TF_MAX_LINE)
			return fail(jf, jf->lineno + 1, TF_ETOOLONG,
				    "line longer than %s bytes", "1048576");
		tf_strbuf_addch(&jf->phys, c);
	}
	if (ferror(fp))
		return fail(jf, jf->lineno + 1, -EIO, "read error: %s",
			    strerror(errno));
	if (!any)
		return 0;
	jf->lineno++;
	if (jf->phys.len && jf->phys.buf[jf->phys.len - 1] == '\r')
		jf->phys.buf[--jf->phys.len] = '\0';
	/* Checked after the CR is gone, so CRLF files get the same limit. */
	if (jf->phys.len > TF_MAX_LINE)
		return fail(jf, jf->lineno, TF_ETOOLONG,
			    "line longer than %s bytes", "1048576");
	return 1;
}

int tf_jobfile_next_line(struct tf_jobfile *jf)
{
	return read_phys(jf);
}

static int is_blank_or_comment(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' ||
		    s[i] == '\f' || s[i] == '\v')
			continue;
		return s[i] == '#';
	}
	return 1;
}

static size_t trailing_backslashes(const char *s, size_t len)
{
	size_t n = 0;

	while (n < len && s[len - 1 - n] == '\\')
		n++;
	return n;
}

int tf_jobfile_next(struct tf_jobfile *jf, struct tf_task *task)
{
	uint64_t start = 0;
	int in_cont = 0;

	tf_strbuf_reset(&jf->line);
	for (;;) {
		int r = read_phys(jf);
		size_t len;

		if (r < 0)
			return r;
		if (r == 0) {
			if (in_cont)
				return fail(jf, start, TF_EPARSE, "%s",
					    "line continues past the end of "
					    "the file (trailing backslash)");
			return 0;
		}
		len = jf->phys.len;
		if (!in_cont) {
			if (is_blank_or_comment(jf->phys.buf, len))
				continue;
			start = jf->lineno;
		}
		in_cont = trailing_backslashes(jf->phys.buf, len) % 2 == 1;
		if (in_cont)
			len--;
		if (jf->line.len + len > TF_MAX_LINE)
			return fail(jf, start, TF_ETOOLONG,
				    "task longer than %s bytes",
				    "1048576");
		tf_strbuf_add(&jf->line, jf->phys.buf, len);
		if (!in_cont)
			break;
	}
	memset(task, 0, sizeof(*task));
	task->avoid_rank = -1;
	task->id = start;
	task->attempt = 1;
	task->cmd_len = (uint32_t)jf->line.len;
	task->cmd = tf__xstrndup(jf->line.buf ? jf->line.buf : "",
				 jf->line.len);
	return 1;
}

int tf_jobfile_scan(struct tf_jobfile *jf)
{
	struct tf_task t;
	uint64_t n = 0;
	int r;

	if (fseeko(jf->fp, 0, SEEK_SET) < 0)
		return fail(jf, 0, -errno, "cannot rewind: %s",
			    strerror(errno));
	jf->lineno = 0;
	jf->fingerprint = TF_HASH_INIT;
	while ((r = tf_jobfile_next(jf, &t)) > 0) {
		n++;
		jf->fingerprint = tf_hash(jf->fingerprint, &t.id, sizeof(t.id));
		jf->fingerprint = tf_hash(jf->fingerprint, t.cmd, t.cmd_len + 1);
		tf_task_release(&t);
	}
	if (r < 0)
		return r;
	jf->ntasks = n;
	if (fseeko(jf->fp, 0, SEEK_SET) < 0)
		return fail(jf, 0, -errno, "cannot rewind: %s",
			    strerror(errno));
	clearerr(jf->fp);
	jf->lineno = 0;
	return 0;
}

void tf_jobfile_close(struct tf_jobfile *jf)
{
	if (jf->fp && jf->fp != stdin)
		fclose(jf->fp);
	jf->fp = NULL;
	free(jf->path);
	jf->path = NULL;
	tf_strbuf_release(&jf->line);
	tf_strbuf_release(&jf->phys);
}
