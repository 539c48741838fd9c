#!/usr/bin/env bash
# A physicist's file: the h5py example of docs/event-format.md, run exactly as printed there, must be a
# valid caf event file; caf reads its metadata (file info --json) and its events (file dump) correctly.
# Then variations the document allows (fixed-length strings, other integer widths, no optional groups)
# and one it forbids (a run table that disagrees with n_events).
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
PY=/usr/bin/python3

# the example, cut out of the document between its ```python fence and the closing fence
awk '/^## Writing a file with h5py/{s=1} s&&/^```python/{p=1;next} p&&/^```/{exit} p' \
  "$CAF_SOURCE_DIR/docs/event-format.md" > example.py
test -s example.py
$PY example.py
test -f example.h5

"$CAF" file info --json example.h5 > info.json
$PY - <<'PYEOF'
import json
info = json.load(open("info.json"))
assert len(info) == 1, info
m = info[0]
assert m["path"] == "example.h5", m
assert m["n_events"] == 3, m
assert m["creator"] == "example.py" and m["creator_version"] == "1.0", m
assert m["random_seed"] == 0, m
assert m["experiments"] == [1], m
assert m["runs"] == [{"exp": 1, "run": 10, "events": 2}, {"exp": 1, "run": 11, "events": 1}], m
assert m["low"] == {"exp": 1, "run": 10} and m["high"] == {"exp": 1, "run": 11}, m
assert m["parents"] == [], m
assert m["format_version"] == 1, m
PYEOF

"$CAF" file dump example.h5 > events.jsonl
$PY - <<'PYEOF'
import json
ev = [json.loads(l) for l in open("events.jsonl")]
assert [(e["exp"], e["run"], e["event"]) for e in ev] == [(1, 10, 1), (1, 10, 2), (1, 11, 1)], ev
assert [e["columns"]["energy"] for e in ev] == [5.5, 6.0, 7.5], ev
hits = [e["arrays"]["hits"] for e in ev]
assert hits[0]["channel"] == [3, 7] and hits[1]["channel"] == [] and hits[2]["channel"] == [4], hits
assert hits[0]["amplitude"] == [101.0, 99.5] and hits[2]["amplitude"] == [98.0], hits
mumu, bhabha = "software_trigger_cut&hlt&accept_mu_mu", "software_trigger_cut&hlt&accept_bhabha"
assert [(e["trigger"][mumu][0], e["trigger"][bhabha][0]) for e in ev] == [(1, -1), (-1, 1), (0, 1)], ev
PYEOF

# Variations: fixed-length byte strings, int64 ids, no columns/arrays/trigger, one parent.
$PY - <<'PYEOF'
import h5py, numpy as np
with h5py.File("variant.h5", "w") as f:
    f.attrs["caf_format"] = np.bytes_("caf-events")
    f.attrs["caf_format_version"] = 1
    ev = f.create_group("events")
    ev["exp"] = np.array([5, 5, 6], dtype=np.int64)
    ev["run"] = np.array([1, 1, 0], dtype=np.int64)
    ev["event"] = np.array([10, 11, 12], dtype=np.int64)
    m = f.create_group("meta")
    m.attrs["creator"] = np.bytes_("hand")
    m.attrs["creator_version"] = "0"
    m.attrs["random_seed"] = 12345
    m.attrs["n_events"] = 3
    m.attrs["low"] = [5, 1]
    m.attrs["high"] = [6, 0]
    m["experiments"] = [5, 6]
    m["run_exp"] = [5, 6]
    m["run_run"] = [1, 0]
    m["run_events"] = [2, 1]
    m["parents"] = np.array([b"/data/raw.h5"])
PYEOF
"$CAF" file info --json variant.h5 > variant.json
$PY -c '
import json
m = json.load(open("variant.json"))[0]
assert m["creator"] == "hand" and m["random_seed"] == 12345 and m["parents"] == ["/data/raw.h5"], m
assert m["runs"] == [{"exp": 5, "run": 1, "events": 2}, {"exp": 6, "run": 0, "events": 1}], m
'
test "$("$CAF" file dump variant.h5 | wc -l)" -eq 3

# A run table that disagrees with n_events is refused with one line naming the file.
$PY -c '
import h5py
with h5py.File("variant.h5", "a") as f:
    f["meta"].attrs["n_events"] = 4
'
if "$CAF" file info variant.h5 > out.txt 2> err.txt; then
  echo "an inconsistent file was accepted"; exit 1
fi
test "$(wc -l < err.txt)" -eq 1
grep -q 'variant.h5' err.txt
grep -q 'n_events is 4' err.txt
echo ok
