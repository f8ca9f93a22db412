#!/bin/sh
# taskfarm status on a live run under mpirun: while the run goes on it
# says the lock is held and gives plausible counts, without taking the
# lock (it answers at once while the run holds it, and while another
# process holds it); once the run has ended its counts are those of the
# run's own summary (--summary-json) and the lock is released. Also
# --json's validity, a damaged journal (FILE:LINE, exit 2) and usage
# errors.
. "${top_srcdir:-.}/tests/lib.sh"

have_mpiexec || skip_all "no MPI launcher ($MPIEXEC)"
command -v python3 >/dev/null 2>&1 || skip_all "no python3 to read JSON"

# json FILE EXPR: a field of a JSON file, as Python prints it.
json() {
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

{
	for i in $(seq 1 16); do echo "sleep 0.6"; done
	echo "exit 1"
	echo "exit 2"
} >live.tasks

timeout -k 10 180 "$MPIEXEC" -n 3 "$TF" --slots 1 --journal j.tsv \
	--summary-json summary.json live.tasks >out 2>err &
bg=$!
# Wait for a few lines, then look while the run goes on.
i=0
while [ "$(tail -n +2 j.tsv 2>/dev/null | wc -l)" -lt 3 ] && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
took tf status --json j.tsv
cp out live.json
check "status on a live run: exit 0" rc_is 0
check "status on a live run answers at once (takes no lock)" under 5
check "status --json is valid JSON" sh -c "python3 -m json.tool live.json >/dev/null"
check "live: the lock is held" [ "$(json live.json 'd["lock"]')" = held ]
check "live: the total is the job's 18 tasks" [ "$(json live.json 'd["total"]')" = 18 ]
done_live=$(json live.json 'd["done"]')
remaining=$(json live.json 'd["remaining"]')
diag "live: done $done_live, remaining $remaining"
check "live: some done, some remaining" sh -c "[ $done_live -ge 2 ] && [ $remaining -ge 1 ]"
check "live: done + failed + remaining = total" \
	[ "$(json live.json 'd["done"] + d["failed"] + d["remaining"]')" = 18 ]
check "live: the owner is the master" \
	[ "$(json live.json 'd["owner"]["pid"]')" = "$(awk '$1 == "owner" { print $3 }' j.tsv.meta)" ]
tf status j.tsv
check "live, as text: going on, lock held" grep -q "^run: going on (lock held" out
check "live, as text: N/18 done" grep -qE "^tasks: [0-9]+/18 done" out
check "live, as text: a rate and an ETA" grep -qE "^rate: [0-9.]+ tasks/s in the last run.*ETA [0-9]+:[0-9][0-9]" out
wait $bg
rc=$?
cp err run.err
check "the run ends with its failures (exit 1)" rc_is 1

tf status --json j.tsv
cp out final.json
check "ended: exit 0, valid JSON" sh -c "[ $rc -eq 0 ] && python3 -m json.tool final.json >/dev/null"
check "ended: the lock is released" [ "$(json final.json 'd["lock"]')" = released ]
check "--summary-json is valid JSON" sh -c "python3 -m json.tool summary.json >/dev/null"
check "--summary-json gives the exit code" [ "$(json summary.json 'd["exit_code"]')" = 1 ]
check "--summary-json: its counts are the text summary's" grep -qE \
	"$(json summary.json '"^taskfarm: %d tasks in .*: %d ok, %d failed$" % (d["tasks"], d["ok"], d["failed"])')" run.err
check "--summary-json: two ranks, 18 tasks between them" \
	[ "$(json summary.json 'len(d["ranks"]), sum(r["tasks"] for r in d["ranks"])')" = "(2, 18)" ]
check "ended: done is the summary's ok" \
	[ "$(json final.json 'd["done"]')" = "$(json summary.json 'd["ok"]')" ]
check "ended: failed is the summary's failed" \
	[ "$(json final.json 'd["failed"]')" = "$(json summary.json 'd["failed"]')" ]
check "ended: nothing remaining, no ETA" \
	[ "$(json final.json 'd["remaining"], d["eta_seconds"]')" = "(0, None)" ]
check "ended: the last failures are the two failed commands" \
	[ "$(json final.json 'sorted(f["command"] for f in d["last_failures"])')" = "['exit 1', 'exit 2']" ]
tf status j.tsv
check "ended, as text: lock released" grep -q "^run: ended (lock released" out
check "ended, as text: 16/18 done, 2 failed, 0 remaining" grep -q "^tasks: 16/18 done, 2 failed, 0 remaining" out

# Another process holding the .meta's lock: status still answers at once
# and says it is held (this host's /proc/locks).
if command -v flock >/dev/null 2>&1; then
	flock j.tsv.meta sleep 10 &
	holder=$!
	sleep 0.5
	took tf status --json j.tsv
	check "lock held by another process: status answers at once" under 5
	check "lock held by another process: reported held" [ "$(json out 'd["lock"]')" = held ]
	kill $holder
	wait $holder 2>/dev/null
fi

# --summary-json to a file that cannot be written: exit 4, said.
echo true >one.task
tf --no-mpi --journal one.tsv --summary-json "$SCRATCH/no/such/dir/s.json" one.task
check "--summary-json that cannot be written: exit 4" rc_is 4
check "--summary-json that cannot be written: the error names it" \
	grep -q "summary-json $SCRATCH/no/such/dir/s.json: No such file" err

# A damaged journal: the --resume error, exit 2.
printf '99\tbroken\n' >>j.tsv
tf status j.tsv
check "a damaged journal: exit 2" rc_is 2
check "a damaged journal: FILE:LINE" grep -q "j.tsv:20: damaged journal line: fewer than 17 fields" err
tf status
check "status without a journal: exit 2" rc_is 2
tf status --bogus j.tsv
check "status with an unknown option: exit 2" rc_is 2
tf status missing.tsv
check "status of a missing journal: exit 2" rc_is 2
tf status --help
check "status --help: exit 0, its usage" sh -c "[ $rc -eq 0 ] && grep -q '^usage: taskfarm status JOURNAL' out"
finish
