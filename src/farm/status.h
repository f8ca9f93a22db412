/*
 * taskfarm status: what a journal and its .meta file say of a run that
 * goes on or has ended, gathered without taking any lock (a login node
 * may look at a compute node's run on the shared file system), and
 * formatted as a few lines of text or as JSON for workflow tools. No
 * MPI; never prints.
 */
#ifndef TF_FARM_STATUS_H
#define TF_FARM_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "core/util.h"

#define TF_STATUS_LAST_FAILURES 5

/* Whether the run that wrote the journal still holds its lock. */
enum tf_status_lock {
	TF_LOCK_UNKNOWN = -1, /* its owner is on another host */
	TF_LOCK_RELEASED = 0,
	TF_LOCK_HELD = 1
};

struct tf_status_failure {
	uint64_t id;
	uint32_t attempt;
	int status;        /* enum tf_status */
	long exitval, signal;
	char cmd[256];     /* cut to fit */
};

struct tf_status_facts {
	char journal[1024];
	uint64_t total;       /* the job's tasks (.meta); 0: unknown */
	uint64_t done;        /* tasks with a successful attempt */
	uint64_t failed;      /* tasks whose last attempt failed */
	uint64_t interrupted; /* tasks whose last attempt was stopped */
	uint64_t remaining;   /* total - done - failed; 0 if total unknown */
	uint64_t attempts;    /* journal lines */
	size_t runs;          /* segments by JobId */
	char jobid[64];       /* the last run's */
	double run_start;     /* the last run's first start; 0 if none */
	double run_done;      /* tasks done in the last run */
	double rate;          /* of those, per second */
	double eta;           /* seconds; < 0 if unknown or not running */
	double last_write;    /* the journal's mtime */
	double now;
	int lock;             /* enum tf_status_lock */
	char owner_host[256]; /* the .meta's owner; "" if none */
	long owner_pid;
	char owner_since[64];
	char source[512];
	size_t nfailures;     /* in last_failures, the latest last */
	struct tf_status_failure last_failures[TF_STATUS_LAST_FAILURES];
};

/**
 * Gathers the facts of the journal at path and of path.meta (which may
 * be missing: no total, no owner). Takes no lock: whether the owner
 * holds the lock is read from /proc/locks when the owner's host is this
 * one. Returns 0; or TF_EPARSE (a damaged journal or meta file, err
 * "PATH:LINE: problem" as --resume says it) or -errno (err set).
 */
int tf_status_gather(struct tf_status_facts *s, const char *path, char *err,
		     size_t errlen);

/** Appends the facts as a few lines of text to sb. */
void tf_status_format(const struct tf_status_facts *s, struct tf_strbuf *sb);

/** Appends the facts as one JSON object (and a newline) to sb. */
void tf_status_json(const struct tf_status_facts *s, struct tf_strbuf *sb);

#endif
