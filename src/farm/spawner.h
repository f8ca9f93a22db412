/*
 * The spawn helper: a small process forked at start-up, before MPI and
 * before the rank grows, that creates the rank's task processes for it.
 * Linux folds the peak resident size of the memory a process leaves at
 * exec into the new program's MaxRSS; a task spawned straight from a
 * large rank (posix_spawn shares the rank's memory until exec) therefore
 * reported the rank's peak, never less. The helper forks each task from
 * its own small copy instead, with CLONE_PARENT, so the task is still a
 * child of the rank: the rank's wait4(), process groups and kills work
 * as before. One request and one reply per task over a socket pair; no
 * MPI. There is one helper per process.
 */
#ifndef TF_SPAWNER_H
#define TF_SPAWNER_H

#include <sched.h>
#include <sys/types.h>

/**
 * Forks the helper. Call it while the process has one thread and before
 * MPI_Init, like tf_guard_start(); call it after tf_signals_install(), as
 * tasks get the signal dispositions the process has then (what it
 * ignores stays ignored, what it catches is reset to the default,
 * SIGPIPE is reset). Returns 0, or -errno with no helper (tasks are then
 * started with posix_spawn, with the rank's peak as their MaxRSS). A
 * second call while a helper runs does nothing and returns 0. always:
 * every task goes through the helper, else only those tf_spawner_wanted()
 * says.
 */
int tf_spawner_start(int always);

/*
 * Whether a helper can work in this process: not under valgrind, which
 * runs a clone(CLONE_VM | CLONE_PARENT) child as a fork of the helper, so
 * the rank could not reap its tasks. tf_spawner_start() then starts none
 * and returns 0: tasks are started with posix_spawn.
 */
int tf_spawner_supported(void);

/**
 * Whether the next task should go through the helper: always if
 * tf_spawner_start() was told so (--exact-maxrss), else only once this
 * process's peak RSS passed TF_SPAWNER_AUTO_KB, when the floor it puts
 * under every task's MaxRSS would mislead. A task started through the
 * helper costs one round trip to it, a wake-up of another process on
 * the task's path (about 8-13% of the rate of tiny tasks, bench/): not
 * worth it for a floor of a few MB.
 */
#define TF_SPAWNER_AUTO_KB (64 * 1024)
int tf_spawner_wanted(void);

/**
 * Starts path (argv, envp) through the helper, as a child of this
 * process, with fds[0], fds[1] and fds[2] as its standard input, output
 * and error and no other descriptor, in a process group of its own, its
 * signal mask empty, and (cpus not NULL) allowed to run on cpus alone.
 * The caller keeps its descriptors. Returns 0 when the
 * helper took the request: then either *pid is the child's pid and
 * *exec_err 0, or no child was made (*exec_err is -errno, *pid 0). The
 * exec itself is not waited for: a child that could not exec exits 127,
 * and tf_spawner_exec_error() tells why. Returns a negative code, with
 * nothing started, when there is no helper or it has died (it is then
 * dropped for good): start the task another way.
 */
int tf_spawner_spawn(const char *path, char *const argv[], char *const envp[],
		     const int fds[3], const cpu_set_t *cpus, pid_t *pid,
		     int *exec_err);

/**
 * For a child of tf_spawner_spawn() that has been reaped (ask only for
 * those that exited 127, the rest exec'd): -errno if it could not exec,
 * else 0. Each failure is told once. May wait for the helper's word on
 * that child (written when its exec ended).
 */
int tf_spawner_exec_error(pid_t pid);

/** The helper's pid, or 0 when there is none. */
pid_t tf_spawner_pid(void);

/** Ends the helper (if any) and reaps it. */
void tf_spawner_stop(void);

#endif
