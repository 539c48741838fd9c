#!/usr/bin/env bash
# caf db fill-gaps (basf2's b2cal-fill-gaps-local): a dry run writes nothing; a run extends, per payload
# name, the IoV reaching furthest before each gap up to the next payload (across experiments too) and,
# with --open-last, opens the furthest IoV; comments and untouched lines stay byte for byte; on random
# databases every run keeps the payload last-line-wins gave it before, and no run between a name's first
# and last payload is left uncovered. Bad databases fail with the file and line, untouched.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
PY=/usr/bin/python3

# 1. a database caf wrote, plus a comment line and a commented entry
printf '{"gain": 1}\n' > g1.json
printf '{"gain": 2}\n' > g2.json
printf '{"gain": 3}\n' > g3.json
printf '{"t0": 0}\n' > t0.json
"$CAF" db add db --iov 1,0,1,10 Gain=g1.json > /dev/null
"$CAF" db add db --iov 1,20,1,30 Gain=g2.json > /dev/null
"$CAF" db add db --iov 3,5,3,-1 Gain=g3.json T0=t0.json > /dev/null
printf '# reviewed by hand\n' >> db/database.txt
r1=$(md5sum g1.json | cut -c1-6); r2=$(md5sum g2.json | cut -c1-6)
r3=$(md5sum g3.json | cut -c1-6); rt=$(md5sum t0.json | cut -c1-6)
cp db/database.txt before.txt

"$CAF" db fill-gaps db --dry-run > dry.txt
cmp db/database.txt before.txt
grep -q "^would change Gain rev $r1 (line 1): 1,0,1,10 -> 1,0,1,19 (gap)$" dry.txt
grep -q "^would change Gain rev $r2 (line 2): 1,20,1,30 -> 1,20,3,4 (gap)$" dry.txt
grep -q "^2 lines would change (dry run)$" dry.txt

"$CAF" db fill-gaps db --open-last --json > changes.json
$PY - "$r1" "$r2" "$r3" "$rt" <<'PYEOF'
import json, sys
r1, r2, r3, rt = sys.argv[1:]
got = json.load(open("changes.json"))
assert got["written"] is True, got
assert [(c["line"], c["reason"], c["after"]) for c in got["changes"]] == [
    (1, "gap", [1, 0, 1, 19]), (2, "gap", [1, 20, 3, 4]), (3, "open-last", [3, 5, -1, -1]),
    (4, "open-last", [3, 5, -1, -1])], got
want = f"""dbstore/Gain {r1} 1,0,1,19
dbstore/Gain {r2} 1,20,3,4
dbstore/Gain {r3} 3,5,-1,-1
dbstore/T0 {rt} 3,5,-1,-1
# reviewed by hand
"""
assert open("db/database.txt").read() == want, open("db/database.txt").read()
PYEOF
"$CAF" db check db > /dev/null
test "$("$CAF" db query db Gain 2 7 --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["revision"])')" = "$r2"
# nothing left to do: a second run changes nothing and leaves the file alone
cp db/database.txt after.txt
"$CAF" db fill-gaps db --open-last | grep -q "^0 lines changed$"
cmp db/database.txt after.txt

# 2. random databases: compare with last-line-wins computed here, before and after
$PY - "$CAF" <<'PYEOF'
import os, random, subprocess, sys
caf = sys.argv[1]
R = 2**31
def lo(iov):
    e, r = iov[0], iov[1]
    return 0 if e < 0 else e * R + max(r, 0)
def hi(iov):
    e, r = iov[2], iov[3]
    return 2**62 if e < 0 else e * R + (R - 1 if r < 0 else r)
def lines(path):
    out = []
    for n, text in enumerate(open(path), 1):
        text = text.split("#")[0].split()
        if text:
            out.append((text[0][len("dbstore/"):], text[1], [int(x) for x in text[2].split(",")], n))
    return out
def answer(db, name, key):
    win = None
    for (nm, rev, iov, n) in db:
        if nm == name and lo(iov) <= key <= hi(iov):
            win = (rev, n)
    return win
probe = [e * R + r for e in range(6) for r in list(range(0, 25)) + [R - 1]] + [7 * R + 3]
rng = random.Random(11)
for trial in range(60):
    d = f"rand{trial}"
    os.makedirs(d)
    text = []
    for i in range(rng.randint(1, 9)):
        name = rng.choice(["A", "B", "C"])
        e1 = rng.randint(0, 4); r1 = rng.randint(0, 20)
        if rng.random() < 0.15:
            iov = [e1, r1, -1, -1]
        else:
            e2 = rng.randint(e1, min(e1 + 1, 5)); r2 = rng.choice([-1, rng.randint(0, 22)])
            if e2 == e1 and r2 != -1 and r2 < r1:
                r2 = r1
            iov = [e1, r1, e2, r2]
        rev = str(i + 1)
        open(f"{d}/dbstore_{name}_rev_{rev}.json", "w").write("{}\n")
        text.append(f"dbstore/{name} {rev} {','.join(map(str, iov))}\n")
    open(f"{d}/database.txt", "w").write("".join(text))
    open_last = trial % 2 == 1
    before = lines(f"{d}/database.txt")
    subprocess.run([caf, "db", "fill-gaps", d] + (["--open-last"] if open_last else []), check=True,
                   stdout=subprocess.DEVNULL)
    after = lines(f"{d}/database.txt")
    subprocess.run([caf, "db", "check", d], check=True, stdout=subprocess.DEVNULL)
    for name in "ABC":
        mine = [l for l in before if l[0] == name]
        if not mine:
            continue
        first = min(lo(l[2]) for l in mine)
        last_start = max(lo(l[2]) for l in mine)
        for key in probe:
            was, now = answer(before, name, key), answer(after, name, key)
            if was is not None:
                assert was == now, (d, name, key, was, now)
            elif first <= key <= last_start or (open_last and key >= first):
                assert now is not None, (d, name, key, "left uncovered")
            else:
                assert now is None, (d, name, key, "covered outside the span", now)
print("random databases: OK")
PYEOF

# 3. bad input: no database, a malformed line (named, file untouched), usage errors
rc=0; "$CAF" db fill-gaps nowhere 2> err.txt || rc=$?
test "$rc" -eq 1; grep -q "nowhere: not a database" err.txt
cp -r db bad; printf 'dbstore/Gain abc 1,2\n' >> bad/database.txt; cp bad/database.txt bad_before.txt
rc=0; "$CAF" db fill-gaps bad 2> err.txt || rc=$?
test "$rc" -eq 1; grep -q "bad/database.txt:6: " err.txt; cmp bad/database.txt bad_before.txt
rc=0; "$CAF" db fill-gaps 2> /dev/null || rc=$?; test "$rc" -eq 2
echo "db fill-gaps: OK"
