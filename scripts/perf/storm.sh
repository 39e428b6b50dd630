#!/usr/bin/env bash
# The reconnect storm of issue 17, on real processes: a hub (`ssevents
# serve`, or two on one redis-server with --redis), N EventSource-like
# streams on T topics (one load process: scripts/perf/storm), E events
# per topic published, then the hub restarted on the same port with the
# same settings (--restart sigterm or kill9); as soon as it listens again
# M missed events per topic are published (through the other hub with
# --redis), and every stream of the restarted hub comes back after its
# `retry:` (the hub draws each stream's within ±20% of SSE_RETRY_MS) with
# its Last-Event-ID, all within that window. A stream whose retry timer
# fires before the missed events are published waits for them (counted),
# so that each has exactly M to catch up; with --no-hold it reconnects at
# once, as a browser does, to whatever answers (the old hub while it shuts
# down, nothing while it is down).
#
#   scripts/perf/storm.sh [--bin BIN] [--streams N] [--topics T]
#                         [--before E] [--missed M] [--restart sigterm|kill9]
#                         [--redis] [--data-dir DIR | --durable]
#                         [--timeout S] [--no-hold] [--keep]
#                         [-- SSE_VAR=value ...]
#
# --bin BIN       the ssevents binary (default: built from the working tree)
# --streams N     streams (default 19000); stream i is on topic i mod T and,
#                 with --redis, on hub (i / T) mod 2
# --topics T      topics (default 100)
# --before E      events per topic before the restart (default 10)
# --missed M      events per topic while the streams are away (default 10)
# --restart HOW   sigterm (default) or kill9
# --redis         two hubs on one redis-server the script starts (--save ''
#                 --appendonly no); only the first is restarted
# --data-dir DIR  the hub's SSE_DATA_DIR, the same before and after the
#                 restart (the durable embedded broker)
# --durable       the same with a fresh directory made (and removed) here
# --timeout S     seconds the streams may take to catch up (default 60)
# --no-hold       streams reconnect when their retry timer fires, not after
#                 the missed events are published
# --keep          keep the work directory (hub logs: hub-a.1.log, ...)
# after --        settings for the hub(s), e.g. SSE_RETRY_MS=1000
#
# Prints, from the moment the restarted hub answers /health/live again:
# the time until every stream has all it missed, p50/p99/max per stream,
# the hub's CPU seconds and peak RSS (/proc), /health/live polled every
# 50 ms on its own connection (failures, answers over 1 s), reconnect
# attempts, non-200 answers by status, streams an EventSource would have
# given up (it never retries after a non-200 answer; this tool does, and
# reports both), resyncs, and the check of every stream's events: lost,
# duplicates, out of order, phantom. Exits 1 when a stream never caught
# up or the check failed, 2 when the run itself failed.
#
# Needs: go (unless --bin is given), curl, redis-server for --redis, and
# an open-file hard limit above N (the streams are one process, each hub
# another). Only loopback addresses are used.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
die() { echo "storm.sh: $*" >&2; exit 2; }
# shellcheck source=../../deploy/local/lib/free-port.sh
. "$repo/deploy/local/lib/free-port.sh"

bin="" streams=19000 topics=100 before=10 missed=10 restart=sigterm
redis=false data_dir="" durable=false timeout=60 keep=false hold=() env=()
while [ $# -gt 0 ]; do
	case "$1" in
	--bin) bin=$2; shift 2 ;;
	--streams) streams=$2; shift 2 ;;
	--topics) topics=$2; shift 2 ;;
	--before) before=$2; shift 2 ;;
	--missed) missed=$2; shift 2 ;;
	--restart) restart=$2; shift 2 ;;
	--redis) redis=true; shift ;;
	--data-dir) data_dir=$2; shift 2 ;;
	--durable) durable=true; shift ;;
	--timeout) timeout=$2; shift 2 ;;
	--keep) keep=true; shift ;;
	--no-hold) hold=(-no-hold); shift ;;
	-h | --help) sed -n '2,52p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
	--) shift; env=("$@"); break ;;
	*) die "unknown argument $1 (try --help)" ;;
	esac
done
case "$restart" in sigterm | kill9) ;; *) die "--restart is sigterm or kill9" ;; esac
$redis && { [ -n "$data_dir" ] || $durable; } && die "--data-dir is for the embedded broker, not --redis"
$redis && ! command -v redis-server >/dev/null && die "redis-server is needed for --redis"

work=$(mktemp -d)
cleanup() {
	kill $(jobs -p) 2>/dev/null || true
	wait 2>/dev/null || true
	if $keep; then echo "storm.sh: logs kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
if [ -z "$bin" ]; then
	(cd "$repo" && go build -o "$work/ssevents" ./cmd/ssevents)
	bin=$work/ssevents
fi
(cd "$repo" && go build -o "$work/storm" ./scripts/perf/storm)
ulimit -n "$(ulimit -Hn)"
# A hub's listen queue holds at most net.core.somaxconn connections (Go
# listens with that backlog): a storm of more loses the rest's SYNs, which
# the clients resend 1, 3, 7 s later. Raise it (and the SYN backlog) to
# the storm's size when allowed, as a deployment expecting such storms
# would, and say so; the hub must start after this to get the backlog.
for knob in net.core.somaxconn net.ipv4.tcp_max_syn_backlog; do
	f=/proc/sys/${knob//.//}
	if [ -r "$f" ] && [ "$(cat "$f")" -lt "$streams" ]; then
		if [ -w "$f" ] && echo "$streams" >"$f" 2>/dev/null; then
			echo "storm.sh: raised $knob to $streams for the storm" >&2
		else
			echo "storm.sh: warning: $knob is $(cat "$f"), below $streams: expect listen-queue overflows" >&2
		fi
	fi
done
[ "$(ulimit -n)" -gt $((streams + 100)) ] ||
	echo "storm.sh: warning: open-file limit $(ulimit -n) is tight for $streams streams" >&2
if $durable; then
	data_dir=$work/data
	mkdir -p "$data_dir"
fi

args=(-bin "$bin" -streams "$streams" -topics "$topics" -before "$before" -missed "$missed"
	-restart "$restart" -timeout "${timeout}s" -log-dir "$work" "${hold[@]}")
[ -n "$data_dir" ] && args+=(-data-dir "$data_dir")
if $redis; then
	rport=$(free_port)
	redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$work" >"$work/redis.log" 2>&1 &
	for _ in $(seq 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$rport") 2>/dev/null && break
		sleep 0.1
	done
	args+=(-redis "redis://127.0.0.1:$rport/0" -addr "127.0.0.1:$(free_port),127.0.0.1:$(free_port)")
else
	args+=(-addr "127.0.0.1:$(free_port)")
fi
status=0
"$work/storm" "${args[@]}" "${env[@]}" || status=$?
[ "$status" -eq 0 ] || keep=true
exit "$status"
