#!/usr/bin/env bash
# Algorithm hooks and descriptor versions: the pre_algorithm hook (basf2 pre_algorithms) is called in every
# execution's process with its iteration, before setup_experiment and calibrate, and a failing one fails
# the execution with its message; `caf algo list` shows each algorithm's hooks and descriptor version;
# plugins built against descriptor versions 1 and 2 still load and run; `caf config check` (and caf run,
# before anything starts) loads the algorithm plugins in a child process, so a missing setup_experiment
# hook, a plugin that crashes while loading and an algorithm the plugin does not hold are problems at
# the algorithm's line, and a valid campaign's summary shows the hooks.
set -euo pipefail
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
source "$CAF_SOURCE_DIR/tests/support/campaign_fixture.sh"
cd "$W"
make_toy

# --- caf algo list: hooks and versions ------------------------------------------------------------
"$CAF" algo list TestAlgorithms:test > list.txt
grep -q "^hooks: calibrate, boundary_setup, is_boundary_required, boundary_teardown, setup_experiment, pre_algorithm (descriptor version 3)$" list.txt ||
    fail "hooks not listed: $(cat list.txt)"
"$CAF" algo list OldAbiAlgorithms --json > old.json
$PY - old.json <<'PYEOF'
import json, sys
algs = {a["name"]: a for a in json.load(open(sys.argv[1]))}
assert algs["v1"]["abi_version"] == 1 and algs["v1"]["hooks"] == ["calibrate"], algs["v1"]
assert algs["v2"]["abi_version"] == 2 and algs["v2"]["hooks"] == ["calibrate", "setup_experiment"], algs["v2"]
PYEOF

# --- a campaign: pre_algorithm with the iteration; old plugins run --------------------------------
cat > campaign.yaml <<YAML
output_dir: out
poll_interval: 0.2
calibrations:
  - name: iter
    collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {result: ITERATE}
        strategy: SequentialRunByRun
        strategy_parameters: {has_experiment_settings: true}
    input_files: ["toy/*_r00001_*.h5", "toy/*_r00002_*.h5"]
    max_files_per_collector_job: 8
    max_iterations: 1
  - name: old
    collector: ExampleHitCollector
    algorithms:
      - plugin: OldAbiAlgorithms:v2
        strategy: SequentialRunByRun
        strategy_parameters: {has_experiment_settings: true}
      - plugin: OldAbiAlgorithms:v1
    input_files: ["toy/*_r00001_*.h5"]
    max_files_per_collector_job: 4
YAML
"$CAF" config check campaign.yaml > check.txt || { cat check.txt; fail "config check refused a valid campaign"; }
grep -q "^  algorithm TestAlgorithms:test: SequentialRunByRun (hooks: calibrate, boundary_setup, is_boundary_required, boundary_teardown, setup_experiment, pre_algorithm)$" check.txt &&
    grep -q "^  algorithm OldAbiAlgorithms:v1: SingleIOV (hooks: calibrate)$" check.txt ||
    fail "config check shows no hooks: $(cat check.txt)"
"$CAF" run campaign.yaml 2> "$W/log" || { cat "$W/log"; fail "caf run failed"; }
$PY - out <<'PYEOF'
import glob, json, os, sys
out = sys.argv[1]
for it in (0, 1):
    d = os.path.join(out, "iter", f"iteration_{it}", "algorithms", "0_TestAlgorithms_test")
    states = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(d, "execution_*", "state.json")))]
    assert len(states) == 4, (it, states)  # runs 1 and 2 of experiments 1 and 2
    # once per execution's process, with that execution's iteration (and setup_experiment still called)
    assert all(s["pre_algorithm_calls"] == 1 and s["pre_algorithm_iteration"] == it for s in states), (it, states)
    assert all(s["settings_exp"] == s["first_exp"] for s in states), states
PYEOF
grep -q "pre_algorithm for iteration 1" out/iter/iteration_1/algorithms/0_TestAlgorithms_test/execution_0/algorithm.log ||
    fail "no hook call in the algorithm log"

# caf algo run calls it too, with --iteration; a failing hook fails the execution with its message.
merged=out/iter/iteration_0/collector_output.sqlite
"$CAF" algo run TestAlgorithms:test --collector ExampleHitCollector --input "$merged" --iteration 4 --json > algo.json
$PY -c 'import json, sys; s = json.load(open(sys.argv[1]))["state"]; assert s["pre_algorithm_iteration"] == 4, s' algo.json
if "$CAF" algo run TestAlgorithms:test --collector ExampleHitCollector --input "$merged" \
    --param pre_algorithm_fails=true 2> fails.log; then fail "a failing pre_algorithm succeeded"; fi
grep -q "algorithm TestAlgorithms:test: pre_algorithm (iteration 0): failing in pre_algorithm as asked" fails.log ||
    fail "not explained: $(cat fails.log)"
# Without the hook, --experiment-settings still fails at the execution, naming it.
if "$CAF" algo run TestAlgorithms:minimal --collector ExampleHitCollector --input "$merged" --experiment-settings 1 \
    2> nohook.log; then fail "minimal has no setup_experiment hook"; fi
grep -q "has no setup_experiment hook" nohook.log || fail "not explained: $(cat nohook.log)"

# --- caf config check catches what only loading tells ---------------------------------------------
cat > bad.yaml <<YAML
output_dir: out2
calibrations:
  - name: nohook
    collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:minimal
        strategy: SequentialRunByRun
        strategy_parameters: {has_experiment_settings: true}
      - plugin: OldAbiAlgorithms:v1
        strategy: SequentialBoundaries
        strategy_parameters: {has_experiment_settings: true, payload_boundaries: [[1, 1]]}
      - plugin: TestAlgorithms:nosuch
    input_files: ["toy/*_r00001_*.h5"]
  - name: crash
    collector: ExampleHitCollector
    algorithms: [CrashingAlgorithm]
    input_files: ["toy/*_r00001_*.h5"]
YAML
set +e
"$CAF" config check bad.yaml > /dev/null 2> bad.log
code=$?
set -e
[ "$code" = 1 ] || fail "config check exit $code: $(cat bad.log)"
diff - bad.log <<'TXT' || fail "config check problems differ"
bad.yaml:6:9: calibration 'nohook': algorithm 'TestAlgorithms:minimal': has_experiment_settings is set but the algorithm has no setup_experiment hook (it has calibrate)
bad.yaml:9:9: calibration 'nohook': algorithm 'OldAbiAlgorithms:v1': has_experiment_settings is set but the algorithm has no setup_experiment hook (it has calibrate)
bad.yaml:12:9: calibration 'nohook': algorithm plugin 'TestAlgorithms' has no algorithm 'nosuch' (it has test, minimal)
bad.yaml:16:18: calibration 'crash': algorithm plugin CrashingAlgorithm: loading it crashed (signal 11, Segmentation fault)
caf: error: bad.yaml: 4 problems found
TXT
# caf run refuses the same before anything starts.
if "$CAF" run bad.yaml 2> run_bad.log; then fail "caf run accepted a missing hook"; fi
grep -q "no setup_experiment hook" run_bad.log && grep -q "nothing was submitted" run_bad.log ||
    fail "caf run: $(cat run_bad.log)"
[ ! -e out2/nohook ] || fail "caf run started the calibration"
echo ok
