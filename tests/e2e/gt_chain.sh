#!/usr/bin/env bash
# A campaign whose database_chain names a global tag on `caf db serve` (on loopback, behind a first URL
# where nothing listens: failover): calibration a's collector jobs resolve payloads through the server and
# fill the payload cache; the server is stopped when a's algorithm starts, so a's algorithm and all of b's
# collector jobs work from the cache alone; the server is restarted when b's algorithm starts, and c reads
# a payload nobody cached, from the restarted server. Every answer equals the payload pushed for that run.
# With the server gone again, caf run on the finished campaign starts with a warning, caf plan refuses.
set -euo pipefail
W=$(mktemp -d)
cleanup() {
  [ -f "$W/server.pid" ] && kill "$(cat "$W/server.pid")" 2>/dev/null || true
  [ -n "${watcher:-}" ] && kill "$watcher" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
source "$CAF_SOURCE_DIR/tests/support/campaign_fixture.sh"
cd "$W"
make_toy
export CAF_PAYLOAD_CACHE="$W/cache" CAF_GT_RETRIES=1 CAF_GT_BACKOFF=0.05

printf 'token-for-the-chain-test\n' >token
start_server() { # start_server PORT
  rm -f port
  "$CAF" db serve store --port "$1" --port-file port --token-file token >>serve.log 2>&1 &
  echo $! >server.pid
  for _ in $(seq 200); do [ -s port ] && break; sleep 0.05; done
  [ -s port ] || fail "caf db serve did not start: $(cat serve.log)"
}
stop_server() {
  local pid
  pid=$(cat server.pid)
  kill "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  rm -f server.pid
}
wait_file() { while [ ! -e "$1" ]; do sleep 0.05; done; }

start_server 0
port=$(cat port)
url="http://127.0.0.1:$port"
# a port where nothing listens, tried first
dead=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

printf '{"value": 5.0}\n' >geom1.json
printf '{"value": 7.0}\n' >geom2.json
printf '{"value": 11.0}\n' >c1.json
"$CAF" db add local --iov 1,0,1,-1 TestGeom=geom1.json >/dev/null
"$CAF" db add local --iov 2,0,2,-1 TestGeom=geom2.json >/dev/null
"$CAF" db add local --iov 0,0,-1,-1 TestConstants1=c1.json >/dev/null
"$CAF" db tag create "$url" calib --token-file token >/dev/null
"$CAF" db push local "$url" calib --token-file token >/dev/null

chain="[{server: [\"http://127.0.0.1:$dead\", \"$url\"], globaltag: calib}]"
cat >campaign.yaml <<YAML
output_dir: out
poll_interval: 0.2
calibrations:
  - name: a
    collector: ExampleHitCollector
    pre_collector:
      - module: TestChainReader
        parameters: {payload: TestGeom, log: $W/a.log}
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {read_payload: TestGeom, value: 1.0, marker: $W/a, wait_for: $W/stopped}
    input_files: ["toy/*_r00001_*.h5"]
    database_chain: $chain
  - name: b
    depends_on: [a]
    collector: ExampleHitCollector
    pre_collector:
      - module: TestChainReader
        parameters: {payload: TestGeom, log: $W/b.log}
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {read_payload: TestGeom, value: 2.0, marker: $W/b, wait_for: $W/restarted}
    input_files: ["toy/*_r00001_*.h5"]
    database_chain: $chain
  - name: c
    depends_on: [b]
    collector: ExampleHitCollector
    pre_collector:
      - module: TestChainReader
        parameters: {payload: TestConstants1, log: $W/c.log}
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {read_payload: TestConstants1, value: 0.0}
    input_files: ["toy/*_r00001_*.h5"]
    database_chain: $chain
YAML

"$CAF" config check campaign.yaml >check.log 2>&1 || fail "config check failed: $(cat check.log)"

# the server goes away when a's algorithm starts and comes back when b's algorithm starts
(
  wait_file "$W/a.start"
  stop_server
  touch "$W/stopped"
  wait_file "$W/b.start"
  start_server "$port"
  touch "$W/restarted"
) &
watcher=$!

"$CAF" run campaign.yaml 2>run.log || { cat run.log; fail "caf run failed"; }
wait "$watcher"
watcher=""

$PY - "$W" <<'PYEOF'
import hashlib, json, os, sys
w = sys.argv[1]
def md5(name):
    return hashlib.md5(open(os.path.join(w, name), "rb").read()).hexdigest()
def value(cal):
    db = os.path.join(w, "out", cal, "iteration_0", "database")
    (line,) = open(os.path.join(db, "database.txt")).read().split("\n")[:-1]
    name, rev, _ = line.split()
    f = next(f for f in os.listdir(db) if f.startswith(f"dbstore_{name.split('/')[1]}_rev_{rev}."))
    return json.load(open(os.path.join(db, f)))["value"]
# a read TestGeom of run 1.1 (5) from the cache, the server being stopped; b (7) as well; c (11) from the
# restarted server, a payload that was never in the cache
assert value("a") == 6.0, value("a")
assert value("b") == 7.0, value("b")
assert value("c") == 11.0, value("c")
expected = {"TestGeom": {"1": md5("geom1.json"), "2": md5("geom2.json")}, "TestConstants1": {"1": md5("c1.json"), "2": md5("c1.json")}}
for cal, payload in (("a", "TestGeom"), ("b", "TestGeom"), ("c", "TestConstants1")):
    lines = [l.split() for l in open(os.path.join(w, f"{cal}.log"))]
    assert sorted({(l[0], l[1]) for l in lines}) == [("1", "1"), ("2", "1")], (cal, lines)
    for exp, run, revision, where in lines:
        assert where == "server" and revision == expected[payload][exp], (cal, exp, run, revision, where)
# what the cache holds: the three payload files, whole
files = sorted(f for _, _, fs in os.walk(os.path.join(w, "cache", "payloads")) for f in fs)
assert files == sorted(f"{md5(n)}.json" for n in ("geom1.json", "geom2.json", "c1.json")), files
PYEOF
grep -q "using the payload cache $W/cache" out/a/iteration_0/algorithms/*/*.log 2>/dev/null ||
  grep -rqs "using the payload cache $W/cache" out/a out/b || fail "no job said it worked from the cache"
# caf status names the tag and its servers as the campaign did, not in the chain's encoded form
"$CAF" status out >status.txt
grep -q " global tag calib on http://127.0.0.1:$dead, $url (database_chain)$" status.txt ||
  fail "caf status: $(grep -A2 'database chain' status.txt)"
! grep -q 'globaltag=' status.txt || fail "caf status shows the encoded entry: $(grep globaltag= status.txt)"
"$CAF" status out --json >status.json
$PY - status.json "http://127.0.0.1:$dead" "$url" <<'PYEOF'
import json, sys
for cal in json.load(open(sys.argv[1]))["calibrations"]:
    server = [d for d in cal["database_chain"] if "globaltag" in d]
    assert [(d["globaltag"], d["servers"]) for d in server] == [("calib", sys.argv[2:])], cal["database_chain"]
PYEOF
# with the server gone, caf run still starts (a warning: the jobs may work from the cache); caf plan refuses
stop_server
"$CAF" run campaign.yaml 2>rerun.log || { cat rerun.log; fail "caf run with the server stopped failed"; }
grep -q "database_chain: global tag calib on http://127.0.0.1:$dead, $url: server unreachable .*jobs will use what the payload cache holds" rerun.log ||
  fail "no warning about the unreachable server: $(cat rerun.log)"
if "$CAF" plan campaign.yaml >plan.log 2>&1; then fail "caf plan passed with the server stopped"; fi
grep -q "server unreachable" plan.log || fail "caf plan: $(cat plan.log)"
echo ok
