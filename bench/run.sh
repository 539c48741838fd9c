# jobs: 1,000 trivial subjobs through the local backend vs xargs -P <cores> (bench/jobs_local.sh)
bash "$(dirname "$0")/jobs_local.sh" "${1:-build}/bin/caf"
# jobs: 1,000 subjobs through the Slurm backend on a loopback Slurm: sbatch calls and wall time vs a
# hand-written sbatch --array (bench/jobs_slurm.sh; starts its own cluster, needs root)
bash "$(dirname "$0")/jobs_slurm.sh" "${1:-build}/bin/caf"
