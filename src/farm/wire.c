/*
 * The wire encoding. Every decoder walks a bounded cursor that refuses to
 * read past the end, so a short or corrupt message yields TF_EPROTO.
 */
#include "config.h"

#include "farm/wire.h"

#include <stdlib.h>
#include <string.h>

#include "taskfarm.h"

static void put_u8(struct tf_strbuf *sb, uint8_t v)
{
	tf_strbuf_addch(sb, v);
}

static void put_u32(struct tf_strbuf *sb, uint32_t v)
{
	unsigned char b[4];
	int i;

	for (i = 0; i < 4; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	tf_strbuf_add(sb, b, 4);
}

static void put_u64(struct tf_strbuf *sb, uint64_t v)
{
	unsigned char b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	tf_strbuf_add(sb, b, 8);
}

static void put_f64(struct tf_strbuf *sb, double d)
{
	uint64_t v;

	memcpy(&v, &d, 8);
	put_u64(sb, v);
}

struct cursor {
	const unsigned char *p;
	size_t left;
	int bad;
};

static const unsigned char *take(struct cursor *c, size_t n)
{
	const unsigned char *p = c->p;

	if (c->bad || c->left < n) {
		c->bad = 1;
		return NULL;
	}
	c->p += n;
	c->left -= n;
	return p;
}

static uint8_t get_u8(struct cursor *c)
{
	const unsigned char *p = take(c, 1);

	return p ? p[0] : 0;
}

static uint32_t get_u32(struct cursor *c)
{
	const unsigned char *p = take(c, 4);
	uint32_t v = 0;
	int i;

	if (!p)
		return 0;
	for (i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get_u64(struct cursor *c)
{
	const unsigned char *p = take(c, 8);
	uint64_t v = 0;
	int i;

	if (!p)
		return 0;
	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static double get_f64(struct cursor *c)
{
	uint64_t v = get_u64(c);
	double d;

	memcpy(&d, &v, 8);
	return d;
}

void tf_wire_pack_hello(struct tf_strbuf *out, const struct tf_hello *h)
{
	size_t hl = strnlen(h->host, sizeof(h->host) - 1);

	put_u32(out, TF_WIRE_MAGIC);
	put_u32(out, h->slots);
	put_u32(out, h->pid);
	put_u64(out, h->pid_space);
	put_u64(out, h->want_total);
	put_u32(out, (uint32_t)hl);
	tf_strbuf_add(out, h->host, hl);
}

int tf_wire_unpack_hello(const void *buf, size_t len, struct tf_hello *h)
{
	struct cursor c = { buf, len, 0 };
	const unsigned char *host;
	uint32_t hl;

	if (get_u32(&c) != TF_WIRE_MAGIC)
		return TF_EPROTO;
	h->slots = get_u32(&c);
	h->pid = get_u32(&c);
	h->pid_space = get_u64(&c);
	h->want_total = get_u64(&c);
	hl = get_u32(&c);
	if (hl >= sizeof(h->host))
		return TF_EPROTO;
	host = take(&c, hl);
	if (c.bad || c.left)
		return TF_EPROTO;
	memcpy(h->host, host, hl);
	h->host[hl] = '\0';
	return 0;
}

void tf_wire_pack_tasks(struct tf_strbuf *out, uint64_t ntasks,
			const struct tf_task *tasks, size_t n)
{
	size_t i;

	put_u64(out, ntasks);
	put_u32(out, (uint32_t)n);
	for (i = 0; i < n; i++) {
		put_u64(out, tasks[i].id);
		put_u32(out, tasks[i].attempt);
		put_f64(out, tasks[i].timeout);
		put_u32(out, tasks[i].cmd_len);
		tf_strbuf_add(out, tasks[i].cmd, tasks[i].cmd_len);
	}
}

int tf_wire_unpack_tasks(const void *buf, size_t len, uint64_t *ntasks,
			 struct tf_task **tasks, size_t *n)
{
	struct cursor c = { buf, len, 0 };
	struct tf_task *arr;
	uint32_t count, i;

	*ntasks = get_u64(&c);
	count = get_u32(&c);
	/* Each task needs at least 24 bytes: refuse absurd counts early. */
	if (c.bad || count > c.left / 24)
		return TF_EPROTO;
	arr = tf__xcalloc(count ? count : 1, sizeof(*arr));
	for (i = 0; i < count; i++) {
		const unsigned char *cmd;

		arr[i].id = get_u64(&c);
		arr[i].attempt = get_u32(&c);
		arr[i].timeout = get_f64(&c);
		arr[i].cmd_len = get_u32(&c);
		arr[i].avoid_rank = -1;
		if (!(arr[i].timeout >= 0 && arr[i].timeout < 1e12))
			c.bad = 1; /* NaN, negative or absurd */
		cmd = take(&c, arr[i].cmd_len);
		if (!cmd)
			break;
		arr[i].cmd = tf__xstrndup((const char *)cmd, arr[i].cmd_len);
	}
	if (c.bad || c.left) {
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
	put_u64(out, 0);
	put_u32(out, 0);
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

	put_u64(out, r->id);
	put_u32(out, r->attempt);
	put_u32(out, (uint32_t)r->slot);
	put_u32(out, (uint32_t)r->status);
	put_u32(out, (uint32_t)r->exitval);
	put_u32(out, (uint32_t)r->signal);
	put_f64(out, r->start);
	put_f64(out, r->runtime);
	put_u64(out, (uint64_t)r->maxrss_kb);
	put_f64(out, r->utime);
	put_f64(out, r->stime);
	put_u64(out, r->out.len);
	put_u64(out, r->err.len);
	put_u8(out, (uint8_t)inl);
	if (inl) {
		put_output_inline(out, &r->out);
		put_output_inline(out, &r->err);
	}
}

void tf_wire_results_end(struct tf_strbuf *out, uint32_t count,
			 uint64_t want_total)
{
	int i;

	for (i = 0; i < 8; i++)
		out->buf[i] = (char)(want_total >> (8 * i));
	for (i = 0; i < 4; i++)
		out->buf[8 + i] = (char)(count >> (8 * i));
}

int tf_wire_unpack_results(const void *buf, size_t len, uint64_t *want_total,
			   struct tf_result **results, size_t *n)
{
	struct cursor c = { buf, len, 0 };
	struct tf_result *arr;
	uint32_t count, i;

	*want_total = get_u64(&c);
	count = get_u32(&c);
	/* A result is at least 85 bytes: refuse absurd counts early. */
	if (c.bad || count > c.left / 85)
		return TF_EPROTO;
	arr = tf__xcalloc(count ? count : 1, sizeof(*arr));
	for (i = 0; i < count; i++)
		tf_result_init(&arr[i]);
	for (i = 0; i < count && !c.bad; i++) {
		struct tf_result *r = &arr[i];
		uint64_t out_len, err_len;

		r->id = get_u64(&c);
		r->attempt = get_u32(&c);
		r->slot = (int32_t)get_u32(&c);
		r->status = (int32_t)get_u32(&c);
		r->exitval = (int32_t)get_u32(&c);
		r->signal = (int32_t)get_u32(&c);
		r->start = get_f64(&c);
		r->runtime = get_f64(&c);
		r->maxrss_kb = (int64_t)get_u64(&c);
		r->utime = get_f64(&c);
		r->stime = get_f64(&c);
		out_len = get_u64(&c);
		err_len = get_u64(&c);
		if (get_u8(&c)) {
			const unsigned char *o, *e;

			if (out_len > c.left || err_len > c.left - out_len) {
				c.bad = 1;
				break;
			}
			o = take(&c, (size_t)out_len);
			e = take(&c, (size_t)err_len);
			if (c.bad)
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
	if (c.bad || c.left) {
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
	put_u64(out, id);
	put_u32(out, attempt);
	put_u8(out, (uint8_t)stream);
	tf_strbuf_add(out, data, len);
}

int tf_wire_unpack_output(const void *buf, size_t len, uint64_t *id,
			  uint32_t *attempt, int *stream, const void **data,
			  size_t *datalen)
{
	struct cursor c = { buf, len, 0 };

	*id = get_u64(&c);
	*attempt = get_u32(&c);
	*stream = get_u8(&c);
	if (c.bad || (*stream != 1 && *stream != 2))
		return TF_EPROTO;
	*data = c.p;
	*datalen = c.left;
	return 0;
}

void tf_wire_pack_control(struct tf_strbuf *out, uint32_t code, double arg)
{
	put_u32(out, code);
	put_f64(out, arg);
}

int tf_wire_unpack_control(const void *buf, size_t len, uint32_t *code,
			   double *arg)
{
	struct cursor c = { buf, len, 0 };

	*code = get_u32(&c);
	*arg = get_f64(&c);
	if (c.bad || c.left || *arg != *arg)
		return TF_EPROTO;
	return 0;
}
