#!/usr/bin/env bash
# Builds the fuzzing harnesses with clang's libFuzzer + ASan + UBSan in their own build folder and runs
# each for a bounded time (make fuzz). Usage: scripts/fuzz.sh [BUILD_DIR] [HARNESS...]
#   FUZZ_SECONDS  time per harness (default 60)
#   FUZZ_JOBS     build parallelism (default 2)
# Each harness starts from its seed corpus fuzz/corpus/<format>/ (read only) and keeps what it finds
# interesting in BUILD_DIR/fuzz-corpus/<format>/; a crashing input is written to
# BUILD_DIR/fuzz-artifacts/<format>/ and the script fails. New inputs are never copied into the
# repository automatically: see "Fuzzing" in docs/ARCHITECTURE.md for merging them.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build-fuzz}
shift || true
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-2}
if ! command -v clang >/dev/null 2>&1; then
  echo "caf: make fuzz needs clang and libFuzzer (Debian: clang libclang-rt-14-dev; EL9: clang compiler-rt)" >&2
  exit 1
fi
CC=clang cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCAF_FUZZ=ON -DCAF_BUILD_TESTS=OFF \
  -DCAF_WERROR=OFF   >/dev/null
cmake --build "$build" --target fuzz_harnesses -j "$jobs"
if [ $# -gt 0 ]; then
  harnesses=("$@")
else
  harnesses=()
  for src in "$here"/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    harnesses+=("${name#fuzz_}")
  done
fi
# Harnesses write their inputs to files (and the collector output merge fsyncs): memory-backed is faster.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  export TMPDIR=/dev/shm
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for format in "${harnesses[@]}"; do
  corpus="$build/fuzz-corpus/$format"
  artifacts="$build/fuzz-artifacts/$format"
  mkdir -p "$corpus" "$artifacts"
  echo "== fuzz_$format for ${seconds}s (corpus $corpus + fuzz/corpus/$format)"
  if ! "$build/fuzz/fuzz_$format" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "$here/fuzz/corpus/$format" \
      >"$build/fuzz-$format.log" 2>&1; then
    failed+=("$format")
    tail -n 60 "$build/fuzz-$format.log" >&2
    echo "caf: fuzz_$format found a fault; the input is in $artifacts/ (log: $build/fuzz-$format.log)" >&2
  else
    grep -E '^stat::(number_of_executed_units|new_units_added)' "$build/fuzz-$format.log" || true
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "caf: faults found by: ${failed[*]}" >&2
  exit 1
fi
