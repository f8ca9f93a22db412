#!/bin/sh
# The spawn helper (src/farm/spawner.c): every rank starts its tasks through a
# small process forked before MPI_Init, so that a task's MaxRSS is its own
# and not its rank's peak (Linux folds the peak of the memory a process
# leaves at exec into the new program's MaxRSS; a task spawned straight
# from the rank reported at least the rank's size: 3.3 MB for `true`
# without a launcher, 14 MB under mpirun, 77 MB after replaying a large
# journal).
#
# Checked, on the journal's MaxRSS column (14): `true` tasks show what
# `sh -c true` really uses (GNU time's %M, from a small process) within
# 1 MiB, and a task that holds 50 MiB shows at least that, without a
# launcher, under mpirun -n 2 and -n 3 (tasks on the workers too), and in
# a --resume over a 200,000-line journal. The helper killed with -9 in
# the middle of a run (without a launcher, and every rank's under
# mpirun -n 3) loses no task: the ranks fall back to posix_spawn. A
# rank killed with -9 takes its helper with it; a Ctrl-C (SIGINT to the
# process group) does not kill the helper while the rank drains.
. "$top_srcdir/tests/lib.sh"

# The real figure for a tiny task: what `sh -c true` uses when started
# from a small process (GNU time forks it), the largest of three.
ref=
if [ -x /usr/bin/time ]; then
	for i in 1 2 3; do
		m=$(/usr/bin/time -f %M sh -c "trap '' USR1
true" 2>&1 >/dev/null | tail -n 1)
		case $m in
		'' | *[!0-9]*) ;;
		*) [ -z "$ref" ] || [ "$m" -gt "$ref" ] && ref=$m ;;
		esac
	done
fi
if [ -z "$ref" ]; then
	ref=1700
	diag "no GNU time: taking 1700 kB as the MaxRSS of sh -c true"
fi
bound=$((ref + 1024))
# In a sanitizer build the helper, a fork of an instrumented program,
# carries the sanitizer's runtime (about 6 MB with ASan here): that is
# the floor then, still far below a rank's peak.
case "${TF_CFLAGS-}" in
*-fsanitize=*) bound=$((bound + 8192)) ;;
esac
diag "sh -c true uses $ref kB; small tasks must show at most $bound kB"

# A marker in the job files' names, so on the ranks' (and the helpers')
# command lines.
mark=s$$$(date +%N)

# A job: 20 `true` tasks and one that holds 50 MiB (dd's buffer).
job="$SCRATCH/small-$mark.tasks"
{
	i=0
	while [ $i -lt 20 ]; do
		echo true
		i=$((i + 1))
	done
	echo 'dd if=/dev/zero of=/dev/null bs=50M count=1 2>/dev/null'
} >"$job"

# small_rss_ok JOURNAL: every ok `true` line's MaxRSS is at most $bound
# and above 0 (the largest is shown on failure).
small_rss_ok() {
	awk -F'\t' -v b="$bound" '
		NR > 1 && $9 == "true" {
			n++
			if ($13 != "ok" || $14 <= 0 || $14 > b) bad++
			if ($14 > max) max = $14
		}
		END {
			printf "# %d true tasks, largest MaxRSS %d kB\n", n, max
			exit !(n > 0 && !bad)
		}' "$1"
}

# big_rss_ok JOURNAL: the 50 MiB task shows at least 50 MiB.
big_rss_ok() {
	awk -F'\t' '
		NR > 1 && $9 ~ /^dd / {
			n++
			printf "# the 50 MiB task: MaxRSS %d kB\n", $14
			if ($13 != "ok" || $14 < 51200) bad++
		}
		END { exit !(n == 1 && !bad) }' "$1"
}

# ranks_used JOURNAL: the Rank column's values, sorted, one line.
ranks_used() {
	awk -F'\t' 'NR > 1 { print $11 }' "$1" | sort -un | tr '\n' ' '
}

# helpers: the pids of this test's spawn helpers (named taskfarm-spawn,
# with the rank's command line, so the marker in it).
helpers() {
	for p in $(pgrep -x taskfarm-spawn); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "$mark" &&
			echo "$p"
	done
}

# alive PID: the process exists and is not a zombie.
alive() {
	st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ]
}

# wait_lines JOURNAL N: waits (up to 60 s) until the journal has N data
# lines.
wait_lines() {
	i=0
	while [ "$(journal_rows "$1" 2>/dev/null | wc -l)" -lt "$2" ] &&
		[ $i -lt 1200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
}

# wait_helpers N: waits (up to 60 s) until N helpers of this test run,
# and prints them.
wait_helpers() {
	i=0
	while [ "$(helpers | wc -l)" -lt "$1" ] && [ $i -lt 1200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	helpers
}

# ---- MaxRSS without a launcher ----

tf --exact-maxrss --journal j0.tsv "$job"
check "no launcher: the job succeeds" rc_is 0
check "no launcher: true tasks show their own MaxRSS (<= $bound kB)" \
	small_rss_ok j0.tsv
check "no launcher: the 50 MiB task shows >= 50 MiB" big_rss_ok j0.tsv
check "no helper is left after the run" sh -c "[ -z \"\$(helpers)\" ]"

# ---- MaxRSS under the launcher ----

if have_mpiexec; then
	for n in 2 3; do
		mpi "$n" --exact-maxrss --journal "j$n.tsv" "$job"
		check "mpirun -n $n: the job succeeds" rc_is 0
		check "mpirun -n $n: true tasks show their own MaxRSS (<= $bound kB)" \
			small_rss_ok "j$n.tsv"
		check "mpirun -n $n: the 50 MiB task shows >= 50 MiB" \
			big_rss_ok "j$n.tsv"
		want=$(seq 1 $((n - 1)) | tr '\n' ' ')
		check "mpirun -n $n: tasks ran on the workers ($want)" \
			sh -c "ranks=\$(awk -F'\t' 'NR > 1 { print \$11 }' j$n.tsv | sort -un | tr '\n' ' '); for r in $want; do case \" \$ranks\" in *\" \$r \"*) ;; *) echo \"# ranks: \$ranks\"; exit 1 ;; esac; done"
		check "mpirun -n $n: no helper is left after the run" \
			sh -c "[ -z \"\$(helpers)\" ]"
	done
else
	diag "no $MPIEXEC: the launcher's checks are skipped"
fi

# ---- MaxRSS in a resumed run over a large journal ----
#
# The journal of 200,000 `true` tasks: a run stopped at once gives the
# real header and .meta; ok lines are added for all but the last 10
# tasks (and the few the stopped run journaled), which the resume runs.

N=200000
big="$SCRATCH/big-$mark.tasks"
awk -v n="$N" 'BEGIN { for (i = 1; i <= n; i++) print "true" }' >"$big"
timeout -k 10 120 "$TF" --slots 1 --drain-grace 0 --journal jr.tsv \
	"$big" >out 2>err &
bg=$!
wait_lines jr.tsv 1
kill -TERM "$bg" 2>/dev/null
wait "$bg"
rc=$?
check "a run over the large job stopped by SIGTERM exits 3" rc_is 3
awk -F'\t' -v n="$N" 'BEGIN { OFS = "\t" }
	NR == FNR { if (FNR > 1) seen[$1] = 1; next }
	FNR == 2 { tmpl = $0 }
	END {
		split(tmpl, f, "\t")
		for (i = 1; i <= n - 10; i++) {
			if (i in seen)
				continue
			print i, f[2], f[3], "0.001", 0, 0, 0, 0, "true", 1,
			      0, 1, "ok", 1500, "0.000", "0.000", f[17]
		}
	}' jr.tsv jr.tsv >>jr.tsv.add
cat jr.tsv.add >>jr.tsv
rm -f jr.tsv.add
before=$(wc -l <jr.tsv)
diag "journal: $before lines before the resume"
tf --exact-maxrss --resume --slots 1 --journal jr.tsv "$big"
check "the resume over $N journal lines succeeds" rc_is 0
tail -n +"$((before + 1))" jr.tsv >resumed.rows
{ head -n 1 jr.tsv; cat resumed.rows; } >resumed.tsv
check "the resume ran the tasks left (at least 10)" \
	sh -c "[ \$(wc -l <resumed.rows) -ge 10 ]"
check "resume: true tasks show their own MaxRSS (<= $bound kB)" \
	small_rss_ok resumed.tsv

# ---- The helper killed in the middle of a run ----

# A job of short tasks, each of which notes its id once it runs.
NSLOW=300
slow="$SCRATCH/slow-$mark.tasks"
awk -v n=$NSLOW 'BEGIN { for (i = 1; i <= n; i++) print "sleep 0.05; echo $TASKFARM_TASK_ID >>ran" }' >"$slow"

# all_ok_once JOURNAL: one ok line for each task, and each ran once.
all_ok_once() {
	[ "$(awk -F'\t' 'NR > 1 && $13 == "ok" { print $1 }' "$1" | sort -n | uniq |
		wc -l)" -eq $NSLOW ] &&
		[ "$(journal_rows "$1" | wc -l)" -eq $NSLOW ] &&
		[ "$(sort -n ran | uniq | wc -l)" -eq $NSLOW ] &&
		[ "$(wc -l <ran)" -eq $NSLOW ]
}

rm -f ran
timeout -k 10 120 "$TF" --exact-maxrss --slots 2 --journal jk.tsv "$slow" >out 2>err &
bg=$!
h=$(wait_helpers 1)
wait_lines jk.tsv 20
at=$(journal_rows jk.tsv | wc -l)
[ -n "$h" ] && kill -KILL $h
wait "$bg"
rc=$?
diag "no launcher: helper $h killed after $at of $NSLOW tasks"
check "no launcher: the helper ran and was killed mid-run" \
	sh -c "[ -n '$h' ] && [ $at -lt $NSLOW ]" && ! alive "$h"
check "no launcher: the run with its helper killed succeeds" rc_is 0
check "no launcher: no task lost or run twice after the helper's death" \
	all_ok_once jk.tsv

if have_mpiexec; then
	rm -f ran
	timeout -k 10 180 "$MPIEXEC" -n 3 "$TF" --exact-maxrss --slots 2 --journal jm.tsv \
		"$slow" >out 2>err &
	bg=$!
	h=$(wait_helpers 3)
	wait_lines jm.tsv 20
	at=$(journal_rows jm.tsv | wc -l)
	[ -n "$h" ] && kill -KILL $h
	wait "$bg"
	rc=$?
	diag "mpirun -n 3: helpers $(echo $h) killed after $at of $NSLOW tasks"
	check "mpirun -n 3: every rank's helper ran and was killed mid-run" \
		sh -c "[ $(echo $h | wc -w) -eq 3 ] && [ $at -lt $NSLOW ]"
	check "mpirun -n 3: the run with its helpers killed succeeds" rc_is 0
	check "mpirun -n 3: no task lost or run twice after the helpers' death" \
		all_ok_once jm.tsv
	check "mpirun -n 3: tasks ran on every rank" \
		sh -c "[ \"\$(awk -F'\t' 'NR > 1 { print \$11 }' jm.tsv | sort -un | tr '\n' ' ')\" = '0 1 2 ' ]"
fi

# ---- The rank killed, and a Ctrl-C ----

long="$SCRATCH/long-$mark.tasks"
printf 'sleep 30\nsleep 30\n' >"$long"
timeout -k 10 120 "$TF" --slots 2 --no-journal "$long" >out 2>err &
bg=$!
h=$(wait_helpers 1)
rank=$(awk '/^PPid:/ { print $2 }' "/proc/$h/status" 2>/dev/null)
[ -n "$rank" ] && kill -KILL "$rank"
wait "$bg"
i=0
while [ -n "$h" ] && alive "$h" && [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
check "a rank killed with -9 takes its helper with it" \
	sh -c "[ -n '$h' ] && [ -n '$rank' ]" && ! alive "$h"

# Tasks that outlast a SIGINT to the whole process group by 3 s (the
# drain's grace): the helper got the signal too, and must still be there.
started="$SCRATCH/started-$mark.tasks"
printf 'touch started.1; sleep 30\ntouch started.2; sleep 30\n' >"$started"
setsid timeout -k 10 120 "$TF" --exact-maxrss --slots 2 --drain-grace 3 --journal jc.tsv \
	"$started" >out 2>err &
bg=$!
i=0
while ! [ -e started.1 ] || ! [ -e started.2 ]; do
	[ $i -lt 1200 ] || break
	sleep 0.05
	i=$((i + 1))
done
h=$(helpers)
kill -INT "-$bg"
sleep 1
if [ -n "$h" ] && alive "$h"; then survived=yes; else survived=no; fi
wait "$bg"
rc=$?
check "Ctrl-C: the helper is still there while its rank drains" \
	sh -c "[ -n '$h' ] && [ $survived = yes ]"
check "Ctrl-C: the rank drains and exits 3" rc_is 3
check "Ctrl-C: both tasks journaled interrupted" \
	sh -c "[ \$(awk -F'\t' 'NR > 1 && \$13 == \"interrupted\"' jc.tsv | wc -l) -eq 2 ]"
check "Ctrl-C: the helper is gone after the run" \
	sh -c "[ -n '$h' ]" && ! alive "$h"

finish
