#!/usr/bin/env bash
# HTCondor without a shared file system, against fake condor_* commands that print the documented
# output formats (condor_submit -terse, condor_q/condor_history -json; tests/support/fake_htcondor.py)
# and run each job in a scratch folder of its own with only the files the submit description transfers.
#  - transfer_files: the subjobs' inputs and scripts are transferred, the command sees its inputs by base
#    name in the scratch folder, outputs and logs come back into the subjob folder and the outputs end in
#    the output folder; the script names no submit-side path
#  - a held subjob is reported with its HoldReason, removed with condor_rm and retried; one held every
#    time fails with the reason in caf jobs status
#  - the shared-file-system mode still works through the same fake
#  - input_sandbox files are transferred with the job, from the copy in the subjob's folder
set -euo pipefail
: "${CAF:?}" "${CAF_SOURCE_DIR:?}"
PY=/usr/bin/python3
W=$(mktemp -d "${TMPDIR:-/tmp}/caf-e2e-htcondor.XXXXXX")
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$W"
$PY "$CAF_SOURCE_DIR/tests/support/fake_htcondor.py" --install "$W/bin"
export PATH="$W/bin:$PATH" FAKE_CONDOR_DIR="$W/condor"
mkdir -p condor "in put"
echo alpha > "in put/a.txt"
echo beta > "in put/b.txt"

# write_job INPUT_FOLDER TRANSFER [POLICY]: two subjobs, one input each. The command checks (in transfer
# mode) that it got bare names of files in its working folder, copies each input to an output file and
# says where it ran.
write_job() {
    cat > job.json <<JSON
{"name": "xfer", "command": "sh",
 "args": ["-c", "for f; do case \$f in */*) [ \"\$CHECK_BARE\" = 0 ] || { echo \"not a bare name: \$f\" >&2; exit 9; };; esac; [ -r \"\$f\" ] || exit 8; cp -- \"\$f\" \"out-\${f##*/}\"; done; echo \"ran in \$PWD\"", "sh"],
 "input_files": ["$1/a.txt", "$1/b.txt"],
 "env": {"CHECK_BARE": "$([ "$2" = true ] && echo 1 || echo 0)"},
 "split": {"max_files_per_subjob": 1},
 "output_patterns": ["out-*"],
 "output_dir": "results",
 "backend": "htcondor",
 "backend_settings": {"transfer_files": $2, "poll_interval_s": 0.2, "exit_file_grace_s": 5,
                      "extra_lines": ["+CafTest = True"]},
 "retry": {"max_retries": 2},
 "policy": {"poll_interval_s": 0.2${3:-}}}
JSON
}
# The input folder's name has a space: transfer_input_files cannot carry it, and caf says so.
write_job "$W/in put" true ', "max_refusals": 1'
if "$CAF" jobs submit job.json --wait > refused.out 2> refused.err; then fail "an unsafe input name was accepted"; fi
grep -q "cannot be named in HTCondor's transfer_input_files" refused.err refused.out || fail "no clear refusal: $(cat refused.err)"
rm -rf xfer results condor/*

mv "in put" inputs
write_job "$W/inputs" true
FAKE_CONDOR_HOLD=1 "$CAF" jobs submit job.json --wait > xfer.out 2> xfer.err || { cat xfer.err; fail "the transfer-mode job failed"; }
grep -q "job xfer: completed" xfer.out || fail "not completed: $(cat xfer.out)"
[ "$(cat results/0/out-a.txt)" = alpha ] || fail "subjob 0's output did not come back"
[ "$(cat results/1/out-b.txt)" = beta ] || fail "subjob 1's output did not come back"
grep -q "ran in $W/condor/execute/dir_" xfer/subjobs/0/stdout || fail "subjob 0 did not run in a scratch folder"
[ ! -e xfer/subjobs/0/caf-return ] || fail "caf-return was left in the subjob folder"
for s in xfer/subjobs/*/caf-transfer-run.sh; do
    ! grep -qF "$W" "$s" || fail "$s names a submit-side path"
done
# What HTCondor was given: files transferred both ways, no shared file system assumed.
cat condor/submits/*.sub > submitted
grep -q '^should_transfer_files = YES$' submitted || fail "no file transfer asked for"
grep -q "^transfer_input_files = caf-transfer-run.sh, $W/inputs/a.txt$" submitted || fail "inputs not transferred"
grep -q '^transfer_output_files = caf-return, stdout, stderr$' submitted || fail "results not transferred back"
grep -q '^transfer_output_remaps = ' submitted || fail "logs not remapped"
grep -q '^+CafTest = True$' submitted || fail "extra_lines missing"
! grep -q 'should_transfer_files = NO' submitted || fail "a submission assumed a shared file system"
grep -q '^condor_submit -terse -$' condor/calls || fail "condor_submit without -terse"
grep -q '^condor_q -json -attributes ' condor/calls || fail "condor_q without -json"
# The held first attempt: its reason reported, the job removed, the subjob retried.
grep -q "held by HTCondor: Error from slot1@fake-node: Job has gone over memory limit" xfer.err ||
    fail "the hold reason was not reported: $(cat xfer.err)"
grep -q '^condor_rm 1\.0$' condor/calls || fail "the held job was not removed: $(cat condor/calls)"
"$CAF" jobs status job.json --json | $PY -c '
import json, sys
s = json.load(sys.stdin)
attempts = sorted(sub["attempt"] for sub in s["subjobs"])
assert s["status"] == "completed" and attempts == [1, 2], s'

# Held every time: failed after its retries, the hold reason in caf jobs status.
rm -rf xfer results condor/*
if FAKE_CONDOR_HOLD_ALWAYS=subjobs/1 "$CAF" jobs submit job.json --wait > held.out 2> held.err; then
    fail "a job held every time succeeded"
fi
"$CAF" jobs status job.json > held.status || true
grep -q "subjob 1: failed after 3 attempts: held by HTCondor: Error from slot1@fake-node" held.status ||
    fail "caf jobs status does not say why: $(cat held.status)"
[ "$(grep -c '^condor_rm ' condor/calls)" = 3 ] || fail "each held attempt must be removed: $(cat condor/calls)"

# The shared-file-system mode through the same fake: queue N over the driver script.
rm -rf xfer results condor/*
write_job "$W/inputs" false
"$CAF" jobs submit job.json --wait > shared.out 2> shared.err || { cat shared.err; fail "the shared-mode job failed"; }
grep -q '^should_transfer_files = NO$' condor/submits/*.sub || fail "shared mode asked for a transfer"
grep -q '^queue 2$' condor/submits/*.sub || fail "shared mode did not queue 2"
# input_sandbox in transfer mode: the file is copied into the subjob's folder at submission and goes with
# it in transfer_input_files; the command reads it by name in its scratch folder. The original is removed
# right after the submission, and the retry of the held first attempt still has it.
rm -rf xfer results condor/*
echo gamma > sandbox.conf
cat > sandbox.json <<JSON
{"name": "xfer", "command": "sh", "args": ["-c", "cat sandbox.conf > out-sandbox.txt"],
 "input_sandbox": ["sandbox.conf"], "output_patterns": ["out-*"], "output_dir": "results", "backend": "htcondor",
 "backend_settings": {"transfer_files": true, "poll_interval_s": 0.2, "exit_file_grace_s": 5},
 "retry": {"max_retries": 2}, "policy": {"poll_interval_s": 0.2}}
JSON
FAKE_CONDOR_HOLD=1 "$CAF" jobs submit sandbox.json > sandbox.out 2> sandbox.err || { cat sandbox.err; fail "sandbox: submit"; }
rm sandbox.conf
FAKE_CONDOR_HOLD=1 "$CAF" jobs submit sandbox.json --wait >> sandbox.out 2>> sandbox.err ||
    { cat sandbox.err; fail "the sandbox job failed once its original was gone"; }
[ "$(cat results/0/out-sandbox.txt)" = gamma ] || fail "the sandbox file did not reach the job"
grep -q '^transfer_input_files = caf-transfer-run.sh, sandbox.conf$' condor/submits/*.sub ||
    fail "the sandbox file is not transferred: $(grep transfer_input condor/submits/*.sub)"
[ "$(cat xfer/caf-sandbox/sandbox.conf)" = gamma ] || fail "no snapshot of the sandbox"
grep -q '^condor_rm 1\.0$' condor/calls || fail "the first attempt was not held and removed"
"$CAF" jobs status sandbox.json --json | $PY -c '
import json, sys
s = json.load(sys.stdin)
assert s["status"] == "completed" and s["subjobs"][0]["attempt"] == 2, s'

# caf config check: HTCondor settings of the wrong type and unknown keys at FILE:LINE:COLUMN.
cat > bad.yaml <<'YAML'
output_dir: out
backend: htcondor
backend_settings:
  transfer_files: "yes"
  request_memory: lots
  extra_lines: ["a = 1", 7]
  universe: vanilla
  unverse: docker
calibrations:
  - name: a
    collector: ExampleHitCollector
    algorithms: [ExampleGainAlgorithm]
    input_files: ["bad.yaml"]
    backend_settings: {getenv: 1}
YAML
if "$CAF" config check bad.yaml > check.out 2> check.err; then fail "bad HTCondor settings passed the check"; fi
grep -q '^bad.yaml:4:19: backend htcondor: backend_settings of htcondor: "transfer_files" must be true or false$' check.err ||
    fail "transfer_files: $(cat check.err)"
grep -q '^bad.yaml:5:19: .*"request_memory" must be a number of MiB' check.err || fail "request_memory: $(cat check.err)"
grep -q '^bad.yaml:6:16: .*"extra_lines" must be a list of strings' check.err || fail "extra_lines: $(cat check.err)"
grep -q '^bad.yaml:8:12: .*unknown key "unverse"' check.err || fail "unknown key: $(cat check.err)"
grep -q "^bad.yaml:14:32: calibration 'a': .*\"getenv\" must be true or false" check.err || fail "getenv: $(cat check.err)"
! grep -q ':7:' check.err || fail "a valid key was reported: $(cat check.err)"
echo "htcondor_transfer: ok"
