/*
 * Running function tasks (see poolrun.h). A chunk's results are written
 * straight into the message that carries them: in the compact form while
 * every task succeeds with a result of the expected size, switching to
 * one record per task at the first that does not.
 */
#include "config.h"

#include "poolrun.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

/*
 * Runs tasks [from, t->count) in this process, appending records (or,
 * while *compact is set, bare results) to out. With fd >= 0, each task's
 * record is written to fd at once and out emptied (isolation's child).
 */
static void run_here(tf_task_fn fn, void *ctx, const struct tf_ptasks *t,
		     uint32_t from, int *compact, struct tf_strbuf *out,
		     int fd)
{
	struct tf_call call;
	size_t off = 0;
	uint32_t i;

	call.out = out;
	for (i = 0; i < from; i++) {
		const void *in;
		size_t len;

		next_input(t, i, &off, &in, &len);
	}
	for (i = from; i < t->count; i++) {
		const void *in;
		size_t len, at;
		int status;

		next_input(t, i, &off, &in, &len);
		at = out->len;
		call.base = at + (*compact ? 0 : TF_PWIRE_RECORD_HDR);
		call.len = 0;
		call.errlen = 0;
		call.index = (size_t)(t->first + i);
		if (!*compact)
			tf_strbuf_grow(out, TF_PWIRE_RECORD_HDR);
		status = fn(&call, in, len, ctx);
		if (*compact) {
			struct tf_strbuf keep = TF_STRBUF_INIT;

			if (status == 0 && call.len == t->out_size &&
			    call.errlen == 0) {
				out->len += call.len;
				continue;
			}
			/* The first exception: from now on, records. */
			tf_strbuf_add(&keep, out->buf + call.base, call.len);
			decompact(out, i, t->out_size);
			tf_pwire_add_record(out, status, keep.buf, keep.len,
					    call.err, call.errlen);
			tf_strbuf_release(&keep);
			*compact = 0;
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
		}
	}
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

/* Reads fd to its end into sb. Returns 0 or -errno. */
static int read_all(int fd, struct tf_strbuf *sb)
{
	for (;;) {
		ssize_t n;

		tf_strbuf_grow(sb, 65536);
		n = read(fd, sb->buf + sb->len, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		sb->len += (size_t)n;
		sb->buf[sb->len] = '\0';
	}
}

/*
 * Isolation: tasks run in a forked child that streams their records
 * through a pipe. When the child dies before the end, the records it
 * finished are kept, the task it was running gets TF_ECRASH, and a new
 * child takes the rest.
 */
/*
 * Returns the seconds spent in fork() and waitpid(): the cost of
 * isolation, which belongs to the chunk like a message's cost, not to
 * its tasks (else the chunker, seeing slow tasks, would keep chunks of
 * one and fork per task).
 */
static double run_isolated(tf_task_fn fn, void *ctx, const struct tf_ptasks *t,
			   struct tf_strbuf *out)
{
	uint32_t from = 0;
	double overhead = 0;

	while (from < t->count) {
		struct tf_strbuf got = TF_STRBUF_INIT, why = TF_STRBUF_INIT;
		struct tf_presults view;
		struct tf_precord rec;
		int fds[2], wstatus = 0, compact = 0;
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
			tf_pwire_add_record(out, TF_ECRASH, NULL, 0, why.buf,
					    why.len);
			tf_strbuf_release(&why);
			from++;
			continue;
		}
		if (pid == 0) {
			struct tf_strbuf recs = TF_STRBUF_INIT;

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
			run_here(fn, ctx, t, from, &compact, &recs, fds[1]);
			fflush(NULL);
			_exit(0);
		}
		overhead += tf_now() - t0;
		close(fds[1]);
		read_all(fds[0], &got);
		close(fds[0]);
		t0 = tf_now();
		while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
			;
		overhead += tf_now() - t0;
		view.data = (const unsigned char *)got.buf;
		view.data_len = got.len;
		while (from + done < t->count &&
		       tf_pwire_results_next(&view, &off, &rec)) {
			tf_pwire_add_record(out, rec.status, rec.result,
					    rec.len, rec.error, rec.errlen);
			done++;
		}
		from += done;
		if (from < t->count) {
			/* The child died in the task after its last record. */
			describe_death(wstatus, &why);
			tf_pwire_add_record(out, TF_ECRASH, NULL, 0, why.buf,
					    why.len);
			from++;
		}
		tf_strbuf_release(&got);
		tf_strbuf_release(&why);
	}
	return overhead;
}

int tf_poolrun_chunk(const struct tf_registry *r, void *ctx, int isolate,
		     const struct tf_ptasks *t, struct tf_strbuf *out)
{
	struct tf_presults h;
	int compact;
	double start;

	tf_strbuf_reset(out);
	if (t->fn >= r->n)
		return TF_EPROTO;
	tf_strbuf_grow(out, TF_PWIRE_RESULTS_HDR +
				    (t->out_size != TF_POOL_VARSIZE
					     ? (size_t)t->count * t->out_size
					     : 0));
	out->len = TF_PWIRE_RESULTS_HDR;
	start = tf_now();
	compact = !isolate && t->out_size != TF_POOL_VARSIZE;
	if (isolate)
		start += run_isolated(r->fns[t->fn], ctx, t, out);
	else
		run_here(r->fns[t->fn], ctx, t, 0, &compact, out, -1);
	h.job = t->job;
	h.first = t->first;
	h.count = t->count;
	h.compact = (uint32_t)compact;
	h.out_size = t->out_size;
	h.compute_s = tf_now() - start;
	tf_pwire_results_header(out, &h);
	return 0;
}
