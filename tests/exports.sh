# Sourced by tests/symbols.sh and tests/install.sh: what a libtaskfarm.so
# exports against what a taskfarm.h declares.

# declared_names INCDIR...: the functions taskfarm.h declares (found in
# the first INCDIR that has it, as the compiler finds it), one a line,
# sorted. The header is preprocessed, so comments do not count and a
# declaration is one whatever its line breaks.
declared_names() {
	inc=
	for d in "$@"; do
		inc="$inc -I$d"
	done
	echo '#include "taskfarm.h"' >decl.c
	# shellcheck disable=SC2086
	${TF_MPICC:-mpicc} -E -P $inc decl.c >decl.i || return 1
	grep -o '\btf_[a-z0-9_]*[ ]*(' decl.i | tr -d ' (' | sort -u
}

# exported_names LIB: the names LIB's dynamic symbol table defines, one a
# line, sorted (symbol versions cut off; the linker's own _init, _fini,
# _edata, _end and __bss_start, which older binutils list, left out).
exported_names() {
	${TF_NM:-nm} -D --defined-only "$1" >nm.out || return 1
	awk 'NF >= 3 { sub(/@.*/, "", $3); print $3 }' nm.out |
		grep -vxE '_init|_fini|_edata|_end|__bss_start' | sort -u
}

# exports_match WHAT LIB INCDIR...: TAP lines for LIB exporting exactly
# the functions the header declares (and declaring a plausible number).
exports_match() {
	what=$1 lib=$2
	shift 2
	if ! declared_names "$@" >declared || ! exported_names "$lib" >exported; then
		not_ok "$what: the header and the library can be read"
		return
	fi
	check "$what: the header declares the C API ($(wc -l <declared) functions)" \
		[ "$(wc -l <declared)" -ge 20 ]
	leaked=$(comm -13 declared exported)
	missing=$(comm -23 declared exported)
	if [ -z "$leaked" ]; then
		ok "$what: every exported symbol is declared in taskfarm.h"
	else
		not_ok "$what: every exported symbol is declared in taskfarm.h"
		diag "exported, not declared:" $leaked
	fi
	if [ -z "$missing" ]; then
		ok "$what: every function taskfarm.h declares is exported"
	else
		not_ok "$what: every function taskfarm.h declares is exported"
		diag "declared, not exported:" $missing
	fi
}
