#!/bin/sh
# Output: each task's output is printed as one block, never interleaved
# with another's; --tag and --results; output of any size comes through
# whole.
. "$top_srcdir/tests/lib.sh"

# Tasks that print their lines slowly, so that concurrent tasks would
# interleave if output were not grouped.
for i in $(seq 1 8); do
	echo "for k in 1 2 3 4 5; do echo \"T$i line \$k\"; echo \"T$i err \$k\" >&2; sleep 0.02; done"
done >slow.tasks

# grouped FILE PATTERN: the lines of each task (T1..T8) are contiguous and
# in order 1..5.
grouped() {
	awk -v pat="$2" '
		$0 ~ pat {
			t = $1; k = $NF
			if (t != cur) { if (seen[t]++) bad = 1; cur = t; want = 1 }
			if (k != want) bad = 1
			want++
		}
		END { exit bad }' "$1"
}

tf --slots 4 --no-journal slow.tasks
check "local: stdout of concurrent tasks is grouped per task" grouped out " line "
check "local: stderr of concurrent tasks is grouped per task" grouped err " err "
check "local: all 40 stdout lines arrive" sh -c "[ \$(grep -c ' line ' out) -eq 40 ]"

if have_mpiexec; then
	mpi 4 --slots 2 --no-journal slow.tasks
	check "mpirun: exits 0" rc_is 0
	check "mpirun: stdout of concurrent tasks is grouped per task" grouped out " line "
	check "mpirun: stderr of concurrent tasks is grouped per task" grouped err " err "
	check "mpirun: all 40 stdout lines arrive" sh -c "[ \$(grep -c ' line ' out) -eq 40 ]"
fi

tf --tag --no-journal -- 'printf "a\nb"' ::: x
check "--tag prefixes every line with the id and a tab, ending the last" \
	sh -c "[ \"\$(cat out)\" = \"\$(printf '1\ta\n1\tb')\" ]"

tf --results res --no-journal "$JOBS/mixed.tasks"
check "--results writes ID.out per task" \
	sh -c "[ \"\$(cat res/3.out)\" = fine ] && [ \"\$(cat res/8.out)\" = 'fine too' ]"
check "--results writes ID.err per task" grep -qx "to stderr" res/7.err
check "--results keeps stdout clear" sh -c "[ ! -s out ]"
check "--results writes a file pair for every task" \
	sh -c "[ \$(ls res | wc -l) -eq 12 ]"

# Large output: 30 MB on one line from one task, beside a small one,
# whole and exact.
printf '%s\n' "head -c 30000000 /dev/zero | tr '\\0' x; echo" 'echo small' >big.tasks
# long_line_is N: the output holds one line of N x's and the small line.
long_line_is() {
	[ "$(grep -vx small out | wc -c)" -eq $(($1 + 1)) ] && grep -qx small out
}
tf --no-journal big.tasks
check "local: 30 MB of output arrives whole" long_line_is 30000000
if have_mpiexec; then
	mpi 3 --journal big.tsv big.tasks
	check "mpirun: 30 MB of output arrives whole" long_line_is 30000000
	check "mpirun: the journal counts the bytes received" \
		sh -c "awk -F'\t' '\$1 == 1 { exit !(\$6 == 30000001) }' big.tsv"
	# The output is the same bytes, not just as many.
	printf 'seq 1 2000000\n' >seq.tasks
	mpi 2 --no-journal seq.tasks
	check "mpirun: 15 MB of output is byte-exact" \
		sh -c "[ \"\$(md5sum <out)\" = \"\$(seq 1 2000000 | md5sum)\" ]"
fi

finish
