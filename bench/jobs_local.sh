#!/usr/bin/env bash
# One graph, N trivial jobs (each writes its number into a file) and one merge (concatenates the N files),
# run three ways in the same run, alternating, ROUNDS times (medians reported):
#   floor      `xargs -P <cores>` running the bare commands, then the merge command (what a user would type)
#   caf        `caf jobs submit --wait` with the local backend: a job of N subjobs, then a job of one subjob
#              over their outputs (a folder, lock, stdout/stderr and an exit-code file per subjob)
#   snakemake  a Snakefile of the same two rules, `snakemake --cores <cores>`, when snakemake is installed
#              (Debian package snakemake); skipped with a message otherwise
# Each time is printed with its ratio to the floor and, for caf, the target (caf/floor <= 1.5).
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
snakemake=$(command -v snakemake || true)

# the trivial command and the merge, the same text for all three
/usr/bin/python3 - "$n" <<'PY'
import json, sys
n = int(sys.argv[1])
json.dump({"name": "work", "command": "sh", "args": ["-c", "echo \"$1\" > out.txt", "sh"],
           "split": {"arg_sets": [[str(i)] for i in range(n)]}}, open("work.json", "w"))
json.dump({"name": "merge", "command": "sh", "args": ["-c", "cat \"$@\" > merged.txt", "sh"],
           "input_files": ["work/subjobs/%d/out.txt" % i for i in range(n)]}, open("merge.json", "w"))
with open("Snakefile", "w") as f:
    f.write(f"""rule all:
    input: "merged.txt"
rule work:
    output: "out/{{i}}.txt"
    shell: "echo {{wildcards.i}} > {{output}}"
rule merge:
    input: expand("out/{{i}}.txt", i=range({n}))
    output: "merged.txt"
    shell: "cat {{input}} > {{output}}"
""")
PY
expected=$(seq 0 $((n - 1)))

floor_times=() caf_times=() snake_times=()
for _ in $(seq "$rounds"); do
    rm -rf xargs work merge snake
    mkdir xargs
    t0=$(now)
    seq 0 $((n - 1)) | (cd xargs && xargs -P "$cores" -I{} sh -c 'echo "$1" > "out.$1.txt"' sh {})
    (cd xargs && seq 0 $((n - 1)) | sed 's/.*/out.&.txt/' | xargs sh -c 'cat "$@" > merged.txt' sh)
    t1=$(now)
    [ "$(cat xargs/merged.txt)" = "$expected" ]
    floor_times+=("$(elapsed "$t0" "$t1")")

    t0=$(now)
    "$caf" jobs submit work.json --wait > caf.out
    "$caf" jobs submit merge.json --wait >> caf.out
    t1=$(now)
    grep -q "job work: completed ($n subjobs: $n completed" caf.out
    [ "$(cat merge/subjobs/0/merged.txt)" = "$expected" ]
    caf_times+=("$(elapsed "$t0" "$t1")")

    if [ -n "$snakemake" ]; then
        mkdir snake
        cp Snakefile snake/
        t0=$(now)
        (cd snake && "$snakemake" --cores "$cores" --quiet > ../snake.out 2>&1)
        t1=$(now)
        [ "$(cat snake/merged.txt)" = "$expected" ]
        snake_times+=("$(elapsed "$t0" "$t1")")
    fi
done
floor_s=$(median "${floor_times[@]}")
caf_s=$(median "${caf_times[@]}")
caf_ratio=$(ratio "$caf_s" "$floor_s")
printf 'jobs_local: %d trivial jobs + 1 merge, %d cores, median of %d alternating rounds (in %s)\n' "$n" "$cores" \
    "$rounds" "${TMPDIR:-/tmp}"
printf '  floor: xargs -P %d, bare commands     %7.2f s\n' "$cores" "$floor_s"
printf '  caf jobs submit --wait (local)      %7.2f s   caf/floor = %s   (target <= 1.5: %s)\n' "$caf_s" \
    "$caf_ratio" "$(awk -v r="$caf_ratio" 'BEGIN { print (r <= 1.5) ? "met" : "NOT met" }')"
if [ -n "$snakemake" ]; then
    snake_s=$(median "${snake_times[@]}")
    printf '  snakemake %-8s --cores %d        %7.2f s   snakemake/floor = %s   (peer, no target)\n' \
        "$("$snakemake" --version 2>/dev/null | head -1)" "$cores" "$snake_s" "$(ratio "$snake_s" "$floor_s")"
else
    printf '  snakemake: not installed (Debian package snakemake), skipped\n'
fi
