#!/usr/bin/env bash
# make demo: the toy detector campaign end to end with the command just built. Generates toy data with
# known constants, runs the six example calibrations (one of them written in Python) of examples/toy_campaign.yaml on the local backend
# and compares what they found with the truth, explains one payload (caf db why) and ends by writing the
# campaign's HTML report (caf report) and printing its path. Everything it writes goes to demo-output/ (recreated at
# each run). The plugins (examples/) are found in the build tree by caf itself.
set -euo pipefail
build=${1:-build}
src=$(cd "$(dirname "$0")/.." && pwd)
caf="$(cd "$build" && pwd)/bin/caf"
out=demo-output
rm -rf "$out"
mkdir -p "$out"
cd "$out"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }
SECONDS=0

step "caf $("$caf" --version | cut -d' ' -f2): toy detector data with known constants"
show "$caf" gen toy toy --seed 7 --events 5000 --files-per-run 2
/usr/bin/python3 - toy/truth.json <<'PYEOF'
import json, sys
t = json.load(open(sys.argv[1]))
print(f"{t['n_channels']} channels; dead {t['dead_channels']}, hot {t['hot_channels']}; "
      f"high-voltage change at run {t['hv_change']['exp']}.{t['hv_change']['run']}")
print("runs (exp.run: events):", ", ".join(f"{r['exp']}.{r['run']}: {r['events']}" for r in t["runs"]))
PYEOF

step "the campaign: channel status, gains (in C and in Python; two IoV strategies; two collections), time offsets (needs the gains, iterates)"
cp "$src/examples/toy_campaign.yaml" .
cp -r "$src/examples/python_algorithms" .   # the Python algorithm of calibration gain_python
show "$caf" config check toy_campaign.yaml

step "caf run: collector jobs on the local backend, then the algorithms under their strategies"
show "$caf" run toy_campaign.yaml

step "caf status: state, iterations and payloads of every calibration"
show "$caf" status toy_results

step "the merged database: which gains apply to run 2.3 (a short run, merged with 2.4)?"
show "$caf" db query toy_results/database ExampleGains 2 3

step "recovered constants against truth.json"
/usr/bin/python3 "$src/scripts/toy_truth_check.py" toy_results toy/truth.json

step "why does run 2.3 get its gains? (the payload's lineage back to the input files)"
show "$caf" db why toy_results ExampleGains 2 3

step "caf report: the whole campaign as one self-contained HTML page (constants against run, IoVs, jobs)"
show "$caf" report toy_results
printf "\nDone in %d s: everything is in %s/.\nReport: %s\n" "$SECONDS" "$(pwd)" "$(pwd)/toy_results/report.html"
