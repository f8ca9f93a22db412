#!/bin/sh
# Job-file directives, run for real: #TASKFARM barrier under mpirun with 3
# and 5 ranks (no task after a barrier starts before every task before it
# has ended, by the tasks' own clocks and by the journal), failures before
# a barrier (the run goes on), --resume passing a barrier whose tasks all
# succeeded, the fingerprint covering directives; #TASKFARM slots N packed
# into a rank's slots (never more than it has at once, and a 4-slot task
# not starved by 1-slot ones), TASKFARM_NSLOTS and OMP_NUM_THREADS;
# #TASKFARM gpus K; --bind's disjoint CPU sets; and the input errors, all
# before anything runs.
. "$top_srcdir/tests/lib.sh"

unset CUDA_VISIBLE_DEVICES SLURM_STEP_GPUS SLURM_JOB_GPUS GPU_DEVICE_ORDINAL \
	HIP_VISIBLE_DEVICES OMP_NUM_THREADS SLURM_CPUS_PER_TASK SLURM_CPUS_ON_NODE

# A task that logs its start and end by its own clock: "S|E id time".
# The sleeps vary, so tasks of one phase end at different times.
phase_job() {
	: >"$1"
	for p in 1 2 3; do
		for i in 1 2 3 4 5 6 7; do
			s=$(( (i * 7 + p * 3) % 5 ))
			echo "echo S \$TASKFARM_TASK_ID \$(date +%s.%N) >>$PWD/clock; sleep 0.$s; echo E \$TASKFARM_TASK_ID \$(date +%s.%N) >>$PWD/clock" >>"$1"
		done
		[ "$p" -lt 3 ] && echo "#TASKFARM barrier" >>"$1"
	done
	return 0
}

# barrier_ok JOB: by the clock file, the latest end of each phase comes
# before the earliest start of the next (ids are line numbers: phase p's
# tasks are on lines 8(p-1)+1..8(p-1)+7).
barrier_ok() {
	awk '{ p = int(($2 - 1) / 8) }
	     $1 == "S" && (!(p in first) || $3 < first[p]) { first[p] = $3 }
	     $1 == "E" && (!(p in last) || $3 > last[p]) { last[p] = $3 }
	     END { n = 0
		   for (p = 1; p <= 2; p++) if (!(first[p] > last[p - 1])) {
			printf "phase %d started %s, phase %d ended %s\n", p + 1, first[p], p, last[p - 1]; n++ }
		   exit n != 0 }' clock
}

# journal_barrier_ok JOURNAL: the same from the journal's Starttime and
# JobRuntime (3 decimals each: 2 ms of rounding allowed).
journal_barrier_ok() {
	tail -n +2 "$1" | awk -F'\t' '{ p = int(($1 - 1) / 8); s = $3; e = $3 + $4 }
	     !(p in first) || s < first[p] { first[p] = s }
	     !(p in last) || e > last[p] { last[p] = e }
	     END { n = 0
		   for (p = 1; p <= 2; p++) if (!(first[p] + 0.002 >= last[p - 1])) {
			printf "journal: phase %d started %.3f, phase %d ended %.3f\n", p + 1, first[p], p, last[p - 1]; n++ }
		   exit n != 0 }'
}

phase_job phases.tasks
if have_mpiexec; then
	for n in 3 5; do
		rm -f clock
		mpi "$n" --slots 2 --journal b$n.tsv phases.tasks
		check "barrier, $n ranks: exits 0" rc_is 0
		check "barrier, $n ranks: all 21 tasks ran once" \
			sh -c "[ \$(grep -c '^S' clock) -eq 21 ] && [ \$(tail -n +2 b$n.tsv | cut -f1 | sort -u | wc -l) -eq 21 ]"
		check "barrier, $n ranks: no task after a barrier started before every task before it ended (tasks' clocks)" \
			barrier_ok
		check "barrier, $n ranks: the same by the journal" journal_barrier_ok b$n.tsv
		check "barrier, $n ranks: tasks ran on more than one rank" \
			sh -c "[ \$(tail -n +2 b$n.tsv | cut -f11 | sort -u | wc -l) -gt 1 ]"
	done
else
	skip_all "no $MPIEXEC"
fi

# The example campaign (jobs/campaign.tasks): set up, barrier, six
# simulations, barrier, a 2-slot combine that sees all six results.
if have_mpiexec; then
	mpi 3 --slots 2 --journal camp.tsv "$JOBS/campaign.tasks"
	check "jobs/campaign.tasks, 3 ranks: exits 0" rc_is 0
	check "jobs/campaign.tasks: the combine saw all six results, on 2 slots" \
		grep -qE '^pi ~ 3\.1[0-9]* from 6000000 samples on 2 slots$' out
fi

# A failure before a barrier: by default the run goes on past it.
printf 'exit 3\necho one\n#TASKFARM barrier\necho after\n' >fail.tasks
tf --slots 2 --journal fail.tsv fail.tasks
check "failure before a barrier: exits 1" rc_is 1
check "failure before a barrier: the task after it ran" grep -qx after out

# --halt now,fail=1 stops at the failure: nothing after the barrier.
tf --slots 2 --halt now,fail=1 --journal halt.tsv fail.tasks
check "--halt before a barrier: exits 1" rc_is 1
check "--halt before a barrier: the task after it did not run" \
	sh -c '! grep -qx after out'

# --resume: a barrier whose earlier tasks all succeeded is passed at once.
# The first run is stopped while phase 2's long task runs.
cat >res.tasks <<'T'
echo p1a
echo p1b
#TASKFARM barrier
: >res.started; sleep ${RES_SLEEP:-30}
echo p2
#TASKFARM barrier
echo p3
T
timeout -k 10 120 "$TF" --slots 2 --journal res.tsv res.tasks >out 2>err &
pid=$!
i=0
while [ "$i" -lt 100 ] && [ ! -e res.started ]; do
	sleep 0.1
	i=$((i + 1))
done
kill -TERM "$pid"
wait "$pid"
rc=$?
check "resume: the stopped run exits 3" rc_is 3
check "resume: phase 1 ran and nothing of phase 3" \
	sh -c "grep -qx p1a out && grep -qx p1b out && ! grep -qx p3 out"
# Phase 2's sleep is short now, through the environment it reads: the
# job's text stays the same.
RES_SLEEP=0.1 tf --slots 2 --resume --journal res.tsv res.tasks
check "resume: the resumed run exits 0 after phase 2's task" rc_is 0
check "resume: phase 1 was not run again; phase 2's interrupted task and phase 3 ran" \
	sh -c "! grep -q p1 out && grep -qx p3 out && tail -n +2 res.tsv | awk -F'\t' '\$1 == 4 && \$13 == \"ok\"' | grep -q ."
check "resume: phase 3 started after phase 2's task ended (journal)" \
	sh -c "tail -n +2 res.tsv | awk -F'\t' '\$1 == 4 && \$13 == \"ok\" { e = \$3 + \$4 } \$1 == 7 { s = \$3 } END { exit !(s + 0.002 >= e) }'"
check "resume: every task succeeded once in the journal" \
	sh -c "[ \$(tail -n +2 res.tsv | awk -F'\t' '\$13 == \"ok\"' | cut -f1 | sort -u | wc -l) -eq 5 ]"

# The fingerprint covers directives: moving the barrier is another job.
printf 'echo a\n#TASKFARM barrier\necho b\n' >fp.tasks
tf --journal fp.tsv fp.tasks
printf 'echo a\n\necho b\n' >fp.tasks
tf --resume --journal fp.tsv fp.tasks
check "fingerprint: a job without its barrier does not resume a journal of the one with it" rc_is 2
check "fingerprint: the refusal says so" grep -q "different job" err

# Packing: 4 slots, 2-slot and 1-slot tasks; each logs the slots in use
# when it starts (under a lock) and gives them back when it ends.
: >pack.tasks
for i in $(seq 1 24); do
	if [ $((i % 3)) -eq 0 ]; then
		echo "#TASKFARM slots 2" >>pack.tasks
	else
		echo "#TASKFARM slots 1" >>pack.tasks
	fi
	echo "flock $PWD/lock sh -c 'n=\$(cat $PWD/inuse.\$TASKFARM_RANK 2>/dev/null || echo 0); n=\$((n + \$TASKFARM_NSLOTS)); echo \$n >$PWD/inuse.\$TASKFARM_RANK; echo \$TASKFARM_RANK \$n >>$PWD/peak'; sleep 0.2; flock $PWD/lock sh -c 'n=\$(cat $PWD/inuse.\$TASKFARM_RANK); echo \$((n - \$TASKFARM_NSLOTS)) >$PWD/inuse.\$TASKFARM_RANK'; echo \$TASKFARM_NSLOTS \$OMP_NUM_THREADS" >>pack.tasks
done
rm -f peak inuse.*
tf --slots 4 pack.tasks
check "packing: exits 0" rc_is 0
check "packing: never more than 4 slots in use at once" \
	awk '$2 > 4 { print "rank " $1 ": " $2 " slots"; bad = 1 } END { exit bad }' peak
check "packing: tasks did share the rank (3 or 4 slots in use at some point)" \
	awk '$2 >= 3 { ok = 1 } END { exit !ok }' peak
check "packing: TASKFARM_NSLOTS and OMP_NUM_THREADS are the task's slots" \
	sh -c "[ \$(grep -cx '2 2' out) -eq 8 ] && [ \$(grep -cx '1 1' out) -eq 16 ]"
if have_mpiexec; then
	rm -f peak inuse.*
	mpi 3 --slots 4 --master-slots 0 pack.tasks
	check "packing, 3 ranks: exits 0" rc_is 0
	check "packing, 3 ranks: no rank had more than 4 slots in use" \
		awk '$2 > 4 { print "rank " $1 ": " $2 " slots"; bad = 1 } END { exit bad }' peak
fi
OMP_NUM_THREADS=7 tf --slots 4 pack.tasks
check "packing: an OMP_NUM_THREADS already set is left alone" \
	sh -c "[ \$(grep -cx '2 7' out) -eq 8 ]"

# Not starved: a 4-slot task behind 1-slot ones and before a stream of
# them starts before any task after it.
{
	for i in 1 2 3; do echo "echo S \$TASKFARM_TASK_ID \$(date +%s.%N) >>$PWD/starve; sleep 0.5"; done
	echo "#TASKFARM slots 4"
	echo "echo S \$TASKFARM_TASK_ID \$(date +%s.%N) >>$PWD/starve; sleep 0.2"
	echo "#TASKFARM slots 1"
	for i in $(seq 1 20); do echo "echo S \$TASKFARM_TASK_ID \$(date +%s.%N) >>$PWD/starve; sleep 0.3"; done
} >starve.tasks
rm -f starve
tf --slots 4 starve.tasks
check "not starved: exits 0" rc_is 0
check "not starved: the 4-slot task (line 5) started before every task after it" \
	awk '$1 == "S" { t[$2] = $3 } END { for (i in t) if (i + 0 > 5 && t[i] < t[5]) { print "task " i " at " t[i] ", task 5 at " t[5]; bad = 1 } exit bad || !(5 in t) }' starve
if have_mpiexec; then
	rm -f starve
	mpi 3 --slots 4 --master-slots 0 starve.tasks
	check "not starved, 3 ranks: exits 0" rc_is 0
	check "not starved, 3 ranks: the 4-slot task ran" grep -q '^S 5 ' starve
fi

# GPUs: a list of 4; tasks of 2 get two ids each, never one in use by
# another; gpus 0 sees none; tasks without the directive inherit the list.
: >gpu.tasks
echo 'echo inherit=$CUDA_VISIBLE_DEVICES' >>gpu.tasks
echo '#TASKFARM gpus 2' >>gpu.tasks
for i in $(seq 1 8); do
	echo "flock $PWD/glock sh -c 'for g in \$(echo \$CUDA_VISIBLE_DEVICES | tr , \" \"); do [ -e $PWD/gpu.\$g ] && echo clash \$g >>$PWD/gpuclash; touch $PWD/gpu.\$g; done'; echo ids=\$CUDA_VISIBLE_DEVICES hip=\$HIP_VISIBLE_DEVICES; sleep 0.3; flock $PWD/glock sh -c 'for g in \$(echo \$CUDA_VISIBLE_DEVICES | tr , \" \"); do rm $PWD/gpu.\$g; done'" >>gpu.tasks
done
echo '#TASKFARM gpus 0' >>gpu.tasks
echo 'echo none=[$CUDA_VISIBLE_DEVICES]' >>gpu.tasks
rm -f gpuclash
CUDA_VISIBLE_DEVICES=10,11,12,13 tf --slots 4 gpu.tasks
check "gpus: exits 0" rc_is 0
check "gpus: a task without the directive inherits the list" grep -qx 'inherit=10,11,12,13' out
check "gpus: each gpus-2 task got two of the ids, HIP_VISIBLE_DEVICES the same" \
	sh -c "[ \$(grep -cE '^ids=1[0-3],1[0-3] hip=1[0-3],1[0-3]\$' out) -eq 8 ]"
check "gpus: no id was in use by two tasks at once" sh -c '[ ! -e gpuclash ]'
check "gpus: gpus 0 sees none" grep -qx 'none=\[\]' out
printf '#TASKFARM gpus 5\necho x\n' >gpu5.tasks
CUDA_VISIBLE_DEVICES=0,1,2,3 tf --slots 4 gpu5.tasks
check "gpus: more than any rank has: exits 2" rc_is 2
check "gpus: ... naming the line" grep -q "gpu5.tasks:2: the task needs 5 GPUs" err

# --bind: each slot its own CPUs. Two slots on this machine's cores (at
# least 2): disjoint sets; a 2-slot task gets both.
ncpu=$(nproc)
printf 'grep Cpus_allowed_list /proc/self/status; sleep 0.5\ngrep Cpus_allowed_list /proc/self/status; sleep 0.5\n#TASKFARM slots 2\necho two=$(grep Cpus_allowed_list /proc/self/status)\n' >bind.tasks
tf --slots 2 --bind --journal bind.tsv bind.tasks
check "--bind: exits 0" rc_is 0
if [ "$ncpu" -ge 2 ]; then
	check "--bind: the two slots' tasks ran on different CPU sets" \
		sh -c "[ \$(grep '^Cpus_allowed_list' out | sort -u | wc -l) -eq 2 ]"
	check "--bind: a 2-slot task runs on both slots' CPUs" \
		sh -c "[ \"\$(grep '^two=' out | sed 's/.*:[[:space:]]*//')\" != \"\$(grep '^Cpus_allowed_list' out | head -n 1 | sed 's/.*:[[:space:]]*//')\" ]"
fi
tf --slots 2 --bind --exact-maxrss bind.tasks
check "--bind through the spawn helper: exits 0" rc_is 0
if [ "$ncpu" -ge 2 ]; then
	check "--bind through the spawn helper: different CPU sets" \
		sh -c "[ \$(grep '^Cpus_allowed_list' out | sort -u | wc -l) -eq 2 ]"
fi

# Input errors: named by file and line, exit 2, and nothing runs.
for bad in '#TASKFARM barrierx' '#TASKFARM slots 0' '#TASKFARM gpus many' '#TASKFARM' '#TASKFARM wait 3'; do
	printf 'touch %s/ran\n%s\necho b\n' "$PWD" "$bad" >bad.tasks
	rm -f ran
	tf bad.tasks
	check "bad directive '$bad': exits 2 naming bad.tasks:2, nothing ran" \
		sh -c "[ $rc -eq 2 ] && grep -q 'bad.tasks:2: ' err && [ ! -e ran ]"
done
printf 'touch %s/ran\n#TASKFARM end\necho late\n' "$PWD" >end.tasks
rm -f ran
tf end.tasks
check "a task after #TASKFARM end: exits 2 naming end.tasks:3, nothing ran" \
	sh -c "[ $rc -eq 2 ] && grep -q 'end.tasks:3: a task after' err && [ ! -e ran ]"
printf 'touch %s/ran\n#TASKFARM slots 3\necho big\n' "$PWD" >big.tasks
rm -f ran
tf --slots 2 big.tasks
check "a task bigger than every rank: exits 2 naming big.tasks:3, nothing ran" \
	sh -c "[ $rc -eq 2 ] && grep -q 'big.tasks:3: the task needs 3 slots' err && [ ! -e ran ]"
if have_mpiexec; then
	mpi 3 --slots 2 big.tasks
	check "a task bigger than every rank, 3 ranks: exits 2, nothing ran" \
		sh -c "[ $rc -eq 2 ] && grep -q 'big.tasks:3: the task needs 3 slots' err && [ ! -e ran ]"
fi

finish
