# jobs: 1,000 trivial subjobs through the local backend vs xargs -P <cores> (bench/jobs_local.sh)
bash "$(dirname "$0")/jobs_local.sh" "${1:-build}/bin/caf"
