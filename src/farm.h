/*
 * The farm: the options of one run and the entry point that sets up
 * communication, reads the task source on rank 0 and runs the master or
 * worker loop. The taskfarm program is one client of this; the C API
 * will be another.
 */
#ifndef TF_FARM_H
#define TF_FARM_H

#include "comm.h"
#include "policy.h"

struct tf_farm_opts {
	const char *jobfile;   /* NULL in template mode */
	int tmpl_argc;         /* template mode: the words after "--" */
	char **tmpl_argv;
	int slots;             /* tasks at once per worker rank; 0: default
			        * (Slurm's CPUs, else 1; alone: the cores) */
	int master_slots;      /* tasks the master runs itself; -1: default
			        * (its slots if more than one, else 0) */
	int gpus_per_slot;     /* GPUs bound to each slot; 0: none */
	int exact_maxrss;      /* every task through the spawn helper */
	const char *gpu_list;  /* set by tf_farm_run(): this rank's GPUs */
	const char *journal;   /* NULL: the default path */
	int no_journal;
	double journal_sync;   /* seconds between journal fsyncs */
	const char *results_dir;
	int tag;
	int dry_run;
	int quiet;
	int progress;          /* -1: on a TTY only; 0 off; 1 on */
	double status_interval;/* seconds between status lines; 0: none */
	double grace;          /* seconds between TERM and KILL */
	double drain_grace;    /* seconds running tasks get in a drain */
	struct tf_timeout timeout; /* per-task time limit */
	unsigned retries;      /* further attempts after a failure */
	double heartbeat;      /* a rank silent this long is lost; 0: only
			        * a process seen to end is */
	unsigned lost_limit;   /* attempts of one task lost with their rank
			        * before it is given up */
	struct tf_halt halt;
	double deadline;       /* wall clock (epoch seconds); 0: none */
	int resume;            /* skip tasks whose success is journaled */
	int resume_failed;     /* ... and rerun failed ones */
	int force;             /* resume against a changed job source */
	const char *status_file; /* rank 0 writes its exit code here */
	int comm_mode;         /* enum tf_comm_mode */
	int verbose;
};

/** Fills o with the defaults. */
void tf_farm_opts_init(struct tf_farm_opts *o);

/**
 * Runs the farm on every rank: the master on rank 0, workers elsewhere.
 * Returns an exit code (enum tf_exit): the master's verdict on rank 0,
 * 0 on workers unless they fail themselves.
 */
int tf_farm_run(const struct tf_farm_opts *o, int *argc, char ***argv);

/* Internal: the two roles, run after tf_comm_init(). guard (may be
 * NULL) is told of every task's process group. */
struct tf_guard;
struct tf_source;
struct tf_history;
/* What --resume left out of the source, counted as the run reads it. */
struct tf_resume_counts {
	uint64_t skipped;       /* every task left out */
	uint64_t failed_before; /* of which journaled failed (not rerun
				 * without --resume-failed) */
};
/**
 * Runs the master. resumed counts the tasks the source left out because
 * the journal of an earlier run says they are done (--resume), and is
 * read as the run goes.
 */
int tf__master_run(const struct tf_farm_opts *o, struct tf_comm *comm,
		   struct tf_guard *guard, struct tf_source *src,
		   const char *journal_path, uint64_t journal_trim,
		   const struct tf_resume_counts *resumed);
/** Runs a worker. Returns 0, or TF_EXIT_INTERRUPTED when it lost its
 * master (its tasks are stopped). */
int tf__worker_run(const struct tf_farm_opts *o, struct tf_comm *comm,
		   struct tf_guard *guard);
/** Online cores, as the default number of slots on one rank. */
int tf__ncores(void);

/** What tf__resolve_slots() decides for one rank. */
struct tf_rank_slots {
	int slots;        /* tasks at once on this rank (a worker's) */
	int master_slots; /* on rank 0: tasks it runs beside its workers */
	int reduced;      /* slots were cut to fit the GPUs (warn) */
	int gpus;         /* GPUs in the granted list */
};

/**
 * Decides a rank's slots: --slots, else Slurm's default (slurm_slots, 0
 * if none), else 1, or the cores when the run has a single rank; the
 * master's own slots: --master-slots, else all its slots when alone,
 * else its slots when it has more than one. With --gpus-per-slot, the
 * slots are then cut to fit gpu_list (NULL: none granted) when they were
 * a default. Returns 0, or TF_EXIT_USAGE with a message in err.
 */
int tf__resolve_slots(const struct tf_farm_opts *o, int rank, int nranks,
		      int slurm_slots, const char *gpu_list,
		      struct tf_rank_slots *rs, char *err, size_t errlen);

#endif
