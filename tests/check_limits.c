/*
 * Tests for the failure policies (limits.c): the run-time histogram and
 * its quantiles, --halt conditions, --timeout as seconds or a percentage
 * of the median, and --deadline with the check that a task started now
 * is expected to finish by it. All of it is arithmetic, so the clock is
 * always passed in and nothing here waits.
 */
#include "config.h"

#include "check_util.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <time.h>

#include "farm/limits.h"
#include "taskfarm.h"

/* Whether got is within 1 % of want (want > 0). */
static int within_1pc(double got, double want)
{
	return fabs(got - want) <= 0.01 * want;
}

#define ck_assert_within_1pc(got, want)                                      \
	do {                                                                 \
		double got_ = (got), want_ = (want);                         \
		ck_assert_msg(within_1pc(got_, want_),                       \
			      "%s is %.9g, want %.9g within 1%%", #got, got_, \
			      want_);                                        \
	} while (0)

/* The histogram is 11 KB: keep it off the stack of every test. */
static struct tf_runtimes rt;

/* ---- Run-time statistics ---- */

START_TEST(test_runtimes_empty)
{
	tf_runtimes_init(&rt);
	ck_assert_uint_eq(rt.n, 0);
	/* No samples, no estimate: 0 rather than some bucket's middle. */
	ck_assert(tf_runtimes_quantile(&rt, 0.01) == 0);
	ck_assert(tf_runtimes_quantile(&rt, 0.5) == 0);
	ck_assert(tf_runtimes_quantile(&rt, 0.9) == 0);
	ck_assert(tf_runtimes_quantile(&rt, 1.0) == 0);

	/* init clears what was there before. */
	tf_runtimes_add(&rt, 5);
	ck_assert_uint_eq(rt.n, 1);
	tf_runtimes_init(&rt);
	ck_assert_uint_eq(rt.n, 0);
	ck_assert(tf_runtimes_quantile(&rt, 0.5) == 0);
}
END_TEST

START_TEST(test_runtimes_constant)
{
	static const double values[] = { 2e-6, 0.003, 2.5, 61, 3600, 86400 };
	size_t v;
	int i;

	/* Every quantile of a constant is that constant, at any scale. */
	for (v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
		tf_runtimes_init(&rt);
		for (i = 0; i < 1000; i++)
			tf_runtimes_add(&rt, values[v]);
		ck_assert_uint_eq(rt.n, 1000);
		ck_assert_within_1pc(tf_runtimes_quantile(&rt, 0.001),
				     values[v]);
		ck_assert_within_1pc(tf_runtimes_quantile(&rt, 0.5), values[v]);
		ck_assert_within_1pc(tf_runtimes_quantile(&rt, 0.9), values[v]);
		ck_assert_within_1pc(tf_runtimes_quantile(&rt, 1.0), values[v]);
	}
	/* A single sample is every quantile too. */
	tf_runtimes_init(&rt);
	tf_runtimes_add(&rt, 7.25);
	ck_assert_within_1pc(tf_runtimes_quantile(&rt, 0.5), 7.25);
	ck_assert_within_1pc(tf_runtimes_quantile(&rt, 0.9), 7.25);
}
END_TEST

START_TEST(test_runtimes_uniform)
{
	int i, k;

	/* 1, 2, ..., 100 seconds, added out of order: the k-th percentile
	 * is the k-th smallest, k seconds (nearest rank). */
	tf_runtimes_init(&rt);
	for (i = 0; i < 100; i++)
		tf_runtimes_add(&rt, (double)((i * 37) % 100 + 1));
	ck_assert_uint_eq(rt.n, 100);
	ck_assert_within_1pc(tf_runtimes_quantile(&rt, 0.01), 1);
	ck_assert_within_1pc(tf_runtimes_quantile(&rt, 0.25), 25);
	ck_assert_within_1pc(tf_runtimes_quantile(&rt, 0.5), 50);
	ck_assert_within_1pc(tf_runtimes_quantile(&rt, 0.75), 75);
	ck_assert_within_1pc(tf_runtimes_quantile(&rt, 0.99), 99);
	ck_assert_within_1pc(tf_runtimes_quantile(&rt, 1.0), 100);
	/* Between ranks, the next one up. */
	ck_assert_within_1pc(tf_runtimes_quantile(&rt, 0.495), 50);
	ck_assert_within_1pc(tf_runtimes_quantile(&rt, 0.505), 51);
	/* The 90th percentile is what --deadline goes by. */
	ck_assert_within_1pc(tf_runtimes_quantile(&rt, 0.9), 90);
	/* And every rank in between (1 % apart, so an off-by-one rank
	 * shows as an error of at least 1 %). q is taken half way between
	 * ranks: k / 100.0 itself is not exact in binary, and the double
	 * nearest 0.07, say, is a little above 7 / 100, so rank 8 would be
	 * right for it. */
	for (k = 1; k <= 100; k++) {
		double q = (k - 0.5) / 100;

		ck_assert_msg(within_1pc(tf_runtimes_quantile(&rt, q), k),
			      "quantile %.3f is %.6g, want %d", q,
			      tf_runtimes_quantile(&rt, q), k);
	}
}
END_TEST

START_TEST(test_runtimes_mixed_scales)
{
	int i;

	/* 30 tasks of 2 us, 40 of half a second and 30 of three hours:
	 * eleven orders of magnitude apart, each quantile still lands on
	 * its own group within 1 %. */
	tf_runtimes_init(&rt);
	for (i = 0; i < 30; i++) {
		tf_runtimes_add(&rt, 10800);
		tf_runtimes_add(&rt, 2e-6);
	}
	for (i = 0; i < 40; i++)
		tf_runtimes_add(&rt, 0.5);
	ck_assert_uint_eq(rt.n, 100);
	ck_assert_within_1pc(tf_runtimes_quantile(&rt, 0.01), 2e-6);
	ck_assert_within_1pc(tf_runtimes_quantile(&rt, 0.29), 2e-6);
	ck_assert_within_1pc(tf_runtimes_quantile(&rt, 0.305), 0.5);
	ck_assert_within_1pc(tf_runtimes_quantile(&rt, 0.5), 0.5);
	ck_assert_within_1pc(tf_runtimes_quantile(&rt, 0.695), 0.5);
	ck_assert_within_1pc(tf_runtimes_quantile(&rt, 0.705), 10800);
	ck_assert_within_1pc(tf_runtimes_quantile(&rt, 0.9), 10800);
	ck_assert_within_1pc(tf_runtimes_quantile(&rt, 1.0), 10800);

	/* Microseconds and hours side by side, one each. */
	tf_runtimes_init(&rt);
	tf_runtimes_add(&rt, 3.5e-6);
	tf_runtimes_add(&rt, 7200);
	ck_assert_within_1pc(tf_runtimes_quantile(&rt, 0.5), 3.5e-6);
	ck_assert_within_1pc(tf_runtimes_quantile(&rt, 1.0), 7200);
}
END_TEST

START_TEST(test_runtimes_clamp_low)
{
	static const double low[] = { 1e-6, 5e-7, 1e-9, 0, -0.0, -3 };
	size_t i;
	double q;

	/* Below the first bucket everything counts as about 1 us: still a
	 * sample, positive, finite and tiny, never a wild value. */
	tf_runtimes_init(&rt);
	for (i = 0; i < sizeof(low) / sizeof(low[0]); i++)
		tf_runtimes_add(&rt, low[i]);
	ck_assert_uint_eq(rt.n, sizeof(low) / sizeof(low[0]));
	q = tf_runtimes_quantile(&rt, 1.0);
	ck_assert_msg(isfinite(q) && q > 0 && q <= 1.011e-6,
		      "all-tiny max is %g", q);
	q = tf_runtimes_quantile(&rt, 0.5);
	ck_assert_msg(isfinite(q) && q > 0 && q <= 1.011e-6,
		      "all-tiny median is %g", q);

	/* They sort below real samples. */
	tf_runtimes_add(&rt, 1);
	ck_assert_within_1pc(tf_runtimes_quantile(&rt, 1.0), 1);
	ck_assert(tf_runtimes_quantile(&rt, 0.5) <= 1.011e-6);
}
END_TEST

/* The top bucket's lower bound: 1 us * 1.01^(TF_RUNTIME_BUCKETS - 1). */
static double top_bucket_floor(void)
{
	return 1e-6 * pow(1.01, TF_RUNTIME_BUCKETS - 1);
}

START_TEST(test_runtimes_clamp_high)
{
	double q, top = top_bucket_floor();

	/* The histogram reaches past ten days... */
	ck_assert_double_gt(top, 10 * 86400.0);
	/* ...and within it, a long run is still measured within 1 %. */
	tf_runtimes_init(&rt);
	tf_runtimes_add(&rt, 9 * 86400.0);
	ck_assert_within_1pc(tf_runtimes_quantile(&rt, 0.5), 9 * 86400.0);

	/* Past it, a run time lands in the top bucket: the largest
	 * estimate there is, finite, and above every real sample. */
	tf_runtimes_init(&rt);
	tf_runtimes_add(&rt, 60);
	tf_runtimes_add(&rt, 1e9);
	ck_assert_uint_eq(rt.n, 2);
	q = tf_runtimes_quantile(&rt, 1.0);
	ck_assert_msg(isfinite(q) && q >= top && q <= top * 1.01,
		      "max of {60, 1e9} is %g, want the top bucket %g", q, top);
	ck_assert_within_1pc(tf_runtimes_quantile(&rt, 0.5), 60);
}
END_TEST

START_TEST(test_runtimes_clamp_huge)
{
	static const double huge[] = { 1e12, 1e100, 1e300, 1e303, DBL_MAX,
				       INFINITY };
	double q, top = top_bucket_floor();
	char wrong[1024] = "";
	size_t i, used = 0;

	/* However absurd the value, it belongs at the top, not the
	 * bottom: an endless task must not look like a 1 us one. (A
	 * double that overflows log()'s argument, or is infinite, must not
	 * go through an out-of-range conversion to long.) Every value is
	 * tried and the wrong ones listed together. */
	for (i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		double med;

		tf_runtimes_init(&rt);
		tf_runtimes_add(&rt, 1);
		tf_runtimes_add(&rt, huge[i]);
		q = tf_runtimes_quantile(&rt, 1.0);
		med = tf_runtimes_quantile(&rt, 0.5);
		if (!(isfinite(q) && q >= top && q <= top * 1.01) ||
		    !within_1pc(med, 1))
			used += (size_t)snprintf(wrong + used,
						 sizeof(wrong) - used,
						 " {1, %g}: max %g median %g;",
						 huge[i], q, med);
	}
	ck_assert_msg(used == 0, "want max = top bucket %g, median 1:%s", top,
		      wrong);
}
END_TEST

/* ---- --halt ---- */

START_TEST(test_halt_parse_valid)
{
	static const struct {
		const char *s;
		int when, success, percent;
		double value;
	} cases[] = {
		{ "never", TF_HALT_NEVER, 0, 0, 0 },
		{ "now,fail=1", TF_HALT_NOW, 0, 0, 1 },
		{ "soon,fail=3", TF_HALT_SOON, 0, 0, 3 },
		{ "now,fail=10%", TF_HALT_NOW, 0, 1, 10 },
		{ "soon,fail=0.5%", TF_HALT_SOON, 0, 1, 0.5 },
		{ "now,success=1", TF_HALT_NOW, 1, 0, 1 },
		{ "soon,success=2", TF_HALT_SOON, 1, 0, 2 },
		{ "soon,success=50%", TF_HALT_SOON, 1, 1, 50 },
		{ "now,fail=100%", TF_HALT_NOW, 0, 1, 100 },
		{ "now,fail=1000000", TF_HALT_NOW, 0, 0, 1000000 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tf_halt h;

		/* Garbage in h beforehand must not survive the parse. */
		memset(&h, 0x5a, sizeof(h));
		ck_assert_msg(tf_halt_parse(cases[i].s, &h) == 0,
			      "rejected \"%s\"", cases[i].s);
		ck_assert_msg(h.when == cases[i].when &&
				      h.success == cases[i].success &&
				      h.percent == cases[i].percent &&
				      h.value == cases[i].value,
			      "\"%s\" parsed as when %d success %d percent %d "
			      "value %g",
			      cases[i].s, h.when, h.success, h.percent,
			      h.value);
	}
}
END_TEST

START_TEST(test_halt_parse_invalid)
{
	static const char *const bad[] = {
		"now",           "fail=1",         "now,fail",
		"now,fail=",     "now,fail=0",     "now,fail=-1",
		"now,fail=1.5",  "now,fail=101%",  "now,fail=0%",
		"now,bogus=1",   "later,fail=1",   "now,fail=1x",
		"",              "never,fail=1",   "Now,fail=1",
		"now,fail=1%%",  "now,fail=%",     "now,fail= 1",
		"now,fail=1 ",   "now,success=0",  "soon,",
		"now,fail=-5%",  "now,fail=100.5%", "nevermore",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tf_halt h;

		ck_assert_msg(tf_halt_parse(bad[i], &h) == TF_EINVAL,
			      "accepted \"%s\"", bad[i]);
	}
}
END_TEST

/* Parses s, which must be valid. */
static struct tf_halt halt(const char *s)
{
	struct tf_halt h;

	ck_assert_msg(tf_halt_parse(s, &h) == 0, "rejected \"%s\"", s);
	return h;
}

START_TEST(test_halt_check_counts)
{
	struct tf_halt h = halt("now,fail=3");

	/* Below the threshold, nothing; at it and past it, halt. */
	ck_assert_int_eq(tf_halt_check(&h, 0, 0, 0), TF_HALT_NEVER);
	ck_assert_int_eq(tf_halt_check(&h, 100, 2, 0), TF_HALT_NEVER);
	ck_assert_int_eq(tf_halt_check(&h, 100, 2, 1000), TF_HALT_NEVER);
	ck_assert_int_eq(tf_halt_check(&h, 0, 3, 0), TF_HALT_NOW);
	ck_assert_int_eq(tf_halt_check(&h, 100, 3, 1000), TF_HALT_NOW);
	ck_assert_int_eq(tf_halt_check(&h, 0, 4, 10), TF_HALT_NOW);

	/* soon answers soon. */
	h = halt("soon,fail=1");
	ck_assert_int_eq(tf_halt_check(&h, 50, 0, 100), TF_HALT_NEVER);
	ck_assert_int_eq(tf_halt_check(&h, 0, 1, 100), TF_HALT_SOON);
}
END_TEST

START_TEST(test_halt_check_success_vs_fail)
{
	struct tf_halt h = halt("now,success=2");

	/* A success condition counts successes only... */
	ck_assert_int_eq(tf_halt_check(&h, 0, 1000, 0), TF_HALT_NEVER);
	ck_assert_int_eq(tf_halt_check(&h, 1, 1000, 2000), TF_HALT_NEVER);
	ck_assert_int_eq(tf_halt_check(&h, 2, 0, 0), TF_HALT_NOW);
	ck_assert_int_eq(tf_halt_check(&h, 2, 1000, 2000), TF_HALT_NOW);

	/* ...and a failure condition failures only. */
	h = halt("soon,fail=2");
	ck_assert_int_eq(tf_halt_check(&h, 1000, 1, 2000), TF_HALT_NEVER);
	ck_assert_int_eq(tf_halt_check(&h, 1000, 0, 0), TF_HALT_NEVER);
	ck_assert_int_eq(tf_halt_check(&h, 0, 2, 0), TF_HALT_SOON);

	h = halt("soon,success=50%");
	ck_assert_int_eq(tf_halt_check(&h, 4, 6, 10), TF_HALT_NEVER);
	ck_assert_int_eq(tf_halt_check(&h, 5, 0, 10), TF_HALT_SOON);
	ck_assert_int_eq(tf_halt_check(&h, 0, 10, 10), TF_HALT_NEVER);
}
END_TEST

START_TEST(test_halt_check_percent_of_total)
{
	struct tf_halt h = halt("now,fail=10%");

	/* 10 % of 50 tasks is 5 failures, however many succeeded. */
	ck_assert_int_eq(tf_halt_check(&h, 0, 4, 50), TF_HALT_NEVER);
	ck_assert_int_eq(tf_halt_check(&h, 45, 4, 50), TF_HALT_NEVER);
	ck_assert_int_eq(tf_halt_check(&h, 0, 5, 50), TF_HALT_NOW);
	ck_assert_int_eq(tf_halt_check(&h, 40, 5, 50), TF_HALT_NOW);
	ck_assert_int_eq(tf_halt_check(&h, 0, 6, 50), TF_HALT_NOW);
	/* Of the total, not of those finished: 4 of 4 finished failed,
	 * but that is only 4 % of 100. */
	ck_assert_int_eq(tf_halt_check(&h, 0, 4, 100), TF_HALT_NEVER);

	/* A fraction of a percent. */
	h = halt("soon,fail=0.5%");
	ck_assert_int_eq(tf_halt_check(&h, 0, 4, 1000), TF_HALT_NEVER);
	ck_assert_int_eq(tf_halt_check(&h, 0, 5, 1000), TF_HALT_SOON);
	/* 0.5 % of 10 tasks is less than one: the first failure halts. */
	ck_assert_int_eq(tf_halt_check(&h, 9, 0, 10), TF_HALT_NEVER);
	ck_assert_int_eq(tf_halt_check(&h, 0, 1, 10), TF_HALT_SOON);

	/* 100 % means every task. */
	h = halt("now,fail=100%");
	ck_assert_int_eq(tf_halt_check(&h, 0, 9, 10), TF_HALT_NEVER);
	ck_assert_int_eq(tf_halt_check(&h, 0, 10, 10), TF_HALT_NOW);
}
END_TEST

START_TEST(test_halt_check_percent_unknown_total)
{
	struct tf_halt h = halt("now,fail=10%");

	/* With the total unknown (0), the percentage is of the tasks
	 * finished so far. */
	ck_assert_int_eq(tf_halt_check(&h, 0, 0, 0), TF_HALT_NEVER);
	ck_assert_int_eq(tf_halt_check(&h, 9, 1, 0), TF_HALT_NOW);   /* 10 % */
	ck_assert_int_eq(tf_halt_check(&h, 10, 1, 0), TF_HALT_NEVER); /* 9.1 % */
	ck_assert_int_eq(tf_halt_check(&h, 90, 9, 0), TF_HALT_NEVER); /* 9.09 % */
	ck_assert_int_eq(tf_halt_check(&h, 90, 10, 0), TF_HALT_NOW);
	/* No failures is never 10 % of anything. */
	ck_assert_int_eq(tf_halt_check(&h, 1000, 0, 0), TF_HALT_NEVER);

	h = halt("soon,success=50%");
	ck_assert_int_eq(tf_halt_check(&h, 1, 2, 0), TF_HALT_NEVER);
	ck_assert_int_eq(tf_halt_check(&h, 2, 2, 0), TF_HALT_SOON);
	ck_assert_int_eq(tf_halt_check(&h, 0, 5, 0), TF_HALT_NEVER);
}
END_TEST

START_TEST(test_halt_never)
{
	struct tf_halt h = halt("never");
	struct tf_halt zero;

	ck_assert_int_eq(tf_halt_check(&h, 0, 0, 0), TF_HALT_NEVER);
	ck_assert_int_eq(tf_halt_check(&h, 0, 1, 1), TF_HALT_NEVER);
	ck_assert_int_eq(tf_halt_check(&h, 1, 0, 1), TF_HALT_NEVER);
	ck_assert_int_eq(tf_halt_check(&h, 0, 1000000, 0), TF_HALT_NEVER);
	ck_assert_int_eq(tf_halt_check(&h, 1000000, 1000000, 2000000),
			 TF_HALT_NEVER);
	/* A never with a stray threshold (the zeroed default that the
	 * options start from, or one set by hand) still never halts. */
	memset(&zero, 0, sizeof(zero));
	ck_assert_int_eq(tf_halt_check(&zero, 5, 5, 10), TF_HALT_NEVER);
	zero.value = 1;
	zero.percent = 1;
	ck_assert_int_eq(tf_halt_check(&zero, 5, 5, 10), TF_HALT_NEVER);
}
END_TEST

/* ---- --timeout ---- */

START_TEST(test_timeout_parse_valid)
{
	static const struct {
		const char *s;
		double seconds, percent;
	} cases[] = {
		{ "30", 30, 0 },     { "30s", 30, 0 },   { "1.5m", 90, 0 },
		{ "2h", 7200, 0 },   { "1d", 86400, 0 }, { "0.25", 0.25, 0 },
		{ "200%", 0, 200 },  { "50.5%", 0, 50.5 }, { "1%", 0, 1 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tf_timeout t;

		memset(&t, 0x5a, sizeof(t));
		ck_assert_msg(tf_timeout_parse(cases[i].s, &t) == 0,
			      "rejected \"%s\"", cases[i].s);
		ck_assert_msg(t.seconds == cases[i].seconds &&
				      t.percent == cases[i].percent,
			      "\"%s\" parsed as %g s, %g %%", cases[i].s,
			      t.seconds, t.percent);
	}
}
END_TEST

START_TEST(test_timeout_parse_invalid)
{
	static const char *const bad[] = {
		"0",  "-1", "abc", "%",   "-5%", "0%",  "5%%", "1e20",
		"",   "0s", "5x",  "5 s", "%5",  "x%",  "1e20%", "0.0%",
		"5m%", "5%s", "-0",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tf_timeout t;

		ck_assert_msg(tf_timeout_parse(bad[i], &t) == TF_EINVAL,
			      "accepted \"%s\"", bad[i]);
	}
}
END_TEST

START_TEST(test_timeout_for_fixed)
{
	struct tf_timeout t;
	int i;

	/* A fixed limit is the same whatever has run before. */
	ck_assert_int_eq(tf_timeout_parse("90", &t), 0);
	tf_runtimes_init(&rt);
	ck_assert(tf_timeout_for(&t, &rt) == 90);
	for (i = 0; i < 100; i++)
		tf_runtimes_add(&rt, 1000);
	ck_assert(tf_timeout_for(&t, &rt) == 90);

	/* No limit set: none. */
	memset(&t, 0, sizeof(t));
	ck_assert(tf_timeout_for(&t, &rt) == 0);
}
END_TEST

START_TEST(test_timeout_for_percent)
{
	struct tf_timeout t;
	int i;

	ck_assert_int_eq(tf_timeout_parse("200%", &t), 0);
	tf_runtimes_init(&rt);
	/* Too few successes to have a median worth the name: no limit,
	 * rather than a limit from one lucky fast task. */
	ck_assert(tf_timeout_for(&t, &rt) == 0);
	for (i = 1; i < TF_TIMEOUT_MIN_SAMPLES; i++) {
		tf_runtimes_add(&rt, 40);
		ck_assert_msg(tf_timeout_for(&t, &rt) == 0,
			      "a limit after only %d samples", i);
	}
	tf_runtimes_add(&rt, 40);
	ck_assert_within_1pc(tf_timeout_for(&t, &rt), 80);

	/* Twice the median of 1..99 s (50 s) is 100 s, however long the
	 * slowest ones were. */
	tf_runtimes_init(&rt);
	for (i = 1; i <= 99; i++)
		tf_runtimes_add(&rt, i);
	tf_runtimes_add(&rt, 1e5);
	tf_runtimes_add(&rt, 1e5);
	/* 101 samples: the median is the 51st, 51 s. */
	ck_assert_within_1pc(tf_timeout_for(&t, &rt), 102);

	/* And a fractional percentage. */
	ck_assert_int_eq(tf_timeout_parse("50.5%", &t), 0);
	ck_assert_within_1pc(tf_timeout_for(&t, &rt), 51 * 0.505);
}
END_TEST

/* ---- --deadline ---- */

/* Sets the zone to UTC, so local times are fixed, and returns
 * year-mon-day hh:mm:ss local time as seconds since the epoch. */
static double local_time(int year, int mon, int day, int hh, int mm, int ss)
{
	struct tm tm;
	time_t t;

	ck_assert_int_eq(setenv("TZ", "UTC", 1), 0);
	tzset();
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	tm.tm_isdst = -1;
	t = mktime(&tm);
	ck_assert(t != (time_t)-1);
	return (double)t;
}

/* Parses s, which must be valid, at now. */
static double deadline(const char *s, double now)
{
	double d = -12345;

	ck_assert_msg(tf_deadline_parse(s, now, &d) == 0, "rejected \"%s\"",
		      s);
	return d;
}

#define ck_assert_deadline(s, now, want)                                     \
	do {                                                                 \
		double d_ = deadline((s), (now)), w_ = (want);               \
		ck_assert_msg(d_ == w_, "\"%s\" at %.0f gives %.3f, want %.3f", \
			      (s), (now), d_, w_);                           \
	} while (0)

START_TEST(test_deadline_relative)
{
	double now = local_time(2026, 3, 15, 12, 0, 0);

	ck_assert_deadline("+90s", now, now + 90);
	ck_assert_deadline("+90", now, now + 90);
	ck_assert_deadline("+2h", now, now + 7200);
	ck_assert_deadline("+1.5m", now, now + 90);
	ck_assert_deadline("+1d", now, now + 86400);
	/* The clock passed in is used as is, fractions and all. */
	ck_assert_deadline("+10s", now + 0.25, now + 10.25);
}
END_TEST

START_TEST(test_deadline_epoch)
{
	double now = local_time(2026, 3, 15, 12, 0, 0);

	ck_assert_deadline("@1800000000", now, 1800000000.0);
	/* Absolute: the same whatever now is. */
	ck_assert_deadline("@1800000000", 1.0, 1800000000.0);
	ck_assert_deadline("@1800000000.5", now, 1800000000.5);
}
END_TEST

START_TEST(test_deadline_clock)
{
	double now = local_time(2026, 3, 15, 12, 0, 0);
	double today = local_time(2026, 3, 15, 0, 0, 0);
	double tomorrow = local_time(2026, 3, 16, 0, 0, 0);

	/* The zone really is UTC, so the numbers below are fixed. */
	ck_assert(now == 1773576000.0);

	/* A time still ahead today is today... */
	ck_assert_deadline("13:00", now, today + 13 * 3600);
	ck_assert_deadline("23:59", now, today + 23 * 3600 + 59 * 60);
	ck_assert_deadline("12:00:01", now, now + 1);
	ck_assert_deadline("13:30:15", now, today + 13 * 3600 + 30 * 60 + 15);
	/* ...and one already past is tomorrow. */
	ck_assert_deadline("11:00", now, tomorrow + 11 * 3600);
	ck_assert_deadline("00:00", now, tomorrow);
	ck_assert_deadline("11:59:59", now, tomorrow + 11 * 3600 + 59 * 60 + 59);
	ck_assert_deadline("08:15:30", now, tomorrow + 8 * 3600 + 15 * 60 + 30);
	/* Exactly now has passed too: a deadline of now runs nothing. */
	ck_assert_deadline("12:00", now, tomorrow + 12 * 3600);

	/* Late in the evening, a time after midnight is tomorrow, across
	 * a month's end. */
	now = local_time(2026, 3, 31, 23, 30, 0);
	ck_assert_deadline("00:15", now, local_time(2026, 4, 1, 0, 15, 0));
	ck_assert_deadline("23:45", now, local_time(2026, 3, 31, 23, 45, 0));
}
END_TEST

START_TEST(test_deadline_date)
{
	double now = local_time(2026, 3, 15, 12, 0, 0);

	ck_assert_deadline("2026-03-20T08:30:00", now,
			   local_time(2026, 3, 20, 8, 30, 0));
	ck_assert_deadline("2026-03-20T08:30", now,
			   local_time(2026, 3, 20, 8, 30, 0));
	ck_assert_deadline("2027-01-01T00:00:00", now,
			   local_time(2027, 1, 1, 0, 0, 0));
	/* Later today by date. */
	ck_assert_deadline("2026-03-15T18:00:00", now, now + 6 * 3600);
	ck_assert_deadline("2026-03-15T12:00:01", now, now + 1);
	/* The last day of February, in a leap year and not. */
	ck_assert_deadline("2028-02-29T00:00", now,
			   local_time(2028, 2, 29, 0, 0, 0));
	ck_assert_deadline("2027-02-28T23:59:59", now,
			   local_time(2027, 2, 28, 23, 59, 59));
}
END_TEST

START_TEST(test_deadline_past_or_impossible)
{
	/* Each is a mistake that would have made the run start nothing, or
	 * wait for a time that never comes: a usage error, not a run. */
	static const char *const bad[] = {
		/* A full date is never moved to tomorrow: past is wrong. */
		"2026-03-15T11:00:00", "2026-03-14T12:00:00",
		"2026-03-15T12:00:00", "1970-01-01T00:00",
		/* Dates mktime() would quietly move to the next month. */
		"2024-02-31T00:00", "2026-02-29T00:00", "2026-04-31T12:00",
		"2026-06-31T00:00:00",
		/* Epochs: not a number, infinite, out of range, past. */
		"@nan", "@NaN", "@inf", "@infinity", "@-inf", "@1e309",
		"@0x7fffffff", "@1e300", "@1000", "@1773576000",
		"@ 1800000000", "@+1800000000",
		/* Years past 9999. */
		"@253402300800", "99999-01-01T00:00",
		/* A deadline of now, from now. */
		"+0", "+0s",
	};
	double now = local_time(2026, 3, 15, 12, 0, 0);
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		double d = -12345;

		ck_assert_msg(tf_deadline_parse(bad[i], now, &d) == TF_EINVAL,
			      "accepted \"%s\" as %.3f", bad[i], d);
	}
}
END_TEST

START_TEST(test_deadline_skipped_local_time)
{
	double now, d = -12345;

	/* In Berlin, 02:30 on 2026-03-29 does not exist (clocks go from
	 * 02:00 to 03:00); mktime() would make it 03:30. */
	ck_assert_int_eq(setenv("TZ", "Europe/Berlin", 1), 0);
	tzset();
	now = 1773576000.0; /* 2026-03-15 */
	/* Without zone data the zone is UTC, where it exists. */
	if (access("/usr/share/zoneinfo/Europe/Berlin", R_OK) != 0)
		return;
	ck_assert_int_eq(tf_deadline_parse("2026-03-29T02:30", now, &d),
			 TF_EINVAL);
	ck_assert_int_eq(tf_deadline_parse("2026-03-29T03:30", now, &d), 0);
	ck_assert_int_eq(setenv("TZ", "UTC", 1), 0);
	tzset();
}
END_TEST

START_TEST(test_deadline_invalid)
{
	static const char *const bad[] = {
		"25:00",    "12:60",    "+",        "+x",
		"@",        "@-5",      "2026-13-01T00:00",
		"noon",     "",         "24:00",    "12:00:61",
		"12",       "12:",      "12:00:",   "12:00x",
		"+5y",      "@abc",     "@0",       "@5x",
		"2026-00-10T00:00",     "2026-03-32T00:00",
		"2026-03-10T",          "2026-03-10T25:00",
		"2026-03-10",           "T12:00",   "-1:00",
		"+-5",      "12:-5",
	};
	double now = local_time(2026, 3, 15, 12, 0, 0);
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		double d = -12345;

		ck_assert_msg(tf_deadline_parse(bad[i], now, &d) == TF_EINVAL,
			      "accepted \"%s\" as %.3f", bad[i], d);
	}
}
END_TEST

START_TEST(test_deadline_allows_no_samples)
{
	double now = 1773576000.0;

	/* With nothing seen yet, any task may start before the
	 * deadline, however close, and none at or after it. */
	tf_runtimes_init(&rt);
	ck_assert_int_ne(tf_deadline_allows(now, now + 86400, &rt), 0);
	ck_assert_int_ne(tf_deadline_allows(now, now + 1, &rt), 0);
	ck_assert_int_ne(tf_deadline_allows(now, now + 0.001, &rt), 0);
	ck_assert_int_eq(tf_deadline_allows(now, now, &rt), 0);
	ck_assert_int_eq(tf_deadline_allows(now, now - 1, &rt), 0);
}
END_TEST

START_TEST(test_deadline_allows_samples)
{
	double now = 1773576000.0;
	int i;

	/* Run times 10, 20, ..., 100 s: the 90th percentile is 90 s. */
	tf_runtimes_init(&rt);
	for (i = 1; i <= 10; i++)
		tf_runtimes_add(&rt, 10.0 * i);
	ck_assert_int_ne(tf_deadline_allows(now, now + 1000, &rt), 0);
	ck_assert_int_ne(tf_deadline_allows(now, now + 95, &rt), 0);
	ck_assert_int_ne(tf_deadline_allows(now, now + 91, &rt), 0);
	ck_assert_int_eq(tf_deadline_allows(now, now + 89, &rt), 0);
	ck_assert_int_eq(tf_deadline_allows(now, now + 50, &rt), 0);
	ck_assert_int_eq(tf_deadline_allows(now, now, &rt), 0);
	/* Later on, the same margin is needed. */
	ck_assert_int_ne(tf_deadline_allows(now + 500, now + 591, &rt), 0);
	ck_assert_int_eq(tf_deadline_allows(now + 500, now + 589, &rt), 0);

	/* The 90th percentile, not the worst case: one task in ten that
	 * took hours does not stop short ones from starting. */
	tf_runtimes_init(&rt);
	for (i = 0; i < 9; i++)
		tf_runtimes_add(&rt, 10);
	tf_runtimes_add(&rt, 36000);
	ck_assert_int_ne(tf_deadline_allows(now, now + 11, &rt), 0);
	ck_assert_int_eq(tf_deadline_allows(now, now + 9, &rt), 0);
}
END_TEST

static Suite *limits_suite(void)
{
	Suite *s = suite_create("limits");
	TCase *tc;

	tc = tcase_create("runtimes");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_runtimes_empty);
	tcase_add_test(tc, test_runtimes_constant);
	tcase_add_test(tc, test_runtimes_uniform);
	tcase_add_test(tc, test_runtimes_mixed_scales);
	tcase_add_test(tc, test_runtimes_clamp_low);
	tcase_add_test(tc, test_runtimes_clamp_high);
	tcase_add_test(tc, test_runtimes_clamp_huge);
	suite_add_tcase(s, tc);

	tc = tcase_create("halt");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_halt_parse_valid);
	tcase_add_test(tc, test_halt_parse_invalid);
	tcase_add_test(tc, test_halt_check_counts);
	tcase_add_test(tc, test_halt_check_success_vs_fail);
	tcase_add_test(tc, test_halt_check_percent_of_total);
	tcase_add_test(tc, test_halt_check_percent_unknown_total);
	tcase_add_test(tc, test_halt_never);
	suite_add_tcase(s, tc);

	tc = tcase_create("timeout");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_timeout_parse_valid);
	tcase_add_test(tc, test_timeout_parse_invalid);
	tcase_add_test(tc, test_timeout_for_fixed);
	tcase_add_test(tc, test_timeout_for_percent);
	suite_add_tcase(s, tc);

	tc = tcase_create("deadline");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_deadline_relative);
	tcase_add_test(tc, test_deadline_epoch);
	tcase_add_test(tc, test_deadline_clock);
	tcase_add_test(tc, test_deadline_date);
	tcase_add_test(tc, test_deadline_past_or_impossible);
	tcase_add_test(tc, test_deadline_skipped_local_time);
	tcase_add_test(tc, test_deadline_invalid);
	tcase_add_test(tc, test_deadline_allows_no_samples);
	tcase_add_test(tc, test_deadline_allows_samples);
	suite_add_tcase(s, tc);

	return s;
}

TF_CHECK_MAIN(limits_suite)
