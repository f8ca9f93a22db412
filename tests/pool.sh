#!/bin/sh
# The C API (taskfarm(3)): tests/pool_prog's modes under 1 to 5 ranks and
# without a launcher, the examples, and a program built outside the tree
# against the installed library through pkg-config.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

PROG="$top_builddir/tests/pool_prog"
EX="$top_builddir/examples"
[ -x "$PROG" ] || { echo "Bail out! $PROG not built"; exit 99; }

# run_mode N MODE EXPECTED_OKS: the mode under N ranks (0: no launcher);
# each line the program prints becomes a TAP line, then one for the exit
# code and the count of passed checks (so a mode that silently skipped
# its checks fails).
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
	report "$mode" "$where" "$want"
}

# report MODE WHERE EXPECTED_OKS: TAP lines for the run just made (its
# output in out and err, the exit code in $rc).
report() {
	mode=$1 where=$2 want=$3
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

run_mode 0 map 4
run_mode 0 futures 4
run_mode 0 isolate 5
run_mode 0 errors 4

if ! have_mpiexec; then
	diag "no $MPIEXEC: the MPI runs are skipped"
	finish
	exit $?
fi

run_mode 1 map 4
run_mode 2 map 4

# A tf_pool_open() that fails says why through tf_pool_errmsg(NULL) (the
# library prints nothing; pool_prog prints the message): here srun's
# singletons, faked by SLURM_STEP_NUM_TASKS=2 under a 1-rank mpiexec.
SLURM_STEP_NUM_TASKS=2 timeout -k 10 120 "$MPIEXEC" -n 1 "$PROG" map >out 2>err
rc=$?
check "a failed open: exit 4 (TF_EMPI)" sh -c "[ $rc -eq 4 ] && grep -q '^FAIL open: ' out"
check "a failed open: tf_pool_errmsg(NULL) says why" \
	grep -q "^pool_prog rank -1: cannot open the pool: srun started 2 tasks but MPI sees only this one" err
run_mode 5 map 4
run_mode 3 comm 4
run_mode 3 spread 1
run_mode 5 spread 1
run_mode 2 master-works 5
run_mode 2 unordered 3
run_mode 4 unordered 3
run_mode 3 varsize 1
run_mode 2 errors 4
run_mode 5 errors 4
run_mode 1 isolate 5
run_mode 3 isolate 5
run_mode 1 futures 4
run_mode 2 futures 4
run_mode 3 futures 4
run_mode 5 futures 4
run_mode 3 init 1
run_mode 2 big 1

# Refusals: every rank's start returns the error, and the master names
# the difference.
run_mode 4 mismatch 4
check "mismatch: the master names the function and the rank" \
	grep -q "rank 2: 'extra' only there" err
run_mode 3 init-fails 3
check "init-fails: the master names the rank whose initializer failed" \
	grep -q "initializer returned 5 on rank 2" err

# TF_POOL_MAX_BYTES: results that claim more fail alone with TF_ETOOBIG
# (cheaply: their pages are never touched), inputs over it are refused
# before anything is sent.
run_mode 0 too-big 7
run_mode 3 too-big 7
run_mode 2 too-big-isolated 7

# Lost ranks: a worker rank really killed (SIGKILL from its task, on rank
# 2), every worker killed, a worker silent past lost_after, the master
# killed. This needs a launcher that keeps the other ranks running: Open
# MPI's mpirun --enable-recovery (Hydra and plain mpirun end every rank
# when one dies, so there these cases are skipped, never passed). A marker
# in the command line finds any process of the run left behind.
mark=pool$$$(date +%N | cut -c1-6)
ompi=no
"$MPIEXEC" --version 2>/dev/null | grep -qE 'Open MPI|OpenRTE' && ompi=yes

# nothing_left: no process of this test's lost-rank runs is left, within
# 15 s (the ones found are ended, by their pids, and the check fails).
nothing_left() {
	i=0
	while pgrep -f "pool_prog .*$mark" >/dev/null && [ $i -lt 150 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	left=$(pgrep -f "pool_prog .*$mark")
	[ -z "$left" ] && return 0
	diag "left running:" "$(ps -o pid,args -p "$(echo $left | tr ' ' ',')")"
	for pid in $left; do
		kill -9 "$pid" 2>/dev/null
	done
	return 1
}

# run_lost MODE EXPECTED_OKS: the mode under mpirun --enable-recovery with
# 4 ranks, within 120 s; then no process of it may be left.
run_lost() {
	if [ "$ompi" != yes ]; then
		echo "ok $((tap_n + 1)) - $1: # SKIP $MPIEXEC is not Open MPI's mpirun (--enable-recovery)"
		tap_n=$((tap_n + 1))
		return
	fi
	timeout -k 10 120 "$MPIEXEC" --enable-recovery -n 4 "$PROG" "$1" "$mark" \
		>out 2>err
	rc=$?
	report "$1" "4 ranks, recovery" "$2"
	check "$1: no process of the run is left" nothing_left
}

run_lost lost-map 6
[ "$ompi" = yes ] && check "lost-map: the master names the lost rank" \
	grep -q "rank 2 was lost: its process ended" err
run_lost lost-future 3
run_lost lost-all 3
run_lost lost-silent 7
[ "$ompi" = yes ] && check "lost-silent: the master says why" \
	grep -q "rank 2 was lost: it sent nothing for" err
run_lost lost-idle 2
[ "$ompi" = yes ] && check "lost-idle: the master saw the idle rank end" \
	grep -q "rank 2 was lost: its process ended; 0 tasks" err
run_lost lost-init 3
[ "$ompi" = yes ] && check "lost-init: the master names the rank lost in the start" \
	grep -q "rank 2 was lost during the start" err
run_lost master-dies 4
[ "$ompi" = yes ] && check "master-dies: each worker saw its master end" \
	[ "$(grep -c "the master's process ended" err)" -eq 3 ]

# The examples. pool_pi's answer depends only on its seeds, not on the
# ranks that ran them.
timeout -k 10 120 "$EX/pool_pi" 200 20000 >pi.0 2>err
rc0=$?
timeout -k 10 120 "$MPIEXEC" -n 3 "$EX/pool_pi" 200 20000 >pi.3 2>err
rc3=$?
check "pool_pi: exit 0 without a launcher and under 3 ranks" \
	[ "$rc0" -eq 0 ] && [ "$rc3" -eq 0 ]
check "pool_pi: the same estimate on 1 and 3 ranks" \
	[ "$(cut -d' ' -f1-3 pi.0)" = "$(cut -d' ' -f1-3 pi.3)" ]
check "pool_pi: the estimate is pi to 2 decimals" \
	grep -q '^pi ~ 3\.14' pi.3
for n in 2 4; do
	timeout -k 10 120 "$MPIEXEC" -n "$n" "$EX/pool_sweep" --check 25 >out 2>err
	rc=$?
	check "pool_sweep, $n ranks: ordered results equal the serial sweep" \
		grep -q '^serial check: 0 of 625 differ' out
	check "pool_sweep, $n ranks: exit 0" rc_is 0
done
timeout -k 10 120 "$MPIEXEC" -n 3 "$EX/pool_completed" 27 9 x 6 97 >out 2>err
rc=$?
check "pool_completed: each input reported once" \
	[ "$(cut -d: -f1 out | sort | tr '\n' ' ')" = "27 6 9 97 x " ]
check "pool_completed: a bad input is a failed task with its message" \
	grep -q "^x: failed: 'x' is not a positive number" out
check "pool_completed: the good ones have their trajectories" \
	grep -q '^6: 6 3 10 5 16 8 4 2 1$' out
check "pool_completed: exit 1 after a failed task" rc_is 1

# A program outside the tree, built against the installed library with
# pkg-config as taskfarm(3) says: installed with DESTDIR, which
# pkg-config's sysroot variable maps back. The build's CFLAGS go along,
# so that a sanitizer build links its runtime into the program too.
dest="$SCRATCH/dest"
if make -C "$top_builddir" install DESTDIR="$dest" >install.log 2>&1 &&
	pc=$(find "$dest" -name taskfarm.pc | head -n 1) && [ -n "$pc" ]; then
	ok "make install DESTDIR=..."
	libdir=$(dirname "$(dirname "$pc")")
	incdir=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config \
		--variable=includedir taskfarm)
	mandir=$(dirname "$libdir")/share/man
	cp "$top_srcdir/examples/pool_pi.c" outside.c
	if flags=$(PKG_CONFIG_PATH=$(dirname "$pc") \
		PKG_CONFIG_SYSROOT_DIR="$dest" pkg-config --cflags --libs taskfarm) &&
		${TF_MPICC:-mpicc} ${TF_CFLAGS:-} outside.c $flags -lm \
			-Wl,-rpath,"$libdir" \
			-o outside >cc.log 2>&1; then
		ok "mpicc outside.c \$(pkg-config --cflags --libs taskfarm)"
	else
		not_ok "mpicc outside.c \$(pkg-config --cflags --libs taskfarm)"
		diag "$flags" "$(cat cc.log)"
	fi
	check "the installed header and man pages are in place" \
		[ -f "$dest$incdir/taskfarm.h" ] &&
		[ -f "$mandir/man3/taskfarm.3" ] && [ -f "$mandir/man1/taskfarm.1" ]
	timeout -k 10 120 "$MPIEXEC" -n 2 ./outside 50 1000 >out 2>err
	rc=$?
	check "the outside program runs under 2 ranks" grep -q '^pi ~ 3\.1' out
	check "the outside program uses the installed library" \
		sh -c "ldd ./outside | grep -q '$libdir/libtaskfarm'"
else
	not_ok "make install DESTDIR=..."
	diag "$(tail -n 20 install.log)"
fi

finish
