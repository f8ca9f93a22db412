# Shared by the bench/ scripts (sourced; set me=bench/NAME.sh and, for
# the message, target=MAKE_TARGET first): die, whole, real_program and
# find_build. In a build tree src/taskfarm and bench/pool_bench are
# libtool's wrapper scripts, which cost a shell start-up per run (in every
# rank) that an installed program does not pay: the benchmarks time the
# real program behind them.

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

# real_program VAR: when the program named by $VAR is libtool's wrapper
# script, VAR names the real program behind it and LD_LIBRARY_PATH points
# at the library.
real_program() {
	eval "wrapped=\$$1"
	real=$(dirname "$wrapped")/.libs/$(basename "$wrapped")
	if [ -x "$real" ] && ! head -c 4 "$wrapped" | grep -q ELF; then
		eval "$1=\$real"
		case :${LD_LIBRARY_PATH:-}: in
		*:$builddir/src/.libs:*) ;;
		*) LD_LIBRARY_PATH=$builddir/src/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} ;;
		esac
		export LD_LIBRARY_PATH
	fi
}

# find_build [PROG]: builddir is top_builddir, or the current directory
# if it holds PROG (default src/taskfarm); TF is the real taskfarm.
find_build() {
	if [ -n "${top_builddir:-}" ]; then
		builddir=$(cd "$top_builddir" && pwd)
	elif [ -e "./${1:-src/taskfarm}" ]; then
		builddir=$(pwd)
	else
		die "no build directory: run 'make ${target:-bench}' from one, or set top_builddir (no ./${1:-src/taskfarm} here)"
	fi
	TF=$builddir/src/taskfarm
	[ -x "$TF" ] || die "$TF not built (run 'make' in $builddir)"
	real_program TF
}
