/*
 * The journal. Appends only, never rewrites, and escapes every command so
 * that a tab or newline in it cannot break a line: a reader can always
 * split on tabs and newlines.
 */
#include "config.h"

#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "taskfarm.h"

int tf_journal_open(struct tf_journal *j, const char *path, double interval)
{
	struct stat st;
	int fd, ret;

	memset(j, 0, sizeof(*j));
	/* O_NONBLOCK: a FIFO with no reader fails (ENXIO) instead of
	 * blocking; it is cleared again for the regular file we want. */
	fd = open(path,
		  O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC |
			  O_NONBLOCK,
		  0644);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if (fcntl(fd, F_SETFL, O_APPEND) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	j->fd = fd;
	j->path = tf__xstrdup(path);
	j->interval = interval;
	j->last_sync = tf_now();
	tf_strbuf_init(&j->pending);
	if (st.st_size == 0) {
		ret = tf_write_all(fd, TF_JOURNAL_HEADER,
				   strlen(TF_JOURNAL_HEADER));
		if (ret < 0) {
			close(fd);
			free(j->path);
			return ret;
		}
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
		       (unsigned long long)(r->out.len + r->err.len),
		       r->exitval, r->signal);
	tf_journal_escape(sb, cmd, cmd_len);
	tf_strbuf_addf(sb, "\t%u\t%d\t%d\t%s\t%lld\t%.3f\t%.3f\n", r->attempt,
		       r->rank, r->slot, tf_status_name(r->status),
		       (long long)r->maxrss_kb, r->utime, r->stime);
	j->lines++;
}

int tf_journal_flush(struct tf_journal *j, int sync)
{
	int ret;

	if (j->fd < 0)
		return 0;
	if (j->pending.len) {
		ret = tf_write_all(j->fd, j->pending.buf, j->pending.len);
		if (ret < 0)
			return ret;
		tf_strbuf_reset(&j->pending);
	}
	if (sync) {
		if (fsync(j->fd) < 0)
			return -errno;
		j->last_sync = tf_now();
	}
	return 0;
}

int tf_journal_tick(struct tf_journal *j, double now)
{
	if (now - j->last_sync < j->interval)
		return 0;
	if (!j->pending.len) {
		j->last_sync = now;
		return 0;
	}
	return tf_journal_flush(j, 1);
}

int tf_journal_close(struct tf_journal *j)
{
	int ret;

	if (!j->path)
		return 0;
	ret = tf_journal_flush(j, 1);
	if (close(j->fd) < 0 && ret == 0)
		ret = -errno;
	j->fd = -1;
	free(j->path);
	j->path = NULL;
	tf_strbuf_release(&j->pending);
	return ret;
}
