#!/usr/bin/env bash
# The algorithm driver makes each commit while the next execution's child runs (run_commit_queue.h):
#  1. payloads committed for earlier executions are what later executions read, exactly as with commits
#     made before them: each execution reads the TestConstants the previous one committed (whole-experiment
#     IoV) and adds 1, so execution k reads k; the last commit is made at the strategy's end.
#  2. the run loop never records a commit before it is in database.txt: with the output database's lock
#     held, commit 0 waits inside execution 1's window (execution 1 has run: the overlap), and execution 0
#     is recorded uncommitted; caf run is killed there and resumed: every payload is in database.txt exactly
#     once, and the final database and execution rows equal an uninterrupted run's.
#  3. a commit that fails surfaces on the next execution and still fails the calibration with the commit's
#     own message; nothing is committed after it.
set -euo pipefail
W=$(mktemp -d)
pid=
holder=
# caf run and the lock holder of this test, and any driver left of a killed caf run
trap 'kill -9 $pid $holder $(pgrep -f "run $W/" || true) 2>/dev/null || true; rm -rf "$W"' EXIT
source "$CAF_SOURCE_DIR/tests/support/campaign_fixture.sh"
cd "$W"
make_toy

# rows FOLDER: the recorded executions (calibration, index, result, committed)
rows() {
    $PY - "$1" <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}/caf-state.sqlite?mode=ro", uri=True, timeout=30)
for r in db.execute("SELECT calibration, idx, result, committed FROM executions ORDER BY 1, 2"):
    print(*r)
PYEOF
}
wait_for() { # wait_for WHAT CONDITION...: up to 60 s, caf run still running
    local what=$1
    shift
    for _ in $(seq 1 1500); do
        "$@" && return 0
        kill -0 "$pid" 2>/dev/null || { cat run.log; fail "caf run ended before $what"; }
        sleep 0.04
    done
    fail "never saw $what"
}

# ---- 1. later executions see earlier commits ----
cat > chain.yaml <<YAML
output_dir: chain
poll_interval: 0.2
calibrations:
  - name: seed
    collector: ExampleHitCollector
    algorithms:
      - {plugin: TestAlgorithms:test, parameters: {value: 0, payload_iov: "1,0,1,-1"}, strategy: SingleIOV}
    input_files: ["toy/*_e0001_*.h5"]
  - name: counter
    collector: ExampleHitCollector
    depends_on: [seed]
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {value: 1, payload_iov: "1,0,1,-1", read_payload: TestConstants}
        strategy: SimpleRunByRun
    input_files: ["toy/*_e0001_*.h5"]
YAML
"$CAF" run chain.yaml 2> chain.log || { cat chain.log; fail "the chain run failed"; }
$PY - chain/counter/iteration_0 <<'PYEOF' || fail "an execution did not read the previous one's payload"
import glob, json, os, re, sys
it = sys.argv[1]
execs = sorted(glob.glob(f"{it}/algorithms/0_*/execution_*"), key=lambda p: int(p.rsplit("_", 1)[1]))
assert len(execs) == 4, execs
for k, e in enumerate(execs):
    read = json.load(open(f"{e}/state.json"))["read_value"]
    assert read == k, (e, read)
# every commit, the last one included, is in the iteration's database, once
lines = open(f"{it}/database/database.txt").read().splitlines()
assert len(lines) == 4 and len(set(lines)) == 4, lines
PYEOF
[ "$(rows chain | grep -c '^counter .* ok 1$')" = 4 ] || fail "not every execution recorded committed: $(rows chain)"

# ---- 2. killed while a commit waits ----
write() { # write FILE OUTDIR
    cat > "$1" <<YAML
output_dir: $2
poll_interval: 0.2
calibrations:
  - name: one
    collector: ExampleHitCollector
    algorithms:
      - {plugin: TestAlgorithms:test, parameters: {sleep: 1.0}, strategy: SimpleRunByRun}
    input_files: ["toy/*_e0001_*.h5"]
YAML
}
write reference.yaml "$W/reference"
write campaign.yaml "$W/out"
"$CAF" run "$W/reference.yaml" 2> reference.log || { cat reference.log; fail "reference run failed"; }
db=out/one/iteration_0/database
"$CAF" run "$W/campaign.yaml" 2> run.log &
pid=$!
wait_for "the output database" test -f "$db/database.txt"
$PY -c 'import fcntl, sys, time; f = open(sys.argv[1], "a"); fcntl.flock(f, fcntl.LOCK_EX); open(sys.argv[2], "w")
time.sleep(600)' "$db/.database.txt.lock" locked &
holder=$!
wait_for "the lock taken" test -f locked
# execution 1 has run while commit 0 waited for the lock
exec1=out/one/iteration_0/algorithms/0_TestAlgorithms_test/execution_1
wait_for "execution 1 start while commit 0 waits (the commit is not overlapped)" test -s "$exec1/algorithm.log"
recorded() { [ -n "$(rows out)" ]; }
wait_for "execution 0 recorded" recorded
sleep 2 # execution 1 (1 s) is over; the driver still waits in commit 0
[ ! -s "$db/database.txt" ] || fail "commit 0 made while its database was locked"
[ "$(rows out)" = "one 0 ok 0" ] || fail "the loop recorded a commit not in database.txt: $(rows out)"
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
pid=
for _ in $(seq 1 100); do [ -z "$(pgrep -f "run $W/campaign.yaml")" ] && break; sleep 0.1; done
[ -z "$(pgrep -f "run $W/campaign.yaml")" ] || fail "the driver outlived caf run"
kill -9 "$holder"
wait "$holder" 2>/dev/null || true
holder=
"$CAF" run "$W/campaign.yaml" 2> run2.log || { cat run2.log; fail "the resumed run failed"; }
sort "$db/database.txt" | uniq -d | grep . && fail "a payload committed twice"
[ "$(wc -l < "$db/database.txt")" = 4 ] || fail "not every success committed: $(cat "$db/database.txt")"
diff -r -x '.database.txt.lock' -x lineage reference/database out/database || fail "final databases differ"
[ "$(rows out)" = "$(rows reference)" ] || fail "execution rows differ: $(rows out) / $(rows reference)"

# ---- 3. a commit that fails, one execution late ----
write broken.yaml "$W/broken"
db=broken/one/iteration_0/database
"$CAF" run "$W/broken.yaml" > run.log 2>&1 &
pid=$!
wait_for "the output database" test -f "$db/database.txt"
mkdir "$db/commit-journal.jsonl" # the journal cannot be opened: the first commit fails
set +e
wait "$pid"
rc=$?
set -e
pid=
[ "$rc" != 0 ] || { cat run.log; fail "caf run succeeded with a failing commit"; }
grep -q 'commit-journal.jsonl' run.log || { cat run.log; fail "the failure does not name the commit's culprit"; }
[ -d broken/one/iteration_0/algorithms/0_TestAlgorithms_test/execution_1 ] ||
    fail "execution 1 did not run while commit 0 was made"
[ ! -s "$db/database.txt" ] || fail "something committed after the failed commit"
rows broken | grep -q ' 1$' && fail "an execution recorded committed: $(rows broken)"
echo "ok"
