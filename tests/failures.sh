#!/bin/sh
# Failure policies: time limits (seconds and % of the median), retries on
# another rank, --halt in all its forms, --deadline, and their bad values.
. "$top_srcdir/tests/lib.sh"

# status_of JOURNAL ID: the Status column of task ID's attempts, in order.
statuses() {
	awk -F'\t' -v id="$2" '$1 == id { printf "%s%s", sep, $13; sep = " " }' "$1"
}
# statuses_are JOURNAL ID "S1 S2...": task ID's attempts had these Statuses.
statuses_are() {
	[ "$(statuses "$1" "$2")" = "$3" ] ||
		{ diag "task $2: '$(statuses "$1" "$2")', expected '$3'"; return 1; }
}

# --timeout SECONDS: the group gets TERM; the attempt is journaled as a
# timeout; other tasks are unaffected.
printf 'sleep 30\necho fine\n' >to.tasks
took tf --timeout 1 --journal to.tsv to.tasks
check "--timeout 1 stops a 30 s task in about a second" under 10
check "--timeout: a timed-out task makes the exit code 1" rc_is 1
check "--timeout: the attempt is journaled as timeout, signal 15" \
	sh -c "[ \"\$(awk -F'\t' '\$1 == 1 { print \$7, \$8, \$13 }' to.tsv)\" = '143 15 timeout' ]"
check "--timeout: the other task ran" grep -qx fine out
check "--timeout: ... and is journaled ok" statuses_are to.tsv 2 ok

# A task that ignores TERM is KILLed --grace seconds later.
printf "trap '' TERM; sleep 30\n" >stubborn.tasks
took tf --timeout 1 --grace 1 --journal st.tsv stubborn.tasks
check "--timeout + --grace: a task ignoring TERM is killed" under 10
check "--timeout + --grace: journaled as timeout with signal 9" \
	sh -c "[ \"\$(awk -F'\t' '\$1 == 1 { print \$8, \$13 }' st.tsv)\" = '9 timeout' ]"

# --timeout P%: a percentage of the median run time of finished tasks.
{ for i in 1 2 3 4 5 6; do echo "sleep 0.2"; done; echo "sleep 30"; } >pct.tasks
took tf --slots 1 --timeout 500% --journal pct.tsv pct.tasks
check "--timeout 500%: the outlier is stopped at ~5x the median" under 12
check "--timeout 500%: the outlier timed out" statuses_are pct.tsv 7 timeout
check "--timeout 500%: the six others are ok" \
	sh -c "[ \$(awk -F'\t' '\$13 == \"ok\"' pct.tsv | wc -l) -eq 6 ]"

# --retries: each attempt is journaled with its number, TASKFARM_ATTEMPT
# tells the task which try it is, and success on a retry is success.
cat >flaky.sh <<'SH'
n=$(cat "count.$TASKFARM_TASK_ID" 2>/dev/null || echo 0)
n=$((n + 1))
echo $n >"count.$TASKFARM_TASK_ID"
echo "attempt $TASKFARM_ATTEMPT"
[ $n -ge 3 ]
SH
printf 'sh flaky.sh\n' >flaky.tasks
tf --retries 2 --journal fl.tsv flaky.tasks
check "--retries 2: a task that succeeds on its third try makes exit 0" rc_is 0
check "--retries 2: three attempts journaled: failed, failed, ok" \
	statuses_are fl.tsv 1 "failed failed ok"
check "--retries 2: attempts are numbered 1, 2, 3" \
	sh -c "[ \"\$(awk -F'\t' 'NR > 1 { printf \"%s \", \$10 }' fl.tsv)\" = '1 2 3 ' ]"
check "--retries 2: TASKFARM_ATTEMPT is the attempt number" \
	sh -c "[ \"\$(tr '\n' ' ' <out)\" = 'attempt 1 attempt 2 attempt 3 ' ]"
check "--retries: the summary counts the retried attempts" \
	grep -q "1 ok, 0 failed, 2 retried attempts" err

rm -f count.*
tf --retries 1 --journal fl1.tsv flaky.tasks
check "--retries 1: still failing after the retry makes exit 1" rc_is 1
check "--retries 1: two attempts journaled, both failed" \
	statuses_are fl1.tsv 1 "failed failed"

# A timeout counts as a failure for retries too.
printf 'sleep 30\n' >slow.tasks
tf --timeout 0.5 --retries 1 --journal tr.tsv slow.tasks
check "--retries: a timed-out task is retried" \
	statuses_are tr.tsv 1 "timeout timeout"

if have_mpiexec; then
	# A retry goes to another rank than the one where it failed when
	# one is free for it. One task a run, so that no retry is ever
	# reclaimed from a busy rank (which may hand it back to the rank it
	# failed on); three runs, so that chance alone passes 1 in 64.
	printf 'sh flaky.sh\n' >flaky1.tasks
	: >flm.tsv
	for k in 1 2 3; do
		rm -f count.*
		mpi 3 --retries 2 --journal flm$k.tsv flaky1.tasks
		[ "$rc" -eq 0 ] || break
		awk 'NR > 1' flm$k.tsv >>flm.tsv
	done
	check "mpirun --retries: all tasks succeed in the end" rc_is 0
	check "mpirun --retries: no retry ran on the rank its attempt failed on" \
		sh -c "awk -F'\t' '{ if (NR % 3 != 1 && last == \$11) bad = 1; last = \$11 } END { exit bad || NR != 9 }' flm.tsv"
	check "mpirun --retries: each task has attempts 1..3" \
		sh -c "[ \"\$(cut -f10 flm.tsv | tr '\n' ' ')\" = '1 2 3 1 2 3 1 2 3 ' ]"
fi

# --halt now,fail=1: the first failure stops everything, running tasks
# included; soon lets running tasks finish.
printf 'exit 1\nsleep 30\nsleep 30\nsleep 30\nsleep 30\n' >halt.tasks
took tf --slots 2 --halt now,fail=1 --journal hn.tsv halt.tasks
check "--halt now,fail=1: stops at once" under 10
check "--halt now,fail=1: exits 1" rc_is 1
check "--halt now,fail=1: the running task is interrupted" \
	statuses_are hn.tsv 2 interrupted
check "--halt now,fail=1: the rest did not run" grep -q '3 not run' err
printf 'exit 1\nsleep 2\nsleep 2\nsleep 2\nsleep 2\n' >soon.tasks
took tf --slots 2 --halt soon,fail=1 --journal hs.tsv soon.tasks
check "--halt soon,fail=1: exits 1" rc_is 1
check "--halt soon,fail=1: the running task finishes ok" statuses_are hs.tsv 2 ok
check "--halt soon,fail=1: the rest did not run" grep -q '3 not run' err
printf 'echo found\nsleep 30\nsleep 30\n' >search.tasks
took tf --slots 1 --halt now,success=1 --journal hw.tsv search.tasks
check "--halt now,success=1: stops after the first success and exits 0" \
	sh -c "[ $rc -eq 0 ] && grep -qx found out && grep -q '2 not run' err"
check "--halt now,success=1: at once" under 10
# 2 of 4 is 50%: soon,fail=50% halts after the second failure.
printf 'exit 1\nexit 1\necho a\necho b\n' >pct2.tasks
tf --slots 1 --halt soon,fail=50% --journal hp.tsv pct2.tasks
check "--halt soon,fail=50%: halts when half of all tasks failed" \
	sh -c "[ $rc -eq 1 ] && grep -q '2 not run' err"
tf --slots 1 --halt soon,fail=75% --journal hp2.tsv pct2.tasks
check "--halt soon,fail=75%: does not halt at 50%" \
	sh -c "[ $rc -eq 1 ] && grep -q '2 ok, 2 failed' err && ! grep -q 'not run' err"

# --deadline: no task starts that would not finish in time, judging by
# the run times so far; the run stops with exit 3 (resumable).
for i in $(seq 1 12); do echo "sleep 1"; done >dl.tasks
took tf --slots 2 --deadline +3.5 --journal dl.tsv dl.tasks
check "--deadline +3.5: exits 3" rc_is 3
check "--deadline +3.5: ends by the deadline" under 5
check "--deadline: no attempt was cut short (none started too late)" \
	sh -c "! awk -F'\t' 'NR > 1 && \$13 != \"ok\"' dl.tsv | grep -q ."
check "--deadline: the tasks that fitted ran (4 to 6 of them)" \
	sh -c "n=\$(awk -F'\t' 'NR > 1' dl.tsv | wc -l); [ \$n -ge 4 ] && [ \$n -le 6 ]"
printf 'sleep 30\n' >long.tasks
took tf --deadline +1 --grace 1 --journal dl2.tsv long.tasks
check "--deadline: a task still running at the deadline exits 3" rc_is 3
check "--deadline: ... and is journaled as interrupted" \
	statuses_are dl2.tsv 1 interrupted
check "--deadline: ... promptly" under 5

# Bad values: each a clear message and exit 2, before any task starts.
printf 'touch started\n' >mark.tasks
for bad in "--timeout 0" "--timeout -1" "--timeout abc" "--timeout 0%" \
	"--timeout 5%%" "--retries -1" "--retries x" "--halt bogus" \
	"--halt now,fail=0" "--halt now,fail=101%" "--halt later,fail=1" \
	"--deadline 25:00" "--deadline +x" "--drain-grace -1"; do
	# shellcheck disable=SC2086
	tf $bad mark.tasks
	opt=${bad%% *}
	check "$bad: exit 2 naming $opt, no task started" \
		sh -c "[ $rc -eq 2 ] && grep -q -- '$opt' err && [ ! -e started ]"
done
tf --resume --no-journal mark.tasks
check "--resume with --no-journal: exit 2" \
	sh -c "[ $rc -eq 2 ] && grep -q 'needs a journal' err && [ ! -e started ]"

finish
