#!/usr/bin/env bash
# One copy of a subjob at a time: a second copy of a subjob's wrapper script started while the first runs
# exits at once with code 75 and a message, writing nothing (no exit-code file, the first copy's stdout
# unchanged); and a caf that lost the record of a submission (killed between submitting and recording)
# submits the subjob again, sees the new copy leave, waits for the first copy and takes its result: the
# command ran once. The job has an output pattern, which keeps it on the wrapper script with the local
# backend too (batch backends always use it); jobs_direct_exec.sh covers subjobs the local backend starts
# without a wrapper.
set -euo pipefail
W=$(mktemp -d)
caf_pid=
cleanup() {
    [ -z "$caf_pid" ] || kill -9 "$caf_pid" 2>/dev/null || true
    touch "$W/go"  # lets an orphaned first copy end
    sleep 0.3
    rm -rf "$W"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$W"
# The command counts its runs, then waits for the file go, then exits 3 (a result the test recognises).
cat > job.json <<JSON
{"name": "once", "command": "sh",
 "args": ["-c", "echo run >> '$W/runs'; echo started; while [ ! -e '$W/go' ]; do sleep 0.05; done; echo done; exit 3"],
 "output_patterns": ["no-output-*"],
 "retry": {"max_retries": 0}, "policy": {"poll_interval_s": 0.1, "exit_file_grace_s": 1}}
JSON
wait_for() { # wait_for WHAT COMMAND...: polls until the command succeeds
    local what=$1
    shift
    for _ in $(seq 1 400); do "$@" && return 0; sleep 0.05; done
    fail "never: $what"
}
runs() { if [ -e runs ]; then wc -l < runs; else echo 0; fi; }
runs_is() { [ "$(runs)" = "$1" ]; }

"$CAF" jobs submit job.json --wait > submit1.out 2> submit1.err &
caf_pid=$!
wait_for "the first copy started" runs_is 1
sub=once/subjobs/0
# A second copy of the same script: leaves at once, with its own exit code and message, touching nothing.
before=$(cat "$sub/stdout")
set +e
timeout 30 bash "$sub/run.sh" 2> second.err
rc=$?
set -e
[ "$rc" = 75 ] || fail "the second copy exited with $rc, not 75"
grep -q "caf: subjob 0 of job once is already running in another process" second.err || {
    cat second.err; fail "the second copy's message"; }
[ ! -e "$sub/exit_code" ] || fail "the second copy wrote an exit-code file"
[ "$(cat "$sub/stdout")" = "$before" ] || fail "the second copy wrote to the first copy's stdout"
[ "$(runs)" = 1 ] || fail "the second copy ran the command"

# caf killed; its record of the submission lost (as if killed between submitting and recording).
kill -9 "$caf_pid"
wait "$caf_pid" 2>/dev/null || true
caf_pid=
/usr/bin/python3 - once/caf-job.json <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
sub = s["subjobs"][0]
sub.update(status="init", batch_id=None, attempt=0)
json.dump(s, open(sys.argv[1], "w"))
PY
"$CAF" -v jobs submit job.json --wait > submit2.out 2> submit2.err &
caf_pid=$!
wait_for "caf saw the first copy running" grep -q "another copy of it is running" submit2.err
[ "$(runs)" = 1 ] || fail "the resubmitted copy ran the command"
touch go
set +e
wait "$caf_pid"
rc=$?
set -e
caf_pid=
[ "$rc" = 1 ] || { cat submit2.err; fail "caf jobs submit exited $rc, not 1 (the subjob's exit code 3 fails the job)"; }
[ "$(cat "$sub/exit_code")" = 3 ] || fail "exit code $(cat "$sub/exit_code"), not the first copy's 3"
[ "$(runs)" = 1 ] || fail "the command ran $(runs) times"
/usr/bin/python3 - once/caf-job.json <<'PY'
import json, sys
sub = json.load(open(sys.argv[1]))["subjobs"][0]
assert sub["status"] == "failed" and sub["exit_code"] == 3 and "exit code 3" in sub["reason"], sub
PY
grep -c '^started$' "$sub/stdout" | grep -qx 1 || fail "stdout: $(cat "$sub/stdout")"
echo PASS
