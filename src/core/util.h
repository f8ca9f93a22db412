/*
 * Small helpers shared by every module: allocation that aborts on
 * out-of-memory, a growable byte buffer, monotonic and wall clocks, and
 * log lines that carry a time and the MPI rank. Nothing here calls MPI.
 */
#ifndef TF_UTIL_H
#define TF_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define TF_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define TF_NORETURN __attribute__((noreturn))
#else
#define TF_PRINTF(f, a)
#define TF_NORETURN
#endif

/** Allocators: never return NULL; print a message and abort on failure. */
void *tf__xmalloc(size_t size);
void *tf__xcalloc(size_t nmemb, size_t size);
void *tf__xrealloc(void *ptr, size_t size);
char *tf__xstrdup(const char *s);
char *tf__xstrndup(const char *s, size_t n);
/** Grows *arr (of *alloc elements of elem_size) to hold at least need. */
void tf__grow(void **arr, size_t *alloc, size_t need, size_t elem_size);

/**
 * A growable byte buffer. buf is always NUL-terminated (one byte beyond
 * len), so text can be used as a C string. TF_STRBUF_INIT or
 * tf_strbuf_init() prepare one; tf_strbuf_release() frees what it holds.
 */
struct tf_strbuf {
	char *buf;
	size_t len;
	size_t alloc;
};
#define TF_STRBUF_INIT { NULL, 0, 0 }

void tf_strbuf_init(struct tf_strbuf *sb);
void tf_strbuf_release(struct tf_strbuf *sb);
void tf_strbuf_reset(struct tf_strbuf *sb);
void tf_strbuf_grow(struct tf_strbuf *sb, size_t extra);
void tf_strbuf_add(struct tf_strbuf *sb, const void *data, size_t len);
void tf_strbuf_addstr(struct tf_strbuf *sb, const char *s);
void tf_strbuf_addch(struct tf_strbuf *sb, int c);
void tf_strbuf_addf(struct tf_strbuf *sb, const char *fmt, ...) TF_PRINTF(2, 3);
/** Hands the buffer to the caller (who frees it) and resets sb. */
char *tf_strbuf_detach(struct tf_strbuf *sb, size_t *len);

/**
 * FNV-1a, 64 bits: a fingerprint for change detection (not security).
 * Start with TF_HASH_INIT and feed data in any number of pieces.
 */
#define TF_HASH_INIT 0xcbf29ce484222325ull
uint64_t tf_hash(uint64_t h, const void *data, size_t len);

/** Seconds from an arbitrary origin (CLOCK_MONOTONIC). */
double tf_now(void);
/** Seconds since the Unix epoch (CLOCK_REALTIME). */
double tf_wallclock(void);
/** Sleeps for the given number of seconds; a signal ends it early. */
void tf_sleep(double seconds);

/**
 * The next sleep of a loop that polls for messages while nothing happens:
 * doubling from min up to max, and once nothing has happened for
 * idle_for seconds, up to 10 x max (idle_for / 20 at most), so that a
 * long wait costs almost no CPU while a busy one reacts at once.
 */
double tf_backoff(double prev, double idle_for, double min, double max);

/** The rank printed in log lines; -1 until set. */
extern int tf__log_rank;
/** Verbosity: 0 errors and warnings, 1 info, 2 debug. */
extern int tf__log_level;

/** The levels of log lines, as a sink is told them. */
enum tf_log_level {
	TF_LOG_FATAL, /* tf_die(): the process exits next */
	TF_LOG_ERROR,
	TF_LOG_WARN,
	TF_LOG_INFO,  /* shown from verbosity 1 (-v) */
	TF_LOG_DEBUG  /* shown from verbosity 2 (-vv) */
};

/**
 * Where log lines go. line is one whole line, "taskfarm[time:rank]:
 * level: message\n" (or "taskfarm: level: message\n" before the rank is
 * known), NUL-terminated; it is the library's and lives only for the
 * call. A sink should write it in one piece, so that lines of several
 * ranks do not interleave.
 */
typedef void tf_log_sink_fn(int level, const char *line, void *arg);

/**
 * Installs the sink that receives every log line the verbosity lets
 * through; fn NULL drops them all. arg is passed to fn untouched and is
 * the caller's. Only the program prints: it installs tf__log_stderr().
 * Until a sink is installed there is none: a client of the public API
 * (the C pool) gets its messages from tf_pool_errmsg(), never on its
 * stderr.
 */
void tf__log_set_sink(tf_log_sink_fn *fn, void *arg);
/** A sink that writes each line to standard error in one write(). */
void tf__log_stderr(int level, const char *line, void *arg);

/** Log lines, through the sink: "taskfarm[time:rank]: message". */
void tf_error(const char *fmt, ...) TF_PRINTF(1, 2);
void tf_warn(const char *fmt, ...) TF_PRINTF(1, 2);
void tf_info(const char *fmt, ...) TF_PRINTF(1, 2);
void tf_debug(const char *fmt, ...) TF_PRINTF(1, 2);
/** A line through the sink as it is, without the time and rank: for the
 * end-of-run summary ("taskfarm: ..."). Shown at every verbosity. */
void tf__log_plain(int level, const char *fmt, ...) TF_PRINTF(2, 3);
/**
 * For a broken internal invariant only (the out-of-memory class: a size
 * past what can be allocated, a caller's contract violated, captured
 * output that can no longer be read back): writes the line to the sink,
 * or to stderr when none is installed, as the out-of-memory handler
 * does, and exits with code 4. Every failure a caller can act on is a
 * returned code instead.
 */
void tf_die(const char *fmt, ...) TF_PRINTF(1, 2) TF_NORETURN;
/** tf_die()'s exit code: the program's TF_EXIT_INTERNAL (farm/exit.h
 * checks that they agree), kept here so the core needs nothing of the
 * farm. */
#define TF_DIE_EXIT 4

/** Writes all of buf to fd, retrying after EINTR and short writes.
 * Returns 0 or -errno. */
int tf_write_all(int fd, const void *buf, size_t len);

/** Sets FD_CLOEXEC. Returns 0 or -errno. */
int tf_set_cloexec(int fd);

/**
 * Parses a non-negative duration such as "30", "1.5", "90s", "10m", "2h",
 * "1d" into seconds. Returns 0, or TF_EINVAL for garbage.
 */
int tf_parse_duration(const char *s, double *seconds);
/** Parses a whole number in [min, max]. Returns 0 or TF_EINVAL. */
int tf_parse_long(const char *s, long min, long max, long *out);

/**
 * An identity of the space in which this process's pids mean something:
 * a hash of the kernel's boot id and this process's pid namespace. Two
 * processes with the same non-zero value can see each other's pids
 * (kill(pid, 0) tells one whether the other lives); 0 if unknown.
 */
uint64_t tf__pid_space(void);
/** Whether environment variable name is set to 1, true or yes. */
int tf__env_true(const char *name);
/** Whether process pid has certainly ended: it does not exist, or it is
 * a zombie. Only meaningful for a pid of this tf__pid_space(). */
int tf__pid_gone(long pid);

/** Online cores, as the default number of slots on one rank. */
int tf__ncores(void);

/** The size of an error message buffer (a source's is "file:line:
 * problem"). */
#define TF_ERRMSG_MAX 1024

#endif
