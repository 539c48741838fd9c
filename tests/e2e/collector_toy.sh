#!/usr/bin/env bash
# The collector framework end to end on toy data: ExampleHitCollector through `caf process`, its output
# checked hit by hit against the event files (h5py) and against the toy's true gains; per-file jobs
# merged with `caf collector merge` equal one job over all files; granularity "all"; the file is
# inspectable with the sqlite3 module; bad input (missing file, not a collector output, mismatched
# collectors, a granularity typo, a full disk via RLIMIT_FSIZE) gives one line, exit 1 and no output.
set -euo pipefail
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
PY=/usr/bin/python3
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$W"

"$CAF" gen toy "$W/toy" --seed 7 --events 600 --runs 3 --experiments 2 --files-per-run 2 >/dev/null
mapfile -t inputs < <(ls "$W"/toy/*.h5 | sort)
[ "${#inputs[@]}" -eq 12 ] || fail "expected 12 toy files, got ${#inputs[@]}"

collect() { # OUT EXTRA-PARAMS FILES...
    local out=$1 extra=$2
    shift 2
    printf -- '- module: ExampleHitCollector\n  params: {outputFileName: "%s"%s}\n' "$out" "$extra" > "$W/collect.yaml"
    "$CAF" -q process "$W/collect.yaml" -i "$@" --seed 3
}

# 1. one job over every file
collect "$W/all.sqlite" "" "${inputs[@]}"
"$CAF" collector inspect "$W/all.sqlite" --json > "$W/summary.json"
for r in 1:1 1:2 1:3 2:1 2:2 2:3; do
    "$CAF" collector inspect "$W/all.sqlite" --object hits --run "$r" --json > "$W/hits_$r.json"
    "$CAF" collector inspect "$W/all.sqlite" --object amplitude --run "$r" --json > "$W/amp_$r.json"
done
$PY - "$W" "${inputs[@]}" <<'PYEOF'
import json, sys
import h5py, numpy as np
w, inputs = sys.argv[1], sys.argv[2:]
s = json.load(open(f"{w}/summary.json"))
assert s["collector"] == "ExampleHitCollector" and s["granularity"] == "run", s
assert s["runs"] == [[1, 1], [1, 2], [1, 3], [2, 1], [2, 2], [2, 3]], s["runs"]
assert s["iov"] == "1,1,2,3", s["iov"]
assert {o["name"]: o["type"] for o in s["objects"]} == {"hits": "hist1d", "amplitude": "hist2d", "events": "counter"}
assert s["parameters"]["nChannels"] == 48 and s["parameters"]["preScale"] == 1.0, s["parameters"]
truth = json.load(open(f"{w}/toy/truth.json"))
hits = {}
amps = {}
for path in inputs:
    with h5py.File(path, "r") as f:
        exp, run = f["events/exp"][:], f["events/run"][:]
        off = f["events/arrays/hits/offsets"][:]
        ch = f["events/arrays/hits/channel"][:]
        amp = f["events/arrays/hits/amplitude"][:]
        for e, r in set(zip(exp.tolist(), run.tolist())):
            sel = np.where((exp == e) & (run == r))[0]
            idx = np.concatenate([np.arange(off[i], off[i + 1]) for i in sel])
            hits.setdefault((e, r), []).append(ch[idx])
            amps.setdefault((e, r), []).append((ch[idx], amp[idx]))
checked = 0
for (e, r), parts in hits.items():
    h = json.load(open(f"{w}/hits_{e}:{r}.json"))
    want = np.bincount(np.concatenate(parts), minlength=48)
    got = np.array(h["sumw"][1:49])
    assert np.array_equal(got, want), (e, r, got, want)
    assert h["entries"] == want.sum() and h["sumw"][0] == 0 and h["sumw"][49] == 0
    a = json.load(open(f"{w}/amp_{e}:{r}.json"))
    nx, ny = a["x"]["bins"], a["y"]["bins"]
    cells = np.array(a["sumw"]).reshape(ny + 2, nx + 2)
    assert cells.sum() == want.sum(), (cells.sum(), want.sum())
    # each channel's amplitude peak sits at gain * 100: compare the fullest bin with the true gain
    t = next(x for x in truth["runs"] if x["exp"] == e and x["run"] == r)
    width = (a["y"]["high"] - a["y"]["low"]) / ny
    for c in range(48):
        if c in truth["dead_channels"] or c in truth["hot_channels"] or want[c] < 80:
            continue
        column = cells[1:ny + 1, c + 1]
        top = int(np.argmax(column))
        lo, hi = max(top - 4, 0), min(top + 5, ny)
        centres = (np.arange(lo, hi) + 0.5) * width + a["y"]["low"]
        peak = float((column[lo:hi] * centres).sum() / column[lo:hi].sum())
        assert abs(peak / 100.0 - t["gain"][c]) < 0.02, (e, r, c, peak, t["gain"][c])
        checked += 1
    for c in truth["dead_channels"]:
        assert want[c] == 0 and got[c] == 0
assert checked > 60, checked
print("checked", len(hits), "runs,", checked, "channel peaks")
PYEOF

# 2. the file is plain SQLite: the documented tables answer queries
$PY - "$W/all.sqlite" <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
meta = dict(db.execute("select key, value from meta"))
assert meta["format"] == "caf-collector-output" and meta["format_version"] == "1" and meta["granularity"] == "run", meta
assert db.execute("select count(*) from runs").fetchone()[0] == 6
assert db.execute("select count(*) from object_keys where name = 'hits'").fetchone()[0] == 6
assert db.execute("select count(*) from pieces p left join chunks c on c.piece = p.id where c.piece is null").fetchone()[0] == 0
PYEOF

# 3. one job per file, merged, equals the single job
jobs=()
for i in "${!inputs[@]}"; do
    collect "$W/job$i.sqlite" "" "${inputs[$i]}"
    jobs+=("$W/job$i.sqlite")
done
"$CAF" collector merge "$W/merged.sqlite" "${jobs[@]}" --json > "$W/merge.json"
"$CAF" collector merge "$W/merged_small_budget.sqlite" "${jobs[@]}" --memory-budget 1 > /dev/null
for r in 1:1 1:3 2:2; do
    for obj in hits amplitude events; do
        "$CAF" collector inspect "$W/all.sqlite" --object $obj --run $r --json > "$W/a.json"
        "$CAF" collector inspect "$W/merged.sqlite" --object $obj --run $r --json > "$W/b.json"
        "$CAF" collector inspect "$W/merged_small_budget.sqlite" --object $obj --run $r --json > "$W/c.json"
        cmp -s "$W/a.json" "$W/b.json" || fail "merged $obj $r differs from the single job"
        cmp -s "$W/a.json" "$W/c.json" || fail "merged (small budget) $obj $r differs from the single job"
    done
done
$PY -c "import json,sys; s=json.load(open(sys.argv[1])); assert s['inputs']==12 and len(s['runs'])==6, s" "$W/merge.json"

# 4. granularity all: one key, the sum of all runs
collect "$W/everything.sqlite" ", granularity: all" "${inputs[@]}"
"$CAF" collector inspect "$W/everything.sqlite" --object events --run all --json > "$W/ev_all.json"
"$CAF" collector inspect "$W/all.sqlite" --object events --json > "$W/ev_merged.json"
$PY - "$W/ev_all.json" "$W/ev_merged.json" <<'PYEOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert a["count"] == b["count"] > 0 and a["key"] == [-1, -1], (a, b)
PYEOF
"$CAF" collector inspect "$W/everything.sqlite" | grep -q "^granularity  all" || fail "granularity all not shown"

# 5. bad input: one line, exit 1, nothing written
expect_fail() { # WHAT PATTERN COMMAND...
    local what=$1 pattern=$2
    shift 2
    set +e
    "$@" > "$W/out.txt" 2> "$W/err.txt"
    local rc=$?
    set -e
    [ $rc -eq 1 ] || fail "$what: exit $rc, expected 1 ($(cat "$W/err.txt"))"
    [ "$(wc -l < "$W/err.txt")" -eq 1 ] || fail "$what: not one line: $(cat "$W/err.txt")"
    grep -q -- "$pattern" "$W/err.txt" || fail "$what: '$pattern' not in: $(cat "$W/err.txt")"
}
expect_fail "missing file" "no such collector output" "$CAF" collector inspect "$W/nope.sqlite"
expect_fail "not a collector output" "not a collector output" "$CAF" collector inspect "${inputs[0]}"
expect_fail "unknown object" "no object 'nope'" "$CAF" collector inspect "$W/all.sqlite" --object nope
expect_fail "run without data" "no data for 7.7" "$CAF" collector inspect "$W/all.sqlite" --object hits --run 7:7
printf -- '- module: ExampleHitCollector\n  name: Other\n  params: {outputFileName: "%s"}\n' "$W/other.sqlite" > "$W/other.yaml"
"$CAF" -q process "$W/other.yaml" -i "${inputs[0]}"
expect_fail "mismatched collectors" "collector Other differs from ExampleHitCollector" \
    "$CAF" collector merge "$W/bad_merge.sqlite" "$W/job0.sqlite" "$W/other.sqlite"
[ ! -e "$W/bad_merge.sqlite" ] || fail "a failed merge left an output"
printf -- '- module: ExampleHitCollector\n  params: {outputFileName: "%s", granularity: rn}\n' "$W/typo.sqlite" > "$W/typo.yaml"
expect_fail "granularity typo" "collector ExampleHitCollector: granularity 'rn'" "$CAF" -q process "$W/typo.yaml" -i "${inputs[0]}"
[ ! -e "$W/typo.sqlite" ] || fail "a failed job left an output"
set +e
"$CAF" collector inspect "$W/all.sqlite" --object hits --run x:y > /dev/null 2>&1
rc=$?
set -e
[ $rc -eq 2 ] || fail "a malformed --run is a usage error (exit $rc)"

# 6. a full disk while writing: files may not grow beyond 64 kB (RLIMIT_FSIZE; SIGXFSZ ignored so that
# the write fails with EFBIG, as on a full disk)
printf -- '- module: ExampleHitCollector\n  params: {outputFileName: "%s"}\n' "$W/full_job.sqlite" > "$W/full.yaml"
expect_fail "full disk (collector)" "collector ExampleHitCollector: writing object '" \
    bash -c 'trap "" XFSZ; ulimit -f 64; exec "$@"' _ "$CAF" -q process "$W/full.yaml" -i "${inputs[@]}"
grep -q "amplitude\|hits\|events" "$W/err.txt" || fail "full-disk error names no object: $(cat "$W/err.txt")"
[ ! -e "$W/full_job.sqlite" ] || fail "a failed job left an output"
ls -A "$W" | grep -q 'caf-tmp' && fail "a temporary file was left behind: $(ls -A "$W")"
expect_fail "full disk (merge)" "collector ExampleHitCollector" \
    bash -c 'trap "" XFSZ; ulimit -f 64; exec "$@"' _ "$CAF" collector merge "$W/full.sqlite" "${jobs[@]}"
[ ! -e "$W/full.sqlite" ] || fail "a failed merge left an output"
ls -A "$W" | grep -q 'caf-tmp' && fail "a temporary file was left behind: $(ls -A "$W")"
echo "collector_toy: ok"
