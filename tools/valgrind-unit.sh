#!/bin/sh
# Runs every Check unit program (tests/check_*.c in the source tree) under
# valgrind's memcheck, with CK_FORK=no so that each suite runs in one
# process valgrind watches (Check otherwise forks a child per test). Any
# invalid read or write, use of uninitialised memory, bad free or
# definite leak fails the program (valgrind exits 9), as does a failed
# test (exit 1). Exits non-zero if any program failed, naming them.
#
# Usage: tools/valgrind-unit.sh [--install] [BUILD_DIR]
#   --install  first apt-get install valgrind (root or sudo); without it,
#              this script installs nothing.
#   BUILD_DIR (default _build): a configured build directory, used as it
#   is; the check programs are built there first. Given a directory that
#   has no Makefile yet, it configures one there (an out-of-tree build,
#   which needs a source tree not configured in place). "." is the source
#   tree itself when it is configured in place.
#
# CI calls it after `./configure && make check` in the source tree:
#   sh tools/valgrind-unit.sh --install .
#
# Valgrind does not follow children (--trace-children=no), so the /bin/sh
# processes check_exec starts run natively. A program's valgrind output is
# kept in BUILD_DIR/tests/check_X.valgrind.log.
set -eu

cd "$(dirname "$0")/.."
top=$(pwd)

install=no
build=_build
for arg in "$@"; do
	case $arg in
	--install) install=yes ;;
	-*)
		echo "tools/valgrind-unit.sh: unknown option '$arg' (usage: tools/valgrind-unit.sh [--install] [BUILD_DIR])" >&2
		exit 2
		;;
	*) build=$arg ;;
	esac
done
case $build in
/*) ;;
*) build=$top/$build ;;
esac
jobs=${JOBS:-2}

if [ "$install" = yes ]; then
	SUDO=
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends valgrind >/dev/null
	echo "tools/valgrind-unit.sh: valgrind installed"
fi

if ! command -v valgrind >/dev/null 2>&1; then
	echo "tools/valgrind-unit.sh: valgrind not found (run tools/valgrind-unit.sh --install, or apt-get install valgrind)" >&2
	exit 2
fi

if [ ! -f "$build/Makefile" ]; then
	if [ -f "$top/config.status" ] && [ "$build" != "$top" ]; then
		echo "tools/valgrind-unit.sh: the source tree is configured in place; pass . as the build directory" >&2
		exit 2
	fi
	[ -x "$top/configure" ] || "$top/autogen.sh"
	echo "tools/valgrind-unit.sh: configuring $build"
	mkdir -p "$build"
	(cd "$build" && "$top/configure" -q) ||
		{ echo "tools/valgrind-unit.sh: FAIL: configure (see $build/config.log)" >&2; exit 1; }
fi

progs=
for src in "$top"/tests/check_*.c; do
	progs="$progs tests/$(basename "$src" .c)"
done
if [ -z "$progs" ]; then
	echo "tools/valgrind-unit.sh: no tests/check_*.c in $top" >&2
	exit 2
fi

echo "tools/valgrind-unit.sh: building$progs in $build"
# shellcheck disable=SC2086 # progs is a list of make targets
make -C "$build" -j"$jobs" $progs >"$build/valgrind-build.out" 2>&1 || {
	tail -n 40 "$build/valgrind-build.out" >&2
	echo "tools/valgrind-unit.sh: FAIL: cannot build the check programs" >&2
	exit 1
}

CK_FORK=no
CK_VERBOSITY=${CK_VERBOSITY:-normal}
export CK_FORK CK_VERBOSITY
failed=
cd "$build"
for prog in $progs; do
	log=$prog.valgrind.log
	start=$(date +%s)
	set +e
	./libtool --mode=execute valgrind -q --leak-check=full \
		--errors-for-leak-kinds=definite --error-exitcode=9 \
		--log-file="$log" "./$prog" >"$prog.valgrind.out" 2>&1
	rc=$?
	set -e
	end=$(date +%s)
	summary=$(grep -E '^[0-9]+%: Checks' "$prog.valgrind.out" | tail -n 1)
	case $rc in
	0)
		echo "tools/valgrind-unit.sh: $prog: ok ($((end - start)) s) ${summary}"
		continue
		;;
	9) why="valgrind found errors" ;;
	*) why="exit status $rc" ;;
	esac
	failed="$failed $prog"
	echo "tools/valgrind-unit.sh: FAIL: $prog: $why ($((end - start)) s) ${summary}" >&2
	grep -vE '^(Running suite|[0-9]+%: Checks)' "$prog.valgrind.out" | head -n 20 >&2
	head -n 60 "$log" >&2
done

if [ -n "$failed" ]; then
	echo "tools/valgrind-unit.sh: FAIL:$failed (logs: $build/tests/*.valgrind.log)" >&2
	exit 1
fi
echo "tools/valgrind-unit.sh: every unit program is clean under valgrind"
