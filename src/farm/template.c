/*
 * Template mode: a command with replacement strings and argument lists,
 * expanded lazily into the cartesian product of the lists, as GNU
 * parallel's ":::" and "::::" do (linked lists, ":::+", step together;
 * --colsep splits arguments into columns). The replacement strings and
 * their edits are parallel 20221122's, checked against it by
 * tests/parallel-template.sh. Arguments are always shell-quoted, so they
 * reach the command as data and are never run by the shell.
 */
#include "config.h"

#include "farm/jobfile.h"
#include "farm/template.h"

#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "taskfarm.h"

void tf_shell_quote(struct tf_strbuf *sb, const char *s)
{
	const char *p;
	int safe = *s != '\0';

	for (p = s; *p && safe; p++)
		safe = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		       (*p >= '0' && *p <= '9') || strchr("_@%+=:,./-", *p);
	if (safe) {
		tf_strbuf_addstr(sb, s);
		return;
	}
	tf_strbuf_addch(sb, '\'');
	for (p = s; *p; p++) {
		if (*p == '\'')
			tf_strbuf_addstr(sb, "'\\''");
		else
			tf_strbuf_addch(sb, *p);
	}
	tf_strbuf_addch(sb, '\'');
}

/* The directory part of Perl's fileparse(): up to and including the
 * last slash, "./" when there is none; then trailing slashes are dropped
 * as dirname() drops them, keeping one character. */
static size_t dir_part(const char *s, size_t len, const char **dir)
{
	size_t i = len;

	while (i > 0 && s[i - 1] != '/')
		i--;
	if (i == 0) {
		*dir = "./";
		i = 2;
	} else {
		*dir = s;
	}
	while (i > 1 && (*dir)[i - 1] == '/')
		i--;
	return i;
}

/* Perl's File::Basename::dirname() on Unix: "." for a name with no
 * slash, "/" for "/", and "dir/" is taken as the name dir. */
static void add_dirname(struct tf_strbuf *sb, const char *s, size_t len)
{
	const char *dir;
	size_t n = dir_part(s, len, &dir);

	if (len == 0 || s[len - 1] == '/')
		n = dir_part(dir, n, &dir);
	tf_strbuf_add(sb, dir, n);
}

/* Replacement strings, GNU parallel's (20221122) without --plus. */
enum rs_kind { RS_ALL, RS_ARG, RS_ID, RS_SLOT };
enum rs_edit { RS_WHOLE, RS_NOEXT, RS_BASE, RS_DIR, RS_BASE_NOEXT };

struct rs {
	enum rs_kind kind;
	enum rs_edit edit;
	long index; /* RS_ARG: from 1, or from the end when negative */
};

/* Recognises the end of a replacement string at s: "}", ".}", "/}",
 * "//}" or "/.}". Returns its length, 0 if none. */
static size_t edit_at(const char *s, enum rs_edit *edit)
{
	static const struct {
		const char *text;
		enum rs_edit edit;
	} ends[] = { { "}", RS_WHOLE },  { ".}", RS_NOEXT },
		     { "/}", RS_BASE },  { "//}", RS_DIR },
		     { "/.}", RS_BASE_NOEXT } };
	size_t i;

	for (i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		size_t n = strlen(ends[i].text);
		if (strncmp(s, ends[i].text, n) == 0) {
			*edit = ends[i].edit;
			return n;
		}
	}
	return 0;
}

/* Recognises a replacement string at s: {} {.} {/} {//} {/.} {#} {%},
 * and {N} {N.} {N/} {N//} {N/.} with N negative for counting from the
 * last argument and blanks allowed after N, as in parallel. Returns its
 * length, 0 if none. */
static size_t replacement_at(const char *s, struct rs *r)
{
	size_t i = 1, n;
	long v = 0;
	int neg = 0;

	if (s[0] != '{')
		return 0;
	r->edit = RS_WHOLE;
	r->index = 0;
	if ((s[1] == '#' || s[1] == '%') && s[2] == '}') {
		r->kind = s[1] == '#' ? RS_ID : RS_SLOT;
		return 3;
	}
	if ((n = edit_at(s + 1, &r->edit))) {
		r->kind = RS_ALL;
		return 1 + n;
	}
	if (s[i] == '-') {
		neg = 1;
		i++;
	}
	if (!isdigit((unsigned char)s[i]))
		return 0;
	for (; isdigit((unsigned char)s[i]); i++)
		v = v < 100000000 ? v * 10 + (s[i] - '0') : 1000000000;
	while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n')
		i++;
	if (!(n = edit_at(s + i, &r->edit)))
		return 0;
	r->kind = RS_ARG;
	r->index = neg ? -v : v;
	return i + n;
}

/*
 * Recognises, at s, a brace that a parallel user means as a replacement
 * string but that is not one taskfarm knows: a Perl expression {= ... =},
 * or braces holding an optional number and only the characters . / # % +
 * ({..} {+.} {1//.} {##} {2#}). Brace expansion ({1..3}, {a,b}), awk and
 * shell code ({print $1}, { cmd; }) and JSON do not look like that.
 * Returns its length, 0 if none.
 */
static size_t unknown_at(const char *s)
{
	const char *p, *end;

	if (s[0] != '{')
		return 0;
	if (s[1] == '=') {
		end = strstr(s + 2, "=}");
		return end ? (size_t)(end + 2 - s) : 0;
	}
	p = s + 1;
	if (*p == '-' && isdigit((unsigned char)p[1]))
		p++;
	if (isdigit((unsigned char)*p)) {
		while (isdigit((unsigned char)*p))
			p++;
		while (*p == ' ' || *p == '\t')
			p++;
	}
	while (*p && strchr("./#%+", *p))
		p++;
	return *p == '}' && p > s + 1 ? (size_t)(p + 1 - s) : 0;
}

/* Appends s as one of parallel's edits leaves it: {.} drops the last
 * extension (s:\.[^/.]*$::), {/} everything up to the last slash
 * (s:.*\/::), {//} is Perl's File::Basename::dirname, {/.} is {/} and
 * then {.}. */
static void add_edited(struct tf_strbuf *sb, const char *s, enum rs_edit edit)
{
	const char *base = strrchr(s, '/'), *dot;
	size_t len = strlen(s);

	switch (edit) {
	case RS_WHOLE:
		tf_strbuf_add(sb, s, len);
		return;
	case RS_DIR:
		add_dirname(sb, s, len);
		return;
	case RS_NOEXT:
		base = s;
		break;
	case RS_BASE:
	case RS_BASE_NOEXT:
		base = base ? base + 1 : s;
		if (edit == RS_BASE) {
			tf_strbuf_addstr(sb, base);
			return;
		}
		break;
	}
	dot = strrchr(base, '.');
	if (dot && !strchr(dot, '/'))
		tf_strbuf_add(sb, base, (size_t)(dot - base));
	else
		tf_strbuf_addstr(sb, base);
}

/* Appends arg, edited, shell-quoted. */
static void add_arg(struct tf_strbuf *out, const char *arg, enum rs_edit edit,
		    struct tf_strbuf *tmp)
{
	if (edit == RS_WHOLE) {
		tf_shell_quote(out, arg);
		return;
	}
	tf_strbuf_reset(tmp);
	add_edited(tmp, arg, edit);
	tf_shell_quote(out, tmp->buf ? tmp->buf : "");
}

static void add_all_args(struct tf_strbuf *out, char *const *args,
			 size_t nargs, enum rs_edit edit, struct tf_strbuf *tmp)
{
	size_t i;

	for (i = 0; i < nargs; i++) {
		if (i)
			tf_strbuf_addch(out, ' ');
		add_arg(out, args[i], edit, tmp);
	}
}

int tf_template_render(const char *cmd, char *const *args, size_t nargs,
		       uint64_t id, struct tf_strbuf *out)
{
	struct tf_strbuf tmp = TF_STRBUF_INIT;
	const char *p = cmd;
	int found = 0;

	while (*p) {
		struct rs r;
		size_t n = replacement_at(p, &r);

		if (!n) {
			tf_strbuf_addch(out, *p++);
			continue;
		}
		found = 1;
		p += n;
		switch (r.kind) {
		case RS_ALL:
			add_all_args(out, args, nargs, r.edit, &tmp);
			break;
		case RS_ID:
			tf_strbuf_addf(out, "%llu", (unsigned long long)id);
			break;
		case RS_SLOT:
			tf_strbuf_addstr(out, "${TASKFARM_SLOT}");
			break;
		case RS_ARG:
			/* A column missing from this line is nothing at all,
			 * not an empty word, as in parallel. */
			if (r.index >= 1 && (size_t)r.index <= nargs)
				add_arg(out, args[r.index - 1], r.edit, &tmp);
			else if (r.index < 0 && (size_t)-r.index <= nargs)
				add_arg(out, args[nargs - (size_t)-r.index],
					r.edit, &tmp);
			break;
		}
	}
	if (!found && nargs) {
		tf_strbuf_addch(out, ' ');
		add_all_args(out, args, nargs, RS_WHOLE, &tmp);
	}
	tf_strbuf_release(&tmp);
	return found;
}

/* Sets the error message (fmt has one %s, for a) and returns err. */
static int tmpl_fail(struct tf_template *t, int err, const char *fmt,
		     const char *a)
{
	snprintf(t->errmsg, sizeof(t->errmsg), fmt, a);
	return err;
}

static void list_add(struct tf_arglist *l, size_t *alloc, const char *s,
		     size_t len)
{
	tf__grow((void **)&l->args, alloc, l->n + 1, sizeof(char *));
	l->args[l->n++] = tf__xstrndup(s, len);
}

/* Reads an argument file: one argument per line, empty lines included,
 * with the job-file reader's limits and error messages. */
static int read_argfile(struct tf_template *t, const char *path,
			struct tf_arglist *l)
{
	struct tf_jobfile jf;
	size_t alloc = 0;
	int r;

	r = tf_jobfile_open(&jf, path);
	if (r < 0) {
		snprintf(t->errmsg, sizeof(t->errmsg), "%s", jf.errmsg);
		return r;
	}
	while ((r = tf_jobfile_next_line(&jf)) > 0)
		list_add(l, &alloc, jf.phys.buf ? jf.phys.buf : "",
			 jf.phys.len);
	if (r < 0)
		snprintf(t->errmsg, sizeof(t->errmsg), "%s", jf.errmsg);
	tf_jobfile_close(&jf);
	if (r == 0 && l->n == 0)
		r = tmpl_fail(t, TF_EPARSE, "%s: argument file is empty",
			      path);
	return r;
}

/* The separators: 1 for ":::", 2 for "::::", negated when linked
 * (":::+", "::::+"); 0 for any other word. */
static int sep_kind(const char *s)
{
	if (strcmp(s, ":::") == 0)
		return 1;
	if (strcmp(s, "::::") == 0)
		return 2;
	if (strcmp(s, ":::+") == 0)
		return -1;
	if (strcmp(s, "::::+") == 0)
		return -2;
	return 0;
}

/*
 * Turns a --colsep REGEX, written for Perl as parallel takes it, into a
 * POSIX extended regular expression: \t \n \r become the characters,
 * \s \S \d \D \w \W the classes, inside brackets too. Every other escape
 * is kept outside brackets and loses its backslash inside them.
 */
static void colsep_to_ere(const char *re, struct tf_strbuf *out)
{
	static const char *const classes[][2] = {
		{ "s", "[:space:]" }, { "d", "0-9" }, { "w", "[:alnum:]_" }
	};
	const char *p;
	int in_bracket = 0;

	for (p = re; *p; p++) {
		const char *cls = NULL;
		int upper;
		size_t i;

		if (!in_bracket && *p == '[') {
			in_bracket = 1;
			tf_strbuf_addch(out, *p);
			if (p[1] == '^')
				tf_strbuf_addch(out, *++p);
			if (p[1] == ']')
				tf_strbuf_addch(out, *++p);
			continue;
		}
		if (in_bracket && *p == '[' && p[1] == ':') {
			const char *end = strstr(p + 2, ":]");
			if (end) {
				tf_strbuf_add(out, p, (size_t)(end + 2 - p));
				p = end + 1;
				continue;
			}
		}
		if (in_bracket && *p == ']') {
			in_bracket = 0;
			tf_strbuf_addch(out, *p);
			continue;
		}
		if (*p != '\\' || !p[1]) {
			tf_strbuf_addch(out, *p);
			continue;
		}
		p++;
		if (*p == 't' || *p == 'n' || *p == 'r') {
			tf_strbuf_addch(out, *p == 't' ? '\t' :
					*p == 'n' ? '\n' : '\r');
			continue;
		}
		upper = *p >= 'A' && *p <= 'Z';
		for (i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
			if (classes[i][0][0] == (upper ? *p - 'A' + 'a' : *p))
				cls = classes[i][1];
		if (cls && in_bracket)
			tf_strbuf_addstr(out, cls); /* \S in [] is not kept */
		else if (cls)
			tf_strbuf_addf(out, "[%s%s]", upper ? "^" : "", cls);
		else if (in_bracket)
			tf_strbuf_addch(out, *p);
		else {
			tf_strbuf_addch(out, '\\');
			tf_strbuf_addch(out, *p);
		}
	}
}

/*
 * Splits s at the matches of re as parallel's split /re/, $line, -1
 * does: empty fields are kept, also at the end; an empty line is one
 * empty field; an empty match at the start of s, or where the last
 * match ended, splits nothing (one at the end does). Appends the fields to *fields
 * (malloc'd strings). Returns how many.
 */
static size_t split_columns(const regex_t *re, const char *s, char ***fields,
			    size_t *n, size_t *alloc)
{
	size_t len = strlen(s), start = 0, from = 0, first = *n;
	long last_end = -1;
	regmatch_t m;

	while (len && from <= len &&
	       regexec(re, s + from, 1, &m, from ? REG_NOTBOL : 0) == 0) {
		size_t ms = from + (size_t)m.rm_so, me = from + (size_t)m.rm_eo;

		if (ms == me && (ms == 0 || (long)ms == last_end)) {
			from = ms + 1;
			continue;
		}
		tf__grow((void **)fields, alloc, *n + 1, sizeof(char *));
		(*fields)[(*n)++] = tf__xstrndup(s + start, ms - start);
		start = me;
		last_end = (long)me;
		from = me;
	}
	tf__grow((void **)fields, alloc, *n + 1, sizeof(char *));
	(*fields)[(*n)++] = tf__xstrndup(s + start, len - start);
	return *n - first;
}

static void free_fields(char **fields, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(fields[i]);
	free(fields);
}

/*
 * Makes sure no combination renders longer than TF_MAX_LINE, so that the
 * error comes before any task starts. A cheap bound settles almost every
 * template; only when it fails is every combination rendered once. A
 * quoted field is at most 4 bytes per byte, 2 for the quotes and 1 for a
 * space; an edited one is no longer than the field, or ".".
 */
static int check_lengths(struct tf_template *t)
{
	struct tf_task task;
	size_t sum = 0, nrep = 1, i, j, bound;
	const char *p;
	int r;

	for (i = 0; i < t->nlists; i++) {
		size_t longest = 0;
		for (j = 0; j < t->lists[i].n; j++) {
			size_t len = 4 * strlen(t->lists[i].args[j]) + 3;
			if (t->has_colsep) {
				char **f = NULL;
				size_t nf = 0, alloc = 0;
				len += 3 * split_columns(&t->colsep,
							 t->lists[i].args[j],
							 &f, &nf, &alloc);
				free_fields(f, nf);
			}
			if (len > longest)
				longest = len;
		}
		sum += longest;
	}
	for (p = t->cmd; *p; p++)
		nrep += *p == '{';
	bound = strlen(t->cmd) + nrep * (sum + 24);
	if (bound <= TF_MAX_LINE)
		return 0;
	while ((r = tf_template_next(t, &task)) > 0)
		tf_task_release(&task);
	memset(t->pos, 0, t->nlists * sizeof(*t->pos));
	t->next_id = 1;
	return r;
}

/* Adds an empty list to t and returns it. */
static struct tf_arglist *new_list(struct tf_template *t, size_t *alloc,
				   int linked)
{
	struct tf_arglist *l;

	tf__grow((void **)&t->lists, alloc, t->nlists + 1, sizeof(*t->lists));
	l = &t->lists[t->nlists];
	memset(l, 0, sizeof(*l));
	l->linked = linked && t->nlists > 0;
	l->leader = l->linked ? t->lists[t->nlists - 1].leader : t->nlists;
	t->nlists++;
	return l;
}

/* Reads the argument sources of argv[a..argc) into t. */
static int read_sources(struct tf_template *t, int a, int argc, char **argv,
			size_t *lists_alloc, size_t first_argv_list)
{
	while (a < argc) {
		int kind = sep_kind(argv[a]);
		int from_files = kind == 2 || kind == -2;
		/* A leading ":::+" links to nothing; -a files are not
		 * linked to either, as in parallel. */
		int linked = kind < 0 && t->nlists > first_argv_list;
		size_t alloc = 0;
		struct tf_arglist *l = NULL;

		a++;
		if (a == argc || sep_kind(argv[a])) {
			return tmpl_fail(t, TF_EINVAL, "nothing after %s",
					 argv[a - 1]);
		}
		for (; a < argc && !sep_kind(argv[a]); a++) {
			int r;

			if (from_files) {
				/* Each file is an input source of its own;
				 * after "::::+" they are all linked. */
				l = new_list(t, lists_alloc, linked);
				r = read_argfile(t, argv[a], l);
				if (r < 0)
					return r;
				continue;
			}
			if (!l)
				l = new_list(t, lists_alloc, linked);
			list_add(l, &alloc, argv[a], strlen(argv[a]));
		}
	}
	return 0;
}

/* Checks every replacement string of t->cmd: a known one must name a
 * source (or a column) there is, an unknown one that looks like one of
 * parallel's is an error; sets t->has_replacement. */
static int check_replacements(struct tf_template *t, size_t nfields)
{
	const char *p;

	for (p = t->cmd; *p; p++) {
		struct rs r;
		size_t n = replacement_at(p, &r);

		if (n) {
			size_t mag = (size_t)(r.index < 0 ? -r.index : r.index);

			t->has_replacement = 1;
			if (r.kind == RS_ARG && (mag == 0 || mag > nfields)) {
				snprintf(t->errmsg, sizeof(t->errmsg),
					 "replacement string %.*s in '%.400s' "
					 "names no %s (there are %s%zu)",
					 (int)n, p, t->cmd,
					 t->has_colsep ? "column" :
							 "input source",
					 t->has_colsep ? "at most " : "",
					 nfields);
				return TF_EINVAL;
			}
			p += n - 1;
			continue;
		}
		/* ${...} is the shell's, whatever it holds. */
		if (p > t->cmd && p[-1] == '$')
			continue;
		n = unknown_at(p);
		if (n && p[1] == '=') {
			snprintf(t->errmsg, sizeof(t->errmsg),
				 "replacement string %.*s in '%.400s': Perl "
				 "expressions are not supported",
				 (int)(n > 80 ? 80 : n), p, t->cmd);
			return TF_EINVAL;
		}
		if (n) {
			snprintf(t->errmsg, sizeof(t->errmsg),
				 "unknown replacement string %.*s in '%.400s' "
				 "(known: {} {.} {/} {//} {/.} {#} {%%}, and "
				 "{N} {N.} {N/} {N//} {N/.} for source N)",
				 (int)(n > 80 ? 80 : n), p, t->cmd);
			return TF_EINVAL;
		}
	}
	return 0;
}

int tf_template_init(struct tf_template *t, int argc, char **argv)
{
	return tf_template_init_with(t, argc, argv, NULL);
}

int tf_template_init_with(struct tf_template *t, int argc, char **argv,
			  const struct tf_template_opts *to)
{
	struct tf_strbuf cmd = TF_STRBUF_INIT;
	size_t lists_alloc = 0, i, nfields = 0;
	int a = 0, ret = 0;

	memset(t, 0, sizeof(*t));
	t->next_id = 1;
	for (; a < argc && !sep_kind(argv[a]); a++) {
		if (cmd.len)
			tf_strbuf_addch(&cmd, ' ');
		tf_strbuf_addstr(&cmd, argv[a]);
	}
	t->cmd = tf_strbuf_detach(&cmd, NULL);
	if (!t->cmd || !*t->cmd) {
		ret = tmpl_fail(t, TF_EINVAL, "%s",
				"no command before ::: (usage: taskfarm -- "
				"CMD ARGS... ::: VALUES...)");
		goto fail;
	}
	if (a == argc && !(to && to->narg_files)) {
		ret = tmpl_fail(t, TF_EINVAL,
				"no ::: or :::: after the command '%.900s'",
				t->cmd);
		goto fail;
	}
	if (to && to->colsep) {
		struct tf_strbuf ere = TF_STRBUF_INIT;
		int r;

		colsep_to_ere(to->colsep, &ere);
		r = regcomp(&t->colsep, ere.buf ? ere.buf : "", REG_EXTENDED);
		tf_strbuf_release(&ere);
		if (r != 0) {
			char why[200];

			regerror(r, &t->colsep, why, sizeof(why));
			snprintf(t->errmsg, sizeof(t->errmsg),
				 "--colsep '%.200s': %s", to->colsep, why);
			ret = TF_EINVAL;
			goto fail;
		}
		t->has_colsep = 1;
	}
	for (i = 0; to && i < to->narg_files; i++) {
		ret = read_argfile(t, to->arg_files[i],
				   new_list(t, &lists_alloc, 0));
		if (ret < 0)
			goto fail;
	}
	ret = read_sources(t, a, argc, argv, &lists_alloc, t->nlists);
	if (ret < 0)
		goto fail;
	t->glen = tf__xcalloc(t->nlists ? t->nlists : 1, sizeof(*t->glen));
	for (i = 0; i < t->nlists; i++) {
		struct tf_arglist *l = &t->lists[i];
		size_t g = l->leader;

		if (!l->linked || l->n < t->glen[g])
			t->glen[g] = l->n;
	}
	t->ntasks = 1;
	for (i = 0; i < t->nlists; i++) {
		if (t->lists[i].linked)
			continue;
		if (t->ntasks > UINT64_MAX / t->glen[i]) {
			ret = tmpl_fail(t, TF_EINVAL, "%s",
					"too many combinations of arguments");
			goto fail;
		}
		t->ntasks *= t->glen[i];
	}
	if (t->has_colsep) {
		for (i = 0; i < t->nlists; i++) {
			struct tf_arglist *l = &t->lists[i];
			size_t j;

			for (j = 0; j < l->n; j++) {
				char **f = NULL;
				size_t nf = 0, alloc = 0;

				split_columns(&t->colsep, l->args[j], &f, &nf,
					      &alloc);
				if (nf > l->maxcols)
					l->maxcols = nf;
				free_fields(f, nf);
			}
			nfields += l->maxcols;
		}
	} else {
		nfields = t->nlists;
	}
	ret = check_replacements(t, nfields);
	if (ret < 0)
		goto fail;
	t->pos = tf__xcalloc(t->nlists ? t->nlists : 1, sizeof(*t->pos));
	/* The fingerprint of a template without links or --colsep is what
	 * it has always been, so older journals still resume. */
	t->fingerprint = tf_hash(TF_HASH_INIT, t->cmd, strlen(t->cmd) + 1);
	for (i = 0; i < t->nlists; i++) {
		size_t j;
		/* A separator between sources, then each argument. */
		t->fingerprint = tf_hash(t->fingerprint,
					 t->lists[i].linked ? ":::+" : ":::",
					 t->lists[i].linked ? 5 : 4);
		for (j = 0; j < t->lists[i].n; j++)
			t->fingerprint = tf_hash(t->fingerprint,
						 t->lists[i].args[j],
						 strlen(t->lists[i].args[j]) + 1);
	}
	if (t->has_colsep)
		t->fingerprint = tf_hash(t->fingerprint, to->colsep,
					 strlen(to->colsep) + 1);
	ret = check_lengths(t);
	if (ret < 0)
		goto fail;
	return 0;

fail:
	tf_strbuf_release(&cmd);
	tf_template_release(t);
	return ret;
}

int tf_template_next(struct tf_template *t, struct tf_task *task)
{
	struct tf_strbuf out = TF_STRBUF_INIT;
	char **args = NULL;
	size_t i, len, nargs = 0, alloc = 0;

	if (t->next_id > t->ntasks)
		return 0;
	for (i = 0; i < t->nlists; i++) {
		const char *arg = t->lists[i].args[t->pos[t->lists[i].leader]];

		if (t->has_colsep) {
			split_columns(&t->colsep, arg, &args, &nargs, &alloc);
			continue;
		}
		tf__grow((void **)&args, &alloc, nargs + 1, sizeof(*args));
		args[nargs++] = (char *)arg;
	}
	tf_template_render(t->cmd, args, nargs, t->next_id, &out);
	if (t->has_colsep)
		free_fields(args, nargs);
	else
		free(args);
	if (out.len > TF_MAX_LINE) {
		snprintf(t->errmsg, sizeof(t->errmsg),
			 "task %llu: command longer than %d bytes (the "
			 "longest command one exec argument holds)",
			 (unsigned long long)t->next_id, TF_MAX_LINE);
		tf_strbuf_release(&out);
		return TF_ETOOLONG;
	}
	memset(task, 0, sizeof(*task));
	task->avoid_rank = -1;
	task->id = t->next_id++;
	task->attempt = 1;
	task->cmd = tf_strbuf_detach(&out, &len);
	task->cmd_len = (uint32_t)len;
	/* Advance the odometer: the last group varies fastest; a linked
	 * list follows its group's leader. */
	for (i = t->nlists; i-- > 0;) {
		if (t->lists[i].linked)
			continue;
		if (++t->pos[i] < t->glen[i])
			break;
		t->pos[i] = 0;
	}
	return 1;
}

void tf_template_release(struct tf_template *t)
{
	size_t i, j;

	for (i = 0; i < t->nlists; i++) {
		for (j = 0; j < t->lists[i].n; j++)
			free(t->lists[i].args[j]);
		free(t->lists[i].args);
	}
	if (t->has_colsep)
		regfree(&t->colsep);
	t->has_colsep = 0;
	free(t->lists);
	free(t->pos);
	free(t->glen);
	free(t->cmd);
	t->lists = NULL;
	t->pos = NULL;
	t->glen = NULL;
	t->cmd = NULL;
	t->nlists = 0;
}
