#!/usr/bin/env bash
# Installs the Debian packages caf needs that are missing (as root, with apt-get), or prints the exact
# package lists for Debian and EL9 and fails. Extra package-list files may be given as arguments
# (the Slurm tests add deps/debian-slurm.txt).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
lists=("$here/deps/debian.txt" "$@")
packages=()
for list in "${lists[@]}"; do
  while read -r line; do
    line=${line%%#*}
    line=$(echo "$line" | xargs)
    [ -n "$line" ] && packages+=("$line")
  done <"$list"
done
missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "caf: installing missing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi
echo "caf: missing packages: ${missing[*]}" >&2
echo "Install them first. On Debian 12:" >&2
echo "  sudo apt-get install $(grep -hv '^#' "${lists[@]}" | sed 's/#.*//' | xargs)" >&2
echo "On EL9 (with EPEL and CRB enabled):" >&2
echo "  sudo dnf install $(grep -v '^#' "$here/deps/el9.txt" | xargs)" >&2
exit 1
