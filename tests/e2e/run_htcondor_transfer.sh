#!/usr/bin/env bash
# caf run on HTCondor without a shared file system, against fake condor_* commands that print the
# documented output formats and run each collector job in a scratch folder of its own with only the
# files its submit description transfers (tests/support/fake_htcondor.py): the campaign of
# run_campaign.sh completes with the hand-derived IoVs although its first collector job is held (the
# hold is reported, the job removed and retried). A calibration whose collector job is held every time
# fails, and caf status names the hold reason.
set -euo pipefail
: "${CAF:?}" "${CAF_SOURCE_DIR:?}" "${CAF_BUILD_DIR:?}"
W=$(mktemp -d "${TMPDIR:-/tmp}/caf-e2e-run-htcondor.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$W"' EXIT
source "$CAF_SOURCE_DIR/tests/support/campaign_fixture.sh"
$PY "$CAF_SOURCE_DIR/tests/support/fake_htcondor.py" --install "$W/bin"
export PATH="$W/bin:$PATH" FAKE_CONDOR_DIR="$W/condor"
mkdir -p "$W/condor"
cd "$W"
make_toy
make_wrapper
settings="backend: htcondor
backend_settings: {transfer_files: true, poll_interval_s: 0.2, exit_file_grace_s: 5}"
write_campaign "$W/condor.yaml" out "$settings"
"$CAF" config check condor.yaml > /dev/null || fail "the campaign does not check"

FAKE_CONDOR_HOLD=1 "$CAF" run condor.yaml 2> run.log || { tail -30 run.log; fail "the HTCondor run failed"; }
check_results "$W/out"
grep -q "held by HTCondor: Error from slot1@fake-node" run.log || fail "the hold was not reported: $(tail run.log)"
grep -q '^condor_rm 1\.0$' condor/calls || fail "the held job was not removed"
grep -q '^should_transfer_files = YES$' condor/submits/0001.sub || fail "no file transfer asked for"
! grep -q 'should_transfer_files = NO' condor/submits/*.sub || fail "a collector job assumed a shared file system"
[ -z "$(find out -name caf-return -o -name 'caf-return.std*')" ] || fail "transferred files were left behind"

# Held every time: the calibration fails, and caf status says why.
rm -rf out condor/*
cat > held.yaml <<YAML
output_dir: out
$settings
calibrations:
  - name: gain
    collector: ExampleHitCollector
    algorithms: [ExampleGainAlgorithm]
    input_files: ["toy/*.h5"]
    max_collector_jobs: 2
YAML
if FAKE_CONDOR_HOLD_ALWAYS=subjobs/1 "$CAF" run held.yaml 2> held.log; then fail "a run held every time succeeded"; fi
"$CAF" status out > status.txt || fail "caf status failed"
grep -q "^gain: failed.*held by HTCondor: Error from slot1@fake-node: Job has gone over memory limit" status.txt ||
    fail "caf status does not name the hold: $(cat status.txt)"
grep -q "subjob 1 (attempt 3, failed): held by HTCondor" status.txt || fail "no subjob line: $(cat status.txt)"
echo ok
