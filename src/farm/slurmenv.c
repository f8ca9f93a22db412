/*
 * Slurm's view of a rank, read from the environment variables it sets
 * (srun(1), "OUTPUT ENVIRONMENT VARIABLES"), and the GPU list a rank was
 * granted, shared out among its slots. No MPI; nothing here but
 * tf_slurm_env_read() and tf_gpus_granted() reads the environment.
 */
#include "config.h"

#include "farm/slurmenv.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "taskfarm.h"

#define SLOTS_MAX 100000

void tf_slurm_env_read(struct tf_slurm_env *e)
{
	memset(e, 0, sizeof(*e));
	e->cpus_per_task = getenv("SLURM_CPUS_PER_TASK");
	e->cpus_on_node = getenv("SLURM_CPUS_ON_NODE");
	/* A step's own layout first: srun inside an allocation may run
	 * fewer tasks per node than the job has. */
	e->tasks_per_node = getenv("SLURM_STEP_TASKS_PER_NODE");
	if (!e->tasks_per_node)
		e->tasks_per_node = getenv("SLURM_TASKS_PER_NODE");
	e->ntasks_per_node = getenv("SLURM_NTASKS_PER_NODE");
	e->nodeid = getenv("SLURM_NODEID");
	e->local_ranks = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
	if (!e->local_ranks)
		e->local_ranks = getenv("MPI_LOCALNRANKS");
}

/* A count as Slurm writes them: digits only, 1 to SLOTS_MAX. */
static long parse_count(const char *s)
{
	long v;

	if (!s || !isdigit((unsigned char)*s) ||
	    tf_parse_long(s, 1, SLOTS_MAX, &v) < 0)
		return -1;
	return v;
}

/* Parses digits at *p into *v (at most SLOTS_MAX); returns 0 or -1. */
static int take_number(const char **p, long *v)
{
	const char *s = *p;

	if (!isdigit((unsigned char)*s))
		return -1;
	*v = 0;
	while (isdigit((unsigned char)*s)) {
		*v = *v * 10 + (*s++ - '0');
		if (*v > 100000000)
			return -1;
	}
	*p = s;
	return 0;
}

long tf_slurm_tasks_on_node(const char *list, long nodeid)
{
	const char *p = list;
	long node = 0, uniform = -1, found = 0, count, reps;

	if (!p || !*p)
		return -1;
	/* The whole list is read, so that damage after the node's entry
	 * is not taken for an answer. */
	for (;;) {
		if (take_number(&p, &count) < 0)
			return -1;
		reps = 1;
		if (*p == '(') {
			p++;
			if (*p++ != 'x' || take_number(&p, &reps) < 0 ||
			    reps < 1 || *p++ != ')')
				return -1;
		}
		if (nodeid >= node && nodeid < node + reps)
			found = count;
		if (uniform == -1)
			uniform = count;
		else if (uniform != count)
			uniform = 0;
		node += reps;
		if (*p == '\0')
			break;
		if (*p++ != ',')
			return -1;
	}
	if (nodeid >= 0)
		return found;
	return uniform > 0 ? uniform : 0;
}

/* Whether this rank is the only one on its node: 1 yes, 0 no or not
 * known. */
static int alone_on_node(const struct tf_slurm_env *e, struct tf_strbuf *warn)
{
	long n, nodeid = -1;

	if (e->single_rank)
		return 1;
	if (e->local_ranks) {
		n = parse_count(e->local_ranks);
		if (n > 0)
			return n == 1;
	}
	if (e->tasks_per_node) {
		if (e->nodeid && tf_parse_long(e->nodeid, 0, 100000000,
					       &nodeid) < 0)
			nodeid = -1;
		n = tf_slurm_tasks_on_node(e->tasks_per_node, nodeid);
		if (n > 0)
			return n == 1;
		if (n < 0 && warn)
			tf_strbuf_addf(warn,
				       "ignoring the Slurm tasks per node "
				       "'%s': not a task count list\n",
				       e->tasks_per_node);
	}
	if (e->ntasks_per_node) {
		n = parse_count(e->ntasks_per_node);
		if (n > 0)
			return n == 1;
		if (warn)
			tf_strbuf_addf(warn,
				       "ignoring SLURM_NTASKS_PER_NODE='%s': "
				       "not a whole number from 1 to %d\n",
				       e->ntasks_per_node, SLOTS_MAX);
	}
	return 0;
}

int tf_slurm_default_slots(const struct tf_slurm_env *e, struct tf_strbuf *warn)
{
	long n;

	if (e->cpus_per_task) {
		n = parse_count(e->cpus_per_task);
		if (n > 0)
			return (int)n;
		if (warn)
			tf_strbuf_addf(warn,
				       "ignoring SLURM_CPUS_PER_TASK='%s': not "
				       "a whole number from 1 to %d\n",
				       e->cpus_per_task, SLOTS_MAX);
	}
	if (!e->cpus_on_node || !alone_on_node(e, warn))
		return 0;
	n = parse_count(e->cpus_on_node);
	if (n > 0)
		return (int)n;
	if (warn)
		tf_strbuf_addf(warn,
			       "ignoring SLURM_CPUS_ON_NODE='%s': not a whole "
			       "number from 1 to %d\n",
			       e->cpus_on_node, SLOTS_MAX);
	return 0;
}

const char *tf_gpus_granted(const char **source)
{
	static const char *const vars[] = { "CUDA_VISIBLE_DEVICES",
					    "SLURM_STEP_GPUS", "SLURM_JOB_GPUS",
					    "GPU_DEVICE_ORDINAL", NULL };
	int i;

	for (i = 0; vars[i]; i++) {
		const char *v = getenv(vars[i]);

		if (v) {
			*source = vars[i];
			return v;
		}
	}
	*source = NULL;
	return NULL;
}

/* Finds item index (0-based) of list; sets *start and *len. Empty items
 * are skipped. Returns 0 or -1 if there are not that many. */
static int item_at(const char *list, int index, const char **start,
		   size_t *len)
{
	const char *p = list;
	int k = 0;

	while (*p) {
		size_t n = strcspn(p, ",");

		if (n > 0) {
			if (k++ == index) {
				*start = p;
				*len = n;
				return 0;
			}
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return -1;
}

int tf_gpus_count(const char *list)
{
	const char *s;
	size_t len;
	int n = 0;

	while (list && item_at(list, n, &s, &len) == 0)
		n++;
	return n;
}

int tf_gpus_slice(const char *list, int slot, int per_slot,
		  struct tf_strbuf *out)
{
	const char *s = NULL;
	size_t len = 0;
	int i;

	if (!list || slot < 0 || per_slot < 1 ||
	    tf_gpus_count(list) < ((long)slot + 1) * per_slot)
		return TF_EINVAL;
	for (i = 0; i < per_slot; i++) {
		item_at(list, slot * per_slot + i, &s, &len);
		if (i)
			tf_strbuf_addch(out, ',');
		tf_strbuf_add(out, s, len);
	}
	return 0;
}

int tf_gpus_fit(int slots, int explicit_slots, int ngpus, int per_slot)
{
	if (per_slot < 1 || slots < 0 || ngpus < 0)
		return 0;
	if ((long)slots * per_slot <= ngpus)
		return slots;
	if (explicit_slots)
		return 0;
	return ngpus / per_slot;
}
