/*
 * Tests for the idle-loop back-off (core/idle.c): 0 after activity,
 * doubling from min to max over idle turns, the longer ceiling once the
 * loop has been idle long, reset by activity, and a held wait that later
 * turns continue from.
 */
#include "config.h"

#include "check_util.h"

#include "core/idle.h"
#include "core/util.h"

START_TEST(test_doubling_to_max)
{
	struct tf_idle w;

	tf_idle_init(&w, 1e-3, 8e-3, 100.0);
	/* The clock barely moves: idle_for/20 stays below max. */
	ck_assert(tf_idle_next(&w, 0, 100.0) == 1e-3);
	ck_assert(tf_idle_next(&w, 0, 100.0) == 2e-3);
	ck_assert(tf_idle_next(&w, 0, 100.0) == 4e-3);
	ck_assert(tf_idle_next(&w, 0, 100.0) == 8e-3);
	ck_assert(tf_idle_next(&w, 0, 100.0) == 8e-3);
	ck_assert(w.wait == 8e-3);
}
END_TEST

START_TEST(test_activity_resets)
{
	struct tf_idle w;

	tf_idle_init(&w, 1e-3, 8e-3, 0);
	tf_idle_next(&w, 0, 0);
	tf_idle_next(&w, 0, 0);
	ck_assert(tf_idle_next(&w, 0, 0) == 4e-3);
	ck_assert(tf_idle_next(&w, 1, 5.0) == 0);
	ck_assert(w.busy_at == 5.0);
	ck_assert(tf_idle_next(&w, 0, 5.0) == 1e-3);
	tf_idle_next(&w, 0, 5.0);
	tf_idle_busy(&w, 6.0);
	ck_assert(w.wait == 0);
	ck_assert(tf_idle_next(&w, 0, 6.0) == 1e-3);
}
END_TEST

/* Idle long, the ceiling rises to idle_for / 20, at most 10 x max. */
START_TEST(test_long_idle_ceiling)
{
	struct tf_idle w;
	double wait = 0;
	int i;

	tf_idle_init(&w, 1e-3, 8e-3, 0);
	for (i = 0; i < 20; i++)
		wait = tf_idle_next(&w, 0, 1.0); /* idle 1 s: cap 0.05 */
	ck_assert(wait == 0.05);
	for (i = 0; i < 20; i++)
		wait = tf_idle_next(&w, 0, 1000.0); /* cap 10 x max */
	ck_assert(wait == 10 * 8e-3);
	/* The same curve as tf_backoff() itself, step by step. */
	tf_idle_init(&w, 2e-5, 0.002, 0);
	wait = 0;
	for (i = 0; i < 30; i++) {
		double t = i * 0.01;

		wait = tf_backoff(wait, t, 2e-5, 0.002);
		ck_assert(tf_idle_next(&w, 0, t) == wait);
	}
}
END_TEST

START_TEST(test_hold)
{
	struct tf_idle w;

	tf_idle_init(&w, 1e-3, 8e-3, 10.0);
	ck_assert(tf_idle_hold(&w, 4e-3) == 4e-3);
	ck_assert(w.busy_at == 10.0); /* not activity */
	ck_assert(tf_idle_next(&w, 0, 10.0) == 8e-3);
	tf_idle_hold(&w, 0);
	ck_assert(tf_idle_next(&w, 0, 10.0) == 1e-3);
}
END_TEST

static Suite *idle_suite(void)
{
	Suite *s = suite_create("idle");
	TCase *tc;

	tc = tcase_create("backoff");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_doubling_to_max);
	tcase_add_test(tc, test_activity_resets);
	tcase_add_test(tc, test_long_idle_ceiling);
	tcase_add_test(tc, test_hold);
	suite_add_tcase(s, tc);
	return s;
}

TF_CHECK_MAIN(idle_suite)
