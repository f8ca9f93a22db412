/*
 * The journal. Appends only, never rewrites, and escapes every command so
 * that a tab or newline in it cannot break a line: a reader can always
 * split on tabs and newlines.
 */
#include "config.h"

#include "farm/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "taskfarm.h"

/* The JobId column: the Slurm job this run belongs to, escaped like
 * every text column; "-" outside Slurm. */
static char *journal_jobid(void)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	const char *id = getenv("SLURM_JOB_ID");

	if (!id || !*id)
		return tf__xstrdup("-");
	tf_journal_escape(&sb, id, strlen(id));
	return tf_strbuf_detach(&sb, NULL);
}

int tf_log_file_open(const char *path, struct stat *st)
{
	int fd, ret;

	/* O_NONBLOCK: a FIFO with no reader fails (ENXIO) instead of
	 * blocking; it is cleared again for the regular file we want. */
	fd = open(path,
		  O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC |
			  O_NONBLOCK,
		  0644);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0)
		ret = -errno;
	else if (!S_ISREG(st->st_mode))
		ret = -EINVAL;
	/* Another user's file in a shared directory: they could have
	 * written lines of their own, so it is not ours to append to. */
	else if (st->st_uid != geteuid())
		ret = -EPERM;
	else if (fcntl(fd, F_SETFL, O_APPEND) < 0)
		ret = -errno;
	else
		return fd;
	close(fd);
	return ret;
}

int tf_journal_open(struct tf_journal *j, const char *path, double interval)
{
	struct stat st;
	int fd, ret;

	memset(j, 0, sizeof(*j));
	fd = tf_log_file_open(path, &st);
	if (fd < 0)
		return fd;
	j->fd = fd;
	j->path = tf__xstrdup(path);
	j->jobid = journal_jobid();
	j->interval = interval;
	j->last_sync = tf_now();
	tf_strbuf_init(&j->pending);
	j->size = (uint64_t)st.st_size;
	if (st.st_size == 0) {
		ret = tf_write_all(fd, TF_JOURNAL_HEADER,
				   strlen(TF_JOURNAL_HEADER));
		if (ret < 0) {
			/* No half header is left behind. */
			(void)!ftruncate(fd, 0);
			close(fd);
			free(j->path);
			free(j->jobid);
			return ret;
		}
		j->size = strlen(TF_JOURNAL_HEADER);
	}
	return 0;
}

void tf_journal_escape(struct tf_strbuf *sb, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		switch (s[i]) {
		case '\t':
			tf_strbuf_add(sb, "\\t", 2);
			break;
		case '\n':
			tf_strbuf_add(sb, "\\n", 2);
			break;
		case '\r':
			tf_strbuf_add(sb, "\\r", 2);
			break;
		case '\0':
			tf_strbuf_add(sb, "\\0", 2);
			break;
		case '\\':
			tf_strbuf_add(sb, "\\\\", 2);
			break;
		default:
			tf_strbuf_addch(sb, s[i]);
		}
	}
}

int tf_journal_unescape(struct tf_strbuf *sb, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] != '\\') {
			tf_strbuf_addch(sb, s[i]);
			continue;
		}
		if (++i == len)
			return TF_EPARSE;
		switch (s[i]) {
		case 't':
			tf_strbuf_addch(sb, '\t');
			break;
		case 'n':
			tf_strbuf_addch(sb, '\n');
			break;
		case 'r':
			tf_strbuf_addch(sb, '\r');
			break;
		case '0':
			tf_strbuf_addch(sb, '\0');
			break;
		case '\\':
			tf_strbuf_addch(sb, '\\');
			break;
		default:
			return TF_EPARSE;
		}
	}
	return 0;
}

void tf_journal_add(struct tf_journal *j, const struct tf_result *r,
		    const char *host, const char *cmd, size_t cmd_len)
{
	struct tf_strbuf *sb = &j->pending;

	tf_strbuf_addf(sb, "%llu\t", (unsigned long long)r->id);
	tf_journal_escape(sb, host, strlen(host));
	tf_strbuf_addf(sb, "\t%.3f\t%.3f\t0\t%llu\t%d\t%d\t", r->start,
		       r->runtime,
		       (unsigned long long)(r->out.len + r->err.len +
					    r->ahead_out + r->ahead_err),
		       r->exitval, r->signal);
	tf_journal_escape(sb, cmd, cmd_len);
	tf_strbuf_addf(sb, "\t%u\t%d\t%d\t%s\t%lld\t%.3f\t%.3f\t%s\n",
		       r->attempt, r->rank, r->slot, tf_status_name(r->status),
		       (long long)r->maxrss_kb, r->utime, r->stime, j->jobid);
	j->lines++;
	j->pending_lines++;
}

/* Drops the first len bytes (whole lines) of the pending buffer. */
static void pending_consume(struct tf_journal *j, size_t len)
{
	struct tf_strbuf *sb = &j->pending;
	size_t i;

	for (i = 0; i < len; i++)
		if (sb->buf[i] == '\n')
			j->pending_lines--;
	memmove(sb->buf, sb->buf + len, sb->len - len);
	sb->len -= len;
	sb->buf[sb->len] = '\0';
}

/* Writes the pending lines. A short write (a full disk) leaves part of a
 * line in the file: it is cut off again, so that the file holds whole
 * lines only and the line is written whole, later. */
static int write_pending(struct tf_journal *j)
{
	const char *buf = j->pending.buf;
	size_t len = j->pending.len, done = 0, whole;
	int ret = 0;

	while (done < len) {
		ssize_t n = write(j->fd, buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			break;
		}
		done += (size_t)n;
	}
	if (ret == 0) {
		j->size += len;
		j->pending_lines = 0;
		tf_strbuf_reset(&j->pending);
		return 0;
	}
	for (whole = done; whole > 0 && buf[whole - 1] != '\n'; whole--)
		;
	if (done > whole &&
	    ftruncate(j->fd, (off_t)(j->size + whole)) < 0) {
		/* The part written stays: write only what is left, so that
		 * no line is written twice. */
		whole = done;
	}
	j->size += whole;
	pending_consume(j, whole);
	return ret;
}

int tf_journal_flush(struct tf_journal *j, int sync)
{
	int ret;

	if (j->fd < 0)
		return 0;
	if (j->pending.len) {
		ret = write_pending(j);
		if (ret < 0)
			return ret;
	}
	if (sync) {
		/* Lines written but not synced may be dropped by the kernel
		 * when fsync fails (NFS and Lustre say ENOSPC or EIO only
		 * here): nothing tells which, so the error stays, and no
		 * later success may claim that no line was lost. */
		if (fsync(j->fd) < 0 && !j->sync_error)
			j->sync_error = -errno;
		j->last_sync = tf_now();
	}
	return j->sync_error;
}

uint64_t tf_journal_pending(const struct tf_journal *j)
{
	return j->pending_lines;
}

uint64_t tf_journal_unwritten(const struct tf_journal *j)
{
	return j->unwritten;
}

int tf_journal_tick(struct tf_journal *j, double now)
{
	if (now - j->last_sync < j->interval)
		return 0;
	if (!j->pending.len) {
		j->last_sync = now;
		return j->sync_error;
	}
	/* A write that fails is tried again an interval later, not on
	 * every turn of the loop. */
	j->last_sync = now;
	return tf_journal_flush(j, 1);
}

int tf_journal_close(struct tf_journal *j)
{
	int ret;

	if (!j->path)
		return 0;
	ret = tf_journal_flush(j, 1);
	j->unwritten = j->pending_lines;
	if (close(j->fd) < 0 && ret == 0)
		ret = -errno;
	j->fd = -1;
	free(j->path);
	j->path = NULL;
	free(j->jobid);
	j->jobid = NULL;
	tf_strbuf_release(&j->pending);
	return ret;
}

int tf_journal_trim(struct tf_journal *j, uint64_t len)
{
	size_t hlen = strlen(TF_JOURNAL_HEADER);

	/* Torn inside the header itself: start the file over. */
	if (len < hlen)
		len = 0;
	if (ftruncate(j->fd, (off_t)len) < 0)
		return -errno;
	j->size = len;
	if (len == 0) {
		int ret = tf_write_all(j->fd, TF_JOURNAL_HEADER, hlen);

		if (ret < 0) {
			(void)!ftruncate(j->fd, 0);
			return ret;
		}
		j->size = hlen;
	}
	return 0;
}

/* Parses an unsigned decimal field; returns 0 or -1. */
int tf__journal_field_u64(const char *s, size_t len, uint64_t *v)
{
	size_t i;

	if (len == 0 || len > 20)
		return -1;
	*v = 0;
	for (i = 0; i < len; i++) {
		uint64_t d = (uint64_t)(s[i] - '0');

		if (s[i] < '0' || s[i] > '9' || *v > (UINT64_MAX - d) / 10)
			return -1; /* not a digit, or past UINT64_MAX */
		*v = *v * 10 + d;
	}
	return 0;
}

int tf_journal_lock(struct tf_journal_lock *l, const char *journal_path,
		    char *holder, size_t holder_len)
{
	struct tf_strbuf p = TF_STRBUF_INIT;
	struct stat st;
	int fd, ret;

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	tf_strbuf_addf(&p, "%s.meta", journal_path);
	fd = open(p.buf, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
		  0644);
	if (fd < 0) {
		ret = -errno;
		tf_strbuf_release(&p);
		return ret;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid()) {
		ret = fstat(fd, &st) < 0    ? -errno
		      : !S_ISREG(st.st_mode) ? -EINVAL
					     : -EPERM;
		close(fd);
		tf_strbuf_release(&p);
		return ret;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		ret = errno == EWOULDBLOCK ? -EBUSY : -errno;
		if (ret == -EBUSY && holder && holder_len) {
			char buf[4096];
			ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
			const char *o;
			char host[256] = "?", when[64] = "?";
			long pid = 0;

			buf[n > 0 ? n : 0] = '\0';
			o = strstr(buf, "\nowner ");
			if (o)
				sscanf(o, "\nowner %255s %ld %63s", host, &pid,
				       when);
			snprintf(holder, holder_len,
				 "host %s, pid %ld, since %s", host, pid,
				 when);
		}
		close(fd);
		tf_strbuf_release(&p);
		return ret;
	}
	l->fd = fd;
	l->path = tf_strbuf_detach(&p, NULL);
	return 0;
}

/* The meta file's text: what is read of it. */
#define META_MAX 8192

/* Whether s (len bytes) is 16 lower-case hex digits. */
static int is_fingerprint(const char *s, size_t len)
{
	size_t i;

	if (len != 16)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int tf_journal_meta_read(struct tf_journal_lock *l, struct tf_journal_meta *m,
			 char *err, size_t errlen)
{
	struct tf_strbuf val = TF_STRBUF_INIT;
	char *buf = tf__xmalloc(META_MAX + 1);
	const char *why = NULL, *p, *end;
	ssize_t n = pread(l->fd, buf, META_MAX, 0);
	int lineno = 0, have_fp = 0, ret;

	memset(m, 0, sizeof(*m));
	if (n < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", l->path, strerror(errno));
		free(buf);
		return ret;
	}
	if (n == 0) {
		free(buf);
		return 0;
	}
	buf[n] = '\0';
	end = buf + n;
	for (p = buf; p < end && !why;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len;

		lineno++;
		if (!nl) {
			why = n == META_MAX ? "too long" : "a line cut short";
			break;
		}
		len = (size_t)(nl - p);
		if (lineno == 1) {
			if (len != 23 || memcmp(p, "taskfarm-journal-meta 1", 23))
				why = "not a taskfarm journal's meta file";
		} else if (len > 12 && !memcmp(p, "fingerprint ", 12)) {
			if (!is_fingerprint(p + 12, len - 12))
				why = "bad fingerprint";
			memcpy(m->fingerprint, p + 12, 16);
			m->fingerprint[16] = '\0';
			have_fp = !why;
		} else if (len > 6 && !memcmp(p, "tasks ", 6)) {
			uint64_t v;

			if (tf__journal_field_u64(p + 6, len - 6, &v) < 0)
				why = "bad task count";
			m->ntasks = v;
		} else if (len >= 7 && !memcmp(p, "source ", 7)) {
			/* Not used to decide anything: a name an older
			 * version wrote raw is taken as it is. */
			tf_strbuf_reset(&val);
			if (tf_journal_unescape(&val, p + 7, len - 7) < 0) {
				tf_strbuf_reset(&val);
				tf_strbuf_add(&val, p + 7, len - 7);
			}
			snprintf(m->source, sizeof(m->source), "%s",
				 val.buf ? val.buf : "");
		} else if (len > 6 && !memcmp(p, "owner ", 6)) {
			/* host (escaped, no space in it), pid, time */
			const char *sp = memchr(p + 6, ' ', len - 6);

			if (sp) {
				tf_strbuf_reset(&val);
				if (tf_journal_unescape(&val, p + 6,
							(size_t)(sp - p - 6)) == 0)
					snprintf(m->owner_host,
						 sizeof(m->owner_host), "%s",
						 val.buf ? val.buf : "");
				if (sscanf(sp, " %ld %63s", &m->owner_pid,
					   m->owner_since) < 1)
					m->owner_pid = 0;
			}
		} else if (len == 3 && !memcmp(p, "end", 3)) {
			/* What follows is a longer old text's tail, left by a
			 * rewrite that was killed before it cut the file. */
			break;
		} else {
			why = "a line this version does not write";
		}
		p = nl + 1;
	}
	if (!why && !have_fp) {
		why = "no fingerprint";
		lineno = 0;
	}
	tf_strbuf_release(&val);
	free(buf);
	if (!why)
		return 1;
	if (lineno)
		snprintf(err, errlen, "%s:%d: %s", l->path, lineno, why);
	else
		snprintf(err, errlen, "%s: %s", l->path, why);
	memset(m, 0, sizeof(*m));
	return TF_EPARSE;
}

int tf_journal_meta_fingerprint(struct tf_journal_lock *l, char fp[17])
{
	struct tf_journal_meta m;
	char err[256];

	if (tf_journal_meta_read(l, &m, err, sizeof(err)) != 1)
		return 0;
	memcpy(fp, m.fingerprint, 17);
	return 1;
}

int tf_journal_meta_write(struct tf_journal_lock *l, const char *fingerprint,
			  uint64_t ntasks, const char *source)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	char host[256], when[64];
	time_t now = time(NULL);
	struct tm tm;
	int ret;

	if (gethostname(host, sizeof(host) - 1) < 0)
		strcpy(host, "?");
	host[sizeof(host) - 1] = '\0';
	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	tf_strbuf_addf(&sb, "taskfarm-journal-meta 1\nfingerprint %s\n",
		       fingerprint);
	if (ntasks)
		tf_strbuf_addf(&sb, "tasks %llu\n", (unsigned long long)ntasks);
	tf_strbuf_addstr(&sb, "source ");
	tf_journal_escape(&sb, source, strlen(source));
	tf_strbuf_addstr(&sb, "\nowner ");
	tf_journal_escape(&sb, host, strlen(host));
	tf_strbuf_addf(&sb, " %ld %s\n", (long)getpid(), when);
	/* The new text goes over the old in one write, and only then is
	 * the file cut to its length: killed in between, the file holds the
	 * new text, its end line, and a tail of the old that the reader
	 * ignores. (Cut first, a kill left it empty, and every --resume
	 * after refused the journal as one without a meta file.) The file
	 * is the lock, so it cannot be replaced by a rename. */
	tf_strbuf_addstr(&sb, "end\n");
	{
		ssize_t n = pwrite(l->fd, sb.buf, sb.len, 0);

		if (n != (ssize_t)sb.len)
			ret = n < 0 ? -errno : -EIO;
		else if (ftruncate(l->fd, (off_t)sb.len) < 0 ||
			 fsync(l->fd) < 0)
			ret = -errno;
		else
			ret = 0;
	}
	tf_strbuf_release(&sb);
	return ret;
}

void tf_journal_unlock(struct tf_journal_lock *l)
{
	if (l->fd >= 0)
		close(l->fd); /* closing drops the flock */
	l->fd = -1;
	free(l->path);
	l->path = NULL;
}
