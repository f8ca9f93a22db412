#!/bin/sh
# Input that changes or lies (issue 10): a job file truncated, appended to
# or overwritten while the run goes on; lines at and over the real limit
# of one `sh -c` argument; endless sources (/dev/zero as a job file, as a
# :::: file, on stdin) with $TMPDIR on a small real tmpfs; classic Mac OS
# line endings; and --deadline values that cannot be meant.
. "$top_srcdir/tests/lib.sh"


# err_has TEXT: the last run's stderr holds TEXT (a fixed string).
err_has() {
	grep -qF -- "$1" err || { diag "stderr lacks '$1':" "$(tail -n 5 err)"; return 1; }
}

# summary_count WORD: the number before WORD ("ok", "not run") in the
# summary line, 0 if absent.
summary_count() {
	grep 'tasks/s)' err | tail -n 1 |
		sed -n "s/.*[(:,] \([0-9][0-9]*\) $1\([,]\|\$\).*/\1/p" |
		grep . || echo 0
}

# ---- 1. The job file changed while the run goes on ----

# A job of N tasks (about 1.3 MB, 20 blocks of 64 KiB): the first waits
# for ./gate, so the change is made while the run is surely under way and
# only a little of the file has been read ahead.
N=20000
make_jobs() {
	rm -f gate running ch.tsv
	{
		echo 'touch running; while [ ! -e gate ]; do sleep 0.05; done; echo first'
		awk -v n=$N 'BEGIN { for (i = 2; i <= n; i++)
			printf ": padding padding padding padding padding; echo task %d\n", i }'
	} >jobs.tasks
}

# offset_of_line L: the byte offset where line L of jobs.tasks begins.
offset_of_line() {
	head -n $(($1 - 1)) jobs.tasks | wc -c
}

# wait_running: until the first task runs (at most 120 s).
wait_running() {
	i=0
	while [ ! -e running ] && [ $i -lt 1200 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -e running ]
}

# changed_run HOW LAUNCH: runs the job in the background (LAUNCH is "tf"
# or "mpi 2"), changes jobs.tasks as HOW says once it runs, lets it go on,
# and leaves rc, out and err as tf does.
changed_run() {
	make_jobs
	touch -r jobs.tasks mtime.ref
	( $2 --slots 1 --journal ch.tsv jobs.tasks; echo "$rc" >rc.bg ) &
	bg=$!
	if ! wait_running; then
		diag "the first task never started"
		touch gate
		wait $bg
		rc=99
		return
	fi
	case $1 in
	truncate)
		truncate -s "$(offset_of_line 10000)" jobs.tasks ;;
	append)
		echo 'echo APPENDED' >>jobs.tasks ;;
	touch)
		# A new mtime and the same text: no change.
		touch jobs.tasks ;;
	overwrite)
		# Same size, and the old mtime put back: only the text of
		# the block tells.
		printf 'echo NEW ' | dd of=jobs.tasks bs=1 conv=notrunc \
			seek="$(offset_of_line 15000)" status=none
		touch -r mtime.ref jobs.tasks ;;
	esac
	touch gate
	wait $bg
	rc=$(cat rc.bg)
}

# check_changed DESC WHY: what every change must give.
check_changed() {
	check "$1: exits 4" rc_is 4
	check "$1: says the job file changed while running ($2)" \
		err_has "jobs.tasks: changed while running ($2)"
	check "$1: no counter wraps" sh -c "! grep -q 18446744 err"
	ok_n=$(summary_count ok)
	notrun_n=$(summary_count 'not run')
	diag "ok $ok_n, not run $notrun_n"
	# In awk, not the shell: a wrapped count is a number too big for
	# its arithmetic, and must fail the check, not stop the script.
	check "$1: the summary counts $N tasks, some not run" \
		awk -v a="$ok_n" -v b="$notrun_n" -v n=$N \
		'BEGIN { exit !(a >= 1 && b >= 1 && a + b == n) }'
	check "$1: the journal holds what the summary says ran" \
		sh -c "[ \"\$(tail -n +2 ch.tsv | awk -F'\t' '\$13 == \"ok\"' | wc -l)\" = '$ok_n' ]"
	check "$1: every journaled task is a validated line" \
		sh -c "! tail -n +2 ch.tsv | cut -f9 | grep -q 'NEW\|APPENDED'"
}

changed_run truncate tf
check_changed "job file truncated mid-run" "it was truncated"

changed_run append tf
check_changed "job file appended to mid-run" "it grew"
check "job file appended to mid-run: the new line did not run" \
	sh -c "! grep -q APPENDED out"

changed_run overwrite tf
check_changed "job file overwritten in place mid-run (mtime kept)" \
	"its text is not what was validated"
check "job file overwritten in place: the new text did not run" \
	sh -c "! grep -q NEW out"

changed_run touch tf
check "job file touched mid-run (same text): runs whole, exit 0" \
	sh -c "[ $rc -eq 0 ] && [ \$(grep -c '^task ' out) -eq $((N - 1)) ]"

# The same under the launcher: the master stops, the worker drains.
if have_mpiexec; then
	changed_run truncate "mpi 2"
	check_changed "under $MPIEXEC: job file truncated mid-run" "it was truncated"
fi

# A job file left alone runs whole: the checks cost it nothing.
make_jobs
touch gate
tf --slots 2 --journal ch.tsv jobs.tasks
check "an unchanged job file of $N tasks runs whole (exit 0)" \
	sh -c "[ $rc -eq 0 ] && [ \$(wc -l <out) -eq $N ]"

# ---- 2. The line limit is that of one exec argument ----

# long_line LEN: a command of exactly LEN bytes, "echo xxx...".
long_line() {
	printf 'echo '
	head -c $(($1 - 5)) /dev/zero | tr '\0' x
}
LIMIT=131058

{ echo 'echo first'; long_line $LIMIT; echo; } >limit.tasks
tf --no-journal limit.tasks
check "a line of exactly $LIMIT bytes runs (it is one sh -c argument)" \
	sh -c "[ $rc -eq 0 ] && [ \$(awk '{ print length }' out | sort -n | tail -n 1) -eq $((LIMIT - 5)) ]"

{ echo 'echo first'; long_line $LIMIT; printf '\r\n'; } >limit-crlf.tasks
tf --no-journal limit-crlf.tasks
check "... with a CRLF ending too" rc_is 0

{ echo 'touch started'; long_line $((LIMIT + 1)); echo; } >over.tasks
rm -f started
tf --no-journal over.tasks
check "a line of $((LIMIT + 1)) bytes exits 2 at FILE:LINE" \
	sh -c "[ $rc -eq 2 ] && grep -qF 'over.tasks:2: line longer than $LIMIT bytes' err"
check "... and no task started" sh -c "[ ! -e started ]"

# Two physical lines that join into one task a byte too long.
{ echo 'touch started'; long_line 70000; printf '\\\n'; head -c $((LIMIT + 1 - 70000)) /dev/zero | tr '\0' y; echo; } >cont.tasks
rm -f started
tf --no-journal cont.tasks
check "a continued task of $((LIMIT + 1)) bytes exits 2 at its first line" \
	sh -c "[ $rc -eq 2 ] && grep -qF 'cont.tasks:2: task longer than $LIMIT bytes' err && [ ! -e started ]"

# Template mode: the rendered command is what reaches the shell.
arg=$(head -c $((LIMIT - 5)) /dev/zero | tr '\0' a)
tf --no-journal -- echo {1} ::: "$arg"
check "template: a rendered command of exactly $LIMIT bytes runs" \
	sh -c "[ $rc -eq 0 ] && [ \$(awk '{ print length }' out) -eq $((LIMIT - 5)) ]"
rm -f started
tf --no-journal -- 'touch started; echo {1}' ::: x "${arg}a"
check "template: one byte more exits 2 before any task starts" \
	sh -c "[ $rc -eq 2 ] && grep -qF 'task 2: command longer than $LIMIT bytes' err && [ ! -e started ]"

if have_mpiexec; then
	rm -f started
	mpi 2 --no-journal over.tasks
	check "under $MPIEXEC: an over-long line exits 2, nothing started" \
		sh -c "[ $rc -eq 2 ] && grep -qF 'over.tasks:2: line longer' err && [ ! -e started ]"
fi

# ---- 3. Endless sources, with $TMPDIR on a 32 MiB tmpfs ----

SMALLTMP="$SCRATCH/smalltmp"
mkdir -p "$SMALLTMP"
if mount -t tmpfs -o size=32m tmpfs "$SMALLTMP" 2>/dev/null; then
	trap 'umount "$SMALLTMP" 2>/dev/null' EXIT
	have_tmpfs=1
else
	have_tmpfs=0
	diag "cannot mount a tmpfs (not root?): endless sources skipped"
fi

# tmp_used: KiB in use on the small $TMPDIR.
tmp_used() {
	df -k --output=used "$SMALLTMP" | tail -n 1 | tr -d ' '
}

if [ $have_tmpfs -eq 1 ]; then
	export TMPDIR="$SMALLTMP"
	base=$(tmp_used)

	took tf --no-journal /dev/zero
	check "/dev/zero as a job file exits 2 at its first NUL byte" \
		sh -c "[ $rc -eq 2 ] && grep -qxF 'taskfarm: error: /dev/zero:1: NUL byte in line' err"
	check "... at once (under 20 s)" under 20

	took tf --no-journal - </dev/zero
	check "/dev/zero on stdin exits 2 at -:1" \
		sh -c "[ $rc -eq 2 ] && grep -qxF 'taskfarm: error: -:1: NUL byte in line' err"
	check "... at once (under 20 s)" under 20

	took tf --no-journal -- echo :::: /dev/zero
	check "/dev/zero as a :::: file exits 2 at its first NUL byte" \
		sh -c "[ $rc -eq 2 ] && grep -qxF 'taskfarm: error: /dev/zero:1: NUL byte in line' err"
	check "... at once (under 20 s)" under 20

	# An endless line of text through a pipe stops at the line limit.
	t0=$(date +%s)
	tr '\0' a </dev/zero | { tf --no-journal -; echo "$rc" >pipe.rc; }
	secs=$(($(date +%s) - t0))
	rc=$(cat pipe.rc)
	check "an endless line on a pipe exits 2 at -:1 (line limit)" \
		sh -c "[ $rc -eq 2 ] && grep -qF -- '-:1: line longer than $LIMIT bytes' err"
	check "... at once (under 20 s)" under 20
	used=$(tmp_used)
	check "... and none of it is left in \$TMPDIR, nor filled it" \
		sh -c "[ \$(ls -A '$SMALLTMP' | wc -l) -eq 0 ] && ! grep -q 'No space' err && [ $used -le $((base + 1024)) ]"

	if have_mpiexec; then
		took mpi 2 --no-journal /dev/zero
		check "under $MPIEXEC: /dev/zero as a job file exits 2 at once" \
			sh -c "[ $rc -eq 2 ] && grep -qF '/dev/zero:1: NUL byte in line' err"
	fi
	unset TMPDIR
	umount "$SMALLTMP" && trap - EXIT
fi

# ---- 4. Carriage returns ----

printf 'touch started\recho b\recho c\r' >mac.tasks
rm -f started
tf --no-journal mac.tasks
check "a classic Mac OS file (CR endings) exits 2 at FILE:1" \
	sh -c "[ $rc -eq 2 ] && grep -qF 'mac.tasks:1: carriage return inside a line' err && [ ! -e started ]"

printf 'touch started\necho a\necho b\rc\n' >cr3.tasks
rm -f started
tf --no-journal cr3.tasks
check "a stray CR on line 3 exits 2 at FILE:3, nothing started" \
	sh -c "[ $rc -eq 2 ] && grep -qF 'cr3.tasks:3: carriage return' err && [ ! -e started ]"

printf 'echo a\r\necho b\r\n' >crlf.tasks
tf --no-journal crlf.tasks
check "CRLF endings still run, without the CR" \
	sh -c "[ $rc -eq 0 ] && ! grep -q \"\$(printf '\r')\" out && [ \"\$(sort out | tr '\n' ' ')\" = 'a b ' ]"

printf 'x\ry\n' >cr.args
tf --no-journal -- echo :::: cr.args
check "a stray CR in a :::: file exits 2 at FILE:1" \
	sh -c "[ $rc -eq 2 ] && grep -qF 'cr.args:1: carriage return' err"

# ---- 5. --deadline values that cannot be meant ----

printf 'touch started\n' >dl.tasks
yesterday=$(date -d yesterday +%Y-%m-%dT%H:%M)
for v in @nan @NaN @inf @-inf @1e309 @0x7fffffff @1000 "@$(date +%s)" \
	2024-02-31T00:00 2027-02-29T12:00 2030-04-31T00:00 "$yesterday" \
	+0 @253402300800; do
	rm -f started
	tf --no-journal --deadline "$v" dl.tasks
	check "--deadline $v is a usage error (exit 2), nothing started" \
		sh -c "[ $rc -eq 2 ] && grep -qF -- \"--deadline\" err && [ ! -e started ]"
done
tomorrow=$(date -d tomorrow +%Y-%m-%dT%H:%M)
rm -f started
tf --no-journal --deadline "$tomorrow" dl.tasks
check "--deadline $tomorrow (a real future date) runs" \
	sh -c "[ $rc -eq 0 ] && [ -e started ]"
rm -f started
tf --no-journal --deadline "@$(($(date +%s) + 3600))" dl.tasks
check "--deadline @EPOCH an hour ahead runs" sh -c "[ $rc -eq 0 ] && [ -e started ]"

finish
