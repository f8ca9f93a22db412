/*
 * A growable ring (a double-ended queue) of fixed-size elements: push and
 * pop at both ends and index from the front in constant time. The farm's
 * ready tasks and a worker's queued tasks live in one. Elements are
 * plain bytes to the ring: it copies nothing in (a push returns the slot
 * to fill) and frees nothing an element points to. No MPI.
 */
#ifndef TF_RING_H
#define TF_RING_H

#include <stddef.h>

/**
 * The ring. cap is 0 or a power of two; the element at index i (0 is the
 * front) is at ((head + i) & (cap - 1)). Read the fields, never write
 * them.
 */
struct tf_ring {
	unsigned char *buf;
	size_t elem_size;
	size_t head;
	size_t len;
	size_t cap;
};

/**
 * Prepares r for elements of elem_size bytes with room for at least
 * cap_hint of them (0: allocate at the first push). Out of memory
 * aborts.
 */
void tf_ring_init(struct tf_ring *r, size_t elem_size, size_t cap_hint);
/** Frees the ring's storage (not what elements point to); r is empty and
 * may be used again. */
void tf_ring_release(struct tf_ring *r);

/** Doubles r's capacity, keeping its elements in order. Internal to the
 * inline pushes. */
void tf__ring_grow(struct tf_ring *r);

static inline size_t tf_ring_len(const struct tf_ring *r)
{
	return r->len;
}

/** The element at index i from the front (i < tf_ring_len()); valid
 * until the next push or release. */
static inline void *tf_ring_at(const struct tf_ring *r, size_t i)
{
	return r->buf + ((r->head + i) & (r->cap - 1)) * r->elem_size;
}

/** Adds an element at the back and returns it for the caller to fill
 * (its bytes are stale); grows the ring when full. */
static inline void *tf_ring_push_back(struct tf_ring *r)
{
	if (r->len == r->cap)
		tf__ring_grow(r);
	r->len++;
	return tf_ring_at(r, r->len - 1);
}

/** Adds an element at the front and returns it for the caller to fill. */
static inline void *tf_ring_push_front(struct tf_ring *r)
{
	if (r->len == r->cap)
		tf__ring_grow(r);
	r->head = (r->head + r->cap - 1) & (r->cap - 1);
	r->len++;
	return tf_ring_at(r, 0);
}

/**
 * Removes the front element and returns it, or NULL if r is empty
 * (nothing done). The element's bytes stay valid until the next push or
 * release: copy them out before.
 */
static inline void *tf_ring_pop_front(struct tf_ring *r)
{
	void *e;

	if (r->len == 0)
		return NULL;
	e = tf_ring_at(r, 0);
	r->head = (r->head + 1) & (r->cap - 1);
	r->len--;
	return e;
}

/** Removes the back element and returns it, or NULL if r is empty; as
 * tf_ring_pop_front(). */
static inline void *tf_ring_pop_back(struct tf_ring *r)
{
	if (r->len == 0)
		return NULL;
	r->len--;
	return tf_ring_at(r, r->len);
}

#endif
