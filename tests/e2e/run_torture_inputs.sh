#!/usr/bin/env bash
# Torture: corrupt copies of input files (byte flips at several offsets, truncation, a dataset of the
# wrong type, a file that crashes HDF5 1.10.8) in some calibrations of a campaign. caf run must never
# die with a signal, must finish every independent calibration, fail each affected one with a reason
# naming every bad file it has, and fail the dependent of an affected one as "dependency X failed".
set -euo pipefail
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
source "$CAF_SOURCE_DIR/tests/support/campaign_fixture.sh"
cd "$W"
make_toy
mkdir bad_flips bad_other
src=toy/toy_e0001_r00004_f00.h5
size=$(stat -c %s "$src")

# Byte flips at several offsets (the signature, the superblock, object headers, the middle, the end):
# a flip may hit event data that no check can see, so which copies are bad is what `caf file info`
# says; every one it refuses must be named by caf run, and it must refuse at least the signature flip.
offsets="0 9 100 400 1000 2000 3000 $((size / 2)) $((size - 100))"
for off in $offsets; do
    cp "$src" "bad_flips/flip_$off.h5"
    $PY - "bad_flips/flip_$off.h5" "$off" <<'PYEOF'
import sys
path, off = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(off)
    b = f.read(1)
    f.seek(off)
    f.write(bytes([b[0] ^ 0xFF]))
PYEOF
done
head -c "$((size * 2 / 3))" "$src" > bad_other/truncated.h5
cp "$src" bad_other/wrong_type.h5
$PY - <<'PYEOF'
import h5py
with h5py.File("bad_other/wrong_type.h5", "a") as f:
    runs = f["meta/run_run"][...]
    del f["meta/run_run"]
    f["meta/run_run"] = [str(r).encode() for r in runs]  # strings where integers belong
PYEOF
cp "$CAF_SOURCE_DIR/tests/data/reproducers/libhdf5-H5HG_read-segv/in.h5" bad_other/crash.h5

expected_flips=()
for f in bad_flips/*.h5; do
    rc=0
    "$CAF" file info "$f" > /dev/null 2>&1 || rc=$?
    [ "$rc" -le 1 ] || fail "caf file info $f: exit $rc"
    [ "$rc" -eq 0 ] || expected_flips+=("$f")
done
[[ " ${expected_flips[*]} " == *" bad_flips/flip_0.h5 "* ]] || fail "the signature flip was accepted"

cat > torture.yaml <<YAML
output_dir: out
poll_interval: 0.2
calibrations:
  - name: clean_a
    collector: ExampleHitCollector
    algorithms: [TestAlgorithms:test]
    input_files: ["toy/*_r00001_*.h5"]
  - name: flips
    collector: ExampleHitCollector
    algorithms: [TestAlgorithms:test]
    input_files: ["toy/*_r00002_*.h5", "bad_flips/*.h5"]
  - name: clean_b
    collector: ExampleHitCollector
    algorithms: [TestAlgorithms:test]
    input_files: ["toy/*_r00003_*.h5"]
  - name: other
    collector: ExampleHitCollector
    algorithms: [TestAlgorithms:test]
    input_files: ["toy/*_r00004_*.h5", "bad_other/*.h5"]
  - name: after_other
    collector: ExampleHitCollector
    algorithms: [TestAlgorithms:test]
    input_files: ["toy/*_r00001_*.h5"]
    depends_on: [other]
  - name: after_clean
    collector: ExampleHitCollector
    algorithms: [TestAlgorithms:test]
    input_files: ["toy/*_r00002_*.h5"]
    depends_on: [clean_a]
YAML
rc=0
"$CAF" run torture.yaml 2> run.log || rc=$?
[ "$rc" -eq 1 ] || fail "caf run: exit $rc (expected 1): $(tail -5 run.log)"
"$CAF" status out --json > status.json
$PY - status.json "$W" "${expected_flips[@]}" <<'PYEOF'
import json, sys
status, work, flips = sys.argv[1], sys.argv[2], sys.argv[3:]
cals = {c["name"]: c for c in json.load(open(status))["calibrations"]}
states = {n: c["state"] for n, c in cals.items()}
assert states == {"clean_a": "completed", "clean_b": "completed", "after_clean": "completed", "flips": "failed",
                  "other": "failed", "after_other": "failed"}, states
for name, files in (("flips", flips), ("other", ["bad_other/truncated.h5", "bad_other/wrong_type.h5",
                                                  "bad_other/crash.h5"])):
    reason = cals[name]["reason"]
    assert f"{len(files)} bad input files" in reason, (name, reason)
    for f in files:
        assert f"/{f}: " in reason, (name, f, reason)
assert "the HDF5 library crashed" in cals["other"]["reason"], cals["other"]["reason"]
assert cals["after_other"]["reason"].startswith("dependency other failed"), cals["after_other"]["reason"]
PYEOF
# the good files were cached, the bad ones were not
$PY - out/file_index.sqlite "${expected_flips[@]}" bad_other/truncated.h5 bad_other/wrong_type.h5 bad_other/crash.h5 <<'PYEOF'
import sqlite3, sys
paths = [r[0] for r in sqlite3.connect(sys.argv[1]).execute("SELECT path FROM files")]
assert any("/toy/" in p for p in paths), paths
bad = [p for p in paths if any(p.endswith("/" + b) for b in sys.argv[2:])]
assert not bad, bad
PYEOF
echo "run_torture_inputs: OK"
