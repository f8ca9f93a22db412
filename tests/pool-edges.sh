#!/bin/sh
# The C API called wrongly, waits with time limits, polls that drive the
# pool, and a worker's memory over large variable-size records
# (tests/pool_edges' and tests/pool_misuse's modes, taskfarm(3)), without
# a launcher and under 1 to 4 ranks.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

PROG="$top_builddir/tests/pool_edges"
[ -x "$PROG" ] || { echo "Bail out! $PROG not built"; exit 99; }

# report_lines WHAT: each line of out as a TAP line.
report_lines() {
	while IFS= read -r line; do
		case $line in
		"ok "*) ok "$1: ${line#ok }" ;;
		"FAIL "*) not_ok "$1: ${line#FAIL }" ;;
		"#"*) echo "$line" ;;
		esac
	done <out
}

# run_mode N MODE EXPECTED_OKS: as tests/pool.sh's (0: no launcher).
run_mode() {
	n=$1 mode=$2 want=$3
	if [ "$n" -eq 0 ]; then
		where="no launcher"
		timeout -k 10 120 "$PROG" "$mode" >out 2>err
	else
		where="$n ranks"
		timeout -k 10 180 "$MPIEXEC" -n "$n" "$PROG" "$mode" \
			${run_mode_args:-} >out 2>err
	fi
	rc=$?
	report_lines "$mode, $where"
	got=$(grep -c '^ok ' out)
	if [ "$rc" -eq 0 ] && [ "$got" -eq "$want" ] && ! grep -q '^FAIL' out; then
		ok "$mode, $where: exit 0 with $want checks passed"
	else
		not_ok "$mode, $where: exit $rc, $got of $want checks passed"
		diag "stderr:" "$(tail -n 15 err)"
	fi
}

run_mode 0 misuse 14
run_mode 0 bulk-futures 3
run_mode 0 imap 6
run_mode 0 task-timeout 3
# tests/pool_misuse: what an outside review of 0.2 found (its modes).
PROG="$top_builddir/tests/pool_misuse"
run_mode 0 inside 5
run_mode 0 inside-isolated 5
run_mode 0 nulls 3
run_mode 0 opts 6
run_mode 0 imap 3
run_mode 0 two-pools 5
PROG="$top_builddir/tests/pool_edges"


if ! have_mpiexec; then
	diag "no $MPIEXEC: the MPI runs are skipped"
	finish
	exit $?
fi

run_mode 1 misuse 14
run_mode 3 misuse 14
run_mode 3 test-drives 3
run_mode 3 timeouts 8
run_mode 2 mapv-memory 1
run_mode 3 bulk-futures 3
run_mode 3 imap 6
run_mode 2 imap 6
run_mode 3 task-timeout 3
run_mode 3 long-queue 3
run_mode 3 reclaim 1
PROG="$top_builddir/tests/pool_misuse"
run_mode 1 inside 5
run_mode 3 inside 5
run_mode 3 inside-isolated 5
run_mode 3 nulls 3
run_mode 3 close-negative 2
run_mode 3 imap 3
run_mode 1 two-pools 5
PROG="$top_builddir/tests/pool_edges"

# tf_pool_close_for(pool, 1 s) while a 30 s task runs. Isolated: the
# task's child (named by a marker unique to this run) is killed, every
# rank finalizes and exits 0.
marker="tfcl$$"
export POOL_EDGES_WANT_GONE=1
run_mode_args=$marker
run_mode 3 close-isolated 2
unset POOL_EDGES_WANT_GONE run_mode_args
check "close-isolated: no process named $marker left" \
	sh -c "! pgrep -x '$marker' >/dev/null"
# In the worker's process: the close returns TF_ETIMEDOUT within seconds
# with that worker left behind (MPI unfinalized, so the launcher's exit
# code is not 0), and the whole run ends long before the task would.
marker="tfci$$"
t0=$(date +%s)
timeout -k 10 120 "$MPIEXEC" -n 3 "$PROG" close-inproc "$marker" >out 2>err
rc=$?
t1=$(date +%s)
report_lines "close-inproc, 3 ranks"
check "close-inproc: the run ended after $((t1 - t0)) s (< 20 s; exit $rc)" \
	sh -c "[ $((t1 - t0)) -lt 20 ] && [ $rc -ne 124 ] && [ $rc -ne 137 ]"
gone=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	pgrep -x "$marker" >/dev/null || { gone=1; break; }
	sleep 1
done
check "close-inproc: the worker left behind ($marker) is gone within 10 s" \
	[ "$gone" -eq 1 ]

# OpenMP inside tasks (tests/pool_omp), in the rank and isolated; the MPI
# the pool starts with opts.threads must allow it (MPI_THREAD_FUNNELED),
# the default is MPI_THREAD_SINGLE, and threads on an MPI the program
# started at SINGLE are refused.
OMP="$top_builddir/tests/pool_omp"
"$OMP" >out 2>err
if [ $? -eq 77 ]; then
	echo "ok $((tap_n + 1)) - OpenMP tasks: # SKIP built without OpenMP"
	tap_n=$((tap_n + 1))
else
	for args in "1 plain 2" "1 isolate 2" "3 plain 2" "3 isolate 2" \
		    "3 single 2" "3 preinit 3"; do
		set -- $args
		timeout -k 10 120 "$MPIEXEC" -n "$1" "$OMP" "$2" >out 2>err
		rc=$?
		report_lines "OpenMP, $1 ranks, $2"
		check "OpenMP, $1 ranks, $2: exit 0 with $3 checks passed" \
			sh -c "[ $rc -eq 0 ] && [ \$(grep -c '^ok ' out) -eq $3 ] && ! grep -q '^FAIL' out"
	done
fi

# The examples: pool_imap's ordered stream, pool_bulk's futures in bulk;
# the same answers on 1 and 3 ranks.
EX="$top_builddir/examples"
seq 1 3000 | timeout -k 10 120 "$EX/pool_imap" 16 >imap.0 2>err
rc0=$?
seq 1 3000 | timeout -k 10 120 "$MPIEXEC" -n 3 "$EX/pool_imap" 16 >imap.3 2>err
rc3=$?
check "pool_imap: exit 0 without a launcher and under 3 ranks" \
	[ "$rc0" -eq 0 ] && [ "$rc3" -eq 0 ]
check "pool_imap: 3000 results, in input order" \
	[ "$(cut -d: -f1 imap.3 | tr '\n' ' ')" = "$(seq 1 3000 | tr '\n' ' ')" ]
check "pool_imap: the same results on 1 and 3 ranks" cmp -s imap.0 imap.3
check "pool_imap: 27 takes 111 steps" grep -qx '27: 111' imap.3
printf '5\nx\n7\n' | timeout -k 10 120 "$MPIEXEC" -n 3 "$EX/pool_imap" >out 2>err
rc=$?
check "pool_imap: a bad line is a failed task in its place, exit 1" \
	sh -c "[ $rc -eq 1 ] && [ \"\$(cut -d: -f1 out | tr '\n' ' ')\" = '1 2 3 ' ] && grep -q \"^2: failed: 'x' is not\" out"
timeout -k 10 120 "$EX/pool_bulk" 50000 100 >bulk.0 2>err
rc0=$?
timeout -k 10 120 "$MPIEXEC" -n 3 "$EX/pool_bulk" 50000 100 >bulk.3 2>err
rc3=$?
check "pool_bulk: exit 0 without a launcher and under 3 ranks" \
	[ "$rc0" -eq 0 ] && [ "$rc3" -eq 0 ]
check "pool_bulk: the same count on 1 and 3 ranks, pi to 2 decimals" \
	sh -c "cmp -s bulk.0 bulk.3 && grep -q '^50000 futures, .*pi ~ 3\.14' bulk.3"

finish
