# Sourced by tools/sanitize.sh and tools/mpich-check.sh: picks the source
# directory for a second build of the tree in $build. A tree configured
# in place cannot also be built out of tree (automake refuses), so then
# the build takes a clean copy of the distributed sources from `make
# distdir` and builds in $build/obj. Needs $me, $top and $build; sets
# $srcdir and $build.
mkdir -p "$build"
srcdir=$top
if [ -f "$top/config.status" ]; then
	echo "$me: the source tree is configured in place; building from 'make distdir'"
	rm -rf "$build/pkg"
	make -s -C "$top" distdir distdir="$build/pkg" top_distdir="$build/pkg" >/dev/null
	srcdir=$build/pkg
	build=$build/obj
	mkdir -p "$build"
elif [ ! -x "$top/configure" ]; then
	echo "$me: no configure yet; running autogen.sh"
	"$top/autogen.sh"
fi
