#!/usr/bin/env bash
# caf report in a real browser: the toy campaign's report (examples/toy_campaign.yaml on the demo's toy
# data) is loaded from a file by headless Chromium with JavaScript on and off. No console message at all
# (errors, failed loads) is accepted; every calibration has its sections (outcome, collector jobs with
# events, wall time and peak memory, algorithm executions, IoV map, constants); every constants plot holds,
# in every series, one SVG point per run a payload applies to (derived here from the state database and
# the calibration's database.txt and payload files); the series selector shows the series a link asks for
# with JavaScript and index 0 without; the page makes no network request (no http(s) URL in it). With
# --compare against a reference in which one gain of one payload moved, exactly its runs are listed as
# changed. Bad input: not an output folder, an unreadable reference, an unwritable page (exit 1, one line,
# no page and an earlier page untouched), a half-finished run (written, what is missing listed), a payload
# that is not JSON (listed, not plotted). A screenshot is kept in the build folder
# (test-artefacts/report.png).
set -euo pipefail
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
PY=/usr/bin/python3
export CAF_PLUGIN_PATH="$CAF_BUILD_DIR/plugins"
fail() { echo "FAIL: $*" >&2; exit 1; }
BROWSER=$(command -v chromium || command -v chromium-browser || true)
[ -n "$BROWSER" ] || fail "chromium is not installed (scripts/install-deps.sh installs it, deps/debian.txt)"
cd "$W"
# Chromium wants a writable home and profile: the test's own, nothing of the user's is touched.
export HOME="$W/home"
mkdir -p "$HOME"
# browse URL OUT.html [--no-js] [--screenshot FILE]: a fresh headless Chromium loads URL, driven over the
# DevTools protocol on two named pipes (tests/support/cdp_page.py); fails on any console message.
browse() {
    local url=$1 out=$2
    shift 2
    rm -f "$W/to" "$W/from"
    mkfifo "$W/to" "$W/from"
    timeout 180 "$BROWSER" --headless --disable-gpu --no-sandbox --hide-scrollbars --user-data-dir="$W/profile" \
        --remote-debugging-pipe 3<"$W/to" 4>"$W/from" >"$out.browser.log" 2>&1 &
    local browser=$!
    local rc=0
    timeout 170 $PY "$CAF_SOURCE_DIR/tests/support/cdp_page.py" "$W/to" "$W/from" "$url" "$out" "$@" 2>"$out.log" || rc=$?
    [ "$rc" = 0 ] || kill "$browser" 2>/dev/null || true
    wait "$browser" || true
    [ "$rc" = 0 ] || { cat "$out.log"; fail "loading $url $*: console messages or no page (exit $rc)"; }
}

"$CAF" gen toy toy --seed 7 --events 5000 --files-per-run 2 >/dev/null
cp "$CAF_SOURCE_DIR/examples/toy_campaign.yaml" .
cp -r "$CAF_SOURCE_DIR/examples/python_algorithms" .
"$CAF" run toy_campaign.yaml 2>run.log || { cat run.log; fail "caf run failed"; }

page=$("$CAF" report toy_results 2>report.err)
[ "$page" = toy_results/report.html ] || fail "caf report printed '$page'"
[ ! -s report.err ] || { cat report.err; fail "a complete run reported something missing"; }
! ls -a toy_results | grep -q 'caf-tmp' || fail "a temporary file was left"
grep -Eq "(src|href)=\"?(https?:)?//" "$page" && fail "the page refers to the network"

mkdir -p "$CAF_BUILD_DIR/test-artefacts"
browse "file://$W/$page" on.html --screenshot "$CAF_BUILD_DIR/test-artefacts/report.png"
[ -s "$CAF_BUILD_DIR/test-artefacts/report.png" ] || fail "no screenshot"
browse "file://$W/$page" off.html --no-js
browse "file://$W/$page#series=plot-2:5" hash_on.html
browse "file://$W/$page#series=plot-2:5" hash_off.html --no-js

cat >check_dom.py <<'PYEOF'
import json, os, re, sqlite3, sys
from html.parser import HTMLParser

out_dir, dom_file = sys.argv[1], sys.argv[2]
want_series = sys.argv[3] if len(sys.argv) > 3 else ""  # "plot-2:5": that series shown, others hidden

class Dom(HTMLParser):
    """Sections, figures, series groups and points, with the elements they are in."""
    def __init__(self):
        super().__init__()
        self.stack, self.cals, self.series = [], {}, []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        node = {"tag": tag, "attrs": a, "points": 0, "sections": set(), "figures": [], "series": []}
        if tag in ("section", "figure", "g", "table"):
            self.stack.append(node)
        cal = next((n for n in reversed(self.stack) if n["tag"] == "section" and "data-calibration" in n["attrs"]), None)
        if tag == "section" and "data-calibration" in a:
            self.cals[a["data-calibration"]] = node
        elif tag in ("section", "table") and cal is not None and cal is not node:
            cal["sections"].add(a.get("class", ""))
        if tag == "figure" and cal is not None:
            node["calibration"] = cal["attrs"]["data-calibration"]
            cal["figures"].append(node)
        if tag == "g" and "series" in a.get("class", "").split():
            fig = next(n for n in reversed(self.stack) if n["tag"] == "figure")
            fig["series"].append(node)
        if tag == "circle" and "point" in a.get("class", "").split():
            g = next(n for n in reversed(self.stack) if n["tag"] == "g")
            g["points"] += 1
    def handle_endtag(self, tag):
        if tag in ("section", "figure", "g", "table"):
            while self.stack and self.stack.pop()["tag"] != tag:
                pass

dom = Dom()
dom.feed(open(dom_file, encoding="utf-8").read())
state = sqlite3.connect(f"file:{out_dir}/caf-state.sqlite?mode=ro", uri=True)
cals = state.execute("SELECT name, iteration FROM calibrations ORDER BY position").fetchall()
assert sorted(dom.cals) == sorted(n for n, _ in cals), (sorted(dom.cals), cals)

def key(r):
    return (r[0], r[1])

def lines(db):
    rows = []
    for line in open(os.path.join(db, "database.txt")):
        name, rev, iov = line.split()
        rows.append((name.split("/", 1)[1], rev, [int(x) for x in iov.split(",")]))
    return rows

def covers(iov, run):
    e1, r1, e2, r2 = iov
    lo = (e1, r1)
    hi = (e2, r2 if r2 != -1 else 1 << 40)
    return lo <= tuple(run) <= hi

def get(payload, path, index):
    v = payload
    for k in path.split("."):
        if not isinstance(v, dict) or k not in v:
            return None
        v = v[k]
    if isinstance(v, list):
        v = v[index] if index < len(v) else None
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None

total_plots = 0
for name, iteration in cals:
    node = dom.cals[name]
    for section in ("outcome", "collector-jobs", "jobs", "executions", "execution-table", "iov-map", "constants"):
        assert section in node["sections"], (name, section, node["sections"])
    axis = sorted({tuple(r) for (runs,) in state.execute("SELECT runs FROM executions WHERE calibration = ?", (name,))
                   for r in json.loads(runs)})
    db = os.path.join(out_dir, name, f"iteration_{iteration}", "database")
    entries = lines(db)
    figures = node["figures"]
    assert figures, f"{name}: no constants plot"
    for fig in figures:
        total_plots += 1
        pname, field = fig["attrs"]["data-payload"], fig["attrs"]["data-field"]
        series = fig["series"]
        assert len(series) == int(fig["attrs"]["data-series"]) and series, (name, pname, field)
        for g in series:
            k = int(g["attrs"]["data-index"])
            want = 0
            for run in axis:
                applying = [e for e in entries if e[0] == pname and covers(e[2], run)]
                if not applying:
                    continue
                _, rev, _ = applying[-1]
                f = next(f for f in os.listdir(db) if f.startswith(f"dbstore_{pname}_rev_{rev}."))
                if get(json.load(open(os.path.join(db, f))), field, k) is not None:
                    want += 1
            assert g["points"] == want, (name, pname, field, k, g["points"], want)
            if want_series:
                plot, index = want_series.split(":")
                if fig["attrs"]["id"] == plot:
                    shown = "display: none" not in g["attrs"].get("style", "").replace("display:none", "display: none")
                    assert shown == (k == int(index)), (plot, k, g["attrs"])
    # every JSON payload name of the database has plots
    names = {e[0] for e in entries}
    assert names == {f["attrs"]["data-payload"] for f in figures}, (name, names)
    # collector jobs: every subjob measured (events, wall time, peak memory)
assert total_plots >= 10, total_plots
print(total_plots)
PYEOF
plots=$($PY check_dom.py toy_results on.html) || fail "the report's DOM (JavaScript on)"
$PY check_dom.py toy_results off.html >/dev/null || fail "the report's DOM (JavaScript off)"
$PY check_dom.py toy_results hash_on.html plot-2:5 >/dev/null || fail "the series selector did not follow the link"
$PY check_dom.py toy_results hash_off.html plot-2:0 >/dev/null || fail "without JavaScript index 0 is not shown"
grep -q '<td>-</td><td>-</td><td>-</td>' "$page" && fail "a completed subjob has no events, wall time or memory"
grep -q '<td>0 failed</td>' "$page" || fail "no subjob totals"

# --compare: a reference where gain[3] of the payload that applies to runs 2.3 and 2.4 moved by 1.0.
cp -r toy_results/database reference
line=$(grep '^dbstore/ExampleGains ' toy_results/database/database.txt | awk '$3 == "2,3,2,4"')
rev=$(echo "$line" | awk '{print $2}')
$PY - "toy_results/database/dbstore_ExampleGains_rev_$rev.json" moved.json <<'PYEOF'
import json, sys
p = json.load(open(sys.argv[1]))
p["gain"][3] += 1.0
json.dump(p, open(sys.argv[2], "w"))
PYEOF
"$CAF" -q db add reference --iov 2,3,2,4 ExampleGains=moved.json >/dev/null
"$CAF" report toy_results -o compared.html --compare reference 2>compare.err >/dev/null
grep -q "caf report: 2 runs changed by more than their uncertainty against reference" compare.err ||
    { cat compare.err; fail "compare summary"; }
browse "file://$W/compared.html" compared_dom.html
$PY - compared_dom.html <<'PYEOF'
import re, sys
html = open(sys.argv[1], encoding="utf-8").read()
changed = re.search(r'<section class="changed-runs".*?</section>', html, re.S).group(0)
items = re.findall(r"<li>(.*?)</li>", changed)
assert items == ["run 2.3: gain ExampleGains", "run 2.4: gain ExampleGains"], items
rows = re.findall(r'<td class="changed-run">([^<]*)</td><td>([^<]*)', html)
assert rows and all(r[1].startswith("gain[3] ") for r in rows), rows
assert html.count('class="ref-point"') > 0
PYEOF

# Bad input.
expect_fail() { # PATTERN ARGS...: exit 1, one line on stderr, nothing on stdout
    local pattern=$1
    shift
    set +e
    "$CAF" report "$@" >stdout.txt 2>stderr.txt
    local rc=$?
    set -e
    [ "$rc" = 1 ] || { cat stderr.txt; fail "caf report $*: exit $rc"; }
    [ "$(wc -l <stderr.txt)" = 1 ] && grep -q "$pattern" stderr.txt || { cat stderr.txt; fail "caf report $*: message"; }
    [ ! -s stdout.txt ] || fail "caf report $*: printed a page"
}
expect_fail "not a caf run output folder (no caf-state.sqlite)" toy -o notoutput.html
[ ! -e notoutput.html ] || fail "a page for a folder that is not an output"
expect_fail "not a caf run output folder" nowhere
cp "$page" before.html
expect_fail "compare: .*nowhere" toy_results --compare nowhere
cmp -s "$page" before.html || fail "a failed report changed the earlier page"
expect_fail "nonexistent" toy_results -o "$W/nonexistent/report.html"
set +e
"$CAF" report >/dev/null 2>&1
[ $? = 2 ] || fail "usage error: exit 2"
set -e

# A half-finished run: a calibration still collecting, another without its database, no summary.
cp -r toy_results half
rm half/summary.json half/report.html
rm -r half/time/iteration_3/database
sqlite3 half/caf-state.sqlite "UPDATE calibrations SET state = 'running_algorithms' WHERE name = 'time'"
"$CAF" report half -o half.html 2>half.err >/dev/null || { cat half.err; fail "a half-finished run"; }
for want in "missing: no summary.json" "missing: time: not finished (state running_algorithms, iteration 3)" \
    "missing: time: no database in iteration 3 yet"; do
    grep -qF "caf report: $want" half.err || { cat half.err; fail "half-finished: no '$want'"; }
done
browse "file://$W/half.html" half_dom.html --no-js
grep -q '<section class="missing" id="missing">' half_dom.html || fail "the page does not say what is missing"

# A payload that is not JSON: listed, not plotted.
printf '\x00\x01binary' >blob.bin
"$CAF" -q db add toy_results/status/iteration_0/database --iov 1,1,1,-1 StatusBlob=blob.bin >/dev/null
"$CAF" report toy_results -o blob.html 2>blob.err >/dev/null
grep -q "caf report: not plotted (not JSON): StatusBlob revision" blob.err || { cat blob.err; fail "not JSON: stderr"; }
browse "file://$W/blob.html" blob_dom.html --no-js
grep -q 'data-payload="StatusBlob"' blob_dom.html && fail "a binary payload was plotted"
grep -q '<div class="not-plotted">' blob_dom.html || fail "the binary payload is not listed"
echo "report_browser: $plots plots ok"
