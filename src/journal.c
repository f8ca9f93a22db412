/*
 * The journal. Appends only, never rewrites, and escapes every command so
 * that a tab or newline in it cannot break a line: a reader can always
 * split on tabs and newlines.
 */
#include "config.h"

#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "taskfarm.h"

/* The JobId column: the Slurm job this run belongs to, escaped like
 * every text column; "-" outside Slurm. */
static char *journal_jobid(void)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	const char *id = getenv("SLURM_JOB_ID");

	if (!id || !*id)
		return tf__xstrdup("-");
	tf_journal_escape(&sb, id, strlen(id));
	return tf_strbuf_detach(&sb, NULL);
}

int tf_journal_open(struct tf_journal *j, const char *path, double interval)
{
	struct stat st;
	int fd, ret;

	memset(j, 0, sizeof(*j));
	/* O_NONBLOCK: a FIFO with no reader fails (ENXIO) instead of
	 * blocking; it is cleared again for the regular file we want. */
	fd = open(path,
		  O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC |
			  O_NONBLOCK,
		  0644);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if (fcntl(fd, F_SETFL, O_APPEND) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	j->fd = fd;
	j->path = tf__xstrdup(path);
	j->jobid = journal_jobid();
	j->interval = interval;
	j->last_sync = tf_now();
	tf_strbuf_init(&j->pending);
	if (st.st_size == 0) {
		ret = tf_write_all(fd, TF_JOURNAL_HEADER,
				   strlen(TF_JOURNAL_HEADER));
		if (ret < 0) {
			close(fd);
			free(j->path);
			free(j->jobid);
			return ret;
		}
	}
	return 0;
}

void tf_journal_escape(struct tf_strbuf *sb, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		switch (s[i]) {
		case '\t':
			tf_strbuf_add(sb, "\\t", 2);
			break;
		case '\n':
			tf_strbuf_add(sb, "\\n", 2);
			break;
		case '\r':
			tf_strbuf_add(sb, "\\r", 2);
			break;
		case '\0':
			tf_strbuf_add(sb, "\\0", 2);
			break;
		case '\\':
			tf_strbuf_add(sb, "\\\\", 2);
			break;
		default:
			tf_strbuf_addch(sb, s[i]);
		}
	}
}

int tf_journal_unescape(struct tf_strbuf *sb, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] != '\\') {
			tf_strbuf_addch(sb, s[i]);
			continue;
		}
		if (++i == len)
			return TF_EPARSE;
		switch (s[i]) {
		case 't':
			tf_strbuf_addch(sb, '\t');
			break;
		case 'n':
			tf_strbuf_addch(sb, '\n');
			break;
		case 'r':
			tf_strbuf_addch(sb, '\r');
			break;
		case '0':
			tf_strbuf_addch(sb, '\0');
			break;
		case '\\':
			tf_strbuf_addch(sb, '\\');
			break;
		default:
			return TF_EPARSE;
		}
	}
	return 0;
}

void tf_journal_add(struct tf_journal *j, const struct tf_result *r,
		    const char *host, const char *cmd, size_t cmd_len)
{
	struct tf_strbuf *sb = &j->pending;

	tf_strbuf_addf(sb, "%llu\t", (unsigned long long)r->id);
	tf_journal_escape(sb, host, strlen(host));
	tf_strbuf_addf(sb, "\t%.3f\t%.3f\t0\t%llu\t%d\t%d\t", r->start,
		       r->runtime,
		       (unsigned long long)(r->out.len + r->err.len),
		       r->exitval, r->signal);
	tf_journal_escape(sb, cmd, cmd_len);
	tf_strbuf_addf(sb, "\t%u\t%d\t%d\t%s\t%lld\t%.3f\t%.3f\t%s\n",
		       r->attempt, r->rank, r->slot, tf_status_name(r->status),
		       (long long)r->maxrss_kb, r->utime, r->stime, j->jobid);
	j->lines++;
}

int tf_journal_flush(struct tf_journal *j, int sync)
{
	int ret;

	if (j->fd < 0)
		return 0;
	if (j->pending.len) {
		ret = tf_write_all(j->fd, j->pending.buf, j->pending.len);
		if (ret < 0)
			return ret;
		tf_strbuf_reset(&j->pending);
	}
	if (sync) {
		if (fsync(j->fd) < 0)
			return -errno;
		j->last_sync = tf_now();
	}
	return 0;
}

int tf_journal_tick(struct tf_journal *j, double now)
{
	if (now - j->last_sync < j->interval)
		return 0;
	if (!j->pending.len) {
		j->last_sync = now;
		return 0;
	}
	return tf_journal_flush(j, 1);
}

int tf_journal_close(struct tf_journal *j)
{
	int ret;

	if (!j->path)
		return 0;
	ret = tf_journal_flush(j, 1);
	if (close(j->fd) < 0 && ret == 0)
		ret = -errno;
	j->fd = -1;
	free(j->path);
	j->path = NULL;
	free(j->jobid);
	j->jobid = NULL;
	tf_strbuf_release(&j->pending);
	return ret;
}

int tf_journal_trim(struct tf_journal *j, uint64_t len)
{
	size_t hlen = strlen(TF_JOURNAL_HEADER);

	/* Torn inside the header itself: start the file over. */
	if (len < hlen)
		len = 0;
	if (ftruncate(j->fd, (off_t)len) < 0)
		return -errno;
	if (len == 0)
		return tf_write_all(j->fd, TF_JOURNAL_HEADER, hlen);
	return 0;
}

int tf_status_parse(const char *name)
{
	int st;

	for (st = TF_STATUS_OK; st <= TF_STATUS_LAST; st++)
		if (strcmp(name, tf_status_name(st)) == 0)
			return st;
	return -1;
}

static size_t hist_slot(const struct tf_history *h, uint64_t id)
{
	return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 17) & (h->cap - 1);
}

static struct tf_history_entry *hist_get(struct tf_history *h, uint64_t id)
{
	size_t s;

	if ((h->n + 1) * 2 > h->cap) {
		struct tf_history_entry *old = h->tab;
		size_t oldcap = h->cap, i;

		h->cap = h->cap ? h->cap * 2 : 1024;
		h->tab = tf__xcalloc(h->cap, sizeof(*h->tab));
		for (i = 0; i < oldcap; i++) {
			if (!old[i].state)
				continue;
			s = hist_slot(h, old[i].id);
			while (h->tab[s].state)
				s = (s + 1) & (h->cap - 1);
			h->tab[s] = old[i];
		}
		free(old);
	}
	s = hist_slot(h, id);
	while (h->tab[s].state && h->tab[s].id != id)
		s = (s + 1) & (h->cap - 1);
	if (!h->tab[s].state) {
		h->tab[s].id = id;
		h->n++;
	}
	return &h->tab[s];
}

const struct tf_history_entry *tf_history_find(const struct tf_history *h,
					       uint64_t id)
{
	size_t s;

	if (!h || !h->cap)
		return NULL;
	s = hist_slot(h, id);
	while (h->tab[s].state) {
		if (h->tab[s].id == id)
			return &h->tab[s];
		s = (s + 1) & (h->cap - 1);
	}
	return NULL;
}

void tf_history_release(struct tf_history *h)
{
	free(h->tab);
	memset(h, 0, sizeof(*h));
}

/* Parses an unsigned decimal field; returns 0 or -1. */
static int field_u64(const char *s, size_t len, uint64_t *v)
{
	size_t i;

	if (len == 0 || len > 20)
		return -1;
	*v = 0;
	for (i = 0; i < len; i++) {
		uint64_t d = (uint64_t)(s[i] - '0');

		if (s[i] < '0' || s[i] > '9' || *v > (UINT64_MAX - d) / 10)
			return -1; /* not a digit, or past UINT64_MAX */
		*v = *v * 10 + d;
	}
	return 0;
}

/* Whether a field is a decimal number, as the journal writes them:
 * an optional minus, digits, and optionally a point and digits. */
static int field_is_number(const char *s, size_t len)
{
	size_t i = 0, digits = 0;

	if (i < len && s[i] == '-')
		i++;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
		digits++;
	if (i < len && s[i] == '.')
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
	return digits > 0 && i == len && len < 32;
}

#define JOURNAL_FIELDS 17

/* Takes in one journal line (without its newline); a journal with a
 * 16-column header (columns) may hold lines of 16 or 17 fields. Returns
 * 0, or a static description of what is wrong with it. */
static const char *replay_line(struct tf_history *h, char *line, size_t len,
			       int columns, struct tf_strbuf *cmd)
{
	const char *f[JOURNAL_FIELDS];
	size_t flen[JOURNAL_FIELDS];
	struct tf_history_entry *e;
	char status[32];
	uint64_t id, attempt, hash;
	size_t i, nf = 0, start = 0;
	int st, state;

	for (i = 0; i <= len; i++) {
		if (i < len && line[i] != '\t')
			continue;
		if (nf == JOURNAL_FIELDS)
			return "more than 17 fields";
		f[nf] = line + start;
		flen[nf++] = i - start;
		start = i + 1;
	}
	if (nf < JOURNAL_FIELDS - 1)
		return columns == 16 ? "fewer than 16 fields"
				     : "fewer than 17 fields";
	if (nf < JOURNAL_FIELDS && columns != 16)
		return "16 fields under a 17-column header (JobId missing)";
	if (nf == JOURNAL_FIELDS) {
		tf_strbuf_reset(cmd);
		if (flen[16] == 0 ||
		    tf_journal_unescape(cmd, f[16], flen[16]) < 0)
			return "bad JobId";
	}
	static const char *const numeric[JOURNAL_FIELDS] = {
		[2] = "Starttime", [3] = "JobRuntime", [4] = "Send",
		[5] = "Receive",   [6] = "Exitval",	  [7] = "Signal",
		[10] = "Rank",	   [11] = "Slot",	  [13] = "MaxRSS",
		[14] = "UserCPU",  [15] = "SysCPU"
	};

	if (field_u64(f[0], flen[0], &id) < 0)
		return "Seq is not a number";
	for (i = 0; i < JOURNAL_FIELDS; i++)
		if (numeric[i] && !field_is_number(f[i], flen[i]))
			return "a numeric column is not a number";
	if (field_u64(f[9], flen[9], &attempt) < 0 || attempt == 0 ||
	    attempt > UINT32_MAX)
		return "Attempt is not a number";
	if (flen[12] >= sizeof(status))
		return "unknown Status";
	memcpy(status, f[12], flen[12]);
	status[flen[12]] = '\0';
	st = tf_status_parse(status);
	if (st < 0 || st == TF_STATUS_NOT_STARTED)
		return "unknown Status";
	tf_strbuf_reset(cmd);
	if (tf_journal_unescape(cmd, f[8], flen[8]) < 0)
		return "bad escape in Command";
	hash = tf_hash(TF_HASH_INIT, cmd->buf ? cmd->buf : "", cmd->len);
	/* A lost attempt says nothing of the task, and one whose output
	 * was lost did not get done: run it again, as an interrupted one. */
	state = st == TF_STATUS_OK ? TF_HIST_OK
		: st == TF_STATUS_INTERRUPTED || st == TF_STATUS_LOST ||
				st == TF_STATUS_OUTPUT_LOST
			? TF_HIST_INTERRUPTED
			: TF_HIST_FAILED;
	e = hist_get(h, id);
	if (!e->state || e->cmd_hash != hash) {
		/* New, or the job changed this line: start afresh. */
		e->cmd_hash = hash;
		e->state = (uint8_t)state;
	} else if (e->state != TF_HIST_OK) {
		e->state = (uint8_t)state;
	}
	if (attempt > e->attempts)
		e->attempts = (uint32_t)attempt;
	return NULL;
}

/* The number of columns a header line (without its newline) announces:
 * 17, 16 for a journal from before JobId, or 0 if it is not one. */
static int header_columns(const char *line, size_t len)
{
	if (len + 1 == strlen(TF_JOURNAL_HEADER) &&
	    memcmp(line, TF_JOURNAL_HEADER, len) == 0)
		return 17;
	if (len + 1 == strlen(TF_JOURNAL_HEADER_16) &&
	    memcmp(line, TF_JOURNAL_HEADER_16, len) == 0)
		return 16;
	return 0;
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
			h->columns = header_columns(line, (size_t)n);
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

int tf_journal_lock(struct tf_journal_lock *l, const char *journal_path,
		    char *holder, size_t holder_len)
{
	struct tf_strbuf p = TF_STRBUF_INIT;
	struct stat st;
	int fd, ret;

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	tf_strbuf_addf(&p, "%s.meta", journal_path);
	fd = open(p.buf, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
		  0644);
	if (fd < 0) {
		ret = -errno;
		tf_strbuf_release(&p);
		return ret;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		ret = fstat(fd, &st) < 0 ? -errno : -EINVAL;
		close(fd);
		tf_strbuf_release(&p);
		return ret;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		ret = errno == EWOULDBLOCK ? -EBUSY : -errno;
		if (ret == -EBUSY && holder && holder_len) {
			char buf[4096];
			ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
			const char *o;
			char host[256] = "?", when[64] = "?";
			long pid = 0;

			buf[n > 0 ? n : 0] = '\0';
			o = strstr(buf, "\nowner ");
			if (o)
				sscanf(o, "\nowner %255s %ld %63s", host, &pid,
				       when);
			snprintf(holder, holder_len,
				 "host %s, pid %ld, since %s", host, pid,
				 when);
		}
		close(fd);
		tf_strbuf_release(&p);
		return ret;
	}
	l->fd = fd;
	l->path = tf_strbuf_detach(&p, NULL);
	return 0;
}

int tf_journal_meta_fingerprint(struct tf_journal_lock *l, char fp[17])
{
	char buf[4096];
	const char *f;
	ssize_t n = pread(l->fd, buf, sizeof(buf) - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	f = strstr(buf, "\nfingerprint ");
	if (!f || sscanf(f, "\nfingerprint %16[0-9a-f]", fp) != 1 ||
	    strlen(fp) != 16)
		return 0;
	return 1;
}

int tf_journal_meta_write(struct tf_journal_lock *l, const char *fingerprint,
			  const char *source)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	char host[256], when[64];
	time_t now = time(NULL);
	struct tm tm;
	int ret;

	if (gethostname(host, sizeof(host) - 1) < 0)
		strcpy(host, "?");
	host[sizeof(host) - 1] = '\0';
	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	tf_strbuf_addf(&sb,
		       "taskfarm-journal-meta 1\nfingerprint %s\nsource %s\n"
		       "owner %s %ld %s\n",
		       fingerprint, source, host, (long)getpid(), when);
	if (ftruncate(l->fd, 0) < 0) {
		ret = -errno;
	} else {
		ret = 0;
		ssize_t n = pwrite(l->fd, sb.buf, sb.len, 0);
		if (n != (ssize_t)sb.len)
			ret = n < 0 ? -errno : -EIO;
		else if (fsync(l->fd) < 0)
			ret = -errno;
	}
	tf_strbuf_release(&sb);
	return ret;
}

void tf_journal_unlock(struct tf_journal_lock *l)
{
	if (l->fd >= 0)
		close(l->fd); /* closing drops the flock */
	l->fd = -1;
	free(l->path);
	l->path = NULL;
}
