/*
 * The taskfarm program: parse the command line into farm options and run
 * the farm. Everything else is the library's code (libtaskfarm_core,
 * linked statically here).
 */
#include "config.h"

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/comm.h"
#include "core/util.h"
#include "farm/run.h"
#include "farm/limits.h"
#include "farm/subcmd.h"
#include "taskfarm.h"

/* --help: the lines above and below the options' (opts[]). */
static const char usage_head[] =
	"usage: taskfarm [OPTIONS] JOBFILE\n"
	"       taskfarm [OPTIONS] -- COMMAND [ARGS...] ::: VALUES... [::: VALUES...] [:::: FILE...]\n"
	"       taskfarm [OPTIONS] -a FILE [-a FILE...] COMMAND [ARGS...] [::: VALUES...]\n"
	"       mpirun -n N taskfarm [OPTIONS] JOBFILE\n"
	"       taskfarm report JOURNAL [-o FILE.html]   (taskfarm report --help)\n"
	"       taskfarm status JOURNAL [--json]         (taskfarm status --help)\n"
	"\n"
	"Runs every line of JOBFILE (\"-\" for standard input) as a shell command,\n"
	"spread over the MPI ranks: rank 0 is the master, the others are workers.\n"
	"Standard input or a pipe streams: each line runs once it has arrived.\n"
	"Without a launcher, or with one rank, the tasks run on the local cores.\n"
	"\n"
	"Options:\n";

static const char usage_tail[] =
	"\n"
	"Template mode: {} all arguments, {1} {2}... one per input source ({-1}: the\n"
	"last), {#} the task id, {%} the slot; {.} {/} {//} {/.} (and {1.} {1/}...)\n"
	"the argument without its extension, its base name, its directory, its\n"
	"base name without extension, as in GNU parallel; arguments are\n"
	"shell-quoted; with no replacement string, the arguments are appended.\n"
	":::+ and ::::+ link a source to the one before: they advance together,\n"
	"and the shortest sets the count.\n"
	"\n"
	"Every task runs as /bin/sh -c COMMAND with TASKFARM_TASK_ID, TASKFARM_ATTEMPT,\n"
	"TASKFARM_RANK, TASKFARM_SLOT, TASKFARM_HOST (SLURMD_NODENAME under Slurm)\n"
	"and TASKFARM_NTASKS set (unset while the total is unknown: a stream).\n"
	"\n"
	"Exit status: 0 all tasks succeeded; 1 some task failed (or --halt on\n"
	"failures, or --resume skipped failed ones); 2 usage or input error (no\n"
	"task started; in a stream, a bad line: the tasks before it ran);\n"
	"3 interrupted by a signal or --deadline, or every worker rank lost (tasks\n"
	"remain; --resume continues); 4 internal error (MPI, I/O, results not\n"
	"journaled, a task's output lost: output-lost in the\n"
	"journal, --resume reruns it). A lost rank alone changes no code.\n"
	"To survive a lost rank, the launcher must let the others run: mpirun\n"
	"--enable-recovery (Open MPI), srun --no-kill --kill-on-bad-exit=0 (Slurm).\n";

/* Under a launcher, print only on the first rank (the others would say
 * the same thing again). */
static int is_first_rank(void)
{
	static const char *const vars[] = { "OMPI_COMM_WORLD_RANK",
					    "PMIX_RANK", "PMI_RANK",
					    "SLURM_PROCID", NULL };
	int i;

	for (i = 0; vars[i]; i++) {
		const char *v = getenv(vars[i]);
		if (v)
			return atoi(v) == 0;
	}
	return 1;
}

/* A usage error: say so once and leave with code 2, having passed
 * through MPI_Init and MPI_Finalize under a launcher so that it does not
 * report a crash. */
static int usage_error(int *argc, char ***argv, const char *fmt,
		       const char *arg)
{
	if (is_first_rank()) {
		fprintf(stderr, "taskfarm: ");
		fprintf(stderr, fmt, arg);
		fprintf(stderr, "\nTry 'taskfarm --help'.\n");
	}
	if (tf_comm_launcher_detected()) {
		struct tf_comm c;
		if (tf_comm_init(&c, argc, argv, TF_COMM_MPI) == 0)
			tf_comm_finalize(&c);
	}
	return TF_EXIT_USAGE;
}

/* How an option's value is taken. */
enum opt_kind {
	OPT_FLAG,    /* no value: stores value into an int field */
	OPT_COUNT,   /* no value: adds one to an int field */
	OPT_INT,     /* a whole number in [min, max] into an int field */
	OPT_UINT,    /* the same into an unsigned field */
	OPT_SECONDS, /* a duration (tf_parse_duration()) into a double */
	OPT_STRING,  /* kept as given, into a const char * field; refused
		      * empty when bad is set */
	OPT_CUSTOM,  /* set() takes it */
	OPT_HELP,
	OPT_VERSION
};

/*
 * One row per option: what getopt_long() is told, how the value is
 * checked and stored, the message for a refused value (a format with one
 * %s, the value) and the --help lines. Parsing, validation and --help
 * all come from this table.
 */
struct opt {
	const char *name;    /* the long name, without "--" */
	int short_name;      /* 0: none */
	enum opt_kind kind;
	size_t field;        /* offsetof(struct tf_farm_opts, ...) */
	long min, max;       /* OPT_INT, OPT_UINT: the range; OPT_FLAG:
			      * min is the value stored */
	int (*set)(struct tf_farm_opts *o, const char *arg); /* 0 or < 0 */
	const char *metavar; /* the value in --help; NULL: takes none */
	const char *bad;     /* the usage error for a refused value */
	const char *label;   /* --help's left column, if not the usual */
	const char *help;    /* lines after the first start at column 26;
			      * NULL: shown with the row before */
};

#define FIELD(f) offsetof(struct tf_farm_opts, f)

static int set_timeout(struct tf_farm_opts *o, const char *arg)
{
	return tf_timeout_parse(arg, &o->timeout);
}

static int set_heartbeat(struct tf_farm_opts *o, const char *arg)
{
	double d;

	if (tf_parse_duration(arg, &d) < 0 || (d > 0 && d < 0.5))
		return TF_EINVAL;
	o->heartbeat = d;
	return 0;
}

static int set_halt(struct tf_farm_opts *o, const char *arg)
{
	return tf_halt_parse(arg, &o->halt);
}

static int set_deadline(struct tf_farm_opts *o, const char *arg)
{
	return tf_deadline_parse(arg, tf_wallclock(), &o->deadline);
}

static int set_resume_failed(struct tf_farm_opts *o, const char *arg)
{
	o->resume = 1;
	o->resume_failed = 1;
	return 0;
}

/*
 * -j/--jobs, GNU parallel's forms: N; +N and -N, this rank's online
 * cores plus or minus N; P%, P percent of them, rounded up. A relative
 * form that comes to less than 1 gives 1, so that ranks with fewer cores
 * do not refuse what others accept. 0 (parallel: no limit) and a file
 * name are refused.
 */
static int set_jobs(struct tf_farm_opts *o, const char *arg)
{
	long cores = tf__ncores(), v;
	size_t len = strlen(arg);

	if (len > 1 && arg[len - 1] == '%') {
		char num[32];

		if (len - 1 >= sizeof(num))
			return TF_EINVAL;
		memcpy(num, arg, len - 1);
		num[len - 1] = '\0';
		if (tf_parse_long(num, 1, 100000, &v) < 0)
			return TF_EINVAL;
		v = (cores * v + 99) / 100;
	} else if (arg[0] == '+' || arg[0] == '-') {
		if (tf_parse_long(arg + 1, 0, 100000, &v) < 0)
			return TF_EINVAL;
		v = arg[0] == '+' ? cores + v : cores - v;
		if (v < 1)
			v = 1;
	} else if (tf_parse_long(arg, 1, 100000, &v) < 0) {
		return TF_EINVAL;
	}
	o->slots = (int)(v > 100000 ? 100000 : v);
	return 0;
}

/* --joblog FILE, or +FILE to append (parallel's spelling). */
static int set_joblog(struct tf_farm_opts *o, const char *arg)
{
	o->joblog_append = arg[0] == '+';
	o->joblog = arg + o->joblog_append;
	if (!*o->joblog || strcmp(o->joblog, "-") == 0)
		return TF_EINVAL;
	return 0;
}

/* The -a list, freed at exit whichever way main() returns (a usage
 * error returns early). */
static char **arg_files_list;

static void free_arg_files(void)
{
	free(arg_files_list);
	arg_files_list = NULL;
}

/* -a FILE, given again for every file. */
static int set_arg_file(struct tf_farm_opts *o, const char *arg)
{
	static size_t alloc; /* o is the program's one set of options */

	if (!*arg)
		return TF_EINVAL;
	if (!alloc)
		atexit(free_arg_files);
	tf__grow((void **)&o->arg_files, &alloc, o->narg_files + 1,
		 sizeof(*o->arg_files));
	arg_files_list = o->arg_files;
	o->arg_files[o->narg_files++] = (char *)arg;
	return 0;
}

static const struct opt opts[] = {
	{ "slots", 's', OPT_INT, FIELD(slots), 1, 100000, NULL, "N",
	  "--slots takes a whole number from 1 to 100000, not '%s'", NULL,
	  "tasks at once per rank (default: under Slurm,\n"
	  "SLURM_CPUS_PER_TASK, or SLURM_CPUS_ON_NODE for a\n"
	  "rank alone on its node; else 1, or the number of\n"
	  "online cores with a single rank)" },
	{ "master-slots", 0, OPT_INT, FIELD(master_slots), 0, 100000, NULL,
	  "N", "--master-slots takes a whole number from 0 to 100000, not '%s'",
	  NULL,
	  "tasks the master runs itself beside its workers\n"
	  "(default: its slots when it has more than one,\n"
	  "else 0; alone, it overrides --slots and is at\n"
	  "least 1)" },
	{ "gpus-per-slot", 0, OPT_INT, FIELD(gpus_per_slot), 1, 1024, NULL,
	  "K", "--gpus-per-slot takes a whole number from 1 to 1024, not '%s'",
	  NULL,
	  "give each slot K GPUs of the rank's list\n"
	  "(CUDA_VISIBLE_DEVICES, else SLURM_STEP_GPUS,\n"
	  "SLURM_JOB_GPUS, GPU_DEVICE_ORDINAL): slot S (from\n"
	  "1) runs its tasks with CUDA_VISIBLE_DEVICES and\n"
	  "HIP_VISIBLE_DEVICES set to its entries (S-1)*K\n"
	  "to S*K-1, from 0; default slots are cut to fit" },
	{ "bind", 0, OPT_FLAG, FIELD(bind), 1, 0, NULL, NULL, NULL, NULL,
	  "pin each slot to its own cores of the rank's\n"
	  "allowed set (sched_getaffinity, which Slurm's\n"
	  "cgroup narrows): a task of #TASKFARM slots N\n"
	  "runs on its N slots' cores" },
	{ "exact-maxrss", 0, OPT_FLAG, FIELD(exact_maxrss), 1, 0, NULL, NULL,
	  NULL, NULL,
	  "start every task from a small helper process, so\n"
	  "its MaxRSS is its own, not at least this rank's\n"
	  "peak (done anyway past a 64 MiB peak; costs a\n"
	  "round trip per task)" },
	{ "journal", 0, OPT_STRING, FIELD(journal), 0, 0, NULL, "FILE",
	  "--journal needs a file name", NULL,
	  "the journal (default: JOBFILE's name without its\n"
	  "extension + .journal.tsv, or taskfarm.journal.tsv)" },
	{ "no-journal", 0, OPT_FLAG, FIELD(no_journal), 1, 0, NULL, NULL, NULL,
	  NULL, "write no journal" },
	{ "journal-sync", 0, OPT_SECONDS, FIELD(journal_sync), 0, 0, NULL,
	  "SEC", "--journal-sync takes seconds, not '%s'", NULL,
	  "seconds between journal fsyncs (default 1)" },
	{ "jobs", 'j', OPT_CUSTOM, 0, 0, 0, set_jobs, "N",
	  "--jobs takes N (1 to 100000), +N, -N or P%% (of this rank's "
	  "cores), not '%s'",
	  NULL,
	  "tasks at once per rank, as GNU parallel's -j: N,\n"
	  "or +N, -N, P% of the rank's online cores (at\n"
	  "least 1); the same as --slots" },
	{ "joblog", 0, OPT_CUSTOM, 0, 0, 0, set_joblog, "FILE",
	  "--joblog needs a file name (+FILE appends; standard output is "
	  "not supported), not '%s'",
	  NULL,
	  "also write GNU parallel's joblog to FILE (emptied\n"
	  "first unless --resume or +FILE): one line per\n"
	  "task, for parallel's --resume, --resume-failed,\n"
	  "--retry-failed" },
	{ "results", 0, OPT_STRING, FIELD(results_dir), 0, 0, NULL, "DIR",
	  "--results needs a directory", NULL,
	  "write each task's output to DIR/ID.out, DIR/ID.err" },
	{ "tag", 0, OPT_FLAG, FIELD(tag), 1, 0, NULL, NULL, NULL, NULL,
	  "prefix every output line with the task id and a tab" },
	{ "tagstring", 0, OPT_STRING, FIELD(tagstring), 0, 0, NULL, "STR",
	  NULL, NULL,
	  "prefix every output line with STR and a tab,\n"
	  "rendered per task as the command is ({} {1} {#}\n"
	  "{%}; from a job file only {#} and {%})" },
	{ "keep-order", 'k', OPT_FLAG, FIELD(keep_order), 1, 0, NULL, NULL,
	  NULL, NULL,
	  "output in task order, not as tasks finish (held\n"
	  "output counts against the writer's bound, which\n"
	  "pauses new tasks)" },
	{ "line-buffer", 0, OPT_FLAG, FIELD(line_buffer), 1, 0, NULL, NULL,
	  NULL, NULL,
	  "write each whole line of a task's output as it\n"
	  "comes (from worker ranks too), a partial line\n"
	  "held until its newline or the task's end" },
	{ "bar", 0, OPT_FLAG, FIELD(bar), 1, 0, NULL, NULL, NULL, NULL,
	  "the progress line with its bar, even when standard\n"
	  "error is no terminal (then 80 columns or $COLUMNS)" },
	{ "eta", 0, OPT_FLAG, FIELD(eta), 1, 0, NULL, NULL, NULL, NULL,
	  "the progress line (as --progress), whose ETA is\n"
	  "the tasks left over the rate so far" },
	{ "follow", 0, OPT_FLAG, FIELD(follow), 1, 0, NULL, NULL, NULL, NULL,
	  "read JOBFILE as its producer appends to it: each\n"
	  "line runs once it is whole, until a line\n"
	  "'#TASKFARM end' (or a signal: exit 3, resumable)" },
	{ "no-stream", 0, OPT_FLAG, FIELD(no_stream), 1, 0, NULL, NULL, NULL,
	  NULL,
	  "read standard input or a pipe whole and validate\n"
	  "it before any task starts (default: each line\n"
	  "starts as soon as it arrives and a slot is free)" },
	{ "dry-run", 'n', OPT_FLAG, FIELD(dry_run), 1, 0, NULL, NULL, NULL,
	  NULL, "print the commands that would run, run nothing" },
	{ "progress", 0, OPT_FLAG, FIELD(progress), 1, 0, NULL, NULL, NULL,
	  NULL, "a live progress line on standard error" },
	{ "no-progress", 0, OPT_FLAG, FIELD(progress), 0, 0, NULL, NULL, NULL,
	  NULL, "no live progress line (default: only on a terminal)" },
	{ "status-interval", 0, OPT_SECONDS, FIELD(status_interval), 0, 0,
	  NULL, "SEC", "--status-interval takes seconds, not '%s'", NULL,
	  "a status line every SEC seconds when no live\n"
	  "progress line is shown (default 60; 0: none)" },
	{ "timeout", 't', OPT_CUSTOM, 0, 0, 0, set_timeout, "SEC|P%",
	  "--timeout takes seconds (30, 1.5m) or a percentage of the median "
	  "run time (200%%), not '%s'",
	  NULL,
	  "stop a task after SEC seconds, or after P% of the\n"
	  "median run time of the tasks that succeeded so\n"
	  "far (journaled as timeout)" },
	{ "retries", 'r', OPT_UINT, FIELD(retries), 0, 1000000, NULL, "N",
	  "--retries takes a whole number from 0 to 1000000, not '%s'", NULL,
	  "run a failed task up to N more times, on another\n"
	  "rank when there is one (default 0)" },
	{ "halt", 0, OPT_CUSTOM, 0, 0, 0, set_halt, "POLICY",
	  "--halt takes never, or now|soon,fail|success=N or =P%%, not '%s'",
	  NULL,
	  "never (default), or now|soon,fail|success=N|P%:\n"
	  "stop after N (or P% of all) tasks failed or\n"
	  "succeeded; now stops running tasks, soon lets\n"
	  "them finish" },
	{ "grace", 0, OPT_SECONDS, FIELD(grace), 0, 0, NULL, "SEC",
	  "--grace takes seconds, not '%s'", NULL,
	  "seconds between TERM and KILL when tasks are\n"
	  "stopped (default 5)" },
	{ "drain-grace", 0, OPT_SECONDS, FIELD(drain_grace), 0, 0, NULL, "SEC",
	  "--drain-grace takes seconds, not '%s'", NULL,
	  "on SIGTERM/SIGINT/SIGUSR1/SIGUSR2, seconds running\n"
	  "tasks get to finish before they are stopped\n"
	  "(default 2)" },
	{ "heartbeat", 0, OPT_CUSTOM, 0, 0, 0, set_heartbeat, "SEC",
	  "--heartbeat takes seconds, 0 or at least 0.5, not '%s'", NULL,
	  "a rank that sends nothing for SEC seconds is lost\n"
	  "(default 30; 0: only a rank whose process is seen\n"
	  "to end on this machine); its tasks are journaled\n"
	  "lost and run elsewhere" },
	{ "lost-limit", 0, OPT_UINT, FIELD(lost_limit), 1, 1000000, NULL, "N",
	  "--lost-limit takes a whole number from 1 to 1000000, not '%s'",
	  NULL,
	  "give a task up (failed) after N attempts lost\n"
	  "with their rank (default 3); no --retries used" },
	{ "deadline", 0, OPT_CUSTOM, 0, 0, 0, set_deadline, "TIME",
	  "--deadline takes HH:MM[:SS], YYYY-MM-DDTHH:MM[:SS], +DURATION or "
	  "@EPOCH, not '%s'",
	  NULL,
	  "drain at TIME (HH:MM[:SS], YYYY-MM-DDTHH:MM[:SS],\n"
	  "+DURATION or @EPOCH), and start no task that would\n"
	  "not finish by then, judging by run times so far" },
	{ "resume", 0, OPT_FLAG, FIELD(resume), 1, 0, NULL, NULL, NULL, NULL,
	  "skip tasks whose success is in the journal (and\n"
	  "failed ones, which make the exit status 1)" },
	{ "resume-failed", 0, OPT_CUSTOM, 0, 0, 0, set_resume_failed, NULL,
	  NULL, NULL, "... and run failed ones again" },
	{ "force", 0, OPT_FLAG, FIELD(force), 1, 0, NULL, NULL, NULL, NULL,
	  "resume even though the job source changed, or\n"
	  "the journal's .meta is missing or damaged" },
	{ "status-file", 0, OPT_STRING, FIELD(status_file), 0, 0, NULL, "FILE",
	  NULL, NULL,
	  "write the exit status to FILE at the end, for\n"
	  "launchers that lose it (mpirun --enable-recovery,\n"
	  "srun after a lost rank)" },
	{ "summary-json", 0, OPT_STRING, FIELD(summary_json), 0, 0, NULL,
	  "FILE", "--summary-json needs a file name", NULL,
	  "write the closing summary to FILE as JSON: the\n"
	  "counts, seconds, per rank figures, exit status" },
	{ "arg-file", 'a', OPT_CUSTOM, 0, 0, 0, set_arg_file, "FILE",
	  "--arg-file needs a file name", NULL,
	  "an input source, as :::: FILE, before those after\n"
	  "the command (which then needs no :::); repeat it\n"
	  "for more files" },
	{ "colsep", 0, OPT_STRING, FIELD(colsep), 0, 0, NULL, "REGEX",
	  "--colsep needs a regular expression", NULL,
	  "split every template argument into columns at\n"
	  "REGEX (POSIX extended, with Perl's \\t \\s \\d \\w):\n"
	  "{1} {2}... are the columns, numbered on across\n"
	  "the sources, as in GNU parallel" },
	{ "mpi", 0, OPT_FLAG, FIELD(comm_mode), TF_COMM_MPI, 0, NULL, NULL,
	  NULL, "--mpi, --no-mpi",
	  "force MPI on or off (default: on under a launcher)" },
	{ "no-mpi", 0, OPT_FLAG, FIELD(comm_mode), TF_COMM_NONE, 0, NULL, NULL,
	  NULL, NULL, NULL },
	{ "quiet", 'q', OPT_FLAG, FIELD(quiet), 1, 0, NULL, NULL, NULL, NULL,
	  "no progress, status, failure warnings or summary" },
	{ "verbose", 'v', OPT_COUNT, FIELD(verbose), 0, 0, NULL, NULL, NULL,
	  NULL, "more messages (twice: debug)" },
	{ "help", 'h', OPT_HELP, 0, 0, 0, NULL, NULL, NULL, NULL, "this text" },
	{ "version", 'V', OPT_VERSION, 0, 0, 0, NULL, NULL, NULL, NULL,
	  "the version" },
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))
/* --help: where an option's text starts. */
#define HELP_COLUMN 26

/* Prints --help, built from opts[]. */
static void print_usage(FILE *f)
{
	size_t i;

	fputs(usage_head, f);
	for (i = 0; i < NOPTS; i++) {
		const struct opt *p = &opts[i];
		const char *h = p->help, *nl;
		char left[64];
		int n;

		if (!h)
			continue;
		if (p->label)
			n = snprintf(left, sizeof(left), "      %s", p->label);
		else if (p->short_name)
			n = snprintf(left, sizeof(left), "  -%c, --%s%s%s",
				     p->short_name, p->name,
				     p->metavar ? " " : "",
				     p->metavar ? p->metavar : "");
		else
			n = snprintf(left, sizeof(left), "      --%s%s%s",
				     p->name, p->metavar ? " " : "",
				     p->metavar ? p->metavar : "");
		/* A long left column keeps two spaces before the text. */
		fprintf(f, "%-*s", n < HELP_COLUMN - 1 ? HELP_COLUMN : n + 2,
			left);
		while ((nl = strchr(h, '\n'))) {
			fprintf(f, "%.*s\n%*s", (int)(nl - h), h, HELP_COLUMN,
				"");
			h = nl + 1;
		}
		fprintf(f, "%s\n", h);
	}
	fputs(usage_tail, f);
}

/* getopt_long()'s tables, from opts[]: a row's code is its short name,
 * or 256 + its index. */
static void build_getopt(struct option *longs, char *shorts, int stop_early)
{
	size_t i, k = 0;

	if (stop_early)
		shorts[k++] = '+';
	for (i = 0; i < NOPTS; i++) {
		const struct opt *p = &opts[i];
		int has_arg = p->metavar ? required_argument : no_argument;

		longs[i].name = p->name;
		longs[i].has_arg = has_arg;
		longs[i].flag = NULL;
		longs[i].val = p->short_name ? p->short_name : 256 + (int)i;
		if (p->short_name) {
			shorts[k++] = (char)p->short_name;
			if (has_arg == required_argument)
				shorts[k++] = ':';
		}
	}
	memset(&longs[NOPTS], 0, sizeof(longs[NOPTS]));
	shorts[k] = '\0';
}

/* The row of getopt_long()'s code c, or NULL. */
static const struct opt *find_opt(int c)
{
	size_t i;

	if (c >= 256 && (size_t)(c - 256) < NOPTS)
		return &opts[c - 256];
	for (i = 0; c > 0 && i < NOPTS; i++)
		if (opts[i].short_name == c)
			return &opts[i];
	return NULL;
}

/* Stores an option's value. Returns 0, or < 0 when it is refused. */
static int apply_opt(const struct opt *p, struct tf_farm_opts *o,
		     const char *arg)
{
	char *field = (char *)o + p->field;
	double d;
	long v;

	switch (p->kind) {
	case OPT_FLAG:
		*(int *)field = (int)p->min;
		return 0;
	case OPT_COUNT:
		++*(int *)field;
		return 0;
	case OPT_INT:
	case OPT_UINT:
		if (tf_parse_long(arg, p->min, p->max, &v) < 0)
			return TF_EINVAL;
		if (p->kind == OPT_INT)
			*(int *)field = (int)v;
		else
			*(unsigned *)field = (unsigned)v;
		return 0;
	case OPT_SECONDS:
		if (tf_parse_duration(arg, &d) < 0)
			return TF_EINVAL;
		*(double *)field = d;
		return 0;
	case OPT_STRING:
		if (p->bad && !*arg)
			return TF_EINVAL;
		*(const char **)field = arg;
		return 0;
	case OPT_CUSTOM:
		return p->set(o, arg);
	default:
		return 0;
	}
}

static int is_sep(const char *s)
{
	return strcmp(s, ":::") == 0 || strcmp(s, "::::") == 0 ||
	       strcmp(s, ":::+") == 0 || strcmp(s, "::::+") == 0;
}

/* Whether the word s gives -a (--arg-file, an abbreviation of it, or a
 * cluster of short flags with -a in it): the command then follows the
 * options, and option parsing must stop there. */
static int gives_arg_file(const char *s)
{
	const struct opt *p;
	size_t n;

	if (strncmp(s, "--", 2) == 0) {
		n = strcspn(s + 2, "=");
		return n > 0 && strncmp(s + 2, "arg-file", n) == 0;
	}
	if (s[0] != '-')
		return 0;
	for (s++; *s; s++) {
		if (*s == 'a')
			return 1;
		p = find_opt((unsigned char)*s);
		if (!p || p->metavar)
			return 0; /* the rest is that option's value */
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct option longs[NOPTS + 1];
	char shorts[2 * NOPTS + 2];
	struct tf_farm_opts o;
	int c, i, rest, has_sep = 0;

	/* Only the program prints: the library's log lines go to stderr. */
	tf__log_set_sink(tf__log_stderr, NULL);
	/* A subcommand is the first word; a job file of that name is
	 * given as ./report. */
	if (argc > 1 && strcmp(argv[1], "report") == 0)
		return tf__cmd_report(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "status") == 0)
		return tf__cmd_status(argc - 1, argv + 1);
	tf_farm_opts_init(&o);
	/* Stop at ":::" too, so template words are not taken as options. */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (is_sep(argv[i]) || gives_arg_file(argv[i]))
			has_sep = 1;
	}
	build_getopt(longs, shorts, has_sep);
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		const struct opt *p = find_opt(c);

		if (!p)
			return usage_error(&argc, &argv, "%s",
					   "unknown option or missing value");
		if (p->kind == OPT_HELP) {
			if (is_first_rank())
				print_usage(stdout);
			return TF_EXIT_OK;
		}
		if (p->kind == OPT_VERSION) {
			if (is_first_rank())
				printf("taskfarm %s\n"
				       "Copyright (c) 2026 The taskfarm authors\n"
				       "License BSD-3-Clause "
				       "<https://spdx.org/licenses/BSD-3-Clause.html>.\n"
				       "There is NO WARRANTY, to the extent "
				       "permitted by law.\n",
				       tf_version());
			return TF_EXIT_OK;
		}
		if (apply_opt(p, &o, optarg) < 0)
			return usage_error(&argc, &argv, p->bad, optarg);
	}
	if (o.resume && o.no_journal)
		return usage_error(&argc, &argv, "%s",
				   "--resume needs a journal; it cannot go "
				   "with --no-journal");
	if (o.follow && o.no_stream)
		return usage_error(&argc, &argv, "%s",
				   "--follow reads the job file as it grows; "
				   "it cannot go with --no-stream");
	rest = argc - optind;
	has_sep = 0;
	for (i = optind; i < argc; i++)
		has_sep |= is_sep(argv[i]);
	/* "--" announces a command template, even one missing its ":::". */
	if (optind > 1 && strcmp(argv[optind - 1], "--") == 0)
		has_sep = 1;
	/* With -a, the words left are the command. */
	if (o.narg_files && rest == 0)
		return usage_error(&argc, &argv, "%s",
				   "--arg-file needs a command after the "
				   "options (to run a file's lines as "
				   "commands, give it as the job file)");
	if (o.narg_files)
		has_sep = 1;
	if (o.colsep && !has_sep)
		return usage_error(&argc, &argv, "%s",
				   "--colsep splits template arguments (-a, "
				   ":::, ::::); a job file's lines are "
				   "commands");
	if (has_sep && o.follow)
		return usage_error(&argc, &argv, "%s",
				   "--follow reads a job file; a command "
				   "template has none");
	if (has_sep) {
		o.tmpl_argc = rest;
		o.tmpl_argv = argv + optind;
	} else if (rest == 1) {
		o.jobfile = argv[optind];
	} else if (rest == 0) {
		return usage_error(&argc, &argv, "%s",
				   "no job file given (use - for standard "
				   "input)");
	} else {
		return usage_error(&argc, &argv,
				   "one job file expected, or a command with "
				   ":::; got '%s' and more",
				   argv[optind]);
	}
	c = tf_farm_run(&o, &argc, &argv);
	free_arg_files();
	return c;
}
