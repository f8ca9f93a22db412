#!/bin/sh
# Runs under the real MPI launcher with 1 to 5 ranks: rank 0 is the master
# and hands tasks to the workers; every task runs exactly once; exit codes
# and bad input come through the launcher.
. "$top_srcdir/tests/lib.sh"

have_mpiexec || skip_all "no MPI launcher ($MPIEXEC) found"

mcpi_ids=$(task_ids "$JOBS/mcpi.tasks")
for n in 1 2 3 5; do
	mpi $n --journal j$n.tsv "$JOBS/mcpi.tasks"
	check "n=$n: exits 0" rc_is 0
	check "n=$n: 40 results printed" sh -c "[ \$(grep -c '^seed=' out) -eq 40 ]"
	check "n=$n: every task journaled exactly once" ids_once j$n.tsv "$mcpi_ids"
	check "n=$n: every journal line has 17 fields" every_line_has_fields j$n.tsv 17
	check "n=$n: the summary gives each working rank's busy fraction" \
		sh -c "[ \$(grep -c '^taskfarm: rank [0-9]* (.*): [0-9]* tasks\? on [0-9]* slots\?, busy [0-9.]*%' err) -eq $([ $n -eq 1 ] && echo 1 || echo $((n - 1))) ]"
	if [ $n -eq 1 ]; then
		want=0
	else
		want=$(seq 1 $((n - 1)) | tr '\n' ' ' | sed 's/ $//')
	fi
	check "n=$n: tasks ran on ranks $want (the master only when alone)" \
		sh -c "[ \"\$(tail -n +2 j$n.tsv | cut -f11 | sort -un | tr '\n' ' ' | sed 's/ \$//')\" = '$want' ]"
done

# The environment matches the journal: TASKFARM_RANK is the worker's rank.
mpi 3 --journal hello.tsv "$JOBS/hello.tasks"
check "hello under mpirun: exits 0" rc_is 0
check "hello under mpirun: each task saw the rank the journal names" \
	sh -c 'for id in 2 3 4 5; do r=$(awk -F"\t" -v id=$id "\$1 == id { print \$11 }" hello.tsv); grep -q "^task id $id (one of 4): rank $r slot 1" out || exit 1; done'

# Several slots per worker rank, and the master taking tasks itself.
printf 'sleep 1\nsleep 1\nsleep 1\nsleep 1\n' >sleep4.tasks
mpi 2 --slots 4 --master-slots 0 --journal s.tsv sleep4.tasks
check "--slots 4 on one worker runs 4 tasks at once" \
	sh -c "[ $rc -eq 0 ] && [ \$(tail -n +2 s.tsv | cut -f12 | sort -u | wc -l) -eq 4 ]"
mpi 2 --master-slots 1 --journal ms.tsv "$JOBS/mcpi.tasks"
check "--master-slots 1: the master runs tasks beside its worker" \
	sh -c "[ $rc -eq 0 ] && tail -n +2 ms.tsv | cut -f11 | grep -qx 0 && tail -n +2 ms.tsv | cut -f11 | grep -qx 1"
check "--master-slots 1: still each task once" ids_once ms.tsv "$mcpi_ids"

# Exit codes through the launcher.
mpi 3 --journal mixed.tsv "$JOBS/mixed.tasks"
check "a failed task makes the launcher exit 1" rc_is 1
check "mixed under mpirun: all 6 tasks journaled" \
	ids_once mixed.tsv "$(task_ids "$JOBS/mixed.tasks")"

printf 'touch started\nbad\000line\n' >nul.tasks
mpi 3 nul.tasks
check "a bad job file under mpirun exits 2" rc_is 2
check "a bad job file under mpirun is reported once at file:line" \
	sh -c "[ \$(grep -c 'nul.tasks:2: NUL byte' err) -eq 1 ]"
check "a bad job file under mpirun starts no task" test ! -e started

mpi 3 --slots nope "$JOBS/mcpi.tasks"
check "a bad option under mpirun exits 2, said once" \
	sh -c "[ $rc -eq 2 ] && [ \$(grep -c 'slots takes' err) -eq 1 ]"

# Many tiny tasks: batching and prefetch deliver each exactly once.
seq 1 3000 | sed 's/.*/true/' >tiny.tasks
mpi 3 --journal tiny.tsv tiny.tasks
check "3000 tiny tasks: exits 0" rc_is 0
check "3000 tiny tasks: each journaled once" \
	sh -c "[ \$(tail -n +2 tiny.tsv | cut -f1 | sort -un | wc -l) -eq 3000 ] && [ \$(tail -n +2 tiny.tsv | wc -l) -eq 3000 ]"
check "3000 tiny tasks: both workers took a share" \
	sh -c "[ \$(tail -n +2 tiny.tsv | awk -F'\t' '\$11 == 1' | wc -l) -gt 300 ] && [ \$(tail -n +2 tiny.tsv | awk -F'\t' '\$11 == 2' | wc -l) -gt 300 ]"

# Long tasks are balanced: 4 one-second tasks on 2 workers take ~2 s, not
# 3 or 4 (no worker hoards tasks it cannot start).
mpi 3 --journal bal.tsv sleep4.tasks
check "long tasks: each worker ran two" \
	sh -c "[ \$(tail -n +2 bal.tsv | awk -F'\t' '\$11 == 1' | wc -l) -eq 2 ] && [ \$(tail -n +2 bal.tsv | awk -F'\t' '\$11 == 2' | wc -l) -eq 2 ]"

finish
