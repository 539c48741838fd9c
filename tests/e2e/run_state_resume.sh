#!/usr/bin/env bash
# An execution's output state (the next execution's input) is recorded with the execution's row in the
# state database, not only in the folder's state.json (written for reading, not made durable): caf run is
# SIGKILLed during the third of four SequentialRunByRun executions, every state.json is then removed (what
# a power loss may do to a file that was never synced), and the resumed run still hands each execution its
# predecessor's state: the test algorithm counts executions through it, and the last one counts four.
set -euo pipefail
W=$(mktemp -d)
pid=
source "$CAF_SOURCE_DIR/tests/support/campaign_fixture.sh"
trap cleanup_runs EXIT
cd "$W"
make_toy
cat > "$W/campaign.yaml" <<YAML
output_dir: out
poll_interval: 0.2
calibrations:
  - name: count
    collector: ExampleHitCollector
    algorithms:
      - {plugin: TestAlgorithms:test, parameters: {sleep: 0.8}, strategy: SequentialRunByRun}
    input_files: ["toy/*_e0001_*.h5"]
    max_files_per_collector_job: 8
YAML
d=out/count/iteration_0/algorithms/0_TestAlgorithms_test
"$CAF" run "$W/campaign.yaml" 2> run1.log &
pid=$!
for _ in $(seq 1 600); do
    kill -0 "$pid" 2>/dev/null || { cat run1.log; fail "caf ended before the third execution"; }
    [ -d "$d/execution_2" ] && break
    sleep 0.05
done
[ -d "$d/execution_2" ] || fail "the third execution never started"
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
pid=
for _ in $(seq 1 100); do [ -z "$(pgrep -f "run $W/" || true)" ] && break; sleep 0.1; done
ls "$d"/execution_*/state.json >/dev/null 2>&1 || fail "no state.json was written before the kill"
rm -f "$d"/execution_*/state.json

"$CAF" run "$W/campaign.yaml" 2> run2.log || { cat run2.log; fail "the resumed run failed"; }
grep -q "resumes after [12] recorded executions" run2.log || fail "the run did not resume: $(cat run2.log)"
$PY - out "$d" <<'PYEOF'
import glob, json, sqlite3, sys
out, d = sys.argv[1], sys.argv[2]
db = sqlite3.connect(f"{out}/caf-state.sqlite")
rows = db.execute("SELECT idx, state FROM executions WHERE calibration = 'count' ORDER BY idx").fetchall()
assert len(rows) == 4, rows  # runs 1..4 of experiment 1, one execution each
counts = [json.loads(state)["executions"] for _, state in rows]
assert counts == [1, 2, 3, 4], counts
last = json.load(open(f"{d}/execution_3/state.json"))
assert last["executions"] == 4, last
PYEOF
