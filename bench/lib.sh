# Shared by the bench/ scripts (sourced; set me=bench/NAME.sh and, for
# the message, target=MAKE_TARGET first): die, whole, and find_build,
# which finds the build directory (top_builddir, or the current directory
# if it holds src/taskfarm) and sets builddir and TF. In a build tree
# src/taskfarm is libtool's wrapper script, which costs a shell start-up
# per run that an installed taskfarm does not pay: TF is the real program
# behind it then, with LD_LIBRARY_PATH pointing at its library.

die() {
	echo "$me: $*" >&2
	exit 2
}

whole() { # NAME VALUE MIN: VALUE must be a whole number >= MIN
	case $2 in
	'' | *[!0-9]*) die "$1 must be a whole number, not '$2'" ;;
	esac
	[ "$2" -ge "$3" ] || die "$1 must be at least $3, not $2"
}

find_build() {
	if [ -n "${top_builddir:-}" ]; then
		builddir=$(cd "$top_builddir" && pwd)
	elif [ -x ./src/taskfarm ]; then
		builddir=$(pwd)
	else
		die "no build directory: run 'make ${target:-bench}' from one, or set top_builddir (no ./src/taskfarm here)"
	fi
	TF=$builddir/src/taskfarm
	[ -x "$TF" ] || die "$TF not built (run 'make' in $builddir)"
	if [ -x "$builddir/src/.libs/taskfarm" ] && ! head -c 4 "$TF" | grep -q ELF; then
		TF=$builddir/src/.libs/taskfarm
		LD_LIBRARY_PATH=$builddir/src/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
		export LD_LIBRARY_PATH
	fi
}
