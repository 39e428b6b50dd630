#!/usr/bin/env bash
# The stalled-client attack, from outside, on real processes: a hub
# (`ssevents serve`, embedded broker), N clients that send their GET and
# never read a byte (4 KiB receive buffer), R `curl -sN` readers of the same
# topic, each writing to a file, and E sequential `POST /publish` of a 4 KB
# event. Prints how many events each reader got and the hub's
# slow_disconnected count. A reader that keeps up must get all E, and
# slow_disconnected must equal N.
#
#   scripts/perf/stall.sh [--bin BIN] [--stalled N] [--readers R]
#                         [--events E] [--rounds K] [-- SSE_VAR=value ...]
#
# --bin BIN    the ssevents binary (default: built from the working tree)
# --stalled N  stalled clients (default 300)
# --readers R  curl readers (default 20)
# --events E   events published (default 1500)
# --rounds K   runs, each on a fresh hub (default 1)
# after --     settings for the hub, e.g. SSE_MAX_QUEUE_BYTES=65536
#
# Needs: curl, python3 (the stalled clients and the publisher), go unless
# --bin is given. Only loopback addresses are used.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
die() { echo "stall.sh: $*" >&2; exit 1; }
# shellcheck source=../../deploy/local/lib/free-port.sh
. "$repo/deploy/local/lib/free-port.sh"

bin="" stalled=300 readers=20 events=1500 rounds=1 env=()
while [ $# -gt 0 ]; do
	case "$1" in
	--bin) bin=$2; shift 2 ;;
	--stalled) stalled=$2; shift 2 ;;
	--readers) readers=$2; shift 2 ;;
	--events) events=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--) shift; env=("$@"); break ;;
	*) die "unknown argument $1" ;;
	esac
done
command -v curl >/dev/null || die "curl is needed"
command -v python3 >/dev/null || die "python3 is needed"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
if [ -z "$bin" ]; then
	(cd "$repo" && go build -o "$work/ssevents" ./cmd/ssevents)
	bin=$work/ssevents
fi
ulimit -n "$(ulimit -Hn)"

metric() { curl -s "http://127.0.0.1:$port/metrics" | python3 -c "import json,sys; m=json.load(sys.stdin); print(m$1)"; }
wait_for() { # wait_for WHAT SECONDS CONDITION...
	local what=$1 secs=$2; shift 2
	local end=$((SECONDS + secs))
	until "$@"; do
		[ $SECONDS -lt $end ] || die "timed out waiting for $what"
		sleep 0.1
	done
}
conns_are() { [ "$(metric "['connections']['current']")" -eq "$1" ]; }

for round in $(seq "$rounds"); do
	port=$(free_port)
	env -i PATH="$PATH" SSE_ADDR="127.0.0.1:$port" "${env[@]}" "$bin" serve >"$work/hub.log" 2>&1 &
	hub=$!
	wait_for "the hub" 10 curl -sf "http://127.0.0.1:$port/health/live" -o /dev/null

	# The stalled clients: one process holding them all.
	python3 - "$port" "$stalled" <<'EOF' &
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
socks = []
for _ in range(n):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /events?topic=t HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
    socks.append(s)
time.sleep(3600)
EOF
	wait_for "$stalled stalled streams" 60 conns_are "$stalled"
	for i in $(seq "$readers"); do
		curl -sN -o "$work/reader$i" "http://127.0.0.1:$port/events?topic=t" &
	done
	wait_for "the readers" 20 conns_are $((stalled + readers))

	# Sequential publishes on one keep-alive connection, each answered
	# before the next.
	secs=$(python3 - "$port" "$events" <<'EOF'
import http.client, json, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
body = json.dumps({"topic": "t", "event": "e", "data": "x" * 4000})
c = http.client.HTTPConnection("127.0.0.1", port)
start = time.time()
for _ in range(n):
    c.request("POST", "/publish", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit("publish answered %d" % r.status)
print("%.2f" % (time.time() - start))
EOF
)
	# Each reader is done when it has every event or its stream was ended.
	done_reading() {
		local n
		for i in $(seq "$readers"); do
			n=$(grep -c '^event: e$' "$work/reader$i" || true)
			[ "$n" -ge "$events" ] && continue
			return 1
		done
	}
	end=$((SECONDS + 30))
	until done_reading || [ $SECONDS -ge $end ]; do sleep 0.2; done
	got=()
	full=0
	for i in $(seq "$readers"); do
		n=$(grep -c '^event: e$' "$work/reader$i" || true)
		got+=("$n")
		[ "$n" -eq "$events" ] && full=$((full + 1))
	done
	slow=$(metric "['connections']['slow_disconnected']")
	echo "round $round: $events publishes in ${secs}s; readers with all $events: $full of $readers (events: ${got[*]}); slow_disconnected $slow (stalled $stalled)"
	kill $(jobs -p) 2>/dev/null || true
	wait 2>/dev/null || true
done
