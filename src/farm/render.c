/*
 * Template mode's replacement strings (template.h): GNU parallel's
 * (20221122, without --plus) found in a command, checked against the
 * sources, and rendered with their edits and shell quoting.
 */
#include "config.h"

#include "farm/template.h"

#include <ctype.h>
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

/* Checks every replacement string of t->cmd: a known one must name a
 * source (or a column) there is, an unknown one that looks like one of
 * parallel's is an error; sets t->has_replacement. */
int tf__template_check_replacements(struct tf_template *t, size_t nfields)
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
