#!/usr/bin/env bash
# Start a real SLURM cluster on this one host, for the workflow's SLURM tests (run as root).
#
# Two virtual nodes (<host>-1, <host>-2) on 127.0.0.1, each its own slurmd on its own port, one
# slurmctld, no accounting (jobs are polled with squeue), no cgroups. Every daemon this script
# starts has its pid recorded under $STATE/started/; stop_cluster.sh stops exactly those.
# Re-running is safe: running daemons are kept, a changed config restarts ours.
#
# The packages (slurm-wlm, munge) are installed by `make setup` (SYSTEM_PACKAGES in the Makefile).
#
# Knobs (environment):
#   OPENCODER_SLURM_STATE   state, spool, logs and pid records (default /var/lib/opencoder-slurm)
#   OPENCODER_SLURM_NODES   number of virtual nodes            (default 2)
#   OPENCODER_SLURM_PARTITION                                  (default debug)
#   OPENCODER_SLURM_TIMEOUT seconds to wait for idle nodes     (default 60)
# slurm.conf goes to /etc/slurm/slurm.conf: jobs started by the Snakemake plugin lose SLURM_CONF
# (its job step clears SLURM_* variables), so the cluster must live at the default path.
set -euo pipefail

STATE="${OPENCODER_SLURM_STATE:-/var/lib/opencoder-slurm}"
NNODES="${OPENCODER_SLURM_NODES:-2}"
PARTITION="${OPENCODER_SLURM_PARTITION:-debug}"
TIMEOUT="${OPENCODER_SLURM_TIMEOUT:-60}"
CONF=/etc/slurm/slurm.conf
MARKER="# written by opencoder tests/slurm/start_cluster.sh"
MUNGE_PID=/run/munge/munged.pid
RUN=/run/opencoder-slurm  # fixed, so daemons of an earlier state dir are found
export PATH="$PATH:/usr/sbin:/sbin"

log() { printf '[slurm-cluster] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (the daemons run as root on this test cluster)"
[[ "$NNODES" =~ ^[1-9][0-9]*$ ]] || die "OPENCODER_SLURM_NODES must be a positive integer, got '$NNODES'"
for bin in munged mungekey munge unmunge slurmctld slurmd sinfo sbatch squeue scontrol; do
    command -v "$bin" >/dev/null || die "$bin not found: install slurm-wlm and munge (make setup)"
done
if [ -e "$CONF" ] && ! grep -qF "$MARKER" "$CONF"; then
    die "$CONF exists and was not written by this script; refusing to replace a real cluster's config"
fi
mkdir -p "$STATE/ctld" "$STATE/spool" "$STATE/log" "$STATE/started" "$RUN" /etc/slurm

# --- munge key -----------------------------------------------------------------------------
if [ ! -s /etc/munge/munge.key ]; then
    log "creating munge key"
    mkdir -p /etc/munge
    mungekey --create --keyfile=/etc/munge/munge.key --force
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key

# --- slurm.conf: hardware from slurmd itself, a little less memory so nodes never drain ------
HOST="$(hostname -s)"
NODES=()
for i in $(seq 1 "$NNODES"); do NODES+=("${HOST}-${i}"); done
hw="$(slurmd -C | head -n1)"
field() { sed -n "s/.*[[:space:]]$1=\([0-9]*\).*/\1/p" <<<"$hw"; }
cpus="$(field CPUs)"; realmem="$(field RealMemory)"
[ -n "$cpus" ] && [ -n "$realmem" ] || die "cannot parse 'slurmd -C': $hw"
mem=$(( realmem * 95 / 100 ))

new_conf="$(mktemp)"
{
    echo "$MARKER"
    cat <<EOF
ClusterName=opencoder-test
SlurmctldHost=${HOST}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# an impossible request fails at sbatch instead of pending forever
EnforcePartLimits=ALL
# squeue must still list finished jobs when the executor polls (no accounting here)
MinJobAge=600
SlurmctldPidFile=${RUN}/slurmctld.pid
SlurmdPidFile=${RUN}/slurmd-%n.pid
StateSaveLocation=${STATE}/ctld
SlurmdSpoolDir=${STATE}/spool/%n
SlurmctldLogFile=${STATE}/log/slurmctld.log
SlurmdLogFile=${STATE}/log/slurmd-%n.log
EOF
    i=0
    for n in "${NODES[@]}"; do
        i=$(( i + 1 ))
        echo "NodeName=${n} NodeAddr=127.0.0.1 NodeHostname=${HOST} Port=$(( 17000 + i )) CPUs=${cpus} RealMemory=${mem} State=UNKNOWN"
    done
    echo "PartitionName=${PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
} >"$new_conf"
conf_changed=0
if ! cmp -s "$new_conf" "$CONF"; then
    install -m 0644 "$new_conf" "$CONF"
    conf_changed=1
    log "wrote $CONF (${NNODES} node(s))"
fi
rm -f "$new_conf"

# --- daemons -------------------------------------------------------------------------------
pid_of() { [ -r "$1" ] && tr -dc '0-9' <"$1" || true; }
alive() {  # alive PIDFILE COMM: the pid in PIDFILE runs a process named COMM
    local pid
    pid="$(pid_of "$1")"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}
wait_alive() { for _ in $(seq 1 150); do alive "$1" "$2" && return 0; sleep 0.1; done; return 1; }
record() { printf '%s\n' "$(pid_of "$1")" >"$STATE/started/$2.pid"; }

if [ "$conf_changed" = 1 ] && ls "$STATE"/started/slurm*.pid >/dev/null 2>&1; then
    log "config changed: restarting the slurm daemons this script started"
    OPENCODER_SLURM_KEEP_MUNGE=1 OPENCODER_SLURM_STATE="$STATE" bash "$(dirname "$0")/stop_cluster.sh"
fi
if [ "$conf_changed" = 1 ]; then
    for f in "$RUN"/slurm*.pid; do
        [ -e "$f" ] || continue
        comm="$(basename "$f" .pid)"; comm="${comm%%-*}"
        if alive "$f" "$comm"; then
            die "$comm (pid $(pid_of "$f")) runs with an older config and was not started from $STATE; stop it first"
        fi
    done
fi

mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
if alive "$MUNGE_PID" munged; then
    log "munged already running (pid $(pid_of "$MUNGE_PID")): using it"
else
    log "starting munged"
    runuser -u munge -- munged --pid-file="$MUNGE_PID"
    wait_alive "$MUNGE_PID" munged || die "munged did not start (see /var/log/munge/munged.log)"
    record "$MUNGE_PID" munged
fi
munge -n | unmunge >/dev/null || die "munge round trip failed"

if alive "$RUN/slurmctld.pid" slurmctld; then
    log "slurmctld already running"
else
    log "starting slurmctld"
    slurmctld -f "$CONF"
    wait_alive "$RUN/slurmctld.pid" slurmctld || die "slurmctld did not start (see $STATE/log/slurmctld.log)"
    record "$RUN/slurmctld.pid" slurmctld
fi
for n in "${NODES[@]}"; do
    mkdir -p "$STATE/spool/$n"
    if alive "$RUN/slurmd-$n.pid" slurmd; then continue; fi
    log "starting slurmd for $n"
    slurmd -f "$CONF" -N "$n"
    wait_alive "$RUN/slurmd-$n.pid" slurmd || die "slurmd $n did not start (see $STATE/log/slurmd-$n.log)"
    record "$RUN/slurmd-$n.pid" "slurmd.$n"
done

# --- wait until every node is idle ---------------------------------------------------------
deadline=$(( $(date +%s) + TIMEOUT ))
while :; do
    ready=1; states=""
    for n in "${NODES[@]}"; do
        st="$(sinfo -h -n "$n" -o '%T' 2>/dev/null | head -n1 || true)"
        states+="$n=${st:-?} "
        case "$st" in
            idle|mixed|allocated|completing) ;;
            down*|drain*|fail*|inval*) ready=0; scontrol update nodename="$n" state=resume 2>/dev/null || true ;;
            *) ready=0 ;;
        esac
    done
    [ "$ready" = 1 ] && break
    [ "$(date +%s)" -lt "$deadline" ] || die "nodes not idle after ${TIMEOUT}s: $states (logs in $STATE/log)"
    sleep 0.5
done
log "cluster up: $states"
