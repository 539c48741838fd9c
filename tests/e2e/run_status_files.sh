#!/usr/bin/env bash
# caf status creates nothing beside the state database: after a finished run (the writer leaves it in
# rollback-journal mode), on a folder whose database was left in WAL mode without its -wal file (a reader
# there opens it immutable), and while a run is live (the writer's own -wal and -shm are read, and the run
# removes them when it ends).
set -euo pipefail
W=$(mktemp -d)
pid=
cleanup() { [ -z "$pid" ] || kill -9 "$pid" 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
source "$CAF_SOURCE_DIR/tests/support/campaign_fixture.sh"
cd "$W"
make_toy
make_wrapper
cat > campaign.yaml <<YAML
output_dir: out
poll_interval: 0.2
calibrations:
  - name: one
    collector: ExampleHitCollector
    algorithms:
      - {plugin: "TestAlgorithms:test", strategy: SingleIOV}
    input_files: ["toy/*_r00001_*.h5"]
YAML
no_journal_files() { # no -wal, -shm or -journal beside the state database
    local left
    left=$(ls "$W/out" | grep -E 'caf-state\.sqlite-(wal|shm|journal)$' || true)
    [ -z "$left" ] || fail "$1: left beside the state database: $left"
}

"$CAF" run campaign.yaml 2> run1.log || { cat run1.log; fail "run failed"; }
no_journal_files "after a finished run"
"$CAF" status out > status1.txt
grep -q '^one: completed' status1.txt || { cat status1.txt; fail "status of the finished run"; }
no_journal_files "after caf status of a finished run"
"$CAF" status out --json > /dev/null
no_journal_files "after caf status --json of a finished run"

# A database left in WAL mode (by an older caf, or a writer that could not switch back) without -wal.
$PY -c 'import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); db.execute("PRAGMA journal_mode=WAL"); db.close()' \
    out/caf-state.sqlite
[ "$($PY -c 'import sys; f = open(sys.argv[1], "rb"); f.seek(18); print(f.read(1)[0])' out/caf-state.sqlite)" = 2 ] ||
    fail "the database is not in WAL mode"
no_journal_files "after switching the database to WAL"
"$CAF" status out | grep -q '^one: completed' || fail "status of a WAL database"
no_journal_files "after caf status of a WAL-mode database"

# Live: a second run of a new calibration, slowed down; status reads the live WAL and sees it running.
cat >> campaign.yaml <<YAML
  - name: two
    collector: ExampleHitCollector
    algorithms:
      - {plugin: "TestAlgorithms:test", strategy: SingleIOV}
    input_files: ["toy/*_r00002_*.h5"]
YAML
WRAPPER_DELAY=2 "$CAF" run campaign.yaml 2> run2.log &
pid=$!
seen=
for _ in $(seq 1 200); do
    if "$CAF" status out --json > live.json 2>/dev/null &&
        $PY -c 'import json, sys; s = json.load(open(sys.argv[1])); sys.exit(0 if s["running"] and any(c["name"] == "two" for c in s["calibrations"]) else 1)' live.json; then
        seen=1
        break
    fi
    sleep 0.05
done
[ -n "$seen" ] || { cat run2.log; fail "caf status never saw the live run"; }
[ -e out/caf-state.sqlite-wal ] || fail "a live run has no write-ahead log"
wait "$pid" || { cat run2.log; fail "second run failed"; }
pid=
no_journal_files "after a live run ended"
"$CAF" status out | grep -q '^two: completed' || fail "status after the live run"
no_journal_files "after caf status of the second finished run"
echo PASS
