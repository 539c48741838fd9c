#!/usr/bin/env bash
# caf process: skims toy data with TriggerSkim into an Output file and checks the kept events one by one
# against the trigger decisions read back from the inputs (h5py), the output's metadata and parents,
# reproducibility of random prescales by --seed, bad paths and inputs (one line, non-zero exit, no
# output file), and caf modules.
set -euo pipefail
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
PY=/usr/bin/python3
fail() { echo "FAIL: $*" >&2; exit 1; }

"$CAF" gen toy "$W/toy" --seed 11 --events 400 --runs 3 --experiments 2 --files-per-run 2 >/dev/null
mapfile -t inputs < <(ls "$W"/toy/*.h5 | sort)
[ "${#inputs[@]}" -ge 6 ] || fail "expected toy files, got ${#inputs[@]}"

# 1. mu-mu or Bhabha events; events without trigger results count as rejected
cat > "$W/skim.yaml" <<'YAML'
# keep di-muon and Bhabha events for a calibration
paths:
  main:
    - module: TriggerSkim
      params:
        triggerLines:
          - software_trigger_cut&hlt&accept_mu_mu
          - software_trigger_cut&hlt&accept_bhabha
        resultOnMissing: 0
      conditions:
        - if: "== 1"
          path: keep
  keep:
    - module: Output
      params: {outputFileName: never-used.h5}
YAML
"$CAF" process "$W/skim.yaml" -i "${inputs[@]}" -o "$W/skim.h5" --seed 5 --json > "$W/summary.json"
[ -f "$W/skim.h5" ] || fail "no output"
[ ! -e never-used.h5 ] || fail "-o did not replace outputFileName"

$PY - "$W/skim.h5" "$W/summary.json" "${inputs[@]}" <<'PYEOF'
import json, os, sys
import h5py, numpy as np
out, summary, inputs = sys.argv[1], sys.argv[2], sys.argv[3:]
want = {"exp": [], "run": [], "event": [], "result": [], "total_energy": [], "hits": []}
total = 0
for path in inputs:
    with h5py.File(path, "r") as f:
        ev, trg = f["events"], f["events/trigger"]
        lines = [l.decode() if isinstance(l, bytes) else l for l in trg["lines"][:]]
        mu, bb = lines.index("software_trigger_cut&hlt&accept_mu_mu"), lines.index("software_trigger_cut&hlt&accept_bhabha")
        res = trg["result"][:]
        present = trg["present"][:] if "present" in trg else np.ones(len(res), dtype=np.uint8)
        keep = (present == 1) & ((res[:, mu] == 1) | (res[:, bb] == 1))
        total += len(res)
        for k in ("exp", "run", "event"):
            want[k].append(ev[k][:][keep])
        want["result"].append(res[keep])
        want["total_energy"].append(ev["columns/total_energy"][:][keep])
        off, amp, ch = ev["arrays/hits/offsets"][:], ev["arrays/hits/amplitude"][:], ev["arrays/hits/channel"][:]
        want["hits"] += [(ch[off[i]:off[i + 1]].tolist(), amp[off[i]:off[i + 1]].tolist()) for i in np.nonzero(keep)[0]]
with h5py.File(out, "r") as f:
    ev, meta = f["events"], f["meta"]
    n = int(meta.attrs["n_events"])
    for k in ("exp", "run", "event"):
        w = np.concatenate(want[k])
        assert np.array_equal(ev[k][:], w), f"{k} differs: {len(ev[k])} events vs {len(w)} expected"
    assert np.array_equal(f["events/trigger/result"][:], np.concatenate(want["result"]))
    assert np.array_equal(ev["columns/total_energy"][:], np.concatenate(want["total_energy"]))
    assert n == len(np.concatenate(want["event"])) and 0 < n < total, (n, total)
    off, amp, ch = ev["arrays/hits/offsets"][:], ev["arrays/hits/amplitude"][:], ev["arrays/hits/channel"][:]
    got = [(ch[off[i]:off[i + 1]].tolist(), amp[off[i]:off[i + 1]].tolist()) for i in range(n)]
    assert got == want["hits"], "the hits of a kept event differ"
    assert sum(len(h[0]) for h in got) > 0
    parents = [p.decode() if isinstance(p, bytes) else p for p in f["meta/parents"][:]]
    assert parents == [os.path.realpath(p) for p in inputs], parents
    assert int(meta.attrs["random_seed"]) == 5
    assert meta.attrs["creator"] in ("caf process", b"caf process")
    s = json.load(open(summary))
    assert s["events"] == total and s["files"] == len(inputs) and s["seed"] == "5", s
print("kept", n, "of", total)
PYEOF
"$CAF" file info "$W/skim.h5" --json > /dev/null
# -n: the first 500 events only; Output still writes what it got
"$CAF" -q process "$W/skim.yaml" -i "${inputs[@]}" -o "$W/first500.h5" -n 500 --seed 5 >/dev/null
$PY - "$W/first500.h5" "${inputs[@]}" <<'PYEOF'
import sys
import h5py, numpy as np
out, inputs = sys.argv[1], sys.argv[2:]
ids, left = [], 500
for path in inputs:
    with h5py.File(path, "r") as f:
        t = f["events/trigger"]
        lines = [l.decode() if isinstance(l, bytes) else l for l in t["lines"][:]]
        r = t["result"][:left]
        p = t["present"][:left] if "present" in t else np.ones(len(r), dtype=np.uint8)
        keep = (p == 1) & ((r[:, lines.index("software_trigger_cut&hlt&accept_mu_mu")] == 1) |
                           (r[:, lines.index("software_trigger_cut&hlt&accept_bhabha")] == 1))
        ids += f["events/event"][:left][keep].tolist()
        left -= len(r)
    if left <= 0:
        break
with h5py.File(out, "r") as g:
    assert g["events/event"][:].tolist() == ids, "-n 500 kept other events"
PYEOF

# 2. a random prescale is reproducible with --seed: every mu-mu event, about 1 in 4 hadron-only events
cat > "$W/prescaled.yaml" <<'YAML'
- module: TriggerSkim
  params:
    triggerLines: [software_trigger_cut&hlt&accept_mu_mu, [software_trigger_cut&hlt&accept_hadron, 4]]
    resultOnMissing: 0
  conditions: [{if: false}]
- module: Output
  params: {outputFileName: out.h5}
YAML
for s in 7 7 8; do
  "$CAF" -q process "$W/prescaled.yaml" -i "${inputs[@]}" -o "$W/p$s-$RANDOM.h5" --seed $s >/dev/null
done
$PY - "$W" "${inputs[@]}" <<'PYEOF'
import glob, sys
import h5py, numpy as np
w, inputs = sys.argv[1], sys.argv[2:]
def ids(path):
    with h5py.File(path, "r") as f:
        e = f["events"]
        return list(zip(e["exp"][:].tolist(), e["run"][:].tolist(), e["event"][:].tolist()))
a, b = sorted(glob.glob(w + "/p7-*.h5"))
c, = glob.glob(w + "/p8-*.h5")
assert ids(a) == ids(b), "same seed, different events"
assert ids(a) != ids(c), "another seed drew the same events"
mu_ids, had_only = set(), set()
for path in inputs:
    with h5py.File(path, "r") as f:
        t = f["events/trigger"]
        lines = [l.decode() if isinstance(l, bytes) else l for l in t["lines"][:]]
        r, p = t["result"][:], t["present"][:] if "present" in t else None
        mu, had = lines.index("software_trigger_cut&hlt&accept_mu_mu"), lines.index("software_trigger_cut&hlt&accept_hadron")
        e = f["events"]
        for i, key in enumerate(zip(e["exp"][:].tolist(), e["run"][:].tolist(), e["event"][:].tolist())):
            if p is not None and p[i] == 0:
                continue
            if r[i, mu] == 1:
                mu_ids.add(key)
            elif r[i, had] == 1:
                had_only.add(key)
kept = set(ids(a))
assert mu_ids <= kept, "a mu-mu event was dropped"
assert kept <= mu_ids | had_only, "an event without accepted lines was kept"
frac = len(kept & had_only) / max(1, len(had_only))
assert 0.1 < frac < 0.45, f"hadron prescale 4 kept {frac:.2f}"
PYEOF

# 3. a file written with h5py by docs/event-format.md (no run-segment table) skims the same way
mkdir "$W/h5py"
sed -n '/^```python/,/^```/p' "$CAF_SOURCE_DIR/docs/event-format.md" | sed '1d;$d' > "$W/h5py/example.py"
(cd "$W/h5py" && $PY example.py)
printf -- '- module: TriggerSkim\n  params: {triggerLines: [software_trigger_cut&hlt&accept_mu_mu]}\n  conditions: [{if: false}]\n- module: Output\n  params: {outputFileName: x.h5}\n' > "$W/h5py/mumu.yaml"
"$CAF" -q process "$W/h5py/mumu.yaml" -i "$W/h5py/example.h5" -o "$W/h5py/skim.h5" --seed 1 >/dev/null
$PY - "$W/h5py/example.h5" "$W/h5py/skim.h5" <<'PYEOF'
import sys
import h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f, h5py.File(sys.argv[2], "r") as g:
    lines = [l.decode() if isinstance(l, bytes) else l for l in f["events/trigger/lines"][:]]
    keep = f["events/trigger/result"][:][:, lines.index("software_trigger_cut&hlt&accept_mu_mu")] == 1
    for k in ("exp", "run", "event"):
        assert np.array_equal(g["events/" + k][:], f["events/" + k][:][keep]), k
    assert 0 < keep.sum() < len(keep)
PYEOF

# 4. bad input: one line naming the culprit, exit 1, no output file
expect_error() { # expect_error CODE NEEDLE ARGS...
  local code=$1 needle=$2; shift 2
  set +e; "$CAF" "$@" > "$W/out.txt" 2> "$W/err.txt"; local rc=$?; set -e
  [ "$rc" -eq "$code" ] || fail "'$*' exited $rc, expected $code: $(cat "$W/err.txt")"
  grep -qF -- "$needle" "$W/err.txt" || fail "'$*' error lacks '$needle': $(cat "$W/err.txt")"
  # one error line (besides the seed note and the pointer to the help)
  [ "$(grep -cv -e '^caf: random seed' -e "^(see 'caf help" "$W/err.txt")" -eq 1 ] ||
    fail "'$*' printed more than one error: $(cat "$W/err.txt")"
}
printf -- '- module: TriggerSkim\n  params: {triggerLines: [x]}\n- module: NoSuchModule\n' > "$W/unknown.yaml"
expect_error 1 "unknown.yaml:3:3: module NoSuchModule" process "$W/unknown.yaml" -i "${inputs[0]}"
printf -- '- module: TriggerSkim\n  params: {triggerLines: [x], logicMode: xor}\n' > "$W/badmode.yaml"
expect_error 1 "logicMode" process "$W/badmode.yaml" -i "${inputs[0]}"
printf -- '- module: TriggerSkim\n  params: {triggerLines: [x], expectedResult: [1]}\n' > "$W/badtype.yaml"
expect_error 1 "badtype.yaml:2:47: module TriggerSkim: parameter expectedResult" process "$W/badtype.yaml" -i "${inputs[0]}"
printf -- '- module: TriggerSkim\n  params: {triggerLines: [x]\n' > "$W/syntax.yaml"
expect_error 1 "syntax.yaml:3:1" process "$W/syntax.yaml" -i "${inputs[0]}"
printf -- '- module: TriggerSkim\n  params: {triggerLines: [x]}\n' > "$W/unknownline.yaml"
expect_error 1 "no trigger line 'x'" process "$W/unknownline.yaml" -i "${inputs[0]}"
# an unreadable second input after events were written: the output never appears, nor a temporary
mkdir "$W/fail"
echo "not an HDF5 file" > "$W/fail/broken.h5"
expect_error 1 "broken.h5" process "$W/skim.yaml" -i "${inputs[0]}" "$W/fail/broken.h5" -o "$W/fail/out.h5"
[ "$(ls -A "$W/fail")" = "broken.h5" ] || fail "a failed process left $(ls -A "$W/fail")"
expect_error 2 "exactly one Output" process "$W/unknownline.yaml" -i "${inputs[0]}" -o "$W/x.h5"
expect_error 2 "path file" process -i "${inputs[0]}"
expect_error 2 "input files" process "$W/skim.yaml"
expect_error 2 "--seed" process "$W/skim.yaml" -i "${inputs[0]}" --seed -3

# 5. caf modules
"$CAF" modules > "$W/modules.txt"
for m in TriggerSkim Prescale EventSelector Output; do grep -q "^   $m " "$W/modules.txt" || fail "caf modules lacks $m"; done
"$CAF" modules TriggerSkim | grep -q "resultOnMissing (int, optional)" || fail "TriggerSkim parameters not documented"
"$CAF" modules Output --json | $PY -c 'import json,sys; d=json.load(sys.stdin); assert d["name"]=="Output" and d["parameters"][0]["required"]'
"$CAF" modules --json | $PY -c 'import json,sys; assert {"TriggerSkim","Output"} <= {m["name"] for m in json.load(sys.stdin)}'
expect_error 1 "NoSuchModule" modules NoSuchModule
# shared objects that are not modules are left out of the list, and named when asked for
export CAF_PLUGIN_PATH="$CAF_BUILD_DIR/tests/plugins:$CAF_PLUGIN_PATH"
"$CAF" modules > "$W/modules.txt"
grep -q "^   TestRecorder " "$W/modules.txt" || fail "caf modules lacks the test plugin"
! grep -q "NoEntryPoint\|WrongName" "$W/modules.txt" || fail "caf modules lists a broken plugin"
expect_error 1 "caf_module_plugin_v1" modules NoEntryPoint
printf -- '- module: NoEntryPoint\n' > "$W/noentry.yaml"
expect_error 1 "noentry.yaml:1:3: module NoEntryPoint" process "$W/noentry.yaml" -i "${inputs[0]}"
echo "process_skim: ok"
