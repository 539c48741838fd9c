#!/usr/bin/env bash
# caf file index --filter REGEX (basf2's b2caf-filemap --filter-regex): files whose absolute path matches
# are left out before they are opened (a bad file that matches is never read, so it is no error), the
# count of excluded files is reported, a filter on a symlinked folder's name matches the path as given,
# and a pattern that does not compile is a usage error naming the option.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
PY=/usr/bin/python3

"$CAF" gen toy data --seed 7 --files-per-run 2 > /dev/null
printf 'not hdf5\n' > data/broken.bad.h5
ln -s data link_folder

# 1. drop file f01 of every run and the broken file (matched on its name, never opened)
"$CAF" file index data --filter '_f01\.h5$|\.bad\.' --json > filtered.json
$PY - <<'PYEOF'
import json
ix = json.load(open("filtered.json"))
paths = [f["path"] for f in ix["files"]]
assert len(paths) == 8, paths
assert all(p.endswith("_f00.h5") for p in paths), paths
assert ix["stats"]["excluded"] == 9 and ix["stats"]["files"] == 8, ix["stats"]
assert len(ix["runs"]) == 8 and all(len(r["files"]) == 1 for r in ix["runs"])
PYEOF

# 2. without the filter the broken file is a bad file (exit 1), so the filter above really skipped it
rc=0
"$CAF" file index data > /dev/null 2> err.txt || rc=$?
test "$rc" -eq 1
grep -q "broken.bad.h5" err.txt

# 3. text output says how many were excluded; an absolute-path pattern matches relative operands
"$CAF" file index data --filter "^$work/data/toy_e0002|bad" > text.txt
grep -q "^8 files, 4 runs .*, 9 excluded by --filter$" text.txt
if grep -q "exp 2 run" text.txt; then echo "experiment 2 was not filtered out"; exit 1; fi

# 4. the path as given (symlink not resolved) is what the pattern sees, as in basf2
"$CAF" file index link_folder --filter 'link_folder' --json > link.json
$PY -c '
import json
ix = json.load(open("link.json"))
assert ix["files"] == [] and ix["stats"]["excluded"] == 17, ix["stats"]
'

# 5. bad pattern, and --filter on another subcommand: usage errors (exit 2) naming the option
rc=0
"$CAF" file index data --filter '(' > /dev/null 2> err.txt || rc=$?
test "$rc" -eq 2
head -1 err.txt | grep -q -- "^caf file index: --filter: bad file filter '(': "

rc=0
"$CAF" file info data/toy_e0001_r00001_f00.h5 --filter x > /dev/null 2> err.txt || rc=$?
test "$rc" -eq 2
grep -q -- "--filter applies to 'file index' only" err.txt
echo "file index --filter: OK"
