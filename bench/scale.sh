#!/bin/sh
# Scale: thousands of concurrent tasks. N tasks of `sleep D` run under
# `mpirun -n RANKS taskfarm --slots SLOTS --master-slots 0`, so RANKS-1
# workers keep (RANKS-1) x SLOTS tasks running at once while the master
# only dispatches; then with no launcher, one taskfarm running all those
# slots itself (a master with no workers' help). Every taskfarm process
# runs under /usr/bin/time, and the journal gives each task's own CPU, so
# the script reports the CPU per task of the master and of the workers
# (their user + sys, less their tasks'), taskfarm's makespan from its
# journal and around the whole command, and both against the ideal
# ceil(N / slots) x D. A run of one task with the same options measures
# the fixed cost (start-up, MPI_Init, shutdown), which the "marginal"
# figures take out.
#
# Knobs (environment): BENCH_RANKS (5), BENCH_SLOTS (500, per worker),
# BENCH_TASKS (6000), BENCH_SLEEP (8, seconds), BENCH_REPEAT (1),
# MPIEXEC (mpirun), top_builddir (default: the current directory, if it
# holds src/taskfarm).
set -eu

me=bench/scale.sh

. "$(dirname "$0")/lib.sh"
target=bench-scale
find_build

RANKS=${BENCH_RANKS:-5}
SLOTS=${BENCH_SLOTS:-500}
N=${BENCH_TASKS:-6000}
D=${BENCH_SLEEP:-8}
R=${BENCH_REPEAT:-1}
whole BENCH_RANKS "$RANKS" 2
whole BENCH_SLOTS "$SLOTS" 1
whole BENCH_TASKS "$N" 2
whole BENCH_SLEEP "$D" 1
whole BENCH_REPEAT "$R" 1
MPIRUN=${MPIEXEC:-mpirun}
W=$((RANKS - 1))
TOTAL=$((W * SLOTS))
WAVES=$(((N + TOTAL - 1) / TOTAL))
IDEAL=$((WAVES * D))

# Will TOTAL sleeping tasks fit? Each is one process (sh execs its last
# command) or two, and holds two pipes in its rank: check the process and
# file limits and pid_max with room to spare, and the memory.
limit() { # NAME: the soft limit of that name in /proc/self/limits, or ""
	sed -n "s/^$1  *\([0-9a-z]*\) .*/\1/p" /proc/self/limits 2>/dev/null || true
}
need=$((2 * TOTAL + 200))
nproc_lim=$(limit 'Max processes')
case $nproc_lim in
'' | unlimited) ;;
*) [ "$(id -u)" -eq 0 ] || [ "$nproc_lim" -ge "$need" ] ||
	die "$TOTAL tasks need up to $need processes; ulimit -u is $nproc_lim (lower BENCH_SLOTS)" ;;
esac
pid_max=$(cat /proc/sys/kernel/pid_max 2>/dev/null || echo "")
[ -z "$pid_max" ] || [ "$pid_max" -ge "$need" ] ||
	die "$TOTAL tasks need up to $need pids; pid_max is $pid_max (lower BENCH_SLOTS)"
nofile=$(limit 'Max open files')
alone_note=
case $nofile in
'' | unlimited) ;;
*)
	[ "$nofile" -ge $((2 * SLOTS + 100)) ] ||
		die "a worker of $SLOTS slots needs $((2 * SLOTS + 100)) files; ulimit -n is $nofile"
	[ "$nofile" -ge $((2 * TOTAL + 100)) ] ||
		alone_note="skipped ($TOTAL slots in one process need $((2 * TOTAL + 100)) files; ulimit -n is $nofile)"
	;;
esac
avail_kb=$(sed -n 's/^MemAvailable: *\([0-9]*\) kB/\1/p' /proc/meminfo 2>/dev/null || true)
[ -z "$avail_kb" ] || [ "$avail_kb" -ge $((TOTAL * 2048)) ] ||
	die "$TOTAL tasks may need $((TOTAL * 2)) MiB; $((avail_kb / 1024)) MiB available (lower BENCH_SLOTS)"

T=$(mktemp -d "${TMPDIR:-/tmp}/tfscale.XXXXXX")
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
mpi_note=
mpienv=
if ! command -v "$MPIRUN" >/dev/null 2>&1; then
	mpi_note="skipped ($MPIRUN not found)"
elif "$MPIRUN" --version 2>/dev/null | grep -q 'Open MPI'; then
	mpienv="env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"
	mpienv="$mpienv OMPI_MCA_rmaps_base_oversubscribe=1"
	mpienv="$mpienv OMPI_MCA_btl_vader_single_copy_mechanism=none"
fi

# Each taskfarm process runs under /usr/bin/time through this wrapper,
# which names its output after the rank: PREFIX.RANK holds "%e %U %S".
# Without GNU time the runs go on and the CPU columns say n/a.
have_time=0
if [ -x /usr/bin/time ] && /usr/bin/time -f '%e' -o "$T/probe" true 2>/dev/null; then
	have_time=1
fi
cat >"$T/rank.sh" <<EOF
#!/bin/sh
prefix=\$1
shift
rk=\${OMPI_COMM_WORLD_RANK:-\${PMIX_RANK:-\${PMI_RANK:-0}}}
if [ $have_time -eq 1 ]; then
	exec /usr/bin/time -f '%e %U %S' -o "\$prefix.\$rk" "\$@"
fi
exec "\$@"
EOF

yes "sleep $D" | head -n "$N" >"$T/sleep.jobs"
echo true >"$T/one.jobs"

# The variants: c_NAME JOBFILE TIMEPREFIX runs the job file.
c_mpi() {
	$mpienv "$MPIRUN" -n "$RANKS" sh "$T/rank.sh" "$2" "$TF" --slots "$SLOTS" \
		--master-slots 0 --journal "$T/journal.tsv" --status-interval 0 "$1"
}
c_alone() {
	sh "$T/rank.sh" "$2" "$TF" --slots "$TOTAL" --journal "$T/journal.tsv" \
		--status-interval 0 "$1"
}

# cpu PREFIX RANK-FILTER: "CPU LIFE", the user + sys seconds of the ranks
# whose number matches the awk condition (e.g. "rk == 0") and the sum of
# their lifetimes, from their time files.
cpu() {
	for f in "$1".*; do
		[ -f "$f" ] || continue
		rk=${f##*.}
		tail -n 1 "$f" | awk -v rk="$rk" "$2 { print \$2 + \$3, \$1 }"
	done | awk '{ s += $1; l += $2 } END { printf "%.3f %.3f\n", s, l }'
}
# jstats NTASKS: from the journal, "MAKESPAN TASKCPU0 TASKCPU_WORKERS":
# the makespan (max(start + runtime) - min(start)) and the tasks' own CPU
# on rank 0 and on the other ranks; fails unless NTASKS succeeded.
jstats() {
	awk -F'\t' -v n="$1" '
		NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
		{
			s = $col["Starttime"]; e = s + $col["JobRuntime"]
			if (NR == 2 || s < lo) lo = s
			if (NR == 2 || e > hi) hi = e
			if ($col["Status"] == "ok") ok++
			c = $col["UserCPU"] + $col["SysCPU"]
			if ($col["Rank"] == 0) c0 += c; else cw += c
		}
		END { if (ok != n) exit 1; printf "%.3f %.3f %.3f\n", hi - lo, c0, cw }' \
		"$T/journal.tsv"
}

# run NAME JOBFILE NTASKS: one run of c_NAME; appends to $T/NAME.runs (or
# NAME.base for the one-task run) "WALL OWN MASTERCPU WORKERSCPU TASKSCPU
# MASTERLIFE WORKERSLIFE" (seconds; the CPU and life ones n/a without
# /usr/bin/time; WORKERSLIFE is the sum over the workers). The master's CPU
# is rank 0's less its own tasks' (none under mpirun with --master-slots 0).
run() {
	rm -f "$T/journal.tsv" "$T"/time.*
	t0=$(now)
	"c_$1" "$2" "$T/time" >"$T/out" 2>"$T/err" &
	bgpid=$!
	if wait "$bgpid"; then rc=0; else rc=$?; fi
	bgpid=
	t1=$(now)
	if [ $rc -ne 0 ]; then
		echo "$me: $1 failed (exit $rc):" >&2
		tail -n 20 "$T/err" >&2
		exit 1
	fi
	js=$(jstats "$3") || die "$1: the journal does not hold $3 successful tasks"
	if [ $have_time -eq 1 ]; then
		m=$(cpu "$T/time" "rk == 0")
		w=$(cpu "$T/time" "rk != 0")
	else
		m="n/a n/a" w="n/a n/a"
	fi
	case $2 in
	*one.jobs) out=$T/$1.base ;;
	*) out=$T/$1.runs ;;
	esac
	echo "$t0 $t1 $js $m $w" | awk '{
		if ($6 == "n/a") { mc = wc = "n/a" }
		else { mc = sprintf("%.3f", $6 - $4); wc = sprintf("%.3f", $8 - $5) }
		printf "%.3f %.3f %s %s %.3f %s %s\n", $2 - $1, $3, mc, wc, $4 + $5, $7, $9
	}' >>"$out"
}

variants=
[ -n "$mpi_note" ] || variants=mpi
[ -n "$alone_note" ] || variants="$variants alone"
[ -n "$variants" ] || die "nothing to run: mpirun $mpi_note; no launcher $alone_note"

echo "taskfarm scale benchmark, $(date '+%Y-%m-%d %H:%M'), $(uname -sr), $(nproc) cores"
echo "taskfarm: $("$TF" --version 2>/dev/null | head -n 1); build $builddir"
[ -n "$mpi_note" ] || echo "launcher: $("$MPIRUN" --version 2>/dev/null | head -n 1)"
echo "N = $N tasks of 'sleep $D'; $W workers x $SLOTS slots = $TOTAL at once;" \
	"ideal makespan ceil($N / $TOTAL) x $D = $IDEAL s; median of $R run(s)"
echo

for v in $variants; do
	echo "$me: $v: fixed cost, one task" >&2
	run "$v" "$T/one.jobs" 1
done
r=1
while [ $r -le "$R" ]; do
	for v in $variants; do
		echo "$me: round $r/$R: $v, $N x sleep $D" >&2
		run "$v" "$T/sleep.jobs" "$N"
	done
	r=$((r + 1))
done

# med FILE COLUMN: the median of that column ("n/a" if it holds n/a).
med() {
	awk -v c="$2" '{ print $c }' "$1" | sort -n | awk '
		$1 == "n/a" { na = 1 } { v[NR] = $1 }
		END { if (na) print "n/a"
		      else if (NR % 2) printf "%.3f\n", v[(NR + 1) / 2]
		      else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# rng FILE COLUMN DIV MUL FMT: "min..max" of that column / DIV * MUL.
rng() {
	awk -v c="$2" '{ print $c }' "$1" | sort -n | awk -v d="$3" -v m="$4" -v f="$5" '
		$1 == "n/a" { na = 1 } NR == 1 { lo = $1 } { hi = $1 }
		END { if (na) print "n/a"
		      else printf f ".." f "\n", lo / d * m, hi / d * m }'
}
# us CPU N: CPU seconds per task in microseconds.
us() {
	case $1 in
	n/a) echo n/a ;;
	*) awk -v c="$1" -v n="$2" 'BEGIN { printf "%.1f\n", c / n * 1e6 }' ;;
	esac
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", a / b }'; }
# pct CPU LIFE: CPU seconds in % of one core over LIFE seconds.
pct() {
	case $1$2 in
	*n/a*) echo n/a ;;
	*) awk -v c="$1" -v l="$2" 'BEGIN { printf "%.1f\n", (l > 0 ? 100 * c / l : 0) }' ;;
	esac
}
# secs CPU: CPU seconds to GNU time's resolution, 0.01 s (a figure less
# the tasks' CPU can come out a hair below 0).
secs() {
	case $1 in
	n/a) echo n/a ;;
	*) awk -v c="$1" 'BEGIN { if (c < 0) c = 0; printf "%.2f\n", c }' ;;
	esac
}

label_mpi="mpirun -n $RANKS, --slots $SLOTS --master-slots 0"
label_alone="no launcher, --slots $TOTAL (master alone)"

echo "Makespan (seconds), ideal $IDEAL s = ceil($N / $TOTAL) x $D"
line1() { printf '%-44s %8s %13s %7s %8s %7s\n' "$@"; }
line1 variant "own s" min..max "x ideal" "wall s" "x ideal"
for v in mpi alone; do
	eval "label=\$label_$v"
	if [ ! -s "$T/$v.runs" ]; then
		eval "note=\$${v}_note"
		printf '%-44s %s\n' "$label" "$note"
		continue
	fi
	own=$(med "$T/$v.runs" 2)
	wall=$(med "$T/$v.runs" 1)
	line1 "$label" "$own" "$(rng "$T/$v.runs" 2 1 1 %.2f)" "$(ratio "$own" "$IDEAL")" \
		"$wall" "$(ratio "$wall" "$IDEAL")"
	eval "own_$v=$own wall_$v=$wall"
done
echo "own = first task's start to last task's end in the journal; wall = around"
echo "the whole command (launcher start-up and shutdown included)."
echo

echo "CPU per task (microseconds; user + sys, tasks' own CPU taken out)"
line2() { printf '%-44s %-8s %7s %7s %7s %8s %13s %8s %6s\n' "$@"; }
line2 variant process "fixed s" "total s" "life s" "us/task" min..max marginal "% core"
for v in mpi alone; do
	[ -s "$T/$v.runs" ] || continue
	eval "label=\$label_$v"
	for col in 3 4; do
		[ "$v" = mpi ] || [ "$col" -eq 3 ] || continue
		case $v$col in
		mpi3) who=master ;;
		mpi4) who="workers" ;;
		alone3) who=alone ;;
		esac
		tot=$(med "$T/$v.runs" $col)
		base=$(med "$T/$v.base" $col)
		per=$(us "$tot" "$N")
		if [ "$tot" = n/a ]; then
			marg=n/a
		else
			marg=$(us "$(awk -v a="$tot" -v b="$base" 'BEGIN { print a - b }')" $((N - 1)))
		fi
		life=$(med "$T/$v.runs" $((col + 3)))
		core=$(pct "$tot" "$life")
		line2 "$label" "$who" "$(secs "$base")" "$(secs "$tot")" "$(secs "$life")" "$per" \
			"$(rng "$T/$v.runs" $col "$N" 1e6 %.0f)" "$marg" "$core"
		eval "cpu_$v$col=$per marg_$v$col=$marg core_$v$col=$core"
	done
	tasks=$(med "$T/$v.runs" 5)
	line2 "$label" "tasks" "" "$(secs "$tasks")" "" "$(us "$tasks" "$N")" "" "" ""
done
echo "total = CPU over the whole run, life = the process's lifetime (workers:"
echo "summed), both medians; us/task = total / N (min..max over the runs); fixed ="
echo "the same command on a one-task job (start-up, MPI_Init, shutdown); marginal"
echo "= (total - fixed) / (N - 1); % core = total / life. workers = all $W worker"
echo "ranks together, less the CPU their tasks used (journal UserCPU + SysCPU);"
echo "tasks = the tasks themselves (sh + sleep). Each taskfarm's figure includes"
echo "its taskfarm-guard child."
if [ $have_time -eq 0 ]; then
	echo "CPU: n/a, /usr/bin/time (GNU time, package 'time') not found."
fi
echo

line="key ratios (ideal $IDEAL s):"
if [ -s "$T/mpi.runs" ]; then
	line="$line mpirun -n $RANKS x $SLOTS slots: makespan own $(ratio "$own_mpi" "$IDEAL") x ideal"
	line="$line (wall $(ratio "$wall_mpi" "$IDEAL")), master ${cpu_mpi3} us/task (marginal ${marg_mpi3},"
	line="$line ${core_mpi3}% core), workers ${cpu_mpi4} us/task (marginal ${marg_mpi4}, ${core_mpi4}% core each)"
else
	line="$line mpirun $mpi_note"
fi
if [ -s "$T/alone.runs" ]; then
	line="$line; master alone, $TOTAL slots: makespan own $(ratio "$own_alone" "$IDEAL") x ideal,"
	line="$line ${cpu_alone3} us/task (marginal ${marg_alone3}, ${core_alone3}% core)"
else
	line="$line; master alone $alone_note"
fi
echo "$line"
