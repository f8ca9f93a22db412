/*
 * The wire encoding of the C API's pool messages: the registration
 * handshake, chunks of function tasks and their results. Headers are
 * little-endian; task inputs and results are the application's bytes,
 * copied as they are (the ranks of one program share its data layout).
 * Headers and variable-size records are padded to multiples of 8 bytes,
 * so in a malloc'd message every input and result starts 8-byte aligned
 * (fixed-size ones when their size is a multiple of 8). Decoders check
 * every length, so a malformed message is an error, never an overread.
 * No MPI here.
 */
#ifndef TF_POOLWIRE_H
#define TF_POOLWIRE_H

#include <stddef.h>
#include <stdint.h>

#include "core/util.h"

/** In a chunk's in_size or out_size: records of varying size. */
#define TF_POOL_VARSIZE UINT32_MAX

/**
 * The most bytes any pool message may hold: MPI counts bytes in an int.
 * TF_POOL_MAX_BYTES (taskfarm.h) leaves room under it for the headers of
 * a message of one task with its error message, so one task always
 * travels; a chunk of several is cut to fit (see tf_call_run_chunk()).
 */
#define TF_PWIRE_MSG_MAX ((size_t)INT32_MAX)

/** Size of the TASKS header; inputs follow. */
#define TF_PWIRE_TASKS_HDR 40

/** A chunk of tasks: count consecutive tasks first.. of one job. */
struct tf_ptasks {
	uint64_t job;
	uint64_t first;
	uint32_t count;
	uint32_t fn;       /* index into the sorted registry */
	uint32_t in_size;  /* bytes per input, or TF_POOL_VARSIZE */
	uint32_t out_size; /* bytes per result expected, or TF_POOL_VARSIZE */
	const unsigned char *data; /* the inputs (decoded: into the message) */
	size_t data_len;
	uint32_t flags; /* TF_PWIRE_FUTURES or 0 */
};

/** In a TASKS header's flags: the tasks are futures, each its own call
 * (tf_call_index() is 0), batched into one chunk. */
#define TF_PWIRE_FUTURES 1u

/**
 * Appends a TASKS header to out; the caller then appends the inputs:
 * count * in_size bytes, or for TF_POOL_VARSIZE one tf_pwire_add_var()
 * per task.
 */
void tf_pwire_tasks_begin(struct tf_strbuf *out, const struct tf_ptasks *t);
void tf_pwire_add_var(struct tf_strbuf *out, const void *data, size_t len);
/** The bytes tf_pwire_add_var() adds for an input of len bytes. */
size_t tf_pwire_var_size(size_t len);
/** Decodes and validates a TASKS message (t->data points into buf).
 * Returns 0 or TF_EPROTO. */
int tf_pwire_tasks_decode(const void *buf, size_t len, struct tf_ptasks *t);
/** Walks var-size inputs: returns 1 with the next input, 0 at the end. */
int tf_pwire_tasks_next(const struct tf_ptasks *t, size_t *off,
			const void **data, size_t *len);

/**
 * The forms of a RESULTS message. RECORDS: each task has a record
 * (status, result, error message). COMPACT: count * out_size bytes, all
 * tasks succeeded with results of exactly out_size bytes. UNIFORM: one
 * record that stands for every task: the master's answer for the tasks
 * of a lost rank (status TF_ELOST), which never ran.
 */
enum tf_pwire_form {
	TF_PWIRE_RECORDS = 0,
	TF_PWIRE_COMPACT = 1,
	TF_PWIRE_UNIFORM = 2
};

/** Results of count consecutive tasks of a chunk (all of it, or a part
 * when its results needed more than one message). */
struct tf_presults {
	uint64_t job;
	uint64_t first;
	uint32_t count;
	uint32_t form;     /* enum tf_pwire_form */
	uint32_t out_size;
	double compute_s; /* time the worker spent running the chunk */
	const unsigned char *data;
	size_t data_len;
};

struct tf_precord {
	int32_t status;
	const void *result;
	size_t len;
	const char *error; /* not NUL-terminated; NULL if errlen is 0 */
	size_t errlen;
};

/** Size of the RESULTS header, which the sender reserves at the start. */
#define TF_PWIRE_RESULTS_HDR 48
/** Writes a results header at the start of out (which must hold at
 * least TF_PWIRE_RESULTS_HDR bytes); records or compact data follow. */
void tf_pwire_results_header(struct tf_strbuf *out, const struct tf_presults *r);
/** Appends one task's record (general form), padded to 8 bytes. */
void tf_pwire_add_record(struct tf_strbuf *out, int32_t status,
			 const void *result, size_t len, const char *error,
			 size_t errlen);
/** Bytes a record header takes before its result. */
#define TF_PWIRE_RECORD_HDR 16
/** Writes a record header at p, for a result already placed after it. */
void tf_pwire_record_header(void *p, int32_t status, size_t len,
			    size_t errlen);
/** Decodes and validates a RESULTS message. Returns 0 or TF_EPROTO. */
int tf_pwire_results_decode(const void *buf, size_t len, struct tf_presults *r);
/** Walks the records: returns 1 with the next, 0 at the end. */
int tf_pwire_results_next(const struct tf_presults *r, size_t *off,
			  struct tf_precord *rec);
/**
 * Task i's record in a decoded message of any form (in RECORDS, i must
 * grow by one from 0 between calls, with *off starting at 0). Returns 1,
 * or 0 past the end.
 */
int tf_pwire_results_record(const struct tf_presults *r, size_t *off,
			    uint32_t i, struct tf_precord *rec);
/**
 * Builds in out (reset first) a UNIFORM RESULTS message for r's job,
 * first and count, in which every task has status and the message why
 * (len bytes) and no result: how a chunk that cannot run is completed.
 */
void tf_pwire_results_uniform(struct tf_strbuf *out,
			      const struct tf_presults *r, int32_t status,
			      const char *why, size_t len);
/** The bytes a record of a result of len bytes and a message of errlen
 * takes. */
size_t tf_pwire_record_size(size_t len, size_t errlen);

/**
 * Who sent a HELLO or START: its pid and tf__pid_space(). A rank whose
 * space equals its own may watch the other's pid to tell when it ends.
 */
struct tf_pident {
	uint64_t pid;
	uint64_t space;
};

/** HELLO: the sender, and the names it registered, sorted. */
void tf_pwire_pack_hello(struct tf_strbuf *out, const struct tf_pident *who,
			 const char *const *names, size_t n);
/** Decodes a HELLO, with names in a new array of n strings (free each
 * and the array). Returns 0 or TF_EPROTO (nothing allocated). */
int tf_pwire_unpack_hello(const void *buf, size_t len, struct tf_pident *who,
			  char ***names, size_t *n);

/** START: the master, its verdict and the initializer's argument. */
void tf_pwire_pack_start(struct tf_strbuf *out, const struct tf_pident *who,
			 int32_t status, const void *data, size_t len);
int tf_pwire_unpack_start(const void *buf, size_t len, struct tf_pident *who,
			  int32_t *status, const void **data, size_t *datalen);

/** READY and STOP: a status and a byte string (a message). STOP goes
 * either way: from the master it tells a worker to leave; from a worker,
 * that it left (serving failed), and why. */
void tf_pwire_pack_status(struct tf_strbuf *out, int32_t status,
			  const void *data, size_t len);
int tf_pwire_unpack_status(const void *buf, size_t len, int32_t *status,
			   const void **data, size_t *datalen);

#endif
