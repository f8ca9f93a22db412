/*
 * The --joblog file, in GNU parallel's format (see joblog.h). Lines are
 * buffered and written on the master's tick and at close; unlike the
 * journal, nothing here is needed for taskfarm's own --resume, so a
 * failed write is reported and the rest of the file given up.
 */
#include "config.h"

#include "farm/joblog.h"
#include "farm/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "taskfarm.h"

int tf_joblog_open(struct tf_joblog *l, const char *path, int append)
{
	struct stat st;
	int fd, ret;

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	fd = tf_log_file_open(path, &st);
	if (fd < 0)
		return fd;
	if (!append && st.st_size > 0) {
		if (ftruncate(fd, 0) < 0) {
			ret = -errno;
			goto fail;
		}
		st.st_size = 0;
	}
	if (st.st_size == 0) {
		ret = tf_write_all(fd, TF_JOBLOG_HEADER,
				   strlen(TF_JOBLOG_HEADER));
		if (ret < 0) {
			(void)!ftruncate(fd, 0);
			goto fail;
		}
	}
	l->fd = fd;
	l->path = tf__xstrdup(path);
	tf_strbuf_init(&l->pending);
	return 0;
fail:
	close(fd);
	return ret;
}

int tf_joblog_logs(int status)
{
	return status != TF_STATUS_INTERRUPTED &&
	       status != TF_STATUS_NOT_STARTED &&
	       status != TF_STATUS_OUTPUT_LOST;
}

/* A host name parallel's readers take as one non-empty field. */
static int host_fits(const char *host)
{
	if (!host || !*host)
		return 0;
	for (; *host; host++)
		if (*host == ' ' || *host == '\t' || *host == '\n' ||
		    *host == '\r' || *host == '\f' || *host == '\v')
			return 0;
	return 1;
}

void tf_joblog_format(struct tf_strbuf *sb, const struct tf_result *r,
		      const char *host, const char *cmd, size_t cmd_len)
{
	/* Parallel truncates the run time to milliseconds. */
	double runtime = r->runtime > 0
				 ? (double)(long long)(r->runtime * 1000.0) /
					   1000.0
				 : 0.0;
	int exitval, sig;
	size_t i;

	switch (r->status) {
	case TF_STATUS_OK:
		exitval = 0, sig = 0;
		break;
	case TF_STATUS_SIGNALED:
		/* Parallel sees the signal itself ($? & 127), Exitval 0. */
		exitval = 0, sig = r->signal ? r->signal : SIGKILL;
		break;
	case TF_STATUS_TIMEOUT:
		exitval = -1, sig = r->signal ? r->signal : SIGTERM;
		break;
	case TF_STATUS_LOST:
		exitval = -1, sig = 0;
		break;
	default:
		/* failed, spawn-failed: never 0, which would read as done */
		exitval = r->exitval ? r->exitval : 127, sig = r->signal;
		break;
	}
	tf_strbuf_addf(sb, "%llu\t%s\t%.3f\t%10.3f\t0\t%llu\t%d\t%d\t",
		       (unsigned long long)r->id,
		       r->rank > 0 && host_fits(host) ? host : ":", r->start,
		       runtime, (unsigned long long)(r->out.len + r->ahead_out),
		       exitval, sig);
	tf_strbuf_grow(sb, cmd_len + 1);
	for (i = 0; i < cmd_len; i++)
		tf_strbuf_addch(sb, cmd[i] == '\n' ? '\0' : cmd[i]);
	tf_strbuf_addch(sb, '\n');
}

void tf_joblog_add(struct tf_joblog *l, const struct tf_result *r,
		   const char *host, const char *cmd, size_t cmd_len)
{
	if (l->fd < 0 || l->error || !tf_joblog_logs(r->status))
		return;
	tf_joblog_format(&l->pending, r, host, cmd, cmd_len);
}

int tf_joblog_flush(struct tf_joblog *l)
{
	int ret;

	if (l->fd < 0 || l->error || !l->pending.len)
		return l->error;
	ret = tf_write_all(l->fd, l->pending.buf, l->pending.len);
	if (ret < 0)
		l->error = ret;
	tf_strbuf_reset(&l->pending);
	return l->error;
}

int tf_joblog_close(struct tf_joblog *l)
{
	int ret;

	if (l->fd < 0)
		return l->error;
	ret = tf_joblog_flush(l);
	if (close(l->fd) < 0 && ret == 0)
		ret = -errno;
	l->fd = -1;
	free(l->path);
	l->path = NULL;
	tf_strbuf_release(&l->pending);
	return ret;
}
