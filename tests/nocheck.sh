#!/bin/sh
# Check is needed by `make check` only: with check.pc hidden from
# pkg-config, configure succeeds (and says Check is missing), `make`
# builds, and `make check` fails at once, naming Check. Built from `make
# distdir` in a scratch directory (tools/outoftree.sh), as a user would.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

command -v pkg-config >/dev/null 2>&1 || skip_all "no pkg-config"

# A pkg-config directory with every .pc this pkg-config finds but check.pc.
mkdir pc
for d in $(echo "${PKG_CONFIG_PATH:-}:$(pkg-config --variable pc_path pkg-config)" | tr ':' ' '); do
	for f in "$d"/*.pc; do
		[ -f "$f" ] || continue
		case $(basename "$f") in
		check.pc) ;;
		*) [ -e "pc/$(basename "$f")" ] || ln -s "$f" pc/ ;;
		esac
	done
done
PKG_CONFIG_LIBDIR=$SCRATCH/pc
PKG_CONFIG_PATH=
export PKG_CONFIG_LIBDIR PKG_CONFIG_PATH
check "check.pc is really hidden from pkg-config" \
	sh -c "! pkg-config --exists check"

me=tests/nocheck.sh top=$top_builddir build=$SCRATCH/build
. "$top_srcdir/tools/outoftree.sh" >outoftree.log 2>&1
cd "$build" || exit 99
"$srcdir/configure" MPICC="${TF_MPICC:-mpicc}" >configure.log 2>&1
rc=$?
check "configure succeeds without Check" rc_is 0
check "configure says Check is missing" \
	grep -q "Check (check >= 0.10) not found" configure.log
if [ "$rc" -eq 0 ]; then
	make -j2 >make.log 2>&1
	rc=$?
	check "make builds without Check" rc_is 0
	make check >check.log 2>&1
	rc=$?
	check "make check fails without Check" [ "$rc" -ne 0 ]
	check "make check says it needs Check" \
		grep -q "make check needs Check" check.log
	check "make check ran no test" [ ! -e test-suite.log ]
fi
cd "$SCRATCH" || exit 99

finish
