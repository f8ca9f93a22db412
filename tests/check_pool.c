/*
 * Unit tests of the C API's MPI-free parts: the pool's wire encoding
 * (poolwire.c), the function registry and the chunk runner with its
 * isolation mode, its size limit and its splitting of results into
 * messages (poolrun.c), and the batch-size rules both kinds of task
 * share (scheduling.c).
 */
#include "config.h"

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>

#include "check_util.h"
#include "pool/call.h"
#include "pool/wire.h"
#include "core/batch.h"
#include "taskfarm.h"
#include "core/util.h"

/* ---- scheduling ---- */

START_TEST(test_guided)
{
	ck_assert_uint_eq(tf_sched_guided(1000, 5), 100);
	ck_assert_uint_eq(tf_sched_guided(9, 5), 1);
	ck_assert_uint_eq(tf_sched_guided(0, 5), 1);
	ck_assert_uint_eq(tf_sched_guided(1000, 0), SIZE_MAX);
}
END_TEST

START_TEST(test_ahead)
{
	ck_assert_uint_eq(tf_sched_ahead(0, 0.02, 256), 1);
	ck_assert_uint_eq(tf_sched_ahead(0.01, 0.02, 256), 3);
	ck_assert_uint_eq(tf_sched_ahead(1e-6, 0.02, 256), 256);
	ck_assert_uint_eq(tf_sched_ahead(5, 0.02, 256), 1);
}
END_TEST

START_TEST(test_chunker_probe_then_grow)
{
	struct tf_chunker c;
	size_t n;

	tf_chunker_init(&c);
	/* Nothing measured: one task, a probe. */
	ck_assert_uint_eq(tf_chunker_size(&c, 1000000, 2, 8, 0), 1);
	/* 10 ns tasks with a 10 us message: a chunk of at least 0.5 ms. */
	tf_chunker_observe(&c, 1, 1e-8, 1e-5);
	n = tf_chunker_size(&c, 100000000, 2, 8, 0);
	ck_assert_uint_ge(n, 50000);
	ck_assert_uint_le(n, TF_SCHED_CHUNK_BYTES / 8);
	/* The guided cap: never more than remaining / (2 workers). */
	ck_assert_uint_le(tf_chunker_size(&c, 40000, 2, 8, 0), 10000);
	/* Never more than what remains, never zero. */
	ck_assert_uint_eq(tf_chunker_size(&c, 1, 2, 8, 0), 1);
}
END_TEST

START_TEST(test_chunker_long_tasks)
{
	struct tf_chunker c;

	tf_chunker_init(&c);
	tf_chunker_observe(&c, 1, 2.0, 2.001);
	/* Tasks of 2 s: one per chunk, so the work spreads. */
	ck_assert_uint_eq(tf_chunker_size(&c, 1000, 4, 8, 0), 1);
}
END_TEST

START_TEST(test_chunker_bytes_and_fixed)
{
	struct tf_chunker c;

	tf_chunker_init(&c);
	tf_chunker_observe(&c, 1000, 1e-6, 1e-3);
	/* Large inputs: the message stays within its byte budget. */
	ck_assert_uint_le(tf_chunker_size(&c, 1000000, 1, 1 << 16, 0),
			  TF_SCHED_CHUNK_BYTES >> 16);
	/* A record larger than the budget still travels, one at a time. */
	ck_assert_uint_eq(tf_chunker_size(&c, 1000000, 1,
					  2 * TF_SCHED_CHUNK_BYTES, 0),
			  1);
	/* The user's size wins, within what remains. */
	ck_assert_uint_eq(tf_chunker_size(&c, 1000000, 1, 8, 7), 7);
	ck_assert_uint_eq(tf_chunker_size(&c, 5, 1, 8, 7), 5);
}
END_TEST

START_TEST(test_chunker_message_cost)
{
	struct tf_chunker c;

	tf_chunker_init(&c);
	tf_chunker_observe(&c, 100, 1e-3, 3e-3);
	ck_assert(c.msg_s > 1.9e-3 && c.msg_s < 2.1e-3);
	/* The least cost seen is kept; the task time is averaged. */
	tf_chunker_observe(&c, 100, 1e-3, 1.5e-3);
	ck_assert(c.msg_s > 0.49e-3 && c.msg_s < 0.51e-3);
	ck_assert(c.task_s > 0.99e-5 && c.task_s < 1.01e-5);
	/* An expensive message makes chunks longer: 100 x 0.5 ms. */
	ck_assert_uint_ge(tf_chunker_size(&c, 1000000000, 1, 8, 0), 4000);
	ck_assert(tf_chunker_expect(&c, 10) > 0.99e-4);
}
END_TEST

/* ---- poolwire ---- */

START_TEST(test_tasks_fixed_roundtrip)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	struct tf_ptasks t = { 7, 100, 3, 2, 4, 8, NULL, 0 }, d;
	const char in[12] = "aaaabbbbcccc";

	tf_pwire_tasks_begin(&sb, &t);
	tf_strbuf_add(&sb, in, sizeof(in));
	ck_assert_int_eq(tf_pwire_tasks_decode(sb.buf, sb.len, &d), 0);
	ck_assert_uint_eq(d.job, 7);
	ck_assert_uint_eq(d.first, 100);
	ck_assert_uint_eq(d.count, 3);
	ck_assert_uint_eq(d.fn, 2);
	ck_assert_uint_eq(d.in_size, 4);
	ck_assert_uint_eq(d.out_size, 8);
	ck_assert_mem_eq(d.data, in, sizeof(in));
	/* A byte short or long is refused. */
	ck_assert_int_eq(tf_pwire_tasks_decode(sb.buf, sb.len - 1, &d),
			 TF_EPROTO);
	tf_strbuf_addch(&sb, 'x');
	ck_assert_int_eq(tf_pwire_tasks_decode(sb.buf, sb.len, &d), TF_EPROTO);
	ck_assert_int_eq(tf_pwire_tasks_decode(sb.buf, 10, &d), TF_EPROTO);
	tf_strbuf_release(&sb);
}
END_TEST

START_TEST(test_tasks_var_roundtrip)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	struct tf_ptasks t = { 1, 0, 3, 0, TF_POOL_VARSIZE, TF_POOL_VARSIZE,
			       NULL, 0 },
			 d;
	const void *data;
	size_t off = 0, len;

	tf_pwire_tasks_begin(&sb, &t);
	tf_pwire_add_var(&sb, "hello", 5);
	tf_pwire_add_var(&sb, "", 0);
	tf_pwire_add_var(&sb, "xy", 2);
	ck_assert_int_eq(tf_pwire_tasks_decode(sb.buf, sb.len, &d), 0);
	ck_assert_int_eq(tf_pwire_tasks_next(&d, &off, &data, &len), 1);
	ck_assert_uint_eq(len, 5);
	ck_assert_mem_eq(data, "hello", 5);
	ck_assert_int_eq(tf_pwire_tasks_next(&d, &off, &data, &len), 1);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(tf_pwire_tasks_next(&d, &off, &data, &len), 1);
	ck_assert_mem_eq(data, "xy", 2);
	ck_assert_int_eq(tf_pwire_tasks_next(&d, &off, &data, &len), 0);
	/* A length that runs past the end. */
	sb.buf[47] = (char)0xff; /* the first length, top byte */
	ck_assert_int_eq(tf_pwire_tasks_decode(sb.buf, sb.len, &d), TF_EPROTO);
	tf_strbuf_release(&sb);
}
END_TEST

START_TEST(test_results_records)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	struct tf_presults r = { 3, 10, 2, TF_PWIRE_RECORDS, TF_POOL_VARSIZE,
				 0.25, NULL, 0 },
			   d;
	struct tf_precord rec;
	size_t off = 0;

	tf_strbuf_grow(&sb, TF_PWIRE_RESULTS_HDR);
	sb.len = TF_PWIRE_RESULTS_HDR;
	tf_pwire_add_record(&sb, 0, "abc", 3, NULL, 0);
	tf_pwire_add_record(&sb, -7, NULL, 0, "bad", 3);
	tf_pwire_results_header(&sb, &r);
	ck_assert_int_eq(tf_pwire_results_decode(sb.buf, sb.len, &d), 0);
	ck_assert_uint_eq(d.job, 3);
	ck_assert_uint_eq(d.first, 10);
	ck_assert_uint_eq(d.count, 2);
	ck_assert(d.compute_s > 0.2499 && d.compute_s < 0.2501);
	ck_assert_int_eq(tf_pwire_results_next(&d, &off, &rec), 1);
	ck_assert_int_eq(rec.status, 0);
	ck_assert_uint_eq(rec.len, 3);
	ck_assert_ptr_null(rec.error);
	ck_assert_int_eq(tf_pwire_results_next(&d, &off, &rec), 1);
	ck_assert_int_eq(rec.status, -7);
	ck_assert_uint_eq(rec.errlen, 3);
	ck_assert_mem_eq(rec.error, "bad", 3);
	ck_assert_int_eq(tf_pwire_results_next(&d, &off, &rec), 0);
	/* A count that promises more records than there are. */
	r.count = 3;
	tf_pwire_results_header(&sb, &r);
	ck_assert_int_eq(tf_pwire_results_decode(sb.buf, sb.len, &d),
			 TF_EPROTO);
	tf_strbuf_release(&sb);
}
END_TEST

START_TEST(test_names_and_status)
{
	const char *names[] = { "alpha", "beta" };
	struct tf_pident me = { 4242, 0x1234567890abcdefull }, who;
	struct tf_strbuf sb = TF_STRBUF_INIT;
	char **got;
	size_t n;
	const void *data;
	size_t len;
	int32_t status;

	tf_pwire_pack_hello(&sb, &me, names, 2);
	ck_assert_int_eq(tf_pwire_unpack_hello(sb.buf, sb.len, &who, &got, &n),
			 0);
	ck_assert_uint_eq(who.pid, 4242);
	ck_assert_uint_eq(who.space, 0x1234567890abcdefull);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(got[0], "alpha");
	ck_assert_str_eq(got[1], "beta");
	free(got[0]);
	free(got[1]);
	free(got);
	ck_assert_int_eq(tf_pwire_unpack_hello(sb.buf, sb.len - 1, &who, &got,
					       &n),
			 TF_EPROTO);
	/* Cut inside the pid and space: refused, not overread. */
	ck_assert_int_eq(tf_pwire_unpack_hello(sb.buf, 20, &who, &got, &n),
			 TF_EPROTO);
	tf_strbuf_reset(&sb);
	tf_pwire_pack_status(&sb, TF_EREGISTER, "why", 3);
	ck_assert_int_eq(tf_pwire_unpack_status(sb.buf, sb.len, &status,
						&data, &len),
			 0);
	ck_assert_int_eq(status, TF_EREGISTER);
	ck_assert_uint_eq(len, 3);
	ck_assert_int_eq(tf_pwire_unpack_status(sb.buf, sb.len + 1, &status,
						&data, &len),
			 TF_EPROTO);
	/* START: the master's pid and space, its verdict, the argument. */
	tf_strbuf_reset(&sb);
	tf_pwire_pack_start(&sb, &me, 0, "arg", 3);
	memset(&who, 0, sizeof(who));
	ck_assert_int_eq(tf_pwire_unpack_start(sb.buf, sb.len, &who, &status,
					       &data, &len),
			 0);
	ck_assert_uint_eq(who.pid, 4242);
	ck_assert_uint_eq(who.space, me.space);
	ck_assert_int_eq(status, 0);
	ck_assert_uint_eq(len, 3);
	ck_assert_mem_eq(data, "arg", 3);
	ck_assert_int_eq(tf_pwire_unpack_start(sb.buf, sb.len - 1, &who,
					       &status, &data, &len),
			 TF_EPROTO);
	ck_assert_int_eq(tf_pwire_unpack_start(sb.buf, 31, &who, &status,
					       &data, &len),
			 TF_EPROTO);
	tf_strbuf_release(&sb);
}
END_TEST

/* The limit leaves room for the headers of a message of one task. */
START_TEST(test_size_limit)
{
	ck_assert_uint_le(TF_PWIRE_TASKS_HDR +
				  tf_pwire_var_size(TF_POOL_MAX_BYTES),
			  TF_PWIRE_MSG_MAX);
	ck_assert_uint_le(TF_PWIRE_TASKS_HDR + TF_POOL_MAX_BYTES,
			  TF_PWIRE_MSG_MAX);
	ck_assert_uint_le(TF_PWIRE_RESULTS_HDR +
				  tf_pwire_record_size(TF_POOL_MAX_BYTES,
						       TF_POOL_ERR_MAX),
			  TF_PWIRE_MSG_MAX);
	ck_assert_uint_le(TF_PWIRE_RESULTS_HDR + TF_POOL_MAX_BYTES,
			  TF_PWIRE_MSG_MAX);
	ck_assert_uint_eq(TF_PWIRE_MSG_MAX, INT32_MAX);
	ck_assert_uint_eq(tf_pwire_var_size(0), 8);
	ck_assert_uint_eq(tf_pwire_var_size(9), 24);
	ck_assert_uint_eq(tf_pwire_record_size(3, 4), 24);
}
END_TEST

/* How the master completes a chunk whose rank was lost: one record
 * stands for every task. */
START_TEST(test_results_uniform)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	struct tf_presults r = { 4, 10, 1000, 0, 0, 0, NULL, 0 }, d;
	struct tf_precord rec;
	const char *why = "rank 2 was lost: its process ended";
	size_t off = 0;
	uint32_t i;

	tf_pwire_results_uniform(&sb, &r, TF_ELOST, why, strlen(why));
	ck_assert_int_eq(tf_pwire_results_decode(sb.buf, sb.len, &d), 0);
	ck_assert_uint_eq(d.form, TF_PWIRE_UNIFORM);
	ck_assert_uint_eq(d.job, 4);
	ck_assert_uint_eq(d.first, 10);
	ck_assert_uint_eq(d.count, 1000);
	for (i = 0; i < 1000; i++) {
		ck_assert_int_eq(tf_pwire_results_record(&d, &off, i, &rec), 1);
		ck_assert_int_eq(rec.status, TF_ELOST);
		ck_assert_uint_eq(rec.len, 0);
		ck_assert_uint_eq(rec.errlen, strlen(why));
		ck_assert_mem_eq(rec.error, why, rec.errlen);
	}
	ck_assert_int_eq(tf_pwire_results_record(&d, &off, 1000, &rec), 0);
	/* Exactly one record, or it is malformed. */
	tf_pwire_add_record(&sb, 0, NULL, 0, NULL, 0);
	ck_assert_int_eq(tf_pwire_results_decode(sb.buf, sb.len, &d),
			 TF_EPROTO);
	ck_assert_int_eq(tf_pwire_results_decode(sb.buf, TF_PWIRE_RESULTS_HDR,
						 &d),
			 TF_EPROTO);
	/* An unknown form is refused. */
	sb.buf[24] = 3;
	ck_assert_int_eq(tf_pwire_results_decode(sb.buf, sb.len, &d),
			 TF_EPROTO);
	tf_strbuf_release(&sb);
}
END_TEST

/* ---- poolrun ---- */

static int fn_double(struct tf_call *call, const void *in, size_t len,
		     void *ctx)
{
	int64_t x;

	(void)len;
	(void)ctx;
	memcpy(&x, in, sizeof(x));
	x *= 2;
	memcpy(tf_call_result(call, sizeof(x)), &x, sizeof(x));
	return 0;
}

/* Fails index 2 with a message; crashes on input 13 and 14. */
static int fn_odd(struct tf_call *call, const void *in, size_t len,
		  void *ctx)
{
	int64_t x;

	(void)len;
	(void)ctx;
	memcpy(&x, in, sizeof(x));
	if (x == 13)
		raise(SIGSEGV);
	if (x == 14)
		_exit(3);
	if (tf_call_index(call) == 2) {
		tf_call_error(call, "no %d", 2);
		return 5;
	}
	memcpy(tf_call_result(call, sizeof(x)), &x, sizeof(x));
	return 0;
}

static int fn_echo(struct tf_call *call, const void *in, size_t len,
		   void *ctx)
{
	(void)ctx;
	if (len)
		memcpy(tf_call_result(call, len), in, len);
	return 0;
}

/* A sink that keeps the messages it gets, for the tests to read. */
#define KEPT_MAX 64
struct kept {
	struct tf_strbuf msg[KEPT_MAX];
	size_t n;
	int fail_at; /* this message's send fails (-1: none does) */
};

static int keep_msg(void *arg, struct tf_strbuf *msg)
{
	struct kept *k = arg;

	if ((int)k->n == k->fail_at)
		return TF_EMPI;
	ck_assert_uint_lt(k->n, KEPT_MAX);
	k->msg[k->n++] = *msg;
	tf_strbuf_init(msg); /* taken over, as tf_comm_send() does */
	return 0;
}

static void kept_release(struct kept *k)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		tf_strbuf_release(&k->msg[i]);
	k->n = 0;
}

/* Runs t with messages of at most msg_max bytes into k. */
static int run_split(const struct tf_registry *r, int isolate,
		     const struct tf_ptasks *t, size_t msg_max, struct kept *k)
{
	struct tf_results_sink sink = { keep_msg, NULL, 0 };
	struct tf_strbuf scratch = TF_STRBUF_INIT;
	int rc;

	sink.arg = k;
	sink.msg_max = msg_max;
	k->n = 0;
	rc = tf_poolrun_chunk(r, NULL, isolate, t, &scratch, &sink);
	tf_strbuf_release(&scratch);
	return rc;
}

/* Runs t with the real limit: its results are one message, left in out. */
static int run_one(const struct tf_registry *r, int isolate,
		   const struct tf_ptasks *t, struct tf_strbuf *out)
{
	struct kept k;
	int rc;

	k.fail_at = -1;
	rc = run_split(r, isolate, t, TF_PWIRE_MSG_MAX, &k);
	if (rc)
		return rc;
	ck_assert_uint_eq(k.n, 1);
	tf_strbuf_release(out);
	*out = k.msg[0];
	return 0;
}

/*
 * Decodes the messages in k, checks that they cover tasks first..+count
 * of job 9 in order, and stores task i's record in recs[i] (pointing into
 * k's messages). Returns how many messages were compact.
 */
static size_t kept_records(const struct kept *k, uint64_t first,
			   uint32_t count, struct tf_precord *recs)
{
	uint64_t next = first;
	size_t m, compact = 0;

	for (m = 0; m < k->n; m++) {
		struct tf_presults res;
		size_t off = 0;
		uint32_t i;

		ck_assert_int_eq(tf_pwire_results_decode(k->msg[m].buf,
							 k->msg[m].len, &res),
				 0);
		ck_assert_uint_eq(res.first, next);
		compact += res.form == TF_PWIRE_COMPACT;
		for (i = 0; i < res.count; i++)
			ck_assert_int_eq(tf_pwire_results_record(
						 &res, &off, i,
						 &recs[res.first - first + i]),
					 1);
		next += res.count;
	}
	ck_assert_uint_eq(next, first + count);
	return compact;
}

START_TEST(test_registry)
{
	struct tf_registry r;
	struct tf_strbuf why = TF_STRBUF_INIT;
	char *same[] = { "a", "b", "c" }, *other[] = { "a", "c", "d" };
	char longname[300];

	tf_registry_init(&r);
	ck_assert_int_eq(tf_registry_add(&r, "c", fn_echo), 0);
	ck_assert_int_eq(tf_registry_add(&r, "a", fn_double), 0);
	ck_assert_int_eq(tf_registry_add(&r, "b", fn_odd), 0);
	ck_assert_int_eq(tf_registry_add(&r, "b", fn_odd), TF_EINVAL);
	ck_assert_int_eq(tf_registry_add(&r, "", fn_odd), TF_EINVAL);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(tf_registry_add(&r, longname, fn_odd), TF_EINVAL);
	tf_registry_sort(&r);
	ck_assert_int_eq(tf_registry_find(&r, "a"), 0);
	ck_assert_int_eq(tf_registry_find(&r, "c"), 2);
	ck_assert_int_eq(tf_registry_find(&r, "zz"), -1);
	ck_assert(r.fns[0] == fn_double && r.fns[2] == fn_echo);
	ck_assert_int_eq(tf_registry_diff(&r, same, 3, &why), 0);
	ck_assert_int_eq(tf_registry_diff(&r, other, 3, &why), 1);
	ck_assert_str_eq(why.buf, "'b' missing there, 'd' only there");
	tf_strbuf_release(&why);
	tf_registry_release(&r);
}
END_TEST

static void make_chunk(struct tf_strbuf *sb, struct tf_ptasks *t,
		       const int64_t *in, uint32_t n, uint32_t out_size)
{
	struct tf_ptasks h = { 9, 0, n, 0, 8, out_size, NULL, 0 };

	tf_strbuf_reset(sb);
	tf_pwire_tasks_begin(sb, &h);
	tf_strbuf_add(sb, in, n * sizeof(*in));
	ck_assert_int_eq(tf_pwire_tasks_decode(sb->buf, sb->len, t), 0);
}

START_TEST(test_run_compact)
{
	struct tf_registry r;
	struct tf_strbuf msg = TF_STRBUF_INIT, out = TF_STRBUF_INIT;
	struct tf_ptasks t;
	struct tf_presults res;
	int64_t in[100], got[100];
	int i;

	for (i = 0; i < 100; i++)
		in[i] = i;
	tf_registry_init(&r);
	tf_registry_add(&r, "double", fn_double);
	make_chunk(&msg, &t, in, 100, 8);
	ck_assert_int_eq(run_one(&r, 0, &t, &out), 0);
	ck_assert_int_eq(tf_pwire_results_decode(out.buf, out.len, &res), 0);
	ck_assert_uint_eq(res.form, TF_PWIRE_COMPACT);
	ck_assert_uint_eq(res.data_len, sizeof(got));
	memcpy(got, res.data, sizeof(got));
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(got[i], 2 * i);
	/* A function index out of range is a protocol error. */
	t.fn = 3;
	ck_assert_int_eq(run_one(&r, 0, &t, &out), TF_EPROTO);
	tf_strbuf_release(&msg);
	tf_strbuf_release(&out);
	tf_registry_release(&r);
}
END_TEST

START_TEST(test_run_decompacts_at_first_failure)
{
	struct tf_registry r;
	struct tf_strbuf msg = TF_STRBUF_INIT, out = TF_STRBUF_INIT;
	struct tf_ptasks t;
	struct tf_presults res;
	struct tf_precord rec;
	int64_t in[5] = { 10, 11, 12, 15, 16 }, v;
	size_t off = 0;
	int i;

	tf_registry_init(&r);
	tf_registry_add(&r, "odd", fn_odd);
	make_chunk(&msg, &t, in, 5, 8);
	ck_assert_int_eq(run_one(&r, 0, &t, &out), 0);
	ck_assert_int_eq(tf_pwire_results_decode(out.buf, out.len, &res), 0);
	ck_assert_uint_eq(res.form, TF_PWIRE_RECORDS);
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(tf_pwire_results_next(&res, &off, &rec), 1);
		if (i == 2) {
			ck_assert_int_eq(rec.status, 5);
			ck_assert_uint_eq(rec.errlen, 4);
			ck_assert_mem_eq(rec.error, "no 2", 4);
			ck_assert_uint_eq(rec.len, 0);
			continue;
		}
		ck_assert_int_eq(rec.status, 0);
		ck_assert_uint_eq(rec.len, 8);
		memcpy(&v, rec.result, 8);
		ck_assert_int_eq(v, in[i]);
	}
	tf_strbuf_release(&msg);
	tf_strbuf_release(&out);
	tf_registry_release(&r);
}
END_TEST

START_TEST(test_run_varsize)
{
	struct tf_registry r;
	struct tf_strbuf msg = TF_STRBUF_INIT, out = TF_STRBUF_INIT;
	struct tf_ptasks h = { 1, 5, 2, 0, TF_POOL_VARSIZE, TF_POOL_VARSIZE,
			       NULL, 0 },
			 t;
	struct tf_presults res;
	struct tf_precord rec;
	size_t off = 0;

	tf_registry_init(&r);
	tf_registry_add(&r, "echo", fn_echo);
	tf_pwire_tasks_begin(&msg, &h);
	tf_pwire_add_var(&msg, "first", 5);
	tf_pwire_add_var(&msg, "", 0);
	ck_assert_int_eq(tf_pwire_tasks_decode(msg.buf, msg.len, &t), 0);
	ck_assert_int_eq(run_one(&r, 0, &t, &out), 0);
	ck_assert_int_eq(tf_pwire_results_decode(out.buf, out.len, &res), 0);
	ck_assert_uint_eq(res.first, 5);
	ck_assert_int_eq(tf_pwire_results_next(&res, &off, &rec), 1);
	ck_assert_uint_eq(rec.len, 5);
	ck_assert_mem_eq(rec.result, "first", 5);
	ck_assert_int_eq(tf_pwire_results_next(&res, &off, &rec), 1);
	ck_assert_uint_eq(rec.len, 0);
	tf_strbuf_release(&msg);
	tf_strbuf_release(&out);
	tf_registry_release(&r);
}
END_TEST

/* Fails a task whose input or result buffer is not 8-byte aligned. */
static int fn_aligned(struct tf_call *call, const void *in, size_t len,
		      void *ctx)
{
	void *out = tf_call_result(call, len % 13 + 1);

	(void)ctx;
	if (((uintptr_t)in | (uintptr_t)out) % 8)
		return 1;
	memset(out, 'r', len % 13 + 1);
	return 0;
}

START_TEST(test_run_aligned)
{
	struct tf_registry r;
	struct tf_strbuf msg = TF_STRBUF_INIT, out = TF_STRBUF_INIT;
	struct tf_ptasks h = { 1, 0, 20, 0, TF_POOL_VARSIZE, TF_POOL_VARSIZE,
			       NULL, 0 },
			 t;
	struct tf_presults res;
	struct tf_precord rec;
	char data[40];
	size_t off = 0, i;

	memset(data, 'i', sizeof(data));
	tf_registry_init(&r);
	tf_registry_add(&r, "aligned", fn_aligned);
	tf_pwire_tasks_begin(&msg, &h);
	for (i = 0; i < 20; i++)
		tf_pwire_add_var(&msg, data, i * 3 % 17); /* odd lengths */
	/* A copy in a fresh malloc'd buffer, as a received message is. */
	{
		char *copy = malloc(msg.len);

		memcpy(copy, msg.buf, msg.len);
		ck_assert_int_eq(tf_pwire_tasks_decode(copy, msg.len, &t), 0);
		ck_assert_int_eq(run_one(&r, 0, &t, &out), 0);
		free(copy);
	}
	ck_assert_int_eq(tf_pwire_results_decode(out.buf, out.len, &res), 0);
	for (i = 0; i < 20; i++) {
		ck_assert_int_eq(tf_pwire_results_next(&res, &off, &rec), 1);
		ck_assert_int_eq(rec.status, 0);
		ck_assert_uint_eq(((uintptr_t)rec.result) % 8, 0);
	}
	tf_strbuf_release(&msg);
	tf_strbuf_release(&out);
	tf_registry_release(&r);
}
END_TEST

START_TEST(test_run_isolated_crashes)
{
	struct tf_registry r;
	struct tf_strbuf msg = TF_STRBUF_INIT, out = TF_STRBUF_INIT;
	struct tf_ptasks t;
	struct tf_presults res;
	struct tf_precord rec;
	int64_t in[6] = { 1, 13, 20, 14, 30, 40 }, v;
	size_t off = 0;
	int i;

	tf_registry_init(&r);
	tf_registry_add(&r, "odd", fn_odd);
	make_chunk(&msg, &t, in, 6, 8);
	ck_assert_int_eq(run_one(&r, 1, &t, &out), 0);
	ck_assert_int_eq(tf_pwire_results_decode(out.buf, out.len, &res), 0);
	ck_assert_uint_eq(res.count, 6);
	for (i = 0; i < 6; i++) {
		ck_assert_int_eq(tf_pwire_results_next(&res, &off, &rec), 1);
		if (in[i] == 13) {
			ck_assert_int_eq(rec.status, TF_ECRASH);
			ck_assert(rec.errlen > 0 &&
				  memmem(rec.error, rec.errlen, "signal 11", 9));
		} else if (in[i] == 14) {
			ck_assert_int_eq(rec.status, TF_ECRASH);
			ck_assert(memmem(rec.error, rec.errlen,
					 "exit status 3", 13));
		} else if (i == 2) {
			ck_assert_int_eq(rec.status, 5);
		} else {
			ck_assert_int_eq(rec.status, 0);
			memcpy(&v, rec.result, 8);
			ck_assert_int_eq(v, in[i]);
		}
	}
	ck_assert_int_eq(tf_pwire_results_next(&res, &off, &rec), 0);
	tf_strbuf_release(&msg);
	tf_strbuf_release(&out);
	tf_registry_release(&r);
}
END_TEST

/* A result of the number of bytes its input says, of which it writes
 * only the first and the last: a huge result costs address space only. */
static int fn_claim(struct tf_call *call, const void *in, size_t len,
		    void *ctx)
{
	int64_t want;
	unsigned char *out;

	(void)len;
	(void)ctx;
	memcpy(&want, in, sizeof(want));
	out = tf_call_result(call, (size_t)want);
	if (want) {
		out[0] = 'a';
		out[want - 1] = 'z';
	}
	return 0;
}

START_TEST(test_result_over_limit)
{
	struct tf_registry r;
	struct tf_strbuf msg = TF_STRBUF_INIT;
	struct tf_ptasks t;
	struct tf_precord recs[3];
	struct kept k;
	int64_t in[3] = { 8, (int64_t)TF_POOL_MAX_BYTES + 1, 16 };

	tf_registry_init(&r);
	tf_registry_add(&r, "claim", fn_claim);
	make_chunk(&msg, &t, in, 3, TF_POOL_VARSIZE);
	k.fail_at = -1;
	ck_assert_int_eq(run_split(&r, 0, &t, TF_PWIRE_MSG_MAX, &k), 0);
	ck_assert_uint_eq(k.n, 1);
	kept_records(&k, 0, 3, recs);
	ck_assert_int_eq(recs[0].status, 0);
	ck_assert_uint_eq(recs[0].len, 8);
	/* Over the limit: no result bytes, TF_ETOOBIG and why. */
	ck_assert_int_eq(recs[1].status, TF_ETOOBIG);
	ck_assert_uint_eq(recs[1].len, 0);
	ck_assert(recs[1].errlen > 0 &&
		  memmem(recs[1].error, recs[1].errlen, "2147418113 bytes", 16));
	ck_assert_int_eq(recs[2].status, 0);
	ck_assert_uint_eq(recs[2].len, 16);
	/* The message stays small: the claimed bytes were not sent. */
	ck_assert_uint_lt(k.msg[0].len, 4096);
	kept_release(&k);
	/* The same in a fixed-size chunk, which starts compact. */
	make_chunk(&msg, &t, in, 3, 8);
	ck_assert_int_eq(run_split(&r, 0, &t, TF_PWIRE_MSG_MAX, &k), 0);
	kept_records(&k, 0, 3, recs);
	ck_assert_int_eq(recs[0].status, 0);
	ck_assert_int_eq(recs[1].status, TF_ETOOBIG);
	ck_assert_uint_eq(recs[1].len, 0);
	ck_assert_uint_eq(recs[2].len, 16);
	kept_release(&k);
	tf_strbuf_release(&msg);
	tf_registry_release(&r);
}
END_TEST

START_TEST(test_result_at_limit)
{
	struct tf_registry r;
	struct tf_strbuf msg = TF_STRBUF_INIT;
	struct tf_ptasks t;
	struct tf_precord recs[1];
	struct kept k;
	int64_t in[1] = { (int64_t)TF_POOL_MAX_BYTES };

	tf_registry_init(&r);
	tf_registry_add(&r, "claim", fn_claim);
	make_chunk(&msg, &t, in, 1, TF_POOL_VARSIZE);
	k.fail_at = -1;
	ck_assert_int_eq(run_split(&r, 0, &t, TF_PWIRE_MSG_MAX, &k), 0);
	ck_assert_uint_eq(k.n, 1);
	ck_assert_uint_le(k.msg[0].len, TF_PWIRE_MSG_MAX);
	kept_records(&k, 0, 1, recs);
	ck_assert_int_eq(recs[0].status, 0);
	ck_assert_uint_eq(recs[0].len, TF_POOL_MAX_BYTES);
	ck_assert_int_eq(((const char *)recs[0].result)[0], 'a');
	ck_assert_int_eq(((const char *)recs[0].result)[TF_POOL_MAX_BYTES - 1],
			 'z');
	kept_release(&k);
	tf_strbuf_release(&msg);
	tf_registry_release(&r);
}
END_TEST

/* Results that would make a message too large go out in several, which
 * cover the chunk in order; a record larger than the limit goes alone. */
START_TEST(test_results_split_records)
{
	struct tf_registry r;
	struct tf_strbuf msg = TF_STRBUF_INIT;
	struct tf_ptasks h = { 9, 100, 11, 0, TF_POOL_VARSIZE,
			       TF_POOL_VARSIZE, NULL, 0 },
			 t;
	struct tf_precord recs[11];
	struct kept k;
	char data[300];
	size_t i;

	memset(data, 'd', sizeof(data));
	tf_registry_init(&r);
	tf_registry_add(&r, "echo", fn_echo);
	tf_pwire_tasks_begin(&msg, &h);
	for (i = 0; i < 11; i++) /* records of 72 bytes; the 6th of 316 */
		tf_pwire_add_var(&msg, data, i == 5 ? 300 : 50);
	ck_assert_int_eq(tf_pwire_tasks_decode(msg.buf, msg.len, &t), 0);
	k.fail_at = -1;
	/* 48 + 2 * 72 = 192 bytes fit in 200, a third record does not. */
	ck_assert_int_eq(run_split(&r, 0, &t, 200, &k), 0);
	ck_assert_uint_eq(kept_records(&k, 100, 11, recs), 0);
	/* [0,1] [2,3] [4] [5] [6,7] [8,9] [10] */
	ck_assert_uint_eq(k.n, 7);
	for (i = 0; i < k.n; i++)
		if (k.msg[i].len > 200)
			ck_assert_uint_eq(k.msg[i].len,
					  TF_PWIRE_RESULTS_HDR +
						  tf_pwire_record_size(300, 0));
	for (i = 0; i < 11; i++) {
		ck_assert_int_eq(recs[i].status, 0);
		ck_assert_uint_eq(recs[i].len, i == 5 ? 300 : 50);
	}
	kept_release(&k);
	/* A send that fails ends the chunk with its error. */
	k.fail_at = 1;
	ck_assert_int_eq(run_split(&r, 0, &t, 200, &k), TF_EMPI);
	ck_assert_uint_eq(k.n, 1);
	kept_release(&k);
	tf_strbuf_release(&msg);
	tf_registry_release(&r);
}
END_TEST

START_TEST(test_results_split_compact)
{
	struct tf_registry r;
	struct tf_strbuf msg = TF_STRBUF_INIT;
	struct tf_ptasks t;
	struct tf_precord recs[25];
	struct kept k;
	int64_t in[25], v;
	size_t i;

	for (i = 0; i < 25; i++)
		in[i] = (int64_t)i + 20;
	tf_registry_init(&r);
	tf_registry_add(&r, "double", fn_double);
	tf_registry_add(&r, "odd", fn_odd);
	tf_registry_sort(&r);
	make_chunk(&msg, &t, in, 25, 8);
	k.fail_at = -1;
	/* 10 results a message: as records they would take 48 + 240. */
	t.fn = (uint32_t)tf_registry_find(&r, "double");
	ck_assert_int_eq(run_split(&r, 0, &t, 288, &k), 0);
	ck_assert_uint_eq(k.n, 3);
	ck_assert_uint_eq(kept_records(&k, 0, 25, recs), 3);
	for (i = 0; i < 25; i++) {
		memcpy(&v, recs[i].result, 8);
		ck_assert_int_eq(v, 2 * in[i]);
	}
	kept_release(&k);
	/* A failure (index 2) turns the message into records, which fit. */
	t.fn = (uint32_t)tf_registry_find(&r, "odd");
	ck_assert_int_eq(run_split(&r, 0, &t, 288, &k), 0);
	kept_records(&k, 0, 25, recs);
	for (i = 0; i < k.n; i++)
		ck_assert_uint_le(k.msg[i].len, 288);
	for (i = 0; i < 25; i++) {
		if (i == 2) {
			ck_assert_int_eq(recs[i].status, 5);
			continue;
		}
		ck_assert_int_eq(recs[i].status, 0);
		memcpy(&v, recs[i].result, 8);
		ck_assert_int_eq(v, in[i]);
	}
	kept_release(&k);
	tf_strbuf_release(&msg);
	tf_registry_release(&r);
}
END_TEST

START_TEST(test_results_split_isolated)
{
	struct tf_registry r;
	struct tf_strbuf msg = TF_STRBUF_INIT;
	struct tf_ptasks t;
	struct tf_precord recs[12];
	struct kept k;
	int64_t in[12] = { 1, 13, 20, 14, 30, 40, 50, 60, 70, 80, 90, 100 };
	size_t i;

	tf_registry_init(&r);
	tf_registry_add(&r, "odd", fn_odd);
	make_chunk(&msg, &t, in, 12, 8);
	k.fail_at = -1;
	ck_assert_int_eq(run_split(&r, 1, &t, 120, &k), 0);
	ck_assert_uint_gt(k.n, 2);
	kept_records(&k, 0, 12, recs);
	for (i = 0; i < 12; i++) {
		if (in[i] == 13 || in[i] == 14)
			ck_assert_int_eq(recs[i].status, TF_ECRASH);
		else if (i == 2)
			ck_assert_int_eq(recs[i].status, 5);
		else
			ck_assert_int_eq(recs[i].status, 0);
	}
	kept_release(&k);
	tf_strbuf_release(&msg);
	tf_registry_release(&r);
}
END_TEST

static Suite *pool_suite(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("scheduling");

	tcase_add_test(tc, test_guided);
	tcase_add_test(tc, test_ahead);
	tcase_add_test(tc, test_chunker_probe_then_grow);
	tcase_add_test(tc, test_chunker_long_tasks);
	tcase_add_test(tc, test_chunker_bytes_and_fixed);
	tcase_add_test(tc, test_chunker_message_cost);
	suite_add_tcase(s, tc);

	tc = tcase_create("poolwire");
	tcase_add_test(tc, test_tasks_fixed_roundtrip);
	tcase_add_test(tc, test_tasks_var_roundtrip);
	tcase_add_test(tc, test_results_records);
	tcase_add_test(tc, test_names_and_status);
	tcase_add_test(tc, test_size_limit);
	tcase_add_test(tc, test_results_uniform);
	suite_add_tcase(s, tc);

	tc = tcase_create("poolrun");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_registry);
	tcase_add_test(tc, test_run_compact);
	tcase_add_test(tc, test_run_decompacts_at_first_failure);
	tcase_add_test(tc, test_run_varsize);
	tcase_add_test(tc, test_run_aligned);
	tcase_add_test(tc, test_run_isolated_crashes);
	tcase_add_test(tc, test_results_split_records);
	tcase_add_test(tc, test_results_split_compact);
	tcase_add_test(tc, test_results_split_isolated);
	suite_add_tcase(s, tc);

	/* Results that claim gigabytes, cheaply (untouched pages). */
	tc = tcase_create("limit");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_result_over_limit);
	tcase_add_test(tc, test_result_at_limit);
	suite_add_tcase(s, tc);
	return s;
}

TF_CHECK_MAIN(pool_suite)
