#!/usr/bin/env bash
# caf config check and caf plan on a campaign whose database_chain names global tags on `caf db serve`
# (on loopback): a tag that does not exist, an INVALID tag and an unreachable server are each reported on
# one line naming FILE:LINE:COLUMN of the entry, the server and the tag, with a non-zero exit; malformed
# server entries are refused where they are written; an OPEN and a PUBLISHED tag pass.
set -euo pipefail
W=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
source "$CAF_SOURCE_DIR/tests/support/campaign_fixture.sh"
cd "$W"
"$CAF" gen toy toy --seed 5 --events 50 --runs 1 --experiments 1 >/dev/null
export CAF_PAYLOAD_CACHE="$W/cache" CAF_GT_RETRIES=0

printf 'token-for-the-check-test\n' >token
"$CAF" db serve store --port 0 --port-file port --token-file token >serve.log 2>&1 &
server=$!
for _ in $(seq 200); do [ -s port ] && break; sleep 0.05; done
url="http://127.0.0.1:$(cat port)"
dead=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$CAF" db tag create "$url" open_tag --token-file token >/dev/null
"$CAF" db tag create "$url" published_tag --token-file token >/dev/null
"$CAF" db tag publish "$url" published_tag --token-file token >/dev/null
"$CAF" db tag create "$url" bad_tag --token-file token >/dev/null
"$CAF" db tag invalidate "$url" bad_tag --token-file token >/dev/null

campaign() { # campaign FILE CHAIN-ENTRIES...
  local file=$1
  shift
  {
    echo "output_dir: out"
    echo "calibrations:"
    echo "  - name: a"
    echo "    collector: ExampleHitCollector"
    echo "    algorithms:"
    echo "      - plugin: TestAlgorithms:test"
    echo "    input_files: [\"toy/*.h5\"]"
    echo "    database_chain:"
    for entry in "$@"; do echo "      - $entry"; done
  } >"$file"
}
# runs COMMAND...: its exit code and its error lines in out.txt
runs() { set +e; "$@" >out.txt 2>&1; local rc=$?; set -e; echo $rc; }

campaign good.yaml "{server: $url, globaltag: open_tag}" "{server: [\"http://127.0.0.1:$dead\", $url], globaltag: published_tag}"
[ "$(runs "$CAF" config check good.yaml)" = 0 ] || fail "config check of good tags: $(cat out.txt)"
[ "$(runs "$CAF" plan good.yaml)" = 0 ] || fail "plan of good tags: $(cat out.txt)"

for cmd in "config check" plan; do
  campaign missing.yaml "{server: $url, globaltag: no_such_tag}"
  # shellcheck disable=SC2086
  [ "$(runs "$CAF" $cmd missing.yaml)" = 1 ] || fail "$cmd of a missing tag: $(cat out.txt)"
  grep -q "missing.yaml:9:9: calibration 'a': database_chain: global tag no_such_tag on $url does not exist" out.txt ||
    fail "$cmd: missing tag: $(cat out.txt)"

  campaign invalid.yaml "{server: $url, globaltag: bad_tag}"
  # shellcheck disable=SC2086
  [ "$(runs "$CAF" $cmd invalid.yaml)" = 1 ] || fail "$cmd of an INVALID tag: $(cat out.txt)"
  grep -q "invalid.yaml:9:9: calibration 'a': database_chain: global tag bad_tag on $url is INVALID" out.txt ||
    fail "$cmd: INVALID tag: $(cat out.txt)"

  campaign unreachable.yaml "{server: \"http://127.0.0.1:$dead\", globaltag: open_tag}"
  # shellcheck disable=SC2086
  [ "$(runs "$CAF" $cmd unreachable.yaml)" = 1 ] || fail "$cmd with an unreachable server: $(cat out.txt)"
  grep -q "unreachable.yaml:9:9: calibration 'a': database_chain: global tag open_tag on http://127.0.0.1:$dead: server unreachable .*is the server running and reachable" out.txt ||
    fail "$cmd: unreachable server: $(cat out.txt)"
done

# malformed entries are the campaign's problems, found where they are written
campaign malformed.yaml "{server: ftp://example.org, globaltag: t}" "{server: $url, globaltag: '../x'}" \
  "{server: $url}" "{server: $url, globaltag: t, token: x}" "'globaltag=t@http%3A//x'"
[ "$(runs "$CAF" config check malformed.yaml)" = 1 ] || fail "config check of malformed entries: $(cat out.txt)"
for expected in "malformed.yaml:9:18: .*'ftp://example.org' is not an http:// or https:// URL" \
  "malformed.yaml:10:.*'../x' is not a valid global tag name" \
  "malformed.yaml:11:9: .*a server entry needs both server and globaltag" \
  "malformed.yaml:12:.*unknown key 'token' in a server entry" \
  "malformed.yaml:13:9: .*write a server entry as {server: URL, globaltag: NAME}"; do
  grep -q "$expected" out.txt || fail "no problem '$expected' in: $(cat out.txt)"
done
echo ok
