/*
 * One farm run: the entry point that sets up communication, settles each
 * rank's slots, reads and validates the task source and the journal on
 * rank 0, and runs the master or worker loop (master.h, worker.h). The
 * taskfarm program is one client of this.
 */
#ifndef TF_RUN_H
#define TF_RUN_H

#include <stddef.h>

#include "farm/opts.h"
#include "farm/exit.h"

/**
 * Runs the farm on every rank: the master on rank 0, workers elsewhere.
 * Returns an exit code (enum tf_exit): the master's verdict on rank 0,
 * 0 on workers unless they fail themselves.
 */
int tf_farm_run(const struct tf_farm_opts *o, int *argc, char ***argv);

/** What tf__resolve_slots() decides for one rank. */
struct tf_rank_slots {
	int slots;        /* tasks at once on this rank (a worker's) */
	int master_slots; /* on rank 0: tasks it runs beside its workers */
	int reduced;      /* slots were cut to fit the GPUs (warn) */
	int gpus;         /* GPUs in the granted list */
};

/**
 * Decides a rank's slots: --slots, else Slurm's default (slurm_slots, 0
 * if none), else 1, or the cores when the run has a single rank; the
 * master's own slots: --master-slots, else all its slots when alone,
 * else its slots when it has more than one. With --gpus-per-slot, the
 * slots are then cut to fit gpu_list (NULL: none granted) when they were
 * a default. Returns 0, or TF_EXIT_USAGE with a message in err.
 */
int tf__resolve_slots(const struct tf_farm_opts *o, int rank, int nranks,
		      int slurm_slots, const char *gpu_list,
		      struct tf_rank_slots *rs, char *err, size_t errlen);

#endif
