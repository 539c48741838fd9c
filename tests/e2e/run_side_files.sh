#!/usr/bin/env bash
# Collector side files (basf2 output_patterns + Algorithm.data_input, how Millepede gets its binaries):
# SideFileCollector's jobs keep seen.txt and run-E-R.bin through output_patterns; SideFileAlgorithms:count
# lists them through the algorithm API and counts the requested runs' events from them. Per-run executions
# (SimpleRunByRun) over jobs that hold several runs see only the jobs holding their run, with the runs
# restricted to it, and count exactly that run's events (truth.json); one execution over every run sees
# every job; one collection's side files alone; no output_patterns, no side files. Bad input: patterns
# that leave the job's folder are config problems at FILE:LINE:COLUMN, a pattern matching nothing is no
# error, a kept link leading outside the folder fails the calibration, and a manifest naming a file
# outside its folder is refused by the algorithm API.
set -euo pipefail
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
source "$CAF_SOURCE_DIR/tests/support/campaign_fixture.sh"
cd "$W"
make_toy
cat > campaign.yaml <<YAML
output_dir: out
poll_interval: 0.2
calibrations:
  - name: perrun
    collector: SideFileCollector
    algorithms:
      - plugin: SideFileAlgorithms:count
        strategy: SimpleRunByRun
    input_files: ["toy/*.h5"]
    max_files_per_collector_job: 3
    output_patterns: ["seen.txt", "run-*.bin", "*.nothing"]
  - name: whole
    collector: SideFileCollector
    algorithms:
      - plugin: SideFileAlgorithms:count
        strategy: SingleIOV
    input_files: ["toy/*.h5"]
    max_files_per_collector_job: 3
    output_patterns: ["seen.txt", "run-*.bin"]
  - name: split
    collections:
      - name: exp1
        collector: SideFileCollector
        input_files: ["toy/toy_e0001_*.h5"]
        output_patterns: [seen.txt]
      - name: exp2
        collector: SideFileCollector
        input_files: ["toy/toy_e0002_*.h5"]
        max_files_per_collector_job: 4
        output_patterns: ["seen.txt", "run-*.bin"]
    algorithms:
      - plugin: SideFileAlgorithms:count
        parameters: {collection: exp2}
        strategy: SingleIOV
  - name: plain
    collector: SideFileCollector
    algorithms:
      - plugin: SideFileAlgorithms:count
        strategy: SingleIOV
    input_files: ["toy/*.h5"]
    max_files_per_collector_job: 8
YAML
"$CAF" config check campaign.yaml > check || { cat check; fail "config check refused the campaign"; }
"$CAF" run campaign.yaml 2> log || { cat log; fail "caf run failed"; }
$PY - "$W" <<'PYEOF'
import json, os, sys
w = sys.argv[1]
out = os.path.join(w, "out")
truth = {(r["exp"], r["run"]): r["events"] for r in json.load(open(os.path.join(w, "toy", "truth.json")))["runs"]}
def payloads(cal):
    db = os.path.join(out, cal, "iteration_0", "database")
    rows = []
    for line in open(os.path.join(db, "database.txt")):
        name, rev, iov = line.split()
        f = next(f for f in os.listdir(db) if f.startswith(f"dbstore_{name.split('/', 1)[1]}_rev_{rev}."))
        rows.append((tuple(int(x) for x in iov.split(",")), json.load(open(os.path.join(db, f)))))
    return rows
def manifest(path):
    m = json.load(open(path + ".side_files.json"))
    assert m["version"] == 1, m
    return m["jobs"]

# The manifest beside the merged output: every job with its runs and the files it kept (nothing for
# the pattern that matched nothing), each file inside the iteration's folder.
it = os.path.join(out, "perrun", "iteration_0")
jobs = manifest(os.path.join(it, "collector_output.sqlite"))
assert len(jobs) == 6, jobs  # 16 files, 3 per job
for j in jobs:
    names = sorted(os.path.basename(f) for f in j["files"])
    want = sorted(["seen.txt"] + [f"run-{e}-{r}.bin" for e, r in j["runs"]])
    assert names == want, (j, want)
    for f in j["files"]:
        assert f.startswith(f"collector/outputs/{j['job']}/") and os.path.isfile(os.path.join(it, f)), f
assert any(len(j["runs"]) > 1 for j in jobs), jobs  # jobs hold several runs: the restriction matters

# Per-run executions: each sees only the jobs that held its run, with the runs cut down to it.
rows = payloads("perrun")
assert sorted((iov[0], iov[1]) for iov, _ in rows) == sorted(truth), rows
for iov, p in rows:
    run = (iov[0], iov[1])
    assert iov == (run[0], run[1], run[0], run[1]), iov
    holders = [j for j in jobs if list(run) in j["runs"]]
    assert p["runs"] == [float(run[0]), float(run[1])] * len(holders), (run, p)
    assert p["jobs"] == len(holders) and p["job_runs"] == sum(len(j["runs"]) for j in holders), (run, p)
    assert p["events"] == p["events_bin"] == p["events_counter"] == truth[run], (run, p, truth[run])
assert any(p["job_runs"] > p["jobs"] for _, p in rows), rows

# One execution over every run: every job, every event.
(iov, p), = payloads("whole")
whole = manifest(os.path.join(out, "whole", "iteration_0", "collector_output.sqlite"))
assert p["jobs"] == 6 and p["events"] == p["events_bin"] == p["events_counter"] == sum(truth.values()), p
assert p["files"] == sum(len(j["files"]) for j in whole) == 6 + sum(len(j["runs"]) for j in whole), (p, whole)

# One collection alone: exp2's two jobs (8 files, 4 per job) and its events only; exp1 kept seen.txt only.
(iov, p), = payloads("split")
exp2 = sum(n for (e, r), n in truth.items() if e == 2)
assert p["jobs"] == 2 and p["events"] == p["events_bin"] == exp2, (p, exp2)
assert p["events_counter"] == sum(truth.values()), p  # the merged counter still holds both collections
exp1 = manifest(os.path.join(out, "split", "iteration_0", "collections", "exp1", "collector_output.sqlite"))
assert all([os.path.basename(f) for f in j["files"]] == ["seen.txt"] for j in exp1), exp1

# Without output_patterns the jobs keep nothing: listed, with no files.
(iov, p), = payloads("plain")
assert p["jobs"] == 2 and p["files"] == 0 and p["events"] == 0 and p["events_counter"] == sum(truth.values()), p
PYEOF

# A manifest naming a file outside its folder is refused by the algorithm API, naming the file.
$PY - out/perrun/iteration_0/collector_output.sqlite.side_files.json <<'PYEOF'
import json, sys
m = json.load(open(sys.argv[1]))
m["jobs"][0]["files"].append("../../../toy/truth.json")
json.dump(m, open(sys.argv[1], "w"))
PYEOF
if "$CAF" algo run SideFileAlgorithms:count --input out/perrun/iteration_0/collector_output.sqlite > algo.out 2>&1; then
    cat algo.out; fail "a side file outside the folder was read"
fi
grep -q "job 0: side file [0-9]* ('../../../toy/truth.json') is not a name inside .*; refused" algo.out || { cat algo.out; fail "message"; }

# Patterns that leave the collector job's folder are problems of caf config check, at their place.
cat > bad.yaml <<'YAML'
output_dir: bad
calibrations:
  - name: c
    collector: SideFileCollector
    algorithms: [SideFileAlgorithms:count]
    input_files: ["toy/*.h5"]
    output_patterns: ["seen.txt", "../up.txt", "/etc/*", "sub/"]
YAML
if "$CAF" config check bad.yaml > bad.out 2>&1; then cat bad.out; fail "bad patterns accepted"; fi
grep -q "^bad.yaml:7:35: calibration 'c': output_patterns: '../up.txt' leaves the collector job's folder" bad.out ||
    { cat bad.out; fail "'..' pattern"; }
grep -q "^bad.yaml:7:48: calibration 'c': output_patterns: '/etc/\*' leaves the collector job's folder" bad.out ||
    { cat bad.out; fail "absolute pattern"; }
grep -q "^bad.yaml:7:58: calibration 'c': output_patterns: 'sub/' names no file" bad.out ||
    { cat bad.out; fail "folder pattern"; }
[ "$(grep -c output_patterns bad.out)" = 3 ] || { cat bad.out; fail "seen.txt was a problem"; }

# A collector job that keeps a link leading outside its folder fails its calibration, naming the link;
# the campaign's other calibration completes.
echo secret > secret
cat > escape.yaml <<YAML
output_dir: escape
poll_interval: 0.2
calibrations:
  - name: leaky
    collector: {plugin: SideFileCollector, parameters: {escape: "$W/secret"}}
    algorithms: [SideFileAlgorithms:count]
    input_files: ["toy/*_r00001_*.h5"]
    output_patterns: ["run-*.bin"]
  - name: tight
    collector: SideFileCollector
    algorithms: [SideFileAlgorithms:count]
    input_files: ["toy/*_r00001_*.h5"]
    output_patterns: ["run-*.bin"]
YAML
if "$CAF" run escape.yaml 2> escape.log; then fail "a link leading outside was accepted"; fi
"$CAF" status escape --json > escape.json
$PY - escape.json <<'PYEOF'
import json, sys
s = {c["name"]: c for c in json.load(open(sys.argv[1]))["calibrations"]}
assert s["tight"]["state"] == "completed", s["tight"]
assert s["leaky"]["state"] == "failed", s["leaky"]
assert "run-escape.bin is a link that leads outside" in s["leaky"]["reason"], s["leaky"]["reason"]
PYEOF
echo "ok"
