#!/usr/bin/env bash
# Runs every benchmark against the build folder given as $1 (make bench). Each prints its own rates and
# the ratios against a baseline measured in the same run.
set -euo pipefail
build=${1:-build}

"$build/bench/bench_event_read"
"$build/bench/bench_engine"
"$build/bench/bench_file_index"
"$build/bench/bench_algorithm" "$build"
# Python: merged histograms into numpy through the package vs the same read in C; a trivial Python
# algorithm execution vs a C one (interpreter start included)
"$build/bench/bench_python" "$build"
# algorithms at scale: SequentialRunByRun over 1,000 / 5,000 / 10,000 runs, ms and fsyncs per execution
"$build/bench/bench_algorithm_runs" "$build"
"$build/bench/bench_collector"
# conditions: lookups/s through the index at 1,000 / 10,000 / 100,000 lines vs scanning every line
"$build/bench/bench_localdb"
# conditions service: 200 concurrent clients resolving runs of a 1,000-run global tag through caf db serve,
# every answer checked against the local database, against one client
"$build/bench/bench_gt_serve" 200 50
# orchestration: strategy bookkeeping, fresh run against replay from a saved state
"$build/bench/bench_strategy" 20000
# orchestration: caf plan of 100,000 files in 10,000 runs with a warm file index (writes the files first)
"$build/bench/bench_plan" "$build" 100000 10000
# orchestration: a whole campaign of 100,000 files in 10,000 runs on the local backend, time per phase
# (writes the files first; the same campaign at 1,000 runs first, for the growth per run)
"$build/bench/bench_campaign" "$build" 10000 10
# jobs: 1,000 trivial jobs and one merge through caf jobs submit (local backend) and Snakemake (when installed)
# against the floor, xargs -P <cores> running the bare commands (bench/jobs_local.sh)
bash "$(dirname "$0")/jobs_local.sh" "$build/bin/caf"
# orchestration: the run state saved as rows per change vs whole JSON snapshots of the strategy state
"$build/bench/bench_run_state" 500
# jobs: 1,000 subjobs through the Slurm backend on a loopback Slurm: sbatch calls and wall time vs a
# hand-written sbatch --array (bench/jobs_slurm.sh; starts its own cluster, needs root)
bash "$(dirname "$0")/jobs_slurm.sh" "$build/bin/caf"
