/*
 * The guardian: a small process forked at start-up, before MPI, that
 * outlives its rank for one purpose. The rank tells it, through a pipe,
 * each task's process group as it starts and ends; when the pipe closes
 * without the rank having ended its tasks (the rank was killed, even by
 * SIGKILL, or died), the guardian stops every group still listed: TERM
 * (and CONT, for stopped ones), then KILL after a grace period. So no
 * task outlives its farm, whatever the launcher does to the ranks. No MPI.
 */
#ifndef TF_GUARD_H
#define TF_GUARD_H

#include <sys/types.h>

struct tf_guard {
	int fd;    /* write end of the pipe; -1 when there is no guardian */
	pid_t pid; /* the guardian's pid; 0 when none */
};

/**
 * Forks the guardian. grace is the seconds between its TERM and its KILL
 * of the groups left behind. Call it while the process has one thread
 * and before MPI_Init (a fork after MPI_Init is not safe with every
 * transport). Returns 0, or -errno with g set to "no guardian" (a run
 * without one works, only without that protection).
 */
int tf_guard_start(struct tf_guard *g, double grace);

/**
 * Tells the guardian that process group pgid is a running task, or that
 * it has ended. A no-op without a guardian. Returns 0 or -errno (the
 * guardian has gone; later calls are no-ops).
 */
int tf_guard_add(struct tf_guard *g, pid_t pgid);
int tf_guard_remove(struct tf_guard *g, pid_t pgid);

/**
 * Ends the guardian in order: closes the pipe (every task must have been
 * removed, or its group is stopped) and reaps it, waiting at most a
 * second. g is "no guardian" afterwards.
 */
void tf_guard_release(struct tf_guard *g);

#endif
