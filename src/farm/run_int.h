/*
 * Between run.c and runjournal.c: what a run knows of its job, the
 * journal's choice, check and lock, and the resuming source. Not part of
 * the library's interface.
 */
#ifndef TF_RUN_INT_H
#define TF_RUN_INT_H

#include <stdint.h>

#include "farm/journal.h"
#include "farm/master.h"
#include "farm/opts.h"
#include "farm/queue.h"

/* What the journal knows about the job: its fingerprint and name. */
struct job_identity {
	char fingerprint[17];
	char source[512];
	uint64_t ntasks;
	const char *jobfile; /* job-file mode: its path, for a second read */
	/* An open source: what the journal's .meta records is checked as
	 * the tasks arrive (streamsrc.h); expect->ntasks 0: nothing to. */
	struct tf_journal_meta *expect;
};

/* Leaves out of the source what the journal says is done, numbers the
 * other attempts after the journal's, and gives each its retries. */
struct resume_source {
	struct tf_source inner;
	struct tf_history *hist; /* NULL: not resuming */
	int resume_failed;
	unsigned retries;
	struct tf_resume_counts counts;
};

/** The journal's path (--journal, else JOBFILE.journal.tsv or the
 * template's), or NULL with --no-journal; the caller frees it. */
char *tf__run_journal_path(const struct tf_farm_opts *o);

/**
 * Takes the journal at path for this run: refuses a symbolic link, a
 * journal of another job (unless --force) or one held by another run,
 * rotates or resumes it (hist filled), and sets *trim where a torn last
 * line begins (UINT64_MAX if none). Returns 0, or an exit code with a
 * message logged.
 */
int tf__run_take_journal(const struct tf_farm_opts *o, const char *path,
			 const struct job_identity *job,
			 struct tf_journal_lock *lock, struct tf_history *hist,
			 uint64_t *trim);

/* struct resume_source's next() and errmsg(). */
int tf__run_resume_next(void *ctx, struct tf_task *t);
const char *tf__run_resume_errmsg(void *ctx);

#endif
