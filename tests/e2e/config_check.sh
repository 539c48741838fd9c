#!/usr/bin/env bash
# caf config check end to end: a valid campaign's summary (text and JSON), every problem of a bad one with
# FILE:LINE:COLUMN, plugins looked up on $CAF_PLUGIN_PATH, exit codes.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fails=0
check() { # check DESCRIPTION EXPECTED ACTUAL
  if [ "$2" != "$3" ]; then echo "FAIL: $1: expected [$2], got [$3]"; fails=$((fails + 1)); fi
}
status() { set +e; "$@" >/dev/null 2>&1; local rc=$?; set -e; echo $rc; }

mkdir -p campaign/data campaign/db plugins
touch campaign/data/run1.h5 campaign/data/run2.h5 "campaign/data/run 3.h5" campaign/db/database.txt
printf 'data/run1.h5\n' >campaign/t0-files.txt
for p in GainCollector T0Collector TriggerSkim; do touch "plugins/$p.so"; done
# Algorithm plugins are loaded (in a child process) to check their hooks: these must be real ones.
for p in GainAlgorithm T0Algorithm; do cp "$CAF_BUILD_DIR/plugins/ExampleGainAlgorithm.so" "plugins/$p.so"; done
cat >campaign/good.yaml <<'YAML'
output_dir: results
backend: local
heartbeat: 2
calibrations:
  - name: gain
    collector: {plugin: GainCollector, parameters: {bins: 10}}
    pre_collector:
      - {module: TriggerSkim, parameters: {triggerLines: [bhabha]}}
    algorithms:
      - plugin: GainAlgorithm
        strategy: SequentialRunByRun
        strategy_parameters: {step_size: 2}
    input_files: ["data/*.h5"]
    database_chain: [db]
  - name: t0
    collector: T0Collector
    algorithms: [T0Algorithm]
    input_file_lists: [t0-files.txt]
    granularity: all
    depends_on: [gain]
YAML
export CAF_PLUGIN_PATH="$work/plugins"
check "valid exits 0" 0 "$(status "$CAF" config check campaign/good.yaml)"
check "summary" "campaign/good.yaml: valid campaign with 2 calibrations
output_dir: results (campaign/results)
backend: local (heartbeat 2 s, poll_interval 1 s)
calibration gain: collector GainCollector, granularity run, 3 input files, max_iterations 5
  algorithm GainAlgorithm: SequentialRunByRun (hooks: calibrate)
calibration t0: collector T0Collector, granularity all, 1 input file, max_iterations 5
  algorithm T0Algorithm: SingleIOV (hooks: calibrate)
  depends on gain
wave 0: gain
wave 1: t0" "$("$CAF" config check campaign/good.yaml)"
check "json" '{"valid": true, "waves": [0, 1], "inputs": [3, 1], "strategies": ["SequentialRunByRun", "SingleIOV"]}' \
  "$("$CAF" config check --json campaign/good.yaml | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
print(json.dumps({"valid": d["valid"], "waves": [c["wave"] for c in d["calibrations"]],
                  "inputs": [c["input_files"] for c in d["calibrations"]],
                  "strategies": [c["algorithms"][0]["strategy"] for c in d["calibrations"]]}))')"

# Without the plugins on the path, each missing plugin (pre-collector modules too) is a problem at its place.
check "missing plugins" "campaign/good.yaml:6:16: calibration 'gain': collector plugin 'GainCollector' not found (no GainCollector.so in $work/campaign)
campaign/good.yaml:8:9: calibration 'gain': pre-collector module plugin 'TriggerSkim' not found (no TriggerSkim.so in $work/campaign)
campaign/good.yaml:10:9: calibration 'gain': algorithm plugin 'GainAlgorithm' not found (no GainAlgorithm.so in $work/campaign)
campaign/good.yaml:16:16: calibration 't0': collector plugin 'T0Collector' not found (no T0Collector.so in $work/campaign)
campaign/good.yaml:17:18: calibration 't0': algorithm plugin 'T0Algorithm' not found (no T0Algorithm.so in $work/campaign)
caf: error: campaign/good.yaml: 5 problems found" "$("$CAF" config check campaign/good.yaml --plugin-path "$work/campaign" 2>&1 || true)"

cat >campaign/bad.yaml <<'YAML'
output_dir: results
poll_interval: 0
calibrations:
  - name: gain
    collector: GainCollector
    algorithms:
      - {plugin: GainAlgorithm, strategy: SequentialBoundaries, strategy_parameters: {step_size: 2}}
    input_files: ["data/*.root"]
    granularity: all
    depends_on: [t0]
    max_iterations: -1
    databse_chain: [db]
  - name: t0
    collector: T0Collector
    algorithms: [T0Algorithm]
    input_files: data/run1.h5
    depends_on: [gain]
YAML
check "bad exits 1" 1 "$(status "$CAF" config check campaign/bad.yaml)"
check "every problem listed" "campaign/bad.yaml:2:16: poll_interval must be more than 0 seconds
campaign/bad.yaml:7:43: calibration 'gain': algorithm 'GainAlgorithm': strategy SequentialBoundaries needs collector granularity \"run\" and refuses \"all\"
campaign/bad.yaml:7:87: calibration 'gain': algorithm 1: strategy parameter 'step_size' does not apply to SequentialBoundaries
campaign/bad.yaml:8:19: calibration 'gain': input_files: 'data/*.root' matches no file
campaign/bad.yaml:10:17: dependency cycle: gain -> t0 -> gain
campaign/bad.yaml:11:21: calibration 'gain': max_iterations must be at least 0, not -1
campaign/bad.yaml:12:5: calibration 'gain': unknown key 'databse_chain'
caf: error: campaign/bad.yaml: 7 problems found" "$("$CAF" config check campaign/bad.yaml 2>&1 || true)"
check "bad json" '7 False [10, 17]' "$("$CAF" config check campaign/bad.yaml --json | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
print(len(d["problems"]), d["valid"], [d["problems"][4]["line"], d["problems"][4]["column"]])' || true)"

cat >campaign/collections.yaml <<'YAML'
output_dir: results
calibrations:
  - name: gain
    collections:
      - name: mumu
        collector: GainCollector
        input_files: ["data/*.h5"]
      - name: mumu
        collector: GainCollector
        input_file_lists: [t0-files.txt]
      - name: bhabha
        collector: GainCollector
    algorithms: [GainAlgorithm]
    input_files: ["data/*.h5"]
YAML
check "bad collections" "campaign/collections.yaml:8:15: calibration 'gain': collection 'mumu' is defined twice (see the first one above)
campaign/collections.yaml:11:9: calibration 'gain': collection 'bhabha': no input files (give 'input_files' or 'input_file_lists')
campaign/collections.yaml:14:18: calibration 'gain': 'input_files' cannot be given beside 'collections': set it in each collection
caf: error: campaign/collections.yaml: 3 problems found" "$("$CAF" config check campaign/collections.yaml 2>&1 || true)"

cat >campaign/settings.yaml <<'YAML'
output_dir: results
defaults:
  max_iterations: 2
  colour: blue
  name: everything
calibrations:
  - name: gain
    collector: GainCollector
    algorithms: [GainAlgorithm]
    input_files: ["data/*.h5"]
    backend: cloud
    save_payloads: maybe
YAML
check "bad settings" "campaign/settings.yaml:4:3: defaults: 'colour' is not a calibration key
campaign/settings.yaml:5:3: defaults: 'name' cannot have a default
campaign/settings.yaml:11:14: calibration 'gain': backend: unknown backend 'cloud' (local, slurm, htcondor, lsf or pbs)
campaign/settings.yaml:12:20: calibration 'gain': save_payloads: expected true or false, found 'maybe'
caf: error: campaign/settings.yaml: 4 problems found" "$("$CAF" config check campaign/settings.yaml 2>&1 || true)"

check "missing file exits 1" 1 "$(status "$CAF" config check campaign/none.yaml)"
check "missing file message" "caf: error: campaign/none.yaml: No such file or directory" \
  "$("$CAF" config check campaign/none.yaml 2>&1 || true)"
check "usage error" 2 "$(status "$CAF" config check)"
check "unknown subcommand" 2 "$(status "$CAF" config frobnicate x)"
check "help" 0 "$(status "$CAF" config --help)"

if [ "$fails" -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "config check: all checks passed"
