#!/bin/sh
# Fault injection: kill -9 at random moments, resume until done, and check
# the crash-safety invariant against a ledger the tasks keep and the
# journal.
#
# Every task appends "ROUND ID" to ./ledger (ROUND is read from ./round,
# which the test bumps before each run, so a task says which run started
# it) and sleeps 0-49 ms. A kill round starts the job with --slots 4 (the
# first run of a cycle fresh, later ones with --resume; --journal-sync 0.05
# in two rounds out of three, the default in the third) and sends SIGKILL
# after a random delay, in turn to: taskfarm with no launcher; and under
# mpirun -n 3, to mpirun itself, to the master rank, to a worker rank. The
# delay is 0.05-1.5 s, shortened in proportion to the work left (down to
# 0.05-0.63 s) so that later kills still land in a running job; under
# mpirun the launcher's start-up time is added to the range. Before the next
# run the test waits for every process of the killed one to go (orphaned
# task shells finish; ranks left behind are killed after 10 s and
# reported) and keeps the journal's complete lines. In about a third of
# the rounds it then also cuts the journal's last line short, as a kill in
# the middle of a write would, so that later runs (and kills) meet torn
# journals.
#
# Checked: every run after a kill accepts the journal (a torn last line
# only warns); no line before the last is ever damaged; no run loses or
# rewrites the complete lines an earlier one left; no task whose success
# was journaled before a run is started by that run, and no run starts a
# task twice; a run that ends counts as ok in its summary exactly the ok
# lines it journaled; once the job succeeds, the journal has exactly one ok
# line per task, every task is in the ledger, and a resume runs nothing.
# In the first cycles, on the finished journal: a last line cut short by
# hand (its last 5 bytes, so that it still says ok; or
# half of it) is dropped with a warning and only that task runs again; a
# damaged middle line is refused (exit 2, naming JOURNAL:LINE, no task
# started).
#
# A cycle is a fresh run, kills and resumes until the job succeeds. When
# the job succeeds while kill rounds remain, a new cycle starts in a new
# directory, so that every kill lands in a run with work left.
#
# Environment: FAULTS_SEED (random seed; printed, to reproduce a run's
# delays), FAULTS_N (tasks, default 200), FAULTS_ROUNDS (kill rounds,
# default 30: about a minute on 2 cores, as in make check). FAULTS_LONG=1 is
# a soak for manual runs: 2000 tasks, 120 kill rounds, about 4 minutes:
#   FAULTS_LONG=1 top_srcdir=.. top_builddir=. sh ../tests/faults.sh
. "$top_srcdir/tests/lib.sh"

if [ "${FAULTS_LONG:-0}" = 1 ]; then
	: "${FAULTS_N:=2000}" "${FAULTS_ROUNDS:=120}"
fi
N=${FAULTS_N:-200}
ROUNDS=${FAULTS_ROUNDS:-30}
seed=${FAULTS_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
diag "seed $seed, $N tasks, $ROUNDS kill rounds (FAULTS_SEED=$seed draws the same delays)"

# A marker unique to this test run: in the job file's name (so on the
# command line of taskfarm and mpirun) and in every task's command.
mark=f$$$(date +%N)
job="$SCRATCH/job-$mark.tasks"
awk -v n="$N" -v m="$mark" 'BEGIN {
	for (i = 1; i <= n; i++)
		printf "echo \"$(cat round) $TASKFARM_TASK_ID\" >>ledger; " \
		       "sleep 0.%03d #task-%s\n", (i * 37) % 50, m
}' >"$job"
seq 1 "$N" >"$SCRATCH/ids"

# Each kill round's draws, made up front from the seed: the delay's
# fraction, the worker rank to kill, whether to cut the journal short
# afterwards, and how much of its last line.
awk -v s="$seed" -v n="$ROUNDS" 'BEGIN {
	srand(s)
	for (i = 1; i <= n; i++)
		printf "%.3f %d %d %.3f\n", rand(), 1 + int(rand() * 2),
		       rand() < 1 / 3, rand()
}' >"$SCRATCH/plan"

# Kills under mpirun wait longer by the launcher's start-up time (that of
# a one-task run), so that they land in start-up and in the run alike.
startup=0
targets="taskfarm"
if have_mpiexec; then
	echo true >"$SCRATCH/one.tasks"
	t0=$(date +%s.%N)
	mpi 3 --no-journal "$SCRATCH/one.tasks"
	startup=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
	check "a one-task run under $MPIEXEC (${startup}s)" rc_is 0
	[ "$rc" -eq 0 ] && targets="taskfarm mpirun master worker"
else
	diag "no $MPIEXEC: only taskfarm without a launcher is killed"
fi
ntargets=$(echo $targets | wc -w)

# alive PID: the process exists and is not a zombie.
alive() {
	st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ]
}

# bg_ranks: the pids of the background mpirun's ($bg) ranks. Open MPI's
# ranks are children of mpirun; MPICH's Hydra starts them under
# hydra_pmi_proxy, a child of mpiexec.
bg_ranks() {
	pgrep -P "$bg" -f "job-$mark"
	for q in $(pgrep -P "$bg" hydra_pmi_proxy); do
		pgrep -P "$q" -f "job-$mark"
	done
}

# rank_pid R: the pid of rank R of the background mpirun ($bg), waiting
# for it to appear; empty if the run ends first. Open MPI names the rank
# in OMPI_COMM_WORLD_RANK, Hydra in PMI_RANK.
rank_pid() {
	i=0
	while alive "$bg" && [ $i -lt 500 ]; do
		for p in $(bg_ranks); do
			if { tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null |
				grep -qxE "(OMPI_COMM_WORLD|PMI)_RANK=$1"; then
				echo "$p"
				return
			fi
		done
		sleep 0.02
		i=$((i + 1))
	done
}

# wait_bg SECONDS: waits for the background run; rc is its exit code, or
# 124 if it was still running after SECONDS (then it is killed). Open
# MPI's mpirun sometimes never returns when a rank dies early in its
# start-up, its ranks all gone: that is counted in $hangs; a rank still
# running is counted in $stray.
wait_bg() {
	i=0
	while alive "$bg" && [ $i -lt $(($1 * 20)) ]; do
		sleep 0.05
		i=$((i + 1))
	done
	if alive "$bg"; then
		ranks=$(bg_ranks)
		if [ -n "$ranks" ]; then
			diag "  round $round: after $1 s ranks still run: $(ps -o pid=,stat=,args= -p "$(echo $ranks | tr ' ' ,)")"
			stray=$((stray + 1))
		else
			diag "  round $round: $MPIEXEC still running $1 s after its ranks ended; killed"
			hangs=$((hangs + 1))
		fi
		kill -9 "$bg"
		wait "$bg"
		rc=124
		return
	fi
	wait "$bg"
	rc=$?
}

# settle: waits until every process of the last run is gone: the ranks
# (found by the job file's name), then orphaned task shells (by the
# marker in their command). What is still there after 10 s is killed and
# counted in $stray.
settle() {
	for pat in "job-$mark" "task-$mark"; do
		i=0
		while pgrep -f "$pat" >/dev/null && [ $i -lt 200 ]; do
			sleep 0.05
			i=$((i + 1))
		done
		pids=$(pgrep -f "$pat")
		if [ -n "$pids" ] && [ "$pat" = "job-$mark" ] &&
			[ "$target" = mpirun ] && early_kill; then
			# Open MPI: ranks still inside MPI_Init when mpirun
			# dies have no lifeline yet and may wait forever; not
			# taskfarm's doing (seen under ASan, whose start-up is
			# slow). Counted with the launcher's hangs.
			diag "  round $round: ranks left in start-up by a killed" \
				"$MPIEXEC (after ${delay}s), killed:" "$(pgrep -af "$pat")"
			kill -9 $pids 2>/dev/null
			hangs=$((hangs + 1))
			sleep 0.2
		elif [ -n "$pids" ]; then
			diag "  round $round: still running after 10 s, killed:" \
				"$(pgrep -af "$pat")"
			kill -9 $pids 2>/dev/null
			stray=$((stray + 1))
			sleep 0.2
		fi
	done
}

# early_kill: the last kill came within the first second of the run,
# when ranks may still be in MPI_Init.
early_kill() {
	awk -v d="$delay" 'BEGIN { exit !(d < 1.0) }'
}

# is_torn FILE: FILE is not empty and does not end in a newline.
is_torn() {
	[ -s "$1" ] && [ "$(tail -c 1 "$1" | od -An -tx1 | tr -d ' \n')" != 0a ]
}

# no_torn_line: the journal ends in a newline and every line has 17
# fields.
no_torn_line() {
	! is_torn j.tsv && every_line_has_fields j.tsv 17
}

# snapshot K [nocheck]: keeps the journal's complete lines as p.K and the
# ids of its ok lines as s.K; checks (unless nocheck) that these lines
# are sound and that p.(K-1) is a prefix of them.
snapshot() {
	if [ ! -e j.tsv ]; then
		: >"p.$1"
	elif is_torn j.tsv; then
		sed '$d' j.tsv >"p.$1"
	else
		cp j.tsv "p.$1"
	fi
	awk -F'\t' 'NR > 1 && $13 == "ok" { print $1 }' "p.$1" | sort -n >"s.$1"
	awk -F'\t' 'NR > 1 && $13 == "lost" { print $1 }' "p.$1" | sort -u >"l.$1"
	[ "${2:-}" = nocheck ] && return
	if ! awk -F'\t' -v n="$N" '
		NR == 1 && ($1 != "Seq" || $13 != "Status" || NF != 17) { bad = 1 }
		NR > 1 && (NF != 17 || $1 !~ /^[0-9]+$/ || $1 < 1 || $1 > n ||
			   $13 !~ /^(ok|failed|signal|timeout|interrupted|spawn-failed|lost)$/) {
			print "line " NR ": " $0; bad = 1
		}
		END { exit bad }' "p.$1" >bad.txt; then
		diag "  round $1: damaged journal lines before the last:" \
			"$(head -n 5 bad.txt)"
		damaged=$((damaged + 1))
	fi
	prev=$(($1 - 1))
	if ! head -c "$(wc -c <"p.$prev")" "p.$1" | cmp -s - "p.$prev"; then
		diag "  round $1: the lines round $prev left are no longer a prefix of the journal"
		lost=$((lost + 1))
	fi
}

# cut_last_line BYTES: cuts BYTES off the journal's end, as a kill in the
# middle of a write would, and takes the snapshot of this round again.
cut_last_line() {
	truncate -s "-$1" j.tsv
	snapshot "$round" nocheck
}

# refused: the last run's stderr says it would not take the journal.
refused() {
	grep -E 'cannot resume|in use by another|damaged journal|not a taskfarm journal|cannot (open|lock|write|cut)' err
}

# summary_ok: the "N ok" count of the last run's summary.
summary_ok() {
	sed -n 's/^taskfarm: [0-9]* tasks\{0,1\} in .*: \([0-9]*\) ok,.*/\1/p' err
}

# added_ok: ok lines the journal gained in this round.
added_ok() {
	echo $(($(wc -l <"s.$round") - $(wc -l <"s.$((round - 1))")))
}

# counts_match: the summary of a run that ended by itself counts as ok
# exactly the ok lines it added to the journal; $miscounts counts the
# runs where it does not.
counts_match() {
	[ "$(summary_ok)" = "$(added_ok)" ] && return
	diag "  round $round: $(summary_ok) ok in the summary, $(added_ok) ok lines added to the journal"
	miscounts=$((miscounts + 1))
}

# others FILE: the journal's lines that are not ok, by status (", 1
# signal"); nothing if there are none.
others() {
	awk -F'\t' 'NR > 1 && $13 != "ok" { n[$13]++ }
		END { for (s in n) printf ", %d %s", n[s], s }' "$1"
}

# new_round: bumps the round; tasks started from now on say so.
new_round() {
	round=$((round + 1))
	echo "$round" >round
}

# kill_round: one run, killed after a drawn delay; sets done=1 if it
# finished (exit 0) before the kill landed, or if the journal holds every
# success.
kill_round() {
	kills=$((kills + 1))
	new_round
	set -- $(sed -n "${kills}p" "$SCRATCH/plan")
	left=$((N - $(wc -l <"s.$((round - 1))")))
	worker=$2
	target=$(echo $targets | cut -d' ' -f$(((kills - 1) % ntargets + 1)))
	s=$startup
	[ "$target" = taskfarm ] && s=0
	delay=$(awk -v u="$1" -v l="$left" -v n="$N" -v s="$s" 'BEGIN {
		f = l / n; if (f < 0.4) f = 0.4
		printf "%.2f", 0.05 + u * (s + 1.45 * f) }')
	resume=--resume
	[ "$round" -eq 1 ] && resume=
	sync="--journal-sync 0.05"
	[ $((kills % 3)) -eq 0 ] && sync=
	ledger_before=$(wc -l <ledger)
	size_before=0
	[ -e j.tsv ] && size_before=$(wc -c <j.tsv)
	if [ "$target" = taskfarm ]; then
		"$TF" --slots 4 $sync $resume --journal j.tsv "$job" >out 2>err &
	else
		"$MPIEXEC" -n 3 "$TF" --slots 4 $sync $resume --journal j.tsv \
			"$job" >out 2>err &
	fi
	bg=$!
	sleep "$delay"
	case $target in
	taskfarm | mpirun) victim=$bg ;;
	master) victim=$(rank_pid 0) ;;
	worker) victim=$(rank_pid "$worker") ;;
	esac
	[ "$target" = worker ] && target="worker (rank $worker)"
	[ -n "$victim" ] && kill -9 "$victim" 2>/dev/null
	wait_bg 15
	settle
	snapshot "$round"
	if [ "$rc" -eq 0 ]; then
		what="finished before the kill ($(summary_ok) ok in its summary)"
		counts_match
	else
		what="killed (exit $rc)"
		runs_killed=$((runs_killed + 1))
	fi
	if refused >/dev/null; then
		diag "  round $round: the journal was refused: $(refused)"
		refusals=$((refusals + 1))
	elif [ "$rc" -ne 0 ] && [ "$rc" -ne 137 ] && [ "$target" = taskfarm ]; then
		diag "  round $round: exit $rc without a launcher:" "$(tail -n 5 err)"
		refusals=$((refusals + 1))
	fi
	grep -q 'cut short' err && warned=$((warned + 1))
	state=
	if is_torn j.tsv && [ "$(wc -c <j.tsv)" -ne "$size_before" ]; then
		state=", its last line torn"
		torn=$((torn + 1))
	elif is_torn j.tsv; then
		state=", its last line still torn"
	fi
	ok="$(wc -l <"s.$round") ok$(others "p.$round")"
	if [ "$rc" -eq 0 ] || [ "$(wc -l <"s.$round")" -eq "$N" ]; then
		done=1
	elif [ "$3" = 1 ] && [ "$(wc -l <"p.$round")" -gt 1 ] && ! is_torn j.tsv; then
		cut=$(tail -n 1 j.tsv | awk -v f="$4" '{ print 1 + int(f * length($0)) }')
		cut_last_line "$cut"
		state=", cut short by $cut bytes"
		ok="$(wc -l <"s.$round") ok$(others "p.$round")"
		cuts=$((cuts + 1))
	fi
	diag "round $round (cycle $cycle, kill $kills/$ROUNDS): $target after ${delay}s, ${sync:-default sync}: $what; journal: $ok$state; ledger: +$(($(wc -l <ledger) - ledger_before))"
}

# resume_round [mpi]: one resume that is not killed (under mpirun with
# mpi); succeeds if it exits 0.
resume_round() {
	new_round
	if [ "${1:-}" = mpi ]; then
		mpi 3 --slots 4 --resume --journal j.tsv "$job"
	else
		tf --slots 4 --resume --journal j.tsv "$job"
	fi
	snapshot "$round"
	diag "round $round (cycle $cycle): resume${1:+ under mpirun}: exit $rc, $(summary_ok) ok in the summary, $(added_ok) ok lines added; journal: $(wc -l <"s.$round") ok$(others "p.$round")"
	counts_match
	[ "$rc" -eq 0 ]
}

# invariant: no ledger entry (round J, task I) with I ok in s.(J-1), and
# no (J, I) twice unless I has a lost attempt in l.J (a worker rank
# killed while I ran there: the master ran it again elsewhere). The
# snapshot just before a run is what it saw; that earlier snapshots are
# contained in it is the prefix check's job.
invariant() {
	awk '
		FILENAME ~ /^s\./ { ok[substr(FILENAME, 3) "," $1] = 1; next }
		FILENAME ~ /^l\./ { lostin[substr(FILENAME, 3) "," $1] = 1; next }
		$0 !~ /^[0-9]+ [0-9]+$/ { print "malformed ledger line: " $0; bad = 1; next }
		(($1 - 1) "," $2) in ok {
			print "task " $2 " started in round " $1 ", after its success was journaled"
			bad = 1
		}
		seen[$0]++ == 1 && !(($1 "," $2) in lostin) {
			print "task " $2 " started twice in round " $1; bad = 1
		}
		END { exit bad }' s.* l.* ledger >violations.txt
	rc=$?
	[ "$rc" -eq 0 ] || diag "$(head -n 20 violations.txt)"
	return "$rc"
}

# one_ok_each FILE: exactly one ok line per task 1..N.
one_ok_each() {
	awk -F'\t' 'NR > 1 && $13 == "ok" { print $1 }' "$1" | sort -n >okids.txt
	cmp -s okids.txt "$SCRATCH/ids" && return 0
	diag "tasks without exactly one ok line, with their journal lines:"
	awk -F'\t' -v n="$N" '
		FILENAME == "okids.txt" { c[$1]++; next }
		FNR > 1 { lines[$1] = lines[$1] "\n    line " FNR ": " $0 }
		END {
			for (i = 1; i <= n; i++)
				if (c[i] != 1 && shown++ < 10)
					print "task " i ": " c[i] + 0 " ok" lines[i]
		}' okids.txt "$1" | sed 's/^/# /'
	return 1
}

# all_in_ledger: every task 1..N started at least once.
all_in_ledger() {
	cut -d' ' -f2 ledger | sort -nu | cmp -s - "$SCRATCH/ids" && return 0
	diag "never started: $(awk 'FILENAME == "ledger" { seen[$2] = 1; next }
		!($1 in seen) { printf "%s ", $1 }' ledger "$SCRATCH/ids" | head -c 200)"
	return 1
}

# torn_test BYTES: cuts BYTES off the finished journal's last line; the
# resume warns, drops it and runs that task (if it was ok) and no other.
torn_test() {
	last_id=$(tail -n 1 j.tsv | awk -F'\t' '$13 == "ok" { print $1 }')
	cut_last_line "$1"
	resume_round
	check "cycle $cycle: a torn last line ($1 bytes cut): the resume warns and succeeds" \
		sh -c "[ $rc -eq 0 ] && grep -q 'cut short' err"
	check "cycle $cycle: after it no line is torn" no_torn_line
	check "cycle $cycle: the task whose line was cut (and only it) ran again" \
		[ "$(awk -v r="$round" '$1 == r { print $2 }' ledger)" = "$last_id" ]
	check "cycle $cycle: still exactly one ok line per task" one_ok_each j.tsv
}

# damage_test: a damaged middle line (in a copy) is refused, naming the
# line, and no task starts.
damage_test() {
	line=$(($(wc -l <j.tsv) / 2 + 1))
	awk -F'\t' -v OFS='\t' -v l="$line" 'NR == l { $13 = "garbage" } 1' \
		j.tsv >dmg.tsv
	cp j.tsv.meta dmg.tsv.meta
	cp dmg.tsv dmg.orig
	ledger_lines=$(wc -l <ledger)
	tf --slots 4 --resume --journal dmg.tsv "$job"
	check "a damaged middle line: --resume exits 2" rc_is 2
	check "... naming dmg.tsv:$line" \
		grep -q "dmg.tsv:$line: damaged journal line" err
	check "... starting no task and leaving the journal alone" \
		sh -c "[ \$(wc -l <ledger) -eq $ledger_lines ] && cmp -s dmg.tsv dmg.orig"
}

stray=0 hangs=0 miscounts=0 torn=0 cuts=0 warned=0 damaged=0 lost=0 refusals=0
runs_killed=0 kills=0 cycle=0
t_start=$(date +%s)
while :; do
	cycle=$((cycle + 1))
	mkdir "$SCRATCH/c$cycle"
	cd "$SCRATCH/c$cycle" || exit 99
	: >ledger
	: >p.0
	: >s.0
	round=0
	done=0
	while [ "$done" = 0 ] && [ "$kills" -lt "$ROUNDS" ]; do
		kill_round
	done

	# Kills spent, or every success journaled: resume until the job
	# succeeds (under mpirun in even cycles).
	mode=
	have_mpiexec && [ $((cycle % 2)) -eq 0 ] && mode=mpi
	tries=0
	while :; do
		tries=$((tries + 1))
		resume_round $mode && break
		diag "$(tail -n 5 err)"
		[ $tries -lt 3 ] || break
	done
	check "cycle $cycle: resuming after the kills completes the job" rc_is 0
	check "cycle $cycle: exactly one ok line per task" one_ok_each j.tsv

	case $cycle in
	1) torn_test 5 ;;
	2) torn_test $(($(tail -n 1 j.tsv | wc -c) / 2)) ;;
	esac

	resume_round
	check "cycle $cycle: resuming the finished job runs nothing" \
		sh -c "[ $rc -eq 0 ] && grep -q ', $N skipped' err && \
			! grep -q '^$round ' ledger && cmp -s j.tsv p.$((round - 1))"
	check "cycle $cycle: every line of the journal has 17 fields" \
		every_line_has_fields j.tsv 17
	check "cycle $cycle: every task is in the ledger" all_in_ledger
	check "cycle $cycle ($round runs): no task whose success was journaled was started again, none twice in a run" \
		invariant

	[ "$cycle" -eq 1 ] && damage_test
	cd "$SCRATCH" || exit 99
	[ "$kills" -lt "$ROUNDS" ] || break
done

diag "$kills kill rounds in $cycle cycles, $(($(date +%s) - t_start)) s: $runs_killed runs killed; $torn torn last lines left by kills, $cuts cut by the test, $warned runs warned of one; processes left running $stray times; $MPIEXEC hung $hangs times"
check "every run after a kill accepted the journal ($refusals refusals)" \
	[ "$refusals" -eq 0 ]
check "no journal line before the last was ever damaged" [ "$damaged" -eq 0 ]
check "no run lost or rewrote lines an earlier run left complete" \
	[ "$lost" -eq 0 ]
check "every run that ended counted in its summary exactly the successes it journaled" \
	[ "$miscounts" -eq 0 ]
check "no rank or task was left running after its run (10-15 s)" [ "$stray" -eq 0 ]

finish
