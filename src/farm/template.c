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

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "taskfarm.h"

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
	ret = tf__template_check_replacements(t, nfields);
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
