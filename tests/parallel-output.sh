#!/bin/sh
# GNU parallel's output options: -k (task order, whatever order tasks
# finish in, locally and under mpirun -n 3, retries included),
# --line-buffer (lines as they come, never half lines mixed) and
# --tagstring (a rendered prefix on every line).
. "$top_srcdir/tests/lib.sh"

# Tasks 1..9 finish in reverse order: task N sleeps (10-N)/10 s.
order_cmd='sleep 0.$((10 - {})); echo "task {} a"; echo "task {} b"'

# in_order FILE: lines are task 1 a, task 1 b, ..., task 9 b.
in_order() {
	for i in 1 2 3 4 5 6 7 8 9; do
		echo "task $i a"
		echo "task $i b"
	done >want
	cmp -s want "$1"
}

tf --no-journal -s 3 -- "$order_cmd" ::: 1 2 3 4 5 6 7 8 9
check "local: the run exits 0" rc_is 0
check "local: without -k, tasks that finish first print first" \
	sh -c 'head -1 out | grep -qv "task 1 a"'
tf --no-journal -s 3 -k -- "$order_cmd" ::: 1 2 3 4 5 6 7 8 9
check "local -k: exits 0" rc_is 0
check "local -k: output in task order" in_order out

if have_mpiexec; then
	mpi 3 --no-journal -s 2 -k -- "$order_cmd" ::: 1 2 3 4 5 6 7 8 9
	check "mpirun -n 3 -k: exits 0" rc_is 0
	check "mpirun -n 3 -k: output in task order" in_order out
	mpi 3 --no-journal -s 2 -- "$order_cmd" ::: 1 2 3 4 5 6 7 8 9
	check "mpirun -n 3 without -k: the first line is not task 1's" \
		sh -c 'head -1 out | grep -qv "task 1 a"'
fi

# A failed attempt and its retry print in task 2's place, before task 3.
tf --no-journal -s 3 -k -r 2 -- 'if [ {} = 2 ] && [ "$TASKFARM_ATTEMPT" -lt 3 ]; then echo "try $TASKFARM_ATTEMPT"; exit 1; fi; sleep 0.$((5 - {})); echo "task {}"' ::: 1 2 3 4
check "-k -r: exits 0" rc_is 0
printf 'task 1\ntry 1\ntry 2\ntask 2\ntask 3\ntask 4\n' >want.r
check "-k -r: a retried task's attempts print in its place" cmp -s want.r out

# The bound: while task 1 runs (5 s), the 1,499 others finish at once; -k holds
# at most the writer's 1024 results, then starts no task until task 1 is
# done and lets them out.
seq 1500 >want.bound
tf --journal bound.tsv -s 4 -k -- '[ {} != 1 ] || sleep 5; echo {}' ::: $(seq 1500)
check "-k bound: exits 0" rc_is 0
check "-k bound: 1500 lines in order" cmp -s want.bound out
started_before_task1_ended() {
	awk -F'\t' 'NR > 1 && $1 == 1 { end = $3 + $4 } NR > 1 { s[NR] = $3 }
		END { for (i in s) if (s[i] < end) n++; print n + 0 }' bound.tsv
}
n=$(started_before_task1_ended)
diag "-k bound: $n tasks started while task 1 ran"
check "-k bound: no more than the bound (1024) and the slots started meanwhile" \
	[ "$n" -le 1040 ]

# --line-buffer: task 1's first line comes before task 2's line, which
# comes while task 1 still runs; half lines wait for their newline.
cat >lb.sh <<'EOS'
case $1 in
1) echo early; sleep 1.2; printf 'late-'; sleep 0.4; echo end ;;
2) sleep 0.5; printf 'mid-'; sleep 0.4; echo end ;;
esac
EOS
seq 1500 >want.1500
# bytes_are JOURNAL "ID:BYTES,...": column 6 (output bytes) by task.
bytes_are() {
	[ "$(journal_rows "$1" | cut -f1,6 | sort | tr '\t\n' ':,')" = "$2" ]
}
tf --no-journal -s 2 --line-buffer -- sh lb.sh ::: 1 2
check "--line-buffer: exits 0" rc_is 0
printf 'early\nmid-end\nlate-end\n' >want.lb
check "--line-buffer: lines as they come, half lines held" cmp -s want.lb out
tf --no-journal -s 2 -- sh lb.sh ::: 1 2
printf 'mid-end\nearly\nlate-end\n' >want.group
check "without --line-buffer: each task's output whole at its end" \
	cmp -s want.group out

# The same on workers (-s 1: the master runs none): their lines cross MPI
# as they come, and the journal counts the bytes that went ahead.
if have_mpiexec; then
	mpi 3 --journal lbw.tsv -s 1 --line-buffer -- sh lb.sh ::: 1 2
	check "mpirun -n 3 --line-buffer: exits 0" rc_is 0
	check "mpirun -n 3 --line-buffer: workers' lines as they come, half lines held" \
		cmp -s want.lb out
	ranks_are() {
		[ "$(journal_rows "$1" | cut -f11 | sort | tr '\n' ' ')" = "$2" ]
	}
	check "mpirun -n 3 --line-buffer: both ran on workers" ranks_are lbw.tsv '1 2 '
	check "mpirun -n 3 --line-buffer: the journal counts the bytes written ahead" \
		bytes_are lbw.tsv '1:15,2:8,'
	mpi 3 --no-journal -s 2 --line-buffer -- 'for k in 1 2 3 4 5; do printf "T{} "; sleep 0.0{}; printf "line $k\n"; done' ::: 1 2 3 4 5 6 7 8
	check "mpirun -n 3 --line-buffer: 40 whole lines from 4 worker slots" \
		sh -c '[ $(wc -l <out) -eq 40 ] && ! grep -Ev "^T[1-8] line [1-5]$" out'
	# A stalled stdout: rank 0's goes through a pipe nobody reads for
	# 10 s (mpirun's own would buffer without bound). More line chunks
	# than the writer holds (1024) wait in the master, then come out
	# whole, each task's in order.
	cat >stall.sh <<'EOS'
if [ "${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-0}}" = 0 ]; then
	"$TF" "$@" | { sleep 10; cat; }
else
	exec "$TF" "$@"
fi
EOS
	TF=$TF timeout -k 10 180 "$MPIEXEC" -n 3 sh stall.sh -vv --journal lbs.tsv -s 1 --line-buffer -- \
		'p=$(printf "%0180d" 0); k=0; while [ $k -lt 1500 ]; do k=$((k + 1)); echo "T{} line $k $p"; sleep 0.001; done' ::: 1 2 \
		>out 2>err
	check "mpirun -n 3 --line-buffer, stdout stalled: the lines waited in the master" \
		grep -q "the output writer is full; its lines wait for its result" err
	check "mpirun -n 3 --line-buffer, stdout stalled: 3000 whole lines, each task's in order" \
		sh -c '[ $(wc -l <out) -eq 3000 ] &&
			for t in 1 2; do grep "^T$t line " out | cut -d" " -f3 | cmp -s - want.1500 || exit 1; done'
	check "mpirun -n 3 --line-buffer, stdout stalled: the journal counts every byte" \
		bytes_are lbs.tsv "1:$(grep '^T1 ' out | wc -c),2:$(grep '^T2 ' out | wc -c),"
fi

# Many tasks writing half lines at once: every line is whole.
tf --no-journal -s 4 --line-buffer -- 'for k in 1 2 3 4 5; do printf "T{} "; sleep 0.0{}; printf "line $k\n"; done' ::: 1 2 3 4 5 6 7 8
check "--line-buffer: 40 lines" sh -c '[ $(wc -l <out) -eq 40 ]'
check "--line-buffer: never a half line mixed with another task's" \
	sh -c '! grep -Ev "^T[1-8] line [1-5]$" out'
check "--line-buffer: the journal rule holds (all ok)" rc_is 0

tf --journal lb.tsv --joblog lb.jl -s 2 --line-buffer -- sh lb.sh ::: 1 2
journal_ok() {
	[ "$(journal_rows "$1" | grep -c "$(printf '\tok\t')")" -eq "$2" ]
}
check "--line-buffer: both tasks journaled ok" journal_ok lb.tsv 2
# Column 6 counts the lines written ahead too: task 1 printed "early\n"
# (ahead) and "late-end\n", task 2 "mid-end\n".
check "--line-buffer: the journal counts the bytes written ahead" \
	bytes_are lb.tsv '1:15,2:8,'
check "--line-buffer: the joblog's Receive counts them too" \
	bytes_are lb.jl '1:15,2:8,'

# --tagstring: rendered per task, a tab, every line (the last one ended).
tf --no-journal --tagstring '{#}:{1}:{%}' -s 1 -- 'echo one; printf "two"' ::: x y
check "--tagstring: exits 0" rc_is 0
printf '1:x:1\tone\n1:x:1\ttwo\n2:y:1\tone\n2:y:1\ttwo\n' >want.tag
check "--tagstring: {#} {1} {%} on every line" cmp -s want.tag out
tf --no-journal --tagstring 'plain' -- 'echo {}' ::: a
check "--tagstring: no replacement string, nothing appended" \
	sh -c "[ \"\$(cat out)\" = \"\$(printf 'plain\ta')\" ]"
printf 'echo j1\necho j2\n' >tag.tasks
tf --no-journal --tagstring 'L{#}' -k tag.tasks
check "--tagstring with a job file: {#} is the line, with -k" \
	sh -c "[ \"\$(cat out)\" = \"\$(printf 'L1\tj1\nL2\tj2')\" ]"
if have_mpiexec; then
	mpi 3 --no-journal --tagstring 't{1}' -- 'echo hi; : {}' ::: a b c
	check "mpirun -n 3 --tagstring: every line tagged" \
		sh -c "[ \"\$(sort out)\" = \"\$(printf 'ta\thi\ntb\thi\ntc\thi')\" ]"
fi

finish
