#!/usr/bin/env bash
# Campaign and path files a hostile or careless user writes: every relative path is relative to the
# campaign file wherever caf starts (config check and run, output_dir included); empty inputs, null and
# empty names, and conditions the engine cannot parse are refused with FILE:LINE:COLUMN by config check
# and by caf run, which then creates nothing; alias bombs, alias cycles and deep nesting are refused at
# once with their place; under a memory limit a valid campaign still passes and running out of memory
# is an error, never a pass. The reproducers of issue 12 are kept in tests/data/reproducers.
set -euo pipefail
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
source "$CAF_SOURCE_DIR/tests/support/campaign_fixture.sh"
DATA="$CAF_SOURCE_DIR/tests/data"
CORPUS="$CAF_SOURCE_DIR/fuzz/corpus" # the alias bombs and deep nesting are fuzzing seeds too
cd "$W"
fails=0
check() { # check DESCRIPTION EXPECTED ACTUAL
    if [ "$2" != "$3" ]; then echo "FAIL: $1: expected [$2], got [$3]"; fails=$((fails + 1)); fi
}
status() { set +e; "$@" >/dev/null 2>&1; local rc=$?; set -e; echo $rc; }

# Plugins as config check and the run's check look for them: NAME.so on the plugin path.
mkdir -p fakeplugins
for p in TutorialCollector TutorialAlgorithm TriggerSkim C A; do touch "fakeplugins/$p.so"; done

# 1. The reproducers: each refused at its place, by config check and by caf run, which creates nothing.
for name in quiet-config-empty-name quiet-config-null-output-dir quiet-config-bad-precollector-condition; do
    mkdir -p "rep/$name/toy"
    cp "$DATA/reproducers/$name/campaign.yaml" "rep/$name/"
    touch "rep/$name/toy/run1.h5"
done
check "empty name" "rep/quiet-config-empty-name/campaign.yaml:3:11: calibration 1: name: must not be empty
caf: error: rep/quiet-config-empty-name/campaign.yaml: 1 problem found" \
    "$("$CAF" config check rep/quiet-config-empty-name/campaign.yaml --plugin-path fakeplugins 2>&1 || true)"
check "null output_dir" "rep/quiet-config-null-output-dir/campaign.yaml:1:12: output_dir: expected a string, found null
caf: error: rep/quiet-config-null-output-dir/campaign.yaml: 1 problem found" \
    "$("$CAF" config check rep/quiet-config-null-output-dir/campaign.yaml --plugin-path fakeplugins 2>&1 || true)"
check "bad pre-collector condition" "rep/quiet-config-bad-precollector-condition/campaign.yaml:8:27: calibration 't0': pre_collector module 1: condition 1: module TriggerSkim: '=== 1' is not a condition (an operator <, <=, >, >=, ==, != and an integer, or true/false)
caf: error: rep/quiet-config-bad-precollector-condition/campaign.yaml: 1 problem found" \
    "$("$CAF" config check rep/quiet-config-bad-precollector-condition/campaign.yaml --plugin-path fakeplugins 2>&1 || true)"
for name in quiet-config-empty-name quiet-config-null-output-dir quiet-config-bad-precollector-condition; do
    before=$(cd "rep/$name" && find . | sort)
    check "$name: caf run exits 1" 1 "$(status "$CAF" run "rep/$name/campaign.yaml" --plugin-path fakeplugins)"
    check "$name: caf run created nothing" "$before" "$(cd "rep/$name" && find . | sort)"
done
"$CAF" run rep/quiet-config-bad-precollector-condition/campaign.yaml --plugin-path fakeplugins 2>run.log || true
grep -q "campaign.yaml:8:27: calibration 't0': pre_collector module 1: condition 1: .*'=== 1' is not a condition" run.log ||
    { echo "FAIL: caf run's message: $(cat run.log)"; fails=$((fails + 1)); }

# 2. Empty inputs, each refused at its place; caf run creates no output folder.
mkdir -p inputs/only_folders/a.h5 inputs/lists inputs/data
touch inputs/data/run1.h5
printf '# nothing here\n\n' >inputs/lists/empty.txt
printf 'data/run1.h5\n' >inputs/good.txt
printf '\n../data\n' >inputs/lists/folder.txt
cat >inputs/campaign.yaml <<'YAML'
output_dir: out
calibrations:
  - name: none
    collector: C
    algorithms: [A]
    input_files: []
  - name: nolists
    collector: C
    algorithms: [A]
    input_files: data/run1.h5
    input_file_lists: []
  - name: folders
    collector: C
    algorithms: [A]
    input_files: ["only_folders/*.h5"]
  - name: emptylist
    collector: C
    algorithms: [A]
    input_file_lists: [lists/empty.txt, good.txt]
  - name: folderlist
    collector: C
    algorithms: [A]
    input_file_lists: lists/folder.txt
  - name: nulls
    collector: C
    algorithms: [A]
    input_files: [~]
    database_chain: ''
YAML
expected="inputs/campaign.yaml:6:18: calibration 'none': input_files: the list is empty
inputs/campaign.yaml:11:23: calibration 'nolists': input_file_lists: the list is empty
inputs/campaign.yaml:15:19: calibration 'folders': input_files: 'only_folders/*.h5' matches no regular file (only folders or special files)
inputs/campaign.yaml:19:24: calibration 'emptylist': input_file_lists: inputs/lists/empty.txt names no file
inputs/campaign.yaml:23:23: calibration 'folderlist': input_file_lists: inputs/lists/folder.txt:2 names '../data', which is not a regular file
inputs/campaign.yaml:27:19: calibration 'nulls': input_files: expected a string, found null
inputs/campaign.yaml:28:21: calibration 'nulls': database_chain: must not be empty
caf: error: inputs/campaign.yaml: 7 problems found"
check "empty inputs" "$expected" "$("$CAF" config check inputs/campaign.yaml --plugin-path fakeplugins 2>&1 || true)"
check "empty inputs: caf run exits 1" 1 "$(status "$CAF" run inputs/campaign.yaml --plugin-path fakeplugins)"
[ ! -e inputs/out ] || { echo "FAIL: caf run created its output folder before refusing the inputs"; fails=$((fails + 1)); }

# 3. Alias bombs, alias cycles and deep nesting: refused at once, with the place, for campaigns and paths.
check "campaign alias bomb" "$CORPUS/campaign_yaml/alias-bomb.yaml:7:10: aliases expand to more than 100000 nodes (at alias *a4); write the values out or use fewer aliases" \
    "$("$CAF" config check "$CORPUS/campaign_yaml/alias-bomb.yaml" 2>&1 | head -1)"
check "campaign alias cycle" "$CORPUS/campaign_yaml/cycle.yaml:3:19: alias *c is inside the node it names (a cycle)" \
    "$("$CAF" config check "$CORPUS/campaign_yaml/cycle.yaml" 2>&1 | head -1)"
check "campaign nesting" "$CORPUS/campaign_yaml/deep.yaml:3:114: nested deeper than 100 levels" \
    "$("$CAF" config check "$CORPUS/campaign_yaml/deep.yaml" 2>&1 | head -1)"
check "path alias bomb" "caf: error: $CORPUS/path_yaml/alias-bomb.yaml:9:14: aliases expand to more than 100000 nodes (at alias *a4); write the values out or use fewer aliases" \
    "$("$CAF" process "$CORPUS/path_yaml/alias-bomb.yaml" -i none.h5 2>&1 | head -1)"
check "path nesting" "caf: error: $CORPUS/path_yaml/deep.yaml:3:112: nested deeper than 100 levels" \
    "$("$CAF" process "$CORPUS/path_yaml/deep.yaml" -i none.h5 2>&1 | head -1)"
/usr/bin/python3 -c 'n = 80000; print("output_dir: x\ncalibrations: " + "[" * n + "]" * n)' >deeper.yaml
check "80000 levels" "deeper.yaml:2:114: nested deeper than 100 levels" "$("$CAF" config check deeper.yaml 2>&1 | head -1)"

# 4. Path files given to caf process: null names and bad conditions are refused at their place.
printf -- '- module: ~\n' >nullmodule.yaml
check "path null module" "caf: error: nullmodule.yaml:1:11: 'module' must be a non-empty text" \
    "$("$CAF" process nullmodule.yaml -i none.h5 2>&1 | head -1)"
printf -- '- module: Prescale\n  conditions: [{if: "=== 1"}]\n' >badcondition.yaml
check "path bad condition" "caf: error: badcondition.yaml:2:21: module Prescale: '=== 1' is not a condition (an operator <, <=, >, >=, ==, != and an integer, or true/false)" \
    "$("$CAF" process badcondition.yaml -i none.h5 2>&1 | head -1)"

# 5. Every relative path is relative to the campaign file, wherever caf starts: a run started from
#    another folder writes into the campaign's folder, and a run started beside it resumes that run.
W="$W/project"
mkdir -p "$W" "$W/db" elsewhere
: >"$W/db/database.txt"
make_toy
make_wrapper
cat >"$W/campaign.yaml" <<YAML
output_dir: results
poll_interval: 0.2
calibrations:
  - name: single
    collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {object: hits, min_entries: 1}
    input_files: ["toy/*.h5"]
    database_chain: [db]
YAML
(cd elsewhere && "$CAF" config check ../project/campaign.yaml) >check.out 2>&1 || { cat check.out; fails=$((fails + 1)); }
check "summary names the folder" "output_dir: results (../project/results)" "$(sed -n 2p check.out)"
(cd elsewhere && "$CAF" run ../project/campaign.yaml) 2>run1.log || { cat run1.log; echo "FAIL: run from elsewhere"; fails=$((fails + 1)); }
[ -f "$W/results/caf-state.sqlite" ] || { echo "FAIL: no state in the campaign's folder"; fails=$((fails + 1)); }
[ ! -e elsewhere/results ] || { echo "FAIL: the run wrote into the current folder"; fails=$((fails + 1)); }
starts=$(wc -l <"$W/starts")
(cd "$W" && "$CAF" run campaign.yaml) 2>run2.log || { cat run2.log; echo "FAIL: second run"; fails=$((fails + 1)); }
check "the second run started no subjob" "$starts" "$(wc -l <"$W/starts")"
[ ! -e "$W/../results" ] || { echo "FAIL: a results folder outside the campaign's"; fails=$((fails + 1)); }

# 6. Under a memory limit a valid campaign still passes, and one whose (legal) parameters do not fit is an
#    error, never a pass. Sanitizer builds reserve terabytes of address space and cannot run under ulimit -v.
if [ "${CAF_SANITIZE:-OFF}" != "ON" ]; then
    cp "$W/campaign.yaml" "$W/small.yaml"
    check "valid under 200 MB" 0 "$(cd "$W" && status bash -c "ulimit -v 200000; exec \"\$0\" config check small.yaml" "$CAF")"
    /usr/bin/python3 - "$W/big.yaml" <<'PYEOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write("output_dir: results\ncalibrations:\n  - name: big\n    collector:\n      plugin: ExampleHitCollector\n")
    f.write("      parameters:\n        values: [")
    f.write(", ".join(["1"] * 3000000))
    f.write("]\n    algorithms: [TestAlgorithms:test]\n    input_files: [\"toy/*.h5\"]\n")
PYEOF
    set +e
    (cd "$W" && bash -c "ulimit -v 200000; exec \"\$0\" config check big.yaml" "$CAF") >big.out 2>&1
    rc=$?
    set -e
    check "out of memory exits 1" 1 "$rc"
    grep -q "out of memory" big.out || { echo "FAIL: no out-of-memory message: $(head -3 big.out)"; fails=$((fails + 1)); }
fi

if [ "$fails" -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "config hardening: all checks passed"
