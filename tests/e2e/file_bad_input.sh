#!/usr/bin/env bash
# Bad event files: not HDF5, truncated, missing metadata, a missing column. `caf file info`, `file dump`
# and `file index` each fail with exit 1 and exactly one line naming the file (and the missing thing),
# and without HDF5's own error-stack dump.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
PY=/usr/bin/python3

"$CAF" gen toy toy --seed 3 --experiments 1 --runs 1 --events 300 > /dev/null
good=toy/toy_e0001_r00001_f00.h5
"$CAF" file info "$good" > /dev/null

echo "just text" > text.h5
head -c "$(( $(stat -c %s "$good") / 2 ))" "$good" > truncated.h5
cp "$good" no_meta.h5
cp "$good" no_column.h5
cp "$good" no_creator.h5
$PY - <<'PYEOF'
import h5py
with h5py.File("no_meta.h5", "a") as f:
    del f["meta/run_events"]
with h5py.File("no_column.h5", "a") as f:
    del f["events/arrays/hits/offsets"]
with h5py.File("no_creator.h5", "a") as f:
    del f["meta"].attrs["creator"]
PYEOF

# expect_fail WHAT FILE NEEDLE CMD...: CMD fails with exit 1 and one stderr line holding FILE and NEEDLE
expect_fail() {
  local what=$1 file=$2 needle=$3
  shift 3
  local rc=0
  "$@" > out.txt 2> err.txt || rc=$?
  if [ "$rc" -ne 1 ]; then echo "$what: exit $rc, expected 1"; cat err.txt; exit 1; fi
  if [ "$(wc -l < err.txt)" -ne 1 ]; then echo "$what: expected one line:"; cat err.txt; exit 1; fi
  grep -qF "$file" err.txt || { echo "$what: file not named:"; cat err.txt; exit 1; }
  grep -qF "$needle" err.txt || { echo "$what: '$needle' not in:"; cat err.txt; exit 1; }
  if grep -q HDF5-DIAG err.txt; then echo "$what: HDF5 error stack leaked"; exit 1; fi
}

expect_fail "info text" text.h5 "not an HDF5 file" "$CAF" file info text.h5
expect_fail "info truncated" truncated.h5 "truncated" "$CAF" file info truncated.h5
expect_fail "info no meta dataset" no_meta.h5 "missing dataset 'run_events'" "$CAF" file info no_meta.h5
expect_fail "info no creator" no_creator.h5 "attribute 'creator'" "$CAF" file info no_creator.h5
# info reads metadata only; the missing column shows when events are read
"$CAF" file info no_column.h5 > /dev/null
expect_fail "dump no column" no_column.h5 "missing column 'events/arrays/hits/offsets'" "$CAF" file dump no_column.h5
expect_fail "dump truncated" truncated.h5 "truncated" "$CAF" file dump truncated.h5
expect_fail "info missing" nowhere.h5 "No such file" "$CAF" file info nowhere.h5
mkdir dir && cp "$good" dir/ && cp text.h5 dir/
expect_fail "index" text.h5 "not an HDF5 file" "$CAF" file index dir --cache index.sqlite

# usage errors exit 2
expect_usage() {
  local rc=0
  "$@" > /dev/null 2> err.txt || rc=$?
  if [ "$rc" -ne 2 ]; then echo "usage error expected from: $*, got exit $rc"; cat err.txt; exit 1; fi
}
expect_usage "$CAF" file
expect_usage "$CAF" file frobnicate x.h5
expect_usage "$CAF" file info
expect_usage "$CAF" file info --cache c.sqlite "$good"
expect_usage "$CAF" file dump "$good" "$good"
expect_usage "$CAF" gen
expect_usage "$CAF" gen toy
expect_usage "$CAF" gen toy out --seed -3
expect_usage "$CAF" gen toy out --events zero
"$CAF" file --help | grep -q 'caf file info'
"$CAF" gen toy --help | grep -q 'truth.json'
echo ok
