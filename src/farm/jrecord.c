/*
 * Journal lines taken apart (jrecord.h): the columns checked and
 * converted once, for replay, report and status alike.
 */
#include "config.h"

#include "farm/jrecord.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "farm/journal.h"
#include "farm/joblog.h"
#include "taskfarm.h"

#define JOURNAL_FIELDS 17

int tf__jrecord_header(const char *line, size_t len)
{
	if (len + 1 == strlen(TF_JOURNAL_HEADER) &&
	    memcmp(line, TF_JOURNAL_HEADER, len) == 0)
		return TF_JREC_JOURNAL17;
	if (len + 1 == strlen(TF_JOURNAL_HEADER_16) &&
	    memcmp(line, TF_JOURNAL_HEADER_16, len) == 0)
		return TF_JREC_JOURNAL16;
	if (len + 1 == strlen(TF_JOBLOG_HEADER) &&
	    memcmp(line, TF_JOBLOG_HEADER, len) == 0)
		return TF_JREC_JOBLOG;
	return TF_JREC_NONE;
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

/* A field that field_is_number() accepted: it ends at a tab or the
 * line's NUL, where strtod() stops. */
static double field_double(const char *s)
{
	return strtod(s, NULL);
}

static void record_clear(struct tf_jrecord *r)
{
	memset(r, 0, sizeof(*r));
	r->rank = -1;
	r->slot = -1;
	r->jobid = "-";
	r->jobid_len = 1;
}

/* Fills the first eight columns' fields of r: those a journal and GNU
 * parallel's lines share (Seq is the caller's). */
static void fill_common(struct tf_jrecord *r, const char *const *f,
			const size_t *flen)
{
	r->host = f[1];
	r->host_len = flen[1];
	r->start = field_double(f[2]);
	r->runtime = field_double(f[3]);
	r->exitval = strtol(f[6], NULL, 10);
	r->signal = strtol(f[7], NULL, 10);
}

/*
 * A line GNU parallel wrote (its --joblog, or appended to a journal by
 * parallel --resume --joblog JOURNAL): in a journal, its JobRuntime is
 * padded with spaces (%10.3f, below 100000 s), or its Command holds a
 * NUL (a newline), which the journal never writes. Exitval and Signal
 * both "0" is a success, anything else a failure, as for parallel
 * itself. The Command is the rest of the line (it may hold tabs). With
 * strict (a journal), a line that does not look like parallel's is not
 * taken. Returns 1 if it was taken in, 0 if not.
 */
static int parse_parallel(const char *line, size_t len, int strict,
			  struct tf_jrecord *r, struct tf_strbuf *cmd)
{
	const char *f[8];
	size_t flen[8], i, nf = 0, start = 0;
	uint64_t id;

	for (i = 0; i < len && nf < 8; i++) {
		if (line[i] != '\t')
			continue;
		f[nf] = line + start;
		flen[nf++] = i - start;
		start = i + 1;
	}
	if (nf < 8 || tf__journal_field_u64(f[0], flen[0], &id) < 0)
		return 0;
	if (strict && (flen[3] == 0 || f[3][0] != ' ') &&
	    !memchr(line, '\0', len))
		return 0;
	for (i = 1; i < 6; i++)
		if (flen[i] == 0)
			return 0;
	while (flen[3] && f[3][0] == ' ')
		f[3]++, flen[3]--;
	if (!field_is_number(f[2], flen[2]) || !field_is_number(f[3], flen[3]) ||
	    !field_is_number(f[6], flen[6]) || !field_is_number(f[7], flen[7]))
		return 0;
	record_clear(r);
	r->parallel = 1;
	r->id = id;
	fill_common(r, f, flen);
	r->status = r->exitval == 0 && r->signal == 0 ? TF_STATUS_OK
						      : TF_STATUS_FAILED;
	tf_strbuf_reset(cmd);
	for (i = start; i < len; i++)
		tf_strbuf_addch(cmd, line[i] ? line[i] : '\n');
	if (!cmd->buf)
		tf_strbuf_add(cmd, "", 0);
	return 1;
}

const char *tf__jrecord_parse(const char *line, size_t len, int kind,
			      struct tf_jrecord *r, struct tf_strbuf *cmd)
{
	static const char *const numeric[JOURNAL_FIELDS] = {
		[2] = "Starttime", [3] = "JobRuntime", [4] = "Send",
		[5] = "Receive",   [6] = "Exitval",	  [7] = "Signal",
		[10] = "Rank",	   [11] = "Slot",	  [13] = "MaxRSS",
		[14] = "UserCPU",  [15] = "SysCPU"
	};
	const char *f[JOURNAL_FIELDS];
	size_t flen[JOURNAL_FIELDS];
	char status[32];
	uint64_t attempt, v;
	size_t i, nf = 0, start = 0;
	int st;

	if (kind == TF_JREC_JOBLOG)
		return parse_parallel(line, len, 0, r, cmd)
			       ? NULL
			       : "not a GNU parallel joblog line";
	if (parse_parallel(line, len, 1, r, cmd))
		return NULL;
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
		return kind == TF_JREC_JOURNAL16 ? "fewer than 16 fields"
						 : "fewer than 17 fields";
	if (nf < JOURNAL_FIELDS && kind != TF_JREC_JOURNAL16)
		return "16 fields under a 17-column header (JobId missing)";
	record_clear(r);
	if (nf == JOURNAL_FIELDS) {
		tf_strbuf_reset(cmd);
		if (flen[16] == 0 ||
		    tf_journal_unescape(cmd, f[16], flen[16]) < 0)
			return "bad JobId";
		r->jobid = f[16];
		r->jobid_len = flen[16];
	}
	if (tf__journal_field_u64(f[0], flen[0], &r->id) < 0)
		return "Seq is not a number";
	for (i = 0; i < JOURNAL_FIELDS - 1; i++)
		if (numeric[i] && !field_is_number(f[i], flen[i]))
			return "a numeric column is not a number";
	if (tf__journal_field_u64(f[9], flen[9], &attempt) < 0 || attempt == 0 ||
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
	if (!cmd->buf)
		tf_strbuf_add(cmd, "", 0);
	fill_common(r, f, flen);
	r->attempt = (uint32_t)attempt;
	r->rank = (int)strtol(f[10], NULL, 10);
	r->slot = (int)strtol(f[11], NULL, 10);
	r->status = st;
	r->maxrss = tf__journal_field_u64(f[13], flen[13], &v) == 0 ? v : 0;
	r->usercpu = field_double(f[14]);
	r->syscpu = field_double(f[15]);
	return NULL;
}

/* The header's kind, or TF_EPARSE with err set. */
static int read_header(const char *path, const char *line, size_t len,
		       int flags, char *err, size_t errlen)
{
	int kind = tf__jrecord_header(line, len);

	if (kind == TF_JREC_JOBLOG && (flags & TF_JREAD_RESUME)) {
		snprintf(err, errlen,
			 "%s:1: a GNU parallel joblog, not a taskfarm journal; "
			 "taskfarm resumes from its own journal only: continue "
			 "with parallel --resume --joblog %s, or run afresh "
			 "without --resume, with --joblog %s and the journal "
			 "elsewhere (--journal FILE)",
			 path, path, path);
		return TF_EPARSE;
	}
	if (!kind) {
		snprintf(err, errlen,
			 "%s:1: not a taskfarm journal (the header line "
			 "differs)",
			 path);
		return TF_EPARSE;
	}
	return kind;
}

int tf__jrecord_read(const char *path, int flags, tf_jrecord_fn take,
		     void *arg, struct tf_jrecord_file *info, char *err,
		     size_t errlen)
{
	struct tf_strbuf cmd = TF_STRBUF_INIT;
	struct tf_jrecord r;
	char *line = NULL;
	size_t alloc = 0;
	uint64_t lineno = 0;
	ssize_t n;
	FILE *fp;
	int fd, ret = 0;

	memset(info, 0, sizeof(*info));
	fd = open(path, O_RDONLY | O_CLOEXEC |
				(flags & TF_JREAD_NOFOLLOW ? O_NOFOLLOW : 0));
	if (fd < 0 && errno == ENOENT && (flags & TF_JREAD_MISSING_OK))
		return 0;
	if (fd < 0 || !(fp = fdopen(fd, "r"))) {
		ret = -errno;
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	while ((n = getline(&line, &alloc, fp)) > 0) {
		const char *why;

		lineno++;
		if (line[n - 1] != '\n') {
			info->torn = 1;
			break;
		}
		line[--n] = '\0';
		if (lineno == 1) {
			ret = read_header(path, line, (size_t)n, flags, err,
					  errlen);
			if (ret < 0)
				break;
			info->kind = ret;
			ret = 0;
		} else if ((why = tf__jrecord_parse(line, (size_t)n, info->kind,
						    &r, &cmd))) {
			snprintf(err, errlen,
				 "%s:%llu: damaged journal line: %s", path,
				 (unsigned long long)lineno, why);
			ret = TF_EPARSE;
			break;
		} else if ((ret = take(arg, &r, &cmd, lineno, err, errlen)) < 0) {
			break;
		}
		info->valid_len += (uint64_t)n + 1;
	}
	if (ret == 0 && ferror(fp)) {
		ret = -EIO;
		snprintf(err, errlen, "%s: read error", path);
	}
	free(line);
	tf_strbuf_release(&cmd);
	fclose(fp);
	return ret;
}
