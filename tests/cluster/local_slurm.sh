#!/usr/bin/env bash
# A throw-away single-node SLURM on 127.0.0.1 for the cluster test (tests/test_cluster.py) and for trying the
# slurm profile by hand. Debian packages (slurmctld, slurmd, slurmdbd + MariaDB for sacct, munge); every daemon is
# started in the background, no systemd, no cgroups.
#
#   tests/cluster/local_slurm.sh up      install what is missing (apt-get), configure, start, smoke-test (sbatch+sacct)
#   tests/cluster/local_slurm.sh down    stop exactly the daemons `up` started (PID files), nothing else
#   tests/cluster/local_slurm.sh check   exit 0 when this machine can run it (root, apt-get or packages present)
#   tests/cluster/local_slurm.sh status  exit 0 when a cluster started by `up` is running (all its daemons alive)
#
# The node declares SAPT_SLURM_GPUS (default 2) GPUs as a generic resource (GresTypes=gpu, gres.conf with
# AutoDetect=off and one dummy device file each under the state dir): SLURM allocates and accounts them (sacct
# AllocTRES gres/gpu=N) and sets CUDA_VISIBLE_DEVICES in a job that asks for them; no GPU is there, so a job meant
# for it must run on the CPU. Two partitions on the one node: SAPT_SLURM_PARTITION (default `local`, the default
# partition, for CPU-only jobs) and SAPT_SLURM_GPU_PARTITION (default `<partition>_gpu`).
#
# Environment: SAPT_SLURM_DIR (state, logs, PID files; default /tmp/sapt-slurm), SAPT_SLURM_PARTITION,
# SAPT_SLURM_GPU_PARTITION, SAPT_SLURM_GPUS, SAPT_SLURM_DB_PORT (MariaDB on 127.0.0.1, default 3307),
# SAPT_SLURM_PURGE=1 (down: also delete the state dir and the config files `up` wrote). An existing
# /etc/slurm/slurm.conf that `up` did not write is never replaced.
set -euo pipefail

DIR=${SAPT_SLURM_DIR:-/tmp/sapt-slurm}
PART=${SAPT_SLURM_PARTITION:-local}
GPU_PART=${SAPT_SLURM_GPU_PARTITION:-${PART}_gpu}
GPUS=${SAPT_SLURM_GPUS:-2}
DB_PORT=${SAPT_SLURM_DB_PORT:-3307}
CONF=/etc/slurm/slurm.conf
DBD_CONF=/etc/slurm/slurmdbd.conf
GRES_CONF=/etc/slurm/gres.conf
MARK="# sapt local_slurm.sh"
NODE=$(hostname -s)
PKGS=(munge slurm-client slurmctld slurmd slurmdbd mariadb-server)
START=$SECONDS

say() { echo "[local_slurm +$((SECONDS - START))s] $*" >&2; }
fail() {
  say "FAILED: $*"
  for f in "$DIR"/log/*.log; do [[ -f $f ]] && { echo "== $f" >&2; tail -n 20 "$f" >&2; }; done
  exit 1
}
# poll <timeout-s> <what> <cmd...>: rerun cmd every 0.5 s until it succeeds
poll() {
  local secs=$1 what=$2; shift 2
  local until=$((SECONDS + secs))
  while ! "$@" >/dev/null 2>&1; do
    ((SECONDS < until)) || fail "no $what after ${secs}s"
    sleep 0.5
  done
}
# ours <name> <comm>: the PID recorded for <name> is alive and still that program (a recycled PID is not ours)
ours() {
  local pid
  pid=$(cat "$DIR/pids/$1" 2>/dev/null) || return 1
  [[ -n $pid && "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$2" && "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]]
}
record() { cp "$2" "$DIR/pids/$1"; }   # record <name> <pidfile written by the daemon>

missing_pkgs() {
  local p
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || echo "$p"
  done
}

cmd_check() {
  [[ $(id -u) == 0 ]] || { echo "needs root (installs Debian packages and starts SLURM daemons)"; exit 1; }
  command -v dpkg-query >/dev/null || { echo "not a Debian/Ubuntu system (no dpkg-query)"; exit 1; }
  if [[ -n "$(missing_pkgs)" ]] && ! command -v apt-get >/dev/null; then
    echo "SLURM packages missing and no apt-get to install them: $(missing_pkgs | tr '\n' ' ')"; exit 1
  fi
  if [[ -f $CONF ]] && ! grep -q "^$MARK" "$CONF"; then
    echo "$CONF exists and was not written by this script (a real SLURM site?): not touching it"; exit 1
  fi
  exit 0
}

install_pkgs() {
  local need; need=$(missing_pkgs | tr '\n' ' ')
  [[ -z $need ]] && return 0
  say "apt-get install $need"
  local policy=/usr/sbin/policy-rc.d added=0
  if [[ ! -e $policy ]]; then  # keep the packages' init scripts from starting daemons we would not track
    printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"; added=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends $need >/dev/null; } || { ((added)) && rm -f "$policy"; fail "apt-get install"; }
  ((added)) && rm -f "$policy"
  say "packages installed"
}

write_configs() {
  local cpus mem
  cpus=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)  # nproc obeys OMP_NUM_THREADS
  mem=$(awk '/MemTotal/ {m = int($2 / 1024); print (m > 4096 ? m - 2048 : int(m / 2))}' /proc/meminfo)
  mkdir -p /etc/slurm
  # slurm.conf must exist before any SLURM client runs (else the clients try a configless DNS lookup and die)
  cat > "$CONF.tmp" <<CONF
$MARK: single-node test cluster, state in $DIR
ClusterName=sapt
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=600
MailProg=/bin/true
StateSaveLocation=$DIR/ctld
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=6819
JobAcctGatherType=jobacct_gather/linux
JobCompType=jobcomp/none
AccountingStoreFlags=job_comment
AccountingStorageTRES=gres/gpu
GresTypes=gpu
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem Gres=gpu:$GPUS State=UNKNOWN
PartitionName=$PART Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
PartitionName=$GPU_PART Nodes=$NODE MaxTime=INFINITE State=UP
CONF
  # fake GPUs: slurmd wants one character device per GPU (it indexes CUDA_VISIBLE_DEVICES by them) and detects
  # nothing (AutoDetect=off); each is a copy of /dev/null's device number (1,3)
  mkdir -p "$DIR/dev"
  local i
  for ((i = 0; i < GPUS; i++)); do
    [[ -c $DIR/dev/gpu$i ]] || { rm -f "$DIR/dev/gpu$i"; mknod -m 666 "$DIR/dev/gpu$i" c 1 3 || fail "mknod $DIR/dev/gpu$i"; }
  done
  { echo "$MARK: $GPUS fake GPUs (character devices numbered as /dev/null)"; echo "AutoDetect=off"
    echo "NodeName=$NODE Name=gpu File=$DIR/dev/gpu[0-$((GPUS - 1))]"; } > "$GRES_CONF.tmp"
  cmp -s "$CONF.tmp" "$CONF" && cmp -s "$GRES_CONF.tmp" "$GRES_CONF" || CONF_CHANGED=1
  mv "$CONF.tmp" "$CONF"
  mv "$GRES_CONF.tmp" "$GRES_CONF"
  umask 077
  cat > "$DBD_CONF.tmp" <<CONF
$MARK: accounting for the single-node test cluster
AuthType=auth/munge
DbdAddr=127.0.0.1
DbdHost=localhost
DbdPort=6819
SlurmUser=root
LogFile=$DIR/log/slurmdbd.log
PidFile=$DIR/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=sapt-local
StorageLoc=slurm_acct_db
CONF
  mv "$DBD_CONF.tmp" "$DBD_CONF"
  umask 022
}

start_munge() {
  [[ -s /etc/munge/munge.key ]] || { mungekey --create --keyfile=/etc/munge/munge.key; chown munge:munge /etc/munge/munge.key; chmod 600 /etc/munge/munge.key; }
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then say "munge: already answering (not ours)"; return; fi
  install -d -o munge -g munge -m 755 /run/munge
  install -d -o munge -g munge -m 700 /var/lib/munge /var/log/munge
  rm -f /run/munge/munged.pid
  runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid --log-file=/var/log/munge/munged.log
  poll 15 "munged pid file" test -s /run/munge/munged.pid
  record munged /run/munge/munged.pid
  poll 15 "munge round trip" sh -c 'munge -n | unmunge'
}

start_db() {
  local sock=$DIR/db/mysqld.sock
  install -d -o mysql -g mysql -m 755 "$DIR/db"
  if [[ ! -d $DIR/mysql/mysql ]]; then
    mariadb-install-db --no-defaults --user=mysql --datadir="$DIR/mysql" --auth-root-authentication-method=socket \
      --skip-test-db --skip-name-resolve > "$DIR/log/mariadb-install.log" 2>&1 || fail "mariadb-install-db"
  fi
  if ! ours mariadbd mariadbd; then
    rm -f "$sock"
    setsid /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$DIR/mysql" --bind-address=127.0.0.1 \
      --port="$DB_PORT" --socket="$sock" --pid-file="$DIR/db/mariadbd.pid" --log-error="$DIR/log/mariadb.log" \
      --skip-name-resolve --innodb-use-native-aio=0 --innodb-buffer-pool-size=128M --max-connections=40 \
      </dev/null >/dev/null 2>&1 &
    poll 60 "MariaDB" mariadb --no-defaults -S "$sock" -u root -e 'SELECT 1'
    record mariadbd "$DIR/db/mariadbd.pid"
  fi
  mariadb --no-defaults -S "$sock" -u root -e "
    CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'sapt-local';
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'sapt-local';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';"
}

# start_daemon <name> <binary + args>: the daemon forks and writes $DIR/run/<name>.pid
start_daemon() {
  local name=$1; shift
  if ours "$name" "$name"; then say "$name: running"; return; fi
  rm -f "$DIR/run/$name.pid"
  "$@" || fail "$name did not start"
  poll 20 "$name pid file" test -s "$DIR/run/$name.pid"
  record "$name" "$DIR/run/$name.pid"
}

cmd_up() {
  [[ $(id -u) == 0 ]] || fail "needs root"
  if [[ -f $CONF ]] && ! grep -q "^$MARK" "$CONF"; then fail "$CONF was not written by this script; not replacing it"; fi
  install_pkgs
  mkdir -p "$DIR"/{pids,log,run,ctld,spool}
  RUNNING=0; ours slurmctld slurmctld && RUNNING=1
  CONF_CHANGED=0
  write_configs
  start_munge
  start_db
  start_daemon slurmdbd /usr/sbin/slurmdbd
  poll 60 "slurmdbd answer" sacctmgr -n list cluster
  sacctmgr -n -P list cluster format=cluster | grep -qx sapt || sacctmgr -i add cluster sapt >/dev/null
  if ((CONF_CHANGED)) && ((RUNNING)); then  # e.g. another partition or GPU count: the node's GRES need a restart
    say "slurm.conf / gres.conf changed: restarting slurmctld and slurmd"
    stop_daemon slurmd
    stop_daemon slurmctld
  fi
  start_daemon slurmctld /usr/sbin/slurmctld
  poll 60 "slurmctld answer" sh -c 'scontrol ping | grep -q UP'
  start_daemon slurmd /usr/sbin/slurmd -N "$NODE"
  poll 30 "partition $GPU_PART" sh -c "sinfo -h -p '$GPU_PART' -o %P | grep -q ."
  local until=$((SECONDS + 60)) st
  while st=$(sinfo -h -n "$NODE" -o %t 2>/dev/null); [[ ! $st =~ ^(idle|mix|alloc) ]]; do
    [[ $st =~ ^(down|drain|drng) ]] && scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true
    ((SECONDS < until)) || fail "node $NODE is '$st', not idle"
    sleep 0.5
  done
  # smoke test: one batch job through the scheduler (GPU partition, one fake GPU) and into accounting
  local jid
  jid=$(cd /tmp && sbatch --parsable -p "$GPU_PART" --gpus=1 -t 1 -o /dev/null --wrap true) || fail "sbatch"
  poll 60 "sacct COMPLETED for job $jid" sh -c "sacct -X -n -P -j $jid -o State | grep -qx COMPLETED"
  sacct -X -n -P -j "$jid" -o AllocTRES | grep -q 'gres/gpu=1' || fail "job $jid: no gres/gpu=1 in sacct AllocTRES"
  say "up: partitions $PART, $GPU_PART on $NODE ($(sinfo -h -n "$NODE" -o %c) CPUs, $(sinfo -h -n "$NODE" -o %G)), job $jid COMPLETED with gres/gpu=1 in accounting"
}

# stop_daemon <name>: stop the daemon `up` recorded under <name> (TERM, then KILL after 30 s)
stop_daemon() {
  local name=$1 pid i
  ours "$name" "$name" || { rm -f "$DIR/pids/$name"; return 0; }
  pid=$(cat "$DIR/pids/$name")
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 60); do ours "$name" "$name" || break; sleep 0.5; done
  if ours "$name" "$name"; then say "$name ($pid) ignored SIGTERM; SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$DIR/pids/$name"
  say "stopped $name ($pid)"
}

cmd_down() {
  local name
  if ours slurmctld slurmctld; then timeout 10 scancel -u root >/dev/null 2>&1 || true; fi
  for name in slurmd slurmctld slurmdbd mariadbd munged; do stop_daemon "$name"; done
  if [[ ${SAPT_SLURM_PURGE:-0} == 1 ]]; then
    rm -rf "$DIR"
    for f in "$CONF" "$DBD_CONF" "$GRES_CONF"; do grep -qs "^$MARK" "$f" && rm -f "$f"; done
    say "removed $DIR and the configs written by up"
  fi
}

cmd_status() {
  local name
  for name in mariadbd slurmdbd slurmctld slurmd; do ours "$name" "$name" || exit 1; done
  scontrol ping 2>/dev/null | grep -q UP
}

case "${1:-}" in
  up) cmd_up ;;
  status) cmd_status ;;
  down) cmd_down ;;
  check) cmd_check ;;
  *) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
