#!/usr/bin/env bash
# Algorithm time and memory limits in a campaign: `caf config check` refuses bad time_limit,
# memory_limit, algorithm_time_limit, algorithm_memory_limit and max_parallel_algorithms values with
# FILE:LINE:COLUMN; in a run, an algorithm that hangs past its time_limit and one that eats memory past
# the campaign's algorithm_memory_limit fail their calibrations with a reason naming the limit, their logs
# kept, while an independent calibration completes (its message holding a byte that is not UTF-8).
set -euo pipefail
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
source "$CAF_SOURCE_DIR/tests/support/campaign_fixture.sh"
cd "$W"

# ---- the configuration check ----
mkdir plugins && touch plugins/C.so plugins/A.so data.h5
cat > bad.yaml <<'YAML'
output_dir: bad
max_parallel_algorithms: 0
algorithm_time_limit: -3
algorithm_memory_limit: lots
calibrations:
  - name: gain
    collector: C
    algorithms:
      - plugin: A
        time_limit: 0
        memory_limit: -1
      - plugin: A
        time_limit: soon
        memory_limit: [1]
      - {plugin: A, time_limit: 2.5, memory_limit: "2G"}
    input_files: [data.h5]
YAML
set +e
CAF_PLUGIN_PATH="$W/plugins" "$CAF" config check bad.yaml > check.out 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || fail "config check exit $rc: $(cat check.out)"
cat > check.want <<'TEXT'
bad.yaml:2:26: max_parallel_algorithms: must be at least 1, not 0
bad.yaml:3:23: algorithm_time_limit: must be more than 0 seconds, not -3
bad.yaml:4:25: algorithm_memory_limit: expected MiB or a size such as "2G" (more than 0), found 'lots'
bad.yaml:10:21: calibration 'gain': algorithm 1: time_limit: must be more than 0 seconds, not 0
bad.yaml:11:23: calibration 'gain': algorithm 1: memory_limit: must be more than 0 MiB, not -1
bad.yaml:13:21: calibration 'gain': algorithm 2: time_limit: expected a number, found 'soon'
bad.yaml:14:23: calibration 'gain': algorithm 2: memory_limit: expected MiB or a size such as "2G", found a list
TEXT
grep -v '^caf: error' check.out | diff check.want - || fail "config check problems differ"
ls bad 2>/dev/null && fail "config check created the output folder"

# ---- a run ----
make_toy
cat > limits.yaml <<YAML
output_dir: out
poll_interval: 0.2
algorithm_memory_limit: 256M
calibrations:
  - name: hang
    collector: ExampleHitCollector
    algorithms:
      - {plugin: TestAlgorithms:test, parameters: {action: hang}, time_limit: 2}
    input_files: ["toy/*_e0001_r00001_*.h5"]
    max_files_per_collector_job: 2
  - name: hungry
    collector: ExampleHitCollector
    algorithms:
      - {plugin: TestAlgorithms:test, parameters: {action: eat_memory, eat_limit_mb: 4096}}
    input_files: ["toy/*_e0001_r00001_*.h5"]
    max_files_per_collector_job: 2
  - name: fine
    collector: ExampleHitCollector
    algorithms:
      - {plugin: TestAlgorithms:test, parameters: {binary_output: true}}
    input_files: ["toy/*_e0001_r00002_*.h5"]
    max_files_per_collector_job: 2
YAML
ls toy/*_e0001_r00001_*.h5 >/dev/null || fail "toy file names changed: $(ls toy)"
set +e
"$CAF" run limits.yaml 2> run.log
rc=$?
set -e
[ "$rc" = 1 ] || { cat run.log; fail "caf run exit $rc, expected 1"; }
"$CAF" status out --json > status.json
$PY - status.json <<'PYEOF'
import json, sys
cals = {c["name"]: c for c in json.load(open(sys.argv[1]))["calibrations"]}
assert cals["fine"]["state"] == "completed", cals["fine"]
(e,) = cals["fine"]["algorithms"][0]["executions"]
assert e["message"] == "a message with a ? byte", e  # bytes that are not UTF-8 reach the state as '?'
hang, hungry = cals["hang"], cals["hungry"]
assert hang["state"] == "failed" and "timed out after 2 s" in hang["reason"], hang
assert hungry["state"] == "failed" and "memory limit" in hungry["reason"], hungry
assert "256 MiB" in hungry["reason"] or "may have hit its memory limit" in hungry["reason"], hungry
for c in (hang, hungry):
    (e,) = c["algorithms"][0]["executions"]
    assert e["result"] == "failure" and not e["committed"], e
PYEOF
grep -q 'hanging on purpose' out/hang/iteration_0/algorithms/0_TestAlgorithms_test/execution_0/algorithm.log ||
    fail "the hanging algorithm's log was not kept"
grep -q 'eating memory on purpose' out/hungry/iteration_0/algorithms/0_TestAlgorithms_test/execution_0/algorithm.log ||
    fail "the hungry algorithm's log was not kept"
grep -q 'hang (algorithm TestAlgorithms:test: SingleIOV: .*timed out after 2 s' run.log || fail "no reason in: $(tail -3 run.log)"
echo "ok"
