#include "config.h"
#include "check_util.h"
#include "policy.h"
START_TEST(placeholder) { ck_assert_int_eq(1, 1); }
END_TEST
static Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("placeholder");
	tcase_add_test(tc, placeholder);
	suite_add_tcase(s, tc);
	return s;
}
TF_CHECK_MAIN(policy_suite)
