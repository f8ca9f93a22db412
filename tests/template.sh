#!/bin/sh
# Template mode: the cartesian product of argument lists, replacement
# strings, argument files, and arguments that are data, never code.
. "$top_srcdir/tests/lib.sh"

tf --no-journal -- echo {1}-{2} ::: a b ::: x y z
check "the product of two sources runs 6 tasks" \
	sh -c "[ $rc -eq 0 ] && [ \"\$(sort out | tr '\n' ' ')\" = 'a-x a-y a-z b-x b-y b-z ' ]"

tf --dry-run -- echo {1}-{2} ::: a b ::: x y
check "the first source varies slowest, as in GNU parallel" \
	sh -c "[ \"\$(tr '\n' ' ' <out)\" = 'echo a-x echo a-y echo b-x echo b-y ' ]"

tf --dry-run -- echo {#}:{} ::: p q
check "{#} is the task id and {} all arguments" \
	sh -c "[ \"\$(tr '\n' ' ' <out)\" = 'echo 1:p echo 2:q ' ]"

tf --no-journal -- echo ::: one two
check "with no replacement string the arguments are appended" \
	sh -c "[ \"\$(sort out | tr '\n' ' ')\" = 'one two ' ]"

tf --no-journal --slots 2 -- 'echo slot={%}' ::: 1 2 3 4
check "{%} is the slot, from 1 to --slots" \
	sh -c "[ $rc -eq 0 ] && [ \$(grep -c '^slot=[12]\$' out) -eq 4 ]"

tf --journal t.tsv -- sh -c "'echo \"\$TASKFARM_TASK_ID of \$TASKFARM_NTASKS\"'" {} ::: a b c
check "template tasks are numbered 1..N with NTASKS known" \
	sh -c "[ \"\$(sort out | tr '\n' ' ')\" = '1 of 3 2 of 3 3 of 3 ' ]"
check "template tasks are journaled once each" ids_once t.tsv "1 2 3"

# Hostile arguments are passed as data: nothing is executed, and the
# argument comes out exactly as given. (The command words themselves are
# joined unquoted, as GNU parallel does, so the format is quoted here.)
tf --no-journal -- "printf '%s\n'" ::: '$(touch pwned1); x' '`touch pwned2`' "it's; touch pwned3" 'a  b	c'
check "arguments with shell syntax are not executed" \
	sh -c "[ $rc -eq 0 ] && [ ! -e pwned1 ] && [ ! -e pwned2 ] && [ ! -e pwned3 ]"
check "arguments come through literally" \
	sh -c "grep -qxF '\$(touch pwned1); x' out && grep -qxF '\`touch pwned2\`' out && grep -qxF \"it's; touch pwned3\" out"
check "whitespace inside an argument is kept" grep -qxF 'a  b	c' out

printf 'alpha\n\nbeta gamma\r\n' >args.txt
tf --no-journal -- "printf '[%s]\n'" :::: args.txt
check ":::: FILE takes one argument per line, empty lines included" \
	sh -c "[ $rc -eq 0 ] && grep -qx '\[alpha\]' out && grep -qx '\[\]' out && grep -qx '\[beta gamma\]' out && [ \$(wc -l <out) -eq 3 ]"

printf 'ok\nbad\000arg\n' >nul.txt
tf -- echo :::: nul.txt
check "a NUL byte in an argument file exits 2 at file:line" \
	sh -c "[ $rc -eq 2 ] && grep -q 'nul.txt:2: NUL byte' err"

# A combination that renders longer than the 131058-byte limit (one sh -c
# argument) is found before any task starts, even when it is the last one.
{ echo short; head -c 70000 /dev/zero | tr '\0' y; echo; } >big.args
tf -- 'touch started; echo {1} {1}' :::: big.args
check "an over-long rendered command exits 2 before any task starts" \
	sh -c "[ $rc -eq 2 ] && grep -q 'task 2: command longer than' err && [ ! -e started ]"

# GNU parallel's replacement strings, linking, -a and --colsep in real
# runs (tests/parallel-template.sh compares them with parallel itself).
mkdir -p sub.dir
tf --no-journal -- touch {.}.png ::: a.jpg sub.dir/b.jpg
check "{.} is the argument without its extension (convert {} {.}.png)" \
	sh -c "[ $rc -eq 0 ] && [ -e a.png ] && [ -e sub.dir/b.png ] && [ ! -e '{.}.png' ]"
tf --no-journal -- touch {//}/{/.}.txt ::: sub.dir/b.jpg
check "{//} and {/.}: the directory and the base name without extension" \
	sh -c "[ $rc -eq 0 ] && [ -e sub.dir/b.txt ]"

tf --journal link.tsv -- echo {1}{2} ::: a b c :::+ 1 2
check ":::+ links two sources; the shorter sets the count" \
	sh -c "[ $rc -eq 0 ] && [ \"\$(sort out | tr '\n' ' ')\" = 'a1 b2 ' ]"
check "linked tasks are numbered 1..N" ids_once link.tsv "1 2"

tf -- echo {..} ::: a
check "an unknown replacement string is a usage error naming it" \
	sh -c "[ $rc -eq 2 ] && grep -qF 'unknown replacement string {..}' err && [ ! -s out ]"
tf --no-journal -- echo '{1..3}' ::: a
check "brace expansion is not a replacement string" \
	sh -c "[ $rc -eq 0 ] && grep -qxF '{1..3} a' out"

printf 'x.c,1\ny.c,2\n' >pairs.csv
tf --no-journal -a pairs.csv --colsep , echo {1.}={2}
check "-a FILE --colsep: columns as {1} {2}, the command after the options" \
	sh -c "[ $rc -eq 0 ] && [ \"\$(sort out | tr '\n' ' ')\" = 'x=1 y=2 ' ]"
tf --no-journal -a pairs.csv printf "'%s|%s\n'" -n
check "after -a, the command's own options are not taskfarm's (-n)" \
	sh -c "[ $rc -eq 0 ] && [ \"\$(sort out | tr '\n' ' ')\" = '-n|x.c,1 -n|y.c,2 ' ]"
tf --no-journal --arg-file pairs.csv -- printf "'%s|%s\n'" -n
check "--arg-file with --" \
	sh -c "[ $rc -eq 0 ] && [ \"\$(sort out | tr '\n' ' ')\" = '-n|x.c,1 -n|y.c,2 ' ]"
tf -a no-such-file echo
check "a missing -a file exits 2 naming it" \
	sh -c "[ $rc -eq 2 ] && grep -q no-such-file err"
tf -a pairs.csv
check "-a without a command exits 2" \
	sh -c "[ $rc -eq 2 ] && grep -q 'needs a command' err"
tf --colsep , "$JOBS/hello.tasks"
check "--colsep with a job file exits 2" \
	sh -c "[ $rc -eq 2 ] && grep -q 'colsep' err"

tf --no-journal -- ./examples/mcpi --seed {1} --samples {2} ::: 1 2 ::: 1000 2000
check "a template runs the example simulation" \
	sh -c "[ $rc -eq 0 ] && [ \$(grep -c '^seed=' out) -eq 4 ] && grep -q 'seed=2 samples=2000' out"

finish
