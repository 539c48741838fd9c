#!/usr/bin/env bash
# A throw-away one-node Slurm cluster on 127.0.0.1 for the batch-backend tests and benchmark.
#
#   slurm_cluster.sh start DIR   install what is missing, configure, start munged + slurmctld + slurmd
#                                under DIR and wait until the node is idle; prints `export SLURM_CONF=...`
#   slurm_cluster.sh stop DIR    stop exactly the daemons that `start DIR` started and remove their state
#   slurm_cluster.sh env DIR     print the environment lines again (SLURM_CONF)
#
# Runs as root without systemd (a fresh CI container). Everything lives under DIR: its own munge key and
# socket, its own ports, state, spool, logs and pid files, so it never touches a system Slurm or munge
# and two clusters in two folders do not collide. Clients find it through SLURM_CONF=DIR/etc/slurm.conf.
set -euo pipefail

die() { echo "slurm_cluster: $*" >&2; exit 1; }

source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# slurm-wlm, munge and slurm-wlm-torque (deps/debian-slurm.txt) through the project's installer. Tests
# that start clusters at the same time install once: the first holds the lock, the others then find
# everything installed.
install_missing() {
  local i
  exec 8>"${TMPDIR:-/tmp}/caf-slurm-install.lock"
  flock 8
  for i in 1 2 3 4 5; do
    if "$source_dir/scripts/install-deps.sh" "$source_dir/deps/debian-slurm.txt" >&2; then
      exec 8>&-
      return 0
    fi
    sleep 5 # apt's own lock held by something else: wait and try again
  done
  die "could not install the packages of deps/debian-slurm.txt"
}

# The pid in FILE if that process is alive and its command line mentions our config folder.
our_pid() {
  local file=$1 pid
  [[ -s $file ]] || return 1
  pid=$(<"$file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$DIR/" || return 1
  echo "$pid"
}

# Alive and not a zombie (in a container nobody may reap the daemons we double-forked).
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

stop_pidfile() {
  local file=$1 pid i
  if pid=$(our_pid "$file"); then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 50); do
      alive "$pid" || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

# Daemons left by a crashed run whose folder has since been deleted: their config file is gone, so no
# `stop` can ever reach them; they would hold CPUs and confuse `ps`. Only such orphans are ended.
reap_orphans() {
  local pid cmd conf
  for pid in $(pgrep -x slurmctld; pgrep -x slurmd; pgrep -x munged || true); do
    cmd=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null) || continue
    conf=$(grep -m1 -oE '/.*/caf-slurm-cluster/etc/(slurm\.conf|munge\.key)$' <<<"$cmd" || true)
    [[ -n $conf && ! -e $conf ]] || continue
    echo "slurm_cluster: ending orphan $(head -1 <<<"$cmd") (pid $pid) of deleted $conf" >&2
    kill -KILL "$pid" 2>/dev/null || true
  done
}

# No socket of any state on local port $1 (read from /proc: no dependency on ss or netstat).
port_free() {
  local hex
  hex=$(printf '%04X' "$1")
  ! awk -v p=":$hex" 'FNR > 1 && substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# Two consecutive free TCP ports, starting from a number derived from DIR so parallel clusters differ.
pick_ports() {
  local base=$((20000 + $(cksum <<<"$DIR" | cut -d' ' -f1) % 20000)) p
  for ((p = base; p < base + 400; p += 2)); do
    if port_free "$p" && port_free $((p + 1)); then
      echo "$p"
      return 0
    fi
  done
  die "no free ports near $base"
}

write_config() {
  local host cpus mem ctl_port=$1
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(awk '/MemTotal/ {m = int($2 / 1024 / 2); print (m > 4096 ? 4096 : m)}' /proc/meminfo)
  cat >"$ETC/slurm.conf" <<EOF
# Written by tests/support/slurm_cluster.sh: a one-node loopback cluster for caf's tests.
ClusterName=caf-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctl_port
SlurmdPort=$((ctl_port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$RUN/munge.socket
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/slurmd-%n
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/builtin
# Start queued work as soon as resources free up instead of batching scheduling every few seconds.
SchedulerParameters=batch_sched_delay=0,default_queue_depth=1000
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MaxArraySize=10001
MaxJobCount=20000
# Keep finished jobs visible to squeue long enough for a poll to see how they ended.
MinJobAge=300
KillWait=2
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
# The node has the machine's real CPUs; the partition lets short test jobs share them (FORCE:64)
# so a 1,000-task array does not take Slurm's one-second scheduling tick per pair of jobs.
PartitionName=caf Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:64
EOF
}

start_munge() {
  local key=$ETC/munge.key i
  if [[ ! -s $key ]]; then
    # A fresh key per cluster: only our daemons and clients talk through our socket.
    (umask 077 && head -c 1024 /dev/urandom >"$key")
  fi
  chmod 0400 "$key"
  # munged refuses folders others can write; ours are 0700/0755 root-owned.
  munged --force --key-file="$key" --socket="$RUN/munge.socket" --pid-file="$RUN/munged.pid" \
    --log-file="$DIR/log/munged.log" --seed-file="$RUN/munged.seed" --num-threads=2 ||
    die "munged did not start (see $DIR/log/munged.log)"
  for i in $(seq 50); do
    [[ -S $RUN/munge.socket ]] && return 0
    sleep 0.1
  done
  die "munged socket $RUN/munge.socket did not appear"
}

wait_idle() {
  local i state
  for i in $(seq 300); do
    state=$(sinfo --responding -h -N -o '%T' 2>/dev/null | head -1 || true)
    case $state in
      idle | mixed | allocated) return 0 ;;
      *drain* | *down*)
        scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1 || true ;;
    esac
    sleep 0.2
  done
  echo "slurm_cluster: node state '${state:-none}' after 60 s; logs:" >&2
  tail -n 20 "$DIR"/log/*.log >&2 || true
  return 1
}

print_env() {
  echo "export SLURM_CONF=$(printf '%q' "$ETC/slurm.conf")"
}

cmd=${1:-}
[[ -n ${2:-} ]] || die "usage: slurm_cluster.sh start|stop|env DIR"
mkdir -p "$2"
ROOT=$(cd "$2" && pwd -P)
# A fixed leaf name: lets orphan detection recognise our daemons whatever DIR the caller chose.
DIR=$ROOT/caf-slurm-cluster
ETC=$DIR/etc
RUN=$DIR/run
export SLURM_CONF=$ETC/slurm.conf

stop_all() {
  stop_pidfile "$RUN/slurmd.pid"
  stop_pidfile "$RUN/slurmctld.pid"
  stop_pidfile "$RUN/munged.pid"
}

case $cmd in
  start)
    [[ $(id -u) == 0 ]] || die "must run as root (SlurmUser=root)"
    install_missing
    reap_orphans
    # A previous run in this folder that crashed: stop whatever of it still runs and start clean.
    stop_all
    rm -rf "$DIR/state" "$DIR/spool" "$DIR/log" "$RUN"
    mkdir -p "$ETC" "$RUN" "$DIR/state" "$DIR/spool" "$DIR/log"
    chmod 0755 "$ROOT" "$DIR" "$ETC" "$RUN"
    write_config "$(pick_ports)"
    start_munge
    slurmctld -f "$ETC/slurm.conf" || die "slurmctld did not start (see $DIR/log/slurmctld.log)"
    slurmd -f "$ETC/slurm.conf" || die "slurmd did not start (see $DIR/log/slurmd.log)"
    if ! wait_idle; then
      stop_all
      die "cluster in $DIR did not become ready"
    fi
    print_env
    ;;
  stop)
    # Jobs still running belong to this cluster only: cancel them and give slurmd time to end them.
    if our_pid "$RUN/slurmctld.pid" >/dev/null; then
      scancel --quiet --user=root >/dev/null 2>&1 || true
      for i in $(seq 50); do
        squeue -h -t pending,running,configuring,completing,suspended -o %i 2>/dev/null | grep -q . || break
        sleep 0.2
      done
    fi
    stop_all
    # A slurmstepd (and its job) that outlived its slurmd: theirs runs with its cwd or log in our folder.
    for pid in $(pgrep -x slurmstepd || true); do
      if { readlink "/proc/$pid/cwd"; ls -l "/proc/$pid/fd"; } 2>/dev/null | grep -qF -- "$DIR/"; then
        pkill -KILL -P "$pid" 2>/dev/null || true
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done
    rm -rf "$DIR"
    rmdir "$ROOT" 2>/dev/null || true
    ;;
  env)
    print_env
    ;;
  *)
    die "usage: slurm_cluster.sh start|stop|env DIR"
    ;;
esac
