/*
 * A table from 64-bit ids to size_t values (an index into the caller's
 * array, or a pointer cast to size_t): open addressing with linear
 * probing, backward-shift deletion (no tombstones, so lookups never slow
 * down with churn) and doubling at half full. The farm's tasks in flight
 * and the journal's sparse history are found through one. No MPI.
 */
#ifndef TF_IDTABLE_H
#define TF_IDTABLE_H

#include <stddef.h>
#include <stdint.h>

/** The value an absent id has; it cannot be stored. */
#define TF_IDTABLE_NONE SIZE_MAX

struct tf_idtable_entry {
	uint64_t id;
	size_t value; /* TF_IDTABLE_NONE: an empty slot */
};

/** The table. cap is 0 or a power of two. Read the fields, never write
 * them. */
struct tf_idtable {
	struct tf_idtable_entry *tab;
	size_t cap;
	size_t count;
};

/**
 * Prepares t to hold about expect ids before it first grows (0:
 * allocate at the first tf_idtable_put()). Out of memory aborts. A
 * zeroed struct tf_idtable is an empty table too.
 */
void tf_idtable_init(struct tf_idtable *t, size_t expect);
/** Frees the table (not what values point to); t is empty and may be
 * used again. */
void tf_idtable_release(struct tf_idtable *t);

/** The home slot of id in a table of cap slots (a power of two). */
static inline size_t tf__idtable_home(size_t cap, uint64_t id)
{
	return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

/** The value of id, or TF_IDTABLE_NONE if id is not in t. */
static inline size_t tf_idtable_get(const struct tf_idtable *t, uint64_t id)
{
	size_t s;

	if (!t->count)
		return TF_IDTABLE_NONE;
	for (s = tf__idtable_home(t->cap, id);
	     t->tab[s].value != TF_IDTABLE_NONE; s = (s + 1) & (t->cap - 1))
		if (t->tab[s].id == id)
			return t->tab[s].value;
	return TF_IDTABLE_NONE;
}

static inline size_t tf_idtable_count(const struct tf_idtable *t)
{
	return t->count;
}

/**
 * Maps id to value (which must not be TF_IDTABLE_NONE), replacing the
 * value id had. Grows t as needed. Returns 1 if id was new, 0 if it was
 * there already.
 */
int tf_idtable_put(struct tf_idtable *t, uint64_t id, size_t value);

/**
 * Removes id from t and returns the value it had, or TF_IDTABLE_NONE
 * (nothing done) if it was not there.
 */
size_t tf_idtable_remove(struct tf_idtable *t, uint64_t id);

#endif
