#!/usr/bin/env bash
# The Slurm backend against a real (loopback, one-node) Slurm through `caf jobs`: outputs, hostile file
# names, retries, cancel, subjobs Slurm cancels or forgets, time limits (tests/support/batch_scenarios.sh),
# plus a subjob whose id Slurm purged entirely.
set -euo pipefail
BACKEND=slurm
source "$CAF_SOURCE_DIR/tests/support/batch_scenarios.sh"

active_ids() { squeue --noheader --array --states=pending,running,configuring,completing,suspended -o %i; }
remove_behind_caf() { scancel "$1"; }
forgotten_reason() { echo 'Slurm CANCELLED'; }
time_limit_reason() { echo 'Slurm TIMEOUT: exceeded its time limit'; }

run_scenarios

# ---- a purged id (as after MinJobAge on a cluster without accounting): Slurm knows nothing of it ----
write_job purged '["-c", "sleep 600"]' '"retry": {"max_retries": 0}'
"$CAF" jobs submit purged.json >purged.log 2>&1 || { cat purged.log; fail "purged: submit failed"; }
scancel "$(state purged 's["subjobs"][0]["batch_id"]')"
"$PY" - purged-work/caf-job.json <<'EOF'
import json, sys
p = sys.argv[1]
s = json.load(open(p))
s["subjobs"][0]["batch_id"] = "999999_0"
json.dump(s, open(p, "w"))
EOF
rc=0
timeout 60 "$CAF" jobs submit purged.json --wait >>purged.log 2>&1 || rc=$?
[[ $rc == 1 ]] || { cat purged.log; fail "purged: expected exit 1, got $rc"; }
state purged 's["subjobs"][0]["reason"]' | grep -q 'no longer knows' ||
  fail "purged: reason: $(state purged 's["subjobs"][0]["reason"]')"
echo "ok (slurm): a purged subjob fails: $(state purged 's["subjobs"][0]["reason"]')"
