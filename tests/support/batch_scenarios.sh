# Scenarios every real batch backend must pass, run through `caf jobs` against the one-node loopback
# Slurm of tests/support/slurm_cluster.sh (its own folder and ports, started here, stopped on exit).
# Sourced by tests/e2e/<backend>_backend.sh after setting BACKEND and defining three hooks:
#   active_ids          print the batch ids the batch system still has queued or running
#   remove_behind_caf   remove one batch id from the batch system without telling caf
#   forgotten_reason    a regular expression the failure reason of that subjob must match
#   time_limit_reason   a regular expression the reason of a subjob past its time limit must match
set -euo pipefail

: "${CAF:?}" "${CAF_SOURCE_DIR:?}" "${BACKEND:?}"
PY=/usr/bin/python3
work=$(mktemp -d)
cluster=$work/cluster
cleanup() {
  # A scenario that failed early leaves its background `caf jobs submit --wait` polling a cluster that is
  # about to stop: end it, so no process outlives the test (it would hold whatever the test inherited).
  local pids
  pids=$(jobs -p)
  [[ -z $pids ]] || kill -KILL $pids 2>/dev/null || true
  bash "$CAF_SOURCE_DIR/tests/support/slurm_cluster.sh" stop "$cluster" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
eval "$(bash "$CAF_SOURCE_DIR/tests/support/slurm_cluster.sh" start "$cluster")"
export SLURM_CONF
cd "$work"

fail() { echo "FAIL ($BACKEND): $*" >&2; exit 1; }

# A working folder as hostile as file names get: the names job uses it (Slurm expands % in log
# paths, a backslash turns that off, PBS front ends pass paths through shells).
hostile_dir=$'names work \'q\' "dq" $HOME `id` %A \\z\nnewline'

# The working folder of job $1.
work_of() { if [[ $1 == names ]]; then echo "$hostile_dir"; else echo "$1-work"; fi; }

# write_job NAME ARGS_JSON [EXTRA_MEMBERS]: a job on $BACKEND that polls quickly.
write_job() {
  local wd
  wd=$("$PY" -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$(work_of "$1")")
  cat >"$1.json" <<EOF
{"name": "$1", "command": "bash", "args": $2,
 "working_dir": $wd, "output_dir": "$1-out", "backend": "$BACKEND",
 "backend_settings": {"poll_interval_s": 0.3, "exit_file_grace_s": 3}${3:+, $3}}
EOF
}

# state JOB EXPR: a Python expression over the saved state `s` (WORKING_DIR/caf-job.json).
state() {
  "$PY" - "$(work_of "$1")/caf-job.json" "$2" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))
EOF
}

# wait_running JOB N: until N of the job's subjobs run in the batch system.
# wait_saved JOB N: until caf has saved N batch ids in JOB's state (subjobs may run before the save,
# within save_interval_s; a kill inside that window is the subjob lock's case, jobs_subjob_lock.sh).
wait_saved() {
  local _
  for _ in $(seq 150); do
    [[ -f "$(work_of "$1")/caf-job.json" ]] &&
      [[ $(state "$1" 'sum(1 for x in s["subjobs"] if x.get("batch_id"))') == "$2" ]] && return 0
    sleep 0.1
  done
  fail "$1: batch ids never saved"
}

wait_running() {
  local _
  for _ in $(seq 150); do
    [[ $(squeue --noheader --array -t running -o %i | wc -l) -ge $2 ]] && return 0
    sleep 0.2
  done
  fail "$1: subjobs never started"
}

run_scenarios() {
  # ---- time limit: slow (Slurm limits are whole minutes, checked every ~30 s), so started first ----
  write_job limit '["-c", "sleep 600"]' '"backend_args": {"time_s": 60}, "retry": {"max_retries": 0}'
  "$CAF" jobs submit limit.json --wait >limit.log 2>&1 &
  local limit_pid=$! rc

  # ---- outputs come back; hostile file names through the submit command, driver and wrapper ----
  mkdir -p in
  local names=("plain.txt" "with space.txt" "quote'single.txt" 'dollar$HOME.txt' 'back`tick`.txt' $'new\nline.txt')
  local i got inputs
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
  echo "ok ($BACKEND): outputs and hostile file names"

  # ---- input_sandbox: copied into every subjob's folder at submission; the original may go away ----
  echo "sandboxed $BACKEND" > sandbox.txt
  write_job sandbox '["-c", "cat sandbox.txt > out.txt"]' \
    '"input_sandbox": ["sandbox.txt"], "split": {"arg_sets": [["a"], ["b"]]}, "output_patterns": ["out.txt"]'
  "$CAF" jobs submit sandbox.json >sandbox.log 2>&1 || { cat sandbox.log; fail "sandbox: submit failed"; }
  rm sandbox.txt
  "$CAF" jobs submit sandbox.json --wait >>sandbox.log 2>&1 || { cat sandbox.log; fail "sandbox job failed"; }
  for i in 0 1; do
    [[ $(cat "sandbox-out/$i/out.txt") == "sandboxed $BACKEND" ]] || fail "sandbox: subjob $i did not read its copy"
  done
  echo "ok ($BACKEND): input_sandbox files in every subjob's folder"

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
  echo "ok ($BACKEND): retry"

  # ---- cancel removes every subjob from the batch system ----
  write_job cancel '["-c", "sleep 600"]' '"split": {"arg_sets": [["a"], ["b"], ["c"]]}'
  "$CAF" jobs submit cancel.json >cancel.log 2>&1 || { cat cancel.log; fail "cancel: submit failed"; }
  local ids
  ids=$(state cancel '" ".join(x["batch_id"] for x in s["subjobs"])')
  wait_running cancel 2
  "$CAF" jobs cancel cancel.json >>cancel.log 2>&1 || { cat cancel.log; fail "cancel failed"; }
  local left=""
  for i in $(seq 50); do
    left=$(active_ids | grep -Fx -f <(tr ' ' '\n' <<<"$ids") || true)
    [[ -z $left ]] && break
    sleep 0.2
  done
  [[ -z $left ]] || fail "cancel left $left in the batch system"
  [[ $(state cancel 'sorted(set(x["status"] for x in s["subjobs"]))') == "['failed']" ]] ||
    fail "cancel: subjobs not failed"
  echo "ok ($BACKEND): cancel leaves nothing behind"

  # ---- a caf killed mid-run: the next one re-attaches to the running subjobs, submits nothing again ----
  write_job reattach '["-c", "sleep 4; echo done > out.txt"]' '"split": {"arg_sets": [["a"], ["b"]]}, "output_patterns": ["out.txt"]'
  "$CAF" jobs submit reattach.json --wait >reattach.log 2>&1 &
  local first_pid=$!
  wait_running reattach 2
  wait_saved reattach 2
  kill -KILL "$first_pid"
  wait "$first_pid" 2>/dev/null || true
  local before after
  before=$(state reattach '" ".join(x["batch_id"] for x in s["subjobs"])')
  "$CAF" jobs submit reattach.json --wait >>reattach.log 2>&1 || { cat reattach.log; fail "reattach: second caf failed"; }
  after=$(state reattach '" ".join(x["batch_id"] for x in s["subjobs"])')
  [[ $before == "$after" ]] || fail "reattach: resubmitted ($before -> $after)"
  [[ $(state reattach '[(x["status"], x["attempt"]) for x in s["subjobs"]]') == "[('completed', 1), ('completed', 1)]" ]] ||
    fail "reattach: $(state reattach '[(x["status"], x["attempt"]) for x in s["subjobs"]]')"
  [[ $(cat reattach-out/1/out.txt) == done ]] || fail "reattach: output missing"
  echo "ok ($BACKEND): a restarted caf re-attaches instead of resubmitting"

  # ---- Ctrl-C during `submit --wait` removes every subjob ----
  write_job interrupt '["-c", "sleep 600"]' '"split": {"arg_sets": [["a"], ["b"]]}'
  "$CAF" jobs submit interrupt.json --wait >interrupt.log 2>&1 &
  local caf_pid=$!
  wait_running interrupt 2
  wait_saved interrupt 2
  ids=$(state interrupt '" ".join(x["batch_id"] for x in s["subjobs"])')
  kill -INT "$caf_pid"
  rc=0
  wait "$caf_pid" || rc=$?
  [[ $rc != 0 ]] || fail "interrupt: caf exited 0 after Ctrl-C"
  left=$(active_ids | grep -Fx -f <(tr ' ' '\n' <<<"$ids") || true)
  for i in $(seq 50); do
    [[ -z $left ]] && break
    sleep 0.2
    left=$(active_ids | grep -Fx -f <(tr ' ' '\n' <<<"$ids") || true)
  done
  [[ -z $left ]] || fail "Ctrl-C left $left in the batch system"
  echo "ok ($BACKEND): Ctrl-C cancels every subjob"

  # ---- the batch system forgets a subjob (removed behind caf's back): failed, not a hang ----
  write_job forget '["-c", "sleep 600"]' '"split": {"arg_sets": [["removed"], ["kept"]]}, "retry": {"max_retries": 0}'
  "$CAF" jobs submit forget.json >forget.log 2>&1 || { cat forget.log; fail "forget: submit failed"; }
  wait_running forget 2
  remove_behind_caf "$(state forget 's["subjobs"][0]["batch_id"]')"
  # Stop the other one too, so that --wait ends; it must then fail for the same kind of reason.
  remove_behind_caf "$(state forget 's["subjobs"][1]["batch_id"]')"
  rc=0
  timeout 120 "$CAF" jobs submit forget.json --wait >>forget.log 2>&1 || rc=$?
  [[ $rc == 1 ]] || { cat forget.log; fail "forget: expected exit 1, got $rc"; }
  state forget 's["subjobs"][0]["reason"]' | grep -Eq "$(forgotten_reason)" ||
    fail "forget: reason: $(state forget 's["subjobs"][0]["reason"]')"
  echo "ok ($BACKEND): a subjob removed behind caf's back fails: $(state forget 's["subjobs"][0]["reason"]')"

  # ---- the time limit ----
  rc=0
  wait "$limit_pid" || rc=$?
  [[ $rc == 1 ]] || { cat limit.log; fail "limit: expected exit 1, got $rc"; }
  state limit 's["subjobs"][0]["reason"]' | grep -Eq "$(time_limit_reason)" ||
    fail "limit: reason: $(state limit 's["subjobs"][0]["reason"]')"
  echo "ok ($BACKEND): time limit: $(state limit 's["subjobs"][0]["reason"]')"
  [[ -z $(active_ids) ]] || fail "jobs left in the batch system at the end: $(active_ids)"
}
