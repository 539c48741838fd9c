#!/usr/bin/env bash
# The user's global job limit (job_policy global_job_limit) on the loopback Slurm (tests/support/
# slurm_cluster.sh), through both the Slurm and the PBS backend (slurm-wlm-torque's qsub/qstat): jobs the
# user submitted outside caf (plain sbatch / qsub of a sleep) fill the limit, so caf submits nothing and
# says why; once they end, caf submits and finishes. Then a campaign: `caf status` and the heartbeat say
# the calibration waits for the user's limit while it does.
set -euo pipefail
: "${CAF:?}" "${CAF_SOURCE_DIR:?}"
W=$(mktemp -d)
cluster=$W/cluster
cleanup() {
    local pids
    pids=$(jobs -p)
    [[ -z $pids ]] || kill -KILL $pids 2>/dev/null || true
    bash "$CAF_SOURCE_DIR/tests/support/slurm_cluster.sh" stop "$cluster" >/dev/null 2>&1 || true
    rm -rf "$W"
}
trap cleanup EXIT
source "$CAF_SOURCE_DIR/tests/support/campaign_fixture.sh"
eval "$(bash "$CAF_SOURCE_DIR/tests/support/slurm_cluster.sh" start "$cluster")"
export SLURM_CONF
cd "$W"
me=$(id -un)

# user_jobs: the user's pending and running jobs as Slurm lists them (array tasks one by one).
user_jobs() { squeue --noheader --array --format=%i -u "$me" | wc -l; }

# outside BACKEND: submits one `sleep 600` the way a user would, without caf; prints its id.
outside() {
    if [[ $1 == slurm ]]; then
        sbatch --parsable -o /dev/null --wrap "sleep 600"
    else
        printf '#!/bin/bash\nsleep 600\n' > "$W/outside.sh"
        qsub -o /dev/null -j oe "$W/outside.sh" | tr -d '[:space:]'
    fi
}

# batch_ids JOB: how many subjobs of JOB have a batch id in caf's saved state (0 before the first save).
batch_ids() {
    local f="$W/$1-work/caf-job.json"
    [[ -f $f ]] || { echo 0; return; }
    $PY -c 'import json,sys; print(sum(1 for s in json.load(open(sys.argv[1]))["subjobs"] if s.get("batch_id")))' "$f"
}

wait_for() { # wait_for SECONDS COMMAND...: until COMMAND succeeds
    local end=$((SECONDS + $1)); shift
    until "$@"; do
        ((SECONDS < end)) || return 1
        sleep 0.2
    done
}

for backend in slurm pbs; do
    ids=("$(outside $backend)" "$(outside $backend)")
    wait_for 60 test "$(user_jobs)" -ge 2 || fail "$backend: the outside jobs never showed up"
    cat > "$backend.json" <<JSON
{"name": "$backend", "command": "bash", "args": ["-c", "echo done > out.txt"], "working_dir": "$backend-work",
 "output_dir": "$backend-out", "backend": "$backend", "output_patterns": ["out.txt"],
 "split": {"arg_sets": [["a"], ["b"], ["c"]]},
 "backend_settings": {"poll_interval_s": 0.3, "exit_file_grace_s": 5},
 "policy": {"global_job_limit": 2, "global_job_check_interval_s": 0.5}}
JSON
    "$CAF" jobs submit "$backend.json" --wait > "$backend.log" 2>&1 &
    caf_pid=$!
    wait_for 60 grep -q "held back: waiting for the user's job limit: 2 jobs in $backend, global_job_limit 2" \
        "$backend.log" || { cat "$backend.log"; fail "$backend: caf never said it waits for the user's limit"; }
    # Several counts later (one every 0.5 s), still nothing of caf's in the batch system.
    sleep 3
    [[ $(batch_ids "$backend") == 0 ]] || fail "$backend: caf submitted past the user's limit"
    [[ $(user_jobs) == 2 ]] || fail "$backend: the batch system holds $(user_jobs) jobs, not the 2 outside ones"
    kill -0 "$caf_pid" || { cat "$backend.log"; fail "$backend: caf ended while held back"; }
    if [[ $backend == slurm ]]; then scancel "${ids[@]}"; else qdel "${ids[@]}"; fi
    rc=0
    wait "$caf_pid" || rc=$?
    [[ $rc == 0 ]] || { cat "$backend.log"; fail "$backend: caf exited $rc once the outside jobs ended"; }
    grep -q "submitting again: the user's jobs in $backend are under global_job_limit 2" "$backend.log" ||
        { cat "$backend.log"; fail "$backend: no word of submitting again"; }
    for i in 0 1 2; do
        [[ $(cat "$backend-out/$i/out.txt") == done ]] || fail "$backend: subjob $i left no output"
    done
    echo "ok ($backend): held back while outside jobs filled global_job_limit, submitted once they ended"
done

# ---- a campaign: caf status and the heartbeat say what it waits for ----
make_toy
cat > campaign.yaml <<YAML
output_dir: out
backend: slurm
backend_settings: {poll_interval_s: 0.3, exit_file_grace_s: 5}
poll_interval: 0.2
heartbeat: 0.5
job_policy: {global_job_limit: 1, global_job_check_interval: 1}
calibrations:
  - name: held
    collector: ExampleHitCollector
    input_files: ["toy/toy_e0001_r00001_*.h5"]
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {object: hits}
YAML
id=$(outside slurm)
wait_for 60 test "$(user_jobs)" -ge 1 || fail "campaign: the outside job never showed up"
"$CAF" run campaign.yaml > run.log 2>&1 &
run_pid=$!
wait_for 60 grep -q "held: iteration 0: collector subjobs held back: waiting for the user's job limit: 1 jobs in slurm" \
    run.log || { cat run.log; fail "campaign: no heartbeat line about the user's limit"; }
"$CAF" status out > status.txt || { cat status.txt; fail "caf status failed"; }
grep -q "held back: waiting for the user's job limit: 1 jobs in slurm, global_job_limit 1" status.txt ||
    { cat status.txt; fail "caf status does not say what the calibration waits for"; }
grep -Eq "subjobs: [0-9]+ total, 0 completed, 0 running, 0 submitted, [1-9][0-9]* waiting" status.txt ||
    { cat status.txt; fail "campaign: subjobs submitted past the limit"; }
"$CAF" status out --json | $PY -c 'import json,sys; c=json.load(sys.stdin)["calibrations"][0]; assert "user'"'"'s job limit" in c["held_back"], c'
scancel "$id"
rc=0
wait "$run_pid" || rc=$?
[[ $rc == 0 ]] || { cat run.log; fail "campaign: caf run exited $rc"; }
"$CAF" status out > status.txt
! grep -q "held back" status.txt || { cat status.txt; fail "a finished run still says it is held back"; }
echo "ok (campaign): caf status and the heartbeat name the user's job limit while held back"
