/*
 * The farm's entry point: set up communication, validate the task source
 * on rank 0 before any task starts, pick the journal, and run the master
 * or the worker loop. Every rank ends in tf_comm_finalize().
 */
#include "config.h"

#include "farm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobfile.h"
#include "queue.h"
#include "taskfarm.h"
#include "wire.h"

void tf_farm_opts_init(struct tf_farm_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->master_slots = -1;
	o->journal_sync = 1.0;
	o->progress = -1;
	o->status_interval = 60;
	o->grace = 5;
	o->comm_mode = TF_COMM_AUTO;
}

int tf__ncores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
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

/* The journal's path: given, or derived from the job file's name. */
static char *journal_path(const struct tf_farm_opts *o)
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
 * kept as PATH.prev. A symbolic link or anything not a regular file at the
 * path is refused. Returns 0 or a negative code with a message printed.
 */
static int prepare_journal(const char *path)
{
	struct tf_strbuf prev = TF_STRBUF_INIT;
	struct stat st;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		tf_error("journal %s: %s", path, strerror(errno));
		return -errno;
	}
	if (S_ISLNK(st.st_mode)) {
		tf_error("journal %s is a symbolic link; refusing to write "
			 "through it",
			 path);
		return -ELOOP;
	}
	if (!S_ISREG(st.st_mode)) {
		tf_error("journal %s exists and is not a regular file", path);
		return -EINVAL;
	}
	if (st.st_size == 0)
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

static int dry_run(struct tf_source *src)
{
	struct tf_task t;
	int r;

	while ((r = src->next(src->ctx, &t)) > 0) {
		fwrite(t.cmd, 1, t.cmd_len, stdout);
		fputc('\n', stdout);
		tf_task_release(&t);
	}
	if (r < 0) {
		tf_error("%s", src->errmsg(src->ctx));
		return TF_EXIT_USAGE;
	}
	return fflush(stdout) == 0 ? TF_EXIT_OK : TF_EXIT_INTERNAL;
}

/* Tells every worker to stop (for runs that end before they start). */
static void stop_workers(struct tf_comm *comm)
{
	int r;

	for (r = 1; r < comm->size; r++) {
		struct tf_strbuf out = TF_STRBUF_INIT;

		tf_wire_pack_control(&out, TF_CTL_STOP);
		if (tf_comm_send(comm, r, TF_TAG_CONTROL, &out) < 0)
			tf_comm_abort(comm, TF_EXIT_INTERNAL);
	}
}

static int run_master(const struct tf_farm_opts *o, struct tf_comm *comm)
{
	struct tf_jobfile jf;
	struct tf_template tmpl;
	struct tf_source src;
	char *journal = NULL;
	int ret, code;

	memset(&src, 0, sizeof(src));
	if (o->jobfile) {
		ret = tf_jobfile_open(&jf, o->jobfile);
		if (ret == 0) {
			ret = tf_jobfile_scan(&jf);
			if (ret < 0)
				tf_jobfile_close(&jf);
		}
		if (ret < 0) {
			tf_error("%s", jf.errmsg);
			stop_workers(comm);
			return TF_EXIT_USAGE;
		}
		src.next = jobfile_next;
		src.errmsg = jobfile_errmsg;
		src.ctx = &jf;
		src.ntasks = jf.ntasks;
	} else {
		ret = tf_template_init(&tmpl, o->tmpl_argc, o->tmpl_argv);
		if (ret < 0) {
			tf_error("%s", tmpl.errmsg);
			stop_workers(comm);
			return TF_EXIT_USAGE;
		}
		src.next = template_next;
		src.errmsg = template_errmsg;
		src.ctx = &tmpl;
		src.ntasks = tmpl.ntasks;
	}
	if (o->dry_run) {
		stop_workers(comm);
		code = dry_run(&src);
		goto out;
	}
	journal = journal_path(o);
	if (journal && prepare_journal(journal) < 0) {
		stop_workers(comm);
		code = TF_EXIT_USAGE;
		goto out;
	}
	code = tf__master_run(o, comm, &src, journal);
out:
	free(journal);
	if (o->jobfile)
		tf_jobfile_close(&jf);
	else
		tf_template_release(&tmpl);
	return code;
}

int tf_farm_run(const struct tf_farm_opts *o, int *argc, char ***argv)
{
	struct tf_comm comm;
	int code, ret;

	tf__log_level = o->verbose;
	ret = tf_comm_init(&comm, argc, argv, o->comm_mode);
	if (ret < 0) {
		tf_error("cannot initialise MPI");
		return TF_EXIT_INTERNAL;
	}
	if (comm.use_mpi)
		tf__log_rank = comm.rank;
	if (comm.rank == 0)
		code = run_master(o, &comm);
	else
		code = tf__worker_run(o, &comm);
	ret = tf_comm_finalize(&comm);
	if (ret < 0 && code == TF_EXIT_OK)
		code = TF_EXIT_INTERNAL;
	return code;
}
