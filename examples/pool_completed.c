/*
 * Results as they complete, with taskfarm futures: one future per input
 * string (the Collatz trajectory of a number, with a pause that varies
 * from task to task), printed in the order they finish, as Python's
 * concurrent.futures.as_completed() would.
 *
 *   mpirun -n 3 examples/pool_completed [NUMBER...]
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep() under -std=c99 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <taskfarm.h>

/* Input: a decimal number as text. Result: its trajectory as text. */
static int collatz(struct tf_call *call, const void *in, size_t len,
		   void *ctx)
{
	char text[64], buf[8192];
	unsigned long long x;
	struct timespec pause;
	size_t used = 0;
	char *end;

	(void)ctx;
	if (len == 0 || len >= sizeof(text)) {
		tf_call_error(call, "input of %zu bytes", len);
		return 1;
	}
	memcpy(text, in, len);
	text[len] = '\0';
	x = strtoull(text, &end, 10);
	if (*end || x == 0) {
		tf_call_error(call, "'%s' is not a positive number", text);
		return 1;
	}
	/* Some tasks take longer, so the finishing order is mixed. */
	pause.tv_sec = 0;
	pause.tv_nsec = (long)(x % 7) * 20000000L;
	nanosleep(&pause, NULL);
	for (;;) {
		int n = snprintf(buf + used, sizeof(buf) - used, "%s%llu",
				 used ? " " : "", x);
		if (n < 0 || (size_t)n >= sizeof(buf) - used)
			break;
		used += (size_t)n;
		if (x == 1)
			break;
		x = x % 2 ? 3 * x + 1 : x / 2;
	}
	memcpy(tf_call_result(call, used), buf, used);
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const fallback[] = { "27", "7",   "97", "12",
						"871", "6", "3" };
	const char *const *inputs = argc > 1 ? (const char *const *)argv + 1
					     : fallback;
	size_t n = argc > 1 ? (size_t)argc - 1
			    : sizeof(fallback) / sizeof(*fallback);
	struct tf_pool *pool;
	int rc, ret = 0;

	rc = tf_pool_open(&pool, NULL);
	if (rc) {
		fprintf(stderr, "pool_completed: %s\n", tf_strerror(rc));
		return 4;
	}
	tf_pool_register(pool, "collatz", collatz);
	rc = tf_pool_start(pool);
	if (rc == 1) {
		struct tf_future **fs = calloc(n, sizeof(*fs));
		size_t i, left = n;

		for (i = 0; i < n && ret == 0; i++)
			if (!fs || tf_pool_submit(pool, "collatz", inputs[i],
						  strlen(inputs[i]), &fs[i]))
				ret = 4;
		while (ret != 4 && left > 0) {
			long k = tf_future_wait_any(fs, n);
			size_t len;
			const char *res;
			const char *err;

			if (k < 0) {
				ret = 4;
				break;
			}
			res = tf_future_result(fs[k], &len);
			if (tf_future_status(fs[k]) == 0)
				printf("%s: %.*s\n", inputs[k], (int)len, res);
			else {
				err = tf_future_error(fs[k]);
				printf("%s: failed: %s\n", inputs[k],
				       err ? err : tf_strerror(tf_future_status(
							 fs[k])));
				ret = 1;
			}
			fflush(stdout);
			tf_future_free(fs[k]);
			fs[k] = NULL;
			left--;
		}
		/* tf_pool_close() frees any future left. */
		free(fs);
	} else if (rc < 0) {
		/* The library prints nothing: its message says why. */
		fprintf(stderr, "pool_completed: %s: %s\n", tf_strerror(rc),
			tf_pool_errmsg(pool));
		ret = 4;
	}
	rc = tf_pool_close(pool);
	return ret ? ret : rc ? 4 : 0;
}
