/*
 * The master (rank 0): takes tasks from the source, hands them to its
 * own slots and to workers, receives results, delivers output (writer.h),
 * writes the journal and decides when the run is over.
 */
#ifndef TF_MASTER_H
#define TF_MASTER_H

#include <stdint.h>

#include "core/comm.h"
#include "farm/opts.h"

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
 * read as the run goes. Run after tf_comm_init(); guard (may be NULL) is
 * told of every task's process group.
 */
int tf__master_run(const struct tf_farm_opts *o, struct tf_comm *comm,
		   struct tf_guard *guard, struct tf_source *src,
		   const char *journal_path, uint64_t journal_trim,
		   const struct tf_resume_counts *resumed);

#endif
