/*
 * The master's book of jobs: ids the results name (reused once a job is
 * freed), the queue of jobs with tasks to send, and the futures jobs'
 * tasks (one future each, added as they are submitted, cancelled while
 * unsent). master.c's turns send from this queue; jobs.c fills it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pool/pool.h"

struct pjob *tf__pool_job_new(struct tf_pool *p, enum job_kind kind,
			    uint32_t fn)
{
	struct pjob *j = tf__xcalloc(1, sizeof(*j));

	if (p->nfree) {
		j->id = p->free_ids[--p->nfree];
	} else {
		size_t alloc = p->njobs;

		tf__grow((void **)&p->jobs, &alloc, p->njobs + 1,
			 sizeof(*p->jobs));
		p->free_ids = tf__xrealloc(p->free_ids,
					   alloc * sizeof(*p->free_ids));
		j->id = (uint32_t)p->njobs++;
	}
	p->jobs[j->id] = j;
	j->kind = kind;
	j->fn = fn;
	j->futs = &j->fut1;
	j->futs_alloc = 1;
	return j;
}

void tf__pool_job_free(struct tf_pool *p, struct pjob *j)
{
	p->jobs[j->id] = NULL;
	p->free_ids[p->nfree++] = j->id;
	if (p->fut_open == j)
		p->fut_open = NULL;
	if (j->futs != &j->fut1)
		free(j->futs);
	free(j);
}

void tf__pool_job_add_future(struct pjob *j, struct tf_future *f)
{
	if (j->n == j->futs_alloc) {
		size_t alloc = j->futs_alloc * 2;
		struct tf_future **futs = tf__xmalloc(alloc * sizeof(*futs));

		memcpy(futs, j->futs, j->n * sizeof(*futs));
		if (j->futs != &j->fut1)
			free(j->futs);
		j->futs = futs;
		j->futs_alloc = alloc;
	}
	f->job = j;
	f->idx = (uint32_t)j->n;
	j->futs[j->n++] = f;
}

int tf__pool_job_cancel_future(struct tf_pool *p, struct tf_future *f)
{
	struct pjob *j = f->job;

	if (f->done || !j || f->idx < j->next)
		return 0;
	j->futs[f->idx] = NULL;
	f->job = NULL;
	/* No cancelled task at the end: the last one sent is a live one. */
	while (j->n > j->next && !j->futs[j->n - 1])
		j->n--;
	if (j->next == j->n) {
		tf__pool_dequeue(p, j);
		if (tf__pool_job_finished(j))
			tf__pool_job_free(p, j);
	}
	return 1;
}

void tf__pool_enqueue(struct tf_pool *p, struct pjob *j)
{
	j->qnext = NULL;
	j->queued = 1;
	if (p->qtail)
		p->qtail->qnext = j;
	else
		p->qhead = j;
	p->qtail = j;
}

void tf__pool_enqueue_front(struct tf_pool *p, struct pjob *j)
{
	j->qnext = p->qhead;
	j->queued = 1;
	p->qhead = j;
	if (!p->qtail)
		p->qtail = j;
}

struct pjob *tf__pool_job_take_back(struct tf_pool *p, struct pjob *j,
				    size_t first, size_t count)
{
	struct pjob *back = tf__pool_job_new(p, JOB_FUTURE, j->fn);
	size_t i;

	for (i = first; i < first + count; i++) {
		struct tf_future *f = j->futs[i];

		j->futs[i] = NULL;
		if (f)
			tf__pool_job_add_future(back, f);
	}
	j->done += count;
	if (tf__pool_job_finished(j))
		tf__pool_job_free(p, j);
	if (back->n) {
		tf__pool_enqueue_front(p, back);
		return back;
	}
	tf__pool_job_free(p, back);
	return NULL;
}

void tf__pool_dequeue(struct tf_pool *p, struct pjob *j)
{
	struct pjob **pp = &p->qhead, *prev = NULL;

	if (!j->queued)
		return;
	while (*pp && *pp != j) {
		prev = *pp;
		pp = &(*pp)->qnext;
	}
	if (*pp)
		*pp = j->qnext;
	if (p->qtail == j)
		p->qtail = prev;
	j->queued = 0;
}

/* Whether every task the job will run has reported back. */
int tf__pool_job_finished(const struct pjob *j)
{
	return j->done == (j->stopped ? j->next : j->n);
}
