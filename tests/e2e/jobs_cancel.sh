#!/usr/bin/env bash
# Cancel and re-attach with the local backend: `caf jobs cancel` and Ctrl-C during `submit --wait`
# leave no process behind (checked pid by pid, including what the commands started in the
# background); a restarted caf re-attaches to running subjobs instead of starting them again.
set -euo pipefail
work=$(mktemp -d "${TMPDIR:-/tmp}/caf-e2e-jobs-cancel.XXXXXX")
# shellcheck source=../support/processes.sh
source "$CAF_SOURCE_DIR/tests/support/processes.sh"
cleanup() { kill_processes_in "$work"; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"

wait_lines() { # FILE N: wait up to 20 s until FILE has N lines
    for _ in $(seq 200); do [ -e "$1" ] && [ "$(wc -l < "$1")" -ge "$2" ] && return 0; sleep 0.1; done
    echo "timed out waiting for $2 lines in $1"; exit 1
}
all_gone() { # FILE: every pid in FILE has ended (give init a moment to reap)
    for _ in $(seq 50); do
        local left=0
        while read -r pid; do if alive "$pid"; then left=1; fi; done < "$1"
        [ $left = 0 ] && return 0
        sleep 0.1
    done
    echo "processes survived:"; while read -r pid; do alive "$pid" && ps -o pid,ppid,cmd -p "$pid"; done < "$1"
    exit 1
}

# each subjob records its shell and a background child, then waits for the child
job() { # NAME PIDFILE
cat > "$1.json" <<JSON
{"name": "$1", "command": "sh", "args": ["-c", "echo \$\$ >> '$2'; sleep 300 & echo \$! >> '$2'; wait"],
 "split": {"arg_sets": [["a"], ["b"], ["c"]]}, "backend_settings": {"slots": 3}}
JSON
}

# --- caf jobs cancel: submit without waiting, then cancel
job cancel "$work/cancel.pids"
"$CAF" jobs submit cancel.json > /dev/null
wait_lines cancel.pids 6
while read -r pid; do alive "$pid" || { echo "subjob process $pid not running"; exit 1; }; done < cancel.pids
"$CAF" jobs status cancel.json | grep -q '3 running'
# another backend cannot take over subjobs that are still running in this one
if "$CAF" jobs submit cancel.json --backend slurm 2> other.err; then exit 1; fi
grep -q 'its subjobs are still active in backend local' other.err
"$CAF" jobs cancel cancel.json > cancel.out
all_gone cancel.pids
grep -q 'job cancel: failed (3 subjobs: 0 completed, 3 failed' cancel.out
grep -q 'subjob 2: failed after 1 attempt: cancelled' cancel.out

# --- Ctrl-C during submit --wait cancels everything
job sigint "$work/sigint.pids"
"$CAF" jobs submit sigint.json --wait > sigint.out 2> sigint.err &
caf_pid=$!
wait_lines sigint.pids 6
sleep 0.3
kill -INT "$caf_pid"
rc=0; wait "$caf_pid" || rc=$?
[ "$rc" = 1 ] || { echo "caf exited with $rc after SIGINT"; exit 1; }
grep -q 'job sigint: cancelled' sigint.err
all_gone sigint.pids
"$CAF" jobs status sigint.json | grep -q '3 failed'

# --- re-attach: 4 subjobs, 2 at a time; caf dies (SIGKILL) while 2 run; a new caf finishes the job
#     and every subjob ran exactly once
cat > again.json <<JSON
{"name": "again", "command": "sh", "args": ["-c", "echo \$\$ >> '$work/again.pids'; echo \"\$1\" >> '$work/runs'; sleep 2", "sh"],
 "split": {"arg_sets": [["a"], ["b"], ["c"], ["d"]]}, "backend_settings": {"slots": 2}}
JSON
"$CAF" jobs submit again.json --wait > /dev/null 2>&1 &
caf_pid=$!
wait_lines runs 2
sleep 0.5
kill -KILL "$caf_pid"
wait "$caf_pid" 2>/dev/null || true
"$CAF" jobs status again.json > status.out
grep -q '2 running, 0 submitted, 2 waiting' status.out
"$CAF" jobs submit again.json --wait > again.out
grep -q 'job again: completed (4 subjobs: 4 completed' again.out
[ "$(sort runs | tr '\n' ' ')" = "a b c d " ] || { echo "runs: $(cat runs)"; exit 1; }
"$CAF" jobs status again.json --json | /usr/bin/python3 -c '
import json, sys
assert [s["attempt"] for s in json.load(sys.stdin)["subjobs"]] == [1, 1, 1, 1]'
echo "jobs_cancel: ok"
