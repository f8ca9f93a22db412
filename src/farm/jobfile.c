/*
 * The job-file reader. It streams the file one logical line at a time so
 * that a million-line job costs no more memory than a ten-line one, and it
 * can validate a whole file in one pass before the first task starts.
 * It reads in blocks of its own (pread, not stdio) so that each block read
 * for dispatch can be checked against the hash the validating pass took:
 * what runs is what was validated, or the reader stops.
 */
#include "config.h"

#include "farm/jobfile.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/tempfile.h"
#include "farm/directive.h"
#include "taskfarm.h"

/* TF_MAX_LINE, for messages. */
#define TF_MAX_LINE_STR "131058"
_Static_assert(TF_MAX_LINE == 131058, "TF_MAX_LINE_STR is TF_MAX_LINE");

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

/*
 * What the spooler knows of the line it is copying, so that it can stop
 * an endless or binary source at its first error instead of filling
 * $TMPDIR: the same NUL, carriage-return and length rules as read_phys().
 */
struct spool_check {
	uint64_t lineno;  /* physical lines completed */
	size_t line_len;  /* bytes of the current line so far */
	int pending_cr;   /* the last byte seen was a CR */
};

static int spool_check_chunk(struct tf_jobfile *jf, struct spool_check *sc,
			     const char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = buf[i];

		if (sc->pending_cr && c != '\n')
			return fail(jf, sc->lineno + 1, TF_EPARSE, "%s",
				    "carriage return inside a line (classic "
				    "Mac OS line endings?); use LF or CRLF "
				    "line endings");
		sc->pending_cr = c == '\r';
		if (c == '\n') {
			sc->lineno++;
			sc->line_len = 0;
			continue;
		}
		if (c == '\0')
			return fail(jf, sc->lineno + 1, TF_EPARSE, "%s",
				    "NUL byte in line");
		/* One more byte is allowed for the CR of a CRLF ending. */
		if (++sc->line_len > TF_MAX_LINE + 1)
			return fail(jf, sc->lineno + 1, TF_ETOOLONG,
				    "line longer than %s bytes",
				    TF_MAX_LINE_STR);
	}
	return 0;
}

/*
 * Copies an unseekable source into an unlinked temporary file, checking
 * it on the way. Returns the copy, or NULL with jf->errmsg set and *err.
 */
static FILE *spool(struct tf_jobfile *jf, FILE *in, int *err)
{
	struct spool_check sc = { 0, 0, 0 };
	char buf[65536];
	size_t n;
	FILE *out;
	int fd;

	fd = tf_tempfile_open("taskfarm-jobs");
	if (fd < 0) {
		*err = fd;
		fail(jf, 0, *err, "cannot copy to $TMPDIR: %s", strerror(-fd));
		return NULL;
	}
	out = fdopen(fd, "w+");
	if (!out) {
		*err = -errno;
		fail(jf, 0, *err, "cannot copy to $TMPDIR: %s", strerror(errno));
		close(fd);
		return NULL;
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
		*err = spool_check_chunk(jf, &sc, buf, n);
		if (*err < 0)
			goto fail;
		if (fwrite(buf, 1, n, out) != n) {
			*err = -errno;
			fail(jf, 0, *err, "cannot copy to $TMPDIR: %s",
			     strerror(errno));
			goto fail;
		}
	}
	if (ferror(in)) {
		*err = -EIO;
		fail(jf, 0, *err, "cannot read: %s", tf_strerror(*err));
		goto fail;
	}
	if (fflush(out) != 0) {
		*err = -errno;
		fail(jf, 0, *err, "cannot copy to $TMPDIR: %s", strerror(errno));
		goto fail;
	}
	rewind(out);
	return out;
fail:
	fclose(out);
	return NULL;
}

/* How open_source() treats a source. */
enum open_mode {
	OPEN_SPOOL,  /* a non-regular source is copied, to be scanned */
	OPEN_STREAM, /* a non-regular source is read as it arrives */
	OPEN_FOLLOW  /* any source is read as it arrives */
};

static int open_source(struct tf_jobfile *jf, const char *path,
		       enum open_mode mode)
{
	struct stat st;
	FILE *fp;
	int err = 0;

	memset(jf, 0, sizeof(*jf));
	jf->running_fp = TF_HASH_INIT;
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
	if (mode == OPEN_FOLLOW || (mode == OPEN_STREAM && !S_ISREG(st.st_mode))) {
		jf->stream = 1;
		/* The end of a pipe is its end, followed or not. */
		jf->follow = mode == OPEN_FOLLOW && S_ISREG(st.st_mode);
		jf->stop_at_end = 1;
	} else if (!S_ISREG(st.st_mode)) {
		FILE *copy = spool(jf, fp, &err);
		if (!copy)
			goto fail_close;
		if (fp != stdin)
			fclose(fp);
		fp = copy;
	}
	jf->fp = fp;
	jf->buf = tf__xmalloc(TF_JOBFILE_BLOCK);
	return 0;

fail_close:
	if (fp != stdin)
		fclose(fp);
fail:
	free(jf->path);
	jf->path = NULL;
	return err;
}

int tf_jobfile_open(struct tf_jobfile *jf, const char *path)
{
	return open_source(jf, path, OPEN_SPOOL);
}

int tf_jobfile_open_stream(struct tf_jobfile *jf, const char *path,
			   int follow)
{
	return open_source(jf, path, follow ? OPEN_FOLLOW : OPEN_STREAM);
}

int tf_jobfile_wait(struct tf_jobfile *jf, double timeout)
{
	struct pollfd p = { fileno(jf->fp), POLLIN, 0 };

	if (jf->follow) {
		struct timespec ts = { (time_t)timeout,
				       (long)((timeout - (time_t)timeout) *
					      1e9) };
		return nanosleep(&ts, NULL) < 0 && errno != EINTR ? -errno
								   : 0;
	}
	if (poll(&p, 1, (int)(timeout * 1000)) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

int tf_jobfile_poll_fd(const struct tf_jobfile *jf)
{
	if (!jf->stream || jf->follow || !jf->fp)
		return -1;
	return fileno(jf->fp);
}

/* How often a followed file that had nothing more is looked at again. */
#define FOLLOW_INTERVAL 0.05

/*
 * Reads what has arrived of an open source into jf->buf, without
 * blocking: a pipe is read only when poll() says it has bytes (or its
 * end); a followed file at its end is looked at again after
 * FOLLOW_INTERVAL. Returns the number of bytes read, 0 at the end,
 * -EAGAIN when nothing has arrived, or a negative code with errmsg set.
 */
static int fill_stream(struct tf_jobfile *jf)
{
	int fd = fileno(jf->fp);
	ssize_t n;

	jf->buf_len = jf->buf_pos = 0;
	if (jf->at_eof)
		return 0;
	if (jf->follow) {
		if (jf->follow_idle &&
		    tf_now() - jf->follow_idle < FOLLOW_INTERVAL)
			return -EAGAIN;
	} else {
		struct pollfd p = { fd, POLLIN, 0 };
		int r = poll(&p, 1, 0);

		if (r < 0 && errno != EINTR)
			return fail(jf, jf->lineno + 1, -errno,
				    "read error: %s", strerror(errno));
		if (r <= 0)
			return -EAGAIN;
	}
	do
		n = read(fd, jf->buf, TF_JOBFILE_BLOCK);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return -EAGAIN;
	if (n < 0)
		return fail(jf, jf->lineno + 1, -errno, "read error: %s",
			    strerror(errno));
	if (n == 0 && jf->follow) {
		struct stat st;

		if (fstat(fd, &st) < 0)
			return fail(jf, 0, -errno, "cannot stat: %s",
				    strerror(errno));
		/* What was read ran as it was validated; a file that
		 * shrinks has been rewritten under the reader. */
		if ((uint64_t)st.st_size < jf->off)
			return fail(jf, 0, -ESTALE, "%s",
				    "--follow: it shrank (truncated or "
				    "rewritten while followed); no further "
				    "task is read from it");
		/* An editor saves a new file under the name: what is
		 * appended to it would never be read from this one. */
		if (strcmp(jf->path, "-") != 0) {
			struct stat now;

			if (stat(jf->path, &now) == 0 &&
			    (now.st_dev != st.st_dev || now.st_ino != st.st_ino))
				return fail(jf, 0, -ESTALE, "%s",
					    "--follow: it was replaced by "
					    "another file of that name; no "
					    "further task is read from it");
		}
		jf->follow_idle = tf_now();
		return -EAGAIN;
	}
	jf->follow_idle = 0;
	if (n == 0) {
		jf->at_eof = 1;
		return 0;
	}
	jf->off += (uint64_t)n;
	jf->buf_len = (size_t)n;
	return (int)n;
}

static int changed(struct tf_jobfile *jf, const char *how)
{
	return fail(jf, 0, -ESTALE, "changed while running (%s); no further "
		    "task is read from it", how);
}

/* Whether the file's size and modification time are still those that
 * tf_jobfile_scan() saw. Returns 0 or -ESTALE / -errno with errmsg set. */
static int check_stat(struct tf_jobfile *jf)
{
	struct stat st;

	if (fstat(fileno(jf->fp), &st) < 0)
		return fail(jf, 0, -errno, "cannot stat: %s", strerror(errno));
	if ((uint64_t)st.st_size < jf->size)
		return changed(jf, "it was truncated");
	if ((uint64_t)st.st_size > jf->size)
		return changed(jf, "it grew");
	/* Not the mtime: a touch, or an editor saving the same text, is no
	 * change; what is read is checked against its block's hash. */
	return 0;
}

/*
 * Reads the next block into jf->buf. While scanning, it records the
 * block's hash; once scanned, it reads no further than what was
 * validated and checks each block against its hash. Returns the number
 * of bytes read (0 at the end) or a negative code with errmsg set.
 */
static int fill(struct tf_jobfile *jf)
{
	size_t want = TF_JOBFILE_BLOCK, got = 0;
	int fd = fileno(jf->fp);
	uint64_t h;
	int r;

	if (jf->stream)
		return fill_stream(jf);
	jf->buf_len = jf->buf_pos = 0;
	if (jf->at_eof)
		return 0;
	if (jf->scanned) {
		r = check_stat(jf);
		if (r < 0)
			return r;
		if (jf->off >= jf->size) {
			jf->at_eof = 1;
			return 0;
		}
		if (jf->size - jf->off < want)
			want = (size_t)(jf->size - jf->off);
	}
	while (got < want) {
		ssize_t n = pread(fd, jf->buf + got, want - got,
				  (off_t)(jf->off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(jf, jf->lineno + 1, -errno,
				    "read error: %s", strerror(errno));
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got < want)
		jf->at_eof = 1;
	if (jf->scanned && got < want)
		return changed(jf, "it was truncated");
	if (got == 0)
		return 0;
	h = tf_hash(TF_HASH_INIT, jf->buf, got);
	if (jf->scanning) {
		tf__grow((void **)&jf->block_hash, &jf->blocks_alloc,
			 jf->nblocks + 1, sizeof(*jf->block_hash));
		jf->block_hash[jf->nblocks++] = h;
	} else if (jf->scanned &&
		   h != jf->block_hash[jf->off / TF_JOBFILE_BLOCK]) {
		return changed(jf, "its text is not what was validated");
	}
	jf->off += got;
	jf->buf_len = got;
	return (int)got;
}

/*
 * Reads one physical line into jf->phys without its line ending.
 * Returns 1, 0 at the end of the file, or a negative code.
 */
static int read_phys(struct tf_jobfile *jf)
{
	int any, newline = 0;
	const char *cr;

	/* An open source may have stopped mid-line (-EAGAIN): go on. */
	if (!jf->phys_partial)
		tf_strbuf_reset(&jf->phys);
	jf->phys_partial = 0;
	any = jf->phys.len > 0;
	while (!newline) {
		const char *p, *nl;
		size_t n;

		if (jf->buf_pos == jf->buf_len) {
			int r = fill(jf);
			if (r == -EAGAIN)
				jf->phys_partial = 1;
			if (r < 0)
				return r;
			if (r == 0)
				break;
		}
		any = 1;
		p = jf->buf + jf->buf_pos;
		n = jf->buf_len - jf->buf_pos;
		nl = memchr(p, '\n', n);
		if (nl) {
			n = (size_t)(nl - p);
			newline = 1;
		}
		if (memchr(p, '\0', n))
			return fail(jf, jf->lineno + 1, TF_EPARSE, "%s",
				    "NUL byte in line");
		/* One more byte is allowed for the CR of a CRLF ending. */
		if (jf->phys.len + n > TF_MAX_LINE + 1)
			return fail(jf, jf->lineno + 1, TF_ETOOLONG,
				    "line longer than %s bytes",
				    TF_MAX_LINE_STR);
		tf_strbuf_add(&jf->phys, p, n);
		jf->buf_pos += n + newline;
	}
	if (!any)
		return 0;
	jf->lineno++;
	/* A CR is a line ending only just before a LF (or the end of the
	 * file); anywhere else it would reach the shell inside the
	 * command, as all of a classic Mac OS file would in one task. */
	cr = jf->phys.len ? memchr(jf->phys.buf, '\r', jf->phys.len) : NULL;
	if (cr && cr != jf->phys.buf + jf->phys.len - 1)
		return fail(jf, jf->lineno, TF_EPARSE, "%s",
			    "carriage return inside a line (classic Mac OS "
			    "line endings?); use LF or CRLF line endings");
	if (cr)
		jf->phys.buf[--jf->phys.len] = '\0';
	/* Checked after the CR is gone, so CRLF files get the same limit. */
	if (jf->phys.len > TF_MAX_LINE)
		return fail(jf, jf->lineno, TF_ETOOLONG,
			    "line longer than %s bytes", TF_MAX_LINE_STR);
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

/*
 * A comment line: if it is a directive, takes it in, and folds it into
 * the fingerprint (with its line, so that moving a barrier changes it).
 * Returns 0 (a directive or a plain comment) or TF_EPARSE with errmsg.
 */
static int directive(struct tf_jobfile *jf, const char *line, size_t len)
{
	struct tf_directive d;
	char err[256], text[64];
	int r = tf_directive_parse(line, len, &d, err, sizeof(err));

	if (r <= 0)
		return r < 0 ? fail(jf, jf->lineno, r, "%s", err) : 0;
	if (jf->ended)
		return fail(jf, jf->lineno, TF_EPARSE, "%s",
			    "a directive after '#TASKFARM end'");
	switch (d.kind) {
	case TF_DIRECTIVE_BARRIER:
		jf->barrier++;
		if (jf->scanning)
			jf->nbarriers++;
		break;
	case TF_DIRECTIVE_SLOTS:
		jf->cur_slots = d.value;
		break;
	case TF_DIRECTIVE_GPUS:
		jf->cur_gpus = d.value;
		jf->cur_gpus_given = 1;
		break;
	case TF_DIRECTIVE_END:
		jf->ended = jf->lineno;
		break;
	}
	tf_directive_format(&d, text, sizeof(text));
	jf->running_fp = tf_hash(jf->running_fp, &jf->lineno,
				 sizeof(jf->lineno));
	jf->running_fp = tf_hash(jf->running_fp, text, strlen(text) + 1);
	return 0;
}

int tf_jobfile_next(struct tf_jobfile *jf, struct tf_task *task)
{
	uint64_t start = jf->cont_start;
	int in_cont = jf->cont_pending;

	/* An open source ends at #TASKFARM end (stop_at_end). */
	if (jf->ended && jf->stop_at_end)
		return 0;
	/* An open source may have stopped inside a task (-EAGAIN). */
	if (!jf->next_partial)
		tf_strbuf_reset(&jf->line);
	jf->next_partial = jf->cont_pending = 0;
	for (;;) {
		int r = read_phys(jf);
		size_t len;

		if (r == -EAGAIN) {
			jf->next_partial = 1;
			jf->cont_pending = in_cont;
			jf->cont_start = start;
		}
		if (r < 0)
			return r;
		if (r == 0) {
			if (in_cont)
				return fail(jf, start, TF_EPARSE, "%s",
					    "line continues past the end of "
					    "the file (trailing backslash)");
			/* Unreachable while the blocks match; kept so that
			 * no count can ever pass what was validated. */
			if (jf->scanned && jf->nread_tasks != jf->ntasks)
				return changed(jf, "it holds fewer tasks");
			return 0;
		}
		len = jf->phys.len;
		if (!in_cont) {
			if (is_blank_or_comment(jf->phys.buf, len)) {
				r = directive(jf, jf->phys.buf, len);
				if (r < 0)
					return r;
				if (r == 0 && jf->ended && jf->stop_at_end)
					return 0;
				continue;
			}
			if (jf->ended)
				return fail(jf, jf->lineno, TF_EPARSE, "%s",
					    "a task after '#TASKFARM end'");
			start = jf->lineno;
		}
		in_cont = trailing_backslashes(jf->phys.buf, len) % 2 == 1;
		if (in_cont)
			len--;
		if (jf->line.len + len > TF_MAX_LINE)
			return fail(jf, start, TF_ETOOLONG,
				    "task longer than %s bytes (the longest "
				    "command one exec argument holds)",
				    TF_MAX_LINE_STR);
		tf_strbuf_add(&jf->line, jf->phys.buf, len);
		if (!in_cont)
			break;
	}
	if (jf->scanned && jf->nread_tasks >= jf->ntasks)
		return changed(jf, "it holds more tasks");
	jf->running_fp = tf_hash(jf->running_fp, &start, sizeof(start));
	jf->running_fp = tf_hash(jf->running_fp,
				 jf->line.buf ? jf->line.buf : "",
				 jf->line.len);
	jf->running_fp = tf_hash(jf->running_fp, "", 1);
	if (jf->scanning && jf->lineno != start && !jf->first_continued)
		jf->first_continued = start;
	jf->nread_tasks++;
	memset(task, 0, sizeof(*task));
	task->avoid_rank = -1;
	task->id = start;
	task->attempt = 1;
	task->cmd_len = (uint32_t)jf->line.len;
	task->cmd = tf__xstrndup(jf->line.buf ? jf->line.buf : "",
				 jf->line.len);
	task->barrier = jf->barrier;
	task->slots = jf->cur_slots;
	task->gpus = jf->cur_gpus;
	task->gpus_given = jf->cur_gpus_given;
	if (jf->scanning) {
		uint32_t slots = task->slots ? task->slots : 1;

		if (slots > jf->max_slots) {
			jf->max_slots = slots;
			jf->max_slots_line = start;
		}
		if (task->gpus_given && task->gpus > jf->max_gpus) {
			jf->max_gpus = task->gpus;
			jf->max_gpus_line = start;
		}
	}
	return 1;
}

/* Forgets what was read, so the next read starts at the top. */
static void rewind_reader(struct tf_jobfile *jf)
{
	jf->off = 0;
	jf->buf_len = jf->buf_pos = 0;
	jf->at_eof = 0;
	jf->lineno = 0;
	jf->nread_tasks = 0;
	jf->barrier = 0;
	jf->cur_slots = jf->cur_gpus = jf->cur_gpus_given = 0;
	jf->ended = 0;
	jf->running_fp = TF_HASH_INIT;
}

int tf_jobfile_scan(struct tf_jobfile *jf)
{
	struct tf_task t;
	struct stat st;
	uint64_t n = 0;
	int r;

	if (fstat(fileno(jf->fp), &st) < 0)
		return fail(jf, 0, -errno, "cannot stat: %s", strerror(errno));
	rewind_reader(jf);
	jf->scanned = 0;
	jf->scanning = 1;
	jf->first_continued = 0;
	jf->nblocks = 0;
	jf->max_slots = jf->max_gpus = 0;
	jf->nbarriers = 0;
	while ((r = tf_jobfile_next(jf, &t)) > 0) {
		n++;
		tf_task_release(&t);
	}
	jf->scanning = 0;
	if (r < 0)
		return r;
	/* Of every task's id and command, and of each directive (with its
	 * line): a file without directives keeps the fingerprint it had
	 * before there were any. */
	jf->fingerprint = jf->running_fp;
	jf->ntasks = n;
	jf->size = jf->off;
	/* What was read must be the file as it was when the scan began. */
	if ((uint64_t)st.st_size != jf->size)
		return fail(jf, 0, -ESTALE, "%s",
			    "changed while it was being validated");
	r = check_stat(jf);
	if (r < 0)
		return fail(jf, 0, r, "%s",
			    "changed while it was being validated");
	jf->scanned = 1;
	rewind_reader(jf);
	return 0;
}

void tf_jobfile_close(struct tf_jobfile *jf)
{
	if (jf->fp && jf->fp != stdin)
		fclose(jf->fp);
	jf->fp = NULL;
	free(jf->path);
	jf->path = NULL;
	free(jf->buf);
	jf->buf = NULL;
	free(jf->block_hash);
	jf->block_hash = NULL;
	jf->nblocks = jf->blocks_alloc = 0;
	jf->scanned = 0;
	tf_strbuf_release(&jf->line);
	tf_strbuf_release(&jf->phys);
}
