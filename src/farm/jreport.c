/*
 * The journal read for report and status (jreport.h): each line parsed
 * by jrecord.c, as --resume parses it, and kept as a compact attempt.
 */
#include "config.h"

#include "farm/jreport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "farm/jrecord.h"
#include "farm/journal.h"
#include "taskfarm.h"

void tf_jreport_release(struct tf_jreport *jr)
{
	free(jr->att);
	free(jr->rows);
	free(jr->segs);
	tf_strbuf_release(&jr->cmds);
	tf_idtable_release(&jr->row_ids);
	memset(jr, 0, sizeof(*jr));
}

double tf_jreport_span(const struct tf_jreport *jr)
{
	double s = 0;
	size_t i;

	for (i = 0; i < jr->nsegs; i++)
		s += jr->segs[i].end - jr->segs[i].start;
	return s;
}

/* Copies an escaped journal field, unescaped and cut to fit, into dst. */
static void copy_field(char *dst, size_t size, const char *s, size_t len,
		       struct tf_strbuf *tmp)
{
	tf_strbuf_reset(tmp);
	if (tf_journal_unescape(tmp, s, len) < 0) {
		tf_strbuf_reset(tmp);
		tf_strbuf_add(tmp, s, len);
	}
	snprintf(dst, size, "%s", tmp->buf ? tmp->buf : "");
}

/* The row of a journal line: its rank and slot. */
static uint32_t row_of_slot(struct tf_jreport *jr, const struct tf_jrecord *r,
			    struct tf_strbuf *tmp)
{
	uint64_t key = ((uint64_t)(uint32_t)r->rank << 32) | (uint32_t)r->slot;
	size_t i = tf_idtable_get(&jr->row_ids, key);
	struct tf_jrow *row;

	if (i != TF_IDTABLE_NONE)
		return (uint32_t)i;
	i = jr->nrows++;
	tf__grow((void **)&jr->rows, &jr->rows_cap, jr->nrows,
		 sizeof(*jr->rows));
	row = &jr->rows[i];
	memset(row, 0, sizeof(*row));
	row->rank = r->rank;
	row->slot = r->slot;
	copy_field(row->host, sizeof(row->host), r->host, r->host_len, tmp);
	tf_idtable_put(&jr->row_ids, key, i);
	return (uint32_t)i;
}

/* The row of a line GNU parallel wrote, which names no slot: the first
 * lane of its host free when it started, or a new one. */
static uint32_t row_of_lane(struct tf_jreport *jr, const struct tf_jrecord *r,
			    struct tf_strbuf *tmp)
{
	char host[64];
	size_t i;
	int lanes = 0;

	copy_field(host, sizeof(host), r->host, r->host_len, tmp);
	for (i = 0; i < jr->nrows; i++) {
		struct tf_jrow *row = &jr->rows[i];

		if (row->rank != -1 || strcmp(row->host, host) != 0)
			continue;
		lanes++;
		if (row->last_end <= r->start + 1e-9)
			return (uint32_t)i;
	}
	i = jr->nrows++;
	tf__grow((void **)&jr->rows, &jr->rows_cap, jr->nrows,
		 sizeof(*jr->rows));
	memset(&jr->rows[i], 0, sizeof(jr->rows[i]));
	jr->rows[i].rank = -1;
	jr->rows[i].slot = lanes + 1;
	memcpy(jr->rows[i].host, host, sizeof(host));
	return (uint32_t)i;
}

/* The segment of a line: the current one, or a new one when its JobId
 * differs (a resumed run). */
static uint32_t seg_of(struct tf_jreport *jr, const struct tf_jrecord *r,
		       struct tf_strbuf *tmp)
{
	char jobid[64];
	struct tf_jseg *s;

	copy_field(jobid, sizeof(jobid), r->jobid, r->jobid_len, tmp);
	if (jr->nsegs && strcmp(jr->segs[jr->nsegs - 1].jobid, jobid) == 0)
		return (uint32_t)(jr->nsegs - 1);
	tf__grow((void **)&jr->segs, &jr->segs_cap, jr->nsegs + 1,
		 sizeof(*jr->segs));
	s = &jr->segs[jr->nsegs++];
	memset(s, 0, sizeof(*s));
	memcpy(s->jobid, jobid, sizeof(jobid));
	s->start = r->start;
	s->end = r->start + r->runtime;
	return (uint32_t)(jr->nsegs - 1);
}

/* The state of a read: the report and a scratch buffer. */
struct load {
	struct tf_jreport *jr;
	struct tf_strbuf tmp;
};

/* Takes in one parsed line (a tf_jrecord_fn). */
static int take(void *arg, const struct tf_jrecord *r,
		const struct tf_strbuf *cmd, uint64_t lineno, char *err,
		size_t errlen)
{
	struct load *ld = arg;
	struct tf_jreport *jr = ld->jr;
	struct tf_strbuf *tmp = &ld->tmp;
	struct tf_jattempt *a;
	struct tf_jrow *row;
	struct tf_jseg *seg;
	double end = r->start + (r->runtime > 0 ? r->runtime : 0);

	tf__grow((void **)&jr->att, &jr->cap, jr->n + 1, sizeof(*jr->att));
	a = &jr->att[jr->n++];
	a->start = r->start;
	a->runtime = r->runtime > 0 ? r->runtime : 0;
	a->id = r->id;
	a->maxrss = r->maxrss;
	a->attempt = r->attempt;
	a->exitval = (int32_t)r->exitval;
	a->signal = (int32_t)r->signal;
	a->status = (uint8_t)r->status;
	a->row = r->parallel ? row_of_lane(jr, r, tmp) : row_of_slot(jr, r, tmp);
	a->seg = seg_of(jr, r, tmp);
	a->cmd = jr->cmds.len;
	tf_strbuf_add(&jr->cmds, cmd->buf, cmd->len);
	tf_strbuf_addch(&jr->cmds, '\0');
	row = &jr->rows[a->row];
	row->attempts++;
	row->busy += a->runtime;
	if (end > row->last_end)
		row->last_end = end;
	if (tf_jreport_failed(a->status))
		row->failed++;
	seg = &jr->segs[a->seg];
	seg->attempts++;
	seg->by_status[a->status]++;
	if (a->start < seg->start)
		seg->start = a->start;
	if (end > seg->end)
		seg->end = end;
	jr->by_status[a->status]++;
	if (jr->n == 1 || a->start < jr->t0)
		jr->t0 = a->start;
	if (end > jr->t1)
		jr->t1 = end;
	return 0;
}

int tf_jreport_load(struct tf_jreport *jr, const char *path, char *err,
		    size_t errlen)
{
	struct load ld = { jr, TF_STRBUF_INIT };
	struct tf_jrecord_file info;
	int ret;

	memset(jr, 0, sizeof(*jr));
	ret = tf__jrecord_read(path, 0, take, &ld, &info, err, errlen);
	tf_strbuf_release(&ld.tmp);
	if (ret < 0) {
		tf_jreport_release(jr);
		return ret;
	}
	jr->kind = info.kind;
	jr->torn = info.torn;
	return 0;
}
