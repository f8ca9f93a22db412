/*
 * The journal: one append-only TSV line per finished attempt. Its first
 * nine columns are GNU parallel's --joblog columns, so tools made for
 * those read it; taskfarm's own columns follow. Lines are buffered and
 * written in groups, with an fsync() on an interval and at close. No MPI.
 *
 * Columns: Seq Host Starttime JobRuntime Send Receive Exitval Signal
 * Command Attempt Rank Slot Status MaxRSS UserCPU SysCPU
 */
#ifndef TF_JOURNAL_H
#define TF_JOURNAL_H

#include "task.h"
#include "util.h"

#define TF_JOURNAL_HEADER                                                  \
	"Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\t" \
	"Command\tAttempt\tRank\tSlot\tStatus\tMaxRSS\tUserCPU\tSysCPU\n"

struct tf_journal {
	int fd;
	char *path;
	struct tf_strbuf pending;
	double last_sync;
	double interval; /* seconds between fsyncs */
	unsigned long lines;
};

/**
 * Opens path for appending, creating it (mode 0644) without following a
 * symbolic link; a new or empty file gets the header line. Returns 0, or
 * -errno with nothing to release.
 */
int tf_journal_open(struct tf_journal *j, const char *path, double interval);

/** Buffers the line for one finished attempt. */
void tf_journal_add(struct tf_journal *j, const struct tf_result *r,
		    const char *host, const char *cmd, size_t cmd_len);

/** Writes buffered lines; fsyncs when sync is set. Returns 0 or -errno. */
int tf_journal_flush(struct tf_journal *j, int sync);

/** Flushes and fsyncs if the interval has passed. Returns 0 or -errno. */
int tf_journal_tick(struct tf_journal *j, double now);

/** Flushes, fsyncs and closes. Returns 0 or the first error. */
int tf_journal_close(struct tf_journal *j);

/**
 * Appends s escaped so that it holds no tab, newline, carriage return or
 * NUL: those become \t \n \r \0, and a backslash becomes \\.
 */
void tf_journal_escape(struct tf_strbuf *sb, const char *s, size_t len);
/** The inverse of tf_journal_escape(). Returns 0 or TF_EPARSE. */
int tf_journal_unescape(struct tf_strbuf *sb, const char *s, size_t len);

#endif
