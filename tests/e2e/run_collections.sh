#!/usr/bin/env bash
# Several collections per calibration (basf2 Calibration.add_collection): one calibration fed by two
# collections with their own inputs, job limits and pre-collector paths runs both collector jobs in one
# collector phase; its algorithm sees the objects of both merged (equal to a short-form calibration over
# the same files) and each collection's alone; caf status counts subjobs per collection; an algorithm
# asking for a collection that does not exist fails naming the ones there are.
set -euo pipefail
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
source "$CAF_SOURCE_DIR/tests/support/campaign_fixture.sh"
cd "$W"
make_toy
make_wrapper
cat > campaign.yaml <<YAML
output_dir: out
poll_interval: 0.2
calibrations:
  - name: both
    collections:
      - name: exp1
        collector: ExampleHitCollector
        input_files: ["toy/toy_e0001_*.h5"]
      - name: exp2
        collector: {plugin: ExampleHitCollector}
        input_files: ["toy/toy_e0002_*.h5"]
        max_files_per_collector_job: 4
        pre_collector:
          - module: Prescale
            parameters: {prescale: 1.0}
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {object: hits, collections: [exp1, exp2]}
    granularity: run
  - name: short
    collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {object: hits}
    input_files: ["toy/*.h5"]
    max_files_per_collector_job: 8
YAML
"$CAF" config check campaign.yaml > "$W/check" || { cat "$W/check"; fail "config check refused the campaign"; }
"$CAF" run campaign.yaml 2> "$W/log" || { cat "$W/log"; fail "caf run failed"; }
"$CAF" status out --json > "$W/status.json"
"$CAF" status out > "$W/status.txt"
$PY - "$W" <<'PYEOF'
import json, os, sys
w = sys.argv[1]
out = os.path.join(w, "out")
state = json.load(open(os.path.join(out, "both", "iteration_0", "algorithms", "0_TestAlgorithms_test",
                                   "execution_0", "state.json")))
short = json.load(open(os.path.join(out, "short", "iteration_0", "algorithms", "0_TestAlgorithms_test",
                                    "execution_0", "state.json")))
per = state["collection_entries"]
assert set(per) == {"exp1", "exp2"} and per["exp1"] > 0 and per["exp2"] > 0, state
assert per["exp1"] + per["exp2"] == state["entries"], state
# the merged objects of both collections are those of one collection over the same files
db = lambda cal: [l.split() for l in open(os.path.join(out, cal, "iteration_0", "database", "database.txt"))]
payload = lambda cal: json.load(open(next(os.path.join(out, cal, "iteration_0", "database", f)
                                          for f in os.listdir(os.path.join(out, cal, "iteration_0", "database"))
                                          if f.startswith("dbstore_TestConstants"))))
assert payload("both")["mean_entries"] == payload("short")["mean_entries"], (payload("both"), payload("short"))
assert db("both")[0][2] == "1,1,2,4", db("both")
for name in ("exp1", "exp2"):
    assert os.path.exists(os.path.join(out, "both", "iteration_0", "collections", name, "collector_output.sqlite"))
s = {c["name"]: c for c in json.load(open(os.path.join(w, "status.json")))["calibrations"]}
cols = s["both"]["collections"]
# exp1: 8 files, one per subjob; exp2: 8 files, four per subjob
assert cols["exp1"]["total"] == 8 and cols["exp1"]["completed"] == 8, cols
assert cols["exp2"]["total"] == 2 and cols["exp2"]["completed"] == 2, cols
assert s["both"]["subjobs"]["total"] == 10, s["both"]
assert s["short"]["collections"] == {} and s["short"]["subjobs"]["total"] == 2, s["short"]
PYEOF
grep -q '^    collection exp2: 2 total, 2 completed' "$W/status.txt" || fail "text status: $(cat "$W/status.txt")"
# every subjob of both collections started once, in one collector phase
[ "$(grep -c '/both/iteration_0/collections/exp1/' "$W/starts")" = 8 ] || fail "exp1 subjobs: $(cat "$W/starts")"
[ "$(grep -c '/both/iteration_0/collections/exp2/' "$W/starts")" = 2 ] || fail "exp2 subjobs: $(cat "$W/starts")"

# A second run of the finished folder is no configuration change and starts nothing.
"$CAF" run campaign.yaml 2> "$W/log2" || { cat "$W/log2"; fail "second caf run failed"; }
[ "$(wc -l < "$W/starts")" = 12 ] || fail "the second run started subjobs"

# An algorithm asking for a collection the calibration does not have fails and names those it has.
sed -e 's/collections: \[exp1, exp2\]/collections: [exp1, ghost]/' -e 's/^output_dir: out/output_dir: out2/' \
    campaign.yaml > ghost.yaml
if "$CAF" run ghost.yaml 2> "$W/log3"; then fail "a missing collection was not noticed"; fi
grep -q "no input of collection 'ghost' (there are: exp1, exp2)" "$W/log3" || { cat "$W/log3"; fail "message"; }
echo "ok"
