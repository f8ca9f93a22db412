/*
 * What a task's process gets besides its command (exec.h): its
 * environment (this process's, without TASKFARM_* and an MPI launcher's
 * per-rank variables, with the task's own TASKFARM_* and GPU lists) and,
 * with --bind, its CPUs.
 */
#include "config.h"

#include "farm/exec.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "farm/slurmenv.h"
#include "taskfarm.h"
#include "core/util.h"

/* Names, or prefixes ending in '_', of the variables that carry an MPI
 * launcher's identity of this rank: which job, which rank, how to reach
 * the launcher's daemon. A task that inherits them and calls MPI_Init
 * (an MPI program, a nested taskfarm) takes itself for this rank and
 * fails; without them it starts as an MPI singleton. Settings a user may
 * rely on (OMPI_MCA_* other than those below, PMIX_MCA_*, MPIR_CVAR_*,
 * HYDRA_*, OMPI_ALLOW_RUN_AS_ROOT) are kept. Seen under Open MPI 4.1's
 * mpirun (orterun, PMIx 4) and MPICH 4.0's Hydra; the Slurm ones are
 * what srun sets for each task. */
static const char *const launcher_vars[] = {
	/* Open MPI: the rank and its job. */
	"OMPI_COMM_WORLD_", "OMPI_APP_CTX_NUM_PROCS", "OMPI_ARGV",
	"OMPI_COMMAND", "OMPI_FILE_LOCATION", "OMPI_FIRST_RANKS",
	"OMPI_NUM_APP_CTX", "OMPI_UNIVERSE_SIZE",
	/* Open MPI: MCA values mpirun sets for its own job (the runtime's
	 * daemon, job id, vpid, session directory), not a user's. */
	"OMPI_MCA_ess", "OMPI_MCA_ess_base_", "OMPI_MCA_orte_",
	"OMPI_MCA_pmix", "OMPI_MCA_initial_wdir", "OMPI_MCA_mpi_oversubscribe",
	"OMPI_MCA_shmem_RUNTIME_QUERY_hint",
	/* PMIx (mpirun, srun --mpi=pmix), PMI-1/PMI-2 (Hydra, srun
	 * --mpi=pmi2), Hydra's control channel and local ranks. */
	"PMIX_", "PMI_", "HYDI_", "MPI_LOCALNRANKS", "MPI_LOCALRANKID",
	/* Slurm: this task of the step. */
	"SLURM_PROCID", "SLURM_LOCALID", "SLURM_TASK_PID",
};

int tf__exec_launcher_var(const char *e)
{
	size_t i, len;

	if (strncmp(e, "PMIX_MCA_", 9) == 0)
		return 0;
	for (i = 0; i < sizeof(launcher_vars) / sizeof(launcher_vars[0]); i++) {
		const char *v = launcher_vars[i];

		len = strlen(v);
		if (strncmp(e, v, len) != 0)
			continue;
		/* A prefix matches any name; a name only itself. */
		if (v[len - 1] == '_' || e[len] == '=')
			return 1;
	}
	return 0;
}

int tf__exec_skip_env(const char *e)
{
	return strncmp(e, "TASKFARM_", 9) == 0 || tf__exec_launcher_var(e);
}

int tf_exec_bind_gpus(struct tf_exec *ex, const char *list, int per_slot)
{
	size_t i, n = 0;

	if (tf_res_set_gpus(&ex->res, list, per_slot) < 0)
		return TF_EINVAL;
	/* The task's own values replace the process's; with per_slot 0
	 * only a task that asks for GPUs gets its own (build_env()). */
	if (!per_slot)
		return 0;
	for (i = 0; i < ex->nbase; i++)
		if (strncmp(ex->base_env[i], "CUDA_VISIBLE_DEVICES=", 21) &&
		    strncmp(ex->base_env[i], "HIP_VISIBLE_DEVICES=", 20))
			ex->base_env[n++] = ex->base_env[i];
	ex->nbase = n;
	ex->base_env[n] = NULL;
	return 0;
}

int tf_exec_bind_cpus(struct tf_exec *ex)
{
	cpu_set_t mask;

	if (sched_getaffinity(0, sizeof(mask), &mask) < 0)
		return -errno;
	if (tf_res_set_bind(&ex->res, &mask) < 0)
		return TF_EINVAL;
	ex->bind = 1;
	return 0;
}

/* The task's GPUs, as its two variables (ids: what tf_res_take() gave). */
void tf__exec_set_gpu_env(struct tf_exec_slot *sl, const struct tf_strbuf *ids)
{
	struct tf_strbuf var = TF_STRBUF_INIT;
	const char *v = ids->len ? ids->buf : "";

	tf_strbuf_addf(&var, "CUDA_VISIBLE_DEVICES=%s", v);
	free(sl->env_gpus[0]);
	sl->env_gpus[0] = tf_strbuf_detach(&var, NULL);
	tf_strbuf_addf(&var, "HIP_VISIBLE_DEVICES=%s", v);
	free(sl->env_gpus[1]);
	sl->env_gpus[1] = tf_strbuf_detach(&var, NULL);
}

void tf_exec_set_ntasks(struct tf_exec *ex, uint64_t ntasks)
{
	ex->ntasks = ntasks;
	if (ntasks)
		snprintf(ex->env_ntasks, sizeof(ex->env_ntasks),
			 "TASKFARM_NTASKS=%llu", (unsigned long long)ntasks);
	else
		ex->env_ntasks[0] = '\0';
}

void tf__exec_build_env(struct tf_exec *ex, struct tf_exec_slot *sl, int slot)
{
	size_t n = ex->nbase, i;

	if (sl->env_gpus[0] && !ex->res.per_slot) {
		/* #TASKFARM gpus without --gpus-per-slot: the task's GPUs
		 * replace what the others inherit. */
		for (i = n = 0; i < ex->nbase; i++)
			if (strncmp(ex->base_env[i], "CUDA_VISIBLE_DEVICES=",
				    21) &&
			    strncmp(ex->base_env[i], "HIP_VISIBLE_DEVICES=", 20))
				sl->envp[n++] = ex->base_env[i];
	} else {
		memcpy(sl->envp, ex->base_env, n * sizeof(char *));
	}
	snprintf(sl->env_id, sizeof(sl->env_id), "TASKFARM_TASK_ID=%llu",
		 (unsigned long long)sl->task.id);
	snprintf(sl->env_attempt, sizeof(sl->env_attempt),
		 "TASKFARM_ATTEMPT=%u", sl->task.attempt);
	snprintf(sl->env_slot, sizeof(sl->env_slot), "TASKFARM_SLOT=%d",
		 slot + 1);
	snprintf(sl->env_nslots, sizeof(sl->env_nslots),
		 "TASKFARM_NSLOTS=%u", (unsigned)tf_task_slots(&sl->task));
	snprintf(sl->env_omp, sizeof(sl->env_omp), "OMP_NUM_THREADS=%u",
		 (unsigned)tf_task_slots(&sl->task));
	sl->envp[n++] = sl->env_id;
	sl->envp[n++] = sl->env_nslots;
	if (!ex->has_omp)
		sl->envp[n++] = sl->env_omp;
	sl->envp[n++] = sl->env_attempt;
	sl->envp[n++] = sl->env_slot;
	sl->envp[n++] = ex->env_rank;
	sl->envp[n++] = ex->env_host;
	if (ex->env_ntasks[0])
		sl->envp[n++] = ex->env_ntasks;
	if (sl->env_gpus[0]) {
		sl->envp[n++] = sl->env_gpus[0];
		sl->envp[n++] = sl->env_gpus[1];
	}
	sl->envp[n] = NULL;
}
