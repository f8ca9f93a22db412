/*
 * The journal: one append-only TSV line per finished attempt, for
 * taskfarm's own --resume. Its first nine columns are named and ordered
 * as GNU parallel's --joblog columns, but it is not a joblog: taskfarm's
 * own columns follow the Command, which is escaped, so parallel's
 * --retry-failed would run the wrong commands from it. GNU parallel is
 * to read --joblog (joblog.h). Replay accepts lines parallel appended to
 * a journal (matched by Seq) and refuses a joblog with a message saying
 * what to do. Lines are buffered and
 * written in groups, with an fsync() on an interval and at close. No MPI.
 *
 * Columns: Seq Host Starttime JobRuntime Send Receive Exitval Signal
 * Command Attempt Rank Slot Status MaxRSS UserCPU SysCPU JobId
 *
 * JobId (the 17th column, added with the Slurm support) is the Slurm
 * job the attempt ran in, or "-". Journals written before it have
 * 16 columns and TF_JOURNAL_HEADER_16. Appending never rewrites a header,
 * so a journal begun by the older version keeps its 16-column header
 * while the lines appended later (--resume) have 17 columns; replay
 * accepts both kinds of line under that header, and only 17-column lines
 * under the current one.
 */
#ifndef TF_JOURNAL_H
#define TF_JOURNAL_H

#include "core/idtable.h"
#include "farm/task.h"
#include "core/util.h"

#define TF_JOURNAL_HEADER                                                  \
	"Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\t" \
	"Command\tAttempt\tRank\tSlot\tStatus\tMaxRSS\tUserCPU\tSysCPU\t"   \
	"JobId\n"
/* The header of journals from before the JobId column. */
#define TF_JOURNAL_HEADER_16                                               \
	"Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\t" \
	"Command\tAttempt\tRank\tSlot\tStatus\tMaxRSS\tUserCPU\tSysCPU\n"

struct tf_journal {
	int fd;
	char *path;
	struct tf_strbuf pending; /* whole lines not yet written */
	uint64_t pending_lines;
	uint64_t size;     /* bytes in the file: whole lines only */
	uint64_t unwritten;/* lines tf_journal_close() could not write */
	double last_sync;
	int sync_error;  /* -errno of a failed fsync: sticky, lines may be lost */
	double interval; /* seconds between fsyncs */
	unsigned long lines;
	char *jobid;     /* the JobId column, escaped */
};

struct stat;

/** An unsigned decimal field of a journal or meta line (journal.c,
 * history.c): 0, or -1 if it is empty, not digits, or past UINT64_MAX. */
int tf__journal_field_u64(const char *s, size_t len, uint64_t *v);

/**
 * The journal's and the joblog's open: path for appending, created (mode
 * 0644) without following a symbolic link or blocking on a FIFO, and
 * only a regular file of this user's (-EINVAL, -EPERM). Fills *st.
 * Returns the fd (O_APPEND, O_CLOEXEC) or -errno.
 */
int tf_log_file_open(const char *path, struct stat *st);

/**
 * Opens path for appending, creating it (mode 0644) without following a
 * symbolic link; a new or empty file gets the header line. The JobId
 * column of every line is this process's SLURM_JOB_ID, or "-" when it is
 * unset or empty. Returns 0, or -errno with nothing to release (-EPERM:
 * the file belongs to another user).
 */
int tf_journal_open(struct tf_journal *j, const char *path, double interval);

/** Buffers the line for one finished attempt. */
void tf_journal_add(struct tf_journal *j, const struct tf_result *r,
		    const char *host, const char *cmd, size_t cmd_len);

/**
 * Writes buffered lines; fsyncs when sync is set. Returns 0 or -errno.
 * The file only ever holds whole lines: when a write falls short (a full
 * disk), what it wrote of a line is cut off again, and every line not
 * wholly written stays buffered for the next call. (If even that cut
 * fails, the part written is not written again.)
 */
int tf_journal_flush(struct tf_journal *j, int sync);

/** Lines buffered and not yet written. */
uint64_t tf_journal_pending(const struct tf_journal *j);

/** After tf_journal_close(): the lines it could not write (lost). */
uint64_t tf_journal_unwritten(const struct tf_journal *j);

/** Flushes and fsyncs if the interval has passed. Returns 0 or -errno. */
int tf_journal_tick(struct tf_journal *j, double now);

/** Flushes, fsyncs and closes. Returns 0 or the first error; the lines
 * that could not be written are then counted by tf_journal_unwritten(). */
int tf_journal_close(struct tf_journal *j);

/** Cuts the open journal back to len bytes (a torn last line found by
 * tf_history_load()); if that cuts into the header, the file restarts
 * with a whole header. Returns 0 or -errno. */
int tf_journal_trim(struct tf_journal *j, uint64_t len);

/*
 * Replay, for --resume: what the journal says of each task. Lines are
 * taken in order; a line whose command differs from the one before it
 * for the same id starts that task's history afresh (the job changed).
 */
enum tf_history_state {
	TF_HIST_OK = 1,          /* some attempt succeeded */
	TF_HIST_FAILED = 2,      /* the last attempt failed */
	TF_HIST_INTERRUPTED = 3  /* the last attempt was stopped by a drain,
				  * or lost with its rank */
};

struct tf_history_entry {
	uint64_t id;
	uint64_t cmd_hash;  /* tf_hash() of the command */
	uint32_t attempts;  /* the highest attempt number seen */
	uint8_t state;      /* enum tf_history_state; 0: unused slot */
	uint8_t any_cmd;    /* GNU parallel wrote a line for it: matched by
			     * id only, whatever its command */
};

/* What is kept of one task, indexed by its id: 16 bytes. */
struct tf_history_slot {
	uint64_t cmd_hash;
	uint32_t attempts;
	uint8_t state;      /* 0: no line for this id */
	uint8_t any_cmd;    /* as in tf_history_entry */
};

/*
 * Ids are line numbers or 1..N, so most are held in an array indexed by
 * id (dense), of which only the part up to the highest id is ever
 * touched; an id far beyond what the journal holds goes to a small array
 * of full entries instead (tab, found through a core id table), so that
 * a stray huge id costs no memory.
 */
struct tf_history {
	struct tf_history_slot *dense;
	size_t dense_cap;   /* allocated slots */
	size_t dense_len;   /* slots initialised: ids below it */
	struct tf_history_entry *tab; /* the sparse entries, in arrival */
	size_t cap;         /* allocated entries of tab */
	struct tf_idtable tab_ids; /* id -> index in tab */
	size_t n;           /* tasks with a line (both kinds) */
	size_t ntab;        /* of which in tab */
	struct tf_history_entry found; /* what tf_history_find() returns */
	uint32_t max_attempts;  /* the highest Attempt of any line */
	uint64_t max_attempts_line;
	uint64_t lines;     /* complete lines read, the header excluded */
	uint64_t valid_len; /* bytes up to the end of the last whole line */
	int torn;           /* the file ended in a partial line */
	int columns;        /* the header's: 17, or 16 for an older journal;
			     * 0 for a missing or empty file */
};

/**
 * Reads the journal at path into h. A missing or empty file is an empty
 * history. A last line without its newline (a write cut short by a kill)
 * is left out and h->torn set; a malformed whole line, or a first line
 * that is neither header (TF_JOURNAL_HEADER, TF_JOURNAL_HEADER_16), is
 * an error: TF_EPARSE with err set to
 * "PATH:LINE: problem". Returns 0 or a negative code (then h is empty).
 */
int tf_history_load(struct tf_history *h, const char *path, char *err,
		    size_t errlen);
/** tf_history_load() with flags of tf__jrecord_read() (jrecord.h) added:
 * without TF_JREAD_RESUME a GNU parallel joblog reads too (status). */
int tf__history_read(struct tf_history *h, const char *path, int flags,
		     char *err, size_t errlen);
/** The entry for id, or NULL. It is a copy, valid until the next call. */
const struct tf_history_entry *tf_history_find(struct tf_history *h,
					       uint64_t id);
void tf_history_release(struct tf_history *h);

/**
 * The journal's companion file PATH.meta holds the fingerprint of the job
 * source the journal belongs to and who is writing it; a lock (flock) on
 * it keeps two runs from sharing one journal.
 */
struct tf_journal_lock {
	int fd;
	char *path; /* PATH.meta */
};

/**
 * Creates (never through a symbolic link) and locks PATH.meta. If another
 * run holds it, returns -EBUSY with holder set to "host H, pid P, since
 * T"; if it belongs to another user, -EPERM. Returns 0 or a negative code
 * (then nothing needs releasing).
 */
int tf_journal_lock(struct tf_journal_lock *l, const char *journal_path,
		    char *holder, size_t holder_len);

/* What PATH.meta records of the job its journal belongs to. */
struct tf_journal_meta {
	char fingerprint[17]; /* 16 hex digits */
	uint64_t ntasks;      /* the job's tasks; 0 if not recorded (a meta
			       * file of an older version) */
	char source[512];     /* unescaped, cut to fit */
	char owner_host[256]; /* the run that wrote it last: unescaped; ""
			       * if not recorded */
	long owner_pid;
	char owner_since[64]; /* local time, as written */
};

/**
 * Reads the meta file into m (l->fd may also be a plain read-only
 * descriptor: nothing is locked or written). Returns 1 if it was read, 0 if the
 * file is empty (it did not exist before tf_journal_lock()), or TF_EPARSE
 * with err set to "PATH:LINE: problem" when it is not a meta file this
 * version writes (no header, a line it does not know, no fingerprint),
 * or -errno.
 */
int tf_journal_meta_read(struct tf_journal_lock *l, struct tf_journal_meta *m,
			 char *err, size_t errlen);
/**
 * Reads the fingerprint recorded in the locked meta file into fp (17
 * bytes: 16 hex digits). Returns 1 if there was one, 0 if none (or the
 * file is not whole).
 */
int tf_journal_meta_fingerprint(struct tf_journal_lock *l, char fp[17]);
/** Rewrites the meta file: fingerprint, task count (0: unknown), source
 * description (escaped as a journal column, so that a newline in a file
 * name cannot forge a line), this run as its owner. Returns 0 or -errno. */
int tf_journal_meta_write(struct tf_journal_lock *l, const char *fingerprint,
			  uint64_t ntasks, const char *source);
/** Releases the lock (the meta file stays). */
void tf_journal_unlock(struct tf_journal_lock *l);

/** Parses a Status column value; returns the enum tf_status or -1. */
int tf_status_parse(const char *name);

/**
 * Appends s escaped so that it holds no tab, newline, carriage return or
 * NUL: those become \t \n \r \0, and a backslash becomes \\.
 */
void tf_journal_escape(struct tf_strbuf *sb, const char *s, size_t len);
/** The inverse of tf_journal_escape(). Returns 0 or TF_EPARSE. */
int tf_journal_unescape(struct tf_strbuf *sb, const char *s, size_t len);

#endif
