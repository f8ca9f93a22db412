/*
 * A journal read whole for the run's report and status: every attempt
 * kept compactly, with its row (one per rank and slot), its segment (one
 * per run of a resumed campaign, told apart by JobId) and its command;
 * totals per status. Reads taskfarm journals of 16 and 17 columns, lines
 * GNU parallel appended to them, and a GNU parallel --joblog (whose
 * attempts get rows by host, laid out in lanes). No MPI; never prints.
 */
#ifndef TF_FARM_JREPORT_H
#define TF_FARM_JREPORT_H

#include <stddef.h>
#include <stdint.h>

#include "core/idtable.h"
#include "core/util.h"
#include "farm/task.h"

struct tf_jattempt {
	double start;      /* seconds since the epoch */
	double runtime;    /* seconds */
	uint64_t id;
	uint64_t maxrss;   /* KiB */
	size_t cmd;        /* offset of its NUL-ended command in cmds */
	uint32_t attempt;  /* 0: a line of GNU parallel's */
	uint32_t row;      /* index in rows */
	uint32_t seg;      /* index in segs */
	int32_t exitval;
	int32_t signal;
	uint8_t status;    /* enum tf_status */
};

/* One timeline row: a rank's slot (or a lane of a joblog's host). */
struct tf_jrow {
	int rank;          /* -1: a joblog's lane */
	int slot;
	char host[64];
	uint64_t attempts;
	uint64_t failed;   /* attempts not ok */
	double busy;       /* seconds of run time */
	double last_end;   /* for a joblog's lanes: when the lane is free */
};

/* One run of the campaign. */
struct tf_jseg {
	char jobid[64];    /* unescaped, cut to fit; "-" outside Slurm */
	double start, end; /* first start, last end */
	uint64_t attempts;
	uint64_t by_status[TF_STATUS_LAST + 1];
};

struct tf_jreport {
	struct tf_jattempt *att;
	size_t n, cap;
	struct tf_strbuf cmds;  /* the commands, each NUL-ended */
	struct tf_jrow *rows;
	size_t nrows, rows_cap;
	struct tf_idtable row_ids; /* rank and slot -> index in rows */
	struct tf_jseg *segs;
	size_t nsegs, segs_cap;
	uint64_t by_status[TF_STATUS_LAST + 1];
	double t0, t1;          /* first start, last end (0 if empty) */
	int kind;               /* the header's (jrecord.h); 0 if empty */
	int torn;               /* the file ended in a partial line */
};

/**
 * Reads the journal (or joblog) at path into jr. A missing file is an
 * error (-ENOENT, err says so); an empty one an empty report. A last
 * line without its newline (a run writing it, or killed while it did)
 * is left out and jr->torn set. A first line that is no known header,
 * or a damaged whole line, gives TF_EPARSE with err set to "PATH:LINE:
 * problem" in the words of --resume. Returns 0 or a negative code (then
 * jr is empty).
 */
int tf_jreport_load(struct tf_jreport *jr, const char *path, char *err,
		    size_t errlen);
void tf_jreport_release(struct tf_jreport *jr);

/** The command of attempt a. */
static inline const char *tf_jreport_cmd(const struct tf_jreport *jr,
					 const struct tf_jattempt *a)
{
	return jr->cmds.buf + a->cmd;
}

/** Whether status counts as a failure (anything but ok). */
static inline int tf_jreport_failed(int status)
{
	return status != TF_STATUS_OK;
}

/** Seconds the segments span, their gaps left out (the time slots were
 * there to be used). */
double tf_jreport_span(const struct tf_jreport *jr);

#endif
