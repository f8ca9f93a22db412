#!/bin/sh
# The progress line and status lines: on a terminal (tmux, at 40 and 120
# columns, and shrunk from 120 to 40 while it runs) the line shows a
# percentage and a bar and never reaches the terminal's width; --bar
# draws it off a terminal too; status lines in a batch log carry an ISO
# 8601 local timestamp.
. "$top_srcdir/tests/lib.sh"

# Status lines: stderr is a file here.
tf --no-journal --status-interval 0.2 -s 2 -- 'sleep 0.3; : {}' ::: 1 2 3 4 5 6
check "status: the run exits 0" rc_is 0
check "status: lines carry an ISO 8601 local timestamp" \
	grep -Eq '^taskfarm: [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{2}:[0-9]{2} status: [0-9]+/6 done' err
check "status: no live line off a terminal" sh -c "! grep -q '\[#*\.*\]' err"

# --bar: the line off a terminal, as wide as COLUMNS allows.
COLUMNS=50 tf --no-journal --bar -s 2 -- 'sleep 0.3; : {}' ::: 1 2 3 4 5 6
check "--bar: the run exits 0" rc_is 0
tr '\r' '\n' <err | sed 's/\x1b\[[0-9]*[AJK]//g' |
	grep -E '^(taskfarm: )? *[0-9]+%' >bar.lines
check "--bar: draws a percentage and a bar off a terminal" \
	grep -Eq '^ *[0-9]+% \[[#.]+\]' bar.lines
check "--bar: no line reaches COLUMNS=50" \
	awk 'length($0) >= 50 { bad = 1 } END { exit bad }' bar.lines

if ! command -v tmux >/dev/null 2>&1; then
	diag "tmux is not installed (apt-get install tmux): terminal checks skipped"
	finish
	exit $?
fi

# One tmux server per pane, so that one's ending never races the next.
socks=
trap 'for s in $socks; do tmux -L "$s" kill-server 2>/dev/null; done' EXIT

# on_terminal WIDTH [SHRINK_TO]: runs 24 tasks of 0.25 s on 2 slots in a
# detached tmux pane WIDTH columns wide (resized to SHRINK_TO once the
# line is up; a few lines first, so that the line is not on the top row,
# whose rewrapped rows tmux would scroll out of sight), and appends every capture of the pane (wrapped rows
# joined, so a line that wrapped shows whole) to screen.WIDTH.
on_terminal() {
	w=$1
	to=${2:-}
	log=screen.$w${to:+-$to}
	sock=tf-progress-$$-$log
	socks="$socks $sock"
	: >"$log"
	tmux -L "$sock" new-session -d -x "$w" -y 15 \
		"echo a; echo b; echo c; '$TF' --no-journal -s 2 -- 'sleep 0.25; : {}' ::: \$(seq 24) >/dev/null; echo TF-DONE; sleep 60"
	i=0
	while [ $i -lt 600 ]; do
		tmux -L "$sock" capture-pane -p -J >cap 2>/dev/null || break
		cat cap >>"$log"
		grep -q TF-DONE cap && break
		if [ -n "$to" ] && grep -q '%' cap; then
			tmux -L "$sock" resize-window -x "$to"
			to=
			echo "--- resized" >>"$log"
		fi
		sleep 0.1
		i=$((i + 1))
	done
	tmux -L "$sock" kill-server 2>/dev/null
}

# narrower LOG WIDTH: no progress line of LOG reaches WIDTH columns (the
# summary after it is plain text, which may wrap).
narrower() {
	awk -v w="$2" '/^(taskfarm: )? *[0-9]+% / && length($0) >= w { print "too wide: " $0; bad = 1 } END { exit bad }' "$1" >&2
}

on_terminal 120
check "tmux 120: the run ends" grep -q TF-DONE screen.120
check "tmux 120: percentage, bar and done/total" \
	grep -Eq '^taskfarm: +[0-9]+% \[[#.]{20,}\] [0-9]+/24 done, 0 failed' screen.120
check "tmux 120: never 120 columns wide" narrower screen.120 120
check "tmux 120: the summary line is clean" \
	grep -q '^taskfarm: 24 tasks in .* 24 ok, 0 failed$' screen.120

on_terminal 40
check "tmux 40: the run ends" grep -q TF-DONE screen.40
check "tmux 40: percentage and bar" grep -Eq '^ *[0-9]+% \[[#.]+\]' screen.40
check "tmux 40: never 40 columns wide" narrower screen.40 40

# Shrunk while it runs: the line that was drawn for 120 columns and
# rewrapped by tmux is cleared whole at the next redraw.
on_terminal 120 40
sed -n '/^--- resized/,$p' screen.120-40 >after
check "tmux 120->40: the run ends" grep -q TF-DONE after
check "tmux 120->40: redrawn within 40 columns" grep -Eq '^ *[0-9]+% \[[#.]+\]' after
# Each capture after the first redraw at 40 columns holds one progress
# line and no piece of the old one. (The awk's report goes to stderr
# inside the function: a >&2 on the check line would send its TAP line
# there too, away from the driver.)
no_junk() {
	awk '/^--- resized/ { next }
	     /^ *[0-9]+% \[/ { narrow = 1 }
	     narrow && / done, 0 failed/ { print "junk: " $0; bad = 1 }
	     END { exit bad }' "$1" >&2
}
check "tmux 120->40: no junk left by the wider line" no_junk after

finish
