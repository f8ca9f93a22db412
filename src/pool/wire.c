/*
 * Encoding of the pool's messages (see poolwire.h): explicit
 * little-endian headers around the application's bytes.
 */
#include "config.h"

#include "pool/wire.h"

#include <stdlib.h>
#include <string.h>

#include "taskfarm.h"

#define PW_MAGIC 0x54465031u /* "TFP1" */

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static void put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void add32(struct tf_strbuf *sb, uint32_t v)
{
	unsigned char b[4];

	put32(b, v);
	tf_strbuf_add(sb, b, 4);
}

static void add64(struct tf_strbuf *sb, uint64_t v)
{
	unsigned char b[8];

	put64(b, v);
	tf_strbuf_add(sb, b, 8);
}

/* TASKS: magic job first count fn in_size out_size, padded to 40 bytes
 * so that inputs start 8-byte aligned in a malloc'd buffer. */
#define TASKS_HDR TF_PWIRE_TASKS_HDR

void tf_pwire_tasks_begin(struct tf_strbuf *out, const struct tf_ptasks *t)
{
	add32(out, PW_MAGIC);
	add64(out, t->job);
	add64(out, t->first);
	add32(out, t->count);
	add32(out, t->fn);
	add32(out, t->in_size);
	add32(out, t->out_size);
	add32(out, 0);
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
	add64(out, len);
	tf_strbuf_add(out, data, len);
	pad8(out);
}

int tf_pwire_tasks_next(const struct tf_ptasks *t, size_t *off,
			const void **data, size_t *len)
{
	uint64_t l;

	if (*off + 8 > t->data_len)
		return 0;
	l = get64(t->data + *off);
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

	if (len < TASKS_HDR || get32(p) != PW_MAGIC)
		return TF_EPROTO;
	t->job = get64(p + 4);
	t->first = get64(p + 12);
	t->count = get32(p + 20);
	t->fn = get32(p + 24);
	t->in_size = get32(p + 28);
	t->out_size = get32(p + 32);
	t->data = p + TASKS_HDR;
	t->data_len = len - TASKS_HDR;
	if (t->count == 0)
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

	put32(p, PW_MAGIC);
	put64(p + 4, r->job);
	put64(p + 12, r->first);
	put32(p + 20, r->count);
	put32(p + 24, r->form);
	put32(p + 28, r->out_size);
	put64(p + 32, ns > 0 ? (uint64_t)ns : 0);
	put64(p + 40, 0);
}

void tf_pwire_add_record(struct tf_strbuf *out, int32_t status,
			 const void *result, size_t len, const char *error,
			 size_t errlen)
{
	add32(out, (uint32_t)status);
	add32(out, (uint32_t)errlen);
	add64(out, len);
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

	put32(b, (uint32_t)status);
	put32(b + 4, (uint32_t)errlen);
	put64(b + 8, len);
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
	rec->status = (int32_t)get32(p);
	errlen = get32(p + 4);
	len = get64(p + 8);
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

	if (len < TF_PWIRE_RESULTS_HDR || get32(p) != PW_MAGIC)
		return TF_EPROTO;
	r->job = get64(p + 4);
	r->first = get64(p + 12);
	r->count = get32(p + 20);
	r->form = get32(p + 24);
	r->out_size = get32(p + 28);
	r->compute_s = (double)get64(p + 32) / 1e9;
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

	add32(out, PW_MAGIC);
	add32(out, (uint32_t)n);
	add64(out, who->pid);
	add64(out, who->space);
	for (i = 0; i < n; i++) {
		size_t l = strlen(names[i]);

		add32(out, (uint32_t)l);
		tf_strbuf_add(out, names[i], l);
	}
}

int tf_pwire_unpack_hello(const void *buf, size_t len, struct tf_pident *who,
			  char ***names, size_t *n)
{
	const unsigned char *p = buf;
	size_t off = 24, i, count;
	char **v;

	if (len < 24 || get32(p) != PW_MAGIC)
		return TF_EPROTO;
	count = get32(p + 4);
	if (count > (len - 24) / 4)
		return TF_EPROTO;
	who->pid = get64(p + 8);
	who->space = get64(p + 16);
	v = tf__xcalloc(count + 1, sizeof(*v));
	for (i = 0; i < count; i++) {
		uint32_t l;

		if (len - off < 4)
			goto bad;
		l = get32(p + off);
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
	add32(out, PW_MAGIC);
	add32(out, (uint32_t)status);
	add64(out, who->pid);
	add64(out, who->space);
	add64(out, len);
	tf_strbuf_add(out, data, len);
}

int tf_pwire_unpack_start(const void *buf, size_t len, struct tf_pident *who,
			  int32_t *status, const void **data, size_t *datalen)
{
	const unsigned char *p = buf;

	if (len < 32 || get32(p) != PW_MAGIC || get64(p + 24) != len - 32)
		return TF_EPROTO;
	*status = (int32_t)get32(p + 4);
	who->pid = get64(p + 8);
	who->space = get64(p + 16);
	*data = p + 32;
	*datalen = len - 32;
	return 0;
}

void tf_pwire_pack_status(struct tf_strbuf *out, int32_t status,
			  const void *data, size_t len)
{
	add32(out, PW_MAGIC);
	add32(out, (uint32_t)status);
	add64(out, len);
	tf_strbuf_add(out, data, len);
}

int tf_pwire_unpack_status(const void *buf, size_t len, int32_t *status,
			   const void **data, size_t *datalen)
{
	const unsigned char *p = buf;

	if (len < 16 || get32(p) != PW_MAGIC || get64(p + 8) != len - 16)
		return TF_EPROTO;
	*status = (int32_t)get32(p + 4);
	*data = p + 16;
	*datalen = len - 16;
	return 0;
}
