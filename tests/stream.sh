#!/bin/sh
# An open queue: standard input, a pipe or a FIFO streams (a line starts
# as soon as it has arrived and a slot is free, validated as it arrives),
# and --follow reads a regular job file that its producer keeps appending
# to, until a '#TASKFARM end' line or a signal. Without a launcher and
# under mpiexec -n 3 (the master reads the stream).
. "$top_srcdir/tests/lib.sh"

# run MODE ARGS...: tf (MODE local) or mpi 3 (MODE mpi), stdin inherited.
run() {
	mode=$1
	shift
	if [ "$mode" = mpi ]; then mpi 3 "$@"; else tf "$@"; fi
}

# diff_lt A B LIMIT: B - A < LIMIT (seconds, decimals).
diff_lt() {
	awk -v a="$1" -v b="$2" -v l="$3" 'BEGIN { d = b - a;
		if (d >= l || d < -0.05) { printf "# %.3f s (limit %s)\n", d, l;
		exit 1 } }'
}

# ok_ids JOURNAL: the ids journaled ok, sorted, one line.
ok_ids() {
	journal_rows "$1" | awk -F'\t' '$13 == "ok" { print $1 }' | sort -n |
		tr '\n' ' ' | sed 's/ $//'
}

# piped PRODUCER CMD...: CMD (run, tf...) with standard input from the
# function PRODUCER through a pipe (a FIFO, so that CMD runs in this
# shell and its $rc is seen).
piped() {
	producer=$1
	shift
	rm -f p.fifo
	mkfifo p.fifo
	$producer >p.fifo &
	pp=$!
	"$@" <p.fifo
	wait $pp
}

p_latency() {
	sleep 1
	date +%s.%N >written
	echo 'date +%s.%N >started'
	sleep 3
}
p_ntasks() { echo 'echo "n=${TASKFARM_NTASKS-unset}"'; }
p_bad() {
	echo 'echo one'
	echo 'sleep 1; echo two'
	sleep 0.5
	printf 'echo \001\000bad\n'
	echo 'echo after'
}
p_bad_at_once() {
	printf 'echo one\necho two\necho three\necho \\\r x\necho after\n'
}
p_slow10k() {
	seq 10000 | awk '{ print "true " $1 }
		$1 % 500 == 0 { fflush(); system("sleep 1") }'
}

modes=local
if have_mpiexec; then modes="local mpi"; else diag "no $MPIEXEC: local only"; fi

for mode in $modes; do
	# The first line starts within 0.5 s of arriving, while standard
	# input stays open for 3 s more.
	rm -f written started j.tsv*
	piped p_latency took run "$mode" -q --journal j.tsv -
	check "$mode: a streamed run succeeds" rc_is 0
	check "$mode: it lasted while its input was open ($secs s)" \
		awk -v s="$secs" 'BEGIN { exit !(s >= 3.5) }'
	check "$mode: the first task started within 0.5 s of its line" \
		diff_lt "$(cat written)" "$(cat started 2>/dev/null || echo 0)" 0.5
	diag "$mode: line written $(cat written), task started $(cat started)"

	# TASKFARM_NTASKS is unset while the total is not known.
	piped p_ntasks run "$mode" -q --no-journal -
	check "$mode: TASKFARM_NTASKS unset in a stream" grep -qx 'n=unset' out
	echo 'echo "n=${TASKFARM_NTASKS-unset}"' >one.tasks
	run "$mode" -q --no-journal one.tasks
	check "$mode: ... and set for a job file" grep -qx 'n=1' out

	# A bad line mid-stream: the earlier tasks run and are journaled,
	# then exit 2 naming -:LINE; nothing after it runs.
	rm -f j.tsv*
	piped p_bad run "$mode" -q --journal j.tsv -
	check "$mode: a bad line mid-stream exits 2" rc_is 2
	check "$mode: ... naming -:3" grep -q -- '-:3: NUL byte in line' err
	check "$mode: ... the tasks before it journaled ok" \
		test "$(ok_ids j.tsv)" = "1 2"
	check "$mode: ... and nothing after it ran" \
		eval '! grep -q after out && [ "$(journal_rows j.tsv | wc -l)" -eq 2 ]'

	# ... also when it arrives together with them: every task before
	# it runs (each was checked as it arrived), none after it.
	rm -f j.tsv*
	piped p_bad_at_once run "$mode" -q --journal j.tsv -
	check "$mode: a bad line in the same read as good ones exits 2" rc_is 2
	check "$mode: ... every task before it ran and is journaled ok" \
		test "$(ok_ids j.tsv)" = "1 2 3"
	check "$mode: ... none after it" eval '! grep -q after out'

	# 10,000 lines written slowly over about 20 s: each runs once.
	rm -f j.tsv*
	piped p_slow10k took run "$mode" -q --journal j.tsv -
	check "$mode: 10,000 streamed lines: the run succeeds ($secs s)" rc_is 0
	check "$mode: ... each of them journaled ok exactly once" \
		test "$(journal_rows j.tsv | awk -F'\t' '$13 == "ok" { print $1 }' |
			sort -un | wc -l)" -eq 10000 -a \
		"$(journal_rows j.tsv | wc -l)" -eq 10000
	check "$mode: ... with their own commands" \
		test "$(journal_rows j.tsv | awk -F'\t' '$9 != "true " $1' |
			wc -l)" -eq 0
	check "$mode: ... the first ran long before the last was written" \
		awk -v s="$(journal_rows j.tsv | cut -f3 | sort -n | head -n1)" \
			-v e="$(journal_rows j.tsv | cut -f3 | sort -n | tail -n1)" \
			'BEGIN { exit !(e - s > 15) }'
done

# A named pipe given by name streams too.
rm -f fifo started written j.tsv*
mkfifo fifo
p_latency >fifo &
prod=$!
tf -q --journal j.tsv fifo
wait $prod
check "a FIFO by name: the run succeeds" rc_is 0
check "a FIFO by name: the first task started within 0.5 s of its line" \
	diff_lt "$(cat written)" "$(cat started 2>/dev/null || echo 0)" 0.5
# ... and so does an anonymous pipe (a shell's |).
rm -f started written
p_latency | { tf -q --no-journal -; echo $rc >pipe.rc; }
check "a shell pipe: the run succeeds" test "$(cat pipe.rc)" = 0
check "a shell pipe: the first task started within 0.5 s of its line" \
	diff_lt "$(cat written)" "$(cat started 2>/dev/null || echo 0)" 0.5

# --no-stream reads a pipe whole first: a bad last line runs nothing.
rm -f j.tsv*
p_badend() { printf 'echo one\necho two\necho \\\n'; }
piped p_badend tf -q --no-stream --journal j.tsv -
check "--no-stream: a bad last line exits 2" rc_is 2
check "--no-stream: ... and nothing ran" \
	eval '! grep -q one out && [ "$(journal_rows j.tsv 2>/dev/null | wc -l)" -eq 0 ]'
# ... and so does a regular file redirected to standard input.
printf 'echo one\necho two\necho \\\n' >bad.tasks
tf -q --journal j.tsv - <bad.tasks
check "a file on stdin is validated first: exit 2" rc_is 2
check "... and nothing ran" eval '! grep -q one out'
# Directives in a stream: a barrier holds later tasks back; a task that
# needs more slots than any rank has is refused when it arrives.
p_barrier() {
	echo 'sleep 1; date +%s.%N >a.end'
	echo '#TASKFARM barrier'
	echo 'date +%s.%N >b.start'
}
rm -f a.end b.start
piped p_barrier tf -q -j2 --no-journal -
check "a barrier in a stream: exit 0" rc_is 0
check "a barrier in a stream: the task after it started after the one before ended" \
	awk -v a="$(cat a.end)" -v b="$(cat b.start)" 'BEGIN { exit !(b >= a) }'
p_big() { echo 'echo small'; sleep 0.3; echo '#TASKFARM slots 3'; echo 'echo big'; }
rm -f j.tsv*
piped p_big tf -q -j2 --journal j.tsv -
check "a streamed task over any rank's slots: exit 2" rc_is 2
check "... naming -:3" grep -q -- '-:3: the task needs 3 slots' err
check "... after the task before it ran" test "$(ok_ids j.tsv)" = 1

# The progress line of a stream: counts, but no total, percentage or ETA.
p_prog() { for i in 1 2 3 4 5; do echo 'sleep 0.3'; sleep 0.2; done; }
piped p_prog tf --progress --eta -j2 --no-journal -
check "--progress on a stream: counts what is done" grep -q ' done, ' err
check "--progress on a stream: no total or percentage" \
	eval "! tr '\\r' '\\n' <err | grep ' done, ' | grep -E '%|/[0-9]|ETA'"

# --dry-run of a stream prints each command as it arrives.
p_two() { echo 'echo d1'; sleep 0.5; echo 'echo d2'; }
piped p_two tf --dry-run -
check "--dry-run of a stream prints every command" \
	test "$(cat out | tr '\n' ' ')" = "echo d1 echo d2 "
tf --follow --no-stream x
check "--follow with --no-stream is a usage error" rc_is 2
tf --follow -- echo ::: a
check "--follow with a template is a usage error" rc_is 2

# --follow: a file appended to while it runs, up to '#TASKFARM end'.
: >f.tasks
rm -f f.journal.tsv*
"$TF" -q -j2 --follow f.tasks >out 2>err &
bg=$!
for i in 1 2 3; do echo "echo t$i" >>f.tasks; sleep 0.4; done
date +%s.%N >before_end
printf 'echo t4\n#TASKFARM end\necho never\n' >>f.tasks
i=0
while kill -0 $bg 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 $bg 2>/dev/null && kill -9 $bg
wait $bg
rc=$?
check "--follow: ends at '#TASKFARM end', exit 0" rc_is 0
check "--follow: ... ran each line before it once" \
	test "$(ok_ids f.journal.tsv)" = "1 2 3 4"
check "--follow: ... and none after it" eval '! grep -q never out'
check "--follow: ... the first started before the end was written" \
	awk -v s="$(journal_rows f.journal.tsv | cut -f3 | sort -n | head -n1)" \
		-v e="$(cat before_end)" 'BEGIN { exit !(s < e) }'

# --follow stopped by SIGTERM: exit 3, then --resume runs the rest once.
printf 'echo s1\necho s2\n' >g.tasks
rm -f g.journal.tsv*
"$TF" -q -j2 --drain-grace 0 --follow g.tasks >out 2>err &
bg=$!
i=0
while [ "$(journal_rows g.journal.tsv 2>/dev/null | wc -l)" -lt 2 ] &&
	[ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
echo 'sleep 3; echo s3' >>g.tasks
sleep 1.5
kill -TERM $bg
i=0
while kill -0 $bg 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 $bg 2>/dev/null && kill -9 $bg
wait $bg
rc=$?
check "--follow and SIGTERM: exit 3" rc_is 3
diag "$(cut -f1,13 g.journal.tsv)"
check "--follow and SIGTERM: s1 s2 ok, s3 interrupted" \
	test "$(ok_ids g.journal.tsv)" = "1 2" -a \
	"$(journal_rows g.journal.tsv | awk -F'\t' '$1 == 3 { print $13 }')" = \
	interrupted
printf 'echo s4\n#TASKFARM end\n' >>g.tasks
tf -q --resume --follow g.tasks
check "--follow --resume: exit 0" rc_is 0
check "--follow --resume: every task ok exactly once" \
	test "$(ok_ids g.journal.tsv)" = "1 2 3 4"
check "--follow --resume: only the rest ran" \
	test "$(sort out | tr '\n' ' ')" = "s3 s4 "

# A stream resumed: the tasks done are skipped; a stream that does not
# begin with the journal's job is refused (exit 2) unless --force.
p_ab() { printf 'echo a\necho b\n'; }
p_abc() { printf 'echo a\necho b\necho c\n'; }
p_Abcd() { printf 'echo A\necho b\necho c\necho d\n'; }
rm -f j.tsv*
piped p_ab tf -q --journal j.tsv -
piped p_abc tf -q --resume --journal j.tsv -
check "a stream resumed: exit 0" rc_is 0
check "a stream resumed: only the new task ran" test "$(cat out)" = c
piped p_Abcd tf -q --resume --journal j.tsv -
check "a stream that is not the journal's job: exit 2" rc_is 2
check "... saying so" grep -q "cannot resume: what arrived is not" err
piped p_Abcd tf -q --resume --force --journal j.tsv -
check "... unless --force: the changed and the new task run" \
	test "$(sort out | tr '\n' ' ')" = "A d "

finish
