#!/usr/bin/env bash
# The local backend starts a subjob's command itself, with no wrapper script: the command's parent is the
# backend's shepherd (not bash), no run.sh is written, and it still gets what the wrapper gave: its folder,
# the job's environment (PATH included for finding the command), stdout/stderr files, the subjob's lock
# and its exit code in the exit-code file (127 and a message for a command that does not exist). When caf
# is SIGKILLed, the running subjobs go on, their exit codes are recorded without caf, and the resumed caf
# takes them: no subjob recorded as submitted runs twice, none is lost. A copy of a subjob whose
# submission caf did not record is not started twice (the lock), and `submit` without --wait returns at
# once although its subjobs run on.
set -euo pipefail
work=$(mktemp -d "${TMPDIR:-/tmp}/caf-e2e-jobs-direct.XXXXXX")
# shellcheck source=../support/processes.sh
source "$CAF_SOURCE_DIR/tests/support/processes.sh"
caf_pid=
cleanup() {
    [ -z "$caf_pid" ] || kill -9 "$caf_pid" 2>/dev/null || true
    touch "$work"/go_b "$work"/go_c "$work"/go 2>/dev/null || true
    kill_processes_in "$work"
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
wait_for() { # wait_for WHAT COMMAND...: polls up to 20 s until the command succeeds
    local what=$1
    shift
    for _ in $(seq 1 400); do "$@" && return 0; sleep 0.05; done
    fail "never: $what"
}
state() { # state JOB PYTHON-EXPRESSION over s (the saved state): exits 0 when true
    /usr/bin/python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
        "$1/caf-job.json" "$2"
}

# --- what the command sees, what is recorded
cat > probe.sh <<'SH'
echo "out $1"
echo "err $1" >&2
cat /proc/$PPID/comm > parent
tr '\0' ' ' < /proc/$PPID/cmdline > parent_cmdline
pwd -P > cwd
printf '%s\n' "$GREETING" > greeting
if flock -n -E 9 caf-subjob.lock true; then echo free; else echo held; fi > lock
exit "$1"
SH
mkdir bin
printf '#!/bin/sh\necho "mytool ran" > mytool.out\n' > bin/mytool
chmod +x bin/mytool
cat > tree.json <<JSON
{"name": "tree", "command": "sh", "args": ["$work/probe.sh"], "env": {"GREETING": "hi 'there' \$HOME"},
 "split": {"arg_sets": [["0"], ["7"]]}, "retry": {"max_retries": 0}}
JSON
set +e
"$CAF" jobs submit tree.json --wait > tree.out 2> tree.err
rc=$?
set -e
[ "$rc" = 1 ] || { cat tree.err; fail "caf exited $rc, not 1 (subjob 1 exits 7)"; }
for i in 0 1; do
    d=tree/subjobs/$i
    code=$([ "$i" = 0 ] && echo 0 || echo 7)
    [ "$(cat "$d/parent")" = caf-shepherd ] || fail "subjob $i's parent is $(cat "$d/parent"), not the shepherd"
    grep -q '^caf: local backend shepherd' "$d/parent_cmdline" || fail "shepherd's command line: $(cat "$d/parent_cmdline")"
    [ ! -e "$d/run.sh" ] || fail "a wrapper script was written for subjob $i"
    [ "$(cat "$d/cwd")" = "$(cd "$d" && pwd -P)" ] || fail "subjob $i ran in $(cat "$d/cwd")"
    [ "$(cat "$d/greeting")" = "hi 'there' \$HOME" ] || fail "environment: $(cat "$d/greeting")"
    [ "$(cat "$d/lock")" = held ] || fail "subjob $i ran without holding its lock"
    [ "$(cat "$d/stdout")" = "out $code" ] || fail "stdout: $(cat "$d/stdout")"
    [ "$(cat "$d/stderr")" = "err $code" ] || fail "stderr: $(cat "$d/stderr")"
    [ "$(cat "$d/exit_code")" = "$code" ] || fail "exit-code file of subjob $i: $(cat "$d/exit_code")"
done
grep -q 'subjob 1: failed after 1 attempt: exit code 7' tree.out || fail "$(cat tree.out)"
state tree '[j["status"] for j in s["subjobs"]] == ["completed", "failed"] and s["subjobs"][1]["exit_code"] == 7'

# --- a command that does not exist: 127 and the reason on the subjob's stderr; the job's PATH is searched
cat > missing.json <<'JSON'
{"name": "missing", "command": "caf-no-such-command", "retry": {"max_retries": 0}}
JSON
if "$CAF" jobs submit missing.json --wait > missing.out 2>&1; then fail "a missing command succeeded"; fi
grep -q 'failed after 1 attempt: exit code 127' missing.out || fail "$(cat missing.out)"
grep -q '^caf: cannot run caf-no-such-command: No such file or directory' missing/subjobs/0/stderr
cat > path.json <<JSON
{"name": "path", "command": "mytool", "env": {"PATH": "$work/bin:/usr/bin:/bin"}}
JSON
"$CAF" jobs submit path.json --wait > path.out || { cat path.out; fail "the job's PATH was not searched"; }
[ "$(cat path/subjobs/0/mytool.out)" = "mytool ran" ]

# --- caf SIGKILLed: a recorded subjob never reruns, running ones finish and are recorded without caf
# a ends at once; b and c wait for their go file; d waits for a free slot (2 slots)
cat > resume.json <<JSON
{"name": "resume", "command": "sh",
 "args": ["-c", "echo \"\$1\" >> '$work/runs'; [ \"\$1\" = a ] || [ \"\$1\" = d ] || while [ ! -e '$work/go_'\"\$1\" ]; do sleep 0.05; done", "sh"],
 "split": {"arg_sets": [["a"], ["b"], ["c"], ["d"]]}, "backend_settings": {"slots": 2},
 "policy": {"poll_interval_s": 0.1, "save_interval_s": 0}}
JSON
"$CAF" jobs submit resume.json --wait > resume1.out 2>&1 &
caf_pid=$!
wait_for "a recorded as completed, b and c running" state resume \
    '[j["status"] for j in s["subjobs"]] == ["completed", "running", "running", "init"]'
kill -9 "$caf_pid"
wait "$caf_pid" 2>/dev/null || true
caf_pid=
touch go_b go_c
wait_for "b's and c's exit codes written with caf gone" test -e resume/subjobs/1/exit_code -a -e resume/subjobs/2/exit_code
[ "$(cat resume/subjobs/1/exit_code)" = 0 ] && [ "$(cat resume/subjobs/2/exit_code)" = 0 ]
state resume '[j["status"] for j in s["subjobs"]] == ["completed", "running", "running", "init"]'
# the shepherd ends once its subjobs have (nothing of this job's is left running)
shepherds() { for p in $(pgrep -f '^caf: local backend shepherd' || true); do
    [ "$(readlink "/proc/$p/cwd" 2>/dev/null)" = "$(pwd -P)" ] && echo "$p"; done; true; }
wait_for "the shepherd of the killed caf ended" test -z "$(shepherds)"
"$CAF" jobs submit resume.json --wait > resume2.out 2>&1 || { cat resume2.out; fail "the resumed job failed"; }
grep -q 'job resume: completed (4 subjobs: 4 completed' resume2.out
[ "$(sort runs | tr '\n' ' ')" = "a b c d " ] || fail "runs: $(cat runs)"
state resume '[j["attempt"] for j in s["subjobs"]] == [1, 1, 1, 1]'

# --- one copy at a time: caf killed and its record of a submission lost; the resubmitted copy is not
# started (the first one holds the lock), caf waits for the first copy and takes its exit code
cat > once.json <<JSON
{"name": "once", "command": "sh",
 "args": ["-c", "echo run >> '$work/once.runs'; while [ ! -e '$work/go' ]; do sleep 0.05; done; exit 3"],
 "retry": {"max_retries": 0}, "policy": {"poll_interval_s": 0.1, "exit_file_grace_s": 1}}
JSON
"$CAF" jobs submit once.json --wait > /dev/null 2>&1 &
caf_pid=$!
wait_for "the first copy started" test -s once.runs
# the command can start before caf's first save of the state: kill caf only once the state exists
wait_for "caf saved the submission" state once 's["subjobs"][0].get("batch_id")' 2> /dev/null
kill -9 "$caf_pid"
wait "$caf_pid" 2>/dev/null || true
caf_pid=
/usr/bin/python3 - once/caf-job.json <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["subjobs"][0].update(status="init", batch_id=None, attempt=0)
json.dump(s, open(sys.argv[1], "w"))
PY
"$CAF" -v jobs submit once.json --wait > once.out 2> once.err &
caf_pid=$!
wait_for "caf saw the first copy running" grep -q "another copy of it is running" once.err
touch go
rc=0
wait "$caf_pid" || rc=$?
caf_pid=
[ "$rc" = 1 ] || { cat once.err; fail "caf exited $rc, not 1"; }
[ "$(wc -l < once.runs)" = 1 ] || fail "the command ran $(wc -l < once.runs) times"
state once 's["subjobs"][0]["status"] == "failed" and s["subjobs"][0]["exit_code"] == 3'

# --- submit without --wait returns at once (the shepherd keeps none of caf's output open)
cat > bg.json <<JSON
{"name": "bg", "command": "sh", "args": ["-c", "while [ ! -e '$work/go_bg' ]; do sleep 0.05; done"]}
JSON
out=$(timeout 20 "$CAF" jobs submit bg.json) || fail "submit without --wait did not return"
grep -q '1 running\|1 submitted' <<< "$out" || fail "$out"
touch go_bg
"$CAF" jobs submit bg.json --wait | grep -q 'job bg: completed'
echo "jobs_direct_exec: ok"
