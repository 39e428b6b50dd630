#!/usr/bin/env bash
# Stop what deploy/local/up.sh started: every process recorded in the
# state directory's pids/, by its pid (TERM, then KILL after 10 s).
#
#   deploy/local/down.sh [--state DIR] [--purge]
#
# The state directory is up.sh's default (per user: $XDG_STATE_HOME/
# ssevents-local, else ~/.local/state/ssevents-local) unless --state.
# --purge also removes the state directory (binary, configs, logs).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/local/lib/state-dir.sh
. "$here/lib/state-dir.sh"
state=$(default_state_dir)
purge=false
while [ $# -gt 0 ]; do
	case "$1" in
	--state) state=$2; shift ;;
	--state=*) state=${1#--state=} ;;
	--purge) purge=true ;;
	-h | --help) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "down.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

# ours PID COMMAND: the pid still runs the command up.sh started (and not
# some later process that reused the number). /proc/PID/comm holds at
# most 15 characters of the command's name.
ours() {
	local comm
	comm=$(cat "/proc/$1/comm" 2>/dev/null) || return 1
	[ "$comm" = "${2:0:15}" ]
}

pids=()
shopt -s nullglob
# nginx first, so that clients see the front door close before the hubs,
# then the hubs (they end their streams cleanly), then Redis.
for f in "$state"/pids/nginx.pid "$state"/pids/hub-*.pid "$state"/pids/redis*.pid; do
	[ -e "$f" ] || continue # nginx.pid is named, not globbed
	read -r pid comm <"$f" || true
	if [ -n "${pid:-}" ] && ours "$pid" "$comm"; then
		kill -TERM "$pid" 2>/dev/null || true
		pids+=("$pid:$comm")
	fi
	rm -f "$f"
done

for _ in $(seq 50); do
	left=()
	for pc in "${pids[@]}"; do
		ours "${pc%%:*}" "${pc#*:}" && left+=("$pc")
	done
	[ ${#left[@]} -eq 0 ] && break
	sleep 0.2
done
for pc in "${left[@]}"; do
	echo "down.sh: ${pc#*:} (pid ${pc%%:*}) ignored TERM; killing it" >&2
	kill -KILL "${pc%%:*}" 2>/dev/null || true
done

if $purge; then
	rm -rf "$state"
fi
echo "down.sh: stopped ${#pids[@]} processes" >&2
