/*
 * The taskfarm program: parse the command line into farm options and run
 * the farm. Everything else lives in libtaskfarm.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/comm.h"
#include "core/util.h"
#include "farm/run.h"
#include "farm/limits.h"
#include "taskfarm.h"

static const char usage_text[] =
	"usage: taskfarm [OPTIONS] JOBFILE\n"
	"       taskfarm [OPTIONS] -- COMMAND [ARGS...] ::: VALUES... [::: VALUES...] [:::: FILE...]\n"
	"       mpirun -n N taskfarm [OPTIONS] JOBFILE\n"
	"\n"
	"Runs every line of JOBFILE (\"-\" for standard input) as a shell command,\n"
	"spread over the MPI ranks: rank 0 is the master, the others are workers.\n"
	"Without a launcher, or with one rank, the tasks run on the local cores.\n"
	"\n"
	"Options:\n"
	"  -s, --slots N           tasks at once per rank (default: under Slurm,\n"
	"                          SLURM_CPUS_PER_TASK, or SLURM_CPUS_ON_NODE for a\n"
	"                          rank alone on its node; else 1, or the number of\n"
	"                          online cores with a single rank)\n"
	"      --master-slots N    tasks the master runs itself beside its workers\n"
	"                          (default: its slots when it has more than one,\n"
	"                          else 0; alone, it overrides --slots and is at\n"
	"                          least 1)\n"
	"      --gpus-per-slot K   give each slot K GPUs of the rank's list\n"
	"                          (CUDA_VISIBLE_DEVICES, else SLURM_STEP_GPUS,\n"
	"                          SLURM_JOB_GPUS, GPU_DEVICE_ORDINAL): slot S (from\n"
	"                          1) runs its tasks with CUDA_VISIBLE_DEVICES and\n"
	"                          HIP_VISIBLE_DEVICES set to its entries (S-1)*K\n"
	"                          to S*K-1, from 0; default slots are cut to fit\n"
	"      --exact-maxrss      start every task from a small helper process, so\n"
	"                          its MaxRSS is its own, not at least this rank's\n"
	"                          peak (done anyway past a 64 MiB peak; costs a\n"
	"                          round trip per task)\n"
	"  -j, --journal FILE      the journal (default: JOBFILE's name without its\n"
	"                          extension + .journal.tsv, or taskfarm.journal.tsv)\n"
	"      --no-journal        write no journal\n"
	"      --journal-sync SEC  seconds between journal fsyncs (default 1)\n"
	"      --results DIR       write each task's output to DIR/ID.out, DIR/ID.err\n"
	"      --tag               prefix every output line with the task id and a tab\n"
	"  -n, --dry-run           print the commands that would run, run nothing\n"
	"      --progress          a live progress line on standard error\n"
	"      --no-progress       no live progress line (default: only on a terminal)\n"
	"      --status-interval SEC  a status line every SEC seconds when no live\n"
	"                          progress line is shown (default 60; 0: none)\n"
	"  -t, --timeout SEC|P%    stop a task after SEC seconds, or after P% of the\n"
	"                          median run time of the tasks that succeeded so\n"
	"                          far (journaled as timeout)\n"
	"  -r, --retries N         run a failed task up to N more times, on another\n"
	"                          rank when there is one (default 0)\n"
	"      --halt POLICY       never (default), or now|soon,fail|success=N|P%:\n"
	"                          stop after N (or P% of all) tasks failed or\n"
	"                          succeeded; now stops running tasks, soon lets\n"
	"                          them finish\n"
	"      --grace SEC         seconds between TERM and KILL when tasks are\n"
	"                          stopped (default 5)\n"
	"      --drain-grace SEC   on SIGTERM/SIGINT/SIGUSR1, seconds running tasks\n"
	"                          get to finish before they are stopped (default 2)\n"
	"      --heartbeat SEC     a rank that sends nothing for SEC seconds is lost\n"
	"                          (default 30; 0: only a rank whose process is seen\n"
	"                          to end on this machine); its tasks are journaled\n"
	"                          lost and run elsewhere\n"
	"      --lost-limit N      give a task up (failed) after N attempts lost\n"
	"                          with their rank (default 3); no --retries used\n"
	"      --deadline TIME     drain at TIME (HH:MM[:SS], YYYY-MM-DDTHH:MM[:SS],\n"
	"                          +DURATION or @EPOCH), and start no task that would\n"
	"                          not finish by then, judging by run times so far\n"
	"      --resume            skip tasks whose success is in the journal (and\n"
	"                          failed ones, which make the exit status 1)\n"
	"      --resume-failed     ... and run failed ones again\n"
	"      --force             resume even though the job source changed, or\n"
	"                          the journal's .meta is missing or damaged\n"
	"      --status-file FILE  write the exit status to FILE at the end, for\n"
	"                          launchers that lose it (mpirun --enable-recovery,\n"
	"                          srun after a lost rank)\n"
	"      --mpi, --no-mpi     force MPI on or off (default: on under a launcher)\n"
	"  -q, --quiet             no progress, status, failure warnings or summary\n"
	"  -v, --verbose           more messages (twice: debug)\n"
	"  -h, --help              this text\n"
	"  -V, --version           the version\n"
	"\n"
	"Template mode: {} all arguments, {1} {2}... one per input source, {#} the\n"
	"task id, {%} the slot; arguments are shell-quoted; with no replacement\n"
	"string, the arguments are appended.\n"
	"\n"
	"Every task runs as /bin/sh -c COMMAND with TASKFARM_TASK_ID, TASKFARM_ATTEMPT,\n"
	"TASKFARM_RANK, TASKFARM_SLOT, TASKFARM_HOST (SLURMD_NODENAME under Slurm)\n"
	"and TASKFARM_NTASKS set.\n"
	"\n"
	"Exit status: 0 all tasks succeeded; 1 some task failed (or --halt on\n"
	"failures, or --resume skipped failed ones); 2 usage or input error (no\n"
	"task started); 3 interrupted by a signal or --deadline, or every worker\n"
	"rank lost (tasks remain; --resume continues); 4 internal error (MPI,\n"
	"I/O, results not journaled, a task's output lost: output-lost in the\n"
	"journal, --resume reruns it). A lost rank alone changes no code.\n"
	"To survive a lost rank, the launcher must let the others run: mpirun\n"
	"--enable-recovery (Open MPI), srun --no-kill --kill-on-bad-exit=0 (Slurm).\n";

enum {
	OPT_MASTER_SLOTS = 256,
	OPT_GPUS_PER_SLOT,
	OPT_NO_JOURNAL,
	OPT_JOURNAL_SYNC,
	OPT_RESULTS,
	OPT_TAG,
	OPT_PROGRESS,
	OPT_NO_PROGRESS,
	OPT_STATUS_INTERVAL,
	OPT_GRACE,
	OPT_DRAIN_GRACE,
	OPT_HEARTBEAT,
	OPT_LOST_LIMIT,
	OPT_HALT,
	OPT_DEADLINE,
	OPT_RESUME,
	OPT_RESUME_FAILED,
	OPT_FORCE,
	OPT_STATUS_FILE,
	OPT_MPI,
	OPT_NO_MPI,
	OPT_EXACT_MAXRSS
};

static const struct option long_options[] = {
	{ "slots", required_argument, NULL, 's' },
	{ "master-slots", required_argument, NULL, OPT_MASTER_SLOTS },
	{ "gpus-per-slot", required_argument, NULL, OPT_GPUS_PER_SLOT },
	{ "exact-maxrss", no_argument, NULL, OPT_EXACT_MAXRSS },
	{ "journal", required_argument, NULL, 'j' },
	{ "no-journal", no_argument, NULL, OPT_NO_JOURNAL },
	{ "journal-sync", required_argument, NULL, OPT_JOURNAL_SYNC },
	{ "results", required_argument, NULL, OPT_RESULTS },
	{ "tag", no_argument, NULL, OPT_TAG },
	{ "dry-run", no_argument, NULL, 'n' },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
	{ "status-interval", required_argument, NULL, OPT_STATUS_INTERVAL },
	{ "grace", required_argument, NULL, OPT_GRACE },
	{ "drain-grace", required_argument, NULL, OPT_DRAIN_GRACE },
	{ "heartbeat", required_argument, NULL, OPT_HEARTBEAT },
	{ "lost-limit", required_argument, NULL, OPT_LOST_LIMIT },
	{ "timeout", required_argument, NULL, 't' },
	{ "retries", required_argument, NULL, 'r' },
	{ "halt", required_argument, NULL, OPT_HALT },
	{ "deadline", required_argument, NULL, OPT_DEADLINE },
	{ "resume", no_argument, NULL, OPT_RESUME },
	{ "resume-failed", no_argument, NULL, OPT_RESUME_FAILED },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "status-file", required_argument, NULL, OPT_STATUS_FILE },
	{ "mpi", no_argument, NULL, OPT_MPI },
	{ "no-mpi", no_argument, NULL, OPT_NO_MPI },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

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

static int is_sep(const char *s)
{
	return strcmp(s, ":::") == 0 || strcmp(s, "::::") == 0;
}

int main(int argc, char **argv)
{
	struct tf_farm_opts o;
	double d;
	long v;
	int c, i, rest, has_sep = 0;

	/* Only the program prints: the library's log lines go to stderr. */
	tf__log_set_sink(tf__log_stderr, NULL);
	tf_farm_opts_init(&o);
	/* Stop at ":::" too, so template words are not taken as options. */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (is_sep(argv[i]))
			has_sep = 1;
	}
	while ((c = getopt_long(argc, argv, has_sep ? "+s:j:t:r:nqvhV" : "s:j:t:r:nqvhV",
				long_options, NULL)) != -1) {
		switch (c) {
		case 's':
			if (tf_parse_long(optarg, 1, 100000, &v) < 0)
				return usage_error(&argc, &argv,
						   "--slots takes a whole number "
						   "from 1 to 100000, not '%s'",
						   optarg);
			o.slots = (int)v;
			break;
		case OPT_MASTER_SLOTS:
			if (tf_parse_long(optarg, 0, 100000, &v) < 0)
				return usage_error(&argc, &argv,
						   "--master-slots takes a whole "
						   "number from 0 to 100000, not "
						   "'%s'",
						   optarg);
			o.master_slots = (int)v;
			break;
		case OPT_GPUS_PER_SLOT:
			if (tf_parse_long(optarg, 1, 1024, &v) < 0)
				return usage_error(&argc, &argv,
						   "--gpus-per-slot takes a whole "
						   "number from 1 to 1024, not "
						   "'%s'",
						   optarg);
			o.gpus_per_slot = (int)v;
			break;
		case 'j':
			if (!*optarg)
				return usage_error(&argc, &argv,
						   "--journal needs a file name%s",
						   "");
			o.journal = optarg;
			break;
		case OPT_NO_JOURNAL:
			o.no_journal = 1;
			break;
		case OPT_JOURNAL_SYNC:
			if (tf_parse_duration(optarg, &d) < 0)
				return usage_error(&argc, &argv,
						   "--journal-sync takes seconds, "
						   "not '%s'",
						   optarg);
			o.journal_sync = d;
			break;
		case OPT_RESULTS:
			if (!*optarg)
				return usage_error(&argc, &argv,
						   "--results needs a directory%s",
						   "");
			o.results_dir = optarg;
			break;
		case OPT_TAG:
			o.tag = 1;
			break;
		case 'n':
			o.dry_run = 1;
			break;
		case OPT_PROGRESS:
			o.progress = 1;
			break;
		case OPT_NO_PROGRESS:
			o.progress = 0;
			break;
		case OPT_STATUS_INTERVAL:
			if (tf_parse_duration(optarg, &d) < 0)
				return usage_error(&argc, &argv,
						   "--status-interval takes "
						   "seconds, not '%s'",
						   optarg);
			o.status_interval = d;
			break;
		case OPT_GRACE:
			if (tf_parse_duration(optarg, &d) < 0)
				return usage_error(&argc, &argv,
						   "--grace takes seconds, not "
						   "'%s'",
						   optarg);
			o.grace = d;
			break;
		case OPT_DRAIN_GRACE:
			if (tf_parse_duration(optarg, &d) < 0)
				return usage_error(&argc, &argv,
						   "--drain-grace takes seconds, "
						   "not '%s'",
						   optarg);
			o.drain_grace = d;
			break;
		case 't':
			if (tf_timeout_parse(optarg, &o.timeout) < 0)
				return usage_error(&argc, &argv,
						   "--timeout takes seconds (30, "
						   "1.5m) or a percentage of the "
						   "median run time (200%%), not "
						   "'%s'",
						   optarg);
			break;
		case OPT_HEARTBEAT:
			if (tf_parse_duration(optarg, &d) < 0 ||
			    (d > 0 && d < 0.5))
				return usage_error(&argc, &argv,
						   "--heartbeat takes seconds, "
						   "0 or at least 0.5, not '%s'",
						   optarg);
			o.heartbeat = d;
			break;
		case OPT_LOST_LIMIT:
			if (tf_parse_long(optarg, 1, 1000000, &v) < 0)
				return usage_error(&argc, &argv,
						   "--lost-limit takes a whole "
						   "number from 1 to 1000000, not "
						   "'%s'",
						   optarg);
			o.lost_limit = (unsigned)v;
			break;
		case 'r':
			if (tf_parse_long(optarg, 0, 1000000, &v) < 0)
				return usage_error(&argc, &argv,
						   "--retries takes a whole number "
						   "from 0 to 1000000, not '%s'",
						   optarg);
			o.retries = (unsigned)v;
			break;
		case OPT_HALT:
			if (tf_halt_parse(optarg, &o.halt) < 0)
				return usage_error(&argc, &argv,
						   "--halt takes never, or "
						   "now|soon,fail|success=N or "
						   "=P%%, not '%s'",
						   optarg);
			break;
		case OPT_DEADLINE:
			if (tf_deadline_parse(optarg, tf_wallclock(),
					      &o.deadline) < 0)
				return usage_error(&argc, &argv,
						   "--deadline takes HH:MM[:SS], "
						   "YYYY-MM-DDTHH:MM[:SS], "
						   "+DURATION or @EPOCH, not '%s'",
						   optarg);
			break;
		case OPT_RESUME:
			o.resume = 1;
			break;
		case OPT_RESUME_FAILED:
			o.resume = 1;
			o.resume_failed = 1;
			break;
		case OPT_STATUS_FILE:
			o.status_file = optarg;
			break;
		case OPT_FORCE:
			o.force = 1;
			break;
		case OPT_MPI:
			o.comm_mode = TF_COMM_MPI;
			break;
		case OPT_NO_MPI:
			o.comm_mode = TF_COMM_NONE;
			break;
		case OPT_EXACT_MAXRSS:
			o.exact_maxrss = 1;
			break;
		case 'q':
			o.quiet = 1;
			break;
		case 'v':
			o.verbose++;
			break;
		case 'h':
			if (is_first_rank())
				fputs(usage_text, stdout);
			return TF_EXIT_OK;
		case 'V':
			if (is_first_rank())
				printf("taskfarm %s\n", tf_version());
			return TF_EXIT_OK;
		default:
			return usage_error(&argc, &argv, "%s",
					   "unknown option or missing value");
		}
	}
	if (o.resume && o.no_journal)
		return usage_error(&argc, &argv, "%s",
				   "--resume needs a journal; it cannot go "
				   "with --no-journal");
	rest = argc - optind;
	has_sep = 0;
	for (i = optind; i < argc; i++)
		has_sep |= is_sep(argv[i]);
	/* "--" announces a command template, even one missing its ":::". */
	if (optind > 1 && strcmp(argv[optind - 1], "--") == 0)
		has_sep = 1;
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
	return tf_farm_run(&o, &argc, &argv);
}
