#!/usr/bin/env bash
# The science test: the example campaign (examples/toy_campaign.yaml, as shipped) on toy data recovers the
# true constants. Every gain (from the C algorithm and from its Python version, which agree with each other
# within their uncertainties) and time offset agrees with truth.json within its stated uncertainty (all
# |pull| < 5, pull RMS in [0.7, 1.4]), and so does the time-walk coefficient; dead and hot channels are
# found exactly in every run long enough to decide and no run is guessed; the time calibration needs
# at least two iterations and converges before max_iterations; and the IoVs every strategy produced, and
# its IoV gaps (also with a run ignored, which leaves a gap in the SimpleRunByRun payloads), equal the
# ones derived here from truth.json's run statistics, the campaign's settings (min_entries,
# min_median_hits, payload_boundaries) and the strategies' documented rules.
set -euo pipefail
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
PY=/usr/bin/python3
export CAF_PLUGIN_PATH="$CAF_BUILD_DIR/plugins"
cd "$W"

# Another seed than the demo's (7). Over seeds 1-40 the largest |pull| of a campaign was 2.2-4.2 except seed
# 11, where one t0 is 5.5 sigma off: that channel's time average in run 2.1 is already 3.6 sigma off in the
# generated hits, and the two-track events alone are further off; a fluctuation of the data, not of the fit.
"$CAF" gen toy toy --seed 3 --events 5000 --files-per-run 2 >/dev/null
cp "$CAF_SOURCE_DIR/examples/toy_campaign.yaml" .
cp -r "$CAF_SOURCE_DIR/examples/python_algorithms" .
"$CAF" run toy_campaign.yaml 2> run.log || { cat run.log; echo "FAIL: caf run failed" >&2; exit 1; }
$PY "$CAF_SOURCE_DIR/scripts/toy_truth_check.py" toy_results toy/truth.json --json report.json
# The same status and gain calibrations with run 1.2 ignored: SimpleRunByRun is left with a gap there,
# SequentialRunByRun's IoVs tile over it.
$PY - <<'PYEOF'
import yaml
c = yaml.safe_load(open("toy_campaign.yaml"))
c["output_dir"] = "ignored_results"
c["calibrations"] = [cal for cal in c["calibrations"] if cal["name"] in ("status", "gain")]
for cal in c["calibrations"]:
    cal["ignored_runs"] = [[1, 2]]
yaml.safe_dump(c, open("ignored.yaml", "w"))
PYEOF
"$CAF" run ignored.yaml 2> ignored.log || { cat ignored.log; echo "FAIL: caf run ignored.yaml failed" >&2; exit 1; }

$PY - toy_campaign.yaml toy/truth.json toy_results report.json <<'PYEOF'
import json, math, os, subprocess, sys
import yaml

campaign = yaml.safe_load(open(sys.argv[1]))
truth = json.load(open(sys.argv[2]))
out, report = sys.argv[3], json.load(open(sys.argv[4]))
cals = {c["name"]: c for c in campaign["calibrations"]}
runs = sorted((r["exp"], r["run"]) for r in truth["runs"])
stats = {(r["exp"], r["run"]): r for r in truth["runs"]}
dead, hot = set(truth["dead_channels"]), set(truth["hot_channels"])
live = [c for c in range(truth["n_channels"]) if c not in dead and c not in hot]
exps = sorted({e for e, _ in runs})

def param(cal, key):
    return cals[cal]["algorithms"][0]["parameters"][key]

# --- what a run (or a set of runs) has, estimated from truth.json ------------------------------------
# Hits per channel: all hits of the run over the channels. Peak counts after the TriggerSkim: each
# channel's peak hits times the share of events the skim keeps (its two-track line; the share of hits
# is somewhat smaller, as two-track events have fewer hits than the average). Estimates, so every
# decision below must have a margin of 2 either way, or the premise of the test fails loudly.
skim_line = "software_trigger_cut&hlt&accept_2_tracks"
for cal in ("gain", "gain_python", "gain_hv", "time"):
    assert skim_line in cals[cal]["pre_collector"][0]["parameters"]["triggerLines"], cal
def hits_per_channel(rs):
    return sum(stats[r]["hits"] for r in rs) / truth["n_channels"]
def skimmed_peak(rs):
    return min(sum(stats[r]["peak_hits"][c] * stats[r]["accepted"][skim_line] / stats[r]["events"] for r in rs)
               for c in live)
# gain_skims: two collections, one TriggerSkim line each; the algorithm sees both merged.
skim_lines = [c["pre_collector"][0]["parameters"]["triggerLines"][0] for c in cals["gain_skims"]["collections"]]
assert len(skim_lines) == 2, skim_lines
def peak_of_lines(rs, lines):
    return min(sum(stats[r]["peak_hits"][c] * sum(stats[r]["accepted"][l] for l in lines) / stats[r]["events"]
                   for r in rs) for c in live)
def decide(value, threshold, what):
    assert value >= 2 * threshold or value <= threshold / 2, f"{what}: {value:.1f} too close to {threshold}"
    return value >= threshold

# --- the strategies' rules (docs/ARCHITECTURE.md, ## orchestration) ----------------------------------
def low_high(e):
    """L and H of an experiment without iov_coverage."""
    in_exp = [r for x, r in runs if x == e]
    return (in_exp[0] if e == exps[0] else 0), (in_exp[-1] if e == exps[-1] else -1)

def sequential(units, enough, e):
    """Merges units (lists of runs, each with its start run) until enough; returns the payload IoVs."""
    done, pending, start = [], [], None
    for first, rs in units:
        start = first if not pending else start
        pending += rs
        if enough(pending):
            done.append((start, pending))
            pending = []
    if pending:
        assert done, f"experiment {e}: no run set has enough data"
        done[-1] = (done[-1][0], done[-1][1] + pending)
    L, H = low_high(e)
    return [(e, L if i == 0 else s, e, done[i + 1][0] - 1 if i + 1 < len(done) else H)
            for i, (s, _) in enumerate(done)]

def sequential_run_by_run(enough):
    iovs = []
    for e in exps:
        iovs += sequential([(r, [(e, r)]) for x, r in runs if x == e], enough, e)
    return iovs

def sequential_boundaries(boundaries, enough):
    iovs = []
    for e in exps:
        starts = sorted({0} | {r for x, r in boundaries if x == e})
        units = []
        for i, s in enumerate(starts):
            end = starts[i + 1] if i + 1 < len(starts) else float("inf")
            rs = [(e, r) for x, r in runs if x == e and s <= r < end]
            if rs:  # segments without runs are dropped
                units.append((s, rs))
        iovs += sequential(units, enough, e)
    return iovs

def gaps(iovs, simple=False):
    """What the IoVs leave uncovered of each experiment's span: L..H for the sequential strategies, the
    span of the experiment's runs for SimpleRunByRun."""
    missing = []
    for e in exps:
        in_exp = [r for x, r in runs if x == e]
        L, H = (in_exp[0], in_exp[-1]) if simple else low_high(e)
        covered = sorted((a[1], a[3]) for a in iovs if a[0] == e)
        at = L
        for lo, hi in covered:
            if lo > at:
                missing.append([e, at, e, lo - 1])
            at = max(at, hi + 1) if hi != -1 else float("inf")
        if H != -1 and at <= H:
            missing.append([e, at, e, H])
    return missing

# --- the calibrations' results --------------------------------------------------------------------
summary = {c["name"]: c for c in json.load(open(os.path.join(out, "summary.json")))["results"]}
def produced(cal):
    return [tuple(int(x) for x in p["iov"].split(",")) for p in summary[cal]["payloads"]]
def gaps_file(cal):
    it = summary[cal]["iterations"] - 1
    folder = os.path.join(out, cal, f"iteration_{it}")
    name, = [f for f in os.listdir(folder) if f.endswith("_iov_gaps.json")]
    return json.load(open(os.path.join(folder, name)))
for name, c in report["calibrations"].items():
    assert c["outcome"] == "completed", (name, c)

expected = {
    "status": [(e, r, e, r) for e, r in runs],  # SimpleRunByRun: one payload per run
    "gain": sequential_run_by_run(lambda rs: decide(skimmed_peak(rs), param("gain", "min_entries"), f"gain {rs}")),
    "gain_python": sequential_run_by_run(lambda rs: decide(skimmed_peak(rs), param("gain_python", "min_entries"),
                                                           f"gain_python {rs}")),
    "gain_hv": sequential_boundaries([tuple(b) for b in cals["gain_hv"]["algorithms"][0]["strategy_parameters"]
                                      ["payload_boundaries"]],
                                     lambda rs: decide(skimmed_peak(rs), param("gain_hv", "min_entries"), "gain_hv")),
    "gain_skims": sequential_boundaries([tuple(b) for b in cals["gain_skims"]["algorithms"][0]["strategy_parameters"]
                                         ["payload_boundaries"]],
                                        lambda rs: decide(peak_of_lines(rs, skim_lines),
                                                          param("gain_skims", "min_entries"), "gain_skims")),
    "time": sequential_boundaries([tuple(b) for b in cals["time"]["algorithms"][0]["strategy_parameters"]
                                   ["payload_boundaries"]],
                                  lambda rs: decide(skimmed_peak(rs), param("time", "min_hits"), "time")),
}
for cal, want in expected.items():
    assert produced(cal) == want, (cal, produced(cal), want)
    assert gaps_file(cal) == gaps(want, cal == "status"), (cal, gaps_file(cal), gaps(want, cal == "status"))
# the low-statistics runs really were merged, and the boundaries are the high-voltage change
assert any(i[1] != i[3] for i in expected["gain"]), expected["gain"]
hv = [truth["hv_change"]["exp"], truth["hv_change"]["run"]]
for cal in ("gain_hv", "gain_skims", "time"):
    assert cals[cal]["algorithms"][0]["strategy_parameters"]["payload_boundaries"] == [hv], cal

# --- channel status: exact where decidable, "unknown" where not ------------------------------------
min_median = param("status", "min_median_hits")
decidable = [decide(hits_per_channel([r]), min_median, f"status {r}") for r in runs]
s = report["status"]
assert s["decided_runs"] == sum(decidable) and s["undecided_runs"] == len(runs) - sum(decidable), s
assert s["misclassified"] == 0, s
assert 0 < sum(decidable) < len(runs), decidable

# --- constants against the truth -------------------------------------------------------------------
for payload, n in (("ExampleGains", len(expected["gain"])), ("ExampleGainsPython", len(expected["gain_python"])),
                   ("ExampleGainsHV", len(expected["gain_hv"])),
                   ("ExampleGainsSkims", len(expected["gain_skims"])), ("ExampleTimeOffsets", len(expected["time"]))):
    p = report[payload]
    assert p["n"] == n * len(live), (payload, p["n"])
    assert p["max_abs"] < 5, (payload, sorted(p["pulls"], key=abs)[-5:])
    assert 0.7 < p["rms"] < 1.4 and abs(p["mean"]) < 0.5, (payload, p["rms"], p["mean"])
t = report["ExampleTimeOffsets"]
assert all(abs(x) < 5 for x in t["walk_pulls"]), t["walk_pulls"]

# --- the gains written in Python (examples/python_algorithms) agree with the C algorithm's ------------
# Same data, same IoVs, the same model fitted with scipy instead of GSL: per live channel the two gains
# differ by far less than their uncertainty, and the uncertainties agree.
def gains_payloads(name):
    with open(os.path.join(out, "database", "database.txt")) as f:
        lines = [l.split() for l in f if l.strip()]
    found = {}
    for path_name, rev, iov in lines:
        if path_name == "dbstore/" + name:
            found[tuple(int(x) for x in iov.split(","))] = json.load(
                open(os.path.join(out, "database", f"dbstore_{name}_rev_{rev}.json")))
    return found
c_gains, py_gains = gains_payloads("ExampleGains"), gains_payloads("ExampleGainsPython")
assert sorted(c_gains) == sorted(py_gains) and c_gains, (sorted(c_gains), sorted(py_gains))
for iov, c in c_gains.items():
    p = py_gains[iov]
    assert p["dead"] == c["dead"], iov
    for ch in live:
        sigma = math.hypot(c["gain_error"][ch], p["gain_error"][ch])
        assert abs(p["gain"][ch] - c["gain"][ch]) < 0.2 * sigma, (iov, ch, p["gain"][ch], c["gain"][ch], sigma)
        assert abs(p["gain_error"][ch] / c["gain_error"][ch] - 1) < 0.2, (iov, ch, p["gain_error"][ch])

# --- the TriggerSkim: the skimmed calibrations saw exactly the events one of its lines accepted -----
def collected_events(cal, run, collection=None):
    it = summary[cal]["iterations"] - 1
    f = os.path.join(out, cal, f"iteration_{it}", *(("collections", collection) if collection else ()),
                     "collector_output.sqlite")
    done = subprocess.run([os.environ["CAF"], "collector", "inspect", f, "--object", "events", "--run",
                           f"{run[0]}:{run[1]}", "--json"], capture_output=True, text=True)
    if done.returncode != 0 and f"has no data for {run[0]}.{run[1]}" in done.stderr:
        return 0  # no event of the run reached the collector
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["count"]
mumu = "software_trigger_cut&hlt&accept_mu_mu"
for run in runs:
    acc = stats[run]["accepted"]
    assert collected_events("status", run) == stats[run]["events"], run
    for cal in ("gain", "time"):
        n = collected_events(cal, run)
        assert max(acc[skim_line], acc[mumu]) <= n <= acc[skim_line] + acc[mumu], (cal, run, n, acc)
        assert n < stats[run]["events"] / 2 or stats[run]["events"] < 100, (cal, run, n)
    # each collection of gain_skims saw exactly the events of its one line
    for collection, line in zip(("mumu", "bhabha"), skim_lines):
        assert collected_events("gain_skims", run, collection) == acc[line], (collection, run, acc)

# --- iteration --------------------------------------------------------------------------------------
iterations = summary["time"]["iterations"]
# passes 0 .. max_iterations are allowed; converging means its last pass is not the one the limit stopped
assert 2 <= iterations <= cals["time"]["max_iterations"], iterations

# --- ignored runs: the same rules on the remaining runs, and the gap they leave -----------------------
out = "ignored_results"
summary = {c["name"]: c for c in json.load(open(os.path.join(out, "summary.json")))["results"]}
runs = [r for r in runs if r != (1, 2)]
want = {"status": [(e, r, e, r) for e, r in runs],
        "gain": sequential_run_by_run(lambda rs: decide(skimmed_peak(rs), param("gain", "min_entries"), "gain"))}
for cal, iovs in want.items():
    assert produced(cal) == iovs, (cal, produced(cal), iovs)
    assert gaps_file(cal) == gaps(iovs, cal == "status"), (cal, gaps_file(cal), gaps(iovs, cal == "status"))
assert gaps_file("status") == [[1, 2, 1, 2]] and gaps_file("gain") == [], (gaps_file("status"), gaps_file("gain"))
print(f"ok: gains max |pull| {report['ExampleGains']['max_abs']:.2f} "
      f"(Python: {report['ExampleGainsPython']['max_abs']:.2f}), time {t['max_abs']:.2f}, "
      f"{iterations} time iterations")
PYEOF
grep -q 'time: iteration 1: ExampleTimeAlgorithm execution 0 .*: iterate' run.log || {
    echo "FAIL: the time calibration did not iterate" >&2; exit 1; }
