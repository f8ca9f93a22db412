/*
 * The journal of a run (run_int.h): its path, the check that it is this
 * job's, its lock, rotation and replay for --resume, and the source that
 * leaves out what it says is done.
 */
#include "config.h"

#include "farm/run_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "farm/exit.h"
#include "farm/jobfile.h"
#include "farm/streamsrc.h"
#include "taskfarm.h"
#include "core/util.h"

/* The journal's path: given, or derived from the job file's name. */
char *tf__run_journal_path(const struct tf_farm_opts *o)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	const char *base, *dot;

	if (o->no_journal || o->dry_run)
		return NULL;
	if (o->journal)
		return tf__xstrdup(o->journal);
	if (!o->jobfile || strcmp(o->jobfile, "-") == 0)
		return tf__xstrdup("taskfarm.journal.tsv");
	base = strrchr(o->jobfile, '/');
	base = base ? base + 1 : o->jobfile;
	dot = strrchr(base, '.');
	tf_strbuf_add(&sb, base, dot && dot != base ? (size_t)(dot - base)
						    : strlen(base));
	tf_strbuf_addstr(&sb, ".journal.tsv");
	return tf_strbuf_detach(&sb, NULL);
}

/*
 * A fresh run starts a fresh journal: a non-empty one already there is
 * kept as PATH.prev. Returns 0 or a negative code with a message printed.
 */
static int rotate_journal(const char *path)
{
	struct tf_strbuf prev = TF_STRBUF_INIT;
	struct stat st;

	if (lstat(path, &st) < 0 || st.st_size == 0)
		return 0;
	tf_strbuf_addf(&prev, "%s.prev", path);
	if (rename(path, prev.buf) < 0) {
		int err = -errno;
		tf_error("cannot move the old journal %s aside: %s", path,
			 strerror(errno));
		tf_strbuf_release(&prev);
		return err;
	}
	tf_info("previous journal kept as %s", prev.buf);
	tf_strbuf_release(&prev);
	return 0;
}


/*
 * Whether the job is the journal's job with lines appended: its first
 * ntasks tasks have the recorded fingerprint (computed as
 * tf_jobfile_scan() does). Only a regular file is read again: standard
 * input or a pipe cannot be, and opening a FIFO again would block.
 */
static int job_extends(const struct job_identity *job, uint64_t ntasks,
		       const char *fingerprint)
{
	struct tf_jobfile jf;
	struct tf_task t;
	struct stat st;
	uint64_t fp = TF_HASH_INIT, n = 0;
	char hex[17];
	int r = 1;

	if (!job->jobfile || strcmp(job->jobfile, "-") == 0 || !ntasks ||
	    ntasks >= job->ntasks || stat(job->jobfile, &st) < 0 ||
	    !S_ISREG(st.st_mode))
		return 0;
	if (tf_jobfile_open(&jf, job->jobfile) < 0)
		return 0;
	while (n < ntasks && (r = tf_jobfile_next(&jf, &t)) > 0) {
		n++;
		fp = tf_hash(fp, &t.id, sizeof(t.id));
		fp = tf_hash(fp, t.cmd, t.cmd_len + 1);
		tf_task_release(&t);
	}
	tf_jobfile_close(&jf);
	if (r <= 0)
		return 0;
	snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)fp);
	return strcmp(hex, fingerprint) == 0;
}

/*
 * On --resume: checks the job against what PATH.meta records. A meta
 * file missing or garbled beside a journal with lines is refused, as is
 * a different job, unless --force; a job that only grew (lines appended
 * to the job file) is the same job. Returns 0 or an exit code with a
 * message printed.
 */
static int check_job(const struct tf_farm_opts *o, const char *path,
		     const struct job_identity *job,
		     struct tf_journal_lock *lock, const struct tf_history *hist)
{
	struct tf_journal_meta meta;
	char err[TF_ERRMSG_MAX];
	int ret;

	if (!hist->lines)
		return 0;
	ret = tf_journal_meta_read(lock, &meta, err, sizeof(err));
	if (ret <= 0) {
		/* err: "PATH.meta:LINE: problem" (or an I/O error). */
		if (ret == 0)
			snprintf(err, sizeof(err), "%s is missing", lock->path);
		if (!o->force) {
			tf_error("cannot resume: %s, so nothing says that "
				 "journal %s belongs to this job; --force "
				 "resumes anyway, running again every task "
				 "whose command changed",
				 err, path);
			return TF_EXIT_USAGE;
		}
		tf_warn("%s; --force: resuming without checking the job",
			err);
		return 0;
	}
	if (job->expect) {
		if (!o->force)
			*job->expect = meta;
		return 0;
	}
	if (strcmp(meta.fingerprint, job->fingerprint) == 0)
		return 0;
	if (job_extends(job, meta.ntasks, meta.fingerprint)) {
		tf_info("the job grew from %llu to %llu tasks since journal "
			"%s was written; its first %llu are unchanged",
			(unsigned long long)meta.ntasks,
			(unsigned long long)job->ntasks, path,
			(unsigned long long)meta.ntasks);
		return 0;
	}
	if (!o->force) {
		tf_error("cannot resume: journal %s belongs to a different job "
			 "(fingerprint %s, this one is %s); --force resumes "
			 "anyway, running again every task whose command "
			 "changed",
			 path, meta.fingerprint, job->fingerprint);
		return TF_EXIT_USAGE;
	}
	tf_warn("the job changed since journal %s was written; --force: "
		"tasks whose command changed run again",
		path);
	return 0;
}

/*
 * Takes the journal for this run: refuses a path that is a symbolic link
 * or not a regular file, locks PATH.meta against a second run, and either
 * starts afresh or (--resume) reads what the journal holds, refusing a
 * changed job source unless --force. *trim is where a torn last line
 * begins, or UINT64_MAX. Returns 0, or an exit code with a message
 * printed.
 */
int tf__run_take_journal(const struct tf_farm_opts *o, const char *path,
			const struct job_identity *job,
			struct tf_journal_lock *lock, struct tf_history *hist,
			uint64_t *trim)
{
	char holder[512], err[TF_ERRMSG_MAX];
	struct stat st;
	int ret, exists = 0;
	uint64_t headroom;

	*trim = UINT64_MAX;
	if (lstat(path, &st) == 0) {
		if (S_ISLNK(st.st_mode)) {
			tf_error("journal %s is a symbolic link; refusing to "
				 "write through it",
				 path);
			return TF_EXIT_USAGE;
		}
		if (!S_ISREG(st.st_mode)) {
			tf_error("journal %s exists and is not a regular file",
				 path);
			return TF_EXIT_USAGE;
		}
		/* In a shared directory, another user could have written
		 * ok lines of their own into it. */
		if (st.st_uid != geteuid()) {
			tf_error("journal %s belongs to another user (uid %ld, "
				 "not %ld); refusing to use it",
				 path, (long)st.st_uid, (long)geteuid());
			return TF_EXIT_USAGE;
		}
		exists = st.st_size > 0;
	} else if (errno != ENOENT) {
		tf_error("journal %s: %s", path, strerror(errno));
		return TF_EXIT_USAGE;
	}
	ret = tf_journal_lock(lock, path, holder, sizeof(holder));
	if (ret == -EBUSY) {
		tf_error("journal %s is in use by another taskfarm run (%s)",
			 path, holder);
		return TF_EXIT_USAGE;
	}
	if (ret == -EPERM) {
		tf_error("%s.meta belongs to another user; refusing to use "
			 "it (it would hold journal %s's lock)",
			 path, path);
		return TF_EXIT_USAGE;
	}
	if (ret < 0) {
		tf_error("cannot lock the journal's %s.meta: %s", path,
			 ret == -ELOOP ? "it is a symbolic link"
				       : tf_strerror(ret));
		return TF_EXIT_USAGE;
	}
	if (!o->resume) {
		if (rotate_journal(path) < 0)
			return TF_EXIT_USAGE;
	} else {
		if (!exists)
			tf_warn("--resume: journal %s did not exist (or was "
				"empty): nothing was done before, so every "
				"task runs",
				path);
		ret = tf_history_load(hist, path, err, sizeof(err));
		if (ret < 0) {
			tf_error("cannot resume: %s", err);
			return TF_EXIT_USAGE;
		}
		ret = check_job(o, path, job, lock, hist);
		if (ret)
			return ret;
		/* The attempts a task may still get in this run: its next,
		 * its retries and one per rank lost under it. */
		headroom = 1 + (uint64_t)o->retries + o->lost_limit;
		if (hist->max_attempts > UINT32_MAX - headroom) {
			tf_error("cannot resume: %s:%llu: Attempt %lu: another "
				 "%llu attempts would pass the journal's "
				 "limit of %lu",
				 path,
				 (unsigned long long)hist->max_attempts_line,
				 (unsigned long)hist->max_attempts,
				 (unsigned long long)headroom,
				 (unsigned long)UINT32_MAX);
			return TF_EXIT_USAGE;
		}
		if (hist->torn) {
			tf_warn("%s ends in a line cut short (the run was "
				"killed while writing it); it is dropped",
				path);
			*trim = hist->valid_len;
		}
	}
	/* An open source keeps the journal's job until what arrives has
	 * been checked against it. */
	ret = job->expect && job->expect->ntasks
		      ? tf_journal_meta_write(lock, job->expect->fingerprint,
					      job->expect->ntasks, job->source)
		      : tf_journal_meta_write(lock, job->fingerprint,
					      job->ntasks, job->source);
	if (ret < 0) {
		tf_error("cannot write %s.meta: %s", path, tf_strerror(ret));
		return TF_EXIT_USAGE;
	}
	return 0;
}


int tf__run_resume_next(void *ctx, struct tf_task *t)
{
	struct resume_source *rs = ctx;

	for (;;) {
		const struct tf_history_entry *e;
		int r = rs->inner.next(rs->inner.ctx, t);

		if (r <= 0)
			return r;
		t->retries_left = rs->retries;
		e = tf_history_find(rs->hist, t->id);
		if (!e)
			return 1;
		t->attempt = e->attempts + 1;
		if (!e->any_cmd &&
		    e->cmd_hash != tf_hash(TF_HASH_INIT, t->cmd, t->cmd_len))
			return 1; /* the line changed: run it again */
		if (e->state == TF_HIST_OK ||
		    (e->state == TF_HIST_FAILED && !rs->resume_failed)) {
			rs->counts.skipped++;
			if (e->state == TF_HIST_FAILED)
				rs->counts.failed_before++;
			tf_task_release(t);
			continue;
		}
		return 1;
	}
}

const char *tf__run_resume_errmsg(void *ctx)
{
	struct resume_source *rs = ctx;

	return rs->inner.errmsg(rs->inner.ctx);
}

