#!/bin/sh
# The report and status of a large journal: a synthetic journal of N lines
# (1,000,000 by default; 17 columns, two runs with JobIds, 64 ranks of 4
# slots, log-normal run times, a failure in 200 and a timeout in 1000,
# made by an awk generator with a fixed seed) is read by `taskfarm report`
# and `taskfarm status`; it prints the seconds each took and the page's
# size against the targets: at most 10 s and 20 MB for the report of
# 1,000,000 lines.
#
# Knobs (environment): BENCH_LINES (1000000), BENCH_SEED (42),
# BENCH_DIR (a temporary directory), top_builddir (default: the current
# directory, if it holds src/taskfarm).
set -eu

me=bench/report.sh

. "$(dirname "$0")/lib.sh"
target=bench-report
find_build

N=${BENCH_LINES:-1000000}
SEED=${BENCH_SEED:-42}
whole BENCH_LINES "$N" 1
whole BENCH_SEED "$SEED" 0
dir=${BENCH_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/tf-bench-report.XXXXXX")}
[ -n "${BENCH_DIR:-}" ] || trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir"
J=$dir/journal.tsv

now() { date +%s.%N; }

t=$(now)
awk -v n="$N" -v seed="$SEED" 'BEGIN {
	srand(seed)
	OFS = "\t"
	print "Seq", "Host", "Starttime", "JobRuntime", "Send", "Receive",
	      "Exitval", "Signal", "Command", "Attempt", "Rank", "Slot",
	      "Status", "MaxRSS", "UserCPU", "SysCPU", "JobId"
	ranks = 64; slots = 4; rows = ranks * slots
	for (r = 0; r < rows; r++) free_at[r] = 1700000000
	for (i = 1; i <= n; i++) {
		job = i <= n * 0.6 ? "4242" : "4243"
		if (i == int(n * 0.6) + 1)  # the resumed run starts later
			for (r = 0; r < rows; r++) free_at[r] += 600
		r = (i - 1) % rows
		# log-normal run time around 2 s
		u1 = rand(); u2 = rand(); if (u1 < 1e-12) u1 = 1e-12
		z = sqrt(-2 * log(u1)) * cos(6.283185307 * u2)
		rt = exp(0.7 + 0.9 * z)
		st = "ok"; ev = 0; sg = 0
		if (i % 200 == 0) { st = "failed"; ev = 1 }
		else if (i % 1000 == 7) { st = "timeout"; ev = 143; sg = 15 }
		start = free_at[r] + 0.01
		free_at[r] = start + rt
		printf "%d\tnode%03d\t%.3f\t%.3f\t0\t%d\t%d\t%d\tsim --case %d --seed %d\t1\t%d\t%d\t%s\t%d\t%.3f\t%.3f\t%s\n",
			i, int(r / slots) + 1, start, rt, 12, ev, sg, i, i % 97,
			int(r / slots) + 1, r % slots + 1, st,
			20000 + int(rand() * 50000), rt * 0.9, rt * 0.05, job
	}
}' >"$J"
gen=$(awk -v a="$t" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
lines=$(($(wc -l <"$J") - 1))
echo "journal: $lines lines, $(($(wc -c <"$J") / 1048576)) MB, generated in $gen s"

t=$(now)
"$TF" report "$J" -o "$dir/report.html"
rs=$(awk -v a="$t" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
mb=$(awk -v s="$(wc -c <"$dir/report.html")" 'BEGIN { printf "%.2f", s / 1048576 }')
t=$(now)
"$TF" status "$J" >"$dir/status.txt"
ss=$(awk -v a="$t" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')

verdict() { # VALUE LIMIT: within the target (scaled to the lines read)?
	awk -v v="$1" -v l="$2" -v n="$lines" 'BEGIN {
		l = l * (n > 1000000 ? n / 1000000 : 1)
		print (v <= l ? "ok" : "MISSED") }'
}
echo "report: $rs s (target <= 10 s): $(verdict "$rs" 10)"
echo "report: $mb MB (target <= 20 MB): $(verdict "$mb" 20)"
echo "status: $ss s"
sed 's/^/  /' "$dir/status.txt"
