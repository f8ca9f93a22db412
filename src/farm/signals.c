/*
 * Process-wide signal handling for the farm (exec.h): SIGCHLD wakes the
 * executor's poll through a self-pipe; SIGINT, SIGTERM, SIGUSR1 and
 * SIGUSR2 are counted, the last one kept, and a second one more than a
 * second after the first marks the stop escalated; SIGPIPE is ignored.
 */
#include "config.h"

#include "farm/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int self_pipe[2] = { -1, -1 };
static volatile sig_atomic_t sigchld_seen;
static volatile sig_atomic_t stop_count;
static volatile sig_atomic_t last_signal;

static volatile sig_atomic_t escalated;
static struct timespec first_stop;

static void on_signal(int sig)
{
	int saved = errno;
	char c = (char)sig;

	if (sig == SIGCHLD) {
		sigchld_seen = 1;
	} else {
		struct timespec now;

		/* clock_gettime is async-signal-safe. */
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (stop_count == 0)
			first_stop = now;
		else if (now.tv_sec - first_stop.tv_sec > 1 ||
			 (now.tv_sec - first_stop.tv_sec == 1 &&
			  now.tv_nsec >= first_stop.tv_nsec))
			escalated = 1;
		stop_count++;
		last_signal = sig;
	}
	if (self_pipe[1] >= 0)
		(void)!write(self_pipe[1], &c, 1);
	errno = saved;
}

int tf_signals_install(void)
{
	static const int sigs[] = { SIGCHLD, SIGINT, SIGTERM, SIGUSR1,
				    SIGUSR2 };
	struct sigaction sa;
	size_t i;

	if (self_pipe[0] < 0) {
		if (pipe2(self_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
			return -errno;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sa.sa_flags = SA_RESTART | (sigs[i] == SIGCHLD ? SA_NOCLDSTOP : 0);
		if (sigaction(sigs[i], &sa, NULL) < 0)
			return -errno;
	}
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		return -errno;
	return 0;
}

int tf_signals_escalated(void)
{
	return escalated;
}

int tf_signals_stop_count(void)
{
	return stop_count;
}

int tf_signals_last(void)
{
	return last_signal;
}

void tf_signals_drain(void)
{
	char buf[256];

	while (self_pipe[0] >= 0 && read(self_pipe[0], buf, sizeof(buf)) > 0)
		;
}

int tf__signals_fd(void)
{
	return self_pipe[0];
}

int tf__signals_sigchld(int take)
{
	int seen = sigchld_seen;

	if (take && seen)
		sigchld_seen = 0;
	return seen;
}
