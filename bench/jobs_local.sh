#!/usr/bin/env bash
# 1,000 trivial subjobs through caf's local backend against the same commands through `xargs -P <cores>`,
# measured in the same run, alternating, ROUNDS times; medians are reported. Two baselines: the bare
# command (what a user would type), and xargs running the very wrapper scripts caf generated (bash
# script + the command + mv of the exit-code file), which isolates caf's own scheduling cost.
# usage: bench/jobs_local.sh CAF [N] [ROUNDS]
set -euo pipefail
caf=$(realpath "$1")
n=${2:-1000}
rounds=${3:-3}
cores=$(nproc)
work=$(mktemp -d "${TMPDIR:-/tmp}/caf-bench-jobs.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# the trivial command: write the subjob's number into a file in its folder
/usr/bin/python3 - "$n" > job.json <<'PY'
import json, sys
n = int(sys.argv[1])
print(json.dumps({"name": "bench", "command": "sh", "args": ["-c", "echo \"$1\" > out.txt", "sh"],
                  "split": {"arg_sets": [[str(i)] for i in range(n)]}}))
PY

caf_times=() bare_times=() wrap_times=()
for round in $(seq "$rounds"); do
    rm -rf bench xargs
    t0=$(now)
    "$caf" jobs submit job.json --wait > caf.out
    t1=$(now)
    grep -q "completed ($n subjobs: $n completed" caf.out
    caf_times+=("$(elapsed "$t0" "$t1")")

    mkdir xargs
    t0=$(now)
    seq 0 $((n - 1)) | (cd xargs && xargs -P "$cores" -I{} sh -c 'echo "$1" > "out.$1.txt"' sh {})
    t1=$(now)
    bare_times+=("$(elapsed "$t0" "$t1")")

    find bench/subjobs -name exit_code -delete
    t0=$(now)
    find bench/subjobs -name run.sh -print0 | xargs -0 -P "$cores" -n 1 bash
    t1=$(now)
    [ "$(find bench/subjobs -name exit_code | wc -l)" = "$n" ]
    wrap_times+=("$(elapsed "$t0" "$t1")")
done
caf_s=$(median "${caf_times[@]}")
bare_s=$(median "${bare_times[@]}")
wrap_s=$(median "${wrap_times[@]}")
printf 'jobs_local: %d trivial subjobs, %d cores, median of %d rounds (in %s)\n' "$n" "$cores" "$rounds" "${TMPDIR:-/tmp}"
printf '  caf jobs submit --wait (local)      %7.2f s\n' "$caf_s"
printf '  xargs -P %d, same wrapper scripts    %7.2f s   caf/xargs = %s\n' "$cores" "$wrap_s" "$(ratio "$caf_s" "$wrap_s")"
printf '  xargs -P %d, bare command            %7.2f s   caf/xargs = %s\n' "$cores" "$bare_s" "$(ratio "$caf_s" "$bare_s")"
