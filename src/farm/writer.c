/*
 * Output delivery, off the event loop. Jobs form one list in the order
 * they were added; the thread walks it from `next`, writes each job's
 * output and marks it done, and the caller takes done jobs off the head.
 * Once a stream has failed it stays failed, so a closed or full standard
 * output costs one error, not one per task. --results files are opened
 * under the directory's fd, never through a symbolic link, never blocking
 * on a FIFO, and only if they are regular files.
 *
 * Under -k the caller's side holds finished jobs back in a list sorted by
 * task id, and hands them to the thread only once no earlier task can
 * still give output. They count for tf__writer_full() while held, so the
 * master starts no new task while the held output is at the bound; the
 * tasks already running still finish, and the earliest of them releases
 * what waits behind it.
 */
#include "config.h"

#include "farm/writer.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "farm/report.h"
#include "farm/tagstring.h"
#include "core/util.h"

struct tf_writer {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	int threaded;
	int quit;
	int abandoned;
	struct tf_writer_job *head, *tail; /* added, not collected */
	struct tf_writer_job *next;        /* the first the thread has not taken */
	struct tf_writer_job *current;     /* taken, being delivered */
	/* The thread's (the caller's when unthreaded): */
	int results_fd;
	int tag;
	int stdout_error;
	int stderr_error;
	int stderr_tty; /* shared with the live line: under its lock */
	/* The caller's: */
	int keep_order;
	struct tf_writer_job *held; /* -k: finished, by id, not handed on */
	size_t nheld;
	size_t nchunks; /* --line-buffer chunks not yet collected */
	size_t njobs;
	uint64_t mem;
	int fds;
};

static void job_fail(struct tf_writer_job *j, int where, int error,
		     const char *name)
{
	if (j->error)
		return;
	j->error = error;
	j->where = where;
	snprintf(j->name, sizeof(j->name), "%s", name ? name : "");
}

/* Writes one stream's block to fd, unless that stream already failed. */
static void deliver_stream(struct tf_writer *w, struct tf_writer_job *j,
			   const struct tf_output *o, int fd, int *failed,
			   int where)
{
	struct tf_strbuf prefix = TF_STRBUF_INIT;
	int ret;

	if (o->len == 0)
		return;
	if (j->tag)
		tf_tag_prefix(&prefix, j->tag, j->r.slot);
	else if (w->tag)
		tf_strbuf_addf(&prefix, "%llu\t", (unsigned long long)j->r.id);
	ret = *failed ? *failed
		      : tf_output_write(o, fd, prefix.len ? prefix.buf : NULL);
	tf_strbuf_release(&prefix);
	if (ret < 0) {
		*failed = ret;
		job_fail(j, where, ret, NULL);
	}
}

/* Opens name under the --results directory for writing. Returns the fd,
 * or -errno with *refused set if something else than a regular file is
 * there. */
static int open_result_file(struct tf_writer *w, const char *name,
			    int *refused)
{
	struct stat st;
	int fd, ret;

	*refused = 0;
	fd = openat(w->results_fd, name,
		    O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
			    O_CLOEXEC,
		    0644);
	if (fd < 0) {
		/* A symbolic link, a FIFO nobody reads, a directory. */
		*refused = errno == ELOOP || errno == ENXIO || errno == EISDIR;
		return -errno;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
	} else if (!S_ISREG(st.st_mode)) {
		*refused = 1; /* a FIFO with a reader, a device */
		ret = -EINVAL;
	} else if (ftruncate(fd, 0) < 0) {
		ret = -errno;
	} else {
		return fd;
	}
	close(fd);
	return ret;
}

static void deliver_results(struct tf_writer *w, struct tf_writer_job *j)
{
	const struct tf_output *o[2] = { &j->r.out, &j->r.err };
	static const char *const ext[2] = { "out", "err" };
	int i;

	for (i = 0; i < 2; i++) {
		char name[48];
		int fd, ret, refused;

		snprintf(name, sizeof(name), "%llu.%s",
			 (unsigned long long)j->r.id, ext[i]);
		fd = open_result_file(w, name, &refused);
		if (fd < 0) {
			if (!j->error)
				j->refused = refused;
			job_fail(j, TF_WRITER_RESULTS, fd, name);
			continue;
		}
		/* An output that could not be kept is the caller's to
		 * report: its file is left empty. */
		ret = o[i]->error ? 0 : tf_output_write(o[i], fd, NULL);
		if (close(fd) < 0 && ret == 0)
			ret = -errno;
		if (ret < 0)
			job_fail(j, TF_WRITER_RESULTS, ret, name);
	}
}

static void deliver(struct tf_writer *w, struct tf_writer_job *j)
{
	if (w->results_fd >= 0) {
		deliver_results(w, j);
		return;
	}
	if (!j->r.out.error)
		deliver_stream(w, j, &j->r.out, STDOUT_FILENO,
			       &w->stdout_error, TF_WRITER_STDOUT);
	if (!j->r.err.error && j->r.err.len) {
		if (w->stderr_tty)
			tf__screen_take();
		deliver_stream(w, j, &j->r.err, STDERR_FILENO,
			       &w->stderr_error, TF_WRITER_STDERR);
		if (w->stderr_tty)
			tf__screen_give();
	}
}

/* The abandoned writer's end, on its thread: the jobs went to the caller
 * (tf__writer_abandon()), but for the one it was delivering. */
static void writer_leave(struct tf_writer *w)
{
	if (w->current)
		tf__writer_job_free(w->current);
	pthread_mutex_unlock(&w->lock);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	if (w->results_fd >= 0)
		close(w->results_fd);
	free(w);
}

static void *writer_main(void *arg)
{
	struct tf_writer *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct tf_writer_job *j;

		while (!w->next && !w->quit && !w->abandoned)
			pthread_cond_wait(&w->wake, &w->lock);
		if (w->abandoned) {
			writer_leave(w);
			return NULL;
		}
		if (!w->next)
			break;
		j = w->next;
		w->next = j->next;
		w->current = j;
		pthread_mutex_unlock(&w->lock);
		deliver(w, j);
		pthread_mutex_lock(&w->lock);
		if (w->abandoned) {
			writer_leave(w); /* j is w->current: freed */
			return NULL;
		}
		w->current = NULL;
		j->done = 1;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int tf__writer_new(struct tf_writer **wp, int results_fd, int tag,
		   int threaded)
{
	struct tf_writer *w = tf__xcalloc(1, sizeof(*w));
	sigset_t all, old;
	int ret;

	*wp = NULL;
	w->results_fd = results_fd;
	w->tag = tag;
	/* Unthreaded, the caller clears the live line itself. */
	w->stderr_tty = threaded && isatty(STDERR_FILENO);
	if (threaded) {
		if ((ret = pthread_mutex_init(&w->lock, NULL)) != 0) {
			free(w);
			return -ret;
		}
		if ((ret = pthread_cond_init(&w->wake, NULL)) != 0) {
			pthread_mutex_destroy(&w->lock);
			free(w);
			return -ret;
		}
		/* Signals are the event loop's: the thread takes none. */
		sigfillset(&all);
		ret = pthread_sigmask(SIG_SETMASK, &all, &old);
		if (ret == 0) {
			ret = pthread_create(&w->thread, NULL, writer_main, w);
			pthread_sigmask(SIG_SETMASK, &old, NULL);
		}
		if (ret != 0) {
			pthread_cond_destroy(&w->wake);
			pthread_mutex_destroy(&w->lock);
			free(w);
			return -ret;
		}
		w->threaded = 1;
	}
	*wp = w;
	return 0;
}

/* Counts j in what waits. */
static void account(struct tf_writer *w, struct tf_writer_job *j)
{
	const struct tf_result *r = &j->r;

	j->mem = r->out.mem_len + r->err.mem_len;
	j->fds = (r->out.spill_fd >= 0) + (r->err.spill_fd >= 0);
	w->njobs++;
	w->mem += j->mem;
	w->fds += j->fds;
}

/* -k: keeps j back, in id order (most come in about that order: the
 * search starts from the list's head, which is short when they do). */
static void hold(struct tf_writer *w, struct tf_writer_job *j)
{
	struct tf_writer_job **pp = &w->held;

	while (*pp && (*pp)->r.id <= j->r.id)
		pp = &(*pp)->next;
	j->next = *pp;
	*pp = j;
	w->nheld++;
}

/* Appends j, counted already, to the thread's list. */
static void enqueue(struct tf_writer *w, struct tf_writer_job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&w->lock);
	if (w->tail)
		w->tail->next = j;
	else
		w->head = j;
	w->tail = j;
	if (!w->next)
		w->next = j;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

int tf__writer_add(struct tf_writer *w, struct tf_writer_job *j)
{
	const struct tf_result *r = &j->r;

	j->next = NULL;
	j->done = 0;
	if (w->results_fd < 0 && r->out.len == 0 && r->err.len == 0 &&
	    !w->nchunks) {
		/* Nothing to write, nothing to keep in order, and no line
		 * of a task's may still be on its way. */
		deliver(w, j);
		return 1;
	}
	if (w->keep_order) {
		account(w, j);
		hold(w, j);
		return 0;
	}
	if (!w->threaded) {
		/* Nothing that could stall. */
		deliver(w, j);
		return 1;
	}
	account(w, j);
	w->nchunks += j->chunk;
	enqueue(w, j);
	return 0;
}

void tf__writer_keep_order(struct tf_writer *w)
{
	/* --results files have no order to keep. */
	w->keep_order = w->results_fd < 0;
}

void tf__writer_share_stderr(struct tf_writer *w)
{
	if (w->threaded)
		w->stderr_tty = 1;
}

size_t tf__writer_held(const struct tf_writer *w)
{
	return w->nheld;
}

/* -k, unthreaded: delivers j now, and leaves it done for
 * tf__writer_collect(). */
static void deliver_now(struct tf_writer *w, struct tf_writer_job *j)
{
	int screen = isatty(STDERR_FILENO);

	if (screen)
		tf__screen_take();
	deliver(w, j);
	if (screen)
		tf__screen_give();
	j->done = 1;
	j->next = NULL;
	if (w->tail)
		w->tail->next = j;
	else
		w->head = j;
	w->tail = j;
}

size_t tf__writer_release(struct tf_writer *w, uint64_t horizon, int force)
{
	struct tf_writer_job *j;
	size_t n = 0;

	/* An attempt on its way out that may run again holds back every
	 * higher id: its next attempt's output comes first. */
	for (j = w->head; j; j = j->next)
		if (!j->early && j->r.id < horizon)
			horizon = j->r.id;
	while ((j = w->held) != NULL) {
		if (!force && j->r.id > horizon)
			break;
		if (!force && j->r.id == horizon && j->early)
			break; /* a lower attempt of its id is not done */
		w->held = j->next;
		w->nheld--;
		if (!j->early && j->r.id < horizon)
			horizon = j->r.id;
		if (w->threaded)
			enqueue(w, j);
		else
			deliver_now(w, j);
		n++;
	}
	return n;
}

struct tf_writer_job *tf__writer_collect(struct tf_writer *w)
{
	struct tf_writer_job *done = NULL, **end = &done, *j;

	if (!w->njobs)
		return NULL;
	if (w->threaded)
		pthread_mutex_lock(&w->lock);
	while (w->head && w->head->done) {
		*end = w->head;
		end = &w->head->next;
		w->head = w->head->next;
	}
	*end = NULL;
	if (!w->head)
		w->tail = NULL;
	if (w->threaded)
		pthread_mutex_unlock(&w->lock);
	for (j = done; j; j = j->next) {
		w->njobs--;
		w->mem -= j->mem;
		w->fds -= j->fds;
	}
	/* Chunks are nobody's results: they end here. */
	for (end = &done; (j = *end) != NULL;) {
		if (j->chunk) {
			*end = j->next;
			w->nchunks--;
			tf__writer_job_free(j);
		} else {
			end = &j->next;
		}
	}
	return done;
}

size_t tf__writer_pending(const struct tf_writer *w)
{
	return w->njobs;
}

int tf__writer_full(const struct tf_writer *w)
{
	return w->njobs >= TF_WRITER_MAX_JOBS || w->mem >= TF_WRITER_MAX_MEM ||
	       w->fds >= TF_WRITER_MAX_FDS;
}

struct tf_writer_job *tf__writer_abandon(struct tf_writer **wp)
{
	struct tf_writer *w = *wp, *fresh;
	struct tf_writer_job *left, *held = w->held, **end;

	int tag = w->tag, threaded = w->threaded;

	/* -k: what is held back was never handed on; it comes last, as it
	 * would have been written. */
	w->held = NULL;
	w->nheld = 0;
	if (threaded) {
		struct tf_writer_job **pp;
		pthread_t thread = w->thread;

		pthread_mutex_lock(&w->lock);
		w->abandoned = 1;
		left = w->head;
		/* The job being delivered stays the thread's (its write may
		 * go on): the caller gets a copy without its output. */
		for (pp = &left; *pp; pp = &(*pp)->next) {
			if (*pp == w->current) {
				struct tf_writer_job *copy =
					tf__xcalloc(1, sizeof(*copy));

				*copy = **pp;
				copy->tag = NULL; /* the thread's */
				tf_output_init(&copy->r.out);
				tf_output_init(&copy->r.err);
				w->current->next = NULL;
				*pp = copy;
				break;
			}
		}
		w->head = w->tail = w->next = NULL;
		pthread_cond_signal(&w->wake);
		pthread_mutex_unlock(&w->lock);
		/* From here w is the thread's, which frees it as it leaves. */
		pthread_detach(thread);
	} else {
		left = w->head; /* -k's delivered, not collected */
	}
	for (end = &left; *end; end = &(*end)->next)
		;
	*end = held;
	/* Chunks are nobody's results: dropped with the rest. */
	for (end = &left; *end;) {
		struct tf_writer_job *j = *end;

		if (j->chunk) {
			*end = j->next;
			tf__writer_job_free(j);
		} else {
			end = &j->next;
		}
	}
	if (!threaded) {
		/* No thread, and no job waits. */
		if (w->results_fd >= 0)
			close(w->results_fd);
		free(w);
	}
	/* Unthreaded: nothing there can fail (tf__xcalloc aborts). */
	(void)tf__writer_new(&fresh, -1, tag, 0);
	fresh->stdout_error = fresh->stderr_error = -EPIPE;
	*wp = fresh;
	return left;
}

void tf__writer_job_free(struct tf_writer_job *j)
{
	tf_result_release(&j->r);
	free(j->tag);
	free(j);
}

void tf__writer_free(struct tf_writer **wp)
{
	struct tf_writer *w = *wp;
	struct tf_writer_job *j;

	if (!w)
		return;
	if (w->threaded) {
		pthread_mutex_lock(&w->lock);
		w->quit = 1;
		pthread_cond_signal(&w->wake);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
		pthread_cond_destroy(&w->wake);
		pthread_mutex_destroy(&w->lock);
	}
	while ((j = w->head) != NULL) {
		w->head = j->next;
		tf__writer_job_free(j);
	}
	while ((j = w->held) != NULL) {
		w->held = j->next;
		tf__writer_job_free(j);
	}
	if (w->results_fd >= 0)
		close(w->results_fd);
	free(w);
	*wp = NULL;
}
