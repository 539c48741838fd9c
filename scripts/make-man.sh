#!/usr/bin/env bash
# Writes the man page of one caf command from its own help text, so that `man caf-db` and `caf help db`
# can never disagree. Usage: make-man.sh CAF COMMAND OUT (COMMAND "caf" gives the overview page caf.1).
set -euo pipefail
caf=$1 command=$2 out=$3
if [ "$command" = caf ]; then
  text=$("$caf" --help)
  title=CAF
  name="caf \\- calibration framework for run-based experiments"
else
  text=$("$caf" help "$command")
  title="CAF-$(echo "$command" | tr '[:lower:]' '[:upper:]')"
  summary=$("$caf" --help | awk -v c="$command" '$1 == c { $1 = ""; sub(/^ +/, ""); print; exit }')
  name="caf-$command \\- ${summary:-caf $command}"
fi
version=$("$caf" --version | cut -d' ' -f2)
{
  printf '.TH %s 1 "" "caf %s" "caf manual"\n' "$title" "$version"
  printf '.SH NAME\n%s\n' "$name"
  printf '.SH DESCRIPTION\n.nf\n'
  # Escape what roff would interpret: backslashes, and a leading dot or quote on a line.
  printf '%s\n' "$text" | sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"
  printf '.fi\n.SH SEE ALSO\ncaf(1), the documents in docs/ of the caf sources\n'
} >"$out.tmp"
mv "$out.tmp" "$out"
