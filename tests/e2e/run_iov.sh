#!/usr/bin/env bash
# caf run --iov E1,R1,E2,R2 (basf2 CAF.run(iov)): only the input files holding a run inside the IoV are
# collected, only the runs inside it reach the strategies, explicit strategy IoVs (apply_iov,
# iov_coverage) are clipped to it so payloads and IoV gaps stay inside it; the IoV is part of the run's
# recorded configuration (resuming with another one, or none, is refused and explained; the same one
# resumes); caf status shows it; an IoV without input runs fails the calibrations saying so; an invalid
# --iov is a usage error.
set -euo pipefail
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
source "$CAF_SOURCE_DIR/tests/support/campaign_fixture.sh"
cd "$W"
make_toy   # experiments 1 and 2, runs 1-4 (run 3 short), two files per run

cat > campaign.yaml <<YAML
output_dir: out
poll_interval: 0.2
calibrations:
  - name: seq
    collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {object: hits, min_entries: $THRESHOLD}
        strategy: SequentialRunByRun
        strategy_parameters: {iov_coverage: [1, 0, 2, -1]}
    input_files: ["toy/*.h5"]
    max_files_per_collector_job: 2
  - name: single
    collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:test
        strategy: SingleIOV
        strategy_parameters: {apply_iov: [0, 0, -1, -1]}
    input_files: ["toy/*.h5"]
    max_files_per_collector_job: 2
  - name: simple
    collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:test
        strategy: SimpleRunByRun
    input_files: ["toy/*.h5"]
    max_files_per_collector_job: 2
YAML

# An invalid IoV is a usage error naming the problem; nothing is created.
for bad in "1,2,3" "2,0,1,5" "-1,-1,-1,-1"; do
    set +e
    "$CAF" run campaign.yaml --iov "$bad" 2> "$W/bad.log"
    code=$?
    set -e
    [ "$code" = 2 ] || fail "--iov $bad: exit $code, not 2"
    grep -q "caf run: --iov: " "$W/bad.log" || fail "--iov $bad: $(cat "$W/bad.log")"
done
[ ! -e out ] || fail "an invalid --iov created the output folder"

"$CAF" run campaign.yaml --iov 1,2,2,2 2> "$W/log" || { cat "$W/log"; fail "caf run --iov failed"; }
grep -q "calibrating only IoV 1,2,2,2" "$W/log" || fail "no IoV line in the log"
"$CAF" status out --json > "$W/status.json"
"$CAF" status out > "$W/status.txt"
grep -q "^requested IoV: 1,2,2,2" "$W/status.txt" || fail "no IoV in the text status: $(cat "$W/status.txt")"
$PY - "$W" <<'PYEOF'
import json, os, sys
w = sys.argv[1]
out = os.path.join(w, "out")
s = json.load(open(os.path.join(w, "status.json")))
assert s["iov"] == "1,2,2,2", s["iov"]
cals = {c["name"]: c for c in s["calibrations"]}
assert all(c["state"] == "completed" for c in cals.values()), cals
inside = {(1, 2), (1, 3), (1, 4), (2, 1), (2, 2)}
for cal in cals:
    # Only the files of the runs inside the IoV were collected (two per run, two per subjob).
    job = json.load(open(os.path.join(out, cal, "iteration_0", "collector", "caf-job.json")))
    files = sorted(os.path.basename(f) for sj in job["subjobs"] for f in sj["input_files"])
    want = sorted(f"toy_e{e:04d}_r{r:05d}_f{k:02d}.h5" for e, r in inside for k in range(2))
    assert files == want, (cal, files)
    assert cals[cal]["subjobs"]["total"] == 5, cals[cal]["subjobs"]
def executions(cal):
    return cals[cal]["algorithms"][0]["executions"]
def iovs(cal):
    return [tuple(int(x) for x in e["iov"].split(",")) for e in executions(cal) if e["committed"]]
# Only the runs inside reach the strategies.
assert [tuple(r) for e in executions("simple") for r in e["runs"]] == sorted(inside), executions("simple")
assert iovs("simple") == sorted((e, r, e, r) for e, r in inside), iovs("simple")
# SingleIOV: apply_iov 0,0,-1,-1 clipped to the requested IoV.
assert [sorted(tuple(r) for r in e["runs"]) for e in executions("single")] == [sorted(inside)], executions("single")
assert iovs("single") == [(1, 2, 2, 2)], iovs("single")
# SequentialRunByRun with iov_coverage 1,0,2,-1 clipped to 1,2,2,2: experiment 1 starts at 1.2 (not 1.0),
# run 1.3 is short and merges with 1.4; experiment 2 ends at 2.2 (not 2,-1).
assert iovs("seq") == [(1, 2, 1, 2), (1, 3, 1, -1), (2, 0, 2, 1), (2, 2, 2, 2)], iovs("seq")
for cal in cals:
    folder = os.path.join(out, cal, "iteration_0")
    (gaps,) = [f for f in os.listdir(folder) if f.endswith("_iov_gaps.json")]
    assert json.load(open(os.path.join(folder, gaps))) == [], (cal, gaps)
    for line in open(os.path.join(out, cal, "iteration_0", "database", "database.txt")):
        e1, r1, e2, r2 = (int(x) for x in line.split()[2].split(","))
        assert (e1, r1) >= (1, 2) and (e2, r2 if r2 >= 0 else 1 << 30) <= (2, 2), (cal, line)
PYEOF

# The IoV is part of the run's configuration: another one, or none, is refused and explained.
for other in "" "--iov 1,0,2,-1"; do
    set +e
    "$CAF" run campaign.yaml $other 2> "$W/again.log"
    code=$?
    set -e
    [ "$code" = 1 ] || fail "run with '$other' after --iov 1,2,2,2: exit $code"
    now=${other:-no --iov}
    grep -q "the requested IoV changed since .*/out was started with --iov 1,2,2,2 (now $now); run with --iov 1,2,2,2 again, or use another output_dir" "$W/again.log" ||
        fail "not explained: $(cat "$W/again.log")"
done
# The same IoV resumes the finished run: nothing new, the same database.
cp -r out/database "$W/database.before"
"$CAF" run campaign.yaml --iov 1,2,2,2 2> "$W/same.log" || { cat "$W/same.log"; fail "the same --iov was refused"; }
diff -r -x '.database.txt.lock' "$W/database.before" out/database || fail "the database changed"

# An IoV holding none of the input runs fails each calibration, saying so.
sed -i 's/^output_dir: out$/output_dir: out2/' campaign.yaml
"$CAF" run campaign.yaml --iov 5,0,5,-1 2> "$W/none.log" && fail "an IoV without input runs completed"
grep -q "seq: .*the 16 input files hold no run inside the requested IoV 5,0,5,-1 (16 runs outside it, 0 ignored)" "$W/none.log" ||
    fail "no input runs not explained: $(cat "$W/none.log")"
echo "ok"
