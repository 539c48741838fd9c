#!/usr/bin/env bash
# Faults with the local backend, through the caf command: a failing command is retried and then fails
# with its exit code; a subjob over its time is killed (with everything it started) and fails saying so;
# a subjob whose exit-code file never appears fails instead of hanging.
set -euo pipefail
work=$(mktemp -d "${TMPDIR:-/tmp}/caf-e2e-jobs-faults.XXXXXX")
# shellcheck source=../support/processes.sh
source "$CAF_SOURCE_DIR/tests/support/processes.sh"
trap 'kill_processes_in "$work"; rm -rf "$work"' EXIT
cd "$work"

# --- failing command: 1 + 2 retries, then failed with the reason, exit code 1
cat > fail.json <<JSON
{"name": "fail", "command": "sh", "args": ["-c", "echo run >> '$work/runs'; echo 'broken input' >&2; exit 3"]}
JSON
if "$CAF" jobs submit fail.json --wait > fail.out 2> fail.err; then echo "a failed job must exit non-zero"; exit 1; fi
[ "$(wc -l < runs)" = 3 ]
grep -q 'job fail: failed' fail.out
grep -q 'subjob 0: failed after 3 attempts: exit code 3' fail.out
grep -q 'broken input' fail/subjobs/0/stderr
"$CAF" jobs status fail.json --json | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)
sub = s["subjobs"][0]
assert s["status"] == "failed" and sub["attempt"] == 3 and sub["exit_code"] == 3, s
assert sub["reason"].startswith("exit code 3"), sub["reason"]'

# --- over its time: killed with its children, clear failure
cat > slow.json <<JSON
{"name": "slow", "command": "sh", "args": ["-c", "sleep 300 & echo \$! > '$work/child'; wait"],
 "backend_args": {"time_s": 1}, "retry": {"max_retries": 0}, "policy": {"poll_interval_s": 0.2}}
JSON
start=$(date +%s)
if "$CAF" jobs submit slow.json --wait > slow.out 2>/dev/null; then exit 1; fi
[ $(( $(date +%s) - start )) -lt 20 ]
grep -q 'subjob 0: failed after 1 attempt: exceeded its time limit of 1 s (killed)' slow.out
child=$(cat child)
if alive "$child"; then echo "the subjob's child $child survived"; exit 1; fi

# --- the wrapper dies before writing its exit code: failed after the grace period, not a hang
cat > vanish.json <<'JSON'
{"name": "vanish", "command": "sh", "args": ["-c", "kill -9 $PPID"], "retry": {"max_retries": 0},
 "policy": {"exit_file_grace_s": 0.5, "poll_interval_s": 0.1}}
JSON
start=$(date +%s)
if "$CAF" jobs submit vanish.json --wait > vanish.out 2>/dev/null; then exit 1; fi
[ $(( $(date +%s) - start )) -lt 20 ]
grep -q 'failed after 1 attempt: it ended and its exit-code file .*/vanish/subjobs/0/exit_code did not appear' vanish.out
echo "jobs_faults: ok"
