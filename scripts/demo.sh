#!/usr/bin/env bash
# make demo: shows what caf can do so far, end to end, with the command just built.
set -euo pipefail
build=${1:-build}
caf="$build/bin/caf"
"$caf" --version
