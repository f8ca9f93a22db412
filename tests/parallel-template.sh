#!/bin/sh
# Template mode against GNU parallel itself: for the same command and
# inputs, `taskfarm --dry-run` and `parallel --dry-run` must print
# commands that do the same when /bin/sh runs them. The effect is
# compared, not the text, because the two quote a ' differently ('\''
# and '"'"'). Covers every replacement string, :::+ and ::::+, -a and
# --colsep (issue 12; parallel 20221122 is what Debian 12 ships).
. "$top_srcdir/tests/lib.sh"

command -v parallel >/dev/null 2>&1 ||
	skip_all "GNU parallel is not installed (Debian: apt-get install parallel)"
parallel --version 2>/dev/null | grep -q 'GNU parallel' ||
	skip_all "'parallel' is not GNU parallel (moreutils has one too)"

# parallel's state goes to the scratch directory, and it runs commands
# with the shell taskfarm uses rather than with its parent shell.
PARALLEL_HOME=$SCRATCH/.parallel
PARALLEL_SHELL=/bin/sh
export PARALLEL_HOME PARALLEL_SHELL

# same_as_parallel DESC ARGS...: both tools' dry runs of ARGS, each run
# through sh, print the same (and something). One slot, so parallel's
# {%} is 1 and taskfarm's ${TASKFARM_SLOT} is set to 1.
same_as_parallel() {
	desc=$1
	shift
	timeout 60 parallel --will-cite --dry-run -k -j1 "$@" >p.cmds 2>p.err
	prc=$?
	timeout 60 "$TF" --dry-run "$@" >t.cmds 2>t.err
	trc=$?
	TASKFARM_SLOT=1 sh p.cmds >p.out 2>&1
	TASKFARM_SLOT=1 sh t.cmds >t.out 2>&1
	if [ "$prc" -eq 0 ] && [ "$trc" -eq 0 ] && [ -s p.out ] &&
		[ "$(wc -l <p.cmds)" -eq "$(wc -l <t.cmds)" ] &&
		cmp -s p.out t.out; then
		ok "$desc"
	else
		not_ok "$desc"
		diag "parallel (rc $prc):" "$(head -n 20 p.cmds p.err)" \
			"taskfarm (rc $trc):" "$(head -n 20 t.cmds t.err)" \
			"outputs:" "$(diff p.out t.out | head -n 20)"
	fi
}

P="printf '[%s]\\n'"

same_as_parallel "{.} {/} {//} {/.} on awkward names" \
	"$P" {.} {/} {//} {/.} ::: a.b/c .bashrc dir/.bashrc foo. a..b \
	file.tar.gz /abs/path/x.y noslash dir/ / '' 'a b/c d.e' "it's.x" \
	./x ../x.y a.b.c/ a//b a/b// //x '$(touch pwned)'
check "no argument was run as code" test ! -e pwned

same_as_parallel "{N} {N.} {N/} {N//} {N/.} {-N} {#} {%} on two sources" \
	"$P" {} / {1} {2} / {1.} {2/} {2//} {2/.} / {-1} {-2//} / {#} {%} \
	::: x.y/a.b 'd i r/f.e' ::: p/q.r s.t
same_as_parallel "{.} and {} apply to every source, joined by spaces" \
	"$P" {.} {/} {} ::: d/a.x ::: e/b.y
same_as_parallel "blanks after N: {1 .} {1  /}" \
	"$P" '{1 .}' '{1  /}' ::: d/f.e
same_as_parallel "{#} alone: nothing appended" echo {#} ::: a b
same_as_parallel "no replacement string: the arguments are appended" \
	"$P" ::: 'a b' c ::: 'x y'
same_as_parallel "braces parallel keeps literal stay literal" \
	"$P" '{1..3}' '{a,b}' "'{print \$1}'" '${HOME}' '{=}' '{1x}' '{ 1}' \
	::: a.b/c.d ::: x
same_as_parallel "a replacement string inside a word" \
	"$P" 'x{}y' 'pre-{1/.}-post' ::: 'a b/c.d'

same_as_parallel ":::+ links to the source before, the shortest wins" \
	"$P" ::: a b c :::+ 1 2
same_as_parallel ":::+ longer than the source before" \
	"$P" ::: a b :::+ 1 2 3
same_as_parallel ":::+ after a product" "$P" ::: a b ::: x y :::+ 1 2
same_as_parallel ":::+ before a product" "$P" ::: a b :::+ 1 2 ::: x y
same_as_parallel "a leading :::+ is :::" "$P" :::+ a b ::: 1 2
same_as_parallel ":::+ chains" "$P" ::: a b c :::+ 1 2 :::+ X Y Z W
same_as_parallel "{N} on linked sources" "$P" {2}-{1} ::: a b :::+ 1 2

printf 'f1\nf2\nf3\n' >F3
printf 'g1\n' >G1
printf 'g1\ng2\n' >G2
printf 'h1\nh2\nh3\nh4\n' >H4
printf 'a\nb\n' >A
printf '1\n2\n' >N
same_as_parallel "::::+ links a file" "$P" ::: a b c ::::+ F3
same_as_parallel "::::+ after ::::" "$P" :::: F3 ::::+ G1
same_as_parallel "every file after ::::+ is linked" "$P" ::: a b c d ::::+ H4 G2

same_as_parallel "-a A -a N: a product of the files" -a A -a N "$P"
same_as_parallel "-a A, then ::: after the command" -a A "$P" ::: x y
same_as_parallel "--arg-file A with {1}-{2} and ::::" \
	--arg-file A "$P" {1}-{2} :::: N
same_as_parallel ":::+ does not link to an -a file" -a F3 "$P" :::+ x y

printf 'a.x\tb/c.d\tz\nq\tr\n' >T
printf 'a,,b\n' >C
same_as_parallel "--colsep '\\t': columns, edits, a missing column" \
	--colsep '\t' "$P" {} / {1} {2} {3} / {2.} {2/} {2//} {2/.} {#} :::: T
same_as_parallel "--colsep: all columns appended" --colsep '\t' "$P" :::: T
same_as_parallel "--colsep: numbering runs on across sources" \
	--colsep , "$P" {1} {2} {3} {4} {-1} :::: C ::: u,v
same_as_parallel "--colsep ',+'" --colsep ',+' "$P" {1} {2} {3} {4} :::: C ::: u,v
same_as_parallel "--colsep: separators at both ends" \
	--colsep ' +' "$P" {1} {2} {3} {4} ::: ' a  b ' 'c d'
same_as_parallel "--colsep '\\s+'" --colsep '\s+' "$P" {1} {2} {3} ::: 'a b	c'
same_as_parallel "--colsep matching nothing" --colsep 'x*' "$P" {1} {2} {3} ::: axxb ab
same_as_parallel "--colsep with -a" --colsep '\t' -a T "$P" {2}

# What parallel would take as its own (--plus, Perl) and taskfarm does
# not know is refused by name, before anything runs.
for s in '{..}' '{+/}' '{1//.}' '{##}'; do
	tf --dry-run "$P" "$s" ::: a
	check "$s is a usage error naming it" \
		sh -c "[ $rc -eq 2 ] && grep -qF 'unknown replacement string $s' err && [ ! -s out ]"
done
tf --dry-run "$P" '{= $_=uc($_) =}' ::: a
check "a Perl expression is a usage error" \
	sh -c "[ $rc -eq 2 ] && grep -q 'Perl expressions are not supported' err"

finish
