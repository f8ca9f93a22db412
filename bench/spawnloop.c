/*
 * The raw limit for the benchmark: run "sh -c COMMAND" N times with at
 * most P children at once, using posix_spawn and waitpid and nothing
 * else (no pipes, no bookkeeping). Prints the tasks per second.
 *
 * usage: spawnloop N P [COMMAND]
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

int main(int argc, char **argv)
{
	long n, p, started = 0, running = 0;
	char *args[4] = { "sh", "-c", "true", NULL };
	struct timespec t0, t1;
	double el;

	if (argc < 3)
		return fprintf(stderr, "usage: spawnloop N P [COMMAND]\n"), 2;
	n = atol(argv[1]);
	p = atol(argv[2]);
	if (argc > 3)
		args[2] = argv[3];
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (started < n || running > 0) {
		while (started < n && running < p) {
			pid_t pid;
			if (posix_spawn(&pid, "/bin/sh", NULL, NULL, args,
					environ) != 0)
				return perror("posix_spawn"), 1;
			started++;
			running++;
		}
		if (wait(NULL) > 0)
			running--;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
	printf("%.1f\n", (double)n / el);
	return 0;
}
