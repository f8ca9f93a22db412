#!/bin/sh
# The benchmark behind `make bench`. Part one times N trivial tasks
# (sh -c true), two at a time, through a raw posix_spawn loop, taskfarm
# with no launcher, taskfarm under mpirun -n 3, xargs -P 2 and GNU parallel,
# run round-robin R times each so that the noise of a small shared machine
# falls on every contender alike, and reports the median rate of each and
# its ratio to the raw loop. Part two runs four sleeping tasks and measures
# the CPU taskfarm itself burns meanwhile, per rank.
#
# Knobs (environment): BENCH_N (2000), BENCH_REPEAT (5), BENCH_N_PARALLEL
# (500), BENCH_SLEEP (5), MPIEXEC (mpirun), top_builddir (default: the
# current directory, if it holds src/taskfarm).
set -eu

me=bench/run.sh

srcdir=$(cd "$(dirname "$0")/.." && pwd)
. "$(dirname "$0")/lib.sh"
target=bench
find_build
SPAWNLOOP=$builddir/bench/spawnloop
[ -x "$SPAWNLOOP" ] || die "$SPAWNLOOP not built (run 'make bench/spawnloop' in $builddir)"

N=${BENCH_N:-2000}
R=${BENCH_REPEAT:-5}
NPAR=${BENCH_N_PARALLEL:-500}
SLEEP=${BENCH_SLEEP:-5}
whole BENCH_N "$N" 1
whole BENCH_REPEAT "$R" 1
whole BENCH_N_PARALLEL "$NPAR" 1
whole BENCH_SLEEP "$SLEEP" 2
MPIRUN=${MPIEXEC:-mpirun}

T=$(mktemp -d "${TMPDIR:-/tmp}/tfbench.XXXXXX")
bgpid=
cleanup() {
	if [ -n "$bgpid" ]; then
		kill "$bgpid" 2>/dev/null || true
		wait "$bgpid" 2>/dev/null || true
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now() { date +%s.%N; }

# sleep_until T0 OFFSET: sleep until OFFSET seconds after time T0.
sleep_until() {
	sleep "$(awk -v t0="$1" -v off="$2" -v now="$(now)" \
		'BEGIN { d = t0 + off - now; printf "%.3f\n", (d > 0 ? d : 0) }')"
}

# Open MPI refuses to run as root and to put 3 ranks on 2 cores unless told
# to; these go to the launcher only, and only when it is Open MPI's.
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
mpirun3() { $mpienv "$MPIRUN" -n 3 "$@"; }

jobs=$T/true.jobs
jobs_par=$T/true-parallel.jobs
yes true | head -n "$N" >"$jobs"
yes true | head -n "$NPAR" >"$jobs_par"

# The contenders, each a function that runs N tasks and fails if any did.
c_raw() { "$SPAWNLOOP" "$N" 2 true; }
c_local() { "$TF" --no-journal -q --slots 2 "$jobs"; }
c_mpi() { mpirun3 "$TF" --no-journal --status-interval 0 "$jobs"; }
c_xargs() { xargs -P 2 -I{} sh -c {} <"$jobs"; }
c_parallel() { parallel -j2 <"$jobs_par"; }

# timed NAME NTASKS: run c_NAME once, append its rate (tasks/s, wall clock
# around the whole command) to $T/NAME.rates.
timed() {
	t0=$(now)
	if ! "c_$1" >"$T/out" 2>"$T/err"; then
		echo "$me: $1 failed:" >&2
		cat "$T/err" >&2
		exit 1
	fi
	t1=$(now)
	awk -v n="$2" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", n / (b - a) }' \
		>>"$T/$1.rates"
}

# The MPI contender also reports taskfarm's own rate from its summary
# line, which leaves out the launcher's start-up.
own_rate() {
	sed -n 's/^taskfarm: \([0-9]*\) tasks in [0-9.]* s (\([0-9.]*\) tasks\/s).*/\1 \2/p' \
		"$T/err" >"$T/summary"
	read -r ndone rate <"$T/summary" || die "no summary line from taskfarm under $MPIRUN: $(cat "$T/err")"
	[ "$ndone" -eq "$N" ] || die "taskfarm under $MPIRUN ran $ndone tasks, not $N"
	echo "$rate" >>"$T/mpi_own.rates"
}

median() { # FILE
	sort -n "$1" | awk '{ v[NR] = $1 }
		END { if (NR % 2) printf "%.1f\n", v[(NR + 1) / 2];
		      else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
spread() { # FILE: min..max
	sort -n "$1" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.0f..%.0f\n", lo, hi }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", a / b }'; }
verdict() { # VALUE OP LIMIT: PASS or MISS
	awk -v v="$1" -v lim="$3" -v op="$2" 'BEGIN {
		ok = op == ">=" ? v >= lim : v <= lim
		print ok ? "PASS" : "MISS" }'
}

# Which contenders can run here.
contenders="raw local"
mpi_note=
if [ $have_mpi -eq 1 ]; then
	printf 'true\ntrue\n' >"$T/smoke.jobs"
	if mpirun3 "$TF" --no-journal -q "$T/smoke.jobs" >"$T/out" 2>"$T/err"; then
		contenders="$contenders mpi"
	else
		mpi_note="skipped ($MPIRUN -n 3 failed: $(head -n 1 "$T/err"))"
	fi
else
	mpi_note="skipped ($MPIRUN not found)"
fi
contenders="$contenders xargs"
par_note=
if ! command -v parallel >/dev/null 2>&1; then
	par_note="skipped (not installed)"
elif ! parallel --version 2>/dev/null | grep -q 'GNU parallel'; then
	par_note="skipped (parallel here is not GNU parallel)"
else
	contenders="$contenders parallel"
fi

echo "taskfarm benchmark, $(date '+%Y-%m-%d %H:%M'), $(uname -sr), $(nproc) cores"
echo "taskfarm: $("$TF" --version 2>/dev/null | head -n 1); build $builddir, source $srcdir"
[ $have_mpi -eq 0 ] || echo "launcher: $("$MPIRUN" --version 2>/dev/null | head -n 1)"
[ -n "$par_note" ] || echo "parallel: $(parallel --version 2>/dev/null | head -n 1)"
echo

# Part one: interleaved rounds.
r=1
while [ $r -le "$R" ]; do
	printf '%s: round %d/%d:' "$me" "$r" "$R" >&2
	for c in $contenders; do
		printf ' %s' "$c" >&2
		case $c in
		parallel) timed "$c" "$NPAR" ;;
		mpi)
			timed "$c" "$N"
			own_rate
			;;
		*) timed "$c" "$N" ;;
		esac
	done
	echo >&2
	r=$((r + 1))
done

raw=$(median "$T/raw.rates")
line1() { printf '%-44s %5s %9s %11s %6s  %s\n' "$@"; }
echo "Part 1: throughput, trivial tasks (sh -c true), 2 at a time; median of $R"
echo "interleaved runs each; tasks/s = N / wall-clock seconds of the whole command"
line1 contender N tasks/s min..max "x raw" target
row() { # LABEL N RATES-FILE TARGET-OP TARGET
	m=$(median "$3")
	x=$(ratio "$m" "$raw")
	t=
	[ -z "${4:-}" ] || t="$4 $5: $(verdict "$x" "$4" "$5")"
	line1 "$1" "$2" "$m" "$(spread "$3")" "$x" "$t"
}
skipped() { printf '%-44s %s\n' "$1" "$2"; }
row "1. raw limit: spawnloop N 2 true" "$N" "$T/raw.rates"
row "2. taskfarm, no launcher, --slots 2" "$N" "$T/local.rates" ">=" 0.90
x_local=$(ratio "$(median "$T/local.rates")" "$raw")
if [ -z "$mpi_note" ]; then
	row "3a. taskfarm, mpirun -n 3, wall (+start-up)" "$N" "$T/mpi.rates"
	row "3b. taskfarm, mpirun -n 3, own summary rate" "$N" "$T/mpi_own.rates" ">=" 0.75
	x_mpi=$(ratio "$(median "$T/mpi_own.rates")" "$raw")
	x_mpiwall=$(ratio "$(median "$T/mpi.rates")" "$raw")
else
	skipped "3. taskfarm, mpirun -n 3" "$mpi_note"
fi
row "4. xargs -P 2 -I{} sh -c {}" "$N" "$T/xargs.rates"
x_xargs=$(ratio "$(median "$T/xargs.rates")" "$raw")
if [ -z "$par_note" ]; then
	row "5. GNU parallel -j2 (smaller N, it is slow)" "$NPAR" "$T/parallel.rates"
	x_par=$(ratio "$(median "$T/parallel.rates")" "$raw")
else
	skipped "5. GNU parallel -j2" "$par_note"
fi
if [ -z "$mpi_note" ]; then
	echo "3a times the whole mpirun command, launcher start-up included (unfair at"
	echo "small N); 3b is taskfarm's own rate from its summary line (first task"
	echo "handed out to last one done), and the mpirun target applies to 3b."
fi
echo

# Part two: CPU use while tasks sleep.
cpujobs=$T/cpu-sleep.jobs
yes "sleep $SLEEP" | head -n 4 >"$cpujobs"
hz=$(getconf CLK_TCK)
s1=$(awk -v s="$SLEEP" 'BEGIN { print s * 0.3 }')
s2=$(awk -v s="$SLEEP" 'BEGIN { print s - 0.5 }')

# find_ranks: "RANK PID" for each taskfarm process running $cpujobs (not
# the launcher or /usr/bin/time, whose command lines name it too).
find_ranks() {
	for p in $(pgrep -f -- "$cpujobs" || true); do
		c=$(cat /proc/"$p"/comm 2>/dev/null || true)
		case $c in
		taskfarm | lt-taskfarm) ;;
		*) continue ;;
		esac
		rk=$(tr '\0' '\n' 2>/dev/null </proc/"$p"/environ |
			sed -nE 's/^(OMPI_COMM_WORLD_RANK|PMIX_RANK|PMI_RANK)=//p' | head -n 1)
		echo "${rk:-0} $p"
	done | sort -n
}

# sample FILE: append "RANK TICKS STARTTIME UPTIME" for each rank in
# $T/ranks; utime+stime and starttime are in clock ticks.
sample() {
	while read -r rk p; do
		st=$(sed 's/.*) //' /proc/"$p"/stat 2>/dev/null) || continue
		up=$(cut -d' ' -f1 /proc/uptime)
		echo "$st" | awk -v rk="$rk" -v up="$up" '{ print rk, $12 + $13, $20, up }'
	done <"$T/ranks" >>"$1"
}

# cpu_run LABEL NRANKS CMD...: run CMD in the background, sample the ranks'
# CPU at $s1 and $s2 seconds, while the tasks sleep, and add a row per
# rank to $T/cpu.rows: LABEL RANK CPU-S LIFE-S LIFETIME-% STEADY-%.
cpu_run() {
	label=$1 nranks=$2
	shift 2
	rm -f "$T/s1" "$T/s2" "$T/time"
	t0=$(now)
	"$@" >"$T/cpu.out" 2>"$T/cpu.err" &
	bgpid=$!
	sleep_until "$t0" "$s1"
	find_ranks >"$T/ranks"
	found=$(wc -l <"$T/ranks")
	[ "$found" -eq "$nranks" ] ||
		echo "$me: $label: found $found taskfarm processes at ${s1} s, not $nranks" >&2
	sample "$T/s1"
	sleep_until "$t0" "$s2"
	sample "$T/s2"
	if wait "$bgpid"; then rc=0; else rc=$?; fi
	bgpid=
	if [ $rc -ne 0 ]; then
		echo "$me: $label failed (exit $rc):" >&2
		cat "$T/cpu.err" >&2
		exit 1
	fi
	if [ ! -s "$T/s2" ]; then
		echo "$me: $label: no taskfarm process left at ${s2} s to sample" >&2
		exit 1
	fi
	# With /usr/bin/time, its figure (the whole life of the process) is the
	# lifetime one; otherwise /proc's at $s2.
	tm=
	[ ! -s "$T/time" ] || tm=$(tail -n 1 "$T/time")
	awk -v hz="$hz" -v label="$label" -v tm="$tm" '
		FNR == NR { t1[$1] = $2; u1[$1] = $4; next }
		{
			cpu = $2 / hz; life = $4 - $3 / hz
			steady = ($1 in t1) ? sprintf("%.1f", 100 * ($2 - t1[$1]) / hz / ($4 - u1[$1])) : "n/a"
			if (tm != "") { split(tm, f, " "); cpu = f[1] + f[2]; life = f[3] }
			printf "%s|%s|%.2f|%.2f|%.1f|%s\n", label, $1, cpu, life, 100 * cpu / life, steady
		}' "$T/s1" "$T/s2" >>"$T/cpu.rows"
}

: >"$T/cpu.rows"
echo "$me: CPU while sleeping: no launcher" >&2
if [ -x /usr/bin/time ]; then
	cpu_run "(a) no launcher, --slots 4" 1 \
		/usr/bin/time -f '%U %S %e' -o "$T/time" "$TF" --no-journal -q --slots 4 "$cpujobs"
	a_how="/usr/bin/time -f '%U %S %e' (children included; sleep uses ~0)"
else
	cpu_run "(a) no launcher, --slots 4" 1 "$TF" --no-journal -q --slots 4 "$cpujobs"
	a_how="/proc/PID/stat at ${s2} s (no /usr/bin/time)"
fi
if [ -z "$mpi_note" ]; then
	echo "$me: CPU while sleeping: mpirun -n 3" >&2
	cpu_run "(b) mpirun -n 3, --slots 2" 3 mpirun3 "$TF" --no-journal -q --slots 2 "$cpujobs"
fi

echo "Part 2: taskfarm's own CPU (user+sys) while 4 tasks run 'sleep $SLEEP', in % of"
echo "one core per rank (target <= 5%, applied to lifetime%). lifetime% = CPU since"
echo "the process started / its age, start-up included; steady% = CPU used between"
echo "${s1} s and ${s2} s after launch / that wall time (start-up mostly left out)"
line2() { printf '%-28s %-10s %7s %7s %10s %9s  %s\n' "$@"; }
line2 setup rank "CPU s" "age s" lifetime% steady% target
cpu_max=$(awk -F'|' 'BEGIN { m = 0 } $5 > m { m = $5 } END { print m }' "$T/cpu.rows")
while IFS='|' read -r label rk cpu life pct steady; do
	case $label in
	"(a)"*) rname="0 (alone)" ;;
	*) [ "$rk" -eq 0 ] && rname="0 (master)" || rname="$rk (worker)" ;;
	esac
	line2 "$label" "$rname" "$cpu" "$life" "$pct" "$steady" \
		"<= 5: $(verdict "$pct" "<=" 5)"
done <"$T/cpu.rows"
echo "(a) measured with $a_how;"
if [ -z "$mpi_note" ]; then
	echo "(b) from /proc/PID/stat utime+stime of each rank at ${s2} s."
else
	printf '%-28s %s\n' "(b) mpirun -n 3, --slots 2" "$mpi_note"
fi
echo

# The key ratios on one line.
line="key ratios (x raw $raw tasks/s): no launcher ${x_local} (>= 0.90 $(verdict "$x_local" ">=" 0.90))"
if [ -z "$mpi_note" ]; then
	line="$line; mpirun -n 3 own ${x_mpi} (>= 0.75 $(verdict "$x_mpi" ">=" 0.75)), wall ${x_mpiwall}"
fi
line="$line; xargs ${x_xargs}"
[ -n "$par_note" ] || line="$line; parallel ${x_par} (N=$NPAR)"
line="$line; CPU max ${cpu_max}%/rank (<= 5 $(verdict "$cpu_max" "<=" 5))"
echo "$line"
