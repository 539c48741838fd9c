#!/usr/bin/env bash
# Algorithm phases do not block the run loop: while one calibration's algorithm runs (it waits for a sign
# of another calibration's progress), an independent calibration's collection completes, is merged and
# its algorithm runs, at the same time as the first one's; a third calibration's algorithm hangs until its
# time_limit and fails, naming the limit. The order of events is read from the state database's
# transitions (in the order they were recorded) and from marker files, never from clocks.
#   waiter: its algorithm writes waiter.start, waits for fine.start, writes waiter.end
#   fine:   its collector subjob waits for waiter.start (the wrapper), its algorithm writes fine.start,
#           waits for waiter.end, writes fine.end
# With algorithm executions run synchronously by the loop, fine's collection could not complete while
# waiter's algorithm runs: waiter gives up waiting (FAILURE) and the checks below fail. With
# max_parallel_algorithms 1, two such calibrations cannot both complete.
set -euo pipefail
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
source "$CAF_SOURCE_DIR/tests/support/campaign_fixture.sh"
cd "$W"
make_toy
mkdir m
cat > caf-wrapper <<WRAP
#!/usr/bin/env bash
case "\$PWD" in
*/out/fine/*) for _ in \$(seq 1 1200); do [ -e '$W/m/waiter.start' ] && break; sleep 0.05; done ;;
esac
exec '$CAF' "\$@"
WRAP
chmod +x caf-wrapper
export CAF_COMMAND="$W/caf-wrapper"
cat > campaign.yaml <<YAML
output_dir: out
poll_interval: 0.2
max_parallel_algorithms: 3
calibrations:
  - name: waiter
    collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {marker: $W/m/waiter, wait_for: $W/m/fine.start, wait_timeout: 30}
    input_files: ["toy/*_e0001_r00001_*.h5"]
    max_files_per_collector_job: 2
  - name: fine
    collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {marker: $W/m/fine, wait_for: $W/m/waiter.end, wait_timeout: 30}
    input_files: ["toy/*_e0001_r00002_*.h5"]
    max_files_per_collector_job: 2
  - name: hang
    collector: ExampleHitCollector
    algorithms:
      - {plugin: TestAlgorithms:test, parameters: {action: hang}, time_limit: 2}
    input_files: ["toy/*_e0001_r00003_*.h5"]
    max_files_per_collector_job: 2
YAML
set +e
"$CAF" run campaign.yaml 2> run.log
rc=$?
set -e
[ "$rc" = 1 ] || { cat run.log; fail "caf run exit $rc, expected 1 (hang fails)"; }
for f in waiter.start waiter.end fine.start fine.end; do [ -e "m/$f" ] || fail "no marker $f: $(cat run.log)"; done
$PY - out/caf-state.sqlite <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT calibration, from_state, to_state, reason FROM transitions ORDER BY rowid").fetchall()
def at(cal, frm, to):
    hits = [i for i, r in enumerate(rows) if r[:3] == (cal, frm, to)]
    assert len(hits) == 1, (cal, frm, to, rows)
    return hits[0]
waiter_starts = at("waiter", "collector_completed", "running_algorithms")
fine_collected = at("fine", "running_collector", "collector_completed")
fine_starts = at("fine", "collector_completed", "running_algorithms")
waiter_ends = at("waiter", "running_algorithms", "algorithms_completed")
fine_ends = at("fine", "running_algorithms", "algorithms_completed")
# fine's collection completed and its algorithm started while waiter's algorithm was running
assert waiter_starts < fine_collected < fine_starts < waiter_ends, rows
assert fine_ends > waiter_starts, rows
states = dict(db.execute("SELECT name, state FROM calibrations"))
assert states == {"waiter": "completed", "fine": "completed", "hang": "failed"}, states
(reason,) = db.execute("SELECT reason FROM calibrations WHERE name = 'hang'").fetchone()
assert "timed out after 2 s" in reason, reason
PYEOF
grep -q 'hanging on purpose' out/hang/iteration_0/algorithms/0_TestAlgorithms_test/execution_0/algorithm.log ||
    fail "the hanging algorithm's log was not kept"

# max_parallel_algorithms 1: two calibrations that each wait for the other's algorithm to start cannot both
# complete; whichever got the one slot gives up waiting, then the other runs and finds its sign. The
# heartbeat says which algorithm phases run and which wait.
mkdir m1
cat > serial.yaml <<YAML
output_dir: serial
poll_interval: 0.2
heartbeat: 0.1
max_parallel_algorithms: 1
calibrations:
  - name: a
    collector: ExampleHitCollector
    algorithms:
      - {plugin: TestAlgorithms:test, parameters: {marker: $W/m1/a, wait_for: $W/m1/b.start, wait_timeout: 1}}
    input_files: ["toy/*_e0001_r00001_*.h5"]
    max_files_per_collector_job: 2
  - name: b
    collector: ExampleHitCollector
    algorithms:
      - {plugin: TestAlgorithms:test, parameters: {marker: $W/m1/b, wait_for: $W/m1/a.start, wait_timeout: 1}}
    input_files: ["toy/*_e0001_r00002_*.h5"]
    max_files_per_collector_job: 2
YAML
env -u CAF_COMMAND "$CAF" run serial.yaml 2> serial.log && fail "both completed with max_parallel_algorithms 1"
$PY - serial/caf-state.sqlite <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
states = sorted(db.execute("SELECT state, reason FROM calibrations"))
assert [s for s, _ in states] == ["completed", "failed"], states
assert "gave up waiting for" in states[1][1], states
PYEOF
grep -Eq ': iteration 0: algorithms running \(process [0-9]+\)' serial.log || fail "no heartbeat of a running driver"
grep -q ': iteration 0: algorithms waiting: max_parallel_algorithms (1) calibrations run theirs' serial.log ||
    fail "no heartbeat of a waiting algorithm phase: $(cat serial.log)"
echo "ok"
