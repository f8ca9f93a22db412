#!/bin/sh
# The slurm/ batch scripts on a real Slurm cluster started on this machine
# (tests/slurm-cluster.sh: munged, slurmctld and four slurmd, node1..node4):
# submitted with sbatch and followed with squeue and scontrol, as a user
# would. Checks the journals, not just exit codes: every task succeeded
# exactly once and nothing ran again after its success; the attempts are
# spread over the simulated nodes (Host column) and carry the job id
# (JobId column); srun and mpirun launches; one rank per node with a slot
# per CPU and per GPU; and a time-limit chain, --time=1 with a warning
# signal: drain, requeue (or resubmit), resume, complete, and then nothing
# more is submitted. Needs root and slurm-wlm + munge
# (tools/slurm-deps.sh installs them; `make check-slurm` installs them if
# missing and runs this); takes 3-5 minutes.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/slurm-cluster.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root (starts munged, slurmctld and slurmd)"
for p in munged slurmctld slurmd sbatch scontrol squeue setpriv; do
	command -v $p >/dev/null 2>&1 ||
		skip_all "no $p (tools/slurm-deps.sh installs slurm-wlm and munge)"
done

SLURMDIR=$top_srcdir/slurm
export TASKFARM="$TF"
unset JOURNAL RESTART MAX_RESTARTS TF_RESTARTS DEADLINE_MARGIN
# munged (as the munge user) must reach the cluster's directory.
chmod 755 "$SCRATCH"
t_start=$(date +%s)

if slurm_cluster_start "$SCRATCH/cluster" 4; then
	ok "cluster: munged, slurmctld and 4 slurmd started; node1..node4 idle"
else
	not_ok "cluster: munged, slurmctld and 4 slurmd started; node1..node4 idle"
	slurm_cluster_stop
	finish
	exit 1
fi

# jf ID FIELD: one field of `scontrol show job`.
jf() {
	scontrol -o show job "$1" 2>/dev/null | tr ' ' '\n' |
		sed -n "s/^$2=//p" | head -n 1
}

# submit ARGS...: sbatch, job id in $id.
submit() {
	id=$(sbatch --parsable "$@" 2>sbatch.err | cut -d';' -f1)
	[ -n "$id" ] || diag "sbatch $* failed:" "$(cat sbatch.err)"
}

ended() {
	case $1 in
	COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | \
		BOOT_FAIL | DEADLINE | PREEMPTED) return 0 ;;
	esac
	return 1
}

# release ID: a requeued job waits for its credentials to expire (AuthInfo
# cred_expire, 120 s), which also keeps it off nodes still cleaning up its
# last run: let it start once it has waited 3 s and no node is completing
# a job. (Released at once, a requeued job sometimes ended with exit 1
# before its script started.)
release() {
	if [ "$(jf "$1" JobState)" = PENDING ] && [ "$(jf "$1" Reason)" = BeginTime ]; then
		eval "w=\${waited_$1:-0}"
		if [ "$w" -ge 3 ] && [ -z "$(sinfo -h -N -t completing -o %N)" ]; then
			scontrol update JobId="$1" StartTime=now 2>/dev/null &&
				releases=$((releases + 1))
			w=-1
		fi
		eval "waited_$1=$((w + 1))"
	fi
}
releases=0

# wait_ended SECONDS ID...: until every job has ended (releasing requeued
# ones).
wait_ended() {
	limit=$1
	shift
	t0=$(date +%s)
	while :; do
		all=1
		for j in "$@"; do
			s=$(jf "$j" JobState)
			ended "$s" && continue
			all=
			release "$j"
		done
		[ -n "$all" ] && return 0
		if [ $(($(date +%s) - t0)) -ge "$limit" ]; then
			diag "jobs still running after ${limit}s:" "$(squeue 2>&1)"
			return 1
		fi
		sleep 1
	done
}

# job_ok ID [CODE]: the job ended COMPLETED with exit code 0 (or FAILED
# with CODE).
job_ended_with() {
	want=${2:-0}
	s=$(jf "$1" JobState)
	e=$(jf "$1" ExitCode)
	if [ "$want" -eq 0 ]; then ws=COMPLETED; else ws=FAILED; fi
	[ "$s" = "$ws" ] && [ "$e" = "$want:0" ] && return 0
	diag "job $1: $s, exit code $e; expected $ws, $want:0" \
		"$(grep -v '^out ' "$(jf "$1" StdOut)" 2>/dev/null | tail -n 25)"
	return 1
}

# col JOURNAL NAME: the number of the column headed NAME, or nothing.
col() {
	head -n 1 "$1" | tr '\t' '\n' | grep -n -x "$2" | cut -d: -f1
}

# once_ok JOURNAL N: tasks 1..N each have exactly one `ok` attempt, and no
# attempt of a task started after its success.
once_ok() {
	[ -s "$1" ] || { diag "$1: no journal"; return 1; }
	awk -F'\t' -v n="$2" '
		NR == 1 { next }
		{ start[NR] = $3; id[NR] = $1 }
		$13 == "ok" { ok[$1]++; okstart[$1] = $3 }
		END {
			for (i = 1; i <= n; i++)
				if (ok[i] != 1) { print "task " i ": " ok[i] + 0 " successes"; bad = 1 }
			for (r in id)
				if ((id[r] in okstart) && start[r] > okstart[id[r]]) {
					print "task " id[r] ": an attempt after its success"; bad = 1
				}
			exit bad
		}' "$1" >once.diag
	rc=$?
	[ $rc -eq 0 ] || diag "$1:" "$(head -n 10 once.diag)" \
		"$(awk -F'\t' 'NR > 1 && $13 != "ok"' "$1" | head -n 5)"
	return $rc
}

# hosts_are JOURNAL "node1 node2...": the Host column holds exactly these
# names (SLURMD_NODENAME, not the machine's host name).
hosts_are() {
	got=$(tail -n +2 "$1" | cut -f2 | sort -u | tr '\n' ' ' | sed 's/ $//')
	[ "$got" = "$2" ] && return 0
	diag "$1: hosts '$got', expected '$2'"
	return 1
}

# jobids_are JOURNAL "ID...": the JobId column holds exactly these ids.
jobids_are() {
	c=$(col "$1" JobId)
	[ -n "$c" ] || { diag "$1: no JobId column"; return 1; }
	got=$(tail -n +2 "$1" | cut -f"$c" | sort -un | tr '\n' ' ' | sed 's/ $//')
	[ "$got" = "$2" ] && return 0
	diag "$1: job ids '$got', expected '$2'"
	return 1
}

# jobids_within FILE "IDS": the JobId column names only jobs of IDS, and
# the last of them (a run warned before any of its tasks ended, as Slurm's
# 30 s check may do, journals nothing).
jobids_within() {
	c=$(col "$1" JobId)
	[ -n "$c" ] || { diag "$1: no JobId column"; return 1; }
	got=$(tail -n +2 "$1" | cut -f"$c" | sort -un | tr '\n' ' ' | sed 's/ $//')
	last=${2##* }
	for g in $got; do
		case " $2 " in *" $g "*) ;; *) diag "$1: job id $g is not one of '$2'"; return 1 ;; esac
	done
	case " $got " in *" $last "*) return 0 ;; esac
	diag "$1: job ids '$got' lack the last job, $last"
	return 1
}

# mkjob FILE N [SECONDS]: N tasks of SECONDS (default 1; "3-7": 3 to 7 by
# turns, so that the slots are out of step) that print where they ran.
mkjob() {
	i=1
	while [ $i -le "$2" ]; do
		case ${3:-1} in
		3-7) d=$((3 + i % 5)) ;;
		*) d=${3:-1} ;;
		esac
		echo "sleep $d; echo \"out \$TASKFARM_TASK_ID \$SLURMD_NODENAME rank=\$TASKFARM_RANK slot=\$TASKFARM_SLOT gpus=\${CUDA_VISIBLE_DEVICES-none}\""
		i=$((i + 1))
	done >"$1"
}
mkjob quick.tasks 32
mkjob slots.tasks 24 2
mkjob gpu.tasks 24 2
printf 'true\nfalse\ntrue\n' >fail.tasks
printf 'sleep 120\nsleep 120\nsleep 120\n' >stop.tasks

# Quick runs, at once (Slurm places them as the 16 CPUs free up):
# 4 nodes x 2 ranks with srun; 3 nodes x 2 ranks with mpirun; one rank per
# node with 4 slots (-c 4); the GPU script (one rank per node, a slot per
# GPU); a job with a failing task.
JOURNAL=srun.tsv submit -J tf-srun -N4 --ntasks-per-node=2 --time=5 \
	"$SLURMDIR/farm.sbatch" quick.tasks
srun_id=$id
# After the srun job: a wave of 14 ranks connecting over TCP at once on a
# 2-core machine can time out in Open MPI's TCP BTL ("connect() ...
# failed: Operation now in progress", open-mpi/ompi#11508).
JOURNAL=mpirun.tsv submit -J tf-mpirun -N3 --ntasks-per-node=2 --time=5 \
	--dependency=afterany:$srun_id "$SLURMDIR/farm-mpirun.sbatch" quick.tasks
mpirun_id=$id
JOURNAL=slots.tsv submit -J tf-slots -N2 --ntasks-per-node=1 --cpus-per-task=4 \
	--time=5 "$SLURMDIR/farm.sbatch" slots.tasks
slots_id=$id
JOURNAL=gpu.tsv submit -J tf-gpu --time=5 "$SLURMDIR/farm-gpu.sbatch" gpu.tasks
gpu_id=$id
JOURNAL=fail.tsv submit -J tf-fail -N1 --ntasks-per-node=2 --time=5 \
	"$SLURMDIR/farm.sbatch" fail.tasks
fail_id=$id
diag "jobs: srun $srun_id, mpirun $mpirun_id, slots $slots_id, gpu $gpu_id, fail $fail_id"
wait_ended 180 $srun_id $mpirun_id $slots_id $gpu_id $fail_id
t_quick=$(date +%s)

out_of() { jf "$1" StdOut; }
for run in srun mpirun; do
	eval "j=\$${run}_id"
	check "$run: job $j completed, exit 0" job_ended_with "$j"
	check "$run: every task succeeded once, nothing ran twice" once_ok $run.tsv 32
	check "$run: every task's output is in the job's output file" \
		sh -c "[ \$(grep -c '^out ' '$(out_of "$j")') -eq 32 ]"
	check "$run: the tasks ran on node1..node$([ $run = srun ] && echo 4 || echo 3) (Host column)" \
		hosts_are $run.tsv "$([ $run = srun ] && echo 'node1 node2 node3 node4' || echo 'node1 node2 node3')"
	check "$run: the JobId column is the job's id" jobids_are $run.tsv "$j"
done

check "one rank per node, -c 4: job $slots_id completed, exit 0" job_ended_with "$slots_id"
check "one rank per node, -c 4: every task succeeded once" once_ok slots.tsv 24
check "one rank per node, -c 4: each rank ran 4 slots (default from SLURM_CPUS_PER_TASK)" \
	sh -c "[ \"\$(tail -n +2 slots.tsv | cut -f11,12 | sort -u | cut -f1 | uniq -c | awk '{print \$1}' | sort -u)\" = 4 ]"
check "one rank per node, -c 4: the master ran tasks in its own slots (rank 0)" \
	sh -c "tail -n +2 slots.tsv | cut -f11 | grep -qx 0"
check "one rank per node, -c 4: tasks ran on node1 and node2" \
	hosts_are slots.tsv "node1 node2"

# GPU: every slot of a rank has its own device, the node's four between
# the four slots; the output line says which slot saw which.
check "gpu: job $gpu_id completed, exit 0" job_ended_with "$gpu_id"
check "gpu: every task succeeded once" once_ok gpu.tsv 24
gpu_out=$(out_of "$gpu_id")
gpu_bind() {
	grep '^out ' "$gpu_out" | awk '
		{ node = $3; slot = $5; g = $6; sub(/^slot=/, "", slot); sub(/^gpus=/, "", g)
		  if (g !~ /^[0-9]+$/) { print "task " $2 ": gpus=" g; bad = 1; next }
		  key = node " " slot
		  if ((key in dev) && dev[key] != g) { print key ": two devices"; bad = 1 }
		  dev[key] = g
		  if (!((node " " g) in owner)) owner[node " " g] = slot
		  else if (owner[node " " g] != slot) { print node " gpu " g ": two slots"; bad = 1 } }
		END { for (k in dev) c[substr(k, 1, index(k, " ") - 1)]++
		      for (x in c) { nodes++; if (c[x] != 4) { print x ": " c[x] " slots"; bad = 1 } }
		      if (nodes != 2) { print nodes + 0 " nodes"; bad = 1 }
		      exit bad }' >gpu.diag
	r=$?
	[ $r -eq 0 ] || diag "$(head -n 8 gpu.diag)" "$(grep '^out ' "$gpu_out" | head -n 4)"
	return $r
}
check "gpu: each slot saw one GPU of its own, 4 slots per node on 2 nodes (--gpus-per-slot 1)" gpu_bind

check "exit 1 (a task failed): job $fail_id ends with exit 1" job_ended_with "$fail_id" 1
check "exit 1: not requeued, nothing resubmitted" \
	sh -c "[ '$(jf "$fail_id" Restarts)' = 0 ] && [ \$(squeue -h -n tf-fail | wc -l) -eq 0 ]"

# A lost rank: one rank per node on 3 nodes (-c 2), node2's rank killed
# with SIGKILL mid-run. The run goes on without it: the job completes with
# the master's exit status 0 (srun itself exits 137; farm.sbatch reads
# --status-file), every task succeeds once, the lost attempts are
# journaled lost on node2, and no task of the job is left running.
mkjob lost.tasks 30 2
JOURNAL=lost.tsv MAX_RESTARTS=0 submit -J tf-lost -N3 --ntasks-per-node=1 \
	--cpus-per-task=2 --time=5 "$SLURMDIR/farm.sbatch" lost.tasks
lost_id=$id
# A warning that never comes (--signal=URG@40: nothing drains on SIGURG),
# as when Slurm sends it before the step has started, where it reaches
# nothing (its first time-limit check within the warning time + 30 s of
# the end sends it, docs/slurm.md): farm.sbatch's own --deadline, 15 s
# before the end of the job's minute, drains the run, which ends with
# exit 3 and not by the time limit (TIMEOUT). On the fourth node, beside
# the lost-rank job.
mkjob nowarn.tasks 20 6
JOURNAL=nowarn.tsv MAX_RESTARTS=0 submit -J tf-nowarn -N1 --ntasks-per-node=2 \
	--time=1 --signal=URG@40 "$SLURMDIR/farm.sbatch" nowarn.tasks
nowarn_id=$id
# lost_rank_pid: the pid of rank 1 of the job (SLURM_PROCID=1), not its
# guardian (comm taskfarm-guard).
lost_rank_pid() {
	for p in $(pgrep -x taskfarm); do
		if { tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null | grep -qx "SLURM_JOB_ID=$lost_id" &&
			{ tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null | grep -qx "SLURM_PROCID=1"; then
			echo "$p"
			return
		fi
	done
}
t0=$(date +%s)
victim=
while [ -z "$victim" ] && [ $(($(date +%s) - t0)) -lt 90 ]; do
	[ -s lost.tsv ] && [ "$(wc -l <lost.tsv)" -ge 4 ] && victim=$(lost_rank_pid)
	sleep 0.5
done
diag "lost: job $lost_id, rank 1 is pid ${victim:-not found}"
[ -n "$victim" ] && kill -9 "$victim"
wait_ended 120 "$lost_id"
check "a lost rank (one per node): job $lost_id completed, exit 0" job_ended_with "$lost_id"
check "a lost rank: the master's status file says 0" sh -c "[ \"\$(cat lost.tsv.status)\" = 0 ]"
check "a lost rank: every task succeeded once" once_ok lost.tsv 30
check "a lost rank: its attempts are journaled lost, on node2" \
	sh -c "awk -F'\t' '\$13 == \"lost\" { n++; if (\$2 != \"node2\") bad = 1 } END { exit !(n > 0 && !bad) }' lost.tsv"
check "a lost rank: the output names it" \
	grep -q "rank 1 on node2 lost" "$(out_of "$lost_id")"
# job_procs ID: processes (tasks' shells and sleeps, ranks) of job ID.
job_procs() {
	for p in $(pgrep -x sleep) $(pgrep -x sh) $(pgrep -x taskfarm); do
		{ tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null |
			grep -qx "SLURM_JOB_ID=$1" && echo "$p"
	done
}
sleep 3
check "a lost rank: no task of the job is left running" [ -z "$(job_procs "$lost_id")" ]

# Stopped by hand (scancel --signal=USR1) with MAX_RESTARTS=0: drains,
# exits 3, and is not requeued. (Three workers, three tasks: while run
# times are unknown a worker may hold two, so one to three run.)
JOURNAL=stop.tsv MAX_RESTARTS=0 submit -J tf-stop -N1 --ntasks-per-node=4 --time=5 \
	"$SLURMDIR/farm.sbatch" stop.tasks
stop_id=$id
# Give the ranks a few seconds to start their tasks once the job runs.
t0=$(date +%s)
until grep -q "^farm.sbatch: job $stop_id run 1 on" "$(out_of "$stop_id")" 2>/dev/null; do
	[ $(($(date +%s) - t0)) -ge 60 ] && break
	sleep 1
done
sleep 6
scancel --signal=USR1 "$stop_id"
wait_ended 60 "$stop_id"
check "scancel --signal=USR1, MAX_RESTARTS=0: job ends with exit 3 (drained)" \
	job_ended_with "$stop_id" 3
# statuses JOURNAL: the Status column, counted ("3 interrupted").
statuses() {
	tail -n +2 "$1" | cut -f13 | sort | uniq -c | awk '{ printf "%s%d %s", s, $1, $2; s = ", " }'
}
stop_interrupted() {
	case $(statuses stop.tsv) in
	[1-3]" interrupted") return 0 ;;
	esac
	diag "stop.tsv: $(statuses stop.tsv)" "$(grep -v '^out ' "$(out_of "$stop_id")" | tail -n 12)"
	return 1
}
check "scancel --signal=USR1: the running tasks are journaled interrupted, nothing else" stop_interrupted
check "MAX_RESTARTS=0: not requeued, and the output says why" \
	sh -c "[ '$(jf "$stop_id" Restarts)' = 0 ] && grep -q 'not restarting' '$(out_of "$stop_id")'"

wait_ended 120 "$nowarn_id"
check "no warning signal: job $nowarn_id drained by the script's --deadline, exit 3 (not TIMEOUT)" \
	job_ended_with "$nowarn_id" 3
check "no warning signal: the output says the deadline drained it, and why it was not restarted" \
	sh -c "grep -q -e '--deadline reached' -e '--deadline: the next task would not finish' '$(out_of "$nowarn_id")' &&
		grep -q 'not restarting' '$(out_of "$nowarn_id")'"
# nowarn_journal: 1 to 19 of the 20 tasks ok, every other attempt
# interrupted.
nowarn_journal() {
	n=$(awk -F'\t' 'NR > 1 && $13 == "ok"' nowarn.tsv 2>/dev/null | wc -l)
	[ -s nowarn.tsv ] && [ "$n" -ge 1 ] && [ "$n" -lt 20 ] &&
		! awk -F'\t' 'NR > 1 && $13 != "ok" && $13 != "interrupted"' nowarn.tsv | grep -q . &&
		return 0
	diag "nowarn.tsv: $(statuses nowarn.tsv)"
	return 1
}
check "no warning signal: some tasks succeeded, some remain, none is journaled failed" nowarn_journal
t_stop=$(date +%s)

# The time-limit chains, side by side on two nodes each: 96 tasks of 3 to
# 7 s on 7 worker slots need about 70 s, more than a run's minute. With
# --time=1 and the warning 40 s before the end, Slurm sends it when its
# time-limit check (every 30 s) next runs after 20 s, so 20 to 50 s into
# each run: it takes 2 to 4 runs. (With 56 tasks, 42 s, a run could end
# before the check and complete unwarned: seen once in three.) One chain (farm.sbatch, srun) requeues itself, with sbatch
# options on the command line, which a requeue keeps. The other
# (farm-mpirun.sbatch: the batch shell takes the signal, B:, and passes it
# to mpirun) resubmits itself, with sbatch options from the environment,
# which the resubmission inherits, and passes a taskfarm option on to each
# run.
mkjob chain.tasks 96 3-7
cp chain.tasks resub.tasks
JOURNAL=requeue.tsv submit -J tf-requeue --time=1 --signal=USR1@40 \
	"$SLURMDIR/farm.sbatch" chain.tasks
rq_id=$id
JOURNAL=resub.tsv RESTART=resubmit SBATCH_TIMELIMIT=1 SBATCH_SIGNAL=B:USR1@40 \
	SBATCH_JOB_NAME=tf-resub submit "$SLURMDIR/farm-mpirun.sbatch" resub.tasks \
	--drain-grace 0
rs_first=$id
diag "chains: requeue job $rq_id, resubmit job $rs_first"

# resub_ids: the resubmission chain's job ids, in order.
resub_ids() {
	scontrol -o show job 2>/dev/null | grep ' JobName=tf-resub ' |
		sed 's/^JobId=\([0-9]*\).*/\1/' | sort -n | tr '\n' ' ' | sed 's/ $//'
}
t0=$(date +%s)
while :; do
	release "$rq_id"
	rs_last=$(resub_ids | awk '{ print $NF }')
	ended "$(jf "$rq_id" JobState)" && ended "$(jf "$rs_last" JobState)" && break
	if [ $(($(date +%s) - t0)) -ge 330 ]; then
		diag "chains not done after 330 s:" "$(squeue 2>&1)"
		break
	fi
	sleep 1
done
t_chain=$(date +%s)
# Nothing new may appear once the chains are done.
sleep 5
rs_all=$(resub_ids)
rs_n=$(echo "$rs_all" | wc -w)
diag "requeue chain: $(jf "$rq_id" Restarts) requeues, $releases early releases;" \
	"resubmit chain: jobs $rs_all"

check "requeue: job $rq_id completed, exit 0" job_ended_with "$rq_id"
check "requeue: it was requeued at least once (Restarts)" \
	sh -c "[ '$(jf "$rq_id" Restarts)' -ge 1 ]"
rq_out=$(out_of "$rq_id")
check "requeue: one output file, appended by every run, runs 2.. resumed" \
	sh -c "[ \$(grep -c '^farm.sbatch: job $rq_id run [0-9]* on' '$rq_out') -eq $(($(jf "$rq_id" Restarts) + 1)) ] &&
		[ \$(grep -c '^farm.sbatch: job $rq_id run [0-9]* on .* --resume\$' '$rq_out') -eq $(jf "$rq_id" Restarts) ]"
check "requeue: every task succeeded exactly once, none ran again after its success" \
	once_ok requeue.tsv 96
check "requeue: the drained attempts are journaled interrupted" \
	sh -c "awk -F'\t' '\$13 == \"interrupted\"' requeue.tsv | grep -q ."
check "requeue: no attempt stopped by the warning signal is journaled as a failure" \
	sh -c "[ -s requeue.tsv ] && ! awk -F'\t' 'NR > 1 && \$13 != \"ok\" && \$13 != \"interrupted\"' requeue.tsv | grep -q . ||
		{ echo '# requeue.tsv: '\"\$(tail -n +2 requeue.tsv | cut -f13 | sort | uniq -c | tr -s ' \n' ' ')\"; exit 1; }"
check "requeue: attempts ran on the simulated nodes (Host column)" \
	sh -c "[ -s requeue.tsv ] && ! tail -n +2 requeue.tsv | cut -f2 | grep -qv '^node[1-4]\$'"
check "requeue: the JobId column is the job's id in every run" jobids_are requeue.tsv "$rq_id"
check "requeue: nothing further runs or waits after completion" \
	sh -c "[ '$(jf "$rq_id" JobState)' = COMPLETED ] && [ \$(squeue -h -n tf-requeue | wc -l) -eq 0 ]"

rs_last=$(echo "$rs_all" | awk '{ print $NF }')
check "resubmit (mpirun): the last job ($rs_last) completed, exit 0" job_ended_with "$rs_last"
check "resubmit (mpirun): at least one resubmission; each earlier job drained (exit 3)" sh -c "
	[ $rs_n -ge 2 ] || exit 1
	for j in $rs_all; do
		[ \$j = $rs_last ] && continue
		[ \"\$(scontrol -o show job \$j | grep -o 'ExitCode=[0-9:]*')\" = ExitCode=3:0 ] || exit 1
	done"
# A run is drained by the warning (SIGUSR1, passed on by the batch shell)
# or by the script's --deadline, whichever comes first; each job of the
# chain runs the script with the taskfarm option given to the first.
check "resubmit (mpirun): all runs appended to the first job's output file, with the option passed on" \
	sh -c "[ \$(grep -c '^farm-mpirun.sbatch: job [0-9]* run [0-9]* on' '$(out_of "$rs_first")') -eq $rs_n ] &&
		[ \$(grep -c '^farm-mpirun.sbatch: job [0-9]* run [0-9]*: taskfarm exit 3 at' '$(out_of "$rs_first")') -eq $((rs_n - 1)) ] &&
		for j in $rs_all; do
			scontrol -o show job \$j | grep -q 'Command=[^ ]*farm-mpirun.sbatch resub.tasks --drain-grace 0' || exit 1
		done"
check "resubmit (mpirun): every task succeeded exactly once, none ran again after its success" \
	once_ok resub.tsv 96
check "resubmit (mpirun): the drained attempts are journaled interrupted" \
	sh -c "awk -F'\t' '\$13 == \"interrupted\"' resub.tsv | grep -q ."
check "resubmit (mpirun): no attempt stopped by the warning signal is journaled as a failure" \
	sh -c "[ -s resub.tsv ] && ! awk -F'\t' 'NR > 1 && \$13 != \"ok\" && \$13 != \"interrupted\"' resub.tsv | grep -q . ||
		{ echo '# resub.tsv: '\"\$(tail -n +2 resub.tsv | cut -f13 | sort | uniq -c | tr -s ' \n' ' ')\"; exit 1; }"
check "resubmit (mpirun): the JobId column names jobs of the chain only, the last among them" jobids_within resub.tsv "$rs_all"
check "resubmit (mpirun): nothing further is submitted after completion" \
	sh -c "[ \$(squeue -h -n tf-resub | wc -l) -eq 0 ]"

t_end=$(date +%s)
diag "times: quick jobs $((t_quick - t_start)) s, stop $((t_stop - t_quick)) s," \
	"chains $((t_chain - t_stop)) s, total $((t_end - t_start)) s"
slurm_cluster_stop
# On failure keep the daemons' logs, the configuration, the journals and
# the job outputs.
if [ "$tap_failed" -gt 0 ]; then
	keep=${SLURM_TEST_KEEP:-$top_builddir/tests/slurm-failed}
	rm -rf "$keep" && mkdir -p "$keep" &&
		cp -r "$SCRATCH/cluster/log" "$SCRATCH/cluster/slurm.conf" "$keep/" &&
		cp "$SCRATCH"/*.tsv "$SCRATCH"/*.out "$SCRATCH"/*.tasks "$keep/" 2>/dev/null
	diag "logs, journals and job outputs kept in $keep"
fi
finish
