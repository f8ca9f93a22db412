/*
 * The wire encoding of messages between ranks: batches of tasks, batches
 * of results, hello, output chunks and control codes, packed into byte
 * buffers sent as MPI_BYTE. Integers and doubles are little-endian on the
 * wire. Decoders check every length against the buffer, so a malformed
 * message is an error, never an overread. No MPI here.
 */
#ifndef TF_WIRE_H
#define TF_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "farm/task.h"
#include "core/comm.h"
#include "core/util.h"


/** Control codes carried by TF_TAG_CONTROL. */
enum tf_control {
	TF_CTL_STOP = 1,         /* master -> worker: leave the loop; arg 1:
				   * a rank was lost, leave MPI unfinalized */
	TF_CTL_DRAIN = 2,         /* master -> worker: start nothing, hand
				   * back what is queued, stop running tasks
				   * after arg seconds (never if negative) */
	TF_CTL_DRAIN_REQUEST = 3, /* worker -> master: I got a signal */
	TF_CTL_KILL = 4,          /* master -> worker: KILL running tasks now */
	TF_CTL_HEARTBEAT = 5,     /* master -> worker: I am here (workers
				   * send an empty RESULTS batch instead) */
	TF_CTL_RECLAIM = 6        /* master -> worker: hand back up to arg
				   * queued tasks (a slot elsewhere idles);
				   * answered by a RESULTS batch, maybe empty */
};

#define TF_WIRE_MAGIC 0x54460001u

/** Output up to this many bytes (stdout + stderr) travels inside the
 * RESULTS batch; larger output goes ahead of it in OUTPUT chunks. */
#define TF_WIRE_INLINE_MAX (64 * 1024)
/** The size of one OUTPUT chunk's payload. */
#define TF_WIRE_CHUNK (1024 * 1024)

struct tf_hello {
	uint32_t slots;
	uint32_t gpus;       /* GPUs bound to its slots (tf_exec_bind_gpus) */
	uint32_t pid;
	uint64_t pid_space;  /* tf__pid_space(): whether pid can be checked */
	uint64_t want_total; /* tasks wanted in all, counting those received */
	char host[256];
};

/* All pack functions append to out. */
void tf_wire_pack_hello(struct tf_strbuf *out, const struct tf_hello *h);
int tf_wire_unpack_hello(const void *buf, size_t len, struct tf_hello *h);

/** ntasks is the run's total (0 if unknown), for TASKFARM_NTASKS. */
void tf_wire_pack_tasks(struct tf_strbuf *out, uint64_t ntasks,
			const struct tf_task *tasks, size_t n);
/**
 * Decodes a TASKS batch into a new array *tasks of *n tasks (the caller
 * releases each and frees the array). Returns 0 or TF_EPROTO, in which
 * case nothing is allocated.
 */
int tf_wire_unpack_tasks(const void *buf, size_t len, uint64_t *ntasks,
			 struct tf_task **tasks, size_t *n);

/**
 * Starts a RESULTS batch in out, which must be empty (a batch is one
 * message, and tf_wire_results_end() patches its header at offset 0);
 * then add results and finish. A result whose
 * output exceeds TF_WIRE_INLINE_MAX is packed without its output bytes
 * (they must have been sent as OUTPUT chunks before this batch).
 */
void tf_wire_results_begin(struct tf_strbuf *out);
void tf_wire_results_add(struct tf_strbuf *out, const struct tf_result *r);
/** Writes the count and the worker's want into the batch's header. */
void tf_wire_results_end(struct tf_strbuf *out, uint32_t count,
			 uint64_t want_total);
/** Whether r's output goes inline in the batch. */
int tf_wire_output_inline(const struct tf_result *r);

/**
 * Decodes a RESULTS batch into a new array *results (each to be released
 * with tf_result_release(), the array freed). Inline output lands in each
 * result's out/err; for streamed output, result->streamed is set and
 * streamed_out / streamed_err hold the announced totals (the receiver
 * merges the chunks it got ahead). Returns 0 or TF_EPROTO.
 */
int tf_wire_unpack_results(const void *buf, size_t len, uint64_t *want_total,
			   struct tf_result **results, size_t *n);

/** OUTPUT chunk ahead of a result too large for its batch: stream is 1
 * for stdout, 2 for stderr. */
void tf_wire_pack_output(struct tf_strbuf *out, uint64_t id, uint32_t attempt,
			 int stream, const void *data, size_t len);
/** OUTPUT with --line-buffer: whole lines of a running task (which: 0
 * stdout, 1 stderr) from its slot (1-based), to be written at once;
 * the stream byte is TF_WIRE_LINES_OUT + which, and the slot follows. */
#define TF_WIRE_LINES_OUT 3
#define TF_WIRE_LINES_ERR 4
void tf_wire_pack_lines(struct tf_strbuf *out, uint64_t id, uint32_t attempt,
			int which, int slot, const void *data, size_t len);
/** Either kind: *stream 1, 2, TF_WIRE_LINES_OUT or _ERR; *slot 0 for the
 * first two. Returns 0 or TF_EPROTO. */
int tf_wire_unpack_output(const void *buf, size_t len, uint64_t *id,
			  uint32_t *attempt, int *stream, int *slot,
			  const void **data, size_t *datalen);

/** A control code and its argument (for DRAIN: seconds until running
 * tasks are stopped, negative for never). */
void tf_wire_pack_control(struct tf_strbuf *out, uint32_t code, double arg);
int tf_wire_unpack_control(const void *buf, size_t len, uint32_t *code,
			   double *arg);

#endif
