#!/bin/sh
# The C API called wrongly, waits with time limits, polls that drive the
# pool, and a worker's memory over large variable-size records
# (tests/pool_edges' modes, taskfarm(3)), without a launcher and under 1
# to 4 ranks.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

PROG="$top_builddir/tests/pool_edges"
[ -x "$PROG" ] || { echo "Bail out! $PROG not built"; exit 99; }

# run_mode N MODE EXPECTED_OKS: as tests/pool.sh's (0: no launcher).
run_mode() {
	n=$1 mode=$2 want=$3
	if [ "$n" -eq 0 ]; then
		where="no launcher"
		timeout -k 10 120 "$PROG" "$mode" >out 2>err
	else
		where="$n ranks"
		timeout -k 10 180 "$MPIEXEC" -n "$n" "$PROG" "$mode" >out 2>err
	fi
	rc=$?
	while IFS= read -r line; do
		case $line in
		"ok "*) ok "$mode, $where: ${line#ok }" ;;
		"FAIL "*) not_ok "$mode, $where: ${line#FAIL }" ;;
		"#"*) echo "$line" ;;
		esac
	done <out
	got=$(grep -c '^ok ' out)
	if [ "$rc" -eq 0 ] && [ "$got" -eq "$want" ] && ! grep -q '^FAIL' out; then
		ok "$mode, $where: exit 0 with $want checks passed"
	else
		not_ok "$mode, $where: exit $rc, $got of $want checks passed"
		diag "stderr:" "$(tail -n 15 err)"
	fi
}

run_mode 0 misuse 14


if ! have_mpiexec; then
	diag "no $MPIEXEC: the MPI runs are skipped"
	finish
	exit $?
fi

run_mode 1 misuse 14
run_mode 3 misuse 14
run_mode 3 test-drives 3
run_mode 3 timeouts 6
run_mode 2 mapv-memory 1

finish
