#!/usr/bin/env bash
# caf gen toy: the same seed gives the same bytes (truth and event files) and the same events; another
# seed gives other data. The truth agrees with the files, and hit amplitudes really peak at
# gain * peak_energy for every live channel, so a gain calibration has something to find.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
PY=/usr/bin/python3

"$CAF" gen toy a --seed 42 --files-per-run 2
"$CAF" gen toy b --seed 42 --files-per-run 2
"$CAF" gen toy c --seed 43 --files-per-run 2
cmp a/truth.json b/truth.json
n=0
for f in a/*.h5; do
  cmp "$f" "b/$(basename "$f")"
  "$CAF" file dump "$f" > dump_a.jsonl
  "$CAF" file dump "b/$(basename "$f")" > dump_b.jsonl
  cmp dump_a.jsonl dump_b.jsonl
  n=$((n + 1))
done
test "$n" -eq 16  # 2 experiments x 4 runs x 2 files
if cmp -s a/truth.json c/truth.json; then echo "another seed gave the same truth"; exit 1; fi
"$CAF" file dump c/toy_e0001_r00001_f00.h5 > dump_c.jsonl
"$CAF" file dump a/toy_e0001_r00001_f00.h5 > dump_a.jsonl
if cmp -s dump_a.jsonl dump_c.jsonl; then echo "another seed gave the same events"; exit 1; fi

"$CAF" file index a --json --cache index.sqlite > index.json
"$CAF" file index a --json --cache index.sqlite > index2.json
$PY -c '
import json
first, second = json.load(open("index.json")), json.load(open("index2.json"))
assert first["stats"]["files_opened"] == 16 and second["stats"]["files_opened"] == 0, (first["stats"], second["stats"])
assert second["stats"]["cache_hits"] == 16 and first["runs"] == second["runs"]
'
for f in a/toy_e0001_r00001_f00.h5 a/toy_e0001_r00001_f01.h5 a/toy_e0002_r00002_f00.h5; do
  "$CAF" file dump "$f"
done > sample.jsonl
$PY - <<'PYEOF'
import json
import numpy as np
truth = json.load(open("a/truth.json"))
index = json.load(open("index.json"))
nc = truth["n_channels"]
assert nc == 48 and len(truth["dead_channels"]) == 2 and len(truth["hot_channels"]) == 2, truth
assert truth["hv_change"] == {"exp": 2, "run": 2}, truth["hv_change"]
runs = {(r["exp"], r["run"]): r for r in truth["runs"]}
assert len(runs) == 8
idx = {(r["exp"], r["run"]): r["events"] for r in index["runs"]}
for key, r in runs.items():
    assert idx[key] == r["events"], (key, idx[key], r["events"])
    assert sum(f["events"] for f in r["files"]) == r["events"]
    assert len(r["gain"]) == nc and len(r["t0"]) == nc and len(r["gain_stat_error"]) == nc
    for c in range(nc):
        if c in truth["dead_channels"]:
            assert r["peak_hits"][c] == 0 and r["gain_stat_error"][c] is None
        elif r["peak_hits"][c]:
            w = np.hypot(r["gain"][c] * truth["energy_resolution"], truth["noise"])
            assert abs(r["gain_stat_error"][c] - w / np.sqrt(r["peak_hits"][c]) / truth["peak_energy"]) < 1e-12
    assert r["after_hv_change"] == (key >= (2, 2)), key
# short runs exist
assert min(r["events"] for r in runs.values()) < 50, [r["events"] for r in runs.values()]
assert max(r["events"] for r in runs.values()) > 1500
# the gains jump at the high-voltage change, by about 10%
g_before = np.array(runs[(2, 1)]["gain"]); g_after = np.array(runs[(2, 2)]["gain"])
ratio = g_after / g_before
assert 1.05 < np.median(ratio) < 1.15, np.median(ratio)
t_jump = np.array(runs[(2, 2)]["t0"]) - np.array(runs[(2, 1)]["t0"])
assert 1.0 < np.median(t_jump) < 2.0, np.median(t_jump)
# trigger rates: hadron > mumu, bhabha prescaled by 10
lines = {l["name"]: l["prescale"] for l in truth["trigger_lines"]}
assert lines["software_trigger_cut&hlt&accept_bhabha"] == 10 and lines["software_trigger_cut&hlt&accept_mu_mu"] == 1
acc = runs[(1, 1)]["accepted"]
assert acc["software_trigger_cut&hlt&accept_hadron"] > acc["software_trigger_cut&hlt&accept_mu_mu"] > acc["software_trigger_cut&hlt&accept_bhabha"] > 0, acc

# hits: dead channels never fire; every live channel's amplitude / gain peaks at peak_energy
ev = [json.loads(l) for l in open("sample.jsonl")]
dead = set(truth["dead_channels"]); hot = set(truth["hot_channels"])
by_run = {}
for e in ev:
    h = e["arrays"]["hits"]
    assert not dead & set(h["channel"]), "a dead channel fired"
    by_run.setdefault((e["exp"], e["run"]), []).append(h)
E0 = truth["peak_energy"]
for key, hits in by_run.items():
    gain = np.array(runs[key]["gain"]); t0 = np.array(runs[key]["t0"])
    ch = np.concatenate([h["channel"] for h in hits]).astype(int)
    amp = np.concatenate([h["amplitude"] for h in hits])
    tm = np.concatenate([h["time"] for h in hits])
    for c in range(nc):
        if c in dead or c in hot:
            continue
        a = amp[ch == c] / gain[c]
        near = a[np.abs(a - E0) < 10]
        assert len(near) > 20, (key, c, len(near))
        # the peak position is recovered to within 5 standard errors of its known width
        sigma = np.hypot(truth["energy_resolution"], truth["noise"] / gain[c])
        assert abs(np.median(near) - E0) < 5 * sigma / np.sqrt(len(near)) + 0.5, (key, c, np.median(near))
        # times: t0 plus the time walk of the hit's energy (estimated from the amplitude)
        e = np.maximum(amp[ch == c] / gain[c], 1.0)
        walk = truth["time_walk"] * (np.sqrt(E0 / e) - 1)
        assert abs(np.median(tm[ch == c] - walk) - t0[c]) < 0.3, (key, c)
print("toy ok")
PYEOF
