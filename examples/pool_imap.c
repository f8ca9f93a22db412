/*
 * An ordered streaming map with taskfarm (Python's Pool.imap): numbers
 * read from standard input one line at a time, however many, each turned
 * into the length of its Collatz trajectory on the worker ranks, and
 * printed in input order as soon as each and every earlier one is done.
 * At most WINDOW lines are held at once, so the input may be endless.
 *
 *   seq 1 100000 | mpirun -n 3 examples/pool_imap [WINDOW]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <taskfarm.h>

/* Input: a decimal number as text. Result: its number of steps to 1. */
static int steps(struct tf_call *call, const void *in, size_t len, void *ctx)
{
	char text[32], *end;
	unsigned long long x;
	uint64_t n = 0;

	(void)ctx;
	if (len == 0 || len >= sizeof(text)) {
		tf_call_error(call, "a line of %zu bytes", len);
		return 1;
	}
	memcpy(text, in, len);
	text[len] = '\0';
	x = strtoull(text, &end, 10);
	if (*end || x == 0) {
		tf_call_error(call, "'%s' is not a positive number", text);
		return 1;
	}
	for (; x != 1; n++)
		x = x % 2 ? 3 * x + 1 : x / 2;
	memcpy(tf_call_result(call, sizeof(n)), &n, sizeof(n));
	return 0;
}

/* The producer: the next line of stdin, without its newline. */
static int next_line(void *arg, size_t index, const void **in, size_t *len)
{
	static char line[256];
	size_t n;

	(void)arg;
	(void)index;
	if (!fgets(line, sizeof(line), stdin))
		return 0;
	n = strcspn(line, "\n");
	line[n] = '\0';
	*in = line;
	*len = n;
	return 1;
}

/* Results in input order. */
static int print_result(void *arg, size_t index, int status,
			const void *result, size_t len, const char *error)
{
	uint64_t n;

	(void)arg;
	if (status || len != sizeof(n)) {
		printf("%zu: failed: %s\n", index + 1,
		       error ? error : tf_strerror(status));
		return 0;
	}
	memcpy(&n, result, sizeof(n));
	printf("%zu: %llu\n", index + 1, (unsigned long long)n);
	return 0;
}

int main(int argc, char **argv)
{
	size_t window = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
	struct tf_pool *pool;
	long failed = 0;
	int rc;

	rc = tf_pool_open(&pool, NULL);
	if (rc) {
		fprintf(stderr, "pool_imap: %s\n", tf_strerror(rc));
		return 4;
	}
	tf_pool_register(pool, "steps", steps);
	rc = tf_pool_start(pool);
	if (rc == 1) {
		failed = tf_pool_imap(pool, "steps", next_line, NULL,
				      print_result, NULL, window, NULL);
		if (failed < 0)
			fprintf(stderr, "pool_imap: %s\n",
				tf_strerror((int)failed));
	} else if (rc < 0) {
		fprintf(stderr, "pool_imap: %s\n", tf_pool_errmsg(pool));
	}
	if (tf_pool_close(pool) || rc < 0 || failed < 0)
		return 4;
	return failed ? 1 : 0;
}
