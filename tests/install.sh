#!/bin/sh
# Installing: `make install prefix=DIR` from the build tree (no DESTDIR)
# gives a taskfarm.pc that points at DIR, the two headers, and a library
# that exports only taskfarm.h's names; every example then builds out of
# the tree with README's line, `mpicc -std=c99 prog.c $(pkg-config
# --cflags --libs taskfarm) -o prog` (with -lm: they use libm), and runs.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/exports.sh"

command -v pkg-config >/dev/null 2>&1 || skip_all "no pkg-config"
nm_cmd=${TF_NM:-nm}
command -v "${nm_cmd%% *}" >/dev/null 2>&1 || skip_all "no nm"

T="$SCRATCH/prefix"
if ! make -C "$top_builddir" install prefix="$T" >install.log 2>&1; then
	not_ok "make install prefix=DIR"
	diag "$(tail -n 20 install.log)"
	finish
	exit 1
fi
ok "make install prefix=DIR"

pc="$T/lib/pkgconfig/taskfarm.pc"
export PKG_CONFIG_PATH="$T/lib/pkgconfig"
check "taskfarm.pc is installed in DIR/lib/pkgconfig" [ -f "$pc" ]
check "taskfarm.pc: prefix is DIR" grep -qx "prefix=$T" "$pc"
check "taskfarm.pc: libdir and includedir are under DIR" \
	[ "$(pkg-config --variable=libdir taskfarm)" = "$T/lib" ] &&
	[ "$(pkg-config --variable=includedir taskfarm)" = "$T/include" ]
check "taskfarm.pc: --cflags --libs name DIR" \
	[ "$(echo $(pkg-config --cflags --libs taskfarm))" = \
		"-I$T/include -L$T/lib -ltaskfarm" ]
check "taskfarm.pc: Libs.private carries libm and MPI's link flags" \
	sh -c "pkg-config --static --libs taskfarm | grep -q -- '-lm' &&
		grep -q '^Libs.private: .*-lmpi' '$pc' ||
		! ${TF_MPICC:-mpicc} -showme:link >/dev/null 2>&1"
check "taskfarm.pc: the version is configure's" \
	[ "$(pkg-config --modversion taskfarm)" = \
		"$(sed -n 's/^#define TF_VERSION_STRING "\(.*\)"/\1/p' "$T/include/taskfarm_version.h")" ]
check "taskfarm.h and taskfarm_version.h are installed" \
	[ -f "$T/include/taskfarm.h" ] && [ -f "$T/include/taskfarm_version.h" ]
check "no internal header is installed" \
	[ "$(ls "$T/include" | tr '\n' ' ')" = "taskfarm.h taskfarm_version.h " ]
check "the program is installed and prints its version" \
	sh -c "'$T/bin/taskfarm' --version | grep -q '^taskfarm [0-9]'"

lib="$T/lib/libtaskfarm.so"
if [ -f "$lib" ]; then
	exports_match "installed library" "$lib" "$T/include"
else
	not_ok "installed library: $lib exists"
fi

# Every example, built outside the tree against the installed library
# only, and run with LD_LIBRARY_PATH as README says. A library built with
# a sanitizer (tools/sanitize.sh) needs its runtime in the program too,
# as it would for any user of such a build.
san=
for f in ${TF_CFLAGS:-}; do
	case $f in -fsanitize=*) san="$san $f" ;; esac
done
for src in "$top_srcdir"/examples/*.c; do
	name=$(basename "$src" .c)
	cp "$src" "$name.c"
	if ${TF_MPICC:-mpicc} -std=c99 $san "$name.c" \
		$(pkg-config --cflags --libs taskfarm) -o "$name" -lm \
		>"cc.$name" 2>&1; then
		ok "mpicc -std=c99 $name.c \$(pkg-config --cflags --libs taskfarm)"
	else
		not_ok "mpicc -std=c99 $name.c \$(pkg-config --cflags --libs taskfarm)"
		diag "$(cat "cc.$name")"
	fi
done
export LD_LIBRARY_PATH="$T/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
check "pool_pi uses the installed library" \
	sh -c "ldd ./pool_pi | grep -q '$T/lib/libtaskfarm'"
timeout -k 10 120 ./pool_pi 50 1000 >out 2>err
rc=$?
check "pool_pi runs without a launcher" grep -q '^pi ~ 3\.1' out
if have_mpiexec; then
	timeout -k 10 120 "$MPIEXEC" -n 2 ./pool_pi 50 1000 >out 2>err
	rc=$?
	check "pool_pi runs under 2 ranks" grep -q '^pi ~ 3\.1' out
	check "pool_pi under 2 ranks: exit 0" rc_is 0
fi

check "make uninstall prefix=DIR leaves no file" \
	sh -c "make -C '$top_builddir' uninstall prefix='$T' >uninstall.log 2>&1 &&
		[ -z \"\$(find '$T' -type f)\" ]"

finish
