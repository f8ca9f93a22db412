#!/bin/sh
# Builds taskfarm against MPICH (Debian's mpich and libmpich-dev) in a
# build directory of its own (default _build_mpich, under the repository)
# and runs the whole `make check` there: the Check unit suites and the
# integration scripts, whose MPI runs then go through MPICH's Hydra
# mpiexec. Installs MPICH first if it is missing. Copies the build's
# test-suite.log to test-suite.mpich.log at the top, so that CI can count
# it, and exits non-zero if anything fails.
#
# Usage: tools/mpich-check.sh [BUILD_DIR]
# Environment: JOBS (default 2) for make -j.
#
# CI calls it after the main build and tests, from the repository root:
#   sh tools/mpich-check.sh
#
# Both MPIs on one machine. Debian installs each MPI's programs under
# suffixed names (mpicc.openmpi, mpicc.mpich, mpiexec.hydra, ...) and
# points the plain names (mpicc, mpiexec, mpirun, and the multiarch
# headers and libmpi.so) at one of them through the alternatives `mpi`,
# `mpirun` and `mpi-<multiarch>`. In auto mode the higher priority wins:
# on amd64 that is Open MPI (50; MPICH has 40), so installing MPICH
# leaves the plain names on Open MPI, and the main build (./configure
# with no MPICC, which finds mpicc and mpiexec on the PATH) still gets
# Open MPI. Should installing MPICH move any of these alternatives all
# the same (another architecture, a manual setting), this script sets
# it back to what it was and says so. The build here names MPICH's
# programs explicitly and never uses the plain names: MPICC=mpicc.mpich
# and MPIEXEC=<path of mpiexec.hydra>; it checks that the program it
# built links libmpich and not Open MPI's libmpi.
#
# The source tree must not be configured in place (configure refuses a
# second, out-of-tree build then). If it is, as after `./configure &&
# make check` in CI, the build here is made from `make distdir` output,
# the same sources `make distcheck` builds.
set -eu

cd "$(dirname "$0")/.."
top=$(pwd)
build=${1:-_build_mpich}
case $build in
/*) ;;
*) build=$top/$build ;;
esac
jobs=${JOBS:-2}
me=tools/mpich-check.sh

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

# The alternatives whose plain names an MPI package may take over.
mpi_selections() {
	update-alternatives --get-selections 2>/dev/null |
		awk '$1 ~ /^mpi/ { print $1, $3 }' | sort
}

if ! dpkg -s mpich libmpich-dev >/dev/null 2>&1; then
	echo "$me: installing mpich and libmpich-dev"
	before=$(mpi_selections)
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends \
		mpich libmpich-dev >/dev/null
	after=$(mpi_selections)
	if [ "$before" != "$after" ]; then
		# Put back every alternative that existed before and moved.
		echo "$before" | while read -r name value; do
			[ -n "$name" ] || continue
			now=$(echo "$after" | awk -v n="$name" '$1 == n { print $2 }')
			[ "$now" = "$value" ] && continue
			echo "$me: installing MPICH moved the '$name' alternative to $now; setting it back to $value"
			$SUDO update-alternatives --quiet --set "$name" "$value"
		done
	fi
fi

MPICC=mpicc.mpich
command -v "$MPICC" >/dev/null 2>&1 ||
	{ echo "$me: FAIL: $MPICC not found" >&2; exit 1; }
MPIEXEC=
for p in mpiexec.hydra mpiexec.mpich; do
	MPIEXEC=$(command -v "$p" 2>/dev/null) && break
done
if [ -z "$MPIEXEC" ] || ! "$MPIEXEC" --version 2>/dev/null | grep -q HYDRA; then
	echo "$me: FAIL: no MPICH Hydra mpiexec (mpiexec.hydra, mpiexec.mpich)" >&2
	exit 1
fi
echo "$me: $("$MPICC" -v 2>&1 | head -n 1); launcher $MPIEXEC"

. "$top/tools/outoftree.sh"

start=$(date +%s)
echo "$me: configuring $build"
(cd "$build" && "$srcdir/configure" -q --enable-werror MPICC="$MPICC" MPIEXEC="$MPIEXEC") ||
	{ echo "$me: FAIL: configure (see $build/config.log)" >&2; exit 1; }

echo "$me: building and running make check in $build"
set +e
make -C "$build" -j"$jobs" check >"$build/make-check.out" 2>&1
rc=$?
set -e
end=$(date +%s)

log=$build/test-suite.log
rm -f "$top/test-suite.mpich.log"
[ -f "$log" ] && cp "$log" "$top/test-suite.mpich.log"

# The build must really be an MPICH one: the program links libmpich.
if [ "$rc" -eq 0 ]; then
	libs=$(cd "$build" && ./libtool --mode=execute ldd src/taskfarm 2>/dev/null)
	if ! echo "$libs" | grep -q 'libmpich\.so' || echo "$libs" | grep -q 'libmpi\.so'; then
		echo "$me: FAIL: src/taskfarm does not link libmpich alone:" >&2
		echo "$libs" | grep -i mpi >&2
		exit 1
	fi
fi

grep -E '^(# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):)' "$build/make-check.out" || true
if [ "$rc" -eq 0 ]; then
	echo "$me: make check passed with MPICH in $((end - start)) s"
	exit 0
fi

echo "$me: FAIL: make check exited with $rc after $((end - start)) s" >&2
if ! grep -q '^# TOTAL' "$build/make-check.out"; then
	tail -n 40 "$build/make-check.out" >&2
fi
grep -E '^(FAIL|ERROR|XPASS)' "$build/make-check.out" | head -n 30 >&2
exit 1
