#!/bin/sh
# Tasks that misbehave (issue 10): an MPI program and a nested taskfarm
# run as tasks under the real launcher, processes that escape their
# task's process group with setsid, and tasks that stop themselves.
. "$top_srcdir/tests/lib.sh"

# Escaped processes the old code left behind are killed when the script
# ends, pass or fail, by the pids the tasks printed (each leads a process
# group of its own, which goes too).
leftovers=
cleanup() {
	for p in $leftovers; do
		kill -9 -"$p" 2>/dev/null
		kill -9 "$p" 2>/dev/null
	done
}
trap cleanup EXIT

# gone PID...: none of them runs (gone, or a zombie about to be reaped),
# waiting up to 15 s.
gone() {
	i=0
	while [ $i -lt 150 ]; do
		alive=
		for p in "$@"; do
			st=$(sed -n 's/^.*) \(.\).*/\1/p' /proc/"$p"/stat 2>/dev/null)
			case $st in "" | Z | X) ;; *) alive="$alive $p" ;; esac
		done
		[ -z "$alive" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	diag "still running:" "$(for p in $alive; do ps -o pid,ppid,pgid,stat,args -p "$p" | tail -n +2; done)"
	return 1
}

# field ID COLUMN JOURNAL: one column of task ID's journal line.
field() {
	awk -F'\t' -v id="$1" -v c="$2" 'NR > 1 && $1 == id { print $c }' "$3"
}

# ---- MPI programs and a nested taskfarm inside tasks ----

if ! have_mpiexec; then
	diag "no MPI launcher ($MPIEXEC): the MPI checks did not run"
	not_ok "an MPI launcher to run tasks under"
else
	cat >hello_mpi.c <<'EOF'
#include <mpi.h>
#include <stdio.h>
int main(int argc, char **argv)
{
	int rank, size;
	if (MPI_Init(&argc, &argv) != MPI_SUCCESS)
		return 2;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	printf("mpi rank %d of %d\n", rank, size);
	return MPI_Finalize() == MPI_SUCCESS ? 0 : 3;
}
EOF
	if ${TF_MPICC:-mpicc} hello_mpi.c -o hello_mpi >cc.log 2>&1; then
		printf './hello_mpi\n./hello_mpi\n' >mpi.tasks
		mpi 2 --journal mpi.tsv mpi.tasks
		check "MPI program as a task under $MPIEXEC -n 2: exits 0" rc_is 0
		check "MPI program as a task: both journaled ok" \
			sh -c '[ "$(tail -n +2 mpi.tsv | cut -f13 | sort | uniq -c | tr -s " ")" = " 2 ok" ]'
		check "MPI program as a task: MPI_Init made it a singleton (rank 0 of 1)" \
			sh -c '[ "$(grep -c "^mpi rank 0 of 1$" out)" -eq 2 ]'
	else
		not_ok "$TF_MPICC compiles a tiny MPI program"
		diag "$(cat cc.log)"
	fi

	# A nested taskfarm must run on its own (no launcher), not take
	# itself for rank 1 of the outer job and wait in MPI_Init.
	printf 'echo "inner $TASKFARM_TASK_ID rank $TASKFARM_RANK"\necho "inner $TASKFARM_TASK_ID rank $TASKFARM_RANK"\n' >inner.tasks
	printf '%s --journal inner.tsv inner.tasks\n' "$TF" >outer.tasks
	mpi 2 --journal outer.tsv outer.tasks
	check "nested taskfarm as a task under $MPIEXEC -n 2: exits 0" rc_is 0
	check "nested taskfarm: the outer task is ok" \
		[ "$(field 1 13 outer.tsv)" = ok ]
	check "nested taskfarm: it ran both of its tasks locally (rank 0)" \
		sh -c '[ "$(grep -c "^inner [12] rank 0$" out)" -eq 2 ] &&
			[ "$(tail -n +2 inner.tsv | cut -f13 | grep -c "^ok$")" -eq 2 ]'
fi

# ---- Processes that escape their task's process group ----

# A task that leaves a process in a session of its own and exits: that
# process must not outlive the run. The task gives it a second to leave
# the group (before, the group kill at the task's end still reaches it).
printf 'setsid sleep 1000 & echo $!; sleep 1\n' >escape.tasks
tf --journal escape.tsv escape.tasks
p=$(head -n 1 out)
leftovers="$leftovers $p"
check "setsid escapee: the run exits 0" rc_is 0
check "setsid escapee: the task is journaled ok" [ "$(field 1 13 escape.tsv)" = ok ]
check "setsid escapee: its sleep (pid $p) does not outlive the run" gone "$p"

# It goes when its task ends, not only at the end of the run: the second
# task (one slot, so after the first) looks for it while it runs. A
# daemon adopted while its own task still runs is left alone.
cat >ends.tasks <<'EOF'
(setsid sleep 1000 & echo $! >escapee.pid); sleep 2; kill -0 $(cat escapee.pid) && echo kept-while-task-ran
sleep 1; if kill -0 $(cat escapee.pid) 2>/dev/null && ! grep -q '^State:.Z' /proc/$(cat escapee.pid)/status; then echo still-there; else echo gone-after-task; fi
EOF
tf --slots 1 --journal ends.tsv ends.tasks
leftovers="$leftovers $(cat escapee.pid 2>/dev/null)"
check "escapee of a running task: exits 0" rc_is 0
check "escapee of a running task: left alone while its task ran" \
	grep -qx kept-while-task-ran out
check "escapee of a running task: gone once its task ended, before the run did" \
	grep -qx gone-after-task out

# The same under the launcher, on a worker rank; the escapee ignores
# TERM, so it takes the KILL after --grace.
if have_mpiexec; then
	printf '%s\n' "setsid sh -c 'trap \"\" TERM; sleep 1000' >/dev/null 2>&1 & echo \$!; sleep 1" >mpiescape.tasks
	mpi 2 --grace 1 --journal mpiescape.tsv mpiescape.tasks
	p=$(head -n 1 out)
	leftovers="$leftovers $p"
	check "setsid escapee under $MPIEXEC: exits 0" rc_is 0
	check "setsid escapee ignoring TERM under $MPIEXEC: gone after the run" gone "$p"
fi

# ---- Tasks that stop themselves ----

# With a time limit, a stopped task gets CONT after its TERM (as
# timeout(1) does) and ends by the TERM, not by the KILL --grace later.
printf 'kill -STOP $$; echo resumed\n' >stop.tasks
t0=$(date +%s)
tf --timeout 1 --grace 30 --journal stop.tsv stop.tasks
t1=$(date +%s)
check "stopped task, --timeout 1: exits 1" rc_is 1
check "stopped task, --timeout 1: journaled timeout" [ "$(field 1 13 stop.tsv)" = timeout ]
check "stopped task, --timeout 1: ended by signal 15, not 9" \
	[ "$(field 1 8 stop.tsv)" = 15 ]
check "stopped task, --timeout 1: over in $((t1 - t0)) s, well before the 30 s grace" \
	[ $((t1 - t0)) -lt 20 ]

# Without a time limit a stopped task waits, as any running task does;
# a drain ends it by TERM too.
"$TF" --grace 30 --drain-grace 0 --journal drain.tsv stop.tasks >out 2>err &
tfpid=$!
i=0
while [ $i -lt 200 ] && ! ps -o stat= --ppid $tfpid | grep -q '^T'; do
	sleep 0.1
	i=$((i + 1))
done
t0=$(date +%s)
kill -TERM $tfpid
wait $tfpid
rc=$?
t1=$(date +%s)
check "stopped task, drained: exits 3" rc_is 3
check "stopped task, drained: journaled interrupted by signal 15 in $((t1 - t0)) s" \
	sh -c '[ "$(awk -F"\t" "NR > 1 { print \$13, \$8 }" drain.tsv)" = "interrupted 15" ] &&
		[ '$((t1 - t0))' -lt 20 ]'

finish
