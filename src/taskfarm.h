/*
 * taskfarm: a task farm over MPI. Rank 0 is the master: it reads tasks
 * from a queue and hands them to worker ranks over MPI point-to-point
 * messages; workers run them and report back.
 *
 * This is the one installed header of libtaskfarm. It declares the error
 * codes and exit codes shared by the library and the taskfarm program.
 */
#ifndef TASKFARM_H
#define TASKFARM_H

#ifdef __cplusplus
extern "C" {
#endif

#define TF_VERSION_MAJOR 0
#define TF_VERSION_MINOR 1
#define TF_VERSION_PATCH 0

/**
 * Error codes. Functions return 0 on success, a negative errno value for
 * a failed system call, or one of these (all negative and below -4095,
 * so they never collide with -errno).
 */
enum tf_error {
	TF_EINVAL = -5001,   /* an invalid argument or option value */
	TF_EPARSE = -5002,   /* malformed input (job file, argument file) */
	TF_ETOOLONG = -5003, /* a line or command over the documented limit */
	TF_EPROTO = -5004,   /* a malformed message between ranks */
	TF_EMPI = -5005,     /* an MPI call failed */
	TF_ESPAWN = -5006,   /* a task's process could not be started */
	TF_EJOURNAL = -5007, /* the journal could not be written */
	TF_EINTR = -5008     /* stopped by a signal */
};

/**
 * Exit codes of the taskfarm program (and of tf_farm_run).
 */
enum tf_exit {
	TF_EXIT_OK = 0,          /* every task succeeded */
	TF_EXIT_FAILED = 1,      /* at least one task failed */
	TF_EXIT_USAGE = 2,       /* usage or input error; no task was started */
	TF_EXIT_INTERRUPTED = 3, /* stopped by a signal; unrun tasks remain */
	TF_EXIT_INTERNAL = 4     /* MPI, I/O or other internal failure */
};

/** A static English description of err (0, -errno or TF_E*). */
const char *tf_strerror(int err);

/** The library's version as "MAJOR.MINOR.PATCH". */
const char *tf_version(void);

#ifdef __cplusplus
}
#endif

#endif
