#!/usr/bin/env bash
# caf jobs with the local backend: a split job runs, its outputs come back, status reports it, and file
# names with spaces, quotes, $, backticks and newlines pass through JOB.json untouched.
set -euo pipefail
work=$(mktemp -d "${TMPDIR:-/tmp}/caf-e2e-jobs-local.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

# --- a job of 5 files, 2 per subjob -> 3 subjobs; each concatenates its inputs into out.txt
for i in 1 2 3 4 5; do echo "line $i" > "in$i.txt"; done
cat > job.json <<'JSON'
{"name": "cat", "command": "sh", "args": ["-c", "cat \"$@\" > out.txt; echo \"$GREETING\" >> out.txt", "sh"],
 "input_files": ["in1.txt", "in2.txt", "in3.txt", "in4.txt", "in5.txt"],
 "env": {"GREETING": "hello $USER"}, "output_patterns": ["out.txt"],
 "split": {"max_files_per_subjob": 2}}
JSON
"$CAF" jobs submit job.json --wait > submit.out
grep -q '^job cat: completed (3 subjobs: 3 completed, 0 failed' submit.out
[ "$(cat cat/output/0/out.txt)" = "$(printf 'line 1\nline 2\nhello $USER')" ]
[ "$(cat cat/output/2/out.txt)" = "$(printf 'line 5\nhello $USER')" ]

"$CAF" jobs status job.json --json > status.json
/usr/bin/python3 - status.json <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["status"] == "completed", s["status"]
assert [j["status"] for j in s["subjobs"]] == ["completed"] * 3
assert all(j["attempt"] == 1 and j["exit_code"] == 0 and j["batch_id"] for j in s["subjobs"])
assert s["subjobs"][1]["input_files"][0].endswith("/in3.txt")
PY
# submitting a completed job again runs nothing
"$CAF" jobs submit job.json --wait > again.out
grep -q 'completed (3 subjobs: 3 completed' again.out
[ "$(/usr/bin/python3 -c 'import json;print(max(j["attempt"] for j in json.load(open("cat/caf-job.json"))["subjobs"]))')" = 1 ]

# --- names that break naive shell scripts, end to end through JOB.json
mkdir "in dir 'q' \$x \`y\`"
/usr/bin/python3 - <<'PY'
import json, os
names = ["with space", "it's", 'dq"uote', "$HOME", "`touch pwned`", "new\nline", "semi;colon&", "star*"]
files = []
for n in names:
    p = os.path.join("in dir 'q' $x `y`", n)
    open(p, "w").write(n)
    files.append(p)
json.dump({"name": "nasty", "command": "sh",
           "args": ["-c", "for f; do cp -- \"$f\" \"got $(printf %s \"$f\" | md5sum | cut -c1-8).out\"; done", "sh"],
           "input_files": files, "working_dir": "work 'dir' $HOME `w`", "output_dir": "out\n$dir",
           "output_patterns": ["got *.out"]}, open("nasty.json", "w"))
PY
"$CAF" jobs submit nasty.json --wait > nasty.out
grep -q 'completed (1 subjobs: 1 completed' nasty.out
/usr/bin/python3 - "$work" <<'PY'
import glob, hashlib, os, sys
work = sys.argv[1]
names = ["with space", "it's", 'dq"uote', "$HOME", "`touch pwned`", "new\nline", "semi;colon&", "star*"]
for n in names:
    path = os.path.join(work, "in dir 'q' $x `y`", n)
    h = hashlib.md5(path.encode()).hexdigest()[:8]
    got = open(os.path.join(work, "out\n$dir", "0", "got %s.out" % h)).read()
    assert got == n, (n, got)
assert not glob.glob(os.path.join(work, "**", "pwned"), recursive=True)
PY

# --- bad input: one clear line, non-zero exit, nothing created
echo '{"name": "bad", "command": }' > bad.json
if "$CAF" jobs submit bad.json 2> bad.err; then exit 1; fi
[ "$(wc -l < bad.err)" = 1 ]
grep -q "bad.json:1:" bad.err
echo '{"name": "bad", "command": "true", "backend": "nosuch"}' > bad2.json
if "$CAF" jobs submit bad2.json 2> bad2.err; then exit 1; fi
grep -q "unknown backend 'nosuch' (known: .*local" bad2.err
set +e
"$CAF" jobs submit 2>/dev/null; [ $? = 2 ] || exit 1
"$CAF" jobs frobnicate job.json 2>/dev/null; [ $? = 2 ] || exit 1
set -e
"$CAF" jobs backends | grep -q '^local '
"$CAF" jobs --help | grep -q 'caf jobs submit JOB.json'
echo "jobs_local: ok"
