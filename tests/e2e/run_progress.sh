#!/usr/bin/env bash
# caf run's progress, run on the toy campaign four times: under a real pseudo-terminal (live block) it
# redraws one block in place: the final screen holds a single block, every calibration completed with
# subjob counts that add up to its subjobs and match caf status, its executions, and the log lines above it
# intact (the same lines as a run into a file); NO_COLOR drops the colour codes but not the redrawing;
# --no-progress on a terminal and stderr into a file print plain progress lines every heartbeat (counts that
# add up, an estimate of the collection time left only once a subjob completed) and no escape sequence.
set -euo pipefail
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
PY=/usr/bin/python3
SCREEN="$CAF_SOURCE_DIR/tests/support/pty_screen.py"
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$W"
"$CAF" gen toy toy --seed 7 --events 5000 >/dev/null
for d in tty nocolor plain file; do
  mkdir "$d"
  # a short heartbeat, so that the plain runs print progress lines however fast the machine is
  sed 's/^heartbeat: .*/heartbeat: 0.05/' "$CAF_SOURCE_DIR/examples/toy_campaign.yaml" > "$d/toy_campaign.yaml"
  ln -s ../toy "$d/toy"
  cp -r "$CAF_SOURCE_DIR/examples/python_algorithms" "$d/"
done
grep -q '^heartbeat: 0.05' tty/toy_campaign.yaml || fail "the campaign has no heartbeat line to shorten"

# two runs at a time (each its own folder); each records its exit code
run_as() { local name=$1 rc=0; shift; "$@" || rc=$?; echo $rc > "$name.rc"; }
run_as tty env -u NO_COLOR TERM=xterm "$PY" "$SCREEN" run 200 50 tty.raw -- "$CAF" run tty/toy_campaign.yaml &
run_as nocolor env NO_COLOR=1 TERM=xterm "$PY" "$SCREEN" run 200 50 nocolor.raw -- "$CAF" run nocolor/toy_campaign.yaml &
wait
run_as plain env -u NO_COLOR TERM=xterm "$PY" "$SCREEN" run 200 50 plain.raw -- "$CAF" run plain/toy_campaign.yaml --no-progress &
run_as file sh -c '"$0" run file/toy_campaign.yaml 2> file.log' "$CAF" &
wait
for d in tty nocolor plain; do
  [ "$(cat $d.rc)" = 0 ] || { "$PY" "$SCREEN" screen $d.raw; fail "caf run ($d) failed"; }
done
[ "$(cat file.rc)" = 0 ] || { cat file.log; fail "caf run into a file failed"; }
for d in tty nocolor; do "$CAF" status "$d/toy_results" --json > "$d.status.json"; done

"$PY" - "$SCREEN" <<'PYEOF'
import json, re, sys
sys.path.insert(0, sys.argv[1].rsplit("/", 1)[0])
from pty_screen import screen

def fail(msg):
    sys.exit(f"FAIL: {msg}")

HEARTBEAT = re.compile(r"^caf: \S+: iteration \d+: (collector subjobs: \d+ completed, \d+ running, \d+ submitted, "
                       r"\d+ waiting, \d+ failed \(of \d+\); \d+[hms]\S* elapsed(, about \S+ of collection left)?"
                       r"|algorithms running \(process \d+\): \d+ executions done, \S+ elapsed"
                       r"|algorithms waiting: .*)$")
ROW = re.compile(r"^  (\S+) +(\S+) +it (\d+) \[([#x>. ]{12})\] (\d+)/(\d+)/(\d+)/(\d+) of (\d+), (\d+) exec, (\S+)$")

def normalised(lines, folder):
    """the lines with what differs between two runs left out: the folder, the closing line's time and memory"""
    return sorted(re.sub(r"in [0-9.]+ s \(peak memory of this caf [0-9]+ MB\)", "in T", l.replace(f"/{folder}/", "/X/"))
                  for l in lines)

file_lines = open("file.log").read().splitlines()
log_lines = [l for l in file_lines if not HEARTBEAT.match(l)]
if len(log_lines) == len(file_lines):
    fail("no plain progress line in the run into a file")
if any(l.startswith("caf: ") is False for l in file_lines):
    fail(f"a line of the file run is not a log line: {[l for l in file_lines if not l.startswith('caf: ')]}")

# the estimate of the collection time left comes only from subjobs this run saw complete, and only while
# some are still to finish
for l in file_lines:
    m = re.search(r"collector subjobs: (\d+) completed, (\d+) running, (\d+) submitted, (\d+) waiting, (\d+) "
                  r"failed \(of (\d+)\)", l)
    if not m:
        continue
    done, running, submitted, waiting, failed, total = map(int, m.groups())
    if done + running + submitted + waiting + failed != total:
        fail(f"counts do not add up: {l}")
    if "of collection left" in l and not (done > 0 and running + submitted + waiting > 0):
        fail(f"an estimate before any subjob completed, or after all finished: {l}")
if not any("of collection left" in l for l in file_lines):
    fail("no estimate of the collection time left in any progress line")

for folder, colour in (("tty", True), ("nocolor", False)):
    listed = json.load(open(f"{folder}.status.json"))["calibrations"]  # in the campaign's order
    names = [c["name"] for c in listed]
    status = {c["name"]: c for c in listed}
    raw = open(f"{folder}.raw", encoding="utf-8", newline="").read()
    if "\x1b[J" not in raw or not re.search(r"\x1b\[\d+A", raw):
        fail(f"{folder}: the block was never redrawn in place")
    if bool(re.search(r"\x1b\[[0-9;]*m", raw)) != colour:
        fail(f"{folder}: colour codes {'missing' if colour else 'present with NO_COLOR'}")
    shown = screen(raw)
    headers = [i for i, l in enumerate(shown) if l.startswith("caf run: ")]
    if len(headers) != 1:
        fail(f"{folder}: {len(headers)} blocks on the final screen instead of one:\n" + "\n".join(shown))
    h = headers[0]
    if not shown[h].startswith(f"caf run: {len(names)} of {len(names)} calibrations finished, "):
        fail(f"{folder}: final header {shown[h]!r}")
    rows = shown[h + 1:h + 1 + len(names)]
    for name, row in zip(names, rows):
        m = ROW.match(row)
        if not m:
            fail(f"{folder}: block line {row!r}")
        name_, state, iteration, bar, done, running, queued, failed, total, execs, elapsed = m.groups()
        s = status[name]
        if (name_, state, int(iteration)) != (name, "completed", s["iteration"]):
            fail(f"{folder}: {row!r} against caf status {s['state']} iteration {s['iteration']}")
        counts = [int(done), int(running), int(queued), int(failed)]
        if sum(counts) != int(total) or int(total) != s["subjobs"]["total"] or int(done) != s["subjobs"]["completed"]:
            fail(f"{folder}: {row!r}: counts do not add up to the subjobs of caf status {s['subjobs']}")
        if bar != "#" * 12:
            fail(f"{folder}: {row!r}: the bar of a finished collection is not full")
        recorded = sum(len(a["executions"]) for a in s["algorithms"])
        if int(execs) != recorded:
            fail(f"{folder}: {row!r}: {execs} executions, caf status has {recorded}")
    block_end = h + 1 + len(names)
    if not shown[-1].startswith(f"caf: {len(names)} of {len(names)} calibrations completed") or block_end != len(shown) - 1:
        fail(f"{folder}: the summary line is not right below the final block:\n" + "\n".join(shown[h:]))
    above = shown[:h]
    if any(HEARTBEAT.match(l) for l in above):
        fail(f"{folder}: plain progress lines beside the block")
    if normalised(above + shown[-1:], folder) != normalised(log_lines, "file"):
        a, b = set(normalised(above + shown[-1:], folder)), set(normalised(log_lines, "file"))
        fail(f"{folder}: the log lines above the block differ from the file run's:\n only on the terminal: "
             f"{sorted(a - b)[:5]}\n only in the file: {sorted(b - a)[:5]}")

plain = open("plain.raw", encoding="utf-8", newline="").read()
if "\x1b" in plain or "\x1b" in open("file.log").read():
    fail("escape sequences without the block")
plain_lines = screen(plain)
if not any(HEARTBEAT.match(l) for l in plain_lines):
    fail("--no-progress: no plain progress line on the terminal")
if any(l.startswith("caf run: ") for l in plain_lines):
    fail("--no-progress drew the block")
PYEOF
echo "ok"
