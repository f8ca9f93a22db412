#!/bin/sh
# Builds the libFuzzer targets in tests/fuzz/ (the job-file reader and
# the template's argument files; the wire decoders and the journal's
# escaping) with ASan and UBSan, and runs each for SECONDS (default 30).
# Exits non-zero if a fuzzer finds a crash, a leak, undefined behaviour or
# a broken invariant, and prints the reproducer's path and the command
# that replays it.
#
# Usage: tools/fuzz.sh [--install] [SECONDS]
#   --install  first apt-get install clang and libclang-rt-14-dev (root
#              or sudo); without it, this script installs nothing.
# Environment: CC (default clang), FUZZ_BUILD (default _build_fuzz, under
# the repository: the objects and the fuzzer programs), TMPDIR (the
# corpus and any crash files go to a fresh directory there, never into
# the repository).
#
# CI calls it after the main build and tests, from the repository root:
#   sh tools/fuzz.sh 60
#
# The library is compiled here directly, without configure and without
# MPI: src/{core,farm,pool}/*.c minus the MPI layer, the loops and the
# program's main (core/comm, farm/master, worker, run, main, pool/api,
# master, jobs, worker)
# go into a static archive, and the
# linker pulls in only the objects the fuzzers reach. A glob rather than
# a list, so that a new MPI-free module a fuzzed one starts to call is
# built without anyone editing this script; the archive means a module
# nobody fuzzes costs a compile, never a link error. A source that turns
# out to include mpi.h is left out with a note; any other compile error
# stops the script.

# CC, SAN, CFLAGS_FUZZ, objs and dict are word lists, expanded unquoted.
# shellcheck disable=SC2086
set -eu

cd "$(dirname "$0")/.."
top=$(pwd)

install=no
seconds=30
for arg in "$@"; do
	case $arg in
	--install) install=yes ;;
	-h | --help)
		sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*[!0-9]* | '')
		echo "tools/fuzz.sh: unknown argument '$arg' (usage: tools/fuzz.sh [--install] [SECONDS])" >&2
		exit 2
		;;
	*) seconds=$arg ;;
	esac
done

if [ "$install" = yes ]; then
	SUDO=
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev >/dev/null
	echo "tools/fuzz.sh: clang and libclang-rt-14-dev installed"
fi

CC=${CC:-clang}
FUZZ_BUILD=${FUZZ_BUILD:-_build_fuzz}
case $FUZZ_BUILD in
/*) build=$FUZZ_BUILD ;;
*) build=$top/$FUZZ_BUILD ;;
esac

if ! command -v "$CC" >/dev/null 2>&1; then
	echo "tools/fuzz.sh: $CC not found; run tools/fuzz.sh --install (Debian: clang libclang-rt-14-dev)" >&2
	exit 2
fi

SAN="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
CFLAGS_FUZZ="-g -O1 $SAN -fno-omit-frame-pointer -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter"

mkdir -p "$build/obj"
rm -f "$build"/obj/* "$build"/libtf-fuzz.a

# configure's config.h is not needed: the sources use PACKAGE_VERSION,
# taken here from AC_INIT in configure.ac.
version=$(sed -n 's/^AC_INIT(\[[^]]*\], *\[\([^]]*\)\].*/\1/p' configure.ac | head -n 1)
cat >"$build/config.h" <<EOF
/* Written by tools/fuzz.sh for the fuzz build (no configure). */
#define PACKAGE "taskfarm"
#define PACKAGE_NAME "taskfarm"
#define PACKAGE_TARNAME "taskfarm"
#define PACKAGE_VERSION "${version:-0}"
#define PACKAGE_STRING "taskfarm ${version:-0}"
#define VERSION "${version:-0}"
EOF

# A quick check that this compiler can build libFuzzer targets at all.
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n);\nint LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' >"$build/probe.c"
if ! $CC $SAN "$build/probe.c" -o "$build/probe" 2>"$build/probe.log"; then
	cat "$build/probe.log" >&2
	echo "tools/fuzz.sh: $CC cannot build libFuzzer programs; run tools/fuzz.sh --install (Debian: clang libclang-rt-14-dev)" >&2
	exit 2
fi
rm -f "$build/probe" "$build/probe.c" "$build/probe.log"

echo "tools/fuzz.sh: building with $($CC --version | head -n 1) in $build"
objs=
for src in src/core/*.c src/farm/*.c src/pool/*.c; do
	name=$(echo "${src#src/}" | sed 's|\.c$||; s|/|_|')
	case $name in
	core_comm | farm_master | farm_worker | farm_run | farm_main) continue ;;
	pool_api | pool_master | pool_jobs | pool_worker) continue ;;
	esac
	obj=$build/obj/$name.o
	if ! $CC $CFLAGS_FUZZ -I"$build" -Isrc -c "$src" -o "$obj" 2>"$build/obj/$name.log"; then
		if grep -q "'mpi\.h' file not found" "$build/obj/$name.log"; then
			echo "tools/fuzz.sh: $src needs MPI; left out"
			continue
		fi
		cat "$build/obj/$name.log" >&2
		echo "tools/fuzz.sh: FAIL: $src does not compile" >&2
		exit 1
	fi
	objs="$objs $obj"
done
ar rcs "$build/libtf-fuzz.a" $objs

targets="fuzz_jobfile fuzz_wire"
for t in $targets; do
	if ! $CC $CFLAGS_FUZZ -I"$build" -Isrc "tests/fuzz/$t.c" \
		"$build/libtf-fuzz.a" -o "$build/$t" 2>"$build/$t.log"; then
		cat "$build/$t.log" >&2
		echo "tools/fuzz.sh: FAIL: tests/fuzz/$t.c does not build" >&2
		exit 1
	fi
	[ -s "$build/$t.log" ] && cat "$build/$t.log" >&2
done

work=$(mktemp -d "${TMPDIR:-/tmp}/taskfarm-fuzz.XXXXXX")
for t in $targets; do
	mkdir -p "$work/$t/corpus" "$work/$t/seeds" "$work/$t/crashes"
done

# Seeds: the example job files and a few hostile ones for the reader;
# one well-formed message of each kind, from the real encoders, for the
# decoders.
cp jobs/*.tasks "$work/fuzz_jobfile/seeds/"
s=$work/fuzz_jobfile/seeds
printf 'echo a \\\n  b\\\\\n\n# comment\n\t# indented\r\nlast' >"$s/continuations"
printf 'a\r\nb\\\r\nc\r\n\r\n' >"$s/crlf"
printf 'echo {} {1} {#} {%%} it'"'"'s\n\n \\\n' >"$s/template"
printf 'a\0b\n' >"$s/nul"
# shellcheck disable=SC1003 # a file that ends in a backslash
printf 'x\\' >"$s/trailing"
printf 'a\n#TASKFARM barrier\n#TASKFARM slots 4\nb\n  #TASKFARM gpus 0\nc\n#TASKFARM end\n# x\n' >"$s/directives"
TF_FUZZ_SEEDS=$work/fuzz_wire/seeds "$build/fuzz_wire" >/dev/null

# Tokens that steer the job-file fuzzer to the interesting syntax.
cat >"$work/fuzz_jobfile.dict" <<'EOF'
"\\\x0a"
"\\\\"
"\x0d\x0a"
"#"
"\x00"
"{}"
"{1}"
"'"
"#TASKFARM "
"barrier"
"slots "
"gpus "
"end"
EOF

# A broken invariant abort()s: let ASan print the stack for it too.
ASAN_OPTIONS="handle_abort=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export ASAN_OPTIONS

# fuzz_jobfile rewrites a file in $TMPDIR for every input: on tmpfs
# (/dev/shm) it runs about 1.6 times as many inputs as on a disk. A
# directory of our own, removed at the end, even after a crash.
base=${TMPDIR:-}
if [ -z "$base" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	base=/dev/shm
fi
scratch=$(mktemp -d "${base:-/tmp}/taskfarm-fuzz-scratch.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

echo "tools/fuzz.sh: running each fuzzer for $seconds s (corpus in $work)"
failed=
for t in $targets; do
	dict=
	[ -f "$work/$t.dict" ] && dict=-dict=$work/$t.dict
	start=$(date +%s)
	set +e
	TMPDIR=$scratch "$build/$t" -max_total_time="$seconds" -max_len=4096 -timeout=25 \
		-print_final_stats=1 -artifact_prefix="$work/$t/crashes/" \
		$dict "$work/$t/corpus" "$work/$t/seeds" >"$work/$t.log" 2>&1
	rc=$?
	set -e
	end=$(date +%s)
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
	cov=$(grep -o 'cov: [0-9]*' "$work/$t.log" | tail -n 1)
	found=$(find "$work/$t/crashes" -type f | head -n 1)
	if [ "$rc" -eq 0 ] && [ -z "$found" ]; then
		echo "tools/fuzz.sh: $t: ok, ${runs:-?} runs in $((end - start)) s, ${cov:-cov: ?}"
		continue
	fi
	failed="$failed $t"
	echo "tools/fuzz.sh: FAIL: $t exited with $rc after $((end - start)) s; its log ends:" >&2
	grep -v '^#[0-9]' "$work/$t.log" | tail -n 40 >&2
	if [ -n "$found" ]; then
		echo "tools/fuzz.sh: reproducer: $found" >&2
		echo "tools/fuzz.sh: replay it with: $build/$t $found" >&2
		od -A d -c "$found" | head -n 20 >&2
	fi
done

if [ -n "$failed" ]; then
	echo "tools/fuzz.sh: FAIL:$failed (kept $work)" >&2
	exit 1
fi
rm -rf "$work"
echo "tools/fuzz.sh: no crashes"
