/*
 * The id table's insertion, growth and deletion; lookups are inline in
 * idtable.h. Deletion shifts the later members of the probe run back
 * into the hole, so every id stays reachable from its home slot without
 * a run of empties in between.
 */
#include "config.h"

#include "core/idtable.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"

/* A table of cap empty slots (every byte 0xff: value TF_IDTABLE_NONE). */
static struct tf_idtable_entry *new_tab(size_t cap)
{
	struct tf_idtable_entry *tab;

	if (cap > SIZE_MAX / sizeof(*tab))
		tf_die("internal error: an id table of %zu slots is too large",
		       cap);
	tab = tf__xmalloc(cap * sizeof(*tab));
	memset(tab, 0xff, cap * sizeof(*tab));
	return tab;
}

void tf_idtable_init(struct tf_idtable *t, size_t expect)
{
	memset(t, 0, sizeof(*t));
	if (expect) {
		size_t cap = 16;

		while (cap / 2 < expect)
			cap *= 2;
		t->tab = new_tab(cap);
		t->cap = cap;
	}
}

void tf_idtable_release(struct tf_idtable *t)
{
	free(t->tab);
	memset(t, 0, sizeof(*t));
}

static void grow(struct tf_idtable *t)
{
	struct tf_idtable_entry *old = t->tab;
	size_t oldcap = t->cap, i;

	t->cap = t->cap ? t->cap * 2 : 16;
	t->tab = new_tab(t->cap);
	for (i = 0; i < oldcap; i++) {
		size_t s;

		if (old[i].value == TF_IDTABLE_NONE)
			continue;
		s = tf__idtable_home(t->cap, old[i].id);
		while (t->tab[s].value != TF_IDTABLE_NONE)
			s = (s + 1) & (t->cap - 1);
		t->tab[s] = old[i];
	}
	free(old);
}

int tf_idtable_put(struct tf_idtable *t, uint64_t id, size_t value)
{
	size_t s;

	if (value == TF_IDTABLE_NONE)
		tf_die("internal error: TF_IDTABLE_NONE stored in an id table");
	if ((t->count + 1) * 2 > t->cap)
		grow(t);
	for (s = tf__idtable_home(t->cap, id);
	     t->tab[s].value != TF_IDTABLE_NONE; s = (s + 1) & (t->cap - 1))
		if (t->tab[s].id == id) {
			t->tab[s].value = value;
			return 0;
		}
	t->tab[s].id = id;
	t->tab[s].value = value;
	t->count++;
	return 1;
}

size_t tf_idtable_remove(struct tf_idtable *t, uint64_t id)
{
	size_t mask = t->cap - 1, hole, s, value;

	if (!t->count)
		return TF_IDTABLE_NONE;
	for (hole = tf__idtable_home(t->cap, id);; hole = (hole + 1) & mask) {
		if (t->tab[hole].value == TF_IDTABLE_NONE)
			return TF_IDTABLE_NONE;
		if (t->tab[hole].id == id)
			break;
	}
	value = t->tab[hole].value;
	t->tab[hole].value = TF_IDTABLE_NONE;
	for (s = (hole + 1) & mask; t->tab[s].value != TF_IDTABLE_NONE;
	     s = (s + 1) & mask) {
		size_t home = tf__idtable_home(t->cap, t->tab[s].id);

		/* Move s into the hole unless its home is in (hole, s]. */
		if (((s - home) & mask) >= ((s - hole) & mask)) {
			t->tab[hole] = t->tab[s];
			t->tab[s].value = TF_IDTABLE_NONE;
			hole = s;
		}
	}
	t->count--;
	return value;
}
