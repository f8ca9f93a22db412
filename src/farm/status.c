/*
 * taskfarm status (status.h): counts from a replay as --resume does it
 * (history.c), rate and failures from the attempts (jreport.c), owner
 * from the .meta file read without its lock, and the lock itself from
 * /proc/locks.
 */
#include "config.h"

#include "farm/status.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "farm/journal.h"
#include "farm/jreport.h"
#include "farm/report.h"
#include "taskfarm.h"

/* Whether a flock is held on the file st names, from /proc/locks (which
 * lists this host's locks only). Returns TF_LOCK_HELD, TF_LOCK_RELEASED,
 * or TF_LOCK_UNKNOWN if /proc/locks cannot be read. */
static int lock_held(const struct stat *st)
{
	char line[256], want[64];
	FILE *fp = fopen("/proc/locks", "re");
	int held = TF_LOCK_RELEASED;

	if (!fp)
		return TF_LOCK_UNKNOWN;
	snprintf(want, sizeof(want), " %02x:%02x:%llu ", major(st->st_dev),
		 minor(st->st_dev), (unsigned long long)st->st_ino);
	while (fgets(line, sizeof(line), fp))
		if (strstr(line, "FLOCK") && strstr(line, want))
			held = TF_LOCK_HELD;
	fclose(fp);
	return held;
}

/* The .meta file, read without locking it. Returns 0 (also when it is
 * missing), TF_EPARSE or -errno. */
static int gather_meta(struct tf_status_facts *s, const char *path,
		       struct stat *st, char *err, size_t errlen)
{
	struct tf_journal_lock l;
	struct tf_journal_meta m;
	struct tf_strbuf p = TF_STRBUF_INIT;
	int ret;

	tf_strbuf_addf(&p, "%s.meta", path);
	l.fd = open(p.buf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	l.path = p.buf;
	if (l.fd < 0) {
		ret = errno == ENOENT ? 0 : -errno;
		if (ret)
			snprintf(err, errlen, "%s: %s", p.buf, strerror(-ret));
		tf_strbuf_release(&p);
		return ret;
	}
	ret = fstat(l.fd, st) < 0 ? -errno : 0;
	if (ret == 0)
		ret = tf_journal_meta_read(&l, &m, err, errlen);
	close(l.fd);
	tf_strbuf_release(&p);
	if (ret < 0)
		return ret;
	if (ret == 1) {
		s->total = m.ntasks;
		snprintf(s->owner_host, sizeof(s->owner_host), "%s",
			 m.owner_host);
		s->owner_pid = m.owner_pid;
		snprintf(s->owner_since, sizeof(s->owner_since), "%s",
			 m.owner_since);
		snprintf(s->source, sizeof(s->source), "%s", m.source);
	}
	return 1;
}

/* Counts the tasks by what their history says, as --resume would. */
static void count_tasks(struct tf_status_facts *s, struct tf_history *h)
{
	size_t i;

	for (i = 0; i < h->dense_len + h->ntab; i++) {
		int st = i < h->dense_len ? h->dense[i].state
					  : h->tab[i - h->dense_len].state;

		if (st == TF_HIST_OK)
			s->done++;
		else if (st == TF_HIST_FAILED)
			s->failed++;
		else if (st == TF_HIST_INTERRUPTED)
			s->interrupted++;
	}
}

/* Rate, the last run and the last failures, from the attempts. */
static void gather_attempts(struct tf_status_facts *s,
			    const struct tf_jreport *jr)
{
	const struct tf_jseg *seg;
	size_t i, k;
	double until;

	s->attempts = jr->n;
	s->runs = jr->nsegs;
	for (i = jr->n, k = 0; i > 0 && k < TF_STATUS_LAST_FAILURES; i--)
		if (tf_jreport_failed(jr->att[i - 1].status))
			k++;
	s->nfailures = k;
	for (k = 0; i < jr->n; i++) {
		const struct tf_jattempt *a = &jr->att[i];
		struct tf_status_failure *f;

		if (!tf_jreport_failed(a->status))
			continue;
		f = &s->last_failures[k++];
		f->id = a->id;
		f->attempt = a->attempt;
		f->status = a->status;
		f->exitval = a->exitval;
		f->signal = a->signal;
		snprintf(f->cmd, sizeof(f->cmd), "%s", tf_jreport_cmd(jr, a));
	}
	s->eta = -1;
	if (!jr->nsegs)
		return;
	seg = &jr->segs[jr->nsegs - 1];
	snprintf(s->jobid, sizeof(s->jobid), "%s", seg->jobid);
	s->run_start = seg->start;
	s->run_done = (double)seg->by_status[TF_STATUS_OK];
	until = s->lock == TF_LOCK_HELD && s->now > seg->end ? s->now : seg->end;
	if (until > seg->start)
		s->rate = s->run_done / (until - seg->start);
	if (s->lock != TF_LOCK_RELEASED && s->rate > 0 && s->total)
		s->eta = (double)s->remaining / s->rate;
}

int tf_status_gather(struct tf_status_facts *s, const char *path, char *err,
		     size_t errlen)
{
	struct tf_history h;
	struct tf_jreport jr;
	struct stat st, meta_st;
	int ret, have_meta;

	memset(s, 0, sizeof(*s));
	snprintf(s->journal, sizeof(s->journal), "%s", path);
	s->now = tf_wallclock();
	s->lock = TF_LOCK_RELEASED;
	if (stat(path, &st) < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	s->last_write = (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec * 1e-9;
	have_meta = gather_meta(s, path, &meta_st, err, errlen);
	if (have_meta < 0)
		return have_meta;
	if (have_meta) {
		char host[256];

		if (gethostname(host, sizeof(host) - 1) < 0)
			host[0] = '\0';
		host[sizeof(host) - 1] = '\0';
		s->lock = strcmp(host, s->owner_host) == 0 ? lock_held(&meta_st)
							   : TF_LOCK_UNKNOWN;
	}
	ret = tf__history_read(&h, path, 0, err, errlen); /* joblogs too */
	if (ret < 0)
		return ret;
	count_tasks(s, &h);
	tf_history_release(&h);
	if (s->total)
		s->remaining = s->total > s->done + s->failed
				       ? s->total - s->done - s->failed
				       : 0;
	ret = tf_jreport_load(&jr, path, err, errlen);
	if (ret < 0)
		return ret;
	gather_attempts(s, &jr);
	tf_jreport_release(&jr);
	return 0;
}

static const char *lock_word(int lock)
{
	return lock == TF_LOCK_HELD	 ? "held"
	       : lock == TF_LOCK_RELEASED ? "released"
					  : "unknown";
}

void tf_status_format(const struct tf_status_facts *s, struct tf_strbuf *sb)
{
	size_t i;

	tf_strbuf_addf(sb, "journal: %s\n", s->journal);
	if (s->lock == TF_LOCK_HELD)
		tf_strbuf_addstr(sb, "run: going on (lock held");
	else if (s->lock == TF_LOCK_RELEASED)
		tf_strbuf_addstr(sb, "run: ended (lock released");
	else
		tf_strbuf_addstr(sb, "run: lock unknown (its owner is on "
				     "another host");
	if (s->owner_host[0])
		tf_strbuf_addf(sb, "; owner host %s, pid %ld, since %s",
			       s->owner_host, s->owner_pid, s->owner_since);
	tf_strbuf_addf(sb, ")\nlast write: %.0f s ago\n",
		       s->now > s->last_write ? s->now - s->last_write : 0.0);
	if (s->total)
		tf_strbuf_addf(sb, "tasks: %llu/%llu done, %llu failed, %llu "
				   "remaining",
			       (unsigned long long)s->done,
			       (unsigned long long)s->total,
			       (unsigned long long)s->failed,
			       (unsigned long long)s->remaining);
	else
		tf_strbuf_addf(sb, "tasks: %llu done, %llu failed (total "
				   "unknown)",
			       (unsigned long long)s->done,
			       (unsigned long long)s->failed);
	if (s->interrupted)
		tf_strbuf_addf(sb, " (%llu interrupted, to run again)",
			       (unsigned long long)s->interrupted);
	tf_strbuf_addf(sb, "; %llu attempts in %zu run%s\n",
		       (unsigned long long)s->attempts, s->runs,
		       s->runs == 1 ? "" : "s");
	if (s->runs) {
		tf_strbuf_addf(sb, "rate: %.2f tasks/s in the last run (JobId "
				   "%s, from ",
			       s->rate, s->jobid);
		tf_report_timestamp(s->run_start, sb);
		tf_strbuf_addstr(sb, ")");
		if (s->eta >= 0) {
			tf_strbuf_addstr(sb, ", ETA ");
			tf_report_duration(sb, s->eta);
		}
		tf_strbuf_addch(sb, '\n');
	}
	for (i = 0; i < s->nfailures; i++) {
		const struct tf_status_failure *f = &s->last_failures[i];

		if (i == 0)
			tf_strbuf_addstr(sb, "last failures:\n");
		tf_strbuf_addf(sb, "  id %llu attempt %u: %s, exit %ld, "
				   "signal %ld: %s\n",
			       (unsigned long long)f->id, f->attempt,
			       tf_status_name(f->status), f->exitval, f->signal,
			       f->cmd);
	}
}

static void json_key(struct tf_strbuf *sb, const char *key)
{
	tf_strbuf_addch(sb, sb->len && sb->buf[sb->len - 1] != '{' ? ',' : ' ');
	tf_json_string(sb, key);
	tf_strbuf_addch(sb, ':');
}

static void json_u64(struct tf_strbuf *sb, const char *key, uint64_t v)
{
	json_key(sb, key);
	tf_strbuf_addf(sb, "%llu", (unsigned long long)v);
}

static void json_num(struct tf_strbuf *sb, const char *key, double v)
{
	json_key(sb, key);
	if (isfinite(v))
		tf_strbuf_addf(sb, "%.3f", v);
	else
		tf_strbuf_addstr(sb, "null");
}

/* A count, or null when it is not known (have 0). */
static void json_opt_u64(struct tf_strbuf *sb, const char *key, uint64_t v,
			 int have)
{
	json_key(sb, key);
	if (have)
		tf_strbuf_addf(sb, "%llu", (unsigned long long)v);
	else
		tf_strbuf_addstr(sb, "null");
}

static void json_str(struct tf_strbuf *sb, const char *key, const char *v)
{
	json_key(sb, key);
	tf_json_string(sb, v);
}

void tf_status_json(const struct tf_status_facts *s, struct tf_strbuf *sb)
{
	size_t i;

	tf_strbuf_addch(sb, '{');
	json_str(sb, "journal", s->journal);
	json_str(sb, "lock", lock_word(s->lock));
	json_key(sb, "owner");
	if (s->owner_host[0]) {
		tf_strbuf_addch(sb, '{');
		json_str(sb, "host", s->owner_host);
		json_u64(sb, "pid", (uint64_t)s->owner_pid);
		json_str(sb, "since", s->owner_since);
		tf_strbuf_addch(sb, '}');
	} else {
		tf_strbuf_addstr(sb, "null");
	}
	json_str(sb, "source", s->source);
	json_opt_u64(sb, "total", s->total, s->total > 0);
	json_u64(sb, "done", s->done);
	json_u64(sb, "failed", s->failed);
	json_u64(sb, "interrupted", s->interrupted);
	json_opt_u64(sb, "remaining", s->remaining, s->total > 0);
	json_u64(sb, "attempts", s->attempts);
	json_u64(sb, "runs", s->runs);
	json_str(sb, "jobid", s->jobid);
	json_num(sb, "run_start", s->run_start);
	json_num(sb, "rate", s->rate);
	json_opt_u64(sb, "eta_seconds", (uint64_t)(s->eta + 0.5), s->eta >= 0);
	json_num(sb, "last_write", s->last_write);
	json_key(sb, "last_failures");
	tf_strbuf_addch(sb, '[');
	for (i = 0; i < s->nfailures; i++) {
		const struct tf_status_failure *f = &s->last_failures[i];

		if (i)
			tf_strbuf_addch(sb, ',');
		tf_strbuf_addch(sb, '{');
		json_u64(sb, "id", f->id);
		json_u64(sb, "attempt", f->attempt);
		json_str(sb, "status", tf_status_name(f->status));
		json_key(sb, "exitval");
		tf_strbuf_addf(sb, "%ld", f->exitval);
		json_key(sb, "signal");
		tf_strbuf_addf(sb, "%ld", f->signal);
		json_str(sb, "command", f->cmd);
		tf_strbuf_addch(sb, '}');
	}
	tf_strbuf_addstr(sb, "]}\n");
}
