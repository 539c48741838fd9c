#!/usr/bin/env bash
# has_experiment_settings end to end: with it on, every execution of SequentialRunByRun and
# SequentialBoundaries has the algorithm's setup_experiment hook called with the experiment of its runs
# (the test algorithm records it in its JSON state); without it the hook is never called; `caf algo run
# --experiment-settings EXP` calls it for EXP; a campaign asking it of an algorithm without the hook is
# refused before anything starts, at the algorithm's line.
set -euo pipefail
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
source "$CAF_SOURCE_DIR/tests/support/campaign_fixture.sh"
cd "$W"
make_toy

cat > campaign.yaml <<YAML
output_dir: out
poll_interval: 0.2
heartbeat: 1
calibrations:
  - name: runbyrun
    collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {object: hits, min_entries: $THRESHOLD}
        strategy: SequentialRunByRun
        strategy_parameters: {has_experiment_settings: true}
    input_files: ["toy/*.h5"]
  - name: bounds
    collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {object: hits}
        strategy: SequentialBoundaries
        strategy_parameters: {payload_boundaries: [[1, 3], [2, 2]], has_experiment_settings: true}
    input_files: ["toy/*.h5"]
  - name: plain
    collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {object: hits, min_entries: $THRESHOLD}
        strategy: SequentialRunByRun
    input_files: ["toy/*.h5"]
YAML
"$CAF" run campaign.yaml 2> "$W/log" || { cat "$W/log"; fail "caf run failed"; }

$PY - out <<'PYEOF'
import glob, json, os, sys
out = sys.argv[1]
def states(cal):
    d = os.path.join(out, cal, "iteration_0", "algorithms", "0_TestAlgorithms_test")
    paths = sorted(glob.glob(os.path.join(d, "execution_*", "state.json")))
    assert paths, (cal, d)
    return [json.load(open(p)) for p in paths]
for cal in ("runbyrun", "bounds"):
    s = states(cal)
    assert {x["first_exp"] for x in s} == {1, 2}, (cal, s)
    assert all(x.get("settings_exp") == x["first_exp"] for x in s), (cal, s)
s = states("plain")
assert {x["first_exp"] for x in s} == {1, 2} and all("settings_exp" not in x for x in s), s
PYEOF
grep -q 'experiment settings for experiment 2' out/runbyrun/iteration_0/algorithms/0_TestAlgorithms_test/execution_*/algorithm.log \
    || fail "no hook call in the algorithm log"

# caf algo run --experiment-settings calls the hook for the experiment given.
merged=out/runbyrun/iteration_0/collector_output.sqlite
"$CAF" algo run TestAlgorithms:test --collector ExampleHitCollector --input "$merged" --runs 2:1 \
    --experiment-settings 7 --json > algo.json
$PY -c 'import json, sys; s = json.load(open(sys.argv[1]))["state"]; assert s["settings_exp"] == 7, s' algo.json
"$CAF" algo run TestAlgorithms:test --collector ExampleHitCollector --input "$merged" --runs 2:1 --json > algo.json
$PY -c 'import json, sys; s = json.load(open(sys.argv[1]))["state"]; assert "settings_exp" not in s, s' algo.json

# An algorithm without the hook: caf run loads the plugin (in a child) before anything starts and refuses
# the campaign at the algorithm's line, saying why; nothing is submitted.
cat > nohook.yaml <<YAML
output_dir: out2
poll_interval: 0.2
heartbeat: 1
calibrations:
  - name: nohook
    collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:minimal
        strategy: SequentialRunByRun
        strategy_parameters: {has_experiment_settings: true}
    input_files: ["toy/*_r00001_*.h5"]
YAML
if "$CAF" run nohook.yaml 2> "$W/log2"; then cat "$W/log2"; fail "a campaign without the hook succeeded"; fi
grep -q "nohook.yaml:8:9: calibration 'nohook': algorithm 'TestAlgorithms:minimal': has_experiment_settings is set but the algorithm has no setup_experiment hook (it has calibrate)" "$W/log2" \
    || { cat "$W/log2"; fail "no clear message for the missing hook"; }
grep -q "nothing was submitted" "$W/log2" || fail "not refused before anything started: $(cat "$W/log2")"
[ ! -e out2/nohook ] || fail "the calibration was started"
echo ok
