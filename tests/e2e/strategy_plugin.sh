#!/usr/bin/env bash
# Strategy plugins end to end: the example FixedBlocks (examples/FixedBlocks) chosen by `strategy:` in a
# campaign gives one payload per block of runs, resumes without executing again, and its parameters are
# checked by `caf config check` with FILE:LINE:COLUMN (the plugin loaded in a child process, so a plugin
# crashing while loaded is reported, not fatal). A strategy plugin that crashes while it runs fails its
# calibration with the plugin named while the others finish (the algorithm phase runs in a driver child).
set -euo pipefail
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
source "$CAF_SOURCE_DIR/tests/support/campaign_fixture.sh"
cd "$W"
make_toy

# 1. FixedBlocks in a campaign: experiments 1 and 2 with runs 1-4 each, run 2.2 ignored. Blocks of 3 runs:
#    exp 1 {1,2,3} (IoV to the run before 1.4) and {4}; exp 2 {1,3,4} alone (2.2 ignored, so one block).
cat > blocks.yaml <<YAML
output_dir: out
poll_interval: 0.2
calibrations:
  - name: blocks
    collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {value: 2.0}
        strategy: FixedBlocks
        strategy_parameters: {block_size: 3}
    input_files: ["toy/*.h5"]
    ignored_runs: [[2, 2]]
  - name: fine
    collector: ExampleHitCollector
    algorithms: [TestAlgorithms:test]
    input_files: ["toy/*_r00004_*.h5"]
YAML
"$CAF" config check blocks.yaml > check.txt || fail "config check: $(cat check.txt)"
grep -q "algorithm TestAlgorithms:test: FixedBlocks" check.txt || fail "summary: $(cat check.txt)"
"$CAF" run blocks.yaml 2> run.log || fail "run: $(cat run.log)"
iovs=$(awk '{print $3}' out/blocks/iteration_0/database/database.txt | tr '\n' ' ')
[ "$iovs" = "1,1,1,3 1,4,1,4 2,1,2,4 " ] || fail "FixedBlocks IoVs: [$iovs]"
[ "$(cat out/blocks/iteration_0/0_TestAlgorithms_test_iov_gaps.json)" = "[]" ] || fail "gaps"
"$CAF" status out > status.txt
grep -q "^blocks: completed" status.txt || fail "status: $(cat status.txt)"
# A second run on the finished output executes nothing again.
"$CAF" run blocks.yaml 2> again.log || fail "second run: $(cat again.log)"
if grep -q "execution 0 on runs" again.log; then fail "executed again: $(cat again.log)"; fi

# 2. Parameters checked against the plugin's declarations, each at its value.
cat > bad.yaml <<'YAML'
output_dir: bad_out
calibrations:
  - name: blocks
    collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:test
        strategy: FixedBlocks
        strategy_parameters: {block_size: three, colour: red}
      - plugin: TestAlgorithms:test
        strategy: NoSuchStrategy
    input_files: ["toy/*.h5"]
YAML
if "$CAF" config check bad.yaml 2> bad.log; then fail "a bad strategy parameter passed the check"; fi
for what in "bad.yaml:8:43: calibration 'blocks': algorithm 'TestAlgorithms:test': strategy FixedBlocks: parameter block_size expects an int, got 'three'" \
    "bad.yaml:8:58: .*strategy FixedBlocks has no parameter 'colour'" \
    "bad.yaml:10:19: .*strategy 'NoSuchStrategy' is neither a built-in" "3 problems found"; do
    grep -Eq "$what" bad.log || fail "no problem matching '$what' in: $(cat bad.log)"
done
if "$CAF" run bad.yaml 2> badrun.log; then fail "caf run accepted a bad strategy parameter"; fi
[ ! -e bad_out ] || fail "caf run created the output of a bad campaign"

# 3. A strategy plugin that crashes as it is loaded: the check says so and caf itself survives.
cat > crash_check.yaml <<'YAML'
output_dir: crash_out
calibrations:
  - name: crash
    collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:test
        strategy: CrashingStrategy:Crash
    input_files: ["toy/*.h5"]
YAML
"$CAF" config check crash_check.yaml > /dev/null || fail "CrashingStrategy does not crash when loaded normally"
set +e
CAF_TEST_CRASH_ON_LOAD=1 "$CAF" config check crash_check.yaml 2> crash_check.log
rc=$?
set -e
[ "$rc" = 1 ] || fail "config check of a crashing plugin exited $rc: $(cat crash_check.log)"
grep -q "crash_check.yaml:7:19: .*strategy plugin CrashingStrategy:Crash (.*CrashingStrategy.so) crashed while being checked" \
    crash_check.log || fail "crash on load: $(cat crash_check.log)"

# 4. A strategy plugin crashing while it runs fails its calibration only, with the plugin named.
sed -e 's/^output_dir: out$/output_dir: crash_run/' -e 's/strategy: FixedBlocks/strategy: CrashingStrategy:Crash/' \
    -e '/strategy_parameters: {block_size: 3}/d' blocks.yaml > crash_run.yaml
if "$CAF" run crash_run.yaml 2> crash_run.log; then fail "a crashing strategy plugin completed"; fi
"$CAF" status crash_run > crash_status.txt
grep -q "^fine: completed" crash_status.txt || fail "the other calibration: $(cat crash_status.txt)"
# (under AddressSanitizer the SIGSEGV is caught and the driver exits with status 1 instead)
grep -Eq "^blocks: failed, iteration 0: algorithm TestAlgorithms:test under strategy plugin CrashingStrategy:Crash: the algorithm driver \(process [0-9]+\) (was killed by signal 11|exited with status 1)" \
    crash_status.txt || fail "crash reason: $(cat crash_status.txt)"
grep -q "execution 0: IoV 1,1,1,1, ok" crash_status.txt || fail "the execution before the crash: $(cat crash_status.txt)"
echo "strategy plugins: ok"
