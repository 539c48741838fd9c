#!/usr/bin/env bash
# caf db diff A B [NAME...] [--json] over databases written by caf db add and caf db merge: identical
# databases are the same; lines written differently that answer every run alike are the same; the last
# matching line wins; stretches where only one database has a payload; JSON payloads compared value by
# value (arrays by index, keys only one side has, relative change, zero as reference); other payloads by
# their bytes; a NAME filter; bad input (a missing database, a name in neither, usage).
set -euo pipefail
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
PY=/usr/bin/python3
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$W"

echo '{"gains": [1.0, 2.0, 3.0], "source": "fit"}' > gains1.json
echo '{"gains": [1.0, 2.2, 3.0], "source": "fit", "offset": 0.0}' > gains2.json
echo '{"zero": 0, "t0": 5.0}' > time1.json
echo '{"zero": 1.5, "t0": 5.0}' > time2.json
printf 'binary-1' > blob1.bin
printf 'binary-2' > blob2.bin
echo '{"same": true}' > tail.json
add() { "$CAF" db add "$@" >/dev/null || fail "caf db add $*"; }

# A
add A --iov 1,0,1,-1 Gains=gains1.json Time=time1.json
add A --iov 2,0,2,-1 Status=tail.json
add A --iov 3,0,3,10 Tail=tail.json
add A --iov 3,11,3,20 Tail=tail.json
add A --iov 4,0,4,-1 Blob=blob1.bin
# B: Gains changes from run 1.6 on; Time is the same but overridden at 1.3 by a later line; no Status;
# Tail as one line; Blob other bytes
add B --iov 1,0,1,5 Gains=gains1.json
add B --iov 1,6,1,-1 Gains=gains2.json
add B --iov 1,0,1,-1 Time=time1.json
add B --iov 1,3,1,3 Time=time2.json
add B --iov 3,0,3,20 Tail=tail.json
add B --iov 4,0,4,-1 Blob=blob2.bin
"$CAF" db merge C A >/dev/null || fail "caf db merge"

# identical databases
"$CAF" db diff A C --json > same.json || fail "caf db diff A C"
$PY - same.json <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["differ"] is False, d
assert [n["name"] for n in d["names"]] == ["Blob", "Gains", "Status", "Tail", "Time"], d
assert all(n["differences"] == [] and n["differ"] is False for n in d["names"]), d
PYEOF
"$CAF" db diff A C | grep -q "^Gains: same$" || fail "text: same"

"$CAF" db diff A B --json > ab.json || fail "caf db diff A B"
$PY - ab.json <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["differ"] is True, d
names = {n["name"]: n for n in d["names"]}
gains = names["Gains"]["differences"]
assert len(gains) == 1 and gains[0]["iov"] == [1, 6, 1, -1], gains
assert gains[0]["a"]["iov"] == [1, 0, 1, -1] and gains[0]["b"]["iov"] == [1, 6, 1, -1], gains
values = {v["key"]: v for v in gains[0]["values"]}
assert set(values) == {"gains[1]", "offset"}, values
assert values["gains[1]"]["a"] == 2.0 and values["gains[1]"]["b"] == 2.2, values
assert abs(values["gains[1]"]["relative"] - 0.1) < 1e-12, values
assert values["offset"]["a"] is None and values["offset"]["b"] == 0.0 and values["offset"]["relative"] is None, values
# the later line of B wins at run 1.3 only; zero as the reference has no relative change
time = names["Time"]["differences"]
assert [t["iov"] for t in time] == [[1, 3, 1, 3]], time
zero = {v["key"]: v for v in time[0]["values"]}
assert set(zero) == {"zero"} and zero["zero"]["relative"] is None, zero
# only A has Status
status = names["Status"]["differences"]
assert len(status) == 1 and status[0]["iov"] == [2, 0, 2, -1] and status[0]["b"] is None, status
assert status[0]["a"]["revision"], status
# two lines against one with the same payload: the same answers
assert names["Tail"]["differ"] is False, names["Tail"]
# other bytes, no values for a payload that is no JSON
blob = names["Blob"]["differences"]
assert len(blob) == 1 and blob[0]["iov"] == [4, 0, 4, -1] and "values" not in blob[0], blob
PYEOF
"$CAF" db diff A B > ab.txt || fail "caf db diff (text)"
grep -q "^Gains: differs on 1 stretch of runs$" ab.txt || { cat ab.txt; fail "text: Gains"; }
grep -q "^  runs 1,6,1,-1: A rev [0-9a-f]* (line 1, IoV 1,0,1,-1), B rev [0-9a-f]* (line 2, IoV 1,6,1,-1)$" ab.txt ||
    { cat ab.txt; fail "text: the stretch"; }
grep -q "^    gains\[1\]: 2.0 -> 2.2 (+10%)$" ab.txt || { cat ab.txt; fail "text: a value"; }
grep -q "^  runs 2,0,2,-1: A rev .*, B has none$" ab.txt || { cat ab.txt; fail "text: only in A"; }
grep -q "^Tail: same$" ab.txt || { cat ab.txt; fail "text: Tail"; }

# B against A: the sides swap
"$CAF" db diff B A Status --json > ba.json
$PY - ba.json <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert [n["name"] for n in d["names"]] == ["Status"], d
s = d["names"][0]["differences"][0]
assert s["a"] is None and s["b"]["iov"] == [2, 0, 2, -1], s
PYEOF

# bad input
rc=0; "$CAF" db diff A 2>err.txt || rc=$?
[ "$rc" = 2 ] && grep -q "expects A B" err.txt || fail "one database: exit $rc"
rc=0; "$CAF" db diff A missing 2>err.txt || rc=$?
[ "$rc" = 1 ] && grep -q "missing" err.txt || { cat err.txt; fail "a missing database: exit $rc"; }
rc=0; "$CAF" db diff A B Nothing 2>err.txt || rc=$?
[ "$rc" = 1 ] && grep -q "no payload Nothing in A or B" err.txt || { cat err.txt; fail "a name in neither: exit $rc"; }
rc=0; "$CAF" db diff A B ../x 2>err.txt || rc=$?
[ "$rc" = 2 ] || { cat err.txt; fail "a bad name: exit $rc"; }
echo "PASS"
