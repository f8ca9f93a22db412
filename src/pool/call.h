/*
 * Running function tasks: the registry of task functions by name, the
 * call handle a task function writes its result through, and running a
 * chunk of tasks into a RESULTS message, in this process or, in
 * isolation mode, in forked children so that a crash becomes an error
 * result. No MPI: the children never touch it, and the tests run this
 * in a plain process.
 */
#ifndef TF_POOLRUN_H
#define TF_POOLRUN_H

#include <stddef.h>
#include <stdint.h>

#include "pool/wire.h"
#include "taskfarm.h"
#include "core/util.h"

#define TF_POOL_NAME_MAX 255
#define TF_POOL_ERR_MAX 4095

/** Task functions by name; sorted by name once the pool starts, so that
 * a function's index is the same on every rank. */
struct tf_registry {
	char **names;
	tf_task_fn *fns;
	size_t n;
	size_t alloc;
};

void tf_registry_init(struct tf_registry *r);
void tf_registry_release(struct tf_registry *r);
/** Adds name (copied). Returns 0 or TF_EINVAL (empty, too long, taken). */
int tf_registry_add(struct tf_registry *r, const char *name, tf_task_fn fn);
void tf_registry_sort(struct tf_registry *r);
/** The index of name in the sorted registry, or -1. */
long tf_registry_find(const struct tf_registry *r, const char *name);
/**
 * Compares the sorted registry with another rank's sorted names. Returns
 * 0 if they are the same, else 1 with why (appended) naming what is
 * missing on which side.
 */
int tf_registry_diff(const struct tf_registry *r, char *const *names,
		     size_t n, struct tf_strbuf *why);

/**
 * Where a chunk's RESULTS messages go, each as soon as it is complete.
 * A message holds at most msg_max bytes (TF_PWIRE_MSG_MAX; less in
 * tests) unless one task's record alone is larger, so a chunk's results
 * may take several messages, which cover its tasks in order. send(arg,
 * msg) may take over msg's buffer; it returns 0 or an error, which ends
 * the chunk. stop, if not NULL, is asked (with arg) every STOP_POLL
 * seconds while an isolated task runs: when it returns non-zero, the
 * child is killed and the chunk ends at once with TF_ECANCELLED (its
 * unfinished tasks get no results).
 */
struct tf_results_sink {
	int (*send)(void *arg, struct tf_strbuf *msg);
	void *arg;
	size_t msg_max;
	int (*stop)(void *arg);
};

/* How often an isolated task's parent asks its sink whether to stop. */
#define STOP_POLL 0.05

/**
 * Runs the chunk t (decoded from a TASKS message) with the registry's
 * function and ctx, building its RESULTS messages in out (reset first; a
 * buffer the caller keeps for reuse) and handing each to sink. isolate
 * runs the tasks in forked children; with task_limit > 0 as well, a task
 * that runs longer than that many seconds has its child killed and gets
 * status TF_ETIMEDOUT (task_limit is ignored without isolate). A result
 * over TF_POOL_MAX_BYTES is
 * not sent: its task gets status TF_ETOOBIG and a message instead.
 * Returns 0, the sink's error, TF_ECANCELLED when the sink's stop said
 * so (isolate only), or TF_EPROTO if t->fn is out of range
 * (then nothing was run or sent).
 */
int tf_call_run_chunk(const struct tf_registry *r, void *ctx, int isolate,
		     double task_limit, const struct tf_ptasks *t,
		     struct tf_strbuf *out, const struct tf_results_sink *sink);

#endif
