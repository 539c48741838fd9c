#!/usr/bin/env bash
# Algorithm drivers die with caf run and never leave orphans: caf run is SIGKILLed while two calibrations'
# drivers each run an execution; no driver ("caf-algo NAME") and no execution process remains, and the
# resumed run ends with the same final database and execution rows as an uninterrupted run. A driver
# killed on its own fails only its calibration, with a reason saying how it ended.
set -euo pipefail
W=$(mktemp -d)
pid=
source "$CAF_SOURCE_DIR/tests/support/campaign_fixture.sh"
trap cleanup_runs EXIT
cd "$W"
make_toy
write() { # write FILE OUTDIR: two SimpleRunByRun calibrations whose executions take a while (1.5 s each, 4 per
          # calibration: under a loaded machine the two collector phases may end seconds apart, and both
          # drivers must still be caught running an execution at the same time)
    cat > "$1" <<YAML
output_dir: $2
poll_interval: 0.2
calibrations:
  - name: one
    collector: ExampleHitCollector
    algorithms:
      - {plugin: TestAlgorithms:test, parameters: {sleep: 1.5}, strategy: SimpleRunByRun}
    input_files: ["toy/*_e0001_*.h5"]
    max_files_per_collector_job: 8
  - name: two
    collector: ExampleHitCollector
    algorithms:
      - {plugin: TestAlgorithms:test, parameters: {sleep: 1.5, value: 2}, strategy: SimpleRunByRun}
    input_files: ["toy/*_e0002_*.h5"]
    max_files_per_collector_job: 8
YAML
}
write reference.yaml "$W/reference"
write campaign.yaml "$W/out"
"$CAF" run "$W/reference.yaml" 2> reference.log || { cat reference.log; fail "reference run failed"; }

# processes of the run of $W/campaign.yaml: caf run itself and its drivers (forked, so they share its command
# line); each driver's execution zygote (exec'd: caf-algo-zygote) and its execution are found as the drivers'
# descendants while they run, and must be gone too
ours() { pgrep -f "run $W/campaign.yaml" || true; }
tree() { local p; for p in "$@"; do echo "$p"; tree $(pgrep -P "$p" || true); done; }
"$CAF" run "$W/campaign.yaml" 2> run1.log &
pid=$!
seen=
for _ in $(seq 1 600); do
    kill -0 "$pid" 2>/dev/null || { cat run1.log; fail "caf ended before both drivers ran executions"; }
    # both drivers (named after their calibrations), each with its zygote and the zygote's execution child
    one=$(pgrep -P "$pid" -x 'caf-algo one' || true)
    two=$(pgrep -P "$pid" -x 'caf-algo two' || true)
    z1=$([ -n "$one" ] && pgrep -f caf-algo-zygote -P "$one" || true)
    z2=$([ -n "$two" ] && pgrep -f caf-algo-zygote -P "$two" || true)
    if [ -n "$z1" ] && [ -n "$z2" ] && pgrep -P "$z1" >/dev/null && pgrep -P "$z2" >/dev/null; then
        seen=$(tree "$pid" | paste -sd' ')
        break
    fi
    sleep 0.02
done
[ -n "$seen" ] || fail "never saw two drivers running executions through their zygotes"
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
pid=
left() { ours; for p in $seen; do kill -0 "$p" 2>/dev/null && echo "$p"; done; true; }
for _ in $(seq 1 100); do [ -z "$(left)" ] && break; sleep 0.1; done
[ -z "$(left)" ] || fail "processes left after caf run was killed: $(ps -o pid,ppid,comm,args -p "$(left | paste -sd,)")"

"$CAF" run "$W/campaign.yaml" 2> run2.log || { cat run2.log; fail "the resumed run failed"; }
diff -r -x '.database.txt.lock' -x lineage reference/database out/database || fail "final databases differ"
# the lineage records name the output folder and the time; the resumed run has one for the same executions
[ "$(ls reference/database/lineage)" = "$(ls out/database/lineage)" ] || fail "the lineage records differ"
$PY - out reference <<'PYEOF'
import sqlite3, sys
def rows(d):
    db = sqlite3.connect(f"{d}/caf-state.sqlite")
    return db.execute("SELECT calibration, iteration, algorithm, idx, runs, iov, result, committed FROM executions "
                      "ORDER BY 1, 2, 3, 4").fetchall()
assert rows(sys.argv[1]) == rows(sys.argv[2]), (rows(sys.argv[1]), rows(sys.argv[2]))
assert len(rows(sys.argv[1])) == 8, rows(sys.argv[1])
PYEOF

# A driver killed on its own: its calibration fails saying so, the other completes.
write killed.yaml "$W/killed"
"$CAF" run "$W/killed.yaml" 2> run3.log &
pid=$!
victim=
for _ in $(seq 1 600); do
    kill -0 "$pid" 2>/dev/null || { cat run3.log; fail "caf ended before the driver could be killed"; }
    victim=$(pgrep -P "$pid" -x 'caf-algo one' || true)
    [ -n "$victim" ] && break
    sleep 0.05
done
[ -n "$victim" ] || fail "no driver for one"
kill -9 "$victim"
set +e
wait "$pid"
rc=$?
set -e
pid=
[ "$rc" = 1 ] || { cat run3.log; fail "caf run exit $rc, expected 1"; }
"$CAF" status killed --json > status.json
$PY - status.json "$victim" <<'PYEOF'
import json, sys
cals = {c["name"]: c for c in json.load(open(sys.argv[1]))["calibrations"]}
assert cals["two"]["state"] == "completed", cals["two"]
one = cals["one"]
want = f"the algorithm driver (process {sys.argv[2]}) was killed by signal 9"
assert one["state"] == "failed" and want in one["reason"], one
PYEOF
echo "ok"
