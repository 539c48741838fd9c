#!/usr/bin/env bash
# caf db serve, pull, push and tag end to end: a server on loopback used through curl and through caf's
# client; a pull/push round trip equals the local database; writes without the token, to a PUBLISHED
# tag, with a wrong checksum, too large or malformed are refused with a JSON error and leave the tag as
# it was; INVALID tags are refused to clients.
set -euo pipefail
command -v curl >/dev/null || { echo "curl is missing (deps/debian.txt)"; exit 77; }
work=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
fails=0
check() { # check DESCRIPTION EXPECTED ACTUAL
  if [ "$2" != "$3" ]; then echo "FAIL: $1: expected [$2], got [$3]"; fails=$((fails + 1)); fi
}
status() { set +e; "$@" >/dev/null 2>&1; local rc=$?; set -e; echo $rc; }
code() { curl -s -o body.json -w '%{http_code}' "$@"; } # prints the HTTP status, the body in body.json
json_code() { /usr/bin/python3 -c 'import json,sys; print(json.load(open("body.json"))["code"])'; }

start_server() { # start_server EXTRA_OPTIONS...
  rm -f port
  unset CAF_DB_TOKEN
  "$CAF" db serve store --port 0 --port-file port --token-file token "$@" >>serve.log 2>&1 &
  server=$!
  for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
  url="http://127.0.0.1:$(cat port)"
}
stop_server() { kill "$server"; wait "$server" || true; server=""; }

printf 'not-the-token-0123\n' >token
start_server
check "server listening" 1 "$([ -s port ] && echo 1)"
check "the token is not on the command line" 0 "$(ps -o args= -p "$server" | grep -c 'not-the-token' || true)"

# --- a local database with overlapping IoVs, several names and shared payload files ---
printf '{"gain": 1.5}\n' >g1.json
printf '{"gain": 1.7}\n' >g2.json
printf 't0\n' >t0.bin
"$CAF" db add local --iov 0,0,0,-1 Gain=g1.json T0=t0.bin >/dev/null
"$CAF" db add local --iov 1,0,1,10 Gain=g2.json >/dev/null
"$CAF" db add local --iov 1,5,1,6 Gain=g1.json >/dev/null
"$CAF" db add local --iov 1,0,-1,-1 T0=g2.json >/dev/null

# --- tags through the client ---
check "tag create" 0 "$(status "$CAF" db tag create "$url" calib_v1 --description "first" --token-file token)"
check "tag create twice is refused" 1 "$(status "$CAF" db tag create "$url" calib_v1 --token-file token)"
check "tag create without the token is refused" 1 "$(status "$CAF" db tag create "$url" other)"
check "refused write is logged" 1 "$(grep -c 'refused POST /v2/globalTag/DEV from 127.0.0.1: no valid token' serve.log)"
check "tag create with a bad name" 1 "$(status "$CAF" db tag create "$url" '../etc' --token-file token)"
check "tag list" "calib_v1 OPEN DEV first" "$("$CAF" db tag list "$url" | xargs)"

# --- push, then pull: the same database ---
check "push" "pushed 5 entries of local to calib_v1" "$("$CAF" db push local "$url" calib_v1 --token-file token)"
check "pull" 0 "$(status "$CAF" db pull "$url" calib_v1 pulled)"
check "pulled database.txt equals the local one" "$(cat local/database.txt)" "$(cat pulled/database.txt)"
check "caf db diff finds no difference" "False" "$("$CAF" db diff local pulled --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["differ"])')"
for f in local/dbstore_*; do
  check "payload file $(basename "$f")" "$(md5sum <"$f")" "$(md5sum <"pulled/$(basename "$f")")"
done
for run in "0 3" "1 0" "1 5" "1 6" "1 7" "1 11" "2 0"; do
  for name in Gain T0; do
    # shellcheck disable=SC2086
    check "lookup $name $run" "$("$CAF" db query local $name $run 2>&1 | cut -d' ' -f1-3)" \
      "$("$CAF" db query pulled $name $run 2>&1 | sed 's/pulled/local/' | cut -d' ' -f1-3)"
  done
done
"$CAF" db pull "$url" calib_v1 part --iov 1,4,1,5 >/dev/null
check "pull --iov cuts to the interval" "dbstore/Gain $(md5sum g2.json | cut -c1-6) 1,4,1,5
dbstore/Gain $(md5sum g1.json | cut -c1-6) 1,5,1,5
dbstore/T0 $(md5sum g2.json | cut -c1-6) 1,4,1,5" "$(cat part/database.txt)"

# --- the basf2 REST calls through curl ---
check "iovPayloads status" 200 "$(code "$url/v2/iovPayloads/?gtName=calib_v1&expNumber=1&runNumber=5")"
check "iovPayloads answer" "Gain 1,5,1,6 $(md5sum g1.json | cut -c1-32) payloads/$(md5sum g1.json | cut -c1-32) $url/
T0 1,0,-1,-1 $(md5sum g2.json | cut -c1-32) payloads/$(md5sum g2.json | cut -c1-32) $url/" \
  "$(/usr/bin/python3 -c '
import json
for e in sorted(json.load(open("body.json")), key=lambda e: e["payload"]["basf2Module"]["name"]):
    p, i = e["payload"], e["payloadIov"]
    print(p["basf2Module"]["name"], "%d,%d,%d,%d" % (i["expStart"], i["runStart"], i["expEnd"], i["runEnd"]),
          p["checksum"], p["payloadUrl"], p["baseUrl"])')"
check "globalTag status" "OPEN" "$(curl -s "$url/v2/globalTag/calib_v1" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["globalTagStatus"]["name"])')"
check "HEAD globalTags" 200 "$(curl -s -I -o /dev/null -w '%{http_code}' "$url/v2/globalTags")"
sum=$(md5sum g1.json | cut -c1-32)
headers=$(curl -s -D - -o payload.out "$url/payloads/$sum" | tr -d '\r')
check "payload bytes" "$(md5sum <g1.json)" "$(md5sum <payload.out)"
check "payload ETag" "ETag: \"$sum\"" "$(grep '^ETag' <<<"$headers")"
check "payload Cache-Control" "Cache-Control: public, max-age=31536000, immutable" "$(grep '^Cache-Control' <<<"$headers")"
check "payload If-None-Match" 304 "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: \"$sum\"" "$url/payloads/$sum")"

# --- malformed and hostile reads: 4xx with a JSON error ---
for q in "v2/iovPayloads/?gtName=calib_v1&expNumber=x&runNumber=1" "v2/iovPayloads/?gtName=calib_v1&expNumber=1" \
  "v2/iovPayloads/?gtName=calib_v1&expNumber=-1&runNumber=2" "v2/iovPayloads/?gtName=..%2Fstore&expNumber=1&runNumber=1" \
  "v2/iovPayloads/?expNumber=1&runNumber=1" "v2/iovPayloads/?gtName=calib_v1&expNumber=99999999999&runNumber=1"; do
  check "400 for $q" "400 400" "$(code "$url/$q") $(json_code)"
done
for q in "payloads/..%2Fmetadata.sqlite" "payloads/../metadata.sqlite" "payloads/${sum^^}" "payloads/0123" \
  "v2/globalTag/nothere" "v2/nothing" "metadata.sqlite" "v2/globalTag/calib_v1/x/y/z/a/b/c/d/e"; do
  check "404 for $q" "404 404" "$(code --path-as-is "$url/$q") $(json_code)"
done
check "414 for a long path" "414" "$(code "$url/v2/globalTag/$(head -c 3000 /dev/zero | tr '\0' a)")"
check "431 for huge headers" "431" "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 70000 /dev/zero | tr '\0' a)" "$url/v2/globalTags")"
check "405 for DELETE" "405" "$(code -X DELETE "$url/v2/globalTag/calib_v1")"

# --- writes: token, checksum, state, size ---
auth=(-H "Authorization: Bearer not-the-token-0123")
printf 'payload\n' >p.txt
good=$(md5sum p.txt | cut -c1-32)
check "upload without the token" 401 "$(code --data-binary @p.txt "$url/v2/package/dbstore/module/P/payload?checksum=$good&ext=txt")"
check "upload with a wrong token" 401 "$(code -H 'Authorization: Bearer nope' --data-binary @p.txt "$url/v2/package/dbstore/module/P/payload?checksum=$good&ext=txt")"
check "upload with a wrong checksum" "400" "$(code "${auth[@]}" --data-binary @p.txt "$url/v2/package/dbstore/module/P/payload?checksum=$sum&ext=txt")"
check "upload with a bad extension" "400" "$(code "${auth[@]}" --data-binary @p.txt "$url/v2/package/dbstore/module/P/payload?checksum=$good&ext=../x")"
check "upload with a bad name" "400" "$(code "${auth[@]}" --data-binary @p.txt "$url/v2/package/dbstore/module/a%20b/payload?checksum=$good&ext=txt")"
check "upload" "201" "$(code "${auth[@]}" --data-binary @p.txt "$url/v2/package/dbstore/module/P/payload?checksum=$good&ext=txt")"
pid=$(/usr/bin/python3 -c 'import json; print(json.load(open("body.json"))["payloadId"])')
check "IoV with a bad IoV" "400" "$(code "${auth[@]}" -X POST "$url/v2/globalTagPayload/calib_v1,$pid/payloadIov/1,5,1,x")"
check "IoV with an unknown payload" "404" "$(code "${auth[@]}" -X POST "$url/v2/globalTagPayload/calib_v1,999/payloadIov/1,5,1,6")"
check "IoV batch that is not JSON" "400" "$(code "${auth[@]}" -d '[{' "$url/v2/globalTag/calib_v1/payloadIovs")"
check "IoV batch with one bad entry adds nothing" "404" "$(code "${auth[@]}" -d "[{\"payloadId\":$pid,\"expStart\":3,\"runStart\":0,\"expEnd\":3,\"runEnd\":-1},{\"payloadId\":999,\"expStart\":3,\"runStart\":0,\"expEnd\":3,\"runEnd\":-1}]" "$url/v2/globalTag/calib_v1/payloadIovs")"
check "... the tag is unchanged" 5 "$(curl -s "$url/v2/iovPayloads/?gtName=calib_v1" | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
check "IoV (basf2's create_iov)" "201" "$(code "${auth[@]}" -X POST "$url/v2/globalTagPayload/1,$pid/payloadIov/3,0,3,-1")"
check "publish" 0 "$(status "$CAF" db tag publish "$url" calib_v1 --token-file token)"
check "IoV into a PUBLISHED tag" "409" "$(code "${auth[@]}" -X POST "$url/v2/globalTagPayload/calib_v1,$pid/payloadIov/4,0,4,-1")"
check "push into a PUBLISHED tag" 1 "$(status "$CAF" db push local "$url" calib_v1 --token-file token)"
check "a PUBLISHED tag cannot reopen" "409" "$(code "${auth[@]}" -X PUT "$url/v2/globalTag/calib_v1/updateGlobalTagStatus/OPEN")"
check "unknown state" "400" "$(code "${auth[@]}" -X PUT "$url/v2/globalTag/calib_v1/updateGlobalTagStatus/GONE")"
check "PUBLISHED tags are served" 200 "$(code "$url/v2/iovPayloads/?gtName=calib_v1&expNumber=3&runNumber=7")"
check "invalidate" 0 "$(status "$CAF" db tag invalidate "$url" calib_v1 --token-file token)"
check "INVALID tags are refused to clients" "410 410" "$(code "$url/v2/iovPayloads/?gtName=calib_v1&expNumber=1&runNumber=5") $(json_code)"
check "... and to pull" 1 "$(status "$CAF" db pull "$url" calib_v1 again)"
check "... but listed with their state" "INVALID" "$(curl -s "$url/v2/globalTag/calib_v1" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["globalTagStatus"]["name"])')"

# --- push is all or nothing: the second payload is over the body limit ---
stop_server
start_server --max-body 100
head -c 200 /dev/urandom >big.bin
"$CAF" db add two --iov 0,0,0,-1 Small=g1.json >/dev/null
"$CAF" db add two --iov 0,0,0,-1 Big=big.bin >/dev/null
"$CAF" db tag create "$url" calib_v2 --token-file token >/dev/null
check "push failing half-way" 1 "$(status "$CAF" db push two "$url" calib_v2 --token-file token)"
check "... leaves the tag as it was" "[]" "$(curl -s "$url/v2/iovPayloads/?gtName=calib_v2")"
check "413 for a large body" 413 "$(code "${auth[@]}" --data-binary @big.bin "$url/v2/package/dbstore/module/Big/payload?checksum=$(md5sum big.bin | cut -c1-32)&ext=bin")"
check "the server restarted over the same store keeps its tags" "calib_v1 INVALID
calib_v2 OPEN" "$("$CAF" db tag list "$url" | awk '{print $1, $2}')"

# --- a read-only server: no token at all ---
stop_server
rm -f port
"$CAF" db serve store --port 0 --port-file port >>serve.log 2>&1 &
server=$!
for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
url="http://127.0.0.1:$(cat port)"
check "without a token every write is refused" 401 "$(code "${auth[@]}" -d '{"name":"x"}' "$url/v2/globalTag/DEV")"
check "the refusal says why" 1 "$(grep -c 'the server takes no writes' serve.log)"
check "--help names serve" 1 "$("$CAF" db serve --help | grep -c '^       caf db serve STORE')"
check "usage error" 2 "$(status "$CAF" db pull "$url")"

[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; cat serve.log; exit 1; }
echo "db_serve: all checks passed"
