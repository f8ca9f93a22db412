/*
 * The MPI module. Sends are MPI_Isend of packed byte buffers, tracked
 * until MPI_Testsome reports them done; receives are MPI_Improbe followed
 * by MPI_Imrecv of exactly the probed size, tested until whole, so no
 * rank ever blocks on a message that has not (all) arrived.
 */
#include "config.h"

#include "core/comm.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpi.h>

#include "taskfarm.h"

const char *tf_tag_name(int tag)
{
	static const char *const names[] = {
		"?",	      "HELLO",	    "TASKS",	  "RESULTS",
		"OUTPUT",     "CONTROL",    "POOL_HELLO", "POOL_START",
		"POOL_READY", "POOL_TASKS", "POOL_RESULTS", "POOL_STOP",
		"POOL_RECLAIM"
	};

	if (tag < 1 || tag > TF_TAG_POOL_RECLAIM)
		return "?";
	return names[tag];
}

struct pending {
	MPI_Request *reqs;
	char **bufs;
	int *dests;
	int *idx;
	MPI_Status *stats;
	size_t n;
	size_t alloc;
	MPI_Comm comm;   /* MPI_COMM_WORLD, or the pool's duplicate */
	int comm_is_dup; /* we made comm, so we free it */
	/* Receives under way: matched (MPI_Improbe) but not yet complete,
	 * because their senders have not sent all of them; at most one per
	 * source, so that one source's messages are taken in order. */
	struct rx *rxs;
	size_t nrx, rx_alloc;
	struct tf_strbuf spare; /* the caller's last buffer, for the next */
};

struct rx {
	MPI_Request req;
	int src, tag, count;
	struct tf_strbuf buf;
};

/* Buffers of sends given up (to a lost rank): MPI may still read them,
 * so they live until exit, and stay reachable from here (no leak to
 * LeakSanitizer, which only reports what nothing points to). */
static void **kept;
static size_t nkept, kept_alloc;

void tf_comm_keep(void *buf)
{
	if (!buf)
		return;
	if (nkept == kept_alloc) {
		kept_alloc = kept_alloc ? 2 * kept_alloc : 16;
		kept = tf__xrealloc(kept, kept_alloc * sizeof(*kept));
	}
	kept[nkept++] = buf;
}

/* The last failure's message, for tf_comm_errmsg(): the log sink may be
 * none (a library client), so it is kept as well as logged. */
static char last_errmsg[MPI_MAX_ERROR_STRING + 128];

static void comm_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_errmsg, sizeof(last_errmsg), fmt, ap);
	va_end(ap);
	tf_error("%s", last_errmsg);
}

const char *tf_comm_errmsg(void)
{
	return last_errmsg;
}

static int mpi_fail(const char *what, int rc)
{
	char msg[MPI_MAX_ERROR_STRING];
	int len = 0;

	MPI_Error_string(rc, msg, &len);
	comm_error("%s failed: %.*s", what, len, msg);
	return TF_EMPI;
}

static long slurm_step_tasks(void)
{
	const char *v = getenv("SLURM_STEP_NUM_TASKS");

	return v ? atol(v) : 0;
}

int tf_comm_launcher_detected(void)
{
	static const char *const vars[] = {
		"OMPI_COMM_WORLD_SIZE", /* Open MPI's mpirun */
		"PMIX_RANK",	    /* any PMIx launcher, srun --mpi=pmix */
		"PMI_RANK",	    /* MPICH hydra, srun --mpi=pmi2 */
		"PMI_FD",	    /* MPICH hydra */
		"MPI_LOCALNRANKS",      /* MPICH hydra */
		NULL
	};
	int i;

	for (i = 0; vars[i]; i++)
		if (getenv(vars[i]))
			return 1;
	/* srun without an MPI plugin sets no PMI variable, but it did
	 * start several tasks: each must not run the whole job alone. */
	return slurm_step_tasks() > 1;
}

void tf_comm_hostname(char *buf, size_t len)
{
	const char *node = getenv("SLURMD_NODENAME");

	/* Slurm's node name: several slurmd nodes may share one host (a
	 * test cluster, or multiple-slurmd), and it is the name sacct and
	 * scontrol use. */
	if (node && *node) {
		snprintf(buf, len, "%s", node);
		return;
	}
	if (gethostname(buf, len - 1) < 0)
		snprintf(buf, len, "localhost");
	buf[len - 1] = '\0';
}

/* The state before MPI: one rank, no MPI, sends on MPI_COMM_WORLD. */
static struct pending *comm_reset(struct tf_comm *c)
{
	struct pending *p = tf__xcalloc(1, sizeof(*p));

	memset(c, 0, sizeof(*c));
	tf_comm_hostname(c->host, sizeof(c->host));
	p->comm = MPI_COMM_WORLD;
	c->impl = p;
	c->size = 1;
	return p;
}

/*
 * MPI that this library initialized is finalized by the last of the
 * comms that use it (two pools may be open, and closed in any order).
 */
static int mpi_ours;
static int mpi_refs;

/*
 * Initializes MPI unless it is already (then we finalize it too), asking
 * for thread level (MPI_THREAD_SINGLE: plain MPI_Init()); if require,
 * checks that the MPI running provides at least that level. Returns 0,
 * TF_EMPI (MPI failed) or TF_EINVAL (too low a level; the message says
 * so).
 */
static int mpi_start(struct tf_comm *c, int *argc, char ***argv, int level,
		     int require)
{
	static const char *const names[] = { "MPI_THREAD_SINGLE",
					     "MPI_THREAD_FUNNELED",
					     "MPI_THREAD_SERIALIZED",
					     "MPI_THREAD_MULTIPLE" };
	int inited = 0, provided = MPI_THREAD_SINGLE, rc;

	MPI_Initialized(&inited);
	if (inited) {
		int finalized = 0;

		MPI_Finalized(&finalized);
		if (finalized) {
			comm_error("MPI was finalized (by the close of the "
				   "pool that started it, or the program): "
				   "it cannot start again in this process");
			return TF_EMPI;
		}
	} else {
		if (level == MPI_THREAD_SINGLE)
			rc = MPI_Init(argc, argv);
		else
			rc = MPI_Init_thread(argc, argv, level, &provided);
		if (rc != MPI_SUCCESS)
			return mpi_fail("MPI_Init", rc);
		mpi_ours = 1;
	}
	if (mpi_ours) {
		c->we_initialized = 1;
		mpi_refs++;
	}
	if (!require || level == MPI_THREAD_SINGLE)
		return 0;
	/* MPI_Init_thread() said; an MPI the program started is asked. */
	if (inited && (rc = MPI_Query_thread(&provided)) != MPI_SUCCESS)
		return mpi_fail("MPI_Query_thread", rc);
	if (provided < level) {
		comm_error("MPI runs at thread level %s, and threads in tasks "
			   "need %s: %s",
			   provided >= 0 && provided < 4 ? names[provided]
							 : "?",
			   level >= 0 && level < 4 ? names[level] : "?",
			   inited ? "initialize MPI with MPI_Init_thread() "
				    "at that level"
				  : "this MPI does not provide it");
		return TF_EINVAL;
	}
	return 0;
}

/*
 * The part both set-ups share once MPI runs: errors on comm come back as
 * codes, this rank's place in it, and the check that srun did not start
 * a set of singletons that would each run all of what (the job, the
 * program). Returns 0 or TF_EMPI.
 */
static int comm_attach(struct tf_comm *c, MPI_Comm comm, const char *what)
{
	int rc;

	MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
	rc = MPI_Comm_rank(comm, &c->rank);
	if (rc == MPI_SUCCESS)
		rc = MPI_Comm_size(comm, &c->size);
	if (rc != MPI_SUCCESS)
		return mpi_fail("MPI_Comm_rank/size", rc);
	if (c->size == 1 && slurm_step_tasks() > 1) {
		comm_error("srun started %ld tasks but MPI sees only this one, "
			 "so each would run the whole %s; use srun "
			 "--mpi=pmix (or mpirun)",
			 slurm_step_tasks(), what);
		return TF_EMPI;
	}
	return 0;
}

int tf_comm_init(struct tf_comm *c, int *argc, char ***argv, int mode)
{
	comm_reset(c);
	if (mode == TF_COMM_NONE ||
	    (mode == TF_COMM_AUTO && !tf_comm_launcher_detected()))
		return 0;
	c->use_mpi = 1;
	/* FUNNELED: the master's output writer is a thread of its own (it
	 * never calls MPI); an MPI that gives less still does. */
	if (mpi_start(c, argc, argv, MPI_THREAD_FUNNELED, 0) != 0) {
		free(c->impl);
		c->impl = NULL;
		return TF_EMPI;
	}
	return comm_attach(c, MPI_COMM_WORLD, "job");
}

int tf_comm_send(struct tf_comm *c, int dest, int tag, struct tf_strbuf *buf)
{
	struct pending *p = c->impl;
	size_t len;
	char *data;
	int rc;

	if (!c->use_mpi)
		return TF_EMPI;
	data = tf_strbuf_detach(buf, &len);
	if (len > INT32_MAX) {
		free(data);
		comm_error("message of %zu bytes is too large", len);
		return TF_EMPI;
	}
	if (p->n == p->alloc) {
		/* The five arrays grow together. */
		p->alloc = p->alloc ? p->alloc * 2 : 16;
		p->reqs = tf__xrealloc(p->reqs, p->alloc * sizeof(*p->reqs));
		p->bufs = tf__xrealloc(p->bufs, p->alloc * sizeof(*p->bufs));
		p->dests = tf__xrealloc(p->dests, p->alloc * sizeof(*p->dests));
		p->idx = tf__xrealloc(p->idx, p->alloc * sizeof(*p->idx));
		p->stats = tf__xrealloc(p->stats, p->alloc * sizeof(*p->stats));
	}
	rc = MPI_Isend(data, (int)len, MPI_BYTE, dest, tag, p->comm,
		       &p->reqs[p->n]);
	if (rc != MPI_SUCCESS) {
		free(data);
		return mpi_fail("MPI_Isend", rc);
	}
	p->dests[p->n] = dest;
	p->bufs[p->n++] = data;
	return 0;
}

int tf_comm_send_wait(struct tf_comm *c, int dest, int tag, const void *data,
		      size_t len, double timeout)
{
	double until = tf_now() + timeout, nap = 0;
	MPI_Request req;
	int rc, done = 0;

	if (!c->use_mpi || len > INT32_MAX)
		return TF_EMPI;
	rc = MPI_Isend((void *)data, (int)len, MPI_BYTE, dest, tag,
		       ((struct pending *)c->impl)->comm, &req);
	if (rc != MPI_SUCCESS)
		return mpi_fail("MPI_Isend", rc);
	for (;;) {
		rc = MPI_Test(&req, &done, MPI_STATUS_IGNORE);
		if (rc != MPI_SUCCESS)
			return mpi_fail("MPI_Test", rc);
		if (done)
			return 0;
		if (timeout > 0 && tf_now() > until)
			break;
		nap = tf_backoff(nap, 1, 1e-5, 1e-3);
		tf_sleep(nap);
	}
	/* MPI may still read data after the request is freed: the caller
	 * hands it to tf_comm_keep(). */
	MPI_Request_free(&req);
	return TF_ELOST;
}

/* Hands receive i over to the caller (buf takes its bytes and gives it
 * its old memory) and forgets it. */
static void rx_deliver(struct pending *p, size_t i, struct tf_strbuf *buf,
		       int *src, int *tag)
{
	struct rx *r = &p->rxs[i];
	struct tf_strbuf old = *buf;

	r->buf.len = (size_t)r->count;
	r->buf.buf[r->count] = '\0';
	*buf = r->buf;
	*src = r->src;
	*tag = r->tag;
	tf_strbuf_release(&p->spare);
	p->spare = old;
	p->rxs[i] = p->rxs[--p->nrx];
}

static int rx_from(const struct pending *p, int source)
{
	size_t i;

	for (i = 0; i < p->nrx; i++)
		if (p->rxs[i].src == source)
			return 1;
	return 0;
}

/* Matches a message from source (or any) and starts receiving it.
 * Returns 1 if one was matched, 0 if none waits, or TF_EMPI. */
static int rx_start(struct pending *p, int source)
{
	MPI_Message msg;
	MPI_Status st;
	struct rx *r;
	int flag = 0, rc;

	rc = MPI_Improbe(source, MPI_ANY_TAG, p->comm, &flag, &msg, &st);
	if (rc != MPI_SUCCESS)
		return mpi_fail("MPI_Improbe", rc);
	if (!flag)
		return 0;
	if (p->nrx == p->rx_alloc) {
		p->rx_alloc = p->rx_alloc ? 2 * p->rx_alloc : 4;
		p->rxs = tf__xrealloc(p->rxs, p->rx_alloc * sizeof(*p->rxs));
	}
	r = &p->rxs[p->nrx];
	memset(r, 0, sizeof(*r));
	/* The buffer the caller gave back last time: no allocation per
	 * message once it is large enough. */
	r->buf = p->spare;
	tf_strbuf_init(&p->spare);
	tf_strbuf_reset(&r->buf);
	MPI_Get_count(&st, MPI_BYTE, &r->count);
	tf_strbuf_grow(&r->buf, (size_t)r->count);
	rc = MPI_Imrecv(r->buf.buf, r->count, MPI_BYTE, &msg, &r->req);
	if (rc != MPI_SUCCESS) {
		tf_strbuf_release(&r->buf);
		return mpi_fail("MPI_Imrecv", rc);
	}
	r->src = st.MPI_SOURCE;
	r->tag = st.MPI_TAG;
	p->nrx++;
	return 1;
}

int tf_comm_recv(struct tf_comm *c, int source, int *src, int *tag,
		 struct tf_strbuf *buf)
{
	struct pending *p = c->impl;
	size_t i;
	int rc, r, done;

	if (!c->use_mpi)
		return 0;
	/*
	 * Never MPI_Recv: a large message moves only while its sender calls
	 * MPI, so a sender that stops or dies half-way would block it for
	 * ever. A matched message is received with MPI_Imrecv and tested
	 * until whole; meanwhile other sources' messages are received, but
	 * none more from its source (they must come in order).
	 */
	if (p->nrx == 0) {
		rc = rx_start(p, source == TF_ANY_SOURCE ? MPI_ANY_SOURCE
							 : source);
		if (rc <= 0)
			return rc;
	} else if (source != TF_ANY_SOURCE) {
		if (!rx_from(p, source) && (rc = rx_start(p, source)) < 0)
			return rc;
	} else {
		/* Rare: a message is stuck part-way. Look at every other
		 * source in turn. */
		for (r = 0; r < c->size; r++) {
			if (rx_from(p, r))
				continue;
			rc = rx_start(p, r);
			if (rc < 0)
				return rc;
			if (rc)
				break;
		}
	}
	for (i = 0; i < p->nrx; i++) {
		if (source != TF_ANY_SOURCE && p->rxs[i].src != source)
			continue;
		rc = MPI_Test(&p->rxs[i].req, &done, MPI_STATUS_IGNORE);
		if (rc != MPI_SUCCESS)
			return mpi_fail("MPI_Test", rc);
		if (done) {
			rx_deliver(p, i, buf, src, tag);
			return 1;
		}
	}
	return 0;
}

/* Gives up the receives under way from rank (its sender is lost; -1:
 * all): MPI may still write into their buffers, which are kept. */
static void drop_receives(struct pending *p, int rank)
{
	size_t i = 0;

	while (i < p->nrx) {
		if (rank >= 0 && p->rxs[i].src != rank) {
			i++;
			continue;
		}
		MPI_Request_free(&p->rxs[i].req);
		tf_comm_keep(tf_strbuf_detach(&p->rxs[i].buf, NULL));
		p->rxs[i] = p->rxs[--p->nrx];
	}
}

int tf_comm_progress(struct tf_comm *c)
{
	struct pending *p = c->impl;
	size_t i, j;
	int done = 0, rc;

	if (!c->use_mpi || p->n == 0)
		return 0;
	rc = MPI_Testsome((int)p->n, p->reqs, &done, p->idx, p->stats);
	if (rc != MPI_SUCCESS)
		return mpi_fail("MPI_Testsome", rc);
	if (done == MPI_UNDEFINED || done == 0)
		return (int)p->n;
	for (i = 0; i < (size_t)done; i++) {
		free(p->bufs[p->idx[i]]);
		p->bufs[p->idx[i]] = NULL;
	}
	/* Compact: completed requests are MPI_REQUEST_NULL now. */
	for (i = 0, j = 0; i < p->n; i++) {
		if (p->reqs[i] == MPI_REQUEST_NULL)
			continue;
		p->reqs[j] = p->reqs[i];
		p->bufs[j] = p->bufs[i];
		p->dests[j] = p->dests[i];
		j++;
	}
	p->n = j;
	return (int)p->n;
}

int tf_comm_forget(struct tf_comm *c, int rank)
{
	struct pending *p = c->impl;
	size_t i, j;
	int dropped = 0;

	if (!c->use_mpi || !p)
		return 0;
	drop_receives(p, rank);
	for (i = 0, j = 0; i < p->n; i++) {
		if (p->dests[i] == rank) {
			/* A send to a dead rank never completes, and MPI may
			 * still read its buffer (one rank's last messages). */
			MPI_Request_free(&p->reqs[i]);
			tf_comm_keep(p->bufs[i]);
			dropped++;
			continue;
		}
		p->reqs[j] = p->reqs[i];
		p->bufs[j] = p->bufs[i];
		p->dests[j] = p->dests[i];
		j++;
	}
	p->n = j;
	return dropped;
}

int tf_comm_flush(struct tf_comm *c)
{
	struct pending *p = c->impl;
	size_t i;
	int rc;

	if (!c->use_mpi || !p || p->n == 0)
		return 0;
	/* Not MPI_STATUSES_IGNORE: MPICH defines it as (MPI_Status *)1,
	 * which GCC's -Wstringop-overflow takes for an empty array
	 * (pmodels/mpich#5687); p->stats is as long as p->reqs. */
	rc = MPI_Waitall((int)p->n, p->reqs, p->stats);
	for (i = 0; i < p->n; i++)
		free(p->bufs[i]);
	p->n = 0;
	return rc == MPI_SUCCESS ? 0 : mpi_fail("MPI_Waitall", rc);
}

int tf_comm_init_on(struct tf_comm *c, const void *mpi_comm, int threads)
{
	struct pending *p;
	int inited = 0, rc;
	MPI_Comm base = mpi_comm ? *(const MPI_Comm *)mpi_comm : MPI_COMM_WORLD;

	/* Unlike tf_comm_init(), the application's communicators keep their
	 * error handlers; only the duplicate gets MPI_ERRORS_RETURN. */
	p = comm_reset(c);
	MPI_Initialized(&inited);
	if (!inited && !tf_comm_launcher_detected())
		return 0;
	c->use_mpi = 1;
	rc = mpi_start(c, NULL, NULL,
		       threads ? MPI_THREAD_FUNNELED : MPI_THREAD_SINGLE,
		       threads);
	if (rc != 0) {
		c->use_mpi = c->we_initialized;
		return rc;
	}
	rc = MPI_Comm_dup(base, &p->comm);
	if (rc != MPI_SUCCESS) {
		p->comm = MPI_COMM_WORLD;
		return mpi_fail("MPI_Comm_dup", rc);
	}
	p->comm_is_dup = 1;
	return comm_attach(c, p->comm, "program");
}

/* Frees the arrays of p and p (not the send buffers the arrays point
 * to); a receive under way is given up. */
static void pending_free(struct pending *p)
{
	drop_receives(p, -1);
	tf_strbuf_release(&p->spare);
	free(p->rxs);
	free(p->reqs);
	free(p->bufs);
	free(p->dests);
	free(p->idx);
	free(p->stats);
	free(p);
}

void tf_comm_abandon(struct tf_comm *c)
{
	c->abandoned = 1;
}

int tf_comm_finalize(struct tf_comm *c)
{
	struct pending *p = c->impl;
	int ret;

	if (c->abandoned) {
		/* Unfinished sends: MPI may read their buffers until exit. */
		if (p) {
			size_t i;

			for (i = 0; i < p->n; i++)
				tf_comm_keep(p->bufs[i]);
			pending_free(p);
		}
		c->impl = NULL;
		return 0;
	}
	ret = tf_comm_flush(c);
	if (c->use_mpi && p)
		drop_receives(p, -1);
	if (c->use_mpi && p && p->comm_is_dup) {
		MPI_Comm_free(&p->comm);
		p->comm_is_dup = 0;
	}
	if (c->use_mpi && c->we_initialized && --mpi_refs == 0) {
		int rc = MPI_Finalize();
		if (rc != MPI_SUCCESS && ret == 0)
			ret = TF_EMPI;
	}
	if (p)
		pending_free(p);
	c->impl = NULL;
	return ret;
}

int tf_comm_allmax(struct tf_comm *c, int *vals, int n)
{
	int *in, rc;

	if (!c->use_mpi || c->size == 1 || n <= 0)
		return 0;
	in = tf__xmalloc((size_t)n * sizeof(*in));
	memcpy(in, vals, (size_t)n * sizeof(*in));
	rc = MPI_Allreduce(in, vals, n, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
	free(in);
	return rc == MPI_SUCCESS ? 0 : mpi_fail("MPI_Allreduce", rc);
}

void tf_comm_abort(struct tf_comm *c, int code)
{
	if (c->use_mpi)
		MPI_Abort(c->impl ? ((struct pending *)c->impl)->comm
				  : MPI_COMM_WORLD,
			  code);
	exit(code);
}
