#!/usr/bin/env bash
# The 100,000-stream run: start Redis and N hubs (and nginx) with
# deploy/local/up.sh, open --conns streams spread round-robin over every
# hub directly from several loopback source addresses, publish --rate
# events a second over --topics topics for --duration, print a report, and
# stop everything with deploy/local/down.sh (also on failure or Ctrl-C).
#
#   scripts/perf/100k.sh [--conns N] [--instances N] [--topics K] [--rate R]
#                        [--duration D] [--source-addrs N] [--bin BIN]
#                        [--state DIR] [--out DIR]
#
# Defaults: 100000 streams, 6 instances, 100 topics, 100 events/s, 30s,
# one source address per 10,000 streams (127.0.0.2 ...). --bin is the
# ssevents binary for the hubs and the bench (default: built from the
# working tree by up.sh). --state is up.sh's state directory (default
# /tmp/ssevents-100k); --out keeps the bench's JSON report, its log and
# the hubs' memory samples (default: a new directory under /tmp).
#
# The hubs run with up.sh's settings: the shared Redis, a JWT secret (the
# bench gets a token for every topic), default SSE_MAX_CONNECTIONS (19,000
# each under a 20,000 open-file limit: 6 instances hold 100,000). The bench
# holds at most 15,000 streams per process and starts worker processes for
# the rest. The hubs' memory is sampled here from /proc every 2 s (the
# bench alone would only see the first hub's).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
conns=100000 instances=6 topics=100 rate=100 duration=30s nsrc="" bin="" state=/tmp/ssevents-100k out=""

usage() { sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
log() { printf '100k.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
while [ $# -gt 0 ]; do
	case "$1" in
	--conns) conns=$2; shift ;;
	--instances) instances=$2; shift ;;
	--topics) topics=$2; shift ;;
	--rate) rate=$2; shift ;;
	--duration) duration=$2; shift ;;
	--source-addrs) nsrc=$2; shift ;;
	--bin) bin=$2; shift ;;
	--state) state=$2; shift ;;
	--out) out=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	*) printf '100k.sh: unknown argument %s (try --help)\n' "$1" >&2; exit 2 ;;
	esac
	shift
done
for v in conns instances topics rate; do
	case "${!v}" in '' | *[!0-9]*) printf '100k.sh: --%s wants a number\n' "$v" >&2; exit 2 ;; esac
done
[ -n "$nsrc" ] || nsrc=$(((conns + 9999) / 10000))
command -v jq >/dev/null || die "jq is missing (apt-get install -y jq)"
command -v curl >/dev/null || die "curl is missing (apt-get install -y curl)"

[ -n "$out" ] || out=$(mktemp -d /tmp/ssevents-100k-report.XXXXXX)
mkdir -p "$out"
out=$(cd "$out" && pwd)
if [ -n "$bin" ]; then
	bin=$(realpath "$bin")
	[ -x "$bin" ] || die "$bin is not executable"
fi

# The bench holds one descriptor per stream; each process may use up to
# the hard limit.
ulimit -n "$(ulimit -Hn)"

sampler=""
# shellcheck disable=SC2317 # run by the EXIT trap
down() {
	local status=$?
	if [ -n "$sampler" ]; then
		kill -TERM "$sampler" 2>/dev/null || true
		wait "$sampler" 2>/dev/null || true
	fi
	"$repo/deploy/local/down.sh" --state "$state" >&2 || true
	exit "$status"
}
trap down EXIT
trap 'exit 130' INT TERM

# 1. Redis, the hubs and nginx.
echo "+ SSEVENTS_BIN=${bin:-} deploy/local/up.sh --instances $instances --state $state" >&2
SSEVENTS_BIN="$bin" "$repo/deploy/local/up.sh" --instances "$instances" --state "$state" >/dev/null
# shellcheck disable=SC1091
. "$state/env"
bin=$SSEVENTS_BIN
read -r -a hubs <<<"$HUB_URLS"
hub_pids=()
for i in $(seq "$instances"); do
	read -r pid _ <"$state/pids/hub-$i.pid"
	hub_pids+=("$pid")
done

# 2. A token that may publish and subscribe to every topic.
token=$("$bin" token --secret "$(cat "$SSE_JWT_SECRET_FILE")" --sub bench --publish '*' --subscribe '*' --ttl 2h)

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# The hubs' memory before any stream, then sampled every 2 s during the
# run: one line per sample, "RSS_KB ..." in hub order.
before=()
for p in "${hub_pids[@]}"; do before+=("$(rss_kb "$p")"); done
(
	while :; do
		line=""
		for p in "${hub_pids[@]}"; do line+="$(rss_kb "$p") "; done
		echo "$line"
		sleep 2
	done
) >"$out/hub-rss.txt" &
sampler=$!

# 3. The bench, directly on every hub.
urls=()
for u in "${hubs[@]}"; do urls+=(--url "$u"); done
cmd=("$bin" bench "${urls[@]}" --conns "$conns" --topics "$topics" --rate "$rate" --duration "$duration"
	--source-addrs "$nsrc" --connect-timeout 180s --server-pid "${hub_pids[0]}" --json)
# shellcheck disable=SC2016 # the token is left out of the log
printf '+ %s --token "$TOKEN"\n' "${cmd[*]}" >&2
rc=0
"${cmd[@]}" --token "$token" >"$out/bench.json" 2>"$out/bench.log" || rc=$?
kill -TERM "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
sampler=""
[ -s "$out/bench.json" ] || die "the bench printed no report (exit $rc); see $out/bench.log"

# 4. The report.
peak=$(awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; if (s > m) { m = s; line = $0 } } END { print line }' "$out/hub-rss.txt")
read -r -a peaks <<<"$peak"
sum_before=0 sum_peak=0
for i in "${!hub_pids[@]}"; do
	sum_before=$((sum_before + before[i]))
	sum_peak=$((sum_peak + ${peaks[i]:-0}))
done
connected=$(jq .connected "$out/bench.json")
{
	echo "## $conns streams over $instances hubs (Redis), $topics topics, $rate events/s for $duration"
	echo
	jq -r '
		"- connected: \(.connected) of \(.conns) (\(.connect_failed) failed) in \(.connect_wall_ms / 1000 | floor) s; per hub: \(.connected_per_url | map(tostring) | join(", "))",
		"- source addresses: \(.source_addrs | length) (\(.source_addrs[0]) ...); bench workers: \(.workers)",
		"- published: \(.published) of \(.planned) (\(.publish_errors) errors), \(.publish_rate * 10 | round / 10)/s; answered p50 \(.publish_p50_ms) ms, p99 \(.publish_p99_ms) ms",
		"- deliveries: \(.received) of \(.expected) expected, \(.lost) lost, \(.duplicates) duplicates, \(.reconnects) reconnects, \(.deliveries_per_sec | round)/s",
		"- latency: p50 \(.latency_p50_ms) ms, p99 \(.latency_p99_ms) ms, p99.9 \(.latency_p999_ms) ms, max \(.latency_max_ms) ms",
		((.errors // [])[] | "- error: \(.)")' "$out/bench.json"
	echo "- hubs' memory (RSS, peak of the 2 s samples): $((sum_before / 1024)) MiB before, $((sum_peak / 1024)) MiB with the streams open, per hub: $(for i in "${!hub_pids[@]}"; do printf '%s ' "$((${peaks[i]:-0} / 1024))"; done)MiB"
	if [ "$connected" -gt 0 ]; then
		echo "- hub memory per stream: $(awk -v a="$sum_peak" -v b="$sum_before" -v n="$connected" 'BEGIN { printf "%.1f KB", (a - b) * 1024 / n / 1000 }')"
	fi
	echo "- bench exit status $rc; report, log and memory samples in $out"
	echo
	echo "Commands:"
	echo
	echo '```sh'
	echo "SSEVENTS_BIN=$bin deploy/local/up.sh --instances $instances --state $state"
	echo ". $state/env"
	echo "TOKEN=\$(\$SSEVENTS_BIN token --secret \"\$(cat \$SSE_JWT_SECRET_FILE)\" --sub bench --publish '*' --subscribe '*' --ttl 2h)"
	echo "${cmd[*]} --token \"\$TOKEN\""
	echo "deploy/local/down.sh --state $state"
	echo '```'
}
exit "$rc"
