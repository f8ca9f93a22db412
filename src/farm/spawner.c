/*
 * The spawn helper. Forked early, it holds nothing of the rank but its
 * end of a socket pair, ignores the stop signals (a Ctrl-C or a
 * launcher's signal to the rank's group must not take it before the rank
 * has drained), and dies with the rank (end of the socket, and
 * PR_SET_PDEATHSIG). For each request (path, argv, envp, three
 * descriptors) it clones a child as posix_spawn does (CLONE_VM and
 * CLONE_VFORK: no copy of memory, and the helper learns whether the exec
 * worked), plus CLONE_PARENT, so that the child is the rank's. The
 * memory the child leaves at exec is the helper's, whose peak (about
 * 1.3 MB, set at the fork) is below what /bin/sh alone needs, so a
 * task's MaxRSS is its own. The child writes its pid on the socket first
 * thing, so that the rank knows of every child even if the helper dies
 * while the child starts; the helper then writes the exec's errno (0 for
 * success), which the rank reads with its next request's pid, or when it
 * reaps a child that exited 127: the rank never waits for an exec.
 */
#include "config.h"

#include "farm/spawner.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "taskfarm.h"
#include "core/util.h"

/* How long the rank waits for the helper to take a request or answer it
 * before it gives the helper up (a stopped or wedged helper). */
#define HELPER_TIMEOUT_SEC 10
/* Bytes of stack for a child until it execs. */
#define CHILD_STACK (64 * 1024)
/* The helper's descriptor for its end of the socket. */
#define HELPER_SOCK 3

struct request_header {
	uint32_t len;   /* bytes of strings that follow */
	uint32_t nargv; /* strings: path, nargv arguments, nenv variables */
	uint32_t nenv;
	uint32_t bind;  /* the child runs on cpus alone */
	cpu_set_t cpus;
};

/* The signals the helper ignores; its children put them back. */
static const int helper_ignores[] = { SIGTERM, SIGINT,  SIGHUP,  SIGQUIT,
				      SIGUSR1, SIGUSR2, SIGPIPE, SIGTSTP,
				      SIGTTIN, SIGTTOU };
#define NIGNORED (sizeof(helper_ignores) / sizeof(helper_ignores[0]))

/* The rank's side. */
static int helper_fd = -1;
static int helper_always;   /* every task, not only past the RSS mark */
static int helper_big;      /* this process's peak passed it */
static unsigned int since_look;
static pid_t helper_pid;
static struct tf_strbuf request = TF_STRBUF_INIT;
/* The last child started, whose exec's outcome is not read yet. */
static pid_t pending_pid;
/* Children whose exec failed, until tf_spawner_exec_error() asks. */
#define NFAILED 32
static struct {
	pid_t pid;
	int err;
} failed[NFAILED];
static unsigned int nfailed;

static void close_from(unsigned int first)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, first, ~0U, 0) == 0)
		return;
#endif
	{
		long max = sysconf(_SC_OPEN_MAX);
		long fd;

		if (max < 0 || max > 65536)
			max = 65536;
		for (fd = first; fd < max; fd++)
			close((int)fd);
	}
}

/* What a child needs, in the helper's memory (which the child shares
 * until it execs). */
struct child_args {
	int sock;
	const char *path;
	char **argv;
	char **envp;
	int fds[3];
	const cpu_set_t *cpus; /* NULL: the helper's */
	const int *reset_to_default;
	int err; /* set by the child if it could not exec */
};

/*
 * The child, on a stack of its own in the helper's memory while the
 * helper waits (CLONE_VM | CLONE_VFORK, as posix_spawn does it). Only
 * system calls here: no signal handler can run (the helper has none),
 * and nothing of glibc's state is touched.
 */
static int child(void *arg)
{
	struct child_args *a = arg;
	struct sigaction dfl;
	sigset_t none;
	int32_t me = (int32_t)getpid();
	size_t i;
	int fd;

	/* First, so that the rank knows of this child whatever happens to
	 * the helper from now on. */
	if (write(a->sock, &me, sizeof(me)) != (ssize_t)sizeof(me))
		goto fail;
	if (setpgid(0, 0) < 0)
		goto fail;
	if (a->cpus && sched_setaffinity(0, sizeof(*a->cpus), a->cpus) < 0)
		goto fail;
	for (fd = 0; fd < 3; fd++)
		if (dup2(a->fds[fd], fd) < 0)
			goto fail;
	/* Stdin, stdout and stderr only: not the helper's socket, nor the
	 * descriptors it was sent. */
	close_from(3);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	for (i = 0; i < NIGNORED; i++)
		if (a->reset_to_default[i] &&
		    sigaction(helper_ignores[i], &dfl, NULL) < 0)
			goto fail;
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		goto fail;
	execve(a->path, a->argv, a->envp);
fail:
	a->err = errno ? errno : EINVAL;
	_exit(127);
}

/* Reads exactly len bytes; the first read may carry descriptors (up to
 * three, into fds, count in *nfds). Returns 0, or -1 at EOF or error. */
static int read_full(int sock, void *buf, size_t len, int fds[3], int *nfds)
{
	char *p = buf;

	while (len > 0) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(3 * sizeof(int))];
		} control;
		struct iovec iov = { p, len };
		struct msghdr msg;
		struct cmsghdr *c;
		ssize_t n;

		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		if (fds) {
			msg.msg_control = control.buf;
			msg.msg_controllen = sizeof(control.buf);
		}
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		for (c = fds ? CMSG_FIRSTHDR(&msg) : NULL; c;
		     c = CMSG_NXTHDR(&msg, c)) {
			size_t k, m;

			if (c->cmsg_level != SOL_SOCKET ||
			    c->cmsg_type != SCM_RIGHTS)
				continue;
			m = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (k = 0; k < m; k++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + k * sizeof(int),
				       sizeof(int));
				if (*nfds < 3)
					fds[(*nfds)++] = fd;
				else
					close(fd);
			}
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_full(int sock, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(sock, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Splits the request's strings into path, argv and envp. Returns 0, or
 * -1 if they are not what the header says. */
static int split_request(char *buf, size_t len,
			 const struct request_header *h, char ***argv,
			 char ***envp)
{
	size_t want = (size_t)h->nargv + h->nenv + 1, n = 0, off = 0;
	char **ptrs;

	if (len == 0 || buf[len - 1] != '\0')
		return -1;
	ptrs = tf__xcalloc((size_t)h->nargv + h->nenv + 3, sizeof(char *));
	while (off < len && n < want) {
		ptrs[n + (n > h->nargv ? 1 : 0)] = buf + off;
		off += strlen(buf + off) + 1;
		n++;
	}
	if (n != want || off != len) {
		free(ptrs);
		return -1;
	}
	/* ptrs: path, argv..., NULL, envp..., NULL */
	*argv = ptrs + 1;
	*envp = ptrs + 2 + h->nargv;
	return 0;
}

static void helper(int sock, pid_t rank, const int *reset_to_default)
	TF_NORETURN;
static void helper(int sock, pid_t rank, const int *reset_to_default)
{
	struct tf_strbuf buf = TF_STRBUF_INIT;
	struct child_args a;
	char *stack;

	stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		_exit(1);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != rank)
		_exit(0);
	prctl(PR_SET_NAME, "taskfarm-spawn", 0, 0, 0);
	/* Set up: the rank may go on. */
	if (write_full(sock, "", 1) < 0)
		_exit(0);
	a.sock = sock;
	a.reset_to_default = reset_to_default;
	for (;;) {
		struct request_header h;
		int nfds = 0, i;
		int32_t reply;
		pid_t pid;

		if (read_full(sock, &h, sizeof(h), a.fds, &nfds) < 0)
			_exit(0); /* the rank has gone */
		tf_strbuf_reset(&buf);
		tf_strbuf_grow(&buf, h.len);
		if (nfds != 3 || read_full(sock, buf.buf, h.len, NULL, NULL) < 0 ||
		    split_request(buf.buf, h.len, &h, &a.argv, &a.envp) < 0)
			_exit(1); /* not our rank speaking: stop */
		a.path = a.argv[-1];
		a.cpus = h.bind ? &h.cpus : NULL;
		a.err = 0;
		pid = clone(child, stack + CHILD_STACK,
			    CLONE_VM | CLONE_VFORK | CLONE_PARENT | SIGCHLD, &a);
		for (i = 0; i < 3; i++)
			close(a.fds[i]);
		free(a.argv - 1);
		/* Past CLONE_VFORK the child has exec'd or given up; it
		 * has written its pid already. */
		reply = pid < 0 ? -errno : a.err;
		if (write_full(sock, &reply, sizeof(reply)) < 0)
			_exit(0);
		/* The peak of this process is the floor of every task's
		 * MaxRSS: a huge command once must not raise it for good. */
		if (buf.alloc > 256 * 1024) {
			int fd = open("/proc/self/clear_refs", O_WRONLY);

			tf_strbuf_release(&buf);
			if (fd >= 0) {
				(void)!write(fd, "5", 1);
				close(fd);
			}
		}
	}
}

static size_t read_reply(int fd, void *buf, size_t len);

int tf_spawner_supported(void)
{
	const char *p = getenv("LD_PRELOAD");

	return !(p && strstr(p, "vgpreload"));
}

int tf_spawner_wanted(void)
{
	struct rusage ru;

	if (helper_fd < 0)
		return 0;
	if (helper_always || helper_big)
		return 1;
	/* The peak only grows: a look every 64 tasks is enough. */
	if (since_look++ % 64 == 0 && getrusage(RUSAGE_SELF, &ru) == 0 &&
	    ru.ru_maxrss > TF_SPAWNER_AUTO_KB)
		helper_big = 1;
	return helper_big;
}

int tf_spawner_start(int always)
{
	struct timeval tv = { HELPER_TIMEOUT_SEC, 0 };
	int reset_to_default[NIGNORED];
	sigset_t all, old_mask;
	int sv[2], err;
	char ready;
	size_t i;
	pid_t rank = getpid(), pid;

	helper_always = always;
	helper_big = 0;
	since_look = 0;
	if (helper_fd >= 0 || !tf_spawner_supported())
		return 0;
	/* Tasks get back what the process ignores, except SIGPIPE (which
	 * the rank ignores for itself); what it catches, exec resets. */
	for (i = 0; i < NIGNORED; i++) {
		struct sigaction old;

		if (sigaction(helper_ignores[i], NULL, &old) < 0)
			return -errno;
		reset_to_default[i] = helper_ignores[i] == SIGPIPE ||
				      old.sa_handler != SIG_IGN;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	if (setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		err = -errno;
		goto fail;
	}
	/* Blocked until the helper ignores them: this process's handlers
	 * must not run in the helper. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old_mask);
	pid = fork();
	if (pid < 0) {
		err = -errno;
		sigprocmask(SIG_SETMASK, &old_mask, NULL);
		goto fail;
	}
	if (pid == 0) {
		sigset_t none;
		int null;

		/* Nothing of the rank's: a launcher may wait for its output
		 * descriptors to close, a reader for its pipes. */
		if (dup3(sv[1], HELPER_SOCK, O_CLOEXEC) < 0)
			_exit(1);
		null = open("/dev/null", O_RDWR);
		if (null >= 0 && null != HELPER_SOCK) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		close_from(HELPER_SOCK + 1);
		for (i = 0; i < NIGNORED; i++)
			signal(helper_ignores[i], SIG_IGN);
		signal(SIGCHLD, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		helper(HELPER_SOCK, rank, reset_to_default);
	}
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	close(sv[1]);
	sv[1] = -1;
	helper_fd = sv[0];
	helper_pid = pid;
	/* Wait until it is ready (named, signals ignored, descriptors
	 * closed), so that nothing can meet it half set up. */
	if (read_reply(helper_fd, &ready, 1) != 1) {
		tf_spawner_stop();
		return TF_ESPAWN;
	}
	return 0;
fail:
	close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	return err;
}

pid_t tf_spawner_pid(void)
{
	return helper_fd >= 0 ? helper_pid : 0;
}

void tf_spawner_stop(void)
{
	if (helper_fd < 0)
		return;
	close(helper_fd);
	helper_fd = -1;
	/* Gone at the end of its socket anyway; KILL makes the wait sure
	 * to end, even for a helper someone stopped. */
	kill(helper_pid, SIGKILL);
	while (waitpid(helper_pid, NULL, 0) < 0 && errno == EINTR)
		;
	helper_pid = 0;
	/* Its exec's outcome is lost: if it failed, it exits 127. */
	pending_pid = 0;
	tf_strbuf_release(&request);
}

/* Reads up to len bytes, until EOF, an error or the time-out. Returns
 * the count read. */
static size_t read_reply(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, (char *)buf + got, len - got, MSG_WAITALL);

		if (n < 0 && errno == EINTR)
			continue; /* SO_RCVTIMEO: never restarted */
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

/* The pending child's exec ended with status (an errno, 0 for success). */
static void settle_pending(int32_t status)
{
	if (status != 0) {
		failed[nfailed % NFAILED].pid = pending_pid;
		failed[nfailed % NFAILED].err = status > 0 ? -status : TF_ESPAWN;
		nfailed++;
	}
	pending_pid = 0;
}

int tf_spawner_exec_error(pid_t pid)
{
	unsigned int i;

	if (pid <= 0)
		return 0;
	if (pid == pending_pid && helper_fd >= 0) {
		int32_t status;

		/* Written as soon as the exec ended, so a child already
		 * reaped means it is there or on its way. */
		if (read_reply(helper_fd, &status, sizeof(status)) ==
		    sizeof(status))
			settle_pending(status);
		else
			tf_spawner_stop();
	}
	for (i = 0; i < NFAILED; i++) {
		if (failed[i].pid == pid) {
			failed[i].pid = 0;
			return failed[i].err;
		}
	}
	return 0;
}

int tf_spawner_spawn(const char *path, char *const argv[], char *const envp[],
		     const int fds[3], const cpu_set_t *cpus, pid_t *pid,
		     int *exec_err)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(3 * sizeof(int))];
	} control;
	struct request_header h;
	struct iovec iov[2];
	struct msghdr msg;
	struct cmsghdr *c;
	int32_t reply[2];
	size_t total, got, want;
	ssize_t n;

	*pid = 0;
	*exec_err = 0;
	if (helper_fd < 0)
		return TF_ESPAWN;
	memset(&h, 0, sizeof(h));
	if (cpus) {
		h.bind = 1;
		h.cpus = *cpus;
	}
	tf_strbuf_reset(&request);
	tf_strbuf_add(&request, path, strlen(path) + 1);
	for (; argv[h.nargv]; h.nargv++)
		tf_strbuf_add(&request, argv[h.nargv], strlen(argv[h.nargv]) + 1);
	for (; envp[h.nenv]; h.nenv++)
		tf_strbuf_add(&request, envp[h.nenv], strlen(envp[h.nenv]) + 1);
	if (request.len > UINT32_MAX)
		return TF_ETOOLONG;
	h.len = (uint32_t)request.len;

	memset(&msg, 0, sizeof(msg));
	memset(&control, 0, sizeof(control)); /* its padding is sent too */
	iov[0].iov_base = &h;
	iov[0].iov_len = sizeof(h);
	iov[1].iov_base = request.buf;
	iov[1].iov_len = request.len;
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof(control.buf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(3 * sizeof(int));
	memcpy(CMSG_DATA(c), fds, 3 * sizeof(int));
	total = sizeof(h) + request.len;
	do
		n = sendmsg(helper_fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		goto gone; /* nothing was taken */
	if ((size_t)n < total) {
		size_t sent = (size_t)n;
		const char *rest;

		if (sent < sizeof(h))
			goto gone; /* cannot happen on a stream socket */
		rest = request.buf + (sent - sizeof(h));
		if (write_full(helper_fd, rest, total - sent) < 0)
			goto gone; /* a half request starts nothing */
	}
	/*
	 * One read: the outcome of the previous child's exec, long over
	 * by now, then this child's pid, which the child writes before it
	 * execs. Not waiting for this exec is what keeps the helper's cost
	 * to one hop each way; its outcome is read with the next request,
	 * or by tf_spawner_exec_error().
	 */
	want = pending_pid ? 2 : 1;
	got = read_reply(helper_fd, reply, want * sizeof(int32_t));
	if (pending_pid) {
		if (got < sizeof(int32_t))
			goto gone; /* the helper went before this request */
		settle_pending(reply[0]);
		reply[0] = reply[1];
		got -= sizeof(int32_t);
	}
	if (got < sizeof(int32_t))
		goto gone; /* no child: its first act is to write */
	if (reply[0] > 0) {
		*pid = (pid_t)reply[0];
		pending_pid = *pid;
		/* The child wrote its pid before its setpgid(): make sure of
		 * the group here too (the fork idiom), so that a kill of the
		 * group right after this cannot miss it. Fails harmlessly
		 * (EACCES) once the child has exec'd, by then in its group. */
		(void)setpgid(*pid, *pid);
	} else {
		*exec_err = reply[0] < 0 ? reply[0] : TF_ESPAWN; /* clone() */
	}
	return 0;
gone:
	/* The helper died or hangs, and no child of this request exists:
	 * a child's first act is to write its pid, and it holds the
	 * helper's end of the socket open until then. */
	tf_spawner_stop();
	return TF_ESPAWN;
}
