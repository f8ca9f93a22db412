/*
 * One journal line taken apart: the field parsing that --resume's replay
 * (history.c) and the run's readers (jreport.c: report and status) share,
 * so that both accept the same lines and refuse the others with the same
 * words. Also reads GNU parallel's lines: those it appended to a journal,
 * and a whole --joblog. No MPI.
 */
#ifndef TF_FARM_JRECORD_H
#define TF_FARM_JRECORD_H

#include <stddef.h>
#include <stdint.h>

#include "core/util.h"

/* What a header line announces (tf__jrecord_header()). */
enum tf_jrecord_kind {
	TF_JREC_NONE = 0,    /* not a header this version knows */
	TF_JREC_JOURNAL16 = 16,
	TF_JREC_JOURNAL17 = 17,
	TF_JREC_JOBLOG = 9   /* GNU parallel's --joblog */
};

/* One attempt. Text fields point into the line given to the parser. */
struct tf_jrecord {
	uint64_t id;
	const char *host;   /* escaped as written; host_len bytes */
	size_t host_len;
	double start;       /* Starttime, seconds since the epoch */
	double runtime;     /* JobRuntime, seconds */
	long exitval;
	long signal;
	uint32_t attempt;   /* 0 for a line of GNU parallel's */
	int rank;           /* -1 for a line of GNU parallel's */
	int slot;           /* -1 for a line of GNU parallel's */
	int status;         /* enum tf_status; a line of parallel's: ok or
			     * failed from its Exitval and Signal */
	uint64_t maxrss;    /* KiB */
	double usercpu, syscpu;
	const char *jobid;  /* escaped; "-" outside Slurm or when the
			     * line has none (16 columns, parallel's) */
	size_t jobid_len;
	int parallel;       /* a line GNU parallel wrote */
};

/** The kind of a header line (without its newline). */
int tf__jrecord_header(const char *line, size_t len);

/**
 * Parses one line (len bytes without its newline; line[len] must be
 * '\0') of a journal whose header said kind (TF_JREC_JOURNAL16 admits
 * lines of 16 or 17 fields, TF_JREC_JOURNAL17 only 17; a line GNU
 * parallel appended is taken in either; TF_JREC_JOBLOG takes parallel's
 * lines only). On success fills r, puts the unescaped command into cmd
 * (reset first) and returns NULL; otherwise returns a static
 * description of what is wrong ("fewer than 17 fields", ...).
 */
const char *tf__jrecord_parse(const char *line, size_t len, int kind,
			      struct tf_jrecord *r, struct tf_strbuf *cmd);

/* What tf__jrecord_read() found besides the lines. */
struct tf_jrecord_file {
	int kind;           /* the header's (enum tf_jrecord_kind); 0 for a
			     * missing or empty file */
	int torn;           /* the file ended in a partial line, left out */
	uint64_t valid_len; /* bytes up to the end of the last whole line */
};

/* tf__jrecord_read()'s flags. */
#define TF_JREAD_MISSING_OK 1 /* a missing file reads as an empty one */
#define TF_JREAD_NOFOLLOW 2   /* never through a symbolic link */
#define TF_JREAD_RESUME 4     /* refuse a GNU parallel joblog, saying how
			       * to resume one */

/* Takes one parsed line (lineno: its line number, the header's is 1).
 * Returns 0, or a negative code to stop the read with (then it has set
 * err). */
typedef int (*tf_jrecord_fn)(void *arg, const struct tf_jrecord *r,
			     const struct tf_strbuf *cmd, uint64_t lineno,
			     char *err, size_t errlen);

/**
 * Reads the journal at path: its header, then each whole line, parsed by
 * tf__jrecord_parse() and given to take. A last line without its newline
 * (being written, or cut short by a kill) is left out and info->torn
 * set. A first line that is no header, or a damaged line, is TF_EPARSE
 * with err set to "PATH:LINE: problem". Returns 0 or a negative code
 * (-errno with err "PATH: reason", or take's).
 */
int tf__jrecord_read(const char *path, int flags, tf_jrecord_fn take,
		     void *arg, struct tf_jrecord_file *info, char *err,
		     size_t errlen);

#endif
