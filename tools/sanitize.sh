#!/bin/sh
# Builds taskfarm with AddressSanitizer and UndefinedBehaviorSanitizer in
# a build directory of its own (default _build_asan, under the
# repository) and runs the whole `make check` there: the Check unit
# suites and the integration scripts, which start the instrumented
# taskfarm under the real (uninstrumented) mpirun. Any memory error,
# leak or undefined behaviour aborts the process it happens in, so the
# test that ran it fails. Exits non-zero if `make check` does, listing
# the failed tests and the sanitizer reports from their logs.
#
# Usage: tools/sanitize.sh [BUILD_DIR]
# Environment: MAKEFLAGS as usual; JOBS (default 2) for make -j.
#
# CI calls it after the main build and tests, from the repository root:
#   sh tools/sanitize.sh
#
# What is instrumented: libtaskfarm, src/taskfarm, the Check programs,
# examples/mcpi and bench/spawnloop. What is not: mpirun/orted, Open MPI's
# libraries and plugins, libcheck and /bin/sh. Leaks that LeakSanitizer
# finds inside Open MPI (buffers libmpi, libopen-pal, libopen-rte, PMIx,
# hwloc and libevent keep until exit) are suppressed through an LSan
# suppressions file written into the build directory; every other leak is
# an error. The sanitizers need no LD_PRELOAD (the programs link their
# runtime), so the uninstrumented children that tasks start (/bin/sh and
# what it runs) ignore ASAN_OPTIONS and behave as they always do; only
# instrumented children (examples/mcpi) obey it.
#
# The source tree must not be configured in place (configure refuses a
# second, out-of-tree build then). If it is, as after `./configure &&
# make check` in CI, the build here is made from `make distdir` output,
# the same sources `make distcheck` builds.
set -eu

cd "$(dirname "$0")/.."
top=$(pwd)
build=${1:-_build_asan}
case $build in
/*) ;;
*) build=$top/$build ;;
esac
jobs=${JOBS:-2}

SAN_CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
SAN_LDFLAGS="-fsanitize=address,undefined"

me=tools/sanitize.sh
. "$top/tools/outoftree.sh"

if [ ! -f "$build/Makefile" ]; then
	echo "tools/sanitize.sh: configuring $build"
	(cd "$build" && "$srcdir/configure" -q CFLAGS="$SAN_CFLAGS" LDFLAGS="$SAN_LDFLAGS") ||
		{ echo "tools/sanitize.sh: FAIL: configure (see $build/config.log)" >&2; exit 1; }
fi

# Open MPI's own allocations that are still held at exit: not ours to fix.
supp=$build/lsan.supp
cat >"$supp" <<'EOF'
# Written by tools/sanitize.sh: leaks inside Open MPI and the libraries
# it loads, which free some of their memory only at exit or never.
leak:libmpi.so
leak:libopen-pal.so
leak:libopen-rte.so
leak:libpmix.so
leak:libhwloc.so
leak:libevent
leak:/openmpi/lib/
leak:/pmix/lib/
leak:mca_
leak:libucp.so
leak:libucs.so
leak:libuct.so
leak:libfabric.so
leak:libpsm
leak:libibverbs.so
leak:libmunge.so
EOF

# abort_on_error: a report ends the process with SIGABRT, which the test
# harness and taskfarm's own result handling both notice.
# fast_unwind_on_malloc=0: Open MPI is built without frame pointers and
# unloads its plugins (mca_*.so) in MPI_Finalize, so the fast unwinder
# stops at the first plugin frame, an "<unknown module>" by the time
# LeakSanitizer reports; the slower DWARF unwinder reaches MPI_Init in
# libmpi, which the suppressions can match.
ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1:fast_unwind_on_malloc=0:strict_string_checks=1"
LSAN_OPTIONS="suppressions=$supp:print_suppressions=0"
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS

echo "tools/sanitize.sh: building and running make check in $build"
start=$(date +%s)
set +e
make -C "$build" -j"$jobs" check >"$build/make-check.out" 2>&1
rc=$?
set -e
end=$(date +%s)

grep -E '^(# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):)' "$build/make-check.out" || true
if [ "$rc" -eq 0 ]; then
	echo "tools/sanitize.sh: make check passed under ASan+UBSan in $((end - start)) s"
	exit 0
fi

echo "tools/sanitize.sh: FAIL: make check exited with $rc after $((end - start)) s" >&2
if ! grep -q '^# TOTAL' "$build/make-check.out"; then
	tail -n 40 "$build/make-check.out" >&2
fi
# The first few failing logs in detail, then only their names.
shown=0
for log in "$build"/tests/*.log; do
	[ -f "$log" ] || continue
	grep -qE '^(not ok|FAIL|ERROR)|ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$log" || continue
	shown=$((shown + 1))
	if [ "$shown" -gt 4 ]; then
		echo "--- $log (also failed)" >&2
		continue
	fi
	echo "--- $log" >&2
	grep -E '^(not ok|FAIL|ERROR)' "$log" | head -n 10 >&2
	grep -E -A 12 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$log" | head -n 40 >&2
done
exit 1
