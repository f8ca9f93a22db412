/*
 * Failure policies. Everything here is arithmetic on counts and times,
 * so that the master's loop only asks questions and the answers can be
 * tested without running a task.
 */
#include "config.h"

#include "farm/limits.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "taskfarm.h"
#include "core/util.h"

/* Bucket b holds run times in [1e-6 * 1.01^b, 1e-6 * 1.01^(b+1)). */
#define RT_MIN 1e-6
#define RT_STEP 1.01

void tf_runtimes_init(struct tf_runtimes *rt)
{
	memset(rt, 0, sizeof(*rt));
}

void tf_runtimes_add(struct tf_runtimes *rt, double seconds)
{
	long b = 0;

	/* Compared as doubles first: an infinite or huge value must not be
	 * converted to long (undefined), and NaN falls to the bottom. */
	if (seconds > RT_MIN) {
		double l = log(seconds / RT_MIN) / log(RT_STEP);
		b = l < TF_RUNTIME_BUCKETS ? (long)l : TF_RUNTIME_BUCKETS - 1;
	}
	rt->bucket[b]++;
	rt->n++;
}

double tf_runtimes_quantile(const struct tf_runtimes *rt, double q)
{
	uint64_t want, seen = 0;
	long b;

	if (rt->n == 0)
		return 0;
	want = (uint64_t)ceil(q * (double)rt->n);
	if (want < 1)
		want = 1;
	for (b = 0; b < TF_RUNTIME_BUCKETS; b++) {
		seen += rt->bucket[b];
		if (seen >= want)
			break;
	}
	if (b == TF_RUNTIME_BUCKETS)
		b--;
	/* The middle of the bucket, geometrically. */
	return RT_MIN * pow(RT_STEP, (double)b + 0.5);
}

int tf_halt_parse(const char *s, struct tf_halt *h)
{
	const char *p;
	char *end;
	double v;

	memset(h, 0, sizeof(*h));
	if (strcmp(s, "never") == 0)
		return 0;
	if (strncmp(s, "now,", 4) == 0) {
		h->when = TF_HALT_NOW;
		p = s + 4;
	} else if (strncmp(s, "soon,", 5) == 0) {
		h->when = TF_HALT_SOON;
		p = s + 5;
	} else {
		return TF_EINVAL;
	}
	if (strncmp(p, "fail=", 5) == 0) {
		p += 5;
	} else if (strncmp(p, "success=", 8) == 0) {
		h->success = 1;
		p += 8;
	} else {
		return TF_EINVAL;
	}
	if (*p < '0' || *p > '9')
		return TF_EINVAL;
	v = strtod(p, &end);
	if (end == p)
		return TF_EINVAL;
	if (*end == '%' && end[1] == '\0') {
		if (!(v > 0 && v <= 100))
			return TF_EINVAL;
		h->percent = 1;
	} else if (*end == '\0') {
		if (v < 1 || v != floor(v) || v > 1e15)
			return TF_EINVAL;
	} else {
		return TF_EINVAL;
	}
	h->value = v;
	return 0;
}

int tf_halt_check(const struct tf_halt *h, uint64_t ok, uint64_t failed,
		  uint64_t total)
{
	double count = (double)(h->success ? ok : failed);
	double base = total ? (double)total : (double)(ok + failed);

	if (h->when == TF_HALT_NEVER || count == 0)
		return TF_HALT_NEVER;
	if (h->percent)
		return count * 100 >= h->value * base ? h->when
						      : TF_HALT_NEVER;
	return count >= h->value ? h->when : TF_HALT_NEVER;
}

int tf_timeout_parse(const char *s, struct tf_timeout *t)
{
	size_t len = strlen(s);

	memset(t, 0, sizeof(*t));
	if (len > 1 && s[len - 1] == '%') {
		char *end;
		double v = strtod(s, &end);

		if (end != s + len - 1 || !(v > 0) || v > 1e9 ||
		    s[0] < '0' || s[0] > '9')
			return TF_EINVAL;
		t->percent = v;
		return 0;
	}
	if (tf_parse_duration(s, &t->seconds) < 0 || t->seconds <= 0)
		return TF_EINVAL;
	return 0;
}

double tf_timeout_for(const struct tf_timeout *t, const struct tf_runtimes *rt)
{
	if (t->seconds > 0)
		return t->seconds;
	if (t->percent > 0 && rt->n >= TF_TIMEOUT_MIN_SAMPLES)
		return tf_runtimes_quantile(rt, 0.5) * t->percent / 100;
	return 0;
}

/* Parses "HH:MM[:SS]" into seconds since midnight; -1 if malformed. */
static long parse_clock(const char *s)
{
	int h, m, sec = 0, n = 0;

	if (sscanf(s, "%2d:%2d%n", &h, &m, &n) != 2)
		return -1;
	if (s[n] == ':') {
		int n2 = 0;
		if (sscanf(s + n + 1, "%2d%n", &sec, &n2) != 1)
			return -1;
		n += 1 + n2;
	}
	if (s[n] || h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 60)
		return -1;
	return (long)h * 3600 + m * 60 + sec;
}

/* The latest deadline taken: the end of the year 9999 (UTC). Past it a
 * value is a typo, and localtime() may not render it. */
#define DEADLINE_MAX 253402300799.0

int tf_deadline_parse(const char *s, double now, double *deadline)
{
	struct tm tm;
	time_t t;
	long secs;
	int y = 0, mo = 0, d = 0, dated = strchr(s, 'T') != NULL;

	if (s[0] == '+') {
		double dur;
		if (tf_parse_duration(s + 1, &dur) < 0 || !(dur > 0))
			return TF_EINVAL;
		*deadline = now + dur;
		return 0;
	}
	if (s[0] == '@') {
		char *end;
		double v;

		/* strtod takes "nan", "inf", exponents and hex; an epoch
		 * is digits, with a fraction maybe. */
		if (s[1] < '0' || s[1] > '9' ||
		    strspn(s + 1, "0123456789.") != strlen(s + 1))
			return TF_EINVAL;
		errno = 0;
		v = strtod(s + 1, &end);
		if (errno || *end || !isfinite(v) || v <= now ||
		    v > DEADLINE_MAX)
			return TF_EINVAL;
		*deadline = v;
		return 0;
	}
	t = (time_t)now;
	localtime_r(&t, &tm);
	if (dated) {
		int n = 0;
		if (sscanf(s, "%4d-%2d-%2dT%n", &y, &mo, &d, &n) != 3 || !n)
			return TF_EINVAL;
		secs = parse_clock(s + n);
		if (secs < 0 || mo < 1 || mo > 12 || d < 1 || d > 31)
			return TF_EINVAL;
		tm.tm_year = y - 1900;
		tm.tm_mon = mo - 1;
		tm.tm_mday = d;
	} else {
		secs = parse_clock(s);
		if (secs < 0)
			return TF_EINVAL;
	}
	tm.tm_hour = (int)(secs / 3600);
	tm.tm_min = (int)(secs / 60 % 60);
	tm.tm_sec = (int)(secs % 60);
	tm.tm_isdst = -1;
	t = mktime(&tm);
	if (t == (time_t)-1)
		return TF_EINVAL;
	/* mktime() moves an impossible date (2024-02-31) or a local time
	 * that a clock change skips to a real one: refuse those. */
	if (tm.tm_hour != (int)(secs / 3600) ||
	    tm.tm_min != (int)(secs / 60 % 60) ||
	    (dated && (tm.tm_year != y - 1900 || tm.tm_mon != mo - 1 ||
		       tm.tm_mday != d)))
		return TF_EINVAL;
	if (!dated && (double)t <= now)
		t += 86400; /* a time of day already past means tomorrow */
	if (dated && (double)t <= now)
		return TF_EINVAL; /* a date already past */
	if ((double)t > DEADLINE_MAX)
		return TF_EINVAL;
	*deadline = (double)t;
	return 0;
}

int tf_deadline_allows(double now, double deadline,
		       const struct tf_runtimes *rt)
{
	return now + tf_runtimes_quantile(rt, 0.9) < deadline;
}
