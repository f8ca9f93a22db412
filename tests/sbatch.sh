#!/bin/sh
# The slurm/ scripts' own logic, without a cluster: squeue, srun and mpirun
# are stand-ins on PATH that say what they were asked. The --deadline the
# scripts give taskfarm DEADLINE_MARGIN s before the job's end (a tenth of
# the time limit, 15 to 60 s), in case the warning signal is missed; and
# farm-mpirun.sbatch's SIGUSR1 trap: a warning that comes before mpirun
# starts means nothing is started (exit 3), one that comes while it runs
# is passed to mpirun once. (tests/slurm.sh runs the scripts on a real
# Slurm cluster.)
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

command -v bash >/dev/null 2>&1 || skip_all "no bash"
SLURMDIR=$top_srcdir/slurm
FAKE_DIR=$SCRATCH/fake
mkdir -p "$FAKE_DIR/bin"
export FAKE_DIR

# squeue -o '%S %e': FAKE_START and FAKE_END (epoch seconds) as Slurm
# prints them, after FAKE_SQUEUE_SLEEP seconds; nothing and exit 1 when
# FAKE_START is empty.
cat >"$FAKE_DIR/bin/squeue" <<'EOF'
#!/bin/sh
sleep "${FAKE_SQUEUE_SLEEP:-0}"
[ -n "${FAKE_START:-}" ] || exit 1
echo "$(date -d "@$FAKE_START" +%FT%T) $(date -d "@$FAKE_END" +%FT%T)"
EOF
# srun and mpirun: write their arguments, one per line, count the
# SIGUSR1s they get, run FAKE_RUN_TENTHS tenths of a second, exit FAKE_RC.
cat >"$FAKE_DIR/bin/launcher" <<'EOF'
#!/bin/sh
printf '%s\n' "$@" >"$FAKE_DIR/args"
n=0
trap 'n=$((n + 1)); echo $n >"$FAKE_DIR/usr1"' USR1
i=0
while [ $i -lt "${FAKE_RUN_TENTHS:-0}" ]; do
	sleep 0.1
	i=$((i + 1))
done
exit "${FAKE_RC:-0}"
EOF
chmod +x "$FAKE_DIR/bin/squeue" "$FAKE_DIR/bin/launcher"
ln -s launcher "$FAKE_DIR/bin/srun"
ln -s launcher "$FAKE_DIR/bin/mpirun"
PATH=$FAKE_DIR/bin:$PATH
SLURM_JOB_ID=42 SLURM_JOB_NODELIST=node1
RESTART=none
export PATH SLURM_JOB_ID SLURM_JOB_NODELIST RESTART
unset JOURNAL MAX_RESTARTS TF_RESTARTS DEADLINE_MARGIN SLURM_RESTART_COUNT \
	SLURM_CPUS_PER_TASK FAKE_START FAKE_END FAKE_SQUEUE_SLEEP FAKE_RUN_TENTHS FAKE_RC

# run SCRIPT LIMIT [ARGS...]: the script in a job that started 5 s ago and
# has LIMIT seconds in all (none: squeue fails); output in run.out, exit
# status in $rc.
run() {
	script=$1 limit=$2
	shift 2
	rm -f "$FAKE_DIR/args" "$FAKE_DIR/usr1"
	if [ "$limit" = none ]; then
		unset FAKE_START FAKE_END
	else
		FAKE_START=$(($(date +%s) - 5))
		FAKE_END=$((FAKE_START + limit))
		export FAKE_START FAKE_END
	fi
	bash "$SLURMDIR/$script" jobs.tasks "$@" >run.out 2>&1
	rc=$?
}
: >jobs.tasks

# deadline_is WANT: the launcher's arguments hold --deadline @WANT (or
# none at all when WANT is "none"), before the job file.
deadline_is() {
	got=$(grep -A1 -x -e --deadline "$FAKE_DIR/args" 2>/dev/null | sed -n 2p)
	if [ "$1" = none ]; then
		[ -f "$FAKE_DIR/args" ] && [ -z "$got" ] && return 0
	else
		[ "$got" = "@$1" ] && return 0
	fi
	diag "wanted --deadline ${1}, got: $(tr '\n' ' ' <"$FAKE_DIR/args" 2>/dev/null)" "$(cat run.out)"
	return 1
}

for s in farm.sbatch farm-gpu.sbatch farm-mpirun.sbatch; do
	run $s 600
	check "$s: a 10-minute job: --deadline a tenth of it (60 s) before the end" \
		deadline_is $((FAKE_END - 60))
	check "$s: exit status is the launcher's (0)" rc_is 0
done
run farm.sbatch 60
check "a 1-minute job: at least 15 s before the end" deadline_is $((FAKE_END - 15))
run farm.sbatch 86400
check "a 1-day job: at most 60 s before the end" deadline_is $((FAKE_END - 60))
DEADLINE_MARGIN=30 run farm.sbatch 600
check "DEADLINE_MARGIN=30: 30 s before the end" deadline_is $((FAKE_END - 30))
DEADLINE_MARGIN=0 run farm.sbatch 600
check "DEADLINE_MARGIN=0: no --deadline" deadline_is none
run farm.sbatch none
check "no end time known (squeue fails): no --deadline, taskfarm still runs" deadline_is none
run farm.sbatch 12
check "the margin would fall in the past: no --deadline" deadline_is none
run farm.sbatch 600 --deadline +5
check "a --deadline of the user's comes after the script's, so it wins (last one taken)" \
	sh -c "[ \"\$(grep -n -x -e --deadline -e +5 -e '@$((FAKE_END - 60))' '$FAKE_DIR/args' | cut -d: -f2 | tr '\n' ' ')\" = '--deadline @$((FAKE_END - 60)) --deadline +5 ' ]"
FAKE_RC=3 run farm.sbatch 600
check "farm.sbatch: the launcher's exit 3 is the script's with RESTART=none" rc_is 3

# The warning while squeue still runs, before mpirun: nothing starts.
FAKE_SQUEUE_SLEEP=3 bash "$SLURMDIR/farm-mpirun.sbatch" jobs.tasks >run.out 2>&1 &
pid=$!
rm -f "$FAKE_DIR/args" "$FAKE_DIR/usr1"
sleep 1
kill -USR1 $pid
wait $pid
rc=$?
check "farm-mpirun.sbatch: SIGUSR1 before mpirun starts: exit 3 (drained)" rc_is 3
check "farm-mpirun.sbatch: ... and mpirun is not started" [ ! -e "$FAKE_DIR/args" ]
check "farm-mpirun.sbatch: ... and the output says why" \
	grep -q "warning signal came before taskfarm started; not starting it" run.out

# The warning while mpirun runs: passed on once; mpirun's status is the
# script's.
FAKE_RUN_TENTHS=40 FAKE_RC=3 bash "$SLURMDIR/farm-mpirun.sbatch" jobs.tasks >run.out 2>&1 &
pid=$!
t=0
while [ ! -s "$FAKE_DIR/args" ] && [ $t -lt 100 ]; do
	sleep 0.1
	t=$((t + 1))
done
sleep 0.5
kill -USR1 $pid
wait $pid
rc=$?
check "farm-mpirun.sbatch: SIGUSR1 while mpirun runs: passed to it once" \
	sh -c "[ \"\$(cat '$FAKE_DIR/usr1' 2>/dev/null)\" = 1 ]"
check "farm-mpirun.sbatch: ... and the script exits with mpirun's status (3)" rc_is 3
finish
