#!/bin/sh
# The library boundary: the libtaskfarm.so just built exports exactly the
# functions taskfarm.h declares (TF_EXTERN and -fvisibility=hidden), no
# internal name. tests/install.sh checks the installed copy too.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/exports.sh"

lib="$top_builddir/src/.libs/libtaskfarm.so"
[ -f "$lib" ] || skip_all "no $lib (a build without shared libraries)"
nm_cmd=${TF_NM:-nm}
command -v "${nm_cmd%% *}" >/dev/null 2>&1 || skip_all "no nm"

exports_match "built library" "$lib" "$top_srcdir/src" "$top_builddir/src"

finish
