#!/usr/bin/env bash
# caf plan: the plan of the shipped toy campaign (examples/toy_campaign.yaml) matches what `caf run` then
# does: collector jobs per collection and the files of each job, the runs the algorithms get, each
# strategy's IoVs (SingleIOV/SimpleRunByRun/SequentialBoundaries exactly, SequentialRunByRun's
# per-experiment spans), every database chain and the dependency waves; the plan writes nothing but the
# file-index cache; on the finished folder everything is done, and after a `caf reset` the plan says what
# remains and resolves the chain the rerun records. Bad input: no or a missing config, a bad --iov, a
# campaign with a problem, a calibration whose inputs hold nothing, a configuration changed since the
# folder was started.
set -euo pipefail
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export CAF_PLUGIN_PATH="$CAF_BUILD_DIR/plugins:$CAF_BUILD_DIR/tests/plugins"
PY=/usr/bin/python3
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$W"
cp "$CAF_SOURCE_DIR/examples/toy_campaign.yaml" .
cp -r "$CAF_SOURCE_DIR/examples/python_algorithms" .
"$CAF" gen toy toy --seed 7 --events 5000 >/dev/null

# expect CODE PATTERN CMD...: exit code CODE and PATTERN in stderr
expect() {
    local code=$1 pattern=$2 rc=0
    shift 2
    "$@" >out.txt 2>err.txt || rc=$?
    [ "$rc" = "$code" ] || { cat out.txt err.txt; fail "$* exited $rc, expected $code"; }
    grep -q -- "$pattern" err.txt || { cat err.txt; fail "$*: no '$pattern' in stderr"; }
}

# ---- bad input ----
expect 2 "expected one campaign file" "$CAF" plan
expect 1 "missing.yaml" "$CAF" plan missing.yaml
expect 2 "caf plan: --iov" "$CAF" plan toy_campaign.yaml --iov 1,2
expect 2 "caf plan: --iov" "$CAF" plan toy_campaign.yaml --iov 2,0,1,0
expect 2 "empty IoV" "$CAF" plan toy_campaign.yaml --iov -1,-1,-1,-1
expect 2 "unrecognized option\|unknown option" "$CAF" plan toy_campaign.yaml --bogus
sed 's/max_iterations: 8/max_iterations: -3/' toy_campaign.yaml > broken.yaml
expect 1 "broken.yaml:[0-9]*:[0-9]*: .*max_iterations" "$CAF" plan broken.yaml
[ ! -e toy_results ] || fail "a refused plan created the output folder"
"$CAF" plan --help | grep -q "usage: caf plan CONFIG" || fail "caf plan --help"

# ---- the plan writes nothing but the file-index cache ----
# The listings live outside the scanned folder: "find . | sort > before.txt" races the redirect's
# creation of before.txt against find's directory read, so the listing itself came and went.
LISTS=$(mktemp -d)
trap 'rm -rf "$W" "$LISTS"' EXIT
find . | sort > "$LISTS/before.txt"
"$CAF" plan toy_campaign.yaml --json > plan.json 2>plan.err || { cat plan.err; fail "caf plan --json"; }
find . | sort > "$LISTS/after.txt"
new=$(comm -13 "$LISTS/before.txt" "$LISTS/after.txt" | grep -v -e '^./plan.json$' -e '^./plan.err$' | tr '\n' ' ')
[ "$new" = "./toy_results ./toy_results/file_index.sqlite " ] || fail "the plan wrote: $new"
"$CAF" plan toy_campaign.yaml > plan.txt || fail "caf plan (text)"
grep -q "^time: wave 1, iteration 0 (max_iterations 8), depends on gain" plan.txt || { cat plan.txt; fail "text plan"; }
grep -q "collection bhabha (ExampleHitCollector): 8 input files (8 from the index cache)" plan.txt ||
    { cat plan.txt; fail "text plan: the second plan did not use the index cache"; }

# ---- the run does what the plan said ----
"$CAF" run toy_campaign.yaml 2> run.log || { cat run.log; fail "caf run"; }
$PY - plan.json toy_results <<'PYEOF'
import json, os, sqlite3, sys
plan = json.load(open(sys.argv[1]))
out = sys.argv[2]
db = sqlite3.connect(os.path.join(out, "caf-state.sqlite"))
def iov(text):
    return [int(x) for x in text.split(",")]
assert plan["earlier_run"] is False and plan["problems"] is False, plan
names = [c["name"] for c in plan["calibrations"]]
assert names == ["status", "gain", "gain_python", "gain_hv", "gain_skims", "time"], names
waves = {c["name"]: c["wave"] for c in plan["calibrations"]}
assert waves == {"status": 0, "gain": 0, "gain_python": 0, "gain_hv": 0, "gain_skims": 0, "time": 1}, waves
# a calibration of wave 1 started only after its dependency completed
started = db.execute("SELECT MIN(rowid) FROM transitions WHERE calibration = 'time' AND to_state = 'running_collector'").fetchone()[0]
completed = db.execute("SELECT MIN(rowid) FROM transitions WHERE calibration = 'gain' AND to_state = 'completed'").fetchone()[0]
assert completed < started, (completed, started)
for cal in plan["calibrations"]:
    name = cal["name"]
    assert cal["remaining"] == "everything: not started" and cal["done"] is None, cal
    # collector jobs: one row per subjob, numbered across the collections in order, with its file count
    rows = db.execute("SELECT collection, files FROM subjobs WHERE calibration = ? AND iteration = 0 ORDER BY idx",
                      (name,)).fetchall()
    planned = []
    for col in cal["collections"]:
        jobs = col["jobs"]
        assert jobs["count"] == len(jobs["subjobs"]) and jobs["backend"] == "local", jobs
        label = col["name"] if len(cal["collections"]) > 1 else ""
        planned += [(label, s["files"]) for s in jobs["subjobs"]]
    assert rows == planned, (name, rows, planned)
    # the runs the algorithms got: every execution's runs together (iteration 0)
    runs = set()
    for (text,) in db.execute("SELECT runs FROM executions WHERE calibration = ? AND iteration = 0", (name,)):
        runs |= {tuple(r) for r in json.loads(text)}
    assert sorted(runs) == [tuple(r) for r in cal["runs"]], (name, sorted(runs), cal["runs"])
    # the chain the run recorded for iteration 0
    recorded = json.load(open(os.path.join(out, name, "iteration_0", "database_chain.json")))
    assert recorded == cal["database_chain"], (name, recorded, cal["database_chain"])
    for alg in cal["algorithms"]:
        committed = [iov(t) for (t,) in db.execute(
            "SELECT iov FROM executions WHERE calibration = ? AND iteration = 0 AND algorithm = ? AND committed = 1 "
            "ORDER BY idx", (name, alg["index"]))]
        if alg["known"] in ("exact", "segments"):
            assert committed == alg["iovs"], (name, alg, committed)
        elif alg["known"] == "spans":
            for span in alg["iovs"]:
                inside = [c for c in committed if c[0] == span[0]]
                assert inside[0][:2] == span[:2] and inside[-1][2:] == span[2:], (name, span, inside)
        else:
            raise AssertionError((name, alg))
strategies = {c["name"]: c["algorithms"][0]["known"] for c in plan["calibrations"]}
assert strategies == {"status": "exact", "gain": "spans", "gain_python": "spans", "gain_hv": "segments", "gain_skims": "segments",
                      "time": "segments"}, strategies
chain = [e["source"] for e in plan["calibrations"][5]["database_chain"]]
assert chain == ["iteration 0 output", "gain (depends_on)"], chain
PYEOF

# ---- on the finished folder: everything done, nothing written ----
md5sum toy_results/caf-state.sqlite > state.md5
find toy_results | sort > before.txt
"$CAF" plan toy_campaign.yaml --json > done.json || fail "caf plan on the finished folder"
find toy_results | sort > after.txt
cmp -s before.txt after.txt || { diff before.txt after.txt; fail "the plan changed the finished folder"; }
md5sum -c --quiet state.md5 || fail "the plan changed the state database"
$PY - done.json <<'PYEOF'
import json, sys
plan = json.load(open(sys.argv[1]))
assert plan["earlier_run"] is True, plan
for cal in plan["calibrations"]:
    assert cal["done"]["state"] == "completed", cal
    assert cal["remaining"].startswith("nothing: completed at iteration"), cal
time = plan["calibrations"][5]
assert time["done"]["iteration"] >= 1 and time["iteration"] == time["done"]["iteration"], time
PYEOF

# ---- after a reset: what remains, and the chain the rerun records ----
"$CAF" reset toy_results time --iteration 1 >/dev/null 2>&1
"$CAF" plan toy_campaign.yaml --json > reset.json || fail "caf plan after a reset"
"$CAF" plan toy_campaign.yaml > reset.txt
grep -q "remaining: iteration 1: 4 of 4 collector subjobs still to finish, then the algorithms" reset.txt ||
    { cat reset.txt; fail "text plan after a reset"; }
"$CAF" run toy_campaign.yaml 2> rerun.log || { cat rerun.log; fail "caf run after the reset"; }
$PY - reset.json toy_results <<'PYEOF'
import json, os, sys
plan = json.load(open(sys.argv[1]))
time = plan["calibrations"][5]
assert time["iteration"] == 1 and time["done"]["state"] == "running_collector", time
chain = [e["source"] for e in time["database_chain"]]
assert chain == ["iteration 1 output", "iteration 0 output", "gain (depends_on)"], chain
recorded = json.load(open(os.path.join(sys.argv[2], "time", "iteration_1", "database_chain.json")))
assert recorded == time["database_chain"], (recorded, time["database_chain"])
assert all(c["done"]["state"] == "completed" for c in plan["calibrations"][:5])
PYEOF

# ---- a changed configuration is refused as caf run refuses it ----
sed 's/tolerance: 0.01/tolerance: 0.02/' toy_campaign.yaml > changed.yaml
expect 1 "calibration 'time' changed since it started" "$CAF" plan changed.yaml
expect 1 "requested IoV changed" "$CAF" plan toy_campaign.yaml --iov 1,0,1,-1

# ---- a calibration whose inputs hold nothing inside --iov: planned with its problem, exit 1 ----
sed 's#output_dir: toy_results#output_dir: iov_results#' toy_campaign.yaml > iov.yaml
expect 1 "caf run would fail it" "$CAF" plan iov.yaml --iov 5,0,5,-1
grep -q "PROBLEM: caf run would fail this calibration: collector input: the 8 input files hold no run inside the requested IoV 5,0,5,-1" out.txt ||
    { cat out.txt; fail "the input problem is not shown"; }
"$CAF" plan iov.yaml --iov 1,2,1,3 --json > iov.json || fail "caf plan --iov"
$PY - iov.json <<'PYEOF'
import json, sys
plan = json.load(open(sys.argv[1]))
assert plan["iov"] == "1,2,1,3", plan["iov"]
status = plan["calibrations"][0]
assert status["runs"] == [[1, 2], [1, 3]], status["runs"]
assert status["collections"][0]["runs_outside_iov"] == 6, status["collections"][0]
assert status["algorithms"][0]["iovs"] == [[1, 2, 1, 2], [1, 3, 1, 3]], status["algorithms"][0]
PYEOF
echo "PASS"
