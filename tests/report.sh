#!/bin/sh
# taskfarm report on a real mixed run: mpirun -n 3 with tasks that
# succeed, fail (exit 1, exit 3), time out (--timeout) and are interrupted
# (SIGTERM to the master: a drain with --drain-grace 0), then --resume to
# finish, each run with its own SLURM_JOB_ID. The page is opened in
# headless Chromium: its DOM has one bar per journal line, the failure
# table lists every failed command, and both runs appear with their
# JobIds; a screenshot is kept as tests/report.png-artifact. Without
# Chromium the test fails under CI=true and is skipped otherwise.
. "${top_srcdir:-.}/tests/lib.sh"

have_mpiexec || skip_all "no MPI launcher ($MPIEXEC)"
CHROMIUM=
for c in chromium chromium-browser google-chrome; do
	if command -v $c >/dev/null 2>&1; then
		CHROMIUM=$c
		break
	fi
done
if [ -z "$CHROMIUM" ]; then
	if [ "${CI:-}" = true ]; then
		echo "Bail out! no chromium under CI (tools/debian-deps.sh installs it)"
		exit 1
	fi
	skip_all "no chromium (Debian: apt-get install chromium)"
fi
browser() {
	timeout -k 5 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
		--user-data-dir="$SCRATCH/chromium-profile" "$@" 2>>chromium.log
}

mark=$$
{
	for i in 1 2 3 4 5 6; do echo "sleep 0.1"; done
	echo "exit 1"
	echo "sh -c 'exit 3'"
	echo "sleep 3$mark"
	for i in 1 2 3 4 5 6 7 8; do echo "sleep 1.$i"; done
} >mixed.tasks

SLURM_JOB_ID=7001 "$MPIEXEC" -n 3 "$TF" --slots 1 --timeout 2 \
	--drain-grace 0 --journal j.tsv mixed.tasks >out 2>err &
bg=$!
# Signal the master (its pid is the .meta's owner) once the timeout is in.
i=0
while ! grep -q '	timeout	' j.tsv 2>/dev/null && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
sleep 0.5
master=$(awk '$1 == "owner" { print $3 }' j.tsv.meta)
diag "master pid $master after $((i / 10)) s"
kill -TERM "$master"
wait $bg
rc=$?
check "the first run is interrupted (exit 3)" launcher_rc_is 3
interrupted=$(journal_rows j.tsv | awk -F'\t' '$13 == "interrupted"' | wc -l)
check "its journal has interrupted attempts" [ "$interrupted" -ge 1 ]
SLURM_JOB_ID=7002 timeout -k 10 180 "$MPIEXEC" -n 3 "$TF" --resume --slots 1 \
	--timeout 2 --journal j.tsv mixed.tasks >out2 2>err2
rc=$?
check "the resumed run ends with the earlier failures (exit 1)" rc_is 1
attempts=$(journal_rows j.tsv | wc -l)
jobids=$(journal_rows j.tsv | cut -f17 | sort -u | tr '\n' ' ')
check "both runs are in the journal" [ "$jobids" = "7001 7002 " ]

tf report j.tsv -o report.html
check "report exits 0" rc_is 0
check "the page is written" test -s report.html
check "the page names no address (self-contained)" sh -c "! grep -qi 'http' report.html"
check "the page loads nothing (no src=, url(), script)" \
	sh -c "! grep -qiE 'src=|url\\(|<script|<link' report.html"
tf report j.tsv
check "report's default output is JOURNAL.html" sh -c "[ $rc -eq 0 ] && cmp -s j.tsv.html report.html"

browser --dump-dom "file://$SCRATCH/report.html" >dom.html
check "Chromium loads the page" sh -c 'grep -q "</svg>" dom.html'
if ! grep -q "</svg>" dom.html; then
	diag "chromium:" "$(tail -n 5 chromium.log)"
fi
bars=$(grep -o '<rect class="bar [^"]*" data-id="[0-9]*" data-attempt="[0-9]*"' dom.html | sort -u | wc -l)
diag "$attempts attempts, $bars bars"
check "the timeline has one bar per attempt" [ "$bars" -eq "$attempts" ]
check "the bars have each id and attempt of the journal" sh -c "
	[ \"\$(grep -o 'data-id=\"[0-9]*\" data-attempt=\"[0-9]*\"' dom.html | tr -dc '0-9 \n' | sed 's/^ *//' | awk '{print \$1, \$2}' | sort)\" = \
	  \"\$(tail -n +2 j.tsv | cut -f1,10 | tr '\t' ' ' | sort)\" ]"
sed -n '/<table id="failures">/,/<\/table>/p' dom.html >failures.html
journal_rows j.tsv | awk -F'\t' '$13 != "ok" { print $9 }' | sort -u >failed.txt
diag "failed commands: $(tr '\n' ',' <failed.txt)"
check "some commands failed" test -s failed.txt
missing=0
while IFS= read -r cmd; do
	esc=$(printf '%s' "$cmd" | sed "s/&/\\&amp;/g; s/</\\&lt;/g; s/>/\\&gt;/g; s/'/\\&#39;/g")
	grep -qF "<td class=\"cmd\">$cmd</td>" failures.html ||
		grep -qF "<td class=\"cmd\">$esc</td>" failures.html ||
		{ diag "not in the failure table: $cmd"; missing=$((missing + 1)); }
done <failed.txt
check "the failure table lists every failed command" [ "$missing" -eq 0 ]
check "the failure table groups a timeout (exit 143, signal 15)" \
	grep -q "timeout, exit value 143, signal 15" failures.html
check "the failure table groups exit value 3" grep -q "failed, exit value 3, signal 0" failures.html
check "the failure table groups interrupted attempts" grep -q "interrupted, exit value" failures.html
check "the page shows both runs with their JobIds" sh -c \
	"[ \$(grep -c '<tr class=\"run\">' dom.html) -eq 2 ] && grep -q '<td class=\"jobid\">7001</td>' dom.html && grep -q '<td class=\"jobid\">7002</td>' dom.html"
check "the timeline has a band per run" sh -c \
	"grep -q 'data-jobid=\"7001\"' dom.html && grep -q 'data-jobid=\"7002\"' dom.html"
check "per rank: ranks 1 and 2" sh -c "[ \$(grep -c '<tr class=\"rank\">' dom.html) -eq 2 ]"

shot=$top_builddir/tests/report.png-artifact
rm -f "$shot"
# (Chromium wants a name ending in .png.)
browser --screenshot="$SCRATCH/report.png" --window-size=1400,2000 \
	"file://$SCRATCH/report.html" >/dev/null
cp report.png "$shot" 2>/dev/null
check "a screenshot is saved (tests/report.png-artifact)" sh -c \
	"[ -s '$shot' ] && [ \"\$(head -c 4 '$shot' | tail -c 3)\" = PNG ]"

# Bad input: the same FILE:LINE error as --resume, exit 2.
cp j.tsv bad.tsv
printf '99\tbroken line\n' >>bad.tsv
tf report bad.tsv -o bad.html
check "a damaged journal: exit 2" rc_is 2
check "a damaged journal: FILE:LINE" grep -q "bad.tsv:$((attempts + 2)): damaged journal line: fewer than 17 fields" err
tf report
check "report without a journal: exit 2" rc_is 2
tf report j.tsv other.tsv
check "report with two journals: exit 2" rc_is 2
tf report --bogus j.tsv
check "report with an unknown option: exit 2" rc_is 2
tf report nonexistent.tsv
check "report of a missing journal: exit 2" sh -c "[ $rc -eq 2 ] && grep -q 'nonexistent.tsv: No such file' err"
tf report --help
check "report --help: exit 0, its usage" sh -c "[ $rc -eq 0 ] && grep -q '^usage: taskfarm report JOURNAL' out"

# A journal from before the JobId column (16 columns) reads too.
{
	printf 'Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\tAttempt\tRank\tSlot\tStatus\tMaxRSS\tUserCPU\tSysCPU\n'
	journal_rows j.tsv | cut -f1-16
} >old16.tsv
tf report old16.tsv -o old16.html
check "a 16-column journal: exit 0, one bar per line" sh -c \
	"[ $rc -eq 0 ] && [ \$(grep -c '<rect class=\"bar ' old16.html) -eq $attempts ]"
tf status old16.tsv
check "a 16-column journal: status counts it" grep -q "^tasks: .* done, .* failed" out

# A GNU parallel joblog reads too.
printf 'Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n1\t:\t1700000000.000\t     1.000\t0\t0\t0\t0\ttrue\n2\t:\t1700000000.000\t     2.000\t0\t0\t1\t0\tfalse\n' >joblog.txt
tf report joblog.txt -o joblog.html
check "a GNU parallel joblog: two bars, false in the failures" sh -c \
	"[ $rc -eq 0 ] && [ \$(grep -c '<rect class=\"bar ' joblog.html) -eq 2 ] && grep -q '<td class=\"cmd\">false</td>' joblog.html"

finish
