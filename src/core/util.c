/*
 * Small helpers shared by every module: allocation that aborts on
 * out-of-memory (as redis does), a growable byte buffer, clocks, log lines
 * prefixed with time and rank, and option-value parsing.
 */
#include "config.h"

#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "taskfarm.h"

double tf_backoff(double prev, double idle_for, double min, double max)
{
	double cap = idle_for / 20;
	double next = prev > 0 ? prev * 2 : min;

	if (cap < max)
		cap = max;
	if (cap > 10 * max)
		cap = 10 * max;
	return next < cap ? next : cap;
}

int tf__log_rank = -1;
int tf__log_level = 0;

static TF_NORETURN void oom(size_t size)
{
	fprintf(stderr, "taskfarm: out of memory allocating %zu bytes\n", size);
	abort();
}

void *tf__xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (!p)
		oom(size);
	return p;
}

void *tf__xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (!p)
		oom(nmemb * size);
	return p;
}

void *tf__xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);
	if (!p)
		oom(size);
	return p;
}

char *tf__xstrdup(const char *s)
{
	return tf__xstrndup(s, strlen(s));
}

char *tf__xstrndup(const char *s, size_t n)
{
	char *p = tf__xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void tf__grow(void **arr, size_t *alloc, size_t need, size_t elem_size)
{
	size_t n;

	if (need <= *alloc)
		return;
	n = *alloc ? *alloc : 8;
	while (n < need)
		n = n / 2 * 3 + 8;
	if (n > SIZE_MAX / elem_size)
		oom(SIZE_MAX);
	*arr = tf__xrealloc(*arr, n * elem_size);
	*alloc = n;
}

void tf_strbuf_init(struct tf_strbuf *sb)
{
	sb->buf = NULL;
	sb->len = 0;
	sb->alloc = 0;
}

void tf_strbuf_release(struct tf_strbuf *sb)
{
	free(sb->buf);
	tf_strbuf_init(sb);
}

void tf_strbuf_reset(struct tf_strbuf *sb)
{
	sb->len = 0;
	if (sb->buf)
		sb->buf[0] = '\0';
}

void tf_strbuf_grow(struct tf_strbuf *sb, size_t extra)
{
	size_t need = sb->len + extra + 1;

	if (need < sb->len)
		oom(SIZE_MAX);
	if (need > sb->alloc) {
		size_t n = sb->alloc ? sb->alloc : 64;
		while (n < need)
			n *= 2;
		sb->buf = tf__xrealloc(sb->buf, n);
		sb->alloc = n;
		sb->buf[sb->len] = '\0';
	}
}

void tf_strbuf_add(struct tf_strbuf *sb, const void *data, size_t len)
{
	tf_strbuf_grow(sb, len);
	if (len)
		memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
}

void tf_strbuf_addstr(struct tf_strbuf *sb, const char *s)
{
	tf_strbuf_add(sb, s, strlen(s));
}

void tf_strbuf_addch(struct tf_strbuf *sb, int c)
{
	tf_strbuf_grow(sb, 1);
	sb->buf[sb->len++] = (char)c;
	sb->buf[sb->len] = '\0';
}

void tf_strbuf_addf(struct tf_strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	tf_strbuf_grow(sb, 64);
	va_start(ap, fmt);
	n = vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sb->alloc - sb->len) {
		tf_strbuf_grow(sb, (size_t)n);
		va_start(ap, fmt);
		vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, ap);
		va_end(ap);
	}
	sb->len += (size_t)n;
}

char *tf_strbuf_detach(struct tf_strbuf *sb, size_t *len)
{
	char *p;

	tf_strbuf_grow(sb, 0);
	p = sb->buf;
	if (len)
		*len = sb->len;
	tf_strbuf_init(sb);
	return p;
}

uint64_t tf_hash(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

double tf_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double tf_wallclock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void tf_sleep(double seconds)
{
	struct timespec ts;

	if (seconds <= 0)
		return;
	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

static tf_log_sink_fn *log_sink;
static void *log_sink_arg;

void tf__log_set_sink(tf_log_sink_fn *fn, void *arg)
{
	log_sink = fn;
	log_sink_arg = arg;
}

void tf__log_stderr(int level, const char *line, void *arg)
{
	(void)level;
	(void)arg;
	/* One write, so lines from several ranks do not interleave. */
	(void)tf_write_all(STDERR_FILENO, line, strlen(line));
}

static void vlog(int level, const char *prefix, const char *fmt, va_list ap)
{
	char msg[4096];
	char line[4300];
	struct timespec ts;
	struct tm tm;

	if (!log_sink)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* A message cut short still ends its line. */
	if (tf__log_rank >= 0)
		snprintf(line, sizeof(line) - 1,
			 "taskfarm[%02d:%02d:%02d.%03ld:%d]: %s%s",
			 tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
			 tf__log_rank, prefix, msg);
	else
		snprintf(line, sizeof(line) - 1, "taskfarm: %s%s", prefix, msg);
	strcat(line, "\n");
	log_sink(level, line, log_sink_arg);
}

void tf__log_plain(int level, const char *fmt, ...)
{
	char line[4300];
	va_list ap;
	int n;

	if (!log_sink)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	log_sink(level, line, log_sink_arg);
}

/* verbosity: the tf__log_level from which the line is shown. */
#define DEFINE_LOG(name, verbosity, level, prefix)                             \
	void name(const char *fmt, ...)                                        \
	{                                                                      \
		va_list ap;                                                    \
		if (tf__log_level < (verbosity))                               \
			return;                                                \
		va_start(ap, fmt);                                             \
		vlog((level), prefix, fmt, ap);                                \
		va_end(ap);                                                    \
	}

DEFINE_LOG(tf_error, 0, TF_LOG_ERROR, "error: ")
DEFINE_LOG(tf_warn, 0, TF_LOG_WARN, "warning: ")
DEFINE_LOG(tf_info, 1, TF_LOG_INFO, "")
DEFINE_LOG(tf_debug, 2, TF_LOG_DEBUG, "debug: ")

void tf_die(const char *fmt, ...)
{
	va_list ap;

	if (!log_sink)
		tf__log_set_sink(tf__log_stderr, NULL);
	va_start(ap, fmt);
	vlog(TF_LOG_FATAL, "fatal: ", fmt, ap);
	va_end(ap);
	exit(TF_DIE_EXIT);
}

int tf_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int tf_set_cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);

	if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

int tf_parse_duration(const char *s, double *seconds)
{
	char *end;
	double v, mult = 1;

	if (!s || !*s)
		return TF_EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v != v || v < 0)
		return TF_EINVAL;
	if (*end) {
		switch (*end) {
		case 's':
			mult = 1;
			break;
		case 'm':
			mult = 60;
			break;
		case 'h':
			mult = 3600;
			break;
		case 'd':
			mult = 86400;
			break;
		default:
			return TF_EINVAL;
		}
		if (end[1])
			return TF_EINVAL;
	}
	/* Past ~30 years a duration is a typo, and would overflow time_t
	 * arithmetic further on. */
	if (v * mult > 1e9)
		return TF_EINVAL;
	*seconds = v * mult;
	return 0;
}

int tf_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return TF_EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return TF_EINVAL;
	*out = v;
	return 0;
}

const char *tf_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case TF_EINVAL:
		return "invalid argument";
	case TF_EPARSE:
		return "malformed input";
	case TF_ETOOLONG:
		return "line or command too long";
	case TF_EPROTO:
		return "malformed message between ranks";
	case TF_EMPI:
		return "MPI call failed";
	case TF_ESPAWN:
		return "could not start the task's process";
	case TF_EREGISTER:
		return "task functions registered differently, or not at all";
	case TF_ESTATE:
		return "not allowed in the pool's state";
	case TF_ECANCELLED:
		return "cancelled before it ran";
	case TF_ETASK:
		return "a task failed";
	case TF_ELOST:
		return "the rank running it was lost";
	case TF_ETOOBIG:
		return "larger than a message may carry";
	case TF_ECRASH:
		return "a task crashed its process";
	case TF_ENONE:
		return "no future left to wait for";
	case TF_ETIMEDOUT:
		return "the wait's time limit passed";
	default:
		if (err < 0 && err > -4096)
			return strerror(-err);
		return "unknown error";
	}
}

const char *tf_version(void)
{
	return PACKAGE_VERSION;
}

uint64_t tf__pid_space(void)
{
	static uint64_t space;
	char boot[64];
	struct stat st;
	ssize_t n;
	int fd;

	if (space)
		return space;
	if (stat("/proc/self/ns/pid", &st) < 0)
		return 0;
	fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, boot, sizeof(boot));
	close(fd);
	if (n <= 0)
		return 0;
	space = tf_hash(tf_hash(0, boot, (size_t)n), &st.st_ino,
			sizeof(st.st_ino));
	return space ? space : 1;
}

int tf__pid_gone(long pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	if (pid <= 0)
		return 0;
	if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
		return 1;
	/* A zombie still answers kill(): its state is after the ')' that
	 * ends the command name in /proc/PID/stat. */
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

int tf__env_true(const char *name)
{
	const char *v = getenv(name);

	return v && (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 ||
		     strcasecmp(v, "yes") == 0);
}

int tf__ncores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}
