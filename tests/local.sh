#!/bin/sh
# Runs with no launcher (the master runs every task on local slots): the
# example jobs, the journal, the environment, exit codes, and job-file
# syntax end to end.
. "$top_srcdir/tests/lib.sh"

tf "$JOBS/mcpi.tasks"
check "mcpi: exits 0" rc_is 0
check "mcpi: one output line per task" sh -c "[ \$(grep -c '^seed=' out) -eq 40 ]"
check "mcpi: every seed from 1 to 40 printed once" \
	sh -c "[ \"\$(sed 's/seed=\([0-9]*\).*/\1/' out | sort -n | tr '\n' ' ')\" = \"\$(seq 1 40 | tr '\n' ' ')\" ]"
check "mcpi: the default journal is named after the job file" test -f mcpi.journal.tsv
check "mcpi: the journal's header has GNU parallel's nine columns first" \
	sh -c "head -n 1 mcpi.journal.tsv | cut -f1-9 | grep -qx 'Seq	Host	Starttime	JobRuntime	Send	Receive	Exitval	Signal	Command'"
check "mcpi: every journal line has 17 fields" every_line_has_fields mcpi.journal.tsv 17
check "mcpi: the journal has each task once, by line number" \
	ids_once mcpi.journal.tsv "$(task_ids "$JOBS/mcpi.tasks")"
check "mcpi: every attempt is ok with exit 0" \
	sh -c "journal_rows() { tail -n +2 \"\$1\"; }; [ -z \"\$(journal_rows mcpi.journal.tsv | awk -F'\t' '\$7 != 0 || \$13 != \"ok\"')\" ]"
check "mcpi: the summary names the journal" grep -q "journal: mcpi.journal.tsv" err
check "mcpi: the summary counts 40 ok" grep -q "40 tasks in .* 40 ok, 0 failed" err
check "mcpi: with one rank, the master ran the tasks (rank 0)" \
	sh -c "[ \"\$(tail -n +2 mcpi.journal.tsv | cut -f11 | sort -u)\" = 0 ]"

# A second run keeps the previous journal aside rather than losing it.
tf "$JOBS/mcpi.tasks"
check "a second run moves the old journal to .prev" \
	sh -c "[ $rc -eq 0 ] && [ \$(tail -n +2 mcpi.journal.tsv.prev | wc -l) -eq 40 ] && [ \$(tail -n +2 mcpi.journal.tsv | wc -l) -eq 40 ]"

tf --journal mixed.tsv "$JOBS/mixed.tasks"
check "mixed: a failed task makes the exit code 1" rc_is 1
check "mixed: every task is journaled once" \
	ids_once mixed.tsv "$(task_ids "$JOBS/mixed.tasks")"
# fields ID COLUMNS EXPECTED: the journal row of task ID, cut to COLUMNS,
# equals EXPECTED (fields separated by single spaces).
fields() {
	[ "$(awk -F'\t' -v id="$1" '$1 == id' mixed.tsv | cut -f"$2" | tr '\t' ' ')" = "$3" ]
}
check "mixed: exit 3 is journaled as failed with Exitval 3" fields 4 7,13 "3 failed"
check "mixed: death by TERM is Exitval 143, Signal 15" fields 5 7,8,13 "143 15 signal"
check "mixed: a command not found is Exitval 127" fields 6 7,13 "127 failed"
check "mixed: a success is ok" fields 3 7,8,13 "0 0 ok"
check "mixed: the task's stderr reaches stderr" grep -q "^to stderr" err
check "mixed: the summary counts the failures" grep -q "2 ok, 4 failed" err
check "mixed: tasks after a failure still ran" grep -q "fine too" out

# The environment: ids are line numbers, NTASKS is known, slots are 1..N.
tf --slots 3 --journal env.tsv "$JOBS/hello.tasks"
check "hello: TASKFARM_TASK_ID is the line number, NTASKS the count" \
	sh -c "grep -q '^task id 2 (one of 4): rank 0' out && grep -q '^task id 5 (one of 4): rank 0' out"
check "hello: TASKFARM_SLOT is within 1..slots" \
	sh -c "! grep -v 'slot [123] on' out"
check "hello: TASKFARM_HOST is this host" grep -q "on $(hostname) (attempt 1)" out

# Job-file syntax end to end: comments, blank lines, CRLF, continuations,
# a last line without a newline, standard input.
printf '# comment\r\n\r\n  # indented comment\r\necho one\r\necho two \\\r\n  three\r\necho "a\\\\"\r\necho last' >syntax.tasks
tf --journal syntax.tsv syntax.tasks
check "syntax: exits 0" rc_is 0
check "syntax: CRLF lines run without the CR" grep -qx "one" out
check "syntax: a continuation joins lines" grep -qx "two three" out
check "syntax: an even number of backslashes does not continue" grep -qx 'a\\' out
check "syntax: the last line without a newline is a task" grep -qx "last" out
check "syntax: ids are the lines where tasks start" ids_once syntax.tsv "4 5 7 8"

printf 'echo from stdin\n' | timeout 60 "$TF" --journal stdin.tsv - >out 2>err
rc=$?
check "stdin: '-' reads tasks from standard input" \
	sh -c "[ $rc -eq 0 ] && grep -qx 'from stdin' out"

# Concurrency: with 2 slots, two 1-second tasks overlap.
printf 'sleep 1\nsleep 1\n' >two.tasks
start=$(date +%s.%N)
tf --slots 2 --no-journal two.tasks
end=$(date +%s.%N)
check "two slots run two tasks at once" \
	sh -c "[ $rc -eq 0 ] && awk -v s=$start -v e=$end 'BEGIN { exit !(e - s < 1.9) }'"
check "--no-journal writes no journal" test ! -e two.journal.tsv

# An empty job file is a run of no tasks, not an error.
: >empty.tasks
tf --no-journal empty.tasks
check "an empty job file exits 0" rc_is 0

# Status lines for batch logs.
printf 'sleep 2.5\n' >slow.tasks
tf --no-journal --status-interval 1 slow.tasks
check "a status line appears every --status-interval when not on a TTY" \
	sh -c "[ \$(grep -c 'status: 0/1 done' err) -ge 1 ]"

# The live progress line (forced, since stderr is a file here): redrawn in
# place with a carriage return, and cleared before the summary.
printf 'sleep 0.6\nsleep 0.6\n' >prog.tasks
tf --progress --slots 1 --no-journal prog.tasks
check "--progress draws a live line with percentage, bar and done/total" \
	sh -c "grep -q \"\$(printf '\r\033\\[K')taskfarm:  50% \\[[#.]*\\] 1/2 done\" err"
check "--progress clears its line before the summary" \
	sh -c "grep -q \"\$(printf '\r\033\\[K')taskfarm: 2 tasks in\" err"

finish
