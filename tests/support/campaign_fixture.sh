# Shared set-up of the campaign tests (sourced): toy data, a collector-job wrapper that records every
# start of a collector subjob, and a campaign of dependent calibrations on the toy data whose payload IoVs
# the tests derive by hand. Expects W (the test's work folder), CAF and CAF_BUILD_DIR.
PY=/usr/bin/python3
export CAF_PLUGIN_PATH="$CAF_BUILD_DIR/plugins:$CAF_BUILD_DIR/tests/plugins"

fail() { echo "FAIL: $*" >&2; exit 1; }

# For `trap cleanup_runs EXIT` in tests that kill caf run: kills $pid (when set) and every process of a
# `caf run` of a campaign under $W (its forked drivers share its command line), then removes $W.
cleanup_runs() {
    [ -n "${pid:-}" ] && kill -9 "$pid" 2>/dev/null
    for p in $(pgrep -f "run $W/" || true); do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$W"
}

# Toy data: experiments 1 and 2, runs 1-4 (run 3 short), two files per run. THRESHOLD is a hit count
# between the short runs' and the normal runs' (from truth.json), so that a run alone has enough data
# exactly when it is not run 3.
make_toy() {
    "$CAF" gen toy "$W/toy" --seed 5 --events 400 --runs 4 --experiments 2 --files-per-run 2 >/dev/null
    THRESHOLD=$($PY - "$W/toy/truth.json" <<'PYEOF'
import json, sys
runs = json.load(open(sys.argv[1]))["runs"]
short = max(r["hits"] for r in runs if r["run"] == 3)
normal = min(r["hits"] for r in runs if r["run"] != 3)
assert 2 * short < normal, (short, normal)  # runs 3 and 4 together pass, run 3 alone does not
print((short + normal) // 2)
PYEOF
)
}

# A caf for collector jobs that appends its working folder (the subjob's) to $W/starts first, and waits
# WRAPPER_DELAY seconds when set (to give a test time to interrupt).
make_wrapper() {
    {
        echo '#!/usr/bin/env bash'
        echo "echo \"\$PWD\" >> '$W/starts'"
        echo "[ -z \"\${WRAPPER_DELAY:-}\" ] || sleep \"\$WRAPPER_DELAY\""
        echo "exec '$CAF' \"\$@\""
    } > "$W/caf-wrapper"
    chmod +x "$W/caf-wrapper"
    export CAF_COMMAND="$W/caf-wrapper"
}

# write_campaign FILE OUTDIR [EXTRA_TOP_LEVEL_LINES]: the campaign every run test uses.
#  seq:    SequentialRunByRun, run 2.2 ignored, the test algorithm needs THRESHOLD hits
#  single: SingleIOV, depends on seq, reads seq's TestConstants (value 1) and adds its own 1
#  bounds: SequentialBoundaries with payload_boundaries and iov_coverage
#  iter:   SingleIOV always asking to iterate, max_iterations 2 (so passes 0, 1 and 2, as in basf2), reads
#          the previous iteration's value
#  gain:   the example collector and gain algorithm, one file per run, three files per job
# SEQ_EXTRA adds parameters to seq's algorithm (e.g. ", blob_mb: 8" to make its executions slower).
write_campaign() {
    cat > "$1" <<YAML
output_dir: $2
poll_interval: 0.2
heartbeat: 1
${3:-}
calibrations:
  - name: seq
    collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {object: hits, min_entries: $THRESHOLD${SEQ_EXTRA:-}}
        strategy: SequentialRunByRun
    input_files: ["toy/*.h5"]
    ignored_runs: [[2, 2]]
  - name: single
    collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {read_payload: TestConstants, value: 1.0}
        strategy: SingleIOV
    input_files: ["toy/*_r00001_*.h5", "toy/*_r00002_*.h5", "toy/*_r00004_*.h5"]
    max_files_per_collector_job: 4
    depends_on: [seq]
  - name: bounds
    collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {object: hits, min_entries: $THRESHOLD}
        strategy: SequentialBoundaries
        strategy_parameters:
          payload_boundaries: [[1, 3], [2, 1], [2, 3]]
          iov_coverage: [1, 0, 2, 10]
    input_files: ["toy/*.h5"]
    max_collector_jobs: 3
  - name: iter
    collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {read_payload: TestConstants, result: ITERATE}
        strategy: SingleIOV
    input_files: ["toy/*_r00001_*.h5"]
    max_iterations: 2
    max_files_per_collector_job: 4
    depends_on: [seq]
  - name: gain
    collector: ExampleHitCollector
    algorithms: [ExampleGainAlgorithm]
    input_files: ["toy/*.h5"]
    max_files_per_run: 1
    files_per_run_seed: 3
    max_files_per_collector_job: 3
YAML
}

# check_results OUTDIR: every calibration's payload IoVs and values equal the hand-derived ones.
check_results() {
    $PY - "$1" <<'PYEOF'
import json, os, sys
out = sys.argv[1]
def lines(db):
    rows = []
    for line in open(os.path.join(db, "database.txt")):
        name, rev, iov = line.split()
        rows.append((name.split("/", 1)[1], rev, tuple(int(x) for x in iov.split(","))))
    return rows
def payload(db, name, rev):
    f = next(f for f in os.listdir(db) if f.startswith(f"dbstore_{name}_rev_{rev}."))
    return json.load(open(os.path.join(db, f)))
def db_of(cal, it=0):
    return os.path.join(out, cal, f"iteration_{it}", "database")
def iovs(cal, it=0, name="TestConstants"):
    return [iov for n, _, iov in lines(db_of(cal, it)) if n == name]
# SequentialRunByRun: run 1.3 lacks data and is merged with 1.4; run 2.2 is ignored, 2.3 merges with 2.4;
# experiment 1 starts at its first run and ends at run -1, experiment 2 starts at run 0, ends at its last run.
want = [(1, 1, 1, 1), (1, 2, 1, 2), (1, 3, 1, -1), (2, 0, 2, 2), (2, 3, 2, 4)]
assert iovs("seq") == want, ("seq", iovs("seq"), want)
# SingleIOV: the span of the data (runs 1, 2, 4 of both experiments); reads seq's value 1 at 1.1 and adds 1.
assert iovs("single") == [(1, 1, 2, 4)], iovs("single")
(n, rev, _), = lines(db_of("single"))
assert payload(db_of("single"), n, rev)["value"] == 2.0
# SequentialBoundaries: (1,0) and (2,0) are added, (2,0)'s segment is empty and dropped; coverage 1.0-2.10.
want = [(1, 0, 1, 2), (1, 3, 1, -1), (2, 0, 2, 2), (2, 3, 2, 10)]
assert iovs("bounds") == want, ("bounds", iovs("bounds"), want)
# Iterations while iteration < max_iterations (2), as basf2: exactly passes 0, 1 and 2. Iteration 0 reads
# seq's 1 (value 2), each later one the previous iteration's value (3, then 4).
assert sorted(d for d in os.listdir(os.path.join(out, "iter")) if d.startswith("iteration_")) == \
    ["iteration_0", "iteration_1", "iteration_2"], os.listdir(os.path.join(out, "iter"))
for it, value in ((0, 2.0), (1, 3.0), (2, 4.0)):
    (n, rev, iov), = lines(db_of("iter", it))
    p = payload(db_of("iter", it), n, rev)
    assert iov == (1, 1, 2, 1) and p["value"] == value and p["iteration"] == it, (it, iov, p)
# The example gain algorithm: one payload over the data's span.
assert [iov for n, _, iov in lines(db_of("gain"))] == [(1, 1, 2, 4)], lines(db_of("gain"))
for cal in ("seq", "bounds"):
    gaps = json.load(open(os.path.join(out, cal, "iteration_0", "0_TestAlgorithms_test_iov_gaps.json")))
    assert gaps == [], (cal, gaps)
# The merged database holds every calibration's final lines.
final = lines(os.path.join(out, "database"))
expected = []
for cal, it in (("seq", 0), ("single", 0), ("bounds", 0), ("iter", 2), ("gain", 0)):
    expected += lines(db_of(cal, it))
assert sorted(final) == sorted(expected) and len(final) == len(expected), (final, expected)
s = json.load(open(os.path.join(out, "summary.json")))
assert s["calibrations_completed"] == 5, s
PYEOF
}

# check_starts OUTDIR [RECORDED]: every collector subjob of the run started exactly once; prints how many
# there are. With RECORDED (lines "CAL ITERATION INDEX" of subjobs whose submission the state database
# held when caf was killed), only those must have started once: a kill between a submission and its
# record (a few milliseconds) may start that one subjob again.
check_starts() {
    $PY - "$1" "$W/starts" "${2:-}" <<'PYEOF'
import collections, glob, os, sys
out, starts, recorded = sys.argv[1], sys.argv[2], sys.argv[3]
seen = collections.Counter(os.path.realpath(l.strip()) for l in open(starts))
dirs = [os.path.realpath(d) for d in glob.glob(os.path.join(out, "*", "iteration_*", "collector", "subjobs", "*"))
        if os.path.basename(d).isdigit()]
assert dirs, "no subjob folders"
must = set(dirs)
if recorded:
    keys = {tuple(l.split()) for l in open(recorded)}
    exempt_path = recorded[: -len("recorded")] + "exempt"
    exempt = {tuple(l.split()) for l in open(exempt_path)} if os.path.exists(exempt_path) else set()
    key = lambda d: (d.split("/")[-5], d.split("/")[-4].split("_")[1], d.split("/")[-1])
    must = {d for d in dirs if key(d) in keys and key(d) not in exempt}
    assert must, "nothing recorded"
again = {d: n for d, n in seen.items() if n != 1 and d in must}
assert not again, f"subjobs started more than once: {again}"
missing = set(dirs) - set(seen)
assert not missing, f"subjobs never started: {missing}"
print(len(dirs))
PYEOF
}
