/*
 * Job-file directives (directive.h).
 */
#include "config.h"

#include "farm/directive.h"

#include <stdio.h>
#include <string.h>

#include "taskfarm.h"

#define PREFIX "#TASKFARM"
#define KNOWN "known: barrier, slots N, gpus K, end"

static int blank(char c)
{
	return c == ' ' || c == '\t' || c == '\f' || c == '\v' || c == '\r';
}

/* The next word of [*p, end): its start and length; *p moves past it. */
static size_t word(const char **p, const char *end, const char **w)
{
	const char *s = *p;

	while (s < end && blank(*s))
		s++;
	*w = s;
	while (s < end && !blank(*s))
		s++;
	*p = s;
	return (size_t)(s - *w);
}

static int is(const char *w, size_t n, const char *name)
{
	return n == strlen(name) && memcmp(w, name, n) == 0;
}

/* A whole number from lo to TF_DIRECTIVE_MAX, in decimal digits only. */
static int number(const char *w, size_t n, uint32_t lo, uint32_t *v)
{
	uint64_t x = 0;
	size_t i;

	if (n == 0 || n > 6)
		return -1;
	for (i = 0; i < n; i++) {
		if (w[i] < '0' || w[i] > '9')
			return -1;
		x = x * 10 + (uint64_t)(w[i] - '0');
	}
	if (x < lo || x > TF_DIRECTIVE_MAX)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

int tf_directive_parse(const char *line, size_t len, struct tf_directive *d,
		       char *err, size_t errlen)
{
	const char *p = line, *end = line + len, *w, *arg, *extra;
	size_t n, nlen = strlen(PREFIX), alen, elen;

	while (p < end && blank(*p))
		p++;
	if ((size_t)(end - p) < nlen || memcmp(p, PREFIX, nlen) != 0)
		return 0;
	p += nlen;
	if (p < end && !blank(*p))
		return 0; /* "#TASKFARMS...": a comment */
	memset(d, 0, sizeof(*d));
	n = word(&p, end, &w);
	alen = word(&p, end, &arg);
	elen = word(&p, end, &extra);
	if (n == 0) {
		snprintf(err, errlen, "#TASKFARM without a directive (%s)",
			 KNOWN);
		return TF_EPARSE;
	}
	if (is(w, n, "barrier") || is(w, n, "end")) {
		d->kind = is(w, n, "end") ? TF_DIRECTIVE_END
					  : TF_DIRECTIVE_BARRIER;
		if (alen) {
			snprintf(err, errlen,
				 "#TASKFARM %.*s takes no argument, not '%.*s'",
				 (int)n, w, (int)(alen > 40 ? 40 : alen), arg);
			return TF_EPARSE;
		}
		return 1;
	}
	if (is(w, n, "slots") || is(w, n, "gpus")) {
		int slots = is(w, n, "slots");

		d->kind = slots ? TF_DIRECTIVE_SLOTS : TF_DIRECTIVE_GPUS;
		if (!alen || elen ||
		    number(arg, alen, slots ? 1 : 0, &d->value) < 0) {
			snprintf(err, errlen,
				 "#TASKFARM %s takes one whole number from %d "
				 "to %d, not '%.*s'",
				 slots ? "slots" : "gpus", slots ? 1 : 0,
				 TF_DIRECTIVE_MAX,
				 (int)(end - arg > 40 ? 40 : end - arg), arg);
			return TF_EPARSE;
		}
		return 1;
	}
	snprintf(err, errlen, "unknown directive '#TASKFARM %.*s' (%s)",
		 (int)(n > 40 ? 40 : n), w, KNOWN);
	return TF_EPARSE;
}

void tf_directive_format(const struct tf_directive *d, char *buf, size_t len)
{
	switch (d->kind) {
	case TF_DIRECTIVE_BARRIER:
		snprintf(buf, len, "barrier");
		break;
	case TF_DIRECTIVE_SLOTS:
		snprintf(buf, len, "slots %u", (unsigned)d->value);
		break;
	case TF_DIRECTIVE_GPUS:
		snprintf(buf, len, "gpus %u", (unsigned)d->value);
		break;
	default:
		snprintf(buf, len, "end");
		break;
	}
}
