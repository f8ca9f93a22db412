/*
 * The taskfarm program's exit codes (taskfarm(1), EXIT STATUS), which
 * tf_farm_run() returns. They belong to the program, not to the C API,
 * so they are not in the installed header.
 */
#ifndef TF_FARM_EXIT_H
#define TF_FARM_EXIT_H

enum tf_exit {
	TF_EXIT_OK = 0,          /* every task succeeded */
	TF_EXIT_FAILED = 1,      /* at least one task failed */
	TF_EXIT_USAGE = 2,       /* usage or input error; no task was started */
	TF_EXIT_INTERRUPTED = 3, /* stopped by a signal; unrun tasks remain */
	TF_EXIT_INTERNAL = 4     /* MPI, I/O or other internal failure */
};

/* tf_die() (core/util.h) exits with the internal-failure code. */
#include "core/util.h"
_Static_assert(TF_DIE_EXIT == TF_EXIT_INTERNAL,
	       "core/util.h's TF_DIE_EXIT must be TF_EXIT_INTERNAL");

#endif
