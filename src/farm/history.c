/*
 * The journal read back for --resume: tf_history_load() replays a
 * journal (and lines GNU parallel appended to it) into a compact
 * per-task history, dense for the ids a job file gives, a table for the
 * rest; tf_history_find() answers for one task.
 */
#include "config.h"

#include "farm/journal.h"
#include "farm/jrecord.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "taskfarm.h"

int tf_status_parse(const char *name)
{
	int st;

	for (st = TF_STATUS_OK; st <= TF_STATUS_LAST; st++)
		if (strcmp(name, tf_status_name(st)) == 0)
			return st;
	return -1;
}

/* The sparse entries: full entries in an array, found by id through an
 * id table. With create, a missing id gets a new zeroed entry (state 0,
 * counted by the caller). */
static struct tf_history_entry *tab_get(struct tf_history *h, uint64_t id,
					int create)
{
	size_t i = tf_idtable_get(&h->tab_ids, id);

	if (i != TF_IDTABLE_NONE)
		return &h->tab[i];
	if (!create)
		return NULL;
	i = tf_idtable_count(&h->tab_ids);
	tf__grow((void **)&h->tab, &h->cap, i + 1, sizeof(*h->tab));
	memset(&h->tab[i], 0, sizeof(h->tab[i]));
	h->tab[i].id = id;
	tf_idtable_put(&h->tab_ids, id, i);
	return &h->tab[i];
}

/* Whether id belongs in the dense array: ids up to a few times the
 * tasks seen so far (job files have comments and blank lines), and
 * always the first 64Ki. */
static int dense_admits(const struct tf_history *h, uint64_t id)
{
	return id < 65536 || id / 8 <= (uint64_t)h->n;
}

/* The slot of id in the dense array, made ready (zeroed) if new. The
 * array grows by doubling, but only the slots up to id are written, so
 * the memory touched is what the ids need (a large realloc() moves pages,
 * it does not copy them). */
static struct tf_history_slot *dense_get(struct tf_history *h, uint64_t id)
{
	if (id >= h->dense_cap) {
		size_t cap = h->dense_cap ? h->dense_cap : 1024;

		while (cap <= id)
			cap *= 2;
		h->dense = tf__xrealloc(h->dense, cap * sizeof(*h->dense));
		h->dense_cap = cap;
	}
	if (id >= h->dense_len) {
		memset(h->dense + h->dense_len, 0,
		       (size_t)(id + 1 - h->dense_len) * sizeof(*h->dense));
		h->dense_len = (size_t)id + 1;
	}
	return &h->dense[id];
}

/* The history's place for task id, made if need be: *d in the dense
 * array or *e in the table (the other NULL). */
static void hist_slot(struct tf_history *h, uint64_t id,
		      struct tf_history_slot **d, struct tf_history_entry **e)
{
	*d = NULL;
	*e = NULL;
	if (id < h->dense_len && h->dense[id].state)
		*d = &h->dense[id];
	else if (h->ntab && (*e = tab_get(h, id, 0)))
		;
	else if (dense_admits(h, id))
		*d = dense_get(h, id);
	else
		*e = tab_get(h, id, 1);
}

/* Takes in one attempt of task id (see replay_line()). */
static void hist_note(struct tf_history *h, uint64_t id, uint64_t hash,
		      int state, uint32_t attempt)
{
	struct tf_history_entry *e = NULL;
	struct tf_history_slot *d = NULL;
	uint64_t *cmd_hash;
	uint32_t *attempts;
	uint8_t *st, *any_cmd;

	hist_slot(h, id, &d, &e);
	if (d) {
		cmd_hash = &d->cmd_hash;
		attempts = &d->attempts;
		st = &d->state;
		any_cmd = &d->any_cmd;
	} else {
		cmd_hash = &e->cmd_hash;
		attempts = &e->attempts;
		st = &e->state;
		any_cmd = &e->any_cmd;
	}
	if (!*st) {
		h->n++;
		if (e)
			h->ntab++;
	}
	if (!*st || (*cmd_hash != hash && !*any_cmd)) {
		/* New, or the job changed this line: start afresh. */
		*cmd_hash = hash;
		*st = (uint8_t)state;
		*any_cmd = 0;
	} else if (*st != TF_HIST_OK) {
		*st = (uint8_t)state;
	}
	if (attempt > *attempts)
		*attempts = attempt;
}

/*
 * Takes in a line GNU parallel wrote for task id: a success marks it done
 * whatever its command, as parallel's --resume-failed matches by Seq; a
 * failure leaves a success before it standing. The attempts are not
 * counted (parallel does not number them).
 */
static void hist_note_parallel(struct tf_history *h, uint64_t id, int state)
{
	struct tf_history_entry *e = NULL;
	struct tf_history_slot *d = NULL;

	hist_slot(h, id, &d, &e);
	if (d ? !d->state : !e->state) {
		h->n++;
		if (e)
			h->ntab++;
	}
	if (d) {
		if (d->state != TF_HIST_OK)
			d->state = (uint8_t)state;
		d->any_cmd = 1;
	} else {
		if (e->state != TF_HIST_OK)
			e->state = (uint8_t)state;
		e->any_cmd = 1;
	}
}

const struct tf_history_entry *tf_history_find(struct tf_history *h,
					       uint64_t id)
{
	const struct tf_history_entry *e;

	if (!h)
		return NULL;
	if (id < h->dense_len && h->dense[id].state) {
		h->found.id = id;
		h->found.cmd_hash = h->dense[id].cmd_hash;
		h->found.attempts = h->dense[id].attempts;
		h->found.state = h->dense[id].state;
		h->found.any_cmd = h->dense[id].any_cmd;
		return &h->found;
	}
	if (!h->ntab || !(e = tab_get(h, id, 0)))
		return NULL;
	h->found = *e;
	return &h->found;
}

void tf_history_release(struct tf_history *h)
{
	free(h->dense);
	free(h->tab);
	tf_idtable_release(&h->tab_ids);
	memset(h, 0, sizeof(*h));
}


/* Takes in one journal line (without its newline; line[len] is '\0')
 * of a journal whose header said kind (jrecord.h). Returns 0, or a
 * static description of what is wrong with it. */
static const char *replay_line(struct tf_history *h, const char *line,
			       size_t len, int kind, struct tf_strbuf *cmd)
{
	struct tf_jrecord r;
	const char *why;
	uint64_t hash;
	int state;

	if ((why = tf__jrecord_parse(line, len, kind, &r, cmd)))
		return why;
	if (r.parallel) {
		/* Only Seq and the outcome count, as for parallel itself;
		 * the command is not compared (parallel quotes otherwise). */
		hist_note_parallel(h, r.id, r.status == TF_STATUS_OK
						    ? TF_HIST_OK
						    : TF_HIST_FAILED);
		return NULL;
	}
	hash = tf_hash(TF_HASH_INIT, cmd->buf, cmd->len);
	/* A lost attempt says nothing of the task, and one whose output
	 * was lost did not get done: run it again, as an interrupted one. */
	state = r.status == TF_STATUS_OK ? TF_HIST_OK
		: r.status == TF_STATUS_INTERRUPTED ||
				r.status == TF_STATUS_LOST ||
				r.status == TF_STATUS_OUTPUT_LOST
			? TF_HIST_INTERRUPTED
			: TF_HIST_FAILED;
	hist_note(h, r.id, hash, state, r.attempt);
	if (r.attempt > h->max_attempts) {
		h->max_attempts = r.attempt;
		h->max_attempts_line = h->lines + 2; /* the header is line 1 */
	}
	return NULL;
}

int tf_history_load(struct tf_history *h, const char *path, char *err,
		    size_t errlen)
{
	struct tf_strbuf cmd = TF_STRBUF_INIT;
	char *line = NULL;
	size_t alloc = 0;
	uint64_t lineno = 0, off = 0;
	ssize_t n;
	FILE *fp;
	int fd, ret = 0;

	memset(h, 0, sizeof(*h));
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	fp = fdopen(fd, "r");
	if (!fp) {
		ret = -errno;
		close(fd);
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	while ((n = getline(&line, &alloc, fp)) > 0) {
		const char *why;

		lineno++;
		if (line[n - 1] != '\n') {
			/* Cut short by a kill in the middle of a write. */
			h->torn = 1;
			break;
		}
		line[--n] = '\0';
		if (lineno == 1) {
			h->columns = tf__jrecord_header(line, (size_t)n);
			if (h->columns == TF_JREC_JOBLOG) {
				snprintf(err, errlen,
					 "%s:1: a GNU parallel joblog, not a "
					 "taskfarm journal; taskfarm resumes "
					 "from its own journal only: continue "
					 "with parallel --resume --joblog %s, "
					 "or run afresh without --resume, with "
					 "--joblog %s and the journal elsewhere "
					 "(--journal FILE)",
					 path, path, path);
				ret = TF_EPARSE;
				break;
			}
			if (!h->columns) {
				snprintf(err, errlen,
					 "%s:1: not a taskfarm journal (the "
					 "header line differs)",
					 path);
				ret = TF_EPARSE;
				break;
			}
		} else if ((why = replay_line(h, line, (size_t)n, h->columns,
					      &cmd))) {
			snprintf(err, errlen,
				 "%s:%llu: damaged journal line: %s", path,
				 (unsigned long long)lineno, why);
			ret = TF_EPARSE;
			break;
		} else {
			h->lines++;
		}
		off += (uint64_t)n + 1;
	}
	if (ret == 0 && ferror(fp)) {
		ret = -EIO;
		snprintf(err, errlen, "%s: read error", path);
	}
	h->valid_len = off;
	free(line);
	tf_strbuf_release(&cmd);
	fclose(fp);
	if (ret < 0) {
		tf_history_release(h);
		return ret;
	}
	return 0;
}
