#!/bin/sh
# --joblog against GNU parallel itself: the file taskfarm writes is
# parallel's joblog (header, columns, Command raw with a newline as NUL),
# and parallel's --resume, --resume-failed and --retry-failed on it do
# exactly the right thing: retries give one line per task, interrupted
# tasks none, timeouts and signals count as failures, job-file Seqs are
# line numbers. taskfarm --resume reads a journal parallel appended to,
# and refuses a parallel joblog saying what to do. -j N is tasks at once.
. "$top_srcdir/tests/lib.sh"

command -v parallel >/dev/null 2>&1 ||
	skip_all "GNU parallel is not installed (Debian: apt-get install parallel)"
parallel --version 2>/dev/null | grep -q 'GNU parallel' ||
	skip_all "'parallel' is not GNU parallel (moreutils'?)"
export PARALLEL_HOME="$SCRATCH/.parallel" PARALLEL_SHELL=/bin/sh
mkdir -p "$PARALLEL_HOME"
# par ARGS...: GNU parallel with a timeout (a command, for sh -c too).
mkdir -p bin
printf '#!/bin/sh\nexec timeout -k 10 120 parallel --will-cite "$@"\n' >bin/par
chmod +x bin/par
PATH="$SCRATCH/bin:$PATH"
export PATH

export HEADER
HEADER=$(printf 'Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand')

# shape FILE: parallel's header, then lines of parallel's exact shape.
shape() {
	[ "$(head -n 1 "$1")" = "$HEADER" ] &&
		tail -n +2 "$1" | grep -Ev "^[0-9]+	[^[:space:]]+	[0-9]+\.[0-9]{3}	 *[0-9]+\.[0-9]{3}	[0-9]+	[0-9]+	-?[0-9]+	[0-9]+	" |
		{ ! grep -q .; }
}

# --- 1. header and columns, as parallel's own joblog for the same job
tf --joblog J -- 'echo {}; exit {}' ::: 0 1 2
check "a run with failures exits 1" rc_is 1
check "--joblog: parallel's header and line shape" shape J
check "--joblog: 9 fields a line" every_line_has_fields J 9
par --joblog P 'echo {}; exit {}' ::: 0 1 2 >/dev/null
check "--joblog: Seq, Send, Receive, Exitval, Signal, Command as parallel's" \
	sh -c "[ \"\$(tail -n +2 J | cut -f1,5-9 | sort)\" = \"\$(tail -n +2 P | cut -f1,5-9 | sort)\" ]"
check "--joblog: JobRuntime padded to 10 as parallel's %10.3f" \
	sh -c "tail -n +2 J | cut -f4 | grep -qx '     0\.[0-9][0-9][0-9]'"

# --- 2, 3. --resume and --resume-failed by Seq
check "parallel --resume on the joblog runs nothing of the same job" \
	sh -c "[ -z \"\$(par --dry-run --resume --joblog J 'echo {}; exit {}' ::: 0 1 2)\" ]"
check "parallel --resume runs only the new task" \
	sh -c "[ \"\$(par --dry-run --resume --joblog J 'echo {}; exit {}' ::: 0 1 2 3)\" = 'echo 3; exit 3' ]"
check "parallel --resume-failed reruns exactly the failures and the new task" \
	sh -c "[ \"\$(par --dry-run -k --resume-failed --joblog J 'echo {}; exit {}' ::: 0 1 2 3 | tr '\n' '|')\" = 'echo 1; exit 1|echo 2; exit 2|echo 3; exit 3|' ]"

# --- 4. --retry-failed runs the failed commands and nothing else
mkdir sentinel
touch sentinel/1 sentinel/0 sentinel/failed sentinel/ok
tf --joblog R -- 'touch sentinel/ran.{}; exit 1' ::: a 'b c'
check "retry: the first run fails both" rc_is 1
rm -f sentinel/ran.*
par --retry-failed --joblog R >/dev/null 2>par.err
prc=$?
check "parallel --retry-failed exits with the failure count (2)" [ "$prc" -eq 2 ]
check "parallel --retry-failed reran both commands" \
	test -f sentinel/ran.a -a -f "sentinel/ran.b c"
check "parallel --retry-failed touched nothing else" \
	sh -c "[ \"\$(ls sentinel | sort | tr '\n' '|')\" = '0|1|failed|ok|ran.a|ran.b c|' ]"
check "parallel --retry-failed --dry-run prints field 9 exactly" \
	sh -c "[ \"\$(par --dry-run --retry-failed --joblog R | sort)\" = \"\$(tail -n +2 R | cut -f9- | sort -u)\" ]"

# --- 5. a raw tab, a backslash and a newline survive --retry-failed
printf "printf 'x\\ty\\\\\\\\z\\\\n'; exit 1\n" >tabs.tasks
tf --joblog T tabs.tasks
cp out tabs.out1
tf --joblog N -- 'printf "[%s]\n" {}; exit 1' ::: "$(printf 'l1\nl2')"
cp out nl.out1
check "the joblog keeps a tab raw" sh -c "tail -n +2 T | cut -f9- | grep -q \"x	y\""
check "the joblog writes a newline as NUL" \
	sh -c "tail -n +2 N | tr '\\000' '@' | grep -q 'l1@l2'"
par --retry-failed --joblog T >tabs.out2 2>/dev/null
check "parallel --retry-failed reproduces a command with a tab and a backslash" \
	cmp -s tabs.out1 tabs.out2
par --retry-failed --joblog N >nl.out2 2>/dev/null
check "parallel --retry-failed reproduces a command with a newline" \
	cmp -s nl.out1 nl.out2

# --- 6. retries: one line per task, the last attempt's
tf -r 2 --joblog Y -- 'echo x >>n.{}; [ $(wc -l <n.{}) -ge 2 ]' ::: a b
check "retries: the run succeeds" rc_is 0
check "retries: one joblog line per task" \
	sh -c "[ \"\$(tail -n +2 Y | cut -f1 | sort -n | tr '\n' ' ')\" = '1 2 ' ]"
check "retries: the line is the successful last attempt" \
	sh -c "[ \"\$(tail -n +2 Y | cut -f7,8 | sort -u)\" = \"\$(printf '0\t0')\" ]"
check "retries: parallel --resume-failed runs nothing" \
	sh -c "[ -z \"\$(par --dry-run --resume-failed --joblog Y 'echo x >>n.{}; [ \$(wc -l <n.{}) -ge 2 ]' ::: a b)\" ]"

# --- 7. interrupted tasks have no line, so parallel runs them again
"$TF" -s 2 --drain-grace 0 --joblog I -- 'sleep {}' ::: 0.1 0.1 3 3 >/dev/null 2>int.err &
pid=$!
sleep 1
kill -INT $pid
wait $pid
rc=$?
check "interrupted: exit 3" rc_is 3
check "interrupted: only the finished tasks are in the joblog" \
	sh -c "[ \"\$(tail -n +2 I | cut -f1 | sort -n | tr '\n' ' ')\" = '1 2 ' ]"
check "interrupted: parallel --resume runs the interrupted tasks again" \
	sh -c "[ \"\$(par --dry-run --resume --joblog I 'sleep {}' ::: 0.1 0.1 3 3 | tr '\n' '|')\" = 'sleep 3|sleep 3|' ]"

# --- 8. a timeout and a signal are failures, written as parallel does
printf 'sleep 5\nkill -TERM $$\ntrue\n' >sig.tasks
tf -t 1 --joblog S sig.tasks
check "timeout and signal: exit 1" rc_is 1
check "timeout: Exitval -1 and the signal" \
	sh -c "tail -n +2 S | awk -F'\t' '\$1 == 1 && \$7 == -1 && \$8 > 0' | grep -q ."
check "signal: Exitval 0 and Signal 15, as parallel" \
	sh -c "tail -n +2 S | awk -F'\t' '\$1 == 2 && \$7 == 0 && \$8 == 15' | grep -q ."
check "timeout and signal: parallel --resume-failed reruns both" \
	sh -c "[ \"\$(par --dry-run -k --resume-failed --joblog S -a sig.tasks | tr '\n' '|')\" = 'sleep 5|kill -TERM \$\$|' ]"

# --- 8b. --halt now: the tasks it kills get no line, as in parallel
printf 'sleep 5\nsleep 0.3; exit 3\n' >halt.tasks
tf -s 2 --halt now,fail=1 --joblog H halt.tasks
check "--halt now: exit 1" rc_is 1
check "--halt now: only the failure is in the joblog" \
	sh -c "[ \"\$(tail -n +2 H | cut -f1,7)\" = \"\$(printf '2\t3')\" ]"

# --- 9. a job file: Seq is the line number
printf 'echo L1\n\n# c\necho L4\n' >seq.tasks
tf --joblog Q seq.tasks
check "job file: the run succeeds" rc_is 0
check "job file: Seq is the line number" \
	sh -c "[ \"\$(tail -n +2 Q | cut -f1 | sort -n | tr '\n' ' ')\" = '1 4 ' ]"
check "job file: parallel --resume -a leaves only the blank and comment lines" \
	sh -c "[ \"\$(par --dry-run -k --resume --joblog Q -a seq.tasks | tr '\n' '|')\" = '|# c|' ]"

printf 'echo L1\necho L2 \\\n  cont3\n' >cont.tasks
tf --joblog C cont.tasks
check "job file with a continuation: warned, naming the line" \
	grep -q "cont.tasks:2 continues on the next line.*taskfarm --resume" err
tf --joblog Q2 seq.tasks
check "job file without one: no such warning" \
	sh -c "! grep -q 'continues on the next' err"

# --- 10. taskfarm --resume after parallel appended to the journal
tf --journal jr.tsv -- 'echo {} >>ledger; test -e flag.{}' ::: a b
check "appended: the first run fails" rc_is 1
touch flag.a flag.b
par --resume-failed --joblog jr.tsv 'echo {} >>ledger; test -e flag.{}' ::: a b
check "appended: parallel appended its lines to the journal" \
	sh -c "[ \$(wc -l <jr.tsv) -eq 5 ]"
tf --resume --journal jr.tsv -- 'echo {} >>ledger; test -e flag.{}' ::: a b
check "appended: taskfarm --resume takes parallel's successes (exit 0)" rc_is 0
check "appended: taskfarm --resume ran nothing again" \
	sh -c "[ \$(wc -l <ledger) -eq 4 ]"

par --joblog pj.tsv 'test {} != b' ::: a b c
tf --resume --journal pj.tsv -- 'test {} != b' ::: a b c
check "a parallel joblog as journal: refused (exit 2)" rc_is 2
check "a parallel joblog as journal: the message says what to do" \
	grep -q "GNU parallel joblog.*parallel --resume --joblog" err
check "a parallel joblog as journal: left as it was" \
	sh -c "[ \$(wc -l <pj.tsv) -eq 4 ]"

# --- 11. the header is always there; --resume appends to the joblog
: >E
tf --joblog E -- true ::: 1 2 3
check "an empty joblog gets the header" sh -c "[ \"\$(head -n 1 E)\" = \"\$HEADER\" ]"
check "header present: parallel --resume runs nothing" \
	sh -c "[ -z \"\$(par --dry-run --resume --joblog E true ::: 1 2 3)\" ]"
tf --joblog E --journal e.tsv -- 'exit {}' ::: 0 1
tf --resume-failed --joblog E --journal e.tsv -- 'exit {}' ::: 0 1
check "--resume appends to the joblog, one header" \
	sh -c "[ \$(grep -c '^Seq' E) -eq 1 ] && [ \$(wc -l <E) -eq 4 ]"
tf --joblog e.tsv --journal e.tsv -- true ::: 1
check "--joblog onto the journal itself: refused" rc_is 2

# --- 11b. under the launcher: the workers' lines name their host
if have_mpiexec; then
	mpi 3 -s 1 --joblog M -- 'echo {}; exit {}' ::: 0 1 2 3
	check "mpi: the run exits 1" rc_is 1
	check "mpi: one line per task" \
		sh -c "[ \$(tail -n +2 M | cut -f1 | sort -u | wc -l) -eq 4 ]"
	check "mpi: workers' lines carry a host, not ':'" \
		sh -c "tail -n +2 M | cut -f2 | grep -vqx ':'"
	check "mpi: parallel --resume-failed reruns the three failures" \
		sh -c "[ \"\$(par --dry-run -k --resume-failed --joblog M 'echo {}; exit {}' ::: 0 1 2 3 | tr '\n' '|')\" = 'echo 1; exit 1|echo 2; exit 2|echo 3; exit 3|' ]"
else
	ok "# SKIP no $MPIEXEC"
fi

# --- 12. -j N: tasks at once, and no file named N
tf -j 4 --no-journal -- ': {}; sleep 0.5; echo $TASKFARM_SLOT' ::: 1 2 3 4 5 6 7 8
check "-j 4: the run succeeds" rc_is 0
check "-j 4: four slots in use" sh -c "[ \$(sort -u out | wc -l) -eq 4 ]"
check "-j 4: no file named 4" test ! -e 4
slots_of() { # slots_of JOBS: the slots taskfarm and parallel use
	tf -j "$1" --no-journal -- ': {}; sleep 0.3; echo $TASKFARM_SLOT' ::: $(seq 12)
	t=$(sort -u out | wc -l)
	p=$(par -j "$1" 'sleep 0.3; echo {%}' ::: $(seq 12) | sort -u | wc -l)
	[ "$t" -eq "$p" ] || { diag "-j $1: taskfarm $t slots, parallel $p"; return 1; }
}
for j in +1 -1 50% 150%; do
	check "-j $j: as many at once as parallel" slots_of "$j"
done
for j in 0 abc 1.5 ''; do
	tf -j "$j" -- true ::: 1
	check "-j '$j': a usage error (exit 2)" rc_is 2
done
check "-j: the message names the accepted forms" grep -q -- "+N, -N or P%" err

finish
