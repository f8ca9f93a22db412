/*
 * The only module that calls MPI. Byte-buffer messages with a tag:
 * non-blocking sends whose buffers the module keeps until they complete,
 * and probe-then-receive of MPI_BYTE. With no launcher, it runs without
 * MPI at all as a single rank. Nothing here includes mpi.h in its header,
 * so the rest of the library compiles and tests without MPI.
 */
#ifndef TF_COMM_H
#define TF_COMM_H

#include <stddef.h>

#include "core/util.h"

/** How tf_comm_init() decides whether to use MPI. */
enum tf_comm_mode {
	TF_COMM_AUTO = 0, /* MPI if a launcher is detected */
	TF_COMM_MPI = 1,  /* always MPI_Init */
	TF_COMM_NONE = 2  /* never: one rank, no MPI */
};

/** Message tags (one enum; tf_tag_name() gives names for traces). */
enum tf_tag {
	TF_TAG_HELLO = 1,   /* worker -> master: host, pid, slots, want;
			     * master -> worker, in answer: its host, pid */
	TF_TAG_TASKS = 2,   /* master -> worker: a batch of tasks */
	TF_TAG_RESULTS = 3, /* worker -> master: a batch of results, want */
	TF_TAG_OUTPUT = 4,  /* worker -> master: a chunk of a large output */
	TF_TAG_CONTROL = 5, /* either way: stop, drain */
	/* The C API's pool (pool/wire.h encodes these): */
	TF_TAG_POOL_HELLO = 6,   /* worker -> master: registered names */
	TF_TAG_POOL_START = 7,   /* master -> worker: verdict, init arg */
	TF_TAG_POOL_READY = 8,   /* worker -> master: initializer's status */
	TF_TAG_POOL_TASKS = 9,   /* master -> worker: a chunk of tasks */
	TF_TAG_POOL_RESULTS = 10,/* worker -> master: the chunk's results */
	TF_TAG_POOL_STOP = 11,   /* master -> worker: leave */
	TF_TAG_POOL_RECLAIM = 12 /* master -> worker: hand back the futures
				  * chunks not started; worker -> master: one
				  * such chunk, handed back unrun */
};
const char *tf_tag_name(int tag);

#define TF_ANY_SOURCE (-1)

struct tf_comm {
	int use_mpi;
	int we_initialized; /* MPI is ours: the last such comm finalizes it */
	int abandoned;      /* a peer was lost: leave MPI without finalizing */
	int rank;
	int size;
	void *impl; /* send requests and their buffers */
	char host[256];
};

/**
 * Sets up communication on MPI_COMM_WORLD (MPI asked for
 * MPI_THREAD_FUNNELED, less accepted). Returns 0 or TF_EMPI; on failure
 * nothing needs releasing.
 */
int tf_comm_init(struct tf_comm *c, int *argc, char ***argv, int mode);

/**
 * This rank's host name as the journal and TASKFARM_HOST give it: Slurm's
 * node name (SLURMD_NODENAME) when set, else gethostname(). Always
 * NUL-terminated within len bytes.
 */
void tf_comm_hostname(char *buf, size_t len);

/**
 * Replaces each of the n values by its maximum over all ranks (a
 * collective: every rank must call it). Without MPI, does nothing.
 * Returns 0 or TF_EMPI.
 */
int tf_comm_allmax(struct tf_comm *c, int *vals, int n);

/**
 * For the C API: sets up communication on a duplicate of *mpi_comm (an
 * MPI_Comm; NULL for MPI_COMM_WORLD). If MPI is not initialized, it is
 * initialized when a launcher is detected (and finalized by
 * tf_comm_finalize()), with MPI_Init() (MPI_THREAD_SINGLE), or if
 * threads, at MPI_THREAD_FUNNELED; otherwise this is one rank without
 * MPI. Returns 0, TF_EMPI, or TF_EINVAL (threads, and the MPI running
 * is below FUNNELED); then call tf_comm_finalize().
 */
int tf_comm_init_on(struct tf_comm *c, const void *mpi_comm, int threads);

/**
 * The message of this process's last failure in this module (an MPI
 * call's, with MPI's own text; srun's singletons), as also logged; ""
 * if none. For clients whose log sink prints nothing (the C API).
 */
const char *tf_comm_errmsg(void);

/** Whether the environment shows an MPI launcher (mpirun, srun, hydra). */
int tf_comm_launcher_detected(void);

/**
 * Sends buf to dest without blocking. The module takes over buf's memory
 * (buf is reset) and frees it when the send completes. Returns 0 or
 * TF_EMPI.
 */
int tf_comm_send(struct tf_comm *c, int dest, int tag, struct tf_strbuf *buf);

/**
 * Sends and waits for completion (for large output chunks, so that at
 * most one chunk per worker is in memory), at most timeout seconds (0:
 * for ever). Returns 0, TF_EMPI, or TF_ELOST when the time ran out: dest
 * did not take the message, and MPI may still read data, which the
 * caller must then hand to tf_comm_keep() if it was malloc'd.
 */
int tf_comm_send_wait(struct tf_comm *c, int dest, int tag, const void *data,
		      size_t len, double timeout);

/**
 * Receives one waiting message from source (or TF_ANY_SOURCE) into buf,
 * if there is one, without ever waiting for its bytes: a message still
 * arriving returns 0 and is completed by a later call. Returns 1 with
 * *src and *tag set, 0 if none is whole yet, or TF_EMPI. buf's memory
 * may be exchanged for the module's own (it stays the caller's to free).
 */
int tf_comm_recv(struct tf_comm *c, int source, int *src, int *tag,
		 struct tf_strbuf *buf);

/** Completes what non-blocking sends it can. Returns how many are still
 * pending, or TF_EMPI. */
int tf_comm_progress(struct tf_comm *c);

/** Keeps buf (malloc'd) allocated and reachable until exit: a send from
 * it was given up, and MPI may still read it. */
void tf_comm_keep(void *buf);

/**
 * Gives up the pending sends to rank and a message from it still
 * arriving (lost: they would never complete),
 * so that tf_comm_flush() and tf_comm_finalize() do not wait for them.
 * Returns how many were dropped.
 */
int tf_comm_forget(struct tf_comm *c, int rank);

/** Waits for every pending send. Returns 0 or TF_EMPI. */
int tf_comm_flush(struct tf_comm *c);

/**
 * After a peer was lost: tf_comm_finalize() then neither waits for
 * pending sends nor calls MPI_Finalize, which Open MPI 4.1 was seen to
 * wait in for ever among the survivors when two ranks died close
 * together. The launcher must let ranks leave that way (under mpirun
 * --enable-recovery it does).
 */
void tf_comm_abandon(struct tf_comm *c);

/** Waits for pending sends and finalizes MPI if this module started it
 * (unless abandoned). */
int tf_comm_finalize(struct tf_comm *c);

/** Ends every rank at once (MPI_Abort) with code. */
void tf_comm_abort(struct tf_comm *c, int code) TF_NORETURN;

#endif
