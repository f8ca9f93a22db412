/*
 * The guardian: a small process forked at start-up, before MPI, that
 * outlives its rank for one purpose. The rank keeps each running task's
 * process group in a table of shared memory (a store per start and end,
 * no system call); the guardian waits on a pipe from the rank and does
 * nothing else. When the pipe closes without the rank having ended its
 * tasks (the rank was killed, even by SIGKILL, or died), the guardian
 * stops every group still in the table: TERM (and CONT, for stopped
 * ones), then KILL after a grace period. So no task outlives its farm,
 * whatever the launcher does to the ranks. No MPI.
 */
#ifndef TF_GUARD_H
#define TF_GUARD_H

#include <stdint.h>
#include <sys/types.h>

/** The most slots a guardian watches (a slot beyond is unguarded). */
#define TF_GUARD_SLOTS (1 << 20)

struct tf_guard {
	int fd;           /* write end of the pipe; -1 when there is no guardian */
	pid_t pid;        /* the guardian's pid; 0 when none */
	int32_t *table;   /* shared: [0] slots in use, [1 + s] slot s's group */
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
 * Records that slot's task runs in process group pgid, or that the slot
 * has no task (pgid 0). A no-op without a guardian or for a slot past
 * TF_GUARD_SLOTS.
 */
void tf_guard_set(struct tf_guard *g, int slot, pid_t pgid);

/**
 * Ends the guardian in order: closes the pipe (slots still set are
 * stopped) and unmaps the table; the guardian leaves at once, not waited
 * for (reaped now if it already has). g is "no guardian" afterwards.
 */
void tf_guard_release(struct tf_guard *g);

#endif
