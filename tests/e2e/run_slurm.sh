#!/usr/bin/env bash
# caf run on a real Slurm: the campaign of run_campaign.sh with backend slurm on a one-node loopback
# cluster this test starts for itself (tests/support/slurm_cluster.sh) completes with the hand-derived
# IoVs; killed with SIGKILL while its collector jobs are in Slurm, the next caf run re-attaches to them
# (every subjob whose submission was recorded starts once) and the final database equals the one of an
# uninterrupted run on the local backend.
set -euo pipefail
: "${CAF:?}" "${CAF_SOURCE_DIR:?}"
W=$(mktemp -d)
cluster=$W/cluster
bg=""
cleanup() {
    [ -z "$bg" ] || kill -9 "$bg" 2>/dev/null || true
    bash "$CAF_SOURCE_DIR/tests/support/slurm_cluster.sh" stop "$cluster" >/dev/null 2>&1 || true
    rm -rf "$W"
}
trap cleanup EXIT
source "$CAF_SOURCE_DIR/tests/support/campaign_fixture.sh"
eval "$(bash "$CAF_SOURCE_DIR/tests/support/slurm_cluster.sh" start "$cluster")"
export SLURM_CONF
cd "$W"
make_toy
make_wrapper
write_campaign "$W/local.yaml" local
write_campaign "$W/slurm.yaml" out "backend: slurm
backend_settings: {poll_interval_s: 0.3, exit_file_grace_s: 5}"

"$CAF" run local.yaml 2> local.log || { cat local.log; fail "the local run failed"; }

# Killed while collector subjobs are in Slurm; the second run finds them there.
WRAPPER_DELAY=2 "$CAF" run slurm.yaml 2> run1.log &
bg=$!
for _ in $(seq 1 600); do
    kill -0 "$bg" 2>/dev/null || { cat run1.log; fail "caf ended before its subjobs were in Slurm"; }
    if [ -n "$(squeue -h -o %i 2>/dev/null)" ] && [ -e out/caf-state.sqlite ] &&
        $PY -c 'import sqlite3, sys; sys.exit(0 if sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM subjobs WHERE batch_id != \"\" AND status != \"completed\"").fetchone()[0] >= 3 else 1)' \
            out/caf-state.sqlite 2>/dev/null; then
        break
    fi
    sleep 0.1
done
kill -9 "$bg"
wait "$bg" 2>/dev/null || true
bg=""
$PY -c '
import sqlite3, sys
for row in sqlite3.connect(sys.argv[1]).execute("SELECT calibration, iteration, idx FROM subjobs WHERE batch_id != \"\""):
    print(*row)
' out/caf-state.sqlite > recorded
[ -n "$(squeue -h -o %i)" ] || fail "no subjob left in Slurm to re-attach to"

"$CAF" run slurm.yaml 2> run2.log || { cat run2.log; fail "the resumed Slurm run failed"; }
grep -q "re-attached to" run2.log || fail "nothing re-attached: $(cat run2.log)"
check_results "$W/out"
check_starts "$W/out" "$W/recorded" > /dev/null
diff -r -x '.database.txt.lock' -x lineage local/database out/database || fail "Slurm and local databases differ"
$PY - out/caf-state.sqlite <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
ids = [r[0] for r in db.execute("SELECT batch_id FROM subjob_attempts")]
assert ids and all(i and ":" not in i for i in ids), ids[:5]  # Slurm job ids, not local pid:start ids
PYEOF
echo ok
