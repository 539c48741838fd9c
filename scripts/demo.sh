#!/usr/bin/env bash
# make demo: what caf can do so far, end to end, with the command just built. Everything it writes goes
# to demo-output/ (recreated at each run).
set -euo pipefail
build=${1:-build}
caf="$(cd "$build" && pwd)/bin/caf"
out=demo-output
rm -rf "$out"
mkdir -p "$out"
cd "$out"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

step "caf $("$caf" --version | cut -d' ' -f2): a conditions database built from payload files"
printf '{"gain": [1.00, 1.02, 0.98]}\n' >gains-exp0.json
printf '{"gain": [1.10, 1.12, 1.07]}\n' >gains-exp1.json
printf '{"t0": [0.5, -0.2, 0.1]}\n' >t0.json
show "$caf" db add localdb --iov 0,0,0,-1 ChannelGains=gains-exp0.json ChannelT0=t0.json
show "$caf" db add localdb --iov 1,0,1,50 ChannelGains=gains-exp1.json
show "$caf" db list localdb
show cat localdb/database.txt

step "which payload applies to a run (the last matching line wins)"
show "$caf" db query localdb ChannelGains 1 17
show "$caf" db query localdb ChannelGains 0 999 --json

step "where the gains are not valid inside experiments 0 to 1"
show "$caf" db gaps localdb ChannelGains --span 0,0,1,-1

step "a newer database in front of the old one (a chain), then merged into one"
printf '{"gain": [1.11, 1.13, 1.08]}\n' >gains-recal.json
show "$caf" db add recal --iov 1,20,1,30 ChannelGains=gains-recal.json
show "$caf" db query recal localdb ChannelGains 1 25
show "$caf" db merge final localdb recal
show "$caf" db check final

step "toy detector data: two experiments, short runs, a high-voltage change, dead and hot channels"
show "$caf" gen toy toy --seed 7 --files-per-run 2
show "$caf" file index toy
show "$caf" file info toy/toy_e0002_r00003_f00.h5

step "a skim with TriggerSkim: keep di-muon events and every 10th Bhabha"
cat >skim.yaml <<'YAML'
- module: TriggerSkim
  params:
    triggerLines: [software_trigger_cut&hlt&accept_mu_mu, [software_trigger_cut&hlt&accept_bhabha, 10]]
    useRandomNumbersForPreScale: false
    resultOnMissing: 0   # events without trigger data are dropped
  conditions:
    - if: false          # not accepted: the event goes no further
- module: Output
  params: {outputFileName: skim.h5}
YAML
show cat skim.yaml
show "$caf" process skim.yaml -i toy/*.h5 --seed 1
show "$caf" file info skim.h5

printf '\nDone: everything is in %s/.\n' "$(pwd)"
