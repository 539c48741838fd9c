#!/usr/bin/env bash
# docs/commands.md is the commands' help texts, unchanged: regenerating it from this caf gives the same
# file (after changing a help text, run scripts/make-command-reference.sh build/bin/caf > docs/commands.md).
# Every command's help has a usage line and its exit codes, and documents every long option it names in
# its usage line.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$CAF_SOURCE_DIR/scripts/make-command-reference.sh" "$CAF" > "$work/commands.md"
diff -u "$CAF_SOURCE_DIR/docs/commands.md" "$work/commands.md" ||
  { echo "FAIL: docs/commands.md is out of date: run scripts/make-command-reference.sh"; exit 1; }
commands=$("$CAF" --help | awk '/^commands:/{c=1;next} c&&/^   [a-z]/{print $1} c&&/^$/{exit}')
[ "$(echo "$commands" | wc -l)" -ge 10 ] || { echo "FAIL: too few commands: $commands"; exit 1; }
for c in $commands; do
  "$CAF" help "$c" > "$work/help"
  "$CAF" "$c" --help | cmp -s - "$work/help" || { echo "FAIL: caf $c --help differs from caf help $c"; exit 1; }
  head -1 "$work/help" | grep -q "^usage: caf $c" || { echo "FAIL: caf help $c has no usage line"; exit 1; }
  grep -q '^Exit codes: 0 ' "$work/help" || { echo "FAIL: caf help $c does not give its exit codes"; exit 1; }
  # long options of the usage lines are explained below them
  for opt in $(awk '/^$/{exit} {print}' "$work/help" | grep -o -- '--[a-z][a-z-]*' | sort -u); do
    [ "$(grep -c -- "$opt" "$work/help")" -ge 2 ] || { echo "FAIL: caf help $c does not explain $opt"; exit 1; }
  done
done
echo "ok: $(echo "$commands" | wc -l) commands"
