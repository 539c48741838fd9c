#!/usr/bin/env bash
# Make-like reruns: a plain `caf run` after fixing a failure retries the failed calibration from the step
# that failed. (1) A collector subjob fails for good on a bad input (the collector-job wrapper refuses the
# files listed in $W/broken); the dependent calibration fails with it. Fixed, rerun: only the failed
# subjob runs again (attempts counted in the state database), the dependent runs, everything completes.
# (2) An algorithm fails because a payload it reads from a configured database is missing; the database
# (not the campaign) is fixed with caf db add, rerun: the algorithm is executed again, the collector is not.
set -euo pipefail
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
source "$CAF_SOURCE_DIR/tests/support/campaign_fixture.sh"
cd "$W"
make_toy
cat > caf-wrapper <<SH
#!/usr/bin/env bash
echo "\$PWD" >> '$W/starts'
if [ -e '$W/broken' ]; then
    for a in "\$@"; do
        if grep -qxF -- "\$a" '$W/broken'; then echo "bad input: \$a" >&2; exit 1; fi
    done
fi
exec '$CAF' "\$@"
SH
chmod +x caf-wrapper
export CAF_COMMAND="$W/caf-wrapper"
echo '{}' > other.json
"$CAF" db add conditions --iov 0,0,-1,-1 Other=other.json > /dev/null
cat > campaign.yaml <<YAML
output_dir: out
poll_interval: 0.1
calibrations:
  - name: collect
    collector: ExampleHitCollector
    algorithms:
      - {plugin: "TestAlgorithms:test", strategy: SingleIOV}
    input_files: ["toy/*.h5"]
    max_files_per_collector_job: 2
  - name: after
    collector: ExampleHitCollector
    algorithms:
      - {plugin: "TestAlgorithms:test", strategy: SingleIOV}
    input_files: ["toy/*_r00001_*.h5"]
    depends_on: [collect]
  - name: reads
    collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {read_payload: Needed, value: 1.0}
        strategy: SimpleRunByRun
    input_files: ["toy/*_r00002_*.h5"]
    database_chain: [conditions]
YAML
ls "$W"/toy/*_e0002_r00003_*.h5 | head -1 > broken
attempts() { $PY -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(
    "SELECT COUNT(*) FROM subjob_attempts WHERE calibration = ?", (sys.argv[2],)).fetchone()[0])' out/caf-state.sqlite "$1"; }
state() { "$CAF" status out --json | $PY -c 'import json, sys; print({c["name"]: c["state"] for c in json.load(sys.stdin)["calibrations"]}[sys.argv[1]])' "$1"; }

set +e
"$CAF" run campaign.yaml 2> run1.log
rc=$?
set -e
[ "$rc" = 1 ] || { cat run1.log; fail "the first run exited $rc, not 1"; }
[ "$(state collect)" = failed ] && [ "$(state after)" = failed ] && [ "$(state reads)" = failed ] ||
    { cat run1.log; fail "after the first run: collect $(state collect), after $(state after), reads $(state reads)"; }
subjobs=$(ls -d out/collect/iteration_0/collector/subjobs/*/ | wc -l)
failed_attempts=3  # the first attempt and two retries
[ "$(attempts collect)" = $((subjobs - 1 + failed_attempts)) ] || fail "collect: $(attempts collect) attempts in run 1"
grep -q "Needed" run1.log || { cat run1.log; fail "reads did not fail on the missing payload"; }

# Fixed outside the campaign: the input is good now, the database holds the payload.
rm broken
echo '{"value": 5.0}' > needed.json
"$CAF" db add conditions --iov 0,0,-1,-1 Needed=needed.json > /dev/null
cp campaign.yaml campaign.before
: > starts
"$CAF" run campaign.yaml 2> run2.log || { cat run2.log; fail "the rerun failed"; }
cmp -s campaign.yaml campaign.before || fail "the campaign changed"
for cal in collect after reads; do [ "$(state $cal)" = completed ] || fail "$cal: $(state $cal) after the rerun"; done
grep -q "collect: iteration 0: failed before (.*); retrying its collector" run2.log || { cat run2.log; fail "no retry line for collect"; }
grep -q "collect: iteration 0: 1 failed collector subjob submitted again" run2.log || fail "no resubmission line"
grep -q "after: iteration 0: failed before (dependency collect failed" run2.log || fail "no retry line for after"
grep -q "reads: iteration 0: failed before (.*); retrying its algorithms" run2.log || fail "no retry line for reads"
# Only the failed subjob of collect ran again (one more attempt); after's and reads' collectors: after's once.
[ "$(attempts collect)" = $((subjobs - 1 + failed_attempts + 1)) ] || fail "collect: $(attempts collect) attempts after the rerun"
[ "$(grep -c '/collect/' starts)" = 1 ] || fail "collect's subjobs started again: $(grep '/collect/' starts)"
[ "$(grep -c '/reads/' starts || true)" = 0 ] || fail "reads' collector ran again"
grep -q '/after/' starts || fail "after's collector never ran"
# reads executed its algorithm again and read the fixed payload: 5 + 1.
$PY - out <<'PYEOF'
import json, os, sys
db = os.path.join(sys.argv[1], "reads", "iteration_0", "database")
lines = [l.split() for l in open(os.path.join(db, "database.txt"))]
assert lines, "reads committed nothing"
for name, rev, iov in lines:
    f = next(f for f in os.listdir(db) if f.startswith(f"dbstore_{name.split('/')[1]}_rev_{rev}."))
    assert json.load(open(os.path.join(db, f)))["value"] == 6.0, f
PYEOF
echo PASS
