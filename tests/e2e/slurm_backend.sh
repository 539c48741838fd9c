#!/usr/bin/env bash
# The Slurm backend against a real Slurm: a one-node loopback cluster this test starts for itself
# (tests/support/slurm_cluster.sh, own folder and ports) and stops at the end. Through `caf jobs`:
# outputs come back, file names with spaces/quotes/$/backticks/newlines survive, a failing subjob is
# retried, a cancelled job leaves nothing in squeue, a subjob cancelled or purged behind caf's back
# becomes failed (not a hang), and a subjob exceeding its time limit fails with Slurm's reason.
set -euo pipefail

: "${CAF:?}" "${CAF_SOURCE_DIR:?}"
PY=/usr/bin/python3
work=$(mktemp -d)
cluster=$work/cluster
cleanup() {
  bash "$CAF_SOURCE_DIR/tests/support/slurm_cluster.sh" stop "$cluster" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
eval "$(bash "$CAF_SOURCE_DIR/tests/support/slurm_cluster.sh" start "$cluster")"
export SLURM_CONF
cd "$work"

fail() { echo "FAIL: $*" >&2; exit 1; }

# job.json NAME COMMAND_JSON_ARRAY [EXTRA_JSON_MEMBERS]: a Slurm job that polls quickly.
write_job() {
  cat >"$1.json" <<EOF
{"name": "$1", "command": "bash", "args": $2,
 "working_dir": "$1-work", "output_dir": "$1-out", "backend": "slurm",
 "backend_settings": {"poll_interval_s": 0.3, "exit_file_grace_s": 3}${3:+, $3}}
EOF
}

# state JOB EXPR: evaluates a Python expression over the saved state `s` (caf-job.json).
state() {
  "$PY" - "$1-work/caf-job.json" "$2" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))
EOF
}

active_in_squeue() {
  squeue --noheader --array --states=pending,running,configuring,completing,suspended -o %i
}

# ---- time limit (slow: Slurm's limits are whole minutes, checked every ~30 s), started first ----
write_job limit '["-c", "sleep 600"]' '"backend_args": {"time_s": 60}, "retry": {"max_retries": 0}'
"$CAF" jobs submit limit.json --wait >limit.log 2>&1 &
limit_pid=$!

# ---- outputs copied back; hostile file names through sbatch, the driver and the wrapper ----
mkdir -p in
names=("plain.txt" "with space.txt" "quote'single.txt" 'dollar$HOME.txt' 'back`tick`.txt' $'new\nline.txt')
for i in "${!names[@]}"; do printf 'content %d\n' "$i" >"in/${names[$i]}"; done
inputs=$("$PY" -c 'import json,sys; print(json.dumps(["in/" + n for n in sys.argv[1:]]))' "${names[@]}")
write_job names '["-c", "for f; do cat \"$f\"; done > \"result $(basename \"$1\")\"", "caf"]' \
  "\"input_files\": $inputs, \"split\": {\"max_files_per_subjob\": 1}, \"output_patterns\": [\"result *\"]"
"$CAF" jobs submit names.json --wait >names.log 2>&1 || { cat names.log; fail "names job failed"; }
for i in "${!names[@]}"; do
  got=$(cat "names-out/$i/result ${names[$i]}") || fail "output of subjob $i (${names[$i]}) missing"
  [[ $got == "content $i" ]] || fail "subjob $i copied back '$got'"
done
[[ $(state names 'sorted(set(x["status"] for x in s["subjobs"]))') == "['completed']" ]] ||
  fail "names: not all completed"
# One sbatch array for all six subjobs.
[[ $(state names 'len(set(x["batch_id"].split("_")[0] for x in s["subjobs"]))') == 1 ]] ||
  fail "names: expected one sbatch array"
echo "ok: outputs and hostile file names"

# ---- a failing subjob is retried; one that always fails ends failed with its exit code ----
write_job retry '["-c", "m=\"$CAF_MARK.$1\"; [ \"$1\" = always ] && exit 3; [ -e \"$m\" ] || { touch \"$m\"; exit 4; }", "caf"]' \
  "\"env\": {\"CAF_MARK\": \"$work/mark\"}, \"split\": {\"arg_sets\": [[\"once\"], [\"always\"]]}, \"retry\": {\"max_retries\": 1}"
rc=0
"$CAF" jobs submit retry.json --wait >retry.log 2>&1 || rc=$?
[[ $rc == 1 ]] || { cat retry.log; fail "retry: expected exit 1 (one subjob always fails), got $rc"; }
[[ $(state retry 's["subjobs"][0]["status"], s["subjobs"][0]["attempt"]') == "('completed', 2)" ]] ||
  fail "retry: subjob 0 should complete on attempt 2: $(state retry 's["subjobs"][0]')"
[[ $(state retry 's["subjobs"][1]["status"], s["subjobs"][1]["attempt"]') == "('failed', 2)" ]] ||
  fail "retry: subjob 1 should fail after 2 attempts: $(state retry 's["subjobs"][1]')"
state retry 's["subjobs"][1]["reason"]' | grep -q 'exit code 3' || fail "retry: reason lacks the exit code"
echo "ok: retry"

# ---- cancel removes every subjob from Slurm ----
write_job cancel '["-c", "sleep 600"]' '"split": {"arg_sets": [["a"], ["b"], ["c"]]}'
"$CAF" jobs submit cancel.json >cancel.log 2>&1 || { cat cancel.log; fail "cancel: submit failed"; }
array=$(state cancel 's["subjobs"][0]["batch_id"].split("_")[0]')
for _ in $(seq 100); do
  [[ $(squeue --noheader --array -j "$array" -t running -o %i | wc -l) -ge 1 ]] && break
  sleep 0.2
done
"$CAF" jobs cancel cancel.json >>cancel.log 2>&1 || { cat cancel.log; fail "cancel failed"; }
for _ in $(seq 50); do
  active_in_squeue | grep -q "^${array}_" || break
  sleep 0.2
done
if active_in_squeue | grep "^${array}_"; then fail "cancel left subjobs in squeue"; fi
[[ $(state cancel 'sorted(set(x["status"] for x in s["subjobs"]))') == "['failed']" ]] ||
  fail "cancel: subjobs not failed"
echo "ok: cancel leaves nothing in squeue"

# ---- the batch system forgets subjobs: scancel behind caf's back, and a purged id ----
write_job forget '["-c", "sleep 600"]' '"split": {"arg_sets": [["scancelled"], ["purged"]]}, "retry": {"max_retries": 0}'
"$CAF" jobs submit forget.json >forget.log 2>&1 || { cat forget.log; fail "forget: submit failed"; }
array=$(state forget 's["subjobs"][0]["batch_id"].split("_")[0]')
for _ in $(seq 100); do
  [[ $(squeue --noheader --array -j "$array" -t running -o %i | wc -l) == 2 ]] && break
  sleep 0.2
done
scancel "$(state forget 's["subjobs"][0]["batch_id"]')"
scancel "$(state forget 's["subjobs"][1]["batch_id"]')"
# A purged job: Slurm no longer knows the id at all (as after MinJobAge with no accounting).
"$PY" - forget-work/caf-job.json <<'EOF'
import json, sys
p = sys.argv[1]
s = json.load(open(p))
s["subjobs"][1]["batch_id"] = "999999_0"
json.dump(s, open(p, "w"))
EOF
rc=0
timeout 120 "$CAF" jobs submit forget.json --wait >>forget.log 2>&1 || rc=$?
[[ $rc == 1 ]] || { cat forget.log; fail "forget: expected exit 1, got $rc"; }
state forget 's["subjobs"][0]["reason"]' | grep -q CANCELLED ||
  fail "forget: scancelled subjob reason: $(state forget 's["subjobs"][0]["reason"]')"
state forget 's["subjobs"][1]["reason"]' | grep -q 'no longer knows' ||
  fail "forget: purged subjob reason: $(state forget 's["subjobs"][1]["reason"]')"
echo "ok: forgotten subjobs fail"

# ---- the time limit ----
rc=0
wait "$limit_pid" || rc=$?
[[ $rc == 1 ]] || { cat limit.log; fail "limit: expected exit 1, got $rc"; }
state limit 's["subjobs"][0]["reason"]' | grep -q 'TIMEOUT' ||
  fail "limit: reason: $(state limit 's["subjobs"][0]["reason"]')"
if active_in_squeue | grep -q .; then fail "jobs left in squeue at the end"; fi
state limit 's["subjobs"][0]["reason"]'
echo "ok: time limit"
