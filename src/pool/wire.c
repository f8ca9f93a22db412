/*
 * Encoding of the pool's messages (see pool/wire.h): explicit
 * little-endian headers, through the core's codec (core/codec.h), around
 * the application's bytes.
 */
#include "config.h"

#include "pool/wire.h"

#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "taskfarm.h"

#define PW_MAGIC 0x54465031u /* "TFP1" */

/* TASKS: magic job first count fn in_size out_size, padded to 40 bytes
 * so that inputs start 8-byte aligned in a malloc'd buffer. */
#define TASKS_HDR TF_PWIRE_TASKS_HDR

void tf_pwire_tasks_begin(struct tf_strbuf *out, const struct tf_ptasks *t)
{
	tf_strbuf_add_u32(out, PW_MAGIC);
	tf_strbuf_add_u64(out, t->job);
	tf_strbuf_add_u64(out, t->first);
	tf_strbuf_add_u32(out, t->count);
	tf_strbuf_add_u32(out, t->fn);
	tf_strbuf_add_u32(out, t->in_size);
	tf_strbuf_add_u32(out, t->out_size);
	tf_strbuf_add_u32(out, t->flags);
}

/* Zero bytes up to the next multiple of 8 of sb's length. */
static void pad8(struct tf_strbuf *sb)
{
	static const char zeros[8];

	if (sb->len % 8)
		tf_strbuf_add(sb, zeros, 8 - sb->len % 8);
}

static size_t round8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

size_t tf_pwire_var_size(size_t len)
{
	return 8 + round8(len);
}

void tf_pwire_add_var(struct tf_strbuf *out, const void *data, size_t len)
{
	tf_strbuf_add_u64(out, len);
	tf_strbuf_add(out, data, len);
	pad8(out);
}

int tf_pwire_tasks_next(const struct tf_ptasks *t, size_t *off,
			const void **data, size_t *len)
{
	uint64_t l;

	if (*off + 8 > t->data_len)
		return 0;
	l = tf_le64_load(t->data + *off);
	if (l > t->data_len - *off - 8 ||
	    round8((size_t)l) > t->data_len - *off - 8)
		return 0;
	*data = t->data + *off + 8;
	*len = (size_t)l;
	*off += 8 + round8((size_t)l);
	return 1;
}

int tf_pwire_tasks_decode(const void *buf, size_t len, struct tf_ptasks *t)
{
	const unsigned char *p = buf;

	if (len < TASKS_HDR || tf_le32_load(p) != PW_MAGIC)
		return TF_EPROTO;
	t->job = tf_le64_load(p + 4);
	t->first = tf_le64_load(p + 12);
	t->count = tf_le32_load(p + 20);
	t->fn = tf_le32_load(p + 24);
	t->in_size = tf_le32_load(p + 28);
	t->out_size = tf_le32_load(p + 32);
	t->flags = tf_le32_load(p + 36);
	t->data = p + TASKS_HDR;
	t->data_len = len - TASKS_HDR;
	if (t->count == 0 || (t->flags & ~TF_PWIRE_FUTURES))
		return TF_EPROTO;
	if (t->in_size != TF_POOL_VARSIZE) {
		if ((uint64_t)t->count * t->in_size != t->data_len)
			return TF_EPROTO;
	} else {
		size_t off = 0, l;
		const void *d;
		uint32_t i;

		for (i = 0; i < t->count; i++)
			if (!tf_pwire_tasks_next(t, &off, &d, &l))
				return TF_EPROTO;
		if (off != t->data_len)
			return TF_EPROTO;
	}
	return 0;
}

/* RESULTS: magic job first count form out_size compute_ns, padded to
 * 48 bytes; records are padded to 8 bytes, so results are aligned. */
void tf_pwire_results_header(struct tf_strbuf *out, const struct tf_presults *r)
{
	unsigned char *p = (unsigned char *)out->buf;
	double ns = r->compute_s * 1e9;

	tf_le32_store(p, PW_MAGIC);
	tf_le64_store(p + 4, r->job);
	tf_le64_store(p + 12, r->first);
	tf_le32_store(p + 20, r->count);
	tf_le32_store(p + 24, r->form);
	tf_le32_store(p + 28, r->out_size);
	tf_le64_store(p + 32, ns > 0 ? (uint64_t)ns : 0);
	tf_le64_store(p + 40, 0);
}

void tf_pwire_add_record(struct tf_strbuf *out, int32_t status,
			 const void *result, size_t len, const char *error,
			 size_t errlen)
{
	tf_strbuf_add_u32(out, (uint32_t)status);
	tf_strbuf_add_u32(out, (uint32_t)errlen);
	tf_strbuf_add_u64(out, len);
	tf_strbuf_add(out, result, len);
	tf_strbuf_add(out, error, errlen);
	pad8(out);
}

size_t tf_pwire_record_size(size_t len, size_t errlen)
{
	return TF_PWIRE_RECORD_HDR + round8(len + errlen);
}

void tf_pwire_record_header(void *p, int32_t status, size_t len,
			    size_t errlen)
{
	unsigned char *b = p;

	tf_le32_store(b, (uint32_t)status);
	tf_le32_store(b + 4, (uint32_t)errlen);
	tf_le64_store(b + 8, len);
}

int tf_pwire_results_next(const struct tf_presults *r, size_t *off,
			  struct tf_precord *rec)
{
	const unsigned char *p = r->data + *off;
	size_t left = r->data_len - *off;
	uint64_t len;
	uint32_t errlen;

	if (left < TF_PWIRE_RECORD_HDR)
		return 0;
	rec->status = (int32_t)tf_le32_load(p);
	errlen = tf_le32_load(p + 4);
	len = tf_le64_load(p + 8);
	left -= TF_PWIRE_RECORD_HDR;
	if (len > left || errlen > left - len ||
	    round8((size_t)len + errlen) > left)
		return 0;
	rec->result = p + TF_PWIRE_RECORD_HDR;
	rec->len = (size_t)len;
	rec->errlen = errlen;
	rec->error = errlen ? (const char *)p + TF_PWIRE_RECORD_HDR + len
			    : NULL;
	*off += TF_PWIRE_RECORD_HDR + round8((size_t)len + errlen);
	return 1;
}

int tf_pwire_results_decode(const void *buf, size_t len, struct tf_presults *r)
{
	const unsigned char *p = buf;

	if (len < TF_PWIRE_RESULTS_HDR || tf_le32_load(p) != PW_MAGIC)
		return TF_EPROTO;
	r->job = tf_le64_load(p + 4);
	r->first = tf_le64_load(p + 12);
	r->count = tf_le32_load(p + 20);
	r->form = tf_le32_load(p + 24);
	r->out_size = tf_le32_load(p + 28);
	r->compute_s = (double)tf_le64_load(p + 32) / 1e9;
	r->data = p + TF_PWIRE_RESULTS_HDR;
	r->data_len = len - TF_PWIRE_RESULTS_HDR;
	if (r->count == 0 || r->form > TF_PWIRE_UNIFORM)
		return TF_EPROTO;
	if (r->form == TF_PWIRE_COMPACT) {
		if (r->out_size == TF_POOL_VARSIZE ||
		    (uint64_t)r->count * r->out_size != r->data_len)
			return TF_EPROTO;
	} else {
		struct tf_precord rec;
		size_t off = 0;
		uint32_t i, records;

		records = r->form == TF_PWIRE_UNIFORM ? 1 : r->count;
		for (i = 0; i < records; i++)
			if (!tf_pwire_results_next(r, &off, &rec))
				return TF_EPROTO;
		if (off != r->data_len)
			return TF_EPROTO;
	}
	return 0;
}

int tf_pwire_results_record(const struct tf_presults *r, size_t *off,
			    uint32_t i, struct tf_precord *rec)
{
	size_t at = 0;

	if (i >= r->count)
		return 0;
	switch (r->form) {
	case TF_PWIRE_COMPACT:
		rec->status = 0;
		rec->result = r->data + (size_t)i * r->out_size;
		rec->len = r->out_size;
		rec->error = NULL;
		rec->errlen = 0;
		return 1;
	case TF_PWIRE_UNIFORM:
		return tf_pwire_results_next(r, &at, rec);
	default:
		return tf_pwire_results_next(r, off, rec);
	}
}

void tf_pwire_results_uniform(struct tf_strbuf *out,
			      const struct tf_presults *r, int32_t status,
			      const char *why, size_t len)
{
	struct tf_presults h = *r;

	h.form = TF_PWIRE_UNIFORM;
	h.out_size = TF_POOL_VARSIZE;
	h.compute_s = 0;
	tf_strbuf_reset(out);
	tf_strbuf_grow(out, TF_PWIRE_RESULTS_HDR);
	out->len = TF_PWIRE_RESULTS_HDR;
	tf_pwire_add_record(out, status, NULL, 0, why, len);
	tf_pwire_results_header(out, &h);
}

/* HELLO: magic count pid space, then each name as a length and bytes. */
void tf_pwire_pack_hello(struct tf_strbuf *out, const struct tf_pident *who,
			 const char *const *names, size_t n)
{
	size_t i;

	tf_strbuf_add_u32(out, PW_MAGIC);
	tf_strbuf_add_u32(out, (uint32_t)n);
	tf_strbuf_add_u64(out, who->pid);
	tf_strbuf_add_u64(out, who->space);
	for (i = 0; i < n; i++) {
		size_t l = strlen(names[i]);

		tf_strbuf_add_u32(out, (uint32_t)l);
		tf_strbuf_add(out, names[i], l);
	}
}

int tf_pwire_unpack_hello(const void *buf, size_t len, struct tf_pident *who,
			  char ***names, size_t *n)
{
	const unsigned char *p = buf;
	size_t off = 24, i, count;
	char **v;

	if (len < 24 || tf_le32_load(p) != PW_MAGIC)
		return TF_EPROTO;
	count = tf_le32_load(p + 4);
	if (count > (len - 24) / 4)
		return TF_EPROTO;
	who->pid = tf_le64_load(p + 8);
	who->space = tf_le64_load(p + 16);
	v = tf__xcalloc(count + 1, sizeof(*v));
	for (i = 0; i < count; i++) {
		uint32_t l;

		if (len - off < 4)
			goto bad;
		l = tf_le32_load(p + off);
		off += 4;
		if (l > len - off || memchr(p + off, '\0', l))
			goto bad;
		v[i] = tf__xstrndup((const char *)p + off, l);
		off += l;
	}
	if (off != len)
		goto bad;
	*names = v;
	*n = count;
	return 0;
bad:
	for (i = 0; i < count; i++)
		free(v[i]);
	free(v);
	return TF_EPROTO;
}

/* START: magic status pid space length, then the argument. */
void tf_pwire_pack_start(struct tf_strbuf *out, const struct tf_pident *who,
			 int32_t status, const void *data, size_t len)
{
	tf_strbuf_add_u32(out, PW_MAGIC);
	tf_strbuf_add_u32(out, (uint32_t)status);
	tf_strbuf_add_u64(out, who->pid);
	tf_strbuf_add_u64(out, who->space);
	tf_strbuf_add_u64(out, len);
	tf_strbuf_add(out, data, len);
}

int tf_pwire_unpack_start(const void *buf, size_t len, struct tf_pident *who,
			  int32_t *status, const void **data, size_t *datalen)
{
	const unsigned char *p = buf;

	if (len < 32 || tf_le32_load(p) != PW_MAGIC ||
	    tf_le64_load(p + 24) != len - 32)
		return TF_EPROTO;
	*status = (int32_t)tf_le32_load(p + 4);
	who->pid = tf_le64_load(p + 8);
	who->space = tf_le64_load(p + 16);
	*data = p + 32;
	*datalen = len - 32;
	return 0;
}

void tf_pwire_pack_status(struct tf_strbuf *out, int32_t status,
			  const void *data, size_t len)
{
	tf_strbuf_add_u32(out, PW_MAGIC);
	tf_strbuf_add_u32(out, (uint32_t)status);
	tf_strbuf_add_u64(out, len);
	tf_strbuf_add(out, data, len);
}

int tf_pwire_unpack_status(const void *buf, size_t len, int32_t *status,
			   const void **data, size_t *datalen)
{
	const unsigned char *p = buf;

	if (len < 16 || tf_le32_load(p) != PW_MAGIC || tf_le64_load(p + 8) != len - 16)
		return TF_EPROTO;
	*status = (int32_t)tf_le32_load(p + 4);
	*data = p + 16;
	*datalen = len - 16;
	return 0;
}
