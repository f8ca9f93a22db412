#!/bin/sh
# Load balance: the makespan of skewed task sets. Three sets of `sleep`
# tasks, (a) one long task first, (b) one long task last, (c) log-normal
# durations from a fixed seed, each run with the same number of task slots
# S by taskfarm under mpirun (master + S workers of one slot), taskfarm
# with no launcher (--slots S), xargs -P S and GNU parallel -j S, in
# interleaved rounds. For each set it prints the lower bound LB =
# max(longest task, total work / S), each contender's median makespan and
# its ratio to LB and to xargs; for taskfarm also the makespan from its own
# journal (first task's start to last task's end, start-up excluded),
# against the target: at most 1.03 x xargs's on every set.
#
# Knobs (environment): BENCH_SLOTS (2), BENCH_REPEAT (3), BENCH_SCALE
# (0.5: multiplies every duration; 1 gives the issue's 8 s and 2 s),
# BENCH_LOGN_TASKS (40), BENCH_SEED (42), MPIEXEC (mpirun), top_builddir
# (default: the current directory, if it holds src/taskfarm).
set -eu

me=bench/balance.sh

. "$(dirname "$0")/lib.sh"
target=bench-balance
find_build

S=${BENCH_SLOTS:-2}
R=${BENCH_REPEAT:-3}
SCALE=${BENCH_SCALE:-0.5}
NLOG=${BENCH_LOGN_TASKS:-40}
SEED=${BENCH_SEED:-42}
whole BENCH_SLOTS "$S" 1
whole BENCH_REPEAT "$R" 1
whole BENCH_LOGN_TASKS "$NLOG" 1
whole BENCH_SEED "$SEED" 1
case $SCALE in
'' | *[!0-9.]* | *.*.* | .) die "BENCH_SCALE must be a positive number, not '$SCALE'" ;;
esac
awk -v s="$SCALE" 'BEGIN { exit !(s > 0) }' || die "BENCH_SCALE must be above 0, not '$SCALE'"
MPIRUN=${MPIEXEC:-mpirun}
TARGET=1.03

T=$(mktemp -d "${TMPDIR:-/tmp}/tfbalance.XXXXXX")
bgpid=
# kill_tree PID: TERM to PID's descendants, then to PID, so that no task
# of an interrupted run outlives the script.
kill_tree() {
	for k in $(pgrep -P "$1" 2>/dev/null || true); do
		kill_tree "$k"
	done
	kill "$1" 2>/dev/null || true
}
cleanup() {
	if [ -n "$bgpid" ]; then
		kill_tree "$bgpid"
		wait "$bgpid" 2>/dev/null || true
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now() { date +%s.%N; }

# Open MPI refuses to run as root and to put more ranks than cores unless
# told to; these go to the launcher only, and only when it is Open MPI's.
have_mpi=0
mpienv=
if command -v "$MPIRUN" >/dev/null 2>&1; then
	have_mpi=1
	if "$MPIRUN" --version 2>/dev/null | grep -q 'Open MPI'; then
		mpienv="env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"
		mpienv="$mpienv OMPI_MCA_rmaps_base_oversubscribe=1"
		mpienv="$mpienv OMPI_MCA_btl_vader_single_copy_mechanism=none"
	fi
fi
NP=$((S + 1))

# The task sets, written once; every contender runs the same file. (a) and
# (b): one task of 8 units and 4(S-1) of 2, so that the long task on one
# slot and the short ones on the others fill exactly 8 units: LB = 8.
dur() { awk -v d="$1" -v s="$SCALE" 'BEGIN { printf "%.3f\n", d * s }'; }
long=$(dur 8)
short=$(dur 2)
nshort=$((4 * (S - 1)))
[ "$nshort" -ge 1 ] || nshort=4
{
	echo "sleep $long"
	yes "sleep $short" | head -n "$nshort"
} >"$T/a.jobs"
{
	yes "sleep $short" | head -n "$nshort"
	echo "sleep $long"
} >"$T/b.jobs"
# (c): log-normal, median 0.3 units, sigma 1, capped at 3 units, from the
# Park-Miller generator (exact in any awk's doubles, unlike rand(), which
# differs between mawk and gawk) and Box-Muller.
awk -v n="$NLOG" -v seed="$SEED" -v s="$SCALE" '
	function u() { x = (16807 * x) % 2147483647; return x / 2147483647 }
	BEGIN {
		x = seed; for (i = 0; i < 10; i++) u()
		pi = atan2(0, -1)
		for (i = 0; i < n; i++) {
			z = sqrt(-2 * log(u())) * cos(2 * pi * u())
			d = 0.3 * exp(z)
			if (d > 3) d = 3
			printf "sleep %.3f\n", d * s
		}
	}' >"$T/c.jobs"
sets="a b c"
desc_a="one long task first: sleep $long, then $nshort x sleep $short"
desc_b="one long task last: $nshort x sleep $short, then sleep $long"
desc_c="log-normal: $NLOG tasks, median $(dur 0.3) s, sigma 1, cap $(dur 3) s, seed $SEED"

# lbound SET: "LB LONGEST WORK" of the set's job file.
lbound() {
	awk -v S="$S" '{ w += $2; if ($2 > m) m = $2 }
		END { lb = w / S; if (m > lb) lb = m; printf "%.3f %.3f %.3f\n", lb, m, w }' \
		"$T/$1.jobs"
}

# The contenders, each a function that runs job file $1 and fails if any
# task did. The taskfarm ones write a journal to $T/journal.tsv.
c_mpi() {
	$mpienv "$MPIRUN" -n "$NP" "$TF" --slots 1 --journal "$T/journal.tsv" \
		--status-interval 0 "$1"
}
c_local() { "$TF" --slots "$S" --journal "$T/journal.tsv" --status-interval 0 "$1"; }
c_xargs() { xargs -P "$S" -I{} sh -c {} <"$1"; }
c_parallel() { parallel -j "$S" <"$1"; }

# jmakespan NTASKS: the makespan in taskfarm's journal, max(start +
# runtime) - min(start); fails unless it holds NTASKS successes.
jmakespan() {
	awk -F'\t' -v n="$1" '
		NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
		{
			s = $col["Starttime"]; e = s + $col["JobRuntime"]
			if (NR == 2 || s < lo) lo = s
			if (NR == 2 || e > hi) hi = e
			if ($col["Status"] == "ok") ok++
		}
		END { if (ok != n) exit 1; printf "%.3f\n", hi - lo }' "$T/journal.tsv"
}

# timed NAME SET: run c_NAME on the set once; append the wall-clock
# makespan to $T/SET.NAME, and for taskfarm the journal's to SET.NAME_own.
timed() {
	rm -f "$T/journal.tsv"
	t0=$(now)
	"c_$1" "$T/$2.jobs" >"$T/out" 2>"$T/err" &
	bgpid=$!
	if wait "$bgpid"; then rc=0; else rc=$?; fi
	bgpid=
	t1=$(now)
	if [ $rc -ne 0 ]; then
		echo "$me: $1 on set ($2) failed (exit $rc):" >&2
		cat "$T/err" >&2
		exit 1
	fi
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }' >>"$T/$2.$1"
	case $1 in
	mpi | local)
		n=$(wc -l <"$T/$2.jobs")
		jmakespan "$n" >>"$T/$2.$1_own" ||
			die "$1 on set ($2): the journal does not hold $n successful tasks"
		;;
	esac
}

median() { # FILE
	sort -n "$1" | awk '{ v[NR] = $1 }
		END { if (NR % 2) printf "%.2f\n", v[(NR + 1) / 2];
		      else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
spread() { # FILE: min..max
	sort -n "$1" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f..%.2f\n", lo, hi }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", a / b }'; }
# verdict VALUE LIMIT: PASS if VALUE <= LIMIT (both unrounded ratios).
verdict() { awk -v v="$1" -v lim="$2" 'BEGIN { print (v <= lim ? "PASS" : "MISS") }'; }

# Which contenders can run here.
contenders=
mpi_note=
if [ $have_mpi -eq 1 ]; then
	printf 'true\ntrue\n' >"$T/smoke.jobs"
	if $mpienv "$MPIRUN" -n "$NP" "$TF" --no-journal -q "$T/smoke.jobs" >"$T/out" 2>"$T/err"; then
		contenders="mpi"
	else
		mpi_note="skipped ($MPIRUN -n $NP failed: $(head -n 1 "$T/err"))"
	fi
else
	mpi_note="skipped ($MPIRUN not found)"
fi
contenders="$contenders local xargs"
par_note=
if ! command -v parallel >/dev/null 2>&1; then
	par_note="skipped (not installed)"
elif ! parallel --version 2>/dev/null | grep -q 'GNU parallel'; then
	par_note="skipped (parallel here is not GNU parallel)"
else
	contenders="$contenders parallel"
fi

echo "taskfarm balance benchmark, $(date '+%Y-%m-%d %H:%M'), $(uname -sr), $(nproc) cores"
echo "taskfarm: $("$TF" --version 2>/dev/null | head -n 1); build $builddir"
[ $have_mpi -eq 0 ] || echo "launcher: $("$MPIRUN" --version 2>/dev/null | head -n 1)"
[ -n "$par_note" ] || echo "parallel: $(parallel --version 2>/dev/null | head -n 1)"
echo "S = $S task slots for every contender; time scale $SCALE; median of $R interleaved rounds"
echo

r=1
while [ $r -le "$R" ]; do
	for set in $sets; do
		printf '%s: round %d/%d, set (%s):' "$me" "$r" "$R" "$set" >&2
		for c in $contenders; do
			printf ' %s' "$c" >&2
			timed "$c" "$set"
		done
		echo >&2
	done
	r=$((r + 1))
done

line() { printf '%-42s %10s %13s %6s %8s  %s\n' "$@"; }
skipped() { printf '%-42s %s\n' "$1" "$2"; }
# row LABEL FILE [target]: a table row of the median in FILE, against $lb
# and $xm (xargs's median); with a third argument, the target's verdict.
row() {
	m=$(median "$2")
	t=
	if [ -n "${3:-}" ]; then
		t="<= $TARGET x xargs: $(verdict "$(awk -v a="$m" -v b="$xm" 'BEGIN { print a / b }')" "$TARGET")"
	fi
	line "$1" "$m" "$(spread "$2")" "$(ratio "$m" "$lb")" "$(ratio "$m" "$xm")" "$t"
}
summary="key ratios (own makespan / xargs, target <= $TARGET):"
npass=0
for set in $sets; do
	eval "desc=\$desc_$set"
	read -r lb longest work <<EOF
$(lbound "$set")
EOF
	xm=$(median "$T/$set.xargs")
	echo "Set ($set) $desc"
	echo "LB = $lb s = max(longest $longest s, work $work s / $S slots)"
	line contender "makespan s" min..max "x LB" "x xargs" target
	if [ -z "$mpi_note" ]; then
		row "taskfarm, mpirun -n $NP, own (journal)" "$T/$set.mpi_own" target
		row "taskfarm, mpirun -n $NP, wall (+start-up)" "$T/$set.mpi"
	else
		skipped "taskfarm, mpirun -n $NP" "$mpi_note"
	fi
	row "taskfarm, no launcher, own (journal)" "$T/$set.local_own" target
	row "taskfarm, no launcher, wall" "$T/$set.local"
	row "xargs -P $S -I{} sh -c {}" "$T/$set.xargs"
	if [ -z "$par_note" ]; then
		row "GNU parallel -j $S" "$T/$set.parallel"
	else
		skipped "GNU parallel -j $S" "$par_note"
	fi
	# The target line for the set: taskfarm's own makespan against xargs's.
	res=
	sum=
	for c in mpi local; do
		[ -s "$T/$set.${c}_own" ] || continue
		m=$(median "$T/$set.${c}_own")
		x=$(awk -v a="$m" -v b="$xm" 'BEGIN { print a / b }')
		v=$(verdict "$x" "$TARGET")
		case $c in
		mpi) name="mpirun -n $NP" ;;
		*) name="no launcher" ;;
		esac
		res="$res${res:+; }$name $m s = $(ratio "$m" "$xm") x $v"
		sum="$sum${sum:+, }$name $(ratio "$m" "$xm") $v"
		if [ "$c" = mpi ] && [ "$v" = PASS ]; then npass=$((npass + 1)); fi
	done
	echo "($set) target, taskfarm's own makespan <= $TARGET x xargs's ($xm s): $res"
	summary="$summary ($set) $sum;"
	echo
done

echo "own = first task's start to last task's end in taskfarm's journal (Starttime,"
echo "JobRuntime), start-up excluded; wall = around the whole command, from outside."
echo
if [ -z "$mpi_note" ]; then
	echo "$summary mpirun -n $NP meets the target on $npass/3 sets"
else
	echo "$summary mpirun $mpi_note"
fi
