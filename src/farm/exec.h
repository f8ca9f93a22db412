/*
 * Process execution: run tasks as "/bin/sh -c COMMAND" children, each in
 * its own process group with stdin from /dev/null, capture stdout and
 * stderr with poll() into per-task buffers (spilled to disk past a
 * threshold), reap them with wait4() for their resource use, and kill
 * whole groups on request (TERM, a grace period, then KILL). No MPI here:
 * children never touch MPI.
 */
#ifndef TF_EXEC_H
#define TF_EXEC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "farm/guard.h"
#include "farm/orphans.h"
#include "farm/res.h"
#include "farm/task.h"

struct tf_exec_slot {
	int busy;
	pid_t pid;
	struct tf_task task;
	int fds[2];          /* read ends of stdout, stderr; -1 once closed */
	int reaped;
	int wstatus;
	double start_mono;
	double end_mono;
	double term_at;      /* when to stop it (time limit, drain); 0 if
			      * not planned */
	int term_reason;     /* the status to report if stopped then */
	double kill_at;      /* when to send KILL after TERM; 0 if none */
	double close_by;     /* give up on open pipes after exit; 0 if none */
	int kill_reason;     /* 0, TF_STATUS_TIMEOUT or TF_STATUS_INTERRUPTED */
	uint64_t lines_taken[2]; /* stdout, stderr bytes on_lines took */
	struct tf_result result;
	char **envp;
	char env_id[48], env_attempt[40], env_slot[40];
	char env_nslots[40], env_omp[40];
	char *env_gpus[2];   /* CUDA_ and HIP_VISIBLE_DEVICES=...; NULL
			      * unless tf_exec_bind_gpus() */
	cpu_set_t cpus;      /* --bind: the task's CPUs */
};

struct tf_exec {
	int nslots;
	int nbusy;              /* tasks running (each takes one or more
				 * slots: res.nfree says how many are free) */
	struct tf_res res;      /* slots, GPUs and CPUs, and their holders */
	int bind;               /* --bind: tasks pinned to their slots' CPUs */
	int has_omp;            /* OMP_NUM_THREADS is set: left as it is */
	struct tf_exec_slot *slots;
	int rank;
	uint64_t ntasks;        /* for TASKFARM_NTASKS; 0 if unknown */
	size_t spill_threshold; /* bytes of output held in memory per stream */
	char **base_env;        /* environ without TASKFARM_* */
	size_t nbase;
	char env_rank[40], env_host[300], env_ntasks[48];
	int devnull;            /* /dev/null, every task's standard input */
	double grace;           /* seconds from TERM to KILL when stopping */
	struct pollfd *pfds;
	int *pfd_slot;
	int wake_fd;            /* also polled if >= 0 (tf_exec_set_wake_fd) */
	struct tf_guard *guard; /* told of every task's group; may be NULL */
	struct tf_orphans orphans; /* what tasks left behind, adopted */
	int sweep_due;             /* a child ended since the last sweep */
	double last_sweep;
	/* --line-buffer: told of each read from a running task's pipe
	 * (which: 0 stdout, 1 stderr) that ended a line, once it was
	 * appended to the slot's result: bytes [from, end) of that output
	 * are whole lines not taken yet. Returns how far it took them (from:
	 * none, for now). What was taken is cut off the front of the
	 * task's result, and counted in its ahead_out/ahead_err. NULL:
	 * nobody. */
	uint64_t (*on_lines)(void *ctx, int slot, int which, uint64_t from,
			     uint64_t end);
	void *on_lines_ctx;
};

/**
 * Whether the environment entry e ("NAME=value") is one of an MPI
 * launcher's per-rank variables (OMPI_COMM_WORLD_*, PMIX_* but not
 * PMIX_MCA_*, PMI_*, ...), which tasks do not inherit.
 */
int tf__exec_launcher_var(const char *e);

/** Called for each finished attempt. The callback owns *r afterwards
 * (release it with tf_result_release()). */
typedef void (*tf_exec_done_fn)(void *ctx, struct tf_result *r);

/**
 * Prepares ex for nslots concurrent tasks. host and rank go into every
 * task's environment, which is this process's without TASKFARM_* and
 * without an MPI launcher's per-rank variables (tf__exec_launcher_var()).
 * Installs the process's SIGCHLD handling (see tf_signals_install()).
 * With nslots > 0, makes the process a child subreaper
 * (tf_orphans_init()) until tf_exec_release(): a task's descendants that
 * escape its process group are stopped when the task ends. Returns 0 or
 * -errno.
 */
int tf_exec_init(struct tf_exec *ex, int nslots, int rank, const char *host,
		 uint64_t ntasks);
/** Kills every running group at once, reaps them, stops what tasks
 * left behind (TERM and CONT, KILL after the grace period), frees
 * everything. */
void tf_exec_release(struct tf_exec *ex);

/**
 * Binds GPUs to slots: slot s (0-based) owns ids [s * per_slot,
 * s * per_slot + per_slot) of the comma-separated list, and each task
 * runs with CUDA_VISIBLE_DEVICES and HIP_VISIBLE_DEVICES set to the ids
 * it took (tf_res_take(): its slots' own, or those its #TASKFARM gpus
 * asks for; whatever values the process had are not passed on). per_slot
 * 0 binds the list for #TASKFARM gpus alone. Returns 0, or TF_EINVAL
 * with nothing changed if the list is too short for every slot.
 */
int tf_exec_bind_gpus(struct tf_exec *ex, const char *list, int per_slot);

/**
 * --bind: pins each task to its slots' own CPUs of the process's allowed
 * set (sched_getaffinity(), which a batch system's cgroup or cpuset
 * also narrows). Returns 0 or a negative code.
 */
int tf_exec_bind_cpus(struct tf_exec *ex);

/** Whether task can start now (enough free slots and GPUs). */
static inline int tf_exec_fits(const struct tf_exec *ex,
			       const struct tf_task *task)
{
	return tf_res_fits(&ex->res, task);
}

/** Tells guard (not owned; NULL for none) of every task's process group
 * from now on, so that it can stop them if this process dies. */
void tf_exec_set_guard(struct tf_exec *ex, struct tf_guard *guard);

/** Sets the total number of tasks shown as TASKFARM_NTASKS. */
void tf_exec_set_ntasks(struct tf_exec *ex, uint64_t ntasks);

/** Sets the seconds between TERM and KILL for planned stops (time
 * limits, tf_exec_stop()); 5 until set. */
void tf_exec_set_grace(struct tf_exec *ex, double grace);

/**
 * Starts task in a free slot, taking ownership of task->cmd (task is
 * cleared). A task->timeout > 0 plans a stop with TF_STATUS_TIMEOUT that
 * many seconds after the start. If the process cannot be started, the attempt is finished
 * at once with TF_STATUS_SPAWN_FAILED and handed to the next
 * tf_exec_wait(). A task takes tf_task_slots() slots and its GPUs
 * (tf_res_take()); it sees TASKFARM_NSLOTS, and OMP_NUM_THREADS unless
 * the process has one. Returns its first slot's index, or TF_EINVAL if
 * what it needs is not free (nothing is taken then).
 */
int tf_exec_start(struct tf_exec *ex, struct tf_task *task);

/**
 * Waits up to timeout seconds (0: just look) for output, exits and
 * signals, and calls done() for each attempt that finished. Returns the
 * number finished, or -errno if poll() failed.
 */
int tf_exec_wait(struct tf_exec *ex, double timeout, tf_exec_done_fn done,
		 void *ctx);

/**
 * Makes tf_exec_wait() end also when fd polls readable (the caller reads
 * it; nothing here does), until set again; -1 (the default) for none.
 * Only for a descriptor that stays readable no longer than the caller
 * leaves it unread.
 */
void tf_exec_set_wake_fd(struct tf_exec *ex, int fd);

/**
 * Stops the task in slot (or every running task with slot < 0): TERM and
 * then CONT (so that a stopped task acts on the TERM) to its process
 * group now, KILL after grace seconds (at once if grace is 0). reason (TF_STATUS_TIMEOUT or TF_STATUS_INTERRUPTED) is reported as
 * the attempt's status.
 */
void tf_exec_kill(struct tf_exec *ex, int slot, int reason, double grace);

/**
 * Plans to stop the task in slot (or every running task with slot < 0)
 * after seconds from now, as tf_exec_kill() with the grace period of
 * tf_exec_set_grace(); an earlier planned stop stays. A negative after
 * plans nothing.
 */
void tf_exec_stop(struct tf_exec *ex, int slot, int reason, double after);

/* Between exec.c and execenv.c: whether an environment entry is not
 * passed on (TASKFARM_*, launcher variables); a task's GPU variables
 * from the ids it took; its whole environment into sl->envp. */
int tf__exec_skip_env(const char *e);
void tf__exec_set_gpu_env(struct tf_exec_slot *sl,
			  const struct tf_strbuf *ids);
void tf__exec_build_env(struct tf_exec *ex, struct tf_exec_slot *sl,
			int slot);

/*
 * Process-wide signal handling. SIGCHLD, SIGINT, SIGTERM, SIGUSR1 and
 * SIGUSR2 are caught: the handler counts the signal and writes a byte to
 * a self-pipe that tf_exec_wait() polls, so a wait ends at once. SIGPIPE
 * is ignored (children get it back at its default).
 */
int tf_signals_install(void);
/**
 * Whether a second stop signal came a second or more after the first: a
 * user asking to kill at once. Copies of one signal that arrive together
 * (Slurm's scancel --full reaches a rank both directly and through srun)
 * count as one.
 */
int tf_signals_escalated(void);
/** Count of SIGINT/SIGTERM/SIGUSR1/SIGUSR2 received, and the last one. */
int tf_signals_stop_count(void);
int tf_signals_last(void);
/** Empties the self-pipe. */
void tf_signals_drain(void);
/** The self-pipe's read end, for tf_exec_wait()'s poll (signals.c). */
int tf__signals_fd(void);
/** Whether a SIGCHLD came since it was last taken; take: clear it. */
int tf__signals_sigchld(int take);

#endif
