#!/usr/bin/env bash
# Per-calibration settings: a campaign-level defaults: mapping fills the keys a calibration (or a
# collection) does not set (basf2 calibration_defaults); save_payloads: false keeps a calibration's
# payloads out of the final database while its dependents still read them; backend/backend_settings per
# calibration (basf2 Calibration.backend) run one calibration's collector jobs on a second local backend
# configuration beside the campaign's; a second caf run is no configuration change.
set -euo pipefail
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
source "$CAF_SOURCE_DIR/tests/support/campaign_fixture.sh"
cd "$W"
make_toy
make_wrapper
cat > campaign.yaml <<YAML
output_dir: out
poll_interval: 0.2
defaults:
  collector: ExampleHitCollector
  input_files: ["toy/*.h5"]
  max_files_per_collector_job: 8
calibrations:
  - name: hidden
    save_payloads: false
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {value: 5.0}
  - name: reader
    depends_on: [hidden]
    max_files_per_collector_job: 4
    backend: local
    backend_settings: {slots: 1}
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {read_payload: TestConstants, value: 1.0}
  - name: grouped
    collections:
      - name: all
        collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {value: 2.0}
YAML
"$CAF" config check campaign.yaml > check.txt || { cat check.txt; fail "config check refused the campaign"; }
"$CAF" run campaign.yaml 2> log || { cat log; fail "caf run failed"; }
grep -q 'reader: collector jobs on backend local {"slots":1}' log || fail "reader's backend: $(cat log)"
"$CAF" status out --json > status.json
$PY - "$W" <<'PYEOF'
import json, os, sys
w = sys.argv[1]
out = os.path.join(w, "out")
def values(db):
    vals = []
    for line in open(os.path.join(db, "database.txt")):
        name, rev, iov = line.split()
        name = name.split("/", 1)[1]
        vals.append(json.load(open(os.path.join(db, f"dbstore_{name}_rev_{rev}.json")))["value"])
    return sorted(vals)
# hidden's payload (5) fed reader (1 + 5) but is not in the final database; grouped's (2) is
assert values(os.path.join(out, "hidden", "iteration_0", "database")) == [5.0]
assert values(os.path.join(out, "reader", "iteration_0", "database")) == [6.0]
assert values(os.path.join(out, "database")) == [2.0, 6.0], values(os.path.join(out, "database"))
summary = {c["name"]: c for c in json.load(open(os.path.join(out, "summary.json")))["results"]}
assert summary["hidden"]["saved"] is False and summary["reader"]["saved"] is True, summary
assert "save_payloads: false" in open(os.path.join(out, "summary.txt")).read()
# defaults: 16 files by 8 (hidden, and grouped's collection, which took input_files from them too); reader's own 4
s = {c["name"]: c for c in json.load(open(os.path.join(w, "status.json")))["calibrations"]}
assert s["hidden"]["subjobs"]["total"] == 2, s["hidden"]
assert s["reader"]["subjobs"]["total"] == 4, s["reader"]
assert s["grouped"]["collections"]["all"]["total"] == 2, s["grouped"]
PYEOF
# reader's subjobs ran through the second backend: its jobs say so
grep -q '"backend_settings": {"slots": 1}\|"slots":1\|"slots": 1' out/reader/iteration_0/collector/caf-job.json ||
    fail "reader's job: $(cat out/reader/iteration_0/collector/caf-job.json)"
n=$(wc -l < starts)
"$CAF" run campaign.yaml 2> log2 || { cat log2; fail "second caf run failed"; }
[ "$(wc -l < starts)" = "$n" ] || fail "the second run started subjobs"
echo "ok"
