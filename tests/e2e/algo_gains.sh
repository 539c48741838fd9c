#!/usr/bin/env bash
# The whole gain calibration chain on toy data: caf gen toy -> caf process with ExampleHitCollector ->
# caf algo run ExampleGainAlgorithm:gains, run by run, checked against the toy's truth.json: every live
# channel's fitted gain within 5 uncertainties of the true gain and the pulls distributed as they should
# (mean near 0, spread near 1), dead channels flagged. Also NOT_ENOUGH_DATA on a short run, the JSON
# state and payloads read back through --chain, and the payload committed with the run's IoV.
set -euo pipefail
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
PY=/usr/bin/python3
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$W"

"$CAF" gen toy toy --seed 7 --runs 4 --experiments 1 >/dev/null
cat > collect.yaml <<'YAML'
- module: ExampleHitCollector
  params: {outputFileName: collected.sqlite}
YAML
"$CAF" process collect.yaml -i toy/*.h5 --seed 3 >/dev/null
[ -f collected.sqlite ] || fail "the collector wrote no output"

# the algorithm documents itself
"$CAF" algo list ExampleGainAlgorithm | grep -q "min_entries" || fail "algo list lacks the parameters"
"$CAF" algo list | grep -q "ExampleGainAlgorithm:gains" || fail "algo list lacks the example"

# one execution per run (gains drift from run to run and jump at hv_change); run 3 is short
for run in 1 2 4; do
  "$CAF" algo run ExampleGainAlgorithm:gains --input collected.sqlite --runs "1:$run" --db "db$run" \
    --state-out "state$run.json" --json > "run$run.json" || fail "run 1:$run did not end OK"
done
$PY - toy/truth.json <<'PYEOF'
import glob, json, math, sys
truth = json.load(open(sys.argv[1]))
dead = set(truth["dead_channels"])
pulls = []
for run in (1, 2, 4):
    out = json.load(open(f"run{run}.json"))
    assert out["result"] == "OK" and out["result_code"] == 0, out["result"]
    assert out["committed"] and len(out["payloads"]) == 1, out
    p = out["payloads"][0]
    assert p["name"] == "ExampleGains" and p["iov"] == [1, run, 1, run], p
    files = glob.glob(f"db{run}/dbstore_ExampleGains_rev_{p['revision']}.json")
    assert len(files) == 1, files
    gains = json.load(open(files[0]))
    true = next(r for r in truth["runs"] if r["exp"] == 1 and r["run"] == run)["gain"]
    assert len(gains["gain"]) == truth["n_channels"]
    for c, (g, e, d) in enumerate(zip(gains["gain"], gains["gain_error"], gains["dead"])):
        assert bool(d) == (c in dead), f"run {run} channel {c}: dead flag {d}"
        if d:
            continue
        assert 0 < e < 0.01, f"run {run} channel {c}: uncertainty {e}"
        pull = (g - true[c]) / e
        assert abs(pull) < 5, f"run {run} channel {c}: gain {g} +- {e}, true {true[c]} (pull {pull:.1f})"
        pulls.append(pull)
    state = json.load(open(f"state{run}.json"))
    assert state["calibrated_channels"] == truth["n_channels"] - len(dead), state
mean = sum(pulls) / len(pulls)
rms = math.sqrt(sum((x - mean) ** 2 for x in pulls) / len(pulls))
assert abs(mean) < 0.3 and 0.7 < rms < 1.4, (mean, rms)
print(f"{len(pulls)} gains, pull mean {mean:.2f}, rms {rms:.2f}")
PYEOF

# a short run has too few entries per channel for the default minimum: NOT_ENOUGH_DATA, exit 1, no commit
set +e
"$CAF" algo run ExampleGainAlgorithm:gains --input collected.sqlite --runs 1:3 --db db3 \
  --param min_entries=1000 --json > short.json
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "NOT_ENOUGH_DATA should exit 1, got $rc"
$PY -c 'import json,sys; o=json.load(open("short.json")); assert o["result"]=="NOT_ENOUGH_DATA" and not o["committed"] and "fewer than 1000" in o["message"], o["message"]'
[ ! -s db3/database.txt ] || fail "NOT_ENOUGH_DATA committed something"

# the next calibration reads the previous payload through the chain and reports how far gains moved
"$CAF" algo run ExampleGainAlgorithm:gains --input collected.sqlite --runs 1:1 --iov 1,0,1,-1 --db wide >/dev/null 2>&1
"$CAF" algo run ExampleGainAlgorithm:gains --input collected.sqlite --runs 1:2 --chain wide --state state1.json \
  --json > chained.json
$PY -c 'import json; o=json.load(open("chained.json")); c=o["state"]["largest_change"]; assert 0 < c < 0.05, c'

# merging runs 1 and 2 (before the high-voltage change) gives one payload spanning both
"$CAF" algo run ExampleGainAlgorithm:gains --input collected.sqlite --runs 1:2,1:1 --json > merged.json
$PY -c 'import json; o=json.load(open("merged.json")); assert o["runs"]==[[1,1],[1,2]] and o["iov"]==[1,1,1,2], o'
echo "gains recovered"
