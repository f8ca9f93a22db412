/*
 * Tests for the job file's directives (directive.c, and how jobfile.c
 * takes them in) and for a rank's resources (res.c): the parser's
 * accepted and refused lines, what each task carries (barriers passed,
 * slots, GPUs), errors naming file:line, what follows #TASKFARM end, the
 * fingerprint (unchanged without directives, changed by moving one), and
 * slots, GPUs and CPUs handed to tasks and taken back.
 */
#include "config.h"

#include "check_util.h"

#include "farm/directive.h"
#include "farm/jobfile.h"
#include "farm/res.h"
#include "taskfarm.h"
#include "core/util.h"

static int parse(const char *line, struct tf_directive *d, char *err)
{
	return tf_directive_parse(line, strlen(line), d, err, 256);
}

START_TEST(test_parse)
{
	static const struct {
		const char *line;
		int ret, kind;
		unsigned value;
		const char *err;
	} cases[] = {
		{ "#TASKFARM barrier", 1, TF_DIRECTIVE_BARRIER, 0, NULL },
		{ "  #TASKFARM   barrier  ", 1, TF_DIRECTIVE_BARRIER, 0, NULL },
		{ "#TASKFARM\tslots 4", 1, TF_DIRECTIVE_SLOTS, 4, NULL },
		{ "#TASKFARM gpus 0", 1, TF_DIRECTIVE_GPUS, 0, NULL },
		{ "#TASKFARM gpus 100000", 1, TF_DIRECTIVE_GPUS, 100000, NULL },
		{ "#TASKFARM end\r", 1, TF_DIRECTIVE_END, 0, NULL },
		{ "# TASKFARM barrier", 0, 0, 0, NULL },
		{ "#TASKFARMS barrier", 0, 0, 0, NULL },
		{ "#taskfarm barrier", 0, 0, 0, NULL },
		{ "echo #TASKFARM barrier", 0, 0, 0, NULL },
		{ "#TASKFARM", TF_EPARSE, 0, 0, "without a directive" },
		{ "#TASKFARM barier", TF_EPARSE, 0, 0,
		  "unknown directive '#TASKFARM barier'" },
		{ "#TASKFARM barrier now", TF_EPARSE, 0, 0,
		  "takes no argument, not 'now'" },
		{ "#TASKFARM slots", TF_EPARSE, 0, 0, "one whole number" },
		{ "#TASKFARM slots 0", TF_EPARSE, 0, 0, "from 1 to 100000" },
		{ "#TASKFARM slots 100001", TF_EPARSE, 0, 0, "not '100001'" },
		{ "#TASKFARM slots -2", TF_EPARSE, 0, 0, "not '-2'" },
		{ "#TASKFARM slots 2 3", TF_EPARSE, 0, 0, "not '2 3'" },
		{ "#TASKFARM slots 2x", TF_EPARSE, 0, 0, "not '2x'" },
		{ "#TASKFARM gpus", TF_EPARSE, 0, 0, "from 0 to 100000" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tf_directive d = { 0, 0 };
		char err[256] = "";
		int r = parse(cases[i].line, &d, err);

		ck_assert_msg(r == cases[i].ret, "'%s': %d, not %d (%s)",
			      cases[i].line, r, cases[i].ret, err);
		if (r == 1) {
			ck_assert_int_eq(d.kind, cases[i].kind);
			ck_assert_uint_eq(d.value, cases[i].value);
		}
		if (cases[i].err)
			ck_assert_msg(strstr(err, cases[i].err), "'%s': '%s'",
				      cases[i].line, err);
	}
}
END_TEST

START_TEST(test_format)
{
	struct tf_directive d = { TF_DIRECTIVE_SLOTS, 12 };
	char buf[64];

	tf_directive_format(&d, buf, sizeof(buf));
	ck_assert_str_eq(buf, "slots 12");
	d.kind = TF_DIRECTIVE_BARRIER;
	tf_directive_format(&d, buf, sizeof(buf));
	ck_assert_str_eq(buf, "barrier");
}
END_TEST

static void open_text(struct tf_jobfile *jf, const char *text)
{
	const char *path = write_file("jobs", text, strlen(text));

	ck_assert_int_eq(tf_jobfile_open(jf, path), 0);
}

struct want {
	uint64_t id, barrier;
	uint32_t slots, gpus, gpus_given;
};

static void expect(struct tf_jobfile *jf, const struct want *w)
{
	struct tf_task t;
	int r = tf_jobfile_next(jf, &t);

	ck_assert_msg(r == 1, "task %llu: %d (%s)", (unsigned long long)w->id,
		      r, jf->errmsg);
	ck_assert_uint_eq(t.id, w->id);
	ck_assert_uint_eq(t.barrier, w->barrier);
	ck_assert_uint_eq(t.slots, w->slots);
	ck_assert_uint_eq(t.gpus, w->gpus);
	ck_assert_uint_eq(t.gpus_given, w->gpus_given);
	tf_task_release(&t);
}

START_TEST(test_jobfile_directives)
{
	static const struct want w[] = {
		{ 1, 0, 0, 0, 0 }, { 3, 1, 0, 0, 0 }, { 5, 1, 4, 0, 0 },
		{ 7, 1, 4, 2, 1 }, { 11, 2, 2, 0, 1 },
	};
	struct tf_jobfile jf;
	struct tf_task t;
	size_t i, pass;

	open_text(&jf, "echo a\n"
		       "#TASKFARM barrier\n"
		       "echo b\n"
		       "#TASKFARM slots 4\n"
		       "echo c\n"
		       "#TASKFARM gpus 2\n"
		       "echo d\n"
		       "#TASKFARM barrier\n"
		       "#TASKFARM slots 2\n"
		       "#TASKFARM gpus 0\n"
		       "echo e\n");
	ck_assert_int_eq(tf_jobfile_scan(&jf), 0);
	ck_assert_uint_eq(jf.ntasks, 5);
	ck_assert_uint_eq(jf.max_slots, 4);
	ck_assert_uint_eq(jf.max_slots_line, 5);
	ck_assert_uint_eq(jf.max_gpus, 2);
	ck_assert_uint_eq(jf.max_gpus_line, 7);
	ck_assert_uint_eq(jf.nbarriers, 2);
	/* Twice: a rewind forgets the directives read. */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < sizeof(w) / sizeof(w[0]); i++)
			expect(&jf, &w[i]);
		ck_assert_int_eq(tf_jobfile_next(&jf, &t), 0);
		if (pass == 0)
			ck_assert_int_eq(tf_jobfile_scan(&jf), 0);
	}
	tf_jobfile_close(&jf);
}
END_TEST

static int first_error(const char *text, char *msg, size_t len)
{
	struct tf_jobfile jf;
	int r;

	open_text(&jf, text);
	r = tf_jobfile_scan(&jf);
	snprintf(msg, len, "%s", jf.errmsg);
	tf_jobfile_close(&jf);
	return r;
}

START_TEST(test_jobfile_errors)
{
	char msg[TF_ERRMSG_MAX];

	ck_assert_int_eq(first_error("echo a\n\n#TASKFARM slots x\n", msg,
				     sizeof(msg)),
			 TF_EPARSE);
	ck_assert_msg(strstr(msg, "/jobs:3: #TASKFARM slots takes"), "%s",
		      msg);
	ck_assert_int_eq(first_error("echo a\n#TASKFARM wait\necho b\n", msg,
				     sizeof(msg)),
			 TF_EPARSE);
	ck_assert_msg(strstr(msg, "/jobs:2: unknown directive"), "%s", msg);
	ck_assert_int_eq(first_error("echo a\n#TASKFARM end\n# fine\n\necho b\n",
				     msg, sizeof(msg)),
			 TF_EPARSE);
	ck_assert_msg(strstr(msg, "/jobs:5: a task after '#TASKFARM end'"),
		      "%s", msg);
	ck_assert_int_eq(first_error("#TASKFARM end\n#TASKFARM barrier\n", msg,
				     sizeof(msg)),
			 TF_EPARSE);
	ck_assert_msg(strstr(msg, "/jobs:2: a directive after"), "%s", msg);
	/* Only comments and blank lines after the end: fine. */
	ck_assert_int_eq(first_error("echo a\n#TASKFARM end\n# bye\n\n", msg,
				     sizeof(msg)),
			 0);
	/* A continued task's lines are the task's, not directives. */
	ck_assert_int_eq(first_error("echo a \\\n#TASKFARM nonsense\n", msg,
				     sizeof(msg)),
			 0);
}
END_TEST

static uint64_t fingerprint_of(const char *text)
{
	struct tf_jobfile jf;
	uint64_t fp;

	open_text(&jf, text);
	ck_assert_int_eq(tf_jobfile_scan(&jf), 0);
	fp = jf.fingerprint;
	tf_jobfile_close(&jf);
	return fp;
}

START_TEST(test_fingerprint)
{
	uint64_t id, fp = TF_HASH_INIT;
	const char *plain = "echo a\n# note\necho b\n";

	/* Without directives: what it always was, of ids and commands. */
	id = 1;
	fp = tf_hash(fp, &id, sizeof(id));
	fp = tf_hash(fp, "echo a", 7);
	id = 3;
	fp = tf_hash(fp, &id, sizeof(id));
	fp = tf_hash(fp, "echo b", 7);
	ck_assert_uint_eq(fingerprint_of(plain), fp);
	/* A directive in place of the comment changes it, and so do its
	 * value and where it stands. */
	ck_assert_uint_ne(fingerprint_of("echo a\n#TASKFARM barrier\necho b\n"),
			  fp);
	ck_assert_uint_ne(fingerprint_of("echo a\n#TASKFARM slots 2\necho b\n"),
			  fingerprint_of("echo a\n#TASKFARM slots 3\necho b\n"));
	ck_assert_uint_ne(
		fingerprint_of("#TASKFARM barrier\necho a\n\necho b\n"),
		fingerprint_of("\necho a\n#TASKFARM barrier\necho b\n"));
	ck_assert_uint_eq(fingerprint_of("echo a\n#TASKFARM barrier\necho b\n"),
			  fingerprint_of("echo a\n  #TASKFARM  barrier\necho b\n"));
}
END_TEST

static struct tf_task need(uint32_t slots, int gpus)
{
	struct tf_task t;

	memset(&t, 0, sizeof(t));
	t.slots = slots;
	if (gpus >= 0) {
		t.gpus = (uint32_t)gpus;
		t.gpus_given = 1;
	}
	return t;
}

START_TEST(test_res_slots)
{
	struct tf_strbuf ids = TF_STRBUF_INIT;
	struct tf_res r;
	struct tf_task one = need(0, -1), two = need(2, -1), four = need(4, -1);
	int a, b, c;

	tf_res_init(&r, 4);
	ck_assert(tf_res_could_fit(&r, &four));
	ck_assert(!tf_res_could_fit(&r, &(struct tf_task){ .slots = 5 }));
	a = tf_res_take(&r, &one, &ids, NULL);
	b = tf_res_take(&r, &two, &ids, NULL);
	ck_assert_int_eq(a, 0);
	ck_assert_int_eq(b, 1); /* slots 1 and 2 */
	ck_assert_int_eq(r.nfree, 1);
	ck_assert(!tf_res_fits(&r, &two));
	ck_assert_int_eq(tf_res_take(&r, &two, &ids, NULL), -1);
	ck_assert_int_eq(r.nfree, 1); /* nothing taken */
	tf_res_put(&r, a);
	ck_assert(tf_res_fits(&r, &two));
	c = tf_res_take(&r, &two, &ids, NULL); /* slots 0 and 3 */
	ck_assert_int_eq(c, 0);
	ck_assert_int_eq(r.owner[3], 1);
	ck_assert_int_eq(r.nfree, 0);
	tf_res_put(&r, b);
	tf_res_put(&r, c);
	ck_assert_int_eq(r.nfree, 4);
	ck_assert_int_eq(tf_res_take(&r, &four, &ids, NULL), 0);
	tf_res_release(&r);
	tf_strbuf_release(&ids);
}
END_TEST

START_TEST(test_res_gpus)
{
	struct tf_strbuf ids = TF_STRBUF_INIT;
	struct tf_res r;
	struct tf_task one = need(0, -1), g3 = need(0, 3), g0 = need(0, 0);
	int a, b, c;

	tf_res_init(&r, 3);
	ck_assert_int_eq(tf_res_set_gpus(&r, "4,5", 1), TF_EINVAL);
	ck_assert_int_eq(tf_res_set_gpus(&r, "4,5,6,7", 1), 0);
	ck_assert_int_eq(r.ngpus, 4);
	/* One-slot tasks keep each slot's own id. */
	a = tf_res_take(&r, &one, &ids, NULL);
	ck_assert_str_eq(ids.buf, "4");
	b = tf_res_take(&r, &one, &ids, NULL);
	ck_assert_str_eq(ids.buf, "5");
	ck_assert_int_eq(b, 1);
	tf_res_put(&r, a);
	/* Three asked for: the lowest free ones (4, 6, 7), which leaves
	 * no GPU for a one-slot task of slot 0 or 2. */
	c = tf_res_take(&r, &g3, &ids, NULL);
	ck_assert_int_eq(c, 0);
	ck_assert_str_eq(ids.buf, "4,6,7");
	ck_assert(!tf_res_fits(&r, &one));
	ck_assert(tf_res_fits(&r, &g0));
	ck_assert(!tf_res_could_fit(&r, &(struct tf_task){ .gpus = 5,
							     .gpus_given = 1 }));
	tf_res_put(&r, c);
	tf_res_put(&r, b);
	ck_assert_int_eq(r.nfree_gpus, 4);
	ck_assert_int_eq(r.nfree, 3);
	/* No --gpus-per-slot: the list is only for tasks that ask. */
	ck_assert_int_eq(tf_res_set_gpus(&r, "0,1", 0), 0);
	ck_assert_int_eq(tf_res_take(&r, &one, &ids, NULL), 0);
	ck_assert_uint_eq(ids.len, 0);
	tf_res_release(&r);
	tf_strbuf_release(&ids);
}
END_TEST

START_TEST(test_res_bind)
{
	struct tf_res r;
	struct tf_strbuf ids = TF_STRBUF_INIT;
	struct tf_task two = need(2, -1), one = need(0, -1);
	cpu_set_t mask, got;
	int i, s;

	CPU_ZERO(&mask);
	for (i = 8; i < 16; i++)
		CPU_SET(i, &mask);
	tf_res_init(&r, 4);
	CPU_ZERO(&got);
	ck_assert_int_eq(tf_res_set_bind(&r, &got), TF_EINVAL);
	ck_assert_int_eq(tf_res_set_bind(&r, &mask), 0);
	/* Slot s: CPUs 8+2s and 9+2s, disjoint. */
	for (s = 0; s < 4; s++) {
		ck_assert_int_eq(CPU_COUNT(&r.cpus[s]), 2);
		ck_assert(CPU_ISSET(8 + 2 * s, &r.cpus[s]));
		ck_assert(CPU_ISSET(9 + 2 * s, &r.cpus[s]));
	}
	ck_assert_int_eq(tf_res_take(&r, &one, &ids, &got), 0);
	ck_assert_int_eq(CPU_COUNT(&got), 2);
	ck_assert_int_eq(tf_res_take(&r, &two, &ids, &got), 1);
	ck_assert_int_eq(CPU_COUNT(&got), 4);
	for (i = 10; i < 14; i++)
		ck_assert(CPU_ISSET(i, &got));
	tf_res_release(&r);
	/* Fewer CPUs than slots: slots share them in turn. */
	CPU_ZERO(&mask);
	CPU_SET(3, &mask);
	CPU_SET(5, &mask);
	tf_res_init(&r, 3);
	ck_assert_int_eq(tf_res_set_bind(&r, &mask), 0);
	ck_assert(CPU_ISSET(3, &r.cpus[0]) && CPU_COUNT(&r.cpus[0]) == 1);
	ck_assert(CPU_ISSET(5, &r.cpus[1]) && CPU_COUNT(&r.cpus[1]) == 1);
	ck_assert(CPU_ISSET(3, &r.cpus[2]) && CPU_COUNT(&r.cpus[2]) == 1);
	tf_res_release(&r);
	tf_strbuf_release(&ids);
}
END_TEST

static Suite *directive_suite(void)
{
	Suite *s = suite_create("directive");
	TCase *tc = tcase_create("directive");

	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_add_test(tc, test_parse);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_jobfile_directives);
	tcase_add_test(tc, test_jobfile_errors);
	tcase_add_test(tc, test_fingerprint);
	tcase_add_test(tc, test_res_slots);
	tcase_add_test(tc, test_res_gpus);
	tcase_add_test(tc, test_res_bind);
	suite_add_tcase(s, tc);
	return s;
}

TF_CHECK_MAIN(directive_suite)
