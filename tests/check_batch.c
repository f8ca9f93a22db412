/*
 * Unit tests of core/batch.c: the batch-size rules that the command
 * farm and the pool share (guided sizes, how far ahead to send) and the
 * pool's chunker, which sizes a chunk from measured task and message
 * times.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "check_util.h"
#include "core/batch.h"
#include "core/util.h"
#include "taskfarm.h"

START_TEST(test_guided)
{
	ck_assert_uint_eq(tf_sched_guided(1000, 5), 100);
	ck_assert_uint_eq(tf_sched_guided(9, 5), 1);
	ck_assert_uint_eq(tf_sched_guided(0, 5), 1);
	ck_assert_uint_eq(tf_sched_guided(1000, 0), SIZE_MAX);
}
END_TEST

START_TEST(test_ahead)
{
	ck_assert_uint_eq(tf_sched_ahead(0, 0.02, 256), 1);
	ck_assert_uint_eq(tf_sched_ahead(0.01, 0.02, 256), 3);
	ck_assert_uint_eq(tf_sched_ahead(1e-6, 0.02, 256), 256);
	ck_assert_uint_eq(tf_sched_ahead(5, 0.02, 256), 1);
}
END_TEST

START_TEST(test_chunker_probe_then_grow)
{
	struct tf_chunker c;
	size_t n;

	tf_chunker_init(&c);
	/* Nothing measured: one task, a probe. */
	ck_assert_uint_eq(tf_chunker_size(&c, 1000000, 2, 8, 0), 1);
	/* 10 ns tasks with a 10 us message: a chunk of at least 0.5 ms. */
	tf_chunker_observe(&c, 1, 1e-8, 1e-5);
	n = tf_chunker_size(&c, 100000000, 2, 8, 0);
	ck_assert_uint_ge(n, 50000);
	ck_assert_uint_le(n, TF_SCHED_CHUNK_BYTES / 8);
	/* The guided cap: never more than remaining / (2 workers). */
	ck_assert_uint_le(tf_chunker_size(&c, 40000, 2, 8, 0), 10000);
	/* Never more than what remains, never zero. */
	ck_assert_uint_eq(tf_chunker_size(&c, 1, 2, 8, 0), 1);
}
END_TEST

START_TEST(test_chunker_long_tasks)
{
	struct tf_chunker c;

	tf_chunker_init(&c);
	tf_chunker_observe(&c, 1, 2.0, 2.001);
	/* Tasks of 2 s: one per chunk, so the work spreads. */
	ck_assert_uint_eq(tf_chunker_size(&c, 1000, 4, 8, 0), 1);
}
END_TEST

START_TEST(test_chunker_floor)
{
	struct tf_chunker c, f;

	/* Chunks of one whose measured time is all a 12 ms fork: without a
	 * floor they stay at one task; with the isolation floor they grow
	 * to what the floor's time holds. */
	tf_chunker_init(&c);
	tf_chunker_observe(&c, 1, 0.012, 0.012);
	ck_assert_uint_eq(tf_chunker_size(&c, 20000, 1, 8, 0), 1);
	tf_chunker_init(&f);
	f.floor_s = TF_SCHED_CHUNK_MAX_S;
	tf_chunker_observe(&f, 1, 0.012, 0.012);
	ck_assert_uint_ge(tf_chunker_size(&f, 20000, 1, 8, 0), 4);
	ck_assert_uint_le(tf_chunker_size(&f, 20000, 1, 8, 0), 6);
}
END_TEST

START_TEST(test_chunker_bytes_and_fixed)
{
	struct tf_chunker c;

	tf_chunker_init(&c);
	tf_chunker_observe(&c, 1000, 1e-6, 1e-3);
	/* Large inputs: the message stays within its byte budget. */
	ck_assert_uint_le(tf_chunker_size(&c, 1000000, 1, 1 << 16, 0),
			  TF_SCHED_CHUNK_BYTES >> 16);
	/* A record larger than the budget still travels, one at a time. */
	ck_assert_uint_eq(tf_chunker_size(&c, 1000000, 1,
					  2 * TF_SCHED_CHUNK_BYTES, 0),
			  1);
	/* The user's size wins, within what remains. */
	ck_assert_uint_eq(tf_chunker_size(&c, 1000000, 1, 8, 7), 7);
	ck_assert_uint_eq(tf_chunker_size(&c, 5, 1, 8, 7), 5);
}
END_TEST

START_TEST(test_chunker_message_cost)
{
	struct tf_chunker c;

	tf_chunker_init(&c);
	tf_chunker_observe(&c, 100, 1e-3, 3e-3);
	ck_assert(c.msg_s > 1.9e-3 && c.msg_s < 2.1e-3);
	/* The least cost seen is kept; the task time is averaged. */
	tf_chunker_observe(&c, 100, 1e-3, 1.5e-3);
	ck_assert(c.msg_s > 0.49e-3 && c.msg_s < 0.51e-3);
	ck_assert(c.task_s > 0.99e-5 && c.task_s < 1.01e-5);
	/* An expensive message makes chunks longer: 100 x 0.5 ms. */
	ck_assert_uint_ge(tf_chunker_size(&c, 1000000000, 1, 8, 0), 4000);
	ck_assert(tf_chunker_expect(&c, 10) > 0.99e-4);
}
END_TEST

static Suite *batch_suite(void)
{
	Suite *s = suite_create("batch");
	TCase *tc = tcase_create("scheduling");

	tcase_add_test(tc, test_guided);
	tcase_add_test(tc, test_ahead);
	tcase_add_test(tc, test_chunker_probe_then_grow);
	tcase_add_test(tc, test_chunker_long_tasks);
	tcase_add_test(tc, test_chunker_floor);
	tcase_add_test(tc, test_chunker_bytes_and_fixed);
	tcase_add_test(tc, test_chunker_message_cost);
	suite_add_tcase(s, tc);
	return s;
}

TF_CHECK_MAIN(batch_suite)
