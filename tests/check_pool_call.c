/*
 * Unit tests of pool/call.c, the pool's function executor: the registry
 * of task functions, running a chunk in this process or, isolated, in
 * forked children (a crash becomes that task's error), results over and
 * at TF_POOL_MAX_BYTES, and the splitting of a chunk's results into
 * messages.
 */
#include "config.h"

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>

#include "check_util.h"
#include "core/util.h"
#include "pool/call.h"
#include "pool/wire.h"
#include "taskfarm.h"

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

/* Isolation's time limit per task for run_split(); 0: none. */
static double task_limit;

/* Runs t with messages of at most msg_max bytes into k. */
static int run_split(const struct tf_registry *r, int isolate,
		     const struct tf_ptasks *t, size_t msg_max, struct kept *k)
{
	struct tf_results_sink sink = { keep_msg, NULL, 0, NULL };
	struct tf_strbuf scratch = TF_STRBUF_INIT;
	int rc;

	sink.arg = k;
	sink.msg_max = msg_max;
	k->n = 0;
	rc = tf_call_run_chunk(r, NULL, isolate, task_limit, t, &scratch,
			       &sink);
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
	struct tf_ptasks h = { 9, 0, n, 0, 8, out_size, NULL, 0, 0 };

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

/* Returns its input as its status, with a message for -5002. */
static int fn_status(struct tf_call *call, const void *in, size_t len,
		     void *ctx)
{
	int64_t x;

	(void)len;
	(void)ctx;
	memcpy(&x, in, sizeof(x));
	if (x == -5002)
		tf_call_error(call, "own");
	return (int)x;
}

/* A task's status in the library's range [-5999, -5000] becomes
 * TF_ETASK with the value in its message (a task's own message is kept);
 * in this process and in isolation's child alike. */
START_TEST(test_run_reserved_status)
{
	struct tf_registry r;
	struct tf_strbuf msg = TF_STRBUF_INIT, out = TF_STRBUF_INIT;
	struct tf_ptasks t;
	struct tf_presults res;
	struct tf_precord rec;
	int64_t in[6] = { 0, -5013, -5000, -5999, -5002, -4999 };
	int want[6] = { 0, TF_ETASK, TF_ETASK, TF_ETASK, TF_ETASK, -4999 };
	size_t off = 0;
	int i, isolate = _i;

	tf_registry_init(&r);
	tf_registry_add(&r, "status", fn_status);
	make_chunk(&msg, &t, in, 6, 8);
	ck_assert_int_eq(run_one(&r, isolate, &t, &out), 0);
	ck_assert_int_eq(tf_pwire_results_decode(out.buf, out.len, &res), 0);
	for (i = 0; i < 6; i++) {
		ck_assert_int_eq(tf_pwire_results_next(&res, &off, &rec), 1);
		ck_assert_int_eq(rec.status, want[i]);
	}
	off = 0;
	tf_pwire_results_next(&res, &off, &rec);
	tf_pwire_results_next(&res, &off, &rec);
	ck_assert(memmem(rec.error, rec.errlen, "returned -5013, a value reserved",
			 32));
	tf_pwire_results_next(&res, &off, &rec);
	tf_pwire_results_next(&res, &off, &rec);
	tf_pwire_results_next(&res, &off, &rec);
	ck_assert_uint_eq(rec.errlen, 3);
	ck_assert_mem_eq(rec.error, "own", 3);
	tf_strbuf_release(&msg);
	tf_strbuf_release(&out);
	tf_registry_release(&r);
}
END_TEST

/* Sleeps the milliseconds its input says, then echoes it. */
static int fn_sleep(struct tf_call *call, const void *in, size_t len,
		    void *ctx)
{
	int64_t ms;

	(void)len;
	(void)ctx;
	memcpy(&ms, in, sizeof(ms));
	usleep((useconds_t)ms * 1000);
	memcpy(tf_call_result(call, sizeof(ms)), &ms, sizeof(ms));
	return 0;
}

/* An isolated task past its time limit is killed and gets TF_ETIMEDOUT;
 * the tasks before and after it in the chunk run as usual, and a slow
 * chunk of tasks each within the limit is not cut short. */
START_TEST(test_run_isolated_time_limit)
{
	struct tf_registry r;
	struct tf_strbuf msg = TF_STRBUF_INIT, out = TF_STRBUF_INIT;
	struct tf_ptasks t;
	struct tf_presults res;
	struct tf_precord rec;
	int64_t in[4] = { 10, 20000, 10, 10 }, within[4] = { 150, 150, 150, 150 };
	double t0;
	size_t off = 0;
	int i;

	tf_registry_init(&r);
	tf_registry_add(&r, "sleep", fn_sleep);
	task_limit = 0.3;
	make_chunk(&msg, &t, in, 4, 8);
	t0 = tf_now();
	ck_assert_int_eq(run_one(&r, 1, &t, &out), 0);
	ck_assert(tf_now() - t0 < 5.0);
	ck_assert_int_eq(tf_pwire_results_decode(out.buf, out.len, &res), 0);
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(tf_pwire_results_next(&res, &off, &rec), 1);
		if (i == 1) {
			ck_assert_int_eq(rec.status, TF_ETIMEDOUT);
			ck_assert(memmem(rec.error, rec.errlen,
					 "time limit of 0.3 s", 19));
		} else {
			ck_assert_int_eq(rec.status, 0);
		}
	}
	/* 4 x 150 ms runs past 0.3 s, but no task does. */
	off = 0;
	make_chunk(&msg, &t, within, 4, 8);
	ck_assert_int_eq(run_one(&r, 1, &t, &out), 0);
	ck_assert_int_eq(tf_pwire_results_decode(out.buf, out.len, &res), 0);
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(tf_pwire_results_next(&res, &off, &rec), 1);
		ck_assert_int_eq(rec.status, 0);
	}
	task_limit = 0;
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
			       NULL, 0, 0 },
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
			       NULL, 0, 0 },
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
			       TF_POOL_VARSIZE, NULL, 0, 0 },
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

static Suite *pool_call_suite(void)
{
	Suite *s = suite_create("pool_call");
	TCase *tc = tcase_create("call");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_registry);
	tcase_add_test(tc, test_run_compact);
	tcase_add_test(tc, test_run_decompacts_at_first_failure);
	tcase_add_test(tc, test_run_varsize);
	tcase_add_test(tc, test_run_aligned);
	tcase_add_test(tc, test_run_isolated_crashes);
	tcase_add_loop_test(tc, test_run_reserved_status, 0, 2);
	tcase_add_test(tc, test_run_isolated_time_limit);
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

TF_CHECK_MAIN(pool_call_suite)
