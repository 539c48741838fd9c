#!/usr/bin/env bash
# Slurm: 1,000 trivial subjobs through `caf jobs submit --backend slurm --wait` on the loopback
# cluster (tests/support/slurm_cluster.sh, started and stopped here; needs root). Reports how many
# sbatch/squeue/sacct calls caf made (counted by pass-through shims in front of the real commands) and
# the wall time, against a baseline in the same run: the same commands as one hand-written
# `sbatch --array` polled with squeue at the same interval.
# usage: bench/jobs_slurm.sh CAF [N] [MAX_RUNNING]
set -euo pipefail
caf=$(realpath "$1")
n=${2:-1000}
throttle=${3:-200}
here=$(cd "$(dirname "$0")" && pwd)
if [[ $(id -u) != 0 ]]; then
  echo "jobs_slurm: skipped (the loopback Slurm needs root)"
  exit 0
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/caf-bench-slurm.XXXXXX")
trap 'bash "$here/../tests/support/slurm_cluster.sh" stop "$work/cluster" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
eval "$(bash "$here/../tests/support/slurm_cluster.sh" start "$work/cluster")"
export SLURM_CONF
cd "$work"
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# Pass-through shims that count calls (argv forwarded untouched).
mkdir shims
for tool in sbatch squeue sacct; do
  real=$(command -v "$tool")
  printf '#!/bin/sh\necho x >> %q\nexec %q "$@"\n' "$work/calls.$tool" "$real" >"shims/$tool"
  chmod +x "shims/$tool"
done

/usr/bin/python3 - "$n" "$throttle" > job.json <<'PY'
import json, sys
n, throttle = int(sys.argv[1]), int(sys.argv[2])
print(json.dumps({"name": "bench", "command": "sh", "args": ["-c", "echo \"$1\" > out.txt", "sh"],
                  "split": {"arg_sets": [[str(i)] for i in range(n)]},
                  "backend_settings": {"poll_interval_s": 1, "max_running": throttle}}))
PY

t0=$(now)
PATH="$work/shims:$PATH" "$caf" jobs submit job.json --backend slurm --wait >caf.log 2>&1 || { cat caf.log; exit 1; }
t1=$(now)
done_count=$(find bench/subjobs -name exit_code | wc -l)
calls() { [[ -f calls.$1 ]] && wc -l <"calls.$1" || echo 0; }

# Baseline: one hand-written array of the same command, polled with squeue every second.
mkdir base
t2=$(now)
id=$(sbatch --parsable --array="0-$((n - 1))%$throttle" --chdir="$work/base" --output=/dev/null \
  --wrap 'mkdir -p "$SLURM_ARRAY_TASK_ID" && echo "$SLURM_ARRAY_TASK_ID" > "$SLURM_ARRAY_TASK_ID/out.txt"')
while [[ -n $(squeue --noheader --array --jobs="$id" --states=pending,running,configuring,completing -o %i) ]]; do
  sleep 1
done
t3=$(now)

caf_s=$(elapsed "$t0" "$t1")
base_s=$(elapsed "$t2" "$t3")
echo "jobs_slurm: $n subjobs (throttle %$throttle, poll 1 s): caf $caf_s s with $(calls sbatch) sbatch," \
  "$(calls squeue) squeue, $(calls sacct) sacct calls ($done_count exit-code files);" \
  "hand-written sbatch --array $base_s s; ratio $(awk -v a="$caf_s" -v b="$base_s" 'BEGIN { printf "%.2f", a / b }')"
