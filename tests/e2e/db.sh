#!/usr/bin/env bash
# caf db end to end: a database caf writes, a hand-written basf2-style one, exit codes and messages.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fails=0
check() { # check DESCRIPTION EXPECTED ACTUAL
  if [ "$2" != "$3" ]; then echo "FAIL: $1: expected [$2], got [$3]"; fails=$((fails + 1)); fi
}
status() { set +e; "$@" >/dev/null 2>&1; local rc=$?; set -e; echo $rc; }

# --- a database written by caf ---
printf '{"gain": 1.5}\n' >gain-v1.json
printf '{"gain": 1.7}\n' >gain-v2.json
printf 't0\n' >"t0 with space.bin"
"$CAF" db add out --iov 0,0,0,-1 Gain=gain-v1.json "T0=t0 with space.bin" >/dev/null
"$CAF" db add out --iov 1,0,1,10 Gain=gain-v2.json >/dev/null
"$CAF" db add out --iov 2,0,2,5 Gain=gain-v1.json >/dev/null
md5_v1=$(md5sum gain-v1.json | cut -c1-6)
md5_v2=$(md5sum gain-v2.json | cut -c1-6)
check "database.txt lines" "dbstore/Gain $md5_v1 0,0,0,-1
dbstore/T0 $(md5sum "t0 with space.bin" | cut -c1-6) 0,0,0,-1
dbstore/Gain $md5_v2 1,0,1,10
dbstore/Gain $md5_v1 2,0,2,5" "$(cat out/database.txt)"
check "identical content stored once" 1 "$(ls out | grep -c "^dbstore_Gain_rev_$md5_v1\.json$")"
check "payload bytes" "$(cat gain-v2.json)" "$(cat "out/dbstore_Gain_rev_$md5_v2.json")"

check "list --json" "[{\"name\":\"Gain\",\"revision\":\"$md5_v2\",\"iov\":[1,0,1,10],\"line\":3}]" \
  "$("$CAF" db list out --name Gain --json | /usr/bin/python3 -c 'import json,sys; print(json.dumps([e for e in json.load(sys.stdin) if e["line"]==3], separators=(",",":")))')"
check "query --json" "{\"name\": \"Gain\", \"revision\": \"$md5_v2\", \"iov\": [1, 0, 1, 10], \"database\": \"out\", \"file\": \"out/dbstore_Gain_rev_$md5_v2.json\"}" \
  "$("$CAF" db query out Gain 1 7 --json | /usr/bin/python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)))')"
check "query with nothing applying exits 1" 1 "$(status "$CAF" db query out Gain 1 11)"
check "query message" "caf: error: no payload 'Gain' applies to run 1,11 in out" "$("$CAF" db query out Gain 1 11 2>&1 || true)"
check "gaps (issue example)" "[[1,11,1,20]]" "$("$CAF" db gaps out Gain --span 0,0,1,20 --json)"
check "gaps text, to the end of an experiment" "1,11,1,-1
2,6,2,-1" "$("$CAF" db gaps out Gain --span 0,0,2,-1)"
check "gaps none" "[]" "$("$CAF" db gaps out Gain --span 0,3,0,99 --json)"
check "check ok" 0 "$(status "$CAF" db check out)"

# --- a hand-written basf2 database with integer revisions, comments and blank lines ---
mkdir basf2
cat >basf2/database.txt <<'TXT'
# written by hand, basf2 style
dbstore/Gain 1 0,0,-1,-1

dbstore/Gain 2 1,5,1,8   # override
TXT
echo one >basf2/dbstore_Gain_rev_1.root
echo two >basf2/dbstore_Gain_rev_2.root
check "basf2 list" "Gain 1 0,0,-1,-1
Gain 2 1,5,1,8" "$("$CAF" db list basf2 | awk '{print $1, $2, $3}')"
check "basf2 query last line wins" "2" "$("$CAF" db query basf2 Gain 1 6 --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["revision"])')"
check "basf2 query earlier line" "1" "$("$CAF" db query basf2 Gain 1 9 --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["revision"])')"
check "basf2 check (integer revisions are not hashes)" 0 "$(status "$CAF" db check basf2)"

# --- chains: the first database with a match wins ---
check "chain first" "$md5_v2" "$("$CAF" db query out basf2 Gain 1 6 --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["revision"])')"
check "chain falls through" "1" "$("$CAF" db query out basf2 Gain 1 11 --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["revision"])')"
check "chain database field" "basf2" "$("$CAF" db query out basf2 Gain 1 11 --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["database"])')"

# --- merge: later databases override earlier ones where they overlap ---
"$CAF" db merge merged basf2 out >/dev/null
check "merged override" "$(cat "out/dbstore_Gain_rev_$md5_v2.json")" "$(cat "$("$CAF" db query merged Gain 1 6 --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["file"])')")"
check "merged keeps the rest" "one" "$(cat "$("$CAF" db query merged Gain 3 1 --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["file"])')")"
check "merged revisions are content hashes" 0 "$(status "$CAF" db check merged)"
check "merge of a missing database exits 1 and writes nothing" "1 no" \
  "$(status "$CAF" db merge merged2 basf2 nowhere) $([ -e merged2 ] && echo yes || echo no)"

# --- bad input ---
cp -r basf2 broken
echo "dbstore/Gain 3" >>broken/database.txt
check "malformed line exit" 1 "$(status "$CAF" db list broken)"
check "malformed line message" "caf: error: broken/database.txt:5: expected 'dbstore/NAME REVISION e1,r1,e2,r2', found 2 fields" \
  "$("$CAF" db list broken 2>&1 || true)"
rm basf2/dbstore_Gain_rev_2.root
check "missing payload file: query exits 1" 1 "$(status "$CAF" db query basf2 Gain 1 6)"
check "missing payload file: check names it" "basf2/database.txt:4: basf2: payload file dbstore_Gain_rev_2.* is missing" \
  "$("$CAF" db check basf2 2>/dev/null || true)"
echo tampered >"out/dbstore_Gain_rev_$md5_v2.json"
check "tampered payload: check exits 1" 1 "$(status "$CAF" db check out)"
check "unknown option exits 2" 2 "$(status "$CAF" db list out --bogus)"
check "unknown option message" "caf db list: unknown option '--bogus'" "$("$CAF" db list out --bogus 2>&1 | head -1)"
check "bad IoV exits 2" 2 "$(status "$CAF" db gaps out Gain --span 1,0,0,0)"
check "bad IoV message names it" 1 "$("$CAF" db gaps out Gain --span 1,0,0,0 2>&1 | grep -c '1,0,0,0')"
check "missing --span exits 2" 2 "$(status "$CAF" db gaps out Gain)"
check "bad run exits 2" 2 "$(status "$CAF" db query out Gain one 1)"
check "unknown subcommand exits 2" 2 "$(status "$CAF" db frobnicate)"
check "not a database exits 1" 1 "$(status "$CAF" db list nowhere)"
check "bad payload name exits 1, nothing written" "1 4" \
  "$(status "$CAF" db add out --iov 0,0,0,0 "Gain=gain-v1.json" "a/b=gain-v1.json") $(wc -l <out/database.txt | tr -d ' ')"
check "add with empty IoV refused" 1 "$(status "$CAF" db add out --iov -1,-1,-1,-1 Gain=gain-v1.json)"

# --- help and exit codes of the command itself ---
check "caf --version" 0 "$(status "$CAF" --version)"
check "caf help db" 0 "$(status "$CAF" help db)"
check "caf db --help mentions query" 1 "$("$CAF" db --help | grep -c '^       caf db query')"
check "caf db list --help" 0 "$(status "$CAF" db list --help)"
check "caf help nope" 2 "$(status "$CAF" help nope)"
check "caf nope" 2 "$(status "$CAF" nope)"
check "caf alone" 2 "$(status "$CAF")"

[ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all caf db checks passed"
