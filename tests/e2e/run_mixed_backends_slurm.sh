#!/usr/bin/env bash
# One campaign, two backends (basf2 Calibration.backend): a small calibration's collector jobs run on the
# campaign's local backend while a large one's go to a real Slurm (a one-node loopback cluster this test
# starts, tests/support/slurm_cluster.sh), with its own backend_settings. Both complete with the same
# payloads as an all-local run; the subjobs' batch ids show where each ran.
set -euo pipefail
: "${CAF:?}" "${CAF_SOURCE_DIR:?}"
W=$(mktemp -d)
cluster=$W/cluster
cleanup() {
    bash "$CAF_SOURCE_DIR/tests/support/slurm_cluster.sh" stop "$cluster" >/dev/null 2>&1 || true
    rm -rf "$W"
}
trap cleanup EXIT
source "$CAF_SOURCE_DIR/tests/support/campaign_fixture.sh"
eval "$(bash "$CAF_SOURCE_DIR/tests/support/slurm_cluster.sh" start "$cluster")"
export SLURM_CONF
cd "$W"
make_toy
campaign() { # campaign OUTPUT_DIR LARGE_BACKEND_LINES
    cat <<YAML
output_dir: $1
backend: local
poll_interval: 0.2
calibrations:
  - name: small
    collector: ExampleHitCollector
    input_files: ["toy/toy_e0001_r00001_*.h5"]
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {object: hits}
  - name: large
    collector: ExampleHitCollector
    input_files: ["toy/*.h5"]
    max_files_per_collector_job: 2
$2
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {object: hits}
YAML
}
campaign local "" > local.yaml
campaign out "    backend: slurm
    backend_settings: {poll_interval_s: 0.3, exit_file_grace_s: 5}" > mixed.yaml
"$CAF" run local.yaml 2> local.log || { cat local.log; fail "the local run failed"; }
"$CAF" run mixed.yaml 2> mixed.log || { cat mixed.log; fail "the mixed run failed"; }
grep -q 'large: collector jobs on backend slurm' mixed.log || fail "no Slurm backend for large: $(cat mixed.log)"
diff -r -x '.database.txt.lock' -x lineage local/database out/database || fail "mixed and local databases differ"
$PY - out/caf-state.sqlite <<'PYEOF'
import re, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
ids = {}
for cal, batch in db.execute("SELECT calibration, batch_id FROM subjob_attempts"):
    ids.setdefault(cal, []).append(batch)
# local subjobs are PID:STARTTIME, Slurm array tasks JOBID_TASK
assert len(ids["small"]) == 2 and all(re.fullmatch(r"\d+:\d+", b) for b in ids["small"]), ids["small"]
assert len(ids["large"]) == 8 and all(re.fullmatch(r"\d+_\d+", b) for b in ids["large"]), ids["large"]
PYEOF
echo "ok"
