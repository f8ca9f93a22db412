/*
 * Process execution. Children are started by the spawn helper when the
 * process has one (spawner.c: a true MaxRSS), else with posix_spawn
 * (cheaper than fork for a large parent, as libuv notes), each in its own
 * process group so that a kill reaches everything the task started.
 * Output is collected with ppoll() into per-slot buffers and handed over
 * whole when the task ends, so outputs of concurrent tasks never
 * interleave. Signal handlers only count and write a byte to a self-pipe.
 */
#include "config.h"

#include "farm/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "farm/slurmenv.h"
#include "farm/spawner.h"
#include "taskfarm.h"
#include "core/util.h"

extern char **environ;

/* Bytes of one stream kept in memory before spilling to a file. */
#define SPILL_THRESHOLD (1024 * 1024)
/* How long pipes may stay open after the task's shell has exited and its
 * group was killed (a process that left the group may hold them). */
#define CLOSE_GRACE 1.0




int tf_exec_init(struct tf_exec *ex, int nslots, int rank, const char *host,
		 uint64_t ntasks)
{
	size_t n = 0, i;
	int s, ret;

	memset(ex, 0, sizeof(*ex));
	ex->wake_fd = -1;
	ret = tf_signals_install();
	if (ret < 0)
		return ret;
	ex->devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (ex->devnull < 0)
		return -errno;
	ex->nslots = nslots;
	ex->rank = rank;
	ex->grace = 5;
	ex->spill_threshold = SPILL_THRESHOLD;
	for (i = 0; environ && environ[i]; i++)
		n++;
	ex->base_env = tf__xcalloc(n + 1, sizeof(char *));
	for (i = 0; environ && environ[i]; i++)
		if (!tf__exec_skip_env(environ[i]))
			ex->base_env[ex->nbase++] = environ[i];
	snprintf(ex->env_rank, sizeof(ex->env_rank), "TASKFARM_RANK=%d", rank);
	snprintf(ex->env_host, sizeof(ex->env_host), "TASKFARM_HOST=%s", host);
	tf_exec_set_ntasks(ex, ntasks);
	ex->slots = tf__xcalloc((size_t)nslots, sizeof(*ex->slots));
	for (s = 0; s < nslots; s++) {
		struct tf_exec_slot *sl = &ex->slots[s];
		sl->fds[0] = sl->fds[1] = -1;
		sl->envp = tf__xcalloc(ex->nbase + 12, sizeof(char *));
		tf_result_init(&sl->result);
	}
	tf_res_init(&ex->res, nslots);
	ex->has_omp = getenv("OMP_NUM_THREADS") != NULL;
	/* Each slot's two pipes, the signals' self-pipe, the wake fd. */
	ex->pfds = tf__xcalloc((size_t)nslots * 2 + 2, sizeof(*ex->pfds));
	ex->pfd_slot = tf__xcalloc((size_t)nslots * 2 + 2, sizeof(int));
	/* Without it (a kernel before 3.4) a run works; what escapes a
	 * task's group is then not stopped. */
	if (nslots > 0)
		(void)tf_orphans_init(&ex->orphans);
	return 0;
}

/* A sweep for adopted processes reads /proc (a directory and a file per
 * thread): after a child's end, at most this often, so that thousands of
 * tiny tasks a second do not pay it each (an escapee is stopped up to
 * this much later). */
#define ORPHAN_SWEEP_EVERY 0.1

/* Whether pid is a task's shell of ours (for the orphans' sweep). */
static int ops_is_task(void *ctx, pid_t pid)
{
	struct tf_exec *ex = ctx;
	int s;

	for (s = 0; s < ex->nslots; s++)
		if (ex->slots[s].busy && ex->slots[s].pid == pid)
			return 1;
	return 0;
}

/* Whether that attempt still runs: its shell has not exited. */
static int ops_running(void *ctx, uint64_t id, uint32_t attempt)
{
	struct tf_exec *ex = ctx;
	int s;

	for (s = 0; s < ex->nslots; s++) {
		struct tf_exec_slot *sl = &ex->slots[s];

		if (sl->busy && !sl->reaped && sl->task.id == id &&
		    sl->task.attempt == attempt)
			return 1;
	}
	return 0;
}

static void orphans_ops(struct tf_exec *ex, struct tf_orphans_ops *ops)
{
	ops->is_task = ops_is_task;
	ops->running = ops_running;
	ops->ctx = ex;
}




void tf_exec_set_grace(struct tf_exec *ex, double grace)
{
	ex->grace = grace;
}

void tf_exec_set_guard(struct tf_exec *ex, struct tf_guard *guard)
{
	ex->guard = guard;
}

/* Slot s's task group, as the guardian must know it (0: none). */
static void guard_slot(struct tf_exec *ex, struct tf_exec_slot *sl, pid_t pgid)
{
	if (ex->guard)
		tf_guard_set(ex->guard, (int)(sl - ex->slots), pgid);
}


static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/* Frees what a slot holds for its task, except the result. */
static void slot_clear(struct tf_exec_slot *sl)
{
	close_fd(&sl->fds[0]);
	close_fd(&sl->fds[1]);
	tf_task_release(&sl->task);
	sl->busy = 0;
	sl->pid = 0;
	sl->reaped = 0;
	sl->term_at = 0;
	sl->term_reason = 0;
	sl->kill_at = 0;
	sl->close_by = 0;
	sl->kill_reason = 0;
}

void tf_exec_release(struct tf_exec *ex)
{
	struct tf_orphans_ops ops;
	int s;

	for (s = 0; s < ex->nslots; s++) {
		struct tf_exec_slot *sl = &ex->slots[s];

		if (sl->busy && sl->pid > 0 && !sl->reaped) {
			kill(-sl->pid, SIGKILL);
			kill(sl->pid, SIGKILL); /* if not yet in its group */
			while (waitpid(sl->pid, NULL, 0) < 0 && errno == EINTR)
				;
			guard_slot(ex, sl, 0);
		}
		if (sl->busy) {
			tf_result_release(&sl->result);
			slot_clear(sl);
		}
	}
	/* No task runs now: whatever is adopted is left over. */
	orphans_ops(ex, &ops);
	tf_orphans_release(&ex->orphans, &ops, ex->grace);
	for (s = 0; s < ex->nslots; s++) {
		struct tf_exec_slot *sl = &ex->slots[s];

		free(sl->envp);
		free(sl->env_gpus[0]);
		free(sl->env_gpus[1]);
	}
	if (ex->devnull >= 0)
		close(ex->devnull);
	free(ex->slots);
	free(ex->base_env);
	free(ex->pfds);
	free(ex->pfd_slot);
	tf_res_release(&ex->res);
	memset(ex, 0, sizeof(*ex));
	ex->devnull = -1;
}


/* Today's way, and the fallback when there is no spawn helper: the
 * child shares this process's memory until it execs, so its MaxRSS is
 * at least this process's peak (see spawner.h). Returns 0 or -errno. */
static int posix_spawn_task(pid_t *pid, char *const argv[],
			    char *const envp[], const int fds[3])
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t all, none;
	int ret;

	ret = posix_spawn_file_actions_init(&fa);
	if (ret)
		return -ret;
	ret = posix_spawnattr_init(&attr);
	if (ret) {
		posix_spawn_file_actions_destroy(&fa);
		return -ret;
	}
	/* Handlers are reset by exec anyway; SIGPIPE is the one disposition
	 * we changed (ignored) that a child would otherwise inherit. */
	sigemptyset(&all);
	sigaddset(&all, SIGPIPE);
	sigemptyset(&none);
	if ((ret = posix_spawn_file_actions_adddup2(&fa, fds[0], 0)) ||
	    (ret = posix_spawn_file_actions_adddup2(&fa, fds[1], 1)) ||
	    (ret = posix_spawn_file_actions_adddup2(&fa, fds[2], 2)) ||
	    (ret = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
							   POSIX_SPAWN_SETSIGMASK |
							   POSIX_SPAWN_SETSIGDEF)) ||
	    (ret = posix_spawnattr_setpgroup(&attr, 0)) ||
	    (ret = posix_spawnattr_setsigmask(&attr, &none)) ||
	    (ret = posix_spawnattr_setsigdefault(&attr, &all)))
		goto out;
#ifdef HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDCLOSEFROM_NP
	/* After the dup2s: tasks get stdin, stdout and stderr, nothing
	 * else, not the MPI library's sockets nor descriptors an embedding
	 * program left without close-on-exec. */
	if ((ret = posix_spawn_file_actions_addclosefrom_np(&fa, 3)))
		goto out;
#endif
	ret = posix_spawn(pid, "/bin/sh", &fa, &attr, argv, envp);
out:
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return -ret;
}

/*
 * posix_spawn, with --bind on the task's CPUs: the child inherits the
 * calling thread's affinity, so this thread takes the task's for the
 * spawn and its own back after (the writer thread is not touched).
 */
static int spawn_bound(struct tf_exec *ex, struct tf_exec_slot *sl,
		       char *const argv[], const int fds[3])
{
	cpu_set_t own;
	int ret;

	if (!ex->bind)
		return posix_spawn_task(&sl->pid, argv, sl->envp, fds);
	if (sched_getaffinity(0, sizeof(own), &own) < 0 ||
	    sched_setaffinity(0, sizeof(sl->cpus), &sl->cpus) < 0)
		return -errno;
	ret = posix_spawn_task(&sl->pid, argv, sl->envp, fds);
	(void)sched_setaffinity(0, sizeof(own), &own);
	return ret;
}

static int spawn(struct tf_exec *ex, struct tf_exec_slot *sl, int slot)
{
	int out[2] = { -1, -1 }, err[2] = { -1, -1 }, fds[3];
	struct tf_strbuf cmdline = TF_STRBUF_INIT;
	char *argv[4];
	int ret, exec_err;

	if (pipe2(out, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(err, O_CLOEXEC) < 0) {
		ret = -errno;
		goto fail_pipes;
	}
	tf__exec_build_env(ex, sl, slot);
	/*
	 * Tasks start with SIGUSR1 ignored: a batch system's warning signal
	 * (Slurm's --signal=USR1@T with proctrack/linuxproc) reaches every
	 * process of the step, and it is taskfarm's cue to drain, not the
	 * task's to die; a task that dies of it before its rank has counted
	 * the signal would be journaled as failed and skipped by --resume.
	 * A task that wants USR1 installs a handler, which overrides this.
	 */
	tf_strbuf_addstr(&cmdline, "trap '' USR1\n");
	tf_strbuf_add(&cmdline, sl->task.cmd, sl->task.cmd_len);
	argv[0] = "sh";
	argv[1] = "-c";
	argv[2] = cmdline.buf;
	argv[3] = NULL;
	fds[0] = ex->devnull;
	fds[1] = out[1];
	fds[2] = err[1];
	/* Through the spawn helper when it is wanted (a true MaxRSS), else
	 * straight from here. */
	ret = tf_spawner_wanted()
		      ? tf_spawner_spawn("/bin/sh", argv, sl->envp, fds,
					 ex->bind ? &sl->cpus : NULL,
					 &sl->pid, &exec_err)
		      : TF_ESPAWN;
	/* (An exec that fails there is found when the child is reaped.) */
	if (ret == 0)
		ret = exec_err;
	else
		ret = spawn_bound(ex, sl, argv, fds);
	tf_strbuf_release(&cmdline);
	if (ret < 0)
		goto fail_pipes;
	guard_slot(ex, sl, sl->pid);
	close(out[1]);
	close(err[1]);
	sl->fds[0] = out[0];
	sl->fds[1] = err[0];
	/* The read ends were made with O_RDONLY and nothing else. */
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(err[0], F_SETFL, O_NONBLOCK);
	return 0;

fail_pipes:
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&err[0]);
	close_fd(&err[1]);
	return ret;
}

/* The task's process could not be started: its stderr says why. */
static void spawn_failed(struct tf_exec_slot *sl, int err)
{
	char msg[256];
	int n = snprintf(msg, sizeof(msg),
			 "taskfarm: cannot start task %llu: %s\n",
			 (unsigned long long)sl->task.id, tf_strerror(err));

	tf_output_append(&sl->result.err, msg, (size_t)n, SIZE_MAX);
}

int tf_exec_start(struct tf_exec *ex, struct tf_task *task)
{
	struct tf_strbuf gpus = TF_STRBUF_INIT;
	struct tf_exec_slot *sl;
	cpu_set_t cpus;
	int s, ret;

	s = tf_res_take(&ex->res, task, &gpus, &cpus);
	if (s < 0) {
		tf_strbuf_release(&gpus);
		return TF_EINVAL;
	}
	sl = &ex->slots[s];
	free(sl->env_gpus[0]);
	free(sl->env_gpus[1]);
	sl->env_gpus[0] = sl->env_gpus[1] = NULL;
	if (ex->res.gpu && (ex->res.per_slot || task->gpus_given))
		tf__exec_set_gpu_env(sl, &gpus);
	tf_strbuf_release(&gpus);
	sl->cpus = cpus;
	sl->busy = 1;
	sl->task = *task;
	task->cmd = NULL;
	task->cmd_len = 0;
	ex->nbusy++;
	tf_result_init(&sl->result);
	sl->lines_taken[0] = sl->lines_taken[1] = 0;
	sl->result.id = sl->task.id;
	sl->result.attempt = sl->task.attempt;
	sl->result.rank = ex->rank;
	sl->result.slot = s + 1;
	sl->result.start = tf_wallclock();
	sl->start_mono = tf_now();
	if (sl->task.timeout > 0) {
		sl->term_at = sl->start_mono + sl->task.timeout;
		sl->term_reason = TF_STATUS_TIMEOUT;
	}
	ret = spawn(ex, sl, s);
	if (ret < 0) {
		spawn_failed(sl, ret);
		sl->pid = 0;
		sl->reaped = 1;
		sl->wstatus = -1;
		sl->end_mono = sl->start_mono;
	}
	return s;
}

/* --line-buffer: offers on_lines the whole lines the read buf (n bytes,
 * just appended to the slot's output) completed. */
static void take_lines(struct tf_exec *ex, struct tf_exec_slot *sl,
		       int which, const char *buf, size_t n)
{
	const struct tf_output *o =
		which == 0 ? &sl->result.out : &sl->result.err;
	const char *nl = memrchr(buf, '\n', n);
	uint64_t end;

	if (!nl || o->error)
		return;
	end = o->len - n + (uint64_t)(nl - buf) + 1;
	if (end > sl->lines_taken[which])
		sl->lines_taken[which] = ex->on_lines(
			ex->on_lines_ctx, (int)(sl - ex->slots), which,
			sl->lines_taken[which], end);
}

/* Reads what is available on one of a slot's pipes. */
static void drain_fd(struct tf_exec *ex, struct tf_exec_slot *sl, int which)
{
	char buf[65536];
	size_t total = 0;

	while (sl->fds[which] >= 0 && total < 4 * sizeof(buf)) {
		ssize_t n = read(sl->fds[which], buf, sizeof(buf));
		if (n > 0) {
			struct tf_output *o =
				which == 0 ? &sl->result.out : &sl->result.err;
			/* Past a failed spill the output is dropped (o->error
			 * says so) and the task runs on: the caller fails
			 * the attempt, not the run. */
			(void)tf_output_append(o, buf, (size_t)n,
					       ex->spill_threshold);
			if (ex->on_lines)
				take_lines(ex, sl, which, buf, (size_t)n);
			total += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		close_fd(&sl->fds[which]); /* EOF or error */
	}
}

static int is_stop_signal(int sig)
{
	return sig == SIGTERM || sig == SIGINT || sig == SIGUSR1 ||
	       sig == SIGUSR2 || sig == SIGHUP;
}

static void finish(struct tf_exec *ex, struct tf_exec_slot *sl,
		   tf_exec_done_fn done, void *ctx)
{
	struct tf_result *r = &sl->result;
	int st = sl->wstatus;

	/* --line-buffer: what went ahead is not the result's to carry. */
	if (sl->lines_taken[0] && !r->out.error) {
		tf_output_drop_front(&r->out, sl->lines_taken[0],
				     ex->spill_threshold);
		r->ahead_out = sl->lines_taken[0];
	}
	if (sl->lines_taken[1] && !r->err.error) {
		tf_output_drop_front(&r->err, sl->lines_taken[1],
				     ex->spill_threshold);
		r->ahead_err = sl->lines_taken[1];
	}

	r->runtime = sl->end_mono - sl->start_mono;
	if (st == -1) {
		r->status = TF_STATUS_SPAWN_FAILED;
		r->exitval = 127;
	} else if (WIFEXITED(st)) {
		r->exitval = WEXITSTATUS(st);
		r->status = r->exitval == 0 ? TF_STATUS_OK : TF_STATUS_FAILED;
	} else if (WIFSIGNALED(st)) {
		r->signal = WTERMSIG(st);
		r->exitval = 128 + r->signal;
		r->status = TF_STATUS_SIGNALED;
		/* A stop signal sent to our process group (a launcher's, or
		 * Ctrl-C) also reaches a child that posix_spawn has not yet
		 * moved to its own group: that task was interrupted by the
		 * stop, it did not fail, and a resumed run must run it. */
		if (tf_signals_stop_count() > 0 && is_stop_signal(r->signal))
			r->status = TF_STATUS_INTERRUPTED;
	}
	if (sl->kill_reason && r->status != TF_STATUS_OK)
		r->status = sl->kill_reason;
	slot_clear(sl);
	tf_res_put(&ex->res, (int)(sl - ex->slots));
	ex->nbusy--;
	done(ctx, r);
	tf_result_init(r);
}

/* Reaps the slot's shell if it has exited. Returns whether it was. */
static int reap_slot(struct tf_exec *ex, struct tf_exec_slot *sl, double now)
{
	struct rusage ru;
	pid_t p;

	do
		p = wait4(sl->pid, &sl->wstatus, WNOHANG, &ru);
	while (p < 0 && errno == EINTR);
	if (p == 0)
		return 0;
	if (p < 0) {
		/* Someone else reaped it: report an unknown end. */
		sl->wstatus = 0xff00; /* exit status 255 */
		memset(&ru, 0, sizeof(ru));
	}
	/* Through the helper, a task that could not exec is only known
	 * once reaped: it exited 127, as a shell does for a missing
	 * command, and the helper says which it was. */
	if (p > 0 && WIFEXITED(sl->wstatus) && WEXITSTATUS(sl->wstatus) == 127) {
		int err = tf_spawner_exec_error(sl->pid);

		if (err < 0) {
			spawn_failed(sl, err);
			sl->wstatus = -1;
		}
	}
	sl->reaped = 1;
	sl->end_mono = now;
	sl->close_by = now + CLOSE_GRACE;
	sl->result.maxrss_kb = ru.ru_maxrss;
	sl->result.utime = (double)ru.ru_utime.tv_sec +
			   (double)ru.ru_utime.tv_usec * 1e-6;
	sl->result.stime = (double)ru.ru_stime.tv_sec +
			   (double)ru.ru_stime.tv_usec * 1e-6;
	/* Anything the task left running in its group goes too. */
	kill(-sl->pid, SIGKILL);
	guard_slot(ex, sl, 0);
	return 1;
}

static void reap(struct tf_exec *ex, double now)
{
	int s;

	for (s = 0; s < ex->nslots; s++) {
		struct tf_exec_slot *sl = &ex->slots[s];

		if (sl->busy && !sl->reaped)
			reap_slot(ex, sl, now);
	}
}

void tf_exec_set_wake_fd(struct tf_exec *ex, int fd)
{
	ex->wake_fd = fd;
}

int tf_exec_wait(struct tf_exec *ex, double timeout, tf_exec_done_fn done,
		 void *ctx)
{
	struct timespec ts;
	double now = tf_now(), deadline_cap = timeout, orphan_kill;
	struct tf_orphans_ops ops;
	int nfds = 0, s, ret, finished = 0, sweep = 0;

	ex->pfds[nfds].fd = tf__signals_fd();
	ex->pfds[nfds].events = POLLIN;
	ex->pfd_slot[nfds++] = -1;
	if (ex->wake_fd >= 0) {
		ex->pfds[nfds].fd = ex->wake_fd;
		ex->pfds[nfds].events = POLLIN;
		ex->pfd_slot[nfds++] = -2; /* the caller's to read */
	}
	for (s = 0; s < ex->nslots; s++) {
		struct tf_exec_slot *sl = &ex->slots[s];
		int w;

		if (!sl->busy)
			continue;
		if (sl->reaped && sl->fds[0] < 0 && sl->fds[1] < 0)
			deadline_cap = 0;
		if (sl->kill_at > 0 && sl->kill_at - now < deadline_cap)
			deadline_cap = sl->kill_at - now;
		if (sl->term_at > 0 && !sl->reaped &&
		    sl->term_at - now < deadline_cap)
			deadline_cap = sl->term_at - now;
		if (sl->close_by > 0 && sl->close_by - now < deadline_cap)
			deadline_cap = sl->close_by - now;
		for (w = 0; w < 2; w++) {
			if (sl->fds[w] < 0)
				continue;
			ex->pfds[nfds].fd = sl->fds[w];
			ex->pfds[nfds].events = POLLIN;
			ex->pfd_slot[nfds++] = s * 2 + w;
		}
	}
	orphan_kill = tf_orphans_next(&ex->orphans);
	if (orphan_kill > 0 && orphan_kill - now < deadline_cap)
		deadline_cap = orphan_kill - now;
	if (ex->sweep_due &&
	    ex->last_sweep + ORPHAN_SWEEP_EVERY - now < deadline_cap)
		deadline_cap = ex->last_sweep + ORPHAN_SWEEP_EVERY - now;
	if (tf__signals_sigchld(0))
		deadline_cap = 0;
	if (deadline_cap < 0)
		deadline_cap = 0;
	ts.tv_sec = (time_t)deadline_cap;
	ts.tv_nsec = (long)((deadline_cap - (double)ts.tv_sec) * 1e9);
	ret = ppoll(ex->pfds, (nfds_t)nfds, &ts, NULL);
	if (ret < 0 && errno != EINTR)
		return -errno;
	if (ret > 0) {
		int i;
		for (i = 0; i < nfds; i++) {
			if (!ex->pfds[i].revents || ex->pfd_slot[i] == -2)
				continue;
			if (ex->pfd_slot[i] < 0) {
				tf_signals_drain();
				continue;
			}
			drain_fd(ex, &ex->slots[ex->pfd_slot[i] / 2],
				 ex->pfd_slot[i] % 2);
		}
	}
	now = tf_now();
	if (tf__signals_sigchld(1)) {
		reap(ex, now);
		/* A child died: a task's shell, or an adopted process whose
		 * end may have left more of them to us. */
		sweep = 1;
	}
	/* Both pipes closed usually means the shell has exited: reaping it
	 * now saves a wake-up for its SIGCHLD. */
	for (s = 0; s < ex->nslots; s++) {
		struct tf_exec_slot *sl = &ex->slots[s];

		if (sl->busy && !sl->reaped && sl->fds[0] < 0 &&
		    sl->fds[1] < 0 && reap_slot(ex, sl, now))
			sweep = 1;
	}
	/* Before the pipes are waited for: an escaped process of an ended
	 * task may hold them open. */
	ex->sweep_due |= sweep;
	if ((ex->sweep_due && now - ex->last_sweep >= ORPHAN_SWEEP_EVERY) ||
	    (orphan_kill > 0 && now >= orphan_kill)) {
		orphans_ops(ex, &ops);
		tf_orphans_sweep(&ex->orphans, &ops, now, ex->grace, 0);
		ex->sweep_due = 0;
		ex->last_sweep = now;
	}
	for (s = 0; s < ex->nslots; s++) {
		struct tf_exec_slot *sl = &ex->slots[s];

		if (!sl->busy)
			continue;
		if (!sl->reaped && sl->term_at > 0 && now >= sl->term_at) {
			sl->term_at = 0;
			tf_exec_kill(ex, s, sl->term_reason, ex->grace);
		}
		if (!sl->reaped && sl->kill_at > 0 && now >= sl->kill_at) {
			kill(-sl->pid, SIGKILL);
			sl->kill_at = 0;
		}
		if (!sl->reaped)
			continue;
		if (sl->fds[0] >= 0 || sl->fds[1] >= 0) {
			/* Exited: take what is buffered, then wait a little
			 * for the pipes to close. */
			drain_fd(ex, sl, 0);
			drain_fd(ex, sl, 1);
			if (now < sl->close_by &&
			    (sl->fds[0] >= 0 || sl->fds[1] >= 0))
				continue;
		}
		finish(ex, sl, done, ctx);
		finished++;
	}
	return finished;
}

void tf_exec_kill(struct tf_exec *ex, int slot, int reason, double grace)
{
	double now = tf_now();
	int s;

	for (s = 0; s < ex->nslots; s++) {
		struct tf_exec_slot *sl = &ex->slots[s];

		if ((slot >= 0 && s != slot) || !sl->busy || sl->reaped)
			continue;
		if (!sl->kill_reason)
			sl->kill_reason = reason;
		sl->term_at = 0; /* stopped now, not later */
		if (grace <= 0) {
			kill(-sl->pid, SIGKILL);
			sl->kill_at = 0;
		} else {
			/* CONT after TERM, as timeout(1) does: a stopped
			 * task acts on its TERM only once continued, and
			 * would otherwise wait for the KILL. */
			kill(-sl->pid, SIGTERM);
			kill(-sl->pid, SIGCONT);
			sl->kill_at = now + grace;
		}
	}
}

void tf_exec_stop(struct tf_exec *ex, int slot, int reason, double after)
{
	double when = tf_now() + after;
	int s;

	if (after < 0)
		return;
	for (s = 0; s < ex->nslots; s++) {
		struct tf_exec_slot *sl = &ex->slots[s];

		if ((slot >= 0 && s != slot) || !sl->busy || sl->reaped ||
		    sl->kill_reason)
			continue;
		if (!sl->term_at || when < sl->term_at) {
			sl->term_at = when;
			sl->term_reason = reason;
		}
	}
}
