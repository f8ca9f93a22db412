/*
 * The ring's storage: allocation and doubling. A full ring is unrolled
 * into the new buffer front first, so its head starts again at 0; the
 * inline pushes and pops in ring.h do the rest.
 */
#include "config.h"

#include "core/ring.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"

void tf_ring_init(struct tf_ring *r, size_t elem_size, size_t cap_hint)
{
	memset(r, 0, sizeof(*r));
	r->elem_size = elem_size ? elem_size : 1;
	if (cap_hint) {
		size_t cap = 1;

		while (cap < cap_hint) {
			if (cap > SIZE_MAX / 2 / r->elem_size)
				tf_die("internal error: a ring of %zu "
				       "elements is too large", cap_hint);
			cap *= 2;
		}
		r->buf = tf__xmalloc(cap * r->elem_size);
		r->cap = cap;
	}
}

void tf_ring_release(struct tf_ring *r)
{
	size_t elem_size = r->elem_size;

	free(r->buf);
	memset(r, 0, sizeof(*r));
	r->elem_size = elem_size;
}

void tf__ring_grow(struct tf_ring *r)
{
	size_t ncap = r->cap ? r->cap * 2 : 16, first;
	unsigned char *nbuf;

	if (ncap > SIZE_MAX / r->elem_size)
		tf_die("internal error: a ring of %zu elements is too large",
		       ncap);
	nbuf = tf__xmalloc(ncap * r->elem_size);
	if (r->len) {
		/* From head to the end of the old buffer, then the part
		 * that wrapped to its start. */
		first = r->cap - r->head < r->len ? r->cap - r->head : r->len;
		memcpy(nbuf, r->buf + r->head * r->elem_size,
		       first * r->elem_size);
		memcpy(nbuf + first * r->elem_size, r->buf,
		       (r->len - first) * r->elem_size);
	}
	free(r->buf);
	r->buf = nbuf;
	r->cap = ncap;
	r->head = 0;
}
