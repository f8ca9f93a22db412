/*
 * Reports: the live progress line on a terminal, periodic status lines
 * for batch logs, and the summary at the end. No MPI.
 */
#ifndef TF_REPORT_H
#define TF_REPORT_H

#include <stdint.h>

#include "core/util.h"

struct tf_rank_stats {
	char host[256];
	int slots;
	int lost;    /* the rank was lost during the run */
	uint64_t tasks;
	double busy; /* seconds of task run time */
};

struct tf_report {
	int tty;               /* draw a live line on stderr */
	int bar;               /* --bar: the line has a bar even when
				* stderr is no terminal */
	int quiet;
	double status_interval;
	double t0;
	double last_draw;
	double last_status;
	int line_shown;        /* a live line is on the screen */
	uint64_t ntasks;       /* total, 0 if unknown */
	uint64_t ok;
	uint64_t failed;
	uint64_t interrupted;
	uint64_t running;
	uint64_t retried;      /* failed attempts that were tried again */
	uint64_t lost;         /* attempts lost with their rank */
	uint64_t skipped;      /* done in an earlier run (--resume) */
	uint64_t failed_before;/* of those, journaled failed (not rerun) */
	uint64_t unjournaled;  /* results the journal could not take */
	int nranks;
	struct tf_rank_stats *ranks;
};

void tf_report_init(struct tf_report *rp, int nranks, int tty, int quiet,
		    double status_interval);
void tf_report_release(struct tf_report *rp);
/** Redraws the live line or prints a status line when due. */
void tf_report_tick(struct tf_report *rp, double now);
/** Clears the live line before other output goes to the terminal. */
void tf_report_clear(struct tf_report *rp);

/* The terminal's lock, for another thread's writes to standard error when
 * it is a terminal: take() also takes the live line off the screen (the
 * next tick draws it again); give() releases it. */
void tf__screen_take(void);
void tf__screen_give(void);
/**
 * Formats the live line into sb for a terminal width columns wide: "P%
 * [bar] done/total, failed, running, rate, ETA", never longer than
 * width - 1 bytes (the bar shrinks, then goes, then the text is cut), so
 * the line never reaches the last column and never wraps.
 */
void tf_report_line(const struct tf_report *rp, double now, int width,
		    struct tf_strbuf *sb);
/** Appends s seconds as M:SS, or H:MM:SS from an hour. */
void tf_report_duration(struct tf_strbuf *sb, double s);
/** Formats local time t as ISO 8601 (2026-12-02T13:45:08+01:00) into sb. */
void tf_report_timestamp(double t, struct tf_strbuf *sb);
/** Formats "done/total, failed, rate, ETA" into sb. */
void tf_report_status(const struct tf_report *rp, double now,
		      struct tf_strbuf *sb);
/* The closing summary's figures, from which both its text and its JSON
 * (--summary-json) are made, so that the two agree. */
struct tf_summary {
	uint64_t tasks;        /* ran in this run: ok + failed */
	double seconds;
	double rate;           /* tasks a second */
	uint64_t ok, failed, interrupted;
	uint64_t skipped;      /* done before (--resume), failed ones apart */
	uint64_t failed_before;
	uint64_t retried, lost, not_run, unjournaled;
};

/** The summary's figures at now. */
void tf_report_summarize(const struct tf_report *rp, double now,
			 uint64_t not_run, struct tf_summary *s);
/** Prints the summary on stderr. journal may be NULL. */
void tf_report_summary(struct tf_report *rp, double now, const char *journal,
		       uint64_t not_run);
/**
 * Writes the summary of s (and rp's ranks), the journal's name (may be
 * NULL) and the run's exit code as one JSON object to path (created or
 * emptied). Returns 0 or -errno (nothing is printed).
 */
int tf_report_summary_json(const struct tf_report *rp,
			   const struct tf_summary *s, const char *journal,
			   int exit_code, const char *path);
/** Appends str as a JSON string, quotes included. */
void tf_json_string(struct tf_strbuf *sb, const char *str);

/** Prints the run's exit status, for launchers that do not pass it on
 * (Open MPI's mpirun --enable-recovery). */
void tf_report_exit_status(const struct tf_report *rp, int code);

#endif
