#!/usr/bin/env bash
# Issue 12 reproducers of the collector output reader and the local database (tests/data/reproducers/,
# copied from the hardening session), each run with its README command: a one-line error naming the
# file at fault and exit code 1, never a crash or a sanitizer report (the sanitizer build runs this
# too). Also every malformed collector output of the fuzzing corpus (fuzz/corpus/collector_output/
# malformed-*.sqlite), which must be refused naming the file, the table and the row.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
data="$CAF_SOURCE_DIR/tests/data/reproducers"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# expect_error DESCRIPTION PATTERN COMMAND...: exit 1, exactly one line on stderr, matching PATTERN.
expect_error() {
  local what=$1 pattern=$2
  shift 2
  set +e
  "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  set -e
  local lines
  lines=$(wc -l <"$work/err")
  if [ "$rc" -ne 1 ]; then fail "$what: exit $rc, expected 1 ($(head -c 400 "$work/err"))"; return; fi
  if [ "$lines" -ne 1 ]; then fail "$what: $lines lines on stderr, expected 1:"; cat "$work/err"; return; fi
  grep -qE -- "$pattern" "$work/err" || fail "$what: [$(cat "$work/err")] does not match [$pattern]"
}

# Each reproducer in a scratch copy (the inputs stay untouched).
scratch() { rm -rf "$work/$1"; cp -r "$data/$1" "$work/$1"; chmod -R u+w "$work/$1"; cd "$work/$1"; }

scratch caf-collector-null-piece-name
expect_error "merge with a NULL pieces.name" "^caf: error: in\.sqlite: table 'pieces', row 1: name is NULL" \
  "$CAF" collector merge out.sqlite in.sqlite in.sqlite
[ ! -e out.sqlite ] || fail "a failed merge left out.sqlite"

scratch caf-collector-null-object-type
expect_error "inspect with a NULL objects.type" "^caf: error: in\.sqlite: table 'objects', row 3: type is NULL" \
  "$CAF" collector inspect in.sqlite
expect_error "merge with a NULL objects.type" "^caf: error: in\.sqlite: table 'objects', row 3: type is NULL" \
  "$CAF" collector merge out.sqlite in.sqlite

scratch caf-collector-counter-overflow
expect_error "merge overflowing a counter" \
  "^caf: error: in\.sqlite: object 'events': table 'pieces', row 3: counter 'events': count .* overflows 64 bits$" \
  "$CAF" collector merge out.sqlite in.sqlite in.sqlite
[ ! -e out.sqlite ] || fail "a failed merge left out.sqlite"

scratch quiet-db-any-prefix
pattern="^caf: error: db/database\.txt:1: payload 'whatever/Gain' must be written as dbstore/NAME$"
expect_error "db list, prefix other than dbstore/" "$pattern" "$CAF" db list db
expect_error "db query, prefix other than dbstore/" "$pattern" "$CAF" db query db Gain 0 1
set +e
"$CAF" db check db >"$work/out" 2>"$work/err"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "db check: exit $rc, expected 1"
grep -qE "db/database\.txt:1: payload 'whatever/Gain' must be written as dbstore/NAME" "$work/out" "$work/err" ||
  fail "db check does not name db/database.txt:1 ($(cat "$work/out" "$work/err"))"

# The fuzzing corpus's malformed collector outputs.
cd "$work"
for f in "$CAF_SOURCE_DIR"/fuzz/corpus/collector_output/malformed-*.sqlite; do
  name=$(basename "$f")
  cp "$f" "$work/$name"
  expect_error "merge $name" "^caf: error: $name: (object '[a-z0-9]+': )?table '(pieces|objects|runs)', row [0-9]+: " \
    "$CAF" collector merge "out-$name" "$name" "$name"
done

[ "$fails" -eq 0 ] || exit 1
echo "reproducers_collector_db: ok"
