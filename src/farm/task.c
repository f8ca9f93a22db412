/*
 * Tasks, results and captured output. Output is held in memory up to a
 * threshold and spilled to an unlinked temporary file past it, so a task
 * that prints a gigabyte costs disk, not memory, and nothing is truncated.
 */
#include "config.h"

#include "farm/task.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/tempfile.h"
#include "core/util.h"

void tf_task_release(struct tf_task *t)
{
	free(t->cmd);
	free(t->tag);
	t->cmd = NULL;
	t->tag = NULL;
	t->cmd_len = 0;
}

void tf_task_copy(struct tf_task *dst, const struct tf_task *src)
{
	*dst = *src;
	dst->cmd = tf__xstrndup(src->cmd, src->cmd_len);
	dst->tag = src->tag ? tf__xstrdup(src->tag) : NULL;
}

void tf_output_init(struct tf_output *o)
{
	o->mem = NULL;
	o->mem_len = 0;
	o->mem_alloc = 0;
	o->spill_fd = -1;
	o->error = 0;
	o->len = 0;
}

void tf_output_release(struct tf_output *o)
{
	free(o->mem);
	if (o->spill_fd >= 0)
		close(o->spill_fd);
	tf_output_init(o);
}

const char *tf_output_spill_dir(void)
{
	return tf_tempfile_dir();
}

static int open_spill(void)
{
	return tf_tempfile_open("taskfarm-spill");
}

/* Gives up on o: what it held is dropped, and so is all that follows. */
static int lose(struct tf_output *o, int error)
{
	tf_output_release(o);
	o->error = error;
	return error;
}

int tf_output_append(struct tf_output *o, const void *data, size_t len,
		     size_t spill_threshold)
{
	int ret;

	if (o->error)
		return o->error;
	if (len == 0)
		return 0;
	if (o->spill_fd < 0 && o->mem_len + len > spill_threshold) {
		int fd = open_spill();
		if (fd < 0)
			return lose(o, fd);
		ret = tf_write_all(fd, o->mem, o->mem_len);
		if (ret < 0) {
			close(fd);
			return lose(o, ret);
		}
		o->spill_fd = fd;
		free(o->mem);
		o->mem = NULL;
		o->mem_len = 0;
		o->mem_alloc = 0;
	}
	if (o->spill_fd >= 0) {
		ret = tf_write_all(o->spill_fd, data, len);
		if (ret < 0)
			return lose(o, ret);
	} else {
		tf__grow((void **)&o->mem, &o->mem_alloc, o->mem_len + len, 1);
		memcpy(o->mem + o->mem_len, data, len);
		o->mem_len += len;
	}
	o->len += len;
	return 0;
}

long tf_output_pread(const struct tf_output *o, void *buf, size_t len,
		     uint64_t off)
{
	if (off >= o->len)
		return 0;
	if (len > o->len - off)
		len = (size_t)(o->len - off);
	if (o->spill_fd < 0) {
		memcpy(buf, o->mem + off, len);
		return (long)len;
	}
	for (;;) {
		ssize_t n = pread(o->spill_fd, buf, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 ? -errno : (long)n;
	}
}

int tf_output_copy(struct tf_output *dst, const struct tf_output *src,
		   uint64_t from, uint64_t to, size_t spill_threshold)
{
	char buf[65536];

	while (from < to) {
		size_t want = to - from < sizeof(buf) ? (size_t)(to - from)
						      : sizeof(buf);
		long n = tf_output_pread(src, buf, want, from);

		if (n <= 0)
			return n < 0 ? (int)n : -EIO;
		if (tf_output_append(dst, buf, (size_t)n, spill_threshold) < 0)
			return dst->error;
		from += (uint64_t)n;
	}
	return 0;
}

void tf_output_drop_front(struct tf_output *o, uint64_t n,
			  size_t spill_threshold)
{
	struct tf_output rest;

	if (!n || o->error)
		return;
	tf_output_init(&rest);
	if (tf_output_copy(&rest, o, n, o->len, spill_threshold) < 0 &&
	    !rest.error)
		rest.error = -EIO;
	tf_output_release(o);
	*o = rest;
}

/* Writes data, inserting prefix at the start of every line. *bol says
 * whether the previous chunk ended a line. */
static int write_prefixed(int fd, const char *data, size_t len,
			  const char *prefix, int *bol)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	size_t i, start = 0;
	int ret;

	for (i = 0; i < len; i++) {
		if (*bol) {
			tf_strbuf_addstr(&sb, prefix);
			*bol = 0;
		}
		if (data[i] == '\n') {
			tf_strbuf_add(&sb, data + start, i + 1 - start);
			start = i + 1;
			*bol = 1;
		}
	}
	if (start < len)
		tf_strbuf_add(&sb, data + start, len - start);
	ret = tf_write_all(fd, sb.buf, sb.len);
	tf_strbuf_release(&sb);
	return ret;
}

int tf_output_write(const struct tf_output *o, int fd, const char *prefix)
{
	char buf[65536];
	uint64_t off = 0;
	int bol = 1, ret = 0;

	if (o->error)
		return o->error;
	if (o->spill_fd < 0) {
		if (prefix) {
			ret = write_prefixed(fd, o->mem, o->mem_len, prefix,
					     &bol);
			if (ret == 0 && !bol)
				ret = tf_write_all(fd, "\n", 1);
			return ret;
		}
		return tf_write_all(fd, o->mem, o->mem_len);
	}
	while (off < o->len) {
		long n = tf_output_pread(o, buf, sizeof(buf), off);
		if (n <= 0)
			return n < 0 ? (int)n : -EIO;
		if (prefix)
			ret = write_prefixed(fd, buf, (size_t)n, prefix, &bol);
		else
			ret = tf_write_all(fd, buf, (size_t)n);
		if (ret < 0)
			return ret;
		off += (uint64_t)n;
	}
	if (prefix && !bol)
		ret = tf_write_all(fd, "\n", 1);
	return ret;
}

void tf_result_init(struct tf_result *r)
{
	memset(r, 0, sizeof(*r));
	r->slot = -1;
	r->rank = -1;
	tf_output_init(&r->out);
	tf_output_init(&r->err);
}

void tf_result_release(struct tf_result *r)
{
	tf_output_release(&r->out);
	tf_output_release(&r->err);
}

const char *tf_status_name(int status)
{
	switch (status) {
	case TF_STATUS_OK:
		return "ok";
	case TF_STATUS_FAILED:
		return "failed";
	case TF_STATUS_SIGNALED:
		return "signal";
	case TF_STATUS_TIMEOUT:
		return "timeout";
	case TF_STATUS_INTERRUPTED:
		return "interrupted";
	case TF_STATUS_SPAWN_FAILED:
		return "spawn-failed";
	case TF_STATUS_NOT_STARTED:
		return "not-started";
	case TF_STATUS_LOST:
		return "lost";
	case TF_STATUS_OUTPUT_LOST:
		return "output-lost";
	default:
		return "unknown";
	}
}
