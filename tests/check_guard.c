/*
 * Tests for the guardian (guard.c): groups in its table are stopped when
 * its owner dies, even by SIGKILL, and not once their slot is cleared;
 * a stopped task is continued so that TERM reaches it; a task that
 * ignores TERM gets KILL after the grace period; an orderly release with
 * nothing listed stops nothing. Real processes, no MPI.
 */
#include "config.h"

#include "check_util.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include "farm/guard.h"
#include "core/util.h"

extern char **environ;

/* Starts "/bin/sh -c script" in a process group of its own. */
static pid_t spawn_group(const char *script)
{
	char *argv[] = { "sh", "-c", (char *)script, NULL };
	posix_spawnattr_t attr;
	pid_t pid;

	ck_assert_int_eq(posix_spawnattr_init(&attr), 0);
	ck_assert_int_eq(posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP),
			 0);
	ck_assert_int_eq(posix_spawnattr_setpgroup(&attr, 0), 0);
	ck_assert_int_eq(posix_spawn(&pid, "/bin/sh", NULL, &attr, argv,
				     environ),
			 0);
	posix_spawnattr_destroy(&attr);
	return pid;
}

/* Waits up to seconds for group pg to be empty; returns whether it is. */
static int group_gone_within(pid_t pg, double seconds)
{
	double until = tf_now() + seconds;

	while (tf_now() < until) {
		/* Reap what is ours, so a zombie does not count. */
		while (waitpid(-pg, NULL, WNOHANG) > 0)
			;
		if (kill(-pg, 0) < 0 && errno == ESRCH)
			return 1;
		tf_sleep(0.02);
	}
	return 0;
}

static void kill_group(pid_t pg)
{
	kill(-pg, SIGKILL);
	ck_assert(group_gone_within(pg, 5));
}

START_TEST(test_release_stops_listed_groups)
{
	struct tf_guard g;
	pid_t a, b;

	ck_assert_int_eq(tf_guard_start(&g, 5), 0);
	ck_assert_int_ge(g.fd, 0);
	ck_assert_int_gt(g.pid, 0);
	/* A group with a grandchild: the whole group goes, not just sh. */
	a = spawn_group("sleep 60 & sleep 60; wait");
	b = spawn_group("sleep 60");
	tf_guard_set(&g, 3, a);
	tf_guard_set(&g, 0, b);
	/* b's slot was cleared, as at an orderly end: it is ours to stop,
	 * not the guardian's. */
	tf_guard_set(&g, 0, 0);
	tf_guard_release(&g);
	ck_assert_int_eq(g.fd, -1);
	ck_assert(group_gone_within(a, 5));
	tf_sleep(0.3);
	ck_assert_int_eq(kill(-b, 0), 0);
	kill_group(b);
}
END_TEST

START_TEST(test_owner_killed)
{
	int p[2];
	pid_t owner, pg = 0;
	int st;

	/* The owner, a child of ours, starts its guardian and a task, says
	 * the task's group, and waits to be killed. */
	ck_assert_int_eq(pipe(p), 0);
	owner = fork();
	ck_assert_int_ge(owner, 0);
	if (owner == 0) {
		struct tf_guard g;
		pid_t t;

		close(p[0]);
		if (tf_guard_start(&g, 5) < 0)
			_exit(1);
		t = spawn_group("sleep 60");
		tf_guard_set(&g, 7, t);
		if (write(p[1], &t, sizeof(t)) != sizeof(t))
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &pg, sizeof(pg)), (ssize_t)sizeof(pg));
	close(p[0]);
	ck_assert_int_eq(kill(-pg, 0), 0);
	ck_assert_int_eq(kill(owner, SIGKILL), 0);
	ck_assert_int_eq(waitpid(owner, &st, 0), owner);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	/* The task was the owner's child, now orphaned: only the guardian
	 * can have stopped it. */
	ck_assert_msg(group_gone_within(pg, 10),
		      "task group %d outlived its killed owner", (int)pg);
}
END_TEST

START_TEST(test_stopped_task_is_continued)
{
	struct tf_guard g;
	pid_t a;

	ck_assert_int_eq(tf_guard_start(&g, 30), 0);
	a = spawn_group("sleep 60");
	tf_guard_set(&g, 0, a);
	ck_assert_int_eq(kill(-a, SIGSTOP), 0);
	tf_guard_release(&g);
	/* Well before the 30 s grace: TERM with CONT ends it. */
	ck_assert(group_gone_within(a, 5));
}
END_TEST

START_TEST(test_term_ignored_gets_kill)
{
	struct tf_guard g;
	double t0;
	pid_t a;

	ck_assert_int_eq(tf_guard_start(&g, 1), 0);
	a = spawn_group("trap '' TERM; while :; do sleep 0.05; done");
	tf_sleep(0.2); /* let the trap be set */
	tf_guard_set(&g, 0, a);
	t0 = tf_now();
	tf_guard_release(&g);
	ck_assert(group_gone_within(a, 10));
	/* Not before the grace period: TERM was tried first. */
	ck_assert_double_ge(tf_now() - t0, 0.9);
}
END_TEST

START_TEST(test_no_guardian_is_harmless)
{
	struct tf_guard g = { -1, 0, NULL };

	tf_guard_set(&g, 0, 12345);
	tf_guard_set(&g, 0, 0);
	tf_guard_release(&g);
}
END_TEST

START_TEST(test_slots_out_of_range)
{
	struct tf_guard g;
	pid_t a;

	/* A slot past the table is not guarded, and corrupts nothing. */
	ck_assert_int_eq(tf_guard_start(&g, 5), 0);
	a = spawn_group("sleep 60");
	tf_guard_set(&g, TF_GUARD_SLOTS, a);
	tf_guard_set(&g, -1, a);
	tf_guard_set(&g, TF_GUARD_SLOTS - 1, a);
	ck_assert_int_eq(g.table[0], TF_GUARD_SLOTS);
	tf_guard_release(&g);
	ck_assert(group_gone_within(a, 5));
}
END_TEST

START_TEST(test_guardian_ignores_stop_signals)
{
	struct tf_guard g;
	pid_t a;

	ck_assert_int_eq(tf_guard_start(&g, 5), 0);
	a = spawn_group("sleep 60");
	tf_guard_set(&g, 1, a);
	/* What a launcher sends a rank does not end the guardian (once
	 * it has set itself up). */
	tf_sleep(0.2);
	ck_assert_int_eq(kill(g.pid, SIGTERM), 0);
	ck_assert_int_eq(kill(g.pid, SIGINT), 0);
	ck_assert_int_eq(kill(g.pid, SIGHUP), 0);
	tf_sleep(0.2);
	ck_assert_int_eq(waitpid(g.pid, NULL, WNOHANG), 0);
	tf_guard_release(&g);
	ck_assert(group_gone_within(a, 5));
}
END_TEST

static Suite *guard_suite(void)
{
	Suite *s = suite_create("guard");
	TCase *tc = tcase_create("guardian");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_release_stops_listed_groups);
	tcase_add_test(tc, test_owner_killed);
	tcase_add_test(tc, test_stopped_task_is_continued);
	tcase_add_test(tc, test_term_ignored_gets_kill);
	tcase_add_test(tc, test_no_guardian_is_harmless);
	tcase_add_test(tc, test_slots_out_of_range);
	tcase_add_test(tc, test_guardian_ignores_stop_signals);
	suite_add_tcase(s, tc);
	return s;
}

TF_CHECK_MAIN(guard_suite)
