/*
 * Tests of the wire encoding between ranks: every message type survives a
 * round trip, large output is announced rather than carried inline, and
 * every malformed buffer (each truncation of a valid one, trailing bytes,
 * absurd counts and lengths) is refused with TF_EPROTO. Buffers handed to
 * the decoders are copied to blocks of exactly their length, so under
 * valgrind any read past the end is reported.
 */
#include "config.h"

#include "check_util.h"

#include <math.h>

#include <limits.h>
#include <stdint.h>

#include "taskfarm.h"
#include "farm/wire.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Offsets inside a RESULTS batch, as laid out by tf_wire_results_add(). */
#define RESULTS_HEADER 12
#define RESULT_FIXED 85
#define RESULT_OUT_LEN (RESULTS_HEADER + 68)
#define RESULT_ERR_LEN (RESULTS_HEADER + 76)

/* A heap copy of the first n bytes, in a block of exactly n bytes. */
static void *copy_prefix(const void *buf, size_t n)
{
	void *p = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(p);
	memcpy(p, buf, n);
	return p;
}

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
	int i;

	for (i = 0; i < bytes; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* Decoders with one signature, releasing whatever a success allocated, so
 * that the malformed-input tests can treat every message type alike. */
typedef int (*decode_fn)(const void *buf, size_t len);

static int decode_hello(const void *buf, size_t len)
{
	struct tf_hello h;

	return tf_wire_unpack_hello(buf, len, &h);
}

static int decode_tasks(const void *buf, size_t len)
{
	struct tf_task *tasks = NULL;
	uint64_t ntasks;
	size_t n = 0, i;
	int r = tf_wire_unpack_tasks(buf, len, &ntasks, &tasks, &n);

	if (r == 0) {
		for (i = 0; i < n; i++)
			tf_task_release(&tasks[i]);
		free(tasks);
	}
	return r;
}

static int decode_results(const void *buf, size_t len)
{
	struct tf_result *rs = NULL;
	uint64_t want;
	size_t n = 0, i;
	int r = tf_wire_unpack_results(buf, len, &want, &rs, &n);

	if (r == 0) {
		for (i = 0; i < n; i++)
			tf_result_release(&rs[i]);
		free(rs);
	}
	return r;
}

static int decode_output(const void *buf, size_t len)
{
	uint64_t id;
	uint32_t attempt;
	int stream, slot;
	const void *data;
	size_t datalen;

	return tf_wire_unpack_output(buf, len, &id, &attempt, &stream, &slot, &data,
				     &datalen);
}

static int decode_control(const void *buf, size_t len)
{
	uint32_t code;
	double arg;

	return tf_wire_unpack_control(buf, len, &code, &arg);
}

/* Each proper prefix of a valid message (the first `upto` of them) must be
 * refused. */
static void expect_truncations_fail(const struct tf_strbuf *msg,
				    decode_fn decode, size_t upto)
{
	size_t n;

	ck_assert_int_eq(decode(msg->buf, msg->len), 0);
	for (n = 0; n < upto; n++) {
		void *p = copy_prefix(msg->buf, n);
		int r = decode(p, n);

		free(p);
		ck_assert_msg(r == TF_EPROTO,
			      "prefix of %zu of %zu bytes: got %d", n,
			      msg->len, r);
	}
}

static void expect_trailing_garbage_fails(const struct tf_strbuf *msg,
					  decode_fn decode)
{
	unsigned char *p = malloc(msg->len + 1);

	ck_assert_ptr_nonnull(p);
	memcpy(p, msg->buf, msg->len);
	p[msg->len] = 0;
	ck_assert_int_eq(decode(p, msg->len + 1), TF_EPROTO);
	free(p);
}

static void expect_decode_fails(const void *buf, size_t len, decode_fn decode)
{
	void *p = copy_prefix(buf, len);

	ck_assert_int_eq(decode(p, len), TF_EPROTO);
	free(p);
}

/* Sample messages. */

/* A string literal as a task's cmd_len and cmd, NULs included. */
#define CMD(lit) sizeof(lit) - 1, lit

/* The time limit travels, the master's own bookkeeping (retries left,
 * rank to avoid, losses, the tag, the barriers passed) does not; the
 * last three (slots, GPUs, whether GPUs were asked for) travel. */
static const struct tf_task sample_tasks[] = {
	{ 1, 1, CMD("echo a"), 0, 0, -1, 0, NULL, 0, 0, 0, 0 },
	{ UINT64_MAX - 1, 7, CMD("a\tb\nc\r\n\"d'"), 2.5, 3, 4, 0, NULL, 2,
	  16, 0, 0 },
	{ 5, 2, CMD("x\0y\xff"), 86400, 0, -1, 0, NULL, 0, 1, 3, 1 },
	{ 9, 1, CMD(""), 1e-3, 1, 1, 0, NULL, 0, 100000, 0, 1 },
};

static void pack_sample_tasks(struct tf_strbuf *sb)
{
	tf_wire_pack_tasks(sb, 123456789012ULL, sample_tasks,
			   ARRAY_SIZE(sample_tasks));
}

static void fill_pattern(char *buf, size_t len, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (char)((i * 131 + seed) % 251);
}

/* A result with every field set to something distinct and the given
 * output; threshold decides whether the output spills to a file. */
static void make_result(struct tf_result *r, uint64_t id, const void *out,
			size_t out_len, const void *err, size_t err_len,
			size_t threshold)
{
	tf_result_init(r);
	r->id = id;
	r->attempt = 3;
	r->slot = 5;
	r->status = TF_STATUS_SIGNALED;
	r->exitval = 137;
	r->signal = 9;
	r->start = 1712345678.123456;
	r->runtime = 12.5;
	r->maxrss_kb = INT64_C(1) << 40;
	r->utime = 0.25;
	r->stime = 1e-6;
	ck_assert_int_eq(tf_output_append(&r->out, out, out_len, threshold), 0);
	ck_assert_int_eq(tf_output_append(&r->err, err, err_len, threshold), 0);
}

static void expect_output(const struct tf_output *o, const void *want,
			  size_t len)
{
	char *buf = malloc(len + 1);

	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(o->len, len);
	ck_assert_int_eq(tf_output_pread(o, buf, len + 1, 0), (long)len);
	ck_assert_int_eq(memcmp(buf, want, len), 0);
	free(buf);
}

static void expect_fields(const struct tf_result *got, uint64_t id)
{
	ck_assert_uint_eq(got->id, id);
	ck_assert_uint_eq(got->attempt, 3);
	ck_assert_int_eq(got->slot, 5);
	ck_assert_int_eq(got->status, TF_STATUS_SIGNALED);
	ck_assert_int_eq(got->exitval, 137);
	ck_assert_int_eq(got->signal, 9);
	ck_assert_double_eq(got->start, 1712345678.123456);
	ck_assert_double_eq(got->runtime, 12.5);
	ck_assert_int_eq(got->maxrss_kb, INT64_C(1) << 40);
	ck_assert_double_eq(got->utime, 0.25);
	ck_assert_double_eq(got->stime, 1e-6);
}

/* A batch of one inline result with small output. */
static void pack_sample_results(struct tf_strbuf *sb)
{
	struct tf_result r;

	make_result(&r, 42, "out\n", 4, "e\0rr", 4, SIZE_MAX);
	tf_wire_results_begin(sb);
	tf_wire_results_add(sb, &r);
	tf_wire_results_end(sb, 1, 17);
	tf_result_release(&r);
}

/* Hello. */

START_TEST(test_hello_round_trip)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	struct tf_hello h, got;

	memset(&h, 0, sizeof(h));
	h.slots = 64;
	h.gpus = 8;
	h.pid = 4242;
	h.pid_space = UINT64_C(0xfedcba9876543210);
	h.want_total = UINT64_C(0x0102030405060708);
	snprintf(h.host, sizeof(h.host), "%s", "node042.cluster.example");
	tf_wire_pack_hello(&sb, &h);
	memset(&got, 0xa5, sizeof(got));
	ck_assert_int_eq(tf_wire_unpack_hello(sb.buf, sb.len, &got), 0);
	ck_assert_uint_eq(got.slots, 64);
	ck_assert_uint_eq(got.gpus, 8);
	ck_assert_uint_eq(got.pid, 4242);
	ck_assert_uint_eq(got.pid_space, h.pid_space);
	ck_assert_uint_eq(got.want_total, h.want_total);
	ck_assert_str_eq(got.host, h.host);
	tf_strbuf_release(&sb);
}
END_TEST

START_TEST(test_hello_longest_host)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	struct tf_hello h, got;

	/* A host name filling the whole array, with no NUL, is cut to
	 * what the receiver can terminate rather than overrunning. */
	memset(&h, 'h', sizeof(h));
	tf_wire_pack_hello(&sb, &h);
	ck_assert_int_eq(tf_wire_unpack_hello(sb.buf, sb.len, &got), 0);
	ck_assert_uint_eq(strlen(got.host), sizeof(got.host) - 1);
	ck_assert_int_eq(got.host[0], 'h');
	tf_strbuf_release(&sb);
}
END_TEST

START_TEST(test_hello_bad_magic_and_host_length)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	struct tf_hello h;
	unsigned char *p;

	memset(&h, 0, sizeof(h));
	snprintf(h.host, sizeof(h.host), "%s", "n1");
	tf_wire_pack_hello(&sb, &h);
	p = (unsigned char *)sb.buf;
	/* The magic is little-endian on the wire. */
	ck_assert_uint_eq(p[0], 0x01);
	ck_assert_uint_eq(p[3], 0x54);

	/* A message from another program or version. */
	p[0] ^= 0xff;
	expect_decode_fails(sb.buf, sb.len, decode_hello);
	p[0] ^= 0xff;

	/* A host length the struct cannot hold, even with bytes to match. */
	tf_strbuf_reset(&sb);
	tf_wire_pack_hello(&sb, &h);
	put_le((unsigned char *)sb.buf + 28, sizeof(h.host), 4);
	while (sb.len < 32 + sizeof(h.host))
		tf_strbuf_addch(&sb, 'x');
	expect_decode_fails(sb.buf, sb.len, decode_hello);

	/* And one far past the buffer. */
	put_le((unsigned char *)sb.buf + 28, UINT32_MAX, 4);
	expect_decode_fails(sb.buf, sb.len, decode_hello);
	tf_strbuf_release(&sb);
}
END_TEST

/* Tasks. */

START_TEST(test_tasks_round_trip)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	struct tf_task *tasks = NULL;
	uint64_t ntasks = 0;
	size_t n = 0, i;

	/* Commands go as counted bytes: tabs, newlines, quotes, NUL and
	 * high bytes arrive unchanged. */
	pack_sample_tasks(&sb);
	ck_assert_int_eq(tf_wire_unpack_tasks(sb.buf, sb.len, &ntasks, &tasks,
					      &n),
			 0);
	ck_assert_uint_eq(ntasks, 123456789012ULL);
	ck_assert_uint_eq(n, ARRAY_SIZE(sample_tasks));
	for (i = 0; i < n; i++) {
		const struct tf_task *want = &sample_tasks[i];

		ck_assert_uint_eq(tasks[i].id, want->id);
		ck_assert_uint_eq(tasks[i].attempt, want->attempt);
		ck_assert_uint_eq(tasks[i].cmd_len, want->cmd_len);
		ck_assert_ptr_nonnull(tasks[i].cmd);
		ck_assert_int_eq(memcmp(tasks[i].cmd, want->cmd, want->cmd_len),
				 0);
		/* Still usable as a C string. */
		ck_assert_int_eq(tasks[i].cmd[want->cmd_len], '\0');
		ck_assert(tasks[i].timeout == want->timeout);
		ck_assert_uint_eq(tasks[i].retries_left, 0);
		ck_assert_int_eq(tasks[i].avoid_rank, -1);
		ck_assert_uint_eq(tasks[i].slots, want->slots);
		ck_assert_uint_eq(tasks[i].gpus, want->gpus);
		ck_assert_uint_eq(tasks[i].gpus_given, want->gpus_given);
		tf_task_release(&tasks[i]);
	}
	free(tasks);
	tf_strbuf_release(&sb);
}
END_TEST

START_TEST(test_tasks_empty_batch)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	struct tf_task *tasks = NULL;
	uint64_t ntasks = 0;
	size_t n = 99;

	tf_wire_pack_tasks(&sb, 7, NULL, 0);
	ck_assert_uint_eq(sb.len, 12);
	ck_assert_int_eq(tf_wire_unpack_tasks(sb.buf, sb.len, &ntasks, &tasks,
					      &n),
			 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(ntasks, 7);
	free(tasks);
	tf_strbuf_release(&sb);
}
END_TEST

START_TEST(test_tasks_appends)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	struct tf_task *tasks = NULL;
	uint64_t ntasks;
	size_t n = 0;

	/* Packing appends: what was in the buffer stays in front. */
	tf_strbuf_addstr(&sb, "HDR");
	tf_wire_pack_tasks(&sb, 1, sample_tasks, 1);
	ck_assert_int_eq(memcmp(sb.buf, "HDR", 3), 0);
	ck_assert_int_eq(tf_wire_unpack_tasks(sb.buf + 3, sb.len - 3, &ntasks,
					      &tasks, &n),
			 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(tasks[0].cmd, "echo a");
	tf_task_release(&tasks[0]);
	free(tasks);
	tf_strbuf_release(&sb);
}
END_TEST

/* Results. */

START_TEST(test_results_inline_round_trip)
{
	static const char err[] = "warn\0bin\xff\n";
	struct tf_strbuf sb = TF_STRBUF_INIT;
	struct tf_result r, *rs = NULL;
	uint64_t want = 0;
	size_t n = 0;

	make_result(&r, 99, "hello\nworld\n", 12, err, sizeof(err) - 1,
		    SIZE_MAX);
	ck_assert(tf_wire_output_inline(&r));
	tf_wire_results_begin(&sb);
	tf_wire_results_add(&sb, &r);
	tf_wire_results_end(&sb, 1, UINT64_C(0x0102030405060708));
	ck_assert_uint_eq(sb.len, RESULTS_HEADER + RESULT_FIXED + 12 +
					  sizeof(err) - 1);

	ck_assert_int_eq(tf_wire_unpack_results(sb.buf, sb.len, &want, &rs,
						&n),
			 0);
	ck_assert_uint_eq(want, UINT64_C(0x0102030405060708));
	ck_assert_uint_eq(n, 1);
	expect_fields(&rs[0], 99);
	ck_assert_int_eq(rs[0].streamed, 0);
	expect_output(&rs[0].out, "hello\nworld\n", 12);
	expect_output(&rs[0].err, err, sizeof(err) - 1);
	tf_result_release(&rs[0]);
	free(rs);
	tf_result_release(&r);
	tf_strbuf_release(&sb);
}
END_TEST

START_TEST(test_results_spilled_output_inline)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	struct tf_result r, *rs = NULL;
	char out[5000];
	uint64_t want;
	size_t n = 0;

	/* Output the worker spilled to disk is read back into the batch
	 * when it is small enough to travel inline. */
	fill_pattern(out, sizeof(out), 3);
	make_result(&r, 1, out, sizeof(out), "", 0, 100);
	ck_assert_int_ge(r.out.spill_fd, 0);
	tf_wire_results_begin(&sb);
	tf_wire_results_add(&sb, &r);
	tf_wire_results_end(&sb, 1, 0);
	ck_assert_int_eq(tf_wire_unpack_results(sb.buf, sb.len, &want, &rs,
						&n),
			 0);
	ck_assert_uint_eq(n, 1);
	expect_output(&rs[0].out, out, sizeof(out));
	ck_assert_uint_eq(rs[0].err.len, 0);
	tf_result_release(&rs[0]);
	free(rs);
	tf_result_release(&r);
	tf_strbuf_release(&sb);
}
END_TEST

START_TEST(test_results_streamed)
{
	const size_t big = TF_WIRE_INLINE_MAX + 4000;
	struct tf_strbuf sb = TF_STRBUF_INIT;
	struct tf_result r, *rs = NULL;
	char *out = malloc(big);
	uint64_t want;
	size_t n = 0;

	/* Large output is sent ahead in OUTPUT chunks, so the batch only
	 * announces the totals; the bytes must not be in it. */
	ck_assert_ptr_nonnull(out);
	fill_pattern(out, big, 1);
	make_result(&r, 7, out, big, "err", 3, SIZE_MAX);
	ck_assert(!tf_wire_output_inline(&r));
	tf_wire_results_begin(&sb);
	tf_wire_results_add(&sb, &r);
	tf_wire_results_end(&sb, 1, 5);
	ck_assert_uint_eq(sb.len, RESULTS_HEADER + RESULT_FIXED);

	ck_assert_int_eq(tf_wire_unpack_results(sb.buf, sb.len, &want, &rs,
						&n),
			 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(want, 5);
	expect_fields(&rs[0], 7);
	ck_assert_int_eq(rs[0].streamed, 1);
	ck_assert_uint_eq(rs[0].streamed_out, big);
	ck_assert_uint_eq(rs[0].streamed_err, 3);
	ck_assert_uint_eq(rs[0].out.len, 0);
	ck_assert_uint_eq(rs[0].err.len, 0);
	tf_result_release(&rs[0]);
	free(rs);
	tf_result_release(&r);
	tf_strbuf_release(&sb);
	free(out);
}
END_TEST

START_TEST(test_results_inline_limit)
{
	const size_t half = TF_WIRE_INLINE_MAX / 2;
	struct tf_result r;
	char *buf = calloc(1, TF_WIRE_INLINE_MAX + 1);

	/* The limit counts stdout and stderr together, and is inclusive. */
	ck_assert_ptr_nonnull(buf);
	make_result(&r, 1, buf, half, buf, TF_WIRE_INLINE_MAX - half,
		    SIZE_MAX);
	ck_assert(tf_wire_output_inline(&r));
	ck_assert_int_eq(tf_output_append(&r.err, buf, 1, SIZE_MAX), 0);
	ck_assert(!tf_wire_output_inline(&r));
	tf_result_release(&r);
	free(buf);
}
END_TEST

START_TEST(test_results_mixed_batch)
{
	const size_t big = TF_WIRE_INLINE_MAX + 1;
	struct tf_strbuf sb = TF_STRBUF_INIT;
	struct tf_result r[3], *rs = NULL;
	char *out = calloc(1, big);
	uint64_t want;
	size_t n = 0, i;

	/* A streamed result between two inline ones must not throw off
	 * where the next result starts. */
	ck_assert_ptr_nonnull(out);
	make_result(&r[0], 10, "first", 5, "", 0, SIZE_MAX);
	make_result(&r[1], 11, out, big, "", 0, SIZE_MAX);
	make_result(&r[2], 12, "", 0, "third", 5, SIZE_MAX);
	tf_wire_results_begin(&sb);
	for (i = 0; i < 3; i++)
		tf_wire_results_add(&sb, &r[i]);
	tf_wire_results_end(&sb, 3, 0);
	ck_assert_int_eq(tf_wire_unpack_results(sb.buf, sb.len, &want, &rs,
						&n),
			 0);
	ck_assert_uint_eq(n, 3);
	for (i = 0; i < 3; i++)
		expect_fields(&rs[i], 10 + i);
	ck_assert_int_eq(rs[0].streamed, 0);
	expect_output(&rs[0].out, "first", 5);
	ck_assert_int_eq(rs[1].streamed, 1);
	ck_assert_uint_eq(rs[1].streamed_out, big);
	ck_assert_int_eq(rs[2].streamed, 0);
	expect_output(&rs[2].err, "third", 5);
	for (i = 0; i < 3; i++) {
		tf_result_release(&rs[i]);
		tf_result_release(&r[i]);
	}
	free(rs);
	free(out);
	tf_strbuf_release(&sb);
}
END_TEST

START_TEST(test_results_empty_batch)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	struct tf_result *rs = NULL;
	uint64_t want = 0;
	size_t n = 99;

	/* An empty batch still carries the worker's want. */
	tf_wire_results_begin(&sb);
	tf_wire_results_end(&sb, 0, 12);
	ck_assert_int_eq(tf_wire_unpack_results(sb.buf, sb.len, &want, &rs,
						&n),
			 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(want, 12);
	free(rs);
	tf_strbuf_release(&sb);
}
END_TEST

/* Output chunks and control. */

START_TEST(test_output_round_trip)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	char data[3000];
	const void *got;
	uint64_t id;
	uint32_t attempt;
	int stream, slot;
	size_t len;

	fill_pattern(data, sizeof(data), 9);
	tf_wire_pack_output(&sb, UINT64_MAX, 4, 2, data, sizeof(data));
	ck_assert_int_eq(tf_wire_unpack_output(sb.buf, sb.len, &id, &attempt,
					       &stream, &slot, &got, &len),
			 0);
	ck_assert_uint_eq(id, UINT64_MAX);
	ck_assert_uint_eq(attempt, 4);
	ck_assert_int_eq(stream, 2);
	ck_assert_uint_eq(len, sizeof(data));
	/* The payload is not copied: it points into the message. */
	ck_assert_ptr_eq(got, sb.buf + 13);
	ck_assert_int_eq(memcmp(got, data, sizeof(data)), 0);

	/* An empty chunk is valid. */
	tf_strbuf_reset(&sb);
	tf_wire_pack_output(&sb, 1, 1, 1, "", 0);
	ck_assert_int_eq(tf_wire_unpack_output(sb.buf, sb.len, &id, &attempt,
					       &stream, &slot, &got, &len),
			 0);
	ck_assert_int_eq(stream, 1);
	ck_assert_int_eq(slot, 0);
	ck_assert_uint_eq(len, 0);

	/* --line-buffer's lines carry their slot after the stream byte. */
	tf_strbuf_reset(&sb);
	tf_wire_pack_lines(&sb, 7, 2, 1, 3, "a\nb\n", 4);
	ck_assert_int_eq(tf_wire_unpack_output(sb.buf, sb.len, &id, &attempt,
					       &stream, &slot, &got, &len),
			 0);
	ck_assert_uint_eq(id, 7);
	ck_assert_uint_eq(attempt, 2);
	ck_assert_int_eq(stream, TF_WIRE_LINES_ERR);
	ck_assert_int_eq(slot, 3);
	ck_assert_uint_eq(len, 4);
	ck_assert_int_eq(memcmp(got, "a\nb\n", 4), 0);
	/* Cut into its slot, it is refused. */
	expect_truncations_fail(&sb, decode_output, 17);
	tf_strbuf_release(&sb);
}
END_TEST

START_TEST(test_output_bad_stream)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	int bad[] = { 0, 5, 255 };
	size_t i;

	/* Only stdout (1) and stderr (2), and their --line-buffer lines (3,
	 * 4), exist. */
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		tf_strbuf_reset(&sb);
		tf_wire_pack_output(&sb, 1, 1, bad[i], "x", 1);
		expect_decode_fails(sb.buf, sb.len, decode_output);
	}
	tf_strbuf_release(&sb);
}
END_TEST

START_TEST(test_control_round_trip)
{
	static const uint32_t codes[] = { TF_CTL_STOP, TF_CTL_DRAIN,
					  TF_CTL_DRAIN_REQUEST, TF_CTL_KILL,
					  0x01020304 };
	static const double args[] = { 0, 12.5, -1, 0, 3e9 };
	struct tf_strbuf sb = TF_STRBUF_INIT;
	uint32_t code;
	double arg;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(codes); i++) {
		tf_strbuf_reset(&sb);
		tf_wire_pack_control(&sb, codes[i], args[i]);
		ck_assert_uint_eq(sb.len, 12);
		ck_assert_int_eq(tf_wire_unpack_control(sb.buf, sb.len, &code,
							&arg),
				 0);
		ck_assert_uint_eq(code, codes[i]);
		ck_assert(arg == args[i]);
	}
	/* Little-endian regardless of the host. */
	ck_assert_int_eq(memcmp(sb.buf, "\x04\x03\x02\x01", 4), 0);
	/* A NaN argument is refused: it would make every comparison
	 * false. */
	tf_strbuf_reset(&sb);
	tf_wire_pack_control(&sb, TF_CTL_DRAIN, NAN);
	ck_assert_int_eq(tf_wire_unpack_control(sb.buf, sb.len, &code, &arg),
			 TF_EPROTO);
	tf_strbuf_release(&sb);
}
END_TEST

START_TEST(test_tag_names)
{
	ck_assert_str_eq(tf_tag_name(TF_TAG_HELLO), "HELLO");
	ck_assert_str_eq(tf_tag_name(TF_TAG_TASKS), "TASKS");
	ck_assert_str_eq(tf_tag_name(TF_TAG_RESULTS), "RESULTS");
	ck_assert_str_eq(tf_tag_name(TF_TAG_OUTPUT), "OUTPUT");
	ck_assert_str_eq(tf_tag_name(TF_TAG_CONTROL), "CONTROL");
	ck_assert_str_eq(tf_tag_name(TF_TAG_POOL_HELLO), "POOL_HELLO");
	ck_assert_str_eq(tf_tag_name(TF_TAG_POOL_STOP), "POOL_STOP");
	/* Tags from a trace of unknown origin must not index past the
	 * table. */
	ck_assert_str_eq(tf_tag_name(0), "?");
	ck_assert_str_eq(tf_tag_name(TF_TAG_POOL_RECLAIM), "POOL_RECLAIM");
	ck_assert_str_eq(tf_tag_name(TF_TAG_POOL_RECLAIM + 1), "?");
	ck_assert_str_eq(tf_tag_name(-1), "?");
	ck_assert_str_eq(tf_tag_name(INT_MAX), "?");
	ck_assert_str_eq(tf_tag_name(INT_MIN), "?");
}
END_TEST

/* Malformed messages. */

START_TEST(test_truncated_hello)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	struct tf_hello h;

	memset(&h, 0, sizeof(h));
	snprintf(h.host, sizeof(h.host), "%s", "node7");
	tf_wire_pack_hello(&sb, &h);
	expect_truncations_fail(&sb, decode_hello, sb.len);
	expect_trailing_garbage_fails(&sb, decode_hello);
	tf_strbuf_release(&sb);
}
END_TEST

START_TEST(test_truncated_tasks)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;

	pack_sample_tasks(&sb);
	expect_truncations_fail(&sb, decode_tasks, sb.len);
	expect_trailing_garbage_fails(&sb, decode_tasks);

	tf_strbuf_reset(&sb);
	tf_wire_pack_tasks(&sb, 0, NULL, 0);
	expect_truncations_fail(&sb, decode_tasks, sb.len);
	expect_trailing_garbage_fails(&sb, decode_tasks);
	tf_strbuf_release(&sb);
}
END_TEST

START_TEST(test_truncated_results)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	struct tf_result r[2];
	char *big = calloc(1, TF_WIRE_INLINE_MAX + 1);

	pack_sample_results(&sb);
	expect_truncations_fail(&sb, decode_results, sb.len);
	expect_trailing_garbage_fails(&sb, decode_results);

	/* A batch with a streamed result after an inline one. */
	ck_assert_ptr_nonnull(big);
	make_result(&r[0], 1, "abc", 3, "de", 2, SIZE_MAX);
	make_result(&r[1], 2, big, TF_WIRE_INLINE_MAX + 1, "", 0, SIZE_MAX);
	tf_strbuf_reset(&sb);
	tf_wire_results_begin(&sb);
	tf_wire_results_add(&sb, &r[0]);
	tf_wire_results_add(&sb, &r[1]);
	tf_wire_results_end(&sb, 2, 3);
	expect_truncations_fail(&sb, decode_results, sb.len);
	expect_trailing_garbage_fails(&sb, decode_results);
	tf_result_release(&r[0]);
	tf_result_release(&r[1]);
	free(big);
	tf_strbuf_release(&sb);
}
END_TEST

START_TEST(test_truncated_output_and_control)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;

	/* An output chunk's payload is whatever follows its 13-byte header,
	 * so only a cut into the header is an error. */
	tf_wire_pack_output(&sb, 1, 2, 1, "payload", 7);
	expect_truncations_fail(&sb, decode_output, 13);
	ck_assert_int_eq(decode_output(sb.buf, 13), 0);

	tf_strbuf_reset(&sb);
	tf_wire_pack_control(&sb, TF_CTL_STOP, 0);
	expect_truncations_fail(&sb, decode_control, sb.len);
	expect_trailing_garbage_fails(&sb, decode_control);
	tf_strbuf_release(&sb);
}
END_TEST

START_TEST(test_huge_counts)
{
	unsigned char buf[12 + 64];

	/* A count that the bytes present could never hold is refused
	 * before anything is allocated for it. */
	memset(buf, 0, sizeof(buf));
	put_le(buf + 8, UINT32_MAX, 4);
	expect_decode_fails(buf, 12, decode_tasks);
	expect_decode_fails(buf, sizeof(buf), decode_tasks);
	expect_decode_fails(buf, 12, decode_results);
	expect_decode_fails(buf, sizeof(buf), decode_results);

	/* A count that passes the quick size check (four tasks of 16 bytes
	 * fit in 64) but overruns once the first command takes its bytes. */
	put_le(buf + 8, 4, 4);
	put_le(buf + 12 + 12, 10, 4);
	expect_decode_fails(buf, sizeof(buf), decode_tasks);
}
END_TEST

START_TEST(test_huge_lengths)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	unsigned char *p;

	/* A command length past the end of the buffer. */
	tf_wire_pack_tasks(&sb, 1, sample_tasks, 1);
	p = (unsigned char *)sb.buf;
	/* Header 12 bytes; then id 8, attempt 4, timeout 8, cmd_len. */
	put_le(p + 12 + 20, UINT32_MAX, 4);
	expect_decode_fails(sb.buf, sb.len, decode_tasks);
	tf_strbuf_release(&sb);

	/* Inline output lengths past the end, including ones whose sum
	 * would wrap around. */
	pack_sample_results(&sb);
	p = (unsigned char *)sb.buf;
	put_le(p + RESULT_OUT_LEN, UINT64_MAX, 8);
	expect_decode_fails(sb.buf, sb.len, decode_results);
	tf_strbuf_release(&sb);

	pack_sample_results(&sb);
	p = (unsigned char *)sb.buf;
	put_le(p + RESULT_ERR_LEN, UINT64_MAX - 2, 8);
	expect_decode_fails(sb.buf, sb.len, decode_results);
	tf_strbuf_release(&sb);

	pack_sample_results(&sb);
	p = (unsigned char *)sb.buf;
	put_le(p + RESULT_OUT_LEN, 2, 8);
	put_le(p + RESULT_ERR_LEN, UINT64_MAX - 1, 8);
	expect_decode_fails(sb.buf, sb.len, decode_results);
	tf_strbuf_release(&sb);
}
END_TEST

static Suite *wire_suite(void)
{
	Suite *s = suite_create("wire");
	TCase *tc;

	tc = tcase_create("hello");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_hello_round_trip);
	tcase_add_test(tc, test_hello_longest_host);
	tcase_add_test(tc, test_hello_bad_magic_and_host_length);
	suite_add_tcase(s, tc);

	tc = tcase_create("tasks");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_tasks_round_trip);
	tcase_add_test(tc, test_tasks_empty_batch);
	tcase_add_test(tc, test_tasks_appends);
	suite_add_tcase(s, tc);

	tc = tcase_create("results");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_results_inline_round_trip);
	tcase_add_test(tc, test_results_spilled_output_inline);
	tcase_add_test(tc, test_results_streamed);
	tcase_add_test(tc, test_results_inline_limit);
	tcase_add_test(tc, test_results_mixed_batch);
	tcase_add_test(tc, test_results_empty_batch);
	suite_add_tcase(s, tc);

	tc = tcase_create("output_control");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_output_round_trip);
	tcase_add_test(tc, test_output_bad_stream);
	tcase_add_test(tc, test_control_round_trip);
	tcase_add_test(tc, test_tag_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("malformed");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_truncated_hello);
	tcase_add_test(tc, test_truncated_tasks);
	tcase_add_test(tc, test_truncated_results);
	tcase_add_test(tc, test_truncated_output_and_control);
	tcase_add_test(tc, test_huge_counts);
	tcase_add_test(tc, test_huge_lengths);
	suite_add_tcase(s, tc);

	return s;
}

TF_CHECK_MAIN(wire_suite)
