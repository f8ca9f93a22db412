/*
 * The farm's entry point: set up communication, validate the task source
 * on rank 0 before any task starts, pick the journal, and run the master
 * or the worker loop. Every rank ends in tf_comm_finalize().
 */
#include "config.h"

#include "farm/run.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "farm/exit.h"
#include "farm/control.h"
#include "farm/exec.h"
#include "farm/guard.h"
#include "farm/jobfile.h"
#include "farm/tagstring.h"
#include "farm/template.h"
#include "farm/journal.h"
#include "farm/master.h"
#include "farm/queue.h"
#include "farm/run_int.h"
#include "farm/slurmenv.h"
#include "farm/streamsrc.h"
#include "farm/spawner.h"
#include "taskfarm.h"
#include "farm/wire.h"
#include "farm/worker.h"

void tf_farm_opts_init(struct tf_farm_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->master_slots = -1;
	o->journal_sync = 1.0;
	o->progress = -1;
	o->status_interval = 60;
	o->grace = 5;
	o->drain_grace = 2;
	o->heartbeat = 30;
	o->lost_limit = 3;
	o->comm_mode = TF_COMM_AUTO;
}

int tf__resolve_slots(const struct tf_farm_opts *o, int rank, int nranks,
		      int slurm_slots, const char *gpu_list,
		      struct tf_rank_slots *rs, char *err, size_t errlen)
{
	int explicit_slots = o->slots > 0, fit;

	memset(rs, 0, sizeof(*rs));
	rs->slots = o->slots > 0	  ? o->slots
		    : slurm_slots > 0 ? slurm_slots
		    : nranks == 1     ? tf__ncores()
				      : 1;
	/* With workers, a master of several slots runs them too: in the
	 * one-rank-per-node layout its node would otherwise sit idle. */
	rs->master_slots = o->master_slots >= 0 ? o->master_slots
			   : nranks == 1	? rs->slots
			   : rs->slots > 1	? rs->slots
						: 0;
	if (nranks == 1 && rs->master_slots == 0)
		rs->master_slots = 1;
	/* A master that runs no task needs no GPU. */
	if (!o->gpus_per_slot || (rank == 0 && rs->master_slots == 0))
		return 0;
	if (!gpu_list) {
		snprintf(err, errlen,
			 "--gpus-per-slot %d: no GPUs granted to this rank "
			 "(none of CUDA_VISIBLE_DEVICES, SLURM_STEP_GPUS, "
			 "SLURM_JOB_GPUS, GPU_DEVICE_ORDINAL is set)",
			 o->gpus_per_slot);
		return TF_EXIT_USAGE;
	}
	rs->gpus = tf_gpus_count(gpu_list);
	if (rank == 0) {
		/* The slots that run here: the master's own. */
		int explicit_master = o->master_slots >= 0 || explicit_slots;

		fit = tf_gpus_fit(rs->master_slots, explicit_master, rs->gpus,
				  o->gpus_per_slot);
		if (fit == 0)
			goto misfit;
		rs->reduced = fit < rs->master_slots;
		rs->master_slots = fit;
		if (nranks == 1)
			rs->slots = fit;
		return 0;
	}
	fit = tf_gpus_fit(rs->slots, explicit_slots, rs->gpus,
			  o->gpus_per_slot);
	if (fit == 0)
		goto misfit;
	rs->reduced = fit < rs->slots;
	rs->slots = fit;
	return 0;
misfit:
	snprintf(err, errlen,
		 "--gpus-per-slot %d: %d slots on rank %d need %ld GPUs, but "
		 "only %d are granted ('%s')%s",
		 o->gpus_per_slot, rank == 0 ? rs->master_slots : rs->slots,
		 rank,
		 (long)o->gpus_per_slot *
			 (rank == 0 ? rs->master_slots : rs->slots),
		 rs->gpus, gpu_list,
		 rs->gpus >= o->gpus_per_slot
			 ? "; give fewer --slots (or --master-slots)"
			 : "");
	return TF_EXIT_USAGE;
}

/*
 * Settles this rank's slots and GPUs into ro, before any task starts.
 * Every rank takes part in one collective, so that a usage error on any
 * rank stops them all; it is reported once, by the lowest such rank.
 * Returns 0 or TF_EXIT_USAGE (or TF_EXIT_INTERNAL when MPI fails).
 */
static int settle_slots(struct tf_farm_opts *ro, struct tf_comm *comm)
{
	struct tf_strbuf warn = TF_STRBUF_INIT;
	struct tf_slurm_env env;
	struct tf_rank_slots rs;
	const char *source = NULL, *gpus = NULL;
	char err[512] = "";
	int slurm_slots = 0, code, agree[2];

	if (ro->slots <= 0) {
		tf_slurm_env_read(&env);
		env.single_rank = comm->size == 1;
		slurm_slots = tf_slurm_default_slots(&env, &warn);
		/* Every rank sees much the same environment: say it once,
		 * unless asked. */
		if (warn.len && (comm->rank == 0 || ro->verbose)) {
			warn.buf[warn.len - 1] = '\0';
			tf_warn("%s", warn.buf);
		}
		tf_strbuf_release(&warn);
	}
	/* Also without --gpus-per-slot: for #TASKFARM gpus K. */
	gpus = tf_gpus_granted(&source);
	code = tf__resolve_slots(ro, comm->rank, comm->size, slurm_slots,
				 ro->gpus_per_slot ? gpus : NULL, &rs, err,
				 sizeof(err));
	agree[0] = code;
	agree[1] = code ? comm->size - comm->rank : 0;
	if (tf_comm_allmax(comm, agree, 2) < 0)
		return TF_EXIT_INTERNAL;
	if (code && agree[1] == comm->size - comm->rank)
		tf_error("%s", err);
	if (agree[0])
		return agree[0];
	if (rs.reduced)
		tf_warn("--gpus-per-slot %d: %d GPUs granted (%s=%s), so this "
			"rank runs %d slots",
			ro->gpus_per_slot, rs.gpus, source, gpus,
			comm->rank == 0 ? rs.master_slots : rs.slots);
	if (slurm_slots > 0)
		tf_debug("slots from Slurm's environment: %d", slurm_slots);
	ro->slots = rs.slots;
	ro->master_slots = rs.master_slots;
	ro->gpu_list = gpus;
	/* What the largest rank can run, for the job's #TASKFARM slots and
	 * gpus to be checked against before anything starts. */
	agree[0] = comm->rank == 0 ? rs.master_slots : rs.slots;
	agree[1] = gpus && agree[0] ? tf_gpus_count(gpus) : 0;
	if (tf_comm_allmax(comm, agree, 2) < 0)
		return TF_EXIT_INTERNAL;
	ro->rank_max_slots = agree[0];
	ro->rank_max_gpus = agree[1];
	return 0;
}

static int jobfile_next(void *ctx, struct tf_task *t)
{
	return tf_jobfile_next(ctx, t);
}

static const char *jobfile_errmsg(void *ctx)
{
	return ((struct tf_jobfile *)ctx)->errmsg;
}

static int template_next(void *ctx, struct tf_task *t)
{
	return tf_template_next(ctx, t);
}

static const char *template_errmsg(void *ctx)
{
	return ((struct tf_template *)ctx)->errmsg;
}

/* stream: an open source, waited on while it has nothing (or NULL). */
static int dry_run(struct tf_source *src, struct tf_jobfile *stream)
{
	struct tf_task t;
	int r;

	while ((r = src->next(src->ctx, &t)) > 0 ||
	       (r == TF_SOURCE_AGAIN && stream)) {
		if (r == TF_SOURCE_AGAIN) {
			r = tf_jobfile_wait(stream, 0.1);
			if (r < 0)
				break;
			continue;
		}
		fwrite(t.cmd, 1, t.cmd_len, stdout);
		fputc('\n', stdout);
		tf_task_release(&t);
	}
	if (r < 0) {
		tf_error("%s", r == TF_SOURCE_AGAIN || r > 0
				       ? "cannot wait for the tasks"
				       : src->errmsg(src->ctx));
		return TF_EXIT_USAGE;
	}
	return fflush(stdout) == 0 ? TF_EXIT_OK : TF_EXIT_INTERNAL;
}

/* Whether every task of the job fits some rank (#TASKFARM slots and
 * gpus). Returns 0, or TF_EPARSE with jf->errmsg naming the first task
 * that needs the most. */
static int check_needs(const struct tf_farm_opts *o, struct tf_jobfile *jf)
{
	if (jf->max_slots > (uint32_t)o->rank_max_slots) {
		snprintf(jf->errmsg, sizeof(jf->errmsg),
			 "%s:%llu: the task needs %u slots (#TASKFARM slots), "
			 "but no rank that runs tasks has more than %d; give "
			 "more --slots",
			 jf->path, (unsigned long long)jf->max_slots_line,
			 (unsigned)jf->max_slots, o->rank_max_slots);
		return TF_EPARSE;
	}
	if (jf->max_gpus > (uint32_t)o->rank_max_gpus) {
		snprintf(jf->errmsg, sizeof(jf->errmsg),
			 "%s:%llu: the task needs %u GPUs (#TASKFARM gpus), "
			 "but no rank that runs tasks has more than %d "
			 "(CUDA_VISIBLE_DEVICES, SLURM_STEP_GPUS, "
			 "SLURM_JOB_GPUS or GPU_DEVICE_ORDINAL)",
			 jf->path, (unsigned long long)jf->max_gpus_line,
			 (unsigned)jf->max_gpus, o->rank_max_gpus);
		return TF_EPARSE;
	}
	return 0;
}

/* Tells every worker to stop (for runs that end before they start). */
static void stop_workers(struct tf_comm *comm)
{
	if (tf__control_all(comm, TF_CTL_STOP, 0, NULL, NULL) < 0)
		tf_comm_abort(comm, TF_EXIT_INTERNAL);
}

static int run_master(const struct tf_farm_opts *o, struct tf_comm *comm,
		      struct tf_guard *guard)
{
	struct tf_jobfile jf;
	struct tf_template tmpl;
	struct resume_source rs;
	struct tf_tag_source tags;
	struct tf_journal_lock lock = { -1, NULL };
	struct tf_history hist;
	struct job_identity job;
	struct tf_source src;
	struct tf_stream_source ss;
	struct tf_journal_meta expect;
	uint64_t trim = UINT64_MAX;
	char *journal = NULL;
	int ret, code;

	memset(&src, 0, sizeof(src));
	memset(&hist, 0, sizeof(hist));
	memset(&expect, 0, sizeof(expect));
	job.expect = NULL;
	if (o->jobfile) {
		/* A pipe streams unless --no-stream; a regular file is
		 * validated whole first unless --follow. */
		ret = o->no_stream ? tf_jobfile_open(&jf, o->jobfile)
				   : tf_jobfile_open_stream(&jf, o->jobfile,
							    o->follow);
		if (ret == 0 && !jf.stream) {
			ret = tf_jobfile_scan(&jf);
			if (ret < 0)
				tf_jobfile_close(&jf);
		}
		if (ret == 0) {
			ret = check_needs(o, &jf);
			if (ret < 0)
				tf_jobfile_close(&jf);
		}
		if (ret < 0) {
			tf_error("%s", jf.errmsg);
			stop_workers(comm);
			return TF_EXIT_USAGE;
		}
		if (o->joblog && jf.first_continued)
			tf_warn("--joblog %s: %s:%llu continues on the next "
				"line; GNU parallel takes every line as a job, "
				"so its --resume and --resume-failed would run "
				"the continuation as a job of its own (its "
				"--retry-failed is right): resume this job "
				"with taskfarm --resume",
				o->joblog, o->jobfile,
				(unsigned long long)jf.first_continued);
		src.next = jobfile_next;
		src.errmsg = jobfile_errmsg;
		src.ctx = &jf;
		src.ntasks = jf.ntasks;
		snprintf(job.fingerprint, sizeof(job.fingerprint), "%016llx",
			 (unsigned long long)jf.fingerprint);
		snprintf(job.source, sizeof(job.source), "job file %s%s",
			 o->jobfile, !jf.stream ? "" : jf.follow ? " (followed)"
							   : " (a stream)");
		job.ntasks = jf.ntasks;
		job.jobfile = o->jobfile;
		if (jf.stream) {
			job.expect = &expect;
			tf_stream_source_init(&ss, &jf, &src);
			src.wake_fd = tf_jobfile_poll_fd(&jf);
			src.wake = src.wake_fd >= 0;
			tf_stream_source_limits(&ss, (uint32_t)o->rank_max_slots,
						(uint32_t)o->rank_max_gpus);
		}
	} else {
		struct tf_template_opts to = { o->arg_files, o->narg_files,
					       o->colsep };

		ret = tf_template_init_with(&tmpl, o->tmpl_argc, o->tmpl_argv,
					    &to);
		if (ret < 0) {
			tf_error("%s", tmpl.errmsg);
			stop_workers(comm);
			return TF_EXIT_USAGE;
		}
		src.next = template_next;
		src.errmsg = template_errmsg;
		src.ctx = &tmpl;
		src.ntasks = tmpl.ntasks;
		snprintf(job.fingerprint, sizeof(job.fingerprint), "%016llx",
			 (unsigned long long)tmpl.fingerprint);
		snprintf(job.source, sizeof(job.source), "template %.480s",
			 tmpl.cmd);
		job.ntasks = tmpl.ntasks;
		job.jobfile = NULL;
	}
	if (o->tagstring)
		tf_tag_source_wrap(&tags, &src, o->jobfile ? NULL : &tmpl,
				   o->tagstring);
	if (o->dry_run) {
		stop_workers(comm);
		code = dry_run(&src, o->jobfile && jf.stream ? &jf : NULL);
		goto out;
	}
	journal = tf__run_journal_path(o);
	if (journal) {
		code = tf__run_take_journal(o, journal, &job, &lock, &hist, &trim);
		if (code) {
			stop_workers(comm);
			goto out;
		}
	}
	if (job.expect)
		tf_stream_source_expect(&ss, expect.ntasks, expect.fingerprint);
	memset(&rs, 0, sizeof(rs));
	rs.inner = src;
	rs.hist = o->resume ? &hist : NULL;
	rs.resume_failed = o->resume_failed;
	rs.retries = o->retries;
	src.next = tf__run_resume_next;
	src.errmsg = tf__run_resume_errmsg;
	src.ctx = &rs;
	code = tf__master_run(o, comm, guard, &src, journal, trim, &rs.counts);
	if (job.expect && journal &&
	    (ret = tf_stream_source_record(&ss, &lock, job.source)) < 0)
		tf_error("cannot write %s: %s", lock.path, tf_strerror(ret));
out:
	tf_history_release(&hist);
	tf_journal_unlock(&lock);
	free(journal);
	if (o->jobfile)
		tf_jobfile_close(&jf);
	else
		tf_template_release(&tmpl);
	return code;
}

/* Writes "CODE\n" to path, whole or not at all (a rename). Returns 0 or
 * -errno. */
static int write_status_file(const char *path, int code)
{
	char tmp[4096], line[16];
	int fd, n, ret = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		  0644);
	if (fd < 0)
		return -errno;
	n = snprintf(line, sizeof(line), "%d\n", code);
	ret = tf_write_all(fd, line, (size_t)n);
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	if (ret == 0 && rename(tmp, path) < 0)
		ret = -errno;
	if (ret < 0)
		unlink(tmp);
	return ret;
}

/*
 * Standard input, output or error closed at start (`taskfarm JOB >&-`)
 * are held by /dev/null, opened read-only, before this process opens
 * anything: else the next descriptor opened (the signal self-pipe, the
 * guardian's pipe, the spawn helper's socket, a spill file) would take
 * fd 1 and receive task output, and a task's output that cannot be
 * written would pass for delivered. Writes to a held fd fail (EBADF), so
 * that output is journaled output-lost.
 */
static void hold_closed_stdio(void)
{
	int fd;

	for (fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++) {
		int null;

		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		null = open("/dev/null", O_RDONLY);
		if (null >= 0 && null != fd) {
			dup2(null, fd);
			close(null);
		}
	}
}

int tf_farm_run(const struct tf_farm_opts *o, int *argc, char ***argv)
{
	struct tf_farm_opts ro = *o; /* with this rank's slots settled */
	struct tf_comm comm;
	struct tf_guard guard;
	int code, ret;

	tf__log_level = o->verbose;
	hold_closed_stdio();
	/* A stop signal that comes during MPI's start-up (Slurm's warning
	 * signal can) is counted and drains the run, instead of killing
	 * the rank by its default action. */
	ret = tf_signals_install();
	if (ret < 0)
		tf_warn("cannot install signal handlers: %s", tf_strerror(ret));
	/* Before MPI_Init, while this process is small and has one
	 * thread. Without a guardian a run works, unprotected. */
	ret = tf_guard_start(&guard, o->grace);
	if (ret < 0)
		tf_warn("no guardian process (%s): tasks may outlive a rank "
			"that is killed",
			tf_strerror(ret));
	/* Also now, while small: a task's MaxRSS is never below its
	 * forker's, so tasks go through this helper when that floor would
	 * mislead, or always with --exact-maxrss (spawner.h). */
	ret = tf_spawner_start(o->exact_maxrss);
	if (ret < 0)
		tf_warn("no spawn helper (%s): tasks' MaxRSS will include "
			"this process's",
			tf_strerror(ret));
	ret = tf_comm_init(&comm, argc, argv, o->comm_mode);
	if (ret < 0) {
		tf_error("cannot initialise MPI");
		tf_spawner_stop();
		tf_guard_release(&guard);
		return TF_EXIT_INTERNAL;
	}
	if (comm.use_mpi)
		tf__log_rank = comm.rank;
	/* On a usage error every rank knows, and none starts its loop. */
	code = settle_slots(&ro, &comm);
	if (code == 0)
		code = comm.rank == 0 ? run_master(&ro, &comm, &guard)
				      : tf__worker_run(&ro, &comm, &guard);
	if (comm.rank == 0 && o->status_file) {
		ret = write_status_file(o->status_file, code);
		if (ret < 0) {
			tf_error("--status-file %s: %s", o->status_file,
				 tf_strerror(ret));
			if (code == TF_EXIT_OK)
				code = TF_EXIT_INTERNAL;
		}
	}
	tf_spawner_stop();
	tf_guard_release(&guard);
	ret = tf_comm_finalize(&comm);
	if (ret < 0 && code == TF_EXIT_OK)
		code = TF_EXIT_INTERNAL;
	return code;
}
