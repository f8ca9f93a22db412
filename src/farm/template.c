/*
 * Template mode: a command with replacement strings and argument lists,
 * expanded lazily into the cartesian product of the lists, as GNU
 * parallel's ":::" and "::::" do. Arguments are always shell-quoted, so
 * they reach the command as data and are never run by the shell.
 */
#include "config.h"

#include "farm/jobfile.h"
#include "farm/template.h"

#include <errno.h>
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

/* Recognises a replacement string at s. Returns its length, 0 if none;
 * *kind is '{' for {}, '#', '%', or 'n' with *index set. */
static size_t replacement_at(const char *s, int *kind, size_t *index)
{
	size_t i, v = 0;

	if (s[0] != '{')
		return 0;
	if (s[1] == '}') {
		*kind = '{';
		return 2;
	}
	if ((s[1] == '#' || s[1] == '%') && s[2] == '}') {
		*kind = s[1];
		return 3;
	}
	for (i = 1; s[i] >= '0' && s[i] <= '9' && i < 10; i++)
		v = v * 10 + (size_t)(s[i] - '0');
	if (i > 1 && s[i] == '}') {
		*kind = 'n';
		*index = v;
		return i + 1;
	}
	return 0;
}

static void add_all_args(struct tf_strbuf *out, char *const *args,
			 size_t nargs)
{
	size_t i;

	for (i = 0; i < nargs; i++) {
		if (i)
			tf_strbuf_addch(out, ' ');
		tf_shell_quote(out, args[i]);
	}
}

int tf_template_render(const char *cmd, char *const *args, size_t nargs,
		       uint64_t id, struct tf_strbuf *out)
{
	const char *p = cmd;
	int found = 0;

	while (*p) {
		int kind = 0;
		size_t index = 0, n = replacement_at(p, &kind, &index);

		if (!n) {
			tf_strbuf_addch(out, *p++);
			continue;
		}
		found = 1;
		p += n;
		switch (kind) {
		case '{':
			add_all_args(out, args, nargs);
			break;
		case '#':
			tf_strbuf_addf(out, "%llu", (unsigned long long)id);
			break;
		case '%':
			tf_strbuf_addstr(out, "${TASKFARM_SLOT}");
			break;
		default:
			if (index >= 1 && index <= nargs)
				tf_shell_quote(out, args[index - 1]);
			break;
		}
	}
	if (!found && nargs) {
		tf_strbuf_addch(out, ' ');
		add_all_args(out, args, nargs);
	}
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
	return r;
}

static int is_sep(const char *s)
{
	return strcmp(s, ":::") == 0 || strcmp(s, "::::") == 0;
}

/*
 * Makes sure no combination renders longer than TF_MAX_LINE, so that the
 * error comes before any task starts. A cheap bound settles almost every
 * template; only when it fails is every combination rendered once.
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
			size_t len = strlen(t->lists[i].args[j]);
			if (len > longest)
				longest = len;
		}
		sum += 4 * longest + 3; /* quoting at worst, and a space */
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

int tf_template_init(struct tf_template *t, int argc, char **argv)
{
	struct tf_strbuf cmd = TF_STRBUF_INIT;
	size_t lists_alloc = 0, i, maxref = 0;
	const char *p;
	int a = 0, ret = 0;

	memset(t, 0, sizeof(*t));
	t->next_id = 1;
	for (; a < argc && !is_sep(argv[a]); a++) {
		if (cmd.len)
			tf_strbuf_addch(&cmd, ' ');
		tf_strbuf_addstr(&cmd, argv[a]);
	}
	if (cmd.len == 0) {
		snprintf(t->errmsg, sizeof(t->errmsg), "%s",
			 "no command before ::: (usage: taskfarm -- CMD "
			 "ARGS... ::: VALUES...)");
		ret = TF_EINVAL;
		goto fail;
	}
	if (a == argc) {
		snprintf(t->errmsg, sizeof(t->errmsg),
			 "no ::: or :::: after the command '%s'", cmd.buf);
		ret = TF_EINVAL;
		goto fail;
	}
	while (a < argc) {
		int from_files = strcmp(argv[a], "::::") == 0;
		size_t alloc = 0;

		a++;
		if (a == argc || is_sep(argv[a])) {
			ret = tmpl_fail(t, TF_EINVAL, "nothing after %s",
					from_files ? "::::" : ":::");
			goto fail;
		}
		for (; a < argc && !is_sep(argv[a]); a++) {
			struct tf_arglist *l;

			tf__grow((void **)&t->lists, &lists_alloc,
				 t->nlists + 1, sizeof(*t->lists));
			if (from_files) {
				/* Each file is an input source of its own. */
				l = &t->lists[t->nlists++];
				memset(l, 0, sizeof(*l));
				ret = read_argfile(t, argv[a], l);
				if (ret < 0)
					goto fail;
				if (l->n == 0) {
					ret = tmpl_fail(t, TF_EPARSE,
							"%s: argument file is empty",
							argv[a]);
					goto fail;
				}
				continue;
			}
			if (alloc == 0) {
				l = &t->lists[t->nlists++];
				memset(l, 0, sizeof(*l));
			} else {
				l = &t->lists[t->nlists - 1];
			}
			list_add(l, &alloc, argv[a], strlen(argv[a]));
		}
	}
	t->ntasks = 1;
	for (i = 0; i < t->nlists; i++) {
		if (t->lists[i].n && t->ntasks > UINT64_MAX / t->lists[i].n) {
			snprintf(t->errmsg, sizeof(t->errmsg), "%s",
				 "too many combinations of arguments");
			ret = TF_EINVAL;
			goto fail;
		}
		t->ntasks *= t->lists[i].n;
	}
	for (p = cmd.buf; *p; p++) {
		int kind = 0;
		size_t index = 0;

		if (replacement_at(p, &kind, &index)) {
			t->has_replacement = 1;
			if (kind == 'n' && (index == 0 || index > maxref))
				maxref = index ? index : (size_t)-1;
		}
	}
	if (maxref == (size_t)-1 || maxref > t->nlists) {
		snprintf(t->errmsg, sizeof(t->errmsg),
			 "replacement string {%zu} in '%s' names no input "
			 "source (there are %zu)",
			 maxref == (size_t)-1 ? (size_t)0 : maxref, cmd.buf,
			 t->nlists);
		ret = TF_EINVAL;
		goto fail;
	}
	t->pos = tf__xcalloc(t->nlists ? t->nlists : 1, sizeof(*t->pos));
	t->cmd = tf_strbuf_detach(&cmd, NULL);
	t->fingerprint = tf_hash(TF_HASH_INIT, t->cmd, strlen(t->cmd) + 1);
	for (i = 0; i < t->nlists; i++) {
		size_t j;
		/* A separator between sources, then each argument. */
		t->fingerprint = tf_hash(t->fingerprint, ":::", 4);
		for (j = 0; j < t->lists[i].n; j++)
			t->fingerprint = tf_hash(t->fingerprint,
						 t->lists[i].args[j],
						 strlen(t->lists[i].args[j]) + 1);
	}
	ret = check_lengths(t);
	if (ret < 0) {
		tf_template_release(t);
		return ret;
	}
	return 0;

fail:
	tf_strbuf_release(&cmd);
	tf_template_release(t);
	return ret;
}

int tf_template_next(struct tf_template *t, struct tf_task *task)
{
	struct tf_strbuf out = TF_STRBUF_INIT;
	char **args;
	size_t i, len;

	if (t->next_id > t->ntasks)
		return 0;
	args = tf__xmalloc((t->nlists ? t->nlists : 1) * sizeof(*args));
	for (i = 0; i < t->nlists; i++)
		args[i] = t->lists[i].args[t->pos[i]];
	tf_template_render(t->cmd, args, t->nlists, t->next_id, &out);
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
	/* Advance the odometer: the last source varies fastest. */
	for (i = t->nlists; i-- > 0;) {
		if (++t->pos[i] < t->lists[i].n)
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
	free(t->lists);
	free(t->pos);
	free(t->cmd);
	t->lists = NULL;
	t->pos = NULL;
	t->cmd = NULL;
	t->nlists = 0;
}
