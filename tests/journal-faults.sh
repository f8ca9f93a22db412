#!/bin/sh
# The journal when the disk, its companion file or the job misbehave:
# - a journal on a real small tmpfs that fills up during the run, then
#   gets room again: the journal keeps whole lines, says the error once,
#   loses nothing, and --resume takes it;
# - one that stays full: the summary counts the results not journaled,
#   the exit code is 4, the journal still holds whole lines only, and
#   --resume (with room again) runs exactly the tasks not journaled ok;
#   with and without the launcher;
# - a journal or .meta made by another user (a real second user, uid
#   65534, through setpriv) in a shared sticky directory: refused;
# - a job file whose name holds a newline: it cannot forge .meta's owner
#   line; a .meta missing or garbled beside a journal with lines: refused
#   unless --force;
# - lines appended to the job file: --resume runs just the new tasks, a
#   changed earlier line is still refused;
# - --resume with no journal says so; an Attempt counter at its limit is
#   refused before it wraps.
. "$(dirname "$0")/lib.sh"

mnt=
shared=
cleanup() {
	if [ -n "$mnt" ]; then
		umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null
	fi
	[ -n "$shared" ] && rm -rf "$shared"
	mnt=
	shared=
}
trap cleanup EXIT

# fill_leaving PAGES: fills the tmpfs at $mnt but for PAGES pages (4 KiB).
fill_leaving() {
	rm -f "$mnt/filler" "$mnt/gap"
	dd if=/dev/zero of="$mnt/gap" bs=4096 count="$1" 2>/dev/null
	dd if=/dev/zero of="$mnt/filler" bs=4096 2>/dev/null
	rm -f "$mnt/gap"
}

# whole_journal FILE: ends in a newline, and every line has 17 fields.
whole_journal() {
	[ "$(tail -c 1 "$1" | od -An -c | tr -d ' ')" = '\n' ] &&
		every_line_has_fields "$1" 17
}

# ok_ids FILE: the ids the journal records as ok, sorted, one a line.
ok_ids() {
	journal_rows "$1" | awk -F'\t' '$13 == "ok" { print $1 }' | sort -n
}

# each_ok_once FILE N: the journal has N lines, tasks 1..N each ok once.
each_ok_once() {
	[ "$(ok_ids "$1" | tr '\n' ' ')" = "$(seq 1 "$2" | tr '\n' ' ')" ] &&
		[ "$(journal_rows "$1" | wc -l)" -eq "$2" ]
}

mkdir -p small
if ! mount -t tmpfs -o size=1m tmpfs small 2>/dev/null; then
	cd /
	rm -rf "$SCRATCH"
	skip_all "cannot mount a tmpfs (not root?)"
fi
mnt=$SCRATCH/small

# ---- A disk that fills up, then has room again ----
# Tasks 1-100 are quick; from 101 on each waits (up to 60 s) until the
# filler is gone, which the watcher does once the run has said it cannot
# write the journal. So the journal is full while tasks finish, and has
# room again before the run ends, however slow the machine.
: >transient.tasks
i=1
while [ $i -le 100 ]; do echo "echo t$i" >>transient.tasks; i=$((i + 1)); done
while [ $i -le 200 ]; do
	echo "n=0; while [ -e $mnt/filler ] && [ \$n -lt 600 ]; do sleep 0.1; n=\$((n + 1)); done; echo t$i" >>transient.tasks
	i=$((i + 1))
done

# Room for .meta and the journal's first page: some 40 lines fit.
fill_leaving 2
(
	n=0
	while [ $n -lt 1200 ] && ! grep -q 'cannot write journal' err 2>/dev/null; do
		sleep 0.05
		n=$((n + 1))
	done
	sleep 0.3
	rm -f "$mnt/filler"
) &
watcher=$!
: >err
tf --slots 2 --journal-sync 0.05 --journal "$mnt/j.tsv" transient.tasks
wait $watcher
check "disk full for a while: the run ends well (exit 0)" rc_is 0
check "... the journal did fill up (the error was said)" \
	grep -q "cannot write journal $mnt/j.tsv: .*No space left" err
check "... once, not on every turn of the loop" \
	sh -c "[ \$(grep -c 'cannot write journal' err) -eq 1 ]"
check "... and it says when the journal is written again" \
	grep -q 'written again: no line lost' err
check "... every task's output came out" \
	sh -c "[ \$(grep -c '^t[0-9]*\$' out) -eq 200 ]"
check "... the journal holds whole lines only (17 fields each)" \
	whole_journal "$mnt/j.tsv"
check "... each task once, ok: no line lost or doubled" \
	each_ok_once "$mnt/j.tsv" 200
tf --resume --journal "$mnt/j.tsv" transient.tasks
check "... --resume takes the journal and runs nothing" \
	sh -c "[ $rc -eq 0 ] && grep -q ', 200 skipped (done before)' err && [ ! -s out ]"
rm -f "$mnt/j.tsv" "$mnt/j.tsv.meta"

# ---- A disk that stays full ----
# full_run LABEL RUN...: 100 quick tasks with the journal on a disk that
# fills and stays full; then room again, and --resume.
seq 1 100 | sed 's/^/echo f/' >full.tasks
full_run() {
	label=$1
	shift
	fill_leaving 2
	"$@" --journal-sync 0.05 --journal "$mnt/j.tsv" full.tasks
	ok_before=$(ok_ids "$mnt/j.tsv" | wc -l)
	lost=$((100 - ok_before))
	diag "$label: $ok_before results journaled, $lost not"
	check "$label: a full disk: exit 4" rc_is 4
	check "$label: ... some results could not be journaled" \
		sh -c "[ $ok_before -gt 0 ] && [ $lost -gt 0 ]"
	check "$label: ... the summary counts them" \
		grep -q ", $lost results not journaled" err
	check "$label: ... the error is said once" \
		sh -c "[ \$(grep -c 'cannot write journal' err) -eq 1 ]"
	check "$label: ... the journal still holds whole lines only" \
		whole_journal "$mnt/j.tsv"
	rm -f "$mnt/filler"
	tf --resume --journal "$mnt/j.tsv" full.tasks
	check "$label: with room, --resume takes the journal" rc_is 0
	check "$label: ... and runs exactly the tasks not journaled ok" \
		sh -c "[ \$(wc -l <out) -eq $lost ] &&
			grep -q ', $ok_before skipped (done before)' err"
	check "$label: ... after which every task is journaled ok, once" \
		each_ok_once "$mnt/j.tsv" 100
	check "$label: ... in whole lines" whole_journal "$mnt/j.tsv"
	rm -f "$mnt/j.tsv" "$mnt/j.tsv.meta"
}
full_run "no launcher" tf --slots 2
if have_mpiexec; then
	full_run "mpirun -n 3" mpi 3 --slots 2
else
	diag "no $MPIEXEC: the launcher case is skipped"
fi

cleanup

# ---- Files of another user in a shared directory ----
shared=$(mktemp -d /tmp/tfshared-XXXXXX)
chmod 1777 "$shared"
nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}
printf 'echo a\necho b\n' >two.tasks
tf --journal "$shared/own.tsv" two.tasks
# The other user plants a journal saying both tasks are done, and a
# .meta with the right fingerprint, so that nothing else would stop it.
sed 's/^owner .*/owner elsewhere 1 2020-01-01T00:00:00/' "$shared/own.tsv.meta" >planted.meta
nobody sh -c "cat >'$shared/j.tsv'" <"$shared/own.tsv"
nobody sh -c "cat >'$shared/j.tsv.meta'" <planted.meta
if [ "$(stat -c %u "$shared/j.tsv" 2>/dev/null)" != 65534 ]; then
	not_ok "setpriv could not create files as uid 65534"
else
	before=$(cksum <"$shared/j.tsv")
	tf --resume --journal "$shared/j.tsv" two.tasks
	check "another user's journal: --resume refuses it (exit 2)" rc_is 2
	check "... saying whose it is" \
		grep -q "journal $shared/j.tsv belongs to another user (uid 65534" err
	check "... running nothing, writing nothing" \
		sh -c "[ ! -s out ] && [ \"\$(cksum <$shared/j.tsv)\" = '$before' ]"
	tf --journal "$shared/j.tsv" two.tasks
	check "... a fresh run refuses it too" \
		sh -c "[ $rc -eq 2 ] && [ ! -s out ] && [ ! -e $shared/j.tsv.prev ]"
	# Only the .meta is theirs (it holds the lock and the fingerprint).
	cp "$shared/own.tsv" "$shared/m.tsv"
	nobody sh -c "cat >'$shared/m.tsv.meta'" <planted.meta
	tf --resume --journal "$shared/m.tsv" two.tasks
	check "another user's .meta: refused (exit 2), naming it" \
		sh -c "[ $rc -eq 2 ] && grep -q '$shared/m.tsv.meta belongs to another user' err && [ ! -s out ]"
fi
cleanup

# ---- .meta: a name with a newline; missing; garbled ----
name='forge
owner evil 1 2020-01-01T00:00:00.tasks'
printf 'echo a\necho b\n' >"$name"
tf --journal nl.tsv "$name"
check "a job file named with a newline runs" rc_is 0
check "... and cannot forge .meta's owner line" \
	sh -c "[ \$(grep -c '^owner ' nl.tsv.meta) -eq 1 ] && ! grep -q '^owner evil' nl.tsv.meta"
tf --resume --journal nl.tsv "$name"
check "... --resume reads that .meta back" \
	sh -c "[ $rc -eq 0 ] && grep -q ', 2 skipped (done before)' err"

printf 'echo a\necho b\necho c\n' >m.tasks
tf --journal mj.tsv m.tasks
rm mj.tsv.meta
tf --resume --journal mj.tsv m.tasks
check ".meta missing beside a journal with lines: --resume refuses (exit 2)" \
	sh -c "[ $rc -eq 2 ] && grep -q 'mj.tsv.meta is missing' err && grep -q -- '--force' err && [ ! -s out ]"
tf --resume --force --journal mj.tsv m.tasks
check "... --force resumes it" \
	sh -c "[ $rc -eq 0 ] && grep -q ', 3 skipped' err"
printf 'taskfarm-journal-meta 1\nfingerprint 0123456789abcdef\nsource x\nowner h 1 t\nrubbish\n' >mj.tsv.meta
tf --resume --journal mj.tsv m.tasks
check "a garbled .meta: --resume refuses (exit 2), naming FILE:LINE" \
	sh -c "[ $rc -eq 2 ] && grep -q 'mj.tsv.meta:5: a line this version does not write' err && [ ! -s out ]"

# ---- Lines appended to the job file ----
printf 'echo a1\necho a2\necho a3\n' >grow.tasks
tf --journal g.tsv grow.tasks
printf 'echo a4\necho a5\n' >>grow.tasks
tf --resume --journal g.tsv grow.tasks
check "lines appended to the job: --resume takes it and runs just them" \
	sh -c "[ $rc -eq 0 ] && [ \"\$(sort out | tr '\n' ' ')\" = 'a4 a5 ' ] && grep -q ', 3 skipped' err"
tf --resume --journal g.tsv grow.tasks
check "... a second --resume runs nothing" \
	sh -c "[ $rc -eq 0 ] && [ ! -s out ] && grep -q ', 5 skipped' err"
printf 'echo a6\n' >>grow.tasks
sed -i 's/^echo a2$/echo changed/' grow.tasks
tf --resume --journal g.tsv grow.tasks
check "... but with an earlier line changed too, refused (exit 2)" \
	sh -c "[ $rc -eq 2 ] && grep -q 'belongs to a different job' err && [ ! -s out ]"

# A job file that is a FIFO is not opened a second time to look for
# appended lines (that would block). Read whole first (--no-stream), it
# is a changed job, refused; streamed (the default), what arrives is
# checked against the journal's job as it comes: one that grew resumes,
# one whose first task changed is refused (tests/stream.sh has more).
mkfifo pipe.tasks
printf 'echo p1\n' >pipe.tasks &
tf --journal p.tsv pipe.tasks
wait
printf 'echo p1\necho p2\n' >pipe.tasks &
writer=$!
tf --resume --no-stream --journal p.tsv pipe.tasks
kill $writer 2>/dev/null
wait
check "a FIFO job file that grew, --no-stream: refused as a different job, not hung" \
	sh -c "[ $rc -eq 2 ] && grep -q 'belongs to a different job' err"
printf 'echo p1\necho p2\n' >pipe.tasks &
writer=$!
tf --resume --journal p.tsv pipe.tasks
kill $writer 2>/dev/null
wait
check "a FIFO job file that grew, streamed: resumed, only the new task runs" \
	sh -c "[ $rc -eq 0 ] && [ \"\$(cat out)\" = p2 ]"
printf 'echo P1\necho p2\n' >pipe.tasks &
writer=$!
tf --resume --journal p.tsv pipe.tasks
kill $writer 2>/dev/null
wait
check "a FIFO job file that changed, streamed: refused (exit 2), not hung" \
	sh -c "[ $rc -eq 2 ] && grep -q 'cannot resume' err"

# ---- --resume with no journal ----
tf --resume --journal typo.tsv m.tasks
check "--resume with no journal: says so, and runs everything" \
	sh -c "[ $rc -eq 0 ] && grep -q 'journal typo.tsv did not exist' err && [ \$(wc -l <out) -eq 3 ]"

# ---- The Attempt counter at its limit ----
printf 'exit 1\n' >fail.tasks
tf --journal a.tsv fail.tasks
awk -F'\t' 'BEGIN { OFS = "\t" } NR > 1 { $10 = "4294967295" } { print }' a.tsv >a.new
mv a.new a.tsv
before=$(cksum <a.tsv)
tf --resume-failed --journal a.tsv fail.tasks
check "an Attempt counter at its limit: refused before it wraps (exit 2)" \
	sh -c "[ $rc -eq 2 ] && grep -q 'a.tsv:2: Attempt 4294967295' err"
check "... the journal is left as it was" \
	sh -c "[ \"\$(cksum <a.tsv)\" = '$before' ]"

# ---- Memory of --resume over a journal of a million lines ----
# The history is held as compact per-task state: at most 32 MiB (a
# table of full entries took 55-77 MB).
if /usr/bin/time -f %M -o /dev/null true 2>/dev/null; then
	yes true | head -n 1000000 >big.tasks
	awk 'BEGIN {
		print "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\tAttempt\tRank\tSlot\tStatus\tMaxRSS\tUserCPU\tSysCPU\tJobId"
		for (i = 1; i <= 1000000; i++)
			printf "%d\tnode1\t1700000000.000\t0.001\t0\t0\t0\t0\ttrue\t1\t0\t0\tok\t1600\t0.000\t0.000\t-\n", i
	}' >big.tsv
	# No .meta: --force takes the journal as it is.
	/usr/bin/time -f %M -o big.rss timeout -k 10 300 "$TF" --slots 1 \
		--resume --force --journal big.tsv big.tasks >out 2>err
	rc=$?
	diag "--resume over 1,000,000 lines: max RSS $(cat big.rss) KiB"
	check "--resume over a 1,000,000-line journal skips every task" \
		sh -c "[ $rc -eq 0 ] && grep -q ', 1000000 skipped (done before)' err"
	# A sanitizer's shadow memory and quarantine say nothing of ours.
	case "${TF_CFLAGS-}" in
	*-fsanitize=*)
		ok "... in at most 32 MiB # SKIP a sanitizer build" ;;
	*)
		check "... in at most 32 MiB" \
			[ "$(tail -n 1 big.rss)" -le 32768 ] ;;
	esac
	rm -f big.tasks big.tsv big.tsv.prev big.tsv.meta
else
	ok "--resume over a 1,000,000-line journal # SKIP no GNU time"
fi

trap - EXIT
finish
