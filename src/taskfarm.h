/*
 * taskfarm: a task farm over MPI. Rank 0 is the master: it reads tasks
 * from a queue and hands them to worker ranks over MPI point-to-point
 * messages; workers run them and report back.
 *
 * This is the one installed header of libtaskfarm (with the generated
 * taskfarm_version.h it includes). It declares the error codes and the C
 * API: a pool of MPI ranks that runs registered C functions, with an
 * ordered map, an unordered map and futures (see taskfarm(3)). Only what
 * it declares with TF_EXTERN is exported from the shared library.
 *
 * Option structs (struct tf_pool_opts, struct tf_map_opts) grow without
 * breaking programs built against an older header: each ends with
 * reserved words that must be zero (tf_pool_opts_init() and a zeroing
 * initializer such as `= {0}` or designated fields do that). A field
 * added later takes the place of reserved words, so the struct's size and
 * every older field's offset stay the same; a library older than the
 * header that sees a reserved word set refuses the call with TF_EINVAL
 * rather than ignore an option it does not know.
 */
#ifndef TASKFARM_H
#define TASKFARM_H

#include <stddef.h>

#include "taskfarm_version.h"

/* Marks the declarations exported from libtaskfarm.so; the library is
 * built with -fvisibility=hidden, so nothing else is. */
#if defined(__GNUC__) && __GNUC__ >= 4
#define TF_EXTERN __attribute__((visibility("default")))
#else
#define TF_EXTERN
#endif

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Error codes. Functions return 0 on success, a negative errno value for
 * a failed system call, or one of these (all negative and below -4095,
 * so they never collide with -errno). The values are part of the ABI;
 * -5007 and -5008 are retired and never returned. Codes marked (0.2)
 * are new in version 0.2.
 */
enum tf_error {
	TF_EINVAL = -5001,   /* an invalid argument or option value */
	TF_EPARSE = -5002,   /* malformed input (job file, argument file) */
	TF_ETOOLONG = -5003, /* a line or command over the documented limit */
	TF_EPROTO = -5004,   /* a malformed message between ranks */
	TF_EMPI = -5005,     /* an MPI call failed */
	TF_ESPAWN = -5006,   /* a task's process could not be started */
	TF_EREGISTER = -5009,/* ranks registered different task functions,
			      * or a function name is not registered */
	TF_ESTATE = -5010,   /* a call not allowed in the pool's state (on a
			      * worker rank, before start, from a result
			      * callback) */
	TF_ECANCELLED = -5011,/* the future was cancelled before it ran */
	TF_ETASK = -5012,    /* a task failed (its own status is elsewhere) */
	TF_ECRASH = -5013,   /* a task crashed its isolation child */
	TF_ELOST = -5014,    /* the rank running it was lost (died, or sent
			      * nothing for the heartbeat interval) */
	TF_ETOOBIG = -5015,  /* an input or result over TF_POOL_MAX_BYTES */
	TF_ENONE = -5016,    /* (0.2) tf_future_wait_any(): no future left */
	TF_ETIMEDOUT = -5017 /* (0.2) a wait's time limit passed first; in
			      * a status: an isolated task ran past
			      * task_timeout and was killed */
};

/**
 * The library's status range: [TF_ERESERVED_MIN, TF_ERESERVED_MAX] holds
 * every TF_E* code, today's and future ones. A task function's return
 * value in it could not be told from the library's own (a task returning
 * -5013 would look like a crash), so the library maps it: the task's
 * status becomes TF_ETASK, and its message (tf_future_error(), the map's
 * errors) says "task function returned N, a value reserved for the
 * library" unless the task set its own message. (0.2)
 */
#define TF_ERESERVED_MIN (-5999)
#define TF_ERESERVED_MAX (-5000)

/** A static English description of err (0, -errno or TF_E*). */
TF_EXTERN const char *tf_strerror(int err);

/** The version of the library the program runs with, as
 * "MAJOR.MINOR.PATCH" (TF_VERSION_STRING is the header's). */
TF_EXTERN const char *tf_version(void);

/*
 * The C API: a pool of ranks running C functions.
 *
 * Every rank of a communicator calls tf_pool_open(), registers the same
 * task functions by name with tf_pool_register(), then tf_pool_start().
 * On rank 0 (the master) tf_pool_start() returns 1 and the program goes
 * on to map and submit work; on every other rank it serves tasks until
 * the master calls tf_pool_close(), then returns 0. Every rank ends with
 * tf_pool_close(). The pattern, on every rank:
 *
 *	struct tf_pool *pool;
 *	tf_pool_open(&pool, NULL);
 *	tf_pool_register(pool, "square", square);
 *	if (tf_pool_start(pool) == 1) {
 *		double in[N], out[N];
 *		...
 *		tf_pool_map(pool, "square", in, sizeof(*in), N,
 *			    out, sizeof(*out), NULL);
 *	}
 *	tf_pool_close(pool);
 *
 * All master-side calls (map, submit, wait, ...) must come from one
 * thread. With one rank the master runs the tasks itself.
 *
 * A worker rank that is lost (its process ended, it stopped serving, or
 * with lost_after it went silent) does not stop the pool: each task of
 * the chunks it held fails with status TF_ELOST, and the pool goes on
 * with the other ranks; when no rank is left to run tasks, every task
 * queued fails so too. A worker whose master's process ended (on the
 * same host) returns TF_ELOST from tf_pool_start().
 */

/**
 * The most bytes one task's input, and one task's result, may hold:
 * 2 GiB less 64 KiB, so that a message of one task with its headers and
 * error message stays within what MPI's int count can carry. A larger
 * input is refused with TF_ETOOBIG before anything is sent (maps,
 * tf_pool_submit(), tf_pool_set_init()'s argument); a larger result fails
 * its task with status TF_ETOOBIG (the result is not sent) and the map
 * goes on. A chunk of several tasks is cut into as many messages as it
 * needs.
 */
#define TF_POOL_MAX_BYTES ((size_t)2147418112)

/** One task's call: what a task function uses to return its result and
 * an error message. Valid only while the function runs. */
struct tf_call;

/**
 * A task function. in is the task's input (in_len bytes; for a fixed-size
 * map, the record size), valid while the function runs and 8-byte aligned
 * (for fixed-size records, when their size is a multiple of 8); ctx the
 * worker's context from the initializer
 * (NULL without one). It returns 0 for success or any other value as the
 * task's status (a failure; a value in the library's range
 * [TF_ERESERVED_MIN, TF_ERESERVED_MAX] becomes TF_ETASK, see above); it
 * may set a result with tf_call_result() and a message with
 * tf_call_error() either way. It must not call MPI. It must not call the
 * pool either: every pool call made from inside a task returns
 * TF_ESTATE, on every rank, the master included when it runs tasks
 * (master_works, or one rank), and so does one from an initializer,
 * a finalizer, a result callback or an imap producer; tf_future_free()
 * is the exception (it only lets go of a future). (0.2: before, a master
 * running tasks took such calls, and tf_pool_close() was taken
 * anywhere.) A NULL pool, future or out-pointer where the call needs one
 * gets TF_EINVAL (tf_future_result(), tf_future_error() and
 * tf_future_tag() return NULL; tf_pool_opts_init() does nothing).
 */
typedef int (*tf_task_fn)(struct tf_call *call, const void *in,
			  size_t in_len, void *ctx);

/**
 * Returns a buffer of len bytes for the task's result, owned by the
 * library and valid until the function returns (write the result into
 * it); it is 8-byte aligned, as the input is. A second call replaces the
 * first buffer. Returns NULL only for len == 0.
 */
TF_EXTERN void *tf_call_result(struct tf_call *call, size_t len);

/** Sets the task's error message (printf format; truncated at 4095
 * bytes). Does not by itself fail the task: the return value does. */
TF_EXTERN void tf_call_error(struct tf_call *call, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

/** The task's index in its map (0 for a future). */
TF_EXTERN size_t tf_call_index(const struct tf_call *call);

/**
 * Per-worker set-up (Pool's initializer): called once on each rank that
 * runs tasks, before its first task, with the master's init argument
 * (valid during the call only).
 * Whatever it stores in *ctx is passed to every task function on that
 * rank, and to fini at close. A non-zero return fails the start.
 */
typedef int (*tf_init_fn)(void **ctx, const void *arg, size_t arg_len);
typedef void (*tf_fini_fn)(void *ctx);

struct tf_pool;
struct tf_future;

struct tf_pool_opts {
	/*
	 * The communicator: a pointer to an MPI_Comm, or NULL for
	 * MPI_COMM_WORLD. The pool works on a duplicate, so its messages
	 * never meet the application's. If MPI is not initialized,
	 * tf_pool_open() initializes it when a launcher started the
	 * program (and tf_pool_close() finalizes it), or runs with one rank
	 * and no MPI at all when none did. The application's communicators
	 * keep their error handlers.
	 */
	const void *mpi_comm;
	/* Tasks per message: 0 chooses automatically from the measured task
	 * time and message cost; a map's own opts override this. */
	size_t chunk;
	/* 1: run tasks in a forked child, so that a crash (segfault,
	 * abort) becomes that task's error (TF_ECRASH) and the rank lives
	 * on; 0 (default): in the rank. Other values: TF_EINVAL (0.2). */
	int isolate;
	/* Whether the master runs tasks too: -1 (default) only when it is
	 * the only rank; 1 always; 0 never (with one rank, it must). Other
	 * values: TF_EINVAL (0.2). */
	int master_works;
	/*
	 * On the master: declare lost (its tasks fail with TF_ELOST) a
	 * worker that holds chunks and has sent nothing for this many
	 * seconds since its last result, or since it was given work while
	 * it held none; 0 (default) or less: never. A worker sends nothing
	 * while it runs a chunk, and runs the two it holds one after the
	 * other, so choose it well above twice the longest a chunk may run
	 * (the longest task, or with a fixed chunk, that many of them) plus
	 * a message's travel. Without it, a worker on the master's host is
	 * still found lost when its process ends; one elsewhere only if MPI
	 * reports an error. The pool reads it at start on the master only.
	 */
	double lost_after;
	/*
	 * (0.2) With isolate: the most seconds one task may run. A task
	 * still running then has its child killed (SIGKILL; processes the
	 * task started itself are not) and gets status TF_ETIMEDOUT, and
	 * the chunk goes on. 0 (default): no limit. Set it on every rank,
	 * as isolate: each rank reads its own. TF_EINVAL from
	 * tf_pool_open() if negative, or set without isolate.
	 */
	double task_timeout;
	/*
	 * (0.2) Whether tasks start threads of their own (OpenMP, POSIX
	 * threads that do not call MPI): 1 makes tf_pool_open() initialize
	 * MPI at MPI_THREAD_FUNNELED, or, if the program initialized it,
	 * check that its level is at least that (TF_EINVAL if not). 0
	 * (default): MPI_Init(), MPI_THREAD_SINGLE, which allows no other
	 * threads but costs less a message in some MPIs (Open MPI 4.1).
	 * Set it on every rank.
	 */
	int threads;
	/* Zero (see the top of this file on option structs). */
	size_t reserved[7 - sizeof(double) / sizeof(size_t)];
};

/** Fills o with the defaults. */
TF_EXTERN void tf_pool_opts_init(struct tf_pool_opts *o);

/**
 * Collective over the communicator: sets up a pool (opts may be NULL
 * for the defaults; it is copied). Returns 0 with *pool set, or TF_EMPI
 * (MPI could not be initialized) or TF_EINVAL (a reserved word of opts is
 * not zero, an option out of its range, pool NULL, or threads and an MPI
 * below MPI_THREAD_FUNNELED), and then *pool is NULL and
 * tf_pool_errmsg(NULL) says why.
 */
TF_EXTERN int tf_pool_open(struct tf_pool **pool,
			   const struct tf_pool_opts *opts);

/**
 * Registers fn under name (copied; at most 255 bytes) on this rank.
 * Every rank must register the same names before tf_pool_start(), in any
 * order: function pointers differ between processes, so tasks name their
 * function. Returns 0, TF_EINVAL (bad name, or a name registered twice)
 * or TF_ESTATE (after start).
 */
TF_EXTERN int tf_pool_register(struct tf_pool *pool, const char *name,
			       tf_task_fn fn);

/**
 * Sets the per-worker initializer and finalizer (either may be NULL),
 * on every rank before start. arg (arg_len bytes, copied) matters on the
 * master only: it is sent to every rank that runs tasks. Returns 0,
 * TF_ESTATE, or TF_ETOOBIG (arg_len over TF_POOL_MAX_BYTES).
 */
TF_EXTERN int tf_pool_set_init(struct tf_pool *pool, tf_init_fn init,
			       tf_fini_fn fini, const void *arg,
			       size_t arg_len);

/**
 * Collective: starts the pool. The master checks that every rank
 * registered the same names and that every initializer succeeded. Returns
 * on the master 1 (ready for work); on other ranks 0 after they have
 * served until the master's tf_pool_close(); on any rank TF_EREGISTER
 * (registrations differ; the message names the ranks and functions),
 * TF_ETASK (an initializer failed), TF_ELOST (a rank was lost during the
 * start; on a worker also: its master's process ended, or the master
 * declared it lost), TF_EMPI or TF_EPROTO; TF_ESTATE if called twice.
 * After a failure every rank just calls tf_pool_close().
 */
TF_EXTERN int tf_pool_start(struct tf_pool *pool);

/** The number of ranks that run tasks (counting the master when it
 * works; on a started master, less the workers lost), and this rank in
 * the pool. */
TF_EXTERN int tf_pool_workers(const struct tf_pool *pool);
TF_EXTERN int tf_pool_rank(const struct tf_pool *pool);

/**
 * Collective: on the master, waits for every future still running
 * (queued ones are cancelled), tells the other ranks to leave, and frees
 * the pool with every future not yet freed; elsewhere, frees the pool.
 * Finalizes MPI if tf_pool_open() initialized it and no other pool still
 * uses it (with two pools open, the last to close finalizes; MPI cannot
 * start again afterwards, so a later tf_pool_open() gets TF_EMPI).
 * Returns 0, TF_ELOST (a rank was lost: on a worker, its master ended or
 * left it behind; MPI is left unfinalized), TF_EMPI, or TF_ESTATE (called
 * from a task, an initializer, finalizer or callback: nothing is done).
 * pool may be NULL.
 */
TF_EXTERN int tf_pool_close(struct tf_pool *pool);

/**
 * (0.2) Collective: tf_pool_close() that waits for running tasks at most
 * seconds (0 or less, or NaN: not at all). Queued futures are cancelled
 * (TF_ECANCELLED) at once. Past the limit, the tasks still running are
 * stopped: an isolated task's child is killed (SIGKILL, within about
 * 0.05 s of the worker hearing the STOP) and MPI is finalized as usual;
 * a task that runs in a worker's own process cannot be stopped from
 * outside the function, so that worker is left behind: every rank then
 * leaves MPI unfinalized, as after a lost rank, and the process should
 * exit soon (the launcher ends the workers left behind). The wait for the
 * workers' answers after the limit is bounded (about 2 s). On the master
 * returns 0 (every task ended in time), TF_ETIMEDOUT (tasks were still
 * running at the limit and were stopped or left behind;
 * tf_pool_errmsg(NULL) says which), or the errors of tf_pool_close();
 * on other ranks as tf_pool_close(). pool may be NULL.
 */
TF_EXTERN int tf_pool_close_for(struct tf_pool *pool, double seconds);

/**
 * The message of pool's last error or event: why a call failed or a
 * start was refused (on the master: which ranks registered what, which
 * initializer failed), or that a rank was lost and why. The library
 * never prints; the caller may. Owned by the pool: valid until its next
 * call. "" when there is none. With pool NULL: the message the last
 * pool closed in this process left (a loss its close found, say), or why
 * the last tf_pool_open() failed, until the next close or failed open.
 */
TF_EXTERN const char *tf_pool_errmsg(const struct tf_pool *pool);

/** A byte buffer, for inputs and results of variable size. */
struct tf_buf {
	void *data;
	size_t len;
};

/** Per-map options and reports (all fields optional: zero the struct). */
struct tf_map_opts {
	size_t chunk;   /* tasks per message; 0: the pool's setting */
	int *status;    /* if set, n entries: each task's return value
			 * (TF_ECRASH if it crashed its child; TF_ETASK for
			 * a result not of out_size bytes in tf_pool_map;
			 * TF_ELOST if its rank was lost; TF_ETOOBIG for a
			 * result over TF_POOL_MAX_BYTES) */
	char **errors;  /* if set, n entries: each task's message (malloc'd,
			 * for the caller to free) or NULL */
	/* (0.2) The most seconds the map may take (0: no limit). Past it
	 * the map returns TF_ETIMEDOUT: tasks not yet sent never run, those
	 * under way go on and their results are dropped; the outputs,
	 * status and errors of the tasks done by then are written, the
	 * others left as they were (for mapv, {NULL, 0}). */
	double timeout;
	/* Zero (see the top of this file). */
	size_t reserved[8 - sizeof(double) / sizeof(size_t)];
};

/**
 * The ordered map, on the master. Runs function fn on n fixed-size
 * records of in_size bytes at in, and writes each task's result, which
 * must be exactly out_size bytes, to out + i * out_size (out may be NULL
 * when out_size is 0). A task that fails or returns a result of another
 * size leaves its output record zeroed. Blocks until all n are done;
 * futures submitted before go on meanwhile. in and out stay the caller's.
 * Returns the number of failed tasks (0 when all succeeded; tasks of a
 * lost rank count), or a negative error, and then no task was sent:
 * TF_EREGISTER (fn unknown), TF_EINVAL (fn NULL, NULL buffers, or a
 * reserved word of opts not zero), TF_ETOOBIG
 * (in_size or out_size over TF_POOL_MAX_BYTES), TF_ESTATE; or the error
 * that broke the pool (TF_EMPI, TF_EPROTO), which every later call
 * returns too.
 */
TF_EXTERN long tf_pool_map(struct tf_pool *pool, const char *fn, const void *in,
			   size_t in_size, size_t n, void *out, size_t out_size,
			   const struct tf_map_opts *opts);

/**
 * The ordered map over variable-size inputs in[0..n-1]. Each out[i]
 * receives the task's result in memory allocated with malloc() (the
 * caller frees out[i].data; data is NULL when the result is empty).
 * Returns as tf_pool_map() (TF_ETOOBIG: an input over TF_POOL_MAX_BYTES;
 * TF_EINVAL: an entry with data NULL and len not 0). A message carries
 * inputs up to about 1 MiB (one larger input goes alone), and a chunk's
 * results come back in messages of about 1 MiB, so a worker holds a few
 * MiB beyond its largest record, whatever the chunk size. (0.2)
 */
TF_EXTERN long tf_pool_mapv(struct tf_pool *pool, const char *fn,
			    const struct tf_buf *in, size_t n,
			    struct tf_buf *out, const struct tf_map_opts *opts);

/**
 * A result as it completes: the task's index in the map, its status
 * (0 on success), its result (len bytes, valid during the call only) and
 * its error message or NULL. A non-zero return stops the map early:
 * tasks not yet sent are not run, results already under way are taken in
 * without further calls, and the map returns that value (make it
 * negative to tell it from a count of failures). The callback must not
 * call the pool (that returns TF_ESTATE).
 */
typedef int (*tf_result_fn)(void *arg, size_t index, int status,
			    const void *result, size_t len, const char *error);

/**
 * The unordered map (imap_unordered / as_completed): as tf_pool_map() for
 * the inputs, but each result goes to cb on the master as soon as it
 * arrives, exactly once per index. Returns the number of failed tasks, a
 * negative error, or cb's non-zero return.
 */
TF_EXTERN long tf_pool_map_unordered(struct tf_pool *pool, const char *fn,
				     const void *in, size_t in_size, size_t n,
				     tf_result_fn cb, void *cb_arg,
				     const struct tf_map_opts *opts);
/** The same over variable-size inputs. */
TF_EXTERN long tf_pool_mapv_unordered(struct tf_pool *pool, const char *fn,
				      const struct tf_buf *in, size_t n,
				      tf_result_fn cb, void *cb_arg,
				      const struct tf_map_opts *opts);

/**
 * (0.2) The producer of an ordered streaming map: for input index (0, 1,
 * ... in turn) it sets *in and *len (the bytes are copied before the next
 * call) and returns 1; it returns 0 when there are no more inputs, or a
 * negative value to stop the map with it (any other value stops it with
 * TF_EINVAL). It must not call the pool.
 */
typedef int (*tf_input_fn)(void *arg, size_t index, const void **in,
			   size_t *len);

/**
 * (0.2) The ordered streaming map (Pool.imap): pulls inputs from next as
 * room frees up, runs fn on each, and hands each result to cb in input
 * order (index 0, 1, ...) as soon as it and every earlier one are done,
 * exactly once. At most window tasks (0: 4096) are held at once, inputs
 * and results together, so memory stays bounded however many inputs next
 * makes (the window's book grows with what is held: a huge window costs
 * only that). cb is as for tf_pool_map_unordered(): a non-zero return stops
 * the map (no more inputs are pulled; tasks under way are dropped) and
 * is returned. Returns the number of failed tasks, or a negative error
 * (TF_EINVAL: fn, next or cb NULL, or opts with chunk, status, errors or
 * a reserved word set; TF_EREGISTER, TF_ESTATE, or next's negative
 * value, or the error that broke the pool).
 */
TF_EXTERN long tf_pool_imap(struct tf_pool *pool, const char *fn,
			    tf_input_fn next, void *next_arg, tf_result_fn cb,
			    void *cb_arg, size_t window,
			    const struct tf_map_opts *opts);

/**
 * Futures. tf_pool_submit() queues one task (in is copied), sends it if a
 * rank has room, and returns at once with *f (0.2: futures queued one
 * after another for one function go out in chunks, as a map's tasks do;
 * a submit that finds every rank full may make no progress, the next
 * wait or test does), which the caller frees with
 * tf_future_free() (or tf_pool_close() does). Returns 0; TF_EREGISTER,
 * TF_EINVAL (fn or f NULL, or in NULL with len), TF_ETOOBIG (len over TF_POOL_MAX_BYTES) or TF_ESTATE with
 * *f NULL and nothing queued; or the error that broke the pool (*f is
 * then set, and never completes).
 */
TF_EXTERN int tf_pool_submit(struct tf_pool *pool, const char *fn,
			     const void *in, size_t len, struct tf_future **f);

/** Whether f is done (finished, failed or cancelled): 1 or 0, after
 * making progress (always, on a done future too, so that testing any
 * future now and then drives the whole pool); or the error that broke
 * the pool, or TF_ESTATE (from a task or a result callback). */
TF_EXTERN int tf_future_test(struct tf_future *f);

/**
 * (0.2) One turn of the pool on the master, for a master that computes
 * between calls: takes in the results that arrived, sends queued tasks
 * to the ranks with room and, when the master works, may run one chunk
 * itself. Returns how many things happened (0: nothing), or TF_ESTATE
 * (not a started master, from a task or a callback), or the error that
 * broke the pool.
 */
TF_EXTERN int tf_pool_progress(struct tf_pool *pool);

/** Waits until f is done. Returns 0, or the error that broke the pool
 * (TF_EMPI, TF_EPROTO), or TF_ESTATE (from a task or a callback). */
TF_EXTERN int tf_future_wait(struct tf_future *f);

/**
 * (0.2) tf_future_wait() for at most seconds (a negative value: no
 * limit; 0 or NaN: one turn of progress). Returns 0 once f is done,
 * TF_ETIMEDOUT if it is not done when the time is up (f goes on), or
 * as tf_future_wait().
 */
TF_EXTERN int tf_future_wait_for(struct tf_future *f, double seconds);

/**
 * Waits until any of fs[0..n-1] (NULL entries are skipped) is done and
 * returns its index; returns a done one at once if there is one, so
 * callers free or NULL the futures they have handled (as_completed).
 * Returns TF_ENONE if no entry is left (0.2; it returned -1 before),
 * TF_EINVAL if the futures belong to more than one pool, TF_ESTATE
 * (from a task or a callback), or the error that broke the pool.
 */
TF_EXTERN long tf_future_wait_any(struct tf_future *const *fs, size_t n);

/**
 * (0.2) tf_future_wait_any() for at most seconds (negative: no limit;
 * 0 or NaN: one turn of progress): returns as it does, or TF_ETIMEDOUT if none
 * is done when the time is up.
 */
TF_EXTERN long tf_future_wait_any_for(struct tf_future *const *fs, size_t n,
				      double seconds);

/**
 * Cancels f if it has not been sent to a rank yet (a rank holds at most
 * two chunks, and none behind a task that runs long, so queued futures
 * can be cancelled). Returns 1 if it
 * was cancelled (its status becomes TF_ECANCELLED), 0 if it was sent or
 * is done, TF_ESTATE from a task or a callback (0.2).
 */
TF_EXTERN int tf_future_cancel(struct tf_future *f);

/**
 * A done future's status: its function's return value (0 for success),
 * TF_ECRASH, TF_ETIMEDOUT (0.2: past task_timeout), TF_ECANCELLED, TF_ELOST (its rank was lost), TF_ETOOBIG
 * (its result was over TF_POOL_MAX_BYTES); TF_ESTATE while it is not
 * done.
 */
TF_EXTERN int tf_future_status(const struct tf_future *f);

/** A done future's result (owned by f, valid until tf_future_free()) and
 * its length; NULL if there is none. */
TF_EXTERN const void *tf_future_result(const struct tf_future *f, size_t *len);

/** A done future's error message (owned by f), or NULL. */
TF_EXTERN const char *tf_future_error(const struct tf_future *f);

/** (0.2) A pointer the caller keeps with f (NULL until set), to find its
 * own record of the task after tf_future_wait_any(), say. */
TF_EXTERN void tf_future_set_tag(struct tf_future *f, void *tag);
TF_EXTERN void *tf_future_tag(const struct tf_future *f);

/** Frees f; a future still queued is cancelled first, one running is
 * detached (its result is dropped when it arrives). f may be NULL. */
TF_EXTERN void tf_future_free(struct tf_future *f);

#if defined(MPI_VERSION)
/** With mpi.h included first: tf_pool_open() on a given communicator. */
static inline int tf_pool_open_comm(struct tf_pool **pool, MPI_Comm comm,
				    const struct tf_pool_opts *opts)
{
	struct tf_pool_opts o;

	if (opts)
		o = *opts;
	else
		tf_pool_opts_init(&o);
	o.mpi_comm = &comm;
	return tf_pool_open(pool, &o);
}
#endif

#ifdef __cplusplus
}
#endif

#endif
