#!/usr/bin/env bash
# Stop the daemons start_cluster.sh started, and only those: each pid recorded under
# $STATE/started/ is checked against the daemon its record names (/proc/PID/comm) before it is
# signalled, so a reused pid or a daemon someone else started is never touched.
# OPENCODER_SLURM_KEEP_MUNGE=1 leaves munged running (used for a restart after a config change).
set -uo pipefail

STATE="${OPENCODER_SLURM_STATE:-/var/lib/opencoder-slurm}"
log() { printf '[slurm-cluster] %s\n' "$*" >&2; }

stop_one() {
    local rec="$1" name comm pid
    name="$(basename "$rec" .pid)"
    comm="${name%%.*}"
    pid="$(tr -dc '0-9' <"$rec" 2>/dev/null || true)"
    rm -f "$rec"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != "$comm" ]; then
        log "$name: pid $pid is no longer $comm, leaving it alone"
        return 0
    fi
    log "stopping $name (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    log "$name (pid $pid) still running after 15 s: SIGKILL"
    kill -KILL "$pid"
}

recs=("$STATE"/started/slurmd.*.pid "$STATE/started/slurmctld.pid")
[ "${OPENCODER_SLURM_KEEP_MUNGE:-0}" = 1 ] || recs+=("$STATE/started/munged.pid")
rc=0
for rec in "${recs[@]}"; do  # slurmds first, then slurmctld, munged last (all use it)
    [ -e "$rec" ] || continue
    stop_one "$rec" || rc=1
done
exit "$rc"
