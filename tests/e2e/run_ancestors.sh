#!/usr/bin/env bash
# Ancestors' payloads, as basf2 chains them: with c depending on b and b on a, c's collector job and
# algorithm find a payload only a wrote; a calibration depending on both a and b (listed in that order)
# finds b's payload first, because the nearest ancestor (the latest in the campaign's dependency order)
# comes first; the resolved chain is logged, recorded in the iteration folder and shown by caf status.
set -euo pipefail
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
source "$CAF_SOURCE_DIR/tests/support/campaign_fixture.sh"
cd "$W"
make_toy

# a: TestConstants = 10 and TestConstants1 = 11; b (after a): TestConstants = 20.
# c (after b): reads TestConstants1 (only a has it): 0 + 11. d (after a and b): reads TestConstants: 0 + 20.
cat > campaign.yaml <<YAML
output_dir: out
poll_interval: 0.2
calibrations:
  - name: d
    collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {read_payload: TestConstants, value: 0.0}
    input_files: ["toy/*_r00001_*.h5"]
    max_files_per_collector_job: 4
    depends_on: [a, b]
  - name: c
    collector: ExampleHitCollector
    pre_collector:
      - module: TestChainReader
        parameters: {payload: TestConstants1, log: $W/c_collector.log}
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {read_payload: TestConstants1, value: 0.0}
    input_files: ["toy/*_r00001_*.h5"]
    max_files_per_collector_job: 4
    depends_on: [b]
  - name: b
    collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {value: 20.0}
    input_files: ["toy/*_r00001_*.h5"]
    max_files_per_collector_job: 4
    depends_on: [a]
  - name: a
    collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {payloads: 2, value: 10.0}
    input_files: ["toy/*_r00001_*.h5"]
    max_files_per_collector_job: 4
YAML

"$CAF" run campaign.yaml 2> "$W/log" || { cat "$W/log"; fail "caf run failed"; }
"$CAF" status out --json > "$W/status.json"
"$CAF" status out > "$W/status.txt"
$PY - "$W" <<'PYEOF'
import json, os, sys
w = sys.argv[1]
out = os.path.realpath(os.path.join(w, "out"))
def db(cal):
    return os.path.join(out, cal, "iteration_0", "database")
def value(cal):
    (line,) = open(os.path.join(db(cal), "database.txt")).read().split("\n")[:-1]
    name, rev, _ = line.split()
    f = next(f for f in os.listdir(db(cal)) if f.startswith(f"dbstore_{name.split('/')[1]}_rev_{rev}."))
    return json.load(open(os.path.join(db(cal), f)))["value"]
assert value("c") == 11.0, value("c")   # a's TestConstants1, reached through b
assert value("d") == 20.0, value("d")   # b's TestConstants before a's: the nearest ancestor first

# c's collector job looked TestConstants1 up in a's final database.
lookups = {tuple(l.split()[:2]): l.split() for l in open(os.path.join(w, "c_collector.log"))}
assert lookups and all(os.path.realpath(l[3]) == db("a") for l in lookups.values()), lookups

s = json.load(open(os.path.join(w, "status.json")))
cals = {c["name"]: c for c in s["calibrations"]}
assert all(c["state"] == "completed" for c in cals.values()), cals
def chain(cal):
    return [(os.path.realpath(e["database"]), e["source"]) for e in cals[cal]["database_chain"]]
assert chain("c") == [(db("c"), "iteration 0 output"), (db("b"), "b (depends_on)"), (db("a"), "a (ancestor)")], chain("c")
assert chain("d") == [(db("d"), "iteration 0 output"), (db("b"), "b (depends_on)"), (db("a"), "a (depends_on)")], chain("d")
assert chain("a") == [(db("a"), "iteration 0 output")], chain("a")
PYEOF
grep -q "c: iteration 0: database chain (first match wins): .*/out/c/iteration_0/database (iteration 0 output), .*/out/b/iteration_0/database (b (depends_on)), .*/out/a/iteration_0/database (a (ancestor))" "$W/log" ||
    fail "no chain line in the log: $(grep 'database chain' "$W/log")"
grep -A2 '^c: ' "$W/status.txt" | grep -q "^  database chain: .*/out/c/iteration_0/database (iteration 0 output)" &&
    grep -A3 '^c: ' "$W/status.txt" | grep -q "^ \{18\}/.*/out/b/iteration_0/database (b (depends_on))" &&
    grep -A4 '^c: ' "$W/status.txt" | grep -q "^ \{18\}/.*/out/a/iteration_0/database (a (ancestor))" ||
    fail "no chain in the text status: $(cat "$W/status.txt")"
echo "ok"
