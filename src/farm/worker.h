/*
 * A worker rank: asks the master for tasks ahead of need, runs them in
 * its slots (exec.h) and reports results; stops its tasks when it loses
 * its master.
 */
#ifndef TF_WORKER_H
#define TF_WORKER_H

#include "core/comm.h"
#include "farm/opts.h"

struct tf_guard;

/**
 * Runs a worker, after tf_comm_init(); guard (may be NULL) is told of
 * every task's process group. Returns 0, or TF_EXIT_INTERRUPTED when it
 * lost its master (its tasks are stopped).
 */
int tf__worker_run(const struct tf_farm_opts *o, struct tf_comm *comm,
		   struct tf_guard *guard);

#endif
