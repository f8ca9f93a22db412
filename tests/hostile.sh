#!/bin/sh
# Hostile tasks are contained: a task that ignores SIGTERM, one that leaves
# grandchildren running, one that writes 1 GB, one that reads stdin, one
# that segfaults, one that is not executable, one that closes its output
# and keeps running, one whose command line is 100 kB. Each runs with no
# launcher and under mpirun, beside ordinary tasks: the run ends, the
# journal has one right line per task, the other tasks are unaffected,
# and every taskfarm process keeps its memory bounded.
. "$top_srcdir/tests/lib.sh"

# Segfaults need no core files.
ulimit -c 0 2>/dev/null

# A marker unique to this test run, to find leftover processes.
mark=$$$(date +%N)

# Each taskfarm process runs under GNU time, which writes its max RSS.
TIME=/usr/bin/time
if ! "$TIME" -f %M -o /dev/null true 2>/dev/null; then
	diag "no GNU time at $TIME (Debian package time): memory is not checked"
	TIME=
fi

now() {
	date +%s.%N
}

# launch NRANKS ARGS...: the program with no launcher (NRANKS 0) or under
# the launcher with NRANKS ranks; each taskfarm process writes its max RSS
# in KiB to rss.RANK. Returns the master's exit code. Under the launcher,
# each rank's exit code goes to rc.RANK and the launcher sees 0: a rank
# exiting non-zero would make Open MPI kill the others before they have
# written their RSS. With $rank_stdout set, each rank writes its standard
# output there directly rather than through the launcher.
rank_stdout=
launch() {
	nr=$1
	shift
	rm -f rss.* rc.*
	if [ "$nr" -eq 0 ]; then
		if [ -n "$TIME" ]; then
			timeout -k 10 120 "$TIME" -f %M -o rss.0 "$TF" "$@"
		else
			timeout -k 10 120 "$TF" "$@"
		fi
		return
	fi
	timeout -k 10 180 "$MPIEXEC" -n "$nr" sh -c '
		out=$1 time=$2
		shift 2
		rank=${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-$$}}
		[ -z "$out" ] || exec >"$out"
		if [ -n "$time" ]; then
			"$time" -f %M -o "rss.$rank" "$@"
		else
			"$@"
		fi
		echo $? >"rc.$rank"' sh "$rank_stdout" "$TIME" "$TF" "$@"
	lrc=$?
	if [ $lrc -ne 0 ] || [ ! -s rc.0 ]; then
		diag "$MPIEXEC exited $lrc; rank 0 exited '$(cat rc.0 2>/dev/null)'"
		return 99
	fi
	return "$(cat rc.0)"
}

# workers_exit_0 NRANKS: under the launcher, ranks 1..NRANKS-1 exited 0.
workers_exit_0() {
	r=1
	while [ $r -lt "$1" ]; do
		[ "$(cat rc.$r 2>/dev/null)" = 0 ] ||
			{ diag "rank $r exited '$(cat rc.$r 2>/dev/null)'"; return 1; }
		r=$((r + 1))
	done
}

# run MODE ARGS...: launch with no launcher (MODE local) or with 3 ranks
# (MODE mpirun); stdout to out, stderr to err, the exit code in $rc, the
# wall-clock seconds in $elapsed.
run() {
	mode=$1
	shift
	t0=$(now)
	if [ "$mode" = local ]; then
		launch 0 "$@" >out 2>err
	else
		launch 3 "$@" >out 2>err
	fi
	rc=$?
	elapsed=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
}

# ended_within SECONDS: the last run took less than SECONDS.
ended_within() {
	awk -v e="$elapsed" -v s="$1" 'BEGIN { exit !(e < s) }' && return 0
	diag "the run took $elapsed s"
	return 1
}

# row_is JOURNAL ID EXITVAL SIGNAL STATUS: task ID's journal line.
row_is() {
	got=$(awk -F'\t' -v id="$2" 'NR > 1 && $1 == id { print $7, $8, $13 }' "$1")
	[ "$got" = "$3 $4 $5" ] && return 0
	diag "task $2: Exitval Signal Status are '$got', expected '$3 $4 $5'"
	return 1
}

# col JOURNAL ID N: field N of task ID's journal line.
col() {
	awk -F'\t' -v id="$2" -v n="$3" 'NR > 1 && $1 == id { print $n }' "$1"
}

# runtime_in JOURNAL ID LO HI: task ID's JobRuntime is in [LO, HI).
runtime_in() {
	t=$(col "$1" "$2" 4)
	awk -v t="$t" -v lo="$3" -v hi="$4" 'BEGIN { exit !(t != "" && t >= lo && t < hi) }' &&
		return 0
	diag "task $2 ran '$t' s, expected [$3, $4)"
	return 1
}

# receive_is JOURNAL ID BYTES: task ID's Receive column.
receive_is() {
	got=$(col "$1" "$2" 6)
	[ "$got" = "$3" ] && return 0
	diag "task $2: Receive is '$got', expected $3"
	return 1
}

# all_ok JOURNAL IDS...: those tasks have status ok and exit value 0.
all_ok() {
	j=$1
	shift
	for id in "$@"; do
		row_is "$j" "$id" 0 0 ok || return 1
	done
}

# lines_in FILE LINES...: each of LINES is a whole line of FILE.
lines_in() {
	f=$1
	shift
	for l in "$@"; do
		grep -Fqx -- "$l" "$f" || { diag "no line '$l' in $f"; return 1; }
	done
}

# rss_below KIB NPROCS: NPROCS taskfarm processes wrote their max RSS,
# each below KIB KiB.
rss_below() {
	got=$(ls rss.* 2>/dev/null | wc -l)
	if [ "$got" -ne "$2" ]; then
		diag "$got RSS files, expected $2"
		return 1
	fi
	all=
	bad=0
	for f in rss.*; do
		v=$(tail -n 1 "$f")
		case $v in
		'' | *[!0-9]*)
			diag "$f: $(cat "$f")"
			return 1
			;;
		esac
		all="$all ${f#rss.}:${v}"
		[ "$v" -lt "$1" ] || bad=1
	done
	diag "max RSS in KiB by rank:$all"
	[ "$bad" -eq 0 ]
}

# check_rss LABEL MB NPROCS: a check that every taskfarm process of the
# last run stayed below MB MB (skipped without GNU time).
check_rss() {
	if [ -z "$TIME" ]; then
		ok "$1: every taskfarm process stays below $2 MB # SKIP no $TIME"
		return
	fi
	check "$1: every taskfarm process stays below $2 MB" \
		rss_below $(($2 * 1024)) "$3"
}

# no_leftovers PATTERN: no process matches ^PATTERN for a second after
# the run (a KILLed process may take a moment to go).
no_leftovers() {
	i=0
	while pgrep -f "^$1" >/dev/null; do
		[ $i -ge 10 ] && { diag "left running: $(pgrep -af "^$1")"; return 1; }
		sleep 0.1
		i=$((i + 1))
	done
}

# A real segfault: a load from address 0 the compiler cannot see coming.
printf '%s\n' 'int main(int argc, char **argv) { volatile int *p = (int *)(long)(argc - 1); (void)argv; return *p; }' >segv.c
if cc -o segv segv.c 2>/dev/null && [ -x segv ]; then
	segv=./segv
elif command -v python3 >/dev/null 2>&1; then
	segv="python3 -c 'import ctypes; ctypes.string_at(0)'"
else
	diag "no C compiler and no python3: the segfault is a SEGV signal"
	segv="sh -c 'kill -SEGV \$\$'"
fi
printf 'echo should not run\n' >noexec.sh
chmod 644 noexec.sh

# The 100 kB task: echo and a 99,995-byte word, 100,000 bytes in all.
long=$(head -c 99995 /dev/zero | tr '\0' x)

# One job of hostile tasks mixed with ordinary ones (each line is a task,
# so a task's id is its line number).
{
	echo 'echo ok-1'
	echo "sleep 1000$mark & echo started-bg"
	echo "sleep 1000$mark >/dev/null 2>&1 & echo started-detached"
	echo 'cat; read x; echo got-eof'
	echo "$segv"
	echo "exec $segv"
	echo './noexec.sh'
	echo "no-such-program-$mark"
	echo 'exec >&- 2>&-; sleep 2; exit 4'
	echo 'echo ok-10'
	echo "echo $long"
	echo 'echo ok-12'
} >mixed.tasks

# Standard input that never ends: a task that read taskfarm's own would
# print leaked-stdin and then block.
mkfifo in.fifo

for mode in local mpirun; do
	if [ $mode = mpirun ] && ! have_mpiexec; then
		diag "no $MPIEXEC: the mpirun cases are not run"
		break
	fi
	sh -c 'echo leaked-stdin; exec sleep 100' >in.fifo &
	holder=$!
	run $mode --journal mixed-$mode.tsv mixed.tasks <in.fifo
	kill $holder 2>/dev/null
	wait $holder 2>/dev/null
	j=mixed-$mode.tsv
	check "$mode: a job with hostile tasks exits 1 (some failed)" rc_is 1
	check "$mode: it ends in well under 30 s (grandchildren, closed output and stdin hold nothing open)" \
		ended_within 20
	check "$mode: the journal has one line per task" \
		ids_once "$j" "1 2 3 4 5 6 7 8 9 10 11 12"
	check "$mode: every journal line has 17 fields" every_line_has_fields "$j" 17
	check "$mode: the ordinary tasks are ok" all_ok "$j" 1 10 12
	check "$mode: the ordinary tasks' output arrives" lines_in out ok-1 ok-10 ok-12
	check "$mode: a task that leaves grandchildren running is ok" all_ok "$j" 2 3
	check "$mode: its output arrives" lines_in out started-bg started-detached
	check "$mode: no grandchild is left running" no_leftovers "sleep 1000$mark"
	check "$mode: a task that reads stdin gets EOF at once and is ok" \
		sh -c "grep -qx got-eof out && ! grep -q leaked-stdin out && \
			[ \"\$(awk -F'\t' '\$1 == 4 { print \$13, \$6 }' $j)\" = 'ok 8' ]"
	check "$mode: a segfault fails with exit value 139" \
		sh -c "[ \"\$(awk -F'\t' '\$1 == 5 && \$13 != \"ok\" { print \$7 }' $j)\" = 139 ]"
	check "$mode: a segfault exec'd by the shell is journaled as signal 11" \
		row_is "$j" 6 139 11 signal
	check "$mode: a file without the x bit fails with 126" row_is "$j" 7 126 0 failed
	check "$mode: a missing program fails with 127" row_is "$j" 8 127 0 failed
	check "$mode: the shell's complaints reach stderr" \
		sh -c "grep -q 'noexec.sh' err && grep -q 'no-such-program-$mark' err"
	check "$mode: a task that closes its output and keeps running fails with its exit value 4" \
		row_is "$j" 9 4 0 failed
	check "$mode: that task is journaled when it exits, not when it closes its output" \
		runtime_in "$j" 9 1.9 10
	check "$mode: a 100 kB command runs and is ok" all_ok "$j" 11
	check "$mode: its output arrives whole" lines_in out "$long"
	check "$mode: the journal's Command field holds all 100,000 bytes" \
		sh -c "[ \"\$(awk -F'\t' '\$1 == 11 { print \$9 }' $j)\" = \"\$(sed -n 11p mixed.tasks)\" ] &&
			[ \$(awk -F'\t' '\$1 == 11 { print length(\$9) }' $j) -eq 100000 ]"
	if [ $mode = local ]; then
		check_rss "$mode: mixed job" 100 1
	else
		check_rss "$mode: mixed job" 100 3
		check "$mode: every worker rank exits 0" workers_exit_0 3
	fi
done
rm -f in.fifo

# A task that ignores SIGTERM, stopped by --timeout: TERM at 1 s, KILL
# after the 1 s grace. Its own sleep would last days.
{
	echo 'echo ok-1'
	echo "trap '' TERM; sleep 2000$mark"
	echo 'echo ok-3'
	echo 'sleep 0.2; echo ok-4'
} >stubborn.tasks
for mode in local mpirun; do
	[ $mode = mpirun ] && ! have_mpiexec && break
	run $mode --timeout 1 --grace 1 --journal stubborn-$mode.tsv stubborn.tasks
	j=stubborn-$mode.tsv
	check "$mode: a task that ignores TERM makes the run exit 1" rc_is 1
	check "$mode: it is KILLed after --grace and journaled as timeout" \
		row_is "$j" 2 137 9 timeout
	check "$mode: it ran --timeout + --grace (2 s)" runtime_in "$j" 2 1.9 6
	check "$mode: the run ends within 20 s" ended_within 20
	check "$mode: no stubborn process is left" no_leftovers "sleep 2000$mark"
	check "$mode: the journal has one line per task" ids_once "$j" "1 2 3 4"
	check "$mode: the ordinary tasks beside it are ok" all_ok "$j" 1 3 4
	check "$mode: their output arrives" lines_in out ok-1 ok-3 ok-4
	if [ $mode = local ]; then
		check_rss "$mode: stubborn job" 100 1
	else
		check_rss "$mode: stubborn job" 100 3
		check "$mode: every worker rank exits 0" workers_exit_0 3
	fi
done

# 1 GiB on stdout from one task, beside two small ones: every byte comes
# through, and memory stays bounded (output past 1 MiB is spilled to
# $TMPDIR; between ranks it travels in 1 MiB chunks). The output is
# counted as it streams, and its non-zero bytes are kept.
gib=1073741824
printf '%s\n' 'echo ok-1' "head -c $gib /dev/zero" 'echo ok-3' >big.tasks
expect=$((gib + $(printf 'ok-1\nok-3\n' | wc -c)))

# big_run NRANKS: runs big.tasks (NRANKS as for launch); the byte count
# of stdout in $count, its non-NUL bytes in rest, $rc, $elapsed. Under
# the launcher the master's stdout goes straight to the counting pipe:
# through Open MPI's forwarding, 1 GiB alone takes 15-40 s here.
big_run() {
	rm -f fifo bigout count rest
	mkfifo fifo bigout
	tr -d '\000' <fifo >rest &
	trpid=$!
	tee fifo <bigout | wc -c >count &
	wcpid=$!
	[ "$1" -eq 0 ] || rank_stdout=$SCRATCH/bigout
	t0=$(now)
	launch "$1" --journal big.tsv big.tasks >bigout 2>err
	rc=$?
	rank_stdout=
	wait $wcpid $trpid
	count=$(cat count)
	elapsed=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
	diag "1 GiB run with $1 ranks: $elapsed s"
	rm -f fifo bigout
}
count_is() {
	[ "$count" -eq "$1" ] && return 0
	diag "$count bytes on stdout, expected $1"
	return 1
}

for mode in local mpirun; do
	if [ $mode = local ]; then
		# Spill files go here: none may be left.
		mkdir spill
		saved_tmpdir=${TMPDIR-}
		TMPDIR=$SCRATCH/spill
		export TMPDIR
		big_run 0
		if [ -n "$saved_tmpdir" ]; then
			TMPDIR=$saved_tmpdir
		else
			unset TMPDIR
		fi
		nprocs=1
		limit=100
	else
		have_mpiexec || break
		big_run 2
		nprocs=2
		limit=150
	fi
	check "$mode: a task writing 1 GiB is ok, so is the run" rc_is 0
	check "$mode: every byte of stdout arrives" count_is $expect
	check "$mode: the small tasks' output arrives too" \
		sh -c "[ \"\$(cat rest)\" = \"\$(printf 'ok-1\nok-3')\" ]"
	check "$mode: the journal counts the 1 GiB received" receive_is big.tsv 2 $gib
	check "$mode: the journal has one line per task, all ok" \
		sh -c "tail -n +2 big.tsv | cut -f1 | sort -n | tr '\n' ' ' | grep -qx '1 2 3 ' &&
			[ \$(awk -F'\t' 'NR > 1 && \$13 == \"ok\"' big.tsv | wc -l) -eq 3 ]"
	if [ $mode = local ]; then
		check "$mode: no spill file is left in \$TMPDIR" \
			sh -c "[ -z \"\$(ls -A spill)\" ]"
	fi
	check_rss "$mode: 1 GiB of output" $limit $nprocs
	[ $mode = local ] || check "$mode: the worker rank exits 0" workers_exit_0 2
done

# A line over 1 MiB is refused before any task starts, under mpirun too
# (tests/cli.sh has the case with no launcher).
if have_mpiexec; then
	{ echo 'touch started'; head -c 1100000 /dev/zero | tr '\0' x; echo; } >toolong.tasks
	mpi 3 toolong.tasks
	check "mpirun: a 1,100,000-byte line exits 2 at file:line" \
		sh -c "[ $rc -eq 2 ] && grep -q 'toolong.tasks:2: line longer than' err"
	check "mpirun: no task started before the long line was found" test ! -e started
fi

pkill -9 -f "^sleep [12]000$mark" 2>/dev/null

finish
