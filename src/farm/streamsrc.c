/*
 * An open job source as a task source, with the --resume check of what
 * arrives against the journal's job.
 */
#include "config.h"

#include "farm/streamsrc.h"

#include <stdio.h>
#include <string.h>

#include "taskfarm.h"

void tf_stream_source_init(struct tf_stream_source *ss, struct tf_jobfile *jf,
			   struct tf_source *src)
{
	memset(ss, 0, sizeof(*ss));
	ss->jf = jf;
	ss->checked = 1;
	memset(src, 0, sizeof(*src));
	src->next = tf_stream_source_next;
	src->errmsg = tf_stream_source_errmsg;
	src->ctx = ss;
	src->ntasks = 0; /* not known until it ends */
}

void tf_stream_source_expect(struct tf_stream_source *ss, uint64_t expect_n,
			     const char *expect_fp)
{
	ss->expect_n = expect_n;
	if (expect_n)
		snprintf(ss->expect_fp, sizeof(ss->expect_fp), "%s", expect_fp);
	ss->checked = expect_n == 0;
}

void tf_stream_source_limits(struct tf_stream_source *ss, uint32_t max_slots,
			     uint32_t max_gpus)
{
	ss->max_slots = max_slots;
	ss->max_gpus = max_gpus;
}

/* Whether task t fits some rank; else errmsg says why. */
static int fits(struct tf_stream_source *ss, const struct tf_task *t)
{
	if (ss->max_slots && tf_task_slots(t) > ss->max_slots) {
		snprintf(ss->errmsg, sizeof(ss->errmsg),
			 "%s:%llu: the task needs %u slots (#TASKFARM slots), "
			 "but no rank that runs tasks has more than %u; give "
			 "more --slots",
			 ss->jf->path, (unsigned long long)t->id,
			 (unsigned)tf_task_slots(t), (unsigned)ss->max_slots);
		return 0;
	}
	if (t->gpus_given && t->gpus > ss->max_gpus) {
		snprintf(ss->errmsg, sizeof(ss->errmsg),
			 "%s:%llu: the task needs %u GPUs (#TASKFARM gpus), "
			 "but no rank that runs tasks has more than %u",
			 ss->jf->path, (unsigned long long)t->id,
			 (unsigned)t->gpus, (unsigned)ss->max_gpus);
		return 0;
	}
	return 1;
}

void tf_stream_source_fingerprint(const struct tf_stream_source *ss,
				  char hex[17])
{
	snprintf(hex, 17, "%016llx", (unsigned long long)ss->jf->running_fp);
}

int tf_stream_source_verified(const struct tf_stream_source *ss)
{
	return ss->checked && !ss->mismatch;
}

static int mismatch(struct tf_stream_source *ss, const char *how)
{
	ss->mismatch = TF_EINVAL;
	snprintf(ss->errmsg, sizeof(ss->errmsg),
		 "%s:%llu: cannot resume: %s the journal's job of %llu tasks "
		 "(fingerprint %s); --force resumes anyway, running again "
		 "every task whose command changed",
		 ss->jf->path, (unsigned long long)ss->jf->lineno, how,
		 (unsigned long long)ss->expect_n, ss->expect_fp);
	return TF_EINVAL;
}

int tf_stream_source_next(void *ctx, struct tf_task *t)
{
	struct tf_stream_source *ss = ctx;
	char hex[17];
	int r;

	if (ss->mismatch)
		return ss->mismatch;
	r = tf_jobfile_next(ss->jf, t);
	if (r < 0 && r != TF_SOURCE_AGAIN)
		snprintf(ss->errmsg, sizeof(ss->errmsg), "%s", ss->jf->errmsg);
	if (r == 1 && !fits(ss, t)) {
		tf_task_release(t);
		ss->mismatch = TF_EPARSE; /* stopped for good */
		return TF_EPARSE;
	}
	if (ss->checked)
		return r;
	if (r == 0)
		return mismatch(ss, "it ended before the end of");
	if (r == 1 && ss->jf->nread_tasks == ss->expect_n) {
		tf_stream_source_fingerprint(ss, hex);
		if (strcmp(hex, ss->expect_fp) != 0) {
			tf_task_release(t);
			return mismatch(ss, "what arrived is not");
		}
		ss->checked = 1;
	}
	return r;
}

const char *tf_stream_source_errmsg(void *ctx)
{
	return ((struct tf_stream_source *)ctx)->errmsg;
}

int tf_stream_source_record(const struct tf_stream_source *ss,
			    struct tf_journal_lock *lock, const char *source)
{
	char hex[17];

	if (!tf_stream_source_verified(ss) || ss->jf->nread_tasks < ss->expect_n)
		return 0;
	tf_stream_source_fingerprint(ss, hex);
	return tf_journal_meta_write(lock, hex, ss->jf->nread_tasks, source);
}
