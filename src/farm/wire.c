/*
 * The wire encoding of the farm's messages. Fields go through the core's
 * little-endian codec (core/codec.h); every decoder walks its bounded
 * reader, which refuses to read past the end, so a short or corrupt
 * message yields TF_EPROTO.
 */
#include "config.h"

#include "farm/wire.h"

#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "taskfarm.h"

void tf_wire_pack_hello(struct tf_strbuf *out, const struct tf_hello *h)
{
	size_t hl = strnlen(h->host, sizeof(h->host) - 1);

	tf_strbuf_add_u32(out, TF_WIRE_MAGIC);
	tf_strbuf_add_u32(out, h->slots);
	tf_strbuf_add_u32(out, h->gpus);
	tf_strbuf_add_u32(out, h->pid);
	tf_strbuf_add_u64(out, h->pid_space);
	tf_strbuf_add_u64(out, h->want_total);
	tf_strbuf_add_u32(out, (uint32_t)hl);
	tf_strbuf_add(out, h->host, hl);
}

int tf_wire_unpack_hello(const void *buf, size_t len, struct tf_hello *h)
{
	struct tf_reader c;
	const unsigned char *host;
	uint32_t hl;

	tf_reader_init(&c, buf, len);
	if (tf_reader_u32(&c) != TF_WIRE_MAGIC)
		return TF_EPROTO;
	h->slots = tf_reader_u32(&c);
	h->gpus = tf_reader_u32(&c);
	h->pid = tf_reader_u32(&c);
	h->pid_space = tf_reader_u64(&c);
	h->want_total = tf_reader_u64(&c);
	hl = tf_reader_u32(&c);
	if (hl >= sizeof(h->host))
		return TF_EPROTO;
	host = tf_reader_take(&c, hl);
	if (!tf_reader_done(&c))
		return TF_EPROTO;
	memcpy(h->host, host, hl);
	h->host[hl] = '\0';
	return 0;
}

void tf_wire_pack_tasks(struct tf_strbuf *out, uint64_t ntasks,
			const struct tf_task *tasks, size_t n)
{
	size_t i;

	tf_strbuf_add_u64(out, ntasks);
	tf_strbuf_add_u32(out, (uint32_t)n);
	for (i = 0; i < n; i++) {
		tf_strbuf_add_u64(out, tasks[i].id);
		tf_strbuf_add_u32(out, tasks[i].attempt);
		tf_strbuf_add_f64(out, tasks[i].timeout);
		tf_strbuf_add_u32(out, tasks[i].slots);
		/* 0: slots x --gpus-per-slot; else 1 + the GPUs it asks. */
		tf_strbuf_add_u32(out, tasks[i].gpus_given
					       ? tasks[i].gpus + 1 : 0);
		tf_strbuf_add_u32(out, tasks[i].cmd_len);
		tf_strbuf_add(out, tasks[i].cmd, tasks[i].cmd_len);
	}
}

int tf_wire_unpack_tasks(const void *buf, size_t len, uint64_t *ntasks,
			 struct tf_task **tasks, size_t *n)
{
	struct tf_reader c;
	struct tf_task *arr;
	uint32_t count, i, gpus;

	tf_reader_init(&c, buf, len);
	*ntasks = tf_reader_u64(&c);
	count = tf_reader_u32(&c);
	/* Each task needs at least 32 bytes: refuse absurd counts early. */
	if (tf_reader_failed(&c) || count > tf_reader_left(&c) / 32)
		return TF_EPROTO;
	arr = tf__xcalloc(count ? count : 1, sizeof(*arr));
	for (i = 0; i < count; i++) {
		const unsigned char *cmd;

		arr[i].id = tf_reader_u64(&c);
		arr[i].attempt = tf_reader_u32(&c);
		arr[i].timeout = tf_reader_f64(&c);
		arr[i].slots = tf_reader_u32(&c);
		gpus = tf_reader_u32(&c);
		arr[i].gpus_given = gpus != 0;
		arr[i].gpus = gpus ? gpus - 1 : 0;
		if (arr[i].slots > 1000000 || gpus > 1000001)
			tf_reader_fail(&c);
		arr[i].cmd_len = tf_reader_u32(&c);
		arr[i].avoid_rank = -1;
		if (!(arr[i].timeout >= 0 && arr[i].timeout < 1e12))
			tf_reader_fail(&c); /* NaN, negative or absurd */
		cmd = tf_reader_take(&c, arr[i].cmd_len);
		if (!cmd)
			break;
		arr[i].cmd = tf__xstrndup((const char *)cmd, arr[i].cmd_len);
	}
	if (!tf_reader_done(&c)) {
		uint32_t j;
		for (j = 0; j < count; j++)
			free(arr[j].cmd);
		free(arr);
		return TF_EPROTO;
	}
	*tasks = arr;
	*n = count;
	return 0;
}

void tf_wire_results_begin(struct tf_strbuf *out)
{
	if (out->len != 0)
		tf_die("internal error: a RESULTS batch must start empty");
	/* want_total and count, patched by tf_wire_results_end(). */
	tf_strbuf_add_u64(out, 0);
	tf_strbuf_add_u32(out, 0);
}

int tf_wire_output_inline(const struct tf_result *r)
{
	return r->out.len + r->err.len <= TF_WIRE_INLINE_MAX;
}

static void put_output_inline(struct tf_strbuf *out, const struct tf_output *o)
{
	size_t start = out->len;

	tf_strbuf_grow(out, (size_t)o->len);
	if (tf_output_pread(o, out->buf + start, (size_t)o->len, 0) !=
	    (long)o->len)
		tf_die("cannot read back captured output");
	out->len += (size_t)o->len;
	out->buf[out->len] = '\0';
}

void tf_wire_results_add(struct tf_strbuf *out, const struct tf_result *r)
{
	int inl = tf_wire_output_inline(r);

	tf_strbuf_add_u64(out, r->id);
	tf_strbuf_add_u32(out, r->attempt);
	tf_strbuf_add_u32(out, (uint32_t)r->slot);
	tf_strbuf_add_u32(out, (uint32_t)r->status);
	tf_strbuf_add_u32(out, (uint32_t)r->exitval);
	tf_strbuf_add_u32(out, (uint32_t)r->signal);
	tf_strbuf_add_f64(out, r->start);
	tf_strbuf_add_f64(out, r->runtime);
	tf_strbuf_add_u64(out, (uint64_t)r->maxrss_kb);
	tf_strbuf_add_f64(out, r->utime);
	tf_strbuf_add_f64(out, r->stime);
	tf_strbuf_add_u64(out, r->out.len);
	tf_strbuf_add_u64(out, r->err.len);
	tf_strbuf_add_u8(out, (uint8_t)inl);
	if (inl) {
		put_output_inline(out, &r->out);
		put_output_inline(out, &r->err);
	}
}

void tf_wire_results_end(struct tf_strbuf *out, uint32_t count,
			 uint64_t want_total)
{
	tf_le64_store(out->buf, want_total);
	tf_le32_store(out->buf + 8, count);
}

int tf_wire_unpack_results(const void *buf, size_t len, uint64_t *want_total,
			   struct tf_result **results, size_t *n)
{
	struct tf_reader c;
	struct tf_result *arr;
	uint32_t count, i;

	tf_reader_init(&c, buf, len);
	*want_total = tf_reader_u64(&c);
	count = tf_reader_u32(&c);
	/* A result is at least 85 bytes: refuse absurd counts early. */
	if (tf_reader_failed(&c) || count > tf_reader_left(&c) / 85)
		return TF_EPROTO;
	arr = tf__xcalloc(count ? count : 1, sizeof(*arr));
	for (i = 0; i < count; i++)
		tf_result_init(&arr[i]);
	for (i = 0; i < count && !tf_reader_failed(&c); i++) {
		struct tf_result *r = &arr[i];
		uint64_t out_len, err_len;

		r->id = tf_reader_u64(&c);
		r->attempt = tf_reader_u32(&c);
		r->slot = (int32_t)tf_reader_u32(&c);
		r->status = (int32_t)tf_reader_u32(&c);
		r->exitval = (int32_t)tf_reader_u32(&c);
		r->signal = (int32_t)tf_reader_u32(&c);
		r->start = tf_reader_f64(&c);
		r->runtime = tf_reader_f64(&c);
		r->maxrss_kb = (int64_t)tf_reader_u64(&c);
		r->utime = tf_reader_f64(&c);
		r->stime = tf_reader_f64(&c);
		out_len = tf_reader_u64(&c);
		err_len = tf_reader_u64(&c);
		if (tf_reader_u8(&c)) {
			const unsigned char *o, *e;
			size_t left = tf_reader_left(&c);

			if (out_len > left || err_len > left - out_len) {
				tf_reader_fail(&c);
				break;
			}
			o = tf_reader_take(&c, (size_t)out_len);
			e = tf_reader_take(&c, (size_t)err_len);
			if (tf_reader_failed(&c))
				break;
			tf_output_append(&r->out, o, (size_t)out_len,
					 SIZE_MAX);
			tf_output_append(&r->err, e, (size_t)err_len,
					 SIZE_MAX);
		} else {
			/* Streamed: the totals only; the bytes came ahead. */
			r->streamed = 1;
			r->streamed_out = out_len;
			r->streamed_err = err_len;
		}
	}
	if (!tf_reader_done(&c)) {
		uint32_t j;
		for (j = 0; j < count; j++)
			tf_result_release(&arr[j]);
		free(arr);
		return TF_EPROTO;
	}
	*results = arr;
	*n = count;
	return 0;
}

void tf_wire_pack_output(struct tf_strbuf *out, uint64_t id, uint32_t attempt,
			 int stream, const void *data, size_t len)
{
	tf_strbuf_add_u64(out, id);
	tf_strbuf_add_u32(out, attempt);
	tf_strbuf_add_u8(out, (uint8_t)stream);
	tf_strbuf_add(out, data, len);
}

void tf_wire_pack_lines(struct tf_strbuf *out, uint64_t id, uint32_t attempt,
			int which, int slot, const void *data, size_t len)
{
	tf_strbuf_add_u64(out, id);
	tf_strbuf_add_u32(out, attempt);
	tf_strbuf_add_u8(out, (uint8_t)(TF_WIRE_LINES_OUT + which));
	tf_strbuf_add_u32(out, (uint32_t)slot);
	tf_strbuf_add(out, data, len);
}

int tf_wire_unpack_output(const void *buf, size_t len, uint64_t *id,
			  uint32_t *attempt, int *stream, int *slot,
			  const void **data, size_t *datalen)
{
	struct tf_reader c;

	tf_reader_init(&c, buf, len);
	*id = tf_reader_u64(&c);
	*attempt = tf_reader_u32(&c);
	*stream = tf_reader_u8(&c);
	*slot = 0;
	if (*stream == TF_WIRE_LINES_OUT || *stream == TF_WIRE_LINES_ERR)
		*slot = (int)tf_reader_u32(&c);
	else if (*stream != 1 && *stream != 2)
		return TF_EPROTO;
	if (tf_reader_failed(&c) || *slot < 0)
		return TF_EPROTO;
	*datalen = tf_reader_left(&c);
	*data = tf_reader_take(&c, *datalen);
	return 0;
}

void tf_wire_pack_control(struct tf_strbuf *out, uint32_t code, double arg)
{
	tf_strbuf_add_u32(out, code);
	tf_strbuf_add_f64(out, arg);
}

int tf_wire_unpack_control(const void *buf, size_t len, uint32_t *code,
			   double *arg)
{
	struct tf_reader c;

	tf_reader_init(&c, buf, len);
	*code = tf_reader_u32(&c);
	*arg = tf_reader_f64(&c);
	if (!tf_reader_done(&c) || *arg != *arg)
		return TF_EPROTO;
	return 0;
}
