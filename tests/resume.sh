#!/bin/sh
# Resume: after a drain, --resume runs what is left and skips what is
# done; --resume-failed reruns failures; a changed job is refused unless
# --force; a second run on the same journal is refused; a torn last line
# is dropped, damage elsewhere refused.
. "$top_srcdir/tests/lib.sh"

# ok_once JOURNAL N: tasks 1..N each have exactly one ok line.
ok_once() {
	[ "$(awk -F'\t' 'NR > 1 && $13 == "ok" { print $1 }' "$1" | sort -n | uniq -c |
		awk '$1 != 1 { bad = 1 } END { print (bad ? "dup" : NR) }')" = "$2" ]
}

# Eight half-second tasks that note each start in a ledger.
for i in 1 2 3 4 5 6 7 8; do
	echo "echo \$TASKFARM_TASK_ID >>ledger; sleep 0.5; echo t$i"
done >job.tasks

"$TF" --slots 2 --drain-grace 0 --journal j.tsv job.tasks >out 2>err &
pid=$!
i=0
while [ "$(cat ledger 2>/dev/null | wc -l)" -lt 4 ] && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
kill -TERM $pid
wait $pid
rc=$?
check "a drained run exits 3" rc_is 3
done_before=$(awk -F'\t' 'NR > 1 && $13 == "ok"' j.tsv | wc -l)
check "the drained run journaled its interrupted attempts" \
	sh -c "[ \$(awk -F'\t' 'NR > 1 && \$13 == \"interrupted\"' j.tsv | wc -l) -ge 1 ]"
cp ledger ledger.1

tf --slots 2 --resume --journal j.tsv job.tasks
check "--resume finishes the job" rc_is 0
check "--resume: every task has exactly one success in the journal" ok_once j.tsv 8
check "--resume: the summary counts the skipped tasks" \
	grep -q ", $done_before skipped (done before)" err
# Started twice: exactly the tasks whose first attempt was interrupted.
interrupted() {
	awk -F'\t' 'NR > 1 && $13 == "interrupted" { print $1 }' j.tsv | sort -n | tr '\n' ' '
}
check "--resume: no task that had succeeded was started again" \
	sh -c "[ \"\$(sort -n ledger | uniq -d | tr '\n' ' ')\" = '$(interrupted)' ]"
check "--resume: an interrupted task runs again with the next attempt number" \
	sh -c "awk -F'\t' 'NR > 1 && \$13 == \"interrupted\" { i[\$1] = \$10 } NR > 1 && \$13 == \"ok\" && (\$1 in i) { if (\$10 != i[\$1] + 1) bad = 1; n++ } END { exit bad || !n }' j.tsv"
check "--resume appends to the journal (no .prev)" test ! -e j.tsv.prev

tf --resume --journal j.tsv job.tasks
check "--resume of a finished job runs nothing and exits 0" \
	sh -c "[ $rc -eq 0 ] && grep -q '0 tasks in .* 8 skipped' err && [ ! -s out ]"

# Failed tasks are skipped by --resume and rerun by --resume-failed.
printf 'echo a\nexit 1\n' >fail.tasks
tf --journal f.tsv fail.tasks
tf --resume --journal f.tsv fail.tasks
check "--resume skips a failed task, and exits 1 saying so" \
	sh -c "[ $rc -eq 1 ] && grep -q '1 skipped (done before), 1 failed before (--resume-failed reruns them)' err && [ \$(awk 'NR > 1' f.tsv | wc -l) -eq 2 ]"
tf --resume-failed --journal f.tsv fail.tasks
check "--resume-failed reruns it, as attempt 2" \
	sh -c "[ $rc -eq 1 ] && [ \"\$(awk -F'\t' 'NR > 1 && \$1 == 2 { printf \"%s \", \$10 }' f.tsv)\" = '1 2 ' ]"

# A changed job is refused, and --force reruns only what changed.
cp job.tasks edited.tasks
tf --journal e.tsv edited.tasks
sed -i 's/echo t3$/echo t3-changed/' edited.tasks
tf --resume --journal e.tsv edited.tasks
check "--resume against a changed job exits 2" rc_is 2
check "... naming the journal and the way out" \
	sh -c "grep -q 'e.tsv belongs to a different job' err && grep -q -- '--force' err"
tf --resume --force --journal e.tsv edited.tasks
check "--resume --force reruns exactly the changed line" \
	sh -c "[ $rc -eq 0 ] && [ \"\$(cat out)\" = t3-changed ] && grep -q '7 skipped' err"

# Template mode resumes too, with its own fingerprint.
tf --journal tm.tsv -- echo {1}{2} ::: a b ::: 1 2
tf --resume --journal tm.tsv -- echo {1}{2} ::: a b ::: 1 2
check "template: --resume skips all four" \
	sh -c "[ $rc -eq 0 ] && grep -q '4 skipped' err"
tf --resume --journal tm.tsv -- echo {1}{2} ::: a b ::: 1 3
check "template: changed arguments are refused" rc_is 2

# A lock keeps a second run off a journal in use, naming the holder.
printf 'sleep 5\n' >lock.tasks
"$TF" --journal lk.tsv lock.tasks >/dev/null 2>&1 &
holder=$!
i=0
while ! grep -q "^owner .* $holder " lk.tsv.meta 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
tf --journal lk.tsv lock.tasks
check "a second run on a journal in use exits 2" rc_is 2
check "... naming the first run's host and pid" \
	sh -c "grep -q 'lk.tsv is in use by another taskfarm run (host $(hostname), pid $holder' err"
tf --resume --journal lk.tsv lock.tasks
check "... also with --resume" rc_is 2
kill -TERM $holder
wait $holder
tf --drain-grace 0 --resume --journal lk.tsv lock.tasks
check "after the first run ends the journal is free again" rc_is 0

# A torn last line (a kill in the middle of a write) is dropped with a
# warning, and the journal stays clean afterwards.
tf --journal t.tsv job.tasks
head -n 4 t.tsv >torn.tsv
sed -n 5p t.tsv | head -c 20 >>torn.tsv
cp t.tsv.meta torn.tsv.meta
tf --resume --journal torn.tsv job.tasks
check "a torn last line: --resume goes on" rc_is 0
check "... with a warning" grep -q "torn.tsv ends in a line cut short" err
check "... and every line of the journal is whole afterwards" \
	every_line_has_fields torn.tsv 17
check "... and the job is complete, each task once" ok_once torn.tsv 8

# Damage anywhere else is an error naming the line; nothing runs.
rm -f ledger
awk -F'\t' 'BEGIN { OFS = "\t" } NR == 3 { $13 = "bogus" } { print }' t.tsv >bad.tsv
cp t.tsv.meta bad.tsv.meta
tf --resume --journal bad.tsv job.tasks
check "a damaged middle line: --resume exits 2 naming JOURNAL:LINE" \
	sh -c "[ $rc -eq 2 ] && grep -q 'bad.tsv:3: damaged journal line' err && [ ! -e ledger ]"
printf 'not a journal\n' >alien.tsv
tf --resume --journal alien.tsv job.tasks
check "a file that is not a journal: --resume exits 2" \
	sh -c "[ $rc -eq 2 ] && grep -q 'alien.tsv:1: not a taskfarm journal' err && [ ! -e ledger ]"

if have_mpiexec; then
	# The same under mpirun: drain by SIGUSR1, resume, complete.
	rm -f ledger
	"$MPIEXEC" -n 3 "$TF" --drain-grace 0 --journal m.tsv job.tasks >out 2>err &
	pid=$!
	i=0
	while [ "$(cat ledger 2>/dev/null | wc -l)" -lt 2 ] && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	sleep 0.3
	kill -USR1 $pid
	wait $pid
	rc=$?
	# Hydra's exit status after the signal may be 0 (lib.sh).
	check "mpirun: a drained run exits 3" launcher_rc_is 3
	mpi 3 --resume --journal m.tsv job.tasks
	check "mpirun: --resume finishes the job" rc_is 0
	check "mpirun: every task has exactly one success" ok_once m.tsv 8
fi

finish
