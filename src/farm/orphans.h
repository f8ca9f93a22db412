/*
 * Escaped processes: a process that runs tasks makes itself a child
 * subreaper (PR_SET_CHILD_SUBREAPER), so that a task's descendant that
 * left the task's process group (setsid, setpgid) and lost its parent is
 * adopted by this process instead of init. Each sweep reaps the adopted
 * ones that have exited and stops those whose task has ended: TERM and
 * CONT to the process and its group, KILL after a grace period. A task
 * is recognised in its descendants by the TASKFARM_TASK_ID and
 * TASKFARM_ATTEMPT they inherited; an adopted process without them is
 * stopped only by tf_orphans_release(). No MPI, no output.
 */
#ifndef TF_ORPHANS_H
#define TF_ORPHANS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/** What the caller knows of its processes. */
struct tf_orphans_ops {
	/** Whether pid is one of the caller's own children (a task's
	 * shell): it is never touched. */
	int (*is_task)(void *ctx, pid_t pid);
	/** Whether attempt of task id still runs here. */
	int (*running)(void *ctx, uint64_t id, uint32_t attempt);
	void *ctx;
};

struct tf_orphan {
	pid_t pid;
	pid_t pgid;     /* its group, signalled with it (0: the process only) */
	double kill_at; /* when to send KILL; 0 once sent */
};

struct tf_orphans {
	int subreaper;      /* 1: made a subreaper by init, -1: one already,
			     * 0: not one (nothing is adopted) */
	pid_t self;
	pid_t pgrp;         /* this process's own group: never signalled */
	pid_t *before;      /* children that existed at init (a guardian,
			     * a spawn helper): never touched */
	size_t nbefore;
	struct tf_orphan *stopping; /* adopted processes sent TERM */
	size_t nstopping, alloc;
	size_t nreaped;     /* adopted processes reaped so far */
};

/**
 * Makes this process a child subreaper and notes its children so far.
 * Returns 0, or -errno if the kernel refused (o then adopts nothing, and
 * every other call is harmless).
 */
int tf_orphans_init(struct tf_orphans *o);

/**
 * Looks at this process's children: reaps every adopted one that has
 * exited, and stops (TERM and CONT, KILL grace seconds later; KILL at
 * once if grace <= 0) every adopted one whose task ops says has ended,
 * or every adopted one if all is set. Sends the KILLs that are due at
 * now (tf_now()). Returns the number of processes it began to stop.
 */
int tf_orphans_sweep(struct tf_orphans *o, const struct tf_orphans_ops *ops,
		     double now, double grace, int all);

/** When the next KILL is due (tf_now() time), or 0 if none is. */
double tf_orphans_next(const struct tf_orphans *o);

/**
 * Stops every adopted process that is left (TERM and CONT, KILL after at
 * most grace seconds), reaps them, gives up being a subreaper and frees
 * o. Waits at most grace plus one second.
 */
void tf_orphans_release(struct tf_orphans *o,
			const struct tf_orphans_ops *ops, double grace);

#endif
