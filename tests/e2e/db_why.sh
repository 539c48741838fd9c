#!/usr/bin/env bash
# Payload lineage and caf db why: after caf run of the shared test campaign, every line of the merged
# database is explained by a lineage record; for a merged SequentialRunByRun execution (runs 1.3 and 1.4)
# the record names its calibration, iteration, execution, runs, IoV, parameters, the plugin file and its MD5,
# the database chain, and exactly the collector subjobs whose outputs hold those runs with their input
# files' sizes and modification times; an iterated calibration's record is its last iteration's; caf db
# merge keeps the records; a changed input file is marked. Bad input: not a database, a run no payload
# covers, a database without records (caf db add), usage errors: one line, exit 1 or 2.
set -euo pipefail
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
source "$CAF_SOURCE_DIR/tests/support/campaign_fixture.sh"
cd "$W"
make_toy
write_campaign campaign.yaml out
"$CAF" -q run campaign.yaml >run.log 2>&1 || { cat run.log; fail "caf run failed"; }

# Every payload of the merged database (all five calibrations) is explained, by its own calibration.
while read -r name rev iov; do
    IFS=, read -r e1 r1 e2 r2 <<<"$iov"
    n=${name#dbstore/}
    "$CAF" db why out "$n" "$e1" "$r1" --json >why.json || fail "no lineage for $name $rev $iov"
    $PY - why.json "$n" "$rev" "$iov" <<'PYEOF' || fail "wrong answer for $name $rev $iov"
import json, sys
a = json.load(open(sys.argv[1]))
p = a["payload"]
# the line that applies at its own first run may be a later one with another IoV (last line wins); the
# answer must at least be self-consistent: the record lists the payload the database gives
rec = a["lineage"]
assert any(q["name"] == p["name"] and q["md5"].startswith(p["revision"]) and q["iov"] == p["iov"]
           for q in rec["payloads"]), (p, rec["payloads"])
assert rec["format"] == "caf-lineage-1" and rec["execution"]["result"] in ("ok", "iterate"), rec["execution"]
PYEOF
done < out/database/database.txt

# Run 1.4 of seq: run 1.3 lacked data and was merged with 1.4 into one execution with IoV 1,3,1,-1.
"$CAF" db why out/database TestConstants 1 4 --json >why.json
"$CAF" db why out/database TestConstants 1 4 >why.txt
md5=$(md5sum "$CAF_BUILD_DIR/tests/plugins/TestAlgorithms.so" | cut -d' ' -f1)
$PY - why.json "$W" "$THRESHOLD" "$md5" <<'PYEOF'
import glob, json, os, sys
a = json.load(open(sys.argv[1]))
w, threshold, md5 = sys.argv[2], int(sys.argv[3]), sys.argv[4]
rec = a["lineage"]
# the merged database's last TestConstants line at 1.4 is from iter (SingleIOV 1.1-2.1, last iteration 2)
assert rec["calibration"] == "iter" and rec["iteration"] == 2, (rec["calibration"], rec["iteration"])
assert a["payload"]["iov"] == [1, 1, 2, 1], a["payload"]
ex = rec["execution"]
assert ex["runs"] == [[1, 1], [2, 1]] and ex["iov"] == [1, 1, 2, 1] and ex["result"] == "iterate", ex
PYEOF
# seq's own database: the merged execution 1.3 + 1.4.
"$CAF" db why out/seq/iteration_0/database TestConstants 1 4 --json >seq.json
$PY - seq.json "$W" "$THRESHOLD" "$md5" <<'PYEOF'
import glob, json, os, sys
a = json.load(open(sys.argv[1]))
w, threshold, md5 = sys.argv[2], int(sys.argv[3]), sys.argv[4]
rec = a["lineage"]
assert rec["calibration"] == "seq" and rec["iteration"] == 0, rec
assert a["payload"]["iov"] == [1, 3, 1, -1], a["payload"]
ex = rec["execution"]
assert ex["runs"] == [[1, 3], [1, 4]] and ex["iov"] == [1, 3, 1, -1] and ex["result"] == "ok", ex
assert os.path.isdir(ex["folder"]), ex["folder"]
alg = rec["algorithm"]
assert alg["plugin"] == "TestAlgorithms:test" and alg["strategy"] == "SequentialRunByRun", alg
assert alg["parameters"] == {"object": "hits", "min_entries": threshold}, alg["parameters"]
assert alg["plugin_md5"] == md5 and alg["plugin_file"].endswith("/TestAlgorithms.so"), alg
chain = rec["database_chain"]
assert os.path.realpath(chain[0]["database"]) == os.path.realpath(f"{w}/out/seq/iteration_0/database"), chain
assert rec["caf_version"] and rec["format"] == "caf-lineage-1"
# exactly the subjobs whose outputs hold run 1.3 or 1.4 (one file per subjob): the four files of those runs
jobs = rec["collector_jobs"]
files = sorted(os.path.basename(f["path"]) for j in jobs for f in j["input_files"])
want = sorted(os.path.basename(f) for f in glob.glob(f"{w}/toy/toy_e0001_r0000[34]_*.h5"))
assert files == want, (files, want)
for j in jobs:
    assert j["collection"] == "default" and j["collector"] == "ExampleHitCollector" and j["status"] == "completed", j
    assert j["job"] == "seq-iteration-0" and j["attempt"] == 1, j
    assert set(map(tuple, j["runs"])) & {(1, 3), (1, 4)}, j
    for f in j["input_files"]:
        st = os.stat(f["path"])
        assert f["size"] == st.st_size and f["mtime_ns"] == st.st_mtime_ns and "changed" not in f, f
# the payload it names is the database's file
assert os.path.basename(a["payload"]["file"]).startswith("dbstore_TestConstants_rev_" + a["payload"]["revision"])
PYEOF
for want in "run 1.4 gets TestConstants revision" "written by:     calibration iter, iteration 2" \
    "collector jobs:" "caf version:"; do
    grep -qF "$want" why.txt || { cat why.txt; fail "caf db why text lacks '$want'"; }
done

# caf db merge keeps every input's records.
"$CAF" -q db merge merged out/seq/iteration_0/database out/single/iteration_0/database >/dev/null
"$CAF" db why merged TestConstants 2 4 --json >m.json
$PY -c 'import json,sys; r=json.load(open(sys.argv[1]))["lineage"]; assert r["calibration"] == "single", r["calibration"]' m.json
"$CAF" db why merged TestConstants 5 0 >/dev/null 2>&1 && fail "run 5.0 is covered by nothing"
"$CAF" db why merged TestConstants 1 2 --json | $PY -c 'import json,sys; assert json.load(sys.stdin)["lineage"]["calibration"] == "single"'

# An input file changed since: marked.
touch -d '2001-01-01' toy/toy_e0001_r00003_f00.h5
"$CAF" db why out/seq/iteration_0/database TestConstants 1 3 | grep -q 'toy_e0001_r00003_f00.h5 .*CHANGED SINCE' ||
    fail "a changed input file is not marked"

# Bad input: one line on stderr and exit 1 (data), or a usage error and exit 2.
expect() { # CODE PATTERN ARGS...
    local code=$1 pattern=$2
    shift 2
    set +e
    "$CAF" db why "$@" >out.txt 2>err.txt
    local rc=$?
    set -e
    [ "$rc" = "$code" ] || { cat err.txt; fail "caf db why $*: exit $rc, expected $code"; }
    [ "$code" = 2 ] || [ "$(wc -l <err.txt)" = 1 ] || { cat err.txt; fail "caf db why $*: not one line"; }
    grep -q "$pattern" err.txt || { cat err.txt; fail "caf db why $*: no '$pattern'"; }
    [ ! -s out.txt ] || fail "caf db why $*: printed an answer"
}
expect 1 "not a caf output folder or conditions database" toy TestConstants 1 1
expect 1 "No such file" nowhere TestConstants 1 1
expect 1 "no payload 'TestConstants' covers run 7.1" out TestConstants 7 1
expect 1 "no payload 'Nothing' covers run 1.1" out Nothing 1 1
printf '{"value": 1}' >c.json
"$CAF" -q db add plain --iov 1,0,1,-1 TestConstants=c.json >/dev/null
expect 1 "no lineage records" plain TestConstants 1 1
mkdir -p plain/lineage
echo '{"format": "caf-lineage-1", "payloads": []}' >plain/lineage/other.json
echo 'not json' >plain/lineage/broken.json
expect 1 "no lineage record explains TestConstants revision .* IoV 1,0,1,-1 .*broken.json could not be read" plain TestConstants 1 1
expect 2 "expects DB NAME EXP RUN" out TestConstants 1
expect 2 "EXP" out TestConstants x 1
expect 2 "must not be negative" out TestConstants -- 1 -1
expect 2 "" out 'bad name' 1 1
echo "db_why: ok"
