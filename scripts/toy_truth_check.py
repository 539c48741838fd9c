#!/usr/bin/python3
"""Compares what the toy campaign (examples/toy_campaign.yaml) found with the truth of `caf gen toy`.

usage: toy_truth_check.py OUTPUT_DIR TRUTH_JSON [--json FILE]

Reads OUTPUT_DIR/summary.json (per calibration: state, iterations, payloads) and the payloads of the
merged database OUTPUT_DIR/database, and truth.json. Prints a table: per calibration its outcome,
iterations, payload count and how its constants compare with the truth:
  status    dead and hot channels of every decided run against truth.json's (exact match expected),
            and how many runs were too short to decide;
  gains     pull = (fitted - true) / fitted error per live channel and payload; the true gain of a
            payload is the mean of the per-run true gains over the runs its IoV covers, weighted by the
            channel's peak hits in each run (what a fit of the merged spectrum estimates);
  time      pull of every t0 the same way (weighted by peak hits), and of the time-walk coefficient.
Hot channels are left out of the gain and time pulls: their extra hits at random amplitudes and times
are noise the status calibration flags, not signal these calibrations claim to describe.
--json FILE writes every number (pull lists included) for tests. Standard library only.
"""
import json
import math
import os
import sys


def load_database(folder):
    """{payload name: [(iov tuple, constants dict)]} from a local database folder."""
    out = {}
    for line in open(os.path.join(folder, "database.txt")):
        name, rev, iov = line.split()
        name = name.split("/", 1)[1]
        path = os.path.join(folder, f"dbstore_{name}_rev_{rev}.json")
        out.setdefault(name, []).append((tuple(int(x) for x in iov.split(",")), json.load(open(path))))
    return out


def covers(iov, exp, run):
    e1, r1, e2, r2 = iov
    after_low = (exp, run) >= (e1, r1)
    before_high = exp < e2 or (exp == e2 and (r2 == -1 or run <= r2))
    return after_low and before_high


def weighted_truth(truth_runs, iov, key, channel):
    """Peak-hit weighted mean of truth[key][channel] over the runs the IoV covers."""
    num = den = 0.0
    for r in truth_runs:
        if covers(iov, r["exp"], r["run"]):
            w = r["peak_hits"][channel]
            num += w * r[key][channel]
            den += w
    return num / den if den else None


def stats(pulls):
    if not pulls:
        return {"n": 0, "max_abs": None, "rms": None, "mean": None}
    mean = sum(pulls) / len(pulls)
    return {"n": len(pulls), "max_abs": max(abs(p) for p in pulls), "mean": mean,
            "rms": math.sqrt(sum(p * p for p in pulls) / len(pulls))}


def check(outdir, truth):
    summary = json.load(open(os.path.join(outdir, "summary.json")))
    db = load_database(os.path.join(outdir, "database"))
    runs = truth["runs"]
    dead, hot = set(truth["dead_channels"]), set(truth["hot_channels"])
    nc = truth["n_channels"]
    report = {"calibrations": {}}
    for cal in summary["results"]:
        payloads = cal.get("payloads", [])
        outcome = ",".join(a["outcome"] for a in cal.get("algorithms", [])) or "?"
        report["calibrations"][cal["name"]] = {
            "outcome": outcome, "iterations": cal.get("iterations", 0), "payloads": len(payloads),
            "payload_names": sorted({p["name"] for p in payloads})}

    if "ExampleChannelStatus" in db:
        decided = undecided = wrong = 0
        for iov, c in db["ExampleChannelStatus"]:
            status = c["status"]
            if all(s == -1 for s in status):
                undecided += 1
                continue
            decided += 1
            found_dead = {i for i, s in enumerate(status) if s == 1}
            found_hot = {i for i, s in enumerate(status) if s == 2}
            wrong += len(found_dead ^ dead) + len(found_hot ^ hot)
        report["status"] = {"decided_runs": decided, "undecided_runs": undecided, "misclassified": wrong}

    for name in ("ExampleGains", "ExampleGainsPython", "ExampleGainsHV", "ExampleGainsSkims"):
        if name not in db:
            continue
        pulls = []
        for iov, c in db[name]:
            for ch in range(nc):
                if ch in dead or ch in hot:
                    continue
                true = weighted_truth(runs, iov, "gain", ch)
                if true is not None and c["gain_error"][ch] > 0:
                    pulls.append((c["gain"][ch] - true) / c["gain_error"][ch])
        report[name] = dict(stats(pulls), pulls=pulls)

    if "ExampleTimeOffsets" in db:
        pulls, walk_pulls = [], []
        for iov, c in db["ExampleTimeOffsets"]:
            for ch in range(nc):
                if ch in dead or ch in hot:
                    continue
                true = weighted_truth(runs, iov, "t0", ch)
                if true is not None and c["t0_error"][ch] > 0:
                    pulls.append((c["t0"][ch] - true) / c["t0_error"][ch])
            walk_pulls.append((c["walk"] - truth["time_walk"]) / c["walk_error"])
        report["ExampleTimeOffsets"] = dict(stats(pulls), pulls=pulls, walk_pulls=walk_pulls,
                                            walk=[c["walk"] for _, c in db["ExampleTimeOffsets"]])
    return report


def print_table(report, truth):
    row = "{:<10} {:<10} {:>10} {:>8}  {}"
    print(row.format("calib.", "outcome", "iterations", "payloads", "against the truth"))
    print("-" * 92)
    for name, cal in report["calibrations"].items():
        names = cal["payload_names"]
        text = ""
        if "ExampleChannelStatus" in names and "status" in report:
            s = report["status"]
            text = (f"dead {sorted(truth['dead_channels'])}, hot {sorted(truth['hot_channels'])}: "
                    f"{s['misclassified']} misclassified in {s['decided_runs']} runs, "
                    f"{s['undecided_runs']} short runs undecided")
        for payload in ("ExampleGains", "ExampleGainsPython", "ExampleGainsHV", "ExampleGainsSkims", "ExampleTimeOffsets"):
            if payload in names and payload in report:
                p = report[payload]
                if p["n"]:
                    text = f"{p['n']} constants: largest |pull| {p['max_abs']:.2f}, RMS {p['rms']:.2f}"
                    if payload == "ExampleTimeOffsets":
                        w = max(abs(x) for x in p["walk_pulls"])
                        text += f"; walk {p['walk'][0]:.3f} ns (true {truth['time_walk']}), |pull| <= {w:.2f}"
        print(row.format(name, cal["outcome"], cal["iterations"], cal["payloads"], text))


def main(argv):
    if len(argv) not in (3, 5) or (len(argv) == 5 and argv[3] != "--json"):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    truth = json.load(open(argv[2]))
    report = check(argv[1], truth)
    print_table(report, truth)
    if len(argv) == 5:
        with open(argv[4], "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
