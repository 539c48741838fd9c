#!/usr/bin/env bash
# The PBS backend for real: Debian's slurm-wlm-torque provides PBS's qsub/qstat/qdel on top of the
# loopback Slurm. Same scenarios as Slurm (tests/support/batch_scenarios.sh), all through qsub/qstat.
set -euo pipefail
BACKEND=pbs
source "$CAF_SOURCE_DIR/tests/support/batch_scenarios.sh"

# qstat's default listing: "Job id  Name  User  Time Use  S  Queue"; queued/held/running ones.
active_ids() { qstat 2>/dev/null | awk 'NR > 2 && $5 ~ /^[QHRTWE]$/ {print $1}'; }
remove_behind_caf() { qdel "$1"; }
# A job qdel'd behind caf's back ends without writing its exit-code file.
forgotten_reason() { echo 'exit-code file .* did not appear'; }
# PBS's own log (Slurm's qsub writes Slurm's words into it) tells why the job ended.
time_limit_reason() { echo 'PBS killed it for exceeding its walltime'; }

run_scenarios
