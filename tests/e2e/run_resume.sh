#!/usr/bin/env bash
# caf run survives SIGKILL: the campaign of run_campaign.sh is killed during collection, during an
# algorithm's executions, between calibrations and during an iteration's collection, and run again each
# time; the last run completes with a final database identical (every line and payload file) to an
# uninterrupted run's, every collector subjob whose submission was recorded when caf was killed started
# exactly once (counted by the collector-job wrapper: re-attached, never resubmitted), no recorded
# execution ran twice, and the resumed runs said they re-attached and resumed.
set -euo pipefail
W=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    sleep 0.5 # orphaned subjobs of a failed test end on their own
    [ -n "${KEEP_W:-}" ] && cp -r "$W" "$KEEP_W" 2>/dev/null; rm -rf "$W"
}
trap cleanup EXIT
source "$CAF_SOURCE_DIR/tests/support/campaign_fixture.sh"
cd "$W"
make_toy
make_wrapper
SEQ_EXTRA=", blob_mb: 3"  # seconds of algorithm work spread over seq's executions
write_campaign "$W/reference.yaml" reference
write_campaign "$W/campaign.yaml" out

"$CAF" run reference.yaml 2> "$W/reference.log" || { cat "$W/reference.log"; fail "reference run failed"; }
check_results "$W/reference"

# until CONDITION: polls caf status until the Python condition on cals (name -> calibration) holds, then
# kills caf with SIGKILL. The run must still be going when the moment comes.
run_until() {
    local what=$1 condition=$2 n=$3
    "$CAF" run campaign.yaml 2> "$W/run$n.log" &
    local pid=$!
    pids+=("$pid")
    for _ in $(seq 1 1200); do
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$W/run$n.log" >&2
            fail "caf ended before the moment '$what'"
        fi
        if "$CAF" status out --json > "$W/status.json" 2>/dev/null &&
            $PY - "$W/status.json" "$condition" <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1]))
cals = {c["name"]: c for c in s["calibrations"]}
def execs(name):
    return sum(len(a["executions"]) for a in cals[name]["algorithms"]) if name in cals else 0
sys.exit(0 if cals and eval(sys.argv[2]) else 1)
PYEOF
        then
            kill -9 "$pid"
            wait "$pid" 2>/dev/null || true
            echo "killed $what"
            # Recorded now: must never start again. Started but not recorded now: killed inside the
            # submission window, so that one may start a second time, even if a later kill finds it
            # recorded.
            $PY -c '
import os, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
now = {tuple(str(x) for x in row) for row in
       db.execute("SELECT calibration, iteration, idx FROM subjobs WHERE batch_id != \"\"")}
with open(sys.argv[2], "a") as rec:
    for row in sorted(now):
        print(*row, file=rec)
started = set()
if os.path.exists(sys.argv[3]):
    for line in open(sys.argv[3]):
        parts = os.path.realpath(line.strip()).split("/")
        started.add((parts[-5], parts[-4].split("_")[1], parts[-1]))
with open(sys.argv[4], "a") as ex:
    for key in sorted(started - now):
        print(*key, file=ex)
' "$W/out/caf-state.sqlite" "$W/recorded" "$W/starts" "$W/exempt"
            return 0
        fi
        sleep 0.05
    done
    fail "the moment '$what' never came"
}

export WRAPPER_DELAY=0.4
run_until "during collection" \
    'cals["seq"]["state"] == "running_collector" and 3 <= cals["seq"]["subjobs"]["completed"] < 14' 1
run_until "during seq's algorithm" \
    'cals["seq"]["state"] == "running_algorithms" and execs("seq") >= 2' 2
grep -q 're-attached to' "$W/run2.log" || fail "the second run did not re-attach: $(cat "$W/run2.log")"
run_until "between calibrations" \
    'cals["seq"]["state"] == "completed" and cals["single"]["state"] in ("init", "running_collector")' 3
grep -q 'seq: iteration 0: TestAlgorithms:test resumes after' "$W/run3.log" ||
    fail "seq's algorithm did not resume: $(cat "$W/run3.log")"
run_until "during iter's second iteration" \
    'cals["iter"]["iteration"] == 1 and cals["iter"]["state"] == "running_collector"' 4
unset WRAPPER_DELAY
"$CAF" run campaign.yaml 2> "$W/run5.log" || { cat "$W/run5.log"; fail "the last run failed"; }

check_results "$W/out"
diff -r -x '.database.txt.lock' -x lineage "$W/reference/database" "$W/out/database" || fail "final databases differ"
# the lineage records name the output folder and the time; the resumed run has one for the same executions
[ "$(ls "$W/reference/database"/lineage)" = "$(ls "$W/out/database"/lineage)" ] || fail "the lineage records differ"
n=$(check_starts "$W/out" "$W/recorded")
# No execution ran twice: each one's result line appears once over all the interrupted runs (a killed
# execution prints none), and the recorded executions equal the reference run's.
cat "$W"/run[1-5].log | $PY -c '
import collections, re, sys
seen = collections.Counter(m.groups() for m in re.finditer(r"caf: (\w+): iteration (\d+): (\S+) execution (\d+) on", sys.stdin.read()))
assert seen, "no execution lines"
twice = {k: n for k, n in seen.items() if n > 1}
assert not twice, twice
'
$PY - "$W/out" "$W/reference" <<'PYEOF'
import sqlite3, sys
def rows(d):
    db = sqlite3.connect(f"{d}/caf-state.sqlite")
    return db.execute("SELECT calibration, iteration, algorithm, idx, runs, iov, result, committed FROM executions "
                      "ORDER BY 1, 2, 3, 4").fetchall()
assert rows(sys.argv[1]) == rows(sys.argv[2]), (rows(sys.argv[1]), rows(sys.argv[2]))
PYEOF
echo "ok: 4 kills, $n collector subjobs each started once"
