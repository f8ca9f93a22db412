#!/bin/sh
# The command line and bad input, with no launcher: every error names its
# cause, exits 2 and starts no task.
. "$top_srcdir/tests/lib.sh"

tf --help
check "--help exits 0" rc_is 0
check "--help documents the exit codes" grep -q "3 interrupted by a" out
check "--help documents the task environment" grep -q TASKFARM_NTASKS out

tf --version
check "--version prints the version" grep -q "^taskfarm [0-9]" out
check "--version prints configure's version" \
	grep -qx "taskfarm $(sed -n 's/^Version: //p' "$top_builddir/taskfarm.pc")" out
check "--version then a copyright and a licence line" \
	sh -c 'sed -n 2p out | grep -q "^Copyright (c) 2026 The taskfarm authors$" &&
		sed -n 3p out | grep -q "^License BSD-3-Clause"'

tf --no-such-option jobs.tasks
check "an unknown option exits 2" rc_is 2

for bad in 0 -1 abc 1.5 ""; do
	tf --slots "$bad" "$JOBS/hello.tasks"
	check "--slots '$bad' exits 2 with a message" \
		sh -c "[ $rc -eq 2 ] && grep -q -- '--slots takes' err"
done
for opt in --grace --status-interval --journal-sync; do
	tf $opt 5x "$JOBS/hello.tasks"
	check "$opt 5x exits 2" sh -c "[ $rc -eq 2 ] && grep -q -- '$opt' err"
done

tf
check "no job file exits 2" sh -c "[ $rc -eq 2 ] && grep -q 'no job file' err"

tf a.tasks b.tasks
check "two job files exit 2" rc_is 2

tf missing.tasks
check "a missing job file exits 2 naming it" \
	sh -c "[ $rc -eq 2 ] && grep -q 'missing.tasks: cannot open' err"

mkdir adir
tf adir
check "a directory as job file exits 2" \
	sh -c "[ $rc -eq 2 ] && grep -q 'adir: is a directory' err"

# Hostile job files: each holds a first task that would leave a marker, so
# that we can tell that no task started.
printf 'touch started\necho a\nbad\000line\n' >nul.tasks
tf nul.tasks
check "a NUL byte exits 2" rc_is 2
check "a NUL byte is reported at file:line" grep -q 'nul.tasks:3: NUL byte' err
check "no task started before the NUL byte was found" test ! -e started

{ echo 'touch started'; head -c 1100000 /dev/zero | tr '\0' x; echo; } >long.tasks
tf long.tasks
check "an over-long line exits 2 at file:line" \
	sh -c "[ $rc -eq 2 ] && grep -q 'long.tasks:2: line longer than' err"
check "no task started before the long line was found" test ! -e started

printf 'touch started\necho a \\\n' >cont.tasks
tf cont.tasks
check "a continuation at the end exits 2 at file:line" \
	sh -c "[ $rc -eq 2 ] && grep -q 'cont.tasks:2: line continues past the end' err"
check "no task started before the bad continuation" test ! -e started

printf 'echo x\n' >ok.tasks
mkdir jdir
tf --journal jdir ok.tasks
check "a journal that is a directory exits 2" \
	sh -c "[ $rc -eq 2 ] && grep -q 'jdir' err"

echo x >afile-for-journal
tf --journal afile-for-journal/j.tsv ok.tasks
check "a journal path that cannot be created exits 2" \
	sh -c "[ $rc -eq 2 ] && grep -q 'afile-for-journal/j.tsv' err"

echo "precious" >target
ln -s target link.tsv
tf --journal link.tsv ok.tasks
check "a journal that is a symbolic link exits 2" \
	sh -c "[ $rc -eq 2 ] && grep -q 'symbolic link' err"
check "the symbolic link's target is untouched" \
	sh -c "[ \"\$(cat target)\" = precious ]"

echo file >afile
tf --results afile/sub ok.tasks
check "an uncreatable results directory exits 2" \
	sh -c "[ $rc -eq 2 ] && grep -q 'results afile/sub' err"

tf --dry-run "$JOBS/sweep.tasks"
check "--dry-run exits 0" rc_is 0
check "--dry-run prints every command, continuations joined" \
	sh -c "[ \$(wc -l <out) -eq 5 ] && grep -q -- '--seed 11     --samples 1000000' out"
check "--dry-run writes no journal" test ! -e sweep.journal.tsv

tf -- echo {3} ::: a ::: b
check "a template naming a missing source exits 2" \
	sh -c "[ $rc -eq 2 ] && grep -q '{3}' err"
tf -- echo :::
check "a template with nothing after ::: exits 2" rc_is 2
tf -- echo x :::: missing-args.txt
check "a missing argument file exits 2 naming it" \
	sh -c "[ $rc -eq 2 ] && grep -q 'missing-args.txt' err"

finish
