#!/usr/bin/env bash
# The loopback Slurm of the batch tests (tests/support/slurm_cluster.sh) can be trusted: it runs jobs,
# starts again after a stop, recovers from a crashed run in the same folder, ends the daemons of a run
# whose folder was deleted, and `stop` leaves no daemon of its own behind.
set -euo pipefail
: "${CAF_SOURCE_DIR:?}"
cluster_sh=$CAF_SOURCE_DIR/tests/support/slurm_cluster.sh
work=$(mktemp -d)
trap 'bash "$cluster_sh" stop "$work/a" >/dev/null 2>&1 || true; bash "$cluster_sh" stop "$work/b" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# Live (non-zombie) slurmctld/slurmd/munged whose command line names folder $1.
daemons_of() {
  local pid
  for pid in $(pgrep -x slurmctld; pgrep -x slurmd; pgrep -x munged); do
    [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]] && continue
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$1/" && echo "$pid"
  done
  true
}
run_one_job() {
  local out=$work/job.out id
  rm -f "$out"
  id=$(sbatch --parsable --output="$out" --wrap 'echo ran')
  for _ in $(seq 100); do [[ -s $out ]] && break; sleep 0.2; done
  [[ $(cat "$out" 2>/dev/null) == ran ]] || fail "job $id did not run"
}

eval "$(bash "$cluster_sh" start "$work/a")"
export SLURM_CONF
[[ $(daemons_of "$work/a" | wc -l) == 3 ]] || fail "expected munged, slurmctld and slurmd"
run_one_job

# A crashed run: its daemons die without `stop`; a new start in the same folder must work.
kill -KILL $(daemons_of "$work/a")
eval "$(bash "$cluster_sh" start "$work/a")"
run_one_job

# stop, then start again.
bash "$cluster_sh" stop "$work/a"
[[ -z $(daemons_of "$work/a") ]] || fail "stop left daemons: $(daemons_of "$work/a")"
[[ ! -e $work/a ]] || fail "stop left the folder"
eval "$(bash "$cluster_sh" start "$work/a")"
run_one_job
bash "$cluster_sh" stop "$work/a"

# A run whose folder was deleted under it: the next start ends its daemons.
eval "$(bash "$cluster_sh" start "$work/b")"
orphans=$(daemons_of "$work/b")
rm -rf "$work/b"
eval "$(bash "$cluster_sh" start "$work/a")"
for pid in $orphans; do
  [[ -d /proc/$pid && $(awk '{print $3}' "/proc/$pid/stat") != Z ]] && fail "orphan $pid still runs"
done
run_one_job
bash "$cluster_sh" stop "$work/a"
echo "ok: start, crash recovery, restart, orphan reaping, clean stop"
