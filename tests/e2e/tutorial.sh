#!/usr/bin/env bash
# docs/tutorial.md can never rot: its set-up (a caf installed into a prefix, on PATH, found by
# pkg-config and find_package) is done here as the tutorial's console block says, then every ```sh block
# of the tutorial runs exactly as printed, in order, in one shell. Every ```c block must appear word for
# word in examples/tutorial/, and the results the tutorial describes (payload IoVs, the value against
# the truth, the reset to SingleIOV) are checked.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
doc="$CAF_SOURCE_DIR/docs/tutorial.md"
PY=/usr/bin/python3

# The c blocks are the example's code.
$PY - "$doc" "$CAF_SOURCE_DIR/examples/tutorial" <<'PYEOF'
import os, re, sys
doc, folder = open(sys.argv[1]).read(), sys.argv[2]
code = "".join(open(os.path.join(folder, f)).read() for f in os.listdir(folder))
blocks = re.findall(r"^```(c|cmake|yaml)\n(.*?)^```$", doc, re.S | re.M)
assert len([b for b in blocks if b[0] == "c"]) >= 5, "too few c blocks"
for lang, block in blocks:
    assert block in code, f"this {lang} block of the tutorial is not in examples/tutorial:\n{block}"
PYEOF

# The set-up of section 1, into a prefix instead of ~/opt/caf.
prefix="$work/opt/caf"
cmake --install "$CAF_BUILD_DIR" --prefix "$prefix" >/dev/null
export PATH="$prefix/bin:$PATH" PKG_CONFIG_PATH="$prefix/lib/pkgconfig" CMAKE_PREFIX_PATH="$prefix"
unset CAF_PLUGIN_PATH
# a plugin loaded by the sanitizer build of caf is built with the sanitizers, too
if [ "${CAF_SANITIZE:-OFF}" = ON ]; then export CFLAGS=-fsanitize=address,undefined; fi

awk '/^```sh$/{p=1;next} p&&/^```$/{p=0;print "";next} p' "$doc" > "$work/tutorial-commands.sh"
[ "$(grep -c . "$work/tutorial-commands.sh")" -ge 20 ] || { echo "FAIL: too few tutorial commands"; exit 1; }
cd "$work"
# the sections' commands, logged as they run; stdout and stderr kept for the checks below
if ! bash -euo pipefail -x "$work/tutorial-commands.sh" > "$work/out" 2> "$work/err"; then
  tail -40 "$work/err"; echo "FAIL: a command of docs/tutorial.md failed"; exit 1
fi

cd "$work/mycal"
grep -q 'TutorialAlgorithm:t0 (reads collector TutorialCollector)' "$work/out" || { echo "FAIL: algo list"; exit 1; }
grep -q 'algorithm 0 TutorialAlgorithm: completed, 8 executions' "$work/out" || { echo "FAIL: status"; exit 1; }
grep -q "calibration 't0' changed since it started" "$work/err" || { echo "FAIL: no reason for the refusal"; exit 1; }
grep -q 'refused: the configuration changed' "$work/out" || { echo "FAIL: a changed campaign was accepted"; exit 1; }
grep -q 'run 1.3 alone: not enough data' "$work/out" || { echo "FAIL: run 1.3 alone had enough data"; exit 1; }
grep -q 'execution 3 on runs 1.3..1.4 (2), IoV 1,3,1,-1: ok' "$work/err" || { echo "FAIL: no merged run 1.3"; exit 1; }
# the IoVs of section 8 (SequentialRunByRun), recorded by the first run in iteration 0's execution logs
# (the reset of section 9 replaced the database), and of section 9 (SingleIOV)
$PY - "$work/out" <<'PYEOF'
import json, os, re, sys
out = open(sys.argv[1]).read()
first = re.findall(r"^TutorialT0\s+\w+\s+(\S+)$", out, re.M)
want = ["1,1,1,1", "1,2,1,2", "1,3,1,-1", "2,0,2,1", "2,2,2,2", "2,3,2,4"]
assert first[:6] == want, (first, want)
assert first[6] == "1,1,2,4", first  # after the reset, one SingleIOV payload
lines = [l.split() for l in open("results/database/database.txt")]
assert [l[2] for l in lines] == ["1,1,2,4"], lines
# the payload of section 8 (run 1.4) against the truth: mean t0 of the channels, hit-weighted, of 1.3+1.4
truth = json.load(open("toy/truth.json"))
m = re.search(r'\{"hits":(\d+),"t0":([-0-9.e]+),"t0_error":([0-9.e]+)\}', out)
assert m, "no payload printed"
hits, t0, err = int(m[1]), float(m[2]), float(m[3])
runs = [r for r in truth["runs"] if r["exp"] == 1 and r["run"] in (3, 4)]
assert hits == sum(r["hits"] for r in runs), (hits, runs)
true = sum(r["hits"] * sum(r["t0"]) / len(r["t0"]) for r in runs) / hits
assert abs(t0 - true) < 5 * err + 0.05, (t0, err, true)
PYEOF
echo "ok: docs/tutorial.md runs as written"
