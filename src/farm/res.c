/*
 * A rank's slots, GPUs and CPUs, and which task holds which (res.h).
 */
#include "config.h"

#include "farm/res.h"

#include <stdlib.h>
#include <string.h>

#include "farm/slurmenv.h"
#include "taskfarm.h"

void tf_res_init(struct tf_res *r, int nslots)
{
	memset(r, 0, sizeof(*r));
	r->nslots = r->nfree = nslots;
	r->owner = tf__xcalloc(nslots > 0 ? (size_t)nslots : 1, sizeof(int));
}

static void free_gpus(struct tf_res *r)
{
	int i;

	for (i = 0; i < r->ngpus; i++)
		free(r->gpu[i]);
	free(r->gpu);
	free(r->gpu_owner);
	r->gpu = NULL;
	r->gpu_owner = NULL;
	r->ngpus = r->nfree_gpus = r->per_slot = 0;
}

void tf_res_release(struct tf_res *r)
{
	free_gpus(r);
	free(r->owner);
	free(r->cpus);
	memset(r, 0, sizeof(*r));
}

int tf_res_set_gpus(struct tf_res *r, const char *list, int per_slot)
{
	int n = tf_gpus_count(list), i = 0;
	const char *p = list;

	if (per_slot < 0 || n < r->nslots * per_slot)
		return TF_EINVAL;
	free_gpus(r);
	r->gpu = tf__xcalloc((size_t)n + 1, sizeof(char *));
	r->gpu_owner = tf__xcalloc((size_t)n + 1, sizeof(int));
	while (*p && i < n) {
		size_t len = strcspn(p, ",");

		if (len)
			r->gpu[i++] = tf__xstrndup(p, len);
		p += len;
		if (*p == ',')
			p++;
	}
	r->ngpus = r->nfree_gpus = i;
	r->per_slot = per_slot;
	return 0;
}

int tf_res_set_bind(struct tf_res *r, const cpu_set_t *mask)
{
	int cpu[CPU_SETSIZE], c = 0, i, s;

	for (i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, mask))
			cpu[c++] = i;
	if (c == 0)
		return TF_EINVAL;
	free(r->cpus);
	r->cpus = tf__xcalloc(r->nslots > 0 ? (size_t)r->nslots : 1,
			      sizeof(cpu_set_t));
	r->ncpus = c;
	for (s = 0; s < r->nslots; s++) {
		CPU_ZERO(&r->cpus[s]);
		if (c < r->nslots) {
			CPU_SET(cpu[s % c], &r->cpus[s]);
			continue;
		}
		for (i = (int)((long)s * c / r->nslots);
		     i < (int)((long)(s + 1) * c / r->nslots); i++)
			CPU_SET(cpu[i], &r->cpus[s]);
	}
	return 0;
}

int tf_res_task_gpus(const struct tf_res *r, const struct tf_task *t)
{
	if (t->gpus_given)
		return (int)t->gpus;
	return (int)tf_task_slots(t) * r->per_slot;
}

int tf_res_could_fit(const struct tf_res *r, const struct tf_task *t)
{
	return (int)tf_task_slots(t) <= r->nslots &&
	       tf_res_task_gpus(r, t) <= r->ngpus;
}

int tf_res_fits(const struct tf_res *r, const struct tf_task *t)
{
	return (int)tf_task_slots(t) <= r->nfree &&
	       tf_res_task_gpus(r, t) <= r->nfree_gpus;
}

static void take_gpu(struct tf_res *r, int g, int owner,
		     struct tf_strbuf *gpus)
{
	r->gpu_owner[g] = owner;
	r->nfree_gpus--;
	if (gpus->len)
		tf_strbuf_addstr(gpus, ",");
	tf_strbuf_addstr(gpus, r->gpu[g]);
}

int tf_res_take(struct tf_res *r, const struct tf_task *t,
		struct tf_strbuf *gpus, cpu_set_t *mask)
{
	int need = (int)tf_task_slots(t), ngpu = tf_res_task_gpus(r, t);
	int first = -1, s, g, k;

	tf_strbuf_reset(gpus);
	if (mask)
		CPU_ZERO(mask);
	if (!tf_res_fits(r, t))
		return -1;
	for (s = 0; s < r->nslots && need; s++) {
		if (r->owner[s])
			continue;
		if (first < 0)
			first = s;
		r->owner[s] = first + 1;
		r->nfree--;
		need--;
		if (mask && r->cpus)
			CPU_OR(mask, mask, &r->cpus[s]);
	}
	if (!ngpu)
		return first;
	/* Its slots' own GPUs first, so that one-slot tasks with
	 * --gpus-per-slot keep each slot's ids; then the lowest free. */
	if (!t->gpus_given)
		for (s = first; s < r->nslots && ngpu; s++) {
			if (r->owner[s] != first + 1)
				continue;
			for (k = 0; k < r->per_slot && ngpu; k++) {
				g = s * r->per_slot + k;
				if (!r->gpu_owner[g]) {
					take_gpu(r, g, first + 1, gpus);
					ngpu--;
				}
			}
		}
	for (g = 0; g < r->ngpus && ngpu; g++)
		if (!r->gpu_owner[g]) {
			take_gpu(r, g, first + 1, gpus);
			ngpu--;
		}
	return first;
}

void tf_res_put(struct tf_res *r, int slot)
{
	int s, g;

	for (s = 0; s < r->nslots; s++)
		if (r->owner[s] == slot + 1) {
			r->owner[s] = 0;
			r->nfree++;
		}
	for (g = 0; g < r->ngpus; g++)
		if (r->gpu_owner[g] == slot + 1) {
			r->gpu_owner[g] = 0;
			r->nfree_gpus++;
		}
}
