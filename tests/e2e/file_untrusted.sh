#!/usr/bin/env bash
# Untrusted event files: the libhdf5 1.10.8 reproducers (crashes, heap overflows, a runaway allocation
# inside HDF5) make every command that reads event files exit 1 with one line naming the file, because
# HDF5 reads them in a child process; the parent stays clean (also under the sanitizers). A named pipe
# is refused at once; a hang ends at the time-out; bad files are never cached; trigger results outside
# -1..1 and an events/exp column that disagrees with events/segments are refused by caf process as by
# caf file dump.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
PY=/usr/bin/python3
export CAF_PLUGIN_PATH="$CAF_BUILD_DIR/plugins"
fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_fail WHAT FILE NEEDLE CMD...: CMD ends (within 60 s) with exit 1 and one stderr line holding
# FILE and NEEDLE, without a sanitizer report or HDF5's error stack
expect_fail() {
    local what=$1 file=$2 needle=$3
    shift 3
    local rc=0
    timeout 60 "$@" > out.txt 2> err.txt || rc=$?
    [ "$rc" -eq 1 ] || { cat err.txt; fail "$what: exit $rc, expected 1"; }
    [ "$(wc -l < err.txt)" -eq 1 ] || { cat err.txt; fail "$what: expected one line"; }
    grep -qF "caf: error: $file" err.txt || { cat err.txt; fail "$what: file not named first"; }
    grep -qF -- "$needle" err.txt || { cat err.txt; fail "$what: '$needle' not in the message"; }
    ! grep -Eq "HDF5-DIAG|Sanitizer|runtime error" err.txt || fail "$what: a report leaked: $(cat err.txt)"
}

printf -- '- module: Prescale\n  params: {prescale: 1}\n' > path.yaml

# 1. The reproducers, with the commands of their README, then file dump, file index and caf process.
for dir in "$CAF_SOURCE_DIR"/tests/data/reproducers/libhdf5-*; do
    name=$(basename "$dir")
    cp "$dir/in.h5" "$name.h5"
    f=$name.h5
    # what HDF5 does with a file differs between builds (a signal, an overflow the sanitizer reports, or
    # garbage that caf's own checks refuse): the message names the file either way
    expect_fail "$name info" "$f" ": " "$CAF" file info "$f"
    expect_fail "$name info --json" "$f" ": " "$CAF" file info "$f" --json
    expect_fail "$name index --json" "$f" ": " "$CAF" file index "$f" --json
    expect_fail "$name dump" "$f" ": " "$CAF" file dump "$f"
    expect_fail "$name process" "$f" ": " "$CAF" -q process path.yaml -i "$f" --seed 1
done
# Without the sanitizers the crashes are plain signals, named as such; the runaway allocation ends at
# the memory limit (under ASan the child's allocator reports instead: exit status, no answer).
if [ "${CAF_SANITIZE:-OFF}" != ON ]; then
    expect_fail "segv signal" libhdf5-H5HG_read-segv.h5 "the HDF5 library crashed (signal 11)" \
        "$CAF" file info libhdf5-H5HG_read-segv.h5
    expect_fail "memory limit" libhdf5-vlen-attr-memory-blowup.h5 "exceeded the memory limit of 1024 MiB" \
        "$CAF" file info libhdf5-vlen-attr-memory-blowup.h5
    expect_fail "memory limit from the environment" libhdf5-vlen-attr-memory-blowup.h5 \
        "exceeded the memory limit of 300 MiB" env CAF_FILE_CHECK_MEMORY=300 "$CAF" file info libhdf5-vlen-attr-memory-blowup.h5
fi
# A hang (here: the runaway allocation with a limit it does not reach in time) ends at the time-out.
expect_fail "time-out" libhdf5-vlen-attr-memory-blowup.h5 "did not answer within 1 s while reading its metadata" \
    env CAF_FILE_CHECK_TIMEOUT=1 CAF_FILE_CHECK_MEMORY=100000 "$CAF" file info libhdf5-vlen-attr-memory-blowup.h5

# 2. Good files next to bad ones: the good ones are shown, every bad one named on its own line.
"$CAF" gen toy toy --seed 3 --experiments 1 --runs 2 --events 300 > /dev/null
good=toy/toy_e0001_r00001_f00.h5
rc=0
"$CAF" file info "$good" libhdf5-H5HG_read-segv.h5 libhdf5-H5Aexists-heap-overflow.h5 > out.txt 2> err.txt || rc=$?
[ "$rc" -eq 1 ] || fail "info with bad files: exit $rc"
grep -q "^$good" out.txt || fail "the good file was not shown: $(cat out.txt)"
[ "$(wc -l < err.txt)" -eq 2 ] && grep -q H5HG_read-segv err.txt && grep -q H5Aexists err.txt ||
    fail "each bad file on its own line expected: $(cat err.txt)"

# 3. The file index: bad files named, good ones indexed, and bad files never cached (read again).
mkdir dir
cp toy/*.h5 libhdf5-H5HG_read-segv.h5 libhdf5-H5HG_read-memcpy-overlap.h5 dir/
for pass in 1 2; do
    rc=0
    "$CAF" file index dir --cache index.sqlite --json > index.json 2> err.txt || rc=$?
    [ "$rc" -eq 1 ] || fail "index pass $pass: exit $rc"
    [ "$(wc -l < err.txt)" -eq 2 ] && grep -q "dir/libhdf5-H5HG_read-segv.h5: the HDF5 library" err.txt &&
        grep -q "dir/libhdf5-H5HG_read-memcpy-overlap.h5: the HDF5 library" err.txt || fail "index pass $pass: $(cat err.txt)"
    $PY - "$pass" <<'PYEOF'
import json, sys
ix = json.load(open("index.json"))
assert len(ix["files"]) == 2, ix["files"]
# pass 1 opens all four; pass 2 takes the two good ones from the cache and reads the bad ones again
want = {"1": (0, 4), "2": (2, 2)}[sys.argv[1]]
got = (ix["stats"]["cache_hits"], ix["stats"]["files_opened"])
assert got == want, (got, want)
PYEOF
done

# 4. A named pipe called x.h5 is refused at once by every command that opens event files.
mkfifo x.h5
expect_fail "fifo info" x.h5 "not a regular file (a named pipe)" "$CAF" file info x.h5
expect_fail "fifo dump" x.h5 "not a regular file (a named pipe)" "$CAF" file dump x.h5
expect_fail "fifo index" x.h5 "not a regular file (a named pipe)" "$CAF" file index x.h5
expect_fail "fifo process" x.h5 "not a regular file (a named pipe)" "$CAF" -q process path.yaml -i x.h5 --seed 1

# 5. Trigger results outside -1..1, and events/exp disagreeing with events/segments: refused by
#    caf process (whose path reads neither) as by caf file dump, naming the file and the dataset.
cp "$good" trigger.h5
cp "$good" exp.h5
$PY - <<'PYEOF'
import h5py
with h5py.File("trigger.h5", "a") as f:
    r = f["events/trigger/result_nonprescaled"]
    v = r[...]
    v[7, 2] = 5
    r[...] = v
with h5py.File("exp.h5", "a") as f:
    e = f["events/exp"]
    v = e[...]
    v[10] = 2
    e[...] = v
PYEOF
for cmd in "file dump" "-q process path.yaml --seed 1 -i"; do
    # shellcheck disable=SC2086
    expect_fail "trigger range ($cmd)" trigger.h5 "'events/trigger/result_nonprescaled' holds 5 at event 7" "$CAF" $cmd trigger.h5
    # shellcheck disable=SC2086
    expect_fail "segments ($cmd)" exp.h5 "'events/segments' says event 10 is of run 1.1, events/exp and events/run say 2.1" \
        "$CAF" $cmd exp.h5
done
"$CAF" -q process path.yaml --seed 1 -i "$good" > /dev/null || fail "a good file was refused"
echo "file_untrusted: OK"
