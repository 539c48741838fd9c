#!/usr/bin/env bash
# caf run with bad input: a bad configuration stops before anything is submitted and lists every
# problem with FILE:LINE:COLUMN; input files holding only ignored runs, input without events, an
# algorithm failing in every segment and SimpleRunByRun with runs lacking data each fail their
# calibration with a clear reason in the log and in caf status (text and JSON), dependents fail naming
# the dependency, an independent calibration still completes, and the exit code is 1. A second caf run (and a reset) on a folder in use is refused; a
# changed configuration is refused naming the calibration and keys, and caf reset lets it run again.
set -euo pipefail
W=$(mktemp -d)
bg=""
cleanup() {
    [ -z "$bg" ] || kill -9 "$bg" 2>/dev/null || true
    sleep 0.3
    rm -rf "$W"
}
trap cleanup EXIT
source "$CAF_SOURCE_DIR/tests/support/campaign_fixture.sh"
cd "$W"
make_toy
make_wrapper

# 1. Every configuration problem at once, nothing created or submitted.
cat > bad.yaml <<'YAML'
output_dir: bad_out
calibrations:
  - name: a
    collector: NoSuchCollector
    algorithms: [TestAlgorithms:test]
    input_files: ["toy/*.h5"]
    max_iterations: many
  - name: b
    collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:test
        strategy: SequentialRunByRun
    input_files: ["nothing/*.h5"]
    granularity: all
    depends_on: [c]
    colour: blue
    backend_args: {queue: long, colour: red}
YAML
if "$CAF" run bad.yaml 2> bad.log; then fail "a bad configuration ran"; fi
for what in "bad.yaml:4:16: .*NoSuchCollector" "bad.yaml:7:21: .*max_iterations" "bad.yaml:13:19: .*nothing/\*.h5" \
    "bad.yaml:12:19: .*refuses \"all\"" "bad.yaml:15:18: .*unknown calibration .c." "bad.yaml:16:5: .*colour" \
    "bad.yaml:17:19: calibration 'b': backend_args key 'colour'" "7 problems found; nothing was submitted"; do
    grep -Eq "$what" bad.log || fail "no problem matching '$what' in: $(cat bad.log)"
done
[ ! -e bad_out ] || fail "the output folder was created"
[ ! -e starts ] || fail "something was submitted"

# 2. Failures at run time.
printf -- '- module: Prescale\n  params: {prescale: 0}\n  conditions: [{if: false}]\n- module: Output\n  params: {outputFileName: x.h5}\n' > none.yaml
"$CAF" -q process none.yaml -i toy/toy_e0001_r00001_f00.h5 -o "$W/empty.h5" --seed 1
cat > runtime.yaml <<YAML
output_dir: out
poll_interval: 0.2
calibrations:
  - name: ignored
    collector: ExampleHitCollector
    algorithms: [TestAlgorithms:test]
    input_files: ["toy/*_r00001_*.h5"]
    ignored_runs: [[1, 1], [2, 1]]
  - name: noevents
    collector: ExampleHitCollector
    algorithms: [TestAlgorithms:test]
    input_files: [empty.h5]
  - name: failing
    collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {result: FAILURE, message: "no peak found"}
        strategy: SequentialRunByRun
    input_files: ["toy/*_r00002_*.h5"]
  - name: dependent
    collector: ExampleHitCollector
    algorithms: [TestAlgorithms:test]
    input_files: ["toy/*_r00002_*.h5"]
    depends_on: [failing]
  - name: simple
    collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {object: hits, min_entries: $THRESHOLD}
        strategy: SimpleRunByRun
    input_files: ["toy/*.h5"]
    max_files_per_collector_job: 4
  - name: fine
    collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {value: 4.0}
    input_files: ["toy/*_r00004_*.h5"]
YAML
if "$CAF" run runtime.yaml 2> runtime.log; then fail "a failing campaign exited 0"; fi
grep -q "5 calibrations failed" runtime.log || fail "no failure summary: $(cat runtime.log)"
grep -q "ignored: .*collector input: the 4 input files hold only runs in ignored_runs" runtime.log ||
    fail "ignored runs: $(cat runtime.log)"
grep -q "noevents: .*the 1 input files hold no events" runtime.log || fail "no events: $(cat runtime.log)"
grep -q "failing: .*SequentialRunByRun: the algorithm failed on run 1.2 (experiment 1)" runtime.log ||
    fail "failing algorithm: $(cat runtime.log)"
grep -q "dependent: .*dependency failing failed" runtime.log || fail "dependent: $(cat runtime.log)"
"$CAF" status out > status.txt
"$CAF" status out --json > status.json
grep -q "^fine: completed" status.txt || fail "fine did not complete: $(cat status.txt)"
grep -q "^failing: failed, iteration 0: algorithm TestAlgorithms:test: SequentialRunByRun: the algorithm failed" \
    status.txt || fail "status text: $(cat status.txt)"
grep -q "execution 0: IoV 1,2,1,-1, failure: no peak found" status.txt || fail "status execution: $(cat status.txt)"
$PY - status.json <<'PYEOF'
import json, sys
cals = {c["name"]: c for c in json.load(open(sys.argv[1]))["calibrations"]}
assert {n: c["state"] for n, c in cals.items()} == {"ignored": "failed", "noevents": "failed", "failing": "failed",
                                                     "dependent": "failed", "simple": "failed", "fine": "completed"}, cals
assert cals["dependent"]["reason"].startswith("dependency failing failed: algorithm TestAlgorithms:test"), cals
assert cals["ignored"]["subjobs"]["total"] == 0 and cals["dependent"]["subjobs"]["total"] == 0
assert cals["failing"]["algorithms"][0]["outcome"] == "failed"
PYEOF
grep -q "TestConstants" out/database/database.txt || fail "fine's payload is not in the merged database"
# SimpleRunByRun: the short runs lack data, the calibration fails, its database keeps the other runs.
grep -q "simple: .*SimpleRunByRun: .*1.3" runtime.log || fail "simple: $(grep simple runtime.log)"
[ "$(cut -d' ' -f3 out/simple/iteration_0/database/database.txt | tr '\n' ' ')" = \
  "1,1,1,1 1,2,1,2 1,4,1,4 2,1,2,1 2,2,2,2 2,4,2,4 " ] || fail "simple's IoVs: $(cat out/simple/iteration_0/database/database.txt)"
[ "$(wc -l < out/database/database.txt)" -eq 1 ] || fail "a failed calibration reached the merged database"

# 3. A folder in use: a second caf run and a reset are refused while the first runs.
sed -e 's/^output_dir: out/output_dir: busy/' runtime.yaml > busy.yaml
WRAPPER_DELAY=3 "$CAF" run busy.yaml 2> busy.log &
bg=$!
for _ in $(seq 1 100); do
    "$CAF" status busy --json 2>/dev/null | grep -q '"running": true' && break
    sleep 0.1
done
"$CAF" status busy | grep -q "(a caf run is active)" || fail "status does not say the run is active"
if "$CAF" run busy.yaml 2> second.log; then fail "a second caf run was let in"; fi
grep -q "is in use by another caf run" second.log || fail "second run: $(cat second.log)"
if "$CAF" reset busy fine 2> reset.log; then fail "a reset of a folder in use was let in"; fi
grep -q "in use by a caf run" reset.log || fail "reset: $(cat reset.log)"
wait "$bg" || true
bg=""

# 4. A changed configuration is refused and explained; caf reset rewinds the calibration.
sed -e 's/value: 4.0/value: 5.0/' runtime.yaml > changed.yaml
if "$CAF" run changed.yaml 2> changed.log; then fail "a changed configuration ran"; fi
grep -q "calibration 'fine' changed since it started in .*(algorithms); restore it, or start it again with \`caf reset" \
    changed.log || fail "changed: $(cat changed.log)"
starts_before=$(wc -l < starts)
"$CAF" reset out fine --iteration 0 > /dev/null
"$CAF" status out | grep -q "^fine: init, iteration 0" || fail "fine was not reset: $("$CAF" status out)"
if "$CAF" run changed.yaml 2> changed2.log; then fail "the failures went away"; fi
grep -q "^fine: completed" <("$CAF" status out) || fail "fine did not complete again: $(cat changed2.log)"
[ "$(wc -l < starts)" -gt "$starts_before" ] || fail "the reset calibration's collector did not run again"
$PY - out <<'PYEOF'
import json, os, sys
db = os.path.join(sys.argv[1], "fine", "iteration_0", "database")
(f,) = [f for f in os.listdir(db) if f.startswith("dbstore_TestConstants")]
assert json.load(open(os.path.join(db, f)))["value"] == 5.0
PYEOF
# --from algorithms keeps the collector output: nothing is submitted, the algorithm runs again.
starts_before=$(wc -l < starts)
"$CAF" reset out fine --from algorithms > /dev/null
"$CAF" status out | grep -q "^fine: collector_completed, iteration 0" || fail "fine: $("$CAF" status out)"
"$CAF" run changed.yaml 2> changed3.log || true
grep -q "fine: iteration 0: TestAlgorithms:test execution 0" changed3.log || fail "no execution: $(cat changed3.log)"
[ "$(wc -l < starts)" -eq "$starts_before" ] || fail "--from algorithms ran collector jobs"
"$CAF" reset out nosuch 2> nosuch.log && fail "reset of an unknown calibration"
grep -q "no calibration 'nosuch'" nosuch.log || fail "nosuch: $(cat nosuch.log)"
echo ok
