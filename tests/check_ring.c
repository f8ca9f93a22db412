/*
 * Tests for the core ring (core/ring.c): FIFO and LIFO order at both
 * ends, indexing across the wrap of the buffer, growth that keeps a
 * wrapped ring's order, and pops from an empty ring, checked against a
 * plain array model under a long random sequence of operations.
 */
#include "config.h"

#include "check_util.h"

#include <stdint.h>

#include "core/ring.h"

static void push_back_int(struct tf_ring *r, int v)
{
	*(int *)tf_ring_push_back(r) = v;
}

static void push_front_int(struct tf_ring *r, int v)
{
	*(int *)tf_ring_push_front(r) = v;
}

START_TEST(test_fifo)
{
	struct tf_ring r;
	int i;

	tf_ring_init(&r, sizeof(int), 4);
	ck_assert_uint_eq(r.cap, 4);
	for (i = 0; i < 4; i++)
		push_back_int(&r, i);
	ck_assert_uint_eq(tf_ring_len(&r), 4);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(*(int *)tf_ring_pop_front(&r), i);
	ck_assert_uint_eq(tf_ring_len(&r), 0);
	ck_assert_ptr_null(tf_ring_pop_front(&r));
	ck_assert_ptr_null(tf_ring_pop_back(&r));
	tf_ring_release(&r);
}
END_TEST

START_TEST(test_both_ends)
{
	struct tf_ring r;

	tf_ring_init(&r, sizeof(int), 0);
	ck_assert_uint_eq(r.cap, 0);
	push_back_int(&r, 2);
	push_front_int(&r, 1);
	push_back_int(&r, 3);
	push_front_int(&r, 0);
	ck_assert_uint_eq(tf_ring_len(&r), 4);
	ck_assert_int_eq(*(int *)tf_ring_at(&r, 0), 0);
	ck_assert_int_eq(*(int *)tf_ring_at(&r, 3), 3);
	ck_assert_int_eq(*(int *)tf_ring_pop_back(&r), 3);
	ck_assert_int_eq(*(int *)tf_ring_pop_front(&r), 0);
	ck_assert_int_eq(*(int *)tf_ring_pop_back(&r), 2);
	ck_assert_int_eq(*(int *)tf_ring_pop_back(&r), 1);
	ck_assert_ptr_null(tf_ring_pop_back(&r));
	tf_ring_release(&r);
}
END_TEST

/* A ring whose contents wrap past the end of its buffer: indexing still
 * goes front to back, and growing unrolls it in order. */
START_TEST(test_wrap_and_grow)
{
	struct tf_ring r;
	int i;

	tf_ring_init(&r, sizeof(int), 8);
	for (i = 0; i < 8; i++)
		push_back_int(&r, i);
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(*(int *)tf_ring_pop_front(&r), i);
	for (i = 8; i < 13; i++)
		push_back_int(&r, i); /* wraps: head is 5 */
	ck_assert_uint_eq(r.cap, 8);
	ck_assert_uint_eq(r.head, 5);
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(*(int *)tf_ring_at(&r, (size_t)i), i + 5);
	push_back_int(&r, 13); /* full: grows */
	ck_assert_uint_eq(r.cap, 16);
	ck_assert_uint_eq(r.head, 0);
	ck_assert_uint_eq(tf_ring_len(&r), 9);
	for (i = 0; i < 9; i++)
		ck_assert_int_eq(*(int *)tf_ring_at(&r, (size_t)i), i + 5);
	push_front_int(&r, 4);
	ck_assert_uint_eq(r.head, 15);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(*(int *)tf_ring_pop_front(&r), i + 4);
	tf_ring_release(&r);
}
END_TEST

/* Growth from a front push into a full, wrapped ring. */
START_TEST(test_grow_from_front)
{
	struct tf_ring r;
	int i;

	tf_ring_init(&r, sizeof(int), 3); /* rounds up to 4 */
	ck_assert_uint_eq(r.cap, 4);
	for (i = 0; i < 4; i++)
		push_front_int(&r, i); /* 3 2 1 0 */
	push_front_int(&r, 4);
	ck_assert_uint_eq(r.cap, 8);
	for (i = 4; i >= 0; i--)
		ck_assert_int_eq(*(int *)tf_ring_pop_front(&r), i);
	tf_ring_release(&r);
}
END_TEST

/* Elements larger than a word are kept whole. */
struct big {
	uint64_t id;
	char name[40];
};

START_TEST(test_large_elements)
{
	struct tf_ring r;
	int i;

	tf_ring_init(&r, sizeof(struct big), 0);
	for (i = 0; i < 100; i++) {
		struct big *b = tf_ring_push_back(&r);

		b->id = (uint64_t)i;
		snprintf(b->name, sizeof(b->name), "task-%d", i);
	}
	for (i = 0; i < 100; i++) {
		struct big *b = tf_ring_pop_front(&r);
		char want[40];

		snprintf(want, sizeof(want), "task-%d", i);
		ck_assert_uint_eq(b->id, (uint64_t)i);
		ck_assert_str_eq(b->name, want);
	}
	tf_ring_release(&r);
}
END_TEST

/* A random sequence of operations at both ends against an array model. */
START_TEST(test_random_model)
{
	enum { MAXN = 4096 };
	static int model[2 * MAXN];
	size_t mfront = MAXN, mlen = 0, step, i;
	uint64_t x = 88172645463325252ull;
	struct tf_ring r;
	int next = 0;

	tf_ring_init(&r, sizeof(int), 2);
	for (step = 0; step < 200000; step++) {
		unsigned op;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		op = (unsigned)(x % 4);
		if (mlen >= MAXN - 1)
			op = 2 + op % 2;
		if (op == 0 && mfront + mlen < 2 * MAXN) {
			push_back_int(&r, next);
			model[mfront + mlen++] = next++;
		} else if (op == 1 && mfront > 0) {
			push_front_int(&r, next);
			model[--mfront] = next++;
			mlen++;
		} else if (op == 2) {
			int *e = tf_ring_pop_front(&r);

			if (mlen == 0) {
				ck_assert_ptr_null(e);
			} else {
				ck_assert_int_eq(*e, model[mfront++]);
				mlen--;
			}
		} else if (op == 3) {
			int *e = tf_ring_pop_back(&r);

			if (mlen == 0) {
				ck_assert_ptr_null(e);
			} else {
				ck_assert_int_eq(*e, model[mfront + --mlen]);
			}
		}
		if (mlen == 0)
			mfront = MAXN; /* recentre the model */
		ck_assert_uint_eq(tf_ring_len(&r), mlen);
		if (step % 997 == 0)
			for (i = 0; i < mlen; i++)
				ck_assert_int_eq(*(int *)tf_ring_at(&r, i),
						 model[mfront + i]);
	}
	tf_ring_release(&r);
	ck_assert_uint_eq(tf_ring_len(&r), 0);
	ck_assert_ptr_null(tf_ring_pop_front(&r));
	/* Released, it can be used again. */
	push_back_int(&r, 7);
	ck_assert_int_eq(*(int *)tf_ring_pop_front(&r), 7);
	tf_ring_release(&r);
}
END_TEST

static Suite *ring_suite(void)
{
	Suite *s = suite_create("ring");
	TCase *tc;

	tc = tcase_create("order");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_fifo);
	tcase_add_test(tc, test_both_ends);
	tcase_add_test(tc, test_large_elements);
	suite_add_tcase(s, tc);

	tc = tcase_create("growth");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_wrap_and_grow);
	tcase_add_test(tc, test_grow_from_front);
	tcase_add_test(tc, test_random_model);
	suite_add_tcase(s, tc);

	return s;
}

TF_CHECK_MAIN(ring_suite)
