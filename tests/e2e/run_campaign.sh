#!/usr/bin/env bash
# caf run end to end on the local backend: a campaign of dependent calibrations on toy data (every
# strategy, ignored runs, low-statistics merging, boundaries and coverage, iterating up to max_iterations, the
# example collector and gain algorithm) completes, and each calibration's payload IoVs equal the ones
# derived by hand from the strategies' rules; every collector subjob ran once; caf status shows it; a
# second caf run on the finished folder starts nothing and rebuilds the same database; the subjob split
# follows the limits.
set -euo pipefail
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
source "$CAF_SOURCE_DIR/tests/support/campaign_fixture.sh"
cd "$W"
make_toy
make_wrapper
write_campaign "$W/campaign.yaml" out

"$CAF" run campaign.yaml 2> "$W/log" || { cat "$W/log"; fail "caf run failed"; }
check_results "$W/out"
n=$(check_starts "$W/out")
grep -q 'seq: iteration 0: running_algorithms -> algorithms_completed' "$W/log" || fail "no state-change line"
grep -q 'asked to iterate, but max_iterations (2) is reached' "$W/log" || fail "no max_iterations warning"

"$CAF" status out --json > "$W/status.json"
"$CAF" status out > "$W/status.txt"
$PY - "$W/status.json" <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1]))
assert not s["running"]
cals = {c["name"]: c for c in s["calibrations"]}
assert all(c["state"] == "completed" for c in cals.values()), cals
assert cals["iter"]["iteration"] == 2
# The limit ends the loop as in basf2: the calibration completes, and says why it stopped iterating.
assert cals["iter"]["reason"] == "an algorithm asked to iterate, but max_iterations (2) is reached", cals["iter"]
# 16 files, 2 of them hold the ignored run 2.2: 14 one-file subjobs; gain: 8 files (one per run) by 3
assert cals["seq"]["subjobs"]["total"] == 14 and cals["seq"]["subjobs"]["completed"] == 14, cals["seq"]
assert cals["seq"]["subjobs"]["attempts"] == 14, cals["seq"]["subjobs"]
assert cals["gain"]["subjobs"]["total"] == 3, cals["gain"]["subjobs"]
assert cals["bounds"]["subjobs"]["total"] == 3, cals["bounds"]["subjobs"]
execs = cals["seq"]["algorithms"][0]["executions"]
assert [e["result"] for e in execs] == ["ok", "ok", "not_enough_data", "ok", "ok", "not_enough_data", "ok"], execs
assert [e["committed"] for e in execs] == [True, True, False, True, True, False, True], execs
PYEOF
grep -q '^seq: completed, iteration 0' "$W/status.txt" || fail "text status: $(cat "$W/status.txt")"

# Running the finished campaign again submits nothing and rebuilds the same database.
cp -r out/database "$W/database.before"
"$CAF" run campaign.yaml 2> "$W/log2" || { cat "$W/log2"; fail "second caf run failed"; }
[ "$(check_starts "$W/out")" = "$n" ] || fail "the second run started subjobs"
diff -r -x '.database.txt.lock' "$W/database.before" out/database || fail "the database changed"
echo "ok: $n collector subjobs"
