/*
 * libFuzzer target for the wire decoders and the journal's escaping. The
 * input goes to every decoder (a message from another rank is untrusted
 * bytes); whatever decodes is encoded again and must decode to the same
 * values, and the re-encoding must be stable. The journal's unescape
 * gets the input too, and escape followed by unescape must give back any
 * bytes unchanged. A broken promise aborts, which libFuzzer reports as a
 * crash. Built and run by tools/fuzz.sh, which also calls this program
 * with TF_FUZZ_SEEDS=DIR to write a seed corpus of well-formed messages
 * made by the real encoders.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "farm/journal.h"
#include "pool/wire.h"
#include "taskfarm.h"
#include "farm/wire.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond, ...)                                                   \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_wire: %s:%d: %s: ",            \
				__FILE__, __LINE__, #cond);                  \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
			abort();                                             \
		}                                                            \
	} while (0)

static int same_bytes(const void *a, size_t alen, const void *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* Doubles compare by their bits, so that a NaN equals itself. */
static int same_double(double a, double b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

static void fuzz_hello(const uint8_t *data, size_t size)
{
	struct tf_hello h, h2;
	struct tf_strbuf out = TF_STRBUF_INIT;

	if (tf_wire_unpack_hello(data, size, &h) < 0)
		return;
	REQUIRE(memchr(h.host, '\0', sizeof(h.host)), "host not terminated");
	tf_wire_pack_hello(&out, &h);
	/* A host with a NUL inside is cut there; otherwise bytes match. */
	if (strlen(h.host) + 36 == size)
		REQUIRE(same_bytes(out.buf, out.len, data, size),
			"hello re-encodes differently");
	REQUIRE(tf_wire_unpack_hello(out.buf, out.len, &h2) == 0,
		"re-encoded hello refused");
	REQUIRE(h.slots == h2.slots && h.gpus == h2.gpus && h.pid == h2.pid &&
			h.pid_space == h2.pid_space &&
			h.want_total == h2.want_total &&
			strcmp(h.host, h2.host) == 0,
		"hello changed in a round trip");
	tf_strbuf_release(&out);
}

static void free_tasks(struct tf_task *tasks, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		tf_task_release(&tasks[i]);
	free(tasks);
}

static void fuzz_tasks(const uint8_t *data, size_t size)
{
	struct tf_task *tasks = NULL, *again = NULL;
	struct tf_strbuf out = TF_STRBUF_INIT;
	uint64_t ntasks, ntasks2;
	size_t n = 0, n2 = 0, i;

	if (tf_wire_unpack_tasks(data, size, &ntasks, &tasks, &n) < 0)
		return;
	REQUIRE(tasks != NULL, "no array for %zu tasks", n);
	for (i = 0; i < n; i++) {
		REQUIRE(tasks[i].cmd && tasks[i].cmd[tasks[i].cmd_len] == '\0',
			"task %zu not terminated", i);
		REQUIRE(tasks[i].timeout >= 0, "task %zu: timeout %g", i,
			tasks[i].timeout);
	}
	/* The encoding has no slack: re-encoding gives the input back. */
	tf_wire_pack_tasks(&out, ntasks, tasks, n);
	REQUIRE(same_bytes(out.buf, out.len, data, size),
		"TASKS re-encodes to %zu bytes, not the %zu decoded", out.len,
		size);
	REQUIRE(tf_wire_unpack_tasks(out.buf, out.len, &ntasks2, &again,
				     &n2) == 0,
		"re-encoded TASKS refused");
	REQUIRE(ntasks2 == ntasks && n2 == n, "TASKS header changed");
	for (i = 0; i < n; i++)
		REQUIRE(again[i].id == tasks[i].id &&
				again[i].attempt == tasks[i].attempt &&
				same_double(again[i].timeout,
					    tasks[i].timeout) &&
				same_bytes(again[i].cmd, again[i].cmd_len,
					   tasks[i].cmd, tasks[i].cmd_len),
			"task %zu changed in a round trip", i);
	free_tasks(again, n2);
	free_tasks(tasks, n);
	tf_strbuf_release(&out);
}

static void free_results(struct tf_result *results, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		tf_result_release(&results[i]);
	free(results);
}

/* Whether two captured outputs hold the same bytes. */
static int same_output(const struct tf_output *a, const struct tf_output *b)
{
	char *abuf, *bbuf;
	int same;

	if (a->len != b->len)
		return 0;
	if (a->len == 0)
		return 1;
	abuf = tf__xmalloc((size_t)a->len);
	bbuf = tf__xmalloc((size_t)b->len);
	REQUIRE(tf_output_pread(a, abuf, (size_t)a->len, 0) == (long)a->len,
		"short read");
	REQUIRE(tf_output_pread(b, bbuf, (size_t)b->len, 0) == (long)b->len,
		"short read");
	same = memcmp(abuf, bbuf, (size_t)a->len) == 0;
	free(abuf);
	free(bbuf);
	return same;
}

static void encode_results(struct tf_strbuf *out, uint64_t want,
			   const struct tf_result *results, size_t n)
{
	size_t i;

	tf_wire_results_begin(out);
	for (i = 0; i < n; i++)
		tf_wire_results_add(out, &results[i]);
	tf_wire_results_end(out, (uint32_t)n, want);
}

static void fuzz_results(const uint8_t *data, size_t size)
{
	struct tf_result *res = NULL, *again = NULL, *third = NULL;
	struct tf_strbuf out = TF_STRBUF_INIT, out2 = TF_STRBUF_INIT;
	uint64_t want, want2, want3;
	size_t n = 0, n2 = 0, n3 = 0, i;

	if (tf_wire_unpack_results(data, size, &want, &res, &n) < 0)
		return;
	REQUIRE(res != NULL, "no array for %zu results", n);
	encode_results(&out, want, res, n);
	REQUIRE(tf_wire_unpack_results(out.buf, out.len, &want2, &again,
				       &n2) == 0,
		"re-encoded RESULTS refused");
	REQUIRE(want2 == want && n2 == n, "RESULTS header changed");
	for (i = 0; i < n; i++) {
		const struct tf_result *a = &res[i], *b = &again[i];

		REQUIRE(a->id == b->id && a->attempt == b->attempt &&
				a->slot == b->slot && a->status == b->status &&
				a->exitval == b->exitval &&
				a->signal == b->signal &&
				a->maxrss_kb == b->maxrss_kb &&
				same_double(a->start, b->start) &&
				same_double(a->runtime, b->runtime) &&
				same_double(a->utime, b->utime) &&
				same_double(a->stime, b->stime),
			"result %zu changed in a round trip", i);
		/* Streamed totals are not output this side holds, so a
		 * re-encoding carries the (empty) output inline instead. */
		if (!a->streamed)
			REQUIRE(!b->streamed && same_output(&a->out, &b->out) &&
					same_output(&a->err, &b->err),
				"result %zu output changed in a round trip",
				i);
	}
	/* Once re-encoded, the encoding is a fixed point. */
	encode_results(&out2, want2, again, n2);
	REQUIRE(same_bytes(out.buf, out.len, out2.buf, out2.len),
		"RESULTS encoding is not stable");
	REQUIRE(tf_wire_unpack_results(out2.buf, out2.len, &want3, &third,
				       &n3) == 0,
		"second re-encoding refused");
	free_results(third, n3);
	free_results(again, n2);
	free_results(res, n);
	tf_strbuf_release(&out);
	tf_strbuf_release(&out2);
}

static void fuzz_output(const uint8_t *data, size_t size)
{
	struct tf_strbuf out = TF_STRBUF_INIT;
	const void *chunk;
	size_t chunk_len;
	uint64_t id;
	uint32_t attempt;
	int stream, slot;

	if (tf_wire_unpack_output(data, size, &id, &attempt, &stream, &slot,
				  &chunk, &chunk_len) < 0)
		return;
	REQUIRE(stream >= 1 && stream <= TF_WIRE_LINES_ERR, "stream %d",
		stream);
	REQUIRE(slot >= 0 && (stream >= TF_WIRE_LINES_OUT || slot == 0),
		"slot %d with stream %d", slot, stream);
	REQUIRE((const uint8_t *)chunk >= data &&
			(const uint8_t *)chunk + chunk_len == data + size,
		"chunk outside the message");
	if (stream >= TF_WIRE_LINES_OUT)
		tf_wire_pack_lines(&out, id, attempt,
				   stream - TF_WIRE_LINES_OUT, slot, chunk,
				   chunk_len);
	else
		tf_wire_pack_output(&out, id, attempt, stream, chunk,
				    chunk_len);
	REQUIRE(same_bytes(out.buf, out.len, data, size),
		"OUTPUT re-encodes differently");
	tf_strbuf_release(&out);
}

static void fuzz_control(const uint8_t *data, size_t size)
{
	struct tf_strbuf out = TF_STRBUF_INIT;
	uint32_t code;
	double arg;

	if (tf_wire_unpack_control(data, size, &code, &arg) < 0)
		return;
	REQUIRE(arg == arg, "NaN argument accepted");
	tf_wire_pack_control(&out, code, arg);
	REQUIRE(same_bytes(out.buf, out.len, data, size),
		"CONTROL re-encodes differently");
	tf_strbuf_release(&out);
}

static void fuzz_journal(const uint8_t *data, size_t size)
{
	struct tf_strbuf esc = TF_STRBUF_INIT, unesc = TF_STRBUF_INIT;
	struct tf_strbuf again = TF_STRBUF_INIT;
	const char *s = (const char *)data;

	/* Any bytes survive escape then unescape, and the escaped form
	 * holds none of the characters that would break a TSV line. */
	tf_journal_escape(&esc, s, size);
	REQUIRE(!memchr(esc.buf ? esc.buf : "", '\t', esc.len) &&
			!memchr(esc.buf ? esc.buf : "", '\n', esc.len) &&
			!memchr(esc.buf ? esc.buf : "", '\r', esc.len) &&
			!memchr(esc.buf ? esc.buf : "", '\0', esc.len),
		"escaped text holds a separator");
	REQUIRE(tf_journal_unescape(&unesc, esc.buf ? esc.buf : "",
				    esc.len) == 0,
		"escaped text refused");
	REQUIRE(same_bytes(unesc.buf, unesc.len, data, size),
		"escape/unescape changed the bytes");
	tf_strbuf_release(&esc);
	tf_strbuf_release(&unesc);

	/* The input as a journal field: if it unescapes and holds no raw
	 * separator, escaping it again gives it back. */
	if (tf_journal_unescape(&unesc, s, size) == 0) {
		tf_journal_escape(&again, unesc.buf ? unesc.buf : "",
				  unesc.len);
		if (!memchr(s, '\t', size) && !memchr(s, '\n', size) &&
		    !memchr(s, '\r', size) && !memchr(s, '\0', size))
			REQUIRE(same_bytes(again.buf, again.len, data, size),
				"unescape/escape changed the text");
	}
	tf_strbuf_release(&unesc);
	tf_strbuf_release(&again);
}

/* The C API's pool messages: whatever decodes must walk to its end
 * without reading outside the buffer (ASan watches), and the records a
 * decoder validated must all be there when walked again. */
static void fuzz_pool(const uint8_t *data, size_t size)
{
	struct tf_ptasks t;
	struct tf_presults r;
	struct tf_pident who;
	char **names;
	size_t n, i;
	int32_t status;
	const void *d;
	size_t len;

	if (tf_pwire_tasks_decode(data, size, &t) == 0 &&
	    t.in_size == TF_POOL_VARSIZE) {
		size_t off = 0;

		for (i = 0; i < t.count; i++)
			REQUIRE(tf_pwire_tasks_next(&t, &off, &d, &len),
				"validated input %zu missing", i);
		REQUIRE(off == t.data_len, "inputs end early");
	}
	if (tf_pwire_results_decode(data, size, &r) == 0) {
		struct tf_precord rec;
		size_t off = 0;

		/* Compact and uniform records are computed, not walked,
		 * and a count may be billions: look at a few, and the last. */
		size_t walk = r.form != TF_PWIRE_RECORDS && r.count > 4
				      ? 4
				      : r.count;

		for (i = 0; i < walk; i++)
			REQUIRE(tf_pwire_results_record(&r, &off, (uint32_t)i,
							&rec),
				"validated record %zu missing", i);
		if (r.form == TF_PWIRE_COMPACT) {
			REQUIRE(tf_pwire_results_record(&r, &off, r.count - 1,
							&rec),
				"the last compact result missing");
			REQUIRE((const uint8_t *)rec.result + rec.len <=
					data + size,
				"a compact result past the end");
		}
		REQUIRE(r.form != TF_PWIRE_RECORDS || off == r.data_len,
			"records end early");
		REQUIRE(!tf_pwire_results_record(&r, &off, r.count, &rec),
			"a record past the end");
	}
	if (tf_pwire_unpack_hello(data, size, &who, &names, &n) == 0) {
		for (i = 0; i < n; i++)
			free(names[i]);
		free(names);
	}
	(void)tf_pwire_unpack_start(data, size, &who, &status, &d, &len);
	(void)tf_pwire_unpack_status(data, size, &status, &d, &len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_pool(data, size);
	fuzz_hello(data, size);
	fuzz_tasks(data, size);
	fuzz_results(data, size);
	fuzz_output(data, size);
	fuzz_control(data, size);
	fuzz_journal(data, size);
	return 0;
}

/* Seed corpus: well-formed messages of every kind. */

static void write_seed(const char *dir, const char *name,
		       const struct tf_strbuf *sb)
{
	char path[4096];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "wb");
	if (!fp || fwrite(sb->buf, 1, sb->len, fp) != sb->len ||
	    fclose(fp) != 0) {
		fprintf(stderr, "fuzz_wire: cannot write %s: %s\n", path,
			strerror(errno));
		exit(1);
	}
}

static void write_seeds(const char *dir)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	struct tf_hello h = { 4, 2, 1234, 0x1234abcd, 100, "node01" };
	struct tf_task tasks[3] = {
		{ .id = 1, .attempt = 1, .cmd_len = 10, .cmd = "echo hello" },
		{ .id = 7, .attempt = 2, .cmd_len = 0, .cmd = "", .timeout = 30 },
		{ .id = 12, .attempt = 1, .cmd_len = 13,
		  .cmd = "printf 'a\\tb'", .timeout = 0.5 },
	};
	struct tf_result r;

	tf_wire_pack_hello(&sb, &h);
	write_seed(dir, "hello", &sb);
	tf_strbuf_reset(&sb);
	tf_wire_pack_tasks(&sb, 40, tasks, 3);
	write_seed(dir, "tasks", &sb);
	tf_strbuf_reset(&sb);
	tf_wire_pack_tasks(&sb, 0, tasks, 0);
	write_seed(dir, "tasks-empty", &sb);
	tf_strbuf_reset(&sb);

	tf_result_init(&r);
	r.id = 3;
	r.attempt = 1;
	r.slot = 2;
	r.status = TF_STATUS_FAILED;
	r.exitval = 1;
	r.start = 1700000000.25;
	r.runtime = 1.5;
	r.maxrss_kb = 2048;
	r.utime = 0.5;
	r.stime = 0.25;
	tf_output_append(&r.out, "out\n", 4, SIZE_MAX);
	tf_output_append(&r.err, "err\n", 4, SIZE_MAX);
	tf_wire_results_begin(&sb);
	tf_wire_results_add(&sb, &r);
	tf_wire_results_add(&sb, &r);
	tf_wire_results_end(&sb, 2, 9);
	write_seed(dir, "results", &sb);
	tf_strbuf_reset(&sb);
	/* A streamed result: announced totals, no bytes. */
	sb.len = 0;
	tf_wire_results_begin(&sb);
	tf_wire_results_add(&sb, &r);
	sb.buf[sb.len - 4 - 4 - 1] = 0; /* the inline flag */
	sb.len -= 8;
	sb.buf[sb.len] = '\0';
	tf_wire_results_end(&sb, 1, 9);
	write_seed(dir, "results-streamed", &sb);
	tf_strbuf_reset(&sb);
	tf_result_release(&r);

	tf_wire_pack_output(&sb, 3, 1, 1, "chunk of output\n", 16);
	write_seed(dir, "output", &sb);
	tf_strbuf_reset(&sb);
	tf_wire_pack_lines(&sb, 4, 2, 1, 3, "a line\n", 7);
	write_seed(dir, "output-lines", &sb);
	tf_strbuf_reset(&sb);
	tf_wire_pack_control(&sb, TF_CTL_DRAIN, 5.0);
	write_seed(dir, "control", &sb);
	tf_strbuf_reset(&sb);
	tf_strbuf_addstr(&sb, "echo a\\tb\\\\c\\n\\0");
	write_seed(dir, "journal", &sb);
	tf_strbuf_reset(&sb);
	{
		struct tf_ptasks t = { 1, 0, 2, 0, TF_POOL_VARSIZE, 8, NULL, 0, 0 };
		struct tf_presults r = { 1, 0, 2, 0, TF_POOL_VARSIZE, 0.5,
					 NULL, 0 };
		const char *names[] = { "square", "sweep" };
		struct tf_pident who = { 4242, 77 };

		tf_pwire_tasks_begin(&sb, &t);
		tf_pwire_add_var(&sb, "abc", 3);
		tf_pwire_add_var(&sb, "", 0);
		write_seed(dir, "pool-tasks", &sb);
		tf_strbuf_reset(&sb);
		tf_strbuf_grow(&sb, TF_PWIRE_RESULTS_HDR);
		sb.len = TF_PWIRE_RESULTS_HDR;
		tf_pwire_add_record(&sb, 0, "12345678", 8, NULL, 0);
		tf_pwire_add_record(&sb, 3, NULL, 0, "failed", 6);
		tf_pwire_results_header(&sb, &r);
		write_seed(dir, "pool-results", &sb);
		tf_strbuf_reset(&sb);
		tf_pwire_pack_hello(&sb, &who, names, 2);
		write_seed(dir, "pool-names", &sb);
		tf_strbuf_reset(&sb);
		tf_pwire_pack_start(&sb, &who, 0, "init", 4);
		write_seed(dir, "pool-start", &sb);
		tf_strbuf_reset(&sb);
		tf_pwire_results_uniform(&sb, &r, TF_ELOST, "lost", 4);
		write_seed(dir, "pool-results-lost", &sb);
		tf_strbuf_reset(&sb);
	}
	tf_strbuf_release(&sb);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("TF_FUZZ_SEEDS");

	(void)argc;
	(void)argv;
	if (dir && *dir) {
		write_seeds(dir);
		exit(0);
	}
	return 0;
}
