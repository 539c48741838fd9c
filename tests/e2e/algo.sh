#!/usr/bin/env bash
# caf algo run / list with the test algorithms (tests/plugins/TestAlgorithms.c) on a collector output
# made by caf process with ExampleHitCollector (read through --collector): result codes and exit codes, payloads and
# commits, JSON state in and out, a crash and a timeout reported as FAILURE with the log, boundaries,
# and bad input (unknown plugin, entry point, parameter, run list, no inputs): one line, non-zero exit.
set -euo pipefail
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
PY=/usr/bin/python3
fail() { echo "FAIL: $*" >&2; exit 1; }
export CAF_PLUGIN_PATH="$CAF_BUILD_DIR/tests/plugins:$CAF_BUILD_DIR/plugins"
cd "$W"

"$CAF" gen toy toy --seed 5 --runs 3 --experiments 1 --events 200 >/dev/null
cat > collect.yaml <<'YAML'
- module: ExampleHitCollector
  params: {outputFileName: collected.sqlite}
YAML
"$CAF" process collect.yaml -i toy/*.h5 --seed 1 >/dev/null
[ -f collected.sqlite ] || fail "no collector output"

expect_exit() { # expect_exit CODE COMMAND...
  local want=$1; shift
  set +e; "$@" > out.txt 2> err.txt; local rc=$?; set -e
  [ "$rc" -eq "$want" ] || { cat out.txt err.txt >&2; fail "exit $rc instead of $want: $*"; }
}

# result codes: exit 0 for OK/ITERATE (committed), 1 for NOT_ENOUGH_DATA/FAILURE (not committed)
for r in OK ITERATE NOT_ENOUGH_DATA FAILURE; do
  want=0; [ "$r" = OK ] || [ "$r" = ITERATE ] || want=1
  expect_exit "$want" "$CAF" algo run TestAlgorithms:test --input collected.sqlite --collector ExampleHitCollector --db "db_$r" \
    --param result="$r" --param payloads=2 --json
  $PY - "$r" <<'PYEOF'
import json, sys
o = json.load(open("out.txt"))
r = sys.argv[1]
assert o["result"] == r, o["result"]
assert o["result_code"] == ["OK", "ITERATE", "NOT_ENOUGH_DATA", "FAILURE"].index(r)
assert o["committed"] == (r in ("OK", "ITERATE")), o
assert [p["name"] for p in o["payloads"]] == ["TestConstants", "TestConstants1"]
assert o["runs"] == [[1, 1], [1, 2], [1, 3]] and o["iov"] == [1, 1, 1, 3], (o["runs"], o["iov"])
assert o["state"]["executions"] == 1
PYEOF
done
[ "$(wc -l < db_OK/database.txt)" -eq 2 ] || fail "OK did not commit 2 payloads"
"$CAF" db check db_ITERATE >/dev/null
[ ! -s db_FAILURE/database.txt ] || fail "FAILURE committed payloads"

# text output: result, payloads with IoVs, state
"$CAF" algo run TestAlgorithms:test --input collected.sqlite --collector ExampleHitCollector --runs 1:2 --param payload_iov=0,0,-1,-1 > text.txt 2>/dev/null
grep -q "^result     OK (0)" text.txt || fail "text output lacks the result"
grep -q "TestConstants .*0,0,-1,-1" text.txt || fail "text output lacks the payload IoV"
grep -q '^state      {"executions":1' text.txt || fail "text output lacks the state"

# JSON state: written by one execution, read by the next
"$CAF" algo run TestAlgorithms:test --input collected.sqlite --collector ExampleHitCollector --state-out s1.json >/dev/null 2>&1
"$CAF" algo run TestAlgorithms:test --input collected.sqlite --collector ExampleHitCollector --state s1.json --state-out s2.json --iteration 1 >/dev/null 2>&1
$PY -c 'import json; s=json.load(open("s2.json")); assert s["executions"]==2 and s["iteration"]==1, s'

# a crash and a hang: FAILURE with the log, exit 1, nothing committed
expect_exit 1 "$CAF" algo run TestAlgorithms:test --input collected.sqlite --collector ExampleHitCollector --db crashdb --param action=crash
grep -q "signal 11" err.txt || fail "crash not reported: $(cat err.txt)"
grep -q "crashing on purpose" err.txt || fail "the crashed algorithm's log is not shown"
[ ! -s crashdb/database.txt ] || fail "a crash committed payloads"
expect_exit 1 "$CAF" algo run TestAlgorithms:test --input collected.sqlite --collector ExampleHitCollector --param action=hang --timeout 3 --json
$PY -c 'import json; o=json.load(open("out.txt")); assert o["crashed"] and "timed out" in o["message"] and "hanging on purpose" in o["log"], o'

# boundaries: with a preset list, sorted and without duplicates
"$CAF" algo run TestAlgorithms:test --input collected.sqlite --collector ExampleHitCollector --boundaries --param object=hits \
  --param boundary_shift=1000 --param 'preset_boundaries=["1:3", "1:2", "1:3"]' --json > bounds.json
$PY -c 'import json; o=json.load(open("bounds.json")); assert o["boundaries"]==[[1,1],[1,2],[1,3]], o["boundaries"]'

# bad input: one line naming the culprit, non-zero exit
expect_exit 1 "$CAF" algo run NoSuchPlugin:x --input collected.sqlite
grep -q "NoSuchPlugin" err.txt || fail "unknown plugin not named"
expect_exit 1 "$CAF" algo run NoEntryPoint:x --input collected.sqlite
grep -q "caf_algorithm_plugin_v1" err.txt || fail "missing entry point not named: $(cat err.txt)"
expect_exit 1 "$CAF" algo run TestAlgorithms:test --input collected.sqlite --collector ExampleHitCollector --param colour=blue
grep -q "colour" err.txt || fail "unknown parameter not named"
expect_exit 1 "$CAF" algo run TestAlgorithms:test --input collected.sqlite --collector ExampleHitCollector --param object=nothing_here --json
$PY -c 'import json; o=json.load(open("out.txt")); assert o["result"]=="FAILURE" and "nothing_here" in o["message"], o'
expect_exit 1 "$CAF" algo run TestAlgorithms:test --input collected.sqlite --collector ExampleHitCollector --runs 7:7 --json
$PY -c 'import json; o=json.load(open("out.txt")); assert o["result"]=="NOT_ENOUGH_DATA", o
assert "run 7,7 was requested but never collected" in o["log"], o["log"]' 
expect_exit 2 "$CAF" algo run TestAlgorithms:test --input collected.sqlite --collector ExampleHitCollector --runs 1-2
expect_exit 2 "$CAF" algo run TestAlgorithms:test
expect_exit 2 "$CAF" algo fly
expect_exit 1 "$CAF" algo run TestAlgorithms:test --input missing.sqlite
grep -q "missing.sqlite" err.txt || fail "missing input not named"
[ "$(wc -l < err.txt)" -eq 1 ] || fail "error is not one line: $(cat err.txt)"
"$CAF" algo --help | grep -q "PLUGIN:ALGORITHM" || fail "no help"
echo "caf algo ok"
