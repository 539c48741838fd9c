#!/usr/bin/env bash
# What a killed `caf db add` leaves in a database folder: caf db check reports the stale temporary files,
# the killed commit's intent file and the orphan payload file; the next commit removes them (the orphan
# only because the dead commit's intent file lists it) and keeps a live writer's temporary file and a
# payload file a user put there by hand. Then a real `caf db add` killed while it writes a large payload.
set -euo pipefail
W=$(mktemp -d)
live=
cleanup() { [ -z "$live" ] || kill "$live" 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$W"
printf '{"gain": 1.5}\n' > a.json
printf '{"gain": 2.5}\n' > b.json
"$CAF" db add db --iov 0,0,0,-1 Gain=a.json > /dev/null
"$CAF" db check db > /dev/null || fail "a fresh database has problems"

boot=$(tr -d '-' < /proc/sys/kernel/random/boot_id | cut -c1-8)
start_of() { sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f20; }  # field 22 of /proc/PID/stat
sh -c 'exit 0' & dead=$!
wait "$dead"
sleep 1000 & live=$!
live_start=$(start_of "$live")
# A killed commit: its temporary database.txt, its half-written payload, its intent file listing the
# payload it had already renamed into place (an orphan), all with the dead writer's pid.
orphan="dbstore_Gain_rev_$(md5sum b.json | cut -c1-6).json"
cp b.json "db/$orphan"
echo "dbstore/Gain x 0,0,0,-1" > "db/.database.txt.caf-tmp-$boot-$dead-12345-aB3dE9"
printf 'half' > "db/.$orphan.caf-tmp-$boot-$dead-12345-Zz9Yy8"
printf '%s\n' "$orphan" > "db/.commit-intent.caf-tmp-$boot-$dead-12345-Qq1Ww2"
# A live writer's temporary file, and a payload file put there by hand (no intent lists it).
printf 'writing' > "db/.dbstore_T0_rev_abcdef.json.caf-tmp-$boot-$live-$live_start-Ll5Mm6"
printf '{}' > db/dbstore_Manual_rev_1.json

set +e
"$CAF" db check db > check.txt 2> check.err
rc=$?
set -e
[ "$rc" = 1 ] || { cat check.txt; fail "caf db check exit $rc, not 1"; }
grep -q "\.database\.txt\.caf-tmp-$boot-$dead-.*temporary file left by a writer that has ended" check.txt ||
    { cat check.txt; fail "check does not report the stale database.txt temporary"; }
grep -q "\.commit-intent\.caf-tmp-.*the intent file of a commit left by a writer that has ended" check.txt ||
    { cat check.txt; fail "check does not report the dead commit's intent file"; }
grep -q "$orphan: orphan payload file: no line of .*database.txt references it" check.txt ||
    { cat check.txt; fail "check does not report the orphan payload"; }
grep -q "dbstore_Manual_rev_1.json: orphan payload file" check.txt || fail "check does not report the manual orphan"
grep -q "Ll5Mm6" check.txt && fail "check reports the live writer's temporary file"
[ "$(wc -l < check.txt)" = 5 ] || { cat check.txt; fail "check reported $(wc -l < check.txt) lines, not 5"; }

# The next commit cleans what the dead writer left, and nothing else.
printf '{"gain": 3.5}\n' > c.json
"$CAF" db add db --iov 1,0,1,-1 Gain=c.json > /dev/null
left=$(ls -A db | sort | tr '\n' ' ')
want=$(printf '%s\n' .database.txt.lock ".dbstore_T0_rev_abcdef.json.caf-tmp-$boot-$live-$live_start-Ll5Mm6" \
    database.txt "dbstore_Gain_rev_$(md5sum a.json | cut -c1-6).json" \
    "dbstore_Gain_rev_$(md5sum c.json | cut -c1-6).json" dbstore_Manual_rev_1.json | sort | tr '\n' ' ')
[ "$left" = "$want" ] || fail "after the next commit the folder holds [$left], not [$want]"
"$CAF" db check db > check2.txt 2> check2.err && fail "the manual orphan is still a problem"
[ "$(wc -l < check2.txt)" = 1 ] || { cat check2.txt; fail "after the commit: $(cat check2.txt)"; }
kill "$live"; wait "$live" 2>/dev/null || true; live=
"$CAF" db add db --iov 2,0,2,-1 Gain=c.json > /dev/null  # the live writer has ended: its file goes too
ls -A db | grep -q caf-tmp && fail "the ended writer's temporary file stayed: $(ls -A db)"

# A real caf db add, killed while it writes a large payload (when the kill comes too late, the commit
# completed and there is nothing to clean: the test then checks that only).
head -c 300000000 /dev/zero > big.bin
"$CAF" db add db --iov 3,0,3,-1 Big=big.bin > /dev/null 2>&1 & adder=$!
for _ in $(seq 1 2000); do
    ls -A db | grep -q 'caf-tmp\|commit-intent' && break
    kill -0 "$adder" 2>/dev/null || break
    sleep 0.005
done
kill -9 "$adder" 2>/dev/null || true
wait "$adder" 2>/dev/null || true
echo "after the kill: $(ls -A db | tr '\n' ' ')"
"$CAF" db add db --iov 4,0,4,-1 Gain=a.json > /dev/null
ls -A db | grep -q 'caf-tmp\|commit-intent' && fail "the killed commit's files stayed: $(ls -A db)"
if ! grep -q 'dbstore/Big' db/database.txt; then
    ls db | grep -q '^dbstore_Big' && fail "the killed commit's payload stayed without a line: $(ls -A db)"
fi
echo PASS
