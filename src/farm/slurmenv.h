/*
 * What the batch system grants one rank: how many tasks it should run at
 * once when --slots is not given (from Slurm's environment), and which
 * GPUs it holds and how they are shared out among its slots. The
 * decisions are pure functions of strings, so they are tested without
 * Slurm, GPUs or MPI; tf_slurm_env_read() is the only part that looks at
 * the real environment.
 */
#ifndef TF_SLURMENV_H
#define TF_SLURMENV_H

#include <stddef.h>

#include "core/util.h"

/** The environment variables that decide a rank's default slots; NULL
 * when unset. */
struct tf_slurm_env {
	const char *cpus_per_task;   /* SLURM_CPUS_PER_TASK (-c) */
	const char *cpus_on_node;    /* SLURM_CPUS_ON_NODE */
	const char *tasks_per_node;  /* SLURM_STEP_TASKS_PER_NODE, else
				      * SLURM_TASKS_PER_NODE: "2(x3),1" */
	const char *ntasks_per_node; /* SLURM_NTASKS_PER_NODE */
	const char *nodeid;          /* SLURM_NODEID: index into the above */
	const char *local_ranks;     /* ranks on this node as the MPI launcher
				      * counts them: OMPI_COMM_WORLD_LOCAL_SIZE,
				      * else MPI_LOCALNRANKS (MPICH) */
	int single_rank;             /* the run has one rank: it is alone on
				      * its node whatever Slurm's counts say */
};

/** Fills e from the process environment (single_rank is left 0). */
void tf_slurm_env_read(struct tf_slurm_env *e);

/**
 * The default number of slots Slurm implies for this rank: the CPUs per
 * task when -c was given; else, when this rank is the only one on its
 * node, the CPUs Slurm gave the job on the node; else 0 (no opinion: use
 * the built-in default). The launcher's count of local ranks, when
 * known, wins over Slurm's, since a launcher such as mpirun inside an
 * allocation places ranks itself. A value that is not a whole number
 * from 1 to 100000 is skipped, and one line saying so is appended to
 * warn (which may be NULL).
 */
int tf_slurm_default_slots(const struct tf_slurm_env *e, struct tf_strbuf *warn);

/**
 * The number of tasks on node nodeid in a Slurm task-count list such as
 * "2(x3),1" (nodes 0-2 run two tasks, node 3 one). With nodeid < 0 (not
 * known), the count if every node has the same one. Returns the count,
 * 0 if the list does not say (nodeid past its end, or uneven with no
 * nodeid), or -1 if it is malformed.
 */
long tf_slurm_tasks_on_node(const char *list, long nodeid);

/**
 * The GPU list granted to this rank: CUDA_VISIBLE_DEVICES, else
 * SLURM_STEP_GPUS, else SLURM_JOB_GPUS, else GPU_DEVICE_ORDINAL; the
 * first that is set counts, even if empty. *source is set to the
 * variable's name. Returns the value, or NULL when none is set.
 */
const char *tf_gpus_granted(const char **source);

/** The number of ids in a comma-separated device list ("" has none;
 * empty items between commas are not counted). */
int tf_gpus_count(const char *list);

/**
 * Appends to out the ids of slot (0-based) when each slot takes per_slot
 * of the list: ids [slot * per_slot, slot * per_slot + per_slot), joined
 * by commas. Returns 0, or TF_EINVAL (nothing appended) if the list is
 * too short for that slot or per_slot < 1.
 */
int tf_gpus_slice(const char *list, int slot, int per_slot,
		  struct tf_strbuf *out);

/**
 * How many slots fit ngpus devices at per_slot each. When slots fit,
 * returns slots. When they do not and the slot count was a default
 * (explicit is 0), returns ngpus / per_slot (the caller warns), or 0 if
 * not even one slot fits; when it was explicit, returns 0. The caller
 * treats 0 as a usage error.
 */
int tf_gpus_fit(int slots, int explicit_slots, int ngpus, int per_slot);

#endif
