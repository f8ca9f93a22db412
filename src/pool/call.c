/*
 * Running function tasks (see call.h). A chunk's results are written
 * straight into the message that carries them: in the compact form while
 * every task succeeds with a result of the expected size, switching to
 * one record per task at the first that does not.
 */
#include "config.h"

#include "pool/call.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct tf_call {
	struct tf_strbuf *out; /* the message the result goes into */
	size_t base;           /* where the result starts in out */
	size_t len;            /* the result's length */
	size_t index;
	size_t errlen;
	char err[TF_POOL_ERR_MAX + 1];
};

void *tf_call_result(struct tf_call *call, size_t len)
{
	struct tf_strbuf *out = call->out;

	call->len = len;
	if (len == 0)
		return NULL;
	if (call->base + len > out->len)
		tf_strbuf_grow(out, call->base + len - out->len);
	return out->buf + call->base;
}

void tf_call_error(struct tf_call *call, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(call->err, sizeof(call->err), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	call->errlen = (size_t)n < sizeof(call->err) ? (size_t)n
						     : sizeof(call->err) - 1;
}

size_t tf_call_index(const struct tf_call *call)
{
	return call->index;
}

void tf_registry_init(struct tf_registry *r)
{
	memset(r, 0, sizeof(*r));
}

void tf_registry_release(struct tf_registry *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->names[i]);
	free(r->names);
	free(r->fns);
	tf_registry_init(r);
}

int tf_registry_add(struct tf_registry *r, const char *name, tf_task_fn fn)
{
	size_t i, len;

	if (!name || !fn)
		return TF_EINVAL;
	len = strlen(name);
	if (len == 0 || len > TF_POOL_NAME_MAX)
		return TF_EINVAL;
	for (i = 0; i < r->n; i++)
		if (!strcmp(r->names[i], name))
			return TF_EINVAL;
	if (r->n == r->alloc) {
		size_t alloc = r->alloc;

		tf__grow((void **)&r->names, &alloc, r->n + 1,
			 sizeof(*r->names));
		r->fns = tf__xrealloc(r->fns, alloc * sizeof(*r->fns));
		r->alloc = alloc;
	}
	r->names[r->n] = tf__xstrdup(name);
	r->fns[r->n] = fn;
	r->n++;
	return 0;
}

void tf_registry_sort(struct tf_registry *r)
{
	size_t i, j;

	/* Insertion sort: a program registers a handful of functions. */
	for (i = 1; i < r->n; i++) {
		char *name = r->names[i];
		tf_task_fn fn = r->fns[i];

		for (j = i; j > 0 && strcmp(r->names[j - 1], name) > 0; j--) {
			r->names[j] = r->names[j - 1];
			r->fns[j] = r->fns[j - 1];
		}
		r->names[j] = name;
		r->fns[j] = fn;
	}
}

long tf_registry_find(const struct tf_registry *r, const char *name)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(r->names[mid], name);

		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

int tf_registry_diff(const struct tf_registry *r, char *const *names,
		     size_t n, struct tf_strbuf *why)
{
	size_t i = 0, j = 0;
	int differ = 0;

	while (i < r->n || j < n) {
		int c = i == r->n ? 1 : j == n ? -1
					       : strcmp(r->names[i], names[j]);

		if (c == 0) {
			i++;
			j++;
			continue;
		}
		tf_strbuf_addf(why, "%s'%s' %s", differ ? ", " : "",
			       c < 0 ? r->names[i] : names[j],
			       c < 0 ? "missing there" : "only there");
		differ = 1;
		if (c < 0)
			i++;
		else
			j++;
	}
	return differ;
}

/* The input of task i of the chunk (var-size inputs are walked in
 * order, so i must grow by one each call). */
static void next_input(const struct tf_ptasks *t, uint32_t i, size_t *off,
		       const void **in, size_t *len)
{
	if (t->in_size != TF_POOL_VARSIZE) {
		*in = t->data + (size_t)i * t->in_size;
		*len = t->in_size;
		return;
	}
	if (!tf_pwire_tasks_next(t, off, in, len)) {
		*in = NULL; /* cannot happen: decode validated the walk */
		*len = 0;
	}
}

/*
 * A chunk being run: the RESULTS message being built, and where the
 * finished ones go. A message covers the chunk's tasks [first, ...).
 */
struct run {
	tf_task_fn fn;
	void *ctx;
	const struct tf_ptasks *t;
	struct tf_strbuf *out;
	const struct tf_results_sink *sink; /* NULL in isolation's child */
	uint32_t first;       /* the message's first task in the chunk */
	int compact;          /* the message holds bare results */
	uint32_t compact_max; /* the most bare results a message holds */
	double start;         /* when its tasks began, less isolation's cost */
	double limit;         /* isolation: seconds a task may run; 0: none */
	int err;              /* the sink's error: the chunk stops */
};

/* Starts the message of the tasks from first on, with its header's room. */
static void msg_begin(struct run *s, uint32_t first)
{
	size_t expect = 0;

	if (s->t->out_size != TF_POOL_VARSIZE) {
		expect = s->t->count - first;
		if (s->compact && expect > s->compact_max)
			expect = s->compact_max;
		expect *= s->t->out_size;
	}
	tf_strbuf_reset(s->out);
	tf_strbuf_grow(s->out, TF_PWIRE_RESULTS_HDR + expect);
	s->out->len = TF_PWIRE_RESULTS_HDR;
	s->first = first;
	s->start = tf_now();
}

/* Writes the header of the message, which holds the tasks before end,
 * and hands it to the sink. Returns 0 or the sink's error. */
static int msg_end(struct run *s, uint32_t end)
{
	struct tf_presults h;

	h.job = s->t->job;
	h.first = s->t->first + s->first;
	h.count = end - s->first;
	h.form = s->compact ? TF_PWIRE_COMPACT : TF_PWIRE_RECORDS;
	h.out_size = s->t->out_size;
	h.compute_s = tf_now() - s->start;
	tf_pwire_results_header(s->out, &h);
	if (!s->err)
		s->err = s->sink->send(s->sink->arg, s->out);
	return s->err;
}

/*
 * Called once task i's record is in place at [at, out->len): if it took
 * the message past its limit, the tasks before i go out, and the record
 * starts the next message. A record alone may be larger than the limit
 * (in tests; TF_POOL_MAX_BYTES keeps one task within TF_PWIRE_MSG_MAX).
 */
static void spill(struct run *s, size_t at, uint32_t i)
{
	struct tf_strbuf next = TF_STRBUF_INIT;
	size_t len = s->out->len - at;

	if (s->out->len <= s->sink->msg_max || i == s->first)
		return;
	tf_strbuf_grow(&next, TF_PWIRE_RESULTS_HDR + len);
	next.len = TF_PWIRE_RESULTS_HDR;
	tf_strbuf_add(&next, s->out->buf + at, len);
	s->out->len = at;
	msg_end(s, i);
	tf_strbuf_release(s->out);
	*s->out = next;
	s->first = i;
	s->start = tf_now();
}

/* Rewrites the first done compact results of out as records. */
static void decompact(struct tf_strbuf *out, uint32_t done, uint32_t size)
{
	struct tf_strbuf records = TF_STRBUF_INIT;
	uint32_t i;

	tf_strbuf_grow(&records, TF_PWIRE_RESULTS_HDR +
					 (size_t)done * (TF_PWIRE_RECORD_HDR + size));
	records.len = TF_PWIRE_RESULTS_HDR;
	for (i = 0; i < done; i++)
		tf_pwire_add_record(&records, 0,
				    out->buf + TF_PWIRE_RESULTS_HDR +
					    (size_t)i * size,
				    size, NULL, 0);
	tf_strbuf_release(out);
	*out = records;
}

/* A result over the limit is not sent: the task fails with TF_ETOOBIG
 * and says how large its result was. */
static void too_big(struct tf_call *call, int *status)
{
	int n = snprintf(call->err, sizeof(call->err),
			 "result of %zu bytes, over the limit of %zu bytes "
			 "(TF_POOL_MAX_BYTES)",
			 call->len, (size_t)TF_POOL_MAX_BYTES);

	call->errlen = n > 0 && (size_t)n < sizeof(call->err) ? (size_t)n : 0;
	call->len = 0;
	*status = TF_ETOOBIG;
}

/* A task function's return value in the library's range (taskfarm.h)
 * would pass for the library's own code: the task fails with TF_ETASK,
 * and its message, unless it set one, keeps the value. */
static void reserved(struct tf_call *call, int *status)
{
	if (!call->errlen) {
		int n = snprintf(call->err, sizeof(call->err),
				 "task function returned %d, a value "
				 "reserved for the library",
				 *status);

		call->errlen = n > 0 && (size_t)n < sizeof(call->err)
				       ? (size_t)n
				       : 0;
	}
	*status = TF_ETASK;
}

/*
 * Runs tasks [from, t->count) in this process, appending records (or,
 * while s->compact is set, bare results) to the message. With fd >= 0,
 * each task's record is written to fd at once and the buffer emptied
 * (isolation's child, which has no sink).
 */
static void run_here(struct run *s, uint32_t from, int fd)
{
	const struct tf_ptasks *t = s->t;
	struct tf_strbuf *out = s->out;
	struct tf_call call;
	size_t off = 0;
	uint32_t i;

	call.out = out;
	for (i = 0; i < from; i++) {
		const void *in;
		size_t len;

		next_input(t, i, &off, &in, &len);
	}
	for (i = from; i < t->count && !s->err; i++) {
		const void *in;
		size_t len, at;
		int status;

		if (s->compact && i - s->first == s->compact_max) {
			if (msg_end(s, i))
				break;
			msg_begin(s, i);
		}
		next_input(t, i, &off, &in, &len);
		at = out->len;
		call.base = at + (s->compact ? 0 : TF_PWIRE_RECORD_HDR);
		call.len = 0;
		call.errlen = 0;
		call.index = t->flags & TF_PWIRE_FUTURES
				     ? 0
				     : (size_t)(t->first + i);
		if (!s->compact)
			tf_strbuf_grow(out, TF_PWIRE_RECORD_HDR);
		status = s->fn(&call, in, len, s->ctx);
		if (status >= TF_ERESERVED_MIN && status <= TF_ERESERVED_MAX)
			reserved(&call, &status);
		if (call.len > TF_POOL_MAX_BYTES)
			too_big(&call, &status);
		if (s->compact) {
			struct tf_strbuf keep = TF_STRBUF_INIT;

			if (status == 0 && call.len == t->out_size &&
			    call.errlen == 0) {
				out->len += call.len;
				continue;
			}
			/* The first exception: from now on, records. */
			tf_strbuf_add(&keep, out->buf + call.base, call.len);
			decompact(out, i - s->first, t->out_size);
			at = out->len;
			tf_pwire_add_record(out, status, keep.buf, keep.len,
					    call.err, call.errlen);
			tf_strbuf_release(&keep);
			s->compact = 0;
			spill(s, at, i);
			continue;
		}
		/* The result is in place; put the record header before it. */
		if (call.base > out->len)
			tf_strbuf_grow(out, call.base - out->len);
		tf_pwire_record_header(out->buf + at, status, call.len,
				       call.errlen);
		out->len = call.base + call.len;
		tf_strbuf_add(out, call.err, call.errlen);
		while (out->len % 8)
			tf_strbuf_addch(out, '\0');
		if (fd >= 0) {
			if (tf_write_all(fd, out->buf, out->len))
				_exit(125);
			tf_strbuf_reset(out);
			continue;
		}
		spill(s, at, i);
	}
}

/* Appends a record for task i (isolation's parent) and spills. */
static void add_record(struct run *s, uint32_t i, int32_t status,
		       const void *result, size_t len, const char *error,
		       size_t errlen)
{
	size_t at = s->out->len;

	tf_pwire_add_record(s->out, status, result, len, error, errlen);
	spill(s, at, i);
}

static void describe_death(int wstatus, struct tf_strbuf *why)
{
	if (WIFSIGNALED(wstatus))
		tf_strbuf_addf(why, "task crashed: signal %d (%s)",
			       WTERMSIG(wstatus), strsignal(WTERMSIG(wstatus)));
	else if (WIFEXITED(wstatus))
		tf_strbuf_addf(why, "task ended its process with exit "
				    "status %d",
			       WEXITSTATUS(wstatus));
	else
		tf_strbuf_addstr(why, "task's process vanished");
}

/* One read of fd appended to sb (kept NUL-terminated). Returns the bytes
 * read, 0 at the end, or -errno. */
static ssize_t read_chunk(int fd, struct tf_strbuf *sb)
{
	for (;;) {
		ssize_t n;

		tf_strbuf_grow(sb, 65536);
		n = read(fd, sb->buf + sb->len, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		sb->len += (size_t)n;
		sb->buf[sb->len] = '\0';
		return n;
	}
}

/* Reads fd to its end into sb. Returns 0 or -errno. */
static int read_all(int fd, struct tf_strbuf *sb)
{
	ssize_t n;

	while ((n = read_chunk(fd, sb)) > 0)
		;
	return (int)n;
}

/*
 * Reads fd to its end into sb, as read_all() does, but gives up once
 * limit seconds (if > 0) pass with nothing read: each record the child
 * writes ends one task, so the silence is the time the next task has
 * run. Sets *timed_out then. With sink->stop, asks it every STOP_POLL
 * and gives up when it says so, setting *stopped. Returns 0 or -errno.
 */
static int read_limited(int fd, struct tf_strbuf *sb, double limit,
			const struct tf_results_sink *sink, int *timed_out,
			int *stopped)
{
	double until = tf_now() + limit;

	*timed_out = 0;
	*stopped = 0;
	for (;;) {
		struct pollfd pfd;
		double left = limit > 0 ? until - tf_now() : STOP_POLL;
		ssize_t n;
		int rc;

		if (left <= 0) {
			*timed_out = 1;
			return 0;
		}
		if (sink && sink->stop) {
			if (sink->stop(sink->arg)) {
				*stopped = 1;
				return 0;
			}
			if (left > STOP_POLL)
				left = STOP_POLL;
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		rc = poll(&pfd, 1, (int)(left * 1000) + 1);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return -errno;
		if (rc == 0)
			continue;
		n = read_chunk(fd, sb);
		if (n <= 0)
			return (int)n;
		until = tf_now() + limit;
	}
}

/*
 * Isolation: tasks run in a forked child that streams their records
 * through a pipe. When the child dies before the end, the records it
 * finished are kept, the task it was running gets TF_ECRASH, and a new
 * child takes the rest. With a time limit, a task that runs past it has
 * its child killed (SIGKILL) and gets TF_ETIMEDOUT instead; a sink's
 * stop (the pool closes past its limit) kills the child too and ends the
 * chunk there. The time
 * spent in fork() and waitpid() is
 * isolation's cost, which belongs to the chunk like a message's cost,
 * not to its tasks (else the chunker, seeing slow tasks, would keep
 * chunks of one and fork per task): it moves s->start on.
 */
static void run_isolated(struct run *s)
{
	const struct tf_ptasks *t = s->t;
	uint32_t from = 0;

	while (from < t->count && !s->err) {
		struct tf_strbuf got = TF_STRBUF_INIT, why = TF_STRBUF_INIT;
		struct tf_presults view;
		struct tf_precord rec;
		int fds[2], wstatus = 0, timed_out = 0, stopped = 0;
		size_t off = 0;
		uint32_t done = 0;
		pid_t pid;
		double t0;

		/* Output the parent buffered must not be printed twice. */
		fflush(NULL);
		t0 = tf_now();
		if (pipe(fds) < 0 || (pid = fork()) < 0) {
			tf_strbuf_addf(&why, "cannot isolate the task: %s",
				       strerror(errno));
			add_record(s, from, TF_ECRASH, NULL, 0, why.buf,
				   why.len);
			tf_strbuf_release(&why);
			from++;
			continue;
		}
		if (pid == 0) {
			struct tf_strbuf recs = TF_STRBUF_INIT;
			struct run child = *s;

			static const int crash_signals[] = {
				SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT,
				SIGTRAP, SIGSYS
			};
			size_t k;

			close(fds[0]);
			/* MPI libraries catch these to print a backtrace;
			 * a task's crash should just end its child. */
			for (k = 0; k < sizeof(crash_signals) /
						sizeof(*crash_signals);
			     k++)
				signal(crash_signals[k], SIG_DFL);
			/* One task per write, so a crash loses only the
			 * task that crashed. */
			child.out = &recs;
			child.sink = NULL;
			child.compact = 0;
			run_here(&child, from, fds[1]);
			fflush(NULL);
			_exit(0);
		}
		s->start += tf_now() - t0;
		close(fds[1]);
		if (s->limit > 0 || (s->sink && s->sink->stop)) {
			if (read_limited(fds[0], &got, s->limit, s->sink,
					 &timed_out, &stopped) == 0 &&
			    (timed_out || stopped)) {
				kill(pid, SIGKILL);
				read_all(fds[0], &got);
			}
		} else {
			read_all(fds[0], &got);
		}
		close(fds[0]);
		t0 = tf_now();
		while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
			;
		s->start += tf_now() - t0;
		if (stopped) {
			/* The pool closes: nothing more of the chunk is sent. */
			s->err = TF_ECANCELLED;
			tf_strbuf_release(&got);
			break;
		}
		view.data = (const unsigned char *)got.buf;
		view.data_len = got.len;
		while (from + done < t->count && !s->err &&
		       tf_pwire_results_next(&view, &off, &rec)) {
			add_record(s, from + done, rec.status, rec.result,
				   rec.len, rec.error, rec.errlen);
			done++;
		}
		from += done;
		if (from < t->count && !s->err) {
			/* The child died in the task after its last record,
			 * or was killed there for running too long. */
			int status = TF_ECRASH;

			if (timed_out) {
				tf_strbuf_addf(&why, "task killed: it ran past "
						     "its time limit of %g s",
					       s->limit);
				status = TF_ETIMEDOUT;
			} else {
				describe_death(wstatus, &why);
			}
			add_record(s, from, status, NULL, 0, why.buf,
				   why.len);
			from++;
		}
		tf_strbuf_release(&got);
		tf_strbuf_release(&why);
	}
}

/* The most bare results of out_size bytes a message of msg_max bytes
 * holds, such that rewritten as records they still fit. */
static uint32_t compact_max(size_t msg_max, uint32_t out_size)
{
	size_t n;

	if (out_size == TF_POOL_VARSIZE || msg_max <= TF_PWIRE_RESULTS_HDR)
		return 1;
	n = (msg_max - TF_PWIRE_RESULTS_HDR) /
	    tf_pwire_record_size(out_size, 0);
	if (n > UINT32_MAX)
		n = UINT32_MAX;
	return n ? (uint32_t)n : 1;
}

int tf_call_run_chunk(const struct tf_registry *r, void *ctx, int isolate,
		     double task_limit, const struct tf_ptasks *t,
		     struct tf_strbuf *out, const struct tf_results_sink *sink)
{
	struct run s;

	tf_strbuf_reset(out);
	if (t->fn >= r->n)
		return TF_EPROTO;
	s.fn = r->fns[t->fn];
	s.ctx = ctx;
	s.t = t;
	s.out = out;
	s.sink = sink;
	s.err = 0;
	s.limit = isolate ? task_limit : 0;
	s.compact = !isolate && t->out_size != TF_POOL_VARSIZE;
	s.compact_max = compact_max(sink->msg_max, t->out_size);
	msg_begin(&s, 0);
	if (isolate)
		run_isolated(&s);
	else
		run_here(&s, 0, -1);
	if (!s.err)
		msg_end(&s, t->count);
	return s.err;
}
