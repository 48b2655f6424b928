#!/usr/bin/env bash
# Stops the one-node Slurm cluster of scripts/slurm-up.sh: cancels its jobs (their processes outlive
# slurmd otherwise: with proctrack/pgid each job has its own slurmstepd), then stops slurmd,
# slurmctld and munged by their pid files under STARLAB_SLURM_DIR. Keeps the config, key and state,
# so the next slurm-up.sh is fast. Does nothing when nothing runs. Takes ~6 s: slurmctld saves its
# state on the way out.
set -euo pipefail
dir="${STARLAB_SLURM_DIR:-${HOME:-/root}/.cache/starlab/slurm}"
log() { echo "slurm-down: $*" >&2; }
[ -d "$dir" ] || exit 0
dir="$(cd "$dir" && pwd -P)"
if [ -z "${STARLAB_SLURM_LOCKED:-}" ]; then # slurm-up.sh holds the lock when it calls this
  exec 9>"$dir/lock"
  flock -w 120 9 || { log "timed out waiting for $dir/lock"; exit 1; }
fi

pid_of() { # pidfile command-name: the daemon's pid if it runs
  local pid
  pid="$(cat "$1" 2>/dev/null)" || return 1
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] && echo "$pid"
}

export SLURM_CONF="$dir/slurm.conf"
if pid_of "$dir/run/slurmctld.pid" slurmctld >/dev/null && pid_of "$dir/run/slurmd.pid" slurmd >/dev/null; then
  jobs="$(squeue -h -o %i 2>/dev/null || true)"
  if [ -n "$jobs" ]; then
    log "cancelling jobs $(echo $jobs)"
    # shellcheck disable=SC2086
    scancel $jobs >&2 || true
    for _ in $(seq 1 75); do # KillWait=10 s, then SIGKILL
      [ -z "$(squeue -h -o %i 2>/dev/null || true)" ] && break
      sleep 0.2
    done
  fi
fi

stop() { # pidfile command-name
  local pid
  pid="$(pid_of "$1" "$2")" || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    [ -d "/proc/$pid" ] || { log "stopped $2 ($pid)"; return 0; }
    sleep 0.1
  done
  log "$2 ($pid) ignored SIGTERM for 5 s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}
stop "$dir/run/slurmd.pid" slurmd
stop "$dir/run/slurmctld.pid" slurmctld
stop "$dir/run/munged.pid" munged
