#!/bin/sh
# The C API's benchmark behind `make bench-pool`: tiny tasks (an 8-byte
# input, an 8-byte result, f(x) = 2x+1) on 2 worker ranks + a master,
# through taskfarm's ordered map (automatic chunking, and chunks of 1) and
# single-task submit+wait round trips and futures in bulk (bench/pool_bench),
# beside a
# hand-written C MPI farm with 64 tasks per message (bench/mpifarm),
# Python's multiprocessing Pool.map and concurrent.futures (2 processes),
# and mpi4py.futures (bench/pool_py.py). The contenders run round-robin R
# times; the table shows medians, ratios and the issue's three targets.
#
# Knobs (environment): BENCH_POOL_N (2000000), BENCH_POOL_ROUNDS (3),
# BENCH_POOL_TRIPS (20000, C round trips), BENCH_POOL_PY_TRIPS (2000,
# Python round trips), BENCH_POOL_N1_CF (10000, tasks for
# ProcessPoolExecutor.map with chunksize 1), BENCH_POOL_N1_MPI4PY (3000,
# tasks for mpi4py.futures with chunksize 1), BENCH_POOL_FUTURES (1000000,
# taskfarm futures in bulk), BENCH_POOL_PY_FUTURES (20000, Python's and
# mpi4py's futures in bulk: about 10-40 thousand a second), PYTHON (/usr/bin/python3:
# Debian's, which python3-mpi4py installs into), MPIEXEC (mpirun),
# top_builddir (default: the current directory).
set -eu

me=bench/pool.sh
srcdir=$(cd "$(dirname "$0")/.." && pwd)
. "$srcdir/bench/lib.sh"
target=bench-pool
find_build bench/pool_bench
POOLBENCH=$builddir/bench/pool_bench
MPIFARM=$builddir/bench/mpifarm
[ -x "$POOLBENCH" ] || die "$POOLBENCH not built (run 'make bench/pool_bench' in $builddir)"
# The wrapper script would start a shell in every rank.
real_program POOLBENCH

N=${BENCH_POOL_N:-2000000}
R=${BENCH_POOL_ROUNDS:-3}
TRIPS=${BENCH_POOL_TRIPS:-20000}
PYTRIPS=${BENCH_POOL_PY_TRIPS:-2000}
N1CF=${BENCH_POOL_N1_CF:-10000}
N1M=${BENCH_POOL_N1_MPI4PY:-3000}
NF=${BENCH_POOL_FUTURES:-1000000}
NFPY=${BENCH_POOL_PY_FUTURES:-20000}
for v in N:$N R:$R TRIPS:$TRIPS PYTRIPS:$PYTRIPS N1CF:$N1CF N1M:$N1M NF:$NF NFPY:$NFPY; do
	whole "${v%%:*}" "${v#*:}" 1
done
PY=${PYTHON:-/usr/bin/python3}
MPIRUN=${MPIEXEC:-mpirun}
command -v "$MPIRUN" >/dev/null 2>&1 || die "$MPIRUN not found: every contender but Python's own pools needs it"

# Open MPI refuses to run as root and to put 3 ranks on 2 cores unless
# told to, and would bind them to cores; for the launcher only.
mpienv=
if "$MPIRUN" --version 2>/dev/null | grep -q 'Open MPI'; then
	mpienv="env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"
	mpienv="$mpienv OMPI_MCA_rmaps_base_oversubscribe=1"
	mpienv="$mpienv OMPI_MCA_btl_vader_single_copy_mechanism=none"
	mpienv="$mpienv OMPI_MCA_hwloc_base_binding_policy=none"
fi
mpirun3() { $mpienv "$MPIRUN" -n 3 "$@"; }

T=$(mktemp -d "${TMPDIR:-/tmp}/tfpool.XXXXXX")
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Which contenders can run here; a skipped one gets a reason.
contenders=taskfarm
skip_mpifarm= skip_pylocal= skip_mpi4py=
if [ -x "$MPIFARM" ]; then
	contenders="$contenders mpifarm"
else
	skip_mpifarm="not built (make bench/mpifarm)"
fi
if ! command -v "$PY" >/dev/null 2>&1; then
	skip_pylocal="$PY not found"
	skip_mpi4py="$PY not found"
else
	contenders="$contenders pylocal"
	if ! "$PY" -c 'import mpi4py.futures' >/dev/null 2>&1; then
		skip_mpi4py="mpi4py not importable by $PY (apt-get install python3-mpi4py)"
	else
		contenders="$contenders mpi4py"
	fi
fi

# run NAME CMD...: run one contender, file each "name value unit" line's
# value under $T/name.vals, and each "skip NAME: why" line under $T/skips.
run() {
	name=$1
	shift
	if ! "$@" >"$T/out" 2>"$T/err"; then
		echo "$me: $name failed:" >&2
		cat "$T/out" "$T/err" >&2
		exit 1
	fi
	while read -r k v u; do
		case $k in
		skip) echo "$v $u" >>"$T/skips" ;;
		*) echo "$v" >>"$T/$k.vals" ;;
		esac
	done <"$T/out"
}

echo "taskfarm pool benchmark, $(date '+%Y-%m-%d %H:%M'), $(uname -sr), $(nproc) cores"
echo "launcher: $("$MPIRUN" --version 2>/dev/null | head -n 1)"
if [ -z "$skip_pylocal" ]; then
	pyv=$("$PY" -c 'import sys; print(sys.version.split()[0])')
	m4v=$("$PY" -c 'import mpi4py; print(mpi4py.__version__)' 2>/dev/null || echo none)
	echo "python: $PY $pyv, mpi4py $m4v"
fi
echo "N = $N tasks of 8 bytes in, 8 out, f(x) = 2x+1; 2 workers + master; $R rounds"
echo

r=1
while [ "$r" -le "$R" ]; do
	printf '%s: round %d/%d:' "$me" "$r" "$R" >&2
	for c in $contenders; do
		printf ' %s' "$c" >&2
		case $c in
		taskfarm) run "$c" mpirun3 "$POOLBENCH" "$N" "$TRIPS" "$NF" ;;
		mpifarm) run "$c" mpirun3 "$MPIFARM" "$N" "$TRIPS" 64 ;;
		pylocal) run "$c" "$PY" "$srcdir/bench/pool_py.py" local "$N" "$N1CF" "$PYTRIPS" "$NFPY" ;;
		mpi4py) run "$c" mpirun3 "$PY" -m mpi4py.futures \
			"$srcdir/bench/pool_py.py" mpi "$N" "$N1M" "$PYTRIPS" "$NFPY" ;;
		esac
	done
	echo >&2
	r=$((r + 1))
done

median() { # NAME: the median of $T/NAME.vals, or empty
	[ -s "$T/$1.vals" ] || return 0
	sort -g "$T/$1.vals" | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2];
		      else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
spread() { # NAME: min..max
	sort -g "$T/$1.vals" | awk 'NR == 1 { lo = $1 } { hi = $1 }
		END { if (lo >= 100) printf "%.0f..%.0f\n", lo, hi;
		      else printf "%.2f..%.2f\n", lo, hi }'
}
ratio() { # A B: A / B, or n/a
	[ -n "$1" ] && [ -n "$2" ] || {
		echo n/a
		return
	}
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", a / b }'
}
verdict() { # VALUE OP LIMIT: PASS, MISS, or n/a without a VALUE
	[ -n "$1" ] && [ "$1" != n/a ] || {
		echo "n/a"
		return
	}
	awk -v v="$1" -v lim="$3" -v op="$2" 'BEGIN {
		ok = op == ">=" ? v >= lim : v <= lim
		print ok ? "PASS" : "MISS" }'
}
line() { printf '%-46s %8s %18s  %s\n' "$@"; }
row() { # LABEL NTASKS NAME UNIT
	m=$(median "$3")
	if [ -z "$m" ]; then
		printf '%-46s %s\n' "$1" "skipped"
		return
	fi
	case $4 in
	us) mv=$(printf '%.2f' "$m") ;;
	*) mv=$(printf '%.0f' "$m") ;;
	esac
	line "$1" "$2" "$mv $4" "$(spread "$3")"
}
skiprow() { printf '%-46s %s\n' "$1" "skipped: $2"; }

N1TF=$((N / 50 > 1000 ? N / 50 : N))
echo "Throughput (tasks/s), median of $R interleaved runs"
line contender N median min..max
row "taskfarm map, automatic chunking" "$N" map_auto tasks/s
row "taskfarm map, chunk 1" "$N1TF" map_chunk1 tasks/s
row "C function in a plain loop (one core)" "$N" raw_loop tasks/s
if [ -n "$skip_mpifarm" ]; then skiprow "C MPI farm, 64 tasks/message" "$skip_mpifarm"; else
	row "C MPI farm, 64 tasks/message" "$N" mpifarm tasks/s
fi
if [ -n "$skip_pylocal" ]; then skiprow "Python multiprocessing/concurrent.futures" "$skip_pylocal"; else
	row "multiprocessing Pool(2).map, default chunks" "$N" py_pool_map tasks/s
	row "ProcessPoolExecutor(2).map, chunksize 1" "$N1CF" py_cf_map_chunk1 tasks/s
	row "ProcessPoolExecutor(2).map, chunksize N/8" "$N" py_cf_map_chunkN8 tasks/s
fi
if [ -n "$skip_mpi4py" ]; then skiprow "mpi4py.futures" "$skip_mpi4py"; else
	row "mpi4py.futures map, chunksize 1" "$N1M" mpi4py_map_chunk1 tasks/s
	for f in "$T"/mpi4py_map_chunk*.vals; do
		cs=${f##*/mpi4py_map_chunk}
		echo "${cs%.vals}"
	done | sort -n | while read -r cs; do
		[ "$cs" != 1 ] || continue
		row "mpi4py.futures map, chunksize $cs" "$N" "mpi4py_map_chunk$cs" tasks/s
	done
	row "mpi4py.futures map, best chunksize per run" "$N" mpi4py_map_best tasks/s
fi
echo
echo "Single-task submit + wait round trip (us), median of $R runs"
line contender trips median min..max
row "taskfarm tf_pool_submit + tf_future_wait" "$TRIPS" roundtrip us
[ -n "$skip_mpifarm" ] || row "C MPI_Send + MPI_Recv to rank 1" "$TRIPS" mpifarm_roundtrip us
[ -n "$skip_pylocal" ] || row "ProcessPoolExecutor submit().result()" "$PYTRIPS" py_cf_roundtrip us
[ -n "$skip_mpi4py" ] || row "mpi4py.futures submit().result()" "$PYTRIPS" mpi4py_roundtrip us
echo
echo "Futures in bulk (all submitted, then each waited for), median of $R runs"
line contender futures median min..max
row "taskfarm tf_pool_submit x N, then wait each" "$NF" futures_bulk futures/s
[ -n "$skip_pylocal" ] || row "ProcessPoolExecutor(2) submit x N, result" "$NFPY" py_cf_bulk futures/s
if [ -n "$skip_mpi4py" ]; then skiprow "mpi4py.futures submit x N, result" "$skip_mpi4py"; else
	row "mpi4py.futures submit x N, result" "$NFPY" mpi4py_bulk futures/s
fi
if [ -s "$T/skips" ]; then
	echo
	sort -u "$T/skips" | sed 's/^/skipped by pool_py.py: /'
fi

auto=$(median map_auto)
one=$(median map_chunk1)
rt=$(median roundtrip)
pool=$(median py_pool_map)
echo
echo "Ratios (medians)"
echo "  taskfarm map_auto / Pool.map            $(ratio "$auto" "$pool")"
echo "  taskfarm map_auto / mpi4py best chunks  $(ratio "$auto" "$(median mpi4py_map_best)")"
echo "  taskfarm map_auto / C MPI farm (64/msg) $(ratio "$auto" "$(median mpifarm)")"
echo "  taskfarm chunk 1 / mpi4py chunksize 1   $(ratio "$one" "$(median mpi4py_map_chunk1)")"
echo "  taskfarm chunk 1 / ProcessPool chunk 1  $(ratio "$one" "$(median py_cf_map_chunk1)")"
echo "  round trip: taskfarm / C MPI            $(ratio "$rt" "$(median mpifarm_roundtrip)")"
echo "  round trip: mpi4py / taskfarm           $(ratio "$(median mpi4py_roundtrip)" "$rt")"
echo "  round trip: ProcessPool / taskfarm      $(ratio "$(median py_cf_roundtrip)" "$rt")"
fb=$(median futures_bulk)
echo "  bulk futures: taskfarm / ProcessPool    $(ratio "$fb" "$(median py_cf_bulk)")"
echo "  bulk futures: taskfarm / mpi4py         $(ratio "$fb" "$(median mpi4py_bulk)")"
# Pool.map is also compared run by run: the same round, side by side.
wins=$(paste "$T/map_auto.vals" "$T/py_pool_map.vals" 2>/dev/null |
	awk '$2 != "" { n++; if ($1 >= $2) w++ } END { printf "%d/%d\n", w, n }')
echo
echo "Targets (from the issue)"
printf '  %-52s %s\n' "map, automatic chunking >= 5,000,000 tasks/s" \
	"$(printf '%.0f' "$auto") $(verdict "$auto" ">=" 5000000)"
printf '  %-52s %s\n' "map, automatic chunking >= Pool.map in the same run" \
	"$(ratio "$auto" "$pool") x $(verdict "$(ratio "$auto" "$pool")" ">=" 1) (rounds won: ${wins:-n/a})"
printf '  %-52s %s\n' "one-task round trip <= 5 us" \
	"$(printf '%.2f' "$rt") us $(verdict "$rt" "<=" 5)"
printf '  %-52s %s\n' "1,000,000 tiny futures >= 5,000,000 futures/s" \
	"$(printf '%.0f' "$fb") $(verdict "$fb" ">=" 5000000)"
