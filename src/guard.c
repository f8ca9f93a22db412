/*
 * The guardian process. The rank writes 4-byte records into a pipe: a
 * positive process group id when a task starts, its negation when it has
 * ended. The guardian keeps the list; at end of file it stops what is
 * left. It puts itself in a session of its own and ignores the stop
 * signals, so that what a launcher sends a rank's group does not reach it,
 * and it holds none of the rank's descriptors (a launcher may wait for
 * the rank's stdout to close).
 */
#include "config.h"

#include "guard.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "taskfarm.h"
#include "util.h"

/* The pipe's capacity asked for: room for many records if the guardian
 * is slow to read (records are 4 bytes). */
#define GUARD_PIPE_SIZE (1024 * 1024)

struct pgid_set {
	pid_t *v;
	size_t n, alloc;
};

static void set_add(struct pgid_set *s, pid_t pg)
{
	if (s->n == s->alloc) {
		s->alloc = s->alloc ? 2 * s->alloc : 64;
		s->v = realloc(s->v, s->alloc * sizeof(*s->v));
		if (!s->v)
			_exit(1);
	}
	s->v[s->n++] = pg;
}

static void set_remove(struct pgid_set *s, pid_t pg)
{
	size_t i;

	/* Newest first: short tasks end soon after they start. */
	for (i = s->n; i-- > 0;) {
		if (s->v[i] == pg) {
			s->v[i] = s->v[--s->n];
			return;
		}
	}
}

/* Whether any process of group pg is left. */
static int group_alive(pid_t pg)
{
	return kill(-pg, 0) == 0 || errno == EPERM;
}

static void stop_groups(struct pgid_set *s, double grace)
{
	double waited = 0;
	size_t i, left;

	for (i = 0; i < s->n; i++) {
		kill(-s->v[i], SIGTERM);
		kill(-s->v[i], SIGCONT); /* a stopped task cannot act on TERM */
	}
	for (;;) {
		for (i = 0, left = 0; i < s->n; i++)
			left += group_alive(s->v[i]);
		if (!left || waited >= grace)
			break;
		tf_sleep(0.05);
		waited += 0.05;
	}
	for (i = 0; i < s->n; i++)
		kill(-s->v[i], SIGKILL);
}

static void close_other_fds(int keep)
{
	long max = sysconf(_SC_OPEN_MAX);
	int fd, null = open("/dev/null", O_RDWR);

	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	if (max < 0 || max > 65536)
		max = 65536;
	for (fd = 3; fd < max; fd++)
		if (fd != keep)
			close(fd);
}

static void guardian(int rfd, double grace) TF_NORETURN;
static void guardian(int rfd, double grace)
{
	static const int ignored[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT,
				       SIGUSR1, SIGUSR2, SIGPIPE, SIGTSTP,
				       SIGTTIN, SIGTTOU };
	struct pgid_set set = { NULL, 0, 0 };
	unsigned char buf[4096];
	size_t have = 0, i;
	sigset_t none;

	setsid();
	for (i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		signal(ignored[i], SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	close_other_fds(rfd);
	prctl(PR_SET_NAME, "taskfarm-guard", 0, 0, 0);
	for (;;) {
		ssize_t n = read(rfd, buf + have, sizeof(buf) - have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		for (i = 0; i + 4 <= have; i += 4) {
			int32_t rec;

			memcpy(&rec, buf + i, 4);
			if (rec > 0)
				set_add(&set, (pid_t)rec);
			else if (rec < 0)
				set_remove(&set, (pid_t)-rec);
		}
		memmove(buf, buf + i, have - i);
		have -= i;
	}
	if (set.n)
		stop_groups(&set, grace);
	_exit(0);
}

int tf_guard_start(struct tf_guard *g, double grace)
{
	int p[2], err;
	pid_t pid;

	g->fd = -1;
	g->pid = 0;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(p[0]);
		close(p[1]);
		return err;
	}
	if (pid == 0) {
		close(p[1]);
		guardian(p[0], grace);
	}
	close(p[0]);
	/* Not fatal: the default capacity only means earlier blocking. */
	(void)fcntl(p[1], F_SETPIPE_SZ, GUARD_PIPE_SIZE);
	g->fd = p[1];
	g->pid = pid;
	return 0;
}

static int guard_send(struct tf_guard *g, int32_t rec)
{
	int ret;

	if (g->fd < 0)
		return 0;
	ret = tf_write_all(g->fd, &rec, sizeof(rec));
	if (ret < 0) {
		close(g->fd);
		g->fd = -1;
	}
	return ret;
}

int tf_guard_add(struct tf_guard *g, pid_t pgid)
{
	return pgid > 0 ? guard_send(g, (int32_t)pgid) : TF_EINVAL;
}

int tf_guard_remove(struct tf_guard *g, pid_t pgid)
{
	return pgid > 0 ? guard_send(g, -(int32_t)pgid) : TF_EINVAL;
}

void tf_guard_release(struct tf_guard *g)
{
	int i;

	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
	for (i = 0; g->pid > 0 && i < 100; i++) {
		pid_t r = waitpid(g->pid, NULL, WNOHANG);

		if (r == g->pid || (r < 0 && errno != EINTR))
			break;
		tf_sleep(0.01);
	}
	g->pid = 0;
}
