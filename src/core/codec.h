/*
 * Little-endian byte codecs for the messages between ranks: stores and
 * loads at a pointer, appends to a tf_strbuf, and a bounded reader whose
 * getters refuse to read past the end of the buffer. Both engines' wire
 * modules (farm/wire.c, pool/wire.c) encode with these. Everything is
 * static inline: they run once per field of every task and result. No
 * MPI.
 */
#ifndef TF_CODEC_H
#define TF_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/util.h"

/** Stores v at p as 4 little-endian bytes; p needs no alignment. */
static inline void tf_le32_store(void *p, uint32_t v)
{
	unsigned char *b = p;

	b[0] = (unsigned char)v;
	b[1] = (unsigned char)(v >> 8);
	b[2] = (unsigned char)(v >> 16);
	b[3] = (unsigned char)(v >> 24);
}

/** Stores v at p as 8 little-endian bytes; p needs no alignment. */
static inline void tf_le64_store(void *p, uint64_t v)
{
	unsigned char *b = p;

	tf_le32_store(b, (uint32_t)v);
	tf_le32_store(b + 4, (uint32_t)(v >> 32));
}

/** Loads 4 little-endian bytes at p; the caller checked they exist. */
static inline uint32_t tf_le32_load(const void *p)
{
	const unsigned char *b = p;

	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

/** Loads 8 little-endian bytes at p; the caller checked they exist. */
static inline uint64_t tf_le64_load(const void *p)
{
	const unsigned char *b = p;

	return (uint64_t)tf_le32_load(b) | (uint64_t)tf_le32_load(b + 4) << 32;
}

/**
 * Appends v to sb in n little-endian bytes (n is 1, 4 or 8), growing sb
 * as needed (out of memory aborts); sb stays NUL-terminated.
 */
static inline void tf__strbuf_add_le(struct tf_strbuf *sb, uint64_t v,
				     size_t n)
{
	if (sb->alloc - sb->len < n + 1)
		tf_strbuf_grow(sb, n);
	if (n == 1)
		sb->buf[sb->len] = (char)v;
	else if (n == 4)
		tf_le32_store(sb->buf + sb->len, (uint32_t)v);
	else
		tf_le64_store(sb->buf + sb->len, v);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

/** Appends one byte, 4 or 8 little-endian bytes, or a double's 8 bytes
 * (its IEEE-754 bits as a uint64) to sb. */
static inline void tf_strbuf_add_u8(struct tf_strbuf *sb, uint8_t v)
{
	tf__strbuf_add_le(sb, v, 1);
}

static inline void tf_strbuf_add_u32(struct tf_strbuf *sb, uint32_t v)
{
	tf__strbuf_add_le(sb, v, 4);
}

static inline void tf_strbuf_add_u64(struct tf_strbuf *sb, uint64_t v)
{
	tf__strbuf_add_le(sb, v, 8);
}

static inline void tf_strbuf_add_f64(struct tf_strbuf *sb, double d)
{
	uint64_t v;

	memcpy(&v, &d, 8);
	tf__strbuf_add_le(sb, v, 8);
}

/**
 * A bounded reader over a buffer the caller owns (and keeps alive while
 * the reader is used). Every getter that would pass the end reads
 * nothing, returns 0 (or NULL) and marks the reader failed; a failed
 * reader stays failed, so a decoder may read all its fields and check
 * tf_reader_failed() once at the end.
 */
struct tf_reader {
	const unsigned char *p; /* the next byte */
	size_t left;            /* bytes from p to the end */
	int failed;
};

static inline void tf_reader_init(struct tf_reader *r, const void *buf,
				  size_t len)
{
	r->p = buf;
	r->left = len;
	r->failed = 0;
}

/** Whether a read ran past the end (or tf_reader_fail() was called). */
static inline int tf_reader_failed(const struct tf_reader *r)
{
	return r->failed;
}

/** Marks r failed, for a decoder that found a bad value. */
static inline void tf_reader_fail(struct tf_reader *r)
{
	r->failed = 1;
}

/** Bytes not read yet. */
static inline size_t tf_reader_left(const struct tf_reader *r)
{
	return r->left;
}

/** Whether every byte was read and nothing failed: a whole message. */
static inline int tf_reader_done(const struct tf_reader *r)
{
	return !r->failed && r->left == 0;
}

/**
 * Consumes n bytes and returns a pointer to them (into the caller's
 * buffer), or NULL when fewer than n are left or r has failed (then r
 * is failed and nothing is consumed).
 */
static inline const void *tf_reader_take(struct tf_reader *r, size_t n)
{
	const unsigned char *p = r->p;

	if (r->failed || r->left < n) {
		r->failed = 1;
		return NULL;
	}
	r->p += n;
	r->left -= n;
	return p;
}

/** Reads a byte, 4 or 8 little-endian bytes, or a double; 0 on overrun. */
static inline uint8_t tf_reader_u8(struct tf_reader *r)
{
	const unsigned char *p = tf_reader_take(r, 1);

	return p ? p[0] : 0;
}

static inline uint32_t tf_reader_u32(struct tf_reader *r)
{
	const unsigned char *p = tf_reader_take(r, 4);

	return p ? tf_le32_load(p) : 0;
}

static inline uint64_t tf_reader_u64(struct tf_reader *r)
{
	const unsigned char *p = tf_reader_take(r, 8);

	return p ? tf_le64_load(p) : 0;
}

static inline double tf_reader_f64(struct tf_reader *r)
{
	uint64_t v = tf_reader_u64(r);
	double d;

	memcpy(&d, &v, 8);
	return d;
}

#endif
