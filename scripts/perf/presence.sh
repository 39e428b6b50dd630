#!/usr/bin/env bash
# Presence off and on, in one run: scripts/perf/100k.sh twice with the same
# binary and the same load (every stream its own user, --big-topic streams
# on one more topic), first with hubs that track nothing, then with hubs
# started with SSE_PRESENCE='*' and the bench measuring presence; then a
# table of the issue's targets:
#
#   - hub CPU at steady state (cores busy over the publish phase but its
#     first 5 s, summed over the hubs): off, on, and on/off;
#   - the join storm: the time from the last connect until every topic's
#     GET /presence?limit=0 answers the exact counts;
#   - GET /presence?limit=100 on the big topic (--big-topic members, 1,000
#     sequential calls): p50, p99;
#   - Redis used_memory with the streams open, minus before them, per
#     member: on, off (what the streams cost without presence) and their
#     difference.
#
#   scripts/perf/presence.sh [--conns N] [--instances N] [--users N]
#                            [--big-topic N] [--bin BIN] [--out DIR]
#                            [--quiet-wait S] [--table]
#                            [100k.sh options: --topics K --rate R
#                             --duration D --embedded ...]
#
# Defaults: those of 100k.sh (100,000 streams, 6 hubs, 100 topics, 100
# events/s for 30 s), 10,000 users, a big topic of min(users, conns/10)
# streams. --bin is the ssevents binary (default: built once from the
# working tree into --out); --out keeps both runs (off/, on/) and the
# table (presence.md); default a new directory under /tmp. --table only
# prints the table again from the runs in --out. Before each run it waits
# (at most --quiet-wait seconds, default 180; 0: not at all) until the
# machine was less than 20% busy over 5 s (/proc/stat), so that the
# second run does not start in the first one's teardown; the table gives
# how busy it was at each start. For a quick
# try: --conns 20000 --instances 2 (or --conns 10000 --embedded, one hub
# on the embedded broker, without Redis).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
conns=100000 users=10000 big="" bin="" out="" table=false quiet_wait=180
pass=()

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }
log() { printf 'presence.sh: %s\n' "$*" >&2; }
while [ $# -gt 0 ]; do
	case "$1" in
	--conns) conns=$2; shift ;;
	--users) users=$2; shift ;;
	--big-topic) big=$2; shift ;;
	--bin) bin=$2; shift ;;
	--out) out=$2; shift ;;
	--presence) ;; # both runs are made anyway
	--table) table=true ;;
	--quiet-wait) quiet_wait=$2; shift ;;
	--embedded) pass+=("$1") ;;
	-h | --help) usage; exit 0 ;;
	--*) [ $# -ge 2 ] || { log "$1 wants a value"; exit 2; }; pass+=("$1" "$2"); shift ;;
	*) log "unknown argument $1 (try --help)"; exit 2 ;;
	esac
	shift
done
for v in conns users big quiet_wait; do
	case "${!v}" in *[!0-9]*) v=${v/big/big-topic}; log "--${v/_/-} wants a number"; exit 2 ;; esac
done
big=${big:-$((users < conns / 10 ? users : conns / 10))}
command -v jq >/dev/null || { log "jq is missing (apt-get install -y jq)"; exit 1; }

if $table; then
	[ -d "$out" ] || { log "--table wants the --out of an earlier run"; exit 2; }
fi
[ -n "$out" ] || out=$(mktemp -d /tmp/ssevents-presence.XXXXXX)
mkdir -p "$out"
out=$(cd "$out" && pwd)
# busy: the share of the machine's CPU time (percent) that was busy over
# the next 5 s, from /proc/stat's cpu line (idle and iowait are not busy).
busy() {
	local a b
	a=$(head -1 /proc/stat)
	sleep 5
	b=$(head -1 /proc/stat)
	awk -v a="$a" -v b="$b" 'BEGIN { split(a, x); split(b, y)
		for (i = 2; i <= 9; i++) { d = y[i] - x[i]; t += d; if (i == 5 || i == 6) idle += d }
		printf "%d\n", (t > 0 ? (t - idle) * 100 / t : 0) }'
}
# quiet: waits until the machine was less than 20% busy over 5 s, or
# --quiet-wait passed, and prints how busy it was last.
quiet() {
	local waited=0 b
	b=$(busy)
	while [ "$b" -ge 20 ] && [ "$waited" -lt "$quiet_wait" ]; do
		waited=$((waited + 5))
		b=$(busy)
	done
	echo "$b"
}
rc=0
if ! $table; then
	if [ -z "$bin" ]; then
		bin="$out/ssevents"
		log "building ssevents into $bin"
		(cd "$repo" && go build -o "$bin" ./cmd/ssevents)
	fi
	bin=$(realpath "$bin")
	# One run after the other, never both at once: each takes the machine.
	# The load average at each start goes into the table: the hubs share
	# the machine with the bench and whatever else runs.
	args=(--conns "$conns" --users "$users" --big-topic "$big" --bin "$bin" "${pass[@]}")
	echo "busy_off=$(quiet)" >"$out/loads"
	echo "load_off=$(cut -d' ' -f1 /proc/loadavg)" >>"$out/loads"
	log "presence off ($(tail -1 "$out/loads")): 100k.sh ${args[*]}"
	"$here/100k.sh" "${args[@]}" --out "$out/off" >"$out/off.md" || rc=$?
	echo "busy_on=$(quiet)" >>"$out/loads"
	echo "load_on=$(cut -d' ' -f1 /proc/loadavg)" >>"$out/loads"
	log "presence on ($(tail -1 "$out/loads")): 100k.sh ${args[*]} --presence"
	"$here/100k.sh" "${args[@]}" --presence --out "$out/on" >"$out/on.md" || rc=$?
fi
start() { sed -n "s/^$1=//p" "$out/loads" 2>/dev/null || true; }
load_off=$(start load_off) load_on=$(start load_on) busy_off=$(start busy_off) busy_on=$(start busy_on)
for run in off on; do
	[ -s "$out/$run/summary.json" ] || { log "the $run run left no summary; see $out/$run.md and $out/$run/bench.log"; exit 1; }
done

jq -n -r --slurpfile off "$out/off/summary.json" --slurpfile on "$out/on/summary.json" \
	--arg load_off "$load_off" --arg load_on "$load_on" --arg busy_off "$busy_off" --arg busy_on "$busy_on" '
	$off[0] as $a | $on[0] as $b | $b.presence as $p |
	def r(x; n): if x == null then "n/a" else (x * n | round) / n | tostring end;
	def pct(x; y): if x > 0 then "\((y / x - 1) * 100 | round)%" else "n/a" end;
	def mem(s): if s.redis_settled_bytes > 0 then s.redis_settled_bytes - s.redis_before_bytes else null end;
	def busy(x): if x == "" then "n/a" else "\(x)%" end;
	"## Presence off and on: \($b.conns) streams over \($b.instances) hubs, \($b.users) users, a big topic of \($b.big_topic)",
	"",
	"| | off | on | on vs off | target |",
	"| --- | --- | --- | --- | --- |",
	"| streams connected | \($a.connected) | \($b.connected) | | |",
	"| machine at the start: busy over 5 s, load average (1 min) | \(busy($busy_off)), \($load_off) | \(busy($busy_on)), \($load_on) | | |",
	"| hub CPU, cores (all hubs, \($a.cpu_window_s) s / \($b.cpu_window_s) s of publishing) | \(r($a.hub_cpu_cores; 1000)) | \(r($b.hub_cpu_cores; 1000)) | \(pct($a.hub_cpu_cores; $b.hub_cpu_cores)) | at most +10% |",
	"| hub CPU per hub-second | \(r($a.hub_cpu_cores_per_hub; 1000)) | \(r($b.hub_cpu_cores_per_hub; 1000)) | ratio \(if $a.hub_cpu_cores > 0 then r($b.hub_cpu_cores / $a.hub_cpu_cores; 1000) else "n/a" end) | at most 1.1 |",
	"| hub CPU per 1,000 deliveries, ms (\($a.deliveries) / \($b.deliveries) delivered) | \(r($a.hub_cpu_ms_per_1000_deliveries; 1000)) | \(r($b.hub_cpu_ms_per_1000_deliveries; 1000)) | \(pct($a.hub_cpu_ms_per_1000_deliveries; $b.hub_cpu_ms_per_1000_deliveries)) | at most +10% |",
	"| join storm settled (last connect to every count exact) | | \(if $p.settled then "\($p.settle_ms) ms" else "not within the timeout (\($p.unsettled) topics; \($p.mismatch // $p.note // ""))" end) | | at most 10 s |",
	"| GET /presence?limit=\($p.limit) on \($p.call_topic_users) members, \($p.calls) calls | | p50 \($p.p50_ms) ms, p99 \($p.p99_ms) ms (\($p.call_errors) errors) | | p99 at most 10 ms |",
	"| Redis used_memory, streams open minus before (bytes) | \(mem($a) // "n/a") | \(mem($b) // "n/a") | \(if mem($a) != null and mem($b) != null then mem($b) - mem($a) else "n/a" end) | |",
	"| Redis bytes per member (\($b.members) members) | \(if mem($a) != null then r(mem($a) / $b.members; 1) else "n/a" end) | \(r($b.redis_bytes_per_member; 1)) | \(if mem($a) != null and mem($b) != null then r((mem($b) - mem($a)) / $b.members; 1) else "n/a" end) | stated |"
' | tee "$out/presence.md"
{
	echo
	echo "Each run's report: $out/off.md, $out/on.md (and the files under $out/off, $out/on)."
} | tee -a "$out/presence.md"
exit "$rc"
