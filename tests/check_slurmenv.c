/*
 * Tests for what a rank is granted (slurmenv.c) and how its slots are
 * settled (tf__resolve_slots in run.c): Slurm's task-count lists, the
 * default slots from Slurm's variables with bad values skipped, the GPU
 * list, its slicing among slots and the fitting of slots to it. All pure
 * functions of strings: no Slurm, GPU or MPI is needed.
 */
#include "config.h"

#include "check_util.h"

#include "farm/exit.h"
#include "farm/exec.h"
#include "farm/run.h"
#include "farm/slurmenv.h"
#include "taskfarm.h"

/* ---- Task-count lists ---- */

START_TEST(test_tasks_on_node)
{
	/* srun(1): "2(x3),1": the first three nodes run two tasks each,
	 * the fourth one. */
	ck_assert_int_eq(tf_slurm_tasks_on_node("2(x3),1", 0), 2);
	ck_assert_int_eq(tf_slurm_tasks_on_node("2(x3),1", 2), 2);
	ck_assert_int_eq(tf_slurm_tasks_on_node("2(x3),1", 3), 1);
	ck_assert_int_eq(tf_slurm_tasks_on_node("2(x3),1", 4), 0);
	ck_assert_int_eq(tf_slurm_tasks_on_node("1", 0), 1);
	ck_assert_int_eq(tf_slurm_tasks_on_node("4,1,3", 1), 1);
	ck_assert_int_eq(tf_slurm_tasks_on_node("4,1,3", 2), 3);
	ck_assert_int_eq(tf_slurm_tasks_on_node("1(x12)", 11), 1);
	/* No node id: only an even list answers. */
	ck_assert_int_eq(tf_slurm_tasks_on_node("1(x4)", -1), 1);
	ck_assert_int_eq(tf_slurm_tasks_on_node("3,3(x2)", -1), 3);
	ck_assert_int_eq(tf_slurm_tasks_on_node("2,1", -1), 0);
}
END_TEST

START_TEST(test_tasks_on_node_malformed)
{
	static const char *const bad[] = { "",	   "x",	    "2(x",   "2(x3",
					   "2(y3)", "2(x0)", "2,,1",  "2,",
					   ",2",    "-1",    "2 ",    "2(x3)1",
					   "99999999999" };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(tf_slurm_tasks_on_node(bad[i], 0) == -1,
			      "'%s' accepted", bad[i]);
	ck_assert_int_eq(tf_slurm_tasks_on_node(NULL, 0), -1);
}
END_TEST

/* ---- Default slots ---- */

static int slots_of(const struct tf_slurm_env *e, const char *want_warn)
{
	struct tf_strbuf warn = TF_STRBUF_INIT;
	int n = tf_slurm_default_slots(e, &warn);

	if (want_warn)
		ck_assert_msg(warn.len && strstr(warn.buf, want_warn),
			      "warning '%s', want one naming %s",
			      warn.buf ? warn.buf : "", want_warn);
	else
		ck_assert_msg(warn.len == 0, "unexpected warning '%s'",
			      warn.buf);
	tf_strbuf_release(&warn);
	return n;
}

START_TEST(test_slots_outside_slurm)
{
	struct tf_slurm_env e;

	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(slots_of(&e, NULL), 0);
	e.single_rank = 1;
	ck_assert_int_eq(slots_of(&e, NULL), 0);
	ck_assert_int_eq(tf_slurm_default_slots(&e, NULL), 0);
}
END_TEST

START_TEST(test_slots_cpus_per_task)
{
	struct tf_slurm_env e;

	memset(&e, 0, sizeof(e));
	/* -c wins whatever the layout. */
	e.cpus_per_task = "6";
	e.cpus_on_node = "48";
	e.tasks_per_node = "4(x2)";
	e.nodeid = "1";
	ck_assert_int_eq(slots_of(&e, NULL), 6);
	e.tasks_per_node = "1(x2)";
	ck_assert_int_eq(slots_of(&e, NULL), 6);
	e.single_rank = 1;
	ck_assert_int_eq(slots_of(&e, NULL), 6);
}
END_TEST

START_TEST(test_slots_alone_on_node)
{
	struct tf_slurm_env e;

	memset(&e, 0, sizeof(e));
	e.cpus_on_node = "16";
	/* Layout unknown: no opinion. */
	ck_assert_int_eq(slots_of(&e, NULL), 0);
	/* One task on this node of an uneven step. */
	e.tasks_per_node = "4,1,2";
	e.nodeid = "1";
	ck_assert_int_eq(slots_of(&e, NULL), 16);
	e.nodeid = "0";
	ck_assert_int_eq(slots_of(&e, NULL), 0);
	e.nodeid = "2";
	ck_assert_int_eq(slots_of(&e, NULL), 0);
	/* An even list needs no node id. */
	e.tasks_per_node = "1(x3)";
	e.nodeid = NULL;
	ck_assert_int_eq(slots_of(&e, NULL), 16);
	e.tasks_per_node = "2(x3)";
	ck_assert_int_eq(slots_of(&e, NULL), 0);
	/* Only --ntasks-per-node known. */
	e.tasks_per_node = NULL;
	e.ntasks_per_node = "1";
	ck_assert_int_eq(slots_of(&e, NULL), 16);
	e.ntasks_per_node = "8";
	ck_assert_int_eq(slots_of(&e, NULL), 0);
	/* A single rank is alone whatever the job's task counts say (a
	 * batch script of -n 8 running taskfarm without srun). */
	e.tasks_per_node = "8";
	e.single_rank = 1;
	ck_assert_int_eq(slots_of(&e, NULL), 16);
}
END_TEST

START_TEST(test_slots_launcher_wins)
{
	struct tf_slurm_env e;

	memset(&e, 0, sizeof(e));
	e.cpus_on_node = "16";
	/* mpirun inside an allocation: Slurm's step (the daemons, one per
	 * node) says 1, but the launcher put two ranks here. */
	e.tasks_per_node = "1(x4)";
	e.nodeid = "0";
	e.local_ranks = "2";
	ck_assert_int_eq(slots_of(&e, NULL), 0);
	e.local_ranks = "1";
	e.tasks_per_node = "3";
	ck_assert_int_eq(slots_of(&e, NULL), 16);
	/* A launcher count that is not one is skipped. */
	e.local_ranks = "many";
	e.tasks_per_node = "1";
	ck_assert_int_eq(slots_of(&e, NULL), 16);
}
END_TEST

START_TEST(test_slots_bad_values_warn)
{
	static const char *const bad[] = { "", "x", "4x", "-2", "0", " 4",
					   "100001", "4.5" };
	struct tf_slurm_env e;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0, sizeof(e));
		/* A bad -c falls through to the node's CPUs. */
		e.cpus_per_task = bad[i];
		e.cpus_on_node = "8";
		e.single_rank = 1;
		ck_assert_int_eq(slots_of(&e, "SLURM_CPUS_PER_TASK"), 8);
		/* A bad node count leaves the built-in default. */
		e.cpus_per_task = NULL;
		e.cpus_on_node = bad[i];
		ck_assert_int_eq(slots_of(&e, "SLURM_CPUS_ON_NODE"), 0);
		/* A bad layout is no proof of being alone. */
		e.cpus_on_node = "8";
		e.single_rank = 0;
		e.ntasks_per_node = bad[i];
		ck_assert_int_eq(slots_of(&e, "SLURM_NTASKS_PER_NODE"), 0);
	}
	memset(&e, 0, sizeof(e));
	e.cpus_on_node = "8";
	e.tasks_per_node = "2(x";
	ck_assert_int_eq(slots_of(&e, "'2(x'"), 0);
}
END_TEST

START_TEST(test_slots_env_read)
{
	struct tf_slurm_env e;

	ck_assert_int_eq(setenv("SLURM_CPUS_ON_NODE", "12", 1), 0);
	ck_assert_int_eq(setenv("SLURM_TASKS_PER_NODE", "3(x2)", 1), 0);
	ck_assert_int_eq(setenv("SLURM_STEP_TASKS_PER_NODE", "1(x2)", 1), 0);
	ck_assert_int_eq(setenv("SLURM_NODEID", "1", 1), 0);
	ck_assert_int_eq(unsetenv("SLURM_CPUS_PER_TASK"), 0);
	ck_assert_int_eq(unsetenv("OMPI_COMM_WORLD_LOCAL_SIZE"), 0);
	ck_assert_int_eq(unsetenv("MPI_LOCALNRANKS"), 0);
	tf_slurm_env_read(&e);
	/* The step's layout before the job's. */
	ck_assert_str_eq(e.tasks_per_node, "1(x2)");
	ck_assert_int_eq(slots_of(&e, NULL), 12);
	ck_assert_int_eq(unsetenv("SLURM_STEP_TASKS_PER_NODE"), 0);
	tf_slurm_env_read(&e);
	ck_assert_int_eq(slots_of(&e, NULL), 0);
	ck_assert_int_eq(setenv("MPI_LOCALNRANKS", "1", 1), 0);
	tf_slurm_env_read(&e);
	ck_assert_int_eq(slots_of(&e, NULL), 12);
}
END_TEST

/* ---- GPUs ---- */

START_TEST(test_gpus_granted_order)
{
	static const char *const vars[] = { "CUDA_VISIBLE_DEVICES",
					    "SLURM_STEP_GPUS", "SLURM_JOB_GPUS",
					    "GPU_DEVICE_ORDINAL" };
	const char *src = "x";
	int i;

	for (i = 0; i < 4; i++)
		ck_assert_int_eq(unsetenv(vars[i]), 0);
	ck_assert_ptr_null(tf_gpus_granted(&src));
	ck_assert_ptr_null(src);
	/* Set from the last to the first: each one set takes over. */
	for (i = 3; i >= 0; i--) {
		char val[8];

		snprintf(val, sizeof(val), "%d,9", i);
		ck_assert_int_eq(setenv(vars[i], val, 1), 0);
		ck_assert_str_eq(tf_gpus_granted(&src), val);
		ck_assert_str_eq(src, vars[i]);
	}
	/* Set but empty is a list of none, not "unset". */
	ck_assert_int_eq(setenv("CUDA_VISIBLE_DEVICES", "", 1), 0);
	ck_assert_str_eq(tf_gpus_granted(&src), "");
	ck_assert_str_eq(src, "CUDA_VISIBLE_DEVICES");
}
END_TEST

START_TEST(test_gpus_count)
{
	ck_assert_int_eq(tf_gpus_count(NULL), 0);
	ck_assert_int_eq(tf_gpus_count(""), 0);
	ck_assert_int_eq(tf_gpus_count("0"), 1);
	ck_assert_int_eq(tf_gpus_count("0,1,2,3"), 4);
	ck_assert_int_eq(tf_gpus_count("0,,1,"), 2);
	ck_assert_int_eq(tf_gpus_count("GPU-8f2a,MIG-1c3e"), 2);
}
END_TEST

static void check_slice(const char *list, int slot, int k, const char *want)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	int ret = tf_gpus_slice(list, slot, k, &sb);

	if (want) {
		ck_assert_int_eq(ret, 0);
		ck_assert_str_eq(sb.buf, want);
	} else {
		ck_assert_int_eq(ret, TF_EINVAL);
		ck_assert_uint_eq(sb.len, 0);
	}
	tf_strbuf_release(&sb);
}

START_TEST(test_gpus_slice)
{
	check_slice("0,1,2,3", 0, 1, "0");
	check_slice("0,1,2,3", 3, 1, "3");
	check_slice("0,1,2,3", 0, 2, "0,1");
	check_slice("0,1,2,3", 1, 2, "2,3");
	check_slice("4,5,6,7,8,9", 1, 3, "7,8,9");
	check_slice("GPU-a,GPU-b", 1, 1, "GPU-b");
	check_slice("0,,1", 1, 1, "1");
	/* Past the end, or nonsense. */
	check_slice("0,1,2,3", 4, 1, NULL);
	check_slice("0,1,2,3", 2, 2, NULL);
	check_slice("0,1,2", 1, 2, NULL);
	check_slice("", 0, 1, NULL);
	check_slice("0,1", -1, 1, NULL);
	check_slice("0,1", 0, 0, NULL);
}
END_TEST

START_TEST(test_gpus_slices_disjoint)
{
	static const char list[] = "0,1,2,3,4,5,6,7";
	int k, s, seen[8];

	for (k = 1; k <= 8; k++) {
		memset(seen, 0, sizeof(seen));
		for (s = 0; s < 8 / k; s++) {
			struct tf_strbuf sb = TF_STRBUF_INIT;
			char *p, *save = NULL;
			int n = 0;

			ck_assert_int_eq(tf_gpus_slice(list, s, k, &sb), 0);
			for (p = strtok_r(sb.buf, ",", &save); p;
			     p = strtok_r(NULL, ",", &save), n++)
				seen[atoi(p)]++;
			ck_assert_int_eq(n, k);
			tf_strbuf_release(&sb);
		}
		/* Every id handed out at most once; all of them when k
		 * divides the list. */
		for (s = 0; s < 8; s++)
			ck_assert_int_eq(seen[s], s < (8 / k) * k ? 1 : 0);
	}
}
END_TEST

START_TEST(test_gpus_fit)
{
	ck_assert_int_eq(tf_gpus_fit(4, 0, 4, 1), 4);
	ck_assert_int_eq(tf_gpus_fit(2, 1, 4, 2), 2);
	/* A default is cut to fit... */
	ck_assert_int_eq(tf_gpus_fit(8, 0, 4, 1), 4);
	ck_assert_int_eq(tf_gpus_fit(8, 0, 5, 2), 2);
	ck_assert_int_eq(tf_gpus_fit(8, 0, 1, 2), 0);
	ck_assert_int_eq(tf_gpus_fit(8, 0, 0, 1), 0);
	/* ...an explicit count is not. */
	ck_assert_int_eq(tf_gpus_fit(3, 1, 4, 2), 0);
	ck_assert_int_eq(tf_gpus_fit(5, 1, 4, 1), 0);
	ck_assert_int_eq(tf_gpus_fit(1, 1, 0, 1), 0);
}
END_TEST

/* ---- Settling a rank's slots ---- */

static int resolve(const struct tf_farm_opts *o, int rank, int nranks,
		   int slurm, const char *gpus, struct tf_rank_slots *rs,
		   char *err)
{
	err[0] = '\0';
	return tf__resolve_slots(o, rank, nranks, slurm, gpus, rs, err, 512);
}

START_TEST(test_resolve_defaults)
{
	struct tf_farm_opts o;
	struct tf_rank_slots rs;
	char err[512];

	tf_farm_opts_init(&o);
	/* Alone: the cores, all run by the master. */
	ck_assert_int_eq(resolve(&o, 0, 1, 0, NULL, &rs, err), 0);
	ck_assert_int_eq(rs.slots, tf__ncores());
	ck_assert_int_eq(rs.master_slots, tf__ncores());
	/* Workers of one slot, a master that only dispatches. */
	ck_assert_int_eq(resolve(&o, 0, 4, 0, NULL, &rs, err), 0);
	ck_assert_int_eq(rs.slots, 1);
	ck_assert_int_eq(rs.master_slots, 0);
	ck_assert_int_eq(resolve(&o, 2, 4, 0, NULL, &rs, err), 0);
	ck_assert_int_eq(rs.slots, 1);
	/* One rank per node with Slurm's CPUs: the master works too. */
	ck_assert_int_eq(resolve(&o, 0, 4, 8, NULL, &rs, err), 0);
	ck_assert_int_eq(rs.slots, 8);
	ck_assert_int_eq(rs.master_slots, 8);
	ck_assert_int_eq(resolve(&o, 0, 1, 8, NULL, &rs, err), 0);
	ck_assert_int_eq(rs.master_slots, 8);
	/* --slots wins over Slurm, and makes a working master too. */
	o.slots = 2;
	ck_assert_int_eq(resolve(&o, 0, 2, 8, NULL, &rs, err), 0);
	ck_assert_int_eq(rs.slots, 2);
	ck_assert_int_eq(rs.master_slots, 2);
	/* --master-slots wins, 0 included. */
	o.master_slots = 0;
	ck_assert_int_eq(resolve(&o, 0, 2, 8, NULL, &rs, err), 0);
	ck_assert_int_eq(rs.master_slots, 0);
	o.master_slots = 3;
	ck_assert_int_eq(resolve(&o, 0, 2, 0, NULL, &rs, err), 0);
	ck_assert_int_eq(rs.master_slots, 3);
	/* Alone, the master runs at least one. */
	o.master_slots = 0;
	ck_assert_int_eq(resolve(&o, 0, 1, 0, NULL, &rs, err), 0);
	ck_assert_int_eq(rs.master_slots, 1);
}
END_TEST

START_TEST(test_resolve_gpus)
{
	struct tf_farm_opts o;
	struct tf_rank_slots rs;
	char err[512];

	tf_farm_opts_init(&o);
	o.gpus_per_slot = 1;
	/* Default slots cut to the list, on a worker... */
	ck_assert_int_eq(resolve(&o, 1, 2, 8, "0,1,2", &rs, err), 0);
	ck_assert_int_eq(rs.slots, 3);
	ck_assert_int_eq(rs.reduced, 1);
	ck_assert_int_eq(rs.gpus, 3);
	/* ...and on the master, alone or not. */
	ck_assert_int_eq(resolve(&o, 0, 1, 8, "0,1,2", &rs, err), 0);
	ck_assert_int_eq(rs.master_slots, 3);
	ck_assert_int_eq(rs.slots, 3);
	ck_assert_int_eq(resolve(&o, 0, 3, 8, "0,1", &rs, err), 0);
	ck_assert_int_eq(rs.master_slots, 2);
	ck_assert_int_eq(rs.reduced, 1);
	/* Enough: nothing cut. */
	ck_assert_int_eq(resolve(&o, 1, 2, 2, "0,1,2,3", &rs, err), 0);
	ck_assert_int_eq(rs.slots, 2);
	ck_assert_int_eq(rs.reduced, 0);
	/* A master of one slot runs nothing and needs no GPU. */
	ck_assert_int_eq(resolve(&o, 0, 2, 0, NULL, &rs, err), 0);
	ck_assert_int_eq(rs.master_slots, 0);
	/* No list at all. */
	ck_assert_int_eq(resolve(&o, 1, 2, 0, NULL, &rs, err), TF_EXIT_USAGE);
	ck_assert_msg(strstr(err, "no GPUs") && strstr(err, "CUDA_VISIBLE_DEVICES"),
		      "%s", err);
	/* Fewer GPUs than one slot needs, even by default. */
	o.gpus_per_slot = 2;
	ck_assert_int_eq(resolve(&o, 1, 2, 0, "0", &rs, err), TF_EXIT_USAGE);
	ck_assert_int_eq(resolve(&o, 1, 2, 0, "", &rs, err), TF_EXIT_USAGE);
	/* Explicit slots that do not fit: refused, naming the numbers. */
	o.slots = 3;
	ck_assert_int_eq(resolve(&o, 1, 2, 0, "0,1,2,3", &rs, err),
			 TF_EXIT_USAGE);
	ck_assert_msg(strstr(err, "--gpus-per-slot 2") &&
			      strstr(err, "3 slots") && strstr(err, "6 GPUs") &&
			      strstr(err, "only 4"),
		      "%s", err);
	ck_assert_int_eq(resolve(&o, 0, 1, 0, "0,1,2,3", &rs, err),
			 TF_EXIT_USAGE);
	o.slots = 2;
	ck_assert_int_eq(resolve(&o, 1, 2, 0, "0,1,2,3", &rs, err), 0);
	ck_assert_int_eq(rs.slots, 2);
	/* An explicit --master-slots too. */
	o.slots = 0;
	o.master_slots = 3;
	ck_assert_int_eq(resolve(&o, 0, 2, 0, "0,1,2,3", &rs, err),
			 TF_EXIT_USAGE);
}
END_TEST

/* The slices reach the tasks' environment, replacing the process's. */
static int finished;
static char outputs[2][64];

static void keep_output(void *ctx, struct tf_result *r)
{
	long n;

	(void)ctx;
	ck_assert(r->slot == 1 || r->slot == 2);
	n = tf_output_pread(&r->out, outputs[r->slot - 1],
			    sizeof(outputs[0]) - 1, 0);
	ck_assert(n >= 0);
	outputs[r->slot - 1][n] = '\0';
	finished++;
	tf_result_release(r);
}

START_TEST(test_exec_bind_gpus)
{
	static const char cmd[] =
		"echo $(env | grep -c '_VISIBLE_DEVICES=') "
		"$CUDA_VISIBLE_DEVICES $HIP_VISIBLE_DEVICES $TASKFARM_SLOT; "
		"sleep 0.2";
	struct tf_exec ex;
	int slot, i;

	ck_assert_int_eq(setenv("CUDA_VISIBLE_DEVICES", "inherited", 1), 0);
	ck_assert_int_eq(setenv("HIP_VISIBLE_DEVICES", "inherited", 1), 0);
	ck_assert_int_eq(tf_exec_init(&ex, 2, 0, "h", 0), 0);
	ck_assert_int_eq(tf_exec_bind_gpus(&ex, "0,1,2", 2), TF_EINVAL);
	ck_assert_int_eq(tf_exec_bind_gpus(&ex, "4,5,6,7", 2), 0);
	for (slot = 0; slot < 2; slot++) {
		struct tf_task t;

		memset(&t, 0, sizeof(t));
		t.id = (uint64_t)slot + 1;
		t.attempt = 1;
		t.cmd = tf__xstrdup(cmd);
		t.cmd_len = strlen(cmd);
		ck_assert_int_eq(tf_exec_start(&ex, &t), slot);
	}
	finished = 0;
	for (i = 0; i < 300 && finished < 2; i++)
		ck_assert_int_ge(tf_exec_wait(&ex, 0.1, keep_output, NULL), 0);
	ck_assert_int_eq(finished, 2);
	/* One value each, the slot's own. */
	ck_assert_str_eq(outputs[0], "2 4,5 4,5 1\n");
	ck_assert_str_eq(outputs[1], "2 6,7 6,7 2\n");
	tf_exec_release(&ex);
}
END_TEST

static Suite *slurmenv_suite(void)
{
	Suite *s = suite_create("slurmenv");
	TCase *tc;

	tc = tcase_create("tasks_per_node");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_tasks_on_node);
	tcase_add_test(tc, test_tasks_on_node_malformed);
	suite_add_tcase(s, tc);

	tc = tcase_create("default_slots");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_slots_outside_slurm);
	tcase_add_test(tc, test_slots_cpus_per_task);
	tcase_add_test(tc, test_slots_alone_on_node);
	tcase_add_test(tc, test_slots_launcher_wins);
	tcase_add_test(tc, test_slots_bad_values_warn);
	tcase_add_test(tc, test_slots_env_read);
	suite_add_tcase(s, tc);

	tc = tcase_create("gpus");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_gpus_granted_order);
	tcase_add_test(tc, test_gpus_count);
	tcase_add_test(tc, test_gpus_slice);
	tcase_add_test(tc, test_gpus_slices_disjoint);
	tcase_add_test(tc, test_gpus_fit);
	tcase_add_test(tc, test_exec_bind_gpus);
	suite_add_tcase(s, tc);

	tc = tcase_create("resolve");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_resolve_defaults);
	tcase_add_test(tc, test_resolve_gpus);
	suite_add_tcase(s, tc);

	return s;
}

TF_CHECK_MAIN(slurmenv_suite)
