/*
 * The options of one farm run, as the program (or another client) fills
 * them before tf_farm_run(); the master and worker loops read them.
 */
#ifndef TF_OPTS_H
#define TF_OPTS_H

#include <stddef.h>

#include "farm/limits.h"

struct tf_farm_opts {
	const char *jobfile;   /* NULL in template mode */
	int follow;            /* --follow: read the job file as it grows */
	int no_stream;         /* --no-stream: a pipe is read whole and
				* validated before any task starts */
	int tmpl_argc;         /* template mode: the words after "--" */
	char **tmpl_argv;
	char **arg_files;      /* -a FILE...: template sources before the
			        * others; the strings are not owned */
	size_t narg_files;
	const char *colsep;    /* --colsep REGEX: template arguments split
			        * into columns; NULL: not split */
	int slots;             /* tasks at once per worker rank; 0: default
			        * (Slurm's CPUs, else 1; alone: the cores) */
	int master_slots;      /* tasks the master runs itself; -1: default
			        * (its slots if more than one, else 0) */
	int gpus_per_slot;     /* GPUs bound to each slot; 0: none */
	int exact_maxrss;      /* every task through the spawn helper */
	int bind;              /* --bind: each slot on its own CPUs */
	const char *gpu_list;  /* set by tf_farm_run(): this rank's GPUs */
	int rank_max_slots;    /* set by tf_farm_run(): the most slots and */
	int rank_max_gpus;     /* GPUs of a rank that runs tasks */
	const char *journal;   /* NULL: the default path */
	int no_journal;
	double journal_sync;   /* seconds between journal fsyncs */
	const char *joblog;    /* --joblog: GNU parallel's joblog; NULL: none */
	int joblog_append;     /* --joblog +FILE: append even without --resume */
	const char *results_dir;
	int tag;
	/* Output and progress as GNU parallel's options: */
	const char *tagstring; /* --tagstring: rendered per task, prefixes
				* every output line */
	int keep_order;        /* -k: output in task order */
	int line_buffer;       /* --line-buffer */
	int bar;               /* --bar: the bar even off a terminal */
	int eta;               /* --eta: the live line, with its ETA */
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
	const char *summary_json; /* rank 0 writes the summary here, JSON */
	int comm_mode;         /* enum tf_comm_mode */
	int verbose;
};

/** Fills o with the defaults. */
void tf_farm_opts_init(struct tf_farm_opts *o);

#endif
