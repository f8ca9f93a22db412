/*
 * Unit tests of pool/wire.c, the pool's encoding: TASKS messages with
 * fixed-size and variable-size inputs, RESULTS in their record, compact
 * and uniform forms, the HELLO/START/status messages of the handshake,
 * and the size limit.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "check_util.h"
#include "core/util.h"
#include "pool/call.h" /* TF_POOL_ERR_MAX */
#include "pool/wire.h"
#include "taskfarm.h"

START_TEST(test_tasks_fixed_roundtrip)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	struct tf_ptasks t = { 7, 100, 3, 2, 4, 8, NULL, 0, 0 }, d;
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

/* A chunk of futures says so in its flags; unknown flags are refused. */
START_TEST(test_tasks_futures_flag)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	struct tf_ptasks t = { 3, 0, 1, 0, TF_POOL_VARSIZE, TF_POOL_VARSIZE,
			       NULL, 0, TF_PWIRE_FUTURES },
			 d;

	tf_pwire_tasks_begin(&sb, &t);
	tf_pwire_add_var(&sb, "abc", 3);
	ck_assert_int_eq(tf_pwire_tasks_decode(sb.buf, sb.len, &d), 0);
	ck_assert_uint_eq(d.flags, TF_PWIRE_FUTURES);
	tf_strbuf_reset(&sb);
	t.flags = 2;
	tf_pwire_tasks_begin(&sb, &t);
	tf_pwire_add_var(&sb, "abc", 3);
	ck_assert_int_eq(tf_pwire_tasks_decode(sb.buf, sb.len, &d), TF_EPROTO);
	tf_strbuf_release(&sb);
}
END_TEST

START_TEST(test_tasks_var_roundtrip)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	struct tf_ptasks t = { 1, 0, 3, 0, TF_POOL_VARSIZE, TF_POOL_VARSIZE,
			       NULL, 0, 0 },
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

static Suite *pool_wire_suite(void)
{
	Suite *s = suite_create("pool_wire");
	TCase *tc = tcase_create("poolwire");

	tcase_add_test(tc, test_tasks_fixed_roundtrip);
	tcase_add_test(tc, test_tasks_var_roundtrip);
	tcase_add_test(tc, test_tasks_futures_flag);
	tcase_add_test(tc, test_results_records);
	tcase_add_test(tc, test_names_and_status);
	tcase_add_test(tc, test_size_limit);
	tcase_add_test(tc, test_results_uniform);
	suite_add_tcase(s, tc);
	return s;
}

TF_CHECK_MAIN(pool_wire_suite)
