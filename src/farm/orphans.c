/*
 * Escaped processes. The kernel hands an orphan to its nearest ancestor
 * that is a child subreaper, so with this process one, whatever a task
 * leaves behind becomes a child of ours, silently (no signal comes when
 * it is adopted, only when it dies). Each sweep therefore lists our
 * children from /proc: the task's own shells and the children we had
 * before (a guardian, a spawn helper) are left alone, the rest are
 * adopted. An adopted process names its task in the environment it
 * inherited, read from /proc/PID/environ.
 */
#include "config.h"

#include "farm/orphans.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"

/* The most of a process's environment read to find its task. */
#define ENVIRON_MAX (4 * 1024 * 1024)

struct pidlist {
	pid_t *v;
	size_t n, alloc;
};

static void pidlist_add(struct pidlist *l, pid_t pid)
{
	tf__grow((void **)&l->v, &l->alloc, l->n + 1, sizeof(pid_t));
	l->v[l->n++] = pid;
}

static int pidlist_has(const pid_t *v, size_t n, pid_t pid)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i] == pid)
			return 1;
	return 0;
}

/* Reads the whole of a small /proc file into a NUL-terminated buffer
 * (at most max bytes). Returns its length, or -errno. */
static ssize_t read_proc(const char *path, char **buf, size_t max)
{
	size_t len = 0, alloc = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*buf = NULL;
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n;

		tf__grow((void **)buf, &alloc, len + 4097, 1);
		n = read(fd, *buf + len, alloc - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			free(*buf);
			*buf = NULL;
			return -e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len >= max)
			break;
	}
	close(fd);
	(*buf)[len] = '\0';
	return (ssize_t)len;
}

/* A process's parent and group from /proc/PID/stat. Returns 0 or -errno
 * (gone). */
static int proc_stat(pid_t pid, pid_t *ppid, pid_t *pgid)
{
	char path[64], *buf, *p;
	long pp, pg;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	n = read_proc(path, &buf, 4096);
	if (n < 0)
		return (int)n;
	/* The command name may hold anything, ')' included. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %ld %ld", &pp, &pg) != 2) {
		free(buf);
		return -EINVAL;
	}
	free(buf);
	*ppid = (pid_t)pp;
	*pgid = (pid_t)pg;
	return 0;
}

/* Appends this process's children: /proc/self/task/TID/children for
 * each thread (an orphan is adopted by one of them), or, on a kernel
 * without those files, a scan of every process's parent. */
static void list_children(pid_t self, struct pidlist *l)
{
	struct dirent *d;
	DIR *dir = opendir("/proc/self/task");
	int have_files = 0;

	while (dir && (d = readdir(dir))) {
		char path[300], *buf, *p, *end;

		if (d->d_name[0] < '0' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/children",
			 d->d_name);
		if (read_proc(path, &buf, SIZE_MAX) < 0)
			continue;
		have_files = 1;
		for (p = buf;; p = end) {
			long v = strtol(p, &end, 10);
			if (end == p)
				break;
			if (v > 0 && !pidlist_has(l->v, l->n, (pid_t)v))
				pidlist_add(l, (pid_t)v);
		}
		free(buf);
	}
	if (dir)
		closedir(dir);
	if (have_files)
		return;
	dir = opendir("/proc");
	while (dir && (d = readdir(dir))) {
		pid_t pid, ppid, pgid;
		char *end;
		long v = strtol(d->d_name, &end, 10);

		if (v <= 0 || *end)
			continue;
		pid = (pid_t)v;
		if (proc_stat(pid, &ppid, &pgid) == 0 && ppid == self)
			pidlist_add(l, pid);
	}
	if (dir)
		closedir(dir);
}

/* The task a process inherited in TASKFARM_TASK_ID and TASKFARM_ATTEMPT.
 * Returns 1 if it names one, else 0. */
static int proc_task(pid_t pid, uint64_t *id, uint32_t *attempt)
{
	char path[64], *buf, *p;
	ssize_t n;
	int have_id = 0, have_attempt = 0;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	n = read_proc(path, &buf, ENVIRON_MAX);
	if (n < 0)
		return 0;
	for (p = buf; p < buf + n; p += strlen(p) + 1) {
		if (strncmp(p, "TASKFARM_TASK_ID=", 17) == 0) {
			*id = strtoull(p + 17, NULL, 10);
			have_id = 1;
		} else if (strncmp(p, "TASKFARM_ATTEMPT=", 17) == 0) {
			*attempt = (uint32_t)strtoul(p + 17, NULL, 10);
			have_attempt = 1;
		}
	}
	free(buf);
	return have_id && have_attempt;
}

int tf_orphans_init(struct tf_orphans *o)
{
	struct pidlist l = { NULL, 0, 0 };
	int was = 0;

	memset(o, 0, sizeof(*o));
	o->self = getpid();
	o->pgrp = getpgrp();
	if (prctl(PR_GET_CHILD_SUBREAPER, &was) < 0)
		was = 0;
	if (!was && prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return -errno;
	o->subreaper = !was;
	if (!o->subreaper)
		o->subreaper = -1; /* already one: adopt, but leave it so */
	list_children(o->self, &l);
	o->before = l.v;
	o->nbefore = l.n;
	return 0;
}

static void signal_orphan(const struct tf_orphan *orph, int sig)
{
	kill(orph->pid, sig);
	if (orph->pgid > 0)
		kill(-orph->pgid, sig);
}

static void stopping_drop(struct tf_orphans *o, size_t i)
{
	o->stopping[i] = o->stopping[--o->nstopping];
}

int tf_orphans_sweep(struct tf_orphans *o, const struct tf_orphans_ops *ops,
		     double now, double grace, int all)
{
	struct pidlist kids = { NULL, 0, 0 };
	size_t i, k;
	int started = 0;

	if (!o->subreaper)
		return 0;
	list_children(o->self, &kids);
	for (k = 0; k < kids.n; k++) {
		pid_t pid = kids.v[k], ppid, pgid;
		struct tf_orphan orph;
		uint64_t id = 0;
		uint32_t attempt = 0;
		int found = 0, st;

		if (ops->is_task(ops->ctx, pid) ||
		    pidlist_has(o->before, o->nbefore, pid))
			continue;
		if (proc_stat(pid, &ppid, &pgid) < 0 || pgid == o->pgrp)
			continue;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			o->nreaped++;
			for (i = 0; i < o->nstopping; i++)
				if (o->stopping[i].pid == pid)
					stopping_drop(o, i);
			continue;
		}
		for (i = 0; i < o->nstopping; i++)
			if (o->stopping[i].pid == pid)
				found = 1;
		if (found)
			continue;
		if (!all && !(proc_task(pid, &id, &attempt) &&
			      !ops->running(ops->ctx, id, attempt)))
			continue;
		/* Its group goes with it, unless that is ours or a running
		 * task's. */
		orph.pid = pid;
		orph.pgid = pgid > 1 && pgid != o->pgrp &&
					  !ops->is_task(ops->ctx, pgid)
				  ? pgid
				  : 0;
		orph.kill_at = grace > 0 ? now + grace : 0;
		if (grace > 0) {
			/* CONT after TERM, as timeout(1) does: a stopped
			 * process acts on its TERM only when continued. */
			signal_orphan(&orph, SIGTERM);
			signal_orphan(&orph, SIGCONT);
		} else {
			signal_orphan(&orph, SIGKILL);
		}
		tf__grow((void **)&o->stopping, &o->alloc, o->nstopping + 1,
			 sizeof(*o->stopping));
		o->stopping[o->nstopping++] = orph;
		started++;
	}
	for (i = 0; i < o->nstopping;) {
		struct tf_orphan *orph = &o->stopping[i];

		/* Reaped by someone else (a waitpid(-1) of the embedding
		 * program): forget it. */
		if (!pidlist_has(kids.v, kids.n, orph->pid)) {
			stopping_drop(o, i);
			continue;
		}
		if (orph->kill_at > 0 && now >= orph->kill_at) {
			signal_orphan(orph, SIGKILL);
			orph->kill_at = 0;
		}
		i++;
	}
	free(kids.v);
	return started;
}

double tf_orphans_next(const struct tf_orphans *o)
{
	double next = 0;
	size_t i;

	for (i = 0; i < o->nstopping; i++)
		if (o->stopping[i].kill_at > 0 &&
		    (next == 0 || o->stopping[i].kill_at < next))
			next = o->stopping[i].kill_at;
	return next;
}

static void pause_briefly(void)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

void tf_orphans_release(struct tf_orphans *o,
			const struct tf_orphans_ops *ops, double grace)
{
	double start = tf_now(), now = start;
	size_t i;

	if (o->subreaper) {
		tf_orphans_sweep(o, ops, now, grace, 1);
		/* Newly adopted ones (children of those stopped) are swept
		 * in too; all get KILL by grace, and a second more to go. */
		while (o->nstopping && now < start + grace + 1) {
			pause_briefly();
			now = tf_now();
			tf_orphans_sweep(o, ops, now, start + grace - now, 1);
			for (i = 0; i < o->nstopping; i++)
				if (now >= start + grace &&
				    o->stopping[i].kill_at > 0) {
					signal_orphan(&o->stopping[i], SIGKILL);
					o->stopping[i].kill_at = 0;
				}
		}
		if (o->subreaper > 0)
			(void)prctl(PR_SET_CHILD_SUBREAPER, 0);
	}
	free(o->before);
	free(o->stopping);
	memset(o, 0, sizeof(*o));
}
