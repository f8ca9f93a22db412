/*
 * libFuzzer target for the job-file reader and the template's argument
 * files. Each input is written to one file in a per-process temporary
 * directory (tf_jobfile_open() takes a path), read as a job file twice
 * (the validating scan, then the task stream) and once as an argument
 * file, and every property the format promises is checked: the scan
 * counts exactly the tasks the second pass yields, ids are start lines
 * that strictly increase, a command never holds a newline or a NUL nor
 * ends in an odd number of backslashes, every error message names the
 * file, and every argument comes back unchanged through the shell
 * quoting. The input is also a template command (replacement strings
 * checked, :::+ linking) and a value split by --colsep. A broken promise
 * aborts, which libFuzzer reports as a crash.
 * Built and run by tools/fuzz.sh.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "farm/directive.h"
#include "farm/jobfile.h"
#include "farm/template.h"
#include "taskfarm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond, ...)                                                   \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_jobfile: %s:%d: %s: ",         \
				__FILE__, __LINE__, #cond);                  \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
			abort();                                             \
		}                                                            \
	} while (0)

static char dir[4096];
static char path[4200];

static void remove_temp(void)
{
	unlink(path);
	rmdir(dir);
}

/* Creates the temporary directory once; every input reuses its file. */
static void setup(void)
{
	const char *base = getenv("TMPDIR");

	if (dir[0])
		return;
	snprintf(dir, sizeof(dir), "%s/tffuzz-XXXXXX",
		 base && *base ? base : "/tmp");
	if (!mkdtemp(dir)) {
		perror("fuzz_jobfile: mkdtemp");
		abort();
	}
	snprintf(path, sizeof(path), "%s/jobs.tasks", dir);
	atexit(remove_temp);
}

static void write_input(const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t done = 0;

	if (fd < 0) {
		perror("fuzz_jobfile: open");
		abort();
	}
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			perror("fuzz_jobfile: write");
			abort();
		}
		done += (size_t)n;
	}
	if (close(fd) < 0) {
		perror("fuzz_jobfile: close");
		abort();
	}
}

/* Whether msg is "PATH:..." for the fuzzed file. */
static int names_file(const char *msg)
{
	size_t n = strlen(path);

	return strncmp(msg, path, n) == 0 && msg[n] == ':';
}

static size_t count_lines(const uint8_t *data, size_t size)
{
	size_t i, n = 0;

	for (i = 0; i < size; i++)
		n += data[i] == '\n';
	return n + (size && data[size - 1] != '\n');
}

static void check_task(const struct tf_task *t, uint64_t prev_id,
		       size_t nlines)
{
	size_t trailing = 0;

	REQUIRE(t->cmd != NULL, "task %llu has no command",
		(unsigned long long)t->id);
	REQUIRE(t->id > prev_id, "id %llu after %llu",
		(unsigned long long)t->id, (unsigned long long)prev_id);
	REQUIRE(t->id >= 1 && t->id <= nlines, "id %llu, %zu lines",
		(unsigned long long)t->id, nlines);
	REQUIRE(t->attempt == 1, "attempt %u", t->attempt);
	/* What directives set: within their ranges, and at most a barrier
	 * per line before the task. */
	REQUIRE(t->slots <= TF_DIRECTIVE_MAX && t->gpus <= TF_DIRECTIVE_MAX &&
			(t->gpus_given || t->gpus == 0),
		"task %llu: slots %u, gpus %u (%u)", (unsigned long long)t->id,
		t->slots, t->gpus, t->gpus_given);
	REQUIRE(t->barrier < t->id, "task %llu after %llu barriers",
		(unsigned long long)t->id, (unsigned long long)t->barrier);
	REQUIRE(t->cmd[t->cmd_len] == '\0', "command not terminated");
	REQUIRE(strlen(t->cmd) == t->cmd_len, "NUL inside task %llu",
		(unsigned long long)t->id);
	REQUIRE(!memchr(t->cmd, '\n', t->cmd_len), "newline in task %llu",
		(unsigned long long)t->id);
	REQUIRE(t->cmd_len <= TF_MAX_LINE, "task %llu too long",
		(unsigned long long)t->id);
	while (trailing < t->cmd_len &&
	       t->cmd[t->cmd_len - 1 - trailing] == '\\')
		trailing++;
	REQUIRE(trailing % 2 == 0, "task %llu ends in %zu backslashes",
		(unsigned long long)t->id, trailing);
}

/* Reads the file as a job file: scan, then stream, and compare. */
static void fuzz_jobfile(size_t nlines)
{
	struct tf_jobfile jf;
	struct tf_task t;
	uint64_t count = 0, prev_id = 0;
	int r, scan;

	r = tf_jobfile_open(&jf, path);
	REQUIRE(r == 0, "open: %s", jf.errmsg);
	scan = tf_jobfile_scan(&jf);
	if (scan < 0) {
		char first[TF_ERRMSG_MAX];

		REQUIRE(scan == TF_EPARSE || scan == TF_ETOOLONG,
			"scan returned %d (%s)", scan, jf.errmsg);
		REQUIRE(names_file(jf.errmsg), "scan error '%s'", jf.errmsg);
		memcpy(first, jf.errmsg, sizeof(first));
		tf_jobfile_close(&jf);
		/* A fresh stream must stop at the same error. */
		r = tf_jobfile_open(&jf, path);
		REQUIRE(r == 0, "reopen: %s", jf.errmsg);
		while ((r = tf_jobfile_next(&jf, &t)) > 0) {
			check_task(&t, prev_id, nlines);
			prev_id = t.id;
			tf_task_release(&t);
		}
		REQUIRE(r == scan, "stream returned %d, scan %d", r, scan);
		REQUIRE(strcmp(jf.errmsg, first) == 0,
			"stream error '%s', scan error '%s'", jf.errmsg,
			first);
		tf_jobfile_close(&jf);
		return;
	}
	while ((r = tf_jobfile_next(&jf, &t)) > 0) {
		check_task(&t, prev_id, nlines);
		prev_id = t.id;
		count++;
		tf_task_release(&t);
	}
	REQUIRE(r == 0, "scan passed but the stream failed: %d (%s)", r,
		jf.errmsg);
	REQUIRE(count == jf.ntasks, "scan counted %llu, stream gave %llu",
		(unsigned long long)jf.ntasks, (unsigned long long)count);
	/* At the end, it stays at the end. */
	REQUIRE(tf_jobfile_next(&jf, &t) == 0, "read past the end");
	tf_jobfile_close(&jf);
}

/*
 * Undoes tf_shell_quote() as /bin/sh would: unquoted characters must be
 * safe ones, '...' is literal, \' is a quote. Returns 0 if q is not what
 * tf_shell_quote() could have produced.
 */
static int shell_unquote(const char *q, size_t len, struct tf_strbuf *out)
{
	size_t i = 0;

	while (i < len) {
		char c = q[i];

		if (c == '\'') {
			const char *end = memchr(q + i + 1, '\'', len - i - 1);
			if (!end)
				return 0;
			tf_strbuf_add(out, q + i + 1,
				      (size_t)(end - (q + i + 1)));
			i = (size_t)(end - q) + 1;
		} else if (c == '\\' && i + 1 < len && q[i + 1] == '\'') {
			tf_strbuf_addch(out, '\'');
			i += 2;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') ||
			   (c && strchr("_@%+=:,./-", c))) {
			tf_strbuf_addch(out, c);
			i++;
		} else {
			return 0;
		}
	}
	return 1;
}

/* Reads the file as a template's argument file: echo {} :::: FILE. */
static void fuzz_argfile(void)
{
	char *argv[] = { "echo", "{}", "::::", path, NULL };
	struct tf_template t;
	struct tf_jobfile jf;
	struct tf_strbuf arg = TF_STRBUF_INIT;
	struct tf_task task;
	uint64_t n = 0;
	int r;

	r = tf_template_init(&t, 4, argv);
	if (r < 0) {
		REQUIRE(r == TF_EPARSE || r == TF_ETOOLONG,
			"template returned %d (%s)", r, t.errmsg);
		REQUIRE(names_file(t.errmsg), "template error '%s'", t.errmsg);
		return;
	}
	REQUIRE(t.nlists == 1, "%zu lists", t.nlists);
	REQUIRE(t.ntasks == t.lists[0].n, "%llu tasks for %zu arguments",
		(unsigned long long)t.ntasks, t.lists[0].n);
	/* The arguments are the physical lines, read independently. */
	r = tf_jobfile_open(&jf, path);
	REQUIRE(r == 0, "open: %s", jf.errmsg);
	while ((r = tf_template_next(&t, &task)) > 0) {
		struct tf_strbuf unq = TF_STRBUF_INIT;

		n++;
		REQUIRE(task.id == n, "template id %llu, expected %llu",
			(unsigned long long)task.id, (unsigned long long)n);
		REQUIRE(tf_jobfile_next_line(&jf) == 1, "fewer lines (%s)",
			jf.errmsg);
		tf_strbuf_reset(&arg);
		tf_strbuf_add(&arg, jf.phys.buf ? jf.phys.buf : "",
			      jf.phys.len);
		REQUIRE(strlen(task.cmd) == task.cmd_len, "NUL in task %llu",
			(unsigned long long)n);
		REQUIRE(strncmp(task.cmd, "echo ", 5) == 0, "task '%s'",
			task.cmd);
		REQUIRE(shell_unquote(task.cmd + 5, task.cmd_len - 5, &unq),
			"task %llu is not quoted: '%s'",
			(unsigned long long)n, task.cmd);
		REQUIRE(unq.len == arg.len &&
				memcmp(unq.buf ? unq.buf : "",
				       arg.buf ? arg.buf : "", arg.len) == 0,
			"task %llu: argument '%s' came back as '%s'",
			(unsigned long long)n, arg.buf ? arg.buf : "",
			unq.buf ? unq.buf : "");
		tf_strbuf_release(&unq);
		tf_task_release(&task);
	}
	REQUIRE(r == 0, "template stream failed: %d (%s)", r, t.errmsg);
	REQUIRE(n == t.ntasks, "%llu tasks, expected %llu",
		(unsigned long long)n, (unsigned long long)t.ntasks);
	REQUIRE(tf_jobfile_next_line(&jf) == 0, "more lines than arguments");
	tf_jobfile_close(&jf);
	tf_strbuf_release(&arg);
	tf_template_release(&t);
}

/* Renders the input as a template command with two arguments. */
static void fuzz_render(const uint8_t *data, size_t size)
{
	char *cmd = tf__xstrndup((const char *)data, size);
	char *args[] = { "a b", "it's" };
	struct tf_strbuf out = TF_STRBUF_INIT;

	tf_template_render(cmd, args, 2, 42, &out);
	REQUIRE(out.len == 0 || out.buf[out.len] == '\0', "unterminated");
	tf_strbuf_release(&out);
	free(cmd);
}

/* The input as a template command (its replacement strings checked),
 * and as a value split by --colsep separators that can match nothing. */
static void fuzz_template(const uint8_t *data, size_t size)
{
	char *in = tf__xstrndup((const char *)data, size);
	char *as_cmd[] = { in, ":::", "a.b/c d", "", ":::+", "x,y", "z" };
	char *as_arg[] = { "echo", "{}", "{-1}", "{1/.}", ":::", in, "::::",
			   "/dev/null", ":::+", "q" };
	struct tf_template_opts colsep = { NULL, 0, "[,;]+|x*" };
	struct tf_template t;
	struct tf_task task;
	int r;

	r = tf_template_init(&t, 7, as_cmd);
	if (r == 0) {
		REQUIRE(t.ntasks == 2, "%llu linked tasks",
			(unsigned long long)t.ntasks);
		while ((r = tf_template_next(&t, &task)) > 0) {
			REQUIRE(strlen(task.cmd) == task.cmd_len, "NUL in task");
			tf_task_release(&task);
		}
		REQUIRE(r == 0, "template stream failed: %d (%s)", r,
			t.errmsg);
		tf_template_release(&t);
	} else {
		REQUIRE(r == TF_EINVAL || r == TF_ETOOLONG, "init %d (%s)", r,
			t.errmsg);
	}
	/* An input that is itself a separator word (":::", "::::+") is
	 * taken as one, as GNU parallel does: the arguments below are then
	 * another command line, checked above in the command's place. */
	if (strcmp(in, ":::") == 0 || strcmp(in, "::::") == 0 ||
	    strcmp(in, ":::+") == 0 || strcmp(in, "::::+") == 0) {
		free(in);
		return;
	}
	/* /dev/null is an empty argument file: an error, then the same
	 * without it. */
	r = tf_template_init_with(&t, 10, as_arg, &colsep);
	REQUIRE(r == TF_EPARSE, "empty argument file: %d (%s)", r, t.errmsg);
	r = tf_template_init_with(&t, 6, as_arg, &colsep);
	REQUIRE(r == 0 || r == TF_ETOOLONG, "colsep init %d (%s)", r,
		t.errmsg);
	if (r == 0) {
		REQUIRE(tf_template_next(&t, &task) == 1, "%s", t.errmsg);
		tf_task_release(&task);
		tf_template_release(&t);
	}
	free(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t nlines = count_lines(data, size);

	setup();
	write_input(data, size);
	fuzz_jobfile(nlines);
	fuzz_argfile();
	fuzz_render(data, size);
	fuzz_template(data, size);
	return 0;
}
