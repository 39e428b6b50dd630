#!/usr/bin/env bash
# The 100,000-stream run: start Redis and N hubs (and nginx) with
# deploy/local/up.sh, open --conns streams spread round-robin over every
# hub directly from several loopback source addresses, publish --rate
# events a second over --topics topics for --duration, print a report, and
# stop everything with deploy/local/down.sh (also on failure or Ctrl-C).
#
#   scripts/perf/100k.sh [--conns N] [--instances N] [--topics K] [--rate R]
#                        [--duration D] [--source-addrs N] [--bin BIN]
#                        [--state DIR] [--out DIR] [--embedded]
#                        [--users N] [--big-topic N] [--presence]
#
# Defaults: 100000 streams, 6 instances, 100 topics, 100 events/s, 30s,
# one source address per 10,000 streams (127.0.0.2 ...). --bin is the
# ssevents binary for the hubs and the bench (default: built from the
# working tree by up.sh). --state is up.sh's state directory (default
# /tmp/ssevents-100k); --out keeps the bench's JSON report, its log and
# the hubs' memory samples (default: a new directory under /tmp).
# --embedded runs one hub on the embedded broker instead of Redis (up.sh
# --data-dir, a fresh directory in the state directory).
#
# --users N gives stream i the user user-<i mod N> (its own token), and
# --big-topic N puts the last N streams on one more topic (no events):
# with them the load is the same whether the hubs track presence or not.
# --presence starts the hubs with SSE_PRESENCE='*' (default --users 10000,
# --big-topic min(users, conns/10)) and has the bench measure, before it
# publishes, the time from the last connect until every topic's GET
# /presence is exact, and GET /presence?limit=100 on the big topic (1,000
# calls). Either way the hubs' CPU (utime+stime, /proc, summed) is taken
# over the publish phase but its first 5 s, and Redis's used_memory before
# the streams and after the presence settled; summary.json in --out holds
# the figures (scripts/perf/presence.sh compares two runs).
#
# The hubs run with up.sh's settings: the shared Redis, a JWT secret (the
# bench gets a token for every topic), default SSE_MAX_CONNECTIONS (19,000
# each under a 20,000 open-file limit: 6 instances hold 100,000). The bench
# holds at most 15,000 streams per process and starts worker processes for
# the rest. The hubs' memory and CPU are sampled here from /proc every
# second (the bench alone would only see the first hub's).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
conns=100000 instances="" topics=100 rate=100 duration=30s nsrc="" bin="" state=/tmp/ssevents-100k out=""
embedded=false users="" big="" presence=false

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }
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
	--embedded) embedded=true ;;
	--users) users=$2; shift ;;
	--big-topic) big=$2; shift ;;
	--presence) presence=true ;;
	-h | --help) usage; exit 0 ;;
	*) printf '100k.sh: unknown argument %s (try --help)\n' "$1" >&2; exit 2 ;;
	esac
	shift
done
for v in conns topics rate instances users big; do
	case "${!v}" in *[!0-9]*) printf '100k.sh: --%s wants a number\n' "${v/big/big-topic}" >&2; exit 2 ;; esac
done
if $embedded; then
	[ "${instances:-1}" = 1 ] || { echo "100k.sh: --embedded runs one hub" >&2; exit 2; }
	instances=1
fi
instances=${instances:-6}
if $presence; then
	users=${users:-10000}
	big=${big:-$((users < conns / 10 ? users : conns / 10))}
fi
users=${users:-0} big=${big:-0}
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

# 1. Redis, the hubs and nginx (up.sh passes SSE_* variables to the hubs).
up=(--instances "$instances" --state "$state")
$embedded && up=(--data-dir "$state/data" --state "$state") && rm -rf "$state/data"
if $presence; then export SSE_PRESENCE='*'; else unset SSE_PRESENCE; fi
echo "+ SSE_PRESENCE=${SSE_PRESENCE:-} SSEVENTS_BIN=${bin:-} deploy/local/up.sh ${up[*]}" >&2
SSEVENTS_BIN="$bin" "$repo/deploy/local/up.sh" "${up[@]}" >/dev/null
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
# cpu_ticks: the hubs' utime+stime, summed, in clock ticks.
cpu_ticks() {
	local p sum=0 t
	for p in "${hub_pids[@]}"; do
		t=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)
		sum=$((sum + t))
	done
	echo "$sum"
}
# redis_mem: Redis's used_memory in bytes (0 on the embedded broker).
redis_mem() {
	case "$SSE_REDIS_URL" in
	redis://*) redis-cli -u "$SSE_REDIS_URL" INFO memory 2>/dev/null | awk -F: '/^used_memory:/ { print $2 + 0 }' ;;
	*) echo 0 ;;
	esac
}
# The hubs' memory before any stream, then sampled every second during the
# run: hub-rss.txt has "RSS_KB ..." in hub order, hub-cpu.txt "UNIX_MS
# CPU_TICKS REDIS_USED_MEMORY" a line.
before=()
for p in "${hub_pids[@]}"; do before+=("$(rss_kb "$p")"); done
redis_before=$(redis_mem)
: >"$out/hub-rss.txt"
: >"$out/hub-cpu.txt"
(
	while :; do
		line=""
		for p in "${hub_pids[@]}"; do line+="$(rss_kb "$p") "; done
		echo "$line" >>"$out/hub-rss.txt"
		echo "$(date +%s%3N) $(cpu_ticks) $(redis_mem)" >>"$out/hub-cpu.txt"
		sleep 1
	done
) &
sampler=$!

# 3. The bench, directly on every hub.
urls=()
for u in "${hubs[@]}"; do urls+=(--url "$u"); done
cmd=("$bin" bench "${urls[@]}" --conns "$conns" --topics "$topics" --rate "$rate" --duration "$duration"
	--source-addrs "$nsrc" --connect-timeout 180s --server-pid "${hub_pids[0]}" --json)
[ "$users" -gt 0 ] && cmd+=(--users "$users")
[ "$big" -gt 0 ] && cmd+=(--big-topic "$big")
$presence && cmd+=(--presence)
# shellcheck disable=SC2016 # the token and the secret are left out of the log
printf '+ SSE_JWT_SECRET="$(cat %s)" %s --token "$TOKEN"\n' "$SSE_JWT_SECRET_FILE" "${cmd[*]}" >&2
rc=0
SSE_JWT_SECRET="$(cat "$SSE_JWT_SECRET_FILE")" "${cmd[@]}" --token "$token" >"$out/bench.json" 2>"$out/bench.log" || rc=$?
kill -TERM "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
sampler=""
[ -s "$out/bench.json" ] || die "the bench printed no report (exit $rc); see $out/bench.log"

# 4. The figures beside the bench's: the hubs' CPU (cores busy, summed)
# over the publish phase but its first 5 s, and Redis's used_memory at the
# last sample before the publishing (after the presence settled, which
# the bench waits for first).
read -r pub_start pub_end drain received settled members < <(jq -r '[.publish_start_unix_ms, .publish_end_unix_ms,
	(.drain_ms | floor), .received, (.presence.settled_unix_ms // 0), (.presence.members // 0)] | @tsv' "$out/bench.json")
read -r cores window < <(awk -v a=$((pub_start + 5000)) -v b="$pub_end" -v hz="$(getconf CLK_TCK)" '
	$1 >= a && $1 <= b { if (!n++) { t0 = $1; c0 = $2 } t1 = $1; c1 = $2 }
	END { if (t1 > t0) printf "%.3f %.1f\n", (c1 - c0) / hz / ((t1 - t0) / 1000), (t1 - t0) / 1000; else print "0 0" }' "$out/hub-cpu.txt")
# The hubs' CPU per 1,000 deliveries: from the last sample before the
# publishing to the first after the drain, over every delivery; a measure
# of work done that holds when a saturated machine published less.
cpu_per_k=$(awk -v a="$pub_start" -v b=$((pub_end + drain)) -v n="$received" -v hz="$(getconf CLK_TCK)" '
	$1 <= a || !seen { t0 = $1; c0 = $2; seen = 1 } !done { c1 = $2 } $1 >= b { done = 1 }
	END { if (n > 0) printf "%.3f\n", (c1 - c0) / hz * 1000 / (n / 1000); else print 0 }' "$out/hub-cpu.txt")
read -r redis_at redis_settled < <(awk -v b="$pub_start" '$1 < b { t = $1; m = $3 } END { print t + 0, m + 0 }' "$out/hub-cpu.txt")
[ "$settled" -gt 0 ] && [ "$redis_at" -lt "$settled" ] && redis_settled=0 # no sample between settling and publishing
jq -n --argjson conns "$conns" --argjson instances "$instances" --argjson users "$users" --argjson big "$big" \
	--argjson presence "$presence" --argjson cores "$cores" --argjson window "$window" --argjson cpu_per_k "$cpu_per_k" \
	--argjson redis_before "${redis_before:-0}" --argjson redis_settled "$redis_settled" --argjson members "$members" \
	--slurpfile bench "$out/bench.json" '{conns: $conns, instances: $instances, users: $users, big_topic: $big,
		presence_on: $presence, hub_cpu_cores: $cores, hub_cpu_cores_per_hub: ($cores / $instances), cpu_window_s: $window,
		hub_cpu_ms_per_1000_deliveries: $cpu_per_k,
		redis_before_bytes: $redis_before, redis_settled_bytes: $redis_settled,
		redis_bytes_per_member: (if $members > 0 and $redis_settled > 0 then (($redis_settled - $redis_before) / $members | round) else null end),
		members: $members, connected: $bench[0].connected, published: $bench[0].published, deliveries: $bench[0].received,
		presence: $bench[0].presence}' >"$out/summary.json"

# 5. The report.
peak=$(awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; if (s > m) { m = s; line = $0 } } END { print line }' "$out/hub-rss.txt")
read -r -a peaks <<<"$peak"
sum_before=0 sum_peak=0
for i in "${!hub_pids[@]}"; do
	sum_before=$((sum_before + before[i]))
	sum_peak=$((sum_peak + ${peaks[i]:-0}))
done
connected=$(jq .connected "$out/bench.json")
{
	broker=Redis
	$embedded && broker="the embedded broker"
	echo "## $conns streams over $instances hubs ($broker), $topics topics, $rate events/s for $duration$([ "$users" -gt 0 ] && echo ", $users users")$([ "$big" -gt 0 ] && echo ", $big streams on a big topic")"
	echo
	jq -r '
		"- connected: \(.connected) of \(.conns) (\(.connect_failed) failed) in \(.connect_wall_ms / 1000 | floor) s; per hub: \(.connected_per_url | map(tostring) | join(", "))",
		"- source addresses: \(.source_addrs | length) (\(.source_addrs[0]) ...); bench workers: \(.workers)",
		"- published: \(.published) of \(.planned) (\(.publish_errors) errors), \(.publish_rate * 10 | round / 10)/s; answered p50 \(.publish_p50_ms) ms, p99 \(.publish_p99_ms) ms",
		"- deliveries: \(.received) of \(.expected) expected, \(.lost) lost, \(.duplicates) duplicates, \(.reconnects) reconnects, \(.deliveries_per_sec | round)/s",
		"- latency: p50 \(.latency_p50_ms) ms, p99 \(.latency_p99_ms) ms, p99.9 \(.latency_p999_ms) ms, max \(.latency_max_ms) ms",
		((.errors // [])[] | "- error: \(.)")' "$out/bench.json"
	echo "- hubs' memory (RSS, peak of the 1 s samples): $((sum_before / 1024)) MiB before, $((sum_peak / 1024)) MiB with the streams open, per hub: $(for i in "${!hub_pids[@]}"; do printf '%s ' "$((${peaks[i]:-0} / 1024))"; done)MiB"
	if [ "$connected" -gt 0 ]; then
		echo "- hub memory per stream: $(awk -v a="$sum_peak" -v b="$sum_before" -v n="$connected" 'BEGIN { printf "%.1f KB", (a - b) * 1024 / n / 1000 }')"
	fi
	jq -r 'select(.presence) | .presence |
		"- presence (SSE_PRESENCE='"'*'"'): \(.members) members, \(.streams) streams over \(.topics) topics; " +
		(if .settled then "every GET /presence exact \(.settle_ms) ms after the last connect" else "not exact within the timeout: \(.unsettled) topics (\(.mismatch // ""))" end) +
		(if .note then "; \(.note)" else "" end),
		"- GET /presence?limit=\(.limit) on \(.call_topic) (\(.call_topic_users) members), \(.calls) sequential calls: p50 \(.p50_ms) ms, p99 \(.p99_ms) ms, max \(.max_ms) ms, \(.call_errors) errors"' "$out/bench.json"
	echo "- hubs' CPU over the publish phase from its 5th second ($window s): $cores cores in all, $(awk -v c="$cores" -v n="$instances" 'BEGIN { printf "%.3f", c / n }') per hub; $cpu_per_k ms per 1,000 deliveries (publishing and drain)"
	if [ "$redis_settled" -gt 0 ]; then
		echo "- Redis used_memory: $redis_before bytes before the streams, $redis_settled with them open$([ "$members" -gt 0 ] && echo ": $(jq .redis_bytes_per_member "$out/summary.json") bytes per member ($members members)")"
	fi
	echo "- bench exit status $rc; report, log, samples and summary.json in $out"
	echo
	echo "Commands:"
	echo
	echo '```sh'
	echo "${SSE_PRESENCE:+SSE_PRESENCE='*' }SSEVENTS_BIN=$bin deploy/local/up.sh ${up[*]}"
	echo ". $state/env"
	echo "TOKEN=\$(\$SSEVENTS_BIN token --secret \"\$(cat \$SSE_JWT_SECRET_FILE)\" --sub bench --publish '*' --subscribe '*' --ttl 2h)"
	echo "SSE_JWT_SECRET=\"\$(cat \$SSE_JWT_SECRET_FILE)\" ${cmd[*]} --token \"\$TOKEN\""
	echo "deploy/local/down.sh --state $state"
	echo '```'
}
exit "$rc"
