/*
 * A rank's resources and who holds them: its slots (a task may take
 * several: #TASKFARM slots N), its GPUs (--gpus-per-slot, #TASKFARM gpus
 * K) and, with --bind, each slot's own cores of the rank's allowed CPU
 * set. The executor (exec.c) asks it what a task gets. No MPI.
 */
#ifndef TF_RES_H
#define TF_RES_H

#include <sched.h>
#include <stdint.h>

#include "farm/task.h"
#include "core/util.h"

struct tf_res {
	int nslots;
	int nfree;          /* slots no task holds */
	int *owner;         /* per slot: 1 + the slot whose task holds it; 0 */
	/* GPUs: the rank's ids (NULL: none bound, tasks see what the
	 * process sees), each slot's own per_slot of them, their owners. */
	char **gpu;
	int ngpus, nfree_gpus, per_slot;
	int *gpu_owner;     /* per GPU: 1 + the holding task's slot; 0 */
	/* --bind: each slot's CPUs (NULL: not bound). */
	cpu_set_t *cpus;
	int ncpus;          /* CPUs of the rank's allowed set */
};

void tf_res_init(struct tf_res *r, int nslots);
void tf_res_release(struct tf_res *r);

/**
 * Binds the GPUs of list (comma-separated ids): slot s owns ids
 * [s * per_slot, s * per_slot + per_slot) (per_slot may be 0: the ids
 * are only for tasks that ask for GPUs). Returns 0, or TF_EINVAL with
 * nothing changed if the list is too short for every slot.
 */
int tf_res_set_gpus(struct tf_res *r, const char *list, int per_slot);

/**
 * Cuts mask (the rank's allowed CPUs, from sched_getaffinity()) among
 * the slots: with c CPUs and S slots, slot s gets CPUs [s*c/S,
 * (s+1)*c/S) in the set's order, or the (s mod c)-th alone when c < S.
 * Returns 0, or TF_EINVAL if mask is empty.
 */
int tf_res_set_bind(struct tf_res *r, const cpu_set_t *mask);

/** The GPUs task t takes: its #TASKFARM gpus, else slots x per_slot. */
int tf_res_task_gpus(const struct tf_res *r, const struct tf_task *t);

/** Whether t could run on this rank at all, and whether it can now. */
int tf_res_could_fit(const struct tf_res *r, const struct tf_task *t);
int tf_res_fits(const struct tf_res *r, const struct tf_task *t);

/**
 * Gives t the lowest free slot (returned, 0-based) and as many more as
 * it takes, and its GPUs: its slots' own first, then the lowest free.
 * gpus gets the ids, comma-separated (emptied first), and mask, with
 * --bind, the union of its slots' CPUs. -1 if it does not fit now.
 */
int tf_res_take(struct tf_res *r, const struct tf_task *t,
		struct tf_strbuf *gpus, cpu_set_t *mask);

/** Frees what the task in slot (as tf_res_take() returned) holds. */
void tf_res_put(struct tf_res *r, int slot);

#endif
