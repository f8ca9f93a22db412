/*
 * The journal read back for --resume: tf_history_load() replays a
 * journal (and lines GNU parallel appended to it) into a compact
 * per-task history, dense for the ids a job file gives, a table for the
 * rest; tf_history_find() answers for one task.
 */
#include "config.h"

#include "farm/journal.h"
#include "farm/jrecord.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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


/* Takes in one journal line (a tf_jrecord_fn). */
static int replay_line(void *arg, const struct tf_jrecord *r,
		       const struct tf_strbuf *cmd, uint64_t lineno,
		       char *err, size_t errlen)
{
	struct tf_history *h = arg;
	uint64_t hash;
	int state;

	h->lines++;
	if (r->parallel) {
		/* Only Seq and the outcome count, as for parallel itself;
		 * the command is not compared (parallel quotes otherwise). */
		hist_note_parallel(h, r->id, r->status == TF_STATUS_OK
						     ? TF_HIST_OK
						     : TF_HIST_FAILED);
		return 0;
	}
	hash = tf_hash(TF_HASH_INIT, cmd->buf, cmd->len);
	/* A lost attempt says nothing of the task, and one whose output
	 * was lost did not get done: run it again, as an interrupted one. */
	state = r->status == TF_STATUS_OK ? TF_HIST_OK
		: r->status == TF_STATUS_INTERRUPTED ||
				r->status == TF_STATUS_LOST ||
				r->status == TF_STATUS_OUTPUT_LOST
			? TF_HIST_INTERRUPTED
			: TF_HIST_FAILED;
	hist_note(h, r->id, hash, state, r->attempt);
	if (r->attempt > h->max_attempts) {
		h->max_attempts = r->attempt;
		h->max_attempts_line = lineno;
	}
	return 0;
}

int tf_history_load(struct tf_history *h, const char *path, char *err,
		    size_t errlen)
{
	return tf__history_read(h, path, TF_JREAD_RESUME, err, errlen);
}

int tf__history_read(struct tf_history *h, const char *path, int flags,
		     char *err, size_t errlen)
{
	struct tf_jrecord_file info;
	int ret;

	memset(h, 0, sizeof(*h));
	ret = tf__jrecord_read(path,
			       TF_JREAD_MISSING_OK | TF_JREAD_NOFOLLOW | flags,
			       replay_line, h, &info, err, errlen);
	if (ret < 0) {
		tf_history_release(h);
		return ret;
	}
	h->columns = info.kind;
	h->torn = info.torn;
	h->valid_len = info.valid_len;
	return 0;
}
