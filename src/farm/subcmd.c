/*
 * taskfarm report and taskfarm status (subcmd.h): their options, their
 * usage errors, and the printing of what the library's modules
 * (jreport.c, htmlreport.c, status.c) gather and format.
 */
#include "config.h"

#include "farm/subcmd.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "farm/exit.h"
#include "farm/htmlreport.h"
#include "farm/jreport.h"
#include "farm/status.h"
#include "taskfarm.h"

static const char report_usage[] =
	"usage: taskfarm report JOURNAL [-o FILE.html]\n"
	"\n"
	"Writes one self-contained HTML page (no script, no network) on the run\n"
	"JOURNAL records: a timeline with one row per rank and slot and one bar\n"
	"per attempt (past 20000 attempts, one mark per slot and time bin),\n"
	"utilisation over time with each run's idle tail, a histogram of run\n"
	"times, the slowest attempts, the failures grouped by status and exit\n"
	"value, per rank figures, and each run of a resumed campaign (by JobId).\n"
	"JOURNAL may also be a GNU parallel --joblog.\n"
	"\n"
	"Options:\n"
	"  -o, --output FILE       write the page to FILE (default: JOURNAL.html;\n"
	"                          - for standard output)\n"
	"  -h, --help              this text\n"
	"\n"
	"Exit status: 0 written; 2 usage error, or a missing or damaged journal\n"
	"(FILE:LINE: problem); 4 the page could not be written.\n";

static const char status_usage[] =
	"usage: taskfarm status JOURNAL [--json]\n"
	"\n"
	"Prints how far the run writing JOURNAL (or the last one) got: tasks\n"
	"done, failed and remaining out of the total, the last run's rate and\n"
	"ETA, whether its owner still holds the journal's lock, and the last\n"
	"failures. Reads JOURNAL and JOURNAL.meta and takes no lock, so it may\n"
	"run at any time, from any node that sees the file (whether the lock is\n"
	"held is known only on the owner's host). JOURNAL may also be a GNU\n"
	"parallel --joblog.\n"
	"\n"
	"Options:\n"
	"      --json              the same facts as one JSON object\n"
	"  -h, --help              this text\n"
	"\n"
	"Exit status: 0 printed; 2 usage error, or a missing or damaged journal\n"
	"(FILE:LINE: problem); 4 an I/O error.\n";

static int sub_usage_error(const char *cmd, const char *msg, const char *arg)
{
	fprintf(stderr, "taskfarm %s: ", cmd);
	fprintf(stderr, msg, arg);
	fprintf(stderr, "\nTry 'taskfarm %s --help'.\n", cmd);
	return TF_EXIT_USAGE;
}

/* The exit code of a failed read: bad input is a usage error. */
static int read_error(const char *cmd, int ret, const char *err)
{
	fprintf(stderr, "taskfarm %s: %s\n", cmd, err);
	return ret == TF_EPARSE || ret == -ENOENT || ret == -EISDIR ||
			       ret == -EACCES
		       ? TF_EXIT_USAGE
		       : TF_EXIT_INTERNAL;
}

int tf__cmd_report(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct tf_strbuf out = TF_STRBUF_INIT;
	struct tf_jreport jr;
	const char *output = NULL;
	char err[1024];
	FILE *f;
	int c, ret;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", longs, NULL)) != -1) {
		if (c == 'h') {
			fputs(report_usage, stdout);
			return TF_EXIT_OK;
		}
		if (c != 'o')
			return sub_usage_error("report", "%s",
					       "unknown option or missing value");
		if (!*optarg)
			return sub_usage_error("report", "%s",
					       "--output needs a file name");
		output = optarg;
	}
	if (argc - optind != 1)
		return sub_usage_error("report", "%s",
				       argc == optind ? "no journal given"
						      : "one journal expected");
	ret = tf_jreport_load(&jr, argv[optind], err, sizeof(err));
	if (ret < 0)
		return read_error("report", ret, err);
	if (!output) {
		tf_strbuf_addf(&out, "%s.html", argv[optind]);
		output = out.buf;
	}
	f = strcmp(output, "-") == 0 ? stdout : fopen(output, "we");
	if (!f) {
		fprintf(stderr, "taskfarm report: %s: %s\n", output,
			strerror(errno));
		ret = TF_EXIT_INTERNAL;
	} else {
		ret = tf_html_report(f, &jr, argv[optind], TF_HTML_MAX_BARS);
		if (f != stdout && fclose(f) == EOF && ret == 0)
			ret = -errno;
		if (ret < 0)
			fprintf(stderr, "taskfarm report: %s: %s\n", output,
				strerror(-ret));
		ret = ret < 0 ? TF_EXIT_INTERNAL : TF_EXIT_OK;
	}
	tf_jreport_release(&jr);
	tf_strbuf_release(&out);
	return ret;
}

int tf__cmd_status(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct tf_status_facts *s = tf__xmalloc(sizeof(*s));
	struct tf_strbuf sb = TF_STRBUF_INIT;
	char err[1024];
	int c, ret, json = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		if (c == 'h') {
			fputs(status_usage, stdout);
			free(s);
			return TF_EXIT_OK;
		}
		if (c != 'j') {
			free(s);
			return sub_usage_error("status", "%s",
					       "unknown option or missing value");
		}
		json = 1;
	}
	if (argc - optind != 1) {
		free(s);
		return sub_usage_error("status", "%s",
				       argc == optind ? "no journal given"
						      : "one journal expected");
	}
	ret = tf_status_gather(s, argv[optind], err, sizeof(err));
	if (ret < 0) {
		free(s);
		return read_error("status", ret, err);
	}
	if (json)
		tf_status_json(s, &sb);
	else
		tf_status_format(s, &sb);
	fputs(sb.buf, stdout);
	ret = fflush(stdout) == EOF ? TF_EXIT_INTERNAL : TF_EXIT_OK;
	tf_strbuf_release(&sb);
	free(s);
	return ret;
}
