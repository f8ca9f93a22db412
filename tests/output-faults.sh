#!/bin/sh
# Output that cannot reach its destination (issue 10): a full disk, a
# closed or /dev/full stdout, an unusable $TMPDIR, a reader that stalls,
# a FIFO or symlink under --results. A task is journaled ok only if its
# output got where it belongs; the rest are output-lost (or interrupted)
# and --resume runs them again. The faults are real: tmpfs mounts, FIFOs,
# stalled pipes, mpirun.
. "$top_srcdir/tests/lib.sh"

MNT=$SCRATCH/mnt
mounted=
cleanup() {
	for d in $mounted; do umount "$d" 2>/dev/null; done
	mounted=
}
trap cleanup EXIT

# small_tmpfs DIR SIZE: a real, small file system at DIR.
small_tmpfs() {
	mkdir -p "$1" &&
		mount -t tmpfs -o size="$2" tmpfs "$1" 2>/dev/null &&
		mounted="$1 $mounted"
}

# status_count JOURNAL STATUS: data rows with that Status.
status_count() {
	journal_rows "$1" | awk -F'\t' -v s="$2" '$13 == s { n++ } END { print n + 0 }'
}

# ids_with JOURNAL STATUS: their ids, sorted, one line.
ids_with() {
	journal_rows "$1" | awk -F'\t' -v s="$2" '$13 == s { print $1 }' |
		sort -n | tr '\n' ' '
}

# 40 tasks, each printing 4 KiB of lines that name it.
for i in $(seq 1 40); do
	echo "for k in \$(seq 1 64); do echo \"task$i line \$k .....................................................\"; done"
done >many.tasks

# --- stdout on /dev/full, and closed -----------------------------------
timeout -k 10 120 "$TF" many.tasks >/dev/full 2>err
rc=$?
check "/dev/full: exits 4" rc_is 4
check "/dev/full: no task is journaled ok" \
	test "$(status_count many.journal.tsv ok)" -eq 0
check "/dev/full: all 40 journaled output-lost" \
	test "$(status_count many.journal.tsv output-lost)" -eq 40
check "/dev/full: output-lost keeps the real exit value" \
	test "$(journal_rows many.journal.tsv | cut -f7 | sort -u)" = 0
check "/dev/full: the summary counts the lost output" \
	grep -q 'output of 40 tasks lost' err
check "/dev/full: the write error is reported once" \
	test "$(grep -c 'cannot write task output' err)" -eq 1
tf --resume many.tasks
check "/dev/full: --resume runs the 40 again and exits 0" rc_is 0
check "/dev/full: --resume delivers all their output" \
	test "$(grep -c ' line ' out)" -eq 2560

rm -f many.journal.tsv*
timeout -k 10 120 "$TF" many.tasks >&- 2>err
rc=$?
check "closed stdout: exits 4" rc_is 4
check "closed stdout: all 40 journaled output-lost" \
	test "$(status_count many.journal.tsv output-lost)" -eq 40
# Stdin closed too: the first descriptor taskfarm opens (its signal
# self-pipe) would take fd 0 and the next fd 1, and task output went into
# that pipe, journaled ok.
rm -f many.journal.tsv*
timeout -k 10 120 "$TF" many.tasks <&- >&- 2>err
rc=$?
check "closed stdin and stdout: exits 4" rc_is 4
check "closed stdin and stdout: all 40 journaled output-lost" \
	test "$(status_count many.journal.tsv output-lost)" -eq 40
rm -f many.journal.tsv*
timeout -k 10 120 "$TF" many.tasks <&- >&- 2>&-
rc=$?
check "closed stdin, stdout and stderr: exits 4, all 40 output-lost" \
	sh -c "[ $rc -eq 4 ] && [ \$(awk -F'\t' 'NR > 1 && \$13 == \"output-lost\"' many.journal.tsv | wc -l) -eq 40 ]"

# --- stdout on a small full tmpfs --------------------------------------
if small_tmpfs "$MNT/out" 64k; then
	rm -f many.journal.tsv*
	timeout -k 10 120 "$TF" --slots 1 many.tasks >"$MNT/out/o" 2>err
	rc=$?
	check "full disk stdout: exits 4" rc_is 4
	okc=$(status_count many.journal.tsv ok)
	lost=$(status_count many.journal.tsv output-lost)
	check "full disk stdout: some ok, some output-lost, all 40 journaled" \
		test "$okc" -gt 0 -a "$lost" -gt 0 -a $((okc + lost)) -eq 40
	# Every task journaled ok has its 64 lines in the file.
	whole=$(for i in $(ids_with many.journal.tsv ok); do
		[ "$(grep -c "^task$i line" "$MNT/out/o")" -eq 64 ] || echo "$i"
	done)
	check "full disk stdout: every ok task's output is whole on disk" \
		test -z "$whole"
	lost_ids=$(ids_with many.journal.tsv output-lost)
	tf --resume many.tasks
	check "full disk stdout: --resume exits 0" rc_is 0
	check "full disk stdout: --resume reruns exactly the output-lost ones" \
		test "$(grep ' line 1 ' out | sed 's/^task\([0-9]*\) .*/\1/' | sort -n | tr '\n' ' ')" = "$lost_ids"
else
	ok "# SKIP cannot mount a tmpfs (not root?)"
fi

# --- --results on a small full tmpfs -----------------------------------
if small_tmpfs "$MNT/res" 64k; then
	rm -f many.journal.tsv*
	tf --slots 1 --results "$MNT/res/r" many.tasks
	check "full disk --results: exits 4" rc_is 4
	okc=$(status_count many.journal.tsv ok)
	lost=$(status_count many.journal.tsv output-lost)
	check "full disk --results: some ok, the rest output-lost" \
		test "$okc" -gt 0 -a "$lost" -gt 0 -a $((okc + lost)) -eq 40
	whole=$(for i in $(ids_with many.journal.tsv ok); do
		[ "$(grep -c "^task$i line" "$MNT/res/r/$i.out")" -eq 64 ] || echo "$i"
	done)
	check "full disk --results: every ok task's file is whole" test -z "$whole"
fi

# --- a FIFO and a symlink under --results, a symlinked --results --------
printf '%s\n' 'echo one' 'echo two' 'echo three' 'echo four' >four.tasks
mkdir res
mkfifo res/2.out
echo precious >target
ln -s "$SCRATCH/target" res/3.out
tf --results res four.tasks
check "FIFO/symlink under --results: the run ends (no hang), exits 4" rc_is 4
check "FIFO/symlink under --results: those two are output-lost" \
	test "$(ids_with four.journal.tsv output-lost)" = "2 3 "
check "FIFO/symlink under --results: the others are ok" \
	test "$(ids_with four.journal.tsv ok)" = "1 4 "
check "FIFO/symlink under --results: each is named in a warning" \
	sh -c "grep -q 'task 2: --results res/2.out is not a regular file' err &&
		grep -q 'task 3: --results res/3.out is not a regular file' err"
check "FIFO/symlink under --results: the symlink's target is untouched" \
	test "$(cat target)" = precious
check "FIFO/symlink under --results: the other files are written" \
	sh -c "[ \"\$(cat res/1.out res/4.out)\" = 'one
four' ]"
ln -s res reslink
rm -f four.journal.tsv*
tf --results reslink -- 'touch ran-anyway' ::: x
check "symlinked --results directory: usage error (exit 2)" rc_is 2
check "symlinked --results directory: says so" grep -q 'symbolic link' err
check "symlinked --results directory: nothing ran" test ! -e ran-anyway

# --- $TMPDIR unusable --------------------------------------------------
# Task 2 prints 3 MB (more than is held in memory), the others a line.
printf '%s\n' 'echo small-1' 'head -c 3000000 /dev/zero | tr "\0" x; echo' \
	'echo small-3' 'echo small-4' >big.tasks
TMPDIR=$SCRATCH/no-such-dir tf --slots 2 big.tasks
check "\$TMPDIR missing: the run goes on and exits 4" rc_is 4
check "\$TMPDIR missing: the big task is output-lost, the rest ok" \
	sh -c "[ \"\$(tail -n +2 big.journal.tsv | cut -f1,13 | sort -n | tr '\t\n' ': ')\" = '1:ok 2:output-lost 3:ok 4:ok ' ]"
check "\$TMPDIR missing: the message names \$TMPDIR and the directory" \
	grep -q "\$TMPDIR ($SCRATCH/no-such-dir)" err
check "\$TMPDIR missing: the small tasks' output arrives" \
	test "$(grep -c '^small-' out)" -eq 3
if small_tmpfs "$MNT/tmp" 1m; then
	rm -f big.journal.tsv*
	TMPDIR=$MNT/tmp tf --slots 2 big.tasks
	check "\$TMPDIR full: exits 4, every task journaled" \
		sh -c "[ $rc -eq 4 ] && [ \$(tail -n +2 big.journal.tsv | wc -l) -eq 4 ]"
	check "\$TMPDIR full: the big task is output-lost" \
		test "$(ids_with big.journal.tsv output-lost)" = "2 "
	tf --resume big.tasks
	check "\$TMPDIR full: --resume with a good \$TMPDIR reruns it" \
		sh -c "[ $rc -eq 0 ] && [ \$(wc -c <out) -eq 3000001 ]"
fi

# --- a stalled reader --------------------------------------------------
# Task 1 prints more than a pipe holds, task 2 needs its --timeout, the
# rest print a line each.
{
	printf '%s\n' 'head -c 300000 /dev/zero | tr "\0" a; echo' 'sleep 60'
	for i in $(seq 3 30); do echo "echo line $i"; done
} >stall.tasks
(timeout -k 10 120 "$TF" --slots 2 --timeout 2 stall.tasks 2>err
	echo $? >rc.txt) | (sleep 12; cat >got)
rc=$(cat rc.txt)
check "stalled reader: the run ends, exit 1 (the timeout)" rc_is 1
rt=$(journal_rows stall.journal.tsv | awk -F'\t' '$1 == 2 { print $4 }')
check "stalled reader: --timeout 2 is enforced (runtime $rt s < 6 s)" \
	awk -v t="$rt" 'BEGIN { exit !(t != "" && t + 0 < 6) }'
check "stalled reader: after it reads, all the output arrives" \
	sh -c "[ \$(grep -c '^line ' got) -eq 28 ] && [ \$(head -n 1 got | wc -c) -eq 300001 ]"
check "stalled reader: every task journaled once" \
	ids_once stall.journal.tsv "$(seq 1 30 | tr '\n' ' ' | sed 's/ $//')"
check "stalled reader: 29 journaled ok" \
	test "$(status_count stall.journal.tsv ok)" -eq 29

# A reader that holds the FIFO open and never reads: SIGTERM still ends
# the run promptly, with a whole journal.
rm -f stall.journal.tsv*
mkfifo never
sleep 300 <>never &
holder=$!
timeout -k 10 120 "$TF" --slots 2 stall.tasks >never 2>err &
tfpid=$!
sleep 3
t0=$(date +%s)
kill -TERM "$tfpid"
wait "$tfpid"
rc=$?
t1=$(date +%s)
kill "$holder"
check "never-read FIFO: SIGTERM ends the run with exit 3" rc_is 3
check "never-read FIFO: ... within 30 s (took $((t1 - t0)) s)" \
	test $((t1 - t0)) -lt 30
check "never-read FIFO: the journal's lines are whole" \
	every_line_has_fields stall.journal.tsv 17
check "never-read FIFO: every task journaled once" \
	ids_once stall.journal.tsv "$(seq 1 30 | tr '\n' ' ' | sed 's/ $//')"
check "never-read FIFO: none journaled ok (no output was written)" \
	test "$(status_count stall.journal.tsv ok)" -eq 0

# --- the live line and task stderr on one terminal ---------------------
# Stdout to a file, stderr a terminal (script(1) gives a real pty): task
# stderr comes from the writer thread while the main thread draws the
# live line; each stderr line must come out whole on a line of its own.
if command -v script >/dev/null 2>&1; then
	for i in $(seq 1 200); do
		echo "sleep 0.01; echo ERRLINE $i >&2; echo out $i"
	done >tty.tasks
	TF_BIN=$TF script -qec '"$TF_BIN" --no-journal --progress --slots 2 tty.tasks >tty.out' tty.log >/dev/null 2>&1
	# Strip the live line's clearing; what is left of a task's line must
	# be the whole line.
	broken=$(tr '\r' '\n' <tty.log | sed 's/\x1b\[K//g' | grep ERRLINE |
		grep -cv '^ERRLINE [0-9]*$')
	check "progress line on a terminal: every task stderr line whole (200)" \
		sh -c "[ $(tr '\r' '\n' <tty.log | grep -c ERRLINE) -eq 200 ] && [ $broken -eq 0 ]"
	check "progress line on a terminal: stdout all in the file" \
		test "$(grep -c '^out ' tty.out)" -eq 200
else
	ok "progress line on a terminal # SKIP no script(1)"
fi

# --- under mpirun ------------------------------------------------------
# There rank 0's stdout is a pipe to the launcher, which does the last
# write: a failure there is the launcher's to see. --results and $TMPDIR
# are taskfarm's own.
if have_mpiexec; then
	if small_tmpfs "$MNT/mres" 64k; then
		rm -f many.journal.tsv*
		mpi 3 --results "$MNT/mres/r" many.tasks
		check "mpirun, full disk --results: exits 4" rc_is 4
		okc=$(status_count many.journal.tsv ok)
		lost=$(status_count many.journal.tsv output-lost)
		check "mpirun, full disk --results: some ok, the rest output-lost" \
			test "$okc" -gt 0 -a "$lost" -gt 0 -a $((okc + lost)) -eq 40
	fi
	# Open MPI makes its session directory under $TMPDIR unless told
	# otherwise, which would create the missing one.
	rm -f big.journal.tsv*
	OMPI_MCA_orte_tmpdir_base=$SCRATCH TMPDIR=$SCRATCH/no-such-dir \
		mpi 3 --master-slots 0 big.tasks
	check "mpirun, \$TMPDIR missing on the workers: exits 4" rc_is 4
	check "mpirun, \$TMPDIR missing: the big task output-lost, the rest ok" \
		sh -c "[ \"\$(tail -n +2 big.journal.tsv | cut -f1,13 | sort -n | tr '\t\n' ': ')\" = '1:ok 2:output-lost 3:ok 4:ok ' ]"
	check "mpirun, \$TMPDIR missing: the small tasks' output arrives" \
		test "$(grep -c '^small-' out)" -eq 3
fi

# Before finish removes the scratch directory they are in.
cleanup
finish
