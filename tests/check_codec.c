/*
 * Tests for the little-endian codecs (core/codec.h): the exact bytes of
 * stores and appends, round trips of extreme values, and a reader that
 * fails on overrun without reading past the end and stays failed.
 */
#include "config.h"

#include "check_util.h"

#include <math.h>
#include <stdint.h>

#include "core/codec.h"
#include "core/util.h"

START_TEST(test_store_load_bytes)
{
	unsigned char b[9] = { 0 };

	tf_le32_store(b + 1, 0x11223344u); /* unaligned */
	ck_assert_uint_eq(b[1], 0x44);
	ck_assert_uint_eq(b[2], 0x33);
	ck_assert_uint_eq(b[3], 0x22);
	ck_assert_uint_eq(b[4], 0x11);
	ck_assert_uint_eq(tf_le32_load(b + 1), 0x11223344u);
	tf_le64_store(b + 1, 0x0102030405060708ull);
	ck_assert_uint_eq(b[1], 0x08);
	ck_assert_uint_eq(b[8], 0x01);
	ck_assert_uint_eq(b[0], 0);
	ck_assert_uint_eq(tf_le64_load(b + 1), 0x0102030405060708ull);
}
END_TEST

START_TEST(test_strbuf_appends)
{
	static const unsigned char want[] = {
		0xab,                                           /* u8 */
		0x04, 0x03, 0x02, 0x01,                         /* u32 */
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* u64 */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, /* 1.0 */
	};
	struct tf_strbuf sb = TF_STRBUF_INIT;

	tf_strbuf_add_u8(&sb, 0xab);
	tf_strbuf_add_u32(&sb, 0x01020304u);
	tf_strbuf_add_u64(&sb, 0x0102030405060708ull);
	tf_strbuf_add_f64(&sb, 1.0);
	ck_assert_uint_eq(sb.len, sizeof(want));
	ck_assert_int_eq(memcmp(sb.buf, want, sizeof(want)), 0);
	ck_assert_int_eq(sb.buf[sb.len], '\0');
	tf_strbuf_release(&sb);
}
END_TEST

/* Appends across the buffer's growth keep every byte. */
START_TEST(test_strbuf_growth)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	struct tf_reader r;
	uint32_t i;

	tf_strbuf_addch(&sb, 'x');
	for (i = 0; i < 10000; i++) {
		tf_strbuf_add_u32(&sb, i * 2654435761u);
		tf_strbuf_add_u8(&sb, (uint8_t)i);
	}
	ck_assert_uint_eq(sb.len, 1 + 10000 * 5);
	tf_reader_init(&r, sb.buf + 1, sb.len - 1);
	for (i = 0; i < 10000; i++) {
		ck_assert_uint_eq(tf_reader_u32(&r), i * 2654435761u);
		ck_assert_uint_eq(tf_reader_u8(&r), (uint8_t)i);
	}
	ck_assert(tf_reader_done(&r));
	tf_strbuf_release(&sb);
}
END_TEST

START_TEST(test_round_trip_extremes)
{
	struct tf_strbuf sb = TF_STRBUF_INIT;
	struct tf_reader r;
	double nan_in = NAN, d;

	tf_strbuf_add_u32(&sb, UINT32_MAX);
	tf_strbuf_add_u64(&sb, UINT64_MAX);
	tf_strbuf_add_u64(&sb, 0);
	tf_strbuf_add_f64(&sb, -0.0);
	tf_strbuf_add_f64(&sb, 1e300);
	tf_strbuf_add_f64(&sb, nan_in);
	tf_reader_init(&r, sb.buf, sb.len);
	ck_assert_uint_eq(tf_reader_u32(&r), UINT32_MAX);
	ck_assert_uint_eq(tf_reader_u64(&r), UINT64_MAX);
	ck_assert_uint_eq(tf_reader_u64(&r), 0);
	d = tf_reader_f64(&r);
	ck_assert(d == 0 && signbit(d));
	ck_assert(tf_reader_f64(&r) == 1e300);
	ck_assert(isnan(tf_reader_f64(&r)));
	ck_assert(tf_reader_done(&r));
	ck_assert(!tf_reader_failed(&r));
	tf_strbuf_release(&sb);
}
END_TEST

/* A 6-byte buffer: a u32 fits, the u64 after it does not, and nothing is
 * consumed or read by the failed getter or any later one. */
START_TEST(test_reader_overrun)
{
	/* Guard bytes after the message: an overread would see them. */
	static const unsigned char buf[10] = { 1, 0, 0, 0, 0xaa, 0xbb,
					       0xff, 0xff, 0xff, 0xff };
	struct tf_reader r;

	tf_reader_init(&r, buf, 6);
	ck_assert_uint_eq(tf_reader_u32(&r), 1);
	ck_assert_uint_eq(tf_reader_left(&r), 2);
	ck_assert_uint_eq(tf_reader_u64(&r), 0);
	ck_assert(tf_reader_failed(&r));
	ck_assert_uint_eq(tf_reader_left(&r), 2);
	/* Stays failed: even a read that would fit yields nothing. */
	ck_assert_uint_eq(tf_reader_u8(&r), 0);
	ck_assert_ptr_null(tf_reader_take(&r, 0));
	ck_assert(!tf_reader_done(&r));
	ck_assert(tf_reader_f64(&r) == 0);
}
END_TEST

START_TEST(test_reader_take)
{
	static const char msg[] = "headpayload";
	struct tf_reader r;
	const char *p;

	tf_reader_init(&r, msg, 11);
	p = tf_reader_take(&r, 4);
	ck_assert_ptr_eq(p, msg);
	p = tf_reader_take(&r, 0); /* zero bytes: fine, at the end too */
	ck_assert_ptr_eq(p, msg + 4);
	ck_assert_ptr_null(tf_reader_take(&r, 8));
	ck_assert(tf_reader_failed(&r));

	tf_reader_init(&r, msg, 11);
	ck_assert_ptr_eq(tf_reader_take(&r, 11), msg);
	ck_assert(tf_reader_done(&r));
	ck_assert_ptr_eq(tf_reader_take(&r, 0), msg + 11);
	ck_assert(tf_reader_done(&r));
	ck_assert_uint_eq(tf_reader_u8(&r), 0);
	ck_assert(tf_reader_failed(&r));
}
END_TEST

START_TEST(test_reader_fail_and_empty)
{
	struct tf_reader r;

	tf_reader_init(&r, NULL, 0);
	ck_assert(tf_reader_done(&r));
	ck_assert_uint_eq(tf_reader_u32(&r), 0);
	ck_assert(tf_reader_failed(&r));

	tf_reader_init(&r, "abcd", 4);
	tf_reader_fail(&r); /* a decoder found a bad value */
	ck_assert_uint_eq(tf_reader_u32(&r), 0);
	ck_assert_uint_eq(tf_reader_left(&r), 4);
	ck_assert(!tf_reader_done(&r));
}
END_TEST

static Suite *codec_suite(void)
{
	Suite *s = suite_create("codec");
	TCase *tc;

	tc = tcase_create("encode");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_store_load_bytes);
	tcase_add_test(tc, test_strbuf_appends);
	tcase_add_test(tc, test_strbuf_growth);
	tcase_add_test(tc, test_round_trip_extremes);
	suite_add_tcase(s, tc);

	tc = tcase_create("reader");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_reader_overrun);
	tcase_add_test(tc, test_reader_take);
	tcase_add_test(tc, test_reader_fail_and_empty);
	suite_add_tcase(s, tc);

	return s;
}

TF_CHECK_MAIN(codec_suite)
