#!/bin/sh
# What a rank takes from its batch system, with Slurm's variables and GPU
# lists faked in the environment: the journal's Host (SLURMD_NODENAME) and
# JobId (SLURM_JOB_ID) columns, and resuming a journal from before JobId;
# the default slots from SLURM_CPUS_PER_TASK and SLURM_CPUS_ON_NODE, bad
# values skipped with a warning; a master of several slots working beside
# its workers; --gpus-per-slot giving every slot its own devices, cutting
# default slots to fit and refusing explicit ones that do not.
. "$top_srcdir/tests/lib.sh"

# Whatever the environment running the tests holds (a CI job inside
# Slurm, a GPU machine) must not leak into these checks.
unset SLURM_JOB_ID SLURMD_NODENAME SLURM_CPUS_PER_TASK SLURM_CPUS_ON_NODE \
	SLURM_TASKS_PER_NODE SLURM_STEP_TASKS_PER_NODE SLURM_NTASKS_PER_NODE \
	SLURM_NODEID CUDA_VISIBLE_DEVICES SLURM_STEP_GPUS SLURM_JOB_GPUS \
	GPU_DEVICE_ORDINAL HIP_VISIBLE_DEVICES

# ---- Journal: JobId and the Slurm node name ----

printf 'echo "host=$TASKFARM_HOST"\necho two\n' >two.tasks
SLURM_JOB_ID=4242 SLURMD_NODENAME=simnode7 tf --journal jid.tsv two.tasks
check "Slurm: exits 0" rc_is 0
check "Slurm: the header has 17 columns, JobId last" \
	sh -c "head -n 1 jid.tsv | awk -F'\t' 'NF != 17 || \$17 != \"JobId\" { exit 1 }'"
check "Slurm: every journal line has 17 fields" every_line_has_fields jid.tsv 17
check "Slurm: JobId is SLURM_JOB_ID" \
	sh -c "[ \"\$(tail -n +2 jid.tsv | cut -f17 | sort -u)\" = 4242 ]"
check "Slurm: Host is SLURMD_NODENAME" \
	sh -c "[ \"\$(tail -n +2 jid.tsv | cut -f2 | sort -u)\" = simnode7 ]"
check "Slurm: TASKFARM_HOST is SLURMD_NODENAME" grep -qx "host=simnode7" out

tf --journal nojid.tsv two.tasks
check "outside Slurm: JobId is -, Host the host name" \
	sh -c "[ \"\$(tail -n +2 nojid.tsv | cut -f17 | sort -u)\" = - ] && [ \"\$(tail -n +2 nojid.tsv | cut -f2 | sort -u)\" = \"$(hostname)\" ]"

# A journal written before JobId (16 columns) resumes: its header stays,
# the lines appended have 17 columns, and a second resume reads both.
printf 'echo a\necho b\necho c\n' >old.tasks
tf --journal old.tsv old.tasks
awk -F'\t' 'BEGIN { OFS = "\t" } { NF = 16; print }' old.tsv |
	grep -v '	echo b	' >old16.tsv
mv old16.tsv old.tsv
cp old.tsv old.orig
SLURM_JOB_ID=77 tf --resume --journal old.tsv old.tasks
check "16-column journal: --resume runs only the missing task" \
	sh -c "[ $rc -eq 0 ] && [ \"\$(cat out)\" = b ] && grep -q '2 skipped' err"
check "16-column journal: its lines and header are kept as they were" \
	sh -c "head -c \$(wc -c <old.orig) old.tsv | cmp -s - old.orig"
check "16-column journal: the appended line has 17 fields, JobId 77" \
	sh -c "[ \"\$(tail -n 1 old.tsv | awk -F'\t' '{ print NF, \$17 }')\" = '17 77' ]"
tf --resume --journal old.tsv old.tasks
check "16-column journal: a second resume reads old and new lines" \
	sh -c "[ $rc -eq 0 ] && [ ! -s out ] && grep -q '3 skipped' err"
tf --journal old.tsv old.tasks
check "a fresh run over it starts a 17-column journal" \
	sh -c "[ $rc -eq 0 ] && awk -F'\t' 'NF != 17 { bad = 1 } END { exit bad }' old.tsv"

# ---- Default slots from Slurm ----

i=1
: >sleep6.tasks
while [ $i -le 6 ]; do
	echo 'sleep 0.4' >>sleep6.tasks
	i=$((i + 1))
done
# A slot count that differs from the built-in default (the cores).
n=3
[ "$(getconf _NPROCESSORS_ONLN)" -eq 3 ] && n=4

SLURM_CPUS_PER_TASK=$n tf --journal cpt.tsv sleep6.tasks
check "SLURM_CPUS_PER_TASK=$n: $n slots" \
	sh -c "[ $rc -eq 0 ] && [ \"\$(tail -n +2 cpt.tsv | cut -f12 | sort -un | tr '\n' ' ')\" = '$(seq 1 $n | tr '\n' ' ')' ]"
SLURM_CPUS_ON_NODE=$n SLURM_TASKS_PER_NODE=1 tf --journal con.tsv sleep6.tasks
check "SLURM_CPUS_ON_NODE=$n, alone on the node: $n slots" \
	sh -c "[ $rc -eq 0 ] && [ \$(tail -n +2 con.tsv | cut -f12 | sort -n | tail -n 1) -eq $n ]"
SLURM_CPUS_PER_TASK=3 tf --slots 1 --journal explicit.tsv sleep6.tasks
check "--slots wins over Slurm" \
	sh -c "[ $rc -eq 0 ] && [ \"\$(tail -n +2 explicit.tsv | cut -f12 | sort -u)\" = 1 ]"
SLURM_CPUS_PER_TASK=lots SLURM_CPUS_ON_NODE=2 tf --journal bad.tsv two.tasks
check "a bad SLURM_CPUS_PER_TASK is skipped with a warning" \
	sh -c "[ $rc -eq 0 ] && grep -q \"ignoring SLURM_CPUS_PER_TASK='lots'\" err"

# ---- GPUs, no launcher ----

printf 'echo "$TASKFARM_RANK $TASKFARM_SLOT $CUDA_VISIBLE_DEVICES $HIP_VISIBLE_DEVICES"; sleep 0.05\n' >gpu1.tasks
i=1
: >gpu.tasks
while [ $i -le 24 ]; do
	cat gpu1.tasks >>gpu.tasks
	i=$((i + 1))
done

# slot_devices_ok FILE: every line "RANK SLOT CUDA HIP" shows the slot's
# own devices: slot S has ids 2S-2,2S-1 (of 0,1,2,3) on every rank.
slot_devices_ok() {
	awk '{ want = (2 * $2 - 2) "," (2 * $2 - 1)
	       if (NF != 4 || $3 != want || $4 != want) { bad = 1; print "bad: " $0 } }
	     END { exit bad || NR == 0 }' "$1"
}

CUDA_VISIBLE_DEVICES=0,1,2,3 tf --slots 2 --gpus-per-slot 2 --no-journal gpu.tasks
cp out gpu-local.out
check "--gpus-per-slot 2, 4 GPUs, 2 slots: exits 0" rc_is 0
check "--gpus-per-slot 2: each slot always sees its own two devices" \
	slot_devices_ok gpu-local.out
check "--gpus-per-slot 2: both slots ran tasks" \
	sh -c "[ \$(cut -d' ' -f2 gpu-local.out | sort -u | wc -l) -eq 2 ] && [ \$(wc -l <gpu-local.out) -eq 24 ]"

SLURM_STEP_GPUS=4,5 tf --slots 2 --gpus-per-slot 1 --no-journal gpu.tasks
check "no CUDA_VISIBLE_DEVICES: SLURM_STEP_GPUS is the list" \
	sh -c "[ $rc -eq 0 ] && awk '{ if (\$3 != 3 + \$2) bad = 1 } END { exit bad }' out"

SLURM_CPUS_PER_TASK=4 CUDA_VISIBLE_DEVICES=0,1,2 tf --gpus-per-slot 1 --journal cut.tsv gpu.tasks
check "default slots (4) cut to the 3 GPUs, with a warning" \
	sh -c "[ $rc -eq 0 ] && grep -q 'gpus-per-slot 1: 3 GPUs granted (CUDA_VISIBLE_DEVICES=0,1,2), so this rank runs 3 slots' err && [ \$(tail -n +2 cut.tsv | cut -f12 | sort -un | tail -n 1) -le 3 ]"
check "cut slots: slot S sees device S-1" \
	sh -c "[ -s out ] && awk '{ if (\$3 != \$2 - 1) bad = 1 } END { exit bad }' out"

CUDA_VISIBLE_DEVICES=0,1,2,3 tf --slots 3 --gpus-per-slot 2 --journal over.tsv \
	-- 'touch started' ::: 1
check "explicit --slots 3 x 2 GPUs of 4: exit 2 naming the numbers" \
	sh -c "[ $rc -eq 2 ] && grep -q '3 slots on rank 0 need 6 GPUs, but only 4 are granted' err"
check "explicit slots that do not fit start no task" test ! -e started

tf --gpus-per-slot 1 --journal none.tsv -- 'touch started' ::: 1
check "--gpus-per-slot with no GPU list: exit 2, saying so" \
	sh -c "[ $rc -eq 2 ] && grep -q 'no GPUs granted' err && [ ! -e started ]"
tf --gpus-per-slot 0 two.tasks
check "--gpus-per-slot 0 is a usage error" \
	sh -c "[ $rc -eq 2 ] && grep -q -- '--gpus-per-slot takes' err"

# ---- Under the launcher ----

if have_mpiexec; then
	mpi 2 --slots 2 --journal ms.tsv sleep6.tasks
	check "mpirun -n 2 --slots 2: the master runs tasks beside its worker" \
		sh -c "[ $rc -eq 0 ] && [ \"\$(tail -n +2 ms.tsv | cut -f11 | sort -un | tr '\n' ' ')\" = '0 1 ' ]"
	mpi 2 --slots 2 --master-slots 0 --journal ms0.tsv sleep6.tasks
	check "--master-slots 0 keeps the master to dispatching" \
		sh -c "[ $rc -eq 0 ] && [ \"\$(tail -n +2 ms0.tsv | cut -f11 | sort -u)\" = 1 ]"
	mpi 3 --journal ms1.tsv sleep6.tasks
	check "workers of one slot: the master only dispatches" \
		sh -c "[ $rc -eq 0 ] && [ \"\$(tail -n +2 ms1.tsv | cut -f11 | sort -un | tr '\n' ' ')\" = '1 2 ' ]"

	SLURM_JOB_ID=31337 mpi 2 --journal mjid.tsv two.tasks
	check "under mpirun: JobId is the master's SLURM_JOB_ID" \
		sh -c "[ $rc -eq 0 ] && [ \"\$(tail -n +2 mjid.tsv | cut -f17 | sort -u)\" = 31337 ]"

	CUDA_VISIBLE_DEVICES=0,1,2,3 mpi 2 --slots 2 --gpus-per-slot 2 --no-journal gpu.tasks
	cp out gpu-mpi.out
	check "mpirun -n 2 --gpus-per-slot 2: exits 0" rc_is 0
	check "mpirun: each slot of each rank always sees its own devices" \
		slot_devices_ok gpu-mpi.out
	check "mpirun: both ranks ran tasks" \
		sh -c "[ \$(cut -d' ' -f1 gpu-mpi.out | sort -u | wc -l) -eq 2 ] && [ \$(wc -l <gpu-mpi.out) -eq 24 ]"

	CUDA_VISIBLE_DEVICES=0,1,2,3 mpi 2 --slots 3 --gpus-per-slot 2 \
		--journal mover.tsv -- 'touch started' ::: 1
	check "mpirun: explicit slots that do not fit: exit 2, said once, no task" \
		sh -c "[ $rc -eq 2 ] && [ \$(grep -c 'need 6 GPUs, but only 4' err) -eq 1 ] && [ ! -e started ]"
else
	diag "no MPI launcher ($MPIEXEC): skipping the launcher checks"
fi

finish
