/*
 * Tests for the core id table (core/idtable.c): lookups, replacing a
 * value, growth that keeps every id, and backward-shift deletion inside
 * runs of colliding ids (ids that share a home slot, and runs that wrap
 * past the end of the table), checked against a model under a long
 * random sequence of insertions and deletions.
 */
#include "config.h"

#include "check_util.h"

#include <stdint.h>

#include "core/idtable.h"

START_TEST(test_put_get_replace)
{
	struct tf_idtable t;

	tf_idtable_init(&t, 0);
	ck_assert_uint_eq(tf_idtable_get(&t, 1), TF_IDTABLE_NONE);
	ck_assert_uint_eq(tf_idtable_remove(&t, 1), TF_IDTABLE_NONE);
	ck_assert_int_eq(tf_idtable_put(&t, 1, 10), 1);
	ck_assert_int_eq(tf_idtable_put(&t, 0, 0), 1); /* id 0, value 0 */
	ck_assert_int_eq(tf_idtable_put(&t, UINT64_MAX, 30), 1);
	ck_assert_uint_eq(tf_idtable_count(&t), 3);
	ck_assert_uint_eq(tf_idtable_get(&t, 1), 10);
	ck_assert_uint_eq(tf_idtable_get(&t, 0), 0);
	ck_assert_uint_eq(tf_idtable_get(&t, UINT64_MAX), 30);
	ck_assert_uint_eq(tf_idtable_get(&t, 2), TF_IDTABLE_NONE);
	ck_assert_int_eq(tf_idtable_put(&t, 1, 11), 0);
	ck_assert_uint_eq(tf_idtable_count(&t), 3);
	ck_assert_uint_eq(tf_idtable_get(&t, 1), 11);
	ck_assert_uint_eq(tf_idtable_remove(&t, 1), 11);
	ck_assert_uint_eq(tf_idtable_remove(&t, 1), TF_IDTABLE_NONE);
	ck_assert_uint_eq(tf_idtable_get(&t, 1), TF_IDTABLE_NONE);
	ck_assert_uint_eq(tf_idtable_count(&t), 2);
	tf_idtable_release(&t);
	ck_assert_uint_eq(tf_idtable_count(&t), 0);
	ck_assert_uint_eq(tf_idtable_get(&t, 0), TF_IDTABLE_NONE);
	/* Released, it can be used again. */
	ck_assert_int_eq(tf_idtable_put(&t, 5, 50), 1);
	ck_assert_uint_eq(tf_idtable_get(&t, 5), 50);
	tf_idtable_release(&t);
}
END_TEST

START_TEST(test_init_sizes)
{
	struct tf_idtable t;
	size_t i;

	tf_idtable_init(&t, 100);
	ck_assert_uint_eq(t.cap, 256); /* at most half full */
	for (i = 0; i < 128; i++)
		tf_idtable_put(&t, i * 7, i);
	ck_assert_uint_eq(t.cap, 256); /* no growth up to half */
	tf_idtable_put(&t, 9999, 1);
	ck_assert_uint_eq(t.cap, 512);
	tf_idtable_release(&t);
}
END_TEST

/* Ids collected to share one home slot (and ids homed at the last slot,
 * whose runs wrap to the start): deleting from the front, middle and
 * end of such runs keeps the rest found. */
START_TEST(test_collisions)
{
	enum { N = 12 };
	struct tf_idtable t;
	uint64_t same[N], last[N], id;
	size_t ns = 0, nl = 0, i, k;

	tf_idtable_init(&t, 64); /* cap 128, never grows below */
	ck_assert_uint_eq(t.cap, 128);
	for (id = 1; ns < N || nl < N; id++) {
		size_t h = tf__idtable_home(t.cap, id);

		if (h == 5 && ns < N)
			same[ns++] = id;
		else if (h == t.cap - 1 && nl < N)
			last[nl++] = id;
	}
	for (i = 0; i < N; i++) {
		tf_idtable_put(&t, same[i], 100 + i);
		tf_idtable_put(&t, last[i], 200 + i);
	}
	ck_assert_uint_eq(t.cap, 128);
	/* Remove every third, first of each run included. */
	for (i = 0; i < N; i += 3) {
		ck_assert_uint_eq(tf_idtable_remove(&t, same[i]), 100 + i);
		ck_assert_uint_eq(tf_idtable_remove(&t, last[i]), 200 + i);
	}
	for (i = 0; i < N; i++) {
		size_t ws = i % 3 ? 100 + i : TF_IDTABLE_NONE;
		size_t wl = i % 3 ? 200 + i : TF_IDTABLE_NONE;

		ck_assert_uint_eq(tf_idtable_get(&t, same[i]), ws);
		ck_assert_uint_eq(tf_idtable_get(&t, last[i]), wl);
	}
	/* Then all the rest, from the end, checking after each. */
	for (k = N; k-- > 0;) {
		if (k % 3 == 0)
			continue;
		ck_assert_uint_eq(tf_idtable_remove(&t, last[k]), 200 + k);
		ck_assert_uint_eq(tf_idtable_remove(&t, same[k]), 100 + k);
		for (i = 0; i < k; i++)
			if (i % 3) {
				ck_assert_uint_eq(tf_idtable_get(&t, same[i]),
						  100 + i);
				ck_assert_uint_eq(tf_idtable_get(&t, last[i]),
						  200 + i);
			}
	}
	ck_assert_uint_eq(tf_idtable_count(&t), 0);
	for (i = 0; i < t.cap; i++)
		ck_assert_uint_eq(t.tab[i].value, TF_IDTABLE_NONE);
	tf_idtable_release(&t);
}
END_TEST

/* Growth from empty to 100000 ids, multiples of the table size included
 * (ids that all differ only in high bits). */
START_TEST(test_growth)
{
	struct tf_idtable t;
	uint64_t i;

	tf_idtable_init(&t, 0);
	ck_assert_uint_eq(t.cap, 0);
	for (i = 0; i < 100000; i++)
		ck_assert_int_eq(tf_idtable_put(&t, i << 20, (size_t)i), 1);
	ck_assert_uint_eq(tf_idtable_count(&t), 100000);
	ck_assert_uint_ge(t.cap, 200000);
	for (i = 0; i < 100000; i++)
		ck_assert_uint_eq(tf_idtable_get(&t, i << 20), (size_t)i);
	ck_assert_uint_eq(tf_idtable_get(&t, 1), TF_IDTABLE_NONE);
	tf_idtable_release(&t);
}
END_TEST

/* Random puts and removes over a small id space (many collisions and
 * long runs) against a plain array model. */
START_TEST(test_random_model)
{
	enum { IDS = 3000 };
	static size_t model[IDS];
	struct tf_idtable t;
	uint64_t x = 0x2545F4914F6CDD1Dull;
	size_t count = 0, i, step;

	for (i = 0; i < IDS; i++)
		model[i] = TF_IDTABLE_NONE;
	tf_idtable_init(&t, 4);
	for (step = 0; step < 300000; step++) {
		uint64_t id;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		id = (x >> 8) % IDS;
		if (x & 1) {
			int added = tf_idtable_put(&t, id * 4096, step);

			ck_assert_int_eq(added, model[id] == TF_IDTABLE_NONE);
			count += (size_t)added;
			model[id] = step;
		} else {
			ck_assert_uint_eq(tf_idtable_remove(&t, id * 4096),
					  model[id]);
			if (model[id] != TF_IDTABLE_NONE)
				count--;
			model[id] = TF_IDTABLE_NONE;
		}
		ck_assert_uint_eq(tf_idtable_count(&t), count);
		if (step % 4999 == 0)
			for (i = 0; i < IDS; i++)
				ck_assert_uint_eq(tf_idtable_get(&t, i * 4096),
						  model[i]);
	}
	tf_idtable_release(&t);
}
END_TEST

static Suite *idtable_suite(void)
{
	Suite *s = suite_create("idtable");
	TCase *tc;

	tc = tcase_create("basic");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_put_get_replace);
	tcase_add_test(tc, test_init_sizes);
	suite_add_tcase(s, tc);

	tc = tcase_create("probing");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_collisions);
	tcase_add_test(tc, test_growth);
	tcase_add_test(tc, test_random_model);
	suite_add_tcase(s, tc);

	return s;
}

TF_CHECK_MAIN(idtable_suite)
