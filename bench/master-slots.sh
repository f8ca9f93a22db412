#!/bin/sh
# Does a master that runs tasks in its own slots slow the farm down? In
# the one-rank-per-node layout (a few ranks of several slots each) the
# master now runs its slots' worth of tasks by default, beside dispatching.
# This times N trivial tasks (sh -c true) under `mpirun -n 2 --slots 2`
# with --master-slots 0 (the master only dispatches: 2 slots in all) and
# with the default (the master runs 2 slots too: 4 in all), interleaved R
# times so that the noise of a shared machine falls on both alike, and
# prints the median rate of each (taskfarm's own, from its summary, which
# leaves out the launcher's start-up; and the wall clock around mpirun)
# and their ratio. A ratio of at least 1 means the master's own tasks cost
# dispatch nothing it could not make up.
#
# Knobs (environment): BENCH_N (4000), BENCH_REPEAT (5), MPIEXEC (mpirun),
# top_builddir (default: the current directory, if it holds src/taskfarm).
set -eu

me=bench/master-slots.sh

. "$(dirname "$0")/lib.sh"
target=bench
find_build

N=${BENCH_N:-4000}
R=${BENCH_REPEAT:-5}
for v in "$N" "$R"; do
	case $v in
	'' | *[!0-9]* | 0) die "BENCH_N and BENCH_REPEAT must be whole numbers of at least 1" ;;
	esac
done
MPIRUN=${MPIEXEC:-mpirun}
command -v "$MPIRUN" >/dev/null 2>&1 || die "no MPI launcher ($MPIRUN)"
mpienv=
if "$MPIRUN" --version 2>/dev/null | grep -q 'Open MPI'; then
	mpienv="env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"
	mpienv="$mpienv OMPI_MCA_rmaps_base_oversubscribe=1"
	mpienv="$mpienv OMPI_MCA_btl_vader_single_copy_mechanism=none"
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/tfbench.XXXXXX")
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
yes true | head -n "$N" >"$T/true.jobs"

now() { date +%s.%N; }

# run NAME ARGS...: one timed run; appends taskfarm's own rate to
# NAME.own and the wall-clock rate to NAME.wall.
run() {
	name=$1
	shift
	t0=$(now)
	if ! $mpienv "$MPIRUN" -n 2 "$TF" --no-journal --status-interval 0 \
		--slots 2 "$@" "$T/true.jobs" >"$T/out" 2>"$T/err"; then
		cat "$T/err" >&2
		die "$name failed"
	fi
	t1=$(now)
	sed -n 's/^taskfarm: \([0-9]*\) tasks in [0-9.]* s (\([0-9.]*\) tasks\/s).*/\1 \2/p' \
		"$T/err" >"$T/summary"
	read -r ndone rate <"$T/summary" || die "$name: no summary line"
	[ "$ndone" -eq "$N" ] || die "$name ran $ndone tasks, not $N"
	echo "$rate" >>"$T/$name.own"
	awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", n / (b - a) }' \
		>>"$T/$name.wall"
}

median() {
	sort -n "$1" | awk '{ v[NR] = $1 }
		END { if (NR % 2) printf "%.1f\n", v[(NR + 1) / 2];
		      else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
spread() {
	sort -n "$1" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.0f..%.0f\n", lo, hi }'
}

i=1
while [ "$i" -le "$R" ]; do
	echo "$me: round $i of $R" >&2
	# Alternate which goes first, so neither always runs on a cold or
	# a warm machine.
	if [ $((i % 2)) -eq 1 ]; then
		run off --master-slots 0
		run default
	else
		run default
		run off --master-slots 0
	fi
	i=$((i + 1))
done

printf '%d tasks (sh -c true), mpirun -n 2 --slots 2, median of %d interleaved runs (range)\n' "$N" "$R"
printf '%-34s %21s %21s\n' "" "own tasks/s" "wall tasks/s"
printf '%-34s %7s %-13s %7s %-13s\n' "--master-slots 0 (2 slots)" \
	"$(median "$T/off.own")" "($(spread "$T/off.own"))" \
	"$(median "$T/off.wall")" "($(spread "$T/off.wall"))"
printf '%-34s %7s %-13s %7s %-13s\n' "default: master runs 2 (4 slots)" \
	"$(median "$T/default.own")" "($(spread "$T/default.own"))" \
	"$(median "$T/default.wall")" "($(spread "$T/default.wall"))"
printf 'ratio default / --master-slots 0: own %s, wall %s\n' \
	"$(awk -v a="$(median "$T/default.own")" -v b="$(median "$T/off.own")" 'BEGIN { printf "%.2f", a / b }')" \
	"$(awk -v a="$(median "$T/default.wall")" -v b="$(median "$T/off.wall")" 'BEGIN { printf "%.2f", a / b }')"
