/*
 * The guardian process. It blocks in read() on a pipe whose only writer
 * is the rank, so it wakes once, when the rank ends; then it reads the
 * table the rank kept in shared memory and stops what is listed there.
 * It puts itself in a session of its own and ignores the stop signals,
 * so that what a launcher sends a rank's group does not reach it, and it
 * holds none of the rank's descriptors (a launcher may wait for the
 * rank's stdout to close).
 */
#include "config.h"

#include "farm/guard.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "taskfarm.h"
#include "core/util.h"

#define TABLE_BYTES ((size_t)(TF_GUARD_SLOTS + 1) * sizeof(int32_t))

/* Whether any process of group pg is left. */
static int group_alive(pid_t pg)
{
	return kill(-pg, 0) == 0 || errno == EPERM;
}

static void stop_groups(const pid_t *pg, size_t n, double grace)
{
	double waited = 0;
	size_t i, left;

	for (i = 0; i < n; i++) {
		kill(-pg[i], SIGTERM);
		kill(-pg[i], SIGCONT); /* a stopped task cannot act on TERM */
	}
	for (;;) {
		for (i = 0, left = 0; i < n; i++)
			left += group_alive(pg[i]);
		if (!left || waited >= grace)
			break;
		tf_sleep(0.05);
		waited += 0.05;
	}
	for (i = 0; i < n; i++)
		kill(-pg[i], SIGKILL);
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

static void guardian(int rfd, volatile int32_t *table, double grace)
	TF_NORETURN;
static void guardian(int rfd, volatile int32_t *table, double grace)
{
	static const int ignored[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT,
				       SIGUSR1, SIGUSR2, SIGPIPE, SIGTSTP,
				       SIGTTIN, SIGTTOU };
	pid_t *pg;
	size_t i, n = 0, used;
	sigset_t none;
	char c;

	setsid();
	for (i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		signal(ignored[i], SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	close_other_fds(rfd);
	prctl(PR_SET_NAME, "taskfarm-guard", 0, 0, 0);
	/* Nothing is ever written: read() returns 0 when the rank has
	 * gone. */
	for (;;) {
		ssize_t r = read(rfd, &c, 1);

		if (r == 0 || (r < 0 && errno != EINTR))
			break;
	}
	used = (size_t)table[0];
	if (used > TF_GUARD_SLOTS)
		used = TF_GUARD_SLOTS;
	pg = malloc((used ? used : 1) * sizeof(*pg));
	if (!pg)
		_exit(1);
	for (i = 0; i < used; i++)
		if (table[1 + i] > 0)
			pg[n++] = (pid_t)table[1 + i];
	if (n)
		stop_groups(pg, n, grace);
	_exit(0);
}

int tf_guard_start(struct tf_guard *g, double grace)
{
	int p[2], err;
	void *table;
	pid_t pid;

	g->fd = -1;
	g->pid = 0;
	g->table = NULL;
	/* Anonymous shared memory is only backed where it is touched: a
	 * page per 1024 slots in use. */
	table = mmap(NULL, TABLE_BYTES, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (table == MAP_FAILED)
		return -errno;
	if (pipe2(p, O_CLOEXEC) < 0) {
		err = -errno;
		munmap(table, TABLE_BYTES);
		return err;
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(p[0]);
		close(p[1]);
		munmap(table, TABLE_BYTES);
		return err;
	}
	if (pid == 0) {
		close(p[1]);
		guardian(p[0], table, grace);
	}
	close(p[0]);
	g->fd = p[1];
	g->pid = pid;
	g->table = table;
	return 0;
}

void tf_guard_set(struct tf_guard *g, int slot, pid_t pgid)
{
	if (!g->table || slot < 0 || slot >= TF_GUARD_SLOTS)
		return;
	/* Stored with release order: the guardian reads them only after
	 * this process has ended, but a store must never be seen torn. */
	__atomic_store_n(&g->table[1 + slot], (int32_t)pgid, __ATOMIC_RELEASE);
	if (slot + 1 > g->table[0])
		__atomic_store_n(&g->table[0], slot + 1, __ATOMIC_RELEASE);
}

void tf_guard_release(struct tf_guard *g)
{
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
	/* It sees the end of the pipe at once and leaves, after stopping
	 * what is still listed (nothing, after an orderly end). Reaped here
	 * if it has already gone, else by init once this process ends. */
	if (g->pid > 0)
		(void)waitpid(g->pid, NULL, WNOHANG);
	g->pid = 0;
	if (g->table)
		munmap(g->table, TABLE_BYTES);
	g->table = NULL;
}
